"""Network measures on simulated loss states: each path's bad debt per protocol as the shock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from firesale.contagion._checks import liability_matrix, nonnegative, positive
from firesale.contagion._debtrank import debtrank
from firesale.contagion._eisenberg_noe import eisenberg_noe
from firesale.exceptions import ParameterError

__all__ = ["clearing_on_paths", "debtrank_on_paths", "path_losses"]


def path_losses(metrics: pd.DataFrame, protocols: Sequence[str], *, func: str = "path_losses") -> np.ndarray:
    """Per-path bad debt of each protocol, from ``bad_debt_usd_<protocol>`` columns.

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per path, as ``firesale.simulate(...).metrics``.
    protocols : sequence of str
        Protocol names, in the order of the liability matrix. Named explicitly because column names cannot tell
        a protocol from a protocol's asset (``bad_debt_usd_aave_WETH``).

    Returns
    -------
    ndarray of shape (n_paths, n_protocols)
        Bad debt in USD (finite, >= 0).

    Examples
    --------
    >>> import pandas as pd
    >>> path_losses(pd.DataFrame({"bad_debt_usd_a": [0.0, 5.0]}), ["a"]).tolist()
    [[0.0], [5.0]]
    """
    if not isinstance(metrics, pd.DataFrame):
        raise ParameterError(
            f"The 'metrics' parameter of {func} must be a pandas DataFrame (SimulationResult.metrics). "
            f"Got {type(metrics).__name__} instead."
        )
    names = list(protocols)
    if not names or len(set(names)) != len(names):
        raise ParameterError(
            f"The 'protocols' parameter of {func} must be a non-empty sequence of distinct names. Got {names!r} instead."
        )
    cols = [f"bad_debt_usd_{p}" for p in names]
    missing = [c for c in cols if c not in metrics.columns]
    if missing:
        have = sorted(c for c in metrics.columns if str(c).startswith("bad_debt_usd_"))
        raise ParameterError(
            f"The 'metrics' parameter of {func} must have a column per protocol; missing {missing} "
            f"(bad-debt columns present: {have}). Got {len(metrics.columns)} columns instead."
        )
    loss = metrics[cols].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(loss) | (loss < 0)
    if bad.any():
        r, c = (int(k[0]) for k in np.nonzero(bad))
        raise ParameterError(
            f"The 'metrics' parameter of {func} must hold finite bad debt >= 0. Got {float(loss[r, c])!r} in {cols[c]} "
            f"at row {r} instead."
        )
    return loss


def debtrank_on_paths(
    metrics: pd.DataFrame,
    liabilities: Any,
    equity_usd: Any,
    *,
    protocols: Sequence[str],
    method: Literal["linear", "original"] = "linear",
    weights: Any = None,
) -> pd.DataFrame:
    """DebtRank of each simulated path, with its bad debt over equity as the shock.

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per path with ``bad_debt_usd_<protocol>`` columns (``firesale.simulate(...).metrics``).
    liabilities : array_like of shape (n, n)
        ``liabilities[j, i]``: what protocol ``j`` owes protocol ``i``, e.g. from
        :func:`protocol_liability_matrix` (a DataFrame works).
    equity_usd : array_like of shape (n,)
        Loss-absorbing capital of each protocol (reserves, insurance, treasury), > 0.
    protocols : sequence of str
        Names in the order of ``liabilities``.
    method, weights
        As in :func:`debtrank`.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``metrics``: ``h_initial_<p>`` (bad debt over equity, capped at 1), ``h_<p>`` (after
        propagation), ``defaulted_<p>`` (equity wiped out), ``debtrank`` (R, the loss the network adds),
        ``relative_equity_loss`` (H) and ``equity_loss_usd`` (:math:`\\sum_i h_i E_i`).

    Notes
    -----
    The shock :math:`h_i(1) = \\min(1, \\ell_i / E_i)` with :math:`\\ell_i` the path's bad debt of protocol
    ``i`` reads the bad debt as a loss to the protocol's own capital first; the engine has already routed
    price contagion (fire sales, oracles, derived prices), so what DebtRank adds is balance-sheet contagion
    through claims that the engine does not model. All paths run in one vectorized propagation.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"bad_debt_usd_a": [0.0, 50.0], "bad_debt_usd_b": [0.0, 0.0]})
    >>> out = debtrank_on_paths(m, [[0.0, 40.0], [0.0, 0.0]], [100.0, 80.0], protocols=["a", "b"])
    >>> out["h_b"].tolist()
    [0.0, 0.25]
    """
    func = "debtrank_on_paths"
    names = list(protocols)
    loss = path_losses(metrics, names, func=func)
    L = liability_matrix(liabilities, func)
    if L.shape[0] != len(names):
        raise ParameterError(
            f"The 'liabilities' parameter of {func} must be of shape ({len(names)}, {len(names)}) to match "
            f"'protocols'. Got shape {L.shape} instead."
        )
    E = positive(equity_usd, func, "equity_usd", len(names))
    res = debtrank(L, E, np.minimum(1.0, loss / E), method=method, weights=weights)
    out: dict[str, Any] = {}
    for k, p in enumerate(names):
        out[f"h_initial_{p}"] = res.h_initial[:, k]
    for k, p in enumerate(names):
        out[f"h_{p}"] = res.h[:, k]
    for k, p in enumerate(names):
        out[f"defaulted_{p}"] = res.defaulted[:, k]
    out["debtrank"] = res.debtrank
    out["relative_equity_loss"] = res.relative_equity_loss
    out["equity_loss_usd"] = res.h @ E
    return pd.DataFrame(out, index=metrics.index)


def clearing_on_paths(
    metrics: pd.DataFrame,
    liabilities: Any,
    equity_usd: Any,
    external_liabilities_usd: Any,
    *,
    protocols: Sequence[str],
) -> pd.DataFrame:
    """Eisenberg-Noe clearing of each simulated path, its bad debt taken off the protocols' outside assets.

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per path with ``bad_debt_usd_<protocol>`` columns (``firesale.simulate(...).metrics``).
    liabilities : array_like of shape (n, n)
        ``liabilities[i, j]``: what protocol ``i`` owes protocol ``j`` (:func:`protocol_liability_matrix`).
    equity_usd : array_like of shape (n,)
        Each protocol's equity (reserves) before losses, >= 0.
    external_liabilities_usd : array_like of shape (n,)
        What each protocol owes outside the network (its other depositors and token holders), ranked pari passu
        with what it owes other protocols.
    protocols : sequence of str
        Names in the order of ``liabilities``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``metrics``: ``payment_usd_<p>``, ``shortfall_usd_<p>`` (unpaid obligations),
        ``equity_usd_<p>``, ``default_round_<p>`` (0 solvent, 1 fundamental, 2+ contagious), and totals
        ``n_defaults`` and ``shortfall_usd``.

    Notes
    -----
    Each protocol's balance sheet before losses is closed by its outside assets,
    :math:`e^0_i = E_i + \\bar p_i - \\sum_j L_{ji}` with :math:`\\bar p_i = \\sum_j L_{ij} + b_i`; a path's bad
    debt :math:`\\ell_i` removes outside assets, :math:`e_i = \\max(0, e^0_i - \\ell_i)`, and
    :func:`eisenberg_noe` clears the network on every path at once.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"bad_debt_usd_a": [0.0, 130.0], "bad_debt_usd_b": [0.0, 0.0]})
    >>> out = clearing_on_paths(m, [[0.0, 40.0], [0.0, 0.0]], [100.0, 10.0], [60.0, 500.0], protocols=["a", "b"])
    >>> out["payment_usd_a"].tolist(), out["default_round_b"].tolist()
    ([100.0, 70.0], [0, 2])
    """
    func = "clearing_on_paths"
    names = list(protocols)
    loss = path_losses(metrics, names, func=func)
    L = liability_matrix(liabilities, func)
    n = len(names)
    if L.shape[0] != n:
        raise ParameterError(
            f"The 'liabilities' parameter of {func} must be of shape ({n}, {n}) to match 'protocols'. "
            f"Got shape {L.shape} instead."
        )
    E = nonnegative(equity_usd, func, "equity_usd", n, batched=False)
    b = nonnegative(external_liabilities_usd, func, "external_liabilities_usd", n, batched=False)
    e0 = E + L.sum(axis=1) + b - L.sum(axis=0)
    if np.any(e0 < 0):
        k = int(np.flatnonzero(e0 < 0)[0])
        raise ParameterError(
            f"The 'external_liabilities_usd' parameter of {func} must leave {names[k]!r} non-negative outside "
            f"assets (equity + what it owes - what it is owed >= 0). Got {float(e0[k])!r} instead."
        )
    res = eisenberg_noe(L, np.maximum(0.0, e0 - loss), external_liabilities=b)
    assert res.default_round is not None
    out: dict[str, Any] = {}
    for prefix, arr in (
        ("payment_usd", res.payments),
        ("shortfall_usd", res.shortfall),
        ("equity_usd", res.equity),
        ("default_round", res.default_round),
    ):
        for k, p in enumerate(names):
            out[f"{prefix}_{p}"] = arr[:, k]
    out["n_defaults"] = res.n_defaults
    out["shortfall_usd"] = res.shortfall.sum(axis=1)
    return pd.DataFrame(out, index=metrics.index)
