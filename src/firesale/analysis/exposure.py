"""Exposure of a scenario's starting book: health factors at given prices, and what a price drop puts at risk.

Static views (no liquidation, no impact): they say where the book stands before the engine runs, and at the
prices a run reached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from firesale.analysis.borrowing_power import ltv_matrix
from firesale.engine._blueprint import Blueprint
from firesale.exceptions import ParameterError
from firesale.protocols.lending import health_factor
from firesale.protocols.lending_market import LendingMarket
from firesale.scenario import Scenario

__all__ = ["health_factors", "liquidation_curve"]


def _ratios(bp: Blueprint, price_ratios: Mapping[str, float] | None) -> np.ndarray:
    ratios = np.ones(len(bp.assets))
    for name, value in (price_ratios or {}).items():
        if name not in bp.assets:
            raise ParameterError(
                f"The 'price_ratios' parameter of health_factors must name assets of the scenario {bp.assets}. "
                f"Got {name!r} instead."
            )
        if not (np.isfinite(value) and value > 0):
            raise ParameterError(
                f"The 'price_ratios' parameter of health_factors must hold positive finite ratios. "
                f"Got {name}={value!r} instead."
            )
        ratios[bp.assets.index(name)] = value
    for a, parent in enumerate(bp.parents):  # derived assets move with their parent unless given
        if parent >= 0 and bp.assets[a] not in (price_ratios or {}):
            ratios[a] = ratios[parent]
    return ratios


def health_factors(scenario: Scenario, price_ratios: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Health factor of every account of every lending market, at starting prices times ``price_ratios``.

    Parameters
    ----------
    scenario : Scenario
    price_ratios : mapping of asset name to float, optional
        Price relative to the start, per asset (missing assets 1; derived assets follow their parent).

    Returns
    -------
    pandas.DataFrame
        Columns protocol, account, health_factor (inf without debt), collateral_usd, debt_usd,
        borrowing_power_usd (what the account may borrow in all: collateral value times ltv, with its e-mode
        category's ltv on the category's collateral; NaN for merged cohorts) and emode (the category's label,
        "" outside e-mode).

    References
    ----------
    aave-dao/aave-v3-origin, src/contracts/protocol/libraries/logic/GenericLogic.sol, calculateUserAccountData
    (avgLtv and availableBorrows; e-mode ltv applies to the category's collateral).
    """
    bp = Blueprint.build(scenario)
    prices = bp.price0 * _ratios(bp, price_ratios)
    specs = {s.name: s for s in scenario.spec.protocols}
    frames = []
    for plan in _lending_plans(bp):
        proto = plan.model
        p = prices[plan.assets][None, :]
        power, label = _borrowing_power(specs.get(proto.name), scenario, proto, p)
        hf = health_factor(proto.collateral0[None], proto.debt0[None], p, proto.params.liquidation_threshold)[
            0
        ]
        frames.append(
            pd.DataFrame(
                {
                    "protocol": proto.name,
                    "account": scenario.positions[proto.name].accounts
                    if proto.params.weight is None
                    else np.arange(len(hf)),
                    "health_factor": hf,
                    "collateral_usd": (proto.collateral0 * p).sum(axis=1),
                    "debt_usd": (proto.debt0 * p).sum(axis=1),
                    "borrowing_power_usd": power,
                    "emode": label,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else _EMPTY_ACCOUNTS.copy()


#: The columns of :func:`health_factors`, for a world without a lending market (a CDP or a perp venue only).
_EMPTY_ACCOUNTS = pd.DataFrame(
    {
        "protocol": pd.Series(dtype=object),
        "account": pd.Series(dtype=object),
        **{
            k: pd.Series(dtype=float)
            for k in ("health_factor", "collateral_usd", "debt_usd", "borrowing_power_usd")
        },
        "emode": pd.Series(dtype=object),
    }
)


def _lending_plans(bp: Blueprint) -> list:  # type: ignore[type-arg]
    """The plans of the lending markets: the book of accounts with health factors (CDPs and perps keep theirs
    apart, in their own models' metrics)."""
    return [plan for plan in bp.plans if isinstance(plan.model, LendingMarket)]


def _borrowing_power(spec, scenario: Scenario, proto, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Per row: collateral value times ltv (e-mode's on its collateral), and the e-mode label."""
    n = proto.collateral0.shape[0]
    label = np.full(n, "", dtype=object)
    if spec is None or not hasattr(spec, "reserves") or proto.params.weight is not None:
        return np.full(n, np.nan), label  # cohorts merge accounts: no per-account e-mode to apply
    emode = scenario.positions[proto.name].emode
    for cid, cat in spec.emode.items():
        label[emode == cid] = cat.label or f"e-mode {cid}"
    return (proto.collateral0 * prices * ltv_matrix(spec, emode)).sum(axis=1), label


def liquidation_curve(scenario: Scenario, drops: Sequence[float] | None = None) -> pd.DataFrame:
    """Collateral and debt of accounts below health factor 1 after a uniform drop of every volatile asset.

    "Volatile" means every asset the market model drives, and assets derived from them; the others (stablecoins
    held at their price) do not move.

    Returns
    -------
    pandas.DataFrame
        Columns drop (fraction), n_accounts, collateral_usd, debt_usd: the exposure liquidatable at that drop.
    """
    bp = Blueprint.build(scenario)
    drops = np.linspace(0.0, 0.9, 46) if drops is None else np.asarray(drops, dtype=float)
    if drops.ndim != 1 or not np.all((drops >= 0) & (drops < 1)):
        raise ParameterError(
            f"The 'drops' parameter of liquidation_curve must be fractions in [0, 1). Got {drops!r} instead."
        )
    moving = np.zeros(len(bp.assets), dtype=bool)
    moving[bp.market_assets] = True
    for a in range(len(bp.assets)):
        root = a
        while bp.parents[root] >= 0:
            root = bp.parents[root]
        moving[a] = moving[root]
    rows = []
    for drop in drops:
        prices = bp.price0 * np.where(moving, 1.0 - drop, 1.0)
        n = coll = debt = 0.0
        for plan in _lending_plans(bp):
            proto = plan.model
            p = prices[plan.assets][None, :]
            hf = health_factor(
                proto.collateral0[None], proto.debt0[None], p, proto.params.liquidation_threshold
            )[0]
            below = hf < 1.0
            w = proto.params.weights()
            n += float(w[below].sum())
            coll += float((proto.collateral0[below] * p).sum())
            debt += float((proto.debt0[below] * p).sum())
        rows.append((float(drop), n, coll, debt))
    return pd.DataFrame(rows, columns=["drop", "n_accounts", "collateral_usd", "debt_usd"])
