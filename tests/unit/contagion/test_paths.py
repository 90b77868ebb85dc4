"""DebtRank and Eisenberg-Noe on per-path bad debt, hand-cleared, and on a real simulation's metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import firesale
from firesale.contagion import clearing_on_paths, debtrank_on_paths, path_losses, protocol_liability_matrix
from firesale.exceptions import ParameterError
from firesale.scenario import parse_scenario

HERE = Path(__file__).parent
# Protocol a owes protocol b 9,000 (b's accounts hold a's receipt token). Equity (reserves) 50,000 and 20,000.
L = [[0.0, 9_000.0], [0.0, 0.0]]
E = [50_000.0, 20_000.0]


def _metrics(loss_a, loss_b):
    return pd.DataFrame(
        {
            "bad_debt_usd": np.add(loss_a, loss_b),
            "bad_debt_usd_a": loss_a,
            "bad_debt_usd_b": loss_b,
            "bad_debt_usd_a_USDC": loss_a,
        },
        index=pd.RangeIndex(len(loss_a), name="path"),
    )


def test_debtrank_on_paths_by_hand():
    # h(1) = min(1, loss / E): a (0, 0.5, 1), b (0, 0, 0.25). Lambda_ba = 9,000 / 20,000 = 0.45, Lambda_ab = 0.
    # Path 1: h_b = 0.45 * 0.5 = 0.225. Path 2: h_b = min(1, 0.25 + 0.45 * 1) = 0.7.
    # v = E / 70,000 = (5/7, 2/7): R = 2/7 * (h_b - h_b(1)) = (0, 0.0642857.., 0.128571..).
    # Equity lost: path 1 25,000 + 0.225 * 20,000 = 29,500; path 2 50,000 + 0.7 * 20,000 = 64,000.
    m = _metrics([0.0, 25_000.0, 100_000.0], [0.0, 0.0, 5_000.0])
    out = debtrank_on_paths(m, L, E, protocols=["a", "b"])
    assert out.index.equals(m.index)
    np.testing.assert_allclose(out["h_initial_a"], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(out["h_b"], [0.0, 0.225, 0.7], atol=1e-15)
    np.testing.assert_allclose(out["debtrank"], [0.0, 2 / 7 * 0.225, 2 / 7 * 0.45], atol=1e-15)
    np.testing.assert_allclose(out["equity_loss_usd"], [0.0, 29_500.0, 64_000.0], atol=1e-9)
    assert out["defaulted_a"].tolist() == [False, False, True]
    assert out["defaulted_b"].tolist() == [False, False, False]


def test_clearing_on_paths_by_hand():
    # Outside creditors b = (91,000, 30,000): p_bar = (100,000, 30,000); Pi_ab = 0.09.
    # Outside assets before losses: e0_a = 50,000 + 100,000 - 0 = 150,000; e0_b = 20,000 + 30,000 - 9,000 = 41,000.
    # Path 0, no loss: both pay in full; equity (50,000, 20,000).
    # Path 1, a loses 120,000: e_a = 30,000 < 100,000, a defaults in round 1 and pays 30,000; b receives
    #   0.09 * 30,000 = 2,700 and has 41,000 + 2,700 = 43,700 >= 30,000: equity 13,700.
    # Path 2, and b loses 25,000: e_b = 16,000; even with a paying 9,000 in full b has 25,000 < 30,000, so b
    #   defaults in round 1 too and pays 16,000 + 2,700 = 18,700.
    # Path 3, b loses 14,000: e_b = 27,000; round 1: 27,000 + 9,000 >= 30,000; round 2 (a pays 2,700 to b):
    #   29,700 < 30,000, a contagious default, paying 29,700.
    m = _metrics([0.0, 120_000.0, 120_000.0, 120_000.0], [0.0, 0.0, 25_000.0, 14_000.0])
    out = clearing_on_paths(m, L, E, [91_000.0, 30_000.0], protocols=["a", "b"])
    np.testing.assert_allclose(out["payment_usd_a"], [100_000.0, 30_000.0, 30_000.0, 30_000.0], atol=1e-9)
    np.testing.assert_allclose(out["payment_usd_b"], [30_000.0, 30_000.0, 18_700.0, 29_700.0], atol=1e-9)
    np.testing.assert_allclose(out["equity_usd_a"], [50_000.0, 0.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(out["equity_usd_b"], [20_000.0, 13_700.0, 0.0, 0.0], atol=1e-9)
    assert out["default_round_a"].tolist() == [0, 1, 1, 1]
    assert out["default_round_b"].tolist() == [0, 0, 1, 2]
    assert out["n_defaults"].tolist() == [0, 1, 2, 2]
    np.testing.assert_allclose(out["shortfall_usd"], [0.0, 70_000.0, 81_300.0, 70_300.0], atol=1e-9)


def test_on_a_simulation():
    # The column contract with the engine: bad_debt_usd_<protocol> per path, index "path".
    sc = parse_scenario((HERE / "two_lenders.toml").read_text(), source="two_lenders.toml", base_dir=HERE)
    res = firesale.simulate(sc, n_paths=4, seed=0)
    L2 = protocol_liability_matrix(sc, {"aWETH": "alpha"})
    E2 = [p.reserve_usd for p in sc.spec.protocols]
    out = debtrank_on_paths(res.metrics, L2, E2, protocols=["alpha", "beta"])
    loss = res.metrics[["bad_debt_usd_alpha", "bad_debt_usd_beta"]].to_numpy()
    np.testing.assert_allclose(
        out[["h_initial_alpha", "h_initial_beta"]].to_numpy(), np.minimum(1, loss / E2)
    )
    # beta's exposure to alpha is 9,000 against 20,000 of equity: 0.45 of alpha's distress reaches beta.
    expect_b = np.minimum(1, loss[:, 1] / E2[1] + 0.45 * out["h_alpha"].to_numpy())
    np.testing.assert_allclose(out["h_beta"], expect_b, atol=1e-12)
    assert len(out) == 4 and out.index.name == "path"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda m: path_losses(m, ["a", "c"]),
            r"must have a column per protocol; missing \['bad_debt_usd_c'\]",
        ),
        (lambda m: path_losses(m, []), r"'protocols' parameter of path_losses must be a non-empty sequence"),
        (
            lambda m: path_losses(m.to_numpy(), ["a"]),
            r"'metrics' parameter of path_losses must be a pandas DataFrame",
        ),
        (
            lambda m: debtrank_on_paths(m, [[0.0]], E, protocols=["a", "b"]),
            r"must be of shape \(2, 2\) to match",
        ),
        (
            lambda m: debtrank_on_paths(m, L, [1.0, 0.0], protocols=["a", "b"]),
            r"'equity_usd' parameter .* > 0",
        ),
        (
            lambda m: clearing_on_paths(m, L, [50_000.0, 0.0], [0.0, 0.0], protocols=["a", "b"]),
            r"must leave 'b' non-negative outside assets .* Got -9000.0 instead",
        ),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ParameterError, match=match):
        call(_metrics([0.0, 1.0], [0.0, 0.0]))


def test_negative_bad_debt_is_rejected():
    with pytest.raises(
        ParameterError, match=r"must hold finite bad debt >= 0. Got -1.0 in bad_debt_usd_b at row 1"
    ):
        path_losses(_metrics([0.0, 1.0], [0.0, -1.0]), ["a", "b"])
