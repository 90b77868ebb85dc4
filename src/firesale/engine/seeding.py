"""Random streams keyed by (component, path block), so results never depend on batch size or worker count.

Paths are grouped in fixed blocks of :data:`BLOCK_SIZE`. The generator for a component (the market, a positions
generator, ...) on block ``b`` is derived from the run's seed entropy with ``SeedSequence(entropy,
spawn_key=(component, b))``. A run of ``k`` paths therefore reproduces the first ``k`` paths of a larger run, and
two batchings of the same run draw identical numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BLOCK_SIZE", "COMPONENTS", "block_generator"]

BLOCK_SIZE = 256

#: Stable ids of the components that draw random numbers (never renumber: it would change every stored result).
COMPONENTS = {"market": 0, "gas": 1}


def block_generator(seed: int, component: str, block: int) -> np.random.Generator:
    """The generator of ``component`` on path block ``block`` for a run seeded with ``seed``."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(COMPONENTS[component], block))
    return np.random.Generator(np.random.PCG64(ss))
