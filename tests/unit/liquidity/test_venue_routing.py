"""VenueSet's routing shortcuts change no float: kept quotes, one-venue sales, the sale curves' subset, kept depths.

The reference is the routing written out in full here (every venue quoted before every slice, the argmax routes each
slice, as the module docstring of :mod:`firesale.liquidity.venues` describes it), run on copies of the same venues;
results must be equal bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from firesale.liquidity.constant_product import ConstantProductPool
from firesale.liquidity.orderbook import OrderBook
from firesale.liquidity.venues import VenueSet


def _routed_in_full(
    vs: VenueSet, asset: int, amount: np.ndarray, venues: list[int], market, exo, slices: int
):  # type: ignore[no-untyped-def]
    proceeds = np.zeros(vs.n_paths)
    chunk = amount / slices
    for _ in range(slices):
        quotes = np.stack([vs.quote(k, asset, market, exo) for k in venues], axis=1)
        best = np.argmax(quotes, axis=1)
        for n, k in enumerate(venues):
            amt = np.where(best == n, chunk, 0.0)
            if amt.any():
                proceeds += vs._fill(k, asset, amt, market, exo)
    return proceeds


def _world(seed: int, n: int) -> tuple[VenueSet, np.ndarray, np.ndarray]:
    """A square-root book, a pool (coins in either order) and a linear book, all trading X; some earlier impact."""
    rng = np.random.default_rng(seed)
    book = OrderBook(
        "b", "X", depth_usd=float(10 ** rng.uniform(5, 8)), depth_move=0.02, exponent=0.5, permanent=0.4
    )
    reserves = (float(10 ** rng.uniform(3, 5)), 1e6)
    if rng.random() < 0.5:
        pool = ConstantProductPool("p", ("X", "USD"), reserves=reserves, fee_bps=30)
    else:
        pool = ConstantProductPool("p", ("USD", "X"), reserves=reserves[::-1], fee_bps=5)
    x, usd = 0, 1
    pool_coins = [x if c == "X" else usd for c in pool.coins]
    book2 = OrderBook("b2", "X", depth_usd=3e6, depth_move=0.01, exponent=1.0, permanent=0.5)
    vs = VenueSet([("book", book), ("pool", pool), ("book", book2)], [[x], pool_coins, [x]], n)
    vs.book_v[0][:] = rng.normal(0, 1e5, n)
    vs.book_perm[0][:] = rng.normal(0, 0.01, n)
    vs.scale_liquidity(0, rng.uniform(0.3, 1.0, n))
    exo = np.column_stack([rng.uniform(50, 150, n), np.ones(n)])
    return vs, vs.market_prices(exo), exo


@settings(max_examples=60, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), slices=st.integers(1, 5), pick=st.integers(0, 3))
def test_sell_equals_the_routing_in_full(seed, n, slices, pick) -> None:  # type: ignore[no-untyped-def]
    vs, market, exo = _world(seed, n)
    venues = [[0, 1], [1, 0], [0], [1, 0, 2]][pick]
    rng = np.random.default_rng(seed + 1)
    amount = rng.lognormal(5, 3, n) * (rng.random(n) < 0.7)
    a, b = vs.copy_state(), vs.copy_state()
    got = a.sell(0, amount, venues, market, exo, slices=slices)
    ref = _routed_in_full(b, 0, amount, venues, market, exo, slices)
    np.testing.assert_array_equal(got, ref)
    for k in (0, 2):
        np.testing.assert_array_equal(a.book_v[k], b.book_v[k])
        np.testing.assert_array_equal(a.book_perm[k], b.book_perm[k])
    for key in a.states[1].arrays:
        np.testing.assert_array_equal(a.states[1][key], b.states[1][key])


@settings(max_examples=40, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30))
def test_sale_curves_equal_increments_routed_in_full(seed, n) -> None:  # type: ignore[no-untyped-def]
    vs, market, exo = _world(seed, n)
    sizes = np.concatenate([[0.0], np.logspace(2, 9, 15)])
    paths = np.flatnonzero(np.random.default_rng(seed).random(n) < 0.6)
    venues = [[0, 1], []]
    curves = vs.sale_curves(np.array([0, 1]), venues, market, exo, sizes, paths, np.array([1e8, 0.0]))
    ref = np.zeros_like(curves)
    trial = vs.copy_state()
    total = np.zeros(n)
    for s in range(1, sizes.size):
        step = np.where(np.isin(np.arange(n), paths), sizes[s] - sizes[s - 1], 0.0) / market[:, 0]
        total = total + _routed_in_full(trial, 0, step, [0, 1], market, exo, 1)
        ref[:, 0, s] = np.where(np.isin(np.arange(n), paths), total, 0.0)
        if sizes[s] >= 1e8:
            last = s
            break
    # up to the needed size the curve is the routed sale; the rest is the last segment extended
    np.testing.assert_array_equal(curves[paths, 0, : last + 1], ref[paths, 0, : last + 1])
    assert not curves[:, 1].any()  # nothing needed of asset 1


def test_book_depth_follows_scale_liquidity_and_liq_factor_is_read_only() -> None:
    book = OrderBook("b", "X", depth_usd=1e6)
    vs = VenueSet([("book", book)], [[0]], 3)
    np.testing.assert_array_equal(vs.book_depth(0), [1e6, 1e6, 1e6])
    vs.scale_liquidity(0, np.array([0.5, 0.25, 0.0]))
    np.testing.assert_array_equal(
        vs.book_depth(0), [5e5, 2.5e5, 1e6 * 1e-12]
    )  # floored at 1e-12 of the start
    np.testing.assert_array_equal(vs.liq_factor[:, 0], [0.5, 0.25, 0.0])
    copy = vs.copy_state()
    copy.scale_liquidity(0, np.ones(3))
    np.testing.assert_array_equal(vs.book_depth(0), [5e5, 2.5e5, 1e6 * 1e-12])  # the copy moved alone
    np.testing.assert_array_equal(copy.book_depth(0), [1e6, 1e6, 1e6])
    with pytest.raises(ValueError, match="read-only"):
        vs.liq_factor[0, 0] = 1.0


@settings(max_examples=40, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300))
def test_market_prices_equal_book_by_book(seed, n) -> None:  # type: ignore[no-untyped-def]
    """One exponential over all books' rows gives each asset the floats of its own book's exponential."""
    rng = np.random.default_rng(seed)
    books = [
        OrderBook(
            f"b{i}", f"A{i}", depth_usd=float(10 ** rng.uniform(4, 8)), exponent=float(rng.choice([0.5, 1.0]))
        )
        for i in range(4)
    ]
    vs = VenueSet([("book", b) for b in books], [[0], [1], [3], [4]], n)
    for k in range(4):
        vs.book_v[k][:] = rng.normal(0, 10 ** rng.uniform(3, 7), n)
        vs.book_perm[k][:] = rng.normal(0, 0.02, n)
    exo = rng.uniform(0.5, 2e4, (n, 5))
    expected = exo.copy()
    for a, k in vs.book_of_asset.items():
        expected[:, a] *= np.exp(-books[k].log_impact_numpy(vs.book_v[k], vs.book_perm[k], vs.book_depth(k)))
    np.testing.assert_array_equal(vs.market_prices(exo), expected)
