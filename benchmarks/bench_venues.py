"""Throughput of the order books' impact arithmetic and of a liquidator's sale curve (measure once).

Times :meth:`firesale.liquidity.orderbook.OrderBook.trade` (the fused kernel of :mod:`firesale.liquidity._book_kernels`)
against its NumPy reference ``trade_numpy`` on one batch of paths, then :meth:`VenueSet.market_prices` over six books,
and :meth:`VenueSet.sale_curves` of an asset sold through a pool and a book (the flagship's WETH routing) for a few
paths, as the lending round asks for it. Prints operations per second (best of ``--repeat``); never fails on speed.

Run: ``.venv/bin/python benchmarks/bench_venues.py [--paths 2500] [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from firesale.liquidity.constant_product import ConstantProductPool
from firesale.liquidity.orderbook import OrderBook
from firesale.liquidity.venues import VenueSet


def _best(fn, repeat: int, inner: int) -> float:  # type: ignore[no-untyped-def]
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=2500)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    n, rng = args.paths, np.random.default_rng(0)
    book = OrderBook("b", "X", depth_usd=5e7, depth_move=0.01, exponent=0.5, permanent=0.5)
    v, perm, depth = rng.normal(0, 1e6, n), rng.normal(0, 0.01, n), np.full(n, 5e7)
    q = rng.normal(0, 1e5, n)
    book.trade(v.copy(), perm.copy(), q, depth)  # compile
    for name, fn in (("trade (kernel)", book.trade), ("trade_numpy (reference)", book.trade_numpy)):
        s = _best(lambda fn=fn: fn(v.copy(), perm.copy(), q, depth), args.repeat, 200)
        print(f"{name:28s} {n / s / 1e6:8.1f} M path-trades/s  ({s * 1e6:7.1f} us per call of {n} paths)")

    books = [OrderBook(f"b{i}", f"A{i}", depth_usd=1e7 * (i + 1)) for i in range(6)]
    vs = VenueSet([("book", b) for b in books], [[i] for i in range(6)], n)
    for k in range(6):
        vs.book_v[k][:] = rng.normal(0, 1e6, n)
    exo = rng.uniform(1, 1e4, (n, 6))
    s = _best(lambda: vs.market_prices(exo), args.repeat, 200)
    print(
        f"{'market_prices (6 books)':28s} {1 / s:8.0f} calls/s       ({s * 1e6:7.1f} us per call of {n} paths)"
    )

    pool = ConstantProductPool("p", ("X", "USD"), reserves=(2e4, 5e7), fee_bps=5)
    sale = VenueSet([("pool", pool), ("book", book)], [[0, 1], [0]], n)
    ex = np.column_stack([np.full(n, 2500.0), np.ones(n)])
    market = sale.market_prices(ex)
    sizes = np.concatenate([[0.0], np.logspace(2, 10, 17)])
    paths = np.arange(10)
    s = _best(
        lambda: sale.sale_curves(np.array([0]), [[0, 1]], market, ex, sizes, paths, np.array([1e9])),
        args.repeat,
        20,
    )
    print(
        f"{'sale_curves (pool + book)':28s} {1 / s:8.0f} curves/s      ({s * 1e3:7.2f} ms per call of 10 paths)"
    )


if __name__ == "__main__":
    main()
