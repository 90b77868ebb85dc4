"""Regime switching: daily-to-step conversion, stationary law, per-regime moments."""

from __future__ import annotations

import numpy as np
import pytest

from firesale.exceptions import ParameterError
from firesale.market import RegimeSwitching, step_transition_probabilities

YEAR = 365 * 86400


def test_half_day_probabilities_by_hand():
    # a = 0.1, b = 0.3 per day: lambda = 0.6, pi = (0.75, 0.25). Half a day: 1 - sqrt(0.6) = 0.2254033307585166.
    a_half, b_half = step_transition_probabilities(0.1, 0.3, 43200.0)
    assert a_half == pytest.approx(0.25 * 0.2254033307585166, rel=1e-12)
    assert b_half == pytest.approx(0.75 * 0.2254033307585166, rel=1e-12)


@pytest.mark.parametrize("dt", [12.0, 300.0, 3600.0, 43200.0])
def test_steps_compound_to_the_daily_matrix(dt):
    a, b = 0.05, 0.2
    sa, sb = step_transition_probabilities(a, b, dt)
    step = np.array([[1 - sa, sa], [sb, 1 - sb]])
    day = np.linalg.matrix_power(step, round(86400 / dt))
    np.testing.assert_allclose(day, [[1 - a, a], [b, 1 - b]], rtol=1e-9)


def test_a_day_step_is_the_daily_matrix():
    assert step_transition_probabilities(0.05, 0.2, 86400.0) == pytest.approx((0.05, 0.2), rel=1e-12)


def _model(**kw):
    base = dict(
        assets=("A", "B"),
        vol_calm=(0.4, 0.5),
        vol_crisis=(1.2, 1.6),
        p_calm_to_crisis=0.05,
        p_crisis_to_calm=0.2,
        correlation_calm=[[1, 0.2], [0.2, 1]],
        correlation_crisis=[[1, 0.9], [0.9, 1]],
    )
    base.update(kw)
    return RegimeSwitching(**base)


def test_stationary_share_in_crisis():
    m = _model()
    _, crisis = m.simulate_regimes(2000, 400, 86400.0, np.random.default_rng(1))
    assert m.stationary_crisis_probability == pytest.approx(0.05 / 0.25)
    # Started from the stationary law, every step has P(crisis) = 0.2; the chain's autocorrelation
    # 1 - a - b = 0.75 inflates the variance of the mean by (1 + 0.75) / (1 - 0.75) = 7.
    se = np.sqrt(0.2 * 0.8 * 7 / crisis.size)
    assert crisis.mean() == pytest.approx(0.2, abs=5 * se)


def test_daily_transition_frequency_at_hourly_steps():
    # Regimes 24 hourly steps apart follow the daily matrix: P(crisis at k + 24 | calm at k) = 0.05.
    m = _model(initial_regime="calm")
    _, crisis = m.simulate_regimes(2000, 24 * 40, 3600.0, np.random.default_rng(2))
    calm_now = ~crisis[:, :-24]
    later = crisis[:, 24:][calm_now]
    assert later.mean() == pytest.approx(0.05, abs=0.004)
    crisis_now = crisis[:, :-24]
    back = ~crisis[:, 24:][crisis_now]
    assert back.mean() == pytest.approx(0.2, abs=0.01)


def test_fixed_initial_regime():
    _, crisis = _model(initial_regime="crisis").simulate_regimes(500, 3, 3600.0, np.random.default_rng(0))
    assert crisis[:, 0].all()
    _, calm = _model(initial_regime="calm").simulate_regimes(500, 3, 3600.0, np.random.default_rng(0))
    assert not calm[:, 0].any()


def test_per_regime_vols_and_correlations():
    m = _model()
    x, crisis = m.simulate_regimes(2000, 200, 3600.0, np.random.default_rng(3))
    r = np.diff(np.log(x), axis=1)
    d = 3600.0 / YEAR
    for mask, vols, rho in ((~crisis, (0.4, 0.5), 0.2), (crisis, (1.2, 1.6), 0.9)):
        sel = r[mask]
        n = sel.shape[0]
        np.testing.assert_allclose(sel.var(axis=0), np.square(vols) * d, rtol=5 * np.sqrt(2 / n))
        assert np.corrcoef(sel, rowvar=False)[0, 1] == pytest.approx(rho, abs=5 * (1 - rho**2) / np.sqrt(n))


def test_crisis_correlation_defaults_to_calm():
    m = RegimeSwitching(
        assets=("A", "B"),
        vol_calm=0.4,
        vol_crisis=1.0,
        p_calm_to_crisis=0.1,
        p_crisis_to_calm=0.1,
        correlation_calm=[[1, 0.3], [0.3, 1]],
    )
    assert m.correlation_crisis == m.correlation_calm


def test_simulate_drops_the_regimes_and_is_deterministic():
    m = _model()
    a = m.simulate(5, 30, 600.0, np.random.default_rng(4))
    b, _ = m.simulate_regimes(5, 30, 600.0, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert np.all(a[:, 0] == 1.0)


def test_no_stationary_law_without_switching():
    with pytest.raises(
        ParameterError, match=r"The 'initial_regime' parameter of RegimeSwitching must be 'calm' or 'crisis'"
    ):
        _model(p_calm_to_crisis=0.0, p_crisis_to_calm=0.0)
    m = _model(p_calm_to_crisis=0.0, p_crisis_to_calm=0.0, initial_regime="crisis")
    _, crisis = m.simulate_regimes(10, 50, 3600.0, np.random.default_rng(0))
    assert crisis.all()
