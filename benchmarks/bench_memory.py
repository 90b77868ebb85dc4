"""Peak memory and throughput of whole runs, against :func:`firesale.engine.simulate.estimate_memory`.

Each path count runs in its own process (a process's peak resident set only grows): the process first runs one
path (imports, Numba compilation, the scenario's blueprint), takes its peak RSS as the baseline, then runs the
measured count. "measured" is peak RSS minus that baseline: what the run itself added, which is what
``estimate_memory`` models. Prints, never asserts (timings depend on the machine and its load)::

    .venv/bin/python benchmarks/bench_memory.py --paths 2000 10000 25000
    .venv/bin/python benchmarks/bench_memory.py --paths 100000 --stream
    .venv/bin/python benchmarks/bench_memory.py --scenario btc-perp-2021-05 --paths 256 1024 2048
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def _one(scenario: str, n_paths: int, steps: int | None, batch: int | None, keep: bool | None) -> dict:
    import resource
    import time

    from firesale.engine.simulate import estimate_memory, simulate
    from firesale.scenario import load_scenario

    sc = load_scenario(scenario)
    simulate(sc, n_paths=1, n_steps=steps, keep_paths=keep)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    r = simulate(sc, n_paths=n_paths, n_steps=steps, batch_size=batch, keep_paths=keep)
    r.series  # noqa: B018 - the quantiles are part of the run's cost
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if steps is not None:
        from firesale.engine.simulate import _with_steps

        sc = _with_steps(sc, steps)
    return {
        "n_paths": n_paths, "wall_s": wall, "baseline": base, "peak": peak, "measured": peak - base,
        "estimate": estimate_memory(sc, n_paths, batch, keep_paths=keep), "streamed": r.streamed,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="aave-v3-today")
    ap.add_argument("--paths", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--steps", type=int, help="override the horizon (fewer steps: quicker, smaller series)")
    ap.add_argument("--batch-size", type=int)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--stream", action="store_const", const=False, dest="keep", help="keep_paths=False")
    mode.add_argument("--keep", action="store_const", const=True, dest="keep", help="keep_paths=True")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_one(args.scenario, args.paths[0], args.steps, args.batch_size, args.keep)))
        return
    print(f"{args.scenario}: load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; keep_paths={args.keep}")
    print(f"{'paths':>8} {'mode':>8} {'wall s':>8} {'paths/s':>8} {'base MiB':>9} {'peak MiB':>9} "
          f"{'run MiB':>8} {'est MiB':>8} {'est/run':>7}")  # fmt: skip
    for n in args.paths:
        cmd = [sys.executable, __file__, "--child", "--scenario", args.scenario, "--paths", str(n)]
        cmd += ["--steps", str(args.steps)] if args.steps else []
        cmd += ["--batch-size", str(args.batch_size)] if args.batch_size else []
        cmd += {None: [], True: ["--keep"], False: ["--stream"]}[args.keep]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        mib = 2.0**20
        print(f"{n:>8} {'stream' if r['streamed'] else 'keep':>8} {r['wall_s']:>8.1f} {n / r['wall_s']:>8.0f} "
              f"{r['baseline'] / mib:>9.0f} {r['peak'] / mib:>9.0f} {r['measured'] / mib:>8.0f} "
              f"{r['estimate'] / mib:>8.0f} {r['estimate'] / r['measured']:>7.2f}", flush=True)  # fmt: skip
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
