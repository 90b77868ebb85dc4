"""Plot primitives shared by the charts: escaped text, one house layout, percentile fans, time axes.

Plotly reads titles, legend entries and hover text as a small subset of HTML, so every user-provided string goes
through :func:`plain` first: a scenario named ``<b>x</b>`` then shows its brackets instead of bold text.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

__all__ = [
    "BAND_INNER",
    "BAND_OUTER",
    "COLORS",
    "fan",
    "figure",
    "log_share_ticks",
    "log_ticks",
    "percent_label",
    "plain",
    "share_ticks",
    "style",
    "time_axis",
]

COLORS = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d68910", "#117a8b", "#7f8c8d")
BAND_OUTER = 0.15
BAND_INNER = 0.3


def plain(text: object) -> str:
    """``text`` as literal characters for plotly: <, > and & become entities that plotly shows as themselves."""
    return html.escape(str(text), quote=False)


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def figure(title: str, *, height: int = 380, **layout: object) -> go.Figure:
    """An empty figure in the report's style; ``title`` is plotly text (escape user strings with :func:`plain`)."""
    # The template given to the constructor as an object: plotly then skips the name lookup and a deep copy,
    # which dominated the time to build a report's figures.
    fig = go.Figure(layout={"template": pio.templates["plotly_white"]})
    return _layout(fig, title, height=height, **layout)


def style(fig: go.Figure, title: str, *, height: int = 380, **layout: object) -> go.Figure:
    """Apply the report's layout to ``fig`` (e.g. one made with subplots) and return it."""
    fig.update_layout(template=pio.templates["plotly_white"])
    return _layout(fig, title, height=height, **layout)


def _layout(fig: go.Figure, title: str, *, height: int, **layout: object) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        height=height,
        # The legend sits in the figure's bottom margin, under the axis title, where it overlaps nothing.
        margin={"l": 70, "r": 20, "t": 60, "b": 95},
        legend={
            "orientation": "h",
            "yref": "container",
            "y": 0.0,
            "yanchor": "bottom",
            "x": 0.0,
            "xanchor": "left",
        },
        hovermode="x unified",
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"},
        **layout,
    )
    return fig


def time_axis(time_s: np.ndarray, horizon_s: float | None) -> tuple[np.ndarray, str]:
    """Times in the unit that suits the horizon (minutes, hours or days) and the axis title."""
    span = float(horizon_s if horizon_s else (time_s.max() if len(time_s) else 0.0))
    if span > 4 * 86_400:
        return time_s / 86_400, "time (days)"
    if span > 3 * 3_600:
        return time_s / 3_600, "time (hours)"
    return time_s / 60, "time (minutes)"


def fan(
    fig: go.Figure,
    frame: pd.DataFrame,
    x: np.ndarray,
    *,
    name: str,
    color: str,
    row: int | None = None,
    col: int | None = None,
    showlegend: bool = True,
) -> None:
    """Add percentile bands (p05-p95, p25-p75) and the median of one recorded variable to ``fig``.

    ``frame`` has one row per step and the columns p05, p25, p50, p75, p95 of the recorded path quantiles.
    """
    where = {} if row is None else {"row": row, "col": col}
    group = f"{name}-{row}-{col}"
    for lo, hi, alpha, label in (("p05", "p95", BAND_OUTER, "5–95%"), ("p25", "p75", BAND_INNER, "25–75%")):
        fig.add_trace(
            go.Scatter(
                x=x, y=frame[hi].to_numpy(), mode="lines", line={"width": 0}, hoverinfo="skip",
                showlegend=False, legendgroup=group,
            ),
            **where,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=x, y=frame[lo].to_numpy(), mode="lines", line={"width": 0}, fill="tonexty",
                fillcolor=_rgba(color, alpha), name=f"{name} {label}", hoverinfo="skip",
                showlegend=showlegend, legendgroup=group,
            ),
            **where,
        )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=x, y=frame["p50"].to_numpy(), mode="lines", line={"color": color, "width": 2},
            name=f"{name} median", showlegend=showlegend, legendgroup=group,
        ),
        **where,
    )  # fmt: skip


def _nice_step(span: float, n_target: int = 5) -> float:
    """The 1, 2 or 5 times a power of ten nearest above ``span / n_target``."""
    raw = span / n_target
    power = 10.0 ** np.floor(np.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * power >= raw * (1 - 1e-9):
            return float(m * power)
    return float(10 * power)  # pragma: no cover - the loop ends at 10


def percent_label(value: float, decimals: int) -> str:
    """A share as a percent with ``decimals`` decimals, trailing zeros dropped: ``percent_label(0.0006, 3)``.

    >>> percent_label(0.0006, 3), percent_label(0.25, 0), percent_label(0.0, 2)
    ('0.06%', '25%', '0%')
    """
    text = f"{value * 100:.{max(decimals, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def share_ticks(hi: float) -> dict[str, object]:
    """Ticks for a linear axis of shares in [0, ``hi``], with as many decimals as their spacing needs.

    A fixed format such as ``.1%`` labels every tick "0.0%" when the shares are below 0.05 %; here the spacing is
    a 1-2-5 step and the decimals follow it, so the labels are distinct at any scale.

    >>> share_ticks(0.0006)["ticktext"]
    ['0%', '0.02%', '0.04%', '0.06%']
    """
    hi = float(hi) if np.isfinite(hi) and hi > 0 else 1.0
    step = _nice_step(hi)
    values = np.round(np.arange(int(np.ceil(hi / step - 1e-9)) + 1) * step, 12)
    decimals = int(max(0, -np.floor(np.log10(step * 100) + 1e-9)))
    return {
        "tickvals": values.tolist(),
        "ticktext": [percent_label(v, decimals) for v in values],
        "range": [0.0, float(values[-1]) * 1.02],
    }


def log_ticks(lo: float, hi: float) -> np.ndarray:
    """Powers of ten spanning [lo, hi]; 2 and 5 times them too when fewer than three powers fall inside."""
    k = np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
    ticks = 10.0**k
    inside = ticks[(ticks >= lo * (1 - 1e-9)) & (ticks <= hi * (1 + 1e-9))]
    if len(inside) < 3:
        ticks = np.sort(np.concatenate([ticks, 2 * ticks, 5 * ticks]))
    return ticks[(ticks >= lo / 10) & (ticks <= hi * 10)]


def log_share_ticks(lo: float, hi: float) -> dict[str, object]:
    """Ticks for a log axis of shares in [lo, hi]: decades (and 2, 5 between when few), each labelled distinctly.

    >>> log_share_ticks(0.0006, 0.001)["ticktext"]
    ['0.01%', '0.02%', '0.05%', '0.1%', '0.2%', '0.5%']
    """
    lo = max(float(lo), 1e-12)
    hi = max(float(hi), lo)
    ticks = log_ticks(lo, hi)
    labels = [percent_label(v, int(max(0, -np.floor(np.log10(v * 100) + 1e-9)))) for v in ticks]
    return {"tickvals": ticks.tolist(), "ticktext": labels}
