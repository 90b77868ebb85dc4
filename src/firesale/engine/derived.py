"""Derived token prices inside the step: a bounded fixed point, because protocols may hold each other's tokens.

Three kinds, all written into the world's exogenous prices of the step (``World.exo_now``) so every venue, oracle
and protocol reads them as it reads any price:

* LP tokens (``assets.*.lp_of``): the pool's value at market prices over the LP supply;
* protocol tokens (``assets.*.token_of``): the market price times ``max(0, 1 - elasticity * uncovered loss /
  value at the start)``; the holders bear what the protocol's reserves do not cover (Maker's Flop dilutes MKR
  for exactly that, makerdao/dss ``src/flop.sol``);
* tokens a protocol issues (receipt tokens): from its books (:meth:`firesale.protocols.ProtocolModel.token_prices`).

With the ``derived`` contagion channel cut (a counterfactual), protocol and issued tokens track their market or
underlying instead. A cycle that does not settle in :data:`ITERATIONS` raises, naming the step and the paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from firesale.exceptions import SimulationError

if TYPE_CHECKING:
    from firesale.engine._world import World

__all__ = ["ITERATIONS", "TOLERANCE", "reprice"]

#: Fixed point: at most this many iterations, until no price moves by more than the relative tolerance.
ITERATIONS, TOLERANCE = 50, 1e-12


def reprice(world: World) -> np.ndarray:
    """Set every derived token's price to the fixed point; return the market prices (n_paths, n_assets)."""
    bp, derived = world.bp, "derived" in world.channels
    market = world.market_prices()
    for _ in range(ITERATIONS):
        change = np.zeros(world.n_paths)

        def put(token: int, new: np.ndarray) -> None:
            nonlocal change
            old = world.exo_now[:, token]
            change = np.maximum(change, np.abs(new - old) / np.maximum(np.abs(old), 1e-300))
            world.exo_now[:, token] = new

        for token, k, supply in bp.lp_tokens:
            put(token, world.venues.pool_value(k, market) / supply)
        for j, (token, pi, elasticity, value0) in enumerate(bp.protocol_tokens):
            plan = bp.plans[pi]
            uncovered = plan.model.account(world.states[pi], market[:, plan.assets]).uncovered_usd
            world.loss_factor[:, j] = (
                np.maximum(0.0, 1.0 - elasticity * uncovered / value0) if derived else 1.0
            )
            put(token, world.exo[:, world.t, token] * world.loss_factor[:, j])
        for plan, state in zip(bp.plans, world.states, strict=True):
            if not plan.issued:
                continue
            mkt = market[:, plan.assets]
            prices = plan.model.token_prices(state, mkt, plan.model.account(state, mkt))
            names = [t.name for t in plan.model.issued if t.name in bp.assets]
            for (token, under), name in zip(plan.issued, names, strict=True):
                put(token, prices[name] if derived else mkt[:, under])
        market = world.market_prices()
        if not (change > TOLERANCE).any():
            return market
    paths = np.flatnonzero(change > TOLERANCE) + world.first_path
    shown = ", ".join(str(p) for p in paths[:10]) + (", ..." if paths.size > 10 else "")
    raise SimulationError(
        f"derived token prices did not converge at step {world.t} on {paths.size} path(s) ({shown}) after "
        f"{ITERATIONS} iterations (a cross-holding cycle with no fixed point)"
    )
