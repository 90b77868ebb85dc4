"""Policies on Maker: a liquidation pause (FlipperMom / ClipperMom), a scaled mat, a surplus backstop, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.protocols.test_maker_model import flip_model, inputs

from firesale.exceptions import ParameterError, ScenarioError
from firesale.scenario import parse_scenario
from firesale.scenario._loader import builtin_text


def test_maker_offers_a_pause_its_ilks_mat_and_a_backstop() -> None:
    m = flip_model()
    assert set(m.controls(m.spec)) == {"pause_liquidations", "reserve_usd", "ilks.ETH-A.mat"}
    with pytest.raises(ParameterError, match=r"no parameter 'ilks\.ETH-B\.mat'"):
        m.scale_parameter(m.init_state(1), "ilks.ETH-B.mat", np.ones(1))


def test_a_pause_stops_the_bite_and_its_floor_lets_the_worst_through() -> None:
    # At $140 the vault (50 ETH, 5,000 DAI, mat 1.5) is unsafe: 50 x 140 / 1.5 = 4,666.7 < 5,000, a health factor
    # of 4,666.7 / 5,000 = 0.9333. Paused on path 1 only, path 0 bites and path 1 does not; the pause froze one
    # vault there. A floor of 0.95 lets it through (0.9333 < 0.95), a floor of 0.9 keeps it.
    m = flip_model()
    s = m.init_state(2)
    m.pause_liquidations(s, np.array([False, True]))
    m.round(s, inputs(2, 60, 140.0))
    assert s["n_kicks"].tolist() == [1, 0]
    assert s["ink"][:, 0].tolist() == [0.0, 50.0]
    assert m.frozen_by_pause(s, np.tile([140.0, 1.0], (2, 1))).tolist() == [0, 1]
    for floor, kicks in ((0.9, 0), (0.95, 1)):
        s = m.init_state(1)
        m.pause_liquidations(s, np.array([True]), below_health_factor=floor)
        m.round(s, inputs(1, 60, 140.0))
        assert s["n_kicks"].tolist() == [kicks], floor
    # lifted, the vault is bitten at the next round
    s = m.init_state(1)
    m.pause_liquidations(s, np.array([True]))
    m.round(s, inputs(1, 60, 140.0))
    m.pause_liquidations(s, np.array([False]))
    m.round(s, inputs(1, 120, 140.0))
    assert s["n_kicks"].tolist() == [1]


def test_a_higher_mat_bites_a_vault_the_scenarios_leaves_alone() -> None:
    # At $160 the vault is safe at mat 1.5 (50 x 160 / 1.5 = 5,333 >= 5,000); it is unsafe once
    # 50 x 160 / (1.5 f) < 5,000, i.e. f > 1.0667: bitten at 1.1, not at 1.05.
    m = flip_model()
    s = m.init_state(3)
    m.scale_parameter(s, "ilks.ETH-A.mat", np.array([1.0, 1.05, 1.1]))
    m.round(s, inputs(3, 60, 160.0))
    assert s["n_kicks"].tolist() == [0, 0, 1]


def test_a_backstop_heals_the_deficit_before_flop_mints() -> None:
    # The zero-bid case of test_maker_model.py: the 50 ETH go for nothing and the Vow is 5,000 DAI short, which
    # Flop covers by minting 5.000025 MKR. With 5,000 DAI added to the surplus first, Vow.heal cancels the debt
    # with it: no MKR is minted and the deficit is 0.
    m = flip_model(sump=1000.0, latency=3600, zero_bidder=True)
    s = m.init_state(2)
    m.add_reserves(s, np.array([5000.0, 0.0]))
    m.round(s, inputs(2, 0, 200.0))
    m.round(s, inputs(2, 60, 140.0))
    m.round(s, inputs(2, 661, 140.0))
    assert s["mkr_minted"][0] == 0.0
    assert s["mkr_minted"][1] == pytest.approx(5.000025, rel=1e-6)
    assert s["deficit"].tolist() == pytest.approx([0.0, 5000.0])
    assert s["surplus"][0] == pytest.approx(0.0, abs=1e-9)
    assert m.check_conservation(s, {}) == []


def test_policies_on_maker_validate_and_refuse() -> None:
    base = builtin_text("black-thursday-2020")  # protocol "mcd" (maker), ilk ETH-A
    trigger = 'trigger = { series = "time", comparison = ">=", threshold = 0 }'
    good = (f'\n[[policies]]\nname = "p"\nprotocol = "mcd"\n{trigger}\naction = {{ type = "pause_liquidations" }}\n'
            f'[[policies]]\nname = "m"\nprotocol = "mcd"\n{trigger}\n'
            'action = { type = "scale", parameter = "ilks.ETH-A.mat", factor = 1.2 }\n')  # fmt: skip
    assert [p.name for p in parse_scenario(base + good, source="p.toml").spec.policies] == ["p", "m"]
    bad = (f'\n[[policies]]\nname = "m"\nprotocol = "mcd"\n{trigger}\n'
           'action = { type = "scale", parameter = "ilks.ETH-B.mat", factor = 1.2 }\n')  # fmt: skip
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(base + bad, source="p.toml")
    assert any("p.toml: policies.m.action.parameter: protocol mcd (maker) has no such control" in p
               for p in exc.value.problems), exc.value.problems  # fmt: skip
