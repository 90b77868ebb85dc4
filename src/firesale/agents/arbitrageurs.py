"""Arbitrageurs: pull every pool towards the market, with a capital budget per venue and step, to where the venues
balance.

An arbitrageur who buys a coin cheap in a pool sells it off-chain (and the reverse), so its off-chain leg moves that
coin's order book. Trading the pool all the way to the *pre-trade* market price overshoots when the pool is deep
and the book thin (the leg crashes the book past the pool, and the next step trades back: prices oscillate and,
with a very thin book, diverge). The arbitrageur here sizes the trade to the level where the two venues meet after
its own legs: it solves :math:`\\log t = \\log m(t)` for the pool target :math:`t`, where :math:`m(t)` is the market
price after the off-chain legs of the trade to :math:`t` (regula falsi in log price between the pool and the market,
on copies of the venues; where trading to the market leaves the venues apart by less than 1 bp, or by less than the
pool's fee, the market is taken as the meeting point), and trades there. Fees enter through the pool's own arbitrage rule (it stops at the edge
of its fee band).

Capital: ``agents.arbitrage_capital_usd`` per venue and step. Each trade's input, valued at market, is taken from
that venue's budget, which is refilled at the start of every step (not at every call).
"""

from __future__ import annotations

import numpy as np

from firesale.liquidity._venue import VenueState
from firesale.liquidity.venues import fee_fraction

__all__ = ["CONVERGED", "ROOT_STEPS", "TOLERANCE", "Arbitrageurs"]

#: Root-finding steps for the balancing target.
ROOT_STEPS = 12
#: A path's target is found when the venues meet to within this log-price gap.
CONVERGED = 1e-7
#: Log-price gap below which the trade to the market price is taken as balanced (1 bp).
TOLERANCE = 1e-4


class Arbitrageurs:
    """The arbitrageurs of one batch of paths."""

    def __init__(self, capital_usd: float, n_paths: int, n_venues: int) -> None:
        self.capital_usd = capital_usd
        self.budget = np.full((n_paths, n_venues), capital_usd)

    def new_step(self) -> None:
        """Refill every venue's budget."""
        self.budget[:] = self.capital_usd

    def run(self, venues, exo: np.ndarray, paths: np.ndarray | None = None) -> None:  # type: ignore[no-untyped-def]
        """Arbitrage every pool towards the market, on ``paths`` only if given (a bool mask)."""
        for k, (kind, pool) in enumerate(venues.venues):
            if kind != "pool":
                continue
            coins = venues.coins[k]
            for i in range(1, len(coins)):
                self._pair(venues, k, pool, i, 0, exo, paths)

    def _pair(self, venues, k, pool, i, j, exo, paths):  # type: ignore[no-untyped-def]
        coins = venues.coins[k]
        a_i, a_j = coins[i], coins[j]
        market = venues.market_prices(exo)
        budget = self.budget[:, k] if paths is None else np.where(paths, self.budget[:, k], 0.0)
        books = [b for b in (venues.book_of_asset.get(a_i), venues.book_of_asset.get(a_j)) if b is not None]
        target = market[:, a_i] / market[:, a_j]
        if books:
            target = self._balanced_target(venues, k, pool, i, j, target, budget, exo, market)
        d_i, d_j = pool.arbitrage(venues.states[k], i, j, target, budget / market[:, a_j])
        # The input the arbitrageur paid into the pool, at market, comes out of this venue's budget.
        spent = np.where(d_i > 0, d_i * market[:, a_i], 0.0) + np.where(d_j > 0, d_j * market[:, a_j], 0.0)
        self.budget[:, k] = np.maximum(self.budget[:, k] - spent, 0.0)
        _offchain(venues, a_i, -d_i, market, exo)
        _offchain(venues, a_j, -d_j, market, exo)

    def _balanced_target(self, venues, k, pool, i, j, target, budget, exo, market):  # type: ignore[no-untyped-def]
        """The pool target at which the pool and the market meet after the arbitrage's off-chain legs (``market``:
        the venues' market prices now, as :meth:`_pair` read them)."""
        coins = venues.coins[k]
        spot = pool.price(venues.states[k], i, j)
        # Only paths outside the pool's fee band trade at all.
        live = (np.abs(np.log(spot / target)) > -np.log1p(-fee_fraction(pool))) & (budget > 0)
        idx = np.flatnonzero(live)
        if idx.size == 0:
            return target
        state = venues.states[k]
        books = {a: venues.book_of_asset[a] for a in (coins[i], coins[j]) if a in venues.book_of_asset}

        def market_after(paths: np.ndarray, log_target: np.ndarray) -> np.ndarray:
            """Log price of coin i in j after trading the pool to ``log_target`` and the legs off-chain."""
            trial = VenueState({n: v[paths] for n, v in state.arrays.items()})  # fancy indexing copies
            d_i, d_j = pool.arbitrage(
                trial, i, j, np.exp(log_target), budget[paths] / market[paths, coins[j]]
            )
            after = market[paths][:, [coins[i], coins[j]]]
            for col, (a, d) in enumerate(((coins[i], d_i), (coins[j], d_j))):
                b = books.get(a)
                if b is None:
                    continue
                book = venues.venues[b][1]
                v, perm = venues.book_v[b][paths], venues.book_perm[b][paths]
                depth = venues.book_depth(b)[paths]
                book.trade(v, perm, -d * market[paths, a], depth)
                after[:, col] = exo[paths, a] * np.exp(-book.log_impact(v, perm, depth))
            return np.log(after[:, 0] / after[:, 1])

        out = target.copy()
        hi_all = np.log(target[idx])
        f_hi = market_after(idx, hi_all) - hi_all
        # Where the full trade leaves the venues apart by less than TOLERANCE, or by less than the pool's own fee
        # (inside its no-arbitrage band: no further trade would pay), they already balance there.
        tol = max(TOLERANCE, -np.log1p(-fee_fraction(pool)))
        miss = np.abs(f_hi) > tol
        idx = idx[miss]
        if idx.size == 0:
            return out
        # Root of f(x) = m(x) - x between the pool (no trade: f = market - pool) and the market, by the Illinois
        # variant of regula falsi (superlinear, and the bracket is kept).
        lo, hi = np.log(spot[idx]), hi_all[miss]
        f_lo, f_hi = hi - lo, f_hi[miss]
        side = np.zeros(idx.size)
        best = np.where(np.abs(f_lo) < np.abs(f_hi), lo, hi)
        live = np.ones(idx.size, dtype=bool)
        for _ in range(ROOT_STEPS):
            k = np.flatnonzero(live)
            x = (lo[k] * f_hi[k] - hi[k] * f_lo[k]) / (f_hi[k] - f_lo[k])
            fx = market_after(idx[k], x) - x
            same = np.sign(fx) == np.sign(f_lo[k])
            # Replace the end whose f has the sign of f(x); halve the other end's f if it was kept twice.
            f_lo[k] = np.where(same, fx, np.where(side[k] < 0, 0.5 * f_lo[k], f_lo[k]))
            lo[k] = np.where(same, x, lo[k])
            f_hi[k] = np.where(same, np.where(side[k] > 0, 0.5 * f_hi[k], f_hi[k]), fx)
            hi[k] = np.where(same, hi[k], x)
            side[k] = np.where(same, 1.0, -1.0)
            done = np.abs(fx) < min(CONVERGED, 0.01 * tol)
            best[k[done]] = x[done]
            live[k[done]] = False
            if not live.any():
                break
        rest = np.flatnonzero(live)
        best[rest] = np.where(np.abs(f_lo[rest]) < np.abs(f_hi[rest]), lo[rest], hi[rest])
        out[idx] = np.exp(best)
        return out


def _offchain(venues, asset: int, amount: np.ndarray, market: np.ndarray, exo: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """The arbitrageur's other leg: sell (amount > 0) or buy what it took from the pool on the asset's book."""
    k = venues.book_of_asset.get(asset)
    if k is None or not np.any(amount):
        return
    book = venues.venues[k][1]
    book.trade(venues.book_v[k], venues.book_perm[k], amount * market[:, asset], venues.book_depth(k))
