"""The run store's public face: :class:`RunStore` writes and lists runs; :func:`default_store_root` finds it."""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from firesale.exceptions import StoreError
from firesale.store._catalog import RUNS_DIR, TYPED_METRICS, check_root, read_catalog, write_catalog
from firesale.store._checks import (
    MAX_BIGINT,
    as_float,
    bad,
    check_int,
    check_parameters,
    check_series,
    check_str,
    check_summary,
)
from firesale.store._files import PARTITION_COLUMN, to_table, write_table
from firesale.store._process import current_writer, writer_is_alive
from firesale.store._run import METRICS_FILE, SERIES_DIR, StoredRun

__all__ = ["RunStore", "default_store_root"]

_MARK_STATUSES = ["failed", "interrupted"]
_HASH = re.compile(r"[0-9a-f]{64}")

# Columns of RunStore.runs(), in order; scenario text, parameters and the full summary are read with get().
_LISTING_COLUMNS = [
    "id",
    "status",
    "scenario_name",
    "scenario_hash",
    "seed",
    "version",
    "n_paths",
    "n_steps",
    "started_at",
    "ended_at",
    "wall_seconds",
    *TYPED_METRICS,
    "message",
]
_WRITER_COLUMNS = ["writer_pid", "writer_host", "writer_started"]
_DETAIL_COLUMNS = ["scenario_text", "parameters", "summary", "series_names"]
_LISTING_DTYPES = {
    "n_paths": "int64",
    "n_steps": "int64",
    "wall_seconds": "float64",
    **dict.fromkeys(TYPED_METRICS, "float64"),
}


def default_store_root() -> Path:
    """Return the run store directory to use when none is given: ``$FIRESALE_STORE``, else ``./firesale-runs``.

    Returns
    -------
    Path
        ``Path(os.environ.get("FIRESALE_STORE", "firesale-runs"))``; relative paths are relative to the working
        directory.
    """
    return Path(os.environ.get("FIRESALE_STORE", "firesale-runs"))


def _utcnow() -> datetime:
    # Stored naive (TIMESTAMP, by convention UTC): a TIMESTAMPTZ would come back in each reader's session time zone.
    return datetime.now(UTC).replace(tzinfo=None)


def _new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def _as_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _remove_temp(run_dir: Path) -> None:
    """Remove temporary files an earlier, killed write left in a run folder (``write_table``'s ``.NAME.*.tmp``)."""
    if run_dir.is_dir():
        for tmp in run_dir.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _status(status: str, writer_pid: int, writer_host: str, writer_started: str | None) -> str:
    if status == "running" and not writer_is_alive(writer_pid, writer_host, writer_started):
        return "incomplete"
    return status


class RunStore:
    """An embedded store of simulation runs: a DuckDB catalog plus Parquet files, in one directory.

    Parameters
    ----------
    root : str or os.PathLike
        The store directory (see :func:`default_store_root`). Nothing is created until the first write; it must
        be new, empty, or an existing store.

    Notes
    -----
    Every call opens the catalog, does its work in one transaction and closes it, under a ``flock`` on
    ``catalog.lock`` (exclusive for writes, shared for reads), so any number of processes may use one store at
    once. Parquet files are written under temporary names and renamed into place before the catalog row that
    points at them is committed: a writer killed at any moment leaves the catalog readable, its run shown as
    "incomplete", and other runs untouched.

    Examples
    --------
    >>> store = RunStore(tmp_path / "runs")  # doctest: +SKIP
    >>> run_id = store.start(scenario_name="eth-crash", scenario_hash=digest, scenario_text=text, seed=42,
    ...                      version="0.1.0", n_paths=1000, n_steps=96, parameters={})  # doctest: +SKIP
    >>> store.finish(run_id, metrics=per_path, summary={"p_bad_debt": 0.03}, wall_seconds=12.5)  # doctest: +SKIP
    >>> store.get(run_id[:10]).metrics()  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike) -> None:
        if not isinstance(root, str | os.PathLike):
            raise bad("root", "RunStore", "a str or os.PathLike", repr(root))
        self._root = Path(root)

    @property
    def root(self) -> Path:
        """The store directory."""
        return self._root

    def __repr__(self) -> str:
        return f"RunStore({str(self._root)!r})"

    def _run_dir(self, run_id: str) -> Path:
        return self._root / RUNS_DIR / f"{PARTITION_COLUMN}={run_id}"

    def start(
        self,
        *,
        scenario_name: str,
        scenario_hash: str,
        scenario_text: str,
        seed: int,
        version: str,
        n_paths: int,
        n_steps: int,
        parameters: dict,
    ) -> str:
        """Record a new run as "running" and return its id.

        Parameters
        ----------
        scenario_name : str
            The scenario's name.
        scenario_hash : str
            sha256 hex digest (64 lowercase hex characters) of the scenario's content.
        scenario_text : str
            The scenario's TOML text, stored so the run can be reproduced.
        seed : int
            The run's seed, >= 0, of any size (stored exactly, as decimal text).
        version : str
            The firesale version running it.
        n_paths, n_steps : int
            Monte Carlo paths and time steps, >= 1.
        parameters : dict
            The run's parameters; must be JSON serializable (NumPy scalars and arrays are converted).

        Returns
        -------
        str
            The run id: UTC start time and random hex, e.g. ``"20261122T021530-3f9a1c"``; ids sort by start time.

        Raises
        ------
        ParameterError
            If an argument is invalid (nothing is written).
        StoreError
            If the store cannot be written.
        """
        where = "RunStore.start"
        check_str(scenario_name, "scenario_name", where)
        if not isinstance(scenario_hash, str) or not _HASH.fullmatch(scenario_hash):
            raise bad(
                "scenario_hash",
                where,
                "a sha256 hex digest (64 lowercase hex characters)",
                repr(scenario_hash),
            )
        check_str(scenario_text, "scenario_text", where, non_empty=False)
        seed = check_int(seed, "seed", where, minimum=0)
        check_str(version, "version", where)
        n_paths = check_int(n_paths, "n_paths", where, minimum=1, maximum=MAX_BIGINT)
        n_steps = check_int(n_steps, "n_steps", where, minimum=1, maximum=MAX_BIGINT)
        parameters_json = check_parameters(parameters, where)
        pid, host, started = current_writer()
        with write_catalog(self._root) as con:
            now = _utcnow()
            run_id = _new_run_id(now)
            # Ids are unique per second with 24 random bits; a clash (checked under the lock) just draws again.
            while con.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone() is not None:
                run_id = _new_run_id(now)
            con.execute(
                "INSERT INTO runs (id, scenario_name, scenario_hash, scenario_text, seed, version, n_paths, "
                "n_steps, started_at, status, message, parameters, writer_pid, writer_host, writer_started) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', '', ?, ?, ?, ?)",
                [
                    run_id,
                    scenario_name,
                    scenario_hash,
                    scenario_text,
                    str(seed),
                    version,
                    n_paths,
                    n_steps,
                    now,
                    parameters_json,
                    pid,
                    host,
                    started,
                ],
            )
        return run_id

    def _catalog_status(self, run_id: str) -> tuple[str, int] | None:
        with read_catalog(self._root) as con:
            if con is None:
                return None
            row = con.execute("SELECT status, n_paths FROM runs WHERE id = ?", [run_id]).fetchone()
        return None if row is None else (row[0], row[1])

    def _unknown(self, run_id: str) -> StoreError:
        return StoreError(
            f"There is no run {run_id!r} in the run store {self._root}. Pass the id returned by RunStore.start."
        )

    def finish(
        self,
        run_id: str,
        *,
        metrics: pd.DataFrame,
        summary: dict[str, float],
        series: dict[str, pd.DataFrame] | None = None,
        wall_seconds: float,
    ) -> None:
        """Store a running run's results and mark it "complete".

        Parameters
        ----------
        run_id : str
            The id returned by :meth:`start`.
        metrics : DataFrame
            Per-path metrics, one row per path (``n_paths`` rows); column names are str and not ``"run_id"``.
        summary : dict of str to float
            Headline metrics (finite or NaN). The keys ``bad_debt_mean_usd``, ``bad_debt_var99_usd``,
            ``bad_debt_es99_usd``, ``p_bad_debt`` and ``p_insolvency`` also fill typed catalog columns.
        series : dict of str to DataFrame, optional
            Named time series; names use letters, digits, ``_``, ``.`` and ``-``.
        wall_seconds : float
            Wall-clock duration of the run, >= 0.

        Raises
        ------
        ParameterError
            If an argument is invalid (nothing is written).
        StoreError
            If the run is unknown or not running, or the store cannot be written. The run then stays "running"
            (mark it "failed" if it cannot be finished); files of other runs are never touched.
        """
        where = "RunStore.finish"
        check_str(run_id, "run_id", where)
        metrics_table = to_table(metrics, name="metrics", where=where)
        values = check_summary(summary, where)
        series_tables = check_series(series, where)
        wall = as_float(wall_seconds)
        if wall is None or not math.isfinite(wall) or wall < 0:
            raise bad("wall_seconds", where, "a finite float >= 0", repr(wall_seconds))
        found = self._catalog_status(run_id)
        if found is None:
            raise self._unknown(run_id)
        status, n_paths = found
        if status != "running":
            raise StoreError(
                f"Run {run_id} is already {status}; only a running run can be finished. Start a new run instead."
            )
        if metrics_table.num_rows != n_paths:
            raise bad(
                "metrics", where, f"one row per path ({n_paths} rows)", f"{metrics_table.num_rows} rows"
            )
        run_dir = self._run_dir(run_id)
        _remove_temp(run_dir)
        try:
            write_table(metrics_table, run_dir / METRICS_FILE)
            for name, table in series_tables.items():
                write_table(table, run_dir / SERIES_DIR / f"{name}.parquet")
        except OSError as exc:
            raise StoreError(
                f"Cannot write the results of run {run_id} to {run_dir}: {exc}. The run stays 'running'; free "
                "disk space or fix permissions, then finish it again or mark it failed."
            ) from exc
        summary_json = json.dumps({k: None if math.isnan(v) else v for k, v in values.items()})
        # The row flips to "complete" only now that every file it points at is in place.
        with write_catalog(self._root) as con:
            updated = con.execute(
                f"UPDATE runs SET status = 'complete', ended_at = ?, summary = ?, wall_seconds = ?, "
                f"series_names = ?, {', '.join(f'{name} = ?' for name in TYPED_METRICS)} "
                "WHERE id = ? AND status = 'running' RETURNING id",
                [
                    _utcnow(),
                    summary_json,
                    wall,
                    sorted(series_tables),
                    *(values.get(name) for name in TYPED_METRICS),
                    run_id,
                ],
            ).fetchall()
            if not updated:
                raise StoreError(
                    f"Run {run_id} stopped running while its results were being written (another process marked "
                    "it); its results were not recorded. Start a new run instead."
                )

    def mark(self, run_id: str, status: str, message: str = "") -> None:
        """Record that a running run ended without results.

        Parameters
        ----------
        run_id : str
            The id returned by :meth:`start`.
        status : {"failed", "interrupted"}
            "interrupted" for a user stop (Ctrl-C), "failed" for an error.
        message : str, default ""
            Why, e.g. the error message.

        Raises
        ------
        ParameterError
            If ``status`` or ``message`` is invalid.
        StoreError
            If the run is unknown or not running, or the store cannot be written.
        """
        where = "RunStore.mark"
        check_str(run_id, "run_id", where)
        if status not in _MARK_STATUSES:
            raise bad("status", where, f"one of {_MARK_STATUSES}", repr(status))
        check_str(message, "message", where, non_empty=False)
        if not check_root(self._root):
            raise self._unknown(run_id)
        with write_catalog(self._root) as con:
            row = con.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()
            if row is None:
                raise self._unknown(run_id)
            if row[0] != "running":
                raise StoreError(
                    f"Run {run_id} is already {row[0]}; only a running run can be marked {status}."
                )
            con.execute(
                "UPDATE runs SET status = ?, message = ?, ended_at = ? WHERE id = ?",
                [status, message, _utcnow(), run_id],
            )
        _remove_temp(self._run_dir(run_id))

    def delete(self, run_id: str) -> None:
        """Remove a run: its catalog row, then its folder (with any temporary file a killed write left there).

        Parameters
        ----------
        run_id : str
            The run's full id (no prefix: deleting is not undoable).

        Raises
        ------
        StoreError
            If the run is unknown, or still running in a live process.
        """
        check_str(run_id, "run_id", "RunStore.delete")
        if not check_root(self._root):
            raise self._unknown(run_id)
        with write_catalog(self._root) as con:
            row = con.execute(
                "SELECT status, writer_pid, writer_host, writer_started FROM runs WHERE id = ?", [run_id]
            ).fetchone()
            if row is None:
                raise self._unknown(run_id)
            if _status(*row) == "running":
                raise StoreError(
                    f"Run {run_id} is still running in a live process; stop it (Ctrl-C) before deleting it."
                )
            con.execute("DELETE FROM runs WHERE id = ?", [run_id])
        # The row goes first: a crash in between leaves a folder no row points at, never a row without files.
        shutil.rmtree(self._run_dir(run_id), ignore_errors=True)

    def runs(self) -> pd.DataFrame:
        """List the stored runs, newest first.

        Returns
        -------
        DataFrame
            One row per run with columns ``id, status, scenario_name, scenario_hash, seed, version, n_paths,
            n_steps, started_at, ended_at, wall_seconds, bad_debt_mean_usd, bad_debt_var99_usd,
            bad_debt_es99_usd, p_bad_debt, p_insolvency, message``. ``seed`` holds Python ints (object dtype);
            times are UTC; a run whose writer process died shows status "incomplete". Empty if the store does not
            exist yet.

        Raises
        ------
        StoreError
            If the directory is not a store, or its catalog is corrupt or from a newer firesale.
        """
        with read_catalog(self._root) as con:
            rows = (
                []
                if con is None
                else con.execute(
                    f"SELECT {', '.join(_LISTING_COLUMNS + _WRITER_COLUMNS)} FROM runs "
                    "ORDER BY started_at DESC, id DESC"
                ).fetchall()
            )
        n = len(_LISTING_COLUMNS)
        records = []
        for row in rows:
            record = dict(zip(_LISTING_COLUMNS, row[:n], strict=True))
            record["status"] = _status(record["status"], *row[n:])
            record["seed"] = int(record["seed"])
            records.append(record)
        frame = pd.DataFrame.from_records(records, columns=_LISTING_COLUMNS).astype(_LISTING_DTYPES)
        frame["seed"] = frame["seed"].astype(object)
        for column in ("started_at", "ended_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
        return frame

    def get(self, run_id: str) -> StoredRun:
        """Read one run back.

        Parameters
        ----------
        run_id : str
            The run's id or a unique prefix of it (e.g. ``"20261122T0215"``).

        Returns
        -------
        StoredRun

        Raises
        ------
        StoreError
            If no run, or more than one, matches ``run_id``.
        """
        check_str(run_id, "run_id", "RunStore.get")
        columns = _LISTING_COLUMNS + _WRITER_COLUMNS + _DETAIL_COLUMNS
        with read_catalog(self._root) as con:
            if con is None:
                raise StoreError(
                    f"There is no run matching {run_id!r}: the run store {self._root} holds no runs yet. Check "
                    "the store path (--store or FIRESALE_STORE)."
                )
            ids = [
                row[0]
                for row in con.execute(
                    "SELECT id FROM runs WHERE starts_with(id, ?) ORDER BY id", [run_id]
                ).fetchall()
            ]
            if len(ids) != 1:
                if not ids:
                    raise StoreError(
                        f"There is no run matching {run_id!r} in the run store {self._root}. List the runs "
                        "(RunStore.runs) to find its id."
                    )
                shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
                raise StoreError(
                    f"The run id prefix {run_id!r} is ambiguous: it matches {len(ids)} runs ({shown}). Give "
                    "more characters of the id."
                )
            row = con.execute(f"SELECT {', '.join(columns)} FROM runs WHERE id = ?", [ids[0]]).fetchone()
        # The row cannot vanish in between: both reads run in one connection under the lock.
        assert row is not None
        record = dict(zip(columns, row, strict=True))
        summary = json.loads(record["summary"]) if record["summary"] is not None else {}
        return StoredRun(
            id=record["id"],
            status=_status(
                record["status"], record["writer_pid"], record["writer_host"], record["writer_started"]
            ),
            scenario_name=record["scenario_name"],
            scenario_hash=record["scenario_hash"],
            scenario_text=record["scenario_text"],
            seed=int(record["seed"]),
            version=record["version"],
            n_paths=record["n_paths"],
            n_steps=record["n_steps"],
            started_at=record["started_at"].replace(tzinfo=UTC),
            ended_at=_as_utc(record["ended_at"]),
            wall_seconds=record["wall_seconds"],
            message=record["message"],
            parameters=json.loads(record["parameters"]),
            summary={k: math.nan if v is None else float(v) for k, v in summary.items()},
            path=self._run_dir(record["id"]),
            _series_names=tuple(record["series_names"] or ()),
        )
