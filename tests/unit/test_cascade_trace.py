"""The cascade trace: one path re-simulated round by round, checked by hand and against the run it comes from.

Hand calculations: the two-account cascade of tests/unit/engine/test_cascade.py (A's liquidation pushes ETH
down a linear book and B's follows in the next round of the same step) and a Compound toxic spiral iterated by
hand. The re-simulated worst path is compared, metric by metric and exactly, with the run's own row.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from tests.unit.test_top_accounts import DROP_22, _jump_world, lending_world

import firesale
from firesale.engine.trace import trace_path, worst_path
from firesale.exceptions import ParameterError

D = 1e5  # off-chain depth of the linear book: $100k moves the price 1 %
DROP_10 = 'model = "shock"\nshape = "drop"\ndepth = { WETH = 0.10 }\nstart = 300'


def _sale(amount: float, price: float, already: float = 0.0, chunks: int = 4) -> tuple[float, float]:
    """A linear-impact sale in equal chunks, by hand: (USD proceeds, cumulative notional after)."""
    q = amount * price / chunks
    proceeds, v = 0.0, already
    for _ in range(chunks):
        proceeds += q * math.exp(-(0.01 * v / D + 0.01 * (v + q) / D) / 2)
        v += q
    return proceeds, v


def test_two_rounds_of_one_step_by_hand(tmp_path):
    # ETH drops 10 % to 1800 at step 1. Round 1: A (100 WETH / 150,000 USDC, HF 0.96) has half its debt repaid,
    # 75,000, and 75,000 * 1.05 / 1800 = 43.75 WETH seized and sold, worth 78,750 at 1800. The sale moves ETH to p1;
    # round 2: B (10 WETH / 14,350 USDC) is now below 1: 7,175 repaid, 7,175 * 1.05 / p1 WETH sold, worth 7,533.75.
    sc = lending_world(tmp_path, "a,WETH,100,0\na,USDC,0,150000\nb,WETH,10,0\nb,USDC,0,14350\n", market=DROP_10,
                       protocol="aave_v3", depth_usd=D)  # fmt: skip
    run = firesale.simulate(sc, n_paths=1, seed=0, kernel="numpy")
    t = trace_path(sc, 0, 1, 0, kernel="numpy")
    proceeds, v1 = _sale(43.75, 1800.0)
    p1 = 1800.0 * math.exp(-0.01 * v1 / D)
    rounds = t.rounds.set_index(["step", "round"])
    assert list(rounds.index) == [(1, 1), (1, 2)]
    assert rounds.loc[(1, 1), "sold_usd"] == pytest.approx(78_750.0, rel=1e-12)
    assert rounds.loc[(1, 1), "repaid_usd"] == pytest.approx(75_000.0, rel=1e-12)
    assert rounds.loc[(1, 1), "slippage_usd"] == pytest.approx(78_750.0 - proceeds, rel=1e-9)
    assert rounds.loc[(1, 2), "sold_usd"] == pytest.approx(7_533.75, rel=1e-9)
    assert rounds.loc[(1, 2), "repaid_usd"] == pytest.approx(7_175.0, rel=1e-12)
    assert list(rounds["n_liquidations"]) == [1, 1]
    weth = t.flows[(t.flows["asset"] == "WETH") & (t.flows["round"] == 2)]
    assert weth["sold_tokens"].item() == pytest.approx(7_175.0 * 1.05 / p1, rel=1e-9)
    casc = t.cascades()
    assert casc[["step", "rounds", "n_liquidations"]].values.tolist() == [[1, 2, 2]]
    assert casc["bad_debt_usd"].item() == 0.0
    assert t.metrics.equals(run.metrics.loc[0])


def test_a_toxic_spiral_round_by_round(tmp_path):
    # Compound's close factor (50 % at any shortfall) at 1560, bonus 5 %: every round seizes 1.05 of collateral per
    # 1 of debt and the account gets worse, until its collateral runs out; what is left of its debt is bad debt,
    # formed in the step of the drop. The book is so deep (1e15) that every sale is at 1560.
    sc = lending_world(tmp_path, "a,WETH,100,0\na,USDC,0,150000\n", market=DROP_22)
    t = trace_path(sc, 0, 1, 0)
    coll, debt, expected = 100.0, 150_000.0, []
    while coll > 0 and coll * 1560 * 0.8 < debt:
        cover = debt * 0.5
        seize = cover * 1.05 / 1560
        if seize > coll:
            seize, cover = coll, coll * 1560 / 1.05
        expected.append((seize * 1560, cover))
        coll, debt = coll - seize, debt - cover
    assert len(expected) > 3
    assert (t.rounds["step"] == 1).all()
    assert list(t.rounds["round"]) == list(range(1, len(expected) + 1))
    np.testing.assert_allclose(t.rounds[["sold_usd", "repaid_usd"]].to_numpy(), expected, rtol=1e-6)
    casc = t.cascades()
    assert casc["bad_debt_formed_usd"].item() == pytest.approx(debt, rel=1e-6)
    assert t.metrics["bad_debt_usd"] == pytest.approx(debt, rel=1e-6)


@pytest.mark.parametrize("keep_paths", [True, False])
def test_the_worst_path_re_simulated_is_the_runs(tmp_path, keep_paths):
    positions = "".join(f"a{i},WETH,10,0\na{i},USDC,0,{12_000 + 150 * i}\n" for i in range(20))
    sc = _jump_world(tmp_path, positions)
    run = firesale.simulate(sc, n_paths=700, seed=3, keep_paths=keep_paths)
    w = worst_path(run.metrics)
    assert w >= 256  # not in the first block: the re-simulation starts its block at the right place
    t = trace_path(sc, 3, 700, w)
    assert t.path == w
    assert t.metrics.equals(run.metrics.loc[w])  # every metric, bit for bit
    assert t.metrics["bad_debt_usd"] == run.metrics["bad_debt_usd"].max() > 0
    # The trace's per-step bad debt ends at the path's; its rounds add up to its liquidations.
    assert t.steps.groupby("step")["bad_debt_usd"].sum().iloc[-1] == pytest.approx(t.metrics["bad_debt_usd"])
    assert t.rounds["repaid_usd"].sum() == pytest.approx(t.metrics["liquidated_usd"], rel=1e-12)
    assert t.rounds["n_liquidations"].sum() == t.metrics["n_liquidations"]
    assert t.rounds.groupby("step")["round"].max().max() == t.metrics["max_cascade_rounds"]


def test_worst_path_ties_go_to_the_lowest_number():
    m = pd.DataFrame({"bad_debt_usd": [1.0, 5.0, 3.0, 5.0]}, index=pd.RangeIndex(10, 14, name="path"))
    assert worst_path(m) == 11
    with pytest.raises(ParameterError, match="'path' parameter of trace_path"):
        trace_path(firesale.load_scenario("toy-spiral"), 0, 4, 4)


def test_a_stored_runs_report_shows_top_accounts_and_the_waterfall(tmp_path):
    from firesale.cli import main
    from firesale.store import RunStore

    (tmp_path / "s.toml").write_text(
        lending_world(
            tmp_path,
            "a,WETH,100,0\na,USDC,0,150000\nb,WETH,10,0\nb,USDC,0,12000\nc,WETH,10,0\nc,USDC,0,12900\n",
            market=DROP_22,
        ).text
    )
    store = tmp_path / "runs"
    res = CliRunner().invoke(
        main, ["run", str(tmp_path / "s.toml"), "--paths", "2", "--seed", "0", "--store", str(store)]
    )
    assert res.exit_code == 0, res.output
    run_id = str(RunStore(store).runs()["id"].iloc[0])
    assert "accounts" in RunStore(store).get(run_id).series_names()
    out = tmp_path / "r.html"
    res = CliRunner().invoke(main, ["report", run_id, "--store", str(store), "-o", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert "Why: accounts and the cascade" in html
    assert 'id="top-accounts-bad-debt-lender"' in html and 'id="top-accounts-at-risk-lender"' in html
    assert "lender: 1 account carries 80% of the expected bad debt" in html
    assert 'id="chart-cascade-waterfall"' in html
    assert "The worst path (path 0, bad debt $1.43k at the end) cascaded on 1 step" in html
    assert "Top accounts by expected bad debt" not in html  # the "not in this report yet" note is gone


CHROMIUM = Path("/usr/bin/chromium")
DRAWN = """() => {
  const d = document.querySelector('#chart-cascade-waterfall');
  return d !== null && d.querySelectorAll('g.trace').length > 0;
}"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not found at /usr/bin/chromium")
def test_the_waterfall_draws_in_chromium(tmp_path):
    # As tests/unit/report/test_browser.py, for a run whose worst path can be re-simulated (that test's run is
    # made by hand, so its waterfall is, rightly, left out).
    sync_api = pytest.importorskip("playwright.sync_api")
    from firesale.report import write_report

    sc = lending_world(
        tmp_path, "a,WETH,100,0\na,USDC,0,150000\nc,WETH,10,0\nc,USDC,0,12900\n", market=DROP_22
    )
    report = write_report(firesale.simulate(sc, n_paths=2, seed=0), tmp_path / "r.html")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )  # fmt: skip
        try:
            page = ctx.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.resolve().as_uri(), wait_until="load")
            page.wait_for_function(DRAWN, timeout=60_000)
            bars = page.eval_on_selector_all("#chart-cascade-waterfall g.trace.bars", "els => els.length")
            rows = page.eval_on_selector_all("#top-accounts-at-risk-lender tbody tr", "els => els.length")
        finally:
            ctx.close()
    assert bars == 1  # WETH sold, one bar trace (the debt repaid is a scatter)
    assert rows == 2
    assert errors == []
