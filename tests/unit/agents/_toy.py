"""The tiny book of tests/unit/policies/test_policy_runs.py, with room for agents and reserve keys.

WETH falls in a straight line from $2,000 by 5 % of its start per five-minute step for ten steps, then holds at
$1,000: p(k) = 2000 (1 - 0.05 k). Oracles report the market price; the only venue is a book so deep that sales move
nothing measurable; gas is free. Aave v3.0 rules, close factor 1 (a liquidation repays all of the debt), WETH's
threshold 0.83, bonus 5 %:

- A: 1 WETH against 1,500 USDC; health factor 0.83 p / 1500: 1.1067 at the start, 1.0513 at step 1 (p = 1900),
  0.996 at step 2 (p = 1800): liquidated at step 2 when nobody reacts.
- B: 1 WETH against 1,200 USDC; health factor 0.83 p / 1200: 1.3142 at step 1, first below 1 at step 6.
"""

from __future__ import annotations

import numpy as np

from firesale.agents.liquidators import gas_price_path
from firesale.engine._blueprint import Blueprint
from firesale.engine._world import World
from firesale.scenario import parse_scenario

WORLD = """
name = "agents-toy"
[simulation]
n_steps = {n_steps}
dt = 300
n_paths = {n_paths}
seed = 1
record = ["lender.*"]
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
start = 0
duration = 3000
[[venues]]
type = "orderbook"
name = "book"
asset = "WETH"
depth_usd = 1e15
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
close_factor = 1.0
accounts = [
  {{ account = "A", asset = "WETH", collateral_amount = 1.0 }},
  {{ account = "A", asset = "USDC", debt_amount = 1500.0 }},
  {{ account = "B", asset = "WETH", collateral_amount = 1.0 }},
  {{ account = "B", asset = "USDC", debt_amount = 1200.0 }},
]
[protocols.reserves.WETH]
ltv = 0.80
liquidation_threshold = 0.83
liquidation_bonus = 0.05
oracle = "eth"
venues = ["book"]
{weth}
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.78
liquidation_bonus = 0.045
oracle = "usd"
{usdc}
[agents]
gas_price_gwei = 0.0
"""


def price(k: int) -> float:
    """WETH at step k."""
    return 2000.0 * (1 - 0.05 * min(k, 10))


def scenario(agents: str = "", n_steps: int = 3, n_paths: int = 2, weth: str = "", usdc: str = ""):  # type: ignore[no-untyped-def]
    text = WORLD.format(n_steps=n_steps, n_paths=n_paths, weth=weth, usdc=usdc) + agents
    return parse_scenario(text, source="toy.toml")


def world(agents: str = "", n_steps: int = 3, weth: str = "", usdc: str = ""):  # type: ignore[no-untyped-def]
    """A World of two paths on the toy book, conservation checked after every step."""
    sc = scenario(agents, n_steps, weth=weth, usdc=usdc)
    bp = Blueprint.build(sc)
    model = sc.spec.market.build(["WETH"], sc.base_dir)
    exo = bp.exogenous_prices(model.simulate(2, n_steps, 300.0, np.random.default_rng(0)))
    return World(bp, exo, gas_price_path(sc, bp.assets, exo, bp.dt), debug=True)
