"""Every invalid scenario is rejected before anything runs, one ``FILE: key.path: rule, got VALUE`` line each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from firesale.exceptions import ScenarioError
from firesale.scenario import builtin_text, load_scenario

BASE = builtin_text("toy-spiral")


def _write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    for line in info.value.problems:
        assert line.startswith(f"{path}: "), line
    return [line.removeprefix(f"{path}: ") for line in info.value.problems]


def _swap(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_the_base_scenario_is_valid(tmp_path):
    sc = load_scenario(_write(tmp_path, BASE))
    assert sc.positions["lender"].n_accounts == 300


def test_toml_syntax_error_names_line_and_column(tmp_path):
    (line,) = _problems(tmp_path, _swap("n_steps = 24", "n_steps = = 24"))
    assert re.search(r"TOML syntax error: .*line 9, column 11", line), line


def test_missing_required_key(tmp_path):
    (line,) = _problems(tmp_path, _swap("liquidation_threshold = 0.83\n", ""))
    assert line == "protocols.lender.reserves.WETH.liquidation_threshold: required key is missing"


def test_unknown_key_suggests_the_right_one(tmp_path):
    (line,) = _problems(
        tmp_path, _swap("liquidation_bonus = 0.05", "liquidation_bonsu = 0.05\nliquidation_bonus = 0.05")
    )
    assert (
        line
        == "protocols.lender.reserves.WETH.liquidation_bonsu: unknown key (did you mean 'liquidation_bonus'?), got 0.05"
    )


def test_wrong_type(tmp_path):
    (line,) = _problems(tmp_path, _swap("n_steps = 24", 'n_steps = "many"'))
    assert line.startswith("simulation.n_steps: input should be a valid integer"), line
    assert line.endswith("got 'many'")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers(tmp_path, value):
    (line,) = _problems(tmp_path, _swap("price = 2000.0", f"price = {value}"))
    assert line == f"assets.WETH.price: must be a finite number, got {float(value)}"


def test_negative_reserve(tmp_path):
    (line,) = _problems(tmp_path, _swap("depth_usd = 5e6", "depth_usd = -5e6"))
    assert line == "venues.cex-weth.depth_usd: input should be greater than 0, got -5000000.0"


def test_negative_position_amount(tmp_path):
    (tmp_path / "pos.csv").write_text(
        "account,asset,collateral_amount,debt_amount\na,WETH,10,0\na,USDC,0,-5\n"
    )
    (line,) = _problems(tmp_path, _positions_file(BASE, "pos.csv"))
    assert line == "protocols.lender.positions: debt_amount must be >= 0 (row 3), got -5.0"


def test_fraction_outside_unit_interval(tmp_path):
    (line,) = _problems(tmp_path, _swap("liquidation_protocol_fee = 0.10", "liquidation_protocol_fee = 1.5"))
    assert (
        line
        == "protocols.lender.reserves.WETH.liquidation_protocol_fee: input should be less than or equal to 1, got 1.5"
    )


def test_threshold_below_ltv(tmp_path):
    (line,) = _problems(tmp_path, _swap("liquidation_threshold = 0.83", "liquidation_threshold = 0.70"))
    assert line.startswith(
        "protocols.lender.reserves.WETH: liquidation_threshold must be >= ltv, got 0.7 < 0.8"
    ), line


def test_threshold_at_one(tmp_path):
    (line,) = _problems(tmp_path, _swap("liquidation_threshold = 0.83", "liquidation_threshold = 1.0"))
    assert line.startswith("protocols.lender.reserves.WETH: liquidation_threshold must be < 1, got 1.0"), line


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'oracle = "eth-usd"',
            'oracle = "eth-usdd"',
            "protocols.lender.reserves.WETH.oracle: must name a defined oracle, got 'eth-usdd'",
        ),
        (
            'venues = ["cex-weth"]',
            'venues = ["cex-wbtc"]',
            "protocols.lender.reserves.WETH.venues: must name a defined venue, got 'cex-wbtc'",
        ),
        (
            'asset = "WETH"\ndepth_usd',
            'asset = "WBTC"\ndepth_usd',
            "venues.cex-weth.asset: must name a defined asset, got 'WBTC'",
        ),
        (
            "depth = { WETH = 0.35 }",
            "depth = { WETH = 0.35, DOGE = 0.5 }",
            "market: must only name defined assets, got 'DOGE'",
        ),
    ],
)
def test_undefined_references(tmp_path, old, new, expected):
    assert expected in _problems(tmp_path, _swap(old, new))


def test_undefined_protocol_reserve_asset(tmp_path):
    problems = _problems(tmp_path, _swap("[protocols.reserves.USDC]", "[protocols.reserves.USDT]"))
    assert "protocols.lender.reserves.USDT: must name a defined asset, got 'USDT'" in problems


def test_duplicate_names(tmp_path):
    text = _swap('[[assets]]\nname = "USDC"', '[[assets]]\nname = "WETH"')
    assert "assets.WETH: names must be unique, got 'WETH'" in _problems(tmp_path, text)


def test_empty_position_set(tmp_path):
    (tmp_path / "pos.csv").write_text("account,asset,collateral_amount,debt_amount\n")
    (line,) = _problems(tmp_path, _positions_file(BASE, "pos.csv"))
    assert line == "protocols.lender.positions: the position set is empty, got 'pos.csv'"


def test_positions_file_missing(tmp_path):
    (line,) = _problems(tmp_path, _positions_file(BASE, "nowhere.csv"))
    assert line.startswith("protocols.lender.positions: file not found"), line
    assert line.endswith("got 'nowhere.csv'")


def test_positions_file_with_a_bad_column(tmp_path):
    (tmp_path / "pos.csv").write_text("account,asset,collateral,debt_amount\na,WETH,1,0\n")
    (line,) = _problems(tmp_path, _positions_file(BASE, "pos.csv"))
    assert "missing ['collateral_amount']" in line, line


def test_positions_file_with_an_unknown_asset(tmp_path):
    (tmp_path / "pos.csv").write_text("account,asset,collateral_amount,debt_amount\na,WBTC,1,0\na,USDC,0,5\n")
    (line,) = _problems(tmp_path, _positions_file(BASE, "pos.csv"))
    assert (
        line
        == "protocols.lender.positions: asset must be one of the protocol's reserves ['WETH', 'USDC'] (row 2), "
        "got another name"
    )  # the row, never the file's own text


def test_derived_asset_that_depends_on_itself(tmp_path):
    text = _swap(
        'name = "USDC"\nprice = 1.0',
        'name = "USDC"\nprice = 1.0\nderived_from = "aUSDC"\n\n[[assets]]\nname = "aUSDC"\nprice = 1.0\nderived_from = "USDC"',
    )
    problems = _problems(tmp_path, text)
    assert (
        "assets.USDC.derived_from: derived asset depends on itself (USDC -> aUSDC -> USDC), got 'aUSDC'"
        in problems
    )


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [("n_steps = 24", "n_steps = 0", "simulation.n_steps"), ("dt = 300", "dt = -300", "simulation.dt")],
)
def test_horizon_and_step_must_be_positive(tmp_path, old, new, key):
    (line,) = _problems(tmp_path, _swap(old, new))
    assert line.startswith(f"{key}: input should be greater than 0"), line


def test_step_shorter_than_a_block(tmp_path):
    (line,) = _problems(tmp_path, _swap("dt = 300", "dt = 5"))
    assert line == "simulation.dt: must be at least one block (12 s), got 5"


def test_too_many_paths_for_memory(tmp_path):
    import firesale

    sc = load_scenario(_write(tmp_path, BASE))
    with pytest.raises(
        ScenarioError, match=r"simulation.n_paths: too many paths for memory: about [\d.]+ GiB needed"
    ):
        firesale.simulate(sc, n_paths=10**12)


def test_several_problems_are_all_reported(tmp_path):
    text = _swap("n_steps = 24", "n_steps = -1", _swap("price = 2000.0", "price = -1"))
    assert len(_problems(tmp_path, text)) == 2


def _positions_file(text: str, ref: str) -> str:
    """The base scenario with its generated positions replaced by a positions file."""
    start, end = text.index("[protocols.generate]"), text.index("[protocols.reserves.WETH]")
    head = text[:start].replace("reserve_usd = 100000", f'reserve_usd = 100000\npositions = "{ref}"')
    return head + text[end:]
