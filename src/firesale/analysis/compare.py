"""Two runs compared on common random numbers: paired per-path differences with confidence intervals.

Run B of a scenario changed in one place (a threshold, a reserve, a policy) on the same seed and path count as run
A draws the same exogenous shocks path by path, because firesale keys its random streams by component and path
block. Path *i* of A and path *i* of B then differ only by the change, and the difference of any statistic is
estimated from the per-path differences, whose variance is far smaller than the sum of the runs' variances when
the two are correlated:

.. math::

    \\operatorname{Var}(\\bar b - \\bar a) = \\frac{\\sigma_a^2 + \\sigma_b^2 - 2\\rho\\,\\sigma_a\\sigma_b}{n}.

Means and probabilities get normal-theory intervals from the per-path differences; quantiles (VaR) and tail means
(ES) get bootstrap intervals that resample whole path indices, the same indices for both runs when paired.

>>> import numpy as np
>>> from firesale.analysis.compare import compare_losses
>>> rng = np.random.default_rng(0)
>>> a = rng.exponential(100.0, 5000)
>>> rows = compare_losses({"bad_debt_usd": a}, {"bad_debt_usd": a + 10.0}, n_boot=200)
>>> mean = next(r for r in rows if r.key == "bad_debt_mean_usd")
>>> round(mean.delta, 6), round(mean.se, 6)
(10.0, 0.0)
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from firesale.exceptions import ParameterError

__all__ = [
    "OPPORTUNITY_RATE",
    "Cost",
    "Difference",
    "compare_losses",
    "mitigation_costs",
    "reserve_capital_usd",
    "scenario_differences",
    "starting_debt_usd",
    "tail_standard_errors",
]

# Below a millionth of a dollar is rounding, not debt (the threshold SimulationResult.summary uses).
_ZERO = 1e-6
_Z = {0.9: 1.6448536269514722, 0.95: 1.959963984540054, 0.99: 2.5758293035489004}
_CHUNK = 64  # bootstrap resamples drawn at once: (64, n_paths) indices stay small at 1e6 paths


@dataclass(frozen=True)
class Difference:
    """One statistic of two runs and its difference B - A with a confidence interval.

    Attributes
    ----------
    key : str
        The statistic's summary key, e.g. ``"bad_debt_mean_usd"`` or ``"p_insolvency"``.
    label : str
        A short label for tables.
    kind : {"usd", "pct"}
        Dollars or a probability.
    a, b : float
        The statistic in run A and run B.
    delta : float
        ``b - a``.
    se : float
        Standard error of ``delta`` (NaN when it cannot be estimated).
    ci_low, ci_high : float
        Confidence interval of ``delta`` at the requested level.
    paired : bool
        True when estimated from per-path differences on common random numbers.
    method : str
        "normal" (mean or proportion of the differences) or "bootstrap".
    """

    key: str
    label: str
    kind: str
    a: float
    b: float
    delta: float
    se: float
    ci_low: float
    ci_high: float
    paired: bool
    method: str


def _var(level: float) -> Callable[[np.ndarray], np.ndarray]:
    def stat(x: np.ndarray) -> np.ndarray:
        return np.quantile(x, level, axis=-1)

    return stat


def _es(level: float) -> Callable[[np.ndarray], np.ndarray]:
    def stat(x: np.ndarray) -> np.ndarray:
        n = x.shape[-1]
        # Same rule as firesale.results.expected_shortfall: the mean of the worst ceil((1 - level) n) paths.
        k = max(1, int(np.ceil(round((1.0 - level) * n, 9))))
        return np.sort(x, axis=-1)[..., -k:].mean(axis=-1)

    return stat


_TAIL = (
    ("bad_debt_var95_usd", "Bad-debt VaR 95%", _var(0.95)),
    ("bad_debt_var99_usd", "Bad-debt VaR 99%", _var(0.99)),
    ("bad_debt_es99_usd", "Bad-debt ES 99%", _es(0.99)),
)


def _check_level(level: float, where: str) -> float:
    if level not in _Z:
        raise ParameterError(
            f"The 'level' parameter of {where} must be one of {sorted(_Z)}. Got {level!r} instead."
        )
    return level


def _check_n_boot(n_boot: int, where: str) -> int:
    if not isinstance(n_boot, int) or isinstance(n_boot, bool) or n_boot < 20:
        raise ParameterError(
            f"The 'n_boot' parameter of {where} must be an int in the range [20, inf). Got {n_boot!r} instead."
        )
    return n_boot


def _losses(frame: Mapping[str, Any], name: str, where: str) -> np.ndarray:
    if "bad_debt_usd" not in frame:
        raise ParameterError(
            f"The '{name}' parameter of {where} must hold per-path metrics with a 'bad_debt_usd' column. "
            "Got one without it instead."
        )
    x = np.asarray(frame["bad_debt_usd"], dtype=float)
    if x.ndim != 1 or len(x) < 2 or not np.isfinite(x).all():
        raise ParameterError(
            f"The '{name}' parameter of {where} must hold at least 2 finite per-path bad debts. "
            f"Got {len(x)} values ({int((~np.isfinite(x)).sum())} not finite) instead."
        )
    return x


def _bootstrap(
    x: np.ndarray, y: np.ndarray | None, stat: Callable[[np.ndarray], np.ndarray], n_boot: int, seed: int
) -> np.ndarray:
    """Bootstrap replicates of stat(y) - stat(x) (paired: one index set for both), or of stat(x) alone."""
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, n_boot, _CHUNK):
        m = min(_CHUNK, n_boot - start)
        idx = rng.integers(0, len(x), size=(m, len(x)))
        rep = stat(x[idx])
        if y is not None:
            rep = stat(y[idx]) - rep
        out.append(rep)
    return np.concatenate(out)


def _bootstrap_independent(
    x: np.ndarray, y: np.ndarray, stat: Callable[[np.ndarray], np.ndarray], n_boot: int, seed: int
) -> np.ndarray:
    return _bootstrap(y, None, stat, n_boot, seed + 1) - _bootstrap(x, None, stat, n_boot, seed)


def tail_standard_errors(losses: np.ndarray, *, n_boot: int = 200, seed: int = 0) -> dict[str, float]:
    """Bootstrap standard errors of bad-debt VaR 95 %, VaR 99 % and ES 99 % of one run.

    Parameters
    ----------
    losses : ndarray of shape (n_paths,)
        End-of-horizon bad debt per path.
    n_boot : int, default 200
        Bootstrap resamples (>= 20).
    seed : int, default 0
        Seed of the resampling, so a report is the same every time it is rendered.

    Returns
    -------
    dict of str to float
        ``bad_debt_var95_usd_se``, ``bad_debt_var99_usd_se``, ``bad_debt_es99_usd_se``.

    Notes
    -----
    The standard error is the standard deviation of the statistic over resamples of the paths with replacement
    (Efron and Tibshirani, 1993, ch. 6). With few paths in the tail (e.g. fewer than 10 beyond the 99 % quantile)
    it is itself imprecise, and the report warns.

    References
    ----------
    .. [1] B. Efron and R. J. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall, 1993.
    """
    _check_n_boot(n_boot, "tail_standard_errors")
    x = _losses({"bad_debt_usd": losses}, "losses", "tail_standard_errors")
    return {
        f"{key}_se": float(np.std(_bootstrap(x, None, stat, n_boot, seed + i), ddof=1))
        for i, (key, _, stat) in enumerate(_TAIL)
    }


def _indicators(frame: Mapping[str, Any], bd: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    out = {"p_bad_debt": ("P(any bad debt)", (bd > _ZERO).astype(float))}
    if "insolvent" in frame:
        out["p_insolvency"] = ("P(insolvency)", np.asarray(frame["insolvent"], dtype=float))
    if "steps_in_failure_state" in frame:
        out["p_failure_state"] = (
            "P(systemic failure state)",
            (np.asarray(frame["steps_in_failure_state"], dtype=float) > 0).astype(float),
        )
    return out


def _normal(
    key: str, label: str, kind: str, x: np.ndarray, y: np.ndarray, paired: bool, z: float
) -> Difference:
    a, b = float(x.mean()), float(y.mean())
    if paired:
        se = float(np.std(y - x, ddof=1) / math.sqrt(len(x)))
    else:
        se = math.sqrt(float(np.var(x, ddof=1)) / len(x) + float(np.var(y, ddof=1)) / len(y))
    d = b - a
    return Difference(key, label, kind, a, b, d, se, d - z * se, d + z * se, paired, "normal")


def compare_losses(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    paired: bool | None = None,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[Difference]:
    """Differences B - A of the headline risk statistics of two runs, with confidence intervals.

    Parameters
    ----------
    a, b : DataFrame or mapping of str to array
        Per-path metrics of each run (one row per path): ``bad_debt_usd``, and optionally ``insolvent`` and
        ``steps_in_failure_state``.
    paired : bool, optional
        Treat path *i* of A and B as one draw of common random numbers (same seed, same path count). Default:
        paired when the runs have the same number of paths. Pass False for runs on different seeds.
    level : {0.9, 0.95, 0.99}, default 0.95
        Confidence level of the intervals.
    n_boot : int, default 1000
        Bootstrap resamples for VaR and ES (>= 20).
    seed : int, default 0
        Seed of the bootstrap resampling.

    Returns
    -------
    list of Difference
        Expected bad debt, VaR 95 %, VaR 99 %, ES 99 %, P(any bad debt), and P(insolvency) and P(systemic
        failure state) when both runs record them.

    Raises
    ------
    ParameterError
        If an argument is invalid, e.g. ``paired=True`` with different path counts.

    Notes
    -----
    For means and probabilities the interval is :math:`\\Delta \\pm z\\,\\mathrm{se}`; paired,
    :math:`\\mathrm{se} = s(b_i - a_i)/\\sqrt{n}`; independent, :math:`\\sqrt{s_a^2/n_a + s_b^2/n_b}`. For VaR
    and ES the standard error is the bootstrap standard deviation of the difference and the interval is the
    bootstrap percentile interval; paired resampling draws one set of path indices for both runs.
    """
    where = "compare_losses"
    z = _Z[_check_level(level, where)]
    _check_n_boot(n_boot, where)
    x, y = _losses(a, "a", where), _losses(b, "b", where)
    if paired is None:
        paired = len(x) == len(y)
    if paired and len(x) != len(y):
        raise ParameterError(
            f"The 'paired' parameter of {where} needs runs with the same number of paths (common random numbers). "
            f"Got {len(x)} and {len(y)} paths instead."
        )
    out = [_normal("bad_debt_mean_usd", "Expected bad debt", "usd", x, y, paired, z)]
    for i, (key, label, stat) in enumerate(_TAIL):
        va, vb = float(stat(x)), float(stat(y))
        if paired:
            reps = _bootstrap(x, y, stat, n_boot, seed + i)
        else:
            reps = _bootstrap_independent(x, y, stat, n_boot, seed + 10 * i)
        alpha = (1 - level) / 2
        lo, hi = np.quantile(reps, [alpha, 1 - alpha])
        d = vb - va
        out.append(
            Difference(
                key, label, "usd", va, vb, d, float(np.std(reps, ddof=1)), float(lo), float(hi), paired,
                "bootstrap",
            )
        )  # fmt: skip
    ia, ib = _indicators(a, x), _indicators(b, y)
    for key, (label, xa) in ia.items():
        if key in ib:
            out.append(_normal(key, label, "pct", xa, ib[key][1], paired, z))
    return out


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        # Arrays of tables ([[assets]], [[protocols]], [[venues]]) are keyed by their name when they have one.
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}.{v.get('name', i)}", out)
    else:
        out[prefix] = value


def scenario_differences(text_a: str, text_b: str) -> list[tuple[str, Any, Any]]:
    """The scenario keys whose values differ between two scenario TOML texts.

    Parameters
    ----------
    text_a, text_b : str
        Scenario files' TOML.

    Returns
    -------
    list of (key path, value in A, value in B)
        Sorted by key path; a key missing from one file has None there. Arrays of tables are keyed by each
        entry's ``name`` (``protocols.aave-v3-core.reserves.WETH.liquidation_threshold``).

    Raises
    ------
    ParameterError
        If either text is not valid TOML.

    Examples
    --------
    >>> scenario_differences("[a]\\nx = 1\\ny = 2", "[a]\\nx = 1\\ny = 3\\nz = true")
    [('a.y', 2, 3), ('a.z', None, True)]
    """
    flat = []
    for name, text in (("text_a", text_a), ("text_b", text_b)):
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, TypeError, RecursionError) as exc:
            raise ParameterError(
                f"The '{name}' parameter of scenario_differences must be a scenario's TOML text. Got text that "
                f"does not parse instead ({type(exc).__name__})."
            ) from exc
        out: dict[str, Any] = {}
        _flatten(data, "", out)
        flat.append(out)
    fa, fb = flat
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


#: Opportunity cost of capital held idle, a year: ASSUMPTION, a round value of the order of 2025's stablecoin
#: supply rates on Aave and of the ETH staking yield (3-5 %); pass ``opportunity_rate`` to use another.
OPPORTUNITY_RATE = 0.05
_YEAR_S = 365.0 * 86_400.0


@dataclass(frozen=True)
class Cost:
    """One cost of the mitigation in run B against run A, per path, with a confidence interval.

    Attributes
    ----------
    key, label : str
        ``liquidations_forgone_usd``, ``liquidations_forgone``, ``accounts_frozen``, ``steps_frozen``,
        ``revenue_lost_usd``, ``capital_idle_usd``; a label for tables.
    kind : {"usd", "num"}
    a, b : float
        The underlying per-path statistic's mean in run A and run B (debt liquidated, liquidations, accounts frozen
        by a pause, protocol fees, the idle capital's opportunity cost).
    cost : float
        Mean per-path cost of B: ``a - b`` for what B forgoes (liquidations, revenue), ``b - a`` for what B adds
        (frozen accounts, steps with them, idle capital).
    se, ci_low, ci_high : float
        Its standard error and confidence interval (paired: from the per-path costs).
    paired : bool
    """

    key: str
    label: str
    kind: str
    a: float
    b: float
    cost: float
    se: float
    ci_low: float
    ci_high: float
    paired: bool


def starting_debt_usd(scenario: Any, protocol: str) -> float:
    """A lending protocol's debt at the start, USD at starting prices (what backstops and reserves are sized on)."""
    pos = scenario.positions.get(protocol)
    proto = next((p for p in scenario.spec.protocols if p.name == protocol), None)
    reserves = getattr(proto, "reserves", None)
    if pos is None or reserves is None:
        return 0.0
    price = {a.name: a.price for a in scenario.spec.assets}
    return float(sum(float(pos.debt[:, j].sum()) * price[asset] for j, asset in enumerate(reserves)))


def reserve_capital_usd(scenario: Any) -> float:
    """Capital a scenario's policies hold ready: ``backstop`` and ``deploy_reserve`` shares of starting debt, USD.

    :func:`mitigation_costs` prices it over the whole horizon only for a run without the policies' per-path records
    (stored before they existed); a run's records say how long each path held it (``policies.reserve_usd_s``).
    """
    total = 0.0
    for pol in scenario.spec.policies:
        if pol.action.type in ("backstop", "deploy_reserve"):
            total += float(pol.action.share) * starting_debt_usd(scenario, pol.protocol)
    return total


def mitigation_costs(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    horizon_s: float,
    capital_a_usd: float = 0.0,
    capital_b_usd: float = 0.0,
    opportunity_rate: float = OPPORTUNITY_RATE,
    paired: bool | None = None,
    level: float = 0.95,
) -> list[Cost]:
    """What run B's mitigation costs against run A, per path, with confidence intervals.

    Parameters
    ----------
    a, b : DataFrame or mapping of str to array
        Per-path metrics of each run: ``liquidated_usd``, ``n_liquidations``, ``protocol_fees_usd`` (costs whose
        columns are missing from both runs are left out) and the policies' records
        (:mod:`firesale.policies.runner`): ``policies.frozen_accounts_max``, ``policies.frozen_steps`` and
        ``policies.reserve_usd_s`` (a run without policies has none: it froze nobody and held no reserve).
    horizon_s : float
        The runs' horizon, seconds (> 0).
    capital_a_usd, capital_b_usd : float, default 0
        Reserve capital each run holds ready (:func:`reserve_capital_usd`), counted over the whole horizon on every
        path, only for a run whose metrics have no ``policies.reserve_usd_s`` (stored before the records existed).
    opportunity_rate : float, default :data:`OPPORTUNITY_RATE`
        A year's opportunity cost of capital held idle, a fraction in [0, 1].
    paired, level
        As in :func:`compare_losses`.

    Returns
    -------
    list of Cost
        Liquidations forgone (debt repaid, USD, and their number), accounts frozen (the most accounts a pause froze
        at once: liquidatable accounts a liquidation pause kept, accounts a borrowing pause stopped), steps with
        frozen accounts, revenue lost (liquidation protocol fees), and capital held idle (capital x seconds held
        idle / year x rate).

    Notes
    -----
    Each cost is the mean over paths of a per-path difference; paired, its standard error is
    :math:`s(c_i)/\\sqrt{n}`, as for the paired statistics of :func:`compare_losses`. A negative cost is a gain
    (e.g. a margin that liquidates earlier collects more fees). Idle capital follows the runner's rule
    (:mod:`firesale.policies.runner`): a ``deploy_reserve`` is idle until the step it is deposited, the whole
    horizon where it never is; a ``backstop`` is idle over the whole horizon (held ready, then in the first-loss
    reserves). A backstop's cost is then the same on every path (an interval of zero width), a reserve's is not.
    """
    where = "mitigation_costs"
    z = _Z[_check_level(level, where)]
    if not (isinstance(horizon_s, int | float) and math.isfinite(horizon_s) and horizon_s > 0):
        raise ParameterError(
            f"The 'horizon_s' parameter of {where} must be a float in the range (0, inf). Got {horizon_s!r} instead."
        )
    if not (isinstance(opportunity_rate, int | float) and 0.0 <= opportunity_rate <= 1.0):
        raise ParameterError(
            f"The 'opportunity_rate' parameter of {where} must be a float in the range [0, 1]. "
            f"Got {opportunity_rate!r} instead."
        )
    for name, value in (("capital_a_usd", capital_a_usd), ("capital_b_usd", capital_b_usd)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ParameterError(
                f"The '{name}' parameter of {where} must be a float in the range [0, inf). Got {value!r} instead."
            )
    n_a, n_b = len(_losses(a, "a", where)), len(_losses(b, "b", where))
    if paired is None:
        paired = n_a == n_b
    if paired and n_a != n_b:
        raise ParameterError(
            f"The 'paired' parameter of {where} needs runs with the same number of paths (common random numbers). "
            f"Got {n_a} and {n_b} paths instead."
        )
    rows = (
        ("liquidations_forgone_usd", "Debt liquidations forgone", "usd", "liquidated_usd", -1.0),
        ("liquidations_forgone", "Liquidations forgone (count)", "num", "n_liquidations", -1.0),
        (
            "accounts_frozen",
            "Accounts frozen by a pause (most at once)",
            "num",
            "policies.frozen_accounts_max",
            1.0,
        ),
        ("steps_frozen", "Steps with accounts frozen by a pause", "num", "policies.frozen_steps", 1.0),
        ("revenue_lost_usd", "Protocol revenue lost (liquidation fees)", "usd", "protocol_fees_usd", -1.0),
    )
    # The policies' records are absent from a run without policies: it froze nobody (zeros), unlike a run that
    # did not record a column at all (both absent: the cost is left out).
    records = ("policies.frozen_accounts_max", "policies.frozen_steps")
    out = []
    for key, label, kind, col, sign in rows:
        if (col not in a or col not in b) and not (col in records and (col in a or col in b)):
            continue
        x = np.asarray(a[col], dtype=float) if col in a else np.zeros(n_a)
        y = np.asarray(b[col], dtype=float) if col in b else np.zeros(n_b)
        out.append(_cost(key, label, kind, x, y, sign, paired, z))
    rate = opportunity_rate / _YEAR_S  # per USD and second
    x, y = (
        np.asarray(m["policies.reserve_usd_s"], dtype=float) * rate
        if "policies.reserve_usd_s" in m
        else np.full(n, capital * float(horizon_s) * rate)
        for m, n, capital in ((a, n_a, capital_a_usd), (b, n_b, capital_b_usd))
    )
    label = f"Capital held idle ({100 * opportunity_rate:g} % a year while held)"
    out.append(_cost("capital_idle_usd", label, "usd", x, y, 1.0, paired, z))
    return out


def _cost(key: str, label: str, kind: str, x: np.ndarray, y: np.ndarray, sign: float, paired: bool,
          z: float) -> Cost:  # fmt: skip
    # sign -1: B's cost is what it forgoes (a - b); +1: what it adds (b - a)
    d = _normal(key, label, kind, x, y, paired, z)
    se = 0.0 if np.ptp(np.concatenate([x, y])) == 0 else d.se
    cost = sign * d.delta + 0.0  # + 0.0: no "-0" for a cost of nothing
    return Cost(key, label, kind, d.a, d.b, cost, se, cost - z * se, cost + z * se, paired)
