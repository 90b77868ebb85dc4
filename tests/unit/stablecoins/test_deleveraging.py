"""Klages-Mundt & Minca's deleveraging model against hand-derived cases.

The paper's numerical results are figures from random simulations (no tables of values), so the expected values
here are derived by hand from its equations, with the arithmetic written out.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from firesale.exceptions import ParameterError
from firesale.stablecoins.deleveraging import (
    MODE_FAILED,
    MODE_RECOVERY,
    MODE_RISK_BOUND,
    MODE_UNCONSTRAINED,
    leverage_bound_interval,
    min_achievable_leverage,
    simulate_constant_demand,
    speculator_step,
    unconstrained_issuance,
    var_leverage_bound,
)


def test_no_shock_equilibrium_holds_the_peg():
    # r = 1, supply = demand = 100: Delta* = y + sqrt(-r x y) = -100 + sqrt(100 * 100) = 0, p = 100 / 100 = 1.
    s = speculator_step(400.0, 100.0, 100.0, -100.0, beta=1.5, lam=0.9, expected_return=1.0)
    assert s.delta == 0.0 and s.stable_price == 1.0 and s.mode == MODE_UNCONSTRAINED


def test_unconstrained_issuance_square_root_rule():
    # r = 1.21, D = L = 100: new supply sqrt(1.21 * 100 * 100) = 110, Delta = 10, price 100 / 110.
    assert unconstrained_issuance(100.0, -100.0, 1.21) == pytest.approx(10.0)
    s = speculator_step(1000.0, 100.0, 100.0, -100.0, beta=1.5, lam=0.99, expected_return=1.21)
    assert s.supply == pytest.approx(110.0) and s.stable_price == pytest.approx(100.0 / 110.0)


def test_fixed_point_of_constant_demand_is_r_times_demand():
    # Iterating L <- sqrt(r D L) converges to L = r D, price 1 / r (Section 4.1: trading below 1 USD when r > 1).
    L = 100.0
    for _ in range(60):
        L = float(speculator_step(1e6, L, 100.0, -L, beta=1.5, lam=1.0, expected_return=1.05).supply)
    assert pytest.approx(105.0) == L and pytest.approx(1 / 1.05) == 100.0 / L


def test_binding_constraint_at_the_start():
    # z = 300, L = 100, D = 100, beta = 1.5, lam = 0.5: quadratic -1.5 d^2 + (0.5*400 - 1.5*200) d
    # + (0.5*300*100 - 1.5*100*100) = -1.5 d^2 - 100 d = 0, roots 0 and -200/3.
    lo, hi, ok = leverage_bound_interval(300.0, 100.0, 100.0, -100.0, 1.5, 0.5)
    assert ok and lo == pytest.approx(-200.0 / 3.0) and hi == pytest.approx(0.0, abs=1e-12)
    # r = 1.21 wants +10; the bound clips it to 0.
    s = speculator_step(300.0, 100.0, 100.0, -100.0, beta=1.5, lam=0.5, expected_return=1.21)
    assert s.delta == pytest.approx(0.0, abs=1e-12) and s.mode == MODE_RISK_BOUND


def test_deleveraging_after_a_shock_lifts_the_price_above_the_peg():
    # The collateral falls 5%: z = 285. Quadratic 1.5 d^2 + 107.5 d + 750 = 0 (0.5*385 - 300 = -107.5,
    # 1.5*100*100 - 0.5*285*100 = 750); disc = 107.5^2 - 4*1.5*750 = 11556.25 - 4500 = 7056.25.
    hi = (-107.5 + math.sqrt(7056.25)) / 3.0  # -7.8328...
    s = speculator_step(285.0, 100.0, 100.0, -100.0, beta=1.5, lam=0.5, expected_return=1.0)
    assert s.delta == pytest.approx(hi) and s.mode == MODE_RISK_BOUND
    assert s.stable_price == pytest.approx(100.0 / (100.0 + hi))  # 1.08498... > 1: deflationary deleveraging
    # After the buy-back the leverage sits exactly on the bound: beta * L / collateral = 0.5.
    assert 1.5 * s.supply / s.collateral_usd == pytest.approx(0.5)


def test_limit_to_deleveraging_puts_speculator_in_recovery_mode():
    # z = 240: lambda_min = 4 * 1.5 * 100 * 100 / 340^2 = 60000 / 115600 = 0.519 > 0.5, so the VaR bound
    # cannot be met; with lambda = 1 the interval holds Delta* = 0.
    assert min_achievable_leverage(240.0, 100.0, 100.0, 1.5) == pytest.approx(60000.0 / 115600.0)
    lo, hi, ok = leverage_bound_interval(240.0, 100.0, 100.0, -100.0, 1.5, 0.5)
    assert not ok and np.isnan(lo)
    s = speculator_step(240.0, 100.0, 100.0, -100.0, beta=1.5, lam=0.5, expected_return=1.0)
    assert s.mode == MODE_RECOVERY and s.delta == 0.0


def test_min_leverage_is_the_double_root():
    # At lam = lambda_min the quadratic's two roots coincide at s = 2 D L / (z + D) = 20000 / 340.
    lam = min_achievable_leverage(240.0, 100.0, 100.0, 1.5)
    lo, hi, ok = leverage_bound_interval(240.0, 100.0, 100.0, -100.0, 1.5, lam * (1 + 1e-12))
    assert ok and lo == pytest.approx(hi, rel=1e-4) and 100.0 + lo == pytest.approx(20000.0 / 340.0, rel=1e-4)


def test_failure_when_even_liquidation_constraint_cannot_be_met():
    # z = 100 < beta * L = 150 and lambda_min(lam=1) = 4*1.5*100*100/200^2 = 1.5 > 1: no issuance works.
    s = speculator_step(100.0, 100.0, 100.0, -100.0, beta=1.5, lam=0.5, expected_return=1.0)
    assert s.mode == MODE_FAILED and np.isnan(s.stable_price)


def test_vectorised_over_scenarios_equals_scalar_calls():
    z = np.array([400.0, 290.0, 285.0, 240.0, 100.0])
    s = speculator_step(z, 100.0, 100.0, -100.0, beta=1.5, lam=0.5, expected_return=1.0)
    assert s.mode.tolist() == [
        MODE_UNCONSTRAINED,
        MODE_RISK_BOUND,
        MODE_RISK_BOUND,
        MODE_RECOVERY,
        MODE_FAILED,
    ]
    one = speculator_step(285.0, 100.0, 100.0, -100.0, beta=1.5, lam=0.5, expected_return=1.0)
    assert s.stable_price[2] == one.stable_price


def test_var_bound_normal_and_heavy_tails():
    # Normal, a = 0.1: alpha = 1.2815516; sigma = 0.2 -> exp(-0.25631) = 0.77390.
    assert var_leverage_bound(0.04, 0.1) == pytest.approx(math.exp(-1.2815516 * 0.2), rel=1e-6)
    # Heaviest finite-variance tails: alpha = 1 / sqrt(2 * 0.1) = 2.2360680.
    assert var_leverage_bound(0.04, 0.1, tails="max_heavy") == pytest.approx(math.exp(-2.2360680 * 0.2))
    assert var_leverage_bound(0.04, tails="risk_neutral") == 1.0


def test_simulation_one_crash_day_deleverages_and_lifts_price():
    # A -27% first day, then calm; a = 0.01 (alpha = 2.326348), speculator with 250 units against supply 100.
    # After the crash: leverage 1.5 * 100 / (250 * 0.73) = 0.822; the variance estimate is
    # 0.1 * (0.9 * ln 0.73)^2 + 0.9 * 0.027925^2 = 0.00872, so the bound is exp(-2.326348 * 0.0934) = 0.805 < 0.822:
    # binding, and reachable (lambda_min = 4 * 1.5 * 100 * 100 / 282.5^2 = 0.752). The speculator buys back.
    ell = math.log(0.73)
    var = 0.1 * (0.9 * ell) ** 2 + 0.9 * 0.027925**2
    lam = math.exp(-2.326348 * math.sqrt(var))
    assert lam < 1.5 * 100 / 182.5 and lam > 60000 / 282.5**2
    lr = np.zeros((2, 5))
    lr[0, 0] = ell
    out = simulate_constant_demand(lr, expected_log_return=0.0, collateral_amount=250.0, a=0.01)
    assert out.mode[0, 1] == MODE_RISK_BOUND
    assert out.supply[0, 1] < 100.0 and out.stable_price[0, 1] > 1.0
    # The new supply sits on the bound: 1.5 * supply / (250 * 0.73 + Delta * p) = lam, with p = 100 / supply.
    s = out.supply[0, 1]
    assert 1.5 * s / (182.5 + (s - 100.0) * 100.0 / s) == pytest.approx(lam, rel=1e-5)
    assert (out.stable_price[1] == 1.0).all()  # the calm path stays at its equilibrium
    # Demand is constant, so price * supply = D on every step.
    np.testing.assert_allclose(out.stable_price * out.supply, 100.0)


def test_simulation_batch_invariance():
    lr = np.random.default_rng(1).standard_t(3, (8, 50)) * 0.05
    big = simulate_constant_demand(lr)
    small = simulate_constant_demand(lr[:3])
    np.testing.assert_array_equal(big.stable_price[:3], small.stable_price)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: speculator_step(1.0, 1.0, 1.0, -1.0, beta=1.0, lam=0.5, expected_return=1.0), "'beta'"),
        (lambda: speculator_step(1.0, 1.0, 1.0, -1.0, beta=1.5, lam=1.5, expected_return=1.0), r"\(0, 1\]"),
        (lambda: var_leverage_bound(0.01, 0.7), "'a' parameter"),
        (lambda: simulate_constant_demand(np.zeros(3)), "shape"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


def test_student_t_returns_have_the_asked_volatility():
    from firesale.stablecoins.deleveraging import student_t_log_returns

    x = student_t_log_returns(400, 500, vol=0.03, df=10.0, drift=0.001, seed=3)
    assert x.shape == (400, 500)
    assert x.std() == pytest.approx(0.03, rel=0.02) and x.mean() == pytest.approx(0.001, abs=3e-4)
