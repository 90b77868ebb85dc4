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

Borrowing (off by default: ``borrow_above_health_factor`` and ``borrow_target_health_factor``). An account whose
health factor at the oracle is above ``borrow_above_health_factor`` and whose draw says so draws more of its largest
debt, back down to ``borrow_target_health_factor``: leverage held at a target, so that as collateral rises the
account borrows more. That is the balance-sheet rule of Adrian and Shin, "Liquidity and Leverage" (J. Financial
Intermediation 19(3), 2010): intermediaries that target leverage expand their borrowing as asset prices rise, which
makes leverage procyclical. The two thresholds are ASSUMPTION. Each borrow passes Aave v3's
``ValidationLogic.validateBorrow`` (aave/aave-v3-core contracts/protocol/libraries/logic/ValidationLogic.sol): new
debt within the borrowing power (collateral x **ltv**, not the liquidation threshold), the reserve's total debt
within its ``borrow_cap`` and the amount within its liquidity (``supply - borrows``); see
:meth:`firesale.protocols.lending_market.LendingMarket._borrow`. The same draw serves both rules (an account is
never above the borrowing threshold and below the top-up trigger at once); ``action = "none"`` turns the top-up /
repay response off and keeps only the borrowing.

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

from firesale.scenario._types import Fraction, Name, SpecModel, refuse

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
    action: Literal["top_up", "repay", "none"] = Field(
        default="top_up",
        description="top_up: add the collateral with the largest threshold-weighted value; repay: repay the "
        "largest debt; none: no response near liquidation (only the borrowing rule acts).",
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
    borrow_above_health_factor: Annotated[float, Field(gt=1.0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="Borrowing (off by default): an account whose health factor at the oracle is above this draws "
        "more of its largest debt, back down to borrow_target_health_factor (leverage kept at a target, "
        "ASSUMPTION), within ltv, borrow_cap and the reserve's liquidity.",
    )
    borrow_target_health_factor: Annotated[float, Field(gt=1.0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="Health factor a borrow brings the account down to (needs borrow_above_health_factor).",
    )
    loop: bool = Field(
        default=False,
        description="Borrowing: the borrowed tokens buy more of the account's collateral, supplied first (a "
        "flash-loan loop: new supply, stopped at the collateral's supply_cap); false: they leave the model.",
    )

    @model_validator(mode="after")
    def _target(self) -> BorrowersSpec:
        if self.target_health_factor < self.trigger_health_factor:
            raise ValueError(
                f"target_health_factor must be >= trigger_health_factor ({self.trigger_health_factor}), got "
                f"{self.target_health_factor}"
            )
        above, target = self.borrow_above_health_factor, self.borrow_target_health_factor
        if (above is None) != (target is None):
            raise ValueError(
                "borrowing needs both borrow_above_health_factor and borrow_target_health_factor, got "
                f"{above!r} and {target!r}"
            )
        if above is not None and target is not None:
            if target > above:
                raise ValueError(
                    f"borrow_target_health_factor must be <= borrow_above_health_factor ({above}), got {target}"
                )
            if target < self.target_health_factor:
                raise ValueError(
                    "borrow_target_health_factor must be >= target_health_factor "
                    f"({self.target_health_factor}: a borrow must not undo a top-up), got {target}"
                )
        else:
            refuse(dict.fromkeys(self.given("loop"), self.loop),
                   "has no effect without borrow_above_health_factor (nothing is borrowed to loop); remove it")  # fmt: skip
            if self.action == "none":
                raise ValueError(
                    "action 'none' has no effect without borrow_above_health_factor; remove the section"
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
        # Borrowing (None: off). The same draw serves both rules: an account is never above one and below the other.
        self.borrow_above, self.borrow_target = (
            spec.borrow_above_health_factor,
            spec.borrow_target_health_factor,
        )
        self.loop = spec.loop
        self.swap = None  # a loop's purchase through the venues (LoopSwap), set for the call by Borrowers.act

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
            if rule.loop:  # a loop's purchase goes through the venues: its own flow, it moves their prices
                rule.swap = LoopSwap(world, pi, market)
            plan.model.borrowers_respond(state, oracle, mkt, rule)
            rule.swap = None


class LoopSwap:
    """A loop's purchase for one model and step: ``swap(r, c, amount)`` spends ``amount`` (n_paths,) tokens of the
    model's asset ``r`` (the borrowed stablecoin) on its asset ``c`` (the collateral) through the venues where
    ``c`` is sold, and returns the ``c`` tokens received per path.

    Routed by :meth:`firesale.liquidity.venues.VenueSet.spend` (slices, each to the pool trading ``r`` against ``c``
    or the book of ``c`` where ``c`` costs least at that moment). A pool holding ``c`` against another coin is not
    used (ASSUMPTION: one hop, as a flash-loan loop's aggregator route is not modelled). With no such venue, or with
    this protocol's flows absorbed outside the venues (a counterfactual for another protocol with the venue channel
    cut, as ``World._round`` absorbs its sales; or a replay's baseline pass), the purchase is at market and moves
    nothing. ``market`` (n_paths, n_assets) is the step's market before the loops;
    market prices of books move with their impact (read again by the cascade), pools' prices by the swap.
    """

    def __init__(self, world, pi: int, market: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        self.world, self.plan, self.market = world, world.bp.plans[pi], market
        self.routed = not world.absorb_sales and (
            world.focus is None or pi == world.focus or "venues" in world.channels
        )

    def __call__(self, r: int, c: int, amount: np.ndarray) -> np.ndarray:
        vs, market = self.world.venues, self.market
        ar, ac = int(self.plan.assets[r]), int(self.plan.assets[c])
        at_market = amount * np.divide(market[:, ar], market[:, ac], out=np.zeros(amount.shape),
                                       where=market[:, ac] > 0)  # fmt: skip
        ks = [k for k in (self.plan.venues[c] if self.routed else [])
              if not vs.is_pool(k) or (ar in vs.coins[k] and ac in vs.coins[k])]  # fmt: skip
        if not ks or not amount.any():
            return at_market
        return vs.spend(ar, ac, amount, ks, market, self.world.exo_now)


def check_borrowers(scenario) -> list[str]:  # type: ignore[no-untyped-def]
    """``[agents.borrowers]`` against the scenario, the supply caps only its top-ups and the borrow caps only its
    borrows make bind, and ``utilisation`` triggers: one ``FILE: key.path: rule, got VALUE`` line per problem."""
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
            on = b is not None and (b.protocols is None or p.name in b.protocols)
            tops = on and (b.action == "top_up" or (b.loop and borrows_on(scenario, p.name)))
            lend = (
                spec.agents.lenders
            )  # lenders who supply for the rate (firesale.agents.lenders) are new supply too
            tops = tops or (lend is not None and lend.supply_elasticity is not None
                            and (lend.protocols is None or p.name in lend.protocols))  # fmt: skip
            if not tops:
                out.append(f"{where}: has no effect: only borrowers' top-ups ([agents.borrowers] with action = "
                           f"'top_up' on {p.name}), loops (loop = true) and lenders who supply for the rate "
                           f"([agents.lenders] supply_elasticity) are new supply, so without them a cap never binds; "
                           f"remove it, got {r.supply_cap!r}")  # fmt: skip
            elif r.total_supply is None:
                out.append(f"{where}: needs protocols.{p.name}.reserves.{name}.total_supply (the supply the cap is "
                           f"compared with), got {r.supply_cap!r}")  # fmt: skip
    return out + _check_borrowing(scenario, offers) + _check_utilisation_triggers(scenario)


def borrows_on(scenario, name: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``[agents.borrowers]`` draws new debt on protocol ``name`` (``borrow_above_health_factor`` set)."""
    b = scenario.spec.agents.borrowers
    return (
        b is not None
        and b.borrow_above_health_factor is not None
        and (b.protocols is None or name in b.protocols)
    )


def supply_read(scenario) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(protocol, reserve) pairs whose ``total_supply`` the borrowing rule or a ``utilisation`` trigger reads."""
    from firesale.scenario.schema import LendingSpec

    out = set()
    for p in scenario.spec.protocols:
        if isinstance(p, LendingSpec) and borrows_on(scenario, p.name):
            out |= {(p.name, n) for n in p.reserves}
    for pol in scenario.spec.policies:
        if pol.trigger.series == "utilisation":
            out.add((pol.trigger.protocol or pol.protocol, str(pol.trigger.asset)))
    return out


def _check_borrowing(scenario, offers: dict[str, bool]) -> list[str]:  # type: ignore[no-untyped-def]
    """The borrowing rule against the book (the liquidity it draws on), borrow caps, and ``pause_borrowing``
    policies: each acts only where borrowers borrow."""
    from firesale.scenario.schema import LendingSpec

    source, spec = scenario.source, scenario.spec
    b = spec.agents.borrowers
    out = []
    borrowing = {
        p.name
        for p in spec.protocols
        if isinstance(p, LendingSpec) and offers.get(p.name) and borrows_on(scenario, p.name)
    }
    if b is not None and b.borrow_above_health_factor is not None:
        if not borrowing:
            out.append(f"{source}: agents.borrowers.borrow_above_health_factor: needs a lending market whose "
                       f"borrowers respond, got {b.borrow_above_health_factor!r}")  # fmt: skip
        if spec.simulation.cohorts:
            out.append(f"{source}: agents.borrowers.borrow_above_health_factor: a merged cohort has no single "
                       f"borrowing power (ltv); set simulation.cohorts = false to borrow, got "
                       f"{b.borrow_above_health_factor!r}")  # fmt: skip
    for p in spec.protocols:
        if not isinstance(p, LendingSpec):
            continue
        book = scenario.positions.get(p.name)
        owed = set() if book is None else {n for k, n in enumerate(p.reserves) if book.debt[:, k].any()}
        on = p.name in borrowing
        for name, r in p.reserves.items():
            where = f"{source}: protocols.{p.name}.reserves.{name}"
            if on and name in owed and r.total_supply is None:
                out.append(f"{where}.total_supply: borrowing on {p.name} ([agents.borrowers] "
                           f"borrow_above_health_factor) needs the supply of every reserve its book owes (a borrow "
                           f"draws on supply - borrows), got None")  # fmt: skip
            if r.borrow_cap is None:
                continue
            if not on:
                out.append(f"{where}.borrow_cap: has no effect: only new borrows ([agents.borrowers] with "
                           f"borrow_above_health_factor on {p.name}) are checked against it, so without them a cap "
                           f"never binds; remove it, got {r.borrow_cap!r}")  # fmt: skip
            elif name not in owed:
                out.append(f"{where}.borrow_cap: has no effect: borrowers draw more of what they owe and no account "
                           f"of {p.name} owes {name}; remove it, got {r.borrow_cap!r}")  # fmt: skip
    for pol in spec.policies:
        if (
            pol.action.type == "pause_borrowing"
            and not borrows_on(scenario, pol.protocol)
            and pol.protocol in offers
        ):
            out.append(f"{source}: policies.{pol.name}.action.type: has no effect: nobody borrows on {pol.protocol} "
                       f"(turn on [agents.borrowers] borrow_above_health_factor), got 'pause_borrowing'")  # fmt: skip
    return out


def _check_utilisation_triggers(scenario) -> list[str]:  # type: ignore[no-untyped-def]
    """A ``utilisation`` trigger reads a lending reserve with a ``total_supply`` (its supply)."""
    from firesale.scenario.schema import LendingSpec

    source, spec = scenario.source, scenario.spec
    protocols = {p.name: p for p in spec.protocols}
    out = []
    for pol in spec.policies:
        t = pol.trigger
        proto = protocols.get(t.protocol or pol.protocol)
        if t.series != "utilisation" or proto is None or t.asset not in {a.name for a in spec.assets}:
            continue  # unknown names are reported by firesale.policies.check_policies
        where = f"{source}: policies.{pol.name}.trigger.asset"
        if not isinstance(proto, LendingSpec):
            out.append(f"{where}: utilisation is a lending market's (borrows / supply); protocol {proto.name} "
                       f"({proto.type}) has none, got {t.asset!r}")  # fmt: skip
        elif t.asset not in proto.reserves:
            out.append(
                f"{where}: must be a reserve of {proto.name} ({', '.join(proto.reserves)}), got {t.asset!r}"
            )
        elif proto.reserves[str(t.asset)].total_supply is None:
            out.append(f"{where}: needs protocols.{proto.name}.reserves.{t.asset}.total_supply (the supply "
                       f"utilisation divides by), got {t.asset!r}")  # fmt: skip
    return out
