"""Policies on a tiny book whose every number is worked out by hand.

The world: WETH falls in a straight line from $2,000 by 5 % of its start per five-minute step for ten steps, then
holds at $1,000 (a ``shock`` market, identical on every path): p(k) = 2000 (1 - 0.05 k), k <= 10. Oracles report
the market price (type ``market``); the only venue is a book so deep ($1e15 for 1 %) that sales move nothing
measurable; gas is free. Two accounts on an Aave v3.0 market with close factor 1 (a liquidation repays all of the
debt) and WETH's threshold 0.83, bonus 5 %, no protocol fee:

- A: 1 WETH against 1,500 USDC. Liquidatable when 0.83 p < 1500, p < 1807.2: first at step 2 (p = 1800:
  0.83 x 1800 = 1494 < 1500; at step 1, 0.83 x 1900 = 1577 > 1500). Seized 1500 x 1.05 / 1800 = 0.875 WETH.
- B: 1 WETH against 1,200 USDC. Liquidatable when p < 1445.8: first at step 6 (p = 1400: 1162 < 1200; at step 5,
  0.83 x 1500 = 1245 > 1200).

Left unliquidated to the end (p = 1000) an account's bad debt is its debt less its collateral's value:
A 1500 - 1000 = 500, B 1200 - 1000 = 200.
"""

from __future__ import annotations

import numpy as np
import pytest

from firesale.agents.liquidators import gas_price_path
from firesale.engine._blueprint import Blueprint
from firesale.engine._world import World
from firesale.engine.simulate import simulate
from firesale.scenario import parse_scenario

WORLD = """
name = "policy-toy"
[simulation]
n_steps = {n_steps}
dt = 300
n_paths = 4
seed = 1
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "linear"
depth = {{ WETH = 0.5 }}
start = 0
duration = 3000
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = 1e15
impact = "linear"
[[oracles]]
name = "eth"
asset = "WETH"
type = "market"
[[oracles]]
name = "usd"
asset = "USDC"
type = "market"
[[protocols]]
name = "lender"
type = "aave_v3"
close_factor = 1.0
accounts = [
  {{ account = "A", asset = "WETH", collateral_amount = 1.0 }},
  {{ account = "A", asset = "USDC", debt_amount = 1500.0 }},
  {{ account = "B", asset = "WETH", collateral_amount = 1.0 }},
  {{ account = "B", asset = "USDC", debt_amount = 1200.0 }},
]
[protocols.reserves.WETH]
ltv = 0.80
liquidation_threshold = 0.83
liquidation_bonus = 0.05
oracle = "eth"
venues = ["book"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.78
liquidation_bonus = 0.045
oracle = "usd"
[agents]
gas_price_gwei = 0.0
"""


def _scenario(policies: str = "", n_steps: int = 12):  # type: ignore[no-untyped-def]
    return parse_scenario(WORLD.format(n_steps=n_steps) + policies, source="toy.toml")


def _world(policies: str, n_steps: int = 12):  # type: ignore[no-untyped-def]
    sc = _scenario(policies, n_steps)
    bp = Blueprint.build(sc)
    model = sc.spec.market.build(["WETH"], sc.base_dir)
    rel = model.simulate(2, n_steps, 300.0, np.random.default_rng(0))
    exo = bp.exogenous_prices(rel)
    return bp, World(bp, exo, gas_price_path(sc, bp.assets, exo, bp.dt), debug=True)


def _in_force_by_step(policies: str, n_steps: int = 12) -> list[bool]:
    """Whether the (only) policy is in force at each step 1..n_steps (path 0)."""
    bp, world = _world(policies, n_steps)
    out = []
    for _ in range(n_steps):
        world.step()
        (state,) = bp.policies.in_force(world).values()
        out.append(bool(state[0]))
    return out


def _debts_by_step(policies: str, n_steps: int = 12) -> list[tuple[float, float]]:
    """Debt of A and B (USDC) after each step (path 0)."""
    _, world = _world(policies, n_steps)
    out = []
    for _ in range(n_steps):
        world.step()
        debt = world.states[0].debt[0, :, 1]
        out.append((float(debt[0]), float(debt[1])))
    return out


def _bad_debt(policies: str) -> float:
    res = simulate(_scenario(policies), n_paths=2)
    return float(res.metrics["bad_debt_usd"].iloc[0])


def _pause(trigger: str, delay: float = 0.0, extra: str = "", action: str = "") -> str:
    return f"""
[[policies]]
name = "pause"
protocol = "lender"
delay = {delay}
{extra}
trigger = {trigger}
action = {{ type = "pause_liquidations"{action} }}
"""


# Signed change of the ETH oracle over two steps: (1 - 0.05 k) / (1 - 0.05 (k - 2)) - 1, the start price before
# the run: step 1: 0.95 / 1 - 1 = -0.05; step 2: 0.90 / 1 - 1 = -0.10 < -0.08: fires at step 2 (t = 600 s).
DROP = '{ series = "oracle_change", oracle = "eth", window = 600, comparison = "<", threshold = -0.08 }'
ALWAYS = '{ series = "time", comparison = ">=", threshold = 0 }'


def test_fires_at_the_hand_computed_step_and_acts_after_the_delay() -> None:
    # Fires at t = 600 (step 2); with a delay of 700 s it acts at the first step with t >= 1300: step 5 (1500 s).
    got = _in_force_by_step(_pause(DROP, delay=700))
    assert got == [False] * 4 + [True] * 8
    # No delay: in force in the step that saw the move (before its cascade), and held to the end (no release rule).
    assert _in_force_by_step(_pause(DROP)) == [False] + [True] * 11
    # A guardian one block (12 s) later: the next step.
    assert _in_force_by_step(_pause(DROP, delay=12)) == [False, False] + [True] * 10


def test_grace_period_after_the_trigger_clears() -> None:
    # |move| over one step: 0.05 / (1 - 0.05 (k - 1)) > 0.04 at steps 1..10; zero from step 11 (t = 3300), when
    # the trigger clears. Grace 300 s, released when t - 3300 > 300 (PriceOracleSentinel's strict '>'): t = 3900,
    # step 13. In force at steps 1..12.
    trig = '{ series = "oracle_move", oracle = "eth", window = 300, comparison = ">", threshold = 0.04 }'
    got = _in_force_by_step(_pause(trig, extra="grace = 300"), n_steps=14)
    assert got == [True] * 12 + [False] * 2


def test_duration() -> None:
    # time < 400 holds only at step 1 (t = 300): in force at t = 300, 600, 900, lifted at t = 1200 (900 s later).
    trig = '{ series = "time", comparison = "<", threshold = 400 }'
    assert _in_force_by_step(_pause(trig, extra="duration = 900")) == [True] * 3 + [False] * 9


def test_pause_delay_decides_how_much_bad_debt_forms() -> None:
    # Without a policy A goes at step 2 and B at step 6: no bad debt.
    assert _bad_debt("") == pytest.approx(0.0, abs=1e-6)
    # Paused from step 1 (decided at t = 300, no delay): both frozen: 500 + 200 = 700.
    assert _bad_debt(_pause(ALWAYS)) == pytest.approx(700.0, rel=1e-9)
    # Decided at t = 300, in force from t >= 1500 (step 5): A was liquidated at step 2, B is frozen: 200.
    assert _bad_debt(_pause(ALWAYS, delay=1200)) == pytest.approx(200.0, rel=1e-9)
    # In force from t >= 1800, step 6: the policy acts before that step's cascade, so B is still frozen: 200.
    assert _bad_debt(_pause(ALWAYS, delay=1500)) == pytest.approx(200.0, rel=1e-9)
    # In force from step 7: B was liquidated at step 6: nothing.
    assert _bad_debt(_pause(ALWAYS, delay=1800)) == pytest.approx(0.0, abs=1e-6)
    # The drop trigger fires at step 2; after 700 s the pause arrives at step 5: A gone, B frozen: 200.
    assert _bad_debt(_pause(DROP, delay=700)) == pytest.approx(200.0, rel=1e-9)


def test_a_paused_path_counts_its_frozen_accounts_as_unserved() -> None:
    # Paused from step 1: A is below 1 from step 2 to the end (11 steps), so 11 steps raise the unclearable flag.
    res = simulate(_scenario(_pause(ALWAYS)), n_paths=2)
    assert int(res.metrics["steps_unclearable_flag"].iloc[0]) == 11


def test_sentinel_lets_accounts_below_095_through() -> None:
    # below_health_factor = 0.95: A (HF 0.83 p / 1500) is held at step 2 (HF 0.996) and goes at step 3
    # (p = 1700: HF 0.9407 < 0.95); B (0.83 p / 1200) goes at step 7 (p = 1300: HF 0.899; step 6: 0.968).
    debts = _debts_by_step(_pause(ALWAYS, action=", below_health_factor = 0.95"))
    assert [d[0] > 0 for d in debts[:4]] == [True, True, False, False]
    assert [d[1] > 0 for d in debts[:8]] == [True] * 6 + [False] * 2


def test_scaling_the_threshold_and_the_margin() -> None:
    # Threshold x 0.9 = 0.747: A goes when 0.747 p < 1500, p < 2008: at step 1 (p = 1900) instead of step 2.
    scale = f"""
[[policies]]
name = "tighten"
protocol = "lender"
trigger = {ALWAYS}
action = {{ type = "scale", parameter = "reserves.WETH.liquidation_threshold", factor = 0.9 }}
"""
    debts = _debts_by_step(scale)
    assert debts[0][0] == 0.0 and debts[0][1] == 1200.0
    # Margin x 2: threshold 1 - 2 x 0.17 = 0.66: B goes when 0.66 p < 1200, p < 1818: at step 2, not step 6.
    margin = scale.replace("liquidation_threshold", "liquidation_margin").replace("0.9 }", "2.0 }")
    debts = _debts_by_step(margin)
    assert debts[0][1] == 1200.0 and debts[1][1] == 0.0


def test_backstop_covers_bad_debt_first() -> None:
    # Both frozen (700 of bad debt); a backstop of 10 % of the starting debt, 0.10 x 2700 = 270, covers part of it.
    policies = (
        _pause(ALWAYS)
        + f"""
[[policies]]
name = "backstop"
protocol = "lender"
trigger = {ALWAYS}
action = {{ type = "backstop", share = 0.10 }}
"""
    )
    res = simulate(_scenario(policies), n_paths=2)
    assert float(res.metrics["bad_debt_usd"].iloc[0]) == pytest.approx(700.0, rel=1e-9)
    assert float(res.metrics["reserves_used_usd_lender"].iloc[0]) == pytest.approx(270.0, rel=1e-9)
    assert bool(res.metrics["insolvent"].iloc[0])


def test_policies_that_never_fire_leave_the_run_unchanged() -> None:
    never = _pause('{ series = "time", comparison = ">", threshold = 1e9 }')
    a = simulate(_scenario(""), n_paths=2).metrics
    b = simulate(_scenario(never), n_paths=2).metrics
    assert a.equals(b[a.columns])  # b adds only the policy's own records (policy.*, policies.*)
    assert sorted(set(b.columns) - set(a.columns)) == sorted(c for c in b.columns if c.startswith("polic"))
    assert (b["policy.pause.fired_step"] == -1).all() and (b["policy.pause.steps_in_force"] == 0).all()


def test_numpy_and_numba_kernels_agree_under_policies() -> None:
    policies = _pause(ALWAYS, delay=1200, action=", below_health_factor = 0.95")
    a = simulate(_scenario(policies), n_paths=2, kernel="numba").metrics
    b = simulate(_scenario(policies), n_paths=2, kernel="numpy").metrics
    assert a.equals(b)


def test_books_and_flags_trigger_on_the_next_step() -> None:
    # Paused from step 1, A's shortfall is 1500 - p: first positive at the end of step 6 (p = 1400: 100; at step 5,
    # p = 1500: 0), so a bad_debt > 0 trigger, which reads the previous step's books, fires at step 7. A is below HF 1
    # and frozen from step 2 (the unclearable flag), so a flag trigger fires at step 3.
    def backstop(name: str, trigger: str) -> str:
        return f"""
[[policies]]
name = "{name}"
protocol = "lender"
trigger = {trigger}
action = {{ type = "backstop", share = 0.01 }}
"""

    policies = (
        _pause(ALWAYS)
        + backstop("on-bad-debt", '{ series = "bad_debt", comparison = ">", threshold = 0 }')
        + backstop("on-flag", '{ series = "flag", flag = "unclearable" }')
    )
    bp, world = _world(policies)
    seen: dict[str, list[bool]] = {"on-bad-debt": [], "on-flag": []}
    for _ in range(10):
        world.step()
        for name, state in bp.policies.in_force(world).items():
            if name in seen:
                seen[name].append(bool(state[0]))
    assert seen["on-bad-debt"] == [False] * 6 + [True] * 4
    assert seen["on-flag"] == [False] * 2 + [True] * 8


def test_margin_scaled_to_realised_volatility() -> None:
    # Half-life 300 s = dt, so lambda = 0.5. Step 1: r = ln(0.95) = -0.0512933, v = 0.5 r^2 = 0.00131550,
    # daily vol sqrt(v x 86400 / 300) = sqrt(0.378865) = 0.615520. Over a 0.5 threshold: 1.23104, rounded up to
    # 1.25: WETH's threshold becomes 1 - 1.25 x 0.17 = 0.7875, and A (0.7875 x 1900 = 1496.25 < 1500) is liquidated
    # at step 1 instead of step 2; B (1496.25 > 1200) is not.
    r = np.log(0.95)
    vol = np.sqrt(0.5 * r**2 * 86400 / 300)
    assert vol == pytest.approx(0.615520, rel=1e-5)
    policies = """
[[policies]]
name = "margin"
protocol = "lender"
grace = 0
trigger = { series = "realised_volatility", asset = "WETH", window = 300, comparison = ">", threshold = 0.5 }
action = { type = "scale_with_trigger", parameter = "reserves.WETH.liquidation_margin" }
"""
    _, world = _world(policies)
    world.step()
    assert world.states[0].policy.margin_factor[0, 0] == 1.25
    assert world.states[0].debt[0, :, 1].tolist() == [0.0, 1200.0]


def test_results_do_not_depend_on_the_batch_size() -> None:
    # Random markets (GBM, 1,000 % vol so that triggers fire on some paths and not others), two path blocks: a policy's
    # state is per batch and per path, so one batch of 300 paths equals batches of 256 and 44.
    gbm = WORLD.replace('model = "shock"\nshape = "linear"\ndepth = {{ WETH = 0.5 }}\nstart = 0\nduration = 3000',
                        'model = "gbm"\nvol = {{ WETH = 10.0 }}')  # fmt: skip
    trig = '{ series = "oracle_move", oracle = "eth", window = 900, comparison = ">", threshold = 0.03 }'
    sc = parse_scenario(
        gbm.format(n_steps=12) + _pause(trig, delay=300, extra="grace = 600"), source="gbm.toml"
    )
    one = simulate(sc, n_paths=300).metrics
    two = simulate(sc, n_paths=300, batch_size=256).metrics
    assert one.equals(two)
    none = simulate(parse_scenario(gbm.format(n_steps=12), source="gbm.toml"), n_paths=300).metrics
    changed = ((one["steps_unclearable_flag"] != none["steps_unclearable_flag"])
               | (one["liquidated_usd"] != none["liquidated_usd"])).sum()  # fmt: skip
    assert 0 < changed < 300  # the policy acted on some paths only
