"""Solvency of a book of positions: bad debt at given prices, in NumPy (reference) and Numba (fused, parallel over
paths, screened)."""

from __future__ import annotations

import numba
import numpy as np

from firesale._threads import serial_twin
from firesale.protocols.lending import (
    _SCREEN_MARGIN,
    CHECK_PARALLEL_FROM,
    Screen,
    _screen_factor,
)

__all__ = ["underwater_usd", "underwater_usd_numpy"]

#: The solvency screen's band: prices may move this much before a path's reference is renewed (``lending.Screen``,
#: whose health-factor screen uses 1 %). Wider than that one's, because a book's collateral/debt ratios sit further
#: above 1 than its health factors (by 1 / liquidation threshold), so fewer accounts need watching per point of band:
#: measured over the flagship's 10,000 paths, 0.6-0.7 s at 2 % against 1.2-1.7 s at 1 % and 1.8 s at 3 % (where the
#: e-mode accounts, near 1.07, join the watch list); in the Mesa benchmark world 0.052 s against 0.073 s.
SOLVENCY_REFRESH = 0.02
_SOLVENCY_WATCH = (1.0 - SOLVENCY_REFRESH) / (1.0 + SOLVENCY_REFRESH)


def underwater_usd_numpy(collateral: np.ndarray, debt: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Bad debt per path: the sum over accounts of debt value not covered by collateral value, shape (n_paths,)."""
    coll = np.zeros(collateral.shape[:2])
    dbt = np.zeros(collateral.shape[:2])
    for r in range(collateral.shape[2]):
        coll += collateral[:, :, r] * prices[:, None, r]
        dbt += debt[:, :, r] * prices[:, None, r]
    return np.maximum(dbt - coll, 0.0).sum(axis=1)


@numba.njit(parallel=True, cache=True, nogil=True)
def _underwater_kernel(collateral, debt, prices, out, ref_ratio, ref_prices, dirty, watch, n_watch):  # fmt: skip
    """Bad debt per path into ``out``, through the screen."""
    n_paths, n_acc, n_res = collateral.shape
    for p in numba.prange(n_paths):
        factor = _screen_factor(prices, ref_prices, p, dirty, SOLVENCY_REFRESH)
        total = 0.0
        if factor < 0.0:  # renew: every account, its ratio and the watch list
            n_w = 0
            for a in range(n_acc):
                c, d = _values(collateral, debt, prices, p, a, n_res)
                ratio = c / d if d > 0.0 else np.inf
                ref_ratio[p, a] = ratio
                watch[p, n_w] = a  # kept only when counted (see lending._candidates_kernel)
                n_w += not ratio * _SOLVENCY_WATCH >= 1.0 + _SCREEN_MARGIN
                if d > c:
                    total += d - c
            for r in range(n_res):
                ref_prices[p, r] = prices[p, r]
            dirty[p] = False
            n_watch[p] = n_w
        else:
            # Between renewals only the watched accounts can be underwater (lending.Screen); in account order, so
            # the sum is the full loop's. Collateral value over debt value moves by at most the screen's factor:
            # skip accounts it proves solvent.
            for i in range(n_watch[p]):
                a = watch[p, i]
                if ref_ratio[p, a] * factor >= 1.0 + _SCREEN_MARGIN:
                    continue
                c, d = _values(collateral, debt, prices, p, a, n_res)
                if d > c:
                    total += d - c
        out[p] = total


@numba.njit(inline="always")
def _values(collateral, debt, prices, p, a, n_res):  # fmt: skip
    """Account ``a``'s collateral value and debt value on path ``p``, summed in reserve order."""
    c = 0.0
    d = 0.0
    for r in range(n_res):
        c += collateral[p, a, r] * prices[p, r]
        d += debt[p, a, r] * prices[p, r]
    return c, d


_underwater_serial = serial_twin(_underwater_kernel, cache=True, nogil=True)


def underwater_usd(
    collateral: np.ndarray, debt: np.ndarray, prices: np.ndarray, screen: Screen | None = None
) -> np.ndarray:
    """Fused equivalent of :func:`underwater_usd_numpy`; ``screen`` (collateral/debt value ratios) skips solvent
    accounts and must be marked dirty on paths whose positions changed."""
    out = np.empty(collateral.shape[0])
    if screen is None:
        screen = Screen.empty(*collateral.shape)
    # Small books are checked on one thread (firesale._threads).
    big = collateral.shape[0] * collateral.shape[1] >= CHECK_PARALLEL_FROM
    (_underwater_kernel if big else _underwater_serial)(
        collateral, debt, prices, out, screen.ref_ratio, screen.ref_prices, screen.dirty, screen.watch, screen.n_watch,
    )  # fmt: skip
    return out
