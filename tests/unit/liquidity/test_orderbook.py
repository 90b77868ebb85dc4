"""OrderBook: hand-computed impact, and the fused kernels held bit-identical to the NumPy reference methods.

Expected values of the first tests come from the impact law in the module docstring, computed by hand; the rest
compare ``log_impact``/``trade`` (kernels in :mod:`firesale.liquidity._book_kernels`) with ``log_impact_numpy``/
``trade_numpy`` bit for bit, on random books and states, including zero, signed-zero, tiny and huge flows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from firesale.liquidity.orderbook import OrderBook


def _bits(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).view(np.int64)


def _assert_same(a: np.ndarray, b: np.ndarray) -> None:
    """Equal as IEEE bit patterns (so -0.0 differs from 0.0), NaN where the other is NaN."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    nan = np.isnan(a)
    assert np.array_equal(nan, np.isnan(b))
    assert np.array_equal(_bits(a)[~nan], _bits(b)[~nan])


def test_linear_sale_fills_at_the_mean_log_impact() -> None:
    # depth_move 1 % at $1M: selling $1M from rest moves g from 0 to 0.01; half is permanent (perm 0.005), so the
    # log impact goes 0 -> 0.005 + 0.5 * 0.01 = 0.01 and the sale fills at exp(-(0 + 0.01) / 2).
    book = OrderBook("b", "A", depth_usd=1e6, depth_move=0.01, exponent=1.0, permanent=0.5)
    v, perm, depth = np.zeros(2), np.zeros(2), np.full(2, 1e6)
    factor = book.trade(v, perm, np.array([1e6, 0.0]), depth)
    assert factor[0] == pytest.approx(math.exp(-0.005), rel=1e-15)
    assert factor[1] == 1.0
    assert v.tolist() == [1e6, 0.0]
    assert perm[0] == pytest.approx(0.005, rel=1e-15)
    assert book.log_impact(v, perm, depth)[0] == pytest.approx(0.01, rel=1e-15)


def test_square_root_buy_after_sale() -> None:
    # sqrt law, depth_move 2 % at $4M, 30 % permanent. From v = $1M sold (g = 0.02 * 0.5 = 0.01, perm 0), buying
    # $2M brings v to -$1M (g = -0.01): perm = 0.3 * (-0.02) = -0.006; log impact before 0.7 * 0.01 = 0.007, after
    # -0.006 - 0.007 = -0.013; the purchase fills at exp(-(0.007 - 0.013) / 2) = exp(0.003).
    book = OrderBook("b", "A", depth_usd=4e6, depth_move=0.02, exponent=0.5, permanent=0.3)
    v, perm, depth = np.array([1e6]), np.zeros(1), np.array([4e6])
    factor = book.trade(v, perm, np.array([-2e6]), depth)
    assert factor[0] == pytest.approx(math.exp(0.003), rel=1e-12)
    assert perm[0] == pytest.approx(-0.006, rel=1e-12)
    assert v[0] == -1e6


_SPECIAL = np.array([0.0, -0.0, 1e-300, -1e-300, 1e15, -1e15, 1.0, -1.0])


def _case(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.integers(-3, 10, n)
    v = rng.normal(size=n) * scale
    q = rng.normal(size=n) * 10.0 ** rng.integers(-3, 10, n)
    v[: min(n, _SPECIAL.size)] = _SPECIAL[: min(n, _SPECIAL.size)]
    q[rng.random(n) < 0.2] = 0.0
    q[rng.random(n) < 0.05] = -0.0
    perm = rng.normal(scale=0.05, size=n)
    depth = 10.0 ** rng.uniform(3, 10, n)
    return v, perm, q, depth


@settings(max_examples=200, deadline=None, database=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 300),
    exponent=st.sampled_from([0.5, 1.0]),
    permanent=st.floats(0.0, 1.0),
    depth_move=st.floats(1e-4, 0.99),
)
def test_kernels_equal_numpy_reference(seed, n, exponent, permanent, depth_move) -> None:  # type: ignore[no-untyped-def]
    book = OrderBook("b", "A", depth_usd=1e6, depth_move=depth_move, exponent=exponent, permanent=permanent)
    v, perm, q, depth = _case(seed, n)
    _assert_same(book.log_impact(v, perm, depth), book.log_impact_numpy(v, perm, depth))
    v1, p1, v2, p2 = v.copy(), perm.copy(), v.copy(), perm.copy()
    with np.errstate(over="ignore"):  # huge random flows: exp overflows to inf in both
        f1 = book.trade(v1, p1, q, depth)
        f2 = book.trade_numpy(v2, p2, q, depth)
    _assert_same(f1, f2)
    _assert_same(v1, v2)
    _assert_same(p1, p2)


def test_kernels_equal_reference_on_nan_and_inf() -> None:
    book = OrderBook("b", "A", depth_usd=1e6, exponent=0.5)
    v = np.array([np.nan, 1.0, np.inf, -np.inf, 0.0])
    perm = np.array([0.0, np.nan, 0.0, 0.0, 0.0])
    q = np.array([1.0, 1.0, 1.0, -np.inf, np.nan])
    depth = np.array([1e6, 1e6, 1e6, 1e6, 1e6])
    with np.errstate(invalid="ignore"):
        _assert_same(book.log_impact(v, perm, depth), book.log_impact_numpy(v, perm, depth))
        v1, p1, v2, p2 = v.copy(), perm.copy(), v.copy(), perm.copy()
        _assert_same(book.trade(v1, p1, q, depth), book.trade_numpy(v2, p2, q, depth))
    _assert_same(v1, v2)
    _assert_same(p1, p2)


def test_other_exponents_and_shapes_use_the_reference() -> None:
    # an exponent the kernels do not reproduce exactly (NumPy's pow), and 2-D arrays, go to NumPy unchanged
    book = OrderBook("b", "A", depth_usd=1e6, exponent=0.7)
    v, perm, q, depth = _case(3, 50)
    _assert_same(book.log_impact(v, perm, depth), book.log_impact_numpy(v, perm, depth))
    sq = OrderBook("b", "A", depth_usd=1e6, exponent=0.5)
    v2d, perm2d, depth2d = v.reshape(5, 10), perm.reshape(5, 10), depth.reshape(5, 10)
    _assert_same(sq.log_impact(v2d, perm2d, depth2d), sq.log_impact_numpy(v2d, perm2d, depth2d))
    a, b = v.copy(), perm.copy()
    f = sq.trade(a, b, np.float64(5.0), depth)  # a scalar flow broadcasts in the reference
    c, d = v.copy(), perm.copy()
    _assert_same(f, sq.trade_numpy(c, d, np.float64(5.0), depth))
    _assert_same(a, c)
