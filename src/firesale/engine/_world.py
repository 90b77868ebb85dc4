"""The world of one batch of paths: prices, venues, oracles, lending markets, and the step that moves them.

Per step (``World.step``):

1. temporary off-chain impact decays; liquidity providers withdraw or return (evaporation);
2. arbitrageurs pull every pool towards the market price; their off-chain legs move the off-chain markets;
3. gas price follows the gas asset's move; oracles are poked (heartbeats, OSM hops, TWAP samples);
4. the cascade: health checks and liquidations in every lending market, the seized collateral sold through venues,
   arbitrage again, oracles see the moved price (deviation updates), repeated until no liquidation happens on any
   path or ``max_cascade_rounds`` is reached;
5. accounting: bad debt at market prices, failure flags, recorded series.

Python loops run over steps, cascade rounds, protocols, reserves and venues; never over paths or positions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from firesale.engine.cohorts import merge_cohorts
from firesale.engine.kernels import underwater_usd
from firesale.exceptions import SimulationError
from firesale.liquidity import VenueState
from firesale.liquidity.orderbook import OrderBook
from firesale.oracle.feeds import OracleFeed
from firesale.protocols.lending import LendingParams, RoundOutput, Screen
from firesale.scenario._loader import Scenario
from firesale.scenario.schema import OrderBookSpec

__all__ = ["Blueprint", "World"]

_SALE_CHUNKS = (
    4  # seized collateral is routed in this many slices, each to the venue paying most at that moment
)

RoundFn = Callable[..., RoundOutput]


@dataclass(frozen=True)
class _Protocol:
    name: str
    reserve_assets: np.ndarray  # asset index of each reserve
    reserve_oracles: list[int]  # oracle index of each reserve
    reserve_venues: list[list[int]]  # venue indices (pools and books) where each reserve is sold
    params: LendingParams
    collateral0: np.ndarray
    debt0: np.ndarray
    buffer_usd: float


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
    oracle_specs: list
    oracle_sources: list[list[int]]  # for medians
    oracle_venue: list[int]  # for twaps, -1 otherwise
    protocols: list[_Protocol]
    dt: float
    n_steps: int

    @classmethod
    def build(cls, scenario: Scenario) -> Blueprint:
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
        oracle_specs = spec.oracles
        oracle_sources = [[oidx[s] for s in o.sources] for o in spec.oracles]
        oracle_venue = [vidx[o.venue] if o.venue else -1 for o in spec.oracles]

        protocols = []
        for p in spec.protocols:
            pos = scenario.positions[p.name]
            names = list(p.reserves)
            rs = [p.reserves[n] for n in names]
            lt = np.tile([r.liquidation_threshold for r in rs], (pos.n_accounts, 1))
            bonus = np.tile([r.liquidation_bonus for r in rs], (pos.n_accounts, 1))
            for (
                cid,
                cat,
            ) in p.emode.items():  # accounts in a category use its threshold and bonus on its collateral
                rows = pos.emode == cid
                for a in cat.collateral:
                    lt[rows, names.index(a)] = cat.liquidation_threshold
                    bonus[rows, names.index(a)] = cat.liquidation_bonus
            weight = None
            if spec.simulation.cohorts:
                reserve_prices = np.array([price0[aidx[n]] for n in names])
                pos, weight, rows = merge_cohorts(pos, lt, reserve_prices, spec.simulation.cohort_bin)
                first = np.unique(rows, return_index=True)[1]
                lt, bonus = lt[first], bonus[first]
            is_compound = p.type == "compound_v2"
            params = LendingParams(
                liquidation_threshold=np.ascontiguousarray(lt),
                liquidation_bonus=np.ascontiguousarray(bonus),
                protocol_fee=np.array([r.liquidation_protocol_fee for r in rs]),
                close_factor=p.close_factor,
                close_factor_hf_threshold=0.0 if is_compound else p.close_factor_hf_threshold,
                weight=weight,
                fee_on_seized=is_compound,
            )
            protocols.append(
                _Protocol(
                    name=p.name,
                    reserve_assets=np.array([aidx[n] for n in names]),
                    reserve_oracles=[oidx[r.oracle] for r in rs],
                    reserve_venues=[[vidx[v] for v in r.venues] for r in rs],
                    params=params,
                    collateral0=pos.collateral,
                    debt0=pos.debt,
                    buffer_usd=p.reserve_usd,
                )
            )
        return cls(
            scenario=scenario, assets=assets, price0=price0, parents=parents, market_assets=market_assets,
            venue_specs=venue_specs, venue_coins=venue_coins, oracle_specs=oracle_specs,
            oracle_sources=oracle_sources, oracle_venue=oracle_venue, protocols=protocols,
            dt=spec.simulation.dt, n_steps=spec.simulation.n_steps,
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


class World:
    """The mutable state of one batch of paths; ``step`` advances it by one time step."""

    def __init__(
        self, bp: Blueprint, exo: np.ndarray, round_fn: RoundFn, gas_gwei: np.ndarray, debug: bool = False
    ) -> None:
        spec = bp.scenario.spec
        self.bp, self.exo, self.round_fn = bp, exo, round_fn
        self.n_paths = exo.shape[0]
        n = self.n_paths
        self.t = 0
        self.agents = spec.agents
        self.gas_gwei_path = gas_gwei  # (n_paths, n_steps + 1)
        self.gas_asset = _gas_asset(bp)
        # Venues.
        self.states: list[VenueState | None] = []
        self.book_v: dict[int, np.ndarray] = {}
        self.book_perm: dict[int, np.ndarray] = {}
        self.book_of_asset: dict[int, int] = {}
        for k, (kind, obj) in enumerate(bp.venue_specs):
            if kind == "pool":
                self.states.append(obj.init_state(n))
            else:
                self.states.append(None)
                self.book_v[k], self.book_perm[k] = np.zeros(n), np.zeros(n)
                self.book_of_asset[bp.venue_coins[k][0]] = k
        self.liq_factor = np.ones((n, len(bp.venue_specs)))
        self.depth0 = (
            np.stack([self._depth(k) for k in range(len(bp.venue_specs))], axis=1) if bp.venue_specs else None
        )
        self.peak = exo[:, 0, :].copy()
        # Lending markets.
        # .copy(): a writable C-ordered array even when the broadcast view happens to be contiguous (one path).
        self.coll = [np.broadcast_to(p.collateral0, (n, *p.collateral0.shape)).copy() for p in bp.protocols]
        self.debt = [np.broadcast_to(p.debt0, (n, *p.debt0.shape)).copy() for p in bp.protocols]
        self.fees_usd = np.zeros((n, len(bp.protocols)))
        # Screens let the fused kernels skip accounts that provably need no look (see protocols.lending.Screen).
        shapes = [(n, *p.collateral0.shape) for p in bp.protocols]
        self.hf_screen = [Screen.empty(*shape) for shape in shapes]
        self.solvency_screen = [Screen.empty(*shape) for shape in shapes]
        self.debug = debug
        # Cumulative flows out of each market, per path and reserve: what conservation is checked against.
        self.out_coll = [np.zeros((n, len(p.reserve_assets))) for p in bp.protocols]
        self.out_debt = [np.zeros((n, len(p.reserve_assets))) for p in bp.protocols]
        # Oracles.
        self.feeds: list[OracleFeed] = []
        for o in bp.oracle_specs:
            window_steps = max(1, round(o.window / bp.dt)) if o.type == "twap" else 1
            feed = OracleFeed(
                name=o.name, asset=o.asset, kind=o.type, heartbeat=o.heartbeat, deviation=o.deviation_bps / 1e4,
                delay=o.delay, window_steps=window_steps, min_answer=o.min_answer, max_answer=o.max_answer,
                faults=[(f.kind, f.start, f.end, f.factor) for f in o.faults],
            )  # fmt: skip
            self.feeds.append(feed)
        self.asset_idx = {a: i for i, a in enumerate(bp.assets)}
        market = self.market_prices()
        for k, feed in enumerate(self.feeds):
            if feed.kind != "median":
                feed.start(self._oracle_source(k, market))
        for k, feed in enumerate(self.feeds):
            if feed.kind == "median":
                feed.start(self._median(k, 0.0))
        # Per-path accumulators.
        z = np.zeros
        self.m = {
            "liquidated_usd": z(n), "n_liquidations": z(n, dtype=np.int64), "liquidator_profit_usd": z(n),
            "slippage_usd": z(n), "gas_usd": z(n), "max_cascade_rounds": z(n, dtype=np.int64),
            "first_bad_debt_step": np.full(n, -1, dtype=np.int64), "bad_debt_peak_usd": z(n),
            "steps_liquidity_flag": z(n, dtype=np.int64), "steps_unclearable_flag": z(n, dtype=np.int64),
            "steps_oracle_flag": z(n, dtype=np.int64), "steps_in_failure_state": z(n, dtype=np.int64),
            "unserved_accounts_max": z(n, dtype=np.int64), "attack_cost_usd": z(n),
        }  # fmt: skip
        self.attack_open: dict[int, tuple[int, int, np.ndarray]] = {}
        self.min_ratio = np.ones((n, len(bp.assets)))
        self.bad_debt_by_protocol = np.zeros((n, len(bp.protocols)))
        self.last_flags = np.zeros((n, 3), dtype=bool)
        self.last_rounds = np.zeros(n, dtype=np.int64)
        self.last_liquidated = np.zeros(n)

    # ----- prices ---------------------------------------------------------------------------------------------
    def _book_depth(self, k: int) -> np.ndarray:
        obj: OrderBook = self.bp.venue_specs[k][1]
        return obj.depth_usd * np.maximum(self.liq_factor[:, k], 1e-12)

    def market_prices(self) -> np.ndarray:
        """Market price of every asset (n_paths, n_assets): exogenous price less off-chain impact."""
        m = self.exo[:, self.t, :].copy()
        for a, k in self.book_of_asset.items():
            book: OrderBook = self.bp.venue_specs[k][1]
            m[:, a] *= np.exp(-book.log_impact(self.book_v[k], self.book_perm[k], self._book_depth(k)))
        return m

    def _depth(self, k: int) -> np.ndarray:
        kind, obj = self.bp.venue_specs[k]
        if kind == "book":
            return self._book_depth(k)
        return obj.depth(self.states[k])

    # ----- venues ---------------------------------------------------------------------------------------------
    def _arbitrage(self, market: np.ndarray, paths: np.ndarray | None = None) -> None:
        """Arbitrage every pool towards the market price, on ``paths`` only if given (a mask)."""
        cap = (
            self.agents.arbitrage_capital_usd
            if paths is None
            else np.where(paths, self.agents.arbitrage_capital_usd, 0.0)
        )
        for k, (kind, venue) in enumerate(self.bp.venue_specs):
            if kind != "pool":
                continue
            coins = self.bp.venue_coins[k]
            j = 0
            for i in range(1, len(coins)):
                target = market[:, coins[i]] / market[:, coins[j]]
                d_i, d_j = venue.arbitrage(self.states[k], i, j, target, cap / market[:, coins[j]])
                # The arbitrageur's other leg happens off-chain: what it took from the pool it sells there.
                self._offchain(coins[i], -d_i, market)
                self._offchain(coins[j], -d_j, market)

    def _offchain(self, asset: int, amount: np.ndarray, market: np.ndarray) -> None:
        k = self.book_of_asset.get(asset)
        if k is None or not np.any(amount):
            return
        book: OrderBook = self.bp.venue_specs[k][1]
        book.trade(self.book_v[k], self.book_perm[k], amount * market[:, asset], self._book_depth(k))

    def _sell(self, asset: int, amount: np.ndarray, venues: list[int], market: np.ndarray) -> np.ndarray:
        """Sell ``amount`` of ``asset`` through ``venues``; return the USD proceeds per path."""
        if not venues:
            return amount * market[:, asset]  # no venue modelled: sold at the market price without impact
        proceeds = np.zeros(self.n_paths)
        chunk = amount / _SALE_CHUNKS
        exo = self.exo[:, self.t, asset]
        for _ in range(_SALE_CHUNKS):
            quotes = np.stack([self._quote(k, asset, market) for k in venues], axis=1)
            best = np.argmax(quotes, axis=1)
            for n, k in enumerate(venues):
                amt = np.where(best == n, chunk, 0.0)
                if not amt.any():
                    continue
                kind, venue = self.bp.venue_specs[k]
                if kind == "book":
                    factor = venue.trade(self.book_v[k], self.book_perm[k], amt * exo, self._book_depth(k))
                    proceeds += amt * exo * factor
                else:
                    coins = self.bp.venue_coins[k]
                    i = coins.index(asset)
                    j = 1 if i == 0 else 0
                    out = venue.swap(self.states[k], i, j, amt)
                    proceeds += out * market[:, coins[j]]
        return proceeds

    def _buy(self, asset: int, amount: np.ndarray, venues: list[int], market: np.ndarray) -> np.ndarray:
        """Buy ``amount`` of ``asset`` (debt to repay); return the USD cost per path.

        Bought on the asset's order book when the reserve lists one (its price rises with the buying); otherwise
        at the market price, without impact. Pools are not used for buying (they quote exact inputs only).
        """
        k = next((v for v in venues if self.bp.venue_specs[v][0] == "book"), None)
        if k is None:
            return amount * market[:, asset]
        book: OrderBook = self.bp.venue_specs[k][1]
        exo = self.exo[:, self.t, asset]
        factor = book.trade(self.book_v[k], self.book_perm[k], -amount * exo, self._book_depth(k))
        return amount * exo * factor

    def _quote(self, k: int, asset: int, market: np.ndarray) -> np.ndarray:
        kind, venue = self.bp.venue_specs[k]
        if kind == "book":
            return market[:, asset]
        coins = self.bp.venue_coins[k]
        i = coins.index(asset)
        j = 1 if i == 0 else 0
        fee = getattr(venue, "fee_bps", 0.0) / 1e4
        return venue.price(self.states[k], i, j) * market[:, coins[j]] * (1.0 - fee)

    def _evaporate(self, market: np.ndarray) -> None:
        ev = self.agents.evaporation
        if ev.sensitivity == 0:
            return
        np.maximum(self.peak, market, out=self.peak)
        decay = 0.5 ** (self.bp.dt / ev.return_half_life)
        for k, (kind, venue) in enumerate(self.bp.venue_specs):
            a = self.bp.venue_coins[k][0]
            drawdown = 1.0 - market[:, a] / self.peak[:, a]
            target = 1.0 - np.minimum(ev.max_withdraw, ev.sensitivity * drawdown)
            cur = self.liq_factor[:, k]
            new = np.where(target < cur, target, target - (target - cur) * decay)
            if kind == "pool":
                venue.scale_liquidity(self.states[k], new / cur)
            self.liq_factor[:, k] = new

    # ----- oracles --------------------------------------------------------------------------------------------
    def _oracle_source(self, k: int, market: np.ndarray) -> np.ndarray:
        feed = self.feeds[k]
        a = self.asset_idx[feed.asset]
        ref = self.bp.oracle_specs[k].reference_asset
        if ref is not None:  # exchange-rate oracle: the reference's price times the starting ratio
            r = self.asset_idx[ref]
            return market[:, r] * (self.bp.price0[a] / self.bp.price0[r])
        v = self.bp.oracle_venue[k]
        if feed.kind == "twap" and v >= 0:
            coins = self.bp.venue_coins[v]
            i = coins.index(a)
            j = 1 if i == 0 else 0
            return self.bp.venue_specs[v][1].price(self.states[v], i, j) * market[:, coins[j]]
        return market[:, a]

    def _median(self, k: int, time: float) -> np.ndarray:
        return np.median(
            np.stack([self.feeds[s].reported(time) for s in self.bp.oracle_sources[k]], axis=1), axis=1
        )

    def _poke_oracles(self, market: np.ndarray, step_start: bool) -> None:
        time = self.t * self.bp.dt
        for k, feed in enumerate(self.feeds):
            if feed.kind != "median":
                feed.poke(time, self._oracle_source(k, market), step_start)
        for k, feed in enumerate(self.feeds):
            if feed.kind == "median":
                feed.answer = self._median(k, time)

    # ----- the step -------------------------------------------------------------------------------------------
    def step(self) -> None:
        """Advance every path by one time step, cascade included."""
        bp, ag = self.bp, self.agents
        self.t += 1
        t, n = self.t, self.n_paths
        time = t * bp.dt
        for k in self.book_v:
            self.bp.venue_specs[k][1].decay(self.book_v[k], bp.dt)
        market = self.market_prices()
        self._evaporate(market)
        self._arbitrage(market)
        market = self.market_prices()
        self._attack(market, time)
        self._poke_oracles(market, step_start=True)
        gas_usd = self._gas_usd(market)

        slots = np.full(n, ag.max_liquidations_per_step, dtype=np.int64)
        capital = np.full(n, ag.liquidator_capital_usd)
        active = np.ones(n, dtype=bool)
        rounds = np.zeros(n, dtype=np.int64)
        unserved = np.zeros(n, dtype=np.int64)
        liquidated = np.zeros(n)
        for _ in range(bp.scenario.spec.simulation.max_cascade_rounds):
            did = np.zeros(n, dtype=bool)
            round_unserved = np.zeros(n, dtype=np.int64)
            for pi, proto in enumerate(bp.protocols):
                ra = proto.reserve_assets
                oracle = np.ascontiguousarray(
                    np.stack([self.feeds[o].reported(time) for o in proto.reserve_oracles], axis=1)
                )
                mkt = np.ascontiguousarray(market[:, ra])
                coef, expo = self._slippage_estimate(proto, market)
                out = self.round_fn(
                    self.coll[pi], self.debt[pi], oracle, mkt, proto.params, active, slots, capital,
                    gas_usd, coef, expo, ag.min_profit_usd, screen=self.hf_screen[pi],
                )  # fmt: skip
                self.solvency_screen[pi].dirty |= out.n_liquidations > 0
                round_unserved += out.n_unserved
                self.out_coll[pi] += out.seized + out.fee
                self.out_debt[pi] += out.repaid
                took = out.n_liquidations > 0
                if not took.any():
                    continue
                did |= took
                repaid_mkt = (out.repaid * mkt).sum(axis=1)
                proceeds = np.zeros(n)
                for r in range(len(ra)):
                    if out.seized[:, r].any():
                        before = out.seized[:, r] * market[:, ra[r]]
                        got = self._sell(int(ra[r]), out.seized[:, r], proto.reserve_venues[r], market)
                        self.m["slippage_usd"] += before - got
                        proceeds += got
                fee_usd = (out.fee * mkt).sum(axis=1)
                self.fees_usd[:, pi] += fee_usd
                self.m["liquidated_usd"] += repaid_mkt
                liquidated += repaid_mkt
                self.m["n_liquidations"] += out.n_liquidations
                gas = out.n_liquidations * gas_usd
                self.m["gas_usd"] += gas
                # Liquidators buy the debt they repay; through an order book that pushes its price up (a squeeze).
                cost = np.zeros(n)
                for r in range(len(ra)):
                    if out.repaid[:, r].any():
                        cost += self._buy(int(ra[r]), out.repaid[:, r], proto.reserve_venues[r], market)
                self.m["liquidator_profit_usd"] += proceeds - cost - gas
            unserved = np.where(active, round_unserved, unserved)
            if not did.any():
                break
            rounds += did
            self._arbitrage(self.market_prices(), did)  # only paths whose prices the sales moved
            market = self.market_prices()
            self._poke_oracles(market, step_start=False)
            active = did
        self._account(market, rounds, unserved, liquidated, time)
        if self.debug:
            self.check_conservation()

    def check_conservation(self) -> None:
        """Raise SimulationError unless every token is accounted for and no balance is negative."""
        for pi, proto in enumerate(self.bp.protocols):
            for name, now, start, out in (
                ("collateral", self.coll[pi], proto.collateral0, self.out_coll[pi]),
                ("debt", self.debt[pi], proto.debt0, self.out_debt[pi]),
            ):
                if (now < -1e-9 * np.maximum(start.max(), 1.0)).any():
                    raise SimulationError(f"{proto.name}: negative {name} balance at step {self.t}")
                gap = np.abs(now.sum(axis=1) + out - start.sum(axis=0))
                tol = 1e-9 * np.maximum(start.sum(axis=0), 1.0)
                if (gap > tol).any():
                    raise SimulationError(
                        f"{proto.name}: {name} not conserved at step {self.t} on {int((gap > tol).any(axis=1).sum())} "
                        f"path(s); largest gap {gap.max():.6g} tokens"
                    )
        for k, (kind, _) in enumerate(self.bp.venue_specs):
            if kind == "pool":
                for key, arr in self.states[k].arrays.items():
                    if (arr < 0).any():
                        raise SimulationError(
                            f"venue {self.bp.venue_specs[k][1].name}: negative {key} at step {self.t}"
                        )

    def _attack(self, market: np.ndarray, time: float) -> None:
        """Open and close oracle-manipulation trades (``[[attacks]]``); their cost accrues per path."""
        bp = self.bp
        for n, att in enumerate(bp.scenario.spec.attacks):
            k = next(i for i, v in enumerate(bp.scenario.spec.venues) if v.name == att.venue)
            venue, coins = bp.venue_specs[k][1], bp.venue_coins[k]
            i = coins.index(bp.assets.index(att.coin))
            j = 1 if i == 0 else 0
            opens = att.start <= time < att.start + bp.dt
            closes = att.start + att.duration <= time < att.start + att.duration + bp.dt
            if opens:
                give, get = (i, j) if att.side == "sell" else (j, i)
                amount = att.amount_usd / market[:, coins[give]]
                got = venue.swap(self.states[k], give, get, amount)
                self.m["attack_cost_usd"] += amount * market[:, coins[give]]
                self.attack_open[n] = (give, get, got)
            elif closes and n in self.attack_open:
                give, get, got = self.attack_open.pop(n)
                back = venue.swap(self.states[k], get, give, got)
                self.m["attack_cost_usd"] -= back * market[:, coins[give]]

    def _slippage_estimate(self, proto: _Protocol, market: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The liquidator's expected slippage per reserve, as ``coef * sale_usd ** exp`` for the lending kernel.

        From the order book when the reserve sells through one (its own curve); otherwise from the pools it sells
        into, each probed with a $1M sale on a copy of its state (fee, curvature and any discount to the market
        price included), linearised and combined as parallel routes (1/k = sum of 1/k_i).
        """
        coef = np.zeros((self.n_paths, len(proto.reserve_assets)))
        expo = np.ones(len(proto.reserve_assets))
        probe_usd = 1e6
        for r, a in enumerate(proto.reserve_assets):
            venues = proto.reserve_venues[r]
            k = self.book_of_asset.get(int(a))
            if k is not None and k in venues:
                book: OrderBook = self.bp.venue_specs[k][1]
                coef[:, r] = book.slippage_coefficient(self._book_depth(k))
                expo[r] = book.exponent
                continue
            inverse = np.zeros(self.n_paths)
            for v in venues:
                kind, venue = self.bp.venue_specs[v]
                if kind != "pool":
                    continue
                coins = self.bp.venue_coins[v]
                i = coins.index(int(a))
                j = 1 if i == 0 else 0
                got = venue.swap(self.states[v].copy(), i, j, probe_usd / market[:, a]) * market[:, coins[j]]
                slip = np.clip(1.0 - got / probe_usd, 1e-12, 1.0)
                inverse += probe_usd / slip
            if inverse.any():
                coef[:, r] = np.where(inverse > 0, 1.0 / np.where(inverse > 0, inverse, 1.0), 0.0)
        return coef, expo

    def _gas_usd(self, market: np.ndarray) -> np.ndarray:
        ag = self.agents
        if self.gas_asset < 0 or ag.gas_per_liquidation == 0:
            return np.zeros(self.n_paths)
        gwei = self.gas_gwei_path[:, self.t]
        return ag.gas_per_liquidation * gwei * 1e-9 * market[:, self.gas_asset]

    def _account(
        self,
        market: np.ndarray,
        rounds: np.ndarray,
        unserved: np.ndarray,
        liquidated: np.ndarray,
        time: float,
    ) -> None:
        bp, m = self.bp, self.m
        if not np.all(np.isfinite(market)):
            bad = ~np.isfinite(market)
            raise SimulationError(
                f"market prices went non-finite at step {self.t} on {int(bad.any(axis=1).sum())} path(s) "
                f"(assets: {[bp.assets[a] for a in np.flatnonzero(bad.any(axis=0))]})"
            )
        total = np.zeros(self.n_paths)
        for pi, proto in enumerate(bp.protocols):
            uw = underwater_usd(
                self.coll[pi], self.debt[pi], np.ascontiguousarray(market[:, proto.reserve_assets]),
                self.solvency_screen[pi],
            )  # fmt: skip
            self.bad_debt_by_protocol[:, pi] = uw
            total += uw
        m["bad_debt_peak_usd"] = np.maximum(m["bad_debt_peak_usd"], total)
        first = (m["first_bad_debt_step"] < 0) & (total > 1e-6)
        m["first_bad_debt_step"][first] = self.t
        m["max_cascade_rounds"] = np.maximum(m["max_cascade_rounds"], rounds)
        m["unserved_accounts_max"] = np.maximum(m["unserved_accounts_max"], unserved)
        np.minimum(self.min_ratio, market / bp.price0, out=self.min_ratio)
        liq_flag = np.zeros(self.n_paths, dtype=bool)
        frac = bp.scenario.spec.failure_liquidity_fraction
        for k in range(len(bp.venue_specs)):
            liq_flag |= self._depth(k) < frac * self.depth0[:, k]
        oracle_flag = np.zeros(self.n_paths, dtype=bool)
        dev = bp.scenario.spec.failure_oracle_deviation
        for feed in self.feeds:
            a = self.asset_idx[feed.asset]
            rep = feed.reported(time)
            oracle_flag |= np.abs(rep - market[:, a]) > dev * market[:, a]
            if feed.faulted(time):
                oracle_flag[:] = True
        clear_flag = unserved > 0
        m["steps_liquidity_flag"] += liq_flag
        m["steps_unclearable_flag"] += clear_flag
        m["steps_oracle_flag"] += oracle_flag
        m["steps_in_failure_state"] += (liq_flag.astype(int) + clear_flag + oracle_flag) >= 2
        self.last_flags = np.stack([liq_flag, clear_flag, oracle_flag], axis=1)
        self.last_rounds = rounds
        self.last_liquidated = liquidated
        self.last_market = market

    def final_metrics(self) -> dict[str, np.ndarray]:
        """Per-path metrics at the end of the horizon."""
        out = dict(self.m)
        out["protocol_fees_usd"] = self.fees_usd.sum(axis=1)
        total = self.bad_debt_by_protocol.sum(axis=1)
        out["bad_debt_usd"] = total
        for pi, proto in enumerate(self.bp.protocols):
            out[f"bad_debt_usd_{proto.name}"] = self.bad_debt_by_protocol[:, pi].copy()
        buffers = np.array([p.buffer_usd for p in self.bp.protocols]) + self.fees_usd
        out["insolvent"] = (self.bad_debt_by_protocol > buffers + 1e-9).any(axis=1)
        market = self.last_market
        for pi, proto in enumerate(self.bp.protocols):
            # Reserves (and liquidation fees earned) absorb bad debt first.
            out[f"reserves_used_usd_{proto.name}"] = np.minimum(
                self.bad_debt_by_protocol[:, pi], buffers[:, pi]
            )
            # Bad debt by debt asset: each underwater account's shortfall, split over its debts by value.
            prices = market[:, proto.reserve_assets]
            debt_val = self.debt[pi] * prices[:, None, :]
            total_debt = debt_val.sum(axis=2)
            shortfall = np.maximum(total_debt - (self.coll[pi] * prices[:, None, :]).sum(axis=2), 0.0)
            share = np.divide(
                debt_val, total_debt[..., None], out=np.zeros_like(debt_val), where=total_debt[..., None] > 0
            )
            by_asset = (shortfall[..., None] * share).sum(axis=1)
            for r, a in enumerate(proto.reserve_assets):
                if proto.debt0[:, r].any():
                    out[f"bad_debt_usd_{proto.name}_{self.bp.assets[a]}"] = by_asset[:, r]
        for a, name in enumerate(self.bp.assets):
            out[f"min_price_ratio_{name}"] = self.min_ratio[:, a].copy()
            out[f"min_exo_ratio_{name}"] = (self.exo[:, :, a] / self.bp.price0[a]).min(axis=1)
        return out


def _gas_asset(bp: Blueprint) -> int:
    ag = bp.scenario.spec.agents
    if ag.gas_asset is not None:
        return bp.assets.index(ag.gas_asset)
    for name in ("ETH", "WETH"):
        if name in bp.assets:
            return bp.assets.index(name)
    return -1
