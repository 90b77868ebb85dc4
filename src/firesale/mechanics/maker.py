"""Maker (dss) Liquidations 2.0: fixed-point math, the abacus price curves, and a minimal Vat/Spotter/Dog/Clipper.

Everything here follows makerdao/dss at commit ``fa4f6630afb0624d04a003e920b0d71a00331d98`` (whose liquidation
logic is unchanged since the Liquidations 2.0 release, commit ``c8d4c80``): ``src/abaci.sol``, ``src/dog.sol``,
``src/clip.sol``, ``src/vat.sol``, ``src/spot.sol`` and ``src/jug.sol`` (for ``rpow``). Amounts are Python ints in the
contracts' units: WAD (1e18), RAY (1e27), RAD (1e45), seconds.

The contracts are modelled as a faithful but minimal state machine: no authorization (``wards``, ``wish``/``can``),
no events, no reentrancy lock, no flash-loan callback, no Vow accounting beyond the Vat's ``sin``. The block timestamp
is the ``now`` argument of every call that reads it. A call that reverts leaves every contract it touched unchanged,
as a reverted transaction would.

Reverts raise :class:`firesale.mechanics.Revert` with the contract's reason string (``"Dog/not-unsafe"``,
``"Clipper/needs-reset"``, ...). Where the contract reverts without a reason (a failed ``require`` without message,
an overflow check in ``add``/``mul``, a division by zero), the reason is a parenthesised description that starts with
``"(no reason"``, e.g. ``"(no reason: uint256 overflow)"``.

Addresses are strings; :data:`ZERO_ADDRESS` plays ``address(0)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Final, Protocol

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert

__all__ = [
    "BLN",
    "MAX_UINT256",
    "RAD",
    "RAY",
    "WAD",
    "ZERO_ADDRESS",
    "Abacus",
    "Bark",
    "Clipper",
    "Dog",
    "DogIlk",
    "ExponentialDecrease",
    "LinearDecrease",
    "Sale",
    "Spotter",
    "SpotterIlk",
    "StairstepExponentialDecrease",
    "Urn",
    "Vat",
    "VatIlk",
    "rdiv",
    "rmul",
    "rpow",
    "wmul",
]

WAD: Final = 10**18
RAY: Final = 10**27
RAD: Final = 10**45
BLN: Final = 10**9
MAX_UINT256: Final = 2**256 - 1
ZERO_ADDRESS: Final = "0x0000000000000000000000000000000000000000"

_OVERFLOW: Final = "(no reason: uint256 overflow)"
_UNDERFLOW: Final = "(no reason: uint256 underflow)"
_DIV_ZERO: Final = "(no reason: division by zero)"
_INT_MIN: Final = -(2**255)
_INT_MAX: Final = 2**255 - 1


# --- input checks -----------------------------------------------------------------------------------------------


def _uint(value: object, name: str, where: str, bits: int = 256) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
        raise ParameterError(
            f"The {name!r} parameter of {where} must be an int in [0, 2**{bits} - 1]. Got {value!r} instead."
        )
    return value


def _int(value: object, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not _INT_MIN <= value <= _INT_MAX:
        raise ParameterError(
            f"The {name!r} parameter of {where} must be an int in [-2**255, 2**255 - 1]. Got {value!r} instead."
        )
    return value


def _address(value: object, name: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ParameterError(
            f"The {name!r} parameter of {where} must be a non-empty str. Got {value!r} instead."
        )
    return value


# --- checked uint256 arithmetic (the contracts' add/sub/mul and Solidity's `/`) -----------------------------------


def _add(x: int, y: int) -> int:
    z = x + y
    if z > MAX_UINT256:
        raise Revert(_OVERFLOW)
    return z


def _sub(x: int, y: int) -> int:
    if y > x:
        raise Revert(_UNDERFLOW)
    return x - y


def _mul(x: int, y: int) -> int:
    z = x * y
    if z > MAX_UINT256:
        raise Revert(_OVERFLOW)
    return z


def _div(x: int, y: int) -> int:
    if y == 0:
        raise Revert(_DIV_ZERO)
    return x // y


def _add_signed(x: int, y: int) -> int:
    # vat.sol `_add(uint, int)`: wraps, then requires the result to move in the direction of y.
    z = x + y
    if not 0 <= z <= MAX_UINT256:
        raise Revert(_OVERFLOW if y > 0 else _UNDERFLOW)
    return z


def _mul_signed(x: int, y: int) -> int:
    # vat.sol `_mul(uint, int)`: int(x) must be non-negative and the int256 product must not overflow.
    if x > _INT_MAX:
        raise Revert(_OVERFLOW)
    z = x * y
    if not _INT_MIN <= z <= _INT_MAX:
        raise Revert(_OVERFLOW)
    return z


# --- public fixed-point helpers -----------------------------------------------------------------------------------


def wmul(x: int, y: int) -> int:
    """Multiply by a WAD: ``mul(x, y) / WAD``, rounded down.

    Parameters
    ----------
    x, y : int
        uint256 operands; ``y`` is a WAD (1e18 = 1.0).

    Returns
    -------
    int
        ``floor(x * y / 1e18)``.

    Raises
    ------
    Revert
        ``"(no reason: uint256 overflow)"`` if ``x * y`` overflows uint256.

    References
    ----------
    makerdao/dss ``src/clip.sol`` (``wmul``), commit fa4f6630.

    Examples
    --------
    >>> wmul(110 * RAD, 2 * WAD // 100) // RAD
    2
    """
    return _mul(_uint(x, "x", "wmul"), _uint(y, "y", "wmul")) // WAD


def rmul(x: int, y: int) -> int:
    """Multiply by a RAY: ``mul(x, y) / RAY``, rounded down.

    Parameters
    ----------
    x, y : int
        uint256 operands; ``y`` is a RAY (1e27 = 1.0).

    Returns
    -------
    int
        ``floor(x * y / 1e27)``.

    Raises
    ------
    Revert
        ``"(no reason: uint256 overflow)"`` if ``x * y`` overflows uint256.

    References
    ----------
    makerdao/dss ``src/clip.sol`` and ``src/abaci.sol`` (``rmul``), commit fa4f6630.

    Examples
    --------
    >>> rmul(4 * RAY, 125 * RAY // 100) == 5 * RAY
    True
    """
    return _mul(_uint(x, "x", "rmul"), _uint(y, "y", "rmul")) // RAY


def rdiv(x: int, y: int) -> int:
    """Divide giving a RAY: ``mul(x, RAY) / y``, rounded down.

    Parameters
    ----------
    x, y : int
        uint256 operands.

    Returns
    -------
    int
        ``floor(x * 1e27 / y)``.

    Raises
    ------
    Revert
        ``"(no reason: uint256 overflow)"`` if ``x * RAY`` overflows; ``"(no reason: division by zero)"`` if
        ``y == 0``.

    References
    ----------
    makerdao/dss ``src/clip.sol`` and ``src/spot.sol`` (``rdiv``), commit fa4f6630.

    Examples
    --------
    >>> rdiv(1, 3)
    333333333333333333333333333
    """
    return _div(_mul(_uint(x, "x", "rdiv"), RAY), _uint(y, "y", "rdiv"))


def rpow(x: int, n: int, b: int) -> int:
    """``x**n`` in fixed point with base ``b``, by repeated squaring, each product rounded half up.

    The assembly ``rpow`` of ``jug.sol`` and ``abaci.sol``: ``0**0 == b``, ``0**n == 0``, and every intermediate
    ``x*x`` and ``z*x`` is divided by ``b`` after adding ``b // 2`` (so rounding is to nearest, ties up).

    Parameters
    ----------
    x : int
        Base in units of ``b`` (uint256).
    n : int
        Integer exponent (uint256).
    b : int
        The fixed-point unit, e.g. ``RAY``; must be positive.

    Returns
    -------
    int
        The rounded power in units of ``b``.

    Raises
    ------
    Revert
        ``"(no reason: uint256 overflow)"`` when ``x >= 2**128`` must be squared or an intermediate product
        overflows, as the assembly's ``revert(0, 0)``.

    References
    ----------
    makerdao/dss ``src/jug.sol`` (``_rpow``) and ``src/abaci.sol`` (``rpow``), commit fa4f6630.

    Examples
    --------
    >>> rpow(2 * RAY, 10, RAY) == 1024 * RAY
    True
    >>> rpow(0, 0, RAY) == RAY
    True
    """
    _uint(x, "x", "rpow")
    _uint(n, "n", "rpow")
    _uint(b, "b", "rpow")
    if b == 0:
        raise ParameterError(
            f"The 'b' parameter of rpow must be an int in [1, 2**256 - 1]. Got {b!r} instead."
        )
    if n == 0:
        return b
    if x == 0:
        return 0
    z = x if n % 2 else b
    half = b // 2
    n //= 2
    while n:
        if x >> 128:
            raise Revert(_OVERFLOW)
        x = _add(x * x, half) // b
        if n % 2:
            z = _add(_mul(z, x), half) // b
        n //= 2
    return z


# --- abaci.sol ----------------------------------------------------------------------------------------------------


class Abacus(Protocol):
    """A Clipper price curve: ``price(top, dur)`` in RAY for an auction started at ``top`` ``dur`` seconds ago."""

    def price(self, top: int, dur: int) -> int: ...  # pragma: no cover


@dataclass(frozen=True)
class LinearDecrease:
    """Price falls linearly from ``top`` to zero over ``tau`` seconds.

    Parameters
    ----------
    tau : int
        Seconds after the auction start when the price reaches zero.

    References
    ----------
    makerdao/dss ``src/abaci.sol`` (``LinearDecrease``), commit fa4f6630.
    """

    tau: int

    def __post_init__(self) -> None:
        _uint(self.tau, "tau", "LinearDecrease")

    def price(self, top: int, dur: int) -> int:
        """Return ``rmul(top, mul(tau - dur, RAY) / tau)``, or 0 once ``dur >= tau``.

        Both divisions round down, so the price is never above the exact linear value.

        Parameters
        ----------
        top : int
            Starting price [ray].
        dur : int
            Seconds since the auction started.

        Returns
        -------
        int
            Current price [ray].

        Examples
        --------
        >>> LinearDecrease(tau=3600).price(1000 * RAY, 360) == 900 * RAY
        True
        """
        _uint(top, "top", "LinearDecrease.price")
        _uint(dur, "dur", "LinearDecrease.price")
        if dur >= self.tau:
            return 0
        return rmul(top, _mul(self.tau - dur, RAY) // self.tau)


@dataclass(frozen=True)
class StairstepExponentialDecrease:
    """Price multiplied by ``cut`` every ``step`` seconds: ``top * cut ** (dur // step)``.

    Parameters
    ----------
    step : int
        Seconds between price drops. A zero step makes ``price`` revert (division by zero), as on chain.
    cut : int
        Per-step multiplicative factor [ray], at most ``RAY``.

    Raises
    ------
    Revert
        ``"StairstepExponentialDecrease/cut-gt-RAY"`` if ``cut > RAY`` (the contract's ``file`` check).

    References
    ----------
    makerdao/dss ``src/abaci.sol`` (``StairstepExponentialDecrease``), commit fa4f6630.
    """

    step: int
    cut: int

    def __post_init__(self) -> None:
        _uint(self.step, "step", "StairstepExponentialDecrease")
        _uint(self.cut, "cut", "StairstepExponentialDecrease")
        if self.cut > RAY:
            raise Revert("StairstepExponentialDecrease/cut-gt-RAY")

    def price(self, top: int, dur: int) -> int:
        """Return ``rmul(top, rpow(cut, dur / step, RAY))``.

        ``rpow`` rounds each product to nearest and ``rmul`` rounds down.

        Parameters
        ----------
        top : int
            Starting price [ray].
        dur : int
            Seconds since the auction started.

        Returns
        -------
        int
            Current price [ray].

        Examples
        --------
        >>> StairstepExponentialDecrease(step=1, cut=RAY // 2).price(8 * RAY, 3) == RAY
        True
        """
        _uint(top, "top", "StairstepExponentialDecrease.price")
        _uint(dur, "dur", "StairstepExponentialDecrease.price")
        return rmul(top, rpow(self.cut, _div(dur, self.step), RAY))


@dataclass(frozen=True)
class ExponentialDecrease:
    """Price multiplied by ``cut`` every second: ``top * cut ** dur``.

    Parameters
    ----------
    cut : int
        Per-second multiplicative factor [ray], at most ``RAY``.

    Raises
    ------
    Revert
        ``"ExponentialDecrease/cut-gt-RAY"`` if ``cut > RAY`` (the contract's ``file`` check).

    References
    ----------
    makerdao/dss ``src/abaci.sol`` (``ExponentialDecrease``), commit fa4f6630.
    """

    cut: int

    def __post_init__(self) -> None:
        _uint(self.cut, "cut", "ExponentialDecrease")
        if self.cut > RAY:
            raise Revert("ExponentialDecrease/cut-gt-RAY")

    def price(self, top: int, dur: int) -> int:
        """Return ``rmul(top, rpow(cut, dur, RAY))`` (``rpow`` rounds to nearest, ``rmul`` down).

        Parameters
        ----------
        top : int
            Starting price [ray].
        dur : int
            Seconds since the auction started.

        Returns
        -------
        int
            Current price [ray].

        Examples
        --------
        >>> ExponentialDecrease(cut=RAY // 2).price(8 * RAY, 2) == 2 * RAY
        True
        """
        _uint(top, "top", "ExponentialDecrease.price")
        _uint(dur, "dur", "ExponentialDecrease.price")
        return rmul(top, rpow(self.cut, dur, RAY))


# --- transactions -------------------------------------------------------------------------------------------------


@contextmanager
def _atomic(*contracts: object) -> Iterator[None]:
    """Restore every listed contract's storage if the body raises, as a reverted transaction would."""
    saved = [
        (c, {k: (v.copy() if isinstance(v, dict | list) else v) for k, v in vars(c).items()})
        for c in contracts
    ]
    try:
        yield
    except Exception:
        for contract, state in saved:
            vars(contract).clear()
            vars(contract).update(state)
        raise


# --- vat.sol ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VatIlk:
    """``Vat.ilks(ilk)``: ``Art`` [wad], ``rate`` [ray], ``spot`` [ray], ``line`` [rad], ``dust`` [rad]."""

    Art: int = 0
    rate: int = 0
    spot: int = 0
    line: int = 0
    dust: int = 0


@dataclass(frozen=True)
class Urn:
    """``Vat.urns(ilk, usr)``: locked collateral ``ink`` [wad] and normalised debt ``art`` [wad]."""

    ink: int = 0
    art: int = 0


class Vat:
    """The CDP engine: collateral types, vaults, internal gem/dai/sin balances.

    A minimal model of makerdao/dss ``src/vat.sol`` (commit fa4f6630) without authorization: ``frob``, ``flux`` and
    ``move`` skip the ``wish``/``can`` consent checks, and the admin functions skip ``auth``. Getters are methods
    named after the contract's public mappings: ``ilks(ilk)``, ``urns(ilk, usr)``, ``gem(ilk, usr)``, ``dai(usr)``,
    ``sin(usr)``.

    Attributes
    ----------
    debt : int
        Total dai issued [rad].
    vice : int
        Total unbacked dai [rad].
    Line : int
        Total debt ceiling [rad].
    live : int
        1 while the system is live.
    """

    def __init__(self) -> None:
        self._ilks: dict[str, VatIlk] = {}
        self._urns: dict[tuple[str, str], Urn] = {}
        self._gem: dict[tuple[str, str], int] = {}
        self._dai: dict[str, int] = {}
        self._sin: dict[str, int] = {}
        self.debt = 0
        self.vice = 0
        self.Line = 0
        self.live = 1

    def __repr__(self) -> str:
        return f"Vat(ilks={len(self._ilks)}, urns={len(self._urns)}, debt={self.debt}, vice={self.vice})"

    # getters
    def ilks(self, ilk: str) -> VatIlk:
        """Return the collateral type's parameters (all zero if never initialised)."""
        return self._ilks.get(ilk, VatIlk())

    def urns(self, ilk: str, usr: str) -> Urn:
        """Return a vault (zero if it never existed)."""
        return self._urns.get((ilk, usr), Urn())

    def gem(self, ilk: str, usr: str) -> int:
        """Return ``usr``'s free collateral of type ``ilk`` [wad]."""
        return self._gem.get((ilk, usr), 0)

    def dai(self, usr: str) -> int:
        """Return ``usr``'s internal dai balance [rad]."""
        return self._dai.get(usr, 0)

    def sin(self, usr: str) -> int:
        """Return ``usr``'s unbacked debt [rad]."""
        return self._sin.get(usr, 0)

    # administration
    def init(self, ilk: str) -> None:
        """Create a collateral type with ``rate = RAY``.

        Raises
        ------
        Revert
            ``"Vat/ilk-already-init"``.
        """
        _address(ilk, "ilk", "Vat.init")
        if self.ilks(ilk).rate != 0:
            raise Revert("Vat/ilk-already-init")
        self._ilks[ilk] = replace(self.ilks(ilk), rate=RAY)

    def file(self, what: str, data: int, ilk: str | None = None) -> None:
        """Set ``Line`` (no ``ilk``) or an ilk's ``spot``, ``line`` or ``dust``.

        Raises
        ------
        Revert
            ``"Vat/not-live"``; ``"Vat/file-unrecognized-param"``.
        """
        _uint(data, "data", "Vat.file")
        if self.live != 1:
            raise Revert("Vat/not-live")
        if ilk is None:
            if what != "Line":
                raise Revert("Vat/file-unrecognized-param")
            self.Line = data
            return
        if what not in ("spot", "line", "dust"):
            raise Revert("Vat/file-unrecognized-param")
        self._ilks[ilk] = replace(self.ilks(ilk), **{what: data})

    def cage(self) -> None:
        """Shut the system down (``live = 0``)."""
        self.live = 0

    # fungibility
    def slip(self, ilk: str, usr: str, wad: int) -> None:
        """Add (or remove, if negative) free collateral, as a GemJoin does."""
        _int(wad, "wad", "Vat.slip")
        self._gem[(ilk, usr)] = _add_signed(self.gem(ilk, usr), wad)

    def flux(self, ilk: str, src: str, dst: str, wad: int) -> None:
        """Move free collateral between addresses."""
        _uint(wad, "wad", "Vat.flux")
        with _atomic(self):
            self._gem[(ilk, src)] = _sub(self.gem(ilk, src), wad)
            self._gem[(ilk, dst)] = _add(self.gem(ilk, dst), wad)

    def move(self, src: str, dst: str, rad: int) -> None:
        """Move internal dai between addresses."""
        _uint(rad, "rad", "Vat.move")
        with _atomic(self):
            self._dai[src] = _sub(self.dai(src), rad)
            self._dai[dst] = _add(self.dai(dst), rad)

    # CDP manipulation
    def frob(self, i: str, u: str, v: str, w: str, dink: int, dart: int) -> None:
        """Lock/free collateral ``dink`` from ``v`` and draw/wipe normalised debt ``dart`` to ``w`` in urn ``u``.

        Raises
        ------
        Revert
            ``"Vat/not-live"``, ``"Vat/ilk-not-init"``, ``"Vat/ceiling-exceeded"``, ``"Vat/not-safe"``,
            ``"Vat/dust"``.
        """
        _int(dink, "dink", "Vat.frob")
        _int(dart, "dart", "Vat.frob")
        if self.live != 1:
            raise Revert("Vat/not-live")
        urn, ilk = self.urns(i, u), self.ilks(i)
        if ilk.rate == 0:
            raise Revert("Vat/ilk-not-init")
        with _atomic(self):
            ink = _add_signed(urn.ink, dink)
            art = _add_signed(urn.art, dart)
            Art = _add_signed(ilk.Art, dart)
            dtab = _mul_signed(ilk.rate, dart)
            tab = _mul(ilk.rate, art)
            self.debt = _add_signed(self.debt, dtab)
            # `either`/`both` are functions, so both products are computed (and may overflow) unconditionally.
            ceiling_ok = _mul(Art, ilk.rate) <= ilk.line and self.debt <= self.Line
            if dart > 0 and not ceiling_ok:
                raise Revert("Vat/ceiling-exceeded")
            safe = tab <= _mul(ink, ilk.spot)
            if not (dart <= 0 and dink >= 0) and not safe:
                raise Revert("Vat/not-safe")
            if art != 0 and tab < ilk.dust:
                raise Revert("Vat/dust")
            self._gem[(i, v)] = _add_signed(self.gem(i, v), -dink)
            self._dai[w] = _add_signed(self.dai(w), dtab)
            self._urns[(i, u)] = Urn(ink=ink, art=art)
            self._ilks[i] = replace(ilk, Art=Art)

    def grab(self, i: str, u: str, v: str, w: str, dink: int, dart: int) -> None:
        """Confiscate: move ``dink`` collateral of urn ``u`` to ``v`` and its debt ``dart * rate`` to ``w``'s sin."""
        _int(dink, "dink", "Vat.grab")
        _int(dart, "dart", "Vat.grab")
        urn, ilk = self.urns(i, u), self.ilks(i)
        with _atomic(self):
            self._urns[(i, u)] = Urn(ink=_add_signed(urn.ink, dink), art=_add_signed(urn.art, dart))
            self._ilks[i] = replace(ilk, Art=_add_signed(ilk.Art, dart))
            dtab = _mul_signed(ilk.rate, dart)
            self._gem[(i, v)] = _add_signed(self.gem(i, v), -dink)
            self._sin[w] = _add_signed(self.sin(w), -dtab)
            self.vice = _add_signed(self.vice, -dtab)

    def suck(self, u: str, v: str, rad: int) -> None:
        """Mint ``rad`` unbacked dai to ``v``, booking the same sin on ``u``."""
        _uint(rad, "rad", "Vat.suck")
        with _atomic(self):
            self._sin[u] = _add(self.sin(u), rad)
            self._dai[v] = _add(self.dai(v), rad)
            self.vice = _add(self.vice, rad)
            self.debt = _add(self.debt, rad)

    def fold(self, i: str, u: str, rate: int) -> None:
        """Accrue stability fees: add ``rate`` to the ilk's rate and credit ``Art * rate`` dai to ``u``.

        Raises
        ------
        Revert
            ``"Vat/not-live"``.
        """
        _int(rate, "rate", "Vat.fold")
        if self.live != 1:
            raise Revert("Vat/not-live")
        ilk = self.ilks(i)
        with _atomic(self):
            self._ilks[i] = replace(ilk, rate=_add_signed(ilk.rate, rate))
            rad = _mul_signed(ilk.Art, rate)
            self._dai[u] = _add_signed(self.dai(u), rad)
            self.debt = _add_signed(self.debt, rad)


# --- spot.sol -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpotterIlk:
    """``Spotter.ilks(ilk)`` with the oracle folded in: ``val`` [wad] and ``has`` are what ``pip.peek()``
    returns; ``mat`` is the liquidation ratio [ray]."""

    val: int = 0
    has: bool = False
    mat: int = 0


class Spotter:
    """Price feed adapter: ``poke`` writes ``spot = val * 1e9 / par / mat`` into the Vat.

    makerdao/dss ``src/spot.sol`` (commit fa4f6630) with the oracle (an OSM ``pip``) reduced to the value it
    reports: :meth:`set_pip` stands in for the oracle updating.

    Parameters
    ----------
    vat : Vat
        The Vat whose ``spot`` this Spotter writes.

    Attributes
    ----------
    par : int
        Reference price of one dai [ray], initially ``RAY``.
    """

    def __init__(self, vat: Vat) -> None:
        self.vat = vat
        self.par = RAY
        self.live = 1
        self._ilks: dict[str, SpotterIlk] = {}

    def __repr__(self) -> str:
        return f"Spotter(par={self.par}, ilks={sorted(self._ilks)})"

    def ilks(self, ilk: str) -> SpotterIlk:
        """Return the oracle value and liquidation ratio of ``ilk``."""
        return self._ilks.get(ilk, SpotterIlk())

    def set_pip(self, ilk: str, val: int, has: bool = True) -> None:
        """Set what the ilk's oracle reports: price ``val`` [wad] and validity ``has``."""
        _uint(val, "val", "Spotter.set_pip")
        self._ilks[ilk] = replace(self.ilks(ilk), val=val, has=bool(has))

    def peek(self, ilk: str) -> tuple[int, bool]:
        """Return ``pip.peek()``: ``(val [wad], has)``."""
        s = self.ilks(ilk)
        return s.val, s.has

    def file(self, what: str, data: int, ilk: str | None = None) -> None:
        """Set ``par`` (no ``ilk``) or an ilk's ``mat``.

        Raises
        ------
        Revert
            ``"Spotter/not-live"``; ``"Spotter/file-unrecognized-param"``.
        """
        _uint(data, "data", "Spotter.file")
        if self.live != 1:
            raise Revert("Spotter/not-live")
        if ilk is None:
            if what != "par":
                raise Revert("Spotter/file-unrecognized-param")
            self.par = data
            return
        if what != "mat":
            raise Revert("Spotter/file-unrecognized-param")
        self._ilks[ilk] = replace(self.ilks(ilk), mat=data)

    def cage(self) -> None:
        """Stop accepting parameter changes (``live = 0``)."""
        self.live = 0

    def poke(self, ilk: str) -> int:
        """Write ``spot = rdiv(rdiv(val * 1e9, par), mat)`` (0 if the oracle has no value) and return it.

        Both divisions round down.
        """
        s = self.ilks(ilk)
        spot = rdiv(rdiv(_mul(s.val, BLN), self.par), s.mat) if s.has else 0
        self.vat.file("spot", spot, ilk=ilk)
        return spot


# --- dog.sol ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bark:
    """What the last successful ``Dog.bark`` did (the contract's ``Bark`` event fields).

    ``id`` is the Clipper auction id, ``dart`` the normalised debt [wad] and ``dink`` the collateral [wad] taken
    from the vault, ``due = dart * rate`` the debt confiscated [rad] and ``tab = due * chop / WAD`` the dai the
    auction must raise [rad].
    """

    id: int
    dart: int
    dink: int
    due: int
    tab: int


@dataclass(frozen=True)
class DogIlk:
    """``Dog.ilks(ilk)``: the ilk's ``clip`` (its :class:`Clipper`), liquidation penalty ``chop`` [wad],
    auction limit ``hole`` [rad] and the amount currently out for auction ``dirt`` [rad]."""

    clip: Clipper | None = None
    chop: int = 0
    hole: int = 0
    dirt: int = 0


class Dog:
    """Liquidation module: ``bark`` confiscates an unsafe vault and starts a Clipper auction.

    makerdao/dss ``src/dog.sol`` (commit fa4f6630) without auth and events; ``vow.fess`` is not modelled (the
    debt is booked as the Vow's ``sin`` by ``vat.grab``).

    Parameters
    ----------
    vat : Vat
        The CDP engine.
    vow : str
        Address of the debt engine (receives the sin and the auction proceeds).

    Attributes
    ----------
    Hole : int
        Maximum dai needed to cover all active auctions [rad].
    Dirt : int
        Dai needed to cover all active auctions [rad].
    live : int
        1 while live.
    last_bark : Bark or None
        ``dart``, ``dink``, ``due``, ``tab`` and the auction id of the last successful :meth:`bark`.
    """

    def __init__(self, vat: Vat, vow: str = "vow") -> None:
        self.vat = vat
        self.vow = _address(vow, "vow", "Dog")
        self.live = 1
        self.Hole = 0
        self.Dirt = 0
        self._ilks: dict[str, DogIlk] = {}
        self.last_bark: Bark | None = None

    def __repr__(self) -> str:
        return f"Dog(Hole={self.Hole}, Dirt={self.Dirt}, ilks={sorted(self._ilks)})"

    def ilks(self, ilk: str) -> DogIlk:
        """Return the ilk's liquidation parameters."""
        return self._ilks.get(ilk, DogIlk())

    def chop(self, ilk: str) -> int:
        """Return the ilk's liquidation penalty [wad]."""
        return self.ilks(ilk).chop

    def file(self, what: str, data: int | Clipper, ilk: str | None = None) -> None:
        """Set ``Hole`` (no ``ilk``), or an ilk's ``chop``, ``hole`` or ``clip``.

        Raises
        ------
        Revert
            ``"Dog/file-chop-lt-WAD"``, ``"Dog/file-ilk-neq-clip.ilk"``, ``"Dog/file-unrecognized-param"``.
        """
        if ilk is None:
            if what != "Hole":
                raise Revert("Dog/file-unrecognized-param")
            self.Hole = _uint(data, "data", "Dog.file")
            return
        if what == "clip":
            if not isinstance(data, Clipper):
                raise ParameterError(
                    f"The 'data' parameter of Dog.file must be a Clipper when what='clip'. Got {data!r} instead."
                )
            if data.ilk != ilk:
                raise Revert("Dog/file-ilk-neq-clip.ilk")
            self._ilks[ilk] = replace(self.ilks(ilk), clip=data)
            return
        if what not in ("chop", "hole"):
            raise Revert("Dog/file-unrecognized-param")
        value = _uint(data, "data", "Dog.file")
        if what == "chop":
            if value < WAD:
                raise Revert("Dog/file-chop-lt-WAD")
            self._ilks[ilk] = replace(self.ilks(ilk), chop=value)
        else:
            self._ilks[ilk] = replace(self.ilks(ilk), hole=value)

    def bark(self, ilk: str, urn: str, kpr: str, now: int) -> int:
        """Liquidate the vault ``urn`` (fully, or partially when ``Hole``/``hole`` room is short) and kick an auction.

        Let ``room = min(Hole - Dirt, hole - dirt)``. The normalised debt taken is
        ``dart = min(art, room * WAD / rate / chop)`` (each division rounding down). If that leaves a dusty
        remainder (``(art - dart) * rate < dust``) the whole vault is taken instead, which may overshoot the limits by
        at most ``dust * chop``; otherwise the partial auction itself must not be dusty. Collateral taken is
        ``dink = ink * dart / art`` (rounded down), the auction's target is ``tab = dart * rate * chop / WAD``
        (rounded down), added to ``Dirt`` and the ilk's ``dirt``.

        Parameters
        ----------
        ilk : str
            Collateral type.
        urn : str
            Vault owner; receives any collateral left when the auction ends.
        kpr : str
            Keeper who receives the Clipper's incentive (``tip + wmul(tab, chip)``).
        now : int
            Block timestamp [seconds].

        Returns
        -------
        int
            The auction id. The liquidation's ``dart``, ``dink``, ``due`` and ``tab`` are in :attr:`last_bark`.

        Raises
        ------
        Revert
            ``"Dog/not-live"``, ``"Dog/not-unsafe"``, ``"Dog/liquidation-limit-hit"``,
            ``"Dog/dusty-auction-from-partial-liquidation"``, ``"Dog/null-auction"``, ``"Dog/overflow"``, and any
            revert of ``Clipper.kick``.

        References
        ----------
        makerdao/dss ``src/dog.sol`` (``bark``), commit fa4f6630.
        """
        _uint(now, "now", "Dog.bark")
        if self.live != 1:
            raise Revert("Dog/not-live")
        u = self.vat.urns(ilk, urn)
        milk = self.ilks(ilk)
        vilk = self.vat.ilks(ilk)
        rate, dust = vilk.rate, vilk.dust
        if not (vilk.spot > 0 and _mul(u.ink, vilk.spot) < _mul(u.art, rate)):
            raise Revert("Dog/not-unsafe")
        if not (self.Hole > self.Dirt and milk.hole > milk.dirt):
            raise Revert("Dog/liquidation-limit-hit")
        room = min(self.Hole - self.Dirt, milk.hole - milk.dirt)
        dart = min(u.art, _div(_div(_mul(room, WAD), rate), milk.chop))
        if u.art > dart:
            if _mul(u.art - dart, rate) < dust:
                dart = u.art
            elif _mul(dart, rate) < dust:
                raise Revert("Dog/dusty-auction-from-partial-liquidation")
        dink = _mul(u.ink, dart) // u.art
        if dink == 0:
            raise Revert("Dog/null-auction")
        if not (dart <= 2**255 and dink <= 2**255):
            raise Revert("Dog/overflow")
        clip = milk.clip
        if clip is None:
            raise Revert("(no reason: ilk has no clip)")
        with _atomic(self, self.vat, clip):
            self.vat.grab(ilk, urn, clip.address, self.vow, -dink, -dart)
            due = _mul(dart, rate)
            tab = _mul(due, milk.chop) // WAD
            self.Dirt = _add(self.Dirt, tab)
            self._ilks[ilk] = replace(milk, dirt=_add(milk.dirt, tab))
            id = clip.kick(tab=tab, lot=dink, usr=urn, kpr=kpr, now=now)
            self.last_bark = Bark(id=id, dart=dart, dink=dink, due=due, tab=tab)
            return id

    def digs(self, ilk: str, rad: int) -> None:
        """Remove ``rad`` from ``Dirt`` and the ilk's ``dirt`` (called by the Clipper as auctions raise dai)."""
        _uint(rad, "rad", "Dog.digs")
        milk = self.ilks(ilk)
        dirt = _sub(milk.dirt, rad)
        self.Dirt = _sub(self.Dirt, rad)
        self._ilks[ilk] = replace(milk, dirt=dirt)

    def cage(self) -> None:
        """Stop new liquidations (``live = 0``)."""
        self.live = 0


# --- clip.sol -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sale:
    """``Clipper.sales(id)``: index ``pos`` in ``active``, dai to raise ``tab`` [rad], collateral ``lot`` [wad],
    vault owner ``usr``, start time ``tic`` and starting price ``top`` [ray]. All zero once the auction ends."""

    pos: int = 0
    tab: int = 0
    lot: int = 0
    usr: str = ZERO_ADDRESS
    tic: int = 0
    top: int = 0


_CLIPPER_UINT_PARAMS: Final = {"buf": 256, "tail": 256, "cusp": 256, "chip": 64, "tip": 192, "stopped": 256}


class Clipper:
    """Dutch auction house for one collateral type (Liquidations 2.0).

    makerdao/dss ``src/clip.sol`` (commit fa4f6630) without auth, events, the reentrancy lock and the
    ``clipperCall`` flash-loan callback (the caller's dai must already be in the Vat).

    Parameters
    ----------
    vat : Vat
        The CDP engine.
    spotter : Spotter
        Source of the oracle price used for ``top``.
    dog : Dog
        The liquidation module (for ``chop`` and ``digs``).
    ilk : str
        The collateral type sold.
    vow : str
        Receives auction proceeds; pays (as sin) the keeper incentives.
    address : str, optional
        This Clipper's address in the Vat (holds the collateral on sale). Defaults to ``"clip:<ilk>"``.

    Attributes
    ----------
    calc : Abacus or None
        The price curve.
    buf : int
        Multiplier on the oracle price for the starting price [ray], initially ``RAY``.
    tail : int
        Seconds before an auction needs a reset.
    cusp : int
        Fraction of ``top`` below which an auction needs a reset [ray].
    chip : int
        Keeper incentive as a fraction of ``tab`` [wad] (uint64).
    tip : int
        Flat keeper incentive [rad] (uint192).
    chost : int
        Cached ``wmul(dust, chop)`` [rad], refreshed by :meth:`upchost`.
    kicks : int
        Number of auctions started.
    active : list of int
        Ids of running auctions.
    stopped : int
        Circuit breaker: 1 no ``kick``, 2 also no ``redo``, 3 also no ``take``.
    """

    def __init__(
        self, vat: Vat, spotter: Spotter, dog: Dog, ilk: str, vow: str = "vow", address: str | None = None
    ) -> None:
        self.vat = vat
        self.spotter = spotter
        self.dog = dog
        self.ilk = _address(ilk, "ilk", "Clipper")
        self.vow = _address(vow, "vow", "Clipper")
        self.address = _address(address if address is not None else f"clip:{ilk}", "address", "Clipper")
        self.calc: Abacus | None = None
        self.buf = RAY
        self.tail = 0
        self.cusp = 0
        self.chip = 0
        self.tip = 0
        self.chost = 0
        self.kicks = 0
        self.active: list[int] = []
        self._sales: dict[int, Sale] = {}
        self.stopped = 0

    def __repr__(self) -> str:
        return f"Clipper(ilk={self.ilk!r}, kicks={self.kicks}, active={self.active})"

    def sales(self, id: int) -> Sale:
        """Return auction ``id`` (all zero if it never existed or has ended)."""
        return self._sales.get(id, Sale())

    def count(self) -> int:
        """Return the number of running auctions."""
        return len(self.active)

    def list(self) -> list[int]:
        """Return the ids of running auctions."""
        return list(self.active)

    def file(self, what: str, data: int | Abacus) -> None:
        """Set a parameter: ``buf``, ``tail``, ``cusp``, ``chip``, ``tip``, ``stopped`` (ints) or ``calc``.

        ``chip`` and ``tip`` are stored truncated to uint64 and uint192, as the contract's casts do.

        Raises
        ------
        Revert
            ``"Clipper/file-unrecognized-param"``.
        """
        if what == "calc":
            if not callable(getattr(data, "price", None)):
                raise ParameterError(
                    f"The 'data' parameter of Clipper.file must have a price(top, dur) method when what='calc'. "
                    f"Got {data!r} instead."
                )
            self.calc = data  # type: ignore[assignment]
            return
        if what not in _CLIPPER_UINT_PARAMS:
            raise Revert("Clipper/file-unrecognized-param")
        value = _uint(data, "data", "Clipper.file")
        setattr(self, what, value % 2 ** _CLIPPER_UINT_PARAMS[what])

    def upchost(self) -> None:
        """Refresh ``chost = wmul(vat.ilks(ilk).dust, dog.chop(ilk))`` (rounded down)."""
        self.chost = wmul(self.vat.ilks(self.ilk).dust, self.dog.chop(self.ilk))

    def _is_stopped(self, level: int) -> None:
        if not self.stopped < level:
            raise Revert("Clipper/stopped-incorrect")

    def _feed_price(self) -> int:
        val, has = self.spotter.peek(self.ilk)
        if not has:
            raise Revert("Clipper/invalid-price")
        return rdiv(_mul(val, BLN), self.spotter.par)

    def status(self, tic: int, top: int, now: int) -> tuple[bool, int]:
        """Return ``(done, price)`` for an auction started at ``tic`` with starting price ``top``.

        ``price = calc.price(top, now - tic)``; ``done`` (the auction needs a ``redo``) when
        ``now - tic > tail`` or ``rdiv(price, top) < cusp``.

        Raises
        ------
        Revert
            ``"(no reason: uint256 underflow)"`` if ``now < tic``.
        """
        _uint(tic, "tic", "Clipper.status")
        _uint(top, "top", "Clipper.status")
        _uint(now, "now", "Clipper.status")
        if self.calc is None:
            raise Revert("(no reason: calc not set)")
        dur = _sub(now, tic)
        price = self.calc.price(top, dur)
        done = dur > self.tail or rdiv(price, top) < self.cusp
        return done, price

    def get_status(self, id: int, now: int) -> tuple[bool, int, int, int]:
        """Return ``(needs_redo, price, lot, tab)`` of auction ``id`` at time ``now``."""
        sale = self.sales(id)
        done, price = self.status(sale.tic, sale.top, now)
        return sale.usr != ZERO_ADDRESS and done, price, sale.lot, sale.tab

    def _incentive(self, tab: int) -> int:
        return _add(self.tip, wmul(tab, self.chip))

    def kick(self, tab: int, lot: int, usr: str, kpr: str, now: int) -> int:
        """Start an auction of ``lot`` collateral to raise ``tab`` dai.

        ``top = rmul(rdiv(val * 1e9, par), buf)`` from the oracle value ``val`` [wad]; when ``tip`` or ``chip`` is
        set, the keeper ``kpr`` is paid ``tip + wmul(tab, chip)`` of unbacked dai (``vat.suck`` from the vow). All
        divisions round down. The collateral must already belong to this Clipper in the Vat (``Dog.bark`` does it).

        Parameters
        ----------
        tab : int
            Dai to raise [rad].
        lot : int
            Collateral to sell [wad].
        usr : str
            Receives any collateral left over.
        kpr : str
            Receives the keeper incentive.
        now : int
            Block timestamp, recorded as ``tic``.

        Returns
        -------
        int
            The new auction id.

        Raises
        ------
        Revert
            ``"Clipper/stopped-incorrect"``, ``"Clipper/zero-tab"``, ``"Clipper/zero-lot"``, ``"Clipper/zero-usr"``,
            ``"Clipper/invalid-price"``, ``"Clipper/zero-top-price"``.
        """
        _uint(tab, "tab", "Clipper.kick")
        _uint(lot, "lot", "Clipper.kick")
        _uint(now, "now", "Clipper.kick", bits=96)
        self._is_stopped(1)
        if tab == 0:
            raise Revert("Clipper/zero-tab")
        if lot == 0:
            raise Revert("Clipper/zero-lot")
        if usr == ZERO_ADDRESS:
            raise Revert("Clipper/zero-usr")
        with _atomic(self, self.vat):
            self.kicks += 1
            id = self.kicks
            self.active.append(id)
            top = rmul(self._feed_price(), self.buf)
            if top == 0:
                raise Revert("Clipper/zero-top-price")
            self._sales[id] = Sale(pos=len(self.active) - 1, tab=tab, lot=lot, usr=usr, tic=now, top=top)
            if self.tip > 0 or self.chip > 0:
                self.vat.suck(self.vow, kpr, self._incentive(tab))
        return id

    def redo(self, id: int, kpr: str, now: int) -> None:
        """Restart an auction that needs it with a fresh ``top`` from the oracle and ``tic = now``.

        The keeper is paid ``tip + wmul(tab, chip)`` only if ``tab >= chost`` and ``lot * feedPrice >= chost`` (so
        resetting dusty auctions earns nothing).

        Raises
        ------
        Revert
            ``"Clipper/stopped-incorrect"``, ``"Clipper/not-running-auction"``, ``"Clipper/cannot-reset"``,
            ``"Clipper/invalid-price"``, ``"Clipper/zero-top-price"``.
        """
        _uint(now, "now", "Clipper.redo", bits=96)
        self._is_stopped(2)
        sale = self.sales(id)
        if sale.usr == ZERO_ADDRESS:
            raise Revert("Clipper/not-running-auction")
        done, _ = self.status(sale.tic, sale.top, now)
        if not done:
            raise Revert("Clipper/cannot-reset")
        feed_price = self._feed_price()
        top = rmul(feed_price, self.buf)
        if top == 0:
            raise Revert("Clipper/zero-top-price")
        with _atomic(self, self.vat):
            self._sales[id] = replace(sale, tic=now, top=top)
            if (
                (self.tip > 0 or self.chip > 0)
                and sale.tab >= self.chost
                and _mul(sale.lot, feed_price) >= self.chost
            ):
                self.vat.suck(self.vow, kpr, self._incentive(sale.tab))

    def take(
        self, id: int, amt: int, max: int, who: str, now: int, sender: str | None = None
    ) -> tuple[int, int]:
        """Buy up to ``amt`` collateral at the current price if it is at most ``max``.

        The buyer pays ``owe = slice * price``, capped at ``tab`` (then ``slice = tab / price``, rounded down). A
        partial purchase may not leave ``0 < tab < chost``: it is cut so that ``tab == chost`` remains, and if
        ``tab <= chost`` already, only the whole lot may be bought. When the lot is exhausted the whole remaining tab
        is removed from the Dog's ``Dirt``; when the tab is raised the leftover collateral returns to the vault owner.

        Parameters
        ----------
        id : int
            Auction id.
        amt : int
            Upper limit on collateral to buy [wad].
        max : int
            Highest acceptable price [ray].
        who : str
            Receives the collateral.
        now : int
            Block timestamp.
        sender : str, optional
            Pays the dai (``msg.sender``); defaults to ``who``.

        Returns
        -------
        (slice, owe) : tuple of int
            Collateral bought [wad] and dai paid [rad].

        Raises
        ------
        Revert
            ``"Clipper/stopped-incorrect"``, ``"Clipper/not-running-auction"``, ``"Clipper/needs-reset"``,
            ``"Clipper/too-expensive"``, ``"Clipper/no-partial-purchase"``, and ``"(no reason: uint256 underflow)"``
            if the sender's dai does not cover ``owe``.
        """
        _uint(amt, "amt", "Clipper.take")
        _uint(max, "max", "Clipper.take")
        _address(who, "who", "Clipper.take")
        payer = who if sender is None else _address(sender, "sender", "Clipper.take")
        self._is_stopped(3)
        sale = self.sales(id)
        if sale.usr == ZERO_ADDRESS:
            raise Revert("Clipper/not-running-auction")
        done, price = self.status(sale.tic, sale.top, now)
        if done:
            raise Revert("Clipper/needs-reset")
        if max < price:
            raise Revert("Clipper/too-expensive")
        lot, tab = sale.lot, sale.tab
        slice_ = lot if lot <= amt else amt
        owe = _mul(slice_, price)
        if owe > tab:
            owe = tab
            slice_ = _div(owe, price)
        elif owe < tab and slice_ < lot and tab - owe < self.chost:
            if not tab > self.chost:
                raise Revert("Clipper/no-partial-purchase")
            owe = tab - self.chost
            slice_ = _div(owe, price)
        tab -= owe
        lot -= slice_
        with _atomic(self, self.vat, self.dog):
            self.vat.flux(self.ilk, self.address, who, slice_)
            self.vat.move(payer, self.vow, owe)
            self.dog.digs(self.ilk, tab + owe if lot == 0 else owe)
            if lot == 0:
                self._remove(id)
            elif tab == 0:
                self.vat.flux(self.ilk, self.address, sale.usr, lot)
                self._remove(id)
            else:
                self._sales[id] = replace(sale, tab=tab, lot=lot)
        return slice_, owe

    def yank(self, id: int, sender: str) -> None:
        """Cancel auction ``id`` (governance or emergency shutdown): clear its dirt, send its lot to ``sender``.

        Raises
        ------
        Revert
            ``"Clipper/not-running-auction"``.
        """
        sale = self.sales(id)
        if sale.usr == ZERO_ADDRESS:
            raise Revert("Clipper/not-running-auction")
        with _atomic(self, self.vat, self.dog):
            self.dog.digs(self.ilk, sale.tab)
            self.vat.flux(self.ilk, self.address, sender, sale.lot)
            self._remove(id)

    def _remove(self, id: int) -> None:
        # Swap-and-pop, as clip.sol: the last active id takes the removed one's slot.
        last = self.active[-1]
        if id != last:
            index = self._sales[id].pos
            self.active[index] = last
            self._sales[last] = replace(self._sales[last], pos=index)
        self.active.pop()
        del self._sales[id]
