"""Borrowers who react as their health factor nears 1: they top up collateral or repay debt (``[agents.borrowers]``).

Each step, after the oracles are poked and before the cascade, every account whose health factor *at the oracle*
is below ``trigger_health_factor`` responds with probability ``response_probability`` (a fresh draw per step,
path and account): it adds collateral (``action = "top_up"``) or repays debt (``"repay"``) until its health factor
is back at ``target_health_factor``, as far as its budget allows. The budget is money held aside for the purpose:
``budget_share`` of the account's collateral value at the scenario's starting prices, spent over the whole run.
Top-ups are supply to the reserve and stop at its ``supply_cap`` (Aave v3 ``ValidationLogic.validateSupply``).

Why. Liquidations are the borrower's loss (the bonus) and the data show some borrowers act before they happen:
Perez, Werner, Xu and Livshits, "Liquidations: DeFi on a Knife-edge" (FC 2021, arXiv:2009.13235) study Compound
borrowers near the threshold and their sensitivity to price moves; Qin, Zhou, Gamito, Jovanovic and Gervais, "An
Empirical Study of DeFi Liquidations: Incentives, Risks, and Instabilities" (IMC 2021, arXiv:2106.06389) measure
liquidations on Aave, Compound, dYdX and MakerDAO and note that positions are often left to be liquidated. Neither
paper tabulates a per-step response rate, a trigger or a budget, so the defaults below are ASSUMPTION: a minority
of borrowers (10 % per five-minute step) watch and respond below 1.1, restore 1.25, and hold aside a quarter of
their collateral's value. A study should sweep them (``firesale sweep agents.borrowers.response_probability``).

Determinism. The draw for (path, account, step) is a counter-based hash (SplitMix64) of a per-path key drawn by
path block (:class:`firesale.engine.seeding.BlockDraws`, component ``"agents.borrowers.<protocol>"``), the account's
row and the step: results do not depend on batch size, and no random numbers are drawn for accounts above the
trigger. The mechanics (which reserve, how much, the cap) are the protocol's, through the contract method
:meth:`firesale.protocols.base.ProtocolModel.borrowers_respond`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from firesale.scenario._types import Fraction, Name, SpecModel

__all__ = ["BorrowerRule", "Borrowers", "BorrowersSpec", "uniform_draws"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class BorrowersSpec(SpecModel):
    """``[agents.borrowers]``: borrowers who top up or repay when their health factor nears 1 (off by default)."""

    protocols: list[Name] | None = Field(
        default=None,
        min_length=1,
        description="Protocols whose borrowers react (default: every protocol that offers it, the lending markets).",
    )
    trigger_health_factor: Annotated[float, Field(gt=1.0, allow_inf_nan=False)] = Field(
        default=1.1,
        description="Health factor at the oracle below which a borrower may respond (ASSUMPTION).",
    )
    target_health_factor: Annotated[float, Field(gt=1.0, allow_inf_nan=False)] = Field(
        default=1.25, description="Health factor a response restores, budget permitting (ASSUMPTION)."
    )
    action: Literal["top_up", "repay"] = Field(
        default="top_up",
        description="top_up: add the collateral with the largest threshold-weighted value; repay: repay the "
        "largest debt.",
    )
    response_probability: Fraction = Field(
        default=0.1,
        description="Probability that a borrower below the trigger responds in a step (ASSUMPTION).",
    )
    budget_share: Fraction = Field(
        default=0.25,
        description="Money held aside per account over the run, as a share of its collateral value at the "
        "starting prices (ASSUMPTION).",
    )

    @model_validator(mode="after")
    def _target(self) -> BorrowersSpec:
        if self.target_health_factor < self.trigger_health_factor:
            raise ValueError(
                f"target_health_factor must be >= trigger_health_factor ({self.trigger_health_factor}), got "
                f"{self.target_health_factor}"
            )
        return self


def uniform_draws(keys: np.ndarray, rows: np.ndarray, step: int) -> np.ndarray:
    """Uniforms in [0, 1) for (path key, account row, step): SplitMix64 of the three, vectorised.

    ``keys`` are per-path uint64 keys (one per element, already gathered), ``rows`` the account rows.
    """
    with np.errstate(over="ignore"):
        z = (
            keys.astype(np.uint64)
            ^ (rows.astype(np.uint64) * _GOLDEN)
            ^ (np.uint64(step) * np.uint64(0xD1B54A32D192ED03))
        )
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


class BorrowerRule:
    """What one protocol's borrowers do, for one batch: the parameters and the per-step response draws.

    Handed to :meth:`~firesale.protocols.base.ProtocolModel.borrowers_respond`, which reads ``trigger``,
    ``target``, ``action``, ``budget_share`` and ``price0`` (starting USD prices in the model's asset order) and
    asks :meth:`responds` which of its candidate accounts act this step.
    """

    def __init__(self, spec: BorrowersSpec, price0: np.ndarray, keys: np.ndarray) -> None:
        self.trigger, self.target = spec.trigger_health_factor, spec.target_health_factor
        self.action, self.budget_share = spec.action, spec.budget_share
        self.probability = spec.response_probability
        self.price0 = price0
        self.keys = keys  # (n_paths,) uint64
        self.step = 0

    def responds(self, paths: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Whether account ``rows[i]`` on path ``paths[i]`` responds this step (bool array)."""
        if self.probability >= 1.0:
            return np.ones(paths.shape, dtype=bool)
        return uniform_draws(self.keys[paths], rows, self.step) < self.probability


class Borrowers:
    """The borrowers of every protocol they act on, for one batch of paths."""

    def __init__(self, rules: list[tuple[int, BorrowerRule]]) -> None:
        self.rules = rules

    @classmethod
    def build(cls, bp, n_paths: int, seed: int, blocks: range) -> Borrowers | None:  # type: ignore[no-untyped-def]
        """None without ``[agents.borrowers]`` (the step then has nothing to do)."""
        spec = bp.scenario.spec.agents.borrowers
        if spec is None:
            return None
        from firesale.engine.seeding import BlockDraws

        rules = []
        for pi, plan in enumerate(bp.plans):
            model = plan.model
            if (spec.protocols is None and "borrowers" in type(model).behaviours()) or (
                spec.protocols is not None and model.name in spec.protocols
            ):
                draws = BlockDraws(seed, f"agents.borrowers.{model.name}", blocks, n_paths)
                keys = draws.integers(0, 2**63, size=n_paths, dtype=np.int64).astype(np.uint64)
                rules.append((pi, BorrowerRule(spec, bp.price0[plan.assets], keys)))
        return cls(rules)

    def act(self, world, time: float, market: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        """Borrowers below the trigger respond, on the oracles' answers of this step (before the cascade)."""
        for pi, rule in self.rules:
            plan, state = world.bp.plans[pi], world.states[pi]
            rule.step = world.t
            mkt = np.ascontiguousarray(market[:, plan.assets])
            oracle = mkt.copy()
            for r, k in enumerate(plan.oracles):
                if k >= 0:
                    oracle[:, r] = world.oracles.reported(k, time)
            plan.model.borrowers_respond(state, oracle, mkt, rule)


def check_borrowers(scenario) -> list[str]:  # type: ignore[no-untyped-def]
    """``[agents.borrowers]`` against the scenario, and the supply caps only its top-ups make bind: one
    ``FILE: key.path: rule, got VALUE`` line per problem."""
    from firesale.protocols import protocol_type
    from firesale.scenario.schema import LendingSpec

    source, spec = scenario.source, scenario.spec
    b = spec.agents.borrowers
    out = []
    offers = {p.name: "borrowers" in protocol_type(p.type).behaviours() for p in spec.protocols}
    if b is not None and b.protocols is not None:
        for k, name in enumerate(b.protocols):
            if name not in offers:
                out.append(f"{source}: agents.borrowers.protocols[{k}]: must name a protocol of the scenario "
                           f"({', '.join(offers)}), got {name!r}")  # fmt: skip
            elif not offers[name]:
                out.append(f"{source}: agents.borrowers.protocols[{k}]: protocol {name} has no borrowers who "
                           f"respond (only lending markets do), got {name!r}")  # fmt: skip
    if b is not None and b.protocols is None and not any(offers.values()):
        out.append(f"{source}: agents.borrowers: needs a protocol whose borrowers respond (a lending market), got "
                   f"{sorted(offers)!r}")  # fmt: skip
    for p in spec.protocols:
        for name, r in (p.reserves if isinstance(p, LendingSpec) else {}).items():
            if r.supply_cap is None:
                continue
            where = f"{source}: protocols.{p.name}.reserves.{name}.supply_cap"
            tops = b is not None and b.action == "top_up" and (b.protocols is None or p.name in b.protocols)
            if not tops:
                out.append(f"{where}: has no effect: only borrowers' top-ups ([agents.borrowers] with action = "
                           f"'top_up' on {p.name}) are new supply, so without them a cap never binds; remove it, "
                           f"got {r.supply_cap!r}")  # fmt: skip
            elif r.total_supply is None:
                out.append(f"{where}: needs protocols.{p.name}.reserves.{name}.total_supply (the supply the cap is "
                           f"compared with), got {r.supply_cap!r}")  # fmt: skip
    return out
