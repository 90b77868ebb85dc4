"""Every chart of a report, in the order the report shows them."""

from __future__ import annotations

from firesale.report._book import book_charts
from firesale.report._chart import Chart
from firesale.report._compare import comparison_charts
from firesale.report._flags import flag_charts
from firesale.report._liquidations import liquidation_charts
from firesale.report._losses import bad_debt_charts
from firesale.report._prices import price_charts, replay_charts
from firesale.report._view import RunView, as_view

__all__ = ["build_charts", "charts_of"]


def charts_of(view: RunView, compare: RunView | None = None) -> list[Chart]:
    """The charts of one run (and of the comparison, first, when ``compare`` is given)."""
    out = comparison_charts(view, compare) if compare is not None else []
    out += price_charts(view) + replay_charts(view)
    out += bad_debt_charts(view) + liquidation_charts(view) + book_charts(view) + flag_charts(view)
    return out


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
