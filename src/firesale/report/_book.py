"""The starting book under stress: health factors before and at the run's worst point, and debt at risk vs a drop."""

from __future__ import annotations

import itertools

import numpy as np

from firesale.analysis import health_factors, liquidation_curve
from firesale.report import _format as fmt
from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, figure
from firesale.report._view import RunView

__all__ = ["HF_EDGES", "SECTION", "book_charts", "debt_by_health_factor", "worst_point"]

SECTION = "Health of the book"
# Health-factor bins [0, 0.05), [0.05, 0.1), ... [2.95, 3); one more bin collects 3 and above (and no debt).
HF_EDGES = np.round(np.arange(0.0, 3.0001, 0.05), 2)
_WORST_QUANTILE = 0.01


def worst_point(view: RunView) -> dict[str, float]:
    """Per asset, the 1st percentile over paths of its lowest realised price relative to the start.

    Each asset's minimum may come at a different step and path, so applying them together is a stress at least
    as severe as any single moment of the run's 1 % worst paths, asset by asset.
    """
    out = {}
    for asset in view.assets:
        col = f"min_price_ratio_{asset}"
        if col in view.metrics:
            ratio = float(np.quantile(view.metrics[col].to_numpy(dtype=float), _WORST_QUANTILE))
            # A price that reached zero is kept a hair above it: health factors are defined for positive prices.
            out[asset] = max(ratio, 1e-12) if np.isfinite(ratio) else 1e-12
    return out


def debt_by_health_factor(hf: np.ndarray, debt: np.ndarray) -> np.ndarray:
    """Debt summed per health-factor bin of :data:`HF_EDGES`, plus a last bin for 3 and above.

    Returns
    -------
    ndarray of shape (len(HF_EDGES),)
    """
    idx = np.clip(np.searchsorted(HF_EDGES, hf, side="right") - 1, 0, len(HF_EDGES) - 1)
    return np.bincount(idx, weights=debt, minlength=len(HF_EDGES)).astype(float)


def _health(view: RunView) -> Chart:
    title = "Health-factor distribution: start vs worst point"
    if view.scenario is None:
        return omitted("health-factors", SECTION, title, f"Not drawn: {view.scenario_note}.")
    ratios = worst_point(view)
    if not ratios:
        return omitted("health-factors", SECTION, title, "Not drawn: the run did not record minimum prices.")
    known = {a: r for a, r in ratios.items() if a in {x.name for x in view.scenario.spec.assets}}
    before = health_factors(view.scenario)
    worst = health_factors(view.scenario, known)
    centres = np.append(HF_EDGES[:-1] + 0.025, 3.025)
    labels = [f"{a:.2f}–{b:.2f}" for a, b in itertools.pairwise(HF_EDGES)] + ["3 and above"]
    fig = figure(
        "Debt by health factor of its account (USD): starting book, at the start and at the worst point"
    )
    for i, (name, frame) in enumerate((("at the start", before), ("at the worst point", worst))):
        debt = debt_by_health_factor(
            frame["health_factor"].to_numpy(dtype=float), frame["debt_usd"].to_numpy(dtype=float)
        )
        fig.add_bar(
            x=centres, y=debt, width=0.05, name=name, marker_color=COLORS[i], opacity=0.7, customdata=labels,
            hovertemplate=f"{name}, HF %{{customdata}}: %{{y:,.0f}} USD<extra></extra>",
        )  # fmt: skip
    fig.add_vline(x=1.0, line={"color": "#111111", "dash": "dash", "width": 1}, annotation={"text": "HF = 1"})
    fig.update_layout(barmode="overlay", hovermode="closest", bargap=0)
    fig.update_xaxes(title_text="health factor (last bar: 3 and above)", range=[0, 3.1])
    fig.update_yaxes(title_text="debt USD")
    below = [float(f.loc[f["health_factor"] < 1.0, "debt_usd"].sum()) for f in (before, worst)]
    stress = ", ".join(f"{a} × {r:.3f}" for a, r in known.items())
    note = (
        f"Worst point (labelled as such, not a simulated state): each asset's price at the 1st percentile over "
        f"paths of its lowest realised price in the run, applied together to the starting book with no "
        f"liquidation ({stress}). Debt in accounts below health factor 1: {fmt.money(below[0])} at the start, "
        f"{fmt.money(below[1])} at the worst point."
    )
    return Chart("health-factors", SECTION, title, fig, note)


def _curve(view: RunView) -> Chart:
    title = "Collateral at risk vs price drop"
    if view.scenario is None:
        return omitted("liquidation-curve", SECTION, title, f"Not drawn: {view.scenario_note}.")
    curve = liquidation_curve(view.scenario)
    drop = curve["drop"].to_numpy() * 100
    fig = figure("Liquidatable exposure of the starting book vs a uniform price drop (USD)")
    fig.add_scatter(
        x=drop, y=curve["collateral_usd"].to_numpy(), name="collateral", line={"color": COLORS[0]}
    )
    fig.add_scatter(x=drop, y=curve["debt_usd"].to_numpy(), name="debt", line={"color": COLORS[1]})
    fig.update_xaxes(title_text="drop of every volatile asset (%)", ticksuffix="%")
    fig.update_yaxes(title_text="USD in accounts below HF 1")
    note = (
        "Collateral and debt of the accounts whose health factor falls below 1 if every market-driven asset (and "
        "what derives from it) drops by x % at once, stablecoins held; no liquidation and no price impact."
    )
    return Chart("liquidation-curve", SECTION, title, fig, note)


def book_charts(view: RunView) -> list[Chart]:
    """Health-factor distribution at the start and at the worst point, and the liquidation curve."""
    return [_health(view), _curve(view)]
