"""Curve CryptoSwap (v2), two coins: the invariant, swap, fee and repegging math, integer-exact.

A two-coin CryptoSwap pool holds coin 0 (the numeraire, ETH in CRV/ETH) and coin 1, and keeps an internal
``price_scale``: the price of coin 1 in coin 0 that the invariant is centred on. Balances are scaled to
``xp = [b0 * PRECISIONS[0], b1 * PRECISIONS[1] * price_scale / 1e18]`` and must satisfy, with
``K0 = 4 x0 x1 / D ** 2`` and ``A`` the contract's ``A()`` (``A * N ** N * A_MULTIPLIER``, 400000 for CRV/ETH):

.. math:: x_0 + x_1 - D = D \\frac{(\\gamma + 1 - K_0)^2 (1 - K_0)}{(A / 10^4)\\,\\gamma^2 K_0}

(the whitepaper's ``K D^{N-1} S + prod(x) = K D^N + (D/N)^N`` with ``K = A K0 gamma^2 / (gamma + 1 - K0)^2``,
divided by ``K D``). After every trade ``tweak_price`` updates the price oracle (an EMA of the last trade price
with half-life ``ma_half_time``), the profit counter ``xcp_profit`` and ``virtual_price``, and, when the pool has
earned more than half its profit plus ``allowed_extra_profit``, moves ``price_scale`` by ``adjustment_step``
towards the oracle if the virtual price stays above half the profit after the move.

The default arithmetic is the contract deployed as the CRV/ETH pool ``0x8301AE4fc9c624d1D396cbDAa1ed877821D7C511``
(``CurveCryptoSwap2ETH.vy`` as of 2021-11-24). ``norm_guard=True`` selects the later ``CurveCryptoSwap2ETH.vy``
/ ``CurveCryptoSwap2.vy`` (CVX/ETH onwards): it only flags an adjustment when the oracle is more than one step
away, and claims admin fees when a flagged adjustment turns out to be unnecessary.

Every integer operation rounds down; subtraction below zero and division by zero revert, as Vyper's checked
uint256 arithmetic does. Reverts raise :class:`firesale.mechanics.Revert` with the contract's reason string
(``"Slippage"``, ``"Loss"``, ``"Did not converge"``) or the developer comment Brownie reports
(``"dev: unsafe values x[i]"``); bare checked-arithmetic failures read ``"[uint256 underflow]"`` and
``"[division by zero]"``.

Not modelled: A and gamma ramps (``future_A_gamma_time`` is 0, so a falling virtual price reverts with
``"Loss"``), ``remove_liquidity_one_coin`` and ``calc_withdraw_one_coin``, ``commit_new_parameters``, the kill
switch, ETH/WETH wrapping (it does not change the math), donations to the pool (``_claim_admin_fees`` re-reads
the coin balances; here they always equal ``balances``), and uint256 overflow checks (the contract's range
assertions keep every product well below ``2 ** 256`` for the balances it accepts).

References
----------
- curvefi/curve-crypto-contract ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy`` (the source deployed as the
  CRV/ETH pool, committed in cf4dd2a96b763339f178649cbba7460a9f07559c) and ``scripts/deploy_mainnet_crv_pool.py``
  (its constructor arguments, commit 330175e17e5bab206f13d0a3a4b94bbcf07829ce).
- curvefi/curve-crypto-contract ``contracts/two/CurveCryptoSwap2ETH.vy`` at commit
  d7d04cd9ae038970e40be850df99de8c1ff7241b (last changed in 4ca95ab3efe2011950e2142a47f5768f020488f5): the
  ``norm_guard`` variant.
- curvefi/curve-crypto-contract ``contracts/tricrypto/CurveTokenV4.vy`` (``mint_relative``), same commit.
- M. Egorov, "Automatic market-making with dynamic peg", Curve whitepaper (2021).
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Sequence

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert

__all__ = [
    "A_MULTIPLIER",
    "FEE_DENOMINATOR",
    "MAX_A",
    "MAX_GAMMA",
    "MIN_A",
    "MIN_GAMMA",
    "PRECISION",
    "CryptoSwapPool",
    "geometric_mean",
    "halfpow",
    "newton_D",
    "newton_y",
]

N_COINS = 2
PRECISION = 10**18
A_MULTIPLIER = 10_000
FEE_DENOMINATOR = 10**10
MIN_A = N_COINS**N_COINS * A_MULTIPLIER // 10
MAX_A = N_COINS**N_COINS * A_MULTIPLIER * 100_000
MIN_GAMMA = 10**10
MAX_GAMMA = 2 * 10**16
_MAX_FEE = 10 * 10**9
_MAX_ADMIN_FEE = 10 * 10**9
_NOISE_FEE = 10**5
_EXP_PRECISION = 10**10
_UINT256_MAX = 2**256 - 1


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


def _uint(value: object, name: str, where: str, lo: int = 0, hi: int = _UINT256_MAX) -> int:
    if not isinstance(value, bool):
        try:
            as_int = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            pass
        else:
            if lo <= as_int <= hi:
                return as_int
    raise ParameterError(
        f"The '{name}' parameter of {where} must be an int in [{lo}, {hi}]. Got {value!r} instead."
    )


def _pair(value: object, name: str, where: str) -> list[int]:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and len(value) == N_COINS:
        try:
            return [_uint(v, name, where) for v in value]
        except ParameterError:
            pass
    raise ParameterError(
        f"The '{name}' parameter of {where} must be a sequence of 2 ints in [0, 2**256 - 1]. Got {value!r} instead."
    )


# ------------------------------------------------------------------------------------------------------ math


def geometric_mean(unsorted_x: Sequence[int], sort: bool) -> int:
    """``sqrt(x[0] * x[1])`` by Newton's method, as the contract's ``geometric_mean``.

    Parameters
    ----------
    unsorted_x : sequence of 2 int
        Values, 1e18-scaled.
    sort : bool
        Whether to start from the larger value (the contract sorts only where the order is unknown).

    Returns
    -------
    int
        The geometric mean, rounded by the contract's iteration (within a relative 1e-18 or one unit).

    Raises
    ------
    Revert
        ``"Did not converge"`` after 255 rounds; ``"[division by zero]"`` when the starting value is 0.

    References
    ----------
    ``geometric_mean`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy`` (curvefi/curve-crypto-contract).

    Examples
    --------
    >>> geometric_mean([4 * 10**18, 10**18], True)
    2000000000000000000
    """
    x = list(unsorted_x)
    if sort and x[0] < x[1]:
        x = [x[1], x[0]]
    d = x[0]
    for _ in range(255):
        d_prev = d
        d = (d + _div(x[0] * x[1], d)) // N_COINS
        diff = abs(d - d_prev)
        if diff <= 1 or diff * 10**18 < d:
            return d
    raise Revert("Did not converge")


def newton_D(ANN: int, gamma: int, x_unsorted: Sequence[int]) -> int:
    """The invariant ``D`` of scaled balances ``xp``: the contract's ``newton_D``.

    Parameters
    ----------
    ANN : int
        ``A()`` of the contract: ``A * N ** N * A_MULTIPLIER`` (400000 for CRV/ETH), in [MIN_A, MAX_A].
    gamma : int
        ``gamma()``, 1e18-scaled, in [MIN_GAMMA, MAX_GAMMA].
    x_unsorted : sequence of 2 int
        Scaled balances ``xp``.

    Returns
    -------
    int
        ``D``, starting from ``2 sqrt(x0 x1)`` and stopping when a Newton step moves it by less than
        ``max(1e16, D) / 1e14``.

    Raises
    ------
    Revert
        ``"dev: unsafe values A"``, ``"dev: unsafe values gamma"``, ``"dev: unsafe values x[0]"`` (the larger
        balance outside [1e9, 1e33]), ``"dev: unsafe values x[i] (input)"`` (a ratio below 1e-4),
        ``"dev: unsafe values x[i]"`` (a balance outside [0.01 D, 100 D]), ``"Did not converge"``.

    References
    ----------
    ``newton_D`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy`` (curvefi/curve-crypto-contract).
    """
    if not (MIN_A <= ANN <= MAX_A):
        raise Revert("dev: unsafe values A")
    if not (MIN_GAMMA <= gamma <= MAX_GAMMA):
        raise Revert("dev: unsafe values gamma")
    x = list(x_unsorted)
    if x[0] < x[1]:
        x = [x[1], x[0]]
    if not (10**9 <= x[0] <= 10**15 * 10**18):
        raise Revert("dev: unsafe values x[0]")
    if not x[1] * 10**18 // x[0] >= 10**14:
        raise Revert("dev: unsafe values x[i] (input)")
    d = N_COINS * geometric_mean(x, False)
    s = x[0] + x[1]
    for _ in range(255):
        d_prev = d
        k0 = _div(_div((10**18 * N_COINS**2) * x[0], d) * x[1], d)
        g1k0 = gamma + 10**18
        g1k0 = g1k0 - k0 + 1 if g1k0 > k0 else k0 - g1k0 + 1
        # D / (A N^N) * g1k0^2 / gamma^2, 1e18-scaled
        mul1 = 10**18 * d // gamma * g1k0 // gamma * g1k0 * A_MULTIPLIER // ANN
        mul2 = (2 * 10**18) * N_COINS * k0 // g1k0
        neg_fprime = _sub((s + s * mul2 // 10**18) + _div(mul1 * N_COINS, k0), mul2 * d // 10**18)
        d_plus = _div(d * (neg_fprime + s), neg_fprime)
        d_minus = d * d // neg_fprime
        if k0 < 10**18:
            d_minus += d * (mul1 // neg_fprime) // 10**18 * (10**18 - k0) // k0
        else:
            d_minus = _sub(d_minus, d * (mul1 // neg_fprime) // 10**18 * (k0 - 10**18) // k0)
        d = d_plus - d_minus if d_plus > d_minus else (d_minus - d_plus) // 2
        diff = abs(d - d_prev)
        if diff * 10**14 < max(10**16, d):
            for x_k in x:
                frac = _div(x_k * 10**18, d)
                if not (10**16 <= frac <= 10**20):
                    raise Revert("dev: unsafe values x[i]")
            return d
    raise Revert("Did not converge")


def newton_y(ANN: int, gamma: int, x: Sequence[int], D: int, i: int) -> int:
    """Scaled balance ``x[i]`` that keeps the invariant ``D`` given the other balance: ``newton_y``.

    Parameters
    ----------
    ANN : int
        ``A()`` of the contract, in [MIN_A, MAX_A].
    gamma : int
        ``gamma()``, 1e18-scaled, in [MIN_GAMMA, MAX_GAMMA].
    x : sequence of 2 int
        Scaled balances; only ``x[1 - i]`` is read.
    D : int
        The invariant, in [1e17, 1e33].
    i : int
        Index of the balance solved for.

    Returns
    -------
    int
        ``y``, from the constant-product guess ``D^2 / (4 x_j)``; a Newton step that would go negative halves
        ``y`` instead.

    Raises
    ------
    Revert
        ``"dev: unsafe values A"``, ``"dev: unsafe values gamma"``, ``"dev: unsafe values D"``,
        ``"dev: unsafe values x[i]"`` (``x_j / D`` outside [0.01, 100]), ``"dev: unsafe value for y"``,
        ``"Did not converge"``.

    References
    ----------
    ``newton_y`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy`` (curvefi/curve-crypto-contract).
    """
    if not (MIN_A <= ANN <= MAX_A):
        raise Revert("dev: unsafe values A")
    if not (MIN_GAMMA <= gamma <= MAX_GAMMA):
        raise Revert("dev: unsafe values gamma")
    if not (10**17 <= D <= 10**15 * 10**18):
        raise Revert("dev: unsafe values D")
    x_j = x[1 - i]
    y = _div(D**2, x_j * N_COINS**2)
    k0_i = (10**18 * N_COINS) * x_j // D
    if not (10**16 * N_COINS <= k0_i <= 10**20 * N_COINS):
        raise Revert("dev: unsafe values x[i]")
    convergence_limit = max(max(x_j // 10**14, D // 10**14), 100)
    for _ in range(255):
        y_prev = y
        k0 = k0_i * y * N_COINS // D
        s = x_j + y
        g1k0 = gamma + 10**18
        g1k0 = g1k0 - k0 + 1 if g1k0 > k0 else k0 - g1k0 + 1
        mul1 = 10**18 * D // gamma * g1k0 // gamma * g1k0 * A_MULTIPLIER // ANN
        mul2 = 10**18 + (2 * 10**18) * k0 // g1k0
        yfprime = 10**18 * y + s * mul2 + mul1
        dyfprime = D * mul2
        if yfprime < dyfprime:
            y = y_prev // 2
            continue
        yfprime -= dyfprime
        fprime = _div(yfprime, y)
        y_minus = _div(mul1, fprime)
        y_plus = (yfprime + 10**18 * D) // fprime + _div(y_minus * 10**18, k0)
        y_minus += 10**18 * s // fprime
        y = y_prev // 2 if y_plus < y_minus else y_plus - y_minus
        diff = abs(y - y_prev)
        if diff < max(convergence_limit, y // 10**14):
            frac = y * 10**18 // D
            if not (10**16 <= frac <= 10**20):
                raise Revert("dev: unsafe value for y")
            return y
    raise Revert("Did not converge")


def halfpow(power: int) -> int:
    """``1e18 * 0.5 ** (power / 1e18)``: the contract's ``halfpow``.

    The fractional part is a binomial series of ``(1 - 1/2) ** f``, stopped when a term falls below
    ``EXP_PRECISION = 1e10``: the result is within about 1e-8 relative of the true power.

    Parameters
    ----------
    power : int
        Exponent, 1e18-scaled.

    Returns
    -------
    int
        ``0.5 ** (power / 1e18)``, 1e18-scaled; 0 for ``power >= 60e18``.

    Raises
    ------
    Revert
        ``"Did not converge"`` after 255 terms.

    References
    ----------
    ``halfpow`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy`` (curvefi/curve-crypto-contract).

    Examples
    --------
    >>> halfpow(2 * 10**18)
    250000000000000000
    """
    intpow = power // 10**18
    otherpow = power - intpow * 10**18
    if intpow > 59:
        return 0
    result = 10**18 // 2**intpow
    if otherpow == 0:
        return result
    term = 10**18
    x = 5 * 10**17
    s = 10**18
    neg = False
    for i in range(1, 256):
        k = i * 10**18
        c = k - 10**18
        if otherpow > c:
            c = otherpow - c
            neg = not neg
        else:
            c -= otherpow
        term = term * (c * x // 10**18) // k
        s = _sub(s, term) if neg else s + term
        if term < _EXP_PRECISION:
            return result * s // 10**18
    raise Revert("Did not converge")


# ------------------------------------------------------------------------------------------------------ pool


class CryptoSwapPool:
    """A two-coin Curve CryptoSwap pool's state and its contract functions, integer-exact.

    The constructor mirrors the contract's: an empty pool whose first :meth:`add_liquidity` mints
    ``get_xcp(D)`` LP tokens (virtual price 1). Time is the attribute :attr:`timestamp` (``block.timestamp``);
    advance it with :meth:`sleep`.

    Parameters
    ----------
    A : int
        ``A * N ** N * A_MULTIPLIER`` as the contract's ``A()`` reports it, in [4000, 4e9] (400000 for CRV/ETH).
    gamma : int
        1e18-scaled, in [1e10, 2e16] (145000000000000 for CRV/ETH).
    mid_fee, out_fee : int
        Fees at balance and far from it, 1e10-scaled (26000000 and 45000000 for CRV/ETH), ``mid_fee <=
        out_fee``, ``out_fee`` in [0, 1e10] (``commit_new_parameters`` would require at least 5e5).
    allowed_extra_profit : int
        1e18-scaled, in [0, 1e18] (2000000000000 for CRV/ETH).
    fee_gamma : int
        1e18-scaled, in [1, 1e18] (230000000000000 for CRV/ETH).
    adjustment_step : int
        Smallest ``price_scale`` move, 1e18-scaled, in [0, 1e18] (146000000000000 for CRV/ETH).
    admin_fee : int
        Share of the profit minted to the admin, 1e10-scaled, in [0, 1e10] (5000000000 for CRV/ETH).
    ma_half_time : int
        Half-life of the price oracle's EMA, seconds, in [1, 7 days) (600 for CRV/ETH).
    initial_price : int
        Starting ``price_scale`` = ``price_oracle`` = ``last_prices``: the price of coin 1 in coin 0, 1e18-scaled.
    precisions : sequence of 2 int, optional
        ``10 ** (18 - decimals)`` per coin; (1, 1) for two 18-decimal coins (CRV/ETH).
    timestamp : int, optional
        ``block.timestamp`` at construction.
    norm_guard : bool, optional
        False (default): ``tweak_price`` of the deployed CRV/ETH pool. True: the later ``CurveCryptoSwap2ETH.vy``.

    Attributes
    ----------
    balances : list of int
        Coin balances in base units.
    D, price_scale, price_oracle, last_prices, last_prices_timestamp, xcp_profit, xcp_profit_a, virtual_price :
    int
        The contract's storage of the same names.
    not_adjusted : bool
        The contract's ``not_adjusted`` flag (a price_scale adjustment is pending).
    lp_supply : int
        The LP token's ``totalSupply``; ``admin_lp`` is the part minted to the admin fee receiver.

    Examples
    --------
    >>> pool = CryptoSwapPool(400_000, 145 * 10**12, 26 * 10**6, 45 * 10**6, 2 * 10**12, 230 * 10**12,
    ...                       146 * 10**12, 5 * 10**9, 600, 10**18)
    >>> pool.add_liquidity([10**24, 10**24])
    1000000000000000000000000
    >>> pool.D
    2000000000000000000000000
    """

    def __init__(
        self,
        A: int,
        gamma: int,
        mid_fee: int,
        out_fee: int,
        allowed_extra_profit: int,
        fee_gamma: int,
        adjustment_step: int,
        admin_fee: int,
        ma_half_time: int,
        initial_price: int,
        *,
        precisions: Sequence[int] = (1, 1),
        timestamp: int = 0,
        norm_guard: bool = False,
    ) -> None:
        where = "CryptoSwapPool"
        self.A = _uint(A, "A", where, MIN_A, MAX_A)
        self.gamma = _uint(gamma, "gamma", where, MIN_GAMMA, MAX_GAMMA)
        # The constructor checks nothing; the bounds are those commit_new_parameters enforces, except that a
        # zero fee is allowed for tests of the invariant.
        self.out_fee = _uint(out_fee, "out_fee", where, 0, _MAX_FEE)
        self.mid_fee = _uint(mid_fee, "mid_fee", where, 0, self.out_fee)
        self.allowed_extra_profit = _uint(allowed_extra_profit, "allowed_extra_profit", where, 0, 10**18)
        self.fee_gamma = _uint(fee_gamma, "fee_gamma", where, 1, 10**18)
        self.adjustment_step = _uint(adjustment_step, "adjustment_step", where, 0, 10**18)
        self.admin_fee = _uint(admin_fee, "admin_fee", where, 0, _MAX_ADMIN_FEE)
        self.ma_half_time = _uint(ma_half_time, "ma_half_time", where, 1, 7 * 86400 - 1)
        initial_price = _uint(initial_price, "initial_price", where, 1)
        self.precisions = tuple(_pair(precisions, "precisions", where))
        if not all(p >= 1 for p in self.precisions):
            raise ParameterError(
                f"The 'precisions' parameter of {where} must be 2 positive ints. Got {precisions!r} instead."
            )
        self.timestamp = _uint(timestamp, "timestamp", where)
        if not isinstance(norm_guard, bool):
            raise ParameterError(
                f"The 'norm_guard' parameter of {where} must be a bool. Got {norm_guard!r} instead."
            )
        self.norm_guard = norm_guard
        self.price_scale = initial_price
        self.price_oracle = initial_price
        self.last_prices = initial_price
        self.last_prices_timestamp = self.timestamp
        self.balances = [0, 0]
        self.D = 0
        self.xcp_profit = 0
        self.xcp_profit_a = 10**18
        self.virtual_price = 0
        self.not_adjusted = False
        self.lp_supply = 0
        self.admin_lp = 0

    def sleep(self, seconds: int) -> None:
        """Advance ``block.timestamp`` by ``seconds`` (>= 0)."""
        self.timestamp += _uint(seconds, "seconds", "CryptoSwapPool.sleep")

    # --------------------------------------------------------------------------------------------- views

    def xp(self) -> list[int]:
        """Scaled balances ``[b0 * prec0, b1 * prec1 * price_scale // 1e18]``: the contract's ``xp``."""
        return [
            self.balances[0] * self.precisions[0],
            self.balances[1] * self.precisions[1] * self.price_scale // PRECISION,
        ]

    def _fee(self, xp: Sequence[int]) -> int:
        f = xp[0] + xp[1]
        f = _div(
            self.fee_gamma * 10**18,
            _sub(self.fee_gamma + 10**18, _div(_div((10**18 * N_COINS**N_COINS) * xp[0], f) * xp[1], f)),
        )
        return (self.mid_fee * f + self.out_fee * (10**18 - f)) // 10**18

    def fee(self) -> int:
        """Current swap fee, 1e10-scaled: ``mid_fee f + out_fee (1 - f)``, ``f = fee_gamma / (fee_gamma + 1 - K)``.

        ``K = 4 x0 x1 / (x0 + x1) ** 2`` is 1 at balance (fee ``mid_fee``) and falls towards 0 far from it
        (fee towards ``out_fee``).

        References
        ----------
        ``_fee`` and ``fee`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy``.
        """
        return self._fee(self.xp())

    def get_xcp(self, D: int) -> int:
        """``sqrt(D/2 * D/(2 price_scale))``: the value of the pool at balance, as ``get_xcp``."""
        return geometric_mean([D // N_COINS, _div(D * PRECISION, self.price_scale * N_COINS)], True)

    def get_virtual_price(self) -> int:
        """``1e18 * get_xcp(D) // lp_supply``: the contract's ``get_virtual_price``."""
        return _div(10**18 * self.get_xcp(self.D), self.lp_supply)

    def get_dy(self, i: int, j: int, dx: int) -> int:
        """Amount of coin ``j`` that selling ``dx`` of coin ``i`` would return: the contract's ``get_dy``.

        ``dy = xp[j] - newton_y(...) - 1`` in scaled units, converted to coin units, less the fee of the
        post-trade balances. Uses the stored ``D``.

        Parameters
        ----------
        i, j : int
            Coins sold and bought (0 or 1, distinct).
        dx : int
            Amount of coin ``i``, base units.

        Returns
        -------
        int
            ``dy`` in coin ``j``'s base units; equal to what :meth:`exchange` pays.

        References
        ----------
        ``get_dy`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy``.
        """
        i, j = self._ij(i, j, "get_dy")
        dx = _uint(dx, "dx", "get_dy")
        price_scale = self.price_scale * self.precisions[1]
        xp = list(self.balances)
        xp[i] += dx
        xp = [xp[0] * self.precisions[0], xp[1] * price_scale // PRECISION]
        y = newton_y(self.A, self.gamma, xp, self.D, j)
        dy = _sub(_sub(xp[j], y), 1)
        xp[j] = y
        dy = _div(dy * PRECISION, price_scale) if j > 0 else dy // self.precisions[0]
        return dy - self._fee(xp) * dy // FEE_DENOMINATOR

    @staticmethod
    def _ij(i: object, j: object, where: str) -> tuple[int, int]:
        i = _uint(i, "i", where, 0, 1)
        j = _uint(j, "j", where, 0, 1)
        if i == j:
            raise Revert("dev: coin index out of range")
        return i, j

    # --------------------------------------------------------------------------------------------- state changes

    def _claim_admin_fees(self) -> None:
        xcp_profit = self.xcp_profit
        xcp_profit_a = self.xcp_profit_a
        vprice = self.virtual_price
        if xcp_profit > xcp_profit_a:
            fees = (xcp_profit - xcp_profit_a) * self.admin_fee // (2 * 10**10)
            if fees > 0:
                frac = _div(vprice * 10**18, _sub(vprice, fees)) - 10**18
                claimed = self.lp_supply * frac // 10**18  # CurveTokenV4.mint_relative
                self.lp_supply += claimed
                self.admin_lp += claimed
                xcp_profit -= fees * 2
                self.xcp_profit = xcp_profit
        d = newton_D(self.A, self.gamma, self.xp())
        self.D = d
        self.virtual_price = _div(10**18 * self.get_xcp(d), self.lp_supply)
        if xcp_profit > xcp_profit_a:
            self.xcp_profit_a = xcp_profit

    def _tweak_price(self, xp_in: list[int], p_i: int, new_d: int) -> None:
        """``tweak_price``: oracle EMA, last price, profit counters, and the price_scale repeg."""
        ann, gamma = self.A, self.gamma
        price_oracle = self.price_oracle
        last_prices = self.last_prices
        price_scale = self.price_scale
        if self.last_prices_timestamp < self.timestamp:
            alpha = halfpow((self.timestamp - self.last_prices_timestamp) * 10**18 // self.ma_half_time)
            price_oracle = (last_prices * (10**18 - alpha) + price_oracle * alpha) // 10**18
            self.price_oracle = price_oracle
            self.last_prices_timestamp = self.timestamp

        d_unadjusted = new_d if new_d != 0 else newton_D(ann, gamma, xp_in)
        if p_i > 0:
            last_prices = p_i
        else:
            xq = list(xp_in)
            dx_price = xq[0] // 10**6
            xq[0] += dx_price
            last_prices = _div(
                price_scale * dx_price, _sub(xp_in[1], newton_y(ann, gamma, xq, d_unadjusted, 1))
            )
        self.last_prices = last_prices

        total_supply = self.lp_supply
        old_xcp_profit = self.xcp_profit
        old_virtual_price = self.virtual_price
        xp = [d_unadjusted // N_COINS, _div(d_unadjusted * PRECISION, N_COINS * price_scale)]
        xcp_profit = 10**18
        virtual_price = 10**18
        if old_virtual_price > 0:
            xcp = geometric_mean(xp, True)
            virtual_price = _div(10**18 * xcp, total_supply)
            xcp_profit = old_xcp_profit * virtual_price // old_virtual_price
            if virtual_price < old_virtual_price:  # no ramp: future_A_gamma_time == 0
                raise Revert("Loss")
        self.xcp_profit = xcp_profit

        norm = _div(price_oracle * 10**18, price_scale)
        norm = norm - 10**18 if norm > 10**18 else 10**18 - norm
        adjustment_step = max(self.adjustment_step, norm // 10)

        needs_adjustment = self.not_adjusted
        if (
            not needs_adjustment
            and (_sub(virtual_price * 2, 10**18) > xcp_profit + 2 * self.allowed_extra_profit)
            and (not self.norm_guard or (norm > adjustment_step and old_virtual_price > 0))
        ):
            needs_adjustment = True
            self.not_adjusted = True

        if needs_adjustment:
            if norm > adjustment_step and old_virtual_price > 0:
                p_new = (price_scale * (norm - adjustment_step) + adjustment_step * price_oracle) // norm
                xp = [xp_in[0], xp_in[1] * p_new // price_scale]
                d = newton_D(ann, gamma, xp)
                xp = [d // N_COINS, _div(d * PRECISION, N_COINS * p_new)]
                old_virtual_price = _div(10**18 * geometric_mean(xp, True), total_supply)
                if old_virtual_price > 10**18 and 2 * old_virtual_price - 10**18 > xcp_profit:
                    self.price_scale = p_new
                    self.D = d
                    self.virtual_price = old_virtual_price
                    return
                self.not_adjusted = False
                self.D = d_unadjusted
                self.virtual_price = virtual_price
                self._claim_admin_fees()
                return
            if self.norm_guard:
                # The later contract: the oracle came within one step, so the pending adjustment is dropped.
                self.not_adjusted = False
                self.D = d_unadjusted
                self.virtual_price = virtual_price
                self._claim_admin_fees()
                return

        self.D = d_unadjusted
        self.virtual_price = virtual_price

    def _snapshot(self) -> dict[str, object]:
        return copy.deepcopy(vars(self))

    def _restore(self, saved: dict[str, object]) -> None:
        self.__dict__.clear()
        self.__dict__.update(saved)

    def exchange(self, i: int, j: int, dx: int, min_dy: int = 0) -> int:
        """Sell ``dx`` of coin ``i`` for coin ``j``: the contract's ``exchange`` with its ``tweak_price``.

        The output is :meth:`get_dy`'s; the fee stays in the pool. The trade's price ``dx/dy`` (``dy/dx`` when
        coin 0 is bought) becomes ``last_prices`` when both amounts exceed 1e5 units, else the marginal price is
        probed with a 1e-6 trade. Then ``tweak_price`` runs: the oracle EMA (when time has passed since the
        last update), ``xcp_profit`` and ``virtual_price`` from the new ``D``, and the ``price_scale`` repeg
        described in the module docstring.

        Parameters
        ----------
        i, j : int
            Coins sold and bought.
        dx : int
            Amount of coin ``i`` sold, base units, > 0.
        min_dy : int, optional
            Least acceptable output.

        Returns
        -------
        int
            ``dy`` received, coin ``j``'s base units.

        Raises
        ------
        Revert
            ``"dev: do not exchange 0 coins"``, ``"dev: coin index out of range"``, ``"Slippage"``, ``"Loss"`` and
            the math's range reverts. The state is unchanged after a revert.

        References
        ----------
        ``_exchange`` and ``tweak_price`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy``.
        """
        i, j = self._ij(i, j, "exchange")
        dx = _uint(dx, "dx", "exchange")
        min_dy = _uint(min_dy, "min_dy", "exchange")
        if dx == 0:
            raise Revert("dev: do not exchange 0 coins")
        saved = self._snapshot()
        try:
            return self._exchange(i, j, dx, min_dy)
        except Revert:
            self._restore(saved)
            raise

    def _exchange(self, i: int, j: int, dx: int, min_dy: int) -> int:
        xp = list(self.balances)
        y = xp[j]
        xp[i] = xp[i] + dx
        self.balances[i] = xp[i]
        price_scale = self.price_scale
        xp = [xp[0] * self.precisions[0], xp[1] * price_scale * self.precisions[1] // PRECISION]
        prec_i, prec_j = (self.precisions[0], self.precisions[1]) if i == 0 else self.precisions[::-1]
        dy = _sub(xp[j], newton_y(self.A, self.gamma, xp, self.D, j))
        xp[j] -= dy
        dy = _sub(dy, 1)
        if j > 0:
            dy = dy * PRECISION // price_scale
        dy //= prec_j
        dy -= self._fee(xp) * dy // FEE_DENOMINATOR
        if dy < min_dy:
            raise Revert("Slippage")
        y = _sub(y, dy)
        self.balances[j] = y
        y *= prec_j
        if j > 0:
            y = y * price_scale // PRECISION
        xp[j] = y
        p = 0
        if dx > 10**5 and dy > 10**5:
            _dx, _dy = dx * prec_i, dy * prec_j
            p = _dx * 10**18 // _dy if i == 0 else _dy * 10**18 // _dx
        self._tweak_price(xp, p, 0)
        return dy

    def _calc_token_fee(self, amounts: Sequence[int], xp: Sequence[int]) -> int:
        fee = self._fee(xp) * N_COINS // (4 * (N_COINS - 1))
        s = sum(amounts)
        avg = s // N_COINS
        sdiff = sum(abs(a - avg) for a in amounts)
        return fee * sdiff // s + _NOISE_FEE

    def calc_token_amount(self, amounts: Sequence[int]) -> int:
        """LP tokens a deposit of ``amounts`` would mint: the contract's ``calc_token_amount``.

        References
        ----------
        ``calc_token_amount`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy``.
        """
        amounts = _pair(amounts, "amounts", "calc_token_amount")
        price_scale = self.price_scale * self.precisions[1]
        xp = self.xp()
        amountsp = [amounts[0] * self.precisions[0], amounts[1] * price_scale // PRECISION]
        d0 = self.D
        xp = [xp[0] + amountsp[0], xp[1] + amountsp[1]]
        d = newton_D(self.A, self.gamma, xp)
        d_token = _sub(_div(self.lp_supply * d, d0), self.lp_supply)
        return _sub(d_token, self._calc_token_fee(amountsp, xp) * d_token // FEE_DENOMINATOR + 1)

    def add_liquidity(self, amounts: Sequence[int], min_mint_amount: int = 0) -> int:
        """Deposit ``amounts``; mint LP tokens: the contract's ``add_liquidity``.

        The first deposit mints ``get_xcp(D)`` (virtual price 1). Later ones mint ``supply * D / D0 - supply``
        less ``(fee/2 * |a - avg| / sum(a) + NOISE_FEE)`` of it, and run ``tweak_price`` (with the implied price
        of a one-sided deposit as ``last_prices``).

        Parameters
        ----------
        amounts : sequence of 2 int
            Amount of each coin, base units; at least one > 0.
        min_mint_amount : int, optional
            Least acceptable LP amount.

        Returns
        -------
        int
            LP tokens minted.

        Raises
        ------
        Revert
            ``"dev: no coins to add"``, ``"dev: nothing minted"``, ``"Slippage"``, ``"Loss"`` and the math's range
            reverts. The state is unchanged after a revert.

        References
        ----------
        ``add_liquidity`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy``.
        """
        amounts = _pair(amounts, "amounts", "add_liquidity")
        min_mint_amount = _uint(min_mint_amount, "min_mint_amount", "add_liquidity")
        if amounts[0] == 0 and amounts[1] == 0:
            raise Revert("dev: no coins to add")
        saved = self._snapshot()
        try:
            return self._add_liquidity(amounts, min_mint_amount)
        except Revert:
            self._restore(saved)
            raise

    def _add_liquidity(self, amounts: list[int], min_mint_amount: int) -> int:
        prec = self.precisions
        xp_old = list(self.balances)
        xx = [b + a for b, a in zip(xp_old, amounts, strict=True)]
        self.balances = list(xx)
        price_scale = self.price_scale * prec[1]
        xp = [xx[0] * prec[0], xx[1] * price_scale // PRECISION]
        xp_old = [xp_old[0] * prec[0], xp_old[1] * price_scale // PRECISION]
        amountsp = [xp[k] - xp_old[k] if amounts[k] > 0 else 0 for k in range(N_COINS)]
        old_d = self.D
        d = newton_D(self.A, self.gamma, xp)
        token_supply = self.lp_supply
        d_token = _sub(_div(token_supply * d, old_d), token_supply) if old_d > 0 else self.get_xcp(d)
        if d_token <= 0:
            raise Revert("dev: nothing minted")
        if old_d > 0:
            d_token_fee = self._calc_token_fee(amountsp, xp) * d_token // FEE_DENOMINATOR + 1
            d_token = _sub(d_token, d_token_fee)
            token_supply += d_token
            self.lp_supply = token_supply
            p = 0
            if d_token > 10**5 and (amounts[0] == 0 or amounts[1] == 0):
                if amounts[0] == 0:
                    s, precision, ix = xx[0] * prec[0], prec[1], 1
                else:
                    s, precision, ix = xx[1] * prec[1], prec[0], 0
                s = s * d_token // token_supply
                p = _div(
                    s * PRECISION, _sub(amounts[ix] * precision, d_token * xx[ix] * precision // token_supply)
                )
                if ix == 0:
                    p = _div((10**18) ** 2, p)
            self._tweak_price(xp, p, d)
        else:
            self.D = d
            self.virtual_price = 10**18
            self.xcp_profit = 10**18
            self.lp_supply += d_token
        if d_token < min_mint_amount:
            raise Revert("Slippage")
        return d_token

    def remove_liquidity(self, amount: int) -> list[int]:
        """Burn ``amount`` LP tokens for a pro-rata share of both coins: the contract's ``remove_liquidity``.

        Each coin pays ``balance * (amount - 1) // supply``; ``D`` falls by the same fraction. No ``tweak_price``.

        Returns
        -------
        list of int
            Amounts of coin 0 and coin 1 paid out.

        References
        ----------
        ``remove_liquidity`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy``.
        """
        amount = _uint(amount, "amount", "remove_liquidity", 1, self.lp_supply)
        total_supply = self.lp_supply
        amount_ = amount - 1
        out = [b * amount_ // total_supply for b in self.balances]
        self.balances = [b - o for b, o in zip(self.balances, out, strict=True)]
        self.D = self.D - self.D * amount_ // total_supply
        self.lp_supply = total_supply - amount
        return out
