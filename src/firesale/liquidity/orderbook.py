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

from firesale.liquidity._book_kernels import (
    as_path_array,
    log_impact_kernel,
    supported_exponent,
    trade_kernel,
)

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

    def log_impact(
        self, v: np.ndarray, perm: np.ndarray, depth: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Current log-price offset below the exogenous price (positive after selling); written into ``out`` if given
        (a float64 array of the paths' shape)."""
        n = v.shape[0] if isinstance(v, np.ndarray) and v.ndim == 1 else -1
        if n >= 0 and supported_exponent(self.exponent):
            v_, perm_, depth_ = as_path_array(v, n), as_path_array(perm, n), as_path_array(depth, n)
            if v_ is not None and perm_ is not None and depth_ is not None:
                res = np.empty(n) if out is None else out
                log_impact_kernel(v_, perm_, depth_, self.depth_move, self.exponent == 0.5, 1.0 - self.permanent,
                                  res)  # fmt: skip
                return res
        ref = self.log_impact_numpy(v, perm, depth)
        if out is None:
            return ref
        out[...] = ref
        return out

    def log_impact_numpy(self, v: np.ndarray, perm: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """The NumPy reference of :meth:`log_impact` (any shapes, any exponent)."""
        return perm + (1.0 - self.permanent) * self._g(v, depth)

    def trade(self, v: np.ndarray, perm: np.ndarray, q_usd: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Execute signed notional ``q_usd`` (positive sells); update ``v``, ``perm`` in place.

        Returns the execution discount factor: the trade fills at ``price_before_impact * factor``. One fused kernel
        (:mod:`firesale.liquidity._book_kernels`) where it reproduces :meth:`trade_numpy` bit for bit.
        """
        n = v.shape[0] if isinstance(v, np.ndarray) and v.ndim == 1 else -1
        if n >= 0 and supported_exponent(self.exponent) and v.flags.writeable and perm.flags.writeable:
            v_, perm_ = as_path_array(v, n), as_path_array(perm, n)
            q_, depth_ = as_path_array(q_usd, n), as_path_array(depth, n)
            if v_ is not None and perm_ is not None and q_ is not None and depth_ is not None:
                out = np.empty(n)
                trade_kernel(v_, perm_, q_, depth_, self.depth_move, self.exponent == 0.5, self.permanent,
                             1.0 - self.permanent, out)  # fmt: skip
                return np.exp(out)
        return self.trade_numpy(v, perm, q_usd, depth)

    def trade_numpy(
        self, v: np.ndarray, perm: np.ndarray, q_usd: np.ndarray, depth: np.ndarray
    ) -> np.ndarray:
        """The NumPy reference of :meth:`trade` (any shapes, any exponent)."""
        before = self.log_impact_numpy(v, perm, depth)
        g0 = self._g(v, depth)
        v += q_usd
        g1 = self._g(v, depth)
        perm += self.permanent * (g1 - g0)
        after = self.log_impact_numpy(v, perm, depth)
        return np.exp(-0.5 * (before + after))

    def decay(self, v: np.ndarray, dt: float) -> None:
        """Let temporary impact fade over ``dt`` seconds."""
        v *= 0.5 ** (dt / self.half_life)

    def slippage_coefficient(self, depth: np.ndarray) -> np.ndarray:
        """``k`` such that the average execution discount of selling ``q`` USD at once is about ``k * q**exponent``."""
        return 0.5 * self.depth_move / depth**self.exponent
