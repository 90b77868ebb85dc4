"""Policies on a perpetuals venue: a scaled maintenance margin and an insurance-fund backstop, by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from tests.unit.protocols.test_perp_model import _inputs

from firesale.exceptions import ParameterError, ScenarioError
from firesale.protocols.perps import PerpSpec, PerpVenue
from firesale.scenario import parse_scenario
from firesale.scenario._loader import builtin_text


def _venue(insurance: float = 100.0, kernel: str = "numba") -> PerpVenue:
    # Two longs and a short on one market with a single 1 % maintenance tier (no premium: mark = index).
    spec = {
        "name": "hl", "type": "perp", "insurance_fund_usd": insurance, "liquidation_fee_rate": 0.01,
        "vault": {"enabled": False, "capital_usd": 0.0},
        "markets": {"BTC-PERP": {"index": "BTC", "oracle": "btc", "book_depth_usd": 1e9,
                                 "tiers": [{"notional_floor_usd": 0.0, "max_leverage": 20.0,
                                            "maintenance_margin_rate": 0.01}]}},
        "traders": [
            {"collateral_usd": 1000.0, "positions": [{"market": "BTC-PERP", "size": 1.0, "entry_price": 20_000.0}]},
            {"collateral_usd": 600.0, "positions": [{"market": "BTC-PERP", "size": 0.5, "entry_price": 20_000.0}]},
            {"collateral_usd": 10_000.0,
             "positions": [{"market": "BTC-PERP", "size": -1.5, "entry_price": 20_000.0}]},
        ],
        "funding_interval_s": 1e12,
    }  # fmt: skip
    scenario = SimpleNamespace(
        spec=SimpleNamespace(oracles=[SimpleNamespace(name="btc", asset="BTC")]), source="t"
    )
    return PerpVenue.build(PerpSpec.model_validate(spec), scenario, kernel=kernel)


def test_the_venue_offers_its_markets_margins_and_a_backstop() -> None:
    model = _venue()
    assert set(model.controls(SimpleNamespace(markets={"BTC-PERP": None}))) == {
        "reserve_usd", "markets.BTC-PERP.maintenance_margin"
    }  # fmt: skip
    with pytest.raises(ParameterError, match=r"no parameter 'markets\.ETH-PERP\.maintenance_margin'"):
        model.scale_parameter(model.init_state(1), "markets.ETH-PERP.maintenance_margin", np.ones(1))


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
def test_a_doubled_maintenance_margin_liquidates_where_the_venues_does_not(kernel: str) -> None:
    # At 19,200 trader 0 (long 1 @ 20,000, 1,000 cash) has equity 1,000 - 800 = 200 against a maintenance margin
    # of 1 % x 19,200 = 192: safe. Doubled, the margin is 384 > 200: liquidated. Trader 1 (long 0.5, 600 cash):
    # equity 600 - 400 = 200 against 96, doubled 192: safe either way; the short gains.
    model = _venue(kernel=kernel)
    state = model.init_state(2)
    index = np.array([[19_200.0], [19_200.0]])
    assert model.round(state, _inputs(index, 1.0)).n_actions.tolist() == [0, 0]
    # the same marks again, the margin doubled on path 1 only: the screen's bound from the first round must not hide it
    model.scale_parameter(state, "markets.BTC-PERP.maintenance_margin", np.array([1.0, 2.0]))
    assert model.round(state, _inputs(index, 2.0)).n_actions.tolist() == [0, 1]
    assert model.check_conservation(state, {}) == []
    # 2.1x: trader 1's margin is 0.5 x 19,200 x 2.1 % = 201.6 > 200, so it goes too (on a fresh book)
    state = model.init_state(1)
    model.scale_parameter(state, "markets.BTC-PERP.maintenance_margin", np.array([2.1]))
    assert model.round(state, _inputs(index[:1], 1.0)).n_actions.tolist() == [2]


def test_a_factor_of_one_changes_nothing() -> None:
    plain, scaled = _venue(), _venue()
    a, b = plain.init_state(2), scaled.init_state(2)
    scaled.scale_parameter(b, "markets.BTC-PERP.maintenance_margin", np.ones(2))
    for t, px in enumerate((19_500.0, 18_900.0, 18_000.0), start=1):
        index = np.array([[px], [px * 1.01]])
        plain.round(a, _inputs(index, float(t)))
        scaled.round(b, _inputs(index, float(t)))
    for k in ("cash", "size", "insurance", "n_liquidated", "socialised", "adl_transfer"):
        np.testing.assert_array_equal(a[k], b[k])


def test_a_backstop_pays_the_deficit_before_deleveraging() -> None:
    # At 18,900 trader 0 is closed with a 100 USD deficit (equity 1,000 - 1,100) and trader 1 pays a 50 USD fee
    # (its whole equity, 600 - 550, below the 1 % fee on 9,450). With an empty fund the fee covers 50 of the
    # deficit and the other 50 is taken from the short by ADL; with a 100 USD backstop the fund pays it all and
    # ends at 100 + 50 - 100 = 50 (the case of tests/unit/mechanics/test_perps.py with a 100 USD fund).
    model = _venue(insurance=0.0)
    state = model.init_state(2)
    model.add_reserves(state, np.array([100.0, 0.0]))
    model.round(state, _inputs(np.array([[18_900.0], [18_900.0]]), 1.0))
    assert state["insurance"] == pytest.approx([50.0, 0.0], abs=1e-9)
    assert state["adl_transfer"] + state["socialised"] == pytest.approx([0.0, 50.0], abs=1e-9)
    assert state["exhausted"].tolist() == [0.0, 1.0]
    assert model.check_conservation(state, {}) == []


def test_policies_on_a_perp_venue_validate_and_refuse() -> None:
    base = builtin_text("btc-perp-2021-05")  # protocol "venue" (perp), market BTC-PERP
    markets = parse_scenario(base, source="p.toml").spec.protocols[0].markets
    market = next(iter(markets))
    trigger = 'trigger = { series = "time", comparison = ">=", threshold = 0 }'
    good = (f'\n[[policies]]\nname = "m"\nprotocol = "venue"\n{trigger}\n'
            f'action = {{ type = "scale", parameter = "markets.{market}.maintenance_margin", factor = 1.5 }}\n'
            f'[[policies]]\nname = "b"\nprotocol = "venue"\n{trigger}\naction = {{ type = "backstop", share = 0.01 }}\n')  # fmt: skip
    assert [p.name for p in parse_scenario(base + good, source="p.toml").spec.policies] == ["m", "b"]
    bad = (f'\n[[policies]]\nname = "m"\nprotocol = "venue"\n{trigger}\n'
           'action = { type = "scale", parameter = "markets.NOPE.maintenance_margin", factor = 1.5 }\n')  # fmt: skip
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(base + bad, source="p.toml")
    assert any(
        "p.toml: policies.m.action.parameter: protocol venue (perp) has no such control" in p
        and "'markets.NOPE.maintenance_margin'" in p
        for p in exc.value.problems
    ), exc.value.problems
