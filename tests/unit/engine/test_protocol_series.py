"""A protocol's own series and metrics through the engine: ``simulation.record = ["<protocol>.<series>"]`` and
``ProtocolModel.metrics``, checked against values computed by hand, and refused names with a suggestion."""

from __future__ import annotations

import numpy as np
import pytest

import firesale
from firesale.exceptions import ScenarioError
from firesale.protocols.lending_market import LendingMarket
from firesale.scenario import parse_scenario

TEXT = """
name = "s"
[simulation]
n_steps = 2
dt = 300
n_paths = 3
record = [{record}]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "drop"
depth = {{ WETH = 0.10 }}
start = 300
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = 1e300
impact = "linear"
[[venues]]
type = "orderbook"
name = "usdc-book"
asset = "USDC"
depth_usd = 1e300
impact = "linear"
[[oracles]]
name = "eth"
asset = "WETH"
type = "market"
[[oracles]]
name = "usdc"
asset = "USDC"
type = "market"
[[protocols]]
name = "lender"
type = "aave_v3"
accounts = [
  {{ account = "a", asset = "WETH", collateral_amount = 1.0 }}, {{ account = "a", asset = "USDC", debt_amount = 1500.0 }},
  {{ account = "b", asset = "WETH", collateral_amount = 2.0 }}, {{ account = "b", asset = "USDC", debt_amount = 1000.0 }},
]
[protocols.reserves.WETH]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "eth"
venues = ["book"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "usdc"
venues = ["usdc-book"]
[agents]
gas_per_liquidation = 0
"""


def scenario(record: str):
    return parse_scenario(TEXT.format(record=record), source="s.toml")


def test_lending_series_are_recorded_from_the_start_with_hand_computed_values():
    res = firesale.simulate(scenario('"lender.*"'), n_paths=3, seed=1)
    # At $2,000: a holds $2,000 and owes $1,500 (HF 0.8 * 2000 / 1500 = 1.0667), b holds $4,000 and owes $1,000
    # (HF 3.2). Debt within 10 % and 20 % of liquidation is a's $1,500, within 5 % none.
    start = {k[len("lender.") :]: v[:, 0] for k, v in res.paths.items() if k.startswith("lender.")}
    assert sorted(start) == ["collateral_usd", "debt_usd", "debt_within_10pct", "debt_within_20pct",
                             "debt_within_5pct"]  # fmt: skip
    np.testing.assert_allclose(start["debt_usd"], 2500.0)
    np.testing.assert_allclose(start["collateral_usd"], 6000.0)
    np.testing.assert_allclose(start["debt_within_5pct"], 0.0)
    np.testing.assert_allclose(start["debt_within_10pct"], 1500.0)
    np.testing.assert_allclose(start["debt_within_20pct"], 1500.0)
    # After the 10 % drop to $1,800, a (HF 0.8 * 1800 / 1500 = 0.96 > 0.95: close factor 50 %) is liquidated once:
    # $750 repaid, 750 * 1.05 / 1800 = 0.4375 WETH seized; the book keeps 2.5625 WETH = $4,612.50 and owes $1,750.
    np.testing.assert_allclose(res.paths["lender.collateral_usd"][:, -1], 4612.5, rtol=1e-6)
    np.testing.assert_allclose(res.paths["lender.debt_usd"][:, -1], 1750.0, rtol=1e-6)


def test_one_named_series_records_only_that_one():
    res = firesale.simulate(scenario('"lender.debt_usd"'), n_paths=2, seed=1)
    assert [k for k in res.paths if k.startswith("lender.")] == ["lender.debt_usd"]


def test_an_unknown_series_is_refused_with_a_suggestion():
    with pytest.raises(ScenarioError) as exc:
        scenario('"lender.debt_usdd"')
    msg = "\n".join(exc.value.problems)
    assert "s.toml: simulation.record:" in msg and "did you mean 'lender.debt_usd'?" in msg
    assert "got 'lender.debt_usdd'" in msg


def test_a_series_of_an_unknown_protocol_is_refused():
    with pytest.raises(ScenarioError) as exc:
        scenario('"lendr.debt_usd"')
    msg = "\n".join(exc.value.problems)
    assert "names a protocol of the scenario (lender), got 'lendr.debt_usd'" in msg


def test_model_metrics_reach_the_run_metrics_under_the_protocol_name(monkeypatch):
    def metrics(self, state, market):
        return {"weth_held": state.collateral[:, :, 0].sum(axis=1) * market[:, 0]}

    monkeypatch.setattr(LendingMarket, "metrics", metrics)
    res = firesale.simulate(scenario('"bad_debt"'), n_paths=2, seed=1)
    # The column is the model's own figure at the final market price: 2.5625 WETH left at $1,800 (see above).
    np.testing.assert_allclose(res.metrics["lender.weth_held"], 4612.5, rtol=1e-9)
