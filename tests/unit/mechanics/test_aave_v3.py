"""Aave v3 WadRayMath and PercentageMath against the protocol's own test vectors and hand-checked edges."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.aave_v3 import (
    HALF_RAY,
    HALF_WAD,
    RAY,
    UINT256_MAX,
    WAD,
    percent_div,
    percent_mul,
    ray_div,
    ray_mul,
    ray_to_wad,
    wad_div,
    wad_mul,
    wad_to_ray,
)

MAX = 2**256 - 1

# --------------------------------------------------------------------------------------------------------------
# aave-dao/aave-v3-origin tests/protocol/libraries/math/WadRayMath.t.sol (commit fd1fbd9): the half-up
# functions there are unchanged from aave-v3-core v3.0.2. Solidity literals such as 412.2e18 are exact integers.

WAD_RAY_VECTORS = [
    (wad_mul, 25 * 10**17, 5 * 10**17, 125 * 10**16),
    (wad_mul, 4122 * 10**17, 10**18, 4122 * 10**17),
    (wad_mul, 6 * 10**18, 2 * 10**18, 12 * 10**18),
    (wad_mul, 0, 10**18, 0),
    (wad_mul, 10**18, 0, 0),
    (wad_mul, 0, 0, 0),
    (ray_mul, 25 * 10**26, 5 * 10**26, 125 * 10**25),
    (ray_mul, 4122 * 10**26, 10**27, 4122 * 10**26),
    (ray_mul, 6 * 10**27, 2 * 10**27, 12 * 10**27),
    (wad_div, 25 * 10**17, 5 * 10**17, 5 * 10**18),
    (wad_div, 4122 * 10**17, 10**18, 4122 * 10**17),
    (wad_div, 8745 * 10**15, 67 * 10**16, 13_052238805970149254),
    (wad_div, 6 * 10**18, 2 * 10**18, 3 * 10**18),
    (ray_div, 25 * 10**26, 5 * 10**26, 5 * 10**27),
    (ray_div, 4122 * 10**26, 10**27, 4122 * 10**26),
    (ray_div, 8745 * 10**24, 67 * 10**25, 13_052238805970149253731343284),
    (ray_div, 6 * 10**27, 2 * 10**27, 3 * 10**27),
]


@pytest.mark.parametrize(("func", "a", "b", "expected"), WAD_RAY_VECTORS)
def test_wad_ray_math_origin_vectors(func, a, b, expected):
    assert func(a, b) == expected


@pytest.mark.parametrize(
    ("func", "a", "expected"),
    [
        (wad_to_ray, 10**18, 10**27),
        (wad_to_ray, 4122 * 10**17, 4122 * 10**26),
        (wad_to_ray, 0, 0),
        (ray_to_wad, 10**27, 10**18),
        (ray_to_wad, 4122 * 10**26, 4122 * 10**17),
        (ray_to_wad, 0, 0),
    ],
)
def test_conversions_origin_vectors(func, a, expected):
    assert func(a) == expected


# WadRayMath.t.sol: test_*_revertOnOverflow / revertOnDivByZero. The library reverts with revert(0, 0): no reason.
@pytest.mark.parametrize(
    ("func", "args"),
    [
        (wad_mul, (MAX, 2)),
        (wad_div, (10**18, 0)),
        (wad_div, (MAX, 1)),
        (ray_mul, (MAX, 2)),
        (ray_div, (10**27, 0)),
        (ray_div, (MAX, 1)),
        (wad_to_ray, (MAX,)),
    ],
)
def test_wad_ray_math_origin_reverts(func, args):
    with pytest.raises(Revert) as excinfo:
        func(*args)
    assert excinfo.value.reason == ""


# --------------------------------------------------------------------------------------------------------------
# aave/aave-v3-core test-suites/wadraymath.spec.ts (commit b74526a): its inputs, with the expected values that its
# helper (test-suites/helpers/utils/wadraymath.ts: (half + a*b) / unit, (b/2 + a*unit) / b) gives, worked out by
# hand in big integers once and pasted here.

SPEC_A = 134534543232342353231234
SPEC_B = 13265462389132757665657


def test_wadraymath_spec_values():
    assert wad_mul(SPEC_A, SPEC_B) == 1784662923287792467070443765
    assert wad_div(SPEC_A, SPEC_B) == 10141715327055228122
    assert ray_mul(SPEC_A, SPEC_B) == 1784662923287792467
    assert ray_div(SPEC_A, SPEC_B) == 10141715327055228122033939726
    assert wad_mul(0, SPEC_B) == 0
    assert wad_mul(SPEC_A, 0) == 0
    assert ray_mul(0, SPEC_B) == 0
    assert ray_mul(SPEC_A, 0) == 0


def test_wadraymath_spec_overflow_boundaries():
    # tooLargeA = (MAX - HALF) / b + 1 reverts; one less is the largest accepted a.
    for func, half in ((wad_mul, HALF_WAD), (ray_mul, HALF_RAY)):
        largest = (MAX - half) // SPEC_B
        func(largest, SPEC_B)
        with pytest.raises(Revert):
            func(largest + 1, SPEC_B)
    for func, unit in ((wad_div, WAD), (ray_div, RAY)):
        largest = (MAX - SPEC_B // 2) // unit
        func(largest, SPEC_B)
        with pytest.raises(Revert):
            func(largest + 1, SPEC_B)
        with pytest.raises(Revert):
            func(SPEC_A, 0)


def test_wadraymath_spec_ray_to_wad_rounding():
    half = 10**9 // 2
    assert ray_to_wad(10**27) == 10**18
    assert ray_to_wad(10**27 + half - 1) == 10**18  # remainder 499999999 rounds down
    assert ray_to_wad(10**27 + half) == 10**18 + 1  # remainder exactly half rounds up
    # tooLarge = MAX - half + 1 does not revert: rayToWad divides first.
    assert ray_to_wad(MAX - half + 1) == 115792089237316195423570985008687907853269984665640564039457584007913


def test_wadraymath_spec_wad_to_ray_overflow():
    largest = MAX // 10**9
    assert wad_to_ray(largest) == largest * 10**9
    with pytest.raises(Revert):
        wad_to_ray(largest + 1)


# --------------------------------------------------------------------------------------------------------------
# aave-dao/aave-v3-origin tests/protocol/libraries/math/PercentageMath.t.sol (commit fd1fbd9).


@pytest.mark.parametrize(
    ("func", "value", "percentage", "expected"),
    [
        (percent_mul, 10**18, 50_00, 5 * 10**17),
        (percent_mul, 142515 * 10**14, 74_42, 10_605966300000000000),
        (percent_mul, 9087312 * 10**27, 13_33, 1211338689600000000000000000000000),
        (percent_div, 10**18, 50_00, 2 * 10**18),
        (percent_div, 142515 * 10**14, 74_42, 19_150094060736361193),
        (percent_div, 9087312 * 10**27, 13_33, 68171882970742685671417854463615904),
    ],
)
def test_percentage_math_origin_vectors(func, value, percentage, expected):
    assert func(value, percentage) == expected


@pytest.mark.parametrize(
    ("func", "args"), [(percent_mul, (MAX, 2)), (percent_div, (10**18, 0)), (percent_div, (MAX, 1))]
)
def test_percentage_math_origin_reverts(func, args):
    with pytest.raises(Revert) as excinfo:
        func(*args)
    assert excinfo.value.reason == ""


# --------------------------------------------------------------------------------------------------------------
# hand-checked edges: rounding at exactly one half, zero, and the exact overflow boundary


def test_half_up_rounding_at_exactly_half():
    # 1 * 0.5e18 / 1e18 = 0.5 -> 1; 1 * (0.5e18 - 1) / 1e18 = 0.4999.. -> 0
    assert wad_mul(1, HALF_WAD) == 1
    assert wad_mul(1, HALF_WAD - 1) == 0
    assert ray_mul(1, HALF_RAY) == 1
    assert ray_mul(1, HALF_RAY - 1) == 0
    # 1 / 2e18 in wad = 0.5 -> 1 (b/2 = 1e18 added); 1 / (2e18 + 2) -> (1e18 + 1e18 + 1) / (2e18 + 2) = 0.99.. -> 0
    assert wad_div(1, 2 * WAD) == 1
    assert wad_div(1, 2 * WAD + 2) == 0
    assert ray_div(1, 2 * RAY) == 1
    # percentMul(1, 5000) = 0.5 -> 1; percentMul(1, 4999) = 0.4999 -> 0
    assert percent_mul(1, 5_000) == 1
    assert percent_mul(1, 4_999) == 0
    # percentDiv(1, 20000) = 0.5 -> (10000 + 10000) / 20000 = 1; percentDiv(1, 20002) -> (10000 + 10001) / 20002 = 0
    assert percent_div(1, 20_000) == 1
    assert percent_div(1, 20_002) == 0
    # percentDiv with an odd percentage: half is truncated, (10000 + 1) / 3 = 3333
    assert percent_div(1, 3) == 3333


def test_odd_divisor_half_truncates():
    # wadDiv(1, 3): (1e18 + 1) / 3 = 333333333333333333 (0.333.. rounds down)
    assert wad_div(1, 3) == 333333333333333333
    # wadDiv(2, 3): (2e18 + 1) / 3 = 666666666666666667 (0.666.. rounds up)
    assert wad_div(2, 3) == 666666666666666667


def test_zero_operands_never_revert():
    assert wad_mul(MAX, 0) == 0
    assert ray_mul(MAX, 0) == 0
    assert percent_mul(MAX, 0) == 0
    assert wad_div(0, MAX) == 0
    assert ray_div(0, 1) == 0
    assert percent_div(0, MAX) == 0


def test_max_uint256_exact_boundaries():
    # percentMul(MAX, 1): (MAX - 5000) / 1 = MAX - 5000 is the largest accepted value.
    assert percent_mul(MAX - 5_000, 1) == (MAX - 5_000 + 5_000) // 10_000
    with pytest.raises(Revert):
        percent_mul(MAX - 4_999, 1)
    # wadMul(a, 1) accepts a up to MAX - HALF_WAD, where a * 1 + HALF_WAD = MAX exactly.
    assert wad_mul(MAX - HALF_WAD, 1) == MAX // WAD
    with pytest.raises(Revert):
        wad_mul(MAX - HALF_WAD + 1, 1)
    # percentDiv(a, MAX): half = 2**255 - 1, so the largest accepted a is 2**255 // 10000; then
    # a * 10000 + half < 2**256 - 1 = MAX and the quotient is 0.
    largest = 2**255 // 10_000
    assert percent_div(largest, MAX) == 0
    with pytest.raises(Revert):
        percent_div(largest + 1, MAX)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: wad_mul(-1, 1),
            r"The 'a' parameter of wad_mul must be an int in \[0, 2\*\*256 - 1\]\. Got -1 instead\.",
        ),
        (
            lambda: wad_div(1, 2**256),
            r"The 'b' parameter of wad_div must be an int in \[0, 2\*\*256 - 1\]\. Got 1157",
        ),
        (lambda: ray_mul(1.0, 1), r"The 'a' parameter of ray_mul must be an int .* Got 1\.0 instead\."),
        (lambda: ray_div(True, 1), r"The 'a' parameter of ray_div must be an int .* Got True instead\."),
        (
            lambda: percent_mul(1, "1"),
            r"The 'percentage' parameter of percent_mul must be an int .* Got '1' instead\.",
        ),
        (
            lambda: percent_div(None, 1),
            r"The 'value' parameter of percent_div must be an int .* Got None instead\.",
        ),
        (lambda: ray_to_wad(-5), r"The 'a' parameter of ray_to_wad must be an int .* Got -5 instead\."),
        (lambda: wad_to_ray(-5), r"The 'a' parameter of wad_to_ray must be an int .* Got -5 instead\."),
    ],
)
def test_bad_input_is_rejected(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


# --------------------------------------------------------------------------------------------------------------
# properties: the result is the exact quotient rounded half up, and conversions round-trip

uint = st.integers(min_value=0, max_value=UINT256_MAX)


@settings(max_examples=200, deadline=None)
@given(a=uint, b=uint)
def test_wad_mul_is_nearest_or_reverts(a, b):
    # Half-up rounding: c * WAD lies in (a * b - WAD / 2, a * b + WAD / 2], ties going up.
    if b != 0 and a > (MAX - HALF_WAD) // b:
        with pytest.raises(Revert):
            wad_mul(a, b)
        return
    c = wad_mul(a, b)
    assert -HALF_WAD < c * WAD - a * b <= HALF_WAD


@settings(max_examples=200, deadline=None)
@given(a=st.integers(min_value=0, max_value=2**160), b=st.integers(min_value=1, max_value=UINT256_MAX))
def test_ray_div_is_nearest(a, b):
    c = ray_div(a, b)
    # c = floor((a * RAY + floor(b / 2)) / b) lies within one half of the exact quotient.
    assert 2 * abs(c * b - a * RAY) <= b


@settings(max_examples=200, deadline=None)
@given(a=st.integers(min_value=0, max_value=MAX // 10**9))
def test_wad_to_ray_round_trips(a):
    assert ray_to_wad(wad_to_ray(a)) == a
