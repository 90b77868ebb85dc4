"""Price fan charts: exogenous against realised (after liquidation impact), and replays against history."""

from __future__ import annotations

import numpy as np
import pandas as pd
from plotly.subplots import make_subplots

from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, fan, figure, plain, style, time_axis
from firesale.report._view import RunView

__all__ = ["SECTION", "price_charts", "replay_charts"]

SECTION = "Prices"
_NOT_RECORDED = (
    'The run did not record prices; add "price" to simulation.record in the scenario to get fan charts.'
)


def _flat(frame: pd.DataFrame) -> bool:
    band = frame[["p05", "p95"]].to_numpy(dtype=float)
    return bool(np.all(band == band[0, 0]))


def _pairs(view: RunView) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    out = []
    for asset in view.assets:
        exo, real = view.variable(f"exo_price_{asset}"), view.variable(f"price_{asset}")
        if exo is not None and real is not None:
            out.append((asset, exo, real))
    return out


def price_charts(view: RunView) -> list[Chart]:
    """One fan chart per asset, exogenous and realised side by side on a shared price axis."""
    pairs = _pairs(view)
    if not pairs:
        return [omitted("prices", SECTION, "Price fan charts", _NOT_RECORDED)]
    charts, flat = [], []
    for i, (asset, exo, real) in enumerate(pairs):
        if _flat(exo) and _flat(real):
            flat.append(asset)
            continue
        x, xtitle = time_axis(real["time_s"].to_numpy(dtype=float), view.horizon_s)
        fig = make_subplots(
            rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
            subplot_titles=("Exogenous (no liquidation impact)", "Realised (after liquidation impact)"),
        )  # fmt: skip
        style(fig, f"{plain(asset)} price, percentile bands over paths (USD)", height=400)
        fan(fig, exo, x, name="exogenous", color=COLORS[0], row=1, col=1)
        fan(fig, real, x, name="realised", color=COLORS[1], row=1, col=2)
        fig.update_xaxes(title_text=xtitle)
        fig.update_yaxes(title_text="USD", row=1, col=1)
        title = f"{asset} price: exogenous vs realised"
        note = (
            "Bands hold 90% and 50% of paths at each step; the line is the median. The gap between the two panels "
            "is the endogenous part of the fall: prices pushed down by liquidators selling seized collateral."
        )
        charts.append(Chart(f"price-{i}", SECTION, title, fig, note))
    if flat:
        note = f"Flat in every path, not plotted: {', '.join(flat)}."
        if charts:
            last = charts[-1]
            charts[-1] = Chart(last.key, last.section, last.title, last.figure, f"{last.note} {note}")
        else:
            charts.append(omitted("prices", SECTION, "Price fan charts", note))
    return charts


def replay_charts(view: RunView) -> list[Chart]:
    """For historical replays: the real price path against the simulated realised price."""
    if view.market_model != "replay":
        return []
    pairs = [(a, e, r) for a, e, r in _pairs(view) if not (_flat(e) and _flat(r))]
    if not pairs:
        return [omitted("replay", SECTION, "Historical path vs simulated", _NOT_RECORDED)]
    charts = []
    for i, (asset, exo, real) in enumerate(pairs):
        x, xtitle = time_axis(real["time_s"].to_numpy(dtype=float), view.horizon_s)
        fig = figure(f"{plain(asset)}: historical price path vs simulated realised price (USD)", height=400)
        fan(fig, real, x, name="simulated realised", color=COLORS[1])
        # A replay feeds the same exogenous path to every Monte Carlo path, so its median is the history itself.
        fig.add_scatter(
            x=x, y=exo["p50"].to_numpy(), mode="lines", name="historical (replayed from the start price)",
            line={"color": "#111111", "width": 2, "dash": "dot"},
        )  # fmt: skip
        fig.update_xaxes(title_text=xtitle)
        fig.update_yaxes(title_text="USD")
        note = (
            "The dotted line is the replayed history (its relative moves, applied from the scenario's starting "
            "price); the bands are the simulated price after liquidation impact."
        )
        charts.append(Chart(f"replay-{i}", SECTION, f"{asset}: history vs simulated", fig, note))
    return charts
