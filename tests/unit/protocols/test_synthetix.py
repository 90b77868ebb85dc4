"""The Synthetix debt-pool model: debt shares after a synth price move and a staker liquidation by hand, the peg
arbitrage, holders' exits, supply conservation, validation, a scenario that runs, and the conformance suite."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import ValidationError

from firesale.exceptions import ScenarioError
from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.synthetix import SynthetixPool, SynthetixSpec
from firesale.testing import check_protocol_model, flat_quotes

GRID = np.array([0.0, 100.0, 200.0, 300.0])


def _scenario(assets=(("SNX", 10.0), ("sUSD", 1.0), ("sETH", 2000.0))) -> SimpleNamespace:
    return SimpleNamespace(
        spec=SimpleNamespace(
            assets=[SimpleNamespace(name=a, price=p) for a, p in assets],
            oracles=[SimpleNamespace(name=o) for o in ("snx-usd", "eth-usd")],
            venues=[SimpleNamespace(name=v) for v in ("snx-book", "susd-pool", "seth-pool")],
        ),
        source="snx.toml",
    )


def _data(**over) -> dict:
    data = {
        "name": "snx", "type": "synthetix", "token_oracle": "snx-usd",
        "susd_venues": ["susd-pool"], "susd_supply": 1000.0, "target_cratio": 4.0, "liquidation_cratio": 1.5,
        "liquidation_penalty": 0.3, "liquidation_delay_s": 43_200.0,
        "stakers": [{"snx": 100.0, "debt": 700.0}, {"snx": 1000.0, "debt": 300.0}],
    }  # fmt: skip
    data.update(over)
    return data


def _model(**over) -> SynthetixPool:
    return SynthetixPool.build(SynthetixSpec.model_validate(_data(**over)), _scenario())


def _inputs(snx: float, susd: float = 1.0, eth: float | None = None, time: float = 0.0, curve=None, n: int = 1,
            capital: float = 1e9) -> RoundInputs:  # fmt: skip
    prices = [snx, susd] + ([] if eth is None else [eth])
    market = np.tile(prices, (n, 1))
    k = len(prices)
    if curve is None:
        quotes = flat_quotes(n, k)
    else:
        curves = np.zeros((n, k, GRID.size))
        curves[:, :] = GRID
        curves[:, 1] = curve
        quotes = SaleQuotes(GRID, lambda paths, mask: curves)
    return RoundInputs(
        time=time, oracle=market.copy(), market=market, active=np.ones(n, dtype=bool),
        liquidators=LiquidatorCapacity(np.full(n, 100, np.int64), np.full(n, capital), np.zeros(n), 0.0),
        quotes=quotes,
    )  # fmt: skip


def test_debt_shares_move_with_a_synth_price_by_hand():
    # Two stakers: A owes 300 and B 700 of a pool of 500 sUSD + 0.25 sETH at ETH 2000 (500 USD): 1000 USD of debt,
    # shares 300 and 700 (one share per dollar at the start). ETH rises to 2800: sETH is worth 0.25 * 2800 = 700,
    # total debt 500 + 700 = 1200, debt per share 1200 / 1000 = 1.2: A owes 300 * 1.2 = 360, B 700 * 1.2 = 840,
    # though neither holds the sETH.
    m = SynthetixPool.build(SynthetixSpec.model_validate(_data(
        susd_supply=500.0, synths=[{"asset": "sETH", "supply": 0.25, "oracle": "eth-usd"}],
        stakers=[{"snx": 1000.0, "debt": 300.0}, {"snx": 2000.0, "debt": 700.0}])), _scenario())  # fmt: skip
    state = m.init_state(1)
    oracle = np.array([[10.0, 1.0, 2800.0]])
    assert m.total_debt(state, oracle)[0] == pytest.approx(1200.0, rel=1e-12)
    assert m.debts(state, oracle)[0] == pytest.approx([360.0, 840.0], rel=1e-12)
    # Issuing 120 sUSD (B, at ratio 1.2) mints 120 / 1.2 = 100 shares and leaves the debt per share at 1.2.
    f = m.round(state, _inputs(10.0, 1.05, 2800.0))  # sUSD rich: stakers issue
    assert f.minted[0, 1] > 0
    assert m.record(state, "debt_per_share", np.array([[10.0, 1.05, 2800.0]]))[0] == pytest.approx(
        1.2, rel=1e-12
    )


def test_staker_liquidation_with_penalty_by_hand():
    # Target 400 % (issuance ratio r = 0.25), liquidation at 150 %, penalty P = 30 %, no keeper rewards.
    # A: 100 SNX at 10 USD = 1000 USD against 700 debt: 1000 / 700 = 143 % < 150 %, flagged at t = 0.
    # After the 43,200 s delay: S = (D - V r) / (1 - (1 + P) r) = (700 - 250) / (1 - 1.3 * 0.25) = 450 / 0.675
    # = 666.667 of debt removed, S (1 + P) / p = 666.667 * 1.3 / 10 = 86.667 SNX taken (less than its 100 SNX).
    # No sUSD is burned: the pool still owes 1000, now over 700 - 666.667 + 300 = 333.333 shares: 3.0 per share.
    # A owes 33.333 * 3 = 100, B 300 * 3 = 900. The 86.667 SNX are spread by shares: A gets 86.667 * 33.333 / 333.333
    # = 8.667 (SNX 100 - 86.667 + 8.667 = 22), B gets 78 (SNX 1078).
    m = _model()
    state = m.init_state(1)
    f = m.round(state, _inputs(10.0))
    assert state["deadline"][0, 0] == 43_200.0 and np.isnan(state["deadline"][0, 1]) and f.n_actions[0] == 1
    assert not m.round(state, _inputs(10.0, time=43_200.0)).acted.any()  # now > deadline is strict
    m.round(state, _inputs(10.0, time=43_201.0))
    s = 450.0 / 0.675
    assert state["debt_removed"][0] == pytest.approx(s, rel=1e-12)
    assert state["shares"][0] == pytest.approx([700.0 - s, 300.0], rel=1e-12)
    oracle = np.array([[10.0, 1.0]])
    assert m.debts(state, oracle)[0] == pytest.approx([100.0, 900.0], rel=1e-12)
    assert state["snx"][0] == pytest.approx([22.0, 1078.0], rel=1e-12)
    assert state["susd"][0] == 1000.0 and np.isnan(state["deadline"][0, 0])


def test_wiped_out_staker_socialises_all_its_debt():
    # SNX at 5: A holds 500 USD against 700. S = (700 - 125) / 0.675 = 851.85; S * 1.3 / 5 = 221.5 SNX > 100:
    # wiped out, all 700 of debt removed and all 100 SNX taken; B owes the whole 1000 and gets the 100 SNX.
    m = _model()
    state = m.init_state(1)
    m.round(state, _inputs(5.0))
    m.round(state, _inputs(5.0, time=43_201.0))
    assert state["shares"][0, 0] == 0.0 and state["snx"][0] == pytest.approx([0.0, 1100.0], rel=1e-12)
    assert m.debts(state, np.array([[5.0, 1.0]]))[0] == pytest.approx([0.0, 1000.0], rel=1e-12)
    # Books at SNX 0.5: B's 1100 SNX are worth 550 against the 1000 it now owes: 450 uncovered.
    assert m.account(state, np.array([[0.5, 1.0]])).bad_debt_usd[0] == pytest.approx(450.0, rel=1e-12)


def test_burn_below_the_peg_until_the_band_edge():
    # sUSD at 0.95, band 1 %: stakers buy while 0.95 / m <= 0.99, i.e. marginal proceeds m >= 0.959596. Curve
    # marginals 1.0, 0.97, 0.90: two segments, 200 USD of market value = 200 / 0.95 = 210.526 sUSD bought and burned,
    # pro rata to the solvent stakers' debt (SNX at 10: A 1000 > 700 and B 10000 > 300, both solvent).
    m = _model(peg_band=0.01)
    state = m.init_state(1)
    f = m.round(state, _inputs(10.0, 0.95, curve=[0, 100, 197, 287]))
    u = 200.0 / 0.95
    assert f.buy[0, 1] == pytest.approx(u, rel=1e-12) and f.burned[0, 1] == pytest.approx(u, rel=1e-12)
    assert state["shares"][0] == pytest.approx([700.0 - 0.7 * u, 300.0 - 0.3 * u], rel=1e-12)
    assert state["susd"][0] == pytest.approx(1000.0 - u, rel=1e-12)


def test_underwater_stakers_do_not_burn_and_holders_leave():
    # SNX at 6: A holds 600 < 700 (underwater), B 6000 > 300. Only B's 300 can be burned; with sUSD at 0.5 and flat
    # quotes the whole 300 is bought. System ratio 1100 * 6 / 1000 = 6.6, holders start selling at 8 and have all
    # sold at 2: 0.5 * (8 - 6.6) / (8 - 2) = 11.667 % of the 1000 sUSD = 116.667 sold.
    m = _model(holder_exit={"share": 0.5, "start_cratio": 8.0, "full_cratio": 2.0})
    state = m.init_state(1)
    f = m.round(state, _inputs(6.0, 0.5))
    assert f.buy[0, 1] == pytest.approx(300.0, rel=1e-12) and state["shares"][0] == pytest.approx(
        [700.0, 0.0]
    )
    assert f.sell[0, 1] == pytest.approx(0.5 * 1.4 / 6 * 1000.0, rel=1e-12)


def test_issue_above_the_peg_limited_by_room_under_the_target():
    # sUSD at 1.2, no band: stakers issue while 1 / 1.2 <= m: with flat quotes, all the room under 400 %:
    # A: 1000 / 4 - 700 < 0 (none), B: 10000 / 4 - 300 = 2200. 2200 sUSD minted and sold.
    m = _model()
    state = m.init_state(1)
    f = m.round(state, _inputs(10.0, 1.2))
    assert f.minted[0, 1] == pytest.approx(2200.0, rel=1e-12) and f.sell[0, 1] == pytest.approx(
        2200.0, rel=1e-12
    )


def test_supply_conserved_minted_minus_burned():
    m = _model(holder_exit={"share": 0.3}, flag_reward=1.0, liquidate_reward=2.0, token_venues=["snx-book"])
    state = m.init_state(2)
    out = {k: np.zeros((2, 2)) for k in ("sold", "kept", "repaid")}
    minted = burned = 0.0
    for i, (snx, susd) in enumerate(
        [(10.0, 1.1), (8.0, 0.9), (6.0, 0.97), (6.0, 1.3), (4.0, 0.8), (4.0, 1.0)]
    ):
        f = m.round(state, _inputs(snx, susd, time=30_000.0 * i, curve=[0, 100, 190, 270], n=2))
        out["sold"] += f.sell
        out["kept"] += f.kept
        out["repaid"] += f.buy
        minted += f.minted[0, 1]
        burned += f.burned[0, 1]
    assert m.check_conservation(state, out) == []
    assert minted > 0 and burned > 0 and state["n_liquidated"][0] >= 1
    assert state["susd"][0] == pytest.approx(1000.0 + minted - burned, rel=1e-12)


@pytest.mark.parametrize(
    ("over", "fragment"),
    [({"liquidation_cratio": 0.9}, "liquidation_cratio: must be at least 1 + liquidation_penalty = 1.3"),
     ({"liquidation_cratio": 2.5}, "liquidation_cratio: must be at most target_cratio / 2 = 2"),
     ({"liquidation_delay_s": 60.0}, "liquidation_delay_s: must be in [300, 259200]"),
     ({"susd_venues": []}, "susd_venues: a synth must trade on at least one venue, got []"),
     ({"synths": [{"asset": "sETH", "supply": 0.0, "oracle": "nope"}]},
      "synths[0].oracle: must name a defined oracle, got 'nope'"),
     ({"token_oracle": "nope"}, "token_oracle: must name a defined oracle, got 'nope'"),
     ({"susd_supply": 900.0}, "stakers: their debt must add up to the synths' value at the start")],
)  # fmt: skip
def test_bad_specs_are_rejected_with_key_path(over, fragment):
    with pytest.raises(ScenarioError) as exc:
        _model(**over)
    assert any(
        line.startswith("snx.toml: protocols.snx.") and fragment in line for line in exc.value.problems
    )


@pytest.mark.parametrize(
    ("over", "fragment"),
    [({"liquidation_delay_s": -1.0}, "greater than 0"),
     ({"token_venues": ["snx-book"]}, "keepers sell only their flag and liquidate rewards there, and both are 0"),
     ({"flag_reward": 1.0}, "keepers sell their SNX rewards there: name at least one venue"),
     ({"holder_exit": {"start_cratio": 3.0}}, "has no effect with holder_exit.share = 0")],
)  # fmt: skip
def test_keys_that_cannot_act_or_bad_values_are_rejected_by_the_schema(over, fragment):
    with pytest.raises(ValidationError, match=fragment):
        SynthetixSpec.model_validate(_data(**over))


def test_conformance_suite_passes():
    def make() -> SynthetixPool:
        return _model(stakers=[{"snx": 600.0, "debt": 700.0}, {"snx": 1000.0, "debt": 300.0}],
                      holder_exit={"share": 0.2}, liquidation_delay_s=300.0)  # fmt: skip

    passed = check_protocol_model(
        make, np.array([10.0, 1.0]),
        bad_specs=[(lambda: _model(liquidation_cratio=0.9), "must be at least 1 + liquidation_penalty"),
                   (lambda: _model(susd_venues=[]), "must trade on at least one venue")],
    )  # fmt: skip
    assert "conservation and no negative balances" in passed and "clear errors for bad specs" in passed


SCENARIO = """
name = "snx-peg"
description = "A small Synthetix pool whose SNX falls 90 %; sUSD trades in a thin order book"
[simulation]
n_steps = 12
dt = 3600
n_paths = 8
seed = 3
record = ["price", "snx.system_cratio", "snx.susd_supply"]
[[assets]]
name = "SNX"
price = 10.0
[[assets]]
name = "sUSD"
price = 1.0
[market]
model = "shock"
shape = "linear"
depth = { SNX = 0.9 }
start = 0
duration = 36000
[[venues]]
type = "orderbook"
name = "snx-book"
asset = "SNX"
depth_usd = 2e6
impact = "sqrt"
[[venues]]
type = "orderbook"
name = "susd-book"
asset = "sUSD"
depth_usd = 2e5
impact = "sqrt"
permanent = 1.0
[[oracles]]
name = "snx-usd"
asset = "SNX"
type = "push"
heartbeat = 3600
deviation_bps = 100
[[protocols]]
name = "snx"
type = "synthetix"
token_oracle = "snx-usd"
susd_venues = ["susd-book"]
susd_supply = 1e6
target_cratio = 4.0
liquidation_cratio = 1.5
liquidation_penalty = 0.3
liquidation_delay_s = 3600
peg_band = 0.005
holder_exit = { share = 0.3, start_cratio = 4.0, full_cratio = 1.5 }
stakers = [{ snx = 160000, debt = 200000 }, { snx = 120000, debt = 200000 }, { snx = 100000, debt = 200000 },
           { snx = 80000, debt = 200000 }, { snx = 60000, debt = 200000 }]   # 800 % down to 300 % at SNX = 10
"""


def test_the_documented_scenario_validates_and_runs():
    from firesale.engine.simulate import simulate
    from firesale.scenario import parse_scenario

    sc = parse_scenario(SCENARIO)
    result = simulate(sc, debug=True)  # debug: every model's conservation checked after every step
    assert result.paths["snx.system_cratio"].shape == (8, 13)
    ratio = result.paths["snx.system_cratio"]
    assert ratio[0, 0] == pytest.approx(5.2e6 / 1e6, rel=1e-6) and (ratio[:, -1] < ratio[:, 0]).all()
    assert "snx.susd_burned" in result.metrics


def test_debt_left_with_no_staker_is_all_uncovered():
    # One staker, 100 SNX at 5 USD against the whole 1000 of debt: wiped out, its 100 SNX go to the rewards contract
    # with no share to earn them; the 1000 sUSD are owed by nobody: 1000 of bad debt.
    m = _model(stakers=[{"snx": 100.0, "debt": 1000.0}])
    state = m.init_state(1)
    m.round(state, _inputs(5.0))
    m.round(state, _inputs(5.0, time=43_201.0))
    assert state["shares"][0, 0] == 0.0 and state["stuck_snx"][0] == pytest.approx(100.0)
    assert m.account(state, np.array([[5.0, 1.0]])).bad_debt_usd[0] == pytest.approx(1000.0)


def test_the_docs_show_this_scenario():
    import pathlib
    import re
    import tomllib

    docs = (pathlib.Path(__file__).parents[3] / "docs" / "stablecoins.md").read_text()
    block = next(b for b in re.findall(r"```toml\n(.*?)```", docs, re.S) if 'name = "snx-peg"' in b)
    assert tomllib.loads(block) == tomllib.loads(SCENARIO)
