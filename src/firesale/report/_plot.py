"""Plot primitives shared by the charts: escaped text, one house layout, percentile fans, time axes.

Plotly reads titles, legend entries and hover text as a small subset of HTML, so every user-provided string goes
through :func:`plain` first: a scenario named ``<b>x</b>`` then shows its brackets instead of bold text.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

__all__ = [
    "BAND_INNER",
    "BAND_OUTER",
    "COLORS",
    "fan",
    "figure",
    "plain",
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
    return style(go.Figure(), title, height=height, **layout)


def style(fig: go.Figure, title: str, *, height: int = 380, **layout: object) -> go.Figure:
    """Apply the report's layout to ``fig`` (e.g. one made with subplots) and return it."""
    fig.update_layout(
        template="plotly_white",
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
