"""Scenario files: the TOML format (validated with pydantic at the boundary) and its loader.

Names load on first use, so protocol and venue modules can define their own specs (on ``firesale.scenario._types``)
and be part of the schema without an import cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firesale.scenario._loader import (
        Positions,
        Scenario,
        builtin_policies,
        builtin_scenarios,
        builtin_text,
        load_scenario,
        parse_scenario,
        with_policies,
    )
    from firesale.scenario.schema import ScenarioSpec

__all__ = [
    "Positions",
    "Scenario",
    "ScenarioSpec",
    "builtin_policies",
    "builtin_scenarios",
    "builtin_text",
    "load_scenario",
    "parse_scenario",
    "with_policies",
]

_LAZY = {name: "firesale.scenario._loader" for name in __all__ if name != "ScenarioSpec"} | {
    "ScenarioSpec": "firesale.scenario.schema"
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'firesale.scenario' has no attribute {name!r}")
