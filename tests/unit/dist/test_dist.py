"""Distributed runs: bit-identical to one process for any worker count and chunking, resumable after a kill."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import firesale
from firesale.dist import connect, dask_client, run_simulation
from firesale.dist._runner import chunk_ranges
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


@pytest.mark.parametrize("chunk_blocks", [1, 2, 16])
def test_in_process_chunks_equal_simulate(toy, reference, chunk_blocks: int) -> None:
    result, run_id = run_simulation(toy, n_paths=600, seed=11, chunk_blocks=chunk_blocks, kernel="numpy")
    assert run_id is None
    _same(result, reference)


@pytest.mark.slow  # starts two real local clusters (worker processes import firesale): ~10 s on a quiet machine
def test_one_and_two_local_dask_workers_are_bit_identical_to_one_process(toy, reference) -> None:
    # Paths differ (and liquidations happen), so a block computed from the wrong stream or put in the wrong place shows.
    assert reference.metrics["min_price_ratio_WETH"].nunique() > 500
    assert reference.metrics["liquidated_usd"].gt(0).sum() > 10
    for workers in (1, 2):
        with dask_client(workers=workers) as client:
            assert len(client.scheduler_info()["workers"]) == workers
            result, _ = run_simulation(
                toy, n_paths=600, seed=11, client=client, chunk_blocks=1, kernel="numpy"
            )
        _same(result, reference)


class _Killed(Exception):
    """Stands in for the process dying after a chunk was stored."""


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
