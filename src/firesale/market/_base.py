"""The contract every exogenous price process obeys, and the time units it uses."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from firesale.market._validation import check_float, check_int, check_rng

__all__ = ["SECONDS_PER_DAY", "SECONDS_PER_YEAR", "PriceModel"]

SECONDS_PER_DAY = 86_400.0
# Crypto trades every day of the year, so annualised figures use a 365-day year (not 252 trading days).
SECONDS_PER_YEAR = 365.0 * SECONDS_PER_DAY


class PriceModel(ABC):
    """An exogenous multi-asset price process, simulated on every Monte Carlo path at once.

    Subclasses are frozen dataclasses that validate their parameters on construction and implement
    :meth:`_simulate`. The public :meth:`simulate` checks its arguments and delegates.

    Attributes
    ----------
    assets : tuple of str
        Asset names; the last axis of a simulation follows this order.
    """

    assets: tuple[str, ...]

    @property
    def n_assets(self) -> int:
        """Number of assets."""
        return len(self.assets)

    def simulate(self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator) -> np.ndarray:
        """Simulate price relatives on ``n_paths`` paths of ``n_steps`` steps of ``dt`` seconds.

        Parameters
        ----------
        n_paths : int
            Number of Monte Carlo paths, >= 1.
        n_steps : int
            Number of time steps, >= 1.
        dt : float
            Step length in seconds, > 0 (one block, 12 s, up to a day, 86400 s, is the tested range).
        rng : numpy.random.Generator
            The only source of randomness; the engine derives one per (component, path block), so a result
            depends only on the seed.

        Returns
        -------
        ndarray of shape (n_paths, n_steps + 1, n_assets)
            Price relative to the start, ``[:, 0, :] == 1.0``; positive and finite.
        """
        owner = f"{type(self).__name__}.simulate"
        n_paths = check_int(n_paths, "n_paths", owner, lo=1)
        n_steps = check_int(n_steps, "n_steps", owner, lo=1)
        dt = check_float(dt, "dt", owner, lo=0.0, lo_open=True)
        check_rng(rng, owner)
        return self._simulate(n_paths, n_steps, dt, rng)

    @abstractmethod
    def _simulate(self, n_paths: int, n_steps: int, dt: float, rng: np.random.Generator) -> np.ndarray:
        """Simulate with validated arguments; same contract as :meth:`simulate`."""


def relatives_from_log_increments(increments: np.ndarray) -> np.ndarray:
    """Turn log-returns of shape (n_paths, n_steps, n_assets) into relatives with a leading row of ones."""
    n_paths, n_steps, n_assets = increments.shape
    log_prices = np.zeros((n_paths, n_steps + 1, n_assets))
    np.cumsum(increments, axis=1, out=log_prices[:, 1:, :])
    return np.exp(log_prices)
