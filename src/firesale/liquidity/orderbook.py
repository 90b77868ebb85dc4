"""An off-chain market for one asset against USD: a price-impact curve with permanent and temporary parts.

The state of each path is the signed notional of recent net selling ``v`` (USD; positive is selling) and a
permanent log-price offset. With ``g(v) = sign(v) * depth_move * (|v| / depth_usd) ** exponent`` (``exponent`` 1 for
linear, 1/2 for the square-root law), the market's log price sits ``perm + (1 - permanent) * g(v)`` below the
exogenous price. A trade of notional ``q`` moves ``v`` to ``v + q`` and adds ``permanent * (g(v + q) - g(v))`` to the
permanent offset. Between steps ``v`` decays with ``half_life``: the temporary impact fades, the permanent stays.
A sale executes at the average of the log impacts before and after it (exact for linear impact).

This is where fire sales move the reference price that oracles read: liquidators and arbitrageurs who unload
collateral off-chain trade here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["OrderBook"]


@dataclass(frozen=True)
class OrderBook:
    """Impact curve parameters; state lives in arrays ``v`` and ``perm`` of shape (n_paths,)."""

    name: str
    asset: str
    depth_usd: float
    depth_move: float = 0.01
    exponent: float = 0.5
    permanent: float = 0.5
    half_life: float = 1800.0

    def _g(self, v: np.ndarray, depth: np.ndarray) -> np.ndarray:
        return np.sign(v) * self.depth_move * (np.abs(v) / depth) ** self.exponent

    def log_impact(self, v: np.ndarray, perm: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Current log-price offset below the exogenous price (positive after selling)."""
        return perm + (1.0 - self.permanent) * self._g(v, depth)

    def trade(self, v: np.ndarray, perm: np.ndarray, q_usd: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Execute signed notional ``q_usd`` (positive sells); update ``v``, ``perm`` in place.

        Returns the execution discount factor: the trade fills at ``price_before_impact * factor``.
        """
        before = self.log_impact(v, perm, depth)
        g0 = self._g(v, depth)
        v += q_usd
        g1 = self._g(v, depth)
        perm += self.permanent * (g1 - g0)
        after = self.log_impact(v, perm, depth)
        return np.exp(-0.5 * (before + after))

    def decay(self, v: np.ndarray, dt: float) -> None:
        """Let temporary impact fade over ``dt`` seconds."""
        v *= 0.5 ** (dt / self.half_life)

    def slippage_coefficient(self, depth: np.ndarray) -> np.ndarray:
        """``k`` such that the average execution discount of selling ``q`` USD at once is about ``k * q**exponent``."""
        return 0.5 * self.depth_move / depth**self.exponent
