"""A peg stability module (Maker's DssPsm) as a protocol model: fixed-rate swaps limited by reserves and ceiling.

The PSM swaps its stablecoin (DAI) against a reserve asset (USDC) one for one, less a fee: ``sellGem`` takes reserve
units and mints the same amount of stablecoin debt, paying out ``1 - tin`` of it (the fee ``tin`` goes to the
surplus buffer); ``buyGem`` hands out reserve units for ``1 + tout`` stablecoins each, burning one and keeping
``tout`` as surplus. Minting is bounded by the debt ceiling (``line - art``), handing out reserves by the reserves
held (``ink``).

Arbitrageurs (the engine's liquidators, with their capital) use it whenever the venues' price of the stablecoin
leaves the band the fees allow. A round trip of ``g`` reserve units has two legs, each priced on the venues' real
quotes of the round (:class:`firesale.protocols.base.SaleQuotes`: ``proceeds`` for the leg sold, ``costs`` for the
leg bought, both after their price impact):

- **Stablecoin above the band**, :math:`p_s (1 - tin) > p_r`: buy ``g`` reserve units (``buy``, cost
  :math:`C_r(g p_r)`), ``sellGem`` them for :math:`g (1 - tin)` stablecoins and sell those through the
  stablecoin's venues (``sell``, proceeds :math:`P_s(g (1 - tin) p_s)`);
- **Stablecoin below the band**, :math:`p_s (1 + tout) < p_r`: buy :math:`g (1 + tout)` stablecoins (``buy``,
  cost :math:`C_s(g (1 + tout) p_s)`), ``buyGem`` ``g`` reserve units and sell them through the reserve asset's
  venues (``sell``, proceeds :math:`P_r(g p_r)`; a DAI/USDC pool, where selling USDC buys DAI back).

Both curves are piecewise linear in their own sizes, so the round trip's profit :math:`P(g) - C(g)` is piecewise
linear in ``g`` with knots at both grids; units are traded along its segments while each still adds profit, and no
further: the trade stops where the marginal unit no longer pays after the fee and both legs' impact, or at the
ceiling (``line - art``) or the reserves held, whichever comes first; and a trip is sent only if its profit pays
the liquidators' gas and minimum profit (:class:`firesale.protocols.base.LiquidatorCapacity`). Sized on one leg
only, the arbitrage overshot by the purchase's own impact and traded back the next round, every round. So the PSM
restores the peg up to its capacity and no further; and when the *reserve asset* de-pegs (USDC in March 2023),
the band moves with it and the stablecoin follows, as far as the reserves let arbitrageurs take USDC out at
1 + tout or bring it in at 1 - tin. Without ``costs`` (a caller that gives none) a purchase is taken at the market
price, as the engine then routes it.

Each round's ``Flows.minted`` (``sellGem``) and ``Flows.burned`` (``buyGem``) carry the stablecoin created and
destroyed, which the engine adds to the stablecoin's issued supply. The model issues no token whose price it
defines (the stablecoin's price is made by its venues), so :meth:`PegStabilityModule.token_prices` returns none.

References
----------
makerdao/dss-psm ``src/psm.sol`` (commit 0705bfc; ``sellGem``: ``gemAmt18 = gemAmt * to18ConversionFactor``,
``fee = gemAmt18 * tin / WAD``, ``vat.frob(ilk, +gemAmt18, +gemAmt18)``, ``daiJoin.exit(usr, gemAmt18 - fee)``;
``buyGem``: ``fee = gemAmt18 * tout / WAD``, ``daiAmt = gemAmt18 + fee``, ``vat.frob(ilk, -gemAmt18, -gemAmt18)``,
fee moved to the vow), and the ilk's debt ceiling ``line`` checked by ``vat.frob``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from firesale.exceptions import ScenarioError
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
        liq = inputs.liquidators
        ps = np.asarray(inputs.market[:, 0], dtype=float)
        pr = np.asarray(inputs.market[:, 1], dtype=float)
        tin, tout = self.spec.tin, self.spec.tout
        live = np.asarray(inputs.active, dtype=bool) & (liq.slots > 0) & (ps > 0) & (pr > 0)
        live &= np.isfinite(ps) & np.isfinite(pr)
        if not np.any(live):
            return flows
        legs = Legs(inputs.quotes, live)
        ps_ = np.where(live, ps, 1.0)
        pr_ = np.where(live, pr, 1.0)
        capital = np.maximum(liq.capital_usd, 0.0)

        # Stablecoin rich: sellGem. Reserve units g bought (market value g pr), stablecoin g (1 - tin) sold.
        up = live & (ps * (1.0 - tin) > pr)
        if np.any(up):
            head = np.maximum(self.spec.debt_ceiling - a["art"], 0.0)
            g, cost = legs.size(up, sell=(0, (1.0 - tin) * ps_), buy=(1, pr_), cap=head, capital=capital,
                                min_gain=liq.gas_usd + liq.min_profit_usd)  # fmt: skip
            self._book(a, flows, liq, np.minimum(g, head), cost, sell_gem=True)
        # Stablecoin cheap: buyGem. Stablecoin g (1 + tout) bought (market value * ps), reserve units g sold.
        down = live & (ps * (1.0 + tout) < pr)
        if np.any(down):
            g, cost = legs.size(down, sell=(1, pr_), buy=(0, (1.0 + tout) * ps_), cap=a["gem"], capital=capital,
                                min_gain=liq.gas_usd + liq.min_profit_usd)  # fmt: skip
            self._book(a, flows, liq, np.minimum(g, a["gem"]), cost, sell_gem=False)
        return flows

    def _book(self, a, flows, liq, g, cost, *, sell_gem: bool) -> None:  # type: ignore[no-untyped-def]
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
        spent = np.where(ok, cost, 0.0)  # the purchase leg at its quoted cost
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
        # What the engine was told was minted and burned (Flows.minted/burned) is what the books say.
        if "minted" in out and np.any(np.abs(out["minted"][:, 0] - a["minted"]) > tol):
            problems.append(f"{self.name}: stablecoin minted != Flows.minted routed to the engine")
        if "burned" in out and np.any(np.abs(out["burned"][:, 0] - a["burned"]) > tol):
            problems.append(f"{self.name}: stablecoin burned != Flows.burned routed to the engine")
        if "minted" in out and np.any(np.abs(out["minted"][:, 1]) + np.abs(out["burned"][:, 1]) > tol):
            problems.append(f"{self.name}: the reserve asset is never minted or burned")
        if np.any(np.abs(a["gem"] - a["art"]) > tol):
            problems.append(f"{self.name}: reserves and debt diverged (ink != art)")
        if np.any(a["art"] > self.spec.debt_ceiling + tol):
            problems.append(f"{self.name}: debt above the ceiling")
        return problems


class Legs:
    """The round's two quotes of a round trip: proceeds of the leg sold and cost of the leg bought, per path.

    Both are asked of the engine once per asset and round, on the paths given; without ``costs`` in the quotes a
    purchase costs its market value (the engine then buys at the market price). Shared with
    :mod:`firesale.protocols.terra_market`, whose arbitrage has the same two legs.
    """

    def __init__(self, quotes: Any, paths: np.ndarray) -> None:
        self.sales = Quotes(quotes, paths, 2)
        self.grid = self.sales.size_usd
        self._quotes, self._paths = quotes, np.nonzero(paths)[0]
        self._costs: dict[int, np.ndarray] = {}

    def cost_curve(self, asset: int, n_paths: int) -> np.ndarray:
        if asset not in self._costs:
            if getattr(self._quotes, "costs", None) is None:
                self._costs[asset] = np.broadcast_to(self.grid, (n_paths, self.grid.size))
            else:
                need = np.zeros(2)
                need[asset] = np.inf
                self._costs[asset] = np.asarray(self._quotes.costs(self._paths, need), dtype=float)[
                    :, asset, :
                ]
        return self._costs[asset]

    def cost(self, asset: int, value: np.ndarray) -> np.ndarray:
        """USD cost of buying market value ``value`` (n_paths, m) of ``asset``, on the round's purchase quote."""
        return _at(self.grid, self.cost_curve(asset, value.shape[0]), value)

    def size(self, on, *, sell, buy, cap, capital, min_gain):  # type: ignore[no-untyped-def]
        """Units ``g`` of the round trip and the purchase's cost, (n_paths,) each; 0 where it does not pay.

        ``sell = (asset, value)``: selling ``g`` units of the trip sells market value ``g * value`` of ``asset``;
        ``buy`` likewise for the purchase. ``cap`` bounds ``g``, ``capital`` the purchase's cost; the trip is
        taken only if its profit exceeds ``min_gain`` (gas plus the liquidators' minimum profit).
        """
        (si, sv), (bi, bv) = sell, buy
        n = on.shape[0]
        grid = self.grid
        if grid.size < 2:
            return np.zeros(n), np.zeros(n)
        p_curve, c_curve = self.sales.curve(si, 2), self.cost_curve(bi, n)
        sv, bv = np.where(on, sv, 1.0), np.where(on, bv, 1.0)
        # Knots of the profit in units g: both grids mapped to units, merged.
        knots = np.sort(
            np.concatenate([grid[None, :] / sv[:, None], grid[None, :] / bv[:, None]], axis=1), axis=1
        )
        gain = _at(grid, p_curve, knots * sv[:, None]) - _at(grid, c_curve, knots * bv[:, None])
        d_gain, width = np.diff(gain, axis=1), np.diff(knots, axis=1)
        d_cost = np.diff(_at(grid, c_curve, knots * bv[:, None]), axis=1)
        # A segment pays while it adds profit (1e-12 relative slack: one exactly at break-even is worth nothing).
        ok = np.cumprod((width <= 0) | (d_gain > 1e-12 * np.abs(d_cost)), axis=1).astype(bool)
        g = (width * ok).sum(axis=1)
        # Beyond both grids the last segments extend: the trip keeps paying if the extended margin does.
        tail = (p_curve[:, -1] - p_curve[:, -2]) * sv - (c_curve[:, -1] - c_curve[:, -2]) * bv
        g = np.where(ok[:, -1] & (tail > 0), np.inf, g)
        g = np.minimum(g, np.maximum(cap, 0.0))
        g = np.minimum(g, _inverse(grid, c_curve, capital) / bv)  # the purchase must fit the capital
        g = np.where(on & np.isfinite(g), g, 0.0)
        cost = _at(grid, c_curve, (g * bv)[:, None])[:, 0]
        profit = _at(grid, p_curve, (g * sv)[:, None])[:, 0] - cost
        take = (g > 0) & (profit > min_gain)
        return np.where(take, g, 0.0), np.where(take, cost, 0.0)


def _at(grid: np.ndarray, curve: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Curves (n, k) on ``grid`` (k,) at points ``x`` (n, m), linear between points, the last segment extended."""
    k = grid.size
    x = np.nan_to_num(np.maximum(x, 0.0), nan=0.0, posinf=grid[-1])
    hi = np.clip(np.searchsorted(grid, x, side="right"), 1, k - 1)
    lo = hi - 1
    y0, y1 = np.take_along_axis(curve, lo, axis=1), np.take_along_axis(curve, hi, axis=1)
    x0, x1 = grid[lo], grid[hi]
    return y0 + (x - x0) / np.where(x1 > x0, x1 - x0, 1.0) * (y1 - y0)


def _inverse(grid: np.ndarray, curve: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The size at which each increasing curve (n, k) reaches ``y`` (n,), linear between points and extended."""
    hi = np.clip((curve < y[:, None]).sum(axis=1), 1, grid.size - 1)
    rows = np.arange(curve.shape[0])
    y0, y1 = curve[rows, hi - 1], curve[rows, hi]
    slope = (y1 - y0) / (grid[hi] - grid[hi - 1])
    return np.where(slope > 0, grid[hi - 1] + (y - y0) / np.where(slope > 0, slope, 1.0), np.inf)
