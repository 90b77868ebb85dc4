"""Tests of firesale.store across processes: writers killed with SIGKILL, concurrent writers, foreign readers.

Child processes run the script CHILD below. It pauses a writer at a chosen step (by wrapping a store internal in
the child only) and signals the parent, which then kills it with SIGKILL. Every child is bounded by a deadline.
The data each child writes is a function of the run's parameters (``frame(k)`` below), so the parent checks what
it reads back against values it computes itself, not against what the store reports.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from firesale.exceptions import StoreError
from firesale.store import RunStore
from firesale.store._process import current_writer, writer_is_alive

DEADLINE_S = 60.0  # a bound for hangs, far above the few seconds these tests take
SCENARIO_TEXT = '[scenario]\nname = "crash"\n'
N_PATHS = 5

CHILD = r"""
import hashlib, os, sys, time
from pathlib import Path

import numpy as np
import pandas as pd

from firesale.store import RunStore, _catalog, _files, _store

mode, root, signal_file = sys.argv[1], sys.argv[2], Path(sys.argv[3])
store = RunStore(root)
TEXT = '[scenario]\nname = "crash"\n'
N_PATHS = 5


def frame(k):
    return pd.DataFrame({"x": np.arange(N_PATHS, dtype=float) * k, "k": np.full(N_PATHS, k)})


def signal_parent(pause=True):
    signal_file.write_text(str(os.getpid()))
    if pause:
        time.sleep(120)  # the parent SIGKILLs us here


def start(**parameters):
    return store.start(scenario_name="crash", scenario_hash=hashlib.sha256(TEXT.encode()).hexdigest(),
                       scenario_text=TEXT, seed=1, version="0.1.0", n_paths=N_PATHS, n_steps=3,
                       parameters=parameters)


def finish(run_id, k):
    store.finish(run_id, metrics=frame(k), summary={"p_bad_debt": k / 1000}, series={"s": frame(k + 0.5)},
                 wall_seconds=0.1)


if mode == "after_start":
    start(k=1)
    signal_parent()
elif mode == "temp_file":
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith(".parquet"):
            signal_parent()  # the temporary file is complete; the rename has not happened
        real_replace(src, dst)

    _files.os.replace = replace
    finish(start(k=1), 1)
elif mode == "after_metrics":
    real_write = _store.write_table

    def write(table, path):
        real_write(table, path)
        if path.name == "metrics.parquet":
            signal_parent()  # metrics in place, series not yet written, catalog not updated

    _store.write_table = write
    finish(start(k=1), 1)
elif mode == "before_commit":
    real_connect = _catalog._connect

    class PausingConnection:
        def __init__(self, con):
            self._con = con

        def __getattr__(self, name):
            return getattr(self._con, name)

        def commit(self):
            signal_parent()  # the UPDATE is executed but uncommitted; the flock and DuckDB's lock are held

    run_id = start(k=1)
    _catalog._connect = lambda *args, **kwargs: PausingConnection(real_connect(*args, **kwargs))
    finish(run_id, 1)
elif mode == "loop":
    k = 1
    while True:
        finish(start(k=k), k)
        if k == 1:
            signal_parent(pause=False)  # the parent kills us at a random moment from now on
        k += 1
elif mode == "writer":
    worker, n_runs = int(sys.argv[4]), int(sys.argv[5])
    signal_parent(pause=False)
    for i in range(n_runs):
        k = 100 * worker + i
        finish(start(k=k), k)
elif mode == "hold":
    import duckdb

    con = duckdb.connect(str(Path(root) / "catalog.duckdb"), read_only=True)
    signal_parent(pause=False)
    time.sleep(float(sys.argv[4]))
    con.close()
"""


def frame(k: float) -> pd.DataFrame:
    """What the child stores for parameter ``k`` (same formula as in CHILD)."""
    return pd.DataFrame({"x": np.arange(N_PATHS, dtype=float) * k, "k": np.full(N_PATHS, k)})


@dataclass
class Child:
    process: subprocess.Popen
    signal_file: Path
    stderr: Path
    signalled_at: float | None = None

    def signalled(self) -> bool:
        if self.signalled_at is None and self.signal_file.exists():
            self.signalled_at = time.monotonic()
        return self.signalled_at is not None

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"child exited early with {self.process.returncode}:\n{self.stderr.read_text()}")


def spawn(script: Path, mode: str, root: Path, tag: str, *extra: str) -> Child:
    signal_file = root.parent / f"{tag}.signal"
    stderr = root.parent / f"{tag}.stderr"
    with open(stderr, "w") as err:
        process = subprocess.Popen(
            [sys.executable, str(script), mode, str(root), str(signal_file), *extra],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return Child(process, signal_file, stderr)


def kill_all(children: dict[str, Child], delays: dict[str, float]) -> None:
    """SIGKILL each child ``delays[name]`` seconds after it signals; reap it so its pid is gone."""
    deadline = time.monotonic() + DEADLINE_S
    pending = dict(children)
    try:
        while pending:
            assert time.monotonic() < deadline, f"children {sorted(pending)} never signalled"
            for name, child in list(pending.items()):
                child.check_alive()
                if child.signalled() and time.monotonic() - child.signalled_at >= delays[name]:
                    child.process.send_signal(signal.SIGKILL)
                    child.process.wait(timeout=DEADLINE_S)
                    del pending[name]
            time.sleep(0.005)
    finally:
        for child in pending.values():
            child.process.kill()
            child.process.wait()


def start(store: RunStore, **parameters: float) -> str:
    return store.start(
        scenario_name="crash",
        scenario_hash=hashlib.sha256(SCENARIO_TEXT.encode()).hexdigest(),
        scenario_text=SCENARIO_TEXT,
        seed=1,
        version="0.1.0",
        n_paths=N_PATHS,
        n_steps=3,
        parameters=parameters,
    )


def finish(store: RunStore, run_id: str, k: float) -> None:
    store.finish(
        run_id,
        metrics=frame(k),
        summary={"p_bad_debt": k / 1000},
        series={"s": frame(k + 0.5)},
        wall_seconds=0.1,
    )


def assert_intact(store: RunStore, run_id: str) -> None:
    """A complete run reads back exactly what was written for its ``k``."""
    run = store.get(run_id)
    assert run.status == "complete"
    k = run.parameters["k"]
    assert run.summary == {"p_bad_debt": k / 1000}
    pd.testing.assert_frame_equal(run.metrics(), frame(k))
    pd.testing.assert_frame_equal(run.series("s"), frame(k + 0.5))


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("child") / "child.py"
    path.write_text(CHILD)
    return path


PAUSES = ["after_start", "temp_file", "after_metrics", "before_commit"]
RANDOM_KILL_DELAYS_S = {"loop_a": 0.1, "loop_b": 0.35}


@pytest.fixture(scope="module")
def killed(tmp_path_factory, script) -> dict[str, tuple[RunStore, str]]:
    """One store per scenario, each holding a complete run before a child was killed writing to it.

    All children run at once to keep the module fast; each test below checks one store.
    """
    stores, children, delays = {}, {}, {}
    for name in PAUSES + list(RANDOM_KILL_DELAYS_S):
        root = tmp_path_factory.mktemp(name) / "store"
        store = RunStore(root)
        kept = start(store, k=-7)
        finish(store, kept, -7)
        stores[name] = (store, kept)
        children[name] = spawn(script, "loop" if name.startswith("loop") else name, root, name)
        delays[name] = RANDOM_KILL_DELAYS_S.get(name, 0.0)
    kill_all(children, delays)
    return stores


@pytest.mark.parametrize("pause", PAUSES)
def test_a_writer_killed_at_a_pause_leaves_its_run_incomplete_and_others_intact(killed, pause):
    store, kept = killed[pause]
    listing = store.runs()
    assert len(listing) == 2
    killed_id = listing.loc[listing["id"] != kept, "id"].item()
    assert dict(zip(listing["id"], listing["status"], strict=True)) == {
        killed_id: "incomplete",
        kept: "complete",
    }
    assert_intact(store, kept)
    run = store.get(killed_id)
    assert (run.status, run.summary, run.series_names(), run.ended_at) == ("incomplete", {}, [], None)
    # Leftover files of the dead run are never mistaken for results.
    with pytest.raises(StoreError, match=r"is incomplete, so it has no stored metrics"):
        run.metrics()
    # The store still takes writes: the lock died with the writer and DuckDB replays or drops its log.
    new = start(store, k=3)
    finish(store, new, 3)
    assert_intact(store, new)
    store.mark(killed_id, "failed", "writer was killed")
    assert store.get(killed_id).status == "failed"


@pytest.mark.parametrize("name", sorted(RANDOM_KILL_DELAYS_S))
def test_a_writer_killed_at_a_random_moment_leaves_a_readable_store(killed, name):
    store, kept = killed[name]
    listing = store.runs()
    statuses = dict(zip(listing["id"], listing["status"], strict=True))
    assert statuses.pop(kept) == "complete"
    assert "complete" in statuses.values()  # the child's first run, finished before it signalled
    assert set(statuses.values()) <= {"complete", "incomplete"}
    assert list(statuses.values()).count("incomplete") <= 1  # only the run in progress when killed
    for run_id, status in statuses.items():
        if status == "complete":
            assert_intact(store, run_id)
    assert_intact(store, kept)
    new = start(store, k=3)
    finish(store, new, 3)
    assert_intact(store, new)


def test_concurrent_writer_processes_all_land_intact_while_readers_read(tmp_path, script):
    root = tmp_path / "store"
    n_workers, n_runs = 3, 3
    children = [spawn(script, "writer", root, f"w{w}", str(w), str(n_runs)) for w in range(n_workers)]
    deadline = time.monotonic() + DEADLINE_S
    reads = 0
    try:
        # Read while the writers write: readers must never fail (they queue on the lock).
        while any(child.process.poll() is None for child in children):
            assert time.monotonic() < deadline, "writers did not finish in time"
            listing = RunStore(root).runs()
            assert set(listing["status"]) <= {"running", "complete"}
            reads += 1
            time.sleep(0.02)  # a polling reader, not a busy loop that would crowd the writers out of the lock
    finally:
        for child in children:
            if child.process.poll() is None:
                child.process.kill()
            child.process.wait()
    for child in children:
        assert child.process.returncode == 0, child.stderr.read_text()
    assert reads > 0
    store = RunStore(root)
    listing = store.runs()
    assert len(listing) == n_workers * n_runs
    assert set(listing["status"]) == {"complete"}
    ks = sorted(store.get(run_id).parameters["k"] for run_id in listing["id"])
    assert ks == sorted(100 * w + i for w in range(n_workers) for i in range(n_runs))
    for run_id in listing["id"]:
        assert_intact(store, run_id)


def test_a_foreign_duckdb_reader_makes_writers_wait_not_fail(tmp_path, script):
    root = tmp_path / "store"
    store = RunStore(root)
    finish(store, start(store, k=1), 1)
    hold_s = 0.6
    child = spawn(script, "hold", root, "hold", str(hold_s))
    deadline = time.monotonic() + DEADLINE_S
    try:
        while not child.signalled():
            assert time.monotonic() < deadline
            child.check_alive()
            time.sleep(0.005)
        # Readers coexist with the foreign read-only session; a writer waits until it closes.
        assert len(store.runs()) == 1
        began = time.monotonic()
        run_id = start(store, k=2)
        waited = time.monotonic() - began
        assert child.process.wait(timeout=DEADLINE_S) == 0, child.stderr.read_text()
    finally:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait()
    assert waited > 0.1
    finish(store, run_id, 2)
    assert_intact(store, run_id)


# --- liveness of a run's writer ----------------------------------------------------------------------------------


def test_writer_liveness_follows_the_process():
    pid, host, token = current_writer()
    assert (pid, host) == (os.getpid(), socket.gethostname())
    assert writer_is_alive(pid, host, token)
    # Another host cannot be checked from here, so its runs are taken as alive.
    assert writer_is_alive(pid, host + "-elsewhere", token)
    if token is not None:
        # Same pid, different start time: the pid was reused by a new process.
        assert not writer_is_alive(pid, host, token + "0")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert writer_is_alive(child.pid, host, None)
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + DEADLINE_S
        # Killed but not reaped: a zombie, which is dead for our purposes (where /proc can tell).
        if token is not None:
            while writer_is_alive(child.pid, host, None):
                assert time.monotonic() < deadline
                time.sleep(0.005)
    finally:
        child.kill()
        child.wait()
    assert not writer_is_alive(child.pid, host, None)
