"""The ``firesale backtest``, ``firesale monitor`` and ``firesale classify`` commands (registered by ``firesale.cli``).

Exit codes as the rest of the CLI: 0 success, 1 failure during a run, 2 invalid input.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.table import Table

from firesale._console import err, guard, out
from firesale.exceptions import ParameterError

__all__ = ["backtest", "classify", "monitor"]

_out, _err = out, err
_GRADES = {-1: "n/a", 0: "stable", 1: "stressed", 2: "failed"}


_guard = guard


def _pairs(values: tuple[str, ...], option: str, lo: float, hi: float) -> dict[str, float]:
    out = {}
    for v in values:
        name, sep, number = v.partition("=")
        try:
            x = float(number)
        except ValueError:
            x = float("nan")
        if not sep or not name or not (lo <= x <= hi):
            raise ParameterError(
                f"{option}: must be ASSET=NUMBER with the number in [{lo:g}, {hi:g}]. Got {v!r} instead."
            )
        out[name] = x
    return out


def _ref(dataset: str) -> str:
    from firesale.data import datasets

    return f"firesale-data:{dataset}" if dataset in set(datasets()["name"]) else dataset


@click.command()
@click.argument("dataset", default="majors_1d_2020-2025")
@click.option("--columns", default="BTC,ETH", show_default=True, help="Assets to backtest (comma-separated).")
@click.option(
    "--models", default="normal,student-t,garch-t,historical", show_default=True, help="VaR models."
)
@click.option("--level", type=click.FloatRange(0.5, 1.0, min_open=True, max_open=True), default=0.99,
              show_default=True, help="VaR confidence.")  # fmt: skip
@click.option(
    "--window", type=click.IntRange(min=20), default=250, show_default=True, help="Estimation window."
)
@click.option(
    "--refit-every", type=click.IntRange(min=1), default=20, show_default=True, help="GARCH refit step."
)
@click.option("--events", is_flag=True, help="Also validate the early warning on the shipped replays.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@_guard
def backtest(
    dataset: str, columns: str, models: str, level: float, window: int, refit_every: int, events: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Backtest VaR models on DATASET (a shipped name or a price file): Kupiec and Christoffersen tests."""
    from firesale.data import load_prices
    from firesale.monitor.backtest import backtest_var, correlation_table

    cols = [c.strip() for c in columns.split(",") if c.strip()]
    prices = load_prices(_ref(dataset), columns=cols)
    result = backtest_var(prices, [m.strip() for m in models.split(",")], level, window, refit_every)
    corr = correlation_table(prices) if len(cols) > 1 else None
    warn = _warnings() if events else None
    if as_json:
        payload: dict[str, Any] = {
            "dataset": dataset, "level": level,
            "table": result.table.reset_index().to_dict(orient="records"), "summary": result.summary(),
            "correlation": corr.to_dict(orient="records") if corr is not None else [],
        }  # fmt: skip
        if warn is not None:
            payload["early_warning"] = warn
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    table = Table(title=f"VaR {level:.0%} backtests on {dataset}", header_style="bold")
    for col in ("asset", "model", "hits / n", "rate", "Kupiec p", "indep. p", "cond. cov. p", "mean VaR",
                "mean loss on hit", "worst / VaR"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("asset", "model") else "right")
    for (asset, model), row in result.table.iterrows():
        table.add_row(
            str(asset), str(model), f"{int(row['hits'])} / {int(row['n'])}", f"{row['rate']:.2%}",
            f"{row['kupiec_p']:.3g}", f"{row['ind_p']:.3g}", f"{row['cc_p']:.3g}", f"{row['var_mean']:.2%}",
            f"{row['loss_on_hits_mean']:.2%}", f"{row['worst_ratio']:.2f}x",
        )  # fmt: skip
    _out.print(table)
    for line in result.summary():
        click.echo(line)
    if corr is not None and len(corr):
        ct = Table(title="Correlation assumed (all steps) vs in the worst 5 % of steps", header_style="bold")
        for col in ("pair", "assumed", "in tail", "tail steps"):
            ct.add_column(col)
        for row in corr.itertuples(index=False):
            ct.add_row(row.pair, f"{row.assumed:.2f}", f"{row.in_tail:.2f}", str(row.n_tail))
        _out.print(ct)
    if warn is not None:
        wt = Table(
            title="Early warning on the shipped replays (thresholds set before each event)",
            header_style="bold",
        )
        heads = ("event", "losses start", "first stressed", "lead (h)", "first failure", "lead (h)", "reason")
        for col in heads:
            wt.add_column(col)
        for w in warn["events"]:
            wt.add_row(
                w["event"], _when(w["loss_start"]), _when(w["first_stressed"]), _hours(w["lead_stressed_h"]),
                _when(w["first_failure"]), _hours(w["lead_failure_h"]), "; ".join(w["reasons_stressed"])[:90],
            )  # fmt: skip
        _out.print(wt)
        for name, rows in warn["false_alarms"].items():
            rates = ", ".join(f"{r['year']}: {r['stressed_rate']:.1%}" for r in rows)
            click.echo(f"false alarms (share of calm steps stressed) on {name}: {rates}")


def _when(t: Any) -> str:
    return "never" if t is None else str(t)[:16]


def _hours(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def _warnings() -> dict[str, Any]:
    from firesale.monitor.warning import EVENTS, early_warning, false_alarms

    rows = []
    for name in EVENTS:
        r = early_warning(name)
        rows.append({k: v for k, v in r.items() if k not in ("config", "classification")})
    fa = {
        "eth_btc_1h_2019-2024": false_alarms("eth_btc_1h_2019-2024", ("ETH", "BTC")),
        "majors_1d_2020-2025": false_alarms("majors_1d_2020-2025", ("BTC", "ETH")),
    }
    return {
        "events": rows,
        "false_alarms": {k: v.reset_index().to_dict(orient="records") for k, v in fa.items()},
    }


def _default_lts() -> dict[str, float]:
    from firesale.data import aave_v3_market_parameters

    reserves, _ = aave_v3_market_parameters()
    return {str(a): float(v) for a, v in reserves["liquidation_threshold"].items()}


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--once", is_flag=True, help="Take the snapshots present, print the state and exit.")
@click.option("--poll", "poll_s", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds between directory scans.")  # fmt: skip
@click.option(
    "--buffer", "buffers", multiple=True, help="Liquidation buffer of a collateral asset: ASSET=FRACTION."
)
@click.option("--peg", "pegs", multiple=True, help="Peg of a pegged asset: ASSET=PRICE.")
@click.option("--lt", "lts", multiple=True,
              help="Liquidation threshold: ASSET=LT (default: Aave v3 Ethereum's, for its assets).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="With --once: print the state as JSON on stdout.")
@click.option("--page-port", type=click.IntRange(0, 65535),
              help="Also serve a live page on http://127.0.0.1:PORT/ (loopback only; 0 picks a free port).")  # fmt: skip
@_guard
def monitor(
    directory: str, once: bool, poll_s: float, buffers: tuple[str, ...], pegs: tuple[str, ...],
    lts: tuple[str, ...], as_json: bool, page_port: int | None,
) -> None:  # fmt: skip
    """Watch DIRECTORY of snapshots (prices*, pools*, oracles*, positions*) and alert on state changes."""
    from firesale.monitor.snapshots import Alert, SnapshotMonitor

    mon = SnapshotMonitor(
        directory,
        buffers=_pairs(buffers, "--buffer", 0.0, 1.0),
        pegs=_pairs(pegs, "--peg", 0.0, float("inf")),
        liquidation_thresholds={**_default_lts(), **_pairs(lts, "--lt", 0.0, 1.0)},
    )

    def emit(alert: Alert) -> None:
        click.echo(str(alert), err=alert.kind == "bad snapshot")

    if not once:
        import time

        from firesale.monitor.page import MonitorPage, serve

        page = MonitorPage(mon)
        if page_port is not None:
            server = serve(page, port=page_port, poll_ms=int(1000 * poll_s))
            _err.print(f"live page: http://127.0.0.1:{server.server_address[1]}/", highlight=False)
        _err.print(f"watching {directory} every {poll_s:g} s (Ctrl-C to stop)", highlight=False)
        try:
            while True:
                for alert in page.step():
                    emit(alert)
                time.sleep(poll_s)
        except KeyboardInterrupt:
            sys.exit(130)
    for alert in mon.step():
        emit(alert)
    now = mon.current()
    if as_json:
        click.echo(json.dumps(now, indent=2, default=str))
        return
    table = Table(title=f"{directory} at {now['time']}: {now['label']}", header_style="bold")
    table.add_column("dimension")
    table.add_column("grade")
    for dim, g in now["grades"].items():
        table.add_row(dim, _GRADES[g])
    _out.print(table)
    for reason in now["reasons"]:
        click.echo(f"- {reason}")


def _bands(values: tuple[str, ...]) -> dict[str, Any]:
    from firesale.monitor.thresholds import DIMENSIONS, Band

    out = {}
    for v in values:
        name, sep, pair = v.partition("=")
        lo, comma, hi = pair.partition(",")
        try:
            band = (float(lo), float(hi))
        except ValueError:
            band = None
        if not sep or not comma or band is None or name not in DIMENSIONS:
            raise ParameterError(
                f"--band: must be DIMENSION=STRESSED,FAILURE with a dimension of {sorted(DIMENSIONS)}. "
                f"Got {v!r} instead."
            )
        out[name] = Band(*band)
    return out


@click.command()
@click.argument("run_id")
@click.option(
    "--store", "store_dir", type=click.Path(file_okay=False), help="Run store directory [env FIRESALE_STORE]."
)
@click.option("--band", "bands", multiple=True,
              help="Thresholds of a dimension: DIMENSION=STRESSED,FAILURE (e.g. slippage=0.01,0.05).")  # fmt: skip
@click.option("--size-usd", type=float, default=None,
              help="Sale size graded for slippage (USD; a recorded size, or between two) [default: 1e6].")  # fmt: skip
@click.option("--rows", type=click.IntRange(min=1), default=12, show_default=True, help="Steps shown.")
@click.option("--json", "as_json", is_flag=True, help="Print the states as JSON on stdout.")
@_guard
def classify(
    run_id: str,
    store_dir: str | None,
    bands: tuple[str, ...],
    size_usd: float | None,
    rows: int,
    as_json: bool,
) -> None:
    """Grade stored run RUN_ID per step: stable, stressed or systemic failure, with the reasons in words.

    Grades what the run recorded (simulation.record: depth, slippage, staleness, oracle_deviation, unserved,
    coverage, flags): the median path from the stored medians, and the share of paths in each state when the run stored it.
    """
    import numpy as np

    from firesale.cli import _find_run, _store_of
    from firesale.monitor._run_states import run_states
    from firesale.monitor.thresholds import ClassifierConfig

    extra: dict[str, Any] = {} if size_usd is None else {"slippage_size_usd": size_usd}
    config = ClassifierConfig(bands=_bands(bands), **extra)
    stored = _find_run(_store_of(store_dir), run_id)
    rs = run_states(stored, config=config)
    n_t = len(rs.time_s)
    picks = sorted({int(round(i)) for i in np.linspace(0, n_t - 1, min(rows, n_t))})
    if as_json:
        payload = {
            "run": stored.id, "source": rs.source, "first_stressed": rs.first_stressed,
            "first_failure": rs.first_failure, "reasons_stressed": rs.reasons_stressed,
            "reasons_failure": rs.reasons_failure, "median_state": rs.median_state.tolist(),
            "shares": None if rs.shares is None else rs.shares.reset_index().to_dict(orient="records"),
            "config": config.to_dict(),
        }  # fmt: skip
        click.echo(json.dumps(payload, indent=2, default=float))
        return
    table = Table(
        title=f"Failure state of run {stored.id} ({stored.scenario_name}) by step", header_style="bold"
    )
    for col in ("step", "time", "median path", "stable", "stressed", "failure"):
        table.add_column(col, justify="right")
    for i in picks:
        cells = ["", "", ""]
        if rs.shares is not None and i in rs.shares.index:
            cells = [f"{100 * rs.shares.loc[i, k]:.0f} %" for k in ("stable", "stressed", "failure")]
        table.add_row(str(i), _clock(rs.time_s[i]), _GRADES[int(rs.median_state[i])].replace("failed", "failure"),
                      *cells)  # fmt: skip
    _out.print(table)
    if rs.shares is None:
        click.echo(
            "share of paths in each state: not stored (the run kept no paths, or recorded nothing graded)"
        )
    elif bands or size_usd is not None:
        click.echo(
            "share of paths: as stored, with the default thresholds; the median path uses the ones given"
        )
    for line in rs.summary():
        click.echo(f"- {line}")


def _clock(seconds: float) -> str:
    from firesale.monitor._run_states import _clock as clock

    return clock(float(seconds))
