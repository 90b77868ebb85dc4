"""Top accounts: each account's bad debt and debt at risk, mean and standard error over paths, by block.

Expected values come from hand calculations of the liquidation rules (a Compound toxic spiral iterated by
hand, as in tests/unit/engine/test_cascade.py), from the run's own per-path metrics on a one-account book
(where the account's loss *is* the protocol's, so its mean and standard error are NumPy's over the metric),
and from NumPy on random arrays for the reducer.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import firesale
from firesale.engine._summaries import AccountSummary
from firesale.engine.seeding import BLOCK_SIZE
from firesale.report._accounts import accounts_tables, concentration
from firesale.report._view import as_view
from firesale.scenario import parse_scenario


def lending_world(tmp_path: Path, positions: str, *, market: str, protocol: str = "compound_v2",
                  depth_usd: float = 1e15, n_steps: int = 3, impact: str = "linear") -> firesale.Scenario:  # fmt: skip
    """WETH collateral against USDC debt, one off-chain WETH book, market oracles, no gas."""
    (tmp_path / "pos.csv").write_text("account,asset,collateral_amount,debt_amount\n" + positions)
    cf = "" if protocol == "compound_v2" else "close_factor_hf_threshold = 0.95"
    text = f"""
name = "accounts"
[simulation]
n_steps = {n_steps}
dt = 300
n_paths = 1
max_cascade_rounds = 50
record = ["price", "bad_debt", "liquidated", "rounds", "flags"]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
{market}
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = {depth_usd}
impact = "{impact}"
permanent = 1.0
half_life = 1e9
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
type = "{protocol}"
positions = "pos.csv"
close_factor = 0.5
{cf}
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
[agents]
gas_per_liquidation = 0
"""
    return parse_scenario(text, source="t.toml", base_dir=tmp_path)


DROP_22 = 'model = "shock"\nshape = "drop"\ndepth = { WETH = 0.22 }\nstart = 300'


def _spiral(coll: float, debt: float, price: float) -> float:
    """Compound's close factor 50 % at any shortfall, bonus 5 %, iterated by hand: the debt left when it stops."""
    while coll > 0 and coll * price * 0.8 < debt:
        cover = debt * 0.5
        seize = cover * 1.05 / price
        if seize > coll:
            seize, cover = coll, coll * price / 1.05
        coll, debt = coll - seize, debt - cover
    return debt - coll * price


def test_three_accounts_by_hand(tmp_path):
    # ETH falls 22 % to 1560 on every path. a (100 WETH / 150,000 USDC) spirals to zero collateral: its bad debt is
    # what the hand iteration leaves, and all of its 150,000 of debt is at risk (repaid or lost). b (10 / 12,000:
    # HF 10*1560*0.8/12000 = 1.04) is never touched. c (10 / 12,900: HF 0.967) is liquidated once, 6,450 repaid
    # (HF after: 5.659*1560*0.8/6450 = 1.095), and ends solvent.
    sc = lending_world(tmp_path, "a,WETH,100,0\na,USDC,0,150000\nb,WETH,10,0\nb,USDC,0,12000\n"
                                 "c,WETH,10,0\nc,USDC,0,12900\n", market=DROP_22)  # fmt: skip
    r = firesale.simulate(sc, n_paths=3, seed=0, kernel="numpy")
    acc = r.accounts.set_index("account")
    bad_a = _spiral(100.0, 150_000.0, 1560.0)
    assert bad_a > 0
    assert list(acc.index) == ["a", "c"]  # b never lost or repaid anything: not listed
    assert acc.loc["a", "bad_debt_mean_usd"] == pytest.approx(bad_a, rel=1e-6)
    assert acc.loc["a", "debt_at_risk_mean_usd"] == pytest.approx(150_000.0, rel=1e-9)
    assert acc.loc["c", "bad_debt_mean_usd"] == 0.0
    assert acc.loc["c", "debt_at_risk_mean_usd"] == pytest.approx(6_450.0, rel=1e-9)
    assert acc.loc["a", "bad_debt_se_usd"] == pytest.approx(0.0, abs=1e-6)  # every path is the same
    # The starting book at starting prices: 100 * 2000 of collateral, HF 200,000 * 0.8 / 150,000.
    assert acc.loc["a", "debt_usd"] == 150_000.0
    assert acc.loc["a", "collateral_usd"] == 200_000.0
    assert acc.loc["a", "health_factor"] == pytest.approx(200_000 * 0.8 / 150_000, rel=1e-12)
    assert (acc["n_paths"] == 3).all()
    # The accounts add up to the protocol's bad debt, path by path (here every path is alike).
    assert acc["bad_debt_mean_usd"].sum() == pytest.approx(r.metrics["bad_debt_usd_lender"].mean(), rel=1e-12)


#: About one market-wide crash of 26 % (log jump -0.3, s.d. 0.15) in two paths over the hour: some paths gap
#: through the thresholds (bad debt), some are liquidated in time, some never move much.
JUMPS = ('model = "merton"\nvol = { WETH = 0.8 }\njump_intensity = 6000\njump_mean = { WETH = -0.3 }\n'
         "jump_std = { WETH = 0.15 }")  # fmt: skip


def _jump_world(tmp_path: Path, positions: str) -> firesale.Scenario:
    return lending_world(tmp_path, positions, market=JUMPS, protocol="aave_v3", depth_usd=2e5, n_steps=12,
                         impact="sqrt")  # fmt: skip


def test_one_account_is_the_protocol_mean_and_standard_error_over_paths(tmp_path):
    # With one account its bad debt on each path is the protocol's, and its debt at risk is the debt liquidators
    # repaid (USDC stays at $1, so the price it was repaid at is the end's) plus that bad debt.
    sc = _jump_world(tmp_path, "a,WETH,10,0\na,USDC,0,13000\n")
    r = firesale.simulate(sc, n_paths=700, seed=4)
    m = r.metrics
    bad = m["bad_debt_usd_lender"].to_numpy()
    risk = m["liquidated_usd_lender"].to_numpy() + bad
    assert (bad > 0).sum() > 10 and (bad == 0).sum() > 10  # the paths differ: a real mean and spread
    row = r.accounts.set_index("account").loc["a"]
    assert row["bad_debt_mean_usd"] == pytest.approx(bad.mean(), rel=1e-10)
    assert row["bad_debt_se_usd"] == pytest.approx(bad.std(ddof=1) / math.sqrt(700), rel=1e-9)
    assert row["debt_at_risk_mean_usd"] == pytest.approx(risk.mean(), rel=1e-9)
    assert row["debt_at_risk_se_usd"] == pytest.approx(risk.std(ddof=1) / math.sqrt(700), rel=1e-6)


def test_accounts_do_not_depend_on_batching_or_streaming(tmp_path):
    positions = "".join(f"a{i},WETH,10,0\na{i},USDC,0,{12_000 + 150 * i}\n" for i in range(20))
    sc = _jump_world(tmp_path, positions)
    a = firesale.simulate(sc, n_paths=600, seed=11, batch_size=256).accounts
    b = firesale.simulate(sc, n_paths=600, seed=11, batch_size=1024, keep_paths=False).accounts
    assert len(a) > 5 and (a["bad_debt_mean_usd"] > 0).any()
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_the_reducer_against_numpy_any_arrival_order():
    rng = np.random.default_rng(0)
    n, k = 3 * BLOCK_SIZE + 17, 5
    bad = np.maximum(rng.normal(0, 100, (n, k)), 0.0) * np.arange(k)  # account 0 never loses
    risk = bad + rng.uniform(0, 50, (n, k))
    start = pd.DataFrame({"account": list("vwxyz"), "members": 1, "debt_usd": 1.0, "collateral_usd": 2.0,
                          "health_factor": 1.5})  # fmt: skip
    in_order, shuffled = AccountSummary("p", start), AccountSummary("p", start)
    in_order.add(bad, risk, 0)
    for first in (2 * BLOCK_SIZE, 0, BLOCK_SIZE, 3 * BLOCK_SIZE):  # blocks arriving out of order
        sl = slice(first, first + BLOCK_SIZE)
        shuffled.add(bad[sl], risk[sl], first)
    a, b = in_order.frame(), shuffled.frame()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    a = a.set_index("account")
    np.testing.assert_allclose(a["bad_debt_mean_usd"].reindex(list("vwxyz")), bad.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(a["debt_at_risk_se_usd"].reindex(list("vwxyz")),
                               risk.std(axis=0, ddof=1) / math.sqrt(n), rtol=1e-10)  # fmt: skip
    with pytest.raises(ValueError, match="already added"):
        shuffled.add(bad[:BLOCK_SIZE], risk[:BLOCK_SIZE], 0)
    # Capped at 2 accounts per ranking: the others are summed into one row, so the totals stay the book's.
    capped = in_order.frame(limit=2)
    assert list(capped["account"]) == ["z", "y", "(other accounts)"]
    assert capped["bad_debt_mean_usd"].sum() == pytest.approx(bad.mean(axis=0).sum(), rel=1e-12)


def test_concentration_counts_the_fewest_accounts_to_80_percent():
    assert concentration(np.array([50.0, 30.0, 10.0, 10.0])) == 2  # 50 + 30 = 80 of 100
    assert concentration(np.array([1.0, 1.0, 1.0, 1.0, 1.0])) == 4
    assert concentration(np.zeros(3)) == 0


def test_the_section_ranks_the_accounts_and_says_how_concentrated(tmp_path):
    sc = lending_world(tmp_path, "a,WETH,100,0\na,USDC,0,150000\nb,WETH,10,0\nb,USDC,0,12000\n"
                                 "c,WETH,10,0\nc,USDC,0,12900\n", market=DROP_22)  # fmt: skip
    r = firesale.simulate(sc, n_paths=2, seed=0)
    tables = accounts_tables(as_view(r))
    assert [t.key for t in tables] == ["top-accounts-bad-debt-lender", "top-accounts-at-risk-lender"]
    assert [row[1] for row in tables[0].rows] == ["a"]
    assert [row[1] for row in tables[1].rows] == ["a", "c"]
    bad = _spiral(100.0, 150_000.0, 1560.0)
    assert 1_000 <= bad < 10_000  # shown as $x.xxk
    assert tables[0].rows[0][6] == "100%"
    assert tables[1].rows[1][8] == f"{100 * 6450 / (150_000 + 6450):.2f}%"
    assert tables[0].note.startswith(
        f"lender: 1 account carries 80% of the expected bad debt (${bad / 1000:.2f}k); 1 account ends with bad "
        "debt on some path. 1 account carries 80% of the $156k of debt at risk."
    )
