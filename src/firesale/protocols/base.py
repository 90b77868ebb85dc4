"""The protocol contract: the one abstract base class every protocol model implements.

A protocol model (a pooled lending market, a CDP with auctions, a perpetuals venue, a stablecoin) owns its state as
arrays with the Monte Carlo path axis first and never touches another protocol's state. Each cascade round the
engine hands it the prices its oracles report, the market prices agents trade at, and the liquidators' remaining
capacity; the model answers with :class:`Flows`: what it hands to agents to sell, what they must buy, what it kept,
how many actions it took and how many it could not get done. The engine routes those flows through venues, so
every sale, price move and loss carries its origin and contagion stays explicit.

The contract, as the engine uses it::

    model = SomeModel.from_spec(spec, world_assets, positions)   # built once per run
    state = model.init_state(n_paths)                           # per batch of paths
    flows = model.round(state, RoundInputs(...))                # every cascade round
    book = model.account(state, market_prices)                  # after the cascade
    prices = model.token_prices(state, market_prices)           # tokens it issues (receipt tokens, LP shares)
    model.check_conservation(state)                             # debug runs and the conformance suite

Every registered type is proved by :func:`firesale.testing.check_protocol_model`, as scikit-learn's estimators are
by ``check_estimator``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from firesale.exceptions import ParameterError

__all__ = [
    "Accounts",
    "Flows",
    "IssuedToken",
    "LiquidatorCapacity",
    "ProtocolModel",
    "ProtocolState",
    "RoundInputs",
    "SaleQuotes",
    "protocol_spec",
    "protocol_type",
    "protocol_types",
    "register_protocol",
]


@dataclass
class ProtocolState:
    """A model's per-path state: named arrays, path axis first. Models may subclass it with typed fields."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_paths(self) -> int:
        first = next(iter(self.arrays.values()), None)
        return 0 if first is None else int(first.shape[0])


@dataclass
class SaleQuotes:
    """What selling a model asset would really fetch, per path: a proceeds curve over cumulative sale size.

    ``proceeds(paths, needed_usd)`` returns an array of shape (n_paths, n_assets, n_sizes), filled on the path
    indices ``paths``, for each asset up to the size ``needed_usd[r]`` (0: not needed; beyond it the last segment is
    extended): element ``[p, r, k]`` is the USD the venues pay on path ``p`` for a cumulative sale of ``size_usd[k]`` of
    asset ``r`` (valued at the market price), routed as the engine routes sales, from the venues' state at the start
    of the round. A liquidator who has already sold ``s`` this round and sells ``q`` more is paid ``f(s + q) - f(s)``
    with ``f`` interpolated linearly between grid points; so a liquidation is judged on the quote for its size
    *after* the round's earlier sales, not on a linearised probe. Curves are computed only for the paths asked
    (those with something to liquidate), on copies of the venues.

    ``costs(paths, needed_usd)``, when given, is the purchase side on the same grid and in the same shape: element
    ``[p, r, k]`` is the USD that buying a cumulative market value ``size_usd[k]`` of asset ``r`` costs, routed as
    the engine routes ``Flows.buy`` (through the asset's order book, whose price rises with the buying), for
    models whose trades have a purchase leg to size (the PSM and Terra arbitrages). None (a caller that quotes no
    purchases): a model prices a purchase at its market value.
    """

    size_usd: np.ndarray  # (n_sizes,) increasing, size_usd[0] == 0
    proceeds: Callable[[np.ndarray, np.ndarray], np.ndarray]
    costs: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


@dataclass
class LiquidatorCapacity:
    """The liquidators' resources left in this step, per path; models spend them in place.

    ``slots`` is block space (liquidations that still fit), ``capital_usd`` the debt they can still buy and
    repay, ``gas_usd`` the cost of one liquidation and ``min_profit_usd`` the profit below which none is taken.
    ``gas_gwei`` is the step's market gas price (None when the caller has none), for models whose agents send
    transactions at their own gas price and land only when it is at least the market's.

    With ``[agents.block_space]`` the step's mined gas prices come as quantiles: ``gas_levels`` (k,) shares in
    (0, 1] and ``gas_quantiles`` (n_paths, k) the prices (gwei) below which those shares of the step's mined
    transactions were priced; ``block_gas`` is the gas the step's blocks hold and ``gas_per_action`` the gas of one
    liquidation. :meth:`block_slots` is then how many liquidations a gas price buys (``slots`` is that at
    ``gas_gwei``, less what the step has used).
    """

    slots: np.ndarray  # (n_paths,) int64
    capital_usd: np.ndarray  # (n_paths,) float64
    gas_usd: np.ndarray  # (n_paths,)
    min_profit_usd: float
    gas_gwei: np.ndarray | None = None  # (n_paths,)
    gas_levels: np.ndarray | None = None  # (k,)
    gas_quantiles: np.ndarray | None = None  # (n_paths, k)
    block_gas: float = 0.0
    gas_per_action: float = 0.0

    def share_below(self, gwei: np.ndarray) -> np.ndarray:
        """Share of the step's mined gas priced below ``gwei`` (n_paths,): piecewise linear in the price through
        (0, 0) and the quantiles (ASSUMPTION between them, and gas shares taken as transaction shares), 1 at and
        above the top quantile."""
        assert self.gas_levels is not None and self.gas_quantiles is not None
        q = self.gas_quantiles
        g = np.broadcast_to(np.asarray(gwei, dtype=float), q.shape[:1])
        xs = np.concatenate([np.zeros((q.shape[0], 1)), q], axis=1)
        ys = np.concatenate([[0.0], self.gas_levels])
        j = np.clip((xs < g[:, None]).sum(axis=1), 1, xs.shape[1] - 1)  # g in (xs[j-1], xs[j]]
        rows = np.arange(q.shape[0])
        x0, x1 = xs[rows, j - 1], xs[rows, j]
        w = np.where(x1 > x0, (g - x0) / np.where(x1 > x0, x1 - x0, 1.0), 1.0)
        share = ys[j - 1] + np.clip(w, 0.0, 1.0) * (ys[j] - ys[j - 1])
        share = np.where(g >= q[:, -1], ys[-1], share)
        return np.where(np.isinf(g) & (g > 0), 1.0, np.where(g > 0, share, 0.0))

    def block_slots(self, gwei: np.ndarray) -> np.ndarray:
        """Liquidations a gas price buys in the step (n_paths,) int64: the mined gas priced below it (which a
        transaction at that price would have displaced) over the gas of one, rounded down."""
        n = np.floor(self.share_below(gwei) * self.block_gas / self.gas_per_action + 1e-9)
        return n.astype(np.int64)


@dataclass
class RoundInputs:
    """What a model is given each cascade round.

    ``oracle`` and ``market`` are USD prices of the model's assets (``model.assets`` order), shape
    ``(n_paths, n_assets)``; ``active`` marks the paths to look at; ``quotes`` prices sales of each asset;
    ``liquidators`` is spent in place.
    """

    time: float
    oracle: np.ndarray
    market: np.ndarray
    active: np.ndarray
    liquidators: LiquidatorCapacity
    quotes: SaleQuotes


@dataclass
class Flows:
    """What one round of one model did, per path, with its origin.

    Token amounts are in the model's asset order, shape ``(n_paths, n_assets)``: ``sell`` is handed to agents
    who sell it through the model's venues (seized collateral, auction lots), ``buy`` must be bought by them
    (debt they repay), ``kept`` stays with the protocol (its fees). ``minted``/``burned`` are tokens the protocol
    created or destroyed (zeros from :meth:`empty`; None reads as zeros): the engine adds them to each asset's
    issued supply (:attr:`firesale.engine._world.World.net_issued`) and to the cumulative flows a model's
    ``check_conservation`` is given (``out["minted"]``, ``out["burned"]``). ``n_actions`` counts liquidations (or
    bids, takes); ``n_unserved`` the positions that should have been acted on and were not; ``spent_usd`` the
    liquidator capital used.
    """

    origin: str
    sell: np.ndarray
    buy: np.ndarray
    kept: np.ndarray
    n_actions: np.ndarray
    n_unserved: np.ndarray
    spent_usd: np.ndarray
    minted: np.ndarray | None = None
    burned: np.ndarray | None = None
    reason: str = "liquidation"

    @classmethod
    def empty(cls, origin: str, n_paths: int, n_assets: int, reason: str = "liquidation") -> Flows:
        z = np.zeros((n_paths, n_assets))
        return cls(
            origin=origin, sell=z, buy=z.copy(), kept=z.copy(), n_actions=np.zeros(n_paths, dtype=np.int64),
            n_unserved=np.zeros(n_paths, dtype=np.int64), spent_usd=np.zeros(n_paths), minted=z.copy(),
            burned=z.copy(), reason=reason,
        )  # fmt: skip

    @property
    def acted(self) -> np.ndarray:
        """Paths on which the model did something this round, bool of shape (n_paths,)."""
        return self.n_actions > 0


@dataclass
class Accounts:
    """A model's books at market prices, per path (USD, shape (n_paths,) unless stated).

    ``bad_debt_usd``: liabilities no remaining collateral covers. ``reserves_usd``: what the protocol can absorb
    losses with (reserves, insurance, fees earned). ``uncovered_usd``: bad debt beyond them, the loss its
    depositors or token holders bear. ``bad_debt_by_asset``: shape (n_paths, n_assets). ``fees_usd``: what the
    protocol earned from liquidations (counted in ``reserves_usd``).
    """

    assets_usd: np.ndarray | None
    liabilities_usd: np.ndarray | None
    bad_debt_usd: np.ndarray
    reserves_usd: np.ndarray
    bad_debt_by_asset: np.ndarray | None = None
    fees_usd: np.ndarray | None = None  # protocol revenue from liquidations so far (part of reserves_usd)

    @property
    def reserves_used_usd(self) -> np.ndarray:
        return np.minimum(self.bad_debt_usd, self.reserves_usd)

    @property
    def uncovered_usd(self) -> np.ndarray:
        return np.maximum(self.bad_debt_usd - self.reserves_usd, 0.0)

    @property
    def insolvent(self) -> np.ndarray:
        return self.bad_debt_usd > self.reserves_usd + 1e-9


@dataclass(frozen=True)
class IssuedToken:
    """A token a protocol issues whose price comes from the protocol's state (receipt token, LP share, stablecoin).

    ``underlying`` is the model asset it is a claim on; its price is given by ``model.token_prices``.
    """

    name: str
    underlying: str


class ProtocolModel(ABC):
    """One protocol: its parameters (immutable) and the rules that move its per-path state.

    Attributes
    ----------
    name : str
        Unique name from the scenario.
    assets : tuple of str
        Assets it holds or owes, in the order of every array it takes or returns.
    oracles : tuple of str
        The oracle read for each asset (same order as ``assets``).
    sale_venues : tuple of tuple of str
        For each asset, the venues where agents sell it on the protocol's behalf (may be empty for assets it never
        hands out).
    issued : tuple of IssuedToken
        Tokens it issues whose prices it defines.
    monotone_in_price : bool
        Whether lower oracle prices never make it act less (the conformance suite checks it when True).
    """

    #: scenario ``type`` names this class implements (registered with :func:`register_protocol`)
    types: ClassVar[tuple[str, ...]] = ()

    name: str
    assets: tuple[str, ...]
    oracles: tuple[str, ...]
    sale_venues: tuple[tuple[str, ...], ...]
    issued: tuple[IssuedToken, ...] = ()
    monotone_in_price: bool = True

    @classmethod
    @abstractmethod
    def build(cls, spec: Any, scenario: Any, **options: Any) -> ProtocolModel:
        """The model of protocol ``spec`` (its registered pydantic spec) in the loaded ``scenario``
        (:class:`firesale.scenario.Scenario`: assets, oracles, venues, positions, base directory). ``options`` are
        engine settings a model may use (``kernel="numba"|"numpy"``) and must otherwise ignore."""

    @abstractmethod
    def init_state(self, n_paths: int) -> ProtocolState:
        """The starting state replicated over ``n_paths`` paths.

        A model with randomness of its own (keepers that fail, random ADL) may take a keyword ``rng``: the engine
        then passes a generator-like whose one call ``rng.integers(low, high, size=n_paths, dtype=...)`` returns
        per-path keys drawn by path block (:class:`firesale.engine.seeding.BlockDraws`), so results never depend on
        batch size; the model derives everything else from those keys.
        """

    @abstractmethod
    def round(self, state: ProtocolState, inputs: RoundInputs) -> Flows:
        """One cascade round: act on the active paths, mutate ``state`` and the liquidators' capacity."""

    @abstractmethod
    def account(self, state: ProtocolState, market: np.ndarray, by_asset: bool = False) -> Accounts:
        """The books at market prices ``market`` (n_paths, n_assets). Every step the engine needs bad debt and
        reserves; ``by_asset`` asks for the full books (assets, liabilities, bad debt by asset), which a model may
        leave None otherwise."""

    def token_prices(
        self, state: ProtocolState, market: np.ndarray, accounts: Accounts
    ) -> dict[str, np.ndarray]:
        """USD price of each issued token, per path; the default issues none."""
        return {}

    def series(self) -> dict[str, str]:
        """Recordable per-step series this model offers: name -> description."""
        return {}

    def metrics(self, state: ProtocolState, market: np.ndarray) -> dict[str, np.ndarray]:
        """Per-path figures at the end of the horizon that only this kind of protocol has (auctions settled at
        zero, insurance fund exhausted, ...), each shape (n_paths,); the engine adds them to the run's metrics as
        ``"<protocol name>.<key>"``. The default has none."""
        return {}

    def record(self, state: ProtocolState, name: str, market: np.ndarray) -> np.ndarray:
        """The value of series ``name`` now, shape (n_paths,)."""
        raise ParameterError(f"The 'name' parameter of {type(self).__name__}.record must be one of "
                             f"{sorted(self.series())}. Got {name!r} instead.")  # fmt: skip

    # ----- policy controls (firesale.policies): what a mitigation may change; the defaults offer none ---------
    @classmethod
    def controls(cls, spec: Any) -> dict[str, str]:
        """Controls a policy may use on protocol ``spec`` (its pydantic spec): name -> description.

        ``"pause_liquidations"`` (:meth:`pause_liquidations`), ``"reserve_usd"`` (:meth:`add_reserves`) and the
        names of parameters :meth:`scale_parameter` accepts (``"reserves.WETH.liquidation_threshold"``). The
        loader rejects a policy that asks for a control its protocol does not list. The default offers none."""
        return {}

    def pause_liquidations(
        self, state: ProtocolState, paused: np.ndarray, below_health_factor: float = 0.0
    ) -> None:
        """From now on, no liquidation where ``paused`` (bool, (n_paths,)) except of accounts whose health factor
        is below ``below_health_factor``; False lifts the pause. The default refuses."""
        raise ParameterError(f"{type(self).__name__} offers no 'pause_liquidations' control")

    def scale_parameter(self, state: ProtocolState, name: str, factor: np.ndarray) -> None:
        """Set parameter ``name`` to its scenario value times ``factor`` ((n_paths,); 1 restores it) from now on.
        The default refuses."""
        raise ParameterError(f"{type(self).__name__} has no parameter {name!r} that a policy may scale")

    def add_reserves(self, state: ProtocolState, usd: np.ndarray) -> None:
        """Add ``usd`` ((n_paths,)) of first-loss capital to the reserves that absorb bad debt (a backstop). The
        default refuses."""
        raise ParameterError(f"{type(self).__name__} offers no 'reserve_usd' control")

    # ----- behaviour agents (firesale.agents.borrowers, .lenders): what its users may do; the defaults refuse ---
    @classmethod
    def behaviours(cls) -> dict[str, str]:
        """Behaviour agents this model lets act on it (``"borrowers"``, ``"lenders"``): name -> description. The
        loader rejects an ``[agents.NAME]`` section naming a protocol that does not list it. The default: none."""
        return {}

    def borrowers_respond(
        self, state: ProtocolState, oracle: np.ndarray, market: np.ndarray, rule: Any
    ) -> None:
        """Borrowers near liquidation top up or repay (:class:`firesale.agents.borrowers.BorrowerRule`), before
        the cascade; ``oracle`` and ``market`` are (n_paths, n_assets). The default refuses."""
        raise ParameterError(f"{type(self).__name__} has no borrowers who respond ([agents.borrowers])")

    def lenders_withdraw(self, state: ProtocolState, market: np.ndarray, rule: Any) -> None:
        """Lenders withdraw supply (:class:`firesale.agents.lenders.LenderRule`), up to the liquidity the
        protocol has, before the cascade. The default refuses."""
        raise ParameterError(f"{type(self).__name__} has no lenders who withdraw ([agents.lenders])")

    def lenders_supply(self, state: ProtocolState, market: np.ndarray, rule: Any) -> None:
        """Outside lenders supply for the rate (:meth:`firesale.agents.lenders.LenderRule.supply_wanted`), within
        the protocol's supply caps, before the cascade. The default refuses."""
        raise ParameterError(
            f"{type(self).__name__} has no lenders who supply ([agents.lenders] supply_elasticity)"
        )

    @abstractmethod
    def check_conservation(self, state: ProtocolState, out: dict[str, np.ndarray]) -> list[str]:
        """Problems (empty when none): negative balances, or tokens not accounted for by the cumulative flows
        ``out`` (``sold``, ``kept``, ``repaid``, ``minted``, ``burned``, each (n_paths, n_assets)) since the
        start."""


_REGISTRY: dict[str, type[ProtocolModel]] = {}
_SPECS: dict[str, Any] = {}


def register_protocol(spec_type: Any) -> Callable[[type[ProtocolModel]], type[ProtocolModel]]:
    """Class decorator: register a model for each of its ``types``, with the pydantic spec that validates it
    (the class, or ``"module:Name"`` where importing the spec here would be circular)."""

    def deco(cls: type[ProtocolModel]) -> type[ProtocolModel]:
        for t in cls.types:
            if t in _REGISTRY and _REGISTRY[t] is not cls:
                raise ParameterError(f"protocol type {t!r} is already registered by {_REGISTRY[t].__name__}")
            _REGISTRY[t] = cls
            _SPECS[t] = spec_type
        return cls

    return deco


def protocol_types() -> dict[str, type[ProtocolModel]]:
    """Registered protocol types (scenario ``type`` name -> model class)."""
    return dict(_REGISTRY)


def protocol_spec(name: str) -> Any:
    """The pydantic spec class registered for scenario type ``name``."""
    spec = _SPECS[protocol_type(name).types[0]] if name in _REGISTRY else None
    if isinstance(spec, str):
        import importlib

        module, attr = spec.split(":")
        spec = getattr(importlib.import_module(module), attr)
    return spec


def protocol_type(name: str) -> type[ProtocolModel]:
    """The model class registered for scenario type ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParameterError(
            f"The 'type' parameter of a protocol must be one of {sorted(_REGISTRY)}. Got {name!r} instead."
        ) from None
