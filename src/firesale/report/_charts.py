"""Every chart of a report, in the order the report shows them."""

from __future__ import annotations

from dataclasses import replace

from firesale.report._accounts import accounts_tables
from firesale.report._backtest import backtest_report
from firesale.report._book import book_charts
from firesale.report._borrowing import COMPARE_SECTION, borrowing_comparison, borrowing_report
from firesale.report._chart import Chart
from firesale.report._compare import comparison_charts
from firesale.report._contagion import attribution_charts
from firesale.report._flags import flag_charts
from firesale.report._liquidations import liquidation_charts
from firesale.report._losses import bad_debt_charts
from firesale.report._oracle_lag import oracle_lag_report
from firesale.report._prices import price_charts, replay_charts
from firesale.report._risk import Table, risk_charts
from firesale.report._sensitivity import sensitivity_report
from firesale.report._slippage import slippage_report
from firesale.report._states import state_charts
from firesale.report._view import RunView, as_view
from firesale.report._waterfall import waterfall_report

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
    own += liquidation_charts(view) + book_charts(view) + flag_charts(view) + state_charts(view)
    own += attribution_charts(view)
    if compare is None:
        return own
    both = [_label(c, "A and B") for c in comparison_charts(view, compare)]
    return both + [_label(c, "A") for c in own]


def report_parts(
    view: RunView, compare: RunView | None, sensitivities: object
) -> tuple[list[Chart], dict[str, list[Table]]]:
    """Every chart of the page, and the tables shown at the top of some chart sections (by section title).

    Top accounts and the worst path's cascade, slippage at size and oracle lag, and the sensitivities when given,
    come after the charts of :func:`charts_of`; in a comparison they are labelled as showing run A.
    """
    tables: dict[str, list[Table]] = {}
    extra: list[Chart] = []
    wf_tables, wf_charts = waterfall_report(view)  # top accounts and the worst path's cascade: one section
    parts = [(accounts_tables(view) + wf_tables, wf_charts), slippage_report(view), oracle_lag_report(view)]
    parts.append(backtest_report(view))
    parts.append(borrowing_report(view))  # utilisation, borrowing done and refused, borrowing power
    if sensitivities is not None:
        parts.append(sensitivity_report(sensitivities))
    for part_tables, part_charts in parts:
        if compare is not None:
            part_charts = [_label(c, "A") for c in part_charts]
        if part_charts:
            tables.setdefault(part_charts[0].section, []).extend(part_tables)
        extra += part_charts
    if compare is not None:  # what B's change costs the users: both runs
        cost_tables, cost_charts = borrowing_comparison(view, compare)
        if cost_charts:
            tables.setdefault(f"{COMPARE_SECTION} · run A and B", []).extend(cost_tables)
            extra += [_label(c, "A and B") for c in cost_charts]
    return charts_of(view, compare) + extra, tables


def build_charts(source: object, *, compare: object = None, sensitivities: object = None) -> list[Chart]:
    """Build the report's charts without writing anything, e.g. to show one in a notebook.

    Parameters
    ----------
    source : SimulationResult or StoredRun
        The run (a stored run must be complete).
    compare : SimulationResult or StoredRun, optional
        A second run to compare with ``source``.
    sensitivities : SensitivityResult, optional
        Sensitivities of the run's scenario, charted as the section "What to change".

    Returns
    -------
    list of Chart
        In report order; a chart whose data the run did not record has ``figure=None`` and a ``note`` saying so.

    Raises
    ------
    ParameterError
        If ``source`` or ``compare`` is not a run, or is a stored run that did not complete.
    """
    from firesale.report._html import _check_sensitivities

    view = as_view(source, where="build_charts")
    other = None if compare is None else as_view(compare, name="compare", where="build_charts")
    return report_parts(view, other, _check_sensitivities(sensitivities, "build_charts"))[0]
