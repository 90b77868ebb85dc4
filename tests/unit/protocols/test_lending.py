"""The liquidation round: hand-computed Aave v3 cases, priority rules, and NumPy == Numba on random worlds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from firesale.protocols.lending import (
    LendingParams,
    health_factor,
    liquidation_round_numba,
    liquidation_round_numpy,
)

KERNELS = [liquidation_round_numpy, liquidation_round_numba]

# Reserves: 0 = WETH (collateral), 1 = USDC (debt). LT 0.80, bonus 5 %, protocol fee 10 % of the bonus.
LT = np.array([[0.80, 0.78]])
BONUS = np.array([[0.05, 0.045]])
PARAMS = LendingParams(LT, BONUS, np.array([0.10, 0.10]), close_factor=0.5, close_factor_hf_threshold=0.95)


def _one(kernel, eth_price, *, gas=0.0, slots=10, capital=1e18, min_profit=0.0, coef=0.0):
    coll = np.array([[[10.0, 0.0]]])
    debt = np.array([[[0.0, 15_000.0]]])
    prices = np.array([[eth_price, 1.0]])
    out = kernel(
        coll, debt, prices, prices.copy(), PARAMS, np.array([True]), np.array([slots]), np.array([capital]),
        np.array([gas]), np.array([[coef, 0.0]]), np.array([1.0, 1.0]), min_profit,
    )  # fmt: skip
    return coll, debt, out


@pytest.mark.parametrize("kernel", KERNELS)
def test_healthy_position_is_not_liquidated(kernel):
    # HF = 10 * 2000 * 0.8 / 15000 = 1.0667
    coll, debt, out = _one(kernel, 2000.0)
    assert out.n_liquidations[0] == 0
    assert coll[0, 0, 0] == 10.0 and debt[0, 0, 1] == 15_000.0


@pytest.mark.parametrize("kernel", KERNELS)
def test_half_close_factor_above_095(kernel):
    # HF = 10 * 1800 * 0.8 / 15000 = 0.96 -> close factor 50 %: repay 7500 USDC,
    # seize 7500 * 1.05 / 1800 = 4.375 WETH, of which the protocol keeps (4.375 - 4.375 / 1.05) * 0.1.
    coll, debt, out = _one(kernel, 1800.0)
    fee = (4.375 - 4.375 / 1.05) * 0.10
    assert out.n_liquidations[0] == 1
    assert debt[0, 0, 1] == pytest.approx(7_500.0, rel=1e-12)
    assert coll[0, 0, 0] == pytest.approx(10.0 - 4.375, rel=1e-12)
    assert out.fee[0, 0] == pytest.approx(fee, rel=1e-12)
    assert out.seized[0, 0] == pytest.approx(4.375 - fee, rel=1e-12)
    assert out.repaid_usd[0] == pytest.approx(7_500.0, rel=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
def test_full_close_factor_below_095(kernel):
    # HF = 10 * 1700 * 0.8 / 15000 = 0.9067 < 0.95 -> the whole 15000 may be repaid;
    # seize 15000 * 1.05 / 1700 = 9.2647 WETH (less than the balance of 10).
    coll, debt, out = _one(kernel, 1700.0)
    assert debt[0, 0, 1] == pytest.approx(0.0, abs=1e-9)
    assert coll[0, 0, 0] == pytest.approx(10.0 - 15_000 * 1.05 / 1700, rel=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
def test_collateral_cap_leaves_bad_debt(kernel):
    # HF = 10 * 1400 * 0.8 / 15000 = 0.747; repaying all 15000 would need 11.25 WETH > 10,
    # so the liquidator takes all 10 WETH and repays 10 * 1400 / 1.05 = 13333.33; 1666.67 is left unbacked.
    coll, debt, out = _one(kernel, 1400.0)
    assert coll[0, 0, 0] == 0.0
    assert debt[0, 0, 1] == pytest.approx(15_000 - 10 * 1400 / 1.05, rel=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
def test_unprofitable_liquidation_is_skipped(kernel):
    # The 1800 case earns 4.3542 * 1800 - 7500 = 337.5 USD before gas; gas of 400 USD makes it a loss.
    coll, _, out = _one(kernel, 1800.0, gas=400.0)
    assert out.n_liquidations[0] == 0 and out.n_unserved[0] == 1
    assert coll[0, 0, 0] == 10.0
    _, _, out = _one(kernel, 1800.0, gas=300.0)
    assert out.n_liquidations[0] == 1


@pytest.mark.parametrize("kernel", KERNELS)
def test_slippage_estimate_enters_the_profit_rule(kernel):
    # Sale of 4.3542 WETH at 1800 is 7837.5 USD; a 5 % expected slippage (coef * usd = 0.05) costs 391.9 > 337.5.
    _, _, out = _one(kernel, 1800.0, coef=0.05 / 7837.5)
    assert out.n_liquidations[0] == 0
    _, _, out = _one(kernel, 1800.0, coef=0.04 / 7837.5)  # 313.5 < 337.5
    assert out.n_liquidations[0] == 1


def _three_accounts():
    # Three WETH/USDC accounts at ETH = 1800; debts 1000, 3000, 2000 USDC -> profits rank 2, 3, 1.
    coll = np.array([[[10.0 / 15, 0.0], [30.0 / 15, 0.0], [20.0 / 15, 0.0]]])
    debt = np.array([[[0.0, 1_000.0], [0.0, 3_000.0], [0.0, 2_000.0]]])
    lt = np.repeat(LT, 3, axis=0)
    bonus = np.repeat(BONUS, 3, axis=0)
    return coll, debt, LendingParams(lt, bonus, np.array([0.1, 0.1]), 0.5, 0.95)


@pytest.mark.parametrize("kernel", KERNELS)
def test_block_space_takes_the_most_profitable_first(kernel):
    coll, debt, params = _three_accounts()
    prices = np.array([[1800.0, 1.0]])
    slots = np.array([2])
    out = kernel(
        coll, debt, prices, prices, params, np.array([True]), slots, np.array([1e18]), np.zeros(1),
        np.zeros((1, 2)), np.ones(2), 0.0,
    )  # fmt: skip
    assert out.n_liquidations[0] == 2 and out.n_unserved[0] == 1 and slots[0] == 0
    assert debt[0, 0, 1] == 1_000.0  # the smallest, least profitable one waits
    assert debt[0, 1, 1] == pytest.approx(1_500.0) and debt[0, 2, 1] == pytest.approx(1_000.0)


@pytest.mark.parametrize("kernel", KERNELS)
def test_capital_limits_liquidations(kernel):
    coll, debt, params = _three_accounts()
    prices = np.array([[1800.0, 1.0]])
    capital = np.array([2_000.0])  # the first (1500 USD) fits, the second (1000 more) does not
    out = kernel(
        coll, debt, prices, prices, params, np.array([True]), np.array([10]), capital, np.zeros(1),
        np.zeros((1, 2)), np.ones(2), 0.0,
    )  # fmt: skip
    assert out.n_liquidations[0] == 1
    assert capital[0] == pytest.approx(500.0)


@pytest.mark.parametrize("kernel", KERNELS)
def test_inactive_paths_are_untouched(kernel):
    coll = np.array([[[10.0, 0.0]], [[10.0, 0.0]]])
    debt = np.array([[[0.0, 15_000.0]], [[0.0, 15_000.0]]])
    prices = np.array([[1400.0, 1.0], [1400.0, 1.0]])
    out = kernel(
        coll, debt, prices, prices, PARAMS, np.array([True, False]), np.array([5, 5]), np.array([1e18, 1e18]),
        np.zeros(2), np.zeros((2, 2)), np.ones(2), 0.0,
    )  # fmt: skip
    assert out.n_liquidations.tolist() == [1, 0]
    assert coll[1, 0, 0] == 10.0


@st.composite
def worlds(draw):
    n_paths = draw(st.integers(1, 4))
    n_acc = draw(st.integers(1, 12))
    n_res = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    coll = rng.uniform(0, 100, (n_paths, n_acc, n_res)) * (rng.uniform(size=(n_paths, n_acc, n_res)) < 0.6)
    debt = rng.uniform(0, 100, (n_paths, n_acc, n_res)) * (rng.uniform(size=(n_paths, n_acc, n_res)) < 0.5)
    coll = np.ascontiguousarray(np.broadcast_to(coll[:1], coll.shape)) if draw(st.booleans()) else coll
    oracle = rng.uniform(0.2, 5, (n_paths, n_res))
    market = oracle * rng.uniform(0.8, 1.2, (n_paths, n_res))
    lt = rng.uniform(0.5, 0.9, (n_acc, n_res))
    bonus = rng.uniform(0.0, 0.1, (n_acc, n_res))
    weight = rng.integers(1, 4, n_acc) if draw(st.booleans()) else None  # cohorts of 1-3 accounts
    params = LendingParams(
        lt, bonus, rng.uniform(0, 0.2, n_res), float(rng.uniform(0.2, 1)), float(rng.uniform(0, 1)), weight
    )
    args = dict(
        active=rng.uniform(size=n_paths) < 0.8,
        slots=rng.integers(0, 6, n_paths),
        capital=rng.uniform(0, 500, n_paths),
        gas_usd=rng.uniform(0, 5, n_paths),
        impact_coef=rng.uniform(0, 1e-3, (n_paths, n_res)),
        impact_exp=rng.choice([0.5, 1.0], n_res),
        min_profit=float(rng.uniform(0, 2)),
    )
    return coll, debt, oracle, market, params, args


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_numpy_and_numba_rounds_are_identical(world):
    coll, debt, oracle, market, params, args = world
    results = []
    for kernel in KERNELS:
        c, d = coll.copy(), debt.copy()
        a = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in args.items()}
        out = kernel(c, d, oracle, market, params, a["active"], a["slots"], a["capital"], a["gas_usd"],
                     a["impact_coef"], a["impact_exp"], a["min_profit"])  # fmt: skip
        results.append((c, d, out, a))
    (c0, d0, o0, a0), (c1, d1, o1, a1) = results
    np.testing.assert_array_equal(c0, c1)
    np.testing.assert_array_equal(d0, d1)
    for name in ("seized", "fee", "repaid", "n_liquidations", "n_unserved"):
        np.testing.assert_array_equal(getattr(o0, name), getattr(o1, name), err_msg=name)
    np.testing.assert_array_equal(o0.repaid_usd, o1.repaid_usd)
    np.testing.assert_array_equal(a0["slots"], a1["slots"])


@settings(max_examples=100, deadline=None)
@given(worlds())
def test_no_negative_balances_and_healthy_untouched(world):
    coll, debt, oracle, market, params, args = world
    hf_before = health_factor(coll, debt, oracle, params.liquidation_threshold)
    c, d = coll.copy(), debt.copy()
    liquidation_round_numba(c, d, oracle, market, params, args["active"], args["slots"].copy(),
                            args["capital"].copy(), args["gas_usd"], args["impact_coef"], args["impact_exp"],
                            args["min_profit"])  # fmt: skip
    assert (c >= -1e-9).all() and (d >= -1e-9).all()
    healthy = hf_before >= 1.0
    np.testing.assert_array_equal(c[healthy], coll[healthy])
    np.testing.assert_array_equal(d[healthy], debt[healthy])
