"""The catalogue of shipped files: every file is listed, loads, and is in the canonical shape."""

from __future__ import annotations

import importlib
import importlib.resources

import pandas as pd
import pytest

import firesale.data as data
from firesale.data import datasets, load_prices, resolve

MODULES = [
    "firesale.data",
    "firesale.data._aave_v3",
    "firesale.data._aave_v3_params",
    "firesale.data._build",
    "firesale.data._catalog",
    "firesale.data._prices",
    "firesale.data._resolve",
    "firesale.data._tables",
    "firesale.data._venues",
]

TIME_SERIES = [row.name for row in datasets().itertuples() if row.frequency not in ("snapshot",)]


def test_datasets_has_the_documented_columns() -> None:
    frame = datasets()
    for column in ("name", "description", "columns", "start", "end", "frequency", "source", "licence"):
        assert column in frame.columns
    assert frame["name"].is_unique
    assert len(frame) == 23


@pytest.mark.parametrize("module", MODULES)
def test_all_is_sorted(module: str) -> None:
    names = importlib.import_module(module).__all__
    assert list(names) == sorted(names)


def test_public_api_is_small_and_exported() -> None:
    assert data.__all__ == [
        "aave_v3_market_parameters",
        "aave_v3_positions",
        "aave_v3_prices",
        "datasets",
        "load_aave_v3_snapshot",
        "load_curve_pool",
        "load_prices",
        "load_uniswap_v3_ticks",
        "recompute_health_factors",
        "resolve",
        "uniswap_v3_depth",
    ]


def test_every_shipped_file_is_catalogued_and_every_entry_is_shipped() -> None:
    folder = importlib.resources.files("firesale.data").joinpath("files")
    shipped = {p.name for p in folder.iterdir() if p.is_file()} - {"LICENSE-c1-univ3-liquidity-risk.txt"}
    assert shipped == set(datasets()["file"])


def test_shipped_files_stay_small() -> None:
    # The brief: a few MB at most, never the whole pack.
    folder = importlib.resources.files("firesale.data").joinpath("files")
    total = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())  # type: ignore[attr-defined]
    assert total < 3_000_000


@pytest.mark.parametrize("name", TIME_SERIES)
def test_time_series_load_in_canonical_shape(name: str) -> None:
    entry = datasets().set_index("name").loc[name]
    frame = load_prices(f"firesale-data:{name}")
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert str(frame.index.tz) == "UTC"
    assert frame.index.name == "timestamp"
    assert frame.index.is_monotonic_increasing
    assert frame.index.is_unique
    assert tuple(frame.columns) == tuple(entry["columns"])
    assert all(dtype == "float64" for dtype in frame.dtypes)
    assert frame.index[0] == entry["start"]
    assert frame.index[-1] == entry["end"]
    # Each series has data (no column is entirely empty).
    assert frame.notna().any().all()


@pytest.mark.parametrize("name", TIME_SERIES)
def test_raw_file_is_canonical_text(name: str) -> None:
    import gzip

    text = gzip.decompress(resolve(f"firesale-data:{name}").read_bytes()).decode()
    header, first = text.splitlines()[:2]
    assert header.split(",")[0] == "timestamp"
    assert first.split(",")[0].endswith("Z")
    assert "\r" not in text
