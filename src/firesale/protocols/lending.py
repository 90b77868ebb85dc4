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

Liquidation (Aave v3 ``LiquidationLogic.executeLiquidationCall``): the liquidator repays the account's largest debt
reserve ``d`` and seizes its largest collateral reserve ``c`` (by oracle value; only reserves with a liquidation
threshold above 0 are collateral). It may repay ``close_factor`` of the
debt in ``d`` (all of it when ``HF < close_factor_hf_threshold``; Aave's CLOSE_FACTOR_HF_THRESHOLD is 0.95). The
collateral seized is the repaid value times ``1 + bonus`` at oracle prices, capped at the account's balance (then
the repaid debt shrinks to match). The protocol keeps ``liquidation_protocol_fee`` of the bonus part. Compound v2
(``Comptroller.liquidateCalculateSeizeTokens``) is the same computation with one incentive for every market and
``close_factor`` applying at any shortfall (set ``close_factor_hf_threshold`` to 0).

A liquidator acts only when its expected profit is at least ``min_profit``: what it can sell the collateral for
(market price, less its estimate of slippage ``impact_coef * (seized_usd) ** impact_exp``) minus what the repaid
debt costs at market price, minus gas. A row may stand for a cohort of ``weight`` identical accounts: it pays gas
and takes block space once per account. Liquidations are taken in order of profit, while block space
(``slots``) and capital (``capital``, in USD of repaid debt at oracle prices) last.

References
----------
aave/aave-v3-core contracts/protocol/libraries/logic/GenericLogic.sol, LiquidationLogic.sol (v1.19.x);
compound-finance/compound-protocol contracts/Comptroller.sol (liquidateCalculateSeizeTokens, liquidateBorrowAllowed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = [
    "LendingParams",
    "RoundOutput",
    "Screen",
    "health_factor",
    "liquidation_round_numba",
    "liquidation_round_numpy",
]


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
    """

    ref_ratio: np.ndarray  # (n_paths, n_accounts)
    ref_prices: np.ndarray  # (n_paths, n_reserves)
    dirty: np.ndarray  # (n_paths,) bool
    scratch: (
        np.ndarray
    )  # (n_paths, n_accounts) int64: candidate indices, reused so the hot loop never allocates

    @classmethod
    def empty(cls, n_paths: int, n_accounts: int, n_reserves: int) -> Screen:
        return cls(
            np.zeros((n_paths, n_accounts)),
            np.zeros((n_paths, n_reserves)),
            np.ones(n_paths, dtype=bool),
            np.zeros((n_paths, n_accounts), dtype=np.int64),
        )


#: Prices may move this much from the reference before a path is fully re-checked and the reference renewed.
SCREEN_REFRESH = 0.01
_SCREEN_MARGIN = 1e-9  # far above float rounding of the ratio, so skipping never changes a result


@numba.njit(inline="always")
def _screen_factor(prices, ref_prices, p, dirty):  # fmt: skip
    """(1 - delta) / (1 + delta) for path p, or -1.0 when it must be fully re-checked."""
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
    if delta > SCREEN_REFRESH:
        return -1.0
    return (1.0 - delta) / (1.0 + delta)


@dataclass
class RoundOutput:
    """What one round did, per path: shapes (n_paths, n_reserves) and (n_paths,)."""

    seized: np.ndarray  # collateral handed to liquidators (net of protocol fee), token units
    fee: np.ndarray  # collateral kept by the protocol, token units
    repaid: np.ndarray  # debt repaid, token units
    n_liquidations: np.ndarray
    repaid_usd: np.ndarray  # at oracle prices
    n_unserved: np.ndarray  # accounts below HF 1 left unliquidated (unprofitable, or no capital/block space)


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
    impact_coef: np.ndarray,
    impact_exp: np.ndarray,
    min_profit: float,
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
        Liquidator capital left this step, USD.
    gas_usd : ndarray of shape (n_paths,)
        Gas cost of one liquidation, USD.
    impact_coef : ndarray of shape (n_paths, n_reserves); impact_exp : ndarray of shape (n_reserves,)
        The liquidator's slippage estimate, as a fraction of the sale: ``coef * usd ** exp``.
    min_profit : float
    screen : Screen, optional
        Ignored: the reference checks every account (the fused kernel uses it to skip safe ones).
    """
    n_paths, n_acc, n_res = collateral.shape
    lt, bonus_all = params.liquidation_threshold, params.liquidation_bonus
    out = _empty_output(n_paths, n_res)
    idx = np.flatnonzero(active)
    if idx.size == 0 or n_acc == 0:
        return out
    coll, dbt = collateral[idx], debt[idx]
    orc, mkt = oracle[idx], market[idx]
    hf = health_factor(coll, dbt, orc, lt)
    cand = hf < 1.0
    coll_val = np.where(
        lt[None, :, :] > 0, coll * orc[:, None, :], 0.0
    )  # only collateral (LT > 0) is seizable
    debt_val = dbt * orc[:, None, :]
    c = np.argmax(coll_val, axis=2)  # first maximum, as the kernel's strict '>' scan
    d = np.argmax(debt_val, axis=2)
    cand &= np.take_along_axis(coll_val, c[..., None], 2)[..., 0] > 0
    pi = np.arange(idx.size)[:, None]
    ai = np.arange(n_acc)[None, :]
    cf = np.where(hf < params.close_factor_hf_threshold, 1.0, params.close_factor)
    bonus = bonus_all[ai, c]
    p_c, p_d = orc[pi, c], orc[pi, d]
    debt_cover = dbt[pi, ai, d] * cf
    seize = debt_cover * p_d * (1.0 + bonus) / p_c
    bal = coll[pi, ai, c]
    capped = seize > bal
    seize = np.where(capped, bal, seize)
    debt_cover = np.where(capped, bal * p_c / (p_d * (1.0 + bonus)), debt_cover)
    fee = (seize if params.fee_on_seized else seize - seize / (1.0 + bonus)) * params.protocol_fee[c]
    net = seize - fee
    sale_usd = net * mkt[pi, c]
    slip = impact_coef[idx][pi, c] * sale_usd ** impact_exp[c]
    w = params.weights()
    profit = (
        sale_usd * (1.0 - np.minimum(slip, 1.0)) - debt_cover * mkt[pi, d] - gas_usd[idx, None] * w[None, :]
    )
    ok = cand & (profit >= min_profit)
    cost = debt_cover * p_d
    # Greedy in order of profit (stable on ties), while block space and capital last.
    key = np.where(ok, -profit, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    ok_sorted = np.take_along_axis(ok, order, 1)
    cost_sorted = np.where(ok_sorted, np.take_along_axis(cost, order, 1), 0.0)
    rank = np.cumsum(np.where(ok_sorted, w[order], 0), axis=1)
    spent = np.cumsum(cost_sorted, axis=1)
    take_sorted = ok_sorted & (rank <= slots[idx, None]) & (spent <= capital[idx, None])
    take = np.zeros_like(ok)
    np.put_along_axis(take, order, take_sorted, 1)

    pp, aa = np.nonzero(take)
    cc, dd = c[pp, aa], d[pp, aa]
    collateral[idx[pp], aa, cc] -= seize[pp, aa]
    debt[idx[pp], aa, dd] -= debt_cover[pp, aa]
    np.add.at(out.seized, (idx[pp], cc), net[pp, aa])
    np.add.at(out.fee, (idx[pp], cc), fee[pp, aa])
    np.add.at(out.repaid, (idx[pp], dd), debt_cover[pp, aa])
    n_taken = (take * w[None, :]).sum(axis=1)
    out.n_liquidations[idx] = n_taken
    # Capital spent is the running sum in order of profit, as the kernel keeps it.
    out.repaid_usd[idx] = np.where(take_sorted, spent, 0.0).max(axis=1, initial=0.0)
    out.n_unserved[idx] = (cand * w[None, :]).sum(axis=1) - n_taken
    slots[idx] -= n_taken
    capital[idx] -= out.repaid_usd[idx]
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
    )


@numba.njit(parallel=True, cache=True, nogil=True)
def _round_kernel(
    collateral, debt, oracle, market, lt, bonus_all, protocol_fee, fee_on_seized, close_factor, cf_threshold, weight,
    active, slots, capital, gas_usd, impact_coef, impact_exp, min_profit,
    seized, fee_out, repaid, n_liq, repaid_usd, n_unserved, ref_ratio, ref_prices, dirty, below,
):  # fmt: skip
    n_paths, n_acc, n_res = collateral.shape
    for p in numba.prange(n_paths):
        n_liq[p] = 0
        repaid_usd[p] = 0.0
        n_unserved[p] = 0
        if not active[p]:
            continue
        # Pass 1: health checks, skipping accounts the screen proves safe; remember those below 1.
        factor = _screen_factor(oracle, ref_prices, p, dirty)
        renew = factor < 0.0
        n_below = 0
        for a in range(n_acc):
            if not renew and ref_ratio[p, a] * factor >= 1.0 + _SCREEN_MARGIN:
                continue
            num = 0.0
            den = 0.0
            for r in range(n_res):
                num += collateral[p, a, r] * oracle[p, r] * lt[a, r]
                den += debt[p, a, r] * oracle[p, r]
            if renew:
                ref_ratio[p, a] = num / den if den > 0.0 else np.inf
            if den > 0.0 and num > 0.0 and num / den < 1.0:  # num > 0: something to seize
                below[p, n_below] = a
                n_below += 1
        if renew:
            for r in range(n_res):
                ref_prices[p, r] = oracle[p, r]
            dirty[p] = False
        if n_below == 0:
            continue
        # Pass 2: plan each candidate's liquidation (in account order) and price it for the liquidator.
        profit = np.full(n_below, np.inf)
        cost = np.empty(n_below)
        seize_k = np.empty(n_below)
        cover_k = np.empty(n_below)
        fee_k = np.empty(n_below)
        c_k = np.empty(n_below, dtype=np.int64)
        d_k = np.empty(n_below, dtype=np.int64)
        ok = np.zeros(n_below, dtype=np.bool_)
        n_cand = 0
        for k in range(n_below):
            a = below[p, k]
            num = 0.0
            den = 0.0
            for r in range(n_res):
                num += collateral[p, a, r] * oracle[p, r] * lt[a, r]
                den += debt[p, a, r] * oracle[p, r]
            hf = num / den
            c = 0
            d = 0
            best_c = collateral[p, a, 0] * oracle[p, 0] if lt[a, 0] > 0.0 else 0.0
            best_d = debt[p, a, 0] * oracle[p, 0]
            for r in range(1, n_res):
                vc = collateral[p, a, r] * oracle[p, r] if lt[a, r] > 0.0 else 0.0
                vd = debt[p, a, r] * oracle[p, r]
                if vc > best_c:
                    best_c = vc
                    c = r
                if vd > best_d:
                    best_d = vd
                    d = r
            if not best_c > 0.0:
                continue
            n_cand += weight[a]
            cf = 1.0 if hf < cf_threshold else close_factor
            b = bonus_all[a, c]
            cover = debt[p, a, d] * cf
            seize = cover * oracle[p, d] * (1.0 + b) / oracle[p, c]
            bal = collateral[p, a, c]
            if seize > bal:
                seize = bal
                cover = bal * oracle[p, c] / (oracle[p, d] * (1.0 + b))
            f = (seize if fee_on_seized else seize - seize / (1.0 + b)) * protocol_fee[c]
            sale = (seize - f) * market[p, c]
            slip = impact_coef[p, c] * sale ** impact_exp[c]
            pr = sale * (1.0 - min(slip, 1.0)) - cover * market[p, d] - gas_usd[p] * weight[a]
            if pr >= min_profit:
                ok[k] = True
                profit[k] = -pr
                cost[k] = cover * oracle[p, d]
                seize_k[k] = seize
                cover_k[k] = cover
                fee_k[k] = f
                c_k[k] = c
                d_k[k] = d
        # Pass 3: decide in order of profit while block space and capital last; apply in account order.
        order = np.argsort(profit, kind="mergesort")
        take = np.zeros(n_below, dtype=np.bool_)
        taken = 0
        spent = 0.0
        for j in range(n_below):
            k = order[j]
            if not ok[k]:
                break
            a = below[p, k]
            if taken + weight[a] > slots[p] or spent + cost[k] > capital[p]:
                break
            taken += weight[a]
            spent += cost[k]
            take[k] = True
        for k in range(n_below):
            if take[k]:
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
        slots[p] -= taken
        capital[p] -= spent
        if taken > 0:
            dirty[p] = True


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
    impact_coef: np.ndarray,
    impact_exp: np.ndarray,
    min_profit: float,
    screen: Screen | None = None,
) -> RoundOutput:
    """Fused, parallel equivalent of :func:`liquidation_round_numpy` (same arguments, same results).

    ``screen`` (kept by the caller across rounds and steps) lets the kernel skip accounts that cannot be below
    health factor 1; without it every account is checked.
    """
    n_paths, n_acc, n_res = collateral.shape
    out = _empty_output(n_paths, n_res)
    if screen is None:
        screen = Screen.empty(n_paths, n_acc, n_res)
    _round_kernel(
        collateral, debt, oracle, market, params.liquidation_threshold, params.liquidation_bonus,
        params.protocol_fee, bool(params.fee_on_seized), float(params.close_factor),
        float(params.close_factor_hf_threshold), params.weights(),
        active, slots, capital, gas_usd, impact_coef, impact_exp, float(min_profit),
        out.seized, out.fee, out.repaid, out.n_liquidations, out.repaid_usd, out.n_unserved,
        screen.ref_ratio, screen.ref_prices, screen.dirty, screen.scratch,
    )  # fmt: skip
    return out
