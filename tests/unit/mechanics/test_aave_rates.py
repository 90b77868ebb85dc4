"""Aave v3 interest rates (firesale.mechanics.aave_rates) against hand computations, and the float curve the lenders
use (firesale.agents.lenders.RateCurve) against the exact one.

The curve is DefaultReserveInterestRateStrategyV2 (aave-dao/aave-v3-origin
src/contracts/misc/DefaultReserveInterestRateStrategyV2.sol). Parameters of the hand cases are Aave v3 Ethereum's WETH
strategy after AIP-diff InterestRateUpdateWETHAndWstETHEthereum 2025-07-21 (bgd-labs/aave-proposals-v3 diffs/):
optimal usage 92 %, base 0, slope1 2.7 %, slope2 40 %, whose diff also states ``maxVariableBorrowRate`` 42.7 %
(the rate at full usage). Reserve factor 15 % (LlamaRisk 2025-02, src/firesale/data/_aave_v3_params.py).

Rounding by hand: rayDiv(a, b) = (a RAY + b // 2) // b, rayMul(a, b) = (a b + RAY // 2) // RAY, percentMul(v, p) =
(v p + 5000) // 10000 (aave-v3-core WadRayMath.sol, PercentageMath.sol).
"""

from __future__ import annotations

import numpy as np
import pytest

from firesale.agents.lenders import RateCurve
from firesale.mechanics import Revert
from firesale.mechanics.aave_rates import InterestRateData, calculate_interest_rates, check_interest_rate_data

RAY = 10**27
WETH = InterestRateData(optimal_usage_ratio=9200, base_variable_borrow_rate=0, variable_rate_slope1=270,
                        variable_rate_slope2=4000)  # fmt: skip


def rates(debt: int, available: int, rf: int = 1500, data: InterestRateData = WETH) -> tuple[int, int]:
    return calculate_interest_rates(
        data, virtual_underlying_balance=available, total_debt=debt, reserve_factor=rf
    )


def test_at_the_kink_the_borrow_rate_is_slope1() -> None:
    # usage 92 / 100 = 0.92 exactly: borrow 2.7 %; supply 2.7 % x 0.92 x 0.85 = 2.1114 %
    liquidity, variable = rates(92, 8)
    assert variable == 27 * 10**24
    assert liquidity == 21114 * 10**21


def test_above_the_kink_slope2_adds_linearly() -> None:
    # usage 0.96: (0.96 - 0.92) / 0.08 = half of slope2: 2.7 % + 20 % = 22.7 %; supply 22.7 % x 0.96 x 0.85 = 18.5232 %
    liquidity, variable = rates(96, 4)
    assert variable == 227 * 10**24
    assert liquidity == 185232 * 10**21


def test_full_usage_pays_the_max_rate_of_aaves_diff() -> None:
    liquidity, variable = rates(1000, 0)
    assert variable == 427 * 10**24  # maxVariableBorrowRate 42.7 % in the AIP diff
    assert liquidity == 427 * 85 * 10**22  # x usage 1 x (1 - 15 %)


def test_below_the_kink_with_rounding() -> None:
    # usage 1 / 3: rayDiv(1, 3) = (RAY + 1) // 3; borrow = rayDiv(rayMul(2.7e25, u), 0.92e27)
    u = (RAY + 1) // 3
    slope1, optimal = 27 * 10**24, 92 * 10**25
    b = ((slope1 * u + RAY // 2) // RAY * RAY + optimal // 2) // optimal
    overall_num = 10**9 * b  # _getOverallBorrowRate: debt 1 wadToRay = 1e9, rayMul then rayDiv by 1e9
    overall = ((overall_num + RAY // 2) // RAY * RAY + 10**9 // 2) // 10**9
    liq = (((overall * u + RAY // 2) // RAY) * 8500 + 5000) // 10000
    assert rates(1, 2) == (liq, b)
    assert b / RAY == pytest.approx(0.027 / 3 / 0.92, rel=1e-15)


def test_no_debt_pays_nothing_and_borrows_at_the_base() -> None:
    data = InterestRateData(8000, 50, 400, 6000)
    assert rates(0, 1000, data=data) == (0, 5 * 10**24)


def test_the_reserve_factor_scales_only_the_supply_rate() -> None:
    assert rates(96, 4, rf=0)[1] == rates(96, 4, rf=5000)[1]
    assert rates(96, 4, rf=5000)[0] == 227 * 96 * 5 * 10**21  # 22.7 % x 0.96 x 0.5


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (InterestRateData(99, 0, 100, 200), "83"),  # below MIN_OPTIMAL_POINT (1 %)
        (InterestRateData(9901, 0, 100, 200), "83"),  # above MAX_OPTIMAL_POINT (99 %)
        (InterestRateData(8000, 0, 300, 200), "95"),  # slope2 < slope1
        (InterestRateData(8000, 100, 50_000, 50_000), "92"),  # base + slopes > 1000 %
    ],
)
def test_set_interest_rate_params_reverts_as_the_contract(data: InterestRateData, code: str) -> None:
    with pytest.raises(Revert) as exc:
        check_interest_rate_data(data)
    assert exc.value.reason == code


def test_the_bounds_themselves_pass() -> None:
    for data in (InterestRateData(100, 0, 0, 0), InterestRateData(9900, 0, 5000, 5000),
                 InterestRateData(5000, 0, 50_000, 50_000)):  # fmt: skip
        assert check_interest_rate_data(data) is data


def test_the_float_curve_follows_the_exact_one() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        opt = int(rng.integers(100, 9901))
        s1 = int(rng.integers(0, 2000))
        data = InterestRateData(opt, int(rng.integers(0, 500)), s1, int(rng.integers(s1, 30_000)))
        rf = int(rng.integers(0, 10_001))
        debt = int(rng.integers(1, 10**18)) * 10**6
        avail = int(rng.integers(0, 10**18)) * 10**6
        liq, var = calculate_interest_rates(
            data, virtual_underlying_balance=avail, total_debt=debt, reserve_factor=rf
        )
        curve = RateCurve(np.array([opt / 1e4]), np.array([data.base_variable_borrow_rate / 1e4]),
                          np.array([s1 / 1e4]), np.array([data.variable_rate_slope2 / 1e4]), np.array([rf / 1e4]))  # fmt: skip
        u = np.array([debt / (debt + avail)])
        assert curve.borrow_rate(u)[0] == pytest.approx(var / RAY, rel=1e-9, abs=1e-18)
        assert curve.supply_rate(u)[0] == pytest.approx(liq / RAY, rel=1e-9, abs=1e-18)


def test_the_flagship_curves_reach_the_max_rates_their_diff_states() -> None:
    # AIP-diff InterestRateUpdateWETHAndWstETHEthereum 2025-07-21: maxVariableBorrowRate 42.7 % (WETH), 41 % (wstETH)
    from firesale.data._aave_v3_params import RATE_STRATEGIES

    got = {}
    for s in RATE_STRATEGIES:
        data = InterestRateData(*(round(v * 1e4) for v in (s.optimal_usage_ratio, s.base_variable_borrow_rate,
                                                            s.variable_rate_slope1, s.variable_rate_slope2)))  # fmt: skip
        check_interest_rate_data(data)
        got[s.asset] = rates(100, 0, data=data)[1]
    assert got == {"WETH": 427 * 10**24, "wstETH": 410 * 10**24}
