"""Sensitivities against effects worked out by hand, and paired intervals against independent ones.

The hand world: WETH at 2,000 falls 30 % at the first step (a deterministic shock, the same on every path) into an
order book too deep to move; USDC holds; oracles read the market; no gas, no protocol fee, no reserves; Aave v3.0
rules (close factor 50 % above health factor 0.95, 100 % at or below). Two accounts:

* "under": 100 WETH against 150,000 USDC. At 1,400 its collateral is worth 140,000 < its debt, health factor
  140,000 x 0.80 / 150,000 = 0.747 <= 0.95, so the whole position may be closed: a liquidator repays
  x = 140,000 / (1 + bonus) and seizes all the collateral; 150,000 - x is left as bad debt. Bonus 0.04, 0.05, 0.06:
  bad debt 15,384.62, 16,666.67, 17,924.53; debt repaid 134,615.38, 133,333.33, 132,075.47.
* "edge": 100 WETH2 (a second asset at 2,000 that falls 10 %, to 1,800) against 143,000 USDC: health factor 180,000 x LT / 143,000 is 1.0196 at 0.81, 1.0070 at 0.80 and
  0.9944 at 0.79. Only the threshold bumped down makes it liquidatable, at close factor 50 %: 71,500 repaid, after
  which its health factor is (180,000 - 71,500 x 1.05) x 0.79 / 71,500 = 1.158, so no second liquidation.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import firesale
from firesale.analysis.sensitivity import parameter_bumps, sensitivities
from firesale.analysis.sweep import with_overrides
from firesale.exceptions import ParameterError
from firesale.scenario import parse_scenario

HAND = """
name = "hand-sensitivity"
[simulation]
n_steps = 2
dt = 300
n_paths = 4
seed = 1
record = ["bad_debt"]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "WETH2"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "drop"
depth = { WETH = 0.3, WETH2 = 0.1 }
start = 300
[[venues]]
type = "orderbook"
name = "deep"
asset = "WETH"
depth_usd = 1e300
impact = "linear"
[[venues]]
type = "orderbook"
name = "deep2"
asset = "WETH2"
depth_usd = 1e300
impact = "linear"
[[oracles]]
name = "eth"
asset = "WETH"
type = "market"
[[oracles]]
name = "eth2"
asset = "WETH2"
type = "market"
[[oracles]]
name = "usd"
asset = "USDC"
type = "market"
[[protocols]]
name = "lender"
type = "aave_v3"
accounts = [
  { account = "under", asset = "WETH", collateral_amount = 100.0 },
  { account = "under", asset = "USDC", debt_amount = 150000.0 },
  { account = "edge", asset = "WETH2", collateral_amount = 100.0 },
  { account = "edge", asset = "USDC", debt_amount = 143000.0 },
]
[protocols.reserves.WETH]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "eth"
venues = ["deep"]
[protocols.reserves.WETH2]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "eth2"
venues = ["deep2"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "usd"
[agents]
gas_per_liquidation = 0
"""


@pytest.fixture(scope="module")
def hand():
    return sensitivities(parse_scenario(HAND, source="hand.toml"), n_paths=4)


def _row(res, key, statistic):
    frame = res.rows
    return frame[(frame["key"] == key) & (frame["statistic"] == statistic)].iloc[0]


def test_the_bumps_are_the_documented_steps_on_parameters_that_can_act():
    bumps, skipped = parameter_bumps(parse_scenario(HAND, source="hand.toml"))
    got = {b.key: (b.down, b.up) for b in bumps}
    assert got["protocols.lender.reserves.WETH.liquidation_threshold"] == (0.79, 0.81)
    assert got["protocols.lender.reserves.WETH.liquidation_bonus"] == (0.04, 0.06)
    assert got["venues.deep.depth_usd"] == (0.8, 1.25)
    deep = next(b for b in bumps if b.key == "venues.deep.depth_usd")
    assert deep.overrides_down == {"venues.deep.depth_usd": 0.8e300}
    assert deep.overrides_up == {"venues.deep.depth_usd": 1.25e300}
    # USDC is only borrowed: its threshold and bonus cannot act, and it is said so.
    assert "protocols.lender.reserves.USDC.liquidation_threshold" not in got
    assert [k for k, _ in skipped] == ["protocols.lender.reserves.USDC"]


def test_bonus_raises_bad_debt_of_an_underwater_account_by_the_amount_worked_out_by_hand(hand):
    key = "protocols.lender.reserves.WETH.liquidation_bonus"
    bad = {b: 150_000 - 140_000 / (1 + b) for b in (0.04, 0.05, 0.06)}
    row = _row(hand, key, "bad_debt_mean_usd")
    assert row["method"] == "central"
    assert row["effect"] == pytest.approx((bad[0.06] - bad[0.04]) / 2, rel=1e-6)  # +1,269.96 per +0.01
    assert row["down_effect"] == pytest.approx(bad[0.04] - bad[0.05], rel=1e-6)  # -1,282.05
    assert row["up_effect"] == pytest.approx(bad[0.06] - bad[0.05], rel=1e-6)  # +1,257.86
    assert hand.base["bad_debt_mean_usd"] == pytest.approx(bad[0.05], rel=1e-6)
    # Every path is the same: the paired difference has no spread.
    assert row["se"] == pytest.approx(0.0, abs=1e-9) and row["significant"]
    repaid = _row(hand, key, "liquidated_mean_usd")
    assert repaid["effect"] == pytest.approx((140_000 / 1.06 - 140_000 / 1.04) / 2, rel=1e-6)
    assert _row(hand, key, "p_bad_debt")["effect"] == 0.0  # bad debt on every path at every bonus


def test_lowering_a_threshold_makes_one_account_liquidatable(hand):
    key = "protocols.lender.reserves.WETH2.liquidation_threshold"
    row = _row(hand, key, "liquidated_mean_usd")
    assert row["down_effect"] == pytest.approx(0.5 * 143_000, rel=1e-6)  # close factor 50 %: 71,500
    assert row["up_effect"] == pytest.approx(0.0, abs=1e-6)
    assert row["effect"] == pytest.approx(-0.5 * 143_000 / 2, rel=1e-6)  # per +0.01: -35,750
    assert _row(hand, key, "bad_debt_mean_usd")["effect"] == pytest.approx(0.0, abs=1e-6)
    # The underwater account is closed in full whatever its threshold: no effect there.
    assert _row(hand, "protocols.lender.reserves.WETH.liquidation_threshold", "liquidated_mean_usd")[
        "effect"
    ] == pytest.approx(0.0, abs=1e-6)


def test_ranking_puts_the_largest_effect_on_expected_bad_debt_first(hand):
    frame = hand.frame()
    assert frame.loc[0, "key"] == "protocols.lender.reserves.WETH.liquidation_bonus"
    ranked = hand.ranked("liquidated_mean_usd")
    assert ranked.loc[0, "key"] == "protocols.lender.reserves.WETH2.liquidation_threshold"


def test_a_side_refused_by_validation_falls_back_to_a_one_sided_difference():
    # LT 0.80 with bonus 0.24: LT x (1 + bonus) = 0.992 <= 1; bonus 0.25 gives 1.0 (allowed), threshold 0.81 gives
    # 0.81 x 1.24 = 1.0044 > 1: refused, so the threshold's sensitivity is the one-sided f(base) - f(0.79).
    text = HAND.replace(
        'liquidation_bonus = 0.05\noracle = "eth2"', 'liquidation_bonus = 0.24\noracle = "eth2"'
    )
    sc = parse_scenario(text, source="hand.toml")
    bumps = [
        b for b in parameter_bumps(sc)[0] if b.key == "protocols.lender.reserves.WETH2.liquidation_threshold"
    ]
    res = sensitivities(sc, n_paths=4, bumps=bumps)
    row = _row(res, bumps[0].key, "liquidated_mean_usd")
    assert row["method"] == "one-sided (down)"
    assert math.isnan(row["up_effect"])
    assert any("up value is not a valid scenario" in reason for _, reason in res.skipped)
    # HF at 0.79 is 0.9944 as before: 50 % of 143,000 repaid, and the effect per +0.01 is its negative.
    assert row["effect"] == pytest.approx(-71_500, rel=1e-6)


GBM = """
name = "noisy"
[simulation]
n_steps = 6
dt = 300
n_paths = 256
seed = 5
record = ["bad_debt"]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "gbm"
vol = { WETH = 60.0 }
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = 2e6
impact = "linear"
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
[protocols.generate]
n_accounts = 50
collateral = "WETH"
debt = "USDC"
total_debt_usd = 2e7
hf_min = 1.001
hf_max = 1.05
seed = 2
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
oracle = "usd"
[agents]
gas_per_liquidation = 0
"""


def test_paired_intervals_are_the_per_path_formula_and_narrower_than_independent_runs():
    sc = parse_scenario(GBM, source="noisy.toml")
    key = "venues.book.depth_usd"
    bumps = [b for b in parameter_bumps(sc)[0] if b.key == key]
    res = sensitivities(sc, n_paths=256, bumps=bumps)
    # The two bumped runs, made here independently of sensitivities().
    y = {}
    for side, depth in (("down", 1.6e6), ("up", 2.5e6)):
        y[side] = firesale.simulate(with_overrides(sc, {key: depth}), n_paths=256, seed=5).metrics
    n = 256
    for stat, col in (("bad_debt_mean_usd", "bad_debt_usd"), ("liquidated_mean_usd", "liquidated_usd")):
        lo, hi = y["down"][col].to_numpy(), y["up"][col].to_numpy()
        row = _row(res, key, stat)
        assert row["effect"] == pytest.approx((hi.mean() - lo.mean()) / 2, rel=1e-9, abs=1e-9)
        assert row["se"] == pytest.approx(np.std(hi - lo, ddof=1) / (2 * math.sqrt(n)), rel=1e-9)
        unpaired = math.sqrt(np.var(hi, ddof=1) / n + np.var(lo, ddof=1) / n) / 2
        assert row["se_unpaired"] == pytest.approx(unpaired, rel=1e-9)
        assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * 1.959963984540054 * row["se"], rel=1e-9)
        assert 0 < row["se"] < row["se_unpaired"] / 2, stat  # common random numbers at work


def test_bad_arguments_are_refused_with_what_and_the_value():
    sc = parse_scenario(HAND, source="hand.toml")
    with pytest.raises(ParameterError, match=r"'n_paths' parameter of sensitivities .* Got 1 instead"):
        sensitivities(sc, n_paths=1)
    with pytest.raises(ParameterError, match=r"'level' parameter of sensitivities .* Got 0.5 instead"):
        sensitivities(sc, level=0.5)
    with pytest.raises(
        ParameterError, match=r"'depth_factors' parameter of parameter_bumps .* Got \(1.2, 1.5\)"
    ):
        parameter_bumps(sc, depth_factors=(1.2, 1.5))
    with pytest.raises(
        ParameterError, match=r"'threshold_step' parameter of parameter_bumps .* Got 0 instead"
    ):
        parameter_bumps(sc, threshold_step=0)


def test_the_command_prints_the_ranked_effects_and_writes_the_report(tmp_path):
    from click.testing import CliRunner

    from firesale.cli import main

    path = tmp_path / "hand.toml"
    path.write_text(HAND)
    report = tmp_path / "r.html"
    out = CliRunner().invoke(
        main, ["sensitivities", str(path), "--paths", "4", "--json", "--report", str(report)]
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    row = next(
        r
        for r in payload["sensitivities"]
        if r["key"] == "protocols.lender.reserves.WETH.liquidation_bonus"
        and r["statistic"] == "bad_debt_mean_usd"
    )
    assert row["effect"] == pytest.approx((140_000 / 1.04 - 140_000 / 1.06) / 2, rel=1e-6)
    assert payload["skipped"][0]["key"] == "protocols.lender.reserves.USDC"
    assert "What to change" in report.read_text()


def test_the_command_refuses_a_report_path_under_a_file_before_running(tmp_path):
    from click.testing import CliRunner

    from firesale.cli import main

    path = tmp_path / "hand.toml"
    path.write_text(HAND)
    out = CliRunner().invoke(main, ["sensitivities", str(path), "--report", str(path / "r.html")])
    assert out.exit_code == 2
    assert "--report: must be a file under folders" in out.output
