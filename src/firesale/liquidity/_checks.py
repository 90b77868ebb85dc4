"""Argument checks shared by the two-coin pools (messages in the project's ParameterError form)."""

from __future__ import annotations

import numpy as np

from firesale.exceptions import ParameterError

__all__ = ["coin_pair", "path_array"]


def _coin(value: object, name: str, func: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value not in (0, 1):
        raise ParameterError(f"The '{name}' parameter of {func} must be 0 or 1. Got {value!r} instead.")
    return int(value)


def coin_pair(i: object, j: object, func: str) -> tuple[int, int]:
    i, j = _coin(i, "i", func), _coin(j, "j", func)
    if i == j:
        raise ParameterError(f"The 'j' parameter of {func} must differ from 'i'. Got {j!r} instead.")
    return i, j


def path_array(
    value: object, name: str, func: str, n_paths: int, *, positive: bool = False, allow_inf: bool = False
) -> np.ndarray:
    """``value`` broadcast to a float64 array of shape ``(n_paths,)``, checked entry by entry."""
    rule = f"floats {'> 0' if positive else '>= 0'}{' (inf allowed)' if allow_inf else ', finite'}"
    try:
        arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n_paths,))
    except (TypeError, ValueError):
        raise ParameterError(
            f"The '{name}' parameter of {func} must be an array of {rule} of shape ({n_paths},). "
            f"Got {value!r} instead."
        ) from None
    bad = np.isnan(arr) | ((arr <= 0.0) if positive else (arr < 0.0))
    if not allow_inf:
        bad |= np.isinf(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ParameterError(
            f"The '{name}' parameter of {func} must be an array of {rule}. Got {float(arr[first])!r} at path {first} "
            "instead."
        )
    return arr
