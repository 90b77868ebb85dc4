"""Synthetix v2x debt pool: debt shares, collateralisation ratio, issuance, burning and forced liquidation.

Stakers lock SNX and issue sUSD against it; every staker owes a *share* of the whole pool's debt, the value of all
synths in circulation at the oracle's rates. The pool's debt moves with synth prices (a staker who issued 100 sUSD
owes more when someone else's sETH gains), and the share accounting is what keeps that fair:

- ``DebtCache._currentDebt``: total debt = sum over synths of ``supply.multiplyDecimalRound(rate)`` (sUSD's rate is
  one); the dynamic redeemer's discount (SIP-2059, for deprecated synths) is taken as one.
- ``OneNetAggregatorDebtRatio.getRoundData``: debt per share
  ``ratio = totalIssuedSynths.decimalToPreciseDecimal().divideDecimalRound(totalDebtShares)`` (27 decimals),
  ``10**27`` when no share exists.
- ``Issuer._sharesForDebt``: ``debt.divideDecimalRoundPrecise(ratio)`` (0 when the ratio is 0);
  ``Issuer._debtForShares``: ``shares.multiplyDecimalRoundPrecise(ratio)``.
- ``Issuer._addToDebtRegister``: mint ``_sharesForDebt(amount)`` shares (``amount`` shares if that is zero: the first
  issuer takes any debt issued without shares); ``Issuer._removeFromDebtRegister``: burn all shares when the whole
  debt is repaid, else ``min(_sharesForDebt(debt), balance)``.
- ``Issuer._maxIssuableSynths``: ``collateral.multiplyDecimalRound(snxRate).multiplyDecimal(issuanceRatio)``;
  ``Issuer._collateralisationRatio``: debt in SNX over collateral, ``debtBalance.divideDecimalRound(collateral)``
  with ``debtBalance = _debtForShares(shares).divideDecimalRound(snxRate)`` (Synthetix's "c-ratio" is debt over
  collateral; a 400 % collateralisation is an issuance ratio of 0.25).
- ``Liquidator.flagAccountForLiquidation``: an account whose ratio is at least ``liquidationRatio`` and which holds at
  least ``flagReward + liquidateReward`` SNX gets a deadline ``now + liquidationDelay``;
  ``Liquidator.isLiquidationOpen`` (forced): ratio above ``issuanceRatio``, deadline set and passed (``now >
  deadline``), enough SNX for the rewards; ``Liquidator.checkAndRemoveAccountInLiquidation``: the flag is removed when
  the ratio is back at or below the issuance ratio.
- ``Liquidator.calculateAmountToFixCollateral``: ``S = (D - V r) / (1 - (1 + P) r)``, the debt to remove so that the
  account is back at the issuance ratio after losing ``S (1 + P)`` of collateral value.
- ``Issuer._liquidationAmounts`` (forced, SIP-148/SIP-252): ``V`` is the value of the collateral less the rewards;
  ``redeemTarget = _usdToSnx(S).multiplyDecimal(1 + P)``; when ``redeemTarget + rewards >= collateral`` the account
  is wiped out (all debt removed, ``collateral - rewards`` redeemed), else ``S`` removed and ``redeemTarget``
  redeemed. Escrowed SNX counts as collateral; this reference holds no escrow (all SNX transferable).
- ``BaseSynthetix._liquidateDelinquentAccount``: the flag reward to the flagger, the liquidate reward to the
  caller, the redeemed SNX to ``LiquidatorRewards``, which ``notifyRewardAmount`` spreads over the remaining debt
  shares (``accumulatedRewardsPerShare += reward.divideDecimal(totalShares)``; ``earned = shares.multiplyDecimal(
  acc - entry) + claimable``). No sUSD is burned: the removed debt stays in the pool, so every other staker's
  share of it grows (the debt is socialised), and they receive the penalty in SNX.

Numbers are Python ints in the contracts' 18-decimal fixed point (27 for the debt ratio); reverts raise
:class:`firesale.mechanics.Revert` with SafeMath's or the contracts' reason strings.

References
----------
Synthetixio/synthetix (commit 1609d156), ``contracts/Issuer.sol``, ``contracts/BaseDebtCache.sol``,
``contracts/OneNetAggregatorDebtRatio.sol``, ``contracts/Liquidator.sol`` (SIP-148 "Upgrade Liquidation Mechanism
V2"), ``contracts/LiquidatorRewards.sol``, ``contracts/BaseSynthetix.sol``, ``contracts/SafeDecimalMath.sol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert

__all__ = [
    "PRECISE_UNIT",
    "UNIT",
    "DebtPool",
    "calculate_amount_to_fix_collateral",
    "debt_for_shares",
    "debt_ratio",
    "divide_decimal",
    "divide_decimal_round",
    "divide_decimal_round_precise",
    "multiply_decimal",
    "multiply_decimal_round",
    "multiply_decimal_round_precise",
    "shares_for_debt",
    "wad",
]

UNIT: Final = 10**18
PRECISE_UNIT: Final = 10**27
_SUSD: Final = "sUSD"


def wad(value: float | int | str) -> int:
    """An 18-decimal fixed-point int from a number (rounded to the nearest unit of 1e-18)."""
    from decimal import Decimal

    return int((Decimal(str(value)) * UNIT).to_integral_value())


def _sub(a: int, b: int) -> int:
    if b > a:
        raise Revert("SafeMath: subtraction overflow")
    return a - b


def _div(a: int, b: int) -> int:
    if b == 0:
        raise Revert("SafeMath: division by zero")
    return a // b


def multiply_decimal(x: int, y: int) -> int:
    """``SafeDecimalMath.multiplyDecimal``: ``x * y / UNIT``, truncated."""
    return x * y // UNIT


def _multiply_decimal_round(x: int, y: int, unit: int) -> int:
    q10 = x * y // (unit // 10)
    if q10 % 10 >= 5:
        q10 += 10
    return q10 // 10


def multiply_decimal_round(x: int, y: int) -> int:
    """``SafeDecimalMath.multiplyDecimalRound``: ``x * y / UNIT``, rounded half up."""
    return _multiply_decimal_round(x, y, UNIT)


def multiply_decimal_round_precise(x: int, y: int) -> int:
    """``SafeDecimalMath.multiplyDecimalRoundPrecise``: ``x * y / PRECISE_UNIT``, rounded half up."""
    return _multiply_decimal_round(x, y, PRECISE_UNIT)


def divide_decimal(x: int, y: int) -> int:
    """``SafeDecimalMath.divideDecimal``: ``x * UNIT / y``, truncated."""
    return _div(x * UNIT, y)


def _divide_decimal_round(x: int, y: int, unit: int) -> int:
    r10 = _div(x * unit * 10, y)
    if r10 % 10 >= 5:
        r10 += 10
    return r10 // 10


def divide_decimal_round(x: int, y: int) -> int:
    """``SafeDecimalMath.divideDecimalRound``: ``x * UNIT / y``, rounded half up."""
    return _divide_decimal_round(x, y, UNIT)


def divide_decimal_round_precise(x: int, y: int) -> int:
    """``SafeDecimalMath.divideDecimalRoundPrecise``: ``x * PRECISE_UNIT / y``, rounded half up."""
    return _divide_decimal_round(x, y, PRECISE_UNIT)


def debt_ratio(total_issued: int, total_shares: int) -> int:
    """``OneNetAggregatorDebtRatio``: debt per share, 27 decimals (``10**27`` with no shares)."""
    if total_shares == 0:
        return PRECISE_UNIT
    return divide_decimal_round(total_issued * (PRECISE_UNIT // UNIT), total_shares)


def shares_for_debt(debt: int, ratio: int) -> int:
    """``Issuer._sharesForDebt``."""
    return 0 if ratio == 0 else divide_decimal_round_precise(debt, ratio)


def debt_for_shares(shares: int, ratio: int) -> int:
    """``Issuer._debtForShares``."""
    return multiply_decimal_round_precise(shares, ratio)


def calculate_amount_to_fix_collateral(
    debt: int, collateral_usd: int, penalty: int, issuance_ratio: int
) -> int:
    """``Liquidator.calculateAmountToFixCollateral``: ``(D - V r) / (1 - (1 + P) r)`` in 18-decimal fixed point."""
    dividend = _sub(debt, multiply_decimal(collateral_usd, issuance_ratio))
    divisor = _sub(UNIT, multiply_decimal(UNIT + penalty, issuance_ratio))
    return divide_decimal(dividend, divisor)


@dataclass
class DebtPool:
    """One Synthetix deployment's debt pool with SNX stakers (no escrow), one path, exact.

    Parameters are 18-decimal ints: ``issuance_ratio`` (debt over collateral at the target, 0.25 for 400 %),
    ``liquidation_ratio`` (debt over collateral at which an account can be flagged, 0.666... for 150 %),
    ``penalty`` (``snxLiquidationPenalty``), ``flag_reward`` and ``liquidate_reward`` (SNX), ``liquidation_delay``
    (seconds). ``supplies`` and ``rates`` are per synth (``"sUSD"``'s rate is always one).
    """

    issuance_ratio: int
    liquidation_ratio: int
    penalty: int
    liquidation_delay: int
    flag_reward: int = 0
    liquidate_reward: int = 0
    supplies: dict[str, int] = field(default_factory=dict)
    rates: dict[str, int] = field(default_factory=dict)
    snx_rate: int = UNIT
    shares: dict[str, int] = field(default_factory=dict)
    snx: dict[str, int] = field(default_factory=dict)
    deadlines: dict[str, int] = field(default_factory=dict)
    acc_rewards_per_share: int = 0
    reward_entries: dict[str, tuple[int, int]] = field(default_factory=dict)  # account -> (claimable, entry)
    keepers_snx: int = 0
    rewards_pool_snx: int = 0

    def __post_init__(self) -> None:
        for name in ("issuance_ratio", "liquidation_ratio", "penalty", "liquidation_delay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ParameterError(
                    f"The {name!r} parameter of DebtPool must be a non-negative int. Got {value!r} instead."
                )
        self.supplies.setdefault(_SUSD, 0)

    # --- views -----------------------------------------------------------------------------------------------
    def rate(self, key: str) -> int:
        return UNIT if key == _SUSD else self.rates[key]

    def total_issued(self) -> int:
        """``DebtCache._currentDebt``: sum of ``supply.multiplyDecimalRound(rate)``."""
        return sum(multiply_decimal_round(s, self.rate(k)) for k, s in self.supplies.items())

    def total_shares(self) -> int:
        return sum(self.shares.values())

    def ratio(self) -> int:
        return debt_ratio(self.total_issued(), self.total_shares())

    def debt_balance_of(self, account: str) -> int:
        """``Issuer.debtBalanceOf(account, "sUSD")``."""
        shares = self.shares.get(account, 0)
        return 0 if shares == 0 else divide_decimal_round(debt_for_shares(shares, self.ratio()), UNIT)

    def earned(self, account: str) -> int:
        """``LiquidatorRewards.earned``."""
        claimable, entry = self.reward_entries.get(account, (0, 0))
        return (
            multiply_decimal(self.shares.get(account, 0), _sub(self.acc_rewards_per_share, entry)) + claimable
        )

    def collateral(self, account: str) -> int:
        """``Issuer._collateral``: SNX balance plus liquidation rewards earned (no escrow here)."""
        return self.snx.get(account, 0) + self.earned(account)

    def collateralisation_ratio(self, account: str) -> int:
        """``Issuer._collateralisationRatio``: debt in SNX over collateral (0 with no collateral)."""
        coll = self.collateral(account)
        shares = self.shares.get(account, 0)
        if shares == 0:
            debt_snx = 0
        else:
            debt_snx = divide_decimal_round(debt_for_shares(shares, self.ratio()), self.snx_rate)
        return 0 if coll == 0 else divide_decimal_round(debt_snx, coll)

    def max_issuable(self, account: str) -> int:
        """``Issuer._maxIssuableSynths``."""
        return multiply_decimal(
            multiply_decimal_round(self.collateral(account), self.snx_rate), self.issuance_ratio
        )

    # --- debt register -----------------------------------------------------------------------------------------
    def _update_entry(self, account: str) -> None:
        self.reward_entries[account] = (self.earned(account), self.acc_rewards_per_share)

    def _add_to_debt_register(self, account: str, amount: int) -> None:
        self._update_entry(account)
        new = shares_for_debt(amount, self.ratio())
        self.shares[account] = self.shares.get(account, 0) + (amount if new == 0 else new)

    def _remove_from_debt_register(self, account: str, debt_to_remove: int, existing_debt: int) -> None:
        self._update_entry(account)
        current = self.shares.get(account, 0)
        if debt_to_remove == existing_debt:
            self.shares[account] = 0
        else:
            self.shares[account] = current - min(shares_for_debt(debt_to_remove, self.ratio()), current)

    def issue_synths(self, account: str, amount: int) -> None:
        """``Issuer._issueSynths`` (not max): at most the remaining issuable sUSD."""
        debt = self.debt_balance_of(account)
        mx = self.max_issuable(account)
        remaining = 0 if debt >= mx else mx - debt
        if amount > remaining:
            raise Revert("Amount too large")
        self._add_to_debt_register(account, amount)
        self.supplies[_SUSD] += amount

    def burn_synths(self, account: str, amount: int) -> int:
        """``Issuer._burnSynths``: burns ``min(amount, debt)`` sUSD against the account's debt; returns it."""
        existing = self.debt_balance_of(account)
        if existing == 0:
            raise Revert("No debt to forgive")
        burnt = min(existing, amount)
        self._remove_from_debt_register(account, burnt, existing)
        self.supplies[_SUSD] = _sub(self.supplies[_SUSD], burnt)
        if existing - burnt <= self.max_issuable(account):
            self.deadlines.pop(account, None)
        return burnt

    # --- liquidation -------------------------------------------------------------------------------------------
    def _enough_for_rewards(self, account: str) -> bool:
        return self.collateral(account) >= self.flag_reward + self.liquidate_reward

    def flag_account(self, account: str, now: int) -> None:
        """``Liquidator.flagAccountForLiquidation``."""
        if self.liquidation_ratio == 0:
            raise Revert("Liquidation ratio not set")
        if self.liquidation_delay == 0:
            raise Revert("Liquidation delay not set")
        if self.deadlines.get(account, 0) != 0:
            raise Revert("Account already flagged for liquidation")
        if self.collateralisation_ratio(account) < self.liquidation_ratio:
            raise Revert("Account issuance ratio is less than liquidation ratio")
        if not self._enough_for_rewards(account):
            raise Revert("not enough SNX for rewards")
        self.deadlines[account] = now + self.liquidation_delay

    def check_and_remove(self, account: str) -> None:
        """``Liquidator.checkAndRemoveAccountInLiquidation``."""
        if self.deadlines.get(account, 0) == 0:
            raise Revert("Account has no liquidation set")
        if self.collateralisation_ratio(account) <= self.issuance_ratio:
            del self.deadlines[account]

    def is_liquidation_open(self, account: str, now: int) -> bool:
        """``Liquidator.isLiquidationOpen(account, false)``."""
        if self.collateralisation_ratio(account) <= self.issuance_ratio:
            return False
        deadline = self.deadlines.get(account, 0)
        return deadline > 0 and now > deadline and self._enough_for_rewards(account)

    def liquidation_amounts(self, account: str) -> tuple[int, int]:
        """``Issuer._liquidationAmounts(account, false)`` without escrow: (SNX redeemed, debt removed)."""
        debt = self.debt_balance_of(account)
        rewards = self.flag_reward + self.liquidate_reward
        coll = self.collateral(account)
        coll_usd = multiply_decimal_round(_sub(coll, rewards), self.snx_rate)
        remove = calculate_amount_to_fix_collateral(debt, coll_usd, self.penalty, self.issuance_ratio)
        target = multiply_decimal(divide_decimal_round(remove, self.snx_rate), UNIT + self.penalty)
        if target + rewards >= coll:
            return coll - rewards, debt
        return target, remove

    def liquidate_delinquent_account(self, account: str, now: int) -> tuple[int, int]:
        """``BaseSynthetix._liquidateDelinquentAccount``: returns (SNX redeemed, debt removed)."""
        # getReward first: the account's own liquidation rewards become SNX balance
        earned = self.earned(account)
        self.reward_entries[account] = (0, self.acc_rewards_per_share)
        self.rewards_pool_snx = _sub(self.rewards_pool_snx, earned)
        self.snx[account] = self.snx.get(account, 0) + earned
        if not self.is_liquidation_open(account, now):
            raise Revert("Not open for liquidation")
        redeemed, removed = self.liquidation_amounts(account)
        debt = self.debt_balance_of(account)
        self._remove_from_debt_register(account, removed, debt)
        self.deadlines.pop(account, None)
        paid = self.flag_reward + self.liquidate_reward
        self.snx[account] = _sub(self.snx[account], paid + redeemed)
        self.keepers_snx += paid
        if redeemed > 0:
            self.rewards_pool_snx += redeemed
            total = self.total_shares()
            if total > 0:
                self.acc_rewards_per_share += divide_decimal(redeemed, total)
        return redeemed, removed
