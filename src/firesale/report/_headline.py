"""The headline numbers of a run, each with its Monte Carlo standard error where the run reports one."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from firesale.analysis.compare import compare_losses
from firesale.report import _format as fmt
from firesale.report._view import TAIL_N_BOOT, RunView

__all__ = [
    "IMPRECISE",
    "NO_SE",
    "Difference",
    "Headline",
    "differences",
    "headlines",
    "is_paired",
    "precision",
]

NO_SE = "none reported"
# A figure whose standard error exceeds this share of it is flagged: more paths are needed to quote it.
IMPRECISE = 0.3
# Tail statistics resting on fewer paths than this beyond their quantile are flagged too.
_MIN_TAIL_PATHS = 10
_TAIL_LEVEL = {"bad_debt_var95_usd": 0.95, "bad_debt_var99_usd": 0.99, "bad_debt_es99_usd": 0.99}

# (summary key, label, kind); kind picks the formatter. The standard error is the summary's "<key>_se" if present.
_ROWS = (
    ("bad_debt_mean_usd", "Expected bad debt", "usd"),
    ("bad_debt_var95_usd", "Bad-debt VaR 95%", "usd"),
    ("bad_debt_var99_usd", "Bad-debt VaR 99%", "usd"),
    ("bad_debt_es99_usd", "Bad-debt ES 99%", "usd"),
    ("p_bad_debt", "P(any bad debt)", "pct"),
    ("p_insolvency", "P(insolvency)", "pct"),
    ("p_failure_state", "P(systemic failure state)", "pct"),
    ("liquidated_mean_usd", "Debt liquidated (mean)", "usd"),
    ("slippage_mean_usd", "Slippage paid (mean)", "usd"),
    ("max_cascade_rounds", "Max cascade rounds in a step", "num"),
)

_FORMAT: dict[str, Callable[[float | None], str]] = {
    "usd": fmt.money,
    "pct": fmt.percent,
    "num": fmt.count,
    "x": fmt.ratio,
}


@dataclass(frozen=True)
class Headline:
    """One headline statistic: raw value and standard error (NaN when absent), and their display strings."""

    key: str
    label: str
    kind: str
    value: float
    se: float
    warning: str = ""

    @property
    def text(self) -> str:
        return _FORMAT[self.kind](self.value)

    @property
    def se_text(self) -> str:
        if math.isnan(self.se):
            return NO_SE
        if self.kind == "usd":
            return fmt.money_se(self.value, self.se)
        return _FORMAT[self.kind](self.se)


def _get(summary: dict[str, float], key: str) -> float:
    value = summary.get(key)
    return float(value) if value is not None else math.nan


def precision(key: str, kind: str, value: float, se: float, n_paths: int) -> str:
    """A warning when ``n_paths`` are too few for the figure, else "".

    Flagged: a standard error above :data:`IMPRECISE` of the estimate; a VaR or ES resting on fewer than 10 paths
    beyond its quantile; a probability no path reached (then the rule of three bounds it: below 3 / n at 95 %).

    >>> precision("bad_debt_mean_usd", "usd", 100.0, 65.0, 1000)
    'too few paths: the s.e. is 65% of the estimate'
    >>> precision("p_insolvency", "pct", 0.0, 0.0, 1000)
    'no path of 1,000: below 0.30% at 95% confidence (rule of three)'
    """
    if kind == "pct" and value == 0.0 and n_paths > 0:
        return f"no path of {n_paths:,}: below {fmt.percent(3 / n_paths)} at 95% confidence (rule of three)"
    if key in _TAIL_LEVEL:
        beyond = int(math.floor(round((1 - _TAIL_LEVEL[key]) * n_paths, 9)))
        if beyond < _MIN_TAIL_PATHS:
            return f"too few paths: only {beyond} beyond the {_TAIL_LEVEL[key]:.0%} quantile"
    if math.isfinite(se) and math.isfinite(value) and value > 0 and se / value > IMPRECISE:
        return f"too few paths: the s.e. is {se / value:.0%} of the estimate"
    return ""


def headlines(view: RunView) -> list[Headline]:
    """The headline rows of a run: the fixed statistics it reports, then amplification per asset."""
    out = []
    for key, label, kind in _ROWS:
        if key in view.summary:
            value, se = _get(view.summary, key), _get(view.summary, f"{key}_se")
            out.append(Headline(key, label, kind, value, se, precision(key, kind, value, se, view.n_paths)))
    for key in view.summary:
        if key.startswith("amplification_") and not key.endswith("_se"):
            asset = key.removeprefix("amplification_")
            out.append(
                Headline(
                    key,
                    f"Amplification {asset}",
                    "x",
                    _get(view.summary, key),
                    _get(view.summary, f"{key}_se"),
                )
            )
    return out


@dataclass(frozen=True)
class Difference:
    """One statistic in two runs: B - A, and the standard error of that difference if both runs report one."""

    key: str
    label: str
    a: Headline | None
    b: Headline | None
    paired_se: float = math.nan
    ci: tuple[float, float] | None = None

    @property
    def paired(self) -> bool:
        return self.ci is not None

    @property
    def ci_text(self) -> str:
        if self.ci is None:
            return "n/a"
        lo, hi = self.ci
        if self.kind == "pct":
            return f"[{lo * 100:+.2f}, {hi * 100:+.2f}] pp"
        return f"[{fmt.money(lo)}, {fmt.money(hi)}]"

    @property
    def delta(self) -> float:
        if self.a is None or self.b is None:
            return math.nan
        return self.b.value - self.a.value

    @property
    def delta_se(self) -> float:
        # Paired (common random numbers): from per-path differences. Otherwise independent runs: variances add,
        # an upper bound when the runs share seeds (they are positively correlated).
        if self.a is None or self.b is None:
            return math.nan
        if self.paired:
            return self.paired_se
        return math.hypot(self.a.se, self.b.se)

    @property
    def kind(self) -> str:
        either = self.a if self.a is not None else self.b
        return either.kind if either is not None else "num"

    @property
    def delta_text(self) -> str:
        d = self.delta
        if math.isnan(d):
            return "n/a"
        sign = "+" if d > 0 else ""
        if self.kind == "pct":
            return f"{sign}{d * 100:.2f} pp"
        return sign + _FORMAT[self.kind](d)

    @property
    def delta_se_text(self) -> str:
        se = self.delta_se
        if math.isnan(se):
            return NO_SE
        if self.kind == "pct":
            return f"{se * 100:.2f} pp"
        if self.kind == "usd":
            return fmt.money_se(self.delta, se)
        return _FORMAT[self.kind](se)


def is_paired(a: RunView, b: RunView) -> bool:
    """Whether path i of A and path i of B drew the same random numbers: same seed and number of paths."""
    return (
        a.seed == b.seed
        and a.n_paths == b.n_paths
        and len(a.metrics) == len(b.metrics)
        and "bad_debt_usd" in a.metrics
        and "bad_debt_usd" in b.metrics
    )


# Per-path columns whose means are headline rows: paired differences of means come straight from them.
_MEAN_COLUMNS = {"liquidated_mean_usd": "liquidated_usd", "slippage_mean_usd": "slippage_usd"}


def differences(a: RunView, b: RunView) -> list[Difference]:
    """Headline statistics of two runs side by side, in A's order, then those only B reports.

    When the runs share seed and path count, the differences of bad debt (mean, VaR, ES), of the probabilities
    and of the per-path means carry paired standard errors and 95 % intervals (:mod:`firesale.analysis.compare`).
    """
    rows_a = {h.key: h for h in headlines(a)}
    rows_b = {h.key: h for h in headlines(b)}
    keys = list(rows_a) + [k for k in rows_b if k not in rows_a]
    paired: dict[str, tuple[float, tuple[float, float]]] = {}
    if is_paired(a, b):
        for r in compare_losses(a.metrics, b.metrics, paired=True, n_boot=TAIL_N_BOOT):
            paired[r.key] = (r.se, (r.ci_low, r.ci_high))
        for key, col in _MEAN_COLUMNS.items():
            if col in a.metrics and col in b.metrics:
                d = b.metrics[col].to_numpy(dtype=float) - a.metrics[col].to_numpy(dtype=float)
                se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan
                mean = float(d.mean())
                paired[key] = (se, (mean - 1.959963984540054 * se, mean + 1.959963984540054 * se))
    out = []
    for k in keys:
        se, ci = paired.get(k, (math.nan, None))
        out.append(Difference(k, (rows_a.get(k) or rows_b[k]).label, rows_a.get(k), rows_b.get(k), se, ci))
    return out
