"""The scenario file format: pydantic models that validate a TOML scenario at the boundary.

A scenario describes a world: assets, the exogenous market, venues where collateral is sold, oracles, protocols
with their parameters and positions, the agents that liquidate and arbitrage, and the simulation horizon. The
engine never sees these models: :func:`firesale.scenario.load_scenario` turns them into a :class:`Scenario`.

Units: prices in USD, amounts in token units, durations in seconds, fractions in [0, 1].
"""

from __future__ import annotations

import difflib
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from firesale.agents.borrowers import BorrowersSpec
from firesale.agents.holders import HoldersSpec
from firesale.agents.lenders import LendersSpec
from firesale.agents.searchers import SearchersSpec
from firesale.liquidity._cryptoswap_spec import CryptoSwapSpec
from firesale.market.spec import MarketSpec
from firesale.policies.spec import PolicySpec
from firesale.protocols.liquity import LiquitySpec
from firesale.protocols.lst import LstSpec
from firesale.protocols.maker import MakerSpec
from firesale.protocols.perps import PerpSpec
from firesale.protocols.psm import PsmSpec
from firesale.protocols.synthetix import SynthetixSpec
from firesale.protocols.terra_market import TerraMarketSpec
from firesale.scenario._types import Fraction, Name, NonNegative, Positive, SpecModel, refuse

__all__ = [
    "AccountSpec",
    "AgentsSpec",
    "AssetSpec",
    "AttackSpec",
    "ConcentratedSpec",
    "ConstantProductSpec",
    "CryptoSwapSpec",
    "EModeSpec",
    "EvaporationSpec",
    "FaultSpec",
    "GeneratedPositionsSpec",
    "LendingSpec",
    "OracleSpec",
    "OrderBookSpec",
    "ReserveSpec",
    "ScenarioSpec",
    "SimulationSpec",
    "StableSwapSpec",
    "VenueEvaporationSpec",
]

# The field types and base model live in _types so protocol modules can define their own specs.
_Spec = SpecModel

#: Series ``simulation.record`` may name (the engine's recorder keeps the same names).
#: "slippage": the loss selling $100k, $1M and $10M of each collateral into each venue it is sold on, alone, now;
#: "staleness": seconds since each oracle last wrote or changed its answer; "oracle_deviation": each oracle's
#: ``|answer / market - 1|``; "unserved": liquidatable accounts left unliquidated at the end of the step, and their
#: share of the step's liquidations plus them (:mod:`firesale.monitor` grades these).
RECORDABLE = (
    "price", "bad_debt", "liquidated", "rounds", "flags", "oracle", "depth", "slippage", "staleness",
    "oracle_deviation", "unserved", "coverage",
)  # fmt: skip


class SimulationSpec(_Spec):
    """Horizon, step and Monte Carlo size. ``dt`` may be anything from one block (12 s) to a day."""

    n_steps: int = Field(gt=0, le=1_000_000, description="Number of time steps.")
    dt: float = Field(
        gt=0, le=86_400, allow_inf_nan=False, description="Step length in seconds (12 to 86400)."
    )
    n_paths: int = Field(default=1000, gt=0, description="Default number of Monte Carlo paths.")
    seed: int = Field(default=0, ge=0, description="Default seed (any non-negative integer).")
    max_cascade_rounds: int = Field(
        default=20, gt=0, le=1000, description="Cap on liquidation → sale → oracle rounds within one step."
    )
    cohorts: bool = Field(
        default=False,
        description="Merge accounts with one collateral and one debt whose health factors fall in the same bin.",
    )
    cohort_bin: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = Field(
        default=0.0025, description="Relative width of a cohort's health-factor bin."
    )
    record: list[str] = Field(
        default_factory=lambda: ["price", "bad_debt", "liquidated"],
        description="Time series to record (path quantiles per step): "
        + ", ".join(RECORDABLE)
        + ", and a protocol's own series as '<protocol>.<series>' ('<protocol>.*' for all of them).",
    )

    @field_validator("record")
    @classmethod
    def _known_series(cls, v: list[str]) -> list[str]:
        for name in v:
            protocol, dot, series = name.partition(".")
            if dot and protocol and series:
                continue  # a protocol's own series, "<protocol>.<series>" or "<protocol>.*": checked by the loader
            if name not in RECORDABLE:
                hint = difflib.get_close_matches(name, RECORDABLE, n=1, cutoff=0.5)
                raise ValueError(
                    f"unknown series {name!r}"
                    + (f" (did you mean {hint[0]!r}?)" if hint else "")
                    + f"; recordable: {', '.join(RECORDABLE)}"
                )
        return v

    @field_validator("dt")
    @classmethod
    def _at_least_a_block(cls, v: float) -> float:
        if v < 12:
            raise ValueError("must be at least one block (12 s)")
        return v


class AssetSpec(_Spec):
    """A token. Either primary (its price follows the market model) or derived from another asset."""

    name: Name
    price: Positive = Field(description="Price in USD at the start.")
    decimals: int = Field(
        default=18, ge=0, le=36, description="Refused: amounts are token units, so decimals never act."
    )
    derived_from: Name | None = Field(
        default=None,
        description="Receipt, liquid-staking or wrapped asset whose exogenous price moves with another asset's "
        "(same relative path, from its own starting price); it can still de-peg through its own venues.",
    )
    lp_of: Name | None = Field(
        default=None,
        description="An LP token of this pool (constant_product or stableswap): priced every round as the pool's "
        "value at market prices over lp_supply, so it falls as a fire sale or LPs leaving change the pool.",
    )
    lp_supply: Positive | None = Field(
        default=None, description="LP tokens outstanding (required with lp_of)."
    )
    token_of: Name | None = Field(
        default=None,
        description="The protocol whose token this is (governance or backstop token): its price is the market's "
        "times 1 - loss_elasticity * (the protocol's bad debt its reserves do not cover) / (price * token_supply).",
    )
    token_supply: Positive | None = Field(
        default=None, description="Tokens outstanding (required with token_of)."
    )
    loss_elasticity: NonNegative | None = Field(
        default=None,
        description="Fall of the token's market value per dollar of uncovered loss (with token_of; default 1: the "
        "holders are the residual claimants, as MKR holders through Flop dilution).",
    )

    @model_validator(mode="after")
    def _inert(self) -> AssetSpec:
        if (self.lp_of is None) != (self.lp_supply is None):
            raise ValueError("'lp_of' and 'lp_supply' go together")
        if (self.token_of is None) != (self.token_supply is None):
            raise ValueError("'token_of' and 'token_supply' go together")
        if self.loss_elasticity is not None and self.token_of is None:
            raise ValueError(
                "'loss_elasticity' has no effect without 'token_of' (the protocol whose losses it prices)"
            )
        if self.token_of is not None and (self.lp_of is not None or self.derived_from is not None):
            raise ValueError("a protocol token is priced from its market and its protocol's losses: 'token_of' "
                             "cannot be given with 'lp_of' or 'derived_from'")  # fmt: skip
        if self.lp_of is not None and self.derived_from is not None:
            raise ValueError(
                "an LP token is priced from its pool: 'derived_from' cannot be given with 'lp_of'"
            )
        refuse(
            {k: getattr(self, k) for k in self.given("decimals")},
            "has no effect: amounts are in token units and prices in USD per token, so nothing is scaled by "
            "decimals (a concentrated pool's own 'decimals' does act); remove it",
        )
        return self


class ConstantProductSpec(_Spec):
    """A Uniswap v2-style pool (x * y = k)."""

    type: Literal["constant_product"]
    name: Name
    coins: tuple[Name, Name]
    reserves: tuple[Positive, Positive] = Field(description="Reserves of each coin in token units.")
    fee_bps: float = Field(default=30.0, ge=0, lt=10_000, allow_inf_nan=False)


class ConcentratedSpec(_Spec):
    """A Uniswap v3-style pool, from a tick snapshot (TickIdx, liquidityNet) or explicit ranges."""

    type: Literal["concentrated"]
    name: Name
    coins: tuple[Name, Name]
    snapshot: str | None = Field(
        default=None, description="Tick table (tickIdx, liquidityNet): a path or firesale-data:NAME."
    )
    snapshot_meta: str | None = Field(
        default=None, description="Pool state JSON (sqrtPriceX96, liquidity) that goes with `snapshot`."
    )
    ranges: list[tuple[int, int, Positive]] | None = Field(
        default=None, description="(tick_lower, tick_upper, liquidity) ranges when no snapshot is given."
    )
    price: Positive | None = Field(
        default=None, description="Starting price of coin 0 in coin 1 (ranges only)."
    )
    fee_bps: float = Field(default=5.0, ge=0, lt=10_000, allow_inf_nan=False)
    tick_spacing: int = Field(default=10, gt=0)
    decimals: tuple[int, int] = (18, 6)

    @model_validator(mode="after")
    def _one_source(self) -> ConcentratedSpec:
        if (self.snapshot is None) == (self.ranges is None):
            raise ValueError("exactly one of 'snapshot' and 'ranges' must be given")
        if (self.snapshot is None) != (self.snapshot_meta is None):
            raise ValueError("'snapshot' and 'snapshot_meta' go together")
        if self.ranges is not None and self.price is None:
            raise ValueError("'price' is required with 'ranges'")
        return self


class StableSwapSpec(_Spec):
    """A Curve StableSwap pool of 2 to 4 coins."""

    type: Literal["stableswap"]
    name: Name
    coins: list[Name] = Field(min_length=2, max_length=4)
    balances: list[Positive] = Field(min_length=2, max_length=4, description="Balances in token units.")
    A: Positive = Field(description="Amplification coefficient as users quote it (not A * A_PRECISION).")
    fee_bps: float = Field(default=4.0, ge=0, lt=10_000, allow_inf_nan=False)

    @model_validator(mode="after")
    def _same_length(self) -> StableSwapSpec:
        if len(self.coins) != len(self.balances):
            raise ValueError(
                f"'coins' and 'balances' must have the same length ({len(self.coins)} vs {len(self.balances)})"
            )
        return self


class OrderBookSpec(_Spec):
    """An off-chain market for one asset against USD: an impact curve with permanent and temporary parts.

    Selling notional ``q`` USD moves the log price by ``depth_move * (q / depth_usd) ** exponent``; a fraction
    ``permanent`` of that stays (it moves the asset's market price, which oracles read) and the rest decays with
    ``half_life``.
    """

    type: Literal["orderbook"]
    name: Name
    asset: Name
    depth_usd: Positive = Field(description="Notional that moves the price by `depth_move`.")
    depth_move: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 0.01
    impact: Literal["linear", "sqrt"] = "sqrt"
    permanent: Fraction = 0.5
    half_life: Positive = Field(
        default=1800.0, description="Decay half-life of the temporary impact, seconds."
    )


VenueSpec = Annotated[
    ConstantProductSpec | ConcentratedSpec | StableSwapSpec | CryptoSwapSpec | OrderBookSpec,
    Field(discriminator="type"),
]


class FaultSpec(_Spec):
    """An injected oracle fault over [start, end) seconds: stale (no updates), or a wrong value (price * factor)."""

    kind: Literal["stale", "wrong"]
    start: NonNegative
    end: Positive
    factor: Positive = Field(default=1.0, description="Multiplier of a wrong fault's answer (not for stale).")

    @model_validator(mode="after")
    def _ordered(self) -> FaultSpec:
        if self.end <= self.start:
            raise ValueError(f"'end' must be after 'start' ({self.end} <= {self.start})")
        if self.kind == "stale":
            refuse(
                {k: getattr(self, k) for k in self.given("factor")},
                "has no effect on a stale fault (the answer freezes; 'factor' scales a kind = \"wrong\" fault); "
                "remove it",
            )
        return self


class OracleSpec(_Spec):
    """How a protocol learns an asset's price.

    ``push``: Chainlink-style, updates when the source deviates by ``deviation_bps`` or ``heartbeat`` elapsed.
    ``delayed``: Maker OSM-style, reports the source as it was one ``delay`` (hop) earlier, updated every hop.
    ``twap``: time-weighted average of a pool's price over ``window`` seconds.
    ``median``: median of other oracles (``sources``).
    ``market``: the asset's current market price, instantly (an idealised oracle).
    """

    name: Name
    asset: Name
    type: Literal["push", "delayed", "twap", "median", "market"]
    heartbeat: Positive = 3600.0
    deviation_bps: NonNegative = 50.0
    delay: Positive = 3600.0
    window: Positive = 1800.0
    venue: Name | None = Field(
        default=None, description="Pool read by a twap oracle (priced against its other coin)."
    )
    reference_asset: Name | None = Field(
        default=None,
        description="Read this asset's market price times the starting price ratio instead of the asset's own: an "
        "exchange-rate oracle, as Aave prices wstETH and weETH (ETH/USD times the token's rate, CAPO adapters).",
    )
    sources: list[Name] = Field(default_factory=list, description="Oracles combined by a median oracle.")
    min_answer: NonNegative | None = Field(
        default=None, description="Aggregator floor: reports never go below it."
    )
    max_answer: Positive | None = Field(default=None, description="Aggregator ceiling or price cap.")
    faults: list[FaultSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _type_needs(self) -> OracleSpec:
        if self.type == "twap" and self.venue is None:
            raise ValueError("a twap oracle needs 'venue'")
        if self.type == "median" and len(self.sources) < 2:
            raise ValueError("a median oracle needs at least 2 'sources'")
        if self.min_answer is not None and self.max_answer is not None and self.min_answer >= self.max_answer:
            raise ValueError(
                f"'min_answer' must be below 'max_answer' ({self.min_answer} >= {self.max_answer})"
            )
        uses = _ORACLE_KEYS[self.type]
        unused = [k for k in _ORACLE_KIND_KEYS if k not in uses]
        if self.type in ("twap", "median"):
            unused.append("reference_asset")  # a twap reads its pool, a median its sources
        reads = " and ".join(repr(k) for k in uses) if uses else "only its source's current price"
        refuse(
            {k: getattr(self, k) for k in self.given(*unused)},
            f"has no effect on a {self.type} oracle (it reads {reads}); remove it",
        )
        return self


#: Keys each oracle kind reads (min_answer, max_answer and faults apply to every kind; reference_asset to all but
#: twap and median).
_ORACLE_KEYS: dict[str, tuple[str, ...]] = {
    "push": ("heartbeat", "deviation_bps"),
    "delayed": ("delay",),
    "twap": ("window", "venue"),
    "median": ("sources",),
    "market": (),
}
_ORACLE_KIND_KEYS = ("heartbeat", "deviation_bps", "delay", "window", "venue", "sources")


class ReserveSpec(_Spec):
    """One asset's risk parameters in a lending market (Aave v3 ReserveConfiguration / Compound market)."""

    ltv: Fraction = Field(
        description="Maximum loan-to-value for new borrows: sets each account's borrowing power "
        "(firesale.analysis.health_factors)."
    )
    liquidation_threshold: Fraction
    liquidation_bonus: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = Field(
        description="Bonus on seized collateral, as a fraction (Aave's 10500 bps is 0.05)."
    )
    liquidation_protocol_fee: Fraction = Field(
        default=0.0,
        description="Aave only: the protocol's share of the liquidation bonus (ReserveConfiguration "
        "liquidationProtocolFee, 0.10 is 10 %).",
    )
    seize_share: Fraction | None = Field(
        default=None,
        description="compound_v2 only: the protocol's share of all seized collateral (CToken "
        "protocolSeizeShareMantissa, 0.028); default 0.",
    )
    oracle: Name
    venues: list[Name] = Field(
        default_factory=list,
        description="Where liquidators sell this asset when seized; may be empty only for an asset no account "
        "posts as collateral.",
    )
    receipt_token: Name | None = Field(
        default=None,
        description="The asset suppliers of this reserve hold (aToken, cToken): its price is this asset's market "
        "price less the suppliers' share of uncovered bad debt, so other protocols that take it as collateral "
        "feel this one's losses. Declare it in [[assets]] (price = the underlying's).",
    )
    total_supply: Positive | None = Field(
        default=None,
        description="Amount supplied to this reserve, token units (required with receipt_token): the base the "
        "receipt token's loss is shared over, and the supply [agents.lenders] withdraw from (utilisation = "
        "borrows / supply).",
    )
    supply_cap: NonNegative | None = Field(
        default=None,
        description="Largest supply, token units (0: no cap, as Aave's supplyCap): binds on borrowers' top-ups "
        "([agents.borrowers] with action = 'top_up'), loops (loop = true) and lenders who supply for the rate "
        "([agents.lenders] supply_elasticity); refused otherwise; needs total_supply.",
    )
    borrow_cap: NonNegative | None = Field(
        default=None,
        description="Largest total debt, token units (0: no cap, as Aave's borrowCap): binds on borrowers' new "
        "borrows ([agents.borrowers] with borrow_above_health_factor; refused otherwise).",
    )
    # Interest rates (Aave v3 DefaultReserveInterestRateStrategyV2; firesale.mechanics.aave_rates): read only by
    # lenders who supply for the rate ([agents.lenders] supply_elasticity), refused otherwise (firesale.agents.lenders).
    optimal_usage_ratio: Annotated[float, Field(ge=0.01, le=0.99, allow_inf_nan=False)] | None = Field(
        default=None,
        description="Aave optimalUsageRatio: the kink of the borrow-rate curve, in [0.01, 0.99] as the strategy's "
        "MIN/MAX_OPTIMAL_POINT; with the base rate and the two slopes, the reserve's supply rate.",
    )
    base_variable_borrow_rate: NonNegative | None = Field(
        default=None,
        description="Aave baseVariableBorrowRate: the borrow rate at zero usage, per year (0.01 is 1 %).",
    )
    variable_rate_slope1: NonNegative | None = Field(
        default=None,
        description="Aave variableRateSlope1: the rate added from zero to optimal usage, per year.",
    )
    variable_rate_slope2: NonNegative | None = Field(
        default=None,
        description="Aave variableRateSlope2: the rate added from optimal to full usage, per year.",
    )
    reserve_factor: Fraction | None = Field(
        default=None,
        description="Aave reserveFactor: the treasury's share of interest (supply rate = borrow rate x usage x "
        "(1 - reserve_factor)); default 0; needs the rate parameters.",
    )
    # Aave v3 isolation mode (firesale.protocols.isolation); checked against the book by check_isolation
    debt_ceiling: Annotated[float, Field(ge=0, le=10_995_116_277.75, allow_inf_nan=False)] | None = Field(
        default=None,
        description="Aave v3 isolation mode: this reserve is an isolated asset with this debt ceiling, in dollars "
        "with 2 decimals (ReserveConfiguration debtCeiling / 100; absent: not isolated). Accounts whose only "
        "collateral it is borrow only borrowable_in_isolation reserves, and only while the isolated debt against "
        "it stays within the ceiling; binds on borrowers' new borrows ([agents.borrowers] with "
        "borrow_above_health_factor; refused otherwise).",
    )
    borrowable_in_isolation: bool | None = Field(
        default=None,
        description="Aave v3: accounts in isolation mode may borrow this reserve (default false, Aave's); needs a "
        "debt_ceiling on some reserve of the market.",
    )
    isolation_mode_total_debt: NonNegative | None = Field(
        default=None,
        description="Isolated debt against this reserve at the start, dollars with 2 decimals (the pool's "
        "isolationModeTotalDebt / 100); default: the book's debt of the accounts isolated on it. Needs "
        "debt_ceiling.",
    )

    @property
    def protocol_fee_fraction(self) -> float:
        """The protocol's liquidation share under the market's rules: ``seize_share`` of all seized collateral
        (compound_v2) if given, else ``liquidation_protocol_fee`` of the bonus (Aave); the market type decides
        which of the two the file may hold."""
        return self.seize_share if self.seize_share is not None else self.liquidation_protocol_fee

    @property
    def rate_keys(self) -> dict[str, float]:
        """The interest-rate keys given in the file (empty when the reserve has no rate curve)."""
        keys = ("optimal_usage_ratio", "base_variable_borrow_rate", "variable_rate_slope1", "variable_rate_slope2",
                "reserve_factor")  # fmt: skip
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}

    @model_validator(mode="after")
    def _rates(self) -> ReserveSpec:
        from firesale.agents.lenders import check_rate_curve

        check_rate_curve(self)
        return self

    @model_validator(mode="after")
    def _thresholds(self) -> ReserveSpec:
        if self.receipt_token is not None and self.total_supply is None:
            raise ValueError("'receipt_token' needs 'total_supply'")
        if self.liquidation_threshold >= 1:
            raise ValueError(f"liquidation_threshold must be < 1, got {self.liquidation_threshold}")
        if self.liquidation_threshold < self.ltv:
            raise ValueError(
                f"liquidation_threshold must be >= ltv, got {self.liquidation_threshold} < {self.ltv}"
            )
        if self.liquidation_threshold * (1 + self.liquidation_bonus) > 1 and self.liquidation_threshold > 0:
            raise ValueError(
                "liquidation_threshold * (1 + liquidation_bonus) must be <= 1 (Aave's validation), got "
                f"{self.liquidation_threshold * (1 + self.liquidation_bonus):.6g}"
            )
        return self


class GeneratedPositionsSpec(_Spec):
    """Positions drawn from a distribution: one collateral and one debt asset per account.

    Health factors are log-uniform in [hf_min, hf_max]; debt sizes are log-normal with median ``median_debt_usd``.
    """

    n_accounts: int = Field(gt=0, le=10_000_000)
    collateral: Name
    debt: Name
    total_debt_usd: Positive
    hf_min: Positive = 1.05
    hf_max: Positive = 3.0
    debt_sigma: NonNegative = 1.0
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _range(self) -> GeneratedPositionsSpec:
        if self.hf_max < self.hf_min:
            raise ValueError(f"'hf_max' must be >= 'hf_min' ({self.hf_max} < {self.hf_min})")
        return self


class EModeSpec(_Spec):
    """An Aave v3 efficiency-mode category: accounts in it use its threshold and bonus for its collateral assets.

    (Aave v3.2+ ``DataTypes.EModeCategory``: collateral bitmap, ltv, liquidationThreshold, liquidationBonus.)
    """

    label: str = Field(
        default="", max_length=64, description="Display name (Aave's category label); default 'e-mode N'."
    )
    ltv: Fraction = Field(description="The category's loan-to-value: its accounts' borrowing power.")
    liquidation_threshold: Fraction
    liquidation_bonus: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]
    collateral: list[Name] = Field(
        min_length=1, description="Reserves whose threshold and bonus the category sets."
    )

    @model_validator(mode="after")
    def _thresholds(self) -> EModeSpec:
        if self.liquidation_threshold >= 1:
            raise ValueError(f"liquidation_threshold must be < 1, got {self.liquidation_threshold}")
        if self.liquidation_threshold < self.ltv:
            raise ValueError(
                f"liquidation_threshold must be >= ltv, got {self.liquidation_threshold} < {self.ltv}"
            )
        if self.liquidation_threshold * (1 + self.liquidation_bonus) > 1:
            raise ValueError(
                "liquidation_threshold * (1 + liquidation_bonus) must be <= 1 (Aave's validation), got "
                f"{self.liquidation_threshold * (1 + self.liquidation_bonus):.6g}"
            )
        return self


class AccountSpec(_Spec):
    """One row of an inline position book (same columns as a positions file)."""

    account: Annotated[str, Field(min_length=1)]
    asset: Name
    collateral_amount: NonNegative = 0.0
    debt_amount: NonNegative = 0.0
    emode: int = Field(default=0, ge=0, le=255, description="E-mode category id (0: none).")


class LendingSpec(_Spec):
    """A pooled lending market (Aave v3 or Compound v2 liquidation rules).

    Positions come from exactly one of: a CSV/Parquet file (columns account, asset, collateral_amount,
    debt_amount, and optionally emode, the account's e-mode category id) referenced by a path relative to the scenario file or ``firesale-data:NAME``;
    an inline list ``accounts``; or ``generate``.
    """

    name: Name
    type: Literal["aave_v3", "aave_v3.3", "compound_v2"] = Field(
        description="Liquidation rules: aave_v3 (v3.0-v3.2: close factor 100% at or below HF "
        "close_factor_hf_threshold, protocol fee on the bonus), aave_v3.3 (v3.3+: close factor on total debt, "
        "positions under $2,000 closed in full, no dust under $1,000 left) or compound_v2 (close factor at any shortfall, seize share of all seized collateral; Aave v2's "
        "close-factor rule is the same)."
    )
    reserves: dict[Name, ReserveSpec] = Field(min_length=1)
    emode: dict[Annotated[int, Field(ge=1, le=255)], EModeSpec] = Field(
        default_factory=dict, description="E-mode categories by id."
    )
    positions: str | None = None
    accounts: list[AccountSpec] | None = None
    generate: GeneratedPositionsSpec | None = None
    close_factor: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.5
    close_factor_hf_threshold: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = Field(
        default=0.95, description="Below this health factor the whole debt may be repaid (Aave v3)."
    )
    reserve_usd: NonNegative = Field(default=0.0, description="Protocol reserves that absorb bad debt first.")

    @model_validator(mode="after")
    def _one_source(self) -> LendingSpec:
        if sum(x is not None for x in (self.positions, self.accounts, self.generate)) != 1:
            raise ValueError("exactly one of 'positions', 'accounts' and 'generate' must be given")
        return self

    @model_validator(mode="after")
    def _keys_of_the_type(self) -> LendingSpec:
        # The two protocol shares mean different things (Aave: of the bonus; Compound: of all seized collateral),
        # so each type accepts only its own name: switching a file's type cannot silently change the meaning.
        if self.type == "compound_v2":
            refuse(
                {k: getattr(self, k) for k in self.given("close_factor_hf_threshold")},
                "has no effect on compound_v2 (its close factor applies at any shortfall); remove it",
            )
            refuse(
                {
                    f"reserves.{a}.liquidation_protocol_fee": r.liquidation_protocol_fee
                    for a, r in self.reserves.items()
                    if r.given("liquidation_protocol_fee")
                },
                "is Aave's share of the liquidation bonus; compound_v2 takes a share of all seized collateral: "
                "write it as 'seize_share'",
            )
        else:
            refuse(
                {
                    f"reserves.{a}.seize_share": r.seize_share
                    for a, r in self.reserves.items()
                    if r.given("seize_share")
                },
                f"is compound_v2's share of all seized collateral; {self.type} takes a share of the liquidation "
                "bonus: write it as 'liquidation_protocol_fee'",
            )
        return self


# Every protocol type's spec, discriminated by `type`. A protocol model defines its spec beside itself (on
# firesale.scenario._types) and registers it with firesale.protocols.register_protocol; it is listed here once.
ProtocolSpec = Annotated[
    LendingSpec | MakerSpec | LiquitySpec | PerpSpec | PsmSpec | TerraMarketSpec | SynthetixSpec | LstSpec,
    Field(discriminator="type"),
]


class VenueEvaporationSpec(_Spec):
    """How the liquidity providers of one venue react (see :mod:`firesale.agents.providers`).

    The target share of starting liquidity is ``1 - min(max_withdraw, sensitivity * drawdown +
    volatility_sensitivity * max(0, daily_vol - volatility_threshold))``: drawdown of the venue's most fallen coin
    from its running peak, realised daily volatility of its most volatile coin. Withdrawals are immediate, returns
    have a half-life.
    """

    sensitivity: NonNegative = Field(default=0.0, description="Share withdrawn per unit of drawdown.")
    max_withdraw: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = Field(
        default=0.8, description="Largest share ever withdrawn (below 1: a venue never empties completely)."
    )
    return_half_life: Positive = 6 * 3600.0
    volatility_sensitivity: NonNegative = Field(
        default=0.0, description="Share withdrawn per unit of daily volatility above volatility_threshold."
    )
    volatility_threshold: NonNegative = Field(default=0.05, description="Daily volatility LPs tolerate.")
    volatility_half_life: Positive = Field(
        default=3600.0, description="Half-life of the realised-volatility estimate, seconds."
    )


class EvaporationSpec(VenueEvaporationSpec):
    """LPs withdraw liquidity as markets fall and volatility rises, and return slowly; ``venues`` overrides any of
    these per venue (keys not given there take the values here)."""

    venues: dict[Name, dict[str, float]] = Field(
        default_factory=dict, description="Per-venue overrides, e.g. venues.univ3 = { sensitivity = 2.0 }."
    )

    @model_validator(mode="after")
    def _overrides(self) -> EvaporationSpec:
        for name, over in self.venues.items():
            unknown = set(over) - set(VenueEvaporationSpec.model_fields)
            if unknown:
                raise ValueError(
                    f"venues.{name}: unknown key(s) {sorted(unknown)}; allowed: {sorted(VenueEvaporationSpec.model_fields)}"
                )
            self.for_venue(name)  # validates the merged values
        return self

    def for_venue(self, name: str) -> VenueEvaporationSpec:
        """The parameters in force for venue ``name``."""
        base = {k: getattr(self, k) for k in VenueEvaporationSpec.model_fields}
        return VenueEvaporationSpec.model_validate({**base, **self.venues.get(name, {})})


class AttackSpec(_Spec):
    """An attacker trades into a pool to move the price a pool-read (TWAP) oracle sees, then unwinds.

    At ``start`` the attacker sells (``side = "sell"``) ``amount_usd`` worth of ``coin`` into ``venue``, or buys that
    much of it (``"buy"``), right after the step's arbitrage so the oracle reads the moved pool; after ``duration``
    seconds it trades back what it got. Its cost (USD spent less USD recovered, at market prices) is reported per
    path as ``attack_cost_usd``: fees, slippage and what arbitrageurs took in between.
    """

    venue: Name
    coin: Name
    side: Literal["sell", "buy"] = "sell"
    amount_usd: Positive
    start: NonNegative
    duration: Positive


class BlockSpaceSpec(_Spec):
    """``[agents.block_space]``: liquidators' block space from the replayed gas price distribution.

    Each step's blocks hold ``gas_limit * dt / block_time`` gas. Miners fill blocks by gas price, so a transaction
    at price ``g`` can take the gas that was mined at prices below ``g``: the step's block space at ``g`` is the
    share of its mined transactions priced below ``g`` (from the ``quantiles`` columns of ``gas_series``, piecewise
    linear in the price through (0, 0); ASSUMPTION: gas shares follow transaction shares) times the step's gas,
    over ``gas_per_liquidation`` (firesale.agents.liquidators, LiquidatorCapacity.block_slots). It replaces
    ``max_liquidations_per_step``.
    """

    gas_limit: Positive = Field(description="Block gas limit.")
    block_time: Positive = Field(description="Seconds per block.")
    quantiles: dict[str, str] = Field(
        min_length=1,
        description="Share in percent of the step's mined transactions (e.g. '30') -> column of gas_series with "
        "the gas price (gwei) below which that share was priced; increasing shares, at most 100.",
    )

    @field_validator("quantiles")
    @classmethod
    def _levels(cls, v: dict[str, str]) -> dict[str, str]:
        try:
            levels = [float(k) for k in v]
        except ValueError as exc:
            raise ValueError(f"keys must be percentages such as '30', got {list(v)}") from exc
        if any(not 0 < x <= 100 for x in levels) or levels != sorted(set(levels)):
            raise ValueError(f"keys must be increasing percentages in (0, 100], got {list(v)}")
        return v


class AgentsSpec(_Spec):
    """Liquidators and arbitrageurs, limited by capital, gas, block space and profit."""

    liquidator_capital_usd: Positive = Field(default=1e12, description="Debt liquidators can repay per step.")
    max_liquidations_per_step: int = Field(default=10_000, gt=0, description="Block space.")
    gas_per_liquidation: NonNegative = 500_000
    gas_price_gwei: NonNegative = 20.0
    gas_volatility_sensitivity: NonNegative = Field(
        default=0.0,
        description="Congestion: gas price is multiplied by exp(sensitivity * |log return of the gas asset over "
        "the step| / sqrt(dt / 1 day)).",
    )
    gas_asset: Name | None = Field(
        default=None, description="Asset paying gas (its price converts gwei to USD)."
    )
    gas_series: str | None = Field(
        default=None,
        description="Replayed gas prices in gwei (path or firesale-data), read at the replay's start time when the "
        "market is a replay with a start, else from the first row.",
    )
    gas_column: str | None = Field(
        default=None, description="Column of gas_series to use (default: the first)."
    )
    min_profit_usd: NonNegative = 0.0
    arbitrage_capital_usd: NonNegative = Field(default=1e12, description="Per venue and step.")
    evaporation: EvaporationSpec = EvaporationSpec()
    borrowers: BorrowersSpec | None = Field(
        default=None,
        description="Borrowers who top up or repay near liquidation (firesale.agents.borrowers).",
    )
    lenders: LendersSpec | None = Field(
        default=None, description="Lenders who run on a global-games cutoff (firesale.agents.lenders)."
    )
    holders: HoldersSpec | None = Field(
        default=None,
        description="Token holders outside every protocol who sell on a global-games cutoff (firesale.agents.holders).",
    )
    searchers: SearchersSpec | None = Field(
        default=None,
        description="Searchers who compete for each liquidation in a priority-fee auction (firesale.agents.searchers).",
    )
    block_space: BlockSpaceSpec | None = Field(
        default=None,
        description="Block space from the replayed gas price distribution instead of max_liquidations_per_step.",
    )

    @model_validator(mode="after")
    def _block_space(self) -> AgentsSpec:
        if self.block_space is None:
            return self
        refuse(dict.fromkeys(self.given("max_liquidations_per_step"), self.max_liquidations_per_step),
               "is not read with agents.block_space (block space comes from the gas price distribution); remove "
               "it")  # fmt: skip
        if self.gas_series is None:
            refuse(
                {"gas_series": None},
                "is required by agents.block_space (it reads the series' quantile columns)",
            )
        if self.gas_per_liquidation == 0:
            refuse({"gas_per_liquidation": 0}, "must be positive with agents.block_space")
        return self


class ScenarioSpec(_Spec):
    """A firesale scenario file."""

    name: Name
    description: str = ""
    simulation: SimulationSpec
    assets: list[AssetSpec] = Field(min_length=1)
    market: MarketSpec
    venues: list[VenueSpec] = Field(default_factory=list)
    oracles: list[OracleSpec] = Field(min_length=1)
    protocols: list[ProtocolSpec] = Field(min_length=1)
    agents: AgentsSpec = AgentsSpec()
    attacks: list[AttackSpec] = Field(default_factory=list)
    policies: list[PolicySpec] = Field(default_factory=list, description="Mitigations (firesale.policies).")
    failure_liquidity_fraction: Fraction = Field(
        default=0.2, description="Liquidity below this share of its start counts as 'liquidity near zero'."
    )
    failure_oracle_deviation: Fraction = Field(
        default=0.05, description="Oracle off the market by more than this counts as 'oracle failed'."
    )
