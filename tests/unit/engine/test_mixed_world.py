"""Two protocol kinds in one world: a perpetuals venue and a lending market on the same BTC oracle and venues."""

from __future__ import annotations

import firesale
from firesale.scenario import parse_scenario

WORLD = """
name = "perp-world"
[simulation]
n_steps = 12
dt = 300
n_paths = 4
[[assets]]
name = "BTC"
price = 20000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "linear"
depth = { BTC = 0.10 }
start = 300
duration = 1800
[[venues]]
type = "orderbook"
name = "cex-btc"
asset = "BTC"
depth_usd = 1e7
[[venues]]
type = "orderbook"
name = "cex-usdc"
asset = "USDC"
depth_usd = 1e9
depth_move = 0.001
[[oracles]]
name = "btc"
asset = "BTC"
type = "push"
[[oracles]]
name = "usdc"
asset = "USDC"
type = "market"
[[protocols]]
name = "hl"
type = "perp"
insurance_fund_usd = 100.0
liquidation_fee_rate = 0.01
funding_interval_s = 1e12
vault = { enabled = false, capital_usd = 0.0, token = "HLP" }
[protocols.markets.BTC-PERP]
index = "BTC"
oracle = "btc"
book_depth_usd = 1e9
tiers = [{ notional_floor_usd = 0.0, max_leverage = 20.0, maintenance_margin_rate = 0.01 }]
[[protocols.traders]]
collateral_usd = 1000.0
positions = [{ market = "BTC-PERP", size = 1.0, entry_price = 20000.0 }]
[[protocols.traders]]
collateral_usd = 10000.0
positions = [{ market = "BTC-PERP", size = -1.0, entry_price = 20000.0 }]
[[protocols]]
name = "lender"
type = "aave_v3"
accounts = [{ account = "a", asset = "BTC", collateral_amount = 10.0 }, { account = "a", asset = "USDC", debt_amount = 150000.0 }]
[protocols.reserves.BTC]
ltv = 0.7
liquidation_threshold = 0.8
liquidation_bonus = 0.05
oracle = "btc"
venues = ["cex-btc"]
[protocols.reserves.USDC]
ltv = 0.7
liquidation_threshold = 0.8
liquidation_bonus = 0.05
oracle = "usdc"
venues = ["cex-usdc"]
"""


def test_a_perp_venue_and_a_lending_market_run_together_and_conserve():
    sc = parse_scenario(WORLD, source="mixed.toml")
    r = firesale.simulate(sc, n_paths=4, seed=0, debug=True)  # debug: every model's conservation, every step
    m = r.metrics.iloc[0]
    assert r.protocol_names == ["hl", "lender"]
    # The lender's account (10 BTC against 150,000 USDC: HF 1.067 at 20,000) falls under 1 as BTC drops 10 % and
    # is liquidated; the perp venue books its own losses in its own column.
    assert m["liquidated_usd_lender"] > 0
    assert "bad_debt_usd_hl" in r.metrics.columns
