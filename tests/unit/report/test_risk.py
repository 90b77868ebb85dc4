"""The report's answers to how much, how likely and where the tail is, on hand-built runs (see conftest.py).

Per-asset columns: the hand run's bad debt is put on its one debt asset, USDC (``bad_debt_usd_lender_USDC``), and a
WETH column of zeros is added, as the engine writes them. The starting book is toy-spiral's: 300 accounts with
$300M of USDC debt (``firesale.analysis.health_factors``).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd

from firesale.report import build_charts, render_report
from firesale.results import SimulationResult
from firesale.store import RunStore


def with_asset_columns(result: SimulationResult) -> SimulationResult:
    m = result.metrics.copy()
    m["bad_debt_usd_lender_USDC"] = m["bad_debt_usd_lender"]
    m["bad_debt_usd_lender_WETH"] = 0.0
    m["reserves_used_usd_lender"] = 0.0
    return dataclasses.replace(result, metrics=m)


def stored(result: SimulationResult, tmp_path, parameters: dict | None = None):
    store = RunStore(tmp_path / "store")
    sc = result.scenario
    run_id = store.start(
        scenario_name=sc.name, scenario_hash=sc.content_hash, scenario_text=sc.text, seed=result.seed,
        version=result.version, n_paths=result.n_paths, n_steps=sc.spec.simulation.n_steps,
        parameters=parameters if parameters is not None else {"source": sc.source},
    )  # fmt: skip
    store.finish(
        run_id, metrics=result.metrics, summary=result.summary(), series={"series": result.series},
        wall_seconds=result.wall_seconds,
    )  # fmt: skip
    return store.get(run_id)


def cells(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table class="risk" id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, table_id
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        for tr in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def test_a_stored_run_reports_exactly_the_scenarios_protocols(result, tmp_path):
    fresh = with_asset_columns(result)
    for run in (stored(fresh, tmp_path), stored(fresh, tmp_path / "2", {"protocols": ["lender"]})):
        charts = {c.key: c for c in build_charts(run)}
        assert list(charts["bad-debt-protocol"].figure.data[0].x) == [
            "lender"
        ]  # not lender_USDC, lender_WETH
        assert list(charts["bad-debt-asset"].figure.data[0].x) == ["USDC"]  # WETH has none: left out
        np.testing.assert_allclose(charts["bad-debt-asset"].figure.data[0].y, [560.0])
        both = {c.key: c for c in build_charts(run, compare=run)}
        assert list(both["bad-debt-protocol"].figure.data[0].x) == ["lender"]


def test_bad_debt_beside_the_book(make_run):
    html = render_report(with_asset_columns(make_run()))
    # Expected bad debt $560 on $300M of debt is 0.000187 % of it; its s.e. $194 is 35 % of it (flagged).
    (row,) = cells(html, "bad-debt-book")
    assert row[:5] == ["lender", "$300M", row[2], "$560 ± $194", "0.000187%"]
    assert row[2].startswith("$") and row[2].endswith("M")  # collateral at start, in millions
    assert row[5].startswith("$10.0k ± ") and row[6].startswith("$10.0k ± ")  # VaR and ES with bootstrap s.e.
    assert row[7] == "10.00% ± 3.00%"
    assert row[8] == "too few paths: the s.e. is 35% of the estimate"
    (asset,) = cells(html, "bad-debt-asset-table")
    assert asset[:3] == ["lender", "USDC", "$560 ± $194"]
    # Thresholds 0.01 % .. 5 % of $300M are $30k .. $15M, all above the worst path ($10k): no path exceeds them.
    rows = cells(html, "bad-debt-exceedance")
    assert [r[:4] for r in rows] == [
        ["0.01%", "$30.0k", "0% ± 0%", "0"], ["0.1%", "$300k", "0% ± 0%", "0"], ["1%", "$3.00M", "0% ± 0%", "0"],
        ["5%", "$15.0M", "0% ± 0%", "0"],
    ]  # fmt: skip
    assert rows[0][4] == "no path of 100: below 3.00% at 95% confidence (rule of three)"


def rare_run(make_run) -> SimulationResult:
    """10,000 paths, 6 with bad debt (0.06 %): $1k, $2k, $5k, $10k, $20k, $50k."""
    base = make_run(record=())
    n = 10_000
    m = pd.DataFrame({c: np.resize(base.metrics[c].to_numpy(), n) for c in base.metrics.columns})
    bad = np.zeros(n)
    bad[[3, 700, 1400, 5000, 8000, 9999]] = [1e3, 2e3, 5e3, 1e4, 2e4, 5e4]
    for c in ("bad_debt_usd", "bad_debt_usd_lender", "bad_debt_peak_usd"):
        m[c] = bad
    m["insolvent"] = bad > 1.5e4
    return dataclasses.replace(base, metrics=m, n_paths=n)


def test_tick_labels_are_distinct_at_small_probabilities(make_run):
    charts = {c.key: c for c in build_charts(rare_run(make_run))}
    for key, chart in charts.items():
        if chart.figure is None:
            continue
        for axis in ("xaxis", "yaxis"):
            text = chart.figure.layout[axis].ticktext
            if text:
                assert len(set(text)) == len(text), (key, axis, text)
                assert "0.0%" not in text, (key, axis, text)
    # Histogram: each bar is 1 path in 10,000 = 0.01 %, the axis tops at 1.05 times that; a fifth of it is
    # 0.0021 %, rounded up to the 1-2-5 step 0.005 %: ticks 0, 0.005, 0.01, 0.015 %.
    hist = charts["bad-debt-histogram"].figure.layout.yaxis.ticktext
    assert list(hist) == ["0%", "0.005%", "0.01%", "0.015%"]
    # Tail: shares 0.01 % (the worst path) to 0.06 %, a narrow log axis: 1-2-5 ticks, not one lone label.
    tail = charts["bad-debt-tail"].figure.layout.yaxis.ticktext
    assert {"0.01%", "0.02%", "0.05%"} <= set(tail)
    # Bad debt from $1k to $50k: $1k, $2k, $5k, $10k, $20k, $50k all labelled.
    assert {"$1.00k", "$2.00k", "$5.00k", "$10.0k", "$20.0k", "$50.0k"} <= set(
        charts["bad-debt-tail"].figure.layout.xaxis.ticktext
    )


def test_worst_paths_are_drawn_from_a_fresh_run(result):
    chart = {c.key: c for c in build_charts(result)}["worst-paths"]
    names = [t.name for t in chart.figure.data]
    # Worst five by final bad debt: paths 98, 99 ($10k each, in path order), then 97, 96, 95 ($8k, $7k, $6k).
    assert names == [
        "95% of all paths",
        "99% of all paths",
        "path 98",
        "path 99",
        "path 97",
        "path 96",
        "path 95",
    ]
    np.testing.assert_allclose(chart.figure.data[2].y[-1], 10_000.0)


def test_per_asset_liquidation_curve(result):
    chart = {c.key: c for c in build_charts(result)}["liquidation-curve-asset"]
    (weth,) = chart.figure.data  # USDC's fall puts no further debt at risk (it is the debt): not drawn
    assert weth.name == "WETH"
    # Toy-spiral's accounts have health factors 1.02 to 1.6 with WETH collateral: at a 50 % fall every HF is
    # below 0.8, so all $300M of debt is below 1; with no fall none is.
    assert weth.y[0] == 0.0
    assert weth.y[10] == 300_000_000.0


def test_compare_view_lists_changed_keys_and_labels_every_chart(result):
    text = result.scenario.text.replace("depth_usd = 5e6", "depth_usd = 5e7")
    other = dataclasses.replace(result, scenario=dataclasses.replace(result.scenario, text=text))
    html = render_report(result, compare=other)
    table = re.search(r'<table id="scenario-differences">(.*?)</table>', html, re.S).group(1)
    rows = [
        r for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S) if (r := re.findall(r"<td>(.*?)</td>", tr))
    ]
    assert rows == [["venues.cex-weth.depth_usd", "5000000.0", "50000000.0"]]
    titles = [c.title for c in build_charts(result, compare=other)]
    assert all(t.startswith(("A: ", "A and B: ")) for t in titles), titles
    assert titles[0] == "A and B: Bad-debt tail, both runs"


def test_runs_on_different_seeds_are_compared_as_independent(result):
    other = dataclasses.replace(result, seed=8)
    html = render_report(result, compare=other)
    assert 'id="paired-note">Not paired: the runs differ in seed or number of paths' in html
