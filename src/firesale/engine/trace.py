"""The cascade of one path, round by round: what it sold, repaid and liquidated, re-simulated from the seed.

A run keeps per path only its totals and, per step, how many cascade rounds ran. The waterfall of a path (the
rounds of each step and the volume of each round) comes from running that path again: the engine is
block-seeded (:mod:`firesale.engine.seeding`), so the first ``k`` paths of a path block are the same whatever
else runs beside them, and :func:`trace_path` runs only the block's paths up to the one asked for, with a
:class:`CascadeTrace` that :class:`~firesale.engine._world.World` calls after every cascade round that acted.
Without a trace the engine pays one ``is None`` test per round. The re-simulated path's metrics come back with
the trace, so a caller can check them against the run's (they are equal bit for bit, tested in
``tests/unit/test_cascade_trace.py``).

What a round's flows are, per path: the tokens each protocol handed to liquidators to sell (``sold``) and the
debt they repaid (``repaid``), from the world's cumulative flows (``World.out``), valued at the market prices
the round saw before its own sales (as the engine values a sale's slippage); liquidations and slippage come
from the accounting's running totals. So the trace reads what the engine already keeps and changes nothing it
computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from firesale.engine.seeding import BLOCK_SIZE
from firesale.exceptions import ParameterError

if TYPE_CHECKING:
    from firesale.engine._world import World
    from firesale.scenario import Scenario

__all__ = ["CascadeTrace", "PathTrace", "trace_path", "worst_path"]

_FLOW_COLUMNS = ["path", "step", "round", "protocol", "asset", "sold_tokens", "sold_usd", "repaid_tokens",
                 "repaid_usd"]  # fmt: skip
_ROUND_COLUMNS = ["path", "step", "round", "n_liquidations", "sold_usd", "repaid_usd", "slippage_usd"]
_STEP_COLUMNS = ["path", "step", "protocol", "bad_debt_usd", "rounds", "liquidated_usd"]


class CascadeTrace:
    """Records, for some paths of one batch, each cascade round's flows and each step's bad debt.

    Parameters
    ----------
    paths : sequence of int
        The traced paths, as rows of the batch (0 is the batch's first path).

    Attributes
    ----------
    flows, rounds, steps : list of dict
        Rows of :attr:`PathTrace.flows`, :attr:`PathTrace.rounds` and :attr:`PathTrace.steps`.
    """

    def __init__(self, paths: Sequence[int]) -> None:
        self.paths = np.asarray(paths, dtype=np.int64)
        self.flows: list[dict[str, object]] = []
        self.rounds: list[dict[str, object]] = []
        self.steps: list[dict[str, object]] = []
        self._prev: dict[str, np.ndarray] | None = None
        self._step = -1
        self._count = np.zeros(self.paths.size, dtype=np.int64)  # rounds each traced path acted in this step

    def _totals(self, world: World) -> dict[str, np.ndarray]:
        """The world's cumulative flows on the traced paths (copies)."""
        p = self.paths
        out = {"n_liquidations": world.accounting.m["n_liquidations"][p].astype(float),
               "slippage_usd": world.accounting.m["slippage_usd"][p].copy()}  # fmt: skip
        for pi, o in enumerate(world.out):
            out[f"sold{pi}"], out[f"repaid{pi}"] = o["sold"][p].copy(), o["repaid"][p].copy()
        return out

    def round(self, world: World, market: np.ndarray, acted: np.ndarray) -> None:
        """After a cascade round: the round's flows on the traced paths that acted in it.

        ``market`` is the market price of every asset the round saw (n_paths, n_assets), before its sales.
        """
        now = self._totals(world)
        prev = self._prev if self._prev is not None else {k: np.zeros_like(v) for k, v in now.items()}
        self._prev = now
        if world.t != self._step:
            self._step, self._count[:] = world.t, 0
        first = world.first_path
        for i, row in enumerate(self.paths):
            if not acted[row]:
                continue
            self._count[i] += 1
            k = int(self._count[i])
            sold_usd = repaid_usd = 0.0
            for pi, plan in enumerate(world.bp.plans):
                sold = now[f"sold{pi}"][i] - prev[f"sold{pi}"][i]
                repaid = now[f"repaid{pi}"][i] - prev[f"repaid{pi}"][i]
                for r, a in enumerate(plan.assets):
                    if sold[r] == 0 and repaid[r] == 0:
                        continue
                    price = float(market[row, a])
                    self.flows.append({
                        "path": first + int(row), "step": world.t, "round": k, "protocol": plan.model.name,
                        "asset": world.bp.assets[a], "sold_tokens": float(sold[r]),
                        "sold_usd": float(sold[r]) * price, "repaid_tokens": float(repaid[r]),
                        "repaid_usd": float(repaid[r]) * price,
                    })  # fmt: skip
                    sold_usd += float(sold[r]) * price
                    repaid_usd += float(repaid[r]) * price
            self.rounds.append({
                "path": first + int(row), "step": world.t, "round": k,
                "n_liquidations": int(now["n_liquidations"][i] - prev["n_liquidations"][i]),
                "sold_usd": sold_usd, "repaid_usd": repaid_usd,
                "slippage_usd": float(now["slippage_usd"][i] - prev["slippage_usd"][i]),
            })  # fmt: skip

    def step_end(self, world: World) -> None:
        """After a step's accounting: each protocol's bad debt on the traced paths."""
        acc = world.accounting
        for row in self.paths:
            for book, name in zip(acc.books, acc.protocols, strict=True):
                self.steps.append({
                    "path": world.first_path + int(row), "step": world.t, "protocol": name,
                    "bad_debt_usd": float(book.bad_debt_usd[row]) if book is not None else 0.0,
                    "rounds": int(acc.last_rounds[row]), "liquidated_usd": float(acc.last_liquidated[row]),
                })  # fmt: skip


@dataclass(frozen=True)
class PathTrace:
    """One path's cascade, round by round (:func:`trace_path`).

    Attributes
    ----------
    path : int
        The path's number in the run.
    metrics : pandas.Series
        The path's end-of-run metrics as re-simulated (the row of :attr:`SimulationResult.metrics`).
    flows : DataFrame
        One row per (step, round, protocol, asset) that moved: ``sold_tokens`` handed to liquidators to sell
        and ``sold_usd`` their value at the round's market price, ``repaid_tokens`` and ``repaid_usd`` of debt
        repaid.
    rounds : DataFrame
        One row per (step, round) the path's cascade ran: ``n_liquidations``, ``sold_usd``, ``repaid_usd``
        (all protocols and assets) and the liquidators' ``slippage_usd``. Rounds are numbered from 1 in each
        step.
    steps : DataFrame
        One row per (step, protocol): ``bad_debt_usd`` at the step's end, and the path's ``rounds`` and
        ``liquidated_usd`` (debt repaid, all protocols) in the step.
    """

    path: int
    metrics: pd.Series
    flows: pd.DataFrame
    rounds: pd.DataFrame
    steps: pd.DataFrame

    def cascades(self) -> pd.DataFrame:
        """One row per step in which the cascade ran: ``rounds``, ``sold_usd``, ``repaid_usd``,
        ``n_liquidations``, ``bad_debt_usd`` at the step's end (all protocols) and ``bad_debt_formed_usd``
        (its change over the step), largest volume sold first."""
        bad = self.steps.groupby("step")["bad_debt_usd"].sum()
        formed = bad.diff().fillna(bad)
        if self.rounds.empty:
            return pd.DataFrame(columns=["step", "rounds", "sold_usd", "repaid_usd", "n_liquidations",
                                         "bad_debt_usd", "bad_debt_formed_usd"])  # fmt: skip
        out = self.rounds.groupby("step").agg(
            rounds=("round", "max"), sold_usd=("sold_usd", "sum"), repaid_usd=("repaid_usd", "sum"),
            n_liquidations=("n_liquidations", "sum"),
        )  # fmt: skip
        out["bad_debt_usd"] = bad.reindex(out.index).to_numpy()
        out["bad_debt_formed_usd"] = formed.reindex(out.index).to_numpy()
        return out.reset_index().sort_values(["sold_usd", "step"], ascending=[False, True], ignore_index=True)


def worst_path(metrics: pd.DataFrame) -> int:
    """The path with the largest bad debt at the end (``bad_debt_usd``); ties go to the lowest number."""
    bad = metrics["bad_debt_usd"].to_numpy(dtype=float)
    if bad.size == 0 or not np.isfinite(bad).any():
        raise ParameterError(
            "The 'metrics' parameter of worst_path must have a finite bad_debt_usd. Got none."
        )
    best = np.nanmax(bad)
    return int(metrics.index[np.flatnonzero(bad == best)].min())


def trace_path(
    scenario: Scenario,
    seed: int,
    n_paths: int,
    path: int,
    *,
    n_steps: int | None = None,
    kernel: str = "numba",
) -> PathTrace:
    """Re-simulate path ``path`` of an ``n_paths`` run of ``scenario`` with seed ``seed``, tracing its
    cascade.

    Only the path's block is run, and in it only the paths up to ``path``: a run's first paths do not depend
    on the others (:mod:`firesale.engine.seeding`), so the path is the run's, bit for bit (compare ``metrics``
    with the run's row to be sure: a scenario whose data changed since the run would not be).

    Parameters
    ----------
    scenario : Scenario
    seed, n_paths : int
        The run's seed and paths.
    path : int
        The path to trace, ``0 <= path < n_paths``.
    n_steps : int, optional
        The run's horizon when it overrode the scenario's (``simulate(n_steps=...)``).
    kernel : {"numba", "numpy"}

    Returns
    -------
    PathTrace
    """
    from firesale.engine._blueprint import Blueprint
    from firesale.engine._world import CHANNELS
    from firesale.engine.simulate import _market_model, _run_batch, _with_steps

    ok = isinstance(path, int | np.integer) and isinstance(n_paths, int | np.integer) and 0 <= path < n_paths
    if not ok:
        raise ParameterError(
            f"The 'path' parameter of trace_path must be an int in [0, {n_paths}). Got {path!r} instead."
        )
    if n_steps is not None and n_steps != scenario.spec.simulation.n_steps:
        scenario = _with_steps(scenario, n_steps)
    bp = Blueprint.build(scenario, kernel)
    block, row = divmod(int(path), BLOCK_SIZE)
    trace = CascadeTrace([row])
    frame, _ = _run_batch(bp, _market_model(bp), seed, range(block, block + 1), int(path) + 1, False, None,
                          (CHANNELS, None), trace=trace)  # fmt: skip
    return PathTrace(
        path=int(path),
        metrics=frame.loc[int(path)],
        flows=pd.DataFrame(trace.flows, columns=_FLOW_COLUMNS),
        rounds=pd.DataFrame(trace.rounds, columns=_ROUND_COLUMNS),
        steps=pd.DataFrame(trace.steps, columns=_STEP_COLUMNS),
    )
