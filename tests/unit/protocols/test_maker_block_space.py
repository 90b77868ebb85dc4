"""Keepers' block space priced against the step's mined gas price distribution (``[agents.block_space]``), by hand.

Rule (firesale.protocols.base.LiquidatorCapacity.block_slots): miners fill blocks by gas price, so a transaction at
price ``g`` can take the step's mined gas priced below ``g``. With quantiles ``q_j`` at shares ``l_j`` the share
below ``g`` is piecewise linear in the price through (0, 0) and the ``(q_j, l_j)``; the step's actions at ``g`` are
``floor(share(g) * block_gas / gas_per_action)``. The liquidators' ``slots`` are that at the market price; Maker
keepers, who send at their own price, have ``slots + block_slots(g) - block_slots(market)`` left. Under
``gas_strategy = "node"`` their price is the previous step's lowest quantile (go-ethereum's oracle: the 60th
percentile of the lowest price of each of the last 20 blocks, eth/gasprice/gasprice.go).
"""

from __future__ import annotations

import numpy as np
import pytest

from firesale.agents.liquidators import Liquidators
from firesale.exceptions import ScenarioError
from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.maker import MakerModel, MakerSpec
from firesale.scenario import builtin_text, parse_scenario
from firesale.scenario.schema import AgentsSpec

ILK = "ETH-A"
LEVELS = np.array([0.3, 0.6, 0.9, 1.0])
BLOCK_GAS_10MIN = 10_000_000 * 600 / 13.2  # 454,545,454.5 gas: 45.45 blocks of 10M gas


def capacity(quantiles: list[float], market_gwei: float, block_gas: float, gas: float = 300_000.0,
             slots: int | None = None) -> LiquidatorCapacity:  # fmt: skip
    cap = LiquidatorCapacity(
        slots=np.zeros(1, dtype=np.int64), capital_usd=np.full(1, 1e12), gas_usd=np.zeros(1), min_profit_usd=0.0,
        gas_gwei=np.full(1, float(market_gwei)), gas_levels=LEVELS, gas_quantiles=np.array([quantiles], float),
        block_gas=block_gas, gas_per_action=gas,
    )  # fmt: skip
    cap.slots = cap.block_slots(cap.gas_gwei) if slots is None else np.full(1, slots, dtype=np.int64)
    return cap


def test_block_slots_by_hand() -> None:
    """Quantiles 10 / 20 / 40 / 100 gwei at 30 / 60 / 90 / 100 %, 454.5M gas a step, 300,000 gas an action
    (1,515.15 actions for the whole step):
    15 gwei: 0.3 + 0.3 * (15 - 10) / (20 - 10) = 0.45 -> 681.8 -> 681; 5 gwei: 0.3 * 5 / 10 = 0.15 -> 227.3 -> 227;
    40 gwei: 0.9 -> 1,363.6 -> 1,363; 70 gwei: 0.9 + 0.1 * 30 / 60 = 0.95 -> 1,439.4 -> 1,439; 100 and 500 gwei:
    the whole step, 1,515; 0 gwei: nothing."""
    cap = capacity([10, 20, 40, 100], 15, BLOCK_GAS_10MIN)
    got = [int(cap.block_slots(np.array([g]))[0]) for g in (15, 5, 40, 70, 100, 500, 0)]
    assert got == [681, 227, 1363, 1439, 1515, 1515, 0]
    assert cap.share_below(np.array([15.0]))[0] == pytest.approx(0.45)


def test_liquidators_get_the_block_space_of_the_market_price() -> None:
    """Liquidators pay the step's market price: 20 gwei on quantiles 10 / 20 / 40 / 100 is share 0.6,
    0.6 * 454.5M / 300,000 = 909.1 -> 909 actions; the next step, 50 gwei on 30 / 40 / 60 / 80, is
    0.6 + 0.3 * (50 - 40) / (60 - 40) = 0.75 -> 1,136.4 -> 1,136."""
    spec = AgentsSpec.model_validate({
        "gas_series": "firesale-data:gas_10min_2020-03-12", "gas_per_liquidation": 300_000,
        "block_space": {"gas_limit": 10_000_000, "block_time": 13.2,
                        "quantiles": {"30": "a", "60": "b", "90": "c", "100": "d"}},
    })  # fmt: skip
    q = np.array([[[10.0, 20.0, 40.0, 100.0], [30.0, 40.0, 60.0, 80.0]]])
    liq = Liquidators(spec, np.array([[20.0, 50.0]]), -1, quantiles=q, dt=600.0)
    assert liq.capacity(0, np.zeros((1, 1))).slots[0] == 909
    assert liq.capacity(1, np.zeros((1, 1))).slots[0] == 1136


# --- Maker keepers ------------------------------------------------------------------------------------------------


def flip_model(**keepers: object) -> MakerModel:
    """40 vaults of 50 ETH and 5,000 DAI; at $140 each is unsafe (50 * 140 / 1.5 = 4,666.7 < 5,000): one lot of 50
    ETH each (lump 50), tab 5,650; the venues pay 0.99 of market value (6,930 > tab), so keepers bid tab."""
    spec = MakerSpec.model_validate({
        "name": "mcd", "type": "maker",
        "ilks": {ILK: {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9, "chop": 1.13, "max_auctions": 64,
                       "flip": {"lump": 50, "beg": 1.03, "ttl": 600, "tau": 21600}}},
        "vaults": [{"ilk": ILK, "ink": 50, "art": 5000}] * 40,
        "keepers": {"zero_bidder": True, **keepers},
    })  # fmt: skip
    return MakerModel.build(spec, None)


def inputs(t: float, oracle: float, cap: LiquidatorCapacity) -> RoundInputs:
    size = np.array([0.0, 1e12])
    curve = np.zeros((1, 2, 2))
    curve[:, 0, 1] = 0.99e12
    curve[:, 1, 1] = 1e12
    return RoundInputs(
        time=float(t), oracle=np.array([[oracle, 1.0]]), market=np.array([[oracle, 1.0]]), active=np.ones(1, bool),
        liquidators=cap, quotes=SaleQuotes(size_usd=size, proceeds=lambda paths, assets: curve),
    )  # fmt: skip


def step_counts(model: MakerModel, q1: list[float], market1: float) -> tuple[int, int, int]:
    """Step 0 (oracle $200, all safe) on quantiles 10 / 20 / 40 / 100; step 1 (oracle $140) on ``q1``, 20M gas a
    step (66.7 actions of 300,000 gas); deal at t = 1,201. Returns (kicks, keeper wins, zero-bid wins)."""
    s = model.init_state(1)
    model.round(s, inputs(0, 200.0, capacity([10, 20, 40, 100], 15, 20e6)))
    model.round(s, inputs(600, 140.0, capacity(q1, market1, 20e6)))
    kicks = int(s["n_kicks"][0])
    model.round(s, inputs(1201, 140.0, capacity(q1, market1, 20e6)))
    assert int(s["n_deals"][0]) == kicks
    return kicks, kicks - int(s["n_zero"][0]), int(s["n_zero"][0])


def test_node_keepers_get_the_block_space_below_the_last_steps_low_quantile() -> None:
    """gas_strategy "node": the keepers send at the previous step's p30, 10 gwei. Step 1's quantiles are 20 / 30 /
    60 / 200 and its market price 30 gwei (share 0.6: liquidators' slots 0.6 * 20M / 300,000 = 40). At 10 gwei the
    share is 0.3 * 10 / 20 = 0.15: 0.15 * 20M / 300,000 = 10 actions, room 40 + 10 - 40 = 10. The first 10 unsafe
    vaults are bitten, which fills it: no keeper bid is mined, and the zero bidder (no block space) wins all 10."""
    assert step_counts(flip_model(gas_strategy="node"), [20, 30, 60, 200], 30) == (10, 0, 10)


def test_a_keeper_price_above_the_market_buys_more_block_space() -> None:
    """gas_strategy "fixed", 60 gwei on the same step: share 0.9, 0.9 * 20M / 300,000 = 60 actions, room
    40 + 60 - 40 = 60: all 40 vaults are bitten (one lot each), leaving 20 for bids; the first 20 auctions get
    a keeper's bid, the other 20 go to the zero bidder."""
    assert step_counts(flip_model(gas_strategy="fixed", gas_price_gwei=60.0), [20, 30, 60, 200], 30) == (
        40,
        20,
        20,
    )


def test_always_keeps_the_market_price_block_space() -> None:
    """gas_strategy "always" (no gas rule): the keepers have the liquidators' 40 slots: 40 bites, no bid fits, the
    zero bidder wins all 40."""
    assert step_counts(flip_model(gas_strategy="always"), [20, 30, 60, 200], 30) == (40, 0, 40)


# --- scenario keys ------------------------------------------------------------------------------------------------

REPLAY = builtin_text("black-thursday-2020")


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.toml")
    return [line.removeprefix("s.toml: ") for line in info.value.problems]


def _swap(old: str, new: str) -> str:
    assert old in REPLAY, old
    return REPLAY.replace(old, new, 1)


def test_block_space_refuses_max_liquidations_per_step() -> None:
    text = _swap(
        "gas_per_liquidation = 300000", "gas_per_liquidation = 300000\nmax_liquidations_per_step = 75"
    )
    (line,) = _problems(text)
    assert line.startswith("agents.max_liquidations_per_step: is not read with agents.block_space")
    assert line.endswith("got 75")


def test_block_space_needs_known_quantile_columns_and_levels() -> None:
    text = _swap('"90" = "gas_p90_gwei"', '"90" = "gas_p95_gwei"')
    assert _problems(text) == [
        "agents.block_space.quantiles.90: must be a column of firesale-data:gas_10min_2020-03-12, got 'gas_p95_gwei'"
    ]
    (line,) = _problems(_swap('"60" = "gas_p60_gwei"', '"160" = "gas_p60_gwei"'))
    assert "agents.block_space.quantiles" in line and "increasing percentages in (0, 100]" in line


def test_the_replay_validates_and_reads_the_quantiles() -> None:
    sc = parse_scenario(REPLAY, source="s.toml")
    bs = sc.spec.agents.block_space
    assert bs is not None and bs.gas_limit == 10_000_000 and bs.block_time == 13.2
    assert list(bs.quantiles) == ["30", "60", "90", "100"]


def test_a_zero_bid_is_mined_only_when_its_price_buys_any_block_space() -> None:
    """The zero bidder takes no keeper block space but its bid is mined only when its price buys at least one
    action: at 5 gwei on step 1's quantiles (20 / 30 / 60 / 200) the share is 0.3 * 5 / 20 = 0.075, 0.075 * 20M /
    300,000 = 5 actions: all 40 zero bids land; at 0.1 gwei, 0.0015 * 20M / 300,000 = 0.1 actions: none does."""
    for gwei, expect in ((5.0, 40), (0.1, 0)):
        model = flip_model(gas_strategy="always", zero_bidder_gas_gwei=gwei)
        s = model.init_state(1)
        model.round(s, inputs(0, 200.0, capacity([10, 20, 40, 100], 15, 20e6)))
        model.round(s, inputs(600, 140.0, capacity([20, 30, 60, 200], 30, 20e6)))
        assert int(s["n_kicks"][0]) == 40
        assert int((s["a_guy"] == 1).sum()) == expect  # _GUY_ZERO


def test_block_space_needs_a_gas_series_and_gas_per_action() -> None:
    assert _problems(_swap('gas_series = "firesale-data:gas_10min_2020-03-12"\n', "")) == [
        "agents.gas_series: is required by agents.block_space (it reads the series' quantile columns), got None"
    ]
    assert _problems(_swap("gas_per_liquidation = 300000", "gas_per_liquidation = 0")) == [
        "agents.gas_per_liquidation: must be positive with agents.block_space, got 0"
    ]
