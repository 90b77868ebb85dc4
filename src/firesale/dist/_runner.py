"""Run path blocks of one or many scenarios (sweep points) in this process or on a Dask cluster.

The unit of work is :func:`firesale.engine.simulate.run_blocks` on a chunk of consecutive path blocks of one
scenario. Random streams are keyed by (component, block), so a chunk's paths do not depend on which other chunks
exist, where they run or in which order they finish; results are put back in block order, which makes them
bit-identical to :func:`firesale.simulate` for any worker count and chunking. With a run store, every finished
chunk is written to the run's folder (:class:`firesale.store._blocks.BlockLog`) before it counts as done, so a run
killed mid-way resumes with only the missing blocks. The task that computed a chunk writes it when it sees the
run's folder (a worker on this machine or on a shared file system), so workers store in parallel while the client
only folds chunks in; otherwise the client writes it on arrival. A run that :func:`firesale.simulate` would stream
(above ``KEEP_PATHS_BYTES`` of series) keeps each chunk's series only as per-step summaries, folded in as the chunk
arrives.
Each chunk also returns its per-account summaries (:class:`~firesale.engine._summaries.AccountSummary`: per-block
statistics), stored with the chunk and merged in block order as chunks arrive, so ``result.accounts`` is
:func:`firesale.simulate`'s, resumed or not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from firesale._version import __version__
from firesale.engine._summaries import AccountSummary, merge_into, summarize
from firesale.engine.seeding import BLOCK_SIZE
from firesale.engine.simulate import _keeps_paths, run_blocks
from firesale.exceptions import ParameterError, StoreError
from firesale.results import SimulationResult
from firesale.scenario import Scenario, load_scenario
from firesale.store import RunStore
from firesale.store._blocks import BlockLog, reopen_run

__all__ = [
    "PointRun",
    "TaskTiming",
    "Timeline",
    "chunk_ranges",
    "plan_chunks",
    "run_points",
    "run_simulation",
]

#: Most blocks of 256 paths in one task: bounds a worker's memory as simulate's default batch does.
MAX_CHUNK_BLOCKS = 16
#: Progress reports a running task sends (a task of one worker's share would otherwise show only at its end).
PROGRESS_REPORTS = 20

Progress = Callable[[float], None]
#: Called after each chunk is stored, with (point index, block range); raising from it stops the run there
#: (the store keeps every chunk finished so far), which is how tests simulate a kill.
ChunkHook = Callable[[int, range], None]


def chunk_ranges(blocks: Sequence[int], chunk_blocks: int) -> list[range]:
    """Split sorted block numbers into ranges of at most ``chunk_blocks`` consecutive blocks."""
    out: list[range] = []
    start = prev = -2
    for b in blocks:
        if b == prev + 1 and b - start < chunk_blocks:
            prev = b
        else:
            if start >= 0:
                out.append(range(start, prev + 1))
            start = prev = b
    if start >= 0:
        out.append(range(start, prev + 1))
    return out


def plan_chunks(blocks: Sequence[int], n_chunks: int) -> list[range]:
    """Split sorted block numbers into ``n_chunks`` groups of near-equal size, in order (larger groups first), each
    group cut into its runs of consecutive blocks.

    Equal groups let every worker finish together when each gets the same number of them: a task pays a fixed cost
    whatever its size (the engine's per-step work, about 0.4 s CPU on the flagship's 288 steps), so fewer,
    larger tasks beat many small ones as long as no worker is left idle at the end.
    """
    blocks = list(blocks)
    n_chunks = max(1, min(int(n_chunks), len(blocks)))
    size, extra = divmod(len(blocks), n_chunks)
    out: list[range] = []
    at = 0
    for k in range(n_chunks):
        step = size + (k < extra)
        out += chunk_ranges(blocks[at : at + step], step)
        at += step
    return out


def _default_n_chunks(n_blocks: int, n_workers: int, n_points: int) -> int:
    """Tasks for a point's ``n_blocks`` missing blocks: the fewest of at most :data:`MAX_CHUNK_BLOCKS` blocks, a
    multiple of the worker count when the point is the whole job (so each worker gets equal work), and at least
    one per worker overall when a few points must share the workers."""
    by_memory = -(-n_blocks // MAX_CHUNK_BLOCKS)
    workers = max(1, n_workers)
    n = workers * -(-by_memory // workers) if n_points == 1 else max(by_memory, -(-workers // n_points))
    return max(1, min(n_blocks, n))


@dataclasses.dataclass(frozen=True)
class TaskTiming:
    """When and where one task ran, and what the client spent on its result (clock: ``time.time()`` of each
    process, comparable on one machine; a remote cluster's clocks may be offset from the client's)."""

    point: int
    blocks: range
    #: The worker's name (``"local"`` in this process) and process id.
    worker: str
    start: float
    stop: float
    #: CPU seconds (user + system) of the thread that ran the task: meaningful on a loaded machine, unlike walls.
    cpu_s: float
    #: When the client had the result (deserialised).
    received: float
    #: Client seconds spent storing the chunk and folding it in (its worker is busy with the next task meanwhile).
    handled_s: float


@dataclasses.dataclass
class Timeline:
    """Per-task timings of a run, for accounting where workers idle (see :meth:`by_worker` and :meth:`describe`).

    Pass one as ``timeline=`` to :func:`run_simulation` or :func:`run_points`; it is filled as the run goes.
    ``phases`` holds client seconds: ``"load"`` (completed chunks read from the store), ``"submit"`` (scenario
    scattered and tasks submitted), ``"handle"`` (chunks stored and folded in), ``"assemble"`` (results put
    together and stored whole); ``client_cpu_s`` is the client process's CPU over the run (with a local cluster
    the scheduler's thread is in it too).
    """

    tasks: list[TaskTiming] = dataclasses.field(default_factory=list)
    phases: dict[str, float] = dataclasses.field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0
    client_cpu_s: float = 0.0

    def add_phase(self, name: str, seconds: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + seconds

    @property
    def wall_s(self) -> float:
        return self.finished - self.started

    def by_worker(self) -> pd.DataFrame:
        """One row per worker: tasks, blocks, busy wall and CPU seconds, and the idle wall split into lead-in
        (run start to its first task), gaps between its tasks and tail (its last task to the run's end)."""
        rows = []
        for worker in sorted({t.worker for t in self.tasks}):
            own = sorted((t for t in self.tasks if t.worker == worker), key=lambda t: t.start)
            busy = sum(t.stop - t.start for t in own)
            gaps = sum(max(0.0, b.start - a.stop) for a, b in itertools.pairwise(own))
            rows.append(
                {
                    "worker": worker,
                    "tasks": len(own),
                    "blocks": sum(len(t.blocks) for t in own),
                    "busy_s": busy,
                    "cpu_s": sum(t.cpu_s for t in own),
                    "lead_in_s": own[0].start - self.started,
                    "gaps_s": gaps,
                    "tail_s": self.finished - own[-1].stop,
                    "busy_share": busy / self.wall_s if self.wall_s > 0 else float("nan"),
                }
            )
        return pd.DataFrame(rows)

    def describe(self) -> str:
        """The accounting as text: per worker, then the client's phases, then each task in start order."""
        lines = [
            f"wall {self.wall_s:.2f} s, {len(self.tasks)} tasks; client process CPU {self.client_cpu_s:.2f} s"
        ]
        frame = self.by_worker()
        for row in frame.itertuples(index=False):
            lines.append(
                f"  {row.worker}: {row.tasks} tasks / {row.blocks} blocks, busy {row.busy_s:.2f} s wall "
                f"({row.cpu_s:.2f} s CPU), idle: lead-in {row.lead_in_s:.2f} s, gaps {row.gaps_s:.2f} s, "
                f"tail {row.tail_s:.2f} s; busy {100 * row.busy_share:.0f} % of the wall"
            )
        if self.tasks:
            cpu = frame["cpu_s"].to_numpy()
            lines.append(
                f"  CPU balance: busiest worker {cpu.max():.2f} s, least busy {cpu.min():.2f} s; ideal span on "
                f"{len(cpu)} worker(s) {cpu.sum() / len(cpu):.2f} s CPU"
            )
        lines.append("  client: " + ", ".join(f"{k} {v:.3f} s" for k, v in self.phases.items()))
        for t in sorted(self.tasks, key=lambda t: t.start):
            lines.append(
                f"    {t.worker:>12} point {t.point} blocks {t.blocks.start}-{t.blocks.stop - 1}: "
                f"{t.start - self.started:7.2f} -> {t.stop - self.started:7.2f} s ({t.cpu_s:.2f} s CPU), "
                f"result at {t.received - self.started:7.2f} s, handled in {t.handled_s * 1e3:.0f} ms"
            )
        return "\n".join(lines)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        name = str(get_worker().name)
    except (ImportError, ValueError):
        name = "local"
    return f"{name}/pid{os.getpid()}"


def _reporter(
    report: str | Callable[[float], None], point: int, blocks: range, n_steps: int
) -> Callable[[int], None]:
    """A step tick that reports the chunk's fraction done :data:`PROGRESS_REPORTS` times (not at its end: the
    chunk's result says that), to ``report``: a callable here, or on a worker an event on the Dask topic of that
    name, (point, first block, fraction), which the client folds into the run's progress."""
    if isinstance(report, str):
        from distributed import get_worker

        worker, topic = get_worker(), report

        def send(fraction: float) -> None:
            worker.log_event(topic, (point, blocks.start, fraction))
    else:
        send = report
    every = max(1, n_steps // PROGRESS_REPORTS)
    steps = 0

    def tick(_n_blocks: int) -> None:
        nonlocal steps
        steps += 1
        if steps % every == 0 and steps < n_steps:
            send(steps / n_steps)

    return tick


def _task(
    scenario: Scenario, seed: int, blocks: range, n_paths: int, kernel: str, log: BlockLog | None = None,
    report: str | Callable[[float], None] | None = None, point: int = 0,
) -> Any:  # fmt: skip
    """Run one chunk; store it in ``log`` when its folder is visible from here (True in the output if so); report
    its progress to ``report`` (:func:`_reporter`) if given."""
    start, cpu = time.time(), time.thread_time()
    accounts: dict[str, AccountSummary] = {}
    tick = None if report is None else _reporter(report, point, blocks, scenario.spec.simulation.n_steps)
    frame, arrays = run_blocks(scenario, seed, blocks, n_paths, kernel=kernel, accounts=accounts, tick=tick)
    # The client made the folder before submitting: a worker that cannot see it is on another file system.
    stored = log is not None and log.folder.is_dir()
    if stored:
        log.save(blocks, frame, arrays, accounts=[a.to_arrays() for a in accounts.values()])  # type: ignore[union-attr]
    return frame, arrays, accounts, stored, (_worker_name(), start, time.time(), time.thread_time() - cpu)


@dataclasses.dataclass
class PointRun:
    """One scenario's run in progress: what is done, and where it is stored."""

    scenario: Scenario
    seed: int
    n_paths: int
    run_id: str | None = None
    log: BlockLog | None = None
    chunks: dict[int, tuple[range, pd.DataFrame, dict[str, np.ndarray]]] = dataclasses.field(
        default_factory=dict
    )
    started: float = dataclasses.field(default_factory=time.perf_counter)
    result: SimulationResult | None = None
    #: Per-account summaries by protocol, every chunk merged in as it arrives (folded in block order).
    accounts: dict[str, AccountSummary] = dataclasses.field(default_factory=dict)
    #: Some chunk came from a store written without per-account summaries: the run has none.
    accounts_lost: bool = False

    @functools.cached_property
    def keeps_paths(self) -> bool:
        """Whether the result keeps every path (as :func:`firesale.simulate` decides); else chunks are summarised."""
        return _keeps_paths(self.scenario, self.n_paths, None)

    def fold(self, blocks: range, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        """A chunk's recorded series as kept: the arrays, or (a streamed run) their per-step summaries."""
        return arrays if self.keeps_paths else summarize(arrays, blocks.start * BLOCK_SIZE)

    def add_accounts(self, part: dict[str, AccountSummary]) -> None:
        """Merge a chunk's per-account summaries (its blocks, disjoint from those merged so far)."""
        for name, summary in part.items():
            if name in self.accounts:
                self.accounts[name].merge(summary)
            else:
                self.accounts[name] = summary

    @property
    def n_blocks(self) -> int:
        return -(-self.n_paths // BLOCK_SIZE)

    def missing(self) -> list[int]:
        done = np.zeros(self.n_blocks, dtype=bool)
        for r, _, _ in self.chunks.values():
            done[r.start : r.stop] = True
        return [int(b) for b in np.flatnonzero(~done)]

    def load_completed(self) -> None:
        if self.log is None:
            return
        for r in self.log.completed():
            if r.stop > self.n_blocks:
                raise StoreError(f"Run {self.run_id} holds blocks {r} beyond its {self.n_blocks} blocks.")
            frame, arrays = self.log.load(r)
            self.chunks[r.start] = (r, frame, self.fold(r, arrays))
            stored = self.log.load_accounts(r)
            if stored is None:
                self.accounts_lost = True
            else:
                self.add_accounts({a.protocol: a for a in map(AccountSummary.from_arrays, stored)})

    def assemble(self) -> SimulationResult:
        ordered = [self.chunks[k] for k in sorted(self.chunks)]
        spec = self.scenario.spec
        names = sorted({n for _, _, a in ordered for n in a})
        summaries: dict[str, Any] | None = None
        if not self.keeps_paths:
            summaries, names = {}, []
            for _, _, a in ordered:
                merge_into(summaries, a)
        return SimulationResult(
            scenario=self.scenario,
            seed=int(self.seed),
            n_paths=int(self.n_paths),
            version=__version__,
            metrics=pd.concat([f for _, f, _ in ordered]),
            paths={n: np.concatenate([a[n] for _, _, a in ordered], axis=0) for n in names},
            summaries=summaries,
            asset_names=[a.name for a in spec.assets],
            protocol_names=[p.name for p in spec.protocols],
            dt=spec.simulation.dt,
            wall_seconds=time.perf_counter() - self.started,
            accounts=(
                pd.concat([a.frame() for a in self.accounts.values()], ignore_index=True)
                if self.accounts and not self.accounts_lost
                else None
            ),
        )


def _execute(
    jobs: list[tuple[int, range]], points: list[PointRun], client: Any, kernel: str, timeline: Timeline | None,
    on_partial: Callable[[int, int, float], None] | None = None,
) -> Iterator[tuple[int, range, Any]]:  # fmt: skip
    """Yield (point, blocks, task output) as jobs finish (in order when run in this process); ``on_partial`` gets
    (point, first block, fraction) as a running chunk progresses (from the client's event thread on a cluster)."""
    if client is None:
        for i, blocks in jobs:
            p = points[i]
            report = None if on_partial is None else functools.partial(on_partial, i, blocks.start)
            yield i, blocks, _task(p.scenario, p.seed, blocks, p.n_paths, kernel, p.log, report, i)
        return
    from distributed import as_completed

    t0 = time.perf_counter()
    tag = secrets.token_hex(4)
    topic = None
    if on_partial is not None:
        topic = f"firesale-progress-{tag}"
        # Subscribed before anything is submitted (one ordered stream to the scheduler): no report is missed.
        client.subscribe_topic(topic, lambda event: on_partial(*event[1]))
    # Broadcast: data scattered to one worker would pin every task of the point to that worker (data locality).
    shared = {
        i: client.scatter(points[i].scenario, hash=False, broadcast=True)
        for i in sorted({i for i, _ in jobs})
    }
    pending, where = {}, {}
    for i, blocks in jobs:
        p = points[i]
        key = f"firesale-blocks-{tag}-{i}-{blocks.start}-{blocks.stop}"
        fut = client.submit(
            _task, shared[i], p.seed, blocks, p.n_paths, kernel, p.log, topic, i, key=key, pure=False
        )
        pending[fut.key] = fut
        where[fut.key] = (i, blocks)
    if timeline is not None:
        timeline.add_phase("submit", time.perf_counter() - t0)
    try:
        for fut, value in as_completed(list(pending.values()), loop=client.loop, with_results=True):
            i, blocks = where[fut.key]
            # Released at once: the worker drops its copy of the result instead of holding every chunk to the end.
            del pending[fut.key]
            yield i, blocks, value
    finally:
        client.cancel(list(pending.values()))
        if topic is not None:
            client.unsubscribe_topic(topic)


def run_points(
    points: list[PointRun],
    *,
    client: Any = None,
    store: RunStore | None = None,
    chunk_blocks: int | None = None,
    kernel: str = "numba",
    progress: Progress | None = None,
    on_chunk: ChunkHook | None = None,
    on_point: Callable[[int, SimulationResult], None] | None = None,
    timeline: Timeline | None = None,
) -> list[SimulationResult]:
    """Compute every missing block of every point, storing chunks as they finish and each point when whole.

    Points with a ``run_id`` must already be running in ``store``; their completed chunks are loaded first. On an
    error or Ctrl-C every unfinished run is marked "failed" or "interrupted" and the error propagates; completed
    chunks stay in the store for a resume. Without ``chunk_blocks``, each point's missing blocks are split by
    :func:`plan_chunks` into the fewest equal tasks that keep every worker busy (:func:`_default_n_chunks`).
    ``timeline`` (a :class:`Timeline`) gets every task's timings and the client's phases.
    """
    started, cpu0 = time.time(), time.process_time()
    if timeline is not None:
        timeline.started = started
    t0 = time.perf_counter()
    for p in points:
        p.load_completed()
        if p.log is not None:
            p.log.folder.mkdir(parents=True, exist_ok=True)  # what tells a task it may store its chunk itself
    if timeline is not None:
        timeline.add_phase("load", time.perf_counter() - t0)
    n_workers = 1
    if client is not None:
        n_workers = max(1, sum(client.nthreads().values()))
    jobs: list[tuple[int, range]] = []
    for i, p in enumerate(points):
        missing = p.missing()
        if chunk_blocks is not None:
            jobs += [(i, r) for r in chunk_ranges(missing, chunk_blocks)]
        elif missing:
            n = _default_n_chunks(len(missing), n_workers, len(points))
            jobs += [(i, r) for r in plan_chunks(missing, n)]
    total = sum(p.n_blocks for p in points)
    done = total - sum(len(r) for _, r in jobs)
    # Progress: blocks done plus the running chunks' reported fractions, never shown going back. Reports arrive
    # from the client's event thread on a cluster, hence the lock.
    lock, running, shown = threading.Lock(), {}, -1.0
    sizes = {(i, r.start): len(r) for i, r in jobs}

    def show() -> None:
        nonlocal shown
        fraction = (done + sum(running.values())) / total
        if progress is not None and fraction > shown:
            shown = fraction
            progress(fraction)

    def on_partial(i: int, first: int, fraction: float) -> None:
        with lock:
            if (i, first) in sizes:  # not finished yet
                running[(i, first)] = fraction * sizes[(i, first)]
                show()

    with lock:
        show()

    def finish(i: int) -> None:
        t_finish = time.perf_counter()
        p = points[i]
        p.result = p.assemble()
        if store is not None and p.run_id is not None:
            series = {"series": p.result.series}
            if p.result.accounts is not None:  # per-account losses, for the report's top accounts
                series["accounts"] = p.result.accounts
            store.finish(
                p.run_id,
                metrics=p.result.metrics,
                summary=p.result.summary(),
                series=series,
                wall_seconds=p.result.wall_seconds,
            )
            if p.log is not None:
                p.log.clear()
        if on_point is not None:
            on_point(i, p.result)
        p.chunks.clear()  # the result holds the paths now
        p.accounts.clear()
        if timeline is not None:
            timeline.add_phase("assemble", time.perf_counter() - t_finish)

    try:
        for i, p in enumerate(points):
            if not p.missing():
                finish(i)
        for i, blocks, (frame, arrays, accounts, stored, ran) in _execute(
            jobs, points, client, kernel, timeline, None if progress is None else on_partial
        ):
            received, t_handle = time.time(), time.perf_counter()
            p = points[i]
            if p.log is not None and not stored:
                p.log.save(blocks, frame, arrays, accounts=[a.to_arrays() for a in accounts.values()])
            p.chunks[blocks.start] = (blocks, frame, p.fold(blocks, arrays))
            p.add_accounts(accounts)
            with lock:
                del sizes[(i, blocks.start)]
                running.pop((i, blocks.start), None)
                done += len(blocks)
                show()
            if timeline is not None:
                handled = time.perf_counter() - t_handle
                worker, start, stop, cpu_s = ran
                timeline.tasks.append(TaskTiming(i, blocks, worker, start, stop, cpu_s, received, handled))
                timeline.add_phase("handle", handled)
            if on_chunk is not None:
                on_chunk(i, blocks)
            if not p.missing():
                finish(i)
        if timeline is not None:
            timeline.finished, timeline.client_cpu_s = time.time(), time.process_time() - cpu0
    except BaseException as exc:
        if store is not None:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            message = (
                "stopped by the user (Ctrl-C)" if status == "interrupted" else f"{type(exc).__name__}: {exc}"
            )
            for p in points:
                if p.run_id is not None and p.result is None:
                    # Already marked, or the store is what failed: the block files are still there.
                    with contextlib.suppress(StoreError):
                        store.mark(p.run_id, status, message)
        raise
    return [p.result for p in points]  # type: ignore[misc]


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ParameterError(
            f"The {name!r} parameter of run_simulation must be an int in the range [{minimum}, inf). "
            f"Got {value!r} instead."
        )


def run_simulation(
    scenario: Scenario | str,
    *,
    n_paths: int | None = None,
    seed: int | None = None,
    client: Any = None,
    store: RunStore | None = None,
    resume: str | None = None,
    chunk_blocks: int | None = None,
    kernel: str = "numba",
    progress: Progress | None = None,
    on_chunk: ChunkHook | None = None,
    parameters: dict | None = None,
    timeline: Timeline | None = None,
) -> tuple[SimulationResult, str | None]:
    """Run a scenario's Monte Carlo in chunks of path blocks, here or on a Dask cluster, optionally resumable.

    Parameters
    ----------
    scenario : Scenario or str
        A loaded scenario, a file or a built-in name.
    n_paths, seed : int, optional
        As for :func:`firesale.simulate` (ignored when resuming: the stored run's values are used).
    client : distributed.Client, optional
        Run the chunks on this cluster (see :func:`firesale.dist.dask_client`); default: in this process.
    store : RunStore, optional
        Record the run, and every finished chunk, in this store.
    resume : str, optional
        Id of a stored run that was interrupted, failed or killed: only its missing blocks are computed.
    chunk_blocks : int, optional
        Blocks of 256 paths per task (default: the fewest tasks of at most 16 blocks, an equal number per worker,
        so the workers finish together; see :func:`plan_chunks`).
    kernel : {"numba", "numpy"}
        Liquidation-round implementation.
    progress : callable, optional
        Called with the fraction of blocks done.
    on_chunk : callable, optional
        Called with (0, block range) after each chunk is stored.
    parameters : dict, optional
        Extra parameters recorded with the run.
    timeline : Timeline, optional
        Filled with every task's worker, start, stop and CPU seconds and the client's phases (for benchmarks).

    Returns
    -------
    (SimulationResult, run id or None)
        The result is bit-identical to ``simulate(scenario, n_paths=..., seed=...)``.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    sim = scenario.spec.simulation
    if chunk_blocks is not None:
        _check_int("chunk_blocks", chunk_blocks, 1)
    if resume is not None:
        if store is None:
            raise ParameterError(
                "The 'store' parameter of run_simulation must be given with 'resume'. Got None instead."
            )
        stored = store.get(resume)
        if stored.scenario_hash != scenario.content_hash:
            raise ParameterError(
                f"The 'scenario' parameter of run_simulation must be the scenario of run {stored.id} to resume "
                f"it (its content hash is {stored.scenario_hash[:12]}). Got one with hash "
                f"{scenario.content_hash[:12]} instead."
            )
        n_paths, _, seed_text = reopen_run(store.root, stored.id)
        seed = int(seed_text)
        run_id: str | None = stored.id
    else:
        n_paths = sim.n_paths if n_paths is None else n_paths
        seed = sim.seed if seed is None else seed
        _check_int("n_paths", n_paths, 1)
        _check_int("seed", seed, 0)
        run_id = None
        if store is not None:
            run_id = store.start(
                scenario_name=scenario.name,
                scenario_hash=scenario.content_hash,
                scenario_text=scenario.text,
                seed=int(seed),
                version=__version__,
                n_paths=int(n_paths),
                n_steps=sim.n_steps,
                parameters={"source": scenario.source, "resumable": True, **(parameters or {})},
            )
    point = PointRun(scenario, int(seed), int(n_paths), run_id)
    if store is not None and run_id is not None:
        point.log = BlockLog(store.root, run_id)
    hook = on_chunk
    (result,) = run_points(
        [point],
        client=client,
        store=store,
        chunk_blocks=chunk_blocks,
        kernel=kernel,
        progress=progress,
        on_chunk=hook,
        timeline=timeline,
    )
    return result, run_id
