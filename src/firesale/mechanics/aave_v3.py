"""Aave v3 exact mechanics: fixed-point math, account health and liquidation.

Version followed: **Aave v3.0.2**, as published in `aave/aave-v3-core` at commit
``b74526a7bc67a3a117a1963fc871b3eb8cea8435`` (package v1.19.4, the repository's last release; ``HEAD``
``782f519`` only adds a deprecation note to the README). Every function below names the contract it follows.

Reverts raise :class:`firesale.mechanics.Revert` carrying what the contract reverts with:

- the numeric error codes of that version's ``Errors.sol`` (``"27"`` ``RESERVE_INACTIVE``, ``"45"``
  ``HEALTH_FACTOR_NOT_BELOW_THRESHOLD``, ...), collected in :class:`Errors`;
- ``""`` for the overflow and division-by-zero guards of ``WadRayMath`` and ``PercentageMath``, which are
  ``revert(0, 0)`` in assembly and carry no data;
- ``"Panic(0x11)"`` (checked arithmetic over- or underflow) and ``"Panic(0x12)"`` (division by zero) where
  Solidity 0.8 checked arithmetic fails;
- ``"SafeCast: value doesn't fit in 128 bits"`` where a scaled amount does not fit the token's ``uint128`` balance.

Later versions (aave-dao/aave-v3-origin, 3.1 to 3.3) differ, and these functions do **not** follow them: custom
errors instead of codes; stable-rate debt removed (3.2); e-mode categories as asset bitmaps with a collateral and a
borrowable set (3.2); and in 3.3 a 100% close factor also when the position's collateral or debt is worth less than
``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD`` (2000e8 base units), a ``MustNotLeaveDust`` revert when a partial
liquidation would leave less than ``MIN_LEFTOVER_BASE`` (1000e8) of debt or collateral, and bad-debt (deficit)
accounting when the collateral is exhausted.

Units: token amounts in the token's own decimals, prices in the oracle's base currency (8 decimals for the USD
markets), health factor in WAD (1e18), indexes in RAY (1e27), ltv / thresholds / bonus / fees in basis points
(1e4 = 100%).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics._solidity import (
    UINT256_MAX,
    check_bool as _check_bool,
    check_int as _check_int,
    check_uint256 as _check_uint256,
    checked_add as _add,
    checked_div as _div,
    checked_mul as _mul,
    checked_sub as _sub,
)

__all__ = [
    "CLOSE_FACTOR_HF_THRESHOLD",
    "DEFAULT_LIQUIDATION_CLOSE_FACTOR",
    "HALF_PERCENTAGE_FACTOR",
    "HALF_RAY",
    "HALF_WAD",
    "HEALTH_FACTOR_LIQUIDATION_THRESHOLD",
    "MAX_LIQUIDATION_CLOSE_FACTOR",
    "MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD",
    "PERCENTAGE_FACTOR",
    "RAY",
    "UINT256_MAX",
    "WAD",
    "WAD_RAY_RATIO",
    "EModeCategory",
    "Errors",
    "LiquidationCallResult",
    "ReserveConfiguration",
    "UserAccountData",
    "UserReserveData",
    "calculate_available_borrows",
    "calculate_available_collateral_to_liquidate",
    "calculate_debt",
    "calculate_user_account_data",
    "liquidation_call",
    "percent_div",
    "percent_mul",
    "ray_div",
    "ray_mul",
    "ray_to_wad",
    "validate_liquidation_call",
    "wad_div",
    "wad_mul",
    "wad_to_ray",
]

_UINT128_MAX: Final = 2**128 - 1
_WORD: Final = 2**256

WAD: Final = 10**18
HALF_WAD: Final = WAD // 2
RAY: Final = 10**27
HALF_RAY: Final = RAY // 2
WAD_RAY_RATIO: Final = 10**9
PERCENTAGE_FACTOR: Final = 10**4
HALF_PERCENTAGE_FACTOR: Final = PERCENTAGE_FACTOR // 2

#: LiquidationLogic: close factor (bps) while the health factor is above CLOSE_FACTOR_HF_THRESHOLD.
DEFAULT_LIQUIDATION_CLOSE_FACTOR: Final = 5_000
#: LiquidationLogic: close factor (bps) at or below CLOSE_FACTOR_HF_THRESHOLD.
MAX_LIQUIDATION_CLOSE_FACTOR: Final = 10_000
#: LiquidationLogic: health factor (WAD) at or below which the whole debt may be repaid at once.
CLOSE_FACTOR_HF_THRESHOLD: Final = 95 * 10**16
#: ValidationLogic: a position is liquidatable strictly below this health factor (WAD).
HEALTH_FACTOR_LIQUIDATION_THRESHOLD: Final = WAD
#: ValidationLogic: below this health factor a liquidation ignores the price oracle sentinel (WAD).
MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD: Final = 95 * 10**16

_SAFECAST_128: Final = "SafeCast: value doesn't fit in 128 bits"


class Errors:
    """The ``Errors.sol`` codes (Aave v3.0.2) that the functions of this module can raise.

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/helpers/Errors.sol, commit b74526a.
    """

    INVALID_BURN_AMOUNT: Final = "25"
    RESERVE_INACTIVE: Final = "27"
    RESERVE_PAUSED: Final = "29"
    HEALTH_FACTOR_NOT_BELOW_THRESHOLD: Final = "45"
    COLLATERAL_CANNOT_BE_LIQUIDATED: Final = "46"
    SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER: Final = "47"
    PRICE_ORACLE_SENTINEL_CHECK_FAILED: Final = "59"


# --------------------------------------------------------------------------------------------------------------
# input checks and Solidity 0.8 checked arithmetic


def _unit(decimals: int) -> int:
    # `10 ** decimals` sits in an `unchecked` block in the contracts, so it wraps modulo 2**256.
    return pow(10, decimals, _WORD)


# --------------------------------------------------------------------------------------------------------------
# WadRayMath and PercentageMath (unchecked cores, then the validated public functions)


def _wad_mul(a: int, b: int) -> int:
    if b != 0 and a > (UINT256_MAX - HALF_WAD) // b:
        raise Revert("")
    return (a * b + HALF_WAD) // WAD


def _wad_div(a: int, b: int) -> int:
    if b == 0 or a > (UINT256_MAX - b // 2) // WAD:
        raise Revert("")
    return (a * WAD + b // 2) // b


def _ray_mul(a: int, b: int) -> int:
    if b != 0 and a > (UINT256_MAX - HALF_RAY) // b:
        raise Revert("")
    return (a * b + HALF_RAY) // RAY


def _ray_div(a: int, b: int) -> int:
    if b == 0 or a > (UINT256_MAX - b // 2) // RAY:
        raise Revert("")
    return (a * RAY + b // 2) // b


def _percent_mul(value: int, percentage: int) -> int:
    if percentage != 0 and value > (UINT256_MAX - HALF_PERCENTAGE_FACTOR) // percentage:
        raise Revert("")
    return (value * percentage + HALF_PERCENTAGE_FACTOR) // PERCENTAGE_FACTOR


def _percent_div(value: int, percentage: int) -> int:
    if percentage == 0 or value > (UINT256_MAX - percentage // 2) // PERCENTAGE_FACTOR:
        raise Revert("")
    return (value * PERCENTAGE_FACTOR + percentage // 2) // percentage


def wad_mul(a: int, b: int) -> int:
    """Multiply two WADs, rounding half up (``WadRayMath.wadMul``).

    Parameters
    ----------
    a, b : int
        WAD values (1e18 = 1), uint256.

    Returns
    -------
    int
        ``(a * b + WAD / 2) / WAD``: the product rounded half up to the nearest WAD unit.

    Raises
    ------
    Revert
        With reason ``""`` when ``a > (2**256 - 1 - HALF_WAD) / b`` (the library's ``revert(0, 0)``).
    ParameterError
        If an argument is not an int in [0, 2**256 - 1].

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/math/WadRayMath.sol, commit b74526a.

    Examples
    --------
    >>> wad_mul(2_500_000_000_000_000_000, 500_000_000_000_000_000)
    1250000000000000000
    >>> wad_mul(1, 500_000_000_000_000_000)  # 0.5 wei rounds up
    1
    """
    return _wad_mul(_check_uint256(a, "a", "wad_mul"), _check_uint256(b, "b", "wad_mul"))


def wad_div(a: int, b: int) -> int:
    """Divide two WADs, rounding half up (``WadRayMath.wadDiv``).

    Parameters
    ----------
    a, b : int
        WAD values, uint256.

    Returns
    -------
    int
        ``(a * WAD + b / 2) / b``, where ``b / 2`` is itself truncated.

    Raises
    ------
    Revert
        With reason ``""`` when ``b == 0`` or ``a > (2**256 - 1 - b / 2) / WAD``.
    ParameterError
        If an argument is not an int in [0, 2**256 - 1].

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/math/WadRayMath.sol, commit b74526a.
    """
    return _wad_div(_check_uint256(a, "a", "wad_div"), _check_uint256(b, "b", "wad_div"))


def ray_mul(a: int, b: int) -> int:
    """Multiply two RAYs, rounding half up (``WadRayMath.rayMul``).

    Parameters
    ----------
    a, b : int
        RAY values (1e27 = 1), uint256.

    Returns
    -------
    int
        ``(a * b + RAY / 2) / RAY``.

    Raises
    ------
    Revert
        With reason ``""`` when ``a > (2**256 - 1 - HALF_RAY) / b``.
    ParameterError
        If an argument is not an int in [0, 2**256 - 1].

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/math/WadRayMath.sol, commit b74526a.
    """
    return _ray_mul(_check_uint256(a, "a", "ray_mul"), _check_uint256(b, "b", "ray_mul"))


def ray_div(a: int, b: int) -> int:
    """Divide two RAYs, rounding half up (``WadRayMath.rayDiv``).

    Parameters
    ----------
    a, b : int
        RAY values, uint256.

    Returns
    -------
    int
        ``(a * RAY + b / 2) / b``, where ``b / 2`` is itself truncated.

    Raises
    ------
    Revert
        With reason ``""`` when ``b == 0`` or ``a > (2**256 - 1 - b / 2) / RAY``.
    ParameterError
        If an argument is not an int in [0, 2**256 - 1].

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/math/WadRayMath.sol, commit b74526a.
    """
    return _ray_div(_check_uint256(a, "a", "ray_div"), _check_uint256(b, "b", "ray_div"))


def ray_to_wad(a: int) -> int:
    """Convert a RAY to a WAD, rounding half up (``WadRayMath.rayToWad``).

    Parameters
    ----------
    a : int
        RAY value, uint256.

    Returns
    -------
    int
        ``a / 1e9``, plus one when the remainder is at least ``5e8``. Never reverts.

    Raises
    ------
    ParameterError
        If ``a`` is not an int in [0, 2**256 - 1].

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/math/WadRayMath.sol, commit b74526a.
    """
    _check_uint256(a, "a", "ray_to_wad")
    b, remainder = divmod(a, WAD_RAY_RATIO)
    return b + 1 if remainder >= WAD_RAY_RATIO // 2 else b


def wad_to_ray(a: int) -> int:
    """Convert a WAD to a RAY (``WadRayMath.wadToRay``), exact.

    Parameters
    ----------
    a : int
        WAD value, uint256.

    Returns
    -------
    int
        ``a * 1e9``.

    Raises
    ------
    Revert
        With reason ``""`` when ``a * 1e9`` overflows uint256.
    ParameterError
        If ``a`` is not an int in [0, 2**256 - 1].

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/math/WadRayMath.sol, commit b74526a.
    """
    _check_uint256(a, "a", "wad_to_ray")
    b = a * WAD_RAY_RATIO
    if b > UINT256_MAX:
        raise Revert("")
    return b


def percent_mul(value: int, percentage: int) -> int:
    """Apply a percentage in basis points, rounding half up (``PercentageMath.percentMul``).

    Parameters
    ----------
    value : int
        uint256 amount.
    percentage : int
        uint256, in basis points (1e4 = 100%).

    Returns
    -------
    int
        ``(value * percentage + 5000) / 10000``.

    Raises
    ------
    Revert
        With reason ``""`` when ``value > (2**256 - 1 - 5000) / percentage``.
    ParameterError
        If an argument is not an int in [0, 2**256 - 1].

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/math/PercentageMath.sol, commit b74526a.

    Examples
    --------
    >>> percent_mul(10**18, 5_000)
    500000000000000000
    """
    return _percent_mul(
        _check_uint256(value, "value", "percent_mul"), _check_uint256(percentage, "percentage", "percent_mul")
    )


def percent_div(value: int, percentage: int) -> int:
    """Divide by a percentage in basis points, rounding half up (``PercentageMath.percentDiv``).

    Parameters
    ----------
    value : int
        uint256 amount.
    percentage : int
        uint256, in basis points.

    Returns
    -------
    int
        ``(value * 10000 + percentage / 2) / percentage``, where ``percentage / 2`` is itself truncated.

    Raises
    ------
    Revert
        With reason ``""`` when ``percentage == 0`` or ``value > (2**256 - 1 - percentage / 2) / 10000``.
    ParameterError
        If an argument is not an int in [0, 2**256 - 1].

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/math/PercentageMath.sol, commit b74526a.
    """
    return _percent_div(
        _check_uint256(value, "value", "percent_div"), _check_uint256(percentage, "percentage", "percent_div")
    )


# --------------------------------------------------------------------------------------------------------------
# on-chain state the logic reads


@dataclass(frozen=True)
class ReserveConfiguration:
    """The fields of a reserve's ``ReserveConfigurationMap`` that health and liquidation read.

    Ranges are the bit widths of the packed configuration word (``ReserveConfiguration.sol``); the pool
    configurator's stricter rules (``liquidation_threshold >= ltv``, bonus above 100%, ...) are not imposed, so
    misconfigured reserves can be studied too.

    Parameters
    ----------
    decimals : int
        Decimals of the underlying token, in [0, 255].
    ltv, liquidation_threshold : int
        Basis points, in [0, 65535]. A zero threshold means the asset is not collateral.
    liquidation_bonus : int
        Basis points including the principal (10500 = 5% bonus), in [0, 65535].
    liquidation_protocol_fee : int
        Share of the bonus that goes to the treasury, basis points, in [0, 65535].
    e_mode_category : int
        E-mode category id of the asset (0 = none), in [0, 255].
    active, paused : bool
        The reserve's ``isActive`` and ``isPaused`` flags.
    """

    decimals: int
    ltv: int = 0
    liquidation_threshold: int = 0
    liquidation_bonus: int = 0
    liquidation_protocol_fee: int = 0
    e_mode_category: int = 0
    active: bool = True
    paused: bool = False

    def __post_init__(self) -> None:
        where = "ReserveConfiguration"
        _check_int(self.decimals, "decimals", where, 0, 255, "255")
        for name in ("ltv", "liquidation_threshold", "liquidation_bonus", "liquidation_protocol_fee"):
            _check_int(getattr(self, name), name, where, 0, 65_535, "65535")
        _check_int(self.e_mode_category, "e_mode_category", where, 0, 255, "255")
        _check_bool(self.active, "active", where)
        _check_bool(self.paused, "paused", where)


@dataclass(frozen=True)
class EModeCategory:
    """An efficiency-mode category (``DataTypes.EModeCategory``), with its oracle price already read.

    Parameters
    ----------
    ltv, liquidation_threshold, liquidation_bonus : int
        Basis points, in [0, 65535].
    asset_price : int or None
        ``oracle.getAssetPrice(priceSource)`` in base currency, or None when the category has no price source
        (``priceSource == address(0)``).
    """

    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    asset_price: int | None = None

    def __post_init__(self) -> None:
        where = "EModeCategory"
        for name in ("ltv", "liquidation_threshold", "liquidation_bonus"):
            _check_int(getattr(self, name), name, where, 0, 65_535, "65535")
        if self.asset_price is not None:
            _check_uint256(self.asset_price, "asset_price", where)


@dataclass(frozen=True)
class UserReserveData:
    """One reserve as seen from one user at the current block.

    Parameters
    ----------
    asset : str
        Name or address of the underlying asset; unique within a snapshot.
    configuration : ReserveConfiguration
        The reserve's configuration.
    asset_price : int
        ``oracle.getAssetPrice(asset)``, base currency units (8 decimals in the USD markets), uint256.
    liquidity_index : int
        ``getReserveNormalizedIncome(asset)`` at the current block, RAY, in [1e27, 2**128 - 1].
    variable_borrow_index : int
        ``getReserveNormalizedVariableDebt(asset)`` at the current block, RAY, in [1e27, 2**128 - 1].
    scaled_a_token_balance : int
        ``aToken.scaledBalanceOf(user)``, uint128.
    scaled_variable_debt : int
        ``variableDebtToken.scaledBalanceOf(user)``, uint128.
    stable_debt : int
        ``stableDebtToken.balanceOf(user)`` (principal with interest accrued to now), uint256.
    using_as_collateral : bool
        The user's ``isUsingAsCollateral`` bit for this reserve.
    is_borrowing : bool or None
        The user's ``isBorrowing`` bit; None derives it from a non-zero debt balance.
    """

    asset: str
    configuration: ReserveConfiguration
    asset_price: int
    liquidity_index: int = RAY
    variable_borrow_index: int = RAY
    scaled_a_token_balance: int = 0
    scaled_variable_debt: int = 0
    stable_debt: int = 0
    using_as_collateral: bool = True
    is_borrowing: bool | None = None

    def __post_init__(self) -> None:
        where = "UserReserveData"
        if not isinstance(self.asset, str):
            raise ParameterError(
                f"The 'asset' parameter of {where} must be a str. Got {self.asset!r} instead."
            )
        if not isinstance(self.configuration, ReserveConfiguration):
            raise ParameterError(
                f"The 'configuration' parameter of {where} must be a ReserveConfiguration. "
                f"Got {self.configuration!r} instead."
            )
        _check_uint256(self.asset_price, "asset_price", where)
        for name in ("liquidity_index", "variable_borrow_index"):
            _check_int(getattr(self, name), name, where, RAY, _UINT128_MAX, "2**128 - 1")
        for name in ("scaled_a_token_balance", "scaled_variable_debt"):
            _check_int(getattr(self, name), name, where, 0, _UINT128_MAX, "2**128 - 1")
        _check_uint256(self.stable_debt, "stable_debt", where)
        _check_bool(self.using_as_collateral, "using_as_collateral", where)
        if self.is_borrowing is None:
            object.__setattr__(self, "is_borrowing", self.scaled_variable_debt != 0 or self.stable_debt != 0)
        else:
            _check_bool(self.is_borrowing, "is_borrowing", where)


@dataclass(frozen=True)
class UserAccountData:
    """What ``GenericLogic.calculateUserAccountData`` returns.

    Attributes
    ----------
    total_collateral_in_base_currency, total_debt_in_base_currency : int
        Base currency units.
    avg_ltv, avg_liquidation_threshold : int
        Collateral-weighted averages, basis points, truncated.
    health_factor : int
        WAD; ``2**256 - 1`` when there is no debt.
    has_zero_ltv_collateral : bool
        True when some enabled collateral has ``ltv == 0``.
    """

    total_collateral_in_base_currency: int
    total_debt_in_base_currency: int
    avg_ltv: int
    avg_liquidation_threshold: int
    health_factor: int
    has_zero_ltv_collateral: bool


@dataclass(frozen=True)
class LiquidationCallResult:
    """The outcome of :func:`liquidation_call`.

    Attributes
    ----------
    actual_debt_to_liquidate : int
        Debt asset repaid by the liquidator (debt token units).
    actual_collateral_to_liquidate : int
        Collateral sent to the liquidator, as underlying or aTokens (collateral token units).
    liquidation_protocol_fee_amount : int
        Collateral aTokens sent to the treasury, after the contract's cap at the user's remaining balance.
    health_factor : int
        The user's health factor before the liquidation, WAD.
    user_total_debt : int
        The user's stable plus variable debt in the debt asset before the liquidation.
    user_collateral_balance : int
        The user's aToken balance in the collateral asset before the liquidation.
    liquidation_bonus : int
        The bonus applied, basis points (the e-mode category's when the collateral is in the user's category).
    reserves : tuple of UserReserveData
        The user's snapshot after the liquidation, in the input order: balances burned, and the collateral and
        borrowing bits cleared where the contract clears them.
    """

    actual_debt_to_liquidate: int
    actual_collateral_to_liquidate: int
    liquidation_protocol_fee_amount: int
    health_factor: int
    user_total_debt: int
    user_collateral_balance: int
    liquidation_bonus: int
    reserves: tuple[UserReserveData, ...]


# --------------------------------------------------------------------------------------------------------------
# GenericLogic


def _check_reserves(reserves: object, where: str) -> tuple[UserReserveData, ...]:
    if isinstance(reserves, str | bytes) or not isinstance(reserves, Sequence):
        raise ParameterError(
            f"The 'reserves' parameter of {where} must be a sequence of UserReserveData. Got {reserves!r} instead."
        )
    seen: set[str] = set()
    for reserve in reserves:
        if not isinstance(reserve, UserReserveData):
            raise ParameterError(
                f"The 'reserves' parameter of {where} must be a sequence of UserReserveData. "
                f"Got an item {reserve!r} instead."
            )
        if reserve.asset in seen:
            raise ParameterError(
                f"The 'reserves' parameter of {where} must name each asset once. "
                f"Got {reserve.asset!r} twice instead."
            )
        seen.add(reserve.asset)
    return tuple(reserves)


def _check_e_mode(user_e_mode_category: object, e_mode_category: object, where: str) -> EModeCategory | None:
    _check_int(user_e_mode_category, "user_e_mode_category", where, 0, 255, "255")
    if user_e_mode_category == 0:
        return None
    if not isinstance(e_mode_category, EModeCategory):
        raise ParameterError(
            f"The 'e_mode_category' parameter of {where} must be an EModeCategory when user_e_mode_category is "
            f"not 0. Got {e_mode_category!r} instead."
        )
    return e_mode_category


def _user_balance_in_base_currency(reserve: UserReserveData, asset_price: int, asset_unit: int) -> int:
    balance = _mul(_ray_mul(reserve.scaled_a_token_balance, reserve.liquidity_index), asset_price)
    return balance // asset_unit


def _user_debt_in_base_currency(reserve: UserReserveData, asset_price: int, asset_unit: int) -> int:
    user_total_debt = reserve.scaled_variable_debt
    if user_total_debt != 0:
        user_total_debt = _ray_mul(user_total_debt, reserve.variable_borrow_index)
    user_total_debt = _add(user_total_debt, reserve.stable_debt)
    return _mul(asset_price, user_total_debt) // asset_unit


def _account_data(
    reserves: tuple[UserReserveData, ...], user_e_mode_category: int, e_mode: EModeCategory | None
) -> UserAccountData:
    if not any(r.using_as_collateral or r.is_borrowing for r in reserves):
        return UserAccountData(0, 0, 0, 0, UINT256_MAX, False)

    e_mode_ltv = e_mode_liq_threshold = e_mode_asset_price = 0
    if e_mode is not None:
        e_mode_ltv, e_mode_liq_threshold = e_mode.ltv, e_mode.liquidation_threshold
        e_mode_asset_price = e_mode.asset_price or 0

    total_collateral = total_debt = avg_ltv = avg_liq_threshold = 0
    has_zero_ltv_collateral = False
    for reserve in reserves:
        if not (reserve.using_as_collateral or reserve.is_borrowing):
            continue
        config = reserve.configuration
        asset_unit = _unit(config.decimals)
        if e_mode_asset_price != 0 and user_e_mode_category == config.e_mode_category:
            asset_price = e_mode_asset_price
        else:
            asset_price = reserve.asset_price

        if config.liquidation_threshold != 0 and reserve.using_as_collateral:
            balance = _user_balance_in_base_currency(reserve, asset_price, asset_unit)
            total_collateral = _add(total_collateral, balance)
            in_e_mode = user_e_mode_category != 0 and config.e_mode_category == user_e_mode_category
            if config.ltv != 0:
                avg_ltv = _add(avg_ltv, _mul(balance, e_mode_ltv if in_e_mode else config.ltv))
            else:
                has_zero_ltv_collateral = True
            threshold = e_mode_liq_threshold if in_e_mode else config.liquidation_threshold
            avg_liq_threshold = _add(avg_liq_threshold, _mul(balance, threshold))

        if reserve.is_borrowing:
            total_debt = _add(total_debt, _user_debt_in_base_currency(reserve, asset_price, asset_unit))

    if total_collateral != 0:
        avg_ltv //= total_collateral
        avg_liq_threshold //= total_collateral
    else:
        avg_ltv = avg_liq_threshold = 0
    if total_debt == 0:
        health_factor = UINT256_MAX
    else:
        health_factor = _wad_div(_percent_mul(total_collateral, avg_liq_threshold), total_debt)
    return UserAccountData(
        total_collateral, total_debt, avg_ltv, avg_liq_threshold, health_factor, has_zero_ltv_collateral
    )


def calculate_user_account_data(
    reserves: Sequence[UserReserveData],
    user_e_mode_category: int = 0,
    e_mode_category: EModeCategory | None = None,
) -> UserAccountData:
    """Total collateral and debt, average LTV and threshold, and health factor of one user.

    Follows ``GenericLogic.calculateUserAccountData``: per reserve the user supplies as collateral or borrows,

    .. math::

        c_i = \\lfloor \\mathrm{rayMul}(s_i, I_i)\\, p_i / 10^{d_i} \\rfloor, \\qquad
        b_i = \\lfloor p_i\\, (\\mathrm{rayMul}(v_i, B_i) + \\mathrm{stable}_i) / 10^{d_i} \\rfloor

    with :math:`s_i, v_i` the scaled aToken and variable debt balances, :math:`I_i, B_i` the liquidity and
    variable borrow indexes, :math:`p_i` the price (the e-mode category's price when the asset is in the user's
    category and that price is non-zero). Collateral counts only if its liquidation threshold is non-zero and the
    user's collateral bit is set. Averages are :math:`\\lfloor \\sum c_i t_i / \\sum c_i \\rfloor` (e-mode ltv and
    threshold for assets in the user's category), and the health factor is
    ``wadDiv(percentMul(total_collateral, avg_liquidation_threshold), total_debt)``.

    Parameters
    ----------
    reserves : sequence of UserReserveData
        The reserves of the pool the user touches; each asset once. Order does not change the result.
    user_e_mode_category : int
        The user's e-mode category id, 0 for none, in [0, 255].
    e_mode_category : EModeCategory, optional
        The configuration of ``user_e_mode_category``; required when that is not 0.

    Returns
    -------
    UserAccountData
        An account with neither collateral nor borrowing bits returns zeros, health factor ``2**256 - 1`` and
        ``has_zero_ltv_collateral = False``, as the contract's early return does.

    Raises
    ------
    Revert
        ``"Panic(0x11)"`` when a price times a balance overflows uint256; ``""`` from the fixed-point library.
    ParameterError
        On malformed arguments.

    Notes
    -----
    Rounding: each base-currency value truncates; ``rayMul``, ``percentMul`` and ``wadDiv`` round half up;
    the averages truncate. Aave v3.0.2 has no separate zero-LTV rule here beyond excluding zero-LTV collateral
    from ``avg_ltv`` and reporting ``has_zero_ltv_collateral`` (used by withdraw and transfer validation).

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/logic/GenericLogic.sol and EModeLogic.sol, commit b74526a.
    """
    where = "calculate_user_account_data"
    checked = _check_reserves(reserves, where)
    e_mode = _check_e_mode(user_e_mode_category, e_mode_category, where)
    return _account_data(checked, user_e_mode_category, e_mode)


def calculate_available_borrows(
    total_collateral_in_base_currency: int, total_debt_in_base_currency: int, ltv: int
) -> int:
    """Borrowing power left in base currency (``GenericLogic.calculateAvailableBorrows``).

    Parameters
    ----------
    total_collateral_in_base_currency, total_debt_in_base_currency : int
        Base currency units, uint256.
    ltv : int
        Average LTV, basis points, uint256.

    Returns
    -------
    int
        ``max(percentMul(total_collateral, ltv) - total_debt, 0)``; ``percentMul`` rounds half up.

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/logic/GenericLogic.sol, commit b74526a.
    """
    where = "calculate_available_borrows"
    collateral = _check_uint256(total_collateral_in_base_currency, "total_collateral_in_base_currency", where)
    debt = _check_uint256(total_debt_in_base_currency, "total_debt_in_base_currency", where)
    available = _percent_mul(collateral, _check_uint256(ltv, "ltv", where))
    return 0 if available < debt else available - debt


# --------------------------------------------------------------------------------------------------------------
# LiquidationLogic and ValidationLogic


def calculate_debt(
    user_stable_debt: int, user_variable_debt: int, debt_to_cover: int, health_factor: int
) -> tuple[int, int, int]:
    """The user's debt and the most a liquidator may repay (``LiquidationLogic._calculateDebt``).

    The close factor is 50% (``DEFAULT_LIQUIDATION_CLOSE_FACTOR``) while the health factor is above
    ``CLOSE_FACTOR_HF_THRESHOLD`` (0.95e18) and 100% at or below it.

    Parameters
    ----------
    user_stable_debt, user_variable_debt : int
        ``balanceOf(user)`` of the stable and variable debt tokens, uint256.
    debt_to_cover : int
        What the liquidator asks to repay (``2**256 - 1`` for "as much as allowed"), uint256.
    health_factor : int
        The user's health factor, WAD, uint256.

    Returns
    -------
    tuple of int
        ``(user_variable_debt, user_total_debt, actual_debt_to_liquidate)`` with
        ``actual_debt_to_liquidate = min(debt_to_cover, percentMul(user_total_debt, close_factor))``.

    Raises
    ------
    Revert
        ``"Panic(0x11)"`` if stable plus variable debt overflows.

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/logic/LiquidationLogic.sol, commit b74526a.
    """
    where = "calculate_debt"
    stable = _check_uint256(user_stable_debt, "user_stable_debt", where)
    variable = _check_uint256(user_variable_debt, "user_variable_debt", where)
    to_cover = _check_uint256(debt_to_cover, "debt_to_cover", where)
    hf = _check_uint256(health_factor, "health_factor", where)
    return _calculate_debt(stable, variable, to_cover, hf)


def _calculate_debt(
    stable: int, variable: int, debt_to_cover: int, health_factor: int
) -> tuple[int, int, int]:
    total = _add(stable, variable)
    if health_factor > CLOSE_FACTOR_HF_THRESHOLD:
        close_factor = DEFAULT_LIQUIDATION_CLOSE_FACTOR
    else:
        close_factor = MAX_LIQUIDATION_CLOSE_FACTOR
    max_liquidatable_debt = _percent_mul(total, close_factor)
    return variable, total, min(debt_to_cover, max_liquidatable_debt)


def calculate_available_collateral_to_liquidate(
    debt_to_cover: int,
    user_collateral_balance: int,
    liquidation_bonus: int,
    *,
    collateral_price: int,
    debt_asset_price: int,
    collateral_decimals: int,
    debt_asset_decimals: int,
    liquidation_protocol_fee_percentage: int = 0,
) -> tuple[int, int, int]:
    """Collateral seized for a given debt, capped by the user's balance, and the protocol's fee.

    Follows ``LiquidationLogic._calculateAvailableCollateralToLiquidate`` (private in the contract):

    .. math::

        \\mathrm{base} = \\left\\lfloor \\frac{p_d\\, D\\, 10^{d_c}}{p_c\\, 10^{d_d}} \\right\\rfloor, \\qquad
        \\mathrm{max} = \\mathrm{percentMul}(\\mathrm{base}, \\mathrm{bonus})

    If ``max`` exceeds the user's balance, all of it is taken and the debt needed is
    ``percentDiv(floor(p_c * balance * 10^d_d / (p_d * 10^d_c)), bonus)``; otherwise ``max`` is taken for
    ``debt_to_cover``. With a protocol fee, ``bonus_collateral = collateral - percentDiv(collateral, bonus)`` and
    the fee ``percentMul(bonus_collateral, fee)`` is carved out of the liquidator's collateral.

    Parameters
    ----------
    debt_to_cover : int
        Debt to repay (already capped by the close factor), debt token units, uint256.
    user_collateral_balance : int
        The user's aToken balance of the collateral, uint256.
    liquidation_bonus : int
        Basis points including principal (10500 = 5%), uint256.
    collateral_price, debt_asset_price : int
        Oracle prices in base currency (the e-mode price source's when it applies), uint256.
    collateral_decimals, debt_asset_decimals : int
        Token decimals, in [0, 255].
    liquidation_protocol_fee_percentage : int
        The collateral reserve's liquidation protocol fee, basis points, uint256.

    Returns
    -------
    tuple of int
        ``(collateral_to_liquidator, debt_amount_needed, liquidation_protocol_fee)``.

    Raises
    ------
    Revert
        ``"Panic(0x12)"`` if the collateral (or, when the balance binds, the debt) price is 0; ``"Panic(0x11)"``
        on overflow or if ``liquidation_bonus < 10000`` with a fee; ``""`` from ``percentMul`` / ``percentDiv``
        (e.g. a zero bonus when the balance binds).

    Notes
    -----
    Rounding: ``base`` and the debt-needed quotient truncate; every ``percentMul`` / ``percentDiv`` rounds half up,
    so the bonus collateral can be off by one unit in either direction.

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/logic/LiquidationLogic.sol, commit b74526a.

    Examples
    --------
    Repay 100 USDC (6 decimals, price 1e8) against WETH (18 decimals, price 2000e8) with a 5% bonus:

    >>> calculate_available_collateral_to_liquidate(
    ...     100 * 10**6, 10**18, 10_500, collateral_price=2000 * 10**8, debt_asset_price=10**8,
    ...     collateral_decimals=18, debt_asset_decimals=6)
    (52500000000000000, 100000000, 0)
    """
    where = "calculate_available_collateral_to_liquidate"
    return _available_collateral(
        _check_uint256(debt_to_cover, "debt_to_cover", where),
        _check_uint256(user_collateral_balance, "user_collateral_balance", where),
        _check_uint256(liquidation_bonus, "liquidation_bonus", where),
        _check_uint256(collateral_price, "collateral_price", where),
        _check_uint256(debt_asset_price, "debt_asset_price", where),
        _check_int(collateral_decimals, "collateral_decimals", where, 0, 255, "255"),
        _check_int(debt_asset_decimals, "debt_asset_decimals", where, 0, 255, "255"),
        _check_uint256(liquidation_protocol_fee_percentage, "liquidation_protocol_fee_percentage", where),
    )


def _available_collateral(
    debt_to_cover: int,
    user_collateral_balance: int,
    liquidation_bonus: int,
    collateral_price: int,
    debt_asset_price: int,
    collateral_decimals: int,
    debt_asset_decimals: int,
    fee_percentage: int,
) -> tuple[int, int, int]:
    collateral_unit = _unit(collateral_decimals)
    debt_unit = _unit(debt_asset_decimals)
    base_collateral = _div(
        _mul(_mul(debt_asset_price, debt_to_cover), collateral_unit), _mul(collateral_price, debt_unit)
    )
    max_collateral = _percent_mul(base_collateral, liquidation_bonus)
    if max_collateral > user_collateral_balance:
        collateral_amount = user_collateral_balance
        debt_needed = _percent_div(
            _div(
                _mul(_mul(collateral_price, collateral_amount), debt_unit),
                _mul(debt_asset_price, collateral_unit),
            ),
            liquidation_bonus,
        )
    else:
        collateral_amount = max_collateral
        debt_needed = debt_to_cover
    if fee_percentage == 0:
        return collateral_amount, debt_needed, 0
    bonus_collateral = _sub(collateral_amount, _percent_div(collateral_amount, liquidation_bonus))
    fee = _percent_mul(bonus_collateral, fee_percentage)
    return collateral_amount - fee, debt_needed, fee


def validate_liquidation_call(
    collateral_configuration: ReserveConfiguration,
    debt_configuration: ReserveConfiguration,
    *,
    is_using_as_collateral: bool,
    total_debt: int,
    health_factor: int,
    is_liquidation_allowed: bool | None = None,
) -> None:
    """Raise as ``ValidationLogic.validateLiquidationCall`` does, in its order.

    Parameters
    ----------
    collateral_configuration, debt_configuration : ReserveConfiguration
        Configurations of the collateral and debt reserves.
    is_using_as_collateral : bool
        The user's collateral bit for the collateral reserve.
    total_debt : int
        The user's total debt in the debt asset, uint256.
    health_factor : int
        The user's health factor, WAD, uint256.
    is_liquidation_allowed : bool or None
        ``PriceOracleSentinel.isLiquidationAllowed()``, or None when the pool has no sentinel.

    Raises
    ------
    Revert
        In this order: ``"27"`` (``RESERVE_INACTIVE``) if either reserve is inactive; ``"29"``
        (``RESERVE_PAUSED``) if either is paused; ``"59"`` (``PRICE_ORACLE_SENTINEL_CHECK_FAILED``) if a sentinel
        forbids liquidations and the health factor is at least 0.95e18; ``"45"``
        (``HEALTH_FACTOR_NOT_BELOW_THRESHOLD``) if the health factor is at least 1e18; ``"46"``
        (``COLLATERAL_CANNOT_BE_LIQUIDATED``) if the collateral has a zero liquidation threshold or the user's
        collateral bit is off; ``"47"`` (``SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER``) if the debt is zero.

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/logic/ValidationLogic.sol, commit b74526a.
    """
    where = "validate_liquidation_call"
    for name, value in (
        ("collateral_configuration", collateral_configuration),
        ("debt_configuration", debt_configuration),
    ):
        if not isinstance(value, ReserveConfiguration):
            raise ParameterError(
                f"The {name!r} parameter of {where} must be a ReserveConfiguration. Got {value!r} instead."
            )
    _check_bool(is_using_as_collateral, "is_using_as_collateral", where)
    _check_uint256(total_debt, "total_debt", where)
    _check_uint256(health_factor, "health_factor", where)
    if is_liquidation_allowed is not None:
        _check_bool(is_liquidation_allowed, "is_liquidation_allowed", where)
    _validate_liquidation_call(
        collateral_configuration,
        debt_configuration,
        is_using_as_collateral,
        total_debt,
        health_factor,
        is_liquidation_allowed,
    )


def _validate_liquidation_call(
    collateral: ReserveConfiguration,
    debt: ReserveConfiguration,
    is_using_as_collateral: bool,
    total_debt: int,
    health_factor: int,
    is_liquidation_allowed: bool | None,
) -> None:
    if not (collateral.active and debt.active):
        raise Revert(Errors.RESERVE_INACTIVE)
    if collateral.paused or debt.paused:
        raise Revert(Errors.RESERVE_PAUSED)
    if not (
        is_liquidation_allowed is None
        or health_factor < MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD
        or is_liquidation_allowed
    ):
        raise Revert(Errors.PRICE_ORACLE_SENTINEL_CHECK_FAILED)
    if health_factor >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        raise Revert(Errors.HEALTH_FACTOR_NOT_BELOW_THRESHOLD)
    if not (collateral.liquidation_threshold != 0 and is_using_as_collateral):
        raise Revert(Errors.COLLATERAL_CANNOT_BE_LIQUIDATED)
    if total_debt == 0:
        raise Revert(Errors.SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER)


def _burn_scaled(scaled_balance: int, amount: int, index: int) -> int:
    # ScaledBalanceTokenBase._burnScaled: a burn that rounds to zero scaled units is rejected.
    amount_scaled = _ray_div(amount, index)
    if amount_scaled == 0:
        raise Revert(Errors.INVALID_BURN_AMOUNT)
    return _transfer_scaled(scaled_balance, amount_scaled)


def _transfer_scaled(scaled_balance: int, amount_scaled: int) -> int:
    if amount_scaled > _UINT128_MAX:
        raise Revert(_SAFECAST_128)
    return _sub(scaled_balance, amount_scaled)


def liquidation_call(
    reserves: Sequence[UserReserveData],
    collateral_asset: str,
    debt_asset: str,
    debt_to_cover: int,
    receive_a_token: bool = False,
    *,
    user_e_mode_category: int = 0,
    e_mode_category: EModeCategory | None = None,
    is_liquidation_allowed: bool | None = None,
) -> LiquidationCallResult:
    """Liquidate one (collateral, debt) pair of one user, as ``Pool.liquidationCall`` does.

    Puts together ``LiquidationLogic.executeLiquidationCall``: the account's health factor
    (:func:`calculate_user_account_data`), the close-factor cap (:func:`calculate_debt`), the checks
    (:func:`validate_liquidation_call`), the bonus and price sources (``_getConfigurationData``: the e-mode
    category's bonus when the collateral is in the user's category, the category's price source for the
    collateral in that case and for the debt whenever the category has one), the amounts
    (:func:`calculate_available_collateral_to_liquidate`), then the token movements: variable debt burned first and
    stable debt for the rest, the collateral aTokens burned (or transferred with ``receive_a_token``), and the
    protocol fee transferred to the treasury, capped at the user's remaining scaled balance.

    Parameters
    ----------
    reserves : sequence of UserReserveData
        The user's snapshot; must contain ``collateral_asset`` and ``debt_asset`` (with zero balances if need be).
    collateral_asset, debt_asset : str
        Assets of the reserves to seize from and to repay (may be the same).
    debt_to_cover : int
        Debt the liquidator offers to repay; ``2**256 - 1`` repays as much as the close factor allows. uint256.
    receive_a_token : bool
        Liquidator takes aTokens instead of the underlying (then a zero-scaled transfer does not revert).
    user_e_mode_category : int
        The user's e-mode category, 0 for none.
    e_mode_category : EModeCategory, optional
        Configuration of ``user_e_mode_category``; required when that is not 0.
    is_liquidation_allowed : bool or None
        The price oracle sentinel's answer, or None when the pool has none.

    Returns
    -------
    LiquidationCallResult
        What is repaid, seized and paid to the treasury, and the user's snapshot afterwards.

    Raises
    ------
    Revert
        The codes of :func:`validate_liquidation_call`; ``"25"`` (``INVALID_BURN_AMOUNT``) when the debt to burn, or
        the collateral to burn without ``receive_a_token``, rounds to zero scaled units (e.g. ``debt_to_cover =
        0``); arithmetic reverts as in the functions above.
    ParameterError
        On malformed arguments, or if either asset is missing from ``reserves``.

    Notes
    -----
    The indexes are the reserves' normalized income and debt at the current block, which is what the contract
    uses after ``updateState``; liquidating does not move them within the block. Reserve-level effects (interest
    rates, total supplies, isolation-mode debt, treasury accrual) and the liquidator's own account are not modeled.

    References
    ----------
    aave/aave-v3-core, contracts/protocol/libraries/logic/LiquidationLogic.sol, ValidationLogic.sol,
    GenericLogic.sol, contracts/protocol/tokenization/base/ScaledBalanceTokenBase.sol, AToken.sol,
    StableDebtToken.sol, commit b74526a.
    """
    where = "liquidation_call"
    checked = _check_reserves(reserves, where)
    by_asset = {r.asset: r for r in checked}
    for name, asset in (("collateral_asset", collateral_asset), ("debt_asset", debt_asset)):
        if not isinstance(asset, str) or asset not in by_asset:
            raise ParameterError(
                f"The {name!r} parameter of {where} must be the asset of one of the given reserves. "
                f"Got {asset!r} instead."
            )
    to_cover = _check_uint256(debt_to_cover, "debt_to_cover", where)
    _check_bool(receive_a_token, "receive_a_token", where)
    e_mode = _check_e_mode(user_e_mode_category, e_mode_category, where)
    if is_liquidation_allowed is not None:
        _check_bool(is_liquidation_allowed, "is_liquidation_allowed", where)

    collateral = by_asset[collateral_asset]
    debt = by_asset[debt_asset]
    health_factor = _account_data(checked, user_e_mode_category, e_mode).health_factor

    user_variable_debt = _ray_mul(debt.scaled_variable_debt, debt.variable_borrow_index)
    _, user_total_debt, actual_debt = _calculate_debt(
        debt.stable_debt, user_variable_debt, to_cover, health_factor
    )

    _validate_liquidation_call(
        collateral.configuration,
        debt.configuration,
        collateral.using_as_collateral,
        user_total_debt,
        health_factor,
        is_liquidation_allowed,
    )

    liquidation_bonus = collateral.configuration.liquidation_bonus
    collateral_price, debt_price = collateral.asset_price, debt.asset_price
    if e_mode is not None:
        if collateral.configuration.e_mode_category == user_e_mode_category:
            liquidation_bonus = e_mode.liquidation_bonus
            if e_mode.asset_price is not None:
                collateral_price = e_mode.asset_price
        # In e-mode the debt is always in the user's category, so the contract skips the category check here.
        if e_mode.asset_price is not None:
            debt_price = e_mode.asset_price

    user_collateral_balance = _ray_mul(collateral.scaled_a_token_balance, collateral.liquidity_index)
    seized, actual_debt, fee = _available_collateral(
        actual_debt,
        user_collateral_balance,
        liquidation_bonus,
        collateral_price,
        debt_price,
        collateral.configuration.decimals,
        debt.configuration.decimals,
        collateral.configuration.liquidation_protocol_fee,
    )

    updates: dict[str, dict[str, Any]] = {collateral_asset: {}, debt_asset: {}}
    if user_total_debt == actual_debt:
        updates[debt_asset]["is_borrowing"] = False
    if seized + fee == user_collateral_balance:
        updates[collateral_asset]["using_as_collateral"] = False

    scaled_variable_debt, stable_debt = debt.scaled_variable_debt, debt.stable_debt
    if user_variable_debt >= actual_debt:
        scaled_variable_debt = _burn_scaled(scaled_variable_debt, actual_debt, debt.variable_borrow_index)
    else:
        if user_variable_debt != 0:
            scaled_variable_debt = _burn_scaled(
                scaled_variable_debt, user_variable_debt, debt.variable_borrow_index
            )
        stable_debt -= actual_debt - user_variable_debt
    updates[debt_asset].update(scaled_variable_debt=scaled_variable_debt, stable_debt=stable_debt)

    index = collateral.liquidity_index
    scaled_collateral = collateral.scaled_a_token_balance
    if receive_a_token:
        scaled_collateral = _transfer_scaled(scaled_collateral, _ray_div(seized, index))
    else:
        scaled_collateral = _burn_scaled(scaled_collateral, seized, index)
    if fee != 0:
        # The contract caps the fee at what is left, to absorb one wei of rounding in the scaled balance.
        if _ray_div(fee, index) > scaled_collateral:
            fee = _ray_mul(scaled_collateral, index)
        scaled_collateral = _transfer_scaled(scaled_collateral, _ray_div(fee, index))
    updates[collateral_asset]["scaled_a_token_balance"] = scaled_collateral

    after = tuple(replace(r, **updates[r.asset]) if r.asset in updates else r for r in checked)
    return LiquidationCallResult(
        actual_debt_to_liquidate=actual_debt,
        actual_collateral_to_liquidate=seized,
        liquidation_protocol_fee_amount=fee,
        health_factor=health_factor,
        user_total_debt=user_total_debt,
        user_collateral_balance=user_collateral_balance,
        liquidation_bonus=liquidation_bonus,
        reserves=after,
    )
