"""Merton jump-diffusion against closed forms: variance, mean, cross-asset covariance, compensation."""

from __future__ import annotations

import numpy as np
import pytest

from firesale.market import MertonJump

YEAR = 365 * 86400


def _returns(model, n_paths, n_steps, dt, seed):
    x = model.simulate(n_paths, n_steps, dt, np.random.default_rng(seed))
    return np.diff(np.log(x), axis=1).reshape(-1, model.n_assets)


@pytest.mark.parametrize("dt", [3600.0, 86400.0])
def test_log_return_mean_and_variance(dt):
    vol, lam, m, s, mu = 0.5, 30.0, -0.05, 0.08, 0.1
    model = MertonJump(assets=("A",), vol=vol, jump_intensity=lam, jump_mean=m, jump_std=s, drift=mu)
    r = _returns(model, 4000, 200, dt, 21)[:, 0]
    d = dt / YEAR
    k = np.exp(m + s**2 / 2) - 1
    # Merton (1976): mean (mu - lam k - vol^2/2) d + lam d m, variance vol^2 d + lam d (m^2 + s^2).
    mean = (mu - lam * k - vol**2 / 2) * d + lam * d * m
    var = vol**2 * d + lam * d * (m**2 + s**2)
    n = r.size
    assert r.mean() == pytest.approx(mean, abs=5 * np.sqrt(var / n))
    # The fourth moment is large with rare jumps; the variance of r^2 bounds the standard error.
    assert r.var() == pytest.approx(var, abs=5 * np.sqrt(np.var(r**2) / n))


def test_common_jumps_covary_across_assets():
    vol, lam = (0.3, 0.4), 50.0
    m, s = (-0.05, -0.1), (0.02, 0.05)
    model = MertonJump(assets=("A", "B"), vol=vol, jump_intensity=lam, jump_mean=m, jump_std=s)
    r = _returns(model, 4000, 100, 86400.0, 4)
    d = 86400.0 / YEAR
    # Same N and same standard normal at each jump: Cov = lam d (m1 m2 + s1 s2); diffusions independent.
    cov = lam * d * (m[0] * m[1] + s[0] * s[1])
    sd = np.sqrt(np.var(r[:, 0] * r[:, 1]) / r.shape[0])
    assert np.cov(r, rowvar=False)[0, 1] == pytest.approx(cov, abs=5 * sd)


def test_independent_jumps_do_not_covary():
    model = MertonJump(
        assets=("A", "B"),
        vol=0.3,
        jump_intensity=(50.0, 20.0),
        jump_mean=-0.05,
        jump_std=0.05,
        common_jumps=False,
    )
    r = _returns(model, 4000, 100, 86400.0, 4)
    sd = np.sqrt(np.var(r[:, 0] * r[:, 1]) / r.shape[0])
    assert np.cov(r, rowvar=False)[0, 1] == pytest.approx(0.0, abs=5 * sd)


def test_per_asset_intensity_when_independent():
    d = 86400.0 / YEAR
    lam = (80.0, 5.0)
    # Without diffusion noise to speak of, a jump shows as a return below -0.01 (jump mean -0.2, sd 0.01).
    model = MertonJump(
        assets=("A", "B"), vol=1e-6, jump_intensity=lam, jump_mean=-0.2, jump_std=0.01, common_jumps=False
    )
    r = _returns(model, 2000, 365, 86400.0, 8)
    freq = (r < -0.1).mean(axis=0)
    expected = 1 - np.exp(-np.array(lam) * d)  # P(at least one jump in a day)
    for f, e in zip(freq, expected, strict=True):
        assert f == pytest.approx(e, abs=5 * np.sqrt(e / r.shape[0]))


def test_drift_compensates_the_jumps():
    # E[S_t/S_0] = exp(mu t) whatever the jumps: the drift is compensated by lam * k.
    mu, t_days = 0.2, 10
    model = MertonJump(assets=("A",), vol=0.2, jump_intensity=10.0, jump_mean=-0.1, jump_std=0.1, drift=mu)
    x = model.simulate(200_000, 1, t_days * 86400.0, np.random.default_rng(1))[:, 1, 0]
    assert x.mean() == pytest.approx(np.exp(mu * t_days / 365), abs=5 * x.std() / np.sqrt(x.size))


def test_zero_intensity_is_gbm_in_law():
    model = MertonJump(assets=("A",), vol=0.6, jump_intensity=0.0, jump_mean=-0.5, jump_std=0.2)
    r = _returns(model, 2000, 100, 3600.0, 2)[:, 0]
    d = 3600.0 / YEAR
    assert r.var() == pytest.approx(0.36 * d, rel=5 * np.sqrt(2 / r.size))


def test_determinism():
    model = MertonJump(assets=("A", "B"), vol=0.5, jump_intensity=20.0, jump_mean=-0.1, jump_std=0.05)
    a = model.simulate(3, 50, 3600.0, np.random.default_rng(77))
    b = model.simulate(3, 50, 3600.0, np.random.default_rng(77))
    np.testing.assert_array_equal(a, b)
    assert np.all(a[:, 0, :] == 1.0)
