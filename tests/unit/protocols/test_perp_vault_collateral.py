"""A perp venue's LP-vault share (HLP style) as collateral in a lending market: the venue's loss carried into it.

ETH falls linearly from 100 to 80 over four 300 s steps (95, 90, 85, 80). On the perp venue one trader is long 100
ETH at 100 with 1,000 of isolated margin (9 % maintenance); the book takes 95 USD per step, no fee, no impact. The
vault (1,000 of capital, 1,000 shares of "HLP") backstops it. In a lending market one borrower holds 1,000 HLP
against 500 USDC of debt (liquidation threshold 0.6); liquidators are kept out (a minimum profit no liquidation
reaches), so the lender's bad debt is its underwater amount at the HLP price the venue implies.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import firesale
from firesale.scenario import parse_scenario

TEXT = """
name = "hlp-collateral"
[simulation]
n_steps = 4
dt = 300
n_paths = 1
record = ["price", "bad_debt", "venue.*"]
[[assets]]
name = "ETH"
price = 100.0
[[assets]]
name = "USDC"
price = 1.0
[[assets]]
name = "HLP"
price = 1.0
[market]
model = "shock"
shape = "linear"
depth = { ETH = 0.2 }
start = 0
duration = 1200
[[venues]]
type = "orderbook"
name = "hlp-book"
asset = "HLP"
depth_usd = 1e12
impact = "linear"
[[oracles]]
name = "eth"
asset = "ETH"
type = "market"
[[oracles]]
name = "hlp"
asset = "HLP"
type = "market"
[[oracles]]
name = "usdc"
asset = "USDC"
type = "market"
[[protocols]]
name = "venue"
type = "perp"
settlement = "USDC"
funding_interval_s = 1e12
[protocols.vault]
enabled = true
capital_usd = 1000.0
token = "HLP"
[protocols.markets.ETH-PERP]
index = "ETH"
oracle = "eth"
book_depth_usd = 95.0
tiers = [{ notional_floor_usd = 0, max_leverage = 10, maintenance_margin_rate = 0.09 }]
[[protocols.traders]]
positions = [{ market = "ETH-PERP", size = 100.0, entry_price = 100.0, isolated_margin_usd = 1000.0 }]
[[protocols]]
name = "lender"
type = "aave_v3"
reserve_usd = 0
accounts = [{ account = "b", asset = "HLP", collateral_amount = 1000.0 }, { account = "b", asset = "USDC", debt_amount = 500.0 }]
[protocols.reserves.HLP]
ltv = 0.5
liquidation_threshold = 0.6
liquidation_bonus = 0.05
oracle = "hlp"
venues = ["hlp-book"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.8
liquidation_bonus = 0.05
oracle = "usdc"
[agents]
min_profit_usd = 1e12
"""


def test_vault_loss_reaches_the_lender_through_the_share_price() -> None:
    r = firesale.simulate(parse_scenario(TEXT, source="hlp.toml", base_dir=Path(".")), n_paths=1, seed=0)
    # Step 1, ETH 95: the trader's equity 1000 - 500 = 500 is below 0.09 * 9,500 = 855. The book takes 95 USD (1
    # ETH, realising -5: margin 995); the vault takes the other 99 ETH at entry 100 with the 995 of margin: cash
    # 1000 + 995 = 1995, cost 9,900. Its equity is 1995 + 99 (ETH - 100): 1500, 1005, 510, 15 at 95, 90, 85, 80,
    # and the share (1,000 shares) is that over 1,000.
    assert r.paths["price_ETH"][0].tolist() == pytest.approx([100.0, 95.0, 90.0, 85.0, 80.0])
    hlp = [1.0] + [(1995.0 + 99.0 * (eth - 100.0)) / 1000.0 for eth in (95.0, 90.0, 85.0, 80.0)]
    assert r.paths["price_HLP"][0].tolist() == pytest.approx(hlp, rel=1e-6)
    assert r.paths["venue.vault_equity_usd"][0].tolist() == pytest.approx([1000.0 * h for h in hlp], rel=1e-6)
    m = r.metrics.iloc[0]
    # the vault's drawdown from its 1,500 peak to 15 at the end: 1,485; its PnL 15 - 1,000
    assert m["venue.vault_drawdown_usd"] == pytest.approx(1485.0, rel=1e-9)
    assert m["venue.vault_pnl_usd"] == pytest.approx(-985.0, rel=1e-9)
    # the lender: 1,000 HLP at 0.015 against 500 USDC is 485 underwater at the end (at 0.51 it was still covered)
    assert m["bad_debt_usd_lender"] == pytest.approx(500.0 - 1000.0 * hlp[-1], rel=1e-6)
    assert r.paths["bad_debt"][0].tolist() == pytest.approx([0.0, 0.0, 0.0, 0.0, 485.0], abs=1e-6)
