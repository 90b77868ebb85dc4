"""Slippage at size against x * y = k by hand, the oracle-lag chart exactly when oracles are recorded, and the
sensitivity section of the report."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from firesale.analysis.sensitivity import STATISTICS, SensitivityResult
from firesale.engine._blueprint import Blueprint
from firesale.exceptions import ParameterError
from firesale.liquidity.venues import VenueSet
from firesale.report import render_report
from firesale.report._oracle_lag import oracle_lag_report
from firesale.report._slippage import SLICES, slippage_at_size
from firesale.report._view import as_view
from firesale.scenario import parse_scenario

POOL = """
name = "pool-only"
[simulation]
n_steps = 2
dt = 300
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
depth = {{ WETH = 0.1 }}
[[venues]]
type = "constant_product"
name = "pool"
coins = ["WETH", "USDC"]
reserves = [1000.0, 2000000.0]
fee_bps = {fee}
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
accounts = [
  {{ account = "a", asset = "WETH", collateral_amount = 10.0 }},
  {{ account = "a", asset = "USDC", debt_amount = 1000.0 }},
]
[protocols.reserves.WETH]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "eth"
venues = ["pool"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "usd"
"""


def _pool(fee: float):
    return parse_scenario(POOL.format(fee=fee), source="pool.toml")


def test_slippage_of_a_fee_free_constant_product_pool_is_x_y_k_by_hand():
    # The pool holds 1,000 WETH and 2,000,000 USDC: its price 2,000 is the market's, so no arbitrage moves it.
    # Selling X WETH pays y X / (x + X) USDC whatever the slicing (x * y = k, no fee): $1M is X = 500 WETH and
    # fetches 2e6 * 500 / 1,500 = 666,666.67 USDC (slippage 1/3); $10M is X = 5,000: 2e6 * 5,000 / 6,000.
    frame = slippage_at_size(_pool(0), [1e6, 1e7])
    assert frame["asset"].tolist() == ["WETH", "WETH"] and frame["venues"].tolist() == ["pool", "pool"]
    assert frame["amount"].tolist() == pytest.approx([500.0, 5000.0])
    assert frame["proceeds_usd"].tolist() == pytest.approx([2e6 * 500 / 1500, 2e6 * 5000 / 6000], rel=1e-12)
    assert frame["slippage"].tolist() == pytest.approx(
        [1 - 666_666.666_666 / 1e6, 1 - 1_666_666.666_666 / 1e7]
    )


def test_slippage_with_a_fee_is_the_sliced_swaps_by_hand_and_starts_at_the_quote():
    # 30 bps: the sale goes in SLICES equal slices, each a Uniswap v2 swap out = g dx y / (x + g dx) with
    # g = 0.997, the whole input staying in the pool.
    frame = slippage_at_size(_pool(30), [1.0, 1e6])
    x, y, g = 1000.0, 2_000_000.0, 0.997
    dx = 500.0 / SLICES
    out = 0.0
    for _ in range(SLICES):
        dy = g * dx * y / (x + g * dx)
        out, x, y = out + dy, x + dx, y - dy
    assert frame["proceeds_usd"].iloc[1] == pytest.approx(out, rel=1e-12)
    # A $1 sale fetches the marginal quote: VenueSet.quote of the pool at the start, y / x * g USD per WETH.
    sc = _pool(30)
    bp = Blueprint.build(sc)
    venues = VenueSet(bp.venue_specs, bp.venue_coins, 1)
    exo = bp.price0[None, :]
    quote = float(venues.quote(0, 0, exo, exo)[0])
    assert quote == pytest.approx(2_000_000.0 / 1000.0 * 0.997, rel=1e-12)
    assert frame["slippage"].iloc[0] == pytest.approx(1 - quote / 2000.0, abs=1e-6)  # 0.3 %, the fee


def _with_oracles(run):
    """The hand-built run plus an ETH oracle stuck at 2,000 until step 12, then the market; USDC's at 1."""
    paths = dict(run.paths)
    t = np.arange(25)[None, :]
    price = paths["price_WETH"].astype(float)
    paths["oracle_eth-usd"] = np.where(t < 12, 2000.0, price).astype(np.float32)
    paths["oracle_usdc-usd"] = np.ones_like(price, dtype=np.float32)
    return dataclasses.replace(run, paths=paths)


def test_the_oracle_chart_is_there_exactly_when_oracles_are_recorded(make_run):
    run = make_run()
    tables, charts = oracle_lag_report(as_view(run))
    assert tables == [] and [c.key for c in charts] == ["oracle-lag"]
    assert charts[0].figure is None and '"oracle"' in charts[0].note
    assert 'id="chart-oracle-lag"' not in render_report(run)
    recorded = _with_oracles(run)
    tables, charts = oracle_lag_report(as_view(recorded))
    assert charts[0].figure is not None
    assert 'id="chart-oracle-lag"' in render_report(recorded)
    # Only eth-usd moves (USDC is flat in price and answer): one panel, answer and market, median and worst path.
    names = [t.name for t in charts[0].figure.data]
    assert names == ["market, median", "answer, median", "market, worst path (98)", "answer, worst path (98)"]


def test_oracle_lag_at_the_first_liquidation_and_bad_debt_by_hand(make_run):
    # Path i: market 2,000 - i - t; answer 2,000 until step 12. First liquidation at step 5 (paths 1-99; path 0
    # liquidates nothing): deviation 2,000 / (1,995 - i) - 1, median at i = 50: 2,000 / 1,945 - 1 = +2.83 %; the
    # answer last changed at step 0, so it is 5 x 300 = 1,500 s old. First bad debt at step 10 (paths 90-99):
    # median of 2,000 / (1,990 - i) - 1 over i = 90..99, the mean of i = 94 and 95: +5.51 %, 3,000 s old.
    tables, _ = oracle_lag_report(as_view(_with_oracles(make_run())))
    (table,) = tables
    eth = next(r for r in table.rows if r[0] == "eth-usd")
    at_liq = 2000 / 1945 - 1
    at_bad = (2000 / 1896 - 1 + 2000 / 1895 - 1) / 2
    # 95th percentile over the 99 paths (linear interpolation): rank 0.95 x 98 = 93.1, i.e. i = 94.1, between
    # 2,000 / 1,901 - 1 and 2,000 / 1,900 - 1.
    p95 = (2000 / 1901 - 1) + 0.1 * ((2000 / 1900 - 1) - (2000 / 1901 - 1))
    assert eth[3] == f"{100 * at_liq:+.2f}% (95th pct {100 * p95:+.2f}%)" == "+2.83% (95th pct +5.21%)"
    assert eth[4] == "1,500 s (95th pct 1,500 s)"
    assert eth[5].startswith(f"{100 * at_bad:+.2f}%")
    assert eth[6].startswith("3,000 s")
    assert table.columns[3] == "deviation at first liquidation (99 paths)"
    assert table.columns[5] == "deviation at first bad debt (10 paths)"
    # Largest |deviation| on the median path: at step 11, 2,000 / (1,989 - i) - 1, median i = 49.5.
    assert eth[2] == f"{100 * np.median(2000 / (1989 - np.arange(100)) - 1):.2f}%"


def _hand_sensitivities(base_result) -> SensitivityResult:
    """Two bumps with (effect, s.e.) set by hand: the bonus moves expected bad debt by +300 per step, the depth by
    -100; the paired s.e. is a quarter of the independent one."""
    rows = []
    for key, label, kind, step, base, effects in (
        ("protocols.lender.reserves.WETH.liquidation_bonus", "lender WETH liquidation bonus", "bonus",
         "-0.01 / +0.01", 0.05, ((300.0, 10.0), (0.02, 0.005), (1e5, 1e3))),
        ("venues.cex-weth.depth_usd", "venue cex-weth depth", "depth", "x0.8 / x1.25", 5e6, ((-100.0, 10.0), (0.0, 0.0), (-2e5, 1e3))),
    ):  # fmt: skip
        for (stat, label_s, unit), (effect, se) in zip(STATISTICS, effects, strict=True):
            rows.append(
                {"key": key, "label": label, "kind": kind, "step": step, "base_value": base, "down": 0.0, "up": 0.0,
                 "statistic": stat, "statistic_label": label_s, "unit": unit, "method": "central", "effect": effect,
                 "se": se, "ci_low": effect - 1.96 * se, "ci_high": effect + 1.96 * se, "se_unpaired": 4 * se,
                 "down_effect": -effect, "down_se": se, "up_effect": effect, "up_se": se, "significant": True}
            )  # fmt: skip
    base = {"bad_debt_mean_usd": 1000.0, "p_bad_debt": 0.1, "liquidated_mean_usd": 5e6}
    return SensitivityResult("toy-spiral", 7, 100, base, pd.DataFrame(rows), [], 0.95, 1.0, base_result)


def test_the_report_has_a_what_to_change_section_only_with_sensitivities(make_run):
    run = make_run()
    res = _hand_sensitivities(run)
    page = render_report(run, sensitivities=res)
    assert "<h2>What to change: sensitivities</h2>" in page
    assert 'id="sensitivity-table"' in page and 'id="chart-sensitivities"' in page
    table = page[
        page.index('id="sensitivity-table"') : page.index("</table>", page.index('id="sensitivity-table"'))
    ]
    # Ranked by the effect on expected bad debt: the bonus (+300) above the depth (-100).
    assert table.index("lender WETH liquidation bonus") < table.index("venue cex-weth depth")
    assert "<td>+$300 [+$280, +$320]</td>" in table  # 300 -/+ 19.6, at the report's dollar rounding
    assert "<td>+2.00 pp [+1.02 pp, +2.98 pp]</td>" in table  # 0.02 -/+ 1.96 x 0.005
    assert "<td>$5.00M</td>" in table  # a book's depth in dollars
    assert "<td>4.0× narrower</td>" in table  # s.e. 10 paired against 40 from independent runs
    plain = render_report(run)
    assert "What to change: sensitivities" not in plain
    assert "firesale sensitivities SCENARIO --report PATH" in plain
    # Slippage and oracle lag are on the page now: the "not in this report yet" list no longer claims them.
    assert "Slippage at size per collateral, oracle lag" not in plain


def test_a_report_refuses_sensitivities_that_are_not_a_sensitivity_result(make_run):
    with pytest.raises(
        ParameterError, match=r"'sensitivities' parameter of render_report .* Got dict instead"
    ):
        render_report(make_run(), sensitivities={})
