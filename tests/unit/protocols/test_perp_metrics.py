"""PerpVenue.metrics and its series on hand cases, and perp_tails on a hand-made metrics frame."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from tests.unit.protocols.test_perp_model import _inputs, _scenario, _spec

from firesale.analysis.perp_tails import perp_tails
from firesale.exceptions import ParameterError
from firesale.protocols.perps import PerpSpec, PerpVenue


def test_metrics_of_an_exhausted_insurance_fund() -> None:
    # The hand case of tests/unit/mechanics/test_perps.py with a 40 USD fund, on three paths at 18,900, 20,000 and
    # 19,500. At 18,900: T0 (long 1 @ 20,000, 1,000 collateral) is bankrupt by 100; T1 pays a 50 fee; the fund's
    # 40 + 50 = 90 pays 90, the 10 left goes past the fund (exhausted) onto T2, which closes 1 BTC by ADL: 18,900
    # of notional. At 20,000 nothing happens; at 19,500 T0 has 1000 - 500 = 500 > MM 195 and T1 has
    # 600 - 250 = 350 > MM 97.5, so nothing either.
    model = PerpVenue.build(PerpSpec.model_validate(_spec(insurance_fund_usd=40.0)), _scenario())
    state = model.init_state(3)
    index = np.array([[18_900.0], [20_000.0], [19_500.0]])
    model.round(state, _inputs(index, 1.0))
    market = np.concatenate([index, np.ones((3, 1))], axis=1)
    m = model.metrics(state, market)
    assert set(m) == set(PerpVenue.METRICS)
    assert m["insurance_exhausted"].tolist() == [1.0, 0.0, 0.0]
    assert m["insurance_paid_usd"] == pytest.approx([90.0, 0.0, 0.0], abs=1e-9)
    assert m["insurance_fund_end_usd"] == pytest.approx([0.0, 40.0, 40.0], abs=1e-9)
    assert m["adl_notional_usd"] == pytest.approx([18_900.0, 0.0, 0.0], abs=1e-9)
    assert m["adl_transfer_usd"] == pytest.approx([10.0, 0.0, 0.0], abs=1e-9)
    assert m["socialised_loss_usd"] == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert m["liquidation_fees_usd"] == pytest.approx([50.0, 0.0, 0.0], abs=1e-9)
    assert m["n_liquidated"].tolist() == [2.0, 0.0, 0.0]
    assert m["vault_drawdown_usd"].tolist() == [0.0, 0.0, 0.0]  # no vault
    assert m["withdrawn_usd"].tolist() == [0.0, 0.0, 0.0]
    for key in ("insurance_paid_usd", "adl_notional_usd", "n_liquidated"):
        assert model.record(state, key, market) == pytest.approx(m[key], abs=1e-9)
    # long open interest: T1's 0.5 and T0's 1 are closed on path 0, T2 is short; 1.5 BTC elsewhere
    assert model.record(state, "open_interest_usd", market) == pytest.approx([0.0, 30_000.0, 29_250.0])
    assert {"insurance_paid_usd", "vault_drawdown_usd", "open_interest_usd", "n_liquidated"} <= set(
        model.series()
    )


def test_vault_drawdown_is_peak_to_trough() -> None:
    # tests/unit/protocols/test_perp_model.py::test_vault_share_price_and_spot_hedge_flows: at 95 the vault takes
    # q = 1 - 20/95 BTC long at entry 100 with the trader's 5 USD of equity: vault equity 1005 (its peak). At 90 it is
    # 1005 - 5 q, at 99 it is 1005 + 4 q (a new peak): the drawdown is 5 q; the final PnL at 99 is 5 + 4 q.
    data = _spec(
        vault={"enabled": True, "capital_usd": 1000.0, "token": "HLP"},
        markets={"BTC-PERP": {"index": "BTC", "oracle": "btc", "book_depth_usd": 20.0,
                              "tiers": [{"notional_floor_usd": 0.0, "max_leverage": 10.0,
                                         "maintenance_margin_rate": 0.08}]}},
        traders=[{"positions": [{"market": "BTC-PERP", "size": 1.0, "entry_price": 100.0,
                                 "isolated_margin_usd": 10.0}]},
                 {"collateral_usd": 1e6, "positions": [{"market": "BTC-PERP", "size": -1.0, "entry_price": 100.0}]}],
        liquidation_fee_rate=0.0,
    )  # fmt: skip
    model = PerpVenue.build(PerpSpec.model_validate(data), _scenario())
    state = model.init_state(1)
    q = 1.0 - 20.0 / 95.0
    for t, px in enumerate((95.0, 90.0, 99.0)):
        model.round(state, _inputs(np.array([[px]]), float(t + 1)))
    m = model.metrics(state, np.array([[99.0, 1.0]]))
    assert m["vault_drawdown_usd"] == pytest.approx([5.0 * q], rel=1e-12)
    assert m["vault_pnl_usd"] == pytest.approx([5.0 + 4.0 * q], rel=1e-12)
    # a final market below the trough deepens it: at 80 the equity is 1005 - 15 q, 19 q below the peak at 99
    assert model.metrics(state, np.array([[80.0, 1.0]]))["vault_drawdown_usd"] == pytest.approx([19.0 * q])


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "v.insurance_exhausted": [1.0, 0.0, 0.0, 1.0, 0.0],
        "v.adl_notional_usd": [100.0, 0.0, 0.0, 300.0, 0.0],
        "v.adl_transfer_usd": [10.0, 0.0, 0.0, 30.0, 0.0],
        "v.socialised_loss_usd": [0.0, 0.0, 0.0, 5.0, 0.0],
        "v.insurance_paid_usd": [7.0, 7.0, 7.0, 7.0, 7.0],
        "v.vault_drawdown_usd": [2.0, 4.0, 6.0, 8.0, 10.0],
        "other": [0.0] * 5,
    })  # fmt: skip


def test_perp_tails_on_a_hand_made_frame() -> None:
    got = perp_tails(_frame()).set_index("figure")
    n = 5
    # exhausted in 2 of 5: p = 0.4, se = sqrt(p (1 - p) / (n - 1)) = sqrt(0.24 / 4)
    assert got.loc["p_insurance_exhausted", "estimate"] == pytest.approx(0.4)
    assert got.loc["p_insurance_exhausted", "se"] == pytest.approx(math.sqrt(0.24 / 4))
    assert got.loc["p_adl", "estimate"] == pytest.approx(0.4)
    # socialised on 1 of 5: p = 0.2, se = sqrt(0.16 / 4) = 0.2
    assert got.loc["p_socialised_loss", ["estimate", "se"]].tolist() == pytest.approx([0.2, 0.2])
    # ADL notional: mean 80; deviations 20, -80, -80, 220, -80 -> sum of squares 68,000, s^2 = 17,000
    assert got.loc["mean_adl_notional_usd", "estimate"] == pytest.approx(80.0)
    assert got.loc["mean_adl_notional_usd", "se"] == pytest.approx(math.sqrt(17_000.0 / n))
    assert got.loc["mean_adl_transfer_usd", ["estimate", "se"]].tolist() == pytest.approx(
        [8.0, math.sqrt(170.0 / n)]
    )
    # socialised: mean 1, deviations -1,-1,-1,4,-1 -> 20 / 4 = 5
    assert got.loc["mean_socialised_loss_usd", "se"] == pytest.approx(math.sqrt(5.0 / n))
    assert got.loc["mean_insurance_paid_usd", ["estimate", "se"]].tolist() == pytest.approx([7.0, 0.0])
    # drawdown 2..10: mean 6, deviations -4,-2,0,2,4 -> 40 / 4 = 10
    assert got.loc["mean_vault_drawdown_usd", ["estimate", "se"]].tolist() == pytest.approx(
        [6.0, math.sqrt(2.0)]
    )
    assert set(got["protocol"]) == {"v"} and set(got["n_paths"]) == {5}


def test_perp_tails_rejects_bad_input() -> None:
    frame = _frame()
    with pytest.raises(ParameterError, match=r"must be one of \['v'\]. Got 'w'"):
        perp_tails(frame, "w")
    with pytest.raises(ParameterError, match="must hold the metrics of a perp venue"):
        perp_tails(frame[["other"]])
    with pytest.raises(ParameterError, match="at least 2 paths"):
        perp_tails(frame.iloc[:1])
    with pytest.raises(ParameterError, match=r"'v\.vault_drawdown_usd'"):
        perp_tails(frame.drop(columns="v.vault_drawdown_usd"))
    bad = frame.copy()
    bad.loc[0, "v.insurance_exhausted"] = 0.5
    with pytest.raises(ParameterError, match="0 or 1"):
        perp_tails(bad)
    bad = frame.copy()
    bad.loc[0, "v.adl_notional_usd"] = np.nan
    with pytest.raises(ParameterError, match="finite"):
        perp_tails(bad)
    with pytest.raises(ParameterError, match="SimulationResult or its metrics"):
        perp_tails([1, 2])
