r"""Reverse stress: the mildest shock at which bad debt exceeds a budget or a protocol becomes insolvent.

Three shock axes, each searched with the others held at the scenario's values:

``magnitude``
    the depth of a ``[market] model = "shock"`` path (:class:`firesale.market.ShockSpec`): the fall at the trough
    as a fraction of the starting price. With several shocked assets the reference asset (``asset``, default the
    deepest) takes the searched depth and the others keep their proportion to it. Worse when higher.
``speed``
    the ``duration`` of the fall of a ``"linear"`` or ``"v"`` shock, in seconds (0 is an instant drop). Worse when
    lower: the search reports the slowest fall that still breaks the system.
``liquidity``
    the share of every venue's liquidity removed before the run: order-book ``depth_usd``, pool reserves and
    balances, concentrated-liquidity ranges all scaled by ``1 - loss``. Worse when higher. Works with any market
    model, stochastic ones included.

A dotted scenario key (e.g. ``market.vol.WETH``) may be searched too, with ``worse`` saying which way is worse.

Failure on a path, per protocol ``p`` and for the system (all protocols together):

* ``criterion="bad_debt"``: bad debt at the horizon above ``budget`` times the starting debt (of ``p``, or of
  every protocol for the system; at least $10^{-6}$);
* ``criterion="insolvency"``: bad debt above the protocol's reserves and fees (the engine's ``insolvent``; for the
  system: any protocol insolvent).

The system *breaks* at a shock level when the probability of failure over the Monte Carlo paths is at least
``probability`` (default 0.5: on more than half of the paths; for a deterministic shock with a deterministic
world every path is alike and any level in (0, 1] gives the same boundary).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from firesale.analysis.sweep import wilson_interval, with_overrides
from firesale.exceptions import ParameterError
from firesale.scenario import Scenario, load_scenario

__all__ = ["AXES", "Boundary", "BreakpointResult", "breaking_point", "failure_indicators", "prepare_search"]

AXES = ("magnitude", "speed", "liquidity")
CRITERIA = ("bad_debt", "insolvency")
Progress = Callable[[float], None]


def _bad(name: str, where: str, rule: str, value: Any) -> ParameterError:
    return ParameterError(f"The {name!r} parameter of {where} must be {rule}. Got {value!r} instead.")


def starting_debt_usd(scenario: Scenario) -> dict[str, float]:
    """Each protocol's debt at the start, in USD at the scenario's starting prices."""
    prices = {a.name: a.price for a in scenario.spec.assets}
    out = {}
    for proto in scenario.spec.protocols:
        pos = scenario.positions[proto.name]
        reserve_prices = np.array([prices[a] for a in proto.reserves])
        out[proto.name] = float((pos.debt * reserve_prices).sum())
    return out


def failure_indicators(
    scenario: Scenario, metrics: pd.DataFrame, criterion: str = "bad_debt", budget: float = 0.0
) -> dict[str, np.ndarray]:
    """Per-path failure (bool array of shape (n_paths,)) of the system and of every protocol.

    Parameters
    ----------
    scenario : Scenario
        The scenario whose starting debt sets the budgets.
    metrics : DataFrame
        Per-path metrics of a run (:attr:`SimulationResult.metrics`).
    criterion : {"bad_debt", "insolvency"}
        Bad debt above ``budget`` times the starting debt, or bad debt above reserves and fees.
    budget : float in [0, 1]
        Fraction of the starting debt (``criterion="bad_debt"`` only).

    Returns
    -------
    dict
        ``"system"`` and each protocol name, to a bool ndarray.
    """
    debt = starting_debt_usd(scenario)
    out: dict[str, np.ndarray] = {}
    if criterion == "bad_debt":
        out["system"] = metrics["bad_debt_usd"].to_numpy(float) > max(budget * sum(debt.values()), 1e-6)
        for p, d in debt.items():
            out[p] = metrics[f"bad_debt_usd_{p}"].to_numpy(float) > max(budget * d, 1e-6)
    else:
        out["system"] = metrics["insolvent"].to_numpy(bool)
        for p in debt:
            # reserves_used is min(bad debt, reserves + fees): bad debt above it is bad debt nobody absorbs.
            bad = metrics[f"bad_debt_usd_{p}"].to_numpy(float)
            out[p] = bad > metrics[f"reserves_used_usd_{p}"].to_numpy(float) + 1e-9
    return out


@dataclass(frozen=True)
class Boundary:
    """Where one target (the system or a protocol) breaks along the searched axis.

    Attributes
    ----------
    target : str
        ``"system"`` or a protocol name.
    status : {"found", "not_reached", "below_range"}
        "not_reached": no failure up to the worst end of the range; "below_range": it fails already at the mildest.
    estimate : float or None
        Middle of the final bisection bracket of the crossing of the estimated failure probability.
    bracket : (float, float) or None
        (last value that held, first value that broke) of that crossing; its width is at most ``tol``.
    low, high : float or None
        Confidence interval of the boundary under Monte Carlo error: the crossings of the upper and lower Wilson
        bounds of the failure probability, each widened to the outer end of its bisection bracket, and truncated
        to the searched range where a bound does not cross inside it (more paths would narrow it). None when
        the target never breaks in the range.
    """

    target: str
    status: str
    estimate: float | None
    bracket: tuple[float, float] | None
    low: float | None
    high: float | None


@dataclass
class BreakpointResult:
    """A finished reverse-stress search: one :class:`Boundary` per target and every evaluation made."""

    axis: str
    criterion: str
    budget: float
    probability: float
    level: float
    n_paths: int
    seed: int
    boundaries: dict[str, Boundary]
    evaluations: pd.DataFrame = field(repr=False)

    def frame(self) -> pd.DataFrame:
        """One row per target: status, estimate, bracket and confidence interval."""
        rows = []
        for b in self.boundaries.values():
            lo, hi = b.bracket if b.bracket is not None else (None, None)
            rows.append(
                {
                    "target": b.target,
                    "status": b.status,
                    "estimate": b.estimate,
                    "bracket_low": lo,
                    "bracket_high": hi,
                    "ci_low": b.low,
                    "ci_high": b.high,
                }
            )
        return pd.DataFrame(rows)


class _Search:
    """Bisection on a severity coordinate (higher = worse) with cached Monte Carlo evaluations.

    ``run(x)`` returns per-target failure arrays at axis value ``x``; ``x = sign * s``.
    """

    def __init__(
        self,
        run: Callable[[float], dict[str, np.ndarray]],
        sign: float,
        level: float,
        progress: Progress | None,
        expected: int,
    ) -> None:
        self.run, self.sign, self.level = run, sign, level
        self.cache: dict[float, dict[str, tuple[int, int]]] = {}
        self.progress, self.expected = progress, max(1, expected)

    def counts(self, s: float) -> dict[str, tuple[int, int]]:
        s = round(s, 12)
        if s not in self.cache:
            fails = self.run(self.sign * s)
            self.cache[s] = {t: (int(f.sum()), len(f)) for t, f in fails.items()}
            if self.progress is not None:
                self.progress(min(0.99, len(self.cache) / self.expected))
        return self.cache[s]

    def stat(self, s: float, target: str, which: str) -> float:
        k, n = self.counts(s)[target]
        if which == "estimate":
            return k / n
        lo, hi = wilson_interval(k, n, self.level)
        return float(hi if which == "upper" else lo)

    def crossing(
        self, target: str, which: str, q: float, s_lo: float, s_hi: float, tol: float
    ) -> tuple[str, tuple[float, float] | None]:
        """Bracket (held, broke) of where ``stat >= q`` starts, between mild ``s_lo`` and severe ``s_hi``."""

        def broke(s: float) -> bool:
            return self.stat(s, target, which) >= q

        if not broke(s_hi):
            return "not_reached", None
        if broke(s_lo):
            return "below_range", None
        a, b = s_lo, s_hi
        while b - a > tol:
            mid = 0.5 * (a + b)
            if broke(mid):
                b = mid
            else:
                a = mid
        return "found", (a, b)

    def frame(self) -> pd.DataFrame:
        rows = []
        for s, by_target in sorted(self.cache.items()):
            for t, (k, n) in by_target.items():
                lo, hi = wilson_interval(k, n, self.level)
                rows.append(
                    {"value": self.sign * s, "target": t, "failures": k, "n_paths": n, "p_fail": k / n,
                     "p_low": float(lo), "p_high": float(hi)}
                )  # fmt: skip
        return pd.DataFrame(rows)


def _axis(
    scenario: Scenario, axis: str, asset: str | None, lo: float | None, hi: float | None, worse: str | None
) -> tuple[Callable[[float], dict[str, Any]], float, float, str]:
    """(value -> overrides, default lo, default hi, worse) of a search axis."""
    spec = scenario.spec
    where = "breaking_point"
    if axis in ("magnitude", "speed"):
        market = spec.market
        if getattr(market, "model", None) != "shock":
            raise _bad(
                "axis",
                where,
                "'liquidity' or a scenario key unless the market is a shock (market.model = \"shock\"); "
                f"{scenario.source} has market.model = {getattr(market, 'model', None)!r}, so {axis!r}",
                axis,
            )
        depth = market.depth  # type: ignore[union-attr]
        if axis == "magnitude":
            if isinstance(depth, dict):
                shocked = {a: d for a, d in depth.items() if d != 0}
                if not shocked:
                    raise _bad("axis", where, "used on a shock with a non-zero depth", axis)
                ref = asset if asset is not None else max(shocked, key=lambda a: abs(shocked[a]))
                if ref not in shocked:
                    raise _bad("asset", where, f"one of the shocked assets {sorted(shocked)}", asset)
                ratios = {a: d / shocked[ref] for a, d in depth.items()}
                top = min([0.99] + [0.99 / r for r in ratios.values() if r > 0])

                def apply(x: float) -> dict[str, Any]:
                    return {"market.depth": {a: round(r * x, 12) for a, r in ratios.items()}}

                return apply, 0.0, top, "higher"
            return (lambda x: {"market.depth": float(x)}), 0.0, 0.99, "higher"
        if market.shape == "drop":  # type: ignore[union-attr]
            raise _bad(
                "axis",
                where,
                "'magnitude' or 'liquidity' for a shock of shape 'drop' (an instant fall has no speed; use shape "
                "'linear' or 'v')",
                axis,
            )
        starts = market.start if isinstance(market.start, dict) else {"": market.start}  # type: ignore[union-attr]
        horizon = spec.simulation.n_steps * spec.simulation.dt
        top = max(0.0, horizon - min(starts.values()))
        return (lambda x: {"market.duration": float(x)}), 0.0, top, "lower"
    if axis == "liquidity":
        venues = spec.venues
        if not venues:
            raise _bad("axis", where, "used on a scenario with venues for 'liquidity'", axis)

        # Liquidity fields by venue kind: order books' depth, pools' reserves or balances, explicit ranges.
        dumped = [v.model_dump(mode="python") for v in venues]
        for v in dumped:
            if not any(k in v for k in ("depth_usd", "reserves", "balances")) and v.get("ranges") is None:
                raise ParameterError(
                    f"The 'axis' parameter of breaking_point cannot be 'liquidity' for {scenario.source}: venue "
                    f"{v['name']!r} is a concentrated pool read from a tick snapshot, which cannot be scaled from "
                    "the scenario; give it explicit 'ranges' or search another axis."
                )

        def apply(x: float) -> dict[str, Any]:
            keep = 1.0 - x
            out: dict[str, Any] = {}
            for v in dumped:
                where_ = f"venues.{v['name']}"
                if "depth_usd" in v:
                    out[f"{where_}.depth_usd"] = v["depth_usd"] * keep
                for key in ("reserves", "balances"):
                    if key in v:
                        out[f"{where_}.{key}"] = [r * keep for r in v[key]]
                if v.get("ranges") is not None:
                    out[f"{where_}.ranges"] = [[lo_, hi_, q * keep] for lo_, hi_, q in v["ranges"]]
            return out

        return apply, 0.0, 0.99, "higher"
    if "." not in axis:
        raise _bad("axis", where, f"one of {list(AXES)} or a dotted scenario key", axis)
    if lo is None or hi is None or worse not in ("higher", "lower"):
        raise ParameterError(
            f"The 'lo', 'hi' and 'worse' parameters of breaking_point must be given for a scenario key axis "
            f"({axis!r}): the range searched and whether 'higher' or 'lower' values are worse. Got lo={lo!r}, "
            f"hi={hi!r}, worse={worse!r} instead."
        )
    with_overrides(scenario, {axis: lo})  # the key must exist; raises naming it otherwise
    return (lambda x: {axis: float(x)}), lo, hi, worse


def _check_unit(name: str, value: Any, where: str, *, open_low: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (0 < value <= 1 if open_low else 0 <= value <= 1)
    if not ok:
        rule = "a float in the range (0, 1]" if open_low else "a float in the range [0, 1]"
        raise _bad(name, where, rule, value)
    return float(value)


def evaluator(
    scenario: Scenario,
    apply: Callable[[float], dict[str, Any]],
    indicators: Callable[[Any], dict[str, np.ndarray]],
    *,
    n_paths: int,
    seed: int,
    client: Any,
    kernel: str,
) -> Callable[[float], dict[str, np.ndarray]]:
    """value -> per-target failure arrays, running the point's Monte Carlo here or on ``client``."""
    from firesale.dist._runner import PointRun, run_points

    def run(x: float) -> dict[str, np.ndarray]:
        point = with_overrides(scenario, apply(x))
        (result,) = run_points([PointRun(point, seed, n_paths)], client=client, kernel=kernel)
        return indicators(result.metrics)

    return run


def prepare_search(
    scenario: Scenario | str,
    axis: str,
    *,
    asset: str | None = None,
    criterion: str = "bad_debt",
    budget: float = 0.0,
    probability: float = 0.5,
    lo: float | None = None,
    hi: float | None = None,
    worse: str | None = None,
    tol: float | None = None,
    level: float = 0.95,
    n_paths: int | None = None,
    seed: int | None = None,
) -> tuple[Scenario, Callable[[float], dict[str, Any]], str, float, float, float, int, int]:
    """Check every argument of :func:`breaking_point` and validate both ends of the range; nothing runs.

    Returns (scenario, value -> overrides, worse direction, lo, hi, tol, n_paths, seed).
    """
    where = "breaking_point"
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if criterion not in CRITERIA:
        raise _bad("criterion", where, f"one of {list(CRITERIA)}", criterion)
    budget = _check_unit("budget", budget, where)
    probability = _check_unit("probability", probability, where, open_low=True)
    if not (isinstance(level, float) and 0 < level < 1):
        raise _bad("level", where, "a float in the range (0, 1)", level)
    apply, d_lo, d_hi, direction = _axis(scenario, axis, asset, lo, hi, worse)
    lo = d_lo if lo is None else float(lo)
    hi = d_hi if hi is None else float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ParameterError(
            f"The 'lo' and 'hi' parameters of breaking_point must be finite with lo < hi. Got lo={lo!r}, "
            f"hi={hi!r} instead."
        )
    tol = (hi - lo) / 1000 if tol is None else tol
    if not (isinstance(tol, int | float) and 0 < tol < hi - lo):
        raise _bad("tol", where, f"a float in the range (0, {hi - lo:g})", tol)
    sim = scenario.spec.simulation
    n_paths = sim.n_paths if n_paths is None else n_paths
    seed = sim.seed if seed is None else seed
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 1:
        raise _bad("n_paths", where, "an int in the range [1, inf)", n_paths)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _bad("seed", where, "an int in the range [0, inf)", seed)
    with_overrides(scenario, apply(hi))  # both ends validated before anything runs
    with_overrides(scenario, apply(lo))

    return scenario, apply, direction, lo, hi, tol, int(n_paths), int(seed)


def breaking_point(
    scenario: Scenario | str,
    axis: str = "magnitude",
    *,
    asset: str | None = None,
    criterion: str = "bad_debt",
    budget: float = 0.0,
    probability: float = 0.5,
    lo: float | None = None,
    hi: float | None = None,
    worse: str | None = None,
    tol: float | None = None,
    level: float = 0.95,
    n_paths: int | None = None,
    seed: int | None = None,
    client: Any = None,
    kernel: str = "numba",
    progress: Progress | None = None,
) -> BreakpointResult:
    r"""Find the mildest shock on ``axis`` at which the system and each protocol break.

    Parameters
    ----------
    scenario : Scenario or str
        The world to stress (a file or built-in name is loaded).
    axis : {"magnitude", "speed", "liquidity"} or str
        The shock dimension searched (see the module docstring), or a dotted scenario key.
    asset : str, optional
        Reference asset of a multi-asset ``magnitude`` search (default: the most deeply shocked).
    criterion : {"bad_debt", "insolvency"}
        What counts as failure on a path.
    budget : float in [0, 1], default 0
        Bad-debt budget as a fraction of starting debt (``criterion="bad_debt"``): 0 means any bad debt.
    probability : float in (0, 1], default 0.5
        The system breaks at a level where the share of failing paths is at least this.
    lo, hi : float, optional
        Range searched (defaults: depth [0, 0.99], duration [0, horizon - start], loss [0, 0.99]).
    worse : {"higher", "lower"}, optional
        Direction of a scenario-key axis.
    tol : float, optional
        Width of the final bisection bracket (default: range / 1000).
    level : float, default 0.95
        Confidence level of the boundary's interval.
    n_paths, seed : int, optional
        Monte Carlo size and seed (defaults: the scenario's), the same at every evaluation (common random numbers).
    client : distributed.Client, optional
        Run the evaluations' path blocks on this Dask cluster.
    kernel : {"numba", "numpy"}
        Liquidation-round implementation.
    progress : callable, optional
        Called with an estimate of the fraction of the search done.

    Returns
    -------
    BreakpointResult

    Notes
    -----
    Bisection assumes the failure probability :math:`p(x)` is monotone along the axis (a deeper, faster or
    less liquid shock never fails fewer paths); on common random numbers this holds path by path in the
    engine's mechanics, and every evaluation is kept in ``evaluations`` so a violation can be seen. For each
    target three crossings are bisected on the same cached runs: of :math:`\hat p(x)` (the estimate), and of
    the upper and lower Wilson bounds of :math:`p(x)` at ``level`` (where the boundary may be, at the earliest
    and at the latest, given the Monte Carlo error). Each costs about :math:`\log_2((hi - lo) / tol)` runs.

    Examples
    --------
    >>> res = breaking_point("toy-spiral", "magnitude", n_paths=1, tol=0.02)  # doctest: +SKIP
    >>> res.boundaries["system"].estimate  # doctest: +SKIP
    """
    scenario, apply, direction, lo, hi, tol, n_paths, seed = prepare_search(
        scenario, axis, asset=asset, criterion=criterion, budget=budget, probability=probability, lo=lo, hi=hi,
        worse=worse, tol=tol, level=level, n_paths=n_paths, seed=seed,
    )  # fmt: skip
    base = scenario

    run = evaluator(
        scenario,
        apply,
        lambda m: failure_indicators(base, m, criterion, budget),
        n_paths=n_paths,
        seed=seed,
        client=client,
        kernel=kernel,
    )
    sign = 1.0 if direction == "higher" else -1.0
    s_lo, s_hi = (lo, hi) if sign > 0 else (-hi, -lo)
    targets = ["system", *(p.name for p in scenario.spec.protocols)]
    steps = math.ceil(math.log2((hi - lo) / tol)) + 2
    search = _Search(run, sign, level, progress, expected=steps * 3)
    boundaries = {}
    for t in targets:
        status, br = search.crossing(t, "estimate", probability, s_lo, s_hi, tol)
        early_status, br_early = search.crossing(t, "upper", probability, s_lo, s_hi, tol)
        late_status, br_late = search.crossing(t, "lower", probability, s_lo, s_hi, tol)
        # A bound that is already past q at the mild end, or not yet at the severe end, truncates the interval
        # to the searched range.
        if early_status == "below_range":
            br_early = (s_lo, s_lo)
        if late_status == "not_reached" and status != "not_reached":
            br_late = (s_hi, s_hi)
        est = None if br is None else sign * 0.5 * (br[0] + br[1])
        bracket = None if br is None else tuple(sorted((sign * br[0], sign * br[1])))
        # In severity units the upper Wilson bound crosses first (the interval's mild end, taken at the last
        # value that held) and the lower bound last (its severe end, at the first value that broke).
        mild = None if br_early is None else br_early[0]
        severe = None if br_late is None else br_late[1]
        if sign > 0:
            low, high = mild, severe
        else:
            low = None if severe is None else -severe
            high = None if mild is None else -mild
        boundaries[t] = Boundary(t, status, est, bracket, low, high)  # type: ignore[arg-type]
    if progress is not None:
        progress(1.0)
    return BreakpointResult(
        axis=axis,
        criterion=criterion,
        budget=budget,
        probability=probability,
        level=level,
        n_paths=int(n_paths),
        seed=int(seed),
        boundaries=boundaries,
        evaluations=search.frame(),
    )
