"""Perpetual futures venues: margin tiers, mark price, funding, liquidation, insurance fund, backstop vault and ADL.

The scalar reference of :class:`firesale.protocols.perps.PerpVenue`, one path at a time, in plain Python floats and
loops (a perp venue settles in decimal USD, not in integer wei, so float64 is the venue's own arithmetic up to
rounding; the vectorized model is held to this module to 1e-9 relative).

Rules, each from a venue's published documentation:

Margin (Binance USDⓈ-M "Leverage and Margin")
    Tiers by position notional ``N``: tier ``k`` applies for ``floor_k <= N < floor_{k+1}``, with a maximum leverage
    (initial margin fraction ``1 / max_leverage``) and a maintenance margin rate ``mmr_k``. Maintenance margin is
    ``N * mmr_k - amount_k`` with the maintenance amount ``amount_k = amount_{k-1} + floor_k (mmr_k - mmr_{k-1})``,
    which makes it continuous in ``N`` (Binance's "tax bracket" set-up). A cross account's requirement is the sum
    over its cross positions; an isolated position has its own margin. Leverage limits and open-interest caps are
    checks on *opening* (:func:`check_open`); positions are never opened during a stress run.
Mark price (Binance "Mark Price in perpetual futures")
    ``median(P1, P2, contract price)`` with ``P1 = index (1 + last funding rate * time to funding / interval)`` and
    ``P2 = index + moving average of the basis``. Here the contract (book) price is ``index (1 + premium)`` and the
    basis moving average is ``index * basis_ma``, the mean of the last two premium readings (the premium process is
    piecewise constant between funding times, so this is the window average just after a change).
Funding (Binance "Introduction to Binance Futures Funding Rates")
    ``F = P + clamp(I - P, -c, c)``, then capped at ``±cap``; paid at every interval by each position,
    ``-size * mark * F`` (longs pay when ``F > 0``), settled into the cross collateral or the isolated margin. The
    modelled accounts need not hold a balanced book: the rest of the venue's book (the *external* side, not
    modelled) takes the other side of the net position, and the ledger ``funding_in`` records what it paid.
    The premium index follows an AR(1) between intervals, ``P' = mu + phi (P - mu) + sigma z``, calibrated on
    funding history (:func:`firesale.protocols.perps.fit_premium_process`).
Liquidation (Hyperliquid "Liquidations"; Binance "Liquidation")
    An account (cross) or an isolated position whose equity at mark is below its maintenance margin, and still
    positive, is closed by market orders into the venue's book; positions above ``partial_threshold_usd`` notional
    are closed ``partial_fraction`` at a time, once per round (Hyperliquid: 20 % of positions above 100k USDC, then a
    30 s cooldown after which the whole rest goes; the cooldown is not modelled). One whose equity at
    mark is already zero or negative sends no order: it goes straight to the loss waterfall (dYdX Chain: "if an
    account's value turns negative, deleveraging occurs immediately"; Binance places liquidation orders at the
    bankruptcy price, which cannot fill then). The book takes at most
    ``book_depth_usd`` notional per side per step, at a square-root impact: the marginal slippage of the ``x``-th
    dollar is ``k sqrt(x / D)``, so a fill of ``n`` after ``a`` already filled this step costs
    ``C(a + n) - C(a)`` with ``C(x) = 2/3 k x^{3/2} / sqrt(D)``. Fills are taken in trader order. With
    ``overflow`` the book takes every order whole and the same impact curve continues past ``D`` (a thin book walked
    through: the marginal slippage of the ``x``-th dollar is still ``k sqrt(x / D)``), so nothing waits. A liquidation fee,
    ``fee_rate`` of the filled notional, goes to the insurance fund, never taking equity below zero.
Backstop vault (Hyperliquid "Liquidator vault", HLP)
    When the book cannot absorb an order and the account still has non-negative equity, the vault takes over all of
    the bucket's remaining positions at the bankruptcy price: it receives the positions at their entry prices with
    the bucket's margin, ``bp = entry - margin / size``, so the trader keeps nothing (the maintenance margin is the
    vault's buffer). Without a vault the order waits for the next step (``n_unserved``).
Loss waterfall (Binance "Insurance Fund", "Auto-Deleveraging"; dYdX "Contract loss mechanisms")
    A bucket with negative equity after its book fill (or none left at mark before it) is bankrupt: its margin is
    gone, its deficit ``D`` is paid by the insurance fund (pro rata over the round's bankrupt buckets when the fund
    is short; the positions of a fully covered bucket close at mark to the vault, or to the external book without
    one), the rest ``D'`` by
    auto-deleveraging: per market and side, the bankrupt positions (``D'`` split over a cross account's positions by
    notional) are matched against offsetting positions at the price that moves ``D'`` to them; what no offsetting
    position covers is a socialised loss. ADL rules:

    ``binance`` (Binance, Bybit and BitMEX publish the same ranking)
        eligible: profitable offsetting positions of accounts with positive equity; ranked by
        ``pnl% * effective leverage``, ``pnl% = size (mark - entry) / |size entry|``, effective leverage
        ``|size| mark / account equity``; filled greedily from the top (ties by trader index).
    ``dydx`` (dYdX Chain v4)
        eligible: every offsetting position of an account with positive equity, in a random order (a key per
        trader and round); filled greedily.
    ``pro_rata``
        eligible: profitable offsetting positions of accounts with positive equity; each reduced by the same
        fraction ``min(1, S / W)``, ``S`` the bankrupt size and ``W`` the eligible size.
    ``none``
        every ``D'`` is socialised.

    A deleveraged position of size ``q`` is closed at mark and pays ``D'_m q / S`` (all deleveraged positions of a
    market-side share one ADL price in a round). The bankrupt positions close at mark against the deleveraged ones
    and, for the unmatched part, against the external book.

Index rate limit (Mango v4 "stable price", blockworks-foundation/mango-v4 ``programs/mango-v4/src/state/
stable_price.rs``: "the stable price follows the oracle price, but its relative rate of change is limited (to
``stable_growth_limit``)", default 0.0003 per second)
    With ``index_growth_limit = g`` per second, the index the venue uses at a step ``dt`` seconds after the previous
    one is the oracle clamped to ``[ref (1 - g dt), ref (1 + g dt)]``, ``ref`` the index it used at the previous
    step (every round of a step shares it), or the starting index at time 0 when the book is seeded with it (the
    scenario's starting prices; unseeded, the first step takes the oracle as is). Simplification: Mango v4 uses
    the stable price only for initial health (the lower of oracle and stable price for assets); here the venue uses
    the limited index for everything (mark, margin, withdrawals), and Mango's 24 h delay price is not modelled.
Withdrawal against unrealised profit (Mango Markets v3, October 2022)
    A trader marked ``withdraws`` takes out, every round before the liquidation check, the equity of its cross
    account above the initial margin of its cross positions (``notional / max_leverage`` of each position's tier)
    at mark: Mango v3 counted unsettled perp profit as collateral for borrows, and the attacker borrowed the
    venue's deposits against it. The withdrawn cash leaves the venue (ledger ``withdrawn``).

Cash ledger. Every USD the modelled accounts, the fund and the vault hold changes only through: realised PnL at
mark (paid by the venue's clearing), impact cost (paid to the book), funding from the external side, withdrawals,
and the socialised loss (a deficit written off). :func:`cash_identity_gap` checks it.

References
----------
Binance, "Leverage and Margin of USDⓈ-M Futures", https://www.binance.com/en/support/faq/360033162192;
"Mark Price in USDⓈ-M futures", https://www.binance.com/en/support/faq/360033525071;
"Introduction to Binance Futures Funding Rates" (``F = P + clamp(I - P, 0.05%, -0.05%)``, interest 0.01 % per 8 h);
"What Is Auto-Deleveraging (ADL)", https://www.binance.com/en/support/faq/360033525471.
BitMEX, "What is Auto-Deleveraging", https://support.bitmex.com/hc/en-gb/articles/18589621443357 (ranking
``PNL% * effective leverage``, effective leverage ``abs(mark value) / (mark value - bankrupt value)``).
Hyperliquid docs, "Liquidations" and "Auto-deleveraging",
https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations (book first, 20 % partial above 100k USDC,
liquidator vault at 2/3 of maintenance, maintenance margin not returned).
dYdX, "Contract loss mechanisms on dYdX Chain", https://help.dydx.trade/en/articles/166973 (insurance fund, then
deleveraging of randomly selected offsetting positions at the bankruptcy price); v3:
https://help.dydx.exchange/en/articles/4797358-v3-contract-loss-mechanisms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from firesale.exceptions import ParameterError

__all__ = [
    "ADL_RULES",
    "MarketParams",
    "PerpBook",
    "VenueParams",
    "adl_allocation",
    "advance_premium",
    "cash_identity_gap",
    "check_open",
    "funding_rate",
    "impact_cost",
    "initial_margin_fraction",
    "limited_index",
    "maintenance_margin",
    "mark_price",
    "perp_round",
    "settle_funding",
    "withdraw_profit",
]

ADL_RULES = ("binance", "dydx", "pro_rata", "none")


@dataclass(frozen=True)
class MarketParams:
    """One perp market. ``tiers`` is a sequence of ``(notional_floor_usd, max_leverage, mmr)`` from floor 0 up."""

    tiers: tuple[tuple[float, float, float], ...]
    book_depth_usd: float
    impact: float = 0.0
    interest: float = 0.0001
    clamp: float = 0.0005
    cap: float = 0.01
    premium_mean: float = 0.0
    premium_ar: float = 0.0
    premium_vol: float = 0.0
    oi_cap_usd: float = math.inf
    index_growth_limit: float = math.inf  # per second (Mango v4's stable_growth_limit); inf: the oracle as is
    overflow: bool = False  # the book takes whole orders, the square-root impact continuing past the depth


@dataclass(frozen=True)
class VenueParams:
    """Venue-wide rules: liquidation fee, partial liquidation, the vault, the ADL rule and the funding interval."""

    markets: tuple[MarketParams, ...]
    fee_rate: float = 0.0
    partial_threshold_usd: float = math.inf
    partial_fraction: float = 1.0
    vault: bool = True
    adl_rule: str = "binance"
    funding_interval: float = 28_800.0


@dataclass
class PerpBook:
    """One path's venue state. ``size``, ``entry``, ``iso_margin``, ``isolated`` are ``[trader][market]`` lists."""

    cash: list[float]
    size: list[list[float]]
    entry: list[list[float]]
    iso_margin: list[list[float]]
    isolated: list[list[bool]]
    insurance: float
    vault_cash: float
    premium: list[float]
    vault_pos: list[float] = field(default_factory=list)
    vault_cost: list[float] = field(default_factory=list)
    basis: list[float] = field(default_factory=list)
    f_last: list[float] = field(default_factory=list)
    next_funding: float = 28_800.0
    n_funding: int = 0
    used: list[list[float]] = field(default_factory=list)
    last_time: float = -math.inf
    realised: float = 0.0
    slippage: float = 0.0
    funding_in: float = 0.0
    socialised: float = 0.0
    fees: float = 0.0
    adl_notional: float = 0.0
    adl_transfer: float = 0.0
    vault_taken: list[float] = field(default_factory=list)
    n_liquidated: int = 0
    n_unserved: int = 0
    withdraws: list[bool] = field(default_factory=list)
    withdrawn: float = 0.0
    insurance_paid: float = 0.0
    exhausted: bool = False
    band_ref: list[float] = field(default_factory=list)
    band_last: list[float] = field(default_factory=list)  # seed with the starting index and band_time = 0
    band_time: float = math.nan
    band_dt: float = 0.0

    def __post_init__(self) -> None:
        m = len(self.premium)
        for name in ("vault_pos", "vault_cost", "f_last", "vault_taken"):
            if not getattr(self, name):
                setattr(self, name, [0.0] * m)
        if not self.basis:
            self.basis = list(self.premium)
        if not self.used:
            self.used = [[0.0, 0.0] for _ in range(m)]
        if not self.withdraws:
            self.withdraws = [False] * len(self.cash)

    def total_cash(self) -> float:
        """Trader collateral, isolated margins, the insurance fund and the vault's cash, USD."""
        iso = sum(sum(row) for row in self.iso_margin)
        return sum(self.cash) + iso + self.insurance + self.vault_cash


# --- margin ---------------------------------------------------------------------------------------------------------


def _tier(notional: float, tiers: Sequence[tuple[float, float, float]]) -> int:
    k = 0
    for j in range(1, len(tiers)):
        if notional >= tiers[j][0]:
            k = j
    return k


def maintenance_margin(notional: float, tiers: Sequence[tuple[float, float, float]]) -> float:
    """Maintenance margin of a position of ``notional`` USD (Binance's tiered rule).

    Parameters
    ----------
    notional : float
        ``|size| * mark``, USD.
    tiers : sequence of (notional_floor_usd, max_leverage, mmr)
        Increasing floors, the first 0.

    Returns
    -------
    float
        ``notional * mmr_k - amount_k`` with ``amount_k = amount_{k-1} + floor_k (mmr_k - mmr_{k-1})``.

    Examples
    --------
    Binance-style BTC tiers, 0.4 % to 50k and 0.5 % above: 60k needs 0.4 % of 50k plus 0.5 % of 10k.

    >>> round(maintenance_margin(60_000.0, ((0.0, 125.0, 0.004), (50_000.0, 100.0, 0.005))), 9)
    250.0
    """
    k = _tier(notional, tiers)
    amount = 0.0
    for j in range(1, k + 1):
        amount += tiers[j][0] * (tiers[j][2] - tiers[j - 1][2])
    return notional * tiers[k][2] - amount


def initial_margin_fraction(notional: float, tiers: Sequence[tuple[float, float, float]]) -> float:
    """``1 / max_leverage`` of the tier ``notional`` falls in (the leverage limit of a position that size)."""
    return 1.0 / tiers[_tier(notional, tiers)][1]


def check_open(
    equity: float,
    requirement: float,
    notional: float,
    leverage: float,
    oi_side_usd: float,
    market: MarketParams,
) -> str | None:
    """Why opening a position is refused, or None: over the tier's leverage, short of initial margin, over the OI cap.

    Parameters
    ----------
    equity : float
        The bucket's equity after the trade, USD.
    requirement : float
        Initial margin of the bucket's other positions, USD.
    notional : float
        The new position's notional, USD.
    leverage : float
        Leverage chosen by the trader.
    oi_side_usd : float
        Open interest of that side after the trade, USD.
    market : MarketParams
    """
    if leverage > 1.0 / initial_margin_fraction(notional, market.tiers) * (1 + 1e-12):
        return "leverage above the tier's maximum"
    if equity < requirement + notional / leverage:
        return "equity below initial margin"
    if oi_side_usd > market.oi_cap_usd:
        return "open interest cap"
    return None


# --- prices and funding ---------------------------------------------------------------------------------------------


def mark_price(
    index: float, premium: float, basis: float, f_last: float, time_to_funding: float, interval: float
) -> float:
    """Binance's mark price: the median of ``P1``, ``P2`` and the contract price (module docstring)."""
    p1 = index * (1.0 + f_last * (time_to_funding / interval))
    p2 = index * (1.0 + basis)
    p3 = index * (1.0 + premium)
    return sorted((p1, p2, p3))[1]


def funding_rate(premium: float, interest: float, clamp: float, cap: float) -> float:
    """``F = P + clamp(I - P, -c, c)`` capped at ``±cap``.

    Examples
    --------
    A premium of 0.03 % sits within 0.05 % of the 0.01 % interest rate, so funding is the interest rate:

    >>> round(funding_rate(0.0003, 0.0001, 0.0005, 0.01), 12)
    0.0001
    """
    f = premium + min(max(interest - premium, -clamp), clamp)
    return min(max(f, -cap), cap)


def advance_premium(premium: float, mean: float, ar: float, vol: float, z: float) -> float:
    """One interval of the premium index's AR(1): ``mean + ar (premium - mean) + vol z``."""
    return mean + ar * (premium - mean) + vol * z


def impact_cost(start_usd: float, fill_usd: float, impact: float, depth_usd: float) -> float:
    """Slippage (USD) of filling ``fill_usd`` after ``start_usd`` this step: ``C(a + n) - C(a)``."""
    if depth_usd <= 0.0 or impact == 0.0:
        return 0.0
    c = 2.0 / 3.0 * impact / math.sqrt(depth_usd)
    return c * ((start_usd + fill_usd) ** 1.5 - start_usd**1.5)


def settle_funding(book: PerpBook, params: VenueParams, index: Sequence[float], time: float, z) -> None:
    """Pay every funding interval that has ended by ``time`` (``z(n_funding, market)`` gives the premium's shock)."""
    n_t, n_m = len(book.cash), len(index)
    while time >= book.next_funding:
        rates = []
        for m in range(n_m):
            mk = params.markets[m]
            mark = mark_price(
                index[m], book.premium[m], book.basis[m], book.f_last[m], 0.0, params.funding_interval
            )
            f = funding_rate(book.premium[m], mk.interest, mk.clamp, mk.cap)
            rates.append(f)
            for i in range(n_t):
                s = book.size[i][m]
                if s == 0.0:
                    continue
                pay = -s * mark * f
                if book.isolated[i][m]:
                    book.iso_margin[i][m] += pay
                else:
                    book.cash[i] += pay
                book.funding_in += pay
            vpay = -book.vault_pos[m] * mark * f
            book.vault_cash += vpay
            book.funding_in += vpay
        for m in range(n_m):
            mk = params.markets[m]
            new = advance_premium(
                book.premium[m], mk.premium_mean, mk.premium_ar, mk.premium_vol, z(book.n_funding, m)
            )
            book.basis[m] = 0.5 * (book.premium[m] + new)
            book.premium[m] = new
            book.f_last[m] = rates[m]
        book.next_funding += params.funding_interval
        book.n_funding += 1


def limited_index(
    oracle: Sequence[float], ref: Sequence[float], dt: float, limits: Sequence[float]
) -> list[float]:
    """The index the venue uses: ``oracle`` clamped to ``ref (1 ± g dt)`` per market (Mango v4's stable price).

    Examples
    --------
    A limit of 0.0003 per second over a 300 s step allows a 9 % move: an oracle pushed from 1.00 to 1.50 reads 1.09.

    >>> [round(x, 12) for x in limited_index([1.5], [1.0], 300.0, [0.0003])]
    [1.09]
    """
    if not ref:
        return list(oracle)
    out = []
    for m, p in enumerate(oracle):
        g = limits[m]
        if math.isinf(g):
            out.append(p)
            continue
        band = g * dt
        out.append(min(max(p, ref[m] * (1.0 - band)), ref[m] * (1.0 + band)))
    return out


def withdraw_profit(book: PerpBook, params: VenueParams, mark: Sequence[float]) -> None:
    """Traders marked ``withdraws`` take out their cross equity above initial margin at ``mark`` (Mango v3)."""
    for i in range(len(book.cash)):
        if not book.withdraws[i]:
            continue
        equity, im = book.cash[i], 0.0
        for m, px in enumerate(mark):
            if book.isolated[i][m] or book.size[i][m] == 0.0:
                continue
            notional = abs(book.size[i][m]) * px
            equity += book.size[i][m] * (px - book.entry[i][m])
            im += notional * initial_margin_fraction(notional, params.markets[m].tiers)
        w = equity - im
        if w > 0.0:
            book.cash[i] -= w
            book.withdrawn += w


# --- ADL --------------------------------------------------------------------------------------------------------------


def adl_allocation(
    rule: str, need: float, sizes: Sequence[float], eligible: Sequence[bool], scores: Sequence[float]
) -> list[float]:
    """Size taken from each offsetting position to match a bankrupt size ``need`` under ``rule``.

    Parameters
    ----------
    rule : {"binance", "dydx", "pro_rata", "none"}
    need : float
        Bankrupt size to match (base units, positive).
    sizes : sequence of float
        Absolute sizes of the offsetting positions, by trader.
    eligible : sequence of bool
    scores : sequence of float
        Priority, highest first (``binance``: pnl% x effective leverage; ``dydx``: a random key).

    Returns
    -------
    list of float
        Size taken from each position, at most its size, summing to ``min(need, eligible size)``.

    Examples
    --------
    Three winners of sizes 1, 2, 3 with scores 0.2, 0.9, 0.5 and 2.5 to match: ranked 1, 2, 0.

    >>> adl_allocation("binance", 2.5, [1.0, 2.0, 3.0], [True, True, True], [0.2, 0.9, 0.5])
    [0.0, 2.0, 0.5]
    >>> adl_allocation("pro_rata", 3.0, [1.0, 2.0, 3.0], [True, True, True], [0.0, 0.0, 0.0])
    [0.5, 1.0, 1.5]
    """
    if rule not in ADL_RULES:
        raise ParameterError(f"The 'rule' parameter of adl_allocation must be one of {list(ADL_RULES)}. "
                             f"Got {rule!r} instead.")  # fmt: skip
    n = len(sizes)
    out = [0.0] * n
    if rule == "none" or need <= 0.0:
        return out
    if rule == "pro_rata":
        w = sum(sizes[j] for j in range(n) if eligible[j])
        if w <= 0.0:
            return out
        frac = min(1.0, need / w)
        return [sizes[j] * frac if eligible[j] else 0.0 for j in range(n)]
    order = sorted((j for j in range(n) if eligible[j]), key=lambda j: (-scores[j], j))
    cum = 0.0
    for j in order:
        out[j] = min(max(need - cum, 0.0), sizes[j])
        cum += sizes[j]
    return out


# --- the round --------------------------------------------------------------------------------------------------------


def _equities(book: PerpBook, mark: Sequence[float]) -> tuple[list[float], list[list[float]]]:
    n_t, n_m = len(book.cash), len(mark)
    cross = []
    iso = []
    for i in range(n_t):
        e = book.cash[i]
        row = []
        for m in range(n_m):
            u = book.size[i][m] * (mark[m] - book.entry[i][m])
            if book.isolated[i][m]:
                row.append(book.iso_margin[i][m] + u)
            else:
                e += u
                row.append(0.0)
        cross.append(e)
        iso.append(row)
    return cross, iso


def _buckets(book: PerpBook) -> list[tuple[int, list[int]]]:
    """Liquidation units: each trader's cross account (its cross markets), then its isolated positions, as
    ``(trader, markets)``; isolated ones have one market."""
    out = []
    n_m = len(book.size[0]) if book.size else 0
    for i in range(len(book.cash)):
        out.append((i, [m for m in range(n_m) if not book.isolated[i][m]]))
        for m in range(n_m):
            if book.isolated[i][m]:
                out.append((i, [m]))
    return out


def perp_round(
    book: PerpBook,
    params: VenueParams,
    index: Sequence[float],
    time: float,
    z,
    keys: Sequence[Sequence[float]] | None = None,
) -> list[float]:
    """One cascade round on one path: funding due by ``time``, mark prices, liquidations and the loss waterfall.

    Parameters
    ----------
    book : PerpBook
        Mutated in place.
    params : VenueParams
    index : sequence of float
        Index (oracle) price per market.
    time : float
        Seconds; the book's per-step capacity resets when it changes.
    z : callable (n_funding, market) -> float
        Standard normal shocks of the premium index.
    keys : sequence of sequence of float, optional
        ``keys[m][i]``, the ``dydx`` rule's random priority of trader ``i`` in market ``m`` this round.

    Returns
    -------
    list of float
        Signed size the vault took over per market this round (its spot hedge is the opposite trade).
    """
    n_t, n_m = len(book.cash), len(index)
    if time != book.last_time:
        book.used = [[0.0, 0.0] for _ in range(n_m)]
        book.last_time = time
    if book.band_last and time != book.band_time:
        book.band_ref, book.band_dt = list(book.band_last), time - book.band_time
    index = limited_index(
        index, book.band_ref, book.band_dt, [mk.index_growth_limit for mk in params.markets]
    )
    book.band_last, book.band_time = list(index), time
    settle_funding(book, params, index, time, z)
    mark = [
        mark_price(index[m], book.premium[m], book.basis[m], book.f_last[m], book.next_funding - time,
                   params.funding_interval)
        for m in range(n_m)
    ]  # fmt: skip
    withdraw_profit(book, params, mark)
    cross_e, iso_e = _equities(book, mark)
    liq = []
    for i, ms in _buckets(book):
        isolated = len(ms) == 1 and book.isolated[i][ms[0]]
        equity = iso_e[i][ms[0]] if isolated else cross_e[i]
        notional = sum(abs(book.size[i][m]) * mark[m] for m in ms)
        mm = sum(maintenance_margin(abs(book.size[i][m]) * mark[m], params.markets[m].tiers) for m in ms)
        if notional > 0.0 and equity < mm:
            liq.append((i, ms, isolated, notional, equity))
    book.n_liquidated += len(liq)
    # book fills, in trader order per market and side
    orders = {}
    for i, ms, _isolated, notional, equity in liq:
        if equity <= 0.0:  # bankrupt at mark: no book order at all, straight to the loss waterfall
            continue
        f = params.partial_fraction if notional > params.partial_threshold_usd else 1.0
        for m in ms:
            if book.size[i][m] != 0.0:
                orders[(i, m)] = f * abs(book.size[i][m]) * mark[m]
    fills = {}
    for m in range(n_m):
        mk = params.markets[m]
        for i in range(n_t):
            if (i, m) not in orders:
                continue
            n = orders[(i, m)]
            side = 0 if book.size[i][m] > 0 else 1
            start = book.used[m][side]
            fill = n if mk.overflow else min(max(mk.book_depth_usd - start, 0.0), n)
            cost = impact_cost(start, fill, mk.impact, mk.book_depth_usd)
            book.used[m][side] = start + fill
            fills[(i, m)] = fill
            s = book.size[i][m]
            delta = math.copysign(fill / mark[m], s)
            pnl = delta * (mark[m] - book.entry[i][m])
            if book.isolated[i][m]:
                book.iso_margin[i][m] += pnl - cost
            else:
                book.cash[i] += pnl - cost
            # a full close leaves no rounding residue (it would be deleveraged, not socialised)
            left = s - delta
            book.size[i][m] = 0.0 if abs(left) <= 1e-12 * abs(s) else left
            book.realised += pnl
            book.slippage += cost
    # fee, then vault takeover or bankruptcy
    vault_taken = [0.0] * n_m
    bankrupt = []
    for i, ms, isolated, _notional, equity0 in liq:
        filled = sum(fills.get((i, m), 0.0) for m in ms)
        unfilled = any(
            orders[(i, m)] - fills[(i, m)] > 1e-12 * orders[(i, m)] for m in ms if (i, m) in orders
        )
        cash = book.iso_margin[i][ms[0]] if isolated else book.cash[i]
        equity = cash + sum(book.size[i][m] * (mark[m] - book.entry[i][m]) for m in ms)
        fee = min(params.fee_rate * filled, max(equity, 0.0))
        cash -= fee
        equity -= fee
        book.insurance += fee
        book.fees += fee
        if equity < 0.0 or equity0 <= 0.0:
            bankrupt.append((i, ms, isolated, -equity))
        elif unfilled and params.vault:
            for m in ms:
                s = book.size[i][m]
                book.vault_pos[m] += s
                book.vault_cost[m] += s * book.entry[i][m]
                vault_taken[m] += s
                book.size[i][m] = 0.0
            book.vault_cash += cash
            cash = 0.0
        elif unfilled:
            book.n_unserved += 1
        if isolated:
            book.iso_margin[i][ms[0]] = cash
        else:
            book.cash[i] = cash
    for m in range(n_m):
        book.vault_taken[m] += vault_taken[m]
    if not bankrupt:
        return vault_taken
    # insurance fund, pro rata over the round's deficits
    total = sum(d for *_, d in bankrupt)
    paid = min(total, max(book.insurance, 0.0))
    share = paid / total if total > 0.0 else 0.0
    book.insurance -= paid
    book.insurance_paid += paid
    book.exhausted = book.exhausted or total > paid
    # ranking state before any deleveraging
    cross_e, iso_e = _equities(book, mark)
    is_bankrupt = [[False] * n_m for _ in range(n_t)]
    for i, ms, _iso, _d in bankrupt:
        for m in ms:
            is_bankrupt[i][m] = True
    need_size = [[0.0, 0.0] for _ in range(n_m)]  # bankrupt size by market and its side (0 long, 1 short)
    need_usd = [[0.0, 0.0] for _ in range(n_m)]
    socialised = 0.0
    for i, ms, isolated, d in bankrupt:
        rest = d - d * share
        notional = sum(abs(book.size[i][m]) * mark[m] for m in ms)
        for m in ms:
            s = book.size[i][m]
            if s == 0.0:
                continue
            pnl = s * (mark[m] - book.entry[i][m])
            book.realised += pnl
            side = 0 if s > 0 else 1
            if rest > 0.0:
                need_size[m][side] += abs(s)
                need_usd[m][side] += rest * abs(s) * mark[m] / notional
            elif params.vault:
                book.vault_pos[m] += s
                book.vault_cost[m] += s * mark[m]
                vault_taken[m] += s
                book.vault_taken[m] += s
            book.size[i][m] = 0.0
        if notional <= 0.0:
            socialised += rest
        if isolated:
            book.iso_margin[i][ms[0]] = 0.0
        else:
            book.cash[i] = 0.0
    for m in range(n_m):
        for side in (0, 1):
            need, usd = need_size[m][side], need_usd[m][side]
            if need <= 0.0:
                continue
            opp = -1.0 if side == 0 else 1.0  # offsetting positions have the opposite sign
            sizes, elig, scores = [], [], []
            for i in range(n_t):
                s = book.size[i][m]
                e = iso_e[i][m] if book.isolated[i][m] else cross_e[i]
                ok = s * opp > 0.0 and e > 0.0 and not is_bankrupt[i][m]
                u = s * (mark[m] - book.entry[i][m])
                if params.adl_rule != "dydx":
                    ok = ok and u > 0.0
                sizes.append(abs(s))
                elig.append(ok)
                if params.adl_rule == "dydx":
                    scores.append(keys[m][i] if keys is not None else 0.0)
                elif ok:
                    scores.append(u / abs(s * book.entry[i][m]) * abs(s) * mark[m] / e)
                else:
                    scores.append(0.0)
            take = adl_allocation(params.adl_rule, need, sizes, elig, scores)
            matched = 0.0
            for i in range(n_t):
                q = take[i]
                if q <= 0.0:
                    continue
                s = book.size[i][m]
                delta = math.copysign(q, s)
                pnl = delta * (mark[m] - book.entry[i][m])
                transfer = usd * q / need
                if book.isolated[i][m]:
                    book.iso_margin[i][m] += pnl - transfer
                else:
                    book.cash[i] += pnl - transfer
                book.size[i][m] = s - delta
                book.realised += pnl
                book.adl_notional += q * mark[m]
                book.adl_transfer += transfer
                matched += q
            socialised += usd * (1.0 - matched / need)
    book.socialised += socialised
    return vault_taken


def cash_identity_gap(book: PerpBook, initial_cash: float) -> float:
    """``total cash - initial - realised + slippage - funding_in - socialised + withdrawn``: zero up to rounding."""
    moved = book.realised - book.slippage + book.funding_in + book.socialised - book.withdrawn
    return book.total_cash() - initial_cash - moved
