"""The self-contained HTML report: a Jinja2 template (autoescaped) around plotly figures, plotly.js inlined once."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import plotly
import plotly.io as pio
from markupsafe import Markup

from firesale._version import __version__
from firesale.analysis.compare import scenario_differences
from firesale.exceptions import ParameterError
from firesale.report import _format as fmt
from firesale.report._accounts import missing_note as accounts_missing
from firesale.report._chart import Chart
from firesale.report._charts import report_parts
from firesale.report._headline import differences, headlines, is_paired
from firesale.report._png import write_pngs
from firesale.report._risk import Table, risk_tables, why_notes
from firesale.report._summary import summary_text
from firesale.report._view import RunView, as_view

__all__ = ["render_report", "write_report"]

# typesetMath off: a title such as "$1M to $2M" must never make plotly.js look for MathJax.
_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "typesetMath": False}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("firesale.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _cell(value: object) -> str:
    """A scenario value as a table cell: "not set" for a missing key, TOML-like text otherwise."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _sections(charts: list[Chart]) -> list[tuple[str, list[dict[str, object]]]]:
    """Charts grouped by section in order, each with its plotly HTML (plotly.js inlined with the first only)."""
    out: list[tuple[str, list[dict[str, object]]]] = []
    inlined = False
    for chart in charts:
        body = None
        if chart.figure is not None:
            # plotly's own output, trusted as markup: it JSON-encodes data with <, > and / escaped.
            body = Markup(
                pio.to_html(
                    chart.figure, full_html=False, include_plotlyjs=not inlined, include_mathjax=False,
                    div_id=f"chart-{chart.key}", config=_PLOTLY_CONFIG, validate=False,
                )
            )  # fmt: skip
            inlined = True
        if not out or out[-1][0] != chart.section:
            out.append((chart.section, []))
        out[-1][1].append({"key": chart.key, "title": chart.title, "html": body, "note": chart.note})
    return out


def _check_sensitivities(value: object, where: str) -> object:
    from firesale.analysis.sensitivity import SensitivityResult

    if value is not None and not isinstance(value, SensitivityResult):
        raise ParameterError(
            f"The 'sensitivities' parameter of {where} must be a SensitivityResult (firesale.analysis.sensitivity."
            f"sensitivities). Got {type(value).__name__} instead."
        )
    return value


def _why(view: RunView, sensitivities: object) -> list[tuple[str, str]]:
    """What the page still cannot say: the notes of :func:`why_notes` less what this page now shows."""
    out = []
    for topic, text in why_notes(view):
        if topic.startswith("Slippage at size"):
            continue  # shown, or the section says why not (the cascade waterfall re-simulates the worst path)
        if topic.startswith("Top accounts"):
            missing = accounts_missing(view)
            if missing is None:
                continue
            text = missing
        elif topic.startswith("Sensitivities"):
            if sensitivities is not None:
                continue
            text = (
                "Not computed for this page: run `firesale sensitivities SCENARIO --report PATH`, which moves each "
                "reserve's threshold and bonus and each venue's depth one step down and up on common random "
                "numbers and adds the ranked effects, with paired intervals, to the report."
            )
        out.append((topic, text))
    return out


def _render(
    view: RunView,
    compare: RunView | None,
    charts: list[Chart],
    section_tables: dict[str, list[Table]] | None = None,
    sensitivities: object = None,
) -> str:
    template = _ENV.get_template("report.html.j2")
    if (
        compare is not None
    ):  # the mitigation's cost, at the top of the policy section (firesale.report._policy)
        from firesale.report._policy import TABLE_SECTION, policy_tables

        section_tables = {**(section_tables or {}), TABLE_SECTION: policy_tables(view, compare)}
    step = fmt.duration(view.dt) if view.dt else "unknown"
    changed = scenario_differences(view.scenario_text, compare.scenario_text) if compare is not None else []
    return template.render(
        tables=risk_tables(view),
        why=_why(view, sensitivities),
        section_tables=section_tables or {},
        paired=compare is not None and is_paired(view, compare),
        changed=[(k, _cell(a), _cell(b)) for k, a, b in changed],
        view=view,
        compare=compare,
        horizon=f"{fmt.duration(view.horizon_s)} ({view.n_steps:,} steps of {step})",
        wall=fmt.duration(view.wall_seconds),
        headlines=headlines(view),
        differences=differences(view, compare) if compare is not None else [],
        sections=_sections(charts),
        summary=summary_text(view, compare).splitlines(),
        n_charts=sum(c.figure is not None for c in charts),
        generator=__version__,
        plotly_version=plotly.__version__,
    )


def render_report(source: object, *, compare: object = None, sensitivities: object = None) -> str:
    """Render the HTML report of a run as a string.

    Parameters
    ----------
    source : SimulationResult or StoredRun
        The run (a stored run must be complete).
    compare : SimulationResult or StoredRun, optional
        A second run shown side by side, with the differences of the headline numbers.
    sensitivities : SensitivityResult, optional
        Sensitivities of the run's scenario (:func:`firesale.analysis.sensitivity.sensitivities`), shown as the
        section "What to change".

    Returns
    -------
    str
        One self-contained HTML document: styles and plotly.js inline, no external request.

    Raises
    ------
    ParameterError
        If ``source`` or ``compare`` is not a run, or is a stored run that did not complete.
    """
    view = as_view(source, where="render_report")
    other = None if compare is None else as_view(compare, name="compare", where="render_report")
    sens = _check_sensitivities(sensitivities, "render_report")
    charts, tables = report_parts(view, other, sens)
    return _render(view, other, charts, tables, sens)


def _check_path(value: object, name: str) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise ParameterError(
            f"The '{name}' parameter of write_report must be a path (str or os.PathLike). "
            f"Got {type(value).__name__} instead."
        )
    return Path(value)


def write_report(
    source: object,
    path: str | os.PathLike[str],
    *,
    compare: object = None,
    png_dir: str | os.PathLike[str] | None = None,
    sensitivities: object = None,
) -> Path:
    """Write the HTML report of a run to ``path`` (and, optionally, one PNG per chart).

    Parameters
    ----------
    source : SimulationResult or StoredRun
        The run (a stored run must be complete).
    path : str or path
        The HTML file to write; its folder is created if needed, an existing file is replaced.
    compare : SimulationResult or StoredRun, optional
        A second run shown side by side, with the differences of the headline numbers.
    png_dir : str or path, optional
        A folder to write a static PNG of each chart into (``NN-<chart key>.png``); needs kaleido and a Chrome.
    sensitivities : SensitivityResult, optional
        Sensitivities of the run's scenario, shown as the section "What to change".

    Returns
    -------
    Path
        The HTML file written.

    Raises
    ------
    ParameterError
        If an argument is invalid: not a run, an unfinished stored run, or a path that is a folder.
    ImportError, RuntimeError
        If ``png_dir`` is given and kaleido or a Chrome is missing (the HTML is written first).

    Examples
    --------
    >>> import firesale, tempfile, pathlib
    >>> from firesale.report import write_report
    >>> result = firesale.simulate("toy-spiral", n_paths=8, seed=1)
    >>> out = write_report(result, pathlib.Path(tempfile.mkdtemp()) / "report.html")
    >>> out.read_text().startswith("<!DOCTYPE html>")
    True
    """
    target = _check_path(path, "path")
    if target.is_dir():
        raise ParameterError(
            f"The 'path' parameter of write_report must be a file, not a folder. Got {str(target)!r} instead."
        )
    pngs = None if png_dir is None else _check_path(png_dir, "png_dir")
    view = as_view(source)
    other = None if compare is None else as_view(compare, name="compare")
    sens = _check_sensitivities(sensitivities, "write_report")
    charts, tables = report_parts(view, other, sens)
    text = _render(view, other, charts, tables, sens)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed, so a reader never sees half a report.
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    if pngs is not None:
        write_pngs(charts, pngs)
    return target
