"""Users' borrowing power from the starting book, and what a bumped parameter costs the users, worked by hand.

Borrowing power is Aave v3's ``availableBorrows`` (aave/aave-v3-core contracts/protocol/libraries/logic/
GenericLogic.sol, ``calculateAvailableBorrows``): max(0, Σ collateral × price × ltv − debt).

The scenario book is ``tests/unit/agents/test_borrowing.py``'s (WETH $2,000, ltv 0.80, threshold 0.83; WETH rising
5 % per step; borrow above health factor 1.3 back to 1.25):

- A: 1 WETH against 1,500 USDC: 0.80 × 2000 − 1500 = 100;
- B: 1 WETH against 1,200 USDC: 1600 − 1200 = 400;
- C (with_c): 1 WETH against 1,000 USDC: 600.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.agents.test_borrowing import rising

from firesale.analysis.borrowing_power import (
    available_borrows,
    borrowing_power,
    sensitivity_sentences,
    total_borrowing_power,
)
from firesale.analysis.sensitivity import parameter_bumps, sensitivities
from firesale.scenario import load_scenario


def test_available_borrows_of_a_three_account_book_by_hand() -> None:
    # Reserves WETH ($2,000, ltv 0.80) and USDC ($1, ltv 0.75).
    # A: 1 WETH, owes 1,500 USDC: 1600 - 1500 = 100.
    # B: 1 WETH and 1,000 USDC collateral, owes 1,200 USDC: 1600 + 750 - 1200 = 1150.
    # C: 0.5 WETH, owes 1,000 USDC: 800 - 1000 < 0, floored at 0.
    collateral = np.array([[1.0, 0.0], [1.0, 1000.0], [0.5, 0.0]])
    debt = np.array([[0.0, 1500.0], [0.0, 1200.0], [0.0, 1000.0]])
    ltv = np.tile([0.80, 0.75], (3, 1))
    got = available_borrows(collateral, debt, np.array([2000.0, 1.0]), ltv)
    np.testing.assert_allclose(got, [100.0, 1150.0, 0.0], rtol=1e-12)
    # an e-mode ltv of 0.90 on B's WETH: 1800 + 750 - 1200 = 1350
    ltv[1, 0] = 0.90
    assert available_borrows(collateral, debt, np.array([2000.0, 1.0]), ltv)[1] == pytest.approx(1350.0)


def test_the_book_per_reserve_adds_up_to_the_accounts_total() -> None:
    sc = rising(with_c=True, usdc="total_supply = 1e6\nborrow_cap = 4000.0")
    frame = borrowing_power(sc).set_index("reserve")
    assert total_borrowing_power(sc) == pytest.approx(100 + 400 + 600, rel=1e-12)
    weth, usdc = frame.loc["WETH"], frame.loc["USDC"]
    assert weth["collateral_usd"] == 6000.0 and weth["power_usd"] == pytest.approx(4800.0)
    assert weth["available_usd"] == pytest.approx(1100.0, rel=1e-12)  # all of it: WETH is the only collateral
    assert usdc["available_usd"] == 0.0 and usdc["debt_usd"] == pytest.approx(3700.0)
    assert usdc["liquidity_usd"] == pytest.approx(1e6 - 3700.0)  # total_supply - borrows
    assert usdc["cap_room_usd"] == pytest.approx(300.0)  # borrow_cap - borrows
    assert np.isnan(weth["liquidity_usd"]) and np.isnan(weth["cap_room_usd"])  # neither given for WETH


def test_accounts_whose_debt_exceeds_their_power_count_zero_not_negative() -> None:
    # ltv 0.55: A 1100 - 1500 and B 1100 - 1200 are below 0 (floored), C 1100 - 1000 = 100.
    assert total_borrowing_power(rising(ltv=0.55, with_c=True)) == pytest.approx(100.0, rel=1e-12)


def test_ltv_and_borrow_caps_are_bumped_only_where_borrowers_borrow() -> None:
    keys = [b.key for b in parameter_bumps(load_scenario("toy-spiral"))[0]]
    assert not any(k.endswith((".ltv", ".borrow_cap")) for k in keys)
    keys = [b.key for b in parameter_bumps(rising(usdc="total_supply = 1e6\nborrow_cap = 2800.0"))[0]]
    assert "protocols.lender.reserves.WETH.ltv" in keys
    assert "protocols.lender.reserves.USDC.borrow_cap" in keys
    assert "protocols.lender.reserves.USDC.ltv" not in keys  # no collateral of the book is USDC


def _costs(sc, *keys):  # type: ignore[no-untyped-def]
    bumps = [b for b in parameter_bumps(sc)[0] if b.key in keys]
    res = sensitivities(sc, n_paths=2, bumps=bumps)
    return res, res.costs.set_index("key")


def test_a_lower_ltv_cuts_borrowing_power_by_the_hand_computed_amount() -> None:
    # ltv 0.79: A 1580 - 1500 = 80, B 1580 - 1200 = 380: 460 (-40); ltv 0.81: 120 + 420 = 540 (+40).
    # A threshold leaves it alone (liquidations, not new borrows), but it moves what B borrows at step 1
    # (p = 2100): the health-factor target allows threshold x 2100 / 1.25 - 1200, 177.6 at 0.82, 194.4 at 0.83 and
    # 211.2 at 0.84, so (211.2 - 177.6) / 2 = 16.8 per step up. The ltv does not bind there (0.79 x 2100 = 1659).
    ltv, thr = "protocols.lender.reserves.WETH.ltv", "protocols.lender.reserves.WETH.liquidation_threshold"
    res, c = _costs(rising(), ltv, thr)
    assert c.loc[ltv, "power_base_usd"] == pytest.approx(500.0, rel=1e-12)
    assert c.loc[ltv, "power_down_change_usd"] == pytest.approx(-40.0, rel=1e-9)
    assert c.loc[ltv, "power_up_change_usd"] == pytest.approx(40.0, rel=1e-9)
    assert c.loc[ltv, "power_effect_usd"] == pytest.approx(40.0, rel=1e-9)
    assert c.loc[ltv, "borrowed_effect_usd"] == 0.0
    assert c.loc[thr, "power_effect_usd"] == 0.0
    assert c.loc[thr, "borrowed_down_effect_usd"] == pytest.approx(177.6 - 194.4, rel=1e-9)
    assert c.loc[thr, "borrowed_effect_usd"] == pytest.approx(16.8, rel=1e-9)
    words = dict(sensitivity_sentences(res))
    assert words[ltv] == (
        "Lowering lender WETH ltv to 0.79 leaves expected bad debt unchanged and cuts users' borrowing power by "
        "$40 (8.0 %); it leaves the borrowing they do unchanged."
    )


def test_a_lower_borrow_cap_costs_the_borrowing_it_refuses() -> None:
    # Cap 2,800 on 2,700 borrowed: B gets 100 of its 194.4. x0.8 = 2,240 is below the borrows: nothing (-100);
    # x1.25 = 3,500 leaves room for all 194.4 (+94.4); per step up (194.4 - 0) / 2 = 97.2. Power is the accounts'.
    cap = "protocols.lender.reserves.USDC.borrow_cap"
    res, c = _costs(rising(usdc="total_supply = 1e6\nborrow_cap = 2800.0"), cap)
    assert c.loc[cap, "borrowed_down_effect_usd"] == pytest.approx(-100.0, rel=1e-9)
    assert c.loc[cap, "borrowed_up_effect_usd"] == pytest.approx(94.4, rel=1e-9)
    assert c.loc[cap, "borrowed_effect_usd"] == pytest.approx(97.2, rel=1e-9)
    assert c.loc[cap, "power_effect_usd"] == 0.0
    assert dict(sensitivity_sentences(res))[cap].startswith(
        "Scaling lender USDC borrow cap by x0.8 leaves expected bad debt unchanged and users' borrowing power "
        "unchanged; it cuts the borrowing they do by $100 per path"
    )


def test_an_emode_account_borrows_against_its_category_ltv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # toy-spiral's reserves (WETH $2,000, ltv 0.80) with a hand book; a is in e-mode 1 (ltv 0.93 on WETH):
    # a: 10 x 2000 x 0.93 - 12000 = 6600; b (no e-mode): 5 x 2000 x 0.80 - 4000 = 4000.
    from firesale.scenario import builtin_text, parse_scenario

    (tmp_path / "pos.csv").write_text(
        "account,asset,collateral_amount,debt_amount,emode\n"
        "a,WETH,10,0,1\na,USDC,0,12000,1\nb,WETH,5,0,0\nb,USDC,0,4000,0\n"
    )
    text = builtin_text("toy-spiral")
    start, end = text.index("[protocols.generate]"), text.index("[protocols.reserves.WETH]")
    text = (
        text[:start].replace("reserve_usd = 100000", 'reserve_usd = 100000\npositions = "pos.csv"')
        + text[end:]
    )
    text += (
        '\n[protocols.emode.1]\nlabel = "ETH correlated"\nltv = 0.93\nliquidation_threshold = 0.95\n'
        'liquidation_bonus = 0.01\ncollateral = ["WETH"]\n'
    )
    sc = parse_scenario(text, source="t.toml", base_dir=tmp_path)
    assert total_borrowing_power(sc) == pytest.approx(6600.0 + 4000.0, rel=1e-12)
    weth = borrowing_power(sc).set_index("reserve").loc["WETH"]
    assert weth["power_usd"] == pytest.approx(10 * 2000 * 0.93 + 5 * 2000 * 0.80, rel=1e-12)
