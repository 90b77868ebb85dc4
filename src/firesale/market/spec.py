"""The ``[market]`` table of a scenario file, validated with pydantic v2.

``model`` picks the price model; the other keys are that model's parameters::

    [market]
    model = "gbm"
    vol = { WETH = 0.8, WBTC = 0.65 }     # annualised, 365-day year
    correlation = { "WETH/WBTC" = 0.85 }  # unlisted pairs take correlation_default (0)

Conventions shared by every model:

* **Per-asset values** are a table keyed by asset name (``vol = { WETH = 0.8, WBTC = 0.65 }``) or one number for
  every asset (``vol = 0.8``).
* **Assets missing from a table**: a parameter without a neutral value (volatilities, GARCH coefficients) is
  required for every asset the scenario prices, and :meth:`build` raises :class:`~firesale.exceptions.ScenarioError`
  naming the asset. Parameters with a neutral value default to it: drifts and GARCH means 0, jump sizes 0 (the
  asset does not move when a market-wide jump hits), shock depth 0 (the asset stays flat), a replay or bootstrap
  column named like the asset.
* **Correlation** is a table of pairs ``"A/B"`` (order irrelevant, each pair once) plus one number,
  ``correlation_default`` (0 unless given), for every pair not listed. The matrix must be positive semi-definite:
  pairs among the listed assets are checked when the table is read, the full matrix when it is built for the
  scenario's assets.
* Every number must be finite; every table rejects unknown keys.

Use :data:`MarketSpec` (a discriminated union on ``model``) through :func:`validate_market`, then
``spec.build(assets, base_dir)`` to get a :class:`~firesale.market.PriceModel`. :func:`to_toml` writes a spec back.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from firesale.exceptions import ParameterError, ScenarioError
from firesale.market._base import SECONDS_PER_DAY, PriceModel
from firesale.market._bootstrap import Bootstrap
from firesale.market._garch import GarchT
from firesale.market._gbm import GBM
from firesale.market._io import read_price_table, resolve_source
from firesale.market._merton import MertonJump
from firesale.market._regime import RegimeSwitching
from firesale.market._replay import Replay
from firesale.market._shock import Shock
from firesale.market._toml import render_table

__all__ = [
    "BootstrapSpec",
    "GBMSpec",
    "GarchSpec",
    "MarketSpec",
    "MertonSpec",
    "RegimeSpec",
    "ReplaySpec",
    "ShockSpec",
    "market_json_schema",
    "to_toml",
    "validate_market",
]

_CONFIG = ConfigDict(extra="forbid", frozen=True)

Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
CorrelationValue = Annotated[float, Field(ge=-1, le=1, allow_inf_nan=False)]
AssetName = Annotated[str, Field(min_length=1)]


def _check_pairs(pairs: dict[str, float]) -> dict[str, float]:
    seen: dict[frozenset[str], str] = {}
    for key in pairs:
        parts = key.split("/")
        if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
            raise ValueError(f"correlation keys must be 'ASSET/OTHER' with two different assets, got {key!r}")
        pair = frozenset(parts)
        if pair in seen:
            raise ValueError(f"each pair may appear once, got both {seen[pair]!r} and {key!r}")
        seen[pair] = key
    return pairs


CorrelationPairs = Annotated[dict[str, CorrelationValue], AfterValidator(_check_pairs)]

_REQUIRED = object()


def _pair_assets(pairs: dict[str, float]) -> set[str]:
    return {a for key in pairs for a in key.split("/")}


def _correlation_matrix(assets: Sequence[str], pairs: dict[str, float], default: float) -> np.ndarray:
    pos = {a: i for i, a in enumerate(assets)}
    m = np.full((len(assets), len(assets)), float(default))
    np.fill_diagonal(m, 1.0)
    for key, value in pairs.items():
        a, b = key.split("/")
        m[pos[a], pos[b]] = m[pos[b], pos[a]] = value
    return m


def _check_listed_psd(pairs: dict[str, float], default: float, key: str) -> None:
    named = sorted(_pair_assets(pairs))
    if len(named) < 2:
        return
    smallest = float(np.linalg.eigvalsh(_correlation_matrix(named, pairs, default))[0])
    if smallest < -1e-10:
        raise ValueError(
            f"{key}: the correlation matrix of {named} must be positive semi-definite, got smallest eigenvalue "
            f"{smallest:.6g}"
        )


class _MarketBase(BaseModel):
    """Shared machinery: per-asset lookup, correlation matrices, asset references."""

    model_config = _CONFIG
    _per_asset: ClassVar[tuple[str, ...]] = ()
    _pairs: ClassVar[tuple[str, ...]] = ()

    def referenced_assets(self) -> set[str]:
        """Every asset named in a per-asset table, a correlation pair or a column mapping."""
        out: set[str] = set()
        for name in self._per_asset:
            value = getattr(self, name)
            if isinstance(value, dict):
                out |= set(value)
        for name in self._pairs:
            out |= _pair_assets(getattr(self, name))
        return out

    def _check_assets(self, assets: Sequence[str]) -> tuple[str, ...]:
        names = tuple(assets)
        if not names or len(set(names)) != len(names):
            raise ScenarioError(
                f"market: the scenario's assets must be distinct and non-empty, got {list(names)}"
            )
        unknown = sorted(self.referenced_assets() - set(names))
        if unknown:
            raise ScenarioError(f"market: names assets the scenario does not define, got {unknown}")
        return names

    def _values(self, name: str, assets: Sequence[str], default: Any = _REQUIRED) -> tuple[float, ...]:
        value = getattr(self, name)
        if not isinstance(value, dict):
            return (float(value),) * len(assets)
        missing = [a for a in assets if a not in value]
        if missing and default is _REQUIRED:
            raise ScenarioError(
                f"market.{name}: needs a value for every asset of the scenario (or one number for all), "
                f"got no value for {missing}"
            )
        return tuple(float(value[a]) if a in value else float(default) for a in assets)

    @abstractmethod
    def _build(self, assets: Sequence[str], base_dir: Path) -> PriceModel:
        """The model for validated ``assets`` (each spec implements it; pydantic's metaclass is an ABCMeta)."""

    def build(self, assets: Sequence[str], base_dir: Path | str = ".") -> PriceModel:
        """Build the price model for the scenario's ``assets`` (in that order).

        Parameters
        ----------
        assets : sequence of str
            Assets whose reference prices this model drives.
        base_dir : path, default "."
            Folder of the scenario file, against which relative data paths are resolved.

        Returns
        -------
        PriceModel

        Raises
        ------
        ScenarioError
            A required per-asset value is missing, the spec names an asset not in ``assets``, a data source cannot
            be read, or the model rejects the combined parameters (e.g. a correlation matrix that is not positive
            semi-definite for these assets); the message starts with the key path.
        """
        names = self._check_assets(assets)
        try:
            return self._build(names, Path(base_dir))
        except ParameterError as exc:
            raise ScenarioError(f"market: {exc}") from exc


class _CorrelatedBase(_MarketBase):
    correlation: CorrelationPairs = Field(
        default_factory=dict,
        description='Pairwise correlations keyed "ASSET/OTHER", e.g. { "WETH/WBTC" = 0.85 }; unlisted pairs take '
        "correlation_default.",
    )
    correlation_default: CorrelationValue = Field(
        default=0.0, description="Correlation of every pair not listed."
    )
    _pairs: ClassVar[tuple[str, ...]] = ("correlation",)

    @model_validator(mode="after")
    def _listed_pairs_psd(self) -> _CorrelatedBase:
        _check_listed_psd(self.correlation, self.correlation_default, "correlation")
        return self

    def _matrix(self, assets: Sequence[str]) -> np.ndarray:
        return _correlation_matrix(assets, self.correlation, self.correlation_default)


PerAssetPositive = Positive | dict[AssetName, Positive]
PerAssetFinite = Finite | dict[AssetName, Finite]
PerAssetNonNegative = NonNegative | dict[AssetName, NonNegative]


class GBMSpec(_CorrelatedBase):
    """Correlated geometric Brownian motion.

    vol (required for every asset) is annualised over a 365-day year; drift is the annualised expected return
    (default 0: prices are martingales). Example: model = "gbm", vol = { WETH = 0.8, WBTC = 0.65 },
    correlation = { "WETH/WBTC" = 0.85 }.
    """

    model_config = _CONFIG

    model: Literal["gbm"] = "gbm"
    vol: PerAssetPositive = Field(description="Annualised volatility, > 0; required for every asset.")
    drift: PerAssetFinite = Field(default=0.0, description="Annualised expected return; missing assets 0.")
    _per_asset: ClassVar[tuple[str, ...]] = ("vol", "drift")

    def _build(self, assets: Sequence[str], base_dir: Path) -> PriceModel:
        return GBM(
            assets=tuple(assets),
            vol=self._values("vol", assets),
            drift=self._values("drift", assets, 0.0),
            correlation=self._matrix(assets),
        )


class MertonSpec(_CorrelatedBase):
    """Merton jump-diffusion: correlated GBM plus log-normal jumps.

    With common_jumps = true (default) jumps are market-wide events: one Poisson process with jump_intensity
    jumps per year (one number) and, per asset, a log jump of jump_mean + jump_std * e with the same standard
    normal e for every asset. With common_jumps = false every asset jumps independently and jump_intensity may be a
    table. Assets missing from jump_mean / jump_std do not jump (0). drift is the expected return including jumps.
    """

    model_config = _CONFIG

    model: Literal["merton"] = "merton"
    vol: PerAssetPositive = Field(
        description="Annualised diffusion volatility, > 0; required for every asset."
    )
    jump_intensity: PerAssetNonNegative = Field(
        description="Expected jumps per year; one number when common_jumps is true."
    )
    jump_mean: PerAssetFinite = Field(
        description="Mean log jump size (negative for crashes); missing assets 0."
    )
    jump_std: PerAssetNonNegative = Field(
        description="Standard deviation of the log jump size; missing assets 0."
    )
    drift: PerAssetFinite = Field(default=0.0, description="Annualised expected return; missing assets 0.")
    common_jumps: bool = Field(
        default=True, description="Market-wide jumps (true) or independent per-asset jumps (false)."
    )
    _per_asset: ClassVar[tuple[str, ...]] = ("vol", "jump_intensity", "jump_mean", "jump_std", "drift")

    @model_validator(mode="after")
    def _one_intensity(self) -> MertonSpec:
        if self.common_jumps and isinstance(self.jump_intensity, dict):
            raise ValueError("jump_intensity: must be one number when common_jumps is true, got a table")
        return self

    def _build(self, assets: Sequence[str], base_dir: Path) -> PriceModel:
        return MertonJump(
            assets=tuple(assets),
            vol=self._values("vol", assets),
            jump_intensity=self._values("jump_intensity", assets),
            jump_mean=self._values("jump_mean", assets, 0.0),
            jump_std=self._values("jump_std", assets, 0.0),
            drift=self._values("drift", assets, 0.0),
            correlation=self._matrix(assets),
            common_jumps=self.common_jumps,
        )


class GarchSpec(_CorrelatedBase):
    """GARCH(1,1) with Student-t innovations, coupled across assets by a Gaussian copula.

    The coefficients refer to returns over native_dt seconds (3600 for a fit on hourly data, 86400 for daily);
    any simulation step works. vol is the unconditional annualised volatility, which fixes
    omega = vol^2 * native_dt / year * (1 - alpha - beta). vol, alpha, beta and nu are required for every asset,
    with alpha + beta < 1 and nu > 2. initial_vol (annualised) starts the variance recursion, e.g. at the last
    fitted conditional volatility; assets without one start at vol.
    """

    model_config = _CONFIG

    model: Literal["garch"] = "garch"
    vol: PerAssetPositive = Field(description="Unconditional annualised volatility, > 0.")
    alpha: PerAssetNonNegative = Field(description="ARCH coefficient, >= 0.")
    beta: PerAssetNonNegative = Field(description="GARCH coefficient, >= 0, alpha + beta < 1.")
    nu: (
        Annotated[float, Field(gt=2, allow_inf_nan=False)]
        | dict[AssetName, Annotated[float, Field(gt=2, allow_inf_nan=False)]]
    ) = Field(description="Student-t degrees of freedom, > 2.")
    native_dt: Positive = Field(
        default=SECONDS_PER_DAY, description="Seconds per native period of the coefficients."
    )
    mu: PerAssetFinite = Field(
        default=0.0, description="Mean log-return per native period; missing assets 0."
    )
    initial_vol: PerAssetPositive | None = Field(
        default=None, description="Annualised conditional volatility of the first period; default vol."
    )
    _per_asset: ClassVar[tuple[str, ...]] = ("vol", "alpha", "beta", "nu", "mu", "initial_vol")

    @model_validator(mode="after")
    def _stationary(self) -> GarchSpec:
        keys: set[str] = set()
        for value in (self.alpha, self.beta):
            keys |= set(value) if isinstance(value, dict) else set()
        assets: list[str | None] = [*sorted(keys)] or [None]
        for asset in assets:
            a = self.alpha.get(asset or "") if isinstance(self.alpha, dict) else self.alpha
            b = self.beta.get(asset or "") if isinstance(self.beta, dict) else self.beta
            if a is not None and b is not None and a + b >= 1.0:
                where = "" if asset is None else f" for {asset}"
                raise ValueError(f"alpha + beta: must be < 1 (covariance stationarity){where}, got {a + b:g}")
        return self

    def _build(self, assets: Sequence[str], base_dir: Path) -> PriceModel:
        vol = self._values("vol", assets)
        initial = None
        if self.initial_vol is not None:
            table = (
                self.initial_vol
                if isinstance(self.initial_vol, dict)
                else dict.fromkeys(assets, self.initial_vol)
            )
            initial = tuple(float(table.get(a, v)) for a, v in zip(assets, vol, strict=True))
        return GarchT(
            assets=tuple(assets),
            vol=vol,
            alpha=self._values("alpha", assets),
            beta=self._values("beta", assets),
            nu=self._values("nu", assets),
            native_dt=self.native_dt,
            mu=self._values("mu", assets, 0.0),
            correlation=self._matrix(assets),
            initial_vol=initial,
        )


class RegimeSpec(_MarketBase):
    """Calm / crisis Markov regimes, each a correlated GBM with its own vols, drifts and correlations.

    p_calm_to_crisis and p_crisis_to_calm are probabilities per day (sum < 1); the long-run share of time in
    crisis is p_calm_to_crisis / (p_calm_to_crisis + p_crisis_to_calm). vol_calm and vol_crisis are required for
    every asset. Calm correlations: correlation_calm pairs, others correlation_calm_default. Crisis correlations
    start from the calm matrix; correlation_crisis_default, if given, replaces every pair (e.g. 0.95 to push all
    correlations towards 1 in a crisis); then the correlation_crisis pairs are applied.
    """

    model_config = _CONFIG

    model: Literal["regime"] = "regime"
    vol_calm: PerAssetPositive = Field(description="Annualised volatility in the calm regime.")
    vol_crisis: PerAssetPositive = Field(description="Annualised volatility in the crisis regime.")
    p_calm_to_crisis: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = Field(
        description="Probability per day of entering the crisis regime."
    )
    p_crisis_to_calm: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = Field(
        description="Probability per day of leaving the crisis regime."
    )
    drift_calm: PerAssetFinite = Field(
        default=0.0, description="Annualised drift in the calm regime; missing assets 0."
    )
    drift_crisis: PerAssetFinite = Field(
        default=0.0, description="Annualised drift in the crisis regime; missing assets 0."
    )
    correlation_calm: CorrelationPairs = Field(
        default_factory=dict, description="Calm pairwise correlations."
    )
    correlation_calm_default: CorrelationValue = Field(
        default=0.0, description="Calm correlation of unlisted pairs."
    )
    correlation_crisis: CorrelationPairs = Field(
        default_factory=dict, description="Crisis pairwise correlations."
    )
    correlation_crisis_default: CorrelationValue | None = Field(
        default=None, description="Crisis correlation of unlisted pairs; default: their calm value."
    )
    initial_regime: Literal["stationary", "calm", "crisis"] = Field(
        default="stationary", description="Regime of the first step, or drawn from the long-run law."
    )
    _per_asset: ClassVar[tuple[str, ...]] = ("vol_calm", "vol_crisis", "drift_calm", "drift_crisis")
    _pairs: ClassVar[tuple[str, ...]] = ("correlation_calm", "correlation_crisis")

    @model_validator(mode="after")
    def _checks(self) -> RegimeSpec:
        total = self.p_calm_to_crisis + self.p_crisis_to_calm
        if total >= 1.0:
            raise ValueError(f"p_calm_to_crisis + p_crisis_to_calm: must be < 1, got {total:g}")
        if total == 0.0 and self.initial_regime == "stationary":
            raise ValueError(
                "initial_regime: must be 'calm' or 'crisis' when both probabilities are 0, got 'stationary'"
            )
        _check_listed_psd(self.correlation_calm, self.correlation_calm_default, "correlation_calm")
        return self

    def _build(self, assets: Sequence[str], base_dir: Path) -> PriceModel:
        calm = _correlation_matrix(assets, self.correlation_calm, self.correlation_calm_default)
        crisis = calm.copy()
        if self.correlation_crisis_default is not None:
            crisis[:] = self.correlation_crisis_default
            np.fill_diagonal(crisis, 1.0)
        pos = {a: i for i, a in enumerate(assets)}
        for key, value in self.correlation_crisis.items():
            a, b = key.split("/")
            crisis[pos[a], pos[b]] = crisis[pos[b], pos[a]] = value
        return RegimeSwitching(
            assets=tuple(assets),
            vol_calm=self._values("vol_calm", assets),
            vol_crisis=self._values("vol_crisis", assets),
            p_calm_to_crisis=self.p_calm_to_crisis,
            p_crisis_to_calm=self.p_crisis_to_calm,
            drift_calm=self._values("drift_calm", assets, 0.0),
            drift_crisis=self._values("drift_crisis", assets, 0.0),
            correlation_calm=calm,
            correlation_crisis=crisis,
            initial_regime=self.initial_regime,
        )


class ShockSpec(_MarketBase):
    """A deterministic shock path for reverse stress tests, identical on every Monte Carlo path.

    shape "drop": the price falls by depth at start and stays there. "linear": it falls in a straight line over
    duration seconds from start. "v": it falls over duration (0 for a vertical fall) and then regains
    recovery_fraction of the fall over recovery seconds. depth is a fraction of the starting price, < 1 (negative:
    a rise); assets missing from the depth table stay flat. Times are seconds after the start of the run.
    Example: model = "shock", shape = "v", depth = { WETH = 0.5 }, start = 3600, duration = 1800, recovery = 86400.
    """

    model_config = _CONFIG

    model: Literal["shock"] = "shock"
    depth: (
        Annotated[float, Field(lt=1, allow_inf_nan=False)]
        | dict[AssetName, Annotated[float, Field(lt=1, allow_inf_nan=False)]]
    ) = Field(description="Fall at the trough as a fraction of the start price, < 1; missing assets 0.")
    shape: Literal["drop", "linear", "v"] = Field(default="drop", description="Shape of the path.")
    start: PerAssetNonNegative = Field(
        default=0.0, description="Onset, seconds after the start; missing assets 0."
    )
    duration: PerAssetNonNegative = Field(
        default=0.0, description="Length of the fall in seconds; 0 for 'drop'."
    )
    recovery: PerAssetNonNegative = Field(
        default=0.0, description="Length of the recovery in seconds ('v' only)."
    )
    recovery_fraction: Fraction | dict[AssetName, Fraction] = Field(
        default=1.0, description="Share of the fall regained ('v' only), in [0, 1]."
    )
    _per_asset: ClassVar[tuple[str, ...]] = ("depth", "start", "duration", "recovery", "recovery_fraction")

    def _build(self, assets: Sequence[str], base_dir: Path) -> PriceModel:
        return Shock(
            assets=tuple(assets),
            depth=self._values("depth", assets, 0.0),
            shape=self.shape,
            start=self._values("start", assets, 0.0),
            duration=self._values("duration", assets, 0.0),
            recovery=self._values("recovery", assets, 0.0),
            recovery_fraction=self._values("recovery_fraction", assets, 1.0),
        )


class _SourceBase(_MarketBase):
    source: str = Field(
        min_length=1,
        description='Price file: a path relative to the scenario file, or "firesale-data:NAME". CSV (optionally '
        "compressed) or Parquet, one row per timestamp.",
    )
    columns: dict[AssetName, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict,
        description="Column holding each asset's price; missing assets use their own name.",
    )
    time_column: str = Field(
        default="timestamp", min_length=1, description="Column holding the timestamps (UTC)."
    )
    time_format: str | None = Field(
        default=None,
        description='strftime format of the timestamps, e.g. "%m/%d/%Y %H:%M"; default ISO 8601.',
    )
    time_unit: Literal["s", "ms", "us", "ns"] | None = Field(
        default=None, description="Timestamps are numbers since the epoch in this unit."
    )
    _per_asset: ClassVar[tuple[str, ...]] = ("columns",)

    @model_validator(mode="after")
    def _one_time_rule(self) -> _SourceBase:
        if self.time_format is not None and self.time_unit is not None:
            raise ValueError("time_format, time_unit: give at most one, got both")
        return self

    def _read(self, assets: Sequence[str], base_dir: Path) -> pd.DataFrame:
        path = resolve_source(self.source, base_dir, "market.source")
        return read_price_table(
            path,
            columns={a: self.columns.get(a, a) for a in assets},
            time_column=self.time_column,
            time_format=self.time_format,
            time_unit=self.time_unit,
            key="market",
        )


def _utc(stamp: datetime) -> pd.Timestamp:
    ts = pd.Timestamp(stamp)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _at_least_two(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) < 2:
        raise ScenarioError(
            f"market.source: must hold at least 2 prices in the chosen window, got {len(frame)}"
        )
    return frame


class ReplaySpec(_SourceBase):
    """Replay a historical price path on every Monte Carlo path, resampled to the simulation step.

    start (a TOML datetime or ISO string; naive times are UTC) is the first simulated instant, default the first
    row; the run must end before the data do. interpolation "linear" interpolates log-prices between rows,
    "previous" holds the last row, "bridge" draws a seeded Brownian bridge between rows on every path (a replay on
    a finer grid than its data; evenly spaced rows, start on a row). Example: model = "replay", source = "firesale-data:eth_btc_1h_2019-2024",
    columns = { WETH = "ETH", WBTC = "BTC" }, start = 2022-05-05T00:00:00Z.
    """

    model_config = _CONFIG

    model: Literal["replay"] = "replay"
    start: datetime | None = Field(
        default=None, description="First simulated instant; default the first row."
    )
    interpolation: Literal["linear", "previous", "bridge"] = Field(
        default="linear",
        description="How to read between rows: linear in log-price, the previous row, or a seeded Brownian bridge "
        "pinned to every row (paths then differ between rows).",
    )
    impact: Literal["deviation", "total"] = Field(
        default="deviation",
        description="The replayed prices already contain the real market's reaction to the event's liquidations. "
        "'deviation': a first pass at the replayed prices (its sales absorbed outside the venues) gives the flows "
        "they are taken to contain, and the run adds back those flows' impact each step before its own sales, so "
        "only what the simulated flows add to them moves prices. 'total': the engine's whole impact on top of the "
        "replayed path (counted twice: an upper-side estimate).",
    )

    def _build(self, assets: Sequence[str], base_dir: Path) -> PriceModel:
        frame = self._read(assets, base_dir)
        start = None
        if self.start is not None:
            start = _utc(self.start)
            if len(frame) == 0 or not frame.index[0] <= start <= frame.index[-1]:
                span = f"{frame.index[0]} to {frame.index[-1]}" if len(frame) else "no rows"
                raise ScenarioError(f"market.start: must lie within the data ({span}), got {start}")
            # Keep the last row at or before start: the replay reads the price at start from it.
            frame = frame.loc[frame.index[frame.index <= start][-1] :]
        frame = _at_least_two(frame)
        return Replay.from_prices(frame, assets=tuple(assets), start=start, interpolation=self.interpolation)


class BootstrapSpec(_SourceBase):
    """Circular block bootstrap of historical returns (all assets resampled together).

    Returns are taken on a regular grid of data_dt seconds (default: the median spacing of the file) from the
    window [start, end] of the file. block_length counts observations; default chosen by the Politis-White rule
    (arch.bootstrap.optimal_block_length, largest over assets).
    """

    model_config = _CONFIG

    model: Literal["bootstrap"] = "bootstrap"
    start: datetime | None = Field(
        default=None, description="First row of history used; default the first row."
    )
    end: datetime | None = Field(default=None, description="Last row of history used; default the last row.")
    block_length: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Observations per block."
    )
    data_dt: Positive | None = Field(default=None, description="Seconds between resampled observations.")

    def _build(self, assets: Sequence[str], base_dir: Path) -> PriceModel:
        from firesale.market._returns import log_returns

        frame = self._read(assets, base_dir)
        if self.start is not None:
            frame = frame.loc[_utc(self.start) :]
        if self.end is not None:
            frame = frame.loc[: _utc(self.end)]
        rets, data_dt = log_returns(_at_least_two(frame), self.data_dt, assets=tuple(assets))
        block = self.block_length
        if block is None:
            from firesale.market.calibration import optimal_block_length

            block = optimal_block_length(rets)
        if len(rets) < block:
            raise ScenarioError(
                f"market.block_length: must be at most the {len(rets)} returns available, got {block}"
            )
        return Bootstrap(assets=tuple(assets), returns=rets.to_numpy(), data_dt=data_dt, block_length=block)


MarketSpec = Annotated[
    GBMSpec | MertonSpec | GarchSpec | RegimeSpec | ShockSpec | ReplaySpec | BootstrapSpec,
    Field(discriminator="model"),
]
"""The ``[market]`` table: one of the specs above, chosen by its ``model`` key."""

_ADAPTER: TypeAdapter[Any] = TypeAdapter(MarketSpec)


def validate_market(
    data: Any,
) -> GBMSpec | MertonSpec | GarchSpec | RegimeSpec | ShockSpec | ReplaySpec | BootstrapSpec:
    """Validate the ``[market]`` table (a mapping, as read by ``tomllib``).

    Parameters
    ----------
    data : mapping
        The table; its ``model`` key picks the spec.

    Returns
    -------
    GBMSpec, MertonSpec, GarchSpec, RegimeSpec, ShockSpec, ReplaySpec or BootstrapSpec

    Raises
    ------
    pydantic.ValidationError
        With the key path, the rule and the value of each problem (the scenario loader turns it into a
        :class:`~firesale.exceptions.ScenarioError` that names the file).
    """
    return _ADAPTER.validate_python(data)


def market_json_schema() -> dict[str, Any]:
    """JSON Schema of the ``[market]`` table (model docstrings become the descriptions editors show)."""
    return _ADAPTER.json_schema()


def to_toml(spec: BaseModel, comment: str | None = None) -> str:
    """Render a market spec as a ``[market]`` TOML fragment that :func:`validate_market` reads back to ``spec``.

    Parameters
    ----------
    spec : GBMSpec, MertonSpec, GarchSpec, RegimeSpec, ShockSpec, ReplaySpec or BootstrapSpec
        The spec to write; ``model`` first, correlations last, unset optional keys and empty tables left out.
    comment : str, optional
        Written above the table as ``#`` lines (e.g. where a calibration came from).

    Returns
    -------
    str
    """
    if not isinstance(spec, _MarketBase):
        raise ParameterError(
            f"The 'spec' parameter of to_toml must be a market spec (GBMSpec, ...). Got {type(spec).__name__} instead."
        )
    dumped = spec.model_dump(mode="python", exclude_none=True)
    keys = ["model"] + [k for k in dumped if k != "model" and not k.startswith("correlation")]
    keys += [k for k in dumped if k.startswith("correlation")]
    ordered = {k: dumped[k] for k in keys if not (isinstance(dumped[k], dict) and not dumped[k])}
    return render_table("market", ordered, comment)
