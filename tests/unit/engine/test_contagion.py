"""Contagion through the engine: another protocol's fire sale, receipt tokens, and the attribution of losses."""

from __future__ import annotations

import numpy as np
import pytest

import firesale
from firesale.contagion.attribution import attribute
from firesale.scenario import parse_scenario

D = 1e5  # the shared WETH book: $100k moves the price 1 % (linear, all permanent)

TWO = """
name = "two"
[simulation]
n_steps = 2
dt = 300
n_paths = 1
max_cascade_rounds = 20
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "drop"
depth = { WETH = 0.10 }
start = 300
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = 1e5
impact = "linear"
permanent = 1.0
half_life = 1e9
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
name = "small"
type = "aave_v3"
accounts = [{ account = "a", asset = "WETH", collateral_amount = 100.0 }, { account = "a", asset = "USDC", debt_amount = 140000.0 }]
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
{receipt}
[[protocols]]
name = "big"
type = "aave_v3"
accounts = [{ account = "b", asset = "WETH", collateral_amount = 1500.0 }, { account = "b", asset = "USDC", debt_amount = 2100000.0 }]
[protocols.reserves.WETH]
ltv = 0.65
liquidation_threshold = 0.70
liquidation_bonus = 0.40
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


def two(receipt: str = "") -> firesale.Scenario:
    return parse_scenario(TWO.replace("{receipt}", receipt), source="two.toml")


def test_another_protocols_fire_sale_creates_this_ones_bad_debt():
    # ETH drops 10 % to 1800. "small" (100 WETH against 140,000 USDC: HF = 144,000 / 140,000 = 1.029) is safe at
    # that price. "big" (1500 WETH against 2.1M: HF = 0.7 * 2.7M / 2.1M = 0.9 < 0.95) is closed in full: its
    # liquidator seizes all 1500 WETH (2.1M * 1.4 / 1800 > 1500) and sells 2.7M USD of it into the shared book,
    # which moves the price by 0.01 * 2.7M / 1e5 = 27 % in log: to p = 1800 * exp(-0.27). Next round "small" has
    # HF 0.8 * 100 p / 140,000 < 0.95: all its WETH is seized against p * 100 / 1.05 of debt, the rest is bad debt.
    p = 1800 * np.exp(-0.01 * 1500 * 1800 / D)
    m = firesale.simulate(two(), n_paths=1, seed=0).metrics.iloc[0]
    assert m["bad_debt_usd_small"] == pytest.approx(140_000 - 100 * p / 1.05, rel=1e-9)
    # With the venue channel cut for "small", big's sale is absorbed outside the book: "small" is never liquidated.
    alone = firesale.simulate(two(), n_paths=1, seed=0, channels=("derived", "liquidators"), focus="small")
    assert alone.metrics["bad_debt_usd_small"].iloc[0] == 0.0
    assert alone.metrics["liquidated_usd_small"].iloc[0] == 0.0


def test_attribution_puts_the_loss_on_the_shared_venue_and_adds_up():
    att = attribute(two(), n_paths=1, seed=0)
    t = att.table.set_index(["protocol", "metric", "component"])["mean"]
    total = t[("small", "bad_debt_usd", "total")]
    assert total > 0
    assert t[("small", "bad_debt_usd", "own")] == 0.0
    assert t[("small", "bad_debt_usd", "venues")] == pytest.approx(total, rel=1e-12)
    assert (
        t[("small", "bad_debt_usd", "derived")] == 0.0 and t[("small", "bad_debt_usd", "liquidators")] == 0.0
    )
    for (_, _), frame in att.per_path.items():  # own + shares = total on every path
        parts = frame["own"] + frame["venues"] + frame["derived"] + frame["liquidators"]
        np.testing.assert_allclose(parts, frame["total"], rtol=1e-12, atol=1e-9)
    # "big" is hurt by nobody: all of its loss is its own.
    assert t[("big", "bad_debt_usd", "own")] == pytest.approx(t[("big", "bad_debt_usd", "total")], rel=1e-12)


def test_liquidator_capital_shared_between_protocols_is_a_channel():
    # Capital of $200k per step. Each step big's liquidator repays $200k of big's debt (seizing 200k * 1.4 / p
    # WETH) and uses it all. By step 2 those sales have pushed "small" below HF 1 (but above 0.95: close factor
    # 50 %, $70,000 of its 140,000). With its own liquidators (channel cut) "small" gets those $70k liquidated;
    # sharing them with "big" it gets nothing. So v(venues) = 70k, v(venues, liquidators) = 0, v(others) = 0, and the
    # Shapley shares of small's liquidated volume are venues +35k, liquidators -35k (their interaction split evenly).
    sc = two()
    text = sc.text.replace(
        "gas_per_liquidation = 0", "gas_per_liquidation = 0\nliquidator_capital_usd = 200000.0"
    )
    sc = parse_scenario(text, source="two.toml")
    att = attribute(sc, n_paths=1, seed=0)
    t = att.table.set_index(["protocol", "metric", "component"])["mean"]
    assert t[("small", "liquidated_usd", "total")] == 0.0
    assert t[("small", "liquidated_usd", "venues")] == pytest.approx(35_000.0, rel=1e-9)
    assert t[("small", "liquidated_usd", "liquidators")] == pytest.approx(-35_000.0, rel=1e-9)
    assert t[("big", "liquidated_usd", "total")] == pytest.approx(400_000.0, rel=1e-9)


def test_receipt_token_loses_exactly_the_uncovered_bad_debt_share():
    # "small"'s USDC reserve issues aUSDC on 1,000,000 USDC supplied. Its bad debt B (all owed in USDC, no reserves
    # and no fees: protocol fee 0) is the suppliers' loss, so aUSDC = 1 - B / 1,000,000 USD.
    receipt = 'receipt_token = "aUSDC"\ntotal_supply = 1000000.0'
    text = (
        TWO.replace("{receipt}", "")
        .replace(
            'oracle = "usdc"\nvenues = ["usdc-book"]\n\n[[protocols]]',
            f'oracle = "usdc"\nvenues = ["usdc-book"]\n{receipt}\n\n[[protocols]]',
        )
        .replace(
            '[[venues]]\ntype = "orderbook"\nname = "book"',
            '[[assets]]\nname = "aUSDC"\nprice = 1.0\n[[venues]]\ntype = "orderbook"\nname = "book"',
            1,
        )
    )
    sc = parse_scenario(text, source="receipt.toml")
    m = firesale.simulate(sc, n_paths=1, seed=0).metrics.iloc[0]
    bad = m["bad_debt_usd_small"]
    assert bad > 0
    assert m["min_price_ratio_aUSDC"] == pytest.approx(1 - bad / 1_000_000, rel=1e-12)


LP = """
name = "lp"
[simulation]
n_steps = 1
dt = 300
n_paths = 1
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[[assets]]
name = "UNI-LP"
price = 4000.0
lp_of = "pool"
lp_supply = 1000.0
[market]
model = "shock"
shape = "drop"
depth = { WETH = 0.10 }
start = 300
[[venues]]
type = "constant_product"
name = "pool"
coins = ["WETH", "USDC"]
reserves = [1000.0, 2000000.0]
fee_bps = 0
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
accounts = [{ account = "a", asset = "WETH", collateral_amount = 10.0 }, { account = "a", asset = "USDC", debt_amount = 15000.0 }]
[protocols.reserves.WETH]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
liquidation_protocol_fee = 0.10
oracle = "eth"
venues = ["pool"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "usdc"
[agents]
gas_per_liquidation = 0
arbitrage_capital_usd = 0
"""


def test_an_lp_token_is_worth_its_pools_value_after_a_fire_sale_into_it():
    # ETH falls to 1800 (no arbitrage capital: the pool stays at 2000). The account (10 WETH, 15,000 USDC: HF 0.96)
    # is half-liquidated: 4.375 WETH seized, 4.375 - 0.1 * (4.375 - 4.375 / 1.05) sold into the fee-free pool. The LP
    # token (1000 of them) is then worth (x' * 1800 + y') / 1000 with x' = 1000 + sold and y' = 2e9 / x'.
    sc = parse_scenario(LP, source="lp.toml")
    m = firesale.simulate(sc, n_paths=1, seed=0).metrics.iloc[0]
    sold = 4.375 - 0.1 * (4.375 - 4.375 / 1.05)
    x = 1000.0 + sold
    value = (x * 1800 + 2e9 / x) / 1000
    assert m["n_liquidations"] == 1
    assert m["min_price_ratio_UNI-LP"] == pytest.approx(value / 4000.0, rel=1e-12)


def test_an_lp_tokens_price_must_match_its_pool():
    with pytest.raises(
        firesale.ScenarioError, match=r"assets.UNI-LP.price: must be the pool's value over lp_supply"
    ):
        parse_scenario(LP.replace("price = 4000.0", "price = 4100.0"), source="lp.toml")


def test_run_attribute_stores_the_split_with_the_run_and_reports_it(tmp_path):
    from click.testing import CliRunner

    from firesale.cli import main
    from firesale.store import RunStore

    path = tmp_path / "two.toml"
    path.write_text(TWO.replace("{receipt}", ""))
    store, report = tmp_path / "runs", tmp_path / "r.html"
    args = ["run", str(path), "--paths", "1", "--seed", "0", "--store", str(store), "--attribute"]
    res = CliRunner().invoke(main, [*args, "--report", str(report)])
    assert res.exit_code == 0, res.output
    run = RunStore(store).get(RunStore(store).runs()["id"].iloc[0])
    stored = run.series("attribution").set_index(["protocol", "metric", "component"])["mean"]
    # The same split as above (small's whole loss came through the shared venue), computed by the same rule.
    p = 1800 * np.exp(-0.01 * 1500 * 1800 / D)
    assert stored[("small", "bad_debt_usd", "venues")] == pytest.approx(140_000 - 100 * p / 1.05, rel=1e-9)
    assert stored[("small", "bad_debt_usd", "own")] == 0.0
    html = report.read_text()
    assert 'id="chart-contagion-small-bad-debt-usd"' in html and "Contagion by channel" in html
    # Distributed runs cannot attribute (its counterfactuals run here): refused before anything runs.
    res = CliRunner().invoke(main, [*args, "--workers", "2"])
    assert res.exit_code == 2 and "--attribute" in res.output
    assert len(RunStore(store).runs()) == 1
