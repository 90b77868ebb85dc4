"""Holders who sell a token ahead of a collapse (``[agents.holders]``): the rule, the sale's price impact, by hand.

The world: TOK at $1 trades against USDC in one constant-product pool of 1,000 TOK and 1,000 USDC with no fee
(k = 1e6); TOK's exogenous price drops 5 % at 300 s (step 1) and stays there; arbitrageurs have no capital, so only
the holders trade the pool. A lending market with one safe account (1 WETH against 100 USDC, WETH flat) is there
because a scenario needs a protocol. Holders of 200 TOK watch TOK against a $1 peg: at step 1 the fundamental is
theta = 0.95 / 1 - 1 = -0.05, exactly the cutoff, so Phi(0) = 1/2 of the holders' signals are below it; at the start
theta0 = 0, z0 = (-0.05 - 0) / 0.005 = -10 and Phi(-10) = 7.6e-24 (nobody had sold), so the share is 1/2 to within
1e-23. Phi is computed here from math.erf, not from the code's scipy.
"""

from __future__ import annotations

from math import erf, sqrt

import numpy as np
import pytest

from firesale.agents.holders import HolderGroupSpec, HolderRule
from firesale.engine.simulate import simulate
from firesale.exceptions import ScenarioError
from firesale.scenario import parse_scenario

WORLD = """
name = "holders-toy"
[simulation]
n_steps = {n_steps}
dt = 300
n_paths = 2
seed = 1
record = ["price"]
[[assets]]
name = "TOK"
price = 1.0
[[assets]]
name = "USDC"
price = 1.0
[[assets]]
name = "WETH"
price = 2000.0
[market]
{market}
[[venues]]
type = "constant_product"
name = "pool"
coins = ["TOK", "USDC"]
reserves = [1000.0, 1000.0]
fee_bps = 0
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
accounts = [
  {{ account = "A", asset = "WETH", collateral_amount = 1.0 }},
  {{ account = "A", asset = "USDC", debt_amount = 100.0 }},
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
arbitrage_capital_usd = 0.0
"""

DROP = 'model = "shock"\nshape = "drop"\ndepth = { TOK = 0.05 }\nstart = 300'
GBM = 'model = "gbm"\nvol = { TOK = 1.5, WETH = 0.5 }'

GROUP = """
[[agents.holders.groups]]
name = "tok"
token = "TOK"
float_units = 200.0
venues = ["pool"]
peg_usd = 1.0
cutoff = -0.05
noise = 0.005
max_sell_share_per_hour = {rate}
"""


def phi(x: float) -> float:
    return 0.5 * (1 + erf(x / sqrt(2)))


def toy(holders: str = "", n_steps: int = 2, market: str = DROP, source: str = "toy.toml"):  # type: ignore[no-untyped-def]
    return parse_scenario(WORLD.format(n_steps=n_steps, market=market) + holders, source=source)


def _rule(cutoff: float, noise: float, theta0: float) -> HolderRule:
    spec = HolderGroupSpec(name="g", token="T", float_units=1.0, venues=["v"], cutoff=cutoff, noise=noise)
    return HolderRule(spec, theta0)


# ----- the rule -------------------------------------------------------------------------------------------------
def test_share_selling_is_phi_counted_from_the_start() -> None:
    # cutoff -0.05, sigma 0.02, theta0 = 0: Phi(z0) = Phi(-2.5) = 0.0062096653 (table value).
    r = _rule(-0.05, 0.02, 0.0)
    p0 = 0.0062096653257761
    assert phi(-2.5) == pytest.approx(p0, rel=1e-12)
    theta = np.array([0.0, -0.03, -0.05, -0.07, -0.5])
    # z = (-0.05 - theta) / 0.02 = -2.5, -1, 0, 1, 22.5; Phi(-1) = 0.1586552539, Phi(1) = 0.8413447461.
    phis = np.array([p0, 0.15865525393145707, 0.5, 0.8413447460685429, 1.0])
    np.testing.assert_allclose(r.share_selling(theta), (phis - p0) / (1 - p0), rtol=1e-12, atol=1e-15)
    # Above the starting fundamental nobody sells (the share is clipped at 0, not negative).
    assert r.share_selling(np.array([0.02]))[0] == 0.0


def test_the_fundamental_is_the_lesser_of_price_and_coverage() -> None:
    # UST at 0.9 against $1: theta = -0.1. LUNA backing worth 80 % of UST owed: theta = min(0.9, 0.8) - 1 = -0.2.
    p, v = np.array([0.9, 0.9]), np.array([1.0, 1.0])
    np.testing.assert_allclose(HolderRule.fundamental(p, v), [-0.1, -0.1], rtol=1e-15)
    np.testing.assert_allclose(HolderRule.fundamental(p, v, np.array([0.8, 1.4])), [-0.2, -0.1], rtol=1e-15)


# ----- the engine: the sale goes through the pool --------------------------------------------------------------
def test_holders_sale_moves_the_pool_to_the_constant_product_price() -> None:
    # Step 1: half of 200 TOK decides to sell and the speed (12 x float per hour = 200 per 5-minute step) does not
    # bind: 100 TOK into the pool. x y = k: TOK 1,100, USDC 1e6 / 1100 = 909.0909...; price 909.0909 / 1100 =
    # 0.82644628 USDC per TOK; proceeds 1000 - 909.0909 = 90.909 USDC; sold at market 100 x 0.95 = 95.
    res = simulate(toy(GROUP.format(rate=12.0)), n_paths=2)
    m = res.metrics.iloc[0]
    assert m["holders.tok.sold_units"] == pytest.approx(100.0, rel=1e-12)
    assert m["holders.tok.proceeds_usd"] == pytest.approx(1000.0 - 1e6 / 1100.0, rel=1e-12)
    assert m["holders.tok.sold_value_usd"] == pytest.approx(95.0, rel=1e-12)
    assert m["holders.tok.slippage_usd"] == pytest.approx(95.0 - (1000.0 - 1e6 / 1100.0), rel=1e-12)
    assert m["holders.tok.first_sale_step"] == 1.0


def test_pool_state_after_the_sale_and_no_second_sale_at_the_same_fundamental() -> None:
    from firesale.agents.liquidators import gas_price_path
    from firesale.engine._blueprint import Blueprint
    from firesale.engine._world import World

    sc = toy(GROUP.format(rate=12.0), n_steps=2)
    bp = Blueprint.build(sc)
    model = sc.spec.market.build(["TOK", "WETH"], sc.base_dir)
    exo = bp.exogenous_prices(model.simulate(2, 2, 300.0, np.random.default_rng(0)))
    tok = bp.assets.index("TOK")
    np.testing.assert_allclose(exo[:, 1, tok], 0.95, rtol=1e-12)  # the shock, as the test assumes
    w = World(bp, exo, gas_price_path(sc, bp.assets, exo, bp.dt), debug=True)
    pool, state = w.venues.venues[0][1], w.venues.states[0]
    w.step()
    np.testing.assert_allclose(state["reserve0"], 1100.0, rtol=1e-12)
    np.testing.assert_allclose(state["reserve1"], 1e6 / 1100.0, rtol=1e-12)
    np.testing.assert_allclose(pool.price(state, 0, 1), (1e6 / 1100.0) / 1100.0, rtol=1e-12)
    w.step()  # theta stays -0.05: the half that sold is gone, the other half's signals are above the cutoff
    np.testing.assert_allclose(state["reserve0"], 1100.0, rtol=1e-12)


def test_the_speed_bound_spreads_the_sale_over_steps() -> None:
    # 0.6 of the float per hour = 0.6 x 200 x 300 / 3600 = 10 TOK per step: 10, 20, 30 sold after steps 1-3.
    # Pool after 30 TOK: x = 1030, y = 1e6 / 1030; proceeds 1000 - 1e6 / 1030.
    res = simulate(toy(GROUP.format(rate=0.6), n_steps=3), n_paths=2)
    m = res.metrics.iloc[0]
    assert m["holders.tok.sold_units"] == pytest.approx(30.0, rel=1e-12)
    assert m["holders.tok.proceeds_usd"] == pytest.approx(1000.0 - 1e6 / 1030.0, rel=1e-12)


def test_a_backed_token_sells_when_its_backing_falls_below_what_is_owed() -> None:
    # TOK held at $1 by the market (no TOK shock), backed by WETH: 1 WETH at $2,000 behind 1,000 TOK at the start
    # (coverage 2, theta0 = min(1, 2) - 1 = 0). WETH falls 60 %: coverage 0.8, theta = -0.2: Phi((-0.05 + 0.2) /
    # 0.005) = Phi(30) = 1: the whole float (200 TOK, speed not binding) sells; x = 1200, proceeds 1000 - 1e6/1200.
    market = 'model = "shock"\nshape = "drop"\ndepth = { WETH = 0.6 }\nstart = 300'
    group = GROUP.format(rate=12.0) + 'backing = "WETH"\nbacking_units = 1.0\nwatched_supply_units = 1000.0\n'
    m = simulate(toy(group, market=market), n_paths=2).metrics.iloc[0]
    assert m["holders.tok.sold_units"] == pytest.approx(200.0, rel=1e-12)
    assert m["holders.tok.proceeds_usd"] == pytest.approx(1000.0 - 1e6 / 1200.0, rel=1e-12)


# ----- off by default, determinism -------------------------------------------------------------------------------
def test_off_by_default_changes_nothing() -> None:
    # The same world without the section: the pool is never traded (no holder, no arbitrage capital).
    res = simulate(toy(), n_paths=2)
    assert not any(k.startswith("holders.") for k in res.metrics.columns)
    np.testing.assert_array_equal(res.paths["price_TOK"][:, -1], np.float32(0.95))


def test_results_do_not_depend_on_batch_size() -> None:
    sc = toy(GROUP.format(rate=0.6), n_steps=12, market=GBM)
    one = simulate(sc, n_paths=300, batch_size=300)
    many = simulate(sc, n_paths=300, batch_size=256)
    assert one.metrics["holders.tok.sold_units"].to_numpy().std() > 0  # paths differ: the test can fail
    assert one.metrics.equals(many.metrics)
    first = simulate(sc, n_paths=40)
    assert first.metrics.equals(one.metrics.iloc[:40])


# ----- validation: file, key path, rule, value ------------------------------------------------------------------
def _problems(holders: str, market: str = DROP) -> list[str]:
    with pytest.raises(ScenarioError) as exc:
        toy(holders, market=market)
    return exc.value.problems


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("float_units = 200.0", "float_units = -1.0"),
            "toy.toml: agents.holders.groups.tok.float_units: input should be greater than 0, got -1.0",
        ),
        (
            ("cutoff = -0.05", "cutoff = 0.05"),
            "toy.toml: agents.holders.groups.tok.cutoff: input should be less than 0, got 0.05",
        ),
        (
            ('token = "TOK"', 'token = "TOKK"'),
            "toy.toml: agents.holders.groups.tok.token: must name an asset of the scenario (TOK, USDC, WETH), got 'TOKK'",
        ),
        (
            ('venues = ["pool"]', 'venues = ["book"]'),
            "toy.toml: agents.holders.groups.tok.venues[0]: venue book does not trade TOK (it trades WETH), got 'book'",
        ),
        (
            ('venues = ["pool"]', 'venues = ["pol"]'),
            "toy.toml: agents.holders.groups.tok.venues[0]: must name a venue of the scenario (pool, book), got 'pol'",
        ),
        (
            ("noise = 0.005", "noise = 0.005\nbacking_units = 3.0"),
            "toy.toml: agents.holders.groups.tok.backing_units: has no effect without backing (nothing is covered); "
            "remove it, got 3.0",
        ),
        (
            ("noise = 0.005", 'noise = 0.005\nbacking = "WETH"'),
            "toy.toml: agents.holders.groups.tok: backing needs backing_units and watched_supply_units",
        ),
        (
            ("noise = 0.005", "noise = 0.005\nspeed = 1.0"),
            "toy.toml: agents.holders.groups.tok.speed: unknown key",
        ),
        (
            ("peg_usd = 1.0", "peg_usd = 1.2"),
            "toy.toml: agents.holders.groups.tok.cutoff: must be below the fundamental at the starting prices "
            "(-0.166667): holders below the cutoff would have sold before the start, got -0.05",
        ),
    ],
)
def test_bad_groups_name_file_key_rule_and_value(edit: tuple[str, str], expected: str) -> None:
    text = GROUP.format(rate=0.6).replace(*edit)
    problems = _problems(text)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_replayed_token_is_refused() -> None:
    market = 'model = "replay"\nsource = "firesale-data:eth_btc_1h_2019-2024"\ncolumns = { TOK = "BTC", WETH = "ETH" }'
    problems = _problems(GROUP.format(rate=0.6), market=market)
    assert any(
        p.startswith("toy.toml: agents.holders.groups.tok.token: its price is replayed (market.columns)")
        for p in problems
    ), problems


def test_group_names_are_unique() -> None:
    problems = _problems(GROUP.format(rate=0.6) * 2)
    assert any("agents.holders: group names must be unique, got 'tok' twice" in p for p in problems), problems


# ----- the Terra replay's first day (terra-2022-holders) -----------------------------------------------------------
def test_terra_holders_first_day_start_after_the_curve_sale_at_their_pace() -> None:
    # The $85M Curve sale lands in the 21:45 step (78,240 s -> step 261). Before it UST is at 0.9998 and the
    # fundamental at its starting value, so nobody sells; the next step the holders see the moved price. From
    # then every group sells at its pace bound (0.53 % of its float an hour): 27 five-minute steps to midnight
    # (262..288), Anchor's 14B: 0.0053 x 14e9 x 27 x 300 / 3600 = 166.95M UST; wallets' 4.55B: 54.25875M UST;
    # LUNA's 175M: 2.086875M LUNA.
    m = simulate("terra-2022-holders", n_paths=1, seed=0, n_steps=288).metrics.iloc[0]
    for group, float_units in (("anchor", 14e9), ("wallets", 4.55e9), ("luna", 175e6)):
        assert m[f"holders.{group}.first_sale_step"] == 262.0
        assert m[f"holders.{group}.sold_units"] == pytest.approx(0.0053 * float_units * 27 / 12, rel=1e-12)
