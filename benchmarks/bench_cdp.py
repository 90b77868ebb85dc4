"""Throughput of the Maker model's round: 10,000 vaults, 288 ten-minute steps, 10,000 paths (measure once).

Drives :meth:`firesale.protocols.maker.MakerModel.round` directly with a synthetic ETH price path (a day of ten-minute
steps with a crash of up to 50 % in the first six hours and a partial recovery, different on every path), half the
vaults on a Flipper ilk (March 2020 rules, a zero bidder, keepers failing 30 % of the time) and half on a Clipper ilk,
square-root-impact venues, and per-step keeper capital. Paths run in blocks of ``--block`` (the engine's fixed-size
path blocks), so memory stays at a few hundred MB. Prints vault-path-steps per second.

Run: ``.venv/bin/python benchmarks/bench_cdp.py [--paths 10000] [--vaults 10000] [--steps 288] [--block 500]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.maker import MakerModel, MakerSpec


def world(n_vaults: int, seed: int = 0) -> MakerModel:
    rng = np.random.default_rng(seed)
    spec = MakerSpec.model_validate({
        "name": "mcd", "type": "maker", "Hole": 1e8,
        "ilks": {
            "ETH-A": {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e12, "dust": 20, "chop": 1.13,
                      "max_auctions": 32, "duty": 0.005,
                      "flip": {"lump": 50, "beg": 1.03, "ttl": 600, "tau": 21_600}},
            "ETH-B": {"collateral": "ETH", "oracle": "osm", "mat": 1.3, "line": 1e12, "dust": 5000, "chop": 1.13,
                      "max_auctions": 32,
                      "clip": {"hole": 2e7, "calc": "stairstep", "step": 90, "cut": 0.99, "tail": 8400}},
        },
        "keepers": {"latency": 600, "failure_prob": 0.3, "zero_bidder": True},
    })  # fmt: skip
    ink = rng.lognormal(3.0, 1.2, n_vaults)
    ratio = 1.55 + rng.lognormal(0.0, 0.6, n_vaults)
    art = ink * 200.0 / ratio
    ilk = (rng.uniform(size=n_vaults) < 0.5).astype(np.int64)
    return MakerModel.from_parts(spec, ilk, ink, art)


def price_paths(n_paths: int, n_steps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps + 1)
    depth = rng.uniform(0.1, 0.5, (n_paths, 1))
    crash = np.minimum(t / 36.0, 1.0)[None, :] * depth
    recover = np.clip((t - 36) / 252.0, 0.0, 1.0)[None, :] * depth * rng.uniform(0.0, 0.6, (n_paths, 1))
    noise = np.cumsum(rng.normal(0.0, 0.004, (n_paths, n_steps + 1)), axis=1)
    return 200.0 * (1.0 - crash + recover) * np.exp(noise)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--vaults", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=288)
    ap.add_argument("--block", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2, help="cascade rounds per step")
    args = ap.parse_args()
    model = world(args.vaults)
    sizes = np.concatenate([[0.0], np.logspace(2, 9, 29)])
    curve = np.maximum.accumulate(sizes * np.maximum(1.0 - 3e-5 * np.sqrt(sizes), 0.0))
    n_actions = 0
    deficit = 0.0
    zero = 0
    kicks = 0
    start = time.perf_counter()
    for b0 in range(0, args.paths, args.block):
        n = min(args.block, args.paths - b0)
        state = model.init_state(n, rng=np.random.default_rng([7, b0 // args.block]))
        px = price_paths(n, args.steps, seed=b0 // args.block + 1)
        proceeds = np.ascontiguousarray(np.broadcast_to(curve, (n, 2, sizes.size)))
        for k in range(args.steps + 1):
            osm = px[:, max(k - 6, 0)]  # the OSM's one-hour delay on ten-minute steps
            liq = LiquidatorCapacity(
                slots=np.full(n, 200, dtype=np.int64), capital_usd=np.full(n, 2e6), gas_usd=np.full(n, 50.0),
                min_profit_usd=10.0,
            )  # fmt: skip
            for _ in range(args.rounds):
                inp = RoundInputs(
                    time=600.0 * k, oracle=np.stack([osm, np.ones(n)], 1), market=np.stack([px[:, k], np.ones(n)], 1),
                    active=np.ones(n, dtype=bool), liquidators=liq,
                    quotes=SaleQuotes(size_usd=sizes, proceeds=lambda paths, assets, c=proceeds: c),
                )  # fmt: skip
                n_actions += int(model.round(state, inp).n_actions.sum())
        deficit += float(state["deficit"].sum())
        zero += int(state["n_zero"].sum())
        kicks += int(state["n_kicks"].sum())
        assert model.check_conservation(state, {}) == []
    elapsed = time.perf_counter() - start
    work = args.vaults * args.paths * (args.steps + 1)
    print(f"{args.vaults} vaults x {args.paths} paths x {args.steps + 1} steps x {args.rounds} rounds: "
          f"{elapsed:.1f} s, {work / elapsed:.3g} vault-path-steps/s")  # fmt: skip
    print(f"auctions kicked {kicks}, zero-bid wins {zero}, actions {n_actions}, "
          f"mean deficit {deficit / args.paths:.4g} DAI")  # fmt: skip


if __name__ == "__main__":
    main()
