"""Liquidators: capital, gas and block space per step, shared by every protocol they serve.

Each step the liquidators have ``liquidator_capital_usd`` to buy and repay debt and ``max_liquidations_per_step``
liquidations of block space, across all protocols; a liquidation costs ``gas_per_liquidation`` gas at the step's
gas price, paid in the gas asset. With ``[agents.block_space]`` the block space is instead what the step's gas price
buys: the share of the step's mined gas priced below it (the replayed quantiles) times the gas of the step's blocks,
over ``gas_per_liquidation`` (:meth:`~firesale.protocols.base.LiquidatorCapacity.block_slots`). Whether a given liquidation is worth it is decided inside each protocol's round
with :class:`~firesale.protocols.base.LiquidatorCapacity` (the profit test on the venues' real quotes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from firesale.exceptions import ScenarioError
from firesale.protocols.base import LiquidatorCapacity

__all__ = ["Liquidators", "gas_asset_index", "gas_price_path", "gas_quantile_path"]


def gas_asset_index(spec, assets: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Index of the asset gas is paid in (``agents.gas_asset``, else ETH or WETH), -1 if none."""
    if spec.agents.gas_asset is not None:
        return assets.index(spec.agents.gas_asset)
    return next((assets.index(n) for n in ("ETH", "WETH") if n in assets), -1)


def gas_price_path(scenario, assets: list[str], exo: np.ndarray, dt: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Gas price in gwei per path and step, (n_paths, n_steps + 1).

    A replayed series (``agents.gas_series``) read at the replay's start time, or the base price scaled up by the
    gas asset's absolute log return over the step, per square-root day (congestion in volatile markets).
    """
    ag = scenario.spec.agents
    n_paths, n_t, _ = exo.shape
    if ag.gas_series is not None:
        from firesale.data import load_prices

        frame = load_prices(ag.gas_series, base_dir=scenario.base_dir)
        column = ag.gas_column or frame.columns[0]
        if column not in frame.columns:
            raise ScenarioError(
                f"{scenario.source}: agents.gas_column: must be a column of {ag.gas_series} "
                f"{list(frame.columns)}, got {column!r}"
            )
        return np.broadcast_to(_at_steps(scenario, frame[column], n_t, dt), (n_paths, n_t))
    gwei = np.full((n_paths, n_t), ag.gas_price_gwei)
    a = gas_asset_index(scenario.spec, assets)
    if ag.gas_volatility_sensitivity > 0 and a >= 0:
        r = np.abs(np.diff(np.log(exo[:, :, a]), axis=1)) / np.sqrt(dt / 86_400)
        gwei[:, 1:] *= np.exp(ag.gas_volatility_sensitivity * r)
    return gwei


def _at_steps(scenario, series: pd.Series, n_t: int, dt: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A replayed series at the run's steps, read from the replay's start time (else its first row): the last
    observation at or before each step (the first before the data)."""
    series = series.dropna()
    start = getattr(scenario.spec.market, "start", None)  # a replay's first instant, if it has one
    if start is None:
        t0 = series.index[0]
    else:
        t0 = pd.Timestamp(start)
        t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    times = t0 + pd.to_timedelta(np.arange(n_t) * dt, unit="s")
    pos = np.clip(series.index.searchsorted(times, side="right") - 1, 0, len(series) - 1)
    return series.to_numpy(dtype=float)[pos]


def gas_quantile_path(scenario, n_paths: int, n_t: int, dt: float) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    """The step's mined gas price quantiles in gwei, (n_paths, n_t, k), with ``[agents.block_space]`` (its
    ``quantiles`` columns of ``agents.gas_series``, read as :func:`gas_price_path` reads the price); else None."""
    ag = scenario.spec.agents
    if ag.block_space is None or ag.gas_series is None:
        return None
    from firesale.data import load_prices

    frame = load_prices(ag.gas_series, base_dir=scenario.base_dir)
    cols = [_at_steps(scenario, frame[c], n_t, dt) for c in ag.block_space.quantiles.values()]
    # the quantiles of one step never decrease with the share (a data point out of order is held at the last)
    q = np.maximum.accumulate(np.stack(cols, axis=-1), axis=-1)
    return np.broadcast_to(q, (n_paths, n_t, q.shape[-1]))


class Liquidators:
    """The liquidator population of one batch: its per-step capacity and the gas cost of a liquidation."""

    def __init__(self, agents_spec, gas_gwei: np.ndarray, gas_asset: int, quantiles: np.ndarray | None = None,  # type: ignore[no-untyped-def]
                 dt: float = 0.0) -> None:  # fmt: skip
        self.spec = agents_spec
        self.gas_gwei = gas_gwei
        self.gas_asset = gas_asset
        self.n_paths = gas_gwei.shape[0]
        self.quantiles = quantiles  # (n_paths, n_steps + 1, k) with [agents.block_space]
        bs = agents_spec.block_space
        if quantiles is not None and bs is not None:
            self.levels = np.array([float(k) / 100.0 for k in bs.quantiles])
            self.block_gas = bs.gas_limit * dt / bs.block_time

    def gas_usd(self, t: int, market: np.ndarray) -> np.ndarray:
        """USD cost of one liquidation at step ``t``, per path."""
        if self.gas_asset < 0 or self.spec.gas_per_liquidation == 0:
            return np.zeros(self.n_paths)
        return self.spec.gas_per_liquidation * self.gas_gwei[:, t] * 1e-9 * market[:, self.gas_asset]

    def capacity(self, t: int, market: np.ndarray) -> LiquidatorCapacity:
        """Fresh capacity for step ``t``: block space, capital, gas cost, profit floor; with
        ``[agents.searchers]``, the gas and block space of contested liquidations (:mod:`firesale.agents.searchers`)."""
        cap = LiquidatorCapacity(
            slots=np.full(self.n_paths, self.spec.max_liquidations_per_step, dtype=np.int64),
            capital_usd=np.full(self.n_paths, self.spec.liquidator_capital_usd),
            gas_usd=self.gas_usd(t, market),
            min_profit_usd=self.spec.min_profit_usd,
            gas_gwei=np.asarray(self.gas_gwei[:, t], dtype=float),
        )
        if self.quantiles is not None:  # [agents.block_space]: what the market gas price buys
            cap.gas_levels = self.levels
            cap.gas_quantiles = np.asarray(self.quantiles[:, t, :], dtype=float)
            cap.block_gas = self.block_gas
            cap.gas_per_action = float(self.spec.gas_per_liquidation)
            cap.slots = cap.block_slots(np.asarray(self.gas_gwei[:, t], dtype=float))
        if self.spec.searchers is None:
            return cap
        from firesale.agents.searchers import contest

        return contest(self.spec.searchers, cap)

    def metrics(self, metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-path figures of the liquidators beyond the accounting's: with ``[agents.searchers]``, the priority
        fees the contests paid and ``liquidator_profit_usd`` net of them; none otherwise."""
        if self.spec.searchers is None:
            return {}
        from firesale.agents.searchers import priority_fees

        return priority_fees(metrics, self.spec.min_profit_usd)
