"""Searchers who compete for each liquidation in a priority-fee auction (``[agents.searchers]``, off by default).

Without this section one liquidator takes each profitable liquidation at the market gas price. With it,
``competitors`` searchers see the same opportunity and bid for the block position that wins it. Daian, Goldfeder,
Kell, Li, Zhao, Bentov, Breidenbach and Juels, "Flash Boys 2.0: Frontrunning, Transaction Reordering, and Consensus
Instability in Decentralized Exchanges" (IEEE S&P 2020, arXiv:1904.05234) observe these *priority gas auctions*
(PGAs) on Ethereum: bots raise their gas-price bids in turn, and the losers' transactions are mined too and pay for
the gas they burn before they revert, which makes the contest a variant of an all-pay auction.

The rule. A liquidation whose profit before gas is :math:`V` (the bonus at the venues' real quotes, less the debt
bought at market) is contested by :math:`n` = ``competitors`` searchers. Each pays for its own transaction: the
winner the whole ``gas_per_liquidation`` :math:`g`, each of the :math:`n - 1` losers the share
:math:`\\rho` = ``revert_gas_share`` of it that a reverted call burns. Searchers who each win with probability
:math:`1/n` take part only if the opportunity covers the gas they burn between them, so the liquidation happens
only when

.. math:: V - g\\,(1 + (n - 1)\\rho) \\ge \\text{min\\_profit},

which is the liquidators' profit test (:class:`firesale.protocols.base.LiquidatorCapacity`) with the gas cost of one
liquidation raised by the factor :math:`1 + (n - 1)\\rho`; the losers' transactions also take that much block space,
so ``max_liquidations_per_step`` shrinks by the same factor (rounded down). What is left,
:math:`S = V - g(1 + (n-1)\\rho) - \\text{min\\_profit}`, is bid away: in the symmetric first-price all-pay
auction with complete information the bids add up to the prize in expectation (Baye, Kovenock and de Vries, "The
all-pay auction with complete information", Economic Theory 8(2), 1996: full rent dissipation; the winner's
expected bid is :math:`nS/(2n-1)`, the losers' :math:`(n-1)S/(2n-1)` together). So the block producer takes
:math:`S` as priority fees, the searchers keep ``min_profit`` per liquidation, and the metrics report
``priority_fees_usd`` and ``liquidator_profit_usd`` net of them; ``gas_usd`` counts the contest's gas, the
winner's and the losers'.

``competitors`` and ``revert_gas_share`` are ASSUMPTION: the papers document the contests, not a count of bidders
per liquidation or the gas of a reverted call on every protocol; a study should sweep them
(``firesale sweep agents.searchers.competitors``). Not modelled: private order flow and bundle auctions
(Flashbots), where losing bids are not mined (revert protection, which makes :math:`\\rho = 0`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from firesale.scenario._types import Fraction, SpecModel, refuse

if TYPE_CHECKING:  # the schema reads this module's spec: no protocol (and no Numba) import at load time
    from firesale.protocols.base import LiquidatorCapacity

__all__ = ["SearchersSpec", "contest", "contest_factor", "priority_fees"]


class SearchersSpec(SpecModel):
    """``[agents.searchers]``: searchers who bid for each liquidation in a priority gas auction (off by default)."""

    competitors: int = Field(
        default=3,
        ge=2,
        le=1000,
        description="Searchers contesting each profitable liquidation (ASSUMPTION); 1 would be no contest: leave "
        "the section out.",
    )
    revert_gas_share: Fraction = Field(
        default=0.2,
        description="Share of gas_per_liquidation a losing transaction burns before it reverts (ASSUMPTION).",
    )

    @model_validator(mode="after")
    def _inert(self) -> SearchersSpec:
        if self.revert_gas_share == 0:
            refuse(dict.fromkeys(self.given("competitors"), self.competitors),
                   "has no effect with revert_gas_share = 0 (revert protection: losing bids burn no gas and take no "
                   "block space, and the bids take the whole surplus whatever their number); remove it")  # fmt: skip
        return self


def contest_factor(spec: SearchersSpec) -> float:
    """Gas and block space one contested liquidation takes, in liquidations: :math:`1 + (n - 1)\\rho`."""
    return 1.0 + (spec.competitors - 1) * spec.revert_gas_share


def contest(spec: SearchersSpec, capacity: LiquidatorCapacity) -> LiquidatorCapacity:
    """The liquidators' capacity of a step with every liquidation contested: gas per liquidation times the
    contest factor, block space divided by it (rounded down)."""
    k = contest_factor(spec)
    return replace(
        capacity,
        gas_usd=capacity.gas_usd * k,
        slots=np.floor(capacity.slots / k + 1e-9).astype(np.int64),
    )


def priority_fees(metrics: dict[str, np.ndarray], min_profit_usd: float) -> dict[str, np.ndarray]:
    """Priority fees the contests paid and the liquidators' profit net of them, per path, from the run's metrics
    (``liquidator_profit_usd`` before fees, ``n_liquidations``): the surplus above ``min_profit`` per liquidation,
    never negative."""
    profit = np.asarray(metrics["liquidator_profit_usd"], dtype=float)
    floor = min_profit_usd * np.asarray(metrics["n_liquidations"], dtype=float)
    fees = np.maximum(profit - floor, 0.0)
    return {"priority_fees_usd": fees, "liquidator_profit_usd": profit - fees}
