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
    heartbeats: Mapping[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """The indicator table of a run, from its recorded paths, each of shape (n_paths, n_steps + 1).

    Parameters
    ----------
    paths : mapping of str to ndarray
        ``SimulationResult.paths`` (or any arrays of one shape named as the engine records them, see Notes).
    dt : float
        Seconds per step.
    config, buffers, pegs
        As :func:`compute_indicators`.
    heartbeats : mapping of feed to seconds, optional
        How long each feed may go without an update (its heartbeat, an OSM hop): its staleness is then graded on
        the time beyond it, ``oracle_staleness:<feed> past heartbeat``. Feeds not named are graded on their age.

    Returns
    -------
    dict of column to ndarray of shape (n_paths, n_steps + 1)

    Notes
    -----
    What each recorded series (``simulation.record``) becomes:

    * ``"price"``: ``price_<asset>`` gives volatility, tails and correlation (``buffers``) and pegs (``pegs``);
    * ``"depth"``: each venue's depth against its start, ``liquidity:<venue>``;
    * ``"slippage"``: ``slippage_<size>_<asset>@<venue>``, the loss selling ``size`` USD there, graded at
      ``config.slippage_size_usd`` as ``slippage:<asset> on <venue>`` (exact at a recorded size; between two,
      interpolated linearly in log size, the slippage itself being increasing in the size);
    * ``"staleness"``: ``staleness_<feed>`` seconds since the feed wrote or changed its answer,
      ``oracle_staleness:<feed>``; ``"oracle_deviation"``: ``oracle_deviation_<feed>``,
      ``oracle_deviation:<feed>``;
    * ``"unserved"``: ``unserved_share``, accounts left liquidatable over them plus the step's liquidations,
      ``margin:accounts``;
    * ``"coverage"``: ``coverage_<protocol>``, the protocol's reserves (reserves, insurance, fees earned) over its
      bad debt (float32's largest value without bad debt), ``solvency:<protocol>``;
    * a lending market's own series (``"<protocol>.*"``): ``<protocol>.utilisation_<asset>`` is
      ``utilisation:<protocol> <asset>``; ``<protocol>.debt_within_<k>pct`` over ``<protocol>.debt_usd`` is
      ``near_liquidation:<protocol>`` for ``config.near_distance`` = k %;
    * ``"flags"``: whether depth fell below its failure fraction, liquidations were left unserved or an oracle was
      off, not the amounts; each flag becomes a failed grade of its dimension (``liquidity:engine flag`` 0 when
      flagged else 1; ``margin:engine flag`` and ``oracle_deviation:engine flag`` 1 when flagged else 0), unless
      the amounts of that dimension are recorded too (depth, unserved, oracle deviation), which replace it.
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
    has_depth = has_deviation = False
    slippage: dict[str, dict[float, np.ndarray]] = {}
    for key in paths:
        if key.startswith("depth_"):  # recorded with "depth": each venue's liquidity against its start
            has_depth = True
            out[f"liquidity:{key.removeprefix('depth_')}"] = ind.depth_ratio(
                np.asarray(paths[key], dtype=float)
            )
        elif key.startswith("slippage_"):
            _, size, where = key.split("_", 2)
            slippage.setdefault(where.replace("@", " on ", 1), {})[float(size)] = np.asarray(
                paths[key], float
            )
        elif key.startswith("staleness_"):
            feed = key.removeprefix("staleness_")
            age = np.asarray(paths[key], dtype=float)
            if heartbeats is not None and feed in heartbeats:
                beat = check_float(heartbeats[feed], f"heartbeats[{feed!r}]", owner, 0.0)
                out[f"oracle_staleness:{feed} past heartbeat"] = np.maximum(age - beat, 0.0)
            else:
                out[f"oracle_staleness:{feed}"] = age
        elif key.startswith("oracle_deviation_"):
            has_deviation = True
            out[f"oracle_deviation:{key.removeprefix('oracle_deviation_')}"] = np.asarray(paths[key], float)
        elif key == "unserved_share":
            out["margin:accounts"] = np.asarray(paths[key], dtype=float)
        elif key.startswith("coverage_"):  # recorded with "coverage": reserves over bad debt, per protocol
            out[f"solvency:{key.removeprefix('coverage_')}"] = np.asarray(paths[key], dtype=float)
        elif "." in key:
            protocol, _, series = key.partition(".")
            if series.startswith("utilisation_"):
                out[f"utilisation:{protocol} {series.removeprefix('utilisation_')}"] = np.asarray(
                    paths[key], dtype=float
                )
    for where, by_size in slippage.items():
        out[f"slippage:{where}"] = _at_size(by_size, config.slippage_size_usd, owner)
    near = f"debt_within_{round(100 * config.near_distance):d}pct"
    for key in paths:
        protocol, dot, series = key.partition(".")
        if dot and series == near and f"{protocol}.debt_usd" in paths:
            debt = np.asarray(paths[f"{protocol}.debt_usd"], dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(debt > 0, np.asarray(paths[key], dtype=float) / debt, 0.0)
            out[f"near_liquidation:{protocol}"] = share
    if "flag_liquidity" in paths and not has_depth:
        out["liquidity:engine flag"] = np.where(np.asarray(paths["flag_liquidity"]) > 0, 0.0, 1.0)
    if "flag_unclearable" in paths and "unserved_share" not in paths:
        out["margin:engine flag"] = np.where(np.asarray(paths["flag_unclearable"]) > 0, 1.0, 0.0)
    if "flag_oracle" in paths and not has_deviation:
        out["oracle_deviation:engine flag"] = np.where(np.asarray(paths["flag_oracle"]) > 0, 1.0, 0.0)
    if not out:
        raise fail("paths", owner, "holding prices of the given assets or the failure flags", sorted(paths))
    return out


def _at_size(by_size: Mapping[float, np.ndarray], size: float, owner: str) -> np.ndarray:
    """Slippage at ``size`` from the recorded sizes: exact at one, linear in log size between two."""
    if size in by_size:
        return by_size[size]
    sizes = sorted(by_size)
    if not sizes[0] < size < sizes[-1]:
        raise fail("slippage_size_usd", owner, f"a sale size within the recorded ones [{sizes[0]:g}, "
                   f"{sizes[-1]:g}] USD (or one of them)", size)  # fmt: skip
    hi = next(s for s in sizes if s > size)
    lo = max(s for s in sizes if s < size)
    w = (np.log(size) - np.log(lo)) / (np.log(hi) - np.log(lo))
    return (1.0 - w) * by_size[lo] + w * by_size[hi]
