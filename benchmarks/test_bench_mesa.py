"""Whole-step throughput against the same world written idiomatically in Mesa (issue #18, target 4).

Both run the world of :data:`benchmarks.mesa_world.WORLD_TOML` on the same exogenous price and gas paths: firesale's
own for the seed (its market model's draws per path block, :func:`_exogenous`, as ``firesale.engine.simulate`` draws
them), handed to the Mesa model as plain lists. Per path the Mesa model must give firesale's results:

- exactly: the number of liquidations, the deepest cascade (rounds in a step) and the first step with bad debt;
- to 1e-9 relative (and $1e-6): the final bad debt, its peak over the steps, the debt repaid and the liquidators'
  profit (sale proceeds less debt bought and gas). Not exactly, because the two evaluate ``exp`` differently:
  firesale calls NumPy's (an AVX-512 SIMD kernel on this machine), the Mesa model Python's ``math.exp`` (the C
  library's); both are within an ulp of the true value, not always the same ulp (they differ on 4.7 % of random
  arguments near 0 here), and a cascade carries one ulp on into later steps. Every other float expression of the
  Mesa model is written in firesale's order of evaluation, so with NumPy's ``exp`` swapped in (``mesa_world.exp``)
  every figure must agree to the last bit: asserted on the first ``EXACT_PATHS`` paths (checked by hand: all 256
  paths of seed 11 do; with ``math.exp`` the bad debt differs on 3 of them, by at most 3.6e-14 relative, and the
  profit on 38). The timed run uses ``math.exp``; it prints how many paths agree to the last bit.

Timing: firesale on one Numba thread (``numba.set_num_threads(1)``) after a warm-up run that compiles every kernel
(no compilation is timed), end to end through :func:`firesale.simulate` (scenario build, market paths, the steps,
the metrics); the Mesa model on the first ``MESA_PATHS`` paths (the first k paths of a firesale run equal a k-path
run), its price paths given, its per-step bad debt collected with a ``mesa.DataCollector`` (firesale's accounting
computes it every step too). The runs alternate, ``REPEATS`` times, and each side's best time counts, so that a load
that comes and goes weighs on both. Throughput is path-steps per second; the ratio is printed, never asserted.
Sizes: ``FIRESALE_BENCH_MESA_PATHS`` (default 64) and ``FIRESALE_BENCH_FIRESALE_PATHS`` (default 4096).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

mesa = pytest.importorskip("mesa", reason="the Mesa comparison needs mesa: pip install -e '.[bench]'")

import firesale  # noqa: E402
from firesale.agents.liquidators import gas_price_path  # noqa: E402
from firesale.engine._blueprint import Blueprint  # noqa: E402
from firesale.engine._world import SALE_SIZES_USD  # noqa: E402
from firesale.engine.seeding import BLOCK_SIZE  # noqa: E402
from firesale.engine.simulate import _block_relatives, _market_model  # noqa: E402
from firesale.protocols.lending_market import LendingMarket  # noqa: E402
from firesale.scenario import parse_scenario  # noqa: E402

from . import mesa_world  # noqa: E402
from .mesa_world import WORLD_TOML, WorldParams, run_paths  # noqa: E402

SEED = 11
#: Paths the Mesa model runs (every one compared with firesale's); firesale runs FIRESALE_PATHS of the same seed.
MESA_PATHS = int(os.environ.get("FIRESALE_BENCH_MESA_PATHS", "64"))
FIRESALE_PATHS = int(os.environ.get("FIRESALE_BENCH_FIRESALE_PATHS", "4096"))
REPEATS = 2
#: Paths on which the Mesa model, with NumPy's exp, must give firesale's figures to the last bit.
EXACT_PATHS = 16


def _params(sc) -> WorldParams:  # type: ignore[no-untyped-def]
    """The world's numbers as firesale builds them, as plain Python (reserve order = asset order here)."""
    bp = Blueprint.build(sc, "numba")
    (plan,) = bp.plans
    model = plan.model
    assert isinstance(model, LendingMarket), "the Mesa world has one lending market"
    assert list(plan.assets) == list(range(len(bp.assets))), "the Mesa world indexes assets in reserve order"
    par = model.params
    assert (par.liquidation_bonus == par.liquidation_bonus[0]).all(), "one bonus per reserve (no e-mode)"
    spec = sc.spec
    books = [(i, obj) for i, (kind, obj) in enumerate(bp.venue_specs) if kind == "book"]
    assert len(books) == len(bp.venue_specs), "the Mesa world has order books only"
    book_of_reserve = [vs[0] if vs else -1 for vs in plan.venues]
    return WorldParams(
        dt=float(bp.dt), n_steps=spec.simulation.n_steps, max_rounds=spec.simulation.max_cascade_rounds,
        assets=tuple(bp.assets), collateral=tuple(map(tuple, model.collateral0.tolist())),
        debt=tuple(map(tuple, model.debt0.tolist())), lt=tuple(map(tuple, par.liquidation_threshold.tolist())),
        bonus=tuple(par.liquidation_bonus[0].tolist()), protocol_fee=tuple(par.protocol_fee.tolist()),
        close_factor=float(par.close_factor), close_factor_hf_threshold=float(par.close_factor_hf_threshold),
        oracle=tuple(plan.oracles), book=tuple(book_of_reserve),
        oracles=tuple((bp.assets.index(o.asset), float(o.heartbeat), o.deviation_bps / 1e4) for o in spec.oracles),
        books=tuple((bp.assets.index(b.asset), b.depth_usd, b.depth_move, b.exponent, b.permanent, b.half_life)
                    for _, b in books),
        capital_usd=float(spec.agents.liquidator_capital_usd), slots=int(spec.agents.max_liquidations_per_step),
        gas_per_liquidation=spec.agents.gas_per_liquidation, min_profit_usd=float(spec.agents.min_profit_usd),
        sale_sizes_usd=tuple(SALE_SIZES_USD.tolist()),
    )  # fmt: skip


def _exogenous(sc, n_paths: int, seed: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """The exogenous prices and gas prices firesale's run draws for ``seed`` (as firesale.engine.simulate does)."""
    bp = Blueprint.build(sc, "numba")
    model = _market_model(bp)
    n_blocks = -(-n_paths // BLOCK_SIZE)
    relatives = np.concatenate([_block_relatives(model, sc.spec, seed, b) for b in range(n_blocks)], axis=0)
    exo = bp.exogenous_prices(relatives[:n_paths])
    return exo, gas_price_path(sc, bp.assets, exo, bp.dt)


def _timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


@pytest.mark.slow  # about 15 s on a loaded 2-core machine, a minute when the Numba cache must be rebuilt
def test_firesale_vs_mesa_whole_step(monkeypatch):
    numba = pytest.importorskip("numba")
    sc = parse_scenario(WORLD_TOML, source="benchmarks/mesa_world.py:WORLD_TOML")
    params = _params(sc)
    exo, gas = _exogenous(sc, MESA_PATHS, SEED)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    t_fs, t_fs_small, t_mesa = [], [], []
    try:
        firesale.simulate(sc, n_paths=BLOCK_SIZE, seed=SEED)  # warm-up: compiles (or loads) every kernel
        # Alternated, best of two each: a load that comes and goes during the run weighs on both sides alike.
        for _ in range(REPEATS):
            big, t = _timed(lambda: firesale.simulate(sc, n_paths=FIRESALE_PATHS, seed=SEED).metrics)
            t_fs.append(t)
            small, t = _timed(lambda: firesale.simulate(sc, n_paths=MESA_PATHS, seed=SEED).metrics)
            t_fs_small.append(t)
            got, t = _timed(lambda: run_paths(params, exo, gas))
            t_mesa.append(t)
    finally:
        numba.set_num_threads(threads)

    # The paths handed to Mesa are the ones firesale ran: their lowest exogenous price matches its metric.
    np.testing.assert_array_equal(
        exo[:, :, 0].min(axis=1) / exo[0, 0, 0], small["min_exo_ratio_WETH"].to_numpy()
    )
    ref = big.iloc[:MESA_PATHS]
    for key in ("n_liquidations", "bad_debt_usd"):  # the first k paths of a run are a k-path run
        np.testing.assert_array_equal(ref[key].to_numpy(), small[key].to_numpy())
    mesa_res = {k: np.array([g[k] for g in got]) for k in got[0]}
    for key in ("n_liquidations", "max_cascade_rounds", "first_bad_debt_step"):
        np.testing.assert_array_equal(mesa_res[key], ref[key].to_numpy(), err_msg=key)
    exact, worst = {}, {}
    for key in ("bad_debt_usd", "bad_debt_peak_usd", "liquidated_usd", "liquidator_profit_usd"):
        fs = ref[key].to_numpy()
        np.testing.assert_allclose(mesa_res[key], fs, rtol=1e-9, atol=1e-6, err_msg=key)
        exact[key] = int((mesa_res[key] == fs).sum())
        worst[key] = float(np.max(np.abs(mesa_res[key] - fs) / np.maximum(np.abs(fs), 1e-300)))
    monkeypatch.setattr(mesa_world, "exp", lambda x: float(np.exp(x)))  # firesale's exponential
    for k, (g, (_, row)) in enumerate(
        zip(
            run_paths(params, exo[:EXACT_PATHS], gas[:EXACT_PATHS]),
            ref.iloc[:EXACT_PATHS].iterrows(),
            strict=True,
        )
    ):
        for key, value in g.items():
            assert value == row[key], (
                f"path {k}: {key} {value!r} (Mesa, NumPy's exp) != {row[key]!r} (firesale)"
            )
    assert ref["n_liquidations"].sum() > 0 and (ref["bad_debt_usd"] > 0).any(), (
        "the world must liquidate and lose"
    )

    n_steps = params.n_steps
    rate_mesa = MESA_PATHS * n_steps / min(t_mesa)
    rate_big = FIRESALE_PATHS * n_steps / min(t_fs)
    rate_small = MESA_PATHS * n_steps / min(t_fs_small)
    load = os.getloadavg()
    print(
        f"\nwhole step vs Mesa: {n_steps} steps x {len(params.debt)} accounts x {len(params.assets)} assets; "
        f"load average {load[0]:.1f} on {os.cpu_count()} cores; firesale on 1 Numba thread, compiled beforehand; "
        f"best of {REPEATS}, alternated"
        f"\n  Mesa model: {MESA_PATHS:>6} paths in {min(t_mesa):6.2f} s: {rate_mesa:>9,.0f} path-steps/s"
        f"\n  firesale:   {FIRESALE_PATHS:>6} paths in {min(t_fs):6.2f} s: {rate_big:>9,.0f} path-steps/s"
        f" = {rate_big / rate_mesa:.0f}x the Mesa model (target 300x)"
        f"\n  firesale:   {MESA_PATHS:>6} paths in {min(t_fs_small):6.2f} s: {rate_small:>9,.0f} path-steps/s"
        f" = {rate_small / rate_mesa:.0f}x at the Mesa run's size"
        f"\n  same on all {MESA_PATHS} paths: liquidations ({int(ref['n_liquidations'].sum())} in all), deepest "
        f"cascade and first step with bad debt exactly; bad debt (on {int((ref['bad_debt_usd'] > 0).sum())} "
        f"paths), its peak, the repaid volume and the liquidators' profit to 1e-9 relative; to the last bit on "
        + ", ".join(f"{exact[k]}" for k in exact)
        + f" of {MESA_PATHS} paths (worst "
        + ", ".join(f"{worst[k]:.1e}" for k in worst)
        + ")"
    )
