"""Build the classifier's indicator table from market data (frames indexed by time) or from a run's paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from firesale.monitor import indicators as ind
from firesale.monitor._checks import check_float, fail
from firesale.monitor.thresholds import ClassifierConfig

__all__ = ["compute_indicators", "path_indicators"]

_OWNER = "compute_indicators"


def _step_seconds(index: pd.Index) -> float:
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        raise fail(
            "prices", _OWNER, "indexed by a DatetimeIndex of at least two times", f"<{type(index).__name__}>"
        )
    return float(pd.Series(index).diff().median().total_seconds())


def _on(frame: Any, index: pd.Index, name: str) -> pd.DataFrame | None:
    if frame is None:
        return None
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if not isinstance(frame, pd.DataFrame):
        raise fail(name, _OWNER, "a pandas DataFrame or Series indexed by time", f"<{type(frame).__name__}>")
    return frame.reindex(index, method="ffill") if not frame.index.equals(index) else frame


def compute_indicators(
    prices: pd.DataFrame | None = None,
    *,
    config: ClassifierConfig | None = None,
    buffers: Mapping[str, float] | None = None,
    pegs: Mapping[str, float] | None = None,
    correlated: Sequence[str] | None = None,
    depth: pd.DataFrame | None = None,
    oracles: pd.DataFrame | None = None,
    unserved_usd: pd.DataFrame | None = None,
    liquidatable_usd: pd.DataFrame | None = None,
    debt_usd: pd.DataFrame | None = None,
    supply_usd: pd.DataFrame | None = None,
    reserves_usd: pd.Series | None = None,
    bad_debt_usd: pd.Series | None = None,
    near_liquidation: pd.Series | None = None,
    volatility: str = "realised",
    fit_until: Any = None,
) -> pd.DataFrame:
    """The indicator table of one protocol (or of the whole market) from tidy frames indexed by time.

    Parameters
    ----------
    prices : DataFrame, optional
        One column per asset (market prices); its index is the table's (the other inputs are forward-filled onto
        it). Needed by the volatility, tails, correlation, peg and oracle-deviation indicators.
    config : ClassifierConfig, optional
    buffers : mapping of asset to float, optional
        Liquidation buffer of each collateral asset (:func:`~firesale.monitor.indicators.liquidation_buffer`):
        the assets graded on volatility and tails.
    pegs : mapping of asset to float, optional
        Peg of each pegged or derived asset (1 for a USD stablecoin, 1 for stETH in ETH).
    correlated : sequence of str, optional
        Collateral assets whose return correlation is graded (default: the assets of ``buffers``; needs two).
    depth : DataFrame, optional
        Depth in USD per venue: liquidity (ratio to the first value) and slippage at ``config.slippage_size_usd``.
    oracles : DataFrame, optional
        Oracle answers, one column per asset of ``prices`` (deviation from it) or any feed (staleness and
        update frequency, inferred from changes of the answer).
    unserved_usd, liquidatable_usd : DataFrame, optional
        Per step and protocol or market: debt left unserved, and debt liquidatable (margin dimension).
    debt_usd, supply_usd : DataFrame, optional
        Borrowed and supplied per reserve (utilisation).
    reserves_usd, bad_debt_usd : Series, optional
        Reserves plus insurance, and bad debt (solvency).
    near_liquidation : Series, optional
        Share of debt within ``config.near_distance`` of liquidation per step (from
        :func:`~firesale.monitor.indicators.debt_near_liquidation` on position snapshots).
    volatility : {"realised", "garch"}, default "realised"
        Trailing realised volatility over ``config.vol_window`` steps, or the GARCH(1, 1)-t forecast fitted with
        ``arch`` on data up to ``fit_until``.
    fit_until : timestamp, optional
        Last time the GARCH fit may see (required with ``volatility="garch"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``"<dimension>:<label>"`` for :func:`~firesale.monitor.classify`, indexed by time.
    """
    config = config or ClassifierConfig()
    if volatility not in ("realised", "garch"):
        raise fail("volatility", _OWNER, "one of 'realised', 'garch'", volatility)
    if volatility == "garch" and fit_until is None:
        raise fail(
            "fit_until", _OWNER, "given with volatility='garch' (the fit must not see the evaluation)", None
        )
    frames = [
        f
        for f in (prices, depth, oracles, unserved_usd, debt_usd, reserves_usd, near_liquidation)
        if f is not None
    ]
    if not frames:
        raise fail("prices", _OWNER, "given, or another input frame", None)
    index = frames[0].index
    out: dict[str, pd.Series] = {}
    if prices is not None:
        if not isinstance(prices, pd.DataFrame):
            raise fail(
                "prices", _OWNER, "a pandas DataFrame (one column per asset)", f"<{type(prices).__name__}>"
            )
        dt = _step_seconds(index)
        h = config.horizon_s / dt
        for asset, b in (buffers or {}).items():
            if asset not in prices:
                raise fail("buffers", _OWNER, f"keyed by columns of 'prices' {list(prices.columns)}", asset)
            check_float(b, f"buffers[{asset!r}]", _OWNER, 0.0, 1.0, lo_open=True, hi_open=True)
            p = prices[asset]
            if volatility == "garch":
                sigma, _ = ind.garch_volatility(p, fit_until=fit_until)
            else:
                sigma = ind.realised_volatility(p, config.vol_window)
            out[f"volatility:{asset}"] = ind.volatility_cover(sigma, b, h, config.var_level)
            # The tail test judges the forecast made one step earlier against the return that followed.
            out[f"tails:{asset}"] = ind.tail_pvalue(
                ind.log_returns(p), sigma.shift(1), config.tail_window, config.var_level
            )
        for asset, peg in (pegs or {}).items():
            if asset not in prices:
                raise fail("pegs", _OWNER, f"keyed by columns of 'prices' {list(prices.columns)}", asset)
            out[f"peg:{asset}"] = ind.peg_deviation(prices[asset], peg)
        corr_assets = list(correlated) if correlated is not None else list(buffers or {})
        if len(corr_assets) >= 2:
            missing = [a for a in corr_assets if a not in prices]
            if missing:
                raise fail("correlated", _OWNER, f"columns of 'prices' {list(prices.columns)}", missing)
            c = ind.rolling_correlation(prices[corr_assets], config.corr_window)
            out[f"correlation:{', '.join(corr_assets)}"] = c["correlation_max"]
    d = _on(depth, index, "depth")
    if d is not None:
        for venue in d.columns:
            out[f"liquidity:{venue}"] = ind.depth_ratio(d[venue])
            out[f"slippage:{venue}"] = ind.slippage_at_size(d[venue], config.slippage_size_usd)
    o = _on(oracles, index, "oracles")
    if o is not None:
        for feed in o.columns:
            if prices is not None and feed in prices:
                out[f"oracle_deviation:{feed}"] = ind.oracle_deviation(o[feed], prices[feed])
            out[f"oracle_staleness:{feed}"] = ind.oracle_staleness(o[feed])
            out[f"oracle_frequency:{feed}"] = ind.update_frequency(o[feed], max(config.horizon_s, 3600.0))
    u, q = _on(unserved_usd, index, "unserved_usd"), _on(liquidatable_usd, index, "liquidatable_usd")
    if (u is None) != (q is None):
        raise fail("liquidatable_usd", _OWNER, "given together with 'unserved_usd'", None)
    if u is not None and q is not None:
        for col in u.columns:
            if col not in q:
                raise fail(
                    "liquidatable_usd", _OWNER, f"with the columns of 'unserved_usd' {list(u.columns)}", col
                )
            out[f"margin:{col}"] = ind.unclearable_share(u[col], q[col])
    du, su = _on(debt_usd, index, "debt_usd"), _on(supply_usd, index, "supply_usd")
    if du is not None and su is not None:
        for col in du.columns:
            if col in su:
                out[f"utilisation:{col}"] = ind.utilisation(du[col], su[col])
    res, bad = _on(reserves_usd, index, "reserves_usd"), _on(bad_debt_usd, index, "bad_debt_usd")
    if res is not None and bad is not None:
        out["solvency"] = ind.reserve_coverage(res.iloc[:, 0], bad.iloc[:, 0])
    n = _on(near_liquidation, index, "near_liquidation")
    if n is not None:
        out["near_liquidation"] = n.iloc[:, 0].astype(float)
    return pd.DataFrame(out, index=index)


def path_indicators(
    paths: Mapping[str, np.ndarray],
    dt: float,
    *,
    config: ClassifierConfig | None = None,
    buffers: Mapping[str, float] | None = None,
    pegs: Mapping[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """The indicator table of a run, from its recorded paths, each of shape (n_paths, n_steps + 1).

    Parameters
    ----------
    paths : mapping of str to ndarray
        ``SimulationResult.paths``: ``price_<asset>`` (with ``"price"`` in ``simulation.record``) and the flags
        ``flag_liquidity``, ``flag_unclearable``, ``flag_oracle`` (with ``"flags"``).
    dt : float
        Seconds per step.
    config, buffers, pegs
        As :func:`compute_indicators`.

    Returns
    -------
    dict of column to ndarray of shape (n_paths, n_steps + 1)

    Notes
    -----
    With ``"depth"`` recorded, each venue's depth against its start is the liquidity indicator ``liquidity:<venue>``.
    The flags say whether depth fell below its failure fraction, whether liquidations were left unserved and
    whether an oracle was off, not the amounts; each flag becomes a failed grade of its dimension
    (``liquidity:engine flag`` 0 when flagged else 1; ``margin:engine flag`` and ``oracle_deviation:engine flag``
    1 when flagged else 0). Reserve levels per step are not recorded yet.
    """
    config = config or ClassifierConfig()
    owner = "path_indicators"
    step = check_float(dt, "dt", owner, 0.0, lo_open=True)
    out: dict[str, np.ndarray] = {}
    h = config.horizon_s / step
    prices = {}
    for asset in {*(buffers or {}), *(pegs or {})}:
        key = f"price_{asset}"
        if key not in paths:
            raise fail(
                "paths", owner, f'recorded with {key!r} (add "price" to simulation.record)', sorted(paths)
            )
        prices[asset] = np.asarray(paths[key], dtype=float)
    for asset, b in (buffers or {}).items():
        sigma = ind.realised_volatility(prices[asset], config.vol_window)
        out[f"volatility:{asset}"] = ind.volatility_cover(sigma, b, h, config.var_level)
        prev = np.full_like(sigma, np.nan)
        prev[..., 1:] = sigma[..., :-1]
        out[f"tails:{asset}"] = ind.tail_pvalue(ind.log_returns(prices[asset]), prev, config.tail_window,
                                                config.var_level)  # fmt: skip
    for asset, peg in (pegs or {}).items():
        out[f"peg:{asset}"] = ind.peg_deviation(prices[asset], peg)
    if len(buffers or {}) >= 2:
        stack = np.stack([prices[a] for a in buffers or {}], axis=-1)
        _, mx = ind.rolling_correlation(stack, config.corr_window)
        out[f"correlation:{', '.join(buffers or {})}"] = mx
    for key in paths:
        if key.startswith("depth_"):  # recorded with "depth": each venue's liquidity against its start
            out[f"liquidity:{key.removeprefix('depth_')}"] = ind.depth_ratio(
                np.asarray(paths[key], dtype=float)
            )
    if "flag_liquidity" in paths:
        out["liquidity:engine flag"] = np.where(np.asarray(paths["flag_liquidity"]) > 0, 0.0, 1.0)
    if "flag_unclearable" in paths:
        out["margin:engine flag"] = np.where(np.asarray(paths["flag_unclearable"]) > 0, 1.0, 0.0)
    if "flag_oracle" in paths:
        out["oracle_deviation:engine flag"] = np.where(np.asarray(paths["flag_oracle"]) > 0, 1.0, 0.0)
    if not out:
        raise fail("paths", owner, "holding prices of the given assets or the failure flags", sorted(paths))
    return out
