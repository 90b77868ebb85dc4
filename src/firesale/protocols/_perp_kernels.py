"""Numba kernels of :class:`firesale.protocols.perps.PerpVenue`'s hot loops, parallel over paths (each with a serial
twin for small calls, :func:`sized`).

Profiled on the issue-12 benchmark (10,000 traders x 5 markets, ``benchmarks/bench_perps.py``), the NumPy round
spends almost all its time on every trader of every path: the mark-to-market equities, the tiered maintenance
margins and the liquidation screen, each a pass of temporaries of shape (n_paths, n_traders, n_markets). The
kernels here fuse them into one pass per path:

* :func:`screen` gives the liquidated buckets (cross accounts and isolated positions) exactly as the NumPy round
  flags them, and skips the traders a bound proves cannot be liquidatable (below);
* :func:`equities` gives the cross and isolated equities (the state the ADL ranking reads);
* :func:`exposure` gives what the accounts owe and are owed (the venue's accounts every step) without
  materialising the equities: their temporaries of shape (n_paths, n_traders, n_markets), allocated and freed
  every step, made the C library hand the memory back and fault it in again (about a third of
  ``btc-perp-2021-05``'s wall time);
* :func:`adl_rank` ranks one market side's offsetting positions and fills its bankrupt size from them (the
  ``binance`` and ``dydx`` greedy rules) without sorting every trader.

Every sum is taken in NumPy's own order (:func:`_numpy_sum`: sequential below 8 terms, NumPy's 8-way pairwise
blocks up to 128; :func:`_pairwise_sum`: halves above), so the kernels are bit-identical to the NumPy reference,
not only close: the model gives the same numbers with ``kernel="numba"`` and ``kernel="numpy"`` (tested on random
books).

The bound. Each path keeps reference marks ``M0`` and, per trader, a ratio ``r``. A bucket ``b`` (the cross account
or an isolated position) checked at marks ``M``, where every mark is within a fraction ``delta`` of ``M0``, has a
slack ``S_b = equity_b - maintenance_b``. While the trader's cash and positions do not change, at later marks
``M'`` within ``delta'`` of ``M0`` its equity moved by at most ``sum_m |s_m| |M'_m - M_m|`` and its maintenance
margin, a continuous piecewise-linear function of notional with slopes at most ``mmr_max`` (Binance's maintenance
amounts make it so), by at most ``mmr_max_m |s_m| |M'_m - M_m|``, and ``|M'_m - M_m| <= (delta + delta') M0_m``;
so ``S_b(M') >= S_b - (delta + delta') W_b`` with ``W_b = sum_m |s_m| M0_m (1 + mmr_max_m)``. The trader keeps
``r = min_b (S_b - 1e-9 A_b) / W_b - delta`` (``A_b`` the magnitudes the float sums add, so rounding can never flip
a flag) and is skipped while ``delta' < r``; the whole path while ``delta'`` is below its traders' lowest ``r``. A trader whose book changes (liquidated, deleveraged) gets
``r = -inf``; a path whose cash all moved (funding: *dirty*) or whose marks moved more than
:data:`SCREEN_REFRESH` is checked in full and takes its marks as the new reference. Skipping never changes a
result, only the work.
"""

from __future__ import annotations

import numba
import numpy as np

from firesale._threads import serial_twin

__all__ = [
    "PARALLEL_FROM",
    "SCREEN_REFRESH",
    "adl_rank",
    "equities",
    "exposure",
    "screen",
    "screen_positions",
    "sized",
]

#: A path is fully re-checked (and its reference renewed) when a mark moved more than this since the reference.
SCREEN_REFRESH = 0.02
_MARGIN = 1e-9  # relative to the magnitudes summed: far above float64 rounding, so skipping is exact
_MAX_TERMS = 128  # NumPy's pairwise block (PW_BLOCKSIZE); more markets than this use the NumPy round
#: Positions (paths x traders x markets) from which a kernel runs in parallel; smaller calls run on one thread
#: (:func:`sized`), where waking the second would cost more than it saves (``benchmarks/bench_threads.py``).
PARALLEL_FROM = 1 << 18


@numba.njit(inline="always")
def _numpy_sum(buf, n):
    """``buf[:n].sum()`` in NumPy's order (numpy's ``pairwise_sum`` for n <= 128), so results are bit-identical."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += buf[i]
        return res
    r0, r1, r2, r3 = buf[0], buf[1], buf[2], buf[3]
    r4, r5, r6, r7 = buf[4], buf[5], buf[6], buf[7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += buf[i]
        r1 += buf[i + 1]
        r2 += buf[i + 2]
        r3 += buf[i + 3]
        r4 += buf[i + 4]
        r5 += buf[i + 5]
        r6 += buf[i + 6]
        r7 += buf[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += buf[i]
        i += 1
    return res


@numba.njit(inline="always")
def _pairwise_sum(buf, n):
    """``buf[:n].sum()`` in NumPy's order for any ``n``: its 8-way blocks up to 128 terms, above that the two halves
    (the first a multiple of 8 long) summed apart and added, recursively (numpy's ``pairwise_sum``). The recursion
    runs on an explicit stack: Numba's cache cannot hold a recursive function."""
    if n <= _MAX_TERMS:
        return _numpy_sum(buf, n)
    # frames: first index, length, stage (0: split, 1: left half summed, 2: both summed), left sum, right sum
    first, length = np.empty(64, np.int64), np.empty(64, np.int64)
    stage, left, right = np.zeros(64, np.int64), np.empty(64), np.empty(64)
    first[0], length[0], stage[0] = 0, n, 0
    top, total = 1, 0.0
    while top > 0:
        f = top - 1
        m = length[f]
        half = m // 2
        half -= half % 8
        if m <= _MAX_TERMS or stage[f] == 2:
            val = _numpy_sum(buf[first[f] :], m) if m <= _MAX_TERMS else left[f] + right[f]
            top -= 1
            if top == 0:
                total = val
            elif stage[top - 1] == 0:
                left[top - 1] = val
                stage[top - 1] = 1
            else:
                right[top - 1] = val
                stage[top - 1] = 2
        elif stage[f] == 0:
            first[top], length[top], stage[top] = first[f], half, 0
            top += 1
        else:
            first[top], length[top], stage[top] = first[f] + half, m - half, 0
            top += 1
    return total


@numba.njit(inline="always")
def _max0(x):
    """``np.maximum(x, 0.0)`` for one element: NaN stays NaN, and -0.0 gives +0.0 (NumPy returns the second
    operand on a tie)."""
    if x != x:
        return x
    return x if x > 0.0 else 0.0


@numba.njit(inline="always")
def _maintenance(notional, m, floors, mmr, amount):
    """Tiered maintenance margin of one position (PerpVenue.maintenance, element by element)."""
    mm = notional * mmr[m, 0]
    for k in range(1, floors.shape[1]):
        if notional >= floors[m, k]:
            mm = notional * mmr[m, k] - amount[m, k]
    return mm


@numba.njit(parallel=True, cache=True, nogil=True)
def screen(
    size, cash, iso, entry, isolated, mark, floors, mmr, amount, mmr_max, mm_scale,
    ref_mark, ratio, lowest, dirty, use_bound, liq_c, liq_i, liq_t, n_liq, skipped,
):  # fmt: skip
    """The round's liquidation flags, per path; skips the traders the bound proves safe.

    Parameters
    ----------
    size, iso : ndarray (n_paths, n_traders, n_markets)
    cash : ndarray (n_paths, n_traders)
    entry : ndarray (n_traders, n_markets)
    isolated : ndarray of bool (n_traders, n_markets)
    mark : ndarray (n_paths, n_markets)
    floors, mmr, amount : ndarray (n_markets, n_tiers)
        Tier floors (padding ``inf``), maintenance rates and maintenance amounts.
    mmr_max : ndarray (n_markets,)
    mm_scale : ndarray (n_paths, n_markets)
        A policy's factor on each market's maintenance margin (1: the venue's tiers); the bound's slope scales
        with it. A caller that changes it marks the path ``dirty``.
    ref_mark, ratio, lowest, dirty : ndarray (n_paths, n_markets), (n_paths, n_traders), (n_paths,), bool (n_paths,)
        The bound's memory, updated in place (module docstring); ``lowest`` is the path's lowest ``ratio``, so a
        path whose marks moved less than it is skipped without reading its traders. ``dirty`` paths (cash moved
        for every trader: funding) and paths whose marks moved more than :data:`SCREEN_REFRESH` from ``ref_mark``
        are checked in full and take the current marks as reference. The caller sets ``ratio`` and ``lowest`` to
        ``-inf`` for the traders and paths whose books it changes (liquidated, deleveraged); the kernel does so for
        those it flags.
    use_bound : bool
        False: check every trader (a book whose cash changes between rounds, e.g. withdrawals).
    liq_c, liq_i, liq_t, n_liq : outputs (n_paths, n_traders) bool, (n_paths, n_traders, n_markets) bool,
        (n_paths, n_traders) bool, (n_paths,) int64
        Cross accounts and isolated positions below maintenance (``PerpVenue._round``'s ``liq_c``, ``liq_i``),
        the traders with either, and their count. The flag arrays must come zeroed: skipped traders are not
        written.
    skipped : ndarray of int64 (n_paths,)
        Traders the bound skipped, per path; incremented in place.
    """
    n_p, n_t, n_m = size.shape
    for p in numba.prange(n_p):
        delta = np.inf
        if use_bound and not dirty[p]:
            delta = 0.0
            for m in range(n_m):
                r = ref_mark[p, m]
                d = abs(mark[p, m] - r) / r if r > 0.0 else np.inf
                if not d <= delta:  # also NaN
                    delta = d
        full = not delta <= SCREEN_REFRESH
        if full:
            delta = 0.0
            for m in range(n_m):
                ref_mark[p, m] = mark[p, m]
        dirty[p] = False
        if not full and delta < lowest[p]:  # nothing on the path can be near maintenance
            n_liq[p] = 0
            skipped[p] += n_t
            continue
        buf_u = np.empty(n_m)
        buf_n = np.empty(n_m)
        buf_mm = np.empty(n_m)
        count = 0
        n_skip = 0
        path_low = np.inf
        for i in range(n_t):
            if not full and ratio[p, i] > delta:
                n_skip += 1
                if ratio[p, i] < path_low:
                    path_low = ratio[p, i]
                continue
            low = np.inf  # the trader's ratio: its buckets' slack over their reach at the reference marks
            c_w = 0.0
            c_a = abs(cash[p, i])
            hit = False
            for m in range(n_m):
                s = size[p, i, m]
                u = s * (mark[p, m] - entry[i, m])
                notional = abs(s) * mark[p, m]
                f = mm_scale[p, m]
                mm = _maintenance(notional, m, floors, mmr, amount) * f
                w = abs(s) * ref_mark[p, m] * (1.0 + mmr_max[m] * f)
                a = abs(s) * (mark[p, m] + abs(entry[i, m])) + notional
                if isolated[i, m]:
                    buf_u[m], buf_n[m], buf_mm[m] = 0.0, 0.0, 0.0
                    e = iso[p, i, m] + u
                    flag = notional > 0.0 and e < mm
                    liq_i[p, i, m] = flag
                    if flag:
                        count += 1
                        hit = True
                    elif notional > 0.0:
                        r = ((e - mm) - _MARGIN * (abs(iso[p, i, m]) + a)) / w - delta if w > 0.0 else -np.inf
                        if not r >= low:
                            low = r
                else:
                    liq_i[p, i, m] = False
                    buf_u[m], buf_n[m], buf_mm[m] = u, notional, mm
                    c_w += w
                    c_a += a
            e_c = cash[p, i] + _numpy_sum(buf_u, n_m)
            c_not = _numpy_sum(buf_n, n_m)
            c_mm = _numpy_sum(buf_mm, n_m)
            flag = c_not > 0.0 and e_c < c_mm
            liq_c[p, i] = flag
            if flag:
                count += 1
                hit = True
            elif c_not > 0.0:
                r = ((e_c - c_mm) - _MARGIN * c_a) / c_w - delta if c_w > 0.0 else -np.inf
                if not r >= low:
                    low = r
            ratio[p, i] = -np.inf if hit or not use_bound else low
            liq_t[p, i] = hit
            if not ratio[p, i] >= path_low:
                path_low = ratio[p, i]
        lowest[p] = path_low
        n_liq[p] = count
        skipped[p] += n_skip


@numba.njit(inline="always")
def _trader_equities(size, cash, iso, entry, isolated, mark, p, i, buf, iso_row):  # fmt: skip
    """Trader ``i``'s cross equity on path ``p`` (returned) and its isolated equities into ``iso_row`` (0 where
    cross), as PerpVenue._equities forms them; ``buf`` is scratch of n_markets."""
    n_m = size.shape[2]
    for m in range(n_m):
        u = size[p, i, m] * (mark[p, m] - entry[i, m])
        if isolated[i, m]:
            buf[m] = 0.0
            iso_row[m] = iso[p, i, m] + u
        else:
            buf[m] = u
            iso_row[m] = 0.0
    return cash[p, i] + _numpy_sum(buf, n_m)


@numba.njit(parallel=True, cache=True, nogil=True)
def equities(size, cash, iso, entry, isolated, mark, cross_e, iso_e):  # fmt: skip
    """Cross equity (n_paths, n_traders) and isolated equities (n_paths, n_traders, n_markets; 0 where cross) at
    ``mark`` into ``cross_e`` and ``iso_e`` (PerpVenue._equities, bit for bit)."""
    n_p, n_t, n_m = size.shape
    for p in numba.prange(n_p):
        buf = np.empty(n_m)
        for i in range(n_t):
            cross_e[p, i] = _trader_equities(size, cash, iso, entry, isolated, mark, p, i, buf, iso_e[p, i])


@numba.njit(parallel=True, cache=True, nogil=True)
def exposure(size, cash, iso, entry, isolated, mark, under, owed):  # fmt: skip
    """What the accounts owe the venue and what it owes them, per path, without the equities' temporaries
    (``PerpVenue.account``, bit for bit): ``under`` the sum of every negative equity's magnitude (cross accounts,
    then isolated positions), ``owed`` the sum of the non-negative ones, each part summed in NumPy's order over the
    traders (cross) and over traders x markets (isolated; 0 where cross)."""
    n_p, n_t, n_m = size.shape
    for p in numba.prange(n_p):
        buf, row = np.empty(n_m), np.empty(n_m)
        neg_c, pos_c = np.empty(n_t), np.empty(n_t)
        neg_i, pos_i = np.empty(n_t * n_m), np.empty(n_t * n_m)
        for i in range(n_t):
            c = _trader_equities(size, cash, iso, entry, isolated, mark, p, i, buf, row)
            for m in range(n_m):
                neg_i[i * n_m + m] = _max0(-row[m])
                pos_i[i * n_m + m] = _max0(row[m])
            neg_c[i] = _max0(-c)
            pos_c[i] = _max0(c)
        under[p] = _pairwise_sum(neg_c, n_t) + _pairwise_sum(neg_i, n_t * n_m)
        owed[p] = _pairwise_sum(pos_c, n_t) + _pairwise_sum(pos_i, n_t * n_m)


@numba.njit(parallel=True, cache=True, nogil=True)
def adl_rank(size, entry, mark, cross_e, iso_e, isolated, bankrupt, go, m, opp, by_key, keys, need, q):  # fmt: skip
    """The greedy ADL fill of one market side (rules ``binance`` and ``dydx``), per path, into ``q``.

    Eligible: positions in market ``m`` on the side of sign ``opp`` of accounts with positive equity (``cross_e``
    (n_paths, n_traders), ``iso_e`` (n_paths, n_traders, n_markets)), not ``bankrupt`` this round, and in profit
    unless ``by_key``. Ranked by ``keys`` (n_paths, n_traders; the ``dydx`` rule's random priority) when
    ``by_key``, else by Binance's ``pnl% x effective leverage``; highest first, ties by trader index. Each takes
    ``min(max(need - before, 0), |size|)``, ``before`` the eligible size ranked above it.

    The NumPy round forms the same eligibility and scores over every trader, sorts them all with ineligible ones
    keyed ``inf`` and reads the running total as ``cumsum - size``; this sorts only the eligible ones and forms
    the running total the same way, so ``q`` is bit-identical.
    """
    n_p, n_t = cross_e.shape
    for p in numba.prange(n_p):
        for i in range(n_t):
            q[p, i] = 0.0
        if not go[p]:
            continue
        px = mark[p, m]
        idx = np.empty(n_t, dtype=np.int64)
        key = np.empty(n_t)
        k = 0
        for i in range(n_t):
            s = size[p, i, m]
            e = iso_e[p, i, m] if isolated[i, m] else cross_e[p, i]
            if not (s * opp > 0.0 and e > 0.0) or bankrupt[p, i, m]:
                continue
            u = s * (px - entry[i, m])
            if by_key:
                score = keys[p, i]
            elif u > 0.0:
                denom = abs(s * entry[i, m])
                score = ((u / denom if denom > 0 else 0.0) * (abs(s) * px)) / e
            else:
                continue
            idx[k] = i
            key[k] = -score
            k += 1
        if k == 0:
            continue
        order = np.argsort(key[:k], kind="mergesort")  # stable: ties stay in trader order
        total = 0.0
        for j in range(k):
            i = idx[order[j]]
            sz = abs(size[p, i, m])
            total += sz
            before = total - sz
            q[p, i] = min(max(need[p] - before, 0.0), sz)


_SERIAL = {k: serial_twin(k, cache=True, nogil=True) for k in (screen, equities, exposure, adl_rank)}


def sized(kernel, n_positions: int):  # type: ignore[no-untyped-def]
    """``kernel``, or its serial twin (:mod:`firesale._threads`) for a call on fewer than :data:`PARALLEL_FROM`
    positions: the same results either way."""
    return kernel if n_positions >= PARALLEL_FROM else _SERIAL[kernel]


def screen_positions(size: np.ndarray, mark: np.ndarray, ref_mark: np.ndarray, lowest: np.ndarray,
                     dirty: np.ndarray, use_bound: bool) -> int:  # fmt: skip
    """Positions :func:`screen` will read: those of the paths its bound does not skip whole (the same test, in
    NumPy), so that a settled book, where most rounds skip every path, runs on one thread. A work estimate for
    :func:`sized` only: the kernel makes its own decision."""
    n_p, n_t, n_m = size.shape
    if not use_bound:
        return n_p * n_t * n_m
    with np.errstate(divide="ignore", invalid="ignore"):
        moved = np.where(ref_mark > 0.0, np.abs(mark - ref_mark) / ref_mark, np.inf).max(axis=1)
    skipped = ~dirty & (moved <= SCREEN_REFRESH) & (moved < lowest)  # a NaN mark: counted as read
    return int(n_p - np.count_nonzero(skipped)) * n_t * n_m
