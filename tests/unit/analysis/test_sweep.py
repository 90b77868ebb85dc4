"""Sweeps: key paths, ranges, validation of every point before anything runs, common seeds, the store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import firesale
from firesale.analysis.sweep import Sweep, parse_assignment, wilson_interval, with_overrides
from firesale.exceptions import ParameterError, ScenarioError
from firesale.scenario import parse_scenario
from firesale.store import RunStore
from firesale.store._sweeps import SweepLog

# One account (100 WETH at $2,000 against 150,000 USDC), an instant drop of depth d, instant oracles, a venue so
# deep that sales move nothing, free gas, bonus 5 %: the bad debt is max(0, 150,000 - 200,000 (1 - d) / 1.05).
_WORLD = """
name = "hand-drop"
[simulation]
n_steps = 4
dt = 300
record = ["bad_debt"]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "drop"
depth = { WETH = 0.1 }
start = 600
[[venues]]
type = "orderbook"
name = "deep"
asset = "WETH"
depth_usd = 1e15
impact = "linear"
permanent = 0.0
[[oracles]]
name = "eth"
asset = "WETH"
type = "market"
[[oracles]]
name = "usd"
asset = "USDC"
type = "market"
[[protocols]]
name = "lender"
type = "aave_v3"
[[protocols.accounts]]
account = "a"
asset = "WETH"
collateral_amount = 100.0
[[protocols.accounts]]
account = "a"
asset = "USDC"
debt_amount = 150000.0
[protocols.reserves.WETH]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "eth"
venues = ["deep"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "usd"
[agents]
gas_price_gwei = 0.0
"""


@pytest.fixture(scope="module")
def world() -> firesale.Scenario:
    return parse_scenario(_WORLD, source="hand.toml")


def test_parse_assignment_forms() -> None:
    key, values = parse_assignment("protocols.lender.reserves.WETH.liquidation_threshold=0.80:0.90:0.01")
    assert key == "protocols.lender.reserves.WETH.liquidation_threshold"
    assert values == [0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9]  # inclusive of 0.90
    assert parse_assignment("a.b=3") == ("a.b", [3])
    assert parse_assignment("a.b=1,2.5,true,x") == ("a.b", [1, 2.5, True, "x"])
    assert parse_assignment("a.b=0.9:0.8:-0.05") == ("a.b", [0.9, 0.85, 0.8])
    assert parse_assignment("p.positions=firesale-data:x") == (
        "p.positions",
        ["firesale-data:x"],
    )  # not a range


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a.b=0.8:0.9:0", "non-zero step"),
        ("a.b=0.8:0.9:-0.01", "from LO towards HI"),
        ("a.b", "KEY=VALUE"),
        ("=3", "name a key"),
    ],
)
def test_parse_assignment_rejects(text: str, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        parse_assignment(text)


def test_overrides_address_named_list_items_and_keep_everything_else(world) -> None:
    point = with_overrides(world, {"protocols.lender.reserves.WETH.liquidation_threshold": 0.78})
    assert point.spec.protocols[0].reserves["WETH"].liquidation_threshold == 0.78
    # Everything else round-trips through the regenerated scenario text unchanged.
    again = with_overrides(world, {"protocols.lender.reserves.WETH.liquidation_threshold": 0.80})
    assert again.spec == world.spec
    np.testing.assert_array_equal(again.positions["lender"].debt, world.positions["lender"].debt)
    v = with_overrides(world, {"venues.deep.depth_usd": 5e6, "oracles.eth.type": "push"})
    assert v.spec.venues[0].depth_usd == 5e6 and v.spec.oracles[0].type == "push"


def test_a_builtin_with_a_positions_file_round_trips(world) -> None:
    sc = firesale.load_scenario("aave-v3-today")
    again = with_overrides(sc, {"simulation.seed": sc.spec.simulation.seed})
    assert again.spec == sc.spec
    for name, pos in sc.positions.items():
        np.testing.assert_array_equal(again.positions[name].collateral, pos.collateral)


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ("protocols.lender.reserves.WETH.liquidation_treshold", "Did you mean.*liquidation_threshold"),
        ("protocols.borrower.close_factor", r"protocols has no item 'borrower' \(items: \['lender'\]\)"),
        ("simulation.n_steps.x", "is a value"),
    ],
)
def test_an_unknown_key_is_named(world, key: str, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        Sweep(world, grid={key: [1]})


def test_every_point_is_validated_before_anything_runs(world) -> None:
    with pytest.raises(ScenarioError) as info:
        Sweep(world, grid={"protocols.lender.reserves.WETH.liquidation_threshold": [0.8, 0.85, 1.2]})
    text = str(info.value)
    assert "protocols.lender.reserves.WETH.liquidation_threshold" in text
    assert "1.2" in text


def test_sweep_points_match_the_hand_bad_debt_on_common_seeds(tmp_path, world) -> None:
    store = RunStore(tmp_path / "runs")
    depths = [0.2, 0.22, 0.25]
    sweep = Sweep(world, grid={"market.depth.WETH": depths})
    result = sweep.run(n_paths=3, seed=5, store=store)
    expected = [max(0.0, 150_000 - 200_000 * (1 - d) / 1.05) for d in depths]  # 0, 1428.57, 7142.86
    got = [m["bad_debt_usd"].tolist() for m in result.metrics]
    for g, e in zip(got, expected, strict=True):
        assert g == pytest.approx([e] * 3, abs=1e-6)
    # The sweep and its points are in the store, each point a complete run on the same seed.
    meta, points = SweepLog(store.root).get(result.sweep_id)
    assert meta["n_points"] == 3 and meta["seed"] == 5
    assert points["overrides"].tolist() == [{"market.depth.WETH": d} for d in depths]
    assert points["status"].tolist() == ["complete"] * 3
    runs = store.runs().set_index("id")
    assert set(runs.loc[points["run_id"], "seed"]) == {5}
    est = result.estimate("p_bad_debt")
    assert est["estimate"].tolist() == [0.0, 1.0, 1.0]
    lo, hi = wilson_interval(3, 3)
    assert est["low"].iloc[1] == pytest.approx(float(lo)) and est["high"].iloc[1] == 1.0


def test_a_killed_sweep_resumes_with_the_same_results(tmp_path, world) -> None:
    store = RunStore(tmp_path / "runs")
    grid = {
        "market.depth.WETH": [0.2, 0.25],
        "protocols.lender.reserves.WETH.liquidation_bonus": [0.04, 0.06],
    }

    class Killed(Exception):
        pass

    calls: list[int] = []

    def die(point: int, blocks: range) -> None:
        calls.append(point)
        if len(calls) == 2:
            raise Killed

    with pytest.raises(Killed):
        Sweep(world, grid=grid).run(n_paths=300, seed=1, store=store, chunk_blocks=1, on_chunk=die)
    (sweep_id,) = SweepLog(store.root).sweeps()["id"]
    resumed = Sweep(world, grid=grid).run(store=store, resume=sweep_id, chunk_blocks=1)
    fresh = Sweep(world, grid=grid).run(n_paths=300, seed=1)
    for a, b in zip(resumed.metrics, fresh.metrics, strict=True):
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)
    assert resumed.sweep_id == sweep_id
    assert SweepLog(store.root).sweeps()["status"].tolist() == ["complete"]


def test_wilson_interval_by_hand() -> None:
    # k = 0: the upper end is z^2 / (n + z^2) = 1.959964^2 / (100 + 1.959964^2) = 3.841459 / 103.841459.
    lo, hi = wilson_interval(0, 100)
    assert lo == 0.0 and hi == pytest.approx(3.841459 / 103.841459, rel=1e-6)
    # k = n = 10: the lower end is n / (n + z^2) = 10 / 13.841459.
    lo, hi = wilson_interval(10, 10)
    assert lo == pytest.approx(10 / 13.841459, rel=1e-6) and hi == 1.0


def test_report_plots_every_metric_with_bands(tmp_path, world) -> None:
    result = Sweep(world, grid={"market.depth.WETH": [0.2, 0.25]}).run(n_paths=2, seed=0)
    fig = result.plot("bad_debt_usd")
    band, line = fig.data[0], fig.data[1]
    assert band.fill == "toself" and list(line.x) == [0.2, 0.25]
    path = result.write_html(tmp_path / "sweep.html")
    assert "plotly" in path.read_text()[:200_000].lower()
    with pytest.raises(ParameterError, match="per-path metric"):
        result.estimate("nonsense")
