"""Model failure: would the usual margin models have held on the history a replay is driven by?

A margin or VaR model assumes a tail. On a replay the history is there to check it against: each VaR model of
:mod:`firesale.monitor.backtest` (``normal``, ``student-t``, ``historical``) forecasts every step's loss from the
returns before it only, on the replay's own data (the rows before the replayed window calibrate it), and the section
says in words which assumptions failed (Kupiec's coverage, Christoffersen's independence) and when: whether the
event is a tail the models expected, or the kind of move a normal margin model calls impossible. The chart draws
each asset's step losses over the replayed window against each model's VaR, hits marked.

Shown for replays whose data hold enough rows before the replayed window (at least :data:`MIN_ROWS`); other runs get a
note that points to ``firesale backtest`` for any shipped history.
"""

from __future__ import annotations

import pandas as pd
from plotly.subplots import make_subplots

from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, plain, style
from firesale.report._risk import Table
from firesale.report._view import RunView

__all__ = ["MIN_ROWS", "SECTION", "backtest_report"]

SECTION = "Model failure: do the margin models' assumptions hold?"
_KEY = "var-backtest"
_TITLE = "Step losses against one-step VaR 99 % on the replayed window"
#: Rows of history before the replayed window needed to estimate the models (their rolling window).
MIN_ROWS = 50
_MODELS = ("normal", "student-t", "historical")
_LEVEL = 0.99


def _history(view: RunView) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp] | str:
    """The replay's price table (driven assets), the replayed window's start and end; or why there is none."""
    sc = view.scenario
    if sc is None:
        return f"the scenario could not be rebuilt ({view.scenario_note or 'no scenario'})"
    market = sc.spec.market
    if getattr(market, "model", None) != "replay":
        return (
            f"the market model is {getattr(market, 'model', None)!r}, not a replayed history; backtest the margin "
            "models on any shipped history with `firesale backtest DATASET`"
        )
    assets = sorted(market.referenced_assets()) or [a.name for a in sc.spec.assets if a.derived_from is None]
    prices = market._read(assets, sc.base_dir)
    start = pd.Timestamp(market.start) if market.start is not None else prices.index[0]
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    end = start + pd.Timedelta(seconds=view.n_steps * (view.dt or 0.0))
    before = int((prices.index < start).sum())
    if before < MIN_ROWS:
        return (
            f"the replay's data hold {before} rows before the replayed window, fewer than the {MIN_ROWS} a VaR "
            "model needs to be estimated on what was known before the event"
        )
    return prices.loc[:end], start, end


def backtest_report(view: RunView) -> tuple[list[Table], list[Chart]]:
    """The section's table and chart for ``view``; a note instead when the run is not a replay with history."""
    found = _history(view)
    if isinstance(found, str):
        return [], [omitted(_KEY, SECTION, _TITLE, f"Not shown: {found}.")]
    from firesale.monitor.backtest import backtest_var  # scipy and arch: only when a replay has the history

    prices, start, end = found
    window = min(250, int((prices.index < start).sum()))
    result = backtest_var(prices, models=_MODELS, level=_LEVEL, window=window)
    rows = []
    for (asset, model), row in result.table.iterrows():
        hits = result.hits[(asset, model)]
        in_event = hits[(hits.index >= start) & (hits.index <= end)]
        first = in_event[in_event].index.min() if in_event.any() else None
        rows.append([
            str(asset), str(model), f"{int(row['hits'])} / {int(row['n'])}", f"{row['expected']:.1f}",
            f"{row['kupiec_p']:.2g}", f"{row['ind_p']:.2g}", f"{int(in_event.sum())}",
            "none" if first is None else f"{first:%Y-%m-%d %H:%M}",
        ])  # fmt: skip
    table = Table(
        key="var-backtest", title=f"VaR {_LEVEL:.0%} backtests on the replay's data (window {window} rows)",
        columns=["asset", "model", "hits / steps", "expected hits", "Kupiec p", "independence p",
                 "hits in the replayed window", "first hit in it"],
        rows=rows, note=" ".join(result.summary()),
    )  # fmt: skip
    return [table], [_chart(prices, start, end, window)]


def _chart(prices: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, window: int) -> Chart:
    from firesale.monitor.backtest import var_forecast
    from firesale.monitor.indicators import log_returns

    assets = list(prices.columns)
    fig = make_subplots(
        rows=len(assets), cols=1, shared_xaxes=True, vertical_spacing=0.12 / max(len(assets), 1),
        subplot_titles=[f"{plain(a)}: step loss and one-step VaR {_LEVEL:.0%}" for a in assets],
    )  # fmt: skip
    style(fig, _TITLE, height=max(320, 240 * len(assets)))
    for row, asset in enumerate(assets, start=1):
        r = log_returns(prices[asset].dropna())
        shown = (r.index >= start) & (r.index <= end)
        loss = -r[shown]
        fig.add_scatter(x=loss.index, y=loss.to_numpy(), name="step loss (log)", mode="lines",
                        line={"color": "#444"}, legendgroup="loss", showlegend=row == 1, row=row, col=1)  # fmt: skip
        for k, model in enumerate(_MODELS):
            var = var_forecast(r, model, _LEVEL, window)[shown]
            fig.add_scatter(x=var.index, y=var.to_numpy(), name=f"VaR, {model}", mode="lines",
                            line={"color": COLORS[k % len(COLORS)], "dash": "dot"}, legendgroup=model,
                            showlegend=row == 1, row=row, col=1)  # fmt: skip
            hit = loss[(loss > var).to_numpy()]
            if len(hit):
                fig.add_scatter(x=hit.index, y=hit.to_numpy(), name=f"hit, {model}", mode="markers",
                                marker={"color": COLORS[k % len(COLORS)], "size": 7}, legendgroup=model,
                                showlegend=False, row=row, col=1)  # fmt: skip
        fig.update_yaxes(title_text="loss", tickformat=".1%", row=row, col=1)
    note = (
        "Each model forecasts a step's loss from the returns before it only; a hit is a step whose loss exceeds its "
        "VaR. Under the model's own assumption about 1 % of steps are hits, spread out in time."
    )
    return Chart(key=_KEY, section=SECTION, title=_TITLE, figure=fig, note=note)
