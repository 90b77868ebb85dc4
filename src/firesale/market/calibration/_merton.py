"""Merton jump-diffusion fits by maximum likelihood of the Poisson mixture of normals."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from firesale.market._base import SECONDS_PER_YEAR
from firesale.market._merton import MertonJump
from firesale.market._returns import log_returns
from firesale.market.calibration._result import Calibration, pairs_from_matrix, per_asset_table
from firesale.market.spec import MertonSpec

__all__ = ["MertonStepFit", "fit_merton", "fit_merton_returns"]

# Jumps per observation are summed up to this count; with at most 1 expected jump per observation the
# neglected Poisson tail is below 1e-10.
_N_MAX = 13
_P_MAX = 1.0


class MertonStepFit(NamedTuple):
    """Merton parameters per observation interval: diffusion log-drift and sd, jump probability, jump law."""

    drift: float
    sd: float
    jump_rate: float
    jump_mean: float
    jump_std: float
    loglik: float
    jump_posterior: np.ndarray


def _components(x: np.ndarray, a: float, b: float, p: float, m: float, s: float) -> np.ndarray:
    n = np.arange(_N_MAX + 1)
    log_w = n * math.log(p) - p - special.gammaln(n + 1)
    var = b * b + n * s * s
    return log_w - 0.5 * np.log(2.0 * math.pi * var) - 0.5 * (x[:, None] - a - n * m) ** 2 / var


def fit_merton_returns(x: np.ndarray, *, fit_drift: bool = False) -> MertonStepFit:
    r"""Maximum-likelihood Merton fit of log-returns observed at one fixed interval.

    Parameters
    ----------
    x : ndarray of shape (n,)
        Log-returns.
    fit_drift : bool, default False
        Estimate the diffusion drift; by default it is set so that the expected price relative is 1.

    Returns
    -------
    MertonStepFit
        Per-interval parameters and, in ``jump_posterior``, each observation's probability of holding a jump.

    Notes
    -----
    The density of a return is the Poisson mixture

    .. math:: f(x) = \sum_{n \ge 0} e^{-p} \frac{p^n}{n!} \, \phi(x;\; a + n m,\; b^2 + n s^2)

    truncated at 13 jumps, maximised with L-BFGS-B (analytic gradient) over
    :math:`(a, \ln b, \ln p, m, \ln s)` with :math:`p \le 1` jump per observation on average. Two starts
    (robust threshold estimates: returns beyond 4 MAD-sigmas are jumps; and a "few small jumps" start) guard
    against the local optimum where jumps mimic the diffusion; the better one wins.
    """
    x = np.asarray(x, dtype=np.float64)
    med = float(np.median(x))
    b0 = 1.4826 * float(np.median(np.abs(x - med))) or float(x.std()) or 1e-8
    out = np.abs(x - med) > 4.0 * b0
    p0 = max(out.mean() - 2.0 * stats.norm.sf(4.0), 1e-4)
    m0 = float(x[out].mean()) if out.any() else 0.0
    s0 = float(x[out].std()) if out.sum() > 1 else 3.0 * b0

    n = np.arange(_N_MAX + 1)

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b, p, m, s = math.exp(theta[1]), math.exp(theta[2]), theta[3] * b0, math.exp(theta[4])
        k = math.expm1(m + 0.5 * s * s)
        a = theta[0] * b0 if fit_drift else -(p * k + 0.5 * b * b)
        comp = _components(x, a, b, p, m, s)
        total = special.logsumexp(comp, axis=1)
        w = np.exp(comp - total[:, None])
        var = b * b + n * s * s
        err = x[:, None] - a - n * m
        d_a = (w * err / var).sum()
        d_var = w * (0.5 * err * err / var**2 - 0.5 / var)
        d_b = 2.0 * b * d_var.sum()
        d_s = 2.0 * s * (d_var * n).sum()
        d_m = (w * n * err / var).sum()
        d_p = (w * (n / p - 1.0)).sum()
        if not fit_drift:  # a is tied to the other parameters so that E[S_t / S_0] = 1
            d_b -= b * d_a
            d_p -= k * d_a
            d_m -= p * (k + 1.0) * d_a
            d_s -= p * (k + 1.0) * s * d_a
        grad = np.array([d_a * b0 if fit_drift else 0.0, d_b * b, d_p * p, d_m * b0, d_s * s])
        return -float(total.sum()) / x.size, -grad / x.size

    bounds = [(-50.0, 50.0), (math.log(b0) - 8.0, math.log(b0) + 5.0), (math.log(1e-8), math.log(_P_MAX)),
              (-200.0, 200.0), (math.log(b0) - 8.0, math.log(b0) + 8.0)]  # fmt: skip
    starts = [
        np.array([med / b0, math.log(b0), math.log(p0), m0 / b0, math.log(max(s0, 1e-3 * b0))]),
        np.array([med / b0, math.log(b0), math.log(0.01), 0.0, math.log(3.0 * b0)]),
    ]
    fits = (optimize.minimize(nll, s, jac=True, method="L-BFGS-B", bounds=bounds) for s in starts)
    best = min(fits, key=lambda r: r.fun)
    b, p, m, s = math.exp(best.x[1]), math.exp(best.x[2]), float(best.x[3]) * b0, math.exp(best.x[4])
    a = float(best.x[0]) * b0 if fit_drift else -(p * math.expm1(m + 0.5 * s * s) + 0.5 * b * b)
    comp = _components(x, a, b, p, m, s)
    total = special.logsumexp(comp, axis=1)
    return MertonStepFit(
        drift=a,
        sd=b,
        jump_rate=p,
        jump_mean=m,
        jump_std=s,
        loglik=float(total.sum()),
        jump_posterior=1.0 - np.exp(comp[:, 0] - total),
    )


def fit_merton(
    prices: pd.Series | pd.DataFrame, *, data_dt: float | None = None, fit_drift: bool = False
) -> Calibration:
    r"""Fit a Merton jump-diffusion per asset (independent jumps), by maximum likelihood.

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Prices with a DatetimeIndex, one column per asset.
    data_dt : float, optional
        Sampling interval in seconds; default the median spacing.
    fit_drift : bool, default False
        Estimate the drift; by default the model is a martingale (drift 0).

    Returns
    -------
    Calibration
        :class:`~firesale.market.MertonJump` with ``common_jumps=False`` and its
        :class:`~firesale.market.spec.MertonSpec`; diagnostics ``n_obs``, ``data_dt``, ``loglik`` and
        ``loglik_gbm`` per asset (a likelihood-ratio test of jumps against plain GBM) and ``n_jump_obs``
        (observations more likely than not to hold a jump).

    Notes
    -----
    :func:`fit_merton_returns` per asset; per-interval values are annualised with
    :math:`\Delta = dt / (365 \cdot 86400)`: :math:`\sigma = b / \sqrt\Delta`, :math:`\lambda = p / \Delta`, and the
    drift :math:`\mu = a / \Delta + \lambda k + \sigma^2/2`. The diffusion correlation is the sample correlation
    of the observations where no asset is more likely than not to have jumped.
    """
    rets, step = log_returns(prices, data_dt)
    x = rets.to_numpy()
    assets = tuple(rets.columns)
    years = step / SECONDS_PER_YEAR
    fits = [fit_merton_returns(x[:, i], fit_drift=fit_drift) for i in range(len(assets))]
    vol = np.array([f.sd for f in fits]) / math.sqrt(years)
    lam = np.array([f.jump_rate for f in fits]) / years
    m = np.array([f.jump_mean for f in fits])
    s = np.array([f.jump_std for f in fits])
    if fit_drift:
        drift = np.array([f.drift for f in fits]) / years + lam * np.expm1(m + 0.5 * s**2) + 0.5 * vol**2
    else:
        drift = np.zeros(len(assets))
    calm = np.all(np.column_stack([f.jump_posterior for f in fits]) < 0.5, axis=1)
    corr = np.eye(len(assets))
    if len(assets) > 1 and calm.sum() > 2:
        corr = np.corrcoef(x[calm], rowvar=False)
    model = MertonJump(
        assets=assets,
        vol=tuple(vol),
        jump_intensity=tuple(lam),
        jump_mean=tuple(m),
        jump_std=tuple(s),
        drift=tuple(drift),
        correlation=corr,
        common_jumps=False,
    )
    spec = MertonSpec(
        vol=per_asset_table(assets, vol),
        jump_intensity=per_asset_table(assets, lam),
        jump_mean=per_asset_table(assets, m),
        jump_std=per_asset_table(assets, s),
        drift=per_asset_table(assets, drift),
        correlation=pairs_from_matrix(assets, corr),
        common_jumps=False,
    )
    centre = x.mean(axis=0) if fit_drift else np.zeros(len(assets))
    gbm_sd = np.sqrt(((x - centre) ** 2).mean(axis=0))
    diagnostics: dict[str, Any] = {
        "n_obs": int(x.shape[0]),
        "data_dt": step,
        "loglik": per_asset_table(assets, [f.loglik for f in fits]),
        "loglik_gbm": per_asset_table(assets, stats.norm.logpdf(x, loc=centre, scale=gbm_sd).sum(axis=0)),
        "n_jump_obs": {a: int((f.jump_posterior > 0.5).sum()) for a, f in zip(assets, fits, strict=True)},
    }
    return Calibration(model=model, spec=spec, diagnostics=diagnostics)
