"""Borrowers who top up or repay near liquidation, on the toy book of ``_toy`` (every number by hand).

Trigger 1.1, target 1.25, every borrower below the trigger responds (probability 1), budget a quarter of the
starting collateral value: 0.25 x 1 WETH x $2,000 = $500 per account.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.agents._toy import price, scenario, world

from firesale.engine.simulate import simulate

AGENTS = """
[agents.borrowers]
trigger_health_factor = 1.1
target_health_factor = 1.25
response_probability = 1.0
budget_share = 0.25
{extra}
"""

# Step 1 (p = 1900): A's threshold-weighted collateral 0.83 x 1900 = 1577 < 1.1 x 1500 = 1650, so A tops up to
# 1.25 x 1500 = 1875: (1875 - 1577) / (0.83 x 1900) WETH, which costs that times $1,900 (< the $500 budget).
TOP_UP_1 = (1.25 * 1500 - 0.83 * 1900) / (0.83 * 1900)


def _run(agents: str, n_steps: int, weth: str = "") -> list[tuple[float, float, float]]:
    """(A's WETH, A's USDC debt, B's WETH) after each step, path 0."""
    w = world(agents, n_steps, weth=weth)
    out = []
    for _ in range(n_steps):
        w.step()
        s = w.states[0]
        out.append((float(s.collateral[0, 0, 0]), float(s.debt[0, 0, 1]), float(s.collateral[0, 1, 0])))
    return out


def test_without_the_agent_a_is_liquidated_at_step_2() -> None:
    steps = _run("", 3)
    assert steps[0][1] == 1500.0  # step 1: HF 1.0513, above 1
    assert steps[1][1] == 0.0  # step 2: 0.83 x 1800 = 1494 < 1500, close factor 1 repays all
    assert steps[1][0] == pytest.approx(1 - 1500 * 1.05 / 1800)  # seized 0.875 WETH


def test_a_top_up_at_step_1_avoids_the_liquidation() -> None:
    steps = _run(AGENTS.format(extra=""), 3)
    assert steps[0][0] == pytest.approx(1 + TOP_UP_1, rel=1e-12)  # 1.188966...
    # Step 2 (p = 1800): 0.83 x 1800 x 1.188966 = 1776.3, HF 1.184: above the trigger, no liquidation.
    # Step 3 (p = 1700): 0.83 x 1700 x 1.188966 = 1677.6, HF 1.118: still above the trigger.
    for coll, debt, b in steps:
        assert coll == pytest.approx(1 + TOP_UP_1, rel=1e-12)
        assert debt == 1500.0
        assert b == 1.0  # B: HF 0.83 p / 1200 >= 1.176 up to step 3, never below the trigger


def test_the_budget_limits_the_second_top_up() -> None:
    # Step 4 (p = 1600): 0.83 x 1600 x (1 + TOP_UP_1) = 1578.9 < 1650: A wants to go back to 1.25 but has
    # $500 - TOP_UP_1 x $1,900 = $140.96 left, which buys 140.96 / 1600 WETH.
    left = 500.0 - TOP_UP_1 * 1900
    steps = _run(AGENTS.format(extra=""), 4)
    assert steps[3][0] == pytest.approx(1 + TOP_UP_1 + left / 1600, rel=1e-12)
    assert steps[3][1] == 1500.0  # HF 0.83 x 1600 x 1.2771 / 1500 = 1.1306: not liquidated
    res = simulate(scenario(AGENTS.format(extra=""), n_steps=4), n_paths=2)
    assert res.metrics["lender.topped_up_usd"].iloc[0] == pytest.approx(500.0, rel=1e-12)  # the whole budget


def test_repay_brings_the_health_factor_back_with_debt() -> None:
    # Step 1: repay 1500 - 1577 / 1.25 = 238.4 USDC, so that 1577 / 1261.6 = 1.25.
    steps = _run(AGENTS.format(extra='action = "repay"'), 3)
    assert steps[0][1] == pytest.approx(0.83 * 1900 / 1.25, rel=1e-12)  # 1500 - 238.4
    assert steps[0][0] == 1.0
    # Step 2: 0.83 x 1800 / 1261.6 = 1.184; step 3: 1411 / 1261.6 = 1.118: no liquidation, no more repayment.
    assert steps[2][1] == pytest.approx(1261.6, rel=1e-12)
    res = simulate(scenario(AGENTS.format(extra='action = "repay"')), n_paths=2)
    assert res.metrics["lender.repaid_by_borrowers_usd"].iloc[0] == pytest.approx(238.4, rel=1e-12)


def test_a_supply_cap_stops_the_top_up() -> None:
    # WETH supply 10 tokens (the book's 2 included), cap 10.1: room for 0.1 WETH of A's 0.188966.
    reserve = "total_supply = 10.0\nsupply_cap = 10.1"
    steps = _run(AGENTS.format(extra=""), 2, weth=reserve)
    assert steps[0][0] == pytest.approx(1.1, rel=1e-12)
    # Step 2 (p = 1800): 0.83 x 1800 x 1.1 = 1643.4 < 1650 wants more, but the cap is full; HF 1.0956 > 1 holds.
    assert steps[1][0] == pytest.approx(1.1, rel=1e-12)
    res = simulate(scenario(AGENTS.format(extra=""), n_steps=2, weth=reserve), n_paths=2)
    wanted_2 = (1.25 * 1500 - 0.83 * 1800 * 1.1) / (0.83 * 1800)
    assert res.metrics["lender.supply_capped_usd"].iloc[0] == pytest.approx(
        (TOP_UP_1 - 0.1) * 1900 + wanted_2 * 1800, rel=1e-12
    )


def test_a_cap_of_zero_is_no_cap_as_in_aave() -> None:
    steps = _run(AGENTS.format(extra=""), 1, weth="total_supply = 10.0\nsupply_cap = 0.0")
    assert steps[0][0] == pytest.approx(1 + TOP_UP_1, rel=1e-12)


def test_responses_do_not_depend_on_batch_size() -> None:
    agents = AGENTS.format(extra="").replace("response_probability = 1.0", "response_probability = 0.5")
    sc = scenario(agents, n_steps=3, n_paths=600)
    one = simulate(sc, n_paths=600, batch_size=1024)
    blocks = simulate(sc, n_paths=600, batch_size=256)
    np.testing.assert_array_equal(one.metrics["lender.topped_up_usd"], blocks.metrics["lender.topped_up_usd"])
    np.testing.assert_array_equal(one.metrics["bad_debt_usd"], blocks.metrics["bad_debt_usd"])
    # A responds at step 1 with probability 0.5, else is liquidated at step 2 unless it responded at step 2.
    share = float((one.metrics["lender.topped_up_usd"] > 0).mean())
    assert 0.75 - 0.08 < share < 0.75 + 0.08  # 1 - 0.5 x 0.5; 600 paths: 3 standard errors 0.053
    first = simulate(sc, n_paths=256)
    np.testing.assert_array_equal(
        first.metrics["lender.topped_up_usd"], one.metrics["lender.topped_up_usd"][:256]
    )


def test_off_by_default_offers_no_series_or_metrics() -> None:
    res = simulate(scenario(""), n_paths=2)
    assert not [c for c in res.metrics.columns if c.startswith("lender.")]
    assert price(1) == 1900.0
