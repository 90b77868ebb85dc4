"""Accounting of one batch of paths: what the cascade did, bad debt, and the systemic-failure flags, per step.

Per path it accumulates liquidations (volume, count, liquidator profit, slippage, gas), per protocol the books its
model reports (bad debt, reserves used, insolvency), and per step three flags:

- *liquidity*: some venue holds less than ``failure_liquidity_fraction`` of its starting liquidity;
- *unclearable*: some position below its liquidation threshold was left unliquidated (unprofitable, or no
  capital or block space);
- *oracle*: an oracle that a protocol reads is faulted, or off the market by more than
  ``failure_oracle_deviation`` (oracles nobody reads never raise it).

A step with at least two flags at once counts as time in the systemic failure state.
"""

from __future__ import annotations

import numpy as np

from firesale.exceptions import SimulationError
from firesale.protocols.base import Accounts, Flows

__all__ = ["Accounting"]


class Accounting:
    """Per-path accumulators of one batch."""

    def __init__(self, n_paths: int, protocols: list[str], assets: list[str], price0: np.ndarray) -> None:
        z = np.zeros
        self.protocols, self.assets, self.price0 = protocols, assets, price0
        self.m: dict[str, np.ndarray] = {
            "liquidated_usd": z(n_paths), "n_liquidations": z(n_paths, dtype=np.int64),
            "liquidator_profit_usd": z(n_paths), "slippage_usd": z(n_paths), "gas_usd": z(n_paths),
            "max_cascade_rounds": z(n_paths, dtype=np.int64), "first_bad_debt_step": np.full(n_paths, -1, np.int64),
            "bad_debt_peak_usd": z(n_paths), "steps_liquidity_flag": z(n_paths, dtype=np.int64),
            "steps_unclearable_flag": z(n_paths, dtype=np.int64), "steps_oracle_flag": z(n_paths, dtype=np.int64),
            "steps_in_failure_state": z(n_paths, dtype=np.int64), "unserved_accounts_max": z(n_paths, dtype=np.int64),
        }  # fmt: skip
        self.liquidated_by_protocol = z((n_paths, len(protocols)))
        self.books: list[Accounts | None] = [None] * len(protocols)
        self.min_ratio = np.ones((n_paths, len(assets)))
        self.last_flags = np.zeros((n_paths, 3), dtype=bool)
        self.last_rounds = np.zeros(n_paths, dtype=np.int64)
        self.last_liquidated = np.zeros(n_paths)
        self.step_liquidated = np.zeros(n_paths)
        # Liquidations taken in the step and accounts left unserved at its end ("unserved" in simulation.record).
        self.step_actions = np.zeros(n_paths, dtype=np.int64)
        self.last_actions = np.zeros(n_paths, dtype=np.int64)
        self.last_unserved = np.zeros(n_paths, dtype=np.int64)
        self.last_market = np.broadcast_to(price0, (n_paths, len(assets))).copy()

    def new_step(self) -> None:
        self.step_liquidated = np.zeros_like(self.step_liquidated)
        self.step_actions = np.zeros_like(self.step_actions)

    def flows(self, pi: int, flows: Flows, repaid_usd: np.ndarray, sale_value_usd: np.ndarray,
              proceeds_usd: np.ndarray, cost_usd: np.ndarray, gas_unit_usd: np.ndarray) -> None:  # fmt: skip
        """Record one model's round: debt repaid (at market), the sale's slippage, gas and liquidator profit."""
        m = self.m
        gas = flows.n_actions * gas_unit_usd
        m["liquidated_usd"] += repaid_usd
        m["n_liquidations"] += flows.n_actions
        m["slippage_usd"] += sale_value_usd - proceeds_usd
        m["gas_usd"] += gas
        m["liquidator_profit_usd"] += proceeds_usd - cost_usd - gas
        self.liquidated_by_protocol[:, pi] += repaid_usd
        self.step_liquidated += repaid_usd
        self.step_actions += flows.n_actions

    def close_step(self, t: int, market: np.ndarray, books: list[Accounts], rounds: np.ndarray,
                   unserved: np.ndarray, liquidity_flag: np.ndarray, oracle_flag: np.ndarray) -> None:  # fmt: skip
        """End of step ``t``: bad debt, flags, running extremes."""
        if not np.all(np.isfinite(market)):
            bad = ~np.isfinite(market)
            raise SimulationError(
                f"market prices went non-finite at step {t} on {int(bad.any(axis=1).sum())} path(s) "
                f"(assets: {[self.assets[a] for a in np.flatnonzero(bad.any(axis=0))]})"
            )
        m = self.m
        self.books = books
        total = self.bad_debt()
        m["bad_debt_peak_usd"] = np.maximum(m["bad_debt_peak_usd"], total)
        first = (m["first_bad_debt_step"] < 0) & (total > 1e-6)
        m["first_bad_debt_step"][first] = t
        m["max_cascade_rounds"] = np.maximum(m["max_cascade_rounds"], rounds)
        m["unserved_accounts_max"] = np.maximum(m["unserved_accounts_max"], unserved)
        np.minimum(self.min_ratio, market / self.price0, out=self.min_ratio)
        clear_flag = unserved > 0
        m["steps_liquidity_flag"] += liquidity_flag
        m["steps_unclearable_flag"] += clear_flag
        m["steps_oracle_flag"] += oracle_flag
        m["steps_in_failure_state"] += (liquidity_flag.astype(int) + clear_flag + oracle_flag) >= 2
        self.last_flags = np.stack([liquidity_flag, clear_flag, oracle_flag], axis=1)
        self.last_rounds = rounds
        self.last_liquidated = self.step_liquidated
        self.last_actions = self.step_actions
        self.last_unserved = unserved
        self.last_market = market

    def bad_debt(self) -> np.ndarray:
        """System bad debt per path (sum over protocols), USD."""
        return sum((b.bad_debt_usd for b in self.books if b is not None), np.zeros(self.last_market.shape[0]))

    def final_metrics(self, books_by_asset: list[Accounts], debt_assets: list[list[int]],
                      model_assets: list[list[str]], exo: np.ndarray, attack_cost: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
        """Per-path metrics at the end of the horizon (see :class:`firesale.results.SimulationResult`)."""
        out = dict(self.m)
        out["attack_cost_usd"] = attack_cost
        out["protocol_fees_usd"] = sum(
            (b.fees_usd for b in books_by_asset if b.fees_usd is not None), np.zeros(exo.shape[0])
        )
        out["bad_debt_usd"] = sum((b.bad_debt_usd for b in books_by_asset), np.zeros(exo.shape[0]))
        insolvent = np.zeros(exo.shape[0], dtype=bool)
        for pi, (name, book) in enumerate(zip(self.protocols, books_by_asset, strict=True)):
            out[f"bad_debt_usd_{name}"] = book.bad_debt_usd.copy()
            out[f"reserves_used_usd_{name}"] = book.reserves_used_usd
            out[f"liquidated_usd_{name}"] = self.liquidated_by_protocol[:, pi].copy()
            insolvent |= book.insolvent
            if book.bad_debt_by_asset is not None:
                for r in debt_assets[pi]:
                    out[f"bad_debt_usd_{name}_{model_assets[pi][r]}"] = book.bad_debt_by_asset[:, r]
        out["insolvent"] = insolvent
        for a, name in enumerate(self.assets):
            out[f"min_price_ratio_{name}"] = self.min_ratio[:, a].copy()
            out[f"min_exo_ratio_{name}"] = (exo[:, :, a] / self.price0[a]).min(axis=1)
        return out
