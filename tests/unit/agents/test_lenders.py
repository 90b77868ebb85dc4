"""A run on the toy book's USDC reserve (``_toy``): lenders on the global-games cutoff rule, by hand.

USDC supply 2,800 (no USDC collateral in the book, so all of it is passive lenders' money), borrows 1,200 + 1,500 =
2,700: utilisation 96.4 %, 100 USDC liquid. Cutoff 0.05, noise 0.02: the share that has asked to withdraw is
Phi((0.05 - theta) / 0.02), theta = (supply - borrows) / supply - loss share (no bad debt forms in three steps).
Phi is computed here from math.erf, not from the code's scipy.
"""

from __future__ import annotations

from math import erf, sqrt

import numpy as np
import pytest
from tests.unit.agents._toy import scenario, world

from firesale.engine.simulate import simulate

LENDERS = """
[agents.lenders]
cutoff = 0.05
noise = 0.02
"""


def phi(x: float) -> float:
    return 0.5 * (1 + erf(x / sqrt(2)))


def test_a_run_is_served_up_to_the_liquidity_and_the_rest_waits() -> None:
    # Step 1: theta = 100 / 2800; 2800 Phi((0.05 - 100/2800) / 0.02) = 2134.9 asked, 100 paid, the pool is dry.
    asked_1 = 2800 * phi((0.05 - 100 / 2800) / 0.02)
    w = world(LENDERS, 3, usdc="total_supply = 2800.0")
    w.step()
    u = w.states[0].users
    assert u.withdrawn[0, 1] == pytest.approx(100.0, rel=1e-12)
    assert u.queued[0, 1] == pytest.approx(asked_1 - 100, rel=1e-9)
    # Step 2: supply 2700 = borrows, theta = 0: asked 2800 Phi(2.5) in all, nothing paid. A is liquidated in the
    # cascade (0.83 x 1800 < 1500): its 1,500 USDC repaid makes the pool liquid again.
    w.step()
    assert u.withdrawn[0, 1] == pytest.approx(100.0, rel=1e-12)
    assert u.queued[0, 1] == pytest.approx(2800 * phi(2.5) - 100, rel=1e-9)
    assert w.states[0].debt[0, 0, 1] == 0.0
    # Step 3: supply 2700, borrows 1200, theta = 1500/2700: nobody new asks (Phi(-25) = 0 to 1e-137); the queue
    # takes the 1,500 liquid: 1,600 paid in all, 2800 Phi(2.5) - 1600 = 1182.6 still owed.
    w.step()
    assert u.withdrawn[0, 1] == pytest.approx(1600.0, rel=1e-12)
    assert u.queued[0, 1] == pytest.approx(2800 * phi(2.5) - 1600, rel=1e-9)


def test_run_metrics_and_series() -> None:
    res = simulate(scenario(LENDERS, n_steps=3, usdc="total_supply = 2800.0"), n_paths=2)
    m = res.metrics.iloc[0]
    assert m["lender.withdrawn_usd"] == pytest.approx(1600.0, rel=1e-12)
    assert m["lender.withdrawals_unserved_usd"] == pytest.approx(2800 * phi(2.5) - 1600, rel=1e-9)
    assert m["lender.withdrawals_unserved_peak_usd"] == pytest.approx(2800 * phi(2.5) - 100, rel=1e-9)
    util = res.paths["lender.utilisation_USDC"][0]
    # start 2700/2800; after step 1 2700/2700 (drained); after step 2 1200/2700; after step 3 1200/1200 (drained)
    np.testing.assert_allclose(util, [2700 / 2800, 1.0, 1200 / 2700, 1.0], rtol=1e-6)
    unserved = res.paths["lender.withdrawals_unserved_usd"][0]
    np.testing.assert_allclose(unserved[1:], [2800 * phi((0.05 - 1 / 28) / 0.02) - 100, 2800 * phi(2.5) - 100,
                                              2800 * phi(2.5) - 1600], rtol=1e-6)  # fmt: skip


def test_a_pool_at_full_utilisation_pays_nothing() -> None:
    # Supply 2700 = borrows: theta = 0 from the start; 2700 Phi(2.5) asked, none of it can be paid.
    res = simulate(scenario(LENDERS, n_steps=1, usdc="total_supply = 2700.0"), n_paths=2)
    m = res.metrics.iloc[0]
    assert m["lender.withdrawn_usd"] == 0.0
    assert m["lender.withdrawals_unserved_usd"] == pytest.approx(2700 * phi(2.5), rel=1e-9)


def test_a_higher_cutoff_runs_sooner() -> None:
    # cutoff 0.2: step 1 asks 2800 Phi((0.2 - 1/28) / 0.02) = 2800 (Phi(8.2) = 1 - 1e-16): the whole pool.
    res = simulate(scenario(LENDERS.replace("cutoff = 0.05", "cutoff = 0.2"), n_steps=1,
                            usdc="total_supply = 2800.0"), n_paths=2)  # fmt: skip
    assert res.metrics["lender.withdrawals_unserved_usd"].iloc[0] == pytest.approx(2700.0, rel=1e-9)


def test_losses_lower_the_signal() -> None:
    # A's collateral cut to 0.5 WETH ($1,000) against 1,500 USDC: $500 of bad debt owed in USDC, no reserves, so
    # the loss share is 500 / 2800 and theta = 100/2800 - 500/2800 = -1/7: 2800 Phi((0.05 + 1/7) / 0.02) asked.
    from firesale.agents.lenders import LenderRule, LendersSpec

    w = world(LENDERS, 1, usdc="total_supply = 2800.0")
    model, state = w.bp.plans[0].model, w.states[0]
    state.collateral[:, 0, 0] = 0.5
    model.lenders_withdraw(
        state, np.array([[2000.0, 1.0]] * 2), LenderRule(LendersSpec(cutoff=0.05, noise=0.02))
    )
    assert state.users.asked[0, 1] == pytest.approx(2800 * phi((0.05 + 1 / 7) / 0.02), rel=1e-9)
    assert state.users.withdrawn[0, 1] == pytest.approx(100.0, rel=1e-12)
