"""Predictive margin, oracle switching and reserves deployed into pools, each checked against hand calculations.

The GARCH forecast is held to the recursion by hand and to ``arch``'s own ``GARCH.compute_variance`` (bashtage/arch
``arch/univariate/volatility.py``); the oracle switch and the liquidity deposit run in the toy world of
``test_policy_runs.py`` (WETH falls by $100 a five-minute step from $2,000; accounts A: 1 WETH / 1,500 USDC and
B: 1 WETH / 1,200 USDC, threshold 0.83, bonus 5 %, close factor 1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from arch.univariate import GARCH
from tests.unit.policies.test_policy_runs import WORLD

from firesale.exceptions import ScenarioError
from firesale.liquidity.constant_product import ConstantProductPool
from firesale.liquidity.venues import VenueSet
from firesale.policies.actions import ScaleWithTrigger
from firesale.policies.spec import ActionSpec, TriggerSpec
from firesale.policies.triggers import GarchForecast

# sigma_bar^2 = 1e-4 per 600 s period, alpha 0.1, beta 0.8: omega = 1e-4 x 0.1 = 1e-5.
_H = 600.0
_PARAMS = {"vol": math.sqrt(1e-4 * 365 * 86400 / _H), "alpha": 0.1, "beta": 0.8, "mu": 0.0, "native_dt": _H}


def _forecasts(returns: list[float], dt: float, window: float | None = None) -> list[float]:
    spec = TriggerSpec(series="garch_forecast", asset="X", window=window, comparison=">", threshold=0.1)
    trig = GarchForecast(spec, 0, 100.0, {**_PARAMS, "initial_vol": _PARAMS["vol"]}, dt, 1)
    log_price, out = math.log(100.0), []
    for r in returns:
        log_price += r
        out.append(float(trig.value(None, 0.0, np.array([[math.exp(log_price)]]))[0]))
    return out


def test_garch_forecast_by_hand_within_and_at_the_close_of_each_period() -> None:
    # Two 300 s steps a 600 s period: returns 0.01, 0.02 | -0.03, 0.00, so period returns 0.03 and -0.03.
    got = _forecasts([0.01, 0.02, -0.03, 0.0], dt=300.0)
    daily = 86400 / _H  # 144 periods a day
    by_hand = [
        1e-5
        + 0.1 * (0.01**2 + 0.5 * 1e-4)
        + 0.8 * 1e-4,  # mid-period: seen 0.01, half a period still to come
        1e-5 + 0.1 * 0.03**2 + 0.8 * 1e-4,  # period closes: 1.8e-4
        1e-5 + 0.1 * (0.03**2 + 0.5 * 1.8e-4) + 0.8 * 1.8e-4,  # 2.53e-4
        1e-5 + 0.1 * 0.03**2 + 0.8 * 1.8e-4,  # 2.44e-4
    ]
    np.testing.assert_allclose(got, [math.sqrt(v * daily) for v in by_hand], rtol=1e-12)
    # At each period's close the forecast is arch's conditional variance of the next period.
    sigma2 = np.zeros(3)
    GARCH().compute_variance(np.array([1e-5, 0.1, 0.8]), np.array([0.03, -0.03, 0.0]), sigma2, 1e-4,
                             np.array([[0.0, 1.0]] * 3))  # fmt: skip
    np.testing.assert_allclose([got[1], got[3]], np.sqrt(sigma2[1:] * daily), rtol=1e-9)


def test_predictive_margin_fires_at_the_hand_computed_step_with_the_hand_computed_factor() -> None:
    # The forecasts above, daily: 12 sqrt(f) = 0.1230, 0.1610, 0.1909, 0.1874. Over 0.15 from step 2; the margin
    # factor is forecast / 0.15 rounded up to 0.05: 1.0733 -> 1.10, 1.2725 -> 1.30, 1.2497 -> 1.25.
    spec = TriggerSpec(series="garch_forecast", asset="X", comparison=">", threshold=0.15)
    trig = GarchForecast(spec, 0, 100.0, {**_PARAMS, "initial_vol": _PARAMS["vol"]}, 300.0, 1)
    action = ScaleWithTrigger(
        ActionSpec(type="scale_with_trigger", parameter="reserves.X.liquidation_margin", max_factor=3), spec
    )
    log_price, fired, factors = math.log(100.0), [], []
    for r in (0.01, 0.02, -0.03, 0.0):
        log_price += r
        value = trig.value(None, 0.0, np.array([[math.exp(log_price)]]))
        holds = trig.holds(value)
        fired.append(bool(holds[0]))
        factors.append(float(action.wanted(holds, value)[0]))
    assert fired == [False, True, True, True]
    assert factors == pytest.approx([1.0, 1.10, 1.30, 1.25], abs=1e-12)


def test_garch_forecast_over_a_horizon_is_the_mean_of_the_multi_step_forecast() -> None:
    # 3 periods ahead: 1e-4 + (1.8e-4 - 1e-4) (1 - 0.9^3) / (3 x 0.1), after one period (step = period here).
    (got,) = _forecasts([0.03], dt=600.0, window=1800.0)
    next_three = [1.8e-4, 1e-4 + 0.9 * 0.8e-4, 1e-4 + 0.81 * 0.8e-4]  # E[sigma^2_{j+n}] by hand
    assert got == pytest.approx(math.sqrt(np.mean(next_three) * 144), rel=1e-12)
    assert np.mean(next_three) == pytest.approx(1e-4 + 0.8e-4 * (1 - 0.9**3) / 0.3, rel=1e-12)


FROZEN = """
[[oracles]]
name = "eth-frozen"
asset = "WETH"
type = "push"
heartbeat = 1e9
deviation_bps = 1e6
"""
SWITCH = """
[[policies]]
name = "switch"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 900 }
action = { type = "switch_oracle", asset = "WETH", oracle = "eth" }
"""


def _with(extra: str, policies: str, n_steps: int = 6) -> str:
    # The lender reads a frozen WETH feed (it never updates: $2,000); the extra oracle goes with the others.
    text = WORLD.format(n_steps=n_steps).replace('oracle = "eth"\nvenues', 'oracle = "eth-frozen"\nvenues')
    head, tail = text.split("[[protocols]]")
    return head + extra + "[[protocols]]" + tail + policies


def _run_debts(text: str, n_steps: int = 6) -> tuple[list[tuple[float, float]], object]:
    from firesale.agents.liquidators import gas_price_path
    from firesale.engine._blueprint import Blueprint
    from firesale.engine._world import World
    from firesale.scenario import parse_scenario

    sc = parse_scenario(text, source="toy.toml")
    bp = Blueprint.build(sc)
    rel = sc.spec.market.build(["WETH"], sc.base_dir).simulate(2, n_steps, 300.0, np.random.default_rng(0))
    exo = bp.exogenous_prices(rel)
    world = World(bp, exo, gas_price_path(sc, bp.assets, exo, bp.dt), debug=True)
    debts = []
    for _ in range(n_steps):
        world.step()
        debt = world.states[0].debt[0, :, 1]
        debts.append((float(debt[0]), float(debt[1])))
    return debts, world


def test_an_oracle_switch_changes_the_price_the_liquidation_sees() -> None:
    # On its frozen feed ($2,000: HF of A = 0.83 x 2000 / 1500 > 1) the lender liquidates nobody.
    frozen, _ = _run_debts(_with(FROZEN, ""))
    assert frozen == [(1500.0, 1200.0)] * 6
    # Switched to the market feed at step 3 (t = 900, p = 1,700): A (HF < 1 below $1,807.2) is liquidated at once,
    # B (below $1,445.8) at step 6 (p = 1,400), as on the market feed from the start.
    debts, world = _run_debts(_with(FROZEN, SWITCH))
    assert debts == [(1500.0, 1200.0)] * 2 + [(0.0, 1200.0)] * 3 + [(0.0, 0.0)]
    # Seized: A 1500 x 1.05 / 1700 WETH at step 3, B 1200 x 1.05 / 1400 = 0.9 WETH at step 6.
    np.testing.assert_allclose(
        world.states[0].collateral[0, :, 0], [1 - 1500 * 1.05 / 1700, 1 - 0.9], rtol=1e-12
    )


def test_a_reserve_deposit_deepens_a_pool_by_the_amount_and_stays_when_lps_leave() -> None:
    pool = ConstantProductPool("p", ("WETH", "USDC"), reserves=(100.0, 200_000.0), fee_bps=30)
    venues = VenueSet([("pool", pool)], [[0, 1]], 2)
    market = np.array([[2000.0, 1.0], [2000.0, 1.0]])
    # $40,000 into a $400,000 pool: every balance times 1.1, the price unchanged; depth sqrt(x y) times 1.1.
    venues.add_liquidity(0, np.array([40_000.0, 0.0]), market)
    state = venues.states[0]
    np.testing.assert_allclose(state["reserve0"], [110.0, 100.0], rtol=1e-12)
    np.testing.assert_allclose(state["reserve1"], [220_000.0, 200_000.0], rtol=1e-12)
    np.testing.assert_allclose(venues.depth(0), [1.1 * math.sqrt(100 * 200_000), math.sqrt(100 * 200_000)])
    # LPs withdraw half of their liquidity: their 100 WETH become 50, the protocol's 10 stay: 60 WETH.
    venues.scale_liquidity(0, np.array([0.5, 0.5]))
    np.testing.assert_allclose(state["reserve0"], [60.0, 50.0], rtol=1e-12)


def test_a_concentrated_pool_is_valued_range_by_range_and_deepened_pro_rata() -> None:
    from firesale.liquidity.concentrated import ConcentratedLiquidityPool

    # One range, ticks -600 to 600, L = 1e21 raw, at price 1 (sqrt price 1): by the whitepaper's eqs. 6.29-6.30
    # each side holds L (1 - 1.0001^-300) raw = 1000 (1 - 1.0001^-300) = 29.55 tokens (18 decimals).
    pool = ConcentratedLiquidityPool(
        "c", ("A", "B"), ranges=[(-600, 600, 1e21)], sqrt_price_x96=2**96, fee=3000, decimals=(18, 18)
    )
    venues = VenueSet([("pool", pool)], [[0, 1]], 1)
    side = 1000.0 * (1.0 - 1.0001**-300)
    market = np.array([[2.0, 1.0]])  # USD prices of A and B
    value = venues.pool_value(0, market)
    np.testing.assert_allclose(value, [2.0 * side + side], rtol=1e-9)
    depth = venues.depth(0)
    venues.add_liquidity(0, 0.25 * value, market)  # a quarter of the pool's value: every range times 1.25
    np.testing.assert_allclose(venues.depth(0), 1.25 * depth, rtol=1e-12)
    np.testing.assert_allclose(venues.pool_value(0, market), 1.25 * value, rtol=1e-12)


POOL = """
[[venues]]
type = "constant_product"
name = "pool"
coins = ["WETH", "USDC"]
reserves = [100.0, 200000.0]
fee_bps = 30
"""
DEPLOY = """
[[policies]]
name = "reserve-into-pool"
protocol = "lender"
trigger = { series = "depth", venue = "pool", comparison = "<", threshold = 2.0 }
action = { type = "deploy_reserve", venue = "pool", share = 0.1 }
"""


def test_a_depth_triggered_reserve_adds_its_capital_to_the_pool_once() -> None:
    head, tail = WORLD.format(n_steps=1).split("[[oracles]]", 1)
    plain_text = (head + POOL + "[[oracles]]" + tail).replace("[[protocols]]", FROZEN + "[[protocols]]")
    _, a = _run_debts(plain_text, n_steps=1)
    _, b = _run_debts(plain_text + DEPLOY, n_steps=1)
    # 10 % of the starting debt, 1,500 + 1,200 USDC at $1 = $270, deposited at step 1 in proportion to the pool.
    value = a.venues.pool_value(1, a.accounting.last_market)  # venues: the book, then the pool
    ratio = b.venues.states[1]["reserve0"] / a.venues.states[1]["reserve0"]
    np.testing.assert_allclose(ratio, 1.0 + 270.0 / value, rtol=1e-9)
    assert (value > 0).all() and (ratio > 1.0).all()


def _problems(text: str) -> list[str]:
    from firesale.scenario import parse_scenario

    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, source="bad.toml")
    return exc.value.problems


@pytest.mark.parametrize(
    ("extra", "policy", "expected"),
    [
        (FROZEN, SWITCH.replace('oracle = "eth"', 'oracle = "eth-us"'),
         "bad.toml: policies.switch.action.oracle: must name a defined oracle (feed) (did you mean 'eth'?), "
         "got 'eth-us'"),
        (FROZEN, SWITCH.replace('oracle = "eth"', 'oracle = "usd"'),
         "bad.toml: policies.switch.action.oracle: must be a feed of WETH (the asset of eth-frozen); it prices "
         "USDC, got 'usd'"),
        (FROZEN, SWITCH.replace('asset = "WETH"', 'asset = "WBTC"'),
         "bad.toml: policies.switch.action.asset: must be a reserve of lender (did you mean 'WETH'?), got 'WBTC'"),
        (FROZEN, DEPLOY,
         "bad.toml: policies.reserve-into-pool.trigger.venue: must name a defined venue (did you mean 'book'?), "
         "got 'pool'"),
        (FROZEN, DEPLOY.replace('venue = "pool", share', 'venue = "book", share'),
         "bad.toml: policies.reserve-into-pool.action.venue: must name a pool (an order book"),
        (FROZEN, DEPLOY.replace("share = 0.1", "share = -0.1"),
         "bad.toml: policies.reserve-into-pool.action.share"),
        (FROZEN, SWITCH.replace('series = "time", comparison = ">=", threshold = 900',
                            'series = "garch_forecast", asset = "WETH", comparison = ">", threshold = 0.06'),
         "bad.toml: policies.switch.trigger.asset: a GARCH forecast uses the scenario's fitted GARCH market"),
    ],
)  # fmt: skip
def test_bad_mitigations_are_rejected_with_file_key_rule_and_value(
    extra: str, policy: str, expected: str
) -> None:
    problems = _problems(_with(extra, policy))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_negative_reserve_names_the_rule_and_the_value() -> None:
    text = _with(FROZEN, DEPLOY.replace("share = 0.1", "share = -0.1"))
    (line,) = [p for p in _problems(text) if "action.share" in p]
    assert "-0.1" in line and "greater than 0" in line


def test_a_garch_horizon_off_the_native_grid_is_refused_on_the_flagship(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from firesale.scenario import load_scenario, with_policies

    f = tmp_path / "pm.toml"
    f.write_text(
        '[[policies]]\nname = "pm"\nprotocol = "aave-v3-core"\n'
        'trigger = { series = "garch_forecast", asset = "WETH", window = 5400, comparison = ">", threshold = 0.06 }\n'
        'action = { type = "scale_with_trigger", parameter = "reserves.WETH.liquidation_margin" }\n'
    )
    with pytest.raises(ScenarioError) as exc:
        with_policies(load_scenario("aave-v3-today"), [str(f)])
    assert exc.value.problems == [
        "aave-v3-today+pm: policies.pm.trigger.window: must be a positive multiple of the GARCH's market.native_dt "
        "(3600 s), got 5400.0"
    ]
