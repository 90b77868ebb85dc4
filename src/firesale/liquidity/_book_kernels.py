"""Numba kernels of the order book's impact arithmetic (:class:`firesale.liquidity.orderbook.OrderBook`).

Each kernel is the fused form of one NumPy reference method of ``OrderBook`` (``_g_numpy``, ``log_impact_numpy``,
``trade_numpy``): the same IEEE operations in the same order, element by element, so the results are bit-identical
(``tests/unit/liquidity/test_orderbook.py`` holds them equal on random cases). Two things make that possible:

- the impact exponent is 1 (linear) or 1/2 (square root) in every book a scenario can build; NumPy evaluates
  ``x ** 1.0`` as ``x`` and ``x ** 0.5`` as ``sqrt(x)`` (both exact or correctly rounded), and so do the kernels.
  Any other exponent is left to NumPy (``pow`` is not correctly rounded, and NumPy's SIMD ``pow`` need not agree with
  the C library's);
- the exponential of the execution price stays in NumPy for the same reason: the kernels return its argument.

They run serially: the arrays are one batch of paths (a few thousand floats), where a parallel region would cost
more than it saves, and NumPy's own operations are single-threaded anyway.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["log_impact_kernel", "supported_exponent", "trade_kernel"]


def supported_exponent(exponent: float) -> bool:
    """Whether the kernels reproduce NumPy's ``x ** exponent`` exactly (1 and 1/2)."""
    return exponent == 1.0 or exponent == 0.5


@numba.njit(inline="always")
def _g(v, depth, depth_move, half):  # fmt: skip
    """``np.sign(v) * depth_move * (np.abs(v) / depth) ** exponent`` for one element (``half``: exponent 1/2)."""
    if v > 0.0:
        s = 1.0
    elif v < 0.0:
        s = -1.0
    elif v == 0.0:
        s = 0.0  # np.sign(-0.0) is +0.0
    else:
        s = v  # NaN
    x = abs(v) / depth
    if half:
        x = math.sqrt(x)
    return s * depth_move * x


@numba.njit(cache=True, nogil=True, error_model="numpy")
def log_impact_kernel(v, perm, depth, depth_move, half, temporary, out):  # fmt: skip
    """``out = perm + temporary * g(v)`` (``temporary`` is ``1 - permanent``)."""
    for p in range(v.shape[0]):
        out[p] = perm[p] + temporary * _g(v[p], depth[p], depth_move, half)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def trade_kernel(v, perm, q, depth, depth_move, half, permanent, temporary, out):  # fmt: skip
    """Trade ``q`` on every path: ``v`` and ``perm`` updated in place, ``out`` the execution's log discount
    ``-0.5 * (before + after)`` (the caller takes its exponential with NumPy)."""
    for p in range(v.shape[0]):
        d = depth[p]
        pm = perm[p]
        g0 = _g(v[p], d, depth_move, half)
        before = pm + temporary * g0
        v1 = v[p] + q[p]
        g1 = _g(v1, d, depth_move, half)
        pm = pm + permanent * (g1 - g0)
        after = pm + temporary * g1
        v[p] = v1
        perm[p] = pm
        out[p] = -0.5 * (before + after)


def as_path_array(x: np.ndarray, n: int) -> np.ndarray | None:
    """``x`` as a 1-D float64 array of length ``n`` the kernels can read, or None when it is not one."""
    if isinstance(x, np.ndarray) and x.dtype == np.float64 and x.shape == (n,):
        return x
    return None
