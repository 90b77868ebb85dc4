"""Distributed throughput: 2 local Dask workers against 1 on the same job, and a 20-point flagship sweep.

Prints figures, never asserts speed (only that results are identical). Sizes can be lowered for a quick look on a
busy machine: ``FIRESALE_BENCH_DIST_PATHS`` (default 2048 paths of the flagship for the 2-vs-1 job),
``FIRESALE_BENCH_SWEEP_PATHS`` (default 2000) and ``FIRESALE_BENCH_SWEEP_POINTS`` (default 20). Run with
``pytest benchmarks/bench_dist.py -q -s -p no:cacheprovider``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

import firesale
from firesale.analysis.sweep import Sweep
from firesale.dist import dask_client, run_simulation
from firesale.engine import estimate_memory
from firesale.engine.seeding import BLOCK_SIZE

FLAGSHIP = "aave-v3-today"
BONUS = "protocols.aave-v3-core.reserves.WETH.liquidation_bonus"


def _n(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _warm_up(sc: firesale.Scenario) -> None:
    # A whole block of another seed: every kernel the job calls (liquidations included) is loaded once.
    firesale.simulate(sc, n_paths=BLOCK_SIZE, seed=1)


def _timed_run(workers: int, sc: firesale.Scenario, n_paths: int) -> tuple[float, firesale.SimulationResult]:
    with dask_client(workers=workers) as client:
        # Every worker loads the engine's kernels before the clock starts: importing is not enough, numba reads each
        # kernel from its on-disk cache on first call (about a second per process, paid once per worker).
        client.run(_warm_up, sc)
        t0 = time.perf_counter()
        result, _ = run_simulation(sc, n_paths=n_paths, seed=0, client=client, chunk_blocks=1)
        wall = time.perf_counter() - t0
        peaks = sorted(client.run(_peak_mib).values())
        print(f"\n{workers} worker(s): peak resident set per worker {', '.join(f'{m:.0f}' for m in peaks)} MiB "
              f"(estimate_memory of one {BLOCK_SIZE}-path chunk: {estimate_memory(sc, BLOCK_SIZE) / 2**20:.0f} MiB "
              "above the process's own)")  # fmt: skip
        return wall, result


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_two_workers_against_one(benchmark):
    sc = firesale.load_scenario(FLAGSHIP)
    n_paths = _n("FIRESALE_BENCH_DIST_PATHS", 2048)
    walls: dict[int, float] = {}
    results: dict[int, firesale.SimulationResult] = {}

    def both() -> None:
        for workers in (1, 2):
            walls[workers], results[workers] = _timed_run(workers, sc, n_paths)

    benchmark.pedantic(both, rounds=1, iterations=1)
    pd.testing.assert_frame_equal(results[1].metrics, results[2].metrics, check_exact=True)
    assert all(np.array_equal(results[1].paths[k], results[2].paths[k]) for k in results[1].paths)
    n_pos = sum(p.n_accounts for p in sc.positions.values())
    steps = sc.spec.simulation.n_steps
    for w in (1, 2):
        rate = n_paths * n_pos * steps / walls[w]
        print(
            f"\n{FLAGSHIP}, {n_paths} paths, {w} worker(s): {walls[w]:.1f} s, {rate:.3g} position-path-steps/s"
        )
    print(f"2 workers vs 1: {walls[1] / walls[2]:.2f}x faster, results bit-identical")


def test_flagship_sweep_20_points(benchmark):
    sc = firesale.load_scenario(FLAGSHIP)
    n_points = _n("FIRESALE_BENCH_SWEEP_POINTS", 20)
    n_paths = _n("FIRESALE_BENCH_SWEEP_PATHS", 2000)
    values = [round(0.04 + 0.001 * k, 6) for k in range(n_points)]
    sweep = Sweep(sc, grid={BONUS: values})
    out: dict[str, float] = {}

    def run() -> None:
        with dask_client(workers=2) as client:
            t0 = time.perf_counter()
            result = sweep.run(n_paths=n_paths, seed=0, client=client)
            out["wall"] = time.perf_counter() - t0
            out["p_max"] = float(result.estimate("p_bad_debt")["estimate"].max())

    benchmark.pedantic(run, rounds=1, iterations=1)
    total = n_points * n_paths
    print(
        f"\n{FLAGSHIP} sweep of {n_points} points x {n_paths} paths on 2 workers: {out['wall']:.1f} s "
        f"({total / out['wall']:.3g} paths/s); highest P(bad debt) over the points {out['p_max']:.3f}"
    )
