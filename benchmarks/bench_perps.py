"""Throughput of PerpVenue's round: 10,000 traders across 5 markets, 288 five-minute steps, in path blocks.

The full configuration of issue 12 is 10,000 paths; the state of 10,000 traders x 5 markets is 400 kB per array per
path, so paths run in blocks (``--block``) and the benchmark times ``--paths`` of them (a sample of blocks; each
block is independent, so the full run's time is ``10,000 / paths`` times this, on one core). The model's round is
driven directly with synthetic geometric-Brownian index paths (80 % annual volatility with a -25 % jump at step 144 on
half the paths, so liquidations, vault takeovers and ADL happen), one round per step plus repeat rounds while any
liquidation happened (as the engine's cascade would), funding every 8 hours.

Run: ``.venv/bin/python benchmarks/bench_perps.py --paths 20 --block 10``; ``--compare-adl`` runs the ADL-rule
comparison of docs/perps.md instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.perps import PerpSpec, PerpState, PerpVenue

N_TRADERS, N_MARKETS, N_STEPS, DT = 10_000, 5, 288, 300.0
FULL_PATHS = 10_000


def venue(seed: int = 0) -> PerpVenue:
    tiers = [
        {"notional_floor_usd": 0.0, "max_leverage": 50.0, "maintenance_margin_rate": 0.01},
        {"notional_floor_usd": 250_000.0, "max_leverage": 20.0, "maintenance_margin_rate": 0.025},
        {"notional_floor_usd": 1_000_000.0, "max_leverage": 10.0, "maintenance_margin_rate": 0.05},
    ]
    markets = {
        f"M{m}-PERP": {"index": f"A{m}", "oracle": f"o{m}", "tiers": tiers, "book_depth_usd": 5e6, "impact": 0.02,
                       "premium": {"mean": 0.0001, "ar": 0.6, "vol": 0.0004}}
        for m in range(N_MARKETS)
    }  # fmt: skip
    spec = PerpSpec.model_validate({
        "name": "bench", "type": "perp", "markets": markets, "insurance_fund_usd": 2e6, "adl_rule": "binance",
        "liquidation_fee_rate": 0.005, "partial_threshold_usd": 100_000.0, "partial_fraction": 0.2,
        "vault": {"enabled": True, "capital_usd": 5e7, "token": "HLP"},
    })  # fmt: skip
    rng = np.random.default_rng(seed)
    entry = np.ones((N_TRADERS, N_MARKETS)) * 100.0
    notional = rng.lognormal(np.log(20_000.0), 1.2, (N_TRADERS, N_MARKETS)) * (
        rng.random((N_TRADERS, N_MARKETS)) < 0.6
    )
    side = np.where(rng.random((N_TRADERS, N_MARKETS)) < 0.5, 1.0, -1.0)
    size = side * notional / entry
    leverage = rng.uniform(2.0, 25.0, N_TRADERS)
    isolated = rng.random((N_TRADERS, N_MARKETS)) < 0.3
    iso = np.where(isolated, notional / leverage[:, None], 0.0)
    cash = np.where(isolated, 0.0, notional).sum(axis=1) / leverage
    return PerpVenue.from_arrays(spec, cash, size, entry, iso, isolated)


def index_paths(n_paths: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sigma = 0.8 * np.sqrt(DT / (365.0 * 86_400.0))
    z = rng.standard_normal((N_STEPS, n_paths, N_MARKETS)) * sigma - 0.5 * sigma**2
    z[N_STEPS // 2, : n_paths // 2] += np.log(0.75)
    return 100.0 * np.exp(np.cumsum(z, axis=0))


def _drive(model: PerpVenue, prices: np.ndarray, counts: list[int] | None = None) -> PerpState:
    n_paths = prices.shape[1]
    state = model.init_state(n_paths)
    ones = np.ones((n_paths, 1))
    cap = LiquidatorCapacity(np.zeros(n_paths, np.int64), np.zeros(n_paths), np.zeros(n_paths), 0.0)
    quotes = SaleQuotes(np.array([0.0]), lambda p: np.zeros((len(p), N_MARKETS + 1, 1)))
    for t in range(N_STEPS):
        oracle = np.concatenate([prices[t], ones], axis=1)
        active = np.ones(n_paths, dtype=bool)
        for _ in range(5):
            flows = model.round(state, RoundInputs((t + 1) * DT, oracle, oracle, active, cap, quotes))
            if counts is not None:
                counts[0] += 1
                counts[1] += int(flows.n_actions.sum())
            active = flows.acted
            if not active.any():
                break
    problems = model.check_conservation(state, {})
    if problems:
        raise RuntimeError(problems)
    return state


def run_block(model: PerpVenue, n_paths: int, seed: int) -> tuple[int, int]:
    counts = [0, 0]
    _drive(model, index_paths(n_paths, seed), counts)
    return counts[0], counts[1]


def compare_adl(n_traders: int = 2000, n_paths: int = 8) -> None:
    """The same book and prices under each ADL rule, with and without the vault: what each takes from winners."""
    global N_TRADERS
    N_TRADERS = n_traders
    base = venue(seed=1)
    prices = index_paths(n_paths, seed=7)
    crash = slice(0, n_paths // 2)
    for rule in ("binance", "dydx", "pro_rata", "none"):
        for vault in (True, False):
            params = dataclasses.replace(base.params, adl_rule=rule, vault=vault)
            model = PerpVenue(
                base.name, params, base.assets[:-1], base.oracles[:-1], "USDC", "", base.sale_venues[:-1],
                base.cash0, base.size0, base.entry, base.iso0, base.isolated, 2e5, 5e6 if vault else 0.0,
                base.premium0, token="HLP",
            )  # fmt: skip
            state = _drive(model, prices)
            last = np.concatenate([prices[-1], np.ones((n_paths, 1))], axis=1)
            a = state.arrays
            print(f"{rule:9s} vault={vault!s:5s} mean over crash paths: insurance fund "
                  f"{a['insurance'][crash].mean():12,.0f}  ADL notional {a['adl_notional'][crash].mean():12,.0f}  "
                  f"ADL transfer {a['adl_transfer'][crash].mean():11,.0f}  socialised "
                  f"{a['socialised'][crash].mean():11,.0f}  vault equity "
                  f"{model.vault_equity(state, last)[crash].mean():12,.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=40, help="paths timed (a sample of the 10,000)")
    parser.add_argument("--block", type=int, default=20, help="paths per block")
    parser.add_argument("--compare-adl", action="store_true", help="compare the ADL rules on a smaller book")
    args = parser.parse_args()
    if args.compare_adl:
        compare_adl()
        return
    model = venue()
    run_block(model, 2, seed=-1 % 2**32)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    rounds = liquidations = 0
    for b in range(0, args.paths, args.block):
        r, n = run_block(model, min(args.block, args.paths - b), seed=b)
        rounds += r
        liquidations += n
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    cells = args.paths * N_TRADERS * N_MARKETS * N_STEPS
    print(f"PerpVenue: {N_TRADERS:,} traders x {N_MARKETS} markets x {N_STEPS} steps, {args.paths} paths in blocks "
          f"of {args.block}: {elapsed:.1f} s wall ({cpu:.1f} s CPU), {rounds:,} block-rounds, "
          f"{liquidations:,} liquidations")  # fmt: skip
    print(
        f"  {args.paths * N_STEPS / elapsed:,.0f} path-steps/s; {cells / elapsed / 1e6:,.1f} M position-steps/s"
    )
    print(
        f"  full {FULL_PATHS:,} paths on this core: {elapsed * FULL_PATHS / args.paths / 3600:,.2f} h (extrapolated)"
    )


if __name__ == "__main__":
    main()
