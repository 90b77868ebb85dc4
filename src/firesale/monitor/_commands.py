"""The ``firesale backtest`` and ``firesale monitor`` commands (registered on the main group by ``firesale.cli``).

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

__all__ = ["backtest", "monitor"]

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
