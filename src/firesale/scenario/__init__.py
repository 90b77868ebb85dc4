"""Scenario files: the TOML format (validated with pydantic at the boundary) and its loader."""

from firesale.scenario._loader import (
    Positions,
    Scenario,
    builtin_scenarios,
    builtin_text,
    load_scenario,
    parse_scenario,
)
from firesale.scenario.schema import ScenarioSpec

__all__ = [
    "Positions",
    "Scenario",
    "ScenarioSpec",
    "builtin_scenarios",
    "builtin_text",
    "load_scenario",
    "parse_scenario",
]
