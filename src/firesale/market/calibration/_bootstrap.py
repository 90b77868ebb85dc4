"""Block-length choice and the bootstrap "fit"."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from arch.bootstrap import optimal_block_length as _politis_white

from firesale.market._bootstrap import Bootstrap
from firesale.market._returns import log_returns
from firesale.market._validation import check_int, fail
from firesale.market.calibration._result import Calibration
from firesale.market.spec import BootstrapSpec

__all__ = ["fit_bootstrap", "optimal_block_length"]


def optimal_block_length(returns: pd.DataFrame | np.ndarray) -> int:
    """Circular-bootstrap block length by the Politis-White rule, long enough for volatility clustering.

    Parameters
    ----------
    returns : pandas.DataFrame or ndarray of shape (n_obs, n_assets)
        Log-returns on a regular grid.

    Returns
    -------
    int
        The largest, over assets, of the Politis and White (2004) circular block lengths (with the correction of
        Patton, Politis and White 2009, as computed by ``arch.bootstrap.optimal_block_length``) of the returns and
        of the squared returns, rounded up, in [1, n_obs]. Squared returns are included because crypto returns
        are nearly uncorrelated while their volatility clusters; blocks sized for the returns alone would break the
        clusters.

    References
    ----------
    D. N. Politis and H. White, "Automatic block-length selection for the dependent bootstrap", Econometric Reviews
    23 (2004) 53-70; A. Patton, D. N. Politis and H. White, correction, Econometric Reviews 28 (2009) 372-375.
    """
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 10 or not np.isfinite(x).all():
        raise fail(
            "returns",
            "optimal_block_length",
            "a finite array of shape (n_obs >= 10, n_assets)",
            f"<shape {x.shape}>",
        )
    lengths = [1.0]
    for col in x.T:
        if col.std() > 0.0:
            lengths.append(float(_politis_white(col)["circular"].iloc[0]))
            lengths.append(float(_politis_white(col * col)["circular"].iloc[0]))
    return int(min(max(1, math.ceil(max(lengths))), x.shape[0]))


def fit_bootstrap(
    prices: pd.Series | pd.DataFrame,
    *,
    data_dt: float | None = None,
    block_length: int | None = None,
    source: Mapping[str, Any] | None = None,
) -> Calibration:
    """Prepare a circular block bootstrap of the price history.

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Prices with a DatetimeIndex, one column per asset.
    data_dt : float, optional
        Sampling interval in seconds; default the median spacing.
    block_length : int, optional
        Observations per block; default :func:`optimal_block_length`.
    source : mapping, optional
        How a scenario reads the same prices: the :class:`~firesale.market.spec.BootstrapSpec` keys ``source``,
        ``columns``, ``time_column``, ``time_format``, ``time_unit``, ``start``, ``end``. With it the result has a
        spec (block length and data_dt filled in); without, ``spec`` is None.

    Returns
    -------
    Calibration
        :class:`~firesale.market.Bootstrap`; diagnostics ``n_obs``, ``data_dt``, ``block_length``,
        ``n_blocks`` (independent blocks in the sample).
    """
    rets, step = log_returns(prices, data_dt)
    n_obs = len(rets)
    block = (
        optimal_block_length(rets)
        if block_length is None
        else check_int(block_length, "block_length", "fit_bootstrap", lo=1, hi=n_obs)
    )
    model = Bootstrap(assets=tuple(rets.columns), returns=rets.to_numpy(), data_dt=step, block_length=block)
    spec = None
    if source is not None:
        spec = BootstrapSpec(**{**dict(source), "block_length": block, "data_dt": step})
    diagnostics = {"n_obs": n_obs, "data_dt": step, "block_length": block, "n_blocks": n_obs / block}
    return Calibration(model=model, spec=spec, diagnostics=diagnostics)
