"""The series the monitor grades on simulated paths, recorded on hand-made worlds whose values are known by hand.

``simulation.record`` names "slippage" (the loss selling $100k, $1M and $10M of a collateral into one venue, now),
"staleness" (seconds since a feed wrote or changed its answer), "oracle_deviation" (``|answer / market - 1|``) and
"unserved" (liquidatable accounts left unliquidated, and their share of them plus the step's liquidations).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import firesale
from firesale.engine.recorder import SLIPPAGE_SIZES_USD, recorded_variables
from firesale.engine.simulate import estimate_memory
from firesale.exceptions import ScenarioError
from firesale.monitor import ClassifierConfig, classify, path_indicators
from firesale.scenario import parse_scenario

WORLD = """
name = "hand"
[simulation]
n_steps = {n_steps}
dt = 300
n_paths = 1
record = [{record}]
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
{eth_oracle}
[[oracles]]
name = "usdc"
asset = "USDC"
{usdc_oracle}
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
[agents]
{agents}
"""
BOOK = '[[venues]]\ntype = "orderbook"\nname = "book"\nasset = "WETH"\ndepth_usd = 1e300\nimpact = "linear"\n'
POOL = (
    '[[venues]]\ntype = "constant_product"\nname = "uni"\ncoins = ["WETH", "USDC"]\n'
    "reserves = [1000.0, 2000000.0]\nfee_bps = 30\n"
)
SAFE = '{ account = "safe", asset = "WETH", collateral_amount = 1.0 }, { account = "safe", asset = "USDC", debt_amount = 1.0 }'


def _account(name: str, weth: float, usdc_debt: float) -> str:
    return (
        f'{{ account = "{name}", asset = "WETH", collateral_amount = {weth} }}, '
        f'{{ account = "{name}", asset = "USDC", debt_amount = {usdc_debt} }}'
    )


def world(*, record, n_steps=4, depth=1e-12, venues=BOOK, weth_venues='"book"', accounts=SAFE, agents="",
          eth_oracle='type = "market"', usdc_oracle='type = "market"'):  # fmt: skip
    text = WORLD.format(
        n_steps=n_steps, record=", ".join(f'"{r}"' for r in record), depth=depth, venues=venues,
        weth_venues=weth_venues, accounts=accounts, agents=agents, eth_oracle=eth_oracle, usdc_oracle=usdc_oracle,
    )  # fmt: skip
    return parse_scenario(text, source="hand.toml")


# ----- slippage at size -------------------------------------------------------------------------------------------
def test_slippage_selling_into_a_constant_product_pool_is_the_x_y_k_loss_with_its_fee():
    # Pool of 1000 WETH / 2,000,000 USDC (2000 USD per WETH, the market price), 30 bps fee on the input
    # (Uniswap v2 getAmountOut): selling dx WETH returns 0.997 dx y / (x + 0.997 dx). Selling S USD at market is
    # dx = S / 2000; the loss is 1 - proceeds / S. The price never moves, so neither does the pool.
    res = firesale.simulate(world(record=["slippage"], venues=POOL, weth_venues='"uni"'), n_paths=2, seed=0)
    x, y, g = 1000.0, 2_000_000.0, 0.997
    for size in SLIPPAGE_SIZES_USD:
        dx = size / 2000.0
        expected = 1.0 - (g * dx * y / (x + g * dx)) / size
        got = res.paths[f"slippage_{size:.0f}_WETH@uni"]
        assert got.shape == (2, 5)
        np.testing.assert_allclose(got, expected, rtol=1e-6)  # float32 recording
    # $1M into a $2M-a-side pool: 1 - 0.997 * 1000 / 1498.5 = 33.47 %, by hand.
    assert res.paths["slippage_1000000_WETH@uni"][0, 0] == pytest.approx(1 - 0.997 * 1000 / 1498.5, rel=1e-6)
    # Only what a protocol sells is recorded: the pool's USDC side is never collateral sold here.
    assert not [k for k in res.paths if k.startswith("slippage_") and "USDC" in k]


def test_slippage_is_graded_at_the_configured_size_and_refused_outside_the_recorded_ones():
    res = firesale.simulate(world(record=["slippage"], venues=POOL, weth_venues='"uni"'), n_paths=1, seed=0)
    at_1m = path_indicators(res.paths, res.dt)["slippage:WETH on uni"]
    np.testing.assert_array_equal(at_1m, res.paths["slippage_1000000_WETH@uni"])
    # Between two recorded sizes: linear in log size (sqrt(10) x $1M is half-way between $1M and $10M).
    mid = path_indicators(res.paths, res.dt, config=ClassifierConfig(slippage_size_usd=1e6 * 10**0.5))
    lo, hi = res.paths["slippage_1000000_WETH@uni"], res.paths["slippage_10000000_WETH@uni"]
    np.testing.assert_allclose(mid["slippage:WETH on uni"], 0.5 * (lo.astype(float) + hi), rtol=1e-12)
    with pytest.raises(firesale.exceptions.ParameterError) as exc:
        path_indicators(res.paths, res.dt, config=ClassifierConfig(slippage_size_usd=5e7))
    assert str(exc.value) == (
        "The 'slippage_size_usd' parameter of path_indicators must be a sale size within the recorded ones "
        "[100000, 1e+07] USD (or one of them). Got 50000000.0 instead."
    )
    # 33.5 % lost selling $1M: failed on the default band (2 %, 10 %), with the reason in words.
    c = classify(path_indicators(res.paths, res.dt))
    assert c.reasons(1) == ["selling $1M of WETH on uni loses 33 % (failed)"]


def test_slippage_selling_into_a_linear_book_is_its_impact_at_half_the_size():
    # A linear book moving 1 % per $100M (depth_move 0.01, depth_usd 1e8), nothing sold yet: one sale of S USD
    # fills at the mean of the log impacts before (0) and after (0.01 S / 1e8), so it loses 1 - exp(-0.005 S / 1e8).
    thin = BOOK.replace("1e300", "1e8")
    res = firesale.simulate(world(record=["slippage"], venues=thin), n_paths=1, seed=0)
    for size in SLIPPAGE_SIZES_USD:
        expected = 1.0 - np.exp(-0.005 * size / 1e8)
        np.testing.assert_allclose(res.paths[f"slippage_{size:.0f}_WETH@book"], expected, rtol=1e-5)
    # A book of infinite depth (1e300) loses nothing.
    deep = firesale.simulate(world(record=["slippage"]), n_paths=1, seed=0)
    for size in SLIPPAGE_SIZES_USD:
        np.testing.assert_allclose(deep.paths[f"slippage_{size:.0f}_WETH@book"], 0.0, atol=1e-7)


# ----- oracles: staleness and deviation ---------------------------------------------------------------------------
def test_staleness_of_a_heartbeat_feed_is_the_seconds_since_its_last_write():
    # USDC's price never moves; a push feed with a 900 s heartbeat writes at 900, 1800, 2700 (step starts, dt 300).
    # A stale fault over [1000, 2500) blocks the write at 1800: the next is at 2700 (>= 900 s after 900).
    sc = world(record=["staleness"], n_steps=10,
               usdc_oracle='type = "push"\nheartbeat = 900\ndeviation_bps = 50')  # fmt: skip
    ages = firesale.simulate(sc, n_paths=1, seed=0).paths["staleness_usdc"][0]
    assert ages.tolist() == [0, 300, 600, 0, 300, 600, 0, 300, 600, 0, 300]
    faulted = world(record=["staleness"], n_steps=10, usdc_oracle=(
        'type = "push"\nheartbeat = 900\ndeviation_bps = 50\nfaults = [{ kind = "stale", start = 1000, end = 2500 }]'
    ))  # fmt: skip
    res = firesale.simulate(faulted, n_paths=1, seed=0)
    ages = res.paths["staleness_usdc"][0]
    assert ages.tolist() == [0, 300, 600, 0, 300, 600, 900, 1200, 1500, 0, 300]
    # A market feed is re-read every step: never stale.
    assert res.paths["staleness_eth"][0].tolist() == [0.0] * 11
    # Graded on the age, or on the time past the heartbeat when it is given.
    cfg = ClassifierConfig(bands={"oracle_staleness": (900.0, 1500.0)})
    c = classify(path_indicators(res.paths, res.dt), cfg)
    assert c.grades("system")["oracle_staleness"][0].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0]
    assert c.system_state[0].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0]  # one dimension failed: stressed
    assert c.reasons(8) == ["oracle usdc 25 min stale (failed)"]
    past = path_indicators(res.paths, res.dt, heartbeats={"usdc": 900.0})
    assert past["oracle_staleness:usdc past heartbeat"][0].tolist() == [0, 0, 0, 0, 0, 0, 0, 300, 600, 0, 0]
    c2 = classify(past, ClassifierConfig(bands={"oracle_staleness": (300.0, 600.0)}))
    assert c2.reasons(8) == ["oracle usdc 10 min past its heartbeat (failed)"]


def test_oracle_deviation_of_a_push_feed_inside_its_deviation_threshold():
    # WETH drops 0.3 % at 300 s; a 50 bps push feed with a 3600 s heartbeat keeps 2000 until its heartbeat, so it
    # reads 2000 / (2000 * 0.997) - 1 = 0.3009 % above the market; the market feed is exact.
    sc = world(record=["oracle_deviation", "staleness"], depth=0.003, n_steps=3,
               eth_oracle='type = "push"\nheartbeat = 3600\ndeviation_bps = 50')  # fmt: skip
    res = firesale.simulate(sc, n_paths=1, seed=0)
    dev = res.paths["oracle_deviation_eth"][0]
    assert dev[0] == 0.0
    np.testing.assert_allclose(dev[1:], 1 / 0.997 - 1, rtol=1e-6)
    assert res.paths["oracle_deviation_usdc"][0].tolist() == [0.0] * 4
    assert res.paths["staleness_eth"][0].tolist() == [0, 300, 600, 900]
    # Boundaries of the band: stressed at 0.3 %, not at 0.31 %.
    at = classify(
        path_indicators(res.paths, res.dt), ClassifierConfig(bands={"oracle_deviation": (0.003, 0.01)})
    )
    assert at.system_state[0].tolist() == [0, 1, 1, 1]
    above = classify(
        path_indicators(res.paths, res.dt), ClassifierConfig(bands={"oracle_deviation": (0.0031, 0.01)})
    )
    assert above.system_state[0].tolist() == [0, 0, 0, 0]
    assert at.reasons(1) == ["oracle eth 0.3 % off the market (stressed)"]


# ----- liquidations that could not clear --------------------------------------------------------------------------
def test_unserved_counts_the_accounts_left_below_one_and_their_share():
    # Gas: 5e6 gas at 1000 gwei with ETH at 2000 is $10,000 a liquidation. Three accounts of $100 debt at health
    # factor 0.8 * 0.06 * 2000 / 100 = 0.96 never pay it ($2.50 of bonus on half their debt); one of $2M debt at
    # 0.8 * 1237.5 * 2000 / 2e6 = 0.99 pays ($50,000 of bonus) and is liquidated once in step 1: after the 50 %
    # close factor (525 WETH seized) its health factor is 0.8 * (1237.5 - 525) * 2000 / 1e6 = 1.14.
    small = [_account(f"s{i}", 0.06, 100.0) for i in range(3)]
    accounts = ", ".join([*small, _account("big", 1237.5, 2e6)])
    sc = world(record=["unserved"], accounts=accounts, n_steps=3,
               agents="gas_per_liquidation = 5000000\ngas_price_gwei = 1000\ngas_volatility_sensitivity = 0")  # fmt: skip
    res = firesale.simulate(sc, n_paths=1, seed=0)
    assert res.paths["unserved"][0].tolist() == [0, 3, 3, 3]
    # Step 1: 3 left of 3 + 1 liquidation; later steps: 3 of 3.
    np.testing.assert_allclose(res.paths["unserved_share"][0], [0.0, 0.75, 1.0, 1.0], rtol=1e-7)
    assert int(res.metrics["n_liquidations"].iloc[0]) == 1
    c = classify(path_indicators(res.paths, res.dt))  # margin band: stressed at 1 %, failed at 50 %
    assert c.system_state[0].tolist() == [
        0,
        1,
        1,
        1,
    ]  # one failed dimension is stressed, not systemic failure
    assert c.reasons(1) == ["75 % of liquidatable accounts could not be liquidated (failed)"]
    two = classify(path_indicators(res.paths, res.dt), ClassifierConfig(bands={"margin": (0.5, 0.76)}))
    assert two.grades("system")["margin"][0].tolist() == [0, 1, 2, 2]


# ----- recording is opt-in, counted, and changes nothing else -----------------------------------------------------
def test_new_series_are_counted_by_estimate_memory_and_change_no_result():
    names = ["slippage", "staleness", "oracle_deviation", "unserved"]
    plain = world(record=["price"], venues=POOL, weth_venues='"uni"')
    full = world(record=["price", *names], venues=POOL, weth_venues='"uni"')
    # 3 sizes x (WETH on uni) + 2 feeds x 2 + unserved and its share.
    assert recorded_variables(full) - recorded_variables(plain) == 3 + 4 + 2
    grow = estimate_memory(full, 1000, keep_paths=True) - estimate_memory(plain, 1000, keep_paths=True)
    assert grow >= 1000 * 9 * 5 * 4  # at least the kept float32 series: paths x series x (n_steps + 1) x 4
    a = firesale.simulate(plain, n_paths=4, seed=2)
    b = firesale.simulate(full, n_paths=4, seed=2)
    assert len(b.paths) - len(a.paths) == 9
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    np.testing.assert_array_equal(a.paths["price_WETH"], b.paths["price_WETH"])
    streamed = firesale.simulate(full, n_paths=4, seed=2, keep_paths=False)
    assert set(streamed.summaries) == set(b.paths)


def test_an_unknown_recordable_is_refused_with_the_exact_message():
    with pytest.raises(ScenarioError) as exc:
        world(record=["staleness", "slipage"])
    assert "simulation.record: unknown series 'slipage' (did you mean 'slippage'?); recordable: price, bad_debt, " \
        "liquidated, rounds, flags, oracle, depth, slippage, staleness, oracle_deviation, unserved, coverage, got " \
        "['staleness', 'slipage']" in str(exc.value)  # fmt: skip
