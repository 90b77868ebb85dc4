"""Users' borrowing power in a lending market's starting book: what a parameter change costs the borrowers.

An account's borrowing power is what Aave v3 lets it borrow more, in USD:

.. math:: \\mathrm{available} = \\max\\Big(0,\\; \\sum_r c_r\\,p_r\\,\\mathrm{ltv}_r \\;-\\; \\sum_r d_r\\,p_r\\Big)

(aave/aave-v3-core ``contracts/protocol/libraries/logic/GenericLogic.sol``: ``calculateUserAccountData`` sums the
collateral times each reserve's ltv into ``avgLtv`` and ``calculateAvailableBorrows`` returns
``totalCollateral x avgLtv - totalDebt``, 0 when the debt is larger). An account in an e-mode category uses the
category's ltv on the category's collateral (Aave v3.2+ ``EModeConfiguration``). Prices are the scenario's
starting prices, the book its starting positions: the figure is deterministic, no simulation is needed.

The total over accounts is split over the collateral reserves that give it: each account's available amount is
shared in proportion to what each of its collaterals contributes to its power (``c_r p_r ltv_r``), so the parts
add up to the total. A lower ltv cuts the total; a liquidation threshold or a bonus leaves it alone (they decide
liquidations, not new borrows); a borrow cap limits what the reserve lends, not what an account may borrow, and is
shown beside it as room left under the cap.

>>> import numpy as np
>>> available_borrows(np.array([[1.0, 0.0]]), np.array([[0.0, 1500.0]]), np.array([2000.0, 1.0]),
...                   np.array([[0.80, 0.75]]))
array([100.])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "UserCosts",
    "available_borrows",
    "borrowed_per_path",
    "borrowing_power",
    "change_in_words",
    "sensitivity_sentences",
    "total_borrowing_power",
]

#: Per-path metric of the borrowing rule, per protocol: ``<protocol>.borrowed_usd`` (firesale.protocols.lending_market)
BORROWED = "borrowed_usd"
#: ... and what the borrow caps or the liquidity refused: ``<protocol>.borrow_refused_usd``
REFUSED = "borrow_refused_usd"
_TINY = 1e-6  # USD: a change below this is no change


def available_borrows(
    collateral: np.ndarray, debt: np.ndarray, prices: np.ndarray, ltv: np.ndarray
) -> np.ndarray:
    """Each account's borrowing power, USD: ``max(0, sum_r c_r p_r ltv_r - sum_r d_r p_r)``, vectorised.

    Parameters
    ----------
    collateral, debt : ndarray, shape (n_accounts, n_reserves)
        Token amounts.
    prices : ndarray, shape (n_reserves,)
        USD per token.
    ltv : ndarray, shape (n_accounts, n_reserves)
        Each account's ltv on each reserve (e-mode's where it applies).

    Returns
    -------
    ndarray, shape (n_accounts,)
    """
    power = (collateral * prices[None, :] * ltv).sum(axis=1)
    return np.maximum(power - (debt * prices[None, :]).sum(axis=1), 0.0)


def ltv_matrix(proto: Any, emode: np.ndarray) -> np.ndarray:
    """Per account and reserve: the reserve's ltv, the e-mode category's on the category's collateral."""
    names = list(proto.reserves)
    ltv = np.tile([float(proto.reserves[n].ltv) for n in names], (len(emode), 1))
    for cid, cat in proto.emode.items():
        rows = emode == cid
        for a in cat.collateral:
            if a in names:
                ltv[rows, names.index(a)] = float(cat.ltv)
    return ltv


def borrowing_power(scenario: Any) -> pd.DataFrame:
    """The starting book's borrowing power per lending protocol and collateral reserve.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario with its positions.

    Returns
    -------
    pandas.DataFrame
        One row per (protocol, reserve): ``collateral_usd`` (posted, starting prices), ``ltv`` (the reserve's),
        ``power_usd`` (gross: sum of collateral x price x ltv, e-mode's ltv where it applies), ``available_usd``
        (its share of the accounts' borrowing power; the rows of a protocol add up to its total), ``debt_usd``
        (owed in this reserve), ``liquidity_usd`` (``total_supply`` - borrows, NaN without a supply) and
        ``cap_room_usd`` (``borrow_cap`` - borrows, floored at 0, NaN without a cap).
    """
    price = {a.name: float(a.price) for a in scenario.spec.assets}
    rows = []
    for proto in scenario.spec.protocols:
        pos = scenario.positions.get(proto.name)
        reserves = getattr(proto, "reserves", None)
        if pos is None or reserves is None:
            continue
        names = list(reserves)
        p = np.array([price[n] for n in names])
        ltv = ltv_matrix(proto, pos.emode)
        contrib = pos.collateral * p[None, :] * ltv  # (account, reserve): power each collateral gives
        power = contrib.sum(axis=1)
        avail = available_borrows(pos.collateral, pos.debt, p, ltv)
        share = np.divide(contrib, power[:, None], out=np.zeros_like(contrib), where=power[:, None] > 0)
        by_reserve = (share * avail[:, None]).sum(axis=0)
        borrows = pos.debt.sum(axis=0)
        for j, n in enumerate(names):
            r = reserves[n]
            supply, cap = getattr(r, "total_supply", None), getattr(r, "borrow_cap", None)
            rows.append(
                {
                    "protocol": proto.name, "reserve": n,
                    "collateral_usd": float(pos.collateral[:, j].sum() * p[j]), "ltv": float(r.ltv),
                    "power_usd": float(contrib[:, j].sum()), "available_usd": float(by_reserve[j]),
                    "debt_usd": float(borrows[j] * p[j]),
                    "liquidity_usd": np.nan if supply is None else float((supply - borrows[j]) * p[j]),
                    "cap_room_usd": np.nan if not cap else float(max(cap - borrows[j], 0.0) * p[j]),
                }
            )  # fmt: skip
    columns = ["protocol", "reserve", "collateral_usd", "ltv", "power_usd", "available_usd", "debt_usd",
               "liquidity_usd", "cap_room_usd"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def total_borrowing_power(scenario: Any) -> float:
    """The accounts' borrowing power summed over every lending protocol of ``scenario``, USD at starting prices."""
    frame = borrowing_power(scenario)
    return float(frame["available_usd"].sum()) if len(frame) else 0.0


def borrowed_per_path(metrics: pd.DataFrame) -> np.ndarray | None:
    """New debt drawn on each path over the horizon, USD, summed over protocols (``<protocol>.borrowed_usd``), or
    None when no protocol of the run borrows."""
    cols = [c for c in metrics.columns if str(c).endswith(f".{BORROWED}")]
    if not cols:
        return None
    return metrics[cols].to_numpy(dtype=float).sum(axis=1)


def paired_difference(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of ``y - x`` path by path (common random numbers): ``s(y_i - x_i) / sqrt(n)``."""
    d = np.asarray(y, dtype=float) - np.asarray(x, dtype=float)
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan
    return float(d.mean()), se


class UserCosts:
    """What each bump of :func:`firesale.analysis.sensitivity.sensitivities` costs the users, bump by bump.

    ``add`` takes a bump's two scenarios (or the reason a side is not valid, a str) and their runs' metrics; ``frame``
    gives one row per bump: the starting borrowing power of the base and of each side (USD), its change per step up
    (``power_effect_usd``: central, or one-sided as the bump's other statistics), and where borrowing is on the
    paired change of the borrowing done per path (``borrowed_*``: mean, s.e. and interval, per step up and by side).
    """

    def __init__(self, base: Any, base_metrics: pd.DataFrame, z: float) -> None:
        self.power0 = total_borrowing_power(base)
        self.borrowed0 = borrowed_per_path(base_metrics)
        self.z = z
        self.rows: list[dict[str, Any]] = []

    def add(
        self, key: str, down: Any, up: Any, m_down: pd.DataFrame | None, m_up: pd.DataFrame | None
    ) -> None:
        p = {
            side: math.nan if isinstance(s, str) else total_borrowing_power(s)
            for side, s in (("down", down), ("up", up))
        }
        central = not (math.isnan(p["down"]) or math.isnan(p["up"]))
        if central:
            effect = 0.5 * (p["up"] - p["down"])
        else:
            effect = p["up"] - self.power0 if math.isnan(p["down"]) else self.power0 - p["down"]
        row: dict[str, Any] = {
            "key": key, "power_base_usd": self.power0, "power_down_usd": p["down"], "power_up_usd": p["up"],
            "power_down_change_usd": p["down"] - self.power0, "power_up_change_usd": p["up"] - self.power0,
            "power_effect_usd": effect, "borrowing": self.borrowed0 is not None,
        }  # fmt: skip
        y = {"down": None, "up": None}
        if self.borrowed0 is not None:
            y = {
                side: None if m is None else borrowed_per_path(m)
                for side, m in (("down", m_down), ("up", m_up))
            }
        for side in ("down", "up"):
            mean, se = (math.nan, math.nan) if y[side] is None else paired_difference(self.borrowed0, y[side])
            row[f"borrowed_{side}_effect_usd"], row[f"borrowed_{side}_se_usd"] = mean, se
        if y["down"] is not None and y["up"] is not None:
            mean, se = paired_difference(y["down"], y["up"])
            mean, se = 0.5 * mean, 0.5 * se
        elif y["up"] is not None or y["down"] is not None:
            side = "up" if y["up"] is not None else "down"
            mean, se = row[f"borrowed_{side}_effect_usd"], row[f"borrowed_{side}_se_usd"]
            mean = mean if side == "up" else -mean
        else:
            mean, se = math.nan, math.nan
        row.update(
            borrowed_base_mean_usd=math.nan if self.borrowed0 is None else float(self.borrowed0.mean()),
            borrowed_effect_usd=mean, borrowed_se_usd=se, borrowed_ci_low_usd=mean - self.z * se,
            borrowed_ci_high_usd=mean + self.z * se,
        )  # fmt: skip
        self.rows.append(row)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def _usd(x: float) -> str:
    a = abs(x)
    return f"${a:,.0f}" if a >= 10 else f"${a:,.2f}"


def _signed(x: float) -> str:
    if abs(x) < _TINY:
        return "$0"
    return ("-" if x < 0 else "+") + _usd(x)


def _moves(what: str, delta: float, base: float | None = None) -> tuple[str, str]:
    """(verb, object) of a change: ("cuts", "expected bad debt by $5"), or ("leaves", "... unchanged")."""
    if not math.isfinite(delta):
        return "says nothing of", what
    if abs(delta) < _TINY:
        return "leaves", f"{what} unchanged"
    share = f" ({100 * abs(delta) / base:.1f} %)" if base is not None and base > 0 else ""
    return ("cuts" if delta < 0 else "raises"), f"{what} by {_usd(delta)}{share}"


def change_in_words(
    action: str,
    bad_debt: tuple[float, float, float],
    power: tuple[float, float],
    borrowed: tuple[float, float, float] | None = None,
    level: float = 0.95,
) -> str:
    """One sentence: what a change saves the protocol and what it costs the users.

    Parameters
    ----------
    action : str
        The change in words, e.g. "lowering lender WETH ltv to 0.79".
    bad_debt : (float, float, float)
        Change of expected bad debt and its interval (low, high), USD.
    power : (float, float)
        Change of the users' starting borrowing power and its base value, USD.
    borrowed : (float, float, float), optional
        Change of the borrowing done per path and its interval, USD (where borrowing is on).

    >>> print(change_in_words("lowering ltv", (-120.0, -150.0, -90.0), (-40.0, 500.0)))
    lowering ltv cuts expected bad debt by $120 [95 % CI -$150 to -$90] and users' borrowing power by $40 (8.0 %).
    """
    d, lo, hi = bad_debt
    v1, o1 = _moves("expected bad debt", d)
    if math.isfinite(d) and abs(d) >= _TINY and math.isfinite(lo) and math.isfinite(hi):
        o1 += f" [{100 * level:g} % CI {_signed(lo)} to {_signed(hi)}]"
    v2, o2 = _moves("users' borrowing power", power[0], power[1])
    text = f"{action} {v1} {o1} and {o2 if v2 == v1 else f'{v2} {o2}'}"
    if borrowed is not None and math.isfinite(borrowed[0]):
        b, blo, bhi = borrowed
        v3, o3 = _moves("the borrowing they do", b)
        text += f"; it {v3} {o3}"
        if abs(b) >= _TINY and math.isfinite(blo) and math.isfinite(bhi):
            text += f" per path [{100 * level:g} % CI {_signed(blo)} to {_signed(bhi)}]"
    return text + "."


def _action(kind: str, label: str, side: str, value: float) -> str:
    if kind in ("depth", "borrow_cap"):
        return f"scaling {label} by x{value:g}"
    return f"{'lowering' if side == 'down' else 'raising'} {label} to {value:g}"


def sensitivity_sentences(res: Any) -> list[tuple[str, str]]:
    """One sentence per bump of a :class:`~firesale.analysis.sensitivity.SensitivityResult`, in its ranking order:
    its step down (its step up when the step down is not a valid scenario) in words, with what it saves in expected
    bad debt and what it costs the users. Empty when the result has no costs."""
    from firesale.analysis.compare import _Z

    if res.costs is None or res.costs.empty:
        return []
    z = _Z.get(res.level, 1.959963984540054)
    costs = res.costs.set_index("key")
    bad = res.rows[res.rows["statistic"] == "bad_debt_mean_usd"].set_index("key")
    out = []
    for key in res.frame()["key"]:
        if key not in costs.index or key not in bad.index:
            continue
        r, c = bad.loc[key], costs.loc[key]
        side = "down" if math.isfinite(r["down_effect"]) else "up"
        d, se = float(r[f"{side}_effect"]), float(r[f"{side}_se"])
        borrowed = None
        if bool(c["borrowing"]):
            bd, bse = float(c[f"borrowed_{side}_effect_usd"]), float(c[f"borrowed_{side}_se_usd"])
            borrowed = (bd, bd - z * bse, bd + z * bse)
        text = change_in_words(
            _action(str(r["kind"]), str(r["label"]), side, float(r[side])), (d, d - z * se, d + z * se),
            (float(c[f"power_{side}_change_usd"]), float(c["power_base_usd"])), borrowed, res.level,
        )  # fmt: skip
        out.append((key, text[0].upper() + text[1:]))
    return out
