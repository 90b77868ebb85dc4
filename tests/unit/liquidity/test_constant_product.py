"""ConstantProductPool against the exact Uniswap v2 mechanics, v2-periphery's arbitrage vectors and scipy.

Expected values come from :mod:`firesale.mechanics.uniswap_v2` (itself pinned to the v2 test suites), from
Uniswap/v2-periphery ``test/ExampleSwapToPrice.spec.ts`` (commit 0335e8f), from brute-force numerical
maximisation of the arbitrageur's profit, and from hand-derived identities shown in the tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize_scalar

from firesale.exceptions import ParameterError
from firesale.liquidity import Venue
from firesale.liquidity.constant_product import ConstantProductPool
from firesale.mechanics.uniswap_v2 import get_amount_out

RTOL = 1e-9


def pool_with(reserve0: float, reserve1: float, fee_bps: float = 30) -> ConstantProductPool:
    return ConstantProductPool("pool", coins=("A", "B"), reserves=(reserve0, reserve1), fee_bps=fee_bps)


def test_is_a_venue() -> None:
    pool = pool_with(1.0, 2.0)
    assert isinstance(pool, Venue)
    state = pool.init_state(3)
    assert set(state.arrays) == {"reserve0", "reserve1"}
    assert state["reserve0"].shape == (3,)


# --- agreement with firesale.mechanics.uniswap_v2 -----------------------------------------------------------------


@settings(max_examples=150, deadline=None, database=None)
@given(
    reserves=st.tuples(st.integers(10**15, 10**27), st.integers(10**15, 10**27)),
    fractions=st.lists(st.floats(1e-6, 10.0), min_size=1, max_size=8),
    fee_bps=st.sampled_from([0, 5, 30, 100]),
    i=st.sampled_from([0, 1]),
)
def test_swap_matches_exact_v2(
    reserves: tuple[int, int], fractions: list[float], fee_bps: int, i: int
) -> None:
    j = 1 - i
    pool = pool_with(float(reserves[0]), float(reserves[1]), fee_bps)
    state = pool.init_state(len(fractions))
    amounts = [int(f * reserves[i]) for f in fractions]
    out = pool.swap(state, i, j, np.array(amounts, dtype=float))
    exact_out = [get_amount_out(a, reserves[i], reserves[j], fee_bps) for a in amounts]
    exact_float = np.array(exact_out, dtype=float)
    np.testing.assert_allclose(out, exact_float, rtol=RTOL)
    exact_price = np.array(
        [(reserves[j] - o) / (reserves[i] + a) for a, o in zip(amounts, exact_out, strict=True)]
    )
    np.testing.assert_allclose(pool.price(state, i, j), exact_price, rtol=RTOL)
    np.testing.assert_allclose(
        state[f"reserve{i}"], np.array([reserves[i] + a for a in amounts], dtype=float), rtol=1e-15
    )


def test_zero_amount_is_a_no_op() -> None:
    pool = pool_with(100.0, 200.0)
    state = pool.init_state(2)
    out = pool.swap(state, 0, 1, np.array([0.0, 1.0]))
    assert out[0] == 0.0
    assert (state["reserve0"][0], state["reserve1"][0]) == (100.0, 200.0)


def test_swap_by_hand() -> None:
    # No fee, selling x = R into (R, 2R) pays 2R * R / 2R = R.
    pool = pool_with(100.0, 200.0, fee_bps=0)
    state = pool.init_state(1)
    assert pool.swap(state, 0, 1, np.array([100.0]))[0] == pytest.approx(100.0, rel=1e-15)
    assert pool.price(state, 0, 1)[0] == pytest.approx(0.5, rel=1e-15)


# --- arbitrage: v2-periphery test/ExampleSwapToPrice.spec.ts ---------------------------------------------------------

# Reserves 10e18 : 1000e18; computeProfitMaximizingTrade then the router swap. (i, j, target price of i in j,
# amount of the input sold, amount received), amounts in wei.
SWAP_TO_PRICE = [
    (0, 1, 90.0, 526682316179835569, 49890467170695440744),  # "moves the price to 1:90"
    (1, 0, 1 / 110, 47376582963642643588, 451039908682851138),  # "moves the price to 1:110"
    (0, 1, 110.0, 47376582963642643588, 451039908682851138),  # "reverse token order"
]


@pytest.mark.parametrize(("i", "j", "target", "sold", "received"), SWAP_TO_PRICE)
def test_arbitrage_matches_example_swap_to_price(
    i: int, j: int, target: float, sold: int, received: int
) -> None:
    pool = pool_with(10e18, 1000e18)
    state = pool.init_state(1)
    d_i, d_j = pool.arbitrage(state, i, j, np.array([target]), np.array([np.inf]))
    into_pool, out_of_pool = (d_i, -d_j) if d_i[0] > 0 else (d_j, -d_i)
    # The contract rounds its integer square root and the router floors the output: a few wei of 1e17..1e20.
    assert into_pool[0] == pytest.approx(sold, rel=1e-12)
    assert out_of_pool[0] == pytest.approx(received, rel=1e-12)


# --- arbitrage: brute-force maximisation and the fee-band edge --------------------------------------------------------


def _profit(
    r_in: float, r_out: float, gamma: float, value_in: float, value_out: float, amount: float
) -> float:
    """Arbitrageur's profit in units of j from selling ``amount`` of the input (hand formula of a v2 swap)."""
    received = gamma * amount * r_out / (r_in + gamma * amount)
    return received * value_out - amount * value_in


@settings(max_examples=60, deadline=None, database=None)
@given(
    reserves=st.tuples(st.floats(1e2, 1e9), st.floats(1e2, 1e9)),
    mispricing=st.floats(-3.0, 3.0).filter(lambda m: abs(m) > 0.02),  # outside the widest fee band (1 %)
    fee_bps=st.sampled_from([0, 5, 30, 100]),
    i=st.sampled_from([0, 1]),
)
def test_arbitrage_maximises_profit(
    reserves: tuple[float, float], mispricing: float, fee_bps: int, i: int
) -> None:
    j = 1 - i
    pool = pool_with(*reserves, fee_bps=fee_bps)
    state = pool.init_state(1)
    r_i, r_j = reserves[i], reserves[j]
    target = r_j / r_i * np.exp(mispricing)
    gamma = 1 - fee_bps / 10_000
    d_i, d_j = pool.arbitrage(state, i, j, np.array([target]), np.array([np.inf]))
    # Independent answer: maximise the profit of selling i (or j) numerically.
    if d_i[0] > 0:
        r_in, r_out, value_in, value_out, amount = r_i, r_j, target, 1.0, d_i[0]
    else:
        r_in, r_out, value_in, value_out, amount = r_j, r_i, 1.0, target, d_j[0]
    result = minimize_scalar(
        lambda a: -_profit(r_in, r_out, gamma, value_in, value_out, a),
        bounds=(0.0, 10 * r_in),
        method="bounded",
        options={"xatol": 1e-12 * r_in},
    )
    assert amount == pytest.approx(result.x, rel=1e-5)
    best = _profit(r_in, r_out, gamma, value_in, value_out, amount)
    assert best >= -result.fun - 1e-12 * abs(result.fun)
    # The last unit executes at the edge of the fee band: the marginal output gamma R_in R_out / (R_in + gamma a)^2
    # equals the target (in the direction of the trade).
    marginal_out = gamma * r_in * r_out / (r_in + gamma * amount) ** 2
    assert marginal_out == pytest.approx(value_in / value_out, rel=1e-9)
    # The fee stays in the pool, so the post-trade spot sits just inside the band:
    # gamma P' = target (R + gamma a) / (R + a), P' being the price of the input coin.
    coin_in = i if d_i[0] > 0 else j
    spot_after = state[f"reserve{1 - coin_in}"][0] / state[f"reserve{coin_in}"][0]
    assert gamma * spot_after == pytest.approx(
        value_in / value_out * (r_in + gamma * amount) / (r_in + amount), rel=1e-9
    )


def test_arbitrage_inside_fee_band_does_nothing() -> None:
    pool = pool_with(1000.0, 2000.0, fee_bps=30)
    state = pool.init_state(3)
    # Pool price 2; the band is (2 * 0.997, 2 / 0.997) = (1.994, 2.00602).
    d_i, d_j = pool.arbitrage(state, 0, 1, np.array([1.995, 2.0, 2.006]), np.full(3, np.inf))
    assert (d_i == 0).all()
    assert (d_j == 0).all()
    assert (state["reserve0"] == 1000.0).all()


def test_arbitrage_capped_by_capital() -> None:
    pool = pool_with(1000.0, 2000.0, fee_bps=30)
    state = pool.init_state(4)
    target = np.array([1.0, 1.0, 4.0, 4.0])  # sell coin 0 on the first two paths, buy it on the others
    cap = np.array([10.0, np.inf, 10.0, np.inf])
    d_i, d_j = pool.arbitrage(state, 0, 1, target, cap)
    # Capped paths spend exactly their capital: 10 of coin 0 worth 1 each, or 10 of coin 1.
    assert d_i[0] * target[0] == pytest.approx(10.0, rel=1e-15)
    assert d_j[2] == pytest.approx(10.0, rel=1e-15)
    assert d_i[1] * target[1] > 10.0
    assert d_j[3] > 10.0
    np.testing.assert_allclose(state["reserve0"], 1000.0 + d_i, rtol=1e-15)
    np.testing.assert_allclose(state["reserve1"], 2000.0 + d_j, rtol=1e-15)


def test_arbitrage_closes_the_gap_for_the_next_trader() -> None:
    # After the optimal trade, a further small sale of coin 0 at the target price loses money.
    pool = pool_with(1000.0, 3000.0, fee_bps=30)
    state = pool.init_state(1)
    pool.arbitrage(state, 0, 1, np.array([2.0]), np.array([np.inf]))
    more = pool.swap(state.copy(), 0, 1, np.array([1e-3]))
    assert more[0] < 2.0 * 1e-3


# --- depth and liquidity ---------------------------------------------------------------------------------------------


def test_depth_and_scale_liquidity() -> None:
    pool = pool_with(400.0, 900.0)
    state = pool.init_state(2)
    np.testing.assert_allclose(pool.depth(state), [600.0, 600.0])
    pool.scale_liquidity(state, np.array([0.5, 2.0]))
    np.testing.assert_allclose(pool.depth(state), [300.0, 1200.0])
    np.testing.assert_allclose(pool.price(state, 0, 1), [2.25, 2.25])


# --- bad input -----------------------------------------------------------------------------------------------------


def test_bad_parameters() -> None:
    with pytest.raises(
        ParameterError,
        match=r"^The 'fee_bps' parameter of ConstantProductPool must be a number in \[0, 10000\)\. Got -1",
    ):
        ConstantProductPool("p", coins=("A", "B"), reserves=(1.0, 1.0), fee_bps=-1)
    with pytest.raises(
        ParameterError, match=r"The 'reserves' parameter of ConstantProductPool must be two finite"
    ):
        ConstantProductPool("p", coins=("A", "B"), reserves=(1.0, 0.0))
    with pytest.raises(
        ParameterError, match=r"The 'coins' parameter of ConstantProductPool must be two distinct"
    ):
        ConstantProductPool("p", coins=("A", "A"), reserves=(1.0, 1.0))
    pool = pool_with(1.0, 1.0)
    state = pool.init_state(2)
    with pytest.raises(
        ParameterError, match=r"The 'dx' parameter of ConstantProductPool.swap .* Got -1.0 at path 1"
    ):
        pool.swap(state, 0, 1, np.array([1.0, -1.0]))
    with pytest.raises(
        ParameterError, match=r"The 'j' parameter of ConstantProductPool.swap must differ from 'i'"
    ):
        pool.swap(state, 1, 1, np.zeros(2))
    with pytest.raises(
        ParameterError, match=r"The 'i' parameter of ConstantProductPool.price must be 0 or 1"
    ):
        pool.price(state, 2, 1)
    with pytest.raises(
        ParameterError, match=r"The 'target_price' parameter of ConstantProductPool.arbitrage"
    ):
        pool.arbitrage(state, 0, 1, np.array([1.0, 0.0]), np.ones(2))
    with pytest.raises(ParameterError, match=r"The 'dx' parameter .* of shape \(2,\)"):
        pool.swap(state, 0, 1, np.ones(3))
