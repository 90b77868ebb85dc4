"""What a run records: every requested series' value on every path at every step (``[simulation] record``).

:class:`Recorder` takes each step's values from the world after its cascade into float32 arrays of shape
(paths, steps + 1): market prices, bad debt, flags, oracle answers, venue depth and slippage, staleness, unserved
liquidations, coverage (the names in :data:`firesale.scenario.schema.RECORDABLE`) and each protocol's own series.
:func:`recorded_variables` counts them; :func:`firesale.engine.simulate.estimate_memory` sizes a run by it.
"""

from __future__ import annotations

import numpy as np

from firesale.engine._world import World
from firesale.liquidity._venue import VenueState
from firesale.scenario import Scenario

__all__ = ["SLIPPAGE_SIZES_USD", "Recorder", "recorded_variables"]

#: Sale sizes (USD at market) at which ``"slippage"`` is recorded: ``slippage_<size>_<asset>@<venue>`` is the share
#: of the market value lost selling that much of the asset into that venue alone, fee included, on a copy of it.
SLIPPAGE_SIZES_USD = (1e5, 1e6, 1e7)


def recorded_variables(scenario: Scenario) -> int:
    """How many per-path series a run of ``scenario`` records (``result.paths`` keys), each (n_steps + 1) long."""
    spec = scenario.spec
    record = set(spec.simulation.record)
    n = 2 * len(spec.assets) * ("price" in record) + len(record & {"bad_debt", "liquidated", "rounds"})
    n += (
        3 * ("flags" in record)
        + len(spec.oracles) * ("oracle" in record)
        + len(spec.venues) * ("depth" in record)
        + len(spec.oracles) * (("staleness" in record) + ("oracle_deviation" in record))
        + 2 * ("unserved" in record)
        + len(spec.protocols) * ("coverage" in record)
    )
    if "slippage" in record:
        from firesale.protocols import protocol_type

        models = [protocol_type(p.type).build(p, scenario) for p in spec.protocols]
        pairs = {(a, v) for m in models for a, vs in zip(m.assets, m.sale_venues, strict=True) for v in vs}
        n += len(SLIPPAGE_SIZES_USD) * len(pairs)
    own = [r for r in record if "." in r]
    if own:
        from firesale.protocols import protocol_type

        for p in spec.protocols:
            if f"{p.name}.*" in record:
                n += len(protocol_type(p.type).build(p, scenario).series())
            else:
                n += sum(r.startswith(f"{p.name}.") for r in own)
    return n


def _float32(x: np.ndarray) -> np.ndarray:
    """``x`` as recorded (float32), an "infinitely deep" venue (depth_usd = 1e300) held at float32's largest value."""
    return np.minimum(x, np.finfo(np.float32).max)


class Recorder:
    """Keeps the per-path value of each recorded variable at every step (float32)."""

    def __init__(self, record: list[str], world: World, n_paths: int, n_steps: int) -> None:
        self.record = record
        self.arrays: dict[str, np.ndarray] = {}
        bp = world.bp
        shape = (n_paths, n_steps + 1)
        if "price" in record:
            for a, name in enumerate(bp.assets):
                self.arrays[f"price_{name}"] = np.empty(shape, dtype=np.float32)
                self.arrays[f"price_{name}"][:, 0] = bp.price0[a]
                self.arrays[f"exo_price_{name}"] = world.exo[:, :, a].astype(np.float32)
        for name in ("bad_debt", "liquidated", "rounds"):
            if name in record:
                self.arrays[name] = np.zeros(shape, dtype=np.float32)
        if "flags" in record:
            for f in ("flag_liquidity", "flag_unclearable", "flag_oracle"):
                self.arrays[f] = np.zeros(shape, dtype=np.float32)
        if "oracle" in record:
            for k, feed in enumerate(world.oracles.feeds):
                self.arrays[f"oracle_{feed.name}"] = np.empty(shape, dtype=np.float32)
                self.arrays[f"oracle_{feed.name}"][:, 0] = world.oracles.reported(k, 0.0)
        if "depth" in record:
            for k, venue in enumerate(bp.scenario.spec.venues):
                self.arrays[f"depth_{venue.name}"] = np.empty(shape, dtype=np.float32)
                self.arrays[f"depth_{venue.name}"][:, 0] = _float32(world.venues.depth(k))
        if "slippage" in record:  # each (venue, collateral sold on it) once
            pairs = sorted(
                {(k, int(p.assets[r])) for p in bp.plans for r, vs in enumerate(p.venues) for k in vs}
            )
            self.slippage = [
                (k, a, [f"slippage_{size:.0f}_{bp.assets[a]}@{bp.scenario.spec.venues[k].name}"
                        for size in SLIPPAGE_SIZES_USD])
                for k, a in pairs
            ]  # fmt: skip
            for _, _, names in self.slippage:
                for name in names:
                    self.arrays[name] = np.empty(shape, dtype=np.float32)
            self._take_slippage(world, 0)
        if "staleness" in record:  # the answer each feed last reported and when it last wrote or changed it
            self.answers = [world.oracles.reported(k, 0.0).copy() for k in range(len(world.oracles.feeds))]
            self.changed = [np.zeros(n_paths) for _ in world.oracles.feeds]
            for feed in world.oracles.feeds:
                self.arrays[f"staleness_{feed.name}"] = np.zeros(shape, dtype=np.float32)
        if "oracle_deviation" in record:
            for feed in world.oracles.feeds:
                self.arrays[f"oracle_deviation_{feed.name}"] = np.empty(shape, dtype=np.float32)
            self._take_deviation(world, 0)
        if "unserved" in record:
            self.arrays["unserved"] = np.zeros(shape, dtype=np.float32)
            self.arrays["unserved_share"] = np.zeros(shape, dtype=np.float32)
        if "coverage" in record:
            for plan in bp.plans:
                self.arrays[f"coverage_{plan.model.name}"] = np.empty(shape, dtype=np.float32)
            self._take_coverage(world, 0)
        # A protocol's own series, "<protocol>.<series>" ("<protocol>.*": all it offers); the loader checked them.
        self.own: list[tuple[int, str, str]] = []
        for pi, plan in enumerate(bp.plans):
            offered = plan.model.series()
            for key in offered:
                name = f"{plan.model.name}.{key}"
                if name in record or f"{plan.model.name}.*" in record:
                    self.own.append((pi, key, name))
                    self.arrays[name] = np.empty(shape, dtype=np.float32)
        self._take_own(world, 0)

    def _take_own(self, world: World, t: int) -> None:
        for pi, key, name in self.own:
            plan = world.bp.plans[pi]
            market = world.accounting.last_market[:, plan.assets]
            self.arrays[name][:, t] = plan.model.record(world.states[pi], key, market)

    def _take_coverage(self, world: World, t: int) -> None:
        # Through the protocol contract (ProtocolModel.account, protocols/base.py): reserves_usd (reserves,
        # insurance, fees earned) over bad_debt_usd; below 1 the bad debt exceeds them (Accounts.uncovered_usd > 0).
        # No bad debt: infinite cover, recorded at float32's largest value as an infinitely deep venue is.
        for pi, plan in enumerate(world.bp.plans):
            acc = plan.model.account(world.states[pi], world.accounting.last_market[:, plan.assets])
            with np.errstate(divide="ignore", invalid="ignore"):
                cover = np.where(acc.bad_debt_usd > 0, acc.reserves_usd / acc.bad_debt_usd, np.inf)
            self.arrays[f"coverage_{plan.model.name}"][:, t] = _float32(cover)

    def _take_slippage(self, world: World, t: int) -> None:
        sizes = np.array(SLIPPAGE_SIZES_USD)
        market, vs = world.accounting.last_market, world.venues
        for k, a, names in self.slippage:
            # What VenueSet.sale_curves quotes for one sale of each size into venue k alone, on a copy of that venue
            # only (nothing here moves a venue): a book in closed form, a pool by one swap (every size at once: the
            # pool's state repeated once per size along the path axis).
            if vs.is_pool(k):
                venue, (i, j), m = vs.venues[k][1], vs.pair(k, a), len(SLIPPAGE_SIZES_USD)
                state = vs.states[k]
                assert state is not None  # a pool's
                trial = VenueState({key: np.concatenate([v] * m, axis=0) for key, v in state.arrays.items()})
                with np.errstate(divide="ignore", invalid="ignore"):
                    dx = np.where(market[:, a] > 0, np.array(SLIPPAGE_SIZES_USD)[:, None] / market[:, a], 0.0)
                out = venue.swap(trial, i, j, dx.reshape(-1)).reshape(m, -1)
                curve = (out * market[:, vs.coins[k][j]]).T
            else:  # one trade of each size: filled at the mean of the log impacts before and after it
                curve = np.stack(
                    [vs._book_curve(k, a, np.array([0.0, size]), market, world.exo_now)[:, 1]
                     for size in SLIPPAGE_SIZES_USD], axis=1,
                )  # fmt: skip
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = np.where(market[:, a, None] > 0, 1.0 - curve / sizes[None, :], np.nan)
            for s, name in enumerate(names):
                self.arrays[name][:, t] = loss[:, s]

    def _take_deviation(self, world: World, t: int) -> None:
        market = world.accounting.last_market
        for k, feed in enumerate(world.oracles.feeds):
            m = market[:, world.oracles.asset[k]]
            with np.errstate(divide="ignore", invalid="ignore"):
                dev = np.abs(world.oracles.reported(k, t * world.bp.dt) / m - 1.0)
            self.arrays[f"oracle_deviation_{feed.name}"][:, t] = _float32(dev)

    def _take_staleness(self, world: World, t: int) -> None:
        time = t * world.bp.dt
        for k, feed in enumerate(world.oracles.feeds):
            answer = world.oracles.reported(k, time)
            last = np.where(answer != self.answers[k], time, self.changed[k])
            written = world.oracles.last_written(k, time)
            self.changed[k] = last if written is None else np.maximum(last, written)
            self.answers[k] = answer.copy()
            self.arrays[f"staleness_{feed.name}"][:, t] = time - self.changed[k]

    def take(self, world: World) -> None:
        t = world.t
        acc = world.accounting
        if "price" in self.record:
            for a, name in enumerate(world.bp.assets):
                self.arrays[f"price_{name}"][:, t] = acc.last_market[:, a]
        if "bad_debt" in self.record:
            self.arrays["bad_debt"][:, t] = acc.bad_debt()
        if "liquidated" in self.record:
            self.arrays["liquidated"][:, t] = acc.last_liquidated
        if "rounds" in self.record:
            self.arrays["rounds"][:, t] = acc.last_rounds
        if "flags" in self.record:
            for k, f in enumerate(("flag_liquidity", "flag_unclearable", "flag_oracle")):
                self.arrays[f][:, t] = acc.last_flags[:, k]
        if "oracle" in self.record:
            for k, feed in enumerate(world.oracles.feeds):
                self.arrays[f"oracle_{feed.name}"][:, t] = world.oracles.reported(k, t * world.bp.dt)
        if "depth" in self.record:
            for k, venue in enumerate(world.bp.scenario.spec.venues):
                self.arrays[f"depth_{venue.name}"][:, t] = _float32(world.venues.depth(k))
        if "slippage" in self.record:
            self._take_slippage(world, t)
        if "staleness" in self.record:
            self._take_staleness(world, t)
        if "oracle_deviation" in self.record:
            self._take_deviation(world, t)
        if "unserved" in self.record:
            u, done = acc.last_unserved, acc.last_actions
            self.arrays["unserved"][:, t] = u
            self.arrays["unserved_share"][:, t] = np.where(u > 0, u / np.maximum(u + done, 1), 0.0)
        if "coverage" in self.record:
            self._take_coverage(world, t)
        self._take_own(world, t)
