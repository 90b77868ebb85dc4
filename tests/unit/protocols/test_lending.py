"""The liquidation round: hand-computed Aave v3 / v3.3 / Compound cases, the liquidator's decision on real quotes,
capital and block space, and NumPy == Numba on random worlds."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from firesale.protocols import lending
from firesale.protocols.lending import (
    RULES_AAVE_V33,
    LendingParams,
    health_factor,
    liquidation_round_numba,
    liquidation_round_numpy,
)

KERNELS = [liquidation_round_numpy, liquidation_round_numba]
SIZES = np.concatenate([[0.0], np.logspace(0, 10, 41)])


def flat(n_paths, n_res, slip=0.0):
    """Proceeds curves of venues that pay the market price less a constant fraction ``slip``."""
    return np.broadcast_to(SIZES * (1.0 - slip), (n_paths, n_res, SIZES.size)).copy()


def run(kernel, coll, debt, oracle, params, *, market=None, active=None, slots=10, capital=1e18, gas=0.0,
        min_profit=0.0, proceeds=None):  # fmt: skip
    n_paths, _, n_res = coll.shape
    market = oracle.copy() if market is None else market
    active = np.ones(n_paths, dtype=bool) if active is None else active
    slots = np.full(n_paths, slots) if np.isscalar(slots) else slots
    capital = np.full(n_paths, float(capital)) if np.isscalar(capital) else capital
    proceeds = flat(n_paths, n_res) if proceeds is None else proceeds
    return kernel(coll, debt, oracle, market, params, active, slots, capital, np.full(n_paths, gas), min_profit,
                  SIZES, proceeds)  # fmt: skip


# Reserves: 0 = WETH (collateral), 1 = USDC (debt). LT 0.80, bonus 5 %, protocol fee 10 % of the bonus.
LT = np.array([[0.80, 0.78]])
BONUS = np.array([[0.05, 0.045]])
PARAMS = LendingParams(LT, BONUS, np.array([0.10, 0.10]), close_factor=0.5, close_factor_hf_threshold=0.95)


def _one(kernel, eth_price, *, gas=0.0, slots=10, capital=1e18, min_profit=0.0, slip=0.0, params=PARAMS):
    coll = np.array([[[10.0, 0.0]]])
    debt = np.array([[[0.0, 15_000.0]]])
    prices = np.array([[eth_price, 1.0]])
    out = run(kernel, coll, debt, prices, params, slots=slots, capital=capital, gas=gas, min_profit=min_profit,
              proceeds=flat(1, 2, slip))  # fmt: skip
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
@pytest.mark.parametrize(("gas", "taken"), [(9999.99, 1), (10_000.0, 0)])
def test_a_failed_oracle_near_zero_pays_the_liquidator_almost_all_the_collateral(kernel, gas, taken):
    # The WETH feed reports 1e-6 while WETH trades at 1,000 (no bonus, no fee): the whole debt is due, the seizure
    # is capped at the 10 WETH, repaying only 10 x 1e-6 = 1e-5 USDC. Selling them pays 10,000 USD, so the profit
    # is 10,000 - 1e-5 - gas: a gas of 9,999.99 leaves 0.00999 USD and is taken, a gas of 10,000 is a loss.
    # (The fused round's bound on what a candidate can gain, the whole collateral at market, is only 1e-5 above
    # the gain here: a bound any tighter would wrongly turn this liquidation away.)
    params = LendingParams(np.array([[0.8, 0.0]]), np.zeros((1, 2)), np.zeros(2), 0.5, 0.95)
    coll, debt = np.array([[[10.0, 0.0]]]), np.array([[[0.0, 15_000.0]]])
    out = run(kernel, coll, debt, np.array([[1e-6, 1.0]]), params, market=np.array([[1000.0, 1.0]]), gas=gas)
    assert out.n_liquidations[0] == taken
    if taken:
        assert coll[0, 0, 0] == 0.0 and debt[0, 0, 1] == pytest.approx(15_000.0 - 1e-5, rel=1e-15)


@pytest.mark.parametrize("kernel", KERNELS)
def test_the_venue_quote_enters_the_profit_rule(kernel):
    # Sale of 4.3542 WETH at 1800 is 7837.5 USD; venues paying 5 % less cost 391.9 > 337.5 of profit.
    _, _, out = _one(kernel, 1800.0, slip=0.05)
    assert out.n_liquidations[0] == 0
    _, _, out = _one(kernel, 1800.0, slip=0.04)  # 313.5 < 337.5
    assert out.n_liquidations[0] == 1


@pytest.mark.parametrize("kernel", KERNELS)
def test_exactly_095_closes_the_whole_debt(kernel):
    # HF = 10 * 1781.25 * 0.8 / 15000 = 14250 / 15000 = 0.95: the contract's `healthFactor > 0.95` is false,
    # so the close factor is 100 %: all 15000 repaid, 15000 * 1.05 / 1781.25 = 8.8421 WETH seized.
    coll, debt, out = _one(kernel, 1781.25)
    assert debt[0, 0, 1] == pytest.approx(0.0, abs=1e-9)
    assert coll[0, 0, 0] == pytest.approx(10.0 - 15_000 * 1.05 / 1781.25, rel=1e-12)


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
    out = run(kernel, coll, debt, prices, params, slots=slots)
    assert out.n_liquidations[0] == 2 and out.n_unserved[0] == 1 and slots[0] == 0
    assert debt[0, 0, 1] == 1_000.0  # the smallest, least profitable one waits
    assert debt[0, 1, 1] == pytest.approx(1_500.0) and debt[0, 2, 1] == pytest.approx(1_000.0)


@pytest.mark.parametrize("kernel", KERNELS)
def test_capital_buys_a_partial_liquidation_of_the_next(kernel):
    coll, debt, params = _three_accounts()
    prices = np.array([[1800.0, 1.0]])
    capital = np.array([2_000.0])  # the best (1500 USD of debt) fits; the next (1000 USD) gets the 500 left
    out = run(kernel, coll, debt, prices, params, capital=capital)
    assert out.n_liquidations[0] == 2 and out.n_unserved[0] == 1
    assert capital[0] == pytest.approx(0.0, abs=1e-9)
    assert debt[0, 1, 1] == pytest.approx(1_500.0) and debt[0, 2, 1] == pytest.approx(2_000.0 - 500.0)
    assert debt[0, 0, 1] == 1_000.0


@pytest.mark.parametrize("kernel", KERNELS)
def test_capital_fills_what_it_allows_instead_of_stopping(kernel):
    # The case: $500k of capital, two underwater accounts needing $800k and $8k (close factor 100 %).
    # Today's fix: the more profitable $800k is repaid in part with all $500k; the total repaid is the capital.
    params = LendingParams(np.array([[0.8, 0.0]] * 2), np.array([[0.05, 0.0]] * 2), np.zeros(2), 1.0, 0.95)
    start_coll = np.array([[[800_000 * 1.2 / 2000, 0.0], [8_000 * 1.2 / 2000, 0.0]]])  # HF 0.96 each
    start_debt = np.array([[[0.0, 800_000.0], [0.0, 8_000.0]]])
    coll, debt = start_coll.copy(), start_debt.copy()
    prices = np.array([[2000.0, 1.0]])
    capital = np.array([500_000.0])
    out = run(kernel, coll, debt, prices, params, capital=capital)
    assert out.n_liquidations[0] == 1
    assert debt[0, 0, 1] == pytest.approx(300_000.0) and debt[0, 1, 1] == 8_000.0
    assert out.repaid_usd[0] == pytest.approx(500_000.0)
    # With $900k both are closed: 800k + 8k.
    coll2, debt2 = start_coll.copy(), start_debt.copy()
    out = run(kernel, coll2, debt2, prices, params, capital=np.array([900_000.0]))
    assert out.n_liquidations[0] == 2 and out.repaid_usd[0] == pytest.approx(808_000.0)


@pytest.mark.parametrize("kernel", KERNELS)
def test_block_space_skips_a_cohort_that_does_not_fit_and_takes_the_next(kernel):
    coll, debt, params = _three_accounts()
    params = LendingParams(params.liquidation_threshold, params.liquidation_bonus, params.protocol_fee, 0.5, 0.95,
                           weight=np.array([1, 3, 1]))  # fmt: skip
    prices = np.array([[1800.0, 1.0]])
    out = run(kernel, coll, debt, prices, params, slots=np.array([2]))  # the best row stands for 3 accounts
    assert out.n_liquidations[0] == 2
    assert debt[0, 1, 1] == 3_000.0  # skipped, not a stop
    assert debt[0, 0, 1] == pytest.approx(500.0) and debt[0, 2, 1] == pytest.approx(1_000.0)


@pytest.mark.parametrize("kernel", KERNELS)
def test_each_liquidation_is_judged_after_the_rounds_earlier_sales(kernel):
    # 20 identical accounts, each selling 4.3542 WETH (7837.5 USD) for 7500 of debt: a profit of 337.5 at the
    # market price. The venues pay the market price on the first K = 10**4.75 = 56234.13 USD sold and 90 % beyond
    # (K is a grid point, so the interpolated curve is exact). Seven sales (54862.5 USD) pay in full; the eighth
    # earns (56234.13 - 54862.5) + 0.9 * (62700 - 56234.13) = 7190.9 < 7500; every later one 0.9 * 7837.5 = 7053.75
    # < 7500. Judged alone at the round-start quote, all twenty would be taken.
    n = 20
    lt = np.repeat(LT, n, axis=0)
    bonus = np.repeat(BONUS, n, axis=0)
    params = LendingParams(lt, bonus, np.array([0.1, 0.1]), 0.5, 0.95)
    coll = np.array([[[10.0, 0.0]] * n])
    debt = np.array([[[0.0, 15_000.0]] * n])
    prices = np.array([[1800.0, 1.0]])
    kink = 10**4.75
    assert np.isclose(SIZES, kink, rtol=1e-15).any()
    curve = np.minimum(SIZES, kink) + 0.9 * np.maximum(SIZES - kink, 0.0)
    proceeds = np.stack([curve, SIZES])[None].copy()
    out = run(kernel, coll, debt, prices, params, proceeds=proceeds)
    assert out.n_liquidations[0] == 7 and out.n_unserved[0] == 13


@pytest.mark.parametrize("kernel", KERNELS)
def test_the_liquidator_takes_the_collateral_that_pays_most(kernel):
    # Collateral: 5 WETH (bonus 5 %) and 0.2 WBTC (bonus 10 %); debt 14000 USDC. HF = (10000 * 0.8 +
    # 12000 * 0.8) / 14000 = 1.12 at WETH 2000, WBTC 60000; at WETH 1400, WBTC 42000: (7000 + 8400) * 0.8 / 14000
    # = 0.88 < 0.95 -> 100 %. Repaying against WBTC earns the 10 % bonus on the most value it can seize (all 8400
    # of WBTC, repaying 8400 / 1.1 = 7636.36, profit 763.6); against WETH at most 7000 / 1.05 (profit 333.3).
    params = LendingParams(np.array([[0.8, 0.8, 0.0]]), np.array([[0.05, 0.10, 0.0]]), np.zeros(3), 0.5, 0.95)
    coll = np.array([[[5.0, 0.2, 0.0]]])
    debt = np.array([[[0.0, 0.0, 14_000.0]]])
    prices = np.array([[1400.0, 42_000.0, 1.0]])
    run(kernel, coll, debt, prices, params)
    assert coll[0, 0, 0] == 5.0 and coll[0, 0, 1] == pytest.approx(0.0, abs=1e-12)
    assert debt[0, 0, 2] == pytest.approx(14_000 - 8_400 / 1.1, rel=1e-12)


V33 = LendingParams(LT, BONUS, np.array([0.10, 0.10]), close_factor=0.5, close_factor_hf_threshold=0.95,
                    rules=RULES_AAVE_V33)  # fmt: skip


@pytest.mark.parametrize("kernel", KERNELS)
def test_v33_small_positions_close_in_full(kernel):
    # 1 WETH at 1800 against 1500 USDC: HF = 1440 / 1500 = 0.96 > 0.95, but the debt (1500 USD) is under
    # MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD ($2000): all of it may be repaid (v3.0 would repay half).
    coll = np.array([[[1.0, 0.0]]])
    debt = np.array([[[0.0, 1_500.0]]])
    run(kernel, coll, debt, np.array([[1800.0, 1.0]]), V33)
    assert debt[0, 0, 1] == pytest.approx(0.0, abs=1e-9)
    assert coll[0, 0, 0] == pytest.approx(1.0 - 1500 * 1.05 / 1800, rel=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
def test_v33_close_factor_is_half_of_total_debt(kernel):
    # 10 WETH at 1800 against 7500 USDC and 7500 USDT (two debts, 15000 in all): HF = 14400 / 15000 = 0.96.
    # v3.3 caps the repayment at 50 % of the *total* debt, 7500: the whole USDT debt may go; v3.0 allowed half
    # of the reserve's debt (3750).
    params = LendingParams(np.array([[0.8, 0.0, 0.0]]), np.array([[0.05, 0.0, 0.0]]), np.zeros(3), 0.5, 0.95,
                           rules=RULES_AAVE_V33)  # fmt: skip
    coll = np.array([[[10.0, 0.0, 0.0]]])
    debt = np.array([[[0.0, 7_500.0, 7_500.0]]])
    run(kernel, coll, debt, np.array([[1800.0, 1.0, 1.0]]), params)
    assert debt[0, 0, 1] + debt[0, 0, 2] == pytest.approx(7_500.0)
    assert min(debt[0, 0, 1], debt[0, 0, 2]) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("kernel", KERNELS)
def test_v33_never_leaves_dust(kernel):
    # Collateral 2 WETH at 1850 (3700 USD, bonus 5 %) and 0.1 WBTC at 47000 (4700 USD, bonus 2 %); debt 6000 USDC
    # and 900 USDT. HF = 0.8 * 8400 / 6900 = 0.9739 > 0.95 and both legs >= $2000: at most 50 % of the total debt,
    # 3450 USDC. Against WETH that seizes 3450 * 1.05 / 1850 = 1.9581 WETH and leaves 77.5 USD of it with part of
    # the USDC debt still owed: MUST_NOT_LEAVE_DUST. So the liquidator repays (3700 - 1000) / 1.05 = 2571.43 and
    # leaves exactly $1000 of WETH; that still beats WBTC (3450 * 2 % = 69 < 2571.43 * 5 % = 128.6).
    params = LendingParams(np.array([[0.8, 0.8, 0.0, 0.0]]), np.array([[0.05, 0.02, 0.0, 0.0]]), np.zeros(4), 0.5,
                           0.95, rules=RULES_AAVE_V33)  # fmt: skip
    coll = np.array([[[2.0, 0.1, 0.0, 0.0]]])
    debt = np.array([[[0.0, 0.0, 6_000.0, 900.0]]])
    run(kernel, coll, debt, np.array([[1850.0, 47_000.0, 1.0, 1.0]]), params)
    cover = 2_700 / 1.05
    assert debt[0, 0, 2] == pytest.approx(6_000 - cover, rel=1e-12)
    assert coll[0, 0, 0] == pytest.approx(1_000 / 1850, rel=1e-9)
    assert coll[0, 0, 1] == 0.1 and debt[0, 0, 3] == 900.0


@st.composite
def worlds(draw):
    n_paths = draw(st.integers(1, 4))
    n_acc = draw(st.integers(1, 12))
    # 1-3 reserves take the kernels' generic loops, 7 (aave-v3-today's count, compiled for the goldens anyway) the
    # unrolled ones (protocols.lending.UNROLLED_RESERVES)
    n_res = draw(st.sampled_from([1, 2, 3, 7]))
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
        lt,
        bonus,
        rng.uniform(0, 0.2, n_res),
        float(rng.uniform(0.2, 1)),
        float(rng.uniform(0, 1)),
        weight,
        fee_on_seized=draw(st.booleans()),
        rules=draw(st.sampled_from([0, 1, 2])),
    )
    scale = rng.choice([1.0, 100.0])  # large books exercise v3.3's $2000 / $1000 thresholds
    coll, debt = coll * scale, debt * scale
    # Concave proceeds curves: the venues pay less per dollar the more is sold; or any rising curve, steeper in
    # places than at the start (the kernel's bound on what a sale can pay must hold for those too).
    depth = rng.uniform(50, 5000, (n_paths, n_res, 1))
    proceeds = depth * np.log1p(SIZES[None, None, :] / depth)
    if draw(st.booleans()):
        rate = rng.uniform(0.2, 1.0, (n_paths, n_res, SIZES.size - 1)) * rng.choice(
            [1.0, 3.0], p=[0.8, 0.2], size=(n_paths, n_res, SIZES.size - 1)
        )
        proceeds = np.concatenate(
            [np.zeros((n_paths, n_res, 1)), np.cumsum(rate * np.diff(SIZES), axis=2)], 2
        )
    args = dict(
        active=rng.uniform(size=n_paths) < 0.8,
        slots=rng.integers(0, 6, n_paths),
        capital=rng.uniform(0, 500, n_paths) * scale,
        gas_usd=rng.uniform(0, 5, n_paths),
        proceeds=proceeds,
        min_profit=float(rng.uniform(0, 2)),
    )
    return coll, debt, oracle, market, params, args


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_numpy_and_numba_rounds_are_identical(world):
    """The NumPy reference, the parallel kernels and their one-thread twins (firesale._threads) agree exactly."""
    coll, debt, oracle, market, params, args = world
    results = []
    for kernel, parallel_from in ((liquidation_round_numpy, 0), (liquidation_round_numba, 0),
                                  (liquidation_round_numba, np.inf)):  # fmt: skip
        c, d = coll.copy(), debt.copy()
        a = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in args.items()}
        with (
            mock.patch.object(lending, "LIQUIDATE_PARALLEL_FROM", parallel_from),
            mock.patch.object(lending, "CHECK_PARALLEL_FROM", parallel_from),
        ):
            out = kernel(c, d, oracle, market, params, a["active"], a["slots"], a["capital"], a["gas_usd"],
                         a["min_profit"], SIZES, a["proceeds"])  # fmt: skip
        results.append((c, d, out, a))
    c0, d0, o0, a0 = results[0]
    for c1, d1, o1, a1 in results[1:]:
        np.testing.assert_array_equal(c0, c1)
        np.testing.assert_array_equal(d0, d1)
        for name in ("seized", "fee", "repaid", "n_liquidations", "n_unserved", "n_candidates"):
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
                            args["capital"].copy(), args["gas_usd"], args["min_profit"], SIZES, args["proceeds"])  # fmt: skip
    assert (c >= -1e-9).all() and (d >= -1e-9).all()
    healthy = hf_before >= 1.0
    np.testing.assert_array_equal(c[healthy], coll[healthy])
    np.testing.assert_array_equal(d[healthy], debt[healthy])


@settings(max_examples=60, deadline=None)
@given(worlds(), st.integers(0, 2**32 - 1))
def test_a_screen_kept_across_steps_changes_nothing(world, seed):
    """Rounds over 16 steps of no, small and large price moves: a Screen kept across them (skipping accounts it
    proves safe, visiting only its watch list between renewals, reusing its last list when nothing changed) gives the
    results of the unscreened NumPy reference, and the solvency screen the bad debt of a full check."""
    from firesale.protocols.lending import Screen
    from firesale.protocols.solvency import underwater_usd, underwater_usd_numpy

    coll, debt, oracle, market, params, args = world
    rng = np.random.default_rng(seed)
    n_paths, n_acc, n_res = coll.shape
    # Health factors packed just above 1, where the screen's bound decides which accounts it skips.
    hf = health_factor(coll, debt, oracle, params.liquidation_threshold)
    ok = np.isfinite(hf) & (hf > 0)
    debt = debt * np.where(ok, hf / rng.uniform(0.995, 1.03, hf.shape), 1.0)[:, :, None]
    c0, d0, c1, d1 = coll.copy(), debt.copy(), coll.copy(), debt.copy()
    hf_screen, solvency_screen = Screen.empty(n_paths, n_acc, n_res), Screen.empty(n_paths, n_acc, n_res)
    for _ in range(16):
        # Mostly moves inside the screen's 1 % refresh band (the watch list answers), sometimes beyond it.
        # (0: an oracle that did not update, so the screen's last list of accounts below 1 stands)
        move = rng.choice([0.0, 0.002, 0.009, 0.05])
        oracle = oracle * rng.uniform(1 - move, 1 + move / 4, oracle.shape)  # drifting down: accounts cross 1
        market = oracle * rng.uniform(0.97, 1.03, oracle.shape)
        a0 = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in args.items()}
        a1 = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in args.items()}
        o0 = liquidation_round_numpy(c0, d0, oracle, market, params, a0["active"], a0["slots"], a0["capital"],
                                     a0["gas_usd"], a0["min_profit"], SIZES, a0["proceeds"])  # fmt: skip
        o1 = liquidation_round_numba(c1, d1, oracle, market, params, a1["active"], a1["slots"], a1["capital"],
                                     a1["gas_usd"], a1["min_profit"], SIZES, a1["proceeds"], hf_screen)  # fmt: skip
        np.testing.assert_array_equal(c0, c1)
        np.testing.assert_array_equal(d0, d1)
        np.testing.assert_array_equal(o0.n_candidates, o1.n_candidates)
        np.testing.assert_array_equal(o0.repaid, o1.repaid)
        solvency_screen.dirty |= o1.n_liquidations > 0
        screened = underwater_usd(c1, d1, market, solvency_screen)
        np.testing.assert_array_equal(screened, underwater_usd(c1, d1, market))  # a full check, same order
        np.testing.assert_allclose(screened, underwater_usd_numpy(c1, d1, market), rtol=1e-12, atol=1e-9)


def _near_one_book(rng, n_paths, n_acc, n_res, lo, hi, weights=None):  # type: ignore[no-untyped-def]
    """Positions whose (weighted) collateral over debt lies in [lo, hi], in no order across accounts."""
    coll = rng.lognormal(0, 1, (n_paths, n_acc, n_res)) * (rng.uniform(size=(n_paths, n_acc, n_res)) < 0.7)
    debt = rng.lognormal(0, 1, (n_paths, n_acc, n_res)) * (rng.uniform(size=(n_paths, n_acc, n_res)) < 0.5)
    prices = rng.lognormal(0, 0.5, (n_paths, n_res))
    w = np.ones((n_acc, n_res)) if weights is None else weights
    num = (coll * prices[:, None, :] * w[None]).sum(axis=2)
    den = (debt * prices[:, None, :]).sum(axis=2)
    ok = (num > 0) & (den > 0)
    target = rng.uniform(lo, hi, num.shape)
    debt = debt * np.where(ok, num / np.where(ok, den, 1.0) / target, 1.0)[:, :, None]
    return coll, debt, prices


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_screened_candidates_are_the_full_checks_in_account_order(seed):
    """Over steps of small and large price moves, the screen's list of accounts below 1 (a renewal's full check,
    or its watch list between renewals) is exactly the accounts a direct health check finds below 1 with something
    to seize, in account order; an account with a NaN ratio is never taken."""
    from firesale.protocols.lending import Screen, candidate_count

    rng = np.random.default_rng(seed)
    n_paths, n_acc, n_res = 3, int(rng.integers(5, 60)), int(rng.integers(1, 4))
    lt = rng.uniform(0.5, 0.9, (n_acc, n_res))
    coll, debt, oracle = _near_one_book(rng, n_paths, n_acc, n_res, 0.97, 1.12, lt)
    coll[:, rng.integers(n_acc), 0] = np.nan  # a NaN ratio: watched, never below 1
    params = LendingParams(liquidation_threshold=lt, liquidation_bonus=np.full((n_acc, n_res), 0.05),
                           protocol_fee=np.zeros(n_res), close_factor=0.5, close_factor_hf_threshold=0.95)  # fmt: skip
    # One screen checked by the parallel kernel, one by its one-thread twin (firesale._threads).
    screens = {0: Screen.empty(n_paths, n_acc, n_res), np.inf: Screen.empty(n_paths, n_acc, n_res)}
    active = np.ones(n_paths, dtype=bool)
    for _ in range(20):
        oracle = oracle * rng.uniform(1 - rng.choice([0.0, 0.003, 0.008, 0.03]), 1.004, oracle.shape)
        moved = rng.uniform(size=n_paths) < 0.1  # positions changed elsewhere: a full re-check
        num = (coll * oracle[:, None, :] * lt[None]).sum(axis=2)
        den = (debt * oracle[:, None, :]).sum(axis=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            below = (den > 0) & (num > 0) & (num / den < 1)
        for parallel_from, screen in screens.items():
            screen.dirty |= moved
            with mock.patch.object(lending, "CHECK_PARALLEL_FROM", parallel_from):
                n = candidate_count(coll, debt, oracle, params, active, screen)
            for p in range(n_paths):
                np.testing.assert_array_equal(screen.scratch[p, : n[p]], np.flatnonzero(below[p]))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_screened_bad_debt_is_the_full_checks(seed):
    """Over steps of small and large price moves, bad debt through the solvency screen (its watch list between
    renewals, the underwater accounts summed in account order) equals a full check float for float, with many
    accounts near and below solvency."""
    from firesale.protocols import solvency
    from firesale.protocols.lending import Screen
    from firesale.protocols.solvency import underwater_usd, underwater_usd_numpy

    rng = np.random.default_rng(seed)
    n_paths, n_acc, n_res = 3, int(rng.integers(5, 60)), int(rng.integers(1, 4))
    coll, debt, prices = _near_one_book(rng, n_paths, n_acc, n_res, 0.95, 1.12)
    # One screen kept by the parallel kernel, one by its one-thread twin (firesale._threads).
    screens = {0: Screen.empty(n_paths, n_acc, n_res), np.inf: Screen.empty(n_paths, n_acc, n_res)}
    for _ in range(20):
        # Moves inside the solvency screen's 2 % band (the watch list answers, also where the health-factor
        # screen's 1 % band would have renewed) and beyond it, up and down (collateral falls as debt rises).
        move = rng.choice([0.0, 0.003, 0.008, 0.015, 0.03])
        prices = prices * rng.uniform(1 - move, 1 + move, prices.shape)
        moved = rng.uniform(size=n_paths) < 0.1
        full = underwater_usd(coll, debt, prices)  # every account, in order
        np.testing.assert_allclose(full, underwater_usd_numpy(coll, debt, prices), rtol=1e-12, atol=1e-12)
        for parallel_from, screen in screens.items():
            screen.dirty |= moved
            with mock.patch.object(solvency, "CHECK_PARALLEL_FROM", parallel_from):
                np.testing.assert_array_equal(underwater_usd(coll, debt, prices, screen), full)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_needed_usd_kernel_is_the_reference_sum(seed):
    """The fused kernel's bound on what one path's candidates could sell equals np.add.at's, float for float."""
    from firesale.protocols.lending import _needed_usd, _needed_usd_kernel

    rng = np.random.default_rng(seed)
    n_paths, n_acc, n_res = rng.integers(1, 9), rng.integers(1, 30), rng.integers(1, 5)
    coll = rng.lognormal(0, 2, (n_paths, n_acc, n_res)) * (rng.uniform(size=(n_paths, n_acc, n_res)) < 0.6)
    market = rng.lognormal(0, 1, (n_paths, n_res))
    below = np.zeros((n_paths, n_acc), dtype=np.int32)
    n_below = np.zeros(n_paths, dtype=np.int64)
    rows, accounts = [], []
    for p in range(n_paths):  # candidates in account order, as the candidates kernel leaves them
        chosen = np.flatnonzero(rng.uniform(size=n_acc) < 0.5)
        below[p, : chosen.size], n_below[p] = chosen, chosen.size
        rows += [p] * chosen.size
        accounts += list(chosen)
    expected = _needed_usd(coll, market, np.array(rows, dtype=np.int64), np.array(accounts, dtype=np.int64))
    np.testing.assert_array_equal(_needed_usd_kernel(coll, market, n_below, below), expected)
