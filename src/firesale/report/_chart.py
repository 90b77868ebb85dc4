"""A chart of the report: a plotly figure, or the note that says why the run cannot support it."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

__all__ = ["Chart", "omitted"]


@dataclass(frozen=True)
class Chart:
    """One chart of a report.

    Attributes
    ----------
    key : str
        Stable identifier, unique in a report: used for the HTML element id and the PNG file name.
    section : str
        Heading the chart sits under.
    title : str
        Plain-text title (escaped when rendered).
    figure : plotly.graph_objects.Figure or None
        None when the run did not record what the chart needs; ``note`` then says what is missing.
    note : str
        Plain text shown under the chart, or in its place when ``figure`` is None.
    """

    key: str
    section: str
    title: str
    figure: go.Figure | None
    note: str = ""


def omitted(key: str, section: str, title: str, note: str) -> Chart:
    """A chart left out because its data were not recorded, with the reason."""
    return Chart(key=key, section=section, title=title, figure=None, note=note)
