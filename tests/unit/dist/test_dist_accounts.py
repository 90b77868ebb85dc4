"""Distributed and resumed runs record the same per-account summaries (top accounts) as :func:`firesale.simulate`.

The expected values are :func:`firesale.simulate`'s own ``accounts`` table, whose figures are checked against hand
calculations and NumPy in tests/unit/test_top_accounts.py; here only the chunking, the transport to and from
workers and the store round trip are under test, so the tables must be equal bit for bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import firesale
from firesale.dist import dask_client, run_simulation
from firesale.engine._summaries import AccountSummary
from firesale.engine.seeding import BLOCK_SIZE
from firesale.scenario import parse_scenario
from firesale.store import RunStore
from firesale.store._blocks import BlockLog

# A small random world (GBM market, 40 generated borrowers close to their thresholds): paths differ, and many
# accounts are liquidated on some of them, so a block folded twice, lost or put out of order changes the figures.
_WORLD = """
name = "tiny-gbm-accounts"
[simulation]
n_steps = 12
dt = 300
record = ["bad_debt", "liquidated"]
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

N_PATHS, SEED = 600, 11  # three blocks of 256, the last one partial (88 paths)


@pytest.fixture(scope="module")
def toy() -> firesale.Scenario:
    return parse_scenario(_WORLD, source="tiny-gbm-accounts.toml")


@pytest.fixture(scope="module")
def reference(toy: firesale.Scenario) -> pd.DataFrame:
    accounts = firesale.simulate(toy, n_paths=N_PATHS, seed=SEED, kernel="numpy").accounts
    assert accounts is not None
    # Non-trivial: many accounts lose on some paths, and their losses vary from path to path.
    assert len(accounts) > 10
    assert (accounts["debt_at_risk_se_usd"] > 0).sum() > 10
    assert (accounts["n_paths"] == N_PATHS).all()
    return accounts


@pytest.mark.parametrize("chunk_blocks", [1, 2])
def test_in_process_chunks_give_simulates_accounts(toy, reference, chunk_blocks: int) -> None:
    result, _ = run_simulation(toy, n_paths=N_PATHS, seed=SEED, chunk_blocks=chunk_blocks, kernel="numpy")
    pd.testing.assert_frame_equal(result.accounts, reference, check_exact=True)


@pytest.mark.slow  # starts a real local cluster (worker processes import firesale), like test_dist.py's
def test_two_local_dask_workers_give_simulates_accounts(toy, reference) -> None:
    # One block per task over two workers: chunks arrive in any order and from other processes (pickled).
    with dask_client(workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        result, _ = run_simulation(
            toy, n_paths=N_PATHS, seed=SEED, client=client, chunk_blocks=1, kernel="numpy"
        )
    pd.testing.assert_frame_equal(result.accounts, reference, check_exact=True)


class _Killed(Exception):
    """Stands in for the process dying after a chunk was stored."""


def _kill_after_one(tmp_path, toy) -> tuple[RunStore, str]:
    store = RunStore(tmp_path / "runs")

    def die(point: int, blocks: range) -> None:
        raise _Killed

    with pytest.raises(_Killed):
        run_simulation(
            toy, n_paths=N_PATHS, seed=SEED, store=store, chunk_blocks=2, kernel="numpy", on_chunk=die
        )
    (run_id,) = store.runs()["id"]
    assert BlockLog(store.root, run_id).completed() == [range(0, 2)]
    return store, run_id


def test_a_resumed_run_gives_and_stores_simulates_accounts(tmp_path, toy, reference) -> None:
    # Blocks 0-1 come back from the store (folded there already), block 2 is computed on resume.
    store, run_id = _kill_after_one(tmp_path, toy)
    result, _ = run_simulation(toy, store=store, resume=run_id, chunk_blocks=2, kernel="numpy")
    pd.testing.assert_frame_equal(result.accounts, reference, check_exact=True)
    stored = store.get(run_id).series("accounts")
    pd.testing.assert_frame_equal(stored.reset_index(drop=True), reference, check_exact=True)


def test_chunks_stored_without_accounts_make_a_run_without_accounts(tmp_path, toy) -> None:
    # A store written before per-account summaries existed: the table is missing, not wrong (blocks 0-1 absent).
    store, run_id = _kill_after_one(tmp_path, toy)
    log = BlockLog(store.root, run_id)
    (log.folder / "blocks-0-2.accounts.npz").unlink()
    result, _ = run_simulation(toy, store=store, resume=run_id, chunk_blocks=2, kernel="numpy")
    assert result.accounts is None
    assert "accounts" not in store.get(run_id).series_names()


def test_merging_chunks_in_any_arrival_order_and_through_the_store_folds_in_block_order() -> None:
    # Chunks of a distributed run arrive in any order; merged, they must give the one-pass summary bit for bit
    # (the means and standard errors themselves are checked against NumPy in tests/unit/test_top_accounts.py).
    rng = np.random.default_rng(3)
    n, k = 4 * BLOCK_SIZE + 40, 6
    bad = np.maximum(rng.normal(0, 100, (n, k)), 0.0) * np.arange(k)
    risk = bad + rng.uniform(0, 50, (n, k))
    start = pd.DataFrame({"account": list("uvwxyz"), "members": 1, "debt_usd": 1.0, "collateral_usd": 2.0,
                          "health_factor": 1.5})  # fmt: skip
    whole = AccountSummary("p", start)
    whole.add(bad, risk, 0)

    def chunk(lo: int, hi: int) -> AccountSummary:
        part = AccountSummary("p", start)
        part.add(
            bad[lo * BLOCK_SIZE : hi * BLOCK_SIZE], risk[lo * BLOCK_SIZE : hi * BLOCK_SIZE], lo * BLOCK_SIZE
        )
        return AccountSummary.from_arrays(part.to_arrays())  # as a resumed run reads it back from the store

    merged = chunk(3, 5)  # the last blocks first, then the first ones (already folded in their chunk)
    merged.merge(chunk(0, 2))
    assert merged.count == 2 * BLOCK_SIZE  # block 2 missing: blocks 3-4 wait
    merged.merge(chunk(2, 3))
    assert merged.count == n
    pd.testing.assert_frame_equal(merged.frame(), whole.frame(), check_exact=True)
    with pytest.raises(ValueError, match="already added"):
        merged.merge(chunk(1, 2))
    fresh = chunk(1, 3)
    with pytest.raises(ValueError, match="already added"):
        fresh.merge(chunk(0, 2))  # blocks 0-1 folded elsewhere cannot join a summary holding block 1
