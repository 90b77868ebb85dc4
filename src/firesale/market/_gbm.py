"""Correlated geometric Brownian motion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firesale.market._base import SECONDS_PER_YEAR, PriceModel, relatives_from_log_increments
from firesale.market._validation import check_assets, check_correlation, correlation_factor, per_asset

__all__ = ["GBM"]


@dataclass(frozen=True)
class GBM(PriceModel):
    r"""Correlated geometric Brownian motion with constant annualised volatility and drift.

    Parameters
    ----------
    assets : sequence of str
        Asset names.
    vol : float or sequence of float
        Annualised volatility per asset (a float applies to every asset), > 0. A year is 365 days because
        crypto trades continuously.
    drift : float or sequence of float, default 0.0
        Annualised arithmetic drift :math:`\mu` per asset, so that :math:`E[S_t / S_0] = e^{\mu t}`; 0 makes
        each price a martingale.
    correlation : array_like of shape (n_assets, n_assets), optional
        Correlation of the Brownian motions; symmetric, unit diagonal, positive semi-definite. Default identity.

    Notes
    -----
    Exact discretisation on a step of :math:`\Delta = dt / (365 \cdot 86400)` years:

    .. math:: \ln \frac{S_{t+\Delta}}{S_t} = (\mu - \tfrac12 \sigma^2) \Delta + \sigma \sqrt{\Delta}\, (A z)

    with :math:`z \sim N(0, I)` and :math:`A A^\top` the correlation matrix (Cholesky, or the symmetric square
    root when the matrix is singular). Draws one ``standard_normal((n_paths, n_steps, n_assets))``.

    Examples
    --------
    >>> import numpy as np
    >>> m = GBM(assets=("WETH", "WBTC"), vol=(0.8, 0.65), correlation=[[1, 0.85], [0.85, 1]])
    >>> m.simulate(4, 10, 3600.0, np.random.default_rng(0)).shape
    (4, 11, 2)
    """

    assets: tuple[str, ...]
    vol: tuple[float, ...] | float
    drift: tuple[float, ...] | float = 0.0
    correlation: Any = None
    _factor: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        assets = check_assets(self.assets, owner)
        object.__setattr__(self, "assets", assets)
        object.__setattr__(self, "vol", per_asset(self.vol, "vol", owner, assets, lo=0.0, lo_open=True))
        object.__setattr__(self, "drift", per_asset(self.drift, "drift", owner, assets))
        corr = check_correlation(self.correlation, "correlation", owner, len(assets))
        object.__setattr__(self, "correlation", corr)
        object.__setattr__(self, "_factor", correlation_factor(corr))

    def _simulate(self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((n_paths, n_steps, self.n_assets))
        return relatives_from_log_increments(diffusion_increments(self.vol, self.drift, self._factor, z, dt))


def diffusion_increments(vol: Any, drift: Any, factor: np.ndarray, z: np.ndarray, dt: float) -> np.ndarray:
    """Exact GBM log-returns over ``dt`` seconds from independent standard normals ``z`` (..., n_assets)."""
    years = dt / SECONDS_PER_YEAR
    v = np.asarray(vol)
    return (np.asarray(drift) - 0.5 * v**2) * years + v * np.sqrt(years) * (z @ factor.T)
