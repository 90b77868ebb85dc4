"""The report's charts hold the numbers worked out by hand from the run described in conftest.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from firesale.analysis import health_factors
from firesale.exceptions import ParameterError
from firesale.market.spec import validate_market
from firesale.report import Chart, build_charts
from firesale.report._book import HF_EDGES, debt_by_health_factor
from firesale.report._flags import at_least
from firesale.report._losses import exceedance, log_bins


def by_key(charts: list[Chart]) -> dict[str, Chart]:
    keys = [c.key for c in charts]
    assert len(keys) == len(set(keys)), keys
    return {c.key: c for c in charts}


def trace(chart: Chart, name: str):
    (found,) = [t for t in chart.figure.data if t.name == name]
    return found


def test_every_chart_of_a_full_run_is_drawn(result):
    charts = by_key(build_charts(result))
    drawn = {k for k, c in charts.items() if c.figure is not None}
    assert drawn == {
        "price-0", "bad-debt-histogram", "bad-debt-tail", "bad-debt-protocol", "bad-debt-time",
        "liquidations-time", "cascade-depth", "liquidator-economics", "health-factors", "liquidation-curve",
        "flags-per-path", "flags-time", "worst-paths", "worst-prices", "liquidation-curve-asset", "slippage-at-size",
    }  # fmt: skip
    # This hand-built run has no per-asset bad-debt columns: said, not drawn.
    assert charts["bad-debt-asset"].figure is None
    assert "not recorded by this run" in charts["bad-debt-asset"].note


def test_price_fan_holds_the_path_quantiles(result):
    # Realised WETH at step t is 2000 - i - t over paths i = 0..99; NumPy's default (linear) quantile of
    # {1901 - t, ..., 2000 - t} at q is (1901 - t) + 99 q: p05 = 1905.95 - t, p25 = 1925.75 - t, p50 = 1950.5 - t.
    chart = by_key(build_charts(result))["price-0"]
    t = np.arange(25)
    realised = [tr for tr in chart.figure.data if tr.xaxis == "x2"]
    median = next(tr for tr in realised if tr.name == "realised median")
    np.testing.assert_allclose(median.y, 1950.5 - t, atol=1e-3)
    lows = [tr for tr in realised if tr.fill == "tonexty"]
    np.testing.assert_allclose(lows[0].y, 1905.95 - t, atol=1e-3)  # 5-95 band, lower edge
    np.testing.assert_allclose(lows[1].y, 1925.75 - t, atol=1e-3)  # 25-75 band, lower edge
    exo_median = next(tr for tr in chart.figure.data if tr.name == "exogenous median")
    np.testing.assert_allclose(exo_median.y, 2000.0 - t, atol=1e-3)
    # 24 steps of 300 s = 2 h: the axis is in minutes, 0 to 120.
    np.testing.assert_allclose(median.x, 5.0 * t)
    # USDC never moves: it is named in the note, not drawn.
    assert "Flat in every path, not plotted: USDC." in chart.note


def test_exceedance_by_hand():
    # Losses 0 x 6, then 5, 10, 10, 40 over n = 10: P(>= 40) = 0.1, P(>= 10) = 0.3 (k = 2 and 3), P(>= 5) = 0.4.
    x, y = exceedance(np.array([0, 0, 0, 10, 0, 40, 0, 5, 10, 0.0]))
    assert x.tolist() == [40, 10, 10, 5]
    assert y.tolist() == [0.1, 0.2, 0.3, 0.4]
    x, y = exceedance(np.zeros(5))
    assert len(x) == len(y) == 0


def test_log_bins_by_hand():
    # 1, 10, 100 and 1000 USD in 3 bins of one decade each: [0, 1), [1, 2), [2, 3] in log10.
    counts, edges = log_bins(np.array([1.0, 10.0, 100.0, 1000.0]), n_bins=3)
    assert counts.tolist() == [1, 1, 2]
    np.testing.assert_allclose(edges, [0, 1, 2, 3])


def test_bad_debt_charts_by_hand(result):
    charts = by_key(build_charts(result))
    hist = charts["bad-debt-histogram"]
    bars = trace(hist, "share of all paths")
    # Ten paths with bad debt out of 100: the bars sum to 10 %.
    assert float(np.sum(bars.y)) == pytest.approx(0.10)
    assert "90.00% of 100 paths end with no bad debt" in hist.note
    # Marks: mean (1 + ... + 8) * 1,000 + 2 * 10,000 = 56,000 over 100 paths = 560; VaR 99 % = linear quantile at
    # 0.99 * 99 = 98.01 between the two 10,000s = 10,000; ES 99 % = the worst path(s) = 10,000; VaR 95 % at 94.05
    # -> 5,000 + 0.05 * 1,000 = 5,050.
    names = {t.name for t in hist.figure.data}
    assert {"mean $560", "VaR 95% $5.05k", "VaR 99% $10.0k", "ES 99% $10.0k"} <= names
    assert trace(hist, "mean $560").x[0] == pytest.approx(math.log10(560))

    tail = trace(charts["bad-debt-tail"], "P(bad debt ≥ x)")
    assert tail.x[0] == 10_000 and tail.y[0] == pytest.approx(0.01)
    assert tail.x[-1] == 1_000 and tail.y[-1] == pytest.approx(0.10)

    by_protocol = charts["bad-debt-protocol"]
    assert list(trace(by_protocol, "mean").y) == [pytest.approx(560.0)]
    assert list(trace(by_protocol, "VaR 99%").y) == [pytest.approx(10_000.0)]
    assert list(trace(by_protocol, "ES 99%").y) == [pytest.approx(10_000.0)]
    assert by_protocol.note == "Share of paths with bad debt: lender: 10.00%."


def test_liquidation_charts_by_hand(result):
    charts = by_key(build_charts(result))
    depth = charts["cascade-depth"].figure.data[0]
    # i mod 4 over 100 paths: 25 paths each at 0, 1, 2 and 3 rounds.
    assert list(depth.x) == [0, 1, 2, 3]
    np.testing.assert_allclose(depth.y, [0.25] * 4)
    econ = charts["liquidator-economics"].figure.data[0]
    assert list(econ.x) == ["liquidator profit", "slippage", "gas", "protocol fees"]
    # Profit 100 i: mean 4950; 5th percentile 100 * 4.95 = 495, 95th 100 * 94.05 = 9405 (linear quantiles).
    assert econ.y[0] == pytest.approx(4950.0)
    assert econ.error_y.arrayminus[0] == pytest.approx(4950.0 - 495.0)
    assert econ.error_y.array[0] == pytest.approx(9405.0 - 4950.0)
    assert econ.y[2] == pytest.approx(1.0) and econ.y[3] == pytest.approx(5.0)
    rounds = trace(charts["liquidations-time"], "rounds, mean")
    # Step 5 carries i mod 4 rounds: mean 1.5; every other step none.
    assert rounds.y[5] == pytest.approx(1.5)
    assert float(np.sum(rounds.y)) == pytest.approx(1.5)


def test_at_least_by_hand():
    # Steps 0, 1, 1, 2, 5 over 5 paths, horizon 5: >= 1: 4/5, >= 2: 2/5, >= 3..5: 1/5.
    k, share = at_least(np.array([0, 1, 1, 2, 5]), 5)
    assert k.tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(share, [0.8, 0.4, 0.2, 0.2, 0.2])


def test_flag_charts_by_hand(result):
    charts = by_key(build_charts(result))
    per_path = charts["flags-per-path"]
    liquidity = trace(per_path, "liquidity near zero")
    # i mod 3 steps: 66 paths with >= 1, 33 with >= 2, none with 3 or more.
    assert liquidity.y[:3].tolist() == [0.66, 0.33, 0.0]
    oracle = trace(per_path, "oracle off or failed")
    assert set(np.round(oracle.y, 12)) == {0.1}  # paths 0-9, all 24 steps
    assert "oracle off or failed: 10.00% of paths ever, 2.4 steps on average" in per_path.note
    over_time = trace(charts["flags-time"], "liquidity near zero")
    # Path i is flagged at steps t <= i mod 3: all 100 at t = 0, 66 at t = 1, 33 at t = 2, none after.
    np.testing.assert_allclose(over_time.y[:4], [1.0, 0.66, 0.33, 0.0], atol=1e-6)


def test_debt_by_health_factor_by_hand():
    hf = np.array([0.0, 0.049, 0.05, 0.99, 1.0, 2.999, 3.0, np.inf])
    debt = np.array([1.0, 2, 4, 8, 16, 32, 64, 128])
    got = debt_by_health_factor(hf, debt)
    assert len(got) == len(HF_EDGES) == 61
    expected = np.zeros(61)
    expected[0] = 1 + 2  # [0, 0.05)
    expected[1] = 4  # [0.05, 0.10)
    expected[19] = 8  # [0.95, 1.00)
    expected[20] = 16  # [1.00, 1.05)
    expected[59] = 32  # [2.95, 3.00)
    expected[60] = 64 + 128  # 3 and above, and no debt limit
    np.testing.assert_array_equal(got, expected)


def test_health_factors_at_the_worst_point(result):
    chart = by_key(build_charts(result))["health-factors"]
    # Worst point: the 1st percentile over paths of WETH's lowest realised ratio 0.5 + 0.005 i, i.e. 0.5 + 0.005 *
    # 0.99 = 0.50495. Each account holds WETH against USDC, so its health factor scales by exactly that ratio.
    assert "WETH × 0.505" in chart.note
    book = health_factors(result.scenario)
    hf0, debt = book["health_factor"].to_numpy(), book["debt_usd"].to_numpy()
    start, worst = trace(chart, "at the start"), trace(chart, "at the worst point")
    assert float(np.sum(start.y)) == pytest.approx(debt.sum())
    assert float(np.sum(worst.y)) == pytest.approx(debt.sum())
    below = debt[hf0 * 0.50495 < 1.0].sum()
    assert below > 0
    assert float(np.sum(np.asarray(worst.y)[:20])) == pytest.approx(below)
    # toy-spiral's health factors start at 1.02: no debt below 1 at the start.
    assert float(np.sum(np.asarray(start.y)[:20])) == 0.0


def test_charts_without_recorded_series_are_omitted_with_a_note(make_run):
    charts = by_key(build_charts(make_run(record=())))
    for key, needs in (
        ("prices", '"price"'),
        ("bad-debt-time", '"bad_debt"'),
        ("liquidations-time", '"liquidated" and "rounds"'),
        ("flags-time", '"flags"'),
    ):
        assert charts[key].figure is None, key
        assert needs in charts[key].note and "simulation.record" in charts[key].note, key
    # Per-path metrics still carry the distributions.
    assert charts["bad-debt-histogram"].figure is not None
    assert charts["flags-per-path"].figure is not None


def test_replay_runs_show_history_against_the_simulation(make_run):
    assert not any(c.key.startswith("replay") for c in build_charts(make_run()))
    market = validate_market(
        {"model": "replay", "source": "firesale-data:eth_10min_2020-03-12", "columns": {"WETH": "ETH"}}
    )
    charts = by_key(build_charts(make_run(market=market)))
    history = trace(charts["replay-0"], "historical (replayed from the start price)")
    np.testing.assert_allclose(history.y, 2000.0 - np.arange(25), atol=1e-3)
    assert trace(charts["replay-0"], "simulated realised median").y[0] == pytest.approx(1950.5)


def test_comparison_charts_come_first(result, make_run):
    other = make_run(record=("bad_debt",))
    charts = build_charts(result, compare=other)
    assert charts[0].key == "compare-tail"
    assert [t.name for t in charts[0].figure.data] == ["A: toy-spiral (seed 7)", "B: toy-spiral (seed 7)"]
    # The other run recorded no prices and no liquidations: no side-by-side for those.
    assert not any(c.key.startswith(("compare-price", "compare-liquidations")) for c in charts)


def test_bad_sources(result):
    with pytest.raises(
        ParameterError,
        match=r"The 'source' parameter of build_charts must be a SimulationResult or a StoredRun\. Got dict instead\.",
    ):
        build_charts({})
    with pytest.raises(
        ParameterError, match=r"The 'compare' parameter of build_charts must be .* Got str instead\."
    ):
        build_charts(result, compare="run-1")
