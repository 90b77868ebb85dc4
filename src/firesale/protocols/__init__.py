"""Protocols as they liquidate: pooled lending (Aave v3, Compound v2 rules), vectorized over paths."""

from firesale.protocols.lending import LendingParams, health_factor

__all__ = ["LendingParams", "health_factor"]
