"""The built-in multi-protocol world: its wiring, a short run, and the attribution on it."""

from __future__ import annotations

import numpy as np
import pytest

import firesale
from firesale.contagion import attribute
from firesale.engine._blueprint import Blueprint


def test_three_lenders_share_venues_oracle_and_aweth():
    sc = firesale.load_scenario("contagion-2025")
    bp = Blueprint.build(sc)
    aave, comp, aweth = bp.protocols
    assert (aave.name, comp.name, aweth.name) == ("aave-v3-core", "compound-style", "aweth-lender")
    # Aave issues aWETH on its WETH reserve; the third lender takes it as collateral.
    assert [(t.name, t.underlying) for t in aave.issued] == [("aWETH", "WETH")]
    assert "aWETH" in aweth.assets
    # Compound-style sells WETH into the same pool and book as Aave and reads the same ETH oracle.
    weth = aave.assets.index("WETH")
    assert comp.sale_venues[comp.assets.index("WETH")] == aave.sale_venues[weth]
    assert comp.oracles[comp.assets.index("WETH")] == aave.oracles[weth]


def test_a_short_run_books_each_protocol_and_prices_aweth_from_aaves_books():
    r = firesale.simulate("contagion-2025", n_paths=4, seed=1, n_steps=12)
    for name in ("aave-v3-core", "compound-style", "aweth-lender"):
        assert f"bad_debt_usd_{name}" in r.metrics.columns
    # With no uncovered bad debt at Aave, aWETH tracks WETH exactly.
    m = r.metrics
    no_loss = m["bad_debt_usd_aave-v3-core"] == 0
    np.testing.assert_allclose(m.loc[no_loss, "min_price_ratio_aWETH"], m.loc[no_loss, "min_price_ratio_WETH"],
                               rtol=1e-12)  # fmt: skip


@pytest.mark.slow
def test_attribution_on_the_builtin_adds_up():
    att = attribute("contagion-2025", n_paths=8, seed=1)
    for frame in att.per_path.values():
        parts = frame[["own", "venues", "derived", "liquidators"]].sum(axis=1)
        np.testing.assert_allclose(parts, frame["total"], rtol=1e-9, atol=1e-6)
