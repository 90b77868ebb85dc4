"""Parameter checks: the error template, correlation matrices, simulate's arguments."""

from __future__ import annotations

import numpy as np
import pytest

from firesale.exceptions import ParameterError
from firesale.market import GBM, GarchT, MertonJump, RegimeSwitching
from firesale.market._validation import correlation_factor

RNG = np.random.default_rng(0)


def test_negative_vol_uses_the_template():
    with pytest.raises(
        ParameterError,
        match=r"^The 'vol' parameter of GBM must be a finite float in the range \(0, inf\) for asset 'WBTC'\. "
        r"Got -0\.1 instead\.$",
    ):
        GBM(assets=("WETH", "WBTC"), vol=(0.8, -0.1))


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (float("nan"), r"a finite float in the range \(0, inf\) for asset 'WETH'\. Got nan"),
        (float("inf"), r"a finite float in the range \(0, inf\) for asset 'WETH'\. Got inf"),
        ("0.8", r"a float or a sequence of 1 floats \(one per asset\)\. Got '0\.8'"),
        (True, r"a float or a sequence of 1 floats \(one per asset\)\. Got True"),
        (None, r"a float or a sequence of 1 floats \(one per asset\)\. Got None"),
    ],
)
def test_vol_must_be_a_finite_number(bad, rule):
    with pytest.raises(ParameterError, match=r"The 'vol' parameter of GBM must be " + rule):
        GBM(assets=("WETH",), vol=bad)


def test_per_asset_length_is_checked():
    with pytest.raises(
        ParameterError,
        match=r"The 'vol' parameter of GBM must be a float or a sequence of 2 floats \(one per asset\)\. "
        r"Got a sequence of 3 instead\.",
    ):
        GBM(assets=("A", "B"), vol=(0.1, 0.2, 0.3))


def test_scalar_broadcasts_to_every_asset():
    m = GBM(assets=("A", "B", "C"), vol=0.5)
    assert m.vol == (0.5, 0.5, 0.5)
    assert m.drift == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("assets", [(), ("A", "A"), ("A", ""), "AB"])
def test_assets_must_be_distinct_names(assets):
    with pytest.raises(ParameterError, match=r"The 'assets' parameter of GBM must be a non-empty sequence"):
        GBM(assets=assets, vol=0.5)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1.0, 0.5]], r"must be a 2 x 2 matrix\. Got shape \(1, 2\) instead"),
        (
            [[1.0, float("nan")], [float("nan"), 1.0]],
            r"must be a matrix of finite entries\. Got nan at \[0, 1\]",
        ),
        ([[0.9, 0.5], [0.5, 1.0]], r"must be a matrix with a unit diagonal\. Got 0\.9 at \[0, 0\]"),
        ([[1.0, 1.2], [1.2, 1.0]], r"must be a matrix with entries in \[-1, 1\]\. Got 1\.2 at \[0, 1\]"),
        ([[1.0, 0.5], [0.4, 1.0]], r"must be symmetric\. Got 0\.5 at \[0, 1\] but 0\.4 at \[1, 0\] instead"),
    ],
)
def test_correlation_problems_are_named(matrix, message):
    with pytest.raises(ParameterError, match=r"The 'correlation' parameter of GBM " + message):
        GBM(assets=("A", "B"), vol=0.5, correlation=matrix)


def test_correlation_must_be_positive_semi_definite():
    # Pairwise 0.9, 0.9 and -0.9 cannot hold together. By hand, v = (-1, 1, 1): v'Mv = 3 + 2 * (-0.9 - 0.9 - 0.9)
    # = -2.4 and v'v = 3, so M v = -0.8 v: the smallest eigenvalue is -0.8.
    m = [[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]]
    assert np.linalg.eigvalsh(m)[0] == pytest.approx(-0.8)
    with pytest.raises(
        ParameterError,
        match=r"The 'correlation' parameter of GBM must be positive semi-definite\. Got a matrix whose smallest "
        r"eigenvalue is -0\.8 instead\.",
    ):
        GBM(assets=("A", "B", "C"), vol=0.5, correlation=m)


def test_singular_correlation_is_accepted_and_factored():
    # Perfect correlation is positive semi-definite but not definite: Cholesky fails, the eigen factor works.
    m = np.array([[1.0, 1.0], [1.0, 1.0]])
    a = correlation_factor(m)
    np.testing.assert_allclose(a @ a.T, m, atol=1e-12)
    x = GBM(assets=("A", "B"), vol=0.5, correlation=m).simulate(3, 5, 60.0, np.random.default_rng(1))
    np.testing.assert_allclose(x[..., 0], x[..., 1], rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"n_paths": 0},
            r"The 'n_paths' parameter of GBM\.simulate must be an int in the range \[1, inf\)\. Got 0",
        ),
        ({"n_paths": 2.0}, r"The 'n_paths' parameter of GBM\.simulate must be an int"),
        ({"n_steps": 0}, r"The 'n_steps' parameter of GBM\.simulate must be an int in the range \[1, inf\)"),
        (
            {"dt": 0.0},
            r"The 'dt' parameter of GBM\.simulate must be a finite float in the range \(0, inf\)\. Got 0\.0",
        ),
        ({"dt": float("inf")}, r"The 'dt' parameter of GBM\.simulate must be a finite float"),
        (
            {"rng": 42},
            r"The 'rng' parameter of GBM\.simulate must be a numpy\.random\.Generator\. Got an? int instead",
        ),
    ],
)
def test_simulate_arguments(kwargs, message):
    args = {"n_paths": 2, "n_steps": 3, "dt": 12.0, "rng": np.random.default_rng(0), **kwargs}
    with pytest.raises(ParameterError, match=message):
        GBM(assets=("A",), vol=0.5).simulate(**args)


def test_legacy_global_state_is_rejected():
    with pytest.raises(ParameterError, match=r"Got a RandomState instead"):
        GBM(assets=("A",), vol=0.5).simulate(1, 1, 12.0, np.random.RandomState(0))


def test_garch_stationarity_message():
    with pytest.raises(
        ParameterError,
        match=r"The 'beta' parameter of GarchT must be < 1 - alpha = 0\.9 for asset 'A' \(stationarity: "
        r"alpha \+ beta < 1\)\. Got 0\.95 instead\.",
    ):
        GarchT(assets=("A",), vol=0.5, alpha=0.1, beta=0.95, nu=5.0)


def test_garch_nu_above_two():
    with pytest.raises(
        ParameterError, match=r"The 'nu' parameter of GarchT must be a finite float in the range \(2, inf\)"
    ):
        GarchT(assets=("A",), vol=0.5, alpha=0.1, beta=0.8, nu=2.0)


def test_common_jumps_need_one_intensity():
    with pytest.raises(
        ParameterError, match=r"The 'jump_intensity' parameter of MertonJump must be the same"
    ):
        MertonJump(assets=("A", "B"), vol=0.5, jump_intensity=(1.0, 2.0), jump_mean=-0.1, jump_std=0.05)


def test_regime_probabilities_need_a_generator():
    with pytest.raises(
        ParameterError,
        match=r"The 'p_crisis_to_calm' parameter of RegimeSwitching must be < 1 - p_calm_to_crisis = 0\.4",
    ):
        RegimeSwitching(
            assets=("A",), vol_calm=0.3, vol_crisis=1.0, p_calm_to_crisis=0.6, p_crisis_to_calm=0.5
        )


def test_models_are_frozen_and_hashable():
    m = GBM(assets=("A",), vol=0.5)
    with pytest.raises(AttributeError):
        m.vol = (0.1,)  # type: ignore[misc]
    assert hash(m) == hash(GBM(assets=["A"], vol=[0.5]))
    assert m == GBM(assets=("A",), vol=0.5)
