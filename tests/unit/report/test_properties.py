"""Properties of the report's binning and curves: they neither lose nor invent paths or dollars."""

from __future__ import annotations

import html

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from firesale.report._book import debt_by_health_factor
from firesale.report._flags import at_least
from firesale.report._losses import exceedance, log_bins
from firesale.report._plot import plain

losses = arrays(np.float64, st.integers(1, 300), elements=st.floats(0, 1e9, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(losses)
def test_exceedance_is_a_decreasing_survival_curve(v):
    x, y = exceedance(v)
    n_pos = int((v > 1e-6).sum())
    if n_pos == 0:
        assert len(x) == 0
        return
    assert np.all(np.diff(x) <= 0) and np.all(np.diff(y) > 0)
    assert x[0] == v.max() and y[0] == 1 / len(v)  # the worst path, exactly
    assert y[-1] == n_pos / len(v)  # every path with bad debt is counted
    for xi, yi in zip(x, y, strict=True):
        assert (v >= xi).mean() >= yi - 1e-12  # ties can only add paths at the same x


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 300), elements=st.floats(1e-3, 1e12, allow_nan=False)))
def test_log_bins_keep_every_value(v):
    counts, edges = log_bins(v)
    assert counts.sum() == len(v)
    assert edges[0] <= np.log10(v.min()) + 1e-9 and edges[-1] >= np.log10(v.max()) - 1e-9


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(0, n), min_size=1))))
def test_at_least_is_a_non_increasing_share(case):
    n_steps, steps = case
    k, share = at_least(np.array(steps), n_steps)
    assert len(k) == n_steps
    assert np.all(np.diff(share) <= 0)
    assert share[0] == np.mean(np.array(steps) >= 1)
    assert share[-1] == np.mean(np.array(steps) >= n_steps)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, 20, elements=st.floats(0, 10, allow_nan=False) | st.just(np.inf)),
    arrays(np.float64, 20, elements=st.floats(0, 1e9, allow_nan=False)),
)
def test_health_factor_bins_conserve_debt(hf, debt):
    bins = debt_by_health_factor(hf, debt)
    np.testing.assert_allclose(bins.sum(), debt.sum(), rtol=1e-12)
    np.testing.assert_allclose(bins[:20].sum(), debt[hf < 1.0].sum(), rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_plain_text_has_no_markup_and_reads_back(text):
    out = plain(text)
    assert "<" not in out and ">" not in out
    assert html.unescape(out) == text
