"""Actions: what a policy does to its protocol while in force, only through the protocol contract.

A protocol offers named controls (:meth:`firesale.protocols.ProtocolModel.controls`); an action calls them with
per-path values, and only when what it asks changes, so a run whose policies never fire never touches a model (its
models keep their fast paths, bit-identical to a run without policies).

- ``pause_liquidations``: :meth:`~firesale.protocols.ProtocolModel.pause_liquidations`. A reserve or pool pause
  stops every liquidation (Aave v3 ``ValidationLogic.validateLiquidationCall``: ``ReservePaused``); with
  ``below_health_factor = 0.95`` accounts below that health factor go on being liquidated, as Aave's
  ``PriceOracleSentinel`` allows (the same function: ``healthFactor < MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD``
  passes the sentinel; aave-dao/aave-v3-origin src/contracts/protocol/libraries/logic/ValidationLogic.sol).
- ``scale``: :meth:`~firesale.protocols.ProtocolModel.scale_parameter` by a constant factor (1 where not in force).
- ``scale_with_trigger``: the factor is the trigger's value over its threshold, rounded *up* to a multiple of 0.05
  (so a lending market runs its kernel once per distinct value, not once per path) and kept within
  ``[1, max_factor]``; on ``reserves.<asset>.liquidation_margin`` (1 - threshold) with a ``realised_volatility``
  trigger, the margin a position keeps above liquidation grows in proportion to volatility above the threshold,
  as exchange margins are set from volatility (CME SPAN scanning ranges).
- ``backstop``: :meth:`~firesale.protocols.ProtocolModel.add_reserves` once, when it comes in force: ``share`` of the
  protocol's debt at the start (USD at starting prices) becomes first-loss capital, absorbing bad debt before the
  protocol's depositors do (Aave's Umbrella / Safety Module, an insurance fund).
- ``pause_borrowing``: the lending market's ``pause_borrowing`` control: no new borrow where in force (Aave v3
  ``ValidationLogic.validateBorrow`` requires ``borrowingEnabled``); liquidations, repayments and top-ups go on.
- ``switch_oracle``: where in force, the protocol's oracle for ``asset`` answers with another configured feed of
  the same asset (:meth:`firesale.oracle.network.OracleNetwork.switch`), as Aave governance or a risk steward
  replaces an asset's source with ``AaveOracle.setAssetSources`` (aave-dao/aave-v3-origin
  ``src/contracts/misc/AaveOracle.sol``); lifted, the protocol reads its own feed again. Only an oracle no other
  protocol reads can be switched (the loader checks), so the switch is the protocol's alone.
- ``deploy_reserve``: once, when it comes in force, ``share`` of the protocol's starting debt (USD at starting
  prices) is deposited into pool ``venue`` in proportion to its holdings
  (:meth:`firesale.liquidity.VenueSet.add_liquidity`): protocol-owned liquidity, which LPs' withdrawals leave in
  place. The capital is a reserve the protocol holds for this, outside its first-loss reserves (its cost is the
  capital held idle until it is deposited, :mod:`firesale.policies.runner` records when).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from firesale.exceptions import SimulationError
from firesale.policies.spec import ActionSpec, TriggerSpec

__all__ = ["Action", "make_action"]

#: scale_with_trigger factors are rounded up to a multiple of this.
FACTOR_STEP = 0.05
_DEFAULT_MAX_FACTOR = 3.0


class Action(ABC):
    """One policy's action on one protocol; ``apply`` is called every step with where it is in force."""

    def __init__(self, spec: ActionSpec) -> None:
        self.spec = spec
        self.last: np.ndarray | None = None  # what was last asked of the model (None: nothing yet)

    @abstractmethod
    def wanted(self, in_force: np.ndarray, value: np.ndarray) -> np.ndarray:
        """What to ask of the model on each path."""

    @abstractmethod
    def send(self, model: Any, state: Any, wanted: np.ndarray) -> None:
        """Ask it of the model, through the protocol contract's controls."""

    def apply(
        self,
        model: Any,
        state: Any,
        in_force: np.ndarray,
        value: np.ndarray,
        market: np.ndarray | None = None,
    ) -> None:
        self.market = market  # the step's market prices (deploy_reserve values its deposit at them)
        if self.last is None and not in_force.any():
            return  # never in force yet: the model is left alone
        wanted = self.wanted(in_force, value)
        if self.last is not None and np.array_equal(wanted, self.last):
            return
        self.send(model, state, wanted)
        self.last = wanted


class Pause(Action):
    def wanted(self, in_force: np.ndarray, value: np.ndarray) -> np.ndarray:
        return in_force.copy()

    def send(self, model: Any, state: Any, wanted: np.ndarray) -> None:
        model.pause_liquidations(state, wanted, below_health_factor=self.spec.below_health_factor or 0.0)


class PauseBorrowing(Action):
    def wanted(self, in_force: np.ndarray, value: np.ndarray) -> np.ndarray:
        return in_force.copy()

    def send(self, model: Any, state: Any, wanted: np.ndarray) -> None:
        model.pause_borrowing(state, wanted)


class Scale(Action):
    def wanted(self, in_force: np.ndarray, value: np.ndarray) -> np.ndarray:
        return np.where(in_force, float(self.spec.factor), 1.0)  # type: ignore[arg-type]

    def send(self, model: Any, state: Any, wanted: np.ndarray) -> None:
        model.scale_parameter(state, str(self.spec.parameter), wanted)


class ScaleWithTrigger(Scale):
    def __init__(self, spec: ActionSpec, trigger: TriggerSpec) -> None:
        super().__init__(spec)
        self.threshold = float(trigger.threshold)  # type: ignore[arg-type]
        self.max_factor = spec.max_factor if spec.max_factor is not None else _DEFAULT_MAX_FACTOR

    def wanted(self, in_force: np.ndarray, value: np.ndarray) -> np.ndarray:
        steps = np.ceil(
            value / self.threshold / FACTOR_STEP - 1e-9
        )  # up: never less margin than the ratio asks
        factor = np.clip(steps * FACTOR_STEP, 1.0, self.max_factor)
        return np.where(in_force, factor, 1.0)


class Backstop(Action):
    def __init__(self, spec: ActionSpec, debt0_usd: np.ndarray) -> None:
        super().__init__(spec)
        self.capital = float(spec.share) * debt0_usd  # type: ignore[arg-type]

    def wanted(self, in_force: np.ndarray, value: np.ndarray) -> np.ndarray:
        return in_force | (self.last if self.last is not None else False)  # once deployed, it stays

    def send(self, model: Any, state: Any, wanted: np.ndarray) -> None:
        new = wanted & ~(self.last if self.last is not None else np.zeros_like(wanted))
        model.add_reserves(state, np.where(new, self.capital, 0.0))


class SwitchOracle(Action):
    def __init__(self, spec: ActionSpec, oracles: Any, own: int, to: int) -> None:
        super().__init__(spec)
        self.oracles, self.own, self.to = oracles, own, to

    def wanted(self, in_force: np.ndarray, value: np.ndarray) -> np.ndarray:
        return in_force.copy()

    def send(self, model: Any, state: Any, wanted: np.ndarray) -> None:
        self.oracles.switch(self.own, self.to, wanted)


class DeployReserve(Backstop):
    def __init__(self, spec: ActionSpec, debt0_usd: np.ndarray, venues: Any, venue: int) -> None:
        super().__init__(spec, debt0_usd)
        self.venues, self.venue = venues, venue

    def send(self, model: Any, state: Any, wanted: np.ndarray) -> None:
        new = wanted & ~(self.last if self.last is not None else np.zeros_like(wanted))
        self.venues.add_liquidity(self.venue, np.where(new, self.capital, 0.0), self.market)


def _debt0(model: Any, state: Any, market0: np.ndarray) -> np.ndarray:
    debt = model.account(state, market0, by_asset=True).liabilities_usd
    if debt is None:
        raise SimulationError(
            f"{model.name}: a backstop or reserve is sized on the debt, and the model reports none"
        )
    return np.asarray(debt, dtype=float)


def make_action(
    spec: ActionSpec, trigger: TriggerSpec, model: Any, state: Any, market0: np.ndarray, world: Any = None,
    plan: Any = None,
) -> Action:  # fmt: skip
    """The action of ``spec`` on ``model`` (whose starting state and starting market prices a backstop sizes on).

    ``world`` and ``plan`` (the protocol's :class:`firesale.engine._blueprint._ModelPlan`) are needed by the
    actions on the world's oracles and venues (``switch_oracle``, ``deploy_reserve``).
    """
    if spec.type == "switch_oracle":
        own = int(plan.oracles[list(model.assets).index(spec.asset)])
        to = [o.name for o in world.bp.scenario.spec.oracles].index(spec.oracle)
        return SwitchOracle(spec, world.oracles, own, to)
    if spec.type == "deploy_reserve":
        venue = [v.name for v in world.bp.scenario.spec.venues].index(spec.venue)
        return DeployReserve(spec, _debt0(model, state, market0), world.venues, venue)
    if spec.type == "pause_liquidations":
        return Pause(spec)
    if spec.type == "scale":
        return Scale(spec)
    if spec.type == "pause_borrowing":
        return PauseBorrowing(spec)
    if spec.type == "scale_with_trigger":
        return ScaleWithTrigger(spec, trigger)
    return Backstop(spec, _debt0(model, state, market0))
