"""Kupiec and Christoffersen statistics against hand calculations and closed-form chi-square tails."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from firesale.exceptions import ParameterError
from firesale.monitor import (
    backtest_var,
    christoffersen_independence,
    conditional_coverage,
    kupiec_pof,
    var_forecast,
)
from firesale.monitor.indicators import garch_filter

# n = 10, x = 3 hits, at level 0.9 (p = 0.1).
HITS = [0, 0, 1, 0, 0, 0, 1, 1, 0, 0]
# Clustered: transitions 00 x6, 01 x2, 10 x1, 11 x2.
CLUSTERED = [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1]


def test_kupiec_by_hand():
    # LR = -2 [7 ln 0.9 + 3 ln 0.1 - 7 ln 0.7 - 3 ln 0.3]
    #    = -2 [(-0.7375236 - 6.9077553) - (-2.4967246 - 3.6119184)] = 3.0732718
    out = kupiec_pof(HITS, 0.9)
    assert (out["n"], out["hits"], out["rate"]) == (10, 3, 0.3)
    assert out["lr"] == pytest.approx(3.0732718, abs=1e-6)
    # chi-square with one degree of freedom: P(X > x) = erfc(sqrt(x / 2)).
    assert out["pvalue"] == pytest.approx(math.erfc(math.sqrt(3.0732718 / 2)), rel=1e-6)
    assert out["pvalue"] == pytest.approx(stats.chi2.sf(3.0732718, 1), rel=1e-6)


def test_kupiec_no_hits_uses_zero_log_zero():
    # x = 0: LR = -2 n ln(1 - p) = -2 * 100 * ln 0.99 = 2.0100672
    assert kupiec_pof([0] * 100, 0.99)["lr"] == pytest.approx(2.0100672, abs=1e-6)


def test_christoffersen_independence_by_hand():
    out = christoffersen_independence(CLUSTERED)
    assert (out["n00"], out["n01"], out["n10"], out["n11"]) == (6, 2, 1, 2)
    assert out["pi0"] == pytest.approx(0.25)
    assert out["pi1"] == pytest.approx(2 / 3)
    # pi = 4 / 11; LR = -2 [7 ln(7/11) + 4 ln(4/11) - 6 ln 0.75 - 2 ln 0.25 - ln(1/3) - 2 ln(2/3)]
    l0 = 7 * math.log(7 / 11) + 4 * math.log(4 / 11)
    l1 = 6 * math.log(0.75) + 2 * math.log(0.25) + math.log(1 / 3) + 2 * math.log(2 / 3)
    # pencil check: l0 = -3.16390 - 4.04640 = -7.21030; l1 = -1.72609 - 2.77259 - 1.09861 - 0.81093 = -6.40822
    assert l0 == pytest.approx(-7.21030, abs=1e-5)
    assert l1 == pytest.approx(-6.40822, abs=1e-5)
    assert out["lr"] == pytest.approx(-2 * (l0 - l1), rel=1e-12)
    assert out["lr"] == pytest.approx(1.60416, abs=1e-5)
    assert out["pvalue"] == pytest.approx(math.erfc(math.sqrt(out["lr"] / 2)), rel=1e-9)


def test_independence_is_zero_when_hits_do_not_cluster():
    # HITS: 00 x4, 01 x2, 10 x2, 11 x1: pi0 = pi1 = pi = 1/3, so the likelihoods are equal.
    assert christoffersen_independence(HITS)["lr"] == pytest.approx(0.0, abs=1e-12)


def test_conditional_coverage_is_the_sum_with_two_degrees_of_freedom():
    pof, ind = kupiec_pof(CLUSTERED, 0.9), christoffersen_independence(CLUSTERED)
    cc = conditional_coverage(CLUSTERED, 0.9)
    assert cc["lr"] == pytest.approx(pof["lr"] + ind["lr"])
    # chi-square with two degrees of freedom: P(X > x) = exp(-x / 2).
    assert cc["pvalue"] == pytest.approx(math.exp(-cc["lr"] / 2), rel=1e-9)


def test_bad_hits_and_level_are_rejected():
    with pytest.raises(ParameterError, match="The 'hits' parameter of kupiec_pof must be a 1-D sequence"):
        kupiec_pof([0, 2, 1], 0.99)
    with pytest.raises(ParameterError, match=r"The 'level' parameter of kupiec_pof must be a float in the range "
                       r"\(0, 1\)\. Got 1\.5 instead\."):  # fmt: skip
        kupiec_pof([0, 1], 1.5)


def _alternating(n: int = 40, size: float = 0.01) -> pd.Series:
    idx = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    return pd.Series([size if i % 2 else -size for i in range(n)], index=idx)


def test_normal_and_historical_var_by_hand():
    r = _alternating()
    # 20 returns of +-0.01: mean 0, sample sd 0.01 * sqrt(20 / 19); z(0.99) = 2.3263479
    v = var_forecast(r, "normal", 0.99, window=20)
    assert v.iloc[:20].isna().all()
    assert v.iloc[20] == pytest.approx(2.3263479 * 0.01 * math.sqrt(20 / 19), rel=1e-7)
    # Historical: the 1 % quantile of ten -0.01 and ten +0.01 is -0.01.
    assert var_forecast(r, "historical", 0.99, window=20).iloc[25] == pytest.approx(0.01)


def test_student_t_var_uses_the_moment_degrees_of_freedom():
    r = _alternating()
    # +-0.01 has excess kurtosis -2 (< 0): the model falls back to the normal quantile.
    assert var_forecast(r, "student-t", 0.99, window=20).iloc[30] == pytest.approx(
        var_forecast(r, "normal", 0.99, window=20).iloc[30]
    )


def test_backtest_counts_the_one_crash():
    r = _alternating(300)
    r.iloc[250] = -0.2  # far beyond 2.33 sd of 0.01
    prices = pd.DataFrame({"X": 100 * np.exp(np.concatenate([[0.0], r.cumsum().to_numpy()]))},
                          index=pd.date_range("2023-12-31", periods=301, freq="D", tz="UTC"))  # fmt: skip
    res = backtest_var(prices, ["normal"], 0.99, window=50)
    row = res.table.loc[("X", "normal")]
    assert row["hits"] == 1
    assert row["n"] == 250
    assert row["worst_at"].startswith("2024-09-07")  # day 251 of the price index
    assert "1 hits in 250 steps" in res.summary()[0]


def test_garch_filter_matches_arch():
    from arch import arch_model

    rng = np.random.default_rng(7)
    data, s2 = np.empty(1500), 0.05 / (1 - 0.1 - 0.85)
    for t in range(1500):  # GARCH(1, 1): omega 0.05, alpha 0.1, beta 0.85
        data[t] = np.sqrt(s2) * rng.standard_normal()
        s2 = 0.05 + 0.1 * data[t] ** 2 + 0.85 * s2
    res = arch_model(data, mean="Zero", vol="GARCH", p=1, q=1, rescale=False).fit(disp="off")
    om, al, be = (float(res.params[k]) for k in ("omega", "alpha[1]", "beta[1]"))
    assert be > 0.5  # a non-degenerate fit
    cv = res.conditional_volatility**2
    out = garch_filter(data, om, al, be, cv[0])
    # out[t] is the variance of return t + 1: arch's in-sample sigma^2 at t + 1.
    np.testing.assert_allclose(out[:-1], cv[1:], rtol=1e-10)
    # Vectorized over paths: two identical rows give two identical results.
    both = garch_filter(np.stack([data, data]), om, al, be, cv[0])
    np.testing.assert_allclose(both[1, :-1], cv[1:], rtol=1e-10)


def _garch_returns(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    out, s2 = np.empty(n), 1e-4 / (1 - 0.1 - 0.85)
    for t in range(n):
        out[t] = np.sqrt(s2) * rng.standard_t(6) * np.sqrt(4 / 6)
        s2 = 1e-4 + 0.1 * out[t] ** 2 + 0.85 * s2
    return pd.Series(out, index=pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC"))


def test_garch_t_var_is_arch_one_step_forecast():
    from arch import arch_model

    r = _garch_returns(400, 11)
    v = var_forecast(r, "garch-t", 0.99, window=300, refit_every=200)
    k = 301  # the first forecast: fitted on returns 0..300, for return 301
    res = arch_model(100 * r.iloc[:k].to_numpy(), mean="Zero", vol="GARCH", dist="t", rescale=False).fit(
        disp="off"
    )
    nu = float(res.params["nu"])
    sd = math.sqrt(float(res.forecast(horizon=1, reindex=False).variance.iloc[-1, 0])) / 100
    expected = -stats.t.ppf(0.01, nu) * math.sqrt((nu - 2) / nu) * sd
    assert v.iloc[k] == pytest.approx(expected, rel=1e-6)
    assert v.iloc[:k].isna().all()


def test_garch_volatility_never_sees_past_fit_until():
    from firesale.monitor.indicators import garch_volatility

    r = _garch_returns(600, 12)
    prices = 100 * np.exp(r.cumsum())
    cut = prices.index[399]
    vol, params = garch_volatility(prices, fit_until=cut)
    shocked = prices.copy()
    shocked.iloc[450:] *= 0.5
    vol2, params2 = garch_volatility(shocked, fit_until=cut)
    assert params == params2  # the fit saw nothing after the cut
    np.testing.assert_array_equal(vol.iloc[:450].to_numpy(), vol2.iloc[:450].to_numpy())
    assert vol2.iloc[450] > 3 * vol.iloc[450]  # the crash enters the forecast as it happens
    assert set(params) == {"omega", "alpha", "beta", "nu"}
