"""Real market and protocol data shipped with firesale, and loaders for the user's own files.

Shipped datasets are listed by :func:`datasets` and referenced from scenario files as ``"firesale-data:NAME"``;
:func:`resolve` turns such a reference (or a path relative to the scenario file) into a file, and
:func:`load_prices` reads price series in the canonical wide shape (``timestamp`` then one column per series).
Every shipped file is credited in ``SOURCES.md`` next to this module and derived by ``_build.py``.

The ``aave-v3-today`` scenario's inputs: :func:`aave_v3_positions` (the top-1000 Aave v3 Ethereum borrowers of
2025-12-02 with inferred collateral), :func:`aave_v3_prices`, :func:`aave_v3_market_parameters` and
:func:`recompute_health_factors`.
"""

from firesale.data._aave_v3 import (
    aave_v3_positions,
    aave_v3_prices,
    load_aave_v3_snapshot,
    recompute_health_factors,
)
from firesale.data._aave_v3_params import aave_v3_market_parameters
from firesale.data._catalog import datasets
from firesale.data._prices import load_prices
from firesale.data._resolve import resolve
from firesale.data._venues import load_curve_pool, load_uniswap_v3_ticks, uniswap_v3_depth

__all__ = [
    "aave_v3_market_parameters",
    "aave_v3_positions",
    "aave_v3_prices",
    "datasets",
    "load_aave_v3_snapshot",
    "load_curve_pool",
    "load_prices",
    "load_uniswap_v3_ticks",
    "recompute_health_factors",
    "resolve",
    "uniswap_v3_depth",
]
