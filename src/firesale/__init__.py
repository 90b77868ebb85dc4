"""firesale: stress-test interconnected DeFi protocols for systemic failure.

>>> import firesale
>>> result = firesale.simulate("toy-spiral", n_paths=4, seed=0)
>>> result.summary()["n_paths"]
4.0
"""

import importlib
import logging
import os
from typing import Any

# Numba's OpenMP threads sleep between parallel regions instead of spinning: a step runs dozens of small regions,
# and on a machine where another process holds a core, a spinning worker that is descheduled makes every region
# wait for it (measured 7x slower with two threads than one; passive is as fast as one thread under load). Set
# before Numba loads its threading layer; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from firesale._version import __version__
from firesale.exceptions import FiresaleError, ParameterError, ScenarioError, SimulationError, StoreError

logging.getLogger("firesale").addHandler(logging.NullHandler())

__all__ = [
    "FiresaleError",
    "ParameterError",
    "Scenario",
    "ScenarioError",
    "SimulationError",
    "SimulationResult",
    "StoreError",
    "__version__",
    "load_scenario",
    "simulate",
]

# Heavy parts (numba kernels, pydantic models) load on first use, so `import firesale` and the CLI start fast.
_LAZY = {
    "simulate": "firesale.engine",
    "SimulationResult": "firesale.results",
    "Scenario": "firesale.scenario",
    "load_scenario": "firesale.scenario",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'firesale' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
