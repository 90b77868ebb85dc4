"""Run a scenario's Monte Carlo: blocks of paths, one :class:`~firesale.engine._world.World` per batch.

Memory is bounded by one batch when the run streams: above :data:`KEEP_PATHS_BYTES` of recorded series (or with
``keep_paths=False``), each batch's recorded paths are folded into per-step mergeable summaries
(:mod:`firesale.engine._summaries`) and dropped, so ``result.paths`` is empty and ``result.series`` comes from the
summaries (exact mean, quantiles within 0.5 %). Metrics are per path and identical either way. :func:`estimate_memory`
models the peak, and a run that would not fit in the available memory is refused before it starts.
"""

from __future__ import annotations

import os
import time as _time
from collections.abc import Callable

import numpy as np
import pandas as pd

from firesale._version import __version__
from firesale.agents.liquidators import gas_price_path
from firesale.engine._blueprint import Blueprint
from firesale.engine._summaries import AccountSummary, SeriesSummary, fold_accounts, merge_into, summarize
from firesale.engine._world import CHANNELS, World
from firesale.engine.recorder import Recorder, recorded_variables
from firesale.engine.replay_baseline import baseline_flows
from firesale.engine.seeding import BLOCK_SIZE, block_generator
from firesale.exceptions import ParameterError, ScenarioError
from firesale.results import SimulationResult
from firesale.scenario import Scenario, load_scenario

__all__ = ["KEEP_PATHS_BYTES", "estimate_memory", "run_blocks", "simulate"]

Progress = Callable[[float], None]

#: Implementations of the liquidation kernels, by name (``simulate(kernel=...)``).
KERNELS = ("numba", "numpy")


#: ``simulate`` keeps every path of the recorded series (``result.paths``) while they take at most this many bytes
#: (the flagship: about 23,000 paths); above it, or with ``keep_paths=False``, it streams (see ``simulate``).
KEEP_PATHS_BYTES = 512 << 20


def _keeps_paths(scenario: Scenario, n_paths: int, keep_paths: bool | None) -> bool:
    if keep_paths is not None:
        return keep_paths
    return (
        n_paths * recorded_variables(scenario) * (scenario.spec.simulation.n_steps + 1) * 4
        <= KEEP_PATHS_BYTES
    )


def estimate_memory(
    scenario: Scenario, n_paths: int, batch_size: int | None = None, *, keep_paths: bool | None = None
) -> int:
    """Bytes a run adds to the process at its peak (resident set), to refuse a run that would not fit before it starts.

    A batch of ``b`` paths holds, per path: its positions (collateral and debt, accounts x assets float64, plus
    the kernels' and final metrics' temporaries: :data:`_POSITION_BYTES` per position in all), its market paths
    (relative moves and exogenous prices, (n_steps + 1) x assets float64 each, and the gas path) and its recorded
    series ((n_steps + 1) float32 each). The world is freed before the next batch, so that is the peak of a streamed
    run, plus its summaries (per variable and step: the histogram, typically :data:`_SKETCH_BUCKETS` buckets,
    and one float64 per block of 256 paths) and the metrics (one float64 row per path, doubled when the batches'
    frames are concatenated). A run that keeps its paths also holds every recorded series of the batches before
    the last one, and at the end their concatenation (one variable at a time: the series plus one variable).

    Calibrated and checked on the flagship with ``benchmarks/bench_memory.py`` (peak resident set minus that of a
    one-path run in the same process): estimate / measured 0.97-1.18 from 512 to 25,000 paths of 288 steps and
    100,000 of 12 steps, streamed and kept (2 cores, load 5-9). A perp venue adds its per-path state
    (:func:`_perp_state_bytes`) and :data:`_PERP_CELL_TEMP_BYTES` of temporaries per (trader, market) cell.
    """
    spec = scenario.spec
    b = min(_batch_size(scenario, n_paths, batch_size), n_paths)
    n_t = spec.simulation.n_steps + 1
    n_assets = len(spec.assets)
    positions = sum(p.collateral.size for p in scenario.positions.values())
    n_rec = recorded_variables(scenario)
    series = n_t * n_rec * 4  # bytes of one path's recorded series
    per_path = positions * _POSITION_BYTES + n_t * (n_assets * 8 * 2 + 8) + series
    per_path += _perp_state_bytes(spec) + _PERP_CELL_TEMP_BYTES * sum(t * m for t, m in _perp_books(spec))
    n_metrics = 30 + 2 * n_assets + len(spec.protocols) * (3 + n_assets)
    fixed = n_paths * n_metrics * 8 * 2
    if _keeps_paths(scenario, n_paths, keep_paths):
        return int(
            fixed + max(b * per_path + (n_paths - b) * series, n_paths * series * (1 + 1 / max(n_rec, 1)))
        )
    summaries = n_rec * n_t * 8 * (_SKETCH_BUCKETS + -(-n_paths // BLOCK_SIZE))
    return int(fixed + b * per_path + summaries)


#: Bytes per position (account x asset) of a batch's path at its peak: collateral and debt (float64, 16 bytes) and,
#: measured with benchmarks/bench_memory.py on the flagship, about half as much again in temporaries.
_POSITION_BYTES = 20
#: Histogram buckets a streamed variable's summary holds per step, on average (flagship, 512 paths: 77; prices 80).
_SKETCH_BUCKETS = 150
#: Bytes per (trader, market) cell and path that a perp venue's round and books hold at the peak beyond the cell's
#: state ((paths, traders, markets) float64 temporaries: equities, orders, fills, funding payments), measured with
#: benchmarks/bench_memory.py on perp worlds of 2,000 traders in 1 and 5 markets (docs/perps.md, "Memory").
_PERP_CELL_TEMP_BYTES = 58


def _perp_books(spec) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """(traders, markets) of each perp venue of a scenario spec, generated traders included."""
    return [
        (len(p.traders) + (p.generate.n_traders if p.generate is not None else 0), len(p.markets))
        for p in spec.protocols
        if getattr(p, "type", None) == "perp"
    ]


def _perp_state_bytes(spec) -> int:  # type: ignore[no-untyped-def]
    """Bytes per path of the perp venues' state as ``PerpVenue.init_state`` allocates it: per (trader, market) cell
    ``size`` and ``iso`` (2 float64); per trader ``cash`` and the kernels' bound ``screen_ratio`` (2 float64); per
    market ``used`` (2), nine per-market arrays (a policy's margin factor among them) and ``screen_mark`` (12
    float64); per path 209 bytes of ledgers, counts, key and bound flags (tests/unit/engine/test_perp_memory.py
    counts them by hand)."""
    return sum(16 * t * m + 16 * t + 96 * m + 209 for t, m in _perp_books(spec))


def _available_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def _batch_size(scenario: Scenario, n_paths: int, batch_size: int | None) -> int:
    if batch_size is None:
        # Big batches amortise the per-step Python work; ~512 MiB of position state is plenty on any machine
        # this runs on (the memory check below still guards the total). Perp venues' books count as they hold.
        positions = sum(p.collateral.size for p in scenario.positions.values())
        spec = scenario.spec
        state = (
            positions * 32
            + _perp_state_bytes(spec)
            + _PERP_CELL_TEMP_BYTES * sum(t * m for t, m in _perp_books(spec))
        )
        batch_size = max(BLOCK_SIZE, min(4096, (512 << 20) // max(1, state)))
    blocks = -(-min(batch_size, max(n_paths, 1)) // BLOCK_SIZE)
    return blocks * BLOCK_SIZE


def _check(name: str, value: object, rule: str, ok: bool) -> None:
    if not ok:
        raise ParameterError(f"The '{name}' parameter of simulate must be {rule}. Got {value!r} instead.")


def simulate(
    scenario: Scenario | str | os.PathLike[str],
    *,
    n_paths: int | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
    n_steps: int | None = None,
    kernel: str = "numba",
    progress: Progress | None = None,
    debug: bool = False,
    channels: tuple[str, ...] | None = None,
    focus: str | None = None,
    keep_paths: bool | None = None,
) -> SimulationResult:
    """Run the Monte Carlo stress test of a scenario.

    Parameters
    ----------
    scenario : Scenario, str or path
        A loaded scenario, a scenario file, or a built-in name.
    n_paths : int, optional
        Monte Carlo paths (default: the scenario's ``simulation.n_paths``).
    seed : int, optional
        Seed (default: the scenario's). A result depends only on (scenario, seed, version).
    batch_size : int, optional
        Paths held in memory at once, rounded up to whole blocks of 256. Results do not depend on it.
    n_steps : int, optional
        Override the horizon (number of steps).
    kernel : {"numba", "numpy"}
        Implementation of the liquidation round; both give the same results.
    progress : callable, optional
        Called with the fraction of work done.
    debug : bool, default False
        Check token conservation and non-negative balances after every step (slower).
    channels : tuple of str, optional
        Counterfactual runs only (with ``focus``): the contagion channels left on, a subset of
        ``("venues", "derived", "liquidators")``. See :func:`firesale.contagion.attribute`.
    focus : str, optional
        Counterfactual runs only: the protocol whose isolation ``channels`` describes.
    keep_paths : bool, optional
        Keep every path of every recorded variable in ``result.paths`` (True), or stream (False): fold each
        batch into per-step summaries (``result.summaries``; exact mean, quantiles within 0.5 %) and drop its
        paths, so memory is one batch whatever ``n_paths``. Default: keep while the kept series take at most
        :data:`KEEP_PATHS_BYTES`. Metrics are per path and identical either way.

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> import firesale
    >>> result = firesale.simulate("toy-spiral", n_paths=8, seed=1)
    >>> len(result.metrics)
    8
    >>> bool(result.summary()["bad_debt_mean_usd"] > 0)
    True
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    spec = scenario.spec
    n_paths = spec.simulation.n_paths if n_paths is None else n_paths
    seed = spec.simulation.seed if seed is None else seed
    _check("n_paths", n_paths, "a positive int", isinstance(n_paths, int | np.integer) and n_paths > 0)
    _check("seed", seed, "a non-negative int", isinstance(seed, int | np.integer) and seed >= 0)
    _check("kernel", kernel, f"one of {list(KERNELS)}", kernel in KERNELS)
    names = [p.name for p in spec.protocols]
    _check("focus", focus, f"None or one of {names}", focus is None or focus in names)
    _check("channels", channels, f"None or a tuple of names from {list(CHANNELS)}",
           channels is None or (isinstance(channels, tuple | list | frozenset | set) and set(channels) <= set(CHANNELS)))  # fmt: skip
    isolation = (
        tuple(channels) if channels is not None else CHANNELS,
        None if focus is None else names.index(focus),
    )
    if batch_size is not None:
        _check("batch_size", batch_size, "a positive int", isinstance(batch_size, int) and batch_size > 0)
    if n_steps is not None:
        _check("n_steps", n_steps, "a positive int", isinstance(n_steps, int) and n_steps > 0)
        scenario = _with_steps(scenario, n_steps)
        spec = scenario.spec
    if keep_paths is not None:
        _check("keep_paths", keep_paths, "None, True or False", isinstance(keep_paths, bool))
    keep = _keeps_paths(scenario, n_paths, keep_paths)
    need = estimate_memory(scenario, n_paths, batch_size, keep_paths=keep)
    have = _available_memory()
    if need > 0.8 * have:
        raise ScenarioError(
            f"{scenario.source}: simulation.n_paths: too many paths for memory: about {need / 2**30:.1f} GiB "
            f"needed, {have / 2**30:.1f} GiB available; lower n_paths, batch_size or the recorded series, got {n_paths}"
        )

    started = _time.perf_counter()
    bp = Blueprint.build(scenario, kernel)
    model = _market_model(bp)
    batch = _batch_size(scenario, n_paths, batch_size)
    n_t = spec.simulation.n_steps
    metrics: list[pd.DataFrame] = []
    series: dict[str, list[np.ndarray]] = {}
    n_blocks = -(-n_paths // BLOCK_SIZE)
    blocks_per_batch = batch // BLOCK_SIZE
    work, done = n_blocks * n_t, 0

    def tick(n_blocks_done: int) -> None:
        nonlocal done
        done += n_blocks_done
        if progress is not None:
            progress(done / work)

    summaries: dict[str, SeriesSummary] | None = None if keep else {}
    accounts: dict[str, AccountSummary] = {}  # per lending protocol, folded batch by batch (bounded memory)
    for first_block in range(0, n_blocks, blocks_per_batch):
        blocks = range(first_block, min(n_blocks, first_block + blocks_per_batch))
        frame, arrays = _run_batch(
            bp, model, seed, blocks, n_paths, debug, tick, isolation, accounts=accounts
        )
        metrics.append(frame)
        if summaries is None:
            for name, arr in arrays.items():
                series.setdefault(name, []).append(arr)
        else:  # streamed: the batch's paths become per-step summaries and are dropped here
            merge_into(summaries, summarize(arrays, blocks.start * BLOCK_SIZE))
        del arrays
    wall = _time.perf_counter() - started
    return SimulationResult(
        scenario=scenario,
        seed=int(seed),
        n_paths=int(n_paths),
        version=__version__,
        metrics=pd.concat(metrics),
        # One variable at a time, each freeing its batches: the peak is the series plus one variable, not twice them.
        paths={k: np.concatenate(series.pop(k), axis=0) for k in list(series)},
        summaries=summaries,
        asset_names=bp.assets,
        protocol_names=[p.name for p in bp.protocols],
        dt=spec.simulation.dt,
        wall_seconds=wall,
        accounts=pd.concat([a.frame() for a in accounts.values()], ignore_index=True) if accounts else None,
    )


def run_blocks(
    scenario: Scenario,
    seed: int,
    blocks: range,
    n_paths: int,
    *,
    kernel: str = "numba",
    debug: bool = False,
    accounts: dict[str, AccountSummary] | None = None,
    tick: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Run the path blocks ``blocks`` of an ``n_paths`` run: the unit of work a distributed executor schedules.

    Returns the per-path metrics (indexed by global path number) and the recorded series of those paths. Any
    partition of a run's blocks gives, concatenated in block order, exactly what :func:`simulate` returns; so do
    the per-account summaries folded into ``accounts`` (by protocol), merged with :meth:`AccountSummary.merge`.
    ``tick`` is called after every step with the number of blocks (for progress).
    """
    bp = Blueprint.build(scenario, kernel)
    return _run_batch(
        bp, _market_model(bp), seed, blocks, n_paths, debug, tick, (CHANNELS, None), accounts=accounts
    )


def _market_model(bp: Blueprint):  # type: ignore[no-untyped-def]
    spec = bp.scenario.spec
    if not bp.market_assets:
        return None
    return spec.market.build([bp.assets[a] for a in bp.market_assets], bp.scenario.base_dir)


def _run_batch(bp, model, seed, blocks, n_paths, debug, tick, isolation, *, trace=None, accounts=None):  # type: ignore[no-untyped-def]
    """Run one batch. ``trace`` (:class:`firesale.engine.trace.CascadeTrace`) records the cascade of some of its
    paths round by round; ``accounts`` (per protocol) gets the batch's per-account losses folded in."""
    spec = bp.scenario.spec
    n_t = spec.simulation.n_steps
    record = list(spec.simulation.record)
    relatives = np.concatenate([_block_relatives(model, spec, seed, b) for b in blocks], axis=0)
    lo = blocks[0] * BLOCK_SIZE
    keep = min(n_paths - lo, relatives.shape[0])
    exo = bp.exogenous_prices(relatives[:keep])
    gas = gas_price_path(bp.scenario, bp.assets, exo, bp.dt)
    baseline = baseline_flows(bp, exo, gas, seed, blocks)
    world = World(
        bp, exo, gas, debug=debug, channels=isolation[0], focus=isolation[1], seed=seed, blocks=blocks,
        baseline=baseline, trace=trace,
    )  # fmt: skip
    rec = Recorder(record, world, keep, n_t)
    for _ in range(n_t):
        world.step()
        rec.take(world)
        if trace is not None:
            trace.step_end(world)
        if tick is not None:
            tick(len(blocks))
    if accounts is not None:
        fold_accounts(accounts, world)
    frame = pd.DataFrame(world.final_metrics())
    frame.index = pd.RangeIndex(lo, lo + keep, name="path")
    return frame, rec.arrays


def _with_steps(scenario: Scenario, n_steps: int) -> Scenario:
    from dataclasses import replace

    sim = scenario.spec.simulation.model_copy(update={"n_steps": n_steps})
    return replace(scenario, spec=scenario.spec.model_copy(update={"simulation": sim}))


def _block_relatives(model, spec, seed: int, block: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    n_t = spec.simulation.n_steps
    if model is None:
        return np.ones((BLOCK_SIZE, n_t + 1, 0))
    rng = block_generator(seed, "market", block)
    rel = model.simulate(BLOCK_SIZE, n_t, spec.simulation.dt, rng)
    return np.asarray(rel, dtype=float)
