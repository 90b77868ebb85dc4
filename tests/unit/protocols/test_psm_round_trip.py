"""The PSM's arbitrage sized on both legs: two constant-product pools, a fee, the optimum solved by hand.

The harness below plays the engine's part: it quotes each leg from the pools' own formulas (proceeds of selling
into one pool, cost of buying out of the other, :class:`firesale.protocols.base.SaleQuotes` ``proceeds`` and
``costs``), hands them to the model, then trades the model's ``Flows`` through the same pools and asks again, as the
cascade does, until the model stops.

Pools (USDT is the numeraire, $1):

* **DAI pool** ``x_s`` DAI against ``y_s`` USDT, no fee: selling ``d`` DAI pays :math:`y_s d / (x_s + d)`; buying
  ``h`` DAI costs :math:`y_s h / (x_s - h)`.
* **USDC pool** ``x_r`` USDC against ``y_r`` USDT, no fee, the same formulas.

**Mint (DAI rich).** ``g`` USDC bought, ``sellGem`` gives :math:`(1 - tin) g` DAI, sold:
:math:`\\pi(g) = y_s (1 - tin) g / (x_s + (1 - tin) g) - y_r g / (x_r - g)`. Its derivative is zero where
:math:`(1 - tin) y_s x_s / (x_s + (1 - tin) g)^2 = y_r x_r / (x_r - g)^2`; with :math:`A = \\sqrt{(1 - tin) y_s x_s}`
and :math:`B = \\sqrt{y_r x_r}`, :math:`g^* = (A x_r - B x_s) / (A + (1 - tin) B)`.

**Redeem (DAI cheap).** :math:`(1 + tout) g` DAI bought, ``buyGem`` gives ``g`` USDC, sold:
:math:`\\pi(g) = y_r g / (x_r + g) - y_s (1 + tout) g / (x_s - (1 + tout) g)`, zero derivative where
:math:`B (x_s - (1 + tout) g) = A' (x_r + g)` with :math:`A' = \\sqrt{(1 + tout) y_s x_s}`:
:math:`g^* = (B x_s - A' x_r) / ((1 + tout) B + A')`.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.psm import PegStabilityModule, PsmSpec

#: Fine quote grid (USD at market, $10 apart): the model's size is exact to within one grid step.
GRID = np.linspace(0.0, 2e5, 20_001)
TIN, TOUT = 0.01, 0.001


def _model() -> PegStabilityModule:
    spec = PsmSpec.model_validate({"name": "psm", "type": "psm", "tin": TIN, "tout": TOUT, "reserves": 1e6,
                                   "debt_ceiling": 1e7})  # fmt: skip
    scenario = SimpleNamespace(
        spec=SimpleNamespace(assets=[SimpleNamespace(name=a) for a in ("DAI", "USDC")])
    )
    return PegStabilityModule.build(spec, scenario)


class Pools:
    """The two pools; ``[x, y]`` token reserves against USDT."""

    def __init__(self, dai: tuple[float, float], usdc: tuple[float, float]) -> None:
        self.res = [list(dai), list(usdc)]

    def price(self, r: int) -> float:
        x, y = self.res[r]
        return y / x  # marginal price in USDT = USD

    def sell(self, r: int, d: float) -> float:
        x, y = self.res[r]
        out = y * d / (x + d)
        self.res[r] = [x + d, y - out]
        return out

    def buy(self, r: int, h: float) -> float:
        x, y = self.res[r]
        cost = y * h / (x - h)
        self.res[r] = [x - h, y + cost]
        return cost

    def inputs(self, with_costs: bool = True) -> RoundInputs:
        prices = np.array([[self.price(0), self.price(1)]])
        curves, costs = np.zeros((1, 2, GRID.size)), np.zeros((1, 2, GRID.size))
        for r in range(2):
            x, y = self.res[r]
            amount = GRID / prices[0, r]  # tokens for each market value on the grid
            curves[0, r] = y * amount / (x + amount)
            costs[0, r] = y * amount / np.maximum(x - amount, 1e-9)
        quotes = SaleQuotes(
            GRID, lambda paths, need: curves, (lambda paths, need: costs) if with_costs else None
        )
        return RoundInputs(
            time=0.0, oracle=prices, market=prices, active=np.ones(1, dtype=bool),
            liquidators=LiquidatorCapacity(np.full(1, 100, np.int64), np.full(1, 1e12), np.zeros(1), 0.0),
            quotes=quotes,
        )  # fmt: skip

    def route(self, flows) -> float:  # type: ignore[no-untyped-def]
        """Trade the model's flows through the pools, as the engine would; the arbitrageur's USD profit."""
        gain = 0.0
        for r in range(2):
            if flows.sell[0, r] > 0:
                gain += self.sell(r, float(flows.sell[0, r]))
            if flows.buy[0, r] > 0:
                gain -= self.buy(r, float(flows.buy[0, r]))
        return gain


def _cascade(pools: Pools, model: PegStabilityModule, with_costs: bool = True, rounds: int = 10):
    state = model.init_state(1)
    taken, profits = [], []
    for _ in range(rounds):
        flows = model.round(state, pools.inputs(with_costs))
        if not flows.acted.any():
            break
        taken.append(float(flows.minted[0, 0] + flows.burned[0, 0]))
        profits.append(pools.route(flows))
    return taken, profits, state


def test_mint_leg_sized_on_both_pools_takes_the_hand_optimum_and_stops():
    # DAI pool 1M DAI / 1.1M USDT (DAI at 1.10), USDC pool 1M / 1M (USDC at 1.00), tin = 1%.
    # A = sqrt(0.99 * 1.1e6 * 1e6) = 1,043,551.63; B = 1e6;
    # g* = (A * 1e6 - B * 1e6) / (A + 0.99 B) = 43,551.63e6 / 2,033,551.63 = 21,416.54 USDC.
    a, b = math.sqrt(0.99 * 1.1e6 * 1e6), 1e6
    g_star = (a * 1e6 - b * 1e6) / (a + 0.99 * b)
    assert g_star == pytest.approx(21_416.54, abs=0.01)
    pools = Pools(dai=(1e6, 1.1e6), usdc=(1e6, 1e6))
    taken, profits, state = _cascade(pools, _model())
    # One round trip of g* (to the grid's $10 on either leg), then nothing: the next unit no longer pays.
    assert len(taken) == 1
    assert taken[0] == pytest.approx(g_star, abs=10.0)
    assert state["art"][0] == pytest.approx(1e6 + taken[0])
    # The profit is the hand value pi(g*) = 1.1e6 * 0.99 g* / (1e6 + 0.99 g*) - 1e6 g* / (1e6 - g*) = 953.14
    # (to what the $10 grid leaves on the flat top of the optimum).
    pi = 1.1e6 * 0.99 * g_star / (1e6 + 0.99 * g_star) - 1e6 * g_star / (1e6 - g_star)
    assert pi == pytest.approx(953.14, abs=0.01)
    assert profits[0] == pytest.approx(pi, abs=0.01)


def test_sized_on_the_sale_alone_the_mint_overshoots_and_loses():
    # Without the purchase quote (costs=None: bought at the market), the model sells DAI until the DAI pool's price
    # is back at the band edge 1 / 0.99: x_s + d = sqrt(0.99 * x_s * y_s) = 1,043,551.63 DAI, d = 43,551.63 DAI,
    # g = d / 0.99 = 43,991.55 USDC, twice g*; bought from the USDC pool that round trip loses
    # 1.1e6 d / (1e6 + d) - 1e6 g / (1e6 - g) = 45,907.45 - 46,015.85 = -108.41 USD.
    d = math.sqrt(0.99 * 1e6 * 1.1e6) - 1e6
    g = d / 0.99
    loss = 1.1e6 * d / (1e6 + d) - 1e6 * g / (1e6 - g)
    assert loss == pytest.approx(-108.41, abs=0.01)
    pools = Pools(dai=(1e6, 1.1e6), usdc=(1e6, 1e6))
    state = _model().init_state(1)
    flows = _model().round(state, pools.inputs(with_costs=False))
    assert flows.minted[0, 0] == pytest.approx(g, abs=10.0)
    assert pools.route(flows) == pytest.approx(loss, abs=0.5)


def test_redeem_leg_sized_on_both_pools_takes_the_hand_optimum_and_stops():
    # DAI pool 1M DAI / 0.9M USDT (DAI at 0.90), USDC pool 1M / 1M, tout = 0.1%.
    # A' = sqrt(1.001 * 0.9e6 * 1e6) = 949,157.52; g* = (1e6 * 1e6 - A' * 1e6) / (1.001e6 + A') = 26,070.96 USDC.
    a, b = math.sqrt(1.001 * 0.9e6 * 1e6), 1e6
    g_star = (b * 1e6 - a * 1e6) / (1.001 * b + a)
    assert g_star == pytest.approx(26_070.96, abs=0.01)
    pools = Pools(dai=(1e6, 0.9e6), usdc=(1e6, 1e6))
    taken, profits, state = _cascade(pools, _model())
    assert len(taken) == 1
    assert taken[0] == pytest.approx(g_star, abs=10.0)
    assert state["gem"][0] == pytest.approx(1e6 - taken[0])
    # pi(g*) = 1e6 g* / (1e6 + g*) - 0.9e6 * 1.001 g* / (1e6 - 1.001 g*) = 1,291.83 USD.
    pi = 1e6 * g_star / (1e6 + g_star) - 0.9e6 * 1.001 * g_star / (1e6 - 1.001 * g_star)
    assert pi == pytest.approx(1_291.83, abs=0.01)
    assert profits[0] == pytest.approx(pi, abs=0.01)


def test_a_round_trip_that_does_not_pay_its_gas_is_not_taken():
    # The mint case's optimum pays 953.14 USD; with 1,100 USD of gas per transaction nothing is done.
    pools = Pools(dai=(1e6, 1.1e6), usdc=(1e6, 1e6))
    inputs = pools.inputs()
    inputs.liquidators.gas_usd[:] = 1_100.0
    flows = _model().round(_model().init_state(1), inputs)
    assert flows.n_actions[0] == 0 and flows.minted[0, 0] == 0.0
