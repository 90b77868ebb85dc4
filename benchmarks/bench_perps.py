"""Throughput of PerpVenue's round: 10,000 traders across 5 markets, 288 five-minute steps, in path blocks.

The full configuration of issue 12 is 10,000 paths; the state of 10,000 traders x 5 markets is 400 kB per array per
path, so paths run in blocks (``--block``) and the benchmark times ``--paths`` of them (a sample of blocks; each
block is independent, so the full run's time is ``10,000 / paths`` times this, on one core). The model's round is
driven directly with synthetic geometric-Brownian index paths (80 % annual volatility with a -25 % jump at step 144 on
half the paths, so liquidations, vault takeovers and ADL happen), one round per step plus repeat rounds while any
liquidation happened (as the engine's cascade would), funding every 8 hours.

Kernels: ``--kernel both`` (the default) times the NumPy reference and the Numba kernels
(:mod:`firesale.protocols._perp_kernels`) on the same blocks in one run, block by block in turn, so the ratio is
measured under the same machine load; the two final states are checked bit-identical. ``--threads`` sets Numba's
threads (default 1: one core, like the NumPy round). ``--steps`` runs the first steps only (the crash at step 144
is then missing unless ``--steps`` > 144). The full configuration's time is extrapolated linearly from the sample,
``elapsed x (10,000 / paths) x (288 / steps)``, and printed as such. ``--vol`` sets the paths' volatility (a calm
market, ``--vol 0.2 --steps 144``, shows the bound skipping whole paths).

Run: ``.venv/bin/python benchmarks/bench_perps.py --paths 10 --block 10``; ``--compare-adl`` runs the ADL-rule
comparison of docs/perps.md instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numba
import numpy as np

from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.perps import PerpSpec, PerpState, PerpVenue

N_TRADERS, N_MARKETS, N_STEPS, DT = 10_000, 5, 288, 300.0
FULL_PATHS = 10_000


def venue(seed: int = 0, kernel: str = "numba") -> PerpVenue:
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
    return PerpVenue.from_arrays(spec, cash, size, entry, iso, isolated, kernel=kernel)


def index_paths(n_paths: int, seed: int, vol: float = 0.8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sigma = vol * np.sqrt(DT / (365.0 * 86_400.0))
    z = rng.standard_normal((N_STEPS, n_paths, N_MARKETS)) * sigma - 0.5 * sigma**2
    z[N_STEPS // 2, : n_paths // 2] += np.log(0.75)
    return 100.0 * np.exp(np.cumsum(z, axis=0))


def _drive(model: PerpVenue, prices: np.ndarray, counts: list[int] | None = None) -> PerpState:
    n_paths, n_steps = prices.shape[1], prices.shape[0]
    state = model.init_state(n_paths)
    ones = np.ones((n_paths, 1))
    cap = LiquidatorCapacity(np.zeros(n_paths, np.int64), np.zeros(n_paths), np.zeros(n_paths), 0.0)
    quotes = SaleQuotes(np.array([0.0]), lambda p, needed: np.zeros((len(p), N_MARKETS + 1, 1)))
    for t in range(n_steps):
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


def run_block(
    model: PerpVenue, n_paths: int, seed: int, n_steps: int = N_STEPS, vol: float = 0.8
) -> tuple[int, int, PerpState]:
    """Block-rounds, liquidations and the final state of ``n_paths`` paths over the first ``n_steps`` steps."""
    counts = [0, 0]
    state = _drive(model, index_paths(n_paths, seed, vol)[:n_steps], counts)
    return counts[0], counts[1], state


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
    parser.add_argument("--paths", type=int, default=10, help="paths timed (a sample of the 10,000)")
    parser.add_argument("--block", type=int, default=10, help="paths per block")
    parser.add_argument("--steps", type=int, default=N_STEPS, help="steps run (the first ones; of 288)")
    parser.add_argument("--vol", type=float, default=0.8, help="annual volatility of the index paths")
    parser.add_argument("--kernel", choices=("both", "numpy", "numba"), default="both")
    parser.add_argument("--threads", type=int, default=1, help="Numba threads (default 1: one core)")
    parser.add_argument("--compare-adl", action="store_true", help="compare the ADL rules on a smaller book")
    args = parser.parse_args()
    if args.compare_adl:
        compare_adl()
        return
    numba.set_num_threads(args.threads)
    kernels = ("numpy", "numba") if args.kernel == "both" else (args.kernel,)
    models = {k: venue(kernel=k) for k in kernels}
    for model in models.values():
        run_block(model, 2, seed=-1 % 2**32, n_steps=4)  # warm-up (compiles or loads the kernels)
    wall = dict.fromkeys(kernels, 0.0)
    cpu = dict.fromkeys(kernels, 0.0)
    rounds = dict.fromkeys(kernels, 0)
    liquidations = dict.fromkeys(kernels, 0)
    skipped = checks = 0
    for b in range(0, args.paths, args.block):
        n = min(args.block, args.paths - b)
        finals = {}
        for k in kernels:  # the same block under each kernel in turn: the same machine load for both
            t0, c0 = time.perf_counter(), time.process_time()
            r, q, finals[k] = run_block(models[k], n, seed=b, n_steps=args.steps, vol=args.vol)
            wall[k] += time.perf_counter() - t0
            cpu[k] += time.process_time() - c0
            rounds[k] += r
            liquidations[k] += q
        if "numba" in finals:
            skipped += int(finals["numba"]["screen_skipped"].sum())
            checks += int(finals["numba"]["n_rounds"].sum()) * N_TRADERS
        if len(finals) == 2:
            for key, v in finals["numpy"].arrays.items():
                if not key.startswith("screen_") and not np.array_equal(
                    finals["numba"][key], v, equal_nan=True
                ):
                    raise RuntimeError(f"kernels differ on {key} in block {b}")
    scale = FULL_PATHS / args.paths * N_STEPS / args.steps
    print(f"PerpVenue: {N_TRADERS:,} traders x {N_MARKETS} markets, {args.paths} paths x {args.steps} steps in blocks "
          f"of {args.block}, volatility {args.vol:g}, Numba threads {args.threads}")  # fmt: skip
    for k in kernels:
        print(f"  {k:5s}: {wall[k]:7.1f} s wall ({cpu[k]:7.1f} s CPU), {rounds[k]:,} block-rounds, "
              f"{liquidations[k]:,} liquidations; {args.paths * args.steps / wall[k]:8,.0f} path-steps/s wall "
              f"({args.paths * args.steps / cpu[k]:8,.0f} on CPU time); full {FULL_PATHS:,} paths x {N_STEPS} steps "
              f"EXTRAPOLATED: {wall[k] * scale / 3600:6.2f} h wall, {cpu[k] * scale / 3600:6.2f} h CPU")  # fmt: skip
    if "numba" in kernels:
        print(
            f"  numba: the bound skipped {skipped:,} of {checks:,} trader checks ({skipped / max(checks, 1):.1%})"
        )
    if len(kernels) == 2:
        print(f"  speed-up numba / numpy (same run, same blocks, final states bit-identical): "
              f"{wall['numpy'] / wall['numba']:.1f}x wall, {cpu['numpy'] / cpu['numba']:.1f}x CPU")  # fmt: skip


if __name__ == "__main__":
    main()
