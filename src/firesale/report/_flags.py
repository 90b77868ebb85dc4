"""Systemic-failure flags: how long each path spent with liquidity gone, liquidations stuck, or oracles off."""

from __future__ import annotations

import numpy as np
import pandas as pd

from firesale.report import _format as fmt
from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, figure, share_ticks, time_axis
from firesale.report._view import RunView

__all__ = ["FLAGS", "SECTION", "at_least", "flag_charts"]

SECTION = "Systemic failure flags"
FLAGS = (
    ("steps_liquidity_flag", "flag_liquidity", "liquidity near zero"),
    ("steps_unclearable_flag", "flag_unclearable", "liquidations cannot clear"),
    ("steps_oracle_flag", "flag_oracle", "oracle off or failed"),
    ("steps_in_failure_state", None, "failure state (2+ flags)"),
)


def at_least(steps: np.ndarray, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Share of paths with at least k flagged steps, for k = 1 .. n_steps.

    Returns
    -------
    k : ndarray of shape (n_steps,)
    share : ndarray of shape (n_steps,)
    """
    s = np.asarray(steps, dtype=np.int64)
    counts = np.bincount(np.clip(s, 0, n_steps), minlength=n_steps + 1)
    # Paths with >= k steps: the counts at k and above, summed from the top.
    ge = np.cumsum(counts[::-1])[::-1]
    k = np.arange(1, n_steps + 1)
    return k, ge[1:] / max(len(s), 1)


def _per_path(view: RunView) -> Chart:
    title = "Time in each failure flag, per path"
    present = [(col, label) for col, _, label in FLAGS if col in view.metrics]
    if not present:
        return omitted("flags-per-path", SECTION, title, "The run did not record failure flags.")
    fig = figure(f"Share of paths that spent at least k of the {view.n_steps:,} steps in each failure flag")
    for i, (col, label) in enumerate(present):
        k, share = at_least(view.metrics[col].to_numpy(), view.n_steps)
        fig.add_scatter(
            x=k, y=share, name=label, mode="lines", line={"color": COLORS[i], "shape": "hv"},
            hovertemplate=f"{label}: %{{y:.2%}} of paths for ≥ %{{x}} steps<extra></extra>",
        )  # fmt: skip
    fig.update_layout(hovermode="closest")
    step = f" (one step is {fmt.duration(view.dt)})" if view.dt else ""
    fig.update_xaxes(title_text=f"k, steps flagged{step}", rangemode="tozero")
    top = max((float(np.max(t.y)) for t in fig.data if len(t.y)), default=1.0)
    fig.update_yaxes(title_text="share of paths", **share_ticks(top))
    shares = "; ".join(
        f"{label}: {fmt.percent(float((view.metrics[col] > 0).mean()))} of paths ever, "
        f"{float(view.metrics[col].mean()):.3g} steps on average"
        for col, label in present
    )
    note = (
        "Liquidity near zero: a venue's depth below its threshold share of the start. Cannot clear: liquidatable "
        "accounts left unserved (capital, block space or profitability). Oracle: a feed off the market by more than "
        f"its tolerance, or faulted. At k = 1 each curve is the share of paths ever flagged. Per flag: {shares}."
    )
    return Chart("flags-per-path", SECTION, title, fig, note)


def _over_time(view: RunView) -> Chart:
    title = "Share of paths in each failure flag over time"
    frames: list[tuple[pd.DataFrame, str]] = []
    for _, var, label in FLAGS:
        frame = view.variable(var) if var is not None else None
        if frame is not None:
            frames.append((frame, label))
    if not frames:
        return omitted(
            "flags-time", SECTION, title,
            'The run did not record flags over time; add "flags" to simulation.record.',
        )  # fmt: skip
    x, xtitle = time_axis(frames[0][0]["time_s"].to_numpy(dtype=float), view.horizon_s)
    fig = figure("Share of paths with each failure flag raised, by step")
    for i, (frame, label) in enumerate(frames):
        # A flag is 0 or 1 per path, so its mean over paths is the share of paths flagged.
        fig.add_scatter(x=x, y=frame["mean"].to_numpy(), name=label, line={"color": COLORS[i], "shape": "hv"})
    fig.update_xaxes(title_text=xtitle)
    top = max((float(np.max(t.y)) for t in fig.data if len(t.y)), default=1.0)
    fig.update_yaxes(title_text="share of paths", **share_ticks(top))
    return Chart("flags-time", SECTION, title, fig)


def flag_charts(view: RunView) -> list[Chart]:
    """Distribution over paths of the steps spent in each flag, and the share of paths flagged by step."""
    return [_per_path(view), _over_time(view)]
