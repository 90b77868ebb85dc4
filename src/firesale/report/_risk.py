"""What a risk team asks of a run: how much against the book, how likely, where the tail is, why, what to change.

Tables put bad debt beside the debt and collateral it came from, per protocol and per debt asset, each figure
with its Monte Carlo standard error (bootstrap for VaR and ES) and a warning when the paths are too few. Charts
draw the worst paths themselves (a fresh run keeps every path; a stored run only quantiles) and the debt that a
fall of each asset alone puts below health factor 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from firesale.analysis import health_factors
from firesale.analysis.compare import tail_standard_errors
from firesale.report import _format as fmt
from firesale.report._chart import Chart, omitted
from firesale.report._headline import precision
from firesale.report._plot import COLORS, figure, plain, time_axis
from firesale.report._view import TAIL_N_BOOT, RunView
from firesale.results import expected_shortfall, value_at_risk

__all__ = [
    "DEBT_SHARES",
    "SECTION_WHY",
    "Table",
    "book_totals",
    "risk_charts",
    "risk_tables",
    "why_notes",
]

SECTION_WHY = "Why: where the loss came from"
SECTION_TAIL = "Where the tail is"
# Thresholds of P(bad debt > x % of the starting debt).
DEBT_SHARES = (0.0001, 0.001, 0.01, 0.05)
_ZERO = 1e-6
_N_WORST = 5
_DROPS = np.round(np.arange(0.0, 0.901, 0.05), 2)


@dataclass(frozen=True)
class Table:
    """A table of the report: plain-text cells (escaped when rendered), a note, and rows flagged as imprecise."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    warnings: list[str] | None = None


def book_totals(view: RunView) -> pd.DataFrame | None:
    """Debt and collateral at the start per protocol (USD), from the rebuilt starting book, or None."""
    if view.scenario is None:
        return None
    frame = health_factors(view.scenario)
    return frame.groupby("protocol", sort=False)[["debt_usd", "collateral_usd"]].sum()


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def _p_se(hit: np.ndarray) -> tuple[float, float]:
    p = float(hit.mean())
    return p, math.sqrt(p * (1 - p) / len(hit))


def _pm_money(value: float, se: float) -> str:
    return f"{fmt.money(value)} ± {fmt.money_se(value, se)}"


def _pm_pct(value: float, se: float) -> str:
    return f"{fmt.percent(value)} ± {fmt.percent(se)}"


def _protocol_table(view: RunView, book: pd.DataFrame | None) -> Table:
    rows, warnings = [], []
    for p in view.protocols:
        losses = view.metrics[f"bad_debt_usd_{p}"].to_numpy(dtype=float)
        mean, mean_se = _mean_se(losses)
        p_bad, p_se = _p_se(losses > _ZERO)
        tail = tail_standard_errors(losses, n_boot=TAIL_N_BOOT) if len(losses) > 1 else {}
        var99, es99 = value_at_risk(losses, 0.99), expected_shortfall(losses, 0.99)
        debt = float(book.loc[p, "debt_usd"]) if book is not None and p in book.index else math.nan
        coll = float(book.loc[p, "collateral_usd"]) if book is not None and p in book.index else math.nan
        share = mean / debt if debt > 0 else math.nan
        rows.append(
            [
                p, fmt.money(debt), fmt.money(coll), _pm_money(mean, mean_se),
                "n/a" if math.isnan(share) else f"{share * 100:.3g}%",
                _pm_money(var99, tail.get("bad_debt_var99_usd_se", math.nan)),
                _pm_money(es99, tail.get("bad_debt_es99_usd_se", math.nan)), _pm_pct(p_bad, p_se),
            ]
        )  # fmt: skip
        warn = precision("bad_debt_mean_usd", "usd", mean, mean_se, view.n_paths) or precision(
            "bad_debt_es99_usd", "usd", es99, tail.get("bad_debt_es99_usd_se", math.nan), view.n_paths
        )
        warnings.append(warn)
    note = (
        "Debt and collateral are the starting book at starting prices. ± is the Monte Carlo standard error: of "
        f"the mean and the probability from the sample, of VaR and ES from {TAIL_N_BOOT} bootstrap resamples of "
        "the paths."
    )
    if book is None:
        note += f" The book is not shown: {view.scenario_note}."
    return Table(
        "bad-debt-book",
        "Bad debt beside the book, per protocol",
        ["protocol", "debt at start", "collateral at start", "expected bad debt", "as % of debt", "VaR 99%",
         "ES 99%", "P(bad debt)"],
        rows, note, warnings,
    )  # fmt: skip


def _asset_columns(view: RunView) -> list[tuple[str, str, str]]:
    """(protocol, debt asset, column) for every per-asset bad-debt column of the run's own protocols."""
    out = []
    for p in view.protocols:
        for a in view.assets:
            col = f"bad_debt_usd_{p}_{a}"
            if col in view.metrics:
                out.append((p, a, col))
    return out


def _asset_table(view: RunView) -> Table | None:
    cols = _asset_columns(view)
    if not cols:
        return None
    rows, warnings = [], []
    for p, a, col in cols:
        losses = view.metrics[col].to_numpy(dtype=float)
        if not (losses > _ZERO).any():
            continue
        mean, se = _mean_se(losses)
        p_bad, p_se = _p_se(losses > _ZERO)
        rows.append([p, a, _pm_money(mean, se), fmt.money(value_at_risk(losses, 0.99)), _pm_pct(p_bad, p_se)])
        warnings.append(precision("bad_debt_mean_usd", "usd", mean, se, view.n_paths))
    note = (
        "Each underwater account's shortfall split over its debts by value. Assets with no bad debt in any path "
        "are left out."
    )
    if not rows:
        note = "No debt asset of any protocol has bad debt in any path."
    return Table(
        "bad-debt-asset-table", "Bad debt per debt asset",
        ["protocol", "debt asset", "expected bad debt", "VaR 99%", "P(bad debt)"], rows, note, warnings,
    )  # fmt: skip


def _exceedance_table(view: RunView, book: pd.DataFrame | None) -> Table | None:
    if "bad_debt_usd" not in view.metrics or book is None:
        return None
    debt = float(book["debt_usd"].sum())
    if not debt > 0:
        return None
    losses = view.metrics["bad_debt_usd"].to_numpy(dtype=float)
    rows, warnings = [], []
    for x in DEBT_SHARES:
        threshold = x * debt
        hit = losses > threshold
        p, se = _p_se(hit)
        rows.append([f"{x * 100:g}%", fmt.money(threshold), _pm_pct(p, se), f"{int(hit.sum()):,}"])
        warnings.append(precision("p_bad_debt", "pct", p, se, view.n_paths))
    return Table(
        "bad-debt-exceedance", "How likely: P(bad debt above x % of the starting debt)",
        ["x", "bad debt above", "probability", "paths"], rows,
        f"Starting debt of all protocols: {fmt.money(debt)}; probabilities over {view.n_paths:,} paths.", warnings,
    )  # fmt: skip


def risk_tables(view: RunView) -> list[Table]:
    """Bad debt beside the book (per protocol, per debt asset) and P(bad debt > x % of debt)."""
    if not view.protocols:
        return []
    book = book_totals(view)
    out = [_protocol_table(view, book)]
    for table in (_asset_table(view), _exceedance_table(view, book)):
        if table is not None:
            out.append(table)
    return out


def _worst(view: RunView) -> np.ndarray:
    losses = view.metrics["bad_debt_usd"].to_numpy(dtype=float)
    order = np.argsort(-losses, kind="stable")[:_N_WORST]
    return order[losses[order] > _ZERO]


_NO_PATHS = (
    "A stored run keeps quantiles over paths, not each path, so its worst paths cannot be drawn; the report of the "
    "run as it finishes (`firesale run --report`) draws them."
)


def _worst_paths(view: RunView) -> Chart:
    title = "The worst paths: bad debt over time"
    if view.paths is None or "bad_debt" not in view.paths:
        note = _NO_PATHS if view.paths is None else 'The run did not record bad debt over time ("bad_debt").'
        return omitted("worst-paths", SECTION_TAIL, title, note)
    if "bad_debt_usd" not in view.metrics or not len(worst := _worst(view)):
        return omitted("worst-paths", SECTION_TAIL, title, "No path ends with bad debt: no tail to draw.")
    arr = np.asarray(view.paths["bad_debt"], dtype=float)
    x, xtitle = time_axis(np.arange(arr.shape[1]) * (view.dt or 1.0), view.horizon_s)
    fig = figure(f"Bad debt over time on the {len(worst)} worst paths, with the tail of all paths (USD)")
    for q, dash in ((0.95, "dot"), (0.99, "dash")):
        fig.add_scatter(
            x=x, y=np.quantile(arr, q, axis=0), name=f"{q:.0%} of all paths", mode="lines",
            line={"color": "#7f8c8d", "dash": dash},
        )  # fmt: skip
    for i, path in enumerate(worst):
        fig.add_scatter(
            x=x, y=arr[path], name=f"path {int(path)}", mode="lines", line={"color": COLORS[(i + 1) % len(COLORS)]}
        )  # fmt: skip
    fig.update_xaxes(title_text=xtitle)
    fig.update_yaxes(title_text="bad debt (USD)")
    note = (
        "The paths that carry the loss, drawn one by one, against the 95th and 99th percentiles over all paths at "
        "each step (a fan's 5-95 % band hides them)."
    )
    return Chart("worst-paths", SECTION_TAIL, title, fig, note)


def _worst_prices(view: RunView) -> Chart:
    title = "The worst paths: realised prices"
    if view.paths is None:
        return omitted("worst-prices", SECTION_TAIL, title, _NO_PATHS)
    assets = [a for a in view.assets if f"price_{a}" in view.paths]
    if not assets or "bad_debt_usd" not in view.metrics or not len(worst := _worst(view)):
        return omitted(
            "worst-prices", SECTION_TAIL, title, "No path ends with bad debt, or prices were not recorded."
        )
    fig = figure(f"Realised price relative to the start on the {len(worst)} worst paths, and the median path")
    n_steps = 0
    for j, a in enumerate(assets):
        arr = np.asarray(view.paths[f"price_{a}"], dtype=float)
        start = arr[:, :1]
        if not np.any(np.abs(arr - start) > 1e-12 * np.abs(start)):
            continue  # flat in every path: nothing to see
        rel = arr / np.where(start == 0, 1.0, start)
        n_steps = rel.shape[1]
        x, xtitle = time_axis(np.arange(n_steps) * (view.dt or 1.0), view.horizon_s)
        color = COLORS[j % len(COLORS)]
        fig.add_scatter(
            x=x, y=np.median(rel, axis=0), name=f"{plain(a)} median", line={"color": color, "dash": "dot"}
        )
        for path in worst:
            fig.add_scatter(
                x=x, y=rel[path], name=f"{plain(a)} path {int(path)}", line={"color": color, "width": 1},
                opacity=0.8,
            )  # fmt: skip
        fig.update_xaxes(title_text=xtitle)
    if not n_steps:
        return omitted("worst-prices", SECTION_TAIL, title, "Every recorded price is flat in every path.")
    fig.update_yaxes(title_text="price / starting price", tickformat=".0%")
    return Chart("worst-prices", SECTION_TAIL, title, fig, "Assets whose price never moves are left out.")


def _roots(view: RunView) -> dict[str, list[str]]:
    """Assets that move on their own, each with the assets derived from it (which follow it)."""
    assert view.scenario is not None
    specs = view.scenario.spec.assets
    roots: dict[str, list[str]] = {a.name: [] for a in specs if getattr(a, "derived_from", None) is None}
    for a in specs:
        parent = getattr(a, "derived_from", None)
        while parent is not None and parent not in roots:
            parent = next((getattr(s, "derived_from", None) for s in specs if s.name == parent), None)
        if parent is not None:
            roots[parent].append(a.name)
    return roots


def _per_asset_curve(view: RunView) -> Chart:
    title = "Debt at risk vs a fall of each asset alone"
    if view.scenario is None:
        return omitted("liquidation-curve-asset", SECTION_WHY, title, f"Not drawn: {view.scenario_note}.")
    fig = figure(
        "Debt of accounts below health factor 1 when one asset (and what derives from it) falls alone"
    )
    drawn = []
    for j, (asset, derived) in enumerate(_roots(view).items()):
        debt = []
        for d in _DROPS:
            hf = health_factors(view.scenario, {asset: max(1.0 - float(d), 1e-9)})
            debt.append(float(hf.loc[hf["health_factor"] < 1.0, "debt_usd"].sum()))
        base = debt[0]
        if max(debt) - base <= 0:
            continue  # this asset alone puts no further debt at risk
        name = plain(asset) + (f" (with {', '.join(plain(x) for x in derived)})" if derived else "")
        fig.add_scatter(x=_DROPS * 100, y=debt, name=name, line={"color": COLORS[j % len(COLORS)]})
        drawn.append(asset)
    if not drawn:
        return omitted(
            "liquidation-curve-asset",
            SECTION_WHY,
            title,
            "No single asset's fall puts any debt below health factor 1.",
        )
    fig.update_xaxes(title_text="fall of that asset alone (%)", ticksuffix="%")
    fig.update_yaxes(title_text="debt USD in accounts below HF 1")
    note = (
        "The starting book with one asset's price cut by x % (assets derived from it follow; every other price "
        "held), no liquidation and no impact (firesale.analysis.health_factors). The steepest curve names the "
        "collateral whose fall does the most harm."
    )
    return Chart("liquidation-curve-asset", SECTION_WHY, title, fig, note)


def risk_charts(view: RunView) -> list[Chart]:
    """Worst paths drawn (bad debt and prices) and the debt at risk from a fall of each asset alone."""
    return [_worst_paths(view), _worst_prices(view), _per_asset_curve(view)]


def why_notes(view: RunView) -> list[tuple[str, str]]:
    """What the report cannot yet say about causes and remedies, and how to get it: (topic, sentence)."""
    return [
        (
            "Top accounts by expected bad debt",
            "Not shown: the run records bad debt per protocol and debt asset, not per account.",
        ),
        (
            "Slippage at size per collateral, oracle lag, cascade waterfall of the worst path",
            "Not shown: the run records slippage and cascade rounds per path and per step over all assets, not per "
            "collateral or per round.",
        ),
        (
            "Sensitivities (what to change)",
            "Not computed in this report: each needs a second run with one parameter moved. Run `firesale compare "
            "A.toml B.toml` with B's threshold, bonus or venue depth changed; the paired difference on common "
            "random numbers, with its interval, is the finite-difference sensitivity.",
        ),
    ]
