"""Liquidity providers who leave as markets fall and volatility rises, and return slowly (evaporation).

For each venue the target share of starting liquidity is

.. math:: 1 - \\min\\big(w_{max},\\; s_{dd}\\, DD + s_{\\sigma} \\max(0, \\sigma - \\sigma_0)\\big)

where :math:`DD` is the drawdown of the venue's *most fallen* coin from its running peak (the volatile side of a
USDC/WETH pool, not its first coin), :math:`\\sigma` the realised daily volatility of its most volatile coin (an
exponentially weighted mean of squared log returns with half-life ``volatility_half_life``), :math:`\\sigma_0` the
volatility LPs tolerate. Withdrawals are immediate; returns close the gap with half-life ``return_half_life``.
Parameters are ``agents.evaporation`` with per-venue overrides in ``agents.evaporation.venues.NAME``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LiquidityProviders"]


class LiquidityProviders:
    """Evaporation for one batch of paths."""

    def __init__(
        self, spec, venue_names: list[str], coins: list[list[int]], market0: np.ndarray, dt: float
    ) -> None:  # type: ignore[no-untyped-def]
        self.params = [spec.for_venue(name) for name in venue_names]
        self.coins = coins
        self.dt = dt
        self.peak = market0.copy()
        self.last = market0.copy()
        # Per venue, an EWMA of each coin's squared log return per step.
        self.var = [np.zeros((market0.shape[0], len(c))) for c in coins]
        self.active = any(p.sensitivity > 0 or p.volatility_sensitivity > 0 for p in self.params)

    def act(self, venues, market: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        if not self.active:
            return
        np.maximum(self.peak, market, out=self.peak)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.log(market / self.last) ** 2
        self.last = market.copy()
        for k, p in enumerate(self.params):
            if p.sensitivity == 0 and p.volatility_sensitivity == 0:
                continue
            c = self.coins[k]
            drawdown = (1.0 - market[:, c] / self.peak[:, c]).max(axis=1)
            withdraw = p.sensitivity * drawdown
            if p.volatility_sensitivity > 0:
                lam = 0.5 ** (self.dt / p.volatility_half_life)
                self.var[k] = lam * self.var[k] + (1 - lam) * np.nan_to_num(r2[:, c])
                sigma_daily = np.sqrt(self.var[k].max(axis=1) * 86_400 / self.dt)
                withdraw = withdraw + p.volatility_sensitivity * np.maximum(
                    sigma_daily - p.volatility_threshold, 0
                )
            target = 1.0 - np.minimum(p.max_withdraw, withdraw)
            cur = venues.liq_factor[:, k]
            decay = 0.5 ** (self.dt / p.return_half_life)
            new = np.where(target < cur, target, target - (target - cur) * decay)
            venues.scale_liquidity(k, new)
