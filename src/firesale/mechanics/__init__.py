"""Exact, integer-faithful reference math of real DeFi protocols.

One module per protocol family. A contract function keeps its name in snake_case
(``UniswapV2Library.getAmountOut`` is :func:`firesale.mechanics.uniswap_v2.get_amount_out`), takes and returns
Python ints in the contract's own units (wei, WAD, RAY, RAD, Q64.96, basis points, pips), and raises
:class:`Revert` where the contract reverts. These functions are slow and exact: they are the ground truth the
engine's vectorized float kernels are tested against.
"""

from __future__ import annotations

from firesale.exceptions import FiresaleError

__all__ = ["Revert"]


class Revert(FiresaleError):
    """A contract call reverted.

    Parameters
    ----------
    reason : str
        The contract's revert reason string or error code (e.g. ``"UniswapV2Library: INSUFFICIENT_LIQUIDITY"``,
        ``"Dog/liquidation-limit-hit"``, Aave's numeric error code ``"45"``).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
