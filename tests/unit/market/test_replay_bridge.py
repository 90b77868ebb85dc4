"""A replay on a finer grid than its data: a seeded Brownian bridge pinned to every print."""

from __future__ import annotations

import numpy as np
import pytest

from firesale.exceptions import ParameterError
from firesale.market import Replay

HOUR = 3600.0


def _replay(**kw):
    times = np.arange(5) * HOUR
    prices = np.array([[100.0, 1.0], [110.0, 1.0], [99.0, 0.98], [105.0, 1.0], [100.0, 1.01]])
    return Replay(("A", "B"), times, prices, interpolation="bridge", **kw), prices


def test_the_bridge_hits_every_print_on_every_path_and_moves_between_them():
    model, prices = _replay()
    rel = model.simulate(400, 48, 300.0, np.random.default_rng(1))  # 5-minute steps over hourly prints
    on_prints = rel[:, ::12, :]
    np.testing.assert_allclose(on_prints, np.broadcast_to(prices / prices[0], on_prints.shape), rtol=1e-12)
    assert rel[:, 6, 0].std() > 0  # between prints the paths differ


def test_the_bridge_variance_is_that_of_a_brownian_bridge():
    # Mean squared hourly log-return of A: c^2; at the middle of an hour the bridge's variance is c^2 * s (1 - s)
    # with s = 1/2, around the geometric midpoint of the two prints.
    model, prices = _replay()
    r = np.diff(np.log(prices[:, 0]))
    c2 = np.mean(r**2)
    rel = model.simulate(20_000, 48, 300.0, np.random.default_rng(2))
    mid = np.log(rel[:, 6, 0])  # 30 minutes into the first hour
    assert mid.mean() == pytest.approx(0.5 * r[0], abs=4 * np.sqrt(c2 / 4 / 20_000))
    assert mid.var() == pytest.approx(c2 / 4, rel=0.05)


def test_the_bridge_is_seeded():
    model, _ = _replay()
    a = model.simulate(8, 24, 300.0, np.random.default_rng(3))
    b = model.simulate(8, 24, 300.0, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_the_bridge_refuses_uneven_prints_and_a_start_between_them():
    with pytest.raises(ParameterError, match="'bridge' only over evenly spaced observations"):
        Replay(("A",), np.array([0.0, 3600.0, 5000.0]), np.array([1.0, 1.1, 1.2]), interpolation="bridge")
    with pytest.raises(ParameterError, match="one of the observation times"):
        _replay(start=1800.0)
