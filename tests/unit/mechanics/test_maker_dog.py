"""Dog.bark against dss src/test/dog.t.sol (transcribed scenario by scenario), plus every Dog revert."""

from __future__ import annotations

import re

import pytest

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.maker import RAD, RAY, WAD, Clipper, Dog, Spotter, Vat

ILK = "gold"
USR = "0x1337"
VOW = "vow"
THOUSAND = 10**3
NOW = 604411200


class World:
    """dog.t.sol setUp: spot = 1000, dust = 100 DAI, chop = 1.1, Hole = hole = 10k DAI."""

    def __init__(self) -> None:
        self.vat = Vat()
        self.vat.init(ILK)
        self.vat.file("spot", THOUSAND * RAY, ilk=ILK)
        self.vat.file("dust", 100 * RAD, ilk=ILK)
        self.dog = Dog(self.vat, vow=VOW)
        self.spotter = Spotter(self.vat)
        # dog.t.sol uses a ClipperMock whose kick accepts anything; a real Clipper needs an oracle value.
        self.spotter.set_pip(ILK, WAD)
        self.clip = Clipper(self.vat, self.spotter, self.dog, ILK, vow=VOW)
        self.dog.file("chop", 11 * WAD // 10, ilk=ILK)
        self.dog.file("clip", self.clip, ilk=ILK)
        self.dog.file("Hole", 10 * THOUSAND * RAD)
        self.dog.file("hole", 10 * THOUSAND * RAD, ilk=ILK)

    def set_urn(self, ink: int, art: int) -> None:
        # dog.t.sol setUrn: slip the gem, suck the debt to the vow, grab it into the urn.
        before = self.vat.urns(ILK, USR)
        self.vat.slip(ILK, USR, ink)
        rate = self.vat.ilks(ILK).rate
        self.vat.suck(VOW, VOW, art * rate)
        self.vat.grab(ILK, USR, USR, VOW, ink, art)
        urn = self.vat.urns(ILK, USR)
        assert (urn.ink, urn.art) == (before.ink + ink, before.art + art)

    def is_dusty(self) -> bool:
        ilk = self.vat.ilks(ILK)
        due = self.vat.urns(ILK, USR).art * ilk.rate
        return 0 < due < ilk.dust

    def bark(self) -> int:
        return self.dog.bark(ILK, USR, "keeper", NOW)


@pytest.fixture
def w() -> World:
    return World()


def test_file_chop(w: World) -> None:
    w.dog.file("chop", WAD, ilk=ILK)
    w.dog.file("chop", WAD * 113 // 100, ilk=ILK)
    assert w.dog.chop(ILK) == WAD * 113 // 100


@pytest.mark.parametrize("chop", [WAD - 1, 0])
def test_file_chop_lt_wad_reverts(w: World, chop: int) -> None:
    with pytest.raises(Revert, match="Dog/file-chop-lt-WAD"):
        w.dog.file("chop", chop, ilk=ILK)


def test_file_clip_wrong_ilk_reverts(w: World) -> None:
    with pytest.raises(Revert, match=re.escape("Dog/file-ilk-neq-clip.ilk")):
        w.dog.file("clip", w.clip, ilk="mismatched_ilk")


def test_file_unrecognized_param_reverts(w: World) -> None:
    with pytest.raises(Revert, match="Dog/file-unrecognized-param"):
        w.dog.file("hole", 1)  # global "hole" does not exist, only "Hole"
    with pytest.raises(Revert, match="Dog/file-unrecognized-param"):
        w.dog.file("tail", 1, ilk=ILK)


def test_file_bad_input(w: World) -> None:
    with pytest.raises(ParameterError, match=r"The 'data' parameter of Dog\.file must be an int in"):
        w.dog.file("Hole", -1)
    with pytest.raises(ParameterError, match="must be a Clipper when what='clip'"):
        w.dog.file("clip", 3, ilk=ILK)


def test_bark_basic(w: World) -> None:
    w.set_urn(WAD, 2 * THOUSAND * WAD)
    w.bark()
    urn = w.vat.urns(ILK, USR)
    assert (urn.ink, urn.art) == (0, 0)


def test_bark_not_unsafe(w: World) -> None:
    w.set_urn(WAD, 500 * WAD)
    with pytest.raises(Revert, match="Dog/not-unsafe"):
        w.bark()


def test_bark_zero_spot_is_not_unsafe(w: World) -> None:
    w.set_urn(WAD, 2 * THOUSAND * WAD)
    w.vat.file("spot", 0, ilk=ILK)
    with pytest.raises(Revert, match="Dog/not-unsafe"):
        w.bark()


def test_bark_dusty_vault(w: World) -> None:
    # "dog.bark will liquidate vaults even if they are dusty"
    dust = 200
    w.vat.file("dust", dust * RAD, ilk=ILK)
    w.set_urn(1, (dust // 2) * WAD)
    assert w.is_dusty()
    w.bark()


def test_bark_partial_liquidation_dirt_exceeds_hole_to_avoid_dusty_remnant(w: World) -> None:
    dust, hole = 200, 5 * THOUSAND
    w.vat.file("dust", dust * RAD, ilk=ILK)
    w.dog.file("hole", hole * RAD, ilk=ILK)
    chop = w.dog.ilks(ILK).chop
    art_start = hole * WAD * WAD // chop + dust * WAD - 1
    w.set_urn(WAD, art_start)
    w.bark()
    assert not w.is_dusty()
    assert w.vat.urns(ILK, USR).art == 0
    dirt = w.dog.ilks(ILK).dirt
    assert dirt > hole * RAD
    assert dirt == art_start * RAY * chop // WAD


def test_bark_partial_liquidation_dirt_does_not_exceed_hole_if_remnant_is_nondusty(w: World) -> None:
    dust, hole = 200, 5 * THOUSAND
    w.vat.file("dust", dust * RAD, ilk=ILK)
    w.dog.file("hole", hole * RAD, ilk=ILK)
    chop = w.dog.ilks(ILK).chop
    w.set_urn(WAD, hole * WAD * WAD // chop + dust * WAD)
    w.bark()
    assert not w.is_dusty()
    assert w.vat.urns(ILK, USR).art == dust * WAD
    dirt = w.dog.ilks(ILK).dirt
    assert dirt <= hole * RAD
    assert dirt == hole * RAD * WAD // RAY // chop * RAY * chop // WAD


def test_bark_partial_liquidation_Dirt_exceeds_Hole_to_avoid_dusty_remnant(w: World) -> None:
    dust, Hole = 200, 5 * THOUSAND
    w.vat.file("dust", dust * RAD, ilk=ILK)
    w.dog.file("Hole", Hole * RAD)
    chop = w.dog.ilks(ILK).chop
    art_start = Hole * WAD * WAD // chop + dust * WAD - 1
    w.set_urn(WAD, art_start)
    w.bark()
    assert not w.is_dusty()
    assert w.vat.urns(ILK, USR).art == 0
    assert w.dog.Dirt > Hole * RAD
    assert w.dog.Dirt == art_start * RAY * chop // WAD


def test_bark_partial_liquidation_Dirt_does_not_exceed_Hole_if_remnant_is_nondusty(w: World) -> None:
    dust, Hole = 200, 5 * THOUSAND
    w.vat.file("dust", dust * RAD, ilk=ILK)
    w.dog.file("Hole", Hole * RAD)
    chop = w.dog.ilks(ILK).chop
    w.set_urn(WAD, Hole * WAD * WAD // chop + dust * WAD)
    w.bark()
    assert not w.is_dusty()
    assert w.vat.urns(ILK, USR).art == dust * WAD
    assert w.dog.Dirt <= Hole * RAD
    assert w.dog.Dirt == Hole * RAD * WAD // RAY // chop * RAY * chop // WAD


def test_bark_dusty_vault_dusty_room(w: World) -> None:
    # "A previous version reverted if room was dusty, even if the Vault being liquidated was also dusty and would
    # fit in the remaining hole/Hole room."
    CHOP = 110 * WAD // 100
    w.dog.file("chop", CHOP, ilk=ILK)
    ROOM = 200
    HOLE = 33 * THOUSAND + ROOM
    w.dog.file("Hole", HOLE * RAD)
    w.dog.file("hole", HOLE * RAD, ilk=ILK)
    w.vat.fold(ILK, VOW, 5 * RAY // 10)
    rate = w.vat.ilks(ILK).rate
    assert rate == 15 * RAY // 10

    w.set_urn(WAD, (HOLE - ROOM) * RAD // rate * WAD // CHOP)
    w.bark()
    assert HOLE * RAD - w.dog.Dirt == ROOM * RAD
    assert HOLE * RAD - w.dog.ilks(ILK).dirt == ROOM * RAD

    DUST_1 = 30
    w.vat.file("dust", DUST_1 * RAD, ilk=ILK)
    w.set_urn(WAD // 10**4, DUST_1 * RAD // rate)
    DUST_2 = 1500
    w.vat.file("dust", DUST_2 * RAD, ilk=ILK)
    assert w.is_dusty()
    assert w.dog.Hole - w.dog.Dirt < DUST_2 * RAD * CHOP // WAD
    milk = w.dog.ilks(ILK)
    assert milk.hole - milk.dirt < DUST_2 * RAD * CHOP // WAD
    assert DUST_1 * RAD * CHOP // WAD < ROOM * RAD
    w.bark()  # should still succeed


@pytest.mark.parametrize("limit", ["hole", "Hole"])
def test_bark_do_not_create_dusty_auction(w: World, limit: str) -> None:
    # dog.t.sol test_bark_do_not_create_dusty_auction_hole / _Hole
    dust, hole = 300, 3 * THOUSAND
    w.vat.file("dust", dust * RAD, ilk=ILK)
    if limit == "hole":
        w.dog.file("hole", hole * RAD, ilk=ILK)
    else:
        w.dog.file("Hole", hole * RAD)
    w.vat.fold(ILK, VOW, 5 * RAY // 10)
    rate = w.vat.ilks(ILK).rate
    assert rate == 15 * RAY // 10
    chop = w.dog.ilks(ILK).chop
    w.set_urn(WAD, (hole - dust // 2) * RAD // rate * WAD // chop)
    w.bark()

    dirt = w.dog.ilks(ILK).dirt if limit == "hole" else w.dog.Dirt
    room = hole * RAD - dirt
    dart = room * WAD // rate // chop
    assert dart * rate < dust * RAD

    w.set_urn(WAD, hole * WAD * WAD // chop)
    with pytest.raises(Revert, match="Dog/dusty-auction-from-partial-liquidation"):
        w.bark()


def test_bark_liquidation_limit_hit(w: World) -> None:
    w.dog.file("Hole", 0)
    w.set_urn(WAD, 2 * THOUSAND * WAD)
    with pytest.raises(Revert, match="Dog/liquidation-limit-hit"):
        w.bark()


def test_bark_not_live(w: World) -> None:
    w.set_urn(WAD, 2 * THOUSAND * WAD)
    w.dog.cage()
    with pytest.raises(Revert, match="Dog/not-live"):
        w.bark()


def test_bark_null_auction(w: World) -> None:
    # Room for a tenth of the debt of a 1-wei-collateral vault: dink = 1 * dart / art rounds down to 0.
    w.vat.file("dust", 0, ilk=ILK)
    w.set_urn(1, 2 * THOUSAND * WAD)
    w.dog.file("hole", 220 * RAD, ilk=ILK)  # room * WAD / rate / chop = 200 DAI of the 2000
    with pytest.raises(Revert, match="Dog/null-auction"):
        w.bark()


def test_bark_overflow(w: World) -> None:
    # rate = 1 wei, a debt above 2**255 (two grabs, each below the int256 limit) and a dust so large that the
    # whole vault is taken: dart no longer fits in int256.
    w.vat.fold(ILK, VOW, 1 - RAY)
    w.vat.file("spot", 1, ilk=ILK)
    w.vat.file("dust", 2**256 - 1, ilk=ILK)
    w.dog.file("chop", WAD, ilk=ILK)
    w.set_urn(1, 2**255 - 1)
    w.set_urn(0, 2)
    with pytest.raises(Revert, match="Dog/overflow"):
        w.bark()


def test_bark_reverting_kick_rolls_back(w: World) -> None:
    # A revert in Clipper.kick undoes the grab and the Dirt update, as the reverted transaction would.
    w.set_urn(WAD, 2 * THOUSAND * WAD)
    w.clip.file("stopped", 1)
    with pytest.raises(Revert, match="Clipper/stopped-incorrect"):
        w.bark()
    urn = w.vat.urns(ILK, USR)
    assert (urn.ink, urn.art) == (WAD, 2 * THOUSAND * WAD)
    assert w.dog.Dirt == 0
    assert w.dog.ilks(ILK).dirt == 0
    assert w.vat.gem(ILK, w.clip.address) == 0
    assert w.clip.kicks == 0


def test_digs_underflow_reverts(w: World) -> None:
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 underflow)")):
        w.dog.digs(ILK, 1)


def test_bark_hand_calculation(w: World) -> None:
    # 1 ETH at spot 1000 against 2000 DAI of debt, rate 1, chop 1.1: the whole vault goes to auction,
    # tab = 2000 * 1.1 = 2200 DAI, the vow books 2000 DAI of sin.
    w.set_urn(WAD, 2 * THOUSAND * WAD)
    sin_before = w.vat.sin(VOW)
    assert w.bark() == 1
    sale = w.clip.sales(1)
    assert (sale.tab, sale.lot, sale.usr, sale.tic) == (2200 * RAD, WAD, USR, NOW)
    assert w.vat.gem(ILK, w.clip.address) == WAD
    assert w.vat.sin(VOW) - sin_before == 2000 * RAD
    assert w.dog.Dirt == w.dog.ilks(ILK).dirt == 2200 * RAD


def test_bark_without_clip_reverts() -> None:
    vat = Vat()
    vat.init(ILK)
    vat.file("spot", THOUSAND * RAY, ilk=ILK)
    dog = Dog(vat, vow=VOW)
    dog.file("chop", WAD, ilk=ILK)
    dog.file("Hole", RAD * 10**6)
    dog.file("hole", RAD * 10**6, ilk=ILK)
    vat.slip(ILK, USR, WAD)
    vat.suck(VOW, VOW, 2 * THOUSAND * RAD)
    vat.grab(ILK, USR, USR, VOW, WAD, 2 * THOUSAND * WAD)
    with pytest.raises(Revert, match=re.escape("(no reason: ilk has no clip)")):
        dog.bark(ILK, USR, "keeper", NOW)
    assert vat.urns(ILK, USR).art == 2 * THOUSAND * WAD
