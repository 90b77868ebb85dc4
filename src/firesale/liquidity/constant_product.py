"""Constant-product pools (Uniswap v2 style), vectorized over Monte Carlo paths.

The float64 counterpart of :mod:`firesale.mechanics.uniswap_v2`: the whole input stays in the pool, the fee is
taken from it before pricing, and the output is :math:`\\gamma\\,dx\\,R_j / (R_i + \\gamma\\,dx)` with
:math:`\\gamma = 1 - \\text{fee\\_bps}/10^4`. Amounts are token units (not wei).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from firesale.exceptions import ParameterError
from firesale.liquidity._checks import coin_pair, path_array
from firesale.liquidity._venue import Venue, VenueState

__all__ = ["ConstantProductPool"]


class ConstantProductPool(Venue):
    """A two-coin constant-product pool with its fee kept in the reserves, as in Uniswap v2.

    Parameters
    ----------
    name : str
        Unique name of the venue.
    coins : tuple of (str, str)
        The two coin names; index 0 and 1 in the methods.
    reserves : tuple of (float, float)
        Starting reserves in token units, both > 0.
    fee_bps : float, default 30
        Swap fee in basis points, in [0, 10000); 30 is Uniswap v2's 0.3 %.

    Notes
    -----
    State arrays ``"reserve0"`` and ``"reserve1"`` of shape ``(n_paths,)``. Selling :math:`dx` of coin
    :math:`i` pays

    .. math:: dy = \\frac{\\gamma\\,dx\\,R_j}{R_i + \\gamma\\,dx}, \\qquad R_i \\leftarrow R_i + dx,\\;
              R_j \\leftarrow R_j - dy,

    which is :func:`firesale.mechanics.uniswap_v2.get_amount_out` without the rounding down.

    References
    ----------
    Uniswap/v2-periphery ``contracts/libraries/UniswapV2Library.sol`` (``getAmountOut``) and
    ``contracts/libraries/UniswapV2LiquidityMathLibrary.sol`` (``computeProfitMaximizingTrade``).

    Examples
    --------
    >>> import numpy as np
    >>> pool = ConstantProductPool("eth-usdc", coins=("ETH", "USDC"), reserves=(1_000.0, 3_000_000.0))
    >>> state = pool.init_state(2)
    >>> pool.price(state, 0, 1)
    array([3000., 3000.])
    >>> pool.swap(state, 0, 1, np.array([0.0, 10.0])).round(2)
    array([    0.  , 29614.74])
    """

    def __init__(
        self,
        name: str,
        coins: Sequence[str] = ("coin0", "coin1"),
        reserves: Sequence[float] = (1.0, 1.0),
        fee_bps: float = 30,
    ) -> None:
        func = "ConstantProductPool"
        if not isinstance(name, str) or not name:
            raise ParameterError(
                f"The 'name' parameter of {func} must be a non-empty str. Got {name!r} instead."
            )
        if (
            isinstance(coins, str)
            or len(coins) != 2
            or not all(isinstance(c, str) and c for c in coins)
            or coins[0] == coins[1]
        ):
            raise ParameterError(
                f"The 'coins' parameter of {func} must be two distinct non-empty str. Got {coins!r} instead."
            )
        try:
            x, y = (float(r) for r in reserves)
        except (TypeError, ValueError):
            x = y = math.nan
        if not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
            raise ParameterError(
                f"The 'reserves' parameter of {func} must be two finite floats > 0. Got {reserves!r} instead."
            )
        if isinstance(fee_bps, bool) or not isinstance(fee_bps, int | float) or not 0 <= fee_bps < 10_000:
            raise ParameterError(
                f"The 'fee_bps' parameter of {func} must be a number in [0, 10000). Got {fee_bps!r} instead."
            )
        self.name = name
        self.coins = (coins[0], coins[1])
        self.reserves = (x, y)
        self.fee_bps = float(fee_bps)
        self.gamma = 1.0 - self.fee_bps / 10_000

    def __repr__(self) -> str:
        return (
            f"ConstantProductPool({self.name!r}, coins={self.coins!r}, reserves={self.reserves!r}, "
            f"fee_bps={self.fee_bps:g})"
        )

    def init_state(self, n_paths: int) -> VenueState:
        """Return reserves ``"reserve0"``, ``"reserve1"`` of shape ``(n_paths,)`` at their starting values."""
        if isinstance(n_paths, bool) or not isinstance(n_paths, int | np.integer) or n_paths < 1:
            raise ParameterError(
                f"The 'n_paths' parameter of ConstantProductPool.init_state must be an int >= 1. "
                f"Got {n_paths!r} instead."
            )
        return VenueState(
            {
                "reserve0": np.full(int(n_paths), self.reserves[0]),
                "reserve1": np.full(int(n_paths), self.reserves[1]),
            }
        )

    def _reserves(self, state: VenueState, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        return state[f"reserve{i}"], state[f"reserve{j}"]

    def price(self, state: VenueState, i: int, j: int) -> np.ndarray:
        """Marginal price of coin ``i`` in coin ``j`` before fee, :math:`R_j / R_i`, shape ``(n_paths,)``."""
        i, j = coin_pair(i, j, "ConstantProductPool.price")
        r_i, r_j = self._reserves(state, i, j)
        return r_j / r_i

    def swap(self, state: VenueState, i: int, j: int, dx: np.ndarray) -> np.ndarray:
        """Sell ``dx >= 0`` of coin ``i`` for coin ``j`` on every path; return the amount of ``j`` received.

        Parameters
        ----------
        state : VenueState
            Mutated in place.
        i, j : int
            Coin sold and coin bought.
        dx : ndarray of shape (n_paths,)
            Amount of ``i`` sold, token units; zero is a no-op.

        Returns
        -------
        ndarray of shape (n_paths,)
            Amount of ``j`` received, after fee.
        """
        func = "ConstantProductPool.swap"
        i, j = coin_pair(i, j, func)
        r_i, r_j = self._reserves(state, i, j)
        dx = path_array(dx, "dx", func, r_i.shape[0])
        dy = self.gamma * dx * r_j / (r_i + self.gamma * dx)
        r_i += dx
        r_j -= dy
        return dy

    def arbitrage(
        self, state: VenueState, i: int, j: int, target_price: np.ndarray, max_in_j: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Trade towards ``target_price`` (of ``i`` in ``j``) with the profit-maximising single swap.

        Parameters
        ----------
        state : VenueState
            Mutated in place.
        i, j : int
            The coins; ``target_price`` is the external price of ``i`` in units of ``j``.
        target_price : ndarray of shape (n_paths,)
            External price, > 0.
        max_in_j : ndarray of shape (n_paths,)
            Capital limit: the input's value in units of ``j`` at ``target_price`` is at most this (``inf`` for
            unlimited).

        Returns
        -------
        (d_i, d_j) : tuple of ndarray of shape (n_paths,)
            Signed changes of the pool's balances of ``i`` and ``j`` (positive: into the pool).

        Notes
        -----
        With :math:`P = R_j / R_i` and target :math:`p`, if :math:`\\gamma P > p` the arbitrageur sells

        .. math:: dx^* = \\frac{\\sqrt{\\gamma R_i R_j / p} - R_i}{\\gamma}

        of ``i``, where the marginal output :math:`\\gamma R_i R_j / (R_i + \\gamma\\,dx)^2` falls to :math:`p`
        (the maximum of the concave profit :math:`dy(dx) - p\\,dx`); if :math:`P / \\gamma < p` it sells
        :math:`dy^* = (\\sqrt{\\gamma p R_i R_j} - R_j)/\\gamma` of ``j``. This is v2-periphery's
        ``computeProfitMaximizingTrade`` in floating point. The last unit traded executes exactly at the
        fee-band edge; because the fee stays in the reserves, the pool's post-trade spot price then sits a
        hair inside the band: :math:`\\gamma P' = p\\,(R_i + \\gamma\\,dx^*)/(R_i + dx^*)`.
        """
        func = "ConstantProductPool.arbitrage"
        i, j = coin_pair(i, j, func)
        r_i, r_j = self._reserves(state, i, j)
        n_paths = r_i.shape[0]
        p = path_array(target_price, "target_price", func, n_paths, positive=True)
        cap = path_array(max_in_j, "max_in_j", func, n_paths, allow_inf=True)
        g = self.gamma
        spot = r_j / r_i
        sell_i = g * spot > p
        buy_i = spot < g * p
        # sqrt(x) - 1 written as (x - 1) / (sqrt(x) + 1): accurate near the band edge, where x -> 1.
        with np.errstate(divide="ignore", invalid="ignore"):
            x_sell = g * r_j / (p * r_i)
            dx = np.where(sell_i, r_i * (x_sell - 1.0) / ((np.sqrt(x_sell) + 1.0) * g), 0.0)
            x_buy = g * p * r_i / r_j
            dy = np.where(buy_i, r_j * (x_buy - 1.0) / ((np.sqrt(x_buy) + 1.0) * g), 0.0)
            dx = np.minimum(dx, np.where(sell_i, cap / p, 0.0))
            dy = np.minimum(dy, np.where(buy_i, cap, 0.0))
        out_j = g * dx * r_j / (r_i + g * dx)
        out_i = g * dy * r_i / (r_j + g * dy)
        d_i = dx - out_i
        d_j = dy - out_j
        r_i += d_i
        r_j += d_j
        return d_i, d_j

    def depth(self, state: VenueState) -> np.ndarray:
        """:math:`\\sqrt{R_0 R_1}`, shape ``(n_paths,)``."""
        return np.sqrt(state["reserve0"] * state["reserve1"])

    def scale_liquidity(self, state: VenueState, factor: np.ndarray) -> None:
        """Multiply both reserves by ``factor > 0`` per path (pro-rata LP exit or entry at unchanged price)."""
        n_paths = state["reserve0"].shape[0]
        factor = path_array(factor, "factor", "ConstantProductPool.scale_liquidity", n_paths, positive=True)
        state["reserve0"] *= factor
        state["reserve1"] *= factor
