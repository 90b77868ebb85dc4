"""Calibration recovers known parameters from data simulated by the models themselves (fixed seeds)."""

from __future__ import annotations

import tomllib
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from firesale.exceptions import ParameterError
from firesale.market import GBM, Bootstrap, GarchT, MertonJump, RegimeSwitching
from firesale.market.calibration import (
    CalibrationWarning,
    fit_bootstrap,
    fit_garch,
    fit_gbm,
    fit_merton,
    fit_regime,
    fit_standardized_t,
    fit_student_t,
    optimal_block_length,
)
from firesale.market.spec import validate_market


def _prices(model, n_steps, dt, seed):
    rel = model.simulate(1, n_steps, dt, np.random.default_rng(seed))[0]
    index = pd.date_range("2020-01-01", periods=n_steps + 1, freq=pd.Timedelta(seconds=dt), tz="UTC")
    return pd.DataFrame(100.0 * rel, index=index, columns=list(model.assets))


def _round_trip(cal):
    spec = validate_market(tomllib.loads(cal.to_toml())["market"])
    assert spec == cal.spec
    return spec


def test_gbm_recovery():
    true = GBM(assets=("A", "B"), vol=(0.8, 0.5), drift=(0.3, -0.1), correlation=[[1, 0.6], [0.6, 1]])
    n = 30_000
    cal = fit_gbm(_prices(true, n, 3600.0, 1))
    m = cal.model
    # Standard error of a vol estimate: vol / sqrt(2 n).
    np.testing.assert_allclose(m.vol, true.vol, atol=4 * 0.8 / np.sqrt(2 * n))
    assert m.correlation[0][1] == pytest.approx(0.6, abs=4 * (1 - 0.36) / np.sqrt(n))
    assert m.drift == (0.0, 0.0)  # not fitted by default
    assert cal.diagnostics["n_obs"] == n
    assert cal.diagnostics["data_dt"] == 3600.0
    _round_trip(cal)
    fitted = fit_gbm(_prices(true, n, 3600.0, 1), fit_drift=True).model
    # The drift's standard error is vol / sqrt(years of data) = 0.8 / sqrt(3.4): only its sign region is testable.
    assert fitted.drift[0] == pytest.approx(0.3, abs=4 * 0.8 / np.sqrt(n / 8760))


def test_standardized_t_mle_recovers_nu():
    rng = np.random.default_rng(2)
    nu, sd = 4.0, 0.03
    x = rng.standard_t(nu, size=20_000) * sd * np.sqrt((nu - 2) / nu)
    fit = fit_standardized_t(x, fit_loc=False)
    assert fit.nu == pytest.approx(nu, abs=0.4)
    assert fit.sd == pytest.approx(sd, rel=0.05)
    assert fit.loc == 0.0


def test_student_t_recovery_and_copula_correlation():
    true = GarchT(
        assets=("A", "B"),
        vol=(0.7, 0.9),
        alpha=0.0,
        beta=0.0,
        nu=(5.0, 8.0),
        correlation=[[1, 0.5], [0.5, 1]],
    )
    cal = fit_student_t(_prices(true, 20_000, 86400.0, 3))
    m = cal.model
    assert m.alpha == (0.0, 0.0) and m.beta == (0.0, 0.0)
    np.testing.assert_allclose(m.nu, (5.0, 8.0), rtol=0.25)
    np.testing.assert_allclose(m.vol, (0.7, 0.9), rtol=0.04)
    assert m.correlation[0][1] == pytest.approx(0.5, abs=0.03)
    assert cal.diagnostics["loglik"]["A"] > cal.diagnostics["loglik_normal"]["A"]
    _round_trip(cal)


def test_student_t_warns_at_the_lower_bound():
    # Cauchy returns have no variance: the MLE runs into nu = 2.01.
    rng = np.random.default_rng(4)
    x = np.cumsum(rng.standard_cauchy(3000) * 0.001)
    index = pd.date_range("2020-01-01", periods=3000, freq="D", tz="UTC")
    with pytest.warns(CalibrationWarning, match=r"nu for 'A' is at its lower bound 2\.01"):
        fit_student_t(pd.DataFrame({"A": 100 * np.exp(x)}, index=index))


def test_merton_recovery():
    true = MertonJump(assets=("A",), vol=0.5, jump_intensity=40.0, jump_mean=-0.06, jump_std=0.04)
    cal = fit_merton(_prices(true, 10_000, 86400.0, 7))
    m = cal.model
    assert m.vol[0] == pytest.approx(0.5, rel=0.05)
    assert m.jump_intensity[0] == pytest.approx(40.0, rel=0.2)
    assert m.jump_mean[0] == pytest.approx(-0.06, abs=0.01)
    assert m.jump_std[0] == pytest.approx(0.04, abs=0.01)
    assert not m.common_jumps
    lr = 2 * (cal.diagnostics["loglik"]["A"] - cal.diagnostics["loglik_gbm"]["A"])
    assert lr > stats.chi2.ppf(0.999, 3)
    _round_trip(cal)


def test_merton_without_jumps_finds_few():
    true = GBM(assets=("A",), vol=0.5)
    cal = fit_merton(_prices(true, 5_000, 86400.0, 8))
    assert cal.model.vol[0] == pytest.approx(0.5, rel=0.05)
    # Without jumps in the data the three jump parameters do not improve the fit significantly: the likelihood
    # ratio stays below the 99.9 % quantile of chi-square with 3 degrees of freedom.
    lr = 2 * (cal.diagnostics["loglik"]["A"] - cal.diagnostics["loglik_gbm"]["A"])
    assert lr < stats.chi2.ppf(0.999, 3)


def test_garch_recovery_within_arch_standard_errors():
    true = GarchT(assets=("A",), vol=0.6, alpha=0.08, beta=0.9, nu=6.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)
        cal = fit_garch(_prices(true, 10_000, 86400.0, 3))
    m = cal.model
    se = cal.diagnostics["std_err"]["A"]
    assert m.alpha[0] == pytest.approx(0.08, abs=4 * se["alpha"])
    assert m.beta[0] == pytest.approx(0.9, abs=4 * se["beta"])
    assert m.nu[0] == pytest.approx(6.0, abs=4 * se["nu"])
    # Variance targeting: the sample vol of a GARCH path converges slowly (persistence 0.98).
    assert m.vol[0] == pytest.approx(0.6, rel=0.1)
    assert m.native_dt == 86400.0
    assert cal.diagnostics["capped"]["A"] is False
    assert cal.diagnostics["half_life"]["A"] == pytest.approx(np.log(0.5) / np.log(m.alpha[0] + m.beta[0]))
    _round_trip(cal)


def test_garch_copula_correlation_and_conditioning():
    true = GarchT(assets=("A", "B"), vol=0.6, alpha=0.08, beta=0.9, nu=6.0, correlation=[[1, 0.7], [0.7, 1]])
    cal = fit_garch(_prices(true, 5_000, 86400.0, 4), condition_on_last=True)
    assert cal.model.correlation[0][1] == pytest.approx(0.7, abs=0.04)
    assert cal.model.initial_vol == tuple(cal.diagnostics["next_vol"].values())
    _round_trip(cal)


def test_garch_persistence_cap_warns():
    # An integrated GARCH (alpha + beta = 1 in the data generating process) sits on the boundary.
    true = GarchT(assets=("A",), vol=0.6, alpha=0.1, beta=0.8999, nu=5.0)
    with pytest.warns(CalibrationWarning, match=r"exceeds max_persistence=0\.9; beta lowered to"):
        cal = fit_garch(_prices(true, 4_000, 86400.0, 5), max_persistence=0.9)
    assert cal.model.alpha[0] + cal.model.beta[0] == pytest.approx(0.9)
    assert cal.diagnostics["capped"]["A"] is True


@pytest.mark.parametrize("dt", [86400.0, 3600.0])
def test_regime_recovery(dt):
    true = RegimeSwitching(
        assets=("A", "B"),
        vol_calm=(0.4, 0.5),
        vol_crisis=(1.2, 1.5),
        p_calm_to_crisis=0.03,
        p_crisis_to_calm=0.1,
        correlation_calm=[[1, 0.3], [0.3, 1]],
        correlation_crisis=[[1, 0.9], [0.9, 1]],
    )
    n = 5_000 if dt == 86400.0 else 60_000
    cal = fit_regime(_prices(true, n, dt, 1))
    m = cal.model
    np.testing.assert_allclose(m.vol_calm, true.vol_calm, rtol=0.05)
    np.testing.assert_allclose(m.vol_crisis, true.vol_crisis, rtol=0.06)
    assert m.correlation_calm[0][1] == pytest.approx(0.3, abs=0.05)
    assert m.correlation_crisis[0][1] == pytest.approx(0.9, abs=0.03)
    # Per-day switching probabilities, converted back from per-hour ones in the hourly case.
    assert m.p_calm_to_crisis == pytest.approx(0.03, rel=0.3)
    assert m.p_crisis_to_calm == pytest.approx(0.1, rel=0.3)
    assert cal.diagnostics["converged"]
    prob = cal.diagnostics["regime_probability"]
    assert prob.between(0, 1).all() and len(prob) == n
    _round_trip(cal)


def test_block_length_sees_volatility_clustering():
    rng = np.random.default_rng(0)
    iid = rng.standard_normal(5000)
    clustered = np.diff(np.log(GarchT(assets=("A",), vol=0.6, alpha=0.1, beta=0.88, nu=8.0).simulate(
        1, 5000, 86400.0, np.random.default_rng(1))[0, :, 0]))  # fmt: skip
    assert optimal_block_length(iid) <= 5
    assert optimal_block_length(clustered) > 3 * optimal_block_length(iid)


def test_bootstrap_fit_and_spec():
    true = GarchT(assets=("A",), vol=0.6, alpha=0.1, beta=0.85, nu=5.0, native_dt=3600.0)
    prices = _prices(true, 2000, 3600.0, 2)
    cal = fit_bootstrap(prices)
    assert isinstance(cal.model, Bootstrap)
    assert cal.spec is None
    with pytest.raises(
        ParameterError, match=r"The 'spec' parameter of Calibration\.to_toml must be a market spec"
    ):
        cal.to_toml()
    np.testing.assert_allclose(cal.model.returns[:, 0], np.diff(np.log(prices["A"].to_numpy())), rtol=1e-12)
    with_source = fit_bootstrap(
        prices, block_length=12, source={"source": "prices.csv", "time_column": "time"}
    )
    assert with_source.model.block_length == 12
    spec = _round_trip(with_source)
    assert spec.block_length == 12 and spec.data_dt == 3600.0 and spec.source == "prices.csv"


def test_fits_reject_bad_prices():
    with pytest.raises(
        ParameterError, match=r"The 'prices' parameter of log_returns must be indexed by a DatetimeIndex"
    ):
        fit_gbm(pd.DataFrame({"A": [1.0, 2.0, 3.0]}))
