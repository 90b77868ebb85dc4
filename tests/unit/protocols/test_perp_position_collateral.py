"""A tokenised perp account (a position token the venue issues) as collateral in a lending market: the venue's loss
waterfall carried into the lender through the token's price.

ETH falls from 100 to 80 in one 300 s step and stays. On the perp venue (no vault, no fee, mark = index):

* L is long 100 ETH at 100 with 500 of isolated margin: at 80 its equity is 500 - 2,000 = -1,500, bankrupt at mark;
* S is short 40 ETH at 100 with 2,000 of cross collateral; its account is tokenised as 1,000 "S-POS";
* T holds 3,000 of cash and no position (a deposit); its account is tokenised as 3,000 "T-POS".

The insurance fund (300) pays 300 of L's 1,500 deficit; the other 1,200 goes to ADL (Binance's rule): S, the one
profitable short, is closed at mark for its whole 40 ETH of the 100 ETH bankrupt size and pays 1,200 x 40/100 = 480:
its cash is 2,000 + 40 x 20 - 480 = 2,320. The unmatched 60 % is socialised: 720. The venue's books then hold
720 of bad debt, no fund left, and liabilities of 2,320 + 3,000 = 5,320 (the accounts' equity), so every claim is
paid 1 - 720 / 5,320: S-POS is 2,320 (1 - 720/5,320) / 1,000, T-POS 3,000 (1 - 720/5,320) / 3,000. With a fund of
2,000 instead, the fund pays the whole deficit, S keeps its short (worth 2,000 + 40 x 20 = 2,800) and T-POS stays 1.

In a lending market b1 holds 1,000 S-POS against 1,000 USDC and b2 3,000 T-POS against 2,800 USDC; liquidators
are kept out, so the lender's bad debt is b2's shortfall at the token's price (b1 stays covered).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import firesale
from firesale.exceptions import ScenarioError
from firesale.scenario import parse_scenario

TEXT = """
name = "perp-position-collateral"
[simulation]
n_steps = 2
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
name = "S-POS"
price = 2.0
[[assets]]
name = "T-POS"
price = 1.0
[market]
model = "shock"
shape = "linear"
depth = { ETH = 0.2 }
start = 0
duration = 300
[[venues]]
type = "orderbook"
name = "s-book"
asset = "S-POS"
depth_usd = 1e12
impact = "linear"
[[venues]]
type = "orderbook"
name = "t-book"
asset = "T-POS"
depth_usd = 1e12
impact = "linear"
[[oracles]]
name = "eth"
asset = "ETH"
type = "market"
[[oracles]]
name = "spos"
asset = "S-POS"
type = "market"
[[oracles]]
name = "tpos"
asset = "T-POS"
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
insurance_fund_usd = FUND
adl_rule = "binance"
[protocols.vault]
enabled = false
[protocols.markets.ETH-PERP]
index = "ETH"
oracle = "eth"
book_depth_usd = 1e9
tiers = [{ notional_floor_usd = 0, max_leverage = 10, maintenance_margin_rate = 0.05 }]
[[protocols.traders]]
positions = [{ market = "ETH-PERP", size = 100.0, entry_price = 100.0, isolated_margin_usd = 500.0 }]
[[protocols.traders]]
collateral_usd = 2000.0
token = "S-POS"
token_supply = 1000.0
positions = [{ market = "ETH-PERP", size = -40.0, entry_price = 100.0 }]
[[protocols.traders]]
collateral_usd = 3000.0
token = "T-POS"
token_supply = 3000.0
[[protocols]]
name = "lender"
type = "aave_v3"
reserve_usd = 0
accounts = [
  { account = "b1", asset = "S-POS", collateral_amount = 1000.0 }, { account = "b1", asset = "USDC", debt_amount = 1000.0 },
  { account = "b2", asset = "T-POS", collateral_amount = 3000.0 }, { account = "b2", asset = "USDC", debt_amount = 2800.0 },
]
[protocols.reserves.S-POS]
ltv = 0.5
liquidation_threshold = 0.6
liquidation_bonus = 0.05
oracle = "spos"
venues = ["s-book"]
[protocols.reserves.T-POS]
ltv = 0.5
liquidation_threshold = 0.6
liquidation_bonus = 0.05
oracle = "tpos"
venues = ["t-book"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.8
liquidation_bonus = 0.05
oracle = "usdc"
[agents]
min_profit_usd = 1e12
"""


def _run(fund: float):
    scenario = parse_scenario(TEXT.replace("FUND", repr(fund)), source="pos.toml", base_dir=Path("."))
    return firesale.simulate(scenario, n_paths=1, seed=0)


def test_adl_and_socialised_loss_reach_the_lender_through_the_position_token() -> None:
    r = _run(300.0)
    assert r.paths["price_ETH"][0].tolist() == pytest.approx([100.0, 80.0, 80.0])
    paid = 1.0 - 720.0 / 5320.0
    s_pos, t_pos = 2320.0 * paid / 1000.0, 3000.0 * paid / 3000.0
    # (recorded series are float32)
    assert r.paths["price_S-POS"][0].tolist() == pytest.approx([2.0, s_pos, s_pos], rel=1e-6)
    assert r.paths["price_T-POS"][0].tolist() == pytest.approx([1.0, t_pos, t_pos], rel=1e-6)
    m = r.metrics.iloc[0]
    assert m["venue.insurance_paid_usd"] == pytest.approx(300.0, rel=1e-12)
    assert m["venue.insurance_exhausted"] == 1.0
    assert m["venue.adl_notional_usd"] == pytest.approx(40.0 * 80.0, rel=1e-12)
    assert m["venue.adl_transfer_usd"] == pytest.approx(480.0, rel=1e-12)
    assert m["venue.socialised_loss_usd"] == pytest.approx(720.0, rel=1e-12)
    # b2's 3,000 T-POS at 1 - 720/5,320 = 0.8647 against 2,800 USDC: 206.02 underwater; b1 (2,006 against 1,000)
    # is covered. The world's bad debt is the venue's 720 plus the lender's.
    short = 2800.0 - 3000.0 * t_pos
    assert r.paths["bad_debt"][0].tolist() == pytest.approx([0.0, 720.0 + short, 720.0 + short], rel=1e-6)
    assert m["bad_debt_usd_lender"] == pytest.approx(2800.0 - 3000.0 * t_pos, rel=1e-9)


def test_with_a_deep_fund_the_tokens_keep_their_value() -> None:
    r = _run(2000.0)
    # the fund pays the 1,500: no ADL, nothing socialised; S keeps its short, T its deposit
    assert r.paths["price_S-POS"][0].tolist() == pytest.approx([2.0, 2.8, 2.8], rel=1e-6)
    assert r.paths["price_T-POS"][0].tolist() == pytest.approx([1.0, 1.0, 1.0], rel=1e-6)
    m = r.metrics.iloc[0]
    assert m["venue.adl_notional_usd"] == 0.0 and m["venue.socialised_loss_usd"] == 0.0
    assert m["bad_debt_usd_lender"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("token_supply = 1000.0\n", ""),
            "pos.toml: protocols.venue.traders[1].token_supply: token and token_supply go together, got None",
        ),
        (
            ('token = "T-POS"', 'token = "S-POS"'),
            "pos.toml: protocols.venue.traders[2].token: already the token of traders[1], got 'S-POS'",
        ),
        (
            ('token = "T-POS"', 'token = "ETH"'),
            "pos.toml: protocols.venue.traders[2].token: already an asset of the venue, got 'ETH'",
        ),
        (
            ('token = "T-POS"', 'token = "X-POS"'),
            "pos.toml: protocols.venue.traders[2].token: must be a scenario asset",
        ),
    ],
)
def test_bad_position_tokens_are_rejected_with_their_key(edit: tuple[str, str], message: str) -> None:
    text = TEXT.replace("FUND", "300.0").replace(*edit, 1)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, source="pos.toml", base_dir=Path("."))
    assert message in str(err.value)


def test_a_position_token_floors_a_bankrupt_bucket_and_shares_the_uncovered_loss() -> None:
    # One trader, tokenised as 10 "P": a cross long of 1 A at 100 on 1,000 of cash and an isolated long of 1 B at
    # 100 on 10 of margin. At A = 120, B = 50 the cross account is worth 1,020 and the isolated position -40: the
    # holder's claim is 1,020 (the -40 is the venue's), and the venue's bad debt 40 less its fund of 15 leaves 25
    # uncovered against 1,020 of liabilities, so P is 1,020 (1 - 25 / 1,020) / 10 = 99.5.
    from types import SimpleNamespace

    import numpy as np

    from firesale.protocols.perps import PerpSpec, PerpVenue

    tiers = [{"notional_floor_usd": 0.0, "max_leverage": 10.0, "maintenance_margin_rate": 0.05}]
    spec = PerpSpec.model_validate({
        "name": "v", "type": "perp", "insurance_fund_usd": 15.0, "vault": {"enabled": False},
        "markets": {"A-PERP": {"index": "A", "oracle": "a", "book_depth_usd": 1e9, "tiers": tiers},
                    "B-PERP": {"index": "B", "oracle": "b", "book_depth_usd": 1e9, "tiers": tiers}},
        "traders": [{"collateral_usd": 1000.0, "token": "P", "token_supply": 10.0,
                     "positions": [{"market": "A-PERP", "size": 1.0, "entry_price": 100.0},
                                   {"market": "B-PERP", "size": 1.0, "entry_price": 100.0,
                                    "isolated_margin_usd": 10.0}]}],
    })  # fmt: skip
    assets = [SimpleNamespace(name=n, price=p) for n, p in (("A", 100.0), ("B", 100.0), ("P", 101.0))]
    oracles = [SimpleNamespace(name="a", asset="A"), SimpleNamespace(name="b", asset="B")]
    model = PerpVenue.build(
        spec, SimpleNamespace(spec=SimpleNamespace(oracles=oracles, assets=assets), source="x")
    )
    assert [t.name for t in model.issued] == ["P"]
    state = model.init_state(1)
    market = np.array([[120.0, 50.0, 1.0]])
    prices = model.token_prices(state, market, model.account(state, market))
    assert prices["P"] == pytest.approx([99.5], rel=1e-12)
    # at the entry prices nothing is lost: the claim is the 1,010 of cash and margin
    start = np.array([[100.0, 100.0, 1.0]])
    assert model.token_prices(state, start, model.account(state, start))["P"] == pytest.approx(
        [101.0], rel=1e-12
    )
