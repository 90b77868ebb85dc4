"""Two-state Gaussian hidden Markov model fitted by EM, vectorized over time, and the regime-switching fit."""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from firesale.market._base import SECONDS_PER_DAY, SECONDS_PER_YEAR
from firesale.market._regime import RegimeSwitching
from firesale.market._returns import log_returns
from firesale.market._validation import check_float, check_int, fail
from firesale.market.calibration._result import (
    Calibration,
    CalibrationWarning,
    pairs_from_matrix,
    per_asset_table,
)
from firesale.market.spec import RegimeSpec

__all__ = ["GaussianHMM", "fit_gaussian_hmm", "fit_regime"]

_TINY = np.finfo(np.float64).tiny


class GaussianHMM(NamedTuple):
    """A fitted 2-state Gaussian HMM on one observation interval (state 1 is the crisis state)."""

    means: np.ndarray  # (2, n_assets)
    covariances: np.ndarray  # (2, n_assets, n_assets)
    transition: np.ndarray  # (2, 2), rows: from state
    initial: np.ndarray  # (2,)
    loglik: float
    n_iter: int
    converged: bool
    posterior: np.ndarray  # (T, 2) smoothed state probabilities


def _matmul2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched product of 2 x 2 matrices stored as (4, n) rows [m00, m01, m10, m11] (faster than matmul here)."""
    return np.stack(
        (
            a[0] * b[0] + a[1] * b[2],
            a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2],
            a[2] * b[1] + a[3] * b[3],
        )
    )


def _prefix_products(mats: np.ndarray) -> np.ndarray:
    """``out[i] = mats[0] @ ... @ mats[i]`` up to a positive scale, by a Hillis-Steele scan (log2(T) passes)."""
    out = np.ascontiguousarray(mats.reshape(-1, 4).T)
    d = 1
    while d < out.shape[1]:
        nxt = out.copy()
        prod = _matmul2(out[:, :-d], out[:, d:])
        # Rescale every product so that long chains neither underflow nor overflow; only directions matter.
        prod /= np.maximum(prod.max(axis=0), _TINY)
        nxt[:, d:] = prod
        out = nxt
        d *= 2
    return out.T.reshape(-1, 2, 2)


def _log_emissions(x: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    out = np.empty((x.shape[0], 2))
    for k in range(2):  # two states; each is vectorized over time
        chol = np.linalg.cholesky(covs[k])
        z = np.linalg.solve(chol, (x - means[k]).T)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        out[:, k] = -0.5 * (z * z).sum(axis=0) - 0.5 * logdet - 0.5 * x.shape[1] * math.log(2.0 * math.pi)
    return out


def _e_step(log_b: np.ndarray, trans: np.ndarray, init: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Smoothed state probabilities, summed pair probabilities and the log-likelihood.

    The forward and backward recursions are products of 2 x 2 matrices ``M_t = A diag(b_t)``; they are computed
    as prefix and suffix products with a parallel scan, normalised at every level, so no Python loop runs over
    time. The log-likelihood comes from the one-step predictive densities of the filtered probabilities.
    """
    shift = log_b.max(axis=1, keepdims=True)
    b = np.exp(log_b - shift)
    alpha0 = init * b[0]
    mats = trans[None, :, :] * b[1:, None, :]
    n = log_b.shape[0]
    alpha = np.empty((n, 2))
    alpha[0] = alpha0 / alpha0.sum()
    if n > 1:
        prefix = _prefix_products(mats)
        fwd = np.einsum("i,tij->tj", alpha[0], prefix)
        alpha[1:] = fwd / np.maximum(fwd.sum(axis=1, keepdims=True), _TINY)
    beta = np.ones((n, 2))
    if n > 1:
        # Suffix products M_{t+1} ... M_{T-1} are prefix products of the reversed, transposed sequence.
        suffix = _prefix_products(np.transpose(mats[::-1], (0, 2, 1)))[::-1]
        bwd = np.transpose(suffix, (0, 2, 1)).sum(axis=2)
        beta[:-1] = bwd / np.maximum(bwd.sum(axis=1, keepdims=True), _TINY)
    gamma = alpha * beta
    gamma /= gamma.sum(axis=1, keepdims=True)
    xi = alpha[:-1, :, None] * mats * beta[1:, None, :]
    xi_sum = (xi / np.maximum(xi.sum(axis=(1, 2), keepdims=True), _TINY)).sum(axis=0)
    predictive = np.einsum("ti,ij,tj->t", alpha[:-1], trans, b[1:])
    loglik = float(np.log(alpha0.sum()) + np.log(np.maximum(predictive, _TINY)).sum() + shift.sum())
    return gamma, xi_sum, loglik


def _m_step(
    x: np.ndarray, gamma: np.ndarray, xi_sum: np.ndarray, fit_means: bool, ridge: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    weight = gamma.sum(axis=0)
    means = (gamma.T @ x) / weight[:, None] if fit_means else np.zeros((2, x.shape[1]))
    covs = np.empty((2, x.shape[1], x.shape[1]))
    for k in range(2):
        d = x - means[k]
        covs[k] = (gamma[:, k, None] * d).T @ d / weight[k] + ridge
    trans = xi_sum / xi_sum.sum(axis=1, keepdims=True)
    return means, covs, trans, gamma[0]


def fit_gaussian_hmm(
    x: np.ndarray, *, fit_means: bool = False, max_iter: int = 500, tol: float = 1e-9
) -> GaussianHMM:
    r"""Fit a 2-state Gaussian hidden Markov model to multivariate returns by EM (Baum-Welch).

    Parameters
    ----------
    x : ndarray of shape (T, n_assets)
        Returns at one fixed interval, finite, T >= 20.
    fit_means : bool, default False
        Estimate state means; by default they are 0 (volatility and correlation regimes only).
    max_iter : int, default 500
        Maximum EM iterations.
    tol : float, default 1e-9
        Stop when the log-likelihood improves by less than ``tol * T``.

    Returns
    -------
    GaussianHMM
        State 1 is the crisis state: the one with the larger average variance relative to the sample variance.

    Notes
    -----
    EM starts from a split of the sample by local volatility (the 20 % of observations with the largest
    24-observation average of squared standardised returns is "crisis"). The E-step computes forward and
    backward variables as scaled prefix and suffix products of :math:`M_t = A\,\mathrm{diag}(b_t)` with a parallel
    scan (:math:`\log_2 T` vectorized passes), the M-step is the usual weighted moments
    (Hamilton 1990; Rabiner 1989). A ridge of 1e-10 times the sample variance keeps covariances positive definite.

    References
    ----------
    J. D. Hamilton, "Analysis of time series subject to changes in regime", Journal of Econometrics 45 (1990)
    39-70. L. R. Rabiner, "A tutorial on hidden Markov models and selected applications in speech recognition",
    Proceedings of the IEEE 77 (1989) 257-286.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    max_iter = check_int(max_iter, "max_iter", "fit_gaussian_hmm", lo=1)
    tol = check_float(tol, "tol", "fit_gaussian_hmm", lo=0.0)
    if x.ndim != 2 or x.shape[0] < 20 or not np.isfinite(x).all():
        raise fail(
            "x",
            "fit_gaussian_hmm",
            "a finite array of shape (T, n_assets) with T >= 20",
            f"<shape {x.shape}>",
        )
    var = x.var(axis=0) + _TINY
    ridge = np.diag(1e-10 * var)
    window = min(24, max(2, x.shape[0] // 20))
    local = (
        pd.Series(((x * x) / var).mean(axis=1)).rolling(window, center=True, min_periods=1).mean().to_numpy()
    )
    hot = local >= np.quantile(local, 0.8)
    gamma = np.column_stack([~hot, hot]).astype(np.float64)
    xi_sum = np.array([[0.95, 0.05], [0.2, 0.8]]) * np.array([[(~hot).sum()], [hot.sum()]])
    means, covs, trans, init = _m_step(x, gamma, xi_sum, fit_means, ridge)
    init = np.array([0.5, 0.5])
    loglik = -np.inf
    converged = False
    n_iter = 0
    while n_iter < max_iter:  # EM iterations are sequential by nature
        n_iter += 1
        gamma, xi_sum, new = _e_step(_log_emissions(x, means, covs), trans, init)
        means, covs, trans, init = _m_step(x, gamma, xi_sum, fit_means, ridge)
        if new - loglik < tol * x.shape[0]:
            converged = True
            loglik = max(loglik, new)
            break
        loglik = new
    scale = np.array([np.mean(np.diag(covs[k]) / var) for k in range(2)])
    if scale[0] > scale[1]:
        order = np.array([1, 0])
        means, covs, init, gamma = means[order], covs[order], init[order], gamma[:, order]
        trans = trans[np.ix_(order, order)]
    return GaussianHMM(means, covs, trans, init, float(loglik), n_iter, converged, gamma)


def fit_regime(
    prices: pd.Series | pd.DataFrame,
    *,
    data_dt: float | None = None,
    fit_drift: bool = False,
    max_iter: int = 500,
    tol: float = 1e-9,
) -> Calibration:
    r"""Fit the calm / crisis regime-switching model: a 2-state Gaussian HMM on log-returns.

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Prices with a DatetimeIndex, one column per asset.
    data_dt : float, optional
        Sampling interval in seconds; default the median spacing.
    fit_drift : bool, default False
        Estimate a drift per regime; by default both are 0.
    max_iter, tol
        Passed to :func:`fit_gaussian_hmm`.

    Returns
    -------
    Calibration
        :class:`~firesale.market.RegimeSwitching` and :class:`~firesale.market.spec.RegimeSpec`; diagnostics
        ``n_obs``, ``data_dt``, ``loglik``, ``n_iter``, ``converged``, ``crisis_share`` (share of observations
        more likely in crisis), ``transition_per_step`` (the fitted 2 x 2 matrix at ``data_dt``) and
        ``regime_probability`` (a pandas Series of the smoothed crisis probability).

    Notes
    -----
    Per-interval covariances give each regime's annualised vols and correlations; the per-interval transition
    matrix :math:`A` (eigenvalue :math:`\lambda = 1 - a - b`) is converted to one day by
    :math:`a_{day} = \pi_1 (1 - \lambda^{86400/dt})`, :math:`b_{day} = \pi_0 (1 - \lambda^{86400/dt})`, the inverse of
    :func:`~firesale.market.step_transition_probabilities`. A fitted :math:`\lambda \le 0` (regimes that alternate
    faster than the data) has no such conversion: it is raised to 1e-12 with a :class:`CalibrationWarning`.
    """
    rets, step = log_returns(prices, data_dt)
    x = rets.to_numpy()
    assets = tuple(rets.columns)
    hmm = fit_gaussian_hmm(x, fit_means=fit_drift, max_iter=max_iter, tol=tol)
    if not hmm.converged:
        warnings.warn(
            f"fit_regime: EM did not converge in {max_iter} iterations.", CalibrationWarning, stacklevel=2
        )
    years = step / SECONDS_PER_YEAR
    sd = np.sqrt(np.stack([np.diag(c) for c in hmm.covariances]))
    vols = sd / math.sqrt(years)
    corr = hmm.covariances / (sd[:, :, None] * sd[:, None, :])
    for c in corr:
        np.fill_diagonal(c, 1.0)
    drift = hmm.means / years + 0.5 * vols**2 if fit_drift else np.zeros_like(vols)
    a_step, b_step = float(hmm.transition[0, 1]), float(hmm.transition[1, 0])
    lam = 1.0 - a_step - b_step
    if lam <= 0.0:
        warnings.warn(
            f"fit_regime: the fitted chain alternates (1 - a - b = {lam:.3g} <= 0); raised to 1e-12.",
            CalibrationWarning,
            stacklevel=2,
        )
        lam = 1e-12
    decay = lam ** (SECONDS_PER_DAY / step)
    total = a_step + b_step
    a_day = a_step / total * (1.0 - decay) if total > 0 else 0.0
    b_day = b_step / total * (1.0 - decay) if total > 0 else 0.0
    model = RegimeSwitching(
        assets=assets,
        vol_calm=tuple(vols[0]),
        vol_crisis=tuple(vols[1]),
        p_calm_to_crisis=a_day,
        p_crisis_to_calm=b_day,
        drift_calm=tuple(drift[0]),
        drift_crisis=tuple(drift[1]),
        correlation_calm=corr[0],
        correlation_crisis=corr[1],
    )
    spec = RegimeSpec(
        vol_calm=per_asset_table(assets, vols[0]),
        vol_crisis=per_asset_table(assets, vols[1]),
        p_calm_to_crisis=a_day,
        p_crisis_to_calm=b_day,
        drift_calm=per_asset_table(assets, drift[0]),
        drift_crisis=per_asset_table(assets, drift[1]),
        correlation_calm=pairs_from_matrix(assets, corr[0]),
        correlation_crisis=pairs_from_matrix(assets, corr[1]),
    )
    diagnostics: dict[str, Any] = {
        "n_obs": int(x.shape[0]),
        "data_dt": step,
        "loglik": hmm.loglik,
        "n_iter": hmm.n_iter,
        "converged": hmm.converged,
        "crisis_share": float((hmm.posterior[:, 1] > 0.5).mean()),
        "transition_per_step": hmm.transition,
        "regime_probability": pd.Series(hmm.posterior[:, 1], index=rets.index, name="crisis_probability"),
    }
    return Calibration(model=model, spec=spec, diagnostics=diagnostics)
