"""GBM against its closed forms: log-return moments at each step size, correlation, expected relative."""

from __future__ import annotations

import numpy as np
import pytest

from firesale.market import GBM, SECONDS_PER_YEAR

YEAR = 365 * 86400  # the model's year, written out independently of the constant


def test_year_is_365_days():
    assert SECONDS_PER_YEAR == YEAR


@pytest.mark.parametrize("dt", [12.0, 3600.0, 86400.0])
def test_log_return_mean_and_variance(dt):
    vol, drift = 0.8, 0.3
    n_paths, n_steps = 4000, 100
    x = GBM(assets=("A",), vol=vol, drift=drift).simulate(n_paths, n_steps, dt, np.random.default_rng(11))
    r = np.diff(np.log(x[:, :, 0]), axis=1).ravel()
    years = dt / YEAR
    mean, var = (drift - vol**2 / 2) * years, vol**2 * years
    n = r.size
    assert r.mean() == pytest.approx(mean, abs=5 * np.sqrt(var / n))
    assert r.var() == pytest.approx(var, rel=5 * np.sqrt(2 / n))


def test_starts_at_one_and_has_the_right_shape():
    x = GBM(assets=("A", "B"), vol=(0.5, 0.6)).simulate(7, 9, 12.0, np.random.default_rng(0))
    assert x.shape == (7, 10, 2)
    assert np.all(x[:, 0, :] == 1.0)


def test_correlation_is_recovered():
    rho = np.array([[1.0, 0.85, -0.3], [0.85, 1.0, -0.2], [-0.3, -0.2, 1.0]])
    m = GBM(assets=("A", "B", "C"), vol=(0.8, 0.65, 0.2), correlation=rho)
    x = m.simulate(2000, 100, 3600.0, np.random.default_rng(5))
    r = np.diff(np.log(x), axis=1).reshape(-1, 3)
    n = r.shape[0]
    # Standard error of a sample correlation: (1 - rho^2) / sqrt(n).
    np.testing.assert_allclose(np.corrcoef(r, rowvar=False), rho, atol=5 / np.sqrt(n))


def test_expected_relative_is_exp_drift_t():
    drift, vol, days = 0.5, 0.4, 30
    x = GBM(assets=("A",), vol=vol, drift=drift).simulate(
        200_000, 1, days * 86400.0, np.random.default_rng(3)
    )
    t = days / 365
    # Var of a log-normal with log-variance s2: (e^{s2} - 1) e^{2 mu t}.
    sd = np.sqrt(np.expm1(vol**2 * t)) * np.exp(drift * t)
    assert x[:, 1, 0].mean() == pytest.approx(np.exp(drift * t), abs=5 * sd / np.sqrt(200_000))


def test_same_seed_same_paths_and_different_seed_different_paths():
    m = GBM(assets=("A", "B"), vol=(0.5, 0.6), correlation=[[1, 0.3], [0.3, 1]])
    a = m.simulate(5, 20, 60.0, np.random.default_rng(123))
    b = m.simulate(5, 20, 60.0, np.random.default_rng(123))
    c = m.simulate(5, 20, 60.0, np.random.default_rng(124))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_no_global_random_state_is_used():
    m = GBM(assets=("A",), vol=0.5)
    np.random.seed(0)  # noqa: NPY002 - proves the global state has no influence
    a = m.simulate(3, 4, 12.0, np.random.default_rng(9))
    np.random.seed(1)  # noqa: NPY002
    b = m.simulate(3, 4, 12.0, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
