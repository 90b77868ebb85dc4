"""Liquidations: how much and how deep per step (the cascade), and who paid what (profit, slippage, gas)."""

from __future__ import annotations

import numpy as np
from plotly.subplots import make_subplots

from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, fan, figure, share_ticks, style, time_axis
from firesale.report._view import RunView

__all__ = ["SECTION", "liquidation_charts"]

SECTION = "Liquidations"
_ECONOMICS = (
    ("liquidator_profit_usd", "liquidator profit"),
    ("slippage_usd", "slippage"),
    ("gas_usd", "gas"),
    ("protocol_fees_usd", "protocol fees"),
)


def _waterfall(view: RunView) -> Chart:
    title = "Liquidations over time and cascade rounds per step"
    liq, rounds = view.variable("liquidated"), view.variable("rounds")
    if liq is None and rounds is None:
        return omitted(
            "liquidations-time", SECTION, title,
            'The run did not record liquidations or cascade rounds per step; add "liquidated" and "rounds" to '
            "simulation.record.",
        )  # fmt: skip
    frame = liq if liq is not None else rounds
    assert frame is not None  # one of the two, checked above
    x, xtitle = time_axis(frame["time_s"].to_numpy(dtype=float), view.horizon_s)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.6, 0.4],
        subplot_titles=("Debt repaid by liquidations per step (USD)", "Cascade rounds per step"),
    )  # fmt: skip
    style(fig, "The cascade: liquidations and rounds per step", height=520)
    notes = []
    if liq is not None:
        fan(fig, liq, x, name="liquidated", color=COLORS[0], row=1, col=1)
        fig.add_scatter(
            x=x, y=liq["mean"].to_numpy(), name="liquidated, mean", line={"color": "#111111", "dash": "dot"},
            row=1, col=1,
        )  # fmt: skip
        fig.update_yaxes(title_text="USD", row=1, col=1)
    else:
        notes.append('Liquidations per step were not recorded (add "liquidated" to simulation.record).')
    if rounds is not None:
        fig.add_bar(
            x=x, y=rounds["mean"].to_numpy(), name="rounds, mean", marker_color=COLORS[2], row=2, col=1
        )
        fig.add_scatter(
            x=x, y=rounds["p95"].to_numpy(), name="rounds, 95th percentile", mode="lines",
            line={"color": COLORS[3], "shape": "hv"}, row=2, col=1,
        )  # fmt: skip
        fig.update_yaxes(title_text="rounds", row=2, col=1)
    else:
        notes.append('Cascade rounds per step were not recorded (add "rounds" to simulation.record).')
    fig.update_xaxes(title_text=xtitle, row=2, col=1)
    note = (
        "A round is one pass of liquidate, sell, re-price, check again within a step; more than one round means "
        "liquidations triggered further liquidations. " + " ".join(notes)
    ).strip()
    return Chart("liquidations-time", SECTION, title, fig, note)


def _depth(view: RunView) -> Chart:
    title = "Deepest cascade per path"
    if "max_cascade_rounds" not in view.metrics:
        return omitted("cascade-depth", SECTION, title, "The run did not record cascade rounds per path.")
    rounds = view.metrics["max_cascade_rounds"].to_numpy(dtype=np.int64)
    values, counts = np.unique(rounds, return_counts=True)
    fig = figure("Deepest cascade per path: most rounds in any one step")
    fig.add_bar(
        x=values, y=counts / len(rounds), marker_color=COLORS[2], name="share of paths",
        hovertemplate="%{x} rounds: %{y:.2%} of paths<extra></extra>",
    )  # fmt: skip
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_xaxes(title_text="rounds", dtick=1 if len(values) <= 20 else None)
    fig.update_yaxes(title_text="share of paths", **share_ticks(float((counts / len(rounds)).max())))
    return Chart("cascade-depth", SECTION, title, fig)


def _economics(view: RunView) -> Chart:
    title = "Liquidator profit vs slippage vs gas"
    present = [(c, label) for c, label in _ECONOMICS if c in view.metrics]
    if not present:
        return omitted("liquidator-economics", SECTION, title, "The run did not record liquidator economics.")
    values = [view.metrics[c].to_numpy(dtype=float) for c, _ in present]
    mean = np.array([v.mean() for v in values])
    p05 = np.array([np.quantile(v, 0.05) for v in values])
    p95 = np.array([np.quantile(v, 0.95) for v in values])
    fig = figure("Liquidator economics per path: mean, whiskers at the 5th and 95th percentiles (USD)")
    fig.add_bar(
        x=[label for _, label in present], y=mean, marker_color=[COLORS[i] for i in range(len(present))],
        error_y={"type": "data", "symmetric": False, "array": p95 - mean, "arrayminus": mean - p05},
        customdata=np.stack([p05, p95], axis=1), name="mean per path",
        hovertemplate="%{x}: mean %{y:,.0f} USD (5–95%: %{customdata[0]:,.0f} to %{customdata[1]:,.0f})"
        "<extra></extra>",
    )  # fmt: skip
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_yaxes(title_text="USD per path")
    note = (
        "Totals over the horizon per path. Profit is what liquidators kept after slippage and gas; slippage is "
        "what selling seized collateral into thin markets cost them; protocol fees are the protocols' share of the "
        "liquidation bonus."
    )
    return Chart("liquidator-economics", SECTION, title, fig, note)


def liquidation_charts(view: RunView) -> list[Chart]:
    """The cascade over time, the deepest cascade per path, and liquidator economics."""
    return [_waterfall(view), _depth(view), _economics(view)]
