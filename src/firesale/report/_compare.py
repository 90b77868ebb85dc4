"""Two runs side by side (e.g. with and without a mitigation, on the same seed)."""

from __future__ import annotations

import numpy as np

from firesale.report._chart import Chart, omitted
from firesale.report._losses import decade_ticks, exceedance
from firesale.report._plot import COLORS, figure, log_share_ticks, plain, time_axis
from firesale.report._view import RunView

__all__ = ["SECTION", "comparison_charts"]

SECTION = "Comparison"


def _tails(a: RunView, b: RunView) -> Chart:
    title = "Bad-debt tail, both runs"
    fig = figure("Bad-debt tail: share of paths with at least x of bad debt, A vs B (log-log)")
    empty, lo, hi, ylo = [], np.inf, 0.0, 1.0
    for i, (tag, view) in enumerate((("A", a), ("B", b))):
        if "bad_debt_usd" not in view.metrics:
            empty.append(tag)
            continue
        x, y = exceedance(view.metrics["bad_debt_usd"].to_numpy(dtype=float))
        if len(x):
            lo, hi, ylo = min(lo, float(x.min())), max(hi, float(x.max())), min(ylo, float(y.min()))
            fig.add_scatter(
                x=x, y=y, mode="lines", line={"shape": "hv", "color": COLORS[i]}, name=f"{tag}: {plain(view.label)}"
            )  # fmt: skip
        else:
            empty.append(tag)
    if len(empty) == 2:
        return omitted("compare-tail", SECTION, title, "Neither run has a path with bad debt.")
    fig.update_layout(hovermode="closest", showlegend=True)
    fig.update_xaxes(title_text="bad debt x (USD, log scale)", type="log", **decade_ticks(lo, hi))
    fig.update_yaxes(title_text="share of paths (log scale)", type="log", **log_share_ticks(ylo, 1.0))
    note = "A run whose curve lies left and below has the thinner tail."
    if empty:
        note += f" Run {empty[0]} has no path with bad debt, so it has no curve."
    return Chart("compare-tail", SECTION, title, fig, note)


def _prices(a: RunView, b: RunView) -> list[Chart]:
    charts = []
    for i, asset in enumerate(x for x in a.assets if x in b.assets):
        fa, fb = a.variable(f"price_{asset}"), b.variable(f"price_{asset}")
        if (
            fa is None
            or fb is None
            or (fa[["p05", "p95"]].nunique().max() == 1 and fb[["p05", "p95"]].nunique().max() == 1)
        ):
            continue
        fig = figure(
            f"{plain(asset)} realised price, A vs B: median (solid) and 5th percentile (dashed), USD"
        )
        for j, (tag, frame, view) in enumerate((("A", fa, a), ("B", fb, b))):
            x, xtitle = time_axis(frame["time_s"].to_numpy(dtype=float), view.horizon_s)
            fig.add_scatter(x=x, y=frame["p50"].to_numpy(), name=f"{tag} median", line={"color": COLORS[j]})
            fig.add_scatter(
                x=x,
                y=frame["p05"].to_numpy(),
                name=f"{tag} 5th percentile",
                line={"color": COLORS[j], "dash": "dash"},
            )
        fig.update_xaxes(title_text=xtitle)
        fig.update_yaxes(title_text="USD")
        charts.append(Chart(f"compare-price-{i}", SECTION, f"{asset} realised price, A vs B", fig))
    return charts


def _liquidations(a: RunView, b: RunView) -> list[Chart]:
    fa, fb = a.variable("liquidated"), b.variable("liquidated")
    if fa is None or fb is None:
        return []
    fig = figure("Debt repaid by liquidations per step, mean over paths, A vs B (USD)")
    for j, (tag, frame, view) in enumerate((("A", fa, a), ("B", fb, b))):
        x, xtitle = time_axis(frame["time_s"].to_numpy(dtype=float), view.horizon_s)
        fig.add_scatter(x=x, y=frame["mean"].to_numpy(), name=tag, line={"color": COLORS[j], "shape": "hv"})
    fig.update_xaxes(title_text=xtitle)
    fig.update_yaxes(title_text="USD per step")
    return [Chart("compare-liquidations", SECTION, "Liquidations per step, A vs B", fig)]


def comparison_charts(a: RunView, b: RunView) -> list[Chart]:
    """Tails, realised prices and liquidations of run A (the report's run) against run B (the comparison); on
    common random numbers, the policy path by path (:mod:`firesale.report._policy`)."""
    from firesale.report._policy import policy_charts

    return [_tails(a, b), *_prices(a, b), *_liquidations(a, b), *policy_charts(a, b)]
