"""Monitor: indicators over time, the failure-state classifier, early warning, model-risk backtests, alerts.

* :mod:`firesale.monitor.indicators`: depth, slippage, volatility against the liquidation buffer, oracle deviation,
  staleness and update frequency, correlation, health factors and debt near liquidation, utilisation,
  concentration, reserve coverage, tail tests; on frames indexed by time and on arrays of paths alike.
* :func:`compute_indicators` / :func:`path_indicators` build the classifier's table from market data or a run;
  :func:`classify` grades it (:class:`ClassifierConfig` holds the thresholds); :func:`run_states` classifies a
  simulated run per step (share of paths in each state, the median path and its reasons).
* :mod:`firesale.monitor.warning`: lead times on the shipped replays and false alarms on calm history.
* :mod:`firesale.monitor.backtest`: Kupiec and Christoffersen tests of VaR models.
* :class:`SnapshotMonitor`: the same over a directory of snapshots, with alerts on state changes;
  :mod:`firesale.monitor.page` serves its live page on the loopback interface.

See ``docs/monitor.md``. Names load on first use, so the command line can register its commands cheaply.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firesale.monitor._assemble import compute_indicators, path_indicators
    from firesale.monitor._run_states import RunStates, run_states
    from firesale.monitor.backtest import (
        BacktestResult,
        backtest_var,
        christoffersen_independence,
        conditional_coverage,
        kupiec_pof,
        var_forecast,
    )
    from firesale.monitor.classifier import Classification, classify, grade
    from firesale.monitor.snapshots import Alert, SnapshotMonitor
    from firesale.monitor.thresholds import DIMENSIONS, Band, ClassifierConfig
    from firesale.monitor.warning import EVENTS, calibrate_config, early_warning, false_alarms

__all__ = [
    "DIMENSIONS",
    "EVENTS",
    "Alert",
    "BacktestResult",
    "Band",
    "Classification",
    "ClassifierConfig",
    "RunStates",
    "SnapshotMonitor",
    "backtest_var",
    "calibrate_config",
    "christoffersen_independence",
    "classify",
    "compute_indicators",
    "conditional_coverage",
    "early_warning",
    "false_alarms",
    "grade",
    "kupiec_pof",
    "path_indicators",
    "run_states",
    "var_forecast",
]


_LAZY = {
    "compute_indicators": "firesale.monitor._assemble",
    "path_indicators": "firesale.monitor._assemble",
    "RunStates": "firesale.monitor._run_states",
    "run_states": "firesale.monitor._run_states",
    "BacktestResult": "firesale.monitor.backtest",
    "backtest_var": "firesale.monitor.backtest",
    "christoffersen_independence": "firesale.monitor.backtest",
    "conditional_coverage": "firesale.monitor.backtest",
    "kupiec_pof": "firesale.monitor.backtest",
    "var_forecast": "firesale.monitor.backtest",
    "Classification": "firesale.monitor.classifier",
    "classify": "firesale.monitor.classifier",
    "grade": "firesale.monitor.classifier",
    "Alert": "firesale.monitor.snapshots",
    "SnapshotMonitor": "firesale.monitor.snapshots",
    "DIMENSIONS": "firesale.monitor.thresholds",
    "Band": "firesale.monitor.thresholds",
    "ClassifierConfig": "firesale.monitor.thresholds",
    "EVENTS": "firesale.monitor.warning",
    "calibrate_config": "firesale.monitor.warning",
    "early_warning": "firesale.monitor.warning",
    "false_alarms": "firesale.monitor.warning",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'firesale.monitor' has no attribute {name!r}")
