"""Eisenberg-Noe clearing against hand-cleared networks (every round written out)."""

from __future__ import annotations

import numpy as np
import pytest

from firesale.contagion import eisenberg_noe
from firesale.exceptions import ParameterError

# Three nodes A, B, C: A owes B 10, B owes C 8, C owes A 4; operating cash e = (1, 1, 10).
CHAIN_L = [[0.0, 10.0, 0.0], [0.0, 0.0, 8.0], [4.0, 0.0, 0.0]]
CHAIN_E = [1.0, 1.0, 10.0]


def test_two_waves_of_default_by_hand():
    # p_bar = (10, 8, 4); each node owes one creditor, so Pi has a single 1 per row.
    # Round 1, everyone pays in full: A has 1 + 4 = 5 < 10 (defaults), B 1 + 10 = 11 >= 8, C 10 + 8 = 18 >= 4.
    #   Solve with D = {A}: p_A = e_A + p_bar_C = 1 + 4 = 5.
    # Round 2: B has 1 + 5 = 6 < 8 (defaults); C has 10 + 8 >= 4.
    #   Solve with D = {A, B}: p_A = 1 + 4 = 5, p_B = 1 + p_A = 6.
    # Round 3: C has 10 + 6 = 16 >= 4: no new default. p* = (5, 6, 4).
    # Check Phi(p*) = p*: min(10, 1 + 4) = 5, min(8, 1 + 5) = 6, min(4, 10 + 6) = 4.
    r = eisenberg_noe(CHAIN_L, CHAIN_E)
    np.testing.assert_allclose(r.payments, [5.0, 6.0, 4.0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(r.total_liabilities, [10.0, 8.0, 4.0])
    np.testing.assert_array_equal(r.defaulted, [True, True, False])
    assert r.default_round is not None
    np.testing.assert_array_equal(r.default_round, [1, 2, 0])
    # C keeps 10 + 6 - 4 = 12; defaulters keep nothing.
    np.testing.assert_allclose(r.equity, [0.0, 0.0, 12.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.shortfall, [5.0, 2.0, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.recovery, [0.5, 0.75, 1.0], rtol=0, atol=1e-12)
    assert int(r.n_defaults) == 2 and bool(r.converged)


def test_mutual_default_needs_the_joint_solve():
    # A owes B 10; B owes A 10 and outside creditors 10 (pari passu). e = (1, 3).
    # p_bar = (10, 20); Pi_AB = 1, Pi_BA = 0.5 (half of B's payments reach A, half leave the network).
    # Round 1: A has 1 + 0.5 * 20 = 11 >= 10; B has 3 + 10 = 13 < 20 (defaults). p_B = 3 + 10 = 13.
    # Round 2: A has 1 + 0.5 * 13 = 7.5 < 10 (defaults). Jointly: p_A = 1 + 0.5 p_B, p_B = 3 + p_A
    #   => p_A = 2.5 + 0.5 p_A => p_A = 5, p_B = 8. Outside creditors get 0.5 * 8 = 4 of their 10.
    r = eisenberg_noe([[0.0, 10.0], [10.0, 0.0]], [1.0, 3.0], external_liabilities=[0.0, 10.0])
    np.testing.assert_allclose(r.payments, [5.0, 8.0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(r.total_liabilities, [10.0, 20.0])
    assert r.default_round is not None
    np.testing.assert_array_equal(r.default_round, [2, 1])
    np.testing.assert_allclose(r.shortfall, [5.0, 12.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.equity, [0.0, 0.0], atol=1e-12)


def test_solvent_network_pays_in_full():
    # Same chain with enough cash: A has 7 + 4 = 11 >= 10, B 1 + 10 >= 8, C 10 + 8 >= 4.
    # Equity: A 7 + 4 - 10 = 1, B 1 + 10 - 8 = 3, C 10 + 8 - 4 = 14.
    r = eisenberg_noe(CHAIN_L, [7.0, 1.0, 10.0])
    np.testing.assert_array_equal(r.payments, [10.0, 8.0, 4.0])
    np.testing.assert_array_equal(r.defaulted, [False, False, False])
    np.testing.assert_allclose(r.equity, [1.0, 3.0, 14.0], atol=1e-12)


def test_greatest_clearing_vector_without_regularity():
    # A and B owe each other 5 and have no cash: every p = (x, x), 0 <= x <= 5, clears (EN's regularity fails).
    # The greatest one is full payment, the debts netting out: nobody defaults.
    r = eisenberg_noe([[0.0, 5.0], [5.0, 0.0]], [0.0, 0.0])
    np.testing.assert_array_equal(r.payments, [5.0, 5.0])
    np.testing.assert_array_equal(r.defaulted, [False, False])


def test_leading_axes_are_paths():
    # Path 0: the two-wave case; path 1: the solvent case; path 2: no cash at all:
    #   round 1: A has 0 + 4 < 10 (defaults), B 0 + 10 >= 8, C 0 + 8 >= 4; p_A = 0 + 4 = 4;
    #   round 2: B has 0 + 4 < 8 (defaults), C 0 + 8 >= 4; p_B = 0 + p_A = 4;
    #   round 3: C has 0 + 4 >= 4, just solvent. p* = (4, 4, 4).
    e = np.array([CHAIN_E, [7.0, 1.0, 10.0], [0.0, 0.0, 0.0]])
    r = eisenberg_noe(CHAIN_L, e)
    np.testing.assert_allclose(r.payments, [[5.0, 6.0, 4.0], [10.0, 8.0, 4.0], [4.0, 4.0, 4.0]], atol=1e-12)
    assert r.default_round is not None
    np.testing.assert_array_equal(r.default_round, [[1, 2, 0], [0, 0, 0], [1, 2, 0]])
    np.testing.assert_array_equal(r.n_defaults, [2, 0, 2])
    r2 = eisenberg_noe(CHAIN_L, np.stack([e, e[::-1]]))
    assert r2.payments.shape == (2, 3, 3) and r2.converged.shape == (2, 3)
    np.testing.assert_allclose(r2.payments[1], r.payments[::-1], atol=1e-12)


def test_fixed_point_iteration_reaches_the_same_vectors():
    r = eisenberg_noe(CHAIN_L, CHAIN_E, method="fixed_point")
    np.testing.assert_allclose(r.payments, [5.0, 6.0, 4.0], atol=1e-10)
    assert r.default_round is None and bool(r.converged)
    r = eisenberg_noe(
        [[0.0, 10.0], [10.0, 0.0]], [1.0, 3.0], external_liabilities=[0.0, 10.0], method="fixed_point"
    )
    np.testing.assert_allclose(r.payments, [5.0, 8.0], atol=1e-10)


def test_random_networks_clear_by_definition():
    # The result must be a fixed point of Phi(p) = min(p_bar, e + Pi^T p) and, being the greatest, match the
    # monotone iteration from p_bar.
    rng = np.random.default_rng(11)
    n = 6
    L = rng.uniform(0, 10, (n, n)) * (rng.uniform(size=(n, n)) < 0.6)
    np.fill_diagonal(L, 0.0)
    b = rng.uniform(0, 5, n)
    e = rng.uniform(0, 8, (64, n))
    r = eisenberg_noe(L, e, external_liabilities=b)
    p_bar = L.sum(axis=1) + b
    pi = np.divide(L, p_bar[:, None], out=np.zeros_like(L), where=p_bar[:, None] > 0)
    np.testing.assert_allclose(np.minimum(p_bar, e + r.payments @ pi), r.payments, rtol=0, atol=1e-11)
    assert r.defaulted.any() and not r.defaulted.all()
    fp = eisenberg_noe(L, e, external_liabilities=b, method="fixed_point")
    np.testing.assert_allclose(fp.payments, r.payments, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"liabilities": [[0.0, -1.0], [0.0, 0.0]]},
            r"'liabilities' parameter of eisenberg_noe must be finite and >= 0",
        ),
        ({"liabilities": [[1.0, 0.0], [0.0, 0.0]]}, r"zero on the diagonal .* Got 1.0 at \[0, 0\] instead"),
        ({"liabilities": [[0.0, 1.0]]}, r"must be a square array of shape \(n, n\)"),
        ({"external_assets": [1.0, 2.0, 3.0]}, r"'external_assets' parameter .* shape \(\.\.\., 2\)"),
        (
            {"external_assets": [1.0, np.nan]},
            r"'external_assets' parameter .* finite and >= 0 everywhere. Got nan instead",
        ),
        ({"method": "lp"}, r"'method' parameter of eisenberg_noe must be one of"),
        (
            {"tol": -1.0},
            r"The 'tol' parameter of eisenberg_noe must be a float in the range \[0, inf\). Got -1.0",
        ),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"liabilities": [[0.0, 1.0], [1.0, 0.0]], "external_assets": [1.0, 1.0]} | kwargs
    with pytest.raises(ParameterError, match=match):
        eisenberg_noe(args.pop("liabilities"), args.pop("external_assets"), **args)


def test_more_operating_cash_never_lowers_payments():
    # EN's comparative statics: the greatest clearing vector is non-decreasing in e.
    rng = np.random.default_rng(5)
    n = 5
    L = rng.uniform(0, 10, (n, n))
    np.fill_diagonal(L, 0.0)
    e = rng.uniform(0, 6, (200, n))
    lo = eisenberg_noe(L, e).payments
    hi = eisenberg_noe(L, e + rng.uniform(0, 2, e.shape)).payments
    assert np.all(hi >= lo - 1e-12)
