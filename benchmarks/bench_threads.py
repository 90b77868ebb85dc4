"""Where a second thread pays: each twinned kernel (firesale._threads) on one thread and in parallel, by work size.

For the concentrated-liquidity swap (the shipped USDC/WETH snapshot, 16,384 paths of which ``active`` trade, either
an arbitrage-sized 1 WETH or a liquidation-sized 2,000 WETH that crosses many ticks) and for the lending round's
pricing of its candidates (the crash book of benchmarks/test_bench_engine.py, by number of paths, hence of
candidates) and for the perpetual venue's kernels (by positions), prints the best time of each and which is
faster. The thresholds ``SWAP_PARALLEL_FROM``, ``LIQUIDATE_PARALLEL_FROM`` and the perp kernels' ``PARALLEL_FROM``
are set where parallel starts to win on the machine this was run on; results are the same either way
(tests/unit/liquidity/test_concentrated.py, tests/unit/protocols/test_lending.py,
tests/unit/protocols/test_perp_kernels.py). Never fails on speed.

Run: ``.venv/bin/python benchmarks/bench_threads.py [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import firesale.liquidity.concentrated as cc
import firesale.protocols._perp_kernels as perp_kernels
import firesale.protocols.lending as lending
from firesale.data import load_uniswap_v3_ticks

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the benchmarks package
from benchmarks import bench_perps
from benchmarks.test_bench_engine import _book


def _best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _both(module, name: str, fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Best time of ``fn`` with every call on one thread, then with every call in parallel."""
    saved = getattr(module, name)
    times = []
    try:
        for threshold in (np.inf, 0):
            setattr(module, name, threshold)
            fn()  # compile and warm
            times.append(_best(fn, repeat))
    finally:
        setattr(module, name, saved)
    return times[0], times[1]


def _row(label: str, work: int, serial: float, parallel: float) -> None:
    faster = "parallel" if parallel < serial else "one thread"
    print(f"  {label:<34} {work:>9,} {serial * 1e6:>12.1f} {parallel * 1e6:>12.1f}   {faster}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"load {load:.2f} on {os.cpu_count()} cores; times in us, best of {args.repeat}")

    ticks, meta = load_uniswap_v3_ticks()
    pool = cc.ConcentratedLiquidityPool.from_snapshot(
        ticks, sqrt_price_x96=int(meta["sqrtPriceX96"]), liquidity=float(meta["liquidity"]),
        fee=int(meta["feeTier"]), tick_spacing=10, decimals0=int(meta["token0"]["decimals"]),
        decimals1=int(meta["token1"]["decimals"]), coins=(meta["token0"]["symbol"], meta["token1"]["symbol"]),
    )  # fmt: skip
    n = 16_384
    start = pool.init_state(n)
    print(f"\nswap of WETH on {n:,} paths (SWAP_PARALLEL_FROM = {cc.SWAP_PARALLEL_FROM:,})")
    print(f"  {'size':<34} {'trading':>9} {'one thread':>12} {'parallel':>12}")
    for weth in (1.0, 2000.0):
        for active in (1, 64, 1024, 4096, 16_384):
            dx = np.where(np.arange(n) < active, weth, 0.0)
            serial, parallel = _both(cc, "SWAP_PARALLEL_FROM", lambda dx=dx: pool.swap(start.copy(), 1, 0, dx),
                                     args.repeat)  # fmt: skip
            _row(f"{weth:,.0f} WETH", active, serial, parallel)

    print(
        f"\nlending round after a 20 % crash (LIQUIDATE_PARALLEL_FROM = {lending.LIQUIDATE_PARALLEL_FROM:,})"
    )
    print(f"  {'book':<34} {'cands':>9} {'one thread':>12} {'parallel':>12}")
    for n_paths in (2, 4, 8, 16, 64, 1024):
        state, prices, params, extra = _book(n_paths, 1000)
        crashed = prices * np.array([0.8, 0.8, 0.8, 1.0])
        screen = lending.Screen.empty(n_paths, 1000, 4)
        count = int(
            lending.candidate_count(state[0], state[1], crashed, params, extra["active"], screen).sum()
        )

        def round_(state=state, crashed=crashed, params=params, extra=extra, n_paths=n_paths):  # type: ignore[no-untyped-def]
            lending.liquidation_round_numba(
                state[0].copy(), state[1].copy(), crashed, crashed, params, extra["active"],
                extra["slots"].copy(), extra["capital"].copy(), extra["gas_usd"], 0.0, extra["sizes"],
                extra["proceeds"],
            )  # fmt: skip

        serial, parallel = _both(lending, "LIQUIDATE_PARALLEL_FROM", round_, args.repeat)
        _row(f"{n_paths:,} paths x 1,000 accounts", count, serial, parallel)

    _perps(args.repeat)


def _perps(repeat: int) -> None:
    """The perpetual venue's kernels on benchmarks/bench_perps.py's book (10,000 traders x 5 markets; 2,000 x 1, the
    size of btc-perp-2021-05's, for the smaller calls), by positions (paths x traders x markets): the accounts'
    sums every step, the equities of the rows a round liquidated, and the liquidation screen both in full (every
    path re-checked: after funding or a large move) and settled (marks unchanged: the bound skips what it can,
    as in most rounds). A call picks its twin by the positions it will read (a settled screen: few)."""
    print(f"\nperpetual venue (PARALLEL_FROM = {perp_kernels.PARALLEL_FROM:,} positions)")
    print(f"  {'kernel, book':<34} {'positions':>9} {'one thread':>12} {'parallel':>12}")
    for n_traders, n_markets, paths in ((2000, 1, (8, 64, 200, 1024)), (10_000, 5, (4, 16, 64))):
        bench_perps.N_TRADERS, bench_perps.N_MARKETS = n_traders, n_markets
        model = bench_perps.venue()
        for n_paths in paths:
            state = model.init_state(n_paths)
            mark = np.full((n_paths, n_markets), 97.0)
            positions = n_paths * n_traders * n_markets
            book = f"{n_paths:,} x {n_traders:,} x {n_markets}"

            for label, fn in _perp_calls(model, state, mark):
                serial, parallel = _both(perp_kernels, "PARALLEL_FROM", fn, repeat)
                _row(f"{label}, {book}", positions, serial, parallel)


def _perp_calls(model, state, mark: np.ndarray) -> list:  # type: ignore[no-untyped-def]
    a = state.arrays
    market = np.concatenate([mark, np.ones((mark.shape[0], 1))], axis=1)

    def full() -> None:
        a["screen_dirty"][:] = True  # every path re-checked, as after funding
        model._screen_numba(a, mark)

    return [
        ("accounts", lambda: model.account(state, market)),
        ("equities", lambda: model._equities_numba(a, mark)),
        ("screen, full", full),
        ("screen, settled", lambda: model._screen_numba(a, mark)),  # marks unchanged: the bound skips
    ]


if __name__ == "__main__":
    main()
