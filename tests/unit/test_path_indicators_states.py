"""The classifier per step on simulated paths: shares of paths in each state, the median path, its reasons, and the
``firesale classify`` command on a stored run. Series are made by hand; states follow from the documented bands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from firesale.cli import main
from firesale.exceptions import ParameterError
from firesale.monitor import ClassifierConfig
from firesale.monitor._run_states import heartbeats_of, run_states


def _paths() -> dict[str, np.ndarray]:
    # 4 paths x 5 steps. Default bands: margin (unserved share) stressed >= 0.01, failed >= 0.5; oracle deviation
    # stressed >= 0.02, failed >= 0.10; staleness stressed >= 3600 s, failed >= 10800 s.
    share = np.array(
        [[0, 0.0, 0.5, 0.6, 0.0], [0, 0.01, 0.5, 0.6, 0.0], [0, 0.0, 0.0, 0.6, 0.0], [0, 0.0, 0.0, 0.0, 0.0]]
    )
    dev = np.array(
        [[0, 0.0, 0.10, 0.10, 0.0], [0, 0.0, 0.0, 0.10, 0.0], [0, 0.02, 0.02, 0.10, 0.0], [0, 0, 0, 0.0, 0.0]]
    )
    return {"unserved_share": share, "oracle_deviation_eth": dev, "staleness_eth": np.zeros((4, 5))}


def test_shares_of_paths_in_each_state_by_step():
    rs = run_states((_paths(), 600.0))
    # Per path and step: failure when margin and oracle deviation both fail (two system dimensions at once),
    # stressed when either is stressed or failed.
    #   step 1: path 1 margin 0.01 stressed, path 2 deviation 0.02 stressed -> 2 stressed, 2 stable
    #   step 2: path 0 both failed -> failure; path 1 margin failed -> stressed; path 2 deviation stressed
    #   step 3: paths 0-2 both failed -> failure; path 3 stable
    assert rs.source == "paths"
    assert rs.shares["stable"].tolist() == [1.0, 0.5, 0.25, 0.25, 1.0]
    assert rs.shares["stressed"].tolist() == [0.0, 0.5, 0.5, 0.0, 0.0]
    assert rs.shares["failure"].tolist() == [0.0, 0.0, 0.25, 0.75, 0.0]
    assert rs.shares["time_s"].tolist() == [0.0, 600.0, 1200.0, 1800.0, 2400.0]
    # The median path: the worst state at least half the paths are in.
    assert rs.median_state.tolist() == [0, 1, 1, 2, 0]
    assert (rs.first_stressed, rs.first_failure) == (1, 3)
    # Reasons of the medians: each indicator's ceil(n / 2)-th worst value, stressed exactly when at least half of
    # the paths are on it. At step 1 no indicator is (margin on path 1, deviation on path 2: the state combines
    # them), so the reasons say which dimensions are, on how many paths; at step 3 both are failed at the median.
    assert rs.reasons_stressed == [
        "share of liquidations that could not clear stressed or worse on 25 % of paths",
        "oracle distance from market stressed or worse on 25 % of paths",
    ]
    assert rs.reasons_failure == [
        "60 % of liquidatable accounts could not be liquidated (failed)",
        "oracle eth 10 % off the market (failed)",
    ]
    # How many paths each dimension grades stressed or worse, and failed, at the first failure step.
    shares = {d: (s, f) for d, s, f in rs.dimension_shares["failure"]}
    assert shares["margin"] == (0.75, 0.75) and shares["oracle_deviation"] == (0.75, 0.75)
    assert rs.summary()[:2] == [
        "median path stressed from step 1 (10 min): share of liquidations that could not clear stressed or worse "
        "on 25 % of paths; oracle distance from market stressed or worse on 25 % of paths",
        "median path in failure from step 3 (30 min): 60 % of liquidatable accounts could not be liquidated "
        "(failed); oracle eth 10 % off the market (failed)",
    ]


def test_thresholds_move_the_boundaries():
    # Raise margin's stressed threshold just above 0.01: step 1 keeps only path 2 stressed (deviation 0.02).
    cfg = ClassifierConfig(bands={"margin": (0.011, 0.5)})
    rs = run_states((_paths(), 600.0), config=cfg)
    assert rs.shares["stressed"].tolist()[1] == 0.25
    assert rs.median_state.tolist() == [0, 0, 1, 2, 0]  # step 2: 3 of 4 paths not stable
    # A failure threshold of exactly 0.6 keeps step 3 failed (inclusive); 0.61 does not.
    assert (
        run_states((_paths(), 600.0), config=ClassifierConfig(bands={"margin": (0.01, 0.6)})).first_failure
        == 3
    )
    late = run_states((_paths(), 600.0), config=ClassifierConfig(bands={"margin": (0.01, 0.61)}))
    assert late.first_failure is None and late.median_state.tolist() == [0, 1, 1, 1, 0]


def test_heartbeats_of_a_scenario_and_bad_thresholds():
    oracles = [
        {"name": "eth", "type": "push", "heartbeat": 3600},
        {"name": "osm", "type": "delayed", "delay": 3600},
        {"name": "usdc", "type": "push", "heartbeat": 86400},
        {"name": "spot", "type": "market"},
    ]
    assert heartbeats_of(oracles) == {"eth": 3600.0, "osm": 3600.0, "usdc": 86400.0}
    with pytest.raises(ParameterError) as exc:
        ClassifierConfig(bands={"oracle_staleness": (-1.0, 10.0)})
    assert str(exc.value) == (
        "The 'oracle_staleness.stressed' parameter of ClassifierConfig must be a float in the range [0, inf). "
        "Got -1.0 instead."
    )
    with pytest.raises(ParameterError) as exc:
        ClassifierConfig(bands={"slippage": (0.2, 0.1)})
    assert str(exc.value) == (
        "The 'slippage' parameter of ClassifierConfig must be a band with stressed <= failure (higher is worse). "
        "Got Band(stressed=0.2, failure=0.1) instead."
    )
    with pytest.raises(
        ParameterError, match=r"^The 'source' parameter of run_states must be a SimulationResult"
    ):
        run_states({"unserved_share": np.zeros((1, 2))})


TOY = "toy-spiral"


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """toy-spiral with the graded series recorded, run and stored from the command line."""
    root = tmp_path_factory.mktemp("store")
    runner = CliRunner()
    text = runner.invoke(main, ["scenarios", TOY]).output
    rec = '["price", "bad_debt", "liquidated", "rounds", "flags", "slippage", "staleness", "oracle_deviation", "unserved"]'
    text = "\n".join(
        f"record = {rec}" if line.startswith("record = ") else line for line in text.splitlines()
    )
    path = root / "toy.toml"
    path.write_text(text)
    assert runner.invoke(main, ["validate", str(path)]).exit_code == 0
    res = runner.invoke(main, ["run", str(path), "--paths", "16", "--seed", "3", "--store", str(root / "s")])
    assert res.exit_code == 0, res.output
    run_id = res.output.split("run id: ")[1].split()[0]
    return runner, root / "s", run_id, path


def test_classify_a_stored_run_from_the_command_line(stored):
    runner, store, run_id, _ = stored
    res = runner.invoke(main, ["classify", run_id, "--store", str(store), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["source"] == "medians" and out["shares"] is not None and len(out["shares"]) == 25
    # toy-spiral's linear crash is the same on every path: each share is 0 or 1, and the stored median state
    # (from every path) agrees with the one graded from the stored medians.
    states = [row["median_state"] for row in out["shares"]]
    assert states == out["median_state"]
    assert {row["stable"] for row in out["shares"]} <= {0.0, 1.0}
    # USDC's feed has a 24 h heartbeat and never moves: never stale past it, so no oracle reason.
    assert not any("usdc" in r for r in out["reasons_stressed"])
    text = runner.invoke(main, ["classify", run_id, "--store", str(store)]).output
    assert "Failure state of run" in text and "median path" in text


def test_classify_refuses_bad_input_with_a_message(stored):
    runner, store, run_id, _ = stored
    bad = runner.invoke(main, ["classify", run_id, "--store", str(store), "--band", "margin=0.5"])
    assert bad.exit_code == 2
    assert (
        "--band: must be DIMENSION=STRESSED,FAILURE" in bad.output
        and "Got 'margin=0.5' instead." in bad.output
    )
    out = runner.invoke(main, ["classify", run_id, "--store", str(store), "--band", "margin=0.5,1.5"])
    assert out.exit_code == 2
    assert (
        "The 'margin.failure' parameter of ClassifierConfig must be a float in the range [0, 1]. Got 1.5 instead."
        in out.output
    )


def test_a_run_recording_nothing_graded_stores_no_states(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["run", TOY, "--paths", "4", "--store", str(tmp_path)])
    assert res.exit_code == 0, res.output
    from firesale.store import RunStore

    run = RunStore(tmp_path).get(res.output.split("run id: ")[1].split()[0])
    assert "states" not in run.series_names()
