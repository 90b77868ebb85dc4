"""Oracle lag: each oracle's answer against the market price of its asset, and how stale it was when it mattered.

A push oracle (a Chainlink feed) updates on a heartbeat or past a deviation threshold, so in a fast fall its answer
stays above the market and liquidations start late; a CAPO-style feed priced from a reference asset never sees the
asset's own discount. The chart draws, per oracle, the answer and the market price over time (median over paths,
and on the worst path); the table gives the answer's deviation from the market and its age (seconds since it last
changed) at each path's first liquidation and first bad debt, the moments when the lag mattered.

Needs ``"oracle"`` (the answers, ``oracle_<feed>``) and ``"price"`` (market prices, ``price_<asset>``) in
``simulation.record``; the table and the worst path need each path (a fresh run), a stored run draws the median.
"""

from __future__ import annotations

import tomllib

import numpy as np
from plotly.subplots import make_subplots

from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, plain, style, time_axis
from firesale.report._risk import Table
from firesale.report._view import RunView

__all__ = ["SECTION", "answer_age", "oracle_lag_report"]

SECTION = "Why: markets and oracles"
_TITLE = "Oracle answers against market prices"
_KEY = "oracle-lag"
_ZERO = 1e-6


def _feeds(view: RunView) -> list[tuple[str, str]]:
    """(oracle name, asset) of every oracle of the scenario, in its order."""
    if view.scenario is not None:
        return [(o.name, o.asset) for o in view.scenario.spec.oracles]
    try:
        data = tomllib.loads(view.scenario_text)
    except tomllib.TOMLDecodeError:
        return []
    entries = data.get("oracles", [])
    return [
        (str(o["name"]), str(o["asset"]))
        for o in entries
        if isinstance(o, dict) and "name" in o and "asset" in o
    ]


def answer_age(answers: np.ndarray, dt: float) -> np.ndarray:
    """Seconds since each path's answer last changed, at every step (0 at the start), shape of ``answers``.

    >>> answer_age(np.array([[1.0, 1.0, 2.0, 2.0, 2.0]]), 300.0)
    array([[  0., 300.,   0., 300., 600.]])
    """
    steps = np.arange(answers.shape[1])[None, :]
    changed = np.concatenate(
        [np.ones((answers.shape[0], 1), dtype=bool), answers[:, 1:] != answers[:, :-1]], axis=1
    )
    last = np.maximum.accumulate(np.where(changed, steps, 0), axis=1)
    return (steps - last) * dt


def _first(mask: np.ndarray) -> np.ndarray:
    """The first step where ``mask`` holds on each path, -1 where it never does."""
    hit = mask.any(axis=1)
    return np.where(hit, mask.argmax(axis=1), -1)


def _worst_path(view: RunView) -> int | None:
    if "bad_debt_usd" in view.metrics:
        losses = view.metrics["bad_debt_usd"].to_numpy(dtype=float)
        if (losses > _ZERO).any():
            return int(np.argmax(losses))
    return None


def _moving(view: RunView, feeds: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The recorded feeds whose answer or market price moves (flat ones have nothing to show)."""
    out = []
    for name, asset in feeds:
        if view.paths is not None and f"oracle_{name}" in view.paths and f"price_{asset}" in view.paths:
            arrays = [np.asarray(view.paths[f"oracle_{name}"]), np.asarray(view.paths[f"price_{asset}"])]
        else:
            frames = [view.variable(f"oracle_{name}"), view.variable(f"price_{asset}")]
            if any(f is None for f in frames):
                continue
            arrays = [f[["p05", "p50", "p95"]].to_numpy().T for f in frames]  # type: ignore[index]
        if any(np.ptp(a) > 1e-9 * max(float(np.abs(a).max()), 1.0) for a in arrays):
            out.append((name, asset))
    return out


def _recorded(view: RunView, feeds: list[tuple[str, str]]) -> bool:
    if view.paths is not None:
        return any(f"oracle_{n}" in view.paths for n, _ in feeds)
    return any(view.variable(f"oracle_{n}") is not None for n, _ in feeds)


def _chart(view: RunView, feeds: list[tuple[str, str]]) -> Chart:
    shown = _moving(view, feeds)
    if not shown:
        return omitted(
            _KEY, SECTION, _TITLE,
            'Oracle answers were recorded, but no oracle\'s answer or market price moves, or prices were not '
            'recorded (add "price" to simulation.record).',
        )  # fmt: skip
    worst = _worst_path(view) if view.paths is not None else None
    fig = make_subplots(
        rows=len(shown), cols=1, shared_xaxes=True, vertical_spacing=0.12 / max(len(shown), 1),
        subplot_titles=[f"{plain(n)} ({plain(a)}): answer vs market (USD)" for n, a in shown],
    )  # fmt: skip
    style(fig, "Oracle answers against the market price of their asset", height=max(320, 230 * len(shown)))
    xtitle = "time"
    for row, (name, asset) in enumerate(shown, start=1):
        lines = []
        if view.paths is not None and f"oracle_{name}" in view.paths:
            ans, mkt = (
                np.asarray(view.paths[f"oracle_{name}"], float),
                np.asarray(view.paths[f"price_{asset}"], float),
            )
            lines += [("market, median", np.median(mkt, axis=0), COLORS[0], None),
                      ("answer, median", np.median(ans, axis=0), COLORS[1], None)]  # fmt: skip
            if worst is not None:
                lines += [(f"market, worst path ({worst})", mkt[worst], COLORS[0], "dot"),
                          (f"answer, worst path ({worst})", ans[worst], COLORS[1], "dot")]  # fmt: skip
            n_t = ans.shape[1]
        else:
            fa, fm = view.variable(f"oracle_{name}"), view.variable(f"price_{asset}")
            assert fa is not None and fm is not None
            lines += [("market, median", fm["p50"].to_numpy(), COLORS[0], None),
                      ("answer, median", fa["p50"].to_numpy(), COLORS[1], None)]  # fmt: skip
            n_t = len(fa)
        x, xtitle = time_axis(np.arange(n_t) * (view.dt or 1.0), view.horizon_s)
        for label, y, color, dash in lines:
            fig.add_scatter(
                x=x, y=y, name=label, mode="lines", line={"color": color, "dash": dash, "shape": "hv"},
                legendgroup=label, showlegend=row == 1, row=row, col=1,
            )  # fmt: skip
        fig.update_yaxes(title_text="USD", row=row, col=1)
    fig.update_xaxes(title_text=xtitle, row=len(shown), col=1)
    note = (
        "Solid: the median over paths at each step; dotted: the path with the most bad debt. An answer above the "
        "market in a fall is a stale oracle: accounts it still calls healthy are already underwater at the "
        "market. Feeds whose answer and market price never move are left out."
    )
    if view.paths is None:
        note += " A stored run keeps quantiles, not each path, so the worst path is not drawn."
    return Chart(_KEY, SECTION, _TITLE, fig, note)


def _table(view: RunView, feeds: list[tuple[str, str]]) -> Table | None:
    if view.paths is None:
        return None
    paths = view.paths
    dt = float(view.dt or 1.0)
    firsts: list[tuple[str, np.ndarray]] = []
    if "liquidated" in paths:
        firsts.append(("first liquidation", _first(np.asarray(paths["liquidated"]) > _ZERO)))
    if "first_bad_debt_step" in view.metrics:
        firsts.append(("first bad debt", view.metrics["first_bad_debt_step"].to_numpy(dtype=np.int64)))
    rows = []
    for name, asset in feeds:
        if f"oracle_{name}" not in paths or f"price_{asset}" not in paths:
            continue
        ans, mkt = np.asarray(paths[f"oracle_{name}"], float), np.asarray(paths[f"price_{asset}"], float)
        dev = ans / np.where(mkt == 0, np.nan, mkt) - 1.0
        age = answer_age(ans, dt)
        largest = np.nanmax(np.abs(dev), axis=1)
        row = [name, asset, f"{100 * float(np.median(largest)):.2f}%"]
        for _, first in firsts:
            hit = np.flatnonzero(first >= 0)
            if not hit.size:
                row += ["none", "none"]
                continue
            d, a = dev[hit, first[hit]], age[hit, first[hit]]
            row += [
                f"{100 * float(np.nanmedian(d)):+.2f}% (95th pct {100 * float(np.nanquantile(d, 0.95)):+.2f}%)",
                f"{float(np.median(a)):,.0f} s (95th pct {float(np.quantile(a, 0.95)):,.0f} s)",
            ]
        rows.append(row)
    if not rows:
        return None
    columns = ["oracle", "asset", "largest |deviation| (median path)"]
    for label, first in firsts:
        n = int((first >= 0).sum())
        columns += [f"deviation at {label} ({n:,} paths)", f"answer age at {label}"]
    note = (
        "Deviation is the answer over the asset's market price, minus 1 (positive: the oracle reads above the "
        "market); age is the time since the answer last changed. Medians over the paths that reached the moment."
    )
    return Table("oracle-lag-table", "Oracle lag when it mattered", columns, rows, note)


def oracle_lag_report(view: RunView) -> tuple[list[Table], list[Chart]]:
    """The oracle-lag table (fresh runs) and chart, or a chart left out with the reason."""
    feeds = _feeds(view)
    if not _recorded(view, feeds):
        return [], [
            omitted(
                _KEY, SECTION, _TITLE,
                'The run did not record oracle answers; add "oracle" (and "price") to simulation.record to see '
                "each oracle against its market and its lag at the first liquidation and first bad debt.",
            )
        ]  # fmt: skip
    table = _table(view, feeds)
    return ([] if table is None else [table]), [_chart(view, feeds)]
