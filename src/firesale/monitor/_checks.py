"""Argument checks of the monitor, in the package's one message template.

``"The '<name>' parameter of <owner> must be <rule>. Got <value> instead."``
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from firesale.exceptions import ParameterError

__all__ = ["check_columns", "check_float", "check_int", "fail"]


def fail(name: str, owner: str, rule: str, value: Any) -> ParameterError:
    """Build (not raise) the error for parameter ``name`` of ``owner`` breaking ``rule``."""
    shown = (
        value[1:-1]
        if isinstance(value, str) and value.startswith("<") and value.endswith(">")
        else repr(value)
    )
    return ParameterError(f"The '{name}' parameter of {owner} must be {rule}. Got {shown} instead.")


def _interval(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
    lo_s = "-inf" if lo == -math.inf else f"{lo:g}"
    hi_s = "inf" if hi == math.inf else f"{hi:g}"
    return f"{left}{lo_s}, {hi_s}{right}"


def check_float(
    value: Any,
    name: str,
    owner: str,
    lo: float = -math.inf,
    hi: float = math.inf,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """``value`` as a float inside the interval, or the template error."""
    rule = f"a float in the range {_interval(lo, hi, lo_open or lo == -math.inf, hi_open or hi == math.inf)}"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise fail(name, owner, rule, value)
    x = float(value)
    ok = not math.isnan(x) and (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)
    if not ok:
        raise fail(name, owner, rule, value)
    return x


def check_int(value: Any, name: str, owner: str, lo: int = 1) -> int:
    """``value`` as an int of at least ``lo``, or the template error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise fail(name, owner, f"an int in the range [{lo}, inf)", value)
    return int(value)


def check_columns(frame: pd.DataFrame, required: Iterable[str], name: str, owner: str) -> None:
    """Every ``required`` column is in ``frame``, or the template error naming the missing ones."""
    if not isinstance(frame, pd.DataFrame):
        raise fail(name, owner, "a pandas DataFrame", f"<{type(frame).__name__}>")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise fail(
            name, owner, f"a frame with the columns {list(required)}",
            f"<a frame missing {missing} (columns: {list(frame.columns)})>",
        )  # fmt: skip
