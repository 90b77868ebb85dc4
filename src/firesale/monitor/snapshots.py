"""Watch a directory of snapshots, recompute indicators and state as files arrive, and alert on state changes.

A snapshot is a CSV (optionally gzip) or Parquet file whose name says its kind:

=============  ====================================================================================================
name starts    columns
=============  ====================================================================================================
``prices``     ``timestamp``, then one column per asset (USD)
``pools``      ``timestamp``, ``venue``, ``depth_usd`` (one row per venue and time)
``oracles``    ``timestamp``, then one column per feed (a feed named like a price column is compared with it)
``positions``  ``account``, ``asset``, ``collateral_amount``, ``debt_amount`` (optional ``protocol``,
               ``timestamp``; without a timestamp the snapshot is dated at the latest price)
=============  ====================================================================================================

Files are taken in the order of their names after the kind prefix (``prices-0001.csv``, ``pools-0002.csv``: name
them by time), each once. A file that cannot be read or lacks a column is
reported as an alert with the reason and skipped; the monitor goes on with the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from firesale.exceptions import ParameterError
from firesale.monitor._assemble import compute_indicators
from firesale.monitor._checks import fail
from firesale.monitor.classifier import Classification, classify
from firesale.monitor.indicators import debt_near_liquidation, health_factors
from firesale.monitor.thresholds import ClassifierConfig

__all__ = ["KINDS", "Alert", "SnapshotMonitor"]

KINDS: dict[str, tuple[str, ...]] = {
    "prices": ("timestamp",),
    "pools": ("timestamp", "venue", "depth_usd"),
    "oracles": ("timestamp",),
    "positions": ("account", "asset", "collateral_amount", "debt_amount"),
}
_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_STATES = ("stable", "stressed", "failure")


@dataclass(frozen=True)
class Alert:
    """Something the monitor reports: a state change or a snapshot it had to skip."""

    kind: str  # "state" or "bad snapshot"
    file: str
    message: str
    time: Any = None
    state: int | None = None

    def __str__(self) -> str:
        when = f"{self.time} " if self.time is not None else ""
        return f"{when}[{self.kind}] {self.file}: {self.message}"


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.name.endswith(".parquet"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # any reader failure is a bad snapshot, reported, never fatal
        raise ParameterError(f"{path.name}: cannot be read ({type(exc).__name__}: {exc})") from exc


def _times(frame: pd.DataFrame, name: str) -> pd.DatetimeIndex:
    try:
        ts = pd.to_datetime(frame["timestamp"], utc=True)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"{name}: column 'timestamp' has a value that is not a time ({exc})") from exc
    return pd.DatetimeIndex(ts, name="timestamp")


class SnapshotMonitor:
    """Recompute indicators and the classifier's state over a directory of snapshots.

    Parameters
    ----------
    directory : str or Path
    config : ClassifierConfig, optional
    buffers, pegs : mapping, optional
        As :func:`~firesale.monitor.compute_indicators`.
    liquidation_thresholds : mapping of asset to LT, optional
        For position snapshots (health factors); needed for each asset held as collateral.
    max_rows : int, default 20000
        Rows of history kept (the oldest are dropped).

    Examples
    --------
    Drive it by calling :meth:`step` (the polling loop :meth:`run` only adds waiting)::

        monitor = SnapshotMonitor("snapshots/", buffers={"ETH": 0.1})
        for alert in monitor.step():
            print(alert)
    """

    def __init__(
        self,
        directory: str | Path,
        config: ClassifierConfig | None = None,
        buffers: Mapping[str, float] | None = None,
        pegs: Mapping[str, float] | None = None,
        liquidation_thresholds: Mapping[str, float] | None = None,
        max_rows: int = 20_000,
    ) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise fail("directory", "SnapshotMonitor", "an existing directory", str(directory))
        self.config = config or ClassifierConfig()
        self.buffers = dict(buffers or {})
        self.pegs = dict(pegs or {})
        self.liquidation_thresholds = dict(liquidation_thresholds or {})
        self.max_rows = max_rows
        self.seen: set[str] = set()
        self.prices: pd.DataFrame | None = None
        self.depth: pd.DataFrame | None = None
        self.oracles: pd.DataFrame | None = None
        self.near: pd.Series | None = None
        self.state: int | None = None
        self.classification: Classification | None = None
        self.indicators: pd.DataFrame | None = None

    # ----- files ------------------------------------------------------------------------------------------------
    def pending(self) -> list[Path]:
        """Snapshot files not yet taken, in the order of their names after the kind (``prices-001`` first)."""
        files = [p for p in self.directory.iterdir() if p.is_file() and p.name.endswith(_SUFFIXES)]

        def order(p: Path) -> tuple[str, str]:
            kind = next((k for k in KINDS if p.name.startswith(k)), "")
            return p.name[len(kind) :], p.name

        return sorted((p for p in files if p.name not in self.seen), key=order)

    @staticmethod
    def kind(path: Path) -> str:
        """The snapshot's kind from its name, or a ParameterError naming the kinds."""
        for k in KINDS:
            if path.name.startswith(k):
                return k
        raise ParameterError(
            f"{path.name}: the name must start with one of {list(KINDS)} to say what it holds"
        )

    def _append(self, old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
        merged = new if old is None else pd.concat([old, new]).groupby(level=0).last()
        return merged.sort_index().iloc[-self.max_rows :]

    def load(self, path: Path) -> str:
        """Read one snapshot into the history; ParameterError (with the file and the problem) if it is bad."""
        kind = self.kind(path)
        frame = _read(path)
        missing = [c for c in KINDS[kind] if c not in frame.columns]
        if missing:
            raise ParameterError(
                f"{path.name}: a {kind} snapshot needs the columns {list(KINDS[kind])}; missing {missing} "
                f"(columns: {list(frame.columns)})"
            )
        if kind in ("prices", "oracles"):
            values = frame.drop(columns="timestamp")
            if values.shape[1] == 0:
                raise ParameterError(
                    f"{path.name}: a {kind} snapshot needs at least one column after 'timestamp'"
                )
            bad = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
            if bad:
                raise ParameterError(f"{path.name}: columns {bad} must be numeric")
            values.index = _times(frame, path.name)
            if kind == "prices":
                self.prices = self._append(self.prices, values.astype(float))
            else:
                self.oracles = self._append(self.oracles, values.astype(float))
        elif kind == "pools":
            if not pd.api.types.is_numeric_dtype(frame["depth_usd"]):
                raise ParameterError(f"{path.name}: column 'depth_usd' must be numeric")
            frame = frame.assign(timestamp=_times(frame, path.name))
            wide = frame.pivot_table(index="timestamp", columns="venue", values="depth_usd", aggfunc="last")
            wide.columns = [str(c) for c in wide.columns]
            self.depth = self._append(self.depth, wide.astype(float))
        else:
            self._load_positions(frame, path)
        return kind

    def _load_positions(self, frame: pd.DataFrame, path: Path) -> None:
        if self.prices is None:
            raise ParameterError(
                f"{path.name}: a positions snapshot needs prices first (no prices snapshot yet)"
            )
        at = _times(frame, path.name)[-1] if "timestamp" in frame else self.prices.index[-1]
        latest = self.prices.loc[:at].ffill().iloc[-1].to_dict()
        try:
            hf = health_factors(frame, latest, self.liquidation_thresholds)
        except ParameterError as exc:
            raise ParameterError(f"{path.name}: {exc}") from exc
        share = debt_near_liquidation(hf["health_factor"], hf["debt_usd"], (self.config.near_distance,))
        key = f"within_{round(100 * self.config.near_distance):d}pct_share"
        point = pd.Series([share[key]], index=pd.DatetimeIndex([at], name="timestamp"))
        self.near = point if self.near is None else pd.concat([self.near, point]).groupby(level=0).last()

    # ----- state ------------------------------------------------------------------------------------------------
    def evaluate(self) -> Classification | None:
        """Recompute the indicators and classification over the history kept (None without data)."""
        if self.prices is None and self.depth is None and self.oracles is None:
            return None
        base = (
            self.prices
            if self.prices is not None
            else (self.depth if self.depth is not None else self.oracles)
        )
        assert base is not None
        buffers = {a: b for a, b in self.buffers.items() if self.prices is not None and a in self.prices}
        pegs = {a: p for a, p in self.pegs.items() if self.prices is not None and a in self.prices}
        near = self.near.reindex(base.index, method="ffill") if self.near is not None else None
        if self.prices is not None and len(self.prices) < 2:
            return None
        self.indicators = compute_indicators(
            self.prices, config=self.config, buffers=buffers, pegs=pegs, depth=self.depth, oracles=self.oracles,
            near_liquidation=near,
        )  # fmt: skip
        self.indicators = self.indicators.dropna(axis=1, how="all")
        if self.indicators.shape[1] == 0:
            return None
        self.classification = classify(self.indicators, self.config)
        return self.classification

    def step(self) -> list[Alert]:
        """Take every pending snapshot, then re-evaluate; return the alerts (bad snapshots, state changes)."""
        alerts: list[Alert] = []
        for path in self.pending():
            self.seen.add(path.name)
            try:
                self.load(path)
            except ParameterError as exc:
                alerts.append(Alert("bad snapshot", path.name, str(exc)))
                continue
            c = self.evaluate()
            if c is None:
                continue
            state = int(c.state[-1])
            if state != self.state and c.index is not None:
                at = c.index[-1]
                before = _STATES[self.state] if self.state is not None else "start"
                reasons = "; ".join(c.reasons(len(c.index) - 1)) or "every measured dimension stable"
                msg = f"{before} -> {c.label(len(c.index) - 1)}: {reasons}"
                alerts.append(Alert("state", path.name, msg, at, state))
                self.state = state
        return alerts

    def run(
        self, poll_s: float = 10.0, emit: Callable[[Alert], None] = print, sleep: Callable[[float], None] = time.sleep,
        max_steps: int | None = None,
    ) -> None:  # fmt: skip
        """Poll forever (or ``max_steps`` times): :meth:`step`, emit each alert, wait ``poll_s`` seconds."""
        n = 0
        while max_steps is None or n < max_steps:
            for alert in self.step():
                emit(alert)
            n += 1
            if max_steps is None or n < max_steps:
                sleep(poll_s)

    def current(self) -> dict[str, Any]:
        """The latest state: ``time``, ``state`` (0, 1, 2), ``label``, ``reasons`` and the dimension grades."""
        c = self.classification
        if c is None or c.index is None:
            return {"time": None, "state": None, "label": "no data", "reasons": [], "grades": {}}
        i = len(c.index) - 1
        grades = c.grades("system")
        assert isinstance(grades, pd.DataFrame)
        return {
            "time": c.index[i], "state": int(c.state[i]), "label": c.label(i), "reasons": c.reasons(i),
            "grades": {k: int(v) for k, v in grades.iloc[i].items() if np.isfinite(v)},
        }  # fmt: skip
