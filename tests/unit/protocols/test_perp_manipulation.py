"""Manipulation of a perp's index through a thin spot pool (Mango, October 2022), on a tiny book by hand.

World: TKN worth 1 USD (flat market), one constant-product pool of 1,000,000 TKN and 1,000,000 USDC (30 bps fee),
no arbitrage; the venue's index is a one-step TWAP of that pool. The attacker is long 1,000,000 TKN-PERP at 1 with
100,000 USDC (10x; the single tier has 10 % initial and 5 % maintenance margin) and withdraws its equity above
initial margin every round; its counterparty is short 1,000,000 at 1 with 3,100,000. At 300 s the attacker buys
1,000,000 USDC of TKN in the pool; at 900 s it sells back what it got. The insurance fund holds 100,000.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import firesale
from firesale.analysis.perp_manipulation import attack_outcome
from firesale.exceptions import ParameterError, ScenarioError
from firesale.mechanics import perps as ref
from firesale.scenario import parse_scenario

G = 0.997  # 1 - 30 bps
X0 = Y0 = 1e6  # pool reserves, TKN and USDC
DY = 1e6  # the attacker's buy, USDC
GOT = X0 * DY * G / (Y0 + DY * G)  # TKN out of the buy
X1, Y1 = X0 - GOT, Y0 + DY
P1 = Y1 / X1  # the pool's price after the buy: what the one-step TWAP reports
BACK = Y1 * GOT * G / (X1 + GOT * G)  # USDC out of the unwind
P3 = (Y1 - BACK) / (X1 + GOT)  # the pool's price after the unwind
COST = DY - BACK  # the attack's cost at 1 USD per USDC


def _text(size: float = 1e6, collateral: float = 1e5, short_collateral: float = 3.1e6, market: str = "",
          window: float = 300.0, arbitrage: float = 0.0) -> str:  # fmt: skip
    return f"""
name = "mango-tiny"
[simulation]
n_steps = 5
dt = 300
n_paths = 1
record = ["price", "oracle", "m.*"]
[[assets]]
name = "TKN"
price = 1.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "drop"
depth = {{ TKN = 0.0 }}
[[venues]]
type = "constant_product"
name = "pool"
coins = ["TKN", "USDC"]
reserves = [1e6, 1e6]
[[oracles]]
name = "tkn-twap"
asset = "TKN"
type = "twap"
venue = "pool"
window = {window}
[[attacks]]
venue = "pool"
coin = "TKN"
side = "buy"
amount_usd = 1e6
start = 300
duration = 600
[[protocols]]
name = "m"
type = "perp"
insurance_fund_usd = 1e5
funding_interval_s = 1e12
[protocols.vault]
enabled = false
[protocols.markets.TKN-PERP]
index = "TKN"
oracle = "tkn-twap"
book_depth_usd = 1e12
{market}
tiers = [{{ notional_floor_usd = 0, max_leverage = 10, maintenance_margin_rate = 0.05 }}]
[[protocols.traders]]
collateral_usd = {collateral}
withdraws_profit = true
positions = [{{ market = "TKN-PERP", size = {size}, entry_price = 1.0 }}]
[[protocols.traders]]
collateral_usd = {short_collateral}
positions = [{{ market = "TKN-PERP", size = {-size}, entry_price = 1.0 }}]
[agents]
arbitrage_capital_usd = {arbitrage}
"""


def _run(**kw):  # type: ignore[no-untyped-def]
    sc = parse_scenario(_text(**kw), source="mango.toml", base_dir=Path("."))
    return firesale.simulate(sc, n_paths=1, seed=0, debug=True)


def test_the_attack_by_hand() -> None:
    r = _run()
    m = r.metrics.iloc[0]
    # the index follows the pushed pool: 1, then P1 while the attacker holds, then P3
    assert r.paths["oracle_tkn-twap"][0].tolist() == pytest.approx([1.0, P1, P1, P3, P3, P3], rel=1e-6)
    # at P1 the attacker's equity 100,000 + 1e6 (P1 - 1) exceeds its initial margin 0.1 * 1e6 * P1 by
    # 0.9 * 1e6 * (P1 - 1): all withdrawn. The short's equity 3.1e6 - 1e6 (P1 - 1) is below 0.05 * 1e6 * P1: it is
    # closed into the book (no fee, no impact), 2 liquidations in all with the attacker's bankruptcy below.
    withdrawn = 0.9e6 * (P1 - 1.0)
    assert 3.1e6 - 1e6 * (P1 - 1.0) < 0.05e6 * P1
    assert m["m.withdrawn_usd"] == pytest.approx(withdrawn, rel=1e-9)
    # at P3 the attacker's equity is 100,000 - withdrawn + 1e6 (P3 - 1) < 0: a deficit D; the fund pays 100,000 and,
    # with no offsetting position left to deleverage, the rest is socialised
    deficit = withdrawn - 1e5 - 1e6 * (P3 - 1.0)
    assert m["m.insurance_paid_usd"] == pytest.approx(1e5, rel=1e-9)
    assert m["m.insurance_exhausted"] == 1.0
    assert m["m.adl_notional_usd"] == 0.0
    assert m["m.socialised_loss_usd"] == pytest.approx(deficit - 1e5, rel=1e-9)
    assert m["m.n_liquidated"] == 2.0
    out = attack_outcome(r, "m").iloc[0]
    assert out["attack_cost_usd"] == pytest.approx(COST, rel=1e-6)
    assert out["attacker_gain_usd"] == pytest.approx(withdrawn - 1e5, rel=1e-9)  # bankrupt: nothing left
    assert out["attacker_profit_usd"] == pytest.approx(withdrawn - 1e5 - COST, rel=1e-6)
    assert out["venue_loss_usd"] == pytest.approx(deficit, rel=1e-9)
    assert out["attacker_profit_usd"] > 2.5e6  # about 2.59M for a 3,004.5 USD round trip


def test_a_rate_limited_index_stops_it() -> None:
    # Mango v4's stable price: at most 1e-6 per second, 3e-4 per 300 s step, from the starting index 1. The oracle
    # (P1, then P3 ~ 1.003) is above the band every step, so the index is (1 + 3e-4)^k at step k; the attacker
    # withdraws 0.9e6 ((1 + 3e-4)^5 - 1) in all and keeps 100,000 - that of equity at the market price 1: its gain is
    # 0 and its profit minus the pool round trip. The short is never liquidated; the venue loses nothing.
    r = _run(market="index_growth_limit = 1e-6")
    m = r.metrics.iloc[0]
    assert m["m.withdrawn_usd"] == pytest.approx(0.9e6 * (1.0003**5 - 1.0), rel=1e-9)
    out = attack_outcome(r, "m").iloc[0]
    assert out["attacker_gain_usd"] == pytest.approx(0.0, abs=1e-6)
    assert out["attacker_profit_usd"] == pytest.approx(-COST, rel=1e-6)
    assert out["venue_loss_usd"] == 0.0
    assert m["m.n_liquidated"] == 0.0


def test_an_open_interest_cap_stops_it() -> None:
    # A 500,000 USD cap refuses the 1,000,000 USD book outright (file, key path, rule, value)...
    with pytest.raises(ScenarioError, match=r"mango\.toml: protocols\.m\.markets\.TKN-PERP\.oi_cap_usd: must cover "
                                            r"the long open interest 1e\+06, got 500000"):  # fmt: skip
        parse_scenario(_text(market="oi_cap_usd = 5e5"), source="mango.toml", base_dir=Path("."))
    # ...and at a 1,000 USD cap the largest position, 1,000 TKN with 100 USDC, gains 0.9 * 1,000 (P1 - 1) = 2,694.6
    # less its 100 against the same 3,004.5 round trip: a loss. The venue's deficit, 2,694.6 - 100 - 1,000 (P3 - 1),
    # is within the 100,000 fund.
    r = _run(size=1e3, collateral=100.0, short_collateral=3100.0, market="oi_cap_usd = 1e3")
    out = attack_outcome(r, "m").iloc[0]
    gain = 900.0 * (P1 - 1.0) - 100.0
    assert out["attacker_gain_usd"] == pytest.approx(gain, rel=1e-9)
    assert out["attacker_profit_usd"] == pytest.approx(gain - COST, rel=1e-6)
    assert gain - COST < 0.0
    assert out["venue_loss_usd"] == pytest.approx(900.0 * (P1 - 1.0) - 100.0 - 1e3 * (P3 - 1.0), rel=1e-9)
    assert r.metrics.iloc[0]["m.socialised_loss_usd"] == 0.0


def test_a_slower_index_stops_it_when_arbitrageurs_restore_the_pool() -> None:
    # With arbitrage the pool is back at 1 one step after the push, so the attacker's round trip costs what the
    # arbitrageurs took. A one-step TWAP still reports the pushed price for that step and the attack pays; a one-hour
    # TWAP (12 samples) moves by about (P1 - 1) / 12 and the profit turns negative.
    fast = attack_outcome(_run(arbitrage=1e12), "m").iloc[0]
    slow = attack_outcome(_run(arbitrage=1e12, window=3600.0), "m").iloc[0]
    assert fast["attack_cost_usd"] > 10 * COST  # arbitrageurs take far more than the pool fee
    assert fast["attacker_profit_usd"] > 0.0
    assert slow["attacker_gain_usd"] < (P1 - 1.0) / 12 * 1e6
    assert slow["attacker_profit_usd"] < 0.0


def test_withdraw_profit_reference_by_hand() -> None:
    # A cross account long 2 @ 100 and short 1 @ 50 with 30 cash, 10x tiers: at marks 110 and 45 its equity is
    # 30 + 20 + 5 = 55 and its initial margin 0.1 (220 + 45) = 26.5, so 28.5 leaves; an isolated position is not
    # counted, and a second call withdraws nothing more.
    tiers = ((0.0, 10.0, 0.05),)
    params = ref.VenueParams(markets=(ref.MarketParams(tiers=tiers, book_depth_usd=1e9),) * 3)
    book = ref.PerpBook(cash=[30.0], size=[[2.0, -1.0, 5.0]], entry=[[100.0, 50.0, 10.0]],
                        iso_margin=[[0.0, 0.0, 4.0]], isolated=[[False, False, True]], insurance=0.0, vault_cash=0.0,
                        premium=[0.0, 0.0, 0.0], withdraws=[True])  # fmt: skip
    ref.withdraw_profit(book, params, [110.0, 45.0, 20.0])
    assert book.cash == pytest.approx([1.5])
    assert book.withdrawn == pytest.approx(28.5)
    ref.withdraw_profit(book, params, [110.0, 45.0, 20.0])
    assert book.withdrawn == pytest.approx(28.5)


def test_limited_index_by_hand() -> None:
    # 1e-4 per second over 100 s: a 1 % band around the reference 200 -> [198, 202]; an unlimited market passes
    assert ref.limited_index([250.0, 150.0, 7.0], [200.0, 200.0, 5.0], 100.0, [1e-4, 1e-4, float("inf")]) == (
        pytest.approx([202.0, 198.0, 7.0])
    )
    assert ref.limited_index([250.0], [], 100.0, [1e-4]) == [250.0]  # no reference yet


def test_attack_outcome_rejects_a_run_without_the_columns() -> None:
    r = _run(market="index_growth_limit = 1e-6")
    with pytest.raises(ParameterError, match="perp venue 'x'"):
        attack_outcome(r, "x")
