"""The report's policy section on the toy world of tests/unit/analysis/test_compare_costs.py (numbers there).

Run A has no policy; run B pauses every liquidation from the start and holds a 1 % backstop: nothing is liquidated
and A's and B's 1,500 and 1,200 USDC debts are left to the $1,000 bottom, so B ends with $700 of bad debt on every
path where A has none.
"""

from __future__ import annotations

import pytest
from tests.unit.analysis.test_compare_costs import PAUSE_AND_COVER, _text

from firesale.engine.simulate import simulate
from firesale.report import build_charts, render_report
from firesale.report._policy import policy_tables
from firesale.report._view import as_view
from firesale.scenario import parse_scenario


@pytest.fixture(scope="module")
def runs():  # type: ignore[no-untyped-def]
    a = simulate(parse_scenario(_text(), source="a.toml"))
    b = simulate(parse_scenario(_text() + PAUSE_AND_COVER, source="b.toml"))
    return a, b


def test_the_cost_table_shows_the_hand_computed_costs(runs) -> None:  # type: ignore[no-untyped-def]
    a, b = runs
    table, *_ = policy_tables(as_view(a), as_view(b))
    rows = {r[0]: r[1:] for r in table.rows}
    assert rows["Debt liquidations forgone"] == ["$2.70k", "$0", "$2.70k", "[$2.70k, $2.70k]"]
    assert rows["Protocol revenue lost (liquidation fees)"][2] == "$14"  # 7.50 + 6.00
    assert rows["Accounts frozen by a pause (most at once)"][2] == "2"
    assert "$27 in B" in table.note  # 1 % of $2,700


def test_the_section_draws_bad_debt_path_by_path_and_the_paired_difference(runs) -> None:  # type: ignore[no-untyped-def]
    a, b = runs
    charts = {c.key: c for c in build_charts(a, compare=b)}
    scatter, liquidated = charts["policy-scatter"], charts["policy-liquidated"]
    assert scatter.figure is not None and "B has less on 0, more on 4" in scatter.note
    (points,) = [t for t in scatter.figure.data if t.name == "a path"]
    assert list(points.x) == [1.0] * 4 and list(points.y) == [700.0] * 4  # A's zero drawn at the $1 floor
    assert liquidated.figure is not None and "4 of 4 paths differ" in liquidated.note
    html = render_report(a, compare=b)
    assert "The mitigation&#39;s cost, B against A" in html


def test_no_section_for_runs_on_other_seeds(runs) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    a, b = runs
    other = dataclasses.replace(b, seed=b.seed + 1)
    assert policy_tables(as_view(a), as_view(other)) == []
    assert not any(c.key.startswith("policy-") for c in build_charts(a, compare=other))
