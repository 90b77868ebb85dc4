"""Keys that cannot act are refused with the reason, and keys that act are checked against what they act on.

Each message is pinned whole: ``FILE: key.path: rule, got VALUE``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firesale.exceptions import ScenarioError
from firesale.scenario import builtin_text, parse_scenario
from firesale.scenario.schema import ReserveSpec

BASE = builtin_text("toy-spiral")


def _swap(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _problems(text: str, base_dir: Path | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.toml", base_dir=base_dir)
    for line in info.value.problems:
        assert line.startswith("s.toml: "), line
    return [line.removeprefix("s.toml: ") for line in info.value.problems]


# ----- simulation.record ------------------------------------------------------------------------------------------
def test_unknown_recorded_series_is_refused_with_a_suggestion():
    text = _swap(
        'record = ["price", "bad_debt", "liquidated", "rounds", "flags"]', 'record = ["price", "bad_dept"]'
    )
    assert _problems(text) == [
        "simulation.record: unknown series 'bad_dept' (did you mean 'bad_debt'?); recordable: price, bad_debt, "
        "liquidated, rounds, flags, oracle, depth, slippage, staleness, oracle_deviation, unserved, coverage, got "
        "['price', 'bad_dept']"
    ]


def test_every_recordable_series_is_accepted():
    text = _swap(
        'record = ["price", "bad_debt", "liquidated", "rounds", "flags"]',
        'record = ["price", "bad_debt", "liquidated", "rounds", "flags", "oracle"]',
    )
    assert parse_scenario(text).spec.simulation.record[-1] == "oracle"


# ----- keys with no effect ----------------------------------------------------------------------------------------
def test_asset_decimals_are_refused():
    (line,) = _problems(_swap("price = 1.0\n", "price = 1.0\ndecimals = 6\n"))
    assert line == (
        "assets.USDC.decimals: has no effect: amounts are in token units and prices in USD per token, so nothing is "
        "scaled by decimals (a concentrated pool's own 'decimals' does act); remove it, got 6"
    )


def test_caps_are_refused_one_line_each():
    text = _swap('oracle = "usdc-usd"\n', 'oracle = "usdc-usd"\nsupply_cap = 1e9\nborrow_cap = 5e8\n')
    # A supply cap binds only on borrowers' top-ups and a borrow cap only on their new borrows ([agents.borrowers]);
    # without them both are refused, once the schema passes (the check needs the whole scenario).
    supply, borrow = _problems(text)
    assert supply.startswith("protocols.lender.reserves.USDC.supply_cap:") and supply.endswith(
        "got 1000000000.0"
    )
    assert borrow == (
        "protocols.lender.reserves.USDC.borrow_cap: has no effect: only new borrows ([agents.borrowers] with "
        "borrow_above_health_factor on lender) are checked against it, so without them a cap never binds; remove "
        "it, got 500000000.0"
    )


@pytest.mark.parametrize(
    ("kind", "extra", "key", "reads"),
    [
        ("push", "delay = 600", "delay", "'heartbeat' and 'deviation_bps'"),
        ("push", 'venue = "cex-weth"', "venue", "'heartbeat' and 'deviation_bps'"),
        ("push", "window = 900", "window", "'heartbeat' and 'deviation_bps'"),
        ("push", 'sources = ["eth-usd"]', "sources", "'heartbeat' and 'deviation_bps'"),
        ("delayed", "heartbeat = 3600", "heartbeat", "'delay'"),
        ("delayed", "deviation_bps = 50", "deviation_bps", "'delay'"),
        ("market", "window = 900", "window", "only its source's current price"),
    ],
)
def test_oracle_keys_the_kind_does_not_read_are_refused(kind, extra, key, reads):
    text = _swap('type = "push"\nheartbeat = 86400\ndeviation_bps = 25\n', f'type = "{kind}"\n{extra}\n')
    (line,) = _problems(text)
    assert line.startswith(
        f"oracles.usdc-usd.{key}: has no effect on a {kind} oracle (it reads {reads}); remove it"
    )


@pytest.mark.parametrize("kind", ["twap", "median"])
def test_reference_asset_on_an_oracle_that_reads_pools_or_sources_is_refused(kind):
    from pydantic import ValidationError

    from firesale.scenario.schema import OracleSpec

    needs = {"venue": "pool"} if kind == "twap" else {"sources": ["a", "b"]}
    with pytest.raises(ValidationError) as info:
        OracleSpec(name="o", asset="X", type=kind, reference_asset="Y", **needs)
    (err,) = info.value.errors()
    assert err["type"] == "refused_key"
    assert err["ctx"]["keys"] == ["reference_asset"]


def test_evaporation_override_of_an_unknown_venue():
    text = BASE + "\n[agents.evaporation]\nsensitivity = 1.0\nvenues.cex-wbtc = { sensitivity = 2.0 }\n"
    assert _problems(text) == [
        "agents.evaporation.venues.cex-wbtc: must name a defined venue, got 'cex-wbtc'"
    ]


def test_oracle_keys_left_to_their_defaults_never_trip_the_rule():
    # A market oracle still has heartbeat, delay, window... as defaults: only keys written in the file count.
    text = _swap(
        'type = "push"\nheartbeat = 86400\ndeviation_bps = 25\n', 'type = "market"\nmax_answer = 2.0\n'
    )
    assert parse_scenario(text).spec.oracles[1].type == "market"


def test_factor_on_a_stale_fault_is_refused():
    text = _swap(
        "deviation_bps = 25\n",
        'deviation_bps = 25\nfaults = [{ kind = "stale", start = 0, end = 600, factor = 0.5 }]\n',
    )
    assert _problems(text) == [
        "oracles.usdc-usd.faults[0].factor: has no effect on a stale fault (the answer freezes; 'factor' scales a "
        'kind = "wrong" fault); remove it, got 0.5'
    ]


def test_close_factor_threshold_on_compound_is_refused():
    text = _swap("type = \"aave_v3\"\nclose_factor = 0.5", 'type = "compound_v2"\nclose_factor = 0.5\n'
                 "close_factor_hf_threshold = 0.95").replace("liquidation_protocol_fee = 0.10\n", "")  # fmt: skip
    assert _problems(text) == [
        "protocols.lender.close_factor_hf_threshold: has no effect on compound_v2 (its close factor applies at any "
        "shortfall); remove it, got 0.95"
    ]


# ----- the two protocol shares --------------------------------------------------------------------------------------
def test_aave_fee_on_a_compound_market_names_seize_share():
    problems = _problems(_swap('type = "aave_v3"', 'type = "compound_v2"'))
    rule = (
        "is Aave's share of the liquidation bonus; compound_v2 takes a share of all seized collateral: write it as "
        "'seize_share'"
    )
    assert problems == [
        f"protocols.lender.reserves.WETH.liquidation_protocol_fee: {rule}, got 0.1",
        f"protocols.lender.reserves.USDC.liquidation_protocol_fee: {rule}, got 0.1",
    ]


def test_seize_share_on_an_aave_market_names_the_aave_key():
    text = _swap(
        'liquidation_protocol_fee = 0.10\noracle = "usdc-usd"', 'seize_share = 0.028\noracle = "usdc-usd"'
    )
    assert _problems(text) == [
        "protocols.lender.reserves.USDC.seize_share: is compound_v2's share of all seized collateral; aave_v3 takes "
        "a share of the liquidation bonus: write it as 'liquidation_protocol_fee', got 0.028"
    ]


def test_protocol_fee_fraction_is_the_share_the_type_reads():
    compound = _swap('type = "aave_v3"', 'type = "compound_v2"').replace(
        "liquidation_protocol_fee = 0.10", "seize_share = 0.028"
    )
    reserves = parse_scenario(compound).spec.protocols[0].reserves
    assert (
        reserves["WETH"].protocol_fee_fraction == 0.028
    )  # Compound's protocolSeizeShareMantissa 2.8e16 / 1e18
    aave = parse_scenario(BASE).spec.protocols[0].reserves
    assert aave["WETH"].protocol_fee_fraction == 0.10
    bare = ReserveSpec(ltv=0.5, liquidation_threshold=0.6, liquidation_bonus=0.05, oracle="o", venues=["v"])
    assert bare.protocol_fee_fraction == 0.0


# ----- ltv and e-mode labels act: borrowing power ---------------------------------------------------------------
def test_ltv_and_emode_set_borrowing_power(tmp_path):
    from firesale.analysis import health_factors

    # a: 10 WETH at $2,000 in e-mode 1 (ltv 0.93 on WETH) -> 18,600; b: 5 WETH at the reserve's ltv 0.80 -> 8,000.
    (tmp_path / "pos.csv").write_text(
        "account,asset,collateral_amount,debt_amount,emode\na,WETH,10,0,1\na,USDC,0,12000,1\nb,WETH,5,0,0\n"
        "b,USDC,0,4000,0\n"
    )
    start, end = BASE.index("[protocols.generate]"), BASE.index("[protocols.reserves.WETH]")
    text = (
        BASE[:start].replace("reserve_usd = 100000", 'reserve_usd = 100000\npositions = "pos.csv"')
        + BASE[end:]
    )
    text += (
        '\n[protocols.emode.1]\nlabel = "ETH correlated"\nltv = 0.93\nliquidation_threshold = 0.95\n'
        'liquidation_bonus = 0.01\ncollateral = ["WETH"]\n'
    )
    frame = health_factors(parse_scenario(text, base_dir=tmp_path)).set_index("account")
    assert frame.loc["a", "borrowing_power_usd"] == pytest.approx(10 * 2000 * 0.93)
    assert frame.loc["b", "borrowing_power_usd"] == pytest.approx(5 * 2000 * 0.80)
    assert frame.loc["a", "emode"] == "ETH correlated"
    assert frame.loc["b", "emode"] == ""


# ----- strict types ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("n_steps = 24", "n_steps = true", "simulation.n_steps: input should be a valid integer, got True"),
        ("n_steps = 24", "n_steps = 24.0", "simulation.n_steps: input should be a valid integer, got 24.0"),
        (
            "liquidation_threshold = 0.83",
            'liquidation_threshold = "0.83"',
            "protocols.lender.reserves.WETH.liquidation_threshold: input should be a valid number, got '0.83'",
        ),
        ("cohorts = false", "cohorts = 0", "simulation.cohorts: input should be a valid boolean, got 0"),
    ],
)
def test_wrong_types_are_not_converted(old, new, expected):
    text = BASE if old != "cohorts = false" else _swap("seed = 7", "seed = 7\ncohorts = false")
    assert _problems(_swap(old, new, text)) == [expected]


def test_integers_are_accepted_where_floats_are_expected():
    sc = parse_scenario(
        _swap("price = 2000.0", "price = 2000", _swap("liquidation_bonus = 0.05", "liquidation_bonus = 0"))
    )
    assert sc.spec.assets[0].price == 2000.0
    assert isinstance(sc.spec.assets[0].price, float)


# ----- evaporation ------------------------------------------------------------------------------------------------------
def test_evaporation_that_would_empty_a_venue_is_refused_at_load():
    text = BASE + "\n[agents.evaporation]\nsensitivity = 1.0\nmax_withdraw = 1.0\n"
    assert _problems(text) == ["agents.evaporation.max_withdraw: input should be less than 1, got 1.0"]


# ----- venues for seized collateral ------------------------------------------------------------------------------------
def test_collateral_without_a_venue_is_refused():
    assert _problems(_swap('venues = ["cex-weth"]\n', "venues = []\n")) == [
        "protocols.lender.reserves.WETH.venues: a reserve accounts post as collateral must name at least one venue "
        "to sell it in when seized (only a reserve no account posts as collateral may have none), got []"
    ]


def test_a_reserve_nobody_posts_as_collateral_may_have_no_venue():
    # USDC is only borrowed in the toy world (generated accounts post WETH): it is never seized.
    sc = parse_scenario(BASE)
    assert sc.spec.protocols[0].reserves["USDC"].venues == []
    assert sc.positions["lender"].collateral[:, 1].sum() == 0


def test_arrays_are_read_as_tuples_but_their_items_stay_strict():
    from pydantic import ValidationError

    from firesale.scenario.schema import ConcentratedSpec

    pool = {"type": "concentrated", "name": "p", "coins": ["A", "B"], "price": 1.0}
    assert ConcentratedSpec.model_validate({**pool, "ranges": [[-600, 600, 1e21]]}).ranges == [
        (-600, 600, 1e21)
    ]
    with pytest.raises(ValidationError) as info:
        ConcentratedSpec.model_validate({**pool, "ranges": [[-600, 600, "1e21"]]})
    assert [(e["type"], e["loc"]) for e in info.value.errors()] == [("float_type", ("ranges", 0, 2))]
