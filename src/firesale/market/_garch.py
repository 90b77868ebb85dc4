"""GARCH(1,1) with Student-t innovations, correlated through a Gaussian copula."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from firesale.market._base import SECONDS_PER_DAY, SECONDS_PER_YEAR, PriceModel
from firesale.market._bridge import bridge_to_grid, native_periods
from firesale.market._validation import (
    check_assets,
    check_correlation,
    check_float,
    correlation_factor,
    fail,
    per_asset,
)

__all__ = ["GarchT", "standardized_t"]


def standardized_t(z: np.ndarray, nu: np.ndarray) -> np.ndarray:
    r"""Map standard normals to unit-variance Student-t draws by quantile transform (Gaussian copula).

    :math:`\varepsilon = F_\nu^{-1}(\Phi(z)) \sqrt{(\nu - 2)/\nu}`, computed on the lower tail and mirrored so that
    large :math:`|z|` keeps full precision. ``nu`` broadcasts against ``z`` (one value per asset on the last axis).
    """
    tail = np.maximum(special.ndtr(-np.abs(z)), np.finfo(np.float64).tiny)
    magnitude = -special.stdtrit(nu, tail)
    return np.sign(z) * magnitude * np.sqrt((nu - 2.0) / nu)


@dataclass(frozen=True)
class GarchT(PriceModel):
    r"""GARCH(1,1) with Student-t innovations per asset, parameterised by its unconditional annualised vol.

    Parameters
    ----------
    assets : sequence of str
        Asset names.
    vol : float or sequence of float
        Unconditional (long-run) annualised volatility per asset, > 0. It fixes
        :math:`\omega = \bar\sigma^2 (1 - \alpha - \beta)` with :math:`\bar\sigma^2 = \mathrm{vol}^2 h / \mathrm{year}`
        the unconditional variance of a native-period return (variance targeting).
    alpha, beta : float or sequence of float
        ARCH and GARCH coefficients per asset, >= 0 with :math:`\alpha + \beta < 1` (covariance stationarity).
        ``alpha = beta = 0`` gives i.i.d. Student-t returns.
    nu : float or sequence of float
        Degrees of freedom of the standardised Student-t innovations per asset, > 2.
    native_dt : float, default 86400.0
        The native period :math:`h` in seconds: the sampling interval the parameters refer to (the frequency of
        the data they were fitted on, e.g. 3600 for hourly fits).
    mu : float or sequence of float, default 0.0
        Constant mean log-return per native period (``mu`` of the ``arch`` package's ``ConstantMean``).
    correlation : array_like of shape (n_assets, n_assets), optional
        Correlation of the Gaussian copula that couples the innovations (and of the bridge noise); default identity.
    initial_vol : float or sequence of float, optional
        Annualised conditional volatility of the first native period (e.g. the last fitted conditional vol);
        default ``vol``.

    Notes
    -----
    On the native grid, per asset (Bollerslev 1986, with standardised Student-t innovations as in Bollerslev 1987):

    .. math::
        r_j = \mu + \sigma_j \varepsilon_j, \qquad
        \sigma_{j+1}^2 = \omega + \alpha (r_j - \mu)^2 + \beta \sigma_j^2

    This is the recursion of ``arch.univariate.GARCH`` (bashtage/arch, ``arch/univariate/volatility.py``) with
    ``p = q = 1``, in fractions rather than percent. The innovations :math:`\varepsilon_j` are unit-variance Student-t
    with each asset's :math:`\nu`, coupled by a Gaussian copula: correlated normals :math:`A z` are mapped through
    :math:`F_\nu^{-1}(\Phi(\cdot))`. Each marginal is therefore exactly standardised Student-t whatever the asset
    order, and the Spearman rank correlation of two innovations is :math:`(6/\pi)\arcsin(\rho/2)`.

    *Other step sizes.* The recursion always runs on the native grid; ``simulate`` then reads the log-price at
    multiples of ``dt`` (see :mod:`firesale.market._bridge`). For ``dt`` a multiple of ``native_dt`` the step
    returns are sums of native returns (temporal aggregation, exact). Grid points inside a native period lie on a
    Brownian bridge pinned to the native return with scale :math:`\sigma_j`, so each sub-step of length
    :math:`\delta h` has conditional variance :math:`\sigma_j^2 \delta` (the native variance is spread evenly over
    the period) and the native-period returns keep their exact GARCH-t law. Any ``dt`` works, including ones that
    do not divide ``native_dt`` (12 s to a day with hourly or daily parameters).

    Draws, in order: the copula normals ``(n_paths, n_periods, n_assets)``, then the bridge normals if needed.

    References
    ----------
    T. Bollerslev, "Generalized autoregressive conditional heteroskedasticity", Journal of Econometrics 31 (1986)
    307-327. T. Bollerslev, "A conditionally heteroskedastic time series model for speculative prices and rates of
    return", Review of Economics and Statistics 69 (1987) 542-547.
    """

    assets: tuple[str, ...]
    vol: tuple[float, ...] | float
    alpha: tuple[float, ...] | float
    beta: tuple[float, ...] | float
    nu: tuple[float, ...] | float
    native_dt: float = SECONDS_PER_DAY
    mu: tuple[float, ...] | float = 0.0
    correlation: Any = None
    initial_vol: tuple[float, ...] | float | None = None
    _factor: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        set_ = object.__setattr__
        assets = check_assets(self.assets, owner)
        set_(self, "assets", assets)
        set_(self, "vol", per_asset(self.vol, "vol", owner, assets, lo=0.0, lo_open=True))
        alpha = per_asset(self.alpha, "alpha", owner, assets, lo=0.0, hi=1.0, hi_open=True)
        set_(self, "alpha", alpha)
        beta = per_asset(self.beta, "beta", owner, assets, lo=0.0, hi=1.0, hi_open=True)
        for asset, a, b in zip(assets, alpha, beta, strict=True):
            if a + b >= 1.0:
                raise fail(
                    "beta",
                    owner,
                    f"< 1 - alpha = {1.0 - a:g} for asset {asset!r} (stationarity: alpha + beta < 1)",
                    b,
                )
        set_(self, "beta", beta)
        set_(self, "nu", per_asset(self.nu, "nu", owner, assets, lo=2.0, lo_open=True))
        set_(self, "native_dt", check_float(self.native_dt, "native_dt", owner, lo=0.0, lo_open=True))
        set_(self, "mu", per_asset(self.mu, "mu", owner, assets))
        if self.initial_vol is not None:
            set_(
                self,
                "initial_vol",
                per_asset(self.initial_vol, "initial_vol", owner, assets, lo=0.0, lo_open=True),
            )
        corr = check_correlation(self.correlation, "correlation", owner, len(assets))
        set_(self, "correlation", corr)
        set_(self, "_factor", correlation_factor(corr))

    @property
    def unconditional_variance(self) -> np.ndarray:
        """Unconditional variance of a native-period log-return per asset, :math:`\\omega / (1 - \\alpha - \\beta)`."""
        return np.asarray(self.vol) ** 2 * (self.native_dt / SECONDS_PER_YEAR)

    @property
    def omega(self) -> np.ndarray:
        """The GARCH constant :math:`\\omega` per asset, in squared native-period log-return units."""
        return self.unconditional_variance * (1.0 - np.asarray(self.alpha) - np.asarray(self.beta))

    def _simulate(self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator) -> np.ndarray:
        n_periods = native_periods(n_steps, dt, self.native_dt)
        nu = np.asarray(self.nu)
        alpha = np.asarray(self.alpha)
        beta = np.asarray(self.beta)
        mu = np.asarray(self.mu)
        omega = self.omega
        eps = standardized_t(rng.standard_normal((n_paths, n_periods, self.n_assets)) @ self._factor.T, nu)
        start = self.vol if self.initial_vol is None else self.initial_vol
        var = np.broadcast_to(
            np.asarray(start) ** 2 * (self.native_dt / SECONDS_PER_YEAR), (n_paths, self.n_assets)
        ).copy()
        sd = np.empty_like(eps)
        for j in range(n_periods):  # the variance recursion is sequential in time, vectorized over paths
            sd[:, j, :] = np.sqrt(var)
            shock = sd[:, j, :] * eps[:, j, :]
            var = omega + alpha * shock**2 + beta * var
        native = mu + sd * eps
        return np.exp(bridge_to_grid(native, sd, self.native_dt, dt, n_steps, self._factor, rng))
