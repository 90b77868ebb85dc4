"""Log-returns on a regular grid from price data with gaps or irregular timestamps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from firesale.market._replay import frame_from_prices, seconds_since_epoch
from firesale.market._validation import check_float

__all__ = ["log_returns"]


def log_returns(
    prices: pd.Series | pd.DataFrame, data_dt: float | None = None, *, assets: Any = None
) -> tuple[pd.DataFrame, float]:
    """Log-returns of prices sampled on a regular grid, skipping gaps.

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Prices with a strictly increasing DatetimeIndex (naive timestamps are UTC), one column per asset,
        positive and finite. Series of different coverage should be aligned first (rows with any NaN are
        rejected).
    data_dt : float, optional
        Grid spacing in seconds; default the median spacing of the index, rounded to a whole second.
    assets : sequence of str, optional
        Columns to use.

    Returns
    -------
    returns : pandas.DataFrame
        Log-returns between consecutive grid points, indexed by the end of each interval.
    data_dt : float
        The grid spacing used, in seconds.

    Notes
    -----
    Grid points run from the first observation in steps of ``data_dt``. The price at a grid point is that of the
    nearest observation, provided it lies within half a step (``data_dt / 2``; the earlier one wins a tie), so
    jittered timestamps (CoinGecko's "about hourly") land on the grid; a grid point with no observation that close
    is missing and the returns on either side are dropped, so a gap never becomes one oversized return. On
    regularly sampled data this is exactly ``log(p[t] / p[t - 1])`` with the returns around missing rows removed.
    """
    owner = "log_returns"
    frame = frame_from_prices(prices, owner, assets)
    t = seconds_since_epoch(frame.index)
    if data_dt is None:
        data_dt = float(max(1.0, np.rint(np.median(np.diff(t)))))
    data_dt = check_float(data_dt, "data_dt", owner, lo=0.0, lo_open=True)
    n_grid = int(np.floor((t[-1] - t[0]) / data_dt + 1e-9)) + 1
    grid = t[0] + np.arange(n_grid) * data_dt
    right = np.minimum(np.searchsorted(t, grid, side="left"), t.size - 1)
    left = np.maximum(right - 1, 0)
    idx = np.where(np.abs(t[left] - grid) <= np.abs(t[right] - grid), left, right)
    near = np.abs(t[idx] - grid) <= 0.5 * data_dt + 1e-6
    logs = np.log(frame.to_numpy(dtype=np.float64))[idx]
    logs[~near] = np.nan
    rets = np.diff(logs, axis=0)
    keep = np.isfinite(rets).all(axis=1)
    index = pd.to_datetime(grid[1:][keep], unit="s", utc=True)
    out = pd.DataFrame(rets[keep], index=index, columns=frame.columns)
    return out, data_dt
