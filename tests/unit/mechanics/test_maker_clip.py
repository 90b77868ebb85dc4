"""Clipper kick/take/redo/yank against dss src/test/clip.t.sol, transcribed scenario by scenario.

The setUp of clip.t.sol is reproduced in :class:`World`: gold at $5 with mat 200% (spot $2.50), a 40 gold / 100 DAI
vault, then the price falls to $4 (spot $2) so the vault is unsafe. ali, bob and the test contract ("me") hold
1000 DAI each in the Vat. Flash-loan callbacks (``clipperCall``), reentrancy and auth tests have no counterpart here.
"""

from __future__ import annotations

import re

import pytest

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.maker import (
    RAD,
    RAY,
    WAD,
    ZERO_ADDRESS,
    Clipper,
    Dog,
    LinearDecrease,
    Spotter,
    StairstepExponentialDecrease,
    Vat,
)

ILK = "gold"
ME, ALI, BOB, CHE = "me", "ali", "bob", "che"
VOW = "vow"
START = 604411200  # clip.t.sol startTime


def ray(wad: int) -> int:
    return wad * 10**9


def rad(wad: int) -> int:
    return wad * 10**27


class World:
    def __init__(self) -> None:
        self.now = START
        self.vat = Vat()
        self.spot = Spotter(self.vat)
        self.dog = Dog(self.vat, vow=VOW)
        self.vat.init(ILK)
        self.vat.slip(ILK, ME, 1000 * WAD)
        self.spot.set_pip(ILK, 5 * WAD)  # Spot = $2.5
        self.spot.file("mat", ray(2 * WAD), ilk=ILK)
        self.spot.poke(ILK)
        self.vat.file("dust", rad(20 * WAD), ilk=ILK)
        self.vat.file("line", rad(10000 * WAD), ilk=ILK)
        self.vat.file("Line", rad(10000 * WAD))
        self.dog.file("chop", 11 * WAD // 10, ilk=ILK)
        self.dog.file("hole", rad(1000 * WAD), ilk=ILK)
        self.dog.file("Hole", rad(1000 * WAD))
        self.clip = Clipper(self.vat, self.spot, self.dog, ILK, vow=VOW)
        self.clip.upchost()
        self.dog.file("clip", self.clip, ilk=ILK)
        assert self.vat.gem(ILK, ME) == 1000 * WAD
        self.vat.frob(ILK, ME, ME, ME, 40 * WAD, 100 * WAD)
        assert self.vat.gem(ILK, ME) == 960 * WAD
        assert self.vat.dai(ME) == rad(100 * WAD)
        self.spot.set_pip(ILK, 4 * WAD)  # Spot = $2
        self.spot.poke(ILK)  # now unsafe
        for who in (ME, ALI, BOB):
            self.vat.suck(ZERO_ADDRESS, who, rad(1000 * WAD))

    def bark(self, kpr: str = ME) -> int:
        return self.dog.bark(ILK, ME, kpr, self.now)

    def take(self, id: int, amt: int, max: int, who: str, sender: str | None = None) -> tuple[int, int]:
        return self.clip.take(id, amt, max, who, self.now, sender=sender)

    def urn(self) -> tuple[int, int]:
        u = self.vat.urns(ILK, ME)
        return u.ink, u.art

    def sale(self, id: int = 1) -> tuple[int, int, int, str, int, int]:
        s = self.clip.sales(id)
        return s.pos, s.tab, s.lot, s.usr, s.tic, s.top


EMPTY_SALE = (0, 0, 0, ZERO_ADDRESS, 0, 0)


@pytest.fixture
def w() -> World:
    return World()


@pytest.fixture
def t(w: World) -> World:
    """clip.t.sol takeSetup: 1%/s stairstep, buf 1.25, cusp 0.3, tail 1h, then bark."""
    w.clip.file("calc", StairstepExponentialDecrease(step=1, cut=RAY - ray(WAD // 100)))
    w.clip.file("buf", ray(125 * WAD // 100))
    w.clip.file("cusp", ray(3 * WAD // 10))
    w.clip.file("tail", 3600)
    assert w.urn() == (40 * WAD, 100 * WAD)
    assert w.clip.kicks == 0
    w.bark()
    assert w.clip.kicks == 1
    assert w.urn() == (0, 0)
    assert w.sale() == (0, rad(110 * WAD), 40 * WAD, ME, w.now, ray(5 * WAD))  # $4 plus 25%
    assert w.vat.gem(ILK, ALI) == 0
    assert w.vat.dai(ALI) == rad(1000 * WAD)
    assert w.vat.gem(ILK, BOB) == 0
    assert w.vat.dai(BOB) == rad(1000 * WAD)
    return w


def auction_reset_setup(w: World, tau: int) -> None:
    w.clip.file("calc", LinearDecrease(tau=tau))
    w.vat.file("dust", rad(20 * WAD), ilk=ILK)
    w.clip.file("buf", ray(125 * WAD // 100))
    w.clip.file("cusp", ray(WAD // 2))
    w.clip.file("tail", 3600)
    assert w.clip.kicks == 0
    w.bark()
    assert w.clip.kicks == 1


# --- kick -----------------------------------------------------------------------------------------------------------


def test_get_chop(w: World) -> None:
    assert w.dog.chop(ILK) == w.dog.ilks(ILK).chop == 11 * WAD // 10


def test_chost_from_setup(w: World) -> None:
    # upchost: wmul(20 DAI dust, 1.1 chop) = 22 DAI
    assert w.clip.chost == 22 * RAD


def test_kick(w: World) -> None:
    w.clip.file("tip", rad(100 * WAD))
    w.clip.file("chip", 0)
    assert w.sale(1) == EMPTY_SALE
    assert w.urn() == (40 * WAD, 100 * WAD)
    w.bark(kpr=ALI)
    assert w.clip.kicks == 1
    assert w.sale(1) == (0, rad(110 * WAD), 40 * WAD, ME, START, ray(4 * WAD))
    assert w.vat.gem(ILK, ME) == 960 * WAD
    assert w.vat.dai(ALI) == rad(1100 * WAD)  # paid "tip" for calling bark()
    assert w.urn() == (0, 0)

    w.spot.set_pip(ILK, 5 * WAD)
    w.spot.poke(ILK)  # now safe
    w.now = START + 100
    w.vat.frob(ILK, ME, ME, ME, 40 * WAD, 100 * WAD)
    w.spot.set_pip(ILK, 4 * WAD)
    w.spot.poke(ILK)  # now unsafe
    assert w.sale(2) == EMPTY_SALE
    assert w.vat.gem(ILK, ME) == 920 * WAD

    w.clip.file("buf", ray(125 * WAD // 100))
    w.clip.file("tip", rad(100 * WAD))
    w.clip.file("chip", 2 * WAD // 100)
    assert w.vat.dai(BOB) == rad(1000 * WAD)
    w.bark(kpr=BOB)
    assert w.clip.kicks == 2
    pos, tab, lot, usr, tic, top = w.sale(2)
    assert (pos, tab, lot, usr, tic, top) == (1, rad(110 * WAD), 40 * WAD, ME, START + 100, ray(5 * WAD))
    assert w.vat.gem(ILK, ME) == 920 * WAD
    assert w.urn() == (0, 0)
    # paid tip + tab * chip for calling bark()
    assert w.vat.dai(BOB) == rad(1000 * WAD) + rad(100 * WAD) + tab * (2 * WAD // 100) // WAD


def test_kick_zero_price(w: World) -> None:
    w.spot.set_pip(ILK, 0)
    with pytest.raises(Revert, match="Clipper/zero-top-price"):
        w.bark()


def test_kick_invalid_price(w: World) -> None:
    w.spot.set_pip(ILK, 4 * WAD, has=False)
    with pytest.raises(Revert, match="Clipper/invalid-price"):
        w.bark()


def test_kick_basic(w: World) -> None:
    assert w.clip.kick(WAD, 2 * WAD, "0x1", ME, w.now) == 1


@pytest.mark.parametrize(
    ("tab", "lot", "usr", "reason"),
    [
        (0, 2 * WAD, "0x1", "Clipper/zero-tab"),
        (WAD, 0, "0x1", "Clipper/zero-lot"),
        (WAD, 2 * WAD, ZERO_ADDRESS, "Clipper/zero-usr"),
    ],
)
def test_kick_reverts(w: World, tab: int, lot: int, usr: str, reason: str) -> None:
    with pytest.raises(Revert, match=reason):
        w.clip.kick(tab, lot, usr, ME, w.now)
    assert w.clip.kicks == 0


def test_bark_not_leaving_dust(w: World) -> None:
    w.dog.file("hole", rad(80 * WAD), ilk=ILK)  # room = 80 WAD
    w.dog.file("chop", WAD, ilk=ILK)  # 0% chop
    assert w.sale(1) == EMPTY_SALE
    w.bark()  # art - dart = 100 - 80 = dust (= 20)
    assert w.clip.kicks == 1
    assert w.sale(1) == (0, rad(80 * WAD), 32 * WAD, ME, START, ray(4 * WAD))
    assert w.vat.gem(ILK, ME) == 960 * WAD
    assert w.urn() == (8 * WAD, 20 * WAD)


def test_bark_not_leaving_dust_over_hole(w: World) -> None:
    w.dog.file("hole", rad(80 * WAD) + ray(WAD), ilk=ILK)  # room = 80 WAD + 1 wei
    w.dog.file("chop", WAD, ilk=ILK)
    w.bark()  # art - dart = 100 - (80 + 1 wei) < dust (= 20): the whole debt is taken
    assert w.sale(1) == (0, rad(100 * WAD), 40 * WAD, ME, START, ray(4 * WAD))
    assert w.urn() == (0, 0)


def test_bark_not_leaving_dust_rate(w: World) -> None:
    w.vat.fold(ILK, VOW, ray(2 * WAD // 100))
    rate = w.vat.ilks(ILK).rate
    assert rate == ray(102 * WAD // 100)
    w.dog.file("hole", 100 * RAD, ilk=ILK)
    w.dog.file("chop", WAD, ilk=ILK)
    w.vat.file("dust", 20 * RAD, ilk=ILK)
    w.clip.upchost()
    assert w.urn() == (40 * WAD, 100 * WAD)  # full debt is 102 DAI since rate = 1.02
    w.bark()  # (art - dart) * rate ~= 2 RAD < dust = 20 RAD => full liquidation
    assert w.sale(1) == (0, 100 * WAD * rate, 40 * WAD, ME, START, ray(4 * WAD))
    assert w.urn() == (0, 0)


def test_bark_only_leaving_dust_over_hole_rate(w: World) -> None:
    w.vat.fold(ILK, VOW, ray(2 * WAD // 100))
    rate = w.vat.ilks(ILK).rate
    assert rate == ray(102 * WAD // 100)
    w.dog.file("hole", 816 * RAD // 10, ilk=ILK)  # room = 81.6 RAD => dart = 80
    w.dog.file("chop", WAD, ilk=ILK)
    w.vat.file("dust", 204 * RAD // 10, ilk=ILK)  # 20.4 DAI dust
    w.clip.upchost()
    w.bark()  # (art - dart) * rate = 20.4 RAD == dust: the marginal partial liquidation
    assert w.sale(1) == (0, 816 * RAD // 10, 32 * WAD, ME, START, ray(4 * WAD))
    assert w.urn() == (8 * WAD, 20 * WAD)
    assert 20 * WAD * rate == w.vat.ilks(ILK).dust


def test_Hole_hole(w: World) -> None:
    assert w.dog.Dirt == 0
    assert w.dog.ilks(ILK).dirt == 0
    w.bark()
    tab = w.clip.sales(1).tab
    assert w.dog.Dirt == tab
    assert w.dog.ilks(ILK).dirt == tab

    ilk2 = "silver"
    clip2 = Clipper(w.vat, w.spot, w.dog, ilk2, vow=VOW)
    clip2.upchost()
    w.dog.file("clip", clip2, ilk=ilk2)
    w.dog.file("chop", 11 * WAD // 10, ilk=ilk2)
    w.dog.file("hole", rad(1000 * WAD), ilk=ilk2)
    w.vat.init(ilk2)
    w.vat.file("line", rad(100 * WAD), ilk=ilk2)
    w.vat.slip(ilk2, ME, 40 * WAD)
    w.spot.set_pip(ilk2, 5 * WAD)
    w.spot.file("mat", ray(2 * WAD), ilk=ilk2)
    w.spot.poke(ilk2)
    w.vat.frob(ilk2, ME, ME, ME, 40 * WAD, 100 * WAD)
    w.spot.set_pip(ilk2, 4 * WAD)
    w.spot.poke(ilk2)
    w.dog.bark(ilk2, ME, ME, w.now)
    tab2 = clip2.sales(1).tab
    assert w.dog.Dirt == tab + tab2
    assert w.dog.ilks(ILK).dirt == tab
    assert w.dog.ilks(ilk2).dirt == tab2


@pytest.mark.parametrize("limit", ["Hole", "hole"])
def test_partial_liquidation_limit(w: World, limit: str) -> None:
    # clip.t.sol test_partial_liquidation_Hole_limit / _hole_limit
    if limit == "Hole":
        w.dog.file("Hole", rad(75 * WAD))
    else:
        w.dog.file("hole", rad(75 * WAD), ilk=ILK)
    assert w.urn() == (40 * WAD, 100 * WAD)
    chop = w.dog.ilks(ILK).chop
    w.bark()
    _, tab, lot, _, _, _ = w.sale(1)
    rate = w.vat.ilks(ILK).rate
    assert lot == 40 * WAD * (tab * WAD // rate // chop) // (100 * WAD)
    assert tab == rad(75 * WAD) - ray(2 * WAD // 10)  # 0.2 RAY rounding error
    assert w.urn() == (40 * WAD - lot, 100 * WAD - tab * WAD // rate // chop)
    assert w.dog.Dirt == tab
    assert w.dog.ilks(ILK).dirt == tab


# --- take -----------------------------------------------------------------------------------------------------------


def test_take_zero_usr(t: World) -> None:
    assert t.clip.sales(2).usr == ZERO_ADDRESS
    with pytest.raises(Revert, match="Clipper/not-running-auction"):
        t.take(2, 25 * WAD, ray(5 * WAD), ALI)


def _assert_auction_over(t: World) -> None:
    assert t.sale(1) == EMPTY_SALE
    assert t.dog.Dirt == 0
    assert t.dog.ilks(ILK).dirt == 0


def test_take_over_tab(t: World) -> None:
    # owe (= 25 * 5 = 125 RAD) > tab (= 110 RAD): slice readjusted to tab / top = 22
    t.take(1, 25 * WAD, ray(5 * WAD), ALI)
    assert t.vat.gem(ILK, ALI) == 22 * WAD
    assert t.vat.dai(ALI) == rad(890 * WAD)
    assert t.vat.gem(ILK, ME) == 978 * WAD  # 960 + (40 - 22) returned to usr
    _assert_auction_over(t)


def test_take_at_tab(t: World) -> None:
    t.take(1, 22 * WAD, ray(5 * WAD), ALI)
    assert t.vat.gem(ILK, ALI) == 22 * WAD
    assert t.vat.dai(ALI) == rad(890 * WAD)
    assert t.vat.gem(ILK, ME) == 978 * WAD
    _assert_auction_over(t)


def test_take_under_tab(t: World) -> None:
    assert t.take(1, 11 * WAD, ray(5 * WAD), ALI) == (11 * WAD, rad(55 * WAD))
    assert t.vat.gem(ILK, ALI) == 11 * WAD
    assert t.vat.dai(ALI) == rad(945 * WAD)
    assert t.vat.gem(ILK, ME) == 960 * WAD  # collateral not returned (yet)
    assert t.sale(1) == (0, rad(55 * WAD), 29 * WAD, ME, START, ray(5 * WAD))
    assert t.dog.Dirt == rad(55 * WAD)
    assert t.dog.ilks(ILK).dirt == rad(55 * WAD)


def test_take_full_lot_partial_tab(t: World) -> None:
    t.now += 69  # approx 50% price decline
    t.take(1, 40 * WAD, ray(25 * WAD // 10), ALI)
    assert t.vat.gem(ILK, ALI) == 40 * WAD
    assert t.vat.dai(ALI) - rad(900 * WAD) < rad(WAD // 10)  # paid about 100 DAI
    assert t.vat.gem(ILK, ME) == 960 * WAD
    # all dirt is cleared since the auction ended, though < 100% of tab was collected
    _assert_auction_over(t)


def test_take_bid_too_low(t: World) -> None:
    with pytest.raises(Revert, match="Clipper/too-expensive"):
        t.take(1, 22 * WAD, ray(4 * WAD), ALI)


def test_take_bid_recalculates_due_to_chost_check(t: World) -> None:
    needs_redo, price, lot, tab = t.clip.get_status(1, t.now)
    assert (needs_redo, price, lot, tab) == (False, ray(5 * WAD), 40 * WAD, rad(110 * WAD))
    # 18 gold costs 90 DAI; 110 - 90 = 20 < 22 = chost, so the bid shrinks to leave tab == chost.
    t.take(1, 18 * WAD, ray(5 * WAD), ALI)
    _, tab, lot, _, _, _ = t.sale(1)
    assert tab == t.clip.chost
    assert lot == 40 * WAD - (110 * RAD - t.clip.chost) // price


def test_take_bid_avoids_recalculate_due_no_more_lot(t: World) -> None:
    t.now += 60
    assert t.clip.get_status(1, t.now)[1] == 2735783211953807380973706855  # 2.73 RAY, literal from clip.t.sol
    # 40 * 2.73 = 109.42 leaves less than chost of tab, which does not matter: the lot is gone.
    t.take(1, 40 * WAD, ray(28 * WAD // 10), ALI)
    assert t.sale(1)[1:3] == (0, 0)


def test_take_bid_fails_no_partial_allowed(t: World) -> None:
    price = t.clip.get_status(1, t.now)[1]
    assert price == ray(5 * WAD)
    t.take(1, 176 * WAD // 10, ray(5 * WAD), ME)
    _, tab, lot, _, _, _ = t.sale(1)
    assert tab == rad(22 * WAD)
    assert lot == 224 * WAD // 10
    assert not tab > t.clip.chost
    with pytest.raises(Revert, match="Clipper/no-partial-purchase"):
        t.take(1, WAD, ray(5 * WAD), ME)
    t.take(1, tab // price, ray(5 * WAD), ME)  # this time the whole tab
    assert t.sale(1) == EMPTY_SALE


def test_take_multiple_bids_different_prices(t: World) -> None:
    t.take(1, 10 * WAD, ray(5 * WAD), ALI)  # owe = 50 < tab = 110
    assert t.vat.gem(ILK, ALI) == 10 * WAD
    assert t.vat.dai(ALI) == rad(950 * WAD)
    assert t.vat.gem(ILK, ME) == 960 * WAD
    assert t.sale(1) == (0, rad(60 * WAD), 30 * WAD, ME, START, ray(5 * WAD))

    t.now += 30
    _, price, lot, _ = t.clip.get_status(1, t.now)
    t.take(1, lot, ray(price), BOB)  # 5 * 0.99 ** 30 = 3.6985 < max
    assert t.sale(1) == EMPTY_SALE
    expected_gem = (RAY * 60 * WAD) // price  # tab / price
    assert t.vat.gem(ILK, BOB) == expected_gem
    assert t.vat.dai(BOB) == rad(940 * WAD)
    assert t.vat.gem(ILK, ME) == 960 * WAD + 30 * WAD - expected_gem


def test_take_not_enough_dai(t: World) -> None:
    # clip.t.sol testFail_not_enough_dai / testFail_take_impersonation: the payer has no dai in the Vat.
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 underflow)")):
        t.take(1, 25 * WAD, ray(5 * WAD), CHE)
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 underflow)")):
        t.take(1, 25 * WAD, ray(5 * WAD), ALI, sender="impersonator")
    # the failed takes changed nothing
    assert t.sale(1) == (0, rad(110 * WAD), 40 * WAD, ME, START, ray(5 * WAD))
    assert t.vat.gem(ILK, CHE) == t.vat.gem(ILK, ALI) == 0
    assert t.dog.Dirt == rad(110 * WAD)


def test_take_needs_reset(t: World) -> None:
    t.now += 3601
    with pytest.raises(Revert, match="Clipper/needs-reset"):
        t.take(1, 25 * WAD, ray(5 * WAD), ALI)


def test_take_bad_input(t: World) -> None:
    with pytest.raises(ParameterError, match=r"The 'amt' parameter of Clipper\.take must be an int in"):
        t.take(1, -1, ray(5 * WAD), ALI)


# --- redo -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tau", "edge"), [(10 * 3600, 3600), (3600, 1800)])
def test_auction_reset_tail_and_cusp(w: World, tau: int, edge: int) -> None:
    # clip.t.sol test_auction_reset_tail (tau 10h: tail binds at 3600 s) and test_auction_reset_cusp
    # (tau 1h: the linear price falls below 50% cusp after 1800 s).
    auction_reset_setup(w, tau)
    w.spot.set_pip(ILK, 3 * WAD)  # update price before reset is called
    _, _, _, _, tic, top = w.sale(1)
    assert (tic, top) == (START, ray(5 * WAD))  # $4 spot + 25% buffer
    w.now = START + edge
    assert not w.clip.get_status(1, w.now)[0]
    with pytest.raises(Revert, match="Clipper/cannot-reset"):
        w.clip.redo(1, ME, w.now)
    w.now = START + edge + 1
    assert w.clip.get_status(1, w.now)[0]
    w.clip.redo(1, ME, w.now)
    _, _, _, _, tic, top = w.sale(1)
    assert (tic, top) == (START + edge + 1, ray(375 * WAD // 100))  # $3 spot + 25% buffer


@pytest.mark.parametrize(("tau", "wait"), [(10 * 3600, 3601), (3600, 1801)])
def test_auction_reset_twice(w: World, tau: int, wait: int) -> None:
    auction_reset_setup(w, tau)
    w.now = START + wait
    w.clip.redo(1, ME, w.now)
    with pytest.raises(Revert, match="Clipper/cannot-reset"):
        w.clip.redo(1, ME, w.now)


def test_redo_zero_usr(w: World) -> None:
    with pytest.raises(Revert, match="Clipper/not-running-auction"):
        w.clip.redo(1, ME, w.now)


def test_redo_zero_price(w: World) -> None:
    auction_reset_setup(w, 3600)
    w.spot.set_pip(ILK, 0)
    w.now = START + 1801
    assert w.clip.get_status(1, w.now)[0]
    with pytest.raises(Revert, match="Clipper/zero-top-price"):
        w.clip.redo(1, ME, w.now)


def test_redo_incentive(t: World) -> None:
    t.clip.file("tip", rad(100 * WAD))
    t.clip.file("chip", 0)
    _, tab, lot, _, _, _ = t.sale(1)
    assert (tab, lot) == (rad(110 * WAD), 40 * WAD)

    t.now += 300
    t.clip.redo(1, "0x123", t.now)
    assert t.vat.dai("0x123") == t.clip.tip

    t.clip.file("chip", 2 * WAD // 100)  # reward 2% of tab
    t.now += 300
    t.clip.redo(1, "0x234", t.now)
    assert t.vat.dai("0x234") == t.clip.tip + t.clip.chip * tab // WAD

    t.clip.file("tip", 0)
    t.now += 300
    t.clip.redo(1, "0x345", t.now)
    assert t.vat.dai("0x345") == t.clip.chip * tab // WAD

    t.vat.file("dust", rad(100 * WAD) + 1, ilk=ILK)  # wmul(dust, chop) > 110 DAI (tab)
    t.clip.upchost()
    assert t.clip.chost == 110 * RAD + 1
    t.now += 300
    t.clip.redo(1, "0x456", t.now)
    assert t.vat.dai("0x456") == 0

    t.vat.file("dust", rad(20 * WAD), ilk=ILK)
    t.clip.upchost()
    assert t.clip.chost == 22 * RAD
    t.now += 100
    price = t.clip.get_status(1, t.now)[1]
    assert price == 1830161706366147524653080130  # 1.83 RAY, literal from clip.t.sol
    t.take(1, 38 * WAD, ray(5 * WAD), ME)
    _, tab, lot, _, _, _ = t.sale(1)
    assert tab == rad(110 * WAD) - 38 * WAD * price  # > 22 DAI chost
    assert lot == 2 * WAD  # 2 * $4 < $20: a dusty lot at the oracle price
    t.now += 300
    t.clip.redo(1, "0x567", t.now)
    assert t.vat.dai("0x567") == 0


def test_redo_incentive_at_chost_boundary(t: World) -> None:
    # Hand-checked edge: the incentive is paid when tab >= chost, so tab == chost (110 DAI) still pays.
    t.clip.file("tip", rad(100 * WAD))
    t.vat.file("dust", rad(100 * WAD), ilk=ILK)
    t.clip.upchost()
    assert t.clip.chost == t.clip.sales(1).tab == 110 * RAD
    t.now += 300
    t.clip.redo(1, "0x123", t.now)
    assert t.vat.dai("0x123") == rad(100 * WAD)


def test_incentive_max_values(w: World) -> None:
    # chip is uint64 and tip uint192: filing 2**64 / 2**192 wraps to 0.
    w.clip.file("chip", 2**64 - 1)
    w.clip.file("tip", 2**192 - 1)
    assert w.clip.chip == 18446744073709551615
    assert w.clip.tip == 6277101735386680763835789423207666416102355444464034512895
    w.clip.file("chip", 2**64)
    w.clip.file("tip", 2**192)
    assert w.clip.chip == 0
    assert w.clip.tip == 0


def test_file_unrecognized_param(w: World) -> None:
    with pytest.raises(Revert, match="Clipper/file-unrecognized-param"):
        w.clip.file("hole", 1)


# --- circuit breaker ------------------------------------------------------------------------------------------------


def test_set_breaker(w: World) -> None:
    for level in (1, 2, 3, 0):
        w.clip.file("stopped", level)
        assert w.clip.stopped == level


def test_stopped_kick(w: World) -> None:
    for level in (1, 2, 3):
        w.clip.file("stopped", level)
        with pytest.raises(Revert, match="Clipper/stopped-incorrect"):
            w.bark()
    w.clip.file("stopped", 0)
    w.bark()


@pytest.mark.parametrize("level", [1, 2])
def test_stopped_take_allowed(t: World, level: int) -> None:
    t.clip.file("stopped", level)
    t.take(1, 25 * WAD, ray(5 * WAD), ALI)
    assert t.vat.gem(ILK, ALI) == 22 * WAD


def test_stopped_3_take(t: World) -> None:
    t.clip.file("stopped", 3)
    with pytest.raises(Revert, match="Clipper/stopped-incorrect"):
        t.take(1, 25 * WAD, ray(5 * WAD), ALI)


def test_stopped_1_auction_reset_tail(w: World) -> None:
    auction_reset_setup(w, 10 * 3600)
    w.clip.file("stopped", 1)
    w.spot.set_pip(ILK, 3 * WAD)
    w.now = START + 3600
    with pytest.raises(Revert, match="Clipper/cannot-reset"):
        w.clip.redo(1, ME, w.now)
    w.now = START + 3601
    w.clip.redo(1, ME, w.now)
    assert w.sale(1)[4:] == (START + 3601, ray(375 * WAD // 100))


@pytest.mark.parametrize("level", [2, 3])
def test_stopped_auction_reset_tail(w: World, level: int) -> None:
    auction_reset_setup(w, 10 * 3600)
    w.clip.file("stopped", level)
    w.spot.set_pip(ILK, 3 * WAD)
    w.now = START + 3601
    assert w.clip.get_status(1, w.now)[0]  # redo possible if the breaker were not set
    with pytest.raises(Revert, match="Clipper/stopped-incorrect"):
        w.clip.redo(1, ME, w.now)


# --- yank and the active list ---------------------------------------------------------------------------------------


def test_clipper_yank(t: World) -> None:
    pre = t.vat.gem(ILK, ME)
    orig_lot = t.sale(1)[2]
    t.clip.yank(1, ME)
    _assert_auction_over(t)
    assert t.vat.gem(ILK, ME) == pre + orig_lot


def test_yank_not_running(w: World) -> None:
    with pytest.raises(Revert, match="Clipper/not-running-auction"):
        w.clip.yank(7, ME)


def test_remove_id(w: World) -> None:
    # clip.t.sol test_remove_id uses a PublicClip exposing _remove; here yank (which calls _remove) plays that role,
    # over five auctions of five vaults.
    w.spot.set_pip(ILK, 5 * WAD)
    w.spot.poke(ILK)
    owners = [f"0xu{i}" for i in range(5)]
    for u in owners:
        w.vat.slip(ILK, u, 40 * WAD)
        w.vat.frob(ILK, u, u, u, 40 * WAD, 100 * WAD)
    w.spot.set_pip(ILK, 4 * WAD)
    w.spot.poke(ILK)
    for u in owners:
        w.dog.bark(ILK, u, ME, w.now)
    assert w.clip.count() == 5
    assert w.clip.list() == [1, 2, 3, 4, 5]
    w.clip.yank(3, ME)
    assert w.clip.count() == 4
    assert w.clip.list() == [1, 2, 5, 4]  # swapped last for middle
    assert w.clip.sales(5).pos == 2
    assert w.clip.sales(4).pos == 3
    w.clip.yank(4, ME)
    assert w.clip.count() == 3
    assert w.clip.list() == [1, 2, 5]
    assert [w.clip.sales(i).pos for i in (1, 2, 5)] == [0, 1, 2]
    assert w.clip.sales(4).pos == 0  # deleted
    assert w.dog.Dirt == 3 * rad(110 * WAD)


def test_status_without_calc_or_before_start(w: World) -> None:
    # An unset calc is address(0) on chain, and a call to it reverts; so does now < tic (sub underflow).
    with pytest.raises(Revert, match=re.escape("(no reason: calc not set)")):
        w.clip.status(START, RAY, START)
    w.clip.file("calc", LinearDecrease(tau=3600))
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 underflow)")):
        w.clip.status(START, RAY, START - 1)
    assert w.clip.status(START, RAY, START + 1800) == (True, RAY // 2)  # tail = 0: any age needs a reset
    w.clip.file("tail", 3600)
    assert w.clip.status(START, RAY, START + 1800) == (False, RAY // 2)
    w.clip.file("cusp", RAY // 2 + 1)  # the price has fallen to exactly half, below this cusp
    assert w.clip.status(START, RAY, START + 1800) == (True, RAY // 2)


def test_file_calc_must_be_an_abacus(w: World) -> None:
    with pytest.raises(
        ParameterError, match=re.escape("must have a price(top, dur) method when what='calc'")
    ):
        w.clip.file("calc", 5)
