"""The run store's DuckDB catalog: its schema, its version check, and locked connections to it.

Every connection is short-lived (open, do the work, commit, close) and taken under the store's ``flock``
(:mod:`firesale.store._lock`): writers exclusively, readers shared. A new catalog is built under a temporary name
and renamed into place, so a writer killed while creating the store leaves either no catalog or a complete one.

Schema history (``meta.schema_version``):

1. the first schema: tables ``meta`` and ``runs`` as created by :data:`_DDL`.

A catalog with a newer schema is refused, never misread. An older one is migrated in place, under the exclusive
lock and in one transaction, by the first firesale to open it, through ``_MIGRATIONS`` (empty while schema 1 is the
only one); one that cannot be migrated is refused.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from firesale._version import __version__
from firesale.exceptions import StoreError
from firesale.store._lock import file_lock

__all__ = [
    "CATALOG_NAME",
    "LOCK_NAME",
    "RUNS_DIR",
    "SCHEMA_VERSION",
    "TYPED_METRICS",
    "check_root",
    "read_catalog",
    "write_catalog",
]

SCHEMA_VERSION = 1
CATALOG_NAME = "catalog.duckdb"
LOCK_NAME = "catalog.lock"
RUNS_DIR = "runs"
LOCK_TIMEOUT_S = 60.0
TYPED_METRICS = ("bad_debt_mean_usd", "bad_debt_var99_usd", "bad_debt_es99_usd", "p_bad_debt", "p_insolvency")

# Names the store itself puts in its root; anything else (bar dotfiles) means the directory is not a store.
_STORE_NAMES = frozenset({CATALOG_NAME, CATALOG_NAME + ".wal", LOCK_NAME, RUNS_DIR})

_DDL = f"""
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE runs (
    id VARCHAR PRIMARY KEY,
    scenario_name VARCHAR NOT NULL,
    scenario_hash VARCHAR NOT NULL,
    scenario_text VARCHAR NOT NULL,
    seed VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    n_paths BIGINT NOT NULL,
    n_steps BIGINT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    status VARCHAR NOT NULL CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
    message VARCHAR NOT NULL,
    parameters JSON NOT NULL,
    summary JSON,
    {", ".join(f"{name} DOUBLE" for name in TYPED_METRICS)},
    wall_seconds DOUBLE,
    series_names VARCHAR[],
    writer_pid BIGINT NOT NULL,
    writer_host VARCHAR NOT NULL,
    writer_started VARCHAR
);
"""

# from_version -> function upgrading a connection's catalog to from_version + 1 (inside the writer's transaction).
_MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {}


def check_root(root: Path) -> bool:
    """Return whether ``root`` holds a catalog; raise if it is something other than a (possibly empty) store.

    Raises
    ------
    StoreError
        If ``root`` is a file, or a directory with foreign content and no catalog, or a store whose catalog is
        missing while run data remains.
    """
    if not root.exists():
        return False
    if not root.is_dir():
        raise StoreError(
            f"The run store {root} is a file, not a directory. Pass a directory as the store "
            "(--store or FIRESALE_STORE)."
        )
    names = {name for name in os.listdir(root) if not name.startswith(".")}
    if CATALOG_NAME in names:
        return True
    if RUNS_DIR in names:
        raise StoreError(
            f"The run store {root} has run data in {root / RUNS_DIR} but no {CATALOG_NAME}. Restore the catalog "
            "from a backup, or move the directory aside and use a new store."
        )
    foreign = sorted(names - _STORE_NAMES)
    if foreign:
        raise StoreError(
            f"{root} is not a firesale run store: it holds other files (e.g. {foreign[0]!r}) and no "
            f"{CATALOG_NAME}. Pass a new or empty directory as the store (--store or FIRESALE_STORE)."
        )
    return False


def _corrupt(path: Path, detail: str) -> StoreError:
    return StoreError(
        f"The run store catalog {path} cannot be read: {detail}. It is corrupt or not a firesale catalog; move "
        "the store directory aside (or pass another one with --store) and run again."
    )


def _schema_version(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Return the catalog's schema version if this firesale can use it, at once or after migration."""
    tables = {
        row[0]
        for row in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
    }
    if "meta" not in tables:
        raise _corrupt(path, "it has no 'meta' table")
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        version = int(row[0]) if row is not None else None
    except ValueError:
        version = None
    if version is None:
        raise _corrupt(path, "its 'meta' table has no valid schema_version")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"The run store {path} was written by firesale with store schema {version}; this firesale reads "
            f"schema <= {SCHEMA_VERSION}; upgrade firesale (pip install -U firesale) or pass another store."
        )
    if version < SCHEMA_VERSION and not all(v in _MIGRATIONS for v in range(version, SCHEMA_VERSION)):
        raise StoreError(
            f"The run store {path} has store schema {version}, which this firesale (schema {SCHEMA_VERSION}) "
            "can neither read nor migrate. Read it with the firesale version that wrote it, or start a new store."
        )
    if version == SCHEMA_VERSION and "runs" not in tables:
        raise _corrupt(path, "it has no 'runs' table")
    return version


def _migrate(con: duckdb.DuckDBPyConnection, version: int) -> None:
    for v in range(version, SCHEMA_VERSION):
        _MIGRATIONS[v](con)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])


def _create_catalog(path: Path) -> None:
    # Built under a temporary name and renamed, so the catalog either does not exist or is complete.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute(_DDL)
            con.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [["schema_version", str(SCHEMA_VERSION)], ["created_by", f"firesale {__version__}"]],
            )
        finally:
            con.close()
        os.replace(tmp, path)
    except (OSError, duckdb.Error) as exc:
        raise StoreError(
            f"Cannot create the run store catalog {path}: {exc}. Check that the directory is writable."
        ) from exc
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)


def _connect(path: Path, *, read_only: bool, deadline: float) -> duckdb.DuckDBPyConnection:
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            # Another program (not firesale, which queues on the flock) holds DuckDB's own lock on the file.
            if "lock" not in str(exc).lower():
                raise _corrupt(path, str(exc)) from exc
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"The run store catalog {path} is held open by another program: {exc}. Close other DuckDB "
                    "sessions on it (e.g. an ATTACH in a notebook) and try again."
                ) from exc
            time.sleep(0.05)
        except duckdb.Error as exc:
            # Waiting would not help here: this very process holds the file (e.g. a notebook's ATTACH).
            if isinstance(exc, duckdb.ConnectionException) or type(exc).__name__ == "ResourceInUseException":
                raise StoreError(
                    f"The run store catalog {path} is already open in this process: {exc}. Close or DETACH your "
                    "own DuckDB connections to it and try again."
                ) from exc
            raise _corrupt(path, str(exc)) from exc


@contextmanager
def read_catalog(root: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """Yield a read-only connection to the catalog under a shared lock, or None if the store has no catalog yet.

    Raises
    ------
    StoreError
        If the directory is not a store, the catalog is corrupt, or its schema is not this firesale's.
    """
    if not check_root(root):
        yield None
        return
    path = root / CATALOG_NAME
    for _ in range(2):
        with file_lock(root / LOCK_NAME, exclusive=False, timeout_s=LOCK_TIMEOUT_S):
            con = _connect(path, read_only=True, deadline=time.monotonic() + LOCK_TIMEOUT_S)
            try:
                try:
                    version = _schema_version(con, path)
                except duckdb.Error as exc:
                    raise _corrupt(path, str(exc)) from exc
                if version == SCHEMA_VERSION:
                    try:
                        yield con
                    except duckdb.Error as exc:
                        raise _corrupt(path, str(exc)) from exc
                    return
            finally:
                con.close()
        # An older schema that this firesale can migrate: a writer upgrades it, then the read goes ahead.
        with write_catalog(root):
            pass
    raise _corrupt(path, "its schema did not migrate")  # pragma: no cover - a concurrent downgrade


@contextmanager
def write_catalog(root: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection inside a transaction under the exclusive lock, creating the store if needed.

    The transaction commits when the ``with`` block ends normally and rolls back if it raises, so a failed write
    changes nothing.

    Raises
    ------
    StoreError
        If the directory is not a store, the catalog is corrupt, or its schema is newer than this firesale's.
    """
    check_root(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the run store directory {root}: {exc}. Check its permissions."
        ) from exc
    path = root / CATALOG_NAME
    with file_lock(root / LOCK_NAME, exclusive=True, timeout_s=LOCK_TIMEOUT_S):
        # Checked again under the lock: another process may have created the store meanwhile.
        if not check_root(root):
            _create_catalog(path)
        con = _connect(path, read_only=False, deadline=time.monotonic() + LOCK_TIMEOUT_S)
        try:
            try:
                con.begin()
                version = _schema_version(con, path)
                if version < SCHEMA_VERSION:
                    _migrate(con, version)
            except duckdb.Error as exc:
                raise _corrupt(path, str(exc)) from exc
            try:
                yield con
                con.commit()
            except BaseException as exc:
                with suppress(duckdb.Error):
                    con.rollback()
                if isinstance(exc, duckdb.Error):
                    raise StoreError(
                        f"Cannot write to the run store catalog {path}: {exc}. Nothing was changed; check the "
                        "disk space and permissions and try again."
                    ) from exc
                raise
        finally:
            con.close()
