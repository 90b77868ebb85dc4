"""Tests of firesale.store in one process: round trips, listing, errors, versioning, corruption, SQL access.

Crash (SIGKILL) and multi-process tests are in test_store_processes.py. Expected values are the inputs given to the
store (a round trip must give them back unchanged), hashes from :mod:`hashlib`, and values derived by hand below.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import socket
import textwrap
import threading
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import firesale.store
from firesale.exceptions import ParameterError, StoreError
from firesale.store import RunStore, StoredRun, _catalog, _files, default_store_root

SCENARIO_TEXT = '[scenario]\nname = "eth-crash"\nn_paths = 4\n'
SCENARIO_HASH = hashlib.sha256(SCENARIO_TEXT.encode()).hexdigest()
RUN_ID = re.compile(r"(\d{8}T\d{6})-[0-9a-f]{6}")
LISTING_COLUMNS = [
    "id",
    "status",
    "scenario_name",
    "scenario_hash",
    "seed",
    "version",
    "n_paths",
    "n_steps",
    "started_at",
    "ended_at",
    "wall_seconds",
    "bad_debt_mean_usd",
    "bad_debt_var99_usd",
    "bad_debt_es99_usd",
    "p_bad_debt",
    "p_insolvency",
    "message",
]


def start(store: RunStore, **overrides: object) -> str:
    kwargs: dict[str, object] = {
        "scenario_name": "eth-crash",
        "scenario_hash": SCENARIO_HASH,
        "scenario_text": SCENARIO_TEXT,
        "seed": 7,
        "version": "0.1.0",
        "n_paths": 4,
        "n_steps": 96,
        "parameters": {"shock": -0.4, "assets": ["WETH", "USDC"]},
    }
    kwargs.update(overrides)
    return store.start(**kwargs)


def metrics_frame(n_paths: int = 4, scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bad_debt_usd": np.arange(n_paths, dtype=float) * scale,
            "n_liquidations": np.arange(n_paths, dtype=np.int64) * 3,
            "insolvent": np.arange(n_paths) % 2 == 1,
            "worst_protocol": ["aave", "maker", "aave", "compound"][:n_paths]
            + ["aave"] * max(0, n_paths - 4),
        }
    )


def complete_run(store: RunStore, **overrides: object) -> str:
    run_id = start(store, **overrides)
    store.finish(run_id, metrics=metrics_frame(), summary={"p_bad_debt": 0.5}, wall_seconds=1.0)
    return run_id


def snapshot(root: os.PathLike) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root`` with its bytes and modification time."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, root)] = (handle.read(), os.stat(path).st_mtime_ns)
    return files


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


@pytest.fixture(scope="module")
def running_run(tmp_path_factory):
    """A store holding one running run, shared by tests that must leave it unchanged."""
    store = RunStore(tmp_path_factory.mktemp("shared") / "runs")
    return store, start(store)


# --- round trips ----------------------------------------------------------------------------------------------------


def test_start_records_a_running_run_with_every_field(store):
    before = datetime.now(UTC).replace(microsecond=0)
    run_id = start(store, seed=2**200 + 3)
    after = datetime.now(UTC)
    match = RUN_ID.fullmatch(run_id)
    assert match is not None
    assert before <= datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC) <= after
    run = store.get(run_id)
    assert isinstance(run, StoredRun)
    assert (run.id, run.status, run.scenario_name, run.scenario_hash, run.scenario_text) == (
        run_id,
        "running",
        "eth-crash",
        SCENARIO_HASH,
        SCENARIO_TEXT,
    )
    assert run.seed == 2**200 + 3
    assert (run.version, run.n_paths, run.n_steps) == ("0.1.0", 4, 96)
    assert run.parameters == {"shock": -0.4, "assets": ["WETH", "USDC"]}
    assert before <= run.started_at <= after
    assert run.started_at.tzinfo is UTC
    assert (run.ended_at, run.wall_seconds, run.message, run.summary) == (None, None, "", {})
    assert run.series_names() == []


def test_finish_round_trips_metrics_series_and_summary(store):
    run_id = start(store)
    metrics = metrics_frame()
    prices = pd.DataFrame(
        {"step": np.arange(3), "WETH_usd": [3000.0, 2500.5, 1800.25]}, index=pd.Index([10, 20, 30], name="t")
    )
    cascade = pd.DataFrame({"round": [1, 2], "sold_usd": [1e6, 2.5e5]})
    summary = {
        "bad_debt_mean_usd": 1.5,
        "bad_debt_var99_usd": 3.0,
        "bad_debt_es99_usd": 3.0,
        "p_bad_debt": 0.75,
        "p_insolvency": 0.5,
        "cascade_depth_mean": 2,
        "amplification": math.nan,
    }
    store.finish(
        run_id,
        metrics=metrics,
        summary=summary,
        series={"prices": prices, "cascade": cascade},
        wall_seconds=12.5,
    )
    run = store.get(run_id)
    assert run.status == "complete"
    assert run.wall_seconds == 12.5
    assert run.started_at <= run.ended_at <= datetime.now(UTC)
    pd.testing.assert_frame_equal(run.metrics(), metrics)
    assert run.series_names() == ["cascade", "prices"]
    pd.testing.assert_frame_equal(run.series("prices"), prices)
    pd.testing.assert_frame_equal(run.series("cascade"), cascade)
    assert set(run.summary) == set(summary)
    assert math.isnan(run.summary.pop("amplification"))
    assert run.summary == {k: float(v) for k, v in summary.items() if k != "amplification"}
    listed = store.runs().iloc[0]
    assert (listed.bad_debt_mean_usd, listed.bad_debt_var99_usd, listed.bad_debt_es99_usd) == (1.5, 3.0, 3.0)
    assert (listed.p_bad_debt, listed.p_insolvency, listed.wall_seconds) == (0.75, 0.5, 12.5)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**512))
def test_seeds_of_any_size_round_trip_exactly(store, seed):
    run_id = start(store, seed=seed)
    assert store.get(run_id).seed == seed
    listed = store.runs().set_index("id")
    assert listed.loc[run_id, "seed"] == seed
    assert type(listed.loc[run_id, "seed"]) is int


def test_runs_lists_newest_first_with_documented_columns_and_types(store):
    first = complete_run(store, scenario_name="a")
    second = start(store, scenario_name="b")
    store.mark(second, "interrupted", "Ctrl-C")
    third = start(store, scenario_name="c")
    listing = store.runs()
    assert list(listing.columns) == LISTING_COLUMNS
    assert list(listing["id"]) == [third, second, first]
    assert list(listing["status"]) == ["running", "interrupted", "complete"]
    assert list(listing["scenario_name"]) == ["c", "b", "a"]
    assert list(listing["message"]) == ["", "Ctrl-C", ""]
    assert str(listing["started_at"].dtype) == "datetime64[us, UTC]"
    assert listing["started_at"].is_monotonic_decreasing
    assert listing["ended_at"].isna().tolist() == [True, False, False]
    assert listing["n_paths"].dtype == np.int64
    # Only the complete run reported p_bad_debt (0.5 in complete_run); the others have none.
    assert listing["p_bad_debt"].isna().tolist() == [True, True, False]
    assert listing["p_bad_debt"].iloc[2] == 0.5


def test_a_store_that_does_not_exist_lists_no_runs_and_creates_nothing(tmp_path):
    store = RunStore(tmp_path / "missing")
    listing = store.runs()
    assert listing.empty
    assert list(listing.columns) == LISTING_COLUMNS
    with pytest.raises(StoreError, match=r"holds no runs yet"):
        store.get("2026")
    with pytest.raises(StoreError, match=r"There is no run '20261122T021530-3f9a1c'"):
        store.mark("20261122T021530-3f9a1c", "failed")
    assert not (tmp_path / "missing").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert RunStore(empty).runs().empty
    assert os.listdir(empty) == []


def test_an_empty_directory_becomes_a_store(tmp_path):
    store = RunStore(tmp_path)
    run_id = complete_run(store)
    assert sorted(os.listdir(tmp_path)) == ["catalog.duckdb", "catalog.lock", "runs"]
    assert os.listdir(tmp_path / "runs") == [f"run_id={run_id}"]


def test_get_accepts_a_unique_prefix_and_refuses_unknown_or_ambiguous_ones(store):
    first = start(store)
    second = start(store)
    # Ids of one second share their first 16 characters; the random hex tells them apart (redrawn on a clash).
    assert store.get(first).id == first
    common = next(first[:i] for i in range(len(first)) if first[i] != second[i])
    assert store.get(first[: len(common) + 1]).id == first
    assert store.get(second[: len(common) + 1]).id == second
    with pytest.raises(StoreError, match=rf"The run id prefix '{common}' is ambiguous: it matches 2 runs"):
        store.get(common)
    with pytest.raises(StoreError, match=r"There is no run matching 'nope' in the run store .*List the runs"):
        store.get("nope")
    with pytest.raises(
        ParameterError, match=r"The 'run_id' parameter of RunStore.get must be a non-empty str"
    ):
        store.get("")


def test_mark_records_failed_and_interrupted_runs(store):
    failed = start(store)
    store.mark(failed, "failed", "SimulationError: 3 paths went non-finite at step 17")
    run = store.get(failed)
    assert (run.status, run.message) == ("failed", "SimulationError: 3 paths went non-finite at step 17")
    assert run.started_at <= run.ended_at
    interrupted = start(store)
    store.mark(interrupted, "interrupted")
    assert (store.get(interrupted).status, store.get(interrupted).message) == ("interrupted", "")


def test_mark_rejects_other_statuses_with_the_documented_message(store):
    run_id = start(store)
    with pytest.raises(
        ParameterError,
        match=re.escape(
            "The 'status' parameter of RunStore.mark must be one of ['failed', 'interrupted']. Got 'x' instead."
        ),
    ):
        store.mark(run_id, "x")
    with pytest.raises(
        ParameterError, match=r"'status' parameter of RunStore.mark .* Got 'complete' instead"
    ):
        store.mark(run_id, "complete")
    assert store.get(run_id).status == "running"


def test_a_finished_or_marked_run_cannot_be_changed(store):
    done = complete_run(store)
    before = snapshot(store.root / "runs")
    with pytest.raises(
        StoreError, match=rf"Run {done} is already complete; only a running run can be marked failed"
    ):
        store.mark(done, "failed")
    with pytest.raises(
        StoreError, match=rf"Run {done} is already complete; only a running run can be finished"
    ):
        store.finish(done, metrics=metrics_frame(scale=9.0), summary={"p_bad_debt": 1.0}, wall_seconds=2.0)
    assert snapshot(store.root / "runs") == before
    run = store.get(done)
    assert (run.status, run.summary, run.wall_seconds) == ("complete", {"p_bad_debt": 0.5}, 1.0)
    marked = start(store)
    store.mark(marked, "interrupted")
    with pytest.raises(StoreError, match=rf"Run {marked} is already interrupted"):
        store.finish(marked, metrics=metrics_frame(), summary={}, wall_seconds=1.0)
    with pytest.raises(StoreError, match=rf"There is no run '{done[:-1]}x'"):
        store.finish(done[:-1] + "x", metrics=metrics_frame(), summary={}, wall_seconds=1.0)


def test_only_complete_runs_have_metrics_and_series(store):
    run_id = start(store)
    run = store.get(run_id)
    with pytest.raises(StoreError, match=rf"Run {run_id} is running, so it has no stored metrics"):
        run.metrics()
    with pytest.raises(StoreError, match=r"is running, so it has no stored series"):
        run.series("prices")
    done = store.get(complete_run(store))
    with pytest.raises(ParameterError, match=r"The 'name' parameter of StoredRun.series must be one of \[\]"):
        done.series("prices")


def test_a_run_of_this_live_process_is_running_and_a_dead_writer_makes_it_incomplete(store, monkeypatch):
    alive = start(store)
    # A writer that exited long ago: pid 0 never names a user process, so the row's writer is dead.
    monkeypatch.setattr("firesale.store._store.current_writer", lambda: (0, socket.gethostname(), None))
    dead = start(store)
    statuses = dict(zip(store.runs()["id"], store.runs()["status"], strict=True))
    assert statuses == {alive: "running", dead: "incomplete"}
    assert store.get(dead).status == "incomplete"
    # The catalog still says "running": the store derives "incomplete" and never rewrites rows on read.
    store.mark(dead, "failed", "writer died")
    assert store.get(dead).status == "failed"


def test_default_store_root_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("FIRESALE_STORE", raising=False)
    assert default_store_root() == firesale.store.default_store_root() == type(tmp_path)("firesale-runs")
    monkeypatch.setenv("FIRESALE_STORE", str(tmp_path / "elsewhere"))
    assert default_store_root() == tmp_path / "elsewhere"


def test_the_store_does_not_touch_the_disk_until_the_first_write(tmp_path):
    store = RunStore(str(tmp_path / "lazy"))
    assert store.root == tmp_path / "lazy"
    assert repr(store) == f"RunStore({str(tmp_path / 'lazy')!r})"
    assert not (tmp_path / "lazy").exists()


def test_concurrent_threads_share_one_store(store):
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(2):
                run_id = start(store, parameters={"k": k, "i": i})
                store.finish(
                    run_id, metrics=metrics_frame(scale=10 * k + i), summary={"p_bad_debt": k}, wall_seconds=i
                )
                store.runs()
        except BaseException as exc:  # collected so the main thread can fail with it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    listing = store.runs()
    assert len(listing) == 8
    assert set(listing["status"]) == {"complete"}
    for run_id in listing["id"]:
        run = store.get(run_id)
        k, i = run.parameters["k"], run.parameters["i"]
        pd.testing.assert_frame_equal(run.metrics(), metrics_frame(scale=10 * k + i))


# --- bad arguments ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"scenario_name": ""},
            "The 'scenario_name' parameter of RunStore.start must be a non-empty str. Got '' instead.",
        ),
        (
            {"scenario_hash": "ABC"},
            "The 'scenario_hash' parameter of RunStore.start must be a sha256 hex digest (64 lowercase hex "
            "characters). Got 'ABC' instead.",
        ),
        (
            {"scenario_text": None},
            "The 'scenario_text' parameter of RunStore.start must be a str. Got None instead.",
        ),
        ({"seed": -1}, "The 'seed' parameter of RunStore.start must be an int >= 0. Got -1 instead."),
        ({"seed": 1.0}, "The 'seed' parameter of RunStore.start must be an int >= 0. Got 1.0 instead."),
        ({"seed": True}, "The 'seed' parameter of RunStore.start must be an int >= 0. Got True instead."),
        ({"version": 1}, "The 'version' parameter of RunStore.start must be a non-empty str. Got 1 instead."),
        (
            {"n_paths": 0},
            "The 'n_paths' parameter of RunStore.start must be an int in [1, 9223372036854775807]. Got 0 instead.",
        ),
        (
            {"n_steps": 2.5},
            "The 'n_steps' parameter of RunStore.start must be an int in [1, 9223372036854775807].",
        ),
        ({"n_steps": 2**63}, "must be an int in [1, 9223372036854775807]. Got 9223372036854775808 instead."),
        (
            {"parameters": [1]},
            "The 'parameters' parameter of RunStore.start must be a dict with str keys. Got [1]",
        ),
        (
            {"parameters": {1: "a"}},
            "The 'parameters' parameter of RunStore.start must be a dict with str keys.",
        ),
        (
            {"parameters": {"x": math.inf}},
            "The 'parameters' parameter of RunStore.start must be JSON serializable",
        ),
        (
            {"parameters": {"x": object()}},
            "The 'parameters' parameter of RunStore.start must be JSON serializable",
        ),
    ],
)
def test_start_rejects_bad_arguments_and_writes_nothing(tmp_path, overrides, message):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(ParameterError, match=re.escape(message)):
        start(store, **overrides)
    assert not store.root.exists()


def test_start_converts_numpy_values_in_parameters(store):
    run_id = start(
        store,
        seed=np.uint64(2**64 - 1),
        n_paths=np.int64(4),
        parameters={"a": np.float64(0.25), "b": np.arange(3)},
    )
    run = store.get(run_id)
    assert (run.seed, run.n_paths, run.parameters) == (2**64 - 1, 4, {"a": 0.25, "b": [0, 1, 2]})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"metrics": [1, 2]},
            "The 'metrics' parameter of RunStore.finish must be a pandas DataFrame. Got list instead.",
        ),
        (
            {"metrics": pd.DataFrame({0: [1.0] * 4})},
            "The 'metrics' parameter of RunStore.finish must have string column names (Parquet requires them). "
            "Got column 0 instead.",
        ),
        (
            {"metrics": pd.DataFrame({"run_id": ["x"] * 4})},
            "The 'metrics' parameter of RunStore.finish must not have a column or index named 'run_id'",
        ),
        (
            {"metrics": pd.DataFrame({"x": [object()] * 4})},
            "The 'metrics' parameter of RunStore.finish must be a DataFrame that Parquet can store.",
        ),
        (
            {"metrics": metrics_frame(n_paths=3)},
            "The 'metrics' parameter of RunStore.finish must be one row per path (4 rows). Got 3 rows instead.",
        ),
        (
            {"summary": [0.5]},
            "The 'summary' parameter of RunStore.finish must be a dict of str to float. Got list",
        ),
        (
            {"summary": {"p": "0.5"}},
            "The 'summary' parameter of RunStore.finish must be a flat dict of str to a finite float (or NaN). "
            "Got 'p': '0.5' instead.",
        ),
        ({"summary": {"p": math.inf}}, "Got 'p': inf instead."),
        ({"summary": {"p": True}}, "Got 'p': True instead."),
        ({"summary": {"p": 10**400}}, f"Got 'p': {10**400} instead."),
        ({"summary": {"p": {"q": 1.0}}}, "Got 'p': {'q': 1.0} instead."),
        (
            {"series": [pd.DataFrame()]},
            "The 'series' parameter of RunStore.finish must be a dict of name to DataFrame",
        ),
        ({"series": {"../up": pd.DataFrame()}}, "Got name '../up' instead."),
        (
            {"series": {"Prices": pd.DataFrame(), "prices": pd.DataFrame()}},
            "The 'series' parameter of RunStore.finish must be keyed by names that differ other than in case. "
            "Got name 'prices' instead.",
        ),
        (
            {"series": {"ok": "frame"}},
            "The \"series['ok']\" parameter of RunStore.finish must be a pandas DataFrame.",
        ),
        (
            {"wall_seconds": -1.0},
            "The 'wall_seconds' parameter of RunStore.finish must be a finite float >= 0.",
        ),
        (
            {"wall_seconds": math.nan},
            "The 'wall_seconds' parameter of RunStore.finish must be a finite float >= 0.",
        ),
        (
            {"wall_seconds": "1"},
            "The 'wall_seconds' parameter of RunStore.finish must be a finite float >= 0.",
        ),
    ],
)
def test_finish_rejects_bad_arguments_and_writes_nothing(running_run, kwargs, message):
    store, run_id = running_run
    before = snapshot(store.root)
    arguments = {
        "metrics": metrics_frame(),
        "summary": {"p_bad_debt": 0.5},
        "series": None,
        "wall_seconds": 1.0,
    }
    arguments.update(kwargs)
    with pytest.raises(ParameterError, match=re.escape(message)):
        store.finish(run_id, **arguments)
    assert snapshot(store.root) == before
    assert not (store.root / "runs").exists()
    assert store.get(run_id).status == "running"


def test_the_root_must_be_a_path(tmp_path):
    with pytest.raises(
        ParameterError, match=r"The 'root' parameter of RunStore must be a str or os.PathLike. Got 3"
    ):
        RunStore(3)


# --- failed writes ----------------------------------------------------------------------------------------------------


def test_a_failed_file_write_leaves_the_run_running_and_other_runs_untouched(store, monkeypatch):
    kept = complete_run(store)
    kept_files = snapshot(store.root / "runs")
    run_id = start(store)
    real_write = _files.pq.write_table

    def write_then_fail(table, where):
        if "series" in str(where):
            real_write(table, where)  # a whole temporary file, which must not be renamed into place
            raise OSError(28, "No space left on device")
        real_write(table, where)

    monkeypatch.setattr(_files.pq, "write_table", write_then_fail)
    with pytest.raises(
        StoreError, match=rf"Cannot write the results of run {run_id} .*No space left on device"
    ):
        store.finish(
            run_id, metrics=metrics_frame(), summary={}, series={"prices": metrics_frame()}, wall_seconds=1.0
        )
    assert store.get(run_id).status == "running"
    run_dir = store.root / "runs" / f"run_id={run_id}"
    assert os.listdir(run_dir / "series") == []  # the temporary file was removed, nothing renamed in
    assert {k: v for k, v in snapshot(store.root / "runs").items() if kept in k} == kept_files
    monkeypatch.undo()
    # The run can still be finished once the disk is fixed.
    store.finish(
        run_id, metrics=metrics_frame(), summary={}, series={"prices": metrics_frame()}, wall_seconds=1.0
    )
    pd.testing.assert_frame_equal(store.get(run_id).series("prices"), metrics_frame())


def test_a_missing_parquet_file_is_a_store_error(store):
    run = store.get(complete_run(store))
    (run.path / "metrics.parquet").unlink()
    with pytest.raises(StoreError, match=r"The metrics of run .* file .* is missing or unreadable"):
        run.metrics()


# --- versions, corruption, foreign directories -------------------------------------------------------------------


def set_schema_version(root, version: str) -> None:
    con = duckdb.connect(str(root / "catalog.duckdb"))
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [version])
    con.close()


def test_a_store_from_a_newer_firesale_is_refused_and_left_unchanged(store):
    done = complete_run(store)
    set_schema_version(store.root, "3")
    before = snapshot(store.root)
    newer = re.escape(
        f"The run store {store.root / 'catalog.duckdb'} was written by firesale with store schema 3; this "
        "firesale reads schema <= 1; upgrade firesale"
    )
    with pytest.raises(StoreError, match=newer):
        store.runs()
    with pytest.raises(StoreError, match=newer):
        store.get(done)
    with pytest.raises(StoreError, match=newer):
        start(store)
    with pytest.raises(StoreError, match=newer):
        store.mark(done, "failed")
    assert snapshot(store.root) == before


def test_a_store_with_an_older_schema_that_cannot_be_migrated_is_refused(store):
    complete_run(store)
    set_schema_version(store.root, "0")
    before = snapshot(store.root)
    with pytest.raises(
        StoreError, match=r"has store schema 0, which this firesale \(schema 1\) can neither read"
    ):
        store.runs()
    with pytest.raises(StoreError, match=r"has store schema 0"):
        start(store)
    assert snapshot(store.root) == before


def test_an_older_schema_is_migrated_on_first_open(store, monkeypatch):
    done = complete_run(store)

    # A hypothetical schema 2 that adds a column; this firesale (patched to read schema 2) migrates 1 -> 2.
    def add_tags(con):
        con.execute("ALTER TABLE runs ADD COLUMN tags VARCHAR DEFAULT ''")

    monkeypatch.setattr(_catalog, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(_catalog, "_MIGRATIONS", {1: add_tags})
    assert list(store.runs()["id"]) == [done]
    con = duckdb.connect(str(store.root / "catalog.duckdb"), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [("2",)]
    assert con.execute("SELECT id, tags FROM runs").fetchall() == [(done, "")]
    con.close()
    pd.testing.assert_frame_equal(store.get(done).metrics(), metrics_frame())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is not a valid DuckDB database file"),
        (b"PAR1 not a catalog at all" * 100, "is not a valid DuckDB database file"),
    ],
)
def test_a_corrupt_catalog_is_a_store_error_and_is_left_unchanged(tmp_path, content, message):
    (tmp_path / "catalog.duckdb").write_bytes(content)
    store = RunStore(tmp_path)
    before = snapshot(tmp_path)
    expected = (
        rf"The run store catalog .*catalog.duckdb cannot be read: .*{message}.*move the store directory aside"
    )
    with pytest.raises(StoreError, match=expected):
        store.runs()
    with pytest.raises(StoreError, match=expected):
        store.get("2026")
    with pytest.raises(StoreError, match=expected):
        start(store)
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "catalog.lock"} == before


def test_a_duckdb_file_that_is_not_a_catalog_is_a_store_error(tmp_path):
    con = duckdb.connect(str(tmp_path / "catalog.duckdb"))
    con.execute("CREATE TABLE prices (t INTEGER, p DOUBLE)")
    con.close()
    with pytest.raises(StoreError, match=r"cannot be read: it has no 'meta' table"):
        RunStore(tmp_path).runs()
    with pytest.raises(StoreError, match=r"cannot be read: it has no 'meta' table"):
        start(RunStore(tmp_path))


def test_a_catalog_without_a_valid_schema_version_is_a_store_error(store):
    complete_run(store)
    set_schema_version(store.root, "one")
    with pytest.raises(StoreError, match=r"its 'meta' table has no valid schema_version"):
        store.runs()


def test_a_directory_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("my thesis")
    store = RunStore(tmp_path)
    expected = r"is not a firesale run store: it holds other files \(e.g. 'notes.txt'\) and no catalog.duckdb"
    with pytest.raises(StoreError, match=expected):
        store.runs()
    with pytest.raises(StoreError, match=expected):
        start(store)
    assert os.listdir(tmp_path) == ["notes.txt"]
    a_file = tmp_path / "notes.txt"
    with pytest.raises(StoreError, match=r"is a file, not a directory"):
        RunStore(a_file).runs()


def test_run_data_without_a_catalog_is_refused(store):
    complete_run(store)
    (store.root / "catalog.duckdb").unlink()
    with pytest.raises(StoreError, match=r"has run data in .* but no catalog.duckdb. Restore the catalog"):
        store.runs()
    with pytest.raises(StoreError, match=r"but no catalog.duckdb"):
        start(store)


def test_a_held_lock_makes_readers_and_writers_wait_then_time_out(store, monkeypatch):
    import fcntl

    complete_run(store)
    monkeypatch.setattr(_catalog, "LOCK_TIMEOUT_S", 0.2)
    with open(store.root / "catalog.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(StoreError, match=r"Timed out after 0.2 s waiting for the run store lock"):
            store.runs()
        with pytest.raises(StoreError, match=r"Timed out after 0.2 s"):
            start(store)
        fcntl.flock(handle, fcntl.LOCK_UN)
    assert len(store.runs()) == 1


# --- SQL ----------------------------------------------------------------------------------------------------------


def documented_sql() -> str:
    match = re.search(r"\.\. code-block:: sql\n\n(.*?)\n\n", firesale.store.__doc__, re.DOTALL)
    assert match is not None, "firesale.store's docstring lost its SQL example"
    return textwrap.dedent(match.group(1))


def test_the_documented_sql_query_joins_the_catalog_and_the_parquet_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = RunStore("firesale-runs")
    big = start(store, scenario_name="big", seed=2**70, n_paths=6)
    store.finish(big, metrics=metrics_frame(n_paths=6), summary={"p_bad_debt": 0.25}, wall_seconds=3.0)
    small = start(store, scenario_name="small", seed=5, n_paths=4)
    store.finish(
        small,
        metrics=metrics_frame().assign(extra=1.0),  # a column the other run lacks: union_by_name handles it
        summary={"p_bad_debt": 0.75},
        wall_seconds=1.0,
    )
    store.mark(start(store), "failed", "boom")
    start(store)  # still running: its row is listed but joins no files
    con = duckdb.connect()
    try:
        rows = con.sql(documented_sql()).fetchall()
    finally:
        con.close()
    # Expected: one row per complete run, ordered by id, with the seed as decimal text and n_paths rows each.
    assert rows == sorted([(big, "big", str(2**70), 0.25, 6), (small, "small", "5", 0.75, 4)])


def test_a_catalog_attached_in_this_process_blocks_writes_with_a_clear_error(store):
    done = complete_run(store)
    con = duckdb.connect()
    con.execute(f"ATTACH '{store.root / 'catalog.duckdb'}' AS store (READ_ONLY)")
    try:
        assert list(store.runs()["id"]) == [done]  # reading alongside a read-only ATTACH is fine
        with pytest.raises(StoreError, match=r"is already open in this process: .*Close or DETACH your own"):
            start(store)
    finally:
        con.close()
    start(store)


def test_summary_and_parameters_are_json_in_sql(store):
    run_id = start(store, parameters={"shock": -0.4})
    store.finish(
        run_id, metrics=metrics_frame(), summary={"p_bad_debt": 0.5, "x": math.nan}, wall_seconds=1.0
    )
    con = duckdb.connect(str(store.root / "catalog.duckdb"), read_only=True)
    row = con.execute(
        "SELECT parameters ->> '$.shock', summary ->> '$.p_bad_debt', summary ->> '$.x', CAST(seed AS HUGEINT) "
        "FROM runs"
    ).fetchone()
    con.close()
    assert row == ("-0.4", "0.5", None, 7)
