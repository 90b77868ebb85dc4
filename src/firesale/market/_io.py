"""Read a price table named by a scenario (replay and bootstrap sources)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from firesale.exceptions import ParameterError, ScenarioError

__all__ = ["read_price_table", "resolve_source"]

DATA_PREFIX = "firesale-data:"


def resolve_source(ref: str, base_dir: Path, key: str) -> Path:
    """Map a scenario's data reference to an existing file.

    ``"firesale-data:NAME"`` and relative paths go through ``firesale.data.resolve`` when that package exists
    (imported here, lazily, so that the market layer does not need it); without it, relative paths are taken
    from ``base_dir`` (the scenario file's folder) and ``firesale-data:`` references are an error.
    """
    resolve: Callable[[str, Path], Path] | None
    try:
        from firesale.data import resolve
    except ImportError:
        resolve = None
    if resolve is not None:
        try:
            path = Path(resolve(ref, base_dir))
        except ParameterError as exc:
            raise ScenarioError(f"{key}: {exc}") from exc
    elif ref.startswith(DATA_PREFIX):
        raise ScenarioError(f"{key}: 'firesale-data:' references need the firesale.data package, got {ref!r}")
    else:
        path = Path(ref).expanduser()
        path = path if path.is_absolute() else Path(base_dir) / path
    if not path.is_file():
        raise ScenarioError(f"{key}: must name an existing file, got {ref!r} (looked for {path})")
    return path


def read_price_table(
    path: Path,
    *,
    columns: Mapping[str, str],
    time_column: str,
    time_format: str | None = None,
    time_unit: str | None = None,
    key: str = "market",
) -> pd.DataFrame:
    """Read prices from a CSV (optionally compressed) or Parquet file into a clean frame.

    Parameters
    ----------
    path : Path
        ``.parquet`` is read with pyarrow, anything else as CSV (compression inferred from the suffix).
    columns : mapping of str to str
        Asset name to column name.
    time_column : str
        Column holding the timestamps.
    time_format : str, optional
        ``strftime`` format of the timestamps (e.g. ``"%m/%d/%Y %H:%M"``); default: ISO 8601 or inferred.
    time_unit : {"s", "ms", "us", "ns"}, optional
        The timestamps are numbers since the epoch in this unit.
    key : str
        Key path used in error messages.

    Returns
    -------
    pandas.DataFrame
        One column per asset, UTC DatetimeIndex ascending without duplicates (the last row of a duplicated
        timestamp wins), rows with a missing price dropped.
    """
    try:
        raw = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError is a ValueError
        raise ScenarioError(
            f"{key}.source: cannot be read as a price table ({exc}), got {path.name!r}"
        ) from exc
    wanted = [time_column, *columns.values()]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise ScenarioError(
            f"{key}: columns {missing} are not in {path.name} (it has {list(raw.columns)}), got {missing}"
        )
    stamps = raw[time_column]
    try:
        if time_unit is not None:
            index = pd.to_datetime(stamps, unit=time_unit, utc=True)
        else:
            index = pd.to_datetime(stamps, format=time_format, utc=True)
    except (ValueError, TypeError) as exc:
        raise ScenarioError(
            f"{key}.time_column: timestamps of {path.name} cannot be parsed ({exc}), got {stamps.iloc[0]!r}"
        ) from exc
    frame = pd.DataFrame(
        {
            asset: pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=np.float64)
            for asset, col in columns.items()
        },
        index=pd.DatetimeIndex(index),
    )
    frame = frame.dropna(how="any").sort_index(kind="stable")
    return frame[~frame.index.duplicated(keep="last")]
