"""A straightforward per-position Python implementation of one liquidation round, for comparison only.

Same rule as firesale.protocols.lending (see its docstring), written the way a first prototype would be: loops over
paths and accounts, scalars only. The benchmark checks it gives identical results and measures the speed-up.
"""

from __future__ import annotations

import math


def liquidation_round_python(collateral, debt, oracle, market, params, active, slots, capital, gas_usd,
                             impact_coef, impact_exp, min_profit):  # fmt: skip
    n_paths, n_acc, n_res = collateral.shape
    lt, bonus_all, fee_share = params.liquidation_threshold, params.liquidation_bonus, params.protocol_fee
    n_liq = [0] * n_paths
    for p in range(n_paths):
        if not active[p]:
            continue
        plans = []
        for a in range(n_acc):
            num = den = 0.0
            for r in range(n_res):
                num += collateral[p, a, r] * oracle[p, r] * lt[a, r]
                den += debt[p, a, r] * oracle[p, r]
            if den <= 0.0 or not num / den < 1.0:
                continue
            hf = num / den
            c = max(range(n_res), key=lambda r: (collateral[p, a, r] * oracle[p, r] * (lt[a, r] > 0), -r))
            d = max(range(n_res), key=lambda r: (debt[p, a, r] * oracle[p, r], -r))
            if not collateral[p, a, c] * oracle[p, c] * (lt[a, c] > 0) > 0.0:
                continue
            cf = 1.0 if hf < params.close_factor_hf_threshold else params.close_factor
            b = bonus_all[a, c]
            cover = debt[p, a, d] * cf
            seize = cover * oracle[p, d] * (1.0 + b) / oracle[p, c]
            if seize > collateral[p, a, c]:
                seize = collateral[p, a, c]
                cover = seize * oracle[p, c] / (oracle[p, d] * (1.0 + b))
            fee = (seize - seize / (1.0 + b)) * fee_share[c]
            sale = (seize - fee) * market[p, c]
            slip = impact_coef[p, c] * sale ** impact_exp[c]
            profit = sale * (1.0 - min(slip, 1.0)) - cover * market[p, d] - gas_usd[p]
            if profit >= min_profit:
                plans.append((-profit, a, c, d, seize, cover, cover * oracle[p, d]))
        plans.sort(key=lambda x: x[0])
        spent = 0.0
        for _, a, c, d, seize, cover, cost in plans:
            if n_liq[p] + 1 > slots[p] or spent + cost > capital[p] or math.isnan(cost):
                break
            collateral[p, a, c] -= seize
            debt[p, a, d] -= cover
            n_liq[p] += 1
            spent += cost
    return n_liq
