"""Uniswap v3 tick maps and depth, Curve pool histories: hand-calculated cases and every error."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from firesale.data import load_curve_pool, load_uniswap_v3_ticks, uniswap_v3_depth
from firesale.exceptions import ParameterError

Q96 = 2**96


def toy_meta(liquidity: int, current_tick: int = 0, sqrt_price: float = 1.0, fee: int = 500) -> dict:
    return {
        "currentTick": current_tick,
        "sqrtPriceX96": int(sqrt_price * Q96),
        "liquidity": liquidity,
        "feeTier": fee,
        "token0": {"symbol": "T0", "decimals": 0},
        "token1": {"symbol": "T1", "decimals": 0},
    }


def test_depth_inside_one_range_matches_hand_calculation() -> None:
    # One position, L = 1e6 on ticks [-1000, 1000]; price 1 (sqrt 1), so a 2% move stays inside the range.
    ticks = pd.DataFrame({"tickIdx": [-1000, 1000], "liquidityNet": [1e6, -1e6]})
    depth = uniswap_v3_depth(ticks, toy_meta(10**6), moves=0.02).set_index("side")
    # Selling token1 raises sqrt(P) from 1 to 1/sqrt(0.98): dy = L (1/sqrt(0.98) - 1), dx = L (1 - sqrt(0.98)).
    dy = 1e6 * (1 / math.sqrt(0.98) - 1)
    dx = 1e6 * (1 - math.sqrt(0.98))
    assert depth.loc["sell_token1", "amount_in"] == pytest.approx(dy, rel=1e-12)
    assert depth.loc["sell_token1", "amount_out"] == pytest.approx(dx, rel=1e-12)
    # Selling token0 lowers sqrt(P) to sqrt(0.98): dx = L (1/sqrt(0.98) - 1) in, dy = L (1 - sqrt(0.98)) out.
    assert depth.loc["sell_token0", "amount_in"] == pytest.approx(dy, rel=1e-12)
    assert depth.loc["sell_token0", "amount_out"] == pytest.approx(dx, rel=1e-12)
    assert depth.loc["sell_token1", "ticks_crossed"] == 0
    # Fee on input as in SwapMath.computeSwapStep: amountIn * fee / (1e6 - fee) more, i.e. amountIn / (1 - fee).
    assert depth.loc["sell_token1", "amount_in_with_fee"] == pytest.approx(dy / (1 - 0.0005), rel=1e-12)
    # Valued at the starting price of token1 (1 token0 each).
    assert depth.loc["sell_token1", "value_in_token0"] == pytest.approx(dy, rel=1e-12)


def test_depth_crossing_ticks_matches_hand_calculation() -> None:
    # Two positions: L = 1e6 on [-1000, 1000] and L = 1e6 on [-100, 100]; active L = 2e6 at tick 0.
    ticks = pd.DataFrame({"tickIdx": [-1000, -100, 100, 1000], "liquidityNet": [1e6, 1e6, -1e6, -1e6]})
    depth = uniswap_v3_depth(ticks, toy_meta(2 * 10**6), moves=[0.05]).set_index("side")
    s100 = 1.0001**50  # sqrt price at tick 100
    target_up = 1 / math.sqrt(0.95)
    dy_up = 2e6 * (s100 - 1) + 1e6 * (target_up - s100)
    dx_up = 2e6 * (1 - 1 / s100) + 1e6 * (1 / s100 - 1 / target_up)
    assert depth.loc["sell_token1", "amount_in"] == pytest.approx(dy_up, rel=1e-12)
    assert depth.loc["sell_token1", "amount_out"] == pytest.approx(dx_up, rel=1e-12)
    assert depth.loc["sell_token1", "ticks_crossed"] == 1
    # Downwards the tick at -100 is crossed (tick 0 itself is not initialised here).
    sm100 = 1.0001**-50
    target_down = math.sqrt(0.95)
    dx_down = 2e6 * (1 / sm100 - 1) + 1e6 * (1 / target_down - 1 / sm100)
    dy_down = 2e6 * (1 - sm100) + 1e6 * (sm100 - target_down)
    assert depth.loc["sell_token0", "amount_in"] == pytest.approx(dx_down, rel=1e-12)
    assert depth.loc["sell_token0", "amount_out"] == pytest.approx(dy_down, rel=1e-12)


def test_depth_decimals_scale_amounts() -> None:
    ticks = pd.DataFrame({"tickIdx": [-1000, 1000], "liquidityNet": [1e6, -1e6]})
    meta = toy_meta(10**6)
    meta["token0"]["decimals"], meta["token1"]["decimals"] = 6, 18
    plain = uniswap_v3_depth(ticks, toy_meta(10**6), moves=0.02).set_index("side")
    scaled = uniswap_v3_depth(ticks, meta, moves=0.02).set_index("side")
    assert scaled.loc["sell_token1", "amount_in"] == pytest.approx(
        plain.loc["sell_token1", "amount_in"] / 1e18
    )
    assert scaled.loc["sell_token1", "amount_out"] == pytest.approx(
        plain.loc["sell_token1", "amount_out"] / 1e6
    )


def test_depth_of_the_shipped_pool_grows_with_the_move() -> None:
    ticks, meta = load_uniswap_v3_ticks()
    depth = uniswap_v3_depth(ticks, meta)
    for side in ("sell_token1", "sell_token0"):
        part = depth[depth["side"] == side].sort_values("move")
        assert part["amount_in"].is_monotonic_increasing
        assert part["ticks_crossed"].is_monotonic_increasing
    assert set(depth["token_in"]) == {"WETH", "USDC"}
    # Inside the current tick's range a tiny move is priced by the active liquidity alone (dy = L dsqrtP).
    tiny = uniswap_v3_depth(ticks, meta, moves=1e-6).set_index("side")
    s0 = meta["sqrtPriceX96"] / Q96
    expected = meta["liquidity"] * s0 * (1 / math.sqrt(1 - 1e-6) - 1) / 1e18
    assert tiny.loc["sell_token1", "amount_in"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("moves", [0, 1, -0.1, 1.5, [], ["x"], [True], "0.1"])
def test_depth_bad_moves(moves: object) -> None:
    ticks, meta = load_uniswap_v3_ticks()
    with pytest.raises(
        ParameterError, match=r"The 'moves' parameter of uniswap_v3_depth must be a fraction in"
    ):
        uniswap_v3_depth(ticks, meta, moves=moves)  # type: ignore[arg-type]


def test_depth_bad_ticks_and_meta() -> None:
    ticks, meta = load_uniswap_v3_ticks()
    with pytest.raises(
        ParameterError, match=r"The 'ticks' parameter of uniswap_v3_depth must be a DataFrame"
    ):
        uniswap_v3_depth(ticks[["tickIdx"]], meta)
    with pytest.raises(
        ParameterError, match=r"The 'meta' parameter of uniswap_v3_depth must be a dict with keys"
    ):
        uniswap_v3_depth(ticks, {"currentTick": 1})


def test_depth_inconsistent_liquidity() -> None:
    # Active liquidity 1 while crossing removes 1e6: the tick map does not belong to this state.
    ticks = pd.DataFrame({"tickIdx": [-10, 10], "liquidityNet": [1e6, -1e6]})
    with pytest.raises(ParameterError, match=r"active liquidity became negative .* does not match meta"):
        uniswap_v3_depth(ticks, toy_meta(1), moves=0.05)


def write_pool(tmp_path: Path, ticks: str, meta: dict | str) -> tuple[Path, Path]:
    (tmp_path / "t.csv").write_text(ticks)
    (tmp_path / "m.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return tmp_path / "t.csv", tmp_path / "m.json"


def test_user_tick_files_load_sorted(tmp_path: Path) -> None:
    t, m = write_pool(tmp_path, "tickIdx,liquidityNet\n10,-5\n-10,5\n", toy_meta(5))
    ticks, meta = load_uniswap_v3_ticks(t, m)
    assert ticks["tickIdx"].tolist() == [-10, 10]
    assert ticks["tickIdx"].dtype == np.int64
    assert meta["token0"]["decimals"] == 0


@pytest.mark.parametrize(
    ("ticks", "message"),
    [
        ("tick,liquidityNet\n1,2\n", r"t\.csv has no 'tickIdx' column"),
        (
            "tickIdx,liquidityNet\n1.5,2\n",
            r"column 'tickIdx' must hold integers in \[-887272, 887272\]; got 1\.5",
        ),
        ("tickIdx,liquidityNet\n900000,2\n", r"column 'tickIdx' must hold integers"),
        ("tickIdx,liquidityNet\n1,2\n1,3\n", r"tick 1 appears more than once"),
        ("tickIdx,liquidityNet\n1,\n", r"column 'liquidityNet' has empty cells"),
        ("tickIdx,liquidityNet\n1,x\n", r"column 'liquidityNet' must hold numbers; got 'x' at line 2"),
        ("tickIdx,liquidityNet\n", r"t\.csv has no rows"),
    ],
)
def test_user_tick_file_errors(tmp_path: Path, ticks: str, message: str) -> None:
    t, m = write_pool(tmp_path, ticks, toy_meta(5))
    with pytest.raises(ParameterError, match=message):
        load_uniswap_v3_ticks(t, m)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"currentTick": "abc"}, r"field 'currentTick' must be an integer\. Got 'abc' instead"),
        ({"currentTick": 10**7}, r"field 'currentTick' must be in \[-887272, 887272\]"),
        ({"sqrtPriceX96": 0}, r"field 'sqrtPriceX96' must be >= 1\. Got 0 instead"),
        ({"liquidity": -1}, r"field 'liquidity' must be >= 0"),
        ({"liquidity": None}, r"field 'liquidity' must be an integer"),
        ({"token1": "WETH"}, r"field 'token1' must be an object with 'symbol' and 'decimals'"),
    ],
)
def test_user_meta_errors(tmp_path: Path, change: dict, message: str) -> None:
    t, m = write_pool(tmp_path, "tickIdx,liquidityNet\n1,2\n", {**toy_meta(5), **change})
    with pytest.raises(ParameterError, match=message):
        load_uniswap_v3_ticks(t, m)


def test_user_meta_not_json(tmp_path: Path) -> None:
    t, m = write_pool(tmp_path, "tickIdx,liquidityNet\n1,2\n", "{not json")
    with pytest.raises(ParameterError, match=r"cannot read .*m\.json as JSON"):
        load_uniswap_v3_ticks(t, m)
    m.write_text("[1, 2]")
    with pytest.raises(ParameterError, match=r"m\.json must hold a JSON object\. Got list instead"):
        load_uniswap_v3_ticks(t, m)


def test_curve_pool_with_a_ramps_interpolates_like_the_contract() -> None:
    pool = load_curve_pool(
        "firesale-data:curve_mim3crv_pool_2021-06_2022-06", a_ramps="firesale-data:curve_mim3crv_a_ramps"
    )
    # Before the first ramp A is the ramp's starting value; after the last one its final value.
    assert pool["A"].iloc[0] == 10.0
    assert pool["A"].iloc[-1] == 2000.0
    # Inside the second ramp (100 -> 300 from 1632263094 to 1632927600) A moves linearly.
    t0, t1 = 1632263094, 1632927600
    seconds = (pool.index - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    inside = pool.index[(seconds > t0) & (seconds < t1)]
    assert len(inside) > 0
    t = (inside[0] - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    assert pool.loc[inside[0], "A"] == pytest.approx(100 + (300 - 100) * (t - t0) / (t1 - t0), rel=1e-12)
    assert {"virtual_price", "MIM", "3CRV"} <= set(pool.columns)


def test_curve_pool_user_file_errors(tmp_path: Path) -> None:
    (tmp_path / "nov.csv").write_text("timestamp,A,B\n2020-01-01,1,2\n")
    with pytest.raises(ParameterError, match=r"nov\.csv has no 'virtual_price' column"):
        load_curve_pool("nov.csv", base_dir=tmp_path)
    (tmp_path / "one.csv").write_text("timestamp,virtual_price,A\n2020-01-01,1,2\n")
    with pytest.raises(ParameterError, match=r"must have at least two balance columns; got \[\]"):
        load_curve_pool("one.csv", base_dir=tmp_path)
    (tmp_path / "neg.csv").write_text("timestamp,virtual_price,X,Y\n2020-01-01,1,2,-1\n")
    with pytest.raises(
        ParameterError, match=r"balance column 'Y' must be >= 0 and not empty; got -1\.0 at 2020-01-01"
    ):
        load_curve_pool("neg.csv", base_dir=tmp_path)
    (tmp_path / "ok.csv").write_text("timestamp,virtual_price,X,Y\n2020-01-01,1,2,3\n")
    (tmp_path / "ramp.csv").write_text("timestamp,B\n2020-01-01,1\n")
    with pytest.raises(ParameterError, match=r"ramp\.csv has no 'A' column"):
        load_curve_pool("ok.csv", a_ramps="ramp.csv", base_dir=tmp_path)
    (tmp_path / "ramp0.csv").write_text("timestamp,A\n2020-01-01,0\n")
    with pytest.raises(ParameterError, match=r"ramp0\.csv: column 'A' must hold values > 0"):
        load_curve_pool("ok.csv", a_ramps="ramp0.csv", base_dir=tmp_path)
