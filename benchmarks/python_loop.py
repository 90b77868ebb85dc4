"""A straightforward per-position Python implementation of one liquidation round, for comparison only.

Same rule as firesale.protocols.lending (see its docstring), written the way a first prototype would be: loops over
paths, accounts and reserve pairs, scalars only. The benchmark checks it gives identical results and measures the
speed-up.
"""

from __future__ import annotations

import bisect


def _at(sizes, curve, x):
    k = min(max(bisect.bisect_right(sizes, x) - 1, 0), len(sizes) - 2)
    return curve[k] + (curve[k + 1] - curve[k]) * (x - sizes[k]) / (sizes[k + 1] - sizes[k])


def liquidation_round_python(collateral, debt, oracle, market, params, active, slots, capital, gas_usd,
                             min_profit, sizes, proceeds):  # fmt: skip
    """Aave v3.0 rules with weight 1 per account (the benchmark's book)."""
    n_paths, n_acc, n_res = collateral.shape
    lt, bonus_all, fee_share = params.liquidation_threshold, params.liquidation_bonus, params.protocol_fee
    sizes = list(sizes)
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
            if not (den > 0.0 and num > 0.0 and num / den < 1.0):
                continue
            hf = num / den
            best = None
            for c in range(n_res):
                if not (lt[a, c] > 0.0 and collateral[p, a, c] > 0.0):
                    continue
                b = bonus_all[a, c]
                for d in range(n_res):
                    if not debt[p, a, d] > 0.0:
                        continue
                    cover = debt[p, a, d] * (
                        1.0 if hf <= params.close_factor_hf_threshold else params.close_factor
                    )
                    seize = cover * oracle[p, d] * (1.0 + b) / oracle[p, c]
                    if seize > collateral[p, a, c]:
                        seize = collateral[p, a, c]
                        cover = collateral[p, a, c] * oracle[p, c] / (oracle[p, d] * (1.0 + b))
                    fee = (seize - seize / (1.0 + b)) * fee_share[c]
                    sale = (seize - fee) * market[p, c]
                    profit = _at(sizes, proceeds[p, c], sale) - cover * market[p, d] - gas_usd[p]
                    if best is None or profit > best[0]:
                        best = (profit, c, d, cover, seize, fee)
            if best is not None:
                plans.append((-best[0], a, *best[1:]))
        plans.sort(key=lambda x: x[0])  # stable: account order on ties
        spent, sold = 0.0, [0.0] * n_res
        for _, a, c, d, cover, seize, fee in plans:
            if n_liq[p] + 1 > slots[p]:
                continue
            cost = cover * market[p, d]
            left = capital[p] - spent
            if cost > left:
                if not left > 0.0:
                    continue
                cover = cover * (left / cost)
                b = bonus_all[a, c]
                seize = cover * oracle[p, d] * (1.0 + b) / oracle[p, c]
                cost = cover * market[p, d]
                fee = (seize - seize / (1.0 + b)) * fee_share[c]
            sale = (seize - fee) * market[p, c]
            got = _at(sizes, proceeds[p, c], sold[c] + sale) - _at(sizes, proceeds[p, c], sold[c])
            if got - cost - gas_usd[p] < min_profit:
                continue
            sold[c] += sale
            spent += cost
            collateral[p, a, c] -= seize
            debt[p, a, d] -= cover
            n_liq[p] += 1
    return n_liq
