"""Build the data files shipped in ``firesale/data/files`` from the research data pack.

This script is not used at run time. It documents, as code, exactly how each shipped file was derived from the
pack in ``../shared/data`` (see that folder's ``PROVENANCE.md`` and ``SANITY_CHECKS.txt``), and running it
reproduces the shipped files byte for byte::

    python -m firesale.data._build                      # pack at <repo>/../shared/data, writes the package folder
    python -m firesale.data._build --source DIR --out DIR

Every time series is written in the canonical wide shape: a first column ``timestamp`` (ISO 8601, UTC, ``Z``),
then one float column per series, rows ascending and de-duplicated, as a gzip CSV with ``mtime=0`` so that the
bytes depend only on the content. Bars are labelled by their open time, as the sources label them.

Source quirks handled here (each one named where it is handled):

* newest-first rows (Gemini, Bitstamp, Yahoo, Curve balance files): sorted ascending;
* CRLF line endings (the Curve files and the three USDC de-peg files): read by pandas, written with LF;
* millisecond epochs (CoinGecko via bhemen/aave-data, Binance klines) versus second epochs (DefiLlama, Curve);
* irregular "hourly" CoinGecko points a few minutes after the hour: floored to the hour, first point kept;
  DefiLlama points between HH:55 and HH:03: rounded to the nearest hour (no collisions result);
* the Binance LUNA archive holds old LUNA up to 2022-05-13 00:39 and Terra 2.0 "LUNA" from 2022-05-31 06:00:
  only rows before the delisting gap are kept, the new token is never spliced on;
* Curve balances are integers in the token's smallest unit (stETH, ETH, DAI, MIM, 3CRV: 18 decimals; USDC, USDT:
  6 decimals); the virtual price is scaled by 1e18;
* the Curve ``pools.csv`` A-ramp file expands each ``RampA`` event into daily steps, and all three of its events
  belong to the MIM-3CRV metapool (0x5a6A...F41B), not to the stETH pool;
* 38 USDC/USDT balances of the Curve 3pool file were saved by a spreadsheet as ``1.03357E+15``: read as written;
* the Uniswap v2 reserve files list 144 points per day without timestamps.

``LICENSE-c1-univ3-liquidity-risk.txt`` is the one shipped file not built here: the pack does not hold it; it is
the MIT licence of lydialydia-lydia/c1-univ3-liquidity-risk copied byte for byte from that repository at commit
bb64f01b284dfde04b73e8793f6276d430605f11.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import shutil
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from firesale.data._build_perps import PERP_BUILDERS

__all__ = ["BUILDERS", "build_all", "main", "write_canonical_csv"]

LOGGER = logging.getLogger("firesale.data._build")

_REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SOURCE = _REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = Path(__file__).resolve().parent / "files"

_TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


# ---------------------------------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------------------------------


def _gzip_bytes(raw: bytes) -> bytes:
    # mtime=0 and no file name in the header: the compressed bytes depend only on the content.
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as handle:
        handle.write(raw)
    return buffer.getvalue()


def write_canonical_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` (UTC DatetimeIndex, float columns) as a canonical gzip CSV at ``path``."""
    if not isinstance(frame.index, pd.DatetimeIndex) or str(frame.index.tz) != "UTC":
        raise ValueError(f"{path.name}: index must be a UTC DatetimeIndex")
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise ValueError(f"{path.name}: index must be ascending and unique")
    out = frame.astype("float64").copy()
    out.index = out.index.strftime(_TS_FORMAT)
    out.index.name = "timestamp"
    text = out.to_csv(lineterminator="\n")
    path.write_bytes(_gzip_bytes(text.encode("utf-8")))


def _gzip_copy(src: Path, dst: Path) -> None:
    dst.write_bytes(_gzip_bytes(src.read_bytes()))


def _ascending_unique(frame: pd.DataFrame, keep: str = "first") -> pd.DataFrame:
    frame = frame.sort_index(kind="stable")
    return frame[~frame.index.duplicated(keep=keep)]


# ---------------------------------------------------------------------------------------------------------------
# builders: each takes the pack folder and returns {file name: DataFrame or bytes-producing callable}
# ---------------------------------------------------------------------------------------------------------------


def build_eth_10min(src: Path) -> pd.DataFrame:
    """ETH/USD 10-minute OHLC of 2020-03-12 (CoinAPI bars via BerkeleyBlockchain/stablesims)."""
    bars = json.loads((src / "crisis/stablesims_feeds/eth_10min_ohlcv_03-12-2020.json").read_text())
    frame = pd.DataFrame(bars)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame["time_period_start"], utc=True), name="timestamp")
    out = frame[["price_open", "price_high", "price_low", "price_close"]].astype(float)
    out.columns = ["ETH_open", "ETH_high", "ETH_low", "ETH"]
    return _ascending_unique(out)


def build_eth_2020_03_12_13(src: Path) -> pd.DataFrame:
    """ETH/USD price at each timestamp over Black Thursday and the day after: the 10-minute CoinAPI opens of
    2020-03-12, then the hourly Gemini opens of 2020-03-13 up to 2020-03-14 00:00 (one column, ``ETH_open``)."""
    day1 = build_eth_10min(src)[["ETH_open"]]
    gemini = pd.read_csv(src / "prices/hourly/gemini_ETHUSD_1h_2018-05_2024-02.csv.gz")
    opens = pd.DataFrame(
        {"ETH_open": gemini["open"].astype(float).to_numpy()},
        index=pd.DatetimeIndex(
            pd.to_datetime(gemini["date"], format="%m/%d/%Y %H:%M", utc=True), name="timestamp"
        ),
    )
    day2 = _ascending_unique(opens).loc["2020-03-13 00:00":"2020-03-14 00:00"]
    return _ascending_unique(pd.concat([day1, day2]))


def build_gas_10min(src: Path) -> pd.DataFrame:
    """Gas price percentiles (gwei) per 10 minutes on 2020-03-12 (stablesims ``feeds/gas``)."""
    table = json.loads((src / "crisis/stablesims_feeds/gas_10min_03-12-2020.json").read_text())
    frame = pd.DataFrame(table["data"])
    # 'datetime' is a 12-hour clock without AM/PM ("12:00" for midnight); 'timestamp' is the unambiguous UTC time.
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True), name="timestamp")
    wei = {
        "avgGasDay": "gas_avg_gwei",
        "30.0 Perc": "gas_p30_gwei",
        "60.0 Perc": "gas_p60_gwei",
        "90.0 Perc": "gas_p90_gwei",
        "100.0 Perc": "gas_p100_gwei",
    }
    out = frame[list(wei)].astype(float) / 1e9
    out.columns = list(wei.values())
    out["doc_count"] = frame["doc_count"].astype(float)
    return _ascending_unique(out)


def build_eth_btc_1h(src: Path) -> pd.DataFrame:
    """ETH (Gemini ETH/USD) and BTC (Bitstamp BTC/USD) hourly closes, 2019-01-01 to 2024-02-25 21:00."""
    gemini = pd.read_csv(src / "prices/hourly/gemini_ETHUSD_1h_2018-05_2024-02.csv.gz")
    eth = pd.Series(
        gemini["close"].astype(float).to_numpy(),
        index=pd.to_datetime(gemini["date"], format="%m/%d/%Y %H:%M", utc=True),
        name="ETH",
    )
    bitstamp = pd.read_csv(src / "prices/hourly/bitstamp_BTCUSD_1h_2018-05_2024-11.csv.gz")
    btc = pd.Series(
        bitstamp["Close"].astype(float).to_numpy(),
        index=pd.to_datetime(bitstamp["datetime"], format="%Y-%m-%d %H:%M:%S", utc=True),
        name="BTC",
    )
    # Both files are newest first.
    eth = eth.sort_index()[lambda s: ~s.index.duplicated()]
    btc = btc.sort_index()[lambda s: ~s.index.duplicated()]
    out = pd.concat([eth, btc], axis=1, sort=True)
    out.index.name = "timestamp"
    return _ascending_unique(out.loc["2019-01-01":"2024-02-25 21:00"])


_YAHOO_MAJORS = {
    "BTC": "BTC-USD.csv",
    "ETH": "ETH-USD.csv",
    "SOL": "SOL-USD.csv",
    "BNB": "BNB-USD.csv",
    "XRP": "XRP-USD.csv",
    "ADA": "ADA-USD.csv",
    "DOGE": "DOGE-USD.csv",
    "TRX": "TRX-USD.csv",
    "LINK": "LINK-USD.csv",
    "WBTC": "WBTC-USD.csv",
    "stETH": "STETH-USD.csv",
    "wstETH": "WSTETH-USD.csv",
}


def build_majors_1d(src: Path) -> pd.DataFrame:
    """Daily USD closes of major assets (Yahoo Finance via KaushalParkar/dataset), 2020-01-01 to 2025-11-20."""
    columns = {}
    for symbol, name in _YAHOO_MAJORS.items():
        frame = pd.read_csv(src / "prices/daily/yahoo_2020-2025" / name, na_values=["null"])
        series = pd.Series(
            frame["close"].astype(float).to_numpy(),
            index=pd.to_datetime(frame["date"], utc=True),
            name=symbol,
        )
        columns[symbol] = series.sort_index()[lambda s: ~s.index.duplicated()]
    out = pd.concat(columns.values(), axis=1, sort=True)
    out.index.name = "timestamp"
    return _ascending_unique(out)


def _coingecko_hourly(src: Path, symbol: str) -> pd.Series:
    # CoinGecko points arrive a few minutes after the hour (ms epochs); floor to the hour and keep the first point.
    frame = pd.read_csv(src / f"prices/hourly/coingecko_aave_assets_2021-01_2023-02/{symbol}_usd.csv.gz")
    hours = pd.to_datetime(frame["timestamp"], unit="ms", utc=True).dt.floor("h")
    series = pd.Series(frame["USD_price"].astype(float).to_numpy(), index=pd.DatetimeIndex(hours))
    series = series.sort_index(kind="stable")
    return series[~series.index.duplicated(keep="first")]


def build_steth_eth_1h(src: Path) -> pd.DataFrame:
    """stETH and ETH (WETH) USD prices and their ratio, hourly, May-July 2022 (CoinGecko via bhemen/aave-data)."""
    steth = _coingecko_hourly(src, "stETH").rename("stETH")
    eth = _coingecko_hourly(src, "WETH").rename("ETH")
    out = pd.concat([steth, eth], axis=1, sort=True).loc["2022-05-01":"2022-07-31 23:00"]
    out["stETH_ETH"] = out["stETH"] / out["ETH"]
    out.index.name = "timestamp"
    return _ascending_unique(out)


def build_crv_1h(src: Path) -> pd.DataFrame:
    """CRV and USDC USD prices, hourly, October-December 2022 (CoinGecko via bhemen/aave-data)."""
    crv = _coingecko_hourly(src, "CRV").rename("CRV")
    usdc = _coingecko_hourly(src, "USDC").rename("USDC")
    out = pd.concat([crv, usdc], axis=1, sort=True).loc["2022-10-01":"2022-12-31 23:00"]
    out.index.name = "timestamp"
    return _ascending_unique(out)


def build_usdc_depeg_1h(src: Path) -> pd.DataFrame:
    """USDC, USDT and DAI around the SVB de-peg (2023-03-08 to 2023-03-17), hourly, from three transcribed files."""
    folder = src / "crisis/usdc_2023-03"
    llama = pd.read_csv(folder / "defillama_coingecko_price_hourly_USDC_USDT_DAI.csv")
    # DefiLlama points fall between HH:55 and HH:03 (second epochs): the nearest hour is unambiguous.
    llama["timestamp"] = pd.to_datetime(llama["timestamp"], unit="s", utc=True).dt.round("h")
    wide = llama.pivot_table(index="timestamp", columns="symbol", values="price", aggfunc="first")
    wide = wide[["USDC", "USDT", "DAI"]].astype(float)

    kraken = pd.read_csv(folder / "kraken_USDCUSD_hourly_2023-03-08_17.csv")
    kraken.index = pd.DatetimeIndex(pd.to_datetime(kraken["hour_utc"], utc=True), name="timestamp")
    kraken = kraken[["close", "low", "vwap"]].astype(float)
    kraken.columns = ["USDC_kraken", "USDC_kraken_low", "USDC_kraken_vwap"]

    binance = pd.read_csv(folder / "binance_usdcusdt_1h.csv")
    binance.index = pd.DatetimeIndex(
        pd.to_datetime(binance["open_time"], unit="ms", utc=True), name="timestamp"
    )
    binance = binance[["close", "low"]].astype(float)
    binance.columns = ["USDC_USDT_binance", "USDC_USDT_binance_low"]

    out = pd.concat([wide, kraken, binance], axis=1, sort=True).loc["2023-03-08":"2023-03-17 23:00"]
    out.index.name = "timestamp"
    return _ascending_unique(out)


def build_luna_5min(src: Path) -> pd.DataFrame:
    """Old LUNA/USDT (Binance 1-minute archive) resampled to 5 minutes, 2022-05-01 to the delisting."""
    archive = src / "crisis/luna_2022-05/binance_LUNAUSDT-1m-2022-05.zip"
    with zipfile.ZipFile(archive) as zipped, zipped.open("LUNAUSDT-1m-2022-05.csv") as handle:
        klines = pd.read_csv(handle, header=None)
    klines.index = pd.DatetimeIndex(pd.to_datetime(klines[0], unit="ms", utc=True), name="timestamp")
    # Rows from 2022-05-31 06:00 are Terra 2.0 (a different token that reused the ticker): never spliced on.
    old = klines.loc[:"2022-05-13 23:59"]
    if old.index.max() >= pd.Timestamp("2022-05-14", tz="UTC"):
        raise ValueError("LUNA archive: rows after the delisting gap leaked into the old-LUNA window")
    ohlc = old[[2, 3, 4]].astype(float)
    ohlc.columns = ["high", "low", "close"]
    bars = ohlc.resample("5min", label="left", closed="left").agg(
        {"close": "last", "low": "min", "high": "max"}
    )
    bars = bars.dropna(how="all")
    bars.columns = ["LUNA_USDT", "LUNA_USDT_low", "LUNA_USDT_high"]
    return _ascending_unique(bars)


def build_ust_15min(src: Path) -> pd.DataFrame:
    """UST/USDT 15-minute bars (Binance via misrori/binance_startegy), 2022-05-01 to the delisting."""
    frame = pd.read_csv(src / "crisis/luna_2022-05/binance_USTUSDT_15m_2021-12_2022-05.csv.gz")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame["date"], utc=True), name="timestamp")
    out = frame[["close", "low", "high"]].astype(float)
    out.columns = ["UST_USDT", "UST_USDT_low", "UST_USDT_high"]
    return _ascending_unique(out.loc["2022-05-01":])


def build_luna_ust_5min(src: Path) -> pd.DataFrame:
    """Old LUNA and UST closes on LUNA's 5-minute grid, for replays that need both (bars labelled at their start).

    UST comes in 15-minute bars: between them the last bar's close is held (forward fill, never backward).
    """
    luna = build_luna_5min(src)[["LUNA_USDT"]]
    ust = build_ust_15min(src)[["UST_USDT"]]
    joint = luna.join(ust, how="left")
    joint["UST_USDT"] = joint["UST_USDT"].ffill()
    return joint.loc[: ust.index[-1]].dropna()


def _curve_balances(path: Path, columns: dict[str, float]) -> pd.DataFrame:
    # Header cells carry stray spaces (" stETH Balance"); rows are newest first; CRLF endings.
    frame = pd.read_csv(path, dtype=str)
    frame.columns = [c.strip() for c in frame.columns]
    index = pd.DatetimeIndex(pd.to_datetime(frame["UNIX TimeStamp"].astype(np.int64), unit="s", utc=True))
    out = pd.DataFrame(index=index)
    out["virtual_price"] = frame["Virtual Price"].map(lambda v: int(Decimal(v))).to_numpy() / 1e18
    for column, scale in columns.items():
        # Decimal keeps every digit of the 27-digit wei balances before the single float conversion, and also
        # reads the 38 3pool balances that a spreadsheet saved as "1.03357E+15" (6 significant digits).
        out[column.split(" ")[0]] = frame[column].map(lambda v: int(Decimal(v))).to_numpy() / scale
    out.index.name = "timestamp"
    return _ascending_unique(out)


def build_curve_steth(src: Path) -> pd.DataFrame:
    """Curve stETH/ETH pool (0xDC24...7022) balances in token units and virtual price, 2021-09 to 2022-06."""
    path = src / "dex/curve/curve_steth_pool_balances_2021-09_2022-06.csv"
    return _curve_balances(path, {"stETH Balance": 1e18, "ETH Balance": 1e18})


def build_curve_3pool(src: Path) -> pd.DataFrame:
    """Curve 3pool (0xbEbc...F1C7) balances in token units and virtual price, 2020-10 to 2022-06."""
    path = src / "dex/curve/curve_3pool_balances_2020-10_2022-06.csv"
    return _curve_balances(path, {"DAI Balance": 1e18, "USDC Balance": 1e6, "USDT Balance": 1e6})


def build_curve_mim3crv(src: Path) -> pd.DataFrame:
    """Curve MIM-3CRV metapool (0x5a6A...F41B) balances in token units and virtual price."""
    path = src / "dex/curve/curve_mim3crv_balances.csv"
    return _curve_balances(path, {"MIM Balance": 1e18, "3CRV Balance": 1e18})


def build_curve_mim3crv_a(src: Path) -> pd.DataFrame:
    """Amplification A(t) of the MIM-3CRV metapool as ramp end points (A = A_precise / 100)."""
    rows: list[list[str]] = []
    blocks: list[list[list[str]]] = []
    for line in (src / "dex/curve/curve_pool_A_ramps.csv").read_text().splitlines():
        cells = [c.strip() for c in line.split(",")]
        if cells[0].startswith("Curve Pool"):
            if cells[1].lower() != "0x5a6a4d54456819380173272a5e8e9b9904bdf41b":
                raise ValueError(f"unexpected pool in the A-ramp file: {cells[1]}")
            continue
        if cells[0] == "UNIX TimeStamp":
            if rows:
                blocks.append(rows)
            rows = []
            continue
        rows.append(cells)
    blocks.append(rows)
    # The source script writes one header per RampA event and expands the ramp into daily rows; the first row
    # opens at initial_time with old_A and the last row sits at future_time with new_A. A contract's A() moves
    # linearly between those two points, so the end points are the whole information.
    points: dict[pd.Timestamp, float] = {}
    for block in blocks:
        start, end = block[0], block[-1]
        points[pd.Timestamp(int(start[0]), unit="s", tz="UTC")] = float(start[1]) / 100.0
        points[pd.Timestamp(int(end[0]), unit="s", tz="UTC")] = float(end[2]) / 100.0
    out = pd.DataFrame({"A": pd.Series(points)})
    out.index = pd.DatetimeIndex(out.index, name="timestamp")
    return _ascending_unique(out)


_UNIV2_DAYS = ("09-05-2020", "01-11-2021", "01-21-2021", "02-22-2021", "05-19-2021", "06-21-2021")


def build_univ2_reserves(src: Path) -> pd.DataFrame:
    """Uniswap v2 DAI/WETH pair reserves every 10 minutes on six StableSims days (no timestamps in the source)."""
    frames = []
    for day in _UNIV2_DAYS:
        points = json.loads((src / f"dex/uniswap_v2/univ2_DAI_WETH_reserves_10min_{day}.json").read_text())
        if len(points) != 144:
            raise ValueError(f"univ2 {day}: expected 144 points, got {len(points)}")
        start = pd.Timestamp(pd.to_datetime(day, format="%m-%d-%Y"), tz="UTC")
        index = pd.date_range(start, periods=144, freq="10min", name="timestamp")
        frames.append(pd.DataFrame(points, index=index)[["DAI", "WETH"]].astype(float))
    return _ascending_unique(pd.concat(frames))


# Builders of canonical CSVs: shipped file name -> builder.
CSV_BUILDERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "eth_10min_2020-03-12.csv.gz": build_eth_10min,
    "gas_10min_2020-03-12.csv.gz": build_gas_10min,
    "eth_2020-03-12_13.csv.gz": build_eth_2020_03_12_13,
    "eth_btc_1h_2019-2024.csv.gz": build_eth_btc_1h,
    "majors_1d_2020-2025.csv.gz": build_majors_1d,
    "steth_eth_1h_2022-05_07.csv.gz": build_steth_eth_1h,
    "crv_usdc_1h_2022-10_12.csv.gz": build_crv_1h,
    "usdc_depeg_1h_2023-03.csv.gz": build_usdc_depeg_1h,
    "luna_5min_2022-05.csv.gz": build_luna_5min,
    "ust_15min_2022-05.csv.gz": build_ust_15min,
    "luna_ust_5min_2022-05.csv.gz": build_luna_ust_5min,
    "curve_steth_pool_2021-09_2022-06.csv.gz": build_curve_steth,
    "curve_3pool_2020-10_2022-06.csv.gz": build_curve_3pool,
    "curve_mim3crv_pool_2021-06_2022-06.csv.gz": build_curve_mim3crv,
    "curve_mim3crv_a_ramps.csv.gz": build_curve_mim3crv_a,
    "univ2_dai_weth_reserves_10min.csv.gz": build_univ2_reserves,
}
CSV_BUILDERS.update(PERP_BUILDERS)

# Files shipped unchanged (bytes as in the pack) or gzipped unchanged: shipped name -> (pack path, gzip?).
COPIES: dict[str, tuple[str, bool]] = {
    "univ3_usdc_weth_005_ticks.parquet": ("dex/uniswap_v3/ETHUSDC_0p05_mainnet.ticks.parquet", False),
    "univ3_usdc_weth_005_meta.json": ("dex/uniswap_v3/ETHUSDC_0p05_mainnet.meta.json", False),
    "aave_v3_top1000_users_2025-12.csv.gz": ("lending/aave_v3_top1000_borrowers_users_2025-12.csv", True),
    "aave_v3_top1000_positions_2025-12.csv.gz": (
        "lending/aave_v3_top1000_borrowed_positions_2025-12.csv",
        True,
    ),
}


def build_aave_v3_core_positions(src: Path) -> pd.DataFrame:
    """The flagship's position book: ``aave_v3_positions()`` with each account's e-mode category.

    Accounts already underwater at snapshot prices (priced collateral below debt) are left out.

    Derived from the shipped snapshot files only (not from the pack): the positions inferred by
    :func:`firesale.data.aave_v3_positions` and the category :func:`firesale.data.recompute_health_factors`
    assigns (the eligible one giving the highest health factor). Amounts are rounded to 12 significant digits.
    """
    from firesale.data._aave_v3 import aave_v3_positions, recompute_health_factors

    positions = aave_v3_positions()
    health = recompute_health_factors(positions)
    # Accounts whose priced collateral is worth less than their debt at snapshot prices hold mostly unpriced
    # collateral (PT tokens; docs/aave-v3-today-inputs.md section 5): they would count as bad debt before any
    # price moved, so the stress book leaves them out.
    underwater = health.index[health["collateral_usd"] < health["debt_usd"]]
    positions = positions[~positions["account"].isin(underwater)]
    categories = health["emode"]
    out = positions.copy()
    out["emode"] = out["account"].map(categories).fillna(0).astype(int)
    for col in ("collateral_amount", "debt_amount"):
        out[col] = out[col].map(lambda x: float(f"{x:.12g}"))
    return out.sort_values(["account", "asset"], kind="stable").reset_index(drop=True)


# Tables derived from other shipped files: shipped name -> builder (written as gzip CSV without an index).
DERIVED: dict[str, Callable[[Path], pd.DataFrame]] = {
    "aave_v3_core_positions_2025-12.csv.gz": build_aave_v3_core_positions,
}

BUILDERS = {
    **dict.fromkeys(CSV_BUILDERS, "csv"),
    **dict.fromkeys(COPIES, "copy"),
    **dict.fromkeys(DERIVED, "derived"),
}


def build_all(
    source: Path = DEFAULT_SOURCE, out: Path = DEFAULT_OUT, names: list[str] | None = None
) -> list[Path]:
    """Build the shipped files from the pack at ``source`` into ``out``; return the paths written."""
    if not source.is_dir():
        raise FileNotFoundError(f"data pack not found at {source}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or list(BUILDERS):
        target = out / name
        if name in CSV_BUILDERS:
            write_canonical_csv(CSV_BUILDERS[name](source), target)
        elif name in DERIVED:
            text = DERIVED[name](source).to_csv(index=False, lineterminator="\n")
            target.write_bytes(_gzip_bytes(text.encode("utf-8")))
        elif name in COPIES:
            rel, compress = COPIES[name]
            if compress:
                _gzip_copy(source / rel, target)
            else:
                shutil.copyfile(source / rel, target)
        else:
            raise KeyError(f"no builder for {name!r}")
        LOGGER.info("wrote %s (%d bytes)", target, target.stat().st_size)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m firesale.data._build [--source DIR] [--out DIR] [NAME ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the data pack folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the shipped files")
    parser.add_argument("names", nargs="*", help="file names to build (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_all(args.source, args.out, args.names or None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
