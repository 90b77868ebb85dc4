"""Aave v3.0.2 account data, liquidation amounts and liquidation reverts.

Expected values come from the protocol's test suites (aave/aave-v3-core test-suites/*.spec.ts at commit b74526a,
with the test market's reserve parameters from aave/aave-v3-deploy markets/test/reservesConfigs.ts and commons.ts)
or from hand calculations written out next to each number.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import assume, given, settings, strategies as st

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.aave_v3 import (
    RAY,
    UINT256_MAX,
    EModeCategory,
    Errors,
    ReserveConfiguration,
    UserReserveData,
    calculate_available_borrows,
    calculate_available_collateral_to_liquidate,
    calculate_debt,
    calculate_user_account_data,
    liquidation_call,
    validate_liquidation_call,
)

E18 = 10**18
E8 = 10**8
E6 = 10**6

# aave/aave-v3-deploy markets/test/reservesConfigs.ts (strategyWETH, strategyDAI, strategyUSDC) and commons.ts
# (EModes.StableEMode: ltv 9800, liquidationThreshold 9850, liquidationBonus 10100, assets USDC and DAI).
WETH = ReserveConfiguration(
    decimals=18, ltv=8000, liquidation_threshold=8250, liquidation_bonus=10500, liquidation_protocol_fee=1000
)
DAI = ReserveConfiguration(
    decimals=18,
    ltv=7500,
    liquidation_threshold=8000,
    liquidation_bonus=10500,
    liquidation_protocol_fee=1000,
    e_mode_category=1,
)
USDC = ReserveConfiguration(
    decimals=6,
    ltv=8000,
    liquidation_threshold=8500,
    liquidation_bonus=10500,
    liquidation_protocol_fee=1000,
    e_mode_category=1,
)
STABLE_E_MODE = dict(ltv=9800, liquidation_threshold=9850, liquidation_bonus=10100)

WETH_NO_FEE = replace(WETH, liquidation_protocol_fee=0)
USDC_NO_FEE = replace(USDC, liquidation_protocol_fee=0, e_mode_category=0)


def weth_usdc_account(weth_price: int, scaled_weth: int, scaled_usdc_debt: int, **debt_kwargs):
    return [
        UserReserveData("WETH", WETH_NO_FEE, weth_price, scaled_a_token_balance=scaled_weth),
        UserReserveData(
            "USDC",
            USDC_NO_FEE,
            E8,
            scaled_variable_debt=scaled_usdc_debt,
            using_as_collateral=False,
            **debt_kwargs,
        ),
    ]


# --------------------------------------------------------------------------------------------------------------
# GenericLogic.calculateUserAccountData


def test_account_data_hand_calculation():
    # 10 WETH at 1900 USD against 16000 USDC of variable debt, indexes at 1 RAY.
    # collateral = 10e18 * 1900e8 / 1e18 = 19000e8; debt = 16000e6 * 1e8 / 1e6 = 16000e8
    # HF = wadDiv(percentMul(19000e8, 8250), 16000e8) = 15675e8 / 16000e8 = 0.9796875 (exact)
    data = calculate_user_account_data(weth_usdc_account(1900 * E8, 10 * E18, 16000 * E6))
    assert data.total_collateral_in_base_currency == 19000 * E8
    assert data.total_debt_in_base_currency == 16000 * E8
    assert data.avg_ltv == 8000
    assert data.avg_liquidation_threshold == 8250
    assert data.health_factor == 979687500000000000
    assert data.has_zero_ltv_collateral is False


def test_account_data_weighted_averages_truncate():
    # 5000 DAI at 1 USD (ltv 7500, lt 8000) + 1 WETH at 4000 USD (ltv 8000, lt 8250), no debt:
    # avg ltv = (5000e8 * 7500 + 4000e8 * 8000) / 9000e8 = 7722.2 -> 7722
    # avg lt  = (5000e8 * 8000 + 4000e8 * 8250) / 9000e8 = 8111.1 -> 8111
    reserves = [
        UserReserveData("DAI", DAI, E8, scaled_a_token_balance=5000 * E18),
        UserReserveData("WETH", WETH, 4000 * E8, scaled_a_token_balance=E18),
    ]
    data = calculate_user_account_data(reserves)
    assert (data.total_collateral_in_base_currency, data.total_debt_in_base_currency) == (9000 * E8, 0)
    assert (data.avg_ltv, data.avg_liquidation_threshold) == (7722, 8111)
    assert data.health_factor == UINT256_MAX
    # pool-edge.spec.ts: availableBorrowsBase = totalCollateralBase * ltv / 10000 with no debt
    assert calculate_available_borrows(9000 * E8, 0, 7722) == 9000 * E8 * 7722 // 10_000
    assert calculate_available_borrows(100, 200, 5000) == 0


def test_account_data_indexes_and_stable_debt():
    # scaled 9.5 WETH at liquidity index 1.05 -> rayMul = 9.975 WETH; at 1300 USD -> 12967.5e8
    # debt: rayMul(10000e6, 1.1 RAY) = 11000e6 variable + 1000e6 stable = 12000e6 -> 12000e8
    # HF = wadDiv(percentMul(12967.5e8, 8250) = 10698.1875e8, 12000e8) = 0.891515625
    reserves = [
        UserReserveData(
            "WETH", WETH, 1300 * E8, liquidity_index=105 * 10**25, scaled_a_token_balance=95 * 10**17
        ),
        UserReserveData(
            "USDC",
            USDC,
            E8,
            variable_borrow_index=11 * 10**26,
            scaled_variable_debt=10000 * E6,
            stable_debt=1000 * E6,
            using_as_collateral=False,
        ),
    ]
    data = calculate_user_account_data(reserves)
    assert data.total_collateral_in_base_currency == 1296750000000
    assert data.total_debt_in_base_currency == 1200000000000
    assert data.health_factor == 891515625000000000


def test_zero_ltv_collateral_is_flagged_and_left_out_of_ltv():
    # ltv-validation.spec.ts sets DAI's ltv to 0 (configureReserveAsCollateral(dai, 0, 8000, 10500)).
    # With 1000 DAI (ltv 0) and 1 WETH at 1000 USD: avg ltv = 1000e8 * 8000 / 2000e8 = 4000, lt = 8125.
    dai_zero_ltv = replace(DAI, ltv=0, e_mode_category=0)
    reserves = [
        UserReserveData("DAI", dai_zero_ltv, E8, scaled_a_token_balance=1000 * E18),
        UserReserveData("WETH", WETH, 1000 * E8, scaled_a_token_balance=E18),
    ]
    data = calculate_user_account_data(reserves)
    assert data.has_zero_ltv_collateral is True
    assert data.avg_ltv == 4000
    assert data.avg_liquidation_threshold == 8125


def test_collateral_needs_threshold_and_bit():
    # A zero liquidation threshold or a cleared collateral bit keeps the balance out of the collateral.
    for reserve in (
        UserReserveData(
            "WETH", replace(WETH, liquidation_threshold=0), 1000 * E8, scaled_a_token_balance=E18
        ),
        UserReserveData("WETH", WETH, 1000 * E8, scaled_a_token_balance=E18, using_as_collateral=False),
    ):
        debt = UserReserveData("USDC", USDC, E8, scaled_variable_debt=E6, using_as_collateral=False)
        data = calculate_user_account_data([reserve, debt])
        assert data.total_collateral_in_base_currency == 0
        assert data.health_factor == 0  # wadDiv(0, 1e8)


def test_empty_account_returns_contract_defaults():
    # pool-edge.spec.ts "... healthFactor MAX_UINT_AMOUNT" after withdrawing everything.
    reserves = [UserReserveData("WETH", WETH, 1000 * E8, using_as_collateral=False)]
    data = calculate_user_account_data(reserves)
    assert (
        data.total_collateral_in_base_currency,
        data.total_debt_in_base_currency,
        data.avg_ltv,
        data.avg_liquidation_threshold,
        data.health_factor,
        data.has_zero_ltv_collateral,
    ) == (0, 0, 0, 0, UINT256_MAX, False)


def test_account_data_overflow_panics():
    reserves = [UserReserveData("USDC", USDC, UINT256_MAX, stable_debt=2, using_as_collateral=False)]
    with pytest.raises(Revert, match=r"^Panic\(0x11\)$"):
        calculate_user_account_data(reserves)


# --------------------------------------------------------------------------------------------------------------
# liquidation-emode.spec.ts, "Liquidation of eMode collateral with eMode debt in EMode with custom price feed" and
# "Liquidation of non-eMode collateral with eMode debt in eMode with custom price feed": oracle prices DAI 0.99,
# USDC 1.01, WETH 4000, e-mode price source 1 (then doubled to 2), all 8 decimals; indexes taken at 1 RAY (the spec
# tolerates 2 wei of drift from accrual). The borrower borrows availableBorrowsBase / 100 USDC.


def e_mode_user(dai_supplied: int, e_mode_price: int, usdc_debt: int = 0):
    return [
        UserReserveData("DAI", DAI, 99 * 10**6, scaled_a_token_balance=dai_supplied),
        UserReserveData("WETH", WETH, 4000 * E8, scaled_a_token_balance=E18),
        UserReserveData("USDC", USDC, 101 * 10**6, scaled_variable_debt=usdc_debt, using_as_collateral=False),
    ], EModeCategory(**STABLE_E_MODE, asset_price=e_mode_price)


def test_liquidation_emode_spec_emode_collateral():
    reserves, category = e_mode_user(5000 * E18, E8)
    data = calculate_user_account_data(reserves, 1, category)
    # DAI at the e-mode price: 5000e8 + 4000e8; ltv (5000 * 9800 + 4000 * 8000) / 9000 = 9000
    assert data.total_collateral_in_base_currency == 9000 * E8
    assert data.avg_ltv == 9000
    to_borrow = calculate_available_borrows(9000 * E8, 0, data.avg_ltv) // 100
    assert to_borrow == 8100 * E6

    reserves, category = e_mode_user(5000 * E18, E8, to_borrow)
    before = calculate_user_account_data(reserves, 1, category)
    # lt = (5000 * 9850 + 4000 * 8250) / 9000 = 9138; HF = 8224.2e8 / 8100e8 = 1.01533..
    assert before.health_factor == 1015333333333333333  # spec: > 1

    reserves, category = e_mode_user(5000 * E18, 2 * E8, to_borrow)
    after = calculate_user_account_data(reserves, 1, category)
    # 14000e8 collateral, lt 9392, debt 16200e8: HF = 13148.8 / 16200
    assert after.health_factor == 811654320987654321  # spec: < 1

    result = liquidation_call(
        reserves, "DAI", "USDC", to_borrow // 2, user_e_mode_category=1, e_mode_category=category
    )
    # spec: debtPrice * (toBorrow / 2) percentMul(10100) * 1e18 / (collateralPrice * 1e6), both prices 2e8
    spec_expected = 4090500000000000000000
    seized_from_user = result.actual_collateral_to_liquidate + result.liquidation_protocol_fee_amount
    assert abs(seized_from_user - spec_expected) <= 2
    # exact: base 4050e18 * 1.01 = 4090.5e18; bonus part 40.5e18, 10% of it to the treasury
    assert result.liquidation_bonus == 10100
    assert result.actual_debt_to_liquidate == 4050 * E6
    assert result.liquidation_protocol_fee_amount == 405 * 10**16
    assert result.actual_collateral_to_liquidate == 408645 * 10**16


def test_liquidation_emode_spec_non_emode_collateral():
    reserves, category = e_mode_user(E18, E8)
    data = calculate_user_account_data(reserves, 1, category)
    # 1e8 (DAI at the e-mode price) + 4000e8; ltv (1 * 9800 + 4000 * 8000) / 4001 = 8000.45 -> 8000
    to_borrow = calculate_available_borrows(data.total_collateral_in_base_currency, 0, data.avg_ltv) // 100
    assert to_borrow == 3200800000

    reserves, category = e_mode_user(E18, E8, to_borrow)
    assert calculate_user_account_data(reserves, 1, category).health_factor == 1031250000000000000
    reserves, category = e_mode_user(E18, 2 * E8, to_borrow)
    assert calculate_user_account_data(reserves, 1, category).health_factor == 515753874031492127

    result = liquidation_call(
        reserves, "WETH", "USDC", to_borrow // 2, user_e_mode_category=1, e_mode_category=category
    )
    # WETH is outside the category: its own bonus (10500) and oracle price; the debt uses the e-mode price source.
    # spec: 2e8 * 1600400000 percentMul(10500) * 1e18 / (4000e8 * 1e6) = 0.84021 WETH
    assert result.liquidation_bonus == 10500
    assert (
        result.actual_collateral_to_liquidate + result.liquidation_protocol_fee_amount == 840210000000000000
    )
    assert result.liquidation_protocol_fee_amount == 4001000000000000  # 10% of 0.04001


def test_e_mode_without_price_source_uses_asset_prices():
    # Same DAI supply, category without price source: DAI counts at its oracle price 0.99 and the e-mode lt.
    reserves = [UserReserveData("DAI", DAI, 99 * 10**6, scaled_a_token_balance=1000 * E18)]
    category = EModeCategory(**STABLE_E_MODE)
    data = calculate_user_account_data(reserves, 1, category)
    assert data.total_collateral_in_base_currency == 990 * E8
    assert (data.avg_ltv, data.avg_liquidation_threshold) == (9800, 9850)


# --------------------------------------------------------------------------------------------------------------
# LiquidationLogic: hand-calculated liquidations


def test_liquidation_half_close_factor_hand_calculation():
    reserves = weth_usdc_account(1900 * E8, 10 * E18, 16000 * E6)
    result = liquidation_call(reserves, "WETH", "USDC", UINT256_MAX)
    # HF 0.9796875 > 0.95: close factor 50% -> percentMul(16000e6, 5000) = 8000e6
    # base = 1e8 * 8000e6 * 1e18 / (1900e8 * 1e6) = 4.2105263157894736842e18 -> 4210526315789473684
    # percentMul(base, 10500) = (4210526315789473684 * 10500 + 5000) / 10000 = 4421052631578947368
    assert result.health_factor == 979687500000000000
    assert result.actual_debt_to_liquidate == 8000 * E6
    assert result.actual_collateral_to_liquidate == 4421052631578947368
    assert result.liquidation_protocol_fee_amount == 0
    weth, usdc = result.reserves
    assert weth.scaled_a_token_balance == 10 * E18 - 4421052631578947368
    assert weth.using_as_collateral is True
    assert usdc.scaled_variable_debt == 8000 * E6
    assert usdc.is_borrowing is True


def test_liquidation_below_requested_cap():
    result = liquidation_call(weth_usdc_account(1900 * E8, 10 * E18, 16000 * E6), "WETH", "USDC", 100 * E6)
    # base = 1e8 * 100e6 * 1e18 / (1900e8 * 1e6) = 52631578947368421; * 1.05 half-up = 55263157894736842
    assert result.actual_debt_to_liquidate == 100 * E6
    assert result.actual_collateral_to_liquidate == 55263157894736842


def test_liquidation_full_close_factor_with_fee_stable_debt_and_indexes():
    reserves = [
        UserReserveData(
            "WETH", WETH, 1300 * E8, liquidity_index=105 * 10**25, scaled_a_token_balance=95 * 10**17
        ),
        UserReserveData(
            "USDC",
            USDC,
            E8,
            variable_borrow_index=11 * 10**26,
            scaled_variable_debt=10000 * E6,
            stable_debt=1000 * E6,
            using_as_collateral=False,
        ),
    ]
    result = liquidation_call(reserves, "WETH", "USDC", UINT256_MAX)
    # HF 0.8915 <= 0.95: close factor 100% -> all 12000e6
    # base = 1e8 * 12000e6 * 1e18 / (1300e8 * 1e6) = 9230769230769230769; * 1.05 -> 9692307692307692307
    # bonus = 9692307692307692307 - percentDiv(.., 10500) = 9692307692307692307 - 9230769230769230769
    #       = 461538461538461538; fee = percentMul(bonus, 1000) = 46153846153846154 (…53.8 rounds up)
    assert result.user_total_debt == 12000 * E6
    assert result.user_collateral_balance == 9975 * 10**15
    assert result.actual_debt_to_liquidate == 12000 * E6
    assert result.liquidation_protocol_fee_amount == 46153846153846154
    assert result.actual_collateral_to_liquidate == 9646153846153846153
    weth, usdc = result.reserves
    # variable debt (11000e6) burned first: rayDiv(11000e6, 1.1 RAY) = 10000e6 scaled; stable pays the rest.
    assert (usdc.scaled_variable_debt, usdc.stable_debt, usdc.is_borrowing) == (0, 0, False)
    # aTokens: 9.5e18 - rayDiv(9646153846153846153, 1.05 RAY) = 9.5e18 - 9186813186813186812 = 313186813186813188
    # then the fee: - rayDiv(46153846153846154, 1.05 RAY) = - 43956043956043956
    assert weth.scaled_a_token_balance == 269230769230769232
    assert weth.using_as_collateral is True


def test_liquidation_collateral_binds():
    # liquidation-underlying.spec.ts "...liquidates the borrow" with AAVE: all the user's collateral is taken.
    # 1 WETH at 1000 USD vs 2000 USDC: HF = 825 / 2000 = 0.4125, close factor 100%, base = 2 WETH > 1 WETH held.
    # debt needed = percentDiv(1000e8 * 1e18 * 1e6 / (1e8 * 1e18) = 1000e6, 10500) = (1e13 + 5250) / 10500
    result = liquidation_call(weth_usdc_account(1000 * E8, E18, 2000 * E6), "WETH", "USDC", UINT256_MAX)
    assert result.health_factor == 412500000000000000
    assert result.actual_collateral_to_liquidate == E18
    assert result.actual_debt_to_liquidate == 952380952
    weth, usdc = result.reserves
    assert (weth.scaled_a_token_balance, weth.using_as_collateral) == (0, False)
    assert (usdc.scaled_variable_debt, usdc.is_borrowing) == (2000 * E6 - 952380952, True)


def test_liquidation_fee_capped_at_remaining_balance():
    # 63 scaled aTokens at index 1.5e27 + 7: balance rayMul = 94.5.. -> 95 wei, worth 0 in base currency, so HF = 0.
    # The balance binds: collateral 95, bonus 95 - percentDiv(95, 10500) = 95 - 90 = 5, fee percentMul(5, 1000) = 1,
    # liquidator 94. Burning 94 takes rayDiv(94, I) = 63 scaled units, leaving 0; the fee's rayDiv(1, I) = 1 > 0,
    # so the contract caps the fee at rayMul(0, I) = 0. Debt needed: percentDiv(2000e8 * 95 / 1e8 = 190000, 10500).
    dust = ReserveConfiguration(
        decimals=18,
        ltv=8000,
        liquidation_threshold=8250,
        liquidation_bonus=10500,
        liquidation_protocol_fee=1000,
    )
    dai = replace(DAI, e_mode_category=0)
    reserves = [
        UserReserveData("DUST", dust, 2000 * E8, liquidity_index=15 * 10**26 + 7, scaled_a_token_balance=63),
        UserReserveData("DAI", dai, E8, scaled_variable_debt=E18, using_as_collateral=False),
    ]
    result = liquidation_call(reserves, "DUST", "DAI", UINT256_MAX)
    assert result.health_factor == 0
    assert result.user_collateral_balance == 95
    assert result.actual_collateral_to_liquidate == 94
    assert result.liquidation_protocol_fee_amount == 0
    assert result.actual_debt_to_liquidate == 180952
    dust_after, dai_after = result.reserves
    assert (dust_after.scaled_a_token_balance, dust_after.using_as_collateral) == (0, False)
    assert dai_after.scaled_variable_debt == E18 - 180952


def test_receive_a_token_transfers_instead_of_burning():
    reserves = weth_usdc_account(1900 * E8, 10 * E18, 16000 * E6)
    burned = liquidation_call(reserves, "WETH", "USDC", 100 * E6)
    transferred = liquidation_call(reserves, "WETH", "USDC", 100 * E6, True)
    assert transferred.actual_collateral_to_liquidate == burned.actual_collateral_to_liquidate
    assert transferred.reserves == burned.reserves


def test_same_asset_collateral_and_debt():
    # Supply 10 WETH and borrow 9 WETH: collateral 10 * 8250 / 10000 = 8.25 < 9: HF = 8.25 / 9 = 0.91666..
    reserves = [
        UserReserveData(
            "WETH", WETH_NO_FEE, 1000 * E8, scaled_a_token_balance=10 * E18, scaled_variable_debt=9 * E18
        )
    ]
    result = liquidation_call(reserves, "WETH", "WETH", E18)
    # Repay 1 WETH for 1.05 WETH of collateral; both balances move on the one reserve.
    assert result.actual_collateral_to_liquidate == 105 * 10**16
    (weth,) = result.reserves
    assert weth.scaled_a_token_balance == 10 * E18 - 105 * 10**16
    assert weth.scaled_variable_debt == 8 * E18


def test_calculate_debt_close_factor_threshold_is_inclusive():
    # HF exactly 0.95e18 is not above the threshold: 100%; one wei above: 50% (percentMul(1001, 5000) = 500.5 -> 501)
    assert calculate_debt(0, 1001, UINT256_MAX, 95 * 10**16) == (1001, 1001, 1001)
    assert calculate_debt(0, 1001, UINT256_MAX, 95 * 10**16 + 1) == (1001, 1001, 501)
    assert calculate_debt(400, 601, 300, 0) == (601, 1001, 300)
    with pytest.raises(Revert, match=r"^Panic\(0x11\)$"):
        calculate_debt(UINT256_MAX, 1, 0, 0)


def test_available_collateral_reverts():
    kwargs = dict(
        collateral_price=2000 * E8, debt_asset_price=E8, collateral_decimals=18, debt_asset_decimals=6
    )
    with pytest.raises(Revert, match=r"^Panic\(0x12\)$"):
        calculate_available_collateral_to_liquidate(E6, E18, 10500, **{**kwargs, "collateral_price": 0})
    with pytest.raises(Revert, match=r"^Panic\(0x11\)$"):
        calculate_available_collateral_to_liquidate(UINT256_MAX, E18, 10500, **kwargs)
    # A bonus below 100% with a protocol fee: percentDiv(collateral, 9000) > collateral, the subtraction underflows.
    with pytest.raises(Revert, match=r"^Panic\(0x11\)$"):
        calculate_available_collateral_to_liquidate(
            E6, E18, 9000, liquidation_protocol_fee_percentage=1000, **kwargs
        )
    # A zero bonus makes the maximum collateral 0 (it never binds): no fee, nothing seized for the debt repaid...
    assert calculate_available_collateral_to_liquidate(E6, E18, 0, **kwargs) == (0, E6, 0)
    # ...and with a protocol fee, percentDiv(0, 0) reverts without a reason.
    with pytest.raises(Revert) as excinfo:
        calculate_available_collateral_to_liquidate(
            E6, E18, 0, liquidation_protocol_fee_percentage=1, **kwargs
        )
    assert excinfo.value.reason == ""


# --------------------------------------------------------------------------------------------------------------
# ValidationLogic.validateLiquidationCall and the reverts of liquidationCall, with the codes of Errors.sol


def liquidatable_account():
    return weth_usdc_account(1900 * E8, 10 * E18, 16000 * E6)  # HF 0.9796875


def test_error_codes_match_the_spec_helpers():
    # aave/aave-v3-core helpers/types.ts ProtocolErrors
    assert Errors.INVALID_BURN_AMOUNT == "25"
    assert Errors.RESERVE_INACTIVE == "27"
    assert Errors.RESERVE_PAUSED == "29"
    assert Errors.HEALTH_FACTOR_NOT_BELOW_THRESHOLD == "45"
    assert Errors.COLLATERAL_CANNOT_BE_LIQUIDATED == "46"
    assert Errors.SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER == "47"
    assert Errors.PRICE_ORACLE_SENTINEL_CHECK_FAILED == "59"


@pytest.mark.parametrize("asset", ["WETH", "USDC"])
def test_inactive_reserve_reverts_27(asset):
    # liquidation-underlying.spec.ts: setReserveActive(weth | dai, false) -> revertedWith('27')
    reserves = [
        replace(r, configuration=replace(r.configuration, active=False)) if r.asset == asset else r
        for r in liquidatable_account()
    ]
    with pytest.raises(Revert, match=r"^27$"):
        liquidation_call(reserves, "WETH", "USDC", E6)


def test_paused_reserve_reverts_29():
    # pausable-reserve.spec.ts: setReservePause(usdc, true) -> RESERVE_PAUSED
    reserves = [
        replace(r, configuration=replace(r.configuration, paused=True)) if r.asset == "USDC" else r
        for r in liquidatable_account()
    ]
    with pytest.raises(Revert, match=r"^29$"):
        liquidation_call(reserves, "WETH", "USDC", E6)


def test_sentinel_blocks_only_above_095():
    # price-oracle-sentinel.spec.ts: sequencer down and HF > 0.95 -> '59'; after dropping HF lower it liquidates.
    with pytest.raises(Revert, match=r"^59$"):
        liquidation_call(liquidatable_account(), "WETH", "USDC", E6, is_liquidation_allowed=False)
    deeper = weth_usdc_account(1700 * E8, 10 * E18, 16000 * E6)  # HF = 14025 / 16000 = 0.8765625
    assert (
        liquidation_call(deeper, "WETH", "USDC", E6, is_liquidation_allowed=False).actual_debt_to_liquidate
        == E6
    )
    assert liquidation_call(liquidatable_account(), "WETH", "USDC", E6, is_liquidation_allowed=True)


def test_healthy_position_reverts_45():
    # liquidation-atoken.spec.ts: liquidationCall on a healthy borrower -> HEALTH_FACTOR_NOT_BELOW_THRESHOLD.
    # HF exactly 1: 10 WETH at 2000 -> 20000e8 * 0.825 = 16500e8 against 16500e8 of debt.
    with pytest.raises(Revert, match=r"^45$"):
        liquidation_call(weth_usdc_account(2000 * E8, 10 * E18, 16500 * E6), "WETH", "USDC", 1, True)


def test_collateral_not_enabled_reverts_46():
    # liquidation-atoken.spec.ts: liquidationCall(dai, dai, ...) where DAI is only borrowed -> '46'
    reserves = [*liquidatable_account(), UserReserveData("DAI", DAI, E8, using_as_collateral=False)]
    with pytest.raises(Revert, match=r"^46$"):
        liquidation_call(reserves, "DAI", "DAI", E18, True)
    zero_threshold = [
        replace(r, configuration=replace(r.configuration, liquidation_threshold=0))
        if r.asset == "USDC"
        else r
        for r in liquidatable_account()
    ]
    with pytest.raises(Revert, match=r"^46$"):
        liquidation_call(zero_threshold, "USDC", "USDC", E6)


def test_debt_not_borrowed_reverts_47():
    # liquidation-atoken.spec.ts: liquidationCall(weth, weth, ...) where no WETH is borrowed -> '47'
    with pytest.raises(Revert, match=r"^47$"):
        liquidation_call(liquidatable_account(), "WETH", "WETH", E18, True)


def test_zero_debt_to_cover_reverts_25():
    # The variable debt burn of 0 scaled units is rejected by ScaledBalanceTokenBase._burnScaled.
    with pytest.raises(Revert, match=r"^25$"):
        liquidation_call(liquidatable_account(), "WETH", "USDC", 0)


def test_validate_liquidation_call_order():
    # Inactive is reported before paused, paused before the health factor.
    inactive_paused = replace(WETH, active=False, paused=True)
    with pytest.raises(Revert, match=r"^27$"):
        validate_liquidation_call(
            inactive_paused, USDC, is_using_as_collateral=True, total_debt=1, health_factor=2 * E18
        )
    with pytest.raises(Revert, match=r"^29$"):
        validate_liquidation_call(
            replace(WETH, paused=True), USDC, is_using_as_collateral=True, total_debt=1, health_factor=2 * E18
        )
    # 46 comes before 47
    with pytest.raises(Revert, match=r"^46$"):
        validate_liquidation_call(WETH, USDC, is_using_as_collateral=False, total_debt=0, health_factor=0)
    assert (
        validate_liquidation_call(
            WETH, USDC, is_using_as_collateral=True, total_debt=1, health_factor=E18 - 1
        )
        is None
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: liquidation_call(liquidatable_account(), "LINK", "USDC", 1),
            r"The 'collateral_asset' parameter of liquidation_call must be the asset of one of the given reserves\. "
            r"Got 'LINK' instead\.",
        ),
        (
            lambda: liquidation_call(liquidatable_account(), "WETH", "USDC", -1),
            r"The 'debt_to_cover' parameter of liquidation_call must be an int in \[0, 2\*\*256 - 1\]\. Got -1",
        ),
        (
            lambda: liquidation_call(liquidatable_account(), "WETH", "USDC", 1, 1),
            r"The 'receive_a_token' parameter of liquidation_call must be a bool\. Got 1 instead\.",
        ),
        (
            lambda: liquidation_call(liquidatable_account(), "WETH", "USDC", 1, user_e_mode_category=1),
            r"The 'e_mode_category' parameter of liquidation_call must be an EModeCategory",
        ),
        (
            lambda: calculate_user_account_data([*liquidatable_account(), *liquidatable_account()]),
            r"The 'reserves' parameter of calculate_user_account_data must name each asset once\. Got 'WETH' twice",
        ),
        (
            lambda: ReserveConfiguration(decimals=18, ltv=70_000),
            r"The 'ltv' parameter of ReserveConfiguration must be an int in \[0, 65535\]\. Got 70000 instead\.",
        ),
        (
            lambda: UserReserveData("WETH", WETH, E8, liquidity_index=RAY - 1),
            r"The 'liquidity_index' parameter of UserReserveData must be an int in \[1000000000000000000000000000, "
            r"2\*\*128 - 1\]",
        ),
        (
            lambda: UserReserveData("WETH", WETH, E8, scaled_a_token_balance=2**128),
            r"The 'scaled_a_token_balance' parameter of UserReserveData must be an int in \[0, 2\*\*128 - 1\]",
        ),
        (
            lambda: calculate_debt(0, 0, 0, -1),
            r"The 'health_factor' parameter of calculate_debt must be an int in \[0, 2\*\*256 - 1\]\. Got -1",
        ),
    ],
)
def test_bad_input_is_rejected(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


# --------------------------------------------------------------------------------------------------------------
# properties over random single-collateral, single-debt accounts


@st.composite
def accounts(draw):
    """A collateral C and a debt D sized to land the health factor roughly in [0.3, 1.3] (dust included)."""
    collateral = ReserveConfiguration(
        decimals=draw(st.integers(0, 24)),
        ltv=0,
        liquidation_threshold=draw(st.integers(1, 9_800)),
        liquidation_bonus=draw(st.integers(10_001, 15_000)),
        liquidation_protocol_fee=draw(st.sampled_from([0, 1, 1_000, 5_000, 10_000])),
    )
    debt = ReserveConfiguration(decimals=draw(st.integers(0, 24)))
    collateral_price, debt_price = draw(st.integers(10**4, 10**14)), draw(st.integers(10**4, 10**14))
    liquidity_index, borrow_index = draw(st.integers(RAY, 3 * RAY)), draw(st.integers(RAY, 3 * RAY))
    collateral_value = draw(
        st.one_of(st.integers(1, 10**4), st.integers(10**4, 10**16))
    )  # base currency units
    scaled_collateral = (
        collateral_value * 10**collateral.decimals // collateral_price * RAY // liquidity_index
    )
    # Target health factor in basis points, with extra weight around the 0.95 and 1.0 thresholds.
    target_hf = draw(st.one_of(st.integers(3_000, 13_000), st.integers(9_300, 10_100)))
    debt_value = collateral_value * collateral.liquidation_threshold // target_hf
    debt_amount = debt_value * 10**debt.decimals // debt_price
    stable_debt = draw(st.one_of(st.just(0), st.integers(0, debt_amount)))
    reserves = [
        UserReserveData(
            "C",
            collateral,
            collateral_price,
            liquidity_index=liquidity_index,
            scaled_a_token_balance=scaled_collateral,
        ),
        UserReserveData(
            "D",
            debt,
            debt_price,
            variable_borrow_index=borrow_index,
            scaled_variable_debt=(debt_amount - stable_debt) * RAY // borrow_index,
            stable_debt=stable_debt,
            using_as_collateral=False,
        ),
    ]
    debt_to_cover = draw(st.one_of(st.just(UINT256_MAX), st.integers(0, 2 * debt_amount + 1)))
    return reserves, debt_to_cover


@settings(max_examples=150, deadline=None)
@given(accounts())
def test_health_factor_at_least_one_is_never_liquidatable(case):
    reserves, debt_to_cover = case
    health_factor = calculate_user_account_data(reserves).health_factor
    assume(health_factor >= 10**18)
    # An account without debt has HF 2**256 - 1 and also fails this check first.
    with pytest.raises(Revert, match=r"^45$"):
        liquidation_call(reserves, "C", "D", debt_to_cover)


@settings(max_examples=300, deadline=None)
@given(accounts())
def test_liquidation_bounds(case):
    reserves, debt_to_cover = case
    try:
        result = liquidation_call(reserves, "C", "D", debt_to_cover)
    except Revert as exc:
        reason = exc.reason
    else:
        reason = None
    if reason is not None:
        # HF >= 1 (which includes no debt), or a burn that rounds to zero scaled units.
        assert reason in {"45", "25"}
        return
    collateral, debt = reserves
    assert result.health_factor < 10**18
    # Collateral seized (to the liquidator and the treasury) never exceeds the user's balance.
    taken = result.actual_collateral_to_liquidate + result.liquidation_protocol_fee_amount
    assert taken <= result.user_collateral_balance
    # Repaid debt never exceeds the close-factor share of the debt, nor the liquidator's offer.
    close_factor = 5_000 if result.health_factor > 95 * 10**16 else 10_000
    assert result.actual_debt_to_liquidate * 10_000 <= result.user_total_debt * close_factor + 5_000
    assert result.actual_debt_to_liquidate <= debt_to_cover
    # Seized value <= repaid value * bonus, up to the contract's rounding: one wei of collateral, and two wei of debt
    # from the truncated quotient and the half-up percentDiv when the balance binds.
    cp, dp = collateral.asset_price, debt.asset_price
    cu, du = 10**collateral.configuration.decimals, 10**debt.configuration.decimals
    bonus = collateral.configuration.liquidation_bonus
    assert (
        taken * cp * du * 10_000 <= (result.actual_debt_to_liquidate + 2) * dp * cu * bonus + cp * du * 10_000
    )
    # The protocol fee is at most its share of the bonus part (plus half-up rounding).
    fee_bps = collateral.configuration.liquidation_protocol_fee
    assert result.liquidation_protocol_fee_amount * 10_000 <= taken * fee_bps + 5_000
