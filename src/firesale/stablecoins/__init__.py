"""Stablecoin models from the literature, as functions of the papers' own inputs.

:mod:`firesale.stablecoins.deleveraging` is the deleveraging-spiral model of Klages-Mundt and Minca (2021):
a leveraged speculator issues a collateralised stablecoin against a volatile asset, and the stablecoin's supply,
price and liquidity respond to a collateral shock.
"""

from __future__ import annotations

from firesale.stablecoins.deleveraging import (
    DeleveragingPaths,
    StepResult,
    leverage_bound_interval,
    min_achievable_leverage,
    simulate_constant_demand,
    speculator_step,
    student_t_log_returns,
    unconstrained_issuance,
    var_leverage_bound,
)

__all__ = [
    "DeleveragingPaths",
    "StepResult",
    "leverage_bound_interval",
    "min_achievable_leverage",
    "simulate_constant_demand",
    "speculator_step",
    "student_t_log_returns",
    "unconstrained_issuance",
    "var_leverage_bound",
]
