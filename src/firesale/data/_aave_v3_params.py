"""Aave v3 Ethereum Core market parameters around the 2025-12-02 borrower snapshot, with their sources.

Only the seven assets of firesale's ``aave-v3-today`` universe are tabulated (WETH, wstETH, weETH, WBTC, USDC,
USDT, USDe) and the e-mode categories that apply to them. Every number carries its source; ``docs/
aave-v3-today-inputs.md`` has the full table with links, and states where a value could not be found.

Sources, abbreviated in the ``source`` columns:

* ``AIP-diff <name> <date>``: the configuration diff that Aave governance's proposal tooling generates for an
  executed AIP payload, in bgd-labs/aave-proposals-v3 ``diffs/AaveV3Ethereum_<name>_<date>_before_..._after.md``
  (and, before October 2023, bgd-labs/aave-proposals ``diffs/``).
* ``LlamaRisk 2025-02``: LlamaRisk's reply in the Aave governance forum thread "[ARFC] Prime Instance - Restore ETH
  LTV" (https://governance.aave.com/t/arfc-prime-instance-restore-eth-ltv/20933), which tabulates the Core WETH
  parameters.
* ``ACI 2023-12-11``: "[ARFC] Harmonize USDT Risk Parameters on Aave V3 Markets"
  (https://governance.aave.com/t/arfc-harmonize-usdt-risk-parameters-on-aave-v3-markets/15815).
* ``snapshot``: the liquidation threshold implied by the snapshot itself: its health factors are
  ``sum(collateral_usd * reserve LT) / debt`` without e-mode, and 139, 79, 118, 212 and 140 borrowers have an
  implied average LT equal, to three decimals, to 0.83, 0.81, 0.80, 0.78 and 0.75.
* ``placeholder``: not found in the sources searched; a documented value of a sibling asset is used and flagged.

Debt ceilings (Aave v3 isolation mode, :mod:`firesale.protocols.isolation`): none of the seven reserves is an
isolated asset on 2025-12-02, so ``debt_ceiling`` is 0 for all. USDe's ceiling went from $103,680,000 to 0 in AIP-diff
RemoveUSDeDebtCeilingAndIntroduceUSDeStablecoinsEMode 2025-05-05; sUSDe's (booked as USDe here) from $40,000,000 to
0 in AIP-diff OnboardAndEnableSUSDeLiquidEModeOnAaveV3MainnetAndLidoInstances 2024-11-08 (it was listed with it,
AIP-diff OnboardSUSDeToAaveV3OnEthereum 2024-06-21). Of the mapped long tail, rsETH (AIP-diff
OnboardRsETHToAaveV3Ethereum 2024-11-04), LBTC (EnableLBTCWBTCLiquidEModeOnAavev3CoreInstance 2024-12-23) and eBTC
(OnboardEBTCAndAddEBTCWBTCEMode 2025-03-24) were listed without one; cbBTC and osETH were not checked. Among the Ethereum Core diffs of bgd-labs/aave-proposals-v3 (snapshot
ff6a99c, 2026-02-20) the only non-zero ceilings in force at the snapshot date are on assets outside the universe
(XAUt $25,000,000 from XAUtCapAdjustment 2025-12-01, SNX $1 from DeprecationOfLongTailAssets 2025-07-15); WETH,
wstETH, weETH, WBTC, USDC and USDT have no ceiling change in them (ASSUMPTION: listed without one, their listing
diffs predate that repository).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["EModeCategory", "RateStrategy", "ReserveParams", "aave_v3_market_parameters"]


@dataclass(frozen=True)
class ReserveParams:
    """Risk parameters of one reserve (fractions, not basis points).

    ``liquidation_bonus`` is the bonus above 1 (0.05 for the contract's 10500). ``debt_ceiling`` is the isolation
    mode debt ceiling in dollars (0: not an isolated asset; sources in the module docstring).
    """

    asset: str
    decimals: int
    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float
    liquidation_protocol_fee: float
    reserve_factor: float
    supply_cap: float
    borrow_cap: float
    source: str
    debt_ceiling: float = 0.0


@dataclass(frozen=True)
class EModeCategory:
    """An e-mode category: parameters applied to collateral in ``collateral`` while all debt is in ``borrowable``."""

    id: int
    label: str
    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float
    collateral: tuple[str, ...]
    borrowable: tuple[str, ...]
    source: str


_NAN = float("nan")

RESERVES: tuple[ReserveParams, ...] = (
    ReserveParams(
        "WETH",
        18,
        0.805,
        0.83,
        0.05,
        0.10,
        0.15,
        _NAN,
        _NAN,
        "LlamaRisk 2025-02 (LTV, LT, bonus, protocol fee, RF); LT also snapshot; caps not found",
    ),
    ReserveParams(
        "wstETH",
        18,
        0.785,
        0.81,
        0.06,
        0.10,
        0.35,
        _NAN,
        60_000.0,
        "AIP-diff ChaosLabsRiskParameterUpdates_AaveV3Ethereum 2023-08-28 (LTV, LT); LT also snapshot; "
        "AIP-diff InterestRateUpdateWETHAndWstETHEthereum 2025-07-21 (RF); AIP-diff OnboardRsETHToAaveV3Ethereum "
        "2024-11-04 (borrow cap); bonus and protocol fee placeholder; supply cap not found",
    ),
    ReserveParams(
        "weETH",
        18,
        0.775,
        0.80,
        0.07,
        0.10,
        0.45,
        _NAN,
        29_500.0,
        "AIP-diff WeETHRiskParameterAdjustment 2024-12-23 (LTV, LT, bonus); LT also snapshot; AIP-diff "
        "WeETHListing 2024-03-20 (protocol fee); AIP-diff UpdatingWeETHRiskParameters 2024-04-26 (RF, borrow cap); "
        "supply cap not found for 2025",
    ),
    ReserveParams(
        "WBTC",
        8,
        0.73,
        0.78,
        0.05,
        0.10,
        0.50,
        _NAN,
        _NAN,
        "AIP-diff AaveV3EthRiskParams 2023-05-29 (LTV, LT, bonus); LT also snapshot; AIP-diff "
        "WBTCReserveFactorAndUOptimalIncrease 2024-11-20 (RF); protocol fee placeholder; caps not found",
    ),
    ReserveParams(
        "USDC",
        6,
        0.75,
        0.78,
        0.045,
        0.10,
        0.10,
        _NAN,
        _NAN,
        "AIP-diff GeneralizedLTLTVReductionsOnAaveV3Step2 2024-04-25 (LTV, LT); LT also snapshot; bonus, "
        "protocol fee and RF placeholder (USDT's); caps not found",
    ),
    ReserveParams(
        "USDT",
        6,
        0.75,
        0.78,
        0.045,
        0.10,
        0.10,
        _NAN,
        _NAN,
        "AIP-diff GeneralizedLTLTVReductionsOnAaveV3Step2 2024-04-25 (LTV, LT); LT also snapshot; ACI 2023-12-11 "
        "(bonus 4.5% on Ethereum); protocol fee and RF placeholder; caps not found",
    ),
    ReserveParams(
        "USDe",
        18,
        0.72,
        0.75,
        0.085,
        0.10,
        0.25,
        _NAN,
        _NAN,
        "AIP-diff OnboardUSDeAaveV3Ethereum 2024-05-28 (LTV, LT, bonus, protocol fee, RF; sUSDe identical except "
        "RF 20%, AIP-diff OnboardSUSDeToAaveV3OnEthereum 2024-06-21); LT also snapshot; caps not found for 2025",
    ),
)

EMODES: tuple[EModeCategory, ...] = (
    EModeCategory(
        1,
        "ETH correlated",
        0.93,
        0.95,
        0.01,
        ("WETH", "wstETH", "weETH"),
        ("WETH",),
        "AIP-diff ConfigurationMaintenance 2025-05-19 (collateral also cbETH, rETH, osETH, ETHx; borrowable WETH)",
    ),
    EModeCategory(
        2,
        "sUSDe Stablecoins",
        0.90,
        0.92,
        0.04,
        ("USDe",),
        ("USDC", "USDT"),
        "AIP-diff RemoveUSDSAsCollateralAndIncreaseRFAcrossAllAaveInstances 2025-12-03, 'value before' "
        "(collateral USDe, sUSDe; borrowable USDC, USDT and, until that AIP, USDS)",
    ),
    EModeCategory(
        11,
        "USDe Stablecoin",
        0.90,
        0.93,
        0.02,
        ("USDe",),
        ("USDC", "USDT"),
        "AIP-diff RemoveUSDSAsCollateralAndIncreaseRFAcrossAllAaveInstances 2025-12-03, 'value before' "
        "(collateral USDe only; borrowable USDC, USDT and, until that AIP, USDS); created by AIP-diff "
        "RemoveUSDeDebtCeilingAndIntroduceUSDeStablecoinsEMode 2025-05-05",
    ),
    EModeCategory(
        24,
        "PT-sUSDe Stablecoins Nov 2025",
        0.90,
        0.92,
        0.031,
        ("USDe",),
        ("USDC", "USDT", "USDe"),
        "AIP-diff RemoveUSDSAsCollateralAndIncreaseRFAcrossAllAaveInstances 2025-12-03, 'value before' "
        "(collateral sUSDe, PT-sUSDe-25SEP2025, PT-sUSDe-27NOV2025; borrowable also USDtb, USDS)",
    ),
    EModeCategory(
        26,
        "weETH/wstETH ETH Correlated",
        0.93,
        0.95,
        0.01,
        ("weETH",),
        ("WETH", "wstETH"),
        "AIP-diff ArbitrumEModeUpdateRsETHAndEzETH 2025-08-05 (created as id 24, listed as id 26 in the "
        "2025-11-11 to 2025-12-05 diffs)",
    ),
)


@dataclass(frozen=True)
class RateStrategy:
    """A reserve's interest-rate curve (DefaultReserveInterestRateStrategyV2 ``InterestRateData``), fractions per
    year: the reserve keys ``optimal_usage_ratio``, ``base_variable_borrow_rate``, ``variable_rate_slope1``,
    ``variable_rate_slope2`` (firesale.mechanics.aave_rates, firesale.agents.lenders)."""

    asset: str
    optimal_usage_ratio: float
    base_variable_borrow_rate: float
    variable_rate_slope1: float
    variable_rate_slope2: float
    source: str


#: Rate curves found for the universe. Only WETH and wstETH: the 2025-07-21 AIP diff states both curves in full
#: (its interestRate chart links carry all four parameters; WETH's maxVariableBorrowRate 42.7 %, wstETH's 41 %).
#: Later 2025 changes were not searched; WBTC, weETH, USDC, USDT and USDe curves were not found.
RATE_STRATEGIES: tuple[RateStrategy, ...] = (
    RateStrategy("WETH", 0.92, 0.0, 0.027, 0.40,
                 "AIP-diff InterestRateUpdateWETHAndWstETHEthereum 2025-07-21 ('value after'; optimal 94 % -> 92 %)"),
    RateStrategy("wstETH", 0.80, 0.0, 0.01, 0.40,
                 "AIP-diff InterestRateUpdateWETHAndWstETHEthereum 2025-07-21 ('value after'; slope1 1.6 % -> 1 %, "
                 "slope2 85 % -> 40 %, RF 5 % -> 35 %)"),
)  # fmt: skip


def aave_v3_market_parameters() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aave v3 Ethereum Core parameters of the ``aave-v3-today`` assets and their e-mode categories.

    Returns
    -------
    reserves : pandas.DataFrame
        Indexed by ``asset``: ``decimals``, ``ltv``, ``liquidation_threshold``, ``liquidation_bonus`` (above 1),
        ``liquidation_protocol_fee``, ``reserve_factor`` (fractions), ``supply_cap``, ``borrow_cap`` (tokens, NaN
        where not found for the snapshot date), ``source`` and ``debt_ceiling`` (dollars, 0: not isolated).
    emodes : pandas.DataFrame
        Indexed by ``id``: ``label``, ``ltv``, ``liquidation_threshold``, ``liquidation_bonus``, ``collateral``
        and ``borrowable`` (tuples of assets of the universe) and ``source``.

    Notes
    -----
    The values are those in force on 2025-12-02 as far as the cited governance records show; see the module
    docstring and ``docs/aave-v3-today-inputs.md``. Collateral of the long tail (cbBTC, sUSDe, rsETH, ...) is
    mapped onto the universe by :func:`firesale.data.aave_v3_positions`, so e-mode collateral sets are stated in
    universe assets (``USDe`` stands for USDe, sUSDe and Ethena PT tokens).

    Examples
    --------
    >>> from firesale.data import aave_v3_market_parameters
    >>> reserves, emodes = aave_v3_market_parameters()
    >>> float(reserves.loc["WETH", "liquidation_threshold"]), float(emodes.loc[1, "liquidation_threshold"])
    (0.83, 0.95)
    """
    reserves = pd.DataFrame([r.__dict__ for r in RESERVES]).set_index("asset")
    emodes = pd.DataFrame([e.__dict__ for e in EMODES]).set_index("id")
    return reserves, emodes
