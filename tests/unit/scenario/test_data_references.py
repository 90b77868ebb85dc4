"""What a run will read is read at load time: broken data references fail ``validate``, not a recorded run.

Also: one pass reports schema and reference problems together, and data paths only ever read tables of the
expected kind, without echoing their contents.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from firesale.data._resolve import available_names
from firesale.exceptions import ScenarioError
from firesale.scenario import builtin_text, parse_scenario

TOY = builtin_text("toy-spiral")
REPLAY = builtin_text("black-thursday-2020")  # a replay with a gas series
POOL = builtin_text("aave-v3-today")  # a concentrated pool from a tick snapshot
NAMES = ", ".join(available_names())


def _swap(old: str, new: str, text: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _problems(text: str, base_dir: Path | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.toml", base_dir=base_dir)
    return [line.removeprefix("s.toml: ") for line in info.value.problems]


def _not_shipped(ref: str) -> str:
    return (
        f"file not found (The data reference '{ref}' names no dataset shipped with firesale (looked in the package "
        f"folder firesale/data/files). Available names: {NAMES}.), got '{ref}'"
    )


# ----- market data ------------------------------------------------------------------------------------------------
def test_garch_coefficient_missing_for_an_asset():
    text = _swap(
        'model = "shock"\nshape = "linear"\ndepth = { WETH = 0.35 }\nstart = 600\nduration = 3600',
        'model = "garch"\nvol = { WETH = 0.8, USDC = 0.05 }\nalpha = { WETH = 0.05 }\nbeta = 0.9\nnu = 5',
        TOY,
    )
    assert _problems(text) == [
        "market.alpha: needs a value for every asset of the scenario (or one number for all), got no value for "
        "['USDC']"
    ]


def test_unknown_replay_source():
    text = _swap('"firesale-data:eth_2020-03-12_13"', '"firesale-data:eth_nope"', REPLAY)
    assert _problems(text) == [f"market.source: {_not_shipped('firesale-data:eth_nope')}"]


def test_unknown_replay_column():
    text = _swap('columns = { ETH = "ETH_open" }', 'columns = { ETH = "ETH_opn" }', REPLAY)
    assert _problems(text) == [
        "market: columns ['ETH_opn'] are not in eth_2020-03-12_13.csv.gz (it has ['timestamp', 'ETH_open']), "
        "got ['ETH_opn']"
    ]


def test_replay_start_outside_the_data():
    text = _swap("start = 2020-03-12T00:00:00Z", "start = 2021-03-12T00:00:00Z", REPLAY)
    assert _problems(text) == [
        "market.start: must lie within the data (2020-03-12 00:00:00+00:00 to 2020-03-14 00:00:00+00:00), got "
        "2021-03-12 00:00:00+00:00"
    ]


def test_market_source_of_the_wrong_kind(tmp_path):
    text = _swap('"firesale-data:eth_2020-03-12_13"', '"prices.txt"', REPLAY)
    assert _problems(text, tmp_path) == [
        "market.source: must name a .csv, .csv.gz, .parquet file, got 'prices.txt'"
    ]


# ----- gas --------------------------------------------------------------------------------------------------------
def test_missing_gas_series():
    text = _swap('"firesale-data:gas_10min_2020-03-12"', '"firesale-data:gas_nope"', REPLAY)
    assert _problems(text) == [f"agents.gas_series: {_not_shipped('firesale-data:gas_nope')}"]


def test_missing_gas_column():
    text = _swap('gas_asset = "ETH"', 'gas_asset = "ETH"\ngas_column = "gwei_fast"', REPLAY)
    assert _problems(text) == [
        "agents.gas_column: must be a column of firesale-data:gas_10min_2020-03-12 (6 price columns), got "
        "'gwei_fast'"
    ]


def test_gas_column_without_a_series():
    text = _swap("gas_volatility_sensitivity = 5", 'gas_volatility_sensitivity = 5\ngas_column = "fast"', TOY)
    assert _problems(text) == ["agents.gas_column: needs agents.gas_series, got 'fast'"]


# ----- pool snapshots ---------------------------------------------------------------------------------------------
def test_unknown_pool_snapshot():
    text = _swap('"firesale-data:univ3_usdc_weth_005_ticks"', '"firesale-data:univ3_nope"', POOL)
    assert _problems(text) == [
        f"venues.univ3-usdc-weth-005.snapshot: {_not_shipped('firesale-data:univ3_nope')}"
    ]


def test_pool_state_of_the_wrong_kind(tmp_path):
    text = _swap('"firesale-data:univ3_usdc_weth_005_meta"', '"meta.csv"', POOL)
    assert _problems(text, tmp_path) == [
        "venues.univ3-usdc-weth-005.snapshot_meta: must name a .json file, got 'meta.csv'"
    ]


# ----- position files -----------------------------------------------------------------------------------------------
def _positions_file(ref: str) -> str:
    start, end = TOY.index("[protocols.generate]"), TOY.index("[protocols.reserves.WETH]")
    return (
        TOY[:start].replace("reserve_usd = 100000", f'reserve_usd = 100000\npositions = "{ref}"') + TOY[end:]
    )


def test_position_file_must_be_a_table():
    assert _problems(_positions_file("/proc/self/environ")) == [
        "protocols.lender.positions: must name a .csv, .csv.gz, .parquet file, got '/proc/self/environ'"
    ]


@pytest.mark.skipif(
    not hasattr(os, "symlink") or not Path("/proc/self/environ").exists(), reason="needs /proc"
)
def test_position_file_cannot_reach_a_system_file_through_a_link(tmp_path):
    (tmp_path / "pos.csv").symlink_to("/proc/self/environ")
    assert _problems(_positions_file("pos.csv"), tmp_path) == [
        "protocols.lender.positions: must be a regular .csv, .csv.gz, .parquet file, got 'pos.csv'"
    ]


def test_position_file_contents_are_never_echoed(tmp_path):
    (tmp_path / "pos.csv").write_text("SECRET_TOKEN=abc123,x\nvalue-one,2\n")
    (line,) = _problems(_positions_file("pos.csv"), tmp_path)
    assert line == (
        "protocols.lender.positions: file must have columns ['account', 'asset', 'collateral_amount', "
        "'debt_amount']; missing ['account', 'asset', 'collateral_amount', 'debt_amount'], got 'pos.csv'"
    )
    (tmp_path / "pos.csv").write_text(
        "account,asset,collateral_amount,debt_amount,SECRET\na,WETH,1,0,x\na,USDC,0,1,y\n"
    )
    (line,) = _problems(_positions_file("pos.csv"), tmp_path)
    assert "SECRET" not in line
    assert line.startswith("protocols.lender.positions: unknown column(s) at position [5] of the header")
    (tmp_path / "pos.csv").write_text(
        "account,asset,collateral_amount,debt_amount\na,WETH,hunter2,0\na,USDC,0,1\n"
    )
    (line,) = _problems(_positions_file("pos.csv"), tmp_path)
    assert line == (
        "protocols.lender.positions: collateral_amount must be a finite number (row 2), got a non-numeric or "
        "non-finite value"
    )


# ----- one pass ---------------------------------------------------------------------------------------------------
def test_schema_and_reference_problems_are_reported_together():
    text = _swap("n_steps = 24", "n_steps = 0", _swap('oracle = "eth-usd"', 'oracle = "eth-usdd"', TOY))
    assert _problems(text) == [
        "simulation.n_steps: input should be greater than 0, got 0",
        "protocols.lender.reserves.WETH.oracle: must name a defined oracle, got 'eth-usdd'",
    ]


def test_an_invalid_item_is_not_reported_again_as_undefined():
    # WETH's price is wrong: references to WETH must not also say "must name a defined asset".
    text = _swap("price = 2000.0", "price = -1", _swap('oracle = "usdc-usd"\n', 'oracle = "nowhere"\n', TOY))
    assert _problems(text) == [
        "assets.WETH.price: input should be greater than 0, got -1",
        "protocols.lender.reserves.USDC.oracle: must name a defined oracle, got 'nowhere'",
    ]


def test_data_problems_are_reported_with_schema_problems():
    text = _swap(
        "n_steps = 288", "n_steps = -6", _swap('"firesale-data:gas_10min_2020-03-12"', '"gas.csv"', REPLAY)
    )
    problems = _problems(text)
    assert problems[0] == "simulation.n_steps: input should be greater than 0, got -6"
    assert problems[1].startswith("agents.gas_series: file not found"), problems


def test_builtins_load():
    from firesale.scenario import builtin_scenarios, load_scenario

    for name in builtin_scenarios():
        assert load_scenario(name).name == name
