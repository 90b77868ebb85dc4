"""Paired comparisons on common random numbers, against differences whose truth is known by construction.

Run A's per-path bad debt is X, lognormal; run B's is X + c + e with c a known constant and e independent noise of
standard deviation s. By construction the true differences are: mean c exactly; for e = 0, every quantile and
tail mean shifts by c exactly (both are translation-equivariant). The paired standard error of the mean
difference is s / sqrt(n); treating the runs as independent it is sqrt(Var X + Var(X + e)) / sqrt(n), with
Var X = (exp(sigma^2) - 1) exp(2 mu + sigma^2) for a lognormal.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from firesale.analysis.compare import compare_losses, scenario_differences, tail_standard_errors
from firesale.exceptions import ParameterError

N = 20_000
MU, SIGMA = 3.0, 1.0
VAR_X = (math.exp(SIGMA**2) - 1) * math.exp(2 * MU + SIGMA**2)  # lognormal variance, by hand: 1,884.7


def _runs(seed: int, shift: float, noise: float, n: int = N):
    rng = np.random.default_rng(seed)
    x = rng.lognormal(MU, SIGMA, n)
    return {"bad_debt_usd": x}, {"bad_debt_usd": x + shift + rng.normal(0.0, noise, n)}


def _row(rows, key):
    return next(r for r in rows if r.key == key)


def test_a_pure_shift_is_estimated_exactly_when_paired():
    a, b = _runs(1, 10.0, 0.0)
    rows = compare_losses(a, b, n_boot=100)
    for key in ("bad_debt_mean_usd", "bad_debt_var95_usd", "bad_debt_var99_usd", "bad_debt_es99_usd"):
        r = _row(rows, key)
        assert r.paired
        assert r.delta == pytest.approx(10.0, abs=1e-9), key
        assert r.ci_low == pytest.approx(10.0, abs=1e-9) and r.ci_high == pytest.approx(10.0, abs=1e-9), key


def test_paired_se_matches_theory_and_is_much_narrower_than_independent():
    s = 2.0
    a, b = _runs(2, 10.0, s)
    paired = _row(compare_losses(a, b, n_boot=100), "bad_debt_mean_usd")
    indep = _row(compare_losses(a, b, paired=False, n_boot=100), "bad_debt_mean_usd")
    assert paired.se == pytest.approx(s / math.sqrt(N), rel=0.05)  # 0.01414
    assert indep.se == pytest.approx(math.sqrt((2 * VAR_X + s**2) / N), rel=0.1)  # 0.434
    assert indep.se / paired.se > 20
    assert paired.ci_low <= 10.0 <= paired.ci_high
    assert indep.ci_low <= 10.0 <= indep.ci_high
    assert (paired.ci_high - paired.ci_low) < (indep.ci_high - indep.ci_low) / 20


def test_paired_intervals_cover_the_truth_at_their_level():
    # 200 independent repetitions: a 95 % interval covers the true shift 190 times on average; a binomial(200,
    # 0.95) lies in [180, 199] with probability above 0.999.
    covered = 0
    for rep in range(200):
        a, b = _runs(100 + rep, 10.0, 2.0, n=500)
        r = _row(compare_losses(a, b, n_boot=20), "bad_debt_mean_usd")
        covered += r.ci_low <= 10.0 <= r.ci_high
    assert 180 <= covered <= 199


def test_probability_differences_paired_and_independent():
    # A has bad debt when U < 0.10, B when U < 0.12 (the same U): true difference 2 pp; the per-path difference
    # is 1 with probability 0.02, so its paired s.e. is sqrt(0.02 * 0.98 / n); independent sqrt((0.09 + 0.1056)/n).
    u = np.random.default_rng(3).uniform(size=N)
    a = {"bad_debt_usd": np.where(u < 0.10, 100.0, 0.0), "insolvent": u < 0.05}
    b = {"bad_debt_usd": np.where(u < 0.12, 100.0, 0.0), "insolvent": u < 0.05}
    paired = compare_losses(a, b, n_boot=20)
    p = _row(paired, "p_bad_debt")
    assert p.delta == pytest.approx(0.02, abs=0.003)
    assert p.se == pytest.approx(math.sqrt(0.02 * 0.98 / N), rel=0.05)
    indep = _row(compare_losses(a, b, paired=False, n_boot=20), "p_bad_debt")
    assert indep.se == pytest.approx(math.sqrt((0.1 * 0.9 + 0.12 * 0.88) / N), rel=0.05)
    ins = _row(paired, "p_insolvency")
    assert ins.delta == 0.0 and ins.se == 0.0
    assert "p_failure_state" not in {r.key for r in paired}


def test_paired_bootstrap_of_the_tail_is_narrower_than_independent():
    a, b = _runs(4, 10.0, 2.0)
    for key in ("bad_debt_var99_usd", "bad_debt_es99_usd"):
        paired = _row(compare_losses(a, b, n_boot=200), key)
        indep = _row(compare_losses(a, b, paired=False, n_boot=200), key)
        assert paired.ci_low <= 10.0 + 1.0 and paired.ci_high >= 10.0 - 1.0, key
        assert paired.se < indep.se / 5, key


def test_tail_standard_errors_match_asymptotic_theory():
    # Exponential losses of rate 1, n paths. The q-quantile estimate has asymptotic s.e. sqrt(q (1 - q) / n) / f,
    # f = exp(-VaR) = 1 - q the density there: VaR 95 % sqrt(19 / n), VaR 99 % sqrt(99 / n). ES at level a has
    # variance (Var(X | X > VaR) + a (ES - VaR)^2) / (n (1 - a)) = (1 + a) / (n (1 - a)) by memorylessness
    # (Var = 1, ES - VaR = 1): ES 99 % sqrt(199 / n).
    n = 20_000
    se = tail_standard_errors(np.random.default_rng(5).exponential(1.0, n), n_boot=400)
    assert se["bad_debt_var95_usd_se"] == pytest.approx(math.sqrt(19 / n), rel=0.25)
    assert se["bad_debt_var99_usd_se"] == pytest.approx(math.sqrt(99 / n), rel=0.25)
    assert se["bad_debt_es99_usd_se"] == pytest.approx(math.sqrt(199 / n), rel=0.25)


def test_bad_arguments_are_refused():
    a, b = _runs(6, 1.0, 0.0, n=10)
    with pytest.raises(
        ParameterError, match=r"The 'paired' parameter of compare_losses needs runs with the same"
    ):
        compare_losses(a, {"bad_debt_usd": np.ones(11)}, paired=True)
    with pytest.raises(ParameterError, match=r"The 'level' parameter of compare_losses must be one of"):
        compare_losses(a, b, level=0.5)
    with pytest.raises(ParameterError, match=r"'a' parameter of compare_losses must hold per-path metrics"):
        compare_losses({}, b)
    with pytest.raises(
        ParameterError, match=r"The 'n_boot' parameter of tail_standard_errors must be an int"
    ):
        tail_standard_errors(np.ones(10), n_boot=5)


def test_scenario_differences_names_changed_keys_by_entry_name():
    a = '[[protocols]]\nname = "aave"\n[protocols.reserves.WETH]\nliquidation_threshold = 0.83\n'
    b = a.replace("0.83", "0.80") + "[simulation]\nseed = 1\n"
    assert scenario_differences(a, b) == [
        ("protocols.aave.reserves.WETH.liquidation_threshold", 0.83, 0.80),
        ("simulation.seed", None, 1),
    ]
    assert scenario_differences(a, a) == []
    with pytest.raises(ParameterError, match="text_b"):
        scenario_differences(a, "x = [")
