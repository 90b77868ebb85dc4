"""The exact Synthetix debt pool (firesale.mechanics.synthetix) by hand, and the vectorized model held to it."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import event, given, settings, strategies as st

from firesale.mechanics import Revert, synthetix as sx
from firesale.protocols.base import LiquidatorCapacity, RoundInputs
from firesale.protocols.synthetix import SynthetixPool, SynthetixSpec
from firesale.testing import flat_quotes

W = sx.UNIT


def _pool(stakers, susd, seth=0, eth=2000, snx=10, penalty="0.3", delay=43_200, flag=0, liq=0) -> sx.DebtPool:
    pool = sx.DebtPool(issuance_ratio=sx.wad("0.25"), liquidation_ratio=sx.divide_decimal_round(W, sx.wad("1.5")),
                       penalty=sx.wad(penalty), liquidation_delay=delay, flag_reward=sx.wad(flag),
                       liquidate_reward=sx.wad(liq), supplies={"sUSD": sx.wad(susd), "sETH": sx.wad(seth)},
                       rates={"sETH": sx.wad(eth)}, snx_rate=sx.wad(snx))  # fmt: skip
    for i, (coll, debt) in enumerate(stakers):
        pool.snx[f"s{i}"] = sx.wad(coll)
        pool.shares[f"s{i}"] = sx.wad(debt)  # one share per dollar at the start (ratio 1)
    return pool


def test_debt_shares_after_a_synth_price_move_by_hand():
    # 500 sUSD + 0.25 sETH at 2000 = 1000 USD owed by shares 300 and 700; ETH to 2800: 1200 USD, 1.2 per share.
    pool = _pool([(1000, 300), (2000, 700)], susd=500, seth="0.25")
    assert pool.ratio() == 10**27
    pool.rates["sETH"] = sx.wad(2800)
    assert pool.ratio() == sx.wad("1.2") * 10**9
    assert pool.debt_balance_of("s0") == sx.wad(360) and pool.debt_balance_of("s1") == sx.wad(840)
    # Issuing 120 sUSD at 1.2 per share mints 100 shares; burning them takes the 100 back; the ratio stays at 1.2.
    pool.issue_synths("s1", sx.wad(120))
    assert pool.shares["s1"] == sx.wad(800) and pool.ratio() == sx.wad("1.2") * 10**9
    assert pool.burn_synths("s1", sx.wad(120)) == sx.wad(120) and pool.shares["s1"] == sx.wad(700)
    # s0 may issue up to 1000 SNX * 10 USD / 4 = 2500 less its 360 of debt: 2140, not one more.
    with pytest.raises(Revert, match="Amount too large"):
        pool.issue_synths("s0", sx.wad(2141))
    pool.issue_synths("s0", sx.wad(2140))
    assert pool.debt_balance_of("s0") == sx.wad(2500)


def test_staker_liquidation_by_hand():
    # The hand case of tests/unit/protocols/test_synthetix.py: S = 450 / 0.675, 86.667 SNX taken, ratio 3 after.
    pool = _pool([(100, 700), (1000, 300)], susd=1000)
    with pytest.raises(Revert, match="Account issuance ratio is less than liquidation ratio"):
        pool.flag_account("s1", 0)
    pool.flag_account("s0", 0)
    assert not pool.is_liquidation_open("s0", 43_200)
    redeemed, removed = pool.liquidate_delinquent_account("s0", 43_201)
    assert removed == pytest.approx(450 / 0.675 * W, rel=1e-15)
    assert redeemed == pytest.approx(450 / 0.675 * 1.3 / 10 * W, rel=1e-15)
    assert pool.ratio() == pytest.approx(3 * 10**27, rel=1e-15)
    assert pool.debt_balance_of("s0") == pytest.approx(100 * W, rel=1e-15)
    assert pool.collateral("s0") == pytest.approx(22 * W, rel=1e-15)
    assert pool.collateral("s1") == pytest.approx(1078 * W, rel=1e-15)


def test_amount_to_fix_collateral_formula():
    # (D - V r) / (1 - (1 + P) r) with D = 700, V = 1000, r = 0.25, P = 0.3: 450 / 0.675 = 666.666...
    assert sx.calculate_amount_to_fix_collateral(
        sx.wad(700), sx.wad(1000), sx.wad("0.3"), sx.wad("0.25")
    ) == (450 * W * W // sx.wad("0.675"))
    with pytest.raises(Revert, match="SafeMath: subtraction overflow"):
        sx.calculate_amount_to_fix_collateral(sx.wad(100), sx.wad(1000), sx.wad("0.3"), sx.wad("0.25"))


def _model(stakers, susd, seth, penalty, flag, liq) -> SynthetixPool:
    spec = SynthetixSpec.model_validate({
        "name": "snx", "type": "synthetix", "token_oracle": "snx", "susd_venues": ["v"],
        "susd_supply": susd, "target_cratio": 4.0, "liquidation_cratio": 1.5, "liquidation_penalty": penalty,
        "liquidation_delay_s": 43_200.0, "flag_reward": flag, "liquidate_reward": liq,
        "synths": [{"asset": "sETH", "supply": seth, "oracle": "eth"}],
        "stakers": [{"snx": c, "debt": d} for c, d in stakers],
    } | ({"token_venues": ["v"]} if flag or liq else {}))  # fmt: skip
    sc = SimpleNamespace(spec=SimpleNamespace(
        assets=[SimpleNamespace(name=a, price=p) for a, p in (("SNX", 10.0), ("sUSD", 1.0), ("sETH", 2000.0))],
        oracles=[SimpleNamespace(name="snx"), SimpleNamespace(name="eth")], venues=[SimpleNamespace(name="v")]))  # fmt: skip
    return SynthetixPool.build(spec, sc)


@settings(max_examples=60, deadline=None)
@given(
    books=st.lists(st.tuples(st.floats(2.0, 10.0), st.integers(10, 3000)), min_size=2, max_size=5),
    seth_share=st.floats(0.0, 0.8),
    eth_move=st.floats(0.5, 2.0),
    snx_price=st.floats(1.5, 10.0),
    penalty=st.sampled_from(["0.1", "0.2", "0.3"]),
    rewards=st.sampled_from([(0, 0), (1, 2)]),
)
def test_vectorized_model_equals_the_exact_pool(books, seth_share, eth_move, snx_price, penalty, rewards):
    # A pool whose debt is part sUSD, part sETH; stakers start at collateral ratios 200-1000 % at SNX = 10; ETH
    # moves, SNX falls to 1.5-10; every staker below 150 % is flagged and, after the delay, liquidated in staker
    # order. Debts, SNX and the keepers' rewards must agree with the exact pool to 1e-9 relative.
    stakers = [(round(c * d / 10.0, 6), d) for c, d in books]
    debt = sum(d for _, d in stakers)
    seth = round(debt * seth_share / 2000.0, 6)
    susd = debt - seth * 2000.0
    eth = round(2000.0 * eth_move, 4)
    snx = round(snx_price, 4)
    pool = _pool(stakers, susd=f"{susd:.6f}", seth=f"{seth:.6f}", eth=f"{eth:.4f}", snx=f"{snx:.4f}",
                 penalty=penalty, flag=rewards[0], liq=rewards[1])  # fmt: skip
    m = _model(stakers, susd, seth, float(penalty), float(rewards[0]), float(rewards[1]))
    state = m.init_state(2)
    prices = np.array([[snx, 1.0, eth]] * 2)

    def rnd(t: float) -> None:
        m.round(state, RoundInputs(time=t, oracle=prices, market=prices, active=np.ones(2, dtype=bool),
                                   liquidators=LiquidatorCapacity(np.full(2, 100, np.int64), np.full(2, 1e12),
                                                                  np.zeros(2), 0.0),
                                   quotes=flat_quotes(2, 3)))  # fmt: skip

    rnd(0.0)
    names = [f"s{i}" for i in range(len(stakers))]
    for a in names:
        with contextlib.suppress(Revert):  # not below the liquidation ratio
            pool.flag_account(a, 0)
    flagged = [a in pool.deadlines for a in names]
    assert list(~np.isnan(state["deadline"][0])) == flagged
    rnd(43_201.0)
    for a in names:
        if pool.is_liquidation_open(a, 43_201):
            pool.liquidate_delinquent_account(a, 43_201)
    event(f"liquidated {int(state['n_liquidated'][0])} of {len(stakers)}")
    debts = m.debts(state, prices)[0]
    for j, a in enumerate(names):
        assert debts[j] == pytest.approx(pool.debt_balance_of(a) / W, rel=1e-9, abs=1e-9)
        assert state["snx"][0, j] == pytest.approx(pool.collateral(a) / W, rel=1e-9, abs=1e-9)
    assert m.total_debt(state, prices)[0] == pytest.approx(pool.total_issued() / W, rel=1e-9)
    assert state["keepers_snx"][0] == pytest.approx(pool.keepers_snx / W, rel=1e-9, abs=1e-12)
