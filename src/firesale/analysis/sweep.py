"""Parameter sweeps: one scenario run at many parameter values, every point validated first, on common seeds.

A point is a set of overrides by dotted key path into the scenario file, e.g.
``protocols.lender.reserves.WETH.liquidation_threshold``. Lists of named items (``assets``, ``venues``,
``oracles``, ``protocols``) are addressed by the item's ``name``; other lists by 0-based index
(``attacks.0.amount_usd``). Each point's scenario is rebuilt from its overridden spec and validated through
:func:`firesale.scenario.parse_scenario`, so a point is checked exactly as a scenario file would be (and
generated position books are re-derived from the point's parameters) before any path runs.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from firesale.exceptions import ParameterError, ScenarioError
from firesale.results import SimulationResult
from firesale.scenario import Scenario, load_scenario, parse_scenario

__all__ = ["Sweep", "SweepResult", "parse_assignment", "wilson_interval", "with_overrides"]

Progress = Callable[[float], None]


def wilson_interval(k: int | np.ndarray, n: int, level: float = 0.95) -> tuple[Any, Any]:
    r"""Wilson score interval of a binomial proportion ``k / n``.

    Parameters
    ----------
    k : int or ndarray of int
        Successes (e.g. paths where bad debt exceeds the budget).
    n : int
        Trials (paths), >= 1.
    level : float, default 0.95
        Two-sided confidence level in (0, 1).

    Returns
    -------
    (low, high) : floats or ndarrays

    Notes
    -----
    With :math:`\hat p = k/n` and :math:`z` the :math:`(1+\text{level})/2` normal quantile,

    .. math::
        \frac{\hat p + z^2/2n \pm z \sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}.

    Unlike the normal interval it stays inside [0, 1] and is not empty at :math:`\hat p \in \{0, 1\}`.

    References
    ----------
    E. B. Wilson, "Probable inference, the law of succession, and statistical inference", JASA 22 (1927).

    Examples
    --------
    >>> lo, hi = wilson_interval(0, 100)
    >>> round(float(lo), 6), round(float(hi), 4)
    (0.0, 0.037)
    """
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = np.asarray(k, dtype=float) / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Exact ends at k = 0 and k = n (the formula leaves rounding residue there).
    low = np.where(p <= 0.0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(p >= 1.0, 1.0, np.clip(centre + half, 0.0, 1.0))
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


# --- overrides by key path -------------------------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(t)
        except ValueError:
            pass
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    return t


def _range(text: str, where: str) -> list[float] | None:
    parts = text.split(":")
    if len(parts) != 3:
        return None
    try:
        lo, hi, step = (float(p) for p in parts)
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in (lo, hi, step)):
        raise ParameterError(f"The range of {where} must have finite bounds and step. Got {text!r} instead.")
    if step == 0:
        raise ParameterError(
            f"The range of {where} must have a non-zero step (LO:HI:STEP). Got {text!r} instead."
        )
    n = math.floor((hi - lo) / step + 1e-9)
    if n < 0:
        raise ParameterError(
            f"The range of {where} must have a step that goes from LO towards HI. Got {text!r} instead."
        )
    if n + 1 > 100_000:
        raise ParameterError(f"The range of {where} must have at most 100000 values. Got {n + 1} instead.")
    if all(p.strip().lstrip("+-").isdigit() for p in parts):
        # Integer bounds and step give integers: scenario files are strictly typed (n_steps = 12.0 is refused).
        return [int(lo) + k * int(step) for k in range(n + 1)]
    # Rounded so 0.8 + 3 * 0.01 is 0.83, the value a user typed, not 0.8300000000000001.
    return [round(lo + k * step, 12) for k in range(n + 1)]


def parse_assignment(text: str) -> tuple[str, list[Any]]:
    """Parse a ``--set`` argument: ``KEY=VALUE``, ``KEY=V1,V2,...`` or ``KEY=LO:HI:STEP`` (inclusive of HI).

    Returns
    -------
    (key, values)

    Raises
    ------
    ParameterError
        If there is no ``=``, the key is empty, or a range has a step of zero or pointing away from HI.

    Examples
    --------
    >>> parse_assignment("protocols.lender.reserves.WETH.liquidation_threshold=0.80:0.83:0.01")
    ('protocols.lender.reserves.WETH.liquidation_threshold', [0.8, 0.81, 0.82, 0.83])
    >>> parse_assignment("simulation.n_steps=12,24")
    ('simulation.n_steps', [12, 24])
    """
    if not isinstance(text, str) or "=" not in text:
        raise ParameterError(
            f"The '--set' option must be KEY=VALUE, KEY=V1,V2 or KEY=LO:HI:STEP. Got {text!r} instead."
        )
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or not raw.strip():
        raise ParameterError(f"The '--set' option must name a key and give a value. Got {text!r} instead.")
    values = _range(raw, f"--set {key}")
    if values is None:
        values = [_parse_value(v) for v in raw.split(",")]
    return key, values


def _navigate(data: Any, parts: list[str], key: str) -> tuple[Any, Any]:
    """The container holding the last part of ``key`` and the index/key into it."""
    node = data
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth]) or "(top level)"
        last = depth == len(parts) - 1
        if isinstance(node, list):
            names = [item.get("name") for item in node if isinstance(item, dict)]
            if part in names:
                index: Any = names.index(part)
            elif part.isdigit() and int(part) < len(node):
                index = int(part)
            else:
                shown = [n for n in names if n is not None] or list(range(len(node)))
                raise ParameterError(
                    f"The '--set' key {key!r} does not exist: {here} has no item {part!r} (items: {shown})."
                )
        elif isinstance(node, dict):
            keys = {str(k): k for k in node}
            if part not in keys:
                hint = difflib.get_close_matches(part, list(keys), n=1, cutoff=0.6)
                extra = f" Did you mean {'.'.join([*parts[:depth], hint[0]])!r}?" if hint else ""
                raise ParameterError(
                    f"The '--set' key {key!r} does not exist: {here} has no key {part!r}.{extra}"
                )
            index = keys[part]
        else:
            raise ParameterError(
                f"The '--set' key {key!r} does not exist: {here} is a value ({node!r}), not a table."
            )
        if last:
            return node, index
        node = node[index]
    raise ParameterError(f"The '--set' key {key!r} must not be empty.")  # pragma: no cover - parts non-empty


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, _dt.datetime | _dt.date | _dt.time):
        return v.isoformat()
    if isinstance(v, Mapping):
        items = [f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items() if x is not None]
        return "{" + ", ".join(items) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, np.generic):
        return _toml_value(v.item())
    raise ParameterError(
        f"A scenario value must be TOML-serialisable. Got {type(v).__name__} ({v!r}) instead."
    )


def _to_toml(data: Mapping[str, Any], header: str) -> str:
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in data.items() if v is not None]
    return "\n".join(lines) + "\n"


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """A new scenario with values replaced by dotted key path, validated like a scenario file.

    Parameters
    ----------
    scenario : Scenario
        The base scenario (not modified).
    overrides : mapping of str to value
        Dotted key paths (lists of named items addressed by name) and their new values.

    Returns
    -------
    Scenario
        Its ``text`` is the full overridden scenario (stored with every run, so a point is reproducible).

    Raises
    ------
    ParameterError
        If a key does not exist in the scenario.
    ScenarioError
        If the overridden scenario is invalid; each line names the key and says which override produced it.

    Examples
    --------
    >>> import firesale
    >>> sc = firesale.load_scenario("toy-spiral")
    >>> point = with_overrides(sc, {"protocols.lender.reserves.WETH.liquidation_bonus": 0.06})
    >>> point.spec.protocols[0].reserves["WETH"].liquidation_bonus
    0.06
    """
    if not overrides:
        return scenario
    # Only the keys the file gave are written back: a default must stay a default, or the loader would take it for
    # a key written by hand (keys that cannot act are refused when written, e.g. 'delay' on a push oracle).
    data = scenario.spec.model_dump(mode="python", exclude_unset=True)
    full = scenario.spec.model_dump(mode="python")
    for key, value in overrides.items():
        parts = str(key).split(".")
        if not all(parts):
            raise ParameterError(
                f"The '--set' key must be a dotted path such as 'simulation.n_steps'. Got {key!r}."
            )
        _navigate(full, parts, str(key))  # the key exists, given in the file or by default
        node = data
        for depth, part in enumerate(parts):
            if isinstance(node, list):  # lists are kept whole: the same named items as in the full dump
                index: Any = _navigate(node, [part], str(key))[1]
            else:
                index = {str(k): k for k in node}.get(part, part)
            if depth == len(parts) - 1:
                node[index] = value
            else:
                if isinstance(node, dict) and index not in node:
                    node[index] = {}  # a table left to its defaults in the file
                node = node[index]
    shown = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
    source = f"{scenario.source} [{shown}]"
    text = _to_toml(_drop_none(data), f"{scenario.source} with {shown} (firesale sweep point)")
    try:
        return parse_scenario(text, source=source, base_dir=scenario.base_dir)
    except ScenarioError as exc:
        raise ScenarioError(exc.problems) from exc


def _drop_none(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _drop_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list | tuple):
        return [_drop_none(x) for x in v]
    return v


# --- sweeps ----------------------------------------------------------------------------------------------------


def _metric_estimate(metrics: pd.DataFrame, metric: str, level: float) -> tuple[float, float, float]:
    n = len(metrics)
    if metric in ("p_bad_debt", "p_insolvency"):
        event = (
            metrics["bad_debt_usd"] > 1e-6 if metric == "p_bad_debt" else metrics["insolvent"].astype(bool)
        )
        k = int(event.sum())
        lo, hi = wilson_interval(k, n, level)
        return k / n, float(lo), float(hi)
    if metric not in metrics.columns:
        raise ParameterError(
            f"The 'metric' parameter must be 'p_bad_debt', 'p_insolvency' or a per-path metric "
            f"{sorted(metrics.columns)}. Got {metric!r} instead."
        )
    x = metrics[metric].to_numpy(dtype=float)
    mean = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    return mean, mean - z * se, mean + z * se


class SweepResult:
    """The points of a finished sweep, their runs and their per-path metrics.

    Attributes
    ----------
    points : list of dict
        Overrides of each point.
    summaries : list of dict
        :meth:`SimulationResult.summary` of each point.
    run_ids : list of str or None
        Each point's run in the store (None without a store).
    sweep_id : str or None
    """

    def __init__(
        self,
        points: list[dict[str, Any]],
        metrics: list[pd.DataFrame],
        summaries: list[dict[str, float]],
        run_ids: list[str | None],
        sweep_id: str | None,
    ) -> None:
        self.points = points
        self.metrics = metrics
        self.summaries = summaries
        self.run_ids = run_ids
        self.sweep_id = sweep_id

    @property
    def keys(self) -> list[str]:
        """The swept key paths."""
        return list(dict.fromkeys(k for p in self.points for k in p))

    def frame(self) -> pd.DataFrame:
        """One row per point: the swept values, the run id and the summary statistics."""
        rows = [
            {**p, "run_id": r, **s} for p, r, s in zip(self.points, self.run_ids, self.summaries, strict=True)
        ]
        return pd.DataFrame(rows)

    def estimate(self, metric: str = "p_bad_debt", level: float = 0.95) -> pd.DataFrame:
        """A metric at every point with its Monte Carlo confidence interval (columns ``estimate, low, high``).

        ``metric`` is ``"p_bad_debt"`` or ``"p_insolvency"`` (probabilities, Wilson intervals) or any per-path
        metric column such as ``bad_debt_usd`` (mean, normal interval from the standard error).
        """
        if not 0 < level < 1:
            raise ParameterError(
                f"The 'level' parameter of estimate must be in (0, 1). Got {level!r} instead."
            )
        rows = []
        for p, m in zip(self.points, self.metrics, strict=True):
            est, lo, hi = _metric_estimate(m, metric, level)
            rows.append({**p, "estimate": est, "low": lo, "high": hi})
        return pd.DataFrame(rows)

    def plot(self, metric: str = "p_bad_debt", x: str | None = None, level: float = 0.95) -> Any:
        """A plotly figure of ``metric`` against swept key ``x`` (default the first) with confidence bands; one
        line per combination of the other swept keys."""
        import plotly.graph_objects as go

        keys = self.keys
        x = keys[0] if x is None else x
        if x not in keys:
            raise ParameterError(f"The 'x' parameter of plot must be a swept key {keys}. Got {x!r} instead.")
        est = self.estimate(metric, level)
        others = [k for k in keys if k != x]
        fig = go.Figure()
        groups = est.groupby(others, sort=False) if others else [((), est)]
        for name, g in groups:
            g = g.sort_values(x)
            label = ", ".join(f"{k}={v}" for k, v in zip(others, np.atleast_1d(name), strict=False)) or metric
            xs = g[x].tolist()
            fig.add_trace(
                go.Scatter(
                    x=xs + xs[::-1],
                    y=g["high"].tolist() + g["low"].tolist()[::-1],
                    fill="toself",
                    opacity=0.2,
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
            fig.add_trace(go.Scatter(x=xs, y=g["estimate"], mode="lines+markers", name=label))
        fig.update_layout(
            xaxis_title=x, yaxis_title=f"{metric} ({level:.0%} band)", template="plotly_white", height=420
        )
        return fig

    def write_html(self, path: str | Path, metrics: Sequence[str] = ("p_bad_debt", "bad_debt_usd")) -> Path:
        """Write a self-contained HTML page (plotly.js inlined) plotting each metric against the swept keys."""
        path = Path(path)
        parts = []
        for k, metric in enumerate(metrics):
            fig = self.plot(metric)
            parts.append(fig.to_html(full_html=False, include_plotlyjs="inline" if k == 0 else False))
        title = f"firesale sweep {self.sweep_id or ''}".strip()
        table = self.frame().to_html(index=False, float_format=lambda v: f"{v:.6g}")
        html = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1>{''.join(parts)}<h2>Points</h2>{table}</body></html>"
        )
        path.write_text(html, encoding="utf-8")
        return path


class Sweep:
    """A scenario evaluated at many parameter values on the same seeds.

    Parameters
    ----------
    scenario : Scenario or str
        The base scenario (a file or built-in name is loaded).
    grid : mapping of str to sequence, optional
        Key path to the values it takes; the points are the Cartesian product, first key slowest.
    points : sequence of mapping, optional
        An explicit list of overrides (one mapping per point) instead of a grid.

    Raises
    ------
    ParameterError
        If neither or both of ``grid`` and ``points`` are given, a value list is empty, or a key does not exist.
    ScenarioError
        If any point's scenario is invalid (every problem of every point, each naming its key); nothing runs.

    Examples
    --------
    >>> sweep = Sweep("toy-spiral", grid={"protocols.lender.reserves.WETH.liquidation_bonus": [0.04, 0.06]})
    >>> len(sweep)
    2
    >>> result = sweep.run(n_paths=4, seed=0)  # doctest: +SKIP
    """

    def __init__(
        self,
        scenario: Scenario | str,
        grid: Mapping[str, Sequence[Any]] | None = None,
        points: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if (grid is None) == (points is None):
            raise ParameterError(
                "The 'grid' and 'points' parameters of Sweep are alternatives: give exactly one. Got "
                f"{'both' if grid is not None else 'neither'}."
            )
        if grid is not None:
            for k, vs in grid.items():
                if isinstance(vs, str) or not isinstance(vs, Sequence) or len(vs) == 0:
                    raise ParameterError(
                        f"The 'grid' parameter of Sweep must map each key to a non-empty list of values. Got "
                        f"{vs!r} for {k!r} instead."
                    )
            keys = list(grid)
            self.axes = {k: list(grid[k]) for k in keys}
            self.points = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]
        else:
            assert points is not None
            if len(points) == 0:
                raise ParameterError("The 'points' parameter of Sweep must hold at least one point. Got [].")
            self.points = [dict(p) for p in points]
            keys = list(dict.fromkeys(k for p in self.points for k in p))
            self.axes = {k: [p.get(k) for p in self.points] for k in keys}
        problems: list[str] = []
        self.scenarios: list[Scenario] = []
        for p in self.points:
            try:
                self.scenarios.append(with_overrides(self.scenario, p))
            except ScenarioError as exc:
                problems += exc.problems
        if problems:
            raise ScenarioError(list(dict.fromkeys(problems)))

    def __len__(self) -> int:
        return len(self.points)

    def run(
        self,
        *,
        n_paths: int | None = None,
        seed: int | None = None,
        client: Any = None,
        store: Any = None,
        resume: str | None = None,
        chunk_blocks: int | None = None,
        kernel: str = "numba",
        progress: Progress | None = None,
        on_chunk: Callable[[int, range], None] | None = None,
    ) -> SweepResult:
        """Run every point on the same seed (common random numbers), here or on a Dask ``client``.

        With a ``store`` (:class:`firesale.store.RunStore`) the sweep and each point's run are recorded, each
        finished chunk of path blocks as it arrives; ``resume`` (a sweep id) reuses complete points and the
        completed blocks of the others. Results are bit-identical to running :func:`firesale.simulate` on each
        point, whatever the worker count.
        """
        from firesale._version import __version__
        from firesale.dist._runner import PointRun, run_points
        from firesale.store._blocks import BlockLog, reopen_run
        from firesale.store._sweeps import SweepLog

        sim = self.scenario.spec.simulation
        n_paths = sim.n_paths if n_paths is None else n_paths
        seed = sim.seed if seed is None else seed
        for name, v, lo in (("n_paths", n_paths, 1), ("seed", seed, 0)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
                raise ParameterError(
                    f"The {name!r} parameter of Sweep.run must be an int in the range [{lo}, inf). Got {v!r} instead."
                )
        runs: list[PointRun] = [PointRun(sc, int(seed), int(n_paths)) for sc in self.scenarios]
        sweep_id = None
        loaded: dict[int, tuple[pd.DataFrame, dict[str, float]]] = {}
        if store is not None:
            log = SweepLog(store.root)
            if resume is not None:
                meta, table = log.get(resume)
                if [dict(o) for o in table["overrides"]] != json.loads(json.dumps(self.points, default=str)):
                    raise ParameterError(
                        f"The 'resume' parameter of Sweep.run must be a sweep of the same points. Sweep {resume} "
                        "has other points."
                    )
                n_paths, seed = int(meta["n_paths"]), int(meta["seed"])
                runs = [PointRun(sc, seed, n_paths) for sc in self.scenarios]
                sweep_id = resume
                for row in table.itertuples():
                    pr = runs[row.point]
                    if row.run_id is None:
                        continue
                    if row.status == "complete":
                        stored = store.get(row.run_id)
                        loaded[row.point] = (stored.metrics(), stored.summary)
                        pr.run_id = row.run_id
                        continue
                    reopen_run(store.root, row.run_id)
                    pr.run_id, pr.log = row.run_id, BlockLog(store.root, row.run_id)
            else:
                sweep_id = log.create(
                    scenario_name=self.scenario.name,
                    scenario_hash=self.scenario.content_hash,
                    seed=int(seed),
                    n_paths=int(n_paths),
                    axes=json.loads(json.dumps(self.axes, default=str)),
                    points=json.loads(json.dumps(self.points, default=str)),
                )
            for i, pr in enumerate(runs):
                if pr.run_id is not None:
                    continue
                pr.run_id = store.start(
                    scenario_name=pr.scenario.name,
                    scenario_hash=pr.scenario.content_hash,
                    scenario_text=pr.scenario.text,
                    seed=int(seed),
                    version=__version__,
                    n_paths=int(n_paths),
                    n_steps=pr.scenario.spec.simulation.n_steps,
                    parameters={
                        "sweep_id": sweep_id,
                        "point": i,
                        "overrides": self.points[i],
                        "resumable": True,
                    },
                )
                pr.log = BlockLog(store.root, pr.run_id)
                log.attach(sweep_id, i, pr.run_id)
        todo = [i for i in range(len(runs)) if i not in loaded]
        metrics: dict[int, pd.DataFrame] = {i: m for i, (m, _) in loaded.items()}
        summaries: dict[int, dict[str, float]] = {i: s for i, (_, s) in loaded.items()}

        def keep(j: int, result: SimulationResult) -> None:
            i = todo[j]
            metrics[i] = result.metrics
            summaries[i] = result.summary()
            result.paths.clear()  # stored already; a sweep keeps only per-path metrics in memory

        hook = None if on_chunk is None else (lambda j, blocks: on_chunk(todo[j], blocks))
        run_points(
            [runs[i] for i in todo],
            client=client,
            store=store,
            chunk_blocks=chunk_blocks,
            kernel=kernel,
            progress=progress,
            on_chunk=hook,
            on_point=keep,
        )
        if store is not None and sweep_id is not None:
            SweepLog(store.root).complete(sweep_id)
        order = range(len(runs))
        return SweepResult(
            self.points,
            [metrics[i] for i in order],
            [summaries[i] for i in order],
            [r.run_id for r in runs],
            sweep_id,
        )
