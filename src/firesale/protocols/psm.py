"""A peg stability module (Maker's DssPsm) as a protocol model: fixed-rate swaps limited by reserves and ceiling.

The PSM swaps its stablecoin (DAI) against a reserve asset (USDC) one for one, less a fee: ``sellGem`` takes reserve
units and mints the same amount of stablecoin debt, paying out ``1 - tin`` of it (the fee ``tin`` goes to the
surplus buffer); ``buyGem`` hands out reserve units for ``1 + tout`` stablecoins each, burning one and keeping
``tout`` as surplus. Minting is bounded by the debt ceiling (``line - art``), handing out reserves by the reserves
held (``ink``).

Arbitrageurs (the engine's liquidators, with their capital) use it whenever the venues' price of the stablecoin
leaves the band the fees allow:

- **Stablecoin above the band**, :math:`p_s (1 - tin) > p_r`: deposit reserve units (bought at the market,
  ``buy``), sell the minted stablecoin through the stablecoin's venues (``sell``). Units are sold while the
  marginal proceeds per unit of market value stay at least :math:`p_r / ((1 - tin) p_s)`: the sale stops where
  the venues' marginal price of the stablecoin is back at the band edge :math:`p_r / (1 - tin)`, or at the
  ceiling, whichever comes first.
- **Stablecoin below the band**, :math:`p_s (1 + tout) < p_r`: buy stablecoin at the market (``buy``), take
  reserve units out and sell them through the reserve asset's venues (``sell``; a DAI/USDC pool, where selling
  USDC buys DAI back) while the marginal proceeds stay at least :math:`(1 + tout) p_s / p_r`, up to the reserves.

So the PSM restores the peg up to its capacity and no further; and when the *reserve asset* de-pegs (USDC in March
2023), the band moves with it and the stablecoin follows, as far as the reserves let arbitrageurs take USDC out
at 1 + tout or bring it in at 1 - tin.

Sizing reads the engine's proceeds curves (:class:`firesale.protocols.base.SaleQuotes`) of the asset sold; the
price impact of the purchase leg (``buy``) is the engine's to route and is not in the sizing. The model issues no
token whose price it defines (the stablecoin's price is made by its venues), so :meth:`PegStabilityModule.token_prices`
returns none.

References
----------
makerdao/dss-psm ``src/psm.sol`` (``sellGem``: ``gemAmt18 = gemAmt * to18ConversionFactor``,
``fee = gemAmt18 * tin / WAD``, ``vat.frob(ilk, +gemAmt18, +gemAmt18)``, ``daiJoin.exit(usr, gemAmt18 - fee)``;
``buyGem``: ``fee = gemAmt18 * tout / WAD``, ``daiInWad = gemAmt18 + fee``, ``vat.frob(ilk, -gemAmt18, -gemAmt18)``,
fee moved to the vow), and the ilk's debt ceiling ``line`` checked by ``vat.frob``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

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
from firesale.scenario._types import Fraction, Name, NonNegative, SpecModel

__all__ = ["PegStabilityModule", "PsmSpec"]

_TINY = 1e-300


class PsmSpec(SpecModel):
    """A peg stability module. Scenario ``type = "psm"``."""

    name: Name
    type: Literal["psm"]
    stablecoin: Name = Field(default="DAI", description="The stablecoin it mints and burns.")
    reserve_asset: Name = Field(
        default="USDC", description="The asset it holds ('gem'); must be a defined asset."
    )
    stablecoin_oracle: Name | None = None
    reserve_oracle: Name | None = None
    tin: Fraction = Field(
        default=0.0, description="Fee on sellGem (reserve in, stablecoin out), WAD fraction."
    )
    tout: Fraction = Field(
        default=0.0, description="Fee on buyGem (stablecoin in, reserve out), WAD fraction."
    )
    reserves: NonNegative = Field(description="Reserve units held at the start (the ilk's ink = art).")
    debt_ceiling: NonNegative = Field(description="The ilk's line, in stablecoin units; minting stops there.")
    stablecoin_venues: list[Name] = Field(
        default_factory=list, description="Where minted stablecoin is sold."
    )
    reserve_venues: list[Name] = Field(
        default_factory=list, description="Where reserve units taken out are sold."
    )


@dataclass
class PsmState(ProtocolState):
    """``gem`` (reserve units held), ``art`` (stablecoin debt of the PSM), ``surplus`` (fees, stablecoin units),
    ``minted``, ``burned`` (cumulative stablecoin), ``gem0``, ``art0``; all shape (n_paths,)."""

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


@register_protocol(PsmSpec)
class PegStabilityModule(ProtocolModel):
    """Maker's DssPsm; see the module docstring. Assets: ``(stablecoin, reserve_asset)``."""

    types = ("psm",)
    monotone_in_price = False  # a uniform price move leaves the peg band, and so the arbitrage, unchanged

    def __init__(self, spec: PsmSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.assets = (spec.stablecoin, spec.reserve_asset)
        self.oracles = (spec.stablecoin_oracle or "", spec.reserve_oracle or "")
        self.sale_venues = (tuple(spec.stablecoin_venues), tuple(spec.reserve_venues))
        self.issued = ()

    @classmethod
    def build(cls, spec: Any, scenario: Any, **options: Any) -> PegStabilityModule:
        """The model of ``spec`` (a :class:`PsmSpec`); its stablecoin and reserve asset must be defined assets."""
        defined = {a.name for a in scenario.spec.assets}
        source = getattr(scenario, "source", "<scenario>")
        problems = [
            f"{source}: protocols.{spec.name}.{key}: must name a defined asset, got {value!r}"
            for key, value in (("stablecoin", spec.stablecoin), ("reserve_asset", spec.reserve_asset))
            if value not in defined
        ]
        if spec.stablecoin == spec.reserve_asset:
            problems.append(f"{source}: protocols.{spec.name}.reserve_asset: must differ from the stablecoin, "
                            f"got {spec.reserve_asset!r}")  # fmt: skip
        if spec.debt_ceiling < spec.reserves:
            problems.append(f"{source}: protocols.{spec.name}.debt_ceiling: must be at least the reserves "
                            f"{spec.reserves:g} (each reserve unit backs one minted stablecoin), "
                            f"got {spec.debt_ceiling!r}")  # fmt: skip
        if problems:
            raise ScenarioError(problems)
        return cls(spec)

    def init_state(self, n_paths: int) -> PsmState:
        r = float(self.spec.reserves)
        z = np.zeros(n_paths)
        arrays = {"gem": np.full(n_paths, r), "art": np.full(n_paths, r), "surplus": z.copy(), "minted": z.copy(),
                  "burned": z.copy(), "gem0": np.full(n_paths, r), "art0": np.full(n_paths, r)}  # fmt: skip
        return PsmState(arrays=arrays)

    def round(self, state: ProtocolState, inputs: RoundInputs) -> Flows:
        """Let arbitrageurs swap through the PSM wherever the venues' price leaves the fee band."""
        a = state.arrays
        n = a["gem"].shape[0]
        flows = Flows.empty(self.name, n, 2, reason="peg arbitrage")
        flows.minted = np.zeros((n, 2))
        flows.burned = np.zeros((n, 2))
        liq = inputs.liquidators
        ps = np.asarray(inputs.market[:, 0], dtype=float)
        pr = np.asarray(inputs.market[:, 1], dtype=float)
        tin, tout = self.spec.tin, self.spec.tout
        live = np.asarray(inputs.active, dtype=bool) & (liq.slots > 0) & (ps > 0) & (pr > 0)
        live &= np.isfinite(ps) & np.isfinite(pr)
        if not np.any(live):
            return flows
        quotes = Quotes(inputs.quotes, live, 2)
        ps_ = np.where(live, ps, 1.0)
        pr_ = np.where(live, pr, 1.0)
        capital = np.maximum(liq.capital_usd, 0.0)

        # Stablecoin rich: sellGem. Reserve units g in (cost g * pr), stablecoin g (1 - tin) sold (value * ps).
        up = live & (ps * (1.0 - tin) > pr)
        if np.any(up):
            head = np.maximum(self.spec.debt_ceiling - a["art"], 0.0)
            cap = np.minimum(head, capital / pr_) * (1.0 - tin) * ps_
            th = np.where(up, pr_ / np.maximum((1.0 - tin) * ps_, _TINY), np.nan)
            s = np.where(up, profitable_sale(quotes, 0, th, np.where(up, cap, 0.0)), 0.0)
            g = np.where(s > 0, s / np.maximum((1.0 - tin) * ps_, _TINY), 0.0)
            g = np.minimum(g, head)  # rounding must never breach the ceiling
            self._book(a, flows, liq, g, pr_, sell_gem=True)
        # Stablecoin cheap: buyGem. Stablecoin g (1 + tout) in (cost * ps), reserve units g out, sold (value * pr).
        down = live & (ps * (1.0 + tout) < pr)
        if np.any(down):
            cap = np.minimum(a["gem"], capital / ((1.0 + tout) * ps_)) * pr_
            th = np.where(down, (1.0 + tout) * ps_ / pr_, np.nan)
            s = np.where(down, profitable_sale(quotes, 1, th, np.where(down, cap, 0.0)), 0.0)
            g = np.minimum(np.where(s > 0, s / pr_, 0.0), a["gem"])
            self._book(a, flows, liq, g, ps_ * (1.0 + tout), sell_gem=False)
        return flows

    def _book(self, a, flows, liq, g, unit_cost, *, sell_gem: bool) -> None:  # type: ignore[no-untyped-def]
        tin, tout = self.spec.tin, self.spec.tout
        ok = g > 0
        g = np.where(ok, g, 0.0)
        if sell_gem:
            a["gem"] += g
            a["art"] += g
            a["surplus"] += g * tin
            a["minted"] += g
            flows.buy[:, 1] += g
            flows.sell[:, 0] += g * (1.0 - tin)
            flows.kept[:, 0] += g * tin
            flows.minted[:, 0] += g
        else:
            a["gem"] -= g
            a["art"] -= g
            a["surplus"] += g * tout
            a["burned"] += g
            flows.sell[:, 1] += g
            flows.buy[:, 0] += g * (1.0 + tout)
            flows.kept[:, 0] += g * tout
            flows.burned[:, 0] += g
        spent = g * unit_cost
        flows.spent_usd += spent
        liq.capital_usd -= spent
        liq.slots -= ok
        flows.n_actions += ok.astype(np.int64)

    def account(self, state: ProtocolState, market: np.ndarray, by_asset: bool = False) -> Accounts:
        """Books at market prices: the reserves back the PSM's stablecoin debt; a reserve asset below the
        stablecoin's par (1 USD) leaves the difference as bad debt, the surplus buffer absorbs it first."""
        a = state.arrays
        held = a["gem"] * market[:, 1]
        owed = a["art"]  # stablecoin debt at par: the PSM promises one reserve unit per stablecoin
        bad = np.maximum(owed - held, 0.0)
        by = np.zeros((held.shape[0], 2))
        by[:, 1] = bad
        return Accounts(assets_usd=held, liabilities_usd=owed, bad_debt_usd=bad, reserves_usd=a["surplus"].copy(),
                        bad_debt_by_asset=by)  # fmt: skip

    def series(self) -> dict[str, str]:
        return {
            "psm_reserves": "reserve units held",
            "psm_debt": "stablecoin minted by the PSM and outstanding",
            "psm_headroom": "stablecoin the PSM can still mint under its ceiling",
        }

    def record(self, state: ProtocolState, name: str, market: np.ndarray) -> np.ndarray:
        a = state.arrays
        if name == "psm_reserves":
            return a["gem"].copy()
        if name == "psm_debt":
            return a["art"].copy()
        if name == "psm_headroom":
            return np.maximum(self.spec.debt_ceiling - a["art"], 0.0)
        return super().record(state, name, market)

    def check_conservation(self, state: ProtocolState, out: dict[str, np.ndarray]) -> list[str]:
        """Reserves change only by what arbitrageurs brought and took; debt only by what was minted and burned;
        one reserve unit backs each stablecoin of debt; no negative balance; the ceiling holds."""
        a = state.arrays
        problems = []
        tol = 1e-9 * np.maximum(a["gem0"] + a["minted"] + a["burned"], 1.0)
        for key in ("gem", "art", "surplus"):
            if np.any(a[key] < -tol):
                problems.append(f"{self.name}: negative {key} ({float(a[key].min()):.3g})")
        if np.any(np.abs(a["gem"] - (a["gem0"] + out["repaid"][:, 1] - out["sold"][:, 1])) > tol):
            problems.append(f"{self.name}: reserves not conserved (held != start + brought - taken)")
        if np.any(np.abs(a["art"] - (a["art0"] + a["minted"] - a["burned"])) > tol):
            problems.append(f"{self.name}: stablecoin supply not conserved (debt != start + minted - burned)")
        if np.any(np.abs(a["gem"] - a["art"]) > tol):
            problems.append(f"{self.name}: reserves and debt diverged (ink != art)")
        if np.any(a["art"] > self.spec.debt_ceiling + tol):
            problems.append(f"{self.name}: debt above the ceiling")
        return problems
