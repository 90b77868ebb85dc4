"""Oracle manipulation: an attacker trades into a pool a pool-read oracle watches, then unwinds (``[[attacks]]``)."""

from __future__ import annotations

import numpy as np

__all__ = ["Attackers"]


class Attackers:
    """Open and close each attack at its times; the cost (USD spent less recovered) accrues per path."""

    def __init__(self, attacks: list, venue_index: dict[str, int], assets: list[str], n_paths: int) -> None:
        self.attacks = attacks
        self.venue_index = venue_index
        self.assets = assets
        self.open: dict[int, tuple[int, int, np.ndarray]] = {}
        self.cost_usd = np.zeros(n_paths)

    def act(self, venues, market: np.ndarray, time: float, dt: float) -> None:  # type: ignore[no-untyped-def]
        for n, att in enumerate(self.attacks):
            k = self.venue_index[att.venue]
            pool, coins = venues.venues[k][1], venues.coins[k]
            i, j = venues.pair(k, self.assets.index(att.coin))
            if att.start <= time < att.start + dt:
                give, get = (i, j) if att.side == "sell" else (j, i)
                amount = att.amount_usd / market[:, coins[give]]
                got = pool.swap(venues.states[k], give, get, amount)
                self.cost_usd += amount * market[:, coins[give]]
                self.open[n] = (give, get, got)
            elif att.start + att.duration <= time < att.start + att.duration + dt and n in self.open:
                give, get, got = self.open.pop(n)
                back = pool.swap(venues.states[k], get, give, got)
                self.cost_usd -= back * market[:, coins[give]]
