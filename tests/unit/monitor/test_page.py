"""The live page: loopback only, its JSON state, and the page itself in headless Chromium (skipped without it)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from firesale.exceptions import ParameterError
from firesale.monitor import SnapshotMonitor
from firesale.monitor.page import MonitorPage, serve

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture
def page(tmp_path):
    idx = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    pd.DataFrame({"timestamp": idx, "USDC": [1.0, 1.0, 0.97]}).to_csv(
        tmp_path / "prices-001.csv", index=False
    )
    (tmp_path / "pools-<b>002.csv").write_text("timestamp,venue\n2024-01-01T00:00:00Z,x\n")
    p = MonitorPage(SnapshotMonitor(tmp_path, pegs={"USDC": 1.0}))
    p.step()
    server = serve(p, port=0, poll_ms=200)
    yield p, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_only_loopback_is_served(page):
    with pytest.raises(ParameterError, match=r"The 'host' parameter of serve must be a loopback address"):
        serve(page[0], host="0.0.0.0")


def test_state_json(page):
    _, url = page
    with urllib.request.urlopen(url + "state.json", timeout=5) as r:
        state = json.loads(r.read())
    assert state["label"] == "stressed"
    assert state["reasons"] == ["USDC 3.0 % off its peg (stressed)"]
    assert state["grades"] == {"peg": 1}
    assert any("[bad snapshot] pools-<b>002.csv" in a for a in state["alerts"])
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(url + "nothing", timeout=5)


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium not found at {CHROMIUM}")
def test_page_in_headless_chromium(page):
    sync_api = pytest.importorskip("playwright.sync_api")
    _, url = page
    requests: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            tab = browser.new_page()
            tab.on("request", lambda r: requests.append(r.url))
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(url)
            tab.wait_for_function("() => document.body.dataset.ready === '1'", timeout=30_000)
            label = tab.inner_text("#state")
            reasons = tab.eval_on_selector_all("#reasons li", "els => els.map(e => e.textContent)")
            grades = tab.eval_on_selector_all("#grades tr", "els => els.map(e => e.textContent)")
            alerts = tab.inner_text("#alerts")
            bold = tab.eval_on_selector_all("#alerts b", "els => els.length")
        finally:
            browser.close()
    assert label == "stressed"
    assert reasons == ["USDC 3.0 % off its peg (stressed)"]
    assert grades == ["pegstressed"]
    assert "pools-<b>002.csv" in alerts and bold == 0  # a file name shown as text, never as HTML
    assert errors == []
    assert all(r.startswith(url) for r in requests)  # nothing but its own page and state
