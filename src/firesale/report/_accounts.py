"""Top accounts: which positions of the starting book carry each lending protocol's expected loss.

The run folds, batch by batch, each account's bad debt at the end and its debt at risk into a mean and a
standard error over paths (:class:`firesale.engine._summaries.AccountSummary`; stored with the run as the
table ``accounts``). Definitions, per account and path, USD at the end's market prices:

- *bad debt*: its debt not covered by its collateral (summed over accounts, the protocol's bad debt);
- *debt at risk*: the part of its starting debt that did not stay a covered loan, i.e. the debt liquidators
  repaid (and, with the borrowers agent on, what it repaid itself) plus its bad debt.

The section ranks accounts by the mean of each over paths and says how concentrated the loss is: how few
accounts carry 80 % of the expected bad debt.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from firesale.report import _format as fmt
from firesale.report._headline import IMPRECISE
from firesale.report._risk import Table
from firesale.report._view import RunView

__all__ = ["SECTION", "TOP_N", "accounts_tables", "concentration", "missing_note"]

SECTION = "Why: accounts and the cascade"
#: Accounts listed per protocol and ranking.
TOP_N = 15
#: The share of the expected bad debt the concentration sentence counts accounts up to.
SHARE = 0.8
_COLUMNS = ["rank", "account", "debt at start", "collateral at start", "health factor at start",
            "expected bad debt", "share of bad debt", "debt at risk", "share of debt at risk"]  # fmt: skip
_OTHERS = "(other accounts)"


def concentration(values: np.ndarray, share: float = SHARE) -> int:
    """The fewest accounts whose ``values`` (>= 0) add up to at least ``share`` of their total (0 if none).

    >>> concentration(np.array([5.0, 3.0, 1.0, 1.0]))
    2
    """
    x = np.sort(np.asarray(values, dtype=float))[::-1]
    total = x.sum()
    if not total > 0:
        return 0
    return int(np.searchsorted(np.cumsum(x), share * total * (1 - 1e-12)) + 1)


def _pm(value: float, se: float) -> str:
    mark = " *" if math.isfinite(se) and value > 0 and se / value > IMPRECISE else ""
    return f"{fmt.money(value)} ± {fmt.money_se(value, se)}{mark}" if math.isfinite(se) else fmt.money(value)


def _share(value: float, total: float) -> str:
    return fmt.percent(value / total) if total > 0 else "n/a"


def _hf(value: float) -> str:
    return "no debt" if value == math.inf else ("n/a" if not math.isfinite(value) else f"{value:.3f}")


def _rows(frame: pd.DataFrame, by: str, totals: dict[str, float]) -> list[list[str]]:
    named = frame[(frame["account"] != _OTHERS) & (frame[by] > 0)]
    top = named.sort_values([by, "debt_usd"], ascending=[False, False], kind="stable").head(TOP_N)
    rows = []
    for rank, (_, r) in enumerate(top.iterrows(), start=1):
        label = str(r["account"]) + (f" ({int(r['members'])} accounts)" if r["members"] > 1 else "")
        rows.append([
            str(rank), label, fmt.money(r["debt_usd"]), fmt.money(r["collateral_usd"]),
            _hf(float(r["health_factor"])),
            _pm(float(r["bad_debt_mean_usd"]), float(r["bad_debt_se_usd"])),
            _share(float(r["bad_debt_mean_usd"]), totals["bad_debt_mean_usd"]),
            _pm(float(r["debt_at_risk_mean_usd"]), float(r["debt_at_risk_se_usd"])),
            _share(float(r["debt_at_risk_mean_usd"]), totals["debt_at_risk_mean_usd"]),
        ])  # fmt: skip
    return rows


def _accounts(n: int) -> str:
    return f"{n:,} account{'s' if n != 1 else ''}"


def _carry(n: int) -> str:
    return f"{_accounts(n)} carr{'y' if n != 1 else 'ies'}"


def _sentence(frame: pd.DataFrame, protocol: str, n_paths: int) -> str:
    """How concentrated the protocol's loss is: "3 accounts carry 80% of the expected bad debt ..."."""
    named = frame[frame["account"] != _OTHERS]
    bad = named["bad_debt_mean_usd"].to_numpy(dtype=float)
    risk = named["debt_at_risk_mean_usd"].to_numpy(dtype=float)
    total_bad = float(frame["bad_debt_mean_usd"].sum())
    total_risk = float(frame["debt_at_risk_mean_usd"].sum())
    if total_bad > 0:
        n_bad = int((bad > 0).sum())
        text = (
            f"{protocol}: {_carry(concentration(bad))} {SHARE:.0%} of the expected bad debt "
            f"({fmt.money(total_bad)}); "
            f"{_accounts(n_bad)} end{'s' if n_bad == 1 else ''} with bad debt on some path"
        )
        if n_bad > TOP_N:
            top = np.sort(bad)[::-1][:TOP_N].sum() / total_bad
            text += f", and the top {TOP_N} carry {fmt.percent(top)} of it"
        text += "."
    else:
        text = f"{protocol}: no account ends with bad debt on any of the {n_paths:,} paths."
    if total_risk > 0:
        return (
            text
            + f" {_carry(concentration(risk))} {SHARE:.0%} of the {fmt.money(total_risk)} of debt at risk."
        )
    return text + " No debt was liquidated or lost on any path."


_NOTE = (
    "Per account of the starting book (a merged cohort when the run merged them), mean over paths with "
    "one standard error (± ; * marks a standard error above {imprecise:.0%} of the mean). Expected bad "
    "debt: the mean of the account's debt not covered by its collateral at the end, at market prices; the "
    "accounts add up to the protocol's expected bad debt. Debt at risk: the mean of the part of its "
    "starting debt that did not stay a covered loan (repaid by liquidators, or by the borrower when the "
    "borrowers agent is on, plus its bad debt), at the end's market prices. Starting debt, collateral and "
    "health factor are the book's at the starting prices."
)


def accounts_tables(view: RunView) -> list[Table]:
    """Per lending protocol, the top accounts by expected bad debt and by debt at risk (empty when the run did
    not record per-account losses, e.g. a distributed run; then :func:`missing_note` says so)."""
    frame = view.accounts
    if frame is None or frame.empty or "protocol" not in frame:
        return []
    out = []
    for protocol in dict.fromkeys(frame["protocol"]):
        part = frame[frame["protocol"] == protocol]
        totals = {c: float(part[c].sum()) for c in ("bad_debt_mean_usd", "debt_at_risk_mean_usd")}
        n_paths = int(part["n_paths"].max()) if len(part) else view.n_paths
        note = _sentence(part, str(protocol), n_paths) + " " + _NOTE.format(imprecise=IMPRECISE)
        slug = "".join(c if c.isalnum() else "-" for c in str(protocol))
        for by, what in (
            ("bad_debt_mean_usd", "expected bad debt"),
            ("debt_at_risk_mean_usd", "debt at risk"),
        ):
            rows = _rows(part, by, totals)
            if not rows:
                continue
            key = f"top-accounts-{'bad-debt' if by.startswith('bad') else 'at-risk'}-{slug}"
            out.append(Table(key, f"{protocol}: top accounts by {what}", list(_COLUMNS), rows, note))
            note = ""  # the sentence once per protocol, under its first table
        if note:  # neither table had a row: say so under an empty table
            out.append(Table(f"top-accounts-{slug}", f"{protocol}: top accounts", list(_COLUMNS), [], note))
    return out


def missing_note(view: RunView) -> str | None:
    """Why the section has no accounts table, or None when it has one."""
    if view.accounts is not None:
        return None
    return (
        "Top accounts: not recorded for this run (runs of this version record them in `firesale run` and "
        "`simulate`; distributed and resumed runs do not yet)."
    )
