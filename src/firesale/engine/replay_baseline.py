"""A replay's prices already contain the real market's flows: count only what the simulated flows add to them.

With ``market.impact = "deviation"`` (the default of a replay) each batch first runs with every protocol's sales
and purchases absorbed outside the venues (``World(absorb_sales=True)``): what it sells and buys at the replayed
prices are the flows those prices are taken to contain (:func:`baseline_flows`). The run then adds their impact
back each step, after arbitrage and before its own flows (:func:`add_back_baseline`): a baseline sale is bought
back through the venues it would use (:meth:`firesale.liquidity.venues.VenueSet.add_back`), a baseline purchase
sold. Where the simulated flows equal the baseline, the replayed price is kept; only the deviation moves it.
Nobody's books change: it corrects the replayed market, it is not a trade anyone makes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from firesale.engine._blueprint import Blueprint
    from firesale.engine._world import World

__all__ = ["add_back_baseline", "baseline_flows"]


def baseline_flows(bp: Blueprint, exo: np.ndarray, gas: np.ndarray, seed: int,
                   blocks: range) -> list[dict[str, np.ndarray]] | None:  # fmt: skip
    """The baseline pass of a batch: per model, ``sell`` and ``buy`` of shape (n_paths, n_steps + 1,
    n_model_assets); None when the market is not a replay counted by deviation (or there is no protocol)."""
    if getattr(bp.scenario.spec.market, "impact", None) != "deviation" or not bp.plans:
        return None
    from firesale.engine._world import World

    first = World(bp, exo, gas, seed=seed, blocks=blocks, absorb_sales=True)
    for _ in range(bp.n_steps):
        first.step()
    return first.flow_log


def add_back_baseline(world: World, t: int) -> None:
    """Undo the impact of the baseline's sales (and purchases) of step ``t`` on the venues they would use."""
    market = world.market_prices()
    for plan, log in zip(world.bp.plans, world.baseline, strict=True):  # type: ignore[arg-type]
        for r, a in enumerate(plan.assets):
            if log["sell"][:, t, r].any():
                world.venues.add_back(int(a), log["sell"][:, t, r], plan.venues[r], market, world.exo_now)
            if log["buy"][:, t, r].any():  # a purchase's impact is undone by a sale whose proceeds go nowhere
                world.venues.sell(int(a), log["buy"][:, t, r], plan.venues[r], market, world.exo_now)
