"""DebtRank: distress (relative equity loss) spreading from borrowers to the lenders exposed to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from firesale.contagion._checks import liability_matrix, nonnegative, positive, rmul
from firesale.exceptions import ParameterError

__all__ = ["DebtRankResult", "debtrank", "impact_matrix"]


@dataclass(frozen=True)
class DebtRankResult:
    """Outcome of a DebtRank run. Leading axes (``...``) are those of ``shock``: a path axis first.

    Attributes
    ----------
    h : ndarray of shape (..., n)
        Final relative equity loss :math:`h_i(T) \\in [0, 1]` (1: equity wiped out).
    h_initial : ndarray of shape (..., n)
        The shock :math:`h_i(1)`.
    weights : ndarray of shape (n,)
        Economic weights :math:`v_i` (summing to 1) that aggregate node losses.
    debtrank : ndarray of shape (...)
        :math:`R = \\sum_i v_i h_i(T) - \\sum_i v_i h_i(1)`: the loss the network adds to the shock.
    relative_equity_loss : ndarray of shape (...)
        :math:`H(T) = \\sum_i v_i h_i(T)`: the total, shock included.
    n_rounds : int
        Propagation rounds run (the longest over the leading axes).
    converged : ndarray of bool, shape (...)
        Whether propagation stopped (no distressed node left, or no change beyond ``tol``) within ``max_rounds``.
    history : ndarray of shape (n_rounds + 1, ..., n) or None
        :math:`h(1), h(2), \\dots, h(T)` when asked for.
    """

    h: np.ndarray
    h_initial: np.ndarray
    weights: np.ndarray
    debtrank: np.ndarray
    relative_equity_loss: np.ndarray
    n_rounds: int
    converged: np.ndarray
    history: np.ndarray | None = None

    @property
    def defaulted(self) -> np.ndarray:
        """Nodes whose equity is wiped out (:math:`h_i = 1`), bool of shape (..., n)."""
        return self.h >= 1.0


def impact_matrix(liabilities: Any, equity: Any) -> np.ndarray:
    """Interbank leverage matrix :math:`\\Lambda_{ij} = A_{ij} / E_i` from who owes whom.

    Parameters
    ----------
    liabilities : array_like of shape (n, n)
        ``liabilities[j, i]`` is what node ``j`` owes node ``i``, i.e. node ``i``'s exposure :math:`A_{ij}` to
        ``j`` (the same matrix :func:`eisenberg_noe` takes).
    equity : array_like of shape (n,)
        Equity :math:`E_i(0) > 0` at the start.

    Returns
    -------
    ndarray of shape (n, n)
        ``impact[i, j]``: the fraction of ``i``'s equity lost if ``j`` loses all of its own (exposure over
        equity). Entries above 1 mean a default of ``j`` alone would wipe ``i`` out.

    Examples
    --------
    >>> impact_matrix([[0.0, 5.0], [3.0, 0.0]], [10.0, 2.0]).tolist()
    [[0.0, 0.3], [2.5, 0.0]]
    """
    L = liability_matrix(liabilities, "impact_matrix")
    E = positive(equity, "impact_matrix", "equity", L.shape[0])
    return L.T / E[:, None]


def debtrank(
    liabilities: Any,
    equity: Any,
    shock: Any,
    *,
    method: Literal["linear", "original"] = "linear",
    weights: Any = None,
    tol: float = 1e-12,
    max_rounds: int = 10_000,
    history: bool = False,
) -> DebtRankResult:
    """Propagate a shock to equity through interbank exposures with DebtRank.

    Parameters
    ----------
    liabilities : array_like of shape (n, n)
        ``liabilities[j, i]`` is what ``j`` owes ``i`` (``i``'s exposure to ``j``); see :func:`impact_matrix`.
    equity : array_like of shape (n,)
        Equity at the start, > 0.
    shock : array_like of shape (n,) or (..., n)
        Initial relative equity loss :math:`h(1)` in [0, 1], e.g. a loss over equity, capped at 1.
    method : {"linear", "original"}
        ``linear``: the differential DebtRank of Bardoscia et al. (2015), every increase of a node's loss passes
        on to its creditors. ``original``: Battiston et al. (2012), each node passes on its distress once, in
        the round after it first becomes distressed, with impacts capped at 1.
    weights : array_like of shape (n,), optional
        Economic weights :math:`v_i` of the nodes (normalised to sum 1). Default: equity shares
        :math:`E_i / \\sum_j E_j`, so that :math:`H` is the fraction of the network's equity lost.
    tol : float
        ``linear`` stops when no :math:`h_i` moves by more than ``tol`` in a round.
    max_rounds : int
        Cap on propagation rounds.
    history : bool
        Keep :math:`h(t)` of every round in the result.

    Returns
    -------
    DebtRankResult

    Notes
    -----
    With :math:`\\Lambda = ` :func:`impact_matrix`, :math:`h(0) = 0` and :math:`h(1)` the shock, the linear
    (differential) DebtRank iterates

    .. math:: h_i(t+1) = \\min\\Big(1,\\; h_i(t) + \\sum_j \\Lambda_{ij}\\,[h_j(t) - h_j(t-1)]\\Big),

    which is the balance-sheet identity of Bardoscia et al. when an interbank asset loses value in proportion to
    the borrower's equity loss. Without the cap it converges to :math:`(I - \\Lambda)^{-1} h(1)` if the
    spectral radius of :math:`\\Lambda` is below 1.

    The original DebtRank gives each node a state, undistressed (U), distressed (D) or inactive (I); nodes with
    :math:`h_i(1) > 0` start distressed, and with :math:`W = \\min(1, \\Lambda)`

    .. math:: h_i(t+1) = \\min\\Big(1,\\; h_i(t) + \\sum_{j : s_j(t) = D} W_{ij}\\, h_j(t)\\Big),

    after which every D node turns I and every U node with :math:`h > 0` turns D. A node therefore propagates
    once, which understates losses on networks with cycles (Bardoscia et al., Fig. 1); on acyclic networks both
    agree. In both, :math:`R = \\sum_i v_i [h_i(T) - h_i(1)]`.

    References
    ----------
    S. Battiston, M. Puliga, R. Kaushik, P. Tasca and G. Caldarelli, "DebtRank: Too Central to Fail? Financial
    Networks, the FED and Systemic Risk", Scientific Reports 2, 541, 2012.
    M. Bardoscia, S. Battiston, F. Caccioli and G. Caldarelli, "DebtRank: A Microscopic Foundation for Shock
    Propagation", PLoS ONE 10(6), e0130406, 2015.
    The original's states and capped vulnerability follow the same rules as ``debt_rank_shock`` in
    carloscinelli/NetworkRiskMeasures, R/DebtRank.R (commit 0264c4784b52), read for comparison.

    Examples
    --------
    Node 1 has lent 5 to node 0 with equity 10; node 0 loses half its equity:

    >>> r = debtrank([[0.0, 5.0], [0.0, 0.0]], [4.0, 10.0], [0.5, 0.0])
    >>> r.h.tolist(), round(float(r.debtrank), 6)
    ([0.5, 0.25], 0.178571)
    """
    func = "debtrank"
    L = liability_matrix(liabilities, func)
    n = L.shape[0]
    E = positive(equity, func, "equity", n)
    h1 = nonnegative(shock, func, "shock", n, batched=True)
    if np.any(h1 > 1):
        raise ParameterError(
            f"The 'shock' parameter of {func} must be a relative equity loss in the range [0, 1]. "
            f"Got {float(h1[h1 > 1].flat[0])!r} instead."
        )
    if method not in ("linear", "original"):
        raise ParameterError(
            f"The 'method' parameter of {func} must be one of 'linear', 'original'. Got {method!r} instead."
        )
    v = E if weights is None else nonnegative(weights, func, "weights", n, batched=False)
    if not v.sum() > 0:
        raise ParameterError(
            f"The 'weights' parameter of {func} must have a positive sum. Got {v.tolist()} instead."
        )
    v = v / v.sum()
    if not (isinstance(tol, int | float) and np.isfinite(tol) and tol >= 0):
        raise ParameterError(
            f"The 'tol' parameter of {func} must be a float in the range [0, inf). Got {tol!r} instead."
        )
    if not (isinstance(max_rounds, int) and max_rounds >= 1):
        raise ParameterError(
            f"The 'max_rounds' parameter of {func} must be an int in the range [1, inf). Got {max_rounds!r} instead."
        )

    lam = L.T / E[:, None]
    lead = h1.shape[:-1]
    h0 = h1.reshape(-1, n)
    if method == "linear":
        h, rounds, converged, hist = _linear(lam, h0, tol, max_rounds, history)
    else:
        h, rounds, converged, hist = _original(np.minimum(lam, 1.0), h0, max_rounds, history)
    total = rmul(h, v[:, None])[:, 0]
    return DebtRankResult(
        h=h.reshape(h1.shape),
        h_initial=h1,
        weights=v,
        debtrank=(total - rmul(h0, v[:, None])[:, 0]).reshape(lead),
        relative_equity_loss=total.reshape(lead),
        n_rounds=rounds,
        converged=converged.reshape(lead),
        history=None if hist is None else np.stack(hist).reshape(len(hist), *h1.shape),
    )


def _linear(
    lam: np.ndarray, h1: np.ndarray, tol: float, max_rounds: int, keep: bool
) -> tuple[np.ndarray, int, np.ndarray, list[np.ndarray] | None]:
    h = h1.copy()
    delta = h1.copy()  # h(1) - h(0)
    hist = [h.copy()] if keep else None
    rounds = 0
    moving = np.any(delta > tol, axis=1)
    while moving.any() and rounds < max_rounds:
        nxt = np.minimum(1.0, h + rmul(delta, lam.T))
        delta = nxt - h
        h = nxt
        rounds += 1
        if hist is not None:
            hist.append(h.copy())
        moving = np.any(delta > tol, axis=1)
    return h, rounds, ~moving, hist


def _original(
    w: np.ndarray, h1: np.ndarray, max_rounds: int, keep: bool
) -> tuple[np.ndarray, int, np.ndarray, list[np.ndarray] | None]:
    h = h1.copy()
    distressed = h > 0
    inactive = np.zeros_like(distressed)
    hist = [h.copy()] if keep else None
    rounds = 0
    while distressed.any() and rounds < max_rounds:
        h = np.minimum(1.0, h + rmul(h * distressed, w.T))
        inactive |= distressed
        distressed = (h > 0) & ~inactive
        rounds += 1
        if hist is not None:
            hist.append(h.copy())
    return h, rounds, np.logical_not(distressed.any(axis=1)), hist
