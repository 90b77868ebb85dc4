"""The cascade waterfall of the worst path: its rounds per step and the volume of each round.

The worst path is the one with the largest total bad debt at the end (ties: the lowest path number); when no
path ends with bad debt, the one whose liquidations repaid the most debt. It is re-simulated with a cascade
trace (:func:`firesale.engine.trace.trace_path`: only its path block, up to it; the engine is block-seeded, so
it is the run's path bit for bit), and the section is drawn only if the re-simulated path's bad debt and
liquidations equal the run's exactly; otherwise it says why not (the scenario's data or the engine changed
since the run).

Volumes are USD at the market price each round saw before its own sales: collateral handed to liquidators to
sell, per asset, and the debt they repaid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from firesale.exceptions import FiresaleError
from firesale.report import _format as fmt
from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, figure, plain
from firesale.report._risk import Table
from firesale.report._view import RunView

__all__ = ["KEY", "STEPS_SHOWN", "waterfall_report", "worst_or_busiest"]

SECTION = "Why: accounts and the cascade"
KEY = "cascade-waterfall"
_TITLE = "Cascade waterfall of the worst path"
#: The steps with the largest cascades (USD sold) that the chart and table show.
STEPS_SHOWN = 6


def worst_or_busiest(metrics: pd.DataFrame) -> tuple[int, str] | None:
    """The path to trace and why: the worst (largest bad debt; ties to the lowest number), or when no path has
    bad debt the one that liquidated the most debt; None when no path liquidated anything."""
    from firesale.engine.trace import worst_path

    path = worst_path(metrics)
    if float(metrics.loc[path, "bad_debt_usd"]) > 0:
        return path, "worst"
    if "liquidated_usd" not in metrics:
        return None
    liq = metrics["liquidated_usd"].to_numpy(dtype=float)
    if not np.nanmax(liq, initial=0.0) > 0:
        return None
    return int(metrics.index[np.flatnonzero(liq == np.nanmax(liq))].min()), "busiest"


def _same(trace, metrics: pd.DataFrame, path: int) -> str:  # type: ignore[no-untyped-def]
    """ "" when the re-simulated path has the run's bad debt and liquidations exactly, else what differs."""
    for col in ("bad_debt_usd", "liquidated_usd", "n_liquidations"):
        if (
            col in metrics
            and col in trace.metrics
            and float(trace.metrics[col]) != float(metrics.loc[path, col])
        ):
            again, stored = float(trace.metrics[col]), float(metrics.loc[path, col])
            return f"{col} {again:,.6g} re-simulated against {stored:,.6g} stored"
    return ""


def _when(view: RunView, step: int) -> str:
    return f"step {step}" + (f" ({fmt.duration(step * view.dt)})" if view.dt else "")


def _sold_by_asset(trace, steps: list[int]) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """USD sold per (step, round) and collateral asset (all protocols), in step and round order."""
    flows = trace.flows[trace.flows["step"].isin(steps)]
    table = flows.pivot_table(
        index=["step", "round"], columns="asset", values="sold_usd", aggfunc="sum", fill_value=0.0
    )
    table = table.loc[:, table.sum(axis=0) > 0]
    return table.sort_index()


def _chart(view: RunView, trace, steps: list[int], what: str) -> Chart:  # type: ignore[no-untyped-def]
    rounds = trace.rounds[trace.rounds["step"].isin(steps)].sort_values(["step", "round"])
    sold = _sold_by_asset(trace, steps).reindex(
        pd.MultiIndex.from_frame(rounds[["step", "round"]]), fill_value=0.0
    )
    labels = [f"step {s} · round {r}" for s, r in zip(rounds["step"], rounds["round"], strict=True)]
    where = f", on the {len(steps)} steps of its biggest cascades" if len(steps) > 1 else ""
    fig = figure(f"The {what} path ({trace.path}): volume per cascade round{where}")
    for j, asset in enumerate(sold.columns):
        fig.add_bar(
            x=labels, y=sold[asset].to_numpy(), name=f"{plain(asset)} sold",
            marker_color=COLORS[j % len(COLORS)],
            hovertemplate="%{y:$,.0f}<extra>" + plain(asset) + " sold</extra>",
        )  # fmt: skip
    fig.add_scatter(
        x=labels, y=rounds["repaid_usd"].to_numpy(), name="debt repaid", mode="markers",
        marker={"symbol": "diamond", "size": 10, "color": "#222"},
        customdata=rounds["n_liquidations"].to_numpy(),
        hovertemplate="%{y:$,.0f} repaid in %{customdata} liquidations<extra>debt repaid</extra>",
    )  # fmt: skip
    fig.update_layout(barmode="stack", hovermode="closest")
    fig.update_xaxes(title_text="cascade round (rounds of one step run within its few seconds, in order)")
    fig.update_yaxes(title_text="USD at the round's market price")
    return Chart(KEY, SECTION, _TITLE, fig, _sentence(view, trace, what))


def _sentence(view: RunView, trace, what: str) -> str:  # type: ignore[no-untyped-def]
    steps = trace.cascades()
    bad = float(trace.metrics["bad_debt_usd"])
    who = (
        f"The worst path (path {trace.path}, bad debt {fmt.money(bad)} at the end)"
        if what == "worst"
        else f"No path ended with bad debt; the path that liquidated the most debt (path {trace.path})"
    )
    top = steps.iloc[0]
    step = int(top["step"])
    by_asset = trace.flows[trace.flows["step"] == step].groupby("asset")["sold_usd"].sum()
    by_asset = by_asset[by_asset > 0].sort_values(ascending=False)
    sold = " and ".join(f"{fmt.money(v)} of {a}" for a, v in by_asset.items()) or "nothing"
    n_rounds, n_steps = int(top["rounds"]), len(steps)
    text = (
        f"{who} cascaded on {n_steps:,} step{'s' if n_steps != 1 else ''}; its biggest cascade ran "
        f"{n_rounds} round{'s' if n_rounds != 1 else ''} at {_when(view, step)}, selling {sold} and repaying "
        f"{fmt.money(float(top['repaid_usd']))} of debt in {int(top['n_liquidations']):,} liquidations."
    )
    totals = trace.steps.groupby("step")["bad_debt_usd"].sum()
    formed = totals.diff().fillna(totals)
    if (formed > 0).any():
        s, n_formed = int(formed.idxmax()), int((formed > 0).sum())
        text += (
            f" Bad debt formed on {n_formed} step{'s' if n_formed != 1 else ''}, most at {_when(view, s)} "
            f"({fmt.money(float(formed.max()))})."
        )
    return text + " Re-simulated from the run's seed; its bad debt and liquidations equal the run's exactly."


def _table(view: RunView, trace, steps: list[int]) -> Table:  # type: ignore[no-untyped-def]
    casc = trace.cascades().set_index("step").loc[steps]
    sold = _sold_by_asset(trace, steps).groupby(level="step").sum()
    rows = []
    for s, r in casc.iterrows():
        part = sold.loc[s] if s in sold.index else pd.Series(dtype=float)
        text = ", ".join(f"{fmt.money(v)} {a}" for a, v in part.items() if v > 0) or "none"
        rows.append([
            _when(view, int(s)), str(int(r["rounds"])), text, fmt.money(float(r["repaid_usd"])),
            fmt.count(float(r["n_liquidations"])), fmt.money(float(r["bad_debt_usd"])),
            fmt.money(float(r["bad_debt_formed_usd"])),
        ])  # fmt: skip
    return Table(
        "cascade-waterfall-table", f"The biggest cascades of path {trace.path}",
        ["step", "rounds", "collateral sold", "debt repaid", "liquidations", "bad debt after",
         "bad debt formed"],
        rows, "Per step, over its rounds: USD at each round's market price before its sales; bad debt at the "
        "step's end (all protocols, at market prices) and its change over the step.",
    )  # fmt: skip


def waterfall_report(view: RunView) -> tuple[list[Table], list[Chart]]:
    """The worst path's cascade: a table of its biggest cascades and a chart of their volume per round."""
    if view.scenario is None:
        return [], [omitted(KEY, SECTION, _TITLE, f"Not drawn: {view.scenario_note}.")]
    if "bad_debt_usd" not in view.metrics or view.metrics.empty:
        return [], [omitted(KEY, SECTION, _TITLE, "Not drawn: the run has no per-path bad debt.")]
    pick = worst_or_busiest(view.metrics)
    if pick is None:
        return [], [omitted(KEY, SECTION, _TITLE, "No cascade: no path liquidated anything.")]
    path, what = pick
    from firesale.engine.trace import trace_path

    try:
        trace = trace_path(view.scenario, view.seed, view.n_paths, path, n_steps=view.n_steps)
    except FiresaleError as exc:
        return [], [omitted(KEY, SECTION, _TITLE, f"Not drawn: path {path} could not be re-simulated: {exc}")]
    differs = _same(trace, view.metrics, path)
    if differs:
        note = (
            f"Not drawn: re-simulating path {path} does not give the run's result ({differs}); the "
            "scenario's data or the engine changed since the run."
        )
        return [], [omitted(KEY, SECTION, _TITLE, note)]
    casc = trace.cascades()
    if casc.empty:
        return [], [omitted(KEY, SECTION, _TITLE, f"No cascade ran on path {path}.")]
    shown = {int(s) for s in casc["step"].head(STEPS_SHOWN)}
    if (casc["bad_debt_formed_usd"] > 0).any():  # and the cascade that formed the most bad debt
        shown.add(int(casc.loc[casc["bad_debt_formed_usd"].idxmax(), "step"]))
    steps = sorted(shown)
    return [_table(view, trace, steps)], [_chart(view, trace, steps, what)]
