"""Liquity v1: decimal math, fees and base rate, and a minimal TroveManager / StabilityPool state machine.

Everything follows liquity/dev at commit ``bf638ecba62dce275ee7f9d7e74c0f3ecacbfd14`` (April 2021, the tree of the
mainnet deployment), ``packages/contracts/contracts/``: ``TroveManager.sol``, ``BorrowerOperations.sol``,
``StabilityPool.sol``, ``Dependencies/LiquityMath.sol``, ``Dependencies/LiquityBase.sol``. Later commits on that
repository (a fix of the system collateral tracked in recovery-mode liquidation sequences, May/September 2021, and
the 2025 Stability Pool changes) never reached the immutable v1 contracts and are not modelled.

Amounts are Python ints with 18 decimals (ETH and LUSD in wei, ratios with ``DECIMAL_PRECISION = 1e18`` = 100%).
Reverts raise :class:`firesale.mechanics.Revert` with the contract's reason string, including SafeMath's
(``"SafeMath: subtraction overflow"``, ...). The block timestamp and the oracle price are the ``now`` and ``price``
arguments of the calls that read them.

The state machine (:class:`TroveManager` with its :class:`StabilityPool` and :class:`LUSDToken`) has no access
control, no events, no LQTY issuance or front ends, no hints and no redemptions; ``SortedTroves`` is replaced by
ordering active troves by their current nominal ICR. A call that reverts leaves all three unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Final

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert

__all__ = [
    "BETA",
    "BORROWING_FEE_FLOOR",
    "CCR",
    "DECIMAL_PRECISION",
    "GAS_POOL",
    "LQTY_STAKING",
    "LUSD_GAS_COMPENSATION",
    "MAX_BORROWING_FEE",
    "MAX_UINT256",
    "MCR",
    "MINUTE_DECAY_FACTOR",
    "MIN_NET_DEBT",
    "NICR_PRECISION",
    "PERCENT_DIVISOR",
    "REDEMPTION_FEE_FLOOR",
    "SCALE_FACTOR",
    "SECONDS_IN_ONE_MINUTE",
    "STABILITY_POOL",
    "LUSDToken",
    "LiquidationTotals",
    "LiquidationValues",
    "StabilityPool",
    "Status",
    "Trove",
    "TroveManager",
    "calc_borrowing_fee",
    "calc_borrowing_rate",
    "calc_decayed_base_rate",
    "calc_redemption_fee",
    "calc_redemption_rate",
    "check_potential_recovery_mode",
    "compute_cr",
    "compute_nominal_cr",
    "dec_mul",
    "dec_pow",
    "decay_base_rate_from_borrowing",
    "get_capped_offset_vals",
    "get_coll_gas_compensation",
    "get_composite_debt",
    "get_net_debt",
    "get_offset_and_redistribution_vals",
    "minutes_passed_since_last_fee_op",
    "redistribution_rewards",
    "update_base_rate_from_redemption",
]

MAX_UINT256: Final = 2**256 - 1
DECIMAL_PRECISION: Final = 10**18
NICR_PRECISION: Final = 10**20
_100PCT: Final = 10**18
MCR: Final = 1_100000000000000000  # 110%
CCR: Final = 1_500000000000000000  # 150%
LUSD_GAS_COMPENSATION: Final = 200 * 10**18
MIN_NET_DEBT: Final = 1800 * 10**18
PERCENT_DIVISOR: Final = 200  # 0.5% of collateral as gas compensation
BORROWING_FEE_FLOOR: Final = DECIMAL_PRECISION // 1000 * 5  # 0.5%
REDEMPTION_FEE_FLOOR: Final = DECIMAL_PRECISION // 1000 * 5  # 0.5%
MAX_BORROWING_FEE: Final = DECIMAL_PRECISION // 100 * 5  # 5%
MINUTE_DECAY_FACTOR: Final = 999037758833783000  # (1/2) ** (1/720): a 12-hour half-life
BETA: Final = 2
SECONDS_IN_ONE_MINUTE: Final = 60
SCALE_FACTOR: Final = 10**9
_DEC_POW_MAX_MINUTES: Final = 525600000  # minutes in 1000 years

# Addresses of the system's own contracts in the LUSD ledger and ETH payouts.
STABILITY_POOL: Final = "StabilityPool"
GAS_POOL: Final = "GasPool"
LQTY_STAKING: Final = "LQTYStaking"


# --- input checks and SafeMath ------------------------------------------------------------------------------------


def _uint(value: object, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UINT256:
        raise ParameterError(
            f"The {name!r} parameter of {where} must be an int in [0, 2**256 - 1]. Got {value!r} instead."
        )
    return value


def _address(value: object, name: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ParameterError(
            f"The {name!r} parameter of {where} must be a non-empty str. Got {value!r} instead."
        )
    return value


def _add(a: int, b: int) -> int:
    c = a + b
    if c > MAX_UINT256:
        raise Revert("SafeMath: addition overflow")
    return c


def _sub(a: int, b: int, reason: str = "SafeMath: subtraction overflow") -> int:
    if b > a:
        raise Revert(reason)
    return a - b


def _mul(a: int, b: int) -> int:
    c = a * b
    if c > MAX_UINT256:
        raise Revert("SafeMath: multiplication overflow")
    return c


def _div(a: int, b: int) -> int:
    if b == 0:
        raise Revert("SafeMath: division by zero")
    return a // b


# --- LiquityMath.sol ----------------------------------------------------------------------------------------------


def dec_mul(x: int, y: int) -> int:
    """Multiply two 18-decimal numbers, rounding half up: ``(x * y + 1e18 / 2) / 1e18``.

    Parameters
    ----------
    x, y : int
        18-digit decimals (uint256).

    Returns
    -------
    int
        The product, rounded to nearest (ties up).

    Raises
    ------
    Revert
        ``"SafeMath: multiplication overflow"`` / ``"SafeMath: addition overflow"``.

    References
    ----------
    liquity/dev ``packages/contracts/contracts/Dependencies/LiquityMath.sol`` (``decMul``), commit bf638ecb.

    Examples
    --------
    >>> dec_mul(15 * 10**17, 15 * 10**17)
    2250000000000000000
    >>> dec_mul(1, 5 * 10**17)  # 0.5 wei rounds up
    1
    """
    _uint(x, "x", "dec_mul")
    _uint(y, "y", "dec_mul")
    return _div(_add(_mul(x, y), DECIMAL_PRECISION // 2), DECIMAL_PRECISION)


def dec_pow(base: int, minutes: int) -> int:
    """``base ** minutes`` for an 18-decimal base, by exponentiation by squaring with :func:`dec_mul` rounding.

    The exponent is capped at 525,600,000 (minutes in 1000 years), as in the contract.

    Parameters
    ----------
    base : int
        18-digit decimal base.
    minutes : int
        Integer exponent.

    Returns
    -------
    int
        The power as an 18-digit decimal; ``1e18`` for ``minutes == 0``.

    References
    ----------
    liquity/dev ``packages/contracts/contracts/Dependencies/LiquityMath.sol`` (``_decPow``), commit bf638ecb.

    Examples
    --------
    >>> dec_pow(5 * 10**17, 3)
    125000000000000000
    """
    _uint(base, "base", "dec_pow")
    _uint(minutes, "minutes", "dec_pow")
    n = min(minutes, _DEC_POW_MAX_MINUTES)
    if n == 0:
        return DECIMAL_PRECISION
    y = DECIMAL_PRECISION
    x = base
    while n > 1:
        if n % 2 == 0:
            x = dec_mul(x, x)
            n //= 2
        else:
            y = dec_mul(x, y)
            x = dec_mul(x, x)
            n = (n - 1) // 2
    return dec_mul(x, y)


def compute_cr(coll: int, debt: int, price: int) -> int:
    """Collateral ratio ``coll * price / debt`` (rounded down), or ``2**256 - 1`` when ``debt == 0``.

    Parameters
    ----------
    coll : int
        Collateral [wei].
    debt : int
        Debt [LUSD wei].
    price : int
        ETH:USD price, 18 decimals.

    Returns
    -------
    int
        The ratio with 18 decimals (1e18 = 100%).

    References
    ----------
    liquity/dev ``Dependencies/LiquityMath.sol`` (``_computeCR``), commit bf638ecb.

    Examples
    --------
    >>> compute_cr(10**18, 100 * 10**18, 100 * 10**18)
    1000000000000000000
    """
    _uint(coll, "coll", "compute_cr")
    _uint(debt, "debt", "compute_cr")
    _uint(price, "price", "compute_cr")
    if debt > 0:
        return _mul(coll, price) // debt
    return MAX_UINT256


def compute_nominal_cr(coll: int, debt: int) -> int:
    """Nominal (price-free) collateral ratio ``coll * 1e20 / debt`` (rounded down), ``2**256 - 1`` if no debt.

    References
    ----------
    liquity/dev ``Dependencies/LiquityMath.sol`` (``_computeNominalCR``), commit bf638ecb.

    Examples
    --------
    >>> compute_nominal_cr(3 * 10**18, 2 * 10**18)
    150000000000000000000
    """
    _uint(coll, "coll", "compute_nominal_cr")
    _uint(debt, "debt", "compute_nominal_cr")
    if debt > 0:
        return _mul(coll, NICR_PRECISION) // debt
    return MAX_UINT256


# --- LiquityBase.sol ----------------------------------------------------------------------------------------------


def get_composite_debt(debt: int) -> int:
    """Drawn debt plus the 200 LUSD gas compensation (liquidation reserve).

    Examples
    --------
    >>> get_composite_debt(1800 * 10**18) == 2000 * 10**18
    True
    """
    return _add(_uint(debt, "debt", "get_composite_debt"), LUSD_GAS_COMPENSATION)


def get_net_debt(debt: int) -> int:
    """Debt minus the 200 LUSD gas compensation.

    Raises
    ------
    Revert
        ``"SafeMath: subtraction overflow"`` if ``debt < 200e18``.
    """
    return _sub(_uint(debt, "debt", "get_net_debt"), LUSD_GAS_COMPENSATION)


def get_coll_gas_compensation(entire_coll: int) -> int:
    """Collateral paid to the liquidator: ``entire_coll / 200`` (0.5%, rounded down).

    Examples
    --------
    >>> get_coll_gas_compensation(10**18)
    5000000000000000
    """
    return _uint(entire_coll, "entire_coll", "get_coll_gas_compensation") // PERCENT_DIVISOR


def check_potential_recovery_mode(entire_system_coll: int, entire_system_debt: int, price: int) -> bool:
    """Whether the system would be in Recovery Mode: ``TCR < CCR`` (150%).

    References
    ----------
    liquity/dev ``TroveManager.sol`` (``_checkPotentialRecoveryMode``) and ``LiquityBase.sol``
    (``_checkRecoveryMode``), commit bf638ecb.

    Examples
    --------
    >>> check_potential_recovery_mode(3 * 10**18, 200 * 10**18, 100 * 10**18)
    False
    >>> check_potential_recovery_mode(3 * 10**18, 201 * 10**18, 100 * 10**18)
    True
    """
    return compute_cr(entire_system_coll, entire_system_debt, price) < CCR


def _require_user_accepts_fee(fee: int, amount: int, max_fee_percentage: int) -> None:
    if _div(_mul(fee, DECIMAL_PRECISION), amount) > max_fee_percentage:
        raise Revert("Fee exceeded provided maximum")


# --- TroveManager.sol: fees and base rate ---------------------------------------------------------------------------


def minutes_passed_since_last_fee_op(last_fee_operation_time: int, now: int) -> int:
    """Whole minutes since the last fee operation (rounded down).

    Raises
    ------
    Revert
        ``"SafeMath: subtraction overflow"`` if ``now < last_fee_operation_time``.

    Examples
    --------
    >>> minutes_passed_since_last_fee_op(0, 3599)
    59
    """
    _uint(last_fee_operation_time, "last_fee_operation_time", "minutes_passed_since_last_fee_op")
    _uint(now, "now", "minutes_passed_since_last_fee_op")
    return _sub(now, last_fee_operation_time) // SECONDS_IN_ONE_MINUTE


def calc_decayed_base_rate(base_rate: int, last_fee_operation_time: int, now: int) -> int:
    """Base rate decayed by ``MINUTE_DECAY_FACTOR ** minutes`` (12-hour half-life).

    ``base_rate * dec_pow(MINUTE_DECAY_FACTOR, minutes) / 1e18``, rounded down.

    References
    ----------
    liquity/dev ``TroveManager.sol`` (``_calcDecayedBaseRate``), commit bf638ecb.

    Examples
    --------
    >>> calc_decayed_base_rate(10**18, 0, 720 * 60)  # one half-life (the factor is 18-digit truncated)
    499999999999860089
    """
    _uint(base_rate, "base_rate", "calc_decayed_base_rate")
    minutes = minutes_passed_since_last_fee_op(last_fee_operation_time, now)
    return _mul(base_rate, dec_pow(MINUTE_DECAY_FACTOR, minutes)) // DECIMAL_PRECISION


def _update_last_fee_op_time(last_fee_operation_time: int, now: int) -> int:
    # Only a full minute moves the clock, so that frequent operations cannot stall the decay.
    return now if _sub(now, last_fee_operation_time) >= SECONDS_IN_ONE_MINUTE else last_fee_operation_time


def decay_base_rate_from_borrowing(base_rate: int, last_fee_operation_time: int, now: int) -> tuple[int, int]:
    """Decay the base rate for the time passed, as a borrowing operation does.

    Parameters
    ----------
    base_rate : int
        ``TroveManager.baseRate``.
    last_fee_operation_time : int
        ``TroveManager.lastFeeOperationTime``.
    now : int
        Block timestamp.

    Returns
    -------
    (base_rate, last_fee_operation_time) : tuple of int
        New state; the time only moves if at least a minute has passed.

    References
    ----------
    liquity/dev ``TroveManager.sol`` (``decayBaseRateFromBorrowing``, ``_updateLastFeeOpTime``), commit bf638ecb.
    """
    decayed = calc_decayed_base_rate(base_rate, last_fee_operation_time, now)
    return decayed, _update_last_fee_op_time(last_fee_operation_time, now)


def update_base_rate_from_redemption(
    eth_drawn: int, price: int, total_lusd_supply: int, base_rate: int, last_fee_operation_time: int, now: int
) -> tuple[int, int]:
    """Decay the base rate, then add half the fraction of the LUSD supply just redeemed; capped at 100%.

    ``new = min(decayed + (eth_drawn * price / total_lusd_supply) / BETA, 1e18)``, divisions rounding down.

    Parameters
    ----------
    eth_drawn : int
        Collateral paid out by the redemption [wei].
    price : int
        ETH:USD price.
    total_lusd_supply : int
        Entire system debt before the redemption.
    base_rate, last_fee_operation_time : int
        Current fee state of the TroveManager.
    now : int
        Block timestamp.

    Returns
    -------
    (base_rate, last_fee_operation_time) : tuple of int
        The new fee state.

    Raises
    ------
    Revert
        ``"SafeMath: division by zero"`` if ``total_lusd_supply == 0``; ``"(no reason: assert newBaseRate > 0)"``
        if the new base rate is zero (the contract's ``assert``).

    References
    ----------
    liquity/dev ``TroveManager.sol`` (``_updateBaseRateFromRedemption``), commit bf638ecb.

    Examples
    --------
    >>> update_base_rate_from_redemption(10**18, 200 * 10**18, 2000 * 10**18, 0, 0, 0)
    (50000000000000000, 0)
    """
    _uint(eth_drawn, "eth_drawn", "update_base_rate_from_redemption")
    _uint(price, "price", "update_base_rate_from_redemption")
    _uint(total_lusd_supply, "total_lusd_supply", "update_base_rate_from_redemption")
    decayed = calc_decayed_base_rate(base_rate, last_fee_operation_time, now)
    redeemed_lusd_fraction = _div(_mul(eth_drawn, price), total_lusd_supply)
    new_base_rate = min(_add(decayed, redeemed_lusd_fraction // BETA), DECIMAL_PRECISION)
    if new_base_rate == 0:
        raise Revert("(no reason: assert newBaseRate > 0)")
    return new_base_rate, _update_last_fee_op_time(last_fee_operation_time, now)


def calc_redemption_rate(base_rate: int) -> int:
    """Redemption fee rate: ``min(0.5% + base_rate, 100%)``.

    Examples
    --------
    >>> calc_redemption_rate(10**16)
    15000000000000000
    """
    return min(
        _add(REDEMPTION_FEE_FLOOR, _uint(base_rate, "base_rate", "calc_redemption_rate")), DECIMAL_PRECISION
    )


def calc_redemption_fee(redemption_rate: int, eth_drawn: int) -> int:
    """Redemption fee in ETH: ``redemption_rate * eth_drawn / 1e18`` (rounded down).

    Raises
    ------
    Revert
        ``"TroveManager: Fee would eat up all returned collateral"`` if the fee is not below ``eth_drawn``.
    """
    _uint(redemption_rate, "redemption_rate", "calc_redemption_fee")
    _uint(eth_drawn, "eth_drawn", "calc_redemption_fee")
    fee = _mul(redemption_rate, eth_drawn) // DECIMAL_PRECISION
    if not fee < eth_drawn:
        raise Revert("TroveManager: Fee would eat up all returned collateral")
    return fee


def calc_borrowing_rate(base_rate: int) -> int:
    """Borrowing fee rate: ``min(0.5% + base_rate, 5%)``.

    Examples
    --------
    >>> calc_borrowing_rate(10**17)
    50000000000000000
    """
    return min(
        _add(BORROWING_FEE_FLOOR, _uint(base_rate, "base_rate", "calc_borrowing_rate")), MAX_BORROWING_FEE
    )


def calc_borrowing_fee(borrowing_rate: int, lusd_debt: int) -> int:
    """Borrowing fee in LUSD: ``borrowing_rate * lusd_debt / 1e18`` (rounded down)."""
    _uint(borrowing_rate, "borrowing_rate", "calc_borrowing_fee")
    _uint(lusd_debt, "lusd_debt", "calc_borrowing_fee")
    return _mul(borrowing_rate, lusd_debt) // DECIMAL_PRECISION


# --- TroveManager.sol: liquidation arithmetic -----------------------------------------------------------------------


@dataclass(frozen=True)
class LiquidationValues:
    """One trove's liquidation outcome (the contract's ``LiquidationValues`` struct), all in wei."""

    entire_trove_debt: int = 0
    entire_trove_coll: int = 0
    coll_gas_compensation: int = 0
    lusd_gas_compensation: int = 0
    debt_to_offset: int = 0
    coll_to_send_to_sp: int = 0
    debt_to_redistribute: int = 0
    coll_to_redistribute: int = 0
    coll_surplus: int = 0


@dataclass(frozen=True)
class LiquidationTotals:
    """A liquidation sequence's totals (the contract's ``LiquidationTotals`` struct), all in wei."""

    total_coll_in_sequence: int = 0
    total_debt_in_sequence: int = 0
    total_coll_gas_compensation: int = 0
    total_lusd_gas_compensation: int = 0
    total_debt_to_offset: int = 0
    total_coll_to_send_to_sp: int = 0
    total_debt_to_redistribute: int = 0
    total_coll_to_redistribute: int = 0
    total_coll_surplus: int = 0

    def add(self, single: LiquidationValues) -> LiquidationTotals:
        """Return these totals plus one liquidation (``_addLiquidationValuesToTotals``)."""
        return LiquidationTotals(
            total_coll_in_sequence=_add(self.total_coll_in_sequence, single.entire_trove_coll),
            total_debt_in_sequence=_add(self.total_debt_in_sequence, single.entire_trove_debt),
            total_coll_gas_compensation=_add(self.total_coll_gas_compensation, single.coll_gas_compensation),
            total_lusd_gas_compensation=_add(self.total_lusd_gas_compensation, single.lusd_gas_compensation),
            total_debt_to_offset=_add(self.total_debt_to_offset, single.debt_to_offset),
            total_coll_to_send_to_sp=_add(self.total_coll_to_send_to_sp, single.coll_to_send_to_sp),
            total_debt_to_redistribute=_add(self.total_debt_to_redistribute, single.debt_to_redistribute),
            total_coll_to_redistribute=_add(self.total_coll_to_redistribute, single.coll_to_redistribute),
            total_coll_surplus=_add(self.total_coll_surplus, single.coll_surplus),
        )


def get_offset_and_redistribution_vals(
    debt: int, coll: int, lusd_in_stab_pool: int
) -> tuple[int, int, int, int]:
    """Split a trove's debt and collateral between the Stability Pool and redistribution.

    Offset ``min(debt, lusd_in_stab_pool)`` against the pool with the same fraction of the collateral
    (``coll * debt_to_offset / debt``, rounded down, so the remainder goes to redistribution).

    Parameters
    ----------
    debt : int
        The trove's entire debt.
    coll : int
        Collateral to liquidate (after the gas compensation).
    lusd_in_stab_pool : int
        LUSD left in the Stability Pool for this sequence.

    Returns
    -------
    (debt_to_offset, coll_to_send_to_sp, debt_to_redistribute, coll_to_redistribute) : tuple of int

    References
    ----------
    liquity/dev ``TroveManager.sol`` (``_getOffsetAndRedistributionVals``), commit bf638ecb.

    Examples
    --------
    >>> get_offset_and_redistribution_vals(2000, 21, 390)
    (390, 4, 1610, 17)
    """
    _uint(debt, "debt", "get_offset_and_redistribution_vals")
    _uint(coll, "coll", "get_offset_and_redistribution_vals")
    _uint(lusd_in_stab_pool, "lusd_in_stab_pool", "get_offset_and_redistribution_vals")
    if lusd_in_stab_pool > 0:
        debt_to_offset = min(debt, lusd_in_stab_pool)
        coll_to_send_to_sp = _div(_mul(coll, debt_to_offset), debt)
        return debt_to_offset, coll_to_send_to_sp, debt - debt_to_offset, _sub(coll, coll_to_send_to_sp)
    return 0, 0, debt, coll


def redistribution_rewards(
    debt: int, coll: int, total_stakes: int, last_eth_error: int = 0, last_lusd_debt_error: int = 0
) -> tuple[int, int, int, int]:
    """Per-unit-staked rewards of redistributing ``debt`` and ``coll`` to active troves, with error feedback.

    ``eth_per_unit = (coll * 1e18 + last_eth_error) // total_stakes`` and likewise for the debt; the division
    remainders are returned to be fed into the next redistribution. A trove with stake ``s`` is later owed
    ``s * eth_per_unit / 1e18`` collateral and ``s * lusd_per_unit / 1e18`` debt.

    Parameters
    ----------
    debt, coll : int
        Debt and collateral to redistribute [wei].
    total_stakes : int
        Sum of the active troves' stakes (the liquidated troves' stakes already removed).
    last_eth_error, last_lusd_debt_error : int, optional
        Remainders of the previous redistribution.

    Returns
    -------
    (eth_per_unit, lusd_per_unit, eth_error, lusd_debt_error) : tuple of int
        Increments of ``L_ETH`` and ``L_LUSDDebt`` and the new remainders.

    Raises
    ------
    Revert
        ``"SafeMath: division by zero"`` when ``total_stakes`` is 0.

    References
    ----------
    liquity/dev ``TroveManager.sol`` (``_redistributeDebtAndColl``), commit bf638ecb.

    Examples
    --------
    >>> redistribution_rewards(10, 3, 4 * 10**18)
    (0, 2, 3000000000000000000, 2000000000000000000)
    """
    where = "redistribution_rewards"
    for name, value in (
        ("debt", debt),
        ("coll", coll),
        ("total_stakes", total_stakes),
        ("last_eth_error", last_eth_error),
        ("last_lusd_debt_error", last_lusd_debt_error),
    ):
        _uint(value, name, where)
    eth_numerator = _add(_mul(coll, DECIMAL_PRECISION), last_eth_error)
    lusd_numerator = _add(_mul(debt, DECIMAL_PRECISION), last_lusd_debt_error)
    eth_per_unit = _div(eth_numerator, total_stakes)
    lusd_per_unit = _div(lusd_numerator, total_stakes)
    return (
        eth_per_unit,
        lusd_per_unit,
        _sub(eth_numerator, _mul(eth_per_unit, total_stakes)),
        _sub(lusd_numerator, _mul(lusd_per_unit, total_stakes)),
    )


def get_capped_offset_vals(entire_trove_debt: int, entire_trove_coll: int, price: int) -> LiquidationValues:
    """Recovery-mode liquidation of a trove with ``MCR <= ICR < TCR``: offset all debt, seize collateral worth 110%.

    ``capped = debt * MCR / price`` (rounded down); the liquidator gets ``capped / 200``, the Stability Pool the
    rest of ``capped``, and ``coll - capped`` is left as a surplus claimable by the borrower.

    References
    ----------
    liquity/dev ``TroveManager.sol`` (``_getCappedOffsetVals``), commit bf638ecb.
    """
    _uint(entire_trove_debt, "entire_trove_debt", "get_capped_offset_vals")
    _uint(entire_trove_coll, "entire_trove_coll", "get_capped_offset_vals")
    _uint(price, "price", "get_capped_offset_vals")
    capped_coll_portion = _div(_mul(entire_trove_debt, MCR), price)
    coll_gas_compensation = get_coll_gas_compensation(capped_coll_portion)
    return LiquidationValues(
        entire_trove_debt=entire_trove_debt,
        entire_trove_coll=entire_trove_coll,
        coll_gas_compensation=coll_gas_compensation,
        lusd_gas_compensation=LUSD_GAS_COMPENSATION,
        debt_to_offset=entire_trove_debt,
        coll_to_send_to_sp=_sub(capped_coll_portion, coll_gas_compensation),
        coll_surplus=_sub(entire_trove_coll, capped_coll_portion),
    )


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


# --- LUSDToken.sol ------------------------------------------------------------------------------------------------


class LUSDToken:
    """The LUSD ledger: balances and total supply (liquity/dev ``LUSDToken.sol``, commit bf638ecb).

    Attributes
    ----------
    total_supply : int
        Total LUSD in existence [wei].
    """

    def __init__(self) -> None:
        self._balances: dict[str, int] = {}
        self.total_supply = 0

    def __repr__(self) -> str:
        return f"LUSDToken(total_supply={self.total_supply}, holders={len(self._balances)})"

    def balance_of(self, account: str) -> int:
        """Return ``account``'s LUSD balance."""
        return self._balances.get(account, 0)

    def mint(self, account: str, amount: int) -> None:
        """Create ``amount`` LUSD for ``account``."""
        _uint(amount, "amount", "LUSDToken.mint")
        self.total_supply = _add(self.total_supply, amount)
        self._balances[account] = _add(self.balance_of(account), amount)

    def burn(self, account: str, amount: int) -> None:
        """Destroy ``amount`` of ``account``'s LUSD.

        Raises
        ------
        Revert
            ``"ERC20: burn amount exceeds balance"``.
        """
        _uint(amount, "amount", "LUSDToken.burn")
        self._balances[account] = _sub(self.balance_of(account), amount, "ERC20: burn amount exceeds balance")
        self.total_supply = _sub(self.total_supply, amount)

    def transfer(self, sender: str, recipient: str, amount: int) -> None:
        """Move ``amount`` LUSD from ``sender`` to ``recipient``.

        Raises
        ------
        Revert
            ``"ERC20: transfer amount exceeds balance"``.
        """
        _uint(amount, "amount", "LUSDToken.transfer")
        with _atomic(self):
            self._balances[sender] = _sub(
                self.balance_of(sender), amount, "ERC20: transfer amount exceeds balance"
            )
            self._balances[recipient] = _add(self.balance_of(recipient), amount)


# --- TroveManager.sol: troves ---------------------------------------------------------------------------------------


class Status(IntEnum):
    """``TroveManager.Status``."""

    nonExistent = 0
    active = 1
    closedByOwner = 2
    closedByLiquidation = 3
    closedByRedemption = 4


@dataclass(frozen=True)
class Trove:
    """``TroveManager.Troves(borrower)``: recorded ``debt`` and ``coll`` (without pending redistribution rewards),
    ``stake``, ``status``, and the reward snapshots ``snapshot_eth``/``snapshot_lusd_debt`` (``rewardSnapshots``)."""

    debt: int = 0
    coll: int = 0
    stake: int = 0
    status: Status = Status.nonExistent
    snapshot_eth: int = 0
    snapshot_lusd_debt: int = 0


@dataclass(frozen=True)
class _Snapshots:
    S: int = 0
    P: int = 0
    scale: int = 0
    epoch: int = 0


class StabilityPool:
    """LUSD deposits that absorb liquidated debt in exchange for collateral, tracked with a product P and sum S.

    A deposit ``d`` made when the product was ``P_t`` and the sum ``S_t`` is worth ``d * P / P_t`` LUSD and has
    earned ``d * (S - S_t) / P_t`` ETH (across at most one scale change of 1e9; a deposit spanning two is zero, and
    one made before the pool was emptied, an earlier epoch, is zero). Each offset rounds the LUSD loss per unit
    staked up and the ETH gain down, carrying the division errors to the next offset, so errors favour the pool.

    liquity/dev ``StabilityPool.sol`` at commit bf638ecb, without LQTY issuance (``G``) and front ends. Created by
    :class:`TroveManager`; the depositor's LUSD lives in its :class:`LUSDToken` and ETH gains are recorded in
    ``TroveManager.eth_sent``.

    Attributes
    ----------
    P : int
        Running product, 18 decimals, starts at 1e18.
    current_scale, current_epoch : int
        Scale (P was multiplied by 1e9 this many times) and epoch (pool emptied this many times).
    epoch_to_scale_to_sum : dict of (int, int) to int
        The sums S by (epoch, scale).
    last_eth_error_offset, last_lusd_loss_error_offset : int
        Division error trackers of the last offset.
    total_lusd_deposits : int
        LUSD held [wei].
    ETH : int
        Collateral held for depositors [wei].
    """

    def __init__(self, trove_manager: TroveManager) -> None:
        self.trove_manager = trove_manager
        self.P = DECIMAL_PRECISION
        self.current_scale = 0
        self.current_epoch = 0
        self.epoch_to_scale_to_sum: dict[tuple[int, int], int] = {}
        self.last_eth_error_offset = 0
        self.last_lusd_loss_error_offset = 0
        self.total_lusd_deposits = 0
        self.ETH = 0
        self._deposits: dict[str, int] = {}
        self._snapshots: dict[str, _Snapshots] = {}

    def __repr__(self) -> str:
        return (
            f"StabilityPool(total_lusd_deposits={self.total_lusd_deposits}, ETH={self.ETH}, P={self.P}, "
            f"scale={self.current_scale}, epoch={self.current_epoch})"
        )

    def _sum(self, epoch: int, scale: int) -> int:
        return self.epoch_to_scale_to_sum.get((epoch, scale), 0)

    def deposits(self, depositor: str) -> int:
        """Return the depositor's recorded (initial) deposit since their last snapshot."""
        return self._deposits.get(depositor, 0)

    def get_depositor_eth_gain(self, depositor: str) -> int:
        """ETH earned since the last snapshot: ``d * (S - S_t + S_next / 1e9) / P_t / 1e18`` (rounded down)."""
        initial = self.deposits(depositor)
        if initial == 0:
            return 0
        snap = self._snapshots[depositor]
        first = _sub(self._sum(snap.epoch, snap.scale), snap.S)
        second = self._sum(snap.epoch, snap.scale + 1) // SCALE_FACTOR
        return _mul(initial, _add(first, second)) // snap.P // DECIMAL_PRECISION

    def get_compounded_lusd_deposit(self, depositor: str) -> int:
        """The deposit after liquidations: ``d * P / P_t`` (``/ 1e9`` across one scale change; 0 across two, across
        an epoch, or below a billionth of ``d``), rounded down."""
        initial = self.deposits(depositor)
        if initial == 0:
            return 0
        snap = self._snapshots[depositor]
        if snap.epoch < self.current_epoch:
            return 0
        scale_diff = _sub(self.current_scale, snap.scale)
        if scale_diff == 0:
            compounded = _mul(initial, self.P) // snap.P
        elif scale_diff == 1:
            compounded = _mul(initial, self.P) // snap.P // SCALE_FACTOR
        else:
            compounded = 0
        return 0 if compounded < initial // 10**9 else compounded

    def _update_deposit_and_snapshots(self, depositor: str, new_value: int) -> None:
        if new_value == 0:
            self._deposits.pop(depositor, None)
            self._snapshots.pop(depositor, None)
            return
        self._deposits[depositor] = new_value
        self._snapshots[depositor] = _Snapshots(
            S=self._sum(self.current_epoch, self.current_scale),
            P=self.P,
            scale=self.current_scale,
            epoch=self.current_epoch,
        )

    def _send_eth_gain_to_depositor(self, depositor: str, amount: int) -> None:
        if amount == 0:
            return
        self.ETH = _sub(self.ETH, amount)
        tm = self.trove_manager
        tm.eth_sent[depositor] = tm.eth_sent.get(depositor, 0) + amount

    def provide_to_sp(self, depositor: str, amount: int) -> int:
        """Deposit ``amount`` LUSD; pays out the ETH gain so far and compounds the existing deposit.

        Parameters
        ----------
        depositor : str
            Depositor (``msg.sender``); must hold the LUSD.
        amount : int
            LUSD to deposit [wei].

        Returns
        -------
        int
            The ETH gain paid out [wei].

        Raises
        ------
        Revert
            ``"StabilityPool: Amount must be non-zero"``, ``"ERC20: transfer amount exceeds balance"``.
        """
        _address(depositor, "depositor", "StabilityPool.provide_to_sp")
        _uint(amount, "amount", "StabilityPool.provide_to_sp")
        if amount == 0:
            raise Revert("StabilityPool: Amount must be non-zero")
        tm = self.trove_manager
        with _atomic(self, tm.lusd_token, tm):
            eth_gain = self.get_depositor_eth_gain(depositor)
            compounded = self.get_compounded_lusd_deposit(depositor)
            tm.lusd_token.transfer(depositor, STABILITY_POOL, amount)
            self.total_lusd_deposits = _add(self.total_lusd_deposits, amount)
            self._update_deposit_and_snapshots(depositor, _add(compounded, amount))
            self._send_eth_gain_to_depositor(depositor, eth_gain)
        return eth_gain

    def withdraw_from_sp(self, depositor: str, amount: int, price: int) -> tuple[int, int]:
        """Withdraw up to ``amount`` of the compounded deposit and all of the ETH gain.

        Parameters
        ----------
        depositor : str
            Depositor.
        amount : int
            LUSD requested (more than the deposit withdraws it all; 0 only claims the ETH gain).
        price : int
            ETH:USD price, for the check that no trove is below MCR (skipped when ``amount == 0``).

        Returns
        -------
        (lusd_withdrawn, eth_gain) : tuple of int

        Raises
        ------
        Revert
            ``"StabilityPool: Cannot withdraw while there are troves with ICR < MCR"``,
            ``"StabilityPool: User must have a non-zero deposit"``.
        """
        _address(depositor, "depositor", "StabilityPool.withdraw_from_sp")
        _uint(amount, "amount", "StabilityPool.withdraw_from_sp")
        _uint(price, "price", "StabilityPool.withdraw_from_sp")
        tm = self.trove_manager
        if amount != 0:
            order = tm.sorted_troves()
            lowest_icr = tm.get_current_icr(order[-1], price) if order else MAX_UINT256
            if lowest_icr < MCR:
                raise Revert("StabilityPool: Cannot withdraw while there are troves with ICR < MCR")
        initial = self.deposits(depositor)
        if initial == 0:
            raise Revert("StabilityPool: User must have a non-zero deposit")
        with _atomic(self, tm.lusd_token, tm):
            eth_gain = self.get_depositor_eth_gain(depositor)
            compounded = self.get_compounded_lusd_deposit(depositor)
            to_withdraw = min(amount, compounded)
            if to_withdraw > 0:
                tm.lusd_token.transfer(STABILITY_POOL, depositor, to_withdraw)
                self.total_lusd_deposits = _sub(self.total_lusd_deposits, to_withdraw)
            self._update_deposit_and_snapshots(depositor, _sub(compounded, to_withdraw))
            self._send_eth_gain_to_depositor(depositor, eth_gain)
        return to_withdraw, eth_gain

    def offset(self, debt_to_offset: int, coll_to_add: int) -> None:
        """Cancel ``debt_to_offset`` of liquidated debt against the pool's LUSD and take ``coll_to_add`` ETH.

        Updates S (first, with the ETH gain per unit staked times P) and then P (times one minus the LUSD loss per
        unit staked; a full depletion starts a new epoch, a drop below 1e9 a new scale). Burns the LUSD and moves the
        debt and ETH out of the TroveManager's active pool. Nothing happens if the pool or the debt is zero.

        References
        ----------
        liquity/dev ``StabilityPool.sol`` (``offset``, ``_computeRewardsPerUnitStaked``,
        ``_updateRewardSumAndProduct``, ``_moveOffsetCollAndDebt``), commit bf638ecb.
        """
        _uint(debt_to_offset, "debt_to_offset", "StabilityPool.offset")
        _uint(coll_to_add, "coll_to_add", "StabilityPool.offset")
        total = self.total_lusd_deposits
        if total == 0 or debt_to_offset == 0:
            return
        tm = self.trove_manager
        with _atomic(self, tm.lusd_token, tm):
            eth_gain_per_unit, lusd_loss_per_unit = self._compute_rewards_per_unit_staked(
                coll_to_add, debt_to_offset, total
            )
            self._update_reward_sum_and_product(eth_gain_per_unit, lusd_loss_per_unit)
            tm.active_pool_lusd_debt = _sub(tm.active_pool_lusd_debt, debt_to_offset)
            self.total_lusd_deposits = _sub(self.total_lusd_deposits, debt_to_offset)
            tm.lusd_token.burn(STABILITY_POOL, debt_to_offset)
            tm.active_pool_eth = _sub(tm.active_pool_eth, coll_to_add)
            self.ETH = _add(self.ETH, coll_to_add)

    def _compute_rewards_per_unit_staked(
        self, coll_to_add: int, debt_to_offset: int, total: int
    ) -> tuple[int, int]:
        eth_numerator = _add(_mul(coll_to_add, DECIMAL_PRECISION), self.last_eth_error_offset)
        if debt_to_offset > total:
            raise Revert("(no reason: assert _debtToOffset <= _totalLUSDDeposits)")
        if debt_to_offset == total:
            lusd_loss_per_unit = DECIMAL_PRECISION  # the pool is emptied, and so is every deposit
            self.last_lusd_loss_error_offset = 0
        else:
            lusd_loss_numerator = _sub(
                _mul(debt_to_offset, DECIMAL_PRECISION), self.last_lusd_loss_error_offset
            )
            # +1 so the loss per unit is slightly too large: compounded deposits err in the pool's favour.
            lusd_loss_per_unit = _add(lusd_loss_numerator // total, 1)
            self.last_lusd_loss_error_offset = _sub(_mul(lusd_loss_per_unit, total), lusd_loss_numerator)
        eth_gain_per_unit = eth_numerator // total
        self.last_eth_error_offset = _sub(eth_numerator, _mul(eth_gain_per_unit, total))
        return eth_gain_per_unit, lusd_loss_per_unit

    def _update_reward_sum_and_product(self, eth_gain_per_unit: int, lusd_loss_per_unit: int) -> None:
        current_p = self.P
        if lusd_loss_per_unit > DECIMAL_PRECISION:
            raise Revert("(no reason: assert _LUSDLossPerUnitStaked <= DECIMAL_PRECISION)")
        new_product_factor = DECIMAL_PRECISION - lusd_loss_per_unit
        key = (self.current_epoch, self.current_scale)
        self.epoch_to_scale_to_sum[key] = _add(self._sum(*key), _mul(eth_gain_per_unit, current_p))
        if new_product_factor == 0:
            self.current_epoch += 1
            self.current_scale = 0
            new_p = DECIMAL_PRECISION
        elif _mul(current_p, new_product_factor) // DECIMAL_PRECISION < SCALE_FACTOR:
            new_p = _mul(_mul(current_p, new_product_factor), SCALE_FACTOR) // DECIMAL_PRECISION
            self.current_scale += 1
        else:
            new_p = _mul(current_p, new_product_factor) // DECIMAL_PRECISION
        if new_p == 0:
            raise Revert("(no reason: assert newP > 0)")
        self.P = new_p


# --- TroveManager.sol / BorrowerOperations.sol: the system ----------------------------------------------------------


class TroveManager:
    """Troves, liquidations and redistribution rewards, with the pools and the borrowing fee of Liquity v1.

    Combines what the state machine needs of liquity/dev (commit bf638ecb) ``TroveManager.sol`` (liquidations,
    stakes and ``L_ETH``/``L_LUSDDebt`` redistribution rewards, fee state), ``BorrowerOperations.openTrove``,
    ``ActivePool``/``DefaultPool``/``CollSurplusPool`` balances and ``SortedTroves`` (as an ordering by current
    nominal ICR, highest first). Owns a :class:`StabilityPool` and a :class:`LUSDToken`.

    Attributes
    ----------
    lusd_token : LUSDToken
        LUSD ledger; the gas pool, Stability Pool and LQTY staking hold balances under ``"GasPool"``,
        ``"StabilityPool"`` and ``"LQTYStaking"``.
    stability_pool : StabilityPool
        The Stability Pool.
    active_pool_eth, active_pool_lusd_debt : int
        Collateral and debt of active troves (excluding pending redistribution rewards).
    default_pool_eth, default_pool_lusd_debt : int
        Redistributed collateral and debt not yet applied to troves.
    coll_surplus_pool_eth : int
        Collateral left over from capped recovery-mode liquidations, claimable by the borrowers.
    L_ETH, L_LUSDDebt : int
        Redistribution rewards per unit staked, 18 decimals.
    last_eth_error_redistribution, last_lusd_debt_error_redistribution : int
        Division error trackers of the last redistribution.
    total_stakes, total_stakes_snapshot, total_collateral_snapshot : int
        Stakes and the snapshots taken after the last liquidation, used to size new stakes.
    base_rate, last_fee_operation_time : int
        Fee state.
    trove_owners : list of str
        ``TroveOwners``: active borrowers, swap-and-pop on removal.
    eth_sent : dict of str to int
        ETH the system has paid out, by recipient (gas compensation, Stability Pool gains, surplus claims).
    """

    def __init__(self) -> None:
        self.lusd_token = LUSDToken()
        self.stability_pool = StabilityPool(self)
        self._troves: dict[str, Trove] = {}
        self.trove_owners: list[str] = []
        self.active_pool_eth = 0
        self.active_pool_lusd_debt = 0
        self.default_pool_eth = 0
        self.default_pool_lusd_debt = 0
        self.coll_surplus_pool_eth = 0
        self._coll_surplus: dict[str, int] = {}
        self.L_ETH = 0
        self.L_LUSDDebt = 0
        self.last_eth_error_redistribution = 0
        self.last_lusd_debt_error_redistribution = 0
        self.total_stakes = 0
        self.total_stakes_snapshot = 0
        self.total_collateral_snapshot = 0
        self.base_rate = 0
        self.last_fee_operation_time = 0
        self.eth_sent: dict[str, int] = {}

    def __repr__(self) -> str:
        return (
            f"TroveManager(troves={len(self.trove_owners)}, coll={self.get_entire_system_coll()}, "
            f"debt={self.get_entire_system_debt()})"
        )

    def _atomic(self) -> AbstractContextManager[None]:
        return _atomic(self, self.stability_pool, self.lusd_token)

    # --- getters ---
    def troves(self, borrower: str) -> Trove:
        """Return the recorded trove (all zero if it never existed)."""
        return self._troves.get(borrower, Trove())

    def get_coll_surplus(self, account: str) -> int:
        """Return ``CollSurplusPool.getCollateral(account)``."""
        return self._coll_surplus.get(account, 0)

    def get_entire_system_coll(self) -> int:
        """Active plus default pool collateral."""
        return _add(self.active_pool_eth, self.default_pool_eth)

    def get_entire_system_debt(self) -> int:
        """Active plus default pool debt."""
        return _add(self.active_pool_lusd_debt, self.default_pool_lusd_debt)

    def get_tcr(self, price: int) -> int:
        """Total collateral ratio of the system at ``price``."""
        return compute_cr(self.get_entire_system_coll(), self.get_entire_system_debt(), price)

    def check_recovery_mode(self, price: int) -> bool:
        """Whether the system is in Recovery Mode (``TCR < 150%``) at ``price``."""
        return self.get_tcr(price) < CCR

    def get_pending_eth_reward(self, borrower: str) -> int:
        """Collateral redistributed to the trove since its snapshot: ``stake * (L_ETH - snapshot) / 1e18``."""
        trove = self.troves(borrower)
        per_unit = _sub(self.L_ETH, trove.snapshot_eth)
        if per_unit == 0 or trove.status != Status.active:
            return 0
        return _mul(trove.stake, per_unit) // DECIMAL_PRECISION

    def get_pending_lusd_debt_reward(self, borrower: str) -> int:
        """Debt redistributed to the trove since its snapshot: ``stake * (L_LUSDDebt - snapshot) / 1e18``."""
        trove = self.troves(borrower)
        per_unit = _sub(self.L_LUSDDebt, trove.snapshot_lusd_debt)
        if per_unit == 0 or trove.status != Status.active:
            return 0
        return _mul(trove.stake, per_unit) // DECIMAL_PRECISION

    def has_pending_rewards(self, borrower: str) -> bool:
        """Whether the trove's ETH snapshot is behind ``L_ETH``."""
        trove = self.troves(borrower)
        return trove.status == Status.active and trove.snapshot_eth < self.L_ETH

    def get_entire_debt_and_coll(self, borrower: str) -> tuple[int, int, int, int]:
        """Return ``(debt, coll, pending_lusd_debt_reward, pending_eth_reward)`` including pending rewards."""
        trove = self.troves(borrower)
        pending_debt = self.get_pending_lusd_debt_reward(borrower)
        pending_eth = self.get_pending_eth_reward(borrower)
        return _add(trove.debt, pending_debt), _add(trove.coll, pending_eth), pending_debt, pending_eth

    def get_current_icr(self, borrower: str, price: int) -> int:
        """The trove's ICR at ``price``, including pending rewards (``2**256 - 1`` without debt)."""
        debt, coll, _, _ = self.get_entire_debt_and_coll(borrower)
        return compute_cr(coll, debt, price)

    def get_nominal_icr(self, borrower: str) -> int:
        """The trove's nominal ICR (``coll * 1e20 / debt``), including pending rewards."""
        debt, coll, _, _ = self.get_entire_debt_and_coll(borrower)
        return compute_nominal_cr(coll, debt)

    def sorted_troves(self) -> list[str]:
        """Active troves as ``SortedTroves`` orders them: by nominal ICR, highest first (ties in ``trove_owners``
        order; on chain the tie order depends on the insertion hints)."""
        return sorted(self.trove_owners, key=self.get_nominal_icr, reverse=True)

    def get_borrowing_rate_with_decay(self, now: int) -> int:
        """Borrowing rate for an operation at ``now``."""
        return calc_borrowing_rate(calc_decayed_base_rate(self.base_rate, self.last_fee_operation_time, now))

    def get_redemption_rate_with_decay(self, now: int) -> int:
        """Redemption rate for an operation at ``now``."""
        return calc_redemption_rate(calc_decayed_base_rate(self.base_rate, self.last_fee_operation_time, now))

    # --- BorrowerOperations.openTrove ---
    def open_trove(
        self,
        borrower: str,
        coll: int,
        lusd_amount: int,
        price: int,
        now: int,
        max_fee_percentage: int = _100PCT,
    ) -> Trove:
        """Open a trove with ``coll`` ETH, drawing ``lusd_amount`` LUSD (``BorrowerOperations.openTrove``).

        In Normal Mode the base rate decays and a borrowing fee ``rate * lusd_amount`` (rate between 0.5% and 5%)
        is added to the debt and minted to LQTY staking; in Recovery Mode there is no fee. The trove's debt is the
        drawn amount plus fee plus the 200 LUSD liquidation reserve (minted to the gas pool). Its stake is
        ``coll * total_stakes_snapshot / total_collateral_snapshot`` (``coll`` before any liquidation).

        Parameters
        ----------
        borrower : str
            Trove owner.
        coll : int
            Collateral [wei] (``msg.value``).
        lusd_amount : int
            LUSD to receive [wei].
        price : int
            ETH:USD price.
        now : int
            Block timestamp.
        max_fee_percentage : int, optional
            Highest acceptable fee rate, default 100%.

        Returns
        -------
        Trove
            The new trove.

        Raises
        ------
        Revert
            ``"Max fee percentage must be between 0.5% and 100%"`` (``"... must less than or equal to 100%"`` in
            Recovery Mode), ``"BorrowerOps: Trove is active"``, ``"Fee exceeded provided maximum"``,
            ``"BorrowerOps: Trove's net debt must be greater than minimum"``, ``"BorrowerOps: An operation that
            would result in ICR < MCR is not permitted"``, ``"BorrowerOps: An operation that would result in TCR <
            CCR is not permitted"``, ``"BorrowerOps: Operation must leave trove with ICR >= CCR"``.
        """
        where = "TroveManager.open_trove"
        _address(borrower, "borrower", where)
        for name, value in (("coll", coll), ("lusd_amount", lusd_amount), ("price", price), ("now", now)):
            _uint(value, name, where)
        _uint(max_fee_percentage, "max_fee_percentage", where)
        is_recovery_mode = self.check_recovery_mode(price)
        if is_recovery_mode:
            if max_fee_percentage > DECIMAL_PRECISION:
                raise Revert("Max fee percentage must less than or equal to 100%")
        elif not BORROWING_FEE_FLOOR <= max_fee_percentage <= DECIMAL_PRECISION:
            raise Revert("Max fee percentage must be between 0.5% and 100%")
        if self.troves(borrower).status == Status.active:
            raise Revert("BorrowerOps: Trove is active")
        with self._atomic():
            lusd_fee = 0
            net_debt = lusd_amount
            if not is_recovery_mode:
                self.base_rate, self.last_fee_operation_time = decay_base_rate_from_borrowing(
                    self.base_rate, self.last_fee_operation_time, now
                )
                lusd_fee = calc_borrowing_fee(calc_borrowing_rate(self.base_rate), lusd_amount)
                _require_user_accepts_fee(lusd_fee, lusd_amount, max_fee_percentage)
                self.lusd_token.mint(LQTY_STAKING, lusd_fee)
                net_debt = _add(net_debt, lusd_fee)
            if net_debt < MIN_NET_DEBT:
                raise Revert("BorrowerOps: Trove's net debt must be greater than minimum")
            composite_debt = get_composite_debt(net_debt)
            icr = compute_cr(coll, composite_debt, price)
            if is_recovery_mode:
                if icr < CCR:
                    raise Revert("BorrowerOps: Operation must leave trove with ICR >= CCR")
            else:
                if icr < MCR:
                    raise Revert("BorrowerOps: An operation that would result in ICR < MCR is not permitted")
                new_tcr = compute_cr(
                    _add(self.get_entire_system_coll(), coll),
                    _add(self.get_entire_system_debt(), composite_debt),
                    price,
                )
                if new_tcr < CCR:
                    raise Revert("BorrowerOps: An operation that would result in TCR < CCR is not permitted")
            old = self.troves(borrower)
            trove = replace(
                old,
                status=Status.active,
                coll=_add(old.coll, coll),
                debt=_add(old.debt, composite_debt),
                snapshot_eth=self.L_ETH,
                snapshot_lusd_debt=self.L_LUSDDebt,
            )
            self._troves[borrower] = trove
            self._update_stake_and_total_stakes(borrower)
            self.trove_owners.append(borrower)
            self.active_pool_eth = _add(self.active_pool_eth, coll)
            self.active_pool_lusd_debt = _add(self.active_pool_lusd_debt, net_debt)
            self.lusd_token.mint(borrower, lusd_amount)
            self.active_pool_lusd_debt = _add(self.active_pool_lusd_debt, LUSD_GAS_COMPENSATION)
            self.lusd_token.mint(GAS_POOL, LUSD_GAS_COMPENSATION)
        return self.troves(borrower)

    def claim_collateral(self, borrower: str) -> int:
        """Pay out the borrower's collateral surplus (``BorrowerOperations.claimCollateral``).

        Raises
        ------
        Revert
            ``"CollSurplusPool: No collateral available to claim"``.
        """
        amount = self.get_coll_surplus(borrower)
        if amount == 0:
            raise Revert("CollSurplusPool: No collateral available to claim")
        with self._atomic():
            del self._coll_surplus[borrower]
            self.coll_surplus_pool_eth = _sub(self.coll_surplus_pool_eth, amount)
            self.eth_sent[borrower] = self.eth_sent.get(borrower, 0) + amount
        return amount

    # --- stakes and rewards ---
    def _compute_new_stake(self, coll: int) -> int:
        if self.total_collateral_snapshot == 0:
            return coll
        if self.total_stakes_snapshot == 0:
            raise Revert("(no reason: assert totalStakesSnapshot > 0)")
        return _mul(coll, self.total_stakes_snapshot) // self.total_collateral_snapshot

    def _update_stake_and_total_stakes(self, borrower: str) -> int:
        trove = self.troves(borrower)
        new_stake = self._compute_new_stake(trove.coll)
        self._troves[borrower] = replace(trove, stake=new_stake)
        self.total_stakes = _add(_sub(self.total_stakes, trove.stake), new_stake)
        return new_stake

    def _remove_stake(self, borrower: str) -> None:
        trove = self.troves(borrower)
        self.total_stakes = _sub(self.total_stakes, trove.stake)
        self._troves[borrower] = replace(trove, stake=0)

    def _move_pending_trove_rewards_to_active_pool(self, lusd: int, eth: int) -> None:
        self.default_pool_lusd_debt = _sub(self.default_pool_lusd_debt, lusd)
        self.active_pool_lusd_debt = _add(self.active_pool_lusd_debt, lusd)
        self.default_pool_eth = _sub(self.default_pool_eth, eth)
        self.active_pool_eth = _add(self.active_pool_eth, eth)

    def _redistribute_debt_and_coll(self, debt: int, coll: int) -> None:
        if debt == 0:
            return
        # Feedback error correction: the remainders of the last division join the next numerators.
        eth_per_unit, lusd_per_unit, eth_error, lusd_error = redistribution_rewards(
            debt, coll, self.total_stakes, self.last_eth_error_redistribution,
            self.last_lusd_debt_error_redistribution,
        )  # fmt: skip
        self.last_eth_error_redistribution = eth_error
        self.last_lusd_debt_error_redistribution = lusd_error
        self.L_ETH = _add(self.L_ETH, eth_per_unit)
        self.L_LUSDDebt = _add(self.L_LUSDDebt, lusd_per_unit)
        self.active_pool_lusd_debt = _sub(self.active_pool_lusd_debt, debt)
        self.default_pool_lusd_debt = _add(self.default_pool_lusd_debt, debt)
        self.active_pool_eth = _sub(self.active_pool_eth, coll)
        self.default_pool_eth = _add(self.default_pool_eth, coll)

    def _close_trove(self, borrower: str, status: Status) -> None:
        n = len(self.trove_owners)
        if not n > 1:
            raise Revert("TroveManager: Only one trove in the system")
        self._troves[borrower] = replace(
            self.troves(borrower), status=status, coll=0, debt=0, snapshot_eth=0, snapshot_lusd_debt=0
        )
        # Swap-and-pop, as _removeTroveOwner: the last owner takes the removed one's slot.
        index = self.trove_owners.index(borrower)
        self.trove_owners[index] = self.trove_owners[-1]
        self.trove_owners.pop()

    # --- liquidation ---
    def _liquidate_normal_mode(self, borrower: str, lusd_in_stab_pool: int) -> LiquidationValues:
        debt, coll, pending_debt, pending_coll = self.get_entire_debt_and_coll(borrower)
        self._move_pending_trove_rewards_to_active_pool(pending_debt, pending_coll)
        self._remove_stake(borrower)
        coll_gas_compensation = get_coll_gas_compensation(coll)
        coll_to_liquidate = _sub(coll, coll_gas_compensation)
        offset = get_offset_and_redistribution_vals(debt, coll_to_liquidate, lusd_in_stab_pool)
        self._close_trove(borrower, Status.closedByLiquidation)
        return LiquidationValues(debt, coll, coll_gas_compensation, LUSD_GAS_COMPENSATION, *offset)

    def _liquidate_recovery_mode(
        self, borrower: str, icr: int, lusd_in_stab_pool: int, tcr: int, price: int
    ) -> LiquidationValues:
        if len(self.trove_owners) <= 1:
            return LiquidationValues()  # don't liquidate the last trove
        debt, coll, pending_debt, pending_coll = self.get_entire_debt_and_coll(borrower)
        coll_gas_compensation = get_coll_gas_compensation(coll)
        coll_to_liquidate = _sub(coll, coll_gas_compensation)
        if icr <= _100PCT:
            # Under-collateralised: pure redistribution, the Stability Pool is not touched.
            self._move_pending_trove_rewards_to_active_pool(pending_debt, pending_coll)
            self._remove_stake(borrower)
            self._close_trove(borrower, Status.closedByLiquidation)
            return LiquidationValues(
                debt, coll, coll_gas_compensation, LUSD_GAS_COMPENSATION, 0, 0, debt, coll_to_liquidate
            )
        if icr < MCR:
            self._move_pending_trove_rewards_to_active_pool(pending_debt, pending_coll)
            self._remove_stake(borrower)
            offset = get_offset_and_redistribution_vals(debt, coll_to_liquidate, lusd_in_stab_pool)
            self._close_trove(borrower, Status.closedByLiquidation)
            return LiquidationValues(debt, coll, coll_gas_compensation, LUSD_GAS_COMPENSATION, *offset)
        if icr < tcr and debt <= lusd_in_stab_pool:
            self._move_pending_trove_rewards_to_active_pool(pending_debt, pending_coll)
            if lusd_in_stab_pool == 0:
                raise Revert("(no reason: assert _LUSDInStabPool != 0)")
            self._remove_stake(borrower)
            single = get_capped_offset_vals(debt, coll, price)
            self._close_trove(borrower, Status.closedByLiquidation)
            if single.coll_surplus > 0:
                self._coll_surplus[borrower] = _add(self.get_coll_surplus(borrower), single.coll_surplus)
            return single
        return LiquidationValues()

    def _recovery_mode_step(
        self,
        borrower: str,
        icr: int,
        price: int,
        state: list[int],
        coll_subtracted: Sequence[str],
    ) -> LiquidationValues:
        # state = [remaining SP LUSD, entire system debt, entire system coll]; coll_subtracted names the
        # LiquidationValues fields the deployed sequence subtracts from the tracked system collateral.
        tcr = compute_cr(state[2], state[1], price)
        single = self._liquidate_recovery_mode(borrower, icr, state[0], tcr, price)
        state[0] = _sub(state[0], single.debt_to_offset)
        state[1] = _sub(state[1], single.debt_to_offset)
        for name in coll_subtracted:
            state[2] = _sub(state[2], getattr(single, name))
        return single

    def _totals_from_sequence(
        self, borrowers: Sequence[str], price: int, *, batch: bool
    ) -> LiquidationTotals:
        lusd_in_stab_pool = self.stability_pool.total_lusd_deposits
        totals = LiquidationTotals()
        if not self.check_recovery_mode(price):
            remaining = lusd_in_stab_pool
            for borrower in borrowers:
                if self.get_current_icr(borrower, price) < MCR:
                    single = self._liquidate_normal_mode(borrower, remaining)
                    remaining = _sub(remaining, single.debt_to_offset)
                    totals = totals.add(single)
                elif not batch:
                    break
            return totals
        # Recovery Mode at the start. The deployed contract tracks the system collateral after each liquidation by
        # subtracting only collToSendToSP in batchLiquidateTroves, and collToSendToSP + collSurplus in
        # liquidateTroves (both omit the gas compensation; fixed in later, undeployed commits).
        coll_subtracted = ("coll_to_send_to_sp",) if batch else ("coll_to_send_to_sp", "coll_surplus")
        state = [lusd_in_stab_pool, self.get_entire_system_debt(), self.get_entire_system_coll()]
        back_to_normal_mode = False
        for borrower in borrowers:
            if batch and self.troves(borrower).status != Status.active:
                continue
            icr = self.get_current_icr(borrower, price)
            if not back_to_normal_mode:
                if icr >= MCR and state[0] == 0:
                    if batch:
                        continue
                    break
                totals = totals.add(self._recovery_mode_step(borrower, icr, price, state, coll_subtracted))
                back_to_normal_mode = not check_potential_recovery_mode(state[2], state[1], price)
            elif icr < MCR:
                single = self._liquidate_normal_mode(borrower, state[0])
                state[0] = _sub(state[0], single.debt_to_offset)
                totals = totals.add(single)
            elif not batch:
                break
        return totals

    def _finish_liquidation(self, totals: LiquidationTotals, liquidator: str) -> LiquidationTotals:
        if totals.total_debt_in_sequence == 0:
            raise Revert("TroveManager: nothing to liquidate")
        self.stability_pool.offset(totals.total_debt_to_offset, totals.total_coll_to_send_to_sp)
        self._redistribute_debt_and_coll(totals.total_debt_to_redistribute, totals.total_coll_to_redistribute)
        if totals.total_coll_surplus > 0:
            self.active_pool_eth = _sub(self.active_pool_eth, totals.total_coll_surplus)
            self.coll_surplus_pool_eth = _add(self.coll_surplus_pool_eth, totals.total_coll_surplus)
        # Snapshots exclude the ETH gas compensation, which is still in the active pool until sent below.
        self.total_stakes_snapshot = self.total_stakes
        self.total_collateral_snapshot = _add(
            _sub(self.active_pool_eth, totals.total_coll_gas_compensation), self.default_pool_eth
        )
        if totals.total_lusd_gas_compensation > 0:
            self.lusd_token.transfer(GAS_POOL, liquidator, totals.total_lusd_gas_compensation)
        if totals.total_coll_gas_compensation > 0:
            self.active_pool_eth = _sub(self.active_pool_eth, totals.total_coll_gas_compensation)
            self.eth_sent[liquidator] = self.eth_sent.get(liquidator, 0) + totals.total_coll_gas_compensation
        return totals

    def batch_liquidate_troves(
        self, borrowers: Sequence[str], price: int, liquidator: str = "liquidator"
    ) -> LiquidationTotals:
        """Liquidate the listed troves that are liquidatable, in order (``batchLiquidateTroves``).

        In Normal Mode every trove with ``ICR < MCR`` is liquidated: the 0.5% collateral and 200 LUSD gas
        compensation go to the liquidator, the debt is offset against the Stability Pool as far as its LUSD goes
        (with the same share of the collateral) and the rest of the debt and collateral is redistributed to active
        troves in proportion to their stakes. In Recovery Mode (``TCR < 150%``): ``ICR <= 100%`` is purely
        redistributed, ``100% < ICR < MCR`` is liquidated as in Normal Mode, and ``MCR <= ICR < TCR`` is offset
        entirely against the pool if it holds enough LUSD, seizing only collateral worth 110% of the debt (the rest
        is a claimable surplus); the mode is re-evaluated after each liquidation.

        Parameters
        ----------
        borrowers : sequence of str
            Troves to try.
        price : int
            ETH:USD price (``priceFeed.fetchPrice()``).
        liquidator : str, optional
            Receives the gas compensation.

        Returns
        -------
        LiquidationTotals
            What was liquidated and where it went.

        Raises
        ------
        Revert
            ``"TroveManager: Calldata address array must not be empty"``, ``"TroveManager: nothing to
            liquidate"``, ``"TroveManager: Only one trove in the system"``.

        References
        ----------
        liquity/dev ``TroveManager.sol`` (``batchLiquidateTroves``, ``_liquidateNormalMode``,
        ``_liquidateRecoveryMode``, ``_redistributeDebtAndColl``), ``StabilityPool.sol`` (``offset``), commit
        bf638ecb.
        """
        _uint(price, "price", "TroveManager.batch_liquidate_troves")
        _address(liquidator, "liquidator", "TroveManager.batch_liquidate_troves")
        if len(borrowers) == 0:
            raise Revert("TroveManager: Calldata address array must not be empty")
        with self._atomic():
            totals = self._totals_from_sequence(list(borrowers), price, batch=True)
            return self._finish_liquidation(totals, liquidator)

    def liquidate(self, borrower: str, price: int, liquidator: str = "liquidator") -> LiquidationTotals:
        """Liquidate one trove (``liquidate``): :meth:`batch_liquidate_troves` of ``[borrower]``.

        Raises
        ------
        Revert
            ``"TroveManager: Trove does not exist or is closed"``, and those of :meth:`batch_liquidate_troves`.
        """
        if self.troves(borrower).status != Status.active:
            raise Revert("TroveManager: Trove does not exist or is closed")
        return self.batch_liquidate_troves([borrower], price, liquidator)

    def liquidate_troves(self, n: int, price: int, liquidator: str = "liquidator") -> LiquidationTotals:
        """Liquidate up to ``n`` troves from the lowest nominal ICR up, stopping at the first healthy one
        (``liquidateTroves``). In Recovery Mode the highest trove is never reached, as on chain.

        Raises
        ------
        Revert
            ``"TroveManager: nothing to liquidate"``, ``"TroveManager: Only one trove in the system"``.
        """
        _uint(n, "n", "TroveManager.liquidate_troves")
        _uint(price, "price", "TroveManager.liquidate_troves")
        with self._atomic():
            order = self.sorted_troves()[::-1]  # from getLast() towards getFirst()
            if self.check_recovery_mode(price):
                order = order[:-1]  # the loop stops when it reaches getFirst()
            totals = self._totals_from_sequence(order[:n], price, batch=False)
            return self._finish_liquidation(totals, liquidator)
