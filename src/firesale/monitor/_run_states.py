"""The failure state of a simulated run, per step: the share of paths in each state and when the median path turns.

A run that kept its paths is classified path by path (:func:`~firesale.monitor.path_indicators`, then
:func:`~firesale.monitor.classify` on arrays of shape (n_paths, n_steps + 1)): the shares of paths stable, stressed
and in failure are exact, and the *median path's state* at a step is the worst state at least half of the paths
are in. Its reasons are those of the median indicators: each indicator's ``ceil(n / 2)``-th worst value over the
n paths (the upper median where higher is worse), classified as one path, so an indicator is stressed at its
median exactly when at least half of the paths are stressed on it. When the median path is stressed through
different dimensions on different paths, no indicator is at its median, and the reasons name the dimensions that
are stressed and on what share of the paths instead.

A streamed run, or one back from the run store, has quantiles over paths, not paths: its median path is the
indicators computed from the recorded medians (p50), and the shares are unknown unless the run stored them
(``firesale run`` stores a series ``states`` with the default thresholds when it recorded a gradable series).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from firesale.monitor._checks import fail
from firesale.monitor.classifier import FAILURE, STRESSED, Classification, classify
from firesale.monitor.thresholds import DIMENSIONS, ClassifierConfig

__all__ = ["GRADED_SERIES", "RunStates", "heartbeats_of", "run_states"]

#: Recorded series (``simulation.record``) whose amounts the classifier grades on simulated paths.
GRADED_SERIES = ("depth", "slippage", "staleness", "oracle_deviation", "unserved", "coverage")
_OWNER = "run_states"
_STATES = ("stable", "stressed", "failure")


@dataclass(frozen=True)
class RunStates:
    """A run's failure state by step.

    Attributes
    ----------
    source : str
        ``"paths"`` (every path classified) or ``"medians"`` (the recorded medians classified as one path).
    time_s : ndarray
        Time of each step, seconds.
    median_state : ndarray of int8
        State of the median path per step: 0 stable, 1 stressed, 2 failure.
    shares : DataFrame or None
        Per step (index ``step``): ``time_s`` and the share of paths ``stable``, ``stressed``, ``failure``; None
        when the paths are not known.
    first_stressed, first_failure : int or None
        First step at which the median path is stressed (or worse), and in failure; None if never.
    reasons_stressed, reasons_failure : list of str
        The reasons in words at those steps.
    dimension_shares : dict of str to list of (dimension, share stressed or worse, share failed)
        At ``first_stressed`` and ``first_failure`` (keys ``"stressed"``, ``"failure"``), from the paths only.
    """

    source: str
    time_s: np.ndarray
    median_state: np.ndarray
    shares: pd.DataFrame | None
    first_stressed: int | None
    first_failure: int | None
    reasons_stressed: list[str]
    reasons_failure: list[str]
    dimension_shares: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)

    def summary(self) -> list[str]:
        """The result in sentences, e.g. ``"median path stressed from step 12 (1 h): oracle eth-usd ..."``."""
        out = []
        for what, step, reasons in (
            ("stressed", self.first_stressed, self.reasons_stressed),
            ("in failure", self.first_failure, self.reasons_failure),
        ):
            if step is None:
                out.append(f"median path never {what}")
                continue
            why = (
                "; ".join(reasons)
                if reasons
                else "no single indicator at its median is (the state combines them)"
            )
            out.append(f"median path {what} from step {step} ({_clock(self.time_s[step])}): {why}")
        if self.shares is not None:
            for key, what in (("failure", "in systemic failure"), ("stressed", "stressed")):
                share = self.shares[key].to_numpy()
                if share.max() > 0:
                    s = int(share.argmax())
                    out.append(
                        f"at most {_pct(share[s])} of paths {what} at once, first at step {s} "
                        f"({_clock(self.time_s[s])}); {int((share > 0).sum())} steps with any"
                    )
        return out


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _clock(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} d"


def heartbeats_of(oracles: Any) -> dict[str, float]:
    """Seconds each feed may go without writing: a push feed's ``heartbeat``, a delayed feed's ``delay`` (hop).

    ``oracles`` is a scenario's oracle specs or the ``[[oracles]]`` tables of its TOML (dicts); market and TWAP
    feeds are re-read every step and median feeds keep no time of their own, so they are graded on their age.
    """
    out = {}
    for o in oracles:
        get = o.get if isinstance(o, Mapping) else lambda k, d=None, o=o: getattr(o, k, d)
        kind = get("type")
        if kind == "push":
            out[str(get("name"))] = float(get("heartbeat", 3600.0) or 3600.0)
        elif kind == "delayed":
            out[str(get("name"))] = float(get("delay", 3600.0) or 3600.0)
    return out


def _median_table(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each indicator's median over paths, per step, on its worse side; shape (1, n_steps + 1)."""
    out = {}
    for name, arr in columns.items():
        hi = DIMENSIONS[name.partition(":")[0]].higher_is_worse
        a = np.asarray(arr, dtype=float)
        with np.errstate(invalid="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # steps where no path measured it
                med = np.nanquantile(a, 0.5, axis=0, method="higher" if hi else "lower")
        out[name] = med[None, :]
    return out


def _median_state(state: np.ndarray) -> np.ndarray:
    """Worst state at least half of the paths are in, per step."""
    n = state.shape[0]
    at_least = np.stack([(state >= s).sum(axis=0) for s in (STRESSED, FAILURE)])
    return ((at_least[0] * 2 >= n).astype(np.int8) + (at_least[1] * 2 >= n)).astype(np.int8)


def _first(mask: np.ndarray) -> int | None:
    return int(np.argmax(mask)) if mask.any() else None


def _dimension_shares(c: Classification, step: int) -> list[tuple[str, float, float]]:
    rows = []
    for protocol in c.protocols:
        for dim, g in c.grades(protocol).items():  # type: ignore[union-attr]
            col = np.asarray(g)[:, step]
            rows.append((dim, float((col >= STRESSED).mean()), float((col == FAILURE).mean())))
    return sorted(rows, key=lambda r: (-r[2], -r[1]))


def _reasons(med: Classification, step: int | None) -> list[str]:
    return [] if step is None else med.reasons(step)


def _spread(c: Classification, step: int | None) -> list[str]:
    """When no indicator is stressed at its median, the dimensions that are, and on how many paths."""
    if step is None:
        return []
    out = []
    for dim, stressed, failed in _dimension_shares(c, step):
        if stressed > 0:
            also = f", failed on {_pct(failed)}" if failed > 0 else ""
            out.append(f"{DIMENSIONS[dim].indicator} stressed or worse on {_pct(stressed)} of paths{also}")
    return out


def _from_paths(
    paths: Mapping[str, np.ndarray], dt: float, config: ClassifierConfig, kwargs: dict[str, Any]
) -> RunStates:
    from firesale.monitor._assemble import path_indicators  # scipy: only when a run is classified

    cols = path_indicators(paths, dt, config=config, **kwargs)
    c = classify(cols, config)
    state = c.state
    n_t = state.shape[1]
    shares = pd.DataFrame(
        {"time_s": np.arange(n_t) * dt, **{k: (state == s).mean(axis=0) for s, k in enumerate(_STATES)}},
        index=pd.RangeIndex(n_t, name="step"),
    )
    median_state = _median_state(state)
    first_s, first_f = _first(median_state >= STRESSED), _first(median_state >= FAILURE)
    med = classify(_median_table(cols), config)
    dims = {
        k: _dimension_shares(c, s) for k, s in (("stressed", first_s), ("failure", first_f)) if s is not None
    }
    why_s = _reasons(med, first_s) or _spread(c, first_s)
    why_f = _reasons(med, first_f) or _spread(c, first_f)
    return RunStates("paths", np.arange(n_t) * dt, median_state, shares, first_s, first_f, why_s, why_f, dims)


def _from_series(
    series: pd.DataFrame, dt: float, config: ClassifierConfig, kwargs: dict[str, Any],
    shares: pd.DataFrame | None = None,
) -> RunStates:  # fmt: skip
    if series is None or series.empty or "variable" not in series:
        raise fail("source", _OWNER, "a run with recorded series", "<a run with none>")
    wide = series.pivot_table(index="step", columns="variable", values="p50", sort=True)
    paths = {str(k): wide[k].to_numpy(dtype=float)[None, :] for k in wide.columns}
    from firesale.monitor._assemble import path_indicators

    cols = path_indicators(paths, dt, config=config, **kwargs)
    med = classify(cols, config)  # one path: the medians
    state = med.state[0]
    first_s, first_f = _first(state >= STRESSED), _first(state >= FAILURE)
    if shares is not None:
        shares = shares.set_index("step") if "step" in shares else shares
    return RunStates("medians", wide.index.to_numpy() * dt, state.astype(np.int8), shares, first_s, first_f,
                     _reasons(med, first_s), _reasons(med, first_f))  # fmt: skip


def run_states(
    source: Any,
    *,
    config: ClassifierConfig | None = None,
    buffers: Mapping[str, float] | None = None,
    pegs: Mapping[str, float] | None = None,
    heartbeats: Mapping[str, float] | None = None,
    shares: pd.DataFrame | None = None,
) -> RunStates:
    """Classify a simulated run per step.

    Parameters
    ----------
    source : SimulationResult, StoredRun, ``(paths, dt)`` or ``(series, dt)``
        A run; or its recorded paths (a mapping of name to ndarray of shape (n_paths, n_steps + 1)) or its tidy
        series frame (``SimulationResult.series``: step, variable, p50, ...) with the seconds per step.
    config : ClassifierConfig, optional
        Thresholds (:mod:`firesale.monitor.thresholds`); ``slippage_size_usd`` picks the recorded sale size.
    buffers, pegs
        As :func:`~firesale.monitor.path_indicators` (need ``"price"`` recorded and kept paths for volatility).
    heartbeats : mapping of feed to seconds, optional
        Default: the scenario's (:func:`heartbeats_of`), so a feed is stale only once past its heartbeat.
    shares : DataFrame, optional
        With a series frame: the shares of paths by state stored with the run (:func:`states_series`).

    Returns
    -------
    RunStates
    """
    config = config or ClassifierConfig()
    if not isinstance(config, ClassifierConfig):
        raise fail("config", _OWNER, "a ClassifierConfig", f"<{type(config).__name__}>")
    kwargs: dict[str, Any] = {"buffers": buffers, "pegs": pegs, "heartbeats": heartbeats}
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], Mapping):
        return _from_paths(source[0], float(source[1]), config, kwargs)
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], pd.DataFrame):
        return _from_series(source[0], float(source[1]), config, kwargs, shares)
    from firesale.results import SimulationResult
    from firesale.store import StoredRun

    if isinstance(source, SimulationResult):
        if heartbeats is None:
            kwargs["heartbeats"] = heartbeats_of(source.scenario.spec.oracles)
        if source.paths:
            return _from_paths(source.paths, source.dt, config, kwargs)
        return _from_series(source.series, source.dt, config, kwargs)
    if isinstance(source, StoredRun):
        data = tomllib.loads(source.scenario_text)
        if heartbeats is None:
            kwargs["heartbeats"] = heartbeats_of(data.get("oracles", []))
        dt = float(data.get("simulation", {}).get("dt", 0.0))
        names = source.series_names()
        if "series" not in names:
            raise fail("source", _OWNER, "a run with recorded series", f"<run {source.id} stored none>")
        stored = source.series("states") if "states" in names else None
        return _from_series(source.series("series"), dt, config, kwargs, stored)
    raise fail(
        "source",
        _OWNER,
        "a SimulationResult, a StoredRun, (paths, dt) or (series, dt)",
        f"<{type(source).__name__}>",
    )


def states_series(result: Any) -> pd.DataFrame | None:
    """The share of paths in each state by step, with the default thresholds, for the run store; None when the
    run recorded none of :data:`GRADED_SERIES` or kept no paths (so nothing is computed unless asked for)."""
    record = set(result.scenario.spec.simulation.record)
    if not result.paths or not record & set(GRADED_SERIES):
        return None
    rs = run_states(result)
    assert rs.shares is not None
    frame = rs.shares.reset_index()
    frame["median_state"] = rs.median_state
    return frame
