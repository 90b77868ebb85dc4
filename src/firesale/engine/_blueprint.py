"""The blueprint of a run: everything about a scenario that does not depend on the batch of paths, built once.

Venues and their coins, every protocol model with the global indices of its assets, oracles and venues, the LP
tokens, and the exogenous prices of a batch from the market model's relatives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from firesale.liquidity.orderbook import OrderBook
from firesale.protocols import ProtocolModel, protocol_type
from firesale.scenario._loader import Scenario
from firesale.scenario.schema import OrderBookSpec

__all__ = ["Blueprint"]


@dataclass(frozen=True)
class _ModelPlan:
    """How one protocol model is wired into the world: global indices of its assets, oracles and venues."""

    model: ProtocolModel
    assets: np.ndarray  # global asset index of each model asset
    oracles: list[int]  # oracle index of each model asset
    venues: list[list[int]]  # venue indices where each model asset is sold
    issued: list[tuple[int, int]]  # (global token asset index, model asset index of the underlying)


@dataclass(frozen=True)
class Blueprint:
    """Everything about a scenario that does not depend on the batch: built once per run."""

    scenario: Scenario
    assets: list[str]
    price0: np.ndarray
    parents: list[int]  # -1 for primary assets
    market_assets: list[int]  # asset indices the market model drives, in its order
    venue_specs: list  # list of (kind, object): ("pool", Venue) or ("book", OrderBook)
    venue_coins: list[list[int]]
    plans: list[_ModelPlan]
    dt: float
    n_steps: int
    lp_tokens: list[tuple[int, int, float]]  # (asset index, venue index, LP supply)
    # (asset index, plan index, loss elasticity, market value at the start): tokens priced from their protocol's loss
    protocol_tokens: list[tuple[int, int, float, float]] = field(default_factory=list)

    @property
    def protocols(self) -> list[ProtocolModel]:
        return [p.model for p in self.plans]

    @cached_property
    def policies(self):  # type: ignore[no-untyped-def]
        """The scenario's ``[[policies]]`` planned once (:class:`firesale.policies.PolicyPlan`), or None without
        any: then the step takes no other branch."""
        if not self.scenario.spec.policies:
            return None
        from firesale.policies import PolicyPlan

        return PolicyPlan.build(self)

    @classmethod
    def build(cls, scenario: Scenario, kernel: str = "numba") -> Blueprint:
        spec = scenario.spec
        assets = [a.name for a in spec.assets]
        aidx = {n: i for i, n in enumerate(assets)}
        price0 = np.array([a.price for a in spec.assets])
        parents = [aidx[a.derived_from] if a.derived_from else -1 for a in spec.assets]
        # The market drives the primary assets it names; naming none (one number for all) drives every primary
        # asset. Assets it does not drive hold their starting price (stablecoins, unless a replay moves them).
        referenced = spec.market.referenced_assets()
        primary = [n for n, p in zip(assets, parents, strict=True) if p < 0]
        market_assets = [aidx[n] for n in primary if n in referenced or not referenced]

        venue_specs: list = []
        venue_coins: list[list[int]] = []
        for v in spec.venues:
            if isinstance(v, OrderBookSpec):
                book = OrderBook(
                    name=v.name, asset=v.asset, depth_usd=v.depth_usd, depth_move=v.depth_move,
                    exponent=1.0 if v.impact == "linear" else 0.5, permanent=v.permanent, half_life=v.half_life,
                )  # fmt: skip
                venue_specs.append(("book", book))
                venue_coins.append([aidx[v.asset]])
            else:
                from firesale.liquidity.build import build_pool

                venue_specs.append(("pool", build_pool(v, scenario.base_dir)))
                venue_coins.append([aidx[c] for c in v.coins])
        vidx = {v.name: i for i, v in enumerate(spec.venues)}
        oidx = {o.name: i for i, o in enumerate(spec.oracles)}
        plans = []
        for p in spec.protocols:
            model = protocol_type(p.type).build(p, scenario, kernel=kernel)
            plans.append(
                _ModelPlan(
                    model=model,
                    assets=np.array([aidx[a] for a in model.assets]),
                    oracles=[oidx.get(o, -1) for o in model.oracles],  # -1: no oracle, the market price
                    venues=[[vidx[v] for v in vs] for vs in model.sale_venues],
                    # Issued tokens the scenario declares as assets are priced from the issuer's books; others are
                    # held by nobody in this world.
                    issued=[
                        (aidx[t.name], model.assets.index(t.underlying))
                        for t in model.issued
                        if t.name in aidx
                    ],
                )
            )
        lp_tokens = [(aidx[a.name], vidx[a.lp_of], a.lp_supply) for a in spec.assets if a.lp_of is not None]
        pidx = {p.name: i for i, p in enumerate(spec.protocols)}
        protocol_tokens = [
            (aidx[a.name], pidx[a.token_of], 1.0 if a.loss_elasticity is None else a.loss_elasticity,
             a.price * a.token_supply)
            for a in spec.assets if a.token_of is not None
        ]  # fmt: skip
        return cls(
            scenario=scenario, assets=assets, price0=price0, parents=parents, market_assets=market_assets,
            venue_specs=venue_specs, venue_coins=venue_coins, plans=plans, dt=spec.simulation.dt,
            n_steps=spec.simulation.n_steps, lp_tokens=lp_tokens, protocol_tokens=protocol_tokens,
        )  # fmt: skip

    def exogenous_prices(self, relatives: np.ndarray) -> np.ndarray:
        """USD prices of every asset, (n_paths, n_steps + 1, n_assets), from the market model's relatives."""
        n_paths, n_t, _ = relatives.shape
        out = np.empty((n_paths, n_t, len(self.assets)))
        done = [False] * len(self.assets)
        for k, a in enumerate(self.market_assets):
            out[:, :, a] = self.price0[a] * relatives[:, :, k]
            done[a] = True
        for a, parent in enumerate(self.parents):
            if parent < 0 and not done[a]:
                out[:, :, a] = self.price0[a]  # not driven by the market model: holds its price
                done[a] = True
        # Derived assets follow their parent's relative path (cycles are rejected on load).
        while not all(done):
            for a, parent in enumerate(self.parents):
                if not done[a] and done[parent]:
                    out[:, :, a] = out[:, :, parent] * (self.price0[a] / self.price0[parent])
                    done[a] = True
        return out
