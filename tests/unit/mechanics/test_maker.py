"""Maker fixed-point math and abacus price curves against dss's own tests (abaci.t.sol, jug.t.sol) and hand values."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings, strategies as st

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.maker import (
    MAX_UINT256,
    RAD,
    RAY,
    WAD,
    ExponentialDecrease,
    LinearDecrease,
    Spotter,
    StairstepExponentialDecrease,
    Urn,
    Vat,
    rdiv,
    rmul,
    rpow,
    wmul,
)

# --- wmul / rmul / rdiv: hand calculations, rounding down ---------------------------------------------------------


def test_wmul_rounds_down() -> None:
    assert wmul(3, WAD // 2) == 1  # 1.5 wei -> 1
    assert wmul(110 * RAD, 2 * WAD // 100) == 22 * RAD // 10  # 2% of 110 DAI = 2.2 DAI


def test_rmul_rounds_down() -> None:
    assert rmul(3, RAY // 2) == 1
    assert rmul(4 * RAY, 125 * RAY // 100) == 5 * RAY  # $4 * 1.25 buf = $5


def test_rdiv_rounds_down() -> None:
    assert rdiv(2, 3) == 666666666666666666666666666
    assert rdiv(4 * 10**27, RAY) == 4 * RAY


def test_mul_overflow_reverts_without_reason() -> None:
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 overflow)")):
        rmul(MAX_UINT256, 2)
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 overflow)")):
        wmul(2**200, 2**60)
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 overflow)")):
        rdiv(2**200, 1)


def test_rdiv_by_zero_reverts() -> None:
    with pytest.raises(Revert, match=re.escape("(no reason: division by zero)")):
        rdiv(1, 0)


@pytest.mark.parametrize(
    ("func", "args", "name"),
    [
        (rmul, (-1, 1), "x"),
        (wmul, (1, 2**256), "y"),
        (rdiv, (1.5, 1), "x"),
        (rpow, (RAY, True, RAY), "n"),
        (rpow, (RAY, 2, 0), "b"),
    ],
)
def test_bad_input_is_parameter_error(func, args, name) -> None:
    with pytest.raises(
        ParameterError, match=rf"The '{name}' parameter of {func.__name__} must be an int in "
    ):
        func(*args)


# --- rpow ---------------------------------------------------------------------------------------------------------


def test_rpow_edge_cases() -> None:
    assert rpow(0, 0, RAY) == RAY
    assert rpow(0, 5, RAY) == 0
    assert rpow(7 * RAY, 1, RAY) == 7 * RAY
    assert rpow(2 * RAY, 10, RAY) == 1024 * RAY
    # Round half up at each step: (1.5 wei-units)^2 in base 2 = 2.25 -> 2 (1.5 = 3/2 with b=2).
    assert rpow(3, 2, 2) == (3 * 3 + 1) // 2


def test_rpow_overflow_reverts() -> None:
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 overflow)")):
        rpow(2**128, 2, RAY)
    # x < 2**128 is squared safely even if the result is huge; only the product z*x overflows here.
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 overflow)")):
        rpow(2**127, 3, 1)


def test_rpow_jug_t_sol() -> None:
    # dss src/test/jug.t.sol test_rpow: "python calc = 2.397991232255757e27", compared to 10 digits.
    result = rpow(1000234891009084238901289093, 3724, 10**27)
    assert result // 10**17 == 2397991232255757 * 10**12 // 10**17


@pytest.mark.parametrize(
    ("duty", "days", "expected_wad"),
    [
        # dss src/test/jug.t.sol test_drip_1d / _2d / _3d: 100 DAI of debt at 5%/day
        (1000000564701133626865910626, 1, 5 * WAD),
        (1000000564701133626865910626, 2, 10250000000000000000),  # 10.25 ether
        (1000000564701133626865910626, 3, 15762500000000000000),  # 15.7625 ether
    ],
)
def test_jug_drip_compounding(duty: int, days: int, expected_wad: int) -> None:
    # Jug.drip: rate = rmul(rpow(duty, now - rho, RAY), prev); vat.fold credits Art * (rate - prev) to the vow.
    vat = Vat()
    vat.init("i")
    vat.file("Line", 1000 * RAD)
    vat.file("line", 1000 * RAD, ilk="i")
    vat.file("spot", RAY, ilk="i")
    vat.slip("i", "me", 10**6 * WAD)
    vat.frob("i", "me", "me", "me", 10**6 * WAD, 100 * WAD)
    prev = vat.ilks("i").rate
    rate = rmul(rpow(duty, days * 86400, RAY), prev)
    vat.fold("i", "ali", rate - prev)
    assert vat.dai("ali") // RAY == expected_wad  # jug.t.sol's wad(rad) = rad / 1e27


def test_jug_drip_negative_rate() -> None:
    # dss src/test/jug.t.sol test_drip_negative_3d: -2.5%/day for 3 days leaves 92.6859375 of 100 DAI with ali.
    vat = Vat()
    vat.init("i")
    vat.file("Line", 1000 * RAD)
    vat.file("line", 1000 * RAD, ilk="i")
    vat.file("spot", RAY, ilk="i")
    vat.slip("i", "me", 10**6 * WAD)
    vat.frob("i", "me", "me", "me", 10**6 * WAD, 100 * WAD)
    vat.move("me", "ali", 100 * RAD)
    prev = vat.ilks("i").rate
    rate = rmul(rpow(999999706969857929985428567, 3 * 86400, RAY), prev)
    vat.fold("i", "ali", rate - prev)
    assert vat.dai("ali") // RAY == 92685937500000000000


# --- abaci.t.sol --------------------------------------------------------------------------------------------------


def test_linear_decrease_abaci_t_sol() -> None:
    # dss src/test/abaci.t.sol test_linear_decrease: tau = 1h, top = 1000, checked every 6 minutes.
    calc = LinearDecrease(tau=3600)
    top = 1000 * RAY
    for i in range(10):
        assert calc.price(top, 360 * i) == (1000 - 100 * i) * RAY
    assert calc.price(top, 3600) == 0
    assert calc.price(top, 10**9) == 0


def test_linear_decrease_rounds_down() -> None:
    # tau = 3: after 1 s the factor is floor(2 * RAY / 3), then rmul floors again.
    assert LinearDecrease(tau=3).price(3, 1) == 1
    assert LinearDecrease(tau=3).price(RAY, 1) == 2 * RAY // 3
    assert LinearDecrease(tau=0).price(RAY, 0) == 0


@pytest.mark.parametrize(
    ("top", "tolerance"),
    [
        (50000000 * RAY, 100000000),  # "Extreme high collateral price ($50m)"
        (RAY // 10000000, 1),  # "Extreme low collateral price ($0.0000001)"
    ],
)
@pytest.mark.parametrize(
    ("cut", "step"),
    # abaci.t.sol writes the cuts as RAY - 1.1234567890E27 / 100 and RAY - 2.1234567890E27 / 100.
    [
        (RAY - 11234567890 * 10**17 // 100, 1),  # 1.1234567890% every second
        (RAY - 21234567890 * 10**17 // 100, 1),  # 2.1234567890% every second
        (RAY - 11234567890 * 10**17 // 100, 5),
        (RAY - 21234567890 * 10**17 // 100, 5),
        (RAY - 11234567890 * 10**17 // 100, 300),
    ],
)
def test_stairstep_exp_decrease_abaci_t_sol(top: int, tolerance: int, cut: int, step: int) -> None:
    # dss src/test/abaci.t.sol test_stairstep_exp_decrease / checkExpDecrease: over 10 minutes, the price stays flat
    # between steps and drops by lastPrice * cut / RAY at each step, within the test's tolerance.
    calc = StairstepExponentialDecrease(step=step, cut=cut)
    price = calc.price(top, 0)
    assert price == top
    for i in range(1, 600):
        last_price = price
        price = calc.price(top, i)
        expected = last_price * cut // RAY if i % step == 0 else last_price
        assert abs(expected - price) <= tolerance


def test_continuous_exp_decrease_abaci_t_sol() -> None:
    # dss src/test/abaci.t.sol test_continuous_exp_decrease: cut ~= e^(ln(1/2)/900) halves the price every 900 s.
    calc = ExponentialDecrease(cut=999230132966 * 10**15)
    top = 4000 * RAY
    expected = top
    for i in range(5):
        assert abs(calc.price(top, i * 900) - expected) <= RAY // 1000
        expected //= 2


def test_abacus_cut_above_ray_reverts() -> None:
    # abaci.sol file("cut", ...) reverts with these reasons.
    with pytest.raises(Revert, match="StairstepExponentialDecrease/cut-gt-RAY"):
        StairstepExponentialDecrease(step=1, cut=RAY + 1)
    with pytest.raises(Revert, match="ExponentialDecrease/cut-gt-RAY"):
        ExponentialDecrease(cut=RAY + 1)


def test_stairstep_zero_step_reverts() -> None:
    with pytest.raises(Revert, match=re.escape("(no reason: division by zero)")):
        StairstepExponentialDecrease(step=0, cut=RAY // 2).price(RAY, 1)


def test_abacus_bad_input() -> None:
    with pytest.raises(ParameterError, match="The 'tau' parameter of LinearDecrease must be an int"):
        LinearDecrease(tau=-1)
    with pytest.raises(
        ParameterError, match=r"The 'dur' parameter of ExponentialDecrease\.price must be an int"
    ):
        ExponentialDecrease(cut=RAY).price(RAY, -5)


# --- property: every abacus is non-increasing in time -------------------------------------------------------------

_tops = st.integers(min_value=0, max_value=10**12 * RAY)
_durs = st.integers(min_value=0, max_value=10**7)
_cuts = st.integers(min_value=0, max_value=RAY)


@settings(max_examples=60, deadline=None)
@given(top=_tops, tau=st.integers(min_value=0, max_value=10**7), d1=_durs, d2=_durs)
def test_linear_price_non_increasing(top: int, tau: int, d1: int, d2: int) -> None:
    calc = LinearDecrease(tau=tau)
    lo, hi = sorted((d1, d2))
    assert calc.price(top, hi) <= calc.price(top, lo) <= top


@settings(max_examples=60, deadline=None)
@given(top=_tops, cut=_cuts, step=st.integers(min_value=1, max_value=3600), d1=_durs, d2=_durs)
def test_stairstep_price_non_increasing(top: int, cut: int, step: int, d1: int, d2: int) -> None:
    calc = StairstepExponentialDecrease(step=step, cut=cut)
    lo, hi = sorted((d1, d2))
    assert calc.price(top, hi) <= calc.price(top, lo) <= top


@settings(max_examples=60, deadline=None)
@given(top=_tops, cut=_cuts, d1=_durs, d2=_durs)
def test_exponential_price_non_increasing(top: int, cut: int, d1: int, d2: int) -> None:
    calc = ExponentialDecrease(cut=cut)
    lo, hi = sorted((d1, d2))
    assert calc.price(top, hi) <= calc.price(top, lo) <= top


# --- Vat and Spotter: hand-checked accounting and every revert -----------------------------------------------------


def _vat() -> Vat:
    vat = Vat()
    vat.init("gold")
    vat.file("Line", 1000 * RAD)
    vat.file("line", 1000 * RAD, ilk="gold")
    vat.file("spot", RAY, ilk="gold")  # $1 of debt per unit of collateral
    vat.file("dust", 10 * RAD, ilk="gold")
    vat.slip("gold", "me", 100 * WAD)
    return vat


def test_vat_frob_by_hand() -> None:
    vat = _vat()
    vat.frob("gold", "me", "me", "me", 50 * WAD, 20 * WAD)
    assert vat.urns("gold", "me") == Urn(ink=50 * WAD, art=20 * WAD)
    assert (vat.gem("gold", "me"), vat.dai("me")) == (50 * WAD, 20 * RAD)
    assert (vat.ilks("gold").Art, vat.debt) == (20 * WAD, 20 * RAD)
    # rate 1.5: 10 more art is 15 DAI of debt
    vat.fold("gold", "vow", RAY // 2)
    assert vat.dai("vow") == 10 * RAD  # 20 art * 0.5
    vat.frob("gold", "me", "me", "me", 0, 10 * WAD)
    assert vat.dai("me") == 35 * RAD
    # repaying is allowed even when unsafe
    vat.file("spot", RAY // 100, ilk="gold")
    vat.frob("gold", "me", "me", "me", 0, -10 * WAD)
    assert vat.urns("gold", "me").art == 20 * WAD


def test_vat_grab_and_suck_by_hand() -> None:
    vat = _vat()
    vat.frob("gold", "me", "me", "me", 50 * WAD, 20 * WAD)
    vat.grab("gold", "me", "clip", "vow", -50 * WAD, -20 * WAD)
    assert vat.urns("gold", "me") == Urn()
    assert (vat.gem("gold", "clip"), vat.sin("vow"), vat.vice) == (50 * WAD, 20 * RAD, 20 * RAD)
    vat.suck("vow", "kpr", 5 * RAD)
    assert (vat.dai("kpr"), vat.sin("vow"), vat.vice, vat.debt) == (5 * RAD, 25 * RAD, 25 * RAD, 25 * RAD)


@pytest.mark.parametrize(
    ("dink", "dart", "reason"),
    [
        (100 * WAD, 1001 * WAD, "Vat/ceiling-exceeded"),
        (50 * WAD, 60 * WAD, "Vat/not-safe"),
        (50 * WAD, 5 * WAD, "Vat/dust"),
        (101 * WAD, 20 * WAD, "(no reason: uint256 underflow)"),  # more gem than "me" has
    ],
)
def test_vat_frob_reverts(dink: int, dart: int, reason: str) -> None:
    vat = _vat()
    with pytest.raises(Revert, match=re.escape(reason)):
        vat.frob("gold", "me", "me", "me", dink, dart)
    assert (vat.urns("gold", "me"), vat.debt, vat.gem("gold", "me")) == (Urn(), 0, 100 * WAD)  # rolled back


def test_vat_admin_reverts() -> None:
    vat = _vat()
    with pytest.raises(Revert, match="Vat/ilk-already-init"):
        vat.init("gold")
    with pytest.raises(Revert, match="Vat/file-unrecognized-param"):
        vat.file("line", 1)
    with pytest.raises(Revert, match="Vat/file-unrecognized-param"):
        vat.file("Line", 1, ilk="gold")
    with pytest.raises(Revert, match="Vat/ilk-not-init"):
        vat.frob("silver", "me", "me", "me", 0, 0)
    vat.cage()
    for call in (
        lambda: vat.file("Line", 1),
        lambda: vat.frob("gold", "me", "me", "me", 0, 0),
        lambda: vat.fold("gold", "vow", 1),
    ):
        with pytest.raises(Revert, match="Vat/not-live"):
            call()


def test_vat_move_and_flux_underflow() -> None:
    vat = _vat()
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 underflow)")):
        vat.move("me", "you", 1)
    with pytest.raises(Revert, match=re.escape("(no reason: uint256 underflow)")):
        vat.flux("gold", "me", "you", 100 * WAD + 1)
    assert vat.gem("gold", "you") == 0


def test_vat_bad_input() -> None:
    with pytest.raises(ParameterError, match=re.escape("The 'dink' parameter of Vat.frob must be an int in")):
        _vat().frob("gold", "me", "me", "me", 2**255, 0)


def test_spotter_poke_by_hand() -> None:
    # spot.sol poke: spot = val * 1e9 / par / mat; $5 with a 200% ratio is $2.50 of debt per unit.
    vat = _vat()
    spotter = Spotter(vat)
    spotter.set_pip("gold", 5 * WAD)
    spotter.file("mat", 2 * RAY, ilk="gold")
    assert spotter.poke("gold") == 25 * RAY // 10
    spotter.file("par", 2 * RAY)  # a dai worth $2 halves the spot
    assert spotter.poke("gold") == 125 * RAY // 100
    spotter.set_pip("gold", 5 * WAD, has=False)
    assert spotter.poke("gold") == 0  # an oracle without a value zeroes the spot
    assert vat.ilks("gold").spot == 0


def test_spotter_reverts() -> None:
    spotter = Spotter(_vat())
    with pytest.raises(Revert, match="Spotter/file-unrecognized-param"):
        spotter.file("mat", RAY)
    with pytest.raises(Revert, match="Spotter/file-unrecognized-param"):
        spotter.file("par", RAY, ilk="gold")
    spotter.set_pip("gold", WAD)
    with pytest.raises(Revert, match=re.escape("(no reason: division by zero)")):
        spotter.poke("gold")  # mat was never set
    spotter.cage()
    with pytest.raises(Revert, match="Spotter/not-live"):
        spotter.file("par", RAY)
