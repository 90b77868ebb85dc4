"""Exogenous price processes, vectorized over Monte Carlo paths, and their calibration to data.

Every model is a frozen dataclass implementing :class:`PriceModel`: ``simulate(n_paths, n_steps, dt, rng)`` returns
price relatives of shape ``(n_paths, n_steps + 1, n_assets)`` starting at 1, with ``dt`` in seconds (one block,
12 s, to a day). Annualised parameters use a 365-day year.

===================  ===================================================================================
:class:`GBM`         correlated geometric Brownian motion
:class:`MertonJump`  GBM plus log-normal jumps, market-wide or per asset
:class:`GarchT`      GARCH(1,1) with Student-t innovations, Gaussian copula across assets
:class:`RegimeSwitching`  calm / crisis Markov regimes with their own vols and correlations
:class:`Shock`       deterministic drop, linear crash or V-shape (reverse stress)
:class:`Replay`      a historical path, resampled to the step
:class:`Bootstrap`   circular block bootstrap of historical returns
===================  ===================================================================================

The scenario file's ``[market]`` table is validated by :mod:`firesale.market.spec`; fits to data live in
:mod:`firesale.market.calibration`.
"""

from __future__ import annotations

from firesale.market._base import SECONDS_PER_DAY, SECONDS_PER_YEAR, PriceModel
from firesale.market._bootstrap import Bootstrap
from firesale.market._garch import GarchT
from firesale.market._gbm import GBM
from firesale.market._merton import MertonJump
from firesale.market._regime import RegimeSwitching, step_transition_probabilities
from firesale.market._replay import Replay
from firesale.market._returns import log_returns
from firesale.market._shock import Shock

__all__ = [
    "GBM",
    "SECONDS_PER_DAY",
    "SECONDS_PER_YEAR",
    "Bootstrap",
    "GarchT",
    "MertonJump",
    "PriceModel",
    "RegimeSwitching",
    "Replay",
    "Shock",
    "log_returns",
    "step_transition_probabilities",
]
