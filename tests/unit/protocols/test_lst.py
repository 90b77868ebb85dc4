"""The liquid staking token model: the discount arbitrage limited by capital and delay by hand, no redemption before
Shapella, forced sales, staking at a premium, supply conservation, validation, a scenario that runs, conformance,
and the vectorized model against the one-path reference on generated cases."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from pydantic import ValidationError

from firesale.exceptions import ScenarioError
from firesale.mechanics.lido import LstPath
from firesale.protocols.base import LiquidatorCapacity, RoundInputs
from firesale.protocols.lst import LiquidStakingToken, LstSpec
from firesale.testing import check_protocol_model, flat_quotes

DAY = 86_400.0


def _scenario() -> SimpleNamespace:
    return SimpleNamespace(
        spec=SimpleNamespace(assets=[SimpleNamespace(name="stETH"), SimpleNamespace(name="ETH")],
                             oracles=[SimpleNamespace(name="eth-usd")], venues=[SimpleNamespace(name="curve")]),
        source="lst.toml",
    )  # fmt: skip


def _data(**over) -> dict:
    data = {"name": "lido", "type": "lst", "token_venues": ["curve"], "supply": 1e6, "withdrawal_delay_s": 5 * DAY,
            "arbitrage_capital_usd": 1000.0}  # fmt: skip
    data.update(over)
    data = {k: v for k, v in data.items() if v is not None}  # None: the key is not written
    return data


def _model(**over) -> LiquidStakingToken:
    return LiquidStakingToken.build(LstSpec.model_validate(_data(**over)), _scenario())


def _inputs(
    steth: float, eth: float = 1000.0, time: float = 0.0, n: int = 1, capital: float = 1e15
) -> RoundInputs:
    market = np.tile([steth, eth], (n, 1))
    return RoundInputs(
        time=time, oracle=market.copy(), market=market, active=np.ones(n, dtype=bool),
        liquidators=LiquidatorCapacity(np.full(n, 100, np.int64), np.full(n, capital), np.zeros(n), 0.0),
        quotes=flat_quotes(n, 2),
    )  # fmt: skip


def test_discount_arbitrage_limited_by_capital_and_delay_by_hand():
    # Rate 1, ETH 1000, stETH 950 (5 % discount), delay 5 days, capital 1000 USD, no hurdle, perfectly liquid venue.
    # t = 0: the whole 1000 USD buys 1000 / 950 = 1.052632 stETH, queued for 1.052632 ETH; nothing left.
    m = _model()
    state = m.init_state(1)
    f = m.round(state, _inputs(950.0))
    u1 = 1000.0 / 950.0
    assert f.buy[0, 0] == pytest.approx(u1, rel=1e-12) and state["free_usd"][0] == pytest.approx(
        0.0, abs=1e-9
    )
    # Until the claim pays, the discount stays and nobody else comes: the capital is locked.
    for t in (300.0, DAY, 5 * DAY - 1.0):
        assert not m.round(state, _inputs(950.0, time=t)).acted.any()
    # t = 5 days: the claim pays 1.052632 ETH = 1052.63 USD, which buys 1052.63 / 950 = 1.108033 stETH more;
    # the first tokens are burned.
    f = m.round(state, _inputs(950.0, time=5 * DAY))
    assert f.burned[0, 0] == pytest.approx(u1, rel=1e-12)
    assert f.buy[0, 0] == pytest.approx(u1 * 1000.0 / 950.0, rel=1e-12)
    assert state["profit_usd"][0] == pytest.approx(u1 * 1000.0 - 1000.0, rel=1e-12)  # 52.63 USD
    assert state["supply"][0] == pytest.approx(1e6 - u1, rel=1e-12)
    # Over 10 days the arbitrageurs have bought 1.0526 + 1.1080 = 2.1607 stETH: capital x (1 + 1/0.95) / 950.
    assert state["bought"][0] == pytest.approx(1000.0 / 950.0 * (1 + 1000.0 / 950.0), rel=1e-12)


def test_hurdle_on_locked_capital():
    # 0.1 % discount, 10 % a year for 5 days: 999 * (1 + 0.1 * 5 / 365) = 1000.37 > 1000: not worth it.
    m = _model(hurdle_apr=0.1)
    assert not m.round(m.init_state(1), _inputs(999.0)).acted.any()
    # 1 % discount: 990 * 1.00137 = 991.36 < 1000: worth it.
    assert m.round(m.init_state(1), _inputs(990.0)).acted.any()


def test_no_redemption_before_shapella():
    # June 2022: withdrawal_delay_s = inf. No discount is arbitraged through the protocol; forced sellers still sell.
    m = _model(
        withdrawal_delay_s=float("inf"),
        arbitrage_capital_usd=None,
        forced_sales=[{"amount": 5000.0, "start_s": 0.0, "duration_s": 600.0}],
    )
    state = m.init_state(1)
    f = m.round(state, _inputs(900.0, time=0.0))
    assert f.buy[0, 0] == 0.0 and f.sell[0, 0] == 0.0  # nothing due yet at the start of the window
    f = m.round(state, _inputs(900.0, time=300.0))
    assert f.buy[0, 0] == 0.0 and f.sell[0, 0] == pytest.approx(2500.0)  # half the window: half the amount
    f = m.round(state, _inputs(850.0, time=900.0))
    assert f.sell[0, 0] == pytest.approx(2500.0) and state["forced_sold"][0] == pytest.approx(5000.0)
    assert state["max_discount"][0] == pytest.approx(0.15)


def test_premium_is_staked_away():
    # stETH at 1010 with rate 1 and ETH 1000: mint at the rate and sell, all of it on a perfectly liquid venue up to
    # the engine's capital (1e6 USD of ETH bought: 1000 stETH).
    m = _model()
    state = m.init_state(1)
    f = m.round(state, _inputs(1010.0, capital=1e6))
    assert f.minted[0, 0] == pytest.approx(1000.0) and f.buy[0, 1] == pytest.approx(1000.0)
    assert not _model(deposits_open=False).round(_model().init_state(1), _inputs(1010.0)).acted.any()


def test_exchange_rate_grows_with_the_staking_apr():
    # 4 % a year: after half a year the rate is 1.04 ** 0.5 = 1.019804; stETH at 1000 with ETH at 1000 is at a
    # 1.9 % discount to its fair value 1019.80.
    m = _model(staking_apr=0.04, arbitrage_capital_usd=0.0)
    state = m.init_state(1)
    m.round(state, _inputs(1000.0, time=182.5 * DAY))
    assert m.record(state, "fair_value", np.array([[1000.0, 1000.0]]))[0] == pytest.approx(1000 * 1.04**0.5)


def test_supply_conserved_minted_minus_burned():
    m = _model(forced_sales=[{"amount": 100.0, "duration_s": DAY}], arbitrage_capital_usd=5e4)
    state = m.init_state(2)
    out = {k: np.zeros((2, 2)) for k in ("sold", "kept", "repaid")}
    minted = burned = 0.0
    for i, p in enumerate([950.0, 1005.0, 960.0, 990.0, 1000.0, 940.0, 1020.0, 970.0]):
        f = m.round(state, _inputs(p, time=DAY * i, n=2, capital=2e4))
        out["sold"] += f.sell
        out["kept"] += f.kept
        out["repaid"] += f.buy
        minted += f.minted[0, 0]
        burned += f.burned[0, 0]
    assert m.check_conservation(state, out) == []
    assert minted > 0 and burned > 0
    assert state["supply"][0] == pytest.approx(1e6 + minted - burned, rel=1e-12)


@pytest.mark.parametrize(
    ("over", "fragment"),
    [({"token_venues": []}, "token_venues: the token must trade on at least one venue, got []"),
     ({"token": "wstETH"}, "token: must name a defined asset, got 'wstETH'"),
     ({"forced_sales": [{"amount": 2e6}]}, "forced_sales: must sell at most the supply")],
)  # fmt: skip
def test_bad_specs_are_rejected_with_key_path(over, fragment):
    with pytest.raises(ScenarioError) as exc:
        _model(**over)
    assert any(
        line.startswith("lst.toml: protocols.lido.") and fragment in line for line in exc.value.problems
    )


@pytest.mark.parametrize("delay", [-1.0, float("nan")])
def test_negative_or_nan_delay_is_rejected(delay):
    with pytest.raises(ValidationError, match="withdrawal_delay_s"):
        LstSpec.model_validate(_data(withdrawal_delay_s=delay))


def test_queue_keys_refused_without_redemption():
    with pytest.raises(ValidationError, match="has no effect with withdrawal_delay_s = inf"):
        LstSpec.model_validate(_data(withdrawal_delay_s=float("inf")))  # arbitrage_capital_usd is given


def test_conformance_suite_passes():
    passed = check_protocol_model(
        lambda: _model(forced_sales=[{"amount": 1000.0}]), np.array([1000.0, 1000.0]),
        bad_specs=[(lambda: _model(token_venues=[]), "must trade on at least one venue"),
                   (lambda: _model(withdrawal_delay_s=-5.0), "greater than or equal to 0")],
    )  # fmt: skip
    assert "conservation and no negative balances" in passed and "clear errors for bad specs" in passed


@settings(max_examples=40, deadline=None)
@given(
    prices=st.lists(st.floats(0.85, 1.03), min_size=3, max_size=10),
    delay_days=st.one_of(st.just(float("inf")), st.floats(0.0, 6.0)),
    capital=st.floats(0.0, 1e5),
    hurdle=st.floats(0.0, 0.3),
    apr=st.floats(0.0, 0.1),
    forced=st.floats(0.0, 500.0),
)
def test_vectorized_model_equals_the_one_path_reference(prices, delay_days, capital, hurdle, apr, forced):
    over = {"withdrawal_delay_s": delay_days * DAY, "staking_apr": apr,
            "forced_sales": [{"amount": forced, "start_s": DAY, "duration_s": 2 * DAY}]}  # fmt: skip
    over |= (
        {"arbitrage_capital_usd": capital, "hurdle_apr": hurdle}
        if np.isfinite(delay_days)
        else {"arbitrage_capital_usd": None}
    )
    m = _model(**over)
    ref = LstPath(LstSpec.model_validate(_data(**over)))
    state = m.init_state(3)
    for i, p in enumerate(prices):
        t = DAY * i
        f = m.round(state, _inputs(p * 1000.0, time=t, n=3, capital=3e4))
        g = ref.round(t, p * 1000.0, 1000.0, capital=3e4)
        for key, value in g.items():
            got = {
                "buy": f.buy[0, 0],
                "sell": f.sell[0, 0],
                "minted": f.minted[0, 0],
                "burned": f.burned[0, 0],
            }[key]
            assert got == pytest.approx(value, rel=1e-9, abs=1e-9), (i, key)
        assert state["supply"][2] == pytest.approx(ref.supply, rel=1e-9)
        assert state["free_usd"][1] == pytest.approx(ref.free_usd, rel=1e-9, abs=1e-6)


SCENARIO = """
name = "steth-discount"
description = "stETH with no redemption (June 2022) while a holder must sell 20,000 stETH in a day"
[simulation]
n_steps = 12
dt = 3600
n_paths = 4
seed = 1
record = ["price", "lido.discount", "lido.forced_sold"]
[[assets]]
name = "ETH"
price = 1000.0
[[assets]]
name = "stETH"
price = 1000.0
derived_from = "ETH"
[market]
model = "shock"
shape = "linear"
depth = { ETH = 0.1 }
start = 0
duration = 43200
[[venues]]
type = "orderbook"
name = "steth-book"
asset = "stETH"
depth_usd = 1e7
impact = "sqrt"
permanent = 1.0
[[oracles]]
name = "eth-usd"
asset = "ETH"
type = "push"
heartbeat = 3600
deviation_bps = 50
[[protocols]]
name = "lido"
type = "lst"
token_venues = ["steth-book"]
supply = 4e6
withdrawal_delay_s = inf
forced_sales = [{ amount = 20000, start_s = 0, duration_s = 43200 }]
"""


def test_the_documented_scenario_validates_and_runs():
    from firesale.engine.simulate import simulate
    from firesale.scenario import parse_scenario

    result = simulate(parse_scenario(SCENARIO), debug=True)  # conservation checked after every step
    d = result.paths["lido.discount"]
    assert d.shape == (4, 13) and (d[:, -1] > 0.01).all()  # forced sales, no redemption: a discount opens
    assert result.metrics["lido.forced_sold"].to_numpy() == pytest.approx(20000.0)
    # With a 5-day queue and capital behind it the same sales leave a discount no deeper.
    queue = SCENARIO.replace(
        "withdrawal_delay_s = inf", "withdrawal_delay_s = 432000\narbitrage_capital_usd = 5e6"
    )
    d2 = simulate(parse_scenario(queue), debug=True).paths["lido.discount"]
    assert (d2[:, -1] <= d[:, -1] + 1e-12).all()


def test_the_docs_show_this_scenario():
    import pathlib
    import re
    import tomllib

    docs = (pathlib.Path(__file__).parents[3] / "docs" / "stablecoins.md").read_text()
    block = next(b for b in re.findall(r"```toml\n(.*?)```", docs, re.S) if 'name = "steth-discount"' in b)
    assert tomllib.loads(block) == tomllib.loads(SCENARIO)


def test_lido_withdrawal_queue_rules_by_hand():
    from firesale.mechanics import Revert
    from firesale.mechanics.lido import WithdrawalQueue

    e18, e27 = 10**18, 10**27
    q = WithdrawalQueue()
    # Two requests at a share rate of 1.25 stETH per share: 10 stETH = 8 shares, 5 stETH = 4 shares.
    assert q.request(10 * e18, 8 * e18) == 1 and q.request(5 * e18, 4 * e18) == 2
    with pytest.raises(Revert, match="RequestAmountTooSmall"):
        q.request(99, 1)
    with pytest.raises(Revert, match="RequestAmountTooLarge"):
        q.request(1001 * e18, 800 * e18)
    with pytest.raises(Revert, match="TooMuchEtherToFinalize"):
        q.finalize(1, 10 * e18 + 1, 2 * e27)  # more ETH than the 10 stETH requested
    # Finalized at a share rate of 1.25 (no loss): request 1 gets what it asked for, 10 ETH, no rewards on top.
    q.finalize(1, 10 * e18, 125 * e27 // 100)
    assert q.claimable_ether(1) == 10 * e18 and q.claimable_ether(2) == 0
    # Finalized after a loss, at a share rate of 1.2: request 2 gets 4 shares x 1.2 = 4.8 ETH, not 5.
    q.finalize(2, 48 * e18 // 10, 12 * e27 // 10)
    assert q.claim(2) == 48 * e18 // 10
    with pytest.raises(Revert, match="RequestAlreadyClaimed"):
        q.claim(2)
