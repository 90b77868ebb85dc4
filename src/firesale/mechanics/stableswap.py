"""Curve StableSwap: the pool contracts' invariant, swap and liquidity math, integer-exact.

Curve deployed the same invariant with different integer arithmetic. A :class:`Convention` names one family and is
a required argument of :class:`StableSwapPool`; nothing is guessed from the parameters:

``ORIGINAL``
    The first pools (``StableSwap3Pool.vy``): ``A`` is used directly (``Ann = A * N``), the D iteration is
    ``D = (Ann S + N D_P) D / ((Ann - 1) D + (N + 1) D_P)``, and when Newton's method does not settle within 255
    rounds the last iterate is returned silently. ``get_dy`` converts ``dy`` to coin units before taking the fee,
    so the view can differ from ``exchange`` by a unit.
``A_PRECISION``
    The later templates (``SwapTemplateBase.vy``, the metapool template): ``A`` is stored times
    ``A_PRECISION = 100`` (``Ann = A_precise * N``), the iteration divides ``Ann S`` and ``(Ann - 100) D`` by 100,
    and a Newton loop that does not converge reverts (a bare ``raise``).
``A_PRECISION_GUARDED``
    As ``A_PRECISION`` but ``D_P`` divides by ``x * N + 1`` ("+1 is to prevent /0"): the stETH/ETH pool
    (``StableSwapSTETH.vy``) and the Aave pools.
``NG``
    stableswap-ng (``CurveStableSwapNG.vy`` and its ``CurveStableSwapNGViews.vy``): ``D_P`` multiplies ``D / x``
    over the coins and divides by ``N ** N`` once; the optional off-peg dynamic fee; ``calc_token_amount``
    charges the imbalance fee; zero swaps and zero burns revert.

Every integer operation rounds down (floor division on non-negative ints), as the EVM does. Where a sum or
difference rounds, the contracts bias it against the trader: ``dy = xp[j] - y - 1`` keeps one unit in the pool,
``calc_withdraw_one_coin`` withdraws ``dy - 1``. These functions reproduce that bias bit for bit.

Reverts raise :class:`firesale.mechanics.Revert`. Its reason is the contract's reason string where there is one
(``"Exchange resulted in fewer coins than expected"``), the developer comment Brownie reports where there is
only that (``"dev: same coin"``), and otherwise a bracketed description of the failing operation
(``"[uint256 underflow]"``, ``"[division by zero]"``, ``"[get_D did not converge]"``), because Vyper's bare
``raise`` and checked arithmetic revert without data.

Not modelled: A ramps (pass the current ``A``), the ``is_killed`` switch, fee-on-transfer coins, lending-rate
updates (pass ``rates`` as stored at the block), ``remove_liquidity`` and ``remove_liquidity_imbalance``, the NG
price and D oracles, and the Vyper 0.1 pools (compound, usdt, y, busd, susd), whose ``get_dy`` does not subtract
one unit. The Aave pools' dynamic fee is the NG formula but their aToken balances are not modelled.

References
----------
- curvefi/curve-contract at commit 574f44027d089de0eac765f5a74ea5ae96aba968:
  ``contracts/pools/3pool/StableSwap3Pool.vy`` (last changed in bae23a2fc9a0302d174ea1ffce8219a44a92149c),
  ``contracts/pool-templates/base/SwapTemplateBase.vy`` (06b0e6e188c745110f006c14c250fd1400561246),
  ``contracts/pools/steth/StableSwapSTETH.vy`` (395e612cb2d32292aaeaf0169707195b8baf0415).
- curvefi/stableswap-ng at commit 2abe778f40206a6c0fd108a0a53ad3266cbedeee:
  ``contracts/main/CurveStableSwapNG.vy`` (8eaf5e2bcf9e47f0b18d0fc737f6bcdd384e63c5),
  ``contracts/main/CurveStableSwapNGViews.vy`` (11c152d388662917c0ed810f31783ce86c850896).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert

__all__ = [
    "A_PRECISION",
    "A_PRECISION_GUARDED",
    "FEE_DENOMINATOR",
    "NG",
    "ORIGINAL",
    "PRECISION",
    "Convention",
    "StableSwapPool",
]

FEE_DENOMINATOR = 10**10
PRECISION = 10**18
_MAX_FEE = 5 * 10**9
_MAX_ADMIN_FEE = 10**10
_MAX_A = 10**6
_UINT256_MAX = 2**256 - 1
_ITERATIONS = 255


@dataclass(frozen=True)
class Convention:
    """The integer arithmetic of one family of Curve StableSwap contracts.

    Use the module's presets (:data:`ORIGINAL`, :data:`A_PRECISION`, :data:`A_PRECISION_GUARDED`, :data:`NG`);
    the fields document how they differ.

    Attributes
    ----------
    name : str
        Short name of the family.
    a_precision : int
        ``A_PRECISION``: 1 where the contract stores ``A`` itself, 100 where it stores ``A * 100``.
    d_p : str
        How ``D_P = D ** (N + 1) / (N ** N * prod(x))`` is rounded: ``"x_n"`` divides by ``x * N`` per coin,
        ``"x_n_plus_1"`` by ``x * N + 1`` per coin, ``"prod_then_nn"`` by ``x`` per coin and then by ``N ** N``.
    revert_on_nonconvergence : bool
        Whether ``get_D`` and ``get_y`` revert after 255 rounds without convergence (else return the last
        iterate).
    get_dy_fee_after_conversion : bool
        Whether the ``get_dy`` view takes the fee after converting ``dy`` to coin units (``ORIGINAL``).
    dynamic_fee : bool
        Whether the off-peg fee multiplier applies (``NG``).
    calc_token_amount_fees : bool
        Whether ``calc_token_amount`` charges the imbalance fee (``NG``'s views contract).
    zero_amount_reverts : bool
        Whether ``exchange`` of 0 and ``remove_liquidity_one_coin`` of 0 revert (``NG``).
    max_coins : int
        Largest number of coins the family supports.
    source : str
        Repository, file and commit of the contract this convention transcribes.
    """

    name: str
    a_precision: int
    d_p: str
    revert_on_nonconvergence: bool
    get_dy_fee_after_conversion: bool
    dynamic_fee: bool
    calc_token_amount_fees: bool
    zero_amount_reverts: bool
    max_coins: int
    source: str


ORIGINAL = Convention(
    name="original",
    a_precision=1,
    d_p="x_n",
    revert_on_nonconvergence=False,
    get_dy_fee_after_conversion=True,
    dynamic_fee=False,
    calc_token_amount_fees=False,
    zero_amount_reverts=False,
    max_coins=4,
    source="curvefi/curve-contract contracts/pools/3pool/StableSwap3Pool.vy @ bae23a2fc9a0302d174ea1ffce8219a44a92149c",
)
"""The original pools: ``StableSwap3Pool.vy`` (3pool and its contemporaries)."""

A_PRECISION = Convention(
    name="a_precision",
    a_precision=100,
    d_p="x_n",
    revert_on_nonconvergence=True,
    get_dy_fee_after_conversion=False,
    dynamic_fee=False,
    calc_token_amount_fees=False,
    zero_amount_reverts=False,
    max_coins=4,
    source=(
        "curvefi/curve-contract contracts/pool-templates/base/SwapTemplateBase.vy"
        " @ 06b0e6e188c745110f006c14c250fd1400561246"
    ),
)
"""Pools built from the base and meta templates with ``A_PRECISION = 100``."""

A_PRECISION_GUARDED = Convention(
    name="a_precision_guarded",
    a_precision=100,
    d_p="x_n_plus_1",
    revert_on_nonconvergence=True,
    get_dy_fee_after_conversion=False,
    dynamic_fee=False,
    calc_token_amount_fees=False,
    zero_amount_reverts=False,
    max_coins=4,
    source="curvefi/curve-contract contracts/pools/steth/StableSwapSTETH.vy @ 395e612cb2d32292aaeaf0169707195b8baf0415",
)
"""``A_PRECISION`` pools whose ``D_P`` divides by ``x * N + 1``: the stETH/ETH pool ``0xDC24...7022``."""

NG = Convention(
    name="ng",
    a_precision=100,
    d_p="prod_then_nn",
    revert_on_nonconvergence=True,
    get_dy_fee_after_conversion=False,
    dynamic_fee=True,
    calc_token_amount_fees=True,
    zero_amount_reverts=True,
    max_coins=8,
    source=(
        "curvefi/stableswap-ng contracts/main/CurveStableSwapNG.vy @ 8eaf5e2bcf9e47f0b18d0fc737f6bcdd384e63c5"
        " and contracts/main/CurveStableSwapNGViews.vy @ 11c152d388662917c0ed810f31783ce86c850896"
    ),
)
"""stableswap-ng plain pools."""

_CONVENTIONS = (ORIGINAL, A_PRECISION, A_PRECISION_GUARDED, NG)


def _sub(a: int, b: int) -> int:
    """Checked uint256 subtraction: Vyper reverts when the result would be negative."""
    if b > a:
        raise Revert("[uint256 underflow]")
    return a - b


def _div(a: int, b: int) -> int:
    """uint256 division, rounding down; Vyper reverts on a zero divisor."""
    if b == 0:
        raise Revert("[division by zero]")
    return a // b


def _chk(a: int) -> int:
    """Checked uint256 result: Vyper reverts on overflow."""
    if a > _UINT256_MAX:
        raise Revert("[uint256 overflow]")
    return a


def _is_int(value: object) -> bool:
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def _int(value: object, name: str, where: str, lo: int, hi: int, rule: str | None = None) -> int:
    """Return ``value`` as an int in ``[lo, hi]`` or raise ParameterError."""
    if _is_int(value):
        as_int = operator.index(value)  # type: ignore[arg-type]
        if lo <= as_int <= hi:
            return as_int
    rule = rule or f"an int in [{lo}, {hi}]"
    raise ParameterError(f"The '{name}' parameter of {where} must be {rule}. Got {value!r} instead.")


def _int_list(value: object, name: str, where: str, n: int, lo: int, rule: str) -> list[int]:
    """Return ``value`` as a list of ``n`` ints, each in ``[lo, 2**256 - 1]``, or raise ParameterError."""
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str | bytes)
        and len(value) == n
        and all(_is_int(v) and lo <= operator.index(v) <= _UINT256_MAX for v in value)
    ):
        return [operator.index(v) for v in value]
    raise ParameterError(f"The '{name}' parameter of {where} must be {rule}. Got {value!r} instead.")


class StableSwapPool:
    """A Curve StableSwap pool's state and its contract functions, integer-exact.

    Parameters
    ----------
    balances : sequence of int
        The pool's coin balances in each coin's base units, as the contract's ``balances(i)`` reports them
        (admin fees excluded). 2 to 4 coins (up to 8 for ``NG``).
    rates : sequence of int
        The rate multipliers that bring each coin to 18 decimals times its price: ``RATES`` /
        ``rate_multipliers`` of the contract, ``10 ** (36 - decimals)`` for a plain coin; a metapool's LP coin
        carries the base pool's virtual price, a rate-oracle coin its stored rate.
    A : int
        Amplification as the contract's ``A()`` reports it, in [1, 999999].
    fee : int
        Swap fee times ``FEE_DENOMINATOR = 10 ** 10``, in [0, 5 * 10 ** 9] (4000000 is 0.04 %).
    admin_fee : int
        Share of the fee kept for the DAO, times ``10 ** 10``, in [0, 10 ** 10] (``NG`` hard-codes 5 * 10 ** 9).
    lp_supply : int
        Total supply of the LP token.
    convention : Convention
        Which contract family's arithmetic to use (:data:`ORIGINAL`, :data:`A_PRECISION`,
        :data:`A_PRECISION_GUARDED`, :data:`NG`). Required: it cannot be inferred from the state.
    A_precise : int, optional
        The contract's ``A_precise()`` (``A * 100`` between ramp points) for the ``A_PRECISION`` conventions;
        defaults to ``A * 100``. Must satisfy ``A_precise // 100 == A``.
    offpeg_fee_multiplier : int, optional
        ``NG``'s off-peg fee multiplier times ``10 ** 10``; at most ``10 ** 10`` (the default) means a static
        fee. Only ``NG`` accepts another value.

    Attributes
    ----------
    balances : list of int
        LP-owned balances, updated by the mutating functions.
    admin_balances : list of int
        Admin fees accrued per coin since construction.
    lp_supply : int
        LP token supply, updated by ``add_liquidity`` and ``remove_liquidity_one_coin``.
    amp : int
        The contract's internal ``_A()``: ``A`` for ``ORIGINAL``, ``A_precise`` otherwise.

    Notes
    -----
    The invariant, with ``Ann = A * N`` and all balances scaled by their rates (``xp``):

    .. math:: A N \\sum_i x_i + D = A N D + \\frac{D^{N+1}}{N^N \\prod_i x_i}

    Mutating functions change nothing when they revert.

    References
    ----------
    See the module docstring; each method names the contract function it transcribes.

    Examples
    --------
    >>> from firesale.mechanics.stableswap import A_PRECISION, StableSwapPool
    >>> pool = StableSwapPool([10**24, 10**24], [10**18, 10**18], 100, 4 * 10**6, 5 * 10**9, 2 * 10**24,
    ...                       convention=A_PRECISION)
    >>> pool.get_D(pool.xp(), pool.amp)
    2000000000000000000000000
    """

    def __init__(
        self,
        balances: Sequence[int],
        rates: Sequence[int],
        A: int,
        fee: int,
        admin_fee: int,
        lp_supply: int,
        *,
        convention: Convention,
        A_precise: int | None = None,
        offpeg_fee_multiplier: int = FEE_DENOMINATOR,
    ) -> None:
        where = "StableSwapPool"
        if convention not in _CONVENTIONS:
            raise ParameterError(
                f"The 'convention' parameter of {where} must be one of ORIGINAL, A_PRECISION, "
                f"A_PRECISION_GUARDED, NG from firesale.mechanics.stableswap. Got {convention!r} instead."
            )
        self.convention = convention
        n_max = convention.max_coins
        n = len(balances) if isinstance(balances, Sequence) and 2 <= len(balances) <= n_max else 0
        self.balances = _int_list(
            balances, "balances", where, n, 0, f"a sequence of 2 to {n_max} non-negative ints (uint256)"
        )
        self.rates = tuple(
            _int_list(rates, "rates", where, n, 1, f"a sequence of {n} positive ints (one per coin)")
        )
        self.A = _int(A, "A", where, 1, _MAX_A - 1)
        if convention.a_precision == 1:
            if A_precise is not None:
                raise ParameterError(
                    f"The 'A_precise' parameter of {where} must be None for the ORIGINAL convention, which "
                    f"has no A_PRECISION. Got {A_precise!r} instead."
                )
            self.amp = self.A
        elif A_precise is None:
            self.amp = self.A * convention.a_precision
        else:
            ap = convention.a_precision
            self.amp = _int(
                A_precise, "A_precise", where, self.A * ap, self.A * ap + ap - 1,
                f"an int with A_precise // {ap} == A == {self.A}",
            )  # fmt: skip
        self.fee = _int(fee, "fee", where, 0, _MAX_FEE)
        self.admin_fee = _int(admin_fee, "admin_fee", where, 0, _MAX_ADMIN_FEE)
        self.lp_supply = _int(lp_supply, "lp_supply", where, 0, _UINT256_MAX)
        mult = _int(offpeg_fee_multiplier, "offpeg_fee_multiplier", where, 0, _UINT256_MAX)
        if mult > FEE_DENOMINATOR and not convention.dynamic_fee:
            raise ParameterError(
                f"The 'offpeg_fee_multiplier' parameter of {where} must be at most {FEE_DENOMINATOR} (a static "
                f"fee) for the {convention.name!r} convention, which has no dynamic fee. Got {mult!r} instead."
            )
        if mult * self.fee > _MAX_FEE * FEE_DENOMINATOR:
            # stableswap-ng's factory and set_new_fee refuse this combination.
            raise ParameterError(
                f"The 'offpeg_fee_multiplier' parameter of {where} must satisfy offpeg_fee_multiplier * fee <= "
                f"{_MAX_FEE * FEE_DENOMINATOR}. Got {mult!r} with fee {self.fee} instead."
            )
        self.offpeg_fee_multiplier = mult
        self.admin_balances = [0] * n

    def __repr__(self) -> str:
        return (
            f"StableSwapPool(balances={self.balances}, rates={list(self.rates)}, A={self.A}, fee={self.fee}, "
            f"admin_fee={self.admin_fee}, lp_supply={self.lp_supply}, convention={self.convention.name})"
        )

    @property
    def n_coins(self) -> int:
        """Number of coins in the pool."""
        return len(self.balances)

    # ------------------------------------------------------------------------------------------------ checks

    def _index(self, i: object, name: str, where: str) -> int:
        return _int(i, name, where, 0, self.n_coins - 1)

    def _amounts(self, amounts: object, name: str, where: str) -> list[int]:
        return _int_list(
            amounts, name, where, self.n_coins, 0, f"a sequence of {self.n_coins} non-negative ints (uint256)"
        )

    # ------------------------------------------------------------------------------------------------ math

    def _xp_mem(self, balances: Sequence[int]) -> list[int]:
        return [_chk(r * b) // PRECISION for r, b in zip(self.rates, balances, strict=True)]

    def xp(self) -> list[int]:
        """Balances scaled to 18 decimals and by their rates: the contract's ``_xp()``.

        Returns
        -------
        list of int
            ``rates[i] * balances[i] // 10 ** 18``, rounded down.

        References
        ----------
        curvefi/curve-contract: ``_xp`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``_xp`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``_balances`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``_xp_mem`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        return self._xp_mem(self.balances)

    def get_D(self, xp: Sequence[int], amp: int) -> int:
        """The invariant ``D`` of rate-scaled balances: the contract's ``get_D`` / ``_get_D``.

        Parameters
        ----------
        xp : sequence of int
            Rate-scaled balances, one per coin.
        amp : int
            The contract's internal amplification ``_A()`` (``A_precise`` for the ``A_PRECISION`` conventions).

        Returns
        -------
        int
            ``D``, from Newton's method started at ``sum(xp)``; each step rounds down. 0 when every balance is 0.

        Raises
        ------
        Revert
            ``"[division by zero]"`` when a balance is 0 (except for ``A_PRECISION_GUARDED``), and
            ``"[get_D did not converge]"`` after 255 rounds for every convention but ``ORIGINAL``, which returns
            the last iterate as its contract does.

        References
        ----------
        curvefi/curve-contract: ``get_D`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``_get_D`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``get_D`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``get_D`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        xp = _int_list(xp, "xp", "get_D", self.n_coins, 0, f"a sequence of {self.n_coins} non-negative ints")
        amp = _int(amp, "amp", "get_D", 1, _UINT256_MAX)
        return self._get_D(xp, amp)

    def get_D_status(self, xp: Sequence[int], amp: int) -> tuple[int, bool]:
        """``D`` as :meth:`get_D` computes it, and whether Newton's method converged.

        The legacy ``ORIGINAL`` convention returns the last iterate after 255 rounds without telling its caller
        (as its contract does); this method says so: ``converged`` is False exactly then. For the other
        conventions non-convergence still reverts.

        Parameters
        ----------
        xp : sequence of int
            Rate-scaled balances, one per coin.
        amp : int
            The contract's internal amplification ``_A()``.

        Returns
        -------
        (D, converged) : tuple of (int, bool)

        Raises
        ------
        Revert
            As :meth:`get_D`.
        """
        xp = _int_list(
            xp, "xp", "get_D_status", self.n_coins, 0, f"a sequence of {self.n_coins} non-negative ints"
        )
        amp = _int(amp, "amp", "get_D_status", 1, _UINT256_MAX)
        d = self._get_D(xp, amp)
        return d, self.last_get_D_converged

    #: Whether the last ``get_D`` Newton loop converged (False only after a silent legacy non-convergence).
    last_get_D_converged: bool = True

    def _get_D(self, xp: Sequence[int], amp: int) -> int:
        conv = self.convention
        n = len(xp)
        s = sum(xp)
        self.last_get_D_converged = True
        if s == 0:
            return 0
        d = s
        ann = amp * n
        ap = conv.a_precision
        for _ in range(_ITERATIONS):
            d_p = d
            if conv.d_p == "x_n":
                for x in xp:
                    d_p = _div(_chk(d_p * d), x * n)
            elif conv.d_p == "x_n_plus_1":
                for x in xp:
                    d_p = _chk(d_p * d) // (x * n + 1)
            else:
                for x in xp:
                    d_p = _div(_chk(d_p * d), x)
                d_p //= n**n
            d_prev = d
            if ap == 1:
                num = _chk((ann * s + d_p * n) * d)
                den = _sub(ann, 1) * d + (n + 1) * d_p
            else:
                num = _chk((ann * s // ap + d_p * n) * d)
                den = _sub(ann, ap) * d // ap + (n + 1) * d_p
            d = _div(num, den)
            if abs(d - d_prev) <= 1:
                return d
        if conv.revert_on_nonconvergence:
            raise Revert("[get_D did not converge]")
        self.last_get_D_converged = False
        return d

    def get_D_mem(self, balances: Sequence[int], amp: int) -> int:
        """``D`` of unscaled balances: the contract's ``get_D_mem`` / ``_get_D_mem``.

        Parameters
        ----------
        balances : sequence of int
            Coin balances in base units.
        amp : int
            The contract's internal amplification ``_A()``.

        Returns
        -------
        int
            ``get_D(xp(balances), amp)``.

        References
        ----------
        curvefi/curve-contract: ``get_D_mem`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``_get_D_mem`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``get_D`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``get_D_mem`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        balances = self._amounts(balances, "balances", "get_D_mem")
        amp = _int(amp, "amp", "get_D_mem", 1, _UINT256_MAX)
        return self._get_D(self._xp_mem(balances), amp)

    def _newton_y(self, b: int, c: int, d: int, what: str) -> int:
        y = d
        for _ in range(_ITERATIONS):
            y_prev = y
            y = _div(_chk(y * y + c), _sub(2 * y + b, d))
            if abs(y - y_prev) <= 1:
                return y
        if self.convention.revert_on_nonconvergence:
            raise Revert(f"[{what} did not converge]")
        return y

    def _c_b(self, c: int, s_: int, d: int, amp: int) -> tuple[int, int]:
        """Finish the quadratic's coefficients ``c`` and ``b``, with or without A_PRECISION."""
        n = self.n_coins
        ann = amp * n
        ap = self.convention.a_precision
        if ap == 1:
            return _chk(c * d) // (ann * n), s_ + d // ann
        return _chk(c * d * ap) // (ann * n), s_ + d * ap // ann

    def get_y(self, i: int, j: int, x: int, xp: Sequence[int]) -> int:
        """Balance of coin ``j`` that keeps ``D`` when coin ``i``'s rate-scaled balance becomes ``x``.

        The contract's ``get_y`` / ``_get_y``: ``D`` is computed from ``xp`` at the pool's ``amp``, then
        ``y ** 2 + (b - D) y = c`` is solved by Newton's method started at ``D``, each step rounding down.

        Parameters
        ----------
        i, j : int
            Coin indices.
        x : int
            New rate-scaled balance of coin ``i``.
        xp : sequence of int
            Current rate-scaled balances.

        Returns
        -------
        int
            The rate-scaled balance ``y`` of coin ``j``.

        Raises
        ------
        Revert
            ``"dev: same coin"`` when ``i == j``; ``"[get_y did not converge]"`` (not for ``ORIGINAL``).

        References
        ----------
        curvefi/curve-contract: ``get_y`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``_get_y`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``get_y`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``get_y`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        i = self._index(i, "i", "get_y")
        j = self._index(j, "j", "get_y")
        x = _int(x, "x", "get_y", 0, _UINT256_MAX)
        xp = _int_list(xp, "xp", "get_y", self.n_coins, 0, f"a sequence of {self.n_coins} non-negative ints")
        return self._get_y(i, j, x, xp)

    def _get_y(self, i: int, j: int, x: int, xp: Sequence[int]) -> int:
        if i == j:
            raise Revert("dev: same coin")
        n = self.n_coins
        d = self._get_D(xp, self.amp)
        c = d
        s_ = 0
        for k in range(n):
            if k == i:
                x_k = x
            elif k != j:
                x_k = xp[k]
            else:
                continue
            s_ += x_k
            c = _div(_chk(c * d), x_k * n)
        c, b = self._c_b(c, s_, d, self.amp)
        return self._newton_y(b, c, d, "get_y")

    def get_y_D(self, amp: int, i: int, xp: Sequence[int], D: int) -> int:
        """Balance of coin ``i`` that brings the invariant of ``xp`` to ``D``: the contract's ``get_y_D``.

        Parameters
        ----------
        amp : int
            The contract's internal amplification ``_A()``.
        i : int
            Coin index.
        xp : sequence of int
            Rate-scaled balances (coin ``i``'s entry is ignored).
        D : int
            Target invariant.

        Returns
        -------
        int
            The rate-scaled balance of coin ``i``, rounded as the contract rounds.

        References
        ----------
        curvefi/curve-contract: ``get_y_D`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``_get_y_D`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``get_y_D`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``get_y_D`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        amp = _int(amp, "amp", "get_y_D", 1, _UINT256_MAX)
        i = self._index(i, "i", "get_y_D")
        xp = _int_list(
            xp, "xp", "get_y_D", self.n_coins, 0, f"a sequence of {self.n_coins} non-negative ints"
        )
        D = _int(D, "D", "get_y_D", 0, _UINT256_MAX)
        return self._get_y_D(amp, i, xp, D)

    def _get_y_D(self, amp: int, i: int, xp: Sequence[int], d: int) -> int:
        n = self.n_coins
        c = d
        s_ = 0
        for k in range(n):
            if k == i:
                continue
            s_ += xp[k]
            c = _div(_chk(c * d), xp[k] * n)
        c, b = self._c_b(c, s_, d, amp)
        return self._newton_y(b, c, d, "get_y_D")

    def _dyn_fee(self, xpi: int, xpj: int, fee: int) -> int:
        """stableswap-ng's ``_dynamic_fee``: the fee rises as the two balances move apart."""
        mult = self.offpeg_fee_multiplier
        if not self.convention.dynamic_fee or mult <= FEE_DENOMINATOR:
            return fee
        xps2 = (xpi + xpj) ** 2
        return mult * fee // (_div((mult - FEE_DENOMINATOR) * 4 * xpi * xpj, xps2) + FEE_DENOMINATOR)

    def dynamic_fee(self, i: int, j: int) -> int:
        """Fee for a swap between coins ``i`` and ``j`` at the current balances, times ``10 ** 10``.

        ``NG``'s ``dynamic_fee`` view; for the other conventions (and a multiplier of at most ``10 ** 10``) the
        static ``fee``.

        Parameters
        ----------
        i, j : int
            Coin indices.

        Returns
        -------
        int
            ``fee * m / ((m - 10**10) * 4 * x_i * x_j / (x_i + x_j) ** 2 + 10**10)`` with ``m`` the multiplier.

        References
        ----------
        curvefi/stableswap-ng: ``dynamic_fee`` in ``contracts/main/CurveStableSwapNGViews.vy`` @ 11c152d.
        """
        i = self._index(i, "i", "dynamic_fee")
        j = self._index(j, "j", "dynamic_fee")
        xp = self.xp()
        return self._dyn_fee(xp[i], xp[j], self.fee)

    def get_p(self, i: int) -> int:
        """Spot price of coin ``i + 1`` in units of coin 0, times ``10 ** 18``: stableswap-ng's ``get_p``.

        ``dx_0 / dx_{i+1}`` along the invariant (before fee), in rate-scaled units. ``NG``'s ``_get_p`` with
        ``Dr = D / N**N * prod(D / x_k)``; for the other conventions the same formula at their ``A`` scaling
        (their contracts have no such function).

        Parameters
        ----------
        i : int
            Index in [0, n_coins - 2].

        Returns
        -------
        int
            ``10**18 * (Ann x_0 / A_PRECISION + Dr x_0 / x_{i+1}) / (Ann x_0 / A_PRECISION + Dr)``, rounded down.

        References
        ----------
        curvefi/stableswap-ng: ``get_p`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        i = _int(i, "i", "get_p", 0, self.n_coins - 2)
        n = self.n_coins
        xp = self.xp()
        d = self._get_D(xp, self.amp)
        dr = d // n**n
        for x in xp:
            dr = _div(_chk(dr * d), x)
        xp0_a = self.amp * n * xp[0] // self.convention.a_precision
        return _div(PRECISION * (xp0_a + _div(dr * xp[0], xp[i + 1])), xp0_a + dr)

    # ------------------------------------------------------------------------------------------------ swaps

    def _swap_out(self, i: int, j: int, dx: int, xp: list[int]) -> tuple[int, int, int]:
        """Return ``(x, y, dy)`` of a swap, ``dy = xp[j] - y - 1`` in rate-scaled units before fee."""
        x = xp[i] + _chk(dx * self.rates[i]) // PRECISION
        y = self._get_y(i, j, x, xp)
        return x, y, _sub(_sub(xp[j], y), 1)

    def get_dy(self, i: int, j: int, dx: int) -> int:
        """Amount of coin ``j`` received for ``dx`` of coin ``i``, after fee: the contract's ``get_dy`` view.

        Parameters
        ----------
        i, j : int
            Coins sold and bought.
        dx : int
            Amount of coin ``i`` sold, in its base units.

        Returns
        -------
        int
            ``dy`` in coin ``j``'s base units. ``ORIGINAL`` converts to coin units and then subtracts
            ``fee * dy // 10**10``; the others subtract the fee in rate-scaled units and convert last (as their
            ``exchange`` does), ``NG`` with its dynamic fee at the average of the balances before and after.

        Raises
        ------
        Revert
            ``"dev: same coin"``; ``"[uint256 underflow]"`` when the swap moves less than one unit.

        References
        ----------
        curvefi/curve-contract: ``get_dy`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``get_dy`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``get_dy`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``get_dy`` in ``contracts/main/CurveStableSwapNGViews.vy`` @ 11c152d.
        """
        i = self._index(i, "i", "get_dy")
        j = self._index(j, "j", "get_dy")
        dx = _int(dx, "dx", "get_dy", 0, _UINT256_MAX)
        xp = self.xp()
        x, y, dy = self._swap_out(i, j, dx, xp)
        if self.convention.get_dy_fee_after_conversion:
            dy = dy * PRECISION // self.rates[j]
            return dy - self.fee * dy // FEE_DENOMINATOR
        fee = self._dyn_fee((xp[i] + x) // 2, (xp[j] + y) // 2, self.fee) * dy // FEE_DENOMINATOR
        return (dy - fee) * PRECISION // self.rates[j]

    def exchange(self, i: int, j: int, dx: int, min_dy: int = 0) -> int:
        """Sell ``dx`` of coin ``i`` for coin ``j``: the contract's ``exchange``.

        The fee ``dy_fee = dy * fee // 10**10`` is taken in rate-scaled units; the trader receives
        ``(dy - dy_fee) * 10**18 // rates[j]`` and the admin share ``(dy_fee * admin_fee // 10**10) * 10**18 //
        rates[j]`` leaves the LP balance (rounding favours the LPs).

        Parameters
        ----------
        i, j : int
            Coins sold and bought.
        dx : int
            Amount of coin ``i`` sold, in its base units.
        min_dy : int, optional
            Least acceptable output.

        Returns
        -------
        int
            ``dy`` received, in coin ``j``'s base units.

        Raises
        ------
        Revert
            ``"Exchange resulted in fewer coins than expected"`` below ``min_dy``; ``"dev: do not exchange 0
            coins"`` (``NG``); ``"dev: same coin"``.

        References
        ----------
        curvefi/curve-contract: ``exchange`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``exchange`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``exchange`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``__exchange`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        i = self._index(i, "i", "exchange")
        j = self._index(j, "j", "exchange")
        dx = _int(dx, "dx", "exchange", 0, _UINT256_MAX)
        min_dy = _int(min_dy, "min_dy", "exchange", 0, _UINT256_MAX)
        if self.convention.zero_amount_reverts:
            if i == j:
                raise Revert("dev: coin index out of range")
            if dx == 0:
                raise Revert("dev: do not exchange 0 coins")
        xp = self._xp_mem(self.balances)
        x, y, dy = self._swap_out(i, j, dx, xp)
        dy_fee = dy * self._dyn_fee((xp[i] + x) // 2, (xp[j] + y) // 2, self.fee) // FEE_DENOMINATOR
        dy_out = (dy - dy_fee) * PRECISION // self.rates[j]
        if dy_out < min_dy:
            raise Revert("Exchange resulted in fewer coins than expected")
        dy_admin = (dy_fee * self.admin_fee // FEE_DENOMINATOR) * PRECISION // self.rates[j]
        new_bj = _sub(self.balances[j], dy_out + dy_admin)
        self.balances[i] += dx
        self.balances[j] = new_bj
        self.admin_balances[j] += dy_admin
        return dy_out

    # ------------------------------------------------------------------------------------------------ liquidity

    def get_virtual_price(self) -> int:
        """Value of one LP token in units of ``D``, times ``10 ** 18``: the contract's ``get_virtual_price``.

        Returns
        -------
        int
            ``D * 10**18 // lp_supply``.

        Raises
        ------
        Revert
            ``"[division by zero]"`` when the LP supply is 0.

        References
        ----------
        curvefi/curve-contract: ``get_virtual_price`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``get_virtual_price`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``get_virtual_price`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``get_virtual_price`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        return _div(self._get_D(self.xp(), self.amp) * PRECISION, self.lp_supply)

    def _imbalance_fees(self, old: list[int], new: list[int], d0: int, d1: int) -> list[int]:
        """Per-coin fee on the distance from a proportional deposit/withdrawal (rounded down)."""
        n = self.n_coins
        base_fee = self.fee * n // (4 * (n - 1))
        ys = (d0 + d1) // n
        fees = []
        for k in range(n):
            ideal = _div(d1 * old[k], d0)
            difference = abs(ideal - new[k])
            xs = self.rates[k] * (old[k] + new[k]) // PRECISION
            fees.append(self._dyn_fee(xs, ys, base_fee) * difference // FEE_DENOMINATOR)
        return fees

    def calc_token_amount(self, amounts: Sequence[int], is_deposit: bool) -> int:
        """LP tokens minted by depositing (or burned by withdrawing) ``amounts``: ``calc_token_amount``.

        ``diff(D) * lp_supply // D0``. As the contract says, it accounts for slippage but not for fees, except
        in ``NG``, whose views contract charges the imbalance fee as ``add_liquidity`` does.

        Parameters
        ----------
        amounts : sequence of int
            Amount of each coin, in base units.
        is_deposit : bool
            Deposit (True) or withdrawal (False).

        Returns
        -------
        int
            LP token amount.

        Raises
        ------
        Revert
            ``"[uint256 underflow]"`` when a withdrawal exceeds a balance; ``"[division by zero]"`` on an empty
            pool (``NG`` returns ``D1`` when the LP supply is 0).

        References
        ----------
        curvefi/curve-contract: ``calc_token_amount`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``calc_token_amount`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``calc_token_amount`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``_calc_token_amount`` in ``contracts/main/CurveStableSwapNGViews.vy`` @ 11c152d.
        """
        amounts = self._amounts(amounts, "amounts", "calc_token_amount")
        if not isinstance(is_deposit, bool):
            raise ParameterError(
                f"The 'is_deposit' parameter of calc_token_amount must be a bool. Got {is_deposit!r} instead."
            )
        old = list(self.balances)
        new = [b + a if is_deposit else _sub(b, a) for b, a in zip(old, amounts, strict=True)]
        d0 = self._get_D(self._xp_mem(old), self.amp)
        d1 = self._get_D(self._xp_mem(new), self.amp)
        if self.convention.calc_token_amount_fees:
            if self.lp_supply == 0:
                return d1
            fees = self._imbalance_fees(old, new, d0, d1)
            new = [_sub(b, f) for b, f in zip(new, fees, strict=True)]
            d1 = self._get_D(self._xp_mem(new), self.amp)
        diff = _sub(d1, d0) if is_deposit else _sub(d0, d1)
        return _div(diff * self.lp_supply, d0)

    def add_liquidity(self, amounts: Sequence[int], min_mint_amount: int = 0) -> int:
        """Deposit ``amounts``; mint LP tokens: the contract's ``add_liquidity``.

        Once the pool has LP supply, each coin pays ``fee * N / (4 (N - 1))`` on its distance from the
        proportional deposit ``D1 * old_balance // D0``; the admin share of that fee leaves the LP balance and
        ``lp_supply * (D2 - D0) // D0`` is minted, with ``D2`` the invariant after fees. The first deposit mints
        ``D1`` and needs every coin.

        Parameters
        ----------
        amounts : sequence of int
            Amount of each coin, in base units.
        min_mint_amount : int, optional
            Least acceptable LP amount.

        Returns
        -------
        int
            LP tokens minted.

        Raises
        ------
        Revert
            ``"Slippage screwed you"`` below ``min_mint_amount``; ``"dev: initial deposit requires all coins"``;
            ``"[assert D1 > D0]"`` when the deposit does not raise ``D``.

        References
        ----------
        curvefi/curve-contract: ``add_liquidity`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``add_liquidity`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``add_liquidity`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``add_liquidity`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        amounts = self._amounts(amounts, "amounts", "add_liquidity")
        min_mint_amount = _int(min_mint_amount, "min_mint_amount", "add_liquidity", 0, _UINT256_MAX)
        supply = self.lp_supply
        old = list(self.balances)
        if supply == 0 and any(a == 0 for a in amounts):
            raise Revert("dev: initial deposit requires all coins")
        # The original pools skip D0 on an empty pool; the templates compute it (0 for zero balances).
        d0 = 0 if (supply == 0 and self.convention is ORIGINAL) else self._get_D(self._xp_mem(old), self.amp)
        new = [b + a for b, a in zip(old, amounts, strict=True)]
        d1 = self._get_D(self._xp_mem(new), self.amp)
        if not d1 > d0:
            raise Revert("[assert D1 > D0]")
        admin = [0] * self.n_coins
        if supply > 0:
            fees = self._imbalance_fees(old, new, d0, d1)
            admin = [f * self.admin_fee // FEE_DENOMINATOR for f in fees]
            lp_balances = [b - a for b, a in zip(new, admin, strict=True)]
            after_fees = [_sub(b, f) for b, f in zip(new, fees, strict=True)]
            d2 = self._get_D(self._xp_mem(after_fees), self.amp)
            mint = supply * _sub(d2, d0) // d0
        else:
            lp_balances = new
            mint = d1
        if mint < min_mint_amount:
            raise Revert("Slippage screwed you")
        self.balances = lp_balances
        self.admin_balances = [a + b for a, b in zip(self.admin_balances, admin, strict=True)]
        self.lp_supply = supply + mint
        return mint

    def _calc_withdraw_one_coin(self, token_amount: int, i: int) -> tuple[int, int]:
        n = self.n_coins
        amp = self.amp
        xp = self.xp()
        d0 = self._get_D(xp, amp)
        d1 = _sub(d0, _div(token_amount * d0, self.lp_supply))
        new_y = self._get_y_D(amp, i, xp, d1)
        base_fee = self.fee * n // (4 * (n - 1))
        ys = (d0 + d1) // (2 * n)
        xp_reduced = list(xp)
        for k in range(n):
            if k == i:
                dx_expected = _sub(_div(xp[k] * d1, d0), new_y)
                xavg = (xp[k] + new_y) // 2
            else:
                dx_expected = _sub(xp[k], _div(xp[k] * d1, d0))
                xavg = xp[k]
            xp_reduced[k] = _sub(
                xp_reduced[k], self._dyn_fee(xavg, ys, base_fee) * dx_expected // FEE_DENOMINATOR
            )
        dy = _sub(xp_reduced[i], self._get_y_D(amp, i, xp_reduced, d1))
        # The plain pools divide by PRECISION_MUL = rates // 10**18, the meta template and NG multiply by
        # 10**18 / rates: for rates that are multiples of 10**18 the two floors are equal.
        dy_0 = _sub(xp[i], new_y) * PRECISION // self.rates[i]
        dy = _sub(dy, 1) * PRECISION // self.rates[i]
        return dy, _sub(dy_0, dy)

    def calc_withdraw_one_coin(self, token_amount: int, i: int) -> int:
        """Amount of coin ``i`` received for burning ``token_amount`` LP tokens: ``calc_withdraw_one_coin``.

        ``D`` falls by ``token_amount * D0 // lp_supply``; coin ``i``'s new balance solves ``get_y_D``; every
        coin is charged ``fee * N / (4 (N - 1))`` on its distance from the proportional withdrawal, and one unit
        is withheld against rounding.

        Parameters
        ----------
        token_amount : int
            LP tokens burned.
        i : int
            Coin withdrawn.

        Returns
        -------
        int
            Amount of coin ``i``, in its base units.

        Raises
        ------
        Revert
            ``"[uint256 underflow]"`` when ``token_amount`` exceeds the supply or rounds to nothing.

        References
        ----------
        curvefi/curve-contract: ``_calc_withdraw_one_coin`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``_calc_withdraw_one_coin`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``_calc_withdraw_one_coin`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``_calc_withdraw_one_coin`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        token_amount = _int(token_amount, "token_amount", "calc_withdraw_one_coin", 0, _UINT256_MAX)
        i = self._index(i, "i", "calc_withdraw_one_coin")
        return self._calc_withdraw_one_coin(token_amount, i)[0]

    def remove_liquidity_one_coin(self, token_amount: int, i: int, min_amount: int = 0) -> int:
        """Burn ``token_amount`` LP tokens for coin ``i``: the contract's ``remove_liquidity_one_coin``.

        Parameters
        ----------
        token_amount : int
            LP tokens burned.
        i : int
            Coin withdrawn.
        min_amount : int, optional
            Least acceptable amount.

        Returns
        -------
        int
            Amount of coin ``i`` received; the admin share of the fee also leaves the LP balance.

        Raises
        ------
        Revert
            ``"Not enough coins removed"`` below ``min_amount``; ``"dev: do not remove 0 LP tokens"`` (``NG``).

        References
        ----------
        curvefi/curve-contract: ``remove_liquidity_one_coin`` in ``contracts/pools/3pool/StableSwap3Pool.vy`` @ bae23a2,
        ``remove_liquidity_one_coin`` in ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e,
        ``remove_liquidity_one_coin`` in ``contracts/pools/steth/StableSwapSTETH.vy`` @ 395e612;
        curvefi/stableswap-ng: ``remove_liquidity_one_coin`` in ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        token_amount = _int(token_amount, "token_amount", "remove_liquidity_one_coin", 0, _UINT256_MAX)
        i = self._index(i, "i", "remove_liquidity_one_coin")
        min_amount = _int(min_amount, "min_amount", "remove_liquidity_one_coin", 0, _UINT256_MAX)
        if self.convention.zero_amount_reverts and token_amount == 0:
            raise Revert("dev: do not remove 0 LP tokens")
        dy, dy_fee = self._calc_withdraw_one_coin(token_amount, i)
        if dy < min_amount:
            raise Revert("Not enough coins removed")
        admin = dy_fee * self.admin_fee // FEE_DENOMINATOR
        new_bi = _sub(self.balances[i], dy + admin)
        self.balances[i] = new_bi
        self.admin_balances[i] += admin
        self.lp_supply -= token_amount
        return dy
