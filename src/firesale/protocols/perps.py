"""A perpetual-futures venue as a protocol model: margin tiers, funding, liquidation, insurance fund, LP vault, ADL.

:class:`PerpVenue` holds one venue's traders and markets as arrays with the path axis first: positions
``size`` (n_paths, n_traders, n_markets) at static entry prices, each trader's cross collateral ``cash``
(n_paths, n_traders) and isolated margins ``iso`` (n_paths, n_traders, n_markets), the insurance fund, the
backstop vault's cash, positions and cost basis, each market's premium index and last funding rate, and the cash
ledgers that make conservation checkable. Every rule (mark price, funding, tiered maintenance margin, book fills
with square-root impact, partial liquidation, fee to the insurance fund, vault takeover at the bankruptcy price, the
insurance fund pro rata, ADL by the ``binance``/``dydx``/``pro_rata``/``none`` rule, socialised loss) is the one of
:mod:`firesale.mechanics.perps`, which documents them with the venues' sources; this module vectorizes it and is
tested equal to it to 1e-9 on random books.

Contract mapping
----------------
Assets are the markets' index assets (the oracle read through ``inputs.oracle`` is each market's index price) and
the settlement stablecoin, last (priced at 1 USD by the venue). The venue liquidates by itself, against its own
book, so it spends none of the engine's liquidator capacity (``spent_usd`` is zero). Its flows are hedges: when
the vault takes over a position and ``vault.spot_hedge_ratio > 0`` it hedges that share of it on spot, emitted as
``Flows.sell`` (it took a long) or ``Flows.buy`` (it took a short) of the index asset, so the engine moves the
shared spot venues listed in ``markets.*.venues``. The hedge is a price-impact channel only: the model books no
spot inventory, so ``check_conservation`` ignores the engine's token totals. ``n_actions`` counts liquidated
accounts (a cross account or an isolated position), ``n_unserved`` those whose orders the book could not take and
no vault did.

Per-path end-of-run figures (:meth:`PerpVenue.metrics`, listed in ``PerpVenue.METRICS``): whether the insurance
fund ran out, what it paid, ADL notional and transfers, socialised loss, the vault's drawdown and PnL, and what
withdrawing traders took; :mod:`firesale.analysis.perp_tails` turns them into probabilities and means with standard
errors, :mod:`firesale.analysis.perp_manipulation` into an attack's cost, profit and the venue's loss.

Issued tokens: the vault share (``vault.token``), worth vault equity per share (shares are the vault's starting
capital at 1 USD a share), valued at the index assets' market prices; and tokenised accounts (``traders.*.token``,
``token_supply``: a position or account-equity token the venue issues), worth the account's non-negative equity at
market less its share of the venue's uncovered loss, per unit (:meth:`PerpVenue.token_prices`). A lending market
may take either as collateral: the venue's loss reaches it through the token's price.

Kernels: ``kernel="numba"`` (the default, the engine's ``kernel`` option) runs the liquidation screen, the equities
the ADL ranking reads and the greedy ADL fill in the fused kernels of :mod:`firesale.protocols._perp_kernels`,
which skip the traders and paths a bound proves cannot be below maintenance; ``kernel="numpy"`` is the vectorized
reference. The two are bit-identical (``tests/unit/protocols/test_perp_kernels.py``); the rest of the round (book
fills, fees, the vault, the fund, ADL transfers) is NumPy on the liquidated paths and traders only.

Random streams: the premium shocks and the ``dydx`` rule's order are counter-based uniforms of a per-path key
(:func:`firesale.protocols._cdp.uniforms`), keyed by funding count and market, or round and market and trader, so
results do not depend on batch layout.

Calibration: :func:`fit_premium_process` recovers the premium index's AR(1) from a venue's funding history.

References
----------
The venues' documents are cited rule by rule in :mod:`firesale.mechanics.perps` (Binance margin tiers, mark price,
funding and ADL; BitMEX's ADL ranking; Hyperliquid's liquidations, liquidator vault and ADL; dYdX's contract loss
mechanisms, v3 and v4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from firesale.exceptions import ParameterError, ScenarioError
from firesale.mechanics import perps as ref
from firesale.protocols import _perp_kernels as _kernels
from firesale.protocols._cdp import model_key, spec_error, uniforms
from firesale.protocols.base import (
    Accounts,
    Flows,
    IssuedToken,
    ProtocolModel,
    ProtocolState,
    RoundInputs,
    register_protocol,
)
from firesale.scenario._types import Finite, Fraction, Name, NonNegative, Positive, SpecModel

__all__ = [
    "MarketSpec",
    "PerpGenerateSpec",
    "PerpPositionSpec",
    "PerpSpec",
    "PerpState",
    "PerpTraderSpec",
    "PerpVaultSpec",
    "PerpVenue",
    "PremiumFit",
    "PremiumSpec",
    "TierSpec",
    "fit_premium_process",
    "generate_book",
    "normals",
]


# --- specs --------------------------------------------------------------------------------------------------------


class TierSpec(SpecModel):
    """One margin tier (Binance's "Leverage and Margin" table): from ``notional_floor_usd`` up."""

    notional_floor_usd: NonNegative
    max_leverage: float = Field(
        ge=1.0, allow_inf_nan=False, description="Initial margin is 1 / max_leverage."
    )
    maintenance_margin_rate: Fraction


class PremiumSpec(SpecModel):
    """The premium index's AR(1) per funding interval (fit with :func:`fit_premium_process`)."""

    mean: Finite = 0.0
    ar: float = Field(default=0.0, ge=-1.0, le=1.0, allow_inf_nan=False)
    vol: NonNegative = 0.0
    initial: Finite = 0.0


class MarketSpec(SpecModel):
    """A perp market on ``index`` whose index price is oracle ``oracle``."""

    index: Name
    oracle: Name
    tiers: list[TierSpec] = Field(min_length=1)
    book_depth_usd: Positive = Field(description="Notional the book absorbs per side and step.")
    impact: NonNegative = Field(default=0.0, description="Marginal slippage at full depth (0.01 = 1 %).")
    book_overflow: Literal["wait", "impact"] = Field(
        default="wait", description="Orders past book_depth_usd in a step: wait (or go to the vault), or fill with "
        "the square-root impact continuing past the depth.",
    )  # fmt: skip
    interest_rate: Finite = Field(
        default=0.0001, description="Per funding interval (Binance: 0.01 % per 8 h)."
    )
    clamp: NonNegative = Field(default=0.0005, description="Clamp of interest - premium (Binance: 0.05 %).")
    funding_cap: Positive = Field(default=0.01, description="Cap on the funding rate per interval.")
    premium: PremiumSpec = PremiumSpec()
    oi_cap_usd: Positive | None = Field(default=None, description="Open-interest cap per side at entry, USD.")
    venues: list[Name] = Field(default_factory=list, description="Spot venues the vault's hedges trade on.")
    index_growth_limit: Positive | None = Field(
        default=None, description="Largest relative move of the venue's index per second (Mango v4's stable price "
        "growth limit, 0.0003); none: the oracle as is.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _tiers(self) -> MarketSpec:
        if self.tiers[0].notional_floor_usd != 0.0:
            raise spec_error("MarketSpec", ("tiers", 0, "notional_floor_usd"), "first_floor",
                             "the first tier must start at 0", self.tiers[0].notional_floor_usd)  # fmt: skip
        for k, t in enumerate(self.tiers):
            if k and t.notional_floor_usd <= self.tiers[k - 1].notional_floor_usd:
                raise spec_error("MarketSpec", ("tiers", k, "notional_floor_usd"), "increasing",
                                 "tier floors must increase", t.notional_floor_usd)  # fmt: skip
            if t.maintenance_margin_rate >= 1.0 / t.max_leverage:
                raise spec_error(
                    "MarketSpec", ("tiers", k, "maintenance_margin_rate"), "maintenance_above_initial",
                    f"must be below the initial margin 1/max_leverage = {1.0 / t.max_leverage:.6g}",
                    t.maintenance_margin_rate,
                )  # fmt: skip
        return self


class PerpPositionSpec(SpecModel):
    """A position: signed ``size`` (base units, long > 0) at ``entry_price``; isolated when it has its own margin."""

    market: Name
    size: Finite
    entry_price: Positive
    isolated_margin_usd: NonNegative | None = None


class PerpTraderSpec(SpecModel):
    """A trader (or a cohort merged): cross collateral and positions, at most one per market."""

    collateral_usd: Finite = 0.0
    positions: list[PerpPositionSpec] = Field(default_factory=list)
    withdraws_profit: bool = Field(
        default=False, description="Takes out cross equity above initial margin every round (Mango v3's borrows "
        "against unrealised profit).",
    )  # fmt: skip
    token: Name | None = Field(
        default=None, description="A token the venue issues on this account (a tokenised position): priced by "
        "token_prices from the account's equity, so another protocol may take it as collateral.",
    )  # fmt: skip
    token_supply: Positive | None = Field(default=None, description="Units of token; required with it.")


class PerpGenerateSpec(SpecModel):
    """A generated book of ``n_traders`` traders (added after ``traders``), for Monte Carlo scenarios.

    Trader ``i`` holds a position in each of ``markets`` (default all) with probability ``participation``: long with
    probability ``long_share``, of lognormal notional (median ``median_notional_usd``, log-sd ``notional_sigma``)
    at the index asset's starting price, at an entry price ``price0 exp(entry_dispersion z)`` (positions opened
    at different times; a wide dispersion starts some below maintenance), isolated with probability
    ``isolated_share``. Its leverage is uniform on ``[leverage_min, leverage_max]``, lowered to each position's
    tier maximum (a venue refuses more); its margin, cross collateral or isolated margin, is
    ``notional / leverage`` at entry.
    """

    n_traders: int = Field(ge=1, le=1_000_000)
    markets: list[Name] | None = None
    participation: float = Field(default=1.0, gt=0.0, le=1.0)
    median_notional_usd: Positive
    notional_sigma: NonNegative = 1.0
    leverage_min: float = Field(ge=1.0, allow_inf_nan=False)
    leverage_max: float = Field(ge=1.0, allow_inf_nan=False)
    long_share: Fraction = 0.5
    isolated_share: Fraction = 0.0
    entry_dispersion: NonNegative = 0.0
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _range(self) -> PerpGenerateSpec:
        if self.leverage_max < self.leverage_min:
            raise spec_error("PerpGenerateSpec", ("leverage_max",), "leverage_range",
                             f"must be at least leverage_min = {self.leverage_min:g}", self.leverage_max)  # fmt: skip
        return self


class PerpVaultSpec(SpecModel):
    """The backstop LP vault (HLP/GLP style)."""

    enabled: bool = True
    capital_usd: NonNegative = 0.0
    token: Name | None = Field(default=None, description="Name of its share token (priced by token_prices).")
    spot_hedge_ratio: Fraction = 0.0


class PerpSpec(SpecModel):
    """A perpetual-futures venue. Scenario ``type = "perp"``."""

    name: Name
    type: Literal["perp"]
    settlement: Name = "USDC"
    settlement_oracle: Name | None = None
    markets: dict[Name, MarketSpec] = Field(min_length=1)
    traders: list[PerpTraderSpec] = Field(default_factory=list)
    generate: PerpGenerateSpec | None = None
    insurance_fund_usd: NonNegative = 0.0
    adl_rule: Literal["binance", "dydx", "pro_rata", "none"] = "binance"
    liquidation_fee_rate: Fraction = 0.0
    partial_threshold_usd: Positive | None = Field(default=None, description="Hyperliquid: 100,000 USDC.")
    partial_fraction: float = Field(
        default=1.0, gt=0.0, le=1.0, description="Share closed per step when partial."
    )
    funding_interval_s: Positive = 28_800.0
    vault: PerpVaultSpec = PerpVaultSpec()
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _book(self) -> PerpSpec:
        seen: dict[str, str] = {}
        for name, mk in self.markets.items():
            if mk.index in seen:
                raise spec_error("PerpSpec", ("markets", name, "index"), "index_conflict",
                                 f"already the index of market {seen[mk.index]!r}", mk.index)  # fmt: skip
            seen[mk.index] = name
            if mk.index == self.settlement:
                raise spec_error("PerpSpec", ("markets", name, "index"), "bad_index",
                                 "must not be the settlement asset", mk.index)  # fmt: skip
        for j, name in enumerate((self.generate.markets or []) if self.generate else []):
            if name not in self.markets:
                raise spec_error("PerpSpec", ("generate", "markets", j), "unknown_market",
                                 f"must be one of {sorted(self.markets)}", name)  # fmt: skip
        tokens: dict[str, str] = {self.vault.token: "vault.token"} if self.vault.token else {}
        for i, t in enumerate(self.traders):
            if (t.token is None) != (t.token_supply is None):
                missing = "token_supply" if t.token is not None else "token"
                raise spec_error("PerpSpec", ("traders", i, missing), "token_and_supply",
                                 "token and token_supply go together", None)  # fmt: skip
            if t.token is None:
                continue
            taken = tokens.get(t.token) or (
                "an asset of the venue" if t.token in {self.settlement, *(m.index for m in self.markets.values())}
                else None
            )  # fmt: skip
            if taken:
                raise spec_error("PerpSpec", ("traders", i, "token"), "token_conflict",
                                 f"already {taken}", t.token)  # fmt: skip
            tokens[t.token] = f"the token of traders[{i}]"
        oi: dict[tuple[str, bool], float] = {}
        for i, t in enumerate(self.traders):
            if t.withdraws_profit and all(p.isolated_margin_usd is not None for p in t.positions):
                raise spec_error("PerpSpec", ("traders", i, "withdraws_profit"), "no_cross_position",
                                 "needs a cross position (only cross equity is withdrawn)", True)  # fmt: skip
            held: set[str] = set()
            for j, p in enumerate(t.positions):
                if p.market not in self.markets:
                    raise spec_error("PerpSpec", ("traders", i, "positions", j, "market"), "unknown_market",
                                     f"must be one of {sorted(self.markets)}", p.market)  # fmt: skip
                if p.market in held:
                    raise spec_error("PerpSpec", ("traders", i, "positions", j, "market"), "duplicate_market",
                                     "at most one position per market", p.market)  # fmt: skip
                held.add(p.market)
                key = (p.market, p.size > 0)
                oi[key] = oi.get(key, 0.0) + abs(p.size) * p.entry_price
        for (market, long), usd in oi.items():
            cap = self.markets[market].oi_cap_usd
            if cap is not None and usd > cap * (1 + 1e-12):
                raise spec_error("PerpSpec", ("markets", market, "oi_cap_usd"), "oi_cap_exceeded",
                                 f"must cover the {'long' if long else 'short'} open interest {usd:.6g}", cap)  # fmt: skip
        return self


def generate_book(spec: PerpSpec, price0: np.ndarray) -> tuple[np.ndarray, ...]:
    """The book of ``spec.generate`` (:class:`PerpGenerateSpec`) at starting index prices ``price0`` (one per market,
    in ``spec.markets`` order): ``cash`` (n,), and ``size``, ``entry``, ``iso_margin``, ``isolated`` (n, n_markets)."""
    g = spec.generate
    assert g is not None
    names = list(spec.markets)
    n, n_m = g.n_traders, len(names)
    rng = np.random.default_rng(g.seed)
    held = rng.random((n, n_m)) < g.participation
    if g.markets is not None:
        held &= np.isin(names, g.markets)[None, :]
    notional = g.median_notional_usd * np.exp(g.notional_sigma * rng.standard_normal((n, n_m)))
    side = np.where(rng.random((n, n_m)) < g.long_share, 1.0, -1.0)
    entry = price0[None, :] * np.exp(g.entry_dispersion * rng.standard_normal((n, n_m)))
    isolated = (rng.random((n, n_m)) < g.isolated_share) & held
    leverage = rng.uniform(g.leverage_min, g.leverage_max, n)
    lev = np.empty((n, n_m))
    for m, name in enumerate(names):  # the tier's maximum at each notional (a few tiers per market)
        cap = np.full(n, np.inf)
        for t in spec.markets[name].tiers:
            cap = np.where(notional[:, m] >= t.notional_floor_usd, t.max_leverage, cap)
        lev[:, m] = np.minimum(leverage, cap)
    margin = np.where(held, notional / lev, 0.0)
    size = np.where(held, side * notional / entry, 0.0)
    cash = np.where(isolated, 0.0, margin).sum(axis=1)
    iso = np.where(isolated, margin, 0.0)
    return cash, size, np.where(held, entry, 1.0), iso, isolated


# --- calibration --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PremiumFit:
    """The premium index's AR(1) per interval, recovered from funding rates (:func:`fit_premium_process`)."""

    mean: float
    ar: float
    vol: float
    share_at_interest: float
    n: int


def fit_premium_process(rates: np.ndarray, interest: float = 0.0001, clamp: float = 0.0005) -> PremiumFit:
    """Fit the premium index's AR(1) to a funding-rate history under ``F = P + clamp(I - P, -c, c)``.

    Parameters
    ----------
    rates : ndarray of shape (n,)
        Funding rates per interval, oldest first.
    interest, clamp : float
        The venue's interest rate and clamp per interval.

    Returns
    -------
    PremiumFit
        OLS fit of ``P_{t+1} = mean + ar (P_t - mean) + vol z`` and the share of intervals at the interest rate.

    Notes
    -----
    Where ``F != I`` the rule inverts exactly, :math:`P = F + c\\,\\mathrm{sign}(F - I)`; where ``F == I`` the
    premium is only known to lie within ``c`` of ``I`` and is imputed at ``I`` (which understates the volatility
    inside the band; the band is where funding does not move, so the funding it implies is exact).
    """
    f = np.asarray(rates, dtype=float)
    if f.ndim != 1 or f.size < 3 or not np.isfinite(f).all():
        raise ParameterError("The 'rates' parameter of fit_premium_process must be a finite 1-d array of at least "
                             f"3 rates. Got shape {f.shape} instead.")  # fmt: skip
    at = np.abs(f - interest) <= 1e-12
    p = np.where(at, interest, f + clamp * np.sign(f - interest))
    x, y = p[:-1], p[1:]
    xm, ym = x.mean(), y.mean()
    var = ((x - xm) ** 2).sum()
    ar = float(((x - xm) * (y - ym)).sum() / var) if var > 0 else 0.0
    c0 = ym - ar * xm
    mean = float(c0 / (1.0 - ar)) if abs(1.0 - ar) > 1e-12 else float(p.mean())
    resid = y - (c0 + ar * x)
    vol = float(np.sqrt((resid**2).sum() / max(len(y) - 2, 1)))
    return PremiumFit(mean=mean, ar=ar, vol=vol, share_at_interest=float(at.mean()), n=int(f.size))


# --- the model ----------------------------------------------------------------------------------------------------


@dataclass
class PerpState(ProtocolState):
    """Per-path state, every array in ``arrays`` (path axis first); see the module docstring."""

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    @property
    def n_paths(self) -> int:
        return int(self.arrays["cash"].shape[0])


_LEDGERS = ("insurance", "vault_cash", "realised", "slippage", "funding_in", "socialised", "fees", "adl_notional",
            "adl_transfer", "next_funding", "last_time", "insurance_paid", "exhausted", "vault_peak",
            "vault_mdd", "withdrawn", "band_dt", "band_time", "backstop_in")  # fmt: skip
_COUNTS = ("n_funding", "n_rounds", "n_liquidated", "unserved_now")
_PER_MARKET = ("vault_pos", "vault_cost", "premium", "basis", "f_last", "vault_taken", "band_ref",
               "band_last", "mm_scale")  # fmt: skip
_ROUND_KEYS = ("cash", "size", "iso", "used", "insurance", "vault_cash", "vault_pos", "vault_cost", "vault_taken",
               "realised", "slippage", "socialised", "fees", "adl_notional", "adl_transfer", "path_key", "n_rounds",
               "unserved_now", "insurance_paid", "exhausted")  # fmt: skip


#: what a screen found: rows, cols, and on them notional, cross and isolated equity, cross notional, the flags
_Found = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _cols_first(x: np.ndarray) -> np.ndarray:
    """``x`` (rows, cols, ...) laid out as ``y[:, cols]`` of a C-ordered ``y`` is: columns outermost in memory."""
    return np.ascontiguousarray(np.swapaxes(x, 0, 1)).swapaxes(0, 1)


def normals(path_key: np.ndarray, n_funding: np.ndarray, market: int) -> np.ndarray:
    """Standard normal premium shocks per path for funding ``n_funding`` of ``market`` (Box-Muller of uniforms)."""
    u1 = uniforms(path_key, n_funding, market, 0)
    u2 = uniforms(path_key, n_funding, market, 1)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


@register_protocol("firesale.protocols.perps:PerpSpec")
class PerpVenue(ProtocolModel):
    """A perpetual-futures venue; see the module docstring and :mod:`firesale.mechanics.perps`.

    Build with :meth:`build` from a :class:`PerpSpec`, or with :meth:`from_arrays` for generated books.
    """

    types = ("perp",)
    monotone_in_price = False  # a lower index liquidates longs and relieves shorts

    def __init__(
        self, name: str, params: ref.VenueParams, index_assets: tuple[str, ...], oracles: tuple[str, ...],
        settlement: str, settlement_oracle: str, venues: tuple[tuple[str, ...], ...], cash: np.ndarray,
        size: np.ndarray, entry: np.ndarray, iso_margin: np.ndarray, isolated: np.ndarray, insurance: float,
        vault_capital: float, premium0: np.ndarray, token: str | None = None, spot_hedge_ratio: float = 0.0,
        seed: int = 0, withdraws: np.ndarray | None = None, index0: np.ndarray | None = None,
        kernel: str = "numba", position_tokens: dict[str, tuple[int, float]] | None = None,
    ) -> None:  # fmt: skip
        if kernel not in ("numba", "numpy"):
            raise ParameterError(f"The 'kernel' parameter of PerpVenue must be one of ['numba', 'numpy']. "
                                 f"Got {kernel!r} instead.")  # fmt: skip
        self.name = name
        self.params = params
        self.assets = (*index_assets, settlement)
        self.oracles = (*oracles, settlement_oracle)
        self.sale_venues = (*venues, ())
        self.n_markets = len(index_assets)
        self.cash0 = np.asarray(cash, dtype=float)
        self.size0 = np.asarray(size, dtype=float)
        self.entry = np.ascontiguousarray(entry, dtype=float)
        self.iso0 = np.where(isolated, np.asarray(iso_margin, dtype=float), 0.0)
        self.isolated = np.asarray(isolated, dtype=bool)
        self.cross = ~self.isolated
        self.index0 = None if index0 is None else np.asarray(index0, dtype=float)
        n_t = self.cash0.shape[0]
        self.withdraws = np.zeros(n_t, dtype=bool) if withdraws is None else np.asarray(withdraws, dtype=bool)
        if self.withdraws.shape != (n_t,):
            raise ParameterError(f"The 'withdraws' parameter of PerpVenue must have shape ({n_t},). "
                                 f"Got {self.withdraws.shape} instead.")  # fmt: skip
        self.insurance0 = float(insurance)
        self.vault_capital = float(vault_capital)
        self.premium0 = np.asarray(premium0, dtype=float)
        self.spot_hedge_ratio = float(spot_hedge_ratio)
        self.seed = seed
        self.token = token
        #: tokenised accounts: token name -> (trader index, supply)
        self.position_tokens = dict(position_tokens or {})
        self.issued = tuple(
            IssuedToken(name=t, underlying=settlement)
            for t in ([token] if token else []) + list(self.position_tokens)
        )
        self.vault_shares = self.vault_capital if self.vault_capital > 0 else 1.0
        mk = params.markets
        n_k = max(len(m.tiers) for m in mk)
        self._floors = np.full((self.n_markets, n_k), np.inf)
        self._mmr = np.zeros((self.n_markets, n_k))
        self._imf = np.zeros((self.n_markets, n_k))
        self._amount = np.zeros((self.n_markets, n_k))
        for m, market in enumerate(mk):
            amount = 0.0
            for k, (floor, lev, mmr) in enumerate(market.tiers):
                if k:
                    amount += floor * (mmr - market.tiers[k - 1][2])
                self._floors[m, k], self._mmr[m, k], self._amount[m, k] = floor, mmr, amount
                self._imf[m, k] = 1.0 / lev
            # padding repeats the last tier (never selected: its floor is inf)
            for k in range(len(market.tiers), n_k):
                self._mmr[m, k], self._amount[m, k] = self._mmr[m, k - 1], self._amount[m, k - 1]
                self._imf[m, k] = self._imf[m, k - 1]
        growth = np.array([m.index_growth_limit for m in mk], dtype=float)
        self._limited = bool(np.isfinite(growth).any())
        self._unlimited = ~np.isfinite(growth)
        self._growth = np.where(self._unlimited, 0.0, growth)
        self._mmr_max = self._mmr.max(axis=1)
        self._depth = np.array([m.book_depth_usd for m in mk])
        self._overflow = np.array([m.overflow for m in mk], dtype=bool)
        self._impact_c = np.array([2.0 / 3.0 * m.impact / math.sqrt(m.book_depth_usd) for m in mk])
        self._initial_cash = float(self.cash0.sum() + self.iso0.sum() + self.insurance0 + self.vault_capital)
        # the fused kernels sum markets in NumPy's pairwise order, emulated up to its 128-term block
        self.kernel = kernel if self.n_markets <= 128 else "numpy"
        #: the markets' scenario names (``markets.<name>``), as policies name them; their index assets by default
        self.market_names = tuple(index_assets)

    # construction
    @classmethod
    def build(cls, spec: Any, scenario: Any, **options: Any) -> PerpVenue:
        """The model of ``spec`` (a :class:`PerpSpec`) in ``scenario``, whose oracles must price each index."""
        oracles = {o.name: o for o in scenario.spec.oracles}
        source = getattr(scenario, "source", "<scenario>")
        problems = []
        for name, mk in spec.markets.items():
            where = f"protocols.{spec.name}.markets.{name}.oracle"
            if mk.oracle not in oracles:
                problems.append(f"{source}: {where}: must name a defined oracle, got {mk.oracle!r}")
            elif oracles[mk.oracle].asset != mk.index:
                problems.append(f"{source}: {where}: oracle prices {oracles[mk.oracle].asset}, not {mk.index}, "
                                f"got {mk.oracle!r}")  # fmt: skip
        venues = {v.name for v in getattr(scenario.spec, "venues", [])}
        for name, mk in spec.markets.items():
            for v in mk.venues:
                if v not in venues:
                    problems.append(f"{source}: protocols.{spec.name}.markets.{name}.venues: must name a defined "
                                    f"venue, got {v!r}")  # fmt: skip
        assets = {a.name for a in getattr(scenario.spec, "assets", [])}
        for i, t in enumerate(spec.traders):
            if t.token is not None and t.token not in assets:
                problems.append(f"{source}: protocols.{spec.name}.traders[{i}].token: must be a scenario asset (a "
                                f"token no asset names is held by nobody), got {t.token!r}")  # fmt: skip
        if problems:
            raise ScenarioError(problems)
        names = list(spec.markets)
        n_t, n_m = len(spec.traders), len(names)
        size, entry, iso = np.zeros((n_t, n_m)), np.ones((n_t, n_m)), np.zeros((n_t, n_m))
        isolated = np.zeros((n_t, n_m), dtype=bool)
        for i, t in enumerate(spec.traders):
            for p in t.positions:
                m = names.index(p.market)
                size[i, m], entry[i, m] = p.size, p.entry_price
                if p.isolated_margin_usd is not None:
                    isolated[i, m], iso[i, m] = True, p.isolated_margin_usd
        cash = np.array([t.collateral_usd for t in spec.traders], dtype=float)
        withdraws = np.array([t.withdraws_profit for t in spec.traders], dtype=bool)
        prices = {a.name: a.price for a in getattr(scenario.spec, "assets", [])}
        index0 = None
        if all(mk.index in prices for mk in spec.markets.values()):
            index0 = np.array([prices[mk.index] for mk in spec.markets.values()])
        if spec.generate is not None:
            missing = [mk.index for mk in spec.markets.values() if mk.index not in prices]
            if missing:
                raise ScenarioError([f"{source}: protocols.{spec.name}.markets: index assets must be scenario "
                                     f"assets to generate a book, got {missing}"])  # fmt: skip
            g = generate_book(spec, np.array([prices[spec.markets[n].index] for n in names]))
            cash = np.concatenate([cash, g[0]])
            size, entry, iso, isolated = (np.concatenate([x, y]) for x, y in zip((size, entry, iso, isolated), g[1:],
                                                                                   strict=True))  # fmt: skip
            withdraws = np.concatenate([withdraws, np.zeros(spec.generate.n_traders, dtype=bool)])
            for m, name in enumerate(names):
                cap = spec.markets[name].oi_cap_usd
                for side in (size[:, m] > 0, size[:, m] < 0):
                    usd = float((np.abs(size[side, m]) * entry[side, m]).sum())
                    if cap is not None and usd > cap * (1 + 1e-12):
                        raise ScenarioError([f"{source}: protocols.{spec.name}.markets.{name}.oi_cap_usd: must cover "
                                             f"the open interest {usd:.6g} of the generated book, got {cap:g}"])  # fmt: skip
        position_tokens = {t.token: (i, float(t.token_supply)) for i, t in enumerate(spec.traders)
                           if t.token is not None and t.token_supply is not None}  # fmt: skip
        return cls.from_arrays(spec, cash, size, entry, iso, isolated, withdraws=withdraws, index0=index0,
                               kernel=options.get("kernel", "numba"), position_tokens=position_tokens)  # fmt: skip

    @classmethod
    def from_arrays(
        cls, spec: PerpSpec, cash: np.ndarray, size: np.ndarray, entry: np.ndarray, iso_margin: np.ndarray,
        isolated: np.ndarray, withdraws: np.ndarray | None = None, index0: np.ndarray | None = None,
        kernel: str = "numba", position_tokens: dict[str, tuple[int, float]] | None = None,
    ) -> PerpVenue:  # fmt: skip
        """A venue whose book comes as arrays (``spec.traders`` ignored): for generated books and benchmarks.

        Parameters
        ----------
        spec : PerpSpec
        cash : ndarray of shape (n_traders,)
            Cross collateral, USD.
        size, entry, iso_margin : ndarray of shape (n_traders, n_markets)
            Signed sizes, entry prices and isolated margins (markets in ``spec.markets`` order).
        isolated : ndarray of bool, shape (n_traders, n_markets)
        withdraws : ndarray of bool, shape (n_traders,), optional
            Traders that withdraw cross equity above initial margin every round (default none).
        index0 : ndarray of shape (n_markets,), optional
            Starting index prices: the reference of ``index_growth_limit`` at time 0 (default: none, the first
            round takes the oracle as is).
        kernel : {"numba", "numpy"}
            The fused kernels of :mod:`firesale.protocols._perp_kernels` (default), or the NumPy reference; the
            two give bit-identical results.
        position_tokens : dict of str to (int, float), optional
            Tokenised accounts: token name -> (trader row, supply), priced by :meth:`token_prices`.
        """
        mks = list(spec.markets.values())
        params = ref.VenueParams(
            markets=tuple(
                ref.MarketParams(
                    tiers=tuple((t.notional_floor_usd, t.max_leverage, t.maintenance_margin_rate) for t in m.tiers),
                    book_depth_usd=m.book_depth_usd, impact=m.impact, interest=m.interest_rate, clamp=m.clamp,
                    cap=m.funding_cap, premium_mean=m.premium.mean, premium_ar=m.premium.ar,
                    premium_vol=m.premium.vol, oi_cap_usd=m.oi_cap_usd if m.oi_cap_usd is not None else math.inf,
                    index_growth_limit=m.index_growth_limit if m.index_growth_limit is not None else math.inf,
                    overflow=m.book_overflow == "impact",
                )
                for m in mks
            ),
            fee_rate=spec.liquidation_fee_rate,
            partial_threshold_usd=spec.partial_threshold_usd if spec.partial_threshold_usd is not None else math.inf,
            partial_fraction=spec.partial_fraction, vault=spec.vault.enabled, adl_rule=spec.adl_rule,
            funding_interval=spec.funding_interval_s,
        )  # fmt: skip
        venue = cls(
            name=spec.name, params=params, index_assets=tuple(m.index for m in mks),
            oracles=tuple(m.oracle for m in mks), settlement=spec.settlement,
            settlement_oracle=spec.settlement_oracle or "", venues=tuple(tuple(m.venues) for m in mks), cash=cash,
            size=size, entry=entry, iso_margin=iso_margin, isolated=isolated, insurance=spec.insurance_fund_usd,
            vault_capital=spec.vault.capital_usd, premium0=np.array([m.premium.initial for m in mks]),
            token=spec.vault.token, spot_hedge_ratio=spec.vault.spot_hedge_ratio, seed=spec.seed,
            withdraws=withdraws, index0=index0, kernel=kernel, position_tokens=position_tokens,
        )  # fmt: skip
        venue.market_names = tuple(spec.markets)
        return venue

    # ----- the contract ---------------------------------------------------------------------------------------------
    def init_state(self, n_paths: int, rng: np.random.Generator | None = None) -> PerpState:
        """The starting book on ``n_paths`` paths; ``rng`` draws the per-path keys of the random streams."""
        if rng is None:
            ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(model_key(self.name),))
            rng = np.random.Generator(np.random.PCG64(ss))
        p, m = n_paths, self.n_markets
        a: dict[str, np.ndarray] = {
            "cash": np.tile(self.cash0, (p, 1)),
            "size": np.tile(self.size0, (p, 1, 1)),
            "iso": np.tile(self.iso0, (p, 1, 1)),
            "used": np.zeros((p, m, 2)),
            "path_key": rng.integers(0, 2**63, size=p, dtype=np.uint64),
        }
        for k in _LEDGERS:
            a[k] = np.zeros(p)
        a["insurance"][:] = self.insurance0
        a["vault_cash"][:] = self.vault_capital
        a["vault_peak"][:] = self.vault_capital
        a["next_funding"][:] = self.params.funding_interval
        a["last_time"][:] = -np.inf
        for k in _COUNTS:
            a[k] = np.zeros(p, dtype=np.int64)
        for k in _PER_MARKET:
            a[k] = np.zeros((p, m))
        a["premium"][:] = self.premium0
        a["basis"][:] = self.premium0
        a["mm_scale"][:] = 1.0  # a policy's factor on each market's maintenance margin (scale_parameter)
        a["band_ref"][:] = np.nan
        a["band_last"][:] = np.nan if self.index0 is None else self.index0
        a["band_time"][:] = np.nan if self.index0 is None else 0.0
        # the kernels' per-path bound (firesale.protocols._perp_kernels.screen): no reference yet
        a["screen_mark"] = np.zeros((p, m))
        a["screen_ratio"] = np.full((p, self.cash0.shape[0]), -np.inf)
        a["screen_lowest"] = np.full(p, -np.inf)
        a["screen_dirty"] = np.ones(p, dtype=bool)
        # trader checks the bound skipped: work saved, never a result
        a["screen_skipped"] = np.zeros(p, dtype=np.int64)
        return PerpState(arrays=a)

    def round(self, state: PerpState, inputs: RoundInputs) -> Flows:  # type: ignore[override]
        n_paths = state.n_paths
        flows = Flows.empty(self.name, n_paths, len(self.assets), reason="perp_liquidation")
        active = np.asarray(inputs.active, dtype=bool)
        if not active.any():
            return flows
        index = np.asarray(inputs.oracle, dtype=float)[:, : self.n_markets]
        rows: slice | np.ndarray
        if active.all():
            sub, rows = state.arrays, slice(None)
        else:
            rows = np.flatnonzero(active)
            sub = {k: v[rows] for k, v in state.arrays.items()}
            index = index[rows]
        before = sub["n_liquidated"].copy()
        taken = self._round(sub, np.ascontiguousarray(index), float(inputs.time))
        self._track_drawdown(sub, sub["band_last"] if self._limited else index)
        if not isinstance(rows, slice):
            for k, v in sub.items():
                state.arrays[k][rows] = v
        hedge = self.spot_hedge_ratio * taken
        flows.sell[rows, : self.n_markets] = np.maximum(hedge, 0.0)
        flows.buy[rows, : self.n_markets] = np.maximum(-hedge, 0.0)
        flows.n_actions[rows] = sub["n_liquidated"] - before
        flows.n_unserved[rows] = sub["unserved_now"]
        return flows

    @staticmethod
    def _vault_equity(a: dict[str, np.ndarray], px: np.ndarray) -> np.ndarray:
        return a["vault_cash"] + (a["vault_pos"] * px - a["vault_cost"]).sum(axis=1)

    def _track_drawdown(self, a: dict[str, np.ndarray], index: np.ndarray) -> None:
        """Running peak and largest peak-to-trough fall of the vault's equity at the index prices of each round."""
        eq = self._vault_equity(a, index)
        np.maximum(a["vault_peak"], eq, out=a["vault_peak"])
        np.maximum(a["vault_mdd"], a["vault_peak"] - eq, out=a["vault_mdd"])

    # the vectorized round (held to firesale.mechanics.perps.perp_round)
    def mark(self, a: dict[str, np.ndarray], index: np.ndarray, time: float) -> np.ndarray:
        """Mark prices (n_paths, n_markets) of state ``a`` at ``index`` and ``time``."""
        ttf = (a["next_funding"] - time)[:, None]
        p1 = index * (1.0 + a["f_last"] * (ttf / self.params.funding_interval))
        p2 = index * (1.0 + a["basis"])
        p3 = index * (1.0 + a["premium"])
        return np.maximum(np.minimum(p1, p2), np.minimum(np.maximum(p1, p2), p3))

    def maintenance(self, notional: np.ndarray) -> np.ndarray:
        """Tiered maintenance margin of notionals (..., n_markets), USD."""
        mm = notional * self._mmr[:, 0]
        for k in range(1, self._floors.shape[1]):
            mm = np.where(notional >= self._floors[:, k], notional * self._mmr[:, k] - self._amount[:, k], mm)
        return mm

    def _equities(self, a: dict[str, np.ndarray], mark: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = a["size"] * (mark[:, None, :] - self.entry)
        cross_e = a["cash"] + np.where(self.cross, u, 0.0).sum(axis=2)
        iso_e = np.where(self.isolated, a["iso"] + u, 0.0)
        return cross_e, iso_e

    def _settle_funding(self, a: dict[str, np.ndarray], index: np.ndarray, time: float) -> None:
        pm = self.params
        rate_args = [(m.interest, m.clamp, m.cap) for m in pm.markets]
        while True:
            due = time >= a["next_funding"]
            if not due.any():
                return
            d = due[:, None]
            mark = self.mark({**a, "next_funding": np.full_like(a["next_funding"], time)}, index, time)
            f = np.empty_like(mark)
            for m, (i_r, c, cap) in enumerate(rate_args):
                p = a["premium"][:, m]
                f[:, m] = np.clip(p + np.clip(i_r - p, -c, c), -cap, cap)
            pay = -a["size"] * (mark * f)[:, None, :]
            pay = np.where(due[:, None, None], pay, 0.0)
            a["iso"] += np.where(self.isolated, pay, 0.0)
            a["cash"] += np.where(self.cross, pay, 0.0).sum(axis=2)
            vpay = np.where(d, -a["vault_pos"] * mark * f, 0.0)
            a["vault_cash"] += vpay.sum(axis=1)
            a["funding_in"] += pay.sum(axis=(1, 2)) + vpay.sum(axis=1)
            for m, mk in enumerate(pm.markets):
                p = a["premium"][:, m]
                z = normals(a["path_key"], a["n_funding"], m)
                new = mk.premium_mean + mk.premium_ar * (p - mk.premium_mean) + mk.premium_vol * z
                a["basis"][:, m] = np.where(due, 0.5 * (p + new), a["basis"][:, m])
                a["premium"][:, m] = np.where(due, new, p)
                a["f_last"][:, m] = np.where(due, f[:, m], a["f_last"][:, m])
            a["next_funding"] += np.where(due, pm.funding_interval, 0.0)
            a["n_funding"] += due
            a["screen_dirty"] |= due  # cash moved: the kernels' bound must be renewed

    def _limit_index(self, a: dict[str, np.ndarray], index: np.ndarray, time: float) -> np.ndarray:
        """The rate-limited index (:func:`firesale.mechanics.perps.limited_index`); updates the band state."""
        had = ~np.isnan(a["band_last"][:, 0]) & (a["band_time"] != time)
        a["band_ref"][had] = a["band_last"][had]
        a["band_dt"][had] = time - a["band_time"][had]
        a["band_time"][:] = time
        ref = a["band_ref"]
        band = self._growth * a["band_dt"][:, None]
        free = np.isnan(ref) | self._unlimited
        lo, hi = np.where(free, index, ref * (1.0 - band)), np.where(free, index, ref * (1.0 + band))
        out = np.minimum(np.maximum(index, lo), hi)
        a["band_last"][:] = out
        return out

    def initial_margin(self, notional: np.ndarray) -> np.ndarray:
        """Initial margin (``notional / max_leverage`` of its tier) of notionals (..., n_markets), USD."""
        imf = np.broadcast_to(self._imf[:, 0], notional.shape)
        for k in range(1, self._floors.shape[1]):
            imf = np.where(notional >= self._floors[:, k], self._imf[:, k], imf)
        return notional * imf

    def _withdraw(self, a: dict[str, np.ndarray], mark: np.ndarray) -> None:
        """Withdrawing traders take out cross equity above initial margin (:func:`firesale.mechanics.perps.
        withdraw_profit`)."""
        size = a["size"]
        cell = self.cross & (size != 0.0)
        u = np.where(cell, size * (mark[:, None, :] - self.entry), 0.0)
        im = np.where(cell, self.initial_margin(np.abs(size) * mark[:, None, :]), 0.0)
        w = np.where(self.withdraws, np.maximum(a["cash"] + u.sum(axis=2) - im.sum(axis=2), 0.0), 0.0)
        a["cash"] -= w
        a["withdrawn"] += w.sum(axis=1)

    # The screen: which buckets are below maintenance, and the figures the liquidation needs on their paths
    # (rows) and traders (cols) only. Two implementations, bit-identical (tests/unit/protocols/test_perp_kernels.py).
    def _screen_numpy(self, a: dict[str, np.ndarray], mark: np.ndarray) -> _Found | None:
        """The NumPy reference: every bucket of every path, a superset screen first."""
        notional = np.abs(a["size"]) * mark[:, None, :]
        cross_e, iso_e = self._equities(a, mark)
        # a maintenance margin never exceeds notional times the market's highest rate (times a policy's factor)
        scale = a["mm_scale"][:, None, :]
        ub = notional * (self._mmr_max * scale)
        cand = (cross_e < np.where(self.cross, ub, 0.0).sum(axis=2) * (1.0 + 1e-9)).any(axis=1)
        cand |= (self.isolated & (iso_e < ub * (1.0 + 1e-9))).any(axis=(1, 2))
        if not cand.any():
            return None
        cr = np.flatnonzero(cand)
        notional, cross_e, iso_e = notional[cr], cross_e[cr], iso_e[cr]
        mm = self.maintenance(notional) * scale[cr]
        c_not = np.where(self.cross, notional, 0.0).sum(axis=2)
        c_mm = np.where(self.cross, mm, 0.0).sum(axis=2)
        liq_c = (c_not > 0.0) & (cross_e < c_mm)
        liq_i = self.isolated & (notional > 0.0) & (iso_e < mm)
        n_liq = liq_c.sum(axis=1) + liq_i.sum(axis=(1, 2))
        a["n_liquidated"][cr] += n_liq
        hit = n_liq > 0
        if not hit.any():
            return None
        liq_c, liq_i, notional, cross_e, iso_e, c_not = (x[hit] for x in (liq_c, liq_i, notional, cross_e, iso_e,
                                                                           c_not))  # fmt: skip
        cols = np.flatnonzero(liq_c.any(axis=0) | liq_i.any(axis=(0, 2)))
        return (cr[hit], cols, notional[:, cols], cross_e[:, cols], iso_e[:, cols], c_not[:, cols],
                liq_c[:, cols], liq_i[:, cols])  # fmt: skip

    def _screen_numba(self, a: dict[str, np.ndarray], mark: np.ndarray) -> _Found | None:
        """The fused kernel (exact flags; traders and paths its bound proves safe skipped), then the liquidation's
        figures recomputed on its rows and columns with the reference's own formulas."""
        n_p, n_t, n_m = a["size"].shape
        liq_c = np.zeros((n_p, n_t), dtype=bool)
        liq_i = np.zeros((n_p, n_t, n_m), dtype=bool)
        liq_t = np.zeros((n_p, n_t), dtype=bool)
        n_liq = np.empty(n_p, dtype=np.int64)
        mark, use_bound = np.ascontiguousarray(mark), not self.withdraws.any()
        work = _kernels.screen_positions(a["size"], mark, a["screen_mark"], a["screen_lowest"], a["screen_dirty"],
                                         use_bound)  # fmt: skip
        _kernels.sized(_kernels.screen, work)(
            a["size"], a["cash"], a["iso"], self.entry, self.isolated, mark, self._floors, self._mmr, self._amount,
            self._mmr_max, a["mm_scale"], a["screen_mark"], a["screen_ratio"], a["screen_lowest"],
            a["screen_dirty"], use_bound, liq_c, liq_i, liq_t, n_liq, a["screen_skipped"],
        )  # fmt: skip
        a["n_liquidated"] += n_liq
        rows = np.flatnonzero(n_liq > 0)
        if rows.size == 0:
            return None
        cols = np.flatnonzero(liq_t[rows].any(axis=0))
        mk3 = mark[rows][:, None, :]
        ix = np.ix_(rows, cols)
        size = a["size"][ix]
        notional = np.abs(size) * mk3
        u = size * (mk3 - self.entry[cols])
        cross, isolated = self.cross[cols], self.isolated[cols]
        cross_e = a["cash"][ix] + np.where(cross, u, 0.0).sum(axis=2)
        iso_e = np.where(isolated, a["iso"][ix] + u, 0.0)
        c_not = np.where(cross, notional, 0.0).sum(axis=2)
        # in the memory layout the reference's x[rows][:, cols] gives: NumPy's multi-axis sums follow the layout
        notional, cross_e, iso_e, c_not, lc, li = (
            _cols_first(x) for x in (notional, cross_e, iso_e, c_not, liq_c[ix], liq_i[ix])
        )
        return rows, cols, notional, cross_e, iso_e, c_not, lc, li

    def _equities_numba(self, a: dict[str, np.ndarray], mark: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cross_e, iso_e = np.empty(a["cash"].shape), np.empty(a["size"].shape)
        kernel = _kernels.sized(_kernels.equities, a["size"].size)
        kernel(a["size"], a["cash"], a["iso"], self.entry, self.isolated, np.ascontiguousarray(mark), cross_e,
               iso_e)  # fmt: skip
        return cross_e, iso_e

    def _equities_now(self, a: dict[str, np.ndarray], mark: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_equities` by the model's kernel (the same floats either way)."""
        return self._equities_numba(a, mark) if self.kernel == "numba" else self._equities(a, mark)

    def _round(self, a: dict[str, np.ndarray], index: np.ndarray, time: float) -> np.ndarray:
        n_p, n_t, n_m = a["size"].shape
        new_step = a["last_time"] != time
        if self._limited:
            index = self._limit_index(a, index, time)
        a["used"][new_step] = 0.0
        a["last_time"][:] = time
        self._settle_funding(a, index, time)
        a["n_rounds"] += 1
        a["unserved_now"][:] = 0
        taken = np.zeros((n_p, n_m))
        mark = self.mark(a, index, time)
        if self.withdraws.any():
            self._withdraw(a, mark)
        found = self._screen_numba(a, mark) if self.kernel == "numba" else self._screen_numpy(a, mark)
        if found is None:
            return taken
        rows, cols, notional, cross_e, iso_e, c_not, liq_c, liq_i = found
        full = rows.size == n_p
        b = {k: a[k] if full else a[k][rows] for k in _ROUND_KEYS}
        sub = {k: b[k][:, cols] for k in ("cash", "size", "iso")}
        sub.update({k: v for k, v in b.items() if k not in sub})
        mark_r = mark[rows]
        statics = (self.entry[cols], self.isolated[cols], self.cross[cols])
        tk, cell_bk, need_size, need_usd = self._liquidate(
            sub, mark_r, notional, cross_e, iso_e, c_not, liq_c, liq_i, statics
        )
        for k in ("cash", "size", "iso"):
            b[k][:, cols] = sub[k]
        if cell_bk is not None:
            bk = np.zeros(b["size"].shape, dtype=bool)
            bk[:, cols] = cell_bk
            ce, ie = self._equities_now(b, mark_r)
            socialised, touched = self._adl(b, mark_r, ce, ie, bk, need_size, need_usd)
            b["socialised"] += socialised
        if not full:
            for k, v in b.items():
                a[k][rows] = v
        if self.kernel == "numba":  # the traders whose books changed lose their bound (_perp_kernels.screen)
            ratio = a["screen_ratio"]
            ratio[np.ix_(rows, cols)] = -np.inf
            a["screen_lowest"][rows] = -np.inf
            if cell_bk is not None:
                ratio[rows] = np.where(touched, -np.inf, ratio[rows])
        taken[rows] = tk
        return taken

    def _liquidate(
        self, a: dict[str, np.ndarray], mark: np.ndarray, notional: np.ndarray, cross_e: np.ndarray,
        iso_e: np.ndarray, c_not: np.ndarray, liq_c: np.ndarray, liq_i: np.ndarray,
        statics: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray], list[np.ndarray]]:  # fmt: skip
        """Book fills, fees, vault takeovers and the insurance fund on the traders given (``statics``: their entry
        prices and isolated/cross masks); returns what the vault took and, when some bucket is bankrupt, the
        bankrupt cells and the size and USD left to deleverage per side (long, short) and market."""
        pm = self.params
        n_p, n_t, n_m = a["size"].shape
        size = a["size"]
        entry, iso_mask, cross = statics
        mk3 = mark[:, None, :]
        # orders from buckets with positive equity at mark: a partial fraction of large ones, else everything
        f_c = np.where(c_not > pm.partial_threshold_usd, pm.partial_fraction, 1.0)
        f_i = np.where(notional > pm.partial_threshold_usd, pm.partial_fraction, 1.0)
        cell_liq = np.where(iso_mask, liq_i & (iso_e > 0.0), (liq_c & (cross_e > 0.0))[:, :, None]) & (
            size != 0.0
        )
        order = np.where(cell_liq, np.where(iso_mask, f_i, f_c[:, :, None]) * notional, 0.0)
        # book fills in trader order per market and side: start = min(used + orders before, max(depth, used))
        fill = np.zeros_like(order)
        cost = np.zeros_like(order)
        for side, sel in ((0, size > 0.0), (1, size < 0.0)):
            o = np.where(sel, order, 0.0)
            used = a["used"][:, :, side]  # (n_p, n_m)
            before = np.cumsum(o, axis=1) - o
            start = np.where(
                self._overflow,
                used[:, None, :] + before,
                np.minimum(used[:, None, :] + before, np.maximum(self._depth, used)[:, None, :]),
            )
            fl = np.where(self._overflow, o, np.minimum(np.maximum(self._depth - start, 0.0), o))
            fl = np.where(sel, fl, 0.0)
            cs = np.where(sel, self._impact_c * ((start + fl) ** 1.5 - start**1.5), 0.0)
            fill += fl
            cost += cs
            a["used"][:, :, side] = used + fl.sum(axis=1)
        delta = np.sign(size) * (fill / mk3)
        pnl = delta * (mk3 - entry)
        gain = pnl - cost
        a["iso"] += np.where(iso_mask, gain, 0.0)
        a["cash"] += np.where(cross, gain, 0.0).sum(axis=2)
        left = size - delta  # a full close leaves no rounding residue (mechanics.perps.perp_round)
        size[:] = np.where(np.abs(left) <= 1e-12 * np.abs(size), 0.0, left)
        a["realised"] += pnl.sum(axis=(1, 2))
        a["slippage"] += cost.sum(axis=(1, 2))
        # fee to the insurance fund; bankrupt, taken over by the vault, or waiting
        unf = (order > 0.0) & (order - fill > 1e-12 * order)
        u = size * (mk3 - entry)
        eq_c = a["cash"] + np.where(cross, u, 0.0).sum(axis=2)
        eq_i = np.where(iso_mask, a["iso"] + u, 0.0)
        fee_c = np.where(liq_c, np.minimum(pm.fee_rate * np.where(cross, fill, 0.0).sum(axis=2),
                                           np.maximum(eq_c, 0.0)), 0.0)  # fmt: skip
        fee_i = np.where(liq_i, np.minimum(pm.fee_rate * fill, np.maximum(eq_i, 0.0)), 0.0)
        a["cash"] -= fee_c
        a["iso"] -= fee_i
        eq_c, eq_i = eq_c - fee_c, eq_i - fee_i
        fees = fee_c.sum(axis=1) + fee_i.sum(axis=(1, 2))
        a["insurance"] += fees
        a["fees"] += fees
        bk_c, bk_i = liq_c & ((eq_c < 0.0) | (cross_e <= 0.0)), liq_i & ((eq_i < 0.0) | (iso_e <= 0.0))
        unf_c = np.where(cross, unf, False).any(axis=2)
        wait_c, wait_i = liq_c & ~bk_c & unf_c, liq_i & ~bk_i & unf
        taken = np.zeros((n_p, n_m))
        if pm.vault:
            cells = np.where(iso_mask, wait_i, wait_c[:, :, None])
            s_t = np.where(cells, size, 0.0)
            taken += s_t.sum(axis=1)
            a["vault_pos"] += s_t.sum(axis=1)
            a["vault_cost"] += (s_t * entry).sum(axis=1)
            a["vault_cash"] += np.where(wait_c, a["cash"], 0.0).sum(axis=1) + np.where(
                wait_i, a["iso"], 0.0
            ).sum(axis=(1, 2))
            size[cells] = 0.0
            a["cash"][wait_c] = 0.0
            a["iso"][wait_i] = 0.0
        else:
            a["unserved_now"] += wait_c.sum(axis=1) + wait_i.sum(axis=(1, 2))
        if not (bk_c.any() or bk_i.any()):
            a["vault_taken"] += taken
            return taken, None, [], []
        # insurance fund pro rata over the round's deficits
        d_c = np.where(bk_c, -eq_c, 0.0)
        d_i = np.where(bk_i, -eq_i, 0.0)
        total = d_c.sum(axis=1) + d_i.sum(axis=(1, 2))
        paid = np.minimum(total, np.maximum(a["insurance"], 0.0))
        share = np.divide(paid, total, out=np.zeros_like(paid), where=total > 0.0)
        a["insurance"] -= paid
        a["insurance_paid"] += paid
        a["exhausted"][total > paid] = 1.0  # some deficit went past the fund
        cell_bk = np.where(iso_mask, bk_i, bk_c[:, :, None])
        rest_c = d_c - d_c * share[:, None]
        rest_i = d_i - d_i * share[:, None, None]
        notional = np.abs(size) * mk3
        b_not_c = np.where(cross, notional, 0.0).sum(axis=2)
        rest_cell = np.where(iso_mask, rest_i, rest_c[:, :, None])
        b_not = np.where(iso_mask, notional, b_not_c[:, :, None])
        live = cell_bk & (size != 0.0)
        a["realised"] += np.where(live, size * (mk3 - entry), 0.0).sum(axis=(1, 2))
        adl_cell = live & (rest_cell > 0.0)
        usd_cell = np.where(adl_cell, rest_cell * notional / np.where(b_not > 0, b_not, 1.0), 0.0)
        if pm.vault:
            s_v = np.where(live & ~adl_cell, size, 0.0)
            taken += s_v.sum(axis=1)
            a["vault_pos"] += s_v.sum(axis=1)
            a["vault_cost"] += (s_v * mk3).sum(axis=1)
        a["vault_taken"] += taken
        need_size = [np.where(adl_cell & (size > 0), np.abs(size), 0.0).sum(axis=1),
                     np.where(adl_cell & (size < 0), np.abs(size), 0.0).sum(axis=1)]  # fmt: skip
        need_usd = [
            np.where(size > 0, usd_cell, 0.0).sum(axis=1),
            np.where(size < 0, usd_cell, 0.0).sum(axis=1),
        ]
        socialised = np.where(bk_c & (b_not_c <= 0.0), rest_c, 0.0).sum(axis=1) + np.where(
            bk_i & (notional <= 0.0), rest_i, 0.0
        ).sum(axis=(1, 2))
        size[cell_bk] = 0.0
        a["cash"][bk_c] = 0.0
        a["iso"][bk_i] = 0.0
        a["socialised"] += socialised
        return taken, cell_bk, need_size, need_usd

    def _adl(
        self, a: dict[str, np.ndarray], mark: np.ndarray, cross_e: np.ndarray, iso_e: np.ndarray,
        cell_bk: np.ndarray, need_size: list[np.ndarray], need_usd: list[np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Deleverage what the fund did not cover; returns the socialised rest per path and the traders whose
        positions it closed (n_paths, n_traders)."""
        rule = self.params.adl_rule
        size, entry = a["size"], self.entry
        n_p, n_t, n_m = size.shape
        socialised = np.zeros(n_p)
        touched = np.zeros((n_p, n_t), dtype=bool)
        fused = self.kernel == "numba" and rule in ("binance", "dydx")  # _perp_kernels.adl_rank
        e_cell = None if fused else np.where(self.isolated, iso_e, cross_e[:, :, None])
        for m in range(n_m):
            for side in (0, 1):
                need, usd = need_size[side][:, m], need_usd[side][:, m]
                go = need > 0.0
                if not go.any():
                    continue
                s = size[:, :, m]
                opp = -1.0 if side == 0 else 1.0
                keys = np.zeros((0, 0))
                if rule == "dydx":
                    keys = uniforms(
                        a["path_key"][:, None], a["n_rounds"][:, None], m, np.arange(n_t)[None, :]
                    )
                if fused:  # the eligible only, ranked: bit-identical to the sort below
                    q = np.empty(s.shape)
                    _kernels.sized(_kernels.adl_rank, size.size)(
                        size, self.entry, np.ascontiguousarray(mark), cross_e, iso_e, self.isolated, cell_bk, go,
                        m, opp, rule == "dydx", np.ascontiguousarray(keys), np.ascontiguousarray(need), q,
                    )  # fmt: skip
                else:
                    assert e_cell is not None
                    q = self._adl_allocation(rule, s, m, opp, mark, e_cell[:, :, m], cell_bk[:, :, m], go, need,
                                             keys)  # fmt: skip
                q = np.where(go[:, None], q, 0.0)
                touched |= q > 0.0
                delta = np.sign(s) * q
                pnl = delta * (mark[:, m : m + 1] - entry[:, m])
                transfer = np.divide(usd[:, None] * q, need[:, None], out=np.zeros_like(q), where=go[:, None])
                iso_m = self.isolated[:, m]
                a["iso"][:, :, m] += np.where(iso_m, pnl - transfer, 0.0)
                a["cash"] += np.where(iso_m, 0.0, pnl - transfer)
                size[:, :, m] = s - delta
                a["realised"] += pnl.sum(axis=1)
                a["adl_notional"] += (q * mark[:, m : m + 1]).sum(axis=1)
                a["adl_transfer"] += transfer.sum(axis=1)
                matched = q.sum(axis=1)
                socialised += np.where(go, usd * (1.0 - np.divide(matched, need, out=np.zeros_like(need),
                                                                      where=go)), 0.0)  # fmt: skip
        return socialised, touched

    def _adl_allocation(
        self, rule: str, s: np.ndarray, m: int, opp: float, mark: np.ndarray, e: np.ndarray, bk: np.ndarray,
        go: np.ndarray, need: np.ndarray, keys: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        """The NumPy reference of one market side's ADL allocation (n_paths, n_traders): eligible offsetting
        positions ``s`` of accounts with equity ``e > 0``, not bankrupt, in profit unless the rule is ``dydx``."""
        entry = self.entry
        u = s * (mark[:, m : m + 1] - entry[:, m])
        elig = (s * opp > 0.0) & (e > 0.0) & ~bk & go[:, None]
        if rule != "dydx":
            elig &= u > 0.0
        sz = np.where(elig, np.abs(s), 0.0)
        if rule == "pro_rata":
            w = sz.sum(axis=1)
            frac = np.minimum(1.0, np.divide(need, w, out=np.zeros_like(w), where=w > 0.0))
            return sz * frac[:, None]
        if rule == "none":
            return np.zeros_like(sz)
        if rule == "dydx":
            score = keys
        else:
            denom = np.abs(s * entry[:, m])
            score = np.divide(u, denom, out=np.zeros_like(u), where=denom > 0) * (
                np.abs(s) * mark[:, m : m + 1]
            ) / np.where(e > 0, e, 1.0)  # fmt: skip
        key = np.where(elig, -score, np.inf)
        order = np.argsort(key, axis=1, kind="stable")
        srt = np.take_along_axis(sz, order, axis=1)
        before = np.cumsum(srt, axis=1) - srt
        q_srt = np.minimum(np.maximum(need[:, None] - before, 0.0), srt)
        q = np.empty_like(q_srt)
        np.put_along_axis(q, order, q_srt, axis=1)
        return q

    # ----- books --------------------------------------------------------------------------------------------------
    def _index_mark(self, market: np.ndarray) -> np.ndarray:
        return np.asarray(market, dtype=float)[:, : self.n_markets]

    def vault_equity(self, state: PerpState, market: np.ndarray) -> np.ndarray:
        """The vault's cash plus its positions' PnL at ``market`` index prices, USD (n_paths,)."""
        px = self._index_mark(market)
        return state["vault_cash"] + (state["vault_pos"] * px - state["vault_cost"]).sum(axis=1)

    def account(self, state: PerpState, market: np.ndarray, by_asset: bool = False) -> Accounts:  # type: ignore[override]
        px = self._index_mark(market)
        # the kernel: the same sums without the equities' temporaries (_perp_kernels.exposure)
        if self.kernel == "numba":
            under, owed = np.empty(state.n_paths), np.empty(state.n_paths)
            kernel = _kernels.sized(_kernels.exposure, state["size"].size)
            kernel(state["size"], state["cash"], state["iso"], self.entry, self.isolated, np.ascontiguousarray(px),
                   under, owed)  # fmt: skip
        else:
            cross_e, iso_e = self._equities(state.arrays, px)
            under = np.maximum(-cross_e, 0.0).sum(axis=1) + np.maximum(-iso_e, 0.0).sum(axis=(1, 2))
            owed = np.maximum(cross_e, 0.0).sum(axis=1) + np.maximum(iso_e, 0.0).sum(axis=(1, 2))
        held = (
            state["cash"].sum(axis=1)
            + state["iso"].sum(axis=(1, 2))
            + state["insurance"]
            + state["vault_cash"]
        )
        bad = state["socialised"] + under
        by = None
        if by_asset:
            by = np.zeros((state.n_paths, len(self.assets)))
            by[:, -1] = bad
        return Accounts(
            assets_usd=held, liabilities_usd=owed + np.maximum(self.vault_equity(state, market), 0.0),
            bad_debt_usd=bad, reserves_usd=np.maximum(state["insurance"], 0.0), bad_debt_by_asset=by,
            fees_usd=state["fees"].copy(),
        )  # fmt: skip

    def token_prices(self, state: PerpState, market: np.ndarray, accounts: Accounts) -> dict[str, np.ndarray]:  # type: ignore[override]
        """The vault share (vault equity per share) and each tokenised account: its claim on the venue per unit.

        An account's claim is its non-negative equity at the index assets' market prices (cross account plus
        isolated positions, each floored at 0: a bucket's deficit is the venue's loss, not the holder's), less its
        pro-rata share of the loss the venue cannot pay, as a receipt token's is: times
        ``max(0, 1 - uncovered / liabilities)`` with ``uncovered`` the bad debt beyond the insurance fund
        (socialised losses and deficits not yet resolved) and ``liabilities`` every account's non-negative equity
        plus the vault's (:meth:`account`). So what the loss waterfall takes reaches a lending market holding the
        token: through the account's equity when ADL closes its position at the bankruptcy price, through the
        haircut when the loss is socialised.
        """
        out: dict[str, np.ndarray] = {}
        if self.token:
            out[self.token] = np.maximum(self.vault_equity(state, market), 0.0) / self.vault_shares
        if self.position_tokens:
            rows = np.array([i for i, _ in self.position_tokens.values()])
            claim = self._claims(state, self._index_mark(market), rows)
            liab = np.asarray(accounts.liabilities_usd, dtype=float)
            safe = np.where(liab > 0.0, liab, 1.0)
            paid = np.where(liab > 0.0, np.maximum(0.0, 1.0 - accounts.uncovered_usd / safe), 1.0)
            for k, (name, (_, supply)) in enumerate(self.position_tokens.items()):
                out[name] = claim[:, k] * paid / supply
        return out

    def _claims(self, state: PerpState, px: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Non-negative equity of traders ``rows`` at index prices ``px``: cross plus isolated buckets, (n_paths, k)."""
        size = state["size"][:, rows]
        u = size * (px[:, None, :] - self.entry[rows])
        cross = state["cash"][:, rows] + np.where(self.cross[rows], u, 0.0).sum(axis=2)
        iso = np.where(self.isolated[rows], state["iso"][:, rows] + u, 0.0)
        return np.maximum(cross, 0.0) + np.maximum(iso, 0.0).sum(axis=2)

    _SERIES: ClassVar[dict[str, str]] = {
        "insurance_fund_usd": "Insurance fund balance, USD.",
        "insurance_paid_usd": "Deficits the insurance fund has paid so far, USD.",
        "adl_notional_usd": "Notional of positions closed by auto-deleveraging so far, USD.",
        "adl_transfer_usd": "Deficit moved onto deleveraged positions so far, USD.",
        "socialised_loss_usd": "Deficit no one covered so far (socialised), USD.",
        "vault_equity_usd": "Backstop vault equity at market prices, USD.",
        "vault_drawdown_usd": "Largest peak-to-trough fall of the vault's equity so far, USD.",
        "open_interest_usd": "Long open interest of the modelled traders and the vault at market prices, USD.",
        "n_liquidated": "Buckets (cross accounts, isolated positions) liquidated so far.",
    }
    #: per-path end-of-run figures of :meth:`metrics`: key -> description
    METRICS: ClassVar[dict[str, str]] = {
        "insurance_exhausted": "1 if some round's deficits exceeded the insurance fund (the rest went to ADL or was "
                               "socialised), else 0.",
        "insurance_fund_end_usd": "Insurance fund at the end, USD.",
        "insurance_paid_usd": "Deficits the insurance fund paid, USD.",
        "adl_notional_usd": "Notional closed by auto-deleveraging, USD.",
        "adl_transfer_usd": "Deficit moved onto deleveraged positions, USD.",
        "socialised_loss_usd": "Deficit no one covered, USD.",
        "vault_drawdown_usd": "Largest peak-to-trough fall of the vault's equity (index prices each round, market "
                              "prices at the end), USD.",
        "vault_pnl_usd": "Vault equity at the end less its starting capital, USD.",
        "liquidation_fees_usd": "Liquidation fees paid to the insurance fund, USD.",
        "n_liquidated": "Buckets liquidated.",
        "withdrawn_usd": "Cash withdrawn against unrealised profit by traders marked withdraws_profit, USD.",
        "withdrawers_pnl_usd": "Those traders' withdrawals plus their remaining non-negative equity at market less "
                               "their starting collateral and margins, USD (an attacker's gain before its spot cost).",
    }  # fmt: skip

    def series(self) -> dict[str, str]:
        return dict(self._SERIES)

    def record(self, state: PerpState, name: str, market: np.ndarray) -> np.ndarray:  # type: ignore[override]
        simple = {"insurance_fund_usd": "insurance", "insurance_paid_usd": "insurance_paid",
                  "adl_notional_usd": "adl_notional", "adl_transfer_usd": "adl_transfer",
                  "socialised_loss_usd": "socialised"}  # fmt: skip
        if name in simple:
            return state[simple[name]].astype(float)
        if name == "vault_equity_usd":
            return self.vault_equity(state, market)
        if name == "vault_drawdown_usd":
            return self._drawdown_now(state, market)
        if name == "open_interest_usd":
            px = self._index_mark(market)
            longs = np.maximum(state["size"], 0.0).sum(axis=1) + np.maximum(state["vault_pos"], 0.0)
            return (longs * px).sum(axis=1)
        if name == "n_liquidated":
            return state["n_liquidated"].astype(float)
        return super().record(state, name, market)

    def _drawdown_now(self, state: PerpState, market: np.ndarray) -> np.ndarray:
        eq = self.vault_equity(state, market)
        return np.maximum(state["vault_mdd"], np.maximum(state["vault_peak"], eq) - eq)

    def metrics(self, state: PerpState, market: np.ndarray) -> dict[str, np.ndarray]:  # type: ignore[override]
        """Per-path end-of-run figures (:attr:`METRICS`), each (n_paths,); the engine names them ``"<name>.<key>"``
        and :func:`firesale.analysis.perp_tails.perp_tails` turns them into probabilities and means with standard
        errors."""
        eq = self.vault_equity(state, market)
        return {
            "insurance_exhausted": state["exhausted"].astype(float),
            "insurance_fund_end_usd": state["insurance"].astype(float),
            "insurance_paid_usd": state["insurance_paid"].astype(float),
            "adl_notional_usd": state["adl_notional"].astype(float),
            "adl_transfer_usd": state["adl_transfer"].astype(float),
            "socialised_loss_usd": state["socialised"].astype(float),
            "vault_drawdown_usd": self._drawdown_now(state, market),
            "vault_pnl_usd": eq - self.vault_capital,
            "liquidation_fees_usd": state["fees"].astype(float),
            "n_liquidated": state["n_liquidated"].astype(float),
            "withdrawn_usd": state["withdrawn"].astype(float),
            "withdrawers_pnl_usd": self._withdrawers_pnl(state, market),
        }

    # ----- policy controls (firesale.policies) --------------------------------------------------------------------
    @classmethod
    def controls(cls, spec: Any) -> dict[str, str]:
        out = {
            "reserve_usd": "capital added to the insurance fund, USD (a backstop ahead of ADL and socialised loss)"
        }
        for name in spec.markets:
            out[f"markets.{name}.maintenance_margin"] = (
                f"{name}'s maintenance margin: every tier's rate and maintenance amount scaled alike"
            )
        return out

    def scale_parameter(self, state: PerpState, name: str, factor: np.ndarray) -> None:  # type: ignore[override]
        """Scale a market's maintenance margin: tier rates ``mmr_k`` and maintenance amounts ``cum_k`` (Binance's
        ``maintMarginRatio`` and ``cum``, :mod:`firesale.mechanics.perps`) both by ``factor``, so the margin of
        every notional is ``factor`` times the venue's, continuous across tiers as before (dynamic margin). The
        initial margin and the liquidation's partial fraction are left alone."""
        market, _, kind = name.removeprefix("markets.").rpartition(".")
        if not name.startswith("markets.") or kind != "maintenance_margin" or market not in self.market_names:
            return super().scale_parameter(state, name, factor)
        a = state.arrays
        scale, m = a["mm_scale"], self.market_names.index(market)
        factor = np.broadcast_to(np.asarray(factor, dtype=float), scale[:, m].shape)
        a["screen_dirty"] |= scale[:, m] != factor  # the kernels' bound was taken at the old margin
        scale[:, m] = factor

    def add_reserves(self, state: PerpState, usd: np.ndarray) -> None:  # type: ignore[override]
        """Add ``usd`` to the insurance fund: it pays bankrupt positions' losses before ADL (the waterfall of
        :mod:`firesale.mechanics.perps`), booked in ``backstop_in`` so the cash ledger still balances."""
        usd, a = np.asarray(usd, dtype=float), state.arrays
        a["insurance"] += usd
        a["backstop_in"] += usd

    def _withdrawers_pnl(self, state: PerpState, market: np.ndarray) -> np.ndarray:
        w = self.withdraws
        if not w.any():
            return np.zeros(state.n_paths)
        cross_e, iso_e = self._equities_now(state.arrays, self._index_mark(market))
        left = np.maximum(cross_e[:, w], 0.0).sum(axis=1) + np.maximum(iso_e[:, w], 0.0).sum(axis=(1, 2))
        return state["withdrawn"] + left - (self.cash0[w].sum() + self.iso0[w].sum())

    def check_conservation(self, state: PerpState, out: dict[str, np.ndarray] | None = None) -> list[str]:  # type: ignore[override]
        """Problems with the cash ledger (module docstring of :mod:`firesale.mechanics.perps`); the engine's token
        totals ``out`` are not read (the venue holds no index tokens)."""
        a = state.arrays
        problems = []
        held = a["cash"].sum(axis=1) + a["iso"].sum(axis=(1, 2)) + a["insurance"] + a["vault_cash"]
        gap = (held - self._initial_cash - a["realised"] + a["slippage"] - a["funding_in"] - a["socialised"]
               + a["withdrawn"] - a["backstop_in"])  # fmt: skip
        scale = 1e-9 * (abs(self._initial_cash) + np.abs(a["realised"]) + np.abs(a["funding_in"]) + 1.0)
        if (np.abs(gap) > scale).any():
            problems.append(f"{self.name}: cash not conserved on {int((np.abs(gap) > scale).sum())} path(s); "
                            f"largest gap {np.abs(gap).max():.6g} USD")  # fmt: skip
        if (a["insurance"] < -1e-9 * (self.insurance0 + 1.0)).any():
            problems.append(f"{self.name}: negative insurance fund")
        for k in ("size", "cash", "iso", "vault_pos", "vault_cash"):
            if not np.isfinite(a[k]).all():
                problems.append(f"{self.name}: non-finite {k}")
        return problems
