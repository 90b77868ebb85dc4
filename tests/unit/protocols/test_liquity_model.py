"""The vectorized Liquity model against the exact mechanics (firesale.mechanics.liquity), by hand, and properties.

Expected values come from :class:`firesale.mechanics.liquity.TroveManager` (integer, contract-faithful) driven through
the same troves, pool and price, or from arithmetic written out in the test.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st
from pydantic import ValidationError

from firesale.mechanics import Revert
from firesale.mechanics.liquity import Status, TroveManager
from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.liquity import LiquityModel, LiquitySpec

E18 = 10**18
# Hypothesis's timing health checks would make the tests depend on the machine's load
SLOW = [HealthCheck.too_slow]
NOW = 1_700_000_000
OPEN_PRICE = 2000


def inputs(n_paths: int, price: float, lusd_price: float = 1.0, capital: float = 0.0) -> RoundInputs:
    size = np.array([0.0, 1e12])
    curve = np.zeros((n_paths, 2, 2))
    curve[:, :, 1] = 1e12
    return RoundInputs(
        time=float(NOW), oracle=np.tile([price, 1.0], (n_paths, 1)), market=np.tile([price, lusd_price], (n_paths, 1)),
        active=np.ones(n_paths, dtype=bool),
        liquidators=LiquidatorCapacity(
            slots=np.full(n_paths, 100, dtype=np.int64), capital_usd=np.full(n_paths, capital),
            gas_usd=np.zeros(n_paths), min_profit_usd=0.0,
        ),
        quotes=SaleQuotes(size_usd=size, proceeds=lambda paths, assets: curve),
    )  # fmt: skip


def exact_world(colls: list[int], lusds: list[int], deposit_share: float) -> tuple[TroveManager, list[str]]:
    """Open troves (coll, LUSD drawn, in wei) at $2000 and deposit a share of the first trove's LUSD in the pool."""
    tm = TroveManager()
    names = [f"t{k}" for k in range(len(colls))]
    for name, c, d in zip(names, colls, lusds, strict=True):
        tm.open_trove(name, c, d, OPEN_PRICE * E18, NOW)
    deposit = lusds[0] * round(deposit_share * 1000) // 1000
    if deposit > 0:
        tm.stability_pool.provide_to_sp(names[0], deposit)
    return tm, names


def model_of(tm: TroveManager, names: list[str]) -> tuple[LiquityModel, object]:
    troves = [tm.get_entire_debt_and_coll(n) for n in names]
    spec = LiquitySpec.model_validate({
        "name": "liquity", "type": "liquity", "oracle": "eth",
        "troves": [{"coll": c / E18, "debt": d / E18} for d, c, _, _ in troves],
        "stability_pool_lusd": tm.stability_pool.total_lusd_deposits / E18,
        "redemptions": {"enabled": False},
    })  # fmt: skip
    model = LiquityModel.build(spec, None)
    return model, model.init_state(1)


def assert_same(tm: TroveManager, names: list[str], state: object) -> None:
    a = state.arrays  # type: ignore[attr-defined]
    for k, name in enumerate(names):
        debt, coll, _, _ = tm.get_entire_debt_and_coll(name)
        is_open = tm.troves(name).status == Status.active
        assert bool(a["open"][0, k]) == is_open, name
        if is_open:
            assert a["coll"][0, k] == pytest.approx(coll / E18, rel=1e-9), name
            assert a["debt"][0, k] == pytest.approx(debt / E18, rel=1e-9), name
        assert a["surplus"][0] * 0 == 0
    sp = tm.stability_pool
    assert a["sp_lusd"][0] == pytest.approx(sp.total_lusd_deposits / E18, rel=1e-9, abs=1e-9)
    assert a["sp_coll"][0] == pytest.approx(sp.ETH / E18, rel=1e-9, abs=1e-12)
    assert a["surplus"][0] == pytest.approx(tm.coll_surplus_pool_eth / E18, rel=1e-9, abs=1e-12)
    assert a["gas_coll"][0] == pytest.approx(tm.eth_sent.get("liquidator", 0) / E18, rel=1e-9, abs=1e-12)


def test_offset_then_redistribution_by_hand() -> None:
    """Normal Mode: A (ICR 105 %) is offset in part against a 1,000 LUSD pool, the rest redistributed to B and C.

    At $100: A has 10 ETH and 952.38... LUSD debt? Written with round numbers instead: A 10 ETH / 950 LUSD (ICR
    1000/950 = 105.3 %), B 20 ETH / 1000 LUSD (200 %), C 30 ETH / 1000 LUSD (300 %), TCR 6000/2950 = 203 %.
    Gas compensation 10/200 = 0.05 ETH; collateral to liquidate 9.95 ETH. The pool holds 400 LUSD: offset 400, the
    pool gets 9.95 * 400/950 = 4.18947... ETH; redistributed 550 LUSD and 9.95 - 4.18947 = 5.76053 ETH over stakes
    20 and 30: B gets 2/5, C 3/5.
    """
    spec = LiquitySpec.model_validate({
        "name": "lq", "type": "liquity", "oracle": "eth", "stability_pool_lusd": 400.0,
        "troves": [{"coll": 10, "debt": 950}, {"coll": 20, "debt": 1000}, {"coll": 30, "debt": 1000}],
    })  # fmt: skip
    model = LiquityModel.build(spec, None)
    state = model.init_state(1)
    flows = model.round(state, inputs(1, 100.0))
    a = state.arrays
    to_sp = 9.95 * 400 / 950
    red_coll = 9.95 - to_sp
    assert a["open"][0].tolist() == [False, True, True]
    assert a["sp_lusd"][0] == pytest.approx(0.0)
    assert a["sp_coll"][0] == pytest.approx(to_sp)
    assert a["coll"][0, 1] == pytest.approx(20 + red_coll * 2 / 5)
    assert a["debt"][0, 1] == pytest.approx(1000 + 550 * 2 / 5)
    assert a["coll"][0, 2] == pytest.approx(30 + red_coll * 3 / 5)
    assert a["debt"][0, 2] == pytest.approx(1000 + 550 * 3 / 5)
    assert flows.sell[0, 0] == pytest.approx(0.05)
    assert flows.burned[0, 1] == pytest.approx(400.0)
    assert model.check_conservation(state, {}) == []


def test_pure_redistribution_when_the_pool_is_empty_matches_mechanics() -> None:
    tm, names = exact_world([10 * E18, 20 * E18, 30 * E18], [13_000 * E18, 20_000 * E18, 20_000 * E18], 0.0)
    model, state = model_of(tm, names)
    price = 1400
    tm.liquidate_troves(10, price * E18)
    model.round(state, inputs(1, float(price)))
    assert tm.troves("t0").status == Status.closedByLiquidation  # ICR 14000/13265.. < 110 %
    assert_same(tm, names, state)


def test_recovery_mode_capped_offset_matches_mechanics() -> None:
    # At $1000 the TCR is 60000 / 40800 = 147 %: t1 (10 ETH, 8240 LUSD, ICR 121 %, above MCR and below the TCR) is
    # offset against the pool (23,400 LUSD) and only collateral worth 110 % of its debt is seized, the rest is a
    # surplus; t2 (163 %) and t0 (152 %) are above the TCR and left alone.
    tm, names = exact_world([40 * E18, 10 * E18, 10 * E18], [26_000 * E18, 8_000 * E18, 6_000 * E18], 0.9)
    model, state = model_of(tm, names)
    price = 1000
    assert tm.check_recovery_mode(price * E18)
    tm.liquidate_troves(10, price * E18)
    model.round(state, inputs(1, float(price)))
    assert tm.coll_surplus_pool_eth > 0
    assert_same(tm, names, state)


trove = st.tuples(st.integers(2, 60), st.floats(1.55, 4.0))


@settings(max_examples=60, deadline=None, suppress_health_check=[*SLOW, HealthCheck.filter_too_much])
@given(
    troves=st.lists(trove, min_size=3, max_size=7),
    share=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
    drop=st.floats(0.3, 1.0),
)
def test_liquidations_agree_with_mechanics(
    troves: list[tuple[int, float]], share: float, drop: float
) -> None:
    """Generated troves, pool and price drop, in Normal and Recovery Mode: the model equals liquidate_troves."""
    colls = [c * E18 // 2 for c, _ in troves]
    lusds = [int(c // 2 * OPEN_PRICE / icr) * E18 for (c, icr) in troves]
    assume(all(d >= 2000 * E18 for d in lusds))
    ratios = [c / d for c, d in zip(colls, lusds, strict=True)]
    assume(len({round(r, 9) for r in ratios}) == len(ratios))
    tm, names = exact_world([colls[0] * 20, *colls[1:]], [lusds[0] * 20, *lusds[1:]], share)
    model, state = model_of(tm, names)
    icrs = sorted(tm.get_current_icr(n, int(OPEN_PRICE * drop) * E18) / E18 for n in names)
    assume(all(abs(b - a) > 1e-6 for a, b in itertools.pairwise(icrs)))
    assume(all(abs(x - 1.1) > 1e-6 and abs(x - 1.0) > 1e-6 for x in icrs))
    price = int(OPEN_PRICE * drop)
    event("recovery" if tm.check_recovery_mode(price * E18) else "normal")
    try:
        tm.liquidate_troves(len(names), price * E18)
        reason = ""
    except Revert as exc:
        reason = str(exc)
    assume("Only one trove" not in reason)
    assert reason in ("", "TroveManager: nothing to liquidate")
    model.round(state, inputs(1, float(price)))
    event(f"liquidated {min(int(state.arrays['n_liquidated'][0]), 3)}+")
    event("surplus" if tm.coll_surplus_pool_eth > 0 else "no surplus")
    assert_same(tm, names, state)
    assert model.check_conservation(state, {}) == []


@settings(max_examples=30, deadline=None, suppress_health_check=SLOW)
@given(
    colls=st.lists(st.floats(1.0, 100.0), min_size=3, max_size=12),
    icrs=st.lists(st.floats(1.0, 3.0), min_size=12, max_size=12),
    sp=st.floats(0.0, 1.0),
    prices=st.lists(st.floats(100.0, 3000.0), min_size=1, max_size=4),
    lusd_price=st.floats(0.9, 1.0),
)
def test_conservation_over_generated_worlds(colls, icrs, sp, prices, lusd_price) -> None:  # type: ignore[no-untyped-def]
    """Over liquidations, redistributions and redemptions on several paths, collateral and debt balance."""
    troves = [{"coll": c, "debt": max(c * 2000 / i, 201.0)} for c, i in zip(colls, icrs, strict=False)]
    circulating = sum(t["debt"] - 200 for t in troves)
    spec = LiquitySpec.model_validate({
        "name": "lq", "type": "liquity", "oracle": "eth", "troves": troves, "stability_pool_lusd": sp * circulating,
        "redemptions": {"max_lusd_per_round": 5000.0},
    })  # fmt: skip
    model = LiquityModel.build(spec, None)
    state = model.init_state(3)
    for p in prices:
        for _ in range(2):
            model.round(state, inputs(3, p, lusd_price, capital=1e6))
        assert model.check_conservation(state, {}) == []
    acc = model.account(state, np.tile([prices[-1], lusd_price], (3, 1)))
    assert np.all(acc.bad_debt_usd >= 0)


def test_redemption_by_hand() -> None:
    """LUSD at $0.95: 800 LUSD are redeemed against the lowest-ICR trove at or above 110 %.

    At $100 the troves' ICRs are 150 %, 200 %, 400 % and 200 %; the first (15 ETH, 1,000 LUSD of which 800 net of
    the 200 LUSD reserve) is redeemed to its reserve and closed: 8 ETH drawn, 15 - 8 = 7 ETH left as a surplus, the
    reserve burned. The base rate first rises by 800 / 103,000 / 2 = 0.0038835, so the fee is
    (0.005 + 0.0038835) * 8 ETH. The arbitrage pays: (8 - fee) * 100 * 0.99 = 784.96 USD > 800 * 0.95 = 760.
    """
    spec = LiquitySpec.model_validate({
        "name": "lq", "type": "liquity", "oracle": "eth",
        "troves": [{"coll": 15, "debt": 1000}, {"coll": 20, "debt": 1000}, {"coll": 40, "debt": 1000},
                   {"coll": 2000, "debt": 100_000}],
        "redemptions": {"max_lusd_per_round": 800.0},
    })  # fmt: skip
    model = LiquityModel.build(spec, None)
    state = model.init_state(1)
    flows = model.round(state, inputs(1, 100.0, lusd_price=0.95, capital=1e6))
    a = state.arrays
    base = 800 / 103_000 / 2
    fee = (0.005 + base) * 8
    assert a["open"][0].tolist() == [False, True, True, True]
    assert a["surplus"][0] == pytest.approx(15 - 8)
    assert a["reserve_burned"][0] == pytest.approx(200.0)
    assert a["coll"][0, 1:].tolist() == [20.0, 40.0, 2000.0]
    assert flows.buy[0, 1] == pytest.approx(800)
    assert flows.sell[0, 0] == pytest.approx(8 - fee)
    assert flows.kept[0, 0] == pytest.approx(fee)
    assert a["base_rate"][0] == pytest.approx(base)
    assert model.check_conservation(state, {}) == []
    # a redemption of a third of the supply would raise the fee to 0.5 % + 16.7 %: at $0.95 it does not pay
    spec2 = spec.model_copy(
        update={"redemptions": spec.redemptions.model_copy(update={"max_lusd_per_round": 1e5})}
    )
    state2 = LiquityModel.build(spec2, None).init_state(1)
    assert (
        LiquityModel.build(spec2, None).round(state2, inputs(1, 100.0, 0.95, capital=1e6)).n_actions[0] == 0
    )


def test_bad_specs_name_the_key() -> None:
    with pytest.raises(ValidationError, match="stability_pool_lusd"):
        LiquitySpec.model_validate({
            "name": "lq", "type": "liquity", "oracle": "eth", "stability_pool_lusd": 1e9,
            "troves": [{"coll": 1, "debt": 1000}, {"coll": 1, "debt": 1000}],
        })  # fmt: skip
    with pytest.raises(ValidationError, match="greater than 200"):
        LiquitySpec.model_validate({
            "name": "lq", "type": "liquity", "oracle": "eth",
            "troves": [{"coll": 1, "debt": 100}, {"coll": 1, "debt": 1000}],
        })  # fmt: skip


def test_conformance_suite() -> None:
    from firesale.testing._conformance import check_protocol_model

    def make() -> LiquityModel:
        spec = LiquitySpec.model_validate({
            "name": "lq", "type": "liquity", "oracle": "eth", "stability_pool_lusd": 3000,
            "troves": [{"coll": 10, "debt": 10000}, {"coll": 10, "debt": 6000}, {"coll": 30, "debt": 8000},
                       {"coll": 5, "debt": 5000}],
        })  # fmt: skip
        return LiquityModel.build(spec, None)

    passed = check_protocol_model(make, np.array([2000.0, 1.0]))
    assert "monotone in price" in passed and "batch invariance" in passed


def test_a_backstop_deposit_is_offset_before_redistribution() -> None:
    """The hand case above with an empty pool and a 950 LUSD backstop deposit: A's whole debt is offset, the pool
    takes all 9.95 ETH of its collateral (10 less the 0.05 ETH gas compensation) and nothing is redistributed.
    A deposit above the LUSD in circulation outside the pool (2,950 less 3 x 200 gas reserves) stops there."""
    spec = LiquitySpec.model_validate({
        "name": "lq", "type": "liquity", "oracle": "eth",
        "troves": [{"coll": 10, "debt": 950}, {"coll": 20, "debt": 1000}, {"coll": 30, "debt": 1000}],
    })  # fmt: skip
    model = LiquityModel.build(spec, None)
    assert set(model.controls(spec)) == {"reserve_usd"}
    state = model.init_state(2)
    model.add_reserves(state, np.array([950.0, 1e6]))
    a = state.arrays
    assert a["sp_lusd"].tolist() == pytest.approx([950.0, 2950.0 - 600.0])
    model.round(state, inputs(2, 100.0))
    assert a["open"][0].tolist() == [False, True, True]
    assert a["sp_lusd"][0] == pytest.approx(0.0, abs=1e-9)
    assert a["sp_coll"][0] == pytest.approx(9.95)
    assert a["coll"][0, 1:].tolist() == pytest.approx([20.0, 30.0])
    assert a["debt"][0, 1:].tolist() == pytest.approx([1000.0, 1000.0])
    assert model.check_conservation(state, {}) == []
