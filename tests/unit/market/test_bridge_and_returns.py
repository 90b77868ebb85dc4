"""The native-period bridge and the regular-grid log-returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from firesale.exceptions import ParameterError
from firesale.market import log_returns
from firesale.market._bridge import bridge_to_grid, native_periods


def test_native_periods():
    assert native_periods(300, 12.0, 3600.0) == 1
    assert native_periods(301, 12.0, 3600.0) == 2
    assert native_periods(3, 86400.0, 3600.0) == 72
    assert native_periods(10, 1000.0, 3600.0) == 3  # 10 000 s


def test_boundaries_are_exact_and_the_bridge_has_brownian_bridge_variance():
    # Native returns R = (0.1, -0.2) over two hours, scale c = 0.05, steps of 15 min: at s = k/4 inside a period
    # the mean is X(t_j) + s R_j and the variance c^2 s (1 - s) (Brownian bridge).
    n_paths = 200_000
    native = np.broadcast_to(np.array([0.1, -0.2])[None, :, None], (n_paths, 2, 1))
    scale = np.full((n_paths, 2, 1), 0.05)
    x = bridge_to_grid(native, scale, 3600.0, 900.0, 8, np.eye(1), np.random.default_rng(0))[..., 0]
    np.testing.assert_allclose(x[:, [0, 4, 8]], np.broadcast_to([0.0, 0.1, -0.1], (n_paths, 3)), atol=1e-15)
    s = np.array([0.25, 0.5, 0.75])
    for offset, start, ret in ((1, 0.0, 0.1), (5, 0.1, -0.2)):
        pts = x[:, offset : offset + 3]
        np.testing.assert_allclose(pts.mean(axis=0), start + s * ret, atol=5 * 0.05 * 0.5 / np.sqrt(n_paths))
        np.testing.assert_allclose(pts.var(axis=0), 0.05**2 * s * (1 - s), rtol=5 * np.sqrt(2 / n_paths))
    # Covariance of a Brownian bridge: min(s, u) - s u.
    c = np.cov(x[:, 1], x[:, 3])[0, 1]
    assert c == pytest.approx(0.05**2 * (0.25 - 0.25 * 0.75), rel=0.05)


def test_points_in_two_periods_are_independent_given_the_returns():
    n_paths = 100_000
    native = np.zeros((n_paths, 2, 1))
    scale = np.ones((n_paths, 2, 1))
    x = bridge_to_grid(native, scale, 3600.0, 1800.0, 4, np.eye(1), np.random.default_rng(1))[..., 0]
    assert np.corrcoef(x[:, 1], x[:, 3])[0, 1] == pytest.approx(0.0, abs=5 / np.sqrt(n_paths))


def test_bridge_noise_is_correlated_across_assets():
    n_paths = 100_000
    native = np.zeros((n_paths, 1, 2))
    scale = np.ones((n_paths, 1, 2))
    rho = 0.6
    factor = np.linalg.cholesky(np.array([[1.0, rho], [rho, 1.0]]))
    x = bridge_to_grid(native, scale, 3600.0, 1200.0, 3, factor, np.random.default_rng(2))
    assert np.corrcoef(x[:, 1, 0], x[:, 1, 1])[0, 1] == pytest.approx(
        rho, abs=5 * (1 - rho**2) / np.sqrt(n_paths)
    )


def _frame(values, index):
    return pd.DataFrame({"A": values}, index=pd.DatetimeIndex(index, tz="UTC"))


def test_log_returns_on_a_regular_grid():
    idx = pd.date_range("2024-01-01", periods=4, freq="h")
    rets, dt = log_returns(_frame([100.0, 110.0, 99.0, 108.9], idx))
    assert dt == 3600.0
    np.testing.assert_allclose(rets["A"], np.log([1.1, 0.9, 1.1]), rtol=1e-12)
    assert list(rets.index) == list(idx[1:].tz_localize("UTC"))


def test_a_missing_hour_drops_both_adjacent_returns():
    # Hours 0, 1, 3, 4 (2 is missing): no observation lies within 30 min of the grid point at 2 h, so the
    # returns 1->2 and 2->3 are dropped instead of becoming one two-hour return.
    idx = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 03:00", "2024-01-01 04:00"])
    rets, dt = log_returns(_frame([100.0, 101.0, 120.0, 126.0], idx))
    assert dt == 3600.0
    np.testing.assert_allclose(rets["A"], [np.log(1.01), np.log(1.05)], rtol=1e-12)


def test_irregular_timestamps_are_read_as_of_the_grid():
    # CoinGecko-style jitter: observations a few minutes after each hour.
    idx = pd.to_datetime(["2024-01-01 00:02", "2024-01-01 01:04", "2024-01-01 02:01", "2024-01-01 03:03"])
    rets, dt = log_returns(_frame([100.0, 50.0, 100.0, 200.0], idx), 3600.0)
    # Grid 00:02, 01:02, 02:02, 03:02: the nearest observations (within 30 min) are 100, 50, 100, 200.
    np.testing.assert_allclose(rets["A"], np.log([0.5, 2.0, 2.0]), rtol=1e-12)


def test_daily_returns_from_hourly_prices():
    idx = pd.date_range("2024-01-01", periods=49, freq="h")
    values = np.exp(np.arange(49) * 0.01)
    rets, dt = log_returns(_frame(values, idx), 86400.0)
    assert dt == 86400.0
    np.testing.assert_allclose(rets["A"], [0.24, 0.24], rtol=1e-12)


def test_log_returns_rejects_nan_rows():
    idx = pd.date_range("2024-01-01", periods=3, freq="h")
    with pytest.raises(
        ParameterError, match=r"The 'prices' parameter of log_returns must be positive and finite"
    ):
        log_returns(_frame([1.0, np.nan, 2.0], idx))
