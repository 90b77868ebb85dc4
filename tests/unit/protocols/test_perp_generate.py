"""Generated perp books (PerpSpec.generate), its bad input, and the BTC perp builtin end to end."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from tests.unit.protocols.test_perp_model import _spec

import firesale
from firesale.analysis.perp_tails import perp_tails
from firesale.protocols.perps import PerpSpec, generate_book
from firesale.scenario._errors import format_validation_error

TIERS = [{"notional_floor_usd": 0.0, "max_leverage": 20.0, "maintenance_margin_rate": 0.01},
         {"notional_floor_usd": 1e5, "max_leverage": 5.0, "maintenance_margin_rate": 0.05}]  # fmt: skip


def _gen(**over) -> dict:
    g = {"n_traders": 400, "median_notional_usd": 5e4, "notional_sigma": 1.0, "leverage_min": 2.0,
         "leverage_max": 50.0, "long_share": 0.7, "isolated_share": 0.25, "seed": 3}  # fmt: skip
    g.update(over)
    return _spec(
        generate=g,
        traders=[],
        markets={"BTC-PERP": {"index": "BTC", "oracle": "btc", "book_depth_usd": 1e9, "tiers": TIERS}},
    )


def test_generated_book_respects_tiers_sides_and_margins() -> None:
    spec = PerpSpec.model_validate(_gen())
    cash, size, entry, iso, isolated = generate_book(spec, np.array([20_000.0]))
    notional = np.abs(size[:, 0]) * entry[:, 0]
    margin = np.where(isolated[:, 0], iso[:, 0], cash)
    lev = notional / margin
    # leverage within [2, 50] and never above the tier's maximum: 20x below 100k, 5x above
    assert lev.min() >= 2.0 - 1e-9
    assert (lev[notional < 1e5] <= 20.0 + 1e-9).all() and (lev[notional >= 1e5] <= 5.0 + 1e-9).all()
    assert 0.6 < (size[:, 0] > 0).mean() < 0.8  # 70 % long
    assert 0.15 < isolated.mean() < 0.35
    assert np.median(notional) == pytest.approx(5e4, rel=0.2)
    assert (entry[:, 0] == 20_000.0).all()  # no dispersion asked


def _problem(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        PerpSpec.model_validate(data)
    return "; ".join(format_validation_error(info.value, data, "perp.toml", PerpSpec))


def test_generate_bad_input_is_rejected() -> None:
    assert "generate.leverage_max: must be at least leverage_min = 5, got 3" in _problem(
        _gen(leverage_min=5.0, leverage_max=3.0)
    )
    assert "generate.markets[0]: must be one of ['BTC-PERP'], got 'ETH-PERP'" in _problem(
        _gen(markets=["ETH-PERP"])
    )
    assert "generate.n_traders" in _problem(_gen(n_traders=0))
    market = {"index": "BTC", "oracle": "btc", "book_depth_usd": 1e9, "tiers": TIERS}
    assert "markets.BTC-PERP.book_overflow" in _problem(
        _spec(markets={"BTC-PERP": {**market, "book_overflow": "spill"}})
    )
    assert "markets.BTC-PERP.index_growth_limit" in _problem(
        _spec(markets={"BTC-PERP": {**market, "index_growth_limit": -1.0}})
    )


def test_withdrawing_without_a_cross_position_is_rejected() -> None:
    trader = {
        "withdraws_profit": True,
        "positions": [{"market": "BTC-PERP", "size": 1.0, "entry_price": 1.0, "isolated_margin_usd": 1.0}],
    }
    assert (
        "traders[0].withdraws_profit: needs a cross position (only cross equity is withdrawn), got True"
        in (_problem(_spec(traders=[trader])))
    )


def test_btc_perp_builtin_runs_and_reports_tails() -> None:
    r = firesale.simulate("btc-perp-2021-05", n_paths=4, n_steps=24, seed=1)
    tails = perp_tails(r, "venue").set_index("figure")
    assert tails.loc["p_insurance_exhausted", "n_paths"] == 4
    assert "venue.vault_equity_usd" in r.paths and r.paths["venue.vault_equity_usd"][:, 0] == pytest.approx(
        1e7
    )
    # the HLP share starts at 1 USD (10M of capital over 10M shares)
    assert (r.metrics["venue.n_liquidated"] >= 0).all()
