"""A replay's prices already contain the real flows (``market.impact = "deviation"``): the engine adds back the
impact of the flows its first pass finds at the replayed prices, so only the simulated flows' deviation from them
moves prices. Checked at engine level against a hand calculation on a linear, fully permanent order book."""

from __future__ import annotations

import math

import numpy as np
import pytest

import firesale
from firesale.exceptions import ScenarioError
from firesale.scenario import parse_scenario

D = 1e5  # WETH book depth: $100k of selling moves the price 1 % in log (linear, all permanent)

TEXT = """
name = "r"
[simulation]
n_steps = 2
dt = 300
n_paths = 1
record = ["price"]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "replay"
source = "p.csv"
columns = {{ WETH = "WETH" }}
interpolation = "previous"
{impact}
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = 1e5
impact = "linear"
permanent = 1.0
half_life = 1e12
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
accounts = [{{ account = "a", asset = "WETH", collateral_amount = 1.0 }},
            {{ account = "a", asset = "USDC", debt_amount = 1500.0 }}]
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


def scenario(tmp_path, impact: str):
    (tmp_path / "p.csv").write_text(
        "timestamp,WETH\n2022-01-01T00:00:00Z,2000\n2022-01-01T00:05:00Z,1000\n2022-01-01T00:10:00Z,1000\n"
    )
    return parse_scenario(TEXT.format(impact=impact), source="r.toml", base_dir=tmp_path)


def test_total_impact_counts_the_sale_on_top_of_the_replayed_price(tmp_path):
    # At $1,000 the account (HF 0.8 * 1000 / 1500 = 0.53) is closed in full: all of its 1 WETH is seized for
    # 1000 / 1.05 of debt, $547.62 is left as bad debt, and the $1,000 sale moves the book by 0.01 * 1000 / 1e5.
    res = firesale.simulate(scenario(tmp_path, 'impact = "total"'), seed=0)
    assert res.metrics["bad_debt_usd"].iloc[0] == pytest.approx(1500 - 1000 / 1.05, rel=1e-9)
    assert res.paths["price_WETH"][0, -1] == pytest.approx(1000 * math.exp(-0.01 * 1000 / D), rel=1e-6)


def test_deviation_adds_back_the_baseline_sale_so_the_replayed_price_is_kept(tmp_path):
    # The first pass (sales absorbed at market) seizes and sells the same 1 WETH at step 1. In the run, that sale's
    # impact is added back first: the book is lifted to p = 1000 * exp(0.01 * 1000 / 1e5), the oracle reads p,
    # all of the WETH is seized again for p / 1.05 of debt, and the engine's own sale of 1 WETH takes the book
    # back to exactly the replayed $1,000. Bad debt: 1500 - p / 1.05.
    p = 1000 * math.exp(0.01 * 1000 / D)
    for impact in ('impact = "deviation"', ""):  # deviation is the default for a replay
        res = firesale.simulate(scenario(tmp_path, impact), seed=0)
        assert res.metrics["bad_debt_usd"].iloc[0] == pytest.approx(1500 - p / 1.05, rel=1e-9)
        np.testing.assert_allclose(res.paths["price_WETH"][0, 1:], 1000.0, rtol=1e-9)


def test_impact_is_a_replay_key_only(tmp_path):
    text = TEXT.format(impact='impact = "total"').replace(
        'model = "replay"\nsource = "p.csv"\ncolumns = { WETH = "WETH" }\ninterpolation = "previous"\n',
        'model = "gbm"\nvol = 0.5\n',
    )
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, source="r.toml", base_dir=tmp_path)
    assert exc.value.problems == [
        "r.toml: market.gbm.impact: unknown key here (it belongs to another section or type), got 'total'"
    ]
