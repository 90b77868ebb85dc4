"""The engine: world state as arrays, the step order, the in-step cascade, seeding."""

from firesale.engine.simulate import estimate_memory, simulate

__all__ = ["estimate_memory", "simulate"]
