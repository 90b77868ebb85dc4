"""The result of a fit: the model, its scenario spec and diagnostics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel

from firesale.exceptions import ParameterError
from firesale.market._base import PriceModel
from firesale.market.spec import to_toml

__all__ = ["Calibration", "CalibrationWarning", "pairs_from_matrix", "per_asset_table"]


class CalibrationWarning(UserWarning):
    """A fit had to adjust or could not fully trust its estimate (the diagnostics say how)."""


@dataclass(frozen=True, eq=False)
class Calibration:
    """A fitted price model.

    Attributes
    ----------
    model : PriceModel
        The fitted model, at full precision.
    spec : pydantic model or None
        The same parameters as a ``[market]`` spec (see :mod:`firesale.market.spec`); None when the model cannot be
        written without a data source (a bootstrap fitted without ``source``).
    diagnostics : mapping
        Fit statistics: sample size, sampling interval, log-likelihood, standard errors, convergence, and any
        adjustment made to the estimate.
    """

    model: PriceModel
    spec: BaseModel | None
    diagnostics: Mapping[str, Any] = field(default_factory=dict)

    def to_toml(self, comment: str | None = None) -> str:
        """The ``[market]`` TOML fragment of :attr:`spec` (see :func:`firesale.market.spec.to_toml`)."""
        if self.spec is None:
            raise ParameterError(
                "The 'spec' parameter of Calibration.to_toml must be a market spec. Got None instead "
                "(fit_bootstrap writes one only when given a source)."
            )
        return to_toml(self.spec, comment)


def per_asset_table(assets: Sequence[str], values: Any) -> dict[str, float]:
    """``{asset: value}`` with plain floats, for a spec."""
    return {a: float(v) for a, v in zip(assets, np.asarray(values, dtype=np.float64).ravel(), strict=True)}


def pairs_from_matrix(assets: Sequence[str], matrix: np.ndarray) -> dict[str, float]:
    """Every off-diagonal pair of a correlation matrix as ``{"A/B": rho}`` (upper triangle, asset order)."""
    n = len(assets)
    return {f"{assets[i]}/{assets[j]}": float(matrix[i, j]) for i in range(n) for j in range(i + 1, n)}
