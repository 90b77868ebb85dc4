"""terra-2022-mechanism: UST and LUNA priced by their venues against Terra's mint/burn module and Anchor withdrawals.

Expectations come from outside the model: the module's formulas written out by hand (and the exact reference
:mod:`firesale.mechanics.terra`) with the parameters the scenario cites, the Anchor rule evaluated on the recorded
UST price, and the rule "one UST buys one dollar of LUNA at the oracle" applied to the recorded series. The pinned
figures at the end are regression pins of the first day (7 May, 00:00 -> 8 May, 00:00), not targets.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

import firesale.data as fdata
from firesale.engine import simulate
from firesale.mechanics import terra as mt
from firesale.protocols.terra_market import _burn_spread
from firesale.scenario import builtin_text

NAME = "terra-2022-mechanism"
STEPS = 288  # the first day, 5-minute steps: the 85M sale at 21:45 and the run it starts
_RUN: list = []


def run():
    if not _RUN:
        _RUN.append(simulate(NAME, n_paths=1, seed=0, n_steps=STEPS))
    return _RUN[0]


def terra() -> dict:
    return next(p for p in tomllib.loads(builtin_text(NAME))["protocols"] if p["type"] == "terra_market")


def test_a_burn_through_the_virtual_pool_by_hand_with_the_pre_event_parameters():
    # BasePool B = 50M SDR, MinStabilitySpread 0.5%, SDR = 1.35 USD, empty pool (delta 0), LUNA at 70 USD.
    # Burn 10M UST: offer x = 10e6 / 1.35 = 7,407,407.41 SDR; Terra pool T = B, LUNA pool B^2 / T = B;
    # ask = B - B^2 / (B + x) = B x / (B + x); spread = (x - ask) / x = x / (B + x)
    #     = 7,407,407.41 / 57,407,407.41 = 0.129032258 (above the 0.5% floor);
    # LUNA to the trader = 10e6 / 70 * (1 - 0.129032258) = 124,423.96.
    t = terra()
    b, m, sdr = t["base_pool_sdr"], t["min_stability_spread"], t["sdr_usd"]
    assert (b, t["pool_recovery_period"], m, sdr) == (50e6, 36, 0.005, 1.35)
    x = 10e6 / 1.35
    spread = x / (50e6 + x)
    assert spread == pytest.approx(0.129032258, abs=1e-9)
    assert 10e6 / 70 * (1 - spread) == pytest.approx(124_423.96, abs=0.01)
    # The model's spread function gives the same number.
    assert _burn_spread(np.array([x]), np.array([b]), b, m)[0] == pytest.approx(spread, rel=1e-12)
    # And the chain's own arithmetic (sdk.Dec): 10M UST in uusd, rates are LUNA prices in each denom.
    params = mt.MarketParams(base_pool=mt.dec(50_000_000) * 10**6, pool_recovery_period=36,
                             min_stability_spread=mt.dec("0.005"))  # fmt: skip
    rates = {"uusd": mt.dec(70), "usdr": mt.dec(70) * 100 // 135}  # 1 LUNA = 70 USD = 70 / 1.35 SDR
    r = mt.swap(10_000_000 * 10**6, "uusd", "uluna", rates, 0, params)
    assert r.spread / mt.PRECISION == pytest.approx(spread, rel=1e-6)
    assert r.swap_coin / 1e6 == pytest.approx(124_423.96, rel=1e-6)


def test_nothing_moves_before_the_sale_and_anchor_empties_when_ust_falls_below_0_895():
    # Before 21:45 UST holds its 7 May price and nobody withdraws (0.9998 > 1 - tolerance 0.005). The rule
    # D = D0 (1 - min(1, max(1 - 0.005 - p_min, 0) / 0.10)) empties Anchor once UST has traded below 0.895.
    p = run().paths
    ust, dep = p["price_UST"][0], p["terra.anchor_deposits"][0]
    sale = 261  # 21:45, 78,300 s: the step in which the 85M lands in the pool
    assert np.all(ust[: sale + 1] == np.float32(0.9998)) and np.all(dep[: sale + 1] == np.float32(14e9))
    below = np.flatnonzero(ust < 0.995 - 0.10)
    assert below.size and below[0] == sale + 1 and np.all(dep[below[0] :] == 0.0)


def test_luna_supply_grows_by_one_dollar_of_luna_per_ust_burned():
    # Each UST burned mints 1 USD of LUNA at the oracle (the market price here), fee included: the step's change in
    # LUNA supply is the UST burned in it over LUNA's price. UST supply only falls (nothing is minted above the peg).
    p = run().paths
    ust = p["terra.ust_supply"][0].astype(float)
    luna = p["terra.luna_supply"][0].astype(float)
    price = p["price_LUNA"][0].astype(float)
    burned = -np.diff(ust)
    assert np.all(burned >= -1e-3 * 18.7e9 * 1e-6)  # float32 recording noise only
    steps = np.flatnonzero(burned > 1e6)
    assert steps.size == 27  # every step from the sale (21:45) to the end of the day
    expected = burned[steps] / price[steps + 1]
    np.testing.assert_allclose(np.diff(luna)[steps], expected, rtol=5e-3)  # float32 supplies of 1e8-1e10


def test_after_each_burn_the_pool_spread_is_the_ust_discount_it_stopped_at():
    # LUNA is sold at the market (no venue) and the oracle is the market, so the arbitrageur burns until the next UST
    # would fetch its price: 1 - spread_marginal = p_UST, i.e. B^2 / T^2 = p_UST. The spread a small swap pays at
    # the end of such a step is therefore 1 - p_UST (to the purchase's own small impact on UST).
    p = run().paths
    spread, ust = p["terra.swap_spread"][0], p["price_UST"][0]
    burned = -np.diff(p["terra.ust_supply"][0].astype(float))
    steps = np.flatnonzero(burned > 1e6) + 1
    np.testing.assert_allclose(spread[steps], 1.0 - ust[steps], atol=2e-3)


def test_only_btc_is_replayed_and_luna_follows_it_exogenously():
    # LUNA's exogenous price is 77.3 times BTC's relative path (derived_from = "BTC"), BTC's hourly Bitstamp closes
    # interpolated to the 5-minute steps in log-price (the replay's "linear" rule); neither LUNA nor UST is replayed.
    p = run().paths
    btc = fdata.load_prices("firesale-data:eth_btc_1h_2019-2024")["BTC"].loc["2022-05-07":"2022-05-08 01:00"]
    hours = (btc.index - btc.index[0]).total_seconds().to_numpy()
    expected = 77.3 * np.exp(
        np.interp(np.arange(STEPS + 1) * 300.0, hours, np.log(btc.to_numpy() / btc.iloc[0]))
    )
    np.testing.assert_allclose(p["exo_price_LUNA"][0], expected, rtol=1e-6)
    assert np.all(p["exo_price_UST"][0] == np.float32(0.9998))


def test_luna_market_price_is_made_by_the_luna_it_is_sold():
    # LUNA's market price is its exogenous price less the impact on its book: below it once the module's LUNA and
    # the Venus liquidations have been sold there, never above it (nothing buys LUNA in this run).
    p = run().paths
    ratio = p["price_LUNA"][0].astype(float) / p["exo_price_LUNA"][0].astype(float)
    assert np.all(ratio <= 1.0 + 1e-6)
    sale = 261
    assert np.all(np.abs(ratio[:sale] - 1.0) < 1e-6) and ratio[sale + 1 :].min() < 0.99


def test_first_day_pins():
    # Regression pins (python -c "from firesale.engine import simulate; r = simulate('terra-2022-mechanism',
    # n_paths=1, seed=0, n_steps=288)"), not targets.
    r = run()
    m, p = r.metrics.iloc[0], r.paths
    assert float(m["min_price_ratio_UST"]) == pytest.approx(0.8454754817483664, rel=1e-6)
    assert float(p["terra.ust_supply"][0, -1]) == pytest.approx(18596239360.0, rel=1e-6)
    assert float(p["terra.luna_supply"][0, -1]) == pytest.approx(351390208.0, rel=1e-6)
    assert float(m["liquidated_usd_venus"]) == pytest.approx(3636363.65, rel=1e-6)
    assert float(m["bad_debt_usd_terra"]) == 0.0
