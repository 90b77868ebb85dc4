"""Analysis of scenarios and results: exposure of the starting book, metrics across runs."""

from firesale.analysis.exposure import health_factors, liquidation_curve

__all__ = ["health_factors", "liquidation_curve"]
