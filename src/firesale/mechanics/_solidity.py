"""Solidity 0.8 semantics shared by the contracts compiled with it (Aave v3, Compound v2 at a3214f6).

Checked arithmetic reverts with the compiler's panic codes (0x11 overflow/underflow, 0x12 division by zero), and
argument checks raise ParameterError in the project's wording.
"""

from __future__ import annotations

from typing import Final

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert

__all__ = [
    "PANIC_ARITHMETIC",
    "PANIC_DIVISION_BY_ZERO",
    "UINT256_MAX",
    "check_bool",
    "check_int",
    "check_uint256",
    "checked_add",
    "checked_div",
    "checked_mul",
    "checked_sub",
]

UINT256_MAX: Final = 2**256 - 1
PANIC_ARITHMETIC: Final = "Panic(0x11)"
PANIC_DIVISION_BY_ZERO: Final = "Panic(0x12)"


def check_int(value: object, name: str, where: str, low: int, high: int, high_text: str) -> int:
    """``value`` if it is an int (not a bool) in ``[low, high]``; ParameterError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ParameterError(
            f"The {name!r} parameter of {where} must be an int in [{low}, {high_text}]. Got {value!r} instead."
        )
    return value


def check_uint256(value: object, name: str, where: str) -> int:
    """``value`` if it is a uint256."""
    return check_int(value, name, where, 0, UINT256_MAX, "2**256 - 1")


def check_bool(value: object, name: str, where: str) -> bool:
    """``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise ParameterError(f"The {name!r} parameter of {where} must be a bool. Got {value!r} instead.")
    return value


def checked_add(a: int, b: int) -> int:
    """``a + b``, reverting on uint256 overflow."""
    c = a + b
    if c > UINT256_MAX:
        raise Revert(PANIC_ARITHMETIC)
    return c


def checked_sub(a: int, b: int) -> int:
    """``a - b``, reverting on underflow."""
    if b > a:
        raise Revert(PANIC_ARITHMETIC)
    return a - b


def checked_mul(a: int, b: int) -> int:
    """``a * b``, reverting on uint256 overflow."""
    c = a * b
    if c > UINT256_MAX:
        raise Revert(PANIC_ARITHMETIC)
    return c


def checked_div(a: int, b: int) -> int:
    """``a / b`` truncated, reverting on division by zero."""
    if b == 0:
        raise Revert(PANIC_DIVISION_BY_ZERO)
    return a // b
