"""Random streams keyed by (component, path block), so results never depend on batch size or worker count.

Paths are grouped in fixed blocks of :data:`BLOCK_SIZE`. The generator for a component (the market, a positions
generator, ...) on block ``b`` is derived from the run's seed entropy with ``SeedSequence(entropy,
spawn_key=(component, b))``. A run of ``k`` paths therefore reproduces the first ``k`` paths of a larger run, and
two batchings of the same run draw identical numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BLOCK_SIZE", "COMPONENTS", "BlockDraws", "block_generator"]

BLOCK_SIZE = 256

#: Stable ids of the components that draw random numbers (never renumber: it would change every stored result).
COMPONENTS = {"market": 0, "gas": 1}


def block_generator(seed: int, component: str, block: int) -> np.random.Generator:
    """The generator of ``component`` on path block ``block`` for a run seeded with ``seed``."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(COMPONENTS[component], block))
    return np.random.Generator(np.random.PCG64(ss))


class BlockDraws:
    """A generator-like for a protocol model's ``init_state(n_paths, rng=...)``, keyed by (seed, model, path block).

    A model draws its per-path random keys once, with ``rng.integers(low, high, size=n_paths, dtype=...)``. Served
    block by block from ``SeedSequence(seed, spawn_key=(1000, crc32(model name), block))``, those draws do not depend
    on how paths are batched, like every other stream of the engine.
    """

    def __init__(self, seed: int, model: str, blocks: range, n_paths: int) -> None:
        import zlib

        self.seed, self.key, self.blocks, self.n_paths = seed, zlib.crc32(model.encode()), blocks, n_paths

    def integers(self, low, high=None, size=None, dtype=np.int64):  # type: ignore[no-untyped-def]
        if size != self.n_paths:
            raise ValueError(f"BlockDraws serves one draw per path (size={self.n_paths}); got size={size!r}")
        parts = []
        for b in self.blocks:
            ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(1000, self.key, b))
            parts.append(
                np.random.Generator(np.random.PCG64(ss)).integers(low, high, size=BLOCK_SIZE, dtype=dtype)
            )
        return np.concatenate(parts)[: self.n_paths]
