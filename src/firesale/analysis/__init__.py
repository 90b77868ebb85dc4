"""Analysis of scenarios and results: exposure of the starting book, metrics across runs.

Names load on first use, so the command line can register the analysis commands without importing the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firesale.analysis.exposure import health_factors, liquidation_curve

__all__ = ["health_factors", "liquidation_curve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("firesale.analysis.exposure"), name)
    raise AttributeError(f"module 'firesale.analysis' has no attribute {name!r}")
