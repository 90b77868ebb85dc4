"""CLI commands ``sweep``, ``breakpoint``, ``recommend`` and ``sensitivities``, and the ``--workers/--scheduler`` options of ``run``.

Registered on the ``firesale`` group by :mod:`firesale.cli`. Every argument is checked, every sweep point and
search range validated, and a ``--scheduler`` reached, before any path runs; bad input exits with status 2.
Exit codes as the rest of the CLI: 0 success, 1 failure during a run, 2 invalid input, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from firesale._console import err, fail, guard, out
from firesale.exceptions import ParameterError

__all__ = [
    "breakpoint_command",
    "dist_options",
    "distributed_run",
    "recommend_command",
    "sensitivities_command",
    "sweep_command",
]

_out, _err = out, err


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    return functools.wraps(fn)(
        guard(fn, interrupted="interrupted; completed blocks are kept in the run store")
    )


_exit = fail


class _Bar:
    """A rich progress bar with ETA on stderr, fed fractions in [0, 1]."""

    def __init__(self, label: str) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=_err,
            transient=False,
        )
        self.label = label
        self.task: Any = None

    def __enter__(self) -> _Bar:
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=1.0)
        return self

    def __call__(self, fraction: float) -> None:
        self.progress.update(self.task, completed=min(1.0, max(0.0, fraction)))

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def dist_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--workers N`` and ``--scheduler ADDRESS`` to a command (passed as ``workers``, ``scheduler``)."""
    fn = click.option(
        "--scheduler",
        help="Address of a running Dask scheduler (tcp://host:8786) to run the path blocks on.",
    )(fn)
    fn = click.option(
        "--workers",
        type=click.IntRange(min=1),
        help="Run the path blocks on a local Dask cluster of N worker processes, one thread each.",
    )(fn)
    return fn


@contextlib.contextmanager
def _client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    from firesale.dist import dask_client

    if workers is not None and scheduler is not None:
        raise ParameterError("--workers and --scheduler are alternatives: give one. Got both.")
    with dask_client(workers=workers, scheduler=scheduler) as client:
        yield client


def _store(store_dir: str | None) -> Any:
    from firesale.store import RunStore, default_store_root

    return RunStore(Path(store_dir) if store_dir else default_store_root())


def distributed_run(
    scenario: Any,
    *,
    n_paths: int,
    seed: int,
    store: Any,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: str | None = None,
    n_steps: int | None = None,
) -> tuple[Any, str | None]:
    """What ``firesale run --workers/--scheduler/--resume`` does: run in chunks, store each, with a progress bar.

    Returns (SimulationResult, run id). Ctrl-C marks the run interrupted and keeps its completed blocks; the
    ``KeyboardInterrupt`` propagates for the caller to exit 130.
    """
    from firesale.analysis.sweep import with_overrides
    from firesale.dist import run_simulation

    if n_steps is not None and n_steps != scenario.spec.simulation.n_steps:
        scenario = with_overrides(scenario, {"simulation.n_steps": int(n_steps)})
    with _client(workers, scheduler) as client, _Bar(f"{scenario.name} · {n_paths:,} paths") as bar:
        return run_simulation(
            scenario,
            n_paths=n_paths,
            seed=seed,
            client=client,
            store=store,
            resume=resume,
            progress=bar,
            parameters={"workers": workers, "scheduler": scheduler},
        )


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:,.6g}"
    return str(v)


def _range_arg(text: str, option: str) -> tuple[float, float]:
    parts = text.split(":")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise ParameterError(
            f"The '{option}' option must be LO:HI (two numbers). Got {text!r} instead."
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ParameterError(
            f"The '{option}' option must be LO:HI with finite LO < HI. Got {text!r} instead."
        )
    return lo, hi


_common = [
    click.option("--paths", "n_paths", type=click.IntRange(min=1), help="Monte Carlo paths per evaluation."),
    click.option(
        "--seed", type=click.IntRange(min=0), help="Seed, the same at every point (default: scenario's)."
    ),
]


def _with_common(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(_common):
        fn = opt(fn)
    return fn


@click.command("sweep")
@click.argument("scenario")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    required=True,
    help="KEY=VALUE, KEY=V1,V2 or KEY=LO:HI:STEP (inclusive); several --set make a grid.",
)
@_with_common
@dist_options
@click.option(
    "--store", "store_dir", type=click.Path(file_okay=False), help="Run store [env FIRESALE_STORE]."
)
@click.option("--resume", "resume", help="Id of an interrupted sweep to finish (same SCENARIO and --set).")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="Metric of the report: p_bad_debt, p_insolvency or a per-path column (default p_bad_debt, bad_debt_usd).",
)
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the HTML report here.")
@click.option("--json", "as_json", is_flag=True, help="Print the points as JSON on stdout.")
@_guard
def sweep_command(
    scenario: str,
    assignments: tuple[str, ...],
    n_paths: int | None,
    seed: int | None,
    workers: int | None,
    scheduler: str | None,
    store_dir: str | None,
    resume: str | None,
    metrics: tuple[str, ...],
    report_path: str | None,
    as_json: bool,
) -> None:
    """Run SCENARIO over a grid of parameter values (--set), every point on the same seeds."""
    from firesale.analysis.sweep import Sweep, parse_assignment
    from firesale.scenario import load_scenario

    grid: dict[str, list[Any]] = {}
    for text in assignments:
        key, values = parse_assignment(text)
        if key in grid:
            raise ParameterError(f"The '--set' option must give each key once. Got {key!r} twice.")
        grid[key] = values
    sc = load_scenario(scenario)
    sweep = Sweep(sc, grid=grid)  # every point validated here
    paths = n_paths or sc.spec.simulation.n_paths
    store = _store(store_dir)
    with _client(workers, scheduler) as client, _Bar(f"sweep {sc.name} · {len(sweep)} points") as bar:
        result = sweep.run(n_paths=paths, seed=seed, client=client, store=store, resume=resume, progress=bar)
    frame = result.frame()
    if report_path:
        written = result.write_html(report_path, metrics or ("p_bad_debt", "bad_debt_usd"))
        _err.print(f"report: {written}", highlight=False)
    if as_json:
        click.echo(json.dumps({"sweep_id": result.sweep_id, "points": frame.to_dict("records")}, default=str))
        return
    cols = [*grid, "p_bad_debt", "bad_debt_mean_usd", "bad_debt_var99_usd", "p_insolvency", "run_id"]
    table = Table(title=f"sweep {result.sweep_id} · {sc.name} · {paths:,} paths per point")
    for c in cols:
        table.add_column(c.rsplit(".", 1)[-1] if c in grid else c, justify="right")
    for row in frame[cols].itertuples(index=False):
        table.add_row(*(_fmt(v) for v in row))
    _out.print(table)


@click.command("breakpoint")
@click.argument("scenario")
@click.option(
    "--axis",
    default="magnitude",
    show_default=True,
    help="magnitude, speed, liquidity, or a dotted scenario key (with --range and --worse).",
)
@click.option("--asset", help="Reference asset of a multi-asset magnitude search.")
@click.option(
    "--budget",
    type=float,
    default=0.0,
    show_default=True,
    help="Bad-debt budget as a fraction of starting debt, in [0, 1] (0: any bad debt).",
)
@click.option("--insolvency", is_flag=True, help="Break on insolvency (bad debt above reserves) instead.")
@click.option(
    "--probability",
    type=float,
    default=0.5,
    show_default=True,
    help="Breaks when at least this share of paths fail, in (0, 1].",
)
@click.option("--range", "range_", help="LO:HI searched (default: the axis's full range).")
@click.option("--worse", type=click.Choice(["higher", "lower"]), help="Direction of a scenario-key axis.")
@click.option("--tol", type=click.FloatRange(min=0, min_open=True), help="Final bracket width.")
@_with_common
@dist_options
@click.option("--json", "as_json", is_flag=True, help="Print the boundaries as JSON on stdout.")
@_guard
def breakpoint_command(
    scenario: str,
    axis: str,
    asset: str | None,
    budget: float,
    insolvency: bool,
    probability: float,
    range_: str | None,
    worse: str | None,
    tol: float | None,
    n_paths: int | None,
    seed: int | None,
    workers: int | None,
    scheduler: str | None,
    as_json: bool,
) -> None:
    """Find the mildest shock at which SCENARIO breaks, per protocol and system-wide, with its uncertainty."""
    from firesale.analysis.breakpoint import _check_unit, breaking_point, prepare_search
    from firesale.scenario import load_scenario

    _check_unit("budget", budget, "firesale breakpoint (--budget)")
    _check_unit("probability", probability, "firesale breakpoint (--probability)", open_low=True)
    lo, hi = _range_arg(range_, "--range") if range_ else (None, None)
    sc = load_scenario(scenario)
    kwargs: dict[str, Any] = dict(
        asset=asset,
        criterion="insolvency" if insolvency else "bad_debt",
        budget=budget,
        probability=probability,
        lo=lo,
        hi=hi,
        worse=worse,
        tol=tol,
        n_paths=n_paths,
        seed=seed,
    )
    # Every argument and both ends of the range checked before a cluster starts or a path runs.
    prepare_search(sc, axis, **kwargs)
    with _client(workers, scheduler) as client, _Bar(f"breakpoint {sc.name} · {axis}") as bar:
        res = breaking_point(sc, axis, client=client, progress=bar, **kwargs)
    frame = res.frame()
    if as_json:
        click.echo(json.dumps({"axis": axis, "boundaries": frame.to_dict("records")}, default=str))
        return
    what = "insolvency" if insolvency else f"bad debt > {budget:.2%} of debt"
    table = Table(
        title=f"{sc.name} · {axis} · breaks at P({what}) >= {probability:g} · {res.n_paths:,} paths"
    )
    for c in frame.columns:
        table.add_column(c, justify="right")
    for row in frame.itertuples(index=False):
        table.add_row(*(_fmt(v) for v in row))
    _out.print(table)


def _effect_text(value: float, low: float, high: float, unit: str) -> str:
    if not math.isfinite(value):
        return "-"
    if unit == "pct":
        return f"{100 * value:+.2f} pp [{100 * low:+.2f}, {100 * high:+.2f}]"
    return f"{value:+,.0f} [{low:+,.0f}, {high:+,.0f}]"


@click.command("sensitivities")
@click.argument("scenario")
@click.option(
    "--paths", "n_paths", type=click.IntRange(min=2), help="Paths of every run (default: the scenario's)."
)
@click.option(
    "--seed", type=click.IntRange(min=0), help="The common seed of every run (default: the scenario's)."
)
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False), help="Write the base run's report, with them."
)
@click.option("--json", "as_json", is_flag=True, help="Print the sensitivities as JSON on stdout.")
@_guard
def sensitivities_command(
    scenario: str, n_paths: int | None, seed: int | None, report_path: str | None, as_json: bool
) -> None:
    """Rank what to change: the effect of each threshold, bonus and venue depth on bad debt, with paired CIs.

    Each parameter is moved down and up one step (thresholds and bonuses by 0.01, venue depth by x0.8 and x1.25)
    and SCENARIO is run at both values on the seed and paths of the base run (common random numbers), so each
    effect's 95% interval comes from per-path differences. The runs are not stored.
    """
    from firesale.analysis.sensitivity import parameter_bumps, sensitivities
    from firesale.cli import _check_output
    from firesale.scenario import load_scenario

    _check_output(report_path, "--report")
    sc = load_scenario(scenario)
    bumps, skipped = parameter_bumps(sc)
    paths = n_paths or sc.spec.simulation.n_paths
    with _Bar(f"sensitivities {sc.name} · {1 + 2 * len(bumps)} runs of {paths:,} paths") as bar:
        res = sensitivities(sc, n_paths=paths, seed=seed, bumps=bumps, progress=bar)
    res.skipped[:0] = skipped
    if report_path:
        from firesale.report import write_report

        _err.print(
            f"report: {write_report(res.base_result, report_path, sensitivities=res)}", highlight=False
        )
    frame = res.frame()
    if as_json:
        payload = {
            "scenario": res.scenario_name, "seed": res.seed, "n_paths": res.n_paths, "base": res.base,
            "sensitivities": res.rows.to_dict("records"),
            "skipped": [{"key": k, "reason": r} for k, r in res.skipped],
            "costs": [] if res.costs is None else res.costs.to_dict("records"),
        }  # fmt: skip
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    table = Table(
        title=f"{res.scenario_name} · effect of one step up · {res.n_paths:,} paths · seed {res.seed} · "
        "paired 95% CI"
    )
    for col in ("parameter", "value", "step", "expected bad debt", "P(bad debt)", "debt liquidated"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for r in frame.itertuples(index=False):
        table.add_row(
            r.label, f"${r.base_value:,.0f}" if r.key.endswith(".depth_usd") else f"{r.base_value:,.6g}", r.step,
            _effect_text(r.bad_debt_mean_usd_effect, r.bad_debt_mean_usd_ci_low, r.bad_debt_mean_usd_ci_high, "usd"),
            _effect_text(r.p_bad_debt_effect, r.p_bad_debt_ci_low, r.p_bad_debt_ci_high, "pct"),
            _effect_text(r.liquidated_mean_usd_effect, r.liquidated_mean_usd_ci_low, r.liquidated_mean_usd_ci_high,
                         "usd"),
        )  # fmt: skip
    _out.print(table)
    click.echo(
        f"Base run: expected bad debt ${res.base['bad_debt_mean_usd']:,.0f}, P(bad debt) "
        f"{100 * res.base['p_bad_debt']:.2f}%, debt liquidated ${res.base['liquidated_mean_usd']:,.0f} per path."
    )
    from firesale.analysis.borrowing_power import sensitivity_sentences

    for _, sentence in sensitivity_sentences(res):  # what each change saves the protocol and costs the users
        click.echo(sentence)
    for key, reason in res.skipped:
        click.echo(f"not bumped: {key}: {reason}")


_REC_COLUMNS = ("key", "status", "value", "ci_low", "ci_high", "p_breach", "p_low", "p_high")


@click.command("recommend")
@click.argument("scenario")
@click.option(
    "--param",
    "params",
    multiple=True,
    required=True,
    help="KEY=LO:HI, e.g. protocols.lender.reserves.WETH.liquidation_threshold=0.6:0.9 (repeat for each asset).",
)
@click.option(
    "--prefer",
    type=click.Choice(["high", "low"]),
    default="high",
    show_default=True,
    help="Cheaper end: high (thresholds, caps) or low (reserves, bonuses).",
)
@click.option(
    "--bad-debt",
    type=float,
    default=0.01,
    show_default=True,
    help="A path breaches above this fraction of starting debt, in [0, 1].",
)
@click.option(
    "--budget",
    type=float,
    default=0.01,
    show_default=True,
    help="Highest acceptable breach probability, in (0, 1].",
)
@click.option("--target", default="system", show_default=True, help="system or a protocol name.")
@click.option("--insolvency", is_flag=True, help="Breach on insolvency instead of the bad-debt line.")
@click.option("--tol", type=click.FloatRange(min=0, min_open=True), help="Final bracket width.")
@_with_common
@dist_options
@click.option("--json", "as_json", is_flag=True, help="Print the recommendations as JSON on stdout.")
@_guard
def recommend_command(
    scenario: str,
    params: tuple[str, ...],
    prefer: str,
    bad_debt: float,
    budget: float,
    target: str,
    insolvency: bool,
    tol: float | None,
    n_paths: int | None,
    seed: int | None,
    workers: int | None,
    scheduler: str | None,
    as_json: bool,
) -> None:
    """Recommend the cheapest value of each --param that keeps P(bad debt above the line) below the budget."""
    from firesale.analysis.breakpoint import _check_unit
    from firesale.analysis.recommend import recommend
    from firesale.analysis.sweep import with_overrides
    from firesale.scenario import load_scenario

    _check_unit("budget", budget, "firesale recommend (--budget)", open_low=True)
    _check_unit("bad_debt", bad_debt, "firesale recommend (--bad-debt)")
    ranges: dict[str, tuple[float, float]] = {}
    for text in params:
        key, _, spec = text.partition("=")
        if not key or not spec:
            raise ParameterError(f"The '--param' option must be KEY=LO:HI. Got {text!r} instead.")
        ranges[key.strip()] = _range_arg(spec, f"--param {key.strip()}")
    sc = load_scenario(scenario)
    targets = ["system", *(p.name for p in sc.spec.protocols)]
    if target not in targets:
        raise ParameterError(f"The '--target' option must be one of {targets}. Got {target!r} instead.")
    for key, (lo, hi) in ranges.items():
        with_overrides(sc, {key: lo})
        with_overrides(sc, {key: hi})
    rows = []
    with _client(workers, scheduler) as client:
        for key, (lo, hi) in ranges.items():
            with _Bar(f"recommend {key}") as bar:
                r = recommend(
                    sc, key, lo, hi, prefer=prefer, bad_debt=bad_debt, budget=budget, target=target,
                    criterion="insolvency" if insolvency else "bad_debt", tol=tol, n_paths=n_paths, seed=seed,
                    client=client, progress=bar,
                )  # fmt: skip
            rows.append({k: getattr(r, k) for k in _REC_COLUMNS})
    if as_json:
        click.echo(json.dumps({"recommendations": rows}, default=str))
        return
    line = "insolvency" if insolvency else f"bad debt > {bad_debt:.2%} of debt"
    table = Table(title=f"{sc.name} · P({line}) < {budget:g} · prefer {prefer}")
    for c in rows[0]:
        table.add_column(c, justify="right")
    for row in rows:
        table.add_row(*(_fmt(v) for v in row.values()))
    _out.print(table)
