"""Lenders who supply for the rate and loops bought through the venues, on the toy book (``_toy``), by hand.

Supply for the rate. USDC supply 3,000, borrows 1,500 (A) + 1,200 (B) = 2,700: usage 0.9. The curve: optimal 0.8,
base 0, slope1 4 %, slope2 60 %, reserve factor 10 %. Above the kink: borrow rate 4 % + 60 % x (0.9 - 0.8) / 0.2 =
34 %, supply rate 34 % x 0.9 x 0.9 = 27.54 % (Aave's DefaultReserveInterestRateStrategyV2). Outside rate 5 %,
semi-elasticity 100, five-minute steps: 100 x 0.2254 x 3000 x 300 / (365 x 86400) USDC arrive at step 1. Lenders do
not run (``run = false``): only supply moves.

Loops. WETH rises 5 % a step (test_borrowing's world): at step 1 (p = 2100) B (1 WETH, 1,200 USDC) loops back to
health factor 1.25: X = 243 / 0.42 USDC, sized at the market price (test_borrowing). Here WETH's only venue is a
constant-product pool of 1,000 WETH and 2,100,000 USDC (at the market price, no fee, arbitrage capital 0), so X USDC
buy 1000 - 1000 x 2.1e6 / (2.1e6 + X) WETH (x y = k), which is what B supplies.
"""

from __future__ import annotations

import pytest
from tests.unit.agents import _toy
from tests.unit.agents._toy import scenario, world

from firesale.engine.simulate import simulate
from firesale.exceptions import ScenarioError

YEAR = 365 * 86400
LENDERS = """
[agents.lenders]
run = false
supply_elasticity = 100.0
outside_rate = 0.05
"""
CURVE = """optimal_usage_ratio = 0.8
base_variable_borrow_rate = 0.0
variable_rate_slope1 = 0.04
variable_rate_slope2 = 0.6
reserve_factor = 0.1"""
USDC = "total_supply = 3000.0\n" + CURVE
STEP_1 = 100 * (0.34 * 0.9 * 0.9 - 0.05) * 3000 * 300 / YEAR  # 0.6433 USDC


def supply_rate(u: float) -> float:
    borrow = 0.04 * u / 0.8 if u <= 0.8 else 0.04 + 0.6 * (u - 0.8) / 0.2
    return borrow * u * 0.9


def test_supply_arrives_while_the_rate_beats_the_outside_rate() -> None:
    w = world(LENDERS, 3, usdc=USDC)
    w.step()
    u = w.states[0].users
    assert u.supplied[0, 1] == pytest.approx(STEP_1, rel=1e-12)
    assert u.supplied[0, 0] == 0.0  # WETH has no curve
    # Step 2: supply 3000 + STEP_1, usage 2700 / that, still above the kink. A is liquidated in its cascade (its
    # 1,500 USDC repaid): usage 1200 / supply, a supply rate near 0.7 %, below 5 %: nothing more arrives at step 3.
    s1 = 3000 + STEP_1
    step_2 = 100 * (supply_rate(2700 / s1) - 0.05) * s1 * 300 / YEAR
    w.step()
    assert u.supplied[0, 1] == pytest.approx(STEP_1 + step_2, rel=1e-12)
    w.step()
    assert u.supplied[0, 1] == pytest.approx(STEP_1 + step_2, rel=1e-12)


def test_supply_metrics_and_utilisation() -> None:
    res = simulate(scenario(LENDERS, n_steps=1, usdc=USDC), n_paths=2)
    m = res.metrics.iloc[0]
    assert m["lender.supplied_usd"] == pytest.approx(STEP_1, rel=1e-12)  # USDC at $1
    assert m["lender.supply_refused_usd"] == 0.0
    assert m["lender.utilisation_USDC"] == pytest.approx(2700 / (3000 + STEP_1), rel=1e-12)


def test_a_supply_cap_stops_the_supply() -> None:
    # cap 3000.25: 0.25 USDC of the 0.6433 fit (ValidationLogic.validateSupply: supply + amount <= cap)
    res = simulate(scenario(LENDERS, n_steps=2, usdc=USDC + "\nsupply_cap = 3000.25"), n_paths=2)
    m = res.metrics.iloc[0]
    assert m["lender.supplied_usd"] == pytest.approx(0.25, rel=1e-12)
    step_2 = (
        100 * (supply_rate(2700 / 3000.25) - 0.05) * 3000.25 * 300 / YEAR
    )  # all of it refused: at the cap
    assert m["lender.supply_refused_usd"] == pytest.approx(STEP_1 - 0.25 + step_2, rel=1e-12)


def test_no_supply_when_the_outside_rate_is_higher() -> None:
    res = simulate(scenario(LENDERS.replace("0.05", "0.3"), n_steps=1, usdc=USDC), n_paths=2)
    assert res.metrics["lender.supplied_usd"].iloc[0] == 0.0  # 27.54 % < 30 %


def test_outside_rates_by_reserve_and_the_elasticity_scale_the_flow() -> None:
    text = LENDERS.replace("outside_rate = 0.05", "outside_rate = { USDC = 0.1 }").replace("100.0", "50.0")
    res = simulate(scenario(text, n_steps=1, usdc=USDC), n_paths=2)
    want = 50 * (0.34 * 0.9 * 0.9 - 0.1) * 3000 * 300 / YEAR
    assert res.metrics["lender.supplied_usd"].iloc[0] == pytest.approx(want, rel=1e-12)


def test_the_reserve_factor_changes_the_supply() -> None:
    res = simulate(scenario(LENDERS, n_steps=1, usdc=USDC.replace("reserve_factor = 0.1", "reserve_factor = 0.5")),
                   n_paths=2)  # fmt: skip
    want = 100 * (0.34 * 0.9 * 0.5 - 0.05) * 3000 * 300 / YEAR
    assert res.metrics["lender.supplied_usd"].iloc[0] == pytest.approx(want, rel=1e-12)


def test_supplied_money_can_run() -> None:
    # Runs on (cutoff 0.2, noise 0.02) act first, then supply. Step 1: theta = 300 / 3000, 3000 Phi(5) asked, the
    # 300 liquid paid: supply 2700, usage 1, supply rate 64 % x 1 x 0.9; then 100 (0.576 - 0.05) 2700 300 / year
    # arrives. Step 2: supply 2700 + that, theta = that / supply; the run's base (passive supply) is 3000 + that:
    # what came for the rate can run too.
    from math import erf, sqrt

    def phi(x: float) -> float:
        return 0.5 * (1 + erf(x / sqrt(2)))

    came = 100 * (0.64 * 0.9 - 0.05) * 2700 * 300 / YEAR
    w = world(LENDERS.replace("run = false\n", "cutoff = 0.2\n"), 2, usdc=USDC)
    w.step()
    u = w.states[0].users
    assert u.asked[0, 1] == pytest.approx(3000 * phi(5.0), rel=1e-12)
    assert u.supplied[0, 1] == pytest.approx(came, rel=1e-12)
    w.step()
    theta = came / (2700 + came)
    assert u.asked[0, 1] == pytest.approx(phi((0.2 - theta) / 0.02) * (3000 + came), rel=1e-9)


def test_off_by_default() -> None:
    w = world("[agents.lenders]\n", 2, usdc="total_supply = 3000.0")
    w.step()
    w.step()
    assert w.states[0].users.supplied is None
    res = simulate(scenario("[agents.lenders]\n", n_steps=1, usdc="total_supply = 3000.0"), n_paths=2)
    assert "lender.supplied_usd" not in res.metrics
    assert "lender.loop_bought_usd" not in res.metrics


# ----- loops through the venues ------------------------------------------------------------------------------------
POOL = """[[venues]]
type = "constant_product"
name = "pool"
coins = ["WETH", "USDC"]
reserves = [1000.0, 2100000.0]
fee_bps = 0.0
"""
BOOK = """[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = 1e15
impact = "linear"
"""
LOOP = """
[agents.borrowers]
action = "none"
response_probability = 1.0
borrow_above_health_factor = 1.3
borrow_target_health_factor = 1.25
loop = true
"""
X = 243 / 0.42


def pool_world(agents: str = LOOP, fee_bps: float = 0.0):  # type: ignore[no-untyped-def]
    from tests.unit.agents.test_borrowing import world as borrowing_world

    body = _toy.WORLD.replace("depth = {{ WETH = 0.5 }}", "depth = {{ WETH = -0.5 }}")
    body = body.replace(BOOK.replace("{", "{{").replace("}", "}}"), POOL.replace("0.0\n", f"{fee_bps}\n"))
    body = body.replace('venues = ["book"]', 'venues = ["pool"]')
    body = body.replace("gas_price_gwei = 0.0\n", "gas_price_gwei = 0.0\narbitrage_capital_usd = 0.0\n")
    body = body.format(n_steps=1, n_paths=2, weth="", usdc="total_supply = 1e6") + agents
    from firesale.scenario import parse_scenario

    sc = parse_scenario(body, source="toy.toml")
    return sc, borrowing_world(sc)


def test_a_loop_buys_through_the_pool_and_moves_it_to_x_y_k() -> None:
    sc, w = pool_world()
    w.step()
    state = w.venues.states[0]
    usdc_after = 2_100_000 + X
    weth_after = 1000 * 2_100_000 / usdc_after  # x y = k, no fee
    assert float(state["reserve1"][0]) == pytest.approx(usdc_after, rel=1e-12)
    assert float(state["reserve0"][0]) == pytest.approx(weth_after, rel=1e-12)
    bought = 1000 - weth_after
    assert float(w.states[0].collateral[0, 1, 0]) == pytest.approx(1 + bought, rel=1e-12)
    assert float(w.states[0].debt[0, 1, 1]) == pytest.approx(1200 + X, rel=1e-12)
    # the pool's price of WETH rose to usdc / weth; the slippage is the borrowed value less what it bought at 2100
    assert float(w.venues.venues[0][1].price(state, 0, 1)[0]) == pytest.approx(
        usdc_after / weth_after, rel=1e-12
    )
    res = simulate(sc, n_paths=2)
    m = res.metrics.iloc[0]
    assert m["lender.loop_bought_usd"] == pytest.approx(bought * 2100, rel=1e-12)
    assert m["lender.loop_slippage_usd"] == pytest.approx(X - bought * 2100, rel=1e-9)


def test_a_pool_fee_is_paid_by_the_loop() -> None:
    _, w = pool_world(fee_bps=30.0)
    w.step()
    # routed in four slices (as sales are), each a Uniswap v2 getAmountOut (unrounded); the fee stays in the pool
    weth, usdc, bought = 1000.0, 2_100_000.0, 0.0
    for _ in range(4):
        out = 0.997 * (X / 4) * weth / (usdc + 0.997 * (X / 4))
        weth, usdc, bought = weth - out, usdc + X / 4, bought + out
    assert float(w.states[0].collateral[0, 1, 0]) == pytest.approx(1 + bought, rel=1e-12)


def test_borrowing_without_a_loop_leaves_the_pool_alone() -> None:
    _, w = pool_world(LOOP.replace("loop = true\n", ""))
    w.step()
    assert float(w.venues.states[0]["reserve0"][0]) == 1000.0
    assert float(w.venues.states[0]["reserve1"][0]) == 2_100_000.0
    assert not w.loops


# ----- validation --------------------------------------------------------------------------------------------------
def problems(agents: str, usdc: str = USDC, weth: str = "") -> list[str]:
    with pytest.raises(ScenarioError) as exc:
        scenario(agents, usdc=usdc, weth=weth)
    return exc.value.problems


def test_a_negative_slope_is_refused() -> None:
    assert problems(LENDERS, USDC.replace("variable_rate_slope1 = 0.04", "variable_rate_slope1 = -0.04")) == [
        "toy.toml: protocols.lender.reserves.USDC.variable_rate_slope1: input should be greater than or equal to 0, "
        "got -0.04"
    ]


@pytest.mark.parametrize("value", ["0.0", "1.0", "1.2"])
def test_an_optimal_ratio_outside_aaves_bounds_is_refused(value: str) -> None:
    bound = "greater than or equal to 0.01" if float(value) < 0.01 else "less than or equal to 0.99"
    assert problems(LENDERS, USDC.replace("optimal_usage_ratio = 0.8", f"optimal_usage_ratio = {value}")) == [
        f"toy.toml: protocols.lender.reserves.USDC.optimal_usage_ratio: input should be {bound}, got {value}"
    ]


def test_slope1_above_slope2_is_refused() -> None:
    assert problems(LENDERS, USDC.replace("variable_rate_slope2 = 0.6", "variable_rate_slope2 = 0.03")) == [
        "toy.toml: protocols.lender.reserves.USDC.variable_rate_slope1: must be <= variable_rate_slope2 (0.03; "
        "Aave's SLOPE_2_MUST_BE_GTE_SLOPE_1), got 0.04"
    ]


def test_a_max_rate_above_1000_percent_is_refused() -> None:
    assert problems(LENDERS, USDC.replace("variable_rate_slope2 = 0.6", "variable_rate_slope2 = 10.0")) == [
        "toy.toml: protocols.lender.reserves.USDC.variable_rate_slope2: base_variable_borrow_rate + "
        "variable_rate_slope1 + variable_rate_slope2 must be <= 10 (Aave's MAX_BORROW_RATE, 1000 %), got 10.04 in "
        "all, got 10.0"
    ]


def test_a_partial_curve_is_refused() -> None:
    out = problems(LENDERS, "total_supply = 3000.0\noptimal_usage_ratio = 0.8")
    assert out == [
        "toy.toml: protocols.lender.reserves.USDC.optimal_usage_ratio: a rate curve needs all of optimal_usage_ratio, "
        "base_variable_borrow_rate, variable_rate_slope1, variable_rate_slope2 (missing base_variable_borrow_rate, "
        "variable_rate_slope1, variable_rate_slope2), got 0.8"
    ]


def test_a_reserve_factor_without_a_curve_is_refused() -> None:
    assert problems(LENDERS, "total_supply = 3000.0\nreserve_factor = 0.1")[0] == (
        "toy.toml: protocols.lender.reserves.USDC.reserve_factor: reserve_factor scales the supply rate of a rate "
        "curve; needs optimal_usage_ratio, base_variable_borrow_rate, variable_rate_slope1, variable_rate_slope2, "
        "got 0.1"
    )


def test_a_curve_nobody_reads_is_refused() -> None:
    assert (
        "toy.toml: protocols.lender.reserves.USDC.optimal_usage_ratio: has no effect: only lenders who supply for "
        "the rate ([agents.lenders] supply_elasticity on lender) read the rate curve; remove it, got 0.8"
    ) in problems("", USDC)


def test_supply_needs_both_keys_and_a_curve() -> None:
    assert problems(LENDERS.replace("outside_rate = 0.05\n", "")) == [
        "toy.toml: agents.lenders.supply_elasticity: needs outside_rate (supply for the rate needs both), got 100.0"
    ]
    assert problems(LENDERS, "total_supply = 3000.0") == [
        "toy.toml: agents.lenders.supply_elasticity: needs a reserve of a lending market the lenders act on with a "
        "rate curve (optimal_usage_ratio, base_variable_borrow_rate, variable_rate_slope1, variable_rate_slope2), a "
        "total_supply and an outside_rate, got 100.0"
    ]


def test_lenders_who_neither_run_nor_supply_are_refused() -> None:
    assert problems("[agents.lenders]\nrun = false\n", "total_supply = 3000.0") == [
        "toy.toml: agents.lenders.run: lenders who do not run and do not supply (no supply_elasticity) do nothing; "
        "remove the section, got False"
    ]


def test_an_outside_rate_for_an_unknown_reserve_and_a_reserve_without_one() -> None:
    out = problems(LENDERS.replace("outside_rate = 0.05", "outside_rate = { DAI = 0.05 }"))
    assert out == [
        "toy.toml: protocols.lender.reserves.USDC.optimal_usage_ratio: has no effect: agents.lenders.outside_rate "
        "has no rate for USDC; add one or remove the curve, got 0.8",
        "toy.toml: agents.lenders.supply_elasticity: needs a reserve of a lending market the lenders act on with a "
        "rate curve (optimal_usage_ratio, base_variable_borrow_rate, variable_rate_slope1, variable_rate_slope2), a "
        "total_supply and an outside_rate, got 100.0",
        "toy.toml: agents.lenders.outside_rate.DAI: must be a reserve of a lending market the lenders act on (USDC, "
        "WETH), got 0.05",
    ]


def test_a_curve_without_total_supply_is_refused() -> None:
    out = problems(LENDERS, CURVE)
    assert (
        "toy.toml: protocols.lender.reserves.USDC.total_supply: a rate curve needs the supply its usage divides by, got None"
        in out
    )


def test_a_supply_cap_binds_on_supply_for_the_rate() -> None:
    # without lenders who supply, the cap is refused (nothing is new supply); with them it validates
    assert problems("", "total_supply = 3000.0\nsupply_cap = 3100.0")[0].startswith(
        "toy.toml: protocols.lender.reserves.USDC.supply_cap: has no effect"
    )
    scenario(LENDERS, usdc=USDC + "\nsupply_cap = 3100.0")


def test_validate_reports_the_problems_run_would_stop_on(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from firesale.scenario import load_scenario

    path = tmp_path / "bad.toml"
    path.write_text(
        _toy.WORLD.format(n_steps=1, n_paths=2, weth="", usdc=USDC.replace("0.6", "0.03")) + LENDERS
    )
    with pytest.raises(ScenarioError) as exc:
        load_scenario(str(path))
    assert any("variable_rate_slope1: must be <= variable_rate_slope2" in p for p in exc.value.problems)


def test_with_the_venue_channel_cut_the_loop_buys_at_market() -> None:
    # firesale contagion's counterfactual for another protocol (focus 1) with the venue channel cut: this protocol's
    # flows are absorbed outside the venues, its loops' purchases too (as World._round absorbs its sales)
    import numpy as np

    from firesale.agents.liquidators import gas_price_path
    from firesale.engine._blueprint import Blueprint
    from firesale.engine._world import World

    sc, _ = pool_world()
    bp = Blueprint.build(sc)
    exo = bp.exogenous_prices(
        sc.spec.market.build(["WETH"], sc.base_dir).simulate(2, 1, 300.0, np.random.default_rng(0))
    )
    w = World(bp, exo, gas_price_path(sc, bp.assets, exo, bp.dt), debug=True, channels=("derived", "liquidators"),
              focus=1)  # fmt: skip
    w.step()
    assert float(w.venues.states[0]["reserve0"][0]) == 1000.0
    assert float(w.states[0].collateral[0, 1, 0]) == pytest.approx(1 + X / 2100, rel=1e-12)
