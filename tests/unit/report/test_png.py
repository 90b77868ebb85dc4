"""Static PNG copies of the charts, rendered by kaleido in Debian's headless Chromium (skipped without either)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from firesale.report import build_charts, write_report

CHROMIUM = Path("/usr/bin/chromium")

pytest.importorskip("kaleido", reason="PNG export needs kaleido: `pip install kaleido`")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"headless Chromium not found at {CHROMIUM}: install it with `apt-get install chromium` to test PNG export",
)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk (PNG spec: 8-byte signature, chunk length and type, then the sizes)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@needs_chromium
def test_one_png_per_drawn_chart(result, tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(CHROMIUM))
    write_report(result, tmp_path / "report.html", png_dir=tmp_path / "png")
    charts = build_charts(result)
    expected = [f"{i:02d}-{c.key}.png" for i, c in enumerate(charts) if c.figure is not None]
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == expected
    for i, chart in enumerate(charts):
        if chart.figure is not None:
            # 1100 px wide at scale 2; the figure's own height, also doubled.
            assert png_size(tmp_path / "png" / f"{i:02d}-{chart.key}.png") == (
                2200,
                2 * chart.figure.layout.height,
            )


def test_no_browser_says_how_to_get_one(result, tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    with pytest.raises(
        RuntimeError, match=r"PNG export found no Chrome or Chromium: install one \(on Debian"
    ):
        write_report(result, tmp_path / "report.html", png_dir=tmp_path / "png")
    assert (tmp_path / "report.html").exists()
