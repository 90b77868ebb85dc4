"""Load price series in the canonical wide shape, from a shipped dataset or the user's own file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from firesale.data._resolve import resolve
from firesale.data._tables import parse_timestamps, parse_values, read_table, select_columns
from firesale.exceptions import ParameterError

__all__ = ["load_prices"]

_CALLER = "load_prices"
_LONG_SHAPE = ("timestamp", "symbol", "price")


def _pivot_long(frame: pd.DataFrame, index: pd.DatetimeIndex, path: Path, unit: str) -> pd.DataFrame:
    symbols = frame["symbol"].astype(str).str.strip()
    if (symbols == "").any():
        i = int(np.flatnonzero((symbols == "").to_numpy())[0])
        where = f"line {i + 2}" if unit == "line" else f"row {i}"
        raise ParameterError(f"{_CALLER}: {path}: column 'symbol' is empty at {where}.")
    prices = parse_values(frame["price"], "price", path, _CALLER, unit)
    long = pd.DataFrame({"timestamp": index, "symbol": symbols.to_numpy(), "price": prices})
    long = long.drop_duplicates()
    clash = long.duplicated(["timestamp", "symbol"], keep=False)
    if clash.any():
        first = long[clash].iloc[0]
        raise ParameterError(
            f"{_CALLER}: {path}: symbol {first['symbol']!r} has two different prices at "
            f"{first['timestamp'].isoformat()}."
        )
    wide = long.pivot(index="timestamp", columns="symbol", values="price")
    # Keep the order in which symbols first appear in the file, not alphabetical order.
    order = list(dict.fromkeys(long["symbol"]))
    wide = wide[order]
    wide.columns.name = None
    return wide


def _wide(frame: pd.DataFrame, index: pd.DatetimeIndex, path: Path, unit: str) -> pd.DataFrame:
    value_columns = [c for c in frame.columns if c != "timestamp"]
    if not value_columns:
        raise ParameterError(f"{_CALLER}: {path} has a 'timestamp' column but no value columns.")
    data = {c: parse_values(frame[c], c, path, _CALLER, unit) for c in value_columns}
    wide = pd.DataFrame(data, index=index).reset_index().drop_duplicates().set_index("timestamp")
    # Identical duplicate rows were dropped above; any duplicate timestamp left disagrees somewhere.
    duplicated = wide.index.duplicated(keep=False)
    if duplicated.any():
        stamp = wide.index[duplicated][0]
        rows = wide.loc[[stamp]]
        column = next(c for c in rows.columns if rows[c].nunique(dropna=False) > 1)
        raise ParameterError(
            f"{_CALLER}: {path}: timestamp {stamp.isoformat()} appears more than once with different values "
            f"in column {column!r}."
        )
    return wide


def load_prices(
    ref_or_path: str | Path,
    base_dir: str | Path | None = None,
    columns: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Load price (or other) time series in the canonical wide shape.

    Parameters
    ----------
    ref_or_path : str or Path
        ``"firesale-data:NAME"`` for a dataset shipped with firesale (see :func:`firesale.data.datasets`), or a
        path to the user's own CSV (optionally gzip) or Parquet file, relative to ``base_dir``.
    base_dir : str or Path, optional
        Folder that relative paths are taken from (the scenario file's folder); the working directory if None.
    columns : str or sequence of str, optional
        Columns to return, in this order; all columns if None.

    Returns
    -------
    pandas.DataFrame
        Float64 columns, one per series, indexed by a UTC ``DatetimeIndex`` named ``timestamp``, ascending and
        without duplicates. Missing values are NaN.

    Raises
    ------
    ParameterError
        If the reference does not resolve, or the file cannot be read, has no ``timestamp`` column, no rows, an
        unparseable timestamp, a non-numeric or infinite value, a timestamp repeated with different values, or
        lacks a requested column. The message names the file, the column and the problem.

    Notes
    -----
    Two file shapes are accepted:

    * wide: a ``timestamp`` column, then one numeric column per series (the shape of the shipped files);
    * long: exactly the columns ``timestamp``, ``symbol``, ``price``, pivoted to one column per symbol.

    Timestamps may be ISO 8601 strings (naive ones are taken as UTC, offsets converted to UTC) or Unix epochs in
    seconds, milliseconds or microseconds (told apart by magnitude). Empty cells and the strings ``null``,
    ``NaN``, ``None``, ``NA`` read as missing. Rows are sorted by time; rows repeated identically are dropped.

    Examples
    --------
    >>> from firesale.data import load_prices
    >>> eth = load_prices("firesale-data:eth_10min_2020-03-12", columns=["ETH_low"])
    >>> eth["ETH_low"].idxmin().isoformat(), float(eth["ETH_low"].min())
    ('2020-03-12T23:20:00+00:00', 101.01)
    """
    path = resolve(ref_or_path, base_dir)
    frame, unit = read_table(path, _CALLER)
    if "timestamp" not in frame.columns:
        raise ParameterError(
            f"{_CALLER}: {path} has no 'timestamp' column (columns: {list(frame.columns)}); the first column of a "
            "price file must be 'timestamp', then one column per series, or the long shape timestamp, symbol, price."
        )
    if len(frame) == 0:
        raise ParameterError(f"{_CALLER}: {path} has a header but no rows.")
    index = parse_timestamps(frame["timestamp"], path, _CALLER, unit)
    if set(frame.columns) == set(_LONG_SHAPE):
        wide = _pivot_long(frame, index, path, unit)
    else:
        wide = _wide(frame, index, path, unit)
    wide = wide.sort_index(kind="stable")
    wide.index = pd.DatetimeIndex(wide.index, name="timestamp")
    wide = select_columns(wide, columns, path, _CALLER)
    return wide.astype("float64")
