"""The world of one batch of paths: the step order and the in-step cascade, nothing else.

Everything that acts lives in its own package; ``World`` only says in which order, and routes what protocols emit:

1. temporary off-chain impact decays; liquidity providers withdraw or return (:mod:`firesale.agents.providers`);
2. arbitrageurs pull every pool towards the market, capital-limited, to where venues balance
   (:mod:`firesale.agents.arbitrageurs`); attackers trade (:mod:`firesale.agents.attackers`);
3. oracles are poked: heartbeats, OSM hops, TWAP samples (:mod:`firesale.oracle.network`); liquidators get the
   step's capital, block space and gas price (:mod:`firesale.agents.liquidators`);
4. the cascade, until no protocol acts on any path or ``max_cascade_rounds`` is reached: every protocol model
   (:mod:`firesale.protocols`) is given its oracles' answers, market prices, the liquidators' remaining capacity
   and the venues' real quotes, and returns :class:`~firesale.protocols.base.Flows`; the engine sells what they
   hand out and buys what they must repay through the venues (:mod:`firesale.liquidity.venues`: price impact),
   arbitrage runs again on the paths whose prices moved, derived token prices (receipt tokens) are re-read from
   every model's books (a bounded fixed point, for cross-holdings), and oracles see the moved prices;
5. accounting: bad debt, reserves, failure flags (:mod:`firesale.engine.accounting`).

Contagion channels can be switched off for one protocol (``focus``) to attribute its losses by counterfactual
(:mod:`firesale.contagion.attribution`): ``venues`` (other protocols' sales move shared venues and the oracles that
read them), ``derived`` (receipt-token prices carry other protocols' losses), ``liquidators`` (other protocols use up
the liquidators' capital and block space).

Python loops run over steps, cascade rounds, protocols, assets and venues; never over paths or positions.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import numpy as np

from firesale.agents import (
    Arbitrageurs,
    Attackers,
    Borrowers,
    Holders,
    Lenders,
    Liquidators,
    LiquidityProviders,
)
from firesale.agents.liquidators import gas_asset_index, gas_quantile_path
from firesale.engine._blueprint import Blueprint, _ModelPlan
from firesale.engine.accounting import Accounting
from firesale.engine.derived import reprice
from firesale.engine.replay_baseline import add_back_baseline
from firesale.engine.seeding import BLOCK_SIZE, BlockDraws
from firesale.exceptions import SimulationError
from firesale.liquidity.venues import VenueSet
from firesale.oracle.network import OracleNetwork
from firesale.protocols import ProtocolModel, RoundInputs, SaleQuotes
from firesale.protocols.base import LiquidatorCapacity

if TYPE_CHECKING:
    from firesale.engine.trace import CascadeTrace

__all__ = ["CHANNELS", "SALE_SIZES_USD", "World"]

#: Contagion channels between protocols (all on in a normal run).
CHANNELS = ("venues", "derived", "liquidators")
#: Grid of cumulative sale sizes on which liquidators' quotes are computed: 0, then $100 to $10B, 2 per decade
#: (linear interpolation between them errs by a small fraction of the price impact, on the cautious side).
SALE_SIZES_USD = np.concatenate([[0.0], np.logspace(2, 10, 17)])


class World:
    """The mutable state of one batch of paths; ``step`` advances it by one time step.

    Parameters
    ----------
    bp : Blueprint
    exo : ndarray of shape (n_paths, n_steps + 1, n_assets)
        Exogenous prices.
    gas_gwei : ndarray of shape (n_paths, n_steps + 1)
    debug : bool
        Check conservation after every step.
    channels : iterable of str, optional
        Contagion channels left on (default all of :data:`CHANNELS`); only meaningful with ``focus``.
    focus : int, optional
        The protocol whose losses a counterfactual run measures; channels off isolate it from the others.
    seed : int
    blocks : range, optional
        The run's seed and the path blocks of this batch: random streams of protocol models are keyed by them.
    absorb_sales : bool
        A replay's baseline pass: every protocol's sales and purchases are absorbed outside the venues (at market,
        moving no price) and logged in ``flow_log``, per model: ``sell`` and ``buy``, (n_paths, n_steps + 1,
        n_model_assets). Its flows stand for the real market's, whose protocols had no hypothetical policy: the
        scenario's ``[[policies]]`` do not act in it.
    baseline : list of dict, optional
        The ``flow_log`` of a baseline pass: each step, after arbitrage, its flows' impact is added back
        (:meth:`firesale.liquidity.venues.VenueSet.add_back`) before the cascade, so that a replayed price,
        which already contains the real market's flows, moves only by what the simulated flows add to them.
    trace : CascadeTrace, optional
        Called after every cascade round that acted (:mod:`firesale.engine.trace`); None costs one test per round.
    """

    def __init__(self, bp: Blueprint, exo: np.ndarray, gas_gwei: np.ndarray, debug: bool = False,
                 channels: tuple[str, ...] | frozenset[str] = CHANNELS, focus: int | None = None,
                 seed: int = 0, blocks: range | None = None, absorb_sales: bool = False,
                 baseline: list[dict[str, np.ndarray]] | None = None, trace: CascadeTrace | None = None) -> None:  # fmt: skip
        spec = bp.scenario.spec
        self.bp, self.exo = bp, exo
        self.n_paths = n = exo.shape[0]
        self.t = 0
        self.debug = debug
        self.channels = frozenset(channels) if focus is not None else frozenset(CHANNELS)
        self.focus = focus
        self.exo_now = exo[:, 0, :].copy()  # exogenous prices of the step, derived token prices written in
        self.venues = VenueSet(bp.venue_specs, bp.venue_coins, n)
        vidx = {v.name: i for i, v in enumerate(spec.venues)}
        self.oracles = OracleNetwork(
            spec.oracles, {a: i for i, a in enumerate(bp.assets)}, bp.price0, vidx, bp.dt
        )
        self.oracles.start(self.market_prices(), self.venues)
        self.liquidators = Liquidators(spec.agents, gas_gwei, gas_asset_index(spec, bp.assets),
                                       gas_quantile_path(bp.scenario, n, gas_gwei.shape[1], bp.dt), bp.dt)  # fmt: skip
        self.arbitrageurs = Arbitrageurs(spec.agents.arbitrage_capital_usd, n, len(bp.venue_specs))
        self.providers = LiquidityProviders(spec.agents.evaporation, [v.name for v in spec.venues], bp.venue_coins,
                                            exo[:, 0, :], bp.dt)  # fmt: skip
        self.attackers = Attackers(spec.attacks, vidx, bp.assets, n)
        blocks = range(-(-n // BLOCK_SIZE)) if blocks is None else blocks
        # Behaviour agents, off by default (firesale.agents.borrowers, .lenders): an empty list takes no branch.
        self.behaviour = [
            a for a in (Borrowers.build(bp, n, seed, blocks), Lenders.build(bp)) if a is not None
        ]
        # Token holders outside every protocol (firesale.agents.holders); not in a replay's baseline pass.
        self.holders = None if absorb_sales else Holders.build(bp, n)
        self.loops = spec.agents.borrowers is not None and spec.agents.borrowers.loop
        self.first_path = blocks.start * BLOCK_SIZE  # global number of this batch's first path
        self.states = [_init_state(p.model, n, seed, blocks) for p in bp.plans]
        self.accounting = Accounting(n, [p.model.name for p in bp.plans], bp.assets, bp.price0)
        # Cumulative flows out of each model, per path and model asset: what conservation is checked against.
        self.out = [{k: np.zeros((n, len(p.assets))) for k in ("sold", "kept", "repaid", "minted", "burned")}
                    for p in bp.plans]  # fmt: skip
        #: Each asset's supply issued by the protocols since the start, minted less burned (n_paths, n_assets).
        self.net_issued = np.zeros((n, len(bp.assets)))
        self.absorb_sales, self.baseline = absorb_sales, baseline
        # firesale.policies: none in a replay's baseline pass (the real market's flows had no hypothetical policy)
        self.policies = None if absorb_sales else bp.policies
        # firesale.engine.trace: records each round's flows of some paths (None: not traced)
        self.trace = trace
        self.flow_log = (
            [{k: np.zeros((n, bp.n_steps + 1, len(p.assets))) for k in ("sell", "buy")} for p in bp.plans]
            if absorb_sales
            else None
        )
        self.oracle_feeds = sorted({o for p in bp.plans for o in p.oracles if o >= 0})
        self.has_issued = any(p.issued for p in bp.plans) or bool(bp.lp_tokens) or bool(bp.protocol_tokens)
        # Each protocol token's price over its market price (its protocol's uncovered loss), carried between steps.
        self.loss_factor = np.ones((n, len(bp.protocol_tokens)))
        if self.has_issued:
            self._reprice()

    # ----- prices ---------------------------------------------------------------------------------------------
    def market_prices(self) -> np.ndarray:
        """Market price of every asset (n_paths, n_assets): exogenous (or derived) price less off-chain impact."""
        return self.venues.market_prices(self.exo_now)

    def _reprice(self) -> np.ndarray:
        """Derived token prices to a fixed point (:func:`firesale.engine.derived.reprice`); the market prices."""
        return reprice(self) if self.has_issued else self.market_prices()

    # ----- the step -------------------------------------------------------------------------------------------
    def step(self) -> None:
        """Advance every path by one time step, cascade included."""
        bp = self.bp
        self.t += 1
        t = self.t
        time = t * bp.dt
        derived = [tok for p in bp.plans for tok, _ in p.issued] + [tok for tok, _, _ in bp.lp_tokens]
        keep = self.exo_now[:, derived].copy() if derived else None
        self.exo_now = self.exo[:, t, :].copy()
        if derived:
            self.exo_now[:, derived] = keep
        for j, (token, *_) in enumerate(bp.protocol_tokens):
            self.exo_now[:, token] *= self.loss_factor[:, j]
        self.accounting.new_step()
        self.venues.decay(bp.dt)
        self.providers.act(self.venues, self.market_prices())
        self.arbitrageurs.new_step()
        self.arbitrageurs.run(self.venues, self.exo_now)
        if self.baseline is not None:
            add_back_baseline(self, t)
        market = self._reprice()
        self.attackers.act(self.venues, market, time, bp.dt)
        self.oracles.poke(time, market, self.venues, step_start=True)
        # firesale.policies: triggers see this step's oracles; actions bind its cascade
        if self.policies is not None:
            self.policies.step(self, time, market)
        for agent in self.behaviour:  # borrowers and lenders act on this step's oracles, before its cascade
            agent.act(self, time, market)
        if self.loops:  # loops bought through the venues (firesale.agents.borrowers.LoopSwap): prices moved
            market = self._reprice()
        if self.holders is not None:  # they sell through the venues: the cascade starts from the moved prices
            market = self.holders.act(self, time, market)
        capacity = self.liquidators.capacity(t, market)
        # With the liquidator channel off, the protocol in focus has liquidators of its own.
        own = self.liquidators.capacity(t, market) if "liquidators" not in self.channels else capacity

        n = self.n_paths
        active = np.ones(n, dtype=bool)
        rounds = np.zeros(n, dtype=np.int64)
        unserved = np.zeros(n, dtype=np.int64)
        for _ in range(bp.scenario.spec.simulation.max_cascade_rounds):
            did = np.zeros(n, dtype=bool)
            round_unserved = np.zeros(n, dtype=np.int64)
            for pi, (plan, state) in enumerate(zip(bp.plans, self.states, strict=True)):
                cap = own if pi == self.focus else capacity
                flows = self._round(pi, plan, state, market, active, cap, time)
                round_unserved += flows.n_unserved
                did |= flows.acted
            unserved = np.where(active, round_unserved, unserved)
            if not did.any():
                break
            rounds += did
            if self.trace is not None:
                self.trace.round(self, market, did)
            self.arbitrageurs.run(self.venues, self.exo_now, did)  # only paths whose prices the sales moved
            market = self._reprice()
            self.oracles.poke(time, market, self.venues, step_start=False)
            active = did
        books = [p.model.account(s, market[:, p.assets]) for p, s in zip(bp.plans, self.states, strict=True)]
        self.accounting.close_step(t, market, books, rounds, unserved, self._liquidity_flag(),
                                   self.oracles.failed(self.oracle_feeds, time, market,
                                                       bp.scenario.spec.failure_oracle_deviation))  # fmt: skip
        if self.policies is not None:  # per-path records of what each policy did (firesale.policies.runner)
            self.policies.close_step(self, time, market)
        if self.debug:
            self.check_conservation()

    def _round(self, pi: int, plan: _ModelPlan, state, market: np.ndarray, active: np.ndarray,  # type: ignore[no-untyped-def]
               cap: LiquidatorCapacity, time: float):  # fmt: skip
        """One model's round, and the routing of its flows through the venues."""
        mkt = np.ascontiguousarray(market[:, plan.assets])
        routed = not self.absorb_sales and (
            self.focus is None or pi == self.focus or "venues" in self.channels
        )
        venues = plan.venues if routed else [[] for _ in plan.venues]

        def proceeds(paths: np.ndarray, needed_usd: np.ndarray) -> np.ndarray:
            return self.venues.sale_curves(plan.assets, venues, market, self.exo_now, SALE_SIZES_USD, paths,
                                           needed_usd)  # fmt: skip

        def costs(paths: np.ndarray, needed_usd: np.ndarray) -> np.ndarray:
            return self.venues.cost_curves(plan.assets, venues, market, self.exo_now, SALE_SIZES_USD, paths,
                                           needed_usd)  # fmt: skip

        oracle = mkt.copy()
        for r, k in enumerate(plan.oracles):
            if k >= 0:
                oracle[:, r] = self.oracles.reported(k, time)
        inputs = RoundInputs(
            time=time, oracle=oracle, market=mkt, active=active,
            liquidators=cap, quotes=SaleQuotes(SALE_SIZES_USD, proceeds, costs),
        )  # fmt: skip
        flows = plan.model.round(state, inputs)
        out = self.out[pi]
        out["sold"] += flows.sell
        out["kept"] += flows.kept
        out["repaid"] += flows.buy
        for key, arr, sign in (("minted", flows.minted, 1.0), ("burned", flows.burned, -1.0)):
            if arr is not None:  # tokens the protocol created or destroyed: the issued supply moves
                out[key] += arr
                self.net_issued[:, plan.assets] += sign * arr
        if self.flow_log is not None:
            self.flow_log[pi]["sell"][:, self.t] += flows.sell
            self.flow_log[pi]["buy"][:, self.t] += flows.buy
        if not flows.acted.any():
            return flows
        # Sales and purchases: routed through the venues (price impact), or at market when this protocol's
        # venue channel is switched off in a counterfactual run.
        proceeds_usd = np.zeros(self.n_paths)
        value_usd = np.zeros(self.n_paths)
        cost_usd = np.zeros(self.n_paths)
        for r, a in enumerate(plan.assets):
            if flows.sell[:, r].any():
                value_usd += flows.sell[:, r] * market[:, a]
                proceeds_usd += self.venues.sell(int(a), flows.sell[:, r], venues[r], market, self.exo_now)
            if flows.buy[:, r].any():
                # Liquidators buy the debt they repay; through an order book that pushes its price up (a squeeze).
                cost_usd += self.venues.buy(int(a), flows.buy[:, r], venues[r], market, self.exo_now)
        repaid_usd = (flows.buy * mkt).sum(axis=1)
        self.accounting.flows(pi, flows, repaid_usd, value_usd, proceeds_usd, cost_usd, cap.gas_usd)
        return flows

    def _liquidity_flag(self) -> np.ndarray:
        flag = np.zeros(self.n_paths, dtype=bool)
        frac = self.bp.scenario.spec.failure_liquidity_fraction
        for k in range(len(self.bp.venue_specs)):
            flag |= self.venues.depth(k) < frac * self.venues.depth0[:, k]
        return flag

    def check_conservation(self) -> None:
        """Raise SimulationError unless every token is accounted for and no balance is negative."""
        problems = []
        for plan, state, out in zip(self.bp.plans, self.states, self.out, strict=True):
            problems += plan.model.check_conservation(state, out)
        for k, (kind, venue) in enumerate(self.bp.venue_specs):
            if kind == "pool":
                for key, arr in self.venues.states[k].arrays.items():
                    if (arr < 0).any():
                        problems.append(f"venue {venue.name}: negative {key}")
        if problems:
            raise SimulationError(f"at step {self.t}: " + "; ".join(problems))

    def final_metrics(self) -> dict[str, np.ndarray]:
        """Per-path metrics at the end of the horizon."""
        market = self.accounting.last_market
        books = [
            p.model.account(s, market[:, p.assets], by_asset=True)
            for p, s in zip(self.bp.plans, self.states, strict=True)
        ]
        debt_assets = [_owed_assets(p.model) for p in self.bp.plans]
        out = self.accounting.final_metrics(books, debt_assets, [list(p.model.assets) for p in self.bp.plans],
                                            self.exo, self.attackers.cost_usd)  # fmt: skip
        out.update(self.liquidators.metrics(out))  # [agents.searchers]: priority fees
        if self.holders is not None:  # holders.<group>.*: what each group of token holders sold
            out.update(self.holders.metrics())
        if self.policies is not None:  # policy.<name>.* and policies.*: what the policies did, per path
            out.update(self.policies.metrics(self))
        for p, s in zip(self.bp.plans, self.states, strict=True):
            for key, value in p.model.metrics(s, market[:, p.assets]).items():
                out[f"{p.model.name}.{key}"] = np.asarray(value, dtype=float)
        return out


def _init_state(model: ProtocolModel, n_paths: int, seed: int, blocks: range):  # type: ignore[no-untyped-def]
    """A model's starting state; models with random streams get draws keyed by (seed, model, path block)."""
    if "rng" in inspect.signature(model.init_state).parameters:
        return model.init_state(n_paths, rng=BlockDraws(seed, model.name, blocks, n_paths))
    return model.init_state(n_paths)


def _owed_assets(model: ProtocolModel) -> list[int]:
    """Model assets owed to the protocol at the start (bad debt is reported per each)."""
    debt0 = getattr(model, "debt0", None)
    if debt0 is None:
        return []
    return [r for r in range(len(model.assets)) if debt0[:, r].any()]
