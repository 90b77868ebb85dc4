"""The policy runner: the engine calls :meth:`PolicyPlan.step` once per step, after the step-start oracle updates and
before the cascade (:mod:`firesale.engine._world`).

Per policy and path, a small state machine, all of it arrays over paths:

1. *release*: an action in force for ``duration`` seconds is lifted; with ``grace``, it is lifted once the trigger
   has been clear for more than ``grace`` seconds (Aave's ``PriceOracleSentinel._isUpAndGracePeriodPassed``:
   ``block.timestamp - startedAt > _gracePeriod``, aave-dao/aave-v3-origin src/contracts/misc/
   PriceOracleSentinel.sol); with neither, it holds to the end of the run;
2. *fire*: where the trigger holds and the policy is neither pending nor in force, the decision is taken now;
3. *effect*: a decision taken at time :math:`T` is in force from the first step whose time is at least
   :math:`T + \\text{delay}` (0: this very step's cascade; 12 s with 5-minute steps: the next step). A decision once
   taken is carried out, even if the trigger clears in the meantime (a vote that passed is executed);
4. the action is asked of the protocol, through its contract, where what it asks changed.

Only a scenario with ``[[policies]]`` builds a plan (:attr:`firesale.engine._blueprint.Blueprint.policies`); without
one the engine's step takes no other branch.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from firesale.policies.actions import Action, make_action
from firesale.policies.spec import PolicySpec
from firesale.policies.triggers import Trigger, make_trigger

__all__ = ["PolicyPlan"]

_EPS = 1e-9  # seconds: times are multiples of dt, compared with sums of durations given in seconds


@dataclass
class _PolicyState:
    """One policy on one batch of paths."""

    trigger: Trigger
    action: Action
    pending: np.ndarray  # (n_paths,) time the decision was taken, NaN when none is waiting
    in_force: np.ndarray  # (n_paths,) bool
    since: np.ndarray  # (n_paths,) time it came in force
    clear_since: np.ndarray  # (n_paths,) time the trigger last became clear, NaN while it holds


class PolicyPlan:
    """The scenario's policies, planned once per run; per batch (``World``) state is kept beside the world."""

    def __init__(self, specs: list[PolicySpec], protocols: list[int]) -> None:
        self.specs, self.protocols = specs, protocols
        self._runs: weakref.WeakKeyDictionary[Any, list[_PolicyState]] = weakref.WeakKeyDictionary()

    @classmethod
    def build(cls, bp: Any) -> PolicyPlan:
        spec = bp.scenario.spec
        names = [p.name for p in spec.protocols]
        return cls(list(spec.policies), [names.index(p.protocol) for p in spec.policies])

    def __getstate__(self) -> dict[str, Any]:  # batches in other processes start their own state
        return {"specs": self.specs, "protocols": self.protocols}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["specs"], state["protocols"])  # type: ignore[misc]

    def _start(self, world: Any) -> list[_PolicyState]:
        bp, n = world.bp, world.n_paths
        out = []
        for spec, pi in zip(self.specs, self.protocols, strict=True):
            plan = bp.plans[pi]
            market0 = np.broadcast_to(bp.price0[plan.assets], (n, len(plan.assets))).copy()
            out.append(
                _PolicyState(
                    trigger=make_trigger(spec.trigger, bp, pi, n),
                    action=make_action(spec.action, spec.trigger, plan.model, world.states[pi], market0),
                    pending=np.full(n, np.nan), in_force=np.zeros(n, dtype=bool), since=np.full(n, np.nan),
                    clear_since=np.full(n, np.nan),
                )
            )  # fmt: skip
        return out

    def step(self, world: Any, time: float, market: np.ndarray) -> None:
        """Evaluate every trigger on this step and apply what is in force, before the cascade."""
        runs = self._runs.get(world)
        if runs is None:
            runs = self._runs[world] = self._start(world)
        for spec, pi, run in zip(self.specs, self.protocols, runs, strict=True):
            value = run.trigger.value(world, time, market)
            holds = run.trigger.holds(value)
            if spec.duration is not None:
                release = run.in_force & (time - run.since >= spec.duration - _EPS)
            elif spec.grace is not None:
                run.clear_since = np.where(
                    holds, np.nan, np.where(np.isnan(run.clear_since), time, run.clear_since)
                )
                release = run.in_force & ~holds & (time - run.clear_since > spec.grace + _EPS)
            else:
                release = np.zeros_like(holds)
            run.in_force &= ~release
            fire = holds & ~run.in_force & np.isnan(run.pending)
            run.pending[fire] = time
            due = ~np.isnan(run.pending) & (time >= run.pending + spec.delay - _EPS)
            run.in_force |= due
            run.since[due] = time
            run.pending[due] = np.nan
            run.action.apply(world.bp.plans[pi].model, world.states[pi], run.in_force, value)

    def in_force(self, world: Any) -> dict[str, np.ndarray]:
        """Where each policy is in force on ``world`` now, by name (for tests and reports)."""
        runs = self._runs.get(world) or []
        return {s.name: r.in_force.copy() for s, r in zip(self.specs, runs, strict=False)}
