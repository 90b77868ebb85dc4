"""Every registered protocol model passes the conformance suite; the suite itself catches broken models."""

from __future__ import annotations

import numpy as np
import pytest

import firesale
from firesale.protocols import LendingMarket, protocol_types
from firesale.protocols.base import Flows
from firesale.scenario import parse_scenario
from firesale.testing import check_protocol_model


def _lending(name: str, kind: str | None = None) -> tuple[LendingMarket, np.ndarray]:
    sc = firesale.load_scenario(name)
    spec = sc.spec.protocols[0]
    if kind is not None:
        spec = spec.model_copy(update={"type": kind})
    model = LendingMarket.build(spec, sc)
    prices = {a.name: a.price for a in sc.spec.assets}
    return model, np.array([prices[a] for a in model.assets])


@pytest.mark.parametrize("kind", ["aave_v3", "aave_v3.3", "compound_v2"])
def test_lending_market_passes(kind):
    model, prices = _lending("toy-spiral", kind)
    sc = firesale.load_scenario("toy-spiral")
    bad = sc.text.replace("liquidation_threshold = 0.83", "liquidation_threshold = 0.97")
    passed = check_protocol_model(
        lambda: model, prices, bad_specs=[(lambda: parse_scenario(bad), "must be <= 1 (Aave's validation)")]
    )
    assert "conservation and no negative balances" in passed and "clear errors for bad specs" in passed


def test_the_flagship_book_passes():
    model, prices = _lending("aave-v3-today")
    assert "monotone in price" in check_protocol_model(model, prices, shock=0.5, n_paths=2)


def test_every_registered_type_is_covered_here():
    # A new protocol type registers itself; its own tests must run the suite (this says where).
    covered = {
        "aave_v3": "here", "aave_v3.3": "here", "compound_v2": "here", "perp": "test_perp_model.py",
        "psm": "test_psm.py", "terra_market": "test_terra_market.py", "maker": "test_maker_model.py",
        "liquity": "test_liquity_model.py",
        "synthetix": "test_synthetix.py", "lst": "test_lst.py",
    }  # fmt: skip
    assert set(protocol_types()) <= set(covered), sorted(set(protocol_types()) - set(covered))


class _Leaky(LendingMarket):
    """A broken model: it reports selling collateral it never removed from the accounts."""

    def round(self, state, inputs):  # type: ignore[no-untyped-def]
        flows = super().round(state, inputs)
        return Flows(origin=flows.origin, sell=flows.sell * 2, buy=flows.buy, kept=flows.kept,
                     n_actions=flows.n_actions, n_unserved=flows.n_unserved, spent_usd=flows.spent_usd)  # fmt: skip


def test_the_suite_catches_a_model_that_creates_tokens():
    model, prices = _lending("toy-spiral")
    leaky = _Leaky(model.name, model.assets, model.oracles, model.sale_venues, model.params, model.collateral0,
                   model.debt0, model.reserve_usd)  # fmt: skip
    with pytest.raises(AssertionError, match="collateral not conserved"):
        check_protocol_model(leaky, prices)
