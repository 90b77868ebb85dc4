"""Static PNG copies of the report's charts, for documents: plotly figures rendered by kaleido in headless Chrome.

Kaleido (``pip install kaleido``) drives a Chrome or Chromium already on the machine (on Debian,
``apt-get install chromium``; elsewhere set ``BROWSER_PATH`` to the browser). It loads the plotly.js that ships
with the plotly package and, here, no MathJax, so the export makes no network request.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from firesale.report._chart import Chart

__all__ = ["PNG_WIDTH", "png_name", "write_pngs"]

PNG_WIDTH = 1100


def png_name(index: int, chart: Chart) -> str:
    """The file name of a chart's PNG: its position in the report, then its key (``03-bad-debt-tail.png``)."""
    return f"{index:02d}-{chart.key}.png"


def write_pngs(charts: Sequence[Chart], directory: Path, *, scale: float = 2.0) -> list[Path]:
    """Write one PNG per chart that has a figure into ``directory`` (created if needed); return their paths.

    Raises
    ------
    ImportError
        If kaleido is not installed.
    RuntimeError
        If kaleido finds no Chrome or Chromium to render with.
    """
    try:
        import kaleido
        from kaleido.errors import ChromeNotFoundError
    except ImportError as exc:
        raise ImportError(
            "PNG export needs the kaleido package and a Chrome or Chromium browser: pip install kaleido, and on "
            "Debian apt-get install chromium (or set BROWSER_PATH to an installed Chrome)."
        ) from exc
    directory.mkdir(parents=True, exist_ok=True)
    specs, paths = [], []
    for i, chart in enumerate(charts):
        if chart.figure is None:
            continue
        path = directory / png_name(i, chart)
        height = int(chart.figure.layout.height or 400)
        specs.append(
            {
                "fig": chart.figure.to_dict(),
                "path": path,
                "opts": {"format": "png", "width": PNG_WIDTH, "height": height, "scale": scale},
            }
        )
        paths.append(path)
    if not specs:
        return []
    try:
        # mathjax=False: kaleido would otherwise load MathJax from a CDN; the charts use no LaTeX.
        kaleido.write_fig_from_object_sync(specs, kopts={"mathjax": False})
    except ChromeNotFoundError as exc:
        raise RuntimeError(
            "PNG export found no Chrome or Chromium: install one (on Debian, apt-get install chromium) or set "
            "BROWSER_PATH to its executable."
        ) from exc
    return paths
