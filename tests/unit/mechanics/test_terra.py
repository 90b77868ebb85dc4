"""Terra x/market swap: hand-computed swaps through the virtual pool and the module's own test values."""

from __future__ import annotations

import pytest

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.terra import (
    PRECISION,
    MarketParams,
    apply_swap_to_pool,
    compute_internal_swap,
    compute_swap,
    dec,
    dec_mul,
    dec_quo,
    replenish_pools,
    swap,
)

# 1 LUNA = 2 SDR = 3 USD; base pool 1,000,000 usdr; min spread 0.5%.
RATES = {"usdr": dec(2), "uusd": dec(3)}
PARAMS = MarketParams(base_pool=dec(1_000_000), pool_recovery_period=36, min_stability_spread=dec("0.005"))


def test_terra_to_luna_swap_by_hand():
    # Offer 30,000 uusd. In SDR: 30000 * 2 / 3 = 20000 usdr; at the oracle: 20000 / 2 = 10000 uluna.
    # Pools: cp = 1e12, terra = luna = 1e6. ask_base = 1e6 - 1e12 / 1.02e6
    #   1e12 / 1.02e6 = 980392.156862745098039215686... -> 18 decimals, round half even: ...098039216
    #   ask_base = 19607.843137254901960784
    # spread = (20000 - 19607.843137254901960784) / 20000 = 0.0196078431372549019608 -> 0.019607843137254902
    ret, spread = compute_swap(30_000, "uusd", "uluna", RATES, 0, PARAMS)
    assert ret == dec(10_000)
    assert spread == dec("0.019607843137254902")
    # fee = 0.019607843137254902 * 10000 = 196.07843137254902; ask = 9803.92156862745098
    # trader gets 9803 uluna; the fraction 0.92156862745098 joins the fee: 197.00000000000000 -> 197 minted as fee.
    r = swap(30_000, "uusd", "uluna", RATES, 0, PARAMS)
    assert (r.swap_coin, r.fee_coin, r.burned, r.minted) == (9803, 197, 30_000, 10_000)
    # The Terra pool fills by the offer's SDR value: delta = +20000 usdr.
    assert r.terra_pool_delta == dec(20_000)


def test_luna_to_terra_after_the_pool_moved():
    # With delta = +20000 (Terra pool 1,020,000; LUNA pool 1e12 / 1.02e6 = 980392.156862745098039216),
    # offer 1000 uluna = 2000 usdr = 3000 uusd at the oracle.
    # ask_base = 1020000 - 1e12 / (980392.156862745098039216 + 2000)
    #   980392.156862745098039216 + 2000 = 982392.156862745098039216
    #   1e12 / 982392.156862745098039216 = 1017923.1936...; computed here in exact rationals and rounded.
    from fractions import Fraction

    luna_pool = Fraction(980392156862745098039216, PRECISION)
    q = Fraction(10**12) / (luna_pool + 2000)
    q_dec = round(q * PRECISION)  # exact rational rounded at 18 decimals (ties are impossible here)
    ask_base = Fraction(1_020_000) - Fraction(q_dec, PRECISION)
    spread = round((2000 - ask_base) / 2000 * PRECISION)
    ret, got = compute_swap(1000, "uluna", "uusd", RATES, dec(20_000), PARAMS)
    assert ret == dec(3000)
    assert got == max(spread, dec("0.005"))
    # The spread is smaller than the Terra->LUNA one: the pool favours the swap that restores it.
    assert got < dec("0.019607843137254902")


def test_min_spread_applies_to_tiny_swaps():
    # 3 uusd = 2 usdr: the pool spread is about 2e-6, below the 0.5% minimum.
    _, spread = compute_swap(3, "uusd", "uluna", RATES, 0, PARAMS)
    assert spread == dec("0.005")


def test_replenish_by_hand():
    # delta 20000 / 36 = 555.555555555555555555 (QuoInt64 truncates); 20000 - that = 19444.444444444444444445
    assert replenish_pools(dec(20_000), PARAMS) == dec("19444.444444444444444445")
    assert replenish_pools(-dec(20_000), PARAMS) == -dec("19444.444444444444444445")


def test_module_apply_swap_to_pool_values():
    # x/market/keeper/swap_test.go TestApplySwapToPool: LUNA = 1.7 SDR; 1000 uluna -> 1700 usdr moves the
    # delta by -1700; the reverse swap by +1700; Terra<>Terra (usdr -> ukrw) leaves it.
    rates = {"usdr": dec("1.7"), "ukrw": dec("3.4")}
    assert apply_swap_to_pool(1000, "uluna", dec(1700), "usdr", rates, 0) == -dec(1700)
    assert apply_swap_to_pool(1700, "usdr", dec(1000), "uluna", rates, 0) == dec(1700)
    assert apply_swap_to_pool(1700, "usdr", dec(3400), "ukrw", rates, 0) == 0


def test_module_compute_swap_values():
    # TestComputeSwap / TestComputeInternalSwap: ret = offer / 1.7, spread >= MinStabilitySpread (default 2%),
    # and an offer of 1.7 / 2 truncated (0 usdr) is an error.
    params = MarketParams()
    rates = {"usdr": dec("1.7")}
    for amount in (2, 17, 1700, 17_000_000, 1_700_000_017):
        ret, spread = compute_swap(amount, "usdr", "uluna", rates, 0, params)
        assert ret == dec_quo(amount * PRECISION, dec("1.7"))
        assert spread >= params.min_stability_spread
    with pytest.raises(Revert):
        compute_swap(0, "usdr", "uluna", rates, 0, params)
    assert compute_internal_swap(dec(17), "usdr", "uluna", rates) == dec(10)


def test_terra_to_terra_pays_the_higher_tobin_tax():
    # TestIlliquidTobinTaxListParams: usdr tax 0.25%, umnt 0.5% -> spread 0.5%.
    rates = {"usdr": dec("1.7"), "umnt": dec("765.2")}
    taxes = {"usdr": dec("0.0025"), "umnt": dec("0.005")}
    _, spread = compute_swap(1700, "usdr", "umnt", rates, 0, MarketParams(), taxes)
    assert spread == dec("0.005")


def test_dec_rounding_half_even():
    # 0.5e-18 rounds to even: 1e-18 * 0.5 -> 0; 3e-18 * 0.5 = 1.5e-18 -> 2e-18.
    assert dec_mul(1, dec("0.5")) == 0 and dec_mul(3, dec("0.5")) == 2


def test_params_validation_and_errors():
    with pytest.raises(Revert, match="pool recovery period should be positive"):
        MarketParams(pool_recovery_period=0)
    with pytest.raises(Revert, match="between \\[0,1\\]"):
        MarketParams(min_stability_spread=-1)
    with pytest.raises(Revert, match="recursive swap"):
        compute_swap(10, "uluna", "uluna", RATES, 0, PARAMS)
    with pytest.raises(Revert, match="no price"):
        compute_swap(10, "ueur", "uluna", RATES, 0, PARAMS)
    with pytest.raises(ParameterError, match="'offer_amount'"):
        swap(0, "uusd", "uluna", RATES, 0, PARAMS)
