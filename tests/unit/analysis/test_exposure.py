"""Exposure of the starting book, against hand calculations."""

from __future__ import annotations

import pytest

from firesale.analysis import health_factors, liquidation_curve
from firesale.exceptions import ParameterError
from firesale.scenario import builtin_text, parse_scenario


@pytest.fixture
def two_accounts(tmp_path):
    # a: 10 WETH vs 12,000 USDC -> HF = 10*2000*0.83/12000 = 1.3833; b: 5 WETH vs 4,000 USDC -> HF = 2.075.
    (tmp_path / "pos.csv").write_text(
        "account,asset,collateral_amount,debt_amount\na,WETH,10,0\na,USDC,0,12000\nb,WETH,5,0\nb,USDC,0,4000\n"
    )
    text = builtin_text("toy-spiral")
    start, end = text.index("[protocols.generate]"), text.index("[protocols.reserves.WETH]")
    text = (
        text[:start].replace("reserve_usd = 100000", 'reserve_usd = 100000\npositions = "pos.csv"')
        + text[end:]
    )
    return parse_scenario(text, source="t.toml", base_dir=tmp_path)


def test_health_factors_by_hand(two_accounts):
    hf = health_factors(two_accounts).set_index("account")["health_factor"]
    assert hf["a"] == pytest.approx(10 * 2000 * 0.83 / 12_000)
    assert hf["b"] == pytest.approx(5 * 2000 * 0.83 / 4_000)
    half = health_factors(two_accounts, {"WETH": 0.5}).set_index("account")["health_factor"]
    assert half["a"] == pytest.approx(10 * 1000 * 0.83 / 12_000)


def test_liquidation_curve_by_hand(two_accounts):
    # a falls below 1 once the drop exceeds 1 - 1/1.3833 = 27.7 %; b once it exceeds 1 - 1/2.075 = 51.8 %.
    curve = liquidation_curve(two_accounts, [0.2, 0.3, 0.5, 0.6]).set_index("drop")
    assert curve["n_accounts"].tolist() == [0, 1, 1, 2]
    assert curve.loc[0.3, "collateral_usd"] == pytest.approx(10 * 2000 * 0.7)
    assert curve.loc[0.6, "debt_usd"] == pytest.approx(16_000)


def test_bad_arguments(two_accounts):
    with pytest.raises(ParameterError, match="must name assets of the scenario"):
        health_factors(two_accounts, {"DOGE": 0.5})
    with pytest.raises(ParameterError, match=r"must be fractions in \[0, 1\)"):
        liquidation_curve(two_accounts, [1.5])


def test_emode_category_sets_threshold_for_its_collateral(tmp_path):
    # Account a is in category 1 (WETH collateral at LT 0.95): HF = 10*2000*0.95/12000 = 1.5833; b stays at 0.83.
    (tmp_path / "pos.csv").write_text(
        "account,asset,collateral_amount,debt_amount,emode\na,WETH,10,0,1\na,USDC,0,12000,1\nb,WETH,5,0,0\nb,USDC,0,4000,0\n"
    )
    text = builtin_text("toy-spiral")
    start, end = text.index("[protocols.generate]"), text.index("[protocols.reserves.WETH]")
    text = (
        text[:start].replace("reserve_usd = 100000", 'reserve_usd = 100000\npositions = "pos.csv"')
        + text[end:]
    )
    text += '\n[protocols.emode.1]\nlabel = "ETH correlated"\nltv = 0.93\nliquidation_threshold = 0.95\nliquidation_bonus = 0.01\ncollateral = ["WETH"]\n'
    hf = health_factors(parse_scenario(text, source="t.toml", base_dir=tmp_path)).set_index("account")[
        "health_factor"
    ]
    assert hf["a"] == pytest.approx(10 * 2000 * 0.95 / 12_000)
    assert hf["b"] == pytest.approx(5 * 2000 * 0.83 / 4_000)


def test_unknown_emode_category_is_rejected(tmp_path):
    from firesale.exceptions import ScenarioError

    (tmp_path / "pos.csv").write_text(
        "account,asset,collateral_amount,debt_amount,emode\na,WETH,10,0,7\na,USDC,0,12000,7\n"
    )
    text = builtin_text("toy-spiral")
    start, end = text.index("[protocols.generate]"), text.index("[protocols.reserves.WETH]")
    text = (
        text[:start].replace("reserve_usd = 100000", 'reserve_usd = 100000\npositions = "pos.csv"')
        + text[end:]
    )
    with pytest.raises(
        ScenarioError, match=r"emode must be 0 or a category defined in protocols.lender.emode \[\], got 7"
    ):
        parse_scenario(text, source="t.toml", base_dir=tmp_path)


def test_a_world_without_a_lending_market_has_no_accounts_to_show():
    """Black Thursday holds only Maker vaults: the lending views are empty, with their columns (the report of a CDP
    run used to fail here reading a lending book the model does not have)."""
    from firesale.scenario import load_scenario

    sc = load_scenario("black-thursday-2020")
    hf = health_factors(sc)
    assert hf.empty
    assert list(hf.columns) == [
        "protocol", "account", "health_factor", "collateral_usd", "debt_usd", "borrowing_power_usd", "emode",
    ]  # fmt: skip
    curve = liquidation_curve(sc, [0.0, 0.5])
    assert curve["n_accounts"].tolist() == [0.0, 0.0] and curve["debt_usd"].tolist() == [0.0, 0.0]
