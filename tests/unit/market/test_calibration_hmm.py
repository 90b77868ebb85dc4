"""The vectorized HMM E-step against a sequential forward-backward, and the EM fit against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from firesale.exceptions import ParameterError
from firesale.market import RegimeSwitching
from firesale.market.calibration import fit_gaussian_hmm
from firesale.market.calibration._hmm import _e_step, _log_emissions


def _sequential_forward_backward(log_b, trans, init):
    """Textbook scaled forward-backward (Rabiner 1989, eqs. 91-93), one time step at a time."""
    n = log_b.shape[0]
    b = np.exp(log_b)
    alpha = np.empty((n, 2))
    scale = np.empty(n)
    a = init * b[0]
    scale[0] = a.sum()
    alpha[0] = a / scale[0]
    for t in range(1, n):
        a = (alpha[t - 1] @ trans) * b[t]
        scale[t] = a.sum()
        alpha[t] = a / scale[t]
    beta = np.ones((n, 2))
    for t in range(n - 2, -1, -1):
        beta[t] = trans @ (b[t + 1] * beta[t + 1]) / scale[t + 1]
    gamma = alpha * beta
    gamma /= gamma.sum(axis=1, keepdims=True)
    xi = np.zeros((2, 2))
    for t in range(n - 1):
        x = alpha[t][:, None] * trans * (b[t + 1] * beta[t + 1])[None, :]
        xi += x / x.sum()
    return gamma, xi, np.log(scale).sum()


@pytest.mark.parametrize("n", [2, 3, 17, 1000])
def test_scan_e_step_equals_the_sequential_recursion(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 2)) * np.where(rng.random((n, 1)) < 0.2, 3.0, 1.0) * 0.01
    means = np.zeros((2, 2))
    covs = np.array([[[1e-4, 2e-5], [2e-5, 1e-4]], [[9e-4, 6e-4], [6e-4, 9e-4]]])
    trans = np.array([[0.95, 0.05], [0.2, 0.8]])
    init = np.array([0.7, 0.3])
    log_b = _log_emissions(x, means, covs)
    gamma, xi, ll = _e_step(log_b, trans, init)
    g_ref, xi_ref, ll_ref = _sequential_forward_backward(log_b, trans, init)
    np.testing.assert_allclose(gamma, g_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(xi, xi_ref, rtol=1e-9, atol=1e-12)
    assert ll == pytest.approx(ll_ref, rel=1e-12)


def test_emissions_are_multivariate_normal_log_densities():
    x = np.array([[0.01, -0.02], [0.0, 0.03]])
    covs = np.array([[[1e-4, 3e-5], [3e-5, 4e-4]], [[1e-3, 0.0], [0.0, 2e-3]]])
    means = np.array([[0.0, 0.001], [0.0, 0.0]])
    got = _log_emissions(x, means, covs)
    for k in range(2):
        np.testing.assert_allclose(
            got[:, k], stats.multivariate_normal(means[k], covs[k]).logpdf(x), rtol=1e-12
        )


def test_em_matches_statsmodels_markov_regression():
    sm = pytest.importorskip("statsmodels.api")
    model = RegimeSwitching(
        assets=("A",), vol_calm=0.4, vol_crisis=1.2, p_calm_to_crisis=0.03, p_crisis_to_calm=0.1
    )
    x = np.diff(np.log(model.simulate(1, 3000, 86400.0, np.random.default_rng(5))[0, :, 0]))
    # statsmodels (independent implementation, Hamilton filter + Kim smoother, BFGS after EM):
    # zero mean, regime-switching variance. Its initial law is the chain's steady state, ours is fitted.
    ref = sm.tsa.MarkovRegression(x, k_regimes=2, trend="n", switching_variance=True).fit(disp=False)
    p00, p10, var0, var1 = ref.params
    ours = fit_gaussian_hmm(x[:, None])
    assert ours.converged
    assert ours.transition[0, 0] == pytest.approx(p00, abs=2e-3)
    assert ours.transition[1, 0] == pytest.approx(p10, abs=5e-3)
    assert ours.covariances[0, 0, 0] == pytest.approx(var0, rel=5e-3)
    assert ours.covariances[1, 0, 0] == pytest.approx(var1, rel=5e-3)
    # A fitted initial law can only add likelihood, and only through the first observation.
    assert ref.llf - 1e-6 <= ours.loglik <= ref.llf + 1.0


def test_crisis_is_the_high_variance_state():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(300) * 0.05, rng.standard_normal(700) * 0.01])[:, None]
    hmm = fit_gaussian_hmm(x)
    assert hmm.covariances[1, 0, 0] > hmm.covariances[0, 0, 0]
    assert hmm.posterior[:300, 1].mean() > 0.95
    assert hmm.posterior[300:, 0].mean() > 0.95


def test_bad_input():
    with pytest.raises(ParameterError, match=r"The 'x' parameter of fit_gaussian_hmm must be a finite array"):
        fit_gaussian_hmm(np.zeros((5, 1)))
    with pytest.raises(ParameterError, match=r"The 'max_iter' parameter of fit_gaussian_hmm must be an int"):
        fit_gaussian_hmm(np.ones((50, 1)), max_iter=0)
