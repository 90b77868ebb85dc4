"""A small TOML writer for one table of scalars and inline tables (the standard library only reads TOML)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from firesale.market._validation import fail

__all__ = ["render_table"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(value: str) -> str:
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise fail(
                "spec", "to_toml", f"finite numbers only (TOML scenario files reject them) at {where}", value
            )
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = ", ".join(f"{_key(str(k))} = {_value(v, f'{where}.{k}')}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v, where) for v in value) + "]"
    raise fail(
        "spec", "to_toml", f"made of TOML-representable values at {where}", f"<a {type(value).__name__}>"
    )


def render_table(name: str, values: Mapping[str, Any], comment: str | None = None) -> str:
    """Render ``[name]`` followed by one ``key = value`` line per entry (``None`` entries are skipped)."""
    lines = [f"# {line}" for line in (comment.splitlines() if comment else [])]
    lines.append(f"[{name}]")
    lines += [f"{_key(k)} = {_value(v, k)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"
