"""The ``firesale`` command line. Exit codes: 0 success, 1 failure during a run, 2 invalid input, 130 interrupted."""

from __future__ import annotations

import json
import math
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from firesale._version import __version__
from firesale.exceptions import FiresaleError, ParameterError, ScenarioError

__all__ = ["main"]

# Piped output is not wrapped to 80 columns: ids and numbers must survive `| grep`.
_out = Console() if sys.stdout.isatty() else Console(width=200)
_err = Console(stderr=True)

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


def _fail(message: str, code: int) -> None:
    for line in message.splitlines():
        click.echo(line, err=True)  # plain lines, never wrapped: one problem per line
    sys.exit(code)


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Map library errors to exit codes; tracebacks only with --debug."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = ctx.find_root().params.get("debug", False)
        try:
            return fn(*args, **kwargs)
        except (ScenarioError, ParameterError) as exc:
            if debug:
                traceback.print_exc()
            _fail(str(exc), 2)
        except FiresaleError as exc:
            if debug:
                traceback.print_exc()
            _fail(f"error: {exc}", 1)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


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


@main.command()
@click.argument("scenario")
@click.option("--paths", "n_paths", type=click.IntRange(min=1), help="Monte Carlo paths.")
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
@click.option(
    "--store", "store_dir", type=click.Path(file_okay=False), help="Run store directory [env FIRESALE_STORE]."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the HTML report here.")
@_guard
def run(
    scenario: str, n_paths: int | None, seed: int | None, n_steps: int | None, horizon: float | None,
    batch_size: int | None, store_dir: str | None, as_json: bool,
    report_path: str | None,
) -> None:  # fmt: skip
    """Run SCENARIO (a file or a built-in name), store it, and print its summary."""
    from firesale.engine import estimate_memory, simulate
    from firesale.exceptions import SimulationError
    from firesale.scenario import load_scenario
    from firesale.store import RunStore, default_store_root

    sc = load_scenario(scenario)
    if horizon is not None:
        if n_steps is not None:
            raise ParameterError("--steps and --horizon are alternatives: give one. Got both.")
        n_steps = max(1, round(horizon / sc.spec.simulation.dt))
    paths = n_paths or sc.spec.simulation.n_paths
    run_seed = sc.spec.simulation.seed if seed is None else seed
    estimate_memory(sc, paths, batch_size)  # cheap; simulate re-checks against available memory
    store = RunStore(Path(store_dir) if store_dir else default_store_root())
    steps = n_steps or sc.spec.simulation.n_steps
    run_id = store.start(
        scenario_name=sc.name, scenario_hash=sc.content_hash, scenario_text=sc.text, seed=run_seed,
        version=__version__, n_paths=paths, n_steps=steps,
        parameters={"source": sc.source, "batch_size": batch_size, "n_steps": steps},
    )  # fmt: skip
    bar = _LazyProgress(f"{sc.name} · {paths:,} paths")
    try:
        result = simulate(
            sc, n_paths=paths, seed=run_seed, batch_size=batch_size, n_steps=n_steps, progress=bar
        )
    except KeyboardInterrupt:
        bar.close()
        store.mark(run_id, "interrupted", "stopped by the user (Ctrl-C)")
        _err.print(f"interrupted; run {run_id} marked interrupted")
        sys.exit(130)
    except (ScenarioError, ParameterError) as exc:
        bar.close()
        store.mark(run_id, "failed", str(exc))
        raise
    except SimulationError as exc:
        bar.close()
        store.mark(run_id, "failed", str(exc))
        raise
    bar.close()
    summary = result.summary()
    store.finish(
        run_id, metrics=result.metrics, summary=summary, series={"series": result.series},
        wall_seconds=result.wall_seconds,
    )  # fmt: skip
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


@main.command()
@click.argument("files", nargs=-1, required=True)
@_guard
def validate(files: tuple[str, ...]) -> None:
    """Validate scenario FILES; print every problem, one per line."""
    from firesale.scenario import load_scenario

    bad = False
    for f in files:
        try:
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
@_guard
def scenarios(name: str | None) -> None:
    """List built-in scenarios, or print scenario NAME's TOML to copy and edit."""
    from firesale.scenario import builtin_scenarios, builtin_text

    if name is not None:
        click.echo(builtin_text(name), nl=False)
        return
    for key, description in builtin_scenarios().items():
        click.echo(f"{key}\t{description}")


@main.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor completion)."""
    from firesale.scenario import ScenarioSpec

    click.echo(json.dumps(ScenarioSpec.model_json_schema(), indent=2))


@main.command()
@click.option(
    "--store", "store_dir", type=click.Path(file_okay=False), help="Run store directory [env FIRESALE_STORE]."
)
@_guard
def runs(store_dir: str | None) -> None:
    """List stored runs, newest first."""
    from firesale.store import RunStore, default_store_root

    frame = RunStore(Path(store_dir) if store_dir else default_store_root()).runs()
    table = Table(show_header=True, header_style="bold")
    for col in ("id", "scenario", "status", "seed", "paths", "bad debt mean", "started"):
        table.add_column(col, no_wrap=col in ("id", "started"))
    for row in frame.itertuples(index=False):
        d = row._asdict()
        mean = d.get("bad_debt_mean_usd")
        table.add_row(
            str(d["id"]), str(d["scenario_name"]), str(d["status"]), str(d["seed"]), str(d["n_paths"]),
            _fmt(mean, "usd") if mean is not None and mean == mean else "",
            str(d["started_at"])[:19],
        )  # fmt: skip
    _out.print(table)


@main.command()
@click.argument("run_id")
@click.option(
    "--store", "store_dir", type=click.Path(file_okay=False), help="Run store directory [env FIRESALE_STORE]."
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON on stdout.")
@_guard
def show(run_id: str, store_dir: str | None, as_json: bool) -> None:
    """Show the summary of stored run RUN_ID (a unique prefix is enough)."""
    from firesale.store import RunStore, default_store_root

    stored = RunStore(Path(store_dir) if store_dir else default_store_root()).get(run_id)
    meta = {
        k: getattr(stored, k)
        for k in ("id", "scenario_name", "status", "seed", "n_paths", "n_steps", "version", "started_at",
                  "ended_at", "wall_seconds", "message")
    }  # fmt: skip
    if as_json:
        click.echo(json.dumps({"meta": meta, "summary": stored.summary}, indent=2, default=str))
        return
    _out.print(
        f"{meta['id']}  {meta['scenario_name']}  status={meta['status']}  seed={meta['seed']}  "
        f"paths={meta['n_paths']}  version={meta['version']}",
        highlight=False,
    )
    if stored.summary:
        _out.print(_summary_table(str(meta["scenario_name"]), stored.summary))


@main.command()
@click.argument("run_id")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="HTML file (default: report-RUN_ID.html)."
)
@click.option("--compare", "compare_id", help="A second stored run to show side by side.")
@click.option(
    "--png-dir", type=click.Path(file_okay=False), help="Also write one PNG per chart here (needs kaleido)."
)
@click.option(
    "--store", "store_dir", type=click.Path(file_okay=False), help="Run store directory [env FIRESALE_STORE]."
)
@_guard
def report(
    run_id: str, output: str | None, compare_id: str | None, png_dir: str | None, store_dir: str | None
) -> None:
    """Write the HTML report of stored run RUN_ID and say what it shows."""
    from firesale.report import summarize, write_report
    from firesale.store import RunStore, default_store_root

    store = RunStore(Path(store_dir) if store_dir else default_store_root())
    stored = store.get(run_id)
    other = store.get(compare_id) if compare_id else None
    path = Path(output) if output else Path(f"report-{stored.id}.html")
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

    frames = [load_prices(ref) for ref in series]
    prices = pd.concat(frames, axis=1, join="inner") if len(frames) > 1 else frames[0]
    if columns:
        mapping = dict(part.split("=", 1) if "=" in part else (part, part) for part in columns.split(","))
        missing = [c for c in mapping if c not in prices.columns]
        if missing:
            raise ParameterError(
                f"--columns: every column must exist in the series {list(prices.columns)}; missing {missing}"
            )
        prices = prices[list(mapping)].rename(columns=mapping)
    if start or end:
        prices = prices.loc[start:end]
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
