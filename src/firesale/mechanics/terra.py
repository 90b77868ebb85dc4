"""Terra's ``x/market`` module (Terra Classic, core v0.5): the mint/burn swap through a virtual constant-product pool.

A swap between LUNA and a Terra stablecoin is not a trade against reserves: the offered coin is burned and the
asked coin minted at the oracle exchange rate, less a *spread* that the module computes from a virtual
constant-product pool measured in SDR. The pool state is one number, ``TerraPoolDelta``: how far the virtual Terra
pool sits from ``BasePool``. Swapping Terra into LUNA raises it (the Terra pool fills, the LUNA pool empties), so
later Terra-to-LUNA swaps pay a wider spread; each block the delta decays by ``delta / PoolRecoveryPeriod``
(truncated), which is what limits how much UST can be burned into LUNA per day at a bearable spread.

Numbers are ``sdk.Dec`` as the module computes them: Python ints scaled by ``10**18`` (:data:`PRECISION`), with the
Cosmos SDK's rounding: ``Mul`` and ``Quo`` round half to even at the 18th decimal, ``QuoInt64`` truncates,
``TruncateDecimal`` drops the fraction. Coin amounts (``sdk.Int``) are plain ints in micro-units (``uluna``,
``uusd``, ``usdr``). Exchange rates are the oracle's *LUNA* exchange rates: ``rates[denom]`` is the price of one
LUNA in ``denom`` (a Dec), and LUNA's own rate is 1.

Use :func:`dec` to write a Dec from a decimal string (``dec("0.005")``).

References
----------
.. [1] terra-money/classic-core, ``x/market/keeper/swap.go`` (commit 29593b3bb3b2560bfcce6f8bd274675ca16831eb):
   ``ComputeSwap``, ``ComputeInternalSwap``, ``ApplySwapToPool``.
.. [2] terra-money/classic-core, ``x/market/keeper/msg_server.go`` (commit 412c186b5c1e8c1efa6583ad4e176254b829613a):
   ``handleSwapRequest`` (fee = spread x ask amount, burned offer, minted ask plus fee, truncation).
.. [3] terra-money/classic-core, ``x/market/keeper/keeper.go``: ``ReplenishPools``; ``x/market/types/params.go``
   (commit 1e68e3a42ab8bcae388f206e7897951b7f478d0b): parameters, defaults and their validation.
.. [4] cosmos-sdk ``types/decimal.go`` (v0.40-v0.44): ``Dec`` with 18 decimals, ``chopPrecisionAndRound``
   (banker's rounding), ``QuoInt64`` truncating.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert

__all__ = [
    "LUNA",
    "PRECISION",
    "SDR",
    "MarketParams",
    "SwapResult",
    "apply_swap_to_pool",
    "compute_internal_swap",
    "compute_swap",
    "dec",
    "dec_mul",
    "dec_quo",
    "dec_quo_int64",
    "replenish_pools",
    "swap",
    "truncate_decimal",
]

PRECISION: Final = 10**18
LUNA: Final = "uluna"
SDR: Final = "usdr"
_ONE: Final = PRECISION


def dec(value: str | int) -> int:
    """The ``sdk.Dec`` of a decimal string or int (exact; more than 18 decimals is an error).

    >>> dec("0.005")
    5000000000000000
    """
    d = Decimal(value) * PRECISION
    if d != d.to_integral_value():
        raise ParameterError(
            f"The 'value' parameter of dec must have at most 18 decimals. Got {value!r} instead."
        )
    return int(d)


def _chop_round(x: int) -> int:
    """``chopPrecisionAndRound``: divide by 10**18, round half to even, symmetric for negatives."""
    if x < 0:
        return -_chop_round(-x)
    q, r = divmod(x, PRECISION)
    half = PRECISION // 2
    if r < half:
        return q
    if r > half:
        return q + 1
    return q if q % 2 == 0 else q + 1


def dec_mul(a: int, b: int) -> int:
    """``Dec.Mul``."""
    return _chop_round(a * b)


def dec_quo(a: int, b: int) -> int:
    """``Dec.Quo`` (big.Int ``Quo`` truncates toward zero before the rounding chop); division by zero reverts."""
    if b == 0:
        raise Revert("division by zero")
    num = a * PRECISION * PRECISION
    q = abs(num) // abs(b)
    return _chop_round(q if (num >= 0) == (b > 0) else -q)


def dec_quo_int64(a: int, n: int) -> int:
    """``Dec.QuoInt64``: truncated toward zero."""
    q = abs(a) // abs(n)
    return q if (a >= 0) == (n > 0) else -q


def truncate_decimal(a: int) -> tuple[int, int]:
    """``DecCoin.TruncateDecimal`` of a non-negative amount: (whole coins as an int, the fraction as a Dec)."""
    whole = a // PRECISION
    return whole, a - whole * PRECISION


@dataclass(frozen=True)
class MarketParams:
    """The market module's parameters (``x/market/types/params.go``).

    Attributes
    ----------
    base_pool : int
        ``BasePool``, Dec in ``usdr`` (micro-SDR): the size of each virtual pool at equilibrium. Default 1,000,000
        SDR; on 7 May 2022 it was 50,000,000 SDR (raised by governance during the collapse).
    pool_recovery_period : int
        ``PoolRecoveryPeriod`` in blocks (default 14,400, one day; 36 blocks before the collapse).
    min_stability_spread : int
        ``MinStabilitySpread``, Dec in [0, 1] (default 0.02; 0.005 in May 2022).
    """

    base_pool: int = 1_000_000 * PRECISION * 10**6
    pool_recovery_period: int = 14_400
    min_stability_spread: int = 2 * 10**16

    def __post_init__(self) -> None:
        # Params.Validate, with the module's own messages.
        if self.base_pool < 0:
            raise Revert(f"mint base pool should be positive or zero, is {self.base_pool}")
        if self.pool_recovery_period <= 0:
            raise Revert(f"pool recovery period should be positive, is {self.pool_recovery_period}")
        if not 0 <= self.min_stability_spread <= _ONE:
            raise Revert(
                f"market minimum stability spead should be a value between [0,1], is {self.min_stability_spread}"
            )


def _rate(rates: dict[str, int], denom: str) -> int:
    if denom == LUNA:
        return _ONE
    try:
        return rates[denom]
    except KeyError:
        raise Revert(f"no price registered with oracle: {denom}") from None


def compute_internal_swap(offer_amount: int, offer_denom: str, ask_denom: str, rates: dict[str, int]) -> int:
    """``ComputeInternalSwap``: ``offer_amount`` (Dec) of ``offer_denom`` in ``ask_denom`` at the oracle rates (Dec).

    Reverts with the module's error when a rate is missing or the result is not positive.
    """
    if offer_denom == ask_denom:
        return offer_amount
    offer_rate = _rate(rates, offer_denom)
    ask_rate = _rate(rates, ask_denom)
    ret = dec_quo(dec_mul(offer_amount, ask_rate), offer_rate)
    if ret <= 0:
        raise Revert(f"invalid coins: {offer_amount}{offer_denom}")
    return ret


def compute_swap(
    offer_amount: int,
    offer_denom: str,
    ask_denom: str,
    rates: dict[str, int],
    terra_pool_delta: int,
    params: MarketParams,
    tobin_taxes: dict[str, int] | None = None,
) -> tuple[int, int]:
    """``ComputeSwap``: the asked amount at the oracle rate (Dec, before the spread) and the spread (Dec).

    Parameters
    ----------
    offer_amount : int
        Coins offered (micro-units, ``sdk.Int``).
    offer_denom, ask_denom : str
        ``"uluna"`` or a Terra denom (``"uusd"``, ``"usdr"``, ...).
    rates : dict of str to int
        LUNA exchange rates (Dec) of every Terra denom involved, and of ``"usdr"``.
    terra_pool_delta : int
        ``TerraPoolDelta`` (Dec, usdr).
    params : MarketParams
    tobin_taxes : dict of str to int, optional
        Tobin tax per Terra denom (Dec), for Terra-to-Terra swaps.

    Returns
    -------
    ret_amount, spread : int

    Notes
    -----
    With :math:`B` the base pool, :math:`\\delta` the delta and :math:`o` the offer in SDR:

    .. math:: P_T = B + \\delta, \\quad P_L = B^2 / P_T, \\quad
              a = P_{ask} - B^2 / (P_{offer} + o), \\quad
              \\text{spread} = \\max\\left(\\frac{o - a}{o}, \\text{MinStabilitySpread}\\right).

    Terra-to-Terra swaps pay the larger Tobin tax of the two denoms and leave the pool alone.
    """
    if offer_denom == ask_denom:
        raise Revert(f"recursive swap: {ask_denom}")
    base_offer = compute_internal_swap(offer_amount * PRECISION, offer_denom, SDR, rates)
    ret = compute_internal_swap(base_offer, SDR, ask_denom, rates)
    if offer_denom != LUNA and ask_denom != LUNA:
        taxes = tobin_taxes or {}
        if offer_denom not in taxes or ask_denom not in taxes:
            raise Revert("tobin tax not found")
        return ret, max(taxes[offer_denom], taxes[ask_denom])
    base = params.base_pool
    cp = dec_mul(base, base)
    terra_pool = base + terra_pool_delta
    luna_pool = dec_quo(cp, terra_pool)
    offer_pool, ask_pool = (terra_pool, luna_pool) if offer_denom != LUNA else (luna_pool, terra_pool)
    ask_base = ask_pool - dec_quo(cp, offer_pool + base_offer)
    spread = dec_quo(base_offer - ask_base, base_offer)
    return ret, max(spread, params.min_stability_spread)


def apply_swap_to_pool(
    offer_amount: int,
    offer_denom: str,
    ask_amount: int,
    ask_denom: str,
    rates: dict[str, int],
    terra_pool_delta: int,
) -> int:
    """``ApplySwapToPool``: the new ``TerraPoolDelta`` after a swap of ``offer_amount`` (Int) for ``ask_amount``
    (Dec, after the fee). Terra-to-LUNA adds the offer's SDR value, LUNA-to-Terra subtracts the ask's."""
    if offer_denom != LUNA and ask_denom != LUNA:
        return terra_pool_delta
    if ask_denom == LUNA:
        return terra_pool_delta + compute_internal_swap(offer_amount * PRECISION, offer_denom, SDR, rates)
    return terra_pool_delta - compute_internal_swap(ask_amount, ask_denom, SDR, rates)


@dataclass(frozen=True)
class SwapResult:
    """The outcome of ``MsgSwap`` (``handleSwapRequest``)."""

    swap_coin: int  #: coins sent to the trader (Int, ask denom)
    fee_coin: int  #: spread fee, minted and paid to validators and oracle voters (Int, ask denom)
    spread: int  #: spread applied (Dec)
    terra_pool_delta: int  #: delta after the swap (Dec, usdr)
    burned: int  #: offer coins burned (Int, offer denom)
    minted: int  #: ask coins minted, swap_coin + fee_coin (Int, ask denom)


def swap(
    offer_amount: int,
    offer_denom: str,
    ask_denom: str,
    rates: dict[str, int],
    terra_pool_delta: int,
    params: MarketParams,
    tobin_taxes: dict[str, int] | None = None,
) -> SwapResult:
    """``MsgSwap``: burn the offer, mint the ask less the spread fee, move the pool delta.

    The fee is ``spread * ask`` (Dec); the trader gets the whole coins of ``ask - fee`` and the dropped fraction
    joins the fee, whose whole coins are minted too (half to block rewards, half to oracle rewards).

    Examples
    --------
    Terra-to-LUNA with an empty delta (hand-computed in tests/unit/mechanics/test_terra.py):

    >>> p = MarketParams(base_pool=dec(1_000_000), pool_recovery_period=36, min_stability_spread=dec("0.005"))
    >>> r = swap(30_000, "uusd", "uluna", {"usdr": dec(2), "uusd": dec(3)}, 0, p)
    >>> r.swap_coin, r.fee_coin, r.minted, r.burned
    (9803, 197, 10000, 30000)
    """
    if isinstance(offer_amount, bool) or not isinstance(offer_amount, int) or offer_amount <= 0:
        raise ParameterError(f"The 'offer_amount' parameter of swap must be an int in the range [1, inf). "
                             f"Got {offer_amount!r} instead.")  # fmt: skip
    ret, spread = compute_swap(
        offer_amount, offer_denom, ask_denom, rates, terra_pool_delta, params, tobin_taxes
    )
    fee = dec_mul(spread, ret) if spread > 0 else 0
    ask = ret - fee
    delta = apply_swap_to_pool(offer_amount, offer_denom, ask, ask_denom, rates, terra_pool_delta)
    swap_coin, fraction = truncate_decimal(ask)
    fee_coin, _ = truncate_decimal(fee + fraction)
    return SwapResult(swap_coin, fee_coin, spread, delta, offer_amount, swap_coin + fee_coin)


def replenish_pools(terra_pool_delta: int, params: MarketParams) -> int:
    """``ReplenishPools`` (every EndBlock): ``delta - delta.QuoInt64(PoolRecoveryPeriod)``."""
    return terra_pool_delta - dec_quo_int64(terra_pool_delta, params.pool_recovery_period)
