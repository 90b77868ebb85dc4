"""Turn pydantic validation errors into one line per problem: ``FILE: key.path: rule, got VALUE``."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["format_validation_error", "key_path"]


def key_path(loc: Iterable[Any], data: Any) -> str:
    """Render a pydantic location as a dotted key path, naming list items by their ``name`` where they have one."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            name = (
                node[item].get("name")
                if isinstance(node, list) and item < len(node) and isinstance(node[item], dict)
                else None
            )
            if name is not None and isinstance(name, str):
                parts.append(name)
            elif parts:
                parts[-1] = f"{parts[-1]}[{item}]"
            else:
                parts.append(f"[{item}]")
            node = node[item] if isinstance(node, list) and item < len(node) else None
            continue
        if isinstance(item, str) and isinstance(node, dict) and item not in node and node.get("type") == item:
            continue  # pydantic's discriminator tag (the item's `type`), not a key of the file
        if (
            isinstance(item, str) and "[" in item
        ):  # pydantic's function-validator names, e.g. 'function-after[...]'
            continue
        parts.append(str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _show(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _all_field_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for sub in _models_in(field.annotation):
            names |= _all_field_names(sub, seen)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _models_in(arg)
    meta = getattr(annotation, "__metadata__", None)
    if meta is not None:
        found += _models_in(getattr(annotation, "__origin__", None))
    return found


def format_validation_error(exc: ValidationError, data: Any, source: str, root: type[BaseModel]) -> list[str]:
    """One ``SOURCE: key.path: rule, got VALUE`` line per pydantic error."""
    known = sorted(_all_field_names(root))
    lines = []
    for err in exc.errors(include_url=False):
        path = key_path(err["loc"], data)
        kind = err["type"]
        value = err.get("input")
        if kind == "extra_forbidden":
            key = str(err["loc"][-1])
            hint = difflib.get_close_matches(key, [k for k in known if k != key], n=1, cutoff=0.6)
            if key in known:  # a real key, of another section or another type of this one
                rule = "unknown key here (it belongs to another section or type)"
            else:
                rule = "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else "")
            lines.append(f"{source}: {path}: {rule}, got {_show(value)}")
        elif kind == "refused_key":  # keys that cannot act (see _types.refuse): one line each, at the key
            ctx = err.get("ctx") or {}
            for key, val in zip(ctx.get("keys", ()), ctx.get("values", ()), strict=False):
                where = key if path == "(top level)" else f"{path}.{key}"
                lines.append(f"{source}: {where}: {ctx.get('rule', err['msg'])}, got {_show(val)}")
        elif kind == "missing":
            lines.append(f"{source}: {path}: required key is missing")
        elif kind == "finite_number":
            lines.append(f"{source}: {path}: must be a finite number, got {_show(value)}")
        else:
            msg = err["msg"]
            msg = msg.removeprefix("Value error, ")
            msg = msg[0].lower() + msg[1:] if msg else msg
            # A validator that names the offending value itself ("..., got 1.04") is not given the whole table too.
            shown = "" if ", got " in msg else f", got {_show(value)}"
            lines.append(f"{source}: {path}: {msg}{shown}")
    return lines
