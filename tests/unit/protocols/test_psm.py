"""The PSM model: hand-computed arbitrage that restores the peg up to capacity and no further, conformance."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import ValidationError

from firesale.exceptions import ScenarioError
from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.psm import PegStabilityModule, PsmSpec
from firesale.testing import check_protocol_model

GRID = np.array([0.0, 100.0, 200.0, 300.0])


def _scenario(assets=("DAI", "USDC")) -> SimpleNamespace:
    return SimpleNamespace(
        spec=SimpleNamespace(assets=[SimpleNamespace(name=a) for a in assets]), source="psm.toml"
    )


def _model(**over) -> PegStabilityModule:
    data = {
        "name": "psm",
        "type": "psm",
        "tin": 0.01,
        "tout": 0.001,
        "reserves": 1000.0,
        "debt_ceiling": 5000.0,
    }
    data.update(over)
    return PegStabilityModule.build(PsmSpec.model_validate(data), _scenario())


def _inputs(ps: float, pr: float, dai_curve, usdc_curve, n: int = 1) -> RoundInputs:
    curves = np.zeros((n, 2, GRID.size))
    curves[:, 0], curves[:, 1] = dai_curve, usdc_curve
    market = np.tile([ps, pr], (n, 1))
    return RoundInputs(
        time=0.0, oracle=market, market=market, active=np.ones(n, dtype=bool),
        liquidators=LiquidatorCapacity(np.full(n, 100, np.int64), np.full(n, 1e9), np.zeros(n), 0.0),
        quotes=SaleQuotes(GRID, lambda paths, mask: curves),
    )  # fmt: skip


def test_stablecoin_above_peg_minted_and_sold_until_the_band_edge():
    # DAI at 1.2, USDC at 1, tin = 1%. Arbitrage: deposit USDC, get 0.99 DAI each, sell it.
    # Cost per unit of DAI market value sold: 1 / (0.99 * 1.2) = 0.841751.
    # DAI proceeds curve marginals per segment of 100 USD: 1.0, 0.9, 0.8 -> the first two pay, the third does not.
    # Sold: 200 USD of market value = 200 / 1.2 = 166.667 DAI; USDC in g = 166.667 / 0.99 = 168.350.
    m = _model()
    state = m.init_state(1)
    flows = m.round(state, _inputs(1.2, 1.0, [0, 100, 190, 270], [0, 100, 200, 300]))
    g = 200.0 / 1.2 / 0.99
    assert flows.buy[0, 1] == pytest.approx(g) and flows.sell[0, 0] == pytest.approx(200.0 / 1.2)
    assert flows.kept[0, 0] == pytest.approx(0.01 * g) and flows.minted[0, 0] == pytest.approx(g)
    assert state["gem"][0] == pytest.approx(1000.0 + g) and state["art"][0] == pytest.approx(1000.0 + g)
    # No further: the next DAI sold would fetch 0.8 * 1.2 = 0.96 USD < band edge 1 / 0.99 = 1.0101 USD.
    assert 0.8 * 1.2 < 1 / 0.99 < 0.9 * 1.2


def test_stablecoin_above_peg_stops_at_the_debt_ceiling():
    # Same prices, ceiling 1100 with 1000 already minted: only 100 USDC fit; 99 DAI sold.
    m = _model(debt_ceiling=1100.0)
    state = m.init_state(1)
    flows = m.round(state, _inputs(1.2, 1.0, [0, 100, 190, 270], [0, 100, 200, 300]))
    assert flows.buy[0, 1] == pytest.approx(100.0) and flows.sell[0, 0] == pytest.approx(99.0)
    assert state["art"][0] == pytest.approx(1100.0)
    assert not m.round(state, _inputs(1.2, 1.0, [0, 100, 190, 270], [0, 100, 200, 300])).acted.any()


def test_stablecoin_below_peg_redeemed_until_the_band_edge_or_reserves():
    # DAI at 0.95, tout = 0.1%: cost per unit of USDC market value sold = 1.001 * 0.95 / 1 = 0.95095.
    # USDC curve marginals 1.0, 0.96, 0.94: two segments pay -> 200 USDC out for 200.2 DAI (200 burned, 0.2 fee).
    m = _model()
    state = m.init_state(1)
    flows = m.round(state, _inputs(0.95, 1.0, [0, 100, 200, 300], [0, 100, 196, 290]))
    assert flows.sell[0, 1] == pytest.approx(200.0) and flows.buy[0, 0] == pytest.approx(200.2)
    assert flows.burned[0, 0] == pytest.approx(200.0) and flows.kept[0, 0] == pytest.approx(0.2)
    assert state["gem"][0] == pytest.approx(800.0)
    # With only 150 USDC in reserve the PSM runs dry at 150 and does no more.
    m = _model(reserves=150.0)
    state = m.init_state(1)
    flows = m.round(state, _inputs(0.95, 1.0, [0, 100, 200, 300], [0, 100, 196, 290]))
    assert flows.sell[0, 1] == pytest.approx(150.0) and state["gem"][0] == pytest.approx(0.0, abs=1e-9)


def test_inside_the_fee_band_nothing_happens():
    # DAI at 1.005: 1.005 * 0.99 = 0.99495 < 1 and 1.005 * 1.001 > 1: no arbitrage either way.
    m = _model()
    assert not m.round(
        m.init_state(2), _inputs(1.005, 1.0, [0, 100, 200, 300], [0, 100, 200, 300], 2)
    ).acted.any()


def test_reserve_depeg_pulls_the_stablecoin_down_through_the_psm():
    # USDC at 0.88 (March 2023), DAI at 1: USDC is cheap, so arbitrageurs fill the PSM with it up to the ceiling
    # and sell the DAI: 4000 USDC of headroom, 3960 DAI sold; books: 5000 DAI owed against 5000 * 0.88.
    m = _model()
    state = m.init_state(1)
    flows = m.round(state, _inputs(1.0, 0.88, GRID, GRID))
    assert flows.buy[0, 1] == pytest.approx(4000.0) and flows.sell[0, 0] == pytest.approx(3960.0)
    book = m.account(state, np.array([[1.0, 0.88]]))
    assert book.bad_debt_usd[0] == pytest.approx(5000.0 - 5000.0 * 0.88)


def test_supply_conserved_across_rounds():
    m = _model()
    state = m.init_state(1)
    out = {k: np.zeros((1, 2)) for k in ("sold", "kept", "repaid")}
    minted = burned = 0.0
    for ps in (1.2, 0.95, 1.1, 0.9, 1.0):
        f = m.round(state, _inputs(ps, 1.0, [0, 100, 190, 270], [0, 100, 196, 290]))
        out["sold"] += f.sell
        out["kept"] += f.kept
        out["repaid"] += f.buy
        minted += f.minted[0, 0]
        burned += f.burned[0, 0]
    assert m.check_conservation(state, out) == []
    assert state["art"][0] == pytest.approx(1000.0 + minted - burned)


def test_undefined_reserve_asset_is_rejected_with_key_path():
    with pytest.raises(ScenarioError, match=r"psm.toml: protocols.psm.reserve_asset: must name a defined asset, "
                                            r"got 'USDC'"):  # fmt: skip
        PegStabilityModule.build(PsmSpec.model_validate({"name": "psm", "type": "psm", "reserves": 1.0,
                                                         "debt_ceiling": 2.0}), _scenario(("DAI",)))  # fmt: skip


def test_bad_fee_is_rejected():
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        PsmSpec.model_validate(
            {"name": "psm", "type": "psm", "tin": -0.1, "reserves": 1.0, "debt_ceiling": 2.0}
        )


def test_conformance_suite_passes():
    passed = check_protocol_model(
        _model, np.array([1.0, 1.0]),
        bad_specs=[(lambda: _model(tout=-0.01), "greater than or equal to 0"),
                   (lambda: _model(debt_ceiling=10.0), "must be at least the reserves")],
    )  # fmt: skip
    assert "conservation and no negative balances" in passed and "clear errors for bad specs" in passed
