"""Two-regime (calm / crisis) Markov-switching correlated GBM."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firesale.market._base import SECONDS_PER_DAY, PriceModel, relatives_from_log_increments
from firesale.market._gbm import diffusion_increments
from firesale.market._validation import (
    check_assets,
    check_choice,
    check_correlation,
    check_float,
    check_int,
    check_rng,
    correlation_factor,
    fail,
    per_asset,
)

__all__ = ["RegimeSwitching", "step_transition_probabilities"]

_INITIAL = ("calm", "crisis", "stationary")


def step_transition_probabilities(
    p_calm_to_crisis: float, p_crisis_to_calm: float, dt: float
) -> tuple[float, float]:
    r"""Convert daily switching probabilities to a step of ``dt`` seconds.

    The daily matrix :math:`P = \begin{pmatrix} 1-a & a \\ b & 1-b \end{pmatrix}` has eigenvalues 1 and
    :math:`\lambda = 1 - a - b` and stationary law :math:`\pi = (b, a) / (a + b)`; its power for a fraction
    :math:`\tau = dt / 86400` of a day is :math:`P^\tau = \Pi + \lambda^\tau (I - \Pi)`, so

    .. math:: a_\tau = \pi_1 (1 - \lambda^\tau), \qquad b_\tau = \pi_0 (1 - \lambda^\tau).

    This is the transition matrix over ``dt`` of the continuous-time chain whose one-day matrix is :math:`P` (it
    exists because :math:`\lambda > 0`), so :math:`86400 / dt` steps compound back to :math:`P` exactly.

    Returns
    -------
    (a_step, b_step) : tuple of float
        Calm-to-crisis and crisis-to-calm probabilities per step.
    """
    a, b = p_calm_to_crisis, p_crisis_to_calm
    if a + b == 0.0:
        return 0.0, 0.0
    decay = (1.0 - a - b) ** (dt / SECONDS_PER_DAY)
    return a / (a + b) * (1.0 - decay), b / (a + b) * (1.0 - decay)


@dataclass(frozen=True)
class RegimeSwitching(PriceModel):
    r"""Correlated GBM whose volatilities, drifts and correlation switch between a calm and a crisis regime.

    One regime chain per path is shared by all assets (a crisis is market-wide).

    Parameters
    ----------
    assets : sequence of str
        Asset names.
    vol_calm, vol_crisis : float or sequence of float
        Annualised volatility per asset in each regime, > 0. A crisis normally has the larger vols; this is not
        enforced so that fitted parameters (where, say, a stablecoin is calmer in a crisis) are accepted.
    p_calm_to_crisis, p_crisis_to_calm : float
        Probability per day of leaving each regime, in [0, 1) with sum < 1 (the chain must have a daily
        generator; see :func:`step_transition_probabilities`). The long-run share of time in crisis is
        ``p_calm_to_crisis / (p_calm_to_crisis + p_crisis_to_calm)``.
    drift_calm, drift_crisis : float or sequence of float, default 0.0
        Annualised arithmetic drift per asset in each regime.
    correlation_calm : array_like of shape (n_assets, n_assets), optional
        Correlation in the calm regime; default identity.
    correlation_crisis : array_like of shape (n_assets, n_assets), optional
        Correlation in the crisis regime, usually closer to 1 than the calm one (contagion); default
        ``correlation_calm``.
    initial_regime : {"stationary", "calm", "crisis"}, default "stationary"
        Regime of the first step: drawn from the stationary law, or fixed.

    Notes
    -----
    The regime :math:`s_k` of step ``k`` governs the return over that step, which is the exact GBM increment of
    that regime's parameters (see :class:`firesale.market.GBM`). :math:`s_{k+1}` follows :math:`s_k` with the
    per-step probabilities of :func:`step_transition_probabilities`, so the chain is the same continuous-time chain
    at every step size. Draws, in order: ``uniform((n_paths, n_steps))`` for the chain (the first column draws the
    initial regime when it is stationary), then ``standard_normal((n_paths, n_steps, n_assets))``.

    References
    ----------
    J. D. Hamilton, "A new approach to the economic analysis of nonstationary time series and the business cycle",
    Econometrica 57 (1989) 357-384. A. Ang and G. Bekaert, "International asset allocation with regime shifts",
    Review of Financial Studies 15 (2002) 1137-1187 (higher correlations in the bear regime).
    """

    assets: tuple[str, ...]
    vol_calm: tuple[float, ...] | float
    vol_crisis: tuple[float, ...] | float
    p_calm_to_crisis: float
    p_crisis_to_calm: float
    drift_calm: tuple[float, ...] | float = 0.0
    drift_crisis: tuple[float, ...] | float = 0.0
    correlation_calm: Any = None
    correlation_crisis: Any = None
    initial_regime: str = "stationary"
    _factors: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        set_ = object.__setattr__
        assets = check_assets(self.assets, owner)
        set_(self, "assets", assets)
        for name in ("vol_calm", "vol_crisis"):
            set_(self, name, per_asset(getattr(self, name), name, owner, assets, lo=0.0, lo_open=True))
        for name in ("drift_calm", "drift_crisis"):
            set_(self, name, per_asset(getattr(self, name), name, owner, assets))
        a = check_float(self.p_calm_to_crisis, "p_calm_to_crisis", owner, lo=0.0, hi=1.0, hi_open=True)
        b = check_float(self.p_crisis_to_calm, "p_crisis_to_calm", owner, lo=0.0, hi=1.0, hi_open=True)
        if a + b >= 1.0:
            raise fail(
                "p_crisis_to_calm",
                owner,
                f"< 1 - p_calm_to_crisis = {1.0 - a:g} (a daily chain with p_calm_to_crisis + p_crisis_to_calm >= 1 "
                "has no generator, so it cannot be converted to shorter steps)",
                b,
            )
        set_(self, "p_calm_to_crisis", a)
        set_(self, "p_crisis_to_calm", b)
        calm = check_correlation(self.correlation_calm, "correlation_calm", owner, len(assets))
        crisis_in = calm if self.correlation_crisis is None else self.correlation_crisis
        crisis = check_correlation(crisis_in, "correlation_crisis", owner, len(assets))
        set_(self, "correlation_calm", calm)
        set_(self, "correlation_crisis", crisis)
        set_(self, "initial_regime", check_choice(self.initial_regime, "initial_regime", owner, _INITIAL))
        if self.initial_regime == "stationary" and a + b == 0.0:
            raise fail(
                "initial_regime",
                owner,
                "'calm' or 'crisis' when both switching probabilities are 0 (no stationary law)",
                self.initial_regime,
            )
        set_(self, "_factors", (correlation_factor(calm), correlation_factor(crisis)))

    @property
    def stationary_crisis_probability(self) -> float:
        """Long-run share of time in the crisis regime, ``a / (a + b)`` (NaN if both are 0)."""
        total = self.p_calm_to_crisis + self.p_crisis_to_calm
        return self.p_calm_to_crisis / total if total > 0.0 else float("nan")

    def simulate_regimes(
        self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`simulate`, also returning the regime of each step.

        Returns
        -------
        relatives : ndarray of shape (n_paths, n_steps + 1, n_assets)
        crisis : ndarray of bool, shape (n_paths, n_steps)
            True where step ``k`` (from ``k * dt`` to ``(k + 1) * dt``) is in the crisis regime.
        """
        owner = f"{type(self).__name__}.simulate_regimes"
        n_paths = check_int(n_paths, "n_paths", owner, lo=1)
        n_steps = check_int(n_steps, "n_steps", owner, lo=1)
        dt = check_float(dt, "dt", owner, lo=0.0, lo_open=True)
        check_rng(rng, owner)
        return self._simulate_regimes(n_paths, n_steps, dt, rng)

    def _simulate(self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator) -> np.ndarray:
        return self._simulate_regimes(n_paths, n_steps, dt, rng)[0]

    def _simulate_regimes(
        self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        a_step, b_step = step_transition_probabilities(self.p_calm_to_crisis, self.p_crisis_to_calm, dt)
        u = rng.random((n_paths, n_steps))
        crisis = np.empty((n_paths, n_steps), dtype=bool)
        if self.initial_regime == "stationary":
            crisis[:, 0] = u[:, 0] < self.stationary_crisis_probability
        else:
            crisis[:, 0] = self.initial_regime == "crisis"
        for k in range(1, n_steps):  # a Markov chain is sequential in time; vectorized over paths
            crisis[:, k] = np.where(crisis[:, k - 1], u[:, k] >= b_step, u[:, k] < a_step)
        z = rng.standard_normal((n_paths, n_steps, self.n_assets))
        calm = diffusion_increments(self.vol_calm, self.drift_calm, self._factors[0], z, dt)
        hot = diffusion_increments(self.vol_crisis, self.drift_crisis, self._factors[1], z, dt)
        return relatives_from_log_increments(np.where(crisis[:, :, None], hot, calm)), crisis
