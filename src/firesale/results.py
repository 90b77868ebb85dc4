"""The outcome of a run, separate from the scenario that produced it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from firesale.engine._summaries import SeriesSummary
    from firesale.scenario import Scenario

__all__ = ["SimulationResult", "expected_shortfall", "value_at_risk"]

_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def value_at_risk(losses: np.ndarray, level: float) -> float:
    """The ``level`` quantile of a loss sample (losses positive)."""
    return float(np.quantile(np.asarray(losses, dtype=float), level)) if len(losses) else float("nan")


def expected_shortfall(losses: np.ndarray, level: float) -> float:
    """Mean of the worst ``1 - level`` share of a loss sample (at least one observation)."""
    x = np.sort(np.asarray(losses, dtype=float))
    if not len(x):
        return float("nan")
    # round() first: (1 - 0.99) * 100 is 1.0000000000000009 in floating point, and its ceiling would be 2.
    k = max(1, int(np.ceil(round((1.0 - level) * len(x), 9))))
    return float(x[-k:].mean())


@dataclass
class SimulationResult:
    """A finished run: per-path metrics, recorded paths, and summary statistics.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per path: ``bad_debt_usd`` (end of horizon, at market prices), ``bad_debt_peak_usd``,
        ``bad_debt_usd_<protocol>``, ``bad_debt_usd_<protocol>_<debt asset>`` (each underwater account's shortfall
        split over its debts by value), ``reserves_used_usd_<protocol>`` (bad debt absorbed by reserves and
        liquidation fees), ``attack_cost_usd``, ``liquidated_usd``, ``n_liquidations``, ``liquidator_profit_usd``,
        ``slippage_usd``, ``gas_usd``, ``protocol_fees_usd``, ``max_cascade_rounds``, ``first_bad_debt_step`` (-1 if
        none), ``insolvent``, ``min_price_ratio_<asset>`` (realised, after impact), ``min_exo_ratio_<asset>``
        (exogenous), ``steps_liquidity_flag``, ``steps_unclearable_flag``, ``steps_oracle_flag``,
        ``steps_in_failure_state`` (steps with at least two of the three flags); with ``[agents.searchers]``,
        ``priority_fees_usd`` (and ``liquidator_profit_usd`` net of them).
    paths : dict of str to ndarray
        Recorded variables, each of shape (n_paths, n_steps + 1), float32; empty for a streamed run.
    summaries : dict of str to SeriesSummary, optional
        A streamed run's recorded variables (``simulate(..., keep_paths=False)``, the default above
        :data:`firesale.engine.simulate.KEEP_PATHS_BYTES`): per-step mergeable summaries that replace ``paths``, so
        that memory does not grow with the number of paths (:mod:`firesale.engine._summaries`). ``series`` then
        has the exact mean and quantiles within 0.5 % of the exact ones; ``metrics`` are per path either way.
    """

    scenario: Scenario
    seed: int
    n_paths: int
    version: str
    metrics: pd.DataFrame
    paths: dict[str, np.ndarray] = field(repr=False)
    asset_names: list[str] = field(default_factory=list)
    protocol_names: list[str] = field(default_factory=list)
    dt: float = 0.0
    wall_seconds: float = 0.0
    #: Losses by contagion channel (:attr:`firesale.contagion.Attribution.table`) when the run was attributed.
    attribution: pd.DataFrame | None = field(default=None, repr=False)
    summaries: dict[str, SeriesSummary] | None = field(default=None, repr=False)
    #: Per account of each lending protocol: the starting book and the mean and standard error over paths of its
    #: bad debt at the end and its debt at risk (:meth:`firesale.engine._summaries.AccountSummary.frame`).
    accounts: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def streamed(self) -> bool:
        """True when the run kept per-step summaries of its series instead of every path (``paths`` is empty)."""
        return self.summaries is not None

    @cached_property
    def series(self) -> pd.DataFrame:
        """Recorded variables as a tidy frame: step, time_s, variable, mean and path quantiles p05..p95.

        Exact from ``paths``; from ``summaries`` for a streamed run (:func:`firesale.engine._summaries.series_frame`).
        """
        if self.summaries is not None:
            from firesale.engine._summaries import series_frame

            return series_frame(self.summaries, self.dt)
        rows = []
        for name, arr in self.paths.items():
            # Sorted first: np.quantile's partition then meets ordered columns and runs twice as fast, with the
            # same order statistics, so the same values.
            q = np.quantile(np.sort(arr, axis=0), _QUANTILES, axis=0)
            frame = pd.DataFrame({f"p{int(round(p * 100)):02d}": q[i] for i, p in enumerate(_QUANTILES)})
            frame.insert(0, "mean", arr.mean(axis=0, dtype=np.float64))
            frame.insert(0, "variable", name)
            frame.insert(0, "time_s", np.arange(arr.shape[1]) * self.dt)
            frame.insert(0, "step", np.arange(arr.shape[1]))
            rows.append(frame)
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()

    def summary(self) -> dict[str, float]:
        """Headline statistics with Monte Carlo standard errors (``*_se``).

        Bad-debt VaR and ES are over paths; ``amplification_<asset>`` is the mean realised drawdown of the asset
        divided by its mean exogenous drawdown (1 means liquidations moved nothing; 2 means they doubled the fall).
        """
        m = self.metrics
        bd = m["bad_debt_usd"].to_numpy(dtype=float)
        n = len(bd)
        p_bad = float((bd > 1e-6).mean())
        p_ins = float(m["insolvent"].mean())
        out = {
            "n_paths": float(n),
            "bad_debt_mean_usd": float(bd.mean()),
            "bad_debt_mean_usd_se": float(bd.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
            "bad_debt_var95_usd": value_at_risk(bd, 0.95),
            "bad_debt_var99_usd": value_at_risk(bd, 0.99),
            "bad_debt_es99_usd": expected_shortfall(bd, 0.99),
            "p_bad_debt": p_bad,
            "p_bad_debt_se": float(np.sqrt(p_bad * (1 - p_bad) / n)),
            "p_insolvency": p_ins,
            "p_insolvency_se": float(np.sqrt(p_ins * (1 - p_ins) / n)),
            "liquidated_mean_usd": float(m["liquidated_usd"].mean()),
            "n_liquidations_mean": float(m["n_liquidations"].mean()),
            "liquidator_profit_mean_usd": float(m["liquidator_profit_usd"].mean()),
            "slippage_mean_usd": float(m["slippage_usd"].mean()),
            "max_cascade_rounds": float(m["max_cascade_rounds"].max()),
            "p_failure_state": float((m["steps_in_failure_state"] > 0).mean()),
            "steps_in_failure_state_mean": float(m["steps_in_failure_state"].mean()),
        }
        for a in self.asset_names:
            exo_drop = float((1 - m[f"min_exo_ratio_{a}"]).mean())
            real_drop = float((1 - m[f"min_price_ratio_{a}"]).mean())
            if exo_drop > 1e-9:
                out[f"amplification_{a}"] = real_drop / exo_drop
        return out

    def to_frame(self) -> pd.DataFrame:
        """The summary as a two-column frame (statistic, value), for display."""
        return pd.DataFrame(list(self.summary().items()), columns=["statistic", "value"])
