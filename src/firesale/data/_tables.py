"""Reading time-series tables (CSV or Parquet) with errors that name the file, the column and the problem."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from firesale.exceptions import ParameterError

__all__ = ["MISSING_TOKENS", "parse_timestamps", "parse_values", "read_table", "select_columns"]

# Cells read as "no value": empty cells and the literal strings some exporters write (Yahoo writes "null").
MISSING_TOKENS = frozenset({"", "null", "NULL", "Null", "nan", "NaN", "NAN", "None", "NA", "N/A", "#N/A"})

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst", ".txt", ".tsv")


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith((".parquet", ".pq"))


def _is_csv(path: Path) -> bool:
    return path.name.lower().endswith(_CSV_SUFFIXES)


def read_table(path: Path, caller: str) -> tuple[pd.DataFrame, str]:
    """Read ``path`` (CSV or Parquet) into a frame of raw cells; return it and the unit rows are counted in.

    CSV cells are returned as strings (header taken verbatim, stripped of spaces), so that every conversion
    error can name the line it happened on; Parquet keeps its column types.
    """
    if _is_parquet(path):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many unrelated types for a corrupt file
            raise ParameterError(f"{caller}: cannot read {path} as Parquet: {exc}") from exc
        if "timestamp" not in frame.columns and isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.reset_index(names="timestamp")
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame.reset_index(drop=True), "row"
    if not _is_csv(path):
        raise ParameterError(
            f"{caller}: {path} has an unsupported extension; use CSV (.csv, .csv.gz) or Parquet (.parquet)."
        )
    sep = "\t" if path.name.lower().endswith(".tsv") else ","
    try:
        raw = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except pd.errors.EmptyDataError as exc:
        raise ParameterError(f"{caller}: {path} is empty.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise ParameterError(f"{caller}: cannot read {path} as CSV: {exc}") from exc
    header = [str(c).strip() for c in raw.iloc[0]]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise ParameterError(f"{caller}: {path} has duplicated column names {duplicated} in its header.")
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = header
    return frame, "line"


def _row_label(unit: str, i: int) -> str:
    # CSV: line 1 is the header, so data row i sits on line i + 2.
    return f"line {i + 2}" if unit == "line" else f"row {i}"


def parse_timestamps(cells: pd.Series, path: Path, caller: str, unit: str) -> pd.DatetimeIndex:
    """Parse a timestamp column to a UTC DatetimeIndex.

    Accepted: ISO 8601 strings (naive ones are taken as UTC; offsets are converted to UTC), datetime values, or
    integer Unix epochs in seconds, milliseconds or microseconds (told apart by magnitude: below 1e11 is seconds,
    below 1e14 milliseconds, below 1e17 microseconds).
    """
    if pd.api.types.is_datetime64_any_dtype(cells):
        index = pd.DatetimeIndex(cells)
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        if index.hasnans:
            bad = int(np.flatnonzero(index.isna())[0])
            raise ParameterError(f"{caller}: {path}: column 'timestamp' is empty at {_row_label(unit, bad)}.")
        return index.rename("timestamp")

    text = cells.astype(str).str.strip()
    missing = text.isin(MISSING_TOKENS)
    if missing.any():
        bad = int(np.flatnonzero(missing.to_numpy())[0])
        raise ParameterError(f"{caller}: {path}: column 'timestamp' is empty at {_row_label(unit, bad)}.")
    is_integer = text.str.fullmatch(r"-?\d+")
    if is_integer.all():
        if int(text.str.lstrip("-").str.len().max()) > 17:
            widest = text[text.str.lstrip("-").str.len().idxmax()]
            raise ParameterError(
                f"{caller}: {path}: column 'timestamp' holds integers too large for a Unix epoch in s, ms or us "
                f"(largest {widest})."
            )
        numbers = text.astype(np.int64)
        magnitude = int(numbers.abs().max()) if len(numbers) else 0
        epoch_unit = (
            "s"
            if magnitude < 10**11
            else "ms"
            if magnitude < 10**14
            else "us"
            if magnitude < 10**17
            else None
        )
        if epoch_unit is None:
            raise ParameterError(
                f"{caller}: {path}: column 'timestamp' holds integers too large for a Unix epoch in s, ms or us "
                f"(largest {magnitude})."
            )
        return pd.DatetimeIndex(pd.to_datetime(numbers, unit=epoch_unit, utc=True), name="timestamp")

    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    if parsed.isna().any():
        bad = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise ParameterError(
            f"{caller}: {path}: column 'timestamp' must hold ISO 8601 times (e.g. 2020-03-12T23:20:00Z) or Unix "
            f"epochs; got {text.iloc[bad]!r} at {_row_label(unit, bad)}."
        )
    return pd.DatetimeIndex(parsed, name="timestamp")


def parse_values(cells: pd.Series, column: str, path: Path, caller: str, unit: str) -> np.ndarray:
    """Convert one value column to float64 (missing tokens become NaN; anything else non-numeric is an error)."""
    if pd.api.types.is_bool_dtype(cells):
        raise ParameterError(f"{caller}: {path}: column {column!r} holds booleans, not numbers.")
    if pd.api.types.is_numeric_dtype(cells):
        values = cells.to_numpy(dtype="float64", na_value=np.nan)
    else:
        text = cells.astype(str).str.strip()
        text = text.where(~text.isin(MISSING_TOKENS), None)
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() & text.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ParameterError(
                f"{caller}: {path}: column {column!r} must hold numbers; got {text.iloc[i]!r} at "
                f"{_row_label(unit, i)}."
            )
        values = numbers.to_numpy(dtype="float64", na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        i = int(np.flatnonzero(infinite)[0])
        raise ParameterError(
            f"{caller}: {path}: column {column!r} must hold finite numbers; got {values[i]} at {_row_label(unit, i)}."
        )
    return values


def select_columns(
    frame: pd.DataFrame, columns: str | Sequence[str] | None, path: Path, caller: str
) -> pd.DataFrame:
    """Keep ``columns`` (in that order) of ``frame``; None keeps all."""
    if columns is None:
        return frame
    wanted = [columns] if isinstance(columns, str) else columns
    if (
        not isinstance(wanted, Sequence)
        or isinstance(wanted, bytes)
        or not wanted
        or not all(isinstance(c, str) for c in wanted)
    ):
        raise ParameterError(
            f"The 'columns' parameter of {caller} must be a column name or a non-empty list of column names. "
            f"Got {columns!r} instead."
        )
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"{caller}: {path} has no column {missing[0]!r}; its columns are {list(frame.columns)}."
        )
    if len(set(wanted)) != len(wanted):
        raise ParameterError(
            f"The 'columns' parameter of {caller} lists a column twice. Got {list(wanted)!r} instead."
        )
    return frame[list(wanted)]
