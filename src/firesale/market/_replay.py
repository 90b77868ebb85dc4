"""Historical replay: one observed price path, resampled to the simulation step, on every Monte Carlo path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from firesale.market._base import PriceModel
from firesale.market._validation import check_assets, check_choice, check_float, fail

__all__ = ["Replay", "frame_from_prices", "seconds_since_epoch"]

_INTERPOLATION = ("linear", "previous", "bridge")


def seconds_since_epoch(index: pd.DatetimeIndex) -> np.ndarray:
    """Seconds since 1970-01-01 UTC as float64, whatever the index's unit (pandas 3 defaults to microseconds)."""
    idx = index.tz_convert("UTC") if index.tz is not None else index
    return idx.as_unit("ns").asi8.astype(np.float64) / 1e9


def frame_from_prices(prices: Any, owner: str, assets: Any = None) -> pd.DataFrame:
    """Check a price Series/DataFrame and return it as a DataFrame with one column per asset.

    Requires a DatetimeIndex, strictly increasing, and positive finite prices. ``assets`` (optional) selects and
    orders columns; a Series is named by ``assets[0]``, else by its own name.
    """
    if isinstance(prices, pd.Series):
        name = prices.name if assets is None else check_assets(assets, owner)[0]
        if name is None:
            raise fail("assets", owner, "given when the price Series has no name", None)
        frame = prices.to_frame(name=str(name))
    elif isinstance(prices, pd.DataFrame):
        frame = prices
        if assets is not None:
            wanted = check_assets(assets, owner)
            missing = [a for a in wanted if a not in frame.columns]
            if missing:
                raise fail("assets", owner, f"columns of the price DataFrame {list(frame.columns)}", missing)
            frame = frame.loc[:, list(wanted)]
    else:
        raise fail("prices", owner, "a pandas Series or DataFrame of prices", f"<a {type(prices).__name__}>")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise fail("prices", owner, "indexed by a DatetimeIndex", f"<a {type(frame.index).__name__}>")
    if len(frame) < 2:
        raise fail("prices", owner, "at least 2 observations", f"<{len(frame)} rows>")
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise fail(
            "prices", owner, "strictly increasing in time (sort and de-duplicate first)", "<unsorted index>"
        )
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    values = frame.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values <= 0.0)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise fail(
            "prices",
            owner,
            "positive and finite everywhere",
            f"<{values[row, col]} for {frame.columns[col]!r} at {frame.index[row]}>",
        )
    return frame


@dataclass(frozen=True, eq=False)
class Replay(PriceModel):
    """Replay a historical price path: every Monte Carlo path sees the same prices.

    Build it from data with :meth:`from_prices`.

    Parameters
    ----------
    assets : sequence of str
        Asset names, one per column of ``prices``.
    times : ndarray of shape (n_obs,)
        Observation times in seconds since the epoch, strictly increasing.
    prices : ndarray of shape (n_obs, n_assets)
        Observed prices, positive and finite.
    start : float, optional
        Time (seconds since the epoch) of the first simulation step; default ``times[0]``.
    interpolation : {"linear", "previous"}, default "linear"
        How prices between observations are read: ``"linear"`` interpolates the log-price (geometric: halfway
        between 100 and 121 is 110), so a 12 s step over hourly data moves smoothly instead of jumping on the
        hour; ``"previous"`` holds the last observation (as-of, as a feed would have shown it); ``"bridge"`` draws,
        per path and seeded, a Brownian bridge in log-price pinned to every observation, so a replay run on a finer
        grid than its data moves between prints as markets do, and liquidations can happen between them.

    Notes
    -----
    The relative price at step ``k`` is :math:`P(start + k\\,dt) / P(start)`. The run must stay inside the data:
    ``start + n_steps * dt <= times[-1]``, otherwise ``simulate`` raises ParameterError. ``rng`` is used only by
    ``"bridge"``: between observations :math:`t_j` and :math:`t_j + h` the log-price is
    :math:`X(t_j) + s R_j + c\\,(W(s) - s W(1))` (:func:`firesale.market._bridge.bridge_to_grid`), with :math:`R_j`
    the observed log-return, :math:`c^2` each asset's mean squared log-return per interval over the whole series and
    the noise correlated across assets as the observed returns are. It needs evenly spaced observations and a start
    on one of them.
    """

    assets: tuple[str, ...]
    times: np.ndarray
    prices: np.ndarray
    start: float | None = None
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        set_ = object.__setattr__
        assets = check_assets(self.assets, owner)
        set_(self, "assets", assets)
        times = np.array(self.times, dtype=np.float64)
        if times.ndim != 1 or times.size < 2 or not np.isfinite(times).all() or (np.diff(times) <= 0).any():
            raise fail(
                "times", owner, "a 1-d array of at least 2 finite, strictly increasing times", "<array>"
            )
        prices = np.array(self.prices, dtype=np.float64)
        if prices.ndim == 1:
            prices = prices[:, None]
        if prices.shape != (times.size, len(assets)):
            raise fail(
                "prices", owner, f"an array of shape ({times.size}, {len(assets)})", f"<shape {prices.shape}>"
            )
        if not (np.isfinite(prices) & (prices > 0.0)).all():
            raise fail(
                "prices", owner, "positive and finite everywhere", "<non-positive or non-finite prices>"
            )
        times.flags.writeable = False
        prices.flags.writeable = False
        set_(self, "times", times)
        set_(self, "prices", prices)
        start = times[0] if self.start is None else self.start
        start = check_float(start, "start", owner, lo=float(times[0]), hi=float(times[-1]))
        set_(self, "start", start)
        set_(self, "interpolation", check_choice(self.interpolation, "interpolation", owner, _INTERPOLATION))
        if self.interpolation == "bridge":
            gaps = np.diff(times)
            if not np.allclose(gaps, gaps[0], rtol=1e-9, atol=1e-6):
                raise fail(
                    "interpolation", owner, "'bridge' only over evenly spaced observations", "'bridge'"
                )
            if not np.isclose(times, start, rtol=0, atol=1e-6).any():
                raise fail("start", owner, "one of the observation times with interpolation 'bridge'", start)

    @classmethod
    def from_prices(
        cls,
        prices: pd.Series | pd.DataFrame,
        *,
        assets: Any = None,
        start: Any = None,
        interpolation: str = "linear",
    ) -> Replay:
        """Build a replay from a price Series or DataFrame with a DatetimeIndex.

        Parameters
        ----------
        prices : pandas.Series or pandas.DataFrame
            Prices indexed by time (naive timestamps are read as UTC), strictly increasing, positive.
        assets : sequence of str, optional
            Columns to replay, in order (default: all columns; a Series uses its name).
        start : str or pandas.Timestamp, optional
            First simulated instant (default: the first observation).
        interpolation : {"linear", "previous"}, default "linear"
        """
        frame = frame_from_prices(prices, "Replay.from_prices", assets)
        start_s = None
        if start is not None:
            stamp = pd.Timestamp(start)
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
            start_s = float(seconds_since_epoch(pd.DatetimeIndex([stamp]))[0])
        return cls(
            assets=tuple(frame.columns),
            times=seconds_since_epoch(frame.index),
            prices=frame.to_numpy(dtype=np.float64),
            start=start_s,
            interpolation=interpolation,
        )

    @property
    def max_horizon(self) -> float:
        """Seconds of data available after ``start``."""
        return float(self.times[-1] - self.start)

    def _simulate(self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator) -> np.ndarray:
        horizon = n_steps * dt
        if horizon > self.max_horizon * (1.0 + 1e-12):
            raise fail(
                "n_steps",
                f"{type(self).__name__}.simulate",
                f"at most {int(self.max_horizon // dt)} for dt={dt:g} s (the series covers {self.max_horizon:g} s "
                "after start)",
                n_steps,
            )
        grid = self.start + np.arange(n_steps + 1) * dt  # type: ignore[operator]
        grid = np.minimum(grid, self.times[-1])
        if self.interpolation == "bridge":
            return np.exp(self._bridge(n_paths, n_steps, dt, rng))
        if self.interpolation == "linear":
            logs = np.log(self.prices)
            level = np.column_stack([np.interp(grid, self.times, logs[:, i]) for i in range(self.n_assets)])
            rel = np.exp(level - level[0])
        else:
            idx = np.searchsorted(self.times, grid, side="right") - 1
            level = self.prices[idx]
            rel = level / level[0]
        return np.repeat(rel[None, :, :], n_paths, axis=0)

    def _bridge(self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator) -> np.ndarray:
        """Log-price relative to the start on the grid, a seeded Brownian bridge between prints."""
        from firesale.market._bridge import bridge_to_grid, native_periods

        h = float(self.times[1] - self.times[0])
        i0 = int(np.argmin(np.abs(self.times - self.start)))
        logs = np.log(self.prices)
        returns = np.diff(logs, axis=0)
        n_per = min(native_periods(n_steps, dt, h), returns.shape[0] - i0)
        scale = np.sqrt(np.mean(returns**2, axis=0))
        corr = np.corrcoef(returns.T) if self.n_assets > 1 else np.ones((1, 1))
        corr = np.nan_to_num(np.atleast_2d(corr), nan=0.0)
        np.fill_diagonal(corr, 1.0)
        factor = np.linalg.cholesky(corr + 1e-12 * np.eye(self.n_assets))
        native = np.broadcast_to(returns[i0 : i0 + n_per], (n_paths, n_per, self.n_assets))
        c = np.broadcast_to(scale, (n_paths, n_per, self.n_assets))
        return bridge_to_grid(np.ascontiguousarray(native), c, h, dt, n_steps, factor, rng)
