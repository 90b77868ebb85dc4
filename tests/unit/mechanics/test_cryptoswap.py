"""firesale.mechanics.cryptoswap against hand calculations, the invariant solved independently, and the contract's
own tests.

The contract's test suite (curvefi/curve-crypto-contract ``tests/twocrypto/``, commit
d7d04cd9ae038970e40be850df99de8c1ff7241b) pins no literal outputs; it checks properties, which are transcribed
here with their tolerances or tighter ones:

- ``test_exchange.py``: ``get_dy`` equals what ``exchange`` pays, the pool's balances move by exactly ``dx`` and
  ``dy``.
- ``test_oracles.py``: ``last_prices`` is the trade's price (``approx(.., 2e-10)``); after ``t`` seconds the oracle
  is ``p1 * 0.5 ** (t / half_time) + p2 * (1 - ..)`` (``|log2| < 1e-3``); ``price_scale`` ends between the old
  scale and the last price; one repeg moves ``price_scale`` by ``max(adjustment_step, |log(p_o / p_s)| / 10)``
  (``|log(ratio)| < 0.2``).
- ``tests/tricrypto/test_math.py``: ``geometric_mean`` within ``max(1e-10, 1 / min(x))`` of the true mean.

The invariant is solved a second way with exact rational arithmetic (bisection on the whitepaper's equation), so
``newton_D`` and ``newton_y`` are checked against something that is not the contract's own iteration.

The CRV/ETH pool ``0x8301AE4fc9c624d1D396cbDAa1ed877821D7C511`` was deployed with the parameters in ``CRV_ETH``
(``scripts/deploy_mainnet_crv_pool.py``, commit 330175e17e5bab206f13d0a3a4b94bbcf07829ce).
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.cryptoswap import (
    CryptoSwapPool,
    geometric_mean,
    halfpow,
    newton_D,
    newton_y,
)

E18 = 10**18
CRV_ETH = dict(
    A=10 * 2**2 * 10_000,  # 400000
    gamma=int(1.45e-4 * 1e18),
    mid_fee=int(2.6e-3 * 1e10),
    out_fee=int(4.5e-3 * 1e10),
    allowed_extra_profit=2 * 10**12,
    fee_gamma=int(2.3e-4 * 1e18),
    adjustment_step=int(1.46e-4 * 1e18),
    admin_fee=5 * 10**9,
    ma_half_time=600,
)
CRV_PRICE = 5 * 10**14  # 0.0005 ETH per CRV


def crv_eth(price: int = CRV_PRICE, **over: int) -> CryptoSwapPool:
    return CryptoSwapPool(**{**CRV_ETH, **over}, initial_price=price)


def funded(eth: int = 1000) -> CryptoSwapPool:
    """A CRV/ETH pool after a balanced first deposit of ``eth`` ETH and its worth of CRV."""
    pool = crv_eth()
    pool.add_liquidity([eth * E18, eth * E18 * E18 // CRV_PRICE])
    return pool


def invariant(ann: int, gamma: int, x0: Fraction, x1: Fraction, d: Fraction) -> Fraction:
    """``S - D - D (g + 1 - K0)^2 (1 - K0) / (A g^2 K0)`` (whitepaper form divided by ``K D``), exact."""
    g = Fraction(gamma, E18)
    a = Fraction(ann, 10_000)
    k0 = 4 * x0 * x1 / (d * d)
    return x0 + x1 - d - d * (g + 1 - k0) ** 2 * (1 - k0) / (a * g * g * k0)


def bisect(f, lo: Fraction, hi: Fraction, n: int = 90) -> Fraction:
    flo = f(lo)
    for _ in range(n):
        mid = (lo + hi) / 2
        fm = f(mid)
        if (fm < 0) == (flo < 0):
            lo, flo = mid, fm
        else:
            hi = mid
    return (lo + hi) / 2


# ------------------------------------------------------------------------------------------------ math


def test_geometric_mean_by_hand() -> None:
    assert geometric_mean([4 * E18, E18], True) == 2 * E18
    assert geometric_mean([E18, 4 * E18], True) == 2 * E18
    assert geometric_mean([9 * E18, 9 * E18], False) == 9 * E18


@settings(max_examples=100, deadline=None)
@given(x0=st.integers(10**9, 10**27), x1=st.integers(10**9, 10**27))
def test_geometric_mean_matches_the_true_mean(x0: int, x1: int) -> None:
    # tests/tricrypto/test_math.py::test_geometric_mean: diff / val <= max(1e-10, 1 / min(x)).
    val = geometric_mean([x0, x1], True)
    true = math.isqrt(x0 * x1)
    assert abs(val - true) / val <= max(1e-10, 1 / min(x0, x1))


def test_halfpow_whole_powers_are_exact() -> None:
    # 1e18 / 2**intpow with no fractional part.
    assert halfpow(0) == E18
    assert halfpow(E18) == E18 // 2
    assert halfpow(3 * E18) == E18 // 8
    assert halfpow(59 * E18) == E18 // 2**59
    assert halfpow(60 * E18) == 0


@settings(max_examples=60, deadline=None)
@given(power=st.floats(0.0, 20.0))
def test_halfpow_is_within_its_series_precision(power: float) -> None:
    p = int(power * E18)
    true = 0.5 ** (p / E18)
    # The series stops at a term below EXP_PRECISION = 1e10 (1e-8 of 1e18); the power of 2 scales the error.
    assert abs(halfpow(p) / E18 - true) <= 1e-8 * 0.5 ** (p // E18) + 1e-18


@pytest.mark.parametrize("x", [10**18, 12345 * 10**18, 10**30])
def test_newton_D_at_balance_is_the_sum(x: int) -> None:
    # K0 = 1 at x0 = x1: the invariant holds at D = x0 + x1, which is also the starting guess 2 sqrt(x0 x1), and
    # the first Newton step returns it unchanged (D_plus - D_minus = D exactly).
    assert newton_D(CRV_ETH["A"], CRV_ETH["gamma"], [x, x]) == 2 * x


@settings(max_examples=25, deadline=None)
@given(
    ann=st.integers(40_000, 40_000_000),
    gamma=st.integers(10**11, 2 * 10**16),
    x0=st.integers(10**20, 10**27),
    ratio=st.floats(0.02, 50.0),
)
def test_newton_D_solves_the_invariant(ann: int, gamma: int, x0: int, ratio: float) -> None:
    x1 = int(x0 * ratio)
    d = newton_D(ann, gamma, [x0, x1])
    fx0, fx1 = Fraction(x0, E18), Fraction(x1, E18)
    lo = 2 * Fraction(math.isqrt(x0 * x1), E18) * (1 - Fraction(1, 10**12))
    ref = bisect(lambda dd: invariant(ann, gamma, fx0, fx1, dd), lo, (fx0 + fx1) * (1 + Fraction(1, 10**12)))
    # newton_D stops when a step is below max(1e16, D) / 1e14.
    assert abs(Fraction(d, E18) - ref) / ref < 1e-13


@settings(max_examples=25, deadline=None)
@given(
    ann=st.integers(40_000, 40_000_000),
    gamma=st.integers(10**11, 2 * 10**16),
    d=st.integers(10**20, 10**27),
    frac=st.floats(0.05, 20.0),
    i=st.sampled_from([0, 1]),
)
def test_newton_y_solves_the_invariant(ann: int, gamma: int, d: int, frac: float, i: int) -> None:
    x_j = int(d * frac / 2)
    x = [x_j, x_j]
    y = newton_y(ann, gamma, x, d, i)
    fd, fxj = Fraction(d, E18), Fraction(x_j, E18)
    ref = bisect(lambda yy: invariant(ann, gamma, fxj, yy, fd), fd / 10**6, fd * fd / (4 * fxj) * 2)
    assert abs(Fraction(y, E18) - ref) / ref < 1e-13


def test_math_range_reverts() -> None:
    a, g = CRV_ETH["A"], CRV_ETH["gamma"]
    with pytest.raises(Revert, match=r"^dev: unsafe values A$"):
        newton_D(3999, g, [E18, E18])
    with pytest.raises(Revert, match=r"^dev: unsafe values gamma$"):
        newton_D(a, 10**10 - 1, [E18, E18])
    with pytest.raises(Revert, match=r"^dev: unsafe values x\[0\]$"):
        newton_D(a, g, [10**8, 10**8])
    with pytest.raises(Revert, match=r"^dev: unsafe values x\[i\] \(input\)$"):
        newton_D(a, g, [10**22, 10**17])
    with pytest.raises(Revert, match=r"^dev: unsafe values D$"):
        newton_y(a, g, [E18, E18], 10**17 - 1, 1)
    with pytest.raises(Revert, match=r"^dev: unsafe values x\[i\]$"):
        newton_y(a, g, [10**24, 10**24], 10**21, 1)


# ------------------------------------------------------------------------------------------------ pool


def test_first_deposit_by_hand() -> None:
    pool = funded(1000)
    # xp = [1000e18, 2e24 * 5e14 / 1e18 = 1000e18]: balanced, so D = 2000e18.
    assert pool.xp() == [1000 * E18, 1000 * E18]
    assert pool.D == 2000 * E18
    # get_xcp(D) = sqrt(D/2 * D/(2 p)) = sqrt(1e21 * 2e24); the first deposit mints it (virtual price 1).
    assert abs(pool.lp_supply - math.isqrt(10**21 * 2 * 10**24)) <= 1
    assert pool.virtual_price == E18 and pool.xcp_profit == E18
    assert pool.get_virtual_price() == E18 or abs(pool.get_virtual_price() - E18) <= 1


def test_fee_by_hand() -> None:
    pool = funded(1000)
    # At balance K = 4 x0 x1 / (x0 + x1)^2 = 1, f = fee_gamma / fee_gamma = 1: the fee is mid_fee.
    assert pool.fee() == CRV_ETH["mid_fee"]
    # xp = [3000e18, 1000e18]: K = 4 * 3 / 16 = 0.75 exactly; f = 2.3e-4 / (2.3e-4 + 0.25) = 9.19154...e-4,
    # 1e18-scaled 2.3e32 // 250230000000000000 = 919154377972265; fee = 45e6 - 19e6 * f = 44982536.1 -> floor.
    pool.balances = [3000 * E18, 2 * 10**24]
    assert pool.fee() == 44_982_536


@settings(max_examples=40, deadline=None)
@given(frac=st.floats(-4.0, -0.7), i=st.sampled_from([0, 1]))
def test_get_dy_equals_exchange(frac: float, i: int) -> None:
    # tests/twocrypto/test_exchange.py::test_exchange.
    pool = funded(1000)
    j = 1 - i
    dx = int(pool.balances[i] * 10**frac)
    calculated = pool.get_dy(i, j, dx)
    before = list(pool.balances)
    dy = pool.exchange(i, j, dx, int(0.999 * calculated))
    assert dy == calculated
    assert pool.balances[i] - before[i] == dx
    assert before[j] - pool.balances[j] == dy


@settings(max_examples=40, deadline=None)
@given(frac=st.floats(-4.0, -0.7), i=st.sampled_from([0, 1]))
def test_last_price_is_the_trade_price(frac: float, i: int) -> None:
    # tests/twocrypto/test_oracles.py::test_last_price_exchange (there within 2e-10; here exact).
    pool = funded(1000)
    dx = int(pool.balances[i] * 10**frac)
    dy = pool.exchange(i, 1 - i, dx)
    assert pool.last_prices == (dx * E18 // dy if i == 0 else dy * E18 // dx)
    # The oracle did not move: no time has passed since the last update.
    assert pool.price_oracle == CRV_PRICE


@settings(max_examples=30, deadline=None)
@given(frac=st.floats(-3.0, -0.7), i=st.sampled_from([0, 1]), t=st.integers(10, 10 * 86400))
def test_price_oracle_is_the_ema(frac: float, i: int, t: int) -> None:
    # tests/twocrypto/test_oracles.py::test_ma: there |log2(theory / p3)| < 1e-3; halfpow allows 1e-8.
    pool = funded(1000)
    pool.exchange(i, 1 - i, int(pool.balances[i] * 10**frac))
    p2 = pool.last_prices
    pool.sleep(t)
    pool.exchange(0, 1, 10**15)
    alpha = 0.5 ** (t / 600)
    theory = CRV_PRICE * alpha + p2 * (1 - alpha)
    assert abs(pool.price_oracle / theory - 1) < 1e-8


@settings(max_examples=30, deadline=None)
@given(frac=st.floats(-3.0, -0.7), i=st.sampled_from([0, 1]), t=st.integers(0, 10 * 86400))
def test_price_scale_stays_between_old_scale_and_last_price(frac: float, i: int, t: int) -> None:
    # tests/twocrypto/test_oracles.py::test_price_scale_range.
    pool = funded(1000)
    pool.exchange(i, 1 - i, int(pool.balances[i] * 10**frac))
    p2 = pool.last_prices
    pool.sleep(t)
    pool.exchange(0, 1, 10**15)
    p1, p3 = CRV_PRICE, pool.price_scale
    assert min(p1, p2) <= p3 <= max(p1, p2)


@pytest.mark.parametrize("i", [0, 1])
def test_one_repeg_moves_price_scale_by_the_adjustment_step(i: int) -> None:
    # tests/twocrypto/test_oracles.py::test_price_scale_change, with this pool's parameters: a large trade and
    # a partial reverse trade, a day's wait, then a small trade; the move of log(price_scale) is
    # max(adjustment_step, |log(p_o / p_s)| / 10) to within |log(ratio)| < 0.2.
    pool = funded(1000)
    j = 1 - i
    amount = pool.balances[i] // 10
    out = pool.exchange(i, j, amount)
    pool.exchange(j, i, int(out * 0.95))
    scale_1 = pool.price_scale
    pool.sleep(86400)
    pool.exchange(0, 1, E18)
    step = max(CRV_ETH["adjustment_step"] / 1e18, abs(math.log(pool.price_oracle / pool.price_scale)) / 10)
    diff = abs(math.log(pool.price_scale / scale_1))
    assert diff > 0 and abs(math.log(diff / step)) < 0.2
    assert abs(pool.virtual_price / pool.get_virtual_price() - 1) < 1e-10


def test_zero_fee_swap_keeps_D() -> None:
    # Without a fee the trade moves along the curve of D: tweak_price recomputes D from the new balances and
    # finds the same invariant, up to the one unit the contract keeps and newton_y's 1e-14 tolerance.
    pool = crv_eth(mid_fee=0, out_fee=0)
    pool.add_liquidity([1000 * E18, 2 * 10**24])
    d0 = pool.D
    dy = pool.get_dy(0, 1, 10 * E18)
    # The balances after the trade, set directly: with no fee, rounding alone may make tweak_price revert.
    pool.balances = [1010 * E18, 2 * 10**24 - dy]
    d1 = newton_D(pool.A, pool.gamma, pool.xp())
    assert abs(d1 - d0) / d0 < 1e-13


def test_sustained_move_repegs_towards_the_market() -> None:
    # CRV/ETH parameters: 5 ETH of CRV is bought every 10 minutes for 5 hours. The fees fund repegs: each moves
    # price_scale by p_new = (p_s (norm - step) + step p_o) / norm with norm = |p_o / p_s - 1| and step =
    # max(adjustment_step, norm / 10), i.e. log-free relative move step * (p_o - p_s) / (p_s norm).
    pool = funded(1000)
    moves = 0
    for _ in range(30):
        pool.sleep(600)
        scale = pool.price_scale
        pool.exchange(0, 1, 5 * E18)
        if pool.price_scale != scale:
            moves += 1
            norm = abs(pool.price_oracle / scale - 1)
            step = max(CRV_ETH["adjustment_step"] / 1e18, norm / 10)
            expected = step * (pool.price_oracle - scale) / (scale * norm)
            assert pool.price_scale / scale - 1 == pytest.approx(expected, rel=1e-9)
        assert pool.price_scale <= max(pool.price_oracle, CRV_PRICE)
    assert moves >= 5
    assert pool.price_scale > CRV_PRICE * 103 // 100
    assert pool.price_oracle > pool.price_scale
    assert pool.virtual_price > E18


def test_norm_guard_flags_only_a_possible_repeg() -> None:
    # A first trade earns fees (virtual price above half the profit plus 2e-6) while the oracle still equals
    # price_scale (no time passed, norm = 0). The deployed CRV/ETH contract flags an adjustment anyway
    # (not_adjusted = True); the later CurveCryptoSwap2ETH.vy requires norm > adjustment_step first.
    deployed = funded(1000)
    deployed.exchange(0, 1, 10 * E18)
    later = CryptoSwapPool(**CRV_ETH, initial_price=CRV_PRICE, norm_guard=True)
    later.add_liquidity([1000 * E18, 1000 * E18 * E18 // CRV_PRICE])
    later.exchange(0, 1, 10 * E18)
    assert deployed.virtual_price * 2 - E18 > deployed.xcp_profit + 2 * CRV_ETH["allowed_extra_profit"]
    assert deployed.not_adjusted is True
    assert later.not_adjusted is False
    assert (later.D, later.virtual_price, later.price_scale) == (
        deployed.D,
        deployed.virtual_price,
        CRV_PRICE,
    )


def test_admin_fee_claim_by_hand() -> None:
    # _claim_admin_fees with xcp_profit = 1.0002, xcp_profit_a = 1, virtual_price = 1.0001 and admin_fee 50 %:
    # fees = 2e14 * 5e9 // 2e10 = 5e13; frac = vp / (vp - fees) - 1 = 5e13 / 1.00005e18 = 4.999750012499375e-5,
    # 1e18-scaled and floored 49997500124993; mint_relative mints supply * frac // 1e18; xcp_profit falls by 2 fees to 1.0001e18 and
    # becomes xcp_profit_a; the virtual price is recomputed on the larger supply.
    pool = funded(1000)
    supply = pool.lp_supply
    pool.xcp_profit, pool.xcp_profit_a, pool.virtual_price = 10002 * 10**14, E18, 10001 * 10**14
    pool._claim_admin_fees()
    frac = 10001 * 10**14 * E18 // (10001 * 10**14 - 5 * 10**13) - E18
    assert frac == 49_997_500_124_993
    assert pool.admin_lp == supply * frac // E18
    assert pool.lp_supply == supply + supply * frac // E18
    assert pool.xcp_profit == pool.xcp_profit_a == 10001 * 10**14
    assert pool.virtual_price == 10**18 * pool.get_xcp(pool.D) // pool.lp_supply


def test_claims_happen_when_a_repeg_is_refused() -> None:
    pool = funded(1000)
    for _ in range(200):
        pool.sleep(600)
        before = pool.lp_supply
        pool.exchange(0, 1, 5 * E18)
        if pool.admin_lp > 0:
            break
    else:
        pytest.fail("no admin fee claim in 200 trades")
    assert pool.admin_lp == pool.lp_supply - before > 0
    assert pool.xcp_profit_a == pool.xcp_profit
    assert pool.not_adjusted is False


def test_add_liquidity_one_sided_mints_less_than_balanced() -> None:
    balanced = funded(1000)
    one_sided = funded(1000)
    a = balanced.add_liquidity([10 * E18, 10 * E18 * E18 // CRV_PRICE])
    b = one_sided.add_liquidity([20 * E18, 0])
    assert 0 < b < a
    # A balanced deposit of 1 % of the pool mints about 1 % of the supply less the NOISE_FEE of 1e-5.
    assert abs(a / (balanced.lp_supply - a) - 0.01) < 0.01 * 2e-5


def test_calc_token_amount_equals_add_liquidity_when_no_repeg() -> None:
    pool = funded(1000)
    amounts = [10 * E18, 10 * E18 * E18 // CRV_PRICE]
    assert pool.calc_token_amount(amounts) == pool.add_liquidity(amounts)


def test_remove_liquidity_pro_rata() -> None:
    pool = funded(1000)
    supply, d, b = pool.lp_supply, pool.D, list(pool.balances)
    out = pool.remove_liquidity(supply // 4)
    amount = supply // 4 - 1
    assert out == [b[0] * amount // supply, b[1] * amount // supply]
    assert d - d * amount // supply == pool.D
    assert pool.lp_supply == supply - supply // 4


def test_reverts_leave_the_state_unchanged() -> None:
    pool = funded(1000)
    state = {k: (list(v) if isinstance(v, list) else v) for k, v in vars(pool).items()}
    dy = pool.get_dy(0, 1, E18)
    with pytest.raises(Revert, match=r"^Slippage$"):
        pool.exchange(0, 1, E18, dy + 1)
    assert vars(pool) == state
    with pytest.raises(Revert, match=r"^dev: do not exchange 0 coins$"):
        pool.exchange(0, 1, 0)
    with pytest.raises(Revert, match=r"^dev: coin index out of range$"):
        pool.exchange(1, 1, E18)
    with pytest.raises(Revert, match=r"^dev: no coins to add$"):
        pool.add_liquidity([0, 0])
    with pytest.raises(Revert, match=r"^Slippage$"):
        pool.add_liquidity([E18, 0], 10**30)
    assert vars(pool) == state


def test_parameter_errors() -> None:
    with pytest.raises(
        ParameterError,
        match=r"^The 'A' parameter of CryptoSwapPool must be an int in \[4000, 4000000000\]\. Got 1 ",
    ):
        crv_eth(A=1)
    with pytest.raises(
        ParameterError, match=r"'mid_fee' parameter of CryptoSwapPool must be an int in \[0, 45000000\]"
    ):
        crv_eth(mid_fee=50_000_000)
    with pytest.raises(ParameterError, match=r"'dx' parameter of exchange must be an int"):
        funded().exchange(0, 1, -1)
    with pytest.raises(
        ParameterError, match=r"'amounts' parameter of add_liquidity must be a sequence of 2 ints"
    ):
        funded().add_liquidity([1, 2, 3])


@settings(max_examples=20, deadline=None)
@given(
    trades=st.lists(
        st.tuples(st.sampled_from([0, 1]), st.floats(-3.0, -1.0), st.integers(0, 3600)), max_size=8
    )
)
def test_profit_accounting_over_swaps(trades: list[tuple[int, float, int]]) -> None:
    # tweak_price reverts with "Loss" when a swap lowers the virtual price (no ramp): fees make every swap
    # profitable, so none of these reverts.
    pool = funded(1000)
    for i, frac, t in trades:
        pool.sleep(t)
        admin, vp, profit, scale = pool.admin_lp, pool.virtual_price, pool.xcp_profit, pool.price_scale
        pool.exchange(i, 1 - i, int(pool.balances[i] * 10**frac))
        claimed = pool.admin_lp > admin
        # A swap alone never lowers the profit counter; a claim gives the admin its share of it.
        assert pool.xcp_profit >= profit or claimed
        if pool.price_scale != scale:
            # A repeg spends profit, but keeps the virtual price above half of it.
            assert 2 * pool.virtual_price - E18 > pool.xcp_profit
        else:
            # Otherwise only a claim (LP tokens minted to the admin) lowers the virtual price.
            assert pool.virtual_price >= vp or claimed
