"""The report's borrowing and utilisation section, its comparison and its sensitivities table, on the toy book of
``tests/unit/agents/test_borrowing.py`` with every figure worked by hand there and here.

USDC supply 3,000, borrows 2,700 at the start (utilisation 0.9); WETH rising 5 % a step. B borrows 194.4 at step 1,
66.4 at step 2 and wants 66.4 at step 3, of which 39.2 is liquid: borrowed 300, refused 27.2 on every path
(``tests/unit/agents/test_utilisation.py``). Borrowing power at the start: A 0.80 × 2000 − 1500 = 100, B 1600 − 1200
= 400, so $500; with WETH's ltv at 0.79, 80 + 380 = $460.
"""

from __future__ import annotations

import dataclasses
import html

import pytest
from tests.unit.agents.test_borrowing import rising

from firesale.analysis.sensitivity import parameter_bumps, sensitivities
from firesale.engine.simulate import simulate
from firesale.report import build_charts, render_report
from firesale.report._borrowing import SECTION, borrowing_report
from firesale.report._view import as_view

SUPPLY = "total_supply = 3000.0"


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    return simulate(rising(n_steps=3, usdc=SUPPLY), n_paths=4)


def _table(page: str, key: str) -> str:
    start = page.index(f'id="{key}"')
    return html.unescape(page[start : page.index("</table>", start)])


def test_the_section_shows_utilisation_borrowing_and_borrowing_power(run) -> None:  # type: ignore[no-untyped-def]
    page = render_report(run)
    assert f"<h2>{SECTION}</h2>" in page
    assert 'id="chart-utilisation-0"' in page and 'id="chart-borrowing-power"' in page
    flows = _table(page, "borrowing-flows")
    assert "$300 ± $0" in flows  # 194.4 + 66.4 + 39.2, the same on every path
    assert "$27 ± $0" in flows  # 66.4 - 39.2 refused at step 3
    assert "100%" in flows  # every path had a refusal
    power = _table(page, "borrowing-power")
    assert "$500" in power and "$300" in power  # the book's power; USDC liquidity 3000 - 2700
    charts = {c.key: c for c in build_charts(run)}
    assert charts["utilisation-0"].note.startswith("From the recorded series lender.utilisation_<reserve>")
    # the fan's median is the hand-computed path 0.9, 2894.4 / 3000, 2960.8 / 3000, 1.0
    median = charts["utilisation-0"].figure.data[4].y
    assert list(median) == pytest.approx([0.9, 2894.4 / 3000, 2960.8 / 3000, 1.0], rel=1e-6)
    assert list(charts["borrowing-power"].figure.data[0].y) == pytest.approx([500.0])


def test_without_the_series_the_utilisation_comes_from_the_metrics_and_says_so(run) -> None:  # type: ignore[no-untyped-def]
    view = as_view(run)
    view = dataclasses.replace(view, series=view.series[view.series["variable"] != "lender.utilisation_USDC"])
    _, charts = borrowing_report(view)
    chart = next(c for c in charts if c.key == "utilisation-0")
    assert chart.note.startswith("From the per-path metrics (the value at the end of the run only)")
    assert list(chart.figure.data[0].x) == pytest.approx([1.0] * 4)  # drained at step 3 on every path


def test_a_run_without_borrowing_or_utilisation_has_no_such_section(result) -> None:  # type: ignore[no-untyped-def]
    assert SECTION not in render_report(result)
    assert borrowing_report(as_view(result)) == ([], [])


def test_the_comparison_says_what_the_change_costs_the_users(run) -> None:  # type: ignore[no-untyped-def]
    lower = simulate(rising(n_steps=3, usdc=SUPPLY, ltv=0.79), n_paths=4)
    page = render_report(run, compare=lower)
    assert 'id="chart-compare-borrowing-power"' in page
    cost = _table(page, "borrowing-cost")
    assert "$500" in cost and "$460" in cost and "-$40 (-8.0 %)" in cost
    assert (
        "B against A (protocols.lender.reserves.WETH.ltv 0.8 → 0.79) leaves expected bad debt unchanged and cuts "
        "users' borrowing power by $40 (8.0 %); it leaves the borrowing they do unchanged."
    ) in html.unescape(page)
    assert "paired (same seeds" in html.unescape(page)


def test_the_sensitivity_section_has_the_users_cost_of_each_change() -> None:
    sc = rising(n_steps=1)
    bumps = [b for b in parameter_bumps(sc)[0] if b.key == "protocols.lender.reserves.WETH.ltv"]
    res = sensitivities(sc, n_paths=2, bumps=bumps)
    page = html.unescape(render_report(res.base_result, sensitivities=res))
    costs = page[page.index('id="sensitivity-costs"') :]
    assert (
        "Lowering lender WETH ltv to 0.79 leaves expected bad debt unchanged and cuts users' borrowing power"
        in costs
    )
    assert "-$40 (-8.0 %)" in costs
