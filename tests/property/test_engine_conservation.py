"""Token conservation and no negative balances, every step, in Hypothesis-generated worlds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

import firesale
from firesale.scenario import parse_scenario

TEMPLATE = """
name = "h"
[simulation]
n_steps = 6
dt = 600
n_paths = 2
max_cascade_rounds = 8
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "WBTC"
price = 60000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "{model}"
{market}
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = {depth}
impact = "{impact}"
permanent = {permanent}
[[venues]]
type = "constant_product"
name = "pool"
coins = ["WBTC", "USDC"]
reserves = [{btc_pool}, {usd_pool}]
[[oracles]]
name = "eth"
asset = "WETH"
type = "{oracle}"
[[oracles]]
name = "btc"
asset = "WBTC"
type = "push"
[[oracles]]
name = "usd"
asset = "USDC"
type = "market"
[[protocols]]
name = "p"
type = "{protocol}"
accounts = [{accounts}]
[protocols.reserves.WETH]
ltv = 0.75
liquidation_threshold = 0.8
liquidation_bonus = {bonus}
{fee_key} = 0.1
oracle = "eth"
venues = ["book"]
[protocols.reserves.WBTC]
ltv = 0.7
liquidation_threshold = 0.75
liquidation_bonus = 0.1
oracle = "btc"
venues = ["pool"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.8
liquidation_bonus = 0.05
oracle = "usd"
venues = ["pool"]
[agents]
max_liquidations_per_step = {slots}
liquidator_capital_usd = {capital}
gas_per_liquidation = 300000
gas_price_gwei = {gas}
"""


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 12))
    rows = []
    for i in range(n):
        c_asset = draw(st.sampled_from(["WETH", "WBTC", "USDC"]))
        d_asset = draw(st.sampled_from(["WETH", "WBTC", "USDC"]))
        value = draw(st.floats(1e3, 1e7))
        ratio = draw(st.floats(0.3, 1.3))
        price = {"WETH": 2000.0, "WBTC": 60000.0, "USDC": 1.0}
        rows.append(
            f'{{ account = "a{i}", asset = "{c_asset}", collateral_amount = {value / price[c_asset]} }}'
        )
        rows.append(
            f'{{ account = "a{i}", asset = "{d_asset}", debt_amount = {ratio * value / price[d_asset]} }}'
        )
    if draw(st.booleans()):
        model, market = "gbm", f"vol = {{ WETH = {draw(st.floats(0.2, 3.0))}, WBTC = 0.8 }}"
    else:
        model, market = (
            "shock",
            f'shape = "linear"\ndepth = {{ WETH = {draw(st.floats(-0.5, 0.9))}, WBTC = 0.3 }}\nstart = 600\nduration = 1800',
        )
    protocol = draw(st.sampled_from(["aave_v3", "aave_v3.3", "compound_v2"]))
    return TEMPLATE.format(
        model=model, market=market, accounts=", ".join(rows),
        fee_key="seize_share" if protocol == "compound_v2" else "liquidation_protocol_fee",
        depth=draw(st.floats(1e4, 1e9)), impact=draw(st.sampled_from(["linear", "sqrt"])),
        permanent=draw(st.floats(0, 1)), btc_pool=draw(st.floats(1, 1e4)), usd_pool=draw(st.floats(6e4, 6e8)),
        oracle=draw(st.sampled_from(["push", "market", "delayed"])),
        protocol=protocol, bonus=draw(st.floats(0, 0.2)),
        slots=draw(st.integers(1, 20)), capital=draw(st.floats(1e3, 1e12)), gas=draw(st.floats(0, 500)),
    )  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(text=worlds(), seed=st.integers(0, 2**32 - 1))
def test_tokens_are_conserved_and_balances_stay_non_negative(text, seed):
    # debug=True checks, after every step, that collateral + what left the market equals the start, per reserve
    # and path, that no balance is negative, and that every pool balance stays non-negative.
    result = firesale.simulate(parse_scenario(text), n_paths=2, seed=seed, debug=True)
    m = result.metrics
    assert (m["bad_debt_usd"] >= 0).all()
    assert np.isfinite(m.select_dtypes("number").to_numpy(dtype=float)).all()
