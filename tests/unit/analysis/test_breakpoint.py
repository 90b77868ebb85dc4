"""Reverse stress on worlds whose breaking points are known by hand.

The world: WETH at $2,000 falls instantly (shock "drop") by depth d; oracles read the market at once; the only
venue is so deep that selling seized collateral moves nothing; gas costs nothing; no reserves. Protocol
``lender`` has one account with 100 WETH of collateral and 150,000 USDC of debt, ``lender2`` one with 100 WETH and
120,000 USDC; both with a liquidation threshold of 0.80 and a bonus b = 0.05.

After the drop the collateral is worth C = 200,000 (1 - d) and the health factor 0.8 C / D is below Aave's 0.95, so
the whole debt may be repaid: a liquidator repays min(D, C / (1 + b)) and seizes all collateral if C < D (1 + b).
The debt left, D - C / (1 + b), is bad debt whenever C < D (1 + b). Hence:

* insolvency (any bad debt, no reserves): d > 1 - D (1 + b) / 200,000; lender 0.2125, lender2 0.37;
* bad debt above a fraction beta of debt: d > 1 - (1 - beta) D (1 + b) / 200,000; with beta = 1 %: lender
  1 - 0.99 * 157,500 / 200,000 = 0.220375, lender2 1 - 0.99 * 126,000 / 200,000 = 0.3763;
* system-wide bad debt above 1 % of the total 270,000 of debt, while only lender has bad debt:
  150,000 - C / 1.05 > 2,700, i.e. d > 1 - 147,300 * 1.05 / 200,000 = 0.226675.
"""

from __future__ import annotations

import math

import pytest

from firesale.analysis.breakpoint import breaking_point, failure_indicators
from firesale.analysis.sweep import with_overrides
from firesale.engine import simulate
from firesale.exceptions import ParameterError
from firesale.scenario import parse_scenario

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
shape = "SHAPE"
depth = { WETH = 0.1 }
start = 600
DURATION
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
[agents]
gas_price_gwei = 0.0
"""

_PROTOCOL = """
[[protocols]]
name = "NAME"
type = "aave_v3"
[[protocols.accounts]]
account = "a"
asset = "WETH"
collateral_amount = 100.0
[[protocols.accounts]]
account = "a"
asset = "USDC"
debt_amount = DEBT
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
"""


def world(shape: str = "drop", duration: float | None = None, second: bool = True):
    text = _WORLD.replace("SHAPE", shape).replace(
        "DURATION", "" if duration is None else f"duration = {duration}"
    )
    text += _PROTOCOL.replace("NAME", "lender").replace("DEBT", "150000.0")
    if second:
        text += _PROTOCOL.replace("NAME", "lender2").replace("DEBT", "120000.0")
    return parse_scenario(text, source="hand.toml")


TOL = 5e-4


def test_the_engine_reproduces_the_hand_bad_debt_of_the_world() -> None:
    # The premise of the searches below, checked at one depth: 150,000 - 200,000 * 0.78 / 1.05.
    sc = with_overrides(world(), {"market.depth": {"WETH": 0.22}})
    m = simulate(sc, n_paths=1, seed=0).metrics.iloc[0]
    assert m["bad_debt_usd_lender"] == pytest.approx(150_000 - 156_000 / 1.05, rel=1e-9)
    assert m["bad_debt_usd_lender2"] == 0.0


def test_bad_debt_budget_breaking_points_per_protocol_and_system() -> None:
    res = breaking_point(world(), "magnitude", budget=0.01, n_paths=64, tol=TOL)
    expected = {"lender": 0.220375, "lender2": 0.3763, "system": 0.226675}
    for target, d in expected.items():
        b = res.boundaries[target]
        assert b.status == "found"
        assert b.bracket[0] <= d <= b.bracket[1], target
        assert b.bracket[1] - b.bracket[0] <= TOL
        assert b.estimate == pytest.approx(d, abs=TOL)
        # Every path is alike (a deterministic shock), so the Monte Carlo interval is the bisection bracket.
        assert b.low <= d <= b.high
        assert b.high - b.low <= 2 * TOL


def test_insolvency_breaking_points() -> None:
    res = breaking_point(world(), "magnitude", criterion="insolvency", n_paths=64, tol=TOL)
    assert res.boundaries["lender"].estimate == pytest.approx(0.2125, abs=TOL)
    assert res.boundaries["lender2"].estimate == pytest.approx(0.37, abs=TOL)
    assert res.boundaries["system"].estimate == pytest.approx(0.2125, abs=TOL)  # the first protocol to fail


def test_a_budget_that_is_never_breached_in_the_range_is_reported_not_reached() -> None:
    res = breaking_point(world(second=False), "magnitude", budget=0.01, hi=0.2, n_paths=8, tol=0.01)
    assert res.boundaries["lender"].status == "not_reached"
    assert res.boundaries["lender"].estimate is None


def test_few_paths_widen_the_interval_but_not_the_estimate() -> None:
    # With 4 identical paths the Wilson interval of a share of 0 or 1 is wide: for k = 0 its upper end is
    # z^2 / (n + z^2) = 3.8415 / 7.8415 = 0.49, just below the 0.5 probability, so the lower end still comes out at
    # the bracket; the upper Wilson bound at k = 4 of 4 is 1 and the lower 0.51 >= 0.5, so the same holds above.
    res = breaking_point(world(second=False), "magnitude", criterion="insolvency", n_paths=4, tol=TOL)
    b = res.boundaries["lender"]
    assert b.estimate == pytest.approx(0.2125, abs=TOL)
    # With 2 paths the upper bound for k = 0 is 3.8415 / 5.8415 = 0.66 >= 0.5: the boundary could be anywhere below.
    res2 = breaking_point(world(second=False), "magnitude", criterion="insolvency", n_paths=2, tol=TOL)
    b2 = res2.boundaries["lender"]
    assert b2.estimate == pytest.approx(0.2125, abs=TOL)
    assert b2.low == 0.0


def test_speed_needs_a_shock_with_a_duration() -> None:
    with pytest.raises(ParameterError, match="an instant fall has no speed"):
        breaking_point(world(), "speed", n_paths=1)


def test_speed_search_runs_towards_shorter_falls() -> None:
    # A linear fall to 25 % below start. Insolvency needs the price to reach 2,000 (1 - 0.2125) = 1,575 with the
    # account still whole; an instant fall (duration 0) does exactly that, so the mildest (longest) breaking fall
    # is found at or above 0 and the result must be on the 'lower is worse' side of the range.
    sc = with_overrides(world(shape="linear", duration=300.0, second=False), {"market.depth": {"WETH": 0.25}})
    res = breaking_point(sc, "speed", criterion="insolvency", n_paths=1, tol=10.0)
    b = res.boundaries["lender"]
    assert b.status in ("found", "below_range")
    ev = res.evaluations[res.evaluations["target"] == "lender"].sort_values("value")
    assert ev["p_fail"].iloc[0] == 1.0  # the instant fall breaks the lender


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budget": 1.5}, r"The 'budget' parameter of breaking_point must be a float in the range \[0, 1\]"),
        ({"budget": -0.1}, r"'budget'.*\[0, 1\]. Got -0.1"),
        ({"probability": 0.0}, r"'probability'.*\(0, 1\]"),
        ({"criterion": "vibes"}, "criterion"),
        ({"lo": 0.5, "hi": 0.2}, "lo < hi"),
    ],
)
def test_bad_arguments_are_refused_before_running(kwargs, match) -> None:
    with pytest.raises(ParameterError, match=match):
        breaking_point(world(), "magnitude", n_paths=1, **kwargs)


def test_magnitude_needs_a_shock_market() -> None:
    text = _WORLD.replace('model = "shock"\nshape = "SHAPE"\ndepth = { WETH = 0.1 }\nstart = 600\nDURATION',
                          'model = "gbm"\nvol = { WETH = 0.5, USDC = 0.01 }')  # fmt: skip
    sc = parse_scenario(text + _PROTOCOL.replace("NAME", "lender").replace("DEBT", "1.0"), source="gbm.toml")
    with pytest.raises(ParameterError, match=r"market\.model = 'gbm'"):
        breaking_point(sc, "magnitude", n_paths=1)


def test_failure_indicators_use_the_budget_of_each_protocol() -> None:
    import pandas as pd

    sc = world()
    # 1 % of lender's 150,000 is 1,500; of lender2's 120,000 is 1,200; of the total 270,000 is 2,700.
    m = pd.DataFrame(
        {
            "bad_debt_usd": [1600.0, 2800.0],
            "bad_debt_usd_lender": [1600.0, 1400.0],
            "bad_debt_usd_lender2": [0.0, 1400.0],
            "insolvent": [True, True],
            "reserves_used_usd_lender": [0.0, 0.0],
            "reserves_used_usd_lender2": [0.0, 1400.0],
        }
    )
    f = failure_indicators(sc, m, "bad_debt", 0.01)
    assert f["lender"].tolist() == [True, False]
    assert f["lender2"].tolist() == [False, True]
    assert f["system"].tolist() == [False, True]
    g = failure_indicators(sc, m, "insolvency")
    assert g["lender2"].tolist() == [False, False]  # reserves absorbed all of it


def test_liquidity_loss_scales_every_venue_and_the_search_validates_both_ends() -> None:
    from firesale.analysis.breakpoint import prepare_search

    sc, apply, worse, lo, hi, tol, n_paths, seed = prepare_search(world(), "liquidity", n_paths=1)
    assert (worse, lo, hi) == ("higher", 0.0, 0.99)
    assert apply(0.25) == {"venues.deep.depth_usd": 0.75e15}  # a quarter of the order book's depth gone
    point = with_overrides(sc, apply(0.25))
    assert point.spec.venues[0].depth_usd == 0.75e15


_CASCADE = """
name = "hand-liquidity"
[simulation]
n_steps = 2
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
start = 300
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = 1e6
depth_move = 0.01
impact = "linear"
permanent = 1.0
half_life = 1e12
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
name = "usd"
asset = "USDC"
type = "market"
[agents]
gas_price_gwei = 0.0
"""


def test_liquidity_breaking_point_is_where_anothers_fire_sale_makes_the_lender_insolvent() -> None:
    # WETH drops 10 % to p1 = 1,800. "big" (1,000 WETH against 1.8M, threshold 0.70 and bonus 40 % so that its
    # liquidator is paid even on a thin book) is closed in full and all of its WETH, $1.8M at p1, is sold into the shared book, whose depth after a liquidity loss x is
    # 1e6 (1 - x): linear, fully permanent impact takes WETH to p2 = 1800 exp(-0.01 * 1.8e6 / (1e6 (1 - x))).
    # "lender" (100 WETH against 140,000: HF 0.8 * 180,000 / 140,000 = 1.029 at p1) is then closed in full
    # (HF < 0.95) and left with bad debt exactly when 100 p2 < 140,000 * 1.05, i.e. p2 < 1,470:
    # x* = 1 - 0.018 / ln(1800 / 1470).
    text = _CASCADE
    for name, coll, debt in (("big", 1000.0, 1.8e6), ("lender", 100.0, 140000.0)):
        text += _PROTOCOL.replace("NAME", name).replace("DEBT", str(debt)).replace(
            "collateral_amount = 100.0", f"collateral_amount = {coll}"
        ).replace('venues = ["deep"]', 'venues = ["book"]').replace(
            'oracle = "usd"\n', 'oracle = "usd"\nvenues = ["usdc-book"]\n'
        )  # fmt: skip
        if name == "big":
            text = text.replace(
                'ltv = 0.75\nliquidation_threshold = 0.80\nliquidation_bonus = 0.05\noracle = "eth"',
                'ltv = 0.65\nliquidation_threshold = 0.70\nliquidation_bonus = 0.40\noracle = "eth"',
            )
    sc = parse_scenario(text, source="hand.toml")
    x_star = 1 - 0.018 / math.log(1800 / 1470)
    # Searched up to 95 % lost: beyond about 97 % big's sale no longer pays its liquidator (its average discount,
    # 0.009 / (1 - x) in log, exceeds ln 1.4), nothing is sold and nobody breaks.
    res = breaking_point(sc, "liquidity", criterion="insolvency", n_paths=1, tol=1e-4, hi=0.95)
    b = res.boundaries["lender"]
    assert b.status == "found"
    assert b.bracket[0] <= x_star <= b.bracket[1] and b.bracket[1] - b.bracket[0] <= 1e-4
    assert b.estimate == pytest.approx(x_star, abs=1e-4)
