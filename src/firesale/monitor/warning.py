"""Early warning, validated on the shipped replays: lead times before losses, false alarms in calm periods.

For each event the classifier runs over the replay's real prices (indicators are trailing, so a value at t uses
nothing after t). Its thresholds are set on the data **before** the event (:func:`calibrate_config`): each band is
loosened, never tightened, so that the pre-event data would have been stressed at most ``calm_rate`` of the time.
The loss start is fixed by a rule on prices that the classifier does not use (:class:`Event`): the first time the
event asset has moved against its holders by ``loss_move``. The lead time is the loss start minus the first time
after the calibration window that the classifier said stressed (and failure).

The false-alarm rate comes from the calm stretches of the long histories: each year is classified with thresholds
set on the year before, and a step counts as calm when no loss rule fires within a week either side of it.

Only prices are shipped for these events: depth, oracle answers and positions per step are not, so the graded
dimensions are volatility against a liquidation buffer, tails, correlation and pegs. See ``docs/monitor.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from firesale.monitor._assemble import compute_indicators
from firesale.monitor._checks import check_float, fail
from firesale.monitor.classifier import FAILURE, STRESSED, classify
from firesale.monitor.thresholds import DIMENSIONS, Band, ClassifierConfig

__all__ = ["EVENTS", "Event", "calibrate_config", "early_warning", "false_alarms", "loss_start"]

_BUFFER = 0.10  # a position opened 10 % from its liquidation price (see docs/monitor.md)


@dataclass(frozen=True)
class Event:
    """A replayed market event and the rule that says when its losses started.

    Attributes
    ----------
    name : str
    dataset : str
        Shipped dataset (``firesale.data``) with the event's prices.
    columns : mapping of dataset column to the name used here
    calibration_end : str
        Last time (UTC) of the pre-event data the thresholds are set on; warnings count after it.
    loss_asset : str
    loss_kind : {"fall", "rise", "peg"}
        ``fall``/``rise``: the price against its highest/lowest of the previous ``lookback``; ``peg``: against
        ``peg``.
    loss_move : float
        The adverse move that marks the loss start.
    buffers, pegs : mapping
        The assets graded on volatility/tails and on their peg.
    history : tuple of (dataset, column, name), optional
        Earlier data prepended as warm-up and calibration history (hourly ETH before Black Thursday).
    why : str
        Where the loss rule comes from.
    """

    name: str
    dataset: str
    columns: Mapping[str, str]
    calibration_end: str
    loss_asset: str
    loss_kind: str
    loss_move: float
    buffers: Mapping[str, float] = field(default_factory=dict)
    pegs: Mapping[str, float] = field(default_factory=dict)
    history: tuple[str, str, str] | None = None
    resample: str | None = None
    lookback: str = "7D"
    why: str = ""

    def prices(self) -> pd.DataFrame:
        """The event's prices (with the history prepended), columns renamed."""
        from firesale.data import load_prices

        frame = load_prices(f"firesale-data:{self.dataset}", columns=list(self.columns)).rename(
            columns=self.columns
        )
        if self.resample:
            frame = frame[frame.index == frame.index.floor(self.resample)]
        if self.history is not None:
            dataset, column, name = self.history
            hist = load_prices(f"firesale-data:{dataset}", columns=[column]).rename(columns={column: name})
            hist = hist.loc[pd.Timestamp(self.calibration_end) - pd.Timedelta("400D") : self.calibration_end]
            frame = pd.concat([hist, frame.loc[frame.index > hist.index[-1]]])
        return frame


EVENTS: dict[str, Event] = {
    e.name: e
    for e in (
        Event(
            "black-thursday-2020-03",
            "eth_2020-03-12_13",
            {"ETH_open": "ETH"},
            "2020-03-11T23:00:00Z",
            "ETH",
            "fall",
            1 / 3,
            buffers={"ETH": _BUFFER},
            history=("eth_btc_1h_2019-2024", "ETH", "ETH"),
            resample="1h",
            why="a Maker ETH-A vault at its 150 % liquidation ratio when the fall began is under water after a "
            "one-third fall (1 - 1/1.5)",
        ),
        Event(
            "terra-2022-05",
            "luna_ust_5min_2022-05",
            {"LUNA_USDT": "LUNA", "UST_USDT": "UST"},
            "2022-05-06T23:55:00Z",
            "UST",
            "peg",
            0.05,
            buffers={"LUNA": _BUFFER},
            pegs={"UST": 1.0},
            why="UST holders have lost 5 % of the peg",
        ),
        Event(
            "usdc-2023-03",
            "usdc_depeg_1h_2023-03",
            {"USDC": "USDC", "USDT": "USDT", "DAI": "DAI"},
            "2023-03-09T23:00:00Z",
            "USDC",
            "peg",
            0.05,
            pegs={"USDC": 1.0, "USDT": 1.0, "DAI": 1.0},
            why="USDC holders have lost 5 % of the peg",
        ),
        Event(
            "steth-2022-05",
            "steth_eth_1h_2022-05_07",
            {"stETH_ETH": "stETH/ETH", "ETH": "ETH"},
            "2022-05-07T23:00:00Z",
            "stETH/ETH",
            "peg",
            0.05,
            buffers={"ETH": _BUFFER},
            pegs={"stETH/ETH": 1.0},
            why="stETH 5 % below ETH: a leveraged stETH/ETH loop at 90 % LTV loses half its equity",
        ),
        Event(
            "crv-2022-11",
            "crv_usdc_1h_2022-10_12",
            {"CRV": "CRV", "USDC": "USDC"},
            "2022-11-14T23:00:00Z",
            "CRV",
            "rise",
            0.25,
            buffers={"CRV": _BUFFER},
            pegs={"USDC": 1.0},
            why="CRV was the borrowed asset of the attack on Aave v2: a 25 % rise from the week's low puts a CRV "
            "borrower at a 0.8 loan-to-value under water (0.8 x 1.25 = 1)",
        ),
    )
}


def loss_start(
    prices: pd.Series, kind: str, move: float, after: Any = None, lookback: str = "7D", peg: float = 1.0
):
    """First time (after ``after``) the rule says losses started, or None.

    Parameters
    ----------
    prices : pandas.Series
    kind : {"fall", "rise", "peg"}
        ``fall``: :math:`p_t / \\max_{[t - L, t]} p \\le 1 - m`; ``rise``: :math:`p_t / \\min_{[t - L, t]} p \\ge 1 + m`;
        ``peg``: :math:`|p_t / \\mathrm{peg} - 1| \\ge m`.
    move : float
        m, in (0, 1).
    after : timestamp, optional
    lookback : str, default "7D"
        L, a pandas offset.
    """
    m = check_float(move, "move", "loss_start", 0.0, 1.0, lo_open=True, hi_open=True)
    p = prices.dropna()
    if kind == "fall":
        hit = p / p.rolling(lookback).max() <= 1 - m
    elif kind == "rise":
        hit = p / p.rolling(lookback).min() >= 1 + m
    elif kind == "peg":
        hit = (p / peg - 1).abs() >= m
    else:
        raise fail("kind", "loss_start", "one of 'fall', 'rise', 'peg'", kind)
    if after is not None:
        hit = hit.loc[hit.index > pd.Timestamp(after)]
    hits = hit[hit]
    return hits.index[0] if len(hits) else None


def calibrate_config(
    indicators: pd.DataFrame, base: ClassifierConfig | None = None, calm_rate: float = 0.01
) -> ClassifierConfig:
    """Loosen each band so that ``indicators`` (data before an event) would be stressed at most ``calm_rate``.

    For a dimension where higher is worse, ``stressed`` becomes the larger of its base value and the
    ``1 - calm_rate`` quantile of the dimension's worst column, and ``failure`` the larger of its base value, the
    ``1 - calm_rate / 10`` quantile and the new ``stressed``; mirrored where lower is worse. Thresholds are then
    clipped to the dimension's range. Dimensions without data keep their base band.

    Returns
    -------
    ClassifierConfig
    """
    base = base or ClassifierConfig()
    r = check_float(calm_rate, "calm_rate", "calibrate_config", 0.0, 0.5, lo_open=True)
    bands: dict[str, Band] = {}
    for dim, d in DIMENSIONS.items():
        cols = [c for c in indicators.columns if c.partition(":")[0] == dim]
        if not cols:
            continue
        block = indicators[cols].to_numpy(dtype=float)
        block = block[np.isfinite(block).any(axis=1)]  # rows without any value (warm-up) say nothing
        worst = np.nanmax(block, axis=1) if d.higher_is_worse else np.nanmin(block, axis=1)
        worst = worst[np.isfinite(worst)]
        if len(worst) == 0:
            continue
        b = base.bands[dim]
        if d.higher_is_worse:
            s = max(b.stressed, float(np.quantile(worst, 1 - r)))
            f = max(b.failure, float(np.quantile(worst, 1 - r / 10)), s)
        else:
            s = min(b.stressed, float(np.quantile(worst, r)))
            f = min(b.failure, float(np.quantile(worst, r / 10)), s)
        bands[dim] = Band(float(np.clip(s, d.lo, d.hi)), float(np.clip(f, d.lo, d.hi)))
    return base.with_bands(**bands)


def _event_config(prices: pd.DataFrame, base: ClassifierConfig | None) -> ClassifierConfig:
    """Windows in steps for the data's step: one day of volatility, one week of correlation (24 and 30 at least)."""
    step = pd.Series(prices.index).diff().median().total_seconds()
    base = base or ClassifierConfig()
    return replace(
        base, vol_window=max(24, round(86_400 / step)), corr_window=max(30, round(7 * 86_400 / step))
    )


def early_warning(
    event: str | Event, base: ClassifierConfig | None = None, calm_rate: float = 0.01
) -> dict[str, Any]:
    """Run the classifier over one replay and time its warnings against the loss start.

    Parameters
    ----------
    event : str or Event
        A key of :data:`EVENTS` or an :class:`Event`.
    base : ClassifierConfig, optional
        Bands before calibration; windows are set from the data's step (one day, one week).
    calm_rate : float, default 0.01
        See :func:`calibrate_config`.

    Returns
    -------
    dict
        ``event``, ``loss_start``, ``first_stressed``, ``first_failure`` (timestamps or None),
        ``lead_stressed_h``, ``lead_failure_h`` (hours before the loss start; negative if after; None if never),
        ``reasons_stressed``, ``reasons_failure`` (the reasons in words at those times), ``config`` (the
        calibrated configuration) and ``classification``.
    """
    ev = EVENTS.get(event) if isinstance(event, str) else event
    if not isinstance(ev, Event):
        raise fail("event", "early_warning", f"one of {sorted(EVENTS)} or an Event", event)
    prices = ev.prices()
    config = _event_config(prices, base)
    ind = compute_indicators(prices, config=config, buffers=ev.buffers, pegs=ev.pegs)
    end = pd.Timestamp(ev.calibration_end)
    config = calibrate_config(ind.loc[:end], config, calm_rate)
    c = classify(ind, config)
    start = loss_start(prices[ev.loss_asset], ev.loss_kind, ev.loss_move, after=end, lookback=ev.lookback,
                       peg=ev.pegs.get(ev.loss_asset, 1.0))  # fmt: skip
    t1, t2 = c.first(STRESSED, after=end), c.first(FAILURE, after=end)

    def lead(t: Any) -> float | None:
        if t is None or start is None:
            return None
        return (start - t).total_seconds() / 3600

    return {
        "event": ev.name, "loss_start": start, "first_stressed": t1, "first_failure": t2,
        "lead_stressed_h": lead(t1), "lead_failure_h": lead(t2),
        "reasons_stressed": c.reasons(t1) if t1 is not None else [],
        "reasons_failure": c.reasons(t2) if t2 is not None else [],
        "config": config, "classification": c,
    }  # fmt: skip


def false_alarms(
    dataset: str = "eth_btc_1h_2019-2024",
    columns: tuple[str, ...] = ("ETH", "BTC"),
    base: ClassifierConfig | None = None,
    calm_rate: float = 0.01,
    loss_move: float = 1 / 3,
) -> pd.DataFrame:
    """Share of calm steps the classifier flags, each year classified with thresholds set on the year before.

    Parameters
    ----------
    dataset : str
        A shipped history (``eth_btc_1h_2019-2024`` or ``majors_1d_2020-2025``).
    columns : tuple of str
        Collateral assets (each graded on volatility and tails, together on correlation).
    loss_move : float, default 1/3
        A step is not calm when any asset falls by this much within a week of it (the Black Thursday rule).

    Returns
    -------
    pandas.DataFrame
        One row per evaluated year: ``n_calm`` steps, ``stressed_rate`` and ``failure_rate`` (shares of calm steps
        at or above each state), ``<dimension>_stressed_rate`` (the share each dimension flagged), ``n_loss_steps``
        excluded.
    """
    from firesale.data import load_prices

    prices = load_prices(f"firesale-data:{dataset}", columns=list(columns))
    config = _event_config(prices, base)
    ind = compute_indicators(prices, config=config, buffers=dict.fromkeys(columns, _BUFFER))
    loss = np.zeros(len(prices), dtype=bool)
    for col in columns:
        p = prices[col]
        loss |= (p / p.rolling("7D").max() <= 1 - loss_move).to_numpy()
    # Not calm: within a week either side of a step where a loss rule fires.
    lossy = pd.Series(loss.astype(float), index=prices.index)
    near = (lossy.rolling("7D").max() > 0) | (lossy[::-1].rolling("7D").max()[::-1] > 0)
    years = sorted(set(prices.index.year))
    rows = []
    for prev, year in itertools.pairwise(years):
        cal = ind.loc[str(prev)]
        cfg = calibrate_config(cal, config, calm_rate)
        c = classify(ind.loc[: str(year)], cfg)
        mask = ind.loc[: str(year)].index.year == year
        calm = mask & ~near.loc[: str(year)].to_numpy()
        state = c.state[calm]
        row = {
            "year": year, "n_calm": int(calm.sum()), "n_loss_steps": int((mask & ~calm).sum()),
            "stressed_rate": float((state >= STRESSED).mean()) if len(state) else float("nan"),
            "failure_rate": float((state >= FAILURE).mean()) if len(state) else float("nan"),
        }  # fmt: skip
        for dim, g in c.grades("system").items():
            flagged = np.asarray(g)[calm] >= STRESSED
            row[f"{dim}_stressed_rate"] = float(flagged.mean()) if calm.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("year")
