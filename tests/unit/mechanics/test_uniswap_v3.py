"""Uniswap v3 exact mechanics against v3-core's own tests, snapshots, hand-checked edges and properties.

Expected values are transcribed from Uniswap/v3-core at commit d8b1c635c275d2a9450bd6a78f3fa2484fef73eb; each
block names its source file under ``test/``. The swap snapshot of 240 pool swaps lives in
``test_uniswap_v3_pool_swaps.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

import pytest
from hypothesis import given, settings, strategies as st

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.uniswap_v3 import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    Pool,
    SwapStep,
    TickBitmap,
    TickInfo,
    add_delta,
    compute_swap_step,
    get_amount0_delta,
    get_amount0_delta_signed,
    get_amount1_delta,
    get_amount1_delta_signed,
    get_fee_growth_inside,
    get_next_sqrt_price_from_amount0_rounding_up,
    get_next_sqrt_price_from_amount1_rounding_down,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
    mul_div,
    mul_div_rounding_up,
    tick_spacing_to_max_liquidity_per_tick,
)

E18 = 10**18
Q96 = 2**96
Q128 = 2**128
MAX_UINT128 = 2**128 - 1
MAX_UINT256 = 2**256 - 1
_CTX = Context(prec=200)
_E40 = Decimal("1e-40")


def encode_price_sqrt(reserve1: int, reserve0: int) -> int:
    """v3-core ``test/shared/utilities.ts`` ``encodePriceSqrt`` (bignumber.js, 40 decimals, half-up, floor)."""
    ratio = _CTX.divide(Decimal(reserve1), Decimal(reserve0)).quantize(_E40, ROUND_HALF_UP, _CTX)
    root = _CTX.sqrt(ratio).quantize(_E40, ROUND_HALF_UP, _CTX)
    return int(_CTX.multiply(root, Decimal(Q96)).to_integral_value(ROUND_FLOOR))


def min_tick(spacing: int) -> int:
    return -(887272 // spacing) * spacing


def max_tick(spacing: int) -> int:
    return (887272 // spacing) * spacing


@contextmanager
def reverts(reason: str) -> Iterator[pytest.ExceptionInfo[Revert]]:
    """Expect a Revert whose reason string is exactly ``reason`` (``""`` for a require without reason)."""
    # A reason-less revert carries a note naming the failed check, which pytest's match would also see.
    with pytest.raises(Revert, match=f"^{re.escape(reason)}$" if reason else None) as info:
        yield info
    assert info.value.reason == reason


# --- TickMath: test/TickMath.spec.ts and test/__snapshots__/TickMath.spec.ts.snap --------------------------------

SQRT_RATIO_AT_TICK = {  # test/__snapshots__/TickMath.spec.ts.snap
    -50: 79030349367926598376800521322,
    -100: 78833030112140176575862854579,
    -250: 78244023372248365697264290337,
    -500: 77272108795590369356373805297,
    -1000: 75364347830767020784054125655,
    -2500: 69919044979842180277688105136,
    -3000: 68192822843687888778582228483,
    -4000: 64867181785621769311890333195,
    -5000: 61703726247759831737814779831,
    -50000: 6504256538020985011912221507,
    -150000: 43836292794701720435367485,
    -250000: 295440463448801648376846,
    -500000: 1101692437043807371,
    -738203: 7409801140451,
    50: 79426470787362580746886972461,
    100: 79625275426524748796330556128,
    250: 80224679980005306637834519095,
    500: 81233731461783161732293370115,
    1000: 83290069058676223003182343270,
    2500: 89776708723587163891445672585,
    3000: 92049301871182272007977902845,
    4000: 96768528593268422080558758223,
    5000: 101729702841318637793976746270,
    50000: 965075977353221155028623082916,
    150000: 143194173941309278083010301478497,
    250000: 21246587762933397357449903968194344,
    500000: 5697689776495288729098254600827762987878,
    738203: 847134979253254120489401328389043031315994541,
    # test/TickMath.spec.ts literal cases
    MIN_TICK: 4295128739,
    MIN_TICK + 1: 4295343490,
    MAX_TICK - 1: 1461373636630004318706518188784493106690254656249,
    MAX_TICK: 1461446703485210103287273052203988822378723970342,
}

TICK_AT_SQRT_RATIO = {  # test/__snapshots__/TickMath.spec.ts.snap (ratios are the snapshot titles)
    4295128739: -887272,
    79228162514264337593543: -276325,
    79228162514264337593543950: -138163,
    9903520314283042199192993792: -41591,
    28011385487393069959365969113: -20796,
    56022770974786139918731938227: -6932,
    79228162514264337593543950336: 0,
    112045541949572279837463876454: 6931,
    224091083899144559674927752909: 20795,
    633825300114114700748351602688: 41590,
    79228162514264337593543950336000: 138162,
    79228162514264337593543950336000000: 276324,
    1461446703485210103287273052203988822378723970341: 887271,
    # test/TickMath.spec.ts literal cases
    4295343490: MIN_TICK + 1,
    1461373636630004318706518188784493106690254656249: MAX_TICK - 1,
}


@pytest.mark.parametrize(("tick", "expected"), sorted(SQRT_RATIO_AT_TICK.items()))
def test_get_sqrt_ratio_at_tick_matches_snapshot(tick: int, expected: int) -> None:
    assert get_sqrt_ratio_at_tick(tick) == expected


@pytest.mark.parametrize(("ratio", "expected"), sorted(TICK_AT_SQRT_RATIO.items()))
def test_get_tick_at_sqrt_ratio_matches_snapshot(ratio: int, expected: int) -> None:
    assert get_tick_at_sqrt_ratio(ratio) == expected


def test_snapshot_ratios_are_the_spec_encoded_prices() -> None:
    # The snapshot titles are encodePriceSqrt of the spec's list; check our transcription of that helper.
    assert encode_price_sqrt(1, 2) == 56022770974786139918731938227
    assert encode_price_sqrt(64, 1) == 633825300114114700748351602688
    assert encode_price_sqrt(10**12, 1) == 79228162514264337593543950336000000
    assert encode_price_sqrt(1, 10**12) == 79228162514264337593543


def test_tick_math_bounds() -> None:
    assert get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    assert get_tick_at_sqrt_ratio(MIN_SQRT_RATIO) == MIN_TICK
    assert get_tick_at_sqrt_ratio(MAX_SQRT_RATIO - 1) == MAX_TICK - 1
    # encodePriceSqrt(1, 2**127) and (2**127, 1) bracket the tick range (spec: "less/greater than js").
    assert get_sqrt_ratio_at_tick(MIN_TICK) < encode_price_sqrt(1, 2**127)
    assert get_sqrt_ratio_at_tick(MAX_TICK) > encode_price_sqrt(2**127, 1)


@pytest.mark.parametrize("tick", [MIN_TICK - 1, MAX_TICK + 1])
def test_get_sqrt_ratio_at_tick_reverts_t(tick: int) -> None:
    with reverts("T"):
        get_sqrt_ratio_at_tick(tick)


@pytest.mark.parametrize("ratio", [MIN_SQRT_RATIO - 1, MAX_SQRT_RATIO, 0, 2**160 - 1])
def test_get_tick_at_sqrt_ratio_reverts_r(ratio: int) -> None:
    with reverts("R"):
        get_tick_at_sqrt_ratio(ratio)


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1))
def test_get_tick_is_greatest_tick_at_or_below_the_ratio(ratio: int) -> None:
    # TickMath's own specification of getTickAtSqrtRatio, checked against getSqrtRatioAtTick.
    tick = get_tick_at_sqrt_ratio(ratio)
    assert get_sqrt_ratio_at_tick(tick) <= ratio < get_sqrt_ratio_at_tick(tick + 1)


@settings(max_examples=100, deadline=None, database=None)
@given(st.integers(MIN_TICK, MAX_TICK))
def test_get_sqrt_ratio_at_tick_within_a_hundredth_of_a_bip(tick: int) -> None:
    # TickMath.spec.ts "is at most off by 1/100th of a bips", against sqrt(1.0001 ** tick) * 2**96 in decimals.
    exact = _CTX.multiply(_CTX.sqrt(_CTX.power(Decimal("1.0001"), tick)), Decimal(Q96))
    assert abs(Decimal(get_sqrt_ratio_at_tick(tick)) - exact) / exact < Decimal("0.000001")
    if tick < MAX_TICK:  # MAX_SQRT_RATIO itself is outside getTickAtSqrtRatio's domain
        assert get_tick_at_sqrt_ratio(get_sqrt_ratio_at_tick(tick)) == tick


# --- FullMath: test/FullMath.spec.ts --------------------------------------------------------------------------


def test_mul_div_cases() -> None:
    assert mul_div(MAX_UINT256, MAX_UINT256, MAX_UINT256) == MAX_UINT256
    assert mul_div(Q128, 50 * Q128 // 100, 150 * Q128 // 100) == Q128 // 3
    assert mul_div(Q128, 35 * Q128, 8 * Q128) == 4375 * Q128 // 1000
    assert mul_div(Q128, 1000 * Q128, 3000 * Q128) == Q128 // 3


def test_mul_div_rounding_up_cases() -> None:
    assert mul_div_rounding_up(MAX_UINT256, MAX_UINT256, MAX_UINT256) == MAX_UINT256
    assert mul_div_rounding_up(Q128, 50 * Q128 // 100, 150 * Q128 // 100) == Q128 // 3 + 1
    assert mul_div_rounding_up(Q128, 35 * Q128, 8 * Q128) == 4375 * Q128 // 1000
    assert mul_div_rounding_up(Q128, 1000 * Q128, 3000 * Q128) == Q128 // 3 + 1


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [(Q128, 5, 0), (Q128, Q128, 0), (Q128, Q128, 1), (MAX_UINT256, MAX_UINT256, MAX_UINT256 - 1)],
)
@pytest.mark.parametrize("func", [mul_div, mul_div_rounding_up])
def test_full_math_reverts_without_reason(func, a: int, b: int, d: int) -> None:  # type: ignore[no-untyped-def]
    with reverts(""):
        func(a, b, d)


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [
        (535006138814359, 432862656469423142931042426214547535783388063929571229938474969, 2),
        (
            115792089237316195423570985008687907853269984659341747863450311749907997002549,
            115792089237316195423570985008687907853269984659341747863450311749907997002550,
            115792089237316195423570985008687907853269984653042931687443039491902864365164,
        ),
    ],
)
def test_mul_div_rounding_up_reverts_when_rounding_overflows(a: int, b: int, d: int) -> None:
    with reverts(""):
        mul_div_rounding_up(a, b, d)


# --- LiquidityMath: test/LiquidityMath.spec.ts ----------------------------------------------------------------


def test_add_delta() -> None:
    assert add_delta(1, 0) == 1
    assert add_delta(1, -1) == 0
    assert add_delta(1, 1) == 2
    with reverts("LA"):
        add_delta(2**128 - 15, 15)
    with reverts("LS"):
        add_delta(0, -1)
    with reverts("LS"):
        add_delta(3, -4)


# --- SqrtPriceMath: test/SqrtPriceMath.spec.ts ----------------------------------------------------------------

PRICE_20282 = 20282409603651670423947251286016


def test_next_sqrt_price_from_input_cases() -> None:
    assert get_next_sqrt_price_from_input(1, 1, 2**255, True) == 1
    assert get_next_sqrt_price_from_input(Q96, E18 // 10, 0, True) == Q96
    assert get_next_sqrt_price_from_input(Q96, E18 // 10, 0, False) == Q96
    sqrt_p, liquidity = 2**160 - 1, MAX_UINT128
    max_amount_no_overflow = MAX_UINT256 - (liquidity << 96) // sqrt_p
    assert get_next_sqrt_price_from_input(sqrt_p, liquidity, max_amount_no_overflow, True) == 1
    assert get_next_sqrt_price_from_input(Q96, E18, E18 // 10, False) == 87150978765690771352898345369
    assert get_next_sqrt_price_from_input(Q96, E18, E18 // 10, True) == 72025602285694852357767227579
    assert get_next_sqrt_price_from_input(Q96, 10 * E18, 2**100, True) == 624999999995069620
    assert get_next_sqrt_price_from_input(Q96, 1, MAX_UINT256 // 2, True) == 1


@pytest.mark.parametrize(
    ("price", "liquidity", "amount", "zero_for_one"),
    [(0, 0, E18 // 10, False), (1, 0, E18 // 10, True), (2**160 - 1, 1024, 1024, False)],
)
def test_next_sqrt_price_from_input_reverts(
    price: int, liquidity: int, amount: int, zero_for_one: bool
) -> None:
    with reverts(""):
        get_next_sqrt_price_from_input(price, liquidity, amount, zero_for_one)


def test_next_sqrt_price_from_output_cases() -> None:
    assert get_next_sqrt_price_from_output(PRICE_20282, 1024, 262143, True) == 77371252455336267181195264
    assert get_next_sqrt_price_from_output(Q96, E18 // 10, 0, True) == Q96
    assert get_next_sqrt_price_from_output(Q96, E18 // 10, 0, False) == Q96
    assert get_next_sqrt_price_from_output(Q96, E18, E18 // 10, False) == 88031291682515930659493278152
    assert get_next_sqrt_price_from_output(Q96, E18, E18 // 10, True) == 71305346262837903834189555302


@pytest.mark.parametrize(
    ("price", "liquidity", "amount", "zero_for_one"),
    [
        (0, 0, E18 // 10, False),
        (1, 0, E18 // 10, True),
        (PRICE_20282, 1024, 4, False),  # exactly the virtual reserves of token0
        (PRICE_20282, 1024, 5, False),
        (PRICE_20282, 1024, 262145, True),
        (PRICE_20282, 1024, 262144, True),  # exactly the virtual reserves of token1
        (Q96, 1, MAX_UINT256, True),
        (Q96, 1, MAX_UINT256, False),
    ],
)
def test_next_sqrt_price_from_output_reverts(
    price: int, liquidity: int, amount: int, zero_for_one: bool
) -> None:
    with reverts(""):
        get_next_sqrt_price_from_output(price, liquidity, amount, zero_for_one)


def test_amount_deltas() -> None:
    p_1, p_121_100 = encode_price_sqrt(1, 1), encode_price_sqrt(121, 100)
    assert get_amount0_delta(p_1, encode_price_sqrt(2, 1), 0, True) == 0
    assert get_amount0_delta(p_1, p_1, 0, True) == 0
    assert get_amount0_delta(p_1, p_121_100, E18, True) == 90909090909090910
    assert get_amount0_delta(p_1, p_121_100, E18, False) == 90909090909090909
    assert get_amount1_delta(p_1, encode_price_sqrt(2, 1), 0, True) == 0
    assert get_amount1_delta(p_1, p_121_100, E18, True) == 100000000000000000
    assert get_amount1_delta(p_1, p_121_100, E18, False) == 99999999999999999
    low, high = encode_price_sqrt(2**90, 1), encode_price_sqrt(2**96, 1)
    assert get_amount0_delta(low, high, E18, True) == get_amount0_delta(low, high, E18, False) + 1


def test_signed_amount_deltas_round_towards_the_pool() -> None:
    p_1, p_121_100 = encode_price_sqrt(1, 1), encode_price_sqrt(121, 100)
    # Added liquidity owes the rounded-up amount, removed liquidity receives the rounded-down one.
    assert get_amount0_delta_signed(p_1, p_121_100, E18) == 90909090909090910
    assert get_amount0_delta_signed(p_121_100, p_1, -E18) == -90909090909090909
    assert get_amount1_delta_signed(p_1, p_121_100, E18) == 100000000000000000
    assert get_amount1_delta_signed(p_1, p_121_100, -E18) == -99999999999999999
    # int128 min: -liquidity is 2**127 as a uint128, as in the contract's unchecked negation.
    assert get_amount1_delta_signed(Q96, 2 * Q96, -(2**127)) == -(2**127)


def test_amount0_delta_reverts_on_zero_price() -> None:
    with reverts(""):
        get_amount0_delta(0, Q96, 1, True)


def test_sqrt_p_times_sqrt_q_overflow_case() -> None:
    sqrt_p = 1025574284609383690408304870162715216695788925244
    liquidity = 50015962439936049619261659728067971248
    sqrt_q = get_next_sqrt_price_from_input(sqrt_p, liquidity, 406, True)
    assert sqrt_q == 1025574284609383582644711336373707553698163132913
    assert get_amount0_delta(sqrt_q, sqrt_p, liquidity, True) == 406


def test_amount0_rounding_up_hand_checked() -> None:
    # L = 2**96 at sqrt price 1: adding x = 2**95 token0 gives L / (L/sqrtP + x) = 2/3, rounded up in Q96.
    expected = -(-2 * Q96 // 3)  # ceil(2 * 2**96 / 3)
    assert get_next_sqrt_price_from_amount0_rounding_up(Q96, Q96, 2**95, True) == expected
    # Removing 2**95 gives 2, exactly.
    assert get_next_sqrt_price_from_amount0_rounding_up(Q96, Q96, 2**95, False) == 2 * Q96
    # token1: sqrtP +- y / L, the quotient rounding down when adding and up when removing.
    assert get_next_sqrt_price_from_amount1_rounding_down(Q96, 3, 1, True) == Q96 + Q96 // 3
    assert get_next_sqrt_price_from_amount1_rounding_down(Q96, 3, 1, False) == Q96 - (-(-Q96 // 3))


# --- SwapMath: test/SwapMath.spec.ts, plus the step in UniswapV3Pool.spec.ts issue #214 ---------------------------


def test_compute_swap_step_exact_in_capped_at_target_one_for_zero() -> None:
    price, target = encode_price_sqrt(1, 1), encode_price_sqrt(101, 100)
    sqrt_q, amount_in, amount_out, fee = compute_swap_step(price, target, 2 * E18, E18, 600)
    assert (amount_in, fee, amount_out) == (9975124224178055, 5988667735148, 9925619580021728)
    assert amount_in + fee < E18
    assert sqrt_q == target
    assert sqrt_q < get_next_sqrt_price_from_input(price, 2 * E18, E18, False)


def test_compute_swap_step_exact_out_capped_at_target_one_for_zero() -> None:
    price, target = encode_price_sqrt(1, 1), encode_price_sqrt(101, 100)
    sqrt_q, amount_in, amount_out, fee = compute_swap_step(price, target, 2 * E18, -E18, 600)
    assert (amount_in, fee, amount_out) == (9975124224178055, 5988667735148, 9925619580021728)
    assert amount_out < E18
    assert sqrt_q == target
    assert sqrt_q < get_next_sqrt_price_from_output(price, 2 * E18, E18, False)


def test_compute_swap_step_exact_in_fully_spent_one_for_zero() -> None:
    price, target = encode_price_sqrt(1, 1), encode_price_sqrt(1000, 100)
    sqrt_q, amount_in, amount_out, fee = compute_swap_step(price, target, 2 * E18, E18, 600)
    assert (amount_in, fee, amount_out) == (999400000000000000, 600000000000000, 666399946655997866)
    assert amount_in + fee == E18
    assert sqrt_q < target
    assert sqrt_q == get_next_sqrt_price_from_input(price, 2 * E18, E18 - fee, False)


def test_compute_swap_step_exact_out_fully_received_one_for_zero() -> None:
    price, target = encode_price_sqrt(1, 1), encode_price_sqrt(10000, 100)
    sqrt_q, amount_in, amount_out, fee = compute_swap_step(price, target, 2 * E18, -E18, 600)
    assert (amount_in, fee, amount_out) == (2000000000000000000, 1200720432259356, E18)
    assert sqrt_q < target
    assert sqrt_q == get_next_sqrt_price_from_output(price, 2 * E18, E18, False)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (  # amount out is capped at the desired amount out (would be 2)
            (
                417332158212080721273783715441582,
                1452870262520218020823638996,
                159344665391607089467575320103,
                -1,
                1,
            ),
            (417332158212080721273783715441581, 1, 1, 1),
        ),
        (  # target price of 1 uses partial input amount
            (2, 1, 1, 3915081100057732413702495386755767, 1),
            (1, 39614081257132168796771975168, 0, 39614120871253040049813),
        ),
        (  # entire input amount taken as fee
            (2413, 79887613182836312, 1985041575832132834610021537970, 10, 1872),
            (2413, 0, 0, 10),
        ),
        (  # intermediate insufficient liquidity in zero for one exact output case
            (PRICE_20282, PRICE_20282 * 11 // 10, 1024, -4, 3000),
            (PRICE_20282 * 11 // 10, 26215, 0, 79),
        ),
        (  # intermediate insufficient liquidity in one for zero exact output case
            (PRICE_20282, PRICE_20282 * 9 // 10, 1024, -263000, 3000),
            (PRICE_20282 * 9 // 10, 1, 26214, 1),
        ),
    ],
)
def test_compute_swap_step_edge_cases(args: tuple[int, ...], expected: tuple[int, int, int, int]) -> None:
    assert compute_swap_step(*args) == expected


def test_compute_swap_step_moves_one_unit_below_tick() -> None:
    # UniswapV3Pool.spec.ts "tick transition cannot run twice ..." (issue #214).
    p0 = get_sqrt_ratio_at_tick(-24081) + 1
    assert compute_swap_step(p0, p0 - 1, 1000 * E18, 3, 3000) == (p0 - 1, 1, 0, 1)


# --- TickBitmap: test/TickBitmap.spec.ts (tick spacing 1) ------------------------------------------------------


def _bitmap(*ticks: int) -> TickBitmap:
    bitmap = TickBitmap(1)
    for tick in ticks:
        bitmap.flip_tick(tick)
    return bitmap


def test_flip_tick() -> None:
    bitmap = _bitmap(-230)
    assert bitmap.is_initialized(-230)
    assert not any(bitmap.is_initialized(t) for t in (-231, -229, -230 + 256, -230 - 256))
    bitmap.flip_tick(-230)
    assert not any(bitmap.is_initialized(t) for t in (-230, -231, -229, -230 + 256, -230 - 256))
    bitmap = _bitmap(-230, -259, -229, 500, -259, -229, -259)
    assert bitmap.is_initialized(-259)
    assert not bitmap.is_initialized(-229)
    bitmap = _bitmap(1 + 256)
    assert bitmap.is_initialized(257)
    assert not bitmap.is_initialized(1)


SPEC_TICKS = (-200, -55, -4, 70, 78, 84, 139, 240, 535)


@pytest.mark.parametrize(
    ("extra", "tick", "lte", "expected"),
    [
        ((), 78, False, (84, True)),
        ((), -55, False, (-4, True)),
        ((), 77, False, (78, True)),
        ((), -56, False, (-55, True)),
        ((), 255, False, (511, False)),
        ((), -257, False, (-200, True)),
        ((340,), 328, False, (340, True)),
        ((), 508, False, (511, False)),
        ((), 383, False, (511, False)),
        ((), 78, True, (78, True)),
        ((), 79, True, (78, True)),
        ((), 258, True, (256, False)),
        ((), 256, True, (256, False)),
        ((), 72, True, (70, True)),
        ((), -257, True, (-512, False)),
        ((), 1023, True, (768, False)),
        ((), 900, True, (768, False)),
        ((329,), 456, True, (329, True)),
    ],
)
def test_next_initialized_tick_within_one_word(
    extra: tuple[int, ...], tick: int, lte: bool, expected: tuple[int, bool]
) -> None:
    bitmap = _bitmap(*SPEC_TICKS, *extra)
    assert bitmap.next_initialized_tick_within_one_word(tick, lte) == expected


def test_flip_tick_reverts_for_unspaced_tick() -> None:
    with reverts(""):
        TickBitmap(60).flip_tick(30)


# --- Tick: test/Tick.spec.ts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spacing", "expected"),
    [
        (10, 1917569901783203986719870431555990),
        (60, 11505743598341114571880798222544994),
        (200, 38350317471085141830651933667504588),
        (887272, MAX_UINT128 // 3),
        (2302, 441351967472034323558203122479595605),
    ],
)
def test_tick_spacing_to_max_liquidity_per_tick(spacing: int, expected: int) -> None:
    assert tick_spacing_to_max_liquidity_per_tick(spacing) == expected


def _outside(fg0: int, fg1: int) -> TickInfo:
    return TickInfo(fee_growth_outside0_x128=fg0, fee_growth_outside1_x128=fg1, initialized=True)


@pytest.mark.parametrize(
    ("ticks", "tick_current", "expected"),
    [
        ({}, 0, (15, 15)),
        ({}, 4, (0, 0)),
        ({}, -4, (0, 0)),
        ({2: _outside(2, 3)}, 0, (13, 12)),
        ({-2: _outside(2, 3)}, 0, (13, 12)),
        ({-2: _outside(2, 3), 2: _outside(4, 1)}, 0, (9, 11)),
        ({-2: _outside(MAX_UINT256 - 3, MAX_UINT256 - 2), 2: _outside(3, 5)}, 0, (16, 13)),
    ],
)
def test_get_fee_growth_inside(
    ticks: dict[int, TickInfo], tick_current: int, expected: tuple[int, int]
) -> None:
    assert get_fee_growth_inside(ticks, -2, 2, tick_current, 15, 15) == expected


# --- UniswapV3Pool: test/UniswapV3Pool.spec.ts ------------------------------------------------------------------


def medium_pool(start: int) -> Pool:
    pool = Pool(fee=3000, tick_spacing=60)
    pool.initialize(start)
    return pool


def at_zero_tick(fee: int = 3000, spacing: int = 60) -> Pool:
    """``initializeAtZeroTick``: price 1, 2e18 of full-range liquidity."""
    pool = Pool(fee=fee, tick_spacing=spacing)
    pool.initialize(encode_price_sqrt(1, 1))
    pool.mint("wallet", min_tick(spacing), max_tick(spacing), 2 * E18)
    return pool


def swap_exact_0_for_1(pool: Pool, amount: int) -> tuple[int, int]:
    return pool.swap(True, amount, MIN_SQRT_RATIO + 1)


def swap_exact_1_for_0(pool: Pool, amount: int) -> tuple[int, int]:
    return pool.swap(False, amount, MAX_SQRT_RATIO - 1)


def test_initialize() -> None:
    pool = Pool(fee=3000, tick_spacing=60)
    for bad in (1, MIN_SQRT_RATIO - 1, MAX_SQRT_RATIO, 2**160 - 1):
        with reverts("R"):
            pool.initialize(bad)
    pool.initialize(encode_price_sqrt(1, 2))
    assert (pool.sqrt_price_x96, pool.tick) == (encode_price_sqrt(1, 2), -6932)
    with reverts("AI"):
        pool.initialize(encode_price_sqrt(1, 1))
    assert medium_pool(MIN_SQRT_RATIO).tick == MIN_TICK
    assert medium_pool(MAX_SQRT_RATIO - 1).tick == MAX_TICK - 1


def test_calls_before_initialize_revert_lok() -> None:
    pool = Pool(fee=3000, tick_spacing=60)
    with reverts("LOK"):
        pool.mint("wallet", -60, 60, 1)
    with reverts("LOK"):
        pool.swap(True, 1, MIN_SQRT_RATIO + 1)


@pytest.fixture
def ten_to_one() -> Pool:
    """The spec's mint fixture: price 1:10, 3161 of full-range liquidity."""
    pool = medium_pool(encode_price_sqrt(1, 10))
    pool.mint("wallet", min_tick(60), max_tick(60), 3161)
    return pool


def test_mint_initial_state(ten_to_one: Pool) -> None:
    assert (ten_to_one.balance0, ten_to_one.balance1) == (9996, 1000)
    assert ten_to_one.tick == -23028


def test_mint_failure_cases(ten_to_one: Pool) -> None:
    pool, lo, hi = ten_to_one, min_tick(60), max_tick(60)
    with reverts("TLU"):
        pool.mint("wallet", 1, 0, 1)
    with reverts("TLM"):
        pool.mint("wallet", -887273, 0, 1)
    with reverts("TUM"):
        pool.mint("wallet", 0, 887273, 1)
    max_gross = pool.max_liquidity_per_tick
    with reverts("LO"):
        pool.mint("wallet", lo + 60, hi - 60, max_gross + 1)
    pool.mint("wallet", lo + 60, hi - 60, max_gross)
    with reverts(""):
        pool.mint("wallet", lo + 60, hi - 60, 0)


def test_mint_total_at_tick_cap(ten_to_one: Pool) -> None:
    pool, lo, hi = ten_to_one, min_tick(60), max_tick(60)
    pool.mint("wallet", lo + 60, hi - 60, 1000)
    max_gross = pool.max_liquidity_per_tick
    for lower, upper in ((lo + 60, hi - 60), (lo + 120, hi - 60), (lo + 60, hi - 120)):
        with reverts("LO"):
            pool.mint("wallet", lower, upper, max_gross - 1000 + 1)
    pool.mint("wallet", lo + 60, hi - 60, max_gross - 1000)


def test_reverted_mint_leaves_no_trace(ten_to_one: Pool) -> None:
    pool = ten_to_one
    before = (dict(pool.ticks), dict(pool.tick_bitmap.words), dict(pool.positions), pool.liquidity)
    with reverts("LO"):
        pool.mint("other", -120, 120, pool.max_liquidity_per_tick + 1)
    assert (dict(pool.ticks), dict(pool.tick_bitmap.words), dict(pool.positions), pool.liquidity) == before


@pytest.mark.parametrize(
    ("lower", "upper", "liquidity", "added"),
    [
        (-22980, 0, 10000, (21549, 0)),  # above the current price: token0 only
        (max_tick(60) - 60, max_tick(60), 2**102, (828011525, 0)),
        (-22980, max_tick(60), 10000, (31549, 0)),
        (min_tick(60) + 60, max_tick(60) - 60, 100, (317, 32)),  # including the current price
        (min_tick(60), max_tick(60), 10000, (31623, 3163)),
        (-46080, -23040, 10000, (0, 2162)),  # below the current price: token1 only
        (min_tick(60), min_tick(60) + 60, 2**102, (0, 828011520)),
        (min_tick(60), -23040, 10000, (0, 3161)),
    ],
)
def test_mint_amounts(
    ten_to_one: Pool, lower: int, upper: int, liquidity: int, added: tuple[int, int]
) -> None:
    assert ten_to_one.mint("wallet", lower, upper, liquidity) == added
    assert (ten_to_one.balance0, ten_to_one.balance1) == (9996 + added[0], 1000 + added[1])


@pytest.mark.parametrize(
    ("lower", "upper", "liquidity", "collected"),
    [
        (-240, 0, 10000, (120, 0)),
        (min_tick(60) + 60, max_tick(60) - 60, 100, (316, 31)),
        (-46080, -46020, 10000, (0, 3)),
    ],
)
def test_mint_then_burn_returns_rounded_down(
    ten_to_one: Pool, lower: int, upper: int, liquidity: int, collected: tuple[int, int]
) -> None:
    ten_to_one.mint("wallet", lower, upper, liquidity)
    ten_to_one.burn("wallet", lower, upper, liquidity)
    assert ten_to_one.collect("wallet", lower, upper, MAX_UINT128, MAX_UINT128) == collected


def test_liquidity_gross_bookkeeping(ten_to_one: Pool) -> None:
    pool = ten_to_one
    pool.mint("wallet", -240, 0, 100)
    assert [pool.ticks[t].liquidity_gross for t in (-240, 0, 60, 120)] == [100, 100, 0, 0]
    pool.mint("wallet", -240, 60, 150)
    assert [pool.ticks[t].liquidity_gross for t in (-240, 0, 60, 120)] == [250, 100, 150, 0]
    pool.mint("wallet", 0, 120, 60)
    assert [pool.ticks[t].liquidity_gross for t in (-240, 0, 60, 120)] == [250, 160, 150, 60]


def test_burn_clears_unused_ticks(ten_to_one: Pool) -> None:
    pool = ten_to_one
    pool.mint("wallet", -240, 0, 100)
    pool.mint("wallet", -240, 0, 40)
    pool.burn("wallet", -240, 0, 90)
    assert (pool.ticks[-240].liquidity_gross, pool.ticks[0].liquidity_gross) == (50, 50)
    pool.burn("wallet", -240, 0, 50)
    assert -240 not in pool.ticks
    assert 0 not in pool.ticks
    pool.mint("wallet", -240, 0, 100)
    pool.mint("wallet", -60, 0, 250)
    pool.burn("wallet", -240, 0, 100)
    assert -240 not in pool.ticks
    assert pool.ticks[-60].liquidity_gross == 250


def test_protocol_fees_accumulate(ten_to_one: Pool) -> None:
    pool = ten_to_one
    pool.set_fee_protocol(6, 6)
    assert pool.fee_protocol == 102
    pool.mint("wallet", min_tick(60) + 60, max_tick(60) - 60, E18)
    swap_exact_0_for_1(pool, E18 // 10)
    swap_exact_1_for_0(pool, E18 // 100)
    assert (pool.protocol_fees0, pool.protocol_fees1) == (50000000000000, 5000000000000)


@pytest.mark.parametrize("shares", [(3, 3), (11, 11)])
def test_set_fee_protocol_out_of_bounds(ten_to_one: Pool, shares: tuple[int, int]) -> None:
    with reverts(""):
        ten_to_one.set_fee_protocol(*shares)


def test_poke_requires_a_position(ten_to_one: Pool) -> None:
    pool, lower, upper = ten_to_one, min_tick(60) + 60, max_tick(60) - 60
    pool.mint("other", lower, upper, E18)
    swap_exact_0_for_1(pool, E18 // 10)
    swap_exact_1_for_0(pool, E18 // 100)
    with reverts("NP"):
        pool.burn("wallet", lower, upper, 0)
    pool.mint("wallet", lower, upper, 1)
    position = pool.positions[("wallet", lower, upper)]
    assert position.liquidity == 1
    assert position.fee_growth_inside0_last_x128 == 102084710076281216349243831104605583
    assert position.fee_growth_inside1_last_x128 == 10208471007628121634924383110460558
    assert (position.tokens_owed0, position.tokens_owed1) == (0, 0)
    pool.burn("wallet", lower, upper, 1)
    position = pool.positions[("wallet", lower, upper)]
    assert position.liquidity == 0
    assert position.fee_growth_inside0_last_x128 == 102084710076281216349243831104605583
    assert (position.tokens_owed0, position.tokens_owed1) == (3, 0)


def test_burn_keeps_fee_growth_snapshot() -> None:
    pool = at_zero_tick()
    pool.mint("other", min_tick(60), max_tick(60), E18)
    swap_exact_0_for_1(pool, E18)
    swap_exact_1_for_0(pool, E18)
    pool.burn("other", min_tick(60), max_tick(60), E18)
    position = pool.positions[("other", min_tick(60), max_tick(60))]
    assert position.liquidity == 0
    assert position.tokens_owed0 != 0
    assert position.tokens_owed1 != 0
    assert position.fee_growth_inside0_last_x128 == 340282366920938463463374607431768211
    assert position.fee_growth_inside1_last_x128 == 340282366920938576890830247744589365


def test_cannot_burn_more_than_the_position() -> None:
    pool = at_zero_tick(500, 10)
    pool.mint("wallet", -10, 10, 1000 * E18)
    with reverts("LS"):
        pool.burn("wallet", -10, 10, 1001 * E18)


def test_ticks_after_two_swaps() -> None:
    pool = at_zero_tick()
    swap_exact_0_for_1(pool, E18 // 2)
    assert pool.tick == -4452
    swap_exact_1_for_0(pool, E18 // 4)
    assert pool.tick == -1558


@pytest.mark.parametrize(
    ("lower", "upper", "added"), [(10, 20, (1, 0)), (-20, -10, (0, 1)), (-10, 10, (1, 1))]
)
def test_miscellaneous_mints(lower: int, upper: int, added: tuple[int, int]) -> None:
    pool = at_zero_tick(500, 10)
    assert pool.mint("wallet", lower, upper, 1000) == added


def test_liquidity_in_and_out_of_range() -> None:
    pool = at_zero_tick()
    assert pool.liquidity == 2 * E18
    pool.mint("wallet", 0, 60, E18)
    assert pool.liquidity == 3 * E18
    swap_exact_0_for_1(pool, 1)
    assert (pool.tick, pool.liquidity) == (-1, 2 * E18)
    pool = at_zero_tick()
    pool.mint("wallet", -60, 0, E18)
    assert pool.liquidity == 2 * E18
    swap_exact_0_for_1(pool, 1)
    assert (pool.tick, pool.liquidity) == (-1, 3 * E18)


@pytest.mark.parametrize("fee_protocol", [0, 6])
@pytest.mark.parametrize("zero_for_one", [False, True])
def test_limit_orders(zero_for_one: bool, fee_protocol: int) -> None:
    pool = at_zero_tick()
    pool.set_fee_protocol(fee_protocol, fee_protocol)
    lower, upper = (0, 120) if not zero_for_one else (-120, 0)
    assert pool.mint("wallet", lower, upper, E18) == (
        (5981737760509663, 0) if not zero_for_one else (0, 5981737760509663)
    )
    pool.swap(zero_for_one, 2 * E18, MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1)
    burned = pool.burn("wallet", lower, upper, E18)
    assert burned == ((0, 6017734268818165) if not zero_for_one else (6017734268818165, 0))
    fee = 18107525382602 if fee_protocol == 0 else 15089604485501
    collected = pool.collect("wallet", lower, upper, MAX_UINT128, MAX_UINT128)
    assert collected == ((0, 6017734268818165 + fee) if not zero_for_one else (6017734268818165 + fee, 0))
    if zero_for_one:
        assert pool.tick < -120
    else:
        assert pool.tick >= 120


def test_collect_with_multiple_lps() -> None:
    pool = Pool(fee=500, tick_spacing=10)
    pool.initialize(encode_price_sqrt(1, 1))
    lo, hi = min_tick(10), max_tick(10)
    pool.mint("wallet", lo, hi, E18)
    pool.mint("wallet", lo + 10, hi - 10, 2 * E18)
    swap_exact_0_for_1(pool, E18)
    pool.burn("wallet", lo, hi, 0)
    pool.burn("wallet", lo + 10, hi - 10, 0)
    assert pool.positions[("wallet", lo, hi)].tokens_owed0 == 166666666666667
    assert pool.positions[("wallet", lo + 10, hi - 10)].tokens_owed0 == 333333333333334


@pytest.mark.parametrize(
    ("fee_growth", "owed"),
    [
        (115792089237316195423570985008687907852929702298719625575994, MAX_UINT128 - 1),
        (115792089237316195423570985008687907852929702298719625575995, MAX_UINT128),
        (MAX_UINT256, MAX_UINT128),  # uint128() truncation of the owed amount
    ],
)
def test_collect_across_large_fee_growth(fee_growth: int, owed: int) -> None:
    pool = Pool(fee=500, tick_spacing=10)
    pool.initialize(encode_price_sqrt(1, 1))
    pool.mint("wallet", min_tick(10), max_tick(10), E18)
    pool.fee_growth_global0_x128 = fee_growth  # MockTimeUniswapV3Pool.setFeeGrowthGlobal0X128
    pool.burn("wallet", min_tick(10), max_tick(10), 0)
    position = pool.positions[("wallet", min_tick(10), max_tick(10))]
    assert (position.tokens_owed0, position.tokens_owed1) == (owed, 0)


@pytest.mark.parametrize(
    ("swaps", "expected"),
    [
        ((True,), (499999999999999, 0)),
        ((False,), (0, 499999999999999)),
        ((True, False), (499999999999999, 500000000000000)),
    ],
)
def test_collect_across_fee_growth_overflow(swaps: tuple[bool, ...], expected: tuple[int, int]) -> None:
    pool = Pool(fee=500, tick_spacing=10)
    pool.initialize(encode_price_sqrt(1, 1))
    pool.fee_growth_global0_x128 = pool.fee_growth_global1_x128 = MAX_UINT256
    pool.mint("wallet", min_tick(10), max_tick(10), 10 * E18)
    for zero_for_one in swaps:
        pool.swap(zero_for_one, E18, MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1)
    pool.burn("wallet", min_tick(10), max_tick(10), 0)
    assert pool.collect("wallet", min_tick(10), max_tick(10), MAX_UINT128, MAX_UINT128) == expected


@pytest.fixture
def fee_pool() -> Pool:
    """``#feeProtocol`` fixture: low fee, price 1, 1000e18 full range."""
    pool = Pool(fee=500, tick_spacing=10)
    pool.initialize(encode_price_sqrt(1, 1))
    pool.mint("wallet", min_tick(10), max_tick(10), 1000 * E18)
    return pool


def _swap_and_fees_owed(pool: Pool, zero_for_one: bool, poke: bool) -> tuple[int, int]:
    pool.swap(zero_for_one, E18, MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1)
    if poke:
        pool.burn("wallet", min_tick(10), max_tick(10), 0)
    position = pool.positions[("wallet", min_tick(10), max_tick(10))]
    return position.tokens_owed0, position.tokens_owed1


def test_swap_fees_accumulate(fee_pool: Pool) -> None:
    owed = [_swap_and_fees_owed(fee_pool, True, True) for _ in range(3)]
    assert owed == [(499999999999999, 0), (999999999999998, 0), (1499999999999997, 0)]


def test_protocol_fee_share(fee_pool: Pool) -> None:
    fee_pool.set_fee_protocol(6, 6)
    assert _swap_and_fees_owed(fee_pool, True, True) == (416666666666666, 0)
    assert fee_pool.collect_protocol(MAX_UINT128, MAX_UINT128) == (83333333333332, 0)


def test_protocol_fee_differs_by_token(fee_pool: Pool) -> None:
    fee_pool.set_fee_protocol(8, 5)
    _swap_and_fees_owed(fee_pool, True, False)
    _swap_and_fees_owed(fee_pool, False, False)
    assert fee_pool.collect_protocol(MAX_UINT128, MAX_UINT128) == (62499999999999, 99999999999998)


def test_protocol_fee_turned_on_midway_is_not_confiscatory(fee_pool: Pool) -> None:
    _swap_and_fees_owed(fee_pool, True, False)
    fee_pool.set_fee_protocol(6, 6)
    assert _swap_and_fees_owed(fee_pool, True, True) == (916666666666666, 0)


def test_fees_after_intermediate_withdrawal(fee_pool: Pool) -> None:
    fee_pool.set_fee_protocol(6, 6)
    assert _swap_and_fees_owed(fee_pool, True, True) == (416666666666666, 0)
    fee_pool.collect("wallet", min_tick(10), max_tick(10), MAX_UINT128, MAX_UINT128)
    assert _swap_and_fees_owed(fee_pool, True, False) == (0, 0)
    assert (fee_pool.protocol_fees0, fee_pool.protocol_fees1) == (166666666666666, 0)
    fee_pool.burn("wallet", min_tick(10), max_tick(10), 0)
    assert fee_pool.collect("wallet", min_tick(10), max_tick(10), MAX_UINT128, MAX_UINT128) == (
        416666666666666,
        0,
    )


@pytest.mark.parametrize(
    ("zero_for_one", "lower", "upper", "burned", "tick_after"),
    [
        (False, 120000, 121200, (30027458295511, 996999999999999999), 120196),
        (True, -121200, -120000, (996999999999999999, 30027458295511), -120197),
    ],
)
def test_swapping_across_gaps(
    zero_for_one: bool, lower: int, upper: int, burned: tuple[int, int], tick_after: int
) -> None:
    pool = Pool(fee=3000, tick_spacing=12)
    pool.initialize(encode_price_sqrt(1, 1))
    with reverts(""):
        pool.mint("wallet", -6, 0, 1)
    pool.mint("wallet", lower, upper, E18 // 4)
    pool.swap(zero_for_one, E18, MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1)
    assert pool.burn("wallet", lower, upper, E18 // 4) == burned
    assert pool.tick == tick_after


def test_tick_transition_runs_once_just_below_tick() -> None:
    pool = Pool(fee=3000, tick_spacing=1)
    p0 = get_sqrt_ratio_at_tick(-24081) + 1
    pool.initialize(p0)
    assert (pool.liquidity, pool.tick) == (0, -24081)
    pool.mint("wallet", -24082, -24080, 1000 * E18)
    assert pool.liquidity == 1000 * E18
    pool.mint("wallet", -24082, -24081, 1000 * E18)
    assert pool.liquidity == 1000 * E18
    assert swap_exact_0_for_1(pool, 3) == (3, 0)
    assert (pool.tick, pool.sqrt_price_x96, pool.liquidity) == (-24082, p0 - 1, 2000 * E18)


def test_swap_reverts_as_and_spl() -> None:
    pool = at_zero_tick()
    with reverts("AS"):
        pool.swap(True, 0, MIN_SQRT_RATIO + 1)
    for zero_for_one, limit in ((True, Q96), (True, MIN_SQRT_RATIO), (False, Q96), (False, MAX_SQRT_RATIO)):
        with reverts("SPL"):
            pool.swap(zero_for_one, E18, limit)


def test_swap_rejects_bad_arguments() -> None:
    pool = at_zero_tick()
    with pytest.raises(ParameterError, match=r"'amount_specified' parameter of Pool.swap must be an int in"):
        pool.swap(True, 2**255, MIN_SQRT_RATIO + 1)
    with pytest.raises(ParameterError, match=r"'zero_for_one' parameter of Pool.swap must be a bool. Got 1"):
        pool.swap(1, 1, MIN_SQRT_RATIO + 1)  # type: ignore[arg-type]
    with pytest.raises(
        ParameterError, match=r"'tick' parameter of get_sqrt_ratio_at_tick .* Got 1.5 instead"
    ):
        get_sqrt_ratio_at_tick(1.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"'fee' parameter of Pool must be an int in \[0, 999999\]"):
        Pool(fee=10**6, tick_spacing=60)


# --- properties ------------------------------------------------------------------------------------------------

SPACING = 60
ranges = st.lists(
    st.tuples(
        st.integers(-40, 39).map(lambda k: k * SPACING),
        st.integers(1, 40).map(lambda k: k * SPACING),
        st.integers(10**15, 10**21),
    ).map(lambda r: (r[0], r[0] + r[1], r[2])),
    min_size=1,
    max_size=5,
)


def _pool_with(positions: list[tuple[int, int, int]], start_tick: int) -> Pool:
    pool = Pool(fee=3000, tick_spacing=SPACING)
    pool.initialize(get_sqrt_ratio_at_tick(start_tick))
    for n, (lower, upper, liquidity) in enumerate(positions):
        pool.mint(f"lp{n}", lower, upper, liquidity)
    return pool


@settings(max_examples=60, deadline=None, database=None)
@given(
    positions=ranges,
    start_tick=st.integers(-1500, 1500),
    zero_for_one=st.booleans(),
    exact_in=st.booleans(),
    amount=st.integers(1, 10**21),
    limit_ticks=st.integers(1, 4000),
)
def test_swap_step_amounts_add_up_across_tick_crossings(
    positions: list[tuple[int, int, int]],
    start_tick: int,
    zero_for_one: bool,
    exact_in: bool,
    amount: int,
    limit_ticks: int,
) -> None:
    pool = _pool_with(positions, start_tick)
    limit = get_sqrt_ratio_at_tick(start_tick - limit_ticks if zero_for_one else start_tick + limit_ticks)
    steps: list[SwapStep] = []
    amount0, amount1 = pool.swap(zero_for_one, amount if exact_in else -amount, limit, steps)
    paid_in = sum(s.amount_in + s.fee_amount for s in steps)
    paid_out = sum(s.amount_out for s in steps)
    assert (amount0, amount1) == ((paid_in, -paid_out) if zero_for_one else (-paid_out, paid_in))
    if exact_in:
        assert paid_in <= amount
    else:
        assert paid_out <= amount
    # Each step starts where the last ended and uses the liquidity of exactly the positions spanning it.
    prices = [s.sqrt_price_start_x96 for s in steps] + [pool.sqrt_price_x96]
    assert all(s.sqrt_price_x96 == nxt for s, nxt in zip(steps, prices[1:], strict=True))
    for step in steps:
        low, high = sorted((step.sqrt_price_start_x96, step.sqrt_price_x96))
        if low == high:
            continue
        spanning = sum(
            liq
            for lower, upper, liq in positions
            if get_sqrt_ratio_at_tick(lower) <= low and high <= get_sqrt_ratio_at_tick(upper)
        )
        assert step.liquidity == spanning
    # The loop only stops at the price limit or once the specified amount is used up.
    assert pool.sqrt_price_x96 == limit or (paid_in if exact_in else paid_out) == amount


@settings(max_examples=40, deadline=None, database=None)
@given(
    positions=ranges,
    start_tick=st.integers(-1500, 1500),
    trades=st.lists(st.tuples(st.booleans(), st.integers(10**6, 10**20)), min_size=1, max_size=6),
)
def test_pool_stays_solvent_and_fees_reach_lps(
    positions: list[tuple[int, int, int]], start_tick: int, trades: list[tuple[bool, int]]
) -> None:
    pool = _pool_with(positions, start_tick)
    fees = [0, 0]
    n_steps = 0
    for zero_for_one, amount in trades:
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        if pool.sqrt_price_x96 == limit:  # an earlier trade drained the pool to its bound ("SPL")
            continue
        steps: list[SwapStep] = []
        pool.swap(zero_for_one, amount, limit, steps)
        fees[0 if zero_for_one else 1] += sum(s.fee_amount for s in steps if s.liquidity > 0)
        n_steps += len(steps)
    owed_fees = [0, 0]
    for n, (lower, upper, liquidity) in enumerate(positions):
        pool.burn(f"lp{n}", lower, upper, 0)
        position = pool.positions[(f"lp{n}", lower, upper)]
        owed_fees[0] += position.tokens_owed0
        owed_fees[1] += position.tokens_owed1
        pool.burn(f"lp{n}", lower, upper, liquidity)
        pool.collect(f"lp{n}", lower, upper, MAX_UINT128, MAX_UINT128)
    # Tokens are conserved: the pool never pays out more than it took in, and the LPs' fees are the swap fees
    # less rounding dust (fee growth floors once per step, each position's share once per poke).
    assert pool.balance0 >= 0
    assert pool.balance1 >= 0
    assert pool.liquidity == 0
    for token in (0, 1):
        assert fees[token] - n_steps - len(positions) <= owed_fees[token] <= fees[token]
