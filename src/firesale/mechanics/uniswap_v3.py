"""Uniswap v3 core: tick math, sqrt-price math, the swap step and a pool, integer-exact.

Everything takes and returns Python ints in the contracts' own units (Q64.96 sqrt prices, Q128.128 fee growth,
uint128 liquidity, fees in pips = millionths) and reverts where the contracts revert, raising
:class:`firesale.mechanics.Revert` with the contract's reason string. Many v3 ``require`` statements carry no
reason; those raise ``Revert("")`` with a note saying which check failed. Arithmetic follows Solidity 0.7:
unchecked ``+``/``-`` wrap modulo :math:`2^{256}` where the contracts rely on it (fee growth accumulators,
``unchecked`` casts), while ``LowGasSafeMath``/``SafeCast`` checks and division by zero revert.

Arguments outside their Solidity type (a negative ``uint``, a tick outside int24, ...) are not reverts but
caller errors: they raise :class:`firesale.exceptions.ParameterError`.

References
----------
Uniswap/v3-core at commit d8b1c635c275d2a9450bd6a78f3fa2484fef73eb, whose code differs from tag v1.0.0 (the
deployed contracts) only in licence headers, pragmas and comments: ``contracts/libraries/TickMath.sol``,
``FullMath.sol``, ``UnsafeMath.sol``, ``SqrtPriceMath.sol``, ``SwapMath.sol``, ``LiquidityMath.sol``,
``BitMath.sol``, ``TickBitmap.sol``, ``Tick.sol``, ``Position.sol``, ``SafeCast.sol``, ``LowGasSafeMath.sol`` and
``contracts/UniswapV3Pool.sol``.
"""

from __future__ import annotations

import operator
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert

__all__ = [
    "MAX_SQRT_RATIO",
    "MAX_TICK",
    "MIN_SQRT_RATIO",
    "MIN_TICK",
    "Pool",
    "PositionInfo",
    "SwapStep",
    "TickBitmap",
    "TickInfo",
    "add_delta",
    "compute_swap_step",
    "get_amount0_delta",
    "get_amount0_delta_signed",
    "get_amount1_delta",
    "get_amount1_delta_signed",
    "get_fee_growth_inside",
    "get_next_sqrt_price_from_amount0_rounding_up",
    "get_next_sqrt_price_from_amount1_rounding_down",
    "get_next_sqrt_price_from_input",
    "get_next_sqrt_price_from_output",
    "get_sqrt_ratio_at_tick",
    "get_tick_at_sqrt_ratio",
    "mul_div",
    "mul_div_rounding_up",
    "tick_spacing_to_max_liquidity_per_tick",
]

MIN_TICK = -887272
"""Lowest tick :func:`get_sqrt_ratio_at_tick` accepts: :math:`\\log_{1.0001} 2^{-128}` (``TickMath.MIN_TICK``)."""
MAX_TICK = 887272
"""Highest tick :func:`get_sqrt_ratio_at_tick` accepts (``TickMath.MAX_TICK``)."""
MIN_SQRT_RATIO = 4295128739
"""``get_sqrt_ratio_at_tick(MIN_TICK)`` (``TickMath.MIN_SQRT_RATIO``)."""
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
"""``get_sqrt_ratio_at_tick(MAX_TICK)`` (``TickMath.MAX_SQRT_RATIO``)."""
Q96 = 2**96
"""``FixedPoint96.Q96``: the scale of a sqrt price."""
Q128 = 2**128
"""``FixedPoint128.Q128``: the scale of fee growth per unit of liquidity."""

_U256 = 2**256
_U256_MAX = _U256 - 1
_U160_MAX = 2**160 - 1
_U128 = 2**128
_I256_MIN = -(2**255)
_I256_MAX = 2**255 - 1
_I128_MIN = -(2**127)
_I128_MAX = 2**127 - 1
_U24 = 2**24
_PIPS = 1_000_000

# TickMath.getSqrtRatioAtTick: 2**128 / sqrt(1.0001) ** (2**k), one Q128.128 factor per bit of |tick|.
_TICK_FACTORS = (
    (0x2, 0xFFF97272373D413259A46990580E213A),
    (0x4, 0xFFF2E50F5F656932EF12357CF3C7FDCC),
    (0x8, 0xFFE5CACA7E10E4E61C3624EAA0941CD0),
    (0x10, 0xFFCB9843D60F6159C9DB58835C926644),
    (0x20, 0xFF973B41FA98C081472E6896DFB254C0),
    (0x40, 0xFF2EA16466C96A3843EC78B326B52861),
    (0x80, 0xFE5DEE046A99A2A811C461F1969C3053),
    (0x100, 0xFCBE86C7900A88AEDCFFC83B479AA3A4),
    (0x200, 0xF987A7253AC413176F2B074CF7815E54),
    (0x400, 0xF3392B0822B70005940C7A398E4B70F3),
    (0x800, 0xE7159475A2C29B7443B29C7FA6E889D9),
    (0x1000, 0xD097F3BDFD2022B8845AD8F792AA5825),
    (0x2000, 0xA9F746462D870FDF8A65DC1F90E061E5),
    (0x4000, 0x70D869A156D2A1B890BB3DF62BAF32F7),
    (0x8000, 0x31BE135F97D08FD981231505542FCFA6),
    (0x10000, 0x9AA508B5B7A84E1C677DE54F3E99BC9),
    (0x20000, 0x5D6AF8DEDB81196699C329225EE604),
    (0x40000, 0x2216E584F5FA1EA926041BEDFE98),
    (0x80000, 0x48A170391F7DC42444E8FA2),
)
_TICK_FACTOR_BIT0 = 0xFFFCB933BD6FAD37AA2D162D1A594001
# TickMath.getTickAtSqrtRatio: log_sqrt(1.0001)(2) as Q128.128 (times a Q.64 log2), and its error bounds.
_LOG_SQRT10001_OF_2 = 255738958999603826347141
_TICK_LOW_OFFSET = 3402992956809132418596140100660247210
_TICK_HIGH_OFFSET = 291339464771989622907027621153398088495


# --- argument checks (caller errors, not reverts) ------------------------------------------------------------


def _int_arg(value: object, name: str, func: str, lo: int, hi: int, rule: str) -> int:
    if not isinstance(value, bool):
        try:
            as_int = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            pass
        else:
            if lo <= as_int <= hi:
                return as_int
    raise ParameterError(f"The '{name}' parameter of {func} must be an int in {rule}. Got {value!r} instead.")


def _uint(value: object, name: str, func: str, bits: int) -> int:
    return _int_arg(value, name, func, 0, 2**bits - 1, f"[0, 2**{bits} - 1]")


def _sint(value: object, name: str, func: str, bits: int) -> int:
    half = 2 ** (bits - 1)
    return _int_arg(value, name, func, -half, half - 1, f"[-2**{bits - 1}, 2**{bits - 1} - 1]")


def _bool(value: object, name: str, func: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ParameterError(f"The '{name}' parameter of {func} must be a bool. Got {value!r} instead.")


def _revert(reason: str, note: str | None = None) -> Revert:
    """A Revert to raise; ``note`` names the failing check when the contract gives no reason string."""
    exc = Revert(reason)
    if note:
        exc.add_note(note)
    return exc


# --- FullMath, UnsafeMath, SafeCast, LiquidityMath, BitMath ---------------------------------------------------


def _mul_div(a: int, b: int, denominator: int) -> int:
    # FullMath reverts (no reason) when the denominator is 0 or the 512-bit quotient does not fit in 256 bits;
    # otherwise its Chinese-remainder arithmetic yields exactly floor(a * b / denominator).
    if denominator == 0:
        raise _revert("", "FullMath.mulDiv: denominator is zero")
    result = a * b // denominator
    if result > _U256_MAX:
        raise _revert("", "FullMath.mulDiv: result overflows uint256")
    return result


def _mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    result = _mul_div(a, b, denominator)
    if a * b % denominator:
        if result >= _U256_MAX:
            raise _revert("", "FullMath.mulDivRoundingUp: result overflows uint256")
        result += 1
    return result


def _div_rounding_up(x: int, y: int) -> int:
    # UnsafeMath.divRoundingUp is assembly: EVM div and mod by zero return 0 instead of reverting.
    if y == 0:
        return 0
    return x // y + (1 if x % y else 0)


def _to_int256(y: int) -> int:
    if y >= 2**255:
        raise _revert("", "SafeCast.toInt256: value does not fit in int256")
    return y


def _to_int128(y: int) -> int:
    if not _I128_MIN <= y <= _I128_MAX:
        raise _revert("", "SafeCast.toInt128: value does not fit in int128")
    return y


def _to_uint160(y: int) -> int:
    if y > _U160_MAX:
        raise _revert("", "SafeCast.toUint160: value does not fit in uint160")
    return y


def _wrap_int256(x: int) -> int:
    return (x + 2**255) % _U256 - 2**255


def _add_delta(x: int, y: int) -> int:
    if y < 0:
        z = (x - (-y)) % _U128
        if not z < x:
            raise _revert("LS")
    else:
        z = (x + y) % _U128
        if not z >= x:
            raise _revert("LA")
    return z


def mul_div(a: int, b: int, denominator: int) -> int:
    """``FullMath.mulDiv``: :math:`\\lfloor a b / d \\rfloor` with a 512-bit intermediate.

    Parameters
    ----------
    a, b, denominator : int
        uint256.

    Returns
    -------
    int
        The quotient, rounded down.

    Raises
    ------
    Revert
        ``""`` if ``denominator == 0`` or the quotient does not fit in uint256.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/FullMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> mul_div(2**128, 35 * 2**128, 8 * 2**128) == 4375 * 2**128 // 1000
    True
    """
    func = "mul_div"
    return _mul_div(
        _uint(a, "a", func, 256), _uint(b, "b", func, 256), _uint(denominator, "denominator", func, 256)
    )


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """``FullMath.mulDivRoundingUp``: :math:`\\lceil a b / d \\rceil` with a 512-bit intermediate.

    Parameters
    ----------
    a, b, denominator : int
        uint256.

    Returns
    -------
    int
        The quotient, rounded up.

    Raises
    ------
    Revert
        ``""`` if ``denominator == 0`` or the rounded quotient does not fit in uint256.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/FullMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> mul_div_rounding_up(2**128, 2**127, 3 * 2**127) == 2**128 // 3 + 1
    True
    """
    func = "mul_div_rounding_up"
    return _mul_div_rounding_up(
        _uint(a, "a", func, 256), _uint(b, "b", func, 256), _uint(denominator, "denominator", func, 256)
    )


def add_delta(x: int, y: int) -> int:
    """``LiquidityMath.addDelta``: add a signed liquidity delta to a uint128 liquidity.

    Parameters
    ----------
    x : int
        uint128 liquidity.
    y : int
        int128 delta.

    Returns
    -------
    int
        ``x + y``, exact (no rounding).

    Raises
    ------
    Revert
        ``"LS"`` if the result would be negative, ``"LA"`` if it would overflow uint128.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/LiquidityMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> add_delta(1, -1)
    0
    """
    return _add_delta(_uint(x, "x", "add_delta", 128), _sint(y, "y", "add_delta", 128))


def _most_significant_bit(x: int) -> int:
    return x.bit_length() - 1


def _least_significant_bit(x: int) -> int:
    return (x & -x).bit_length() - 1


# --- TickMath ------------------------------------------------------------------------------------------------


def _get_sqrt_ratio_at_tick(tick: int) -> int:
    abs_tick = -tick if tick < 0 else tick
    if abs_tick > MAX_TICK:
        raise _revert("T")
    ratio = _TICK_FACTOR_BIT0 if abs_tick & 0x1 else Q128
    for bit, factor in _TICK_FACTORS:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = _U256_MAX // ratio
    # Q128.128 -> Q64.96, rounding up so that get_tick_at_sqrt_ratio of the result returns this tick.
    return (ratio >> 32) + (1 if ratio % (1 << 32) else 0)


def _get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise _revert("R")
    ratio = sqrt_price_x96 << 32
    msb = _most_significant_bit(ratio)
    r = ratio >> (msb - 127) if msb >= 128 else ratio << (127 - msb)
    log_2 = (msb - 128) << 64
    # Fourteen bits of the fractional part of log2 by repeated squaring of the normalised mantissa.
    for shift in range(63, 49, -1):
        r = (r * r) >> 127
        f = r >> 128
        log_2 |= f << shift
        r >>= f
    log_sqrt10001 = log_2 * _LOG_SQRT10001_OF_2
    tick_low = (log_sqrt10001 - _TICK_LOW_OFFSET) >> 128
    tick_high = (log_sqrt10001 + _TICK_HIGH_OFFSET) >> 128
    if tick_low == tick_high:
        return tick_low
    return tick_high if _get_sqrt_ratio_at_tick(tick_high) <= sqrt_price_x96 else tick_low


def get_sqrt_ratio_at_tick(tick: int) -> int:
    """``TickMath.getSqrtRatioAtTick``: :math:`\\sqrt{1.0001^{tick}} \\cdot 2^{96}` as a Q64.96 number.

    Parameters
    ----------
    tick : int
        int24 tick.

    Returns
    -------
    int
        uint160 sqrt price. The Q128.128 intermediate is converted to Q64.96 rounding up.

    Raises
    ------
    Revert
        ``"T"`` if ``|tick| > MAX_TICK``.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/TickMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> get_sqrt_ratio_at_tick(0) == 2**96
    True
    >>> get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    True
    """
    return _get_sqrt_ratio_at_tick(_sint(tick, "tick", "get_sqrt_ratio_at_tick", 24))


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """``TickMath.getTickAtSqrtRatio``: the greatest tick whose sqrt ratio is at most ``sqrt_price_x96``.

    Parameters
    ----------
    sqrt_price_x96 : int
        uint160 Q64.96 sqrt price.

    Returns
    -------
    int
        The tick, i.e. :math:`\\lfloor \\log_{1.0001} p \\rfloor` (rounded down), computed as the contract does:
        a 14-bit log2 and a final check against :func:`get_sqrt_ratio_at_tick`.

    Raises
    ------
    Revert
        ``"R"`` unless ``MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO``.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/TickMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> get_tick_at_sqrt_ratio(2**96)
    0
    >>> get_tick_at_sqrt_ratio(MAX_SQRT_RATIO - 1)
    887271
    """
    return _get_tick_at_sqrt_ratio(_uint(sqrt_price_x96, "sqrt_price_x96", "get_tick_at_sqrt_ratio", 160))


# --- SqrtPriceMath -------------------------------------------------------------------------------------------


def _next_sqrt_price_amount0(sqrt_px96: int, liquidity: int, amount: int, add: bool) -> int:
    if amount == 0:
        return sqrt_px96
    numerator1 = liquidity << 96
    product = amount * sqrt_px96
    if add:
        if product <= _U256_MAX:
            denominator = numerator1 + product
            if denominator <= _U256_MAX:
                # The contract's uint160() cast truncates; the result always fits, so this is a no-op.
                return _mul_div_rounding_up(numerator1, sqrt_px96, denominator) & _U160_MAX
        if sqrt_px96 == 0:
            raise _revert("", "SqrtPriceMath: division by zero sqrt price")
        denominator = numerator1 // sqrt_px96 + amount
        if denominator > _U256_MAX:
            raise _revert("", "LowGasSafeMath.add: overflow")
        return _div_rounding_up(numerator1, denominator) & _U160_MAX
    if product > _U256_MAX or not numerator1 > product:
        raise _revert("", "SqrtPriceMath: amount0 out exceeds the virtual reserves")
    return _to_uint160(_mul_div_rounding_up(numerator1, sqrt_px96, numerator1 - product))


def _next_sqrt_price_amount1(sqrt_px96: int, liquidity: int, amount: int, add: bool) -> int:
    if add:
        if amount <= _U160_MAX:
            if liquidity == 0:
                raise _revert("", "SqrtPriceMath: division by zero liquidity")
            quotient = (amount << 96) // liquidity
        else:
            quotient = _mul_div(amount, Q96, liquidity)
        result = sqrt_px96 + quotient
        if result > _U256_MAX:
            raise _revert("", "LowGasSafeMath.add: overflow")
        return _to_uint160(result)
    if amount <= _U160_MAX:
        quotient = _div_rounding_up(amount << 96, liquidity)
    else:
        quotient = _mul_div_rounding_up(amount, Q96, liquidity)
    if not sqrt_px96 > quotient:
        raise _revert("", "SqrtPriceMath: amount1 out exceeds the virtual reserves")
    return sqrt_px96 - quotient


def _check_price_and_liquidity(sqrt_px96: int, liquidity: int) -> None:
    if sqrt_px96 == 0:
        raise _revert("", "SqrtPriceMath: sqrt price is zero")
    if liquidity == 0:
        raise _revert("", "SqrtPriceMath: liquidity is zero")


def _next_sqrt_price_from_input(sqrt_px96: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    _check_price_and_liquidity(sqrt_px96, liquidity)
    if zero_for_one:
        return _next_sqrt_price_amount0(sqrt_px96, liquidity, amount_in, True)
    return _next_sqrt_price_amount1(sqrt_px96, liquidity, amount_in, True)


def _next_sqrt_price_from_output(sqrt_px96: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    _check_price_and_liquidity(sqrt_px96, liquidity)
    if zero_for_one:
        return _next_sqrt_price_amount1(sqrt_px96, liquidity, amount_out, False)
    return _next_sqrt_price_amount0(sqrt_px96, liquidity, amount_out, False)


def _amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    numerator1 = liquidity << 96
    numerator2 = sqrt_b - sqrt_a
    if sqrt_a == 0:
        raise _revert("", "SqrtPriceMath.getAmount0Delta: sqrt price is zero")
    if round_up:
        return _div_rounding_up(_mul_div_rounding_up(numerator1, numerator2, sqrt_b), sqrt_a)
    return _mul_div(numerator1, numerator2, sqrt_b) // sqrt_a


def _amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if round_up:
        return _mul_div_rounding_up(liquidity, sqrt_b - sqrt_a, Q96)
    return _mul_div(liquidity, sqrt_b - sqrt_a, Q96)


def _amount0_delta_signed(sqrt_a: int, sqrt_b: int, liquidity: int) -> int:
    if liquidity < 0:
        return -_to_int256(_amount0_delta(sqrt_a, sqrt_b, -liquidity, False))
    return _to_int256(_amount0_delta(sqrt_a, sqrt_b, liquidity, True))


def _amount1_delta_signed(sqrt_a: int, sqrt_b: int, liquidity: int) -> int:
    if liquidity < 0:
        return -_to_int256(_amount1_delta(sqrt_a, sqrt_b, -liquidity, False))
    return _to_int256(_amount1_delta(sqrt_a, sqrt_b, liquidity, True))


def get_next_sqrt_price_from_amount0_rounding_up(
    sqrt_px96: int, liquidity: int, amount: int, add: bool
) -> int:
    """``SqrtPriceMath.getNextSqrtPriceFromAmount0RoundingUp``: price after adding or removing token0.

    Parameters
    ----------
    sqrt_px96 : int
        uint160 starting sqrt price.
    liquidity : int
        uint128 usable liquidity.
    amount : int
        uint256 amount of token0 added to (``add``) or removed from the virtual reserves.
    add : bool
        Whether ``amount`` is added.

    Returns
    -------
    int
        :math:`\\frac{L \\sqrt{P}}{L \\pm x \\sqrt{P}}` rounded up (the price never moves further than the
        amount justifies). Where ``amount * sqrt_px96`` overflows, the contract's alternative form
        :math:`L / (L/\\sqrt{P} + x)` is used, also rounded up.

    Raises
    ------
    Revert
        ``""`` when removing at least the virtual reserves of token0, or on an overflow check.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/SqrtPriceMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> get_next_sqrt_price_from_amount0_rounding_up(2**96, 10**18, 0, True) == 2**96
    True
    """
    func = "get_next_sqrt_price_from_amount0_rounding_up"
    return _next_sqrt_price_amount0(
        _uint(sqrt_px96, "sqrt_px96", func, 160),
        _uint(liquidity, "liquidity", func, 128),
        _uint(amount, "amount", func, 256),
        _bool(add, "add", func),
    )


def get_next_sqrt_price_from_amount1_rounding_down(
    sqrt_px96: int, liquidity: int, amount: int, add: bool
) -> int:
    """``SqrtPriceMath.getNextSqrtPriceFromAmount1RoundingDown``: price after adding or removing token1.

    Parameters
    ----------
    sqrt_px96 : int
        uint160 starting sqrt price.
    liquidity : int
        uint128 usable liquidity.
    amount : int
        uint256 amount of token1 added to (``add``) or removed from the virtual reserves.
    add : bool
        Whether ``amount`` is added.

    Returns
    -------
    int
        :math:`\\sqrt{P} \\pm y / L` rounded down: the quotient rounds down when adding and up when removing.

    Raises
    ------
    Revert
        ``""`` when removing at least the virtual reserves of token1, dividing by zero liquidity when adding,
        or when the result does not fit in uint160.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/SqrtPriceMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> get_next_sqrt_price_from_amount1_rounding_down(2**96, 2**96, 1, True) == 2**96 + 1
    True
    """
    func = "get_next_sqrt_price_from_amount1_rounding_down"
    return _next_sqrt_price_amount1(
        _uint(sqrt_px96, "sqrt_px96", func, 160),
        _uint(liquidity, "liquidity", func, 128),
        _uint(amount, "amount", func, 256),
        _bool(add, "add", func),
    )


def get_next_sqrt_price_from_input(sqrt_px96: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    """``SqrtPriceMath.getNextSqrtPriceFromInput``: price after swapping in ``amount_in`` (net of fee).

    Parameters
    ----------
    sqrt_px96 : int
        uint160 starting sqrt price, > 0.
    liquidity : int
        uint128 usable liquidity, > 0.
    amount_in : int
        uint256 input amount of token0 (``zero_for_one``) or token1.
    zero_for_one : bool
        Direction of the swap.

    Returns
    -------
    int
        The next sqrt price, rounded so as not to pass the target: token0 in rounds the price up, token1 in
        rounds it down.

    Raises
    ------
    Revert
        ``""`` if the price or liquidity is zero, or the result overflows uint160.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/SqrtPriceMath.sol`` (commit d8b1c63).

    Examples
    --------
    SqrtPriceMath.spec.ts, "input amount of 0.1 token1":

    >>> get_next_sqrt_price_from_input(2**96, 10**18, 10**17, False)
    87150978765690771352898345369
    """
    func = "get_next_sqrt_price_from_input"
    return _next_sqrt_price_from_input(
        _uint(sqrt_px96, "sqrt_px96", func, 160),
        _uint(liquidity, "liquidity", func, 128),
        _uint(amount_in, "amount_in", func, 256),
        _bool(zero_for_one, "zero_for_one", func),
    )


def get_next_sqrt_price_from_output(
    sqrt_px96: int, liquidity: int, amount_out: int, zero_for_one: bool
) -> int:
    """``SqrtPriceMath.getNextSqrtPriceFromOutput``: price after swapping out ``amount_out``.

    Parameters
    ----------
    sqrt_px96 : int
        uint160 starting sqrt price, > 0.
    liquidity : int
        uint128 usable liquidity, > 0.
    amount_out : int
        uint256 output amount of token1 (``zero_for_one``) or token0.
    zero_for_one : bool
        Direction of the swap.

    Returns
    -------
    int
        The next sqrt price, rounded so as to pass the target (at least ``amount_out`` is delivered).

    Raises
    ------
    Revert
        ``""`` if the price or liquidity is zero or the output is at least the virtual reserves.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/SqrtPriceMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> get_next_sqrt_price_from_output(2**96, 10**18, 10**17, True)
    71305346262837903834189555302
    """
    func = "get_next_sqrt_price_from_output"
    return _next_sqrt_price_from_output(
        _uint(sqrt_px96, "sqrt_px96", func, 160),
        _uint(liquidity, "liquidity", func, 128),
        _uint(amount_out, "amount_out", func, 256),
        _bool(zero_for_one, "zero_for_one", func),
    )


def get_amount0_delta(sqrt_ratio_ax96: int, sqrt_ratio_bx96: int, liquidity: int, round_up: bool) -> int:
    """``SqrtPriceMath.getAmount0Delta`` (unsigned overload): token0 between two prices.

    Parameters
    ----------
    sqrt_ratio_ax96, sqrt_ratio_bx96 : int
        uint160 sqrt prices, in either order.
    liquidity : int
        uint128 liquidity.
    round_up : bool
        Round the result up (amounts owed to the pool) or down (amounts paid out).

    Returns
    -------
    int
        :math:`L \\, 2^{96} (\\sqrt{P_b} - \\sqrt{P_a}) / (\\sqrt{P_b} \\sqrt{P_a})`, rounded as requested.

    Raises
    ------
    Revert
        ``""`` if the lower sqrt price is zero.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/SqrtPriceMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> get_amount0_delta(2**96, 2**96 * 11 // 10, 10**18, True)
    90909090909090910
    """
    func = "get_amount0_delta"
    return _amount0_delta(
        _uint(sqrt_ratio_ax96, "sqrt_ratio_ax96", func, 160),
        _uint(sqrt_ratio_bx96, "sqrt_ratio_bx96", func, 160),
        _uint(liquidity, "liquidity", func, 128),
        _bool(round_up, "round_up", func),
    )


def get_amount1_delta(sqrt_ratio_ax96: int, sqrt_ratio_bx96: int, liquidity: int, round_up: bool) -> int:
    """``SqrtPriceMath.getAmount1Delta`` (unsigned overload): token1 between two prices.

    Parameters
    ----------
    sqrt_ratio_ax96, sqrt_ratio_bx96 : int
        uint160 sqrt prices, in either order.
    liquidity : int
        uint128 liquidity.
    round_up : bool
        Round the result up (amounts owed to the pool) or down (amounts paid out).

    Returns
    -------
    int
        :math:`L (\\sqrt{P_b} - \\sqrt{P_a}) / 2^{96}`, rounded as requested.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/SqrtPriceMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> get_amount1_delta(2**96, 2**96 * 11 // 10, 10**18, True)
    100000000000000000
    """
    func = "get_amount1_delta"
    return _amount1_delta(
        _uint(sqrt_ratio_ax96, "sqrt_ratio_ax96", func, 160),
        _uint(sqrt_ratio_bx96, "sqrt_ratio_bx96", func, 160),
        _uint(liquidity, "liquidity", func, 128),
        _bool(round_up, "round_up", func),
    )


def get_amount0_delta_signed(sqrt_ratio_ax96: int, sqrt_ratio_bx96: int, liquidity: int) -> int:
    """``SqrtPriceMath.getAmount0Delta`` (signed-liquidity overload) used when positions change.

    Parameters
    ----------
    sqrt_ratio_ax96, sqrt_ratio_bx96 : int
        uint160 sqrt prices, in either order.
    liquidity : int
        int128 liquidity delta.

    Returns
    -------
    int
        int256 amount: rounded up and positive when liquidity is added (owed to the pool), rounded down and
        negative when it is removed.

    Raises
    ------
    Revert
        ``""`` if the lower sqrt price is zero or the amount does not fit in int256.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/SqrtPriceMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> get_amount0_delta_signed(2**96, 2**96 * 11 // 10, -(10**18))
    -90909090909090909
    """
    func = "get_amount0_delta_signed"
    return _amount0_delta_signed(
        _uint(sqrt_ratio_ax96, "sqrt_ratio_ax96", func, 160),
        _uint(sqrt_ratio_bx96, "sqrt_ratio_bx96", func, 160),
        _sint(liquidity, "liquidity", func, 128),
    )


def get_amount1_delta_signed(sqrt_ratio_ax96: int, sqrt_ratio_bx96: int, liquidity: int) -> int:
    """``SqrtPriceMath.getAmount1Delta`` (signed-liquidity overload) used when positions change.

    Parameters
    ----------
    sqrt_ratio_ax96, sqrt_ratio_bx96 : int
        uint160 sqrt prices, in either order.
    liquidity : int
        int128 liquidity delta.

    Returns
    -------
    int
        int256 amount: rounded up and positive when liquidity is added, rounded down and negative when removed.

    Raises
    ------
    Revert
        ``""`` if the amount does not fit in int256.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/SqrtPriceMath.sol`` (commit d8b1c63).

    Examples
    --------
    >>> get_amount1_delta_signed(2**96, 2**96 * 11 // 10, -(10**18))
    -99999999999999999
    """
    func = "get_amount1_delta_signed"
    return _amount1_delta_signed(
        _uint(sqrt_ratio_ax96, "sqrt_ratio_ax96", func, 160),
        _uint(sqrt_ratio_bx96, "sqrt_ratio_bx96", func, 160),
        _sint(liquidity, "liquidity", func, 128),
    )


# --- SwapMath ------------------------------------------------------------------------------------------------


def _compute_swap_step(
    sqrt_current: int, sqrt_target: int, liquidity: int, amount_remaining: int, fee_pips: int
) -> tuple[int, int, int, int]:
    zero_for_one = sqrt_current >= sqrt_target
    exact_in = amount_remaining >= 0
    # `1e6 - feePips` is uint24 arithmetic in Solidity 0.7: unchecked, so it wraps for fee_pips > 1e6.
    one_minus_fee = (_PIPS - fee_pips) % _U24
    amount_in = amount_out = 0
    if exact_in:
        remaining_less_fee = _mul_div(amount_remaining, one_minus_fee, _PIPS)
        if zero_for_one:
            amount_in = _amount0_delta(sqrt_target, sqrt_current, liquidity, True)
        else:
            amount_in = _amount1_delta(sqrt_current, sqrt_target, liquidity, True)
        if remaining_less_fee >= amount_in:
            sqrt_next = sqrt_target
        else:
            sqrt_next = _next_sqrt_price_from_input(sqrt_current, liquidity, remaining_less_fee, zero_for_one)
    else:
        if zero_for_one:
            amount_out = _amount1_delta(sqrt_target, sqrt_current, liquidity, False)
        else:
            amount_out = _amount0_delta(sqrt_current, sqrt_target, liquidity, False)
        if -amount_remaining >= amount_out:
            sqrt_next = sqrt_target
        else:
            sqrt_next = _next_sqrt_price_from_output(sqrt_current, liquidity, -amount_remaining, zero_for_one)

    reached = sqrt_target == sqrt_next
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = _amount0_delta(sqrt_next, sqrt_current, liquidity, True)
        if not (reached and not exact_in):
            amount_out = _amount1_delta(sqrt_next, sqrt_current, liquidity, False)
    else:
        if not (reached and exact_in):
            amount_in = _amount1_delta(sqrt_current, sqrt_next, liquidity, True)
        if not (reached and not exact_in):
            amount_out = _amount0_delta(sqrt_current, sqrt_next, liquidity, False)

    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining

    if exact_in and sqrt_next != sqrt_target:
        # The target was not reached, so the whole remaining input is spent: what the price move did not use
        # is fee.
        fee_amount = (amount_remaining - amount_in) % _U256
    else:
        fee_amount = _mul_div_rounding_up(amount_in, fee_pips, one_minus_fee)
    return sqrt_next, amount_in, amount_out, fee_amount


def compute_swap_step(
    sqrt_ratio_current_x96: int,
    sqrt_ratio_target_x96: int,
    liquidity: int,
    amount_remaining: int,
    fee_pips: int,
) -> tuple[int, int, int, int]:
    """``SwapMath.computeSwapStep``: one step of a swap within a single liquidity range.

    Parameters
    ----------
    sqrt_ratio_current_x96 : int
        uint160 current sqrt price.
    sqrt_ratio_target_x96 : int
        uint160 price the step may not pass (next initialised tick or the swap's limit); its side of the
        current price sets the direction.
    liquidity : int
        uint128 usable liquidity.
    amount_remaining : int
        int256: positive for exact input (gross of fee), negative for exact output.
    fee_pips : int
        uint24 fee in hundredths of a basis point (3000 = 0.3 %).

    Returns
    -------
    (sqrt_ratio_next_x96, amount_in, amount_out, fee_amount) : tuple of int
        Price after the step; input (rounded up), output (rounded down, capped at the requested output) and fee
        (rounded up, or the whole unused input when an exact-input step ends short of its target).

    Raises
    ------
    Revert
        ``""`` from the underlying FullMath/SqrtPriceMath checks.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/SwapMath.sol`` (commit d8b1c63).

    Examples
    --------
    SwapMath.spec.ts, "entire input amount taken as fee":

    >>> compute_swap_step(2413, 79887613182836312, 1985041575832132834610021537970, 10, 1872)
    (2413, 0, 0, 10)
    """
    func = "compute_swap_step"
    return _compute_swap_step(
        _uint(sqrt_ratio_current_x96, "sqrt_ratio_current_x96", func, 160),
        _uint(sqrt_ratio_target_x96, "sqrt_ratio_target_x96", func, 160),
        _uint(liquidity, "liquidity", func, 128),
        _sint(amount_remaining, "amount_remaining", func, 256),
        _uint(fee_pips, "fee_pips", func, 24),
    )


# --- Tick, TickBitmap, Position --------------------------------------------------------------------------------


def tick_spacing_to_max_liquidity_per_tick(tick_spacing: int) -> int:
    """``Tick.tickSpacingToMaxLiquidityPerTick``: the cap on ``liquidity_gross`` at any one tick.

    Parameters
    ----------
    tick_spacing : int
        int24 tick spacing, > 0.

    Returns
    -------
    int
        ``(2**128 - 1) // n_ticks`` over the usable ticks (MIN/MAX_TICK truncated towards zero to the spacing),
        rounded down.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/Tick.sol`` (commit d8b1c63).

    Examples
    --------
    >>> tick_spacing_to_max_liquidity_per_tick(887272) == (2**128 - 1) // 3
    True
    """
    tick_spacing = _int_arg(
        tick_spacing, "tick_spacing", "tick_spacing_to_max_liquidity_per_tick", 1, 2**23 - 1, "[1, 2**23 - 1]"
    )
    return _max_liquidity_per_tick(tick_spacing)


def _max_liquidity_per_tick(tick_spacing: int) -> int:
    # Solidity's int division truncates towards zero, so MIN_TICK / spacing rounds up for the negative bound.
    min_tick = -(-MIN_TICK // tick_spacing) * tick_spacing
    max_tick = (MAX_TICK // tick_spacing) * tick_spacing
    n_ticks = (max_tick - min_tick) // tick_spacing + 1
    return (_U128 - 1) // n_ticks


@dataclass
class TickInfo:
    """``Tick.Info`` without the oracle fields (seconds and tick accumulators are not modelled).

    Uniswap/v3-core ``contracts/libraries/Tick.sol`` (commit d8b1c63). Integers, nothing rounded.
    """

    liquidity_gross: int = 0
    liquidity_net: int = 0
    fee_growth_outside0_x128: int = 0
    fee_growth_outside1_x128: int = 0
    initialized: bool = False


@dataclass
class PositionInfo:
    """``Position.Info``: a position's liquidity, fee-growth checkpoints and tokens owed.

    Uniswap/v3-core ``contracts/libraries/Position.sol`` (commit d8b1c63). Owed fees are rounded down when they
    accrue.
    """

    liquidity: int = 0
    fee_growth_inside0_last_x128: int = 0
    fee_growth_inside1_last_x128: int = 0
    tokens_owed0: int = 0
    tokens_owed1: int = 0


class _Ticks(dict[int, TickInfo]):
    """A Solidity mapping: reading a missing tick gives an empty ``TickInfo`` without storing it."""

    def __missing__(self, key: int) -> TickInfo:
        return TickInfo()


class _Positions(dict[tuple[Hashable, int, int], PositionInfo]):
    """A Solidity mapping keyed by ``(owner, tick_lower, tick_upper)``."""

    def __missing__(self, key: tuple[Hashable, int, int]) -> PositionInfo:
        return PositionInfo()


def get_fee_growth_inside(
    ticks: Mapping[int, TickInfo],
    tick_lower: int,
    tick_upper: int,
    tick_current: int,
    fee_growth_global0_x128: int,
    fee_growth_global1_x128: int,
) -> tuple[int, int]:
    """``Tick.getFeeGrowthInside``: fee growth per unit of liquidity between two ticks.

    Parameters
    ----------
    ticks : mapping of int to TickInfo
        Tick state; a missing tick reads as empty, as in the contract's mapping.
    tick_lower, tick_upper : int
        The range.
    tick_current : int
        The pool's current tick.
    fee_growth_global0_x128, fee_growth_global1_x128 : int
        Global fee growth (Q128.128, uint256).

    Returns
    -------
    (fee_growth_inside0_x128, fee_growth_inside1_x128) : tuple of int
        Global minus below minus above, exact modulo :math:`2^{256}` (no rounding; the contract relies on the
        wrap-around).

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/Tick.sol`` (commit d8b1c63).

    Examples
    --------
    >>> get_fee_growth_inside({}, -2, 2, 0, 15, 15)
    (15, 15)
    """
    func = "get_fee_growth_inside"
    tick_lower = _sint(tick_lower, "tick_lower", func, 24)
    tick_upper = _sint(tick_upper, "tick_upper", func, 24)
    tick_current = _sint(tick_current, "tick_current", func, 24)
    fg0 = _uint(fee_growth_global0_x128, "fee_growth_global0_x128", func, 256)
    fg1 = _uint(fee_growth_global1_x128, "fee_growth_global1_x128", func, 256)
    empty = TickInfo()
    return _fee_growth_inside(
        ticks.get(tick_lower, empty),
        ticks.get(tick_upper, empty),
        tick_lower,
        tick_upper,
        tick_current,
        fg0,
        fg1,
    )


def _fee_growth_inside(
    lower: TickInfo,
    upper: TickInfo,
    tick_lower: int,
    tick_upper: int,
    tick_current: int,
    fg0: int,
    fg1: int,
) -> tuple[int, int]:
    if tick_current >= tick_lower:
        below0, below1 = lower.fee_growth_outside0_x128, lower.fee_growth_outside1_x128
    else:
        below0 = (fg0 - lower.fee_growth_outside0_x128) % _U256
        below1 = (fg1 - lower.fee_growth_outside1_x128) % _U256
    if tick_current < tick_upper:
        above0, above1 = upper.fee_growth_outside0_x128, upper.fee_growth_outside1_x128
    else:
        above0 = (fg0 - upper.fee_growth_outside0_x128) % _U256
        above1 = (fg1 - upper.fee_growth_outside1_x128) % _U256
    return (fg0 - below0 - above0) % _U256, (fg1 - below1 - above1) % _U256


class TickBitmap:
    """``TickBitmap``: one bit per initialisable tick, 256 ticks (of the spacing) per word.

    Parameters
    ----------
    tick_spacing : int
        Ticks are compressed by this spacing before they are addressed.

    Attributes
    ----------
    words : dict of int to int
        uint256 words by int16 word position; missing words are zero.

    References
    ----------
    Uniswap/v3-core ``contracts/libraries/TickBitmap.sol`` (commit d8b1c63).
    """

    def __init__(self, tick_spacing: int) -> None:
        self.tick_spacing = _int_arg(
            tick_spacing, "tick_spacing", "TickBitmap", 1, 2**23 - 1, "[1, 2**23 - 1]"
        )
        self.words: dict[int, int] = {}

    def flip_tick(self, tick: int) -> None:
        """``flipTick``: flip the bit of ``tick``; reverts ``""`` unless it is a multiple of the spacing.

        Same file and commit as the class; exact bit arithmetic, nothing rounded.
        """
        tick = _sint(tick, "tick", "TickBitmap.flip_tick", 24)
        if tick % self.tick_spacing:
            raise _revert("", "TickBitmap.flipTick: tick is not a multiple of the tick spacing")
        compressed = tick // self.tick_spacing
        word_pos, bit_pos = compressed >> 8, compressed % 256
        word = self.words.get(word_pos, 0) ^ (1 << bit_pos)
        if word:
            self.words[word_pos] = word
        else:
            self.words.pop(word_pos, None)

    def is_initialized(self, tick: int) -> bool:
        """Whether the bit of ``tick`` (a multiple of the spacing) is set (``TickBitmapTest.isInitialized``)."""
        compressed = tick // self.tick_spacing
        return bool(self.words.get(compressed >> 8, 0) >> (compressed % 256) & 1)

    def next_initialized_tick_within_one_word(self, tick: int, lte: bool) -> tuple[int, bool]:
        """``nextInitializedTickWithinOneWord``: the next initialised tick, looking no further than one word.

        Parameters
        ----------
        tick : int
            Starting tick (any int24, not necessarily a multiple of the spacing).
        lte : bool
            Search at or to the left of ``tick`` (``True``) or strictly to the right.

        Returns
        -------
        (next, initialized) : tuple of (int, bool)
            The next initialised tick, or the word's edge tick with ``initialized=False`` if the word holds
            none. Ticks are compressed rounding towards negative infinity.
        """
        tick = _sint(tick, "tick", "TickBitmap.next_initialized_tick_within_one_word", 24)
        lte = _bool(lte, "lte", "TickBitmap.next_initialized_tick_within_one_word")
        return self._next(tick, lte)

    def _next(self, tick: int, lte: bool) -> tuple[int, bool]:
        spacing = self.tick_spacing
        compressed = tick // spacing
        if lte:
            bit_pos = compressed % 256
            masked = self.words.get(compressed >> 8, 0) & ((1 << bit_pos) - 1 + (1 << bit_pos))
            if masked:
                return (compressed - (bit_pos - _most_significant_bit(masked))) * spacing, True
            return (compressed - bit_pos) * spacing, False
        compressed += 1
        bit_pos = compressed % 256
        masked = self.words.get(compressed >> 8, 0) & ~((1 << bit_pos) - 1) & _U256_MAX
        if masked:
            return (compressed + (_least_significant_bit(masked) - bit_pos)) * spacing, True
        return (compressed + (255 - bit_pos)) * spacing, False


# --- the pool ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SwapStep:
    """One iteration of the swap loop of ``UniswapV3Pool.swap`` (``StepComputations`` plus the outcome).

    ``fee_amount`` is the step's whole fee as ``computeSwapStep`` returns it, before any protocol-fee cut;
    ``protocol_fee`` is that cut.
    """

    sqrt_price_start_x96: int
    tick_next: int
    initialized: bool
    sqrt_price_next_x96: int
    sqrt_price_x96: int
    liquidity: int
    amount_in: int
    amount_out: int
    fee_amount: int
    protocol_fee: int


class Pool:
    """``UniswapV3Pool`` without the oracle: positions, ticks, the bitmap, fees and the multi-tick swap.

    Token transfers are assumed to succeed and to pay exactly what each callback is asked for; ``balance0`` and
    ``balance1`` keep the resulting pool balances. ``owner`` plays the role of ``msg.sender``/``recipient``
    and can be any hashable. A call that reverts leaves the pool unchanged, as a reverted transaction would.

    Parameters
    ----------
    fee : int
        Swap fee in pips (uint24, < 1,000,000, as the factory requires): 500, 3000, 10000.
    tick_spacing : int
        Tick spacing (in (0, 16384), as the factory requires).

    Attributes
    ----------
    sqrt_price_x96, tick, fee_protocol, unlocked :
        ``slot0`` (without the observation fields).
    liquidity : int
        Active liquidity.
    fee_growth_global0_x128, fee_growth_global1_x128 : int
        Fee growth per unit of liquidity, Q128.128, wrapping modulo :math:`2^{256}`.
    protocol_fees0, protocol_fees1 : int
        Accrued protocol fees.
    ticks : dict of int to TickInfo
        Initialised ticks (reading a missing tick gives an empty ``TickInfo``).
    tick_bitmap : TickBitmap
        The bitmap of initialised ticks.
    positions : dict of (owner, tick_lower, tick_upper) to PositionInfo
        Positions.
    max_liquidity_per_tick : int
        ``Tick.tickSpacingToMaxLiquidityPerTick(tick_spacing)``.

    References
    ----------
    Uniswap/v3-core ``contracts/UniswapV3Pool.sol`` (commit d8b1c63), with ``Tick.sol``, ``TickBitmap.sol`` and
    ``Position.sol``.

    Examples
    --------
    >>> pool = Pool(fee=3000, tick_spacing=60)
    >>> pool.initialize(2**96)
    >>> pool.mint("lp", -887220, 887220, 2 * 10**18)
    (2000000000000000000, 2000000000000000000)
    >>> pool.swap(True, 10**18, MIN_SQRT_RATIO + 1)
    (1000000000000000000, -665331998665331998)
    """

    def __init__(self, fee: int, tick_spacing: int) -> None:
        self.fee = _int_arg(fee, "fee", "Pool", 0, _PIPS - 1, "[0, 999999]")
        self.tick_spacing = _int_arg(tick_spacing, "tick_spacing", "Pool", 1, 16383, "[1, 16383]")
        self.max_liquidity_per_tick = _max_liquidity_per_tick(self.tick_spacing)
        self.sqrt_price_x96 = 0
        self.tick = 0
        self.fee_protocol = 0
        self.unlocked = False
        self.liquidity = 0
        self.fee_growth_global0_x128 = 0
        self.fee_growth_global1_x128 = 0
        self.protocol_fees0 = 0
        self.protocol_fees1 = 0
        self.ticks: dict[int, TickInfo] = _Ticks()
        self.tick_bitmap = TickBitmap(self.tick_spacing)
        self.positions: dict[tuple[Hashable, int, int], PositionInfo] = _Positions()
        self.balance0 = 0
        self.balance1 = 0

    def __repr__(self) -> str:
        return (
            f"Pool(fee={self.fee}, tick_spacing={self.tick_spacing}, sqrt_price_x96={self.sqrt_price_x96}, "
            f"tick={self.tick}, liquidity={self.liquidity}, n_ticks={len(self.ticks)})"
        )

    def _lock(self) -> None:
        if not self.unlocked:
            raise _revert("LOK")

    def initialize(self, sqrt_price_x96: int) -> None:
        """``initialize``: set the starting price (reverts ``"AI"`` if already set, ``"R"`` if out of range).

        Uniswap/v3-core ``contracts/UniswapV3Pool.sol`` (commit d8b1c63); the tick is the price's tick rounded
        down.
        """
        sqrt_price_x96 = _uint(sqrt_price_x96, "sqrt_price_x96", "Pool.initialize", 160)
        if self.sqrt_price_x96 != 0:
            raise _revert("AI")
        self.tick = _get_tick_at_sqrt_ratio(sqrt_price_x96)
        self.sqrt_price_x96 = sqrt_price_x96
        self.fee_protocol = 0
        self.unlocked = True

    def set_fee_protocol(self, fee_protocol0: int, fee_protocol1: int) -> None:
        """``setFeeProtocol``: protocol share ``1/n`` of swap fees per token (0 or 4..10); reverts ``""`` else.

        Uniswap/v3-core ``contracts/UniswapV3Pool.sol`` (commit d8b1c63). The protocol's cut of a step's fee
        is rounded down.
        """
        fee_protocol0 = _uint(fee_protocol0, "fee_protocol0", "Pool.set_fee_protocol", 8)
        fee_protocol1 = _uint(fee_protocol1, "fee_protocol1", "Pool.set_fee_protocol", 8)
        self._lock()
        if not all(p == 0 or 4 <= p <= 10 for p in (fee_protocol0, fee_protocol1)):
            raise _revert("", "setFeeProtocol: each share must be 0 or in [4, 10]")
        self.fee_protocol = fee_protocol0 + (fee_protocol1 << 4)

    # positions -------------------------------------------------------------------------------------------------

    def _update_tick(self, tick: int, liquidity_delta: int, upper: bool) -> bool:
        info = self.ticks.get(tick)
        if info is None:
            info = self.ticks[tick] = TickInfo()
        gross_before = info.liquidity_gross
        gross_after = _add_delta(gross_before, liquidity_delta)
        if gross_after > self.max_liquidity_per_tick:
            raise _revert("LO")
        flipped = (gross_after == 0) != (gross_before == 0)
        if gross_before == 0:
            # By convention all growth before a tick was initialised happened below it.
            if tick <= self.tick:
                info.fee_growth_outside0_x128 = self.fee_growth_global0_x128
                info.fee_growth_outside1_x128 = self.fee_growth_global1_x128
            info.initialized = True
        info.liquidity_gross = gross_after
        info.liquidity_net = _to_int128(
            info.liquidity_net - liquidity_delta if upper else info.liquidity_net + liquidity_delta
        )
        return flipped

    def _update_position(
        self, owner: Hashable, tick_lower: int, tick_upper: int, liquidity_delta: int
    ) -> PositionInfo:
        key = (owner, tick_lower, tick_upper)
        position = self.positions.get(key)
        if position is None:
            position = self.positions[key] = PositionInfo()
        flipped_lower = flipped_upper = False
        if liquidity_delta != 0:
            flipped_lower = self._update_tick(tick_lower, liquidity_delta, upper=False)
            flipped_upper = self._update_tick(tick_upper, liquidity_delta, upper=True)
            if flipped_lower:
                self.tick_bitmap.flip_tick(tick_lower)
            if flipped_upper:
                self.tick_bitmap.flip_tick(tick_upper)
        inside0, inside1 = _fee_growth_inside(
            self.ticks[tick_lower],
            self.ticks[tick_upper],
            tick_lower,
            tick_upper,
            self.tick,
            self.fee_growth_global0_x128,
            self.fee_growth_global1_x128,
        )
        # Position.update
        if liquidity_delta == 0:
            if position.liquidity == 0:
                raise _revert("NP")
            liquidity_next = position.liquidity
        else:
            liquidity_next = _add_delta(position.liquidity, liquidity_delta)
        # uint128() truncation of the owed amounts is the contract's; overflow there is accepted by design.
        owed0 = (
            _mul_div((inside0 - position.fee_growth_inside0_last_x128) % _U256, position.liquidity, Q128)
            % _U128
        )
        owed1 = (
            _mul_div((inside1 - position.fee_growth_inside1_last_x128) % _U256, position.liquidity, Q128)
            % _U128
        )
        position.liquidity = liquidity_next
        position.fee_growth_inside0_last_x128 = inside0
        position.fee_growth_inside1_last_x128 = inside1
        position.tokens_owed0 = (position.tokens_owed0 + owed0) % _U128
        position.tokens_owed1 = (position.tokens_owed1 + owed1) % _U128
        if liquidity_delta < 0:
            if flipped_lower:
                del self.ticks[tick_lower]
            if flipped_upper:
                del self.ticks[tick_upper]
        return position

    def _modify_position(
        self, owner: Hashable, tick_lower: int, tick_upper: int, liquidity_delta: int
    ) -> tuple[PositionInfo, int, int]:
        if not tick_lower < tick_upper:
            raise _revert("TLU")
        if tick_lower < MIN_TICK:
            raise _revert("TLM")
        if tick_upper > MAX_TICK:
            raise _revert("TUM")
        # A reverted call must leave no trace: remember everything _update_position may touch.
        key = (owner, tick_lower, tick_upper)
        saved_ticks = {t: _copy_tick(self.ticks.get(t)) for t in (tick_lower, tick_upper)}
        saved_position = _copy_position(self.positions.get(key))
        saved_words = dict(self.tick_bitmap.words)
        saved_liquidity = self.liquidity
        try:
            position = self._update_position(owner, tick_lower, tick_upper, liquidity_delta)
            amount0 = amount1 = 0
            if liquidity_delta != 0:
                sqrt_lower = _get_sqrt_ratio_at_tick(tick_lower)
                sqrt_upper = _get_sqrt_ratio_at_tick(tick_upper)
                if self.tick < tick_lower:
                    amount0 = _amount0_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)
                elif self.tick < tick_upper:
                    amount0 = _amount0_delta_signed(self.sqrt_price_x96, sqrt_upper, liquidity_delta)
                    amount1 = _amount1_delta_signed(sqrt_lower, self.sqrt_price_x96, liquidity_delta)
                    self.liquidity = _add_delta(self.liquidity, liquidity_delta)
                else:
                    amount1 = _amount1_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)
        except Revert:
            for t, info in saved_ticks.items():
                if info is None:
                    self.ticks.pop(t, None)
                else:
                    self.ticks[t] = info
            if saved_position is None:
                self.positions.pop(key, None)
            else:
                self.positions[key] = saved_position
            self.tick_bitmap.words = saved_words
            self.liquidity = saved_liquidity
            raise
        return position, amount0, amount1

    def _check_range(self, func: str, tick_lower: int, tick_upper: int, amount: int) -> tuple[int, int, int]:
        return (
            _sint(tick_lower, "tick_lower", func, 24),
            _sint(tick_upper, "tick_upper", func, 24),
            _uint(amount, "amount", func, 128),
        )

    def mint(self, owner: Hashable, tick_lower: int, tick_upper: int, amount: int) -> tuple[int, int]:
        """``mint``: add ``amount`` of liquidity to ``owner``'s position over ``[tick_lower, tick_upper)``.

        Parameters
        ----------
        owner : hashable
            The position's owner (the contract's ``recipient``).
        tick_lower, tick_upper : int
            The range; multiples of the tick spacing.
        amount : int
            uint128 liquidity to add, > 0.

        Returns
        -------
        (amount0, amount1) : tuple of int
            Tokens owed to the pool, rounded up.

        Raises
        ------
        Revert
            ``"LOK"`` before ``initialize``; ``""`` for a zero amount or an unspaced tick; ``"TLU"``, ``"TLM"``,
            ``"TUM"`` for a bad range; ``"LO"`` past the per-tick liquidity cap; ``"LA"`` on uint128 overflow.

        References
        ----------
        Uniswap/v3-core ``contracts/UniswapV3Pool.sol`` (commit d8b1c63), ``mint`` and ``_modifyPosition``.
        Amounts owed are rounded up, in the pool's favour.
        """
        tick_lower, tick_upper, amount = self._check_range("Pool.mint", tick_lower, tick_upper, amount)
        self._lock()
        if amount == 0:
            raise _revert("", "mint: amount is zero")
        _, amount0, amount1 = self._modify_position(owner, tick_lower, tick_upper, _to_int128(amount))
        self.balance0 += amount0
        self.balance1 += amount1
        return amount0, amount1

    def burn(self, owner: Hashable, tick_lower: int, tick_upper: int, amount: int) -> tuple[int, int]:
        """``burn``: remove liquidity from ``owner``'s position; the tokens become owed, not transferred.

        Parameters
        ----------
        owner : hashable
            The position's owner (the contract's ``msg.sender``).
        tick_lower, tick_upper : int
            The range.
        amount : int
            uint128 liquidity to remove; 0 pokes the position to update its fees.

        Returns
        -------
        (amount0, amount1) : tuple of int
            Tokens credited to ``tokens_owed``, rounded down.

        Raises
        ------
        Revert
            ``"LOK"``, ``"TLU"``, ``"TLM"``, ``"TUM"``; ``"NP"`` for poking an empty position; ``"LS"`` when
            removing more than the position holds.

        References
        ----------
        Uniswap/v3-core ``contracts/UniswapV3Pool.sol`` (commit d8b1c63), ``burn`` and ``_modifyPosition``.
        Amounts credited are rounded down, in the pool's favour.
        """
        tick_lower, tick_upper, amount = self._check_range("Pool.burn", tick_lower, tick_upper, amount)
        self._lock()
        position, amount0_int, amount1_int = self._modify_position(
            owner, tick_lower, tick_upper, -_to_int128(amount)
        )
        amount0, amount1 = -amount0_int, -amount1_int
        if amount0 > 0 or amount1 > 0:
            position.tokens_owed0 = (position.tokens_owed0 + amount0) % _U128
            position.tokens_owed1 = (position.tokens_owed1 + amount1) % _U128
        return amount0, amount1

    def collect(
        self,
        owner: Hashable,
        tick_lower: int,
        tick_upper: int,
        amount0_requested: int,
        amount1_requested: int,
    ) -> tuple[int, int]:
        """``collect``: pay out up to the requested amounts of the position's tokens owed.

        Returns
        -------
        (amount0, amount1) : tuple of int
            Amounts paid out (removed from the pool's balances).

        References
        ----------
        Uniswap/v3-core ``contracts/UniswapV3Pool.sol`` (commit d8b1c63), ``collect``. Exact: pays
        ``min(requested, owed)``.
        """
        func = "Pool.collect"
        tick_lower = _sint(tick_lower, "tick_lower", func, 24)
        tick_upper = _sint(tick_upper, "tick_upper", func, 24)
        amount0_requested = _uint(amount0_requested, "amount0_requested", func, 128)
        amount1_requested = _uint(amount1_requested, "amount1_requested", func, 128)
        self._lock()
        position = self.positions[(owner, tick_lower, tick_upper)]
        amount0 = min(amount0_requested, position.tokens_owed0)
        amount1 = min(amount1_requested, position.tokens_owed1)
        if amount0 or amount1:
            position.tokens_owed0 -= amount0
            position.tokens_owed1 -= amount1
            self.balance0 -= amount0
            self.balance1 -= amount1
        return amount0, amount1

    def collect_protocol(self, amount0_requested: int, amount1_requested: int) -> tuple[int, int]:
        """``collectProtocol``: pay out accrued protocol fees, leaving 1 unit in a slot emptied completely.

        Returns
        -------
        (amount0, amount1) : tuple of int
            Amounts paid out (removed from the pool's balances).

        References
        ----------
        Uniswap/v3-core ``contracts/UniswapV3Pool.sol`` (commit d8b1c63), ``collectProtocol``. Exact, less the
        unit the contract keeps.
        """
        func = "Pool.collect_protocol"
        amount0 = min(_uint(amount0_requested, "amount0_requested", func, 128), self.protocol_fees0)
        amount1 = min(_uint(amount1_requested, "amount1_requested", func, 128), self.protocol_fees1)
        self._lock()
        # The contract keeps the storage slot non-zero (a gas saving), so a full withdrawal leaves 1 behind.
        if amount0 > 0:
            if amount0 == self.protocol_fees0:
                amount0 -= 1
            self.protocol_fees0 -= amount0
            self.balance0 -= amount0
        if amount1 > 0:
            if amount1 == self.protocol_fees1:
                amount1 -= 1
            self.protocol_fees1 -= amount1
            self.balance1 -= amount1
        return amount0, amount1

    # swap ------------------------------------------------------------------------------------------------------

    def swap(
        self,
        zero_for_one: bool,
        amount_specified: int,
        sqrt_price_limit_x96: int,
        steps: list[SwapStep] | None = None,
    ) -> tuple[int, int]:
        """``swap``: trade across as many initialised ticks as needed.

        Parameters
        ----------
        zero_for_one : bool
            Sell token0 for token1 (price falls) or the reverse.
        amount_specified : int
            int256: exact input if positive, exact output if negative.
        sqrt_price_limit_x96 : int
            uint160 price the swap may not pass (below the current price for ``zero_for_one``, above otherwise).
        steps : list of SwapStep, optional
            If given, one :class:`SwapStep` per loop iteration is appended, for inspection.

        Returns
        -------
        (amount0, amount1) : tuple of int
            Pool balance deltas (positive: paid in by the trader). The input side includes the fee and is the
            sum of the steps' rounded-up inputs; the output side is the sum of rounded-down outputs.

        Raises
        ------
        Revert
            ``"AS"`` for a zero amount, ``"LOK"`` before ``initialize``, ``"SPL"`` for a limit on the wrong side
            of the price or beyond ``MIN/MAX_SQRT_RATIO``; ``"LS"``/``"LA"`` or ``""`` from the arithmetic.

        Notes
        -----
        Each step goes to the nearer of the next initialised tick (found word by word in the bitmap, so a step
        may also end at an uninitialised word boundary), the price limit, or the point where the amount runs
        out. Fees accrue to ``fee_growth_global`` per unit of in-range liquidity (less the protocol's
        ``1/fee_protocol`` share); crossing an initialised tick flips its ``fee_growth_outside`` and applies its
        ``liquidity_net``.

        References
        ----------
        Uniswap/v3-core ``contracts/UniswapV3Pool.sol`` (commit d8b1c63), ``swap``, with
        ``SwapMath.computeSwapStep`` per step: inputs rounded up, outputs rounded down.
        """
        func = "Pool.swap"
        zero_for_one = _bool(zero_for_one, "zero_for_one", func)
        amount_specified = _sint(amount_specified, "amount_specified", func, 256)
        limit = _uint(sqrt_price_limit_x96, "sqrt_price_limit_x96", func, 160)
        if amount_specified == 0:
            raise _revert("AS")
        self._lock()
        if zero_for_one:
            valid_limit = MIN_SQRT_RATIO < limit < self.sqrt_price_x96
        else:
            valid_limit = self.sqrt_price_x96 < limit < MAX_SQRT_RATIO
        if not valid_limit:
            raise _revert("SPL")

        fee_protocol = self.fee_protocol % 16 if zero_for_one else self.fee_protocol >> 4
        exact_input = amount_specified > 0
        remaining = amount_specified
        calculated = 0
        sqrt_price = self.sqrt_price_x96
        tick = self.tick
        fee_growth = self.fee_growth_global0_x128 if zero_for_one else self.fee_growth_global1_x128
        protocol_fee = 0
        liquidity = self.liquidity
        crossed: list[tuple[int, int, int]] = []  # to undo Tick.cross if the swap reverts midway
        try:
            while remaining != 0 and sqrt_price != limit:
                start = sqrt_price
                tick_next, initialized = self.tick_bitmap._next(tick, zero_for_one)
                # The bitmap knows nothing of the tick bounds.
                tick_next = min(max(tick_next, MIN_TICK), MAX_TICK)
                sqrt_next = _get_sqrt_ratio_at_tick(tick_next)
                beyond_limit = sqrt_next < limit if zero_for_one else sqrt_next > limit
                sqrt_price, amount_in, amount_out, fee_amount = _compute_swap_step(
                    sqrt_price, limit if beyond_limit else sqrt_next, liquidity, remaining, self.fee
                )
                if exact_input:
                    remaining = _wrap_int256(remaining - _to_int256((amount_in + fee_amount) % _U256))
                    calculated = _checked_int256(calculated - _to_int256(amount_out))
                else:
                    remaining = _wrap_int256(remaining + _to_int256(amount_out))
                    calculated = _checked_int256(calculated + _to_int256((amount_in + fee_amount) % _U256))
                delta = 0
                if fee_protocol > 0:
                    delta = fee_amount // fee_protocol
                    protocol_fee = (protocol_fee + delta) % _U128
                if steps is not None:
                    steps.append(
                        SwapStep(
                            start,
                            tick_next,
                            initialized,
                            sqrt_next,
                            sqrt_price,
                            liquidity,
                            amount_in,
                            amount_out,
                            fee_amount,
                            delta,
                        )
                    )
                if liquidity > 0:
                    fee_growth = (fee_growth + _mul_div(fee_amount - delta, Q128, liquidity)) % _U256
                if sqrt_price == sqrt_next:
                    if initialized:
                        info = self.ticks[tick_next]
                        crossed.append(
                            (tick_next, info.fee_growth_outside0_x128, info.fee_growth_outside1_x128)
                        )
                        global0 = fee_growth if zero_for_one else self.fee_growth_global0_x128
                        global1 = self.fee_growth_global1_x128 if zero_for_one else fee_growth
                        info.fee_growth_outside0_x128 = (global0 - info.fee_growth_outside0_x128) % _U256
                        info.fee_growth_outside1_x128 = (global1 - info.fee_growth_outside1_x128) % _U256
                        # Moving left, liquidity_net (added when crossing left to right) is subtracted.
                        net = -info.liquidity_net if zero_for_one else info.liquidity_net
                        liquidity = _add_delta(liquidity, net)
                    tick = tick_next - 1 if zero_for_one else tick_next
                elif sqrt_price != start:
                    # Not on a boundary we just crossed: recompute the tick from the price.
                    tick = _get_tick_at_sqrt_ratio(sqrt_price)
        except Revert:
            for t, outside0, outside1 in reversed(crossed):
                self.ticks[t].fee_growth_outside0_x128 = outside0
                self.ticks[t].fee_growth_outside1_x128 = outside1
            raise

        self.sqrt_price_x96 = sqrt_price
        self.tick = tick
        self.liquidity = liquidity
        if zero_for_one:
            self.fee_growth_global0_x128 = fee_growth
            self.protocol_fees0 = (self.protocol_fees0 + protocol_fee) % _U128
        else:
            self.fee_growth_global1_x128 = fee_growth
            self.protocol_fees1 = (self.protocol_fees1 + protocol_fee) % _U128
        specified_done = _wrap_int256(amount_specified - remaining)
        if zero_for_one == exact_input:
            amount0, amount1 = specified_done, calculated
        else:
            amount0, amount1 = calculated, specified_done
        self.balance0 += amount0
        self.balance1 += amount1
        return amount0, amount1


def _checked_int256(x: int) -> int:
    # LowGasSafeMath's signed add/sub revert on int256 overflow.
    if not _I256_MIN <= x <= _I256_MAX:
        raise _revert("", "LowGasSafeMath: int256 overflow")
    return x


def _copy_tick(info: TickInfo | None) -> TickInfo | None:
    return None if info is None else TickInfo(**vars(info))


def _copy_position(info: PositionInfo | None) -> PositionInfo | None:
    return None if info is None else PositionInfo(**vars(info))
