"""Pooled lending (Aave v3, Compound v2 rules): health checks and one round of liquidations, over paths.

State is structure-of-arrays with the path axis first: ``collateral`` and ``debt`` of shape
``(n_paths, n_accounts, n_reserves)`` in token units. One call of :func:`liquidation_round` checks every account on
every active path and liquidates, at most once per account, those below health factor 1 that a liquidator can and
wants to liquidate. The engine calls it repeatedly within a step: that is the cascade.

Two implementations with one meaning: :func:`liquidation_round_numpy` (the reference, vectorized over paths and
accounts) and :func:`liquidation_round_numba` (a fused kernel, parallel over paths). A test holds them equal.

Notes
-----
Health factor (Aave v3 ``GenericLogic.calculateUserAccountData``):

.. math:: HF = \\frac{\\sum_r c_r p_r LT_r}{\\sum_r d_r p_r}

Liquidation (Aave v3 ``LiquidationLogic.executeLiquidationCall``): the liquidator chooses a debt reserve ``d`` to
repay and a collateral reserve ``c`` to seize (only reserves with a liquidation threshold above 0 are collateral)
and the amount it repays, up to the rule's maximum:

- ``aave_v3`` (v3.0.x, rules ``RULES_AAVE_V30``): ``close_factor`` of the debt in ``d``, all of it when
  ``HF <= close_factor_hf_threshold`` (the contract's ``healthFactor > CLOSE_FACTOR_HF_THRESHOLD`` picks 50 %,
  so exactly 0.95 closes 100 %);
- ``aave_v3.3`` (v3.3 and later, ``RULES_AAVE_V33``): all of the debt in ``d``, unless the reserve's collateral and
  debt are both at least $2,000 (``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD``) and ``HF > 0.95``, in which case at most
  ``close_factor`` of the account's *total* debt; and a liquidation that repays only part of ``d`` and seizes only
  part of ``c`` must leave at least $1,000 of each (``MIN_LEFTOVER_BASE``, else ``MUST_NOT_LEAVE_DUST``): the
  liquidator then repays less, so that exactly $1,000 is left, or skips the pair;
- ``compound_v2`` (``RULES_COMPOUND``): ``close_factor`` of the borrow at any shortfall.

The collateral seized is the repaid value times ``1 + bonus`` at oracle prices, capped at the balance (then the
repaid debt shrinks to match). The protocol keeps ``liquidation_protocol_fee`` of the bonus part (Aave), or
its seize share of all seized collateral (Compound's ``protocolSeizeShareMantissa``).

The liquidator's decision. For every candidate it picks the (collateral, debt) pair that pays most. It is paid what
the venues would really give: ``proceeds_usd[p, c, :]`` is the proceeds curve of a cumulative sale of ``c`` (on the
grid ``sizes_usd``, interpolated linearly), so a sale of ``q`` after ``s`` already sold this round earns
``f(s + q) - f(s)``. Profit is that minus the debt bought at market price, minus gas. Candidates are then taken in
order of their stand-alone profit, each re-judged on the quote after the round's earlier sales of the same
collateral, while block space (``slots``) lasts; capital (``capital``, USD of debt bought at market) buys a partial
``debtToCover`` when it cannot buy the whole, and a candidate that does not fit or no longer pays is skipped, not a
stop. A row may stand for a cohort of ``weight`` identical accounts: it pays gas and takes block space once per
account.

References
----------
aave/aave-v3-core contracts/protocol/libraries/logic/GenericLogic.sol, LiquidationLogic.sol (v1.19.x, v3.0.2);
aave-dao/aave-v3-origin src/contracts/protocol/libraries/logic/LiquidationLogic.sol (v3.3: MIN_BASE_MAX_CLOSE_FACTOR_
THRESHOLD, MIN_LEFTOVER_BASE, close factor on total debt); compound-finance/compound-protocol
contracts/Comptroller.sol (liquidateCalculateSeizeTokens, liquidateBorrowAllowed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from firesale._threads import serial_twin

__all__ = [
    "RULES_AAVE_V30",
    "RULES_AAVE_V33",
    "RULES_COMPOUND",
    "LendingParams",
    "RoundOutput",
    "Screen",
    "candidate_count",
    "health_factor",
    "liquidation_round_numba",
    "liquidation_round_numpy",
]


#: Liquidation rule sets (``LendingParams.rules``).
RULES_AAVE_V30, RULES_AAVE_V33, RULES_COMPOUND = 0, 1, 2
#: Aave v3.3 MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD and MIN_LEFTOVER_BASE, USD.
_V33_FULL_BELOW_USD = 2000.0
_V33_MIN_LEFTOVER_USD = 1000.0


@dataclass(frozen=True)
class LendingParams:
    """Per-account effective parameters (e-mode applied), arrays of shape (n_accounts, n_reserves)."""

    liquidation_threshold: np.ndarray
    liquidation_bonus: np.ndarray
    protocol_fee: np.ndarray  # (n_reserves,)
    close_factor: float
    close_factor_hf_threshold: float
    weight: np.ndarray | None = None  # (n_accounts,) accounts merged into each row (cohorts); None means 1
    fee_on_seized: bool = (
        False  # Compound: the protocol takes its share of all seized collateral, not of the bonus
    )
    rules: int = 0  # RULES_AAVE_V30, RULES_AAVE_V33 or RULES_COMPOUND

    def weights(self) -> np.ndarray:
        """Accounts per row, int64 of shape (n_accounts,)."""
        if self.weight is None:
            return np.ones(self.liquidation_threshold.shape[0], dtype=np.int64)
        return np.asarray(self.weight, dtype=np.int64)


@dataclass
class Screen:
    """Per-path memory that lets the fused kernel skip accounts that provably cannot be liquidatable.

    If every price moved by at most a fraction ``delta`` since ``ref_prices``, then for every account
    ``HF >= ref_ratio * (1 - delta) / (1 + delta)`` (collateral and debt are non-negative). Accounts whose bound is
    at least 1 are skipped; the others are checked exactly, so results are identical to a full check. ``dirty``
    marks paths whose positions changed since the reference was taken (a liquidation): they are fully re-checked.

    Until the reference is renewed, ``delta`` stays at most :data:`SCREEN_REFRESH` (the solvency screen of
    ``protocols.solvency``, over collateral/debt value ratios, uses its own band), so an account whose
    ``ref_ratio * (1 - SCREEN_REFRESH) / (1 + SCREEN_REFRESH)`` is at least 1 is skipped at every check in between:
    each renewal lists the others (``watch``, in account order, ``n_watch`` per path), and the checks in between
    visit only them (in the flagship about 5 % of a path's accounts) instead of every account's ratio. And when a
    path's prices are exactly those of its last check and its positions did not change, its accounts below 1 are
    the last check's (``last_prices``, ``last_n_below``, the indices left in ``scratch``): push oracles that did
    not update answer that way on most steps.
    """

    ref_ratio: np.ndarray  # (n_paths, n_accounts)
    ref_prices: np.ndarray  # (n_paths, n_reserves)
    dirty: np.ndarray  # (n_paths,) bool
    scratch: (
        np.ndarray
    )  # (n_paths, n_accounts) int32: candidate indices, reused so the hot loop never allocates
    watch: np.ndarray  # (n_paths, n_accounts) int32: the accounts the screen may not skip until it is renewed
    n_watch: np.ndarray  # (n_paths,) int64
    last_prices: np.ndarray  # (n_paths, n_reserves): the prices of the last check (NaN before the first)
    last_n_below: np.ndarray  # (n_paths,) int64: how many accounts it found below 1

    @classmethod
    def empty(cls, n_paths: int, n_accounts: int, n_reserves: int) -> Screen:
        return cls(
            np.zeros((n_paths, n_accounts)),
            np.zeros((n_paths, n_reserves)),
            np.ones(n_paths, dtype=bool),
            np.zeros((n_paths, n_accounts), dtype=np.int32),
            np.zeros((n_paths, n_accounts), dtype=np.int32),
            np.zeros(n_paths, dtype=np.int64),
            np.full((n_paths, n_reserves), np.nan),
            np.zeros(n_paths, dtype=np.int64),
        )


#: Prices may move this much from the reference before a path is fully re-checked and the reference renewed.
SCREEN_REFRESH = 0.01
#: The smallest factor ``(1 - delta) / (1 + delta)`` before a renewal (the same float operations as the kernels').
_WATCH_FACTOR = (1.0 - SCREEN_REFRESH) / (1.0 + SCREEN_REFRESH)
_SCREEN_MARGIN = 1e-9  # far above float rounding of the ratio, so skipping never changes a result
#: Candidates in a round (all paths) from which they are priced in parallel; fewer, on one thread
#: (firesale._threads). Set from benchmarks/bench_threads.py.
LIQUIDATE_PARALLEL_FROM = 2048
#: Accounts x paths from which health checks (and bad debt, protocols.solvency) run in parallel; fewer, on one
#: thread. Measured in the flagship: 256 paths of 982 accounts ran faster on one thread, 2,560 in parallel.
CHECK_PARALLEL_FROM = 1 << 20


@numba.njit(inline="always")
def _screen_factor(prices, ref_prices, p, dirty, refresh):  # fmt: skip
    """(1 - delta) / (1 + delta) for path p, or -1.0 when it must be fully re-checked (``delta`` above
    ``refresh``)."""
    if dirty[p]:
        return -1.0
    delta = 0.0
    for r in range(prices.shape[1]):
        ref = ref_prices[p, r]
        if ref <= 0.0:
            return -1.0
        m = abs(prices[p, r] / ref - 1.0)
        if m > delta:
            delta = m
    if delta > refresh:
        return -1.0
    return (1.0 - delta) / (1.0 + delta)


@dataclass
class RoundOutput:
    """What one round did, per path: shapes (n_paths, n_reserves) and (n_paths,)."""

    seized: np.ndarray  # collateral handed to liquidators (net of protocol fee), token units
    fee: np.ndarray  # collateral kept by the protocol, token units
    repaid: np.ndarray  # debt repaid, token units
    n_liquidations: np.ndarray
    repaid_usd: np.ndarray  # liquidator capital spent: debt bought at market prices, USD
    n_unserved: np.ndarray  # accounts below HF 1 left unliquidated (unprofitable, or no capital/block space)
    n_candidates: np.ndarray | None = None  # accounts below HF 1 with something to seize


def health_factor(collateral: np.ndarray, debt: np.ndarray, prices: np.ndarray, lt: np.ndarray) -> np.ndarray:
    """Health factors, shape (n_paths, n_accounts); ``inf`` where there is no debt.

    ``collateral``/``debt``: (n_paths, n_accounts, n_reserves); ``prices``: (n_paths, n_reserves);
    ``lt``: (n_accounts, n_reserves).
    """
    num = np.zeros(collateral.shape[:2])
    den = np.zeros(collateral.shape[:2])
    for r in range(collateral.shape[2]):  # summed in reserve order, as the kernel does, for bit-equality
        num += collateral[:, :, r] * prices[:, None, r] * lt[None, :, r]
        den += debt[:, :, r] * prices[:, None, r]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)


Quote = np.ndarray | Callable[[np.ndarray, np.ndarray], np.ndarray]


def _proceeds_array(quote: Quote, paths: np.ndarray, needed_usd: np.ndarray) -> np.ndarray:
    """The proceeds curves, asked of a callable only for ``paths``, and for each reserve only up to the most its
    candidates could sell on one path (``needed_usd``; 0 where they hold none)."""
    return quote(paths, needed_usd) if callable(quote) else quote


def _needed_usd(
    collateral: np.ndarray, market: np.ndarray, rows: np.ndarray, accounts: np.ndarray
) -> np.ndarray:
    """Per reserve, the largest market value of collateral the candidates (rows, accounts) hold on one path."""
    per_path = np.zeros((collateral.shape[0], collateral.shape[2]))
    np.add.at(per_path, rows, collateral[rows, accounts] * market[rows])
    return per_path.max(axis=0)


@numba.njit(parallel=True, cache=True, nogil=True)
def _needed_usd_kernel(collateral, market, n_below, below):  # fmt: skip
    """:func:`_needed_usd` of the candidates ``below[p, :n_below[p]]``, summed in the same order (so the same
    floats) without building the index arrays (``np.add.at`` cost most of a round whose candidates do not pay).
    Paths in parallel; the maximum over paths, which does not depend on their order, after."""
    n_paths, _, n_res = collateral.shape
    per = np.zeros((n_paths, n_res))
    for p in numba.prange(n_paths):
        for k in range(n_below[p]):
            a = below[p, k]
            for r in range(n_res):
                per[p, r] += collateral[p, a, r] * market[p, r]
    out = np.zeros(n_res)
    for p in range(n_paths):
        if n_below[p] == 0:
            continue
        for r in range(n_res):
            if per[p, r] > out[r]:
                out[r] = per[p, r]
    return out


@numba.njit(inline="always")
def _curve_at(sizes, curve, x):  # fmt: skip
    """Linear interpolation of ``curve`` on grid ``sizes`` at ``x`` (the last segment extended beyond the grid)."""
    n = sizes.shape[0]
    if x >= sizes[n - 2]:
        k = n - 2
    else:
        lo = 0
        hi = n - 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if sizes[mid] <= x:
                lo = mid
            else:
                hi = mid
        k = lo
    return curve[k] + (curve[k + 1] - curve[k]) * (x - sizes[k]) / (sizes[k + 1] - sizes[k])


def _curve_at_numpy(sizes: np.ndarray, curves: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Vectorized :func:`_curve_at`: ``curves`` (m, n_sizes), ``x`` (m,)."""
    k = np.clip(np.searchsorted(sizes, x, side="right") - 1, 0, sizes.shape[0] - 2)
    rows = np.arange(x.shape[0])
    y0, y1 = curves[rows, k], curves[rows, k + 1]
    return y0 + (y1 - y0) * (x - sizes[k]) / (sizes[k + 1] - sizes[k])


@numba.njit(inline="always")
def _undust(cover, seize, debt_d, coll_c, p_c, p_d, b):  # fmt: skip
    """Aave v3.3 MUST_NOT_LEAVE_DUST: the largest repayment up to ``cover`` that leaves >= $1,000 of both, or -1."""
    partial = cover < debt_d and seize < coll_c
    if partial and (
        (debt_d - cover) * p_d < _V33_MIN_LEFTOVER_USD or (coll_c - seize) * p_c < _V33_MIN_LEFTOVER_USD
    ):
        cover = min(
            cover, debt_d - _V33_MIN_LEFTOVER_USD / p_d,
            (coll_c - _V33_MIN_LEFTOVER_USD / p_c) * p_c / (p_d * (1.0 + b)),
        )  # fmt: skip
        if cover <= 0.0:
            return -1.0
    return cover


@numba.njit(inline="always")
def _plan(coll_c, debt_d, total_debt_usd, p_c, p_d, b, hf, close_factor, cf_threshold, rules):  # fmt: skip
    """The rule's maximum repayment of debt ``d`` against collateral ``c``, and the collateral it seizes."""
    if rules == RULES_AAVE_V30:
        cover = debt_d * (1.0 if hf <= cf_threshold else close_factor)
    elif rules == RULES_COMPOUND:
        cover = debt_d * close_factor
    else:
        cover = debt_d
        if coll_c * p_c >= _V33_FULL_BELOW_USD and debt_d * p_d >= _V33_FULL_BELOW_USD and hf > cf_threshold:
            cap = total_debt_usd * close_factor
            if debt_d * p_d > cap:
                cover = cap / p_d
    seize = cover * p_d * (1.0 + b) / p_c
    if seize > coll_c:
        seize = coll_c
        cover = coll_c * p_c / (p_d * (1.0 + b))
    if rules == RULES_AAVE_V33:
        cover = _undust(cover, seize, debt_d, coll_c, p_c, p_d, b)
        if cover < 0.0:
            return -1.0, 0.0
        if seize < coll_c:
            seize = cover * p_d * (1.0 + b) / p_c
    return cover, seize


@numba.njit(inline="always")
def _weighted_values(collateral, debt, oracle, lt, p, a, n_res):  # fmt: skip
    """Account ``a``'s collateral value weighted by its liquidation thresholds, and its debt value, on path ``p``
    (``n_res`` reserves: a compile-time constant where it is the length of :func:`_reserve_witness`'s tuple)."""
    num = 0.0
    den = 0.0
    for r in range(n_res):
        num += collateral[p, a, r] * oracle[p, r] * lt[a, r]
        den += debt[p, a, r] * oracle[p, r]
    return num, den


@numba.njit(parallel=True, cache=True, nogil=True)
def _candidates_kernel(collateral, debt, oracle, lt, active, n_below_out, ref_ratio, ref_prices, dirty, below,
                       watch, n_watch, last_prices, last_n_below, reserves):  # fmt: skip
    """The accounts below 1 on every active path into ``below`` (counts in ``n_below_out``), through the screen.

    ``reserves`` is :func:`_reserve_witness`'s tuple: its length is part of the compiled type, so the per-account
    loops over reserves have a constant trip count and unroll: the full check of the bandwidth benchmark's book ran
    1.1x faster, and with the branch-free lists below 2.3-2.6x on books whose health factors scatter around the
    watch threshold (4 and 7 reserves)."""
    n_paths, n_acc = collateral.shape[:2]
    n_res = len(reserves) if len(reserves) > 0 else collateral.shape[2]
    for p in numba.prange(n_paths):
        n_below_out[p] = 0
        if not active[p]:
            continue
        if not dirty[p]:
            same = True
            for r in range(n_res):
                if oracle[p, r] != last_prices[p, r]:
                    same = False
                    break
            if same:  # nothing an account's health depends on changed: the last check's list stands
                n_below_out[p] = last_n_below[p]
                continue
        # Health checks, skipping accounts the screen proves safe; remember those below 1 (in account order).
        factor = _screen_factor(oracle, ref_prices, p, dirty, SCREEN_REFRESH)
        n_below = 0
        if factor < 0.0:  # renew: every account, its ratio and the watch list
            n_w = 0
            for a in range(n_acc):
                num, den = _weighted_values(collateral, debt, oracle, lt, p, a, n_res)
                ratio = num / den if den > 0.0 else np.inf
                ref_ratio[p, a] = ratio
                # Written always and kept only when it counts (the lists are read up to their counts): a branch
                # per account here mispredicts often enough to cost more than the store.
                watch[p, n_w] = a
                n_w += not ratio * _WATCH_FACTOR >= 1.0 + _SCREEN_MARGIN
                below[p, n_below] = a
                n_below += den > 0.0 and num > 0.0 and ratio < 1.0  # num > 0: something to seize
            for r in range(n_res):
                ref_prices[p, r] = oracle[p, r]
            dirty[p] = False
            n_watch[p] = n_w
        else:  # between renewals: only the watched accounts can be below 1
            for i in range(n_watch[p]):
                a = watch[p, i]
                if ref_ratio[p, a] * factor >= 1.0 + _SCREEN_MARGIN:
                    continue
                num, den = _weighted_values(collateral, debt, oracle, lt, p, a, n_res)
                below[p, n_below] = a
                n_below += den > 0.0 and num > 0.0 and num / den < 1.0
        for r in range(n_res):
            last_prices[p, r] = oracle[p, r]
        last_n_below[p] = n_below
        n_below_out[p] = n_below


@numba.njit(inline="always")
def _steepest(sizes, curve):  # fmt: skip
    """The steepest segment of a proceeds curve (NaN if any segment is NaN): no increment of ``x`` USD sold, from
    any starting point, yields more than ``x`` times it."""
    best = -np.inf
    for k in range(sizes.shape[0] - 1):
        s = (curve[k + 1] - curve[k]) / (sizes[k + 1] - sizes[k])
        if s != s:
            return np.nan
        if s > best:
            best = s
    return best


@numba.njit(inline="always")
def _surely_cannot_pay(collateral, debt, market, lt, bonus_all, protocol_fee, close_factor, slope, gas, min_profit, p,
                       a, n_res):  # fmt: skip
    """True only when :func:`_may_pay` would be False, proved without a pair: no pair sells more than all of one
    collateral (the seizure is capped at it, the fee is not negative), so a pair's gain is at most the largest
    ``slope x collateral value at market``; and its repayment (at most the debt times ``max(1, close_factor)``) only
    widens the margin, bounded here twice over. Anything this cannot bound (NaN, a negative price, fee or bonus)
    is left to the pair-by-pair check."""
    gain = 0.0
    reach = 0.0  # what the margin's |slope x sale| can reach
    owed = 0.0
    for c in range(n_res):
        if not (lt[a, c] > 0.0 and collateral[p, a, c] > 0.0):
            continue
        s = slope[p, c]
        m = market[p, c]
        if not (m >= 0.0 and s == s and protocol_fee[c] >= 0.0 and bonus_all[a, c] >= 0.0):
            return False
        v = collateral[p, a, c] * m
        if s * v > gain:
            gain = s * v
        if abs(s) * v > reach:
            reach = abs(s) * v
    for d in range(n_res):
        if debt[p, a, d] > 0.0:
            if not market[p, d] >= 0.0:
                return False
            owed = max(owed, debt[p, a, d] * market[p, d] * max(1.0, close_factor))
    margin = 2e-9 * (reach + owed + abs(gas)) + 1e-300
    return gain - gas < min_profit - margin


@numba.njit(inline="always")
def _may_pay(collateral, debt, oracle, market, lt, bonus_all, protocol_fee, fee_on_seized, close_factor, cf_threshold,
             rules, slope, gas, min_profit, p, a, n_res):  # fmt: skip
    """False only when no (collateral, debt) pair of account ``a`` can pay ``min_profit``: at most the steepest
    rate of its proceeds curve times what it sells, less its repayment and gas. A repayment cut to the capital left
    sells less in the same proportion (the seizure is proportional to the repayment), so it cannot pay either.
    NaN bounds count as paying, so a NaN quote is judged as before."""
    num, den = _weighted_values(collateral, debt, oracle, lt, p, a, n_res)
    hf = num / den
    for c in range(n_res):
        if not (lt[a, c] > 0.0 and collateral[p, a, c] > 0.0):
            continue
        b = bonus_all[a, c]
        for d in range(n_res):
            if not debt[p, a, d] > 0.0:
                continue
            cover, seize = _plan(collateral[p, a, c], debt[p, a, d], den, oracle[p, c], oracle[p, d], b, hf,
                                 close_factor, cf_threshold, rules)  # fmt: skip
            if cover < 0.0:
                continue
            f = (seize if fee_on_seized else seize - seize / (1.0 + b)) * protocol_fee[c]
            sale = (seize - f) * market[p, c]
            cost = cover * market[p, d]
            gain = slope[p, c] * sale - cost
            if gain < 0.0:
                gain = 0.0
            margin = 1e-9 * (abs(slope[p, c] * sale) + abs(cost) + abs(gas)) + 1e-300
            if not gain - gas < min_profit - margin:
                return True
    return False


@numba.njit(parallel=True, cache=True, nogil=True)
def _liquidate_kernel(
    collateral, debt, oracle, market, lt, bonus_all, protocol_fee, fee_on_seized, close_factor, cf_threshold, rules,
    weight, n_below_in, below, slots, capital, gas_usd, sizes, proceeds, min_profit,
    seized, fee_out, repaid, n_liq, repaid_usd, n_unserved, n_cand_out, dirty, offsets, work_f, work_i, slope,
    reserves,
):  # fmt: skip
    n_paths = collateral.shape[0]
    n_res = len(reserves) if len(reserves) > 0 else collateral.shape[2]  # see _candidates_kernel
    for p in numba.prange(n_paths):
        n_liq[p] = 0
        repaid_usd[p] = 0.0
        n_unserved[p] = 0
        n_cand_out[p] = 0
        n_below = n_below_in[p]
        if n_below == 0:
            continue
        # Each candidate's most profitable (collateral, debt) pair, judged alone on the venues' quotes. The path's
        # working arrays are its slice of the caller's (no allocation per path: it cost more than the checks).
        o, e = offsets[p], offsets[p + 1]
        key = work_f[0, o:e]
        cover_k = work_f[1, o:e]
        seize_k = work_f[2, o:e]
        fee_k = work_f[3, o:e]
        c_k = work_i[0, o:e]
        d_k = work_i[1, o:e]
        take = work_i[2, o:e]
        key[:] = np.inf
        fee_k[:] = 0.0
        take[:] = 0
        for c in range(n_res):
            slope[p, c] = _steepest(sizes, proceeds[p, c])
        n_cand = 0
        n_priced = 0
        for k in range(n_below):
            a = below[p, k]
            n_cand += weight[a]
            gas = gas_usd[p] * weight[a]
            if (
                weight[a] > slots[p]
                or _surely_cannot_pay(collateral, debt, market, lt, bonus_all, protocol_fee, close_factor, slope,
                                      gas, min_profit, p, a, n_res)
                or not _may_pay(collateral, debt, oracle, market, lt, bonus_all, protocol_fee, fee_on_seized,
                                close_factor, cf_threshold, rules, slope, gas, min_profit, p, a, n_res)
            ):  # fmt: skip
                continue  # never taken below (key inf): it cannot fit in the slots left or pay in any pair
            n_priced += 1
            num, den = _weighted_values(collateral, debt, oracle, lt, p, a, n_res)
            hf = num / den
            best = -np.inf
            for c in range(n_res):
                if not (lt[a, c] > 0.0 and collateral[p, a, c] > 0.0):
                    continue
                b = bonus_all[a, c]
                for d in range(n_res):
                    if not debt[p, a, d] > 0.0:
                        continue
                    cover, seize = _plan(collateral[p, a, c], debt[p, a, d], den, oracle[p, c], oracle[p, d], b, hf,
                                         close_factor, cf_threshold, rules)  # fmt: skip
                    if cover < 0.0:
                        continue
                    f = (seize if fee_on_seized else seize - seize / (1.0 + b)) * protocol_fee[c]
                    sale = (seize - f) * market[p, c]
                    pr = (
                        _curve_at(sizes, proceeds[p, c], sale) - cover * market[p, d] - gas_usd[p] * weight[a]
                    )
                    if pr > best:
                        best = pr
                        c_k[k] = c
                        d_k[k] = d
                        cover_k[k] = cover
                        seize_k[k] = seize
            if best > -np.inf:
                key[k] = -best
        if n_priced == 0:  # nothing can pay: nothing is taken (the decision below would stop at once)
            n_unserved[p] = n_cand
            n_cand_out[p] = n_cand
            continue
        # Decide in order of stand-alone profit, each on the quote after the round's earlier sales; skip, never stop.
        order = np.argsort(key, kind="mergesort")
        sold = np.zeros(n_res)
        taken = 0
        spent = 0.0
        for j in range(n_below):
            k = order[j]
            if key[k] == np.inf:
                break
            a = below[p, k]
            if taken + weight[a] > slots[p]:
                continue
            c = c_k[k]
            d = d_k[k]
            b = bonus_all[a, c]
            cover = cover_k[k]
            seize = seize_k[k]
            cost = cover * market[p, d]
            left = capital[p] - spent
            if cost > left:
                if not left > 0.0:
                    continue
                cover = cover * (left / cost)
                seize = cover * oracle[p, d] * (1.0 + b) / oracle[p, c]
                if rules == RULES_AAVE_V33:
                    cover = _undust(
                        cover, seize, debt[p, a, d], collateral[p, a, c], oracle[p, c], oracle[p, d], b
                    )
                    if not cover > 0.0:
                        continue
                    seize = cover * oracle[p, d] * (1.0 + b) / oracle[p, c]
                cost = cover * market[p, d]
            f = (seize if fee_on_seized else seize - seize / (1.0 + b)) * protocol_fee[c]
            sale = (seize - f) * market[p, c]
            got = _curve_at(sizes, proceeds[p, c], sold[c] + sale) - _curve_at(sizes, proceeds[p, c], sold[c])
            if got - cost - gas_usd[p] * weight[a] < min_profit:
                continue
            sold[c] += sale
            spent += cost
            taken += weight[a]
            take[k] = 1
            cover_k[k] = cover
            seize_k[k] = seize
            fee_k[k] = f
        for k in range(n_below):  # applied in account order (the NumPy reference's summation order)
            if take[k] == 1:
                a = below[p, k]
                c = c_k[k]
                d = d_k[k]
                collateral[p, a, c] -= seize_k[k]
                debt[p, a, d] -= cover_k[k]
                seized[p, c] += seize_k[k] - fee_k[k]
                fee_out[p, c] += fee_k[k]
                repaid[p, d] += cover_k[k]
        n_liq[p] = taken
        repaid_usd[p] = spent
        n_unserved[p] = n_cand - taken
        n_cand_out[p] = n_cand
        slots[p] -= taken
        capital[p] -= spent
        if taken > 0:
            dirty[p] = True


_candidates_serial = serial_twin(_candidates_kernel, cache=True, nogil=True)
_needed_usd_serial = serial_twin(_needed_usd_kernel, cache=True, nogil=True)
_liquidate_serial = serial_twin(_liquidate_kernel, cache=True, nogil=True)


def candidate_count(
    collateral: np.ndarray, debt: np.ndarray, oracle: np.ndarray, params: LendingParams, active: np.ndarray,
    screen: Screen,
) -> np.ndarray:  # fmt: skip
    """Accounts below health factor 1 with something to seize, per path (int64, (n_paths,)); their indices are left
    in ``screen.scratch`` for :func:`liquidation_round_numba`."""
    n = np.zeros(collateral.shape[0], dtype=np.int64)
    # Small books are checked on one thread (firesale._threads).
    big = collateral.shape[0] * collateral.shape[1] >= CHECK_PARALLEL_FROM
    (_candidates_kernel if big else _candidates_serial)(
        collateral, debt, oracle, params.liquidation_threshold, active, n, screen.ref_ratio, screen.ref_prices,
        screen.dirty, screen.scratch, screen.watch, screen.n_watch, screen.last_prices, screen.last_n_below,
        _reserve_witness(collateral.shape[2]),
    )  # fmt: skip
    return n


#: Reserve counts for which the lending kernels are compiled with a constant count (:func:`_reserve_witness`); other
#: counts share one compilation that reads it from the arrays. Each count compiles the kernels anew (seconds each on
#: a cold cache), and short loops gain least from unrolling.
UNROLLED_RESERVES = range(4, 17)


@functools.cache
def _reserve_witness(n_res: int) -> tuple[int, ...]:
    """A tuple of ``n_res`` zeros, whose length a Numba kernel sees as a constant, for counts in
    :data:`UNROLLED_RESERVES`; else the empty tuple (the kernel reads the count from its arrays)."""
    return (0,) * n_res if n_res in UNROLLED_RESERVES else ()


def liquidation_round_numba(
    collateral: np.ndarray,
    debt: np.ndarray,
    oracle: np.ndarray,
    market: np.ndarray,
    params: LendingParams,
    active: np.ndarray,
    slots: np.ndarray,
    capital: np.ndarray,
    gas_usd: np.ndarray,
    min_profit: float,
    sizes_usd: np.ndarray,
    proceeds: Quote,
    screen: Screen | None = None,
) -> RoundOutput:
    """Fused, parallel equivalent of :func:`liquidation_round_numpy` (same arguments, same results).

    ``screen`` (kept by the caller across rounds and steps) lets the kernel skip accounts that cannot be below
    health factor 1; without it every account is checked. ``proceeds`` is asked only for the paths that have a
    candidate.
    """
    n_paths, n_acc, n_res = collateral.shape
    out = _empty_output(n_paths, n_res)
    if screen is None:
        screen = Screen.empty(n_paths, n_acc, n_res)
    n_below = candidate_count(collateral, debt, oracle, params, active, screen)
    paths = np.flatnonzero(n_below)
    if paths.size == 0:
        return out
    offsets = np.zeros(n_paths + 1, dtype=np.int64)
    np.cumsum(n_below, out=offsets[1:])
    # A quiet round has a few candidates in all: one thread does them sooner than two (firesale._threads).
    many = offsets[-1] >= LIQUIDATE_PARALLEL_FROM
    needed = (_needed_usd_kernel if many else _needed_usd_serial)(collateral, market, n_below, screen.scratch)
    curves = _proceeds_array(proceeds, paths, needed)
    (_liquidate_kernel if many else _liquidate_serial)(
        collateral, debt, oracle, market, params.liquidation_threshold, params.liquidation_bonus,
        params.protocol_fee, bool(params.fee_on_seized), float(params.close_factor),
        float(params.close_factor_hf_threshold), int(params.rules), params.weights(), n_below, screen.scratch,
        slots, capital, gas_usd, np.ascontiguousarray(sizes_usd, dtype=float), curves, float(min_profit),
        out.seized, out.fee, out.repaid, out.n_liquidations, out.repaid_usd, out.n_unserved, out.n_candidates,
        screen.dirty, offsets, np.empty((4, offsets[-1])), np.empty((3, offsets[-1]), dtype=np.int64),
        np.empty((n_paths, n_res)), _reserve_witness(n_res),
    )  # fmt: skip
    return out


def _plan_numpy(coll_c, debt_d, total_debt_usd, p_c, p_d, b, hf, params):  # type: ignore[no-untyped-def]
    """Vectorized :func:`_plan` (same operations, same order): (cover, seize), cover -1 where no liquidation."""
    cf, thr, rules = params.close_factor, params.close_factor_hf_threshold, params.rules
    with np.errstate(divide="ignore", invalid="ignore"):
        if rules == RULES_AAVE_V30:
            cover = debt_d * np.where(hf <= thr, 1.0, cf)
        elif rules == RULES_COMPOUND:
            cover = debt_d * cf
        else:
            cap = total_debt_usd * cf
            big = (coll_c * p_c >= _V33_FULL_BELOW_USD) & (debt_d * p_d >= _V33_FULL_BELOW_USD) & (hf > thr)
            cover = np.where(big & (debt_d * p_d > cap), cap / p_d, debt_d)
        seize = cover * p_d * (1.0 + b) / p_c
        capped = seize > coll_c
        seize = np.where(capped, coll_c, seize)
        cover = np.where(capped, coll_c * p_c / (p_d * (1.0 + b)), cover)
        if rules == RULES_AAVE_V33:
            cover = _undust_numpy(cover, seize, debt_d, coll_c, p_c, p_d, b)
            seize = np.where((cover >= 0) & (seize < coll_c), cover * p_d * (1.0 + b) / p_c, seize)
    return cover, seize


def _undust_numpy(cover, seize, debt_d, coll_c, p_c, p_d, b):  # type: ignore[no-untyped-def]
    partial = (cover < debt_d) & (seize < coll_c)
    dust = partial & (
        ((debt_d - cover) * p_d < _V33_MIN_LEFTOVER_USD) | ((coll_c - seize) * p_c < _V33_MIN_LEFTOVER_USD)
    )
    lower = np.minimum(
        np.minimum(cover, debt_d - _V33_MIN_LEFTOVER_USD / p_d),
        (coll_c - _V33_MIN_LEFTOVER_USD / p_c) * p_c / (p_d * (1.0 + b)),
    )
    out = np.where(dust, lower, cover)
    return np.where(dust & (out <= 0.0), -1.0, out)


def liquidation_round_numpy(
    collateral: np.ndarray,
    debt: np.ndarray,
    oracle: np.ndarray,
    market: np.ndarray,
    params: LendingParams,
    active: np.ndarray,
    slots: np.ndarray,
    capital: np.ndarray,
    gas_usd: np.ndarray,
    min_profit: float,
    sizes_usd: np.ndarray,
    proceeds: Quote,
    screen: Screen | None = None,
) -> RoundOutput:
    """One round of health checks and liquidations; mutates ``collateral``, ``debt``, ``slots`` and ``capital``.

    Parameters
    ----------
    collateral, debt : ndarray of shape (n_paths, n_accounts, n_reserves)
    oracle, market : ndarray of shape (n_paths, n_reserves)
        Prices the protocol believes, and prices liquidators trade at (USD).
    params : LendingParams
    active : ndarray of bool, shape (n_paths,)
        Paths to check this round (others are left untouched).
    slots : ndarray of int64, shape (n_paths,)
        Block space left this step.
    capital : ndarray of float64, shape (n_paths,)
        Liquidator capital left this step, USD of debt bought at market.
    gas_usd : ndarray of shape (n_paths,)
        Gas cost of one liquidation, USD.
    min_profit : float
    sizes_usd : ndarray of shape (n_sizes,)
        Increasing sale sizes, ``sizes_usd[0] == 0``.
    proceeds : ndarray of shape (n_paths, n_reserves, n_sizes), or callable
        Proceeds curves of selling each reserve (see module Notes); a callable is given the path indices that have
        a candidate and, per reserve, the most USD their candidates could sell on one path (0: none), and returns
        the full array (exact at least on those paths up to those sizes).
    screen : Screen, optional
        Ignored: the reference checks every account (the fused kernel uses it to skip safe ones).
    """
    n_paths, n_acc, n_res = collateral.shape
    lt, bonus_all = params.liquidation_threshold, params.liquidation_bonus
    out = _empty_output(n_paths, n_res)
    out.n_candidates = np.zeros(n_paths, dtype=np.int64)
    idx = np.flatnonzero(active)
    if idx.size == 0 or n_acc == 0:
        return out
    num = np.zeros((idx.size, n_acc))
    den = np.zeros((idx.size, n_acc))
    for r in range(n_res):  # summed in reserve order, as the kernel does, for bit-equality
        num += collateral[idx, :, r] * oracle[idx, None, r] * lt[None, :, r]
        den += debt[idx, :, r] * oracle[idx, None, r]
    with np.errstate(divide="ignore", invalid="ignore"):
        cand = (den > 0) & (num > 0) & (num / np.where(den > 0, den, 1.0) < 1.0)
    ci, aa = np.nonzero(cand)  # path-major, account order
    if ci.size == 0:
        return out
    pp = idx[ci]
    curves = _proceeds_array(proceeds, np.unique(pp), _needed_usd(collateral, market, pp, aa))
    sizes = np.asarray(sizes_usd, dtype=float)
    w = params.weights()
    hf = num[ci, aa] / den[ci, aa]
    tot = den[ci, aa]
    m = ci.size
    # Every (collateral, debt) pair of every candidate: (m, n_res, n_res).
    coll = collateral[pp, aa][:, :, None] * np.ones((1, 1, n_res))
    dbt = debt[pp, aa][:, None, :] * np.ones((1, n_res, 1))
    p_c = oracle[pp][:, :, None] * np.ones((1, 1, n_res))
    p_d = oracle[pp][:, None, :] * np.ones((1, n_res, 1))
    b = bonus_all[aa][:, :, None] * np.ones((1, 1, n_res))
    valid = (lt[aa][:, :, None] > 0) & (coll > 0) & (dbt > 0)
    cover, seize = _plan_numpy(coll, dbt, tot[:, None, None], p_c, p_d, b, hf[:, None, None], params)
    valid &= cover >= 0
    pf = params.protocol_fee[None, :, None]
    fee = (seize if params.fee_on_seized else seize - seize / (1.0 + b)) * pf
    sale = (seize - fee) * market[pp][:, :, None]
    cidx = np.broadcast_to(np.arange(n_res)[None, :, None], (m, n_res, n_res))
    flat_rows = np.repeat(pp, n_res * n_res)
    got = _curve_at_numpy(sizes, curves[flat_rows, cidx.ravel()], np.where(valid, sale, 0.0).ravel()).reshape(
        m, n_res, n_res
    )
    profit = got - cover * market[pp][:, None, :] - (gas_usd[pp] * w[aa])[:, None, None]
    profit = np.where(valid, profit, -np.inf)
    best = np.argmax(profit.reshape(m, -1), axis=1)
    c, d = best // n_res, best % n_res
    r = np.arange(m)
    best_profit = profit[r, c, d]
    planned = best_profit > -np.inf
    cover_k, seize_k = cover[r, c, d], seize[r, c, d]
    # Rank candidates within each path by stand-alone profit (stable: account order on ties).
    key = np.where(planned, -best_profit, np.inf)
    order = np.lexsort((key, ci))
    starts = np.searchsorted(ci[order], ci[order], side="left")
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(m) - starts
    sold = np.zeros((n_paths, n_res))
    spent = np.zeros(n_paths)
    taken = np.zeros(n_paths, dtype=np.int64)
    take = np.zeros(m, dtype=bool)
    fee_k = np.zeros(m)
    b_k = bonus_all[aa, c]
    for j in range(int(rank.max()) + 1):
        sel = np.flatnonzero((rank == j) & planned)
        if sel.size == 0:
            continue
        p, a = pp[sel], aa[sel]
        cs, ds, bs = c[sel], d[sel], b_k[sel]
        fits = taken[p] + w[a] <= slots[p]
        cov, sez = cover_k[sel], seize_k[sel]
        cost = cov * market[p, ds]
        left = capital[p] - spent[p]
        short = cost > left
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = cov * (left / cost)
            scaled_seize = scaled * oracle[p, ds] * (1.0 + bs) / oracle[p, cs]
            if params.rules == RULES_AAVE_V33:
                scaled = _undust_numpy(
                    scaled,
                    scaled_seize,
                    debt[p, a, ds],
                    collateral[p, a, cs],
                    oracle[p, cs],
                    oracle[p, ds],
                    bs,
                )
                scaled_seize = scaled * oracle[p, ds] * (1.0 + bs) / oracle[p, cs]
            ok = ~short | ((left > 0.0) & (scaled > 0.0))
            cov = np.where(short, scaled, cov)
            sez = np.where(short, scaled_seize, sez)
            cost = np.where(short, cov * market[p, ds], cost)
        f = (sez if params.fee_on_seized else sez - sez / (1.0 + bs)) * params.protocol_fee[cs]
        sl = (sez - f) * market[p, cs]
        before = sold[p, cs]
        gain = _curve_at_numpy(sizes, curves[p, cs], before + sl) - _curve_at_numpy(
            sizes, curves[p, cs], before
        )
        ok &= fits & (gain - cost - gas_usd[p] * w[a] >= min_profit)
        ok_i = sel[ok]
        po, co = p[ok], cs[ok]
        sold[po, co] = before[ok] + sl[ok]
        spent[po] = spent[po] + cost[ok]
        taken[po] = taken[po] + w[a][ok]
        take[ok_i] = True
        cover_k[ok_i], seize_k[ok_i], fee_k[ok_i] = cov[ok], sez[ok], f[ok]
    t = np.flatnonzero(take)  # account order within each path, as the kernel applies them
    tp, ta, tc, td = pp[t], aa[t], c[t], d[t]
    collateral[tp, ta, tc] -= seize_k[t]
    debt[tp, ta, td] -= cover_k[t]
    np.add.at(out.seized, (tp, tc), seize_k[t] - fee_k[t])
    np.add.at(out.fee, (tp, tc), fee_k[t])
    np.add.at(out.repaid, (tp, td), cover_k[t])
    n_cand = np.bincount(pp, weights=w[aa], minlength=n_paths).astype(np.int64)
    out.n_liquidations[:] = taken
    out.repaid_usd[:] = spent
    out.n_unserved[:] = n_cand - taken
    out.n_candidates[:] = n_cand
    slots -= taken
    capital -= spent
    return out


def _empty_output(n_paths: int, n_res: int) -> RoundOutput:
    z = np.zeros((n_paths, n_res))
    return RoundOutput(
        seized=z,
        fee=z.copy(),
        repaid=z.copy(),
        n_liquidations=np.zeros(n_paths, dtype=np.int64),
        repaid_usd=np.zeros(n_paths),
        n_unserved=np.zeros(n_paths, dtype=np.int64),
        n_candidates=np.zeros(n_paths, dtype=np.int64),
    )
