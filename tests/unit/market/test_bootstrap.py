"""Circular block bootstrap: resampled rows, blocks, aggregation and sub-steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from firesale.exceptions import ParameterError
from firesale.market import Bootstrap

# Distinct, recognisable returns: row i of asset A is i / 1000, asset B is -i / 1000.
N_OBS = 50
RETURNS = np.column_stack([np.arange(N_OBS) / 1000.0, -np.arange(N_OBS) / 1000.0])


def _steps(model, n_paths, n_steps, dt, seed=0):
    x = model.simulate(n_paths, n_steps, dt, np.random.default_rng(seed))
    return np.diff(np.log(x), axis=1)


def test_steps_at_the_data_interval_are_historical_rows():
    m = Bootstrap(assets=("A", "B"), returns=RETURNS, data_dt=3600.0, block_length=5)
    r = _steps(m, 20, 23, 3600.0)
    rows = np.rint(r[..., 0] * 1000).astype(int)
    np.testing.assert_allclose(r[..., 0], rows / 1000.0, atol=1e-12)
    np.testing.assert_allclose(
        r[..., 1], -r[..., 0], atol=1e-12
    )  # whole rows: both assets from the same hour
    # Within each block of 5 the rows are consecutive, wrapping around the sample (circular).
    blocks = rows[:, :20].reshape(20, 4, 5)
    np.testing.assert_array_equal(np.diff(blocks, axis=2) % N_OBS, 1)


def test_aggregated_steps_sum_consecutive_rows():
    m = Bootstrap(assets=("A", "B"), returns=RETURNS, data_dt=3600.0, block_length=4)
    r = _steps(m, 30, 6, 7200.0)[..., 0] * 1000
    # Two hours = rows i and i+1 of one block (blocks of 4 are aligned with pairs): 2 i + 1, or a wrap 49 + 0.
    pair_sums = {2 * i + 1 for i in range(N_OBS - 1)} | {N_OBS - 1}
    assert set(np.rint(r).astype(int).ravel()) <= pair_sums


def test_sub_steps_end_on_the_historical_return_and_zero_rows_stay_flat():
    returns = np.array([[0.0], [0.02], [-0.01], [0.0]])
    m = Bootstrap(assets=("A",), returns=returns, data_dt=3600.0, block_length=1)
    x = m.simulate(200, 300 * 3, 12.0, np.random.default_rng(1))
    hourly = np.diff(np.log(x[:, ::300, 0]), axis=1)
    assert set(np.round(hourly.ravel(), 12)) <= {0.0, 0.02, -0.01}
    # An hour with a zero return has a bridge of scale |r| = 0: every 12 s step inside it is exactly flat.
    inside = np.diff(np.log(x[:, :301, 0]), axis=1)
    flat = hourly[:, 0] == 0.0
    assert flat.any()
    np.testing.assert_array_equal(inside[flat], 0.0)
    assert (np.abs(inside[~flat]) > 0).all()


def test_sub_step_variance_matches_the_data():
    # With bridge scale |r|, a fraction delta of an interval has variance E[r^2] * delta.
    rng = np.random.default_rng(5)
    returns = rng.standard_t(4, size=(2000, 1)) * 0.01
    m = Bootstrap(assets=("A",), returns=returns, data_dt=3600.0, block_length=10)
    r = _steps(m, 2000, 12, 300.0, seed=6)[..., 0]
    per_path = (r**2).mean(axis=1)
    target = (returns**2).mean() * 300.0 / 3600.0
    assert per_path.mean() == pytest.approx(target, abs=5 * per_path.std() / np.sqrt(per_path.size))


def test_from_prices_takes_log_returns():
    index = pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC")
    prices = pd.DataFrame({"A": [100.0, 110.0, 99.0, 99.0]}, index=index)
    m = Bootstrap.from_prices(prices, block_length=3)
    np.testing.assert_allclose(m.returns[:, 0], [np.log(1.1), np.log(0.9), 0.0], rtol=1e-12)
    assert m.data_dt == 3600.0


def test_determinism():
    m = Bootstrap(assets=("A", "B"), returns=RETURNS, data_dt=3600.0, block_length=5)
    a = m.simulate(4, 40, 1000.0, np.random.default_rng(3))
    b = m.simulate(4, 40, 1000.0, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"block_length": 0},
            r"The 'block_length' parameter of Bootstrap must be an int in the range \[1, 50\]\. Got 0",
        ),
        (
            {"block_length": 51},
            r"The 'block_length' parameter of Bootstrap must be an int in the range \[1, 50\]",
        ),
        (
            {"data_dt": -1.0},
            r"The 'data_dt' parameter of Bootstrap must be a finite float in the range \(0, inf\)",
        ),
        (
            {"returns": RETURNS[:, :1]},
            r"The 'returns' parameter of Bootstrap must be an array of shape \(n_obs, 2\)",
        ),
        ({"returns": RETURNS * np.nan}, r"The 'returns' parameter of Bootstrap must be finite everywhere"),
    ],
)
def test_bad_parameters(kwargs, message):
    args = {"assets": ("A", "B"), "returns": RETURNS, "data_dt": 3600.0, "block_length": 5, **kwargs}
    with pytest.raises(ParameterError, match=message):
        Bootstrap(**args)
