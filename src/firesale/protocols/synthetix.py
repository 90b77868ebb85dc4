"""A Synthetix-style debt pool as a protocol model: stakers back synths with SNX, share the pool's debt, and hold
sUSD's peg by issuing and burning.

Per path the model holds each staker's SNX and debt shares, the synths' supplies, the liquidation flags and the
cumulative flows. The exact one-path reference is :class:`firesale.mechanics.synthetix.DebtPool`; the float
arithmetic here is held to it to 1e-9 relative.

**Debt pool.** Total debt is the value of every synth at the oracle's rates (sUSD at one dollar, other synths at
their reference oracle, e.g. sETH at ETH's price); each staker owes ``shares / total shares`` of it. A synth price
move therefore moves every staker's debt, whoever holds the synth: that is the debt pool's share accounting
(``DebtCache._currentDebt``, ``OneNetAggregatorDebtRatio``, ``Issuer._debtForShares``). Issuing or burning
``x`` sUSD mints or burns ``x / ratio`` shares and leaves the debt per share unchanged.

**Collateral ratio and liquidation** (SIP-148, ``Liquidator.sol``; ratios here are collateral over debt, the
inverse of the contract's issuance ratio): a staker below ``liquidation_cratio`` is flagged; after
``liquidation_delay_s`` (``now > deadline``), if still below ``target_cratio``, anyone liquidates it: the debt
``S = (D - V r) / (1 - (1 + P) r)`` (``calculateAmountToFixCollateral``, ``V`` the SNX value less the keepers'
rewards, ``r = 1 / target_cratio``, ``P = liquidation_penalty``) is removed from its shares and ``S (1 + P)`` of SNX
taken; an account that cannot pay that is wiped out (all its debt removed, all its SNX taken). No sUSD is burned:
the removed debt stays in the pool and every other staker's share of it grows (the debt is socialised), while the
SNX taken is spread over the remaining debt shares (``LiquidatorRewards``). Keepers are paid ``flag_reward +
liquidate_reward`` SNX per liquidation, sold through the SNX venues (``sell``). Flags are raised in the round a
staker is first seen below the liquidation ratio and removed when it is back at the target.

**The peg** (sUSD; other synths are priced by their venues, which this model does not trade, and enter only the
debt at their reference oracle):

- *Holders leave as the backing falls.* With :math:`c_{\\min}` the lowest system collateral ratio seen (all SNX at
  the oracle over total debt), holders sell ``holder_exit.share`` of the starting sUSD supply times
  :math:`\\min(1, \\max(c_0 - c_{\\min}, 0) / (c_0 - c_1))` through the sUSD venues (``c_0 = start_cratio``,
  ``c_1 = full_cratio``); confidence only falls.
- *Below the peg, stakers burn.* sUSD below ``1 - peg_band`` is bought (``buy``) by solvent stakers (SNX worth more
  than their debt: an underwater staker gains nothing from repaying a debt it can walk away from) and burned
  against their debt at face value, pro rata to their debt, up to that debt and the arbitrageurs' capital.
- *Above the peg, stakers issue.* sUSD above ``1 + peg_band`` is issued by stakers with room under the target ratio
  (``maxIssuable - debt``, pro rata to that room) and sold (``sell``).

So when SNX falls, stakers become undercollateralised, the room to issue vanishes, the solvent debt that can be
burned shrinks and holders sell: the synth's backing falls and its market price de-pegs as far as the venue lets
the holders' sales push it.

Sizing reads the engine's proceeds curves (:func:`firesale.protocols._arb.profitable_sale`). Issuing sells sUSD:
sold while the marginal proceeds per unit of market value are at least ``(1 + band) / p``. Burning buys sUSD, and
the engine gives no purchase quote: ASSUMPTION, the venue is symmetric about its price, so buying the ``x``-th
dollar costs ``1 / m(x)`` per dollar of market value where ``m(x)`` is the marginal proceeds of selling it; bought
while ``p / m(x) <= 1 - band``. :meth:`SynthetixPool.token_prices` returns none (sUSD is priced by its venues).

Differences from the chain: liquidations of one round are taken in staker order (as keepers would call them, each
seeing the debt pool the previous one left), vectorized over paths; no escrow (all SNX transferable), no self
liquidation, no fee pool or minimum stake time; no Exchanger (synth-to-synth swaps at oracle rates) and no
wrappers; float64, not 18-decimal ints.

References
----------
Synthetixio/synthetix (commit 1609d156): ``contracts/Issuer.sol``, ``contracts/BaseDebtCache.sol``,
``contracts/OneNetAggregatorDebtRatio.sol``, ``contracts/Liquidator.sol``, ``contracts/LiquidatorRewards.sol``,
``contracts/BaseSynthetix.sol`` (``_liquidateDelinquentAccount``), ``contracts/SystemSettingsLib.sol`` (the bounds
checked in :meth:`SynthetixPool.build`); exact reference in :mod:`firesale.mechanics.synthetix`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from firesale.exceptions import ScenarioError
from firesale.protocols._arb import profitable_sale
from firesale.protocols._cdp import Quotes
from firesale.protocols.base import (
    Accounts,
    Flows,
    ProtocolModel,
    ProtocolState,
    RoundInputs,
    register_protocol,
)
from firesale.scenario._types import Fraction, Name, NonNegative, Positive, SpecModel, refuse

__all__ = ["HolderExitSpec", "StakerSpec", "SynthSpec", "SynthetixPool", "SynthetixSpec"]

_TINY = 1e-300
# SystemSettingsLib bounds
_MAX_PENALTY = 0.9
_MIN_DELAY, _MAX_DELAY = 300.0, 3 * 86_400.0
_RATIO_FROM_TARGET_BUFFER = 2.0


class SynthSpec(SpecModel):
    """A synth other than sUSD: its supply enters the debt at its reference oracle's price."""

    asset: Name = Field(
        description="The synth's model asset (e.g. sETH); its market price is made by its venues."
    )
    supply: NonNegative = Field(description="Units in circulation at the start (fixed: no Exchanger).")
    oracle: Name = Field(description="Oracle of the synth's reference price (ExchangeRates), e.g. ETH/USD.")


class StakerSpec(SpecModel):
    """One staker (or a cohort of identical ones)."""

    snx: NonNegative = Field(description="SNX staked (transferable, no escrow).")
    debt: NonNegative = Field(description="Its debt at the start, sUSD.")


class HolderExitSpec(SpecModel):
    """sUSD holders who sell as the system's collateral ratio falls (module docstring)."""

    share: Fraction = Field(default=0.0, description="Share of the starting sUSD supply that ever sells.")
    start_cratio: Positive = Field(
        default=4.0, description="System collateral ratio at which selling starts."
    )
    full_cratio: Positive = Field(
        default=1.0, description="System collateral ratio at which all of `share` has sold."
    )

    @model_validator(mode="after")
    def _acts(self) -> HolderExitSpec:
        if self.share == 0:
            refuse({k: getattr(self, k) for k in self.given("start_cratio", "full_cratio")},
                   "has no effect with holder_exit.share = 0 (nobody sells); set share or remove it")  # fmt: skip
        return self


class SynthetixSpec(SpecModel):
    """A Synthetix-style debt pool. Scenario ``type = "synthetix"``."""

    name: Name
    type: Literal["synthetix"]
    token: Name = Field(default="SNX", description="The staked protocol token.")
    token_oracle: Name = Field(description="Oracle of the token's USD price, read for collateral.")
    token_venues: list[Name] = Field(
        default_factory=list, description="Where keepers sell their SNX rewards."
    )
    susd: Name = Field(default="sUSD", description="The stablecoin synth stakers issue and burn.")
    susd_venues: list[Name] = Field(default_factory=list, description="Where sUSD trades; at least one.")
    susd_supply: NonNegative = Field(description="sUSD in circulation at the start.")
    synths: list[SynthSpec] = Field(default_factory=list)
    stakers: list[StakerSpec] = Field(min_length=1)
    target_cratio: Positive = Field(
        description="Collateral over debt at the target (1 / issuanceRatio), e.g. 4."
    )
    liquidation_cratio: Positive = Field(description="Collateral over debt below which a staker is flagged.")
    liquidation_penalty: Fraction = Field(default=0.3, description="snxLiquidationPenalty.")
    liquidation_delay_s: Positive = Field(
        default=43_200.0, description="liquidationDelay: flag to liquidation."
    )
    flag_reward: NonNegative = Field(default=0.0, description="SNX paid to the flagger per liquidation.")
    liquidate_reward: NonNegative = Field(
        default=0.0, description="SNX paid to the liquidator per liquidation."
    )
    peg_band: Fraction = Field(
        default=0.0, description="sUSD premium or discount below which stakers do nothing."
    )
    holder_exit: HolderExitSpec = HolderExitSpec()

    @model_validator(mode="after")
    def _acts(self) -> SynthetixSpec:
        if self.flag_reward == 0 and self.liquidate_reward == 0:
            refuse(dict.fromkeys(self.given("token_venues"), self.token_venues),
                   "keepers sell only their flag and liquidate rewards there, and both are 0; remove it")  # fmt: skip
        elif not self.token_venues:
            refuse({"token_venues": self.token_venues},
                   "keepers sell their SNX rewards there: name at least one venue")  # fmt: skip
        return self


@dataclass
class SynthetixState(ProtocolState):
    """``snx``, ``shares``, ``deadline`` (NaN: not flagged): (n_paths, n_stakers); ``susd``, ``minted``,
    ``burned``, ``exited``, ``c_min``, ``keepers_snx``, ``stuck_snx``, ``redistributed``, ``debt_removed``,
    ``n_liquidated``: (n_paths,); ``synth_supply``: (n_paths, n_synths)."""

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


@register_protocol(SynthetixSpec)
class SynthetixPool(ProtocolModel):
    """A Synthetix v2x debt pool; see the module docstring. Assets: ``(SNX, sUSD, *synths)``."""

    types = ("synthetix",)
    monotone_in_price = False  # a uniform move leaves sUSD's peg, and the burning, to the band

    def __init__(self, spec: SynthetixSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.assets = (spec.token, spec.susd, *(s.asset for s in spec.synths))
        self.oracles = (
            spec.token_oracle,
            "",
            *(s.oracle for s in spec.synths),
        )  # sUSD's rate is one by contract
        self.sale_venues = (
            tuple(spec.token_venues),
            tuple(spec.susd_venues),
            *(() for _ in spec.synths),
        )
        self.issued = ()
        self.issuance_ratio = 1.0 / spec.target_cratio
        self.snx0 = np.array([s.snx for s in spec.stakers], dtype=float)
        self._debt_start = np.array([s.debt for s in spec.stakers], dtype=float)

    @classmethod
    def build(cls, spec: Any, scenario: Any, **options: Any) -> SynthetixPool:
        """The model of ``spec`` (a :class:`SynthetixSpec`), with the scenario's references and the bounds of
        ``SystemSettingsLib`` checked; every problem is reported at once."""
        source = getattr(scenario, "source", "<scenario>")
        where = f"{source}: protocols.{spec.name}"
        assets = {a.name for a in scenario.spec.assets}
        oracles = {o.name for o in getattr(scenario.spec, "oracles", None) or ()}
        venues = {v.name for v in getattr(scenario.spec, "venues", None) or ()}
        problems = []
        for key, value in (("token", spec.token), ("susd", spec.susd)):
            if value not in assets:
                problems.append(f"{where}.{key}: must name a defined asset, got {value!r}")
        names = [spec.token, spec.susd, *(s.asset for s in spec.synths)]
        if len(set(names)) != len(names):
            problems.append(f"{where}.synths: assets must be distinct from each other, the token and sUSD, "
                            f"got {names!r}")  # fmt: skip
        refs = [("token_oracle", spec.token_oracle)]
        for i, s in enumerate(spec.synths):
            if s.asset not in assets:
                problems.append(f"{where}.synths[{i}].asset: must name a defined asset, got {s.asset!r}")
            refs.append((f"synths[{i}].oracle", s.oracle))
        for key, value in refs:
            if value not in oracles:
                problems.append(f"{where}.{key}: must name a defined oracle, got {value!r}")
        if not spec.susd_venues:
            problems.append(f"{where}.susd_venues: a synth must trade on at least one venue, got []")
        for key, listed in (("token_venues", spec.token_venues), ("susd_venues", spec.susd_venues)):
            for v in listed:
                if v not in venues:
                    problems.append(f"{where}.{key}: must name a defined venue, got {v!r}")
        if spec.target_cratio < 1.0:
            problems.append(f"{where}.target_cratio: must be at least 1 (issuance ratio at most MAX_ISSUANCE_RATIO "
                            f"= 1), got {spec.target_cratio!r}")  # fmt: skip
        if spec.liquidation_cratio < 1.0 + spec.liquidation_penalty:
            problems.append(f"{where}.liquidation_cratio: must be at least 1 + liquidation_penalty = "
                            f"{1.0 + spec.liquidation_penalty:g} (liquidationRatio <= MAX_LIQUIDATION_RATIO / "
                            f"(1 + penalty)), got {spec.liquidation_cratio!r}")  # fmt: skip
        if spec.liquidation_cratio > spec.target_cratio / _RATIO_FROM_TARGET_BUFFER:
            problems.append(f"{where}.liquidation_cratio: must be at most target_cratio / 2 = "
                            f"{spec.target_cratio / 2:g} (liquidationRatio >= issuanceRatio * "
                            f"RATIO_FROM_TARGET_BUFFER), got {spec.liquidation_cratio!r}")  # fmt: skip
        if spec.liquidation_penalty > _MAX_PENALTY:
            problems.append(f"{where}.liquidation_penalty: must be at most MAX_LIQUIDATION_PENALTY = 0.9, "
                            f"got {spec.liquidation_penalty!r}")  # fmt: skip
        if not _MIN_DELAY <= spec.liquidation_delay_s <= _MAX_DELAY:
            problems.append(f"{where}.liquidation_delay_s: must be in [300, 259200] (MIN_LIQUIDATION_DELAY, "
                            f"MAX_LIQUIDATION_DELAY), got {spec.liquidation_delay_s!r}")  # fmt: skip
        if spec.holder_exit.full_cratio >= spec.holder_exit.start_cratio:
            problems.append(f"{where}.holder_exit.full_cratio: must be below start_cratio "
                            f"{spec.holder_exit.start_cratio:g}, got {spec.holder_exit.full_cratio!r}")  # fmt: skip
        # The stakers' debt is their share of the pool: it must add up to the synths' value at the start.
        prices = {a.name: a.price for a in scenario.spec.assets if hasattr(a, "price")}
        debt = sum(s.debt for s in spec.stakers)
        if all(s.asset in prices for s in spec.synths) and spec.susd in assets:
            value = spec.susd_supply + sum(s.supply * prices[s.asset] for s in spec.synths)
            if abs(debt - value) > 1e-6 * max(value, 1.0):
                problems.append(f"{where}.stakers: their debt must add up to the synths' value at the start, "
                                f"{value:.10g} USD (sUSD supply + synth supply x price), got {debt:.10g}")  # fmt: skip
        if debt <= 0:
            problems.append(f"{where}.stakers: the pool must owe something (a debt pool with no debt has no "
                            f"shares), got total debt {debt!r}")  # fmt: skip
        if problems:
            raise ScenarioError(problems)
        return cls(spec)

    def init_state(self, n_paths: int) -> SynthetixState:
        s = self.spec
        m, k = len(s.stakers), len(s.synths)
        z = np.zeros(n_paths)
        arrays = {
            "snx": np.tile(self.snx0, (n_paths, 1)), "shares": np.tile(self._debt_start, (n_paths, 1)),
            "deadline": np.full((n_paths, m), np.nan), "susd": np.full(n_paths, s.susd_supply),
            "susd0": np.full(n_paths, s.susd_supply),
            "synth_supply": np.tile(np.array([x.supply for x in s.synths], dtype=float), (n_paths, 1)).reshape(
                n_paths, k),
            "minted": z.copy(), "burned": z.copy(), "exited": z.copy(), "c_min": np.full(n_paths, np.inf),
            "keepers_snx": z.copy(), "stuck_snx": z.copy(), "redistributed": z.copy(), "debt_removed": z.copy(),
            "n_liquidated": z.copy(), "bought": z.copy(),
        }  # fmt: skip
        return SynthetixState(arrays=arrays)

    # --- the pool's books ----------------------------------------------------------------------------------------
    def total_debt(self, state: ProtocolState, oracle: np.ndarray) -> np.ndarray:
        """Total debt (USD), shape (n_paths,): sUSD at one dollar, other synths at their reference oracle."""
        a = state.arrays
        other = (a["synth_supply"] * oracle[:, 2:]).sum(axis=1) if a["synth_supply"].shape[1] else 0.0
        return a["susd"] + other

    def debts(self, state: ProtocolState, oracle: np.ndarray) -> np.ndarray:
        """Each staker's debt (USD), shape (n_paths, n_stakers): its shares times the debt per share."""
        a = state.arrays
        return a["shares"] * self._ratio(state, oracle)[:, None]

    def _ratio(self, state: ProtocolState, oracle: np.ndarray) -> np.ndarray:
        total = state.arrays["shares"].sum(axis=1)
        return np.where(total > 0, self.total_debt(state, oracle) / np.maximum(total, _TINY), 1.0)

    # --- the round -----------------------------------------------------------------------------------------------
    def round(self, state: ProtocolState, inputs: RoundInputs) -> Flows:
        """Flag, liquidate, let holders leave, then one peg arbitrage (module docstring)."""
        a = state.arrays
        n, k = a["susd"].shape[0], len(self.assets)
        flows = Flows.empty(self.name, n, k, reason="debt pool")
        flows.minted = np.zeros((n, k))
        flows.burned = np.zeros((n, k))
        oracle = np.asarray(inputs.oracle, dtype=float)
        market = np.asarray(inputs.market, dtype=float)
        ok = np.asarray(inputs.active, dtype=bool) & np.isfinite(oracle).all(axis=1) & (oracle[:, 0] > 0)
        ok &= np.isfinite(market[:, 1]) & (market[:, 1] > 0) & (oracle[:, 2:] > 0).all(axis=1)
        if not np.any(ok):
            return flows
        orc = np.where(ok[:, None], oracle, 1.0)
        self._liquidate(a, state, flows, orc, ok, float(inputs.time))
        self._holders(a, state, flows, orc, ok)
        liq = inputs.liquidators
        live = ok & (liq.slots > 0)
        if np.any(live):
            quotes = Quotes(inputs.quotes, live, k)
            ps = np.where(live, market[:, 1], 1.0)
            self._burn(a, state, flows, liq, quotes, live, orc, ps)
            self._issue(a, state, flows, liq, quotes, live, orc, ps)
        return flows

    def _liquidate(self, a, state, flows, orc, ok, t) -> None:  # type: ignore[no-untyped-def]
        s = self.spec
        ir, pen = self.issuance_ratio, s.liquidation_penalty
        rewards = s.flag_reward + s.liquidate_reward
        p = orc[:, 0]

        def cratio_debt_over_coll() -> np.ndarray:  # Issuer._collateralisationRatio (0 with no collateral)
            v = a["snx"] * p[:, None]
            return np.where(a["snx"] > 0, self.debts(state, orc) / np.maximum(v, _TINY), 0.0)

        x = cratio_debt_over_coll()
        enough = a["snx"] >= rewards
        flagged = ~np.isnan(a["deadline"])
        # checkAndRemoveAccountInLiquidation: back at the target, the flag goes
        a["deadline"] = np.where(ok[:, None] & flagged & (x <= ir), np.nan, a["deadline"])
        flagged = ~np.isnan(a["deadline"])
        new = ok[:, None] & ~flagged & (x >= 1.0 / s.liquidation_cratio) & enough & (x > 0)
        a["deadline"] = np.where(new, t + s.liquidation_delay_s, a["deadline"])
        flows.n_actions += new.sum(axis=1).astype(np.int64)
        open_ = ok[:, None] & (a["deadline"] < t) & (x > ir) & enough
        for j in np.nonzero(open_.any(axis=0))[
            0
        ]:  # keepers call them one by one: each sees the pool left before
            x = cratio_debt_over_coll()
            go = ok & (a["deadline"][:, j] < t) & (x[:, j] > ir) & (a["snx"][:, j] >= rewards)
            if not go.any():
                continue
            ratio = self._ratio(state, orc)
            d = a["shares"][:, j] * ratio
            coll = a["snx"][:, j]
            fix = (d - (coll - rewards) * p * ir) / (1.0 - (1.0 + pen) * ir)
            target = fix / p * (1.0 + pen)
            wipe = target + rewards >= coll
            redeemed = np.where(go, np.where(wipe, coll - rewards, target), 0.0)
            removed = np.where(go, np.where(wipe, d, fix), 0.0)
            cut = np.where(wipe, a["shares"][:, j], np.minimum(removed / ratio, a["shares"][:, j]))
            a["shares"][:, j] -= np.where(go, cut, 0.0)
            paid = np.where(go, rewards, 0.0)
            a["snx"][:, j] -= paid + redeemed
            a["keepers_snx"] += paid
            flows.sell[:, 0] += paid
            total = a["shares"].sum(axis=1)
            has = total > 0
            a["snx"] += np.where(has, redeemed / np.maximum(total, _TINY), 0.0)[:, None] * a["shares"]
            a["stuck_snx"] += np.where(has, 0.0, redeemed)
            a["redistributed"] += np.where(has, redeemed, 0.0)
            a["debt_removed"] += removed
            a["n_liquidated"] += go
            a["deadline"][:, j] = np.where(go, np.nan, a["deadline"][:, j])
            flows.n_actions += go.astype(np.int64)

    def _holders(self, a, state, flows, orc, ok) -> None:  # type: ignore[no-untyped-def]
        h = self.spec.holder_exit
        if h.share <= 0:
            return
        debt = self.total_debt(state, orc)
        c = a["snx"].sum(axis=1) * orc[:, 0] / np.maximum(debt, _TINY)
        a["c_min"] = np.where(ok, np.minimum(a["c_min"], c), a["c_min"])
        gap = np.clip((h.start_cratio - a["c_min"]) / (h.start_cratio - h.full_cratio), 0.0, 1.0)
        out = np.where(ok, np.maximum(h.share * gap * a["susd0"] - a["exited"], 0.0), 0.0)
        out = np.where(out > 1e-12 * np.maximum(a["susd0"], 1.0), out, 0.0)
        a["exited"] += out
        flows.sell[:, 1] += out
        flows.n_actions += (out > 0).astype(np.int64)

    def _burn(self, a, state, flows, liq, quotes, live, orc, ps) -> None:  # type: ignore[no-untyped-def]
        band = self.spec.peg_band
        go = live & (ps < 1.0 - band)
        if not np.any(go):
            return
        d = self.debts(state, orc)
        solvent = a["snx"] * orc[:, 0:1] > d
        room = np.where(solvent, d, 0.0)
        units = np.minimum(room.sum(axis=1), a["susd"])
        cap = np.where(go, np.minimum(units, np.maximum(liq.capital_usd, 0.0) / ps) * ps, 0.0)
        th = np.where(go, ps / (1.0 - band), np.nan)
        s = np.where(go, profitable_sale(quotes, 1, th, cap), 0.0)
        u = np.minimum(np.where(s > 0, s / ps, 0.0), units)
        do = u > 0
        share = room / np.maximum(room.sum(axis=1, keepdims=True), _TINY)
        ratio = self._ratio(state, orc)
        a["shares"] -= np.minimum((u[:, None] * share) / ratio[:, None], a["shares"])
        a["susd"] -= u
        a["burned"] += u
        a["bought"] += u
        flows.buy[:, 1] += u
        flows.burned[:, 1] += u
        spent = u * ps
        flows.spent_usd += spent
        liq.capital_usd -= spent
        liq.slots -= do
        flows.n_actions += do.astype(np.int64)
        # Issuer._voluntaryBurnSynths: a staker back at the target loses its flag
        x = self.debts(state, orc) / np.maximum(a["snx"] * orc[:, 0:1], _TINY)
        a["deadline"] = np.where(do[:, None] & (x <= self.issuance_ratio), np.nan, a["deadline"])

    def _issue(self, a, state, flows, liq, quotes, live, orc, ps) -> None:  # type: ignore[no-untyped-def]
        band = self.spec.peg_band
        go = live & (ps > 1.0 + band)
        if not np.any(go):
            return
        d = self.debts(state, orc)
        room = np.maximum(a["snx"] * orc[:, 0:1] * self.issuance_ratio - d, 0.0)
        units = room.sum(axis=1)
        th = np.where(go, (1.0 + band) / ps, np.nan)
        s = np.where(go, profitable_sale(quotes, 1, th, np.where(go, units * ps, 0.0)), 0.0)
        u = np.minimum(np.where(s > 0, s / ps, 0.0), units)
        do = u > 0
        share = room / np.maximum(units[:, None], _TINY)
        ratio = self._ratio(state, orc)
        a["shares"] += (u[:, None] * share) / ratio[:, None]
        a["susd"] += u
        a["minted"] += u
        flows.sell[:, 1] += u
        flows.minted[:, 1] += u
        liq.slots -= do
        flows.n_actions += do.astype(np.int64)

    # --- books, series, metrics ----------------------------------------------------------------------------------
    def account(self, state: ProtocolState, market: np.ndarray, by_asset: bool = False) -> Accounts:
        """Stakers' SNX against their debt at market prices (sUSD at one dollar): a staker's debt beyond its SNX
        is reported as bad debt, an uncovered promise to synth holders (the pool has no reserves)."""
        a = state.arrays
        px = np.where(np.isfinite(market) & (market > 0), market, 0.0)
        px[:, 1] = 1.0
        d = self.debts(state, px)
        v = a["snx"] * px[:, 0:1]
        # debt left with no share at all (every staker wiped out) is owed by nobody: all of it is uncovered
        orphan = np.where(a["shares"].sum(axis=1) > 0, 0.0, self.total_debt(state, px))
        bad = np.maximum(d - v, 0.0).sum(axis=1) + orphan
        by = np.zeros((bad.shape[0], len(self.assets)))
        by[:, 1] = bad
        return Accounts(assets_usd=v.sum(axis=1), liabilities_usd=d.sum(axis=1) + orphan, bad_debt_usd=bad,
                        reserves_usd=np.zeros_like(bad), bad_debt_by_asset=by)  # fmt: skip

    def series(self) -> dict[str, str]:
        return {
            "total_debt": "the pool's debt, USD at market prices (sUSD at one dollar)",
            "debt_per_share": "USD of debt per debt share (1 at the start)",
            "system_cratio": "all staked SNX over the pool's debt, at market prices",
            "susd_supply": "sUSD in circulation",
            "underwater_debt_share": "share of the debt owed by stakers whose SNX is worth less than it",
            "flagged": "stakers flagged for liquidation",
        }

    def record(self, state: ProtocolState, name: str, market: np.ndarray) -> np.ndarray:
        a = state.arrays
        px = np.array(market, dtype=float, copy=True)
        px[:, 1] = 1.0
        if name == "total_debt":
            return self.total_debt(state, px)
        if name == "debt_per_share":
            return self._ratio(state, px)
        if name == "system_cratio":
            return a["snx"].sum(axis=1) * px[:, 0] / np.maximum(self.total_debt(state, px), _TINY)
        if name == "susd_supply":
            return a["susd"].copy()
        if name == "underwater_debt_share":
            d = self.debts(state, px)
            under = np.where(a["snx"] * px[:, 0:1] < d, d, 0.0).sum(axis=1)
            return under / np.maximum(d.sum(axis=1), _TINY)
        if name == "flagged":
            return (~np.isnan(a["deadline"])).sum(axis=1).astype(float)
        return super().record(state, name, market)

    def metrics(self, state: ProtocolState, market: np.ndarray) -> dict[str, np.ndarray]:
        """End-of-run figures per path: liquidations, the debt they socialised, SNX they redistributed, sUSD
        minted and burned, holders' exits and the lowest system collateral ratio seen."""
        a = state.arrays
        return {"liquidations": a["n_liquidated"].copy(), "debt_socialised_usd": a["debt_removed"].copy(),
                "snx_redistributed": a["redistributed"].copy(), "susd_minted": a["minted"].copy(),
                "susd_burned": a["burned"].copy(), "holder_exit_susd": a["exited"].copy(),
                "min_system_cratio": np.where(np.isfinite(a["c_min"]), a["c_min"], np.nan)}  # fmt: skip

    def check_conservation(self, state: ProtocolState, out: dict[str, np.ndarray]) -> list[str]:
        """sUSD supply moves only by minting and burning; every sUSD bought is burned; sUSD sold is what was issued
        or what holders sold; SNX is only moved between stakers, keepers and (with no shares left) the rewards
        contract; nothing is negative."""
        a = state.arrays
        problems = []
        scale = np.maximum.reduce([a["susd0"], a["minted"], a["burned"], np.full_like(a["susd"], self.snx0.sum()),
                                   np.ones_like(a["susd"])])  # fmt: skip
        tol = 1e-9 * scale
        for key in ("snx", "shares"):
            if np.any(a[key] < -tol[:, None]):
                problems.append(f"{self.name}: negative {key} ({float(a[key].min()):.3g})")
        if np.any(a["susd"] < -tol):
            problems.append(f"{self.name}: negative susd ({float(a['susd'].min()):.3g})")
        if np.any(np.abs(a["susd"] - (a["susd0"] + a["minted"] - a["burned"])) > tol):
            problems.append(f"{self.name}: sUSD supply != start + minted - burned")
        if np.any(np.abs(out["repaid"][:, 1] - a["burned"]) > tol):
            problems.append(f"{self.name}: sUSD bought != sUSD burned")
        if np.any(np.abs(out["sold"][:, 1] - a["minted"] - a["exited"]) > tol):
            problems.append(f"{self.name}: sUSD sold != sUSD issued + holders' exits")
        snx = a["snx"].sum(axis=1) + a["keepers_snx"] + a["stuck_snx"]
        if np.any(np.abs(snx - self.snx0.sum()) > tol):
            problems.append(
                f"{self.name}: SNX not conserved (stakers + keepers + stuck != staked at the start)"
            )
        if np.any(np.abs(out["sold"][:, 0] - a["keepers_snx"]) > tol):
            problems.append(f"{self.name}: SNX sold != keepers' rewards")
        return problems
