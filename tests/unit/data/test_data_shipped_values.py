"""The shipped files reproduce the figures recorded for the data pack.

Expected values are transcribed from the pack's ``SANITY_CHECKS.txt`` and ``PROVENANCE.md`` (shared/data), from
the source repositories' own files (quoted where used), or read off the raw source rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from firesale.data import load_curve_pool, load_prices, load_uniswap_v3_ticks


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_black_thursday_10min_low() -> None:
    # SANITY_CHECKS.txt: "StableSims ETH 10-min 2020-03-12: min low 101.01 at 2020-03-12T23:20:00;
    # first open 195.21, last close 107.52"
    eth = load_prices("firesale-data:eth_10min_2020-03-12")
    assert len(eth) == 144
    assert eth["ETH_low"].min() == 101.01
    assert eth["ETH_low"].idxmin() == ts("2020-03-12 23:20")
    assert eth["ETH_open"].iloc[0] == 195.21
    assert eth["ETH"].iloc[-1] == 107.52
    assert (eth.index.to_series().diff().dropna() == pd.Timedelta("10min")).all()


def test_black_thursday_gas_first_bucket() -> None:
    # stablesims feeds/gas/03-12-2020.json, data[0]: avgGasDay 9899718140.50495 wei, 90.0 Perc 30000000000 wei,
    # doc_count 4141, timestamp 2020-03-12T00:00:00.000Z
    gas = load_prices("firesale-data:gas_10min_2020-03-12")
    assert len(gas) == 144
    assert gas.index[0] == ts("2020-03-12 00:00")
    assert gas["gas_avg_gwei"].iloc[0] == pytest.approx(9.89971814050495, rel=1e-15)
    assert gas["gas_p90_gwei"].iloc[0] == 30.0
    assert gas["doc_count"].iloc[0] == 4141.0


def test_eth_btc_hourly_coverage_and_crisis_bounds() -> None:
    frame = load_prices("firesale-data:eth_btc_1h_2019-2024")
    # PROVENANCE.md: Gemini ETH/USD has 3 missing hours; Bitstamp BTC/USD "no gaps".
    assert int(frame["ETH"].isna().sum()) == 3
    assert int(frame["BTC"].isna().sum()) == 0
    expected = pd.date_range(ts("2019-01-01"), ts("2024-02-25 21:00"), freq="h")
    assert frame.index.equals(pd.DatetimeIndex(expected, name="timestamp"))
    # SANITY_CHECKS.txt, Black Thursday 2020-03-12..14: ETH Gemini low/high 86.62/195.48; BTC Bitstamp
    # 3850.00/7969.90. Hourly closes lie within the hourly lows and highs.
    window = frame.loc["2020-03-12":"2020-03-14"]
    assert window["ETH"].min() >= 86.62
    assert window["ETH"].max() <= 195.48
    assert window["BTC"].min() >= 3850.00
    assert window["BTC"].max() <= 7969.90


def test_majors_daily_steth_ratio_minimum() -> None:
    # SANITY_CHECKS.txt: "stETH/ETH daily close ratio min May-Jul 2022 (Yahoo): 0.9367 on 2022-06-15"
    majors = load_prices("firesale-data:majors_1d_2020-2025", columns=["stETH", "ETH"])
    ratio = (majors["stETH"] / majors["ETH"]).loc["2022-05-01":"2022-07-31"]
    assert round(float(ratio.min()), 4) == 0.9367
    assert ratio.idxmin() == ts("2022-06-15")


def test_steth_eth_hourly_minimum() -> None:
    # SANITY_CHECKS.txt: "stETH/ETH (CoinGecko hourly) min May-Jul 2022: 0.9306 at 2022-06-18 20:00:00"
    frame = load_prices("firesale-data:steth_eth_1h_2022-05_07")
    assert round(float(frame["stETH_ETH"].min()), 4) == 0.9306
    assert frame["stETH_ETH"].idxmin() == ts("2022-06-18 20:00")


def test_crv_november_2022_range() -> None:
    # SANITY_CHECKS.txt: "CRV Nov 2022: min 0.4132 at 2022-11-22 10:00:43, max 1.0569 at 2022-11-04 15:00:46"
    crv = load_prices("firesale-data:crv_usdc_1h_2022-10_12", columns="CRV")["CRV"].loc["2022-11"]
    assert round(float(crv.min()), 4) == 0.4132
    assert crv.idxmin() == ts("2022-11-22 10:00")
    assert round(float(crv.max()), 4) == 1.0569
    assert crv.idxmax() == ts("2022-11-04 15:00")


def test_usdc_depeg_figures() -> None:
    frame = load_prices("firesale-data:usdc_depeg_1h_2023-03")
    # SANITY_CHECKS.txt: "Kraken USDC/USD hourly min low 0.874 at 2023-03-11T07:00:00Z; min VWAP 0.8929"
    assert frame["USDC_kraken_low"].min() == 0.874
    assert frame["USDC_kraken_low"].idxmin() == ts("2023-03-11 07:00")
    assert round(float(frame["USDC_kraken_vwap"].min()), 4) == 0.8929
    # "DefiLlama/CoinGecko hourly USDC: min 0.8767 ... DAI: min 0.8859 ... USDT: ... max 1.0270"
    assert round(float(frame["USDC"].min()), 4) == 0.8767
    assert round(float(frame["DAI"].min()), 4) == 0.8859
    assert round(float(frame["USDT"].max()), 4) == 1.0270
    # "Binance USDC/USDT 1h (from relisting 2023-03-11 14:00Z) min low 0.882"
    binance = frame["USDC_USDT_binance_low"].dropna()
    assert binance.index[0] == ts("2023-03-11 14:00")
    assert binance.min() == 0.882
    # PROVENANCE.md: the Kraken file has 240 rows, 2023-03-08 00:00 to 2023-03-17 23:00.
    assert int(frame["USDC_kraken"].notna().sum()) == 240


def test_old_luna_only() -> None:
    luna = load_prices("firesale-data:luna_5min_2022-05")
    # SANITY_CHECKS.txt: "old LUNA: max high 88.35 ; min low 4e-05 at 2022-05-13 00:35:00"
    assert luna["LUNA_USDT_low"].min() == 4e-05
    assert luna["LUNA_USDT_low"].idxmin() == ts("2022-05-13 00:35")
    assert luna["LUNA_USDT_high"].max() == 88.35
    # Old LUNA traded to 2022-05-13 00:39; Terra 2.0 rows (from 2022-05-31 06:00) must not be spliced on.
    assert luna.index[-1] == ts("2022-05-13 00:35")
    assert not (luna.index >= ts("2022-05-14")).any()
    # SANITY_CHECKS.txt daily lows: 2022-05-10 13.57, 2022-05-11 0.69, 2022-05-12 0.00028.
    daily_low = luna["LUNA_USDT_low"].resample("1D").min()
    assert daily_low[ts("2022-05-10")] == 13.57
    assert daily_low[ts("2022-05-11")] == 0.69
    assert daily_low[ts("2022-05-12")] == 0.00028


def test_ust_15min_low() -> None:
    # SANITY_CHECKS.txt: "UST/USDT 15m: ... -> 2022-05-13 00:45:00; min low 0.225 at 2022-05-11 07:30:00"
    ust = load_prices("firesale-data:ust_15min_2022-05")
    assert ust["UST_USDT_low"].min() == 0.225
    assert ust["UST_USDT_low"].idxmin() == ts("2022-05-11 07:30")
    assert ust.index[-1] == ts("2022-05-13 00:45")


def test_curve_steth_pool_imbalance() -> None:
    # SANITY_CHECKS.txt: "stETH share of pool: 2021-09 0.556; max 0.819 at 2022-06-14 10:14:53"
    pool = load_curve_pool("firesale-data:curve_steth_pool_2021-09_2022-06")
    share = pool["stETH"] / (pool["stETH"] + pool["ETH"])
    assert round(float(share.iloc[0]), 3) == 0.556
    assert round(float(share.max()), 3) == 0.819
    assert share.idxmax() == ts("2022-06-14 10:14:53")
    # PROVENANCE.md: 322 rows.
    assert len(pool) == 322


def test_curve_3pool_spreadsheet_rounded_balance() -> None:
    # finished/3crv.csv line 26: "1653863562,1021482130131364204,1.03357E+15,219983343561224987937678256,..."
    pool = load_prices("firesale-data:curve_3pool_2020-10_2022-06")
    row = pool.loc[pd.Timestamp(1653863562, unit="s", tz="UTC")]
    assert row["USDT"] == 1_033_570_000.0
    assert row["DAI"] == pytest.approx(219_983_343.561224987937678256, rel=1e-15)
    assert row["virtual_price"] == pytest.approx(1.021482130131364204, rel=1e-15)
    # PROVENANCE.md: 498 rows.
    assert len(pool) == 498


def test_mim_a_ramps_end_points() -> None:
    # pools.csv: RampA 1000 -> 10000 (1625811905 .. 1626395266), 10000 -> 30000 (1632263094 .. 1632927600),
    # 30000 -> 200000 (1638118605 .. 1638418699), in A * A_PRECISION units (A_PRECISION = 100).
    ramps = load_prices("firesale-data:curve_mim3crv_a_ramps")
    expected = pd.Series(
        [10.0, 100.0, 100.0, 300.0, 300.0, 2000.0],
        index=pd.to_datetime(
            [1625811905, 1626395266, 1632263094, 1632927600, 1638118605, 1638418699], unit="s", utc=True
        ),
    )
    np.testing.assert_array_equal(ramps["A"].to_numpy(), expected.to_numpy())
    assert ramps.index.equals(pd.DatetimeIndex(expected.index, name="timestamp"))


def test_univ2_reserves_first_point_of_a_day() -> None:
    # feeds/eth_dai_liquidity/05-19-2021.json: first {"DAI": 67923883.66277882, "WETH": 23221.34635038082},
    # last {"DAI": 61614423.79925258, "WETH": 23229.751072212523}
    reserves = load_prices("firesale-data:univ2_dai_weth_reserves_10min")
    assert len(reserves) == 6 * 144
    assert reserves.loc[ts("2021-05-19 00:00"), "DAI"] == 67923883.66277882
    assert reserves.loc[ts("2021-05-19 00:00"), "WETH"] == 23221.34635038082
    assert reserves.loc[ts("2021-05-19 23:50"), "DAI"] == 61614423.79925258


def test_uniswap_v3_ticks_snapshot() -> None:
    ticks, meta = load_uniswap_v3_ticks()
    # PROVENANCE.md: 3,510 initialised ticks, currentTick 196429, about 2,950 USDC per ETH.
    assert len(ticks) == 3510
    assert meta["currentTick"] == 196429
    sqrt_price = meta["sqrtPriceX96"] / 2**96
    eth_in_usdc = 10.0 ** (18 - 6) / sqrt_price**2
    assert 2940 < eth_in_usdc < 2960
    # The current tick is floor(log_1.0001(P)) (Uniswap v3 TickMath.getTickAtSqrtRatio).
    assert int(np.floor(np.log(sqrt_price**2) / np.log(1.0001))) == meta["currentTick"]
    # Sum of liquidityNet over all ticks is 0 for a consistent map; the float64 file has lost the low bits
    # (SANITY_CHECKS.txt: "sum(liquidityNet)=-4.1e+03 (should be ~0)"), i.e. ~1e-16 of the liquidity.
    assert abs(ticks["liquidityNet"].sum()) <= 4096.0
    # Active liquidity is the running sum of liquidityNet over the ticks at or below the current one.
    active = ticks.loc[ticks["tickIdx"] <= meta["currentTick"], "liquidityNet"].sum()
    assert active == pytest.approx(meta["liquidity"], rel=1e-12)
