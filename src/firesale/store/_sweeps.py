"""Sweeps in the run store: one row per sweep and one per point, each point an ordinary run.

The tables are added to the catalog the first time a sweep is written (``CREATE TABLE IF NOT EXISTS``, inside
the writer's transaction); a catalog without them simply has no sweeps, so stores written before sweeps existed,
and firesale versions that do not know them, keep working::

    sweeps        id, scenario_name, scenario_hash, seed (decimal text), n_paths, n_points, axes (JSON),
                  created_at (TIMESTAMP, UTC), status ("running" or "complete")
    sweep_points  sweep_id, point (0-based), overrides (JSON: dotted key -> value), run_id (NULL until started)

Join ``sweep_points.run_id`` to ``runs.id`` for each point's summary and files.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from firesale.exceptions import StoreError
from firesale.store._catalog import read_catalog, write_catalog

__all__ = ["SweepLog"]

_DDL = """
CREATE TABLE IF NOT EXISTS sweeps (
    id VARCHAR PRIMARY KEY,
    scenario_name VARCHAR NOT NULL,
    scenario_hash VARCHAR NOT NULL,
    seed VARCHAR NOT NULL,
    n_paths BIGINT NOT NULL,
    n_points BIGINT NOT NULL,
    axes JSON NOT NULL,
    created_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS sweep_points (
    sweep_id VARCHAR NOT NULL,
    point BIGINT NOT NULL,
    overrides JSON NOT NULL,
    run_id VARCHAR,
    PRIMARY KEY (sweep_id, point)
);
"""


def _has_tables(con: Any) -> bool:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
    return {"sweeps", "sweep_points"} <= {r[0] for r in rows}


class SweepLog:
    """Sweeps of the run store at ``root``: create one with its points, attach runs, read them back."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def create(
        self,
        *,
        scenario_name: str,
        scenario_hash: str,
        seed: int,
        n_paths: int,
        axes: dict[str, list[Any]],
        points: list[dict[str, Any]],
    ) -> str:
        """Record a new sweep and its points (no runs yet); return the sweep id."""
        now = datetime.now(UTC).replace(tzinfo=None)
        sweep_id = f"sweep-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        with write_catalog(self.root) as con:
            con.execute(_DDL)
            con.execute(
                "INSERT INTO sweeps VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running')",
                [
                    sweep_id,
                    scenario_name,
                    scenario_hash,
                    str(seed),
                    n_paths,
                    len(points),
                    json.dumps(axes),
                    now,
                ],
            )
            con.executemany(
                "INSERT INTO sweep_points VALUES (?, ?, ?, NULL)",
                [[sweep_id, i, json.dumps(p)] for i, p in enumerate(points)],
            )
        return sweep_id

    def attach(self, sweep_id: str, point: int, run_id: str) -> None:
        """Record the run that computes ``point``."""
        with write_catalog(self.root) as con:
            con.execute(
                "UPDATE sweep_points SET run_id = ? WHERE sweep_id = ? AND point = ?",
                [run_id, sweep_id, point],
            )

    def complete(self, sweep_id: str) -> None:
        """Mark the sweep complete (every point's run is complete)."""
        with write_catalog(self.root) as con:
            con.execute("UPDATE sweeps SET status = 'complete' WHERE id = ?", [sweep_id])

    def sweeps(self) -> pd.DataFrame:
        """Every sweep, newest first (empty if none)."""
        cols = ["id", "scenario_name", "scenario_hash", "seed", "n_paths", "n_points", "axes", "created_at"]
        with read_catalog(self.root) as con:
            if con is None or not _has_tables(con):
                return pd.DataFrame(columns=[*cols, "status"])
            rows = con.execute(f"SELECT {', '.join(cols)}, status FROM sweeps ORDER BY id DESC").fetchall()
        return pd.DataFrame(rows, columns=[*cols, "status"])

    def get(self, sweep_id: str) -> tuple[dict[str, Any], pd.DataFrame]:
        """One sweep: its row and its points (point, overrides as dicts, run_id, run status)."""
        with read_catalog(self.root) as con:
            if con is None or not _has_tables(con):
                raise StoreError(f"There is no sweep {sweep_id!r} in the run store {self.root}.")
            row = con.execute(
                "SELECT id, scenario_name, scenario_hash, seed, n_paths, n_points, axes, status FROM sweeps "
                "WHERE id = ?",
                [sweep_id],
            ).fetchone()
            if row is None:
                raise StoreError(
                    f"There is no sweep {sweep_id!r} in the run store {self.root}. List them with "
                    "SweepLog.sweeps()."
                )
            points = con.execute(
                "SELECT p.point, p.overrides, p.run_id, r.status FROM sweep_points AS p "
                "LEFT JOIN runs AS r ON r.id = p.run_id WHERE p.sweep_id = ? ORDER BY p.point",
                [sweep_id],
            ).fetchall()
        keys = ["id", "scenario_name", "scenario_hash", "seed", "n_paths", "n_points", "axes", "status"]
        meta = dict(zip(keys, row, strict=True))
        meta["axes"] = json.loads(meta["axes"])
        meta["seed"] = int(meta["seed"])
        frame = pd.DataFrame(
            [(p, json.loads(o), r, s) for p, o, r, s in points],
            columns=["point", "overrides", "run_id", "status"],
        )
        return meta, frame
