"""The contract every simulated venue obeys: pools vectorized over Monte Carlo paths.

A venue holds its parameters (immutable) and creates a :class:`VenueState`, a bag of float64 arrays whose first axis
is the path. All methods operate on every path at once and mutate the state in place; amounts are float64 arrays of
shape ``(n_paths,)`` in token units (not wei). Coins are addressed by index into ``venue.coins``.

Zero amounts are no-ops, so callers pass masked arrays instead of subsetting paths.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Venue", "VenueState"]


@dataclass
class VenueState:
    """Per-path state of one venue: named float64 arrays, path axis first."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        self.arrays[key] = value

    def copy(self) -> VenueState:
        return VenueState({k: v.copy() for k, v in self.arrays.items()})


class Venue(ABC):
    """A pool (or off-chain book) in which coins are swapped, vectorized over paths.

    Attributes
    ----------
    name : str
        Unique name from the scenario.
    coins : tuple of str
        Asset names; methods take coin indices into this tuple.
    """

    name: str
    coins: tuple[str, ...]

    @abstractmethod
    def init_state(self, n_paths: int) -> VenueState:
        """Return the starting state replicated over ``n_paths`` paths."""

    @abstractmethod
    def price(self, state: VenueState, i: int, j: int) -> np.ndarray:
        """Marginal price of coin ``i`` in units of coin ``j`` (before fee), shape ``(n_paths,)``."""

    @abstractmethod
    def swap(self, state: VenueState, i: int, j: int, dx: np.ndarray) -> np.ndarray:
        """Sell ``dx >= 0`` of coin ``i`` for coin ``j``; return the amount of ``j`` received (after fee)."""

    @abstractmethod
    def arbitrage(
        self, state: VenueState, i: int, j: int, target_price: np.ndarray, max_in_j: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Trade towards an external price, as a profit-seeking arbitrageur with limited capital would.

        ``target_price`` is the external price of coin ``i`` in units of coin ``j``. Where the pool prices ``i``
        above target net of fee, the arbitrageur sells ``i`` into the pool until the marginal amount of ``j``
        received per unit of ``i`` (after fee) equals the target; where below, it sells ``j`` for ``i`` until the
        marginal cost per unit of ``i`` (after fee) equals the target. Inside the fee band nothing trades. The
        input is capped so that its value, in units of ``j`` at ``target_price``, is at most ``max_in_j``.

        Returns
        -------
        (d_i, d_j) : tuple of ndarray of shape (n_paths,)
            Signed change of the pool's balances of ``i`` and ``j`` (positive: into the pool).
        """

    @abstractmethod
    def depth(self, state: VenueState) -> np.ndarray:
        """A liquidity measure whose ratio to its starting value says how much liquidity is left.

        Constant product: ``sqrt(x * y)``; concentrated liquidity: active liquidity; StableSwap: ``D``.
        """

    @abstractmethod
    def scale_liquidity(self, state: VenueState, factor: np.ndarray) -> None:
        """LPs withdraw (``factor < 1``) or return (``factor > 1``) liquidity pro rata, at unchanged price."""
