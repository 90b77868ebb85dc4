"""firesale.liquidity.cryptoswap.CryptoSwapPool against the integer mechanics and the invariant solved exactly.

The reference for swaps, ``D``, ``price_scale``, the oracle and the profit counters is
:class:`firesale.mechanics.cryptoswap.CryptoSwapPool`, run on the same trades in wei. The float pool keeps no
integer rounding; the contract's fee is an integer in 1e-10 units and its ``halfpow`` is a series accurate to
1e-8, so outputs agree to 1e-9 relative plus the error that ``halfpow`` puts into the oracle: each EMA update is off
by ``|halfpow(t) - 0.5 ** t| |last_price - oracle|`` (at most 1e-8 of the gap) and that error carries into
``price_scale`` (a repeg moves it part of the way to the oracle) and from there into ``D``, the virtual price
and later outputs. The tests add that error, measured at each update and accumulated, to the 1e-9.

Pool parameters: the CRV/ETH pool ``0x8301AE4fc9c624d1D396cbDAa1ed877821D7C511`` as deployed
(curvefi/curve-crypto-contract ``scripts/deploy_mainnet_crv_pool.py``, commit
330175e17e5bab206f13d0a3a4b94bbcf07829ce): A = 400000, gamma = 1.45e-4, mid_fee 0.26 %, out_fee 0.45 %,
allowed_extra_profit 2e-6, fee_gamma 2.3e-4, adjustment_step 1.46e-4, admin_fee 50 %, ma_half_time 600 s.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from pydantic import ValidationError

from firesale.exceptions import ParameterError
from firesale.liquidity import Venue, VenueState
from firesale.liquidity.cryptoswap import CryptoSwapPool
from firesale.mechanics import Revert
from firesale.mechanics.cryptoswap import CryptoSwapPool as ExactPool, halfpow

E18 = 10**18
RTOL = 1e-9


@dataclass
class Case:
    A: int
    gamma: int
    mid_fee: int
    out_fee: int
    allowed_extra_profit: int
    fee_gamma: int
    adjustment_step: int
    admin_fee: int
    ma_half_time: int
    price: int
    deposit: list[int]
    norm_guard: bool = False

    def exact(self) -> ExactPool:
        pool = ExactPool(
            self.A, self.gamma, self.mid_fee, self.out_fee, self.allowed_extra_profit, self.fee_gamma,
            self.adjustment_step, self.admin_fee, self.ma_half_time, self.price, norm_guard=self.norm_guard,
        )  # fmt: skip
        pool.add_liquidity(self.deposit)
        return pool

    def venue(self) -> CryptoSwapPool:
        return CryptoSwapPool(
            "pool", ("c0", "c1"), [b / E18 for b in self.deposit], A=self.A, gamma=self.gamma / E18,
            mid_fee_bps=self.mid_fee / 1e6, out_fee_bps=self.out_fee / 1e6, fee_gamma=self.fee_gamma / E18,
            price_scale=self.price / E18, ma_half_time=self.ma_half_time,
            allowed_extra_profit=self.allowed_extra_profit / E18, adjustment_step=self.adjustment_step / E18,
            admin_fee=self.admin_fee / 1e10, norm_guard=self.norm_guard,
        )  # fmt: skip


CRV_ETH = Case(
    A=400_000, gamma=145 * 10**12, mid_fee=26_000_000, out_fee=45_000_000, allowed_extra_profit=2 * 10**12,
    fee_gamma=230 * 10**12, adjustment_step=146 * 10**12, admin_fee=5 * 10**9, ma_half_time=600,
    price=5 * 10**14, deposit=[1000 * E18, 2_000_000 * E18],
)  # fmt: skip


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A (as A * N**N) from 1 to 4000, gamma 1e-7 to 0.02, 0.1 to 100 bps fees, prices 1e-3 to 1e3."""
    mid = draw(st.integers(10**5, 10**8))
    price = int(10 ** draw(st.floats(-3.0, 3.0)) * E18)
    value = 10 ** draw(st.floats(3.0, 7.0))  # coin-0 units
    w = draw(st.floats(0.3, 0.7))
    return Case(
        A=draw(st.integers(10_000, 40_000_000)),
        gamma=min(int(10 ** draw(st.floats(-7.0, math.log10(0.02))) * E18), 2 * 10**16),
        mid_fee=mid,
        out_fee=draw(st.integers(mid, 2 * 10**8)),
        allowed_extra_profit=draw(st.sampled_from([0, 10**10, 2 * 10**12, 10**13])),
        fee_gamma=draw(st.sampled_from([230 * 10**12, 5 * 10**15, 10**17])),
        adjustment_step=draw(st.sampled_from([0, 55 * 10**11, 146 * 10**12, 10**15])),
        admin_fee=draw(st.sampled_from([0, 5 * 10**9])),
        ma_half_time=draw(st.integers(60, 86_400)),
        price=price,
        deposit=[int(value * w * E18), int(value * (1 - w) * E18 * E18 // price)],
        norm_guard=draw(st.booleans()),
    )


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def halfpow_error(exact: ExactPool) -> float:
    """Relative oracle error the next EMA update adds: halfpow's own error times the gap it weighs."""
    if exact.timestamp == exact.last_prices_timestamp:
        return 0.0
    power = (exact.timestamp - exact.last_prices_timestamp) * E18 // exact.ma_half_time
    d_alpha = abs(halfpow(power) / E18 - 0.5 ** (power / E18))
    return d_alpha * abs(exact.last_prices - exact.price_oracle) / min(exact.last_prices, exact.price_oracle)


def assert_same(state: VenueState, path: int, exact: ExactPool, tol: float = RTOL) -> None:
    s = state.arrays
    assert rel(s["balances"][path, 0], exact.balances[0] / E18) < tol
    assert rel(s["balances"][path, 1], exact.balances[1] / E18) < tol
    assert rel(s["D"][path], exact.D / E18) < tol
    assert rel(s["price_oracle"][path], exact.price_oracle / E18) < tol
    assert rel(s["price_scale"][path], exact.price_scale / E18) < tol
    assert rel(s["last_price"][path], exact.last_prices / E18) < tol
    assert rel(s["virtual_price"][path], exact.virtual_price / E18) < tol
    assert rel(s["xcp_profit"][path], exact.xcp_profit / E18) < tol
    assert rel(s["lp_supply"][path], exact.lp_supply / E18) < tol
    assert bool(s["not_adjusted"][path]) is exact.not_adjusted


trades = st.lists(
    st.tuples(st.sampled_from([0, 1]), st.floats(-3.0, -1.0), st.integers(0, 7200)), min_size=1, max_size=5
)


@settings(max_examples=60, deadline=None)
@given(case=cases(), trades=trades)
def test_swaps_agree_with_the_integer_mechanics(case: Case, trades: list[tuple[int, float, int]]) -> None:
    exact = case.exact()
    venue = case.venue()
    state = venue.init_state(2)  # path 1 never trades: the paths must not mix
    assert_same(state, 0, exact)
    budget = 0.0  # accumulated halfpow error bound
    for i, frac, t in trades:
        exact.sleep(t)
        venue.advance(state, t)
        budget += halfpow_error(exact)
        dx = int(exact.balances[i] * 10**frac)
        try:
            dy_exact = exact.exchange(i, 1 - i, dx)
        except Revert:
            assume(False)  # outside the contract's safe range: the float pool is not held to a revert
        quoted = venue.get_dy(state, i, 1 - i, np.array([dx / E18, 0.0]))
        dy = venue.swap(state, i, 1 - i, np.array([dx / E18, 0.0]))
        assert dy[0] == quoted[0]
        assert rel(dy[0], dy_exact / E18) < RTOL + budget
        assert dy[1] == 0.0
        assert_same(state, 0, exact, RTOL + budget)
    fresh = case.exact()
    for key in ("D", "price_scale", "price_oracle", "virtual_price"):
        assert state[key][1] == venue.init_state(1)[key][0]
    assert rel(state["D"][1], fresh.D / E18) < RTOL


def exact_price_1_in_0(exact: ExactPool) -> Fraction:
    """Price of coin 1 in coin 0 along the invariant, from exact central differences of the invariant function."""
    ann, g = Fraction(exact.A, 10_000), Fraction(exact.gamma, E18)
    d = Fraction(exact.D, E18)
    ps = Fraction(exact.price_scale, E18)
    x0, x1 = Fraction(exact.balances[0], E18), Fraction(exact.balances[1], E18) * ps

    def G(a: Fraction, b: Fraction) -> Fraction:
        k0 = 4 * a * b / (d * d)
        return a + b - d - d * (g + 1 - k0) ** 2 * (1 - k0) / (ann * g * g * k0)

    h = d / 10**15
    g0 = G(x0 + h, x1) - G(x0 - h, x1)
    g1 = G(x0, x1 + h) - G(x0, x1 - h)
    return ps * g1 / g0


@settings(max_examples=30, deadline=None)
@given(case=cases(), trades=trades)
def test_price_is_the_slope_of_the_invariant(case: Case, trades: list[tuple[int, float, int]]) -> None:
    exact = case.exact()
    venue = case.venue()
    state = venue.init_state(1)
    for i, frac, t in trades:
        exact.sleep(t)
        venue.advance(state, t)
        dx = int(exact.balances[i] * 10**frac)
        try:
            exact.exchange(i, 1 - i, dx)
        except Revert:
            assume(False)
        venue.swap(state, i, 1 - i, np.array([dx / E18]))
    ref = float(exact_price_1_in_0(exact))
    assert rel(venue.price(state, 1, 0)[0], ref) < RTOL
    assert rel(venue.price(state, 0, 1)[0], 1 / ref) < RTOL


def test_starting_state_by_hand() -> None:
    venue = CRV_ETH.venue()
    state = venue.init_state(3)
    # xp = [1000, 2e6 * 5e-4] is balanced: D = 2000 ETH, the price is price_scale, the fee is mid_fee.
    np.testing.assert_allclose(state["D"], 2000.0, rtol=1e-15)
    np.testing.assert_allclose(venue.price(state, 1, 0), 5e-4, rtol=1e-15)
    # 1 - K cancels to 1e-16, which fee_gamma = 2.3e-4 magnifies to 5e-13.
    np.testing.assert_allclose(venue.fee_bps_now(state), 26.0, rtol=1e-12)
    # xcp = sqrt(D/2 * D / (2 p)) = sqrt(1000 * 2e6) = 44721.36; LP supply = xcp (virtual price 1).
    np.testing.assert_allclose(venue.depth(state), math.sqrt(2e9), rtol=1e-15)
    np.testing.assert_allclose(state["lp_supply"], math.sqrt(2e9), rtol=1e-15)
    exact = CRV_ETH.exact()
    assert rel(venue.depth(state)[0], exact.get_xcp(exact.D) / E18) < 1e-15


def test_fee_away_from_balance_by_hand() -> None:
    venue = CRV_ETH.venue()
    state = venue.init_state(1)
    state["balances"][0] = [3000.0, 2e6]
    # K = 4 * 3000 * 1000 / 4000**2 = 0.75; f = 2.3e-4 / 0.25023; fee = 45 - 19 * f bps.
    f = 2.3e-4 / (2.3e-4 + 0.25)
    assert venue.fee_bps_now(state)[0] == pytest.approx(45.0 - 19.0 * f, rel=1e-14)


@settings(max_examples=25, deadline=None)
@given(move=st.floats(-0.3, 0.3).filter(lambda m: abs(m) > 0.01), coin=st.sampled_from([0, 1]))
def test_arbitrage_trade_maximises_profit_on_the_exact_pool(move: float, coin: int) -> None:
    # The arbitrageur's profit out(dx) - target * dx, evaluated with the integer get_dy, is largest at the size
    # the float pool chose: the marginal output there equals the target (a difference quotient of the integer
    # get_dy, whose fee is rounded to 1e-10, agrees to 1e-5).
    i, j = coin, 1 - coin
    venue = CRV_ETH.venue()
    state = venue.init_state(1)
    p_ij = venue.price(state, i, j)[0]
    target = p_ij * math.exp(move)
    exact = CRV_ETH.exact()
    d_i, d_j = venue.arbitrage(state, i, j, np.array([target]), np.array([np.inf]))
    sold, bought, price = (i, j, target) if d_i[0] > 0 else (j, i, 1 / target)
    dx = (d_i if sold == i else d_j)[0]
    assert dx > 0
    out = (-d_j if sold == i else -d_i)[0]
    dx_wei = int(dx * E18)
    assert rel(out, exact.get_dy(sold, bought, dx_wei) / E18) < RTOL

    def profit(amount: int) -> float:
        return exact.get_dy(sold, bought, amount) / E18 - price * amount / E18

    for k in (0.99, 0.999, 1.001, 1.01):
        assert profit(dx_wei) >= profit(int(dx_wei * k))
    h = dx_wei // 1000
    marginal = (exact.get_dy(sold, bought, dx_wei + h) - exact.get_dy(sold, bought, dx_wei - h)) / (2 * h)
    assert rel(marginal, price) < 1e-5


def test_arbitrage_inside_the_fee_band_does_nothing() -> None:
    venue = CRV_ETH.venue()
    state = venue.init_state(3)
    p = venue.price(state, 1, 0)[0]
    # The fee at balance is 26 bps: targets within 20 bps of the price are inside the band.
    target = np.array([p, p * (1 - 0.002), p * (1 + 0.002)])
    before = state.copy()
    d1, d0 = venue.arbitrage(state, 1, 0, target, np.full(3, np.inf))
    assert not d1.any() and not d0.any()
    for key, arr in before.arrays.items():
        np.testing.assert_array_equal(state[key], arr)


def test_arbitrage_respects_the_capital_cap() -> None:
    venue = CRV_ETH.venue()
    state = venue.init_state(2)
    p = venue.price(state, 1, 0)[0]
    target = np.array([p * 1.2, p / 1.2])  # CRV dear outside: buy CRV with ETH; CRV cheap: sell CRV
    cap_eth = np.array([3.0, 2.0])
    d1, d0 = venue.arbitrage(state, 1, 0, target, cap_eth)
    # Path 0 sells ETH worth at most 3 ETH; path 1 sells CRV worth at most 2 ETH at the target price.
    assert d0[0] == pytest.approx(3.0, rel=1e-15) and d1[0] < 0
    assert d1[1] * target[1] == pytest.approx(2.0, rel=1e-12) and d0[1] < 0


def test_sustained_move_follows_the_market_like_the_contract() -> None:
    # CRV doubles against ETH over 70 steps of 10 minutes; each step the arbitrageur trades the pool to the
    # market. The float pool is held to the integer contract on the same trades at every step, and the
    # internal price_scale follows the market (by about 10 % here: repegs are paid for out of fee profit),
    # which a fixed-curve (constant product or StableSwap) pool has no counterpart of.
    venue = CRV_ETH.venue()
    state = venue.init_state(1)
    exact = CRV_ETH.exact()
    p0 = venue.price(state, 1, 0)[0]
    budget = 0.0
    for step in range(1, 71):
        target = p0 * 2.0 ** (step / 70)
        exact.sleep(600)
        venue.advance(state, 600)
        budget += halfpow_error(exact)
        d1, d0 = venue.arbitrage(state, 1, 0, np.array([target]), np.array([np.inf]))
        if d1[0] > 0:
            exact.exchange(1, 0, round(d1[0] * E18))
        elif d0[0] > 0:
            exact.exchange(0, 1, round(d0[0] * E18))
        # The trade in wei is the float size rounded, so the states agree to the rounding of the input too.
        assert_same(state, 0, exact, 2 * RTOL + budget)
    assert state["price_scale"][0] > 1.05 * CRV_ETH.price / E18
    assert state["price_oracle"][0] > state["price_scale"][0]


def test_scale_liquidity_is_remove_liquidity() -> None:
    venue = CRV_ETH.venue()
    state = venue.init_state(2)
    exact = CRV_ETH.exact()
    venue.swap(state, 0, 1, np.array([5.0, 5.0]))
    exact.exchange(0, 1, 5 * E18)
    amount = exact.lp_supply // 4
    factor = 1 - (amount - 1) / exact.lp_supply
    exact.remove_liquidity(amount)
    vp = state["virtual_price"].copy()
    venue.scale_liquidity(state, np.array([factor, 0.0]))
    assert rel(state["balances"][0, 0], exact.balances[0] / E18) < RTOL
    assert rel(state["D"][0], exact.D / E18) < RTOL
    assert rel(venue.depth(state)[0], exact.get_xcp(exact.D) / E18) < RTOL
    np.testing.assert_array_equal(state["virtual_price"], vp)
    # A drained path cannot trade and has no depth.
    assert venue.swap(state, 0, 1, np.array([1.0, 1.0]))[1] == 0.0
    assert venue.depth(state)[1] == 0.0 and np.isnan(venue.price(state, 1, 0)[1])


def test_is_a_venue() -> None:
    venue = CRV_ETH.venue()
    assert isinstance(venue, Venue)
    assert venue.coins == ("c0", "c1")
    assert venue.fee_bps == 26.0
    # The engine reads a venue's ``gamma`` as the constant-product 1 - fee; the invariant's gamma is elsewhere.
    assert not hasattr(venue, "gamma") and venue.curve_gamma == CRV_ETH.gamma / E18


def test_parameter_errors() -> None:
    kw = dict(
        balances=[1.0, 1.0], A=400_000, gamma=1.45e-4, mid_fee_bps=26, out_fee_bps=45, fee_gamma=2.3e-4,
        price_scale=1.0, ma_half_time=600, allowed_extra_profit=2e-6, adjustment_step=1.46e-4,
    )  # fmt: skip
    with pytest.raises(
        ParameterError, match=r"^The 'A' parameter of CryptoSwapPool must be a real number in "
    ):
        CryptoSwapPool("p", ("a", "b"), **{**kw, "A": 10})
    with pytest.raises(
        ParameterError, match=r"'mid_fee_bps' parameter of CryptoSwapPool must be a real number"
    ):
        CryptoSwapPool("p", ("a", "b"), **{**kw, "mid_fee_bps": 50})
    with pytest.raises(ParameterError, match=r"'coins' parameter of CryptoSwapPool must be two distinct"):
        CryptoSwapPool("p", ("a", "a"), **kw)
    with pytest.raises(ParameterError, match=r"'balances' parameter of CryptoSwapPool must be two finite"):
        CryptoSwapPool("p", ("a", "b"), **{**kw, "balances": [1.0, -1.0]})
    venue = CryptoSwapPool("p", ("a", "b"), **kw)
    state = venue.init_state(2)
    with pytest.raises(ParameterError, match=r"'dx' parameter of swap must be an array of shape \(2,\)"):
        venue.swap(state, 0, 1, np.array([-1.0, 0.0]))
    with pytest.raises(ParameterError, match=r"'j' parameter of price must differ from i = 1"):
        venue.price(state, 1, 1)
    with pytest.raises(ParameterError, match=r"'seconds' parameter of advance"):
        venue.advance(state, -1.0)
    with pytest.raises(ParameterError, match=r"'state' parameter of depth must be a VenueState"):
        venue.depth(VenueState({"balances": np.ones((2, 2))}))


SPEC = dict(
    type="cryptoswap", name="crveth", coins=("ETH", "CRV"), balances=(1000.0, 2e6), A=400_000, gamma=1.45e-4,
    mid_fee_bps=26, out_fee_bps=45, fee_gamma=2.3e-4, price_scale=5e-4, ma_half_time=600,
    allowed_extra_profit=2e-6, adjustment_step=1.46e-4,
)  # fmt: skip


def spec_model() -> type:
    """``CryptoSwapSpec``, imported after ``firesale.scenario``.

    Once the scenario schema registers the spec, importing ``firesale.liquidity._cryptoswap_spec`` before the
    schema would be circular (the spec imports ``firesale.scenario._types``, whose package imports the schema,
    which imports the spec).
    """
    import firesale.scenario  # noqa: F401
    from firesale.liquidity._cryptoswap_spec import CryptoSwapSpec

    return CryptoSwapSpec


def test_spec_builds_the_pool() -> None:
    spec = spec_model().model_validate(SPEC)
    venue = spec.build()
    assert isinstance(venue, CryptoSwapPool)
    assert venue.admin_fee == 0.5 and venue.price_oracle == 5e-4
    state = venue.init_state(1)
    ref = CRV_ETH.venue().init_state(1)
    for key, arr in ref.arrays.items():
        np.testing.assert_array_equal(state[key], arr)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"mid_fee_bps": 50}, "'mid_fee_bps' must be <= 'out_fee_bps' \\(45\\), got 50"),
        ({"coins": ("ETH", "ETH")}, "'coins' must be two distinct coins"),
        ({"A": 10}, "greater than or equal to 4000"),
        ({"gamma": 0.5}, "less than or equal to 0.02"),
        ({"balances": (1.0, 0.0)}, "greater than 0"),
        ({"ma_half_time": 0}, "greater than 0"),
        ({"adjustment_step": 2.0}, "less than or equal to 1"),
        ({"fee": 3}, "Extra inputs are not permitted"),
    ],
)
def test_spec_rejects_bad_values(update: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec_model().model_validate({**SPEC, **update})


def test_state_copy_is_independent() -> None:
    venue = CRV_ETH.venue()
    state = venue.init_state(1)
    clone = copy.deepcopy(state)
    venue.swap(state, 0, 1, np.array([1.0]))
    assert clone["balances"][0, 0] == 1000.0
