"""Report size and time to open in headless Chromium for a 10,000-path run (targets: < 10 MB, < 3 s).

Prints figures, never fails on them. The flagship scenario (aave-v3-today) is used when it exists, else toy-spiral.
Opening is timed from navigation to the moment every chart has drawn its SVG, in a browser already running.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

import firesale
from firesale.report import build_charts, write_report
from firesale.scenario import builtin_scenarios

N_PATHS = 10_000
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
ALL_DRAWN = """() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  return divs.length > 0 && divs.every(d => d.querySelector('svg.main-svg'));
}"""


@pytest.fixture(scope="module")
def big_run():
    name = "aave-v3-today" if "aave-v3-today" in builtin_scenarios() else "toy-spiral"
    t0 = time.perf_counter()
    result = firesale.simulate(name, n_paths=N_PATHS)
    print(f"\n{name}: {N_PATHS:,} paths simulated in {time.perf_counter() - t0:.1f} s")
    return result


def _open_times(url: str, profile: Path, repeats: int = 3) -> list[tuple[float, float]]:
    """(wall seconds to every chart drawn, DOMContentLoaded in ms) for each of ``repeats`` fresh page loads."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM),
            headless=True, args=FLAGS, viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        try:
            for _ in range(repeats):
                page = ctx.new_page()
                t0 = time.perf_counter()
                page.goto(url, wait_until="domcontentloaded")
                page.wait_for_function(ALL_DRAWN, polling=20, timeout=120_000)
                wall = time.perf_counter() - t0
                dcl = page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
                out.append((wall, float(dcl)))
                page.close()
        finally:
            ctx.close()
    return out


def test_report_size_and_open_time(big_run, tmp_path, benchmark):
    path = tmp_path / "report.html"
    benchmark.pedantic(write_report, args=(big_run, path), rounds=1, iterations=1)
    size_mb = path.stat().st_size / 1e6
    n_charts = sum(c.figure is not None for c in build_charts(big_run))
    print(
        f"\nreport of {N_PATHS:,} paths: {size_mb:.2f} MB, {n_charts} charts "
        f"(target < 10 MB: {'met' if size_mb < 10 else 'MISSED'})"
    )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        print("open time not measured: pip install playwright")
        return
    if not CHROMIUM.exists():
        print(f"open time not measured: no Chromium at {CHROMIUM} (apt-get install chromium)")
        return
    times = _open_times(path.resolve().as_uri(), tmp_path / "profile")
    walls = [w for w, _ in times]
    print(
        "open in headless Chromium, to every chart drawn: "
        + ", ".join(f"{w:.2f} s" for w in walls)
        + f" (median {statistics.median(walls):.2f} s; target < 3 s: "
        + ("met" if statistics.median(walls) < 3 else "MISSED")
        + "); DOMContentLoaded "
        + ", ".join(f"{d:.0f} ms" for _, d in times)
    )
