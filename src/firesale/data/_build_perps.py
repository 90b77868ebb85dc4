"""Builders of the shipped perpetual-futures subsets, in the style of :mod:`firesale.data._build`.

Kept beside ``_build.py`` (issue 12 work; the lead registers them in ``_build.CSV_BUILDERS``): each returns the
canonical frame (UTC index named ``timestamp``, float columns) that ``_build.write_canonical_csv`` writes.

* ``btc_perp_1h_2021-05.csv.gz``: the pack's ``perps/binance_futures_BTCUSDT_perp_1h_2019-09_2023-06.csv.gz``
  (hmate9/PatchTST @d47c7d1 · ``BTCUSDT_1h.csv``, raw Binance USDT-M klines, ``time`` = open time in ms), rows
  2021-05-01 00:00 to 2021-05-31 23:00 (744 hours, the 19 May 2021 crash), open, low and close kept as
  ``BTC_PERP_open``, ``BTC_PERP_low``, ``BTC_PERP`` (USDT).
* ``yfi_1h_2023-11.csv.gz``: the pack's ``prices/hourly/binance_spot_1h_2021-04_2023-12/YFIUSDT_1h.csv.gz``
  (misrori/binance_startegy @dbfa7fe · ``data/YFIUSDT_1h.csv``, Binance YFI/USDT spot, ``date`` = open time, UTC),
  rows 2023-11-10 00:00 to 2023-11-24 23:00, open, low, high and close as ``YFI_open``, ``YFI_low``, ``YFI_high``,
  ``YFI`` (USDT).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["PERP_BUILDERS", "build_btc_perp_1h_2021_05", "build_yfi_1h_2023_11"]


def _window(frame: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    frame = frame.sort_index()
    frame = frame[~frame.index.duplicated(keep="first")]
    return frame.loc[pd.Timestamp(start, tz="UTC") : pd.Timestamp(end, tz="UTC")].astype(float)


def build_btc_perp_1h_2021_05(src: Path) -> pd.DataFrame:
    raw = pd.read_csv(src / "perps" / "binance_futures_BTCUSDT_perp_1h_2019-09_2023-06.csv.gz")
    index = pd.DatetimeIndex(pd.to_datetime(raw["time"], unit="ms", utc=True), name="timestamp")
    frame = pd.DataFrame(
        {"BTC_PERP_open": raw["open"].to_numpy(), "BTC_PERP_low": raw["low"].to_numpy(),
         "BTC_PERP": raw["close"].to_numpy()}, index=index,
    )  # fmt: skip
    return _window(frame, "2021-05-01T00:00:00", "2021-05-31T23:00:00")


def build_yfi_1h_2023_11(src: Path) -> pd.DataFrame:
    raw = pd.read_csv(src / "prices" / "hourly" / "binance_spot_1h_2021-04_2023-12" / "YFIUSDT_1h.csv.gz")
    index = pd.DatetimeIndex(pd.to_datetime(raw["date"], utc=True), name="timestamp")
    frame = pd.DataFrame(
        {"YFI_open": raw["open"].to_numpy(), "YFI_low": raw["low"].to_numpy(), "YFI_high": raw["high"].to_numpy(),
         "YFI": raw["close"].to_numpy()}, index=index,
    )  # fmt: skip
    return _window(frame, "2023-11-10T00:00:00", "2023-11-24T23:00:00")


PERP_BUILDERS = {
    "btc_perp_1h_2021-05.csv.gz": build_btc_perp_1h_2021_05,
    "yfi_1h_2023-11.csv.gz": build_yfi_1h_2023_11,
}
