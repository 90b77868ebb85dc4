"""Streamed runs: per-step summaries instead of every path, the same metrics, and the memory check before a run."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest

from firesale.engine._summaries import ALPHA, MIN_ABS, QUANTILES, SeriesSummary, merge_into, summarize
from firesale.engine.seeding import BLOCK_SIZE
from firesale.engine.simulate import estimate_memory, simulate
from firesale.exceptions import ParameterError, ScenarioError
from firesale.scenario import load_scenario

sim_module = importlib.import_module("firesale.engine.simulate")


def _summary(values: np.ndarray, batch: int = BLOCK_SIZE) -> SeriesSummary:
    total: dict[str, SeriesSummary] = {}
    for lo in range(0, values.shape[0], batch):
        merge_into(total, summarize({"x": values[lo : lo + batch]}, lo))
    return total["x"]


def _assert_within(got: np.ndarray, exact: np.ndarray) -> None:
    # The documented bound: relative ALPHA of the exact quantile, or MIN_ABS absolute near zero.
    assert np.all(np.abs(got - exact) <= ALPHA * np.abs(exact) + MIN_ABS), np.max(np.abs(got / exact - 1))


def test_quantiles_are_within_the_documented_tolerance_of_numpys():
    rng = np.random.default_rng(3)
    n, steps = 1000, 12
    # Losses: most paths none, a lognormal tail spanning decades; prices: lognormal around 2000.
    loss = np.where(rng.uniform(size=(n, steps)) < 0.7, 0.0, rng.lognormal(8, 3, (n, steps))).astype(
        np.float32
    )
    price = (2000 * rng.lognormal(0, 0.2, (n, steps))).astype(np.float32)
    for values in (loss, price):
        s = _summary(values)
        _assert_within(s.quantiles(QUANTILES), np.quantile(values.astype(np.float64), QUANTILES, axis=0))
        np.testing.assert_allclose(s.mean(), values.mean(axis=0, dtype=np.float64), rtol=1e-12)


def test_negative_values_constant_columns_and_nan_follow_numpy():
    rng = np.random.default_rng(5)
    values = rng.normal(0, 50, (700, 4))  # both signs
    values[:, 1] = -3.25  # constant: every quantile is the value itself (clamped to the exact min and max)
    s = _summary(values)
    q = s.quantiles(QUANTILES)
    _assert_within(q[:, [0, 2, 3]], np.quantile(values[:, [0, 2, 3]], QUANTILES, axis=0))
    assert np.all(q[:, 1] == -3.25)
    values[10, 2] = np.nan
    q = _summary(values).quantiles((0.5,))
    assert np.isnan(q[0, 2]) and np.isnan(np.quantile(values[:, 2], 0.5))
    assert not np.isnan(q[0, [0, 1, 3]]).any()


def test_summaries_do_not_depend_on_batching_or_merge_order():
    rng = np.random.default_rng(7)
    values = rng.lognormal(0, 1, (5 * BLOCK_SIZE + 17, 6))
    a, b = _summary(values, BLOCK_SIZE), _summary(values, 3 * BLOCK_SIZE)
    parts = [summarize({"x": values[lo : lo + BLOCK_SIZE]}, lo) for lo in range(0, len(values), BLOCK_SIZE)]
    c: dict[str, SeriesSummary] = {}
    for part in reversed(parts):
        merge_into(c, part)
    for other in (b, c["x"]):
        assert np.array_equal(a.quantiles(), other.quantiles())
        assert np.array_equal(a.mean(), other.mean())
    with pytest.raises(ValueError, match="block 0 was already added"):
        a.add(values[:BLOCK_SIZE], 0)


def test_a_streamed_run_has_the_same_metrics_and_close_series():
    kept = simulate("toy-spiral", n_paths=300, seed=4, n_steps=4, keep_paths=True)
    streamed = simulate("toy-spiral", n_paths=300, seed=4, n_steps=4, keep_paths=False, batch_size=256)
    assert not kept.streamed and streamed.streamed and streamed.paths == {}
    pd.testing.assert_frame_equal(kept.metrics, streamed.metrics)
    assert kept.summary() == streamed.summary()
    a, b = kept.series, streamed.series
    assert list(a.columns) == list(b.columns) and (a["variable"] == b["variable"]).all()
    np.testing.assert_allclose(b["mean"], a["mean"], rtol=1e-6)  # float32 paths averaged in another order
    for p in ("p05", "p25", "p50", "p75", "p95"):
        exact = a[p].to_numpy(dtype=float)
        _assert_within(b[p].to_numpy(dtype=float), exact)
    # A streamed run's series do not depend on the batch size either.
    again = simulate("toy-spiral", n_paths=300, seed=4, n_steps=4, keep_paths=False, batch_size=512)
    pd.testing.assert_frame_equal(streamed.series, again.series)


def test_large_runs_stream_by_default(monkeypatch):
    monkeypatch.setattr(sim_module, "KEEP_PATHS_BYTES", 0)
    assert simulate("toy-spiral", n_paths=3, seed=1, n_steps=2).streamed
    assert not simulate("toy-spiral", n_paths=3, seed=1, n_steps=2, keep_paths=True).streamed
    with pytest.raises(
        ParameterError, match="'keep_paths' parameter of simulate must be None, True or False"
    ):
        simulate("toy-spiral", n_paths=3, keep_paths="no")  # type: ignore[arg-type]


def test_a_run_that_would_not_fit_is_refused_before_it_starts(monkeypatch):
    sc = load_scenario("toy-spiral")
    need = estimate_memory(sc, 300, keep_paths=True)
    calls: list[float] = []
    # The rule: refused when the estimate exceeds 80 % of the available memory.
    monkeypatch.setattr(sim_module, "_available_memory", lambda: int(need / 0.8) - 1)
    with pytest.raises(ScenarioError, match="too many paths for memory"):
        simulate(sc, n_paths=300, keep_paths=True, progress=calls.append)
    assert calls == []  # nothing ran
    monkeypatch.setattr(sim_module, "_available_memory", lambda: int(need / 0.8) + 1024)
    assert simulate(sc, n_paths=300, keep_paths=True, n_steps=2).n_paths == 300


def test_streaming_bounds_the_estimate():
    sc = load_scenario("aave-v3-today")
    # Kept series grow with the paths: each path keeps 20 variables x 289 steps x 4 bytes.
    kept = estimate_memory(sc, 100_000, keep_paths=True) - estimate_memory(sc, 50_000, keep_paths=True)
    assert kept >= 50_000 * 20 * 289 * 4
    streamed = estimate_memory(sc, 100_000, keep_paths=False)
    # Streamed, the extra paths add their metrics rows and summaries' block sums: under a tenth of their series.
    assert streamed - estimate_memory(sc, 10_000, keep_paths=False) < 90_000 * 20 * 289 * 4 / 10
    assert streamed < 2 * 2**30  # issue 18: 100,000 flagship paths in at most 2 GiB


def test_a_distributed_streamed_run_equals_simulate(monkeypatch):
    from firesale.dist import run_simulation

    monkeypatch.setattr(sim_module, "KEEP_PATHS_BYTES", 0)  # both stream
    sc = sim_module._with_steps(load_scenario("toy-spiral"), 4)
    direct = simulate(sc, n_paths=300, seed=2)
    chunked, _ = run_simulation(sc, n_paths=300, seed=2, chunk_blocks=1)
    assert direct.streamed and chunked.streamed
    pd.testing.assert_frame_equal(direct.metrics, chunked.metrics)
    pd.testing.assert_frame_equal(direct.series, chunked.series)


@pytest.mark.slow  # rendering a whole report: about 15 s on a busy machine
def test_a_streamed_report_draws_quantiles(tmp_path):
    from firesale.report import write_report
    from firesale.report._view import as_view

    run = simulate("toy-spiral", n_paths=20, seed=3, keep_paths=False)
    view = as_view(run)
    assert view.paths is None and view.variable("bad_debt") is not None
    assert write_report(run, tmp_path / "r.html").exists()


def test_the_cli_refuses_with_the_same_rule_before_a_row_is_stored(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from firesale.cli import main

    monkeypatch.setattr(sim_module, "_available_memory", lambda: 1000)  # 1 kB: no run fits
    store = tmp_path / "s"
    result = CliRunner().invoke(main, ["run", "toy-spiral", "--paths", "3", "--store", str(store)])
    assert result.exit_code == 2
    assert result.output.startswith("toy-spiral: simulation.n_paths: too many paths for memory: about ")
    assert not store.exists()


def test_the_cli_streams_a_large_run_and_stores_its_quantiles(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from firesale.cli import main
    from firesale.store import RunStore

    monkeypatch.setattr(sim_module, "KEEP_PATHS_BYTES", 0)  # every run is "large"
    store = tmp_path / "s"
    args = ["run", "toy-spiral", "--paths", "300", "--steps", "4", "--store", str(store), "--json"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    stored = RunStore(store).get(json.loads(result.output)["run_id"])
    series = stored.series("series")
    assert set(series["variable"]) >= {"bad_debt", "price_WETH"} and len(stored.metrics()) == 300
    assert (series.groupby("variable")["step"].count() == 5).all()  # steps 0..4
