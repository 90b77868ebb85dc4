"""The report in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Every chart must render (an SVG with drawn traces in each plotly div), the console must stay free of errors, the
page must request nothing but its own file, and user strings must show as text. A full-page screenshot is saved
under the test's tmp dir and its path printed (``pytest -s`` shows it).

Playwright drives the system browser through ``executable_path``; it downloads no browser of its own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from firesale.analysis.sensitivity import STATISTICS, SensitivityResult
from firesale.report import build_charts, write_report

CHROMIUM = Path("/usr/bin/chromium")
# The user-data dir is Playwright's launch_persistent_context argument (it refuses --user-data-dir in args).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL_NAME = "<script>alert(1)</script>"
EVIL_PROTOCOL = "<b>bold</b>"
ALL_DRAWN = """() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  return divs.length > 0 && divs.every(d => d.querySelector('svg.main-svg, canvas'));
}"""
STATE = """() => [...document.querySelectorAll('.plotly-graph-div')].map(d => ({
  id: d.id,
  svg: d.querySelectorAll('svg.main-svg').length,
  canvas: d.querySelectorAll('canvas').length,
  traces: d.querySelectorAll('g.trace').length,
  width: d.getBoundingClientRect().width,
  height: d.getBoundingClientRect().height,
}))"""

if not CHROMIUM.exists():
    pytest.skip(
        f"headless Chromium not found at {CHROMIUM}: install Debian's browser with `apt-get install chromium` "
        "(CI's .ci/run does) to run the browser test",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright's Python package is missing: `pip install playwright` (no browser download is needed; "
    "the test drives /usr/bin/chromium)",
)


NEW_CHARTS = {
    "worst-paths", "worst-prices", "liquidation-curve-asset", "bad-debt-asset", "slippage-at-size", "oracle-lag",
    "sensitivities", "utilisation-0", "borrowing-power", "compare-borrowing-power",
}  # fmt: skip


def _sensitivities(run) -> SensitivityResult:
    """One bump with made-up effects: enough for the section and its chart to draw."""
    rows = [
        {"key": "protocols.lender.reserves.WETH.liquidation_bonus", "label": f"{EVIL_PROTOCOL} WETH bonus",
         "kind": "bonus", "step": "-0.01 / +0.01", "base_value": 0.05, "down": 0.04, "up": 0.06, "statistic": key,
         "statistic_label": label, "unit": unit, "method": "central", "effect": 1.0, "se": 0.1, "ci_low": 0.8,
         "ci_high": 1.2, "se_unpaired": 0.3, "down_effect": -1.0, "down_se": 0.1, "up_effect": 1.0, "up_se": 0.1,
         "significant": True}
        for key, label, unit in STATISTICS
    ]  # fmt: skip
    base = {"bad_debt_mean_usd": 1.0, "p_bad_debt": 0.1, "liquidated_mean_usd": 1.0}
    return SensitivityResult(run.scenario.name, 7, 100, base, pd.DataFrame(rows), [], 0.95, 1.0, run)


def test_report_renders_in_chromium(make_run, tmp_path):
    run = make_run(name=EVIL_NAME, protocol=EVIL_PROTOCOL)
    metrics = run.metrics.copy()
    metrics[f"bad_debt_usd_{EVIL_PROTOCOL}_USDC"] = metrics[f"bad_debt_usd_{EVIL_PROTOCOL}"]
    # Borrowing on (firesale.report._borrowing): new debt drawn and refused, and the USDC pool's utilisation.
    metrics[f"{EVIL_PROTOCOL}.borrowed_usd"] = 10.0 * np.arange(len(metrics))
    metrics[f"{EVIL_PROTOCOL}.borrow_refused_usd"] = np.where(np.arange(len(metrics)) % 2 == 0, 5.0, 0.0)
    # Oracle answers recorded: the ETH feed stuck at its start for an hour, then the market.
    paths = dict(run.paths)
    paths["oracle_eth-usd"] = np.where(np.arange(25)[None, :] < 12, 2000.0, paths["price_WETH"]).astype(
        np.float32
    )
    paths[f"{EVIL_PROTOCOL}.utilisation_USDC"] = (0.5 + 0.004 * np.arange(25)[None, :] * np.linspace(
        0.5, 1.0, len(metrics))[:, None]).astype(np.float32)  # fmt: skip
    run = dataclasses.replace(run, metrics=metrics, paths=paths)
    sens = _sensitivities(run)
    report = write_report(run, tmp_path / "report.html", compare=run, sensitivities=sens)
    charts = build_charts(run, compare=run, sensitivities=sens)
    expected = [f"chart-{c.key}" for c in charts if c.figure is not None]
    url = report.resolve().as_uri()
    console: list[tuple[str, str]] = []
    errors: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    shot = tmp_path / "report.png"

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        try:
            page = ctx.new_page()
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", on_dialog)
            page.goto(url, wait_until="load")
            page.wait_for_function(ALL_DRAWN, timeout=60_000)
            state = page.evaluate(STATE)
            title = page.inner_text("#scenario-name")
            legend = page.eval_on_selector_all(
                "#chart-compare-tail .legendtext", "els => els.map(e => e.textContent)"
            )
            ticks = page.eval_on_selector_all(
                "#chart-bad-debt-protocol .xtick text", "els => els.map(e => e.textContent)"
            )
            book = page.eval_on_selector_all("#bad-debt-book tbody tr", "els => els.map(e => e.textContent)")
            changed = page.inner_text("#scenario-differences")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            ctx.close()
    print(f"\nscreenshot of the report: {shot}")

    assert [s["id"] for s in state] == expected
    assert {f"chart-{k}" for k in NEW_CHARTS} <= set(expected)
    assert len(book) == 1 and EVIL_PROTOCOL in book[0]  # the book table, with the name as text
    assert changed == "None: both runs used the same scenario text."
    for s in state:
        assert s["svg"] + s["canvas"] > 0, s
        assert s["traces"] > 0, s  # data drawn, not only axes
        assert s["width"] > 300 and s["height"] > 200, s
    assert [m for m in console if m[0] == "error"] == []
    assert errors == []
    assert requests == [url]
    assert dialogs == []  # the scenario name's script never ran...
    assert title == EVIL_NAME  # ...it shows as text
    assert legend[0] == f"A: {EVIL_NAME} (seed 7)"  # plotly shows the entities as the characters
    assert ticks == [EVIL_PROTOCOL]
    assert shot.stat().st_size > 10_000
