"""Network view of systemic risk: the exposure graph of a scenario, Eisenberg-Noe clearing and DebtRank.

The engine routes price contagion (fire sales, oracles, derived-asset prices); this package measures the
balance-sheet channel on top of it: what protocols owe each other through tokens they issued and others hold,
who defaults when a path's bad debt hits, and how much distress the network adds to the shock.

>>> from firesale.contagion import eisenberg_noe
>>> eisenberg_noe([[0.0, 10.0], [2.0, 0.0]], [4.0, 1.0]).payments.tolist()
[6.0, 2.0]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firesale.contagion._debtrank import DebtRankResult, debtrank, impact_matrix
    from firesale.contagion._eisenberg_noe import ClearingResult, eisenberg_noe
    from firesale.contagion._graph import exposure_graph, node_id, protocol_liability_matrix
    from firesale.contagion._paths import clearing_on_paths, debtrank_on_paths, path_losses
    from firesale.contagion.attribution import Attribution, attribute

__all__ = [
    "Attribution",
    "ClearingResult",
    "DebtRankResult",
    "attribute",
    "clearing_on_paths",
    "debtrank",
    "debtrank_on_paths",
    "eisenberg_noe",
    "exposure_graph",
    "impact_matrix",
    "node_id",
    "path_losses",
    "protocol_liability_matrix",
]

# Names load on first use, so the command line can register `firesale contagion` without importing the engine.
_LAZY = {
    "DebtRankResult": "firesale.contagion._debtrank",
    "debtrank": "firesale.contagion._debtrank",
    "impact_matrix": "firesale.contagion._debtrank",
    "ClearingResult": "firesale.contagion._eisenberg_noe",
    "eisenberg_noe": "firesale.contagion._eisenberg_noe",
    "exposure_graph": "firesale.contagion._graph",
    "node_id": "firesale.contagion._graph",
    "protocol_liability_matrix": "firesale.contagion._graph",
    "clearing_on_paths": "firesale.contagion._paths",
    "debtrank_on_paths": "firesale.contagion._paths",
    "path_losses": "firesale.contagion._paths",
    "Attribution": "firesale.contagion.attribution",
    "attribute": "firesale.contagion.attribution",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'firesale.contagion' has no attribute {name!r}")
