"""A run built by hand, so that every number a report shows can be worked out on paper.

The scenario is the built-in toy-spiral (its starting book is real: 300 WETH-collateral, USDC-debt accounts); the
metrics and recorded paths are set here, not simulated. 100 paths, 24 steps of 300 s:

* bad debt: paths 0-89 none, paths 90-97 have 1,000 x (path - 89) USD (1,000 ... 8,000), paths 98 and 99 have
  10,000 each. Two equal worst paths keep the 99 % ES at 10,000 whether one or two paths are averaged:
  firesale.results.expected_shortfall takes ceil((1 - 0.99) * 100), which is 2 in floating point, not 1.
* insolvent: paths 95-99.
* WETH: lowest realised price ratio 0.5 + 0.005 i, lowest exogenous ratio 0.6 + 0.004 i (path i); USDC never moves.
* failure flags (steps): liquidity i mod 3, unclearable 0, oracle 24 for paths 0-9, failure state 0.
* deepest cascade: i mod 4 rounds.
* recorded prices: WETH realised 2000 - i - t, WETH exogenous 2000 - t (path i, step t); USDC 1 everywhere.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from firesale.results import SimulationResult
from firesale.scenario import load_scenario

N_PATHS = 100
N_STEPS = 24


def hand_bad_debt() -> np.ndarray:
    i = np.arange(N_PATHS)
    bad = np.where(i >= 90, 1000.0 * (i - 89), 0.0)
    bad[98] = 10_000.0
    return bad


def hand_metrics(protocol: str = "lender") -> pd.DataFrame:
    i = np.arange(N_PATHS)
    bad = hand_bad_debt()
    return pd.DataFrame(
        {
            "liquidated_usd": 100.0 * i,
            "n_liquidations": i % 7,
            "liquidator_profit_usd": 100.0 * i,
            "slippage_usd": 10.0 * i,
            "gas_usd": np.full(N_PATHS, 1.0),
            "protocol_fees_usd": np.full(N_PATHS, 5.0),
            "max_cascade_rounds": i % 4,
            "first_bad_debt_step": np.where(i >= 90, 10, -1),
            "bad_debt_peak_usd": bad,
            "steps_liquidity_flag": i % 3,
            "steps_unclearable_flag": np.zeros(N_PATHS, dtype=np.int64),
            "steps_oracle_flag": np.where(i < 10, N_STEPS, 0),
            "steps_in_failure_state": np.zeros(N_PATHS, dtype=np.int64),
            "bad_debt_usd": bad,
            f"bad_debt_usd_{protocol}": bad,
            "insolvent": i >= 95,
            "min_price_ratio_WETH": 0.5 + 0.005 * i,
            "min_exo_ratio_WETH": 0.6 + 0.004 * i,
            "min_price_ratio_USDC": np.ones(N_PATHS),
            "min_exo_ratio_USDC": np.ones(N_PATHS),
        },
        index=pd.RangeIndex(N_PATHS, name="path"),
    )


def hand_paths(record: tuple[str, ...]) -> dict[str, np.ndarray]:
    i = np.arange(N_PATHS)[:, None]
    t = np.arange(N_STEPS + 1)[None, :]
    shape = (N_PATHS, N_STEPS + 1)
    out: dict[str, np.ndarray] = {}
    if "price" in record:
        out["price_WETH"] = (2000.0 - i - t).astype(np.float32)
        out["exo_price_WETH"] = np.broadcast_to(2000.0 - t, shape).astype(np.float32)
        out["price_USDC"] = np.ones(shape, dtype=np.float32)
        out["exo_price_USDC"] = np.ones(shape, dtype=np.float32)
    if "bad_debt" in record:
        out["bad_debt"] = np.where(t >= 10, hand_bad_debt()[:, None], 0.0).astype(np.float32)
    if "liquidated" in record:
        out["liquidated"] = np.where(t == 5, 100.0 * i, 0.0).astype(np.float32)
    if "rounds" in record:
        out["rounds"] = np.where(t == 5, i % 4, 0).astype(np.float32)
    if "flags" in record:
        out["flag_liquidity"] = np.where(t <= i % 3, 1.0, 0.0).astype(np.float32)
        out["flag_unclearable"] = np.zeros(shape, dtype=np.float32)
        out["flag_oracle"] = np.where(i < 10, 1.0, 0.0).repeat(N_STEPS + 1, axis=1).astype(np.float32)
    return out


ALL_RECORDED = ("price", "bad_debt", "liquidated", "rounds", "flags")


def make_result(
    *,
    name: str | None = None,
    description: str | None = None,
    record: tuple[str, ...] = ALL_RECORDED,
    protocol: str = "lender",
    market: object = None,
) -> SimulationResult:
    """The hand-built run; ``name``/``description`` replace the scenario's (unvalidated, as a tampered file)."""
    sc = load_scenario("toy-spiral")
    update: dict[str, object] = {}
    if name is not None:
        update["name"] = name
    if description is not None:
        update["description"] = description
    if market is not None:
        update["market"] = market
    if update:
        sc = dataclasses.replace(sc, spec=sc.spec.model_copy(update=update))
    return SimulationResult(
        scenario=sc,
        seed=7,
        n_paths=N_PATHS,
        version="9.9.9",
        metrics=hand_metrics(protocol),
        paths=hand_paths(record),
        asset_names=["WETH", "USDC"],
        protocol_names=[protocol],
        dt=300.0,
        wall_seconds=2.5,
    )


@pytest.fixture
def result() -> SimulationResult:
    return make_result()


@pytest.fixture
def make_run():
    """The factory behind ``result``, for variants (other names, fewer recorded series, another market)."""
    return make_result
