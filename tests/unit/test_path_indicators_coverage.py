"""Reserve coverage recorded per step on simulated paths (``simulation.record = ["coverage"]``) and graded.

``coverage_<protocol>`` is the protocol's ``Accounts.reserves_usd`` (reserves, insurance, liquidation fees earned)
over its ``Accounts.bad_debt_usd``, read through the protocol contract (``ProtocolModel.account``,
src/firesale/protocols/base.py); float32's largest value when there is no bad debt. The monitor grades it as
``solvency:<protocol>`` (lower is worse; default band stressed at or below 2x, failed at or below 1x).

The hand world: one account of 0.06 WETH against 90 USDC in an Aave v3 market holding ``reserve_usd`` of reserves;
WETH falls in a straight line from $2000 at 300 s to $1000 at 1200 s (steps of 300 s): 2000, 2000, 1666.67, 1333.33,
1000. Gas of $10,000 a liquidation (5e6 gas at 1000 gwei, ETH at $2000) against a bonus of at most 5 % of half of
$90 means no liquidator ever acts, so no fee is earned and the bad debt is ``max(90 - 0.06 p, 0)``:
0, 0, 0 (100 of collateral), 10, 30.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import firesale
from firesale.engine.recorder import recorded_variables
from firesale.engine.simulate import estimate_memory
from firesale.exceptions import ScenarioError
from firesale.monitor import ClassifierConfig, classify, path_indicators
from firesale.monitor._run_states import run_states
from firesale.scenario import parse_scenario

WORLD = """
name = "reserve-and-crash"
[simulation]
n_steps = 4
dt = 300
n_paths = 2
record = [{record}]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "linear"
depth = {{ WETH = 0.5 }}
start = 300
duration = 900
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
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
name = "aave-v3-core"
type = "aave_v3"
reserve_usd = {reserve}
accounts = [{{ account = "a", asset = "WETH", collateral_amount = 0.06 }},
            {{ account = "a", asset = "USDC", debt_amount = 90.0 }}]
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
[agents]
gas_per_liquidation = 5000000
gas_price_gwei = 1000
gas_volatility_sensitivity = 0
"""
BIG = float(np.finfo(np.float32).max)  # no bad debt: infinite cover, held at float32's largest value
BAD_DEBT = [0.0, 0.0, 0.0, 10.0, 30.0]  # max(90 - 0.06 p, 0) at p = 2000, 2000, 1666.67, 1333.33, 1000


def world(reserve: float, record: tuple[str, ...] = ("coverage", "bad_debt")):
    text = WORLD.format(reserve=reserve, record=", ".join(f'"{r}"' for r in record))
    return parse_scenario(text, source="hand.toml")


def run(reserve: float, **kw):
    return firesale.simulate(world(reserve, **kw), n_paths=2, seed=0)


@pytest.mark.parametrize(
    ("reserve", "expected"),
    [
        (20.0, [BIG, BIG, BIG, 2.0, 20.0 / 30.0]),
        (30.0, [BIG, BIG, BIG, 3.0, 1.0]),
        (12.0, [BIG, BIG, BIG, 1.2, 0.4]),
        (0.0, [BIG, BIG, BIG, 0.0, 0.0]),
    ],
)
def test_coverage_is_reserves_over_bad_debt_per_step(reserve, expected):
    res = run(reserve)
    assert res.paths["bad_debt"].shape == (2, 5)
    np.testing.assert_allclose(res.paths["bad_debt"][0], BAD_DEBT, rtol=1e-6)
    assert int(res.metrics["n_liquidations"].iloc[0]) == 0  # no fee earned: reserves stay reserve_usd
    for p in range(2):
        np.testing.assert_allclose(res.paths["coverage_aave-v3-core"][p], expected, rtol=1e-6)


def test_coverage_is_graded_as_solvency_at_the_band_boundaries():
    # Default band (lower is worse): stressed at or below 2, failed at or below 1.
    r20 = path_indicators(run(20.0).paths, 300.0)
    assert list(r20) == ["solvency:aave-v3-core"]  # bad_debt alone is not graded
    c = classify(r20)
    assert c.grades("system")["solvency"][0].tolist() == [
        0,
        0,
        0,
        1,
        2,
    ]  # 2.0 stressed (inclusive), 0.67 failed
    assert c.reasons(3) == ["aave-v3-core: reserves cover 2.00x its bad debt (stressed)"]
    assert c.reasons(4) == ["aave-v3-core: reserves cover 67 % of its bad debt (failed)"]
    # One failed system dimension is stressed, not systemic failure (two must fail at once).
    assert c.system_state[0].tolist() == [0, 0, 0, 1, 1]
    # Reserves 30: 3x is stable, exactly 1x failed (inclusive).
    c30 = classify(path_indicators(run(30.0).paths, 300.0))
    assert c30.grades("system")["solvency"][0].tolist() == [0, 0, 0, 0, 2]
    assert c30.reasons(4) == ["aave-v3-core: reserves cover 100 % of its bad debt (failed)"]
    # Reserves 12: the wording, 12 / 30 = 40 %.
    c12 = classify(path_indicators(run(12.0).paths, 300.0))
    assert c12.grades("system")["solvency"][0].tolist() == [0, 0, 0, 1, 2]
    assert c12.reasons(4) == ["aave-v3-core: reserves cover 40 % of its bad debt (failed)"]


def test_coverage_thresholds_are_configurable_and_checked():
    cols = path_indicators(run(30.0).paths, 300.0)
    # Band (3, 0.5): 3x stressed (inclusive), 1x stressed not failed.
    moved = classify(cols, ClassifierConfig(bands={"solvency": (3.0, 0.5)}))
    assert moved.grades("system")["solvency"][0].tolist() == [0, 0, 0, 1, 1]
    # Just below: 3x stable again.
    below = classify(cols, ClassifierConfig(bands={"solvency": (2.99, 0.5)}))
    assert below.grades("system")["solvency"][0].tolist() == [0, 0, 0, 0, 1]
    with pytest.raises(firesale.exceptions.ParameterError) as exc:
        ClassifierConfig(bands={"solvency": (0.5, 1.0)})  # lower is worse: stressed must be >= failure
    assert "solvency" in str(exc.value) and "stressed >= failure" in str(exc.value)


def test_run_states_grade_a_run_that_recorded_coverage():
    rs = run_states(run(20.0))
    assert rs.source == "paths"
    assert rs.median_state.tolist() == [0, 0, 0, 1, 1]
    assert (rs.first_stressed, rs.first_failure) == (3, None)
    assert rs.reasons_stressed == ["aave-v3-core: reserves cover 2.00x its bad debt (stressed)"]
    assert rs.shares["stressed"].tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_coverage_is_counted_by_estimate_memory_streamed_and_changes_no_result():
    plain, full = world(20.0, record=("bad_debt",)), world(20.0)
    assert recorded_variables(full) - recorded_variables(plain) == 1  # one protocol
    grow = estimate_memory(full, 1000, keep_paths=True) - estimate_memory(plain, 1000, keep_paths=True)
    assert grow >= 1000 * 1 * 5 * 4  # the kept float32 series: paths x series x (n_steps + 1) x 4
    a = firesale.simulate(plain, n_paths=2, seed=0)
    b = firesale.simulate(full, n_paths=2, seed=0)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    np.testing.assert_array_equal(a.paths["bad_debt"], b.paths["bad_debt"])
    streamed = firesale.simulate(full, n_paths=2, seed=0, keep_paths=False)
    assert set(streamed.summaries) == set(b.paths) == {"bad_debt", "coverage_aave-v3-core"}


def test_a_misspelt_coverage_is_refused_with_every_recordable_listed():
    with pytest.raises(ScenarioError) as exc:
        world(20.0, record=("coverag",))
    assert (
        "simulation.record: unknown series 'coverag' (did you mean 'coverage'?); recordable: price, bad_debt, "
        "liquidated, rounds, flags, oracle, depth, slippage, staleness, oracle_deviation, unserved, coverage, got "
        "['coverag']"
    ) in str(exc.value)
