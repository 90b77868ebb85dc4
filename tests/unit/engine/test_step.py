"""The step at engine level, against values computed independently: sale routing on live quotes, arbitrage to where
venues balance and its capital budget, evaporation on the volatile side, oracles inside the cascade."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.optimize import brentq

import firesale
from firesale.agents.liquidators import gas_price_path
from firesale.engine._blueprint import Blueprint
from firesale.engine._world import World
from firesale.liquidity.constant_product import ConstantProductPool
from firesale.liquidity.orderbook import OrderBook
from firesale.liquidity.venues import VenueSet
from firesale.scenario import parse_scenario

BASE = """
name = "s"
[simulation]
n_steps = {n_steps}
dt = 300
n_paths = 1
record = ["price", "rounds", "liquidated", "flags", "oracle"]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "drop"
depth = {{ WETH = {depth} }}
start = 300
{venues}
[[oracles]]
name = "eth"
asset = "WETH"
{oracle}
[[oracles]]
name = "usdc"
asset = "USDC"
type = "market"
{oracles}
[[protocols]]
name = "lender"
type = "aave_v3"
accounts = [{accounts}]
[protocols.reserves.WETH]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "eth"
venues = [{weth_venues}]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "usdc"
venues = ["usdc-book"]
[agents]
gas_per_liquidation = 0
{agents}
"""
USDC_BOOK = '[[venues]]\ntype = "orderbook"\nname = "usdc-book"\nasset = "USDC"\ndepth_usd = 1e300\nimpact = "linear"\n'
SAFE = '{ account = "safe", asset = "WETH", collateral_amount = 1.0 }, { account = "safe", asset = "USDC", debt_amount = 1.0 }'


def scenario(*, venues="", depth=0.10, oracle='type = "market"', oracles="", accounts=SAFE, weth_venues='"book"',
             agents="", n_steps=2):  # fmt: skip
    text = BASE.format(venues=USDC_BOOK + venues, depth=depth, oracle=oracle, oracles=oracles, accounts=accounts,
                       weth_venues=weth_venues, agents=agents, n_steps=n_steps)  # fmt: skip
    return parse_scenario(text, source="s.toml")


def world(sc) -> World:
    bp = Blueprint.build(sc)
    exo = bp.exogenous_prices(np.ones((1, sc.spec.simulation.n_steps + 1, 1)) * _relative(sc))
    return World(bp, exo, gas_price_path(sc, bp.assets, exo, bp.dt))


def _relative(sc):
    # The shock model's relative path for WETH: 1 until `start`, then 1 - depth.
    n = sc.spec.simulation.n_steps + 1
    depth = sc.spec.market.depth["WETH"]
    rel = np.ones(n)
    rel[1:] = 1 - depth
    return rel[None, :, None]


BOOK = '[[venues]]\ntype = "orderbook"\nname = "book"\nasset = "WETH"\ndepth_usd = 1e5\nimpact = "linear"\npermanent = 1.0\nhalf_life = 1e9\n'


def test_a_sale_is_routed_on_live_quotes():
    # 4 slices of 25 WETH (100 WETH at 2000) between a linear book ($1M moves it 1 %) and a fee-free pool of
    # 1000 WETH / 2,000,000 USDC. Each slice goes to the venue quoting more *now*: the book at its impacted price,
    # the pool at its marginal price y/x. Computed here from the two curves' formulas.
    book = OrderBook(
        "book", "WETH", depth_usd=1e6, depth_move=0.01, exponent=1.0, permanent=1.0, half_life=1e9
    )
    pool = ConstantProductPool("pool", ("WETH", "USDC"), reserves=(1000.0, 2_000_000.0), fee_bps=0)
    vs = VenueSet([("book", book), ("pool", pool)], [[0], [0, 1]], 1)
    exo = np.array([[2000.0, 1.0]])
    got = vs.sell(0, np.array([100.0]), [0, 1], exo.copy(), exo)[0]
    x, y, v, expected, chosen = 1000.0, 2_000_000.0, 0.0, 0.0, []
    for _ in range(4):
        q_book = 2000 * math.exp(-0.01 * v / 1e6)
        q_pool = y / x
        if q_book >= q_pool:
            before, after = 0.01 * v / 1e6, 0.01 * (v + 25 * 2000) / 1e6
            expected += 25 * 2000 * math.exp(-(before + after) / 2)
            v += 25 * 2000
            chosen.append("book")
        else:
            out = 25 * y / (x + 25)
            expected += out
            x, y = x + 25, y - out
            chosen.append("pool")
    assert set(chosen) == {"book", "pool"}  # the book stops winning once its own price has fallen
    assert got == pytest.approx(expected, rel=1e-12)


def test_a_pools_quote_is_net_of_its_fee():
    # A 5 bps concentrated-style fee: a fee-charging pool quoting 2000 loses to a book quoting 1999.5.
    book = OrderBook("book", "WETH", depth_usd=1e12, depth_move=0.01, exponent=1.0, permanent=1.0)
    pool = ConstantProductPool("pool", ("WETH", "USDC"), reserves=(1000.0, 2_000_000.0), fee_bps=5)
    vs = VenueSet([("book", book), ("pool", pool)], [[0], [0, 1]], 1)
    exo = np.array([[1999.5, 1.0]])
    q = [vs.quote(k, 0, exo, exo)[0] for k in (0, 1)]
    assert q[1] == pytest.approx(2000 * (1 - 5e-4))
    assert q[0] > q[1]


def test_arbitrage_stops_where_the_pool_and_the_book_meet():
    # A deep fee-free pool (10,000 WETH / 20M USDC, price 2000) and a thin book ($100k moves ETH 1 %, permanent).
    # ETH jumps to 2200. Trading the pool to 2200 would need 465 WETH, whose sale crashes the book by 10 %: the
    # overshoot that made prices oscillate. The arbitrageur instead trades to t where the pool price equals the
    # book after its own sale: sqrt(k / t) WETH left in the pool, the rest sold on the book at 2200 per notional.
    pool = '[[venues]]\ntype = "constant_product"\nname = "pool"\ncoins = ["WETH", "USDC"]\nreserves = [10000.0, 20000000.0]\nfee_bps = 0\n'
    sc = scenario(venues=BOOK + pool, depth=-0.10, weth_venues='"book", "pool"')
    w = world(sc)
    w.step()
    k = 10_000 * 20_000_000

    def gap(log_t):
        sold = 10_000 - math.sqrt(k / math.exp(log_t))
        return math.log(2200 * math.exp(-0.01 * sold * 2200 / 1e5)) - log_t

    t = math.exp(brentq(gap, math.log(2000), math.log(2200), xtol=1e-14))
    state = w.venues.states[2]
    assert state["reserve1"][0] / state["reserve0"][0] == pytest.approx(t, rel=1e-7)
    assert w.market_prices()[0, 0] == pytest.approx(t, rel=1e-6)  # the book sits where the pool is
    for _ in range(1):  # and stays there: no oscillation on the next step
        w.step()
    assert w.market_prices()[0, 0] == pytest.approx(t, rel=1e-6)


def test_arbitrage_capital_is_a_budget_per_venue_and_step():
    # No book: the market is 2200 after the jump; the pool reaches it with 976k USDC in. $200k of arbitrage
    # capital per venue and step buys WETH from the fee-free pool (10,000 WETH / 20M USDC) with exactly 200k USDC
    # each step, however many times arbitrage runs in the step: x' = k / (y + 200k).
    pool = '[[venues]]\ntype = "constant_product"\nname = "pool"\ncoins = ["WETH", "USDC"]\nreserves = [10000.0, 20000000.0]\nfee_bps = 0\n'
    sc = scenario(venues=pool, depth=-0.10, weth_venues='"pool"', agents="arbitrage_capital_usd = 2e5")
    w = world(sc)
    k = 10_000 * 20_000_000
    y = 20_000_000.0
    for _ in range(2):
        w.step()
        y += 2e5
        state = w.venues.states[1]
        assert state["reserve1"][0] == pytest.approx(y, rel=1e-12)
        assert state["reserve0"][0] == pytest.approx(k / y, rel=1e-12)


def test_evaporation_follows_the_volatile_side_of_a_pool():
    # A USDC/WETH pool listed USDC first. ETH falls 20 % with sensitivity 1: LPs withdraw 20 % (the rule used to
    # read the pool's first coin, USDC, and withdraw nothing).
    pool = '[[venues]]\ntype = "constant_product"\nname = "pool"\ncoins = ["USDC", "WETH"]\nreserves = [20000000.0, 10000.0]\nfee_bps = 30\n'
    agents = "[agents.evaporation]\nsensitivity = 1.0\nmax_withdraw = 0.8\nvenues.usdc-book = { sensitivity = 0.0 }"
    sc = scenario(venues=pool, depth=0.20, weth_venues='"pool"', agents=agents)
    w = world(sc)
    w.step()
    assert w.venues.liq_factor[0, 1] == pytest.approx(0.8, rel=1e-12)
    assert w.venues.liq_factor[0, 0] == 1.0  # the override for the USDC book: no withdrawal


def _push(deviation_bps: int, heartbeat: int = 86400) -> str:
    return f'type = "push"\nheartbeat = {heartbeat}\ndeviation_bps = {deviation_bps}'


def test_a_push_oracle_updates_inside_the_cascade():
    # ETH falls 2 % to 1960: under a 5 % deviation threshold the feed keeps 2000. B (402.2 WETH, 650,000 USDC:
    # HF 0.99 at 2000) is liquidated on that answer: 50 % close factor, 325,000 repaid, 170.6 WETH seized and sold
    # into the book ($100k per 1 %): 334.5k USD moves ETH 3.35 % more, to 1895.5, now 5.2 % below the feed, which
    # updates within the step. A (10 WETH, 15,500 USDC: HF 1.032 at 2000, 0.978 at 1895.5) is then liquidated in
    # the second round of the same step. With a 7 % threshold the feed never moves and A is never touched.
    a = '{ account = "A", asset = "WETH", collateral_amount = 10.0 }, { account = "A", asset = "USDC", debt_amount = 15500.0 }'
    b = '{ account = "B", asset = "WETH", collateral_amount = 402.1875 }, { account = "B", asset = "USDC", debt_amount = 650000.0 }'
    for bps, a_liquidated in ((500, True), (700, False)):
        sc = scenario(venues=BOOK, depth=0.02, oracle=_push(bps), accounts=f"{a}, {b}", n_steps=1)
        r = firesale.simulate(sc, n_paths=1, seed=0)
        assert r.paths["rounds"][0, 1] == (2 if a_liquidated else 1)
        assert r.metrics["n_liquidations"].iloc[0] == (2 if a_liquidated else 1)
        # The recorded oracle series shows the feed's answer: updated to the moved market, or still 2000.
        answer = r.paths["oracle_eth"][0, 1]
        assert (answer == pytest.approx(1960 * math.exp(-0.01 * 325_000 * 1.05 / 2000 * 1960 / 1e5), rel=1e-5)
                if a_liquidated else answer == 2000.0)  # fmt: skip


def test_a_heartbeat_updates_the_feed_at_a_step_start():
    # A 4 % fall under a 5 % threshold is reported only when the 600 s heartbeat comes due (the second step).
    sc = scenario(venues=BOOK, depth=0.04, oracle=_push(500, heartbeat=600), n_steps=3)
    r = firesale.simulate(sc, n_paths=1, seed=0)
    assert r.paths["oracle_eth"][0].tolist() == pytest.approx([2000.0, 2000.0, 1920.0, 1920.0])


def test_an_oracle_fault_flags_only_protocols_that_read_it():
    unread = '[[oracles]]\nname = "unread"\nasset = "WETH"\ntype = "market"\nfaults = [{ kind = "wrong", start = 0, end = 1e9, factor = 2.0 }]'
    r = firesale.simulate(scenario(venues=BOOK, oracles=unread), n_paths=1, seed=0)
    assert r.metrics["steps_oracle_flag"].iloc[0] == 0
    read = 'type = "market"\nfaults = [{ kind = "wrong", start = 0, end = 1e9, factor = 2.0 }]'
    r = firesale.simulate(scenario(venues=BOOK, oracle=read), n_paths=1, seed=0)
    assert r.metrics["steps_oracle_flag"].iloc[0] == 2


def test_recorded_depth_is_each_venues_liquidity_and_feeds_the_monitors_liquidity_indicator():
    # As above: ETH falls 20 % at step 1 with sensitivity 1, so the pool's LPs withdraw 20 % of its liquidity and
    # the USDC book (sensitivity 0) keeps all of its 1e300. Recorded with "depth", the pool's measure falls to 0.8 of
    # its start from step 1 on, and the monitor's liquidity indicator of that venue reads 0.8.
    from firesale.monitor import path_indicators

    pool = '[[venues]]\ntype = "constant_product"\nname = "pool"\ncoins = ["USDC", "WETH"]\nreserves = [20000000.0, 10000.0]\nfee_bps = 30\n'
    agents = "[agents.evaporation]\nsensitivity = 1.0\nmax_withdraw = 0.8\nvenues.usdc-book = { sensitivity = 0.0 }"
    sc = scenario(venues=pool, depth=0.20, weth_venues='"pool"', agents=agents)
    spec = sc.spec.model_copy(
        update={"simulation": sc.spec.simulation.model_copy(update={"record": ["depth"]})}
    )
    res = firesale.simulate(dataclasses.replace(sc, spec=spec), seed=0)
    # The pool's measure (sqrt of x y) also keeps the 30 bp fee of the arbitrage that follows the fall, which adds
    # about 1e-4: the withdrawal is what the tolerance checks.
    d = res.paths["depth_pool"][0].astype(float)
    np.testing.assert_allclose(d[1:] / d[0], 0.8, rtol=5e-4)
    assert (d[1:] / d[0] > 0.8).all()
    # An "infinitely deep" book (1e300) is recorded at float32's largest value, constant.
    assert (res.paths["depth_usdc-book"][0] == np.finfo(np.float32).max).all()
    ind = path_indicators(res.paths, 300.0)
    np.testing.assert_allclose(ind["liquidity:pool"][0, 1:], d[1:] / d[0], rtol=1e-6)
