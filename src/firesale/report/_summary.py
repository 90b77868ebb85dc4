"""The report in words, for the terminal: the same headline numbers, as a few plain sentences."""

from __future__ import annotations

import math

from firesale.report import _format as fmt
from firesale.report._headline import Headline, differences, headlines, is_paired
from firesale.report._view import RunView, as_view

__all__ = ["summarize", "summary_text"]


def _pm(h: Headline | None) -> str:
    """``value ± se`` (or the value alone when the run reports no standard error)."""
    if h is None:
        return "n/a"
    return h.text if math.isnan(h.se) else f"{h.text} ± {h.se_text}"


def _amplification(rows: dict[str, Headline]) -> str:
    parts = []
    for key, h in rows.items():
        if key.startswith("amplification_") and math.isfinite(h.value):
            asset = key.removeprefix("amplification_")
            parts.append(f"{asset} {h.text}")
    if not parts:
        return ""
    return (
        "Amplification (mean realised drawdown over mean exogenous drawdown; above 1 means liquidations deepened "
        f"the fall): {', '.join(parts)}."
    )


def summary_text(view: RunView, compare: RunView | None = None) -> str:
    """The words of :func:`summarize` for an already-read run."""
    rows = {h.key: h for h in headlines(view)}
    horizon = fmt.duration(view.horizon_s)
    step = f"{view.n_steps:,} steps of {fmt.duration(view.dt)}" if view.dt else f"{view.n_steps:,} steps"
    run = f", run {view.run_id}" if view.run_id else ""
    lines = [
        f"{view.name}{run}: {view.n_paths:,} paths, seed {view.seed}, firesale {view.version}, horizon {horizon} "
        f"({step})."
    ]
    who = "the protocol ends" if len(view.protocols) <= 1 else "at least one protocol ends"
    if "p_insolvency" in rows:
        lines.append(f"In {_pm(rows['p_insolvency'])} of {view.n_paths:,} paths {who} insolvent.")
    if "bad_debt_mean_usd" in rows:
        tail = ", ".join(
            f"{label} {rows[k].text}"
            for k, label in (("bad_debt_var99_usd", "VaR 99%"), ("bad_debt_es99_usd", "ES 99%"))
            if k in rows
        )
        share = f" in {_pm(rows['p_bad_debt'])} of paths" if "p_bad_debt" in rows else ""
        lines.append(
            f"Expected bad debt {_pm(rows['bad_debt_mean_usd'])}; bad debt occurs{share}"
            + (f"; {tail}." if tail else ".")
        )
    if "liquidated_mean_usd" in rows:
        depth = (
            f", at most {rows['max_cascade_rounds'].text} cascade round"
            f"{'' if rows['max_cascade_rounds'].value == 1 else 's'} in one step"
            if "max_cascade_rounds" in rows
            else ""
        )
        slip = (
            f"; liquidators lost {rows['slippage_mean_usd'].text} to slippage"
            if "slippage_mean_usd" in rows
            else ""
        )
        lines.append(
            f"Liquidations repaid {rows['liquidated_mean_usd'].text} of debt per path on average{depth}{slip}."
        )
    amp = _amplification(rows)
    if amp:
        lines.append(amp)
    if "p_failure_state" in rows:
        lines.append(
            f"Systemic failure state (two or more failure flags at once) in {rows['p_failure_state'].text} of paths."
        )
    if compare is not None:
        diffs = {d.key: d for d in differences(view, compare)}
        parts = []
        for key, label in (
            ("bad_debt_mean_usd", "expected bad debt"),
            ("p_insolvency", "P(insolvency)"),
            ("bad_debt_es99_usd", "ES 99%"),
        ):
            d = diffs.get(key)
            if d is not None and d.a is not None and d.b is not None:
                se = "" if math.isnan(d.delta_se) else f" ± {d.delta_se_text}"
                parts.append(f"{label} {d.delta_text}{se}")
        if parts:
            how = "B minus A, paired on common random numbers" if is_paired(view, compare) else "B minus A"
            lines.append(f"Compared with {compare.label} ({how}): {'; '.join(parts)}.")
    return "\n".join(lines)


def summarize(source: object, *, compare: object = None) -> str:
    """Say what the report shows in a few plain sentences, for the terminal.

    Parameters
    ----------
    source : SimulationResult or StoredRun
        The run (a stored run must be complete).
    compare : SimulationResult or StoredRun, optional
        A second run; adds a sentence with the differences (``compare`` minus ``source``).

    Returns
    -------
    str
        One sentence per line, e.g. ``"In 1.20% ± 0.11% of 10,000 paths the protocol ends insolvent."``

    Raises
    ------
    ParameterError
        If ``source`` or ``compare`` is not a run, or is a stored run that did not complete.
    """
    view = as_view(source, where="summarize")
    other = None if compare is None else as_view(compare, name="compare", where="summarize")
    return summary_text(view, other)
