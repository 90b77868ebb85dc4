"""Parameter checks shared by the price models, in the package's one error template.

Every check raises :class:`firesale.exceptions.ParameterError` with the message
``"The '<name>' parameter of <owner> must be <rule>. Got <value> instead."``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from firesale.exceptions import ParameterError

__all__ = [
    "check_assets",
    "check_choice",
    "check_correlation",
    "check_float",
    "check_int",
    "check_rng",
    "correlation_factor",
    "fail",
    "per_asset",
]

# Tolerances for floating-point input: a matrix computed from data (or typed with 15 digits) is symmetric and
# positive semi-definite only up to rounding.
_SYMMETRY_TOL = 1e-10
_PSD_TOL = 1e-10


def fail(name: str, owner: str, rule: str, value: Any) -> ParameterError:
    """Build (not raise) the error for parameter ``name`` of ``owner`` breaking ``rule``.

    ``value`` is shown with ``repr``, except a string of the form ``"<description>"``, shown as ``description``.
    """
    # A value written "<...>" is a description of the value (a shape, a type), shown without the brackets.
    described = isinstance(value, str) and value.startswith("<") and value.endswith(">")
    shown = value[1:-1] if described else repr(value)
    return ParameterError(f"The '{name}' parameter of {owner} must be {rule}. Got {shown} instead.")


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    left = "(" if lo is None or lo_open else "["
    right = ")" if hi is None or hi_open else "]"
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    return f"{left}{lo_s}, {hi_s}{right}"


def _in_range(x: float, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> bool:
    if lo is not None and (x <= lo if lo_open else x < lo):
        return False
    return not (hi is not None and (x >= hi if hi_open else x > hi))


def check_float(
    value: Any,
    name: str,
    owner: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside the interval, or raise ParameterError."""
    rule = f"a finite float in the range {_interval(lo, hi, lo_open, hi_open)}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise fail(name, owner, rule, value)
    x = float(value)
    if not math.isfinite(x) or not _in_range(x, lo, hi, lo_open, hi_open):
        raise fail(name, owner, rule, value)
    return x


def check_int(value: Any, name: str, owner: str, *, lo: int, hi: int | None = None) -> int:
    """Return ``value`` as an int in ``[lo, hi]``, or raise ParameterError (bools are rejected)."""
    rule = f"an int in the range [{lo}, {'inf)' if hi is None else f'{hi}]'}"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise fail(name, owner, rule, value)
    n = int(value)
    if n < lo or (hi is not None and n > hi):
        raise fail(name, owner, rule, value)
    return n


def check_choice(value: Any, name: str, owner: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, or raise ParameterError."""
    if not isinstance(value, str) or value not in choices:
        raise fail(name, owner, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_rng(rng: Any, owner: str) -> np.random.Generator:
    """Require a :class:`numpy.random.Generator` (the engine derives one per component and path block)."""
    if not isinstance(rng, np.random.Generator):
        raise fail("rng", owner, "a numpy.random.Generator", f"<a {type(rng).__name__}>")
    return rng


def check_assets(assets: Any, owner: str) -> tuple[str, ...]:
    """Return ``assets`` as a non-empty tuple of distinct, non-empty strings."""
    rule = "a non-empty sequence of distinct, non-empty asset names"
    if isinstance(assets, str) or not isinstance(assets, Sequence):
        raise fail("assets", owner, rule, assets)
    out = tuple(assets)
    if not out or any(not isinstance(a, str) or not a for a in out) or len(set(out)) != len(out):
        raise fail("assets", owner, rule, assets)
    return out


def per_asset(
    value: Any,
    name: str,
    owner: str,
    assets: Sequence[str],
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> tuple[float, ...]:
    """Broadcast a float, or check a sequence of one float per asset; return a tuple of floats.

    The error names the offending asset: ``"... must be a finite float in the range (0, inf) for asset 'WBTC'.
    Got -0.1 instead."``
    """
    n = len(assets)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, Real) and not isinstance(value, bool):
        values: list[Any] = [value] * n
    elif isinstance(value, Sequence) and not isinstance(value, str):
        values = list(value)
        if len(values) != n:
            raise fail(
                name,
                owner,
                f"a float or a sequence of {n} floats (one per asset)",
                f"<a sequence of {len(values)}>",
            )
    else:
        raise fail(name, owner, f"a float or a sequence of {n} floats (one per asset)", value)
    rule = f"a finite float in the range {_interval(lo, hi, lo_open, hi_open)}"
    out = []
    for asset, v in zip(assets, values, strict=True):
        if isinstance(v, bool) or not isinstance(v, Real):
            raise fail(name, owner, f"{rule} for asset {asset!r}", v)
        x = float(v)
        if not math.isfinite(x) or not _in_range(x, lo, hi, lo_open, hi_open):
            raise fail(name, owner, f"{rule} for asset {asset!r}", v)
        out.append(x)
    return tuple(out)


def check_correlation(value: Any, name: str, owner: str, n_assets: int) -> tuple[tuple[float, ...], ...]:
    """Validate a correlation matrix; ``None`` means the identity. Return it as a tuple of row tuples.

    Checks, in order: shape ``(n_assets, n_assets)``, finite entries, unit diagonal, entries in [-1, 1], symmetry
    (to 1e-10) and positive semi-definiteness (smallest eigenvalue >= -1e-10). Each failure names its problem.
    """
    if value is None:
        eye = np.eye(n_assets)
        return tuple(tuple(float(x) for x in row) for row in eye)
    try:
        m = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise fail(name, owner, f"a {n_assets} x {n_assets} matrix of floats", value) from exc
    if m.shape != (n_assets, n_assets):
        raise fail(name, owner, f"a {n_assets} x {n_assets} matrix", f"<shape {m.shape}>")
    bad = np.argwhere(~np.isfinite(m))
    if bad.size:
        i, j = bad[0]
        raise fail(name, owner, "a matrix of finite entries", f"<{m[i, j]} at [{i}, {j}]>")
    diag = np.diag(m)
    bad_d = np.flatnonzero(np.abs(diag - 1.0) > _SYMMETRY_TOL)
    if bad_d.size:
        i = bad_d[0]
        raise fail(name, owner, "a matrix with a unit diagonal", f"<{m[i, i]} at [{i}, {i}]>")
    bad = np.argwhere(np.abs(m) > 1.0 + _SYMMETRY_TOL)
    if bad.size:
        i, j = bad[0]
        raise fail(name, owner, "a matrix with entries in [-1, 1]", f"<{m[i, j]} at [{i}, {j}]>")
    bad = np.argwhere(np.abs(m - m.T) > _SYMMETRY_TOL)
    if bad.size:
        i, j = bad[0]
        raise fail(name, owner, "symmetric", f"<{m[i, j]} at [{i}, {j}] but {m[j, i]} at [{j}, {i}]>")
    smallest = float(np.linalg.eigvalsh(m)[0])
    if smallest < -_PSD_TOL:
        raise fail(
            name, owner, "positive semi-definite", f"<a matrix whose smallest eigenvalue is {smallest:.6g}>"
        )
    return tuple(tuple(float(x) for x in row) for row in m)


def correlation_factor(correlation: Any) -> np.ndarray:
    """A matrix ``A`` with ``A @ A.T == correlation``, used as ``z @ A.T`` to correlate rows of normals.

    Cholesky where the matrix is positive definite; for a singular (semi-definite) matrix, such as perfectly
    correlated assets, the symmetric square root from the eigendecomposition with tiny negative eigenvalues
    clipped to zero.
    """
    m = np.asarray(correlation, dtype=np.float64)
    try:
        return np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(m)
        return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
