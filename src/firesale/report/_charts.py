"""Every chart of a report, in the order the report shows them."""

from __future__ import annotations

from dataclasses import replace

from firesale.report._book import book_charts
from firesale.report._chart import Chart
from firesale.report._compare import comparison_charts
from firesale.report._flags import flag_charts
from firesale.report._liquidations import liquidation_charts
from firesale.report._losses import bad_debt_charts
from firesale.report._prices import price_charts, replay_charts
from firesale.report._risk import risk_charts
from firesale.report._view import RunView, as_view

__all__ = ["build_charts", "charts_of"]


def _label(chart: Chart, tag: str) -> Chart:
    """``chart`` marked as showing run ``tag`` ("A", or "A and B"): in its section, title and figure title."""
    figure = chart.figure
    if figure is not None:
        text = figure.layout.title.text or ""
        figure.update_layout(title_text=f"{tag}: {text}")
    return replace(
        chart, section=f"{chart.section} · run {tag}", title=f"{tag}: {chart.title}", figure=figure
    )


def charts_of(view: RunView, compare: RunView | None = None) -> list[Chart]:
    """The charts of one run (and of the comparison, first, when ``compare`` is given).

    In a comparison every chart says which run it shows: the comparison charts "A and B", the others "A" (the
    report's own run).
    """
    own = price_charts(view) + replay_charts(view) + bad_debt_charts(view) + risk_charts(view)
    own += liquidation_charts(view) + book_charts(view) + flag_charts(view)
    if compare is None:
        return own
    both = [_label(c, "A and B") for c in comparison_charts(view, compare)]
    return both + [_label(c, "A") for c in own]


def build_charts(source: object, *, compare: object = None) -> list[Chart]:
    """Build the report's charts without writing anything, e.g. to show one in a notebook.

    Parameters
    ----------
    source : SimulationResult or StoredRun
        The run (a stored run must be complete).
    compare : SimulationResult or StoredRun, optional
        A second run to compare with ``source``.

    Returns
    -------
    list of Chart
        In report order; a chart whose data the run did not record has ``figure=None`` and a ``note`` saying so.

    Raises
    ------
    ParameterError
        If ``source`` or ``compare`` is not a run, or is a stored run that did not complete.
    """
    view = as_view(source, where="build_charts")
    other = None if compare is None else as_view(compare, name="compare", where="build_charts")
    return charts_of(view, other)
