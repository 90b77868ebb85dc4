"""The engine's float liquidation kernel agrees with the exact Aave v3 mechanics to 1e-9 relative."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from firesale.mechanics import aave_v3 as aave
from firesale.protocols.lending import (
    RULES_COMPOUND,
    LendingParams,
    liquidation_round_numba,
    liquidation_round_numpy,
)

WETH_DEC, USDC_DEC = 18, 6
SIZES = np.array([0.0, 1.0, 1e30])
NO_SLIPPAGE = np.broadcast_to(SIZES, (1, 2, 3)).copy()  # venues that pay the market price for any size


@st.composite
def accounts(draw):
    eth_price = draw(st.integers(500 * 10**8, 5_000 * 10**8))  # base currency, 8 decimals
    coll = draw(st.integers(10, 100_000)) * 10**WETH_DEC // 10  # 1 to 10,000 WETH
    hf_target = draw(st.floats(0.5, 0.999))
    lt = draw(st.integers(5_000, 9_000))  # bps
    bonus = draw(st.integers(10_100, 11_500))  # bps including principal
    fee = draw(st.integers(0, 2_000))  # bps of the bonus
    debt_usd = coll / 10**WETH_DEC * eth_price / 10**8 * lt / 10_000 / hf_target
    debt = int(debt_usd * 10**USDC_DEC)
    assume(debt >= 10**11)  # at least 100,000 USDC so integer rounding stays below 1e-9 relative
    return eth_price, coll, debt, lt, bonus, fee


def _exact(eth_price, coll, debt, lt, bonus, fee):
    weth = aave.ReserveConfiguration(
        decimals=WETH_DEC,
        ltv=lt - 100,
        liquidation_threshold=lt,
        liquidation_bonus=bonus,
        liquidation_protocol_fee=fee,
    )
    usdc = aave.ReserveConfiguration(
        decimals=USDC_DEC, ltv=7_500, liquidation_threshold=8_000, liquidation_bonus=10_450
    )
    reserves = [
        aave.UserReserveData("WETH", weth, eth_price, scaled_a_token_balance=coll),
        aave.UserReserveData("USDC", usdc, 10**8, scaled_variable_debt=debt),
    ]
    return aave.liquidation_call(reserves, "WETH", "USDC", 2**256 - 1)


def _float(kernel, eth_price, coll, debt, lt, bonus, fee):
    c = np.array([[[coll / 10**WETH_DEC, 0.0]]])
    d = np.array([[[0.0, debt / 10**USDC_DEC]]])
    prices = np.array([[eth_price / 10**8, 1.0]])
    params = LendingParams(
        np.array([[lt / 1e4, 0.8]]),
        np.array([[bonus / 1e4 - 1, 0.045]]),
        np.array([fee / 1e4, 0.0]),
        0.5,
        0.95,
    )
    out = kernel(
        c, d, prices, prices, params, np.array([True]), np.array([1]), np.array([1e30]), np.zeros(1),
        -1e30, SIZES, NO_SLIPPAGE,
    )  # fmt: skip
    return out


@pytest.mark.parametrize("kernel", [liquidation_round_numpy, liquidation_round_numba])
@settings(max_examples=80, deadline=None)
@given(case=accounts())
def test_kernel_matches_exact_liquidation_call(kernel, case):
    eth_price, coll, debt, lt, bonus, fee = case
    hf = coll / 10**WETH_DEC * eth_price * lt / 10_000 / (debt / 10**USDC_DEC * 10**8)
    assume(abs(hf - 0.95) > 1e-6 and abs(hf - 1.0) > 1e-6)  # away from the branch points, where 1 wei decides
    exact = _exact(*case)
    out = _float(kernel, *case)
    assert out.n_liquidations[0] == 1
    assert out.repaid[0, 1] == pytest.approx(exact.actual_debt_to_liquidate / 10**USDC_DEC, rel=1e-9)
    assert out.seized[0, 0] == pytest.approx(exact.actual_collateral_to_liquidate / 10**WETH_DEC, rel=1e-9)
    assert out.fee[0, 0] == pytest.approx(
        exact.liquidation_protocol_fee_amount / 10**WETH_DEC, rel=1e-9, abs=1e-15
    )


@st.composite
def compound_cases(draw):
    eth_price = (
        draw(st.integers(500, 5_000)) * 10**18
    )  # Compound oracle: USD per token, 1e18-scaled for 18 decimals
    exchange_rate = draw(
        st.integers(2 * 10**26, 3 * 10**26)
    )  # cETH: about 0.02 ETH per cToken (1e8 decimals)
    incentive = draw(st.integers(1_050, 1_150)) * 10**15  # 1.05 to 1.15
    debt = draw(st.integers(10**5, 10**8)) * 10**6  # USDC units (6 decimals), 0.1M to 100M USDC
    return eth_price, exchange_rate, incentive, debt


@pytest.mark.parametrize("kernel", [liquidation_round_numpy, liquidation_round_numba])
@settings(max_examples=80, deadline=None)
@given(case=compound_cases())
def test_kernel_matches_compound_seize(kernel, case):
    """One Compound v2 liquidation of half the USDC debt (close factor 0.5) against plenty of ETH collateral."""
    from firesale.mechanics import compound_v2 as comp

    eth_price, exchange_rate, incentive, debt = case
    repay = debt // 2
    price_usdc = 10**30  # Compound's oracle scales prices by 1e(36 - decimals): USDC (6 decimals) at $1
    err, seize_ctokens = comp.liquidate_calculate_seize_tokens(
        price_usdc, eth_price, exchange_rate, incentive, repay
    )
    assert int(err) == 0
    protocol_ctokens = seize_ctokens * comp.PROTOCOL_SEIZE_SHARE_MANTISSA // 10**18
    to_eth = (
        exchange_rate / 1e18 / 1e18
    )  # cTokens (8 decimals) to ETH (18 decimals): tokens * rate / 1e18 wei
    eth = eth_price / 1e18
    collateral_eth = 10 * debt / 1e6 / eth  # ample: HF stays below 1 only through the threshold set below
    c = np.array([[[collateral_eth, 0.0]]])
    d = np.array([[[0.0, debt / 1e6]]])
    prices = np.array([[eth, 1.0]])
    params = LendingParams(
        np.array([[0.05, 0.8]]), np.array([[incentive / 1e18 - 1, 0.0]]), np.array([0.028, 0.0]), 0.5, 0.0,
        fee_on_seized=True, rules=RULES_COMPOUND,
    )  # fmt: skip
    out = kernel(
        c, d, prices, prices, params, np.array([True]), np.array([1]), np.array([1e30]), np.zeros(1),
        -1e30, SIZES, NO_SLIPPAGE,
    )  # fmt: skip
    assert out.repaid[0, 1] == pytest.approx(repay / 1e6, rel=1e-9)
    assert out.seized[0, 0] + out.fee[0, 0] == pytest.approx(seize_ctokens * to_eth, rel=1e-9)
    assert out.fee[0, 0] == pytest.approx(protocol_ctokens * to_eth, rel=1e-9)
