"""DebtRank (original and linear) against small networks propagated by hand, round by round."""

from __future__ import annotations

import numpy as np
import pytest

from firesale.contagion import debtrank, impact_matrix
from firesale.exceptions import ParameterError

# Two nodes with equity 10 each, each having lent the other 5: impact Lambda_01 = Lambda_10 = 5 / 10 = 0.5.
CYCLE_L = [[0.0, 5.0], [5.0, 0.0]]
CYCLE_E = [10.0, 10.0]


def test_impact_matrix_is_exposure_over_equity():
    # liabilities[j, i] is what j owes i = i's exposure to j; impact[i, j] = exposure / E_i.
    # Node 0 owes node 1 6 (node 1's exposure, 6 / 3 = 2); node 1 owes node 0 1 (node 0's, 1 / 4 = 0.25).
    np.testing.assert_allclose(impact_matrix([[0.0, 6.0], [1.0, 0.0]], [4.0, 3.0]), [[0.0, 0.25], [2.0, 0.0]])


def test_original_debtrank_on_a_cycle_propagates_each_node_once():
    # h(1) = (0.2, 0); states (D, U).
    # t=1: distressed {0}: h_1 = 0 + 0.5 * 0.2 = 0.1; h_0 unchanged (1 is not distressed yet). States (I, D).
    # t=2: distressed {1}: h_0 = 0.2 + 0.5 * 0.1 = 0.25. States (I, I): nobody left to propagate.
    r = debtrank(CYCLE_L, CYCLE_E, [0.2, 0.0], method="original", history=True)
    np.testing.assert_allclose(r.h, [0.25, 0.1], rtol=0, atol=1e-15)
    assert r.n_rounds == 2 and bool(r.converged)
    assert r.history is not None
    np.testing.assert_allclose(r.history, [[0.2, 0.0], [0.2, 0.1], [0.25, 0.1]], atol=1e-15)
    # Equal equity: v = (0.5, 0.5). H = 0.5 * 0.35 = 0.175, H(1) = 0.1, R = 0.075.
    np.testing.assert_allclose(r.relative_equity_loss, 0.175, atol=1e-15)
    np.testing.assert_allclose(r.debtrank, 0.075, atol=1e-15)


def test_linear_debtrank_on_a_cycle_keeps_reverberating():
    # Increments bounce: dh(1) = (0.2, 0), dh(2) = (0, 0.1), dh(3) = (0.05, 0), dh(4) = (0, 0.025), ...
    # so h_0 = 0.2 (1 + 1/4 + 1/16 + ...) = 0.2 / 0.75 = 4/15 and h_1 = 0.1 / 0.75 = 2/15,
    # more than the original's (0.25, 0.1): the underestimation Bardoscia et al. (2015) correct.
    r = debtrank(CYCLE_L, CYCLE_E, [0.2, 0.0], method="linear", history=True)
    np.testing.assert_allclose(r.h, [4 / 15, 2 / 15], rtol=0, atol=1e-12)
    assert r.history is not None
    np.testing.assert_allclose(
        r.history[:5], [[0.2, 0], [0.2, 0.1], [0.25, 0.1], [0.25, 0.125], [0.2625, 0.125]]
    )
    # R = 0.5 * (4/15 + 2/15) - 0.5 * 0.2 = 0.2 - 0.1 = 0.1.
    np.testing.assert_allclose(r.debtrank, 0.1, atol=1e-12)
    assert bool(r.converged) and not r.defaulted.any()


def test_acyclic_chain_gives_the_same_answer_both_ways():
    # Node 2 owes node 1 4, node 1 owes node 0 10; equity (20, 10, 5).
    # Lambda_12 = 4 / 10 = 0.4, Lambda_01 = 10 / 20 = 0.5. Node 2 defaults: h(1) = (0, 0, 1).
    # t=1: h_1 = 0.4 * 1 = 0.4. t=2: h_0 = 0.5 * 0.4 = 0.2. Final (0.2, 0.4, 1).
    # v = E / 35: H = (20 * 0.2 + 10 * 0.4 + 5 * 1) / 35 = 13/35; R = 13/35 - 5/35 = 8/35.
    L = [[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 4.0, 0.0]]
    for method in ("original", "linear"):
        r = debtrank(L, [20.0, 10.0, 5.0], [0.0, 0.0, 1.0], method=method)
        np.testing.assert_allclose(r.h, [0.2, 0.4, 1.0], atol=1e-15)
        np.testing.assert_allclose(r.debtrank, 8 / 35, atol=1e-15)
        np.testing.assert_array_equal(r.defaulted, [False, False, True])
        # Round 3: node 0 (original: newly distressed; linear: its increment 0.2) passes on to nobody.
        assert r.n_rounds == 3


def test_impact_above_one_is_capped_only_in_the_original():
    # Node 1 has lent 30 to node 0 with equity 10: Lambda_10 = 3. Node 0 loses half its equity.
    # Linear: h_1 = min(1, 3 * 0.5) = 1, node 1 is wiped out. Original: W_10 = min(1, 3) = 1, h_1 = 0.5.
    L = [[0.0, 30.0], [0.0, 0.0]]
    lin = debtrank(L, [10.0, 10.0], [0.5, 0.0], method="linear")
    org = debtrank(L, [10.0, 10.0], [0.5, 0.0], method="original")
    np.testing.assert_allclose(lin.h, [0.5, 1.0])
    np.testing.assert_allclose(org.h, [0.5, 0.5])
    assert lin.defaulted.tolist() == [False, True]


def test_linear_fixed_point_is_the_resolvent_when_stable():
    # Bardoscia et al.: with spectral radius of Lambda < 1 and no cap binding, h(inf) = (I - Lambda)^-1 h(1).
    L = np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [2.0, 1.0, 0.0]])
    E = np.array([20.0, 15.0, 25.0])
    h1 = np.array([0.05, 0.0, 0.1])
    lam = L.T / E[:, None]
    assert np.max(np.abs(np.linalg.eigvals(lam))) < 1
    r = debtrank(L, E, h1)
    np.testing.assert_allclose(r.h, np.linalg.solve(np.eye(3) - lam, h1), rtol=0, atol=1e-11)


def test_weights_and_path_axis():
    shocks = np.array([[0.2, 0.0], [0.0, 0.2], [0.0, 0.0]])
    r = debtrank(CYCLE_L, CYCLE_E, shocks, method="original", weights=[3.0, 1.0])
    np.testing.assert_allclose(r.h, [[0.25, 0.1], [0.1, 0.25], [0.0, 0.0]], atol=1e-15)
    # v = (0.75, 0.25): path 0 R = 0.75 * 0.05 + 0.25 * 0.1 = 0.0625; path 1 R = 0.75 * 0.1 + 0.25 * 0.05 = 0.0875.
    np.testing.assert_allclose(r.debtrank, [0.0625, 0.0875, 0.0], atol=1e-15)
    assert r.converged.tolist() == [True, True, True]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"shock": [1.5, 0.0]},
            r"'shock' parameter of debtrank must be a relative equity loss in the range \[0, 1\]",
        ),
        (
            {"equity": [10.0, 0.0]},
            r"'equity' parameter of debtrank must be > 0 .* Got 0.0 at index 1 instead",
        ),
        ({"method": "nonlinear"}, r"'method' parameter of debtrank must be one of 'linear', 'original'"),
        ({"weights": [0.0, 0.0]}, r"'weights' parameter of debtrank must have a positive sum"),
        ({"max_rounds": 0}, r"'max_rounds' parameter of debtrank must be an int in the range \[1, inf\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"liabilities": CYCLE_L, "equity": CYCLE_E, "shock": [0.1, 0.0]} | kwargs
    with pytest.raises(ParameterError, match=match):
        debtrank(args.pop("liabilities"), args.pop("equity"), args.pop("shock"), **args)


def test_systemic_impact_of_each_node_with_an_identity_shock():
    # Battiston et al.'s R_i: node i alone defaults (h_i(1) = 1), one row per node. On the chain above:
    # node 0 defaults: nobody lent to it, R = 0; node 1: h_0 = 0.5 * 1 = 0.5, R = 20 * 0.5 / 35 = 10/35;
    # node 2: R = 8/35 as computed above.
    L = [[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 4.0, 0.0]]
    r = debtrank(L, [20.0, 10.0, 5.0], np.eye(3), method="original")
    np.testing.assert_allclose(r.debtrank, [0.0, 10 / 35, 8 / 35], atol=1e-15)


def test_capped_impact_matches_network_risk_measures():
    # NetworkRiskMeasures (carloscinelli/NetworkRiskMeasures, tests/testthat/tests.R at 492c20205c86) pins the
    # DebtRank vulnerability matrix min(1, L[i, j] / buffer[j]) (how hard j is hit when i defaults) of this
    # six-node network. Their data owes F 5 to itself; a clearing network has no self-claims, so that entry
    # (and its 0.5 on the diagonal of their result) is left out here. Ours is the transpose, impact[j, i].
    # Rows and columns in their order: A, B, C, E, F, D.
    liabilities = np.array(
        [
            [0, 5, 0, 0, 10, 2],
            [0, 0, 3, 0, 2, 0],
            [0, 0, 0, 4, 0, 0],
            [0, 0, 0, 0, 0, 0],
            [0, 0, 2, 5, 0, 0],
            [0, 2, 2, 0, 0, 0],
        ],
        dtype=float,
    )
    buffer = np.array([10, 2, 2, 1, 10, 4], dtype=float)
    expected = np.array(
        [
            [0, 1, 0, 0, 1, 0.5],
            [0, 0, 1, 0, 0.2, 0],
            [0, 0, 0, 1, 0, 0],
            [0, 0, 0, 0, 0, 0],
            [0, 0, 1, 1, 0, 0],
            [0, 1, 1, 0, 0, 0],
        ]
    )
    np.testing.assert_allclose(np.minimum(1.0, impact_matrix(liabilities, buffer)).T, expected)
