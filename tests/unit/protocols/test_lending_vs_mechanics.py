"""The engine's float liquidation kernel agrees with the exact Aave v3 mechanics to 1e-9 relative."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from firesale.mechanics import aave_v3 as aave
from firesale.protocols.lending import LendingParams, liquidation_round_numba, liquidation_round_numpy

WETH_DEC, USDC_DEC = 18, 6


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
        np.zeros((1, 2)), np.ones(2), -1e30,
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
