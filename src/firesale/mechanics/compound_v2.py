"""Compound v2 exact mechanics: account liquidity, liquidation checks, seize amounts and the protocol's share.

Version followed: the modern Compound v2 contracts in `compound-finance/compound-protocol` at commit
``a3214f67b73310d547e00fc578e8355911c9d376`` ("[RFP12] CToken Cleanup", Solidity 0.8.10): ``Comptroller.sol``,
``CToken.sol``, ``ExponentialNoError.sol``, ``ErrorReporter.sol``. Their arithmetic is Solidity 0.8 checked math
with ``ExponentialNoError`` helpers that always truncate; failures revert.

Outcomes mirror the contracts:

- Comptroller hooks return an :class:`Error` value (``ComptrollerErrorReporter.Error``) rather than raising;
  :func:`liquidate_borrow_allowed` returns ``Error.INSUFFICIENT_SHORTFALL`` etc. as the contract does.
- Reverts raise :class:`firesale.mechanics.Revert` with the contract's reason: its require string (``"Can not repay
  more than the total borrow"``), its custom error (``"LiquidateCloseAmountIsZero()"``,
  ``"LiquidateComptrollerRejection(3)"``), or ``"Panic(0x11)"`` / ``"Panic(0x12)"`` for checked arithmetic
  overflow / division by zero.

Older versions differ (not followed here): before commit ``a5591d5`` (Dec 2020) the Comptroller used
``Exponential`` / ``CarefulMath`` (``mulExp`` rounds half up instead of truncating, and any overflow returned
``Error.MATH_ERROR`` instead of reverting); until commit ``a3214f6`` (2022) ``CToken`` returned ``(MathError,
value)`` pairs and failure codes (``fail(Error, FailureInfo)``) where it now reverts with custom errors; and before
Compound 2.9 (commit ``ae4388e``, July 2021) there was no protocol seize share: the liquidator got every seized token.

Units: token amounts in the token's smallest units, cToken amounts in cToken units (8 decimals), mantissas scaled
by 1e18 (``Exp``); oracle prices are ``getUnderlyingPrice`` mantissas (USD per underlying unit, scaled by
1e36 / 10**underlying_decimals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics._solidity import (
    UINT256_MAX,
    check_bool as _check_bool,
    check_uint256 as _check_uint256,
    checked_add as _add,
    checked_div as _div,
    checked_mul as _mul,
    checked_sub as _sub,
)

__all__ = [
    "CLOSE_FACTOR_MAX_MANTISSA",
    "CLOSE_FACTOR_MIN_MANTISSA",
    "COLLATERAL_FACTOR_MAX_MANTISSA",
    "EXP_SCALE",
    "PROTOCOL_SEIZE_SHARE_MANTISSA",
    "UINT256_MAX",
    "AccountAsset",
    "Error",
    "LiquidateBorrowResult",
    "SeizeResult",
    "borrow_balance_stored",
    "exchange_rate_stored",
    "get_account_liquidity",
    "get_hypothetical_account_liquidity",
    "is_deprecated",
    "liquidate_borrow_allowed",
    "liquidate_borrow_fresh",
    "liquidate_calculate_seize_tokens",
    "seize_internal",
]

#: ExponentialNoError.expScale.
EXP_SCALE: Final = 10**18
#: Comptroller.closeFactorMinMantissa (0.05) and closeFactorMaxMantissa (0.9).
CLOSE_FACTOR_MIN_MANTISSA: Final = 5 * 10**16
CLOSE_FACTOR_MAX_MANTISSA: Final = 9 * 10**17
#: Comptroller.collateralFactorMaxMantissa (0.9).
COLLATERAL_FACTOR_MAX_MANTISSA: Final = 9 * 10**17
#: CTokenStorage.protocolSeizeShareMantissa: 2.8% of seized cTokens go to the market's reserves.
PROTOCOL_SEIZE_SHARE_MANTISSA: Final = 28 * 10**15


class Error(IntEnum):
    """``ComptrollerErrorReporter.Error``: the codes the Comptroller's hooks return."""

    NO_ERROR = 0
    UNAUTHORIZED = 1
    COMPTROLLER_MISMATCH = 2
    INSUFFICIENT_SHORTFALL = 3
    INSUFFICIENT_LIQUIDITY = 4
    INVALID_CLOSE_FACTOR = 5
    INVALID_COLLATERAL_FACTOR = 6
    INVALID_LIQUIDATION_INCENTIVE = 7
    MARKET_NOT_ENTERED = 8
    MARKET_NOT_LISTED = 9
    MARKET_ALREADY_LISTED = 10
    MATH_ERROR = 11
    NONZERO_BORROW_BALANCE = 12
    PRICE_ERROR = 13
    REJECTION = 14
    SNAPSHOT_ERROR = 15
    TOO_MANY_ASSETS = 16
    TOO_MUCH_REPAY = 17


# --------------------------------------------------------------------------------------------------------------
# input checks and checked arithmetic


def _mul_exp(a: int, b: int) -> int:
    # ExponentialNoError.mul_(Exp, Exp): product of mantissas over expScale, truncated.
    return _mul(a, b) // EXP_SCALE


def _div_exp(a: int, b: int) -> int:
    # ExponentialNoError.div_(Exp, Exp): a * expScale / b, truncated.
    return _div(_mul(a, EXP_SCALE), b)


def _mul_scalar_truncate(a: int, scalar: int) -> int:
    # ExponentialNoError.mul_ScalarTruncate: truncate(Exp{a * scalar}).
    return _mul(a, scalar) // EXP_SCALE


# --------------------------------------------------------------------------------------------------------------
# CToken views


def exchange_rate_stored(
    total_supply: int,
    total_cash: int,
    total_borrows: int,
    total_reserves: int,
    initial_exchange_rate_mantissa: int,
) -> int:
    """Underlying per cToken, scaled by 1e18 (``CToken.exchangeRateStoredInternal``).

    Parameters
    ----------
    total_supply : int
        ``totalSupply`` of cTokens, uint256.
    total_cash : int
        ``getCashPrior()``: underlying held by the cToken, uint256.
    total_borrows, total_reserves : int
        ``totalBorrows`` and ``totalReserves``, uint256.
    initial_exchange_rate_mantissa : int
        ``initialExchangeRateMantissa``, returned while ``total_supply == 0``.

    Returns
    -------
    int
        ``(total_cash + total_borrows - total_reserves) * 1e18 / total_supply``, truncated.

    Raises
    ------
    Revert
        ``"Panic(0x11)"`` when reserves exceed cash plus borrows or a step overflows.

    References
    ----------
    compound-finance/compound-protocol, contracts/CToken.sol, commit a3214f6.

    Examples
    --------
    >>> exchange_rate_stored(500 * 10**18, 500 * 10**18, 500 * 10**18, 5 * 10**18, 2 * 10**18)
    1990000000000000000
    """
    where = "exchange_rate_stored"
    supply = _check_uint256(total_supply, "total_supply", where)
    cash = _check_uint256(total_cash, "total_cash", where)
    borrows = _check_uint256(total_borrows, "total_borrows", where)
    reserves = _check_uint256(total_reserves, "total_reserves", where)
    initial = _check_uint256(initial_exchange_rate_mantissa, "initial_exchange_rate_mantissa", where)
    if supply == 0:
        return initial
    return _mul(_sub(_add(cash, borrows), reserves), EXP_SCALE) // supply


def borrow_balance_stored(principal: int, interest_index: int, borrow_index: int) -> int:
    """An account's borrow balance with interest to the last accrual (``CToken.borrowBalanceStoredInternal``).

    Parameters
    ----------
    principal, interest_index : int
        The account's ``BorrowSnapshot`` (balance and the market index when it was last updated), uint256.
    borrow_index : int
        The market's current ``borrowIndex``, uint256.

    Returns
    -------
    int
        0 if ``principal == 0``, else ``principal * borrow_index / interest_index``, truncated.

    Raises
    ------
    Revert
        ``"Panic(0x12)"`` if ``interest_index == 0`` with a non-zero principal; ``"Panic(0x11)"`` on overflow.

    References
    ----------
    compound-finance/compound-protocol, contracts/CToken.sol, commit a3214f6.
    """
    where = "borrow_balance_stored"
    principal = _check_uint256(principal, "principal", where)
    interest_index = _check_uint256(interest_index, "interest_index", where)
    borrow_index = _check_uint256(borrow_index, "borrow_index", where)
    if principal == 0:
        return 0
    return _div(_mul(principal, borrow_index), interest_index)


# --------------------------------------------------------------------------------------------------------------
# Comptroller


@dataclass(frozen=True)
class AccountAsset:
    """One market of an account, with the state the Comptroller reads for it.

    Parameters
    ----------
    c_token : str
        Name or address of the cToken market; unique within an account.
    c_token_balance : int
        ``accountTokens[account]`` (cToken units), uint256.
    borrow_balance : int
        ``borrowBalanceStored(account)`` (underlying units), uint256.
    exchange_rate_mantissa : int
        ``exchangeRateStored()``, uint256.
    collateral_factor_mantissa : int
        ``markets[cToken].collateralFactorMantissa``, uint256.
    oracle_price_mantissa : int
        ``oracle.getUnderlyingPrice(cToken)``, uint256; 0 means the oracle has no price.
    account_membership : bool
        ``markets[cToken].accountMembership[account]``: the market is in ``accountAssets[account]`` and counts for
        liquidity. A non-member's cTokens can still be seized.
    """

    c_token: str
    c_token_balance: int = 0
    borrow_balance: int = 0
    exchange_rate_mantissa: int = EXP_SCALE
    collateral_factor_mantissa: int = 0
    oracle_price_mantissa: int = EXP_SCALE
    account_membership: bool = True

    def __post_init__(self) -> None:
        where = "AccountAsset"
        if not isinstance(self.c_token, str):
            raise ParameterError(
                f"The 'c_token' parameter of {where} must be a str. Got {self.c_token!r} instead."
            )
        for name in (
            "c_token_balance",
            "borrow_balance",
            "exchange_rate_mantissa",
            "collateral_factor_mantissa",
            "oracle_price_mantissa",
        ):
            _check_uint256(getattr(self, name), name, where)
        _check_bool(self.account_membership, "account_membership", where)


def _check_assets(account_assets: object, where: str) -> tuple[AccountAsset, ...]:
    if isinstance(account_assets, str | bytes) or not isinstance(account_assets, Sequence):
        raise ParameterError(
            f"The 'account_assets' parameter of {where} must be a sequence of AccountAsset. "
            f"Got {account_assets!r} instead."
        )
    seen: set[str] = set()
    for asset in account_assets:
        if not isinstance(asset, AccountAsset):
            raise ParameterError(
                f"The 'account_assets' parameter of {where} must be a sequence of AccountAsset. "
                f"Got an item {asset!r} instead."
            )
        if asset.c_token in seen:
            raise ParameterError(
                f"The 'account_assets' parameter of {where} must name each cToken once. "
                f"Got {asset.c_token!r} twice instead."
            )
        seen.add(asset.c_token)
    return tuple(account_assets)


def _hypothetical_liquidity(
    assets: tuple[AccountAsset, ...], c_token_modify: str | None, redeem_tokens: int, borrow_amount: int
) -> tuple[Error, int, int]:
    sum_collateral = sum_borrow_plus_effects = 0
    for asset in assets:
        if not asset.account_membership:
            continue
        if asset.oracle_price_mantissa == 0:
            return Error.PRICE_ERROR, 0, 0
        price = asset.oracle_price_mantissa
        tokens_to_denom = _mul_exp(
            _mul_exp(asset.collateral_factor_mantissa, asset.exchange_rate_mantissa), price
        )
        sum_collateral = _add(_mul_scalar_truncate(tokens_to_denom, asset.c_token_balance), sum_collateral)
        sum_borrow_plus_effects = _add(
            _mul_scalar_truncate(price, asset.borrow_balance), sum_borrow_plus_effects
        )
        if asset.c_token == c_token_modify:
            sum_borrow_plus_effects = _add(
                _mul_scalar_truncate(tokens_to_denom, redeem_tokens), sum_borrow_plus_effects
            )
            sum_borrow_plus_effects = _add(
                _mul_scalar_truncate(price, borrow_amount), sum_borrow_plus_effects
            )
    if sum_collateral > sum_borrow_plus_effects:
        return Error.NO_ERROR, sum_collateral - sum_borrow_plus_effects, 0
    return Error.NO_ERROR, 0, sum_borrow_plus_effects - sum_collateral


def get_hypothetical_account_liquidity(
    account_assets: Sequence[AccountAsset],
    c_token_modify: str | None = None,
    redeem_tokens: int = 0,
    borrow_amount: int = 0,
) -> tuple[Error, int, int]:
    """Liquidity or shortfall of an account if it redeemed or borrowed more.

    Follows ``Comptroller.getHypotheticalAccountLiquidityInternal``. For each market the account is in:

    .. math::

        \\mathrm{tokensToDenom} = \\lfloor\\lfloor cf \\cdot er / 10^{18} \\rfloor \\cdot p / 10^{18}\\rfloor,

    ``sumCollateral += floor(tokensToDenom * cTokenBalance / 1e18)``, ``sumBorrowPlusEffects += floor(p *
    borrowBalance / 1e18)``, and for ``c_token_modify`` also ``floor(tokensToDenom * redeem_tokens / 1e18)`` and
    ``floor(p * borrow_amount / 1e18)``.

    Parameters
    ----------
    account_assets : sequence of AccountAsset
        The account's markets in ``accountAssets`` order (non-members are skipped).
    c_token_modify : str, optional
        The market the hypothetical redeem and borrow act on; a market the account is not in has no effect.
    redeem_tokens : int
        cTokens hypothetically redeemed, uint256.
    borrow_amount : int
        Underlying hypothetically borrowed, uint256.

    Returns
    -------
    tuple
        ``(error, liquidity, shortfall)`` in USD mantissa units; at most one of the two amounts is non-zero.
        ``error`` is ``Error.PRICE_ERROR`` (with zeros) if a member market's price is 0.

    Raises
    ------
    Revert
        ``"Panic(0x11)"`` on overflow.

    Notes
    -----
    Every step truncates, so the account's collateral value is rounded down per market. The contract also returns
    ``Error.SNAPSHOT_ERROR`` if a cToken's ``getAccountSnapshot`` fails; modern cTokens never fail it.

    References
    ----------
    compound-finance/compound-protocol, contracts/Comptroller.sol and ExponentialNoError.sol, commit a3214f6.
    """
    where = "get_hypothetical_account_liquidity"
    assets = _check_assets(account_assets, where)
    if c_token_modify is not None and not isinstance(c_token_modify, str):
        raise ParameterError(
            f"The 'c_token_modify' parameter of {where} must be a str or None. Got {c_token_modify!r} instead."
        )
    redeem = _check_uint256(redeem_tokens, "redeem_tokens", where)
    borrow = _check_uint256(borrow_amount, "borrow_amount", where)
    return _hypothetical_liquidity(assets, c_token_modify, redeem, borrow)


def get_account_liquidity(account_assets: Sequence[AccountAsset]) -> tuple[Error, int, int]:
    """Liquidity or shortfall of an account as it stands (``Comptroller.getAccountLiquidity``).

    Same as :func:`get_hypothetical_account_liquidity` with no modification.

    Parameters
    ----------
    account_assets : sequence of AccountAsset
        The account's markets in ``accountAssets`` order.

    Returns
    -------
    tuple
        ``(error, liquidity, shortfall)``.

    References
    ----------
    compound-finance/compound-protocol, contracts/Comptroller.sol, commit a3214f6.
    """
    return _hypothetical_liquidity(_check_assets(account_assets, "get_account_liquidity"), None, 0, 0)


def is_deprecated(
    collateral_factor_mantissa: int, borrow_guardian_paused: bool, reserve_factor_mantissa: int
) -> bool:
    """Whether a market is deprecated (``Comptroller.isDeprecated``).

    A deprecated market has a zero collateral factor, borrowing paused and a 100% reserve factor; its borrowers can
    be liquidated without a shortfall.

    Parameters
    ----------
    collateral_factor_mantissa : int
        ``markets[cToken].collateralFactorMantissa``, uint256.
    borrow_guardian_paused : bool
        ``borrowGuardianPaused[cToken]``.
    reserve_factor_mantissa : int
        ``cToken.reserveFactorMantissa()``, uint256.

    Returns
    -------
    bool

    References
    ----------
    compound-finance/compound-protocol, contracts/Comptroller.sol, commit a3214f6.
    """
    where = "is_deprecated"
    cf = _check_uint256(collateral_factor_mantissa, "collateral_factor_mantissa", where)
    paused = _check_bool(borrow_guardian_paused, "borrow_guardian_paused", where)
    rf = _check_uint256(reserve_factor_mantissa, "reserve_factor_mantissa", where)
    return cf == 0 and paused and rf == EXP_SCALE


def liquidate_borrow_allowed(
    *,
    borrow_balance: int,
    repay_amount: int,
    close_factor_mantissa: int,
    account_assets: Sequence[AccountAsset],
    c_token_borrowed_listed: bool = True,
    c_token_collateral_listed: bool = True,
    borrowed_is_deprecated: bool = False,
) -> Error:
    """Whether a liquidation may proceed, as the Comptroller's error code (``Comptroller.liquidateBorrowAllowed``).

    Parameters
    ----------
    borrow_balance : int
        ``cTokenBorrowed.borrowBalanceStored(borrower)``, uint256.
    repay_amount : int
        Underlying the liquidator offers to repay, uint256.
    close_factor_mantissa : int
        ``closeFactorMantissa``, uint256 (governance keeps it in [0.05e18, 0.9e18]).
    account_assets : sequence of AccountAsset
        The borrower's markets, for the shortfall (:func:`get_account_liquidity`).
    c_token_borrowed_listed, c_token_collateral_listed : bool
        ``markets[cToken].isListed`` of both markets.
    borrowed_is_deprecated : bool
        :func:`is_deprecated` of the borrowed market.

    Returns
    -------
    Error
        ``MARKET_NOT_LISTED`` if either market is unlisted; for a deprecated borrowed market ``NO_ERROR``;
        otherwise the liquidity error (``PRICE_ERROR``), ``INSUFFICIENT_SHORTFALL`` when the shortfall is 0,
        ``TOO_MUCH_REPAY`` when ``repay_amount > floor(close_factor * borrow_balance / 1e18)``, else ``NO_ERROR``.

    Raises
    ------
    Revert
        ``"Can not repay more than the total borrow"`` for a deprecated market and ``repay_amount >
        borrow_balance``.

    References
    ----------
    compound-finance/compound-protocol, contracts/Comptroller.sol, commit a3214f6.
    """
    where = "liquidate_borrow_allowed"
    borrow_balance = _check_uint256(borrow_balance, "borrow_balance", where)
    repay_amount = _check_uint256(repay_amount, "repay_amount", where)
    close_factor = _check_uint256(close_factor_mantissa, "close_factor_mantissa", where)
    assets = _check_assets(account_assets, where)
    _check_bool(c_token_borrowed_listed, "c_token_borrowed_listed", where)
    _check_bool(c_token_collateral_listed, "c_token_collateral_listed", where)
    _check_bool(borrowed_is_deprecated, "borrowed_is_deprecated", where)
    return _liquidate_borrow_allowed(
        borrow_balance,
        repay_amount,
        close_factor,
        assets,
        c_token_borrowed_listed,
        c_token_collateral_listed,
        borrowed_is_deprecated,
    )


def _liquidate_borrow_allowed(
    borrow_balance: int,
    repay_amount: int,
    close_factor: int,
    assets: tuple[AccountAsset, ...],
    borrowed_listed: bool,
    collateral_listed: bool,
    borrowed_is_deprecated: bool,
) -> Error:
    if not (borrowed_listed and collateral_listed):
        return Error.MARKET_NOT_LISTED
    if borrowed_is_deprecated:
        if borrow_balance < repay_amount:
            raise Revert("Can not repay more than the total borrow")
        return Error.NO_ERROR
    err, _, shortfall = _hypothetical_liquidity(assets, None, 0, 0)
    if err != Error.NO_ERROR:
        return err
    if shortfall == 0:
        return Error.INSUFFICIENT_SHORTFALL
    max_close = _mul_scalar_truncate(close_factor, borrow_balance)
    if repay_amount > max_close:
        return Error.TOO_MUCH_REPAY
    return Error.NO_ERROR


def liquidate_calculate_seize_tokens(
    price_borrowed_mantissa: int,
    price_collateral_mantissa: int,
    exchange_rate_mantissa: int,
    liquidation_incentive_mantissa: int,
    actual_repay_amount: int,
) -> tuple[Error, int]:
    """Collateral cTokens to seize for a repayment (``Comptroller.liquidateCalculateSeizeTokens``).

    The contract truncates at each step rather than dividing once:

    .. math::

        n = \\lfloor li \\cdot p_b / 10^{18} \\rfloor, \\quad
        d = \\lfloor p_c \\cdot er / 10^{18} \\rfloor, \\quad
        r = \\lfloor n \\cdot 10^{18} / d \\rfloor, \\quad
        \\mathrm{seizeTokens} = \\lfloor r \\cdot \\mathrm{repay} / 10^{18} \\rfloor

    which can be fewer tokens than :math:`\\lfloor \\mathrm{repay} \\cdot li \\cdot p_b / (p_c \\cdot er) \\rfloor`.

    Parameters
    ----------
    price_borrowed_mantissa, price_collateral_mantissa : int
        ``oracle.getUnderlyingPrice`` of the borrowed and collateral markets, uint256.
    exchange_rate_mantissa : int
        ``cTokenCollateral.exchangeRateStored()``, uint256.
    liquidation_incentive_mantissa : int
        ``liquidationIncentiveMantissa`` (1.08e18 = 8% bonus), uint256.
    actual_repay_amount : int
        Underlying of the borrowed market actually repaid, uint256.

    Returns
    -------
    tuple
        ``(Error.NO_ERROR, seize_tokens)``, or ``(Error.PRICE_ERROR, 0)`` if either price is 0.

    Raises
    ------
    Revert
        ``"Panic(0x11)"`` on overflow (e.g. ``actual_repay_amount = 2**256 - 1``); ``"Panic(0x12)"`` if the
        denominator truncates to 0.

    References
    ----------
    compound-finance/compound-protocol, contracts/Comptroller.sol and ExponentialNoError.sol, commit a3214f6.

    Examples
    --------
    >>> liquidate_calculate_seize_tokens(10**18, 10**18, 10**18, 10**18, 10**18)
    (<Error.NO_ERROR: 0>, 1000000000000000000)
    """
    where = "liquidate_calculate_seize_tokens"
    return _seize_tokens(
        _check_uint256(price_borrowed_mantissa, "price_borrowed_mantissa", where),
        _check_uint256(price_collateral_mantissa, "price_collateral_mantissa", where),
        _check_uint256(exchange_rate_mantissa, "exchange_rate_mantissa", where),
        _check_uint256(liquidation_incentive_mantissa, "liquidation_incentive_mantissa", where),
        _check_uint256(actual_repay_amount, "actual_repay_amount", where),
    )


def _seize_tokens(
    price_borrowed: int, price_collateral: int, exchange_rate: int, incentive: int, repay: int
) -> tuple[Error, int]:
    if price_borrowed == 0 or price_collateral == 0:
        return Error.PRICE_ERROR, 0
    numerator = _mul_exp(incentive, price_borrowed)
    denominator = _mul_exp(price_collateral, exchange_rate)
    ratio = _div_exp(numerator, denominator)
    return Error.NO_ERROR, _mul_scalar_truncate(ratio, repay)


@dataclass(frozen=True)
class SeizeResult:
    """The effects of ``CToken.seizeInternal`` on the collateral market.

    Attributes
    ----------
    liquidator_seize_tokens, protocol_seize_tokens : int
        cTokens credited to the liquidator and burned for the protocol (they sum to ``seize_tokens``).
    protocol_seize_amount : int
        Underlying added to ``totalReserves``: ``floor(exchange_rate * protocol_seize_tokens / 1e18)``.
    total_reserves_new, total_supply_new : int
        The market's new ``totalReserves`` and ``totalSupply``.
    borrower_tokens_new, liquidator_tokens_new : int
        New cToken balances of the borrower and the liquidator.
    """

    liquidator_seize_tokens: int
    protocol_seize_tokens: int
    protocol_seize_amount: int
    total_reserves_new: int
    total_supply_new: int
    borrower_tokens_new: int
    liquidator_tokens_new: int


def seize_internal(
    seize_tokens: int,
    *,
    borrower_tokens: int,
    liquidator_tokens: int,
    total_supply: int,
    total_reserves: int,
    exchange_rate_mantissa: int,
    protocol_seize_share_mantissa: int = PROTOCOL_SEIZE_SHARE_MANTISSA,
    seize_guardian_paused: bool = False,
) -> SeizeResult:
    """Move seized cTokens from borrower to liquidator, keeping the protocol's share (``CToken.seizeInternal``).

    ``protocol_seize_tokens = floor(seize_tokens * 0.028e18 / 1e18)`` are burned and their underlying value
    ``floor(exchange_rate * protocol_seize_tokens / 1e18)`` is added to reserves; the liquidator gets the rest.

    Parameters
    ----------
    seize_tokens : int
        cTokens to seize, uint256.
    borrower_tokens, liquidator_tokens : int
        ``accountTokens`` of the borrower and the liquidator, uint256.
    total_supply, total_reserves : int
        The collateral market's ``totalSupply`` and ``totalReserves``, uint256.
    exchange_rate_mantissa : int
        The collateral market's ``exchangeRateStoredInternal()`` before the seize, uint256.
    protocol_seize_share_mantissa : int
        ``protocolSeizeShareMantissa``; a contract constant (2.8e16), a parameter here for policy studies.
    seize_guardian_paused : bool
        ``Comptroller.seizeGuardianPaused``.

    Returns
    -------
    SeizeResult

    Raises
    ------
    Revert
        ``"seize is paused"`` (``Comptroller.seizeAllowed``); ``"Panic(0x11)"`` if the borrower holds fewer than
        ``seize_tokens``, the liquidator's balance or the reserves overflow, or the supply underflows.

    Notes
    -----
    Not modeled: the ``seizeAllowed`` market-listing and comptroller-mismatch codes (which revert as
    ``LiquidateSeizeComptrollerRejection(code)``) and ``LiquidateSeizeLiquidatorIsBorrower()``.

    References
    ----------
    compound-finance/compound-protocol, contracts/CToken.sol, CTokenInterfaces.sol and Comptroller.sol,
    commit a3214f6.
    """
    where = "seize_internal"
    seize = _check_uint256(seize_tokens, "seize_tokens", where)
    borrower = _check_uint256(borrower_tokens, "borrower_tokens", where)
    liquidator = _check_uint256(liquidator_tokens, "liquidator_tokens", where)
    supply = _check_uint256(total_supply, "total_supply", where)
    reserves = _check_uint256(total_reserves, "total_reserves", where)
    rate = _check_uint256(exchange_rate_mantissa, "exchange_rate_mantissa", where)
    share = _check_uint256(protocol_seize_share_mantissa, "protocol_seize_share_mantissa", where)
    _check_bool(seize_guardian_paused, "seize_guardian_paused", where)
    return _seize(seize, borrower, liquidator, supply, reserves, rate, share, seize_guardian_paused)


def _seize(
    seize_tokens: int,
    borrower_tokens: int,
    liquidator_tokens: int,
    total_supply: int,
    total_reserves: int,
    exchange_rate: int,
    share: int,
    paused: bool,
) -> SeizeResult:
    if paused:
        raise Revert("seize is paused")
    protocol_seize_tokens = _mul(seize_tokens, share) // EXP_SCALE
    liquidator_seize_tokens = _sub(seize_tokens, protocol_seize_tokens)
    protocol_seize_amount = _mul_scalar_truncate(exchange_rate, protocol_seize_tokens)
    return SeizeResult(
        liquidator_seize_tokens=liquidator_seize_tokens,
        protocol_seize_tokens=protocol_seize_tokens,
        protocol_seize_amount=protocol_seize_amount,
        total_reserves_new=_add(total_reserves, protocol_seize_amount),
        total_supply_new=_sub(total_supply, protocol_seize_tokens),
        borrower_tokens_new=_sub(borrower_tokens, seize_tokens),
        liquidator_tokens_new=_add(liquidator_tokens, liquidator_seize_tokens),
    )


@dataclass(frozen=True)
class LiquidateBorrowResult:
    """The outcome of :func:`liquidate_borrow_fresh`.

    Attributes
    ----------
    actual_repay_amount : int
        Underlying repaid to the borrowed market.
    account_borrows_new : int
        The borrower's borrow balance afterwards.
    seize_tokens : int
        Collateral cTokens taken from the borrower.
    seize : SeizeResult
        How they were split between liquidator and protocol, and the collateral market's new totals.
    """

    actual_repay_amount: int
    account_borrows_new: int
    seize_tokens: int
    seize: SeizeResult


def liquidate_borrow_fresh(
    account_assets: Sequence[AccountAsset],
    c_token_borrowed: str,
    c_token_collateral: str,
    repay_amount: int,
    *,
    close_factor_mantissa: int,
    liquidation_incentive_mantissa: int,
    collateral_total_supply: int,
    collateral_total_reserves: int,
    liquidator_tokens: int = 0,
    protocol_seize_share_mantissa: int = PROTOCOL_SEIZE_SHARE_MANTISSA,
    borrowed_is_deprecated: bool = False,
    seize_guardian_paused: bool = False,
) -> LiquidateBorrowResult:
    """Liquidate one borrow against one collateral market, as ``CToken.liquidateBorrowFresh`` does.

    Chains :func:`liquidate_borrow_allowed`, the repay (``repayBorrowFresh``; the whole ``repay_amount`` arrives),
    :func:`liquidate_calculate_seize_tokens` with the collateral's stored exchange rate, the balance check, and
    :func:`seize_internal`. Both markets are taken as listed and accrued to the current block.

    Parameters
    ----------
    account_assets : sequence of AccountAsset
        The borrower's markets; must include ``c_token_borrowed`` and ``c_token_collateral``. Their prices,
        balances and exchange rates are the state read.
    c_token_borrowed, c_token_collateral : str
        Markets repaid and seized (may be the same).
    repay_amount : int
        Underlying the liquidator repays, uint256.
    close_factor_mantissa, liquidation_incentive_mantissa : int
        Comptroller parameters, uint256.
    collateral_total_supply, collateral_total_reserves : int
        The collateral market's ``totalSupply`` and ``totalReserves``, uint256.
    liquidator_tokens : int
        The liquidator's collateral cToken balance before, uint256.
    protocol_seize_share_mantissa : int
        See :func:`seize_internal`.
    borrowed_is_deprecated, seize_guardian_paused : bool
        See :func:`liquidate_borrow_allowed` and :func:`seize_internal`.

    Returns
    -------
    LiquidateBorrowResult

    Raises
    ------
    Revert
        ``"LiquidateComptrollerRejection(<code>)"`` when :func:`liquidate_borrow_allowed` returns an error;
        ``"LiquidateCloseAmountIsZero()"``; ``"LiquidateCloseAmountIsUintMax()"``;
        ``"LIQUIDATE_COMPTROLLER_CALCULATE_AMOUNT_SEIZE_FAILED"`` when a price is 0;
        ``"LIQUIDATE_SEIZE_TOO_MUCH"`` when the borrower holds fewer cTokens than the seize; and the reverts of
        :func:`liquidate_borrow_allowed` and :func:`seize_internal`.
    ParameterError
        On malformed arguments, or if either market is missing from ``account_assets``.

    Notes
    -----
    Not modeled: interest accrual (``accrueInterest`` and the freshness checks), ``LiquidateLiquidatorIsBorrower``,
    fee-on-transfer underlyings (``doTransferIn`` returning less than asked), and the borrowed market's totals.

    References
    ----------
    compound-finance/compound-protocol, contracts/CToken.sol and Comptroller.sol, commit a3214f6.
    """
    where = "liquidate_borrow_fresh"
    assets = _check_assets(account_assets, where)
    by_name = {a.c_token: a for a in assets}
    for name, c_token in (("c_token_borrowed", c_token_borrowed), ("c_token_collateral", c_token_collateral)):
        if not isinstance(c_token, str) or c_token not in by_name:
            raise ParameterError(
                f"The {name!r} parameter of {where} must be the c_token of one of the account_assets. "
                f"Got {c_token!r} instead."
            )
    repay = _check_uint256(repay_amount, "repay_amount", where)
    close_factor = _check_uint256(close_factor_mantissa, "close_factor_mantissa", where)
    incentive = _check_uint256(liquidation_incentive_mantissa, "liquidation_incentive_mantissa", where)
    supply = _check_uint256(collateral_total_supply, "collateral_total_supply", where)
    reserves = _check_uint256(collateral_total_reserves, "collateral_total_reserves", where)
    liquidator = _check_uint256(liquidator_tokens, "liquidator_tokens", where)
    share = _check_uint256(protocol_seize_share_mantissa, "protocol_seize_share_mantissa", where)
    _check_bool(borrowed_is_deprecated, "borrowed_is_deprecated", where)
    _check_bool(seize_guardian_paused, "seize_guardian_paused", where)

    borrowed = by_name[c_token_borrowed]
    collateral = by_name[c_token_collateral]
    allowed = _liquidate_borrow_allowed(
        borrowed.borrow_balance, repay, close_factor, assets, True, True, borrowed_is_deprecated
    )
    if allowed != Error.NO_ERROR:
        raise Revert(f"LiquidateComptrollerRejection({int(allowed)})")
    if repay == 0:
        raise Revert("LiquidateCloseAmountIsZero()")
    if repay == UINT256_MAX:
        raise Revert("LiquidateCloseAmountIsUintMax()")
    account_borrows_new = _sub(borrowed.borrow_balance, repay)

    # Repaying moves cash and borrows by the same amount, so the collateral's exchange rate is unchanged even when
    # it is the borrowed market.
    err, seize_tokens = _seize_tokens(
        borrowed.oracle_price_mantissa,
        collateral.oracle_price_mantissa,
        collateral.exchange_rate_mantissa,
        incentive,
        repay,
    )
    if err != Error.NO_ERROR:
        raise Revert("LIQUIDATE_COMPTROLLER_CALCULATE_AMOUNT_SEIZE_FAILED")
    if collateral.c_token_balance < seize_tokens:
        raise Revert("LIQUIDATE_SEIZE_TOO_MUCH")
    seize = _seize(
        seize_tokens,
        collateral.c_token_balance,
        liquidator,
        supply,
        reserves,
        collateral.exchange_rate_mantissa,
        share,
        seize_guardian_paused,
    )
    return LiquidateBorrowResult(
        actual_repay_amount=repay,
        account_borrows_new=account_borrows_new,
        seize_tokens=seize_tokens,
        seize=seize,
    )
