"""The contagion report: each protocol's loss as a waterfall from its own exposure through the channels to its total.

One offline HTML file like the run report (plotly.js inlined, a CSP that blocks every request, user strings
escaped), for an :class:`firesale.contagion.Attribution`.
"""

from __future__ import annotations

import os
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import escape

from firesale._version import __version__
from firesale.exceptions import ParameterError
from firesale.report._chart import Chart

__all__ = ["attribution_charts", "render_attribution", "write_attribution"]

_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
_LABELS = {"bad_debt_usd": "Bad debt", "liquidated_usd": "Liquidated (debt repaid)"}
_HOW = (
    "Each protocol's loss splits into its own exposure (every channel cut: the others' sales absorbed outside "
    "the venues, derived tokens tracking their underlying, liquidators of its own) and the Shapley share of each "
    "channel; the shares add up to the total on every path. Intervals are paired: the parts come from the same "
    "paths (common random numbers)."
)


def _label(row) -> str:  # type: ignore[no-untyped-def]
    half = (row["ci_high"] - row["ci_low"]) / 2
    return f"${row['mean']:,.0f}" + (f" ± {half:,.0f}" if half == half else "")  # no interval from one path


def _channels(table) -> list[str]:  # type: ignore[no-untyped-def]
    return [c for c in dict.fromkeys(table["component"]) if c not in ("own", "total")]


def _waterfall(table, n_paths: int, protocol: str, metric: str) -> go.Figure:  # type: ignore[no-untyped-def]
    rows = table[(table["protocol"] == protocol) & (table["metric"] == metric)].set_index("component")
    channels = _channels(table)
    comps = ["own", *channels]
    fig = go.Figure(
        go.Waterfall(
            x=[*comps, "total"], measure=["absolute"] + ["relative"] * len(channels) + ["total"],
            y=[float(rows.loc[c, "mean"]) for c in comps] + [0.0],
            text=[_label(rows.loc[c]) for c in [*comps, "total"]],
            textposition="outside", connector={"line": {"color": "#888"}},
        )
    )  # fmt: skip
    fig.update_layout(
        title=f"{protocol}: {_LABELS[metric]} by channel (mean USD over {n_paths} paths, paired 95 % CI)",
        height=380, margin={"t": 60, "l": 60, "r": 20, "b": 40}, yaxis_title="USD", showlegend=False,
    )  # fmt: skip
    return fig


def attribution_charts(view) -> list[Chart]:  # type: ignore[no-untyped-def]
    """The run report's "Contagion by channel" section: one waterfall per protocol and metric, when the run was
    attributed (``firesale run --attribute``); else one note saying how to get it."""
    section = "Contagion by channel"
    table = view.attribution
    if table is None or table.empty:
        if len(view.protocols) < 2:
            return []
        return [Chart("contagion", section, "Losses by contagion channel", None,
                      "Not computed for this run: run it with --attribute (or use firesale contagion) to split each "
                      "protocol's losses into its own exposure and the channels that carried the rest.")]  # fmt: skip
    out = []
    for metric in dict.fromkeys(table["metric"]):
        for protocol in dict.fromkeys(table["protocol"]):
            key = f"contagion-{protocol}-{metric}".replace("_", "-")
            out.append(Chart(key, section, f"{protocol}: {_LABELS[metric]} by channel",
                             _waterfall(table, view.n_paths, protocol, metric), _HOW))  # fmt: skip
    return out


def render_attribution(att, scenario_name: str = "") -> str:  # type: ignore[no-untyped-def]
    """The HTML text of the contagion report of ``att``."""
    parts, first = [], True
    for metric in dict.fromkeys(att.table["metric"]):
        for protocol in dict.fromkeys(att.table["protocol"]):
            fig = _waterfall(att.table, att.n_paths, protocol, metric)
            parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=first,
                                     config={"displaylogo": False, "typesetMath": False}))  # fmt: skip
            first = False
    table = att.table.to_html(index=False, float_format=lambda x: f"{x:,.2f}", escape=True)
    title = escape(f"Contagion by channel: {scenario_name}" if scenario_name else "Contagion by channel")
    how = _HOW
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}"><title>{title}</title>'
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}</style></head><body>"
        f"<h1>{title}</h1><p>{escape(how)}</p><p>firesale {escape(__version__)}, {att.n_paths} paths, seed "
        f"{att.seed}.</p>{''.join(parts)}<h2>All components</h2>{table}</body></html>"
    )


def write_attribution(att, path: str | os.PathLike[str], scenario_name: str = "") -> Path:  # type: ignore[no-untyped-def]
    """Write the contagion report of ``att`` to ``path``; return the path."""
    out = Path(path)
    if out.is_dir() or not out.parent.is_dir():
        raise ParameterError(
            f"The 'path' parameter of write_attribution must be a file in an existing folder. Got {str(path)!r} instead."
        )
    out.write_text(render_attribution(att, scenario_name))
    return out
