"""Compound v2 Comptroller and CToken mechanics against compound-protocol's own tests and hand calculations.

Sources: compound-finance/compound-protocol at commit a3214f6, tests/Comptroller/liquidateCalculateAmountSeizeTest.js,
tests/Comptroller/accountLiquidityTest.js, tests/Tokens/liquidateTest.js and tests/Tokens/cTokenTest.js. Their
helpers (tests/Utils/Compound.js) scale prices, collateral factors and exchange rates by 1e18 (etherMantissa).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.compound_v2 import (
    PROTOCOL_SEIZE_SHARE_MANTISSA,
    UINT256_MAX,
    AccountAsset,
    Error,
    borrow_balance_stored,
    exchange_rate_stored,
    get_account_liquidity,
    get_hypothetical_account_liquidity,
    is_deprecated,
    liquidate_borrow_allowed,
    liquidate_borrow_fresh,
    liquidate_calculate_seize_tokens,
    seize_internal,
)

E18 = 10**18


def mantissa(text: str) -> int:
    """etherMantissa(x): x * 1e18 from a decimal string, exactly."""
    value = Fraction(text) * E18
    assert value.denominator == 1
    return int(value)


# --------------------------------------------------------------------------------------------------------------
# liquidateCalculateAmountSeizeTest.js


def test_error_enum_matches_error_reporter():
    # ErrorReporter.sol ComptrollerErrorReporter.Error, in declaration order
    assert [e.name for e in Error] == [
        "NO_ERROR",
        "UNAUTHORIZED",
        "COMPTROLLER_MISMATCH",
        "INSUFFICIENT_SHORTFALL",
        "INSUFFICIENT_LIQUIDITY",
        "INVALID_CLOSE_FACTOR",
        "INVALID_COLLATERAL_FACTOR",
        "INVALID_LIQUIDATION_INCENTIVE",
        "MARKET_NOT_ENTERED",
        "MARKET_NOT_LISTED",
        "MARKET_ALREADY_LISTED",
        "MATH_ERROR",
        "NONZERO_BORROW_BALANCE",
        "PRICE_ERROR",
        "REJECTION",
        "SNAPSHOT_ERROR",
        "TOO_MANY_ASSETS",
        "TOO_MUCH_REPAY",
    ]
    assert [int(e) for e in Error] == list(range(18))


def test_seize_fails_if_either_price_is_zero():
    # "fails if either asset price is 0": toHaveTrollErrorTuple(['PRICE_ERROR', 0])
    assert liquidate_calculate_seize_tokens(0, E18, E18, E18, E18) == (Error.PRICE_ERROR, 0)
    assert liquidate_calculate_seize_tokens(2 * 10**10, 0, E18, E18, E18) == (Error.PRICE_ERROR, 0)


def test_seize_reverts_on_overflow():
    # "fails if the repayAmount causes overflow": repay = UInt256Max; "fails if the borrowed asset price causes
    # overflow": price -1 (= 2**256 - 1). The beforeEach sets borrowed price 2e10, collateral price 1e18 and a
    # liquidation incentive of 1e18 (makeComptroller).
    with pytest.raises(Revert, match=r"^Panic\(0x11\)$"):
        liquidate_calculate_seize_tokens(2 * 10**10, E18, E18, E18, UINT256_MAX)
    with pytest.raises(Revert, match=r"^Panic\(0x11\)$"):
        liquidate_calculate_seize_tokens(UINT256_MAX, E18, E18, E18, E18)


def test_seize_reverts_if_exchange_rate_fails():
    # "reverts if it fails to calculate the exchange rate": harnessExchangeRateDetails(1, 0, 10): totalSupply 1,
    # totalBorrows 0, totalReserves 10 with no cash -> cash + borrows - reserves underflows.
    with pytest.raises(Revert, match=r"^Panic\(0x11\)$"):
        exchange_rate_stored(1, 0, 0, 10, E18)


# [exchangeRate, borrowedPrice, collateralPrice, liquidationIncentive, repayAmount], each etherUnsigned(...) of the
# JS number; the test accepts |seizeTokens - repay * incentive * borrowedPrice / collateralPrice / exchangeRate| < 1e7.
# The exact step-by-step values were worked out by hand (numerator, denominator, ratio each truncated):
SEIZE_CASES = [
    ((E18, E18, E18, E18, E18), 10**18),
    ((2 * E18, E18, E18, E18, E18), 5 * 10**17),
    # n = 1.3 * 2 = 2.6e18; d = 1.42 * 2 = 2.84e18; r = floor(2.6e36 / 2.84e18) = 915492957746478873;
    # seize = floor(r * 2.45e18 / 1e18) = 2242957746478873238
    (
        (mantissa("2"), mantissa("2"), mantissa("1.42"), mantissa("1.3"), mantissa("2.45")),
        2242957746478873238,
    ),
    # n = 6799625094600000000; d = 2151211480000000000000; r = 3160835258558586
    (
        (
            mantissa("2.789"),
            mantissa("5.230480842"),
            mantissa("771.32"),
            mantissa("1.3"),
            mantissa("10002.45"),
        ),
        31616096631969328535,
    ),
    (
        (
            7009232529961056000000000,
            2527872631724044500000000,
            261771120932425850000000,
            1179713989619784000,
            7790468414639561000000000,
        ),
        12662028539968210379,
    ),
]


@pytest.mark.parametrize(("case", "expected"), SEIZE_CASES)
def test_seize_tokens_spec_cases(case, expected):
    exchange_rate, borrowed_price, collateral_price, incentive, repay = case
    error, seize_tokens = liquidate_calculate_seize_tokens(
        borrowed_price, collateral_price, exchange_rate, incentive, repay
    )
    assert error is Error.NO_ERROR
    assert seize_tokens == expected
    single_division = Fraction(repay * incentive * borrowed_price, collateral_price * exchange_rate)
    assert abs(seize_tokens - single_division) < 10**7  # the spec's own tolerance


def test_step_truncation_differs_from_single_division():
    # Case 3 above: one division gives floor(2.45 * 1.3 * 2 / (1.42 * 2) * 1e18) = 2242957746478873239, the
    # contract's chain of truncations one less. Case 4 loses 7180 tokens.
    _, seize = liquidate_calculate_seize_tokens(
        mantissa("2"), mantissa("1.42"), mantissa("2"), mantissa("1.3"), mantissa("2.45")
    )
    single = mantissa("2.45") * mantissa("1.3") * mantissa("2") // (mantissa("1.42") * mantissa("2"))
    assert (single, seize) == (2242957746478873239, 2242957746478873238)
    _, seize = liquidate_calculate_seize_tokens(
        mantissa("5.230480842"), mantissa("771.32"), mantissa("2.789"), mantissa("1.3"), mantissa("10002.45")
    )
    single = (
        mantissa("10002.45")
        * mantissa("1.3")
        * mantissa("5.230480842")
        // (mantissa("771.32") * mantissa("2.789"))
    )
    assert single - seize == 7180


def test_seize_denominator_truncating_to_zero_panics():
    # priceCollateral * exchangeRate < 1e18 -> denominator Exp 0 -> division by zero
    with pytest.raises(Revert, match=r"^Panic\(0x12\)$"):
        liquidate_calculate_seize_tokens(E18, 1, 10**17, E18, E18)


# --------------------------------------------------------------------------------------------------------------
# cTokenTest.js exchangeRateStored


@pytest.mark.parametrize(
    ("total_supply", "total_cash", "total_borrows", "total_reserves", "expected"),
    [
        (0, 0, 0, 0, 2 * E18),  # "returns initial exchange rate with zero cTokenSupply" (exchangeRate = 2)
        (1, 0, 1, 0, E18),  # "calculates with single cTokenSupply and single total borrow"
        (100 * E18, 0, 10 * E18, 0, mantissa("0.1")),  # "calculates with cTokenSupply and total borrows"
        (5 * E18, 500 * E18, 0, 0, 100 * E18),  # "calculates with cash and cTokenSupply"
        (500 * E18, 500 * E18, 500 * E18, 5 * E18, mantissa("1.99")),  # "... cash, borrows, reserves ..."
    ],
)
def test_exchange_rate_stored_spec(total_supply, total_cash, total_borrows, total_reserves, expected):
    assert exchange_rate_stored(total_supply, total_cash, total_borrows, total_reserves, 2 * E18) == expected


def test_exchange_rate_truncates():
    # (1 + 0 - 0) * 1e18 / 3 = 333333333333333333.33 -> truncated
    assert exchange_rate_stored(3, 1, 0, 0, E18) == 333333333333333333


def test_borrow_balance_stored():
    # principal 100 at index 1.0, market index now 1.1: 100 * 1.1 / 1.0 = 110; 7 * 1.1 = 7.7 -> 7
    assert borrow_balance_stored(100, E18, mantissa("1.1")) == 110
    assert borrow_balance_stored(7, E18, mantissa("1.1")) == 7
    assert borrow_balance_stored(0, 0, E18) == 0
    with pytest.raises(Revert, match=r"^Panic\(0x12\)$"):
        borrow_balance_stored(1, 0, E18)


# --------------------------------------------------------------------------------------------------------------
# accountLiquidityTest.js


def test_liquidity_fails_if_price_not_set():
    # "fails if a price has not been set": PRICE_ERROR
    assert get_account_liquidity([AccountAsset("c", oracle_price_mantissa=0)]) == (Error.PRICE_ERROR, 0, 0)


def test_borrow_up_to_collateral_factor_but_not_more():
    # "allows a borrow up to collateralFactor, but not more": cf 0.5, price 1, amount 1e6 minted at rate 1.
    amount = 10**6
    not_entered = AccountAsset("c", collateral_factor_mantissa=mantissa("0.5"), account_membership=False)
    assert get_hypothetical_account_liquidity([not_entered], "c", 0, amount) == (Error.NO_ERROR, 0, 0)
    asset = AccountAsset("c", c_token_balance=amount, collateral_factor_mantissa=mantissa("0.5"))
    assert get_account_liquidity([asset]) == (Error.NO_ERROR, amount // 2, 0)
    assert get_hypothetical_account_liquidity([asset], "c", 0, amount) == (Error.NO_ERROR, 0, amount // 2)
    assert get_hypothetical_account_liquidity([asset], "c", amount, 0) == (Error.NO_ERROR, 0, 0)


def test_three_markets():
    # "allows entering 3 markets, supplying to 2 and borrowing up to collateralFactor in the 3rd":
    # amount1 1e6 (cf 0.5, price 3), amount2 1e3 (cf 0.666, price 2.718), market 3 cf 0, price 1.
    # c1 = 1.5e6; c2 = 1000 * 0.666 * 2.718 = 1810.188, truncated to 1810 on-chain; collateral = 1501810
    assets = [
        AccountAsset(
            "c1",
            c_token_balance=10**6,
            collateral_factor_mantissa=mantissa("0.5"),
            oracle_price_mantissa=3 * E18,
        ),
        AccountAsset(
            "c2",
            c_token_balance=10**3,
            collateral_factor_mantissa=mantissa("0.666"),
            oracle_price_mantissa=mantissa("2.718"),
        ),
        AccountAsset("c3", oracle_price_mantissa=E18),
    ]
    c1, c2, collateral = 1_500_000, 1810, 1_501_810
    assert get_account_liquidity(assets) == (Error.NO_ERROR, collateral, 0)
    assert get_hypothetical_account_liquidity(assets, "c3", c2, 0) == (Error.NO_ERROR, collateral, 0)
    assert get_hypothetical_account_liquidity(assets, "c3", 0, c2) == (Error.NO_ERROR, c1, 0)
    assert get_hypothetical_account_liquidity(assets, "c3", 0, collateral + c1) == (Error.NO_ERROR, 0, c1)
    assert get_hypothetical_account_liquidity(assets, "c1", 10**6, 0) == (Error.NO_ERROR, c2, 0)


def test_no_markets():
    # "returns 0 if not 'in' any markets"
    assert get_account_liquidity([]) == (Error.NO_ERROR, 0, 0)
    assert get_hypothetical_account_liquidity([], "c", 0, 0) == (Error.NO_ERROR, 0, 0)


# --------------------------------------------------------------------------------------------------------------
# liquidateBorrowAllowed (liquidateTest.js "liquidateBorrowAllowed allows deprecated markets to be liquidated")


def deprecated_test_account():
    # 10 collateral tokens (cf 0.5, price 1, rate 1) and a borrow of 2 at price 1: liquidity 5 - 2 = 3.
    return [
        AccountAsset("collat", c_token_balance=10, collateral_factor_mantissa=mantissa("0.5")),
        AccountAsset("borrow", borrow_balance=2),
    ]


def test_deprecated_market_spec():
    kwargs = dict(close_factor_mantissa=mantissa("0.051"), account_assets=deprecated_test_account())
    assert is_deprecated(mantissa("0.5"), False, 0) is False
    assert (
        liquidate_borrow_allowed(borrow_balance=2, repay_amount=2, **kwargs) is Error.INSUFFICIENT_SHORTFALL
    )
    assert is_deprecated(0, True, E18) is True
    assert (
        liquidate_borrow_allowed(borrow_balance=2, repay_amount=2, borrowed_is_deprecated=True, **kwargs)
        is Error.NO_ERROR
    )
    with pytest.raises(Revert, match=r"^Can not repay more than the total borrow$"):
        liquidate_borrow_allowed(borrow_balance=2, repay_amount=4, borrowed_is_deprecated=True, **kwargs)


def test_close_factor_boundary():
    # Shortfall: 100 tokens at cf 0.5 (50) against 1001 borrowed. maxClose = floor(0.5 * 1001) = 500.
    assets = [
        AccountAsset("c", c_token_balance=100, collateral_factor_mantissa=mantissa("0.5")),
        AccountAsset("b", borrow_balance=1001),
    ]
    kwargs = dict(borrow_balance=1001, close_factor_mantissa=mantissa("0.5"), account_assets=assets)
    assert liquidate_borrow_allowed(repay_amount=500, **kwargs) is Error.NO_ERROR
    assert liquidate_borrow_allowed(repay_amount=501, **kwargs) is Error.TOO_MUCH_REPAY


def test_liquidate_borrow_allowed_error_codes():
    shortfall = [AccountAsset("b", borrow_balance=10)]
    kwargs = dict(borrow_balance=10, repay_amount=1, close_factor_mantissa=mantissa("0.5"))
    assert (
        liquidate_borrow_allowed(account_assets=shortfall, c_token_borrowed_listed=False, **kwargs)
        is Error.MARKET_NOT_LISTED
    )
    assert (
        liquidate_borrow_allowed(account_assets=shortfall, c_token_collateral_listed=False, **kwargs)
        is Error.MARKET_NOT_LISTED
    )
    no_price = [AccountAsset("b", borrow_balance=10, oracle_price_mantissa=0)]
    assert liquidate_borrow_allowed(account_assets=no_price, **kwargs) is Error.PRICE_ERROR
    assert liquidate_borrow_allowed(account_assets=shortfall, **kwargs) is Error.NO_ERROR
    assert int(Error.TOO_MUCH_REPAY) == 17


# --------------------------------------------------------------------------------------------------------------
# seize (liquidateTest.js): seizeTokens = 4 * repayAmount = 40e18, exchange rate 0.2, totalSupply 10e18,
# protocolShareTokens = 40e18 * 2.8e16 / 1e18 = 1.12e18, liquidatorShareTokens = 38.88e18,
# addReservesAmount = 1.12e18 * 0.2e18 / 1e18 = 0.224e18


def test_seize_spec():
    assert mantissa("0.028") == PROTOCOL_SEIZE_SHARE_MANTISSA  # CTokenInterfaces.sol: 2.8e16
    result = seize_internal(
        40 * E18,
        borrower_tokens=40 * E18,
        liquidator_tokens=0,
        total_supply=10 * E18,
        total_reserves=0,
        exchange_rate_mantissa=mantissa("0.2"),
    )
    assert result.protocol_seize_tokens == mantissa("1.12")
    assert result.liquidator_seize_tokens == mantissa("38.88")
    assert result.protocol_seize_amount == mantissa("0.224")
    assert result.total_reserves_new == mantissa("0.224")
    assert result.total_supply_new == 10 * E18 - mantissa("1.12")
    assert result.borrower_tokens_new == 0
    assert result.liquidator_tokens_new == mantissa("38.88")


def test_seize_spec_failures():
    kwargs = dict(total_supply=10 * E18, total_reserves=0, exchange_rate_mantissa=mantissa("0.2"))
    # "fails if cTokenBalances[borrower] < amount"
    with pytest.raises(Revert, match=r"^Panic\(0x11\)$"):
        seize_internal(40 * E18, borrower_tokens=1, liquidator_tokens=0, **kwargs)
    # "fails if cTokenBalances[liquidator] overflows"
    with pytest.raises(Revert, match=r"^Panic\(0x11\)$"):
        seize_internal(40 * E18, borrower_tokens=40 * E18, liquidator_tokens=UINT256_MAX, **kwargs)
    with pytest.raises(Revert, match=r"^seize is paused$"):
        seize_internal(
            40 * E18, borrower_tokens=40 * E18, liquidator_tokens=0, seize_guardian_paused=True, **kwargs
        )


def test_protocol_share_truncates():
    # 35 tokens * 2.8% = 0.98 -> 0 for the protocol, all 35 to the liquidator; 36 * 2.8% = 1.008 -> 1
    kwargs = dict(liquidator_tokens=0, total_supply=100, total_reserves=0, exchange_rate_mantissa=E18)
    assert seize_internal(35, borrower_tokens=35, **kwargs).protocol_seize_tokens == 0
    assert seize_internal(36, borrower_tokens=36, **kwargs).protocol_seize_tokens == 1


# --------------------------------------------------------------------------------------------------------------
# liquidateBorrowFresh


def shortfall_account(c_eth_tokens: int = 10**10, usdc_borrowed: int = 3200 * 10**6):
    # Prices as the price feed scales them (1e36 / 10**decimals per unit): ETH (18 decimals) at 2000 USD -> 2000e18,
    # USDC (6 decimals) at 1 USD -> 1e30. cETH exchange rate 0.02 ETH per cToken (8 decimals) -> 2e26.
    # 1e10 cETH units = 100 cETH = 2 ETH = 4000 USD, at cf 0.75 -> 3000 USD against 3200 USD borrowed.
    return [
        AccountAsset(
            "cETH",
            c_token_balance=c_eth_tokens,
            exchange_rate_mantissa=2 * 10**26,
            collateral_factor_mantissa=mantissa("0.75"),
            oracle_price_mantissa=2000 * E18,
        ),
        AccountAsset("cUSDC", borrow_balance=usdc_borrowed, oracle_price_mantissa=10**30),
    ]


LIQUIDATE_KWARGS = dict(
    close_factor_mantissa=mantissa("0.5"),
    liquidation_incentive_mantissa=mantissa("1.08"),
    collateral_total_supply=10**12,
    collateral_total_reserves=0,
)


def test_liquidate_borrow_fresh_hand_calculation():
    assert get_account_liquidity(shortfall_account()) == (Error.NO_ERROR, 0, 200 * E18)
    result = liquidate_borrow_fresh(shortfall_account(), "cUSDC", "cETH", 1000 * 10**6, **LIQUIDATE_KWARGS)
    # n = 1.08e18 * 1e30 / 1e18 = 1.08e30; d = 2000e18 * 2e26 / 1e18 = 4e29; r = 1.08e30 * 1e18 / 4e29 = 2.7e18;
    # seize = 2.7e18 * 1000e6 / 1e18 = 2.7e9 cETH units (27 cETH = 0.54 ETH = 1080 USD for 1000 USD repaid)
    assert result.actual_repay_amount == 1000 * 10**6
    assert result.account_borrows_new == 2200 * 10**6
    assert result.seize_tokens == 2_700_000_000
    # protocol: floor(2.7e9 * 0.028) = 75600000 cTokens, worth 2e26 * 75600000 / 1e18 = 1.512e16 wei of ETH
    assert result.seize.protocol_seize_tokens == 75_600_000
    assert result.seize.liquidator_seize_tokens == 2_624_400_000
    assert result.seize.protocol_seize_amount == 15_120_000_000_000_000
    assert result.seize.borrower_tokens_new == 10**10 - 2_700_000_000
    assert result.seize.total_supply_new == 10**12 - 75_600_000
    assert result.seize.total_reserves_new == 15_120_000_000_000_000


def test_liquidate_borrow_fresh_reverts():
    # liquidateTest.js "fails if repayAmount = 0" (the comptroller allows it) -> LiquidateCloseAmountIsZero
    with pytest.raises(Revert, match=r"^LiquidateCloseAmountIsZero\(\)$"):
        liquidate_borrow_fresh(shortfall_account(), "cUSDC", "cETH", 0, **LIQUIDATE_KWARGS)
    # No shortfall: the comptroller's INSUFFICIENT_SHORTFALL (3) comes back as LiquidateComptrollerRejection(3).
    with pytest.raises(Revert, match=r"^LiquidateComptrollerRejection\(3\)$"):
        liquidate_borrow_fresh(
            shortfall_account(usdc_borrowed=10 * 10**6), "cUSDC", "cETH", 10**6, **LIQUIDATE_KWARGS
        )
    # maxClose = 0.5 * 3200e6 = 1600e6: one more is TOO_MUCH_REPAY (17)
    with pytest.raises(Revert, match=r"^LiquidateComptrollerRejection\(17\)$"):
        liquidate_borrow_fresh(shortfall_account(), "cUSDC", "cETH", 1600 * 10**6 + 1, **LIQUIDATE_KWARGS)
    # 10 cETH held (300 USD of collateral); repaying 1600 USDC would seize 4.32e9 > 1e9 cTokens
    with pytest.raises(Revert, match=r"^LIQUIDATE_SEIZE_TOO_MUCH$"):
        liquidate_borrow_fresh(
            shortfall_account(c_eth_tokens=10**9), "cUSDC", "cETH", 1600 * 10**6, **LIQUIDATE_KWARGS
        )
    # A deprecated market skips the liquidity check, so a zero price surfaces in the seize calculation.
    no_price = [shortfall_account()[0], AccountAsset("cUSDC", borrow_balance=10**6, oracle_price_mantissa=0)]
    with pytest.raises(Revert, match=r"^LIQUIDATE_COMPTROLLER_CALCULATE_AMOUNT_SEIZE_FAILED$"):
        liquidate_borrow_fresh(
            no_price, "cUSDC", "cETH", 10**6, borrowed_is_deprecated=True, **LIQUIDATE_KWARGS
        )
    # The same account on a live market: PRICE_ERROR (13) from the liquidity check
    with pytest.raises(Revert, match=r"^LiquidateComptrollerRejection\(13\)$"):
        liquidate_borrow_fresh(no_price, "cUSDC", "cETH", 10**6, **LIQUIDATE_KWARGS)


def test_liquidate_borrow_fresh_uint_max():
    # repay = 2**256 - 1 on a deprecated market with a maximal borrow passes the comptroller, then is refused.
    assets = [
        shortfall_account()[0],
        AccountAsset("cUSDC", borrow_balance=UINT256_MAX, oracle_price_mantissa=1),
    ]
    with pytest.raises(Revert, match=r"^LiquidateCloseAmountIsUintMax\(\)$"):
        liquidate_borrow_fresh(
            assets, "cUSDC", "cETH", UINT256_MAX, borrowed_is_deprecated=True, **LIQUIDATE_KWARGS
        )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: liquidate_calculate_seize_tokens(-1, 1, 1, 1, 1),
            r"The 'price_borrowed_mantissa' parameter of liquidate_calculate_seize_tokens must be an int in "
            r"\[0, 2\*\*256 - 1\]\. Got -1 instead\.",
        ),
        (
            lambda: exchange_rate_stored(1, 1, 1, 1, 1.5),
            r"The 'initial_exchange_rate_mantissa' parameter of exchange_rate_stored must be an int .* Got 1\.5",
        ),
        (
            lambda: AccountAsset("c", c_token_balance=True),
            r"The 'c_token_balance' parameter of AccountAsset must be an int .* Got True instead\.",
        ),
        (
            lambda: get_account_liquidity([AccountAsset("c"), AccountAsset("c")]),
            r"The 'account_assets' parameter of get_account_liquidity must name each cToken once\. Got 'c' twice",
        ),
        (
            lambda: liquidate_borrow_fresh(
                shortfall_account(),
                "cDAI",
                "cETH",
                1,
                close_factor_mantissa=1,
                liquidation_incentive_mantissa=1,
                collateral_total_supply=1,
                collateral_total_reserves=0,
            ),
            r"The 'c_token_borrowed' parameter of liquidate_borrow_fresh must be the c_token of one of the "
            r"account_assets\. Got 'cDAI' instead\.",
        ),
        (
            lambda: is_deprecated(0, 1, E18),
            r"The 'borrow_guardian_paused' parameter of is_deprecated must be a bool\. Got 1 instead\.",
        ),
    ],
)
def test_bad_input_is_rejected(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


# --------------------------------------------------------------------------------------------------------------
# properties

mantissas = st.integers(min_value=1, max_value=10**30)


@settings(max_examples=200, deadline=None)
@given(
    price_borrowed=mantissas,
    price_collateral=mantissas,
    exchange_rate=st.integers(min_value=10**8, max_value=10**28),
    incentive=st.integers(min_value=E18, max_value=mantissa("1.5")),
    repay=st.integers(min_value=0, max_value=10**30),
)
def test_seize_tokens_never_exceed_single_division(
    price_borrowed, price_collateral, exchange_rate, incentive, repay
):
    denominator = Fraction(price_collateral * exchange_rate, E18)
    if denominator < 1:
        with pytest.raises(Revert, match=r"^Panic\(0x12\)$"):
            liquidate_calculate_seize_tokens(
                price_borrowed, price_collateral, exchange_rate, incentive, repay
            )
        return
    error, seize = liquidate_calculate_seize_tokens(
        price_borrowed, price_collateral, exchange_rate, incentive, repay
    )
    assert error is Error.NO_ERROR
    # Truncating the numerator, the ratio and the product only lowers the result; truncating the denominator D to
    # floor(D) raises it by at most D / floor(D).
    exact = Fraction(repay * incentive * price_borrowed, price_collateral * exchange_rate)
    assert seize <= exact * denominator / (denominator.numerator // denominator.denominator)


@settings(max_examples=200, deadline=None)
@given(
    seize=st.integers(0, 10**30),
    extra=st.integers(0, 10**30),
    rate=st.integers(1, 10**30),
    reserves=st.integers(0, 10**30),
)
def test_seize_conserves_tokens(seize, extra, rate, reserves):
    result = seize_internal(
        seize,
        borrower_tokens=seize + extra,
        liquidator_tokens=0,
        total_supply=seize + extra,
        total_reserves=reserves,
        exchange_rate_mantissa=rate,
    )
    assert result.liquidator_seize_tokens + result.protocol_seize_tokens == seize
    assert result.protocol_seize_tokens * 1000 <= seize * 28
    assert result.total_supply_new + result.protocol_seize_tokens == seize + extra
    assert result.protocol_seize_amount * E18 <= result.protocol_seize_tokens * rate


@settings(max_examples=150, deadline=None)
@given(
    balance=st.integers(0, 10**24),
    cf=st.integers(0, mantissa("0.9")),
    borrow=st.integers(0, 10**24),
    extra=st.integers(0, 10**24),
)
def test_liquidity_is_monotone_in_borrowing(balance, cf, borrow, extra):
    assets = [
        AccountAsset("c", c_token_balance=balance, collateral_factor_mantissa=cf, borrow_balance=borrow)
    ]
    err, liquidity, shortfall = get_account_liquidity(assets)
    assert err is Error.NO_ERROR and liquidity * shortfall == 0
    _, liquidity_more, shortfall_more = get_hypothetical_account_liquidity(assets, "c", 0, extra)
    assert liquidity_more - shortfall_more == liquidity - shortfall - extra
    # No shortfall, no liquidation.
    if shortfall == 0:
        assert (
            liquidate_borrow_allowed(
                borrow_balance=borrow,
                repay_amount=0,
                close_factor_mantissa=mantissa("0.5"),
                account_assets=assets,
            )
            is Error.INSUFFICIENT_SHORTFALL
        )
