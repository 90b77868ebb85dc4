"""How much a normal model understates a tail loss, against fat-tailed fits of the same data."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from firesale.market._returns import log_returns
from firesale.market._validation import check_float, check_int, fail
from firesale.market.calibration._garch import fit_garch
from firesale.market.calibration._result import CalibrationWarning
from firesale.market.calibration._student import fit_standardized_t

__all__ = ["TailComparison", "tail_underestimation"]


@dataclass(frozen=True)
class TailComparison:
    """Quantile losses of one asset over one horizon under three models and in the data.

    Losses are fractions of the position's value lost over ``horizon`` at confidence ``q``:
    :math:`1 - e^{r_{1-q}}` with :math:`r_{1-q}` the :math:`1-q` quantile of the horizon log-return.

    Attributes
    ----------
    q : float
        Confidence level.
    horizon_seconds : float
        Horizon of the loss.
    n_obs : int
        Number of non-overlapping horizon returns in the sample.
    normal_loss, student_t_loss, garch_t_loss, empirical_loss : float
        Loss under the fitted normal, the fitted i.i.d. Student-t, the fitted GARCH(1,1)-t (stationary law, by
        simulation), and the sample quantile.
    nu : float
        Degrees of freedom of the Student-t fit.
    garch_persistence_capped : bool
        Whether the GARCH fit hit ``max_persistence`` (see :func:`fit_garch`).
    """

    q: float
    horizon_seconds: float
    n_obs: int
    normal_loss: float
    student_t_loss: float
    garch_t_loss: float
    empirical_loss: float
    nu: float
    garch_persistence_capped: bool

    @property
    def underestimation(self) -> float:
        """``student_t_loss / normal_loss - 1``: how much larger the fat-tailed loss is, relative to the normal."""
        return self.student_t_loss / self.normal_loss - 1.0

    @property
    def garch_underestimation(self) -> float:
        """``garch_t_loss / normal_loss - 1``."""
        return self.garch_t_loss / self.normal_loss - 1.0

    def as_dict(self) -> dict[str, Any]:
        """All fields and both ratios, for reports."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["underestimation"] = self.underestimation
        out["garch_underestimation"] = self.garch_underestimation
        return out


def _horizon_seconds(horizon: Any) -> float:
    rule = "a number of seconds or a pandas Timedelta string such as '1D' or '4h'"
    if isinstance(horizon, bool):
        raise fail("horizon", "tail_underestimation", rule, horizon)
    if isinstance(horizon, int | float | np.integer | np.floating):
        # A bare number is seconds, as every duration in firesale (pandas would read an int as nanoseconds).
        seconds = float(horizon)
        if not math.isfinite(seconds):
            raise fail("horizon", "tail_underestimation", "a finite positive duration", horizon)
    else:
        try:
            seconds = pd.Timedelta(horizon).total_seconds()
        except (ValueError, TypeError) as exc:
            raise fail("horizon", "tail_underestimation", rule, horizon) from exc
    if not seconds > 0:
        raise fail("horizon", "tail_underestimation", "a positive duration", horizon)
    return seconds


def tail_underestimation(
    prices: pd.Series | pd.DataFrame,
    q: float = 0.999,
    horizon: float | str | pd.Timedelta = "1D",
    *,
    seed: int = 0,
    n_paths: int = 50,
    n_steps: int = 20_000,
    burn_in: int = 2_000,
) -> TailComparison:
    r"""Compare the ``q`` loss over ``horizon`` under a normal model and under fat-tailed fits.

    Parameters
    ----------
    prices : pandas.Series or single-column pandas.DataFrame
        Prices of one asset with a DatetimeIndex.
    q : float, default 0.999
        Confidence level, in (0.5, 1).
    horizon : float, str or pandas.Timedelta, default "1D"
        Loss horizon: a number is seconds (``86400`` is one day, as every duration in firesale), a string or
        Timedelta as pandas reads it. The prices are sampled every ``horizon`` (from the first observation,
        skipping gaps) and the non-overlapping horizon log-returns are what every model is fitted to.
    seed : int, default 0
        Seed of the GARCH-t simulation.
    n_paths, n_steps, burn_in : int
        GARCH-t simulation size: ``n_paths`` paths of ``n_steps`` horizon steps, the first ``burn_in`` of each
        dropped so the volatility has forgotten its start; the quantile is taken over the rest.

    Returns
    -------
    TailComparison

    Notes
    -----
    Normal: the 1 - q quantile of :math:`N(\bar r, s^2)`. Student-t: the quantile of the maximum-likelihood
    unit-variance t (:func:`fit_standardized_t`), :math:`loc + sd\sqrt{(\nu-2)/\nu}\,t_\nu^{-1}(1-q)`. GARCH-t:
    :func:`fit_garch` on the same horizon returns, simulated with :class:`~firesale.market.GarchT` and the sample
    quantile of the simulated horizon returns taken. All three models have the sample's location and spread, so the
    differences are the shape of the tail.
    """
    owner = "tail_underestimation"
    q = check_float(q, "q", owner, lo=0.5, hi=1.0, lo_open=True, hi_open=True)
    n_paths = check_int(n_paths, "n_paths", owner, lo=1)
    burn_in = check_int(burn_in, "burn_in", owner, lo=0)
    n_steps = check_int(n_steps, "n_steps", owner, lo=burn_in + 1)
    if isinstance(prices, pd.DataFrame) and prices.shape[1] != 1:
        raise fail("prices", owner, "a Series or a single-column DataFrame", f"<{prices.shape[1]} columns>")
    step = _horizon_seconds(horizon)
    rets, _ = log_returns(prices, step)
    x = rets.to_numpy()[:, 0]
    if x.size < 30:
        raise fail("prices", owner, "long enough for at least 30 horizon returns", f"<{x.size} returns>")
    p = 1.0 - q
    normal_r = float(x.mean() + x.std(ddof=1) * special.ndtri(p))
    fit = fit_standardized_t(x)
    t_r = fit.loc + fit.sd * math.sqrt((fit.nu - 2.0) / fit.nu) * float(special.stdtrit(fit.nu, p))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalibrationWarning)
        garch = fit_garch(prices, data_dt=step, fit_drift=True)
    capped = any(
        issubclass(w.category, CalibrationWarning) and "max_persistence" in str(w.message) for w in caught
    )
    for w in caught:
        if not (issubclass(w.category, CalibrationWarning) and "max_persistence" in str(w.message)):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    sims = garch.model.simulate(n_paths, n_steps, step, np.random.default_rng(seed))
    sim_r = np.diff(np.log(sims[:, burn_in:, 0]), axis=1).ravel()
    garch_r = float(np.quantile(sim_r, p))
    return TailComparison(
        q=q,
        horizon_seconds=step,
        n_obs=int(x.size),
        normal_loss=-math.expm1(normal_r),
        student_t_loss=-math.expm1(t_r),
        garch_t_loss=-math.expm1(garch_r),
        empirical_loss=-math.expm1(float(np.quantile(x, p))),
        nu=fit.nu,
        garch_persistence_capped=capped,
    )
