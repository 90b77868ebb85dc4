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

Per-path records, kept beside the state machine and returned with the run's metrics (:meth:`PolicyPlan.metrics`,
through ``World.final_metrics``), for each policy ``N`` (steps are numbered 1 to ``n_steps``, -1 for never):

- ``policy.N.fired_step``: the first step whose trigger held and took the decision; ``policy.N.in_force_step``:
  the first step in force (later by the delay); ``policy.N.steps_in_force``: steps in force;
- pauses (``pause_liquidations``, ``pause_borrowing``): ``policy.N.frozen_accounts_max``, the most accounts (by
  weight) the pause froze at once, ``policy.N.frozen_account_steps``, their sum over steps, and
  ``policy.N.frozen_steps``, steps with at least one. A liquidation pause freezes the accounts below health factor 1
  under the factors in force that it keeps from liquidation (at or above its floor), counted at each step's end at
  the oracles' last answers (:meth:`firesale.protocols.lending_market.LendingMarket.frozen_by_pause`); a borrowing
  pause, the accounts that would have borrowed that step (``borrows_stopped``);
- reserves (``backstop``, ``deploy_reserve``): ``policy.N.capital_usd`` (the capital held ready, ``share`` of the
  starting debt), ``policy.N.deployed_usd`` (0 where never deployed), ``policy.N.deployed_step`` and
  ``policy.N.idle_s``, the seconds the capital was held idle. The rule: a ``deploy_reserve`` is idle from the start
  until the step it is deposited (time ``deployed_step x dt``), over the whole horizon where it never is; once in
  the pool it is working liquidity. A ``backstop`` is idle over the whole horizon wherever it is: before it comes
  in force it is held ready, after it sits in the first-loss reserves until a loss uses it.

And over all the policies: ``policies.frozen_accounts_max`` (the most accounts frozen at once by all the pauses
together, an account frozen by two pauses counted twice), ``policies.frozen_account_steps``,
``policies.frozen_steps`` and ``policies.reserve_usd_s``, the sum of capital x idle seconds
(:func:`firesale.analysis.compare.mitigation_costs` prices it).

Only a scenario with ``[[policies]]`` builds a plan (:attr:`firesale.engine._blueprint.Blueprint.policies`); without
one the engine's step takes no other branch.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firesale.policies.actions import Action, Backstop, DeployReserve, Pause, PauseBorrowing, make_action
from firesale.policies.spec import PolicySpec
from firesale.policies.triggers import Trigger, make_trigger

__all__ = ["PolicyPlan"]

_EPS = 1e-9  # seconds: times are multiples of dt, compared with sums of durations given in seconds


@dataclass
class _Record:
    """What one policy did on each path of a batch (steps 1..n_steps; -1: never)."""

    fired_step: np.ndarray
    in_force_step: np.ndarray
    steps_in_force: np.ndarray
    frozen_max: np.ndarray  # pauses only (zeros otherwise): accounts by weight
    frozen_account_steps: np.ndarray
    frozen_steps: np.ndarray

    @classmethod
    def empty(cls, n: int) -> _Record:
        z = np.zeros(n, dtype=np.int64)
        return cls(np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64), z.copy(), z.copy(), z.copy(),
                   z.copy())  # fmt: skip


@dataclass
class _PolicyState:
    """One policy on one batch of paths."""

    trigger: Trigger
    action: Action
    pending: np.ndarray  # (n_paths,) time the decision was taken, NaN when none is waiting
    in_force: np.ndarray  # (n_paths,) bool
    since: np.ndarray  # (n_paths,) time it came in force
    clear_since: np.ndarray  # (n_paths,) time the trigger last became clear, NaN while it holds
    record: _Record = field(default=None)  # type: ignore[assignment]


@dataclass
class _Batch:
    """Every policy on one batch (``World``), and the accounts all the pauses froze together."""

    policies: list[_PolicyState]
    totals: _Record  # only its frozen_* arrays are used


class PolicyPlan:
    """The scenario's policies, planned once per run; per batch (``World``) state is kept beside the world."""

    def __init__(self, specs: list[PolicySpec], protocols: list[int]) -> None:
        self.specs, self.protocols = specs, protocols
        self._runs: weakref.WeakKeyDictionary[Any, _Batch] = weakref.WeakKeyDictionary()

    @classmethod
    def build(cls, bp: Any) -> PolicyPlan:
        spec = bp.scenario.spec
        names = [p.name for p in spec.protocols]
        return cls(list(spec.policies), [names.index(p.protocol) for p in spec.policies])

    def __getstate__(self) -> dict[str, Any]:  # batches in other processes start their own state
        return {"specs": self.specs, "protocols": self.protocols}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["specs"], state["protocols"])  # type: ignore[misc]

    def _start(self, world: Any) -> _Batch:
        bp, n = world.bp, world.n_paths
        out = []
        for spec, pi in zip(self.specs, self.protocols, strict=True):
            plan = bp.plans[pi]
            market0 = np.broadcast_to(bp.price0[plan.assets], (n, len(plan.assets))).copy()
            out.append(
                _PolicyState(
                    trigger=make_trigger(spec.trigger, bp, pi, n),
                    action=make_action(spec.action, spec.trigger, plan.model, world.states[pi], market0, world,
                                       plan),
                    pending=np.full(n, np.nan), in_force=np.zeros(n, dtype=bool), since=np.full(n, np.nan),
                    clear_since=np.full(n, np.nan), record=_Record.empty(n),
                )
            )  # fmt: skip
        return _Batch(out, _Record.empty(n))

    def _runs_of(self, world: Any) -> list[_PolicyState]:
        batch = self._runs.get(world)
        if batch is None:
            batch = self._runs[world] = self._start(world)
        return batch.policies

    def step(self, world: Any, time: float, market: np.ndarray) -> None:
        """Evaluate every trigger on this step and apply what is in force, before the cascade."""
        runs = self._runs_of(world)
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
            rec = run.record
            rec.fired_step[fire & (rec.fired_step < 0)] = world.t
            rec.in_force_step[run.in_force & (rec.in_force_step < 0)] = world.t
            rec.steps_in_force += run.in_force
            run.action.apply(world.bp.plans[pi].model, world.states[pi], run.in_force, value, market)

    def close_step(self, world: Any, time: float, market: np.ndarray) -> None:
        """Record, after the step's cascade, the accounts each pause in force froze (changes nothing)."""
        total = np.zeros(world.n_paths, dtype=np.int64)
        for pi, run in zip(self.protocols, self._runs_of(world), strict=True):
            if not isinstance(run.action, Pause | PauseBorrowing) or not run.in_force.any():
                continue
            plan, state = world.bp.plans[pi], world.states[pi]
            if isinstance(run.action, Pause):
                oracle = np.ascontiguousarray(market[:, plan.assets])
                for r, k in enumerate(plan.oracles):
                    if k >= 0:
                        oracle[:, r] = world.oracles.reported(k, time)
                frozen = plan.model.frozen_by_pause(state, oracle)
            else:
                frozen = plan.model.borrows_stopped(state)
            frozen = np.where(run.in_force, frozen, 0)
            rec = run.record
            np.maximum(rec.frozen_max, frozen, out=rec.frozen_max)
            rec.frozen_account_steps += frozen
            rec.frozen_steps += frozen > 0
            total += frozen
        all_ = self._runs[world].totals
        np.maximum(all_.frozen_max, total, out=all_.frozen_max)
        all_.frozen_account_steps += total
        all_.frozen_steps += total > 0

    def metrics(self, world: Any) -> dict[str, np.ndarray]:
        """The per-path records of every policy on ``world`` (``policy.<name>.*``) and their totals (``policies.*``)."""
        n, dt, horizon = world.n_paths, world.bp.dt, world.t * world.bp.dt
        runs = self._runs_of(world)
        out: dict[str, np.ndarray] = {}
        usd_s = np.zeros(n)
        for spec, run in zip(self.specs, runs, strict=True):
            rec, key = run.record, f"policy.{spec.name}"
            out[f"{key}.fired_step"] = rec.fired_step.astype(float)
            out[f"{key}.in_force_step"] = rec.in_force_step.astype(float)
            out[f"{key}.steps_in_force"] = rec.steps_in_force.astype(float)
            if isinstance(run.action, Pause | PauseBorrowing):
                out[f"{key}.frozen_accounts_max"] = rec.frozen_max.astype(float)
                out[f"{key}.frozen_account_steps"] = rec.frozen_account_steps.astype(float)
                out[f"{key}.frozen_steps"] = rec.frozen_steps.astype(float)
            if isinstance(run.action, Backstop):  # DeployReserve too
                capital = np.broadcast_to(np.asarray(run.action.capital, dtype=float), (n,)).copy()
                deployed = rec.in_force_step >= 0  # a reserve is deployed the step it comes in force, once
                out[f"{key}.capital_usd"] = capital
                out[f"{key}.deployed_usd"] = np.where(deployed, capital, 0.0)
                out[f"{key}.deployed_step"] = rec.in_force_step.astype(float)
                if isinstance(run.action, DeployReserve):
                    idle = np.where(deployed, rec.in_force_step * dt, horizon)
                else:  # a backstop is held ready, then sits in the first-loss reserves: idle throughout
                    idle = np.full(n, float(horizon))
                out[f"{key}.idle_s"] = idle
                usd_s += capital * idle
        all_ = self._runs[world].totals
        out["policies.frozen_accounts_max"] = all_.frozen_max.astype(float)
        out["policies.frozen_account_steps"] = all_.frozen_account_steps.astype(float)
        out["policies.frozen_steps"] = all_.frozen_steps.astype(float)
        out["policies.reserve_usd_s"] = usd_s
        return out

    def in_force(self, world: Any) -> dict[str, np.ndarray]:
        """Where each policy is in force on ``world`` now, by name (for tests and reports)."""
        batch = self._runs.get(world)
        runs = batch.policies if batch is not None else []
        return {s.name: r.in_force.copy() for s, r in zip(self.specs, runs, strict=False)}
