"""All oracles of a world: where each reads its price, when it updates, what it reports, and which are faulted.

Sourcing: a feed reads its asset's market price; a ``twap`` feed reads its pool's price (against the pool's other
coin, valued at market); an exchange-rate feed (``reference_asset``) reads the reference asset's market price times
the starting ratio (Aave's CAPO adapters for wstETH and weETH); a ``median`` feed takes the median of its sources'
reported answers (multi-source oracles). Update rules (heartbeat, deviation, OSM hops, TWAP windows), clamps and
faults are per feed, in :mod:`firesale.oracle.feeds`. This is where oracle lag lives.
"""

from __future__ import annotations

import numpy as np

from firesale.oracle.feeds import OracleFeed

__all__ = ["OracleNetwork"]


class OracleNetwork:
    """The feeds of one batch of paths, in scenario order.

    Parameters
    ----------
    specs : list of OracleSpec
    asset_index : dict of str to int
    price0 : ndarray of shape (n_assets,)
        Starting prices (for exchange-rate feeds).
    venue_index : dict of str to int
    dt : float
        Step length, seconds (TWAP windows are whole steps).
    """

    def __init__(self, specs: list, asset_index: dict[str, int], price0: np.ndarray, venue_index: dict[str, int],
                 dt: float) -> None:  # fmt: skip
        self.specs = specs
        self.asset_index = asset_index
        self.price0 = price0
        oidx = {o.name: i for i, o in enumerate(specs)}
        self.index = oidx
        self.sources = [[oidx[s] for s in o.sources] for o in specs]
        self.venue = [venue_index[o.venue] if o.venue else -1 for o in specs]
        self.asset = [asset_index[o.asset] for o in specs]
        self.feeds: list[OracleFeed] = []
        #: Switched sources (:meth:`switch`): feed -> (the feed read instead, on which paths); empty by default.
        self.switched: dict[int, tuple[int, np.ndarray]] = {}
        for o in specs:
            window_steps = max(1, round(o.window / dt)) if o.type == "twap" else 1
            self.feeds.append(
                OracleFeed(
                    name=o.name, asset=o.asset, kind=o.type, heartbeat=o.heartbeat, deviation=o.deviation_bps / 1e4,
                    delay=o.delay, window_steps=window_steps, min_answer=o.min_answer, max_answer=o.max_answer,
                    faults=[(f.kind, f.start, f.end, f.factor) for f in o.faults],
                )
            )  # fmt: skip

    def _source(self, k: int, market: np.ndarray, venues) -> np.ndarray:  # type: ignore[no-untyped-def]
        spec = self.specs[k]
        a = self.asset[k]
        if spec.reference_asset is not None:
            r = self.asset_index[spec.reference_asset]
            return market[:, r] * (self.price0[a] / self.price0[r])
        v = self.venue[k]
        if spec.type == "twap" and v >= 0:
            i, j = venues.pair(v, a)
            return venues.venues[v][1].price(venues.states[v], i, j) * market[:, venues.coins[v][j]]
        return market[:, a]

    def _median(self, k: int, time: float) -> np.ndarray:
        return np.median(np.stack([self.feeds[s].reported(time) for s in self.sources[k]], axis=1), axis=1)

    def start(self, market: np.ndarray, venues) -> None:  # type: ignore[no-untyped-def]
        """Every feed starts at its source's price at time 0."""
        for k, feed in enumerate(self.feeds):
            if feed.kind != "median":
                feed.start(self._source(k, market, venues))
        for k, feed in enumerate(self.feeds):
            if feed.kind == "median":
                feed.start(self._median(k, 0.0))

    def poke(self, time: float, market: np.ndarray, venues, step_start: bool) -> None:  # type: ignore[no-untyped-def]
        """Bring every feed to ``time``: heartbeats and hops at step starts, deviation updates any time."""
        for k, feed in enumerate(self.feeds):
            if feed.kind != "median":
                feed.poke(time, self._source(k, market, venues), step_start)
        for k, feed in enumerate(self.feeds):
            if feed.kind == "median":
                feed.answer = self._median(k, time)

    def reported(self, k: int, time: float) -> np.ndarray:
        """What feed ``k`` reports at ``time`` (faults and clamps applied), shape (n_paths,).

        Where a policy switched ``k``'s source (:meth:`switch`), the answer of the feed switched to.
        """
        answer = self.feeds[k].reported(time)
        if k in self.switched:
            to, where = self.switched[k]
            answer = np.where(where, self.feeds[to].reported(time), answer)
        return answer

    def switch(self, k: int, to: int, where: np.ndarray) -> None:
        """Readers of feed ``k`` read feed ``to`` on the paths ``where`` (Aave's ``AaveOracle.setAssetSources``)."""
        self.switched[k] = (to, where.copy())

    def last_written(self, k: int, time: float) -> np.ndarray | None:
        """When feed ``k`` last wrote an answer as of ``time``, per path, or None where only its changes say so.

        A push feed's heartbeat or deviation update and a delayed feed's hop write an answer even when it repeats
        the last one (Chainlink's ``updatedAt``); a market or TWAP feed is re-read at every step unless a ``stale``
        fault holds (then None); a median feed keeps no time of its own (None). Read only.
        """
        feed = self.feeds[k]
        if feed.kind in ("push", "delayed"):
            return feed.last_update.copy()
        if feed.kind in ("market", "twap") and not feed._stale(time):
            return np.full(feed.answer.shape, float(time))
        return None

    def prices(self, feeds: list[int], time: float) -> np.ndarray:
        """Reported answers of ``feeds``, C-ordered (n_paths, len(feeds))."""
        return np.ascontiguousarray(np.stack([self.reported(k, time) for k in feeds], axis=1))

    def failed(self, feeds: list[int], time: float, market: np.ndarray, deviation: float) -> np.ndarray:
        """Per path: any of ``feeds`` is faulted, or reports more than ``deviation`` off its asset's market price."""
        out = np.zeros(market.shape[0], dtype=bool)
        for k in feeds:
            feed = self.feeds[k]
            if feed.faulted(time):
                out[:] = True
                continue
            a = self.asset[k]
            out |= np.abs(self.reported(k, time) - market[:, a]) > deviation * market[:, a]
        return out
