"""Cohorts merge only accounts that behave alike, and the error they introduce is small and measured."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import firesale
from firesale.protocols.cohorts import merge_cohorts
from firesale.scenario import Positions


def test_only_alike_single_pair_accounts_merge():
    # Reserves: WETH (price 2000), USDC (price 1); LT 0.8 everywhere.
    coll = np.array([[10.0, 0], [20.0, 0], [10.0, 0], [10.0, 5.0], [10.0, 0]])
    debt = np.array([[0, 10_000.0], [0, 20_010.0], [0, 14_000.0], [0, 10_000.0], [0, 10_000.0]])
    # HF: 1.6, 1.5992 (same 0.25 % bin as 1.6), 1.143, multi-collateral, 1.6 but in e-mode (kept apart).
    emode = np.array([0, 0, 0, 0, 1])
    pos = Positions(np.array(list("abcde")), coll, debt, emode)
    merged, weight, rows = merge_cohorts(pos, np.full((5, 2), 0.8), np.array([2000.0, 1.0]), 0.0025)
    assert merged.collateral.shape[0] == 4
    assert rows[0] == rows[1]
    assert len({rows[0], rows[2], rows[3], rows[4]}) == 4
    assert weight[rows[0]] == 2
    np.testing.assert_allclose(merged.collateral[rows[0]], [30.0, 0])
    np.testing.assert_allclose(merged.debt[rows[0]], [0, 30_010.0])
    np.testing.assert_allclose(merged.collateral.sum(0), coll.sum(0))  # nothing lost
    np.testing.assert_allclose(merged.debt.sum(0), debt.sum(0))


def test_cohort_error_on_the_toy_world_is_small():
    sc = firesale.load_scenario("toy-spiral")
    sim = sc.spec.simulation.model_copy(update={"cohorts": True, "cohort_bin": 0.0025})
    merged = replace(sc, spec=sc.spec.model_copy(update={"simulation": sim}))
    exact = firesale.simulate(sc, n_paths=2, seed=1).summary()
    approx = firesale.simulate(merged, n_paths=2, seed=1).summary()
    assert approx["liquidated_mean_usd"] == pytest.approx(exact["liquidated_mean_usd"], rel=0.01)
    assert approx["n_liquidations_mean"] == pytest.approx(exact["n_liquidations_mean"], rel=0.05)
    assert approx["bad_debt_mean_usd"] == pytest.approx(exact["bad_debt_mean_usd"], rel=0.05)
