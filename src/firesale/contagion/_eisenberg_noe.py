"""Eisenberg-Noe (2001) clearing: who pays what when some members of a web of debts cannot pay in full."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from firesale.contagion._checks import liability_matrix, nonnegative, rmul
from firesale.exceptions import ParameterError

__all__ = ["ClearingResult", "eisenberg_noe"]

# Rows of the path axis solved at once: the batched linear systems hold block * n * n floats (~32 MB).
_BLOCK_FLOATS = 1 << 22


@dataclass(frozen=True)
class ClearingResult:
    """The greatest clearing payment vector of a network and what follows from it.

    Leading axes (``...``) are those of ``external_assets``: a scenario or path axis first.

    Attributes
    ----------
    payments : ndarray of shape (..., n)
        Clearing payments :math:`p^*`: what each node pays in total, to nodes and to outside creditors.
    total_liabilities : ndarray of shape (n,)
        Nominal obligations :math:`\\bar p`: row sums of ``liabilities`` plus ``external_liabilities``.
    equity : ndarray of shape (..., n)
        :math:`e_i + \\sum_j \\Pi_{ji} p^*_j - p^*_i`, zero for a defaulted node (limited liability).
    shortfall : ndarray of shape (..., n)
        :math:`\\bar p - p^*`, what each node leaves unpaid.
    defaulted : ndarray of bool, shape (..., n)
        Nodes that pay less than they owe.
    recovery : ndarray of shape (..., n)
        :math:`p^*_i / \\bar p_i`, the fraction its creditors recover (1 for a node that owes nothing).
    default_round : ndarray of int, shape (..., n), or None
        Round of the fictitious default algorithm in which a node defaults: 1 for a fundamental default (it
        fails even if everyone else pays), 2 and later for defaults caused by others' defaults, 0 for solvent.
        None for ``method="fixed_point"``.
    converged : ndarray of bool, shape (...)
        Whether the solver met its tolerance (always True for the fictitious default algorithm).
    """

    payments: np.ndarray
    total_liabilities: np.ndarray
    equity: np.ndarray
    shortfall: np.ndarray
    defaulted: np.ndarray
    recovery: np.ndarray
    default_round: np.ndarray | None
    converged: np.ndarray

    @property
    def n_defaults(self) -> np.ndarray:
        """Number of defaulted nodes, int array of shape (...)."""
        return self.defaulted.sum(axis=-1)


def eisenberg_noe(
    liabilities: Any,
    external_assets: Any,
    *,
    external_liabilities: Any = None,
    method: Literal["fictitious_default", "fixed_point"] = "fictitious_default",
    tol: float = 1e-12,
    max_iter: int = 100_000,
) -> ClearingResult:
    """Greatest clearing payment vector of Eisenberg and Noe (2001).

    Parameters
    ----------
    liabilities : array_like of shape (n, n)
        Nominal liability matrix: ``liabilities[i, j]`` is what node ``i`` owes node ``j`` (>= 0, zero diagonal).
    external_assets : array_like of shape (n,) or (..., n)
        Operating cash flow :math:`e` of each node (>= 0); leading axes (scenarios, paths) are solved at once.
    external_liabilities : array_like of shape (n,), optional
        What each node owes creditors outside the network, ranked equally (pro rata) with its debts to nodes:
        the "sink node" extension used by Glasserman and Young (2015). Default: none.
    method : {"fictitious_default", "fixed_point"}
        ``fictitious_default`` (exact, at most n rounds of linear solves) or ``fixed_point`` (Picard iteration
        of the clearing map from :math:`\\bar p` down to the greatest fixed point).
    tol : float
        Tolerance relative to the largest obligation: a node defaults when its resources fall short of
        :math:`\\bar p_i` by more than ``tol * max(1, max(p_bar))``; the fixed-point iteration stops when no
        payment moves by more than that.
    max_iter : int
        Iteration cap of ``fixed_point``.

    Returns
    -------
    ClearingResult

    Notes
    -----
    With :math:`\\bar p_i = \\sum_j L_{ij} + b_i` and relative liabilities :math:`\\Pi_{ij} = L_{ij} / \\bar p_i`
    (0 when :math:`\\bar p_i = 0`), a clearing vector is a fixed point of

    .. math:: \\Phi(p)_i = \\min\\Big(\\bar p_i,\\; e_i + \\sum_j \\Pi_{ji} p_j\\Big),

    payments in proportion to claims (pari passu), limited liability and absolute priority of debt over equity.
    :math:`\\Phi` is monotone on :math:`[0, \\bar p]`, so a greatest fixed point :math:`p^*` exists (Tarski);
    it is unique when every risk orbit has positive operating cash flow (EN's uniqueness theorem).

    EN's fictitious default algorithm starts from :math:`p = \\bar p`, marks the nodes that cannot
    pay :math:`\\bar p` even when everyone else does, solves the linear system in which marked nodes pay all they
    have and the others pay in full,

    .. math:: p_D = (I - \\Pi_{DD}^\\top)^{-1}\\big(e_D + \\Pi_{SD}^\\top \\bar p_S\\big), \\qquad p_S = \\bar p_S,

    and repeats with the nodes the lower payments push into default, until no new node defaults (at most n
    rounds). Defaulting rounds are monotone, so a node's round measures how much of its default comes from
    others (EN's "waves"). Every path of the leading axis follows its own default sets in one batched solve.

    The system is singular only when the default set holds a closed set of nodes (owing only each other) with
    no cash and no inflow from outside it, whose members can then all pay exactly what they owe; the default
    test's tolerance keeps such nodes solvent. Should rounding still make a block singular, it is solved by
    least squares and clipped to :math:`[0, \\bar p]`; ``fixed_point`` needs no solve.

    References
    ----------
    L. Eisenberg and T. H. Noe, "Systemic Risk in Financial Systems", Management Science 47(2), 236-249, 2001.
    P. Glasserman and H. P. Young, "How likely is contagion in financial networks?", Journal of Banking &
    Finance 50, 383-399, 2015 (outside creditors as a sink node).

    Examples
    --------
    Node 0 owes 10 to node 1 but has only 4 of its own; node 1 owes 2 to node 0:

    >>> r = eisenberg_noe([[0.0, 10.0], [2.0, 0.0]], [4.0, 1.0])
    >>> r.payments.tolist(), r.defaulted.tolist()
    ([6.0, 2.0], [True, False])
    """
    func = "eisenberg_noe"
    L = liability_matrix(liabilities, func)
    n = L.shape[0]
    e = nonnegative(external_assets, func, "external_assets", n, batched=True)
    b = (
        np.zeros(n)
        if external_liabilities is None
        else nonnegative(external_liabilities, func, "external_liabilities", n, batched=False)
    )
    if method not in ("fictitious_default", "fixed_point"):
        raise ParameterError(
            f"The 'method' parameter of {func} must be one of 'fictitious_default', 'fixed_point'. "
            f"Got {method!r} instead."
        )
    if not (isinstance(tol, int | float) and np.isfinite(tol) and tol >= 0):
        raise ParameterError(
            f"The 'tol' parameter of {func} must be a float in the range [0, inf). Got {tol!r} instead."
        )
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise ParameterError(
            f"The 'max_iter' parameter of {func} must be an int in the range [1, inf). Got {max_iter!r} instead."
        )

    p_bar = L.sum(axis=1) + b
    owes = p_bar > 0
    pi = np.divide(L, p_bar[:, None], out=np.zeros_like(L), where=owes[:, None])
    atol = tol * max(1.0, float(p_bar.max()))
    lead = e.shape[:-1]
    flat = e.reshape(-1, n)
    block = max(1, _BLOCK_FLOATS // (n * n))

    pay = np.empty_like(flat)
    rounds = np.zeros(flat.shape, dtype=np.int64)
    converged = np.ones(flat.shape[0], dtype=bool)
    for start in range(0, flat.shape[0], block):
        sl = slice(start, start + block)
        if method == "fictitious_default":
            pay[sl], rounds[sl] = _fictitious_default(pi, p_bar, flat[sl], atol)
        else:
            pay[sl], converged[sl] = _fixed_point(pi, p_bar, flat[sl], atol, max_iter)

    inflow = rmul(pay, pi)
    defaulted = flat + inflow < p_bar - atol
    equity = np.where(defaulted, 0.0, np.maximum(flat + inflow - pay, 0.0))
    recovery = np.divide(pay, p_bar, out=np.ones_like(pay), where=owes)
    shape = (*lead, n)
    return ClearingResult(
        payments=pay.reshape(shape),
        total_liabilities=p_bar,
        equity=equity.reshape(shape),
        shortfall=(p_bar - pay).reshape(shape),
        defaulted=defaulted.reshape(shape),
        recovery=recovery.reshape(shape),
        default_round=rounds.reshape(shape) if method == "fictitious_default" else None,
        converged=converged.reshape(lead),
    )


def _fictitious_default(
    pi: np.ndarray, p_bar: np.ndarray, e: np.ndarray, atol: float
) -> tuple[np.ndarray, np.ndarray]:
    m, n = e.shape
    p = np.broadcast_to(p_bar, (m, n)).copy()
    d = np.zeros((m, n), dtype=bool)
    rounds = np.zeros((m, n), dtype=np.int64)
    eye = np.eye(n)
    for k in range(1, n + 1):
        new = (e + rmul(p, pi) < p_bar - atol) & ~d
        rows = np.flatnonzero(new.any(axis=1))
        if rows.size == 0:
            break
        # Only paths whose default set grew need a new solve; the others already hold the solution for theirs.
        rounds[new] = k
        d |= new
        dr = d[rows]
        df = dr.astype(np.float64)
        # Defaulted rows: p_i - sum_{j in D} Pi_ji p_j = e_i + sum_{j in S} Pi_ji p_bar_j; solvent rows: p_i = p_bar_i.
        a = eye - df[:, :, None] * pi.T[None, :, :] * df[:, None, :]
        rhs = np.where(dr, e[rows] + rmul((1.0 - df) * p_bar, pi), p_bar)
        p[rows] = np.clip(_solve(a, rhs), 0.0, p_bar)
    return p, rounds


def _solve(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        # Singular only without regularity (a closed, cash-less set of defaulters): rare, so per-row lstsq is fine.
        return np.stack([np.linalg.lstsq(a_k, r_k, rcond=None)[0] for a_k, r_k in zip(a, rhs, strict=True)])


def _fixed_point(
    pi: np.ndarray, p_bar: np.ndarray, e: np.ndarray, atol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    p = np.broadcast_to(p_bar, e.shape).copy()
    done = np.zeros(e.shape[0], dtype=bool)
    for _ in range(max_iter):
        nxt = np.minimum(p_bar, e + rmul(p, pi))
        done = np.max(np.abs(nxt - p), axis=1) <= atol
        p = nxt
        if done.all():
            break
    return p, done
