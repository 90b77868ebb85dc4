"""GARCH(1,1)-t fits with the ``arch`` package."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from arch import arch_model
from scipy import stats

from firesale.market._base import SECONDS_PER_YEAR
from firesale.market._garch import GarchT
from firesale.market._returns import log_returns
from firesale.market._validation import check_float
from firesale.market.calibration._result import (
    Calibration,
    CalibrationWarning,
    pairs_from_matrix,
    per_asset_table,
)
from firesale.market.calibration._student import normal_scores
from firesale.market.spec import GarchSpec

__all__ = ["fit_garch"]


def _fit_one(x: np.ndarray, fit_drift: bool) -> tuple[Any, float, list[str]]:
    # arch optimises best with unit-variance data; the scale is undone on the parameters.
    scale = float(x.std()) or 1.0
    model = arch_model(
        x / scale, mean="Constant" if fit_drift else "Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(disp="off")
    return res, scale, [str(w.message) for w in caught]


def fit_garch(
    prices: pd.Series | pd.DataFrame,
    *,
    data_dt: float | None = None,
    fit_drift: bool = False,
    max_persistence: float = 0.999,
    condition_on_last: bool = False,
) -> Calibration:
    r"""Fit GARCH(1,1) with Student-t innovations per asset (``arch``), coupled by a Gaussian copula.

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Prices with a DatetimeIndex, one column per asset.
    data_dt : float, optional
        Sampling interval in seconds (becomes ``native_dt``); default the median spacing.
    fit_drift : bool, default False
        Fit a constant mean (``arch`` ``mean="Constant"``); by default the mean is 0 (``mean="Zero"``).
    max_persistence : float, default 0.999
        Upper bound on ``alpha + beta``. Crypto GARCH fits often sit on the integrated boundary
        (``alpha + beta = 1``), where the unconditional variance does not exist; there ``beta`` is lowered to
        ``max_persistence - alpha`` (a variance half-life of about 700 native periods at 0.999) and a
        :class:`CalibrationWarning` says so.
    condition_on_last : bool, default False
        Start the simulation at the one-step-ahead conditional volatility after the last observation (current
        conditions) instead of the unconditional vol.

    Returns
    -------
    Calibration
        :class:`~firesale.market.GarchT` and :class:`~firesale.market.spec.GarchSpec`; diagnostics, each a
        ``{asset: value}`` table: ``arch_params`` (omega in squared log-return units, alpha, beta, nu, mu), ``std_err`` (arch's, for
        alpha, beta, nu), ``loglik``, ``persistence``, ``half_life`` (native periods), ``capped``, ``converged``,
        ``next_vol`` (annualised one-step-ahead conditional vol), plus ``n_obs`` and ``data_dt``.

    Notes
    -----
    ``alpha``, ``beta`` and ``nu`` are ``arch``'s maximum-likelihood estimates (``arch_model(..., vol="GARCH",
    p=1, q=1, dist="t")``, bashtage/arch ``arch/univariate/volatility.py`` and ``distribution.py``); ``vol`` is the
    sample volatility of the returns (variance targeting, Engle and Mezrich 1996), which stays defined when the
    fit is integrated. The copula correlation is the sample correlation of the normal scores of ``arch``'s
    standardised residuals.
    """
    max_persistence = check_float(
        max_persistence, "max_persistence", "fit_garch", lo=0.0, hi=1.0, hi_open=True
    )
    rets, step = log_returns(prices, data_dt)
    x = rets.to_numpy()
    assets = tuple(rets.columns)
    years = step / SECONDS_PER_YEAR
    alpha, beta, nu, mu, vol, next_vol = ([] for _ in range(6))
    scores = np.empty_like(x)
    keys = ("arch_params", "std_err", "loglik", "persistence", "half_life", "capped", "converged", "next_vol")
    diag: dict[str, dict[str, Any]] = {k: {} for k in keys}
    for i, asset in enumerate(assets):
        res, scale, messages = _fit_one(x[:, i], fit_drift)
        p = res.params
        a, b, n = float(p["alpha[1]"]), float(p["beta[1]"]), float(p["nu"])
        m = float(p["mu"]) * scale if fit_drift else 0.0
        persistence = a + b
        capped = persistence > max_persistence
        if capped:
            a = min(a, max_persistence)
            b = max_persistence - a
            warnings.warn(
                f"fit_garch: alpha + beta = {persistence:.6f} for {asset!r} exceeds max_persistence="
                f"{max_persistence:g}; beta lowered to {b:.6f}.",
                CalibrationWarning,
                stacklevel=2,
            )
        converged = res.convergence_flag == 0 and not messages
        if not converged:
            warnings.warn(
                f"fit_garch: arch did not converge cleanly for {asset!r}: {'; '.join(messages) or res.convergence_flag}",
                CalibrationWarning,
                stacklevel=2,
            )
        resid = np.asarray(res.std_resid, dtype=np.float64)
        resid = np.where(np.isfinite(resid), resid, 0.0)
        scores[:, i] = normal_scores(stats.t.cdf(resid * math.sqrt(n / (n - 2.0)), n))
        forecast = float(np.asarray(res.forecast(horizon=1, reindex=False).variance)[-1, 0]) * scale**2
        alpha.append(a)
        beta.append(b)
        nu.append(n)
        mu.append(m)
        vol.append(math.sqrt(float(np.mean((x[:, i] - m) ** 2)) / years))
        next_vol.append(math.sqrt(forecast / years))
        std_err = res.std_err
        diag["arch_params"][asset] = {
            "omega": float(p["omega"]) * scale**2,
            "alpha": float(p["alpha[1]"]),
            "beta": float(p["beta[1]"]),
            "nu": n,
            "mu": m,
        }
        diag["std_err"][asset] = {
            k: float(std_err[f]) for k, f in (("alpha", "alpha[1]"), ("beta", "beta[1]"), ("nu", "nu"))
        }
        diag["loglik"][asset] = float(res.loglikelihood) - x.shape[0] * math.log(scale)
        diag["persistence"][asset] = persistence
        diag["half_life"][asset] = math.log(0.5) / math.log(a + b) if 0.0 < a + b < 1.0 else 0.0
        diag["capped"][asset] = capped
        diag["converged"][asset] = converged
        diag["next_vol"][asset] = next_vol[-1]
    corr = (
        np.corrcoef(scores, rowvar=False).reshape(len(assets), len(assets)) if len(assets) > 1 else np.eye(1)
    )
    initial = tuple(next_vol) if condition_on_last else None
    model = GarchT(
        assets=assets,
        vol=tuple(vol),
        alpha=tuple(alpha),
        beta=tuple(beta),
        nu=tuple(nu),
        native_dt=step,
        mu=tuple(mu),
        correlation=corr,
        initial_vol=initial,
    )
    spec = GarchSpec(
        vol=per_asset_table(assets, vol),
        alpha=per_asset_table(assets, alpha),
        beta=per_asset_table(assets, beta),
        nu=per_asset_table(assets, nu),
        native_dt=step,
        mu=per_asset_table(assets, mu),
        correlation=pairs_from_matrix(assets, corr),
        initial_vol=None if initial is None else per_asset_table(assets, initial),
    )
    diagnostics: dict[str, Any] = {"n_obs": int(x.shape[0]), "data_dt": step, **diag}
    return Calibration(model=model, spec=spec, diagnostics=diagnostics)
