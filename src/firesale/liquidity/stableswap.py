"""A Curve StableSwap pool vectorized over Monte Carlo paths: the venue the engine sells pegged collateral into.

The float64 counterpart of :class:`firesale.mechanics.stableswap.StableSwapPool`. Balances are token units (not
wei); ``rates`` scale them to a common numeraire (``xp = balances * rates``), like the contracts' rate
multipliers divided by ``10 ** (36 - decimals)``. The invariant, with ``Ann = A * N``:

.. math:: A N \\sum_i x_i + D = A N D + \\frac{D^{N+1}}{N^N \\prod_i x_i}

``D`` and the post-trade balance ``y`` are solved with the contracts' own Newton iterations, run on every path at
once until every path has converged (at most 255 rounds, as the contracts allow). The contracts' integer rounding
(one unit kept back on each swap) is below float64 resolution at token scale and is not reproduced; tests hold
this pool to the integer mechanics to 1e-9 relative.

References
----------
- curvefi/curve-contract ``contracts/pool-templates/base/SwapTemplateBase.vy`` (``get_D``, ``get_y``,
  ``exchange``) at commit 06b0e6e188c745110f006c14c250fd1400561246.
- curvefi/stableswap-ng ``contracts/main/CurveStableSwapNG.vy`` (``_get_p``, the spot price) at commit
  8eaf5e2bcf9e47f0b18d0fc737f6bcdd384e63c5.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from firesale.exceptions import ParameterError
from firesale.liquidity._venue import Venue, VenueState

__all__ = ["StableSwapPool"]

_MAX_ITER = 255
_RTOL = 1e-15
_MAX_FEE_BPS = 5000.0  # the contracts' MAX_FEE, 50 %
_MAX_A = 1e6  # the contracts' MAX_A


def _get_D(xp: np.ndarray, ann: float) -> np.ndarray:
    """Invariant ``D`` of rate-scaled balances ``xp`` of shape (m, n); 0 where every balance is 0."""
    n = xp.shape[1]
    s = xp.sum(axis=1)
    empty = s <= 0.0
    if empty.any():
        xp = np.where(empty[:, None], 1.0, xp)
        s = np.where(empty, float(n), s)
    d = s.copy()
    for _ in range(_MAX_ITER):
        d_p = d.copy()
        for k in range(n):
            d_p = d_p * d / (xp[:, k] * n)
        d_new = (ann * s + d_p * n) * d / ((ann - 1.0) * d + (n + 1) * d_p)
        done = np.abs(d_new - d) <= _RTOL * d_new
        d = d_new
        if done.all():
            break
    return np.where(empty, 0.0, d)


def _get_y(xp: np.ndarray, i: int, j: int, x: np.ndarray, d: np.ndarray, ann: float) -> np.ndarray:
    """Balance of coin ``j`` that keeps ``D`` when coin ``i``'s balance becomes ``x`` (shapes (m, n), (m,))."""
    n = xp.shape[1]
    c = d.copy()
    s_ = np.zeros_like(d)
    for k in range(n):
        if k == j:
            continue
        x_k = x if k == i else xp[:, k]
        s_ += x_k
        c = c * d / (x_k * n)
    c = c * d / (ann * n)
    b = s_ + d / ann
    y = d.copy()
    for _ in range(_MAX_ITER):
        y_new = (y * y + c) / (2.0 * y + b - d)
        done = np.abs(y_new - y) <= _RTOL * y_new
        y = y_new
        if done.all():
            break
    return y


def _spot(xp: np.ndarray, d: np.ndarray, ann: float, i: int, j: int) -> np.ndarray:
    """``-dx_j/dx_i`` along the invariant in rate-scaled units: ``(Ann + D_P/x_i) / (Ann + D_P/x_j)``."""
    n = xp.shape[1]
    d_p = d.copy()
    for k in range(n):
        d_p = d_p * d / (xp[:, k] * n)
    return (ann + d_p / xp[:, i]) / (ann + d_p / xp[:, j])


def _live(b: np.ndarray) -> np.ndarray:
    """Paths on which every balance is positive; a drained path (all zero) cannot trade."""
    return np.all(b > 0.0, axis=1)


def _real(value: object, name: str, where: str, lo: float, hi: float, rule: str) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        as_float = float(value)
        if lo <= as_float <= hi:
            return as_float
    raise ParameterError(f"The '{name}' parameter of {where} must be {rule}. Got {value!r} instead.")


def _positive_vector(value: object, name: str, where: str, n: int) -> np.ndarray:
    """``value`` as a read-only float64 array of ``n`` finite positive numbers, or raise ParameterError."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is not None and arr.shape == (n,) and np.all(np.isfinite(arr)) and np.all(arr > 0):
        arr.flags.writeable = False
        return arr
    raise ParameterError(
        f"The '{name}' parameter of {where} must be a sequence of {n} finite positive numbers. Got {value!r} instead."
    )


class StableSwapPool(Venue):
    """A Curve StableSwap pool (2 to 8 coins), its state held per Monte Carlo path.

    Parameters
    ----------
    name : str
        Unique venue name.
    coins : sequence of str
        Asset names, in the pool's coin order.
    balances : sequence of float
        Starting balances in token units, one per coin, all positive.
    A : float
        Amplification as the contract's ``A()`` reports it (``A_precise / 100`` during a ramp), in [1, 1e6).
    fee_bps : float
        Swap fee in basis points, in [0, 5000] (Curve's 4000000 / 1e10 is 4 bps).
    rates : sequence of float, optional
        Price of each coin in the pool's numeraire (``xp = balances * rates``); 1 for each coin by default.
    admin_fee : float, optional
        Share of the fee the DAO takes out of the pool, in [0, 1] (Curve's 5e9 / 1e10 is 0.5). Default 0: the
        whole fee stays with the LPs.

    Notes
    -----
    The state holds one array, ``"balances"`` of shape (n_paths, n_coins), in token units (LP-owned: the admin
    share of fees has left it).

    Examples
    --------
    >>> import numpy as np
    >>> from firesale.liquidity.stableswap import StableSwapPool
    >>> pool = StableSwapPool("steth", ("ETH", "stETH"), [100.0, 100.0], A=50, fee_bps=1)
    >>> state = pool.init_state(2)
    >>> pool.price(state, 1, 0)
    array([1., 1.])
    """

    def __init__(
        self,
        name: str,
        coins: Sequence[str],
        balances: Sequence[float],
        A: float,
        fee_bps: float,
        rates: Sequence[float] | None = None,
        *,
        admin_fee: float = 0.0,
    ) -> None:
        where = "StableSwapPool"
        if not isinstance(name, str) or not name:
            raise ParameterError(
                f"The 'name' parameter of {where} must be a non-empty str. Got {name!r} instead."
            )
        if (
            not isinstance(coins, Sequence)
            or isinstance(coins, str)
            or not 2 <= len(coins) <= 8
            or not all(isinstance(c, str) and c for c in coins)
            or len(set(coins)) != len(coins)
        ):
            raise ParameterError(
                f"The 'coins' parameter of {where} must be a sequence of 2 to 8 distinct non-empty str. "
                f"Got {coins!r} instead."
            )
        self.name = name
        self.coins = tuple(coins)
        n = len(self.coins)
        self.balances = _positive_vector(balances, "balances", where, n)
        self.A = _real(A, "A", where, 1.0, math.nextafter(_MAX_A, 0.0), "a real number in [1, 1e6)")
        self.fee_bps = _real(fee_bps, "fee_bps", where, 0.0, _MAX_FEE_BPS, "a real number in [0, 5000]")
        self.rates = np.ones(n) if rates is None else _positive_vector(rates, "rates", where, n)
        self.rates.flags.writeable = False
        self.admin_fee = _real(admin_fee, "admin_fee", where, 0.0, 1.0, "a real number in [0, 1]")
        self._fee = self.fee_bps / 10_000.0
        self._ann = self.A * n

    def __repr__(self) -> str:
        return (
            f"StableSwapPool(name={self.name!r}, coins={self.coins!r}, balances={self.balances.tolist()!r}, "
            f"A={self.A!r}, fee_bps={self.fee_bps!r}, rates={self.rates.tolist()!r}, admin_fee={self.admin_fee!r})"
        )

    @property
    def n_coins(self) -> int:
        """Number of coins in the pool."""
        return len(self.coins)

    # ------------------------------------------------------------------------------------------------ checks

    def _balances(self, state: VenueState, where: str) -> np.ndarray:
        arrays = getattr(state, "arrays", None)
        b = arrays.get("balances") if isinstance(arrays, dict) else None
        if not (
            isinstance(b, np.ndarray) and b.ndim == 2 and b.shape[1] == self.n_coins and b.dtype == np.float64
        ):
            raise ParameterError(
                f"The 'state' parameter of {where} must be a VenueState from {self.name!r}.init_state, with "
                f"'balances' a float64 array of shape (n_paths, {self.n_coins}). Got {state!r} instead."
            )
        return b

    def _pair(self, i: object, j: object, where: str) -> tuple[int, int]:
        for label, k in (("i", i), ("j", j)):
            if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 0 <= int(k) < self.n_coins:
                raise ParameterError(
                    f"The '{label}' parameter of {where} must be an int in [0, {self.n_coins - 1}]. Got {k!r} instead."
                )
        if i == j:
            raise ParameterError(f"The 'j' parameter of {where} must differ from i = {i}. Got {j!r} instead.")
        return int(i), int(j)  # type: ignore[call-overload]

    @staticmethod
    def _per_path(value: object, name: str, where: str, m: int, kind: str) -> np.ndarray:
        """Broadcast ``value`` to shape (m,); ``kind`` is "nonneg", "positive" or "nonneg_or_inf"."""
        try:
            arr = np.array(np.broadcast_to(np.asarray(value, dtype=np.float64), (m,)))
        except (TypeError, ValueError):
            arr = None
        if arr is not None and not np.isnan(arr).any():
            finite = bool(np.isfinite(arr).all())
            if kind == "positive" and finite and (arr > 0).all():
                return arr
            if kind == "nonneg" and finite and (arr >= 0).all():
                return arr
            if kind == "nonneg_or_inf" and (arr >= 0).all():
                return arr
        rule = {
            "positive": "finite numbers > 0",
            "nonneg": "finite numbers >= 0",
            "nonneg_or_inf": "numbers >= 0 (inf for no limit)",
        }[kind]
        raise ParameterError(
            f"The '{name}' parameter of {where} must be an array of shape ({m},) of {rule}. Got {value!r} instead."
        )

    # ------------------------------------------------------------------------------------------------ venue

    def init_state(self, n_paths: int) -> VenueState:
        """Return the starting balances replicated over ``n_paths`` paths.

        Parameters
        ----------
        n_paths : int
            Number of Monte Carlo paths, at least 1.

        Returns
        -------
        VenueState
            ``{"balances": ndarray of shape (n_paths, n_coins)}``.
        """
        if not isinstance(n_paths, numbers.Integral) or isinstance(n_paths, bool) or n_paths < 1:
            raise ParameterError(
                f"The 'n_paths' parameter of init_state must be an int >= 1. Got {n_paths!r} instead."
            )
        return VenueState({"balances": np.tile(self.balances, (int(n_paths), 1))})

    def depth(self, state: VenueState) -> np.ndarray:
        """The invariant ``D`` of each path, in the rates' numeraire.

        Parameters
        ----------
        state : VenueState
            This pool's state.

        Returns
        -------
        ndarray of shape (n_paths,)
            ``D`` (the value of the pool at balance; 0 for a path whose liquidity has been withdrawn).

        References
        ----------
        ``get_D`` in curvefi/curve-contract ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e.
        """
        b = self._balances(state, "depth")
        return _get_D(b * self.rates, self._ann)

    def price(self, state: VenueState, i: int, j: int) -> np.ndarray:
        """Marginal price of coin ``i`` in units of coin ``j``, before fee.

        Parameters
        ----------
        state : VenueState
            This pool's state.
        i, j : int
            Coin indices.

        Returns
        -------
        ndarray of shape (n_paths,)
            ``-dx_j / dx_i`` along the invariant, in token units.

        Notes
        -----
        With ``D_P = D^{N+1} / (N^N prod(x))`` and ``x = xp``:

        .. math:: p_{ij} = \\frac{A N + D_P / x_i}{A N + D_P / x_j} \\frac{r_i}{r_j}

        stableswap-ng's ``get_p`` is this formula for ``j = 0``.

        References
        ----------
        ``_get_p`` in curvefi/stableswap-ng ``contracts/main/CurveStableSwapNG.vy`` @ 8eaf5e2.
        """
        i, j = self._pair(i, j, "price")
        b = self._balances(state, "price")
        p = np.full(b.shape[0], np.nan)
        live = _live(b)
        xp = b[live] * self.rates
        p[live] = _spot(xp, _get_D(xp, self._ann), self._ann, i, j) * (self.rates[i] / self.rates[j])
        return p

    def _quote(self, xp: np.ndarray, i: int, j: int, dx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(dy, admin)`` in token units of coin ``j`` for selling ``dx > 0`` of coin ``i``."""
        d = _get_D(xp, self._ann)
        y = _get_y(xp, i, j, xp[:, i] + dx * self.rates[i], d, self._ann)
        # A tiny trade can land a rounding error below the old balance; the contract would revert, we pay 0.
        dy_xp = np.maximum(xp[:, j] - y, 0.0)
        fee_xp = dy_xp * self._fee
        return (dy_xp - fee_xp) / self.rates[j], fee_xp * self.admin_fee / self.rates[j]

    def get_dy(self, state: VenueState, i: int, j: int, dx: np.ndarray) -> np.ndarray:
        """Amount of coin ``j`` a sale of ``dx`` of coin ``i`` would return (after fee), without trading.

        Parameters
        ----------
        state : VenueState
            This pool's state.
        i, j : int
            Coins sold and bought.
        dx : array_like of shape (n_paths,)
            Amounts of coin ``i``, token units, >= 0.

        Returns
        -------
        ndarray of shape (n_paths,)
            ``(x_j - y) (1 - fee) r_j^{-1}`` in token units, as the contract's ``get_dy``.

        References
        ----------
        ``get_dy`` in curvefi/curve-contract ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e.
        """
        i, j = self._pair(i, j, "get_dy")
        b = self._balances(state, "get_dy")
        dx = self._per_path(dx, "dx", "get_dy", b.shape[0], "nonneg")
        dy = np.zeros(b.shape[0])
        act = (dx > 0) & _live(b)
        if act.any():
            dy[act] = self._quote(b[act] * self.rates, i, j, dx[act])[0]
        return dy

    def swap(self, state: VenueState, i: int, j: int, dx: np.ndarray) -> np.ndarray:
        """Sell ``dx`` of coin ``i`` for coin ``j`` on every path; update the balances in place.

        Parameters
        ----------
        state : VenueState
            This pool's state (mutated).
        i, j : int
            Coins sold and bought.
        dx : array_like of shape (n_paths,)
            Amounts of coin ``i``, token units, >= 0; zero is a no-op.

        Returns
        -------
        ndarray of shape (n_paths,)
            Amount of coin ``j`` received, after fee. The pool's balance of ``j`` falls by this plus the
            admin share of the fee, as in the contract's ``exchange``. A path whose liquidity has been withdrawn
            (every balance 0) cannot trade: it returns 0 and its balances stay 0.

        References
        ----------
        ``exchange`` in curvefi/curve-contract ``contracts/pool-templates/base/SwapTemplateBase.vy`` @ 06b0e6e.
        """
        i, j = self._pair(i, j, "swap")
        b = self._balances(state, "swap")
        dx = self._per_path(dx, "dx", "swap", b.shape[0], "nonneg")
        dy = np.zeros(b.shape[0])
        act = (dx > 0) & _live(b)
        if act.any():
            out, admin = self._quote(b[act] * self.rates, i, j, dx[act])
            dy[act] = out
            b[act, i] += dx[act]
            b[act, j] -= out + admin
        return dy

    def _post_price(self, xp: np.ndarray, d: np.ndarray, a: int, c: int, dx: np.ndarray) -> np.ndarray:
        """Marginal price of ``a`` in ``c`` (token units) after selling ``dx`` of ``a`` along the current ``D``."""
        xq = xp.copy()
        xq[:, a] += dx * self.rates[a]
        xq[:, c] = _get_y(xp, a, c, xq[:, a], d, self._ann)
        return _spot(xq, d, self._ann, a, c) * (self.rates[a] / self.rates[c])

    def _size_to_price(
        self, xp: np.ndarray, a: int, c: int, threshold: np.ndarray, cap: np.ndarray
    ) -> np.ndarray:
        """Amount of ``a`` to sell so that its post-trade marginal price in ``c`` falls to ``threshold``.

        The marginal price falls monotonically with the amount sold. ``g(dx) = log(p(dx) / threshold)`` is
        bracketed (growing the bracket from the pool's size where ``cap`` is infinite) and its root found on
        every path at once by regula falsi with the Illinois modification, which keeps the bracket and
        converges superlinearly. Paths whose price is still above the threshold at ``cap`` sell ``cap``.
        """
        d = _get_D(xp, self._ann)

        def g(dx: np.ndarray) -> np.ndarray:
            return np.log(self._post_price(xp, d, a, c, dx) / threshold)

        finite = np.isfinite(cap)
        hi = np.where(finite, cap, d / self.rates[a])
        g_hi = g(hi)
        at_cap = finite & (g_hi >= 0.0)
        for _ in range(_MAX_ITER):
            grow = ~finite & (g_hi >= 0.0)
            if not grow.any():
                break
            hi[grow] *= 2.0
            g_hi[grow] = g(hi)[grow]
        lo = np.zeros_like(hi)
        g_lo = g(lo)
        side = np.zeros(hi.shape, dtype=np.int8)  # which end moved last, for the Illinois step
        done = at_cap | (g_lo <= 0.0)
        eps = 4.0 * np.finfo(np.float64).eps
        for _ in range(_MAX_ITER):
            if done.all():
                break
            x = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
            bad = ~((x > lo) & (x < hi))
            x = np.where(bad, 0.5 * (lo + hi), x)
            gx = g(x)
            right = gx < 0.0  # the root lies left of x
            hi = np.where(right, x, hi)
            lo = np.where(right, lo, x)
            # Illinois: halve the stale end's value when the same end moves twice running.
            g_lo = np.where(right, np.where(side == 1, 0.5 * g_lo, g_lo), gx)
            g_hi = np.where(right, gx, np.where(side == -1, 0.5 * g_hi, g_hi))
            side = np.where(right, 1, -1).astype(np.int8)
            done |= (hi - lo <= eps * hi) | (np.abs(gx) <= eps)
        root = np.where(np.abs(g_lo) <= np.abs(g_hi), lo, hi)
        return np.where(at_cap, cap, root)

    def arbitrage(
        self, state: VenueState, i: int, j: int, target_price: np.ndarray, max_in_j: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Trade towards an external price as a profit-maximising arbitrageur with limited capital.

        Where the pool pays more than ``target_price`` for coin ``i`` net of fee (``(1 - fee) p > target``),
        coin ``i`` is sold until the marginal amount of ``j`` received per unit of ``i`` after fee equals the
        target; where the pool sells ``i`` below it (``p < (1 - fee) target``), coin ``j`` is sold until the
        marginal cost of ``i`` after fee equals the target. Both conditions are the first-order condition of
        the trader's profit ``out - in`` valued at ``target_price``. Inside the fee band nothing trades. The
        input is capped so that its value in units of ``j`` at ``target_price`` is at most ``max_in_j``.

        Parameters
        ----------
        state : VenueState
            This pool's state (mutated).
        i, j : int
            Coin indices.
        target_price : array_like of shape (n_paths,)
            External price of coin ``i`` in units of coin ``j``, > 0.
        max_in_j : array_like of shape (n_paths,)
            Capital limit in units of ``j``, >= 0 (``inf`` for none).

        Returns
        -------
        (d_i, d_j) : tuple of ndarray of shape (n_paths,)
            Signed change of the pool's balances of ``i`` and ``j`` (positive: into the pool; the admin share of
            the fee leaves the pool with the output).
        """
        i, j = self._pair(i, j, "arbitrage")
        b = self._balances(state, "arbitrage")
        m = b.shape[0]
        target = self._per_path(target_price, "target_price", "arbitrage", m, "positive")
        cap_j = self._per_path(max_in_j, "max_in_j", "arbitrage", m, "nonneg_or_inf")
        xp = b * self.rates
        p = self.price(state, i, j)
        keep = 1.0 - self._fee
        # NaN prices (drained paths) compare False: nothing trades there.
        sell_i = (p * keep > target) & (cap_j > 0)
        sell_j = (p < target * keep) & (cap_j > 0)
        dx_i = np.zeros(m)
        dx_j = np.zeros(m)
        if sell_i.any():
            dx_i[sell_i] = self._size_to_price(
                xp[sell_i], i, j, target[sell_i] / keep, cap_j[sell_i] / target[sell_i]
            )
        if sell_j.any():
            dx_j[sell_j] = self._size_to_price(xp[sell_j], j, i, 1.0 / (target[sell_j] * keep), cap_j[sell_j])
        before = b[:, [i, j]].copy()
        self.swap(state, i, j, dx_i)
        self.swap(state, j, i, dx_j)
        return b[:, i] - before[:, 0], b[:, j] - before[:, 1]

    def scale_liquidity(self, state: VenueState, factor: np.ndarray) -> None:
        """LPs withdraw (``factor < 1``) or return (``factor > 1``) liquidity pro rata, at unchanged price.

        Parameters
        ----------
        state : VenueState
            This pool's state (mutated).
        factor : array_like of shape (n_paths,)
            Multiplier of every balance, >= 0.
        """
        b = self._balances(state, "scale_liquidity")
        factor = self._per_path(factor, "factor", "scale_liquidity", b.shape[0], "nonneg")
        b *= factor[:, None]
