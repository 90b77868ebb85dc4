"""The mitigation's cost (firesale.analysis.compare.mitigation_costs) on a tiny world computed by hand.

The toy world of tests/unit/policies/test_policy_runs.py, with a 10 % liquidation protocol fee: WETH falls by $100
a step from $2,000 to $1,000 over ten steps (identical on every path); A (1 WETH / 1,500 USDC) is liquidated at
step 2 (p = 1,800), B (1 WETH / 1,200 USDC) at step 6 (p = 1,400), close factor 1, bonus 5 %.

Without a policy: debt liquidated 1,500 + 1,200 = $2,700 in 2 liquidations; protocol fees, 10 % of the bonus part of
the seizure valued when taken: A seizes 1500 x 1.05 / 1800 WETH, of which 1/21 is bonus, 1500 x 0.05 x 0.1 = $7.50;
B 1200 x 0.05 x 0.1 = $6.00; total $13.50. With every liquidation paused from the start (and a 1 % backstop):
nothing is liquidated, A is below its threshold from step 2 to 12 (11 steps), B from step 6, so at most 2 accounts
are frozen at once.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.unit.policies.test_policy_runs import WORLD

from firesale.analysis.compare import mitigation_costs, reserve_capital_usd, starting_debt_usd
from firesale.engine.simulate import simulate
from firesale.exceptions import ParameterError
from firesale.scenario import parse_scenario

PAUSE_AND_COVER = """
[[policies]]
name = "pause"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 0 }
action = { type = "pause_liquidations" }
[[policies]]
name = "cover"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 0 }
action = { type = "backstop", share = 0.01 }
"""


def _text() -> str:
    return WORLD.format(n_steps=12).replace(
        "liquidation_bonus = 0.05\n", "liquidation_bonus = 0.05\nliquidation_protocol_fee = 0.1\n"
    )


def test_costs_of_a_pause_on_the_toy_world_by_hand() -> None:
    sc_a, sc_b = (
        parse_scenario(_text(), source="a.toml"),
        parse_scenario(_text() + PAUSE_AND_COVER, source="b.toml"),
    )
    a, b = simulate(sc_a).metrics, simulate(sc_b).metrics
    assert starting_debt_usd(sc_b, "lender") == 2700.0
    capital = reserve_capital_usd(sc_b)
    assert capital == pytest.approx(27.0) and reserve_capital_usd(sc_a) == 0.0
    horizon = 12 * 300.0
    rows = {
        r.key: r
        for r in mitigation_costs(a, b, horizon_s=horizon, capital_b_usd=capital, opportunity_rate=0.05)
    }
    expected = {
        "liquidations_forgone_usd": 2700.0,
        "liquidations_forgone": 2.0,
        "accounts_frozen": 2.0,
        "steps_frozen": 11.0,
        "revenue_lost_usd": 7.5 + 6.0,
        "capital_idle_usd": 27.0 * horizon / (365 * 86400) * 0.05,
    }
    assert set(rows) == set(expected)
    for key, value in expected.items():
        r = rows[key]
        assert r.cost == pytest.approx(value, rel=1e-9), key
        assert r.se == 0.0 and r.ci_low == r.ci_high == r.cost and r.paired  # identical paths: no spread


def test_paired_cost_interval_by_hand() -> None:
    # Three paths: A liquidates 10, 20, 30; B 7, 20, 24: forgone 3, 0, 6, mean 3, sd 3, se 3 / sqrt(3).
    a = {"bad_debt_usd": np.zeros(3), "liquidated_usd": np.array([10.0, 20.0, 30.0])}
    b = {"bad_debt_usd": np.zeros(3), "liquidated_usd": np.array([7.0, 20.0, 24.0])}
    (forgone, idle) = mitigation_costs(a, b, horizon_s=86400.0)
    assert (forgone.key, idle.key) == ("liquidations_forgone_usd", "capital_idle_usd")
    assert (forgone.a, forgone.b, forgone.cost) == (20.0, 17.0, 3.0)
    assert forgone.se == pytest.approx(3.0 / math.sqrt(3.0))
    assert forgone.ci_low == pytest.approx(3.0 - 1.959963984540054 * math.sqrt(3.0))
    assert idle.cost == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"horizon_s": 0.0},
            "The 'horizon_s' parameter of mitigation_costs must be a float in the range (0, inf)",
        ),
        ({"horizon_s": 1.0, "opportunity_rate": -0.1}, "The 'opportunity_rate' parameter"),
        ({"horizon_s": 1.0, "capital_b_usd": -5.0}, "The 'capital_b_usd' parameter"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    a = {"bad_debt_usd": np.zeros(3)}
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mitigation_costs(a, a, **kwargs)


def test_compare_prints_the_costs_and_takes_a_policy_for_a(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from firesale.cli import main

    (tmp_path / "a.toml").write_text(_text())
    (tmp_path / "pause.toml").write_text(PAUSE_AND_COVER)
    args = ["compare", str(tmp_path / "a.toml"), str(tmp_path / "a.toml"), "--store", str(tmp_path / "store")]
    out = CliRunner().invoke(main, [*args, "--policy", str(tmp_path / "pause.toml"), "--json"])
    assert out.exit_code == 0, out.output
    costs = {c["key"]: c["cost"] for c in json.loads(out.output)["costs"]}
    assert costs["liquidations_forgone_usd"] == pytest.approx(2700.0)
    assert costs["capital_idle_usd"] == pytest.approx(27.0 * 3600 / (365 * 86400) * 0.05)
    # The same policy on both sides: nothing differs, nothing costs.
    both = ["--policy-a", str(tmp_path / "pause.toml"), "--policy", str(tmp_path / "pause.toml")]
    out = CliRunner().invoke(main, [*args, *both])
    assert out.exit_code == 0, out.output
    assert "What B's mitigation costs" in out.output and "The two scenarios are identical" in out.output
