"""Distributed runs: bit-identical to one process for any worker count and chunking, resumable after a kill."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import firesale
from firesale.dist import connect, dask_client, run_simulation
from firesale.dist._cluster import LOCAL_CLUSTER_CONFIG
from firesale.dist._runner import MAX_CHUNK_BLOCKS, Timeline, _default_n_chunks, chunk_ranges, plan_chunks
from firesale.exceptions import ParameterError, StoreError
from firesale.scenario import parse_scenario
from firesale.store import RunStore
from firesale.store._blocks import BlockLog


def _same(a: firesale.SimulationResult, b: firesale.SimulationResult) -> None:
    pd.testing.assert_frame_equal(a.metrics, b.metrics, check_exact=True)
    assert sorted(a.paths) == sorted(b.paths)
    for name in a.paths:
        assert np.array_equal(a.paths[name], b.paths[name]), name
    assert (a.asset_names, a.protocol_names, a.dt, a.seed, a.n_paths) == (
        b.asset_names,
        b.protocol_names,
        b.dt,
        b.seed,
        b.n_paths,
    )


# A small random world (GBM market, 40 generated borrowers, one hour of 5-minute steps): cheap enough to run many
# times, random enough that a block computed from the wrong stream would show.
_WORLD = """
name = "tiny-gbm"
[simulation]
n_steps = 12
dt = 300
record = ["price", "bad_debt", "liquidated", "rounds", "flags"]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "gbm"
vol = { WETH = 3.0, USDC = 0.01 }
[[venues]]
type = "orderbook"
name = "cex"
asset = "WETH"
depth_usd = 2e6
[[oracles]]
name = "eth"
asset = "WETH"
type = "push"
[[oracles]]
name = "usd"
asset = "USDC"
type = "market"
[[protocols]]
name = "lender"
type = "aave_v3"
[protocols.generate]
n_accounts = 40
collateral = "WETH"
debt = "USDC"
total_debt_usd = 5e7
hf_min = 1.01
hf_max = 1.3
[protocols.reserves.WETH]
ltv = 0.8
liquidation_threshold = 0.83
liquidation_bonus = 0.05
oracle = "eth"
venues = ["cex"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.78
liquidation_bonus = 0.045
oracle = "usd"
"""


@pytest.fixture(scope="module")
def toy() -> firesale.Scenario:
    return parse_scenario(_WORLD, source="tiny-gbm.toml")


@pytest.fixture(scope="module")
def reference(toy: firesale.Scenario) -> firesale.SimulationResult:
    # 600 paths: three blocks of 256, the last one partial (88 paths).
    return firesale.simulate(toy, n_paths=600, seed=11, kernel="numpy")


def test_chunk_ranges_split_runs_of_consecutive_blocks() -> None:
    assert chunk_ranges(range(7), 3) == [range(0, 3), range(3, 6), range(6, 7)]
    assert chunk_ranges([0, 1, 4, 5, 6, 9], 2) == [range(0, 2), range(4, 6), range(6, 7), range(9, 10)]
    assert chunk_ranges([], 4) == []


def test_plan_chunks_splits_blocks_into_near_equal_groups_in_order() -> None:
    assert plan_chunks(range(8), 2) == [range(0, 4), range(4, 8)]
    assert plan_chunks(range(9), 2) == [range(0, 5), range(5, 9)]  # the larger group first
    assert plan_chunks(range(10), 4) == [range(0, 3), range(3, 6), range(6, 8), range(8, 10)]
    # After a resume the missing blocks need not be consecutive: a group is cut where they are not.
    assert plan_chunks([0, 1, 4, 5, 6, 9], 2) == [range(0, 2), range(4, 5), range(5, 7), range(9, 10)]
    assert plan_chunks(range(3), 5) == [range(0, 1), range(1, 2), range(2, 3)]  # never an empty task
    assert plan_chunks([], 2) == []


def test_default_plan_gives_each_worker_equal_tasks_of_at_most_16_blocks() -> None:
    assert MAX_CHUNK_BLOCKS == 16
    assert _default_n_chunks(8, 1, 1) == 1  # the whole job in one task
    assert _default_n_chunks(8, 2, 1) == 2  # one task of 4 blocks each
    assert _default_n_chunks(17, 1, 1) == 2  # 17 blocks: two tasks (9 + 8), none above 16
    assert _default_n_chunks(33, 2, 1) == 4  # 3 by memory, rounded up to 2 per worker
    assert _default_n_chunks(1, 2, 1) == 1  # one block cannot be shared
    # A sweep's points share the workers: one task per point when there are enough points to go round.
    assert _default_n_chunks(8, 2, 20) == 1
    assert _default_n_chunks(8, 4, 2) == 2
    assert _default_n_chunks(40, 2, 20) == 3


def test_timeline_accounts_for_every_block_once_and_its_idle_split(toy) -> None:
    timeline = Timeline()
    run_simulation(toy, n_paths=600, seed=11, chunk_blocks=1, kernel="numpy", timeline=timeline)
    assert sorted((t.blocks.start, t.blocks.stop) for t in timeline.tasks) == [(0, 1), (1, 2), (2, 3)]
    assert {t.worker.split("/")[0] for t in timeline.tasks} == {"local"}
    assert all(
        timeline.started <= t.start <= t.stop <= t.received <= timeline.finished for t in timeline.tasks
    )
    (row,) = timeline.by_worker().to_dict("records")
    assert (row["tasks"], row["blocks"]) == (3, 3)
    # Lead-in, busy, gaps and tail add up to the run's wall for the one worker.
    total = row["lead_in_s"] + row["busy_s"] + row["gaps_s"] + row["tail_s"]
    assert total == pytest.approx(timeline.wall_s, abs=1e-6)
    assert set(timeline.phases) == {"load", "handle", "assemble"}
    assert "3 tasks / 3 blocks" in timeline.describe()


@pytest.mark.parametrize("chunk_blocks", [1, 2, 16, None])
def test_in_process_chunks_equal_simulate(toy, reference, chunk_blocks: int | None) -> None:
    result, run_id = run_simulation(toy, n_paths=600, seed=11, chunk_blocks=chunk_blocks, kernel="numpy")
    assert run_id is None
    _same(result, reference)


def _progress_by_step(chunks: list[int], n_steps: int = 12) -> list[float]:
    """The progress a run of ``chunks`` (block counts, run one after the other) reports: 0, then after every step
    but a chunk's last the blocks done plus that chunk's share of its steps, then each chunk's end."""
    total, done, out = sum(chunks), 0, [0.0]
    for n in chunks:
        out += [(done + n * k / n_steps) / total for k in range(1, n_steps)]  # 12 steps: a report every step
        done += n
        out.append(done / total)
    return out


@pytest.mark.parametrize(("chunk_blocks", "chunks"), [(None, [3]), (1, [1, 1, 1])])
def test_progress_moves_step_by_step_inside_a_chunk(toy, chunk_blocks: int | None, chunks: list[int]) -> None:
    # The default plan runs one chunk per worker: reporting only finished chunks would jump from 0 to 1.
    seen: list[float] = []
    run_simulation(toy, n_paths=600, seed=11, chunk_blocks=chunk_blocks, kernel="numpy", progress=seen.append)
    assert seen == pytest.approx(_progress_by_step(chunks), abs=1e-12)


@pytest.mark.slow  # starts two real local clusters (worker processes import firesale): ~10 s on a quiet machine
def test_one_and_two_local_dask_workers_are_bit_identical_to_one_process(toy, reference) -> None:
    # Paths differ (and liquidations happen), so a block computed from the wrong stream or put in the wrong place shows.
    assert reference.metrics["min_price_ratio_WETH"].nunique() > 500
    assert reference.metrics["liquidated_usd"].gt(0).sum() > 10
    keys = list(LOCAL_CLUSTER_CONFIG)

    # Nested, so it is pickled by value for the workers (they cannot import the tests package).
    def worker_settings() -> tuple[int, str | None, dict[str, object]]:
        import os

        import dask.config
        import numba

        return (
            numba.config.NUMBA_NUM_THREADS,
            os.environ.get("OMP_NUM_THREADS"),
            {k: dask.config.get(k) for k in keys},
        )

    for workers in (1, 2):
        with dask_client(workers=workers) as client:
            assert len(client.scheduler_info()["workers"]) == workers
            settings = client.run(worker_settings)
            result, _ = run_simulation(
                toy, n_paths=600, seed=11, client=client, chunk_blocks=1, kernel="numpy"
            )
            timeline, seen = Timeline(), []
            planned, _ = run_simulation(
                toy,
                n_paths=600,
                seed=11,
                client=client,
                kernel="numpy",
                timeline=timeline,
                progress=seen.append,
            )
        _same(result, reference)
        _same(planned, reference)
        # Workers report every step of their chunk as an event; on one ordered stream to the scheduler and on to
        # the client, every report arrives before the chunk's result.
        assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0
        if workers == 1:
            assert seen == pytest.approx(_progress_by_step([3]), abs=1e-12)
        else:  # two chunks at once, interleaved as they come; each report and each end raises the total: all shown
            assert len(seen) == 1 + 2 * 11 + 2
        # The default plan: 3 blocks in one task on one worker, in two (2 + 1 blocks) on two.
        expected = [(0, 3)] if workers == 1 else [(0, 2), (2, 3)]
        assert sorted((t.blocks.start, t.blocks.stop) for t in timeline.tasks) == expected
        # Single-threaded numba and the lean Dask settings reached every worker process.
        assert list(settings.values()) == [(1, "1", LOCAL_CLUSTER_CONFIG)] * workers


class _Killed(Exception):
    """Stands in for the process dying after a chunk was stored."""


def _die_after_block_1(point: int, blocks: range) -> None:
    """A kill once block 1 is stored (block 0 before it, in process with one block per task)."""
    if blocks.start == 1:
        raise _Killed


def _run_killed_after_block_1(toy, store: RunStore, n_paths: int, seed: int) -> str:  # type: ignore[no-untyped-def]
    """Start a stored run of one block per task that dies once block 1 is stored; its id."""
    with pytest.raises(_Killed):
        run_simulation(toy, n_paths=n_paths, seed=seed, store=store, chunk_blocks=1, kernel="numpy",
                       on_chunk=_die_after_block_1)  # fmt: skip
    (run_id,) = store.runs()["id"]
    return run_id


def test_resume_after_a_kill_keeps_completed_blocks_and_matches_an_uninterrupted_run(
    tmp_path, toy, reference
) -> None:
    store = RunStore(tmp_path / "runs")
    seen: list[range] = []

    def die_after_two(point: int, blocks: range) -> None:
        seen.append(blocks)
        if len(seen) == 2:
            raise _Killed

    with pytest.raises(_Killed):
        run_simulation(
            toy, n_paths=600, seed=11, store=store, chunk_blocks=1, kernel="numpy", on_chunk=die_after_two
        )
    (run_id,) = store.runs()["id"]
    assert store.get(run_id).status == "failed"
    assert BlockLog(store.root, run_id).completed() == [range(0, 1), range(1, 2)]

    resumed_chunks: list[range] = []
    result, again = run_simulation(
        toy,
        store=store,
        resume=run_id,
        chunk_blocks=1,
        kernel="numpy",
        on_chunk=lambda p, b: resumed_chunks.append(b),
    )
    assert again == run_id
    assert resumed_chunks == [range(2, 3)]  # only the block that was missing ran
    _same(result, reference)
    stored = store.get(run_id)
    assert stored.status == "complete"
    pd.testing.assert_frame_equal(
        stored.metrics().reset_index(drop=True), reference.metrics.reset_index(drop=True), check_exact=True
    )
    assert BlockLog(store.root, run_id).completed() == []  # the chunk files go once the run is whole


def test_resume_with_the_default_plan_runs_the_missing_blocks_as_one_task(tmp_path, toy) -> None:
    # 1,200 paths: five blocks (the last one 176 paths); killed after blocks 0 and 1 were stored.
    expected = firesale.simulate(toy, n_paths=1200, seed=5, kernel="numpy")
    store = RunStore(tmp_path / "runs")

    run_id = _run_killed_after_block_1(toy, store, 1200, 5)
    chunks: list[range] = []
    result, _ = run_simulation(
        toy, store=store, resume=run_id, kernel="numpy", on_chunk=lambda p, b: chunks.append(b)
    )
    assert chunks == [range(2, 5)]  # one worker here: the three missing blocks in one task
    _same(result, expected)
    assert store.get(run_id).status == "complete"


def test_resume_refuses_a_complete_run_and_another_scenario(tmp_path, toy) -> None:
    store = RunStore(tmp_path / "runs")
    _, run_id = run_simulation(toy, n_paths=10, seed=1, store=store, kernel="numpy")
    with pytest.raises(StoreError, match="already complete"):
        run_simulation(toy, store=store, resume=run_id, kernel="numpy")
    other = firesale.load_scenario("toy-spiral")
    with pytest.raises(ParameterError, match="must be the scenario of run"):
        run_simulation(other, store=store, resume=run_id)


def test_unreachable_scheduler_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match=r"reachable Dask scheduler\. Got 'tcp://127\.0\.0\.1:9'"):
        connect("tcp://127.0.0.1:9", timeout_s=1.0)


def test_workers_and_scheduler_are_alternatives() -> None:
    with pytest.raises(ParameterError, match="alternatives"), dask_client(workers=1, scheduler="tcp://x:1"):
        pass


def test_a_task_stores_its_own_chunk_only_where_it_sees_the_runs_folder(tmp_path, toy, reference) -> None:
    """A worker on this machine (or a shared file system) writes its chunk itself; one that cannot see the run's
    folder (another machine) writes nothing and says so, and the client stores what it returned."""
    from firesale.dist import _runner

    log = BlockLog(tmp_path / "runs", "r1")
    log.folder.mkdir(parents=True)
    frame, arrays, _, stored, _ = _runner._task(toy, 11, range(1, 2), 600, "numpy", log)
    assert stored and log.completed() == [range(1, 2)]
    back, series = log.load(range(1, 2))
    pd.testing.assert_frame_equal(back, reference.metrics.iloc[256:512], check_exact=True)
    assert sorted(series) == sorted(reference.paths)
    for name in series:
        assert np.array_equal(series[name], reference.paths[name][256:512]), name

    elsewhere = BlockLog(tmp_path / "other-machine", "r1")
    *_, stored, _ = _runner._task(toy, 11, range(0, 1), 600, "numpy", elsewhere)
    assert not stored and not (tmp_path / "other-machine").exists()


def test_chunks_the_tasks_could_not_store_are_stored_by_the_client(
    tmp_path, toy, reference, monkeypatch
) -> None:
    from firesale.dist import _runner

    task = _runner._task
    # Every task runs as if on another machine: its log's folder is not visible to it.
    monkeypatch.setattr(
        _runner, "_task", lambda *a: task(*a[:5], BlockLog(tmp_path / "nowhere", "x") if a[5] else None)
    )
    store = RunStore(tmp_path / "runs")

    run_id = _run_killed_after_block_1(toy, store, 600, 11)
    assert BlockLog(store.root, run_id).completed() == [range(0, 1), range(1, 2)]  # written by the client
    assert not (tmp_path / "nowhere").exists()
    result, _ = run_simulation(toy, store=store, resume=run_id, kernel="numpy")
    _same(result, reference)


@pytest.mark.slow  # starts a real local cluster: ~10 s on a quiet machine
def test_local_dask_workers_store_their_chunks_and_a_killed_run_resumes(tmp_path, toy, reference) -> None:
    store = RunStore(tmp_path / "runs")

    def die_after_one(point: int, blocks: range) -> None:
        raise _Killed

    with dask_client(workers=2) as client:
        with pytest.raises(_Killed):
            run_simulation(
                toy, n_paths=600, seed=11, client=client, store=store, chunk_blocks=1, kernel="numpy",
                on_chunk=die_after_one,
            )  # fmt: skip
        (run_id,) = store.runs()["id"]
        # The first chunk to arrive was stored by its worker before the client saw it; others may be too.
        assert BlockLog(store.root, run_id).completed()
        timeline = Timeline()
        result, _ = run_simulation(
            toy, store=store, resume=run_id, client=client, kernel="numpy", timeline=timeline
        )
    _same(result, reference)
    assert store.get(run_id).status == "complete"
