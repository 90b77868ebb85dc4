"""The command line as a user meets it: exit codes, messages, the store, built-ins that run from anywhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from firesale.cli import main


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


def test_unknown_run_id_is_an_error(tmp_path):
    _run("run", "toy-spiral", "--paths", "2", "--store", str(tmp_path / "r"), "--json")
    result = CliRunner().invoke(main, ["show", "zzzz", "--store", str(tmp_path / "r")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_ctrl_c_stops_cleanly_and_marks_the_run_interrupted(tmp_path):
    store = tmp_path / "runs"
    env = {**os.environ, "FIRESALE_STORE": str(store)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "firesale", "run", "toy-spiral", "--paths", "400000", "--batch-size", "2048"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and not any(store.glob("**/*")):
        time.sleep(0.2)
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    listing = _run("runs", "--store", str(store)).output
    assert "interrupted" in listing


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
