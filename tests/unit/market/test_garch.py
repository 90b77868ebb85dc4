"""GARCH(1,1)-t against closed forms, and its behaviour at step sizes other than the native one."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from firesale.market import GarchT
from firesale.market._garch import standardized_t

YEAR = 365 * 86400


def _native_returns(model, n_paths, n_steps, seed):
    x = model.simulate(n_paths, n_steps, model.native_dt, np.random.default_rng(seed))
    return np.diff(np.log(x), axis=1)


def test_standardized_t_matches_scipy_quantiles():
    # Exact quantile transform: Phi(z) -> t_nu^{-1} -> scaled to unit variance.
    z = np.array([-8.0, -3.0, -0.5, 0.0, 0.7, 2.5, 9.0])
    nu = 5.0
    expected = stats.t.ppf(stats.norm.cdf(z), nu) * np.sqrt((nu - 2) / nu)
    expected[-1] = -stats.t.ppf(stats.norm.cdf(-9.0), nu) * np.sqrt(
        (nu - 2) / nu
    )  # the cdf rounds to 1 at +9
    np.testing.assert_allclose(standardized_t(z, np.array(nu)), expected, rtol=1e-10)


def test_unconditional_variance():
    vol, native = 0.9, 3600.0
    m = GarchT(assets=("A",), vol=vol, alpha=0.05, beta=0.9, nu=8.0, native_dt=native)
    r = _native_returns(m, 20000, 20, 1)[..., 0]
    target = vol**2 * native / YEAR  # = omega / (1 - alpha - beta)
    assert m.omega[0] / (1 - 0.05 - 0.9) == pytest.approx(target)
    # Started at the unconditional variance, E[r_j^2] equals it at every j; paths are independent.
    per_path = (r**2).mean(axis=1)
    assert per_path.mean() == pytest.approx(target, abs=5 * per_path.std() / np.sqrt(per_path.size))


def test_kurtosis_closed_form():
    # Kurtosis of a GARCH(1,1) return: k (1 - (a+b)^2) / (1 - (a+b)^2 - (k-1) a^2), with k the innovation
    # kurtosis 3 (nu - 2) / (nu - 4) (Bollerslev 1986; He and Terasvirta 1999).
    a, b, nu = 0.05, 0.9, 12.0
    k = 3 * (nu - 2) / (nu - 4)
    expected = k * (1 - (a + b) ** 2) / (1 - (a + b) ** 2 - (k - 1) * a**2)
    m = GarchT(assets=("A",), vol=0.5, alpha=a, beta=b, nu=nu)
    r = _native_returns(m, 4000, 400, 2)[:, 200:, 0]  # burn-in: the variance law must be stationary
    assert stats.kurtosis(r.ravel(), fisher=False) == pytest.approx(expected, rel=0.03)


def test_iid_t_kurtosis():
    nu = 10.0
    m = GarchT(assets=("A",), vol=0.5, alpha=0.0, beta=0.0, nu=nu)
    r = _native_returns(m, 10000, 50, 3)[..., 0].ravel()
    assert stats.kurtosis(r, fisher=False) == pytest.approx(3 * (nu - 2) / (nu - 4), rel=0.03)


def test_copula_rank_correlation():
    # A Gaussian copula with correlation rho has Spearman correlation (6 / pi) arcsin(rho / 2); with
    # alpha = beta = 0 and mu = 0 the returns are monotone in the copula normals.
    rho = 0.7
    m = GarchT(
        assets=("A", "B"),
        vol=(0.5, 0.9),
        alpha=0.0,
        beta=0.0,
        nu=(4.0, 7.0),
        correlation=[[1, rho], [rho, 1]],
    )
    r = _native_returns(m, 1000, 100, 4).reshape(-1, 2)
    spearman = stats.spearmanr(r[:, 0], r[:, 1]).statistic
    assert spearman == pytest.approx(6 / np.pi * np.arcsin(rho / 2), abs=0.01)


def test_initial_vol_sets_the_first_period():
    m = GarchT(assets=("A",), vol=0.5, alpha=0.1, beta=0.8, nu=30.0, initial_vol=2.0)
    r = _native_returns(m, 100_000, 1, 5)[:, 0, 0]
    assert r.var() == pytest.approx(2.0**2 * 86400 / YEAR, rel=0.03)


@pytest.mark.parametrize("dt", [600.0, 1000.0, 86400.0])
def test_step_variance_spreads_the_native_variance(dt):
    # Each step of dt seconds has variance sigma_bar^2 * dt / native_dt, also when dt does not divide the native
    # period (1000 s) or aggregates it (a day of hourly periods).
    vol, native = 0.8, 3600.0
    m = GarchT(assets=("A",), vol=vol, alpha=0.05, beta=0.9, nu=6.0, native_dt=native)
    n_steps = 18 if dt < native else 3
    x = m.simulate(20000, n_steps, dt, np.random.default_rng(6))
    r = np.diff(np.log(x[..., 0]), axis=1)
    per_path = (r**2).mean(axis=1)
    target = vol**2 * dt / YEAR
    assert per_path.mean() == pytest.approx(target, abs=5 * per_path.std() / np.sqrt(per_path.size))


@pytest.mark.parametrize(("dt", "every"), [(1800.0, 2), (1200.0, 3), (720.0, 5)])
def test_native_grid_is_identical_whatever_the_step(dt, every):
    # The native returns are drawn first with the same shape, so points on native boundaries coincide exactly.
    m = GarchT(
        assets=("A", "B"),
        vol=0.8,
        alpha=0.1,
        beta=0.85,
        nu=4.0,
        native_dt=3600.0,
        correlation=[[1, 0.5], [0.5, 1]],
    )
    coarse = m.simulate(50, 10, 3600.0, np.random.default_rng(8))
    fine = m.simulate(50, 10 * every, dt, np.random.default_rng(8))
    np.testing.assert_allclose(fine[:, ::every, :], coarse, rtol=1e-12)
    assert not np.allclose(fine[:, 1, :], 1.0)  # interior points move


def test_one_block_steps_with_daily_parameters():
    m = GarchT(assets=("A",), vol=0.8, alpha=0.1, beta=0.85, nu=4.0)
    x = m.simulate(10, 7200, 12.0, np.random.default_rng(0))
    assert x.shape == (10, 7201, 1)
    assert np.isfinite(x).all() and (x > 0).all()


def test_determinism():
    m = GarchT(assets=("A",), vol=0.8, alpha=0.1, beta=0.85, nu=4.0, native_dt=3600.0)
    a = m.simulate(4, 30, 1000.0, np.random.default_rng(5))
    b = m.simulate(4, 30, 1000.0, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
