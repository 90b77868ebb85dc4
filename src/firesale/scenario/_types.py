"""Field types and the base model every scenario spec uses, in one place so protocol modules can define their own
specs (registered by ``type``) without importing the whole schema.

Specs validate in pydantic's strict mode: a TOML ``true`` is not the integer 1 and a string ``"0.83"`` is not a
number, so a wrong type is an error instead of a silent conversion. Two conversions stay, because TOML cannot say
otherwise: an integer is accepted where a float is expected (strict mode allows it), an array where a tuple is
expected, and a table key made of digits where an integer key is expected (TOML keys are always strings).
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["Finite", "Fraction", "Name", "NonNegative", "Positive", "SpecModel", "refuse"]

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _from_toml(annotation: Any, value: Any) -> Any:
    """``value`` with TOML arrays turned into tuples and digit keys into ints where ``annotation`` wants them.

    Nothing else changes: every other mismatch is left for the strict validator to report.
    """
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            converted = _from_toml(arg, value)
            if converted is not value:
                return converted
        return value
    if origin is tuple and isinstance(value, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_toml(args[0], v) for v in value)
        if len(args) == len(value):
            return tuple(_from_toml(a, v) for a, v in zip(args, value, strict=True))
        return tuple(value)  # the wrong length is reported by the validator
    if origin is list and isinstance(value, list) and args:
        converted = [_from_toml(args[0], v) for v in value]
        return value if all(c is v for c, v in zip(converted, value, strict=True)) else converted
    if origin is dict and isinstance(value, dict) and args and _strip(args[0]) is int:
        return {
            int(k) if isinstance(k, str) and k.isascii() and k.isdigit() else k: _from_toml(args[1], v)
            for k, v in value.items()
        }
    return value


def refuse(keys: dict[str, Any], rule: str) -> None:
    """Reject keys written in a file that cannot act, one error line per key.

    Parameters
    ----------
    keys : dict of str to object
        Key path below the validated model (``"window"``, ``"reserves.WETH.seize_share"``) mapped to its value.
        Nothing is raised when it is empty.
    rule : str
        Why the key is refused, and what to write instead; shown as ``FILE: model.key: RULE, got VALUE``.
    """
    if keys:
        raise PydanticCustomError(
            "refused_key", "{rule}", {"keys": list(keys), "values": list(keys.values()), "rule": rule}
        )


class SpecModel(BaseModel):
    """Immutable, closed (unknown keys are errors), strictly typed base of every scenario spec."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _toml_shapes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            if name in out:
                out[name] = _from_toml(field.annotation, out[name])
        return out

    def given(self, *keys: str) -> list[str]:
        """Those of ``keys`` written in the file (or passed explicitly), not taken from their defaults."""
        return [k for k in keys if k in self.model_fields_set]
