"""Uniswap v2 exact mechanics against the protocol's own tests, hand-checked edges and properties.

Expected values are transcribed from Uniswap/v2-core ``test/UniswapV2Pair.spec.ts`` (commit ee547b1) and
Uniswap/v2-periphery ``test/UniswapV2Router02.spec.ts`` (commit 0335e8f); each block names its source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings, strategies as st

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.uniswap_v2 import (
    check_k,
    get_amount_in,
    get_amount_out,
    get_amounts_in,
    get_amounts_out,
    quote,
    swap,
)

E18 = 10**18


@contextmanager
def reverts(reason: str) -> Iterator[pytest.ExceptionInfo[Revert]]:
    """Expect a Revert whose reason string is exactly ``reason`` (``""`` for a revert without reason)."""
    # A reason-less revert carries a note naming the failed check, which pytest's match would also see.
    with pytest.raises(Revert, match=f"^{re.escape(reason)}$" if reason else None) as info:
        yield info
    assert info.value.reason == reason


# --- v2-periphery test/UniswapV2Router02.spec.ts -----------------------------------------------------------------


def test_quote() -> None:
    assert quote(1, 100, 200) == 2
    assert quote(2, 200, 100) == 1
    with reverts("UniswapV2Library: INSUFFICIENT_AMOUNT"):
        quote(0, 100, 200)
    with reverts("UniswapV2Library: INSUFFICIENT_LIQUIDITY"):
        quote(1, 0, 200)
    with reverts("UniswapV2Library: INSUFFICIENT_LIQUIDITY"):
        quote(1, 100, 0)


def test_get_amount_out() -> None:
    assert get_amount_out(2, 100, 100) == 1
    with reverts("UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT"):
        get_amount_out(0, 100, 100)
    with reverts("UniswapV2Library: INSUFFICIENT_LIQUIDITY"):
        get_amount_out(2, 0, 100)
    with reverts("UniswapV2Library: INSUFFICIENT_LIQUIDITY"):
        get_amount_out(2, 100, 0)


def test_get_amount_in() -> None:
    assert get_amount_in(1, 100, 100) == 2
    with reverts("UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT"):
        get_amount_in(0, 100, 100)
    with reverts("UniswapV2Library: INSUFFICIENT_LIQUIDITY"):
        get_amount_in(1, 0, 100)
    with reverts("UniswapV2Library: INSUFFICIENT_LIQUIDITY"):
        get_amount_in(1, 100, 0)


def test_get_amounts_out_and_in() -> None:
    # addLiquidity(10000, 10000) then a one-hop path.
    assert get_amounts_out(2, [(10000, 10000)]) == [2, 1]
    assert get_amounts_in(1, [(10000, 10000)]) == [2, 1]
    with reverts("UniswapV2Library: INVALID_PATH"):
        get_amounts_out(2, [])
    with reverts("UniswapV2Library: INVALID_PATH"):
        get_amounts_in(1, [])


# --- v2-core test/UniswapV2Pair.spec.ts --------------------------------------------------------------------------

# getInputPrice: [swapAmount, token0Amount, token1Amount, expectedOutputAmount], whole tokens except the output.
INPUT_PRICE_CASES = [
    (1, 5, 10, 1662497915624478906),
    (1, 10, 5, 453305446940074565),
    (2, 5, 10, 2851015155847869602),
    (2, 10, 5, 831248957812239453),
    (1, 10, 10, 906610893880149131),
    (1, 100, 100, 987158034397061298),
    (1, 1000, 1000, 996006981039903216),
]


@pytest.mark.parametrize(("swap_amount", "token0", "token1", "expected_out"), INPUT_PRICE_CASES)
def test_get_input_price(swap_amount: int, token0: int, token1: int, expected_out: int) -> None:
    amount_in, reserve0, reserve1 = swap_amount * E18, token0 * E18, token1 * E18
    assert get_amount_out(amount_in, reserve0, reserve1) == expected_out
    balance0 = reserve0 + amount_in
    with reverts("UniswapV2: K"):
        swap(0, expected_out + 1, reserve0, reserve1, balance0, reserve1 - expected_out - 1)
    assert swap(0, expected_out, reserve0, reserve1, balance0, reserve1 - expected_out) == (amount_in, 0)


# optimistic: [outputAmount, token0Amount, token1Amount, inputAmount] paid in token0, taken out in token0.
OPTIMISTIC_CASES = [
    (997000000000000000, 5, 10, 1 * E18),  # given amountIn, amountOut = floor(amountIn * .997)
    (997000000000000000, 10, 5, 1 * E18),
    (997000000000000000, 5, 5, 1 * E18),
    (1 * E18, 5, 5, 1003009027081243732),  # given amountOut, amountIn = ceiling(amountOut / .997)
]


@pytest.mark.parametrize(("output", "token0", "token1", "input_amount"), OPTIMISTIC_CASES)
def test_optimistic_swap(output: int, token0: int, token1: int, input_amount: int) -> None:
    reserve0, reserve1 = token0 * E18, token1 * E18
    with reverts("UniswapV2: K"):
        swap(output + 1, 0, reserve0, reserve1, reserve0 - output - 1 + input_amount, reserve1)
    assert swap(output, 0, reserve0, reserve1, reserve0 - output + input_amount, reserve1) == (
        input_amount,
        0,
    )


def test_swap_token0_and_token1() -> None:
    # swap:token0 and swap:token1 on a 5:10 pair with 1 token in.
    assert get_amount_out(E18, 5 * E18, 10 * E18) == 1662497915624478906
    assert get_amount_out(E18, 10 * E18, 5 * E18) == 453305446940074565
    assert swap(453305446940074565, 0, 5 * E18, 10 * E18, 5 * E18 - 453305446940074565, 11 * E18) == (0, E18)


# --- hand-checked edges -------------------------------------------------------------------------------------------


def test_fee_parameter_by_hand() -> None:
    # No fee: selling x = R into (R, R) returns R / 2.
    assert get_amount_out(100, 100, 100, fee_bps=0) == 50
    # 50 % fee: 50 effective units into (100, 100) give 50 * 100 / 150 = 33.3, rounded down.
    assert get_amount_out(100, 100, 100, fee_bps=5000) == 33
    # 25 bps, not a multiple of 10: 1000 * 0.9975 = 997.5 effective, 997.5e6 / (1e6 + 997.5) = 996.50..
    assert get_amount_out(1000, 10**6, 10**6, fee_bps=25) == 996
    # A 100 % fee pays nothing.
    assert get_amount_out(100, 100, 100, fee_bps=10000) == 0


def test_get_amount_in_adds_one_even_when_exact() -> None:
    # No fee, reserves (1, 2): one unit out needs exactly 1 * 1 / (2 - 1) = 1 in, and the contract asks for 2.
    assert get_amount_in(1, 1, 2, fee_bps=0) == 2


def test_get_amount_in_reverts_at_or_beyond_reserve() -> None:
    with reverts("ds-math-sub-underflow"):
        get_amount_in(101, 100, 100)
    # amount_out == reserve_out divides by zero: Solidity 0.6 reverts without a reason.
    with reverts(""):
        get_amount_in(100, 100, 100)


def test_overflow_reverts_with_safemath_reasons() -> None:
    with reverts("ds-math-mul-overflow"):
        get_amount_out(2**255, 1, 1)
    with reverts("ds-math-mul-overflow"):
        get_amount_out(2**200, 1, 2**60)
    with reverts("ds-math-mul-overflow"):
        get_amount_in(2**200, 2**60, 2**201)
    # reserve_in * 1000 fits, adding amount_in * 997 does not.
    with reverts("ds-math-add-overflow"):
        get_amount_out(2**245, (2**256 - 1) // 1000, 1)


def test_get_amounts_multi_hop_by_hand() -> None:
    # No fee, two pools of (100, 100) then (50, 200): 100 -> 50 -> 50 * 200 / 100 = 100.
    assert get_amounts_out(100, [(100, 100), (50, 200)], fee_bps=0) == [100, 50, 100]
    # Backwards: 99 out of (50, 200) needs 50 * 99 / 101 = 49.0 -> 49 + 1 = 50, then 100 * 50 / 50 + 1 = 101.
    assert get_amounts_in(99, [(100, 100), (50, 200)], fee_bps=0) == [101, 50, 99]


def test_pair_swap_reverts_in_contract_order() -> None:
    with reverts("UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT"):
        swap(0, 0, 100, 100, 110, 100)
    with reverts("UniswapV2: INSUFFICIENT_LIQUIDITY"):
        swap(100, 0, 100, 100, 110, 100)
    with reverts("UniswapV2: INSUFFICIENT_INPUT_AMOUNT"):
        swap(10, 0, 100, 100, 90, 100)
    with reverts("UniswapV2: K"):
        swap(10, 0, 100, 100, 90, 111)
    with reverts("UniswapV2: OVERFLOW"):
        swap(1, 0, 2**112 - 1, 2**112 - 1, 2**112 - 2, 2**112 + 10**6)


def test_check_k_by_hand() -> None:
    # 10 in, 9 out of (100, 100): (110 * 1000 - 10 * 3) * 91 * 1000 = 10007270000 >= 100 * 100 * 1000**2.
    check_k(110, 91, 10, 0, 100, 100)
    # 10 out instead: 109970 * 90000 = 9897300000 < 10**10.
    with reverts("UniswapV2: K"):
        check_k(110, 90, 10, 0, 100, 100)


def test_bad_input_is_a_parameter_error() -> None:
    with pytest.raises(
        ParameterError,
        match=r"^The 'fee_bps' parameter of get_amount_out must be an int in \[0, 10000\]\. Got -1 instead\.$",
    ):
        get_amount_out(1, 1, 1, fee_bps=-1)
    with pytest.raises(
        ParameterError, match=r"The 'amount_in' parameter of get_amount_out .* Got -5 instead"
    ):
        get_amount_out(-5, 1, 1)
    with pytest.raises(
        ParameterError, match=r"The 'reserve_out' parameter of get_amount_in .* Got 1.5 instead"
    ):
        get_amount_in(1, 1, 1.5)  # type: ignore[arg-type]
    with pytest.raises(
        ParameterError, match=r"The 'reserve0' parameter of swap must be an int in \[0, 2\*\*112 - 1\]"
    ):
        swap(1, 0, 2**112, 1, 1, 2)
    with pytest.raises(
        ParameterError, match=r"The 'reserves' parameter of get_amounts_out must be a sequence"
    ):
        get_amounts_out(1, [1, 2])  # type: ignore[list-item]


# --- properties -----------------------------------------------------------------------------------------------------

reserves = st.integers(10**3, 10**30)
fees = st.sampled_from([0, 5, 25, 30, 100, 1000])


@settings(max_examples=300, deadline=None, database=None)
@given(reserve_in=reserves, reserve_out=reserves, amount_in=st.integers(1, 10**30), fee_bps=fees)
def test_constant_product_never_decreases(
    reserve_in: int, reserve_out: int, amount_in: int, fee_bps: int
) -> None:
    amount_out = get_amount_out(amount_in, reserve_in, reserve_out, fee_bps)
    new_in, new_out = reserve_in + amount_in, reserve_out - amount_out
    assert new_out > 0
    assert new_in * new_out >= reserve_in * reserve_out
    # The library's quote is the largest output the pair accepts: one more unit breaks K.
    check_k(new_in, new_out, amount_in, 0, reserve_in, reserve_out, fee_bps)
    if amount_out + 1 < reserve_out:
        with reverts("UniswapV2: K"):
            check_k(new_in, new_out - 1, amount_in, 0, reserve_in, reserve_out, fee_bps)


@settings(max_examples=300, deadline=None, database=None)
@given(reserve_in=reserves, reserve_out=reserves, fraction=st.floats(1e-9, 0.99), fee_bps=fees)
def test_get_amount_in_is_enough(reserve_in: int, reserve_out: int, fraction: float, fee_bps: int) -> None:
    amount_out = max(1, int(reserve_out * fraction))
    amount_in = get_amount_in(amount_out, reserve_in, reserve_out, fee_bps)
    assert get_amount_out(amount_in, reserve_in, reserve_out, fee_bps) >= amount_out
    check_k(reserve_in + amount_in, reserve_out - amount_out, amount_in, 0, reserve_in, reserve_out, fee_bps)
