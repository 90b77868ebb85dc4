"""Monte Carlo tail figures of a perpetual-futures venue: how often its insurance fund runs out, and what follows.

A run's per-path metrics carry, for each :class:`firesale.protocols.perps.PerpVenue` named ``v``, the columns
``v.insurance_exhausted`` (0 or 1), ``v.adl_notional_usd``, ``v.socialised_loss_usd``, ``v.vault_drawdown_usd``
and the rest of :attr:`PerpVenue.METRICS`. :func:`perp_tails` turns them into the estimates a risk team reads
(probability that the insurance fund is exhausted, mean ADL notional, mean socialised loss, mean LP-vault
drawdown, the probabilities that ADL or a socialised loss happens at all), each with its Monte Carlo standard
error, so that two scenarios can be compared with their sampling noise in view.

Paths are independent draws, so every estimate is a sample mean ``x̄`` of a per-path figure (an indicator for a
probability) and its standard error is ``s / sqrt(n)`` with ``s`` the sample standard deviation (``ddof = 1``);
for an indicator with frequency ``p̂`` that is ``sqrt(p̂ (1 - p̂) / (n - 1))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from firesale.exceptions import ParameterError

__all__ = ["perp_tails"]

# (row name, metric key, transform, description)
_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("p_insurance_exhausted", "insurance_exhausted", "value",
     "Probability that some round's deficits exceeded the insurance fund"),
    ("p_adl", "adl_notional_usd", "positive", "Probability that auto-deleveraging closed any position"),
    ("p_socialised_loss", "socialised_loss_usd", "positive", "Probability of a socialised loss"),
    ("mean_adl_notional_usd", "adl_notional_usd", "value", "Mean notional closed by auto-deleveraging, USD"),
    ("mean_adl_transfer_usd", "adl_transfer_usd", "value", "Mean deficit moved onto deleveraged winners, USD"),
    ("mean_socialised_loss_usd", "socialised_loss_usd", "value", "Mean socialised loss, USD"),
    ("mean_insurance_paid_usd", "insurance_paid_usd", "value", "Mean deficit paid by the insurance fund, USD"),
    ("mean_vault_drawdown_usd", "vault_drawdown_usd", "value", "Mean largest drawdown of the LP vault, USD"),
)  # fmt: skip


def _frame(result: Any) -> pd.DataFrame:
    frame = getattr(result, "metrics", result)
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError("The 'result' parameter of perp_tails must be a SimulationResult or its metrics "
                             f"DataFrame. Got {type(result).__name__} instead.")  # fmt: skip
    return frame


def _venues(frame: pd.DataFrame) -> list[str]:
    tail = ".insurance_exhausted"
    return sorted(str(c)[: -len(tail)] for c in frame.columns if str(c).endswith(tail))


def perp_tails(result: Any, protocol: str | None = None) -> pd.DataFrame:
    """Tail probabilities and means of a perp venue over a run's paths, each with its standard error.

    Parameters
    ----------
    result : SimulationResult or pandas.DataFrame
        A finished run, or its ``metrics`` frame (one row per path).
    protocol : str, optional
        The venue's name in the scenario; default every perp venue found (columns ``"<name>.insurance_exhausted"``).

    Returns
    -------
    pandas.DataFrame
        One row per (protocol, figure), columns ``protocol``, ``figure``, ``estimate``, ``se`` (Monte Carlo
        standard error, ``s / sqrt(n)``), ``n_paths``, ``description``. Figures: ``p_insurance_exhausted``,
        ``p_adl``, ``p_socialised_loss``, ``mean_adl_notional_usd``, ``mean_adl_transfer_usd``,
        ``mean_socialised_loss_usd``, ``mean_insurance_paid_usd``, ``mean_vault_drawdown_usd``.

    Raises
    ------
    ParameterError
        No perp venue in the metrics, an unknown ``protocol``, a column missing or non-finite, an indicator that is
        not 0 or 1, or fewer than 2 paths (no standard error).

    Examples
    --------
    >>> frame = pd.DataFrame({"v.insurance_exhausted": [0.0, 1.0, 1.0, 0.0], "v.adl_notional_usd": [0, 4, 2, 0],
    ...     "v.adl_transfer_usd": [0.0] * 4, "v.socialised_loss_usd": [0.0] * 4, "v.insurance_paid_usd": [0.0] * 4,
    ...     "v.vault_drawdown_usd": [0.0] * 4})
    >>> perp_tails(frame).set_index("figure").loc["p_insurance_exhausted", ["estimate", "se"]].round(6).tolist()
    [0.5, 0.288675]
    """
    frame = _frame(result)
    found = _venues(frame)
    if not found:
        raise ParameterError("The 'result' parameter of perp_tails must hold the metrics of a perp venue (columns "
                             "'<name>.insurance_exhausted', ...). Got none instead.")  # fmt: skip
    if protocol is not None and protocol not in found:
        raise ParameterError(f"The 'protocol' parameter of perp_tails must be one of {found}. "
                             f"Got {protocol!r} instead.")  # fmt: skip
    n = len(frame)
    if n < 2:
        raise ParameterError(f"The 'result' parameter of perp_tails must hold at least 2 paths for a standard "
                             f"error. Got {n} instead.")  # fmt: skip
    rows = []
    for venue in [protocol] if protocol is not None else found:
        for figure, key, how, text in _ROWS:
            col = f"{venue}.{key}"
            if col not in frame.columns:
                raise ParameterError(f"The 'result' parameter of perp_tails must have the column {col!r}. "
                                     "Got none instead.")  # fmt: skip
            x = frame[col].to_numpy(dtype=float)
            if not np.isfinite(x).all():
                raise ParameterError(f"The 'result' parameter of perp_tails must have finite values in {col!r}. "
                                     f"Got {int((~np.isfinite(x)).sum())} non-finite instead.")  # fmt: skip
            if key == "insurance_exhausted" and not np.isin(x, (0.0, 1.0)).all():
                raise ParameterError(f"The 'result' parameter of perp_tails must have 0 or 1 in {col!r}. "
                                     f"Got {sorted(set(x.tolist()) - {0.0, 1.0})[:3]} instead.")  # fmt: skip
            if how == "positive":
                x = (x > 0.0).astype(float)
            rows.append({"protocol": venue, "figure": figure, "estimate": float(x.mean()),
                         "se": float(x.std(ddof=1) / np.sqrt(n)), "n_paths": n, "description": text})  # fmt: skip
    return pd.DataFrame(rows, columns=["protocol", "figure", "estimate", "se", "n_paths", "description"])
