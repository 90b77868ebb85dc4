"""The ``firesale`` command line. Exit codes: 0 success, 1 failure during a run, 2 invalid input, 130 interrupted.

Output paths (``--report``, ``-o``, ``--png-dir``) are checked before anything runs, so a path under a file or a
folder given for a file fails at once with exit 2, not after the simulation.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
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
from firesale._version import __version__
from firesale.analysis._commands import dist_options, distributed_run
from firesale.exceptions import FiresaleError, ParameterError, ScenarioError

__all__ = ["main"]


_out = out
_err = err


def _checkpoint(stage: str) -> None:
    """A seam for tests: a no-op here, replaced by tests that must interrupt a command at a known ``stage``.

    Stages: ``"load"`` (reading scenarios, before anything is stored) and ``"simulate"`` (each progress update).
    """


_HEADLINE = [
    ("bad_debt_mean_usd", "Expected bad debt", "usd"),
    ("bad_debt_var95_usd", "Bad debt VaR 95%", "usd"),
    ("bad_debt_var99_usd", "Bad debt VaR 99%", "usd"),
    ("bad_debt_es99_usd", "Bad debt ES 99%", "usd"),
    ("p_bad_debt", "P(any bad debt)", "pct"),
    ("p_insolvency", "P(insolvency)", "pct"),
    ("liquidated_mean_usd", "Liquidated (mean)", "usd"),
    ("n_liquidations_mean", "Liquidations (mean)", "num"),
    ("slippage_mean_usd", "Slippage paid (mean)", "usd"),
    ("max_cascade_rounds", "Max cascade rounds", "num"),
    ("p_failure_state", "P(systemic failure state)", "pct"),
    ("steps_in_failure_state_mean", "Steps in failure state (mean)", "num"),
]


def _fmt(value: float, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kind == "usd":
        return f"${value:,.0f}"
    if kind == "pct":
        return f"{100 * value:.2f}%"
    return f"{value:,.4g}"


def _summary_table(title: str, summary: dict[str, float]) -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    table.add_column("± s.e.", justify="right")
    for key, label, kind in _HEADLINE:
        if key in summary:
            se = summary.get(f"{key}_se")
            table.add_row(label, _fmt(summary[key], kind), _fmt(se, kind) if se is not None else "")
    for key, value in summary.items():
        if key.startswith("amplification_"):
            table.add_row(f"Amplification {key.removeprefix('amplification_')}", f"{value:.3f}x", "")
    return table


_fail, _guard = fail, guard


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="firesale")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def main(debug: bool) -> None:
    """Stress-test interconnected DeFi protocols for systemic failure."""


class _LazyProgress:
    """A progress bar with ETA on stderr that appears only once a run has taken more than a second."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.perf_counter()
        self.progress: Progress | None = None
        self.task: Any = None

    def __call__(self, fraction: float) -> None:
        _checkpoint("simulate")
        if self.progress is None:
            if time.perf_counter() - self.started < 1.0:
                return
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(), console=_err, transient=True,
            )  # fmt: skip
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=1.0)
        self.progress.update(self.task, completed=fraction)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _check_output(value: str | None, option: str, *, folder: bool = False) -> None:
    """Refuse an output path that cannot be written, before anything runs.

    A file path must not be an existing folder; a folder path must not be an existing file; and the nearest
    existing ancestor must be a folder we may write into (a path "under a file" fails here, not after the run).
    """
    if value is None:
        return
    path = Path(value)
    kind = "a folder" if folder else "a file"
    if folder and path.exists() and not path.is_dir():
        raise ParameterError(f"{option}: must be a folder, but it is an existing file, got {value!r}")
    if not folder and path.is_dir():
        raise ParameterError(f"{option}: must be a file, but it is an existing folder, got {value!r}")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ParameterError(
                    f"{option}: must be {kind} under folders, but {str(parent)!r} is a file, got {value!r}"
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ParameterError(
                    f"{option}: must be {kind} in a folder you can write to, but {str(parent)!r} is not "
                    f"writable, got {value!r}"
                )
            return


def _store_of(store_dir: str | None) -> Any:
    from firesale.store import RunStore, default_store_root

    return RunStore(Path(store_dir) if store_dir else default_store_root())


def _find_run(store: Any, run_id: str) -> Any:
    """The stored run whose id starts with ``run_id``; exit 2 when none or several match."""
    ids = [str(i) for i in store.runs()["id"] if str(i).startswith(run_id)]
    if not ids:
        _fail(
            f"RUN_ID: no run matching {run_id!r} in the run store {store.root}; `firesale runs` lists them", 2
        )
    if len(ids) > 1:
        shown = ", ".join(sorted(ids)[:5]) + (", ..." if len(ids) > 5 else "")
        _fail(f"RUN_ID: {run_id!r} matches {len(ids)} runs ({shown}); give more characters of the id", 2)
    return store.get(ids[0])


def _check_memory(sc: Any, n_paths: int, batch_size: int | None) -> None:
    """Refuse a run too big for memory before a row is stored (simulate checks again, with the same rule)."""
    from firesale.engine import estimate_memory
    from firesale.engine.simulate import _available_memory

    # The same estimate and rule as simulate: a run above KEEP_PATHS_BYTES of series streams, and is sized so.
    need = estimate_memory(sc, n_paths, batch_size)
    have = _available_memory()
    if need > 0.8 * have:
        raise ScenarioError(
            f"{sc.source}: simulation.n_paths: too many paths for memory: about {need / 2**30:.1f} GiB needed, "
            f"{have / 2**30:.1f} GiB available; lower --paths or the recorded series, got {n_paths}"
        )


def _simulate_stored(
    sc: Any, store: Any, *, n_paths: int, seed: int, n_steps: int | None, batch_size: int | None,
    attribute: bool = False,
) -> tuple[str, Any]:  # fmt: skip
    """Run ``sc``, record it in ``store`` (complete, failed or interrupted) and return (run id, result).

    With ``attribute`` the run's losses are also split by contagion channel (counterfactual runs on the same seeds)
    and stored with it, before it is marked complete."""
    from firesale.engine import simulate

    steps = n_steps or sc.spec.simulation.n_steps
    protocols = [str(getattr(p, "name", "")) for p in getattr(sc.spec, "protocols", [])]
    run_id = store.start(
        scenario_name=sc.name, scenario_hash=sc.content_hash, scenario_text=sc.text, seed=seed,
        version=__version__, n_paths=n_paths, n_steps=steps,
        parameters={"source": sc.source, "batch_size": batch_size, "n_steps": steps, "protocols": protocols},
    )  # fmt: skip
    bar = _LazyProgress(f"{sc.name} · {n_paths:,} paths")
    try:
        result = simulate(
            sc, n_paths=n_paths, seed=seed, batch_size=batch_size, n_steps=n_steps, progress=bar
        )
        if attribute:
            from firesale.contagion.attribution import attribute as split

            bar.close()
            bar = _LazyProgress(f"{sc.name} · contagion by channel")
            result.attribution = split(
                sc, n_paths=n_paths, seed=seed, n_steps=n_steps, full=result.metrics, progress=bar
            ).table
    except KeyboardInterrupt:
        bar.close()
        store.mark(run_id, "interrupted", "stopped by the user (Ctrl-C)")
        _err.print(f"interrupted; run {run_id} marked interrupted", highlight=False)
        sys.exit(130)
    except FiresaleError as exc:
        bar.close()
        store.mark(run_id, "failed", str(exc))
        raise
    except Exception as exc:  # an unexpected bug: recorded, then shown with its traceback
        bar.close()
        store.mark(run_id, "failed", f"unexpected error: {type(exc).__name__}: {exc}")
        raise
    bar.close()
    series = {"series": result.series}
    if result.attribution is not None:
        series["attribution"] = result.attribution
    if result.accounts is not None:  # per-account losses, for the report's top accounts
        series["accounts"] = result.accounts
    from firesale.monitor._run_states import states_series

    states = states_series(result)  # None unless a graded series was recorded (simulation.record)
    if states is not None:
        series["states"] = states
    store.finish(
        run_id,
        metrics=result.metrics,
        summary=result.summary(),
        series=series,
        wall_seconds=result.wall_seconds,
    )
    return run_id, result


class _Count(click.ParamType):
    """A count of at least 1, written as an integer or in e-notation (``1e5``); other floats are refused."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip().replace("_", "")
            try:
                number = int(text)
            except ValueError:
                try:
                    as_float = float(text)
                except ValueError:
                    as_float = math.nan
                if not (math.isfinite(as_float) and as_float.is_integer()):
                    self.fail(f"must be a whole number such as 10000 or 1e4, got {value!r}", param, ctx)
                number = int(as_float)
        if number < 1:
            self.fail(f"must be at least 1, got {value!r}", param, ctx)
        return number


_STORE_OPTION = click.option(
    "--store", "store_dir", type=click.Path(file_okay=False), help="Run store directory [env FIRESALE_STORE]."
)


@main.command()
@click.argument("scenario")
@click.option("--paths", "n_paths", type=_Count(), help="Monte Carlo paths.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed (default: the scenario's).")
@click.option(
    "--steps", "n_steps", type=click.IntRange(min=1), help="Number of steps (overrides the horizon)."
)
@click.option(
    "--horizon", type=click.FloatRange(min=0, min_open=True), help="Horizon in seconds (sets --steps)."
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Paths in memory at once (results do not depend on it)."
)
@_STORE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the HTML report here.")
@dist_options
@click.option("--resume", help="Id of an interrupted run to finish (only its missing blocks run).")
@click.option(
    "--policy", "policies", multiple=True,
    help="Add a policy: a built-in name (firesale scenarios --policies) or a file of [[policies]]; repeatable.",
)  # fmt: skip
@click.option(
    "--attribute", is_flag=True,
    help="Also split each protocol's losses by contagion channel (as firesale contagion) and store and report it.",
)  # fmt: skip
@_guard
def run(
    scenario: str, n_paths: int | None, seed: int | None, n_steps: int | None, horizon: float | None,
    batch_size: int | None, store_dir: str | None, as_json: bool,
    report_path: str | None, workers: int | None, scheduler: str | None, resume: str | None,
    policies: tuple[str, ...], attribute: bool,
) -> None:  # fmt: skip
    """Run SCENARIO (a file or a built-in name), store it, and print its summary."""
    from firesale.scenario import load_scenario, with_policies

    _check_output(report_path, "--report")
    if attribute and (workers is not None or scheduler is not None or resume is not None):
        raise ParameterError(
            "--attribute: the counterfactual runs of the attribution run in this process; it cannot be combined "
            "with --workers, --scheduler or --resume (use firesale contagion), got --attribute with them"
        )
    _checkpoint("load")
    sc = with_policies(load_scenario(scenario), policies)
    if horizon is not None:
        if n_steps is not None:
            raise ParameterError("--steps and --horizon: give one of the two, got both")
        n_steps = max(1, round(horizon / sc.spec.simulation.dt))
    paths = n_paths or sc.spec.simulation.n_paths
    run_seed = sc.spec.simulation.seed if seed is None else seed
    _check_memory(sc, paths, batch_size)
    store = _store_of(store_dir)
    if workers is not None or scheduler is not None or resume is not None:
        try:
            result, run_id = distributed_run(
                sc, n_paths=paths, seed=run_seed, store=store, workers=workers, scheduler=scheduler,
                resume=resume, n_steps=n_steps,
            )  # fmt: skip
        except KeyboardInterrupt:
            _err.print("interrupted; completed blocks kept in the store (resume with --resume RUN_ID)")
            sys.exit(130)
    else:
        run_id, result = _simulate_stored(
            sc,
            store,
            n_paths=paths,
            seed=run_seed,
            n_steps=n_steps,
            batch_size=batch_size,
            attribute=attribute,
        )
    summary = result.summary()
    if report_path:
        from firesale.report import write_report

        _err.print(f"report: {write_report(result, report_path)}", highlight=False)
    if as_json:
        payload = {"run_id": run_id, "scenario": sc.name, "seed": run_seed, "summary": summary}
        click.echo(json.dumps(payload, indent=2))
        return
    from firesale.report import summarize

    title = f"{sc.name} · {paths:,} paths · seed {run_seed} · {result.wall_seconds:.1f} s"
    _out.print(_summary_table(title, summary))
    click.echo(summarize(result))
    _out.print(f"run id: {run_id}  (store: {store.root})", highlight=False)


def _ci_text(d: Any) -> str:
    if d.kind == "pct":
        return f"[{100 * d.ci_low:+.2f}, {100 * d.ci_high:+.2f}] pp"
    return f"[{_fmt(d.ci_low, 'usd')}, {_fmt(d.ci_high, 'usd')}]"


def _delta_text(value: float, kind: str) -> str:
    if kind == "pct":
        return f"{100 * value:+.2f} pp"
    return ("+" if value > 0 else "") + _fmt(value, "usd")


@main.command()
@click.argument("scenario_a")
@click.argument("scenario_b")
@click.option("--paths", "n_paths", type=_Count(), help="Monte Carlo paths (default: A's).")
@click.option("--seed", type=click.IntRange(min=0), help="The common seed (default: A's).")
@click.option("--steps", "n_steps", type=click.IntRange(min=1), help="Number of steps of both runs.")
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Paths in memory at once (results do not depend on it)."
)
@_STORE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False), help="Write the A-vs-B HTML report."
)
@click.option(
    "--policy", "policies", multiple=True,
    help="Add a policy to B: a built-in name (firesale scenarios --policies) or a file of [[policies]]; repeatable.",
)  # fmt: skip
@click.option(
    "--policy-a", "policies_a", multiple=True,
    help="Add a policy to A (e.g. to compare two policies on the same book); repeatable.",
)  # fmt: skip
@_guard
def compare(
    scenario_a: str, scenario_b: str, n_paths: int | None, seed: int | None, n_steps: int | None,
    batch_size: int | None, store_dir: str | None, as_json: bool, report_path: str | None, policies: tuple[str, ...],
    policies_a: tuple[str, ...] = (),
) -> None:  # fmt: skip
    """Run SCENARIO_A and SCENARIO_B on common random numbers and print paired differences B - A.

    Both runs use the same seed and number of paths, so path i of B sees the same shocks as path i of A and the
    confidence intervals come from per-path differences (bootstrap for VaR and ES). Both runs are stored.
    """
    from firesale.analysis.compare import (
        compare_losses,
        mitigation_costs,
        reserve_capital_usd,
        scenario_differences,
    )
    from firesale.scenario import load_scenario, with_policies

    _check_output(report_path, "--report")
    _checkpoint("load")
    sc_a, sc_b = (
        with_policies(load_scenario(scenario_a), policies_a),
        with_policies(load_scenario(scenario_b), policies),
    )
    paths = n_paths or sc_a.spec.simulation.n_paths
    common_seed = sc_a.spec.simulation.seed if seed is None else seed
    for sc in (sc_a, sc_b):
        _check_memory(sc, paths, batch_size)
    store = _store_of(store_dir)
    runs = [
        _simulate_stored(sc, store, n_paths=paths, seed=common_seed, n_steps=n_steps, batch_size=batch_size)
        for sc in (sc_a, sc_b)
    ]
    (id_a, res_a), (id_b, res_b) = runs
    rows = compare_losses(res_a.metrics, res_b.metrics, paired=True)
    horizon_s = (res_a.dt or sc_a.spec.simulation.dt) * (n_steps or sc_a.spec.simulation.n_steps)
    costs = mitigation_costs(
        res_a.metrics, res_b.metrics, horizon_s=horizon_s, capital_a_usd=reserve_capital_usd(sc_a),
        capital_b_usd=reserve_capital_usd(sc_b), paired=True,
    )  # fmt: skip
    changed = scenario_differences(sc_a.text, sc_b.text)
    if report_path:
        from firesale.report import write_report

        _err.print(f"report: {write_report(res_a, report_path, compare=res_b)}", highlight=False)
    if as_json:
        payload = {
            "a": {"run_id": id_a, "scenario": sc_a.name},
            "b": {"run_id": id_b, "scenario": sc_b.name},
            "seed": common_seed,
            "n_paths": paths,
            "differences": [vars(r) for r in rows],
            "costs": [vars(c) for c in costs],
            "scenario_differences": [{"key": k, "a": va, "b": vb} for k, va, vb in changed],
        }
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    table = Table(
        title=f"B - A on common random numbers · {paths:,} paths · seed {common_seed}", header_style="bold"
    )
    for col in ("statistic", "A", "B", "B - A", "95% CI"):
        table.add_column(col, justify="left" if col == "statistic" else "right")
    for r in rows:
        kind = "usd" if r.kind == "usd" else "pct"
        table.add_row(r.label, _fmt(r.a, kind), _fmt(r.b, kind), _delta_text(r.delta, kind), _ci_text(r))
    _out.print(table)
    cost_table = Table(title="What B's mitigation costs, per path (paired)", header_style="bold")
    for col in ("cost", "A", "B", "cost of B", "95% CI"):
        cost_table.add_column(col, justify="left" if col == "cost" else "right")
    for c in costs:
        kind = "usd" if c.kind == "usd" else "num"
        cost_table.add_row(c.label, _fmt(c.a, kind), _fmt(c.b, kind), _fmt(c.cost, kind),
                           f"[{_fmt(c.ci_low, kind)}, {_fmt(c.ci_high, kind)}]")  # fmt: skip
    _out.print(cost_table)
    click.echo(f"A: {sc_a.name} (run {id_a}); B: {sc_b.name} (run {id_b})")
    if changed:
        click.echo("Scenario keys that differ (A -> B):")
        for key, va, vb in changed:
            click.echo(f"  {key}: {va!r} -> {vb!r}")
    else:
        click.echo("The two scenarios are identical: every difference is zero.")


@main.command()
@click.argument("files", nargs=-1, required=True)
@_guard
def validate(files: tuple[str, ...]) -> None:
    """Validate scenario FILES; print every problem, one per line."""
    from firesale.scenario import load_scenario

    bad = False
    for f in files:
        try:
            _checkpoint("load")
            load_scenario(f)
            click.echo(f"{f}: ok")
        except ScenarioError as exc:
            bad = True
            for line in exc.problems:
                click.echo(line, err=True)
    if bad:
        sys.exit(2)


@main.command()
@click.argument("name", required=False)
@click.option(
    "--policies", is_flag=True, help="List the built-in policy overlays (for run/compare --policy)."
)
@_guard
def scenarios(name: str | None, policies: bool) -> None:
    """List built-in scenarios, or print scenario NAME's TOML to copy and edit."""
    from firesale.scenario import builtin_policies, builtin_scenarios, builtin_text

    if policies:
        for key, description in builtin_policies().items():
            click.echo(f"{key}\t{description}")
        return
    if name is not None:
        click.echo(builtin_text(name), nl=False)
        return
    for key, description in builtin_scenarios().items():
        click.echo(f"{key}\t{description}")


@main.command()
@click.argument("name", required=False)
@_guard
def data(name: str | None) -> None:
    """List the datasets shipped with firesale, or describe dataset NAME (use it as firesale-data:NAME)."""
    from firesale.data import datasets

    frame = datasets()
    if name is None:
        for row in frame.itertuples(index=False):
            click.echo(f"{row.name}\t{row.frequency}\t{_span(row.start, row.end)}\t{row.description}")
        return
    match = frame[frame["name"] == name]
    if match.empty:
        raise ParameterError(f"NAME: must be a shipped dataset ({', '.join(frame['name'])}), got {name!r}")
    row = match.iloc[0]
    for field in ("name", "description", "columns", "frequency", "source", "licence", "file"):
        value = row[field]
        click.echo(f"{field}: {', '.join(value) if isinstance(value, tuple | list) else value}")
    click.echo(f"span: {_span(row['start'], row['end'])}")
    click.echo(f"use in a scenario as: firesale-data:{row['name']}")


def _span(start: Any, end: Any) -> str:
    def day(t: Any) -> str:
        return "" if t is None or t != t else str(t)[:10]  # NaT != NaT

    a, b = day(start), day(end)
    return f"{a} to {b}" if a and b else "snapshot"


@main.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor completion)."""
    from firesale.scenario import ScenarioSpec

    click.echo(json.dumps(ScenarioSpec.model_json_schema(), indent=2))


@main.command()
@_STORE_OPTION
@_guard
def runs(store_dir: str | None) -> None:
    """List stored runs, newest first (a run id starts with its UTC start time)."""
    from firesale.report._format import money

    frame = _store_of(store_dir).runs()
    width = _out.width
    # The id starts with the start time (YYYYMMDDTHHMMSS), so narrow terminals drop the "started" column rather
    # than truncate figures; the scenario name folds onto a second line if it must.
    wide = width >= 110
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, padding=(0, 1))
    cols = ["id", "scenario", "status", "seed", "paths", "bad debt", *(["started"] if wide else [])]
    rows = []
    for row in frame.itertuples(index=False):
        d = row._asdict()
        mean = d.get("bad_debt_mean_usd")
        rows.append(
            [
                str(d["id"]), str(d["scenario_name"]), str(d["status"]), str(d["seed"]), f"{d['n_paths']:,}",
                money(mean) if mean is not None and mean == mean else "",
                *([str(d["started_at"])[:19]] if wide else []),
            ]
        )  # fmt: skip
    for j, col in enumerate(cols):
        longest = max([len(col), *(len(r[j]) for r in rows)])
        if col == "scenario":
            table.add_column(col, overflow="fold", min_width=8)
        else:
            table.add_column(
                col,
                no_wrap=True,
                min_width=longest,
                justify="right" if col in ("paths", "bad debt") else "left",
            )
    for r in rows:
        table.add_row(*r)
    _out.print(table)


def _why(stored: Any) -> str:
    if stored.status == "incomplete":
        return (
            "the process writing it ended before the run finished (killed or crashed); its results were never "
            f"recorded. `firesale delete {stored.id}` removes it"
        )
    if stored.status == "running":
        return "it is still running"
    return stored.message or "no reason was recorded"


@main.command()
@click.argument("run_id")
@_STORE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print as JSON on stdout.")
@_guard
def show(run_id: str, store_dir: str | None, as_json: bool) -> None:
    """Show the summary of stored run RUN_ID (a unique prefix is enough), or why it did not complete."""
    stored = _find_run(_store_of(store_dir), run_id)
    meta = {
        k: getattr(stored, k)
        for k in ("id", "scenario_name", "status", "seed", "n_paths", "n_steps", "version", "started_at",
                  "ended_at", "wall_seconds", "message")
    }  # fmt: skip
    if as_json:
        if stored.status != "complete":
            meta["why"] = _why(stored)
        click.echo(json.dumps({"meta": meta, "summary": stored.summary}, indent=2, default=str))
        return
    _out.print(
        f"{meta['id']}  {meta['scenario_name']}  status={meta['status']}  seed={meta['seed']}  "
        f"paths={meta['n_paths']}  version={meta['version']}",
        highlight=False,
    )
    if stored.status != "complete":
        click.echo(f"{stored.status}: {_why(stored)}")
    if stored.summary:
        _out.print(_summary_table(str(meta["scenario_name"]), stored.summary))


@main.command()
@click.argument("run_ids", nargs=-1)
@click.option("--unfinished", is_flag=True, help="Also delete every failed, interrupted or incomplete run.")
@click.option("-y", "--yes", is_flag=True, help="Delete without asking.")
@_STORE_OPTION
@_guard
def delete(run_ids: tuple[str, ...], unfinished: bool, yes: bool, store_dir: str | None) -> None:
    """Delete stored runs RUN_IDS (unique prefixes), their files and any temporary file a killed write left."""
    store = _store_of(store_dir)
    ids = [_find_run(store, r).id for r in run_ids]
    if unfinished:
        frame = store.runs()
        ids += [str(i) for i, st in zip(frame["id"], frame["status"], strict=True) if st in _UNFINISHED]
    ids = list(dict.fromkeys(ids))
    if not run_ids and not unfinished:
        raise ParameterError("RUN_IDS: give the runs to delete, or --unfinished, got neither")
    if not ids:
        click.echo("no run to delete")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise ParameterError(
                f"--yes: deleting {len(ids)} run(s) without a terminal to confirm needs --yes, got no --yes"
            )
        if not click.confirm(f"Delete {len(ids)} run(s): {', '.join(ids)}?", default=False):
            click.echo("nothing deleted")
            return
    for i in ids:
        store.delete(i)
        click.echo(f"deleted {i}")


_UNFINISHED = ("failed", "interrupted", "incomplete")


@main.command()
@click.argument("run_id")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="HTML file (default: report-RUN_ID.html)."
)
@click.option("--compare", "compare_id", help="A second stored run to show side by side.")
@click.option(
    "--png-dir", type=click.Path(file_okay=False), help="Also write one PNG per chart here (needs kaleido)."
)
@_STORE_OPTION
@_guard
def report(
    run_id: str, output: str | None, compare_id: str | None, png_dir: str | None, store_dir: str | None
) -> None:
    """Write the HTML report of stored run RUN_ID and say what it shows.

    With --compare, runs on the same seed and number of paths are compared path by path (common random numbers).
    """
    from firesale.report import summarize, write_report

    _check_output(output, "-o/--output")
    _check_output(png_dir, "--png-dir", folder=True)
    store = _store_of(store_dir)
    stored = _find_run(store, run_id)
    other = _find_run(store, compare_id) if compare_id else None
    for run_ in (stored, other):
        if run_ is not None and run_.status != "complete":
            _fail(
                f"RUN_ID: run {run_.id} is {run_.status}, and only a complete run has a report; "
                f"`firesale show {run_.id}` says why",
                2,
            )
    path = Path(output) if output else Path(f"report-{stored.id}.html")
    _check_output(str(path), "-o/--output")
    try:
        written = write_report(stored, path, compare=other, png_dir=png_dir)
    except (ImportError, RuntimeError) as exc:  # PNG export: kaleido or Chrome missing (the HTML is written)
        _fail(f"error: PNG export failed: {exc}", 1)
    click.echo(summarize(stored, compare=other))
    _err.print(f"report: {written}", highlight=False)


_FITS = {
    "gbm": "fit_gbm",
    "student-t": "fit_student_t",
    "merton": "fit_merton",
    "garch": "fit_garch",
    "regime": "fit_regime",
    "bootstrap": "fit_bootstrap",
}


def _timestamp(value: str | None, option: str) -> Any:
    """``value`` as a UTC timestamp, or None; exit 2 with the option's name when it is not a date."""
    import pandas as pd

    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        stamp = None
    if stamp is None or stamp is pd.NaT or stamp != stamp:
        raise ParameterError(
            f"{option}: must be an ISO 8601 date or time in UTC (e.g. 2022-05-01 or 2022-05-01T12:00), "
            f"got {value!r}"
        )
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@main.command()
@click.argument("series", nargs=-1, required=True)
@click.option(
    "--model", type=click.Choice(sorted(_FITS)), default="garch", show_default=True, help="Model to fit."
)
@click.option(
    "--columns", help="Columns to fit, renamed for the scenario: e.g. 'ETH=WETH,BTC=WBTC' (default: all)."
)
@click.option("--start", help="First timestamp used (ISO 8601, UTC).")
@click.option("--end", help="Last timestamp used (ISO 8601, UTC).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the [market] fragment to this file."
)
@_guard
def calibrate(
    series: tuple[str, ...],
    model: str,
    columns: str | None,
    start: str | None,
    end: str | None,
    output: str | None,
) -> None:
    """Fit a price model to SERIES (price files or firesale-data:NAME) and print a [market] fragment."""
    import warnings

    import pandas as pd

    from firesale.data import load_prices
    from firesale.market import calibration

    _check_output(output, "-o/--output")
    first, last = _timestamp(start, "--start"), _timestamp(end, "--end")
    if first is not None and last is not None and first > last:
        raise ParameterError(f"--start: must not be after --end ({end}), got {start!r}")
    frames = [load_prices(ref) for ref in series]
    prices = pd.concat(frames, axis=1, join="inner") if len(frames) > 1 else frames[0]
    if columns:
        mapping: dict[str, str] = {}
        for part in columns.split(","):
            source_name, _, target = part.partition("=")
            mapping[source_name] = target or source_name
        missing = [c for c in mapping if c not in prices.columns]
        if missing:
            raise ParameterError(
                f"--columns: every column must exist in the series {list(prices.columns)}; missing {missing}"
            )
        prices = prices[list(mapping)].rename(columns=mapping)
    if first is not None or last is not None:
        index = prices.index
        if isinstance(index, pd.DatetimeIndex) and index.tz is None:
            first = None if first is None else first.tz_localize(None)
            last = None if last is None else last.tz_localize(None)
        prices = prices.loc[first:last]
    prices = prices.dropna()
    if len(prices) < 30:
        raise ParameterError(f"SERIES: need at least 30 prices to fit after filtering, got {len(prices)}")
    fit = getattr(calibration, _FITS[model])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kwargs = {"source": {"source": series[0]}} if model == "bootstrap" and len(series) == 1 else {}
        result = fit(prices, **kwargs)
    for w in caught:
        click.echo(f"note: {w.message}", err=True)
    table = Table(title=f"{model} fit: {len(prices):,} prices, {prices.index[0]} to {prices.index[-1]}")
    table.add_column("diagnostic")
    table.add_column("value")
    for key, value in result.diagnostics.items():
        table.add_row(str(key), str(value) if len(str(value)) < 160 else str(value)[:157] + "...")
    _err.print(table)
    comment = f"fitted by `firesale calibrate --model {model}` on {', '.join(series)}"
    text = result.to_toml(comment)
    if output:
        Path(output).write_text(text)
        _err.print(f"wrote {output}")
    else:
        click.echo(text, nl=False)


# Commands that live beside their domain (they share firesale._console with this module).
from firesale.analysis._commands import (  # noqa: E402
    breakpoint_command,
    recommend_command,
    sensitivities_command,
    sweep_command,
)
from firesale.contagion._commands import contagion  # noqa: E402
from firesale.monitor._commands import backtest, classify, monitor  # noqa: E402

main.add_command(sweep_command)
main.add_command(breakpoint_command)
main.add_command(recommend_command)
main.add_command(sensitivities_command)
main.add_command(contagion)
main.add_command(backtest)
main.add_command(monitor)
main.add_command(classify)
