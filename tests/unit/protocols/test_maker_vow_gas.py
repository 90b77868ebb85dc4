"""The Maker model's Vow (sin queue, flog after wait, heal, Flop in sump lots) and keepers' gas price, by hand.

Vow rules (makerdao/dss src/vow.sol): a bite/bark's debt ``due`` is grabbed to the Vow (``Awe``) and queued with
``fess`` at its time; ``flog(era)`` needs ``era + wait <= now``; ``heal`` cancels ``Woe = Awe - Sin - Ash`` against
the surplus ``joy``; ``flop`` needs ``Woe >= sump`` and ``joy == 0`` and auctions ``sump`` DAI a lot. Keeper rewards
are ``vat.suck(vow, kpr, tip + chip * tab)`` (clip.sol ``kick``), unbacked debt of the Vow.
Gas: a transaction lands in a step only when its gas price is at least the step's market gas price; auction-keeper
keeps a pending bid's gas price until the bidding model gives a higher one (makerdao/auction-keeper
``auction_keeper/main.py`` @db35435, ``handle_bid``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.maker import MakerModel, MakerSpec

ILK = "ETH-A"


def inputs(t: float, oracle: float, market: float | None = None, gas_gwei: float | None = None,
           gas: float = 0.0, capital: float = 1e12, dai: float = 1.0) -> RoundInputs:  # fmt: skip
    """(ETH, DAI) prices; the venues pay 0.99 of market value for any size."""
    market = oracle if market is None else market
    size = np.array([0.0, 1e12])
    curve = np.zeros((1, 2, 2))
    curve[:, 0, 1] = 0.99e12
    curve[:, 1, 1] = 1e12
    return RoundInputs(
        time=float(t), oracle=np.array([[oracle, 1.0]]), market=np.array([[market, dai]]), active=np.ones(1, bool),
        liquidators=LiquidatorCapacity(
            slots=np.full(1, 1000, dtype=np.int64), capital_usd=np.full(1, capital), gas_usd=np.full(1, gas),
            min_profit_usd=0.0, gas_gwei=None if gas_gwei is None else np.full(1, float(gas_gwei)),
        ),
        quotes=SaleQuotes(size_usd=size, proceeds=lambda paths, assets: curve),
    )  # fmt: skip


def flip_model(flop: dict | None = None, **keepers: object) -> MakerModel:  # type: ignore[type-arg]
    """One vault of 50 ETH and 5,000 DAI; at $140 it is unsafe (50 * 140 / 1.5 = 4,666.7 < 5,000): lot 50, due
    5,000, tab 5,650."""
    spec = MakerSpec.model_validate({
        "name": "mcd", "type": "maker",
        "ilks": {ILK: {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9, "chop": 1.13,
                       "flip": {"lump": 50, "beg": 1.03, "ttl": 600, "tau": 21600}}},
        "vaults": [{"ilk": ILK, "ink": 50, "art": 5000}],
        "keepers": keepers, "flop": {"mkr_price": 1000, "mkr_supply": 1e6, "elasticity": 1.0, **(flop or {})},
    })  # fmt: skip
    return MakerModel.build(spec, None)


def clip_model(**extra: object) -> MakerModel:
    """One vault of 10 ETH and 1,000 DAI, a linear Clipper (tau 3,600 s, buf 1.2): at oracle $100 it is unsafe
    (10 * 100 / 1.5 = 666.7 < 1,000): due 1,000, tab 1,130, top 120."""
    clip = {"hole": 1e6, "calc": "linear", "tau": 3600, "buf": 1.2, "tip": 100.0, "chip": 0.01}
    clip.update(extra.pop("clip", {}))  # type: ignore[arg-type]
    spec = MakerSpec.model_validate({
        "name": "mcd", "type": "maker",
        "ilks": {ILK: {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9, "clip": clip}},
        "vaults": [{"ilk": ILK, "ink": 10, "art": 1000}], **extra,
    })  # fmt: skip
    return MakerModel.build(spec, None)


# --- the Vow ---------------------------------------------------------------------------------------------------


def test_kick_reward_is_not_bad_debt_when_the_auction_covers_it() -> None:
    """Kick at t = 0 (oracle and market $100): reward = tip + chip * tab = 100 + 0.01 * 1,130 = 111.3 DAI, minted by
    vat.suck against the Vow: Awe = 1,000 + 111.3, Sin = 1,000 (queued, wait 3,600), Woe = 111.3, joy = 0; no take
    (price 120 > market). The running auction answers for its due and reward, 1,111.3: no realised deficit, and at
    market $150 its lot (10 * 150 = 1,500) covers that claim, so no bad debt either (sump 50,000 > Woe: no Flop).
    t = 60, market $150: price = 120 * (3600 - 60) / 3600 = 118; the lot is worth 10 * 118 = 1,180 >= tab, so keepers
    buy 1,130 / 118 = 9.57627 ETH for 1,130 DAI (venues pay 0.99 * 9.57627 * 150 = 1,422 > 1,130): joy = 1,130,
    heal min(1,130, Woe 111.3) -> joy 1,018.7, Awe 1,000 (Sin 1,000 still queued). Realised deficit:
    max(1,000 - 0 - 1,018.7, 0) = 0; the 18.7 DAI left is the penalty 130 less the reward 111.3.
    """
    m = clip_model(flop={"wait": 3600})
    s = m.init_state(1)
    m.round(s, inputs(0, 100.0))
    assert s["a_tab"][0, 0, 0] == pytest.approx(1130.0)
    assert s["awe"][0] == pytest.approx(1111.3)
    assert s["uncovered"][0] == 0.0
    assert m.account(s, np.array([[150.0, 1.0]])).bad_debt_usd[0] == 0.0
    # at $100 the lot (1,000) is short of the claim by 111.3: a running auction's shortfall, as for any lot
    assert m.account(s, np.array([[100.0, 1.0]])).bad_debt_usd[0] == pytest.approx(111.3)
    m.round(s, inputs(60, 100.0, market=150.0))
    assert not s["a_live"].any()
    assert s["returned"][0, 0] == pytest.approx(10 - 1130 / 118)
    assert s["surplus"][0] == pytest.approx(1018.7)
    assert s["awe"][0] == pytest.approx(1000.0)
    assert s["sin_q"].sum() == pytest.approx(1000.0)
    assert s["uncovered"][0] == 0.0 and s["deficit"][0] == 0.0 and s["mkr_minted"][0] == 0.0
    acc = m.account(s, np.array([[150.0, 1.0]]))
    assert acc.bad_debt_usd[0] == 0.0
    assert acc.reserves_usd[0] == pytest.approx(18.7)
    # after wait the queued debt is flogged and healed: Awe 0, joy 18.7
    m.round(s, inputs(3600, 100.0, market=150.0))
    assert s["sin_q"].sum() == 0.0 and s["awe"][0] == pytest.approx(0.0, abs=1e-9)
    assert s["surplus"][0] == pytest.approx(18.7)


def test_flop_only_after_wait_and_in_whole_sump_lots() -> None:
    """Bite at t = 60 (due 5,000 queued at era 60); keepers come after an hour, the zero bidder at once and wins for
    0 DAI (deal at 661). wait 3,600, sump 2,000, surplus 0, no fees.
    t = 661 and 3,659: era + wait = 3,660 > now, nothing can be flogged: no MKR; realised deficit 5,000.
    t = 3,660: flog; Woe = 5,000, joy = 0: floor(5,000 / 2,000) = 2 lots, 4,000 DAI, for m MKR with
    m * 1000 * (1 - m / 1e6) = 4,000; 1,000 DAI stays uncovered (less than a lot)."""
    m = flip_model(flop={"wait": 3600, "sump": 2000}, latency=3600, zero_bidder=True)
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0))
    m.round(s, inputs(60, 140.0))
    m.round(s, inputs(661, 140.0))
    assert s["n_zero"][0] == 1 and not s["a_live"].any()
    assert s["mkr_minted"][0] == 0.0 and s["uncovered"][0] == pytest.approx(5000.0)
    m.round(s, inputs(3659, 140.0))
    assert s["mkr_minted"][0] == 0.0 and s["sin_q"].sum() == pytest.approx(5000.0)
    m.round(s, inputs(3660, 140.0))
    mkr = 1e6 / 2 * (1 - math.sqrt(1 - 4 * 4000 / (1000 * 1e6)))
    assert s["mkr_minted"][0] == pytest.approx(mkr, rel=1e-9)
    assert s["flopped"][0] == pytest.approx(4000.0)
    assert s["uncovered"][0] == pytest.approx(1000.0) and s["deficit"][0] == pytest.approx(5000.0)
    assert m.account(s, np.array([[140.0, 1.0]])).bad_debt_usd[0] == pytest.approx(1000.0)
    out = m.metrics(s, np.array([[140.0, 1.0]]))
    assert out["zero_bid_usd"][0] == pytest.approx(50 * 140.0)


def test_a_huge_sump_switches_flop_off() -> None:
    """Same auction lost for 0 DAI, wait 0, sump 1e30: Woe = 5,000 never reaches a lot; the 5,000 stays bad debt."""
    m = flip_model(flop={"wait": 0, "sump": 1e30}, latency=3600, zero_bidder=True)
    s = m.init_state(1)
    for t, p in ((0, 200.0), (60, 140.0), (661, 140.0), (10_000, 140.0)):
        m.round(s, inputs(t, p))
    assert s["mkr_minted"][0] == 0.0
    assert m.account(s, np.array([[140.0, 1.0]])).bad_debt_usd[0] == pytest.approx(5000.0)


# --- keepers' gas ----------------------------------------------------------------------------------------------


def test_keeper_bid_fails_below_the_market_gas_price_and_lands_above() -> None:
    """Keepers at a fixed 50 gwei, seeing the auction 60 s after the bite. t = 60 (market 20 gwei): the bite lands.
    t = 120 (market 100 gwei): their tend at 50 < 100 is not mined. t = 180 (market 20 gwei): it lands, bidding the
    tab, 5,650 DAI (venues pay 0.99 * 50 * 140 = 6,930 > tab)."""
    m = flip_model(latency=60, gas_strategy="fixed", gas_price_gwei=50.0)
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0, gas_gwei=20))
    f = m.round(s, inputs(60, 140.0, gas_gwei=20))
    assert f.n_actions[0] == 1 and s["a_live"][0, 0, 0]
    f = m.round(s, inputs(120, 140.0, gas_gwei=100))
    assert f.n_actions[0] == 0 and s["a_bid"][0, 0, 0] == 0.0 and f.buy[0, 1] == 0.0
    f = m.round(s, inputs(180, 140.0, gas_gwei=20))
    assert f.n_actions[0] == 1 and s["a_bid"][0, 0, 0] == pytest.approx(5650.0)


def test_bite_waits_while_the_market_gas_price_is_above_the_keepers() -> None:
    """Fixed 50 gwei: at t = 60 the market asks 60 gwei, so the bite is not mined (one vault unserved); at t = 120
    (40 gwei) bite and bid (latency 0) land."""
    m = flip_model(gas_strategy="fixed", gas_price_gwei=50.0)
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0, gas_gwei=40))
    f = m.round(s, inputs(60, 140.0, gas_gwei=60))
    assert f.n_actions[0] == 0 and f.n_unserved[0] == 1 and s["n_kicks"][0] == 0
    f = m.round(s, inputs(120, 140.0, gas_gwei=40))
    assert f.n_actions[0] == 2 and s["a_bid"][0, 0, 0] == pytest.approx(5650.0)


def test_zero_bidder_wins_because_its_gas_price_is_high() -> None:
    """Keepers at 50 gwei, the zero bidder at 300 gwei, both 60 s after the bite (t = 60, 20 gwei). At t = 120 the
    market asks 100 gwei: only the zero bid is mined; its tic is 720, so at t = 720 nobody can bid (tend needs
    tic > now) although gas is back at 20, and at 721 the lot is dealt to it for 0 DAI.
    With the zero bidder at 80 gwei neither lands at t = 120, and at t = 180 (20 gwei) the keepers' pending bid
    (50 gwei) lands first: they bid the tab."""
    m = flip_model(latency=60, zero_bidder=True, zero_bidder_latency=60, gas_strategy="fixed",
                   gas_price_gwei=50.0, zero_bidder_gas_gwei=300.0)  # fmt: skip
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0, gas_gwei=20))
    m.round(s, inputs(60, 140.0, gas_gwei=20))
    m.round(s, inputs(120, 140.0, gas_gwei=100))
    assert s["a_guy"][0, 0, 0] == 1 and s["a_tic"][0, 0, 0] == 720.0
    f = m.round(s, inputs(720, 140.0, gas_gwei=20))
    assert s["a_bid"][0, 0, 0] == 0.0 and f.buy[0, 1] == 0.0
    f = m.round(s, inputs(721, 140.0, gas_gwei=20))
    assert f.sell[0, 0] == 50.0 and s["n_zero"][0] == 1

    m = flip_model(latency=60, zero_bidder=True, zero_bidder_latency=60, gas_strategy="fixed",
                   gas_price_gwei=50.0, zero_bidder_gas_gwei=80.0)  # fmt: skip
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0, gas_gwei=20))
    m.round(s, inputs(60, 140.0, gas_gwei=20))
    m.round(s, inputs(120, 140.0, gas_gwei=100))
    assert s["a_guy"][0, 0, 0] == 0
    m.round(s, inputs(180, 140.0, gas_gwei=20))
    assert s["a_guy"][0, 0, 0] == 2 and s["a_bid"][0, 0, 0] == pytest.approx(5650.0)


def test_node_gas_price_trails_the_market_and_a_pending_bid_keeps_its_price() -> None:
    """gas_strategy 'node': a new transaction goes at the previous step's market gas price. Steps at 0, 60, 120,
    180, 240 with market 10, 10, 40, 20, 10 gwei; keepers see the auction 60 s after the bite.
    t = 60: bite at 10 (the step before) >= 10: mined. t = 120: the bid is sent at 10 < 40: pending at 10.
    t = 180: a new one would go at 40, but the pending bid keeps 10 < 20: not mined. t = 240: 10 >= 10: mined."""
    m = flip_model(latency=60, gas_strategy="node")
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0, gas_gwei=10))
    m.round(s, inputs(60, 140.0, gas_gwei=10))
    assert s["n_kicks"][0] == 1
    m.round(s, inputs(120, 140.0, gas_gwei=40))
    assert s["a_bid"][0, 0, 0] == 0.0 and s["a_gas"][0, 0, 0] == 10.0
    m.round(s, inputs(180, 140.0, gas_gwei=20))
    assert s["a_bid"][0, 0, 0] == 0.0
    m.round(s, inputs(240, 140.0, gas_gwei=10))
    assert s["a_bid"][0, 0, 0] == pytest.approx(5650.0) and s["a_gas"][0, 0, 0] == 0.0


def test_gas_strategy_always_ignores_the_market_gas_price() -> None:
    m = flip_model()
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0, gas_gwei=1e6))
    f = m.round(s, inputs(60, 140.0, gas_gwei=1e6))
    assert f.n_actions[0] == 2


@pytest.mark.parametrize(
    ("keepers", "loc"),
    [
        ({"gas_strategy": "fixed"}, "gas_price_gwei"),
        ({"gas_strategy": "node", "gas_price_gwei": 50.0}, "gas_price_gwei"),
        ({"zero_bidder_gas_gwei": 100.0}, "zero_bidder_gas_gwei"),
        ({"gas_strategy": "fixed", "gas_price_gwei": -1.0}, "gas_price_gwei"),
    ],
)
def test_bad_gas_keys_are_rejected_with_their_path(keepers: dict, loc: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError) as e:
        flip_model(**keepers)
    assert loc in str(e.value)


def test_bad_flop_keys_are_rejected() -> None:
    for flop in ({"sump": 0.0}, {"wait": -1.0}):
        with pytest.raises(ValidationError) as e:
            flip_model(flop=flop)
        assert next(iter(flop)) in str(e.value)


# --- flash loans and the PSM -----------------------------------------------------------------------------------


def test_flash_loan_keepers_price_dai_at_the_market_not_the_psm() -> None:
    """Kick at t = 0 (oracle $100, no reward); at t = 1,800 the price is 120 * 1,800 / 3,600 = 60 and the whole lot
    costs 600 DAI. ETH's market is $62, so the venues pay 0.99 * 10 * 62 = 613.8 USD; gas $5. DAI trades at $1.05,
    the PSM sells it at 1 + tin = 1.00.
    Flash loan: the DAI is bought back at the market, 600 * 1.05 = 630 > 613.8 - 5: no take.
    Own capital through the PSM: 600 * 1.00 = 600 <= 613.8 - 5 = 608.8: take, 600 DAI minted by the PSM."""
    for flash, taken in ((True, False), (False, True)):
        m = clip_model(clip={"tip": 0.0, "chip": 0.0}, keepers={"flash_loans": flash},
                       psm={"line": 1e6, "tin": 0.0})  # fmt: skip
        s = m.init_state(1)
        m.round(s, inputs(0, 100.0, dai=1.05, gas=5.0))
        f = m.round(s, inputs(1800, 100.0, market=62.0, dai=1.05, gas=5.0))
        assert (f.sell[0, 0] == pytest.approx(10.0)) if taken else (f.sell[0, 0] == 0.0 and s["a_live"].any())
        if taken:
            assert f.minted[0, 1] == pytest.approx(600.0) and f.buy[0, 1] == pytest.approx(0.0, abs=1e-9)


def test_a_latency_shorter_than_the_step_bids_in_the_kicks_step() -> None:
    """Ten-minute steps (0, 600, 1200 s; market 10, 10, 40 gwei), gas_strategy 'node', keepers and the zero bidder
    60 s after the kick. t = 0 sets the clock (first step: no step length known yet, nothing unsafe at $200).
    t = 600 ($140): the bite goes at the node's 10 gwei >= 10 and is mined. The keepers see it 60 s later, inside the
    same 600 s step, so they bid in that step at the same 10 gwei, which is mined: tab, 5,650 DAI; the zero bidder
    finds the auction bid. Had the bid waited for the next step (t = 1,200) it would go at 10 < 40 and not be mined,
    and the zero bid would win: that is what a latency of a whole step (600 s) gives."""
    m = flip_model(latency=60, zero_bidder=True, zero_bidder_latency=60, gas_strategy="node")
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0, gas_gwei=10))
    f = m.round(s, inputs(600, 140.0, gas_gwei=10))
    assert s["n_kicks"][0] == 1 and f.n_actions[0] == 2  # bite + the keepers' tend
    assert s["a_guy"][0, 0, 0] == 2 and s["a_bid"][0, 0, 0] == pytest.approx(5650.0)
    assert s["a_tic"][0, 0, 0] == 1200.0

    m = flip_model(latency=600, zero_bidder=True, zero_bidder_latency=600, gas_strategy="node")
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0, gas_gwei=10))
    m.round(s, inputs(600, 140.0, gas_gwei=10))
    assert s["n_kicks"][0] == 1 and s["a_guy"][0, 0, 0] == 0  # nobody has seen it yet
    m.round(s, inputs(1200, 140.0, gas_gwei=40))
    assert s["a_guy"][0, 0, 0] == 1 and s["a_bid"][0, 0, 0] == 0.0  # keepers' 10 gwei < 40: only the zero bid
    assert s["a_gas"][0, 0, 0] == 10.0


def two_vault_flip(**keepers: object) -> MakerModel:
    """Two vaults of 50 ETH and 5,000 DAI each: at $140 both are unsafe, each auction lot 50, due 5,000, tab 5,650."""
    spec = MakerSpec.model_validate({
        "name": "mcd", "type": "maker",
        "ilks": {ILK: {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9, "chop": 1.13,
                       "flip": {"lump": 50, "beg": 1.03, "ttl": 600, "tau": 21600}}},
        "vaults": [{"ilk": ILK, "ink": 50, "art": 5000}, {"ilk": ILK, "ink": 50, "art": 5000}],
        "keepers": keepers,
    })  # fmt: skip
    return MakerModel.build(spec, None)


def test_keepers_dai_stock_is_spent_across_steps_and_not_refilled() -> None:
    """keepers.dai_stock = 6,000 DAI, latency 0. t = 60 ($140): both vaults are bitten (stock > 0) and keepers bid
    on both in slot order with what they have: slot 0 the tab, 5,650 (venues pay 0.99 * 50 * 140 = 6,930 > tab);
    slot 1 the 350 DAI left (a first bid needs only to be above 0). Stock 0. t = 661 both are dealt (keepers won
    the ETH, not DAI: the stock stays 0); the auction won for 350 ends 4,650 short of its due.
    Without a stock the same steps raise 2 x 5,650."""
    m = two_vault_flip(dai_stock=6000.0)
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0))
    m.round(s, inputs(60, 140.0))
    assert s["n_kicks"][0] == 2
    assert sorted(s["a_bid"][0, 0, :2]) == pytest.approx([350.0, 5650.0])
    assert s["dai_left"][0] == pytest.approx(0.0)
    m.round(s, inputs(661, 140.0))
    assert s["n_deals"][0] == 2 and s["dai_left"][0] == pytest.approx(0.0)
    assert s["shortfall"][0, 0] == pytest.approx(5000.0 - 350.0)

    m = two_vault_flip()
    s = m.init_state(1)
    for t, p in ((0, 200.0), (60, 140.0), (661, 140.0)):
        m.round(s, inputs(t, p))
    assert s["shortfall"][0, 0] == 0.0 and np.isinf(s["dai_left"][0])


def test_keepers_without_dai_do_not_bite_but_a_zero_bidder_does() -> None:
    """auction-keeper @db35435 check_cdps skips a bite 'because there is no Dai to bid': with a stock of 0 and no
    zero bidder the unsafe vault is never bitten (counted unserved). A zero bidder needs no DAI and Cat.bite is open
    to anyone: it bites, bids 0 (keepers have nothing to bid with) and wins the lot at the deal (t = 661)."""
    m = flip_model(dai_stock=0.0)
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0))
    f = m.round(s, inputs(60, 140.0))
    assert s["n_kicks"][0] == 0 and f.n_unserved[0] == 1

    m = flip_model(dai_stock=0.0, zero_bidder=True)
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0))
    m.round(s, inputs(60, 140.0))
    assert s["n_kicks"][0] == 1 and s["a_guy"][0, 0, 0] == 1 and s["a_bid"][0, 0, 0] == 0.0
    m.round(s, inputs(661, 140.0))
    assert s["n_zero"][0] == 1 and s["shortfall"][0, 0] == pytest.approx(5000.0)
