"""The benchmark world of issue #18 written as an idiomatic Mesa agent-based model, for comparison only.

One ``mesa.Model`` per Monte Carlo path, ``mesa.Agent`` subclasses for what acts (borrowers' accounts, the lending
market, the liquidator, the off-chain order book, the push oracles), scalar Python per agent, Mesa's ``AgentSet``
(``agents_by_type[...].do``, ``.select``) to act on them and a ``DataCollector`` for the bad debt of every step: the
way a researcher would write the world before vectorizing it. ``benchmarks/test_bench_mesa.py`` runs it and
firesale on the same exogenous price and gas paths (firesale's own, for the seed) and asserts identical per-path
results.

The world (:data:`WORLD_TOML`): one Aave v3.0 market with 300 WETH-collateral USDC borrowers, WETH and USDC on a
Merton jump-diffusion (hourly steps for a day), liquidators who sell seized WETH into one off-chain order book with
square-root impact (half of it permanent, the rest decaying), two Chainlink-style push oracles (deviation threshold
and heartbeat) reading the market, and liquidators with capital, block space, gas and a profit floor. Within a step
the cascade runs round after round (liquidations, sales, oracle updates on deviation) until a round liquidates
nothing. There are no pools, so no arbitrage.

The mechanics are the ones firesale documents (each written here in scalar form, not imported):

- health factor and ``liquidationCall`` (aave/aave-v3-core ``contracts/protocol/libraries/logic/GenericLogic.sol``,
  ``LiquidationLogic.sol`` v3.0.2): 50 % close factor above health factor 0.95, all of the debt at or below it;
  seized collateral = repaid value times 1 + bonus at oracle prices, capped at the balance; the protocol keeps
  ``liquidation_protocol_fee`` of the bonus part;
- the liquidator's decision (docs/architecture.md, "The liquidator's decision"): each account's most profitable
  (collateral, debt) pair on the venue's real quote (a proceeds curve on a grid of sale sizes, interpolated
  linearly), taken in order of stand-alone profit, each re-judged on the quote after the round's earlier sales,
  capital buying a partial ``debtToCover`` when short, skipped (not stopped) when it does not fit or no longer pays;
- the order book (firesale.liquidity.orderbook's docstring): log price ``perm + (1 - permanent) g(v)`` below the
  exogenous price, ``g(v) = sign(v) depth_move (|v| / depth) ** exponent``, a trade filling at the mean of the log
  impacts before and after it, ``v`` halving every ``half_life``; a sale is cut in four slices;
- push oracles (Chainlink data-feed docs): a new answer when the source moved by more than the deviation threshold,
  or at a step start once the heartbeat has passed;
- bad debt: each account's debt value not covered by its collateral value, at market prices, summed.

Float expressions are written in the order firesale evaluates them, so results agree to the last bit where both
use the same elementary functions (see the benchmark's docstring for where they may not).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
import pytest

# Optional (pip install -e '.[bench]'): without it this module, and the benchmark that imports it, are skipped.
mesa = pytest.importorskip("mesa", reason="the Mesa comparison needs mesa: pip install -e '.[bench]'")

__all__ = ["WORLD_TOML", "CascadeWorld", "WorldParams", "run_paths"]

#: The benchmark world as a firesale scenario (parsed by the benchmark; the Mesa model gets the same numbers).
WORLD_TOML = """
name = "mesa-bench"
description = "Benchmark world of issue #18: one Aave v3.0 market, one order book, push oracles, jumps"

[simulation]
n_steps = 24          # a day of hourly steps
dt = 3600
n_paths = 256
seed = 1
record = ["bad_debt"]

[[assets]]
name = "WETH"
price = 2000.0

[[assets]]
name = "USDC"
price = 1.0

[market]
model = "merton"
vol = { WETH = 1.2, USDC = 0.02 }
jump_intensity = 120.0
jump_mean = { WETH = -0.12 }
jump_std = { WETH = 0.06 }

[[venues]]
type = "orderbook"
name = "cex-weth"
asset = "WETH"
depth_usd = 3e6
impact = "sqrt"
permanent = 0.5
half_life = 1800

[[oracles]]
name = "eth-usd"
asset = "WETH"
type = "push"
heartbeat = 3600
deviation_bps = 50

[[oracles]]
name = "usdc-usd"
asset = "USDC"
type = "push"
heartbeat = 86400
deviation_bps = 25

[[protocols]]
name = "lender"
type = "aave_v3"
close_factor = 0.5
reserve_usd = 100000

[protocols.generate]
n_accounts = 300
collateral = "WETH"
debt = "USDC"
total_debt_usd = 3e8
hf_min = 1.02
hf_max = 1.6
seed = 3

[protocols.reserves.WETH]
ltv = 0.80
liquidation_threshold = 0.83
liquidation_bonus = 0.05
liquidation_protocol_fee = 0.10
oracle = "eth-usd"
venues = ["cex-weth"]

[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.78
liquidation_bonus = 0.045
liquidation_protocol_fee = 0.10
oracle = "usdc-usd"

[agents]
gas_per_liquidation = 500000
gas_price_gwei = 30
gas_volatility_sensitivity = 5
liquidator_capital_usd = 3e7
max_liquidations_per_step = 60
min_profit_usd = 50
"""

#: A sale is cut into this many slices (firesale.liquidity.venues.SALE_SLICES).
SALE_SLICES = 4
#: The exponential the order book uses. The C library's, as idiomatic scalar code has it; it and NumPy's SIMD kernel
#: (firesale's) can round differently in the last bit, so the benchmark also swaps in NumPy's to check bit-identity.
exp = math.exp


@dataclass(frozen=True)
class WorldParams:
    """Plain numbers of the world (no arrays): what the Mesa model is built from.

    ``assets`` in reserve order; per account row ``collateral``, ``debt`` (tokens) and ``lt`` (thresholds); per
    reserve ``bonus``, ``protocol_fee``, ``oracle`` (index into ``oracles``) and ``book`` (index into ``books``, -1
    for none). ``oracles``: (asset index, heartbeat s, deviation fraction); ``books``: (asset index, depth_usd,
    depth_move, exponent, permanent, half_life).
    """

    dt: float
    n_steps: int
    max_rounds: int
    assets: tuple[str, ...]
    collateral: tuple[tuple[float, ...], ...]
    debt: tuple[tuple[float, ...], ...]
    lt: tuple[tuple[float, ...], ...]
    bonus: tuple[float, ...]
    protocol_fee: tuple[float, ...]
    close_factor: float
    close_factor_hf_threshold: float
    oracle: tuple[int, ...]
    book: tuple[int, ...]
    oracles: tuple[tuple[int, float, float], ...]
    books: tuple[tuple[int, float, float, float, float, float], ...]
    capital_usd: float
    slots: int
    gas_per_liquidation: float
    min_profit_usd: float
    sale_sizes_usd: tuple[float, ...]


# ----- agents ---------------------------------------------------------------------------------------------------
class Account(mesa.Agent):
    """A borrower's position: collateral and debt per reserve (token units), its liquidation thresholds."""

    def __init__(
        self,
        model: CascadeWorld,
        collateral: tuple[float, ...],
        debt: tuple[float, ...],
        lt: tuple[float, ...],
    ) -> None:
        super().__init__(model)
        self.collateral = list(collateral)
        self.debt = list(debt)
        self.lt = list(lt)

    def health_terms(self, prices: list[float]) -> tuple[float, float]:
        """Threshold-weighted collateral value and debt value: their ratio is the health factor."""
        num = 0.0
        den = 0.0
        for r in range(len(prices)):
            num += self.collateral[r] * prices[r] * self.lt[r]
            den += self.debt[r] * prices[r]
        return num, den

    def liquidatable(self, prices: list[float]) -> bool:
        num, den = self.health_terms(prices)
        return den > 0.0 and num > 0.0 and num / den < 1.0

    def shortfall_usd(self, prices: list[float]) -> float:
        """Debt value not covered by collateral value (0 when solvent)."""
        c = 0.0
        d = 0.0
        for r in range(len(prices)):
            c += self.collateral[r] * prices[r]
            d += self.debt[r] * prices[r]
        return d - c if d > c else 0.0


class OrderBook(mesa.Agent):
    """An off-chain market for one asset against USD, with permanent and decaying square-root impact."""

    def __init__(
        self, model: CascadeWorld, asset: int, depth_usd: float, depth_move: float, exponent: float,
        permanent: float, half_life: float,
    ) -> None:  # fmt: skip
        super().__init__(model)
        self.asset = asset
        self.depth_usd, self.depth_move, self.exponent = depth_usd, depth_move, exponent
        self.permanent, self.half_life = permanent, half_life
        self.v = 0.0  # recent net selling, USD notional
        self.perm = 0.0  # permanent log-price offset

    def _g(self, v: float) -> float:
        x = abs(v) / self.depth_usd
        # NumPy's power evaluates ** 0.5 as a square root; so does this, to agree to the last bit.
        shape = math.sqrt(x) if self.exponent == 0.5 else x**self.exponent
        sign = 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)
        return sign * self.depth_move * shape

    def log_impact(self) -> float:
        return self.perm + (1.0 - self.permanent) * self._g(self.v)

    def decay(self, dt: float) -> None:
        self.v *= 0.5 ** (dt / self.half_life)

    def price(self, exo_price: float) -> float:
        return exo_price * exp(-self.log_impact())

    def trade(self, q_usd: float) -> float:
        """Sell notional ``q_usd`` (negative buys); returns the fill's discount on the pre-impact price."""
        before = self.log_impact()
        g0 = self._g(self.v)
        self.v += q_usd
        g1 = self._g(self.v)
        self.perm += self.permanent * (g1 - g0)
        after = self.log_impact()
        return exp(-0.5 * (before + after))

    def sell(self, amount: float, exo_price: float) -> float:
        """Sell ``amount`` tokens in slices; USD proceeds."""
        proceeds = 0.0
        chunk = amount / SALE_SLICES
        for _ in range(SALE_SLICES):
            proceeds += chunk * exo_price * self.trade(chunk * exo_price)
        return proceeds

    def proceeds_curve(
        self, sizes_usd: tuple[float, ...], exo_price: float, market_price: float
    ) -> list[float]:
        """Cumulative USD proceeds of selling ``sizes_usd`` (at market) increment by increment, from the book's
        current state, without trading: the quote a liquidator gets."""
        ratio = exo_price / market_price
        base = self.perm - self.permanent * self._g(self.v)
        notional = [s * ratio for s in sizes_usd]
        impact = [base + self._g(self.v + q) for q in notional]
        out = [0.0]
        total = 0.0
        for s in range(1, len(notional)):
            total += (notional[s] - notional[s - 1]) * exp(-0.5 * (impact[s - 1] + impact[s]))
            out.append(total)
        return out


class PushOracle(mesa.Agent):
    """A Chainlink-style push feed: updates on deviation any time, on heartbeat at step starts."""

    def __init__(self, model: CascadeWorld, asset: int, heartbeat: float, deviation: float) -> None:
        super().__init__(model)
        self.asset, self.heartbeat, self.deviation = asset, heartbeat, deviation
        self.answer = 0.0
        self.last_update = 0.0

    def start(self, market: list[float]) -> None:
        self.answer = market[self.asset]
        self.last_update = 0.0

    def poke(self, time: float, market: list[float], step_start: bool) -> None:
        source = market[self.asset]
        moved = abs(source - self.answer) > self.deviation * self.answer
        if moved or (step_start and time - self.last_update >= self.heartbeat):
            self.answer = source
            self.last_update = time


class LendingMarket(mesa.Agent):
    """The Aave v3.0 market: its accounts, reserves' parameters and ``liquidationCall``."""

    def __init__(self, model: CascadeWorld, params: WorldParams) -> None:
        super().__init__(model)
        self.p = params
        self.accounts = [
            Account(model, c, d, lt)
            for c, d, lt in zip(params.collateral, params.debt, params.lt, strict=True)
        ]

    def oracle_prices(self) -> list[float]:
        oracles = self.model.oracles
        return [oracles[k].answer for k in self.p.oracle]

    def max_liquidation(
        self, acc: Account, c: int, d: int, hf: float, oracle: list[float]
    ) -> tuple[float, float]:
        """The largest ``debtToCover`` of reserve ``d`` against collateral ``c`` and the collateral it seizes."""
        b = self.p.bonus[c]
        cover = acc.debt[d] * (1.0 if hf <= self.p.close_factor_hf_threshold else self.p.close_factor)
        seize = cover * oracle[d] * (1.0 + b) / oracle[c]
        if seize > acc.collateral[c]:
            seize = acc.collateral[c]
            cover = acc.collateral[c] * oracle[c] / (oracle[d] * (1.0 + b))
        return cover, seize

    def fee(self, seize: float, c: int) -> float:
        b = self.p.bonus[c]
        return (seize - seize / (1.0 + b)) * self.p.protocol_fee[c]

    def liquidation_call(self, acc: Account, c: int, d: int, cover: float, seize: float) -> None:
        acc.collateral[c] -= seize
        acc.debt[d] -= cover

    def bad_debt_usd(self, market: list[float]) -> float:
        total = 0.0
        for acc in self.accounts:
            total += acc.shortfall_usd(market)
        return total


def _curve_at(sizes: tuple[float, ...], curve: list[float], x: float) -> float:
    """Linear interpolation of ``curve`` on grid ``sizes`` at ``x``, the last segment extended beyond the grid."""
    k = min(max(bisect.bisect_right(sizes, x) - 1, 0), len(sizes) - 2)
    return curve[k] + (curve[k + 1] - curve[k]) * (x - sizes[k]) / (sizes[k + 1] - sizes[k])


class Liquidator(mesa.Agent):
    """The liquidators: capital, block space and gas per step; liquidate what pays on the venues' real quotes."""

    def __init__(self, model: CascadeWorld, params: WorldParams) -> None:
        super().__init__(model)
        self.p = params
        self.slots = 0
        self.capital = 0.0
        self.gas_usd = 0.0
        self.n_liquidations = 0
        self.liquidated_usd = 0.0
        self.profit_usd = 0.0  # sale proceeds less the debt bought and gas

    def new_step(self, gas_gwei: float, market: list[float], gas_asset: int) -> None:
        self.slots = self.p.slots
        self.capital = self.p.capital_usd
        self.gas_usd = self.p.gas_per_liquidation * gas_gwei * 1e-9 * market[gas_asset]

    def quote(self, c: int, market: list[float]) -> list[float]:
        k = self.p.book[c]
        if k < 0:
            return list(self.p.sale_sizes_usd)  # no venue: sold at market without impact
        return self.model.books[k].proceeds_curve(self.p.sale_sizes_usd, self.model.exo[c], market[c])

    def liquidation_round(self, lending: LendingMarket, market: list[float]) -> int:
        """One round: plan every liquidatable account, execute what pays, sell the collateral. Returns the count."""
        p = self.p
        sizes = p.sale_sizes_usd
        oracle = lending.oracle_prices()
        # Mesa's AgentSet keeps the order agents were created in: account order, as the protocol's book.
        below = list(self.model.agents_by_type[Account].select(lambda acc: acc.liquidatable(oracle)))
        if not below:
            return 0
        n_res = len(oracle)
        curves: dict[int, list[float]] = {}
        plans = []  # (-profit, position in account order, account, c, d, cover, seize)
        for i, acc in enumerate(below):
            num, den = acc.health_terms(oracle)
            hf = num / den
            best = None
            best_profit = -math.inf
            for c in range(n_res):
                if not (acc.lt[c] > 0.0 and acc.collateral[c] > 0.0):
                    continue
                if c not in curves:
                    curves[c] = self.quote(c, market)
                for d in range(n_res):
                    if not acc.debt[d] > 0.0:
                        continue
                    cover, seize = lending.max_liquidation(acc, c, d, hf, oracle)
                    sale = (seize - lending.fee(seize, c)) * market[c]
                    profit = _curve_at(sizes, curves[c], sale) - cover * market[d] - self.gas_usd
                    if profit > best_profit:
                        best_profit = profit
                        best = (profit, c, d, cover, seize)
            if best is not None:
                plans.append((-best[0], i, acc, *best[1:]))
        plans.sort(key=lambda plan: plan[0])  # stable: account order on ties
        taken: list[tuple[int, Account, int, int, float, float, float]] = []
        sold = [0.0] * n_res
        spent = 0.0
        for _, i, acc, c, d, cover, seize in plans:
            if len(taken) + 1 > self.slots:
                continue
            cost = cover * market[d]
            left = self.capital - spent
            if cost > left:
                if not left > 0.0:
                    continue
                cover = cover * (left / cost)
                seize = cover * oracle[d] * (1.0 + p.bonus[c]) / oracle[c]
                cost = cover * market[d]
            fee = lending.fee(seize, c)
            sale = (seize - fee) * market[c]
            got = _curve_at(sizes, curves[c], sold[c] + sale) - _curve_at(sizes, curves[c], sold[c])
            if got - cost - self.gas_usd < p.min_profit_usd:
                continue
            sold[c] += sale
            spent += cost
            taken.append((i, acc, c, d, cover, seize, fee))
        if not taken:
            return 0
        seized = [0.0] * n_res
        repaid = [0.0] * n_res
        for _, acc, c, d, cover, seize, fee in sorted(taken, key=lambda x: x[0]):  # executed in account order
            lending.liquidation_call(acc, c, d, cover, seize)
            seized[c] += seize - fee
            repaid[d] += cover
        self.slots -= len(taken)
        self.capital -= spent
        self.n_liquidations += len(taken)
        repaid_usd = 0.0
        for r in range(n_res):
            repaid_usd += repaid[r] * market[r]
        self.liquidated_usd += repaid_usd
        # The seized collateral is sold on its book and the repaid debt bought on its book (a squeeze); an asset
        # without one trades at the market price.
        proceeds = 0.0
        cost = 0.0
        exo = self.model.exo
        for r in range(n_res):
            k = p.book[r]
            if seized[r] > 0.0:
                proceeds += seized[r] * market[r] if k < 0 else self.model.books[k].sell(seized[r], exo[r])
            if repaid[r] > 0.0:
                cost += (
                    repaid[r] * market[r]
                    if k < 0
                    else repaid[r] * exo[r] * self.model.books[k].trade(-repaid[r] * exo[r])
                )
        self.profit_usd += proceeds - cost - len(taken) * self.gas_usd
        return len(taken)


# ----- the model --------------------------------------------------------------------------------------------------
class CascadeWorld(mesa.Model):
    """One Monte Carlo path of the world: ``exo`` (n_steps + 1) x assets USD prices, ``gas_gwei`` per step."""

    def __init__(
        self, params: WorldParams, exo_path: list[list[float]], gas_gwei: list[float], seed: int = 0
    ) -> None:
        super().__init__(rng=seed)  # nothing here is random; the seed only fixes Mesa's generators
        self.params = params
        self.exo_path, self.gas_gwei = exo_path, gas_gwei
        self.t = 0
        self.exo = list(exo_path[0])
        self.books = [OrderBook(self, *b) for b in params.books]
        self.oracles = [PushOracle(self, *o) for o in params.oracles]
        self.lending = LendingMarket(self, params)
        self.liquidator = Liquidator(self, params)
        self.gas_asset = params.assets.index("WETH") if "WETH" in params.assets else -1
        self.max_rounds_seen = 0
        self.market = self.market_prices()
        self.agents_by_type[PushOracle].do("start", self.market)
        # What firesale's accounting records every step: the system's bad debt at market prices.
        self.datacollector = mesa.DataCollector(
            model_reporters={"bad_debt_usd": lambda m: m.lending.bad_debt_usd(m.market)}
        )

    def market_prices(self) -> list[float]:
        """Each asset's exogenous price less its order book's impact."""
        market = list(self.exo)
        for book in self.books:
            market[book.asset] = book.price(self.exo[book.asset])
        return market

    def step(self) -> None:
        p = self.params
        self.t += 1
        time = self.t * p.dt
        self.exo = list(self.exo_path[self.t])
        self.agents_by_type[OrderBook].do("decay", p.dt)
        market = self.market_prices()
        self.agents_by_type[PushOracle].do("poke", time, market, True)
        gas = self.gas_gwei[self.t] if self.gas_asset >= 0 else 0.0
        self.liquidator.new_step(gas, market, max(self.gas_asset, 0))
        rounds = 0
        for _ in range(p.max_rounds):  # the cascade: until a round liquidates nothing
            if self.liquidator.liquidation_round(self.lending, market) == 0:
                break
            rounds += 1
            market = self.market_prices()
            self.agents_by_type[PushOracle].do("poke", time, market, False)
        self.max_rounds_seen = max(self.max_rounds_seen, rounds)
        self.market = market
        self.datacollector.collect(self)

    def results(self) -> dict[str, float]:
        bad_debt = self.datacollector.model_vars["bad_debt_usd"]
        first = next((t for t, b in enumerate(bad_debt, start=1) if b > 1e-6), -1)
        return {
            "bad_debt_usd": self.lending.bad_debt_usd(self.market),
            "bad_debt_peak_usd": max([0.0, *bad_debt]),
            "first_bad_debt_step": first,
            "n_liquidations": self.liquidator.n_liquidations,
            "liquidated_usd": self.liquidator.liquidated_usd,
            "liquidator_profit_usd": self.liquidator.profit_usd,
            "max_cascade_rounds": self.max_rounds_seen,
        }


def run_paths(params: WorldParams, exo: np.ndarray, gas_gwei: np.ndarray) -> list[dict[str, float]]:
    """Run every path, one model each.

    ``exo``: exogenous USD prices, (n_paths, n_steps + 1, n_assets); ``gas_gwei``: (n_paths, n_steps + 1).
    """
    out = []
    for path_exo, path_gas in zip(exo, gas_gwei, strict=True):
        model = CascadeWorld(params, path_exo.tolist(), path_gas.tolist())
        for _ in range(params.n_steps):
            model.step()
        out.append(model.results())
    return out
