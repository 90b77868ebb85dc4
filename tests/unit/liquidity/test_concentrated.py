"""ConcentratedLiquidityPool against the exact Uniswap v3 mechanics, scipy, hand formulas and a real snapshot.

Expected values come from :class:`firesale.mechanics.uniswap_v3.Pool` (itself pinned to v3-core's 240-swap
snapshot), from brute-force numerical maximisation of the arbitrageur's profit on the exact pool, and from
hand-derived formulas shown in the tests.
"""

from __future__ import annotations

import copy
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize_scalar

from firesale.data import load_uniswap_v3_ticks
from firesale.exceptions import ParameterError
from firesale.liquidity import Venue, concentrated
from firesale.liquidity.concentrated import ConcentratedLiquidityPool
from firesale.mechanics.uniswap_v3 import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    Pool,
    SwapStep,
    get_sqrt_ratio_at_tick,
)

Q96 = 2**96
INT256_MAX = 2**255 - 1
SPACING = {500: 10, 3000: 60, 10000: 200}


def exact_pool(fee: int, sqrt_price_x96: int, ranges: list[tuple[int, int, int]]) -> Pool:
    pool = Pool(fee=fee, tick_spacing=SPACING[fee])
    pool.initialize(sqrt_price_x96)
    for n, (lower, upper, liquidity) in enumerate(ranges):
        pool.mint(f"lp{n}", lower, upper, liquidity)
    return pool


def float_pool(
    fee: int, sqrt_price_x96: int, ranges: list[tuple[int, int, int]]
) -> ConcentratedLiquidityPool:
    return ConcentratedLiquidityPool(
        "pool",
        ("T0", "T1"),
        ranges=[(lo, hi, float(liq)) for lo, hi, liq in ranges],
        sqrt_price_x96=sqrt_price_x96,
        fee=fee,
        tick_spacing=SPACING[fee],
        decimals=(0, 0),
    )


def exact_sell(pool: Pool, zero_for_one: bool, amount: int) -> tuple[int, int]:
    """Exact-input swap with the default limit; return (output, number of steps)."""
    steps: list[SwapStep] = []
    amount0, amount1 = pool.swap(
        zero_for_one, amount, MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1, steps
    )
    return -(amount1 if zero_for_one else amount0), len(steps)


def test_is_a_venue() -> None:
    pool = float_pool(3000, Q96, [(-600, 600, 10**18)])
    assert isinstance(pool, Venue)
    state = pool.init_state(3)
    assert set(state.arrays) == {"sqrt_price", "segment", "liquidity_scale", "liquidity"}
    assert all(a.shape == (3,) for a in state.arrays.values())


# --- agreement with the exact pool ---------------------------------------------------------------------------------


@st.composite
def pools(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, int, int]]]:
    fee = draw(st.sampled_from(sorted(SPACING)))
    spacing = SPACING[fee]
    ranges = draw(
        st.lists(
            st.tuples(st.integers(-60, 59), st.integers(1, 60), st.integers(10**18, 10**22)).map(
                lambda r: (r[0] * spacing, (r[0] + r[1]) * spacing, r[2])
            ),
            min_size=1,
            max_size=6,
        )
    )
    if draw(st.booleans()):  # sometimes a full-range position, so that no swap can run out of liquidity
        ranges.append(
            (
                -(MAX_TICK // spacing) * spacing,
                (MAX_TICK // spacing) * spacing,
                draw(st.integers(10**16, 10**20)),
            )
        )
    low, high = get_sqrt_ratio_at_tick(-40 * spacing), get_sqrt_ratio_at_tick(40 * spacing)
    return fee, draw(st.integers(low, high)), ranges


# Trade sizes as fractions of the pool's total liquidity (prices stay within 1.5x of 1, so this is the scale of
# the virtual reserves). A float64 sqrt price resolves a trade to about 1e-16 of the virtual reserves, so 1e-9
# relative agreement is meaningful from about 1e-6 of them; smaller trades are dust for this comparison.
fractions = st.floats(1e-5, 5.0)


@settings(max_examples=60, deadline=None, database=None)
@given(
    setup=pools(),
    zero_for_one=st.booleans(),
    first_fractions=st.lists(fractions, min_size=1, max_size=5),
    second_fractions=st.lists(fractions, min_size=5, max_size=5),
)
def test_swaps_match_exact_pool(
    setup: tuple[int, int, list[tuple[int, int, int]]],
    zero_for_one: bool,
    first_fractions: list[float],
    second_fractions: list[float],
) -> None:
    fee, sqrt_price_x96, ranges = setup
    scale = sum(r[2] for r in ranges)
    first = [max(int(f * scale), 1) for f in first_fractions]
    second = [max(int(f * scale), 1) for f in second_fractions]
    pool = float_pool(fee, sqrt_price_x96, ranges)
    state = pool.init_state(len(first))
    exact = [exact_pool(fee, sqrt_price_x96, ranges) for _ in first]
    # A swap, then one the other way from wherever each path ended (exercising the tick bookkeeping both ways).
    for direction, amounts in ((zero_for_one, first), (not zero_for_one, second[: len(first)])):
        i = 0 if direction else 1
        if any(
            e.sqrt_price_x96 == (MIN_SQRT_RATIO + 1 if direction else MAX_SQRT_RATIO - 1) for e in exact
        ):  # a path drained to its bound cannot trade further that way
            break
        out = pool.swap(state, i, 1 - i, np.array(amounts, dtype=float))
        results = [exact_sell(e, direction, a) for e, a in zip(exact, amounts, strict=True)]
        want = np.array([r[0] for r in results], dtype=float)
        # The contract rounds each step's amounts to integers: at most one unit per step of dust.
        dust = np.array([r[1] for r in results], dtype=float)
        assert np.all(np.abs(out - want) <= 1e-9 * np.abs(want) + dust), (out, want)
        want_price = np.array([(e.sqrt_price_x96 / Q96) ** 2 for e in exact])
        np.testing.assert_allclose(pool.price(state, 0, 1), want_price, rtol=1e-9)
        np.testing.assert_allclose(state["liquidity"], [float(e.liquidity) for e in exact], rtol=1e-12)


def test_crossing_an_empty_gap_by_hand() -> None:
    liquidity = 10**21
    pool = float_pool(3000, Q96, [(-1200, -600, liquidity), (600, 1200, liquidity)])
    state = pool.init_state(1)
    assert state["liquidity"][0] == 0.0
    amount = 1e18
    out = pool.swap(state, 0, 1, np.array([amount]))
    # Nothing trades in the gap (0, -600); from sqrt(1.0001^-600) the pool is x*y = L^2 with 0.3 % fee:
    # sqrtP' = L s / (L + 0.997 a s), out = L (s - sqrtP').
    s = get_sqrt_ratio_at_tick(-600) / Q96
    s_after = liquidity * s / (liquidity + 0.997 * amount * s)
    assert out[0] == pytest.approx(liquidity * (s - s_after), rel=1e-12)
    assert np.sqrt(pool.price(state, 0, 1)[0]) == pytest.approx(s_after, rel=1e-12)
    assert state["liquidity"][0] == liquidity


def test_paths_are_independent() -> None:
    ranges = [(-1200, 1200, 10**21), (-120, 120, 5 * 10**21), (600, 3000, 10**21)]
    pool = float_pool(3000, get_sqrt_ratio_at_tick(30), ranges)
    amounts = [(5e20, 0.0), (0.0, 3e20), (2e21, 1e21), (1e18, 4e21)]
    state = pool.init_state(len(amounts))
    together = [pool.swap(state, 0, 1, np.array([a[0] for a in amounts]))]
    together.append(pool.swap(state, 1, 0, np.array([a[1] for a in amounts])))
    for n, (a0, a1) in enumerate(amounts):
        alone = pool.init_state(1)
        assert pool.swap(alone, 0, 1, np.array([a0]))[0] == together[0][n]
        assert pool.swap(alone, 1, 0, np.array([a1]))[0] == together[1][n]
        assert alone["sqrt_price"][0] == state["sqrt_price"][n]
        assert alone["segment"][0] == state["segment"][n]


# --- arbitrage -----------------------------------------------------------------------------------------------------


ARB_RANGES = [
    (-3000, 3000, 10**21),
    (-600, 600, 4 * 10**21),
    (1200, 2400, 2 * 10**21),
    (-2400, -1800, 10**21),
]


@pytest.mark.parametrize("i", [0, 1])
@pytest.mark.parametrize("log_mispricing", [-0.3, -0.05, 0.04, 0.25])
def test_arbitrage_is_the_exact_swap_to_the_band_edge_and_maximises_profit(
    i: int, log_mispricing: float
) -> None:
    fee, start = 3000, get_sqrt_ratio_at_tick(100)
    pool = float_pool(fee, start, ARB_RANGES)
    state = pool.init_state(1)
    j = 1 - i
    target = float(pool.price(state, i, j)[0] * np.exp(log_mispricing))
    d_i, d_j = pool.arbitrage(state, i, j, np.array([target]), np.array([np.inf]))
    gamma = 1 - fee / 1e6
    # Edge of the fee band: token0's pool price ends at p / gamma (token0 sold) or p * gamma (token0 bought).
    p01 = target if i == 0 else 1 / target
    sold0 = bool((d_i if i == 0 else d_j)[0] > 0)
    assert pool.price(state, 0, 1)[0] == pytest.approx(p01 / gamma if sold0 else p01 * gamma, rel=1e-12)

    # Exact mechanics: the same trade is a swap of "everything" with the band edge as price limit.
    limit = int(np.sqrt(p01 / gamma if sold0 else p01 * gamma) * Q96)
    exact = exact_pool(fee, start, ARB_RANGES)
    amount0, amount1 = exact.swap(sold0, INT256_MAX, limit)
    assert (d_i if i == 0 else d_j)[0] == pytest.approx(amount0, rel=1e-9)
    assert (d_i if i == 1 else d_j)[0] == pytest.approx(amount1, rel=1e-9)

    # Brute force: the amount that maximises profit on the exact pool, found by scipy.
    value_in = target if (i == 0) == sold0 else 1.0  # value of one unit of the input coin, in units of j
    value_out = 1.0 if (i == 0) == sold0 else target

    untouched = exact_pool(fee, start, ARB_RANGES)

    def loss(amount: float) -> float:
        trial = copy.deepcopy(untouched)
        a0, a1 = trial.swap(sold0, max(int(amount), 1), MIN_SQRT_RATIO + 1 if sold0 else MAX_SQRT_RATIO - 1)
        received = -(a1 if sold0 else a0)
        return -(received * value_out - amount * value_in)

    paid = amount0 if sold0 else amount1
    best = minimize_scalar(loss, bounds=(0.0, 3.0 * paid), method="bounded", options={"xatol": 1e-9 * paid})
    assert paid == pytest.approx(best.x, rel=1e-4)


@settings(max_examples=60, deadline=None, database=None)
@given(
    setup=pools(),
    i=st.sampled_from([0, 1]),
    log_mispricing=st.floats(0.02, 0.5),
    cheaper=st.booleans(),
    cap_fraction=st.one_of(st.just(np.inf), st.floats(1e-4, 2.0)),
)
def test_arbitrage_matches_exact_swap_to_price(
    setup: tuple[int, int, list[tuple[int, int, int]]],
    i: int,
    log_mispricing: float,
    cheaper: bool,
    cap_fraction: float,
) -> None:
    fee, sqrt_price_x96, ranges = setup
    pool = float_pool(fee, sqrt_price_x96, ranges)
    state = pool.init_state(1)
    j = 1 - i
    target = float(pool.price(state, i, j)[0] * np.exp(-log_mispricing if cheaper else log_mispricing))
    scale = sum(r[2] for r in ranges)
    cap = cap_fraction * scale  # in units of j (raw, decimals are 0)
    d_i, d_j = pool.arbitrage(state, i, j, np.array([target]), np.array([cap]))
    # Exact mechanics: swap with the fee-band edge as limit and the capital as exact input.
    gamma = 1 - fee / 1e6
    p01 = target if i == 0 else 1 / target
    p_pool = (sqrt_price_x96 / Q96) ** 2
    sold0 = gamma * p_pool > p01
    edge = p01 / gamma if sold0 else p01 * gamma
    sold_i = sold0 == (i == 0)
    amount = INT256_MAX if np.isinf(cap) else int(cap / target if sold_i else cap)
    exact = exact_pool(fee, sqrt_price_x96, ranges)
    steps: list[SwapStep] = []
    amount0, amount1 = exact.swap(sold0, amount, int(np.sqrt(edge) * Q96), steps)
    got = np.array([d_i[0], d_j[0]] if i == 0 else [d_j[0], d_i[0]])  # (token0, token1) into the pool
    want = np.array([amount0, amount1], dtype=float)
    assert np.all(np.abs(got - want) <= 1e-9 * np.abs(want) + len(steps)), (got, want)
    np.testing.assert_allclose(pool.price(state, 0, 1)[0], (exact.sqrt_price_x96 / Q96) ** 2, rtol=1e-9)


def test_arbitrage_inside_fee_band_and_capped() -> None:
    pool = float_pool(3000, Q96, ARB_RANGES)
    state = pool.init_state(4)
    # Price 1; the band is (0.997, 1 / 0.997). Paths: inside the band twice, then far off with a 1e18 cap.
    target = np.array([0.9975, 1.002, 0.5, 2.0])
    cap = np.array([np.inf, np.inf, 1e18, 1e18])
    d0, d1 = pool.arbitrage(state, 0, 1, target, cap)
    assert (d0[:2] == 0).all()
    assert (d1[:2] == 0).all()
    assert d0[2] * target[2] == pytest.approx(1e18, rel=1e-12)  # sells 2e18 of token0 worth 0.5 each
    assert d1[3] == pytest.approx(1e18, rel=1e-12)  # pays 1e18 of token1 for token0


# --- depth and liquidity ---------------------------------------------------------------------------------------------


def test_depth_and_scale_liquidity() -> None:
    ranges = [(-1200, 1200, 10**21), (-120, 120, 5 * 10**21)]
    pool = float_pool(3000, Q96, ranges)
    state = pool.init_state(2)
    # depth: mean liquidity over sqrt prices within +/-2 % of price 1 (ticks -198..198): 6e21 inside +/-120 ticks,
    # 1e21 in the rest of the band.
    band = 1.02**0.5 - 1.02**-0.5
    inner = 1.0001**60 - 1.0001**-60
    expected = (6e21 * inner + 1e21 * (band - inner)) / band
    np.testing.assert_allclose(pool.depth(state), [expected, expected], rtol=1e-9)
    pool.scale_liquidity(state, np.array([0.5, 1.0]))
    np.testing.assert_allclose(pool.depth(state), [expected / 2, expected], rtol=1e-9)
    np.testing.assert_allclose(pool.price(state, 0, 1), [1.0, 1.0])
    # A half-liquidity path trades like a pool built with half of every range.
    halved = float_pool(3000, Q96, [(lo, hi, liq // 2) for lo, hi, liq in ranges])
    reference = halved.init_state(1)
    out = pool.swap(state, 0, 1, np.array([3e21, 3e21]))
    assert out[0] == pytest.approx(halved.swap(reference, 0, 1, np.array([3e21]))[0], rel=1e-12)
    assert pool.depth(state)[0] == pytest.approx(halved.depth(reference)[0], rel=1e-12)


def test_human_units() -> None:
    # token0 with 6 decimals, token1 with 18: raw price 1e12 is 1 token1 per token0.
    pool = ConcentratedLiquidityPool(
        "p",
        ("USDC", "WETH"),
        [(-887220, 887220, 1e18)],
        sqrt_price_x96=10**6 * Q96,
        fee=3000,
        decimals=(6, 18),
    )
    state = pool.init_state(1)
    assert pool.price(state, 0, 1)[0] == pytest.approx(1.0, rel=1e-15)
    # Selling 1 USDC (1e6 raw) into L = 1e18 raw: tiny, so about 1 * 0.997 WETH.
    assert pool.swap(state, 0, 1, np.array([1.0]))[0] == pytest.approx(0.997, rel=1e-5)


def test_price_and_fee_bps_constructor() -> None:
    # The scenario layer's form: a human price of coin 0 in coin 1 and a fee in basis points.
    pool = ConcentratedLiquidityPool(
        "p",
        ("WETH", "USDC"),
        [(-887270, 887270, 1e15)],
        price=2950.0,
        fee_bps=5,
        tick_spacing=10,
        decimals=(18, 6),
    )
    assert pool.fee == 500
    # 2950 USDC per WETH is 2950e6 / 1e18 raw, i.e. sqrtPriceX96 = sqrt(2.95e-9) * 2**96.
    assert pool.sqrt_price_x96 == pytest.approx(np.sqrt(2.95e-9) * Q96, rel=1e-15)
    assert pool.price(pool.init_state(1), 0, 1)[0] == pytest.approx(2950.0, rel=1e-12)
    with pytest.raises(
        ParameterError, match=r"The 'fee_bps' parameter of ConcentratedLiquidityPool must be a whole"
    ):
        ConcentratedLiquidityPool("p", ("A", "B"), [(-60, 60, 1.0)], price=1.0, fee_bps=0.123)
    with pytest.raises(
        ParameterError, match=r"The 'price' parameter of ConcentratedLiquidityPool must be given"
    ):
        ConcentratedLiquidityPool("p", ("A", "B"), [(-60, 60, 1.0)], sqrt_price_x96=Q96, price=1.0)
    with pytest.raises(ParameterError, match=r"The 'price' parameter .* within Uniswap v3's price range"):
        ConcentratedLiquidityPool("p", ("A", "B"), [(-60, 60, 1.0)], price=1e300)


# --- the real snapshot ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eth_usdc() -> ConcentratedLiquidityPool:
    # The snapshot ships inside the package (firesale-data:univ3_usdc_weth_005_*, MIT, see data/SOURCES.md).
    ticks, meta = load_uniswap_v3_ticks()
    return ConcentratedLiquidityPool.from_snapshot(
        ticks,
        sqrt_price_x96=int(meta["sqrtPriceX96"]),
        liquidity=float(meta["liquidity"]),
        fee=int(meta["feeTier"]),
        tick_spacing=10,
        decimals0=int(meta["token0"]["decimals"]),
        decimals1=int(meta["token1"]["decimals"]),
        coins=(meta["token0"]["symbol"], meta["token1"]["symbol"]),
    )


def test_snapshot_price_is_about_2950_usdc_per_eth(eth_usdc: ConcentratedLiquidityPool) -> None:
    state = eth_usdc.init_state(1)
    assert eth_usdc.coins == ("USDC", "WETH")
    assert eth_usdc.price(state, 1, 0)[0] == pytest.approx(2950, rel=0.005)
    # depth = mean active liquidity over +/-2 % in price, integrated over sqrt price: here by brute force on a
    # fine grid, reading the active liquidity from the cumulated liquidityNet of the raw tick table.
    ticks = eth_usdc.ticks
    cum = np.cumsum(eth_usdc.liquidity_net)
    sp0 = eth_usdc.sqrt_price_x96 / 2**96
    grid = np.linspace(sp0 / 1.02**0.5, sp0 * 1.02**0.5, 200_001)
    tick_at = np.floor(np.log(grid**2) / np.log(1.0001))
    active = cum[np.searchsorted(ticks, tick_at, side="right") - 1]
    assert eth_usdc.depth(state)[0] == pytest.approx(active.mean(), rel=1e-3)
    assert eth_usdc.depth(state)[0] < 11263751935226816506  # thinner than the narrow active range


def test_snapshot_sale_matches_exact_pool(eth_usdc: ConcentratedLiquidityPool) -> None:
    # Rebuild the snapshot in the exact pool, one position per liquidity segment, and sell 1,000 WETH.
    exact = Pool(fee=eth_usdc.fee, tick_spacing=eth_usdc.tick_spacing)
    exact.initialize(eth_usdc.sqrt_price_x96)
    ticks, segment_liquidity = eth_usdc.ticks, eth_usdc.segment_liquidity
    for k in range(1, ticks.size):
        if segment_liquidity[k] > 0:
            exact.mint("lp", int(ticks[k - 1]), int(ticks[k]), round(segment_liquidity[k]))
    exact_out, n_steps = exact_sell(exact, False, 1000 * 10**18)  # WETH is token1
    state = eth_usdc.init_state(1)
    out = eth_usdc.swap(state, 1, 0, np.array([1000.0]))
    assert n_steps > 20  # the sale crosses many initialised ticks
    assert out[0] * 1e6 == pytest.approx(exact_out, rel=1e-9)
    assert eth_usdc.price(state, 0, 1)[0] == pytest.approx(
        (exact.sqrt_price_x96 / Q96) ** 2 * 1e-12, rel=1e-9
    )


# --- bad input -----------------------------------------------------------------------------------------------------


def test_bad_parameters() -> None:
    with pytest.raises(ParameterError, match=r"The 'ranges' parameter of ConcentratedLiquidityPool must be"):
        float_pool(3000, Q96, [(0, 30, 10)])  # not a multiple of the spacing
    with pytest.raises(ParameterError, match=r"The 'ranges' parameter of ConcentratedLiquidityPool must be"):
        float_pool(3000, Q96, [(60, 0, 10)])
    with pytest.raises(ParameterError, match=r"The 'sqrt_price_x96' parameter of ConcentratedLiquidityPool"):
        float_pool(3000, MIN_SQRT_RATIO - 1, [(-60, 60, 10)])
    with pytest.raises(
        ParameterError, match=r"The 'fee' parameter of ConcentratedLiquidityPool must be an int in"
    ):
        ConcentratedLiquidityPool("p", ("A", "B"), [(-60, 60, 1.0)], Q96, fee=10**6)
    pool = float_pool(3000, Q96, [(-60, 60, 10**18)])
    state = pool.init_state(2)
    with pytest.raises(
        ParameterError, match=r"The 'dx' parameter of ConcentratedLiquidityPool.swap .* Got nan"
    ):
        pool.swap(state, 0, 1, np.array([1.0, np.nan]))
    with pytest.raises(
        ParameterError, match=r"The 'max_in_j' parameter of ConcentratedLiquidityPool.arbitrage"
    ):
        pool.arbitrage(state, 0, 1, np.ones(2), np.array([1.0, -1.0]))


def test_from_snapshot_rejects_bad_frames() -> None:
    frame = pd.DataFrame({"tickIdx": [-60, 60], "liquidityNet": [1e18, -1e18]})
    args = {
        "sqrt_price_x96": Q96,
        "fee": 3000,
        "tick_spacing": 60,
        "decimals0": 18,
        "decimals1": 18,
        "coins": ("A", "B"),
    }
    pool = ConcentratedLiquidityPool.from_snapshot(frame, liquidity=1e18, **args)
    assert pool.name == "A-B-3000"
    np.testing.assert_allclose(pool.segment_liquidity, [0.0, 1e18, 0.0])
    with pytest.raises(
        ParameterError, match=r"The 'ticks_df' parameter .* columns 'tickIdx' and 'liquidityNet'"
    ):
        ConcentratedLiquidityPool.from_snapshot(
            frame.rename(columns={"tickIdx": "tick"}), liquidity=1e18, **args
        )
    with pytest.raises(
        ParameterError, match=r"The 'liquidity' parameter .* must equal the sum of liquidityNet"
    ):
        ConcentratedLiquidityPool.from_snapshot(frame, liquidity=2e18, **args)
    unspaced = pd.DataFrame({"tickIdx": [-60, 30], "liquidityNet": [1e18, -1e18]})
    with pytest.raises(
        ParameterError, match=r"The 'ticks_df' parameter .* multiples of tick_spacing=60.* Got tick 30"
    ):
        ConcentratedLiquidityPool.from_snapshot(unspaced, liquidity=1e18, **args)
    # Consistent at the current tick, but the running sum goes negative above 60.
    negative = pd.DataFrame({"tickIdx": [-60, 60, 120], "liquidityNet": [1e18, -2e18, 1e18]})
    with pytest.raises(
        ParameterError, match=r"The 'ticks_df' parameter .* must give liquidity >= 0 in every range"
    ):
        ConcentratedLiquidityPool.from_snapshot(negative, liquidity=1e18, **args)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), zero_for_one=st.booleans())
def test_fused_swap_kernel_equals_the_numpy_reference(seed, zero_for_one) -> None:
    rng = np.random.default_rng(seed)
    ranges = [
        (-1200, 1200, 10**21),
        (-120, 120, 5 * 10**21),
        (600, 3000, 2 * 10**21),
        (-3000, -600, 3 * 10**21),
    ]
    pool = float_pool(3000, Q96, ranges)
    state = pool.init_state(64)
    pool.scale_liquidity(state, rng.uniform(0.2, 1.5, 64))
    # Scatter the paths' prices first, with the reference, so segments and prices differ per path.
    pool._swap_numpy(state, bool(rng.integers(2)), rng.uniform(0, 5e21, 64) * (rng.uniform(size=64) < 0.8),
                     np.full(64, 0.5 if rng.integers(2) else 2.0))  # fmt: skip
    amount = rng.uniform(0, 2e22, 64) * (rng.uniform(size=64) < 0.9)
    sp = state["sqrt_price"]
    limit = sp * (rng.uniform(0.5, 0.999, 64) if zero_for_one else rng.uniform(1.001, 2.0, 64))
    b = state.copy()
    got_b = pool._swap_numpy(b, zero_for_one, amount, limit)
    for parallel_from in (0, np.inf):  # the parallel kernel, then its one-thread twin (firesale._threads)
        a = state.copy()
        with mock.patch.object(concentrated, "SWAP_PARALLEL_FROM", parallel_from):
            got_a = pool._swap(a, zero_for_one, amount, limit)
        for x, y in zip(got_a, got_b, strict=True):
            np.testing.assert_array_equal(x, y)
        for key in a.arrays:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
