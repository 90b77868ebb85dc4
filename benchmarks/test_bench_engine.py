"""Throughput of the engine's hot loop and of whole runs (position-path-steps per second)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import firesale
from firesale.protocols.lending import LendingParams, liquidation_round_numba, liquidation_round_numpy

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
    extra = dict(
        active=np.ones(n_paths, bool), slots=np.full(n_paths, 10**9), capital=np.full(n_paths, 1e18),
        gas_usd=np.full(n_paths, 20.0), impact_coef=np.full((n_paths, n_res), 1e-4), impact_exp=np.full(n_res, 0.5),
        min_profit=0.0,
    )  # fmt: skip
    return state, prices, params, extra


def _call(kernel, state, prices, params, extra):
    coll, debt = state[0].copy(), state[1].copy()
    e = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in extra.items()}
    kernel(coll, debt, prices, prices, params, e["active"], e["slots"], e["capital"], e["gas_usd"],
           e["impact_coef"], e["impact_exp"], e["min_profit"])  # fmt: skip
    return coll, debt


@pytest.mark.parametrize(("n_paths", "n_acc"), [(256, 1000), (2048, 1000)])
def test_lending_round_throughput(benchmark, n_paths, n_acc):
    state, prices, params, extra = _book(n_paths, n_acc)
    _call(liquidation_round_numba, state, prices, params, extra)  # compile outside the timing
    coll, debt = state[0].copy(), state[1].copy()
    e = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in extra.items()}

    def run():
        # A steady-state round: health checks everywhere (accounts liquidated in the first call stay safe after).
        liquidation_round_numba(coll, debt, prices, prices, params, e["active"], e["slots"], e["capital"],
                                e["gas_usd"], e["impact_coef"], e["impact_exp"], 0.0)  # fmt: skip

    benchmark(run)
    rate = n_paths * n_acc / benchmark.stats["min"]
    print(
        f"\nlending round ({n_paths} paths x {n_acc} accounts x 4 reserves): {rate:.3g} position-path-steps/s"
    )


def test_numba_vs_python_loop_speedup():
    state, prices, params, extra = _book(16, 1000, seed=1)
    t0 = time.perf_counter()
    ref = _call(liquidation_round_python, state, prices, params, extra)
    t_python = time.perf_counter() - t0
    for kernel in (liquidation_round_numba, liquidation_round_numpy):
        got = _call(kernel, state, prices, params, extra)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
    big_state, big_prices, big_params, big_extra = _book(2048, 1000, seed=1)
    _call(liquidation_round_numba, big_state, big_prices, big_params, big_extra)
    t0 = time.perf_counter()
    _call(liquidation_round_numba, big_state, big_prices, big_params, big_extra)
    t_numba = (time.perf_counter() - t0) / (2048 / 16)
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
