"""A two-coin Curve CryptoSwap (v2) pool vectorized over Monte Carlo paths, its repegging included.

The float64 counterpart of :class:`firesale.mechanics.cryptoswap.CryptoSwapPool`. Balances are token units (not
wei). The pool prices coin 1 in coin 0 around an internal ``price_scale``: with ``xp = (b0, b1 * price_scale)``,
``K0 = 4 x0 x1 / D^2`` and ``A`` the contract's ``A()`` (``A N^N * 10^4``, 400000 for CRV/ETH),

.. math:: x_0 + x_1 - D = D \\frac{(\\gamma + 1 - K_0)^2 (1 - K_0)}{(A / 10^4)\\,\\gamma^2 K_0}

which is close to StableSwap near ``xp0 = xp1`` and to constant product far from it. What makes the pool differ
from constant product under a sustained move is modelled as the contract does it, after every swap:

- the price oracle is an EMA of the last trade price with half-life ``ma_half_time``, updated at the first trade
  after time has passed (:meth:`CryptoSwapPool.advance` moves each path's clock and must be called once per
  time step: a pool whose clock never moves keeps its oracle, and so its ``price_scale``, where they started);
- ``xcp_profit`` and ``virtual_price`` track the fees earned; once the virtual price exceeds half the profit
  plus ``allowed_extra_profit``, ``price_scale`` moves towards the oracle by ``max(adjustment_step, |p_o/p_s -
  1|/10)`` of the gap, if the pool can pay for the loss that re-centring its liquidity costs;
- when it cannot, the admin share of the profit is minted to the DAO (the LP supply grows) and the flag clears.

Simplified against the contract: integer rounding (one wei withheld per swap, floors, ``halfpow``'s 1e-8 series
error; tests hold this pool to the integer mechanics to 1e-9 relative), trades the contract would reject for
leaving its safe range (a balance below 1 % or above 100x of ``D``, ratios beyond 1e-4) are executed along the
same invariant, the ``"Loss"`` revert is not raised, the last trade price is always the trade's own price (the
contract probes the curve when a trade is below 1e5 wei), A/gamma ramps are not modelled, and
:meth:`CryptoSwapPool.scale_liquidity` is an exact pro-rata withdrawal (``remove_liquidity``); a pro-rata
deposit pays no ``NOISE_FEE``.

References
----------
- curvefi/curve-crypto-contract ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy`` (the CRV/ETH pool
  ``0x8301AE4fc9c624d1D396cbDAa1ed877821D7C511`` as deployed; committed in
  cf4dd2a96b763339f178649cbba7460a9f07559c): ``newton_D``, ``newton_y``, ``_fee``, ``tweak_price``,
  ``_exchange``, ``remove_liquidity``; ``contracts/two/CurveCryptoSwap2ETH.vy`` at
  d7d04cd9ae038970e40be850df99de8c1ff7241b for ``norm_guard``.
- M. Egorov, "Automatic market-making with dynamic peg", Curve whitepaper (2021).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from firesale.exceptions import ParameterError
from firesale.liquidity._venue import Venue, VenueState

__all__ = ["CryptoSwapPool"]

_MAX_ITER = 255
_A_MULTIPLIER = 1e4
_MIN_A, _MAX_A = 4e3, 4e9  # the contract's MIN_A, MAX_A for two coins
_MIN_GAMMA, _MAX_GAMMA = 1e-8, 2e-2
_KEYS = (
    "balances", "D", "price_scale", "price_oracle", "last_price", "xcp_profit", "xcp_profit_a",
    "virtual_price", "lp_supply", "not_adjusted", "elapsed",
)  # fmt: skip


def _real(
    value: object, name: str, where: str, lo: float, hi: float, rule: str, *, open_lo: bool = False
) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        v = float(value)
        if (v > lo if open_lo else v >= lo) and v <= hi:
            return v
    raise ParameterError(f"The '{name}' parameter of {where} must be {rule}. Got {value!r} instead.")


class CryptoSwapPool(Venue):
    """A two-coin Curve CryptoSwap pool, its state (balances, ``D``, ``price_scale``, oracle, profit) per path.

    Parameters
    ----------
    name : str
        Unique venue name.
    coins : sequence of 2 str
        Coin 0 (the numeraire of ``price_scale``, ETH in CRV/ETH) and coin 1.
    balances : sequence of 2 float
        Starting balances in token units, both > 0.
    A : float
        ``A()`` as the contract reports it, ``A * N**N * 10000``, in [4000, 4e9]; 400000 for CRV/ETH.
    gamma : float
        In [1e-8, 0.02]; 1.45e-4 for CRV/ETH.
    mid_fee_bps, out_fee_bps : float
        Fee at balance and far from it, basis points, ``0 <= mid_fee_bps <= out_fee_bps``, ``out_fee_bps`` in
        [0, 10000]; 26 and 45 for CRV/ETH.
    fee_gamma : float
        In (0, 1]; 2.3e-4 for CRV/ETH. Smaller values raise the fee faster away from balance.
    price_scale : float
        Starting internal price of coin 1 in units of coin 0, > 0.
    ma_half_time : float
        Half-life of the price oracle's EMA, seconds, in (0, 604800); 600 for CRV/ETH.
    allowed_extra_profit : float
        Profit (fraction of the virtual price) kept above half the total before repegging, in [0, 1]; 2e-6 for
        CRV/ETH.
    adjustment_step : float
        Smallest relative move of ``price_scale`` towards the oracle, in [0, 1]; 1.46e-4 for CRV/ETH.
    admin_fee : float, optional
        Share of the profit minted to the DAO when fees are claimed, in [0, 1] (0.5 for CRV/ETH). Default 0.5.
    price_oracle : float, optional
        Starting oracle and last trade price, > 0; ``price_scale`` by default (a freshly deployed pool).
    xcp_profit, virtual_price : float, optional
        Starting profit counter and virtual price (both >= 1; 1 for a fresh pool); ``xcp_profit_a`` starts at
        ``xcp_profit``.
    norm_guard : bool, optional
        False (default): the deployed CRV/ETH contract's ``tweak_price``; True: the later
        ``CurveCryptoSwap2ETH.vy``.

    Attributes
    ----------
    curve_gamma : float
        The ``gamma`` parameter. It is not stored as ``gamma``: elsewhere in firesale a venue's ``gamma`` is the
        constant-product ``1 - fee``.
    fee_bps : float
        ``mid_fee_bps``, the fee at balance; :meth:`fee_bps_now` gives each path's current fee.

    Notes
    -----
    The state holds float64 arrays of shape ``(n_paths,)`` (``"balances"`` is ``(n_paths, 2)``): ``D``,
    ``price_scale``, ``price_oracle``, ``last_price``, ``xcp_profit``, ``xcp_profit_a``, ``virtual_price``,
    ``lp_supply``, ``not_adjusted`` (0 or 1) and ``elapsed`` (seconds since the oracle last updated). The LP
    supply starts at ``xcp(D) / virtual_price`` with ``xcp = D / (2 sqrt(price_scale))``.

    Examples
    --------
    >>> import numpy as np
    >>> pool = CryptoSwapPool("crveth", ("ETH", "CRV"), [1000.0, 1_000_000.0], A=400_000, gamma=1.45e-4,
    ...     mid_fee_bps=26, out_fee_bps=45, fee_gamma=2.3e-4, price_scale=1e-3, ma_half_time=600,
    ...     allowed_extra_profit=2e-6, adjustment_step=1.46e-4)
    >>> state = pool.init_state(2)
    >>> pool.price(state, 1, 0)
    array([0.001, 0.001])
    """

    def __init__(
        self,
        name: str,
        coins: Sequence[str],
        balances: Sequence[float],
        A: float,
        gamma: float,
        mid_fee_bps: float,
        out_fee_bps: float,
        fee_gamma: float,
        price_scale: float,
        ma_half_time: float,
        allowed_extra_profit: float,
        adjustment_step: float,
        admin_fee: float = 0.5,
        *,
        price_oracle: float | None = None,
        xcp_profit: float = 1.0,
        virtual_price: float = 1.0,
        norm_guard: bool = False,
    ) -> None:
        where = "CryptoSwapPool"
        if not isinstance(name, str) or not name:
            raise ParameterError(
                f"The 'name' parameter of {where} must be a non-empty str. Got {name!r} instead."
            )
        if (
            isinstance(coins, str)
            or not isinstance(coins, Sequence)
            or len(coins) != 2
            or not all(isinstance(c, str) and c for c in coins)
            or coins[0] == coins[1]
        ):
            raise ParameterError(
                f"The 'coins' parameter of {where} must be two distinct non-empty str. Got {coins!r} instead."
            )
        try:
            b = np.array(balances, dtype=np.float64)
        except (TypeError, ValueError):
            b = np.zeros(0)
        if b.shape != (2,) or not np.all(np.isfinite(b)) or not np.all(b > 0):
            raise ParameterError(
                f"The 'balances' parameter of {where} must be two finite floats > 0. Got {balances!r} instead."
            )
        b.flags.writeable = False
        self.name = name
        self.coins = (coins[0], coins[1])
        self.balances = b
        self.A = _real(A, "A", where, _MIN_A, _MAX_A, "a real number in [4000, 4e9]")
        self.curve_gamma = _real(
            gamma, "gamma", where, _MIN_GAMMA, _MAX_GAMMA, "a real number in [1e-8, 0.02]"
        )
        self.out_fee_bps = _real(out_fee_bps, "out_fee_bps", where, 0.0, 1e4, "a real number in [0, 10000]")
        self.mid_fee_bps = _real(
            mid_fee_bps,
            "mid_fee_bps",
            where,
            0.0,
            self.out_fee_bps,
            f"a real number in [0, out_fee_bps = {self.out_fee_bps:g}]",
        )
        self.fee_gamma = _real(
            fee_gamma, "fee_gamma", where, 0.0, 1.0, "a real number in (0, 1]", open_lo=True
        )
        self.price_scale = _real(
            price_scale, "price_scale", where, 0.0, math.inf, "a finite real number > 0", open_lo=True
        )
        self.ma_half_time = _real(
            ma_half_time,
            "ma_half_time",
            where,
            0.0,
            604_799.0,
            "a real number of seconds in (0, 604800)",
            open_lo=True,
        )
        self.allowed_extra_profit = _real(
            allowed_extra_profit, "allowed_extra_profit", where, 0.0, 1.0, "a real number in [0, 1]"
        )
        self.adjustment_step = _real(
            adjustment_step, "adjustment_step", where, 0.0, 1.0, "a real number in [0, 1]"
        )
        self.admin_fee = _real(admin_fee, "admin_fee", where, 0.0, 1.0, "a real number in [0, 1]")
        self.price_oracle = (
            self.price_scale
            if price_oracle is None
            else _real(
                price_oracle, "price_oracle", where, 0.0, math.inf, "a finite real number > 0", open_lo=True
            )
        )
        self.xcp_profit = _real(xcp_profit, "xcp_profit", where, 1.0, math.inf, "a finite real number >= 1")
        self.virtual_price = _real(
            virtual_price, "virtual_price", where, 1.0, math.inf, "a finite real number >= 1"
        )
        if not isinstance(norm_guard, bool):
            raise ParameterError(
                f"The 'norm_guard' parameter of {where} must be a bool. Got {norm_guard!r} instead."
            )
        self.norm_guard = norm_guard
        self.fee_bps = self.mid_fee_bps
        self._mid = self.mid_fee_bps / 1e4
        self._out = self.out_fee_bps / 1e4
        self._ag2 = self.A / _A_MULTIPLIER * self.curve_gamma**2
        d0 = self._solve_D(b[None, 0], b[None, 1] * self.price_scale)[0]
        self._D0 = float(d0)

    def __repr__(self) -> str:
        return (
            f"CryptoSwapPool({self.name!r}, coins={self.coins!r}, balances={self.balances.tolist()!r}, A={self.A:g}, "
            f"gamma={self.curve_gamma:g}, mid_fee_bps={self.mid_fee_bps:g}, out_fee_bps={self.out_fee_bps:g}, "
            f"fee_gamma={self.fee_gamma:g}, price_scale={self.price_scale:g}, ma_half_time={self.ma_half_time:g}, "
            f"allowed_extra_profit={self.allowed_extra_profit:g}, adjustment_step={self.adjustment_step:g}, "
            f"admin_fee={self.admin_fee:g})"
        )

    # ------------------------------------------------------------------------------------------------ invariant

    def _h(self, k0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``h(K) = (g + 1 - K)^2 (1 - K) / K`` and ``h'(K)``; the invariant is ``S - D = D h(K0) / (A g^2)``."""
        g1k = self.curve_gamma + 1.0 - k0
        h = g1k * g1k * (1.0 - k0) / k0
        dh = -2.0 * g1k * (1.0 - k0) / k0 - g1k * g1k / (k0 * k0)
        return h, dh

    def _solve_D(self, x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
        """``D`` of scaled balances: Newton from ``2 sqrt(x0 x1)``, kept in the bracket ``[2 sqrt(x0 x1), x0 + x1]``.

        On that bracket ``f(D) = S - D - D h(K0) / (A g^2)`` falls from ``S - 2 sqrt(x0 x1) >= 0`` to ``<= 0``
        with slope below -1, so the clipped iteration converges.
        """
        s = x0 + x1
        p = x0 * x1
        lo = 2.0 * np.sqrt(p)
        d = lo.copy()
        for _ in range(_MAX_ITER):
            k0 = 4.0 * p / (d * d)
            h, dh = self._h(k0)
            f = s - d - d * h / self._ag2
            fp = -1.0 - (h - 2.0 * k0 * dh) / self._ag2
            d_new = np.clip(d - f / fp, lo, s)
            done = np.abs(d_new - d) <= 1e-15 * d_new
            d = d_new
            if done.all():
                break
        return d

    def _solve_y(self, x_j: np.ndarray, d: np.ndarray) -> np.ndarray:
        """The other scaled balance on the curve of ``D``: Newton from the constant-product ``D^2 / (4 x_j)``.

        ``f(y) = x_j + y - D - D h(K0) / (A g^2)`` rises (slope above 1) through 0 on ``(0, D^2 / (4 x_j)]``;
        an iterate that leaves the bracket on the left halves ``y`` instead, as ``newton_y`` does.
        """
        hi = d * d / (4.0 * x_j)
        y = hi.copy()
        for _ in range(_MAX_ITER):
            k0 = 4.0 * x_j * y / (d * d)
            h, dh = self._h(k0)
            f = x_j + y - d - d * h / self._ag2
            fp = 1.0 - d * dh * k0 / (y * self._ag2)
            y_new = y - f / fp
            y_new = np.where(y_new <= 0.0, 0.5 * y, np.minimum(y_new, hi))
            done = np.abs(y_new - y) <= 1e-15 * y_new
            y = y_new
            if done.all():
                break
        return y

    def _grad(self, x0: np.ndarray, x1: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Partial derivatives of ``G = x0 + x1 - D - D h(K0) / (A g^2)`` in ``x0`` and ``x1`` at fixed ``D``."""
        k0 = 4.0 * x0 * x1 / (d * d)
        _, dh = self._h(k0)
        c = d * dh * k0 / self._ag2
        return 1.0 - c / x0, 1.0 - c / x1

    def _fee(self, x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
        """Fee fraction ``mid f + out (1 - f)``, ``f = fee_gamma / (fee_gamma + 1 - 4 x0 x1 / (x0 + x1)^2)``."""
        s = x0 + x1
        k = 4.0 * x0 * x1 / (s * s)
        f = self.fee_gamma / (self.fee_gamma + 1.0 - k)
        return self._mid * f + self._out * (1.0 - f)

    def _dfee(self, x0: np.ndarray, x1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Partial derivatives of the fee fraction in ``x0`` and ``x1``."""
        s = x0 + x1
        k = 4.0 * x0 * x1 / (s * s)
        dfdk = (self._mid - self._out) * self.fee_gamma / (self.fee_gamma + 1.0 - k) ** 2
        s3 = s * s * s
        return dfdk * 4.0 * x1 * (x1 - x0) / s3, dfdk * 4.0 * x0 * (x0 - x1) / s3

    # ------------------------------------------------------------------------------------------------ checks

    def _state(self, state: VenueState, where: str) -> dict[str, np.ndarray]:
        arrays = getattr(state, "arrays", None)
        ok = isinstance(arrays, dict) and all(isinstance(arrays.get(k), np.ndarray) for k in _KEYS)
        if ok:
            b = arrays["balances"]  # type: ignore[index]
            ok = b.ndim == 2 and b.shape[1] == 2 and all(arrays[k].shape == (b.shape[0],) for k in _KEYS[1:])  # type: ignore[index]
        if not ok:
            raise ParameterError(
                f"The 'state' parameter of {where} must be a VenueState from {self.name!r}.init_state. "
                f"Got {state!r} instead."
            )
        return arrays  # type: ignore[return-value]

    @staticmethod
    def _pair(i: object, j: object, where: str) -> tuple[int, int]:
        for label, k in (("i", i), ("j", j)):
            if not isinstance(k, numbers.Integral) or isinstance(k, bool) or int(k) not in (0, 1):
                raise ParameterError(f"The '{label}' parameter of {where} must be 0 or 1. Got {k!r} instead.")
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
        """Return the starting state replicated over ``n_paths`` paths (see the class Notes for the arrays)."""
        if not isinstance(n_paths, numbers.Integral) or isinstance(n_paths, bool) or n_paths < 1:
            raise ParameterError(
                f"The 'n_paths' parameter of init_state must be an int >= 1. Got {n_paths!r} instead."
            )
        n = int(n_paths)
        xcp = self._D0 / (2.0 * math.sqrt(self.price_scale))

        def full(v: float) -> np.ndarray:
            return np.full(n, float(v))

        return VenueState(
            {
                "balances": np.tile(self.balances, (n, 1)),
                "D": full(self._D0),
                "price_scale": full(self.price_scale),
                "price_oracle": full(self.price_oracle),
                "last_price": full(self.price_oracle),
                "xcp_profit": full(self.xcp_profit),
                "xcp_profit_a": full(self.xcp_profit),
                "virtual_price": full(self.virtual_price),
                "lp_supply": full(xcp / self.virtual_price),
                "not_adjusted": full(0.0),
                "elapsed": full(0.0),
            }
        )

    def advance(self, state: VenueState, seconds: float | np.ndarray) -> None:
        """Let ``seconds`` pass on every path: the next trade updates the oracle EMA over the time elapsed.

        Parameters
        ----------
        state : VenueState
            This pool's state (mutated).
        seconds : float or array_like of shape (n_paths,)
            Time elapsed, >= 0.
        """
        s = self._state(state, "advance")
        s["elapsed"] += self._per_path(seconds, "seconds", "advance", s["D"].shape[0], "nonneg")

    def depth(self, state: VenueState) -> np.ndarray:
        """``xcp = D / (2 sqrt(price_scale))``: the geometric mean of the balanced pool, like ``sqrt(x y)``.

        Returns
        -------
        ndarray of shape (n_paths,)
            ``get_xcp(D)`` of the contract in token units (0 on a path whose liquidity was withdrawn).
        """
        s = self._state(state, "depth")
        return s["D"] / (2.0 * np.sqrt(s["price_scale"]))

    def fee_bps_now(self, state: VenueState) -> np.ndarray:
        """Each path's current swap fee in basis points (the contract's ``fee()``), shape ``(n_paths,)``."""
        s = self._state(state, "fee_bps_now")
        b = s["balances"]
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._fee(b[:, 0], b[:, 1] * s["price_scale"]) * 1e4

    def price(self, state: VenueState, i: int, j: int) -> np.ndarray:
        """Marginal price of coin ``i`` in units of coin ``j``, before fee, shape ``(n_paths,)``.

        Notes
        -----
        ``-dx_j/dx_i`` along the invariant at fixed ``D``: with ``G`` the invariant function and ``xp =
        (b0, b1 p_s)``, the price of coin 1 in coin 0 is ``p_s (dG/dx1) / (dG/dx0)``. NaN on a drained path.
        """
        i, j = self._pair(i, j, "price")
        s = self._state(state, "price")
        b = s["balances"]
        p = np.full(b.shape[0], np.nan)
        live = np.all(b > 0.0, axis=1)
        ps = s["price_scale"][live]
        g0, g1 = self._grad(b[live, 0], b[live, 1] * ps, s["D"][live])
        p1 = ps * g1 / g0
        p[live] = p1 if i == 1 else 1.0 / p1
        return p

    def _quote(
        self, b: np.ndarray, ps: np.ndarray, d: np.ndarray, i: int, dx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Output (token units, after fee) of selling ``dx`` of ``i``, and the post-trade scaled ``(x_i, y)``."""
        scale_i = 1.0 if i == 0 else ps
        scale_j = ps if i == 0 else 1.0
        x_i = b[:, i] * scale_i + dx * scale_i
        x_j_old = b[:, 1 - i] * scale_j
        y = self._solve_y(x_i, d)
        dy = np.maximum(x_j_old - y, 0.0)
        x0, x1 = (x_i, y) if i == 0 else (y, x_i)
        out = dy * (1.0 - self._fee(x0, x1)) / scale_j
        return out, x_i, y

    def get_dy(self, state: VenueState, i: int, j: int, dx: np.ndarray) -> np.ndarray:
        """Amount of coin ``j`` a sale of ``dx`` of coin ``i`` would return, after fee, without trading.

        Returns
        -------
        ndarray of shape (n_paths,)
            ``(xp_j - y) (1 - fee(xp')) / scale_j``: the contract's ``get_dy`` (on the stored ``D``).
        """
        i, j = self._pair(i, j, "get_dy")
        s = self._state(state, "get_dy")
        b = s["balances"]
        dx = self._per_path(dx, "dx", "get_dy", b.shape[0], "nonneg")
        out = np.zeros(b.shape[0])
        act = (dx > 0) & np.all(b > 0.0, axis=1)
        if act.any():
            out[act] = self._quote(b[act], s["price_scale"][act], s["D"][act], i, dx[act])[0]
        return out

    def swap(self, state: VenueState, i: int, j: int, dx: np.ndarray) -> np.ndarray:
        """Sell ``dx`` of coin ``i`` for coin ``j`` on every path, then run ``tweak_price``; mutate the state.

        Parameters
        ----------
        state : VenueState
            This pool's state (mutated).
        i, j : int
            Coins sold and bought.
        dx : array_like of shape (n_paths,)
            Amounts of coin ``i``, token units, >= 0; zero is a no-op (no oracle update either).

        Returns
        -------
        ndarray of shape (n_paths,)
            Amount of coin ``j`` received, after fee (the fee stays in the pool). A drained path returns 0.

        References
        ----------
        ``_exchange`` and ``tweak_price`` in ``deployment-logs/2021-11-24. CRV/CryptoSwap.vy``.
        """
        i, j = self._pair(i, j, "swap")
        s = self._state(state, "swap")
        b = s["balances"]
        dx = self._per_path(dx, "dx", "swap", b.shape[0], "nonneg")
        out = np.zeros(b.shape[0])
        act = (dx > 0) & np.all(b > 0.0, axis=1)
        if act.any():
            ps = s["price_scale"][act]
            dy = np.zeros(b.shape[0])
            dy[act], _, _ = self._quote(b[act], ps, s["D"][act], i, dx[act])
            # A trade too small to pay anything reverts on chain (the last price dx / dy divides by zero).
            act &= dy > 0.0
            out[act] = dy[act]
            b[act, i] += dx[act]
            b[act, j] -= dy[act]
            trade_price = dx[act] / dy[act] if i == 0 else dy[act] / dx[act]
            if act.any():
                self._tweak(s, act, trade_price)
        return out

    def _tweak(self, s: dict[str, np.ndarray], act: np.ndarray, trade_price: np.ndarray) -> None:
        """``tweak_price`` on the paths ``act`` (a mask), after their balances have moved."""
        idx = np.flatnonzero(act)
        b = s["balances"][idx]
        ps = s["price_scale"][idx]
        oracle = s["price_oracle"][idx]
        elapsed = s["elapsed"][idx]
        moved = elapsed > 0.0
        alpha = 0.5 ** (elapsed / self.ma_half_time)
        # oracle + (last - oracle)(1 - alpha) is the contract's last (1 - alpha) + oracle alpha, written so that
        # an oracle already at the last price stays bit-identical (the contract's norm is then exactly 0).
        oracle = np.where(moved, oracle + (s["last_price"][idx] - oracle) * (1.0 - alpha), oracle)
        s["price_oracle"][idx] = oracle
        s["elapsed"][idx] = 0.0
        s["last_price"][idx] = trade_price

        x0, x1 = b[:, 0], b[:, 1] * ps
        d_un = self._solve_D(x0, x1)
        supply = s["lp_supply"][idx]
        old_vp = s["virtual_price"][idx]
        vp = d_un / (2.0 * np.sqrt(ps)) / supply
        xcp_profit = s["xcp_profit"][idx] * vp / old_vp
        s["xcp_profit"][idx] = xcp_profit

        norm = np.abs(oracle / ps - 1.0)
        step = np.maximum(self.adjustment_step, norm / 10.0)
        flagged = s["not_adjusted"][idx] > 0.5
        new_flag = ~flagged & (2.0 * vp - 1.0 > xcp_profit + 2.0 * self.allowed_extra_profit)
        if self.norm_guard:
            new_flag &= norm > step
        flagged |= new_flag
        s["not_adjusted"][idx] = np.where(flagged, 1.0, s["not_adjusted"][idx])

        d_out, vp_out, ps_out = d_un.copy(), vp.copy(), ps.copy()
        claim = np.zeros(idx.shape[0], dtype=bool)
        try_move = flagged & (norm > step)
        if try_move.any():
            t = np.flatnonzero(try_move)
            p_new = (ps[t] * (norm[t] - step[t]) + step[t] * oracle[t]) / norm[t]
            d_new = self._solve_D(x0[t], x1[t] * p_new / ps[t])
            vp_new = d_new / (2.0 * np.sqrt(p_new)) / supply[t]
            ok = (vp_new > 1.0) & (2.0 * vp_new - 1.0 > xcp_profit[t])
            d_out[t[ok]], vp_out[t[ok]], ps_out[t[ok]] = d_new[ok], vp_new[ok], p_new[ok]
            claim[t[~ok]] = True
        if self.norm_guard:
            claim |= flagged & ~(norm > step)
        s["not_adjusted"][idx[claim]] = 0.0
        s["D"][idx] = d_out
        s["virtual_price"][idx] = vp_out
        s["price_scale"][idx] = ps_out
        if claim.any():
            self._claim(s, idx[claim])

    def _claim(self, s: dict[str, np.ndarray], idx: np.ndarray) -> None:
        """``_claim_admin_fees``: mint the admin share of the profit since the last claim as LP tokens."""
        xp_ = s["xcp_profit"][idx]
        xa = s["xcp_profit_a"][idx]
        vp = s["virtual_price"][idx]
        supply = s["lp_supply"][idx]
        fees = np.where(xp_ > xa, (xp_ - xa) * self.admin_fee / 2.0, 0.0)
        pay = fees > 0.0
        supply = np.where(pay, supply * vp / np.where(pay, vp - fees, 1.0), supply)
        xp_ = np.where(pay, xp_ - 2.0 * fees, xp_)
        s["lp_supply"][idx] = supply
        s["xcp_profit"][idx] = xp_
        # D is unchanged: the balances and price_scale the contract recomputes it from are those of D_unadjusted.
        s["virtual_price"][idx] = s["D"][idx] / (2.0 * np.sqrt(s["price_scale"][idx])) / supply
        s["xcp_profit_a"][idx] = np.where(xp_ > xa, xp_, xa)

    def _marginal_out(
        self, b: np.ndarray, ps: np.ndarray, d: np.ndarray, a: int, dx: np.ndarray
    ) -> np.ndarray:
        """``d(out)/d(dx)`` for selling ``dx`` of coin ``a``: output per unit of the last unit sold, after fee.

        ``out = (x_c - y) (1 - phi) / s_c`` with ``y`` on the curve of ``D`` and ``phi`` the fee of the
        post-trade balances, so ``d out = [s_a pi (1 - phi) - (x_c - y) d phi] / s_c`` with ``pi = -dy/dx_a``.
        """
        scale_a = 1.0 if a == 0 else ps
        scale_c = ps if a == 0 else 1.0
        x_a = (b[:, a] + dx) * scale_a
        y = self._solve_y(x_a, d)
        x0, x1 = (x_a, y) if a == 0 else (y, x_a)
        g0, g1 = self._grad(x0, x1, d)
        pi = g0 / g1 if a == 0 else g1 / g0
        f = self._fee(x0, x1)
        f0, f1 = self._dfee(x0, x1)
        fa, fc = (f0, f1) if a == 0 else (f1, f0)
        dphi = (fa - fc * pi) * scale_a
        delta = np.maximum(b[:, 1 - a] * scale_c - y, 0.0)
        return (scale_a * pi * (1.0 - f) - delta * dphi) / scale_c

    def _size(
        self, b: np.ndarray, ps: np.ndarray, d: np.ndarray, a: int, threshold: np.ndarray, cap: np.ndarray
    ) -> np.ndarray:
        """Amount of coin ``a`` to sell so that the marginal output falls to ``threshold`` (capped at ``cap``).

        ``g(dx) = log(marginal_out(dx) / threshold)`` is bracketed (grown from the pool's balance where ``cap``
        is infinite) and its root found by regula falsi with the Illinois modification on every path at once.
        """

        def g(dx: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                m = self._marginal_out(b, ps, d, a, dx)
                return np.log(np.maximum(m, 1e-300) / threshold)

        finite = np.isfinite(cap)
        hi = np.where(finite, cap, b[:, a])
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
        no_trade = g_lo <= 0.0
        side = np.zeros(hi.shape, dtype=np.int8)
        done = at_cap | no_trade
        eps = 4.0 * np.finfo(np.float64).eps
        for _ in range(_MAX_ITER):
            if done.all():
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                x = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
            bad = ~((x > lo) & (x < hi))
            x = np.where(bad, 0.5 * (lo + hi), x)
            gx = g(x)
            # Converged paths are frozen, so later rounds cannot move them on noise.
            right = ~done & (gx < 0.0)
            left = ~done & ~(gx < 0.0)
            hi = np.where(right, x, hi)
            lo = np.where(left, x, lo)
            g_lo = np.where(right & (side == 1), 0.5 * g_lo, np.where(left, gx, g_lo))
            g_hi = np.where(left & (side == -1), 0.5 * g_hi, np.where(right, gx, g_hi))
            side = np.where(right, 1, np.where(left, -1, side)).astype(np.int8)
            done |= (hi - lo <= eps * hi) | (np.abs(gx) <= eps)
        root = np.where(np.abs(g_lo) <= np.abs(g_hi), lo, hi)
        return np.where(at_cap, cap, np.where(no_trade, 0.0, root))

    def arbitrage(
        self, state: VenueState, i: int, j: int, target_price: np.ndarray, max_in_j: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Trade towards an external price as a profit-maximising arbitrageur with limited capital.

        Where the first unit of coin ``i`` sold would return more than ``target_price`` of ``j`` after the
        dynamic fee, coin ``i`` is sold until the marginal output per unit (the derivative of ``get_dy``, fee
        and its change with the balances included) equals the target; where the first unit of ``i`` bought
        costs less than the target, coin ``j`` is sold until the marginal cost of ``i`` equals it. Both are the
        first-order condition of the profit ``out - in`` valued at ``target_price``; inside the fee band nothing
        trades. The input is capped so that its value in units of ``j`` at ``target_price`` is at most
        ``max_in_j``. The swap then runs ``tweak_price``, which may move ``price_scale`` and with it the pool's
        price: the next call trades from there.

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
            Signed change of the pool's balances of ``i`` and ``j`` (positive: into the pool).
        """
        i, j = self._pair(i, j, "arbitrage")
        s = self._state(state, "arbitrage")
        b = s["balances"]
        m = b.shape[0]
        target = self._per_path(target_price, "target_price", "arbitrage", m, "positive")
        cap_j = self._per_path(max_in_j, "max_in_j", "arbitrage", m, "nonneg_or_inf")
        live = np.all(b > 0.0, axis=1) & (cap_j > 0)
        dx_i = np.zeros(m)
        dx_j = np.zeros(m)
        if live.any():
            zero = np.zeros(int(live.sum()))
            bl, psl, dl = b[live], s["price_scale"][live], s["D"][live]
            first_i = np.zeros(m)
            first_j = np.full(m, np.inf)
            first_i[live] = self._marginal_out(bl, psl, dl, i, zero)  # j per i, selling i
            first_j[live] = self._marginal_out(bl, psl, dl, j, zero)  # i per j, selling j
            sell_i = live & (first_i > target)
            sell_j = live & ~sell_i & (first_j * target > 1.0)
            if sell_i.any():
                dx_i[sell_i] = self._size(
                    b[sell_i], s["price_scale"][sell_i], s["D"][sell_i], i, target[sell_i],
                    cap_j[sell_i] / target[sell_i],
                )  # fmt: skip
            if sell_j.any():
                dx_j[sell_j] = self._size(
                    b[sell_j],
                    s["price_scale"][sell_j],
                    s["D"][sell_j],
                    j,
                    1.0 / target[sell_j],
                    cap_j[sell_j],
                )
        before = b[:, [i, j]].copy()
        self.swap(state, i, j, dx_i)
        self.swap(state, j, i, dx_j)
        return b[:, i] - before[:, 0], b[:, j] - before[:, 1]

    def scale_liquidity(self, state: VenueState, factor: np.ndarray) -> None:
        """LPs withdraw (``factor < 1``) or return (``factor > 1``) liquidity pro rata, at unchanged price.

        Balances, ``D`` and the LP supply scale by ``factor`` (``remove_liquidity``); ``price_scale``, the
        oracle, the profit counters and the virtual price are unchanged.

        Parameters
        ----------
        state : VenueState
            This pool's state (mutated).
        factor : array_like of shape (n_paths,)
            Multiplier, >= 0.
        """
        s = self._state(state, "scale_liquidity")
        f = self._per_path(factor, "factor", "scale_liquidity", s["D"].shape[0], "nonneg")
        s["balances"] *= f[:, None]
        s["D"] *= f
        s["lp_supply"] *= f
