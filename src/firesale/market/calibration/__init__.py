"""Fit the price models of :mod:`firesale.market` to price data.

Every ``fit_*`` function takes prices as a pandas Series or DataFrame (DatetimeIndex, one column per asset; the
loaders of ``firesale.data`` return exactly that), turns them into log-returns on a regular grid with
:func:`firesale.market.log_returns`, and returns a :class:`Calibration`: the fitted model, the matching
``[market]`` spec (``calibration.to_toml()`` writes it) and diagnostics. Drifts are 0 unless ``fit_drift=True``:
a stress model should not bank on the sample's trend.

==============================  =================================================================================
:func:`fit_gbm`                 annual vol, drift, correlation (moments)
:func:`fit_student_t`           i.i.d. Student-t returns (MLE with scipy), Gaussian copula
:func:`fit_merton`              jump intensity and size (MLE of the Poisson mixture)
:func:`fit_garch`               GARCH(1,1)-t with ``arch``, Gaussian copula on the standardised residuals
:func:`fit_regime`              calm / crisis vols, correlations and switching probabilities (2-state HMM, EM)
:func:`fit_bootstrap`           block bootstrap with the Politis-White block length
:func:`tail_underestimation`    how much a normal model understates a tail loss
==============================  =================================================================================
"""

from __future__ import annotations

from firesale.market.calibration._bootstrap import fit_bootstrap, optimal_block_length
from firesale.market.calibration._garch import fit_garch
from firesale.market.calibration._hmm import GaussianHMM, fit_gaussian_hmm, fit_regime
from firesale.market.calibration._merton import MertonStepFit, fit_merton, fit_merton_returns
from firesale.market.calibration._result import Calibration, CalibrationWarning
from firesale.market.calibration._student import StudentTFit, fit_gbm, fit_standardized_t, fit_student_t
from firesale.market.calibration._tail import TailComparison, tail_underestimation
from firesale.market.spec import to_toml

__all__ = [
    "Calibration",
    "CalibrationWarning",
    "GaussianHMM",
    "MertonStepFit",
    "StudentTFit",
    "TailComparison",
    "fit_bootstrap",
    "fit_garch",
    "fit_gaussian_hmm",
    "fit_gbm",
    "fit_merton",
    "fit_merton_returns",
    "fit_regime",
    "fit_standardized_t",
    "fit_student_t",
    "optimal_block_length",
    "tail_underestimation",
    "to_toml",
]
