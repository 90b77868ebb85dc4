"""The flagship scenario's borrowers: the Aave v3 Ethereum Core top-1000 snapshot of 2025-12-02.

The snapshot (herculesArmy/aave_v3_risk, shipped as ``aave_v3_top1000_users_2025-12`` and
``aave_v3_top1000_positions_2025-12``) gives, per borrower, total debt and total collateral in USD and a health
factor computed without e-mode, and separately the 1,000 largest debt positions. It does not say what the
collateral is. :func:`aave_v3_positions` infers it, deterministically, from what the snapshot does reveal; every
rule is listed in its docstring and in ``docs/aave-v3-today-inputs.md``.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from firesale.data._aave_v3_params import RESERVES, aave_v3_market_parameters
from firesale.data._resolve import resolve
from firesale.data._tables import parse_values, read_table
from firesale.exceptions import ParameterError

__all__ = [
    "COLLATERAL_PRIOR",
    "DEBT_SYMBOL_MAP",
    "UNIVERSE",
    "aave_v3_positions",
    "aave_v3_prices",
    "load_aave_v3_snapshot",
    "recompute_health_factors",
]

USERS_REF = "firesale-data:aave_v3_top1000_users_2025-12"
POSITIONS_REF = "firesale-data:aave_v3_top1000_positions_2025-12"

UNIVERSE: tuple[str, ...] = ("WETH", "wstETH", "weETH", "WBTC", "USDC", "USDT", "USDe")

# Long-tail debt symbols of the snapshot booked, by USD value, onto the nearest asset of the universe.
DEBT_SYMBOL_MAP: dict[str, str] = {
    "cbBTC": "WBTC",
    "DAI": "USDC",
    "USDS": "USDC",
    "GHO": "USDC",
    "PYUSD": "USDC",
    "RLUSD": "USDC",
    "USDtb": "USDC",
    "EURC": "USDC",
    "LINK": "WETH",
}

# Collateral of the same 1,000 borrowers by USD value, from the snapshot author's own breakdown
# (herculesArmy/aave_v3_risk docs/ASSIGNMENT_ANSWERS.md, "Top 10 Supplied Assets"), long tail mapped:
# weETH = weETH 20.6 + rsETH 2.0 + osETH 1.8; WBTC = WBTC 11.4 + cbBTC 6.4; USDe = sUSDe 5.4 + USDe 3.5.
COLLATERAL_PRIOR: dict[str, float] = {
    "WETH": 24.5,
    "weETH": 24.4,
    "wstETH": 17.1,
    "WBTC": 17.8,
    "USDe": 8.9,
    "USDC": 1.8,
}

# Debt composition of the same borrowers (ASSIGNMENT_ANSWERS.md, "Borrowed Assets"): USDT $4.09B, USDC $3.14B.
_STABLE_SPLIT = {"USDT": 4.09 / (4.09 + 3.14), "USDC": 3.14 / (4.09 + 3.14)}

_ETH_DEBT = frozenset({"WETH", "wstETH", "weETH"})
_BTC_DEBT = frozenset({"WBTC"})

# Non-e-mode liquidation thresholds the snapshot's health factors were computed with, and the asset each level
# stands for. 0.75 is USDe/sUSDe for stablecoin borrowers and the LRTs (rsETH, LT 75% at listing, AIP-diff
# OnboardRsETHToAaveV3Ethereum 2024-11-04) mapped onto weETH for ETH borrowers.
_LEVEL_ASSET_STABLE = {0.83: "WETH", 0.81: "wstETH", 0.80: "weETH", 0.78: "WBTC", 0.75: "USDe"}
_ETH_LADDER_EMODE = ((0.80, "weETH"), (0.81, "wstETH"), (0.83, "WETH"))
_ETH_LADDER_FULL = ((0.75, "weETH"), (0.78, "WBTC"), (0.80, "weETH"), (0.81, "wstETH"), (0.83, "WETH"))

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


# ---------------------------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------------------------


def _read_columns(
    ref: str | Path, base_dir, columns: dict[str, str], caller: str
) -> tuple[pd.DataFrame, Path]:
    path = resolve(ref, base_dir)
    frame, unit = read_table(path, caller)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"{caller}: {path} has no {missing[0]!r} column; its columns are {list(frame.columns)}."
        )
    if len(frame) == 0:
        raise ParameterError(f"{caller}: {path} has a header but no rows.")
    out = pd.DataFrame(index=frame.index)
    for column, kind in columns.items():
        if kind == "address":
            text = frame[column].astype(str).str.strip()
            bad = ~text.map(lambda v: bool(_ADDRESS.fullmatch(v)))
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise ParameterError(
                    f"{caller}: {path}: column {column!r} must hold 0x-prefixed 40-hex-digit addresses; got "
                    f"{text.iloc[i]!r} at {unit} {i + 2 if unit == 'line' else i}."
                )
            out[column] = text.str.lower()
        elif kind == "text":
            text = frame[column].astype(str).str.strip()
            if (text == "").any():
                i = int(np.flatnonzero((text == "").to_numpy())[0])
                raise ParameterError(f"{caller}: {path}: column {column!r} is empty at {unit} {i + 2}.")
            out[column] = text
        else:
            values = parse_values(frame[column], column, path, caller, unit)
            bad = np.isnan(values) | (values < 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ParameterError(
                    f"{caller}: {path}: column {column!r} must hold numbers >= 0; got {values[i]} at "
                    f"{unit} {i + 2 if unit == 'line' else i}."
                )
            out[column] = values
    return out, path


def load_aave_v3_snapshot(
    users: str | Path = USERS_REF,
    positions: str | Path = POSITIONS_REF,
    base_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load the Aave v3 top-borrower snapshot (users and their largest debt positions).

    Parameters
    ----------
    users : str or Path
        Users table with ``user_address``, ``total_debt_usd``, ``total_collateral_usd``, ``health_factor``.
        Defaults to the shipped snapshot of 2025-12-02.
    positions : str or Path
        Debt positions with ``user_address``, ``symbol``, ``amount`` (token units), ``amount_usd``,
        ``price_usd``.
    base_dir : str or Path, optional
        Folder for relative paths.

    Returns
    -------
    users, positions : pandas.DataFrame
        The two tables, addresses lower-cased, numbers as float64, in file order.

    Raises
    ------
    ParameterError
        If a file is missing or unreadable, a column is missing, an address is malformed, a number is negative,
        empty or non-numeric, a user appears twice, a price is zero, or a position belongs to no listed user.

    Notes
    -----
    The snapshot's ``health_factor`` is ``sum(collateral_usd * LT) / total_debt_usd`` with each reserve's base
    liquidation threshold, i.e. without e-mode (herculesArmy/aave_v3_risk ``scripts/fetch_aave_positions_final.py``,
    ``calculate_user_metrics``); 281 users are below 1 on that basis. Collateral without a CoinGecko price was
    left out of ``total_collateral_usd`` by the source (12 users show 0).

    Examples
    --------
    >>> from firesale.data import load_aave_v3_snapshot
    >>> users, positions = load_aave_v3_snapshot()
    >>> len(users), int((users["health_factor"] < 1).sum()), positions["user_address"].nunique()
    (1000, 281, 917)
    """
    caller = "load_aave_v3_snapshot"
    user_table, users_path = _read_columns(
        users,
        base_dir,
        {
            "user_address": "address",
            "total_debt_usd": "number",
            "total_collateral_usd": "number",
            "health_factor": "number",
        },
        caller,
    )
    if user_table["user_address"].duplicated().any():
        address = user_table["user_address"][user_table["user_address"].duplicated()].iloc[0]
        raise ParameterError(f"{caller}: {users_path}: user {address} appears more than once.")
    position_table, positions_path = _read_columns(
        positions,
        base_dir,
        {
            "user_address": "address",
            "symbol": "text",
            "amount": "number",
            "amount_usd": "number",
            "price_usd": "number",
        },
        caller,
    )
    if (position_table["price_usd"] <= 0).any():
        symbol = position_table.loc[position_table["price_usd"] <= 0, "symbol"].iloc[0]
        raise ParameterError(f"{caller}: {positions_path}: price_usd of {symbol} must be > 0. Got 0 instead.")
    orphans = ~position_table["user_address"].isin(user_table["user_address"])
    if orphans.any():
        raise ParameterError(
            f"{caller}: {positions_path}: user {position_table['user_address'][orphans].iloc[0]} has a position "
            f"but is not in {users_path}."
        )
    return user_table.reset_index(drop=True), position_table.reset_index(drop=True)


def aave_v3_prices(
    positions: str | Path = POSITIONS_REF,
    users: str | Path = USERS_REF,
    base_dir: str | Path | None = None,
) -> pd.Series:
    """USD prices of the universe assets at the snapshot, read from the snapshot's own ``price_usd`` column.

    Parameters
    ----------
    positions, users : str or Path
        The snapshot files (see :func:`load_aave_v3_snapshot`).
    base_dir : str or Path, optional
        Folder for relative paths.

    Returns
    -------
    pandas.Series
        Indexed by asset (``UNIVERSE`` order), USD per token.

    Raises
    ------
    ParameterError
        If an asset of the universe has no position in the file, or two different prices.

    Notes
    -----
    All seven universe assets are borrowed by someone in the snapshot, so every price comes from the same
    CoinGecko fetch (``price_fetcher.py`` of the source) as the USD values in the snapshot; the WETH price
    2824.93892778 is the anchor. These prices value collateral and debt alike.

    Examples
    --------
    >>> from firesale.data import aave_v3_prices
    >>> float(aave_v3_prices()["WETH"])
    2824.93892778
    """
    _, table = load_aave_v3_snapshot(users, positions, base_dir)
    prices = {}
    for asset in UNIVERSE:
        values = table.loc[table["symbol"] == asset, "price_usd"].unique()
        if len(values) == 0:
            raise ParameterError(
                f"aave_v3_prices: the snapshot has no {asset} position to read its price from."
            )
        if len(values) > 1:
            raise ParameterError(
                f"aave_v3_prices: {asset} has {len(values)} different prices in the snapshot."
            )
        prices[asset] = float(values[0])
    return pd.Series(prices, name="price_usd")


# ---------------------------------------------------------------------------------------------------------------
# inference of the collateral composition
# ---------------------------------------------------------------------------------------------------------------


def _tilted_mix(target: float, prior: dict[str, float], thresholds: dict[str, float]) -> dict[str, float]:
    """The mix closest to ``prior`` (minimum relative entropy) whose average threshold equals ``target``."""
    from scipy.optimize import brentq  # imported here: firesale.data should not pay for scipy on import

    assets = list(prior)
    p = np.array([prior[a] for a in assets], dtype=float)
    p /= p.sum()
    lt = np.array([thresholds[a] for a in assets])
    lo, hi = lt.min(), lt.max()
    if target <= lo:
        return {a: 1.0 / np.sum(lt == lo) for a, v in zip(assets, lt, strict=True) if v == lo}
    if target >= hi:
        return {a: 1.0 / np.sum(lt == hi) for a, v in zip(assets, lt, strict=True) if v == hi}

    def weights(theta: float) -> np.ndarray:
        z = theta * (lt - target)
        w = p * np.exp(z - z.max())
        return w / w.sum()

    theta = brentq(
        lambda t: float(weights(t) @ (lt - target)), -1e5, 1e5, xtol=1e-12, rtol=1e-14, maxiter=500
    )
    return {a: float(w) for a, w in zip(assets, weights(theta), strict=True) if w > 0}


def _ladder_mix(target: float, ladder: tuple[tuple[float, str], ...]) -> dict[str, float]:
    """Linear interpolation between the two adjacent rungs of ``ladder`` that bracket ``target``."""
    if target <= ladder[0][0]:
        return {ladder[0][1]: 1.0}
    if target >= ladder[-1][0]:
        return {ladder[-1][1]: 1.0}
    for (lt_a, asset_a), (lt_b, asset_b) in itertools.pairwise(ladder):
        if lt_a <= target <= lt_b:
            upper = (target - lt_a) / (lt_b - lt_a)
            mix: dict[str, float] = {}
            mix[asset_a] = mix.get(asset_a, 0.0) + (1.0 - upper)
            mix[asset_b] = mix.get(asset_b, 0.0) + upper
            return mix
    raise AssertionError("unreachable: the ladder is sorted and brackets the target")


def _collateral_mix(
    target: float, tolerance: float, debt_class: str, emode_needed: bool
) -> tuple[dict[str, float], str]:
    thresholds = {r.asset: r.liquidation_threshold for r in RESERVES}
    if debt_class == "ETH":
        ladder = _ETH_LADDER_EMODE if emode_needed else _ETH_LADDER_FULL
        for lt, asset in ladder:
            if abs(target - lt) <= tolerance:
                return {asset: 1.0}, f"exact LT {lt:.2f}"
        return _ladder_mix(target, ladder), "ETH ladder (e-mode)" if emode_needed else "ETH ladder"
    for lt, asset in _LEVEL_ASSET_STABLE.items():
        if abs(target - lt) <= tolerance:
            return {asset: 1.0}, f"exact LT {lt:.2f}"
    return _tilted_mix(target, COLLATERAL_PRIOR, thresholds), "prior tilted to LT"


def _debt_rows(positions: pd.DataFrame, prices: pd.Series) -> tuple[dict, dict, dict]:
    """Per user: debt in tokens per universe asset, listed USD, and the asset of the largest listed position."""
    mapped = positions.assign(asset=positions["symbol"].map(lambda s: DEBT_SYMBOL_MAP.get(s, s)))
    unknown = sorted(set(mapped["asset"]) - set(UNIVERSE))
    if unknown:
        raise ParameterError(
            f"aave_v3_positions: debt symbol {unknown[0]!r} is neither in the universe {list(UNIVERSE)} nor in "
            f"DEBT_SYMBOL_MAP."
        )
    # A listed symbol of the universe keeps its token amount (the USD column is rounded to cents); a mapped
    # symbol is converted at its USD value.
    same = mapped["asset"] == mapped["symbol"]
    mapped["tokens"] = np.where(same, mapped["amount"], mapped["amount_usd"] / mapped["asset"].map(prices))
    debt_tokens: dict[str, dict[str, float]] = {}
    listed_usd: dict[str, float] = {}
    largest: dict[str, str] = {}
    for address, rows in mapped.groupby("user_address", sort=False):
        debt_tokens[address] = rows.groupby("asset")["tokens"].sum().to_dict()
        listed_usd[address] = float(rows["amount_usd"].sum())
        largest[address] = str(rows.loc[rows["amount_usd"].idxmax(), "asset"])
    return debt_tokens, listed_usd, largest


def aave_v3_positions(
    users: str | Path = USERS_REF,
    positions: str | Path = POSITIONS_REF,
    base_dir: str | Path | None = None,
    details: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Positions of the Aave v3 top-1000 borrowers in the engine's format, with inferred collateral.

    Parameters
    ----------
    users, positions : str or Path
        The snapshot files (see :func:`load_aave_v3_snapshot`); the shipped 2025-12-02 snapshot by default.
    base_dir : str or Path, optional
        Folder for relative paths.
    details : bool, default False
        Also return one row per borrower describing how its position was inferred.

    Returns
    -------
    positions : pandas.DataFrame
        Columns ``account``, ``asset``, ``collateral_amount``, ``debt_amount`` (token units), one row per
        (account, asset) with a non-zero amount, assets from ``UNIVERSE``.
    accounts : pandas.DataFrame, only if ``details``
        Per borrower: ``account``, ``debt_class`` (ETH, BTC, STABLE), ``implied_lt``, ``emode_needed``,
        ``rule``, ``included``, ``total_debt_usd``, ``total_collateral_usd``, ``health_factor_source``.

    Raises
    ------
    ParameterError
        If the snapshot files do not load, or ``details`` is not a bool.

    Notes
    -----
    What the snapshot reveals per borrower is the total debt :math:`D`, the total collateral :math:`C` and the
    health factor :math:`HF_s = \\sum_i C_i\\,LT_i / D` computed with base (non-e-mode) thresholds, hence the
    collateral's value-weighted threshold :math:`\\lambda = HF_s D / C`; and the largest debt positions. The
    inference, in order:

    1. Debt. Listed positions are kept; symbols outside the universe are booked by USD value onto the nearest
       universe asset (``DEBT_SYMBOL_MAP``: cbBTC to WBTC; DAI, USDS, GHO, PYUSD, RLUSD, USDtb, EURC to USDC;
       LINK to WETH). The residual :math:`D - \\sum` listed of the 917 listed users ($77M, 0.5% of all debt) is
       booked to the user's largest listed asset, which keeps the user's e-mode eligibility as observed. The 83
       users without a listed position ($123M) borrow WETH if :math:`HF_s < 1` and :math:`\\lambda \\ge 0.80`
       (127 of the 129 listed users in that state borrow ETH assets) and stablecoins otherwise (605 of the 645
       listed users with :math:`HF_s \\ge 1` borrow non-ETH assets), split USDT:USDC = 4.09:3.14 (the
       borrowers' aggregate).
    2. E-mode need. :math:`HF_s < 1` means the account would be liquidatable outside e-mode, so it is in one.
    3. Collateral, ETH borrowers (WETH, wstETH, weETH debt): :math:`\\lambda` is placed on a ladder of base
       thresholds and split linearly between the two bracketing rungs. In e-mode the ladder is weETH 0.80,
       wstETH 0.81, WETH 0.83 (the ETH-correlated collateral), clamped below at weETH; otherwise 0.75 (LRTs such
       as rsETH, LT 75%, mapped onto weETH), WBTC 0.78, weETH 0.80, wstETH 0.81, WETH 0.83.
    4. Collateral, other borrowers: if :math:`\\lambda` equals a base threshold (within the 4-decimal rounding
       of :math:`HF_s`, at most 0.001) the collateral is that asset (0.83 WETH, 0.81 wstETH, 0.80 weETH, 0.78 WBTC, 0.75 USDe);
       otherwise it is the mix closest in relative entropy to the borrowers' aggregate collateral composition
       (``COLLATERAL_PRIOR``) whose average threshold is :math:`\\lambda` (exponential tilting); outside
       [0.75, 0.83] it is clamped to USDe or WETH.
    5. Amounts are USD values divided by the snapshot prices (:func:`aave_v3_prices`). The 12 users whose
       collateral the source could not price (``total_collateral_usd == 0``) are left out.

    ``USDe`` stands for USDe, sUSDe and Ethena PT tokens (sUSDe is worth about 1.2 USDe; amounts are in USDe
    at the USDe price, so USD values are preserved). The base-threshold health factor
    (``recompute_health_factors(..., use_emode=False)``) equals the source's, to its 4 decimals, for every
    account whose :math:`\\lambda` lies in [0.75, 0.83] and whose collateral was not mapped (the ETH
    borrowers' 0.75 rung maps LRTs, LT 0.75, onto weETH, LT 0.80).

    References
    ----------
    herculesArmy/aave_v3_risk (commit e273108): ``data/top_1000_borrowed_users.csv``,
    ``data/top_1000_borrowed_positions.csv``, ``docs/ASSIGNMENT_ANSWERS.md``.

    Examples
    --------
    >>> from firesale.data import aave_v3_positions
    >>> positions = aave_v3_positions()
    >>> list(positions.columns)
    ['account', 'asset', 'collateral_amount', 'debt_amount']
    """
    if not isinstance(details, bool):
        raise ParameterError(
            f"The 'details' parameter of aave_v3_positions must be a bool. Got {details!r} instead."
        )
    user_table, position_table = load_aave_v3_snapshot(users, positions, base_dir)
    prices = aave_v3_prices(positions, users, base_dir)
    debt_tokens, listed_usd, largest = _debt_rows(position_table, prices)

    rows: list[dict] = []
    accounts: list[dict] = []
    for user in user_table.itertuples(index=False):
        address, total_debt, total_coll, hf_source = (
            user.user_address,
            user.total_debt_usd,
            user.total_collateral_usd,
            user.health_factor,
        )
        included = total_coll > 0 and total_debt > 0
        implied = hf_source * total_debt / total_coll if total_coll > 0 else math.nan
        emode_needed = hf_source < 1.0
        if address in debt_tokens:
            tokens = dict(debt_tokens[address])
            residual = total_debt - listed_usd[address]
            # Rounding in the source can leave a residual of a few cents of either sign.
            if residual > 0:
                tokens[largest[address]] = (
                    tokens.get(largest[address], 0.0) + residual / prices[largest[address]]
                )
            main = largest[address]
        elif emode_needed and implied >= 0.80 - 0.5e-4:
            tokens, main = {"WETH": total_debt / prices["WETH"]}, "WETH"
        else:
            tokens = {asset: share * total_debt / prices[asset] for asset, share in _STABLE_SPLIT.items()}
            main = "USDT"
        debt_class = "ETH" if main in _ETH_DEBT else "BTC" if main in _BTC_DEBT else "STABLE"

        if included:
            # HF_s is published with 4 decimals; for near-empty accounts that error is capped, not followed.
            tolerance = min(0.5e-4 * total_debt / total_coll, 1e-3) + 1e-9
            mix, rule = _collateral_mix(implied, tolerance, debt_class, emode_needed)
            amounts = {asset: {"collateral_amount": 0.0, "debt_amount": 0.0} for asset in UNIVERSE}
            for asset, weight in mix.items():
                amounts[asset]["collateral_amount"] += weight * total_coll / prices[asset]
            for asset, amount in tokens.items():
                amounts[asset]["debt_amount"] += amount
            for asset in UNIVERSE:
                if amounts[asset]["collateral_amount"] > 0 or amounts[asset]["debt_amount"] > 0:
                    rows.append({"account": address, "asset": asset, **amounts[asset]})
        else:
            rule = "excluded: no priced collateral in the source"
        accounts.append(
            {
                "account": address,
                "debt_class": debt_class,
                "implied_lt": implied,
                "emode_needed": emode_needed,
                "rule": rule,
                "included": included,
                "total_debt_usd": total_debt,
                "total_collateral_usd": total_coll,
                "health_factor_source": hf_source,
            }
        )
    table = pd.DataFrame(rows, columns=["account", "asset", "collateral_amount", "debt_amount"])
    if details:
        return table, pd.DataFrame(accounts)
    return table


# ---------------------------------------------------------------------------------------------------------------
# health factors
# ---------------------------------------------------------------------------------------------------------------


def _check_positions(positions: pd.DataFrame) -> None:
    required = ["account", "asset", "collateral_amount", "debt_amount"]
    if not isinstance(positions, pd.DataFrame) or any(c not in positions.columns for c in required):
        raise ParameterError(
            f"The 'positions' parameter of recompute_health_factors must be a DataFrame with columns {required}."
        )
    for column in ("collateral_amount", "debt_amount"):
        values = pd.to_numeric(positions[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ParameterError(
                f"The 'positions' parameter of recompute_health_factors must have finite {column} >= 0. "
                f"Got {values[i]} for account {positions['account'].iloc[i]!r}."
            )
    if positions.duplicated(["account", "asset"]).any():
        row = positions[positions.duplicated(["account", "asset"])].iloc[0]
        raise ParameterError(
            "The 'positions' parameter of recompute_health_factors must have one row per (account, asset). "
            f"Got two rows for ({row['account']!r}, {row['asset']!r})."
        )


def recompute_health_factors(
    positions: pd.DataFrame,
    prices: pd.Series | None = None,
    reserves: pd.DataFrame | None = None,
    emodes: pd.DataFrame | None = None,
    use_emode: bool = True,
) -> pd.DataFrame:
    """Health factor of every account, with each account in its best eligible e-mode category.

    Parameters
    ----------
    positions : pandas.DataFrame
        ``account``, ``asset``, ``collateral_amount``, ``debt_amount`` (token units), as from
        :func:`aave_v3_positions`.
    prices : pandas.Series, optional
        USD price per asset; the snapshot prices (:func:`aave_v3_prices`) by default.
    reserves, emodes : pandas.DataFrame, optional
        Market parameters as from :func:`aave_v3_market_parameters` (its values by default).
    use_emode : bool, default True
        If False, every account uses base thresholds (the snapshot's own convention).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``account``: ``collateral_usd``, ``debt_usd``, ``health_factor_base`` (no e-mode),
        ``emode`` (category id, 0 for none) and ``health_factor``. Accounts without debt have an infinite
        health factor.

    Raises
    ------
    ParameterError
        If ``positions`` lacks a column, has a negative or non-finite amount or a repeated (account, asset), or
        an asset has no price or no reserve parameters.

    Notes
    -----
    As ``GenericLogic.calculateUserAccountData`` in aave-dao/aave-v3-origin v3.5.0 (commit 3871ac5,
    ``src/contracts/protocol/libraries/logic/GenericLogic.sol``):

    .. math::

        HF = \\frac{\\sum_i C_i\\,p_i\\,LT_i}{\\sum_j D_j\\,p_j}, \\qquad
        LT_i = \\begin{cases} LT^{e}_k & \\text{user in category } k \\text{ and } i \\in \\text{collateral}_k \\\\
        LT_i^{\\text{base}} & \\text{otherwise} \\end{cases}

    A user may be in category :math:`k` only if every borrowed asset is in its ``borrowable`` set
    (``ValidationLogic.validateSetUserEMode``); collateral outside the category keeps its base threshold. Each
    account is put in the eligible category (with at least one of its collateral assets in it) that gives the
    highest HF, ties to the lower id, since the snapshot does not record the user's category; that choice is
    the most favourable to the borrower. Float64; the contract rounds the base-currency values (collateral
    down, debt up) and computes ``wadDiv`` half-up then divides by 1e4 rounding down, a difference below 1e-12
    relative at these sizes.

    Examples
    --------
    >>> import pandas as pd
    >>> from firesale.data import recompute_health_factors
    >>> book = pd.DataFrame({"account": ["a", "a"], "asset": ["wstETH", "WETH"],
    ...                      "collateral_amount": [1.0, 0.0], "debt_amount": [0.0, 1.0]})
    >>> hf = recompute_health_factors(book, prices=pd.Series({"wstETH": 1.2, "WETH": 1.0}))
    >>> round(float(hf.loc["a", "health_factor_base"]), 6), int(hf.loc["a", "emode"]), round(float(hf.loc["a", "health_factor"]), 6)
    (0.972, 1, 1.14)
    """
    _check_positions(positions)
    if not isinstance(use_emode, bool):
        raise ParameterError(
            f"The 'use_emode' parameter of recompute_health_factors must be a bool. Got {use_emode!r} instead."
        )
    default_reserves, default_emodes = aave_v3_market_parameters()
    reserves = default_reserves if reserves is None else reserves
    emodes = default_emodes if emodes is None else emodes
    prices = aave_v3_prices() if prices is None else prices
    assets = sorted(set(positions["asset"]))
    for asset in assets:
        if asset not in prices.index or not np.isfinite(prices[asset]) or prices[asset] <= 0:
            raise ParameterError(
                f"The 'prices' parameter of recompute_health_factors must give a price > 0 for {asset!r}."
            )
        if asset not in reserves.index:
            raise ParameterError(
                f"The 'reserves' parameter of recompute_health_factors has no parameters for {asset!r}."
            )
    collateral = positions.pivot_table(
        index="account", columns="asset", values="collateral_amount", aggfunc="sum", fill_value=0.0
    ).reindex(columns=assets, fill_value=0.0)
    debt = positions.pivot_table(
        index="account", columns="asset", values="debt_amount", aggfunc="sum", fill_value=0.0
    ).reindex(index=collateral.index, columns=assets, fill_value=0.0)
    price = prices.reindex(assets).to_numpy(dtype=float)
    coll_usd = collateral.to_numpy(dtype=float) * price
    debt_usd = debt.to_numpy(dtype=float) * price
    total_debt = debt_usd.sum(axis=1)
    base_lt = reserves.loc[assets, "liquidation_threshold"].to_numpy(dtype=float)

    with np.errstate(divide="ignore", invalid="ignore"):
        hf_base = np.where(total_debt > 0, coll_usd @ base_lt / total_debt, np.inf)
    best = hf_base.copy()
    category = np.zeros(len(best), dtype=np.int64)
    if use_emode:
        for cat_id, cat in emodes.sort_index().iterrows():
            in_collateral = np.array([a in cat["collateral"] for a in assets])
            borrowable = np.array([a in cat["borrowable"] for a in assets])
            eligible = (debt_usd[:, ~borrowable].sum(axis=1) == 0) & (
                coll_usd[:, in_collateral].sum(axis=1) > 0
            )
            lt = np.where(in_collateral, float(cat["liquidation_threshold"]), base_lt)
            with np.errstate(divide="ignore", invalid="ignore"):
                hf = np.where(total_debt > 0, coll_usd @ lt / total_debt, np.inf)
            better = eligible & (hf > best)
            best = np.where(better, hf, best)
            category = np.where(better, int(cat_id), category)
    return pd.DataFrame(
        {
            "collateral_usd": coll_usd.sum(axis=1),
            "debt_usd": total_debt,
            "health_factor_base": hf_base,
            "emode": category,
            "health_factor": best,
        },
        index=pd.Index(collateral.index, name="account"),
    )
