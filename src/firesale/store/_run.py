"""A run read back from the store: its catalog row, and its Parquet files on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from firesale.exceptions import StoreError
from firesale.store._checks import bad
from firesale.store._files import read_frame

__all__ = ["METRICS_FILE", "SERIES_DIR", "StoredRun"]

METRICS_FILE = "metrics.parquet"
SERIES_DIR = "series"


@dataclass(frozen=True)
class StoredRun:
    """One run read back from a :class:`RunStore`.

    Attributes
    ----------
    id : str
        The run id, e.g. ``"20261122T021530-3f9a1c"`` (UTC start time, random hex).
    status : str
        "running", "complete", "interrupted", "failed", or "incomplete" (its writer died while it was running).
    scenario_name, scenario_hash, scenario_text : str
        The scenario's name, the sha256 hex digest of its content, and its TOML text.
    seed : int
        The seed the run was started with (any size).
    version : str
        The firesale version that ran it.
    n_paths, n_steps : int
        Monte Carlo paths and time steps.
    started_at, ended_at : datetime
        Time-zone aware (UTC); ``ended_at`` is None while running or if the writer died.
    wall_seconds : float or None
        Wall-clock duration reported by :meth:`RunStore.finish`; None unless complete.
    message : str
        Why the run was interrupted or failed ("" otherwise).
    parameters : dict
        The run's parameters, as given to :meth:`RunStore.start`.
    summary : dict of str to float
        Headline metrics of a complete run (empty otherwise); NaN where the run reported NaN.
    path : Path
        The run's folder of Parquet files.
    """

    id: str
    status: str
    scenario_name: str
    scenario_hash: str
    scenario_text: str = field(repr=False)
    seed: int
    version: str
    n_paths: int
    n_steps: int
    started_at: datetime
    ended_at: datetime | None
    wall_seconds: float | None
    message: str
    parameters: dict[str, Any] = field(repr=False, hash=False)
    summary: dict[str, float] = field(hash=False)
    path: Path = field(repr=False)
    _series_names: tuple[str, ...] = field(default=(), repr=False)

    def _require_complete(self, what: str) -> None:
        if self.status != "complete":
            raise StoreError(
                f"Run {self.id} is {self.status}, so it has no stored {what}; only complete runs do. Re-run "
                "the scenario to get them."
            )

    def metrics(self) -> pd.DataFrame:
        """Return the per-path metrics, one row per path, exactly as given to :meth:`RunStore.finish`.

        Returns
        -------
        DataFrame
            ``n_paths`` rows.

        Raises
        ------
        StoreError
            If the run is not complete or its file is missing or unreadable.
        """
        self._require_complete("metrics")
        return read_frame(self.path / METRICS_FILE, what=f"metrics of run {self.id}")

    def series_names(self) -> list[str]:
        """Return the names of the run's stored time series, sorted.

        Returns
        -------
        list of str
            Empty if the run stored none or is not complete.
        """
        return sorted(self._series_names)

    def series(self, name: str) -> pd.DataFrame:
        """Return one named time series, exactly as given to :meth:`RunStore.finish`.

        Parameters
        ----------
        name : str
            One of :meth:`series_names`.

        Returns
        -------
        DataFrame

        Raises
        ------
        ParameterError
            If the run has no series of that name.
        StoreError
            If the run is not complete or the file is missing or unreadable.
        """
        self._require_complete("series")
        if name not in self._series_names:
            raise bad("name", "StoredRun.series", f"one of {self.series_names()}", repr(name))
        return read_frame(
            self.path / SERIES_DIR / f"{name}.parquet", what=f"series {name!r} of run {self.id}"
        )
