"""Indicators against hand calculations and independent implementations (pandas, the Uniswap v2 formula)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from firesale.exceptions import ParameterError
from firesale.monitor import indicators as ind


def _hourly(values, start="2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="h", tz="UTC"), dtype=float)


def test_realised_volatility_matches_pandas_on_frames_and_paths():
    rng = np.random.default_rng(3)
    prices = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (200, 3)), axis=0)),
                          index=pd.date_range("2024-01-01", periods=200, freq="h", tz="UTC"))  # fmt: skip
    expected = np.log(prices).diff().rolling(24).std()
    got = ind.realised_volatility(prices, 24)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-9, equal_nan=True)
    # The same numbers with paths first and time last.
    np.testing.assert_allclose(ind.realised_volatility(prices.to_numpy().T, 24), expected.to_numpy().T,
                               rtol=1e-9, equal_nan=True)  # fmt: skip


def test_realised_volatility_skips_missing_values():
    p = _hourly([100, 101, np.nan, 102, 101, 103])
    got = ind.realised_volatility(p, window=5, min_periods=2)
    # valid returns in the window: ln(101/100), ln(101/102), ln(103/101) (the two around the gap are NaN)
    r = np.array([math.log(1.01), math.log(101 / 102), math.log(103 / 101)])
    assert got.iloc[-1] == pytest.approx(r.std(ddof=1), rel=1e-12)


def test_liquidation_buffer_and_volatility_cover():
    assert ind.liquidation_buffer(0.805, 0.83) == pytest.approx(1 - 0.805 / 0.83)
    # buffer 0.1 against sigma 1 % per step over 4 steps at 99 %: 0.1 / (2.3263479 * 0.01 * 2) = 0.1 / 0.0465270 = 2.14929
    assert float(ind.volatility_cover(np.array([0.01]), 0.1, 4, 0.99)[0]) == pytest.approx(2.14929, abs=1e-5)
    with pytest.raises(ParameterError, match=r"The 'ltv' parameter of liquidation_buffer must be in"):
        ind.liquidation_buffer(0.9, 0.8)


def test_slippage_is_uniswap_v2_without_fee():
    # Reserves 100 ETH / 200,000 USDC; selling 10 ETH returns 200000 * 10 / 110 = 18,181.82 USDC,
    # against 20,000 at spot: 9.0909 % short. Depth of the ETH side 200,000 USD, size 20,000 USD.
    assert float(ind.slippage_at_size(np.array([200_000.0]), 20_000.0)[0]) == pytest.approx(
        1 - 18181.8181818 / 20000
    )
    assert float(ind.slippage_at_size(np.array([0.0]), 1.0)[0]) == 1.0


def test_depth_ratio_from_the_first_value():
    d = pd.DataFrame({"a": [np.nan, 10.0, 5.0, 0.8], "b": [4.0, 4.0, 2.0, 1.0]})
    r = ind.depth_ratio(d)
    assert r["a"].tolist()[1:] == [1.0, 0.5, 0.08]
    assert r["b"].tolist() == [1.0, 1.0, 0.5, 0.25]


def test_oracle_staleness_and_update_frequency_by_hand():
    idx = pd.date_range("2024-01-01", periods=7, freq="10min", tz="UTC")
    oracle = pd.Series([100, 100, 101, 101, 101, 101, 99], index=idx, dtype=float)
    # Updates (changes) at 0, 20 and 60 minutes.
    assert ind.oracle_staleness(oracle).tolist() == [0, 600, 0, 600, 1200, 1800, 0]
    # Updates in the trailing 30 minutes (times > t - 30 min), per hour: at 30 min only the one at 20 -> 2 / h.
    assert ind.update_frequency(oracle, 1800).tolist() == [2, 2, 4, 2, 2, 0, 2]
    # Arrays need the step.
    assert ind.oracle_staleness(oracle.to_numpy(), dt=600.0).tolist() == [0, 600, 0, 600, 1200, 1800, 0]
    with pytest.raises(ParameterError, match="The 'dt' parameter of oracle_staleness must be given"):
        ind.oracle_staleness(oracle.to_numpy())


def test_oracle_and_peg_deviation():
    assert ind.oracle_deviation(np.array([95.0, 100.0]), np.array([100.0, 100.0])).tolist() == [0.05, 0.0]
    assert ind.peg_deviation(np.array([0.877, 1.0]), 1.0).tolist() == pytest.approx([0.123, 0.0])


def test_rolling_correlation_matches_pandas():
    rng = np.random.default_rng(5)
    base = rng.normal(0, 0.01, 300)
    r = np.stack(
        [base + rng.normal(0, 0.005, 300), base + rng.normal(0, 0.02, 300), rng.normal(0, 0.01, 300)], 1
    )
    prices = pd.DataFrame(100 * np.exp(np.cumsum(r, axis=0)), columns=list("xyz"),
                          index=pd.date_range("2024-01-01", periods=300, freq="h", tz="UTC"))  # fmt: skip
    lr = np.log(prices).diff()
    pairs = [
        lr["x"].rolling(48).corr(lr["y"]),
        lr["x"].rolling(48).corr(lr["z"]),
        lr["y"].rolling(48).corr(lr["z"]),
    ]
    expected = pd.concat(pairs, axis=1)
    got = ind.rolling_correlation(prices, 48)
    np.testing.assert_allclose(got["correlation_max"].iloc[60:], expected.max(axis=1).iloc[60:], rtol=1e-8)
    np.testing.assert_allclose(got["correlation_mean"].iloc[60:], expected.mean(axis=1).iloc[60:], rtol=1e-8)
    mean, mx = ind.rolling_correlation(prices.to_numpy()[None], 48)
    np.testing.assert_allclose(mx[0, 60:], expected.max(axis=1).iloc[60:], rtol=1e-8)


def test_tail_pvalue_is_the_binomial_tail():
    # 10 steps, sigma 1 %, level 0.9 (z = 1.2815516): losses of 2 % at two steps breach.
    r = np.zeros(10)
    r[[3, 7]] = -0.02
    p = ind.tail_pvalue(r, np.full(10, 0.01), window=10, level=0.9)
    # P(X >= 2), X ~ Bin(10, 0.1) = 1 - 0.9^10 - 10 * 0.1 * 0.9^9 = 0.2639011
    assert p[-1] == pytest.approx(1 - 0.9**10 - 10 * 0.1 * 0.9**9, rel=1e-9)
    assert p[-1] == pytest.approx(0.2639011, abs=1e-7)


def test_health_factors_and_debt_near_liquidation_by_hand():
    positions = pd.DataFrame({
        "account": ["a", "a", "b", "b", "c"],
        "asset": ["WETH", "USDC", "WETH", "USDC", "WETH"],
        "collateral_amount": [10.0, 0.0, 5.0, 0.0, 1.0],
        "debt_amount": [0.0, 16_000.0, 0.0, 4_000.0, 0.0],
    })  # fmt: skip
    hf = ind.health_factors(positions, {"WETH": 2000.0, "USDC": 1.0}, {"WETH": 0.83, "USDC": 0.78})
    # a: 10 * 2000 * 0.83 / 16000 = 1.0375; b: 5 * 2000 * 0.83 / 4000 = 2.075; c: no debt.
    assert hf.loc[("system", "a"), "health_factor"] == pytest.approx(1.0375)
    assert hf.loc[("system", "b"), "health_factor"] == pytest.approx(2.075)
    assert hf.loc[("system", "c"), "health_factor"] == math.inf
    near = ind.debt_near_liquidation(hf["health_factor"], hf["debt_usd"], (0.05, 0.5))
    # a is within 5 % (1.0375 < 1/0.95 = 1.0526); b within 50 % (2.075 >= 2): no.
    assert near["within_5pct_usd"] == 16_000.0
    assert near["within_5pct_share"] == pytest.approx(0.8)
    assert near["within_50pct_usd"] == 16_000.0
    with pytest.raises(
        ParameterError, match=r"The 'prices' parameter of health_factors must be a mapping with every"
    ):
        ind.health_factors(positions, {"WETH": 2000.0}, {"WETH": 0.83, "USDC": 0.78})
    with pytest.raises(ParameterError, match=r"missing \['debt_amount'\]"):
        ind.health_factors(positions.drop(columns="debt_amount"), {}, {})


def test_concentration_utilisation_coverage_unclearable():
    assert ind.concentration([60.0, 20.0, 20.0], top=1) == {"hhi": 0.44, "top_share": 0.6, "n": 3}
    assert ind.utilisation(np.array([90.0, 1.0]), np.array([100.0, 0.0])).tolist()[0] == 0.9
    assert ind.reserve_coverage(np.array([5.0, 5.0]), np.array([10.0, 0.0])).tolist() == [0.5, math.inf]
    assert ind.unclearable_share(np.array([3.0, 0.0]), np.array([4.0, 0.0])).tolist() == [0.75, 0.0]
