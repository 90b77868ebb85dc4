"""Indicators of the systemic failure state, from a run's per-step series and from market data alike.

Every time-series function takes either a pandas object indexed by time (a ``Series``, or a ``DataFrame`` with one
column per asset, venue or feed) and returns the same shape, or an ndarray whose **last** axis is time, typically
of shape (n_paths, n_steps + 1) as the engine records, and returns an ndarray of that shape. One implementation
serves both: a frame is turned into an array of shape (n_columns, n_times) and back. Missing values (NaN) in real
data are skipped inside rolling windows; a window needs ``min_periods`` valid points or yields NaN.

Static indicators (health factors, debt near liquidation, concentration, coverage) take one snapshot.

On simulated paths the engine records, when ``simulation.record`` names them, prices, depth, slippage, oracle
staleness and deviation, unserved liquidations, lending markets' utilisation and each protocol's reserve coverage
(``"coverage"``: reserves over bad debt, what :func:`reserve_coverage` computes) per step; see ``docs/monitor.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from firesale.monitor._checks import check_columns, check_float, check_int, fail

__all__ = [
    "concentration",
    "debt_near_liquidation",
    "depth_ratio",
    "garch_filter",
    "garch_volatility",
    "health_factors",
    "liquidation_buffer",
    "log_returns",
    "oracle_deviation",
    "oracle_staleness",
    "peg_deviation",
    "realised_volatility",
    "reserve_coverage",
    "rolling_correlation",
    "slippage_at_size",
    "tail_pvalue",
    "unclearable_share",
    "update_frequency",
    "utilisation",
    "volatility_cover",
]

Series = Any  # pandas Series / DataFrame indexed by time, or ndarray with time on the last axis


def _matrix(x: Any, owner: str, name: str = "x") -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """``x`` as float64 of shape (..., n_times) and the function that gives a result the shape of ``x`` back."""
    if isinstance(x, pd.DataFrame):
        arr = x.to_numpy(dtype=float).T
        return arr, lambda r: pd.DataFrame(r.T, index=x.index, columns=x.columns)
    if isinstance(x, pd.Series):
        arr = x.to_numpy(dtype=float)
        return arr, lambda r: pd.Series(r, index=x.index, name=x.name)
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise fail(
            name, owner, "numeric (a pandas Series/DataFrame or an ndarray)", f"<{type(x).__name__}>"
        ) from exc
    if arr.ndim == 0:
        raise fail(name, owner, "at least one-dimensional (time on the last axis)", "<a scalar>")
    return arr, lambda r: r


def _rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over the trailing ``window`` points of the last axis (NaN counted as 0), same shape."""
    c = np.cumsum(np.nan_to_num(x, nan=0.0), axis=-1)
    out = c.copy()
    out[..., window:] = c[..., window:] - c[..., :-window]
    return out


def _seconds(index: Any, n: int, dt: float | None, owner: str) -> np.ndarray:
    if isinstance(index, pd.DatetimeIndex):
        return np.asarray((index - index[0]).total_seconds(), dtype=float)
    if dt is None:
        raise fail("dt", owner, "given (seconds per step) when the input has no DatetimeIndex", None)
    return np.arange(n) * check_float(dt, "dt", owner, 0.0, lo_open=True)


def log_returns(prices: Series) -> Series:
    """Log returns along time; the first point is NaN.

    Parameters
    ----------
    prices : Series, DataFrame or ndarray of shape (..., n_times)

    Returns
    -------
    Same type and shape as ``prices``.
    """
    p, back = _matrix(prices, "log_returns", "prices")
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = np.log(np.where(p > 0, p, np.nan))
    r = np.full_like(lp, np.nan)
    r[..., 1:] = np.diff(lp, axis=-1)
    return back(r)


def realised_volatility(prices: Series, window: int = 24, min_periods: int | None = None) -> Series:
    """Standard deviation (ddof 1) of the log returns over the trailing ``window`` steps, per step.

    Parameters
    ----------
    prices : Series, DataFrame or ndarray of shape (..., n_times)
    window : int, default 24
        Returns in the window (the value at step t uses returns up to and including t).
    min_periods : int, optional
        Valid returns needed (default ``window``); fewer give NaN.

    Returns
    -------
    Same type and shape as ``prices``: volatility per step (not annualised).

    Examples
    --------
    >>> import numpy as np
    >>> v = realised_volatility(np.exp(np.cumsum([0.0, 0.01, -0.01, 0.01, -0.01])), window=4)
    >>> round(float(v[-1]), 6)  # returns +-0.01: sample std sqrt(4 * 1e-4 / 3)
    0.011547
    """
    owner = "realised_volatility"
    window = check_int(window, "window", owner, 2)
    min_periods = window if min_periods is None else check_int(min_periods, "min_periods", owner, 2)
    r, back = _matrix(log_returns(prices), owner, "prices")
    valid = np.isfinite(r)
    n = _rolling_sum(valid.astype(float), window)
    s1 = _rolling_sum(np.where(valid, r, 0.0), window)
    s2 = _rolling_sum(np.where(valid, r * r, 0.0), window)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (s2 - s1 * s1 / n) / (n - 1)
    var = np.where(n >= min_periods, np.maximum(var, 0.0), np.nan)
    return back(np.sqrt(var))


def garch_filter(
    returns: np.ndarray, omega: float, alpha: float, beta: float, sigma2_0: float | None = None
) -> np.ndarray:
    """One-step-ahead GARCH(1, 1) variance: element t is the variance of return t + 1 given returns up to t.

    Parameters
    ----------
    returns : ndarray of shape (..., n_times)
        Demeaned returns in the units the parameters were fitted in; NaN returns leave the variance to decay
        towards its long-run level (the shock term is skipped).
    omega, alpha, beta : float
        Parameters of :math:`\\sigma^2_{t+1} = \\omega + \\alpha r_t^2 + \\beta \\sigma^2_t`.
    sigma2_0 : float, optional
        Variance of the first return; the unconditional variance :math:`\\omega / (1 - \\alpha - \\beta)` if
        None (the sample variance of ``returns`` if the process is not stationary).

    Returns
    -------
    ndarray of the shape of ``returns``.

    Notes
    -----
    The loop runs over time only; every path advances at once.

    References
    ----------
    Bollerslev, T. (1986), Generalized autoregressive conditional heteroskedasticity, J. Econometrics 31.
    bashtage/arch, ``arch/univariate/volatility.py`` (``GARCH.compute_variance``), the recursion this matches.
    """
    r = np.asarray(returns, dtype=float)
    if sigma2_0 is None:
        persistence = alpha + beta
        sigma2_0 = omega / (1.0 - persistence) if persistence < 1 else float(np.nanvar(r))
    out = np.empty_like(r)
    s2 = np.full(r.shape[:-1], float(sigma2_0))
    for t in range(r.shape[-1]):
        rt = r[..., t]
        s2 = np.where(
            np.isfinite(rt), omega + alpha * np.nan_to_num(rt) ** 2 + beta * s2, omega + (alpha + beta) * s2
        )
        out[..., t] = s2
    return out


def garch_volatility(
    prices: pd.Series, fit_until: Any = None, dist: str = "t"
) -> tuple[pd.Series, dict[str, float]]:
    """GARCH(1, 1) one-step-ahead volatility forecast, fitted with ``arch`` on data up to ``fit_until`` only.

    Parameters
    ----------
    prices : pandas.Series
        One asset's prices indexed by time.
    fit_until : timestamp, optional
        Last time used to estimate the parameters (the whole series if None); later forecasts use those fixed
        parameters, so a forecast never sees the future through its parameters.
    dist : {"t", "normal"}, default "t"
        Innovation distribution of the fit.

    Returns
    -------
    vol : pandas.Series
        At time t, the forecast standard deviation of the log return from t to the next step.
    params : dict
        ``omega``, ``alpha``, ``beta`` (in returns, not percent), and ``nu`` for Student-t innovations.

    References
    ----------
    bashtage/arch, ``arch/univariate/mean.py`` (``arch_model``), ``arch/univariate/volatility.py`` (``GARCH``).
    """
    from arch import arch_model

    owner = "garch_volatility"
    if not isinstance(prices, pd.Series):
        raise fail("prices", owner, "a pandas Series", f"<{type(prices).__name__}>")
    if dist not in ("t", "normal"):
        raise fail("dist", owner, "one of 't', 'normal'", dist)
    r = log_returns(prices)
    train = r.loc[:fit_until].dropna() if fit_until is not None else r.dropna()
    if len(train) < 100:
        raise fail(
            "fit_until", owner, "a time leaving at least 100 returns to fit", f"<{len(train)} returns>"
        )
    res = arch_model(100 * train, mean="Zero", vol="GARCH", p=1, q=1, dist=dist, rescale=False).fit(  # type: ignore[arg-type]
        disp="off", show_warning=False
    )
    p = res.params
    params = {"omega": float(p["omega"]) / 1e4, "alpha": float(p["alpha[1]"]), "beta": float(p["beta[1]"])}
    if dist == "t":
        params["nu"] = float(p["nu"])
    var = garch_filter(r.to_numpy(), params["omega"], params["alpha"], params["beta"], float(np.var(train)))
    return pd.Series(np.sqrt(var), index=prices.index, name=prices.name), params


def liquidation_buffer(ltv: Any, liquidation_threshold: Any) -> Any:
    """Price fall that takes a position opened at the maximum LTV to its liquidation threshold.

    Parameters
    ----------
    ltv, liquidation_threshold : float or array-like, in (0, 1]

    Returns
    -------
    float or ndarray: :math:`1 - \\mathrm{LTV} / \\mathrm{LT}`.

    Notes
    -----
    A position with collateral value C and debt D = LTV C has health factor LT C / D = LT / LTV; it reaches 1
    when collateral falls by the factor LTV / LT, i.e. by :math:`1 - \\mathrm{LTV}/\\mathrm{LT}`.

    Examples
    --------
    >>> round(liquidation_buffer(0.805, 0.83), 6)  # Aave v3 Ethereum WETH
    0.03012
    """
    ltv_a, lt_a = np.asarray(ltv, dtype=float), np.asarray(liquidation_threshold, dtype=float)
    if np.any(~((ltv_a > 0) & (ltv_a <= lt_a) & (lt_a <= 1))):
        raise fail(
            "ltv", "liquidation_buffer", "in (0, liquidation_threshold] with liquidation_threshold <= 1", ltv
        )
    out = 1.0 - ltv_a / lt_a
    return float(out) if out.ndim == 0 else out


def volatility_cover(sigma: Series, buffer: float, horizon_steps: float = 1.0, level: float = 0.99) -> Series:
    """How many times the liquidation buffer covers the ``level`` one-sided move over the liquidation horizon.

    Parameters
    ----------
    sigma : Series, DataFrame or ndarray
        Volatility per step (realised or forecast).
    buffer : float
        Liquidation buffer (see :func:`liquidation_buffer`), in (0, 1).
    horizon_steps : float, default 1
        Steps a liquidation takes to clear (the move it must survive).
    level : float, default 0.99

    Returns
    -------
    Same type as ``sigma``: :math:`b / (z_{\\ell}\\, \\sigma \\sqrt{h})`; below 1 the threshold sits inside the
    market's move (the "model failure" row of the issue's table).
    """
    owner = "volatility_cover"
    b = check_float(buffer, "buffer", owner, 0.0, 1.0, lo_open=True, hi_open=True)
    h = check_float(horizon_steps, "horizon_steps", owner, 0.0, lo_open=True)
    lvl = check_float(level, "level", owner, 0.5, 1.0, lo_open=True, hi_open=True)
    s, back = _matrix(sigma, owner, "sigma")
    with np.errstate(divide="ignore"):
        return back(b / (stats.norm.ppf(lvl) * s * np.sqrt(h)))


def depth_ratio(depth: Series, start: Any = None) -> Series:
    """Depth relative to its start (the first finite value if ``start`` is None); 1 - ratio is the depth lost.

    Parameters
    ----------
    depth : Series, DataFrame or ndarray of shape (..., n_times)
        Venue depth (USD within a price band, or a pool's reserve value).
    start : float or array-like, optional
        The reference depth of each series.
    """
    d, back = _matrix(depth, "depth_ratio", "depth")
    if start is None:
        first = np.argmax(np.isfinite(d), axis=-1)
        ref = np.take_along_axis(d, first[..., None], axis=-1)
    else:
        ref = np.asarray(start, dtype=float)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return back(d / ref)


def slippage_at_size(depth_usd: Series, size_usd: float) -> Series:
    """Slippage of selling ``size_usd`` into a constant-product pool whose sold-token reserve is worth ``depth_usd``.

    Returns
    -------
    Same type as ``depth_usd``: the shortfall of the average execution price against the spot price, as a fraction,
    before fees: :math:`s / (D + s)`.

    Notes
    -----
    Selling :math:`\\Delta x` into reserves (x, y) returns :math:`y \\Delta x / (x + \\Delta x)` (Uniswap v2
    ``getAmountOut`` without the fee); at spot it would return :math:`y \\Delta x / x`, so the shortfall is
    :math:`\\Delta x / (x + \\Delta x)`, with :math:`D = x P` and :math:`s = \\Delta x P`.

    References
    ----------
    Uniswap/v2-periphery, ``contracts/libraries/UniswapV2Library.sol`` (``getAmountOut``).

    Examples
    --------
    >>> float(slippage_at_size(np.array([9e6]), 1e6)[0])  # 1 M into 9 M of depth: 10 %
    0.1
    """
    s = check_float(size_usd, "size_usd", "slippage_at_size", 0.0)
    d, back = _matrix(depth_usd, "slippage_at_size", "depth_usd")
    with np.errstate(divide="ignore", invalid="ignore"):
        return back(np.where(d > 0, s / (d + s), 1.0 if s > 0 else 0.0))


def oracle_deviation(oracle: Series, market: Series) -> Series:
    """Relative distance of an oracle's answer from the market price, :math:`|o - m| / m`."""
    o, back = _matrix(oracle, "oracle_deviation", "oracle")
    m, _ = _matrix(market, "oracle_deviation", "market")
    if o.shape != m.shape:
        raise fail("market", "oracle_deviation", f"of the shape of 'oracle' {o.shape}", f"<shape {m.shape}>")
    with np.errstate(divide="ignore", invalid="ignore"):
        return back(np.abs(o - m) / m)


def peg_deviation(price: Series, peg: float = 1.0) -> Series:
    """Relative distance of a pegged or derived asset from its peg, :math:`|p / \\mathrm{peg} - 1|`."""
    pg = check_float(peg, "peg", "peg_deviation", 0.0, lo_open=True)
    p, back = _matrix(price, "peg_deviation", "price")
    return back(np.abs(p / pg - 1.0))


def _changes(o: np.ndarray) -> np.ndarray:
    """True where an answer differs from the previous finite one (the first point counts as an update)."""
    ch = np.zeros(o.shape, dtype=bool)
    ch[..., 0] = True
    prev = pd.DataFrame(np.atleast_2d(o).T).ffill().to_numpy().T.reshape(o.shape)
    ch[..., 1:] = np.isfinite(o[..., 1:]) & (o[..., 1:] != prev[..., :-1])
    return ch


def oracle_staleness(oracle: Series, dt: float | None = None) -> Series:
    """Seconds since the oracle's answer last changed (an unchanged answer is taken as no update).

    Parameters
    ----------
    oracle : Series, DataFrame or ndarray of shape (..., n_times)
        The answer at each time (a ``DatetimeIndex`` gives the times).
    dt : float, optional
        Seconds per step for an ndarray (or a frame without a ``DatetimeIndex``).

    Notes
    -----
    Feeds that report an ``updatedAt`` time should use it directly (``now - updatedAt``); this function infers
    updates from changes of the answer, which misses heartbeat updates that repeat the same value.
    """
    o, back = _matrix(oracle, "oracle_staleness", "oracle")
    t = _seconds(getattr(oracle, "index", None), o.shape[-1], dt, "oracle_staleness")
    idx = np.where(_changes(o), np.arange(o.shape[-1]), 0)
    last = np.maximum.accumulate(idx, axis=-1)
    return back(t - t[last])


def update_frequency(oracle: Series, window_s: float, dt: float | None = None) -> Series:
    """Oracle updates per hour over the trailing ``window_s`` seconds (changes of the answer, as above)."""
    owner = "update_frequency"
    w = check_float(window_s, "window_s", owner, 0.0, lo_open=True)
    o, back = _matrix(oracle, owner, "oracle")
    t = _seconds(getattr(oracle, "index", None), o.shape[-1], dt, owner)
    c = np.cumsum(_changes(o), axis=-1)
    j = np.searchsorted(t, t - w, side="right") - 1  # last time outside the window
    before = np.where(j >= 0, c[..., np.clip(j, 0, None)], 0)
    return back((c - before) * 3600.0 / w)


def rolling_correlation(prices: Any, window: int = 168, min_periods: int | None = None) -> Any:
    """Mean and maximum pairwise correlation of the assets' log returns over a trailing window.

    Parameters
    ----------
    prices : DataFrame (one column per asset) or ndarray of shape (n_paths, n_times, n_assets)
    window : int, default 168
    min_periods : int, optional
        Joint valid returns a pair needs (default ``window``).

    Returns
    -------
    DataFrame with columns ``correlation_mean`` and ``correlation_max`` indexed like ``prices``, or a pair of
    ndarrays of shape (n_paths, n_times). Pairs are computed on their jointly valid returns.
    """
    owner = "rolling_correlation"
    window = check_int(window, "window", owner, 3)
    min_periods = window if min_periods is None else check_int(min_periods, "min_periods", owner, 3)
    frame = isinstance(prices, pd.DataFrame)
    p = prices.to_numpy(dtype=float)[None] if frame else np.asarray(prices, dtype=float)
    if p.ndim != 3 or p.shape[-1] < 2:
        raise fail("prices", owner, "a frame or array with at least two assets", f"<shape {p.shape}>")
    r = np.moveaxis(log_returns(np.moveaxis(p, -1, 1)), 1, -1)  # (n_paths, n_times, n_assets)
    n_a = p.shape[-1]
    corrs = []
    for i in range(n_a):
        for j in range(i + 1, n_a):
            ok = np.isfinite(r[..., i]) & np.isfinite(r[..., j])
            x, y = np.where(ok, r[..., i], 0.0), np.where(ok, r[..., j], 0.0)
            n = _rolling_sum(ok.astype(float), window)
            sx, sy = _rolling_sum(x, window), _rolling_sum(y, window)
            sxx, syy, sxy = (
                _rolling_sum(x * x, window),
                _rolling_sum(y * y, window),
                _rolling_sum(x * y, window),
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                cov = sxy - sx * sy / n
                c = cov / np.sqrt((sxx - sx * sx / n) * (syy - sy * sy / n))
            corrs.append(np.where(n >= min_periods, np.clip(c, -1.0, 1.0), np.nan))
    stack = np.stack(corrs, axis=-1)
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows at the start are expected
            mean, mx = np.nanmean(stack, axis=-1), np.nanmax(stack, axis=-1)
    if frame:
        return pd.DataFrame({"correlation_mean": mean[0], "correlation_max": mx[0]}, index=prices.index)
    return mean, mx


def tail_pvalue(returns: Series, sigma: Series, window: int = 250, level: float = 0.99) -> Series:
    """Rolling binomial p-value of the losses beyond a normal VaR over the trailing ``window`` steps.

    Parameters
    ----------
    returns : Series, DataFrame or ndarray
        Log returns; the loss at t is :math:`-r_t`.
    sigma : same shape
        Volatility forecast for step t made at t - 1 (e.g. :func:`realised_volatility` shifted by one step).
    window : int, default 250
    level : float, default 0.99

    Returns
    -------
    Same type: :math:`P(X \\ge x)` for :math:`X \\sim \\mathrm{Bin}(n, 1 - \\ell)`, with x the breaches among the n
    valid steps of the window. Small values say the normal model underestimates the tail (or clusters).
    """
    owner = "tail_pvalue"
    window = check_int(window, "window", owner, 2)
    lvl = check_float(level, "level", owner, 0.5, 1.0, lo_open=True, hi_open=True)
    r, back = _matrix(returns, owner, "returns")
    s, _ = _matrix(sigma, owner, "sigma")
    ok = np.isfinite(r) & np.isfinite(s)
    hit = ok & (-np.nan_to_num(r) > stats.norm.ppf(lvl) * np.nan_to_num(s))
    n = _rolling_sum(ok.astype(float), window)
    x = _rolling_sum(hit.astype(float), window)
    p = stats.binom.sf(x - 1, n, 1.0 - lvl)
    return back(np.where(n > 0, p, np.nan))


# ----- snapshots ------------------------------------------------------------------------------------------------
def health_factors(
    positions: pd.DataFrame, prices: Mapping[str, float], liquidation_threshold: Mapping[str, float]
) -> pd.DataFrame:
    """Health factor, collateral and debt of every account of a position snapshot.

    Parameters
    ----------
    positions : pandas.DataFrame
        ``account``, ``asset``, ``collateral_amount``, ``debt_amount`` (token units), the engine's position format
        (:func:`firesale.data.aave_v3_positions`); an optional ``protocol`` column keeps protocols apart.
    prices : mapping of asset to USD price
    liquidation_threshold : mapping of asset to LT in [0, 1]

    Returns
    -------
    pandas.DataFrame
        Indexed by (``protocol``, ``account``): ``collateral_usd``, ``debt_usd``, ``health_factor`` (inf
        without debt).

    Notes
    -----
    :math:`HF = \\sum_i c_i p_i \\mathrm{LT}_i / \\sum_j d_j p_j`, as :func:`firesale.protocols.lending.health_factor`
    and Aave v3 ``GenericLogic.calculateUserAccountData`` (aave-dao/aave-v3-origin,
    ``src/contracts/protocol/libraries/logic/GenericLogic.sol``) compute it, without e-mode.
    """
    owner = "health_factors"
    check_columns(positions, ("account", "asset", "collateral_amount", "debt_amount"), "positions", owner)
    assets = positions["asset"].astype(str)
    for name, table in (("prices", prices), ("liquidation_threshold", liquidation_threshold)):
        missing = sorted(set(assets) - set(table))
        if missing:
            raise fail(
                name, owner, "a mapping with every asset of the positions", f"<no value for {missing}>"
            )
    price = assets.map(prices).to_numpy(dtype=float)
    lt = assets.map(liquidation_threshold).to_numpy(dtype=float)
    if np.any(~((lt >= 0) & (lt <= 1))):
        raise fail("liquidation_threshold", owner, "fractions in [0, 1]", dict(liquidation_threshold))
    frame = pd.DataFrame(
        {
            "protocol": positions["protocol"].astype(str) if "protocol" in positions else "system",
            "account": positions["account"].astype(str),
            "collateral_usd": positions["collateral_amount"].to_numpy(dtype=float) * price,
            "weighted": positions["collateral_amount"].to_numpy(dtype=float) * price * lt,
            "debt_usd": positions["debt_amount"].to_numpy(dtype=float) * price,
        }
    )
    g = frame.groupby(["protocol", "account"], sort=False)[["collateral_usd", "weighted", "debt_usd"]].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        g["health_factor"] = np.where(g["debt_usd"] > 0, g["weighted"] / g["debt_usd"], np.inf)
    return g.drop(columns="weighted")


def debt_near_liquidation(
    health_factor: Any, debt_usd: Any, distances: Sequence[float] = (0.05, 0.10, 0.20)
) -> dict[str, float]:
    """Debt already liquidatable and debt within each distance of liquidation, in USD and as a share.

    Parameters
    ----------
    health_factor, debt_usd : array-like of shape (n_accounts,)
    distances : sequence of float in (0, 1)
        Uniform collateral price falls.

    Returns
    -------
    dict
        ``debt_usd``, ``liquidatable_usd`` (HF < 1), and for each distance d ``within_<pct>_usd`` and
        ``within_<pct>_share``: debt of the accounts with :math:`1 \\le HF < 1 / (1 - d)`, the accounts a uniform
        fall d of every collateral price (debt unchanged) takes below 1.

    Examples
    --------
    >>> out = debt_near_liquidation([0.9, 1.03, 1.2, 2.0], [10.0, 20.0, 30.0, 40.0])
    >>> out["liquidatable_usd"], out["within_5pct_usd"], out["within_20pct_usd"]
    (10.0, 20.0, 50.0)
    """
    hf = np.asarray(health_factor, dtype=float)
    debt = np.asarray(debt_usd, dtype=float)
    total = float(debt.sum())
    out = {"debt_usd": total, "liquidatable_usd": float(debt[hf < 1].sum())}
    for d in distances:
        check_float(d, "distances", "debt_near_liquidation", 0.0, 1.0, lo_open=True, hi_open=True)
        near = float(debt[(hf >= 1) & (hf < 1.0 / (1.0 - d))].sum())
        key = f"within_{round(100 * d):d}pct"
        out[f"{key}_usd"] = near
        out[f"{key}_share"] = near / total if total > 0 else 0.0
    return out


def unclearable_share(unserved_usd: Series, liquidatable_usd: Series) -> Series:
    """Share of liquidatable debt that liquidators left unserved in a step (0 where nothing was liquidatable)."""
    u, back = _matrix(unserved_usd, "unclearable_share", "unserved_usd")
    q, _ = _matrix(liquidatable_usd, "unclearable_share", "liquidatable_usd")
    with np.errstate(divide="ignore", invalid="ignore"):
        return back(np.where(q > 0, np.clip(u / q, 0.0, 1.0), 0.0))


def utilisation(debt_usd: Series, supply_usd: Series) -> Series:
    """Borrowed over supplied, per reserve (Aave's ``usageRatio`` before unbacked and bridge terms)."""
    d, back = _matrix(debt_usd, "utilisation", "debt_usd")
    s, _ = _matrix(supply_usd, "utilisation", "supply_usd")
    with np.errstate(divide="ignore", invalid="ignore"):
        return back(np.where(s > 0, d / s, np.nan))


def concentration(amounts: Any, top: int = 10) -> dict[str, float]:
    """Herfindahl-Hirschman index of the shares and the share of the ``top`` largest.

    Examples
    --------
    >>> concentration([50.0, 30.0, 20.0], top=1)
    {'hhi': 0.38, 'top_share': 0.5, 'n': 3}
    """
    a = np.asarray(amounts, dtype=float)
    a = a[np.isfinite(a) & (a > 0)]
    total = a.sum()
    if total <= 0:
        return {"hhi": 0.0, "top_share": 0.0, "n": 0}
    w = a / total
    return {
        "hhi": round(float((w * w).sum()), 12),
        "top_share": round(float(np.sort(w)[::-1][: check_int(top, "top", "concentration")].sum()), 12),
        "n": len(a),
    }


def reserve_coverage(reserves_usd: Series, bad_debt_usd: Series) -> Series:
    """Reserves and insurance over bad debt (inf without bad debt); below 1 the protocol is insolvent."""
    r, back = _matrix(reserves_usd, "reserve_coverage", "reserves_usd")
    b, _ = _matrix(bad_debt_usd, "reserve_coverage", "bad_debt_usd")
    with np.errstate(divide="ignore", invalid="ignore"):
        return back(np.where(b > 0, r / b, np.inf))
