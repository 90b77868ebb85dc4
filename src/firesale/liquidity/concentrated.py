"""Concentrated-liquidity pools (Uniswap v3 style), vectorized over Monte Carlo paths.

The float64 counterpart of :class:`firesale.mechanics.uniswap_v3.Pool`. Liquidity sits in tick ranges; between two
consecutive initialised ticks the pool is a constant-product curve with virtual reserves
:math:`x = L/\\sqrt{P}`, :math:`y = L\\sqrt{P}`. A swap walks across initialised ticks, applying each tick's
``liquidityNet``, until its input is spent or it reaches a price limit. Every path has its own price and
position in the tick array; the walk is a loop over tick crossings with array operations over the paths still
trading, never a loop over paths.

Internally prices and liquidity are in raw token units (wei-like, as on chain); amounts and prices at the
interface are in human token units (``decimals`` applied).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np

from firesale._threads import serial_twin
from firesale.exceptions import ParameterError
from firesale.liquidity._checks import coin_pair, path_array
from firesale.liquidity._venue import Venue, VenueState
from firesale.mechanics.uniswap_v3 import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

__all__ = ["ConcentratedLiquidityPool"]

_Q96 = float(2**96)
# The contract's default swap limits, one unit inside the representable price range.
_LIMIT_LOW = (MIN_SQRT_RATIO + 1) / _Q96
_LIMIT_HIGH = (MAX_SQRT_RATIO - 1) / _Q96
#: Paths trading at which a swap runs in parallel; below, on one thread (firesale._threads). Set from
#: benchmarks/bench_threads.py.
SWAP_PARALLEL_FROM = 8192


def _int_param(value: object, name: str, func: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise ParameterError(
            f"The '{name}' parameter of {func} must be an int in [{lo}, {hi}]. Got {value!r} instead."
        )
    return int(value)


def _check_coins(coins: object, func: str) -> tuple[str, str]:
    if (
        isinstance(coins, str)
        or not isinstance(coins, Sequence)
        or len(coins) != 2
        or not all(isinstance(c, str) and c for c in coins)
        or coins[0] == coins[1]
    ):
        raise ParameterError(
            f"The 'coins' parameter of {func} must be two distinct non-empty str. Got {coins!r} instead."
        )
    return coins[0], coins[1]


def _fee_pips(fee: object, fee_bps: object, func: str) -> int:
    if fee is not None and fee_bps is not None:
        raise ParameterError(
            f"The 'fee_bps' parameter of {func} must be None when 'fee' is given. Got {fee_bps!r} instead."
        )
    if fee_bps is None:
        return _int_param(3000 if fee is None else fee, "fee", func, 0, 999_999)
    pips = fee_bps * 100 if isinstance(fee_bps, int | float) and not isinstance(fee_bps, bool) else math.nan
    if not (0 <= pips < 1e6 and abs(pips - round(pips)) < 1e-9):
        raise ParameterError(
            f"The 'fee_bps' parameter of {func} must be a whole number of pips (0.01 bps) in [0, 10000). "
            f"Got {fee_bps!r} instead."
        )
    return round(pips)


def _start_price(sqrt_price_x96: object, price: object, decimals: object, func: str) -> int:
    if (sqrt_price_x96 is None) == (price is None):
        raise ParameterError(
            f"The 'price' parameter of {func} must be given exactly when 'sqrt_price_x96' is not. "
            f"Got price={price!r}, sqrt_price_x96={sqrt_price_x96!r} instead."
        )
    if price is None:
        return _int_param(sqrt_price_x96, "sqrt_price_x96", func, MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1)
    if (
        isinstance(price, bool)
        or not isinstance(price, int | float)
        or not (math.isfinite(price) and price > 0)
    ):
        raise ParameterError(
            f"The 'price' parameter of {func} must be a finite float > 0. Got {price!r} instead."
        )
    if not (isinstance(decimals, tuple | list) and len(decimals) == 2):
        raise ParameterError(
            f"The 'decimals' parameter of {func} must be two ints. Got {decimals!r} instead."
        )
    d0 = _int_param(decimals[0], "decimals0", func, 0, 255)
    d1 = _int_param(decimals[1], "decimals1", func, 0, 255)
    # Raw price (token1 base units per token0 base unit), then its square root as Q64.96.
    sqrt_raw = math.sqrt(price) * 10.0 ** ((d1 - d0) / 2)
    sqrt_price = round(sqrt_raw * 2**96)
    if not MIN_SQRT_RATIO <= sqrt_price < MAX_SQRT_RATIO:
        raise ParameterError(
            f"The 'price' parameter of {func} must lie within Uniswap v3's price range (ticks "
            f"[{MIN_TICK}, {MAX_TICK}]) after decimals. Got {price!r} instead."
        )
    return sqrt_price


class ConcentratedLiquidityPool(Venue):
    """A two-coin concentrated-liquidity pool (Uniswap v3), vectorized over paths.

    Parameters
    ----------
    name : str
        Unique name of the venue.
    coins : tuple of (str, str)
        ``(token0, token1)`` in the pool's order; prices of coin 0 are in units of coin 1.
    ranges : sequence of (int, int, float)
        Positions ``(tick_lower, tick_upper, liquidity)``: ticks are multiples of ``tick_spacing`` in
        ``[MIN_TICK, MAX_TICK]``, liquidity > 0 in raw units (:math:`\\sqrt{x_{raw} y_{raw}}`, as on chain).
    sqrt_price_x96 : int, optional
        Starting price as the pool's Q64.96 ``sqrtPriceX96`` (raw units). Give this or ``price``.
    fee : int, optional
        Swap fee in pips (millionths): 500, 3000, 10000. Give this or ``fee_bps``; the default is 3000.
    tick_spacing : int, default 60
        The pool's tick spacing.
    decimals : tuple of (int, int), default (18, 18)
        Token decimals; amounts and prices at the interface are in human units.
    price : float, optional
        Starting price of coin 0 in units of coin 1, human units (keyword only; instead of ``sqrt_price_x96``).
    fee_bps : float, optional
        Swap fee in basis points (keyword only; instead of ``fee``); must be a whole number of pips.

    Notes
    -----
    State arrays, shape ``(n_paths,)``: ``"sqrt_price"`` (raw :math:`\\sqrt{P}`), ``"segment"`` (index of the
    liquidity segment between initialised ticks, stored as float), ``"liquidity_scale"`` (LP exit factor) and
    ``"liquidity"`` (active liquidity, raw). Within a segment of liquidity :math:`L`, selling :math:`a` of
    token0 (gross of fee, :math:`\\gamma = 1 - \\text{fee}/10^6`) moves the price to
    :math:`\\sqrt{P'} = L\\sqrt{P}/(L + \\gamma a \\sqrt{P})` and pays :math:`L(\\sqrt{P} - \\sqrt{P'})` of
    token1; reaching the segment's end crosses the tick. Input the pool cannot absorb before its price bound
    (``MIN/MAX_SQRT_RATIO``, where the contract's default limits stop a swap) is not taken.

    References
    ----------
    Uniswap/v3-core ``contracts/UniswapV3Pool.sol`` (``swap``), ``contracts/libraries/SwapMath.sol`` and
    ``SqrtPriceMath.sol``, commit d8b1c635c275d2a9450bd6a78f3fa2484fef73eb.

    Examples
    --------
    >>> import numpy as np
    >>> pool = ConcentratedLiquidityPool(
    ...     "pool", ("A", "B"), ranges=[(-600, 600, 1e21)], sqrt_price_x96=2**96, fee=3000, decimals=(18, 18)
    ... )
    >>> state = pool.init_state(2)
    >>> pool.price(state, 0, 1)
    array([1., 1.])
    >>> pool.swap(state, 0, 1, np.array([0.0, 10.0])).round(6)
    array([0.     , 9.87158])
    """

    def __init__(
        self,
        name: str,
        coins: Sequence[str],
        ranges: Sequence[tuple[int, int, float]],
        sqrt_price_x96: int | None = None,
        fee: int | None = None,
        tick_spacing: int = 60,
        decimals: tuple[int, int] = (18, 18),
        *,
        price: float | None = None,
        fee_bps: float | None = None,
    ) -> None:
        func = "ConcentratedLiquidityPool"
        tick_spacing = _int_param(tick_spacing, "tick_spacing", func, 1, 16383)
        fee = _fee_pips(fee, fee_bps, func)
        sqrt_price_x96 = _start_price(sqrt_price_x96, price, decimals, func)
        try:
            parsed = [(int(lo), int(hi), float(liq)) for lo, hi, liq in ranges]
        except (TypeError, ValueError):
            parsed = []
        ok = bool(parsed) and all(
            MIN_TICK <= lo < hi <= MAX_TICK
            and lo % tick_spacing == 0
            and hi % tick_spacing == 0
            and math.isfinite(liq)
            and liq > 0
            for lo, hi, liq in parsed
        )
        if not ok:
            raise ParameterError(
                f"The 'ranges' parameter of {func} must be a non-empty list of (tick_lower, tick_upper, liquidity) "
                f"with MIN_TICK <= tick_lower < tick_upper <= MAX_TICK, both multiples of tick_spacing="
                f"{tick_spacing}, and liquidity > 0. Got {ranges!r} instead."
            )
        lower = np.array([r[0] for r in parsed], dtype=np.int64)
        upper = np.array([r[1] for r in parsed], dtype=np.int64)
        liq = np.array([r[2] for r in parsed], dtype=np.float64)
        ticks = np.unique(np.concatenate([lower, upper]))
        # Segment k lies between ticks[k-1] and ticks[k]; a range covers it when it spans both ends. Summing the
        # covering ranges (rather than a running sum of liquidityNet) keeps thin segments exact.
        seg_lower = np.concatenate([[np.iinfo(np.int64).min], ticks])
        seg_upper = np.concatenate([ticks, [np.iinfo(np.int64).max]])
        covers = (lower[None, :] <= seg_lower[:, None]) & (upper[None, :] >= seg_upper[:, None])
        segment_liquidity = covers @ liq
        net = np.zeros(ticks.shape[0])
        np.add.at(net, np.searchsorted(ticks, lower), liq)
        np.add.at(net, np.searchsorted(ticks, upper), -liq)
        self._setup(
            name, coins, ticks, net, segment_liquidity, sqrt_price_x96, fee, tick_spacing, decimals, func
        )

    @classmethod
    def from_snapshot(
        cls,
        ticks_df: Any,
        sqrt_price_x96: int,
        liquidity: float,
        fee: int,
        tick_spacing: int,
        decimals0: int,
        decimals1: int,
        coins: Sequence[str],
        name: str | None = None,
    ) -> ConcentratedLiquidityPool:
        """Build a pool from a tick snapshot (as served by the Uniswap v3 subgraph).

        Parameters
        ----------
        ticks_df : pandas.DataFrame
            One row per initialised tick with columns ``tickIdx`` and ``liquidityNet`` (raw units; rows with
            zero ``liquidityNet`` are ignored).
        sqrt_price_x96 : int
            The pool's ``slot0.sqrtPriceX96``.
        liquidity : float
            The pool's active liquidity; it anchors the running sum of ``liquidityNet`` (whose float rounding
            would otherwise drift) and must agree with that sum to 1e-6.
        fee : int
            Fee tier in pips.
        tick_spacing : int
            The pool's tick spacing.
        decimals0, decimals1 : int
            Token decimals.
        coins : tuple of (str, str)
            ``(token0, token1)`` symbols in the pool's order.
        name : str, optional
            Venue name; defaults to ``"{token0}-{token1}-{fee}"``.

        Returns
        -------
        ConcentratedLiquidityPool
        """
        func = "ConcentratedLiquidityPool.from_snapshot"
        coin_pair = _check_coins(coins, func)
        tick_spacing = _int_param(tick_spacing, "tick_spacing", func, 1, 16383)
        columns = getattr(ticks_df, "columns", ())
        if not {"tickIdx", "liquidityNet"} <= set(columns):
            raise ParameterError(
                f"The 'ticks_df' parameter of {func} must be a DataFrame with columns 'tickIdx' and 'liquidityNet'. "
                f"Got columns {list(columns)!r} instead."
            )
        tick_col, net_col = ticks_df["tickIdx"], ticks_df["liquidityNet"]
        if tick_col.isna().any() or net_col.isna().any():
            raise ParameterError(
                f"The 'ticks_df' parameter of {func} must have no missing values. Got some instead."
            )
        ticks = tick_col.to_numpy(dtype=np.int64)
        net = net_col.to_numpy(dtype=np.float64)
        keep = net != 0.0
        ticks, net = ticks[keep], net[keep]
        order = np.argsort(ticks, kind="stable")
        ticks, net = ticks[order], net[order]
        bad = (ticks < MIN_TICK) | (ticks > MAX_TICK) | (ticks % tick_spacing != 0) | ~np.isfinite(net)
        bad[1:] |= np.diff(ticks) == 0
        if bad.any() or ticks.size == 0:
            got = f"tick {int(ticks[bad][0])}" if bad.any() else "no non-zero liquidityNet"
            raise ParameterError(
                f"The 'ticks_df' parameter of {func} must hold distinct ticks in [MIN_TICK, MAX_TICK], multiples "
                f"of tick_spacing={tick_spacing}, with finite liquidityNet, at least one non-zero. Got {got} "
                "instead."
            )
        sqrt_price_x96 = _int_param(
            sqrt_price_x96, "sqrt_price_x96", func, MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1
        )
        try:
            active = float(liquidity)
        except (TypeError, ValueError):
            active = math.nan
        if not (math.isfinite(active) and active >= 0):
            raise ParameterError(
                f"The 'liquidity' parameter of {func} must be a finite float >= 0. Got {liquidity!r} instead."
            )
        current = int(np.searchsorted(ticks, get_tick_at_sqrt_ratio(sqrt_price_x96), side="right"))
        running = np.concatenate([[0.0], np.cumsum(net)])
        # Float rounding of the running sum: n additions, each off by at most eps of the largest partial sum.
        tolerance = ticks.size * np.finfo(np.float64).eps * float(np.max(np.abs(running)))
        if abs(running[current] - active) > max(1e-6 * active, tolerance):
            raise ParameterError(
                f"The 'liquidity' parameter of {func} must equal the sum of liquidityNet at or below the current "
                f"tick ({running[current]!r}). Got {liquidity!r} instead."
            )
        segment_liquidity = active + (running - running[current])
        if np.any(segment_liquidity < -tolerance):
            raise ParameterError(
                f"The 'ticks_df' parameter of {func} must give liquidity >= 0 in every range. Got a running sum of "
                f"liquidityNet down to {segment_liquidity.min()!r} instead."
            )
        segment_liquidity[np.abs(segment_liquidity) <= tolerance] = 0.0
        pool = cls.__new__(cls)
        pool._setup(
            name if name is not None else f"{coin_pair[0]}-{coin_pair[1]}-{fee}",
            coin_pair,
            ticks,
            net,
            segment_liquidity,
            sqrt_price_x96,
            fee,
            tick_spacing,
            (decimals0, decimals1),
            func,
        )
        return pool

    def _setup(
        self,
        name: object,
        coins: object,
        ticks: np.ndarray,
        net: np.ndarray,
        segment_liquidity: np.ndarray,
        sqrt_price_x96: object,
        fee: object,
        tick_spacing: int,
        decimals: object,
        func: str,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ParameterError(
                f"The 'name' parameter of {func} must be a non-empty str. Got {name!r} instead."
            )
        self.name = name
        self.coins = _check_coins(coins, func)
        self.fee = _int_param(fee, "fee", func, 0, 999_999)
        self.tick_spacing = tick_spacing
        if not (isinstance(decimals, tuple | list) and len(decimals) == 2):
            raise ParameterError(
                f"The 'decimals' parameter of {func} must be two ints. Got {decimals!r} instead."
            )
        self.decimals = (
            _int_param(decimals[0], "decimals0", func, 0, 255),
            _int_param(decimals[1], "decimals1", func, 0, 255),
        )
        self.sqrt_price_x96 = _int_param(
            sqrt_price_x96, "sqrt_price_x96", func, MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1
        )
        self.tick = get_tick_at_sqrt_ratio(self.sqrt_price_x96)
        self.gamma = 1.0 - self.fee / 1e6
        self.ticks = ticks
        self.liquidity_net = net
        self.segment_liquidity = segment_liquidity
        for arr in (self.ticks, self.liquidity_net, self.segment_liquidity):
            arr.setflags(write=False)
        # Exact tick prices from TickMath, so float swaps cross ticks exactly where the contract does.
        tick_sqrt = np.array([get_sqrt_ratio_at_tick(int(t)) / _Q96 for t in ticks])
        self._seg_lo = np.concatenate([[MIN_SQRT_RATIO / _Q96], tick_sqrt])
        self._seg_hi = np.concatenate([tick_sqrt, [MAX_SQRT_RATIO / _Q96]])
        self._segment0 = int(np.searchsorted(ticks, self.tick, side="right"))
        self._unit = (10.0 ** self.decimals[0], 10.0 ** self.decimals[1])
        # Human price of token0 in token1 is the raw price times this.
        self._price_scale = 10.0 ** (self.decimals[0] - self.decimals[1])

    def __repr__(self) -> str:
        return (
            f"ConcentratedLiquidityPool({self.name!r}, coins={self.coins!r}, fee={self.fee}, "
            f"tick_spacing={self.tick_spacing}, n_ticks={self.ticks.size}, tick={self.tick})"
        )

    # --- Venue ---------------------------------------------------------------------------------------------------

    def init_state(self, n_paths: int) -> VenueState:
        """Return the starting price, segment and liquidity replicated over ``n_paths`` paths."""
        n_paths = _int_param(n_paths, "n_paths", "ConcentratedLiquidityPool.init_state", 1, 2**62)
        return VenueState(
            {
                "sqrt_price": np.full(n_paths, self.sqrt_price_x96 / _Q96),
                "segment": np.full(n_paths, float(self._segment0)),
                "liquidity_scale": np.ones(n_paths),
                "liquidity": np.full(n_paths, self.segment_liquidity[self._segment0]),
            }
        )

    def price(self, state: VenueState, i: int, j: int) -> np.ndarray:
        """Marginal price of coin ``i`` in coin ``j`` before fee, human units, shape ``(n_paths,)``."""
        i, j = coin_pair(i, j, "ConcentratedLiquidityPool.price")
        price01 = state["sqrt_price"] ** 2 * self._price_scale
        return price01 if i == 0 else 1.0 / price01

    def swap(self, state: VenueState, i: int, j: int, dx: np.ndarray) -> np.ndarray:
        """Sell ``dx >= 0`` of coin ``i`` (human units) for coin ``j``; return the amount of ``j`` received.

        Parameters
        ----------
        state : VenueState
            Mutated in place.
        i, j : int
            Coin sold and coin bought.
        dx : ndarray of shape (n_paths,)
            Amount of ``i`` sold; zero is a no-op.

        Returns
        -------
        ndarray of shape (n_paths,)
            Amount of ``j`` received, after fee.
        """
        func = "ConcentratedLiquidityPool.swap"
        i, j = coin_pair(i, j, func)
        n_paths = state["sqrt_price"].shape[0]
        dx = path_array(dx, "dx", func, n_paths)
        limit = np.full(n_paths, _LIMIT_LOW if i == 0 else _LIMIT_HIGH)
        _, out = self._swap(state, i == 0, dx * self._unit[i], limit)
        return out / self._unit[j]

    def arbitrage(
        self, state: VenueState, i: int, j: int, target_price: np.ndarray, max_in_j: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Trade towards ``target_price`` (of ``i`` in ``j``, human units) with the profit-maximising swap.

        Parameters
        ----------
        state : VenueState
            Mutated in place.
        i, j : int
            The coins; ``target_price`` is the external price of ``i`` in units of ``j``.
        target_price : ndarray of shape (n_paths,)
            External price, > 0.
        max_in_j : ndarray of shape (n_paths,)
            Capital limit: the input's value in units of ``j`` at ``target_price`` is at most this (``inf`` for
            unlimited).

        Returns
        -------
        (d_i, d_j) : tuple of ndarray of shape (n_paths,)
            Signed changes of the pool's balances of ``i`` and ``j`` (positive: into the pool).

        Notes
        -----
        Selling token0 at pool price :math:`P` yields :math:`\\gamma P` token1 per marginal unit, so an
        arbitrageur facing external price :math:`p` (token0 in token1) sells token0 while :math:`\\gamma P > p`
        and stops at :math:`P' = p / \\gamma`; in the other direction it buys token0 while
        :math:`P / \\gamma < p` and stops at :math:`P' = \\gamma p`. Fees do not enter the curve in v3, so an
        uncapped trade leaves the price exactly on the edge of the fee band. The trade is a swap with that
        price as its limit and the capital cap as its exact input, which crosses ticks like any swap.
        """
        func = "ConcentratedLiquidityPool.arbitrage"
        i, j = coin_pair(i, j, func)
        sqrt_price = state["sqrt_price"]
        n_paths = sqrt_price.shape[0]
        p = path_array(target_price, "target_price", func, n_paths, positive=True)
        cap = path_array(max_in_j, "max_in_j", func, n_paths, allow_inf=True)
        g = self.gamma
        price01 = (p if i == 0 else 1.0 / p) / self._price_scale  # raw external price of token0 in token1
        pool01 = sqrt_price**2
        sell0 = g * pool01 > price01
        sell1 = pool01 < g * price01
        # Capital in units of the input coin: the cap itself if the input is j, cap / p if it is i.
        cap_token0 = (cap / p if i == 0 else cap) * self._unit[0]
        cap_token1 = (cap / p if i == 1 else cap) * self._unit[1]
        limit0 = np.clip(np.sqrt(price01 / g), _LIMIT_LOW, _LIMIT_HIGH)
        limit1 = np.clip(np.sqrt(price01 * g), _LIMIT_LOW, _LIMIT_HIGH)
        in0, out1 = self._swap(
            state, True, np.where(sell0, cap_token0, 0.0), np.where(sell0, limit0, sqrt_price)
        )
        in1, out0 = self._swap(
            state, False, np.where(sell1, cap_token1, 0.0), np.where(sell1, limit1, sqrt_price)
        )
        delta = ((in0 - out0) / self._unit[0], (in1 - out1) / self._unit[1])
        return delta[i], delta[j]

    def depth(self, state: VenueState) -> np.ndarray:
        """Mean liquidity (raw units) over a +/-2 % price band around the current price, shape ``(n_paths,)``.

        The band, rather than the active tick alone, because a snapshot whose liquidity sits in one narrow
        position would otherwise read as empty after any move of a few ticks.
        """
        sp = state["sqrt_price"]
        lo, hi = sp / np.sqrt(1.02), sp * np.sqrt(1.02)
        edges = np.concatenate([self._seg_lo, self._seg_hi[-1:]])
        # Integral of liquidity over sqrt price, piecewise linear between segment edges.
        cum = np.concatenate([[0.0], np.cumsum(self.segment_liquidity * (self._seg_hi - self._seg_lo))])
        band = np.interp(hi, edges, cum) - np.interp(lo, edges, cum)
        return band / (hi - lo) * state["liquidity_scale"]

    def scale_liquidity(self, state: VenueState, factor: np.ndarray) -> None:
        """Scale every range's liquidity by ``factor > 0`` per path, at unchanged price."""
        factor = path_array(
            factor,
            "factor",
            "ConcentratedLiquidityPool.scale_liquidity",
            state["sqrt_price"].shape[0],
            positive=True,
        )
        state["liquidity_scale"] *= factor
        state["liquidity"] *= factor

    # --- the swap loop -------------------------------------------------------------------------------------------

    def _swap(
        self, state: VenueState, zero_for_one: bool, amount: np.ndarray, limit: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact-input swap of ``amount`` (raw, gross of fee) per path, stopping at ``limit`` (raw sqrt price).

        Returns the raw input consumed and output paid, per path. Paths with zero amount, or already at or past
        their limit, do not trade. The fused kernel :func:`_swap_kernel` walks each path's tick crossings; the
        vectorized :meth:`_swap_numpy` is its reference (a test holds them bit-identical).
        """
        sqrt_price = state["sqrt_price"]
        segment = state["segment"].astype(np.int64)
        scale = state["liquidity_scale"]
        amount = np.ascontiguousarray(amount, dtype=np.float64)
        limit = np.ascontiguousarray(limit, dtype=np.float64)
        consumed = np.zeros_like(sqrt_price)
        out = np.zeros_like(sqrt_price)
        # Most calls trade on a few paths (the pools the arbitrage finds off the market): one thread (firesale._threads).
        kernel = _swap_kernel if np.count_nonzero(amount) >= SWAP_PARALLEL_FROM else _swap_kernel_serial
        kernel(
            sqrt_price, segment, scale, amount, limit, self.segment_liquidity, self._seg_lo, self._seg_hi,
            self.gamma, zero_for_one, consumed, out,
        )  # fmt: skip
        state["segment"] = segment.astype(np.float64)
        state["liquidity"] = scale * self.segment_liquidity[segment]
        return consumed, out

    def _swap_numpy(
        self, state: VenueState, zero_for_one: bool, amount: np.ndarray, limit: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectorized reference of :meth:`_swap`: one iteration per tick crossing over the paths still trading."""
        sqrt_price = state["sqrt_price"]
        segment = state["segment"].astype(np.intp)
        scale = state["liquidity_scale"]
        amount = np.asarray(amount, dtype=np.float64)
        consumed = np.zeros_like(sqrt_price)
        out = np.zeros_like(sqrt_price)
        g = self.gamma
        last = self.segment_liquidity.size - 1
        moving = (sqrt_price > limit) if zero_for_one else (sqrt_price < limit)
        idx = np.flatnonzero((amount > 0.0) & moving)
        # Working copies for the paths still trading, compacted as paths finish and written back once.
        s, k, rem, lim, sc = sqrt_price[idx], segment[idx], amount[idx], limit[idx], scale[idx]
        used_sum, got_sum = np.zeros(idx.size), np.zeros(idx.size)
        # One iteration per tick crossing; each iteration advances every path still trading by one segment.
        with np.errstate(divide="ignore", invalid="ignore"):
            while idx.size:
                liq = sc * self.segment_liquidity[k]
                net = rem * g
                if zero_for_one:
                    bound = self._seg_lo[k]
                    target = np.maximum(bound, lim)
                    # Differences of prices, not of reciprocals: no cancellation for small moves.
                    need = liq * (s - target) / (s * target)  # token0, net of fee, to reach the target
                    reach = net >= need
                    new_s = np.where(reach, target, liq * s / (liq + net * s))
                    got = np.where(reach, liq * (s - target), net * s * s * liq / (liq + net * s))
                    cross = reach & (bound >= lim) & (k > 0)
                    k = k - cross
                else:
                    bound = self._seg_hi[k]
                    target = np.minimum(bound, lim)
                    need = liq * (target - s)  # token1, net of fee
                    reach = net >= need
                    new_s = np.where(reach, target, s + net / liq)
                    got = np.where(reach, liq * (target - s) / (s * target), net / (s * new_s))
                    cross = reach & (bound <= lim) & (k < last)
                    k = k + cross
                used = np.where(reach, np.minimum(need / g, rem), rem)
                s, rem = new_s, rem - used
                used_sum += used
                got_sum += got
                # A path goes on only if it crossed a tick and has input left and room before its limit.
                on = cross & (rem > 0.0) & ((s > lim) if zero_for_one else (s < lim))
                if not on.all():
                    done = ~on
                    finished = idx[done]
                    sqrt_price[finished] = s[done]
                    segment[finished] = k[done]
                    consumed[finished] = used_sum[done]
                    out[finished] = got_sum[done]
                    idx, s, k, rem, lim, sc = idx[on], s[on], k[on], rem[on], lim[on], sc[on]
                    used_sum, got_sum = used_sum[on], got_sum[on]
        state["segment"] = segment.astype(np.float64)
        state["liquidity"] = scale * self.segment_liquidity[segment]
        return consumed, out


@numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _swap_kernel(
    sqrt_price, segment, scale, amount, limit, segment_liquidity, seg_lo, seg_hi, g, zero_for_one, consumed, out,
):  # fmt: skip
    """Per path: the same tick walk as ``_swap_numpy``, operation for operation (so results are bit-identical)."""
    last = segment_liquidity.shape[0] - 1
    for p in numba.prange(sqrt_price.shape[0]):
        s = sqrt_price[p]
        lim = limit[p]
        rem = amount[p]
        if not rem > 0.0 or not ((s > lim) if zero_for_one else (s < lim)):
            continue
        k = segment[p]
        sc = scale[p]
        used_sum = 0.0
        got_sum = 0.0
        while True:
            liq = sc * segment_liquidity[k]
            net = rem * g
            if zero_for_one:
                bound = seg_lo[k]
                target = max(bound, lim)
                need = liq * (s - target) / (s * target)
                reach = net >= need
                if reach:
                    new_s = target
                    got = liq * (s - target)
                else:
                    new_s = liq * s / (liq + net * s)
                    got = net * s * s * liq / (liq + net * s)
                cross = reach and bound >= lim and k > 0
                if cross:
                    k -= 1
            else:
                bound = seg_hi[k]
                target = min(bound, lim)
                need = liq * (target - s)
                reach = net >= need
                if reach:
                    new_s = target
                    got = liq * (target - s) / (s * target)
                else:
                    new_s = s + net / liq
                    got = net / (s * new_s)
                cross = reach and bound <= lim and k < last
                if cross:
                    k += 1
            used = min(need / g, rem) if reach else rem
            s = new_s
            rem = rem - used
            used_sum += used
            got_sum += got
            if not (cross and rem > 0.0 and ((s > lim) if zero_for_one else (s < lim))):
                break
        sqrt_price[p] = s
        segment[p] = k
        consumed[p] = used_sum
        out[p] = got_sum


_swap_kernel_serial = serial_twin(_swap_kernel, cache=True, nogil=True, error_model="numpy")
