"""A Terra-style algorithmic stablecoin as a protocol model: UST/LUNA mint and burn through the virtual pool.

The market module (:mod:`firesale.mechanics.terra`) swaps one UST for one dollar of LUNA at the oracle's LUNA
price, whatever UST trades at, less a spread from a virtual constant-product pool. When UST trades below the dollar,
arbitrageurs buy it at the venues (``buy``), burn it into freshly minted LUNA and sell the LUNA (``sell``): UST
supply falls, LUNA supply grows, and the LUNA sold pushes LUNA's price down, which makes the next dollar of UST cost
more LUNA. That is the reflexive spiral; nothing in it replays a UST price.

Per round, on each active path:

1. **Replenish.** The pool delta decays by ``delta / PoolRecoveryPeriod`` per block over the blocks elapsed since
   the last round (``block_time_s`` per block): :math:`\\delta \\leftarrow \\delta (1 - 1/\\mathrm{PRP})^{n}`.
2. **Confidence and deposits (Anchor).** Depositors watch UST's market price. With :math:`p_{\\min}` the lowest UST
   price seen so far, the deposits still in the yield protocol are

   .. math:: D = D_0 \\left(1 - e \\cdot \\min\\left(1, \\frac{\\max(1 - \\tau - p_{\\min}, 0)}{d}\\right)\\right),

   with :math:`\\tau` the discount depositors ignore (``tolerance``), :math:`d` the further discount at which
   the share :math:`e` (``max_exit_fraction``) has left (``full_exit_discount``). Deposits that leave are sold as
   UST through the UST venues (``sell``). Confidence only falls: a recovery does not bring deposits back.
3. **Arbitrage through the module**, one swap message per path sized to maximise the arbitrageur's profit on the
   round's quotes. Below the peg (``UST -> LUNA``): offer :math:`o` UST (SDR value :math:`x = o / \\mathrm{SDR}`),
   spread :math:`\\max(1 - B^2 / (T (T + x)), m)` with :math:`T = B + \\delta`, LUNA out
   :math:`o (1 - \\text{spread}) / p^{orc}_L`, profit = proceeds of selling that LUNA minus the cost of buying o UST.
   Above the peg (``LUNA -> UST``): offer LUNA worth :math:`x` SDR, spread
   :math:`\\max(1 - T^2 / (B^2 + x T), m)`, UST out sold through the UST venues. The pool delta moves as
   ``ApplySwapToPool``; the spread fee is minted and kept (validator and oracle rewards).
   The size is the best of a grid over ``[0, bound]`` (refined once) plus the closed-form optimum for a perfectly
   liquid venue, :math:`T + x = B\\sqrt{q / p_U}` with :math:`q = p_L / p^{orc}_L`; bounded by the UST supply,
   the arbitrageurs' capital and the daily swap cap.
4. **Daily swap cap.** ``daily_swap_cap_usd`` bounds the swaps' value (UST at its dollar face value) per day
   (fixed windows of 86,400 s from the first round), the parameter governance changed in May 2022. Without it
   the module's capacity is what the base pool and recovery period give.

Books (:meth:`TerraMarket.account`): the module promises a dollar of LUNA per UST, so UST supply beyond LUNA's
market capitalisation is reported as bad debt (uncovered by the collateral the promise rests on).

Differences from the chain: one swap message per path and round (the module charges a message's average spread;
many small messages would pay the marginal one, ending at the same pool state when the optimum is interior);
float64, not ``sdk.Dec``. The profit of a swap prices both of its legs on the round's quotes: the proceeds of the
coin sold and the cost of the coin bought (``SaleQuotes.costs``, after its price impact; at the market price when
the engine gives none), as :class:`firesale.protocols.psm.Legs` reads them. The UST burned and LUNA minted (and
the reverse) are reported in ``Flows.burned`` and ``Flows.minted``, which the engine adds to each token's issued
supply. :meth:`TerraMarket.token_prices` returns none: both UST and LUNA are priced by their venues, and the
module's implied value of a UST is offered as the series ``ust_redemption_fraction``.

References
----------
terra-money/classic-core ``x/market/keeper/swap.go`` (commit 29593b3b), ``msg_server.go`` (412c186b),
``keeper.go`` (``ReplenishPools``), ``types/params.go``; exact reference in :mod:`firesale.mechanics.terra`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from firesale.exceptions import ScenarioError
from firesale.protocols.base import (
    Accounts,
    Flows,
    ProtocolModel,
    ProtocolState,
    RoundInputs,
    register_protocol,
)
from firesale.protocols.psm import Legs
from firesale.scenario._types import Fraction, Name, NonNegative, Positive, SpecModel

__all__ = ["AnchorSpec", "TerraMarket", "TerraMarketSpec"]

_DAY = 86_400.0
_GRID = 48
_TINY = 1e-300


class AnchorSpec(SpecModel):
    """UST deposits in a yield protocol (Anchor) that leave as UST's price falls (module docstring, step 2)."""

    deposits: NonNegative = Field(default=0.0, description="UST deposited at the start.")
    tolerance: Fraction = Field(default=0.0, description="UST discount below 1 USD that depositors ignore.")
    full_exit_discount: Positive = Field(
        default=0.1, description="Further discount at which max_exit_fraction of the deposits has left."
    )
    max_exit_fraction: Fraction = Field(default=1.0, description="Share of the deposits that ever leaves.")


class TerraMarketSpec(SpecModel):
    """A Terra-style mint/burn market. Scenario ``type = "terra_market"``."""

    name: Name
    type: Literal["terra_market"]
    stablecoin: Name = "UST"
    luna: Name = "LUNA"
    stablecoin_oracle: Name | None = None
    luna_oracle: Name = Field(description="Oracle of LUNA's USD price: the module's exchange rate.")
    base_pool_sdr: Positive = Field(description="BasePool, in SDR.")
    pool_recovery_period: Annotated[int, Field(ge=1)] = Field(description="PoolRecoveryPeriod, in blocks.")
    min_stability_spread: Fraction = Field(description="MinStabilitySpread, a fraction in [0, 1].")
    block_time_s: Positive = Field(default=6.0, description="Seconds per block (14,400 blocks a day).")
    sdr_usd: Positive = Field(
        default=1.0, description="USD per SDR (the oracle's SDR rate over its USD rate)."
    )
    daily_swap_cap_usd: Positive | None = Field(
        default=None, description="Most swap value (UST at face value) per day; none: only the pool limits."
    )
    stablecoin_supply: NonNegative = Field(description="UST in circulation at the start.")
    luna_supply: NonNegative = Field(description="LUNA in circulation at the start.")
    anchor: AnchorSpec = AnchorSpec()
    stablecoin_venues: list[Name] = Field(default_factory=list)
    luna_venues: list[Name] = Field(default_factory=list)


@dataclass
class TerraState(ProtocolState):
    """``delta`` (pool delta, SDR), ``ust``, ``luna`` (supplies), ``minted_ust``, ``burned_ust``, ``minted_luna``,
    ``burned_luna``, ``deposits``, ``withdrawn``, ``p_min``, ``t_last``, ``day_start``, ``used_today``,
    ``ust0``, ``luna0``, ``deposits0``; all (n_paths,)."""

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


def _burn_spread(x: np.ndarray, t: np.ndarray, b: float, m: float) -> np.ndarray:
    """Spread of a UST -> LUNA swap of SDR value ``x`` with Terra pool ``t`` (ComputeSwap)."""
    return np.maximum(1.0 - b * b / np.maximum(t * (t + x), _TINY), m)


def _mint_spread(x: np.ndarray, t: np.ndarray, b: float, m: float) -> np.ndarray:
    """Spread of a LUNA -> UST swap of SDR value ``x`` with Terra pool ``t`` (LUNA pool B^2/T)."""
    return np.maximum(1.0 - t * t / np.maximum(b * b + x * t, _TINY), m)


@register_protocol(TerraMarketSpec)
class TerraMarket(ProtocolModel):
    """Terra's market module with Anchor-style deposits; see the module docstring. Assets: ``(UST, LUNA)``."""

    types = ("terra_market",)
    # A deeper de-peg exhausts the daily cap in fewer rounds, so the count of actions is not monotone in price.
    monotone_in_price = False

    def __init__(self, spec: TerraMarketSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.assets = (spec.stablecoin, spec.luna)
        self.oracles = (spec.stablecoin_oracle or "", spec.luna_oracle)
        self.sale_venues = (tuple(spec.stablecoin_venues), tuple(spec.luna_venues))
        self.issued = ()

    @classmethod
    def build(cls, spec: Any, scenario: Any, **options: Any) -> TerraMarket:
        """The model of ``spec`` (a :class:`TerraMarketSpec`); UST and LUNA must be defined assets."""
        defined = {a.name for a in scenario.spec.assets}
        source = getattr(scenario, "source", "<scenario>")
        problems = [
            f"{source}: protocols.{spec.name}.{key}: must name a defined asset, got {value!r}"
            for key, value in (("stablecoin", spec.stablecoin), ("luna", spec.luna))
            if value not in defined
        ]
        if spec.anchor.deposits > spec.stablecoin_supply:
            problems.append(f"{source}: protocols.{spec.name}.anchor.deposits: must be at most the stablecoin "
                            f"supply {spec.stablecoin_supply:g}, got {spec.anchor.deposits!r}")  # fmt: skip
        if problems:
            raise ScenarioError(problems)
        return cls(spec)

    def init_state(self, n_paths: int) -> TerraState:
        s = self.spec
        z = np.zeros(n_paths)
        arrays = {
            "delta": z.copy(), "ust": np.full(n_paths, s.stablecoin_supply), "luna": np.full(n_paths, s.luna_supply),
            "minted_ust": z.copy(), "burned_ust": z.copy(), "minted_luna": z.copy(), "burned_luna": z.copy(),
            "deposits": np.full(n_paths, s.anchor.deposits), "withdrawn": z.copy(), "p_min": np.ones(n_paths),
            "t_last": np.full(n_paths, np.nan), "day_start": np.full(n_paths, np.nan), "used_today": z.copy(),
            "ust0": np.full(n_paths, s.stablecoin_supply), "luna0": np.full(n_paths, s.luna_supply),
            "deposits0": np.full(n_paths, s.anchor.deposits),
        }  # fmt: skip
        return TerraState(arrays=arrays)

    # --- the round -----------------------------------------------------------------------------------------------
    def round(self, state: ProtocolState, inputs: RoundInputs) -> Flows:
        """Replenish the pool, let deposits leave, then one arbitrage swap per path (module docstring)."""
        a = state.arrays
        n = a["delta"].shape[0]
        flows = Flows.empty(self.name, n, 2, reason="mint/burn arbitrage")
        flows.minted = np.zeros((n, 2))
        flows.burned = np.zeros((n, 2))
        act = np.asarray(inputs.active, dtype=bool)
        t = float(inputs.time)
        self._replenish(a, act, t)
        pu = np.asarray(inputs.market[:, 0], dtype=float)
        pl = np.asarray(inputs.market[:, 1], dtype=float)
        orc = np.asarray(inputs.oracle[:, 1], dtype=float)
        ok = act & np.isfinite(pu) & np.isfinite(pl) & np.isfinite(orc) & (pu > 0) & (pl > 0) & (orc > 0)
        self._withdraw(a, flows, ok, pu)
        liq = inputs.liquidators
        live = ok & (liq.slots > 0)
        if np.any(live):
            quotes = Legs(inputs.quotes, live)
            self._burn(a, flows, liq, quotes, live, pu, pl, orc)
            self._mint(
                a, flows, liq, quotes, live, pu, pl, orc
            )  # exclusive with _burn: q(1-m) > pu vs pu(1-m) > q
        return flows

    def _replenish(self, a: dict[str, np.ndarray], act: np.ndarray, t: float) -> None:
        s = self.spec
        blocks = np.where(
            np.isnan(a["t_last"]), 0.0, np.floor(np.maximum(t - a["t_last"], 0.0) / s.block_time_s)
        )
        keep = (1.0 - 1.0 / s.pool_recovery_period) ** blocks
        a["delta"] = np.where(act, a["delta"] * keep, a["delta"])
        a["t_last"] = np.where(act, t, a["t_last"])
        new_day = act & (np.isnan(a["day_start"]) | (t - a["day_start"] >= _DAY))
        a["day_start"] = np.where(new_day, t, a["day_start"])
        a["used_today"] = np.where(new_day, 0.0, a["used_today"])

    def _withdraw(self, a: dict[str, np.ndarray], flows: Flows, ok: np.ndarray, pu: np.ndarray) -> None:
        an = self.spec.anchor
        a["p_min"] = np.where(ok, np.minimum(a["p_min"], pu), a["p_min"])
        gap = np.clip((1.0 - an.tolerance - a["p_min"]) / an.full_exit_discount, 0.0, 1.0)
        target = a["deposits0"] * (1.0 - an.max_exit_fraction * gap)
        out = np.where(ok, np.maximum(a["deposits"] - target, 0.0), 0.0)
        out = np.where(out > 1e-12 * np.maximum(a["deposits0"], 1.0), out, 0.0)
        a["deposits"] -= out
        a["withdrawn"] += out
        flows.sell[:, 0] += out
        flows.n_actions += (out > 0).astype(np.int64)

    def _cap_left(self, a: dict[str, np.ndarray]) -> np.ndarray:
        cap = self.spec.daily_swap_cap_usd
        return np.full(a["delta"].shape, np.inf) if cap is None else np.maximum(cap - a["used_today"], 0.0)

    def _best(self, profit, hi: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        """Argmax of ``profit(x)`` (x of shape (n, k)) over a grid on [0, hi], refined once, plus ``extra``."""
        n = hi.shape[0]
        frac = np.linspace(0.0, 1.0, _GRID + 1)[None, :]
        xs = np.concatenate([hi[:, None] * frac, np.clip(extra, 0.0, hi)[:, None]], axis=1)
        pr = profit(xs)
        k = np.argmax(pr, axis=1)
        best = xs[np.arange(n), k]
        step = hi / _GRID
        fine = np.clip(
            best[:, None] + step[:, None] * np.linspace(-1.0, 1.0, 2 * _GRID + 1)[None, :], 0.0, hi[:, None]
        )
        xs = np.concatenate([xs, fine], axis=1)
        pr = profit(xs)
        k = np.argmax(pr, axis=1)
        return xs[np.arange(n), k], pr[np.arange(n), k]

    def _burn(self, a, flows, liq, quotes, live, pu, pl, orc) -> None:  # type: ignore[no-untyped-def]
        """UST below the peg: buy UST, swap it to LUNA through the module, sell the LUNA."""
        s = self.spec
        b, m, sdr = s.base_pool_sdr, s.min_stability_spread, s.sdr_usd
        q = pl / orc
        go = live & (q * (1.0 - m) > pu)
        if not np.any(go):
            return
        tp = b + a["delta"]
        # closed-form optimum for a perfectly liquid LUNA venue, and the kink where the pool spread reaches m
        x_star = np.maximum(b * np.sqrt(q / np.where(go, pu, 1.0)) - tp, 0.0)
        x_kink = np.maximum(b * b / (tp * (1.0 - m)) - tp, 0.0) if m < 1.0 else np.zeros_like(tp)
        bound = np.minimum.reduce([self._cap_left(a), a["ust"], np.maximum(liq.capital_usd, 0.0) / pu])
        hi = np.where(go, np.minimum(bound, sdr * np.maximum(x_star, x_kink) * 1.5 + 1e-9), 0.0)
        zero = np.zeros(hi.shape)

        def profit(o: np.ndarray) -> np.ndarray:
            spread = _burn_spread(o / sdr, tp[:, None], b, m)
            value = o * (1.0 - spread) * q[:, None]  # market value of the LUNA received
            got = np.stack([quotes.sales.proceeds(1, zero, value[:, j]) for j in range(o.shape[1])], axis=1)
            return got - quotes.cost(0, o * pu[:, None])  # the UST bought, after its price impact

        o, gain = self._best(profit, hi, sdr * np.maximum(x_star, x_kink))
        do = go & (o > 0) & (gain - liq.gas_usd > liq.min_profit_usd) & (gain > 0)
        o = np.where(do, o, 0.0)
        cost = quotes.cost(0, (o * pu)[:, None])[:, 0]
        spread = _burn_spread(o / sdr, tp, b, m)
        luna_total = o / orc  # one dollar of LUNA per UST at the oracle, fee included
        fee = luna_total * spread
        out = luna_total - fee
        a["delta"] += np.where(do, o / sdr, 0.0)
        self._book(a, flows, liq, do, ust_burned=o, luna_minted=luna_total, sold_luna=out, fee_luna=fee,
                   cost=cost)  # fmt: skip

    def _mint(self, a, flows, liq, quotes, live, pu, pl, orc) -> None:  # type: ignore[no-untyped-def]
        """UST above the peg: buy LUNA, swap it to UST through the module, sell the UST."""
        s = self.spec
        b, m, sdr = s.base_pool_sdr, s.min_stability_spread, s.sdr_usd
        q = pl / orc
        go = live & (pu * (1.0 - m) > q)
        if not np.any(go):
            return
        tp = b + a["delta"]
        # perfectly liquid UST venue: marginal UST out per SDR is T^2 B^2 / (B^2 + x T)^2 (in pool region)
        x_star = np.maximum(
            (b * np.sqrt(np.where(go, pu, 0.0) / np.where(go, q, 1.0)) * tp - b * b) / tp, 0.0
        )
        x_kink = np.maximum((tp * tp / (1.0 - m) - b * b) / tp, 0.0) if m < 1.0 else np.zeros_like(tp)
        cap_usd = np.minimum(self._cap_left(a), np.maximum(liq.capital_usd, 0.0) / np.where(go, q, 1.0))
        hi = np.where(go, np.minimum(cap_usd, sdr * np.maximum(x_star, x_kink) * 1.5 + 1e-9), 0.0)  # UST face
        zero = np.zeros(hi.shape)

        def profit(v: np.ndarray) -> np.ndarray:  # v: USD value of LUNA offered, at the oracle
            spread = _mint_spread(v / sdr, tp[:, None], b, m)
            got = np.stack([quotes.sales.proceeds(0, zero, (v * (1.0 - spread) * pu[:, None])[:, j])
                            for j in range(v.shape[1])], axis=1)  # fmt: skip
            return got - quotes.cost(1, v * q[:, None])  # the LUNA bought, after its price impact

        v, gain = self._best(profit, hi, sdr * np.maximum(x_star, x_kink))
        do = go & (v > 0) & (gain - liq.gas_usd > liq.min_profit_usd) & (gain > 0)
        v = np.where(do, v, 0.0)
        spread = _mint_spread(v / sdr, tp, b, m)
        ust_total = v
        fee = ust_total * spread
        out = ust_total - fee
        a["delta"] -= np.where(do, out / sdr, 0.0)
        luna_in = v / orc
        a["luna"] -= luna_in
        a["burned_luna"] += luna_in
        flows.buy[:, 1] += luna_in
        flows.burned[:, 1] += luna_in
        a["ust"] += ust_total
        a["minted_ust"] += ust_total
        flows.minted[:, 0] += ust_total
        flows.sell[:, 0] += out
        flows.kept[:, 0] += fee
        a["used_today"] += v
        cost = np.where(do, quotes.cost(1, (v * q)[:, None])[:, 0], 0.0)
        flows.spent_usd += cost
        liq.capital_usd -= cost
        liq.slots -= do
        flows.n_actions += do.astype(np.int64)

    def _book(self, a, flows, liq, do, *, ust_burned, luna_minted, sold_luna, fee_luna, cost) -> None:  # type: ignore[no-untyped-def]
        ust_burned, luna_minted = np.where(do, ust_burned, 0.0), np.where(do, luna_minted, 0.0)
        sold_luna, fee_luna, cost = (
            np.where(do, sold_luna, 0.0),
            np.where(do, fee_luna, 0.0),
            np.where(do, cost, 0.0),
        )
        a["ust"] -= ust_burned
        a["burned_ust"] += ust_burned
        a["luna"] += luna_minted
        a["minted_luna"] += luna_minted
        a["used_today"] += ust_burned
        flows.buy[:, 0] += ust_burned
        flows.burned[:, 0] += ust_burned
        flows.minted[:, 1] += luna_minted
        flows.sell[:, 1] += sold_luna
        flows.kept[:, 1] += fee_luna
        flows.spent_usd += cost
        liq.capital_usd -= cost
        liq.slots -= do
        flows.n_actions += do.astype(np.int64)

    # --- books ---------------------------------------------------------------------------------------------------
    def account(self, state: ProtocolState, market: np.ndarray, by_asset: bool = False) -> Accounts:
        """UST at face value against LUNA's market capitalisation; the shortfall is reported as bad debt."""
        a = state.arrays
        backing = a["luna"] * market[:, 1]
        bad = np.maximum(a["ust"] - backing, 0.0)
        by = np.zeros((bad.shape[0], 2))
        by[:, 0] = bad
        return Accounts(assets_usd=backing, liabilities_usd=a["ust"].copy(), bad_debt_usd=bad,
                        reserves_usd=np.zeros_like(bad), bad_debt_by_asset=by)  # fmt: skip

    def pool_spread(self, state: ProtocolState) -> np.ndarray:
        """Spread a small UST -> LUNA swap pays now, shape (n_paths,)."""
        s = self.spec
        tp = s.base_pool_sdr + state.arrays["delta"]
        return _burn_spread(np.zeros_like(tp), tp, s.base_pool_sdr, s.min_stability_spread)

    def series(self) -> dict[str, str]:
        return {
            "ust_supply": "UST in circulation",
            "luna_supply": "LUNA in circulation",
            "terra_pool_delta": "TerraPoolDelta, SDR",
            "swap_spread": "spread of a small UST -> LUNA swap",
            "ust_redemption_fraction": "dollars of LUNA (at the oracle) a small UST -> LUNA swap pays per UST",
            "anchor_deposits": "UST still deposited in the yield protocol",
        }

    def record(self, state: ProtocolState, name: str, market: np.ndarray) -> np.ndarray:
        a = state.arrays
        simple = {
            "ust_supply": "ust",
            "luna_supply": "luna",
            "terra_pool_delta": "delta",
            "anchor_deposits": "deposits",
        }
        if name in simple:
            return a[simple[name]].copy()
        if name == "swap_spread":
            return self.pool_spread(state)
        if name == "ust_redemption_fraction":
            return 1.0 - self.pool_spread(state)
        return super().record(state, name, market)

    def check_conservation(self, state: ProtocolState, out: dict[str, np.ndarray]) -> list[str]:
        """Supplies move only by mint and burn; every UST bought is burned, every LUNA minted is sold or kept;
        deposits only leave; nothing is negative."""
        a = state.arrays
        problems = []
        scale = np.maximum.reduce(
            [a["ust0"], a["luna0"], a["minted_luna"], a["minted_ust"], np.ones_like(a["ust0"])]
        )
        tol = 1e-9 * scale
        for key in ("ust", "luna", "deposits"):
            if np.any(a[key] < -tol):
                problems.append(f"{self.name}: negative {key} ({float(a[key].min()):.3g})")
        if np.any(np.abs(a["ust"] - (a["ust0"] + a["minted_ust"] - a["burned_ust"])) > tol):
            problems.append(f"{self.name}: UST supply != start + minted - burned")
        if np.any(np.abs(a["luna"] - (a["luna0"] + a["minted_luna"] - a["burned_luna"])) > tol):
            problems.append(f"{self.name}: LUNA supply != start + minted - burned")
        if np.any(np.abs(out["repaid"][:, 0] - a["burned_ust"]) > tol):
            problems.append(f"{self.name}: UST bought != UST burned")
        if np.any(np.abs(out["repaid"][:, 1] - a["burned_luna"]) > tol):
            problems.append(f"{self.name}: LUNA bought != LUNA burned")
        if np.any(np.abs(out["sold"][:, 1] + out["kept"][:, 1] - a["minted_luna"]) > tol):
            problems.append(f"{self.name}: LUNA minted != LUNA sold + kept")
        if np.any(np.abs(out["sold"][:, 0] + out["kept"][:, 0] - a["minted_ust"] - a["withdrawn"]) > tol):
            problems.append(f"{self.name}: UST sold + kept != UST minted + deposits withdrawn")
        # What the engine was told was minted and burned (Flows.minted/burned) is what the supplies say.
        for r, (asset, mint, burn) in enumerate(((self.assets[0], "minted_ust", "burned_ust"),
                                                 (self.assets[1], "minted_luna", "burned_luna"))):  # fmt: skip
            if "minted" in out and np.any(np.abs(out["minted"][:, r] - a[mint]) > tol):
                problems.append(f"{self.name}: {asset} minted != Flows.minted routed to the engine")
            if "burned" in out and np.any(np.abs(out["burned"][:, r] - a[burn]) > tol):
                problems.append(f"{self.name}: {asset} burned != Flows.burned routed to the engine")
        if np.any(np.abs(a["deposits"] + a["withdrawn"] - a["deposits0"]) > tol):
            problems.append(f"{self.name}: deposits not conserved")
        return problems
