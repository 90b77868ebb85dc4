"""Parquet files of the run store: conversion checked up front, atomic writes, guarded reads.

A DataFrame is converted to an Arrow table before anything touches the disk, so a frame Parquet cannot hold fails
as a bad argument with nothing written. A table is written to a temporary name in its final folder, flushed to
disk, and renamed into place (``os.replace`` is atomic within a file system), so a reader or a crash sees either
no file or the whole file, never a torn one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from firesale.exceptions import ParameterError, StoreError

__all__ = ["PARTITION_COLUMN", "read_frame", "to_table", "write_table"]

# Run folders are named ``run_id=<id>`` (Hive partitioning), so SQL engines reading a glob of them get the run id
# as a column of this name; a frame's own column of that name would be shadowed, hence refused.
PARTITION_COLUMN = "run_id"


def to_table(frame: object, *, name: str, where: str) -> pa.Table:
    """Convert a DataFrame to an Arrow table, raising ParameterError (naming ``name`` of ``where``) if it cannot."""
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(
            f"The {name!r} parameter of {where} must be a pandas DataFrame. Got {type(frame).__name__} instead."
        )
    bad = [column for column in frame.columns if not isinstance(column, str)]
    if bad:
        raise ParameterError(
            f"The {name!r} parameter of {where} must have string column names (Parquet requires them). "
            f"Got column {bad[0]!r} instead."
        )
    try:
        table = pa.Table.from_pandas(frame, preserve_index=None)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise ParameterError(
            f"The {name!r} parameter of {where} must be a DataFrame that Parquet can store. Got one that fails "
            f"to convert instead: {exc}"
        ) from exc
    if PARTITION_COLUMN in table.column_names:
        raise ParameterError(
            f"The {name!r} parameter of {where} must not have a column or index named {PARTITION_COLUMN!r} "
            f"(reserved: SQL queries over the store get the run id under that name). Got one instead."
        )
    return table


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` atomically (temporary file in the same folder, fsync, rename).

    Raises
    ------
    OSError
        If the file cannot be written; the temporary file is removed and ``path`` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        pq.write_table(table, tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def read_frame(path: Path, *, what: str) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_table` back into the DataFrame that was stored.

    Raises
    ------
    StoreError
        If the file is missing or unreadable.
    """
    try:
        # Read the one file, not a dataset: a dataset read would add the Hive partition column of the folder.
        with pq.ParquetFile(path) as parquet_file:
            table = parquet_file.read()
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(
            f"The {what} file {path} is missing or unreadable ({exc}). The run folder was changed outside "
            "firesale; re-run the scenario to regenerate it."
        ) from exc
    return table.to_pandas()
