"""The command line as a user meets it: exit codes, messages, the store, built-ins that run from anywhere."""

from __future__ import annotations

import json
import signal

import pytest
from click.testing import CliRunner

from firesale import cli
from firesale.cli import main
from firesale.data import datasets
from firesale.report._format import money
from firesale.store import RunStore


def _run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_scenarios_lists_builtins_with_a_description():
    result = _run("scenarios")
    assert result.exit_code == 0
    lines = dict(line.split("\t", 1) for line in result.output.strip().splitlines())
    assert "toy-spiral" in lines
    assert lines["toy-spiral"].startswith("Toy world")


def test_a_printed_builtin_validates_and_runs_from_another_directory(tmp_path, monkeypatch):
    text = _run("scenarios", "toy-spiral").output
    (tmp_path / "elsewhere").mkdir()
    path = tmp_path / "elsewhere" / "mine.toml"
    path.write_text(text)
    monkeypatch.chdir(tmp_path)
    assert _run("validate", str(path)).output.strip() == f"{path}: ok"
    result = _run("run", str(path), "--paths", "3", "--store", str(tmp_path / "store"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["summary"]["n_paths"] == 3


def test_unknown_builtin_is_an_input_error():
    result = CliRunner().invoke(main, ["scenarios", "nope"])
    assert result.exit_code == 2
    assert "no built-in scenario of that name" in result.output


def test_invalid_file_exits_2_with_one_line_per_problem_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        _run("scenarios", "toy-spiral")
        .output.replace("n_steps = 24", "n_steps = 0")
        .replace("price = 2000.0", "price = nan")
    )
    result = CliRunner().invoke(main, ["run", str(bad), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        f"{bad}: simulation.n_steps: input should be greater than 0, got 0",
        f"{bad}: assets.WETH.price: must be a finite number, got nan",
    ]
    assert "Traceback" not in result.output
    assert not (tmp_path / "s").exists()  # nothing ran, nothing stored


def test_validate_reports_each_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == 2
    assert result.output.startswith(f"{bad}: TOML syntax error:")


def test_bad_option_values_exit_2():
    assert CliRunner().invoke(main, ["run", "toy-spiral", "--paths", "0"]).exit_code == 2
    assert CliRunner().invoke(main, ["run", "toy-spiral", "--seed", "-1"]).exit_code == 2


def test_schema_is_json_schema():
    schema = json.loads(_run("schema").output)
    assert schema["title"] == "ScenarioSpec"
    assert {"simulation", "assets", "market", "protocols"} <= set(schema["properties"])


def test_run_store_list_and_show(tmp_path):
    store = str(tmp_path / "runs")
    out = _run("run", "toy-spiral", "--paths", "4", "--seed", "9", "--store", store, "--json").output
    payload = json.loads(out)
    run_id = payload["run_id"]
    listing = _run("runs", "--store", store).output
    assert run_id[:12] in listing
    shown = json.loads(_run("show", run_id[:15], "--store", store, "--json").output)
    assert shown["meta"]["status"] == "complete"
    assert shown["summary"]["bad_debt_mean_usd"] == payload["summary"]["bad_debt_mean_usd"]


def test_store_from_environment(tmp_path):
    store = tmp_path / "envstore"
    result = _run("run", "toy-spiral", "--paths", "2", "--json", env={"FIRESALE_STORE": str(store)})
    assert result.exit_code == 0
    assert store.exists()


def test_calibrate_prints_a_fragment_that_validates(tmp_path):
    import tomllib

    import numpy as np

    from firesale.data import load_prices
    from firesale.market.spec import validate_market

    out = tmp_path / "market.toml"
    result = CliRunner().invoke(
        main,
        [
            "calibrate",
            "firesale-data:eth_btc_1h_2019-2024",
            "--columns",
            "ETH=WETH",
            "--model",
            "gbm",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    market = tomllib.loads(out.read_text())["market"]
    spec = validate_market(market)
    # Independent: annualised std of hourly log returns (365-day year).
    prices = load_prices("firesale-data:eth_btc_1h_2019-2024")["ETH"].dropna()
    expected = np.log(prices).diff().dropna().std() * np.sqrt(365 * 24)
    assert spec.vol["WETH"] == pytest.approx(expected, rel=0.02)


def test_calibrate_rejects_unknown_columns():
    result = CliRunner().invoke(
        main, ["calibrate", "firesale-data:eth_btc_1h_2019-2024", "--columns", "DOGE"]
    )
    assert result.exit_code == 2
    assert "missing ['DOGE']" in result.output


def test_run_with_report_and_report_of_a_stored_run(tmp_path):
    store = str(tmp_path / "runs")
    html = tmp_path / "out" / "r.html"
    result = _run("run", "toy-spiral", "--paths", "8", "--store", store, "--report", str(html), "--json")
    assert result.exit_code == 0, result.output
    assert html.read_text().lstrip().lower().startswith("<!doctype html>")
    run_id = json.loads(result.stdout)["run_id"]
    again = tmp_path / "again.html"
    result = _run("report", run_id[:15], "-o", str(again), "--compare", run_id, "--store", store)
    assert result.exit_code == 0, result.output
    assert again.exists()
    assert "paths" in result.output  # the summary in words


# ---- output paths are checked before anything runs ------------------------------------------------------------


def test_report_path_under_a_file_fails_before_the_run(tmp_path):
    (tmp_path / "afile").write_text("x")
    bad = tmp_path / "afile" / "r.html"
    result = CliRunner().invoke(
        main, ["run", "toy-spiral", "--store", str(tmp_path / "s"), "--report", str(bad)]
    )
    assert result.exit_code == 2
    assert result.output == (
        f"--report: must be a file under folders, but '{tmp_path / 'afile'}' is a file, got '{bad}'\n"
    )
    assert not (tmp_path / "s").exists()  # nothing ran, nothing stored


def test_report_output_and_png_dir_are_checked_before_writing(tmp_path):
    store = str(tmp_path / "s")
    run_id = json.loads(_run("run", "toy-spiral", "--paths", "2", "--store", store, "--json").output)[
        "run_id"
    ]
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("x")
    result = CliRunner().invoke(main, ["report", run_id, "-o", str(tmp_path / "folder"), "--store", store])
    assert result.exit_code == 2
    assert (
        f"Invalid value for '-o' / '--output': File '{tmp_path / 'folder'}' is a directory." in result.output
    )
    result = CliRunner().invoke(
        main,
        [
            "report",
            run_id,
            "-o",
            str(tmp_path / "r.html"),
            "--png-dir",
            str(tmp_path / "afile"),
            "--store",
            store,
        ],
    )
    assert result.exit_code == 2
    assert f"Invalid value for '--png-dir': Directory '{tmp_path / 'afile'}' is a file." in result.output
    assert not (tmp_path / "r.html").exists()


def test_calibrate_checks_dates_and_output_first():
    result = CliRunner().invoke(
        main, ["calibrate", "firesale-data:eth_btc_1h_2019-2024", "--start", "2022-13-45"]
    )
    assert result.exit_code == 2
    assert result.output == (
        "--start: must be an ISO 8601 date or time in UTC (e.g. 2022-05-01 or 2022-05-01T12:00), got '2022-13-45'\n"
    )
    result = CliRunner().invoke(
        main,
        ["calibrate", "firesale-data:eth_btc_1h_2019-2024", "--start", "2023-01-02", "--end", "2023-01-01"],
    )
    assert result.exit_code == 2
    assert result.output == "--start: must not be after --end (2023-01-01), got '2023-01-02'\n"


def test_calibrate_window_is_applied(tmp_path):
    # 2023-01-01 00:00 to 2023-01-03 23:00 inclusive: 72 hourly prices.
    result = CliRunner().invoke(
        main,
        ["calibrate", "firesale-data:eth_btc_1h_2019-2024", "--columns", "ETH=WETH", "--model", "gbm",
         "--start", "2023-01-01", "--end", "2023-01-03T23:00", "-o", str(tmp_path / "m.toml")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())
    assert "gbm fit: 72 prices, 2023-01-01 00:00:00+00:00 to 2023-01-03 23:00:00+00:00" in words


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("v = " + "[" * 600 + "]" * 600 + "\n", "arrays"),
        ("[" + ".".join(["a"] * 1000) + "]\nx = 1\n", "tables"),
    ],
)
def test_deeply_nested_files_are_input_errors(tmp_path, text, what):
    bad = tmp_path / f"{what}.toml"
    bad.write_text(text)
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == 2
    assert result.output == (
        f"{bad}: nesting: arrays and tables must nest at most a few hundred levels deep, got deeper\n"
    )


# ---- run sizes --------------------------------------------------------------------------------------------------


def test_too_many_paths_are_refused_before_a_row_is_stored(tmp_path):
    store = tmp_path / "s"
    # toy-spiral records 5 series of 25 steps for 2 assets: 1e9 paths need about 1.2 TiB, more than this machine.
    result = CliRunner().invoke(main, ["run", "toy-spiral", "--paths", "1e9", "--store", str(store)])
    assert result.exit_code == 2
    assert result.output.startswith("toy-spiral: simulation.n_paths: too many paths for memory: about ")
    assert result.output.endswith(" available; lower --paths or the recorded series, got 1000000000\n")
    assert not store.exists()
    result = CliRunner().invoke(main, ["run", "toy-spiral", "--paths", "1.5", "--store", str(store)])
    assert result.exit_code == 2
    assert (
        "Invalid value for '--paths': must be a whole number such as 10000 or 1e4, got '1.5'" in result.output
    )


# ---- Ctrl-C at a known point (no timing: the test seam raises SIGINT where it is called) ------------------------


def _sigint_at(stage: str):
    def checkpoint(where: str) -> None:
        if where == stage:
            signal.raise_signal(signal.SIGINT)

    return checkpoint


def test_ctrl_c_while_loading_exits_130_without_aborted(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_checkpoint", _sigint_at("load"))
    result = CliRunner().invoke(main, ["run", "toy-spiral", "--store", str(tmp_path / "s")])
    assert result.exit_code == 130
    assert result.output == "interrupted\n"
    assert "Aborted!" not in result.output
    assert not (tmp_path / "s").exists()


def test_ctrl_c_during_the_run_marks_it_interrupted_and_show_says_so(tmp_path, monkeypatch):
    store = str(tmp_path / "s")
    monkeypatch.setattr(cli, "_checkpoint", _sigint_at("simulate"))
    result = CliRunner().invoke(main, ["run", "toy-spiral", "--paths", "4", "--store", store])
    assert result.exit_code == 130
    assert "interrupted; run " in result.output and " marked interrupted" in result.output
    monkeypatch.undo()
    (run_id,) = RunStore(store).runs()["id"]
    shown = _run("show", run_id, "--store", store).output.splitlines()
    assert shown[1] == "interrupted: stopped by the user (Ctrl-C)"


# ---- the store from the command line ------------------------------------------------------------------------------


def _started(store: str, **kw) -> str:
    return RunStore(store).start(
        scenario_name="x", scenario_hash="0" * 64, scenario_text="", seed=1, version="0", n_paths=2, n_steps=1,
        parameters={}, **kw,
    )  # fmt: skip


def test_unknown_and_ambiguous_run_ids_exit_2_naming_no_function(tmp_path):
    store = str(tmp_path / "r")
    a, b = _started(store), _started(store)
    result = CliRunner().invoke(main, ["show", "zzzz", "--store", store])
    assert result.exit_code == 2
    assert (
        result.output
        == f"RUN_ID: no run matching 'zzzz' in the run store {store}; `firesale runs` lists them\n"
    )
    result = CliRunner().invoke(main, ["report", "2", "--store", store])
    assert result.exit_code == 2
    assert (
        result.output
        == f"RUN_ID: '2' matches 2 runs ({', '.join(sorted([a, b]))}); give more characters of the id\n"
    )
    RunStore(store).mark(a, "failed", "boom")
    result = CliRunner().invoke(main, ["report", a, "--store", store])
    assert result.exit_code == 2
    assert result.output == (
        f"RUN_ID: run {a} is failed, and only a complete run has a report; `firesale show {a}` says why\n"
    )


def test_show_says_why_a_run_failed(tmp_path):
    store = str(tmp_path / "r")
    run_id = _started(store)
    RunStore(store).mark(run_id, "failed", "x.toml: simulation.n_paths: too many paths for memory")
    lines = _run("show", run_id, "--store", store).output.splitlines()
    assert lines[1] == "failed: x.toml: simulation.n_paths: too many paths for memory"
    meta = json.loads(_run("show", run_id, "--store", store, "--json").output)["meta"]
    assert meta["why"] == "x.toml: simulation.n_paths: too many paths for memory"


def test_runs_fit_80_columns_without_truncating_figures(tmp_path):
    store = str(tmp_path / "runs")
    payload = json.loads(
        _run("run", "toy-spiral", "--paths", "4", "--seed", "9", "--store", store, "--json").output
    )
    result = _run("runs", "--store", store, env={"COLUMNS": "80"})
    lines = result.output.rstrip("\n").splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].split() == ["id", "scenario", "status", "seed", "paths", "bad", "debt"]
    expected = [
        payload["run_id"],
        "toy-spiral",
        "complete",
        "9",
        "4",
        money(payload["summary"]["bad_debt_mean_usd"]),
    ]
    assert lines[1].split() == expected
    assert "…" not in result.output


def test_delete_runs_and_the_temporary_files_a_killed_write_left(tmp_path):
    store = str(tmp_path / "r")
    run_id = json.loads(_run("run", "toy-spiral", "--paths", "2", "--store", store, "--json").output)[
        "run_id"
    ]
    failed = _started(store)
    RunStore(store).mark(failed, "failed", "boom")
    folder = RunStore(store).get(run_id).path
    (folder / ".metrics.parquet.dead1234.tmp").write_bytes(b"torn")  # what a write killed mid-way leaves
    result = CliRunner().invoke(main, ["delete", run_id, "--store", store])
    assert result.exit_code == 2
    assert (
        result.output == "--yes: deleting 1 run(s) without a terminal to confirm needs --yes, got no --yes\n"
    )
    result = _run("delete", run_id, "--yes", "--store", store)
    assert result.output == f"deleted {run_id}\n"
    assert not folder.exists()
    assert list(RunStore(store).runs()["id"]) == [failed]
    assert _run("delete", "--unfinished", "-y", "--store", store).output == f"deleted {failed}\n"
    assert RunStore(store).runs().empty


def test_finishing_a_run_sweeps_temporary_files_of_an_earlier_killed_write(tmp_path):
    store = RunStore(tmp_path / "r")
    run_id = _started(str(tmp_path / "r"))
    folder = tmp_path / "r" / "runs" / f"run_id={run_id}"
    folder.mkdir(parents=True)
    (folder / ".metrics.parquet.0badcafe.tmp").write_bytes(b"torn")
    import pandas as pd

    store.finish(run_id, metrics=pd.DataFrame({"bad_debt_usd": [0.0, 1.0]}), summary={}, wall_seconds=0.0)
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.parquet"]


def test_data_lists_the_shipped_datasets():
    result = _run("data")
    assert result.exit_code == 0
    names = [line.split("\t")[0] for line in result.output.splitlines()]
    assert names == list(datasets()["name"])
    assert "eth_btc_1h_2019-2024\t1h\t2019-01-01 to 2024-02-25\t" in result.output
    detail = _run("data", "eth_btc_1h_2019-2024").output.splitlines()
    assert "columns: ETH, BTC" in detail
    assert detail[-1] == "use in a scenario as: firesale-data:eth_btc_1h_2019-2024"
    result = CliRunner().invoke(main, ["data", "nope"])
    assert result.exit_code == 2
    assert result.output.startswith("NAME: must be a shipped dataset (eth_10min_2020-03-12, ")


# ---- compare on common random numbers -----------------------------------------------------------------------------


def test_compare_identical_scenarios_differs_by_exactly_zero(tmp_path):
    # The same scenario on the same seed draws the same paths, so every paired difference is 0 with a zero-width
    # interval; treated as independent runs the interval could not be zero-width.
    out = _run(
        "compare", "toy-spiral", "toy-spiral", "--paths", "6", "--store", str(tmp_path / "s"), "--json"
    )
    payload = json.loads(out.output)
    assert payload["n_paths"] == 6 and payload["seed"] == 7
    assert payload["scenario_differences"] == []
    for row in payload["differences"]:
        assert row["paired"] is True
        assert (row["delta"], row["ci_low"], row["ci_high"]) == (0.0, 0.0, 0.0), row
    assert len(RunStore(tmp_path / "s").runs()) == 2


def test_compare_lists_the_changed_keys_and_writes_the_report(tmp_path):
    text = _run("scenarios", "toy-spiral").output
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(text)
    b.write_text(text.replace("depth_usd = 5e6", "depth_usd = 5e7"))
    html = tmp_path / "ab.html"
    result = _run(
        "compare", str(a), str(b), "--paths", "4", "--store", str(tmp_path / "s"), "--report", str(html)
    )
    assert result.exit_code == 0, result.output
    assert (
        "Scenario keys that differ (A -> B):\n  venues.cex-weth.depth_usd: 5000000.0 -> 50000000.0\n"
        in result.output
    )
    assert "B - A on common random numbers" in result.output
    assert "venues.cex-weth.depth_usd" in html.read_text()
