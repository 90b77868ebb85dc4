"""Compiled loops of :class:`firesale.protocols.maker.MakerModel`'s collateral auctions, slot by slot on each path.

An ilk has up to ``max_auctions`` running auctions on a path (256 in ``black-thursday-2020``), and each round
visits every one: a Flipper's are dealt when finished, restarted (``tick``) when unbid past their end, and bid on
once when open; a Clipper's are restarted (``redo``) when too old or too cheap, and bought from (``take``). The
keepers' actions on a path are sequential: each spends the DAI, capital, PSM room and block space the next one sees,
and a take's sale moves the quote of the next. The NumPy reference (``MakerModel.kernel = "numpy"``) loops over
slots with every path in each slot's arrays, a few hundred NumPy calls per slot whatever the number of paths (a
minute of CPU a path in the Black Thursday replay). These kernels loop over paths, then slots, doing per path the
same operations in the same order, so they are bit-identical to the reference
(``tests/unit/protocols/test_auction_kernels.py``); what does not depend on the sequence (the keepers' failures, the
block space a pending transaction's gas price buys, the Clipper's abacus prices, the proceeds curves) is worked out in
NumPy before, by the functions the reference calls.

The mechanics (makerdao/dss ``src/flip.sol`` at ``f632302``: ``tick``, ``tend``, ``dent``, ``deal``; ``src/clip.sol``
at ``fa4f6630``: ``redo``, ``take``) and the keepers' rules are documented in :mod:`firesale.protocols.maker`.
"""

from __future__ import annotations

import math

import numba

__all__ = ["clip_takes", "flip_bids", "flip_deals"]

GUY_NONE, GUY_ZERO, GUY_KEEPER = 0, 1, 2


@numba.njit(inline="always")
def _end(p, s, live, guy, lot, tab, bid, due, gas, rew, shortfall):  # fmt: skip
    """Free slot ``s`` of path ``p``, booking what the auction's DAI left of its debt as shortfall
    (``MakerModel._end``)."""
    shortfall[p] += max(due[p, s] - bid[p, s], 0.0)
    live[p, s] = False
    lot[p, s] = 0.0
    tab[p, s] = 0.0
    bid[p, s] = 0.0
    due[p, s] = 0.0
    gas[p, s] = 0.0
    rew[p, s] = 0.0
    guy[p, s] = GUY_NONE


@numba.njit(cache=True, nogil=True)
def flip_deals(live, guy, tic, end, lot, tab, bid, due, gas, rew, active, t, tau, mkt,
               sell, sold, sold_usd, shortfall, n_deals, n_zero, zero_usd, n_actions):  # fmt: skip
    """``deal`` every auction whose last bid expired (``tic``) or that reached ``end`` with a bid, paying its lot to
    the winner (sold through the venues) and booking what its bid left of the debt as shortfall; ``tick`` (restart
    at ``t + tau``) the unbid ones past ``end``. Slot arrays are (n_paths, n_slots) views of one ilk; the per-path
    totals (``sell``, ``sold``, ``sold_usd``: the ilk's collateral column) are added to in place."""
    n_paths, n_s = live.shape
    for p in range(n_paths):
        if not active[p]:
            continue
        for s in range(n_s):
            if not live[p, s]:
                continue
            if guy[p, s] != GUY_NONE:
                if tic[p, s] < t or end[p, s] < t:
                    x = lot[p, s]
                    sell[p] += x
                    sold[p] += x
                    sold_usd[p] += x * mkt[p]
                    n_deals[p] += 1
                    if guy[p, s] == GUY_ZERO:
                        n_zero[p] += 1
                        zero_usd[p] += x * mkt[p]
                    n_actions[p] += 1
                    _end(p, s, live, guy, lot, tab, bid, due, gas, rew, shortfall)
            elif end[p, s] < t:
                end[p, s] = t + tau


@numba.njit(inline="always")
def _proceeds(sizes, curve, p, start, size):  # fmt: skip
    """What the venues pay for ``size`` more after ``start`` sold: the reference's ``Quotes.proceeds`` on one path
    (``f(start + size) - f(start)``, ``f`` interpolated on ``sizes``, its last segment extended)."""
    n = sizes.shape[0]
    if size <= 0.0 or n < 2 or curve.shape[1] < n:  # (no curve is passed when no lot is for sale)
        return 0.0
    return _interp(sizes, curve, p, start + size) - _interp(sizes, curve, p, start)


@numba.njit(inline="always")
def _interp(sizes, curve, p, x):  # fmt: skip
    """``_cdp._interp`` on path ``p``: linear between grid points, the last segment extended, NaN and negative
    sizes at 0, ``inf`` at the last grid point."""
    n = sizes.shape[0]
    if x != x or x < 0.0:
        x = 0.0
    elif x == math.inf:
        x = sizes[n - 1]
    lo, hi = 0, n  # searchsorted(sizes, x, side="right"), clipped to [1, n - 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if sizes[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    k = min(max(lo, 1), n - 1)
    x0, x1 = sizes[k - 1], sizes[k]
    w = (x - x0) / (x1 - x0) if x1 > x0 else 0.0
    y0 = curve[p, k - 1]
    return y0 + w * (curve[p, k] - y0)


@numba.njit(inline="always")
def _dai_cost(p, dai_px, has_psm, fee, psm_left):  # fmt: skip
    """USD per DAI at the margin: the PSM's ``fee`` while it has room and is cheaper, else the market."""
    return min(dai_px[p], fee) if has_psm and psm_left[p] > 0 else dai_px[p]


@numba.njit(inline="always")
def _budget(p, dai_px, has_psm, fee, psm_left, capital, own_dai):  # fmt: skip
    """DAI the keepers can still get: from the PSM first (when cheaper), then the market, within their own."""
    usd = max(capital[p], 0.0)
    if has_psm:
        via_psm = min(usd, psm_left[p] * fee) if fee <= dai_px[p] else 0.0
        return min(via_psm / fee + (usd - via_psm) / dai_px[p], own_dai[p])
    return min(usd / dai_px[p], own_dai[p])


@numba.njit(inline="always")
def _spend(p, dai, dai_px, has_psm, fee, own_dai, capital, psm_left, psm_minted, minted_dai, buy_dai,
           spent):  # fmt: skip
    """The keepers get ``dai`` DAI: from the PSM first (minted against USDC, when cheaper), the rest bought at the
    market, paid from their capital."""
    own_dai[p] -= dai
    bought = dai
    paid = dai * dai_px[p]
    if has_psm:
        x = min(dai, psm_left[p]) if fee <= dai_px[p] else 0.0
        psm_left[p] -= x
        psm_minted[p] += x
        minted_dai[p] += x
        bought = dai - x
        paid = x * fee + bought * dai_px[p]
    buy_dai[p] += bought
    spent[p] += paid
    capital[p] -= paid


@numba.njit(inline="always")
def _room(p, gwei, slots, priced, bs_gwei, bs_market, market_gwei):  # fmt: skip
    """Keeper transactions at ``gwei`` that still fit in the step (``MakerModel._room``): with priced block space
    ``slots + bs_gwei - bs_market`` (``bs_gwei`` the block space ``gwei`` buys), else the slots left when ``gwei`` is
    at least the market's price."""
    if priced:
        return slots[p] + bs_gwei - bs_market[p]
    return slots[p] if gwei >= market_gwei else 0


@numba.njit(cache=True, nogil=True)
def flip_bids(live, guy, tic, end, lot, tab, bid, gas, zseen, seen_ok, active, t, ttl, beg,
              mkt, sold_usd, sizes, curve, gas_usd, min_profit, dai_px, has_psm, fee,
              priced, bs_gas, bs_market, keeper_gwei, gas_now, zero_bidder, zero_ok, zero_bid,
              own_dai, capital, slots, psm_left, psm_minted, minted_dai, buy_dai, spent, surplus, returned,
              n_actions):  # fmt: skip
    """Keepers bid once on each open auction, in slot order, spending as they go.

    In the *tend* phase they raise the bid towards their reservation value (the lot's proceeds less gas and
    minimum profit, in DAI at the marginal DAI cost: the PSM's ``fee`` while it has room and is cheaper), within
    the DAI they can still get, by at least ``beg`` unless the bid reaches ``tab``; in the *dent* phase they lower
    the lot to the smallest whose average proceeds cover ``tab``, by at least ``beg``. A bid is mined only with
    block space at its gas price (a pending bid keeps its price; ``bs_gas`` is the block space each slot's price
    buys, ``bs_market`` the market price's, with ``priced``; else the bid needs ``gwei >= gas_now`` and a slot
    left). The zero bidder bids ``zero_bid`` on what keepers left unbid once it has seen it (``zseen``).
    ``seen_ok`` (keepers have seen the slot and do not fail on it) and ``zero_ok`` (its bid is mined) are given.
    """
    n_paths, n_s = live.shape
    for p in range(n_paths):
        if not active[p]:
            continue
        market_gwei = 0.0 if gas_now[p] != gas_now[p] else gas_now[p]
        for s in range(n_s):
            if not live[p, s] or not end[p, s] > t or not (tic[p, s] > t or not math.isfinite(tic[p, s])):
                continue
            x_lot, x_tab, x_bid = lot[p, s], tab[p, s], bid[p, s]
            keeper = seen_ok[p, s] and (priced or slots[p] > 0)
            value = _proceeds(sizes, curve, p, sold_usd[p], x_lot * mkt[p])
            net = value - gas_usd[p] - min_profit
            cost = _dai_cost(p, dai_px, has_psm, fee, psm_left)
            cap = _budget(p, dai_px, has_psm, fee, psm_left, capital, own_dai)
            want = min(min(net / cost, x_tab), x_bid + cap)
            tend = (
                keeper and x_bid < x_tab and want > x_bid and (want >= x_bid * beg or want >= x_tab)
            )  # fmt: skip
            if want >= x_tab:
                want = x_tab
            avg = value / x_lot if x_lot > 0 else 0.0
            need = (x_tab * cost + gas_usd[p] + min_profit) / avg if avg > 0 else math.inf
            dent = keeper and not tend and x_bid >= x_tab and need > 0 and need * beg <= x_lot
            g = gas[p, s] if gas[p, s] > 0 else keeper_gwei[p]
            if tend or dent:
                gas[p, s] = g
                if _room(p, g, slots, priced, bs_gas[p, s] if priced else 0, bs_market, market_gwei) > 0:
                    gas[p, s] = 0.0
                else:
                    tend = dent = False
            inc = want - x_bid if tend else 0.0
            _spend(
                p, inc, dai_px, has_psm, fee, own_dai, capital, psm_left, psm_minted, minted_dai, buy_dai, spent
            )  # fmt: skip
            surplus[p] += inc
            if tend:
                bid[p, s] = want
            back = x_lot - need if dent else 0.0
            returned[p] += back
            lot[p, s] = x_lot - back
            bidded = tend or dent
            if bidded:
                guy[p, s] = GUY_KEEPER
            zero = zero_bidder and not bidded and guy[p, s] == GUY_NONE and zseen[p, s] <= t and zero_ok[p]
            if zero:
                bid[p, s] = zero_bid
                surplus[p] += zero_bid
                guy[p, s] = GUY_ZERO
            else:
                surplus[p] += 0.0  # as the reference adds (a -0.0 surplus becomes +0.0)
            if bidded or zero:
                tic[p, s] = t + ttl
                n_actions[p] += 1
            if bidded:
                slots[p] -= 1


@numba.njit(inline="always")
def _take_amounts(lot, tab, price, amt, chost):  # fmt: skip
    """``Clipper.take`` of up to ``amt`` at ``price``: (ok, collateral bought, DAI owed), as
    :func:`firesale.protocols.maker.take_amounts` for one auction."""
    sl = min(lot, amt)
    owe = sl * price
    safe_price = price if price > 0 else 1.0
    over = owe > tab
    if over:
        owe = tab
        sl = tab / safe_price
    chost_case = not over and owe < tab and sl < lot and tab - owe < chost
    refused = chost_case and not tab > chost
    if chost_case and not refused:
        owe = tab - chost
        sl = (tab - chost) / safe_price
    if refused or not price > 0:
        return False, 0.0, 0.0
    return True, sl, owe


@numba.njit(cache=True, nogil=True)
def clip_takes(live, guy, tic, top, lot, tab, bid, due, gas, rew, price0, seen_ok, active, t, tail, cusp, buf,
               tip, chip, chost, feed, mkt, sold_usd, sizes, curve, gas_usd, min_profit, dai_px, has_psm, fee,
               flash_loans, priced, bs_gas, bs_kick, bs_market, keeper_gwei, gas_now,
               own_dai, capital, slots, psm_left, psm_minted, minted_dai, buy_dai, spent, surplus, returned,
               dirt, awe, incentives, shortfall, sell, sold, n_deals, n_actions):  # fmt: skip
    """Keepers ``redo`` and ``take`` on each running Clipper auction, in slot order, spending as they go.

    ``price0`` is each auction's abacus price at ``t`` (given). An auction older than ``tail`` or priced below
    ``cusp * top`` is done; a keeper who sees it redoes it (new ``top = feed * buf`` at ``t``, ``tip + chip * tab``
    minted to it when the tab and the lot are worth ``chost``) if its kick price buys block space (``bs_kick``). A
    keeper then takes what its DAI buys at the price when the lot's proceeds (after the round's earlier sales) pay
    the DAI, gas and minimum profit, its transaction mined at a pending take's price or its own (``bs_gas``). An
    auction whose lot or tab is used up ends, the collateral left over going back to the vault's owner.
    """
    n_paths, n_s = live.shape
    for p in range(n_paths):
        if not active[p]:
            continue
        market_gwei = 0.0 if gas_now[p] != gas_now[p] else gas_now[p]
        for s in range(n_s):
            if not live[p, s]:
                continue
            keeper = seen_ok[p, s] and (priced or slots[p] > 0)
            price = price0[p, s]
            done = t - tic[p, s] > tail or price < cusp * top[p, s]
            if (
                keeper and done and feed[p] * buf > 0
                and _room(p, keeper_gwei[p], slots, priced, bs_kick[p], bs_market, market_gwei) > 0
            ):  # fmt: skip
                top[p, s] = feed[p] * buf
                tic[p, s] = t
                if tip > 0 or chip > 0:
                    x_lot, x_tab = lot[p, s], tab[p, s]
                    pay = tip + x_tab * chip if x_tab >= chost and x_lot * feed[p] >= chost else 0.0
                    awe[p] += pay
                    rew[p, s] += pay
                    incentives[p] += pay
                    minted_dai[p] += pay
                slots[p] -= 1
                n_actions[p] += 1
                price = top[p, s]
                done = False
            keeper = keeper and not done and (priced or slots[p] > 0)
            x_lot, x_tab = lot[p, s], tab[p, s]
            cap = _budget(p, dai_px, has_psm, fee, psm_left, capital, own_dai)
            cost = _dai_cost(p, dai_px, has_psm, fee, psm_left)
            if flash_loans:  # the sale pays the flash-minted DAI back, bought at the market
                cap = math.inf
                cost = dai_px[p]
            amt = cap / price if price > 0 else x_lot
            ok, bought, owe = _take_amounts(x_lot, x_tab, price, amt, chost)
            gain = _proceeds(sizes, curve, p, sold_usd[p], bought * mkt[p])
            ok = ok and keeper and bought > 0 and gain - owe * cost - gas_usd[p] >= min_profit
            if ok:
                g = gas[p, s] if gas[p, s] > 0 else keeper_gwei[p]
                gas[p, s] = g
                if _room(p, g, slots, priced, bs_gas[p, s] if priced else 0, bs_market, market_gwei) > 0:
                    gas[p, s] = 0.0
                else:
                    ok = False
            if not ok:
                continue
            lot_left, tab_left = x_lot - bought, x_tab - owe
            emptied = lot_left <= 0
            raised = not emptied and tab_left <= 0
            dirt[p] -= x_tab if emptied else owe
            lot[p, s], tab[p, s] = lot_left, tab_left
            bid[p, s] += owe
            surplus[p] += owe
            back = lot_left if raised else 0.0
            returned[p] += back
            lot[p, s] -= back
            sell[p] += bought
            sold[p] += bought
            sold_usd[p] += bought * mkt[p]
            if flash_loans:
                buy_dai[p] += owe
                spent[p] += owe * dai_px[p]
            else:
                _spend(
                    p, owe, dai_px, has_psm, fee, own_dai, capital, psm_left, psm_minted, minted_dai, buy_dai, spent
                )  # fmt: skip
            slots[p] -= 1
            n_actions[p] += 1
            if emptied or raised:
                n_deals[p] += 1
                _end(p, s, live, guy, lot, tab, bid, due, gas, rew, shortfall)
