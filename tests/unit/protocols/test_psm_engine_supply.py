"""Minted and burned tokens routed by the engine: a PSM in a small world, its stablecoin supply conserved.

USDC drops 10% at 300 s; DAI's exogenous price stays at $1 and its market price is made by its book, where the PSM's
arbitrageurs sell the DAI they mint with USDC (bought at the market: the reserve asset has no venue). Every token the
PSM mints or burns reaches the engine through ``Flows.minted``/``Flows.burned``: the world's issued supply of DAI
(``World.net_issued``) is the PSM's debt less its starting debt, USDC's is zero, and the engine's conservation check
(which hands the models those cumulative flows) passes every step.
"""

from __future__ import annotations

import numpy as np
import pytest

from firesale.agents.liquidators import gas_price_path
from firesale.engine._blueprint import Blueprint
from firesale.engine._world import World
from firesale.exceptions import SimulationError
from firesale.scenario import parse_scenario

TEXT = """
name = "psm-supply"
[simulation]
n_steps = 4
dt = 300
n_paths = 2
[[assets]]
name = "DAI"
price = 1.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "drop"
depth = { USDC = 0.10 }
start = 300
[[venues]]
type = "orderbook"
name = "dai-book"
asset = "DAI"
depth_usd = 1e6
depth_move = 0.01
impact = "linear"
[[oracles]]
name = "dai"
asset = "DAI"
type = "market"
[[oracles]]
name = "usdc"
asset = "USDC"
type = "market"
[[protocols]]
name = "psm"
type = "psm"
stablecoin = "DAI"
reserve_asset = "USDC"
tin = 0.001
tout = 0.001
reserves = 1e8
debt_ceiling = 2e8
stablecoin_venues = ["dai-book"]
[agents]
gas_per_liquidation = 0
min_profit_usd = 1.0
"""


def _world() -> tuple[World, Blueprint]:
    sc = parse_scenario(TEXT, source="psm-supply.toml")
    bp = Blueprint.build(sc)
    n = sc.spec.simulation.n_steps + 1
    relative = np.ones((2, n, 1))  # the market model drives USDC only
    relative[:, 1:, 0] = 0.9  # the shock model's drop: USDC at 90% from the first step on (start = 300 s)
    exo = bp.exogenous_prices(relative)
    return World(bp, exo, gas_price_path(sc, bp.assets, exo, bp.dt), debug=True), bp


def test_the_first_step_mints_the_hand_computed_amount_in_a_few_rounds():
    # Within one step the linear book's log price after a cumulative sale of notional Q is 0.01 Q / 1e6 below $1
    # (permanent and temporary parts add up before any decay). A DAI minted costs 0.90 of USDC and (1 - tin) of it
    # is sold, so minting pays until 0.999 exp(-0.01 Q / 1e6) = 0.90: Q = 1e8 ln(0.999 / 0.9) = 10,436,002 DAI sold,
    # Q / 0.999 = 10,446,448 minted (the engine's fills between its quote grid points leave it within 0.5%).
    w, bp = _world()
    w.step()
    minted = 1e8 * np.log(0.999 / 0.9) / 0.999
    assert minted == pytest.approx(10_446_448, abs=1)
    np.testing.assert_allclose(w.net_issued[:, bp.assets.index("DAI")], minted, rtol=5e-3)
    assert np.all(
        w.accounting.last_rounds == 3
    )  # regression pin: three rounds, then the round trip stops paying


def test_the_dai_the_psm_mints_is_the_supply_the_engine_counts():
    w, bp = _world()
    dai, usdc = bp.assets.index("DAI"), bp.assets.index("USDC")
    for _ in range(4):
        w.step()  # debug: World.check_conservation after every step (it raises on any problem)
        art = w.states[0]["art"] - w.states[0]["art0"]
        np.testing.assert_allclose(w.net_issued[:, dai], art, rtol=1e-12)
        np.testing.assert_allclose(w.out[0]["minted"][:, 0] - w.out[0]["burned"][:, 0], art, rtol=1e-12)
        assert np.all(w.net_issued[:, usdc] == 0.0)
    # Something was minted: with USDC at 0.90 and a 0.1% fee, DAI at $1 on its book is worth minting and selling,
    # until the book's price is back near 0.90 / (1 - 0.001) = 0.9009 (and no further: the PSM does not overshoot).
    assert np.all(w.net_issued[:, dai] > 1e6)
    assert np.all(w.market_prices()[:, dai] == pytest.approx(0.9009, abs=0.002))


def test_a_model_that_misreports_what_it_minted_fails_the_engine_check():
    w, _ = _world()
    w.step()
    w.step()
    w.out[0]["minted"][:, 0] += 1.0  # the engine was told of one DAI the PSM's books do not have
    with pytest.raises(SimulationError, match=r"Flows\.minted"):
        w.check_conservation()
