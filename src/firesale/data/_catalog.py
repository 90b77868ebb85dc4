"""The catalogue of data files shipped inside the package (``firesale/data/files``).

Each entry names one file, what it holds and where it came from. ``SOURCES.md`` in this folder gives the full
credit and the exact derivation of each file; ``_build.py`` is the derivation as code.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["CATALOG", "Dataset", "datasets"]

_NO_LICENCE = "none stated by the source repo (research/test use; see SOURCES.md)"


@dataclass(frozen=True)
class Dataset:
    """One shipped data file.

    Attributes
    ----------
    name : str
        The name used in ``"firesale-data:NAME"`` references (the file name without its extension).
    file : str
        The file name inside ``firesale/data/files``.
    description : str
        What the file holds, with units and quote currency.
    columns : tuple of str
        The value columns (after ``timestamp`` for time series).
    start, end : str or None
        First and last timestamp (UTC, ISO 8601) of a time series; the snapshot date otherwise.
    frequency : str
        Sampling interval (``"10min"``, ``"1h"``, ``"1d"``, ...), ``"irregular"`` or ``"snapshot"``.
    source : str
        Source repository, commit and path.
    licence : str
        The licence status of the source.
    """

    name: str
    file: str
    description: str
    columns: tuple[str, ...]
    start: str | None
    end: str | None
    frequency: str
    source: str
    licence: str


_STABLESIMS = "BerkeleyBlockchain/stablesims@29556c7"
_BHEMEN = "bhemen/aave-data@bb4b9c9:data/usd_prices"
_CURVE = "MiguelBits/curve-studies-depegs@8edf4ec"
_USDC_DEPEG = "juunnq/usdc-depeg-artifact-fc27@b2f939d (transcribed)"

CATALOG: tuple[Dataset, ...] = (
    Dataset(
        "eth_10min_2020-03-12",
        "eth_10min_2020-03-12.csv.gz",
        "ETH/USD 10-minute OHLC bars of Black Thursday (UTC day 2020-03-12), CoinAPI; ETH is the close",
        ("ETH_open", "ETH_high", "ETH_low", "ETH"),
        "2020-03-12T00:00:00Z",
        "2020-03-12T23:50:00Z",
        "10min",
        f"{_STABLESIMS}:feeds/eth/03-12-2020.json",
        _NO_LICENCE,
    ),
    Dataset(
        "eth_2020-03-12_13",
        "eth_2020-03-12_13.csv.gz",
        "ETH/USD price at each timestamp of Black Thursday and the day after: 10-minute CoinAPI opens on 2020-03-12, "
        "hourly Gemini opens on 2020-03-13 to 2020-03-14 00:00",
        ("ETH_open",),
        "2020-03-12T00:00:00Z",
        "2020-03-14T00:00:00Z",
        "irregular",
        "BerkeleyBlockchain/stablesims@29556c7:feeds/eth/03-12-2020.json + jay-darvas/btcusd@4cbe0c1:Gemini_ETHUSD_1h.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "gas_10min_2020-03-12",
        "gas_10min_2020-03-12.csv.gz",
        "Ethereum gas price (gwei): mean and 30/60/90/100th percentiles per 10 minutes on 2020-03-12",
        ("gas_avg_gwei", "gas_p30_gwei", "gas_p60_gwei", "gas_p90_gwei", "gas_p100_gwei", "doc_count"),
        "2020-03-12T00:00:00Z",
        "2020-03-12T23:50:00Z",
        "10min",
        f"{_STABLESIMS}:feeds/gas/03-12-2020.json",
        _NO_LICENCE,
    ),
    Dataset(
        "eth_btc_1h_2019-2024",
        "eth_btc_1h_2019-2024.csv.gz",
        "Hourly closes in USD: ETH (Gemini ETH/USD, 3 missing hours left empty) and BTC (Bitstamp BTC/USD)",
        ("ETH", "BTC"),
        "2019-01-01T00:00:00Z",
        "2024-02-25T21:00:00Z",
        "1h",
        "jay-darvas/btcusd@4cbe0c1:Gemini_ETHUSD_1h.csv; "
        "de2425c/Crypto-Trading@8d6b08c:First_Trading_Algo/backtrader_Bitstamp_BTCUSD_1h.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "majors_1d_2020-2025",
        "majors_1d_2020-2025.csv.gz",
        "Daily USD closes (Yahoo Finance) of majors and wrapped/staked ETH and BTC; empty before a coin's listing",
        ("BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "TRX", "LINK", "WBTC", "stETH", "wstETH"),
        "2020-01-01T00:00:00Z",
        "2025-11-20T00:00:00Z",
        "1d",
        "KaushalParkar/dataset@d9a63d5 and @48055ac (stETH, wstETH, WBTC):{SYMBOL}-USD.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "steth_eth_1h_2022-05_07",
        "steth_eth_1h_2022-05_07.csv.gz",
        "stETH and ETH (WETH) USD prices, CoinGecko, floored to the hour; stETH_ETH is their ratio",
        ("stETH", "ETH", "stETH_ETH"),
        "2022-05-01T00:00:00Z",
        "2022-07-31T23:00:00Z",
        "1h",
        f"{_BHEMEN}/{{stETH,WETH}}_usd.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "crv_usdc_1h_2022-10_12",
        "crv_usdc_1h_2022-10_12.csv.gz",
        "CRV and USDC USD prices, CoinGecko, floored to the hour (the November 2022 CRV attack on Aave)",
        ("CRV", "USDC"),
        "2022-10-01T00:00:00Z",
        "2022-12-31T23:00:00Z",
        "1h",
        f"{_BHEMEN}/{{CRV,USDC}}_usd.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "usdc_depeg_1h_2023-03",
        "usdc_depeg_1h_2023-03.csv.gz",
        "USDC/USDT/DAI in USD (DefiLlama-CoinGecko, nearest hour); Kraken USDC/USD close, low, VWAP; "
        "Binance USDC/USDT close and low (from its relisting on 2023-03-11 14:00)",
        (
            "USDC",
            "USDT",
            "DAI",
            "USDC_kraken",
            "USDC_kraken_low",
            "USDC_kraken_vwap",
            "USDC_USDT_binance",
            "USDC_USDT_binance_low",
        ),
        "2023-03-08T00:00:00Z",
        "2023-03-17T23:00:00Z",
        "1h",
        f"{_USDC_DEPEG}:usdc_depeg/data/{{price_hourly.csv,n1/kraken_usdcusd/hourly.csv,binance_usdcusdt_1h.csv}}",
        _NO_LICENCE,
    ),
    Dataset(
        "luna_5min_2022-05",
        "luna_5min_2022-05.csv.gz",
        "Old LUNA (Terra classic) in USDT, Binance 1-minute klines resampled to 5 minutes (close, low, high); "
        "ends at the delisting, Terra 2.0 rows excluded",
        ("LUNA_USDT", "LUNA_USDT_low", "LUNA_USDT_high"),
        "2022-05-01T00:00:00Z",
        "2022-05-13T00:35:00Z",
        "5min",
        "yashosw10/Trading-bot@9d99b5a:LUNAUSDT-1m-2022-05.zip (data.binance.vision archive)",
        _NO_LICENCE,
    ),
    Dataset(
        "ust_15min_2022-05",
        "ust_15min_2022-05.csv.gz",
        "UST in USDT, Binance 15-minute bars (close, low, high), May 2022 to the delisting",
        ("UST_USDT", "UST_USDT_low", "UST_USDT_high"),
        "2022-05-01T00:00:00Z",
        "2022-05-13T00:45:00Z",
        "15min",
        "misrori/binance_startegy@dbfa7fe:data/USTUSDT_15m.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "luna_ust_5min_2022-05",
        "luna_ust_5min_2022-05.csv.gz",
        "Old LUNA and UST in USDT on one 5-minute grid (Binance closes, bars labelled at their start); UST's "
        "15-minute closes held between its bars. For replays that drive both (built from the two files above)",
        ("LUNA_USDT", "UST_USDT"),
        "2022-05-01T00:00:00Z",
        "2022-05-13T00:35:00Z",
        "5min",
        "yashosw10/Trading-bot@9d99b5a + misrori/binance_startegy@dbfa7fe (joined)",
        _NO_LICENCE,
    ),
    Dataset(
        "curve_steth_pool_2021-09_2022-06",
        "curve_steth_pool_2021-09_2022-06.csv.gz",
        "Curve stETH/ETH pool 0xDC24316b9AE028F1497c275EB9192a3Ea0f67022: balances in tokens and virtual price",
        ("virtual_price", "stETH", "ETH"),
        "2021-09-04T09:15:03Z",
        "2022-06-22T11:02:00Z",
        "irregular",
        f"{_CURVE}:finished/stETH.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "curve_3pool_2020-10_2022-06",
        "curve_3pool_2020-10_2022-06.csv.gz",
        "Curve 3pool 0xbEbc44782C7dB0a1A60Cb6fe97d0b483032FF1C7: balances in tokens and virtual price",
        ("virtual_price", "DAI", "USDC", "USDT"),
        "2020-10-16T14:25:29Z",
        "2022-06-22T11:02:00Z",
        "irregular",
        f"{_CURVE}:finished/3crv.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "curve_mim3crv_pool_2021-06_2022-06",
        "curve_mim3crv_pool_2021-06_2022-06.csv.gz",
        "Curve MIM-3CRV metapool 0x5a6A4D54456819380173272A5E8E9B9904BdF41B: balances in tokens and virtual price",
        ("virtual_price", "MIM", "3CRV"),
        "2021-06-12T01:53:53Z",
        "2022-06-22T11:02:00Z",
        "irregular",
        f"{_CURVE}:finished/mim.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "curve_mim3crv_a_ramps",
        "curve_mim3crv_a_ramps.csv.gz",
        "Amplification A of the MIM-3CRV metapool at the start and end of its three RampA events "
        "(A moves linearly in between)",
        ("A",),
        "2021-07-09T06:25:05Z",
        "2021-12-02T04:18:19Z",
        "irregular",
        f"{_CURVE}:pools.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "univ2_dai_weth_reserves_10min",
        "univ2_dai_weth_reserves_10min.csv.gz",
        "Uniswap v2 DAI/WETH pair 0xA478c2975Ab1Ea89e8196811F51A7B7Ade33eB11 reserves (tokens) every 10 minutes "
        "on 2020-09-05, 2021-01-11, 2021-01-21, 2021-02-22, 2021-05-19 and 2021-06-21",
        ("DAI", "WETH"),
        "2020-09-05T00:00:00Z",
        "2021-06-21T23:50:00Z",
        "10min",
        f"{_STABLESIMS}:feeds/eth_dai_liquidity/*.json",
        _NO_LICENCE,
    ),
    Dataset(
        "univ3_usdc_weth_005_ticks",
        "univ3_usdc_weth_005_ticks.parquet",
        "Uniswap v3 USDC/WETH 0.05% pool 0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640: 3,510 initialised ticks "
        "(tickIdx, liquidityNet, liquidityGross as float64), fetched from the Uniswap v3 subgraph before "
        "2026-01-24 (the commit date; the file carries no block number); shipped as is",
        ("tickIdx", "liquidityNet", "liquidityGross"),
        None,
        None,
        "snapshot",
        "lydialydia-lydia/c1-univ3-liquidity-risk@bb64f01:data/processed/ETHUSDC_0p05_mainnet.ticks.parquet",
        "MIT (Copyright (c) 2026 lydialydia-lydia; see files/LICENSE-c1-univ3-liquidity-risk.txt)",
    ),
    Dataset(
        "univ3_usdc_weth_005_meta",
        "univ3_usdc_weth_005_meta.json",
        "State of the same pool at the tick snapshot: currentTick, sqrtPriceX96, liquidity, tokens; shipped as is",
        ("currentTick", "sqrtPriceX96", "liquidity", "feeTier", "token0", "token1"),
        None,
        None,
        "snapshot",
        "lydialydia-lydia/c1-univ3-liquidity-risk@bb64f01:data/processed/ETHUSDC_0p05_mainnet.meta.json",
        "MIT (Copyright (c) 2026 lydialydia-lydia; see files/LICENSE-c1-univ3-liquidity-risk.txt)",
    ),
    Dataset(
        "aave_v3_top1000_users_2025-12",
        "aave_v3_top1000_users_2025-12.csv.gz",
        "Aave v3 Ethereum Core: the 1,000 largest borrowers by USD debt with total debt, total collateral "
        "(enabled as collateral) and health factor computed WITHOUT e-mode; gzip of the source bytes",
        ("user_address", "total_debt_usd", "total_collateral_usd", "health_factor"),
        "2025-12-02",
        "2025-12-02",
        "snapshot",
        "herculesArmy/aave_v3_risk@e273108:data/top_1000_borrowed_users.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "aave_v3_top1000_positions_2025-12",
        "aave_v3_top1000_positions_2025-12.csv.gz",
        "The 1,000 largest debt positions of those borrowers (917 users; symbol, amount, USD value, price); "
        "gzip of the source bytes",
        ("user_address", "symbol", "amount", "amount_usd", "price_usd"),
        "2025-12-02",
        "2025-12-02",
        "snapshot",
        "herculesArmy/aave_v3_risk@e273108:data/top_1000_borrowed_positions.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "aave_v3_core_positions_2025-12",
        "aave_v3_core_positions_2025-12.csv.gz",
        "The flagship's position book in the engine's format: 988 Aave v3 Core borrowers, token amounts per "
        "(account, asset) over WETH, wstETH, weETH, WBTC, USDC, USDT, USDe, with each account's e-mode category "
        "(derived from the two snapshot files by aave_v3_positions and recompute_health_factors; see "
        "docs/aave-v3-today-inputs.md)",
        ("account", "asset", "collateral_amount", "debt_amount", "emode"),
        "2025-12-02",
        "2025-12-02",
        "snapshot",
        "derived from herculesArmy/aave_v3_risk@e273108 (the two files above)",
        _NO_LICENCE,
    ),
    Dataset(
        "btc_perp_1h_2021-05",
        "btc_perp_1h_2021-05.csv.gz",
        "Binance USDT-M BTCUSDT perpetual hourly bars of May 2021 (the 19 May crash), USDT: open, low, and the "
        "close as BTC_PERP",
        ("BTC_PERP_open", "BTC_PERP_low", "BTC_PERP"),
        "2021-05-01T00:00:00Z",
        "2021-05-31T23:00:00Z",
        "1h",
        "hmate9/PatchTST@d47c7d1:BTCUSDT_1h.csv",
        _NO_LICENCE,
    ),
    Dataset(
        "yfi_1h_2023-11",
        "yfi_1h_2023-11.csv.gz",
        "Binance YFI/USDT spot hourly bars, 10 to 24 November 2023 (the dYdX v3 YFI-USD event), USDT: open, low, "
        "high, and the close as YFI",
        ("YFI_open", "YFI_low", "YFI_high", "YFI"),
        "2023-11-10T00:00:00Z",
        "2023-11-24T23:00:00Z",
        "1h",
        "misrori/binance_startegy@dbfa7fe:data/YFIUSDT_1h.csv",
        _NO_LICENCE,
    ),
)

_BY_NAME = {entry.name: entry for entry in CATALOG}


def datasets() -> pd.DataFrame:
    """List the data files shipped with firesale.

    Returns
    -------
    pandas.DataFrame
        One row per dataset with columns ``name``, ``description``, ``columns`` (tuple of str), ``start``,
        ``end`` (UTC timestamps, ``NaT`` for snapshots without a time axis), ``frequency``, ``source``,
        ``licence`` and ``file``. Reference a dataset as ``"firesale-data:NAME"``.

    Examples
    --------
    >>> from firesale.data import datasets
    >>> "eth_10min_2020-03-12" in set(datasets()["name"])
    True
    """
    rows = [
        {
            "name": entry.name,
            "description": entry.description,
            "columns": entry.columns,
            "start": pd.Timestamp(entry.start, tz="UTC") if entry.start else pd.NaT,
            "end": pd.Timestamp(entry.end, tz="UTC") if entry.end else pd.NaT,
            "frequency": entry.frequency,
            "source": entry.source,
            "licence": entry.licence,
            "file": entry.file,
        }
        for entry in CATALOG
    ]
    return pd.DataFrame(rows)


def lookup(name: str) -> Dataset | None:
    """Return the catalogue entry called ``name`` (or whose file is ``name``), or None."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    return next((entry for entry in CATALOG if entry.file == name), None)
