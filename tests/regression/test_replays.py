"""The five historical replays: they load from anywhere, replay the shipped data, behave as their books imply, and
stay pinned.

Each replay is deterministic (every Monte Carlo path is the same history), so two paths at all steps cost little.
Expected values come from the shipped data and the scenario's own parameters, worked out in the tests with plain
pandas arithmetic (never through the engine); the golden values at the end are regression pins, not targets.
"""

from __future__ import annotations

import json
import re
import tomllib

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.optimize import brentq

import firesale.data as fdata
from firesale.cli import main
from firesale.engine import simulate
from firesale.scenario import builtin_text, load_scenario

REPLAYS = (
    "black-thursday-2020",
    "steth-discount-2022",
    "crv-squeeze-2022",
    "usdc-depeg-2023",
    "terra-2022",
)

_RUNS: dict[str, object] = {}


def run(name: str):
    """Two paths, all steps, seed 0 (cached: several tests read the same run)."""
    if name not in _RUNS:
        _RUNS[name] = simulate(name, n_paths=2, seed=0)
    return _RUNS[name]


def spec(name: str) -> dict:
    return tomllib.loads(builtin_text(name))


def book(name: str, protocol: str = "") -> dict[str, dict[str, float]]:
    """The inline position book as {account: {asset: signed amount}} (collateral positive, debt negative)."""
    protos = spec(name)["protocols"]
    proto = next(p for p in protos if not protocol or p["name"] == protocol)
    out: dict[str, dict[str, float]] = {}
    for row in proto["accounts"]:
        amount = row.get("collateral_amount", 0.0) - row.get("debt_amount", 0.0)
        out.setdefault(row["account"], {})[row["asset"]] = amount
    return out


def utc(stamp) -> pd.Timestamp:
    ts = pd.Timestamp(stamp)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def step_of(stamp, start, dt: float) -> int:
    return int((utc(stamp) - utc(start)).total_seconds() // dt)


# ----- every replay -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REPLAYS)
def test_a_printed_replay_validates_and_runs_from_another_directory(name, tmp_path, monkeypatch):
    text = CliRunner().invoke(main, ["scenarios", name], catch_exceptions=False).output
    # Data are referenced only as shipped datasets, so the copy does not depend on where it is saved.
    for ref in re.findall(r'^(?:source|gas_series|positions|snapshot) = "([^"]*)"', text, flags=re.M):
        assert ref.startswith("firesale-data:"), ref
    (tmp_path / "elsewhere").mkdir()
    path = tmp_path / "elsewhere" / f"{name}.toml"
    path.write_text(text)
    monkeypatch.chdir(tmp_path)
    sc = load_scenario(str(path))
    assert sc.name == name
    result = simulate(sc, n_paths=1, n_steps=3)
    assert len(result.metrics) == 1


@pytest.mark.parametrize("name", REPLAYS)
def test_the_exogenous_path_is_the_shipped_history_on_every_path(name):
    s = spec(name)
    market, dt = s["market"], s["simulation"]["dt"]
    # The replay keeps the rows where every replayed column has a price (and interpolates across the others).
    frame = fdata.load_prices(market["source"])[list(market["columns"].values())].dropna()
    start = pd.Timestamp(market["start"])
    result = run(name)
    for asset, column in market["columns"].items():
        grid = start + pd.to_timedelta(np.arange(s["simulation"]["n_steps"] + 1) * dt, unit="s")
        expected = frame[column].reindex(grid)
        on_grid = expected.notna().to_numpy()
        assert on_grid.mean() > 0.15  # the step is the data's finest resolution: many steps are data rows
        got = result.paths[f"exo_price_{asset}"]
        np.testing.assert_allclose(
            got[:, on_grid], np.broadcast_to(expected[on_grid], got[:, on_grid].shape), rtol=1e-6
        )
    assert (result.metrics.iloc[0] == result.metrics.iloc[1]).all()


@pytest.mark.parametrize("name", REPLAYS)
def test_time_in_failure_state_never_exceeds_two_of_its_flags(name):
    m = run(name).metrics.iloc[0]
    flags = sorted([m.steps_liquidity_flag, m.steps_unclearable_flag, m.steps_oracle_flag])
    # A step is in the failure state when at least two flags are up, so it cannot outnumber the second-largest count.
    assert m.steps_in_failure_state <= flags[1]


# ----- black-thursday-2020 ------------------------------------------------------------------------------------


def test_black_thursday_liquidates_exactly_the_buckets_the_osm_falls_through():
    s = spec("black-thursday-2020")
    eth = fdata.load_prices("firesale-data:eth_2020-03-12_13")["ETH_open"]
    # The OSM reports during hour k the price read at the start of hour k-1; the run ends at 14 March 00:00, so the
    # lowest value it ever reports is the lowest hourly open from 12 March 00:00 to 13 March 22:00 (before sales
    # add their impact): Gemini's 97.63 at 13 March 02:00.
    hourly = eth[eth.index.minute == 0]
    osm_low = hourly.loc[:"2020-03-13 22:00"].min()
    assert osm_low == pytest.approx(97.63)
    lt = s["protocols"][0]["reserves"]["ETH"]["liquidation_threshold"]
    rows = book("black-thursday-2020")
    liq_price = {a: -r["DAI"] / (r["ETH"] * lt) for a, r in rows.items()}
    below = [a for a, p in liq_price.items() if p > osm_low]
    # Buckets 160% to 250% (liquidation prices 183.01 to 117.13) fall through the historical low. The 300% bucket's
    # liquidation price (97.61) sits 0.03% under it: the keepers' own sales (permanent impact) push the market, and
    # so the OSM, through it too. Buckets below 1% under the low never fall.
    assert len(below) == 25
    within_impact = [a for a, p in liq_price.items() if p > osm_low * 0.99]
    assert len(within_impact) == 30
    m = run("black-thursday-2020").metrics.iloc[0]
    assert len(below) <= m.n_liquidations <= len(within_impact)
    # Close factor 1 at DAI = $1: every liquidation repays a whole 2.5M DAI row.
    assert m.liquidated_usd == pytest.approx(2.5e6 * m.n_liquidations)
    assert m.bad_debt_usd == 0.0  # every liquidated row kept collateral worth more than its debt


def test_black_thursday_keepers_never_repay_more_than_their_capital_in_a_step():
    cap = spec("black-thursday-2020")["agents"]["liquidator_capital_usd"]
    per_step = run("black-thursday-2020").paths["liquidated"][0]
    assert per_step.max() <= cap * (1 + 1e-6)
    assert (per_step > 0).sum() > 1  # capital spreads the liquidations over several steps


# ----- steth-discount-2022 ------------------------------------------------------------------------------------


def _stableswap_spot(x0: float, x1: float, a: float) -> float:
    """Price of coin 1 in coin 0 of a 2-coin StableSwap pool (Ann = A * n), from the invariant by hand.

    Invariant: Ann (x0 + x1) + D = Ann D + D^3 / (4 x0 x1). Its gradient gives the marginal price
    (dF/dx1) / (dF/dx0) with dF/dxi = Ann + D^3 / (4 x0 x1 xi).
    """
    ann = 2.0 * a
    s = x0 + x1

    def f(d):
        return ann * s + d - ann * d - d**3 / (4.0 * x0 * x1)

    d = brentq(f, 0.5 * s, s)
    k = d**3 / (4.0 * x0 * x1)
    return (ann + k / x1) / (ann + k / x0)


def test_steth_pool_amplification_is_the_one_its_pre_stress_state_implies():
    pool = fdata.load_prices("firesale-data:curve_steth_pool_2021-09_2022-06").loc["2022-05-20":"2022-06-07"]
    ratio = fdata.load_prices("firesale-data:steth_eth_1h_2022-05_07")["stETH_ETH"]
    gaps = {}
    for a in (30, 50, 100):
        gaps[a] = np.median(
            [abs(_stableswap_spot(r.ETH, r.stETH, a) - ratio.asof(t.floor("h"))) for t, r in pool.iterrows()]
        )
    venue = spec("steth-discount-2022")["venues"][0]
    assert venue["A"] == 50
    assert gaps[50] < 0.0015  # 0.10% on the shipped data
    assert gaps[30] > 0.005 and gaps[100] > 0.005


def test_steth_pool_starts_from_the_shipped_balances_just_before_the_stress():
    row = fdata.load_prices("firesale-data:curve_steth_pool_2021-09_2022-06").loc["2022-06-09 11:47:55+00:00"]
    venue = spec("steth-discount-2022")["venues"][0]
    assert venue["coins"] == ["ETH", "stETH"]
    assert venue["balances"] == pytest.approx([row.ETH, row.stETH], rel=1e-9)


def test_steth_no_account_reaches_its_threshold_so_nothing_is_liquidated():
    s = spec("steth-discount-2022")
    lt = s["protocols"][0]["reserves"]["stETH"]["liquidation_threshold"]
    prices = fdata.load_prices("firesale-data:steth_eth_1h_2022-05_07").loc[
        "2022-06-09 12:00":"2022-06-30 12:00"
    ]
    worst = prices["stETH_ETH"].min()
    assert worst == pytest.approx(0.93059, abs=1e-5)
    # Health factor in ETH terms: collateral * ratio * LT / debt. The push feed may lag the market by its 0.5%
    # deviation threshold, so allow for a ratio 0.5% below the worst hour.
    hf = min(r["stETH"] * worst * (1 - 0.005) * lt / -r["ETH"] for r in book("steth-discount-2022").values())
    assert hf > 1.0
    m = run("steth-discount-2022").metrics.iloc[0]
    assert m.n_liquidations == 0
    assert m.bad_debt_peak_usd == 0.0


# ----- crv-squeeze-2022 ---------------------------------------------------------------------------------------


def test_crv_attacker_book_and_the_hour_the_prices_break_it():
    s = spec("crv-squeeze-2022")
    res = s["protocols"][0]["reserves"]
    attacker = book("crv-squeeze-2022")["attacker-0x57e0"]
    prices = fdata.load_prices("firesale-data:crv_usdc_1h_2022-10_12").loc["2022-11-22":"2022-12-06"]
    hf = (
        attacker["USDC"]
        * prices.USDC
        * res["USDC"]["liquidation_threshold"]
        / (-attacker["CRV"] * prices.CRV)
    )
    # By hand at the start: 0.88 * 63.6M * 1.00118 / (92M * 0.50114) = 1.2154.
    assert hf.iloc[0] == pytest.approx(1.2154, abs=1e-4)
    first_below = step_of(hf.index[hf < 1][0], "2022-11-22", 3600)
    assert first_below == 16  # 16:00 UTC, CRV 0.6137
    liquidated = np.flatnonzero(run("crv-squeeze-2022").paths["liquidated"][0])
    # The oracle reads the market, which can only lag the replay (arbitrage against the pool), never lead it.
    assert liquidated[0] >= first_below
    assert liquidated[0] <= step_of("2022-11-22 18:00", "2022-11-22", 3600)  # 18:00 spike: HF 0.846


def test_crv_bad_debt_only_when_liquidation_starts_after_collateral_no_longer_covers_debt_plus_bonus():
    res = spec("crv-squeeze-2022")["protocols"][0]["reserves"]
    bonus = res["USDC"]["liquidation_bonus"]
    attacker = book("crv-squeeze-2022")["attacker-0x57e0"]
    prices = fdata.load_prices("firesale-data:crv_usdc_1h_2022-10_12").loc["2022-11-22"]
    # A 50% liquidation leaves the collateral/debt value ratio r at 2r - (1 + bonus): it heals the account when
    # r > 1 + bonus and drains it to zero otherwise (a toxic liquidation spiral).
    r = attacker["USDC"] * prices.USDC / (-attacker["CRV"] * prices.CRV)
    assert r.loc["2022-11-22 16:00"] > 1 + bonus
    assert r.loc["2022-11-22 18:00"] < 1 + bonus
    result = run("crv-squeeze-2022")
    m = result.metrics.iloc[0]
    first = np.flatnonzero(result.paths["liquidated"][0])[0]
    r_first = attacker["USDC"] * prices.USDC.iloc[first] / (-attacker["CRV"] * prices.CRV.iloc[first])
    assert (m.bad_debt_usd > 0) == (r_first < 1 + bonus)
    assert m.first_bad_debt_step == first
    assert m.max_cascade_rounds >= 3  # the spiral repeats the 50% liquidation until the USDC is gone
    # Bad debt is unpaid CRV: never more than the whole borrow at the end price.
    end = fdata.load_prices("firesale-data:crv_usdc_1h_2022-10_12").CRV.loc["2022-12-06 00:00"]
    assert 0 < m.bad_debt_usd < -attacker["CRV"] * end


def test_crv_founder_account_is_never_touched():
    founder = book("crv-squeeze-2022")["crv-founder-0x7a16"]
    lt = spec("crv-squeeze-2022")["protocols"][0]["reserves"]["CRV"]["liquidation_threshold"]
    liq_price = -founder["USDC"] / (founder["CRV"] * lt)
    assert liq_price == pytest.approx(0.29, rel=1e-6)  # the DefiLlama figure the row was built from
    low = fdata.load_prices("firesale-data:crv_usdc_1h_2022-10_12").CRV.loc["2022-11-22":"2022-12-06"].min()
    assert low > 1.3 * liq_price
    # Every dollar repaid is the attacker's CRV: at most his 92M CRV at the highest CRV price of the window.
    high = fdata.load_prices("firesale-data:crv_usdc_1h_2022-10_12").CRV.loc["2022-11-22":"2022-12-06"].max()
    attacker = book("crv-squeeze-2022")["attacker-0x57e0"]
    assert run("crv-squeeze-2022").metrics.iloc[0].liquidated_usd <= -attacker["CRV"] * high


# ----- usdc-depeg-2023 ----------------------------------------------------------------------------------------


def test_usdc_depeg_liquidates_the_rows_the_prices_break_and_spares_the_fixed_oracle():
    s = spec("usdc-depeg-2023")
    prices = fdata.load_prices("firesale-data:usdc_depeg_1h_2023-03").loc["2023-03-10":"2023-03-15 00:00"]
    low = {"USDC": (prices.USDC / prices.USDT).min(), "DAI": (prices.DAI / prices.USDT).min()}
    must, may = 0.0, 0.0
    for proto in s["protocols"]:
        reserves = proto["reserves"]
        for rows in book("usdc-depeg-2023", proto["name"]).values():
            coll = next(a for a in rows if rows[a] > 0)
            debt = -rows["USDT"]
            # Price of the collateral, in USDT, at which the health factor reaches 1.
            breaks_at = debt / (rows[coll] * reserves[coll]["liquidation_threshold"])
            fixed = proto["name"] == "compound-v2" and coll == "USDC"  # FIXED_USD: the oracle never moves
            if fixed:
                continue
            if low[coll] < 0.97 * breaks_at:  # well through, beyond any oracle deviation threshold
                must += 0.5 * debt  # at least one 50% liquidation
                may += debt
            elif low[coll] < 1.03 * breaks_at:
                may += debt
    m = run("usdc-depeg-2023").metrics.iloc[0]
    usdt_high = prices.USDT.max()
    assert must * 0.99 <= m.liquidated_usd <= may * usdt_high
    assert m.bad_debt_usd == 0.0  # the stablecoins never fell below what the loopers owed


# ----- terra-2022 ---------------------------------------------------------------------------------------------


def test_terra_oracle_sits_on_its_floor_while_luna_trades_below_it():
    floor = next(o for o in spec("terra-2022")["oracles"] if o["asset"] == "LUNA")["min_answer"]
    luna = fdata.load_prices("firesale-data:luna_5min_2022-05")["LUNA_USDT"].loc[
        "2022-05-07":"2022-05-13 00:00"
    ]
    # The 'oracle failed' flag is up when the report is more than 5% off the market: at the very least in every
    # 5-minute bar where LUNA trades below floor / 1.05 and the feed cannot follow it down.
    below = int((luna < floor / 1.05).sum())
    assert below == 177
    m = run("terra-2022").metrics.iloc[0]
    assert m.steps_oracle_flag >= below


def test_terra_bad_debt_only_once_luna_is_worth_less_than_what_a_healthy_account_may_owe():
    lt = spec("terra-2022")["protocols"][0]["reserves"]["LUNA"]["liquidation_threshold"]
    floor = next(o for o in spec("terra-2022")["oracles"] if o["asset"] == "LUNA")["min_answer"]
    luna = fdata.load_prices("firesale-data:luna_5min_2022-05")["LUNA_USDT"].loc[
        "2022-05-07":"2022-05-13 00:00"
    ]
    # An account the (floored) oracle still deems healthy owes at most floor * LT per LUNA; its debt exceeds its
    # collateral at market only once LUNA trades below that. Before, liquidations clear every unhealthy account.
    threshold = floor * lt
    first_possible = step_of(luna.index[luna < threshold][0], "2022-05-07", 300)
    # The LUNA book alone (the UST accounts have their own, unfloored, route to bad debt).
    from firesale.scenario import builtin_text, parse_scenario

    text = "\n".join(
        line for line in builtin_text("terra-2022").splitlines() if 'account = "ust-' not in line
    )
    m = simulate(parse_scenario(text, source="terra-luna-only"), n_paths=1, seed=0).metrics.iloc[0]
    assert m.first_bad_debt_step >= first_possible
    # The bad debt is what the residual, repeatedly halved positions owe: tiny next to the $13.9M book.
    total_debt = -sum(r["USDT"] for k, r in book("terra-2022").items() if k.startswith("luna-"))
    assert m.bad_debt_usd < 1e-4 * total_debt


# ----- pins ---------------------------------------------------------------------------------------------------

# Regression pins, not targets: the engine's output on these replays at seed 0 (two paths, all steps), recorded so
# that any change in the mechanics shows up here. Update them, with a note in the changelog, when a change is
# intended; never tune a scenario to reach them.
PINS = {
    "black-thursday-2020": dict(
        bad_debt_usd=0.0, liquidated_usd=75_000_000.0, n_liquidations=30, max_cascade_rounds=1,
        steps_in_failure_state=8,
    ),
    "steth-discount-2022": dict(
        bad_debt_usd=0.0, liquidated_usd=0.0, n_liquidations=0, max_cascade_rounds=0, steps_in_failure_state=0,
    ),
    "crv-squeeze-2022": dict(
        bad_debt_usd=6_112_335.786746537, liquidated_usd=61_395_884.648719266, n_liquidations=4,
        max_cascade_rounds=4, steps_in_failure_state=0,
    ),
    "usdc-depeg-2023": dict(
        bad_debt_usd=0.0, liquidated_usd=102_484_383.2012, n_liquidations=5, max_cascade_rounds=2,
        steps_in_failure_state=1,
    ),
    "terra-2022": dict(
        bad_debt_usd=2480.665077925804, liquidated_usd=31_357_425.981287, n_liquidations=137,
        max_cascade_rounds=8, steps_in_failure_state=178,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", REPLAYS)
def test_regression_pin(name):
    m = run(name).metrics.iloc[0]
    for key, value in PINS[name].items():
        assert m[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key


@pytest.mark.parametrize("name", REPLAYS)
def test_cli_run_reports_the_pinned_figures(name, tmp_path):
    result = CliRunner().invoke(
        main,
        ["run", name, "--paths", "4", "--store", str(tmp_path / "store"), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["summary"]
    pin = PINS[name]
    assert summary["bad_debt_mean_usd"] == pytest.approx(pin["bad_debt_usd"], rel=1e-6, abs=1e-6)
    assert summary["liquidated_mean_usd"] == pytest.approx(pin["liquidated_usd"], rel=1e-6, abs=1e-6)
    assert summary["n_liquidations_mean"] == pin["n_liquidations"]
    assert summary["max_cascade_rounds"] == pin["max_cascade_rounds"]
    assert summary["steps_in_failure_state_mean"] == pin["steps_in_failure_state"]


def test_numpy_reference_kernel_agrees_on_a_replay():
    a = simulate("crv-squeeze-2022", n_paths=1, seed=0, kernel="numpy").metrics
    b = run("crv-squeeze-2022").metrics.iloc[:1]
    pd.testing.assert_frame_equal(a, b)
