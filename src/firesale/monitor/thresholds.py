"""Thresholds of the failure-state classifier: one band per dimension of the issue's two tables, validated.

Each dimension reads one indicator and grades it stable (0), stressed (1) or failed (2) against a band of two
thresholds. For an indicator where higher is worse (oracle staleness) a value at or above ``stressed`` is stressed
and at or above ``failure`` is failed; where lower is worse (depth left) a value at or below each threshold is.

Defaults (dimension, table, indicator, which way is worse, stressed and failure thresholds, allowed range):

* liquidity, system: depth / depth at start, lower, 0.5 and 0.1, [0, 1]
* slippage, system: slippage selling the probe size, higher, 0.02 and 0.10, [0, 1]
* margin, system: share of liquidatable debt (market data) or accounts (simulated paths) left unserved, higher,
  0.01 and 0.5, [0, 1]
* near_liquidation, system: debt share within 5 % of liquidation, higher, 0.10 and 0.30, [0, 1]
* solvency, system: reserves / bad debt, lower, 2 and 1, [0, inf)
* utilisation, system: borrowed / supplied, higher, 0.92 and 0.99, [0, 1]
* oracle_deviation, system: abs(oracle - market) / market, higher, 0.02 and 0.10, [0, 1]
* oracle_staleness, system: seconds since the last update, higher, 3600 and 10800, [0, inf)
* peg, system: abs(price / peg - 1), higher, 0.01 and 0.05, [0, 1]
* volatility, model: buffer / (z sigma sqrt(h)), lower, 2 and 1, [0, inf)
* correlation, model: rolling return correlation, higher, 0.7 and 0.9, [-1, 1]
* oracle_frequency, model: oracle updates per hour, lower, 1 and 0.25, [0, inf)
* tails, model: binomial p-value of normal-VaR breaches, lower, 0.01 and 0.001, [0, 1]

On simulated paths (:func:`firesale.monitor.path_indicators`), with the series of ``simulation.record``: liquidity
from ``"depth"``, slippage from ``"slippage"`` (each venue's own quote for one sale), margin from ``"unserved"``
(the share of the step's liquidatable *accounts* left unserved, not of debt), solvency from ``"coverage"`` (each
protocol's reserves, insurance and fees earned over its bad debt, ``Accounts`` of its contract; stressed at or below
2x, failed at or below 1x, where reserves no longer cover it), oracle deviation from
``"oracle_deviation"``, staleness from ``"staleness"`` (the time past each feed's heartbeat when the heartbeats are
given, as :func:`firesale.monitor._run_states.run_states` does from the scenario), utilisation and near
liquidation from a lending market's own series; the engine's flags stand in for the amounts not recorded.

The system table is the issue's "systemic failure state" (liquidity high vs near zero; margin requirement
predictable vs unattainable; oracle reliability high vs late or failed), with the indicators that measure each row;
the model table is its "systemic model failure" (liquidation threshold above vs below market volatility; oracle
update frequency high vs low; collateral uncorrelated vs highly correlated; a normal margin model that
underestimates the tails).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from firesale.monitor._checks import check_float, check_int, fail

__all__ = ["DIMENSIONS", "Band", "ClassifierConfig", "Dimension"]


@dataclass(frozen=True)
class Band:
    """The two thresholds of one dimension: where stressed starts and where failure starts."""

    stressed: float
    failure: float


@dataclass(frozen=True)
class Dimension:
    """One row of the classifier's tables."""

    name: str
    table: str  # "system" or "model"
    higher_is_worse: bool
    lo: float
    hi: float
    default: Band
    indicator: str


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("liquidity", "system", False, 0.0, 1.0, Band(0.5, 0.1), "depth relative to its start"),
        Dimension("slippage", "system", True, 0.0, 1.0, Band(0.02, 0.10), "slippage selling the probe size"),
        Dimension(
            "margin", "system", True, 0.0, 1.0, Band(0.01, 0.5), "share of liquidations that could not clear"
        ),
        Dimension(
            "near_liquidation", "system", True, 0.0, 1.0, Band(0.10, 0.30), "debt share near liquidation"
        ),
        Dimension("solvency", "system", False, 0.0, math.inf, Band(2.0, 1.0), "reserves over bad debt"),
        Dimension("utilisation", "system", True, 0.0, 1.0, Band(0.92, 0.99), "borrowed over supplied"),
        Dimension(
            "oracle_deviation", "system", True, 0.0, 1.0, Band(0.02, 0.10), "oracle distance from market"
        ),
        Dimension("oracle_staleness", "system", True, 0.0, math.inf, Band(3600.0, 10800.0), "seconds stale"),
        Dimension("peg", "system", True, 0.0, 1.0, Band(0.01, 0.05), "distance from the peg"),
        Dimension(
            "volatility", "model", False, 0.0, math.inf, Band(2.0, 1.0), "buffer over the z-sigma move"
        ),
        Dimension("correlation", "model", True, -1.0, 1.0, Band(0.7, 0.9), "rolling return correlation"),
        Dimension("oracle_frequency", "model", False, 0.0, math.inf, Band(1.0, 0.25), "updates per hour"),
        Dimension("tails", "model", False, 0.0, 1.0, Band(0.01, 0.001), "p-value of normal-VaR breaches"),
    )
}

_OWNER = "ClassifierConfig"


def _default_bands() -> dict[str, Band]:
    return {name: d.default for name, d in DIMENSIONS.items()}


@dataclass(frozen=True)
class ClassifierConfig:
    """Thresholds and windows of the classifier; every value is checked when the object is made.

    Parameters
    ----------
    bands : mapping of dimension name to Band, optional
        Overrides of the default bands (see the module's table); dimensions not named keep their default.
    vol_window : int, default 24
        Returns in the realised-volatility window (steps).
    corr_window : int, default 168
        Returns in the correlation window (steps).
    tail_window : int, default 250
        Steps in the window of the tail test.
    var_level : float, default 0.99
        Confidence of the move the liquidation buffer must cover, and of the tail test's VaR.
    horizon_s : float, default 3600
        Liquidation horizon: the move over this time must fit in the buffer.
    slippage_size_usd : float, default 1e6
        Probe size of the slippage indicator. On simulated paths, a size the engine recorded
        (:data:`firesale.engine.recorder.SLIPPAGE_SIZES_USD`: $100k, $1M, $10M) or one between two of them.
    near_distance : float, default 0.05
        Price fall that defines "near liquidation".
    min_failed_dimensions : int, default 2
        System dimensions that must fail at once for a protocol to be in systemic failure (the engine's "two or
        more flags at once").
    min_failed_protocols : int, default 2
        Protocols that must be in systemic failure at once for the whole system to be (capped at the number of
        protocols).

    Raises
    ------
    ParameterError
        With the template ``"The 'liquidity.failure' parameter of ClassifierConfig must be a float in the range
        [0, 1]. Got 1.5 instead."``, or when a band's thresholds are in the wrong order.
    """

    bands: Mapping[str, Band] = field(default_factory=_default_bands)
    vol_window: int = 24
    corr_window: int = 168
    tail_window: int = 250
    var_level: float = 0.99
    horizon_s: float = 3600.0
    slippage_size_usd: float = 1e6
    near_distance: float = 0.05
    min_failed_dimensions: int = 2
    min_failed_protocols: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.bands, Mapping):
            raise fail(
                "bands", _OWNER, "a mapping of dimension name to Band", f"<{type(self.bands).__name__}>"
            )
        unknown = sorted(set(self.bands) - set(DIMENSIONS))
        if unknown:
            raise fail("bands", _OWNER, f"keyed by dimensions {sorted(DIMENSIONS)}", f"<unknown {unknown}>")
        merged = _default_bands()
        for name, band in self.bands.items():
            if isinstance(band, Mapping):
                band = Band(**band)
            if isinstance(band, tuple) and not isinstance(band, Band):
                band = Band(*band)
            if not isinstance(band, Band):
                raise fail(name, _OWNER, "a Band(stressed, failure)", band)
            d = DIMENSIONS[name]
            for part in ("stressed", "failure"):
                check_float(getattr(band, part), f"{name}.{part}", _OWNER, d.lo, d.hi)
            ordered = band.stressed <= band.failure if d.higher_is_worse else band.stressed >= band.failure
            if not ordered:
                rule = (
                    "a band with stressed <= failure (higher is worse)"
                    if d.higher_is_worse
                    else ("a band with stressed >= failure (lower is worse)")
                )
                raise fail(name, _OWNER, rule, band)
            merged[name] = band
        object.__setattr__(self, "bands", merged)
        for name in ("vol_window", "corr_window", "tail_window"):
            check_int(getattr(self, name), name, _OWNER, 3)
        check_float(self.var_level, "var_level", _OWNER, 0.5, 1.0, lo_open=True, hi_open=True)
        check_float(self.horizon_s, "horizon_s", _OWNER, 0.0, lo_open=True)
        check_float(self.slippage_size_usd, "slippage_size_usd", _OWNER, 0.0, lo_open=True)
        check_float(self.near_distance, "near_distance", _OWNER, 0.0, 1.0, lo_open=True, hi_open=True)
        check_int(self.min_failed_dimensions, "min_failed_dimensions", _OWNER, 1)
        check_int(self.min_failed_protocols, "min_failed_protocols", _OWNER, 1)

    def with_bands(self, **bands: Band | tuple[float, float]) -> ClassifierConfig:
        """A copy with some bands replaced (validated again)."""
        merged: dict[str, Any] = {**self.bands, **bands}
        return replace(self, bands=merged)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain data (bands as ``[stressed, failure]``)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "bands"}
        out["bands"] = {k: [b.stressed, b.failure] for k, b in self.bands.items()}
        return out
