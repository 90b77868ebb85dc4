r"""From returns on a model's native period to log-prices on any simulation step.

GARCH and the bootstrap produce one return per *native period* (the GARCH's fitting frequency, the data's sampling
interval). The engine asks for any step ``dt``. Steps that are multiples of the native period sum native returns;
grid points that fall inside a native period are filled by a Brownian bridge pinned to that period's return:

.. math::
    X(t_j + s h) = X(t_j) + s R_j + c_j \bigl(W(s) - s W(1)\bigr), \quad s \in [0, 1)

with :math:`W` a standard Brownian motion on [0, 1] correlated across assets, and :math:`c_j` a per-period scale.
At native boundaries the native returns are reproduced exactly, so the native-frequency distribution (fat tails,
volatility clustering) is untouched by the choice of ``dt``; if :math:`E[R_j^2] = c_j^2`, a sub-step of length
:math:`\delta h` has variance :math:`c_j^2 \delta`, i.e. the native variance is spread evenly in time.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bridge_to_grid", "native_periods"]

_SNAP = 1e-9


def native_periods(n_steps: int, dt: float, native_dt: float) -> int:
    """Number of native periods needed to cover ``n_steps`` steps of ``dt`` seconds."""
    return max(1, math.ceil(n_steps * dt / native_dt - _SNAP))


def _grid_positions(n_steps: int, dt: float, native_dt: float) -> tuple[np.ndarray, np.ndarray]:
    pos = np.arange(n_steps + 1) * (dt / native_dt)
    near = np.rint(pos)
    # k * dt / h is computed in floating point; a grid point meant to sit on a native boundary must land on it.
    pos = np.where(np.abs(pos - near) <= _SNAP * np.maximum(1.0, near), near, pos)
    j = np.floor(pos).astype(np.int64)
    return j, pos - j


def bridge_to_grid(
    native_returns: np.ndarray,
    bridge_scale: np.ndarray,
    native_dt: float,
    dt: float,
    n_steps: int,
    factor: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Log-prices at ``k * dt`` for ``k = 0..n_steps`` from native-period log-returns.

    Parameters
    ----------
    native_returns : ndarray of shape (n_paths, n_periods, n_assets)
        Log-return of each native period; ``n_periods >= native_periods(n_steps, dt, native_dt)``.
    bridge_scale : ndarray of shape (n_paths, n_periods, n_assets)
        Scale :math:`c_j` of the bridge noise inside each period.
    native_dt, dt : float
        Native period and simulation step, in seconds.
    n_steps : int
        Number of simulation steps.
    factor : ndarray of shape (n_assets, n_assets)
        Correlation factor ``A`` (``A @ A.T`` is the correlation of the bridge noise across assets).
    rng : numpy.random.Generator
        Used only if some grid point falls strictly inside a native period.

    Returns
    -------
    ndarray of shape (n_paths, n_steps + 1, n_assets)
        Log-price relative to time 0 (first row zero).
    """
    n_paths, n_periods, n_assets = native_returns.shape
    cum = np.zeros((n_paths, n_periods + 1, n_assets))
    np.cumsum(native_returns, axis=1, out=cum[:, 1:, :])
    j, s = _grid_positions(n_steps, dt, native_dt)
    out = cum[:, j, :]
    ki = np.flatnonzero(s > 0.0)
    if ki.size == 0:
        return out
    ji, si = j[ki], s[ki]
    # Interior points are in time order, hence grouped by period; each group is one bridge.
    new_group = np.empty(ki.size, dtype=bool)
    new_group[0] = True
    new_group[1:] = ji[1:] != ji[:-1]
    s_prev = np.where(new_group, 0.0, np.concatenate(([0.0], si[:-1])))
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    ends = np.concatenate((starts[1:] - 1, [ki.size - 1]))
    w = rng.standard_normal((n_paths, ki.size, n_assets)) @ factor.T
    w *= np.sqrt(si - s_prev)[None, :, None]
    np.cumsum(w, axis=1, out=w)
    before = np.zeros((n_paths, starts.size, n_assets))
    before[:, 1:, :] = w[:, starts[1:] - 1, :]
    w -= before[:, group, :]
    w_end = rng.standard_normal((n_paths, starts.size, n_assets)) @ factor.T
    w_end = w[:, ends, :] + w_end * np.sqrt(1.0 - si[ends])[None, :, None]
    bridge = w - si[None, :, None] * w_end[:, group, :]
    out[:, ki, :] += si[None, :, None] * native_returns[:, ji, :] + bridge_scale[:, ji, :] * bridge
    return out
