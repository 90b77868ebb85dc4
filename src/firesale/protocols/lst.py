"""A liquid staking token (stETH) as a protocol model: exchange rate from the staking protocol, market price from its
venues, a withdrawal queue with a delay, and holders who must sell now.

Per path the model holds the token's supply, the requests in the withdrawal queue, the arbitrageurs' capital (free
and locked in the queue) and what forced sellers have sold.

- **Exchange rate.** One token is a claim on ``r(t) = exchange_rate (1 + staking_apr)^(t / year)`` units of the
  underlying (ETH), the staking protocol's own accounting (stETH's share rate). Its fair value is
  :math:`r\\,p_u`; its market price :math:`p` is made by its venues; the *discount* is :math:`1 - p / (r p_u)`.
- **Holders who must sell now** (``forced_sales``): each sells ``amount`` tokens evenly over
  ``[start_s, start_s + duration_s]`` through the token's venues (``sell``), whatever the price: they take the
  venue's discount (Celsius, 3AC and leveraged stakers in June 2022).
- **Withdrawal queue** (Lido ``WithdrawalQueue``): a request locks tokens at the rate of the moment (no rewards
  accrue in the queue: the claim is ``min(stETH requested, shares x share rate at finalization)``, the rate here
  only rises, so it is the amount requested times ``r`` at the request); it is finalized and claimed
  ``withdrawal_delay_s`` later, when the tokens are burned. ``withdrawal_delay_s = inf`` is a protocol with no
  redemption at all: stETH before Shapella (June 2022), when the discount could only close through the market.
- **Discount arbitrage.** Arbitrageurs buy the token at the venues (``buy``) and queue it when the claim, received
  after the delay, pays their hurdle: :math:`p (1 + h \\tau / \\mathrm{year}) \\le r p_u` (``hurdle_apr`` h,
  delay :math:`\\tau`). Their capital ``arbitrage_capital_usd`` is locked from the purchase until the claim pays
  (then it returns as the claim's value at the underlying's market price), so over a horizon ``T`` they can absorb
  at most about ``capital x T / delay`` of discounted tokens: the arbitrage is limited by capital and delay. The
  engine's liquidator capital of the step bounds each round too.
- **Staking arbitrage.** With ``deposits_open``, a token above its fair value is minted at ``r`` from underlying
  bought (``buy``) and sold (``sell``), which holds the premium at zero (Lido's ``submit`` has no fee).

Sizing reads the engine's proceeds curves (:func:`firesale.protocols._arb.profitable_sale`); buying the token uses
the same ASSUMPTION as :mod:`firesale.protocols.synthetix` (a venue symmetric about its price: the ``x``-th dollar
bought costs ``1 / m(x)`` per dollar of market value, ``m`` the marginal proceeds of selling it). Claimed underlying
stays with the arbitrageurs (not sold). :meth:`LiquidStakingToken.token_prices` returns none: the token's price
is made by its venues, its fair value is the series ``fair_value``.

Differences from the chain: the delay is one number (Lido's depends on the buffer, validator exits and the
oracle's report cadence; the queue's FIFO order is kept by the fixed delay); no staking limit, no slashing
(``r`` only rises), no bunker mode; Lido's 100 wei / 1000 stETH bounds per request are not binding (many
requests). The one-path reference is :class:`firesale.mechanics.lido.LstPath`, the queue's integer rules
:class:`firesale.mechanics.lido.WithdrawalQueue`.

References
----------
lidofinance/lido-dao (commit fb068106): ``contracts/0.8.9/WithdrawalQueue.sol`` (``requestWithdrawals``,
``MIN_STETH_WITHDRAWAL_AMOUNT``, ``MAX_STETH_WITHDRAWAL_AMOUNT``), ``contracts/0.8.9/WithdrawalQueueBase.sol``
(``_enqueue``, ``_finalize``, ``_calculateClaimableEther``, ``_calcBatch``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

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
from firesale.scenario._types import Name, NonNegative, Positive, SpecModel, refuse

__all__ = ["ForcedSaleSpec", "LiquidStakingToken", "LstSpec"]

YEAR = 365.0 * 86_400.0
_TINY = 1e-300
#: seconds, non-negative, ``inf`` allowed (no redemption); NaN refused by the bound
Delay = Annotated[float, Field(ge=0.0, allow_inf_nan=True)]


class ForcedSaleSpec(SpecModel):
    """Holders who must sell ``amount`` tokens over ``[start_s, start_s + duration_s]`` (0: all at ``start_s``)."""

    amount: NonNegative
    start_s: NonNegative = 0.0
    duration_s: NonNegative = 0.0


class LstSpec(SpecModel):
    """A liquid staking token. Scenario ``type = "lst"``."""

    name: Name
    type: Literal["lst"]
    token: Name = Field(default="stETH", description="The liquid staking token.")
    underlying: Name = Field(default="ETH", description="The staked asset.")
    token_venues: list[Name] = Field(
        default_factory=list, description="Where the token trades; at least one."
    )
    supply: NonNegative = Field(description="Tokens in circulation at the start.")
    exchange_rate: Positive = Field(default=1.0, description="Underlying per token at the start.")
    staking_apr: NonNegative = Field(default=0.0, description="Growth of the exchange rate per year.")
    withdrawal_delay_s: Delay = Field(
        description="Request to claim, seconds; inf: no redemption (stETH before Shapella)."
    )
    arbitrage_capital_usd: NonNegative | None = Field(
        default=None,
        description="Capital of the queue arbitrageurs (locked until claims pay); none: unlimited.",
    )
    hurdle_apr: NonNegative = Field(default=0.0, description="Arbitrageurs' required return per year.")
    deposits_open: bool = Field(
        default=True, description="Tokens can be minted at the rate (holds the premium)."
    )
    forced_sales: list[ForcedSaleSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _acts(self) -> LstSpec:
        if not math.isfinite(self.withdrawal_delay_s):
            refuse({k: getattr(self, k) for k in self.given("arbitrage_capital_usd", "hurdle_apr")},
                   "has no effect with withdrawal_delay_s = inf (no redemption to arbitrage); remove it")  # fmt: skip
        return self


@dataclass
class LstState(ProtocolState):
    """``supply``, ``minted``, ``burned``, ``queued``, ``claimed_underlying``, ``free_usd``, ``locked_usd``,
    ``forced_sold``, ``bought``, ``max_discount``, ``profit_usd``: (n_paths,); the queue: ``q_lst``,
    ``q_claim``, ``q_cost`` of shape (n_paths, n_requests) and ``q_due`` (n_requests,)."""

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


@register_protocol(LstSpec)
class LiquidStakingToken(ProtocolModel):
    """A liquid staking token with a withdrawal queue; see the module docstring. Assets: ``(token, underlying)``."""

    types = ("lst",)
    monotone_in_price = False  # a uniform price move leaves the discount, and so the arbitrage, unchanged

    def __init__(self, spec: LstSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.assets = (spec.token, spec.underlying)
        self.oracles = ("", "")  # both at market: the exchange rate is the protocol's own accounting
        self.sale_venues = (tuple(spec.token_venues), ())
        self.issued = ()

    @classmethod
    def build(cls, spec: Any, scenario: Any, **options: Any) -> LiquidStakingToken:
        """The model of ``spec`` (a :class:`LstSpec`); its assets, oracles and venues must be defined."""
        source = getattr(scenario, "source", "<scenario>")
        where = f"{source}: protocols.{spec.name}"
        assets = {a.name for a in scenario.spec.assets}
        venues = {v.name for v in getattr(scenario.spec, "venues", None) or ()}
        problems = [
            f"{where}.{key}: must name a defined asset, got {value!r}"
            for key, value in (("token", spec.token), ("underlying", spec.underlying))
            if value not in assets
        ]
        if spec.token == spec.underlying:
            problems.append(f"{where}.underlying: must differ from the token, got {spec.underlying!r}")
        if not spec.token_venues:
            problems.append(f"{where}.token_venues: the token must trade on at least one venue, got []")
        for v in spec.token_venues:
            if v not in venues:
                problems.append(f"{where}.token_venues: must name a defined venue, got {v!r}")
        forced = sum(f.amount for f in spec.forced_sales)
        if forced > spec.supply:
            problems.append(f"{where}.forced_sales: must sell at most the supply {spec.supply:g} in all, "
                            f"got {forced:g}")  # fmt: skip
        if problems:
            raise ScenarioError(problems)
        return cls(spec)

    def init_state(self, n_paths: int) -> LstState:
        s = self.spec
        z = np.zeros(n_paths)
        cap = np.inf if s.arbitrage_capital_usd is None else float(s.arbitrage_capital_usd)
        arrays = {
            "supply": np.full(n_paths, s.supply), "supply0": np.full(n_paths, s.supply), "minted": z.copy(),
            "burned": z.copy(), "queued": z.copy(), "claimed_underlying": z.copy(), "free_usd": np.full(n_paths, cap),
            "locked_usd": z.copy(), "forced_sold": z.copy(), "bought": z.copy(), "max_discount": z.copy(),
            "profit_usd": z.copy(), "staked_in": z.copy(), "rate": np.full(n_paths, s.exchange_rate),
            "q_lst": np.zeros((n_paths, 0)), "q_claim": np.zeros((n_paths, 0)), "q_cost": np.zeros((n_paths, 0)),
            "q_due": np.zeros(0),
        }  # fmt: skip
        return LstState(arrays=arrays)

    def rate(self, t: float) -> float:
        """Underlying per token at time ``t`` (the staking protocol's exchange rate)."""
        s = self.spec
        return float(s.exchange_rate * (1.0 + s.staking_apr) ** (t / YEAR))

    def _forced_due(self, t: float) -> float:
        due = 0.0
        for f in self.spec.forced_sales:
            if t >= f.start_s:
                frac = 1.0 if f.duration_s == 0 else min((t - f.start_s) / f.duration_s, 1.0)
                due += f.amount * frac
        return due

    # --- the round -----------------------------------------------------------------------------------------------
    def round(self, state: ProtocolState, inputs: RoundInputs) -> Flows:
        """Claims that are due, forced sales, then one arbitrage through the queue or the deposit (docstring)."""
        a = state.arrays
        n = a["supply"].shape[0]
        flows = Flows.empty(self.name, n, 2, reason="lst arbitrage")
        flows.minted = np.zeros((n, 2))
        flows.burned = np.zeros((n, 2))
        t = float(inputs.time)
        r = self.rate(t)
        p = np.asarray(inputs.market[:, 0], dtype=float)
        pu = np.asarray(inputs.market[:, 1], dtype=float)
        ok = np.asarray(inputs.active, dtype=bool) & np.isfinite(p) & np.isfinite(pu) & (p > 0) & (pu > 0)
        if not np.any(ok):
            return flows
        p_ = np.where(ok, p, 1.0)
        pu_ = np.where(ok, pu, 1.0)
        a["rate"] = np.where(ok, r, a["rate"])
        self._claim(a, flows, ok, pu_, t)
        fair = r * pu_
        a["max_discount"] = np.where(ok, np.maximum(a["max_discount"], 1.0 - p_ / fair), a["max_discount"])
        # holders who must sell now
        due = min(self._forced_due(t), float(self.spec.supply))
        out = np.where(ok, np.maximum(due - a["forced_sold"], 0.0), 0.0)
        out = np.minimum(out, a["supply"])
        out = np.where(out > 1e-12 * np.maximum(a["supply0"], 1.0), out, 0.0)
        a["forced_sold"] += out
        flows.sell[:, 0] += out
        flows.n_actions += (out > 0).astype(np.int64)
        liq = inputs.liquidators
        live = ok & (liq.slots > 0)
        if np.any(live):
            quotes = Quotes(inputs.quotes, live, 2)
            self._redeem(a, flows, liq, quotes, live, p_, fair, t)
            self._stake(a, flows, liq, quotes, live, p_, pu_, r)
        return flows

    def _claim(self, a, flows, ok, pu, t) -> None:  # type: ignore[no-untyped-def]
        """Requests whose delay has passed are finalized: tokens burned, the claim paid, the capital freed."""
        if a["q_due"].size == 0:
            return
        ripe = (a["q_due"] <= t)[None, :] & ok[:, None] & (a["q_lst"] > 0)
        if not ripe.any():
            return
        lst = np.where(ripe, a["q_lst"], 0.0).sum(axis=1)
        claim = np.where(ripe, a["q_claim"], 0.0).sum(axis=1)
        cost = np.where(ripe, a["q_cost"], 0.0).sum(axis=1)
        for key in ("q_lst", "q_claim", "q_cost"):
            a[key] = np.where(ripe, 0.0, a[key])
        a["supply"] -= lst
        a["burned"] += lst
        a["queued"] -= lst
        a["claimed_underlying"] += claim
        a["locked_usd"] -= cost
        a["free_usd"] += claim * pu
        a["profit_usd"] += claim * pu - cost
        flows.burned[:, 0] += lst
        flows.n_actions += (lst > 0).astype(np.int64)
        keep = (a["q_lst"] > 0).any(axis=0)  # drop columns emptied on every path
        for key in ("q_lst", "q_claim", "q_cost"):
            a[key] = a[key][:, keep]
        a["q_due"] = a["q_due"][keep]

    def _redeem(self, a, flows, liq, quotes, live, p, fair, t) -> None:  # type: ignore[no-untyped-def]
        s = self.spec
        tau = float(s.withdrawal_delay_s)
        if not math.isfinite(tau):
            return  # no redemption: the discount closes only through the market
        hurdle = 1.0 + s.hurdle_apr * tau / YEAR
        go = live & (p * hurdle < fair)
        if not np.any(go):
            return
        budget = np.minimum(np.maximum(a["free_usd"], 0.0), np.maximum(liq.capital_usd, 0.0))
        cap = np.where(go, np.minimum(budget, (a["supply"] - a["queued"]) * p), 0.0)
        th = np.where(go, p * hurdle / fair, np.nan)
        v = np.where(go, profitable_sale(quotes, 0, th, cap), 0.0)
        v = np.minimum(v, cap)
        u = np.where(v > 0, v / p, 0.0)
        do = u > 0
        if not do.any():
            return
        a["q_lst"] = np.concatenate([a["q_lst"], u[:, None]], axis=1)
        a["q_claim"] = np.concatenate(
            [a["q_claim"], (u * self.rate(t))[:, None]], axis=1
        )  # locked at the rate
        a["q_cost"] = np.concatenate([a["q_cost"], v[:, None]], axis=1)
        a["q_due"] = np.append(a["q_due"], t + tau)
        a["queued"] += u
        a["bought"] += u
        a["locked_usd"] += v
        a["free_usd"] -= v
        flows.buy[:, 0] += u
        flows.spent_usd += v
        liq.capital_usd -= v
        liq.slots -= do
        flows.n_actions += do.astype(np.int64)

    def _stake(self, a, flows, liq, quotes, live, p, pu, r) -> None:  # type: ignore[no-untyped-def]
        if not self.spec.deposits_open:
            return
        fair = r * pu
        go = live & (p > fair)
        if not np.any(go):
            return
        cap = np.where(go, np.maximum(liq.capital_usd, 0.0) / fair * p, 0.0)  # tokens' market value
        th = np.where(go, fair / p, np.nan)
        v = np.where(go, profitable_sale(quotes, 0, th, cap), 0.0)
        u = np.where(v > 0, v / p, 0.0)
        do = u > 0
        a["supply"] += u
        a["minted"] += u
        a["staked_in"] += u * r
        flows.minted[:, 0] += u
        flows.buy[:, 1] += u * r
        flows.sell[:, 0] += u
        spent = u * fair
        flows.spent_usd += spent
        liq.capital_usd -= spent
        liq.slots -= do
        flows.n_actions += do.astype(np.int64)

    # --- books, series, metrics ----------------------------------------------------------------------------------
    def account(self, state: ProtocolState, market: np.ndarray, by_asset: bool = False) -> Accounts:
        """The staked underlying backs every token at the rate; with no slashing there is no shortfall."""
        a = state.arrays
        pu = np.where(np.isfinite(market[:, 1]), market[:, 1], 0.0)
        owed = a["supply"] * a["rate"] * pu
        z = np.zeros_like(owed)
        return Accounts(assets_usd=owed.copy(), liabilities_usd=owed, bad_debt_usd=z, reserves_usd=z.copy(),
                        bad_debt_by_asset=np.zeros((owed.shape[0], 2)))  # fmt: skip

    def series(self) -> dict[str, str]:
        return {
            "discount": "1 - market price / (exchange rate x underlying price)",
            "fair_value": "exchange rate x underlying market price, USD",
            "queue": "tokens waiting in the withdrawal queue",
            "capital_free_usd": "queue arbitrageurs' capital not locked in requests",
            "capital_locked_usd": "queue arbitrageurs' capital locked in requests (at cost)",
            "forced_sold": "tokens forced sellers have sold so far",
            "supply": "tokens in circulation",
        }

    def record(self, state: ProtocolState, name: str, market: np.ndarray) -> np.ndarray:
        a = state.arrays
        r = a["rate"]
        if name == "discount":
            return 1.0 - market[:, 0] / np.maximum(r * market[:, 1], _TINY)
        if name == "fair_value":
            return r * market[:, 1]
        simple = {"queue": "queued", "capital_free_usd": "free_usd", "capital_locked_usd": "locked_usd",
                  "forced_sold": "forced_sold", "supply": "supply"}  # fmt: skip
        if name in simple:
            return np.asarray(a[simple[name]], dtype=float).copy()
        return super().record(state, name, market)

    def metrics(self, state: ProtocolState, market: np.ndarray) -> dict[str, np.ndarray]:
        """End-of-run figures per path: the deepest discount seen in a round, tokens bought and queued by
        arbitrageurs, the underlying they claimed, their profit on claims paid, capital still locked, forced sales."""
        a = state.arrays
        return {"max_discount": a["max_discount"].copy(), "arbitrage_bought": a["bought"].copy(),
                "claimed_underlying": a["claimed_underlying"].copy(), "arbitrage_profit_usd": a["profit_usd"].copy(),
                "capital_locked_usd": a["locked_usd"].copy(), "forced_sold": a["forced_sold"].copy()}  # fmt: skip

    def check_conservation(self, state: ProtocolState, out: dict[str, np.ndarray]) -> list[str]:
        """Supply moves only by mint and burn (burned = finalized requests); every token bought is queued; tokens
        sold are the forced sales and the minted ones; capital is only moved between free and locked."""
        a = state.arrays
        problems = []
        tol = 1e-9 * np.maximum.reduce([a["supply0"], a["minted"], a["bought"], np.ones_like(a["supply"])])
        for key in ("supply", "queued", "locked_usd"):
            if np.any(a[key] < -tol):
                problems.append(f"{self.name}: negative {key} ({float(a[key].min()):.3g})")
        if np.any(np.abs(a["supply"] - (a["supply0"] + a["minted"] - a["burned"])) > tol):
            problems.append(f"{self.name}: supply != start + minted - burned")
        if np.any(np.abs(out["repaid"][:, 0] - a["bought"]) > tol):
            problems.append(f"{self.name}: tokens bought != tokens queued")
        if np.any(np.abs(a["queued"] - (a["bought"] - a["burned"])) > tol):
            problems.append(f"{self.name}: queue != bought - finalized")
        if np.any(np.abs(a["q_lst"].sum(axis=1) - a["queued"]) > tol):
            problems.append(f"{self.name}: queue requests do not add up to the queue")
        if np.any(np.abs(out["sold"][:, 0] - a["forced_sold"] - a["minted"]) > tol):
            problems.append(f"{self.name}: tokens sold != forced sales + minted")
        if np.any(np.abs(out["repaid"][:, 1] - a["staked_in"]) > tol):
            problems.append(f"{self.name}: underlying bought != underlying staked")
        return problems
