"""Loaders for DEX venue data: Uniswap v3 tick maps and Curve StableSwap pool histories."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from firesale.data._prices import load_prices
from firesale.data._resolve import resolve
from firesale.data._tables import parse_values, read_table
from firesale.exceptions import ParameterError

__all__ = ["load_curve_pool", "load_uniswap_v3_ticks", "uniswap_v3_depth"]

MIN_TICK = -887272
MAX_TICK = 887272
_Q96 = 2.0**96


def _int_field(meta: dict[str, Any], key: str, path: Path, caller: str, minimum: int | None = None) -> int:
    value = meta.get(key)
    # JSON numbers above 2**53 arrive as Python ints already; decimals arrive as strings in the subgraph export.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ParameterError(f"{caller}: {path}: field {key!r} must be an integer. Got {value!r} instead.")
    try:
        number = int(value)
    except ValueError as exc:
        raise ParameterError(
            f"{caller}: {path}: field {key!r} must be an integer. Got {value!r} instead."
        ) from exc
    if minimum is not None and number < minimum:
        raise ParameterError(f"{caller}: {path}: field {key!r} must be >= {minimum}. Got {number} instead.")
    return number


def _read_meta(path: Path, caller: str) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{caller}: cannot read {path} as JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise ParameterError(f"{caller}: {path} must hold a JSON object. Got {type(meta).__name__} instead.")
    out = dict(meta)
    out["currentTick"] = _int_field(meta, "currentTick", path, caller)
    if not MIN_TICK <= out["currentTick"] <= MAX_TICK:
        raise ParameterError(
            f"{caller}: {path}: field 'currentTick' must be in [{MIN_TICK}, {MAX_TICK}]. "
            f"Got {out['currentTick']} instead."
        )
    out["sqrtPriceX96"] = _int_field(meta, "sqrtPriceX96", path, caller, minimum=1)
    out["liquidity"] = _int_field(meta, "liquidity", path, caller, minimum=0)
    out["feeTier"] = _int_field(meta, "feeTier", path, caller, minimum=0)
    for side in ("token0", "token1"):
        token = meta.get(side)
        if not isinstance(token, dict) or "symbol" not in token:
            raise ParameterError(
                f"{caller}: {path}: field {side!r} must be an object with 'symbol' and 'decimals'."
            )
        out[side] = {
            **token,
            "decimals": _int_field(token, "decimals", path, f"{caller} ({side})", minimum=0),
        }
    return out


def load_uniswap_v3_ticks(
    ticks: str | Path = "firesale-data:univ3_usdc_weth_005_ticks",
    meta: str | Path = "firesale-data:univ3_usdc_weth_005_meta",
    base_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load a Uniswap v3 pool's initialised ticks and its state.

    Parameters
    ----------
    ticks : str or Path
        Tick table (Parquet or CSV) with columns ``tickIdx`` and ``liquidityNet`` (``liquidityGross`` optional).
        Defaults to the shipped USDC/WETH 0.05% snapshot.
    meta : str or Path
        JSON object with ``currentTick``, ``sqrtPriceX96``, ``liquidity``, ``feeTier`` and ``token0``/``token1``
        (each with ``symbol`` and ``decimals``), as exported from the Uniswap v3 subgraph.
    base_dir : str or Path, optional
        Folder for relative paths.

    Returns
    -------
    ticks : pandas.DataFrame
        ``tickIdx`` (int64, ascending, unique), ``liquidityNet`` (float64) and ``liquidityGross`` if present.
    meta : dict
        The JSON object with ``currentTick``, ``sqrtPriceX96``, ``liquidity``, ``feeTier`` and the tokens'
        ``decimals`` converted to int.

    Raises
    ------
    ParameterError
        If a file is missing or unreadable, a column or field is missing, a tick is not an integer in
        [-887272, 887272], ticks repeat, or a liquidity value is not finite.

    Notes
    -----
    ``liquidityNet`` is the signed change of active liquidity when the price crosses the tick upwards
    (``Tick.cross`` in Uniswap/v3-core ``contracts/libraries/Tick.sol``). The shipped file stores it as float64,
    so values above 2**53 have lost their low bits: the sum over all ticks is -4096 instead of 0.

    Examples
    --------
    >>> from firesale.data import load_uniswap_v3_ticks
    >>> ticks, meta = load_uniswap_v3_ticks()
    >>> len(ticks), meta["currentTick"], meta["token0"]["symbol"], meta["token1"]["symbol"]
    (3510, 196429, 'USDC', 'WETH')
    """
    caller = "load_uniswap_v3_ticks"
    ticks_path = resolve(ticks, base_dir)
    frame, unit = read_table(ticks_path, caller)
    for column in ("tickIdx", "liquidityNet"):
        if column not in frame.columns:
            raise ParameterError(
                f"{caller}: {ticks_path} has no {column!r} column; its columns are {list(frame.columns)}."
            )
    if len(frame) == 0:
        raise ParameterError(f"{caller}: {ticks_path} has no rows.")
    tick_values = parse_values(frame["tickIdx"], "tickIdx", ticks_path, caller, unit)
    bad = np.isnan(tick_values) | (tick_values != np.round(tick_values)) | (np.abs(tick_values) > MAX_TICK)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(
            f"{caller}: {ticks_path}: column 'tickIdx' must hold integers in [{MIN_TICK}, {MAX_TICK}]; "
            f"got {tick_values[i]} at {unit} {i + 2 if unit == 'line' else i}."
        )
    out = pd.DataFrame({"tickIdx": tick_values.astype(np.int64)})
    for column in ("liquidityNet", "liquidityGross"):
        if column in frame.columns:
            values = parse_values(frame[column], column, ticks_path, caller, unit)
            if np.isnan(values).any():
                raise ParameterError(f"{caller}: {ticks_path}: column {column!r} has empty cells.")
            out[column] = values
    if out["tickIdx"].duplicated().any():
        tick = int(out["tickIdx"][out["tickIdx"].duplicated()].iloc[0])
        raise ParameterError(f"{caller}: {ticks_path}: tick {tick} appears more than once.")
    out = out.sort_values("tickIdx", kind="stable").reset_index(drop=True)
    return out, _read_meta(resolve(meta, base_dir), caller)


def _check_fractions(moves: Sequence[float] | float) -> list[float]:
    values = [moves] if isinstance(moves, int | float) else list(moves)
    if not values or not all(
        isinstance(m, int | float) and not isinstance(m, bool) and 0 < m < 1 for m in values
    ):
        raise ParameterError(
            "The 'moves' parameter of uniswap_v3_depth must be a fraction in (0, 1) or a non-empty list of them. "
            f"Got {moves!r} instead."
        )
    return [float(m) for m in values]


def uniswap_v3_depth(
    ticks: pd.DataFrame,
    meta: dict[str, Any],
    moves: Sequence[float] | float = (0.02, 0.05, 0.10, 0.20),
) -> pd.DataFrame:
    """Amounts that move a Uniswap v3 pool's price by given fractions, walking its initialised ticks.

    Parameters
    ----------
    ticks, meta
        As returned by :func:`load_uniswap_v3_ticks`.
    moves : float or sequence of float
        Price moves as fractions in (0, 1): 0.02 means the price of token1 in token0 falls (or rises) by 2%.

    Returns
    -------
    pandas.DataFrame
        Two rows per move: ``side`` ``"sell_token1"`` (token1 sold into the pool, its price falls by ``move``)
        and ``"sell_token0"`` (token1 bought, its price rises by ``move``). Columns ``move``, ``side``,
        ``token_in``, ``amount_in`` (before the pool fee), ``amount_in_with_fee``, ``token_out``, ``amount_out``
        (token units), ``value_in_token0`` (the input valued at the starting price, in token0 units) and
        ``ticks_crossed``.

    Notes
    -----
    Within a range of constant active liquidity :math:`L`, moving the square-root price (token1 per token0, raw
    units) from :math:`\\sqrt{P_a}` to :math:`\\sqrt{P_b}` exchanges

    .. math::

        \\Delta y = L\\,(\\sqrt{P_b} - \\sqrt{P_a}), \\qquad \\Delta x = L\\,(1/\\sqrt{P_a} - 1/\\sqrt{P_b})

    of token1 and token0 (``SqrtPriceMath.getAmount0Delta/getAmount1Delta``); crossing tick :math:`i` upwards
    adds ``liquidityNet[i]`` to :math:`L`, downwards subtracts it (``Tick.cross``; ``SwapMath.computeSwapStep``),
    all in Uniswap/v3-core ``contracts/libraries/``. The walk starts from ``meta["sqrtPriceX96"]`` and
    ``meta["liquidity"]``; ticks at or below ``currentTick`` are already crossed. Float64 throughout, without
    the contract's rounding (amounts in are rounded up, out down, by at most one raw unit per step); the fee is
    added on the input as the contract does, ``amount_in * fee / (1e6 - fee)``.

    Examples
    --------
    >>> from firesale.data import load_uniswap_v3_ticks, uniswap_v3_depth
    >>> ticks, meta = load_uniswap_v3_ticks()
    >>> depth = uniswap_v3_depth(ticks, meta, moves=[0.02])
    >>> list(depth["side"]), list(depth["token_in"])
    (['sell_token1', 'sell_token0'], ['WETH', 'USDC'])
    """
    fractions = _check_fractions(moves)
    if not isinstance(ticks, pd.DataFrame) or not {"tickIdx", "liquidityNet"} <= set(ticks.columns):
        raise ParameterError(
            "The 'ticks' parameter of uniswap_v3_depth must be a DataFrame with columns tickIdx and liquidityNet "
            "(as returned by load_uniswap_v3_ticks)."
        )
    required = ("currentTick", "sqrtPriceX96", "liquidity", "feeTier", "token0", "token1")
    if not isinstance(meta, dict) or any(k not in meta for k in required):
        raise ParameterError(
            f"The 'meta' parameter of uniswap_v3_depth must be a dict with keys {list(required)} "
            "(as returned by load_uniswap_v3_ticks)."
        )
    order = ticks.sort_values("tickIdx")
    tick_idx = order["tickIdx"].to_numpy(dtype=np.int64)
    net = order["liquidityNet"].to_numpy(dtype=np.float64)
    current = int(meta["currentTick"])
    s0 = int(meta["sqrtPriceX96"]) / _Q96
    l0 = float(int(meta["liquidity"]))
    dec0 = int(meta["token0"]["decimals"])
    dec1 = int(meta["token1"]["decimals"])
    fee = int(meta["feeTier"]) / 1e6
    price1_in_0 = 10.0 ** (dec1 - dec0) / (s0 * s0)  # human price of token1 in token0

    above = tick_idx > current
    up_ticks, up_net = tick_idx[above], net[above]
    down_ticks, down_net = tick_idx[~above][::-1], net[~above][::-1]

    rows = []
    for move in fractions:
        # Selling token1 raises P = token1/token0; selling token0 lowers it.
        for side, target in (
            ("sell_token1", s0 / math.sqrt(1.0 - move)),
            ("sell_token0", s0 * math.sqrt(1.0 - move)),
        ):
            s, liquidity, amount0, amount1, crossed = s0, l0, 0.0, 0.0, 0
            if side == "sell_token1":
                for t, dl in zip(up_ticks, up_net, strict=True):
                    s_tick = 1.0001 ** (t / 2.0)
                    if s_tick > target:
                        break
                    amount1 += liquidity * (s_tick - s)
                    amount0 += liquidity * (1.0 / s - 1.0 / s_tick)
                    liquidity += dl
                    s, crossed = s_tick, crossed + 1
                amount1 += liquidity * (target - s)
                amount0 += liquidity * (1.0 / s - 1.0 / target)
                amount_in, amount_out = amount1 / 10.0**dec1, amount0 / 10.0**dec0
                token_in, token_out = meta["token1"]["symbol"], meta["token0"]["symbol"]
                value_in_token0 = amount_in * price1_in_0
            else:
                for t, dl in zip(down_ticks, down_net, strict=True):
                    s_tick = 1.0001 ** (t / 2.0)
                    if s_tick < target:
                        break
                    amount0 += liquidity * (1.0 / s_tick - 1.0 / s)
                    amount1 += liquidity * (s - s_tick)
                    liquidity -= dl
                    s, crossed = s_tick, crossed + 1
                amount0 += liquidity * (1.0 / target - 1.0 / s)
                amount1 += liquidity * (s - target)
                amount_in, amount_out = amount0 / 10.0**dec0, amount1 / 10.0**dec1
                token_in, token_out = meta["token0"]["symbol"], meta["token1"]["symbol"]
                value_in_token0 = amount_in
            if liquidity < 0:
                raise ParameterError(
                    f"uniswap_v3_depth: active liquidity became negative ({liquidity:.6g}) while moving the price "
                    f"{move:.0%} ({side}); the tick map does not match meta['liquidity']."
                )
            rows.append(
                {
                    "move": move,
                    "side": side,
                    "token_in": token_in,
                    "amount_in": amount_in,
                    "amount_in_with_fee": amount_in / (1.0 - fee),
                    "token_out": token_out,
                    "amount_out": amount_out,
                    "value_in_token0": value_in_token0,
                    "ticks_crossed": crossed,
                }
            )
    return pd.DataFrame(rows)


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    # Unit-free: pandas may store datetimes in s, ms, us or ns.
    return ((index - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64)


def load_curve_pool(
    ref: str | Path = "firesale-data:curve_steth_pool_2021-09_2022-06",
    a_ramps: str | Path | None = None,
    base_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Load the history of a Curve StableSwap pool: balances, virtual price and, optionally, its amplification A.

    Parameters
    ----------
    ref : str or Path
        A shipped pool (``"firesale-data:curve_steth_pool_2021-09_2022-06"``, ``...curve_3pool_2020-10_2022-06``,
        ``...curve_mim3crv_pool_2021-06_2022-06``) or the user's file in the canonical wide shape with a
        ``virtual_price`` column and one balance column per coin (token units).
    a_ramps : str or Path, optional
        A file with a ``timestamp`` and an ``A`` column holding the end points of the pool's ``RampA`` events
        (shipped: ``"firesale-data:curve_mim3crv_a_ramps"``, for the MIM-3CRV pool only). If given, a column
        ``A`` is added: linear between points, constant before the first and after the last, as the pool's
        ``_A()`` computes it.
    base_dir : str or Path, optional
        Folder for relative paths.

    Returns
    -------
    pandas.DataFrame
        UTC-indexed, ascending: ``virtual_price``, one column per coin balance (token units, not wei) and ``A``
        if ``a_ramps`` was given.

    Raises
    ------
    ParameterError
        If a file does not load (see :func:`load_prices`), lacks ``virtual_price``, has fewer than two balance
        columns, a negative or empty balance, or the A file lacks an ``A`` column or holds A <= 0.

    Notes
    -----
    ``_A()`` of the factory metapool implementation (curvefi/curve-factory ``contracts/MetaImplementationUSD.vy``,
    the MIM-3CRV pool's) returns ``A0 + (A1 - A0) * (t - t0) / (t1 - t0)`` while a ramp runs (integer
    division in ``A * A_PRECISION`` units, rounding towards ``A0``) and ``A1`` after it; ``ramp_A`` logs
    ``RampA`` with the values times ``A_PRECISION = 100``, which the shipped file has divided out. This float
    interpolation differs from the contract by less than ``1 / A_PRECISION``. No A-ramp record for the stETH
    pool is shipped.

    Examples
    --------
    >>> from firesale.data import load_curve_pool
    >>> pool = load_curve_pool()
    >>> share = pool["stETH"] / (pool["stETH"] + pool["ETH"])
    >>> str(share.idxmax().date()), round(float(share.max()), 3)
    ('2022-06-14', 0.819)
    """
    caller = "load_curve_pool"
    pool = load_prices(ref, base_dir)
    path = resolve(ref, base_dir)
    if "virtual_price" not in pool.columns:
        raise ParameterError(
            f"{caller}: {path} has no 'virtual_price' column; its columns are {list(pool.columns)}."
        )
    coins = [c for c in pool.columns if c not in ("virtual_price", "A")]
    if len(coins) < 2:
        raise ParameterError(f"{caller}: {path} must have at least two balance columns; got {coins}.")
    for coin in coins:
        values = pool[coin].to_numpy()
        if np.isnan(values).any() or (values < 0).any():
            stamp = pool.index[np.isnan(values) | (values < 0)][0]
            raise ParameterError(
                f"{caller}: {path}: balance column {coin!r} must be >= 0 and not empty; "
                f"got {pool.at[stamp, coin]} at {stamp.isoformat()}."
            )
    if a_ramps is None:
        return pool
    ramps = load_prices(a_ramps, base_dir)
    ramp_path = resolve(a_ramps, base_dir)
    if "A" not in ramps.columns:
        raise ParameterError(
            f"{caller}: {ramp_path} has no 'A' column; its columns are {list(ramps.columns)}."
        )
    a_points = ramps["A"].dropna()
    if a_points.empty or (a_points <= 0).any():
        raise ParameterError(f"{caller}: {ramp_path}: column 'A' must hold values > 0.")
    pool = pool.copy()
    pool["A"] = np.interp(_seconds(pool.index), _seconds(a_points.index), a_points.to_numpy())
    return pool
