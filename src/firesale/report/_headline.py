"""The headline numbers of a run, each with its Monte Carlo standard error where the run reports one."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from firesale.report import _format as fmt
from firesale.report._view import RunView

__all__ = ["NO_SE", "Difference", "Headline", "differences", "headlines"]

NO_SE = "none reported"

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


def headlines(view: RunView) -> list[Headline]:
    """The headline rows of a run: the fixed statistics it reports, then amplification per asset."""
    out = [
        Headline(key, label, kind, _get(view.summary, key), _get(view.summary, f"{key}_se"))
        for key, label, kind in _ROWS
        if key in view.summary
    ]
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

    @property
    def delta(self) -> float:
        if self.a is None or self.b is None:
            return math.nan
        return self.b.value - self.a.value

    @property
    def delta_se(self) -> float:
        # Independent runs: variances add. With common random numbers the runs are positively correlated and the
        # true standard error of the difference is smaller, so this is an upper bound there.
        if self.a is None or self.b is None:
            return math.nan
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


def differences(a: RunView, b: RunView) -> list[Difference]:
    """Headline statistics of two runs side by side, in A's order, then those only B reports."""
    rows_a = {h.key: h for h in headlines(a)}
    rows_b = {h.key: h for h in headlines(b)}
    keys = list(rows_a) + [k for k in rows_b if k not in rows_a]
    return [Difference(k, (rows_a.get(k) or rows_b[k]).label, rows_a.get(k), rows_b.get(k)) for k in keys]
