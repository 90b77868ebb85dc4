"""Accounting kernels over positions, in NumPy (reference) and Numba (fused, parallel over paths)."""

from __future__ import annotations

import numba
import numpy as np

from firesale.protocols.lending import liquidation_round_numba, liquidation_round_numpy

__all__ = ["ROUND_KERNELS", "underwater_usd", "underwater_usd_numpy"]

#: Implementations of one liquidation round, by name (``simulate(kernel=...)``).
ROUND_KERNELS = {"numba": liquidation_round_numba, "numpy": liquidation_round_numpy}


def underwater_usd_numpy(collateral: np.ndarray, debt: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Bad debt per path: the sum over accounts of debt value not covered by collateral value, shape (n_paths,)."""
    coll = np.zeros(collateral.shape[:2])
    dbt = np.zeros(collateral.shape[:2])
    for r in range(collateral.shape[2]):
        coll += collateral[:, :, r] * prices[:, None, r]
        dbt += debt[:, :, r] * prices[:, None, r]
    return np.maximum(dbt - coll, 0.0).sum(axis=1)


@numba.njit(parallel=True, cache=True, nogil=True)
def _underwater_kernel(collateral, debt, prices, out):  # fmt: skip
    n_paths, n_acc, n_res = collateral.shape
    for p in numba.prange(n_paths):
        total = 0.0
        for a in range(n_acc):
            c = 0.0
            d = 0.0
            for r in range(n_res):
                c += collateral[p, a, r] * prices[p, r]
                d += debt[p, a, r] * prices[p, r]
            if d > c:
                total += d - c
        out[p] = total


def underwater_usd(collateral: np.ndarray, debt: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Fused equivalent of :func:`underwater_usd_numpy`."""
    out = np.empty(collateral.shape[0])
    _underwater_kernel(collateral, debt, prices, out)
    return out
