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
    "Difference",
    "compare_losses",
    "scenario_differences",
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
