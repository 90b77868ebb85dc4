"""Argument checks shared by the run store's public methods, raising ParameterError in the package's template."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from firesale.exceptions import ParameterError
from firesale.store._files import to_table

__all__ = [
    "MAX_BIGINT",
    "as_float",
    "bad",
    "check_int",
    "check_parameters",
    "check_series",
    "check_str",
    "check_summary",
]

MAX_BIGINT = 2**63 - 1
_SERIES_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def bad(name: str, where: str, rule: str, got: str) -> ParameterError:
    return ParameterError(f"The {name!r} parameter of {where} must be {rule}. Got {got} instead.")


def check_str(value: object, name: str, where: str, *, non_empty: bool = True) -> str:
    if not isinstance(value, str) or (non_empty and not value):
        raise bad(name, where, "a non-empty str" if non_empty else "a str", repr(value))
    return value


def check_int(value: object, name: str, where: str, *, minimum: int, maximum: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        rule = f"an int >= {minimum}" if maximum is None else f"an int in [{minimum}, {maximum}]"
        raise bad(name, where, rule, repr(value))
    return int(value)


def as_float(value: object) -> float | None:
    """``value`` as a float if it is a real number that fits one (not a bool), else None."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _json_default(value: object) -> object:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def check_parameters(parameters: object, where: str) -> str:
    if not isinstance(parameters, dict) or not all(isinstance(key, str) for key in parameters):
        raise bad("parameters", where, "a dict with str keys", repr(parameters)[:200])
    try:
        return json.dumps(parameters, default=_json_default, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise bad(
            "parameters", where, "JSON serializable (finite numbers, str, bool, None, lists, dicts)", str(exc)
        ) from exc


def check_summary(summary: object, where: str) -> dict[str, float]:
    if not isinstance(summary, dict):
        raise bad("summary", where, "a dict of str to float", type(summary).__name__)
    checked: dict[str, float] = {}
    for key, value in summary.items():
        number = as_float(value)
        if not isinstance(key, str) or number is None or math.isinf(number):
            raise bad(
                "summary", where, "a flat dict of str to a finite float (or NaN)", f"{key!r}: {value!r}"
            )
        checked[key] = number
    return checked


def check_series(series: object, where: str) -> dict[str, Any]:
    if series is None:
        return {}
    if not isinstance(series, dict):
        raise bad("series", where, "a dict of name to DataFrame or None", type(series).__name__)
    tables = {}
    folded: set[str] = set()
    for name, frame in series.items():
        if not isinstance(name, str) or not _SERIES_NAME.fullmatch(name):
            raise bad(
                "series",
                where,
                "keyed by names of letters, digits, '_', '.', '-' (not starting with '.' or '-')",
                f"name {name!r}",
            )
        # Names become file names, and two names that differ only in case share a file on macOS and Windows.
        if name.casefold() in folded:
            raise bad("series", where, "keyed by names that differ other than in case", f"name {name!r}")
        folded.add(name.casefold())
        tables[name] = to_table(frame, name=f"series[{name!r}]", where=where)
    return tables
