"""Deterministic shocks, against paths computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from firesale.exceptions import ParameterError
from firesale.market import Shock

RNG = np.random.default_rng(0)


def _path(shock, n_steps, dt, asset=0):
    return shock.simulate(2, n_steps, dt, np.random.default_rng(0))[0, :, asset].tolist()


def test_instant_drop():
    # 40 % drop at t = 2 h, sampled hourly: right-continuous, so the 2 h point already has the drop.
    s = Shock(assets=("WETH",), depth=0.4, start=7200.0)
    assert _path(s, 4, 3600.0) == pytest.approx([1.0, 1.0, 0.6, 0.6, 0.6])


def test_linear_crash():
    # From 1 to 0.5 between t = 600 s and t = 1800 s, sampled every 300 s: slope 0.5 / 1200 per second.
    s = Shock(assets=("WETH",), depth=0.5, shape="linear", start=600.0, duration=1200.0)
    expected = [1.0, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.5, 0.5]
    assert _path(s, 8, 300.0) == pytest.approx(expected, rel=1e-12)


def test_v_shape_full_recovery():
    # Down 30 % over 1 h from t = 0, then back to 1 over 2 h; sampled every 30 min.
    s = Shock(assets=("A",), depth=0.3, shape="v", duration=3600.0, recovery=7200.0)
    expected = [1.0, 0.85, 0.7, 0.775, 0.85, 0.925, 1.0, 1.0]
    assert _path(s, 7, 1800.0) == pytest.approx(expected, rel=1e-12)


def test_v_shape_partial_recovery_and_vertical_fall():
    # Flash crash: -60 % at t = 12 s, then half of the fall (0.3) regained over 48 s; one-block steps.
    s = Shock(assets=("A",), depth=0.6, shape="v", start=12.0, recovery=48.0, recovery_fraction=0.5)
    expected = [1.0, 0.4, 0.475, 0.55, 0.625, 0.7, 0.7]
    assert _path(s, 6, 12.0) == pytest.approx(expected, rel=1e-12)


def test_per_asset_parameters():
    s = Shock(
        assets=("A", "B", "C"),
        depth=(0.5, 0.2, 0.0),
        shape="linear",
        start=(0.0, 3600.0, 0.0),
        duration=3600.0,
    )
    x = s.simulate(3, 3, 1800.0, RNG)
    np.testing.assert_allclose(x[0, :, 0], [1.0, 0.75, 0.5, 0.5], rtol=1e-12)
    np.testing.assert_allclose(x[0, :, 1], [1.0, 1.0, 1.0, 0.9], rtol=1e-12)
    np.testing.assert_allclose(x[0, :, 2], [1.0, 1.0, 1.0, 1.0], rtol=1e-12)
    assert (x == x[:1]).all()  # identical on every path


def test_negative_depth_is_a_rise():
    s = Shock(assets=("USDT",), depth=-0.027)  # USDT traded at 1.027 in March 2023 (PROVENANCE.md)
    assert _path(s, 1, 60.0) == pytest.approx([1.027, 1.027])


def test_flat_asset_needs_no_recovery_time():
    s = Shock(assets=("A", "B"), depth=(0.5, 0.0), shape="v", duration=60.0, recovery=(60.0, 0.0))
    x = s.simulate(1, 3, 60.0, RNG)
    np.testing.assert_allclose(x[0, :, 1], 1.0)
    np.testing.assert_allclose(x[0, :, 0], [1.0, 0.5, 1.0, 1.0], rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"depth": 1.0},
            r"The 'depth' parameter of Shock must be a finite float in the range \(-inf, 1\) for asset 'A'\. Got 1\.0",
        ),
        (
            {"depth": 0.5, "shape": "crash"},
            r"The 'shape' parameter of Shock must be one of 'drop', 'linear', 'v'\. Got 'crash'",
        ),
        (
            {"depth": 0.5, "duration": 60.0},
            r"The 'duration' parameter of Shock must be 0 for shape 'drop' \(use shape 'linear'\)",
        ),
        (
            {"depth": 0.5, "shape": "linear", "duration": 60.0, "recovery": 60.0},
            r"The 'recovery' parameter of Shock must be 0 unless shape is 'v'",
        ),
        (
            {"depth": 0.5, "shape": "v", "duration": 60.0},
            r"The 'recovery' parameter of Shock must be > 0 for shape 'v' for asset 'A'\. Got 0\.0",
        ),
        (
            {"depth": 0.5, "start": -1.0},
            r"The 'start' parameter of Shock must be a finite float in the range \[0, inf\)",
        ),
        (
            {"depth": 0.5, "shape": "v", "recovery": 60.0, "recovery_fraction": 1.5},
            r"The 'recovery_fraction' parameter of Shock must be a finite float in the range \[0, 1\]",
        ),
        (
            {"depth": 0.5, "recovery_fraction": 0.5},
            r"The 'recovery_fraction' parameter of Shock must be left at 1\.0 unless shape is 'v'",
        ),
    ],
)
def test_bad_shocks(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        Shock(assets=("A",), **kwargs)
