"""Uniswap v2: the router library's quote math and the pair's swap invariant check, integer-exact.

Every function takes and returns Python ints in token base units (wei) and reverts exactly where the contract
does, raising :class:`firesale.mechanics.Revert` with the contract's reason string. The fee is a parameter in
basis points; the default of 30 reproduces the contracts' hard-coded 997/1000 bit for bit, because scaling the
numerator and denominator of the floor division (or of both sides of the K inequality) by the same factor
changes nothing.

References
----------
- Uniswap/v2-periphery ``contracts/libraries/UniswapV2Library.sol`` at commit
  0335e8f7e1bd1e8d8329fd300aea2ef2f36dd19f (the file itself last changed in 87edfdcaf49ccc52591502993db4c8c08ea9eec0).
- Uniswap/v2-core ``contracts/UniswapV2Pair.sol`` at commit ee547b17853e71ed4e0101ccfd52e70d5acded58.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert

__all__ = [
    "check_k",
    "get_amount_in",
    "get_amount_out",
    "get_amounts_in",
    "get_amounts_out",
    "quote",
    "swap",
]

_UINT256_MAX = 2**256 - 1
_UINT112_MAX = 2**112 - 1
_BPS = 10_000


def _uint(value: object, name: str, func: str, bits: int = 256) -> int:
    """Return ``value`` as an int if it is a uint of ``bits`` bits, else raise ParameterError."""
    if not isinstance(value, bool):
        try:
            as_int = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            pass
        else:
            if 0 <= as_int < 2**bits:
                return as_int
    raise ParameterError(
        f"The '{name}' parameter of {func} must be an int in [0, 2**{bits} - 1]. Got {value!r} instead."
    )


def _fee(fee_bps: object, func: str) -> tuple[int, int]:
    """Validate ``fee_bps``; return ``(base, fee_units)`` with ``fee_units / base == fee_bps / 10000``.

    A whole number of tenths of a percent uses the contracts' own base of 1000 (30 bps -> 997/1000), so the
    default reproduces even their uint256 overflow thresholds exactly.
    """
    if not isinstance(fee_bps, bool):
        try:
            as_int = operator.index(fee_bps)  # type: ignore[arg-type]
        except TypeError:
            pass
        else:
            if 0 <= as_int <= _BPS:
                return (1000, as_int // 10) if as_int % 10 == 0 else (_BPS, as_int)
    raise ParameterError(
        f"The 'fee_bps' parameter of {func} must be an int in [0, 10000]. Got {fee_bps!r} instead."
    )


def _mul(x: int, y: int) -> int:
    """SafeMath.mul: ``x * y`` or revert ``ds-math-mul-overflow`` (v2-periphery's SafeMath)."""
    z = x * y
    if z > _UINT256_MAX:
        raise Revert("ds-math-mul-overflow")
    return z


def _add(x: int, y: int) -> int:
    z = x + y
    if z > _UINT256_MAX:
        raise Revert("ds-math-add-overflow")
    return z


def _sub(x: int, y: int) -> int:
    if y > x:
        raise Revert("ds-math-sub-underflow")
    return x - y


def quote(amount_a: int, reserve_a: int, reserve_b: int) -> int:
    """Equivalent amount of the other asset at the pair's reserve ratio, no fee (``UniswapV2Library.quote``).

    Parameters
    ----------
    amount_a, reserve_a, reserve_b : int
        uint256 amounts in base units.

    Returns
    -------
    int
        ``amount_a * reserve_b // reserve_a``, rounded down.

    Raises
    ------
    Revert
        ``"UniswapV2Library: INSUFFICIENT_AMOUNT"`` if ``amount_a == 0``;
        ``"UniswapV2Library: INSUFFICIENT_LIQUIDITY"`` if a reserve is zero.

    References
    ----------
    Uniswap/v2-periphery ``contracts/libraries/UniswapV2Library.sol`` (commit 0335e8f), ``quote``.

    Examples
    --------
    >>> quote(1, 100, 200)
    2
    """
    amount_a = _uint(amount_a, "amount_a", "quote")
    reserve_a = _uint(reserve_a, "reserve_a", "quote")
    reserve_b = _uint(reserve_b, "reserve_b", "quote")
    if amount_a == 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_AMOUNT")
    if reserve_a == 0 or reserve_b == 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    return _mul(amount_a, reserve_b) // reserve_a


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """Maximum output for an exact input (``UniswapV2Library.getAmountOut``).

    Parameters
    ----------
    amount_in, reserve_in, reserve_out : int
        uint256 amounts in base units.
    fee_bps : int, default 30
        Swap fee in basis points; 30 is the contract's ``997 / 1000``.

    Returns
    -------
    int
        Output amount, rounded down (in the pool's favour).

    Raises
    ------
    Revert
        ``"UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT"`` if ``amount_in == 0``;
        ``"UniswapV2Library: INSUFFICIENT_LIQUIDITY"`` if a reserve is zero; SafeMath's
        ``"ds-math-mul-overflow"`` / ``"ds-math-add-overflow"`` past uint256.

    Notes
    -----
    .. math:: \\text{out} = \\left\\lfloor \\frac{a\\,(10^4 - f)\\,R_\\text{out}}{10^4 R_\\text{in} + a\\,(10^4 - f)}
              \\right\\rfloor

    References
    ----------
    Uniswap/v2-periphery ``contracts/libraries/UniswapV2Library.sol`` (commit 0335e8f), ``getAmountOut``.

    Examples
    --------
    >>> get_amount_out(2, 100, 100)
    1
    """
    func = "get_amount_out"
    amount_in = _uint(amount_in, "amount_in", func)
    reserve_in = _uint(reserve_in, "reserve_in", func)
    reserve_out = _uint(reserve_out, "reserve_out", func)
    base, fee = _fee(fee_bps, func)
    if amount_in == 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT")
    if reserve_in == 0 or reserve_out == 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    amount_in_with_fee = _mul(amount_in, base - fee)
    numerator = _mul(amount_in_with_fee, reserve_out)
    denominator = _add(_mul(reserve_in, base), amount_in_with_fee)
    return numerator // denominator


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """Minimum input for an exact output (``UniswapV2Library.getAmountIn``).

    Parameters
    ----------
    amount_out, reserve_in, reserve_out : int
        uint256 amounts in base units.
    fee_bps : int, default 30
        Swap fee in basis points; 30 is the contract's ``997 / 1000``.

    Returns
    -------
    int
        Input amount: the floor of the exact quotient plus one, so always rounded up (in the pool's favour),
        by one unit even when the quotient is exact.

    Raises
    ------
    Revert
        ``"UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT"`` if ``amount_out == 0``;
        ``"UniswapV2Library: INSUFFICIENT_LIQUIDITY"`` if a reserve is zero; ``"ds-math-sub-underflow"`` if
        ``amount_out > reserve_out``; ``""`` (Solidity 0.6 division by zero, no reason) if
        ``amount_out == reserve_out``.

    References
    ----------
    Uniswap/v2-periphery ``contracts/libraries/UniswapV2Library.sol`` (commit 0335e8f), ``getAmountIn``.

    Examples
    --------
    >>> get_amount_in(1, 100, 100)
    2
    """
    func = "get_amount_in"
    amount_out = _uint(amount_out, "amount_out", func)
    reserve_in = _uint(reserve_in, "reserve_in", func)
    reserve_out = _uint(reserve_out, "reserve_out", func)
    base, fee = _fee(fee_bps, func)
    if amount_out == 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT")
    if reserve_in == 0 or reserve_out == 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    numerator = _mul(_mul(reserve_in, amount_out), base)
    denominator = _mul(_sub(reserve_out, amount_out), base - fee)
    if denominator == 0:
        exc = Revert("")
        exc.add_note("division by zero in getAmountIn: amount_out == reserve_out (or a 100 % fee)")
        raise exc
    return _add(numerator // denominator, 1)


def _check_path(reserves: Sequence[tuple[int, int]], func: str) -> list[tuple[int, int]]:
    try:
        pairs = [(r_in, r_out) for r_in, r_out in reserves]
    except (TypeError, ValueError):
        raise ParameterError(
            f"The 'reserves' parameter of {func} must be a sequence of (reserve_in, reserve_out) pairs. "
            f"Got {reserves!r} instead."
        ) from None
    if not pairs:
        # The contract's path of tokens has one more entry than there are pairs; fewer than 2 tokens reverts.
        raise Revert("UniswapV2Library: INVALID_PATH")
    return pairs


def get_amounts_out(amount_in: int, reserves: Sequence[tuple[int, int]], fee_bps: int = 30) -> list[int]:
    """Chained :func:`get_amount_out` over a multi-hop path (``UniswapV2Library.getAmountsOut``).

    Parameters
    ----------
    amount_in : int
        Exact input into the first pair.
    reserves : sequence of (int, int)
        ``(reserve_in, reserve_out)`` of each pair along the path, in trade order (what the contract reads with
        ``getReserves`` for each consecutive token pair).
    fee_bps : int, default 30
        Fee of every pair, in basis points.

    Returns
    -------
    list of int
        ``len(reserves) + 1`` amounts: the input, then each hop's output, each rounded down.

    Raises
    ------
    Revert
        ``"UniswapV2Library: INVALID_PATH"`` for an empty path, or any revert of :func:`get_amount_out`.

    References
    ----------
    Uniswap/v2-periphery ``contracts/libraries/UniswapV2Library.sol`` (commit 0335e8f), ``getAmountsOut``.

    Examples
    --------
    >>> get_amounts_out(2, [(10_000, 10_000)])
    [2, 1]
    """
    pairs = _check_path(reserves, "get_amounts_out")
    amounts = [_uint(amount_in, "amount_in", "get_amounts_out")]
    for reserve_in, reserve_out in pairs:
        amounts.append(get_amount_out(amounts[-1], reserve_in, reserve_out, fee_bps))
    return amounts


def get_amounts_in(amount_out: int, reserves: Sequence[tuple[int, int]], fee_bps: int = 30) -> list[int]:
    """Chained :func:`get_amount_in` backwards over a multi-hop path (``UniswapV2Library.getAmountsIn``).

    Parameters
    ----------
    amount_out : int
        Exact output of the last pair.
    reserves : sequence of (int, int)
        ``(reserve_in, reserve_out)`` of each pair along the path, in trade order.
    fee_bps : int, default 30
        Fee of every pair, in basis points.

    Returns
    -------
    list of int
        ``len(reserves) + 1`` amounts: the required input first, the requested output last, each hop's input
        rounded up as in :func:`get_amount_in`.

    Raises
    ------
    Revert
        ``"UniswapV2Library: INVALID_PATH"`` for an empty path, or any revert of :func:`get_amount_in`.

    References
    ----------
    Uniswap/v2-periphery ``contracts/libraries/UniswapV2Library.sol`` (commit 0335e8f), ``getAmountsIn``.

    Examples
    --------
    >>> get_amounts_in(1, [(10_000, 10_000)])
    [2, 1]
    """
    pairs = _check_path(reserves, "get_amounts_in")
    amounts = [_uint(amount_out, "amount_out", "get_amounts_in")]
    for reserve_in, reserve_out in reversed(pairs):
        amounts.append(get_amount_in(amounts[-1], reserve_in, reserve_out, fee_bps))
    return amounts[::-1]


def check_k(
    balance0: int,
    balance1: int,
    amount0_in: int,
    amount1_in: int,
    reserve0: int,
    reserve1: int,
    fee_bps: int = 30,
) -> None:
    """The pair's fee-adjusted invariant check at the end of ``UniswapV2Pair.swap``.

    Parameters
    ----------
    balance0, balance1 : int
        Pair token balances after the optimistic transfers out and the trader's payment in.
    amount0_in, amount1_in : int
        Amounts paid in, as the pair infers them from its balances.
    reserve0, reserve1 : int
        Reserves before the swap.
    fee_bps : int, default 30
        Fee in basis points; 30 is the contract's ``balance * 1000 - amountIn * 3``.

    Notes
    -----
    An exact integer comparison: nothing is rounded.

    Raises
    ------
    Revert
        ``"UniswapV2: K"`` if
        :math:`(10^4 b_0 - f a_0)(10^4 b_1 - f a_1) < 10^8 r_0 r_1`; SafeMath reasons on overflow or underflow.

    References
    ----------
    Uniswap/v2-core ``contracts/UniswapV2Pair.sol`` (commit ee547b1), ``swap``.
    """
    func = "check_k"
    balance0 = _uint(balance0, "balance0", func)
    balance1 = _uint(balance1, "balance1", func)
    amount0_in = _uint(amount0_in, "amount0_in", func)
    amount1_in = _uint(amount1_in, "amount1_in", func)
    reserve0 = _uint(reserve0, "reserve0", func, bits=112)
    reserve1 = _uint(reserve1, "reserve1", func, bits=112)
    base, fee = _fee(fee_bps, func)
    # v2-core's SafeMath carries the same reason strings as the periphery's copy.
    balance0_adjusted = _sub(_mul(balance0, base), _mul(amount0_in, fee))
    balance1_adjusted = _sub(_mul(balance1, base), _mul(amount1_in, fee))
    if _mul(balance0_adjusted, balance1_adjusted) < _mul(_mul(reserve0, reserve1), base**2):
        raise Revert("UniswapV2: K")


def swap(
    amount0_out: int,
    amount1_out: int,
    reserve0: int,
    reserve1: int,
    balance0: int,
    balance1: int,
    fee_bps: int = 30,
) -> tuple[int, int]:
    """The checks and bookkeeping of ``UniswapV2Pair.swap``, given the balances after the trade.

    The contract transfers the outputs optimistically, lets the caller pay, then reads its balances; this
    function takes those balances and reproduces everything that follows.

    Parameters
    ----------
    amount0_out, amount1_out : int
        Amounts sent out to the trader.
    reserve0, reserve1 : int
        Reserves before the swap (uint112).
    balance0, balance1 : int
        Pair balances after the transfers out and the payment in.
    fee_bps : int, default 30
        Fee in basis points; 30 is the contract's 0.3 %.

    Returns
    -------
    (amount0_in, amount1_in) : tuple of int
        Amounts the pair inferred as paid in (exact differences, no rounding). The new reserves are
        ``(balance0, balance1)``.

    Raises
    ------
    Revert
        ``"UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT"``, ``"UniswapV2: INSUFFICIENT_LIQUIDITY"``,
        ``"UniswapV2: INSUFFICIENT_INPUT_AMOUNT"``, ``"UniswapV2: K"`` and ``"UniswapV2: OVERFLOW"`` (a new
        reserve past uint112, from ``_update``), in the contract's order.

    References
    ----------
    Uniswap/v2-core ``contracts/UniswapV2Pair.sol`` (commit ee547b1), ``swap`` and ``_update``.

    Examples
    --------
    Selling 1 token0 into a 5:10 pair (v2-core ``test/UniswapV2Pair.spec.ts``, ``swap:token0``):

    >>> e18 = 10**18
    >>> swap(0, 1662497915624478906, 5 * e18, 10 * e18, 6 * e18, 10 * e18 - 1662497915624478906)
    (1000000000000000000, 0)
    """
    func = "swap"
    amount0_out = _uint(amount0_out, "amount0_out", func)
    amount1_out = _uint(amount1_out, "amount1_out", func)
    reserve0 = _uint(reserve0, "reserve0", func, bits=112)
    reserve1 = _uint(reserve1, "reserve1", func, bits=112)
    balance0 = _uint(balance0, "balance0", func)
    balance1 = _uint(balance1, "balance1", func)
    _fee(fee_bps, func)
    if amount0_out == 0 and amount1_out == 0:
        raise Revert("UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT")
    if not (amount0_out < reserve0 and amount1_out < reserve1):
        raise Revert("UniswapV2: INSUFFICIENT_LIQUIDITY")
    amount0_in = balance0 - (reserve0 - amount0_out) if balance0 > reserve0 - amount0_out else 0
    amount1_in = balance1 - (reserve1 - amount1_out) if balance1 > reserve1 - amount1_out else 0
    if amount0_in == 0 and amount1_in == 0:
        raise Revert("UniswapV2: INSUFFICIENT_INPUT_AMOUNT")
    check_k(balance0, balance1, amount0_in, amount1_in, reserve0, reserve1, fee_bps)
    if balance0 > _UINT112_MAX or balance1 > _UINT112_MAX:
        raise Revert("UniswapV2: OVERFLOW")
    return amount0_in, amount1_in
