"""Self-contained HTML reports of runs, a plain-text summary of the same, and PNG copies of the charts.

A report is one HTML file that opens offline in any browser: styles and plotly.js inline, no request to any other
address. It shows the run's header (scenario, seed, version, paths, horizon, wall time), the headline numbers with
their Monte Carlo standard errors, and charts: price fans (exogenous vs realised), the bad-debt distribution and
tail, the cascade, liquidator economics, health factors of the starting book, failure flags, replays against
history, and a comparison of two runs. A chart whose data the run did not record is left out with a note.

>>> import firesale
>>> from firesale.report import summarize
>>> result = firesale.simulate("toy-spiral", n_paths=8, seed=1)
>>> print(summarize(result).splitlines()[0])  # doctest: +ELLIPSIS
toy-spiral: 8 paths, seed 1, firesale ..., horizon 2 h (24 steps of 5 min).
"""

from __future__ import annotations

from firesale.report._chart import Chart
from firesale.report._charts import build_charts
from firesale.report._contagion import render_attribution, write_attribution
from firesale.report._html import render_report, write_report
from firesale.report._summary import summarize

__all__ = [
    "Chart",
    "build_charts",
    "render_attribution",
    "render_report",
    "summarize",
    "write_attribution",
    "write_report",
]
