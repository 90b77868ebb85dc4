"""Solvency of a book of positions: bad debt at given prices, in NumPy (reference) and Numba (fused, parallel over
paths, screened)."""

from __future__ import annotations

import numba
import numpy as np

from firesale._threads import serial_twin
from firesale.protocols.lending import (
    _SCREEN_MARGIN,
    _WATCH_FACTOR,
    CHECK_PARALLEL_FROM,
    Screen,
    _screen_factor,
)

__all__ = ["underwater_usd", "underwater_usd_numpy"]


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
    n_paths, n_acc, n_res = collateral.shape
    for p in numba.prange(n_paths):
        factor = _screen_factor(prices, ref_prices, p, dirty)
        renew = factor < 0.0
        total = 0.0
        # Between renewals only the watched accounts can be underwater (lending.Screen); in account order, so the
        # sum is the full loop's.
        n_check = n_acc if renew else n_watch[p]
        n_w = 0
        for i in range(n_check):
            a = i if renew else watch[p, i]
            # Collateral value over debt value moves by at most the screen's factor: skip accounts it proves solvent.
            if not renew and ref_ratio[p, a] * factor >= 1.0 + _SCREEN_MARGIN:
                continue
            c = 0.0
            d = 0.0
            for r in range(n_res):
                c += collateral[p, a, r] * prices[p, r]
                d += debt[p, a, r] * prices[p, r]
            if renew:
                ref_ratio[p, a] = c / d if d > 0.0 else np.inf
                if not ref_ratio[p, a] * _WATCH_FACTOR >= 1.0 + _SCREEN_MARGIN:
                    watch[p, n_w] = a
                    n_w += 1
            if d > c:
                total += d - c
        if renew:
            for r in range(n_res):
                ref_prices[p, r] = prices[p, r]
            dirty[p] = False
            n_watch[p] = n_w
        out[p] = total


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
