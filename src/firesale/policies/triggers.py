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
- ``garch_forecast``: a GARCH(1,1) forecast of an asset's daily volatility (:class:`GarchForecast`), with the
  coefficients the scenario's GARCH market was fitted with before the run (``firesale calibrate``: ``arch``'s
  maximum-likelihood fit on the shipped history), filtered through the path's own returns at market.
- ``depth``: a venue's depth now over its depth at the start (:meth:`firesale.liquidity.VenueSet.depth`).
- ``utilisation``: borrows / supply of a lending reserve, the protocol's series ``utilisation_<asset>``
  (:meth:`firesale.protocols.ProtocolModel.record`), as the previous step's cascade left it.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from firesale.policies.spec import FLAGS, TriggerSpec

__all__ = ["Trigger", "garch_params", "make_trigger"]

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


class GarchForecast(Trigger):
    r"""GARCH(1,1) forecast of an asset's daily volatility, filtered through the path's returns at market.

    The coefficients are those of the scenario's ``garch`` market for the asset (fitted before the run, on the
    native grid of ``native_dt`` = :math:`h` seconds): :math:`\omega = \bar\sigma^2 (1 - \alpha - \beta)`,
    :math:`\bar\sigma^2 = \mathrm{vol}^2 h / \mathrm{year}`, and the recursion of ``arch.univariate.GARCH``
    (bashtage/arch ``arch/univariate/volatility.py``, ``p = q = 1``),

    .. math:: \sigma^2_{j+1} = \omega + \alpha (r_j - \mu)^2 + \beta \sigma^2_j,

    with :math:`r_j` the log return of native period :math:`j` at market, the sum of its :math:`k = h / dt` step
    returns. Within a period, after :math:`m < k` steps whose returns sum to :math:`R`, the forecast of the next
    period's variance is its conditional expectation given what has been seen,

    .. math:: f = \omega + \alpha \left[(R - m\mu/k)^2 + (1 - m/k)\,\sigma^2_j\right] + \beta \sigma^2_j,

    (the rest of the period contributes its expected variance, spread evenly), which equals :math:`\sigma^2_{j+1}`
    when the period closes: the forecast moves with every step's return, before the period's realised volatility
    is complete. Over a horizon of :math:`H` = ``window`` / :math:`h` periods the mean forecast variance is
    :math:`\bar\sigma^2 + (f - \bar\sigma^2)(1 - \phi^H) / (H (1 - \phi))`, :math:`\phi = \alpha + \beta`
    (Bollerslev 1986; the multi-step forecast of ``arch``'s ``forecast(horizon=H)`` averaged). The value is
    :math:`\sqrt{\text{that} \cdot 86400 / h}`, daily. The recursion starts at the market's ``initial_vol`` (or
    ``vol``), as the simulated market does, and costs a few vector operations per step.
    """

    def __init__(self, spec: TriggerSpec, asset: int, start: float, params: dict[str, float], dt: float,
                 n_paths: int) -> None:  # fmt: skip
        super().__init__(spec)
        self.asset = asset
        h = params["native_dt"]
        self.k = round(h / dt)
        self.alpha, self.beta, self.mu = params["alpha"], params["beta"], params["mu"]
        year = 365.0 * 86_400.0
        self.long_run = params["vol"] ** 2 * h / year
        self.omega = self.long_run * (1.0 - self.alpha - self.beta)
        self.to_daily = 86_400.0 / h
        horizon = (spec.window or h) / h
        phi = self.alpha + self.beta
        # weight of the next period's deviation from the long run in the horizon's mean variance
        self.weight = 1.0 if horizon <= 1.0 + 1e-12 else (1.0 - phi**horizon) / (horizon * (1.0 - phi))
        self.var = np.full(n_paths, params["initial_vol"] ** 2 * h / year)  # sigma^2 of the current period
        self.partial = np.zeros(n_paths)  # log return of the current period so far
        self.m = 0
        self.last = np.full(n_paths, start)

    def value(self, world: Any, time: float, market: np.ndarray) -> np.ndarray:
        now = market[:, self.asset]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.nan_to_num(np.log(now / self.last))
        self.last = now.copy()
        self.partial = self.partial + r
        self.m += 1
        if self.m == self.k:  # the period closed: the GARCH recursion proper
            self.var = self.omega + self.alpha * (self.partial - self.mu) ** 2 + self.beta * self.var
            self.partial, self.m = np.zeros_like(self.partial), 0
            forecast = self.var
        else:
            left = 1.0 - self.m / self.k
            seen = (self.partial - self.m * self.mu / self.k) ** 2
            forecast = self.omega + self.alpha * (seen + left * self.var) + self.beta * self.var
        mean = self.long_run + (forecast - self.long_run) * self.weight
        return np.sqrt(mean * self.to_daily)


class Depth(Trigger):
    """A venue's depth over its depth at the start (liquidity providers' withdrawals and the step's trades)."""

    def __init__(self, spec: TriggerSpec, venue: int) -> None:
        super().__init__(spec)
        self.venue = venue

    def value(self, world: Any, time: float, market: np.ndarray) -> np.ndarray:
        v = world.venues
        return v.depth(self.venue) / v.depth0[:, self.venue]


class Utilisation(Trigger):
    """Borrows / supply of a lending reserve (token amounts), read through the protocol contract's series."""

    def __init__(self, spec: TriggerSpec, protocol: int) -> None:
        super().__init__(spec)
        self.protocol, self.series = protocol, f"utilisation_{spec.asset}"

    def value(self, world: Any, time: float, market: np.ndarray) -> np.ndarray:
        plan = world.bp.plans[self.protocol]
        mkt = np.ascontiguousarray(market[:, plan.assets])
        return plan.model.record(world.states[self.protocol], self.series, mkt)


def garch_params(scenario: Any, asset: str) -> dict[str, float] | None:
    """The scenario's GARCH(1,1) coefficients of ``asset`` (None unless its market is ``garch`` and has them)."""
    market = scenario.market
    if getattr(market, "model", None) != "garch":
        return None

    def get(name: str, default: float | None = None) -> float | None:
        value = getattr(market, name)
        if isinstance(value, dict):
            return value.get(asset, default)
        return default if value is None else float(value)

    vol, alpha, beta = get("vol"), get("alpha"), get("beta")
    if vol is None or alpha is None or beta is None:
        return None
    return {"vol": vol, "alpha": alpha, "beta": beta, "mu": get("mu", 0.0) or 0.0,
            "initial_vol": get("initial_vol", vol) or vol, "native_dt": float(market.native_dt)}  # fmt: skip


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
    if spec.series == "garch_forecast":
        a = bp.assets.index(spec.asset)
        params = garch_params(scenario, str(spec.asset))
        if params is None:  # the loader's checks refuse this first
            raise ValueError(f"garch_forecast on {spec.asset}: the scenario's market has no GARCH for it")
        return GarchForecast(spec, a, float(bp.price0[a]), params, bp.dt, n_paths)
    if spec.series == "depth":
        return Depth(spec, [v.name for v in scenario.venues].index(spec.venue))
    if spec.series == "utilisation":
        names = [p.name for p in scenario.protocols]
        return Utilisation(spec, names.index(spec.protocol) if spec.protocol else protocol)
    return Flag(spec) if spec.series == "flag" else Time(spec)
