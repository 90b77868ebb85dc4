"""Properties of firesale.mechanics.stableswap that hold for every Curve StableSwap contract family.

Pools are drawn in the range the engine uses: 2 to 4 coins of 18 or 6 decimals, 1e3 to 1e9 tokens, no coin
below 5 % of an equal share's weight, A from 1 to 5000.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings, strategies as st

from firesale.mechanics.stableswap import (
    A_PRECISION,
    A_PRECISION_GUARDED,
    NG,
    ORIGINAL,
    PRECISION,
    Convention,
    StableSwapPool,
)

ALL = [ORIGINAL, A_PRECISION, A_PRECISION_GUARDED, NG]


@dataclass
class Case:
    convention: Convention
    balances: list[int]
    rates: list[int]
    A: int


@st.composite
def cases(draw: st.DrawFn, decimals: tuple[int, ...] = (18, 6)) -> Case:
    convention = draw(st.sampled_from(ALL))
    n = draw(st.integers(2, 4))
    dec = [draw(st.sampled_from(decimals)) for _ in range(n)]
    log_total = draw(st.floats(3.0, 9.0))
    weights = [draw(st.floats(0.05, 0.95)) for _ in range(n)]
    total = 10**log_total
    balances = [int(total * w / sum(weights) * 10**d) for w, d in zip(weights, dec, strict=True)]
    return Case(convention, balances, [10 ** (36 - d) for d in dec], draw(st.integers(1, 5000)))


def make(case: Case, fee: int, admin_fee: int) -> StableSwapPool:
    pool = StableSwapPool(case.balances, case.rates, case.A, fee, admin_fee, 1, convention=case.convention)
    pool.lp_supply = pool.get_D(pool.xp(), pool.amp)  # a fresh pool: virtual price 1
    return pool


@st.composite
def trades(draw: st.DrawFn, n: int, balances: list[int]) -> tuple[int, int, int]:
    i, j = draw(st.permutations(range(n)))[:2]
    dx = int(balances[i] * 10 ** draw(st.floats(-6.0, 0.0)))
    return i, j, max(dx, 1)


def dD_dxj(pool: StableSwapPool, j: int) -> float:
    """dD/dx_j from the implicit function theorem on F = Ann S + D - Ann D - D_P D (D_P = D^n / (n^n prod x)).

    dF/dx_j = Ann + D_P / x_j and dF/dD = 1 - Ann - (n + 1) D_P / D, with Ann = A n.
    """
    xp = [float(x) for x in pool.xp()]
    n = len(xp)
    d = float(pool.get_D(pool.xp(), pool.amp))
    d_p = d
    for x in xp:
        d_p = d_p * d / (x * n)
    ann = pool.A * n
    return (ann + d_p / xp[j]) / (ann - 1 + (n + 1) * d_p / d)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), case=cases(decimals=(18,)))
def test_zero_fee_swap_keeps_D_up_to_one_unit_per_coin(data: st.DataObject, case: Case) -> None:
    """A fee-free swap leaves ``x_j = y + 1`` with ``y`` Newton's root within one unit: D moves only by rounding.

    ``get_D`` is itself exact to one unit either way, so ``D_after - D_before`` lies in
    ``[-2, 2 + 2 dD/dx_j]``: one unit of D for each ``get_D`` and at most two units of ``x_j`` (the unit the
    contract keeps and ``y``'s own rounding) valued at ``dD/dx_j``, which grows as coin ``j`` gets scarce.
    """
    pool = make(case, 0, 0)
    i, j, dx = data.draw(trades(pool.n_coins, pool.balances))
    d0 = pool.get_D(pool.xp(), pool.amp)
    pool.exchange(i, j, dx)
    d1 = pool.get_D(pool.xp(), pool.amp)
    assert -2 <= d1 - d0 <= 2 + 2 * dD_dxj(pool, j)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), case=cases(), fee=st.sampled_from([10**6, 4 * 10**6, 3 * 10**7]))
def test_fees_never_decrease_D(data: st.DataObject, case: Case, fee: int) -> None:
    admin_fee = data.draw(st.sampled_from([0, 5 * 10**9]))  # at 100 % admin fee the LPs keep nothing
    pool = make(case, fee, admin_fee)
    i, j, dx = data.draw(trades(pool.n_coins, pool.balances))
    d0 = pool.get_D(pool.xp(), pool.amp)
    pool.exchange(i, j, dx)
    assert pool.get_D(pool.xp(), pool.amp) >= d0


@settings(max_examples=40, deadline=None)
@given(data=st.data(), case=cases(), fee=st.sampled_from([10**6, 4 * 10**6]))
def test_virtual_price_never_falls_across_swaps(data: st.DataObject, case: Case, fee: int) -> None:
    """Curve's own test_virtual_price_increases, in the pool's operating range.

    Each trade sells at most a fifth of the bought coin's balance (at par), so four trades cannot drain a coin
    into the extreme imbalance where the A_PRECISION templates' get_D stops converging and reverts.
    """
    pool = make(case, fee, 5 * 10**9)
    vp = pool.get_virtual_price()
    assert vp == PRECISION
    for _ in range(data.draw(st.integers(1, 4))):
        i, j = data.draw(st.permutations(range(pool.n_coins)))[:2]
        at_par = pool.balances[j] * pool.rates[j] // pool.rates[i]
        dx = max(1, int(at_par * 0.2 * 10 ** data.draw(st.floats(-6.0, 0.0))))
        pool.exchange(i, j, dx)
        new_vp = pool.get_virtual_price()
        assert new_vp >= vp
        vp = new_vp


@settings(max_examples=60, deadline=None)
@given(data=st.data(), case=cases(), fee=st.sampled_from([0, 4 * 10**6]))
def test_exchange_is_get_dy_and_conserves_coins(data: st.DataObject, case: Case, fee: int) -> None:
    pool = make(case, fee, 5 * 10**9)
    i, j, dx = data.draw(trades(pool.n_coins, pool.balances))
    before = list(pool.balances)
    quote = pool.get_dy(i, j, dx)
    dy = pool.exchange(i, j, dx)
    # ORIGINAL's view takes the fee in coin units after conversion; the exchange (and every later view) before.
    assert abs(dy - quote) <= (1 if case.convention is ORIGINAL else 0)
    assert pool.balances[i] == before[i] + dx
    assert pool.balances[j] + dy + pool.admin_balances[j] == before[j]


@settings(max_examples=40, deadline=None)
@given(case=cases(), share=st.floats(1e-4, 0.3), i=st.integers(0, 3))
def test_withdraw_one_coin_pays_its_quote_and_lifts_virtual_price(case: Case, share: float, i: int) -> None:
    pool = make(case, 4 * 10**6, 5 * 10**9)
    i %= pool.n_coins
    amount = int(pool.lp_supply * share)
    vp = pool.get_virtual_price()
    quote = pool.calc_withdraw_one_coin(amount, i)
    assert pool.remove_liquidity_one_coin(amount, i) == quote
    assert pool.get_virtual_price() >= vp


@settings(max_examples=40, deadline=None)
@given(data=st.data(), case=cases(decimals=(18,)))
def test_conventions_differ_only_in_rounding(data: st.DataObject, case: Case) -> None:
    """The same A through each family's scaling gives the same swap to within a few units of 1e-18."""
    i, j, dx = data.draw(trades(len(case.balances), case.balances))
    outs = [
        StableSwapPool(case.balances, case.rates, case.A, 4 * 10**6, 0, 1, convention=c).get_dy(i, j, dx)
        for c in ALL
    ]
    assert max(outs) - min(outs) <= 4 + max(outs) // 10**15
