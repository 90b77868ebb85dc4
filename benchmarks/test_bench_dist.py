"""Distributed throughput: 2 local Dask workers against 1 on the same job, and a 20-point flagship sweep.

Prints figures, never asserts speed (only that results are identical). For the 2-vs-1 job it also prints where the
time goes, which stays meaningful on a loaded machine where walls do not: per worker the tasks' CPU seconds, their
busy wall and the idle wall (lead-in, gaps between tasks, tail after its last task), the worker processes' CPU
outside the tasks, and the client's phases (submit, per-chunk handling, assembly), from
:class:`firesale.dist._runner.Timeline`. The job runs three ways on each worker count: one block per task
(``chunk_blocks=1``, the old benchmark's job), the default plan (the fewest equal tasks: one per worker here), and
the default plan with a run store (resumable: each worker writes the chunks it computed).

Sizes can be lowered for a quick look on a busy machine: ``FIRESALE_BENCH_DIST_PATHS`` (default 2048 paths of the
flagship for the 2-vs-1 job), ``FIRESALE_BENCH_SWEEP_PATHS`` (default 2000) and ``FIRESALE_BENCH_SWEEP_POINTS``
(default 20); ``FIRESALE_BENCH_DIST_ROUNDS`` (default 3: the 2-vs-1 ratio is the median over rounds, which
alternate between a 1-worker and a 2-worker cluster kept up side by side); ``FIRESALE_BENCH_DIST_TASKS=0`` hides the
per-task lines (shown for the first round only). Run with
``pytest benchmarks/test_bench_dist.py -q -s -p no:cacheprovider`` (or ``make bench`` for every benchmark).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import firesale
from firesale.analysis.sweep import Sweep
from firesale.dist import dask_client, run_simulation
from firesale.dist._runner import Timeline
from firesale.engine import estimate_memory
from firesale.engine.seeding import BLOCK_SIZE
from firesale.store import RunStore

FLAGSHIP = "aave-v3-today"
BONUS = "protocols.aave-v3-core.reserves.WETH.liquidation_bonus"
#: (label, chunk_blocks, resumable: with a run store, each chunk written by the worker that computed it).
CHUNKINGS = (
    ("one block per task", 1, False),
    ("default plan", None, False),
    ("default plan, run store", None, True),
)


def _n(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _warm_up(sc: firesale.Scenario) -> None:
    # A whole block of another seed: every kernel the job calls (liquidations included) is loaded once.
    firesale.simulate(sc, n_paths=BLOCK_SIZE, seed=1)


def _process_cpu() -> float:
    return time.process_time()


def _settings() -> str:
    import numba

    env = ",".join(
        f"{k}={os.environ.get(k)}" for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_WAIT_POLICY")
    )
    return f"numba threads {numba.get_num_threads()} ({env})"


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu(client) -> float:  # type: ignore[no-untyped-def]
    return float(sum(client.run(_process_cpu).values()))


def _one(client, sc: firesale.Scenario, n_paths: int, chunk: int | None, resumable: bool, quiet: bool):  # type: ignore[no-untyped-def]
    """One run of the job; prints its timeline. Returns (timeline, result)."""
    timeline = Timeline()
    worker_cpu = _cpu(client)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "runs") if resumable else None
        result, _ = run_simulation(
            sc, n_paths=n_paths, seed=0, client=client, chunk_blocks=chunk, timeline=timeline, store=store
        )
    worker_cpu = _cpu(client) - worker_cpu
    task_cpu = sum(t.cpu_s for t in timeline.tasks)
    text = timeline.describe()
    if quiet:
        text = "\n".join(line for line in text.splitlines() if not line.startswith("    "))
    print(text)
    print(
        f"  worker processes CPU {worker_cpu:.2f} s, of which tasks {task_cpu:.2f} s (outside tasks "
        f"{worker_cpu - task_cpu:.2f} s; the nannies run in the client process)"
    )
    return timeline, result


def _cpu_span(timeline: Timeline) -> float:
    """The run's span without the machine's load: its busiest worker's task CPU seconds, plus the client's assembly
    (a wall, but a short one)."""
    busiest = float(timeline.by_worker()["cpu_s"].max())
    return busiest + timeline.phases.get("assemble", 0.0)


def test_two_workers_against_one(benchmark):
    sc = firesale.load_scenario(FLAGSHIP)
    n_paths = _n("FIRESALE_BENCH_DIST_PATHS", 2048)
    n_rounds = max(1, _n("FIRESALE_BENCH_DIST_ROUNDS", 3))
    # timelines[label][workers]: one per round; results for the identity check.
    timelines: dict[str, dict[int, list[Timeline]]] = {label: {1: [], 2: []} for label, *_ in CHUNKINGS}
    results: list[firesale.SimulationResult] = []

    def both() -> None:
        # Both clusters stay up and the rounds alternate 1, 2, 1, 2 workers, so a change in the machine's load
        # during the benchmark falls on both alike; the idle cluster costs a few per mille of a core.
        with dask_client(workers=1) as one, dask_client(workers=2) as two:
            clients = {1: one, 2: two}
            for workers, client in clients.items():
                # Every worker loads the engine's kernels before the clock starts: importing is not enough, numba
                # reads each kernel from its on-disk cache on first call (about a second per process, per worker).
                client.run(_warm_up, sc)
                settings = "; ".join(sorted(set(client.run(_settings).values())))
                print(f"\n{workers} worker(s): {settings}")
            for k in range(n_rounds):
                for label, chunk, resumable in CHUNKINGS:
                    for workers, client in clients.items():
                        print(f"\n-- round {k + 1}, {label}, {workers} worker(s): ", end="")
                        quiet = k > 0 or not _n("FIRESALE_BENCH_DIST_TASKS", 1)
                        timeline, result = _one(client, sc, n_paths, chunk, resumable, quiet)
                        timelines[label][workers].append(timeline)
                        results.append(result)
            for workers, client in clients.items():
                peaks = sorted(client.run(_peak_mib).values())
                print(f"{workers} worker(s): peak resident set per worker {', '.join(f'{m:.0f}' for m in peaks)} "
                      f"MiB (estimate_memory of one {BLOCK_SIZE}-path chunk: "
                      f"{estimate_memory(sc, BLOCK_SIZE) / 2**20:.0f} MiB above the process's own)")  # fmt: skip

    benchmark.pedantic(both, rounds=1, iterations=1)
    first = results[0]
    for result in results[1:]:
        pd.testing.assert_frame_equal(first.metrics, result.metrics, check_exact=True)
        assert sorted(first.paths) == sorted(result.paths)
        assert all(np.array_equal(first.paths[k], result.paths[k]) for k in first.paths)
    n_pos = sum(p.n_accounts for p in sc.positions.values())
    steps = sc.spec.simulation.n_steps
    print(f"\n{FLAGSHIP}, {n_paths} paths ({-(-n_paths // BLOCK_SIZE)} blocks), {n_rounds} round(s), results "
          "bit-identical across every run:")  # fmt: skip
    for label, *_ in CHUNKINGS:
        walls = {w: [t.wall_s for t in timelines[label][w]] for w in (1, 2)}
        spans = {w: [_cpu_span(t) for t in timelines[label][w]] for w in (1, 2)}
        for w in (1, 2):
            wall = float(np.median(walls[w]))
            rate = n_paths * n_pos * steps / wall
            print(f"  {label}, {w} worker(s): median {wall:.2f} s wall ({', '.join(f'{x:.2f}' for x in walls[w])}), "
                  f"{rate:.3g} position-path-steps/s; busiest worker's task CPU + assembly, median "
                  f"{np.median(spans[w]):.2f} s")  # fmt: skip
        by_wall = [a / b for a, b in zip(walls[1], walls[2], strict=True)]
        by_cpu = [a / b for a, b in zip(spans[1], spans[2], strict=True)]
        print(f"  {label}: 2 workers vs 1 median {np.median(by_wall):.2f}x faster by the wall (rounds: "
              f"{', '.join(f'{x:.2f}' for x in by_wall)}), {np.median(by_cpu):.2f}x by the CPU span (the figure "
              "that holds on a loaded machine)")  # fmt: skip


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
