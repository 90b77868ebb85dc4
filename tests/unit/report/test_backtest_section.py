"""The report's model-failure section on a replay whose history is known by construction: log returns alternate
+1 % / -1 % for 300 hours, then the replayed window opens with a 20 % fall."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import firesale
from firesale.report._backtest import backtest_report
from firesale.report._view import as_view
from firesale.scenario import parse_scenario

TEXT = """
name = "bt"
[simulation]
n_steps = 3
dt = 3600
n_paths = 1
[[assets]]
name = "WETH"
price = {price}
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "replay"
source = "p.csv"
columns = {{ WETH = "WETH" }}
interpolation = "previous"
start = 2022-01-13T12:00:00Z
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = 1e9
[[venues]]
type = "orderbook"
name = "usdc-book"
asset = "USDC"
depth_usd = 1e300
[[oracles]]
name = "eth"
asset = "WETH"
type = "market"
[[oracles]]
name = "usdc"
asset = "USDC"
type = "market"
[[protocols]]
name = "lender"
type = "aave_v3"
accounts = [{{ account = "a", asset = "WETH", collateral_amount = 1.0 }},
            {{ account = "a", asset = "USDC", debt_amount = 10.0 }}]
[protocols.reserves.WETH]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "eth"
venues = ["book"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "usdc"
venues = ["usdc-book"]
"""


def test_the_fall_is_the_one_hit_of_every_model_and_is_dated(tmp_path):
    # Hours 0..299 alternate 100 and 100 e^0.01; hour 300 (2022-01-13 12:00, the replay's start) repeats the last
    # price, hour 301 is 20 % lower and the price then stays. Before the fall a normal VaR 99 % is about
    # 2.33 * 0.01 = 2.3 %, the historical one exactly 1 %, and a 1 % loss is never *above* it: no hit. The fall
    # (a log loss of ln 1.25 = 22.3 %) is the single hit of each model, at 13:00.
    t = pd.date_range("2022-01-01", periods=310, freq="h", tz="UTC")
    p = [100 * math.exp(0.01 * (k % 2)) for k in range(300)]
    p += [p[-1]] + [p[-1] * 0.8] * 9
    pd.DataFrame({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "WETH": p}).to_csv(
        tmp_path / "p.csv", index=False
    )
    sc = parse_scenario(TEXT.format(price=p[299]), source="bt.toml", base_dir=tmp_path)
    tables, charts = backtest_report(as_view(firesale.simulate(sc, seed=0)))
    rows = {(r[0], r[1]): r for r in tables[0].rows}
    assert set(rows) == {("WETH", m) for m in ("normal", "student-t", "historical")}
    for row in rows.values():
        # Data are read to the end of the replayed window (15:00, hour 303): returns 251..303 are forecast.
        assert row[2] == "1 / 53"
        assert row[6] == "1" and row[7] == "2022-01-13 13:00"
    assert charts[0].figure is not None and charts[0].key == "var-backtest"


def test_a_run_that_is_not_a_replay_gets_a_note_not_a_chart():
    res = firesale.simulate("toy-spiral", n_paths=2, seed=0)
    tables, charts = backtest_report(as_view(res))
    assert tables == [] and charts[0].figure is None
    assert "not a replayed history" in charts[0].note and "firesale backtest" in charts[0].note


@pytest.mark.parametrize("rows", [30])
def test_too_little_history_before_the_window_is_said(tmp_path, rows):
    t = pd.date_range("2022-01-13T12:00:00Z", periods=rows + 10, freq="h", tz="UTC") - pd.Timedelta(
        hours=rows
    )
    pd.DataFrame({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "WETH": 100.0}).to_csv(
        tmp_path / "p.csv", index=False
    )
    sc = parse_scenario(TEXT.format(price=100.0), source="bt.toml", base_dir=tmp_path)
    _, charts = backtest_report(as_view(firesale.simulate(sc, seed=0)))
    assert (
        charts[0].figure is None
        and f"hold {rows} rows before the replayed window, fewer than the 50" in charts[0].note
    )
