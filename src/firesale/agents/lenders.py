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

Lenders who supply for the rate (off by default: ``supply_elasticity`` and ``outside_rate``). A reserve with an
interest-rate curve (``optimal_usage_ratio``, ``base_variable_borrow_rate``, ``variable_rate_slope1``,
``variable_rate_slope2`` and optionally ``reserve_factor`` on the reserve) pays its suppliers Aave's liquidity rate
(aave-dao/aave-v3-origin ``src/contracts/misc/DefaultReserveInterestRateStrategyV2.sol``; exact in
:mod:`firesale.mechanics.aave_rates`, in floats here, held to it by ``tests/unit/mechanics/test_aave_rates.py``):

.. math::

    r_b(U) = r_0 + \\begin{cases} s_1 U / U^* & U \\le U^* \\\\ s_1 + s_2 (U - U^*) / (1 - U^*) & U > U^*
    \\end{cases}, \\qquad r_s(U) = r_b(U)\\, U\\, (1 - RF),

with :math:`U = B / S` (the strategy's ``totalDebt / (availableLiquidity + totalDebt)``, available liquidity
:math:`S - B`; no unbacked aTokens). Outside money arrives while :math:`r_s` is above the ``outside_rate`` it could
earn elsewhere (a staking yield, a T-bill rate), at a rate proportional to the spread and to the supply:

.. math:: \\Delta S = \\varepsilon \\, \\max(r_s(U) - r_{out}, 0) \\, S \\, \\Delta t / \\text{year},

:math:`\\varepsilon` (``supply_elasticity``) being the semi-elasticity of supply to the rate spread: the share of the
supply that arrives per year for each unit (100 %) of spread. The supply is an Aave ``supply``: it stops at the
reserve's ``supply_cap`` (aave/aave-v3-core ``ValidationLogic.validateSupply``: ``supplyCap == 0 || totalSupply +
amount <= supplyCap``), what the cap stops is ``supply_refused_usd``. New supply lowers :math:`U` and with it the
rate, so the flow stops by itself; it is liquidity lenders who run can take (it joins the passive supply).
Gudgeon, Werner, Perez and Knottenbelt, "DeFi Protocols for Loanable Funds: Interest Rates, Liquidity and Market
Efficiency" (AFT 2020, pp. 92-112, arXiv:2006.13922) review these rate rules, whose purpose they state as "to
equilibrate the supply and demand for funds" (abstract); no published estimate of the semi-elasticity was
found, so the linear form, :math:`\\varepsilon` and ``outside_rate`` are ASSUMPTION (a study should sweep them), as
is that lenders do not leave when the rate is below the outside rate (only runs withdraw). ``run = false`` keeps
only this rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, model_validator

from firesale.scenario._types import Finite, Fraction, Name, Positive, SpecModel, refuse

__all__ = ["LenderRule", "Lenders", "LendersSpec", "RateCurve", "check_rate_curve"]

#: Aave's year (``MathUtils.SECONDS_PER_YEAR``, 365 days): rates are per year.
SECONDS_PER_YEAR = 365 * 24 * 3600
#: Rate keys of a reserve (firesale.scenario.schema.ReserveSpec), the four of the curve first.
RATE_KEYS = (
    "optimal_usage_ratio",
    "base_variable_borrow_rate",
    "variable_rate_slope1",
    "variable_rate_slope2",
)


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
    run: bool = Field(
        default=True, description="Lenders run on the cutoff rule; false keeps only supply for the rate."
    )
    supply_elasticity: Positive | None = Field(
        default=None,
        description="Supply for the rate (off by default): share of a reserve's supply that arrives per year per "
        "unit of spread between its supply rate and outside_rate (ASSUMPTION); needs outside_rate and reserves "
        "with a rate curve.",
    )
    outside_rate: Fraction | dict[Name, Fraction] | None = Field(
        default=None,
        description="The rate lenders earn elsewhere, per year (0.04 is 4 %): one for every reserve or a table by "
        "reserve; needs supply_elasticity.",
    )

    @model_validator(mode="after")
    def _supply(self) -> LendersSpec:
        if (self.supply_elasticity is None) != (self.outside_rate is None):
            given = "supply_elasticity" if self.outside_rate is None else "outside_rate"
            other = "outside_rate" if self.outside_rate is None else "supply_elasticity"
            refuse({given: getattr(self, given)}, f"needs {other} (supply for the rate needs both)")
        if self.supply_elasticity is None:
            refuse(dict.fromkeys(self.given("run"), self.run),
                   "lenders who do not run and do not supply (no supply_elasticity) do nothing; remove the section")  # fmt: skip
        return self

    def rate_out(self, reserve: str) -> float | None:
        """The outside rate of ``reserve`` (None: no supply for the rate there)."""
        if isinstance(self.outside_rate, dict):
            return self.outside_rate.get(reserve)
        return self.outside_rate


class RateCurve:
    """Aave v3's rate curves of a market's reserves, vectorized; NaN parameters where a reserve has none.

    Arrays of shape (n_reserves,) in the model's reserve order, fractions per year. The float form of
    :func:`firesale.mechanics.aave_rates.calculate_interest_rates` (variable debt only, no unbacked aTokens).
    """

    def __init__(self, optimal: np.ndarray, base: np.ndarray, slope1: np.ndarray, slope2: np.ndarray,
                 reserve_factor: np.ndarray) -> None:  # fmt: skip
        self.optimal, self.base, self.slope1, self.slope2 = optimal, base, slope1, slope2
        self.reserve_factor = reserve_factor
        self.known = np.isfinite(optimal)

    @classmethod
    def of(cls, reserves: list[Any]) -> RateCurve:
        """From the reserves' specs (``ReserveSpec``), in order."""
        nan = float("nan")

        def col(key: str, default: float = nan) -> np.ndarray:
            return np.array([getattr(r, key, None) if getattr(r, key, None) is not None else default
                             for r in reserves], dtype=float)  # fmt: skip

        known = np.array([getattr(r, "optimal_usage_ratio", None) is not None for r in reserves])
        return cls(col("optimal_usage_ratio"), col("base_variable_borrow_rate"), col("variable_rate_slope1"),
                   col("variable_rate_slope2"), np.where(known, col("reserve_factor", 0.0), nan))  # fmt: skip

    def borrow_rate(self, usage: np.ndarray) -> np.ndarray:
        """Variable borrow rate at ``usage`` (borrows / supply, (..., n_reserves), clipped to [0, 1])."""
        u = np.clip(usage, 0.0, 1.0)
        below = self.base + self.slope1 * u / self.optimal
        above = self.base + self.slope1 + self.slope2 * (u - self.optimal) / (1.0 - self.optimal)
        return np.where(u > self.optimal, above, below)

    def supply_rate(self, usage: np.ndarray) -> np.ndarray:
        """Liquidity (supply) rate at ``usage``: borrow rate x usage x (1 - reserve factor); 0 without debt."""
        u = np.clip(usage, 0.0, 1.0)
        return self.borrow_rate(u) * u * (1.0 - self.reserve_factor)


class LenderRule:
    """One protocol's lenders: the share that has asked to withdraw at fundamental ``theta``, and (supply for
    the rate on) the supply that arrives in a step (:meth:`supply_wanted`)."""

    def __init__(
        self, spec: LendersSpec, curve: RateCurve | None = None, rate_out: np.ndarray | None = None
    ) -> None:
        self.cutoff, self.noise = spec.cutoff, spec.noise
        self.run = spec.run
        self.elasticity = spec.supply_elasticity
        self.curve = curve
        self.rate_out = rate_out  # (n_reserves,), NaN where no supply for the rate
        self.dt = 0.0  # seconds of the step, set by Lenders.act

    def supply_wanted(self, supply: np.ndarray, borrows: np.ndarray) -> np.ndarray:
        """Tokens that arrive this step, (n_paths, n_reserves), before the supply cap:
        :math:`\\varepsilon \\max(r_s(B/S) - r_{out}, 0)\\, S\\, \\Delta t / \\text{year}` where the reserve has a
        curve and an outside rate, else 0."""
        if self.curve is None or self.elasticity is None or self.rate_out is None:
            return np.zeros_like(supply)
        usage = np.divide(borrows, supply, out=np.ones_like(supply), where=supply > 0)  # drained: full usage
        spread = self.curve.supply_rate(usage) - self.rate_out
        on = self.curve.known & np.isfinite(self.rate_out)
        share = self.elasticity * np.maximum(np.where(on, spread, 0.0), 0.0) * self.dt / SECONDS_PER_YEAR
        return share * np.maximum(supply, 0.0)

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
        specs = {p.name: p for p in bp.scenario.spec.protocols}
        rules = []
        for pi, plan in enumerate(bp.plans):
            if (spec.protocols is None and "lenders" in type(plan.model).behaviours()) or (
                spec.protocols is not None and plan.model.name in spec.protocols
            ):
                curve = rate_out = None
                if spec.supply_elasticity is not None:
                    reserves = getattr(specs[plan.model.name], "reserves", {})
                    curve = RateCurve.of([reserves[a] for a in plan.model.assets])
                    rate_out = np.array([np.nan if (r := spec.rate_out(a)) is None else r
                                         for a in plan.model.assets])  # fmt: skip
                rules.append((pi, LenderRule(spec, curve, rate_out)))
        return cls(rules)

    def act(self, world, time: float, market: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        """Lenders judge each reserve at market prices and withdraw what the pool can pay; then (supply for the
        rate on) outside money arrives where the supply rate beats the outside rate."""
        for pi, rule in self.rules:
            plan = world.bp.plans[pi]
            mkt = np.ascontiguousarray(market[:, plan.assets])
            if rule.run:
                plan.model.lenders_withdraw(world.states[pi], mkt, rule)
            if rule.elasticity is not None:
                rule.dt = world.bp.dt
                plan.model.lenders_supply(world.states[pi], mkt, rule)


def check_rate_curve(reserve: Any) -> None:
    """A reserve's interest-rate keys (``ReserveSpec``): the four of the curve together, and Aave's own checks
    (``DefaultReserveInterestRateStrategyV2._setInterestRateParams``: slope1 <= slope2, base + slopes <= 1000 %;
    the optimal ratio's bounds are the field's). Raises the error pydantic reports at the key."""
    given = reserve.rate_keys
    curve = {k: given[k] for k in RATE_KEYS if k in given}
    if curve and len(curve) < len(RATE_KEYS):
        missing = [k for k in RATE_KEYS if k not in curve]
        refuse(curve, f"a rate curve needs all of {', '.join(RATE_KEYS)} (missing {', '.join(missing)})")
    if not curve and "reserve_factor" in given:
        refuse({"reserve_factor": given["reserve_factor"]},
               f"reserve_factor scales the supply rate of a rate curve; needs {', '.join(RATE_KEYS)}")  # fmt: skip
    if curve:
        if curve["variable_rate_slope1"] > curve["variable_rate_slope2"]:
            refuse({"variable_rate_slope1": curve["variable_rate_slope1"]},
                   f"must be <= variable_rate_slope2 ({curve['variable_rate_slope2']!r}; Aave's "
                   f"SLOPE_2_MUST_BE_GTE_SLOPE_1)")  # fmt: skip
        top = (
            curve["base_variable_borrow_rate"] + curve["variable_rate_slope1"] + curve["variable_rate_slope2"]
        )
        if top > 10.0:
            refuse({"variable_rate_slope2": curve["variable_rate_slope2"]},
                   f"base_variable_borrow_rate + variable_rate_slope1 + variable_rate_slope2 must be <= 10 (Aave's "
                   f"MAX_BORROW_RATE, 1000 %), got {top:.6g} in all")  # fmt: skip


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
    return out + _check_supply(scenario, offers, runs_on)


def _check_supply(scenario, offers: dict[str, bool], runs_on) -> list[str]:  # type: ignore[no-untyped-def]
    """Supply for the rate: rate curves only where lenders supply for it (on an Aave market, with a total_supply
    and an outside rate), and something for ``supply_elasticity`` and ``outside_rate`` to act on."""
    from firesale.scenario.schema import LendingSpec

    source, spec = scenario.source, scenario.spec
    lend = spec.agents.lenders
    supplying = lend is not None and lend.supply_elasticity is not None
    out = []
    acted = False
    reserve_names: set[str] = set()
    for p in spec.protocols:
        if not isinstance(p, LendingSpec):
            continue
        on = supplying and runs_on(p.name)
        for name, r in p.reserves.items():
            keys = r.rate_keys
            where = f"{source}: protocols.{p.name}.reserves.{name}"
            if on:
                reserve_names.add(name)
            if not keys:
                continue
            first, value = next(iter(keys.items()))
            if p.type == "compound_v2":
                out.append(f"{where}.{first}: Aave's rate curve (DefaultReserveInterestRateStrategyV2); a compound_v2 "
                           f"market's JumpRateModel is not modelled; remove it, got {value!r}")  # fmt: skip
            elif not on:
                out.append(f"{where}.{first}: has no effect: only lenders who supply for the rate ([agents.lenders] "
                           f"supply_elasticity on {p.name}) read the rate curve; remove it, got {value!r}")  # fmt: skip
            elif r.total_supply is None:
                out.append(
                    f"{where}.total_supply: a rate curve needs the supply its usage divides by, got None"
                )
            elif lend.rate_out(name) is None:
                out.append(f"{where}.{first}: has no effect: agents.lenders.outside_rate has no rate for {name}; "
                           f"add one or remove the curve, got {value!r}")  # fmt: skip
            else:
                acted = True
    if supplying and not acted:
        out.append(f"{source}: agents.lenders.supply_elasticity: needs a reserve of a lending market the lenders act "
                   f"on with a rate curve (optimal_usage_ratio, base_variable_borrow_rate, variable_rate_slope1, "
                   f"variable_rate_slope2), a total_supply and an outside_rate, got "
                   f"{lend.supply_elasticity!r}")  # fmt: skip
    if supplying and isinstance(lend.outside_rate, dict):
        for name, value in lend.outside_rate.items():
            if name not in reserve_names:
                out.append(f"{source}: agents.lenders.outside_rate.{name}: must be a reserve of a lending market the "
                           f"lenders act on ({', '.join(sorted(reserve_names))}), got {value!r}")  # fmt: skip
    return out
