"""Triggers: the series a policy watches, per path, and the comparison that makes it fire.

Each trigger is evaluated once per step by :class:`firesale.policies.runner.PolicyPlan`, after the step's oracle
updates and before its cascade (so an action taken with no delay binds the cascade of the step that saw the move);
books and failure flags are those at the end of the previous step. Every series is a vector over paths; a trigger
keeps what it needs of the past (an oracle's answers over its window, a volatility estimate) in arrays, never in
per-path Python loops.

Series (:data:`firesale.policies.spec.SERIES`):

- ``oracle_move`` / ``oracle_change``: :math:`|o_t / o_{t-w} - 1|` / :math:`o_t / o_{t-w} - 1` for the oracle's
  answer :math:`o` and a window of :math:`w = \\text{window} / dt` steps; before the run started the answer is the
  oracle asset's starting price. A price band over a look-back window is how exchange circuit breakers are written
  (e.g. a halt when a price moves more than X % from its reference within a window).
- ``realised_volatility``: daily volatility :math:`\\sqrt{v_t \\cdot 86400 / dt}` of an asset's market price, with
  :math:`v_t = \\lambda v_{t-1} + (1 - \\lambda) r_t^2`, :math:`r_t` the step's log return and
  :math:`\\lambda = 2^{-dt / \\text{window}}`: the estimator liquidity providers use in
  :mod:`firesale.agents.providers` (RiskMetrics' EWMA, J.P. Morgan 1996).
- ``bad_debt``: a protocol's bad debt, USD; ``flag``: a failure flag of :mod:`firesale.engine.accounting`;
  ``time``: seconds since the start.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from firesale.policies.spec import FLAGS, TriggerSpec

__all__ = ["Trigger", "make_trigger"]

_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class Trigger(ABC):
    """A series per path and its comparison. Subclasses give :meth:`value`."""

    def __init__(self, spec: TriggerSpec) -> None:
        self.spec = spec

    @abstractmethod
    def value(self, world: Any, time: float, market: np.ndarray) -> np.ndarray:
        """The series now, shape (n_paths,)."""

    def holds(self, value: np.ndarray) -> np.ndarray:
        """Where the trigger holds, bool of shape (n_paths,)."""
        return _COMPARE[self.spec.comparison](value, self.spec.threshold)  # type: ignore[index]


class OracleMove(Trigger):
    """An oracle's answer now over its answer ``window`` seconds ago, minus one (absolute for ``oracle_move``)."""

    def __init__(self, spec: TriggerSpec, oracle: int, start: float, lag: int, n_paths: int) -> None:
        super().__init__(spec)
        self.oracle, self.lag, self.t = oracle, lag, 0
        # ring[s % lag] holds the answer at step s; steps before the start hold the starting price
        self.ring = np.full((lag, n_paths), start)

    def value(self, world: Any, time: float, market: np.ndarray) -> np.ndarray:
        self.t += 1
        now = world.oracles.reported(self.oracle, time)
        slot = self.t % self.lag
        then = self.ring[slot].copy()
        self.ring[slot] = now
        change = now / then - 1.0
        return np.abs(change) if self.spec.series == "oracle_move" else change


class RealisedVolatility(Trigger):
    """Daily realised volatility of an asset's market price (EWMA of squared log returns, half-life ``window``)."""

    def __init__(self, spec: TriggerSpec, asset: int, start: float, dt: float, n_paths: int) -> None:
        super().__init__(spec)
        self.asset, self.dt = asset, dt
        self.lam = 0.5 ** (dt / float(spec.window))  # type: ignore[arg-type]
        self.last = np.full(n_paths, start)
        self.var = np.zeros(n_paths)

    def value(self, world: Any, time: float, market: np.ndarray) -> np.ndarray:
        now = market[:, self.asset]
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.nan_to_num(np.log(now / self.last) ** 2)
        self.last = now.copy()
        self.var = self.lam * self.var + (1.0 - self.lam) * r2
        return np.sqrt(self.var * 86_400.0 / self.dt)


class BadDebt(Trigger):
    """A protocol's bad debt at the end of the previous step (0 before the first step closes), USD."""

    def __init__(self, spec: TriggerSpec, protocol: int) -> None:
        super().__init__(spec)
        self.protocol = protocol

    def value(self, world: Any, time: float, market: np.ndarray) -> np.ndarray:
        book = world.accounting.books[self.protocol]
        return np.zeros(world.n_paths) if book is None else np.asarray(book.bad_debt_usd, dtype=float)


class Flag(Trigger):
    """A failure flag of the previous step, 1 while raised (``failure_state``: two flags or more at once)."""

    def value(self, world: Any, time: float, market: np.ndarray) -> np.ndarray:
        flags = world.accounting.last_flags
        if self.spec.flag == "failure_state":
            return (flags.sum(axis=1) >= 2).astype(float)
        return flags[:, FLAGS.index(str(self.spec.flag))].astype(float)

    def holds(self, value: np.ndarray) -> np.ndarray:
        return value > 0.5


class Time(Trigger):
    """Seconds since the start of the run (a policy in force from a given time)."""

    def value(self, world: Any, time: float, market: np.ndarray) -> np.ndarray:
        return np.full(world.n_paths, float(time))


def make_trigger(spec: TriggerSpec, bp: Any, protocol: int, n_paths: int) -> Trigger:
    """The trigger of ``spec`` in the run of blueprint ``bp``; ``protocol`` is the policy's protocol index."""
    scenario = bp.scenario.spec
    if spec.series in ("oracle_move", "oracle_change"):
        k = [o.name for o in scenario.oracles].index(spec.oracle)
        start = float(bp.price0[bp.assets.index(scenario.oracles[k].asset)])
        return OracleMove(spec, k, start, round(float(spec.window) / bp.dt), n_paths)  # type: ignore[arg-type]
    if spec.series == "realised_volatility":
        a = bp.assets.index(spec.asset)
        return RealisedVolatility(spec, a, float(bp.price0[a]), bp.dt, n_paths)
    if spec.series == "bad_debt":
        names = [p.name for p in scenario.protocols]
        return BadDebt(spec, names.index(spec.protocol) if spec.protocol else protocol)
    return Flag(spec) if spec.series == "flag" else Time(spec)
