"""Maker (dss) as a protocol model: vaults per collateral type, Cat/Flipper (March 2020) and Dog/Clipper (2021).

One :class:`MakerModel` holds every vault of one Maker deployment, grouped by collateral type (*ilk*), as arrays
with the path axis first, and each ilk's running auctions in a fixed number of slots (``max_auctions``, the most
auctions one ilk may have running at once on a path; a vault that cannot get a free slot waits and is counted in
``n_unserved``). Two liquidation systems, chosen per ilk:

``flip`` (Maker as on 12 March 2020)
    ``Cat.bite`` takes at most ``lump`` collateral from an unsafe vault with the same share of its debt,
    ``tab = dart * rate * chop``, and kicks an English auction. In the *tend* phase keepers raise the DAI bid for the
    fixed lot (each bid at least ``beg`` times the last, or exactly ``tab``); once the bid reaches ``tab`` the *dent*
    phase lowers the lot for the fixed bid (each lot at most the last over ``beg``), the collateral given up
    returning to the vault owner. Each bid expires after ``ttl``; the auction ends when the last bid expires or at
    ``end`` (``tau`` after the kick), and ``deal`` pays the winner. An auction without bids past ``end`` is restarted
    (``tick``).
``clip`` (Liquidations 2.0)
    ``Dog.bark`` takes the vault (partially when the ``Hole``/``hole`` room minus ``Dirt``/``dirt`` is short,
    with the dust rules) and kicks a Dutch auction at ``top = oracle * buf`` whose price falls along an abacus
    (``linear``, ``stairstep``, ``exponential``). Keepers ``take`` when buying at the auction price and selling
    through the venues pays; ``redo`` restarts an auction older than ``tail`` or cheaper than ``cusp * top``;
    ``tip + chip * tab`` is paid to the keeper who kicks or redoes (minted DAI, a cost to the surplus).

Keepers are the engine's liquidators: they bid and take with their DAI (``inputs.liquidators.capital_usd``
converted at DAI's market price; in a Flipper auction the population's net outlay is the bid increments; with
``keepers.dai_stock`` their DAI in the Vat is a stock for the whole run that bids spend and nothing refills, as
auction-keeper @db35435 works: bids are paid from the Vat balance, which it tops up only on a restart ("After
procuring more Dai, the keeper should be restarted to add Dai to the Vat", README), and with none it does not
bite; Clipper takes may instead be flash-loan style, ``keepers.flash_loans``; with a ``psm`` they mint DAI from
USDC at ``1 + tin`` while it has room and that is cheaper than the market), spend block space (``slots``), pay gas
(``gas_usd``) and want at least ``min_profit_usd``. They see an auction ``keepers.latency`` seconds after its kick
(a latency shorter than the engine's step puts them in the kick's own step, in its later cascade rounds: they
react within the step, not a step late; in the first step, before a step length is known, they wait), and on each
(step, auction) fail with probability ``keepers.failure_prob`` (deterministic, from the per-path random stream, see
below). A keeper values a lot at what the venues would pay for it (``inputs.quotes`` after the round's earlier sales) less gas and
its minimum profit. In a Flipper auction their reservation bid is that value (in DAI) and their reservation lot the
smallest lot whose average proceeds (priced at the full lot's average, which is conservative on a concave curve)
cover ``tab``; being many, they move the auction there by the contract's ``beg`` rules, one bid per auction per
round. An optional *zero bidder* (``keepers.zero_bidder``) bids ``zero_bid_dai`` on any auction without a bid
``zero_bidder_latency`` seconds after its kick (flip.sol needs a bid above the last, so on chain this is the smallest
positive amount; the model books the DAI given, 0 by default): when no other keeper bids before ``ttl`` it wins the
lot for that, as the bids reported as "0 DAI" did on 12-13 March 2020.

Gas (``keepers.gas_strategy``). Every keeper bite/bark, redo, bid and take is a transaction at the keepers' gas price
and is mined in a step only when that price is at least the step's market gas price (``liquidators.gas_gwei``, the
engine's gas series); otherwise it waits (the vault stays unbitten, the bid unplaced). ``always``: every transaction
lands (no gas rule); ``fixed``: ``gas_price_gwei``, a bidding model's ``gasPrice``; ``node``: the price the node
suggests, taken as the previous step's market price, and a pending bid keeps the price it was sent at until it is
mined (auction-keeper ``main.py`` @db35435 replaces a pending bid only when the model outputs a higher gas price; a
model without ``gasPrice`` leaves the price to the node, pymaker ``DefaultGasPrice``). The zero bidder sends at
``zero_bidder_gas_gwei`` (None: whatever the market asks, it always lands). Deals are not gated.

Block space priced by gas (``[agents.block_space]``, :meth:`MakerModel._room`). When the engine gives the step's
mined gas price quantiles (``liquidators.gas_quantiles``), a keeper transaction at price ``g`` is mined while the
step still has room for it at ``g``: miners fill blocks by price, so it can take the step's mined gas priced below
``g`` (:meth:`firesale.protocols.base.LiquidatorCapacity.block_slots`); the liquidators' ``slots`` are the room at
the market price less what the step used, so the room at ``g`` is ``slots + block_slots(g) - block_slots(market)``.
This replaces the "at least the market price" rule (``always`` keeps the market price's room). Under ``node`` the
price is the previous step's lowest quantile: go-ethereum's oracle (1.9 series, ``eth/gasprice/gasprice.go``:
``getBlockPrices`` takes each block's lowest price, ``SuggestPrice`` their 60th percentile over 20 blocks, defaults in
``eth/config.go``) is a low-tail statistic the quantiles do not resolve (ASSUMPTION).

The Vow as in dss ``vow.sol``. Stability fees (``duty``), bids and takes add to its surplus (``joy``). A bite/bark
grabs the auction's debt ``due = dart * rate`` to the Vow (``Awe``) and queues it in ``sin`` at its time (``fess``);
keeper incentives are minted by ``vat.suck`` and add to ``Awe`` at once. Each round queued debt older than
``flop.wait`` is ``flog``-ged, the free debt ``Woe = Awe - Sin`` is ``heal``-ed with the surplus, and what is left
is covered by ``Flop`` in whole lots of ``flop.sump`` DAI (only when the surplus is 0; a huge ``sump`` switches Flop
off), each lot bid at once by minting MKR at the MKR price less a linear impact,
``p(m) = p0 (1 - elasticity * (M + m) / supply)`` (no lot beyond what minting can raise, ``p0 supply / (4
elasticity)``). The realised deficit the books report is the debt of ended auctions and incentives that neither the
surplus nor Flop covered: ``max(Awe - claims of live auctions - joy, 0)``, a live auction's claim (its ``due`` and the
incentives paid on it) being answered for by its lot until it ends.

Loops. Each round visits every auction slot of every ilk on every path, and the keepers' actions on a path are
sequential (each spends what the next one sees), so the Flipper's deal, tick and bids and the Clipper's redo and take
run slot by slot in compiled kernels (:mod:`firesale.protocols._auction_kernels`), bit-identical to the NumPy
reference they replace (``MakerModel.kernel = "numpy"``, kept for the tests); the bites and barks stay vectorized.

Random stream. :meth:`MakerModel.init_state` takes a ``numpy.random.Generator`` (the engine passes the model's
block generator, e.g. :func:`firesale.engine.seeding.block_generator`); without one it derives
``SeedSequence(entropy=spec.seed, spawn_key=(crc32(name),))``. It draws one 64-bit key per path; every keeper
failure is a counter-based uniform of (path key, step time, ilk, slot), so outcomes do not depend on the order or
number of rounds, only on the generator a block of paths is given.

References
----------
makerdao/dss ``src/cat.sol`` (``bite``) and ``src/flip.sol`` (``kick``, ``tick``, ``tend``, ``dent``, ``deal``) at
commit ``f632302`` (2020-01-22; the logic of the November 2019 launch, live in March 2020);
``src/dog.sol``, ``src/clip.sol``, ``src/abaci.sol``, ``src/vow.sol``, ``src/flop.sol`` at commit ``fa4f6630``;
makerdao/developer-portal ``flipper-detailed-documentation.md``; makerdao/auction-keeper ``auction_keeper/main.py`` and
``README.md`` @db35435 (2020-03-10) and makerdao/pymaker ``pymaker/gas.py`` for the keepers' gas prices. The exact reference of Liquidations 2.0 is
:mod:`firesale.mechanics.maker`, which this model is tested against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from firesale.protocols import _auction_kernels as _kernels
from firesale.protocols._cdp import Quotes, model_key, spec_error, uniforms
from firesale.protocols.base import (
    Accounts,
    Flows,
    ProtocolModel,
    ProtocolState,
    RoundInputs,
    register_protocol,
)
from firesale.scenario._types import Fraction, Name, NonNegative, Positive, SpecModel

__all__ = [
    "ClipSpec",
    "FlipSpec",
    "FlopSpec",
    "IlkSpec",
    "KeeperSpec",
    "MakerModel",
    "MakerSpec",
    "PsmSpec",
    "VaultSpec",
    "abacus_price",
    "bark_amounts",
    "take_amounts",
]

_YEAR = 365.0 * 86_400.0
_GUY_NONE, _GUY_ZERO, _GUY_KEEPER = _kernels.GUY_NONE, _kernels.GUY_ZERO, _kernels.GUY_KEEPER
# the slot arrays the auction kernels read and write (views of one ilk's slots)
_SLOT_KEYS = ("a_live", "a_guy", "a_tic", "a_end", "a_top", "a_lot", "a_tab", "a_bid", "a_due", "a_gas", "a_rew",
              "a_seen", "a_zseen")  # fmt: skip
AtLeastOne = Annotated[float, Field(ge=1.0, allow_inf_nan=False)]


# --- specs --------------------------------------------------------------------------------------------------------


class FlipSpec(SpecModel):
    """Cat/Flipper parameters of an ilk (March 2020). ``beg`` is the contract's multiplier (1.03 = 3 %)."""

    lump: Positive = Field(description="Collateral per auction (Cat.ilks.lump), token units.")
    beg: AtLeastOne = Field(default=1.05, description="Minimum bid increase factor (flip.sol default 1.05).")
    ttl: Positive = Field(default=10_800.0, description="Bid lifetime, seconds (flip.sol default 3 hours).")
    tau: Positive = Field(default=172_800.0, description="Auction length, seconds (flip.sol default 2 days).")


class ClipSpec(SpecModel):
    """Dog/Clipper parameters of an ilk (Liquidations 2.0)."""

    hole: Positive = Field(description="Most DAI (tab) the ilk's running auctions may need (Dog.ilks.hole).")
    buf: AtLeastOne = Field(default=1.2, description="Starting price over the oracle price.")
    tail: Positive = Field(default=8_400.0, description="Seconds before an auction needs a redo.")
    cusp: Fraction = Field(default=0.4, description="Share of top below which an auction needs a redo.")
    chip: Fraction = Field(default=0.001, description="Keeper incentive as a share of tab.")
    tip: NonNegative = Field(default=300.0, description="Flat keeper incentive, DAI.")
    calc: Literal["linear", "stairstep", "exponential"] = "stairstep"
    tau: Positive | None = Field(default=None, description="LinearDecrease: seconds to zero.")
    step: Positive | None = Field(default=90.0, description="StairstepExponentialDecrease: seconds per cut.")
    cut: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = Field(
        default=0.99, description="Exponential abaci: price factor per step (stairstep) or second."
    )

    @model_validator(mode="after")
    def _calc_params(self) -> ClipSpec:
        if self.calc == "linear" and self.tau is None:
            raise spec_error("ClipSpec", ("tau",), "missing_tau", "required when calc = 'linear'", None)
        if self.calc == "stairstep" and self.step is None:
            raise spec_error("ClipSpec", ("step",), "missing_step", "required when calc = 'stairstep'", None)
        return self


class IlkSpec(SpecModel):
    """One collateral type: its asset, oracle (an OSM-style delayed feed in the scenario), risk parameters and
    liquidation system (exactly one of ``flip`` and ``clip``)."""

    collateral: Name
    oracle: Name
    mat: AtLeastOne = Field(description="Liquidation ratio (1.5 = 150 %).")
    line: NonNegative = Field(description="Debt ceiling, DAI.")
    dust: NonNegative = Field(default=0.0, description="Minimum vault debt, DAI.")
    duty: NonNegative = Field(default=0.0, description="Stability fee, per year (0.02 = 2 %).")
    chop: AtLeastOne = Field(default=1.13, description="Liquidation penalty factor (1.13 = 13 %).")
    venues: list[Name] = Field(default_factory=list, description="Where keepers sell the collateral.")
    max_auctions: int = Field(default=64, gt=0, le=4096, description="Auction slots per path.")
    flip: FlipSpec | None = None
    clip: ClipSpec | None = None

    @model_validator(mode="after")
    def _one_system(self) -> IlkSpec:
        if (self.flip is None) == (self.clip is None):
            raise spec_error(
                "IlkSpec", ("flip",), "one_system", "exactly one of flip and clip must be given", self.flip
            )
        return self


class VaultSpec(SpecModel):
    """A vault (or a cohort of identical vaults merged): collateral ``ink`` and normalised debt ``art``."""

    ilk: Name
    ink: NonNegative
    art: NonNegative = Field(description="Normalised debt; DAI owed is art * rate (rate starts at 1).")


class KeeperSpec(SpecModel):
    """How keepers see and reach the chain (their capital, gas and profit floor come from the engine)."""

    latency: NonNegative = Field(
        default=0.0,
        description=(
            "Seconds after a kick before keepers see it; shorter than the step: they act within the kick's step."
        ),
    )
    failure_prob: Fraction = Field(default=0.0, description="Chance a keeper fails on an auction in a step.")
    capital_dai: NonNegative | None = Field(
        default=None, description="Keepers' own DAI cap per round (None: only the engine's capital)."
    )
    dai_stock: NonNegative | None = Field(
        default=None,
        description=(
            "Keepers' DAI in the Vat for the whole run, spent by their bids and takes and not refilled (None: no "
            "stock, only the per-step capital). With no DAI left they neither bid nor bite (a zero bidder still "
            "bites)."
        ),
    )
    flash_loans: bool = Field(
        default=False, description="Clipper takes are flash-loan style (clipperCall): no DAI needed up front."
    )
    zero_bidder: bool = Field(
        default=False, description="Whether someone bids zero_bid_dai on unbid auctions."
    )
    zero_bid_dai: NonNegative = 0.0
    zero_bidder_latency: NonNegative = Field(
        default=0.0,
        description="Seconds after a kick before the zero bidder sees it (same step rule as latency).",
    )
    gas_strategy: Literal["always", "fixed", "node"] = Field(
        default="always",
        description=(
            "Gas price of keepers' kicks, bids and takes: 'always' (every action lands), 'fixed' (gas_price_gwei, "
            "a bidding model's gasPrice) or 'node' (the node's suggestion, the market price of the step before, "
            "kept for an auction's pending bid until it lands). A transaction lands only when its gas price is at "
            "least the step's market gas price."
        ),
    )
    gas_price_gwei: Positive | None = Field(
        default=None, description="Keepers' gas price when gas_strategy = 'fixed'."
    )
    zero_bidder_gas_gwei: Positive | None = Field(
        default=None,
        description="The zero bidder's gas price (None: it pays what the market asks and always lands).",
    )

    @model_validator(mode="after")
    def _gas(self) -> KeeperSpec:
        if self.gas_strategy == "fixed" and self.gas_price_gwei is None:
            raise spec_error(
                "KeeperSpec",
                ("gas_price_gwei",),
                "missing_gas_price",
                "required when gas_strategy = 'fixed'",
                None,
            )
        if self.gas_strategy != "fixed" and self.gas_price_gwei is not None:
            raise spec_error(
                "KeeperSpec", ("gas_price_gwei",), "unused_gas_price", "only read when gas_strategy = 'fixed'",
                self.gas_price_gwei,
            )  # fmt: skip
        if self.zero_bidder_gas_gwei is not None and not self.zero_bidder:
            raise spec_error(
                "KeeperSpec", ("zero_bidder_gas_gwei",), "unused_zero_gas", "only read when zero_bidder = true",
                self.zero_bidder_gas_gwei,
            )  # fmt: skip
        return self


class PsmSpec(SpecModel):
    """The Peg Stability Module as the keepers' source of DAI: USDC (at $1) in, DAI out at ``1 + tin``."""

    line: NonNegative = Field(description="DAI the PSM can still mint (its debt ceiling less its debt).")
    tin: Fraction = Field(default=0.0, description="Fee on USDC -> DAI.")


class FlopSpec(SpecModel):
    """The Vow's debt queue and debt auctions: MKR minted to cover a deficit, with a linear price impact.

    ``wait`` is ``Vow.wait`` (seconds a bite's debt stays in the ``sin`` queue before ``flog``), ``sump`` is
    ``Vow.sump`` (DAI per Flop lot; a very large one, as Maker's 2023-on ``sump`` = max, switches Flop off).
    """

    wait: NonNegative = Field(default=0.0, description="Vow.wait, seconds before queued debt can be flogged.")
    sump: Positive = Field(
        default=50_000.0, description="Vow.sump, DAI per Flop lot (dss-deploy-scripts 50,000)."
    )
    mkr_price: Positive = Field(default=1000.0, description="MKR price (USD) when MKR is not a model asset.")
    mkr_supply: Positive = Field(default=1_000_000.0)
    elasticity: NonNegative = Field(default=1.0, description="Relative price drop per unit of supply minted.")


class MakerSpec(SpecModel):
    """A Maker deployment. Scenario ``type = "maker"``."""

    name: Name
    type: Literal["maker"]
    dai: Name = "DAI"
    dai_oracle: Name | None = None
    dai_venues: list[Name] = Field(default_factory=list)
    mkr: Name | None = Field(default=None, description="MKR as a model asset (its market price drives Flop).")
    ilks: dict[Name, IlkSpec] = Field(min_length=1)
    vaults: list[VaultSpec] = Field(default_factory=list)
    Hole: Positive | None = Field(default=None, description="Dog.Hole, DAI (None: unlimited).")
    surplus_dai: NonNegative = Field(default=0.0, description="Vow surplus at the start.")
    keepers: KeeperSpec = KeeperSpec()
    psm: PsmSpec | None = Field(default=None, description="A PSM keepers draw DAI from when it is cheaper.")
    flop: FlopSpec = FlopSpec()
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _vault_ilks(self) -> MakerSpec:
        for i, v in enumerate(self.vaults):
            if v.ilk not in self.ilks:
                raise spec_error(
                    "MakerSpec",
                    ("vaults", i, "ilk"),
                    "unknown_ilk",
                    f"must be one of {sorted(self.ilks)}",
                    v.ilk,
                )
        oracle_of: dict[str, str] = {}
        for name, ilk in self.ilks.items():
            if oracle_of.setdefault(ilk.collateral, ilk.oracle) != ilk.oracle:
                raise spec_error(
                    "MakerSpec", ("ilks", name, "oracle"), "oracle_conflict",
                    f"must be {oracle_of[ilk.collateral]!r} like the other ilks of {ilk.collateral}", ilk.oracle,
                )  # fmt: skip
            if ilk.collateral in (self.dai, self.mkr):
                raise spec_error(
                    "MakerSpec", ("ilks", name, "collateral"), "bad_collateral",
                    "must not be the dai or mkr asset", ilk.collateral,
                )  # fmt: skip
        debt: dict[str, float] = {}
        for v in self.vaults:
            debt[v.ilk] = debt.get(v.ilk, 0.0) + v.art
        for name, d in debt.items():
            if d > self.ilks[name].line * (1 + 1e-12):
                raise spec_error(
                    "MakerSpec", ("ilks", name, "line"), "line_exceeded",
                    f"must cover the vaults' debt {d:.6g}", self.ilks[name].line,
                )  # fmt: skip
        return self


# --- vectorized Liquidations 2.0 arithmetic (held to firesale.mechanics.maker) ------------------------------------


def abacus_price(
    calc: str, top: np.ndarray, dur: np.ndarray, tau: float = 0.0, step: float = 1.0, cut: float = 1.0
) -> np.ndarray:
    """Clipper price after ``dur`` seconds from ``top`` (abaci.sol), float64, any broadcastable shapes.

    ``linear``: ``top * (tau - dur) / tau`` (0 from ``tau`` on); ``stairstep``: ``top * cut ** floor(dur / step)``;
    ``exponential``: ``top * cut ** dur``.

    Examples
    --------
    >>> float(abacus_price("linear", np.array(1000.0), np.array(360.0), tau=3600.0))
    900.0
    """
    top = np.asarray(top, dtype=float)
    dur = np.maximum(np.asarray(dur, dtype=float), 0.0)
    if calc == "linear":
        return np.where(dur >= tau, 0.0, top * np.maximum(tau - dur, 0.0) / tau)
    if calc == "stairstep":
        return top * np.power(cut, np.floor(dur / step))
    return top * np.power(cut, dur)


def bark_amounts(
    ink: np.ndarray, art: np.ndarray, rate: np.ndarray, chop: float, room: np.ndarray, dust: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What ``Dog.bark`` takes from vaults given the liquidation room left (dog.sol), elementwise.

    Parameters
    ----------
    ink, art, rate, room : ndarray
        Collateral, normalised debt, the ilk's rate and ``min(Hole - Dirt, hole - dirt)`` [DAI], broadcastable.
    chop, dust : float
        Penalty factor and dust [DAI].

    Returns
    -------
    ok, dart, dink, due, tab : ndarray
        Whether the bark goes through (room > 0, not a dusty partial, a non-zero lot), and its normalised debt,
        collateral, debt ``dart * rate`` and target ``due * chop``; zero where not ``ok``.
    """
    dart = np.minimum(art, np.where(rate > 0, room / np.where(rate > 0, rate, 1.0) / chop, 0.0))
    partial = art > dart
    dusty_rest = partial & ((art - dart) * rate < dust)
    dart = np.where(dusty_rest, art, dart)
    bad = partial & ~dusty_rest & (dart * rate < dust)
    dink = np.where(dart >= art, ink, np.where(art > 0, ink * dart / np.where(art > 0, art, 1.0), 0.0))
    ok = (room > 0) & ~bad & (dink > 0)
    dart = np.where(ok, dart, 0.0)
    dink = np.where(ok, dink, 0.0)
    due = dart * rate
    return ok, dart, dink, due, due * chop


def take_amounts(
    lot: np.ndarray, tab: np.ndarray, price: np.ndarray, amt: np.ndarray, chost: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Clipper.take`` of up to ``amt`` collateral at ``price`` (clip.sol), elementwise.

    Returns
    -------
    ok, slice, owe : ndarray
        Whether it goes through (not a forbidden partial purchase, a positive price), the collateral bought and the
        DAI paid (capped at ``tab``; a partial purchase may not leave ``0 < tab < chost``).
    """
    sl = np.minimum(lot, amt)
    owe = sl * price
    safe_price = np.where(price > 0, price, 1.0)
    over = owe > tab
    owe = np.where(over, tab, owe)
    sl = np.where(over, tab / safe_price, sl)
    chost_case = ~over & (owe < tab) & (sl < lot) & (tab - owe < chost)
    refused = chost_case & ~(tab > chost)
    owe = np.where(chost_case & ~refused, tab - chost, owe)
    sl = np.where(chost_case & ~refused, (tab - chost) / safe_price, sl)
    ok = ~refused & (price > 0)
    return ok, np.where(ok, sl, 0.0), np.where(ok, owe, 0.0)


# --- the model ----------------------------------------------------------------------------------------------------


@dataclass
class MakerState(ProtocolState):
    """Per-path state; every array is in ``arrays`` (path axis first):

    ``ink``, ``art`` (n_paths, n_vaults); ``rate``, ``dirt``, ``t_last`` (n_paths, n_ilks) / (n_paths,); the
    auctions ``a_live``, ``a_lot``, ``a_tab``, ``a_bid`` (DAI raised so far), ``a_due``, ``a_usr`` (vault), ``a_tic``
    (flip: bid expiry; clip: start), ``a_end``, ``a_top``, ``a_seen``, ``a_guy`` (n_paths, n_ilks, max_slots);
    ``a_gas`` (the keepers' pending bid's gas price, 0: none); the market gas price of this and the previous step
    ``gas_now``, ``gas_prev`` (at ``gas_t``); the Vow ``surplus`` (joy), ``awe`` (its bad debt), the ``sin`` queue
    ``sin_q`` / ``sin_t`` (amount and era, one column per kick time), ``deficit`` (realised, gross: Flop's plus
    uncovered), ``flopped`` (DAI raised by Flop), ``mkr_minted``, ``uncovered`` (realised and not covered),
    ``zero_usd`` (market value of the lots zero bids won); counters ``n_kicks``, ``n_deals``, ``n_zero``; and the collateral ledgers ``sold``,
    ``returned``, ``coll0`` (n_paths, n_assets), ``path_key``.
    """

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


@register_protocol(MakerSpec)
class MakerModel(ProtocolModel):
    """Maker vaults, bites/barks and collateral auctions; see the module docstring for the mechanism.

    Build with :meth:`build` from a :class:`MakerSpec` (or :meth:`from_parts` in tests and benchmarks).
    """

    types = ("maker",)
    monotone_in_price = False  # keepers bid less, or not at all, when prices fall
    # the auctions' loops: compiled (firesale.protocols._auction_kernels) or the NumPy reference ("numpy"),
    # bit-identical (tests/unit/protocols/test_auction_kernels.py)
    kernel = "numba"

    def __init__(self, spec: MakerSpec, vault_ilk: np.ndarray, ink: np.ndarray, art: np.ndarray) -> None:
        self.spec = spec
        self.name = spec.name
        self.ilk_names = tuple(spec.ilks)
        ilks = [spec.ilks[n] for n in self.ilk_names]
        collaterals: list[str] = []
        for ilk in ilks:
            if ilk.collateral not in collaterals:
                collaterals.append(ilk.collateral)
        assets = [*collaterals, spec.dai]
        oracles = [next(i.oracle for i in ilks if i.collateral == c) for c in collaterals]
        oracles.append(spec.dai_oracle or "")
        venues = [
            tuple(dict.fromkeys(v for i in ilks if i.collateral == c for v in i.venues)) for c in collaterals
        ]
        venues.append(tuple(spec.dai_venues))
        if spec.mkr is not None:
            assets.append(spec.mkr)
            oracles.append("")
            venues.append(())
        self.assets = tuple(assets)
        self.oracles = tuple(oracles)
        self.sale_venues = tuple(venues)
        self.dai_index = len(collaterals)
        self.mkr_index = len(collaterals) + 1 if spec.mkr is not None else -1
        self.ilk_asset = np.array([collaterals.index(i.collateral) for i in ilks], dtype=np.int64)
        # Within an ilk, vaults are kept riskiest first (art / ink descending). Bites and barks take the same share
        # of a vault's collateral and debt, and fees scale every vault's debt alike, so this order never changes:
        # the unsafe vaults of a path are always among a prefix found by one binary search.
        ink, art = np.asarray(ink, dtype=float), np.asarray(art, dtype=float)
        ratio = np.where(ink > 0, art / np.where(ink > 0, ink, 1.0), -1.0)
        order = np.lexsort((-ratio, np.asarray(vault_ilk)))
        self.vault_ilk = np.asarray(vault_ilk, dtype=np.int64)[order]
        self._ink0 = np.asarray(ink, dtype=float)[order]
        self._art0 = np.asarray(art, dtype=float)[order]
        bounds = np.searchsorted(self.vault_ilk, np.arange(len(ilks) + 1))
        self.vault_slices = tuple(slice(int(bounds[i]), int(bounds[i + 1])) for i in range(len(ilks)))
        self.max_slots = max(i.max_auctions for i in ilks)
        self._neg_ratio = tuple(-ratio[order][sl] for sl in self.vault_slices)

    # construction
    @classmethod
    def build(cls, spec: Any, scenario: Any, **options: Any) -> MakerModel:
        """The model of ``spec`` (a :class:`MakerSpec`); ``scenario`` is not read beyond what the spec names."""
        names = list(spec.ilks)
        vault_ilk = np.array([names.index(v.ilk) for v in spec.vaults], dtype=np.int64)
        ink = np.array([v.ink for v in spec.vaults], dtype=float)
        art = np.array([v.art for v in spec.vaults], dtype=float)
        return cls(spec, vault_ilk, ink, art)

    @classmethod
    def from_parts(
        cls, spec: MakerSpec, vault_ilk: np.ndarray, ink: np.ndarray, art: np.ndarray
    ) -> MakerModel:
        """A model whose vaults come as arrays (``spec.vaults`` is ignored): for generated books and benchmarks.

        Parameters
        ----------
        spec : MakerSpec
        vault_ilk : ndarray of int, shape (n_vaults,)
            Index into ``spec.ilks`` (insertion order) of each vault.
        ink, art : ndarray of shape (n_vaults,)
        """
        return cls(spec, vault_ilk, ink, art)

    def init_state(self, n_paths: int, rng: np.random.Generator | None = None) -> MakerState:
        """The starting book on ``n_paths`` paths; ``rng`` keys the keepers' failures (module docstring)."""
        if rng is None:
            ss = np.random.SeedSequence(entropy=self.spec.seed, spawn_key=(model_key(self.name),))
            rng = np.random.Generator(np.random.PCG64(ss))
        n_i, n_s, n_a = len(self.ilk_names), self.max_slots, len(self.assets)
        z3 = np.zeros((n_paths, n_i, n_s))
        coll0 = np.zeros((n_paths, n_a))
        for i, sl in enumerate(self.vault_slices):
            coll0[:, self.ilk_asset[i]] += self._ink0[sl].sum()
        arrays = {
            "ink": np.tile(self._ink0, (n_paths, 1)),
            "art": np.tile(self._art0, (n_paths, 1)),
            "rate": np.ones((n_paths, n_i)),
            "dirt": np.zeros((n_paths, n_i)),
            "first_alive": np.zeros((n_paths, n_i), dtype=np.int64),
            "t_last": np.full(n_paths, np.nan),
            "a_live": np.zeros((n_paths, n_i, n_s), dtype=bool),
            "a_lot": z3.copy(), "a_tab": z3.copy(), "a_bid": z3.copy(), "a_due": z3.copy(),
            "a_usr": np.zeros((n_paths, n_i, n_s), dtype=np.int64),
            "a_tic": z3.copy(), "a_end": z3.copy(), "a_top": z3.copy(), "a_seen": z3.copy(),
            "a_zseen": z3.copy(),
            "a_guy": np.zeros((n_paths, n_i, n_s), dtype=np.int8),
            "a_gas": z3.copy(), "a_rew": z3.copy(),
            "gas_prev": np.full(n_paths, np.nan), "gas_now": np.full(n_paths, np.nan),
            "gas_t": np.full(n_paths, np.nan),
            "t_step": np.full(n_paths, np.nan), "dt_step": np.zeros(n_paths),
            "dai_left": np.full(n_paths, np.inf if (d := self.spec.keepers.dai_stock) is None else d),
            "surplus": np.full(n_paths, self.spec.surplus_dai),
            "awe": np.zeros(n_paths), "sin_q": np.zeros((n_paths, 0)), "sin_t": np.zeros((n_paths, 0)),
            "deficit": np.zeros(n_paths), "flopped": np.zeros(n_paths), "mkr_minted": np.zeros(n_paths),
            # policy controls (firesale.policies): a factor on each ilk's mat, the liquidation pause's floor
            "mat_factor": np.ones((n_paths, n_i)), "pause_floor": np.ones(n_paths), "backstop_dai": np.zeros(n_paths),
            "uncovered": np.zeros(n_paths),
            "psm_left": np.full(n_paths, self.spec.psm.line if self.spec.psm is not None else 0.0),
            "psm_minted": np.zeros(n_paths), "incentives": np.zeros(n_paths),
            "shortfall": np.zeros((n_paths, n_i)),
            "n_kicks": np.zeros(n_paths, dtype=np.int64), "n_deals": np.zeros(n_paths, dtype=np.int64),
            "n_zero": np.zeros(n_paths, dtype=np.int64), "zero_usd": np.zeros(n_paths),
            "sold": np.zeros((n_paths, n_a)), "returned": np.zeros((n_paths, n_a)), "coll0": coll0,
            "path_key": rng.integers(0, 2**63 - 1, size=n_paths, dtype=np.int64).astype(np.uint64),
        }  # fmt: skip
        return MakerState(arrays=arrays)

    # one round
    def round(self, state: ProtocolState, inputs: RoundInputs) -> Flows:
        """Accrue fees, settle finished auctions, bite/bark unsafe vaults, let keepers bid or take, run Flop."""
        a = state.arrays
        n_paths, n_a = a["ink"].shape[0], len(self.assets)
        flows = Flows.empty(self.name, n_paths, n_a)
        flows.minted = np.zeros((n_paths, n_a))
        act = np.asarray(inputs.active, dtype=bool)
        t = float(inputs.time)
        dai_px = np.where(inputs.market[:, self.dai_index] > 0, inputs.market[:, self.dai_index], 1e-12)
        sold_usd = np.zeros((n_paths, n_a))  # this round's sales, for the quotes
        quotes = Quotes(inputs.quotes, act, n_a)
        own_dai = np.full(
            n_paths, np.inf if self.spec.keepers.capital_dai is None else self.spec.keepers.capital_dai
        )
        stock = self.spec.keepers.dai_stock is not None
        if stock:  # the Vat balance left, spent in place by _spend through own_dai
            own_dai = np.minimum(own_dai, a["dai_left"])
            own_start = own_dai.copy()
        self._accrue(a, act, t)
        self._step_clock(a, t)
        self._gas_market(a, inputs.liquidators, t)
        for i, name in enumerate(self.ilk_names):
            ilk = self.spec.ilks[name]
            if ilk.flip is not None:
                self._flip_round(a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai)
            else:
                self._clip_round(a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai)
        if stock:
            a["dai_left"] = np.maximum(a["dai_left"] - (own_start - own_dai), 0.0)
        self._vow(a, act, t, inputs)
        return flows

    # -- keepers' clock --
    @staticmethod
    def _step_clock(a: dict[str, np.ndarray], t: float) -> None:
        """Remember the step's time and the length of the last step (0 until two steps have been seen)."""
        new = ~(a["t_step"] == t)
        a["dt_step"] = np.where(new & ~np.isnan(a["t_step"]), t - a["t_step"], a["dt_step"])
        a["t_step"] = np.where(new, t, a["t_step"])

    @staticmethod
    def _seen_at(a: dict[str, np.ndarray], rows: np.ndarray, t: float, latency: float) -> np.ndarray:
        """When an agent with ``latency`` first acts on an auction kicked at ``t`` on paths ``rows``.

        A latency shorter than the step means the agent sees the kick within the step in which it was mined
        (auction-keeper reacts on every block, makerdao/auction-keeper README @db35435), so it acts in that step's
        later cascade rounds, against the same block space and gas market as the kick. Rounding such a latency up
        to the next step would judge every bid against the next step's gas price, a whole step late. A latency of
        at least a step delays the agent to ``t + latency``.
        """
        short = (latency < a["dt_step"][rows]) | (latency == 0.0)
        return np.where(short, t, t + latency)

    # -- keepers' gas --
    def _gas_market(self, a: dict[str, np.ndarray], liq: Any, t: float) -> None:
        """Remember the market gas price of this step and of the step before (the node's suggestion).

        With a gas price distribution (``[agents.block_space]``) the price remembered is the step's lowest given
        quantile: go-ethereum's oracle suggests the 60th percentile of the *lowest* price of each of the last 20
        blocks (eth/gasprice/gasprice.go of the 1.9 series, getBlockPrices / SuggestPrice; eth/config.go GPO
        Blocks 20, Percentile 60), a low-tail statistic of the mined prices that the replayed quantiles do not
        resolve; their lowest quantile is the nearest they give (ASSUMPTION, most likely above the node's figure).
        """
        g = getattr(liq, "gas_gwei", None)
        if g is None:
            return
        q = getattr(liq, "gas_quantiles", None)
        g = np.asarray(g if q is None else q[:, 0], dtype=float)
        new = ~(a["gas_t"] == t)
        a["gas_prev"] = np.where(new, np.where(np.isnan(a["gas_now"]), g, a["gas_now"]), a["gas_prev"])
        a["gas_now"] = np.where(new, g, a["gas_now"])
        a["gas_t"] = np.where(new, t, a["gas_t"])

    def _keeper_gwei(self, a: dict[str, np.ndarray]) -> np.ndarray:
        """The gas price a keeper sends a new transaction at, per path (``inf``: it always lands)."""
        kp = self.spec.keepers
        n = a["surplus"].shape[0]
        if kp.gas_strategy == "always" or np.all(np.isnan(a["gas_now"])):
            return np.full(n, np.inf)
        if kp.gas_strategy == "fixed":
            return np.full(n, float(kp.gas_price_gwei))  # type: ignore[arg-type]
        return np.where(np.isnan(a["gas_prev"]), np.inf, a["gas_prev"])

    @staticmethod
    def _lands(a: dict[str, np.ndarray], gwei: np.ndarray) -> np.ndarray:
        """Whether a transaction at ``gwei`` is included this step: at least the step's market gas price."""
        market = np.where(np.isnan(a["gas_now"]), 0.0, a["gas_now"])
        return gwei >= market

    def _priced(self, liq: Any) -> bool:
        """Whether keepers' transactions are priced against the step's gas price distribution (block space)."""
        return self.spec.keepers.gas_strategy != "always" and getattr(liq, "gas_quantiles", None) is not None

    def _room(self, a: dict[str, np.ndarray], liq: Any, gwei: np.ndarray) -> np.ndarray:
        """Keeper transactions at ``gwei`` that still fit in the step, per path (int64).

        Without a gas price distribution: the step's block space left (``liq.slots``) if ``gwei`` is at least the
        market price, else 0. With one (``[agents.block_space]``): miners fill blocks by price, so a transaction at
        ``gwei`` can take the step's mined gas priced below it, ``liq.block_slots(gwei)``; ``liq.slots`` is that at
        the market price less what the step has used, so the room at ``gwei`` is ``liq.slots +
        block_slots(gwei) - block_slots(market)`` (a price above the market's buys more room, one below it less).
        """
        if not self._priced(liq):
            return np.where(self._lands(a, gwei), liq.slots, 0)
        return liq.slots + self._block_slots(liq, gwei) - self._block_slots(liq, liq.gas_gwei)

    def _block_slots(self, liq: Any, gwei: np.ndarray) -> np.ndarray:
        """``liq.block_slots(gwei)``, remembered for the step's capacity object (the same few prices are asked
        for every auction slot and round)."""
        cache: tuple[Any, dict[bytes, np.ndarray]] | None = getattr(self, "_bs_cache", None)
        if cache is None or cache[0] is not liq:
            cache = (liq, {})
            self._bs_cache = cache
        g = np.ascontiguousarray(np.broadcast_to(np.asarray(gwei, dtype=float), liq.slots.shape))
        key = g.tobytes()
        if key not in cache[1]:
            cache[1][key] = liq.block_slots(g)
        return cache[1][key]

    def _slots_ok(self, liq: Any) -> np.ndarray | bool:
        """Block space as a precondition of a keeper's decision: left at all (without a distribution; with one,
        whether a transaction fits depends on its price and is judged by :meth:`_room` when it is sent)."""
        return True if self._priced(liq) else liq.slots > 0

    def _zero_lands(self, a: dict[str, np.ndarray], liq: Any, gwei: np.ndarray) -> np.ndarray:
        """Whether the zero bidder's bid at ``gwei`` is mined (it takes no keeper block space, see the docs)."""
        if getattr(liq, "gas_quantiles", None) is None:
            return self._lands(a, gwei)
        return self._block_slots(liq, gwei) > 0

    def _pending_gwei(self, a: dict[str, np.ndarray], i: int, s: int, want: np.ndarray) -> np.ndarray:
        """The keepers' gas price on auction slot ``s``: that of their pending bid (auction-keeper raises it only
        when the bidding model outputs a higher one), else the price a new one is sent at. Records it where
        ``want``."""
        g = np.where(a["a_gas"][:, i, s] > 0, a["a_gas"][:, i, s], self._keeper_gwei(a))
        a["a_gas"][:, i, s] = np.where(want, g, a["a_gas"][:, i, s])
        return g

    def _accrue(self, a: dict[str, np.ndarray], act: np.ndarray, t: float) -> None:
        first = np.isnan(a["t_last"])
        a["t_last"] = np.where(first, t, a["t_last"])
        dt = np.where(act, np.maximum(t - a["t_last"], 0.0), 0.0)
        if not np.any(dt > 0):
            return
        for i, name in enumerate(self.ilk_names):
            duty = self.spec.ilks[name].duty
            if duty <= 0:
                continue
            sl = self.vault_slices[i]
            drate = a["rate"][:, i] * np.expm1(math.log1p(duty) * dt / _YEAR)
            a["surplus"] += a["art"][:, sl].sum(axis=1) * drate
            a["rate"][:, i] += drate
        a["t_last"] = np.where(act, t, a["t_last"])

    # -- shared pieces --
    def _unsafe(
        self, a: dict[str, np.ndarray], i: int, mat: float, oracle: np.ndarray, act: np.ndarray, need: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The unsafe vaults of ilk ``i`` the round can act on: ``(rows, mask, cols, n_waiting)``.

        Vaults are sorted riskiest first, so on each path the unsafe ones are the vaults holding collateral among
        those whose ``art / ink`` exceeds ``oracle / (mat * rate)`` (one binary search, with a 1e-9 margin), from
        the first vault still holding collateral on. Each path looks at a window of ``4 * need + 8`` of them
        (``need`` is the most a round can start: the free auction slots), compared exactly
        (``ink * spot < art * rate``); ``mask`` and ``cols`` (vault index within the ilk) are (len(rows), width),
        ``n_waiting`` counts the unsafe vaults past the window (they wait for a later round).
        """
        sl = self.vault_slices[i]
        px = oracle[:, self.ilk_asset[i]]
        rate = a["rate"][:, i]
        # a policy's mat and pause (controls below): unsafe at ink * spot < art * rate with spot = px / (mat * f),
        # and under a pause with floor h only below h, i.e. at mat * f * h (h = 0: no vault is unsafe)
        mat = mat * a["mat_factor"][:, i] * a["pause_floor"]
        with np.errstate(divide="ignore"):
            thr = np.where(rate > 0, px / (mat * np.where(rate > 0, rate, 1.0)), np.inf)
        n_cut = np.searchsorted(self._neg_ratio[i], -thr * (1.0 - 1e-9), side="left")
        lo = a["first_alive"][:, i]
        rows = np.nonzero(act & (px > 0) & (n_cut > lo))[0]
        width = int(min((n_cut[rows] - lo[rows]).max(initial=0), 4 * need + 8))
        cols = lo[rows, None] + np.arange(width)[None, :]
        inside = cols < n_cut[rows, None]
        cols = np.minimum(cols, max(sl.stop - sl.start - 1, 0))
        ink = a["ink"][rows[:, None], sl.start + cols]
        art = a["art"][rows[:, None], sl.start + cols]
        # a vault without collateral cannot be bitten (nothing to auction); its debt is bad debt in `account`
        unsafe = inside & (ink > 0) & (ink * (px[rows] / mat[rows])[:, None] < art * rate[rows, None])
        waiting = np.maximum(n_cut[rows] - lo[rows] - width, 0)
        return rows, unsafe, cols, waiting

    def _advance(self, a: dict[str, np.ndarray], i: int, rows: np.ndarray, cols: np.ndarray) -> None:
        """Move ``first_alive`` past the vaults at the start of each row's window that hold no collateral."""
        if rows.size == 0 or cols.shape[1] == 0:
            return
        sl = self.vault_slices[i]
        alive = a["ink"][rows[:, None], sl.start + cols] > 0
        end = cols[:, -1] + 1
        first = np.where(alive.any(axis=1), cols[np.arange(rows.size), np.argmax(alive, axis=1)], end)
        a["first_alive"][rows, i] = np.maximum(a["first_alive"][rows, i], first)

    @staticmethod
    def _candidates(mask: np.ndarray, k_max: int) -> np.ndarray:
        """The first ``k_max`` True columns of each row, -1 padded, shape (n_paths, k_max)."""
        out = np.full((mask.shape[0], k_max), -1, dtype=np.int64)
        if k_max == 0:
            return out
        rows, cols = np.nonzero(mask)
        rank = np.cumsum(mask, axis=1)[rows, cols] - 1
        keep = rank < k_max
        out[rows[keep], rank[keep]] = cols[keep]
        return out

    def _free_slots(self, a: dict[str, np.ndarray], i: int, n_s: int) -> np.ndarray:
        return self._candidates(~a["a_live"][:, i, :n_s], n_s)

    def _seen_ok(self, a: dict[str, np.ndarray], i: int, s: int, t: float) -> np.ndarray:
        """Whether keepers see auction slot ``s`` and do not fail on it this step, shape (n_paths,)."""
        ok = a["a_seen"][:, i, s] <= t
        fp = self.spec.keepers.failure_prob
        if fp > 0:
            ok &= uniforms(a["path_key"], int(round(t)), i, s) >= fp
        return ok

    def _end(self, a: dict[str, np.ndarray], i: int, s: int, done: np.ndarray) -> None:
        """Free slot ``s`` on ``done`` paths, booking the auction's shortfall (its debt reached the Vow at the kick)."""
        short = np.maximum(a["a_due"][:, i, s] - a["a_bid"][:, i, s], 0.0)
        a["shortfall"][:, i] += np.where(done, short, 0.0)
        a["a_live"][:, i, s] &= ~done
        for key in ("a_lot", "a_tab", "a_bid", "a_due", "a_gas", "a_rew"):
            a[key][:, i, s] = np.where(done, 0.0, a[key][:, i, s])
        a["a_guy"][:, i, s] = np.where(done, _GUY_NONE, a["a_guy"][:, i, s])

    def _has_dai(self, a: dict[str, np.ndarray], own_dai: np.ndarray) -> np.ndarray:
        """Whether someone bites: keepers with a DAI stock (``keepers.dai_stock``) only while they have some
        (auction-keeper @db35435 ``check_cdps`` skips a bite "because there is no Dai to bid"); a zero bidder,
        which needs no DAI, always does (``Cat.bite`` is open to anyone). Always true without a stock."""
        if self.spec.keepers.zero_bidder:
            return np.ones(own_dai.shape, dtype=bool)
        return np.isinf(a["dai_left"]) | (own_dai > 0)

    def _dai_cost(self, a: dict[str, np.ndarray], dai_px: np.ndarray) -> np.ndarray:
        """USD per DAI at the margin: the PSM's ``1 + tin`` while it has room and is cheaper, else the market."""
        if self.spec.psm is None:
            return dai_px
        return np.where(a["psm_left"] > 0, np.minimum(dai_px, 1.0 + self.spec.psm.tin), dai_px)

    def _budget(self, a, liq, dai_px, own_dai) -> np.ndarray:  # type: ignore[no-untyped-def]
        """DAI the keepers can still get this round: from the PSM first (when cheaper), then the market."""
        usd = np.maximum(liq.capital_usd, 0.0)
        if self.spec.psm is None:
            return np.minimum(usd / dai_px, own_dai)
        fee = 1.0 + self.spec.psm.tin
        via_psm = np.where(fee <= dai_px, np.minimum(usd, a["psm_left"] * fee), 0.0)
        return np.minimum(via_psm / fee + (usd - via_psm) / dai_px, own_dai)

    def _spend(self, a, liq, flows, dai_px, own_dai, dai) -> None:  # type: ignore[no-untyped-def]
        """The keepers get ``dai`` DAI: PSM first (minted against USDC), the rest bought at the market."""
        own_dai -= dai
        market = dai
        cost = dai * dai_px
        if self.spec.psm is not None:
            fee = 1.0 + self.spec.psm.tin
            x = np.where(fee <= dai_px, np.minimum(dai, a["psm_left"]), 0.0)
            a["psm_left"] -= x
            a["psm_minted"] += x
            flows.minted[:, self.dai_index] += x
            market = dai - x
            cost = x * fee + market * dai_px
        flows.buy[:, self.dai_index] += market
        flows.spent_usd += cost
        liq.capital_usd -= cost

    def _kick(self, a, i, s_idx, v_idx, rows, lot, tab, due, t, seen) -> None:  # type: ignore[no-untyped-def]
        a["a_live"][rows, i, s_idx] = True
        a["a_lot"][rows, i, s_idx] = lot
        a["a_tab"][rows, i, s_idx] = tab
        a["a_due"][rows, i, s_idx] = due
        a["a_bid"][rows, i, s_idx] = 0.0
        a["a_usr"][rows, i, s_idx] = v_idx
        a["a_seen"][rows, i, s_idx] = seen
        a["a_guy"][rows, i, s_idx] = _GUY_NONE
        a["a_gas"][rows, i, s_idx] = 0.0
        a["a_rew"][rows, i, s_idx] = 0.0
        np.add.at(a["n_kicks"], rows, 1)
        self._fess(a, rows, due, t)

    @staticmethod
    def _fess(a: dict[str, np.ndarray], rows: np.ndarray, due: np.ndarray, t: float) -> None:
        """``Vat.grab`` + ``Vow.fess``: the debt joins the Vow's bad debt (``Awe``) and its ``sin`` queue at ``t``.

        The queue has one column per kick time, shared by the paths (dss vow.sol: ``sin[era]``)."""
        if a["sin_t"].shape[1] == 0 or a["sin_t"][0, -1] != t:
            n = a["sin_q"].shape[0]
            a["sin_q"] = np.concatenate([a["sin_q"], np.zeros((n, 1))], axis=1)
            a["sin_t"] = np.concatenate([a["sin_t"], np.full((n, 1), t)], axis=1)
        np.add.at(a["sin_q"][:, -1], rows, due)
        np.add.at(a["awe"], rows, due)

    # -- Cat / Flipper --
    def _flip_round(self, a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai) -> None:  # type: ignore[no-untyped-def]
        """Deal and tick, bite, then one bid per open auction (compiled loops, or the NumPy reference)."""
        fl, n_s, r = ilk.flip, ilk.max_auctions, int(self.ilk_asset[i])
        mkt = inputs.market[:, r]
        if self.kernel == "numba":
            v = {key: a[key][:, i, :n_s] for key in _SLOT_KEYS}
            _kernels.flip_deals(
                v["a_live"], v["a_guy"], v["a_tic"], v["a_end"], v["a_lot"], v["a_tab"], v["a_bid"], v["a_due"],
                v["a_gas"], v["a_rew"], act, t, fl.tau, mkt, flows.sell[:, r], a["sold"][:, r], sold_usd[:, r],
                a["shortfall"][:, i], a["n_deals"], a["n_zero"], a["zero_usd"], flows.n_actions,
            )  # fmt: skip
        else:
            self._flip_deals_numpy(a, i, n_s, fl, act, t, flows, sold_usd, r, mkt)
        self._flip_bite(a, i, ilk, inputs, act, t, flows, own_dai)
        if self.kernel == "numba":
            self._flip_bids(a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai)
        else:
            self._flip_bids_numpy(a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai)

    def _flip_deals_numpy(self, a, i, n_s, fl, act, t, flows, sold_usd, r, mkt) -> None:  # type: ignore[no-untyped-def]
        """:func:`firesale.protocols._auction_kernels.flip_deals`, slot by slot over every path."""
        for s in range(n_s):
            live = a["a_live"][:, i, s] & act
            has_bid = a["a_guy"][:, i, s] != _GUY_NONE
            done = live & has_bid & ((a["a_tic"][:, i, s] < t) | (a["a_end"][:, i, s] < t))
            if np.any(done):
                lot = np.where(done, a["a_lot"][:, i, s], 0.0)
                flows.sell[:, r] += lot
                a["sold"][:, r] += lot
                sold_usd[:, r] += lot * mkt
                a["n_deals"] += done
                a["n_zero"] += done & (a["a_guy"][:, i, s] == _GUY_ZERO)
                a["zero_usd"] += np.where(done & (a["a_guy"][:, i, s] == _GUY_ZERO), lot * mkt, 0.0)
                flows.n_actions += done
                self._end(a, i, s, done)
            tick = live & ~has_bid & (a["a_end"][:, i, s] < t)
            a["a_end"][:, i, s] = np.where(tick, t + fl.tau, a["a_end"][:, i, s])

    def _flip_bite(self, a, i, ilk, inputs, act, t, flows, own_dai) -> None:  # type: ignore[no-untyped-def]
        """``Cat.bite`` the unsafe vaults while free slots, block space and (with a stock) the keepers' DAI last."""
        fl, kp = ilk.flip, self.spec.keepers
        n_s, liq = ilk.max_auctions, inputs.liquidators
        sl = self.vault_slices[i]
        rows_u, unsafe, ucols, waiting = self._unsafe(a, i, ilk.mat, inputs.oracle, act, n_s)
        free = self._free_slots(a, i, n_s)[rows_u]
        n_free = (free >= 0).sum(axis=1)
        room = self._room(a, liq, self._keeper_gwei(a))[rows_u]
        kick_ok = self._has_dai(a, own_dai)[rows_u]
        budget = np.where(kick_ok, np.minimum(n_free, np.maximum(room, 0)), 0)
        rank = np.cumsum(unsafe, axis=1)
        bite = unsafe & (rank <= budget[:, None])
        flows.n_unserved[rows_u] += (unsafe & ~bite).sum(axis=1) + waiting
        if np.any(bite):
            ri, cols = np.nonzero(bite)
            rows = rows_u[ri]
            s_idx = free[ri, rank[ri, cols] - 1]
            v = ucols[ri, cols] + sl.start
            ink, art = a["ink"][rows, v], a["art"][rows, v]
            lot = np.minimum(ink, fl.lump)
            dart = np.where(lot >= ink, art, np.minimum(art, lot * art / ink))  # the whole vault exactly
            due = dart * a["rate"][rows, i]
            a["ink"][rows, v] = ink - lot
            a["art"][rows, v] = art - dart
            self._kick(
                a, i, s_idx, v, rows, lot, due * ilk.chop, due, t, self._seen_at(a, rows, t, kp.latency)
            )
            a["a_zseen"][rows, i, s_idx] = self._seen_at(a, rows, t, kp.zero_bidder_latency)
            a["a_tic"][rows, i, s_idx] = np.inf
            a["a_end"][rows, i, s_idx] = t + fl.tau
            n_bit = bite.sum(axis=1)
            flows.n_actions[rows_u] += n_bit
            liq.slots[rows_u] -= n_bit
            self._advance(a, i, rows_u, ucols)

    # -- what the auction kernels are given --
    def _seen_matrix(self, a, v, i, t, n_s) -> np.ndarray:  # type: ignore[no-untyped-def]
        """:meth:`_seen_ok` of every slot of ilk ``i`` at once, shape (n_paths, n_s)."""
        ok = v["a_seen"] <= t
        if self.spec.keepers.failure_prob > 0:
            u = uniforms(a["path_key"][:, None], int(round(t)), i, np.arange(n_s)[None, :])
            ok &= u >= self.spec.keepers.failure_prob
        return ok

    def _gas_room(self, liq, v, running, keeper_gwei):  # type: ignore[no-untyped-def]
        """With priced block space (:meth:`_room`), the block space each slot's next transaction buys (at a pending
        one's price, else the keepers'), a new transaction's and the market price's, per path; empty arrays
        without."""
        n_paths, n_s = running.shape
        if not self._priced(liq):
            return (
                np.zeros((n_paths, 0), dtype=np.int64),
                np.zeros(n_paths, np.int64),
                np.zeros(n_paths, np.int64),
            )
        bs_market = self._block_slots(liq, liq.gas_gwei)
        bs_new = self._block_slots(liq, keeper_gwei)
        bs_gas = np.repeat(bs_new[:, None], n_s, axis=1)
        for s in np.nonzero(np.any(running & (v["a_gas"] > 0), axis=0))[0]:
            bs_gas[:, s] = self._block_slots(
                liq, np.where(v["a_gas"][:, s] > 0, v["a_gas"][:, s], keeper_gwei)
            )
        return bs_gas, bs_new, bs_market

    @staticmethod
    def _per_path(x: Any, n_paths: int) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=float), (n_paths,)))

    def _flip_bids(self, a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai) -> None:  # type: ignore[no-untyped-def]
        """One bid per open auction, by :func:`firesale.protocols._auction_kernels.flip_bids`; what does not depend on
        the order of the bids is worked out here, by the functions the NumPy reference calls."""
        fl, kp = ilk.flip, self.spec.keepers
        n_s, r, liq = ilk.max_auctions, int(self.ilk_asset[i]), inputs.liquidators
        n_paths, mkt = act.shape[0], inputs.market[:, r]
        v = {key: a[key][:, i, :n_s] for key in _SLOT_KEYS}
        open_ = (
            v["a_live"] & act[:, None] & (v["a_end"] > t) & ((v["a_tic"] > t) | ~np.isfinite(v["a_tic"]))
        )  # fmt: skip
        if not np.any(open_):
            return
        seen_ok = self._seen_matrix(a, v, i, t, n_s)
        # the proceeds curves, asked of the engine only when a lot is for sale (as Quotes.proceeds does)
        priced_lots = np.any(open_ & (v["a_lot"] * mkt[:, None] > 0))
        curve = (
            np.ascontiguousarray(quotes.curve(r, quotes.n_assets)) if priced_lots else np.zeros((n_paths, 0))
        )
        sizes = np.ascontiguousarray(quotes.size_usd, dtype=float)
        keeper_gwei = np.ascontiguousarray(self._keeper_gwei(a), dtype=float)
        priced = self._priced(liq)
        bs_gas, _, bs_market = self._gas_room(liq, v, open_, keeper_gwei)
        zero_ok = np.ones(n_paths, dtype=bool)
        if kp.zero_bidder_gas_gwei is not None:
            zero_ok = self._zero_lands(a, liq, np.full(n_paths, kp.zero_bidder_gas_gwei))
        psm = self.spec.psm
        _kernels.flip_bids(
            v["a_live"], v["a_guy"], v["a_tic"], v["a_end"], v["a_lot"], v["a_tab"], v["a_bid"], v["a_gas"],
            v["a_zseen"], seen_ok, act, t, fl.ttl, fl.beg, mkt, np.ascontiguousarray(sold_usd[:, r]), sizes, curve,
            self._per_path(liq.gas_usd, n_paths), float(liq.min_profit_usd), dai_px, psm is not None,
            1.0 + psm.tin if psm is not None else 0.0, priced, bs_gas, bs_market, keeper_gwei, a["gas_now"],
            kp.zero_bidder, zero_ok, float(kp.zero_bid_dai), own_dai, liq.capital_usd, liq.slots, a["psm_left"],
            a["psm_minted"], flows.minted[:, self.dai_index], flows.buy[:, self.dai_index], flows.spent_usd,
            a["surplus"], a["returned"][:, r], flows.n_actions,
        )  # fmt: skip

    def _flip_bids_numpy(self, a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai) -> None:  # type: ignore[no-untyped-def]
        """:meth:`_flip_bids` slot by slot over every path: the reference the kernel is held to."""
        fl, kp = ilk.flip, self.spec.keepers
        n_s, r, liq = ilk.max_auctions, int(self.ilk_asset[i]), inputs.liquidators
        mkt = inputs.market[:, r]
        for s in range(n_s):
            live = a["a_live"][:, i, s] & act
            open_ = (
                live
                & (a["a_end"][:, i, s] > t)
                & ((a["a_tic"][:, i, s] > t) | ~np.isfinite(a["a_tic"][:, i, s]))
            )
            if not np.any(open_):
                continue
            lot, tab, bid = a["a_lot"][:, i, s], a["a_tab"][:, i, s], a["a_bid"][:, i, s]
            keeper = open_ & self._seen_ok(a, i, s, t) & self._slots_ok(liq)
            value = quotes.proceeds(r, sold_usd[:, r], lot * mkt)
            net = value - liq.gas_usd - liq.min_profit_usd
            cost = self._dai_cost(a, dai_px)
            cap = self._budget(a, liq, dai_px, own_dai)
            # tend: raise the bid towards the keepers' reservation value
            want = np.minimum(np.minimum(net / cost, tab), bid + cap)
            tend = keeper & (bid < tab) & (want > bid) & ((want >= bid * fl.beg) | (want >= tab))
            want = np.where(want >= tab, tab, want)
            # dent: lower the lot towards the smallest one whose proceeds cover tab
            avg = np.where(lot > 0, value / np.where(lot > 0, lot, 1.0), 0.0)
            need = np.where(
                avg > 0,
                (tab * cost + liq.gas_usd + liq.min_profit_usd) / np.where(avg > 0, avg, 1.0),
                np.inf,
            )
            dent = keeper & ~tend & (bid >= tab) & (need > 0) & (need * fl.beg <= lot)
            landed = self._room(a, liq, self._pending_gwei(a, i, s, tend | dent)) > 0
            tend &= landed
            dent &= landed
            a["a_gas"][:, i, s] = np.where(tend | dent, 0.0, a["a_gas"][:, i, s])
            inc = np.where(tend, want - bid, 0.0)
            self._spend(a, liq, flows, dai_px, own_dai, inc)
            a["surplus"] += inc
            a["a_bid"][:, i, s] = np.where(tend, want, bid)
            back = np.where(dent, lot - need, 0.0)
            a["returned"][:, r] += back
            a["a_lot"][:, i, s] = lot - back
            bidded = tend | dent
            a["a_guy"][:, i, s] = np.where(bidded, _GUY_KEEPER, a["a_guy"][:, i, s])
            # the zero bidder takes unbid auctions it has seen
            zero = (
                kp.zero_bidder & open_ & ~bidded & (a["a_guy"][:, i, s] == _GUY_NONE)
                & (a["a_zseen"][:, i, s] <= t)
            )  # fmt: skip
            if kp.zero_bidder_gas_gwei is not None:
                zero &= self._zero_lands(a, liq, np.full(zero.shape, kp.zero_bidder_gas_gwei))
            a["a_bid"][:, i, s] = np.where(zero, kp.zero_bid_dai, a["a_bid"][:, i, s])
            a["surplus"] += np.where(zero, kp.zero_bid_dai, 0.0)
            a["a_guy"][:, i, s] = np.where(zero, _GUY_ZERO, a["a_guy"][:, i, s])
            a["a_tic"][:, i, s] = np.where(bidded | zero, t + fl.ttl, a["a_tic"][:, i, s])
            liq.slots -= bidded
            flows.n_actions += bidded | zero

    # -- Dog / Clipper --
    def _clip_round(self, a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai) -> None:  # type: ignore[no-untyped-def]
        """Bark the unsafe vaults while room, slots and block space last, then redo and take auction by auction
        (compiled loops, or the NumPy reference)."""
        cp, kp = ilk.clip, self.spec.keepers
        n_s, r, liq = ilk.max_auctions, int(self.ilk_asset[i]), inputs.liquidators
        feed = inputs.oracle[:, r]
        Hole = np.inf if self.spec.Hole is None else self.spec.Hole
        sl = self.vault_slices[i]
        # bark, in vault order, while room and slots last
        rows_u, unsafe, ucols, waiting = self._unsafe(a, i, ilk.mat, inputs.oracle, act, n_s)
        free = self._free_slots(a, i, n_s)[rows_u]
        cand = self._candidates(unsafe, n_s)
        served = np.zeros(unsafe.shape, dtype=bool)
        k_free = np.zeros(rows_u.shape[0], dtype=np.int64)
        sub = np.arange(rows_u.shape[0])
        kick_gwei = self._keeper_gwei(a)
        for k in range(n_s if rows_u.size else 0):
            v = cand[:, k]
            slot = free[sub, np.minimum(k_free, n_s - 1)]
            go = (
                (v >= 0)
                & (slot >= 0)
                & (k_free < n_s)
                & (self._room(a, liq, kick_gwei)[rows_u] > 0)
                & (feed[rows_u] * cp.buf > 0)
                & (self._has_dai(a, own_dai)[rows_u] | kp.flash_loans)
            )
            if not np.any(go):
                if not np.any(v >= 0):
                    break
                continue
            vv = ucols[sub, np.where(go, v, 0)] + sl.start
            dirt_all = a["dirt"][rows_u].sum(axis=1)
            dirt = a["dirt"][rows_u, i]
            room = np.minimum(Hole - dirt_all, cp.hole - dirt)
            ink, art = a["ink"][rows_u, vv], a["art"][rows_u, vv]
            ok, dart, dink, due, tab = bark_amounts(ink, art, a["rate"][rows_u, i], ilk.chop, room, ilk.dust)
            ok &= go & (Hole > dirt_all) & (cp.hole > dirt)
            if not np.any(ok):
                continue
            idx = np.nonzero(ok)[0]
            rows = rows_u[idx]
            a["ink"][rows, vv[idx]] -= dink[idx]
            a["art"][rows, vv[idx]] -= dart[idx]
            a["dirt"][rows, i] += tab[idx]
            s_idx = slot[idx]
            seen = self._seen_at(a, rows, t, kp.latency)
            self._kick(a, i, s_idx, vv[idx], rows, dink[idx], tab[idx], due[idx], t, seen)
            a["a_tic"][rows, i, s_idx] = t
            a["a_top"][rows, i, s_idx] = feed[rows] * cp.buf
            if cp.tip > 0 or cp.chip > 0:  # vat.suck(vow, kpr, coin): unbacked DAI, the Vow's bad debt
                pay = cp.tip + tab[idx] * cp.chip
                np.add.at(a["awe"], rows, pay)
                a["a_rew"][rows, i, s_idx] = pay
                a["incentives"][rows] += pay
                flows.minted[rows, self.dai_index] += pay
            served[idx, v[idx]] = True
            k_free += ok
            flows.n_actions[rows_u] += ok
            liq.slots[rows_u] -= ok
        flows.n_unserved[rows_u] += (unsafe & ~served).sum(axis=1) + waiting
        self._advance(a, i, rows_u, ucols)
        # redo and take, auction by auction, each at its abacus price now
        tops, tics = a["a_top"][:, i, :n_s], a["a_tic"][:, i, :n_s]
        prices = abacus_price(cp.calc, tops, t - tics, tau=cp.tau or 0.0, step=cp.step or 1.0, cut=cp.cut)
        if self.kernel == "numba":
            self._clip_takes(a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai, prices)
        else:
            self._clip_takes_numpy(
                a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai, prices
            )

    def _clip_takes(
        self, a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai, prices
    ) -> None:  # type: ignore[no-untyped-def]
        """``redo`` and ``take`` on every running auction, by :func:`firesale.protocols._auction_kernels.clip_takes`;
        what does not depend on the order of the takes is worked out here, by the functions the reference calls."""
        cp, kp = ilk.clip, self.spec.keepers
        n_s, r, liq = ilk.max_auctions, int(self.ilk_asset[i]), inputs.liquidators
        n_paths = act.shape[0]
        v = {key: a[key][:, i, :n_s] for key in _SLOT_KEYS}
        live = v["a_live"] & act[:, None]
        if not np.any(live):
            return
        seen_ok = self._seen_matrix(a, v, i, t, n_s)
        # the proceeds curves are asked of the engine only when an auction is running (a take may sell)
        curve = np.ascontiguousarray(quotes.curve(r, quotes.n_assets))
        keeper_gwei = np.ascontiguousarray(self._keeper_gwei(a), dtype=float)
        bs_gas, bs_kick, bs_market = self._gas_room(liq, v, live, keeper_gwei)
        psm = self.spec.psm
        _kernels.clip_takes(
            v["a_live"], v["a_guy"], v["a_tic"], v["a_top"], v["a_lot"], v["a_tab"], v["a_bid"], v["a_due"],
            v["a_gas"], v["a_rew"], np.ascontiguousarray(prices), seen_ok, act, t, cp.tail, cp.cusp, cp.buf, cp.tip,
            cp.chip, ilk.dust * ilk.chop, inputs.oracle[:, r], inputs.market[:, r], sold_usd[:, r],
            np.ascontiguousarray(quotes.size_usd, dtype=float), curve, self._per_path(liq.gas_usd, n_paths),
            float(liq.min_profit_usd), dai_px, psm is not None, 1.0 + psm.tin if psm is not None else 0.0,
            kp.flash_loans, self._priced(liq), bs_gas, bs_kick, bs_market, keeper_gwei, a["gas_now"], own_dai,
            liq.capital_usd, liq.slots, a["psm_left"], a["psm_minted"], flows.minted[:, self.dai_index],
            flows.buy[:, self.dai_index], flows.spent_usd, a["surplus"], a["returned"][:, r], a["dirt"][:, i],
            a["awe"], a["incentives"], a["shortfall"][:, i], flows.sell[:, r], a["sold"][:, r], a["n_deals"],
            flows.n_actions,
        )  # fmt: skip

    def _clip_takes_numpy(
        self, a, i, ilk, inputs, quotes, act, t, flows, sold_usd, dai_px, own_dai, prices
    ) -> None:  # type: ignore[no-untyped-def]
        """:meth:`_clip_takes` slot by slot over every path: the reference the kernel is held to."""
        cp, kp = ilk.clip, self.spec.keepers
        n_s, r, liq = ilk.max_auctions, int(self.ilk_asset[i]), inputs.liquidators
        mkt, feed = inputs.market[:, r], inputs.oracle[:, r]
        chost = ilk.dust * ilk.chop
        kick_gwei = self._keeper_gwei(a)
        for s in range(n_s):
            live = a["a_live"][:, i, s] & act
            if not np.any(live):
                continue
            keeper = live & self._seen_ok(a, i, s, t) & self._slots_ok(liq)
            top, tic = a["a_top"][:, i, s], a["a_tic"][:, i, s]
            price = prices[:, s]
            done = (t - tic > cp.tail) | (price < cp.cusp * top)
            redo = keeper & done & (feed * cp.buf > 0) & (self._room(a, liq, kick_gwei) > 0)
            if np.any(redo):
                lot, tab = a["a_lot"][:, i, s], a["a_tab"][:, i, s]
                a["a_top"][:, i, s] = np.where(redo, feed * cp.buf, top)
                a["a_tic"][:, i, s] = np.where(redo, t, tic)
                if cp.tip > 0 or cp.chip > 0:
                    paid = redo & (tab >= chost) & (lot * feed >= chost)
                    pay = np.where(paid, cp.tip + tab * cp.chip, 0.0)
                    a["awe"] += pay
                    a["a_rew"][:, i, s] += pay
                    a["incentives"] += pay
                    flows.minted[:, self.dai_index] += pay
                liq.slots -= redo
                flows.n_actions += redo
                price = np.where(redo, a["a_top"][:, i, s], price)
                done = done & ~redo
            keeper &= ~done & self._slots_ok(liq)
            lot, tab = a["a_lot"][:, i, s], a["a_tab"][:, i, s]
            cap = self._budget(a, liq, dai_px, own_dai)
            cost = self._dai_cost(a, dai_px)
            if kp.flash_loans:  # the collateral's sale pays the DAI back within the transaction
                cap = np.full(cap.shape, np.inf)
                cost = (
                    dai_px  # flash-minted DAI is bought back at the market (flows.buy below), not at the PSM
                )
            amt = np.where(price > 0, cap / np.where(price > 0, price, 1.0), lot)
            ok, bought, owe = take_amounts(lot, tab, price, amt, chost)
            gain = quotes.proceeds(r, sold_usd[:, r], bought * mkt)
            ok &= keeper & (bought > 0) & (gain - owe * cost - liq.gas_usd >= liq.min_profit_usd)
            ok &= self._room(a, liq, self._pending_gwei(a, i, s, ok)) > 0
            a["a_gas"][:, i, s] = np.where(ok, 0.0, a["a_gas"][:, i, s])
            if not np.any(ok):
                continue
            bought, owe = np.where(ok, bought, 0.0), np.where(ok, owe, 0.0)
            lot_left, tab_left = lot - bought, tab - owe
            emptied = ok & (lot_left <= 0)
            raised = ok & ~emptied & (tab_left <= 0)
            a["dirt"][:, i] -= np.where(emptied, tab, owe)
            a["a_lot"][:, i, s], a["a_tab"][:, i, s] = lot_left, tab_left
            a["a_bid"][:, i, s] += owe
            a["surplus"] += owe
            back = np.where(raised, lot_left, 0.0)
            a["returned"][:, r] += back
            a["a_lot"][:, i, s] -= back
            flows.sell[:, r] += bought
            a["sold"][:, r] += bought
            sold_usd[:, r] += bought * mkt
            if (
                kp.flash_loans
            ):  # DAI flash-minted, repaid from the sale: bought at the market, no capital tied
                flows.buy[:, self.dai_index] += owe
                flows.spent_usd += owe * dai_px
            else:
                self._spend(a, liq, flows, dai_px, own_dai, owe)
            liq.slots -= ok
            flows.n_actions += ok
            fin = emptied | raised
            a["n_deals"] += fin
            self._end(a, i, s, fin)

    # -- Vow / Flop --
    def _vow(self, a: dict[str, np.ndarray], act: np.ndarray, t: float, inputs: RoundInputs) -> None:
        """``flog`` the queued debt older than ``wait``, ``heal`` it with the surplus, ``flop`` the rest in lots.

        dss vow.sol: ``flog(era)`` needs ``era + wait <= now``; ``heal(rad)`` needs ``rad <= joy`` and
        ``rad <= Woe`` with ``Woe = Awe - Sin - Ash``; ``flop()`` needs ``sump <= Woe`` and ``joy == 0`` and
        auctions ``sump`` DAI. ASSUMPTION: keepers call them whenever they can (auction-keeper's ``check_flop``
        does flog, heal and flop), and a Flop lot is bid at once, so ``Ash`` is always 0 and its DAI cancels
        ``sump`` of the debt (``kiss``).
        """
        fs = self.spec.flop
        if a["sin_t"].shape[1] and a["sin_t"].shape[0]:
            old = a["sin_t"][0] + fs.wait <= t
            if np.any(old):
                a["sin_q"], a["sin_t"] = a["sin_q"][:, ~old], a["sin_t"][:, ~old]
        woe = np.where(act, np.maximum(a["awe"] - a["sin_q"].sum(axis=1), 0.0), 0.0)
        heal = np.minimum(woe, np.maximum(a["surplus"], 0.0))
        a["surplus"] -= heal
        a["awe"] -= heal
        woe -= heal
        lots = np.floor(woe / fs.sump * (1.0 + 1e-12))
        if np.any(lots > 0):
            base = (
                inputs.market[:, self.mkr_index] if self.mkr_index >= 0 else np.full(woe.shape, fs.mkr_price)
            )
            e, supply = fs.elasticity, fs.mkr_supply
            p0 = np.maximum(base * (1.0 - e * a["mkr_minted"] / supply), 0.0)
            if e > 0:  # the most minting can raise is p0 S / (4 e), at m = S / (2 e): whole lots up to it
                lots = np.minimum(lots, np.floor(p0 * supply / (4.0 * e) / fs.sump))
            lots = np.where(p0 > 0, np.maximum(lots, 0.0), 0.0)
            can = np.minimum(lots * fs.sump, woe)
            if e == 0:
                minted = np.where(p0 > 0, can / np.where(p0 > 0, p0, 1.0), 0.0)
            else:
                # m p0 (1 - e m / S) = D
                cap = p0 * supply / (4.0 * e)
                x = np.where(cap > 0, can / np.where(cap > 0, cap, 1.0), 1.0)
                disc = np.sqrt(np.maximum(1.0 - x, 0.0))
                minted = np.where(p0 > 0, 2.0 * can / np.where(p0 > 0, p0, 1.0) / (1.0 + disc), 0.0)
            a["awe"] -= can
            a["flopped"] += can
            a["mkr_minted"] += minted
        d = self._realised(a)
        a["uncovered"] = d
        a["deficit"] = a["flopped"] + d

    # ----- policy controls (firesale.policies) --------------------------------------------------------------------
    @classmethod
    def controls(cls, spec: Any) -> dict[str, str]:
        out = {
            "pause_liquidations": "no new bites (FlipperMom denies the Cat on the Flipper) or barks (ClipperMom's "
            "breaker at level 1); running auctions go on",
            "reserve_usd": "DAI added to the Vow's surplus (a backstop), 1 DAI a USD",
        }
        for name in spec.ilks:
            out[f"ilks.{name}.mat"] = f"{name}'s liquidation ratio (the Spotter's mat)"
        return out

    def pause_liquidations(
        self, state: ProtocolState, paused: np.ndarray, below_health_factor: float = 0.0
    ) -> None:  # type: ignore[override]
        """From now on no auction is started where ``paused``, except of vaults whose collateral ratio over
        ``mat`` (their health factor) is below ``below_health_factor``. Maker's emergency switches: in 2020
        ``FlipperMom.deny(flip)`` takes the Cat's right to ``kick`` the Flipper, so every ``bite`` reverts
        (makerdao/flipper-mom ``src/FlipperMom.sol``; the "DEFCON" spells used it); in Liquidations 2.0
        ``ClipperMom.setBreaker`` sets the Clipper's ``stopped`` to 1, where ``kick`` reverts and ``take`` and
        ``redo`` go on (makerdao/dss ``src/clip.sol``, makerdao/clipper-mom). Auctions already running continue."""
        state.arrays["pause_floor"][:] = np.where(paused, float(below_health_factor), 1.0)

    def scale_parameter(self, state: ProtocolState, name: str, factor: np.ndarray) -> None:  # type: ignore[override]
        """``ilks.<ilk>.mat``: the ilk's liquidation ratio times ``factor`` (governance's ``spotter.file(ilk,
        "mat", ...)`` then ``poke``); the vaults' safety, ``ink * spot >= art * rate``, is judged with it."""
        ilk, _, kind = name.removeprefix("ilks.").rpartition(".")
        if not name.startswith("ilks.") or kind != "mat" or ilk not in self.ilk_names:
            return super().scale_parameter(state, name, factor)
        state.arrays["mat_factor"][:, self.ilk_names.index(ilk)] = factor

    def add_reserves(self, state: ProtocolState, usd: np.ndarray) -> None:  # type: ignore[override]
        """Add ``usd`` of DAI to the Vow's surplus (``joy``): it heals bad debt before Flop mints MKR
        (``Vow.heal``), so a backstop shrinks the deficit and the MKR minted. Booked in ``backstop_dai``."""
        a = state.arrays
        a["surplus"] += usd
        a["backstop_dai"] += usd

    def frozen_by_pause(self, state: ProtocolState, oracle: np.ndarray) -> np.ndarray:
        """Vaults unsafe at ``oracle`` under the ratios in force that the pause keeps from auction (their health
        factor at or above its floor), per path (int64; 0 where no pause holds); changes nothing."""
        a = state.arrays
        out = np.zeros(a["ink"].shape[0], dtype=np.int64)
        paths = np.flatnonzero(a["pause_floor"] < 1.0)
        for i, sl in enumerate(self.vault_slices):
            if paths.size == 0:
                break
            px = oracle[paths, self.ilk_asset[i]][:, None]
            ink, debt = a["ink"][paths, sl], a["art"][paths, sl] * a["rate"][paths, i][:, None]
            mat = self.spec.ilks[self.ilk_names[i]].mat * a["mat_factor"][paths, i][:, None]
            unsafe = (ink > 0) & (ink * px / mat < debt)
            still = unsafe & (ink * px / mat < debt * a["pause_floor"][paths][:, None])
            out[paths] += (unsafe & ~still).sum(axis=1)
        return out

    @staticmethod
    def _live_claim(a: dict[str, np.ndarray]) -> np.ndarray:
        """What running auctions still owe the Vow: their debt and the incentives paid on them (n_paths, ilks,
        slots); their lots answer for it (``account``), so it is not yet a realised deficit."""
        return np.where(a["a_live"], a["a_due"] + a["a_rew"], 0.0)

    def _realised(self, a: dict[str, np.ndarray]) -> np.ndarray:
        """Debt neither the surplus nor Flop covered: ``Awe`` less what running auctions answer for, less ``joy``."""
        live = self._live_claim(a).sum(axis=(1, 2))
        return np.maximum(a["awe"] - live - np.maximum(a["surplus"], 0.0), 0.0)

    # books
    def account(self, state: ProtocolState, market: np.ndarray, by_asset: bool = False) -> Accounts:
        """Books at market prices: realised deficit (debt neither the surplus nor Flop covered) plus the shortfall
        of underwater vaults and live auctions; reserves are the Vow's surplus beyond its bad debt."""
        a = state.arrays
        n_paths, n_a = a["ink"].shape[0], len(self.assets)
        dai = market[:, self.dai_index]
        assets = np.zeros(n_paths)
        liabilities = np.zeros(n_paths)
        bad_by_asset = np.zeros((n_paths, n_a))
        claim = self._live_claim(a)
        for i in range(len(self.ilk_names)):
            r, sl = int(self.ilk_asset[i]), self.vault_slices[i]
            px = market[:, r]
            coll = a["ink"][:, sl] * px[:, None]
            debt = a["art"][:, sl] * (a["rate"][:, i] * dai)[:, None]
            lots = a["a_lot"][:, i] * px[:, None]
            owed = np.where(a["a_live"][:, i], np.maximum(claim[:, i] - a["a_bid"][:, i], 0.0), 0.0)
            owed = owed * dai[:, None]
            assets += coll.sum(axis=1) + lots.sum(axis=1)
            liabilities += debt.sum(axis=1) + owed.sum(axis=1)
            bad_by_asset[:, r] += np.maximum(debt - coll, 0.0).sum(axis=1) + np.maximum(owed - lots, 0.0).sum(
                axis=1
            )
        # realised deficit, attributed to ilks by their auctions' shortfalls
        short = a["shortfall"]
        tot = short.sum(axis=1)
        realised = self._realised(a) * dai
        for i in range(len(self.ilk_names)):
            w = np.where(tot > 0, short[:, i] / np.where(tot > 0, tot, 1.0), 1.0 / len(self.ilk_names))
            bad_by_asset[:, int(self.ilk_asset[i])] += realised * w
        bad = bad_by_asset.sum(axis=1)
        reserves = np.maximum(np.maximum(a["surplus"], 0.0) - (a["awe"] - claim.sum(axis=(1, 2))), 0.0) * dai
        return Accounts(
            assets_usd=assets + np.maximum(a["surplus"], 0.0) * dai, liabilities_usd=liabilities,
            bad_debt_usd=bad, reserves_usd=reserves, bad_debt_by_asset=bad_by_asset,
        )  # fmt: skip

    def series(self) -> dict[str, str]:
        return {
            "mkr_minted": "MKR minted by Flop, cumulative",
            "mkr_price": "MKR price after the Flop impact, USD (spec price when MKR is not a model asset)",
            "deficit_dai": "realised deficit (DAI): what Flop raised plus what is still uncovered",
            "uncovered_dai": "debt neither the surplus nor Flop has covered (DAI)",
            "sin_dai": "debt waiting in the Vow's sin queue (DAI)",
            "psm_minted_dai": "DAI keepers drew from the PSM, cumulative",
            "surplus_dai": "Vow surplus (DAI)",
            "n_auctions": "auctions kicked, cumulative",
            "n_zero_bid": "auctions won by a zero bid, cumulative",
            "live_auctions": "auctions running",
        }

    def metrics(self, state: ProtocolState, market: np.ndarray) -> dict[str, np.ndarray]:
        """End-of-run figures a replay of Black Thursday is judged on, per path.

        ``deficit_dai`` (realised: the debt of ended auctions and keeper rewards less their proceeds and the surplus;
        what Flop raised plus ``uncovered_dai``), ``uncovered_dai`` (what neither the surplus nor Flop covered: the
        bad debt ``account`` reports, still queued or short of a ``sump`` lot), ``mkr_minted``; ``n_auctions`` kicked, ``n_settled`` ended (dealt or taken),
        ``n_zero_bid`` won by the zero bidder (``zero_bid_usd``: the market value of their lots at the deal) and ``zero_bid_share`` = ``n_zero_bid / n_settled`` (0 when none
        ended); ``shortfall_dai``, the sum over ended auctions of ``max(due - proceeds, 0)``; ``surplus_dai`` and
        ``live_auctions`` at the end.
        """
        a = state.arrays
        settled = a["n_deals"].astype(float)
        zero = a["n_zero"].astype(float)
        return {
            "deficit_dai": a["deficit"].copy(),
            "uncovered_dai": a["uncovered"].copy(),
            "mkr_minted": a["mkr_minted"].copy(),
            "n_auctions": a["n_kicks"].astype(float),
            "n_settled": settled,
            "n_zero_bid": zero,
            "zero_bid_usd": a["zero_usd"].copy(),
            "zero_bid_share": np.where(settled > 0, zero / np.where(settled > 0, settled, 1.0), 0.0),
            "shortfall_dai": a["shortfall"].sum(axis=1),
            "surplus_dai": a["surplus"].copy(),
            "live_auctions": a["a_live"].sum(axis=(1, 2)).astype(float),
        }

    def record(self, state: ProtocolState, name: str, market: np.ndarray) -> np.ndarray:
        a = state.arrays
        fs = self.spec.flop
        values = {
            "mkr_minted": lambda: a["mkr_minted"],
            "mkr_price": lambda: (
                (market[:, self.mkr_index] if self.mkr_index >= 0 else fs.mkr_price)
                * np.maximum(1.0 - fs.elasticity * a["mkr_minted"] / fs.mkr_supply, 0.0)
            ),
            "deficit_dai": lambda: a["deficit"],
            "uncovered_dai": lambda: a["uncovered"],
            "sin_dai": lambda: a["sin_q"].sum(axis=1),
            "psm_minted_dai": lambda: a["psm_minted"],
            "surplus_dai": lambda: a["surplus"],
            "n_auctions": lambda: a["n_kicks"].astype(float),
            "n_zero_bid": lambda: a["n_zero"].astype(float),
            "live_auctions": lambda: a["a_live"].sum(axis=(1, 2)).astype(float),
        }
        if name not in values:
            return super().record(state, name, market)
        return np.asarray(values[name](), dtype=float)

    def check_conservation(self, state: ProtocolState, out: dict[str, np.ndarray]) -> list[str]:
        """Collateral: vaults + auction lots + sold + returned to owners = the starting book; no negative balance
        (the Vow's surplus, debt and queue included) and ``Sin <= Awe``; dirt equals the live Clipper auctions'
        tabs."""
        a = state.arrays
        problems = []
        for key in ("ink", "art", "a_lot", "a_tab", "a_bid", "dirt", "awe", "sin_q", "surplus"):
            worst = float(a[key].min(initial=0.0))
            if worst < -1e-9 * max(1.0, float(np.abs(a[key]).max(initial=0.0))):
                problems.append(f"{self.name}: negative {key} ({worst:.3g})")
        sin = a["sin_q"].sum(axis=1)
        if np.any(sin > a["awe"] + 1e-9 * np.maximum(a["awe"], 1.0)):
            problems.append(f"{self.name}: the Vow's queued debt (Sin) exceeds its debt (Awe)")
        held = np.zeros_like(a["coll0"])
        for i in range(len(self.ilk_names)):
            r = int(self.ilk_asset[i])
            held[:, r] += a["ink"][:, self.vault_slices[i]].sum(axis=1) + a["a_lot"][:, i].sum(axis=1)
        total = held + a["sold"] + a["returned"]
        err = np.abs(total - a["coll0"]) > 1e-9 * np.maximum(a["coll0"], 1.0)
        if np.any(err):
            problems.append(f"{self.name}: collateral not conserved on {int(err.any(axis=1).sum())} paths")
        if "sold" in out:
            sold = np.asarray(out["sold"])[:, : len(self.assets)]
            bad = np.abs(sold[:, : self.dai_index] - a["sold"][:, : self.dai_index]) > 1e-9 * np.maximum(
                a["coll0"][:, : self.dai_index], 1.0
            )
            if np.any(bad):
                problems.append(
                    f"{self.name}: collateral sold differs from the flows' on {int(bad.any(axis=1).sum())} paths"
                )
        for i, name in enumerate(self.ilk_names):
            if self.spec.ilks[name].clip is not None:
                tabs = np.where(a["a_live"][:, i], a["a_tab"][:, i], 0.0).sum(axis=1)
                if np.any(np.abs(tabs - a["dirt"][:, i]) > 1e-9 * np.maximum(tabs, 1.0)):
                    problems.append(f"{self.name}: dirt of {name} differs from its auctions' tabs")
        return problems
