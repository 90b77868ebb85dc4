"""Risk statistics of a loss sample, against hand calculations."""

from __future__ import annotations

import numpy as np
import pytest

from firesale.results import expected_shortfall, value_at_risk


def test_expected_shortfall_takes_the_worst_share():
    losses = np.arange(100.0)  # 0..99: the worst 1 % is the single path at 99
    assert expected_shortfall(losses, 0.99) == 99.0
    assert expected_shortfall(losses, 0.95) == pytest.approx((95 + 96 + 97 + 98 + 99) / 5)
    assert expected_shortfall(np.arange(10.0), 0.99) == 9.0  # at least one observation


def test_value_at_risk_is_the_quantile():
    assert value_at_risk(np.arange(101.0), 0.99) == pytest.approx(99.0)


def test_series_quantiles_are_numpys_and_a_hand_count():
    """The per-step quantiles of kept paths: numpy's linear rule, here on 5 paths by hand (p25 of 0..4 is the
    order statistic at 1.0, p05 interpolates 0.2 of the way from 0 to 1), and bit for bit numpy's on unsorted,
    tied and NaN columns."""
    from firesale.results import SimulationResult

    rng = np.random.default_rng(3)
    hand = np.array([[3.0], [0.0], [4.0], [1.0], [2.0]]) * 10
    mixed = rng.lognormal(size=(257, 6))
    mixed[:, 1] = 0.0
    mixed[::7, 2] = -0.0
    mixed[5, 3] = np.nan
    mixed[:, 4] = rng.integers(0, 3, 257)
    result = SimulationResult(scenario=None, seed=0, n_paths=5, version="", metrics=None,  # type: ignore[arg-type]
                              paths={"hand": hand, "mixed": mixed}, dt=60.0)  # fmt: skip
    s = result.series.set_index(["variable", "step"])
    assert s.loc[("hand", 0), ["p05", "p25", "p50", "p75", "p95"]].tolist() == [2.0, 10.0, 20.0, 30.0, 38.0]
    assert s.loc[("hand", 0), "mean"] == 20.0
    want = np.quantile(mixed, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    got = s.loc["mixed", ["p05", "p25", "p50", "p75", "p95"]].to_numpy().T
    np.testing.assert_array_equal(got, want)
