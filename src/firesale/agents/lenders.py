"""Lenders who run: supply withdrawn as utilisation nears 100 % and losses appear (``[agents.lenders]``).

The rule is the threshold equilibrium of a global game of bank runs (Morris and Shin, "Unique Equilibrium in a
Model of Self-Fulfilling Currency Attacks", AER 88(3), 1998; Goldstein and Pauzner, "Demand-Deposit Contracts and
the Probability of Bank Runs", J. Finance 60(3), 2005): each lender sees the fundamental plus private noise and
withdraws when its signal is below a cutoff. With a continuum of lenders whose signals are the fundamental
:math:`\\theta` plus independent :math:`N(0, \\sigma^2)` noise, the share whose signal is below the cutoff
:math:`\\theta^*` is

.. math:: w = \\Phi\\big((\\theta^* - \\theta) / \\sigma\\big).

The fundamental of a reserve is the share of a lender's claim that could be paid out now and is not lost:

.. math:: \\theta = \\frac{S - B}{S} - \\frac{U}{S\\,p}

with :math:`S` the reserve's supply, :math:`B` its borrows (utilisation :math:`B/S`), :math:`U` the bad debt owed in
the asset that no reserve covers and :math:`p` its price (the receipt token's discount). It falls as utilisation
nears 100 % and as losses appear, and it falls further as others withdraw (:math:`S` shrinks and :math:`B` does
not): the strategic complementarity that makes a run self-fulfilling. ``w`` is the share of the reserve's *passive*
supply (``total_supply`` less the collateral the book posts in it) that has asked to withdraw; lenders who asked do
not come back (ASSUMPTION). Requests are served up to the available liquidity :math:`S - B` (Aave v3: the aToken
contract's underlying balance); what cannot be served waits in a queue and is the run's stress:
``withdrawals_unserved_usd``. The theory derives :math:`\\theta^*` from payoffs the simulation does not have, so
``cutoff`` (default 0.05: lenders run when less than 5 % of supply is liquid, net of losses) and ``noise`` (0.02)
are ASSUMPTION.

The mechanics are the protocol's, through :meth:`firesale.protocols.base.ProtocolModel.lenders_withdraw`.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from firesale.scenario._types import Finite, Name, Positive, SpecModel

__all__ = ["LenderRule", "Lenders", "LendersSpec"]


class LendersSpec(SpecModel):
    """``[agents.lenders]``: suppliers who withdraw on a global-games cutoff rule (off by default)."""

    protocols: list[Name] | None = Field(
        default=None,
        min_length=1,
        description="Protocols whose lenders may run (default: every lending market with a reserve that has a "
        "total_supply).",
    )
    cutoff: Finite = Field(
        default=0.05,
        description="theta*: lenders whose signal of (liquid share of supply - loss share) is below it withdraw "
        "(ASSUMPTION).",
    )
    noise: Positive = Field(default=0.02, description="sigma: dispersion of the lenders' private signals.")


class LenderRule:
    """One protocol's lenders: the share that has asked to withdraw at fundamental ``theta``."""

    def __init__(self, spec: LendersSpec) -> None:
        self.cutoff, self.noise = spec.cutoff, spec.noise

    def share_running(self, theta: np.ndarray) -> np.ndarray:
        """:math:`\\Phi((\\theta^* - \\theta)/\\sigma)`, elementwise."""
        from scipy.special import ndtr  # loaded only when lenders are on: scipy is slow to import

        return ndtr((self.cutoff - theta) / self.noise)


class Lenders:
    """The lenders of every protocol they act on, for one batch of paths."""

    def __init__(self, rules: list[tuple[int, LenderRule]]) -> None:
        self.rules = rules

    @classmethod
    def build(cls, bp) -> Lenders | None:  # type: ignore[no-untyped-def]
        """None without ``[agents.lenders]``."""
        spec = bp.scenario.spec.agents.lenders
        if spec is None:
            return None
        rules = [
            (pi, LenderRule(spec))
            for pi, plan in enumerate(bp.plans)
            if (spec.protocols is None and "lenders" in type(plan.model).behaviours())
            or (spec.protocols is not None and plan.model.name in spec.protocols)
        ]
        return cls(rules)

    def act(self, world, time: float, market: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        """Lenders judge each reserve at market prices and withdraw what the pool can pay."""
        for pi, rule in self.rules:
            plan = world.bp.plans[pi]
            plan.model.lenders_withdraw(world.states[pi], np.ascontiguousarray(market[:, plan.assets]), rule)


def check_lenders(scenario) -> list[str]:  # type: ignore[no-untyped-def]
    """``[agents.lenders]`` against the scenario, and ``total_supply`` where nothing reads it: one
    ``FILE: key.path: rule, got VALUE`` line per problem."""
    from firesale.protocols import protocol_type
    from firesale.scenario.schema import LendingSpec

    source, spec = scenario.source, scenario.spec
    ag = spec.agents
    lend = ag.lenders
    out = []
    offers = {p.name: "lenders" in protocol_type(p.type).behaviours() for p in spec.protocols}
    if lend is not None and lend.protocols is not None:
        for k, name in enumerate(lend.protocols):
            if name not in offers:
                out.append(f"{source}: agents.lenders.protocols[{k}]: must name a protocol of the scenario "
                           f"({', '.join(offers)}), got {name!r}")  # fmt: skip
            elif not offers[name]:
                out.append(f"{source}: agents.lenders.protocols[{k}]: protocol {name} has no lenders who "
                           f"withdraw (only lending markets do), got {name!r}")  # fmt: skip

    def runs_on(name: str) -> bool:
        return (
            lend is not None
            and offers.get(name, False)
            and (lend.protocols is None or name in lend.protocols)
        )

    def supplied(p) -> bool:  # type: ignore[no-untyped-def]
        return isinstance(p, LendingSpec) and any(r.total_supply is not None for r in p.reserves.values())

    if lend is not None and lend.protocols is None and not any(supplied(p) for p in spec.protocols):
        out.append(f"{source}: agents.lenders: needs a lending reserve with total_supply (the supply lenders "
                   f"withdraw from), got none")  # fmt: skip
    from firesale.agents.borrowers import supply_read

    read = supply_read(scenario)  # total_supply the borrowing rule or a utilisation trigger reads
    for p in spec.protocols:
        reserves = p.reserves if isinstance(p, LendingSpec) else {}
        if lend is not None and lend.protocols is not None and runs_on(p.name) and not supplied(p):
            out.append(f"{source}: agents.lenders.protocols: protocol {p.name} needs a reserve with total_supply "
                       f"(the supply lenders withdraw from), got none")  # fmt: skip
        book = scenario.positions.get(p.name)
        for name, r in reserves.items():
            if r.total_supply is None:
                continue
            where = f"{source}: protocols.{p.name}.reserves.{name}.total_supply"
            unread = r.receipt_token is None and r.supply_cap is None and (p.name, name) not in read
            if unread and not runs_on(p.name):
                out.append(f"{where}: has no effect without receipt_token, [agents.lenders], supply_cap, borrowing "
                           f"([agents.borrowers] borrow_above_health_factor) or a utilisation trigger (nothing reads "
                           f"the supply); remove it, got {r.total_supply!r}")  # fmt: skip
            elif runs_on(p.name) and book is not None:
                posted = float(book.collateral[:, list(reserves).index(name)].sum())
                if r.total_supply < posted:
                    out.append(f"{where}: must be at least the collateral the book posts in {name} ({posted:.6g}; "
                               f"supply includes it), got {r.total_supply!r}")  # fmt: skip
    return out
