"""The classifier's grades at each boundary, its states, its reasons in words, and its configuration checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from firesale.exceptions import ParameterError
from firesale.monitor import DIMENSIONS, Band, ClassifierConfig, classify, grade, path_indicators
from firesale.monitor.classifier import FAILURE, STABLE, STRESSED


def test_boundaries_where_higher_is_worse():
    # oracle_staleness default band: stressed from 3600 s, failed from 10800 s (inclusive).
    assert grade([3599.0, 3600.0, 10799.0, 10800.0], "oracle_staleness").tolist() == [0, 1, 1, 2]


def test_boundaries_where_lower_is_worse():
    # liquidity default band: stressed at or below 0.5 of the start, failed at or below 0.1.
    assert grade([0.5001, 0.5, 0.1001, 0.1, 0.0], "liquidity").tolist() == [0, 1, 1, 2, 2]
    # volatility cover: model failure at or below 1 (the buffer no longer covers the 99 % move).
    assert grade([2.01, 2.0, 1.0, 0.99], "volatility").tolist() == [0, 1, 2, 2]


@pytest.mark.parametrize("dim", sorted(DIMENSIONS))
def test_every_dimension_grades_its_own_band(dim):
    band = DIMENSIONS[dim].default
    assert grade([band.stressed, band.failure], dim).tolist() == [STRESSED, FAILURE]


def test_nan_is_not_measured_and_grades_nothing():
    c = classify(pd.DataFrame({"liquidity:a": [np.nan, 0.05], "peg:b": [np.nan, np.nan]}))
    assert c.state.tolist() == [STABLE, STRESSED]
    assert c.grades("system")["peg"].tolist() == [-1, -1]


def test_two_failed_system_dimensions_are_systemic_failure():
    frame = pd.DataFrame({
        "liquidity:WETH venues": [1.0, 0.05, 0.05],
        "oracle_deviation:ETH/USD": [0.0, 0.0, 0.2],
    })  # fmt: skip
    c = classify(frame)
    assert c.system_state.tolist() == [0, 1, 2]
    assert c.label(2) == "systemic failure"
    with_one = classify(frame, ClassifierConfig(min_failed_dimensions=1))
    assert with_one.system_state.tolist() == [0, 2, 2]


def test_model_failure_is_graded_apart_from_the_system_table():
    c = classify(pd.DataFrame({"volatility:ETH": [3.0, 1.5, 0.8], "peg:USDC": [0.0, 0.0, 0.0]}))
    assert c.system_state.tolist() == [0, 0, 0]
    assert c.model_state.tolist() == [0, 1, 2]
    assert c.state.tolist() == [0, 1, 2]
    assert c.label(2) == "model failure"


def test_reasons_in_words():
    config = ClassifierConfig(bands={"oracle_staleness": Band(1800, 7200)})
    frame = pd.DataFrame(
        {"liquidity:the WETH venues": [1.0, 0.08], "oracle_staleness:ETH/USD": [60.0, 41 * 60.0]},
        index=pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC"),
    )
    c = classify(frame, config)
    assert c.reasons(frame.index[1]) == [
        "liquidity at 8.0 % of its start on the WETH venues (failed)",
        "oracle ETH/USD 41 min stale (stressed)",
    ]
    assert c.reasons(frame.index[0]) == []
    assert c.first(STRESSED) == frame.index[1]
    assert c.first(FAILURE) is None


def test_system_needs_two_protocols_in_failure():
    failing = pd.DataFrame({"liquidity": [0.05], "margin": [0.9]})
    fine = pd.DataFrame({"liquidity": [0.9], "margin": [0.0]})
    one = classify({"aave": failing, "compound": fine})
    assert one.system_state.tolist() == [STRESSED]
    assert one.reasons(0) == [
        "aave: liquidity at 5.0 % of its start (failed)",
        "aave: 90 % of liquidatable debt could not be liquidated (failed)",
    ]
    both = classify({"aave": failing, "compound": failing})
    assert both.system_state.tolist() == [FAILURE]
    assert classify({"aave": failing}).system_state.tolist() == [FAILURE]  # one protocol: capped at 1


def test_vectorized_over_paths():
    # 3 paths x 4 steps of depth ratio; path 2 never stressed.
    depth = np.array([[1.0, 0.4, 0.05, 0.05], [1.0, 1.0, 0.3, 0.3], [1.0, 0.9, 0.8, 0.7]])
    oracle = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    c = classify({"liquidity:venue": depth, "oracle_deviation:feed": oracle})
    assert c.system_state.tolist() == [[0, 1, 2, 2], [0, 0, 1, 1], [0, 0, 0, 0]]
    assert c.first(STRESSED).tolist() == [1, 2, -1]
    assert c.first(FAILURE).tolist() == [2, -1, -1]
    assert c.reasons(2, path=0)[0] == "liquidity at 5.0 % of its start on venue (failed)"


def test_path_indicators_from_recorded_paths():
    n_paths, n_t = 2, 60
    steps = np.arange(n_t)
    calm = 2000 * np.exp(0.0001 * np.sin(steps))
    crash = calm * np.where(steps >= 40, 0.5, 1.0)
    flags = np.zeros((n_paths, n_t))
    flags[1, 45:] = 1
    paths = {"price_WETH": np.stack([calm, crash]), "flag_liquidity": flags, "flag_oracle": flags,
             "flag_unclearable": np.zeros((n_paths, n_t))}  # fmt: skip
    cols = path_indicators(paths, 3600.0, config=ClassifierConfig(vol_window=5), buffers={"WETH": 0.1})
    c = classify(cols, ClassifierConfig(vol_window=5))
    assert c.state[0].max() == STABLE
    # The 50 % fall at step 40: the 5-step volatility window sees it (model failure); both flags from step 45.
    assert c.model_state[1, 40] == FAILURE
    assert c.system_state[1, 44] == STABLE and c.system_state[1, 45] == FAILURE


def test_config_rejects_thresholds_outside_their_range():
    with pytest.raises(ParameterError, match=r"^The 'liquidity\.failure' parameter of ClassifierConfig must be a "
                       r"float in the range \[0, 1\]\. Got 1\.5 instead\.$"):  # fmt: skip
        ClassifierConfig(bands={"liquidity": Band(0.5, 1.5)})
    with pytest.raises(ParameterError, match=r"The 'liquidity' parameter of ClassifierConfig must be a band with "
                       r"stressed >= failure \(lower is worse\)\. Got Band\(stressed=0\.1, failure=0\.5\) instead\."):  # fmt: skip
        ClassifierConfig(bands={"liquidity": Band(0.1, 0.5)})
    with pytest.raises(
        ParameterError, match=r"The 'bands' parameter of ClassifierConfig must be keyed by dimensions"
    ):
        ClassifierConfig(bands={"luck": Band(0.1, 0.5)})
    with pytest.raises(ParameterError, match=r"The 'var_level' parameter of ClassifierConfig must be a float in "
                       r"the range \(0\.5, 1\)\. Got 1 instead\."):  # fmt: skip
        ClassifierConfig(var_level=1)
    with pytest.raises(ParameterError, match=r"The 'min_failed_dimensions' parameter of ClassifierConfig must be an "
                       r"int in the range \[1, inf\)\. Got 0 instead\."):  # fmt: skip
        ClassifierConfig(min_failed_dimensions=0)


def test_config_accepts_tuples_and_keeps_other_defaults():
    cfg = ClassifierConfig().with_bands(peg=(0.02, 0.08))
    assert cfg.bands["peg"] == Band(0.02, 0.08)
    assert cfg.bands["liquidity"] == DIMENSIONS["liquidity"].default
    assert cfg.to_dict()["bands"]["peg"] == [0.02, 0.08]


def test_unknown_indicator_column_is_rejected():
    with pytest.raises(ParameterError, match=r"The 'indicators' parameter of classify must be columns named"):
        classify(pd.DataFrame({"weather:sunny": [1.0]}))


@pytest.mark.slow  # about 12 s, nearly all Numba compiling the engine's kernels
def test_engine_failure_state_count_is_reproduced_from_its_flags():
    """The engine counts steps with two or more flags; the classifier on the flags alone must agree per path."""
    from firesale.engine import simulate
    from firesale.scenario import load_scenario

    res = simulate(load_scenario("black-thursday-2020"), n_paths=8, seed=3)
    flags = {k: v for k, v in res.paths.items() if k.startswith("flag_")}
    c = classify(path_indicators(flags, res.dt))
    expected = res.metrics["steps_in_failure_state"].to_numpy()
    assert expected.max() > 0
    np.testing.assert_array_equal((c.system_state == FAILURE).sum(axis=1), expected)
