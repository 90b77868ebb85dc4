"""One run as the report sees it, whether it comes fresh from :func:`simulate` or back from the run store."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from firesale.analysis.compare import tail_standard_errors
from firesale.exceptions import FiresaleError, ParameterError
from firesale.results import SimulationResult
from firesale.scenario import Scenario, builtin_scenarios, parse_scenario
from firesale.store import StoredRun

__all__ = ["TAIL_N_BOOT", "RunView", "as_view"]

# Bootstrap resamples for the standard errors of VaR and ES in a report: enough for a s.e. good to about 5 %.
TAIL_N_BOOT = 200

_RATIO = "min_price_ratio_"
_PROTOCOL_BAD_DEBT = "bad_debt_usd_"


@dataclass(frozen=True)
class RunView:
    """What a report needs of a run, from either source.

    ``scenario`` is the validated scenario with its positions when it could be rebuilt exactly (same content
    hash), else None and ``scenario_note`` says why; charts of the starting book need it.
    """

    name: str
    description: str
    run_id: str | None
    seed: int
    version: str
    n_paths: int
    n_steps: int
    dt: float | None
    wall_seconds: float | None
    market_model: str | None
    assets: list[str]
    protocols: list[str]
    metrics: pd.DataFrame
    series: pd.DataFrame
    summary: dict[str, float]
    scenario_text: str
    scenario: Scenario | None
    scenario_note: str
    # Each path of each recorded variable, shape (n_paths, n_steps + 1): fresh results only (a stored run keeps
    # quantiles over paths), so charts of individual paths say so when it is None.
    paths: Mapping[str, np.ndarray] | None = None
    # Losses by contagion channel (protocol, metric, component, mean, CI) when the run was attributed, else None.
    attribution: pd.DataFrame | None = None
    # Per account of each lending protocol: its starting book and the mean and s.e. over paths of its bad debt and
    # debt at risk (firesale.engine._summaries.AccountSummary.frame), when the run recorded them, else None.
    accounts: pd.DataFrame | None = None
    # Share of paths in each failure state by step, stored by `firesale run` (firesale.monitor._run_states), or None.
    states: pd.DataFrame | None = None

    @property
    def horizon_s(self) -> float | None:
        return None if self.dt is None else self.n_steps * self.dt

    @property
    def label(self) -> str:
        return (
            f"{self.name} (run {self.run_id}, seed {self.seed})"
            if self.run_id
            else f"{self.name} (seed {self.seed})"
        )

    def variable(self, name: str) -> pd.DataFrame | None:
        """The recorded quantiles of one variable by step, or None if the run did not record it."""
        if self.series.empty or "variable" not in self.series:
            return None
        frame = self.series[self.series["variable"] == name]
        return None if frame.empty else frame.sort_values("step").reset_index(drop=True)


def _columns(metrics: pd.DataFrame, prefix: str) -> list[str]:
    return [c.removeprefix(prefix) for c in metrics.columns if c.startswith(prefix)]


def _stored_protocols(run: StoredRun, toml: dict[str, Any], metrics: pd.DataFrame) -> list[str]:
    """The run's protocols, by name, as its scenario declared them (never guessed from column prefixes).

    Column prefixes cannot tell a protocol from a protocol's asset (``bad_debt_usd_aave_WETH`` is the WETH part of
    protocol ``aave``), so the names come from what the run recorded, else from its scenario's TOML.
    """
    recorded = run.parameters.get("protocols")
    if isinstance(recorded, list) and all(isinstance(p, str) for p in recorded):
        names = list(recorded)
    else:
        entries = toml.get("protocols", [])
        names = (
            [str(e["name"]) for e in entries if isinstance(e, dict) and "name" in e]
            if isinstance(entries, list)
            else []
        )
    return [p for p in names if f"{_PROTOCOL_BAD_DEBT}{p}" in metrics]


def _from_result(result: SimulationResult) -> RunView:
    spec = result.scenario.spec
    return RunView(
        name=spec.name,
        description=spec.description,
        run_id=None,
        seed=int(result.seed),
        version=str(result.version),
        n_paths=int(result.n_paths),
        n_steps=int(spec.simulation.n_steps),
        dt=float(result.dt or spec.simulation.dt),
        wall_seconds=float(result.wall_seconds),
        market_model=str(spec.market.model),
        assets=list(result.asset_names) or _columns(result.metrics, _RATIO),
        protocols=list(result.protocol_names),
        metrics=result.metrics,
        series=result.series,
        summary=result.summary(),
        scenario_text=result.scenario.text,
        scenario=result.scenario,
        scenario_note="",
        paths=None
        if result.streamed
        else result.paths,  # a streamed run kept summaries, as a stored run does
        attribution=result.attribution,
        accounts=result.accounts,
    )


def _rebuild(run: StoredRun) -> tuple[Scenario | None, str]:
    """The run's scenario with its positions, if it can be rebuilt with the content hash the run recorded."""
    source = str(run.parameters.get("source", ""))
    candidates = []
    if source and Path(source).is_file():
        candidates.append(Path(source).resolve().parent)
    if not source or source in builtin_scenarios():
        candidates.append(Path("."))
    if not candidates:
        return None, (
            f"the scenario's position files cannot be found (the run came from {source!r}, which does not exist "
            "here), so the starting book cannot be rebuilt"
        )
    for base_dir in candidates:
        try:
            scenario = parse_scenario(run.scenario_text, source=source or "<stored run>", base_dir=base_dir)
        except FiresaleError:
            continue
        if scenario.content_hash == run.scenario_hash:
            return scenario, ""
    return None, (
        f"the scenario's positions at {source!r} have changed since the run (content hash differs) or cannot be "
        "read, so the starting book cannot be rebuilt"
    )


def _from_stored(run: StoredRun, name: str, where: str) -> RunView:
    if run.status != "complete":
        raise ParameterError(
            f"The '{name}' parameter of {where} must be a complete run. Got run {run.id} with status "
            f"{run.status!r} instead."
        )
    try:
        toml: dict[str, Any] = tomllib.loads(run.scenario_text)
    except tomllib.TOMLDecodeError:
        toml = {}
    sim = toml.get("simulation", {}) if isinstance(toml.get("simulation"), dict) else {}
    market = toml.get("market", {}) if isinstance(toml.get("market"), dict) else {}
    dt = sim.get("dt")
    metrics = run.metrics()
    series = run.series("series") if "series" in run.series_names() else pd.DataFrame()
    scenario, note = _rebuild(run)
    return RunView(
        name=run.scenario_name,
        description=str(toml.get("description", "")),
        run_id=run.id,
        seed=int(run.seed),
        version=run.version,
        n_paths=int(run.n_paths),
        n_steps=int(run.n_steps),
        dt=float(dt) if isinstance(dt, int | float) and math.isfinite(dt) and dt > 0 else None,
        wall_seconds=run.wall_seconds,
        market_model=str(market["model"]) if "model" in market else None,
        assets=_columns(metrics, _RATIO),
        protocols=_stored_protocols(run, toml, metrics),
        metrics=metrics,
        series=series,
        summary=dict(run.summary),
        scenario_text=run.scenario_text,
        scenario=scenario,
        scenario_note=note,
        attribution=run.series("attribution") if "attribution" in run.series_names() else None,
        accounts=run.series("accounts") if "accounts" in run.series_names() else None,
        states=run.series("states") if "states" in run.series_names() else None,
    )


def _with_tail_se(view: RunView) -> RunView:
    """Add bootstrap standard errors of VaR and ES to the summary when the run did not report them.

    The resampling has a fixed seed, so the same run renders the same report every time.
    """
    if "bad_debt_usd" not in view.metrics or view.n_paths < 2:
        return view
    missing = [
        k
        for k in ("bad_debt_var95_usd", "bad_debt_var99_usd", "bad_debt_es99_usd")
        if f"{k}_se" not in view.summary
    ]
    if missing:
        losses = view.metrics["bad_debt_usd"].to_numpy(dtype=float)
        if np.isfinite(losses).all():
            se = tail_standard_errors(losses, n_boot=TAIL_N_BOOT)
            view.summary.update({f"{k}_se": se[f"{k}_se"] for k in missing if k in view.summary})
    return view


def as_view(source: object, *, name: str = "source", where: str = "write_report") -> RunView:
    """Read a :class:`SimulationResult` or a complete :class:`StoredRun` into a :class:`RunView`.

    Raises
    ------
    ParameterError
        If ``source`` is neither, or is a stored run that did not complete.
    """
    if isinstance(source, SimulationResult):
        return _with_tail_se(_from_result(source))
    if isinstance(source, StoredRun):
        return _with_tail_se(_from_stored(source, name, where))
    raise ParameterError(
        f"The '{name}' parameter of {where} must be a SimulationResult or a StoredRun. "
        f"Got {type(source).__name__} instead."
    )
