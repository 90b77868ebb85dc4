"""GBM and i.i.d. Student-t fits: moments and maximum likelihood on log-returns."""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from firesale.market._base import SECONDS_PER_YEAR
from firesale.market._garch import GarchT
from firesale.market._gbm import GBM
from firesale.market._returns import log_returns
from firesale.market.calibration._result import (
    Calibration,
    CalibrationWarning,
    pairs_from_matrix,
    per_asset_table,
)
from firesale.market.spec import GarchSpec, GBMSpec

__all__ = ["StudentTFit", "fit_gbm", "fit_standardized_t", "fit_student_t", "normal_scores"]

_NU_MIN = 2.01
_NU_MAX = 1000.0


class StudentTFit(NamedTuple):
    """A standardised Student-t fit: degrees of freedom, location, standard deviation, log-likelihood."""

    nu: float
    loc: float
    sd: float
    loglik: float


def _t_loglik(x: np.ndarray, nu: float, loc: float, sd: float) -> float:
    scale = sd * math.sqrt((nu - 2.0) / nu)
    z = (x - loc) / scale
    const = (
        special.gammaln((nu + 1) / 2)
        - special.gammaln(nu / 2)
        - 0.5 * math.log(nu * math.pi)
        - math.log(scale)
    )
    return float(x.size * const - (nu + 1) / 2 * np.log1p(z * z / nu).sum())


def fit_standardized_t(x: np.ndarray, *, fit_loc: bool = True) -> StudentTFit:
    r"""Maximum-likelihood fit of :math:`x = loc + sd \cdot \varepsilon`, :math:`\varepsilon` unit-variance t.

    Parameters
    ----------
    x : ndarray of shape (n,)
        Observations (log-returns), finite, n >= 10.
    fit_loc : bool, default True
        Estimate the location; False fixes it at 0.

    Returns
    -------
    StudentTFit
        ``(nu, loc, sd, loglik)`` with ``nu`` in [2.01, 1000].

    Notes
    -----
    Parameterised by the standard deviation (not the t scale) so that the variance is finite by construction:
    :math:`\nu = 2 + e^{\theta_0}`, :math:`sd = e^{\theta_1}`, optimised with L-BFGS-B (scipy) from the
    method-of-moments start :math:`\nu_0 = 4 + 6 / \kappa_{excess}`.
    """
    x = np.asarray(x, dtype=np.float64)
    sd0 = float(x.std()) or 1e-12
    excess = float(stats.kurtosis(x)) if x.size > 3 else 0.0
    nu0 = float(np.clip(4.0 + 6.0 / excess, 2.5, 100.0)) if excess > 0 else 30.0
    loc0 = float(np.median(x)) if fit_loc else 0.0

    def nll(theta: np.ndarray) -> float:
        nu = 2.0 + math.exp(theta[0])
        loc = theta[2] * sd0 if fit_loc else 0.0
        return -_t_loglik(x, nu, loc, sd0 * math.exp(theta[1])) / x.size

    start = np.array([math.log(nu0 - 2.0), 0.0, loc0 / sd0])
    bounds = [(math.log(_NU_MIN - 2.0), math.log(_NU_MAX - 2.0)), (-10.0, 10.0), (-50.0, 50.0)]
    res = optimize.minimize(nll, start, method="L-BFGS-B", bounds=bounds)
    nu = 2.0 + math.exp(res.x[0])
    loc = float(res.x[2] * sd0) if fit_loc else 0.0
    sd = sd0 * math.exp(res.x[1])
    return StudentTFit(nu, loc, sd, _t_loglik(x, nu, loc, sd))


def normal_scores(u: np.ndarray) -> np.ndarray:
    """:math:`\\Phi^{-1}(u)` with ``u`` kept inside (0, 1)."""
    eps = 1e-12
    return special.ndtri(np.clip(u, eps, 1.0 - eps))


def _annualise(var_per_step: np.ndarray, data_dt: float) -> np.ndarray:
    return np.sqrt(var_per_step * SECONDS_PER_YEAR / data_dt)


def fit_gbm(
    prices: pd.Series | pd.DataFrame, *, data_dt: float | None = None, fit_drift: bool = False
) -> Calibration:
    r"""Fit correlated GBM: annualised vol, drift and correlation from log-returns.

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Prices with a DatetimeIndex, one column per asset (see :func:`firesale.market.log_returns`).
    data_dt : float, optional
        Sampling interval in seconds; default the median spacing.
    fit_drift : bool, default False
        Estimate the drift. By default it is set to 0 (a stress model should not bank on the sample's trend; the
        estimate, whose standard error is about ``vol / sqrt(years of data)``, is in the diagnostics).

    Returns
    -------
    Calibration
        :class:`~firesale.market.GBM` and :class:`~firesale.market.spec.GBMSpec`; diagnostics ``n_obs``,
        ``data_dt``, ``vol_se`` (per asset), ``drift_estimate``, ``loglik``.

    Notes
    -----
    Maximum likelihood for i.i.d. normal log-returns over :math:`\Delta` years: :math:`\hat\sigma^2 = s^2/\Delta`
    with the sample variance :math:`s^2` (ddof 1), drift :math:`\hat\mu = \bar r/\Delta + \hat\sigma^2/2`,
    correlation the sample correlation; the standard error of :math:`\hat\sigma` is
    :math:`\hat\sigma/\sqrt{2(n-1)}`.
    """
    rets, step = log_returns(prices, data_dt)
    x = rets.to_numpy()
    assets = tuple(rets.columns)
    years = step / SECONDS_PER_YEAR
    var = x.var(axis=0, ddof=1)
    vol = _annualise(var, step)
    drift_est = x.mean(axis=0) / years + 0.5 * vol**2
    drift = drift_est if fit_drift else np.zeros_like(vol)
    corr = np.corrcoef(x, rowvar=False).reshape(len(assets), len(assets)) if len(assets) > 1 else np.eye(1)
    model = GBM(assets=assets, vol=tuple(vol), drift=tuple(drift), correlation=corr)
    spec = GBMSpec(
        vol=per_asset_table(assets, vol),
        drift=per_asset_table(assets, drift),
        correlation=pairs_from_matrix(assets, corr),
    )
    mean = (drift - 0.5 * vol**2) * years
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    loglik = float(np.sum(stats.multivariate_normal(mean=mean, cov=cov, allow_singular=True).logpdf(x)))
    diagnostics: dict[str, Any] = {
        "n_obs": int(x.shape[0]),
        "data_dt": step,
        "vol_se": per_asset_table(assets, vol / np.sqrt(2.0 * (x.shape[0] - 1))),
        "drift_estimate": per_asset_table(assets, drift_est),
        "loglik": loglik,
    }
    return Calibration(model=model, spec=spec, diagnostics=diagnostics)


def fit_student_t(
    prices: pd.Series | pd.DataFrame, *, data_dt: float | None = None, fit_drift: bool = False
) -> Calibration:
    r"""Fit i.i.d. Student-t log-returns per asset by maximum likelihood, coupled by a Gaussian copula.

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Prices with a DatetimeIndex, one column per asset.
    data_dt : float, optional
        Sampling interval in seconds; default the median spacing.
    fit_drift : bool, default False
        Estimate the location (mean log-return); by default it is fixed at 0.

    Returns
    -------
    Calibration
        A :class:`~firesale.market.GarchT` with ``alpha = beta = 0`` (i.i.d. returns) at ``native_dt = data_dt``
        and its :class:`~firesale.market.spec.GarchSpec`; diagnostics ``n_obs``, ``data_dt``, ``nu``, ``loglik``
        and ``loglik_normal`` (the normal fit of the same returns, for a likelihood-ratio comparison).

    Notes
    -----
    Per asset, :func:`fit_standardized_t` (MLE with scipy). The copula correlation is the sample correlation of the
    normal scores :math:`\Phi^{-1}(F_\nu((r - loc)/sd))`, the estimator matching the Gaussian copula of
    :class:`~firesale.market.GarchT`.
    """
    rets, step = log_returns(prices, data_dt)
    x = rets.to_numpy()
    assets = tuple(rets.columns)
    fits = [fit_standardized_t(x[:, i], fit_loc=fit_drift) for i in range(len(assets))]
    for asset, fit in zip(assets, fits, strict=True):
        if fit.nu < _NU_MIN * (1.0 + 1e-6):
            warnings.warn(
                f"fit_student_t: nu for {asset!r} is at its lower bound {_NU_MIN:g}: the returns are heavier-tailed "
                "than any finite-variance Student-t (volatility clustering?); the vol is unreliable, consider "
                "fit_garch.",
                CalibrationWarning,
                stacklevel=2,
            )
    nu = np.array([f.nu for f in fits])
    sd = np.array([f.sd for f in fits])
    loc = np.array([f.loc for f in fits])
    u = stats.t.cdf((x - loc) / (sd * np.sqrt((nu - 2.0) / nu)), nu)
    scores = normal_scores(u)
    corr = (
        np.corrcoef(scores, rowvar=False).reshape(len(assets), len(assets)) if len(assets) > 1 else np.eye(1)
    )
    vol = _annualise(sd**2, step)
    model = GarchT(
        assets=assets,
        vol=tuple(vol),
        alpha=0.0,
        beta=0.0,
        nu=tuple(nu),
        native_dt=step,
        mu=tuple(loc),
        correlation=corr,
    )
    spec = GarchSpec(
        vol=per_asset_table(assets, vol),
        alpha=0.0,
        beta=0.0,
        nu=per_asset_table(assets, nu),
        native_dt=step,
        mu=per_asset_table(assets, loc),
        correlation=pairs_from_matrix(assets, corr),
    )
    centre = x.mean(axis=0) if fit_drift else np.zeros(len(assets))
    normal_sd = np.sqrt(((x - centre) ** 2).mean(axis=0))
    normal_ll = stats.norm.logpdf(x, loc=centre, scale=normal_sd).sum(axis=0)
    diagnostics: dict[str, Any] = {
        "n_obs": int(x.shape[0]),
        "data_dt": step,
        "nu": per_asset_table(assets, nu),
        "loglik": per_asset_table(assets, [f.loglik for f in fits]),
        "loglik_normal": per_asset_table(assets, normal_ll),
    }
    return Calibration(model=model, spec=spec, diagnostics=diagnostics)
