"""compute_indicators: every input kind lands in its dimension's column, with values computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from firesale.exceptions import ParameterError
from firesale.monitor import ClassifierConfig, classify, compute_indicators

IDX = pd.date_range("2024-01-01", periods=4, freq="30min", tz="UTC")


def test_every_input_kind():
    prices = pd.DataFrame(
        {"ETH": [2000.0, 2000.0, 1900.0, 1800.0], "USDC": [1.0, 1.0, 0.99, 0.95]}, index=IDX
    )
    oracles = pd.DataFrame({"ETH": [2000.0, 2000.0, 2000.0, 2000.0]}, index=IDX)
    depth = pd.DataFrame({"uni": [4e6, 4e6, 2e6, 4e5]}, index=IDX)
    ind = compute_indicators(
        prices, pegs={"USDC": 1.0}, oracles=oracles, depth=depth,
        unserved_usd=pd.DataFrame({"aave": [0.0, 0.0, 1.0, 3.0]}, index=IDX),
        liquidatable_usd=pd.DataFrame({"aave": [0.0, 0.0, 4.0, 4.0]}, index=IDX),
        debt_usd=pd.DataFrame({"USDC": [90.0] * 4}, index=IDX), supply_usd=pd.DataFrame({"USDC": [100.0] * 4}, index=IDX),
        reserves_usd=pd.Series([5.0] * 4, index=IDX), bad_debt_usd=pd.Series([0.0, 0.0, 1.0, 10.0], index=IDX),
    )  # fmt: skip
    row = ind.iloc[-1]
    assert row["peg:USDC"] == pytest.approx(0.05)
    assert row["oracle_deviation:ETH"] == pytest.approx(200 / 1800)
    assert row["oracle_staleness:ETH"] == 5400.0  # unchanged since 00:00, now 01:30
    assert row["oracle_frequency:ETH"] == 0.0  # no change within the last hour
    assert row["liquidity:uni"] == pytest.approx(0.1)
    assert row["slippage:uni"] == pytest.approx(1e6 / (4e5 + 1e6))
    assert row["margin:aave"] == 0.75
    assert row["utilisation:USDC"] == 0.9
    assert row["solvency"] == 0.5
    c = classify(ind)
    # System: liquidity, slippage, margin, oracle deviation, peg and solvency failed; staleness (5400 s) stressed.
    # Model: no oracle update in the last hour is below 0.25 an hour, a model failure.
    assert c.label(3) == "systemic failure + model failure"


def test_garch_volatility_needs_a_fit_window():
    with pytest.raises(
        ParameterError, match=r"The 'fit_until' parameter of compute_indicators must be given"
    ):
        compute_indicators(
            pd.DataFrame({"ETH": [1.0, 2.0]}, index=IDX[:2]), buffers={"ETH": 0.1}, volatility="garch"
        )


def test_garch_volatility_column():
    rng = np.random.default_rng(2)
    idx = pd.date_range("2024-01-01", periods=400, freq="h", tz="UTC")
    prices = pd.DataFrame({"ETH": 2000 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))}, index=idx)
    ind = compute_indicators(prices, buffers={"ETH": 0.1}, volatility="garch", fit_until=idx[299],
                             config=ClassifierConfig(tail_window=50))  # fmt: skip
    cover = ind["volatility:ETH"].iloc[-1]
    # sigma near 1 % an hour: cover near 0.1 / (2.326 * 0.01) = 4.3
    assert 3.0 < cover < 6.0


def test_unknown_asset_and_lone_unserved_are_rejected():
    prices = pd.DataFrame({"ETH": [1.0, 2.0]}, index=IDX[:2])
    with pytest.raises(
        ParameterError, match=r"The 'buffers' parameter of compute_indicators must be keyed by columns"
    ):
        compute_indicators(prices, buffers={"BTC": 0.1})
    with pytest.raises(
        ParameterError, match=r"The 'liquidatable_usd' parameter of compute_indicators must be given"
    ):
        compute_indicators(prices, unserved_usd=pd.DataFrame({"a": [0.0, 0.0]}, index=IDX[:2]))
