"""Holders who sell a token ahead of an expected collapse: a stablecoin, an LST, a protocol token (``[agents.holders]``).

A group of holders outside every protocol holds ``float_units`` of a token (UST in wallets, stETH, LUNA) and sells
it into the scenario's venues when it expects the token to collapse. The rule is the threshold equilibrium of a
global game, as for :mod:`firesale.agents.lenders` (Morris and Shin, "Unique Equilibrium in a Model of
Self-Fulfilling Currency Attacks", AER 88(3), 1998; Goldstein and Pauzner, "Demand-Deposit Contracts and the
Probability of Bank Runs", J. Finance 60(3), 2005): each holder sees the fundamental :math:`\\theta` plus private
noise :math:`N(0, \\sigma^2)` and sells when its signal is below the cutoff :math:`\\theta^*`, so that the share of
a continuum of holders whose signal is below it is :math:`\\Phi((\\theta^* - \\theta)/\\sigma)`.

The fundamental is what a unit of the watched asset (``watch``, by default the token itself) is worth now against
what it promises, as a discount:

.. math:: \\theta = \\min\\Big(\\frac{p}{v},\\; c\\Big) - 1, \\qquad
          c = \\frac{(B_0 + \\Delta B)\\, p_B}{(S_0 + \\Delta S)\\, v}

with :math:`p` its market price, :math:`v` its redemption value (``peg_usd``, or its exogenous price: the value
outside the simulated venues, an LST's underlying for a ``derived_from`` token), and, when a ``backing`` asset is
named, :math:`c` the backing's market value per unit owed: the backing's supply :math:`B_0` (``backing_units``)
and the watched asset's supply :math:`S_0` (``watched_supply_units``), each moved by what the protocols minted and
burned since the start (:attr:`firesale.engine._world.World.net_issued`), :math:`p_B` the backing's market price.
For UST backed by LUNA, :math:`c` is LUNA's market capitalisation over UST's supply: the share of its promise the
mint/burn module could still keep if every UST were redeemed. Holders sell on the lesser of the two: the price
that the market pays now and what the backing covers.

Which holders sell. The private noise of each holder is persistent (ASSUMPTION: a holder's view of the token is not
drawn afresh each step), and the stated float is what is held *at the start*, by holders whose signal was then
above the cutoff. At the lowest fundamental seen so far, :math:`\\underline\\theta_t = \\min_{s \\le t}\\theta_s`,
the share of the starting float whose signal has fallen below the cutoff is therefore the conditional probability

.. math:: w_t = \\frac{\\Phi(z_t) - \\Phi(z_0)}{1 - \\Phi(z_0)}, \\qquad
          z_t = \\frac{\\theta^* - \\underline\\theta_t}{\\sigma},

zero at the start and one as the discount grows without bound; holders who sold do not buy back (ASSUMPTION, as
lenders who ran do not come back). This is the brief's "share :math:`\\Phi` of the float not yet sold" read as a
stock, not a per-step hazard: a hazard per step would make the result depend on the step length ``dt``.

How fast. What has decided to sell, :math:`w_t F`, is sold as fast as ``max_sell_share_per_hour`` of the starting
float :math:`F` per hour allows (a holder cannot move a large position at once: exchange deposits, bridges, book
depth); the rest waits for the next step.

Where. Every step, after the behaviour agents (:mod:`firesale.agents.borrowers`, :mod:`.lenders`) and before the
cascade, each group's sale is routed through its ``venues`` as protocols' sales are
(:meth:`firesale.liquidity.venues.VenueSet.sell`: slice by slice to the venue paying most), so it moves pool
balances and book prices: arbitrage then runs on the paths that sold, derived prices are re-read, oracles see the
moved prices, and the cascade (the mint/burn arbitrage, liquidations) starts from there. The sales are their own
flow: per group, ``holders.<group>.sold_units``, ``.sold_value_usd`` (at market before the sale),
``.proceeds_usd``, ``.slippage_usd`` and ``.first_sale_step`` in the run's metrics. No random number is drawn (the
continuum's share is exact), so results depend only on each path's own history, never on the batch.

Replays. A token whose price is replayed (``market.columns``) is refused: its replayed price already contains the
holders' sales. In a replay's baseline pass (``impact = "deviation"``) holders do not act: that pass stands for the
protocols' flows that the replayed prices contain.

The theory derives :math:`\\theta^*` from payoffs the simulation does not have; ``cutoff`` (default -0.05: sell on
a 5 % discount), ``noise`` (0.02) and ``max_sell_share_per_hour`` (0.1) are ASSUMPTION defaults, as for the
lenders, and a scenario says where its own values come from.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from firesale.scenario._types import Name, Positive, SpecModel, refuse

__all__ = ["HolderGroupSpec", "HolderRule", "Holders", "HoldersSpec", "check_holders"]


class HolderGroupSpec(SpecModel):
    """``[[agents.holders.groups]]``: holders of one token who sell it on a global-games cutoff."""

    name: Name = Field(description="The group's name (its metrics are holders.<name>.*).")
    token: Name = Field(description="The asset the group holds and sells.")
    float_units: Positive = Field(
        description="Token units the group holds at the start, outside every protocol."
    )
    venues: list[Name] = Field(
        min_length=1, description="Venues the group sells through (each trades token)."
    )
    watch: Name | None = Field(
        default=None, description="Asset whose discount is the fundamental (default: token)."
    )
    peg_usd: Positive | None = Field(
        default=None,
        description="Redemption value of the watched asset, USD (default: its exogenous price, the value outside "
        "the simulated venues).",
    )
    backing: Name | None = Field(
        default=None,
        description="Asset backing the watched one: the fundamental is capped by the backing's market value per "
        "unit owed (needs backing_units and watched_supply_units).",
    )
    backing_units: Positive | None = Field(
        default=None,
        description="Supply of the backing at the start (moves with what protocols mint and burn).",
    )
    watched_supply_units: Positive | None = Field(
        default=None,
        description="Supply of the watched asset at the start (moves with what protocols mint and burn).",
    )
    cutoff: Annotated[float, Field(lt=0.0, allow_inf_nan=False)] = Field(
        default=-0.05,
        description="theta*: holders whose signal of the discount is below it sell (a negative discount; "
        "ASSUMPTION).",
    )
    noise: Positive = Field(default=0.02, description="sigma: dispersion of the holders' private signals.")
    max_sell_share_per_hour: Positive = Field(
        default=0.1,
        description="Most of the starting float sold per hour (execution speed; ASSUMPTION).",
    )

    @model_validator(mode="after")
    def _backing(self) -> HolderGroupSpec:
        if self.backing is None:
            refuse({k: getattr(self, k) for k in self.given("backing_units", "watched_supply_units")},
                   "has no effect without backing (nothing is covered); remove it")  # fmt: skip
        else:
            missing = [k for k in ("backing_units", "watched_supply_units") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"backing needs {' and '.join(missing)} (the supplies the coverage divides), got "
                                 f"{self.backing!r}")  # fmt: skip
        return self


class HoldersSpec(SpecModel):
    """``[agents.holders]``: token holders outside every protocol who sell ahead of a collapse (off by default)."""

    groups: list[HolderGroupSpec] = Field(min_length=1, description="One entry per group of holders.")

    @model_validator(mode="after")
    def _names(self) -> HoldersSpec:
        seen: set[str] = set()
        for g in self.groups:
            if g.name in seen:
                raise ValueError(f"group names must be unique, got {g.name!r} twice")
            seen.add(g.name)
        return self


def _phi(x: np.ndarray | float) -> np.ndarray:
    from scipy.special import ndtr  # loaded only when holders are on: scipy is slow to import

    return ndtr(x)


class HolderRule:
    """One group's rule: the fundamental and the share of the starting float that has decided to sell.

    ``theta0`` is the fundamental at the scenario's starting prices (the stated float is held by holders whose
    signal was then above the cutoff).
    """

    def __init__(self, spec: HolderGroupSpec, theta0: float) -> None:
        self.cutoff, self.noise, self.theta0 = spec.cutoff, spec.noise, theta0
        self._phi0 = float(_phi((spec.cutoff - theta0) / spec.noise))

    @staticmethod
    def fundamental(price: np.ndarray, value: np.ndarray, coverage: np.ndarray | None = None) -> np.ndarray:
        """:math:`\\min(p / v, c) - 1`, elementwise (``coverage`` None: no backing)."""
        ratio = price / value
        if coverage is not None:
            ratio = np.minimum(ratio, coverage)
        return ratio - 1.0

    def share_selling(self, theta_min: np.ndarray) -> np.ndarray:
        """:math:`(\\Phi(z) - \\Phi(z_0)) / (1 - \\Phi(z_0))` at the lowest fundamental seen, in [0, 1]."""
        phi = _phi((self.cutoff - theta_min) / self.noise)
        return np.clip((phi - self._phi0) / (1.0 - self._phi0), 0.0, 1.0)


class _Group:
    """A group's indices, rule and per-path state for one batch."""

    def __init__(self, spec: HolderGroupSpec, aidx: dict[str, int], vidx: dict[str, int], price0: np.ndarray,
                 n_paths: int, dt: float) -> None:  # fmt: skip
        self.spec = spec
        self.token = aidx[spec.token]
        self.watch = aidx[spec.watch or spec.token]
        self.backing = None if spec.backing is None else aidx[spec.backing]
        self.venues = [vidx[v] for v in spec.venues]
        self.rule = HolderRule(spec, theta0(spec, aidx, price0))
        self.per_step = spec.max_sell_share_per_hour * spec.float_units * dt / 3600.0
        self.theta_min = np.full(n_paths, np.inf)
        z = np.zeros
        self.sold, self.value_usd, self.proceeds_usd = z(n_paths), z(n_paths), z(n_paths)
        self.first_step = np.full(n_paths, -1, dtype=np.int64)

    def theta(self, market: np.ndarray, exo: np.ndarray, net_issued: np.ndarray) -> np.ndarray:
        s = self.spec
        value = np.full(market.shape[0], s.peg_usd) if s.peg_usd is not None else exo[:, self.watch]
        coverage = None
        if self.backing is not None:
            backing = s.backing_units + net_issued[:, self.backing]  # type: ignore[operator]
            owed = s.watched_supply_units + net_issued[:, self.watch]  # type: ignore[operator]
            with np.errstate(divide="ignore", invalid="ignore"):
                coverage = np.where(owed > 0, backing * market[:, self.backing] / (owed * value), np.inf)
        return HolderRule.fundamental(market[:, self.watch], value, coverage)


def theta0(spec: HolderGroupSpec, aidx: dict[str, int], price0: np.ndarray) -> float:
    """The group's fundamental at the starting prices ``price0`` (nothing issued yet)."""
    w = price0[aidx[spec.watch or spec.token]]
    value = spec.peg_usd if spec.peg_usd is not None else w
    ratio = w / value
    if spec.backing is not None and spec.backing_units is not None and spec.watched_supply_units is not None:
        coverage = spec.backing_units * price0[aidx[spec.backing]] / (spec.watched_supply_units * value)
        ratio = min(ratio, coverage)
    return float(ratio - 1.0)


class Holders:
    """Every group of holders, for one batch of paths."""

    def __init__(self, groups: list[_Group]) -> None:
        self.groups = groups

    @classmethod
    def build(cls, bp, n_paths: int) -> Holders | None:  # type: ignore[no-untyped-def]
        """None without ``[agents.holders]``."""
        spec = bp.scenario.spec.agents.holders
        if spec is None:
            return None
        aidx = {a: i for i, a in enumerate(bp.assets)}
        vidx = {v.name: i for i, v in enumerate(bp.scenario.spec.venues)}
        return cls([_Group(g, aidx, vidx, bp.price0, n_paths, bp.dt) for g in spec.groups])

    def act(self, world, time: float, market: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Each group sells what has decided to sell, up to its speed, through its venues; the market after."""
        exo = world.exo_now
        sold_any = np.zeros(market.shape[0], dtype=bool)
        for g in self.groups:
            np.minimum(g.theta_min, g.theta(market, exo, world.net_issued), out=g.theta_min)
            target = g.spec.float_units * g.rule.share_selling(g.theta_min)
            amount = np.clip(target - g.sold, 0.0, g.per_step)
            if not amount.any():
                continue
            g.first_step[(g.first_step < 0) & (amount > 0)] = world.t
            g.value_usd += amount * market[:, g.token]
            g.proceeds_usd += world.venues.sell(g.token, amount, g.venues, market, exo)
            g.sold += amount
            sold_any |= amount > 0
        if not sold_any.any():
            return market
        world.arbitrageurs.run(world.venues, exo, sold_any)  # only paths whose prices the sales moved
        market = world._reprice()
        world.oracles.poke(time, market, world.venues, step_start=False)
        return market

    def metrics(self) -> dict[str, np.ndarray]:
        """``holders.<group>.*`` per path: what each group sold, its value at market, proceeds and slippage."""
        out = {}
        for g in self.groups:
            key = f"holders.{g.spec.name}"
            out[f"{key}.sold_units"] = g.sold.copy()
            out[f"{key}.sold_value_usd"] = g.value_usd.copy()
            out[f"{key}.proceeds_usd"] = g.proceeds_usd.copy()
            out[f"{key}.slippage_usd"] = g.value_usd - g.proceeds_usd
            out[f"{key}.first_sale_step"] = g.first_step.astype(float)
        return out


def check_holders(scenario) -> list[str]:  # type: ignore[no-untyped-def]
    """``[agents.holders]`` against the scenario: one ``FILE: key.path: rule, got VALUE`` line per problem."""
    source, spec = scenario.source, scenario.spec
    h = spec.agents.holders
    if h is None:
        return []
    assets = {a.name: a for a in spec.assets}
    trades = {}
    for v in spec.venues:
        trades[v.name] = {v.asset} if getattr(v, "asset", None) is not None else set(getattr(v, "coins", ()))
    replayed = set(getattr(spec.market, "columns", None) or {})
    out = []
    for g in h.groups:
        where = f"{source}: agents.holders.groups.{g.name}"
        names_ok = True
        for key in ("token", "watch", "backing"):
            value = getattr(g, key)
            if value is not None and value not in assets:
                out.append(
                    f"{where}.{key}: must name an asset of the scenario ({', '.join(assets)}), got {value!r}"
                )
                names_ok = False
        if g.token in replayed:
            out.append(f"{where}.token: its price is replayed (market.columns), which already contains the holders' "
                       f"sales; hold a token whose price the venues make, got {g.token!r}")  # fmt: skip
        for j, v in enumerate(g.venues):
            if v not in trades:
                out.append(
                    f"{where}.venues[{j}]: must name a venue of the scenario ({', '.join(trades)}), got {v!r}"
                )
            elif g.token not in trades[v]:
                out.append(f"{where}.venues[{j}]: venue {v} does not trade {g.token} (it trades "
                           f"{', '.join(sorted(trades[v]))}), got {v!r}")  # fmt: skip
        if names_ok:
            aidx = {a: i for i, a in enumerate(assets)}
            price0 = np.array([a.price for a in spec.assets], dtype=float)
            t0 = theta0(g, aidx, price0)
            if g.cutoff >= t0:
                out.append(f"{where}.cutoff: must be below the fundamental at the starting prices ({t0:.6g}): "
                           f"holders below the cutoff would have sold before the start, got {g.cutoff!r}")  # fmt: skip
    return out
