"""Failure state by step: the monitor's classifier (:mod:`firesale.monitor`) run on the simulated paths.

What the run recorded for it (``simulation.record``: ``depth``, ``slippage``, ``staleness``, ``oracle_deviation``,
``unserved``) is graded dimension by dimension with the default thresholds (:mod:`firesale.monitor.thresholds`):
the share of paths stable, stressed and in systemic failure at each step, and the first step at which the median
path is stressed and in failure, with the reasons in words. A fresh run is classified path by path; a stored run
shows the shares stored with it and grades its recorded medians (:mod:`firesale.monitor._run_states`).
"""

from __future__ import annotations

import tomllib

from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, figure, share_ticks, time_axis
from firesale.report._view import RunView

__all__ = ["SECTION", "state_charts"]

SECTION = "Failure state (classifier)"
_PREFIXES = ("depth_", "slippage_", "staleness_", "oracle_deviation_", "unserved_share")


def _graded(names: list[str]) -> bool:
    return any(n.startswith(_PREFIXES) for n in names)


def state_charts(view: RunView) -> list[Chart]:
    """The share of paths in each state by step, and the median path's first stressed and failed steps."""
    from firesale.monitor._run_states import heartbeats_of, run_states

    title = "Share of paths stable, stressed and in systemic failure, by step"
    names = list(view.paths) if view.paths else sorted(set(view.series.get("variable", [])))
    if not view.dt or not _graded(names):
        return [
            omitted(
                "states-time", SECTION, title,
                'The run recorded nothing the classifier grades; add "slippage", "staleness", "oracle_deviation", '
                '"unserved" or "depth" to simulation.record.',
            )
        ]  # fmt: skip
    try:
        oracles = tomllib.loads(view.scenario_text).get("oracles", []) if view.scenario_text else []
    except tomllib.TOMLDecodeError:
        oracles = []
    beats = heartbeats_of(oracles)
    if view.paths:
        rs = run_states((dict(view.paths), view.dt), heartbeats=beats)
    else:
        rs = run_states((view.series, view.dt), heartbeats=beats, shares=view.states)
    note = " ".join(f"{line[0].upper()}{line[1:]}." for line in rs.summary())
    note += (
        " Default thresholds (firesale.monitor.thresholds); a feed is stale only past its heartbeat; "
        "`firesale classify RUN_ID --band ...` grades a stored run with others."
    )
    if rs.shares is None:
        return [
            omitted(
                "states-time", SECTION, title, "The paths were not kept, so only the median path: " + note
            )
        ]
    x, xtitle = time_axis(rs.shares["time_s"].to_numpy(dtype=float), view.horizon_s)
    fig = figure("Share of paths in each state (stacked), by step")
    for i, (key, label) in enumerate(
        (("stable", "stable"), ("stressed", "stressed"), ("failure", "systemic failure"))
    ):
        fig.add_scatter(
            x=x, y=rs.shares[key].to_numpy(), name=label, stackgroup="states", mode="lines",
            line={"color": (COLORS[2], COLORS[4], COLORS[1])[i], "shape": "hv"},
            hovertemplate=f"{label}: %{{y:.1%}} of paths<extra></extra>",
        )  # fmt: skip
    fig.update_xaxes(title_text=xtitle)
    fig.update_yaxes(title_text="share of paths", **share_ticks(1.0))
    return [Chart("states-time", SECTION, title, fig, note)]
