"""Circular block bootstrap of historical multi-asset returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from firesale.market._base import PriceModel
from firesale.market._bridge import bridge_to_grid, native_periods
from firesale.market._returns import log_returns
from firesale.market._validation import check_assets, check_float, check_int, correlation_factor, fail

__all__ = ["Bootstrap"]


def _sample_correlation(returns: np.ndarray) -> np.ndarray:
    """Sample correlation; an asset with constant returns is uncorrelated with the others."""
    sd = returns.std(axis=0)
    live = sd > 0.0
    corr = np.eye(returns.shape[1])
    if live.sum() > 1:
        corr[np.ix_(live, live)] = np.corrcoef(returns[:, live], rowvar=False)
    np.fill_diagonal(corr, 1.0)
    return corr


@dataclass(frozen=True, eq=False)
class Bootstrap(PriceModel):
    """Resample blocks of historical returns, all assets together, to build new paths.

    Build it from prices with :meth:`from_prices`, or from fitted data with
    :func:`firesale.market.calibration.fit_bootstrap` (which picks the block length).

    Parameters
    ----------
    assets : sequence of str
        Asset names, one per column of ``returns``.
    returns : ndarray of shape (n_obs, n_assets)
        Historical log-returns sampled every ``data_dt`` seconds, finite.
    data_dt : float
        Sampling interval of ``returns`` in seconds.
    block_length : int
        Number of consecutive observations per block, in [1, n_obs].

    Notes
    -----
    Circular block bootstrap (Politis and Romano 1992): each path strings together blocks of ``block_length``
    consecutive rows starting at uniformly drawn rows, wrapping from the end of the sample to its start. Whole rows
    are drawn, so the cross-asset dependence of each hour (or day) is kept, and blocks keep volatility clustering up
    to their length. The resampled returns live on the data grid; a step ``dt`` that is a multiple of ``data_dt``
    sums them, and points inside a data interval lie on a Brownian bridge pinned to that interval's return with
    scale ``|r|`` per asset (noise correlated by the sample correlation), so a sub-step of a fraction
    ``delta`` of the interval has variance ``r**2 * delta``: quiet hours stay quiet and crash hours are rough
    inside (see :mod:`firesale.market._bridge`). Draws, in order: the block starts
    ``integers(0, n_obs, (n_paths, n_blocks))``, then the bridge normals if needed.

    References
    ----------
    D. N. Politis and J. P. Romano, "A circular block-resampling procedure for stationary data", in Exploring the
    Limits of Bootstrap, Wiley (1992) 263-270.
    """

    assets: tuple[str, ...]
    returns: np.ndarray
    data_dt: float
    block_length: int
    _factor: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        set_ = object.__setattr__
        assets = check_assets(self.assets, owner)
        set_(self, "assets", assets)
        returns = np.array(self.returns, dtype=np.float64)
        if returns.ndim == 1:
            returns = returns[:, None]
        if returns.ndim != 2 or returns.shape[1] != len(assets) or returns.shape[0] < 1:
            raise fail(
                "returns",
                owner,
                f"an array of shape (n_obs, {len(assets)}) with n_obs >= 1",
                f"<shape {returns.shape}>",
            )
        if not np.isfinite(returns).all():
            raise fail("returns", owner, "finite everywhere", "<non-finite returns>")
        returns.flags.writeable = False
        set_(self, "returns", returns)
        set_(self, "data_dt", check_float(self.data_dt, "data_dt", owner, lo=0.0, lo_open=True))
        set_(
            self,
            "block_length",
            check_int(self.block_length, "block_length", owner, lo=1, hi=returns.shape[0]),
        )
        set_(self, "_factor", correlation_factor(_sample_correlation(returns)))

    @classmethod
    def from_prices(
        cls,
        prices: pd.Series | pd.DataFrame,
        *,
        block_length: int,
        assets: Any = None,
        data_dt: float | None = None,
    ) -> Bootstrap:
        """Build from prices with a DatetimeIndex; returns are taken by :func:`firesale.market.log_returns`."""
        rets, step = log_returns(prices, data_dt, assets=assets)
        return cls(
            assets=tuple(rets.columns), returns=rets.to_numpy(), data_dt=step, block_length=block_length
        )

    def _simulate(self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator) -> np.ndarray:
        n_obs = self.returns.shape[0]
        n_periods = native_periods(n_steps, dt, self.data_dt)
        n_blocks = -(-n_periods // self.block_length)
        starts = rng.integers(0, n_obs, size=(n_paths, n_blocks))
        rows = (starts[:, :, None] + np.arange(self.block_length)) % n_obs
        native = self.returns[rows.reshape(n_paths, -1)[:, :n_periods]]
        return np.exp(bridge_to_grid(native, np.abs(native), self.data_dt, dt, n_steps, self._factor, rng))
