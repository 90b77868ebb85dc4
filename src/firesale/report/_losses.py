"""Bad debt: its distribution over paths, its tail, its split by protocol, and its build-up over time."""

from __future__ import annotations

import math

import numpy as np

from firesale.report import _format as fmt
from firesale.report._chart import Chart, omitted
from firesale.report._plot import (
    COLORS,
    fan,
    figure,
    log_share_ticks,
    log_ticks,
    plain,
    share_ticks,
    time_axis,
)
from firesale.report._view import RunView
from firesale.results import expected_shortfall, value_at_risk

__all__ = ["SECTION", "bad_debt_charts", "decade_ticks", "exceedance", "log_bins"]

SECTION = "Bad debt"
# The threshold summary() uses for "any bad debt": below a millionth of a dollar is rounding, not debt.
_ZERO = 1e-6
_MARKS = (
    ("bad_debt_mean_usd", "mean"),
    ("bad_debt_var95_usd", "VaR 95%"),
    ("bad_debt_var99_usd", "VaR 99%"),
    ("bad_debt_es99_usd", "ES 99%"),
)


def exceedance(losses: np.ndarray, max_points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Empirical exceedance curve of the positive losses: x = the k-th largest loss, y = k / n.

    ``y`` is the share of paths whose loss is at least ``x``; losses of a millionth of a dollar or less count as
    none. At most ``max_points`` values of k, spaced
    logarithmically so that the far tail (k = 1, 2, ...) is kept exactly.
    """
    v = np.sort(np.asarray(losses, dtype=float))[::-1]
    n = len(v)
    n_pos = int((v > _ZERO).sum())
    if n_pos == 0:
        return np.empty(0), np.empty(0)
    k = np.unique(np.round(np.geomspace(1, n_pos, min(max_points, n_pos))).astype(np.int64))
    return v[k - 1], k / n


def log_bins(values: np.ndarray, n_bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Counts of positive ``values`` in ``n_bins`` bins equally wide in log10, and the bins' log10 edges.

    A sample with one distinct value gets one bin a tenth of a decade wide around it.
    """
    logs = np.log10(np.asarray(values, dtype=float))
    lo, hi = float(logs.min()), float(logs.max())
    if hi - lo < 1e-9:
        lo, hi, n_bins = lo - 0.05, hi + 0.05, 1
    counts, edges = np.histogram(logs, bins=n_bins, range=(lo, hi))
    return counts, edges


def decade_ticks(lo: float, hi: float, *, exponents: bool = False) -> dict[str, object]:
    """Axis ticks at the powers of ten spanning [lo, hi] USD, labelled as money ($1k, $1M, $1B).

    When fewer than three powers of ten fall inside the range, 2 and 5 times them are ticks too, so a narrow log
    axis never shows a single label.

    With ``exponents`` the axis plots log10 of dollars on a linear scale, so the tick values are the exponents.
    """
    usd = log_ticks(10.0**lo, 10.0**hi) if exponents else log_ticks(lo, hi)
    values = np.log10(usd) if exponents else usd
    return {"tickvals": values.tolist(), "ticktext": [fmt.money(v) for v in usd]}


def _histogram(view: RunView, bd: np.ndarray) -> Chart:
    title = "Bad-debt distribution"
    positive = bd[bd > _ZERO]
    if not len(positive):
        return omitted(
            "bad-debt-histogram",
            SECTION,
            title,
            f"No path of {len(bd):,} ends with bad debt: nothing to draw.",
        )
    counts, edges = log_bins(positive)
    lo_usd, hi_usd = 10.0 ** edges[:-1], 10.0 ** edges[1:]
    fig = figure("Bad debt at the end of the horizon: paths with bad debt, logarithmic bins")
    fig.add_bar(
        x=(edges[:-1] + edges[1:]) / 2, y=counts / len(bd), width=np.diff(edges), name="share of all paths",
        marker_color=COLORS[1], customdata=[f"{fmt.money(a)} to {fmt.money(b)}" for a, b in zip(lo_usd, hi_usd, strict=True)],
        hovertemplate="%{customdata}: %{y:.2%} of paths<extra></extra>",
    )  # fmt: skip
    top = float((counts / len(bd)).max()) * 1.05
    for i, (key, label) in enumerate(_MARKS):
        value = view.summary.get(key)
        if value is not None and math.isfinite(value) and value > _ZERO:
            fig.add_scatter(
                x=[math.log10(value)] * 2, y=[0, top], mode="lines", name=f"{label} {fmt.money(value)}",
                line={"color": COLORS[(i + 2) % len(COLORS)], "dash": "dash", "width": 1.5}, hoverinfo="name",
            )  # fmt: skip
    fig.update_layout(hovermode="closest", bargap=0)
    fig.update_xaxes(
        title_text="bad debt (USD, log scale)", **decade_ticks(edges[0], edges[-1], exponents=True)
    )
    fig.update_yaxes(title_text="share of all paths", **share_ticks(top))
    share = 1 - len(positive) / len(bd)
    note = (
        f"{fmt.percent(share)} of {len(bd):,} paths end with no bad debt and are not drawn; the bars hold the other "
        f"{len(positive):,}, their heights are shares of all paths. Dashed lines: mean, VaR and ES over all paths."
    )
    return Chart("bad-debt-histogram", SECTION, title, fig, note)


def _tail(bd: np.ndarray) -> Chart:
    x, y = exceedance(bd)
    title = "Bad-debt tail"
    if not len(x):
        return omitted(
            "bad-debt-tail", SECTION, title, "No path ends with bad debt, so there is no tail to draw."
        )
    fig = figure("Bad-debt tail: share of paths with at least x of bad debt (log-log)")
    fig.add_scatter(
        x=x, y=y, mode="lines+markers", line={"shape": "hv", "color": COLORS[1]}, marker={"size": 4},
        name="P(bad debt ≥ x)", hovertemplate="%{y:.3%} of paths have ≥ %{x:,.0f} USD<extra></extra>",
    )  # fmt: skip
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_xaxes(title_text="bad debt x (USD, log scale)", type="log", **decade_ticks(x.min(), x.max()))
    fig.update_yaxes(title_text="share of paths (log scale)", type="log", **log_share_ticks(y.min(), y.max()))
    note = (
        f"The rightmost point is the worst of {len(bd):,} paths; below 1/{len(bd):,} the sample says nothing."
    )
    return Chart("bad-debt-tail", SECTION, title, fig, note)


def _by_protocol(view: RunView) -> Chart:
    title = "Bad debt by protocol"
    if not view.protocols:
        return omitted("bad-debt-protocol", SECTION, title, "The run did not record bad debt per protocol.")
    stats = (
        ("mean", lambda v: float(v.mean())),
        ("VaR 95%", lambda v: value_at_risk(v, 0.95)),
        ("VaR 99%", lambda v: value_at_risk(v, 0.99)),
        ("ES 99%", lambda v: expected_shortfall(v, 0.99)),
    )
    names = [plain(p) for p in view.protocols]
    columns = [view.metrics[f"bad_debt_usd_{p}"].to_numpy(dtype=float) for p in view.protocols]
    if not any((v > _ZERO).any() for v in columns):
        return omitted(
            "bad-debt-protocol",
            SECTION,
            title,
            f"No protocol ({', '.join(view.protocols)}) has bad debt in any path.",
        )
    fig = figure("Bad debt by protocol (USD)")
    for i, (label, fn) in enumerate(stats):
        ys = [fn(v) for v in columns]
        fig.add_bar(
            x=names, y=ys, name=label, marker_color=COLORS[i], text=[fmt.money(y) for y in ys],
            textposition="outside", cliponaxis=False,
        )  # fmt: skip
    fig.update_layout(barmode="group", hovermode="closest")
    fig.update_yaxes(title_text="USD")
    shares = ", ".join(
        f"{p}: {fmt.percent(float((v > 1e-6).mean()))}" for p, v in zip(view.protocols, columns, strict=True)
    )
    return Chart("bad-debt-protocol", SECTION, title, fig, f"Share of paths with bad debt: {shares}.")


def _over_time(view: RunView) -> Chart:
    title = "Bad debt over time"
    frame = view.variable("bad_debt")
    if frame is None:
        return omitted(
            "bad-debt-time", SECTION, title,
            'The run did not record bad debt over time; add "bad_debt" to simulation.record.',
        )  # fmt: skip
    if not (frame[["p95", "mean"]].to_numpy(dtype=float) > _ZERO).any():
        return omitted("bad-debt-time", SECTION, title, "Bad debt is zero at every step of every path.")
    x, xtitle = time_axis(frame["time_s"].to_numpy(dtype=float), view.horizon_s)
    fig = figure("Bad debt over time, all protocols (USD)")
    fan(fig, frame, x, name="bad debt", color=COLORS[1])
    fig.add_scatter(x=x, y=frame["mean"].to_numpy(), name="mean", line={"color": "#111111", "dash": "dot"})
    fig.update_xaxes(title_text=xtitle)
    fig.update_yaxes(title_text="USD")
    return Chart("bad-debt-time", SECTION, title, fig, "Bad debt at market prices at each step.")


def _by_asset(view: RunView) -> Chart:
    title = "Bad debt by asset"
    cols = [
        (p, a, f"bad_debt_usd_{p}_{a}")
        for p in view.protocols
        for a in view.assets
        if f"bad_debt_usd_{p}_{a}" in view.metrics
    ]
    if not cols:
        return omitted(
            "bad-debt-asset", SECTION, title,
            "Bad debt by asset is not recorded by this run (no bad_debt_usd_<protocol>_<asset> columns).",
        )  # fmt: skip
    values = [(p, a, view.metrics[c].to_numpy(dtype=float)) for p, a, c in cols]
    values = [(p, a, v) for p, a, v in values if (v > _ZERO).any()]
    if not values:
        return omitted("bad-debt-asset", SECTION, title, "No debt asset has bad debt in any path.")
    fig = figure("Bad debt by debt asset: mean and VaR 99 % over paths (USD)")
    names = [plain(a) if len(view.protocols) == 1 else f"{plain(p)} {plain(a)}" for p, a, _ in values]
    for i, (label, fn) in enumerate(
        (("mean", lambda v: float(v.mean())), ("VaR 99%", lambda v: value_at_risk(v, 0.99)))
    ):
        ys = [fn(v) for _, _, v in values]
        fig.add_bar(
            x=names, y=ys, name=label, marker_color=COLORS[i], text=[fmt.money(y) for y in ys],
            textposition="outside", cliponaxis=False,
        )  # fmt: skip
    fig.update_layout(barmode="group", hovermode="closest")
    fig.update_yaxes(title_text="USD")
    note = "Each underwater account's shortfall split over its debts by value; assets without bad debt are left out."
    return Chart("bad-debt-asset", SECTION, title, fig, note)


def bad_debt_charts(view: RunView) -> list[Chart]:
    """Histogram, tail, split by protocol and by debt asset, and bad debt over time."""
    if "bad_debt_usd" not in view.metrics:
        note = "The run did not record bad debt per path."
        spread = [
            omitted("bad-debt-histogram", SECTION, "Bad-debt distribution", note),
            omitted("bad-debt-tail", SECTION, "Bad-debt tail", note),
        ]
    else:
        bd = view.metrics["bad_debt_usd"].to_numpy(dtype=float)
        spread = [_histogram(view, bd), _tail(bd)]
    return [*spread, _by_protocol(view), _by_asset(view), _over_time(view)]
