"""Oracle feeds vectorized over paths: what a protocol believes an asset is worth, and when it learns it.

Types (one class, ``kind`` selects the rule):

- ``push`` (Chainlink OCR aggregators): a new answer is written when the source deviates from the last answer by more
  than ``deviation_bps`` or when ``heartbeat`` seconds have passed since the last one. Deviation updates can land
  within a step, between cascade rounds; heartbeats only at step starts.
- ``delayed`` (Maker OSM, ``OSM.poke``): every ``delay`` seconds (one hop) the current value becomes the value read
  one hop ago, and the source is read for the next hop. A protocol therefore acts on a price one to two hops old.
- ``twap``: the time-weighted mean of a pool's price over ``window`` seconds, sampled once per step.
- ``median``: the median of other feeds' answers (multi-source oracles).
- ``market``: the asset's market price at once (an idealised oracle, the baseline for oracle-delay studies).

``min_answer``/``max_answer`` clamp what is reported (Chainlink aggregators' minAnswer/maxAnswer; price caps such as
Aave's capped stablecoin adapters). Faults: ``stale`` (no update in the window) and ``wrong`` (the reported value is
multiplied by ``factor`` in the window: a feed error or a manipulation).

References
----------
smartcontractkit/libocr contract2/OffchainAggregator.sol (min/max answer); makerdao/osm src/osm.sol (poke, hop);
Chainlink data-feed docs (deviation threshold and heartbeat).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["OracleFeed"]


@dataclass
class OracleFeed:
    """One feed's rule and its per-path state (``answer``, ``last_update``, and per kind extras)."""

    name: str
    asset: str
    kind: str
    heartbeat: float = 3600.0
    deviation: float = 0.005
    delay: float = 3600.0
    window_steps: int = 1
    min_answer: float | None = None
    max_answer: float | None = None
    faults: list[tuple[str, float, float, float]] = field(default_factory=list)
    answer: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    last_update: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    next_value: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    samples: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)

    def start(self, source: np.ndarray) -> None:
        """Initialise every path at the source price at time 0."""
        self.answer = source.astype(float).copy()
        self.last_update = np.zeros_like(self.answer)
        self.next_value = self.answer.copy()
        self.samples = np.repeat(self.answer[:, None], self.window_steps, axis=1)

    def _stale(self, t: float) -> bool:
        return any(kind == "stale" and start <= t < end for kind, start, end, _ in self.faults)

    def poke(self, t: float, source: np.ndarray, step_start: bool) -> None:
        """Bring the feed to time ``t`` given the source price; ``step_start`` allows time-driven updates."""
        if self._stale(t):
            return
        if self.kind == "market":
            self.answer[:] = source
        elif self.kind == "push":
            moved = np.abs(source - self.answer) > self.deviation * self.answer
            due = moved | ((t - self.last_update) >= self.heartbeat) if step_start else moved
            self.answer[due] = source[due]
            self.last_update[due] = t
        elif self.kind == "delayed" and step_start:
            hop_due = t - self.last_update >= self.delay
            if hop_due.any():
                self.answer[hop_due] = self.next_value[hop_due]
                self.next_value[hop_due] = source[hop_due]
                self.last_update[hop_due] = np.floor(t / self.delay) * self.delay
        elif self.kind == "twap" and step_start:
            self.samples = np.roll(self.samples, -1, axis=1)
            self.samples[:, -1] = source
            self.answer[:] = self.samples.mean(axis=1)

    def reported(self, t: float) -> np.ndarray:
        """What the protocol reads at time ``t``: the answer with faults and clamps applied."""
        out = self.answer
        for kind, start, end, factor in self.faults:
            if kind == "wrong" and start <= t < end:
                out = out * factor
        if self.min_answer is not None or self.max_answer is not None:
            out = np.clip(out, self.min_answer, self.max_answer)
        return out

    def faulted(self, t: float) -> bool:
        """Whether an injected fault is active at ``t``."""
        return any(start <= t < end for _, start, end, _ in self.faults)
