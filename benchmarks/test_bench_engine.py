"""Throughput of the engine's hot loop and of whole runs (position-path-steps per second)."""

from __future__ import annotations

import time

import numba
import numpy as np
import pytest

import firesale
from firesale.protocols.lending import (
    LendingParams,
    Screen,
    candidate_count,
    liquidation_round_numba,
    liquidation_round_numpy,
)

from .python_loop import liquidation_round_python


def _book(n_paths: int, n_acc: int, n_res: int = 4, seed: int = 0):
    """A lending book like the flagship's: four reserves, accounts with one or two collaterals and one debt."""
    rng = np.random.default_rng(seed)
    coll = np.zeros((n_acc, n_res))
    debt = np.zeros((n_acc, n_res))
    c = rng.integers(0, 3, n_acc)
    coll[np.arange(n_acc), c] = rng.lognormal(3, 1, n_acc)
    coll[np.arange(n_acc), (c + 1) % 3] += rng.lognormal(2, 1, n_acc) * (rng.uniform(size=n_acc) < 0.3)
    debt[:, 3] = (coll * [3000, 3500, 90000, 1]).sum(1) * rng.uniform(0.3, 0.8, n_acc)
    prices = np.array([3000.0, 3500.0, 90000.0, 1.0]) * rng.lognormal(0, 0.1, (n_paths, n_res))
    prices[:, 3] = 1.0
    lt = np.tile([0.83, 0.81, 0.78, 0.8], (n_acc, 1))
    params = LendingParams(lt, np.full((n_acc, n_res), 0.05), np.full(n_res, 0.1), 0.5, 0.95)
    state = (np.ascontiguousarray(np.broadcast_to(coll, (n_paths, n_acc, n_res))),
             np.ascontiguousarray(np.broadcast_to(debt, (n_paths, n_acc, n_res))))  # fmt: skip
    # Venues with square-root impact: selling q USD pays q * (1 - 1e-4 * sqrt(q)), floored at zero.
    sizes = np.concatenate([[0.0], np.logspace(2, 10, 33)])
    curve = sizes * np.maximum(1.0 - 1e-4 * np.sqrt(sizes), 0.0)
    curve = np.maximum.accumulate(curve)
    extra = dict(
        active=np.ones(n_paths, bool), slots=np.full(n_paths, 10**9), capital=np.full(n_paths, 1e18),
        gas_usd=np.full(n_paths, 20.0), min_profit=0.0, sizes=sizes,
        proceeds=np.ascontiguousarray(np.broadcast_to(curve, (n_paths, n_res, sizes.size))),
    )  # fmt: skip
    return state, prices, params, extra


def _call(kernel, state, prices, params, extra, screen=None):
    coll, debt = state[0].copy(), state[1].copy()
    e = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in extra.items()}
    kw = {"screen": screen} if screen is not None else {}
    kernel(coll, debt, prices, prices, params, e["active"], e["slots"], e["capital"], e["gas_usd"],
           e["min_profit"], e["sizes"], e["proceeds"], **kw)  # fmt: skip
    return coll, debt


def _underwater_book(n_paths: int, n_acc: int):
    """The settled book after a crash: a tenth of the accounts are below health factor 1 but not worth liquidating
    (gas above any bonus), so every round must re-check them exactly (the normal case after a cascade)."""
    state, prices, params, extra = _book(n_paths, n_acc)
    coll = state[0].copy()
    stuck = np.arange(n_acc) % 10 == 0
    coll[:, stuck, :] *= 0.5  # health factor halved: below 1 for all of them
    extra = dict(extra, gas_usd=np.full(n_paths, 1e12))  # no liquidation pays
    return (coll, state[1]), prices, params, extra


MODES = {
    "full check": ("settled", "full"),
    "screened, prices inside the band": ("settled", "moving"),
    "screened, oracle unchanged": ("settled", "same"),
    "screened after a crash, prices inside the band": ("underwater", "moving"),
}


@pytest.mark.parametrize(("n_paths", "n_acc"), [(256, 1000), (2048, 1000)])
@pytest.mark.parametrize("mode", list(MODES))
def test_lending_round_throughput(benchmark, n_paths, n_acc, mode):
    """One health-check round over every account of every path, with nothing worth liquidating.

    Full check: every account is re-read every round (the screen is reset each call). Screened: the steady state of
    a run, where oracle prices moved by less than the screen's bound since the last full check (alternately
    +/-0.4 %: the screen visits its watch list), or did not move at all (a push oracle that did not update: the
    last list stands). After a crash, a tenth of the accounts sit below 1 unliquidated and are re-checked each round;
    the target is at most 1.3x the settled book's time.
    """
    book, prices_mode = MODES[mode]
    state, prices, params, extra = (_book if book == "settled" else _underwater_book)(n_paths, n_acc)
    coll, debt = state[0].copy(), state[1].copy()
    e = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in extra.items()}
    screen = Screen.empty(n_paths, n_acc, 4)
    moved = [prices * 1.004, prices * 0.996]
    calls = [0]

    def run():
        calls[0] += 1
        if prices_mode == "full":
            screen.dirty[:] = True
        p = moved[calls[0] % 2] if prices_mode == "moving" else prices
        liquidation_round_numba(coll, debt, p, p, params, e["active"], e["slots"], e["capital"],
                                e["gas_usd"], 0.0, e["sizes"], e["proceeds"], screen=screen)  # fmt: skip

    for _ in range(50):  # settle: liquidate until nothing is left to liquidate (also compiles)
        run()
    benchmark(run)
    rate = n_paths * n_acc / benchmark.stats["min"]
    print(f"\nlending round, {mode} ({n_paths} paths x {n_acc} accounts x 4 reserves): {rate:.3g} "
          "position-path-steps/s")  # fmt: skip


@numba.njit(parallel=True, cache=True, nogil=True)
def _read_all(collateral, debt):  # fmt: skip
    """The least a full check must do: read every position's collateral and debt once."""
    total = 0.0
    for p in numba.prange(collateral.shape[0]):
        s = 0.0
        for a in range(collateral.shape[1]):
            for r in range(collateral.shape[2]):
                s += collateral[p, a, r] + debt[p, a, r]
        total += s
    return total


@numba.njit(parallel=True, cache=True, nogil=True)
def _read_all_write_one(collateral, debt, out):  # fmt: skip
    """The least a full check that renews the screen must do: read every position, write one float per account
    (the screen's reference ratio)."""
    for p in numba.prange(collateral.shape[0]):
        for a in range(collateral.shape[1]):
            s = 0.0
            for r in range(collateral.shape[2]):
                s += collateral[p, a, r] + debt[p, a, r]
            out[p, a] = s


def test_full_check_against_memory_bandwidth():
    """The full health check's speed beside the memory-bandwidth bound measured here, now (target: at least 80 %).

    The full check computes every account's health factor and renews the screen (its ratios and watch list). Two
    bounds, each the simplest parallel loop over the same arrays: reading the collateral and debt once (and, for
    reference, NumPy's sum over them), and reading them once while writing one float per account, which the full
    check must do too (its reference ratios); it also reads the thresholds and writes the short lists.
    """
    n_paths, n_acc = 2048, 1000
    state, prices, params, extra = _book(n_paths, n_acc)
    coll, debt = state[0].copy(), state[1].copy()
    e = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in extra.items()}
    screen = Screen.empty(n_paths, n_acc, 4)

    for _ in range(30):  # settle (liquidate what pays) and compile
        screen.dirty[:] = True
        liquidation_round_numba(coll, debt, prices, prices, params, e["active"], e["slots"], e["capital"],
                                e["gas_usd"], 0.0, e["sizes"], e["proceeds"], screen=screen)  # fmt: skip
    _read_all(coll, debt)

    def full():  # the health check of every account (the screen renewed on every path)
        screen.dirty[:] = True
        candidate_count(coll, debt, prices, params, e["active"], screen)

    def best(f) -> float:
        t = np.inf
        for _ in range(15):
            t0 = time.perf_counter()
            f()
            t = min(t, time.perf_counter() - t0)
        return t

    ratios = np.empty(coll.shape[:2])
    _read_all_write_one(coll, debt, ratios)
    gb = (coll.nbytes + debt.nbytes) / 1e9
    t_check, t_read = best(full), best(lambda: _read_all(coll, debt))
    t_write = best(lambda: _read_all_write_one(coll, debt, ratios))
    t_numpy = best(lambda: (coll.sum(), debt.sum()))
    print(f"\nfull check: {gb / t_check:.2f} GB/s of positions; memory read bound here: {gb / t_read:.2f} GB/s "
          f"(NumPy sum {gb / t_numpy:.2f} GB/s), reading and writing a ratio per account {gb / t_write:.2f} GB/s; "
          f"full check at {t_read / t_check:.0%} of the read bound, {t_write / t_check:.0%} of the read-and-write "
          "bound")  # fmt: skip


def test_numba_vs_python_loop_speedup():
    """The same round (full check, liquidations included) as a per-position Python loop, with identical results."""
    state, prices, params, extra = _book(16, 1000, seed=1)
    t_python = np.inf
    for _ in range(3):  # best of three, each on a fresh copy
        ref = (state[0].copy(), state[1].copy())
        e = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in extra.items()}
        t0 = time.perf_counter()
        liquidation_round_python(ref[0], ref[1], prices, prices, params, e["active"], e["slots"], e["capital"],
                                 e["gas_usd"], e["min_profit"], e["sizes"], e["proceeds"])  # fmt: skip
        t_python = min(t_python, time.perf_counter() - t0)
    for kernel in (liquidation_round_numba, liquidation_round_numpy):
        got = _call(kernel, state, prices, params, extra)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
    big_state, big_prices, big_params, big_extra = _book(2048, 1000, seed=1)
    # The screen is allocated once, as the engine does, and marked dirty so that every account is checked.
    screen = Screen.empty(2048, 1000, 4)
    _call(liquidation_round_numba, big_state, big_prices, big_params, big_extra, screen)  # compile
    t_numba = np.inf
    for _ in range(3):  # best of three, each on a fresh copy made outside the timing
        coll, debt = big_state[0].copy(), big_state[1].copy()
        e = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in big_extra.items()}
        screen.dirty[:] = True
        t0 = time.perf_counter()
        liquidation_round_numba(coll, debt, big_prices, big_prices, big_params, e["active"], e["slots"],
                                e["capital"], e["gas_usd"], 0.0, e["sizes"], e["proceeds"], screen=screen)  # fmt: skip
        t_numba = min(t_numba, (time.perf_counter() - t0) / (2048 / 16))
    print(f"\nper-position Python loop: {16 * 1000 / t_python:.3g} position-path-steps/s; "
          f"numba kernel {t_python / t_numba:.0f}x faster, identical results")  # fmt: skip


@pytest.mark.parametrize("name", ["toy-spiral"])
def test_whole_run_throughput(name):
    sc = firesale.load_scenario(name)
    firesale.simulate(sc, n_paths=256, seed=0)
    t0 = time.perf_counter()
    r = firesale.simulate(sc, n_paths=4096, seed=0)
    wall = time.perf_counter() - t0
    n_pos = sum(p.n_accounts for p in sc.positions.values())
    steps = sc.spec.simulation.n_steps
    print(f"\n{name}: 4096 paths x {n_pos} accounts x {steps} steps in {wall:.2f} s: "
          f"{4096 * n_pos * steps / wall:.3g} position-path-steps/s; mean bad debt ${r.summary()['bad_debt_mean_usd']:,.0f}")  # fmt: skip
