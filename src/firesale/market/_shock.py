"""Deterministic shock paths for reverse stress tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firesale.market._base import PriceModel
from firesale.market._validation import check_assets, check_choice, fail, per_asset

__all__ = ["Shock"]

_SHAPES = ("drop", "linear", "v")


@dataclass(frozen=True)
class Shock(PriceModel):
    r"""A deterministic price path per asset, identical on every Monte Carlo path.

    Parameters
    ----------
    assets : sequence of str
        Asset names.
    depth : float or sequence of float
        Fall at the trough as a fraction of the starting price, < 1 (0.4 means the price reaches 0.6; 0 leaves
        the asset flat; a negative depth is a rise, e.g. a stablecoin trading above its peg).
    shape : {"drop", "linear", "v"}, default "drop"
        ``"drop"``: instant fall at ``start``, no recovery. ``"linear"``: straight-line fall from ``start`` to
        ``start + duration``, no recovery. ``"v"``: straight-line fall over ``duration`` (0 for a vertical
        left side, a flash crash), then straight-line recovery over ``recovery`` seconds of
        ``recovery_fraction`` of the fall.
    start : float or sequence of float, default 0.0
        Time of the onset in seconds after the start of the run, >= 0.
    duration : float or sequence of float, default 0.0
        Length of the fall in seconds, >= 0; must be 0 for ``"drop"`` (a ``"linear"`` crash of duration 0 is a
        drop).
    recovery : float or sequence of float, default 0.0
        Length of the recovery in seconds: > 0 for ``"v"`` (except on assets with depth 0), 0 otherwise.
    recovery_fraction : float or sequence of float, default 1.0
        Share of the fall regained by the end of the recovery, in [0, 1] (``"v"`` only; 1 returns to the start).

    Notes
    -----
    With :math:`d` the depth, :math:`t_0` the start, :math:`T` the duration, :math:`R` the recovery time and
    :math:`f` the recovery fraction, the relative price of a ``"v"`` at time :math:`t` is

    .. math::
        p(t) = \begin{cases}
            1 & t < t_0 \\
            1 - d (t - t_0) / T & t_0 \le t < t_0 + T \\
            1 - d + f d (t - t_0 - T) / R & t_0 + T \le t < t_0 + T + R \\
            1 - d + f d & t \ge t_0 + T + R
        \end{cases}

    ``"linear"`` stops at :math:`1 - d` and ``"drop"`` is :math:`1 - d` from :math:`t_0` on (right-continuous: the
    grid point at exactly :math:`t_0` already has the fall). The path is sampled at ``k * dt``; ``rng`` is not used.

    Examples
    --------
    >>> import numpy as np
    >>> s = Shock(assets=("WETH",), depth=0.5, shape="v", start=3600, duration=3600, recovery=7200)
    >>> s.simulate(1, 5, 1800.0, np.random.default_rng(0))[0, :, 0].tolist()
    [1.0, 1.0, 1.0, 0.75, 0.5, 0.625]
    """

    assets: tuple[str, ...]
    depth: tuple[float, ...] | float
    shape: str = "drop"
    start: tuple[float, ...] | float = 0.0
    duration: tuple[float, ...] | float = 0.0
    recovery: tuple[float, ...] | float = 0.0
    recovery_fraction: tuple[float, ...] | float = 1.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        set_ = object.__setattr__
        assets = check_assets(self.assets, owner)
        set_(self, "assets", assets)
        set_(self, "depth", per_asset(self.depth, "depth", owner, assets, hi=1.0, hi_open=True))
        shape = check_choice(self.shape, "shape", owner, _SHAPES)
        set_(self, "shape", shape)
        depths = per_asset(self.depth, "depth", owner, assets, hi=1.0, hi_open=True)
        durations = per_asset(self.duration, "duration", owner, assets, lo=0.0)
        recoveries = per_asset(self.recovery, "recovery", owner, assets, lo=0.0)
        set_(self, "start", per_asset(self.start, "start", owner, assets, lo=0.0))
        set_(self, "duration", durations)
        set_(self, "recovery", recoveries)
        for asset, depth, dur, rec in zip(assets, depths, durations, recoveries, strict=True):
            if shape == "drop" and dur != 0.0:
                raise fail(
                    "duration", owner, f"0 for shape 'drop' (use shape 'linear') for asset {asset!r}", dur
                )
            if shape != "v" and rec != 0.0:
                raise fail("recovery", owner, f"0 unless shape is 'v' for asset {asset!r}", rec)
            if shape == "v" and depth != 0.0 and rec <= 0.0:
                raise fail("recovery", owner, f"> 0 for shape 'v' for asset {asset!r}", rec)
        fraction = per_asset(self.recovery_fraction, "recovery_fraction", owner, assets, lo=0.0, hi=1.0)
        if shape != "v" and any(f != 1.0 for f in fraction):
            raise fail("recovery_fraction", owner, "left at 1.0 unless shape is 'v'", self.recovery_fraction)
        set_(self, "recovery_fraction", fraction)

    def path(self, times: np.ndarray) -> np.ndarray:
        """Relative prices at ``times`` (seconds), shape ``(len(times), n_assets)``."""
        t = np.asarray(times, dtype=np.float64)[:, None]
        d = np.asarray(self.depth)
        t0 = np.asarray(self.start)
        dur = np.asarray(self.duration)
        if self.shape == "drop":
            return np.where(t >= t0, 1.0 - d, 1.0)
        # Fraction of the fall completed; a zero duration (vertical "v") falls fully at t0.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            fall = np.where(dur > 0.0, np.clip((t - t0) / dur, 0.0, 1.0), 1.0)
        fall = np.where(t >= t0, fall, 0.0)
        price = 1.0 - d * fall
        if self.shape == "linear":
            return price
        rec = np.asarray(self.recovery)
        # A flat asset (depth 0) may have no recovery time; it has nothing to regain.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            progress = np.where(rec > 0.0, np.clip((t - t0 - dur) / rec, 0.0, 1.0), 0.0)
        regained = progress * np.asarray(self.recovery_fraction)
        return price + d * regained

    def _simulate(self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator) -> np.ndarray:
        one = self.path(np.arange(n_steps + 1) * dt)
        return np.repeat(one[None, :, :], n_paths, axis=0)
