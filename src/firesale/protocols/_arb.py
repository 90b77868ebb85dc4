"""Arbitrage sizing on the engine's piecewise-linear proceeds curves, shared by the stablecoin models."""

from __future__ import annotations

import numpy as np

from firesale.protocols._cdp import Quotes

__all__ = ["profitable_sale"]


def profitable_sale(quotes: Quotes, asset: int, threshold: np.ndarray, cap_usd: np.ndarray) -> np.ndarray:
    """Market value to sell of ``asset`` so that every unit sold still fetches at least ``threshold``.

    The proceeds curve ``f`` is piecewise linear over the grid ``quotes.size_usd`` (its last segment extended), so
    its marginal proceeds per unit of market value are constant on each segment. An arbitrageur whose cost per unit
    of market value sold is ``threshold`` sells while the marginal proceeds are at least the threshold: along the
    segments from the start until the first one that pays less, and no further.

    Parameters
    ----------
    quotes : Quotes
        The round's quotes.
    asset : int
        Model asset index.
    threshold : ndarray of shape (n_paths,)
        Cost of the arbitrage per unit of market value sold (NaN or inf: no sale).
    cap_usd : ndarray of shape (n_paths,)
        Most market value that may be sold (the protocol's capacity).

    Returns
    -------
    ndarray of shape (n_paths,)
        Market value to sell (0 where nothing pays).
    """
    grid = quotes.size_usd
    n = threshold.shape[0]
    if grid.shape[0] < 2 or not np.any(np.isfinite(threshold) & (cap_usd > 0)):
        return np.zeros(n)
    curve = quotes.curve(asset, quotes.n_assets)
    width = np.diff(grid)
    marginal = np.diff(curve, axis=1) / width
    th = np.where(np.isfinite(threshold), threshold, np.inf)[:, None]
    # 1e-12 relative slack: a segment exactly at the threshold is worth nothing either way
    ok = np.cumprod(marginal >= th * (1.0 + 1e-12), axis=1).astype(bool)
    size = (width * ok).sum(axis=1)
    size = np.where(ok[:, -1], np.inf, size)  # the last segment extends without end
    return np.minimum(size, np.maximum(cap_usd, 0.0))
