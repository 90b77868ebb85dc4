"""The stablecoin deleveraging model of Klages-Mundt and Minca.

A speculator holds ``n`` units of a volatile collateral asset (ether, price ``p``) locked in a non-custodial
stablecoin protocol ("DStablecoin") and owes ``L`` stablecoins against it. Each period the collateral price moves,
the speculator chooses how many stablecoins ``Delta`` to issue (``Delta > 0``, selling them for more collateral:
leveraging up) or to buy back and retire (``Delta < 0``: deleveraging), and the stablecoin market clears against the
stablecoin holders' demand. When the speculator must deleverage, buying stablecoins back pushes their price above
the peg and the collateral drains faster than the price fall alone would: the *deleveraging spiral*.

Symbols (the paper's, with the argument names used here):

==============  ===================  ================================================================================
paper           argument             meaning
==============  ===================  ================================================================================
:math:`z_t`     ``collateral_usd``   value of the speculator's collateral after the collateral price move,
                                     :math:`n_{t-1} p_t` (USD)
:math:`L_{t-1}` ``liabilities``      stablecoins the speculator owes before deciding (token units)
:math:`\\Delta_t` ``delta``            stablecoins issued this period (negative: bought back and burned)
:math:`x_t`     ``demand_usd``       stablecoin holders' demand, USD value they want to hold; the constant-demand
                                     model of the paper's simulations has :math:`x_t = D`
:math:`y_t`     ``free_supply``      minus the supply that must be absorbed: :math:`y_t = -\\eta_{t-1}` in the
                                     constant-demand model (:math:`\\eta` the stablecoin supply)
:math:`p^s_t`   ``stable_price``     stablecoin market price, :math:`p^s_t = x_t / (\\Delta_t - y_t)`
:math:`\\beta`   ``beta``             over-collateralisation (liquidation) ratio the protocol enforces, > 1
:math:`\\bar\\lambda_t` ``lam``        the speculator's self-imposed bound on leverage
                                     :math:`\\beta L_t / (\\text{collateral value})`, in (0, 1]
:math:`r_t`     ``expected_return``  speculator's expected gross collateral return over the period
                                     (:math:`e^{\\mu_t}`)
:math:`a`       ``a``                VaR level of the risk constraint (e.g. 0.1)
:math:`\\alpha`  ``alpha``            quantile multiplier of the risk constraint (from ``a`` and the assumed tails)
:math:`b`       ``b``                cyclicality exponent: :math:`\\ln \\bar\\lambda = -\\alpha (\\sigma^2 + \\sigma_0^2)^b`
:math:`\\sigma_0` ``sigma0``          constant added to the perceived volatility
:math:`\\gamma, \\delta` ``gamma``,     learning rates of the speculator's expected log return and of its variance
                ``delta_var``        estimate (exponentially weighted)
==============  ===================  ================================================================================

Every function broadcasts over its array arguments (one element per scenario or Monte Carlo path).

References
----------
.. [1] A. Klages-Mundt and A. Minca, "(In)Stability for the Blockchain: Deleveraging Spirals and Stablecoin
   Attacks", Cryptoeconomic Systems 1(2), 2021; arXiv:1906.02152. Sections 2.2-3.3 (speculator problem,
   liquidation and VaR constraints, market clearing, limits to deleveraging), 4.1 (non-binding stability), 5
   (simulations with constant demand).
.. [2] Authors' simulator, github.com/aklamun/stablecoin_deleveraging, ``simulation_code/simple_agent_model.py``
   and ``constant_demand_simulation.py`` (commit 346d0d0), read to confirm the order of updates and the
   heavy-tail multiplier; this module is written from the formulas.
.. [3] A. Klages-Mundt and A. Minca, "While Stability Lasts: A Stochastic Model of Non-Custodial Stablecoins",
   arXiv:2004.01304 (2020/2021). Its forward-looking liquidation-cost model is *not* implemented here (see
   docs/stablecoins.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from firesale.exceptions import ParameterError

__all__ = [
    "MODE_FAILED",
    "MODE_RECOVERY",
    "MODE_RISK_BOUND",
    "MODE_UNCONSTRAINED",
    "DeleveragingPaths",
    "StepResult",
    "leverage_bound_interval",
    "min_achievable_leverage",
    "simulate_constant_demand",
    "speculator_step",
    "student_t_log_returns",
    "unconstrained_issuance",
    "var_leverage_bound",
]

#: the speculator's optimum was inside its risk constraint
MODE_UNCONSTRAINED = 0
#: the self-imposed (VaR) leverage bound bound the choice
MODE_RISK_BOUND = 1
#: the VaR bound could not be reached; only the protocol's liquidation constraint (lambda = 1) was met
MODE_RECOVERY = 2
#: not even the liquidation constraint can be met: the stablecoin fails (global settlement)
MODE_FAILED = 3


def _positive(name: str, func: str, value: object) -> None:
    arr = np.asarray(value, dtype=float)
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise ParameterError(f"The '{name}' parameter of {func} must be a float in the range (0, inf). "
                             f"Got {value!r} instead.")  # fmt: skip


def var_leverage_bound(
    sigma2: np.ndarray | float,
    a: float = 0.1,
    *,
    tails: str = "normal",
    alpha: float | None = None,
    sigma0: float = 0.0,
    b: float = 0.5,
) -> np.ndarray:
    """The speculator's self-imposed leverage bound :math:`\\bar\\lambda` from its perceived collateral variance.

    Parameters
    ----------
    sigma2 : float or ndarray of shape (n,)
        Perceived variance of the collateral's one-period log return.
    a : float
        VaR level in (0, 0.5).
    tails : {"normal", "max_heavy", "risk_neutral"}
        Return distribution the speculator assumes: normal, the heaviest-tailed finite-variance law (Chebyshev),
        or no risk constraint at all (:math:`\\bar\\lambda = 1`, only the protocol's liquidation constraint).
    alpha : float, optional
        Quantile multiplier given directly (overrides ``a`` and ``tails``).
    sigma0 : float
        Constant added to the perceived volatility.
    b : float
        Cyclicality exponent (0.5: the bound scales with the volatility).

    Returns
    -------
    ndarray of shape (n,)
        :math:`\\bar\\lambda` in (0, 1].

    Notes
    -----
    The VaR constraint asks that the position stay above the liquidation line with probability ``1 - a`` over a
    period, with zero drift assumed (the paper's choice):

    .. math:: \\ln \\bar\\lambda = -\\alpha\\,(\\sigma^2 + \\sigma_0^2)^{b}, \\qquad
              \\alpha = -\\Phi^{-1}(a) \\text{ (normal)}, \\quad \\alpha = 1/\\sqrt{2a} \\text{ (heaviest tails)}.

    Examples
    --------
    >>> round(float(var_leverage_bound(0.04, 0.1)[()]), 6)  # exp(-1.281552 * sqrt(0.04))
    0.773902
    """
    if tails not in ("normal", "max_heavy", "risk_neutral"):
        raise ParameterError(f"The 'tails' parameter of var_leverage_bound must be one of 'max_heavy', 'normal', "
                             f"'risk_neutral'. Got {tails!r} instead.")  # fmt: skip
    s2 = np.asarray(sigma2, dtype=float)
    if tails == "risk_neutral":
        return np.ones_like(s2)
    if alpha is None:
        if not 0.0 < a < 0.5:
            raise ParameterError(f"The 'a' parameter of var_leverage_bound must be a float in the range (0, 0.5). "
                                 f"Got {a!r} instead.")  # fmt: skip
        alpha = -NormalDist().inv_cdf(a) if tails == "normal" else 1.0 / np.sqrt(2.0 * a)
    return np.exp(-alpha * (s2 + sigma0**2) ** b)


def unconstrained_issuance(
    demand_usd: np.ndarray | float, free_supply: np.ndarray | float, expected_return: np.ndarray | float
) -> np.ndarray:
    """Issuance :math:`\\Delta^*` maximising the speculator's expected equity, ignoring its constraints.

    Parameters
    ----------
    demand_usd, free_supply, expected_return : float or ndarray of shape (n,)
        :math:`x_t > 0`, :math:`y_t < 0` and :math:`r_t > 0` (see the module table).

    Returns
    -------
    ndarray of shape (n,)

    Notes
    -----
    Expected next-period equity is :math:`r(z + \\Delta\\, p^s(\\Delta)) - (L + \\Delta)` with
    :math:`p^s = x/(\\Delta - y)`, concave in :math:`\\Delta > y`; its stationary point is

    .. math:: \\Delta^* = y + \\sqrt{-r\\,x\\,y}.

    With constant demand (:math:`x = D`, :math:`y = -L`) the new supply is :math:`\\sqrt{r D L}`: the fixed point
    is :math:`L = rD` with the stablecoin at :math:`1/r` (it trades below 1 USD when speculators expect the
    collateral to rise, Section 4.1 of [1]_).

    References
    ----------
    .. [1] Klages-Mundt and Minca (2021), see the module docstring.
    """
    x = np.asarray(demand_usd, dtype=float)
    y = np.asarray(free_supply, dtype=float)
    r = np.asarray(expected_return, dtype=float)
    return y + np.sqrt(np.maximum(-r * x * y, 0.0))


def leverage_bound_interval(
    collateral_usd: np.ndarray | float,
    liabilities: np.ndarray | float,
    demand_usd: np.ndarray | float,
    free_supply: np.ndarray | float,
    beta: float,
    lam: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The issuances :math:`\\Delta` that keep the leverage within ``lam``: an interval, or nothing.

    Parameters
    ----------
    collateral_usd, liabilities, demand_usd, free_supply : float or ndarray of shape (n,)
        :math:`z_t, L_{t-1}, x_t, y_t`.
    beta : float
        Liquidation ratio :math:`\\beta > 1`.
    lam : float or ndarray of shape (n,)
        Leverage bound in (0, 1]; 1 is the protocol's own liquidation constraint.

    Returns
    -------
    lo, hi : ndarray of shape (n,)
        Bounds of the feasible interval (NaN where there is none).
    feasible : ndarray of bool, shape (n,)

    Notes
    -----
    The constraint :math:`\\beta (L + \\Delta) \\le \\lambda (z + \\Delta\\, x/(\\Delta - y))`, multiplied by
    :math:`\\Delta - y > 0`, is the quadratic

    .. math:: -\\beta \\Delta^2 + [\\lambda (z + x) - \\beta (L - y)]\\,\\Delta + (\\beta L y - \\lambda z y) \\ge 0,

    which holds between its roots. Roots are kept only where :math:`\\Delta > y` (a finite stablecoin price) and
    :math:`L + \\Delta \\ge 0` (the speculator cannot owe a negative amount).
    """
    z = np.asarray(collateral_usd, dtype=float)
    L = np.asarray(liabilities, dtype=float)
    x = np.asarray(demand_usd, dtype=float)
    y = np.asarray(free_supply, dtype=float)
    lam = np.asarray(lam, dtype=float)
    qa = -beta
    qb = lam * (z + x) - beta * (L - y)
    qc = beta * L * y - lam * z * y
    disc = qb * qb - 4.0 * qa * qc
    root = np.sqrt(np.maximum(disc, 0.0))
    lo = (-qb + root) / (2.0 * qa)  # qa < 0: this is the smaller root
    hi = (-qb - root) / (2.0 * qa)
    floor = np.maximum(y, -L)
    lo = np.maximum(lo, floor)
    feasible = (disc >= 0.0) & (hi > floor)
    nan = np.full(np.broadcast(lo, hi).shape, np.nan)
    return np.where(feasible, lo, nan), np.where(feasible, hi, nan), feasible


def min_achievable_leverage(
    collateral_usd: np.ndarray | float,
    liabilities: np.ndarray | float,
    demand_usd: np.ndarray | float,
    beta: float,
) -> np.ndarray:
    """The lowest leverage a speculator can reach by buying back stablecoins, in the constant-demand market.

    Parameters
    ----------
    collateral_usd, liabilities, demand_usd : float or ndarray of shape (n,)
        :math:`z_t`, :math:`L_{t-1}` (equal to the supply :math:`\\eta_{t-1}`) and :math:`D`.
    beta : float

    Returns
    -------
    ndarray of shape (n,)
        :math:`\\lambda_{\\min}`; a leverage bound below it cannot be met by any issuance.

    Notes
    -----
    Buying stablecoins back raises their price (:math:`p^s = D/(L + \\Delta)`), so each unit retired costs more
    collateral; the leverage :math:`\\beta s^2 / ((z + D) s - D L)` over the remaining supply
    :math:`s = L + \\Delta` is smallest at :math:`s = 2DL/(z + D)`, where

    .. math:: \\lambda_{\\min} = \\frac{4 \\beta D L}{(z + D)^2}.

    This is the paper's limit to the speculator's ability to decrease leverage (Section 3.3 of [1]_): a fall in
    :math:`z` raises the floor on leverage, so a large enough collateral shock leaves the VaR bound unreachable.

    References
    ----------
    .. [1] Klages-Mundt and Minca (2021), see the module docstring.
    """
    z = np.asarray(collateral_usd, dtype=float)
    L = np.asarray(liabilities, dtype=float)
    D = np.asarray(demand_usd, dtype=float)
    return 4.0 * beta * D * L / (z + D) ** 2


@dataclass(frozen=True)
class StepResult:
    """One period of the speculator's decision and the market clearing, per scenario (arrays of shape (n,))."""

    delta: np.ndarray  #: stablecoins issued (negative: bought back)
    stable_price: np.ndarray  #: clearing price p^s_t (NaN where the stablecoin failed)
    supply: np.ndarray  #: stablecoin supply after the period
    collateral_usd: np.ndarray  #: collateral value after the trade, z_t + Delta p^s_t
    mode: np.ndarray  #: MODE_UNCONSTRAINED, MODE_RISK_BOUND, MODE_RECOVERY or MODE_FAILED

    @property
    def leverage(self) -> np.ndarray:
        """:math:`\\beta`-free leverage, liabilities over collateral value."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.supply / self.collateral_usd


def speculator_step(
    collateral_usd: np.ndarray | float,
    liabilities: np.ndarray | float,
    demand_usd: np.ndarray | float,
    free_supply: np.ndarray | float,
    *,
    beta: float,
    lam: np.ndarray | float,
    expected_return: np.ndarray | float,
) -> StepResult:
    """The speculator's issuance decision and the stablecoin market clearing for one period.

    Parameters
    ----------
    collateral_usd, liabilities, demand_usd, free_supply : float or ndarray of shape (n,)
        :math:`z_t, L_{t-1}, x_t, y_t` (see the module table); :math:`-y_t` is the supply to absorb.
    beta : float
        Liquidation ratio, > 1.
    lam : float or ndarray of shape (n,)
        The speculator's leverage bound :math:`\\bar\\lambda_t` in (0, 1] (:func:`var_leverage_bound`).
    expected_return : float or ndarray of shape (n,)
        :math:`r_t`, expected gross return of the collateral.

    Returns
    -------
    StepResult

    Notes
    -----
    The expected equity is concave in :math:`\\Delta`, so the constrained optimum is the unconstrained one
    (:func:`unconstrained_issuance`) clipped into the interval of :func:`leverage_bound_interval` at
    :math:`\\bar\\lambda_t`. If that interval is empty the speculator is in *recovery mode* and only the protocol's
    liquidation constraint (:math:`\\lambda = 1`) is imposed; if that too is empty the stablecoin fails. The market
    clears at :math:`p^s_t = x_t/(\\Delta_t - y_t)` (Section 2.3 of [1]_). A binding bound with
    :math:`\\Delta_t < 0` is deleveraging: the buy-back lifts :math:`p^s_t` above its previous level.

    References
    ----------
    .. [1] Klages-Mundt and Minca (2021), see the module docstring.

    Examples
    --------
    No shock, no expected return, supply equal to demand: nothing changes and the peg holds.

    >>> s = speculator_step(300.0, 100.0, 100.0, -100.0, beta=1.5, lam=0.9, expected_return=1.0)
    >>> float(s.delta[()]), float(s.stable_price[()])
    (0.0, 1.0)
    """
    if not (np.isfinite(beta) and beta > 1.0):
        raise ParameterError(f"The 'beta' parameter of speculator_step must be a float in the range (1, inf). "
                             f"Got {beta!r} instead.")  # fmt: skip
    lam_arr = np.asarray(lam, dtype=float)
    if not (np.isfinite(lam_arr).all() and (lam_arr > 0).all() and (lam_arr <= 1).all()):
        raise ParameterError(f"The 'lam' parameter of speculator_step must be a float in the range (0, 1]. "
                             f"Got {lam!r} instead.")  # fmt: skip
    _positive("demand_usd", "speculator_step", demand_usd)
    _positive("expected_return", "speculator_step", expected_return)
    z, L, x, y, r = np.broadcast_arrays(
        *(
            np.asarray(v, dtype=float)
            for v in (collateral_usd, liabilities, demand_usd, free_supply, expected_return)
        )
    )
    lo, hi, ok = leverage_bound_interval(z, L, x, y, beta, lam_arr)
    lo1, hi1, ok1 = leverage_bound_interval(z, L, x, y, beta, 1.0)
    lo = np.where(ok, lo, lo1)
    hi = np.where(ok, hi, hi1)
    star = unconstrained_issuance(x, y, r)
    delta = np.clip(star, lo, hi)
    mode = np.where(
        ok, np.where((star >= lo) & (star <= hi), MODE_UNCONSTRAINED, MODE_RISK_BOUND), MODE_RECOVERY
    )
    mode = np.where(ok | ok1, mode, MODE_FAILED)
    failed = mode == MODE_FAILED
    delta = np.where(failed, np.nan, delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        price = x / (delta - y)
    return StepResult(
        delta=delta, stable_price=price, supply=-y + delta, collateral_usd=z + delta * price,
        mode=mode.astype(np.int8),
    )  # fmt: skip


@dataclass(frozen=True)
class DeleveragingPaths:
    """Monte Carlo paths of the constant-demand model, arrays of shape (n_paths, n_steps + 1).

    After a path fails (or reaches global settlement) its values stay at their last level and ``alive`` is False.
    """

    collateral_price: np.ndarray  #: collateral (ether) price p_t
    stable_price: np.ndarray  #: stablecoin price p^s_t
    supply: np.ndarray  #: stablecoin supply eta_t (= speculator liabilities L_t)
    collateral_amount: np.ndarray  #: collateral units n_t the speculator holds
    mode: np.ndarray  #: int8 modes (MODE_*), -1 before the first decision and after the path stops
    alive: np.ndarray  #: bool, path still running

    @property
    def collateral_ratio(self) -> np.ndarray:
        """Collateral value over stablecoin supply, shape (n_paths, n_steps + 1)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.collateral_amount * self.collateral_price / self.supply

    @property
    def stopping_step(self) -> np.ndarray:
        """Last step each path ran, shape (n_paths,); ``n_steps`` for paths that never stopped."""
        return self.alive.sum(axis=1) - 1


def student_t_log_returns(
    n_paths: int, n_steps: int, *, vol: float = 0.027925, df: float = 3.0, drift: float = 0.0, seed: int = 0
) -> np.ndarray:
    """Collateral log returns as in the paper's simulations: Student-t scaled to a given standard deviation.

    Parameters
    ----------
    n_paths, n_steps : int
    vol : float
        Standard deviation of the one-period log return (the paper: 0.027925, daily ether 2017-2018).
    df : float
        Degrees of freedom, > 2 (the paper: 3).
    drift : float
        Mean log return per period.
    seed : int

    Returns
    -------
    ndarray of shape (n_paths, n_steps)
        :math:`\\mu + \\sigma \\sqrt{(\\nu - 2)/\\nu}\\, T_\\nu`.
    """
    if not df > 2.0:
        raise ParameterError(f"The 'df' parameter of student_t_log_returns must be a float in the range (2, inf). "
                             f"Got {df!r} instead.")  # fmt: skip
    rng = np.random.default_rng(seed)
    return drift + vol * np.sqrt((df - 2.0) / df) * rng.standard_t(df, (n_paths, n_steps))


def simulate_constant_demand(
    log_returns: np.ndarray,
    *,
    demand_usd: float = 100.0,
    collateral_amount: float = 400.0,
    beta: float = 1.5,
    a: float = 0.1,
    tails: str = "normal",
    sigma0: float = 0.0,
    b: float = 0.5,
    initial_variance: float = 0.027925**2,
    expected_log_return: float | None = None,
    gamma: float = 0.1,
    delta_var: float = 0.1,
    settlement_price: float = 0.5,
) -> DeleveragingPaths:
    """Run the constant-demand model of Section 5 of [1]_ over given collateral log returns.

    Parameters
    ----------
    log_returns : ndarray of shape (n_paths, n_steps)
        Collateral log returns per period (the paper draws them from a Student-t law scaled to the daily ether
        volatility; any shock path works, e.g. one -50% day for Black Thursday).
    demand_usd : float
        Constant stablecoin demand :math:`D` (USD); the supply starts at :math:`D` with the price at 1.
    collateral_amount : float
        Collateral units :math:`n_0` the speculator starts with (price 1).
    beta, a, tails, sigma0, b
        Liquidation ratio and risk-constraint settings (:func:`var_leverage_bound`).
    initial_variance : float
        Speculator's starting variance estimate of the log return.
    expected_log_return : float, optional
        Fixed expected log return :math:`\\mu` (so :math:`r = e^\\mu`); None lets the speculator learn it as an
        exponentially weighted mean of realised log returns with rate ``gamma``.
    gamma, delta_var : float
        Learning rates in (0, 1] of the expected log return and of the variance estimate.
    settlement_price : float
        The run of a path stops (global settlement) when the stablecoin trades below this two periods running,
        as in the paper's simulations.

    Returns
    -------
    DeleveragingPaths

    Notes
    -----
    Each period: the collateral price moves; the speculator updates its variance estimate
    :math:`\\hat\\sigma^2 \\leftarrow \\delta (\\ell - \\hat m)^2 + (1 - \\delta)\\hat\\sigma^2` around the running
    mean :math:`\\hat m \\leftarrow \\delta \\ell + (1 - \\delta) \\hat m` of the log return :math:`\\ell` (and its
    expected return with rate :math:`\\gamma` when learnt); sets :math:`\\bar\\lambda`; chooses
    :math:`\\Delta_t` by :func:`speculator_step` with :math:`x_t = D`, :math:`y_t = -\\eta_{t-1}`; the stablecoin
    clears at :math:`D/\\eta_t` and the speculator's collateral grows by :math:`\\Delta_t p^s_t / p_t` units.
    All paths advance together (vectorised over the path axis).

    References
    ----------
    .. [1] Klages-Mundt and Minca (2021), see the module docstring.
    """
    lr = np.asarray(log_returns, dtype=float)
    if lr.ndim != 2 or not np.isfinite(lr).all():
        raise ParameterError(f"The 'log_returns' parameter of simulate_constant_demand must be a finite array of "
                             f"shape (n_paths, n_steps). Got shape {lr.shape} instead.")  # fmt: skip
    for name, value in (("demand_usd", demand_usd), ("collateral_amount", collateral_amount),
                        ("initial_variance", initial_variance), ("settlement_price", settlement_price)):  # fmt: skip
        _positive(name, "simulate_constant_demand", value)
    for name, value in (("gamma", gamma), ("delta_var", delta_var)):
        if not 0.0 < value <= 1.0:
            raise ParameterError(f"The '{name}' parameter of simulate_constant_demand must be a float in the range "
                                 f"(0, 1]. Got {value!r} instead.")  # fmt: skip
    n_paths, n_steps = lr.shape
    shape = (n_paths, n_steps + 1)
    p = np.ones(shape)
    ps = np.ones(shape)
    eta = np.full(shape, float(demand_usd))
    n = np.full(shape, float(collateral_amount))
    mode = np.full(shape, -1, dtype=np.int8)
    alive = np.ones(shape, dtype=bool)
    mu = np.zeros(n_paths) if expected_log_return is None else np.full(n_paths, float(expected_log_return))
    m = np.zeros(n_paths)
    var = np.full(n_paths, float(initial_variance))
    run = np.ones(n_paths, dtype=bool)
    for t in range(n_steps):
        ell = lr[:, t]
        p_now = p[:, t] * np.exp(ell)
        m = delta_var * ell + (1.0 - delta_var) * m
        var = delta_var * (ell - m) ** 2 + (1.0 - delta_var) * var
        if expected_log_return is None:
            mu = (1.0 - gamma) * mu + gamma * ell
        lam = var_leverage_bound(var, a, tails=tails, sigma0=sigma0, b=b)
        step = speculator_step(
            n[:, t] * p_now, eta[:, t], demand_usd, -eta[:, t], beta=beta, lam=lam, expected_return=np.exp(mu)
        )
        ok = run & (step.mode != MODE_FAILED)
        p[:, t + 1] = np.where(run, p_now, p[:, t])
        ps[:, t + 1] = np.where(ok, step.stable_price, ps[:, t])
        eta[:, t + 1] = np.where(ok, step.supply, eta[:, t])
        n[:, t + 1] = np.where(
            ok, n[:, t] + np.where(ok, step.delta * step.stable_price, 0.0) / p_now, n[:, t]
        )
        mode[:, t + 1] = np.where(run, step.mode, -1)
        settle = (ps[:, t + 1] < settlement_price) & (ps[:, t] < settlement_price)
        run = ok & ~settle
        alive[:, t + 1] = run
    return DeleveragingPaths(p, ps, eta, n, mode, alive)
