"""PerpVenue's Numba kernels (firesale.protocols._perp_kernels) against the NumPy reference: bit-identical.

The model with ``kernel="numba"`` and ``kernel="numpy"`` is run on the same random books and index paths (calm
stretches where the per-path bound skips paths, crashes that liquidate, vault takeovers, ADL under every rule,
partial activity masks as the engine's cascade gives) and every state array and flow must be *equal*, not close.
Both are held to firesale.mechanics.perps to 1e-9 by tests/unit/protocols/test_perp_model.py (default kernel).
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from firesale.exceptions import ParameterError
from firesale.mechanics import perps as ref
from firesale.protocols import _perp_kernels as kernels
from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.perps import PerpVenue

_BOUND_STATE = (
    "screen_mark",
    "screen_ratio",
    "screen_lowest",
    "screen_dirty",
    "screen_skipped",
)  # the kernels' own memory


def _inputs(index: np.ndarray, time: float, active: np.ndarray) -> RoundInputs:
    n_p, n_m = index.shape
    oracle = np.concatenate([index, np.ones((n_p, 1))], axis=1)
    return RoundInputs(
        time=time, oracle=oracle, market=oracle, active=active,
        liquidators=LiquidatorCapacity(np.zeros(n_p, np.int64), np.zeros(n_p), np.zeros(n_p), 0.0),
        quotes=SaleQuotes(np.array([0.0]), lambda p: np.zeros((len(p), n_m + 1, 1))),
    )  # fmt: skip


def _venues(
    seed: int, rule: str, n_m: int | None = None, n_t: int | None = None
) -> tuple[PerpVenue, PerpVenue]:
    rng = np.random.default_rng(seed)
    n_t = int(rng.integers(1, 40)) if n_t is None else n_t
    n_m = int(rng.integers(1, 4)) if n_m is None else n_m
    markets = tuple(
        ref.MarketParams(
            tiers=((0.0, 50.0, 0.01), (float(rng.uniform(1e3, 5e4)), 20.0, 0.025), (1e5, 10.0, 0.05)),
            book_depth_usd=float(rng.uniform(1e3, 1e5)), impact=float(rng.uniform(0.0, 0.05)),
            premium_mean=0.0001, premium_ar=0.5, premium_vol=0.0005,
            index_growth_limit=float(rng.choice([np.inf, 1e-4])), overflow=bool(rng.uniform() < 0.3),
        )
        for _ in range(n_m)
    )  # fmt: skip
    params = ref.VenueParams(
        markets=markets, fee_rate=float(rng.uniform(0, 0.01)), partial_threshold_usd=float(rng.uniform(1e3, 1e5)),
        partial_fraction=0.2, vault=bool(rng.integers(0, 2)), adl_rule=rule, funding_interval=3600.0,
    )  # fmt: skip
    idx0 = rng.uniform(10, 1000, n_m)
    size = rng.normal(0, 1, (n_t, n_m)) * (rng.uniform(0, 1, (n_t, n_m)) < 0.8) * 5000 / idx0
    entry = idx0 * rng.uniform(0.9, 1.1, (n_t, n_m))
    isolated = rng.uniform(0, 1, (n_t, n_m)) < 0.4
    iso = np.where(isolated, np.abs(size) * entry * rng.uniform(0.02, 0.3, (n_t, n_m)), 0.0)
    cash = (np.where(isolated, 0.0, np.abs(size) * entry).sum(axis=1)) * rng.uniform(0.03, 0.4, n_t)
    withdraws = rng.uniform(0, 1, n_t) < (0.3 if rng.uniform() < 0.3 else 0.0)
    args = ("v", params, tuple(f"A{m}" for m in range(n_m)), tuple(f"o{m}" for m in range(n_m)), "USD", "",
            tuple(() for _ in range(n_m)), cash, size, entry, iso, isolated, float(rng.uniform(0, 3000)),
            float(rng.uniform(0, 1e5)), np.full(n_m, 0.0002))  # fmt: skip
    kw = dict(token="HLP", seed=seed, withdraws=withdraws, index0=idx0)
    return PerpVenue(*args, kernel="numba", **kw), PerpVenue(*args, kernel="numpy", **kw)


def _run_both(seed: int, rule: str, n_paths: int = 3, n_steps: int = 12, **book) -> dict[str, np.ndarray]:
    fast, slow = _venues(seed, rule, **book)
    rng = np.random.default_rng(seed + 1)
    n_m = fast.n_markets
    s_fast, s_slow = fast.init_state(n_paths), slow.init_state(n_paths)
    # calm stretches (the bound skips), ordinary steps, and crashes, per step
    vol = rng.choice([1e-5, 0.01, 0.08], n_steps, p=[0.5, 0.3, 0.2])
    log_index = np.log(fast.index0) + np.cumsum(rng.normal(0, 1, (n_steps, n_paths, n_m)) * vol[:, None, None],
                                                axis=0)  # fmt: skip
    for t in range(n_steps):
        index = np.exp(log_index[t])
        active = np.ones(n_paths, dtype=bool)
        for _ in range(3):  # the cascade: repeat rounds on the paths that acted
            time = 600.0 * (t + 1)
            f_fast = fast.round(s_fast, _inputs(index, time, active.copy()))
            f_slow = slow.round(s_slow, _inputs(index, time, active.copy()))
            for name in ("sell", "buy", "n_actions", "n_unserved"):
                assert np.array_equal(getattr(f_fast, name), getattr(f_slow, name)), (t, name)
            active = f_fast.acted | (rng.uniform(0, 1, n_paths) < 0.2)
            if not active.any():
                break
        # what the engine reads every step (account) and at the end (metrics), at market prices off the index
        market = np.concatenate([index * rng.uniform(0.97, 1.03, index.shape), np.ones((n_paths, 1))], axis=1)
        a_fast, a_slow = fast.account(s_fast, market), slow.account(s_slow, market)
        for name in ("assets_usd", "liabilities_usd", "bad_debt_usd", "reserves_usd", "fees_usd"):
            assert np.array_equal(getattr(a_fast, name), getattr(a_slow, name)), (t, name)
        m_fast, m_slow = fast.metrics(s_fast, market), slow.metrics(s_slow, market)
        for name, want in m_slow.items():
            assert np.array_equal(m_fast[name], want, equal_nan=True), (t, name)
    for key, want in s_slow.arrays.items():
        if key in _BOUND_STATE:
            continue
        assert np.array_equal(s_fast[key], want, equal_nan=True), key
    assert fast.check_conservation(s_fast, {}) == []
    return s_fast.arrays


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rule=st.sampled_from(ref.ADL_RULES), parallel=st.booleans())
def test_numba_kernels_are_bit_identical_to_numpy(seed: int, rule: str, parallel: bool) -> None:
    # each kernel has a serial twin for small calls (kernels.sized): both held to the reference
    with mock.patch.object(kernels, "PARALLEL_FROM", 0 if parallel else np.inf):
        _run_both(seed, rule)


def test_the_twin_follows_the_work_the_screen_will_read() -> None:
    # a path whose marks moved less than its lowest ratio (and not beyond the refresh) is skipped whole: no work
    size = np.ones((4, 100, 2))
    ref_mark = np.full((4, 2), 100.0)
    mark = ref_mark * np.array([[1.0], [1.001], [1.03], [np.nan]])  # unmoved, 0.1 %, beyond the refresh, NaN
    lowest = np.full(4, 0.005)
    dirty = np.zeros(4, dtype=bool)
    assert kernels.screen_positions(size, mark, ref_mark, lowest, dirty, True) == 2 * 200  # paths 2 and 3
    dirty[0] = True
    assert kernels.screen_positions(size, mark, ref_mark, lowest, dirty, True) == 3 * 200
    assert kernels.screen_positions(size, mark, ref_mark, lowest, dirty, False) == 4 * 200
    with mock.patch.object(kernels, "PARALLEL_FROM", 600):
        assert kernels.sized(kernels.screen, 599) is not kernels.screen
        assert kernels.sized(kernels.screen, 600) is kernels.screen


@pytest.mark.parametrize("n_m", [8, 9, 17])
def test_bit_identical_with_many_markets(n_m: int) -> None:
    # eight markets and more: NumPy sums a trader's markets pairwise, and the kernels follow its order
    for seed in range(3):
        _run_both(seed, "binance", n_m=n_m, n_t=12)


def test_the_random_books_reach_liquidations_adl_and_skips() -> None:
    # the equality above is only as good as the branches it reaches
    totals = dict.fromkeys(("n_liquidated", "adl_notional", "vault_pos", "screen_skipped", "withdrawn"), 0.0)
    for seed in range(10):
        a = _run_both(seed, "binance", n_t=30)
        for k in totals:
            totals[k] += float(np.abs(a[k]).sum())
    assert all(v > 0 for v in totals.values()), totals


def test_numpy_sum_order() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 7, 8, 9, 15, 16, 23, 64, 127, 128):
        x = rng.standard_normal((200, n)) * np.exp(5 * rng.standard_normal((200, n)))
        got = np.array([kernels._numpy_sum(row, n) for row in x])
        assert np.array_equal(got, x.sum(axis=1)), n


def test_pairwise_sum_order_beyond_one_block() -> None:
    # above 128 terms NumPy sums the halves apart (the first a multiple of 8 long): a row of n differs from a
    # sequential or blocked sum in the last bits, so only NumPy's own tree gives the same floats
    rng = np.random.default_rng(4)
    for n in (129, 136, 255, 256, 257, 1000, 2000, 4097, 50_001):
        x = rng.standard_normal((3, n)) * np.exp(5 * rng.standard_normal((3, n)))
        got = np.array([kernels._pairwise_sum(row, n) for row in x])
        assert np.array_equal(got, x.sum(axis=1)), n


@pytest.mark.parametrize(("n_t", "n_m"), [(300, 1), (150, 3)])
def test_account_is_bit_identical_on_books_longer_than_one_block(n_t: int, n_m: int) -> None:
    # the accounts' sums run over the traders (and traders x markets): past 128 terms, NumPy's halving order
    for seed in range(2):
        _run_both(seed, "binance", n_t=n_t, n_m=n_m, n_steps=4)


def test_the_bound_skips_only_what_cannot_be_liquidated() -> None:
    # One cross long of 10 at 100 with 50 of cash, 1 % maintenance: equity 50 + 10 (P - 100) against 0.1 P, so it
    # is liquidated below P = 950 / 9.9 = 95.96. Path 0 drifts 0.1 % a step (never skipped past the bound's reach),
    # path 1 stays flat and is skipped every round after the first.
    params = ref.VenueParams(markets=(ref.MarketParams(tiers=((0.0, 50.0, 0.01),), book_depth_usd=1e9),),
                             vault=False, funding_interval=1e12)  # fmt: skip
    model = PerpVenue("v", params, ("A",), ("o",), "USD", "", ((),), np.array([50.0]), np.array([[10.0]]),
                      np.array([[100.0]]), np.zeros((1, 1)), np.zeros((1, 1), dtype=bool), 0.0, 0.0,
                      np.zeros(1))  # fmt: skip
    state = model.init_state(2)
    prices = [100.0 * (1 - 0.001 * k) for k in range(1, 60)]
    liquidated_at = None
    for k, px in enumerate(prices):
        model.round(state, _inputs(np.array([[px], [100.0]]), float(k + 1), np.ones(2, dtype=bool)))
        if liquidated_at is None and state["n_liquidated"][0] > 0:
            liquidated_at = px
    assert liquidated_at == pytest.approx(prices[int(np.argmax(np.array(prices) < 950.0 / 9.9))])
    assert state["n_liquidated"].tolist() == [1, 0]
    assert state["screen_skipped"][1] == len(prices) - 1
    # at 100 the slack 50 - 10 = 40 over W = 1,000 x 1.01 lets the mark move 3.96 % before a full check
    assert 0 < state["screen_skipped"][0] < len(prices) - 1


def test_adl_rank_equals_the_reference_allocation_with_ties() -> None:
    # by key (the dydx rule's ordering) with many tied keys: ties go by trader index, as in
    # firesale.mechanics.perps.adl_allocation; eligible are the shorts (offsetting a bankrupt long) with equity
    rng = np.random.default_rng(5)
    n_p, n_t = 40, 25
    elig = rng.uniform(0, 1, (n_p, n_t)) < 0.6
    sz = rng.uniform(0.1, 3, (n_p, n_t))
    size = np.where(elig, -sz, sz)[:, :, None]
    cross_e = np.where(rng.uniform(0, 1, (n_p, n_t)) < 0.9, 1.0, -1.0)
    elig &= cross_e > 0.0
    keys = rng.integers(0, 4, (n_p, n_t)).astype(float)
    need = rng.uniform(0, 30, n_p)
    go = rng.uniform(0, 1, n_p) < 0.8
    q = np.empty((n_p, n_t))
    kernels.adl_rank(size, np.ones((n_t, 1)), np.ones((n_p, 1)), cross_e, np.zeros((n_p, n_t, 1)),
                     np.zeros((n_t, 1), dtype=bool), np.zeros((n_p, n_t, 1), dtype=bool), go, 0, -1.0, True, keys,
                     need, q)  # fmt: skip
    for p in range(n_p):
        want = ref.adl_allocation("binance", need[p], list(sz[p]), list(elig[p]), list(keys[p]))
        np.testing.assert_allclose(q[p], np.asarray(want) if go[p] else 0.0, rtol=1e-12, atol=1e-12)


def test_an_unknown_kernel_is_refused() -> None:
    fast, _ = _venues(0, "binance")
    with pytest.raises(ParameterError, match="'kernel' parameter of PerpVenue must be one of"):
        PerpVenue(fast.name, fast.params, fast.assets[:-1], fast.oracles[:-1], "USD", "", fast.sale_venues[:-1],
                  fast.cash0, fast.size0, fast.entry, fast.iso0, fast.isolated, 0.0, 0.0, fast.premium0,
                  kernel="cuda")  # fmt: skip
