"""Aave v3 interest rates, exact: the default reserve interest rate strategy (v3.1 to v3.3).

Version followed: ``DefaultReserveInterestRateStrategyV2`` of aave-dao/aave-v3-origin
(``src/contracts/misc/DefaultReserveInterestRateStrategyV2.sol``, commit ``1c79784``), the strategy the Aave v3
Ethereum market runs since v3.1: one contract for every reserve, its parameters per reserve in basis points
(``InterestRateData``: ``optimalUsageRatio`` uint16, ``baseVariableBorrowRate``, ``variableRateSlope1``,
``variableRateSlope2`` uint32), turned into rays by ``n * 1e23``. The curve is the one of aave/aave-v3-core
``contracts/protocol/pool/DefaultReserveInterestRateStrategy.sol`` (v3.0: immutable parameters in rays, a stable
rate beside it), which these functions do not follow in its stable-rate part (stable debt is gone in v3.2).

With total debt :math:`D`, available liquidity :math:`L` (the virtual underlying balance, plus what the
transaction adds, less what it takes) and unbacked aTokens :math:`B_u`:

.. math::

    U_b = \\frac{D}{L + D}, \\qquad U_s = \\frac{D}{L + D + B_u},

    r_{var} = r_0 + \\begin{cases} s_1 \\, U_b / U^* & U_b \\le U^* \\\\
    s_1 + s_2 \\, (U_b - U^*) / (1 - U^*) & U_b > U^* \\end{cases}

    r_{liq} = r_{var} \\, U_s \\, (1 - RF)

each step rounded as the contract rounds it (``WadRayMath.rayMul``/``rayDiv`` half up, ``PercentageMath
.percentMul`` half up). No debt: liquidity rate 0, borrow rate :math:`r_0`. Rates are per year, in rays
(1e27 = 100 %).

Parameters are checked as ``_setInterestRateParams`` checks them: ``optimalUsageRatio`` in [1 %, 99 %]
(``MIN_OPTIMAL_POINT``, ``MAX_OPTIMAL_POINT``: error ``INVALID_OPTIMAL_USAGE_RATIO``, ``'83'`` in v3.1's
``Errors.sol``), ``variableRateSlope1 <= variableRateSlope2`` (``SLOPE_2_MUST_BE_GTE_SLOPE_1``, ``'95'``) and
base + slope1 + slope2 at most ``MAX_BORROW_RATE`` = 1000 % (``INVALID_MAX_RATE``, ``'92'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from firesale.mechanics import Revert
from firesale.mechanics._solidity import check_int, check_uint256
from firesale.mechanics.aave_v3 import PERCENTAGE_FACTOR, RAY, percent_mul, ray_div, ray_mul, wad_to_ray

__all__ = [
    "MAX_BORROW_RATE",
    "MAX_OPTIMAL_POINT",
    "MIN_OPTIMAL_POINT",
    "InterestRateData",
    "RateErrors",
    "bps_to_ray",
    "calculate_interest_rates",
    "check_interest_rate_data",
]

#: DefaultReserveInterestRateStrategyV2 constants, basis points.
MAX_BORROW_RATE: Final = 1000_00
MIN_OPTIMAL_POINT: Final = 1_00
MAX_OPTIMAL_POINT: Final = 99_00


class RateErrors:
    """Error codes of aave-v3-origin v3.1 ``Errors.sol`` that ``_setInterestRateParams`` reverts with."""

    INVALID_OPTIMAL_USAGE_RATIO: Final = "83"
    INVALID_MAX_RATE: Final = "92"
    SLOPE_2_MUST_BE_GTE_SLOPE_1: Final = "95"


@dataclass(frozen=True)
class InterestRateData:
    """One reserve's rate parameters in basis points, as ``IDefaultInterestRateStrategyV2.InterestRateData``."""

    optimal_usage_ratio: int
    base_variable_borrow_rate: int
    variable_rate_slope1: int
    variable_rate_slope2: int


def bps_to_ray(n: int) -> int:
    """``_bpsToRay``: basis points to ray, ``n * 1e23``."""
    return n * 10**23


def check_interest_rate_data(data: InterestRateData) -> InterestRateData:
    """``_setInterestRateParams``'s checks: ``data`` if it passes, Revert with the contract's error otherwise."""
    where = "check_interest_rate_data"
    check_int(data.optimal_usage_ratio, "optimal_usage_ratio", where, 0, 2**16 - 1, "2**16 - 1")
    for name in ("base_variable_borrow_rate", "variable_rate_slope1", "variable_rate_slope2"):
        check_int(getattr(data, name), name, where, 0, 2**32 - 1, "2**32 - 1")
    if not MIN_OPTIMAL_POINT <= data.optimal_usage_ratio <= MAX_OPTIMAL_POINT:
        raise Revert(RateErrors.INVALID_OPTIMAL_USAGE_RATIO)
    if data.variable_rate_slope1 > data.variable_rate_slope2:
        raise Revert(RateErrors.SLOPE_2_MUST_BE_GTE_SLOPE_1)
    total = data.base_variable_borrow_rate + data.variable_rate_slope1 + data.variable_rate_slope2
    if total > MAX_BORROW_RATE:
        raise Revert(RateErrors.INVALID_MAX_RATE)
    return data


def calculate_interest_rates(
    data: InterestRateData,
    *,
    virtual_underlying_balance: int,
    total_debt: int,
    reserve_factor: int,
    liquidity_added: int = 0,
    liquidity_taken: int = 0,
    unbacked: int = 0,
    using_virtual_balance: bool = True,
) -> tuple[int, int]:
    """``calculateInterestRates``: (liquidity rate, variable borrow rate), rays per year.

    Token amounts in the token's units; ``reserve_factor`` in basis points. Only variable debt (v3.2+: stable
    debt is gone, so the overall borrow rate is the variable rate). A reserve that does not use virtual balances
    (GHO) returns ``(0, base rate)``, as the contract's short circuit does.

    Examples
    --------
    Optimal usage 90 %, base 0, slope1 4 %, slope2 60 %, reserve factor 10 %: at 45 % usage the borrow rate is
    half of slope1 and the liquidity rate 2 % x 45 % x 90 % = 0.81 %.

    >>> d = InterestRateData(9000, 0, 400, 6000)
    >>> calculate_interest_rates(d, virtual_underlying_balance=55, total_debt=45, reserve_factor=1000)
    (8100000000000000000000000, 20000000000000000000000000)
    """
    for name, value in (("virtual_underlying_balance", virtual_underlying_balance), ("total_debt", total_debt),
                        ("liquidity_added", liquidity_added), ("liquidity_taken", liquidity_taken),
                        ("unbacked", unbacked)):  # fmt: skip
        check_uint256(value, name, "calculate_interest_rates")
    check_int(reserve_factor, "reserve_factor", "calculate_interest_rates", 0, PERCENTAGE_FACTOR, "10000")
    optimal = bps_to_ray(data.optimal_usage_ratio)
    base = bps_to_ray(data.base_variable_borrow_rate)
    slope1, slope2 = bps_to_ray(data.variable_rate_slope1), bps_to_ray(data.variable_rate_slope2)
    if not using_virtual_balance:
        return 0, base
    if total_debt == 0:
        return 0, base
    available = virtual_underlying_balance + liquidity_added - liquidity_taken
    if available < 0:
        raise Revert("Panic(0x11)")  # checked subtraction in the contract
    plus_debt = available + total_debt
    borrow_usage = ray_div(total_debt, plus_debt)
    supply_usage = ray_div(total_debt, plus_debt + unbacked)
    if borrow_usage > optimal:
        excess = ray_div(borrow_usage - optimal, RAY - optimal)
        variable = base + slope1 + ray_mul(slope2, excess)
    else:
        variable = base + ray_div(ray_mul(slope1, borrow_usage), optimal)
    # _getOverallBorrowRate with variable debt only: (debt.wadToRay() x rate) / debt.wadToRay()
    debt_ray = wad_to_ray(total_debt)
    overall = ray_div(ray_mul(debt_ray, variable), debt_ray)
    liquidity = percent_mul(ray_mul(overall, supply_usage), PERCENTAGE_FACTOR - reserve_factor)
    return liquidity, variable
