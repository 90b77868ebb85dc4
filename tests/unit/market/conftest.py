"""Fixtures for the market tests: real price histories from the shared data pack (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest


def _data_dir() -> Path | None:
    # CI checks out main with ../shared beside it; a developer machine has /work/shared.
    candidates = [
        os.environ.get("FIRESALE_DATA_DIR"),
        Path(__file__).resolve().parents[4] / "shared" / "data",
        "/work/shared/data",
    ]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


DATA_DIR = _data_dir()
ETH_HOURLY = "prices/hourly/gemini_ETHUSD_1h_2018-05_2024-02.csv.gz"
BTC_HOURLY = "prices/hourly/bitstamp_BTCUSD_1h_2018-05_2024-11.csv.gz"


def data_file(name: str) -> Path:
    if DATA_DIR is None or not (DATA_DIR / name).is_file():
        pytest.skip(f"shared data file {name} is not available")
    return DATA_DIR / name


@pytest.fixture(scope="session")
def eth_hourly() -> pd.Series:
    """Gemini ETH/USD hourly closes: rows newest first, dates m/d/Y H:M in UTC (see PROVENANCE.md)."""
    raw = pd.read_csv(data_file(ETH_HOURLY))
    index = pd.DatetimeIndex(pd.to_datetime(raw["date"], format="%m/%d/%Y %H:%M", utc=True))
    s = pd.Series(raw["close"].to_numpy(dtype=float), index=index, name="ETH").sort_index()
    return s[~s.index.duplicated(keep="last")]


@pytest.fixture(scope="session")
def btc_hourly() -> pd.Series:
    """Bitstamp BTC/USD hourly closes: rows newest first, ISO dates in UTC (see PROVENANCE.md)."""
    raw = pd.read_csv(data_file(BTC_HOURLY))
    index = pd.DatetimeIndex(pd.to_datetime(raw["datetime"], utc=True))
    s = pd.Series(raw["Close"].to_numpy(dtype=float), index=index, name="BTC").sort_index()
    return s[~s.index.duplicated(keep="last")]
