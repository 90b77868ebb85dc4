"""Sale curves: the closed form for a lone order book equals routing the increments one by one."""

from __future__ import annotations

import numpy as np

from firesale.liquidity.constant_product import ConstantProductPool
from firesale.liquidity.orderbook import OrderBook
from firesale.liquidity.venues import VenueSet


def test_a_lone_books_curve_equals_selling_the_increments_one_by_one():
    book = OrderBook("b", "X", depth_usd=1e6, depth_move=0.02, exponent=0.5, permanent=0.3, half_life=600)
    pool = ConstantProductPool("p", ("X", "USD"), reserves=(1e4, 1e6), fee_bps=30)
    vs = VenueSet([("book", book), ("pool", pool)], [[0], [0, 1]], 3)
    vs.book_v[0][:] = [0.0, 2e5, -1e5]  # some earlier selling (and buying) in the book
    vs.book_perm[0][:] = [0.0, 0.01, 0.002]
    exo = np.array([[100.0, 1.0]] * 3)
    market = vs.market_prices(exo)
    sizes = np.concatenate([[0.0], np.logspace(2, 8, 13)])
    fast = vs.sale_curves(np.array([0]), [[0]], market, exo, sizes, np.arange(3))
    trial, total, ref = vs.copy_state(), np.zeros(3), np.zeros_like(fast)
    for s in range(1, sizes.size):
        total = total + trial.sell(
            0, np.full(3, sizes[s] - sizes[s - 1]) / market[:, 0], [0], market, exo, slices=1
        )
        ref[:, 0, s] = total
    np.testing.assert_allclose(fast, ref, rtol=1e-12)
