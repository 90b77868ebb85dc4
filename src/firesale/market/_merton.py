"""Merton jump-diffusion: correlated GBM plus compound-Poisson log-normal jumps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firesale.market._base import SECONDS_PER_YEAR, PriceModel, relatives_from_log_increments
from firesale.market._gbm import diffusion_increments
from firesale.market._validation import (
    check_assets,
    check_correlation,
    correlation_factor,
    fail,
    per_asset,
)

__all__ = ["MertonJump"]


@dataclass(frozen=True)
class MertonJump(PriceModel):
    r"""Merton (1976) jump-diffusion on several assets, with market-wide (common) or per-asset jumps.

    Parameters
    ----------
    assets : sequence of str
        Asset names.
    vol : float or sequence of float
        Annualised diffusion volatility per asset, > 0.
    jump_intensity : float or sequence of float
        Expected number of jumps per year (365 days), >= 0. With ``common_jumps`` it must be the same for every
        asset (pass a float).
    jump_mean : float or sequence of float
        Mean :math:`m` of the log jump size per asset (negative for crashes).
    jump_std : float or sequence of float
        Standard deviation :math:`s` of the log jump size per asset, >= 0.
    drift : float or sequence of float, default 0.0
        Annualised expected return :math:`\mu`: the diffusion drift is compensated for the jumps so that
        :math:`E[S_t / S_0] = e^{\mu t}` whatever the jump parameters.
    correlation : array_like of shape (n_assets, n_assets), optional
        Correlation of the diffusion parts; default identity.
    common_jumps : bool, default True
        True: jumps are market-wide events. One Poisson process drives every asset and, at each event, every
        asset's log jump is :math:`m_i + s_i \varepsilon` with the *same* standard normal :math:`\varepsilon`
        (a crash hits all assets together, scaled per asset; an asset with ``jump_mean = jump_std = 0`` does not
        jump). False: each asset has its own independent Poisson process and independent jump sizes.

    Notes
    -----
    Over a step of :math:`\Delta` years, with :math:`k_i = e^{m_i + s_i^2/2} - 1` and
    :math:`N \sim \mathrm{Poisson}(\lambda \Delta)` jumps,

    .. math::
        \ln \frac{S_{t+\Delta}}{S_t} = (\mu - \lambda k - \tfrac12 \sigma^2)\Delta + \sigma\sqrt{\Delta}\,(A z)
            + N m + s \sqrt{N}\, \eta

    which is exact because the sum of :math:`N` independent :math:`N(m, s^2)` jumps is
    :math:`N(Nm, Ns^2)`. Its variance is :math:`\sigma^2\Delta + \lambda\Delta(m^2 + s^2)`. Draws, in order:
    ``z`` (normals, (n_paths, n_steps, n_assets)), ``N`` (Poisson) and ``eta`` (normals), each of shape
    (n_paths, n_steps, 1) with common jumps or (n_paths, n_steps, n_assets) otherwise.

    References
    ----------
    R. C. Merton, "Option pricing when underlying stock returns are discontinuous", Journal of Financial
    Economics 3 (1976) 125-144.
    """

    assets: tuple[str, ...]
    vol: tuple[float, ...] | float
    jump_intensity: tuple[float, ...] | float
    jump_mean: tuple[float, ...] | float
    jump_std: tuple[float, ...] | float
    drift: tuple[float, ...] | float = 0.0
    correlation: Any = None
    common_jumps: bool = True
    _factor: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        assets = check_assets(self.assets, owner)
        set_ = object.__setattr__
        set_(self, "assets", assets)
        set_(self, "vol", per_asset(self.vol, "vol", owner, assets, lo=0.0, lo_open=True))
        set_(self, "jump_intensity", per_asset(self.jump_intensity, "jump_intensity", owner, assets, lo=0.0))
        set_(self, "jump_mean", per_asset(self.jump_mean, "jump_mean", owner, assets))
        set_(self, "jump_std", per_asset(self.jump_std, "jump_std", owner, assets, lo=0.0))
        set_(self, "drift", per_asset(self.drift, "drift", owner, assets))
        if not isinstance(self.common_jumps, bool):
            raise fail("common_jumps", owner, "a bool", self.common_jumps)
        if self.common_jumps and len(set(self.jump_intensity)) > 1:  # type: ignore[arg-type]
            raise fail(
                "jump_intensity",
                owner,
                "the same for every asset when common_jumps is True (one market-wide Poisson process)",
                self.jump_intensity,
            )
        corr = check_correlation(self.correlation, "correlation", owner, len(assets))
        set_(self, "correlation", corr)
        set_(self, "_factor", correlation_factor(corr))

    def _simulate(self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator) -> np.ndarray:
        years = dt / SECONDS_PER_YEAR
        lam = np.asarray(self.jump_intensity)
        m = np.asarray(self.jump_mean)
        s = np.asarray(self.jump_std)
        compensated = tuple(np.asarray(self.drift) - lam * np.expm1(m + 0.5 * s**2))
        z = rng.standard_normal((n_paths, n_steps, self.n_assets))
        log_ret = diffusion_increments(self.vol, compensated, self._factor, z, dt)
        if self.common_jumps:
            n_jumps = rng.poisson(lam[0] * years, size=(n_paths, n_steps, 1))
            eta = rng.standard_normal((n_paths, n_steps, 1))
        else:
            n_jumps = rng.poisson(lam * years, size=(n_paths, n_steps, self.n_assets))
            eta = rng.standard_normal((n_paths, n_steps, self.n_assets))
        log_ret += n_jumps * m + s * np.sqrt(n_jumps) * eta
        return relatives_from_log_increments(log_ret)
