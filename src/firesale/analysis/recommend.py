r"""Recommendations: the parameter value that meets a risk budget at least cost, with a confidence interval.

A budget reads "P(bad debt above ``bad_debt`` of starting debt) below ``budget``", e.g. ``bad_debt=0.01,
budget=0.01``: bad debt above 1 % of debt on fewer than 1 % of paths over the scenario's horizon. The *cost* of a
parameter is a direction: a higher liquidation threshold or a larger cap is cheaper for users (``prefer="high"``),
a smaller reserve or a lower bonus is cheaper for the protocol (``prefer="low"``). The recommendation is the
cheapest value in the range that still meets the budget.

Method: bisection on a monotone metric. Moving a parameter in its cheap direction is assumed to never lower the
probability of breaching the bad-debt line (a higher threshold or bonus, a larger cap, a smaller reserve each
leave at least as much bad debt on every path of common random numbers); every evaluation is returned so a
violation of that assumption is visible. Several parameters are recommended one at a time, each with the others
at their scenario values (:func:`recommend_each`); a joint optimisation (a derivative-free optimiser such as
CMA-ES over several parameters) is not provided.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from firesale.analysis.breakpoint import CRITERIA, _bad, _check_unit, _Search, evaluator, failure_indicators
from firesale.analysis.sweep import with_overrides
from firesale.exceptions import ParameterError
from firesale.scenario import Scenario, load_scenario

__all__ = ["Recommendation", "recommend", "recommend_each"]

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Recommendation:
    """The cheapest value of one parameter that meets the budget.

    Attributes
    ----------
    key : str
        The scenario key recommended.
    status : {"found", "whole_range", "infeasible"}
        "whole_range": even the cheapest end of the range meets the budget (the value is that end);
        "infeasible": not even the safest end does (the value is None).
    value : float or None
        The last value (towards the cheap end) at which the estimated breach probability was below the budget;
        within ``tol`` of the boundary.
    ci_low, ci_high : float or None
        Interval of the recommendation under Monte Carlo error: the cheapest values at which the upper and the
        lower Wilson bound of the breach probability stay below the budget (ordered low to high). The
        conservative end (the one on the safe side) is a value that meets the budget at the confidence
        level; None where a bound never meets it in the range (more paths needed).
    p_breach, p_low, p_high : float or None
        Estimated breach probability at ``value`` and its Wilson interval.
    evaluations : DataFrame
        Every run made: value, breaches, paths, probability and its interval.
    """

    key: str
    status: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    p_breach: float | None
    p_low: float | None
    p_high: float | None
    evaluations: pd.DataFrame = field(repr=False)


def recommend(
    scenario: Scenario | str,
    key: str,
    lo: float,
    hi: float,
    *,
    prefer: str = "high",
    bad_debt: float = 0.01,
    budget: float = 0.01,
    target: str = "system",
    criterion: str = "bad_debt",
    tol: float | None = None,
    level: float = 0.95,
    n_paths: int | None = None,
    seed: int | None = None,
    client: Any = None,
    kernel: str = "numba",
    progress: Progress | None = None,
) -> Recommendation:
    r"""The cheapest value of ``key`` in [lo, hi] with P(breach) < ``budget``.

    Parameters
    ----------
    scenario : Scenario or str
        The world (a file or built-in name is loaded).
    key : str
        Dotted scenario key, e.g. ``protocols.lender.reserves.WETH.liquidation_threshold``.
    lo, hi : float
        Range searched, lo < hi.
    prefer : {"high", "low"}
        Which end of the range is cheaper.
    bad_debt : float in [0, 1], default 0.01
        A path breaches when its bad debt exceeds this fraction of the starting debt (of ``target``).
    budget : float in [0, 1], default 0.01
        Highest acceptable breach probability (strictly below).
    target : str, default "system"
        ``"system"`` or a protocol name.
    criterion : {"bad_debt", "insolvency"}
        Breach by bad debt above the line, or by insolvency.
    tol : float, optional
        Final bisection bracket width (default (hi - lo) / 1000).
    level : float, default 0.95
        Confidence level.
    n_paths, seed : int, optional
        Monte Carlo size and seed, the same at every value (common random numbers).
    client : distributed.Client, optional
        Run the path blocks on this Dask cluster.
    kernel : {"numba", "numpy"}
    progress : callable, optional
        Called with an estimate of the fraction done.

    Returns
    -------
    Recommendation

    Notes
    -----
    With severity :math:`s` increasing towards the cheap end, the breach probability :math:`p(s)` is assumed
    non-decreasing; bisection then finds the boundary :math:`s^*` between :math:`\hat p < b` and
    :math:`\hat p \ge b` in :math:`\lceil\log_2((hi-lo)/tol)\rceil` runs. The same bisection on the upper and
    lower Wilson bounds of :math:`p` (sharing the cached runs) gives the interval.
    """
    where = "recommend"
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if prefer not in ("high", "low"):
        raise _bad("prefer", where, "'high' or 'low'", prefer)
    if criterion not in CRITERIA:
        raise _bad("criterion", where, f"one of {list(CRITERIA)}", criterion)
    bad_debt = _check_unit("bad_debt", bad_debt, where)
    budget = _check_unit("budget", budget, where, open_low=True)
    targets = ["system", *(p.name for p in scenario.spec.protocols)]
    if target not in targets:
        raise _bad("target", where, f"one of {targets}", target)
    if not (isinstance(level, float) and 0 < level < 1):
        raise _bad("level", where, "a float in the range (0, 1)", level)
    for name, v in (("lo", lo), ("hi", hi)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise _bad(name, where, "a finite float", v)
    if not lo < hi:
        raise ParameterError(
            f"The 'lo' and 'hi' parameters of recommend must satisfy lo < hi. Got {lo}, {hi}."
        )
    tol = (hi - lo) / 1000 if tol is None else tol
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 < tol < hi - lo:
        raise _bad("tol", where, f"a float in the range (0, {hi - lo:g})", tol)
    sim = scenario.spec.simulation
    n_paths = sim.n_paths if n_paths is None else n_paths
    seed = sim.seed if seed is None else seed
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 1:
        raise _bad("n_paths", where, "an int in the range [1, inf)", n_paths)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _bad("seed", where, "an int in the range [0, inf)", seed)
    # Both ends validated (key exists, values legal) before anything runs.
    with_overrides(scenario, {key: float(lo)})
    with_overrides(scenario, {key: float(hi)})

    run = evaluator(
        scenario,
        lambda x: {key: float(x)},
        lambda m: {target: failure_indicators(scenario, m, criterion, bad_debt)[target]},
        n_paths=n_paths,
        seed=seed,
        client=client,
        kernel=kernel,
    )
    sign = 1.0 if prefer == "high" else -1.0
    s_lo, s_hi = (lo, hi) if sign > 0 else (-hi, -lo)
    steps = math.ceil(math.log2((hi - lo) / tol)) + 2
    search = _Search(run, sign, level, progress, expected=steps * 3)
    status, br = search.crossing(target, "estimate", budget, s_lo, s_hi, tol)
    cons_status, br_cons = search.crossing(target, "upper", budget, s_lo, s_hi, tol)
    opt_status, br_opt = search.crossing(target, "lower", budget, s_lo, s_hi, tol)
    if progress is not None:
        progress(1.0)

    def safe_end(st: str, bracket: tuple[float, float] | None) -> float | None:
        if st == "not_reached":
            return s_hi  # even the cheapest end meets the budget
        return None if bracket is None else bracket[0]

    value_s = safe_end(status, br)
    # In severity units: conservative (upper bound below budget) <= value <= optimistic (lower bound below).
    cons_s, opt_s = safe_end(cons_status, br_cons), safe_end(opt_status, br_opt)
    value = None if value_s is None else sign * value_s
    if sign > 0:
        ci_low, ci_high = cons_s, opt_s
    else:
        ci_low = None if opt_s is None else -opt_s
        ci_high = None if cons_s is None else -cons_s
    p = pl = ph = None
    if value_s is not None:
        p = search.stat(value_s, target, "estimate")
        pl = search.stat(value_s, target, "lower")
        ph = search.stat(value_s, target, "upper")
    final = {"found": "found", "not_reached": "whole_range", "below_range": "infeasible"}[status]
    return Recommendation(key, final, value, ci_low, ci_high, p, pl, ph, search.frame())


_COLUMNS = ("key", "status", "value", "ci_low", "ci_high", "p_breach", "p_low", "p_high")


def recommend_each(
    scenario: Scenario | str, ranges: Mapping[str, tuple[float, float]], **kwargs: Any
) -> pd.DataFrame:
    """:func:`recommend` for several keys, one at a time (others at their scenario values).

    Parameters
    ----------
    scenario : Scenario or str
    ranges : mapping of str to (lo, hi)
        Key path to the range searched, e.g. each reserve's ``liquidation_threshold``.
    **kwargs
        Passed to :func:`recommend` (``prefer``, ``bad_debt``, ``budget``, ...).

    Returns
    -------
    DataFrame
        One row per key: key, status, value, ci_low, ci_high, p_breach, p_low, p_high.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    for key, (lo, hi) in ranges.items():  # validate every key and range before the first run
        with_overrides(scenario, {key: float(lo)})
        with_overrides(scenario, {key: float(hi)})
    rows = []
    for key, (lo, hi) in ranges.items():
        r = recommend(scenario, key, lo, hi, **kwargs)
        rows.append({k: getattr(r, k) for k in _COLUMNS})
    return pd.DataFrame(rows)
