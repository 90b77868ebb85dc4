"""Cohorts: accounts that behave identically, merged so the engine runs fewer rows.

Two accounts are merged when they hold the same single collateral reserve against the same single debt reserve,
share their e-mode flag, and their health factors at the starting prices fall in the same log-bin of relative width
``bin_width``. For such accounts health factor is proportional to the collateral's price relative to the debt's, so
accounts in one bin reach HF 1 within ``bin_width`` of each other's price; the cohort (sum of collateral and debt) is
liquidated at its own, value-weighted, threshold instead. That timing is the whole error merging introduces: a
cohort liquidates in one go a little before some members would and a little after others. Gas and block space are
still charged per member (``LendingParams.weight``). Accounts holding several collaterals or several debts are never
merged. docs/cohorts.md reports the error measured on the built-in scenarios.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from firesale.scenario import Positions

__all__ = ["merge_cohorts"]


def merge_cohorts(
    positions: Positions, lt: np.ndarray, prices: np.ndarray, bin_width: float
) -> tuple[Positions, np.ndarray, np.ndarray]:
    """Merge alike accounts.

    Parameters
    ----------
    positions : Positions
        Accounts with ``collateral`` and ``debt`` of shape (n_accounts, n_reserves).
    lt : ndarray of shape (n_accounts, n_reserves)
        Effective liquidation thresholds (e-mode applied).
    prices : ndarray of shape (n_reserves,)
        Starting prices.
    bin_width : float
        Relative width of a health-factor bin, > 0 (0.0025 merges accounts within 0.25 % of each other).

    Returns
    -------
    (Positions, weight, rows)
        The merged positions, the number of accounts in each row, and for each original account its row.
    """
    coll, debt = positions.collateral, positions.debt
    n_acc = coll.shape[0]
    single = ((coll > 0).sum(axis=1) == 1) & ((debt > 0).sum(axis=1) == 1)
    c = np.argmax(coll > 0, axis=1)
    d = np.argmax(debt > 0, axis=1)
    rows = np.arange(n_acc)
    num = coll[rows, c] * prices[c] * lt[rows, c]
    den = debt[rows, d] * prices[d]
    with np.errstate(divide="ignore", invalid="ignore"):
        hf_bin = np.floor(np.log(num / den) / np.log1p(bin_width))
    lt_key = np.round(lt[rows, c], 12)
    keys = np.stack(
        [np.where(single, c, -1), np.where(single, d, -1), positions.emode, np.where(single, hf_bin, -1),
         np.where(single, lt_key, -1), np.where(single, -1, rows)],
        axis=1,
    )  # fmt: skip
    _, first, inverse, counts = np.unique(
        keys, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    inverse = inverse.reshape(-1)
    n_rows = len(first)
    merged_coll = np.zeros((n_rows, coll.shape[1]))
    merged_debt = np.zeros_like(merged_coll)
    np.add.at(merged_coll, inverse, coll)
    np.add.at(merged_debt, inverse, debt)
    from firesale.scenario import Positions  # the scenario layer builds on protocols: import at use

    merged = Positions(
        accounts=np.array(
            [f"cohort-{i}" if counts[i] > 1 else positions.accounts[first[i]] for i in range(n_rows)]
        ),
        collateral=merged_coll,
        debt=merged_debt,
        emode=positions.emode[first],
    )
    return merged, counts.astype(np.int64), inverse
