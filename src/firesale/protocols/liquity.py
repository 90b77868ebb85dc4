"""Liquity v1 as a protocol model: troves, Stability Pool offset, redistribution, Recovery Mode, redemptions.

One :class:`LiquityModel` holds the troves of a Liquity v1 deployment as arrays ``(n_paths, n_troves)`` with their
*entire* collateral and debt (redistribution rewards are applied to the troves at once, which is what the contract's
pending rewards add up to). Each round, on the paths where a liquidator has block space and the gas compensation pays
for the gas:

- **Normal Mode** (``TCR >= 150 %``): every trove with ``ICR < 110 %`` is liquidated, lowest ICR first. The
  liquidator receives 0.5 % of its collateral and the 200 LUSD reserve; its debt is offset against the Stability
  Pool as far as the pool's LUSD goes (the pool takes the same share of the remaining collateral), and the rest of
  the debt and collateral is redistributed to the active troves in proportion to their stakes.
- **Recovery Mode** (``TCR < 150 %``), trove by trove from the lowest ICR, with the TCR re-evaluated after each:
  ``ICR <= 100 %`` is purely redistributed; ``100 % < ICR < 110 %`` as in Normal Mode; ``110 % <= ICR < TCR`` is
  offset entirely against the pool if it holds enough LUSD, taking only collateral worth 110 % of the debt (the
  rest is a surplus the borrower can claim); once the system is back above 150 % the sequence goes on in Normal
  Mode. The trove with the highest ICR is never reached (``liquidateTroves`` stops at the list's head). This is
  a loop over the liquidated troves, vectorized over the paths in Recovery Mode; Normal Mode is one vectorized pass.
- **Redemptions**: when LUSD's market price is below the peg less the redemption fee, arbitrageurs (the engine's
  liquidators, with their capital) buy up to ``redemptions.max_lusd_per_round`` LUSD and redeem it against the
  troves with the lowest ICR at or above 110 %, for collateral worth its face value less the fee (0.5 % plus the
  base rate, which rises by ``redeemed / supply / 2`` and halves every 12 hours). A trove redeemed to its 200 LUSD
  reserve is closed and its collateral left becomes a claimable surplus.

LQTY and LUSD price reactions are configurable inputs (:class:`ReactionSpec`), read by :meth:`token_prices`: LUSD
trades at ``1 - lusd_sensitivity * max(150 % - TCR, 0)`` (floored), LQTY at its base price times
``1 - lqty_sensitivity * (bad debt / total debt)``.

Exactness. Liquidations agree with :mod:`firesale.mechanics.liquity` (``TroveManager.liquidate_troves``) to 1e-9
relative in the tests. Differences: no error feedback in the float divisions; the last trove of a path is never
liquidated where the contract would revert the whole sequence ("Only one trove in the system"); redemptions are not in
the exact mechanics and follow ``TroveManager.redeemCollateral`` without hints or partial-redemption NICR checks.

References
----------
liquity/dev ``packages/contracts/contracts/TroveManager.sol`` (``liquidateTroves``, ``_liquidateNormalMode``,
``_liquidateRecoveryMode``, ``_getCappedOffsetVals``, ``_redistributeDebtAndColl``, ``redeemCollateral``,
``_updateBaseRateFromRedemption``), ``StabilityPool.sol`` (``offset``), commit ``bf638ecb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from firesale.protocols._cdp import Quotes, spec_error
from firesale.protocols.base import (
    Accounts,
    Flows,
    IssuedToken,
    ProtocolModel,
    ProtocolState,
    RoundInputs,
    register_protocol,
)
from firesale.scenario._types import Fraction, Name, NonNegative, Positive, SpecModel

__all__ = ["LiquityModel", "LiquitySpec", "ReactionSpec", "RedemptionSpec", "TroveSpec"]

MCR = 1.1
CCR = 1.5
GAS_COMPENSATION = 200.0
COLL_GAS_SHARE = 1.0 / 200.0
_MINUTE_DECAY = 0.999037758833783  # (1/2) ** (1/720): a 12-hour half-life
_EPS = 1e-12


class TroveSpec(SpecModel):
    """A trove: collateral and entire debt (including the 200 LUSD reserve)."""

    coll: Positive
    debt: Annotated[float, Field(gt=GAS_COMPENSATION, allow_inf_nan=False)]


class RedemptionSpec(SpecModel):
    """Redemption arbitrage."""

    enabled: bool = True
    max_lusd_per_round: NonNegative = Field(default=1e6, description="Most LUSD redeemed in one round.")
    base_rate: Fraction = 0.0
    fee_floor: Fraction = 0.005


class ReactionSpec(SpecModel):
    """How LUSD and LQTY prices react to the system's state (configurable, not derived)."""

    lusd_sensitivity: NonNegative = Field(
        default=0.0, description="LUSD discount per unit of TCR below 150 %."
    )
    lusd_floor: Fraction = 0.5
    lqty_price: Positive = 1.0
    lqty_sensitivity: NonNegative = Field(
        default=1.0, description="LQTY drop per unit of bad debt over debt."
    )


class LiquitySpec(SpecModel):
    """A Liquity v1 deployment. Scenario ``type = "liquity"``."""

    name: Name
    type: Literal["liquity"]
    collateral: Name = "ETH"
    oracle: Name
    lusd: Name = "LUSD"
    lusd_oracle: Name | None = None
    lqty: Name | None = None
    venues: list[Name] = Field(default_factory=list, description="Where collateral is sold.")
    lusd_venues: list[Name] = Field(default_factory=list)
    troves: list[TroveSpec] = Field(min_length=2)
    stability_pool_lusd: NonNegative = 0.0
    redemptions: RedemptionSpec = RedemptionSpec()
    reactions: ReactionSpec = ReactionSpec()

    @model_validator(mode="after")
    def _pool(self) -> LiquitySpec:
        total = sum(t.debt for t in self.troves)
        if self.stability_pool_lusd > total - GAS_COMPENSATION * len(self.troves) + 1e-9:
            raise spec_error(
                "LiquitySpec", ("stability_pool_lusd",), "pool_too_large",
                f"must be at most the LUSD in circulation {total - GAS_COMPENSATION * len(self.troves):.6g}",
                self.stability_pool_lusd,
            )  # fmt: skip
        if self.lusd == self.collateral:
            raise spec_error("LiquitySpec", ("lusd",), "same_asset", "must differ from collateral", self.lusd)
        return self


@dataclass
class LiquityState(ProtocolState):
    """Per-path state in ``arrays``: ``coll``, ``debt``, ``stake`` (n_paths, n_troves, entire amounts, 0 when
    closed), ``open`` (bool); ``sp_lusd``, ``sp_coll``, ``total_stakes``, ``stakes_snap``, ``coll_snap``,
    ``surplus`` (claimable collateral), ``base_rate``, ``t_last`` and the cumulative ledgers ``gas_coll``,
    ``redeemed_coll``, ``fee_coll``, ``offset_lusd``, ``redeemed_lusd``, ``reserve_burned``, ``n_liquidated``,
    ``coll0``, ``debt0`` (n_paths,)."""

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


@register_protocol(LiquitySpec)
class LiquityModel(ProtocolModel):
    """Liquity v1; see the module docstring."""

    types = ("liquity",)
    monotone_in_price = True

    def __init__(self, spec: LiquitySpec, coll: np.ndarray, debt: np.ndarray) -> None:
        self.spec = spec
        self.name = spec.name
        assets = [spec.collateral, spec.lusd]
        oracles = [spec.oracle, spec.lusd_oracle or ""]
        venues = [tuple(spec.venues), tuple(spec.lusd_venues)]
        if spec.lqty is not None:
            assets.append(spec.lqty)
            oracles.append("")
            venues.append(())
        self.assets, self.oracles, self.sale_venues = tuple(assets), tuple(oracles), tuple(venues)
        self.issued = (IssuedToken(spec.lusd, spec.collateral),) + (
            (IssuedToken(spec.lqty, spec.collateral),) if spec.lqty is not None else ()
        )
        self._coll0 = np.asarray(coll, dtype=float)
        self._debt0 = np.asarray(debt, dtype=float)

    @classmethod
    def build(cls, spec: Any, scenario: Any, **options: Any) -> LiquityModel:
        """The model of ``spec`` (a :class:`LiquitySpec`)."""
        return cls(spec, np.array([t.coll for t in spec.troves]), np.array([t.debt for t in spec.troves]))

    @classmethod
    def from_parts(cls, spec: LiquitySpec, coll: np.ndarray, debt: np.ndarray) -> LiquityModel:
        """A model whose troves come as arrays of shape (n_troves,) (``spec.troves`` is ignored)."""
        return cls(spec, coll, debt)

    def init_state(self, n_paths: int, rng: np.random.Generator | None = None) -> LiquityState:
        """The starting troves on ``n_paths`` paths (``rng`` is accepted for the contract; nothing is random)."""
        coll = np.tile(self._coll0, (n_paths, 1))
        debt = np.tile(self._debt0, (n_paths, 1))
        z = np.zeros(n_paths)
        total = float(self._coll0.sum())
        arrays = {
            "coll": coll, "debt": debt, "stake": coll.copy(), "open": np.ones(coll.shape, dtype=bool),
            "sp_lusd": np.full(n_paths, self.spec.stability_pool_lusd), "sp_coll": z.copy(),
            "total_stakes": np.full(n_paths, total), "stakes_snap": np.full(n_paths, total),
            "coll_snap": np.full(n_paths, total), "surplus": z.copy(),
            "base_rate": np.full(n_paths, self.spec.redemptions.base_rate), "t_last": np.full(n_paths, np.nan),
            "gas_coll": z.copy(), "redeemed_coll": z.copy(), "fee_coll": z.copy(), "offset_lusd": z.copy(),
            "redeemed_lusd": z.copy(), "reserve_burned": z.copy(),
            "n_liquidated": np.zeros(n_paths, dtype=np.int64),
            "coll0": np.full(n_paths, total), "debt0": np.full(n_paths, float(self._debt0.sum())),
        }  # fmt: skip
        return LiquityState(arrays=arrays)

    # --- liquidation -------------------------------------------------------------------------------------------
    def liquidate(self, state: ProtocolState, price: np.ndarray, paths: np.ndarray) -> dict[str, np.ndarray]:
        """Liquidate every liquidatable trove on ``paths`` at oracle ``price`` (``liquidateTroves`` of all).

        Parameters
        ----------
        state : LiquityState
        price : ndarray of shape (n_paths,)
            Collateral price (USD per token).
        paths : ndarray of bool, shape (n_paths,)

        Returns
        -------
        dict of str to ndarray of shape (n_paths,)
            The sequence's totals: ``n``, ``coll_gas``, ``lusd_gas``, ``offset``, ``coll_to_sp``,
            ``debt_redistributed``, ``coll_redistributed``, ``coll_surplus``.
        """
        a = state.arrays
        n_paths, n_t = a["coll"].shape
        keys = ("n", "coll_gas", "lusd_gas", "offset", "coll_to_sp", "debt_redistributed",
                "coll_redistributed", "coll_surplus")  # fmt: skip
        tot = {k: np.zeros(n_paths) for k in keys}
        px = np.where(price > 0, price, _EPS)
        coll, debt, is_open = a["coll"], a["debt"], a["open"]
        icr = np.where(is_open, coll * px[:, None] / np.where(debt > 0, debt, 1.0), np.inf)
        sys_coll = np.where(is_open, coll, 0.0).sum(axis=1)
        sys_debt = np.where(is_open, debt, 0.0).sum(axis=1)
        tcr = np.where(sys_debt > 0, sys_coll * px / np.where(sys_debt > 0, sys_debt, 1.0), np.inf)
        recovery = paths & (tcr < CCR)
        normal = paths & ~recovery & np.any(icr < MCR, axis=1)
        closed = np.zeros((n_paths, n_t), dtype=bool)
        surplus_t = np.zeros((n_paths, n_t))
        if np.any(normal):
            self._normal(a, icr, normal, px, tot, closed)
        if np.any(recovery):
            self._recovery(a, icr, recovery, px, tot, closed, surplus_t)
        self._finish(a, tot, closed)
        return tot

    def _split(self, debt, coll_liq, sp_left):  # type: ignore[no-untyped-def]
        """``_getOffsetAndRedistributionVals``: offset, coll to the pool, debt and coll redistributed."""
        off = np.where(sp_left > 0, np.minimum(debt, sp_left), 0.0)
        to_sp = np.where(debt > 0, coll_liq * off / np.where(debt > 0, debt, 1.0), 0.0)
        return off, to_sp, debt - off, coll_liq - to_sp

    def _normal(self, a, icr, rows_mask, px, tot, closed) -> None:  # type: ignore[no-untyped-def]
        # Lowest ICR first; the pool's LUSD is used up in that order (an exclusive cumulative sum), and the
        # trove with the highest ICR on the path is never liquidated (the contract would revert).
        order = np.argsort(icr, axis=1, kind="stable")
        rows = np.nonzero(rows_mask)[0]
        o = order[rows]
        r2 = rows[:, None]
        icr_s = icr[r2, o]
        n_open = a["open"][rows].sum(axis=1)
        liq = (icr_s < MCR) & (np.arange(o.shape[1])[None, :] < (n_open - 1)[:, None])
        debt = np.where(liq, a["debt"][r2, o], 0.0)
        coll = np.where(liq, a["coll"][r2, o], 0.0)
        gas = coll * COLL_GAS_SHARE
        before = a["sp_lusd"][rows][:, None] - (np.cumsum(debt, axis=1) - debt)
        off, to_sp, red_d, red_c = self._split(debt, coll - gas, np.maximum(before, 0.0))
        for k, v in (
            ("n", liq),
            ("coll_gas", gas),
            ("lusd_gas", liq * GAS_COMPENSATION),
            ("offset", off),
            ("coll_to_sp", to_sp),
            ("debt_redistributed", red_d),
            ("coll_redistributed", red_c),
        ):
            tot[k][rows] += v.sum(axis=1)  # fmt: skip
        closed[r2, o] |= liq

    def _recovery(self, a, icr, rows_mask, px, tot, closed, surplus_t) -> None:  # type: ignore[no-untyped-def]
        rows = np.nonzero(rows_mask)[0]
        order = np.argsort(icr[rows], axis=1, kind="stable")
        n_open = a["open"][rows].sum(axis=1)
        p = px[rows]
        sp = a["sp_lusd"][rows].copy()
        sys_debt = np.where(a["open"][rows], a["debt"][rows], 0.0).sum(axis=1)
        sys_coll = np.where(a["open"][rows], a["coll"][rows], 0.0).sum(axis=1)
        running = np.ones(rows.shape[0], dtype=bool)
        back = np.zeros(rows.shape[0], dtype=bool)
        left = n_open.copy()
        for k in range(order.shape[1]):
            running &= k < n_open - 1  # the head of the list is never reached
            if not np.any(running):
                break
            t_idx = order[:, k]
            debt = a["debt"][rows, t_idx]
            coll = a["coll"][rows, t_idx]
            i_k = icr[rows, t_idx]
            tcr = np.where(sys_debt > 0, sys_coll * p / np.where(sys_debt > 0, sys_debt, 1.0), np.inf)
            # stop: in Recovery Mode once a healthy trove meets an empty pool, or nothing below max(MCR, TCR) is
            # left (ICRs only rise along the list and the TCR does not move without a liquidation)
            stop_rm = ~back & ((i_k >= MCR) & (sp <= 0) | (i_k >= np.maximum(MCR, tcr)))
            stop_nm = back & (i_k >= MCR)
            running &= ~(stop_rm | stop_nm)
            go = running & (left > 1)
            gas = coll * COLL_GAS_SHARE
            under = go & ~back & (i_k <= 1.0)
            below = go & ((back & (i_k < MCR)) | (~back & (i_k > 1.0) & (i_k < MCR)))
            capped = go & ~back & (i_k >= MCR) & (i_k < tcr) & (debt <= sp)
            off_n, sp_n, rd_n, rc_n = self._split(debt, coll - gas, sp)
            cap_coll = debt * MCR / p
            cap_gas = cap_coll * COLL_GAS_SHARE
            liq = under | below | capped
            g = np.where(capped, cap_gas, np.where(liq, gas, 0.0))
            off = np.where(below, off_n, np.where(capped, debt, 0.0))
            to_sp = np.where(below, sp_n, np.where(capped, cap_coll - cap_gas, 0.0))
            red_d = np.where(below, rd_n, np.where(under, debt, 0.0))
            red_c = np.where(below, rc_n, np.where(under, coll - gas, 0.0))
            surp = np.where(capped, coll - cap_coll, 0.0)
            for key, v in (
                ("n", liq),
                ("coll_gas", g),
                ("lusd_gas", liq * GAS_COMPENSATION),
                ("offset", off),
                ("coll_to_sp", to_sp),
                ("debt_redistributed", red_d),
                ("coll_redistributed", red_c),
                ("coll_surplus", surp),
            ):
                tot[key][rows] += v  # fmt: skip
            closed[rows[liq], t_idx[liq]] = True
            surplus_t[rows, t_idx] += surp
            left -= liq
            sp -= off
            in_rm = ~back
            sys_debt = np.where(in_rm, sys_debt - off, sys_debt)
            sys_coll = np.where(in_rm, sys_coll - to_sp - surp, sys_coll)
            tcr_after = np.where(sys_debt > 0, sys_coll * p / np.where(sys_debt > 0, sys_debt, 1.0), np.inf)
            back |= in_rm & liq & (tcr_after >= CCR)

    def _finish(self, a, tot, closed) -> None:  # type: ignore[no-untyped-def]
        a["sp_lusd"] -= np.where(a["sp_lusd"] > 0, tot["offset"], 0.0)
        a["sp_coll"] += np.where(tot["offset"] > 0, tot["coll_to_sp"], 0.0)
        a["stake"] = np.where(closed, 0.0, a["stake"])
        a["coll"] = np.where(closed, 0.0, a["coll"])
        a["debt"] = np.where(closed, 0.0, a["debt"])
        a["open"] &= ~closed
        a["total_stakes"] = a["stake"].sum(axis=1)
        ts = np.where(a["total_stakes"] > 0, a["total_stakes"], 1.0)
        share = np.where(a["total_stakes"][:, None] > 0, a["stake"] / ts[:, None], 0.0)
        a["coll"] += share * tot["coll_redistributed"][:, None]
        a["debt"] += share * tot["debt_redistributed"][:, None]
        a["surplus"] += tot["coll_surplus"]
        a["gas_coll"] += tot["coll_gas"]
        a["offset_lusd"] += tot["offset"]
        a["n_liquidated"] += tot["n"].astype(np.int64)
        acted = tot["n"] > 0
        a["stakes_snap"] = np.where(acted, a["total_stakes"], a["stakes_snap"])
        a["coll_snap"] = np.where(acted, np.where(a["open"], a["coll"], 0.0).sum(axis=1), a["coll_snap"])

    # --- redemptions -------------------------------------------------------------------------------------------
    def _redeem(self, a, inputs, quotes, t, flows, paths) -> None:  # type: ignore[no-untyped-def]
        rs = self.spec.redemptions
        minutes = np.where(np.isnan(a["t_last"]), 0.0, np.maximum(t - a["t_last"], 0.0) // 60.0)
        a["base_rate"] = a["base_rate"] * _MINUTE_DECAY**minutes
        a["t_last"] = np.where(paths, t, a["t_last"])
        lusd_px = inputs.market[:, 1]
        price = np.where(inputs.oracle[:, 0] > 0, inputs.oracle[:, 0], _EPS)
        rate = np.minimum(rs.fee_floor + a["base_rate"], 1.0)
        liq = inputs.liquidators
        arb = paths & (lusd_px < 1.0 - rate) & (lusd_px > 0) & (liq.slots > 0)
        if not np.any(arb):
            return
        coll, debt, is_open = a["coll"], a["debt"], a["open"]
        icr = np.where(is_open, coll * price[:, None] / np.where(debt > 0, debt, 1.0), np.inf)
        eligible = is_open & (icr >= MCR)
        order = np.argsort(np.where(eligible, icr, np.inf), axis=1, kind="stable")
        rows = np.arange(coll.shape[0])[:, None]
        net = np.where(eligible, debt - GAS_COMPENSATION, 0.0)[rows, order]
        supply = np.where(is_open, debt, 0.0).sum(axis=1)
        amount = np.minimum(
            np.minimum(rs.max_lusd_per_round, np.maximum(liq.capital_usd, 0.0) / lusd_px), net.sum(1)
        )
        amount = np.where(arb, amount, 0.0)
        take = np.clip(amount[:, None] - (np.cumsum(net, axis=1) - net), 0.0, net)
        drawn = take.sum(axis=1) / price
        # the fee is charged at the base rate after this redemption raised it (_updateBaseRateFromRedemption first)
        new_base = np.minimum(
            a["base_rate"] + np.where(supply > 0, amount / np.where(supply > 0, supply, 1.0), 0.0) / 2.0, 1.0
        )
        fee = drawn * np.minimum(rs.fee_floor + new_base, 1.0)
        got = quotes.proceeds(0, np.zeros(coll.shape[0]), (drawn - fee) * inputs.market[:, 0])
        ok = arb & (amount > 0) & (got - amount * lusd_px - liq.gas_usd >= liq.min_profit_usd)
        if not np.any(ok):
            return
        take = np.where(ok[:, None], take, 0.0)
        amount, drawn, fee = (np.where(ok, x, 0.0) for x in (amount, drawn, fee))
        inv = np.argsort(order, axis=1)
        take_t = take[rows, inv]
        new_debt = debt - take_t
        new_coll = coll - take_t / price[:, None]
        emptied = ok[:, None] & is_open & (take_t > 0) & (new_debt <= GAS_COMPENSATION * (1 + 1e-12))
        a["surplus"] += np.where(emptied, new_coll, 0.0).sum(axis=1)
        a["reserve_burned"] += np.where(emptied, new_debt, 0.0).sum(axis=1)
        touched = ok[:, None] & (take_t > 0)
        snap = np.where(
            a["coll_snap"] > 0, a["stakes_snap"] / np.where(a["coll_snap"] > 0, a["coll_snap"], 1.0), 1.0
        )
        a["coll"] = np.where(emptied, 0.0, np.where(touched, new_coll, coll))
        a["debt"] = np.where(emptied, 0.0, np.where(touched, new_debt, debt))
        a["stake"] = np.where(emptied, 0.0, np.where(touched, a["coll"] * snap[:, None], a["stake"]))
        a["open"] &= ~emptied
        a["total_stakes"] = a["stake"].sum(axis=1)
        a["redeemed_lusd"] += amount
        a["redeemed_coll"] += drawn - fee
        a["fee_coll"] += fee
        a["base_rate"] = np.where(ok, new_base, a["base_rate"])
        flows.sell[:, 0] += drawn - fee
        flows.kept[:, 0] += fee
        flows.buy[:, 1] += amount
        flows.burned[:, 1] += amount
        flows.spent_usd += amount * lusd_px
        liq.capital_usd -= amount * lusd_px
        liq.slots -= ok
        flows.n_actions += ok

    # --- the contract ------------------------------------------------------------------------------------------
    def round(self, state: ProtocolState, inputs: RoundInputs) -> Flows:
        """Liquidate what is liquidatable (one batch transaction per path), then let arbitrageurs redeem."""
        a = state.arrays
        n_paths, n_a = a["coll"].shape[0], len(self.assets)
        flows = Flows.empty(self.name, n_paths, n_a)
        flows.burned = np.zeros((n_paths, n_a))
        act = np.asarray(inputs.active, dtype=bool)
        liq = inputs.liquidators
        price = inputs.oracle[:, 0]
        can = act & (liq.slots > 0)
        blocked = act & ~can
        if np.any(blocked):  # no block space: the troves below 110 % wait
            icr = np.where(
                a["open"], a["coll"] * price[:, None] / np.where(a["debt"] > 0, a["debt"], 1.0), np.inf
            )
            flows.n_unserved += np.where(blocked, (icr < MCR).sum(axis=1), 0)
        tot = self.liquidate(state, price, can)
        # the liquidator keeps the gas compensation: one transaction, worth it when it covers the gas
        acted = tot["n"] > 0
        flows.sell[:, 0] += tot["coll_gas"]
        flows.kept[:, 0] += tot["coll_to_sp"] + tot["coll_surplus"]
        flows.burned[:, 1] += tot["offset"]
        flows.n_actions += tot["n"].astype(np.int64)
        liq.slots -= acted
        quotes = Quotes(inputs.quotes, act, n_a)
        if self.spec.redemptions.enabled:
            self._redeem(a, inputs, quotes, float(inputs.time), flows, act & (liq.slots > 0))
        return flows

    # ----- policy controls (firesale.policies) --------------------------------------------------------------------
    @classmethod
    def controls(cls, spec: Any) -> dict[str, str]:
        # Liquity v1 is immutable (no admin: no pause, no parameter a vote could change); a backstop is the one
        # mitigation from outside, LUSD deposited in the Stability Pool.
        return {"reserve_usd": "LUSD a backstop deposits in the Stability Pool (1 LUSD a USD)"}

    def add_reserves(self, state: ProtocolState, usd: np.ndarray) -> None:
        """Deposit ``usd`` of LUSD in the Stability Pool (``StabilityPool.provideToSP``), bought at the peg from
        holders outside the pool (ASSUMPTION: 1 LUSD per USD), at most the LUSD in circulation not already in it
        (the troves' debt less their 200 LUSD gas reserves, which the gas pool holds). Later liquidations are
        offset against it before any debt is redistributed, and the backstop earns their collateral as any
        depositor does (``sp_coll``)."""
        a = state.arrays
        circulating = np.where(a["open"], a["debt"] - GAS_COMPENSATION, 0.0).sum(axis=1)
        a["sp_lusd"] += np.clip(
            np.asarray(usd, dtype=float), 0.0, np.maximum(circulating - a["sp_lusd"], 0.0)
        )

    def account(self, state: ProtocolState, market: np.ndarray, by_asset: bool = False) -> Accounts:
        """Books at market prices: bad debt is the system's debt beyond its collateral (TCR below 100 %)."""
        a = state.arrays
        px, lusd = market[:, 0], market[:, 1]
        coll = np.where(a["open"], a["coll"], 0.0).sum(axis=1) * px
        debt = np.where(a["open"], a["debt"], 0.0).sum(axis=1) * lusd
        bad = np.maximum(debt - coll, 0.0)
        bad_by_asset = np.zeros((px.shape[0], len(self.assets)))
        bad_by_asset[:, 0] = bad
        return Accounts(
            assets_usd=coll + (a["sp_coll"] + a["surplus"]) * px, liabilities_usd=debt, bad_debt_usd=bad,
            reserves_usd=np.zeros_like(bad), bad_debt_by_asset=bad_by_asset,
        )  # fmt: skip

    def tcr(self, state: ProtocolState, price: np.ndarray) -> np.ndarray:
        """Total collateral ratio at ``price``, shape (n_paths,) (inf without debt)."""
        a = state.arrays
        coll = np.where(a["open"], a["coll"], 0.0).sum(axis=1)
        debt = np.where(a["open"], a["debt"], 0.0).sum(axis=1)
        return np.where(debt > 0, coll * price / np.where(debt > 0, debt, 1.0), np.inf)

    def token_prices(
        self, state: ProtocolState, market: np.ndarray, accounts: Accounts
    ) -> dict[str, np.ndarray]:
        """LUSD and LQTY prices from the configured reactions (module docstring)."""
        rx = self.spec.reactions
        tcr = self.tcr(state, market[:, 0])
        lusd = np.maximum(
            1.0 - rx.lusd_sensitivity * np.maximum(CCR - np.minimum(tcr, CCR), 0.0), rx.lusd_floor
        )
        out = {self.spec.lusd: lusd}
        if self.spec.lqty is not None:
            books = (
                accounts
                if accounts.liabilities_usd is not None
                else self.account(state, market, by_asset=True)
            )
            owed = np.asarray(books.liabilities_usd, dtype=float)
            liab = np.where(owed > 0, owed, 1.0)
            out[self.spec.lqty] = rx.lqty_price * np.maximum(
                1.0 - rx.lqty_sensitivity * accounts.bad_debt_usd / liab, 0.0
            )
        return out

    def series(self) -> dict[str, str]:
        return {
            "tcr": "total collateral ratio at the oracle price",
            "recovery_mode": "1 when the TCR is below 150 %",
            "sp_lusd": "LUSD in the Stability Pool",
            "n_liquidated": "troves liquidated, cumulative",
            "redeemed_lusd": "LUSD redeemed, cumulative",
        }

    def record(self, state: ProtocolState, name: str, market: np.ndarray) -> np.ndarray:
        a = state.arrays
        if name == "tcr":
            return self.tcr(state, market[:, 0])
        if name == "recovery_mode":
            return (self.tcr(state, market[:, 0]) < CCR).astype(float)
        if name in ("sp_lusd", "n_liquidated", "redeemed_lusd"):
            return np.asarray(a[name], dtype=float)
        return super().record(state, name, market)

    def check_conservation(self, state: ProtocolState, out: dict[str, np.ndarray]) -> list[str]:
        """Collateral and debt ledgers balance; no negative balances; the pool never goes below zero."""
        a = state.arrays
        problems = []
        for key in ("coll", "debt", "stake", "sp_lusd", "sp_coll", "surplus"):
            worst = float(np.min(a[key], initial=0.0))
            if worst < -1e-9 * max(1.0, float(np.abs(a[key]).max(initial=0.0))):
                problems.append(f"{self.name}: negative {key} ({worst:.3g})")
        coll = np.where(a["open"], a["coll"], 0.0).sum(axis=1)
        held = coll + a["sp_coll"] + a["surplus"] + a["gas_coll"] + a["redeemed_coll"] + a["fee_coll"]
        if np.any(np.abs(held - a["coll0"]) > 1e-9 * np.maximum(a["coll0"], 1.0)):
            problems.append(f"{self.name}: collateral not conserved")
        debt = np.where(a["open"], a["debt"], 0.0).sum(axis=1)
        owed = a["debt0"] - a["offset_lusd"] - a["redeemed_lusd"] - a["reserve_burned"]
        if np.any(np.abs(debt - owed) > 1e-9 * np.maximum(a["debt0"], 1.0)):
            problems.append(f"{self.name}: debt not conserved")
        return problems
