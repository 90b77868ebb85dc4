"""The policies' per-path records (firesale.policies.runner) on toy worlds whose every number is worked out by hand.

The falling world of tests/unit/policies/test_policy_runs.py: WETH p(k) = 2000 (1 - 0.05 k) for k <= 10, then $1,000,
five-minute steps, twelve of them; oracles read the market; close factor 1, WETH threshold 0.83, bonus 5 %. A (1 WETH
/ 1,500 USDC) is below health factor 1 from step 2 (0.83 x 1800 / 1500 = 0.996), B (1 WETH / 1,200 USDC) from step 6
(0.83 x 1400 / 1200 = 0.968). The rising world of tests/unit/agents/test_borrowing.py for a borrowing pause.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from tests.unit.agents.test_borrowing import rising
from tests.unit.engine.test_replay_deviation import TEXT as REPLAY, scenario as replay_scenario
from tests.unit.policies.test_policy_runs import WORLD

from firesale.analysis.compare import mitigation_costs
from firesale.engine.simulate import simulate
from firesale.scenario import parse_scenario

_YEAR = 365 * 86_400.0
# the module, not the function firesale.engine re-exports under the same name
simulate_module = importlib.import_module("firesale.engine.simulate")


def _metrics(text: str, n_paths: int = 2):  # type: ignore[no-untyped-def]
    return simulate(parse_scenario(text, source="toy.toml"), n_paths=n_paths).metrics


def _one(metrics, key: str) -> float:  # type: ignore[no-untyped-def]
    """The record on path 0, after checking every path has the same (the toy's paths are identical)."""
    values = metrics[key].to_numpy()
    assert (values == values[0]).all(), key
    return float(values[0])


# The one-step oracle move |p(k) / p(k-1) - 1| = 0.05 / (1 - 0.05 (k - 1)): 0.05, 0.0526, 0.0556 at k = 1, 2, 3,
# so a 5.5 % band is first crossed at step 3, and stays crossed to step 10 (0 from step 11: the price holds).
BAND_PAUSE = """
[[policies]]
name = "band"
protocol = "lender"
delay = 600
duration = 900
trigger = { series = "oracle_move", oracle = "eth", window = 300, comparison = ">", threshold = 0.055 }
action = { type = "pause_liquidations" }
"""


def test_a_pause_fires_at_the_hand_computed_step_and_holds_for_the_hand_counted_steps() -> None:
    # Fired at step 3 (t = 900 s); in force from the first step at or after 900 + 600 = 1500 s, step 5; lifted after
    # 900 s, at step 8 (2400 - 1500 >= 900), where the band still holds (0.05 / 0.65): decided again at step 8, in
    # force from step 10 to the end. In force at steps 5, 6, 7, 10, 11, 12: six steps.
    m = _metrics(WORLD.format(n_steps=12) + BAND_PAUSE)
    assert _one(m, "policy.band.fired_step") == 3
    assert _one(m, "policy.band.in_force_step") == 5
    assert _one(m, "policy.band.steps_in_force") == 6
    # A is liquidated at step 2, before any pause. B is liquidatable from step 6: frozen at the ends of steps 6 and 7,
    # liquidated at step 8 once the pause is lifted; nobody is left for the second pause.
    assert _one(m, "policy.band.frozen_accounts_max") == 1
    assert _one(m, "policy.band.frozen_steps") == 2
    assert _one(m, "policy.band.frozen_account_steps") == 2
    assert _one(m, "n_liquidations") == 2
    assert _one(m, "policies.frozen_accounts_max") == 1 and _one(m, "policies.frozen_steps") == 2


# C: 1 WETH against 1,480 USDC: below 1 from step 3 (0.83 x 1700 / 1480 = 0.953), below 0.9 at step 4 (0.897).
C_LINES = (
    '  {{ account = "C", asset = "WETH", collateral_amount = 1.0 }},\n'
    '  {{ account = "C", asset = "USDC", debt_amount = 1480.0 }},\n'
)
PARTIAL_PAUSE = """
[[policies]]
name = "sentinel"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 0 }
action = { type = "pause_liquidations", below_health_factor = 0.9 }
"""


def test_a_partial_pause_freezes_the_hand_counted_accounts_between_its_floor_and_one() -> None:
    # Only accounts below health factor 0.9 may be liquidated; those in [0.9, 1) are frozen. At each step's end:
    #   step 2 (p = 1800): A 0.996                                      -> {A}
    #   step 3 (p = 1700): A 1411 / 1500 = 0.941, C 1411 / 1480 = 0.953 -> {A, C}
    #   step 4 (p = 1600): A 0.885 and C 0.897 are liquidated           -> {}
    #   step 6 (p = 1400): B 0.968                                      -> {B}
    #   step 7 (p = 1300): B 1079 / 1200 = 0.899 is liquidated          -> {}
    text = WORLD.format(n_steps=12).replace(
        '  {{ account = "B", asset = "USDC", debt_amount = 1200.0 }},\n'.replace("{{", "{").replace(
            "}}", "}"
        ),
        '  { account = "B", asset = "USDC", debt_amount = 1200.0 },\n'
        + C_LINES.replace("{{", "{").replace("}}", "}"),
    )
    m = _metrics(text + PARTIAL_PAUSE)
    assert _one(m, "policy.sentinel.fired_step") == 1 and _one(m, "policy.sentinel.in_force_step") == 1
    assert _one(m, "policy.sentinel.steps_in_force") == 12
    assert _one(m, "policy.sentinel.frozen_accounts_max") == 2  # A and C at step 3
    assert _one(m, "policy.sentinel.frozen_steps") == 3  # steps 2, 3, 6
    assert _one(m, "policy.sentinel.frozen_account_steps") == 1 + 2 + 1
    assert _one(m, "n_liquidations") == 3 and _one(m, "bad_debt_usd") == 0.0


def test_a_borrowing_pause_freezes_the_accounts_that_would_have_borrowed() -> None:
    # Rising WETH, p(k) = 2000 (1 + 0.05 k); borrowers borrow above health factor 1.3 back down to 1.25. At step 1
    # B and C (1 WETH against 1,200 and 1,000 USDC) borrow to 1743 / 1.25 = 1394.4. Paused from step 2 (t >= 600):
    # both would borrow again at step 2 (1826 / 1394.4 = 1.310) and step 3 (1909 / 1394.4 = 1.369); A never would
    # (1909 / 1500 = 1.273).
    policy = """
[[policies]]
name = "freeze"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 600 }
action = { type = "pause_borrowing" }
"""
    m = simulate(rising(n_steps=3, with_c=True, extra=policy), n_paths=2).metrics
    assert _one(m, "policy.freeze.in_force_step") == 2 and _one(m, "policy.freeze.steps_in_force") == 2
    assert _one(m, "policy.freeze.frozen_accounts_max") == 2
    assert _one(m, "policy.freeze.frozen_steps") == 2
    assert _one(m, "policy.freeze.frozen_account_steps") == 4


POOL = """
[[venues]]
type = "constant_product"
name = "pool"
coins = ["WETH", "USDC"]
reserves = [100.0, 200000.0]
fee_bps = 30
"""
RESERVES = """
[[policies]]
name = "deployed"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 900 }
action = { type = "deploy_reserve", venue = "pool", share = 0.1 }
[[policies]]
name = "never"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 1e9 }
action = { type = "deploy_reserve", venue = "pool", share = 0.1 }
[[policies]]
name = "cover"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 0 }
action = { type = "backstop", share = 0.01 }
"""


def test_idle_capital_by_hand_for_a_reserve_deployed_at_a_known_step() -> None:
    # Starting debt 1,500 + 1,200 USDC = $2,700: each reserve holds 10 % = $270, the backstop 1 % = $27. "deployed"
    # is deposited at step 3 (t = 900 s): idle 900 s. "never" is never deposited: idle over the horizon, 12 x 300 s.
    # The backstop is in force from step 1 and idle over the whole horizon too (it sits in the first-loss reserves).
    head, tail = WORLD.format(n_steps=12).split("[[oracles]]", 1)
    plain = head + POOL + "[[oracles]]" + tail
    a, b = _metrics(plain), _metrics(plain + RESERVES)
    assert _one(b, "policy.deployed.capital_usd") == pytest.approx(270.0, rel=1e-12)
    assert _one(b, "policy.deployed.deployed_usd") == pytest.approx(270.0, rel=1e-12)
    assert _one(b, "policy.deployed.deployed_step") == 3 and _one(b, "policy.deployed.idle_s") == 900.0
    assert _one(b, "policy.never.deployed_usd") == 0.0 and _one(b, "policy.never.deployed_step") == -1
    assert _one(b, "policy.never.idle_s") == 3600.0
    assert _one(b, "policy.cover.deployed_step") == 1 and _one(b, "policy.cover.idle_s") == 3600.0
    usd_s = 270.0 * 900 + 270.0 * 3600 + 27.0 * 3600
    assert _one(b, "policies.reserve_usd_s") == pytest.approx(usd_s, rel=1e-12)
    rows = {r.key: r for r in mitigation_costs(a, b, horizon_s=3600.0, opportunity_rate=0.05)}
    idle = rows["capital_idle_usd"]
    assert idle.cost == pytest.approx(usd_s / _YEAR * 0.05, rel=1e-12)
    assert idle.a == 0.0 and idle.se == 0.0  # the same on every path of the toy
    # A run stored without records falls back to the capital over the whole horizon.
    old = b.drop(columns=[c for c in b.columns if c.startswith("polic")])
    rows = {r.key: r for r in mitigation_costs(a, old, horizon_s=3600.0, capital_b_usd=567.0)}
    assert rows["capital_idle_usd"].cost == pytest.approx(567.0 * 3600 / _YEAR * 0.05, rel=1e-12)
    assert "accounts_frozen" not in rows  # neither run has pause records (nor, here, any policy's)


def test_a_pause_in_a_replay_leaves_the_baseline_pass_as_it_is_without_it(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The replay of tests/unit/engine/test_replay_deviation.py: WETH replayed at $1,000 from step 1 on a linear,
    # fully permanent book of depth D = $100k. Its baseline pass (sales absorbed at market) liquidates the account
    # in full at step 1, selling its 1 WETH: the real market's flow. A pause from the start must not act there
    # (the real protocol had none), so the baseline is the one without the policy.
    logs = []
    real = simulate_module.baseline_flows

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        logs.append(out)
        return out

    monkeypatch.setattr(simulate_module, "baseline_flows", spy)
    pause = (
        '\n[[policies]]\nname = "pause"\nprotocol = "lender"\n'
        'trigger = { series = "time", comparison = ">=", threshold = 0 }\naction = { type = "pause_liquidations" }\n'
    )
    plain = replay_scenario(tmp_path, "")
    paused = parse_scenario(REPLAY.format(impact="") + pause, source="r.toml", base_dir=tmp_path)
    res_plain, res_paused = simulate(plain, seed=0), simulate(paused, seed=0)
    (base_plain,), (base_paused,) = logs[0], logs[1]
    for key in ("sell", "buy"):
        np.testing.assert_array_equal(base_paused[key], base_plain[key])
    assert base_plain["sell"][0, 1, 0] == pytest.approx(1.0, rel=1e-12)  # the account's 1 WETH, at step 1
    # In the run the pause keeps the sale from happening, so the baseline's sale added back lifts the book to
    # p = 1000 exp(0.01 x 1000 / D) and nothing takes it back down: bad debt 1500 - p at the horizon.
    p = 1000 * np.exp(0.01 * 1000 / 1e5)
    np.testing.assert_allclose(res_paused.paths["price_WETH"][0, 1:], p, rtol=1e-6)  # float32 series
    assert res_paused.metrics["bad_debt_usd"].iloc[0] == pytest.approx(1500 - p, rel=1e-9)
    assert (
        res_plain.metrics["n_liquidations"].iloc[0] == 1 and res_paused.metrics["n_liquidations"].iloc[0] == 0
    )
