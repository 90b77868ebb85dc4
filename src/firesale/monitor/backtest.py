"""Model-failure backtests: do a margin model's VaR forecasts fail as often, and as independently, as assumed?

Four one-step VaR models, each forecasting the loss of step t from returns up to t - 1 only:

* ``normal``: rolling mean and standard deviation over ``window`` returns;
* ``student-t``: rolling mean and variance, degrees of freedom from the rolling excess kurtosis
  (:math:`\\nu = 4 + 6 / \\kappa`, the method of moments; normal when :math:`\\kappa \\le 0`);
* ``garch-t``: GARCH(1, 1) with standardised Student-t innovations fitted by ``arch`` on the returns before each
  refit (expanding window, refitted every ``refit_every`` steps) and filtered forward with those parameters;
* ``historical``: the empirical quantile of the last ``window`` returns.

A *hit* is a step whose loss exceeds its VaR. Kupiec's proportion-of-failures test asks whether the hit rate is the
assumed :math:`1 - \\ell`; Christoffersen's independence test whether a hit makes the next more likely; the
conditional-coverage test is both at once.

References
----------
Kupiec, P. (1995), Techniques for verifying the accuracy of risk measurement models, J. Derivatives 3(2).
Christoffersen, P. (1998), Evaluating interval forecasts, International Economic Review 39(4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from firesale.monitor._checks import check_float, check_int, fail
from firesale.monitor.indicators import garch_filter, log_returns

__all__ = [
    "MODELS",
    "BacktestResult",
    "backtest_var",
    "christoffersen_independence",
    "conditional_coverage",
    "correlation_table",
    "kupiec_pof",
    "var_forecast",
]

MODELS = ("normal", "student-t", "garch-t", "historical")


def _hits(hits: Sequence[bool] | np.ndarray, owner: str) -> np.ndarray:
    h = np.asarray(hits)
    if h.ndim != 1 or len(h) < 2 or not np.isin(h, [0, 1]).all():
        raise fail("hits", owner, "a 1-D sequence of at least two 0/1 values", f"<{h.shape} {h.dtype}>")
    return h.astype(bool)


def kupiec_pof(hits: Sequence[bool] | np.ndarray, level: float) -> dict[str, float]:
    """Kupiec's proportion-of-failures likelihood ratio.

    Parameters
    ----------
    hits : sequence of bool of length n
    level : float
        VaR confidence :math:`\\ell`; the assumed hit probability is :math:`p = 1 - \\ell`.

    Returns
    -------
    dict
        ``n``, ``hits`` (x), ``rate`` (x / n), ``lr`` and ``pvalue`` (chi-square, 1 degree of freedom).

    Notes
    -----
    .. math::

        LR_{POF} = -2 \\ln \\frac{(1 - p)^{n - x} p^x}{(1 - x/n)^{n - x} (x / n)^x}

    with :math:`0 \\ln 0 = 0`.
    """
    h = _hits(hits, "kupiec_pof")
    p = 1.0 - check_float(level, "level", "kupiec_pof", 0.0, 1.0, lo_open=True, hi_open=True)
    n, x = len(h), int(h.sum())
    phat = x / n
    ll0 = special.xlogy(n - x, 1 - p) + special.xlogy(x, p)
    ll1 = special.xlogy(n - x, 1 - phat) + special.xlogy(x, phat)
    lr = max(float(-2 * (ll0 - ll1)), 0.0)
    return {"n": n, "hits": x, "rate": phat, "lr": lr, "pvalue": float(stats.chi2.sf(lr, 1))}


def christoffersen_independence(hits: Sequence[bool] | np.ndarray) -> dict[str, float]:
    """Christoffersen's likelihood ratio of independence (first-order Markov alternative).

    Returns
    -------
    dict
        Transition counts ``n00``, ``n01``, ``n10``, ``n11`` (from state i to j over consecutive steps), ``pi0``
        :math:`= n_{01}/(n_{00}+n_{01})`, ``pi1`` :math:`= n_{11}/(n_{10}+n_{11})`, ``lr`` and ``pvalue``
        (chi-square, 1 degree of freedom).

    Notes
    -----
    .. math::

        LR_{ind} = -2 \\ln \\frac{(1-\\pi)^{n_{00}+n_{10}} \\pi^{n_{01}+n_{11}}}
        {(1-\\pi_0)^{n_{00}} \\pi_0^{n_{01}} (1-\\pi_1)^{n_{10}} \\pi_1^{n_{11}}},
        \\quad \\pi = \\frac{n_{01}+n_{11}}{n_{00}+n_{01}+n_{10}+n_{11}}
    """
    h = _hits(hits, "christoffersen_independence").astype(int)
    a, b = h[:-1], h[1:]
    n00, n01 = int(((a == 0) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    n10, n11 = int(((a == 1) & (b == 0)).sum()), int(((a == 1) & (b == 1)).sum())
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    ll0 = special.xlogy(n00 + n10, 1 - pi) + special.xlogy(n01 + n11, pi)
    ll1 = (
        special.xlogy(n00, 1 - pi0)
        + special.xlogy(n01, pi0)
        + special.xlogy(n10, 1 - pi1)
        + special.xlogy(n11, pi1)
    )
    lr = max(float(-2 * (ll0 - ll1)), 0.0)
    return {
        "n00": n00, "n01": n01, "n10": n10, "n11": n11, "pi0": pi0, "pi1": pi1,
        "lr": lr, "pvalue": float(stats.chi2.sf(lr, 1)),
    }  # fmt: skip


def conditional_coverage(hits: Sequence[bool] | np.ndarray, level: float) -> dict[str, float]:
    """Christoffersen's conditional coverage: :math:`LR_{cc} = LR_{POF} + LR_{ind}`, chi-square with 2 d.o.f."""
    lr = kupiec_pof(hits, level)["lr"] + christoffersen_independence(hits)["lr"]
    return {"lr": lr, "pvalue": float(stats.chi2.sf(lr, 2))}


def _garch_t(r: np.ndarray, level: float, window: int, refit_every: int) -> np.ndarray:
    from arch import arch_model

    var = np.full(len(r), np.nan)
    finite = np.isfinite(r)
    for k in range(window + 1, len(r), refit_every):
        train = r[:k][finite[:k]]
        res = arch_model(100 * train, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(
            disp="off", show_warning=False
        )
        om, al, be, nu = (float(res.params[n]) for n in ("omega", "alpha[1]", "beta[1]", "nu"))
        end = min(k + refit_every, len(r))
        s2 = garch_filter(r[:end], om / 1e4, al, be, float(np.var(train)))
        # s2[t - 1] is the variance of return t given returns up to t - 1.
        q = stats.t.ppf(1 - level, nu) * np.sqrt((nu - 2) / nu)
        var[k:end] = -q * np.sqrt(s2[k - 1 : end - 1])
    return var


def var_forecast(
    returns: pd.Series, model: str, level: float = 0.99, window: int = 250, refit_every: int = 20
) -> pd.Series:
    """One-step VaR (a positive loss) of each step from returns strictly before it.

    Parameters
    ----------
    returns : pandas.Series
        Log returns indexed by time (NaN allowed; such steps get no forecast).
    model : {"normal", "student-t", "garch-t", "historical"}
    level : float, default 0.99
    window : int, default 250
        Estimation window (the first window for ``garch-t``, which then expands).
    refit_every : int, default 20
        Steps between GARCH refits (``garch-t`` only).

    Returns
    -------
    pandas.Series
        VaR at each time; NaN until ``window`` returns are available.
    """
    owner = "var_forecast"
    if model not in MODELS:
        raise fail("model", owner, f"one of {list(MODELS)}", model)
    lvl = check_float(level, "level", owner, 0.5, 1.0, lo_open=True, hi_open=True)
    window = check_int(window, "window", owner, 20)
    refit_every = check_int(refit_every, "refit_every", owner, 1)
    if not isinstance(returns, pd.Series):
        raise fail("returns", owner, "a pandas Series", f"<{type(returns).__name__}>")
    past = returns.shift(1).rolling(window, min_periods=window)
    if model == "normal":
        v = -(past.mean() + past.std() * stats.norm.ppf(1 - lvl))
    elif model == "historical":
        v = -past.quantile(1 - lvl)
    elif model == "student-t":
        mu, sd, kurt = past.mean(), past.std(), past.kurt()
        nu = np.where(kurt > 0, 4.0 + 6.0 / kurt.where(kurt > 0, 1.0), np.inf)
        q = np.where(
            np.isfinite(nu),
            stats.t.ppf(1 - lvl, np.where(np.isfinite(nu), nu, 30.0)),
            stats.norm.ppf(1 - lvl),
        )
        scale = np.where(np.isfinite(nu), np.sqrt((nu - 2) / np.where(np.isfinite(nu), nu, 1.0)), 1.0)
        v = -(mu + sd * scale * q)
    else:
        v = pd.Series(_garch_t(returns.to_numpy(dtype=float), lvl, window, refit_every), index=returns.index)
    return pd.Series(np.asarray(v, dtype=float), index=returns.index, name=f"var_{model}")


@dataclass
class BacktestResult:
    """VaR backtests of several models on several assets.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (asset, model): ``n``, ``hits``, ``expected`` hits, ``rate``, ``kupiec_lr``, ``kupiec_p``,
        ``ind_lr``, ``ind_p``, ``cc_lr``, ``cc_p``, ``var_mean`` (assumed tail loss), ``loss_on_hits_mean``
        (realised tail loss), ``worst_ratio`` (worst loss over its VaR), ``worst_at``, ``hit_months`` (the months
        with the most hits).
    hits : pandas.DataFrame
        Hit indicator per step, columns (asset, model).
    level : float
    """

    table: pd.DataFrame
    hits: pd.DataFrame
    level: float
    alpha: float = 0.05

    def summary(self) -> list[str]:
        """Which assumptions failed and when, one sentence per (asset, model)."""
        lines = []
        for (asset, model), row in self.table.iterrows():
            verdict = []
            if row["kupiec_p"] < self.alpha:
                more = "more" if row["rate"] > 1 - self.level else "fewer"
                verdict.append(
                    f"Kupiec rejects its coverage (p = {row['kupiec_p']:.2g}; {more} hits than assumed)"
                )
            if row["ind_p"] < self.alpha:
                verdict.append(f"hits cluster (Christoffersen independence p = {row['ind_p']:.2g})")
            if not verdict and row["cc_p"] < self.alpha:
                verdict.append(f"conditional coverage rejects jointly (p = {row['cc_p']:.2g})")
            if not verdict:
                verdict.append(
                    f"coverage and independence hold at {self.alpha:.0%} (cc p = {row['cc_p']:.2g})"
                )
            lines.append(
                f"{asset}, {model} VaR {self.level:.0%}: {int(row['hits'])} hits in {int(row['n'])} steps "
                f"({row['rate']:.2%} vs {1 - self.level:.2%} assumed); "
                + "; ".join(verdict)
                + f". Mean loss on a hit {row['loss_on_hits_mean']:.2%} against a mean VaR of {row['var_mean']:.2%}; "
                f"the worst, at {row['worst_at']}, lost {row['worst_ratio']:.2f}x its VaR; most hits in "
                f"{row['hit_months']}."
            )
        return lines


def backtest_var(
    prices: pd.DataFrame,
    models: Sequence[str] = MODELS,
    level: float = 0.99,
    window: int = 250,
    refit_every: int = 20,
) -> BacktestResult:
    """Backtest each VaR model on each asset's one-step log returns.

    Parameters
    ----------
    prices : pandas.DataFrame
        One column per asset, indexed by time (e.g. :func:`firesale.data.load_prices`).
    models : sequence of str, default all of :data:`MODELS`
    level, window, refit_every
        As :func:`var_forecast`.

    Returns
    -------
    BacktestResult
    """
    owner = "backtest_var"
    if not isinstance(prices, pd.DataFrame) or prices.shape[1] == 0:
        raise fail(
            "prices", owner, "a pandas DataFrame with one column per asset", f"<{type(prices).__name__}>"
        )
    for m in models:
        if m not in MODELS:
            raise fail("models", owner, f"a sequence of {list(MODELS)}", m)
    rows, hit_cols = [], {}
    for asset in prices.columns:
        r = log_returns(prices[asset].dropna())
        for model in models:
            v = var_forecast(r, model, level, window, refit_every)
            ok = r.notna() & v.notna()
            loss, var = -r[ok], v[ok]
            if len(loss) < 2:
                raise fail(
                    "prices", owner, f"long enough for a {window}-step window", f"<{asset}: {len(r)} returns>"
                )
            hit = (loss > var).to_numpy()
            hit_cols[(asset, model)] = pd.Series(hit, index=loss.index)
            pof, ind = kupiec_pof(hit, level), christoffersen_independence(hit)
            cc = conditional_coverage(hit, level)
            ratio = loss / var
            months = pd.Series(hit, index=loss.index).resample("MS").sum()
            top = months[months > 0].sort_values(ascending=False).head(3)
            rows.append({
                "asset": asset, "model": model, "n": pof["n"], "hits": pof["hits"],
                "expected": pof["n"] * (1 - level), "rate": pof["rate"],
                "kupiec_lr": pof["lr"], "kupiec_p": pof["pvalue"], "ind_lr": ind["lr"], "ind_p": ind["pvalue"],
                "cc_lr": cc["lr"], "cc_p": cc["pvalue"], "var_mean": float(var.mean()),
                "loss_on_hits_mean": float(loss[hit].mean()) if hit.any() else float("nan"),
                "worst_ratio": float(ratio.max()), "worst_at": str(ratio.idxmax())[:16],
                "hit_months": ", ".join(f"{t:%Y-%m} ({int(k)})" for t, k in top.items()) or "none",
            })  # fmt: skip
    table = pd.DataFrame(rows).set_index(["asset", "model"])
    return BacktestResult(table, pd.DataFrame(hit_cols), float(level))


def correlation_table(prices: pd.DataFrame, tail: float = 0.05) -> pd.DataFrame:
    """Assumed (whole-sample) against realised-in-the-tail correlation of each pair of assets' log returns.

    Parameters
    ----------
    prices : pandas.DataFrame
    tail : float, default 0.05
        The tail: steps where the pair's equally weighted return is in its worst ``tail`` share.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``assumed`` (all steps), ``in_tail`` (worst steps), ``n_tail``.

    Notes
    -----
    Selecting high-volatility steps biases a correlation upwards even when the dependence does not change (Forbes
    and Rigobon, 2002, J. Finance 57(5)): part of a rise from ``assumed`` to ``in_tail`` is that bias, so the table
    says how correlated collateral was when it mattered, not that the dependence itself changed.
    """
    q = check_float(tail, "tail", "correlation_table", 0.0, 0.5, lo_open=True)
    r = log_returns(prices)
    rows = []
    cols = list(prices.columns)
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            pair = r[[a, b]].dropna()
            if len(pair) < 30:
                continue
            basket = pair.mean(axis=1)
            worst = pair[basket <= basket.quantile(q)]
            rows.append({
                "pair": f"{a}-{b}", "assumed": float(pair[a].corr(pair[b])),
                "in_tail": float(worst[a].corr(worst[b])), "n_tail": len(worst),
            })  # fmt: skip
    return pd.DataFrame(rows)
