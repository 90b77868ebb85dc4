"""Every venue of a world and how flows are routed through them: sales, purchases, live quotes, market prices.

A :class:`VenueSet` holds the pools (per-path :class:`~firesale.liquidity.VenueState`) and the off-chain order books
(per-path impact state) of one batch of paths. It is where price impact happens:

- the *market price* of an asset is its exogenous price less the impact its order book carries
  (:meth:`VenueSet.market_prices`); oracles and liquidators read it;
- a *sale* is cut into slices, each routed to the venue quoting most for it *at that moment* (a book at its
  current, already-impacted price; a pool at its marginal price net of its fee), so a venue stops winning slices as
  soon as its own price has fallen below another's (:meth:`VenueSet.sell`);
- a liquidator's *quote* for selling a given size, after the sales already made in the round, is a proceeds curve
  computed by routing increasing sizes through copies of the venues (:meth:`VenueSet.sale_curves`).
"""

from __future__ import annotations

import numpy as np

from firesale.liquidity._venue import Venue, VenueState
from firesale.liquidity.orderbook import OrderBook

__all__ = ["SALE_SLICES", "VenueSet", "fee_fraction"]

#: A sale is routed in this many slices, each to the venue paying most at that moment.
SALE_SLICES = 4


def fee_fraction(venue: Venue) -> float:
    """The venue's swap fee as a fraction of the input (0.0005 for a 5 bps pool)."""
    gamma = getattr(venue, "gamma", None)
    if gamma is not None:
        return 1.0 - float(gamma)
    return float(getattr(venue, "fee_bps", 0.0)) / 1e4


class VenueSet:
    """The venues of one batch of paths.

    Parameters
    ----------
    venues : list of (kind, object)
        ``("pool", Venue)`` or ``("book", OrderBook)``, in scenario order.
    coins : list of list of int
        Asset indices each venue trades (a book trades one asset against USD).
    n_paths : int
    """

    def __init__(self, venues: list, coins: list[list[int]], n_paths: int) -> None:
        self.venues = venues
        self.coins = coins
        self.n_paths = n_paths
        self.states: list[VenueState | None] = []
        self.book_v: dict[int, np.ndarray] = {}
        self.book_perm: dict[int, np.ndarray] = {}
        self.book_of_asset: dict[int, int] = {}
        for k, (kind, obj) in enumerate(venues):
            if kind == "pool":
                self.states.append(obj.init_state(n_paths))
            else:
                self.states.append(None)
                self.book_v[k], self.book_perm[k] = np.zeros(n_paths), np.zeros(n_paths)
                self.book_of_asset[coins[k][0]] = k
        self._liq = np.ones((n_paths, len(venues)))  # liq_factor, written by scale_liquidity only
        self._book_depths: dict[int, np.ndarray] = {}
        #: Share of each pool's liquidity the protocols own (:meth:`add_liquidity`); None until a deposit.
        self.owned_share: np.ndarray | None = None
        self.depth0 = np.stack([self.depth(k) for k in range(len(venues))], axis=1) if venues else None

    # ----- state ------------------------------------------------------------------------------------------------
    @property
    def liq_factor(self) -> np.ndarray:
        """Share of each venue's starting liquidity still provided, (n_paths, n_venues); a read-only view, moved by
        :meth:`scale_liquidity` (which keeps the books' depths, :meth:`book_depth`, in step with it)."""
        return _read_only(self._liq.view())

    def is_pool(self, k: int) -> bool:
        return self.venues[k][0] == "pool"

    def book_depth(self, k: int) -> np.ndarray:
        """Depth (USD) of book ``k`` per path: its starting depth times the share of liquidity still provided.

        Kept until :meth:`scale_liquidity` moves the book's share (a read-only array: the same floats every call).
        """
        depth = self._book_depths.get(k)
        if depth is None:
            book: OrderBook = self.venues[k][1]
            depth = self._book_depths[k] = _read_only(
                book.depth_usd * np.maximum(self.liq_factor[:, k], 1e-12)
            )
        return depth

    def depth(self, k: int) -> np.ndarray:
        """Liquidity measure of venue ``k`` per path (its ratio to the start says how much is left)."""
        kind, obj = self.venues[k]
        return self.book_depth(k) if kind == "book" else obj.depth(self.states[k])

    def decay(self, dt: float) -> None:
        """Temporary off-chain impact fades over ``dt`` seconds."""
        for k in self.book_v:
            self.venues[k][1].decay(self.book_v[k], dt)
        for k, (kind, obj) in enumerate(self.venues):  # pools with a clock (CryptoSwap's price oracle)
            if kind == "pool" and hasattr(obj, "advance"):
                obj.advance(self.states[k], dt)

    def scale_liquidity(self, k: int, new_factor: np.ndarray) -> None:
        """Set venue ``k``'s share of its starting liquidity (LPs leave or return at unchanged price)."""
        if self.is_pool(k):
            ratio = new_factor / self.liq_factor[:, k]
            if self.owned_share is not None:  # protocol-owned liquidity stays when LPs leave or return
                owned = self.owned_share[:, k]
                ratio = (1.0 - owned) * ratio + owned
                self.owned_share[:, k] = owned / ratio
            self.venues[k][1].scale_liquidity(self.states[k], ratio)
        self._liq[:, k] = new_factor
        self._book_depths.pop(k, None)

    def add_liquidity(self, k: int, usd: np.ndarray, market: np.ndarray) -> None:
        """Deposit ``usd`` per path into pool ``k`` in proportion to its holdings (at unchanged price).

        The pool's liquidity is scaled by 1 + usd / value, its value at ``market`` prices (:meth:`pool_value`), as
        an LP's proportional deposit does; the deposit is protocol-owned, so later LP withdrawals leave it in.
        Pools only (constant-product, StableSwap, CryptoSwap, concentrated: every range scaled alike, a pro-rata
        share of each LP position); an order book's depth is off-chain.
        """
        value = self.pool_value(k, market)
        factor = 1.0 + np.where(usd > 0, usd / np.where(value > 0, value, np.inf), 0.0)
        if self.owned_share is None:
            self.owned_share = np.zeros_like(self.liq_factor)
        owned = self.owned_share[:, k]
        self.owned_share[:, k] = (owned + factor - 1.0) / factor
        self.venues[k][1].scale_liquidity(self.states[k], factor)

    def pool_value(self, k: int, market: np.ndarray) -> np.ndarray:
        """USD value of pool ``k``'s holdings at ``market`` prices, per path (any pool; concentrated: range by range)."""
        state, coins = self.states[k], self.coins[k]
        if "balances" in state.arrays:
            amounts = state["balances"]
        elif (
            "sqrt_price" in state.arrays
        ):  # concentrated liquidity: what every range holds at the current price
            amounts = _range_holdings(self.venues[k][1], state)
        else:
            amounts = np.stack([state["reserve0"], state["reserve1"]], axis=1)
        return (amounts * market[:, coins]).sum(axis=1)

    def pair(self, k: int, asset: int) -> tuple[int, int]:
        """Coin indices (i, j) inside pool ``k``: ``asset`` and the coin it is priced against."""
        coins = self.coins[k]
        i = coins.index(asset)
        return i, (1 if i == 0 else 0)

    # ----- prices -----------------------------------------------------------------------------------------------
    def market_prices(self, exo: np.ndarray) -> np.ndarray:
        """Market price of every asset (n_paths, n_assets): the exogenous price ``exo`` less off-chain impact."""
        m = exo.copy()
        if not self.book_of_asset:
            return m
        books = list(self.book_of_asset.items())
        impact = np.empty((len(books), self.n_paths))
        for row, (_, k) in enumerate(books):
            book: OrderBook = self.venues[k][1]
            book.log_impact(self.book_v[k], self.book_perm[k], self.book_depth(k), out=impact[row])
        # One exponential over every book's row: NumPy's exp is elementwise (the same floats as row by row).
        factor = np.exp(-impact)
        for row, (a, _) in enumerate(books):
            m[:, a] *= factor[row]
        return m

    def quote(self, k: int, asset: int, market: np.ndarray, exo: np.ndarray) -> np.ndarray:
        """What venue ``k`` pays now for a marginal unit of ``asset``, USD per token, after its fee."""
        kind, venue = self.venues[k]
        if kind == "book":
            book: OrderBook = venue
            return exo[:, asset] * np.exp(
                -book.log_impact(self.book_v[k], self.book_perm[k], self.book_depth(k))
            )
        i, j = self.pair(k, asset)
        fee = (
            venue.fee_bps_now(self.states[k]) / 1e4 if hasattr(venue, "fee_bps_now") else fee_fraction(venue)
        )
        return venue.price(self.states[k], i, j) * market[:, self.coins[k][j]] * (1.0 - fee)

    # ----- flows ------------------------------------------------------------------------------------------------
    def sell(
        self, asset: int, amount: np.ndarray, venues: list[int], market: np.ndarray, exo: np.ndarray,
        slices: int = SALE_SLICES,
    ) -> np.ndarray:  # fmt: skip
        """Sell ``amount`` of ``asset`` (tokens, per path) through ``venues``; return the USD proceeds per path.

        Each of ``slices`` slices goes to the venue quoting most at that moment (live quotes). A pool's
        proceeds are its output coin valued at ``market``; a book fills at its impacted price. With no venue the
        asset is sold at the market price without impact (only reserves that are never collateral have none).
        """
        if not venues:
            return amount * market[:, asset]
        return self._sell(asset, amount, venues, market, exo, slices, [None] * len(venues))

    def _sell(
        self, asset: int, amount: np.ndarray, venues: list[int], market: np.ndarray, exo: np.ndarray, slices: int,
        quotes: list,
    ) -> np.ndarray:  # fmt: skip
        """:meth:`sell` through at least one venue. ``quotes`` holds each venue's live quote (None: not known); a
        venue that fills nothing keeps its state, hence its quote (a quote reads only its own venue, ``market`` and
        ``exo``), so only the venues that filled are quoted again: the same quotes, the same routing."""
        proceeds = np.zeros(self.n_paths)
        chunk = amount / slices
        if len(venues) == 1:
            # one venue wins every slice: no quotes needed (the same fills as the loop below)
            if chunk.any():
                for _ in range(slices):
                    proceeds += self._fill(venues[0], asset, chunk.copy(), market, exo)
            return proceeds
        for _ in range(slices):
            for n, k in enumerate(venues):
                if quotes[n] is None:
                    quotes[n] = self.quote(k, asset, market, exo)
            best = np.argmax(np.stack(quotes, axis=1), axis=1)
            for n, k in enumerate(venues):
                amt = np.where(best == n, chunk, 0.0)
                if amt.any():
                    proceeds += self._fill(k, asset, amt, market, exo)
                    quotes[n] = None
        return proceeds

    def _fill(self, k: int, asset: int, amt: np.ndarray, market: np.ndarray, exo: np.ndarray) -> np.ndarray:
        kind, venue = self.venues[k]
        if kind == "book":
            factor = venue.trade(self.book_v[k], self.book_perm[k], amt * exo[:, asset], self.book_depth(k))
            return amt * exo[:, asset] * factor
        i, j = self.pair(k, asset)
        return venue.swap(self.states[k], i, j, amt) * market[:, self.coins[k][j]]

    def add_back(
        self, asset: int, amount: np.ndarray, venues: list[int], market: np.ndarray, exo: np.ndarray,
        slices: int = SALE_SLICES,
    ) -> None:  # fmt: skip
        """Undo the price impact of selling ``amount`` of ``asset`` (tokens, per path) through ``venues``: buy it
        back slice by slice from the venue whose price is lowest, a book by buying on it, a pool by selling it the
        coin it prices ``asset`` in, worth the slice at market. A replay's baseline flows (the sales its prices
        already contain) are added back this way before the engine's own sales, so only their deviation moves
        prices. Nobody's books change: this is a correction of the replayed market, not a trade anyone makes."""
        if not venues:
            return
        chunk = amount / slices
        for _ in range(slices):
            quotes = np.stack([self.quote(k, asset, market, exo) for k in venues], axis=1)
            cheapest = np.argmin(quotes, axis=1)
            for n, k in enumerate(venues):
                amt = np.where(cheapest == n, chunk, 0.0)
                if not amt.any():
                    continue
                kind, venue = self.venues[k]
                if kind == "book":
                    venue.trade(self.book_v[k], self.book_perm[k], -amt * exo[:, asset], self.book_depth(k))
                else:
                    i, j = self.pair(k, asset)
                    venue.swap(self.states[k], j, i, amt * market[:, asset] / market[:, self.coins[k][j]])

    def buy(
        self, asset: int, amount: np.ndarray, venues: list[int], market: np.ndarray, exo: np.ndarray
    ) -> np.ndarray:
        """Buy ``amount`` of ``asset`` (debt to repay); return the USD cost per path.

        Bought on the asset's order book when ``venues`` lists one (its price rises with the buying: a squeeze);
        otherwise at the market price, without impact (pools here quote exact inputs only).
        """
        k = next((v for v in venues if not self.is_pool(v)), None)
        if k is None:
            return amount * market[:, asset]
        book: OrderBook = self.venues[k][1]
        factor = book.trade(self.book_v[k], self.book_perm[k], -amount * exo[:, asset], self.book_depth(k))
        return amount * exo[:, asset] * factor

    def spend(
        self,
        paid: int,
        bought: int,
        amount: np.ndarray,
        venues: list[int],
        market: np.ndarray,
        exo: np.ndarray,
    ) -> np.ndarray:
        """Spend ``amount`` (n_paths,) tokens of ``paid`` on ``bought`` through ``venues``; return the tokens received.

        Routed as :meth:`sell` routes a sale: in :data:`SALE_SLICES` slices, each to the venue where ``bought`` costs
        least at that moment: a pool that trades the two (an exact-input swap of ``paid``: its own curve, fee
        included; the marginal cost is its price over ``1 - fee``) or ``bought``'s order book (the USD value spent
        buys at the book's impacted price, the impact charged on that notional as :meth:`buy` charges it). Pools
        holding ``bought`` against another coin are skipped; the caller checks some venue is left.
        """
        ks = [k for k in venues if not self.is_pool(k) or (paid in self.coins[k] and bought in self.coins[k])]
        received = np.zeros(amount.shape)
        chunk = amount / SALE_SLICES
        for _ in range(SALE_SLICES):
            cost = np.stack(
                [self._unit_cost(k, paid, bought, market, exo) for k in ks], axis=1
            )  # USD a token
            best = np.argmin(cost, axis=1)
            for n, k in enumerate(ks):
                amt = np.where(best == n, chunk, 0.0)
                if amt.any():
                    received += self._spend_on(k, paid, bought, amt, market, exo)
        return received

    def _unit_cost(self, k: int, paid: int, bought: int, market: np.ndarray, exo: np.ndarray) -> np.ndarray:
        kind, venue = self.venues[k]
        if kind == "book":
            return self.quote(k, bought, market, exo)
        i, j = self.coins[k].index(bought), self.coins[k].index(paid)
        dynamic = hasattr(venue, "fee_bps_now")  # a pool whose fee moves with its balance (Curve CryptoSwap)
        fee = venue.fee_bps_now(self.states[k]) / 1e4 if dynamic else fee_fraction(venue)
        return venue.price(self.states[k], i, j) * market[:, paid] / (1.0 - fee)

    def _spend_on(
        self, k: int, paid: int, bought: int, amt: np.ndarray, market: np.ndarray, exo: np.ndarray
    ) -> np.ndarray:
        kind, venue = self.venues[k]
        if kind == "book":
            usd = amt * market[:, paid]
            factor = venue.trade(self.book_v[k], self.book_perm[k], -usd, self.book_depth(k))
            price = exo[:, bought] * factor
            return np.divide(usd, price, out=np.zeros(amt.shape), where=price > 0)
        return venue.swap(self.states[k], self.coins[k].index(paid), self.coins[k].index(bought), amt)

    def cost_curves(
        self,
        assets: np.ndarray,
        venues: list[list[int]],
        market: np.ndarray,
        exo: np.ndarray,
        sizes_usd: np.ndarray,
        paths: np.ndarray,
        needed_usd: np.ndarray,
    ) -> np.ndarray:
        """Cost (USD) of buying cumulative ``sizes_usd`` (at market) of each asset, on copies of the venues.

        The purchase side of :meth:`sale_curves`: shape (n_paths, len(assets), len(sizes_usd)), routed as
        :meth:`buy` routes a protocol's purchases, filled on ``paths`` (the others buy nothing) and for the assets
        whose ``needed_usd`` is positive.
        """
        out = np.zeros((self.n_paths, len(assets), len(sizes_usd)))
        asked = np.zeros(self.n_paths, dtype=bool)
        asked[paths] = True
        for r, a in enumerate(assets):
            if not needed_usd[r] > 0:
                continue
            price = np.where(asked & (market[:, a] > 0), market[:, a], np.inf)  # inf: buys nothing
            trial = self.copy_state()
            for s in range(1, len(sizes_usd)):
                step = (sizes_usd[s] - sizes_usd[s - 1]) / price
                out[:, r, s] = out[:, r, s - 1] + trial.buy(int(a), step, venues[r], market, exo)
        return out

    def sale_curves(
        self,
        assets: np.ndarray,
        venues: list[list[int]],
        market: np.ndarray,
        exo: np.ndarray,
        sizes_usd: np.ndarray,
        paths: np.ndarray,
        needed_usd: np.ndarray | None = None,
    ) -> np.ndarray:
        """Proceeds (USD) of selling cumulative ``sizes_usd`` of each asset, on copies of the venues.

        Returns an array of shape (n_paths, len(assets), len(sizes_usd)), filled on ``paths`` (indices) and zero
        elsewhere; with ``needed_usd`` each asset's curve is computed only up to that size (none for 0) and its last
        segment extended beyond. Each increment between grid sizes is routed to the venue quoting most at that moment (the grid
        is geometric, so routing is as fine as the grid), starting from the venues' current state: the curve is the
        quote a liquidator really gets for that size.
        """
        out = np.zeros((self.n_paths, len(assets), len(sizes_usd)))
        if paths.size == 0:
            return out
        used = {
            k
            for r, vs in enumerate(venues)
            if (np.inf if needed_usd is None else needed_usd[r]) > 0
            for k in vs
        }
        sub = self._subset(paths, used)
        mkt, ex = market[paths], exo[paths]
        n = len(sizes_usd)
        for r, a in enumerate(assets):
            need = np.inf if needed_usd is None else needed_usd[r]
            if not need > 0:
                continue
            if not venues[r]:
                out[paths, r, :] = sizes_usd[None, :]
                continue
            if len(venues[r]) == 1 and not self.is_pool(venues[r][0]):
                out[paths, r, :] = sub._book_curve(venues[r][0], int(a), sizes_usd, mkt, ex)
                continue
            trial = sub.copy_state()
            total = np.zeros(paths.size)
            last = n - 1
            quotes: list = [None] * len(venues[r])  # live quotes, kept from one increment to the next (_sell)
            for s in range(1, n):
                amount = np.full(paths.size, (sizes_usd[s] - sizes_usd[s - 1])) / mkt[:, a]
                total = total + trial._sell(int(a), amount, venues[r], mkt, ex, 1, quotes)
                out[paths, r, s] = total
                if sizes_usd[s] >= need:
                    last = s
                    break
            if last < n - 1:  # beyond what can be sold: the last segment's rate, extended
                rate = (out[paths, r, last] - out[paths, r, last - 1]) / (
                    sizes_usd[last] - sizes_usd[last - 1]
                )
                out[paths, r, last + 1 :] = out[paths, r, last, None] + rate[:, None] * (
                    sizes_usd[None, last + 1 :] - sizes_usd[last]
                )
        return out

    def _book_curve(
        self, k: int, asset: int, sizes_usd: np.ndarray, market: np.ndarray, exo: np.ndarray
    ) -> np.ndarray:
        """Cumulative proceeds of selling ``sizes_usd`` (at market) into book ``k`` alone, increment by increment.

        The same fills as :meth:`sell` with one slice per increment, in closed form: after a cumulative notional
        :math:`Q` the log impact is :math:`L(Q) = perm_0 - \\pi g(v_0) + g(v_0 + Q)` (``\\pi`` the permanent
        share), and the increment from :math:`Q_{s-1}` to :math:`Q_s` fills at :math:`e^{-(L(Q_{s-1}) + L(Q_s))/2}`.
        """
        book: OrderBook = self.venues[k][1]
        depth = self.book_depth(k)[:, None]
        v0, perm0 = self.book_v[k][:, None], self.book_perm[k][:, None]
        notional = (
            sizes_usd[None, :] * (exo[:, asset] / market[:, asset])[:, None]
        )  # USD at the exogenous price
        impact = perm0 - book.permanent * book._g(v0, depth) + book._g(v0 + notional, depth)
        fills = np.diff(notional, axis=1) * np.exp(-0.5 * (impact[:, :-1] + impact[:, 1:]))
        return np.concatenate([np.zeros((notional.shape[0], 1)), np.cumsum(fills, axis=1)], axis=1)

    def _subset(self, paths: np.ndarray, used: set[int]) -> VenueSet:
        """The venues ``used`` on ``paths`` (the others are left out: a quote or a fill reads only its own venue)."""
        sub = object.__new__(VenueSet)
        sub.venues, sub.coins, sub.n_paths = self.venues, self.coins, int(paths.size)
        sub.states = [
            None if s is None or k not in used else VenueState({n: v[paths] for n, v in s.arrays.items()})
            for k, s in enumerate(self.states)
        ]
        sub.book_v = {k: v[paths] for k, v in self.book_v.items() if k in used}
        sub.book_perm = {k: v[paths] for k, v in self.book_perm.items() if k in used}
        sub.book_of_asset = self.book_of_asset
        sub._liq = self._liq[paths]
        sub._book_depths = {}
        sub.depth0 = None
        return sub

    def copy_state(self) -> VenueSet:
        """A copy whose trades leave this set untouched (for probing quotes)."""
        out = object.__new__(VenueSet)
        out.venues, out.coins, out.n_paths = self.venues, self.coins, self.n_paths
        out.states = [None if s is None else s.copy() for s in self.states]
        out.book_v = {k: v.copy() for k, v in self.book_v.items()}
        out.book_perm = {k: v.copy() for k, v in self.book_perm.items()}
        out.book_of_asset = self.book_of_asset
        out._liq = self._liq.copy()
        out._book_depths = dict(self._book_depths)
        out.depth0 = self.depth0
        return out


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _range_holdings(pool, state) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Token amounts (human units, (n_paths, 2)) a concentrated pool's ranges hold at each path's price.

    Per segment of constant liquidity L between sqrt prices a < b, at sqrt price p (Uniswap v3 whitepaper, eqs.
    6.29-6.30): token0 L (1/max(p, a) - 1/b) while p < b, token1 L (min(p, b) - a) while p > a; summed over the
    segments wholly above p (token0 only), wholly below (token1 only) and the one p is in.
    """
    lo, hi, liq = pool._seg_lo, pool._seg_hi, pool.segment_liquidity
    # cumulative holdings of whole segments: token0 of those above, token1 of those below
    whole0 = np.concatenate([[0.0], np.cumsum((liq * (1.0 / lo - 1.0 / hi))[::-1])])[::-1]
    whole1 = np.concatenate([[0.0], np.cumsum(liq * (hi - lo))])
    k = state["segment"].astype(np.intp)
    p = state["sqrt_price"]
    amount0 = liq[k] * (1.0 / p - 1.0 / hi[k]) + whole0[k + 1]
    amount1 = liq[k] * (p - lo[k]) + whole1[k]
    scale = state["liquidity_scale"]
    return np.stack([amount0 * scale / pool._unit[0], amount1 * scale / pool._unit[1]], axis=1)
