"""Shared pieces of the CDP models: proceeds quotes, counter-based per-path uniforms, spec error helpers."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from firesale.protocols.base import SaleQuotes

__all__ = ["Quotes", "model_key", "spec_error", "uniforms"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def model_key(name: str) -> int:
    """A stable 32-bit key of a model name (CRC-32), used to key its random stream."""
    return zlib.crc32(name.encode())


def _mix(z: np.ndarray) -> np.ndarray:
    # SplitMix64's finaliser: a bijection of uint64 with good avalanche; numpy uint64 arithmetic wraps.
    z = z ^ (z >> np.uint64(30))
    z = z * _M1
    z = z ^ (z >> np.uint64(27))
    z = z * _M2
    return z ^ (z >> np.uint64(31))


def uniforms(path_key: np.ndarray, *counters: int | np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1) that depend only on a path's key and the counters (event ids), not on batch layout.

    Parameters
    ----------
    path_key : ndarray of uint64, shape (n_paths,)
        Per-path keys drawn once at state initialisation.
    *counters : int or ndarray
        Event identifiers (round number, collateral type, auction slot), broadcast against ``path_key`` (pass
        ``path_key[:, None]`` for per-slot draws).

    Returns
    -------
    ndarray of float64
        Shape of the broadcast of ``path_key`` and the counters.
    """
    z = np.asarray(path_key, dtype=np.uint64)
    for c in counters:
        c = np.atleast_1d(np.asarray(c, dtype=np.uint64))
        z = _mix(z ^ (c * _GOLDEN + _GOLDEN))
    return (_mix(z) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


class Quotes:
    """The round's proceeds curves, asked of the engine once, on first use, for the paths given.

    Parameters
    ----------
    quotes : SaleQuotes
        The round's quotes (``proceeds`` may be an array or a callable of path indices).
    paths : ndarray of bool, shape (n_paths,)
        Paths the model may sell on this round.
    n_assets : int
        The model's number of assets.
    """

    def __init__(self, quotes: SaleQuotes, paths: np.ndarray, n_assets: int) -> None:
        self.n_assets = n_assets
        self.size_usd = np.asarray(quotes.size_usd, dtype=float)
        self._quotes = quotes
        self._paths = np.nonzero(paths)[0]
        self._curves: dict[int, np.ndarray] = {}

    def curve(self, asset: int, n_assets: int) -> np.ndarray:
        """The proceeds curves of ``asset``, shape (n_paths, n_sizes), asked of the engine once per round."""
        if asset not in self._curves:
            q: Any = self._quotes.proceeds
            if callable(q):
                # The engine's ``needed_usd``: this asset's whole curve (a size, not a flag), no other asset's.
                need = np.zeros(n_assets)
                need[asset] = np.inf
                try:
                    full = q(self._paths, need)
                except TypeError:  # a quote callable of the paths only
                    full = q(self._paths)
            else:
                full = q
            self._curves[asset] = np.asarray(full, dtype=float)[:, asset, :]
        return self._curves[asset]

    def proceeds(self, asset: int, start_usd: np.ndarray, size_usd: np.ndarray) -> np.ndarray:
        """USD the venues pay for selling ``size_usd`` more of ``asset`` after ``start_usd`` sold this round.

        ``f(start + size) - f(start)`` with ``f`` the proceeds curve, interpolated linearly between grid points and
        its last segment extended beyond the grid (as the lending market reads it). A curve with fewer than two
        points pays nothing.

        Parameters
        ----------
        asset : int
            Model asset index.
        start_usd, size_usd : ndarray of shape (n_paths,)
            Cumulative sale so far and the sale's size, at market value.

        Returns
        -------
        ndarray of shape (n_paths,)
        """
        if not np.any(size_usd > 0):
            return np.zeros(np.shape(size_usd))
        curve = self.curve(asset, self.n_assets)
        return _interp(self.size_usd, curve, start_usd + size_usd) - _interp(self.size_usd, curve, start_usd)


def _interp(grid: np.ndarray, curve: np.ndarray, x: np.ndarray) -> np.ndarray:
    n = grid.shape[0]
    if n < 2:
        return np.zeros(curve.shape[0])
    x = np.nan_to_num(np.maximum(x, 0.0), nan=0.0, posinf=grid[-1])
    hi = np.clip(np.searchsorted(grid, x, side="right"), 1, n - 1)
    lo = hi - 1
    rows = np.arange(curve.shape[0])
    x0, x1 = grid[lo], grid[hi]
    y0, y1 = curve[rows, lo], curve[rows, hi]
    w = np.where(x1 > x0, (x - x0) / np.where(x1 > x0, x1 - x0, 1.0), 0.0)
    return y0 + w * (y1 - y0)


def spec_error(model: str, loc: tuple[Any, ...], kind: str, rule: str, value: Any) -> ValidationError:
    """A pydantic ValidationError at ``loc`` (relative to the spec) that the loader renders as
    ``FILE: key.path: rule, got VALUE``."""
    return ValidationError.from_exception_data(
        model, [InitErrorDetails(type=PydanticCustomError(kind, rule), loc=loc, input=value)]
    )
