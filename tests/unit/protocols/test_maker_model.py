"""The vectorized Maker model: a Flipper auction by hand, Liquidations 2.0 against firesale.mechanics.maker, specs.

Expected values are written out by hand from flip.sol/cat.sol's rules, or come from the exact integer mechanics
(:mod:`firesale.mechanics.maker`) driven through the same bark -> kick -> (redo) -> take sequence.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st
from pydantic import ValidationError

from firesale.mechanics import Revert
from firesale.mechanics.maker import (
    RAD,
    RAY,
    WAD,
    Clipper,
    Dog,
    ExponentialDecrease,
    LinearDecrease,
    Spotter,
    StairstepExponentialDecrease,
    Vat,
)
from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.maker import MakerModel, MakerSpec, abacus_price, bark_amounts, take_amounts
from firesale.scenario._errors import format_validation_error

ILK = "ETH-A"
# Hypothesis's timing health checks would make the tests depend on the machine's load
SLOW = [HealthCheck.too_slow]


def inputs(
    n: int, t: float, price: float, capital: float = 1e12, slope: float = 0.99, gas: float = 5.0
) -> RoundInputs:
    """Prices for (ETH, DAI); venues pay ``slope`` of market value for any size."""
    size = np.array([0.0, 1e12])
    curve = np.zeros((n, 2, 2))
    curve[:, 0, 1] = slope * 1e12
    curve[:, 1, 1] = 1e12
    return RoundInputs(
        time=float(t), oracle=np.tile([price, 1.0], (n, 1)), market=np.tile([price, 1.0], (n, 1)),
        active=np.ones(n, dtype=bool),
        liquidators=LiquidatorCapacity(
            slots=np.full(n, 1000, dtype=np.int64), capital_usd=np.full(n, capital), gas_usd=np.full(n, gas),
            min_profit_usd=0.0,
        ),
        quotes=SaleQuotes(size_usd=size, proceeds=lambda paths, assets: curve),
    )  # fmt: skip


def flip_model(sump: float = 50_000.0, **keepers: object) -> MakerModel:
    spec = MakerSpec.model_validate({
        "name": "mcd", "type": "maker",
        "ilks": {ILK: {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9, "chop": 1.13,
                       "flip": {"lump": 50, "beg": 1.03, "ttl": 600, "tau": 21600}}},
        "vaults": [{"ilk": ILK, "ink": 50, "art": 5000}],
        "keepers": keepers, "flop": {"mkr_price": 1000, "mkr_supply": 1e6, "elasticity": 1.0, "sump": sump},
    })  # fmt: skip
    return MakerModel.build(spec, None)


def test_flipper_tend_then_dent_by_hand() -> None:
    """Bite at $140 (spot 140/1.5 = 93.33: 50 * 93.33 = 4666.7 < 5000), tend to tab, dent, deal.

    bite: lot = min(ink 50, lump 50) = 50, dart = 5000, tab = 5000 * 1.13 = 5650 DAI.
    tend: the keepers value the lot at 0.99 * 50 * 140 = 6930 USD less 5 gas = 6925 >= tab: they bid tab, 5650.
    dent (next round): the smallest lot covering tab + gas at the lot's average proceeds 0.99 * 140 = 138.6 is
    (5650 + 5) / 138.6 = 40.8008658 ETH, and 40.80 * 1.03 = 42.02 <= 50, so the lot falls to it and
    50 - 40.8008658 = 9.1991342 ETH go back to the vault owner; no further dent (42.02 > 40.80).
    deal after ttl (600 s after the dent): the keepers receive 40.8008658 ETH; the Vow earns 5650 - 5000 = 650.
    """
    m = flip_model()
    s = m.init_state(1)
    f = m.round(s, inputs(1, 0, 200.0))
    assert f.n_actions[0] == 0
    f = m.round(s, inputs(1, 60, 140.0))
    assert f.n_actions[0] == 2  # bite + tend
    assert s["a_bid"][0, 0, 0] == pytest.approx(5650.0)
    assert f.buy[0, 1] == pytest.approx(5650.0)
    assert s["ink"][0, 0] == 0.0 and s["art"][0, 0] == 0.0
    f = m.round(s, inputs(1, 120, 140.0))
    lot = (5650 + 5) / (0.99 * 140)
    assert lot == pytest.approx(40.8008658, rel=1e-8)
    assert s["a_lot"][0, 0, 0] == pytest.approx(lot)
    assert s["returned"][0, 0] == pytest.approx(50 - lot)
    assert s["a_tic"][0, 0, 0] == 720.0
    f = m.round(s, inputs(1, 121, 140.0))
    assert f.n_actions[0] == 0
    f = m.round(s, inputs(1, 721, 140.0))
    assert f.sell[0, 0] == pytest.approx(lot)
    assert s["surplus"][0] == pytest.approx(650.0)
    assert not s["a_live"].any()
    assert m.check_conservation(s, {"sold": np.array([[lot, 0.0]])}) == []
    assert m.account(s, np.array([[140.0, 1.0]])).bad_debt_usd[0] == 0.0


def test_zero_bid_wins_when_no_keeper_bids_before_ttl() -> None:
    """Keepers see the auction 3600 s after the kick, the zero bidder at once: its 0 DAI bid (t = 60) expires at
    660 before any keeper arrives, so it wins all 50 ETH for nothing. The deficit is 5000 DAI (due, nothing raised),
    which Flop (wait 0, sump 1000: five lots) covers by minting m MKR with m * 1000 * (1 - m / 1e6) = 5000:
    m = 1e6 / 2 * (1 - sqrt(1 - 4 * 5000 / (1000 * 1e6))) = 5.000025 MKR. Nothing is left uncovered."""
    m = flip_model(sump=1000.0, latency=3600, zero_bidder=True)
    s = m.init_state(1)
    m.round(s, inputs(1, 0, 200.0))
    f = m.round(s, inputs(1, 60, 140.0))
    assert f.n_actions[0] == 2  # bite + zero bid
    assert s["a_guy"][0, 0, 0] == 1 and s["a_bid"][0, 0, 0] == 0.0
    f = m.round(s, inputs(1, 661, 140.0))
    assert f.sell[0, 0] == 50.0
    assert s["n_zero"][0] == 1
    assert s["deficit"][0] == pytest.approx(5000.0)
    mkr = 1e6 / 2 * (1 - math.sqrt(1 - 4 * 5000 / (1000 * 1e6)))
    assert s["mkr_minted"][0] == pytest.approx(mkr, rel=1e-9)
    assert mkr == pytest.approx(5.000025, rel=1e-6)
    acc = m.account(s, np.array([[140.0, 1.0]]))
    assert acc.bad_debt_usd[0] == pytest.approx(0.0)  # covered by minting MKR
    assert s["uncovered"][0] == pytest.approx(0.0)


def test_a_keeper_in_time_beats_the_zero_bid() -> None:
    """Keepers arriving at 300 s (before the zero bid's ttl of 600 s ends at 660) outbid it with tab."""
    m = flip_model(latency=300, zero_bidder=True)
    s = m.init_state(1)
    m.round(s, inputs(1, 60, 140.0))
    assert s["a_guy"][0, 0, 0] == 1
    m.round(s, inputs(1, 360, 140.0))
    assert s["a_guy"][0, 0, 0] == 2 and s["a_bid"][0, 0, 0] == pytest.approx(5650.0)


def test_keeper_failures_are_deterministic_per_path() -> None:
    m = flip_model(failure_prob=0.5)
    rng = np.random.default_rng(7)
    a, b = m.init_state(64, rng=np.random.default_rng(7)), m.init_state(64, rng=rng)
    for t in (60, 120, 180):
        m.round(a, inputs(64, t, 140.0))
        m.round(b, inputs(64, t, 140.0))
    assert np.array_equal(a["a_bid"], b["a_bid"])
    assert 0 < (a["a_bid"][:, 0, 0] > 0).sum() < 64


# --- Liquidations 2.0 against the exact mechanics ---------------------------------------------------------------

abaci = st.one_of(
    st.tuples(st.just("linear"), st.integers(600, 20_000), st.just(0)),
    st.tuples(st.just("stairstep"), st.integers(30, 600), st.integers(900, 999)),
    st.tuples(st.just("exponential"), st.just(0), st.integers(999_000, 999_999)),
)


def exact_abacus(kind: str, a: int, b: int) -> object:
    if kind == "linear":
        return LinearDecrease(tau=a)
    if kind == "stairstep":
        return StairstepExponentialDecrease(step=a, cut=b * RAY // 1000)
    return ExponentialDecrease(cut=b * RAY // 1_000_000)


@settings(max_examples=200, deadline=None, suppress_health_check=SLOW)
@given(calc=abaci, top=st.integers(1, 10**6), dur=st.integers(0, 30_000))
def test_abacus_prices_agree(calc: tuple[str, int, int], top: int, dur: int) -> None:
    kind, a, b = calc
    exact = exact_abacus(kind, a, b).price(top * RAY, dur) / RAY  # type: ignore[attr-defined]
    cut = b / 1000 if kind == "stairstep" else b / 1e6
    got = float(abacus_price(kind, np.array(float(top)), np.array(float(dur)), tau=a, step=a, cut=cut))
    assert got == pytest.approx(exact, rel=1e-9, abs=1e-18 * top)


def _far(x: float, y: float) -> bool:
    """x and y are not within 1e-7 relative (a float model cannot be asked to agree on the contract's ties)."""
    return abs(x - y) > 1e-7 * max(abs(x), abs(y), 1e-30)


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW)
@given(
    ink=st.integers(10, 10_000), debt=st.integers(1_000, 1_000_000), drop=st.floats(0.2, 0.49),
    chop=st.integers(1000, 1300), hole=st.floats(1.01, 3.0), Hole=st.floats(1.01, 3.0),
    dust=st.integers(0, 5_000), buf=st.integers(1000, 1500), calc=abaci,
    tip=st.integers(0, 500), chip=st.integers(0, 20),
    takes=st.lists(st.tuples(st.integers(1, 5_000), st.integers(0, 2_000_000)), min_size=1, max_size=3),
)  # fmt: skip
def test_bark_kick_take_sequence_agrees_with_mechanics(  # type: ignore[no-untyped-def]
    ink, debt, drop, chop, hole, Hole, dust, buf, calc, tip, chip, takes
) -> None:
    """One vault: Dog.bark, Clipper.kick, then takes (redo first when needed) by keepers with limited DAI.

    The room (``hole``, ``Hole``) is drawn above the vault's tab so the bark takes it whole and no second auction
    starts; partial barks and their dust rules are held to the mechanics in ``test_bark_amounts_agree``.
    """
    hole, Hole = math.ceil(debt * chop / 1000 * hole), math.ceil(debt * chop / 1000 * Hole)
    price0 = 2 * debt * 1.6 / ink  # safe at mat 1.6 with room
    price0_wad = int(price0 * 1000) * WAD // 1000
    price1_wad = int(price0_wad * drop)
    kind, a, b = calc
    t0 = 1_000_000
    # exact world
    vat, usr, kpr = Vat(), "usr", "kpr"
    spot, dog = Spotter(vat), Dog(vat)
    vat.init(ILK)
    vat.file("Line", 10**12 * RAD)
    vat.file("line", 10**12 * RAD, ilk=ILK)
    vat.file("dust", dust * RAD, ilk=ILK)
    spot.file("mat", 16 * RAY // 10, ilk=ILK)
    spot.set_pip(ILK, price0_wad)
    spot.poke(ILK)
    dog.file("chop", chop * WAD // 1000, ilk=ILK)
    dog.file("hole", hole * RAD, ilk=ILK)
    dog.file("Hole", Hole * RAD)
    clip = Clipper(vat, spot, dog, ILK)
    dog.file("clip", clip, ilk=ILK)
    clip.file("buf", buf * RAY // 1000)
    clip.file("calc", exact_abacus(kind, a, b))  # type: ignore[arg-type]
    clip.file("tail", 7200)
    clip.file("cusp", 3 * RAY // 10)
    clip.file("tip", tip * RAD)
    clip.file("chip", chip * WAD // 1000)
    clip.upchost()
    vat.slip(ILK, usr, ink * WAD)
    try:
        vat.frob(ILK, usr, usr, usr, ink * WAD, debt * WAD)
    except Revert:
        assume(False)
    spot.set_pip(ILK, price1_wad)
    spot.poke(ILK)
    # float model
    spec = MakerSpec.model_validate({
        "name": "mcd", "type": "maker", "Hole": Hole,
        "ilks": {ILK: {
            "collateral": "ETH", "oracle": "osm", "mat": 1.6, "line": 1e12, "dust": dust, "chop": chop / 1000,
            "max_auctions": 4,
            "clip": {"hole": hole, "buf": buf / 1000, "tail": 7200, "cusp": 0.3, "tip": tip, "chip": chip / 1000,
                     "calc": kind, "tau": a if kind == "linear" else None, "step": a if kind == "stairstep" else None,
                     "cut": b / 1000 if kind == "stairstep" else (b / 1e6 if kind == "exponential" else 1.0)},
        }},
        "vaults": [{"ilk": ILK, "ink": ink, "art": debt}],
    })  # fmt: skip
    model = MakerModel.build(spec, None)
    state = model.init_state(1)
    p1 = price1_wad / WAD
    # the bark: keep away from the contract's ties (dust rules, room edge)
    room = min(Hole, hole)
    dart_room = room / (chop / 1000)
    assume(_far(dart_room, debt) and _far(debt - dart_room, dust) and _far(dart_room, dust))
    try:
        id_ = dog.bark(ILK, usr, kpr, t0)
    except Revert:
        id_ = None
    model.round(state, inputs(1, t0, p1, capital=0.0, slope=10.0, gas=0.0))
    live = bool(state["a_live"][0, 0].any())
    assert live == (id_ is not None)
    if id_ is None:
        return
    bark = dog.last_bark
    assert bark is not None
    s = int(np.argmax(state["a_live"][0, 0]))
    assert state["a_lot"][0, 0, s] == pytest.approx(bark.dink / WAD, rel=1e-9)
    assert state["a_tab"][0, 0, s] == pytest.approx(bark.tab / RAD, rel=1e-9)
    assert state["a_due"][0, 0, s] == pytest.approx(bark.due / RAD, rel=1e-9)
    assert state["art"][0, 0] == pytest.approx(vat.urns(ILK, usr).art / WAD, rel=1e-9, abs=1e-9)
    assert state["incentives"][0] == pytest.approx(vat.dai(kpr) / RAD, rel=1e-9, abs=1e-12)
    vat.suck("vow", "buyer", 10**12 * RAD)
    now = t0
    for dt, cap in takes:
        now += dt
        sale = clip.sales(id_)
        if sale.lot == 0:
            break
        needs_redo, price, _, _ = clip.get_status(id_, now)
        if needs_redo:
            event("redo")
            clip.redo(id_, kpr, now)
            _, price, _, _ = clip.get_status(id_, now)
        amt = cap * RAD // price if price > 0 else 0
        ratio = cap / (price / RAY) if price > 0 else 0.0
        tab, lot = sale.tab / RAD, sale.lot / WAD
        assume(_far(min(lot, ratio) * price / RAY, tab) and _far(lot, ratio))
        assume(_far(tab - min(lot, ratio) * price / RAY, clip.chost / RAD) and _far(tab, clip.chost / RAD))
        try:
            got = clip.take(id_, amt, price, "buyer", now) if amt > 0 else None
            event("take" if got is not None else "no take")
            event("ended" if clip.sales(id_).lot == 0 else "running")
        except Revert as exc:
            event(f"revert {exc}")
        model.round(state, inputs(1, now, p1, capital=float(cap), slope=10.0, gas=0.0))
        sale = clip.sales(id_)
        assert state["a_lot"][0, 0, s] == pytest.approx(sale.lot / WAD, rel=1e-9, abs=1e-9)
        assert state["a_tab"][0, 0, s] == pytest.approx(sale.tab / RAD, rel=1e-9, abs=1e-9)
        assert state["dirt"][0, 0] == pytest.approx(dog.ilks(ILK).dirt / RAD, rel=1e-9, abs=1e-6)
        assert state["sold"][0, 0] == pytest.approx(vat.gem(ILK, "buyer") / WAD, rel=1e-9, abs=1e-9)
        assert state["returned"][0, 0] == pytest.approx(vat.gem(ILK, usr) / WAD, rel=1e-9, abs=1e-9)
        assert state["incentives"][0] == pytest.approx(vat.dai(kpr) / RAD, rel=1e-9, abs=1e-9)
        assert model.check_conservation(state, {}) == []


@settings(max_examples=100, deadline=None, suppress_health_check=SLOW)
@given(
    ink=st.integers(1, 10**6), share=st.floats(0.0, 1.0), chop=st.integers(1000, 1500),
    room_share=st.floats(0.01, 2.0), dust_share=st.floats(0.0, 1.0),
)  # fmt: skip
def test_bark_amounts_agree(ink: int, share: float, chop: int, room_share: float, dust_share: float) -> None:
    art = max(1, int(ink * share))  # safe at spot 1 when opened
    dust = int(art * dust_share)  # the vault itself is not dusty
    room = max(1, int(art * chop / 1000 * room_share))  # below or above the whole vault's tab
    vat = Vat()
    dog = Dog(vat)
    vat.init(ILK)
    vat.file("Line", 10**15 * RAD)
    vat.file("line", 10**15 * RAD, ilk=ILK)
    vat.file("dust", dust * RAD, ilk=ILK)
    vat.file("spot", RAY, ilk=ILK)
    vat.slip(ILK, "u", ink * WAD)
    try:
        vat.frob(ILK, "u", "u", "u", ink * WAD, art * WAD)
    except Revert:
        assume(False)
    vat.file("spot", 1, ilk=ILK)  # unsafe
    spot = Spotter(vat)
    spot.set_pip(ILK, WAD)
    clip = Clipper(vat, spot, dog, ILK)
    clip.file("calc", LinearDecrease(tau=3600))
    dog.file("clip", clip, ilk=ILK)
    dog.file("chop", chop * WAD // 1000, ilk=ILK)
    dog.file("hole", room * RAD, ilk=ILK)
    dog.file("Hole", room * RAD)
    dart_room = room / (chop / 1000)
    assume(_far(dart_room, art) and _far(art - dart_room, dust) and _far(dart_room, dust))
    try:
        dog.bark(ILK, "u", "k", 1)
        exact = dog.last_bark
    except Revert:
        exact = None
    ok, dart, dink, due, tab = bark_amounts(
        np.array(float(ink)),
        np.array(float(art)),
        np.array(1.0),
        chop / 1000,
        np.array(float(room)),
        float(dust),
    )
    event("reverts" if exact is None else ("partial" if exact.dart < art * WAD else "whole vault"))
    assert bool(ok) == (exact is not None)
    if exact is not None:
        assert float(dart) == pytest.approx(exact.dart / WAD, rel=1e-9)
        assert float(dink) == pytest.approx(exact.dink / WAD, rel=1e-9)
        assert float(due) == pytest.approx(exact.due / RAD, rel=1e-9)
        assert float(tab) == pytest.approx(exact.tab / RAD, rel=1e-9)


def test_take_amounts_chost_rule() -> None:
    """clip.sol: a partial take that would leave 0 < tab < chost is cut to leave exactly chost; when tab <= chost
    only the whole lot may be bought."""
    ok, sl, owe = take_amounts(np.array(30.0), np.array(100.0), np.array(5.0), np.array(19.0), 10.0)
    # 19 * 5 = 95 would leave 5 < chost 10: cut to owe 90, slice 18
    assert bool(ok) and float(owe) == 90.0 and float(sl) == 18.0
    ok, _, _ = take_amounts(np.array(10.0), np.array(8.0), np.array(5.0), np.array(1.0), 10.0)
    assert not bool(ok)


# --- conservation over generated worlds -------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=SLOW)
@given(
    vaults=st.lists(st.tuples(st.floats(1, 500), st.floats(1.0, 3.0), st.booleans()), min_size=1, max_size=10),
    prices=st.lists(st.floats(20.0, 400.0), min_size=2, max_size=6),
    capital=st.floats(0.0, 1e6), fail=st.floats(0.0, 1.0), zero=st.booleans(),
)  # fmt: skip
def test_conservation_over_generated_worlds(vaults, prices, capital, fail, zero) -> None:  # type: ignore[no-untyped-def]
    spec = MakerSpec.model_validate({
        "name": "mcd", "type": "maker", "Hole": 5e5,
        "ilks": {
            "ETH-A": {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9, "dust": 100,
                      "max_auctions": 8, "flip": {"lump": 30, "ttl": 600, "tau": 3600}, "duty": 0.05},
            "ETH-B": {"collateral": "ETH", "oracle": "osm", "mat": 1.3, "line": 1e9, "dust": 100,
                      "max_auctions": 8, "clip": {"hole": 1e5, "calc": "linear", "tau": 3600}},
        },
        "vaults": [{"ilk": "ETH-A" if f else "ETH-B", "ink": i, "art": i * 200 / r} for i, r, f in vaults],
        "keepers": {"failure_prob": fail, "zero_bidder": zero},
    })  # fmt: skip
    model = MakerModel.build(spec, None)
    state = model.init_state(4)
    sold = np.zeros((4, 2))
    for k, p in enumerate(prices):
        for r in range(2):
            f = model.round(state, inputs(4, 600.0 * k + r, p, capital=capital))
            sold += f.sell
            assert np.all(np.isfinite(f.sell)) and np.all(f.sell >= 0) and np.all(f.buy >= 0)
        assert model.check_conservation(state, {"sold": sold}) == []
    acc = model.account(state, np.tile([prices[-1], 1.0], (4, 1)))
    assert np.all(np.isfinite(acc.bad_debt_usd)) and np.all(acc.bad_debt_usd >= 0)


# --- specs ----------------------------------------------------------------------------------------------------------


def _errors(data: dict) -> list[str]:  # type: ignore[type-arg]
    with pytest.raises(ValidationError) as info:
        MakerSpec.model_validate(data)
    return format_validation_error(info.value, data, "s.toml", MakerSpec)


BASE = {
    "name": "mcd", "type": "maker",
    "ilks": {ILK: {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9, "flip": {"lump": 50}}},
    "vaults": [{"ilk": ILK, "ink": 1, "art": 1}],
}  # fmt: skip


def test_unknown_ilk_is_rejected_with_its_key_path() -> None:
    data = {**BASE, "vaults": [{"ilk": ILK, "ink": 1, "art": 1}, {"ilk": "BAT-A", "ink": 1, "art": 1}]}
    assert _errors(data) == ["s.toml: vaults[1].ilk: must be one of ['ETH-A'], got 'BAT-A'"]


def test_ttl_zero_chop_below_one_negative_capital_are_rejected() -> None:
    ilk = BASE["ilks"][ILK]  # type: ignore[index]
    data = {**BASE, "ilks": {ILK: {**ilk, "flip": {"lump": 50, "ttl": 0}}}}
    assert _errors(data) == [f"s.toml: ilks.{ILK}.flip.ttl: input should be greater than 0, got 0"]
    data = {**BASE, "ilks": {ILK: {**ilk, "chop": 0.9}}}
    assert _errors(data) == [f"s.toml: ilks.{ILK}.chop: input should be greater than or equal to 1, got 0.9"]
    data = {**BASE, "keepers": {"capital_dai": -5}}
    assert _errors(data) == [
        "s.toml: keepers.capital_dai: input should be greater than or equal to 0, got -5"
    ]


def test_unsafe_vaults_wait_for_slots_and_are_all_reached() -> None:
    """120 unsafe vaults, two auction slots: each round bites at most two; the rest are counted as unserved and
    reached in later rounds (the riskiest-first window moves past emptied vaults), until no vault is left."""
    rng = np.random.default_rng(3)
    spec = MakerSpec.model_validate({
        "name": "mcd", "type": "maker",
        "ilks": {ILK: {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9, "max_auctions": 2,
                       "flip": {"lump": 1000, "ttl": 10, "tau": 100}}},
    })  # fmt: skip
    ink = rng.uniform(1, 10, 120)
    model = MakerModel.from_parts(
        spec, np.zeros(120, dtype=np.int64), ink, ink * 100 / rng.uniform(1.6, 3.0, 120)
    )
    state = model.init_state(2)
    f = model.round(state, inputs(2, 0, 20.0))
    assert f.n_unserved.tolist() == [118, 118]
    t = 0
    while state["ink"].any() and t < 5000:
        t += 11
        model.round(state, inputs(2, t, 20.0))
        assert model.check_conservation(state, {}) == []
    assert not state["ink"].any()
    assert state["n_kicks"].tolist() == [120, 120]


def test_conformance_suite() -> None:
    from firesale.testing._conformance import check_protocol_model

    def make() -> MakerModel:
        spec = MakerSpec.model_validate({
            "name": "mcd", "type": "maker",
            "ilks": {
                "ETH-A": {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9,
                          "flip": {"lump": 30, "ttl": 600, "tau": 3600}},
                "ETH-B": {"collateral": "ETH", "oracle": "osm", "mat": 1.3, "line": 1e9, "dust": 100,
                          "clip": {"hole": 1e6, "calc": "linear", "tau": 3600}},
            },
            "vaults": [{"ilk": "ETH-A", "ink": 100, "art": 10000}, {"ilk": "ETH-A", "ink": 50, "art": 4000},
                       {"ilk": "ETH-B", "ink": 80, "art": 9000}],
            "keepers": {"zero_bidder": True},
        })  # fmt: skip
        return MakerModel.build(spec, None)

    bad = [
        (
            lambda: MakerSpec.model_validate({**BASE, "vaults": [{"ilk": "BAT-A", "ink": 1, "art": 1}]}),
            "BAT-A",
        ),
        (lambda: MakerSpec.model_validate({**BASE, "keepers": {"capital_dai": -1}}), "capital_dai"),
    ]
    passed = check_protocol_model(make, np.array([200.0, 1.0]), bad_specs=bad)
    assert "conservation and no negative balances" in passed and "clear errors for bad specs" in passed


def test_flash_loan_takes_need_no_dai() -> None:
    """A Clipper auction with keepers holding no DAI: nothing is taken, unless takes are flash-loan style.

    The vault (10 ETH, 1000 DAI) is barked at $100 (spot 66.7: 667 < 1000): lot 10 ETH, tab = 1000 * 1.13 = 1130,
    top = 100 * 1.2 = 120 (above the market: no take). 1800 s later the linear abacus (tau 3600) asks
    120 * (3600 - 1800) / 3600 = 60 DAI: buying the whole lot costs 600 < tab, the venues pay 0.99 * 1000 = 990,
    so the keepers take it all. The auction ends with 1130 - 600 unraised: the Vow is 1000 - 600 = 400 DAI short.
    """

    def make(flash: bool) -> MakerModel:
        spec = MakerSpec.model_validate({
            "name": "mcd", "type": "maker",
            "ilks": {ILK: {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9,
                           "clip": {"hole": 1e6, "calc": "linear", "tau": 3600, "buf": 1.2, "tip": 0, "chip": 0}}},
            "vaults": [{"ilk": ILK, "ink": 10, "art": 1000}], "keepers": {"flash_loans": flash},
        })  # fmt: skip
        return MakerModel.build(spec, None)

    for flash in (False, True):
        m = make(flash)
        s = m.init_state(1)
        f = m.round(s, inputs(1, 0, 100.0, capital=0.0))
        assert f.sell[0, 0] == 0.0 and s["a_tab"][0, 0, 0] == pytest.approx(1130.0)
        f = m.round(s, inputs(1, 1800, 100.0, capital=0.0))
        if not flash:
            assert f.sell[0, 0] == 0.0 and s["a_live"].sum() == 1
            continue
        assert f.sell[0, 0] == pytest.approx(10.0)
        assert f.buy[0, 1] == pytest.approx(600.0)
        assert not s["a_live"].any()
        assert s["deficit"][0] == pytest.approx(400.0)


def test_psm_gives_keepers_cheaper_dai() -> None:
    """DAI trades at $1.05; keepers hold $600. The Clipper asks 60 DAI per ETH (lot 10 ETH, tab 1130, see above).

    Without a PSM they can buy 600 / 1.05 = 571.43 DAI, so take 571.43 / 60 = 9.5238 ETH. With a PSM (tin 0.1 %,
    1000 DAI of room) they mint 600 / 1.001 = 599.40 DAI from USDC and take 9.9900 ETH; no DAI is bought at the
    market and the PSM's room falls by 599.40.
    """

    def run(psm: dict | None) -> tuple[MakerModel, object, object]:  # type: ignore[type-arg]
        spec = MakerSpec.model_validate({
            "name": "mcd", "type": "maker", "psm": psm,
            "ilks": {ILK: {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9,
                           "clip": {"hole": 1e6, "calc": "linear", "tau": 3600, "buf": 1.2, "tip": 0, "chip": 0}}},
            "vaults": [{"ilk": ILK, "ink": 10, "art": 1000}],
        })  # fmt: skip
        m = MakerModel.build(spec, None)
        s = m.init_state(1)
        m.round(s, inputs(1, 0, 100.0, capital=0.0))
        inp = inputs(1, 1800, 100.0, capital=600.0)
        inp.market[:, 1] = 1.05
        return m, s, m.round(s, inp)

    _, s, f = run(None)
    assert f.sell[0, 0] == pytest.approx(600 / 1.05 / 60)
    assert f.buy[0, 1] == pytest.approx(600 / 1.05)
    _, s, f = run({"line": 1000, "tin": 0.001})
    assert f.sell[0, 0] == pytest.approx(600 / 1.001 / 60)
    assert f.buy[0, 1] == pytest.approx(0.0, abs=1e-9)
    assert f.minted[0, 1] == pytest.approx(600 / 1.001)
    assert s["psm_left"][0] == pytest.approx(1000 - 600 / 1.001)
    assert f.spent_usd[0] == pytest.approx(600.0)
