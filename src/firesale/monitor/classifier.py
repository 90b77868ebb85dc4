"""Grade each protocol and the whole system: stable, stressed, systemic failure, and model failure.

The classifier reads an *indicator table*: columns named ``"<dimension>"`` or ``"<dimension>:<label>"`` (the label
says where: an asset, a venue, a feed), for example ``"liquidity:WETH venues"`` or ``"oracle_staleness:ETH/USD"``,
indexed by time (a DataFrame) or as arrays with time on the last axis, of shape (n_paths, n_steps + 1) for a run.
:func:`firesale.monitor.compute_indicators` builds such a table from market data.

Each column is graded against its dimension's band (:class:`~firesale.monitor.ClassifierConfig`); a dimension
takes the worst grade of its columns; a missing value (NaN) is "not measured" and grades nothing. Then, per protocol
and per step:

* **system state**: *systemic failure* when at least ``min_failed_dimensions`` dimensions of the system table have
  failed at once; *stressed* when any system dimension is stressed or failed; *stable* otherwise;
* **model state**: *model failure* when any dimension of the model table has failed; *stressed* when any is stressed;
* **state**: the worse of the two (0 stable, 1 stressed, 2 failure).

The whole system is in systemic failure when at least ``min_failed_protocols`` protocols (capped at their number)
are at once; in model failure when any protocol is; stressed otherwise if any protocol is not stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from firesale.monitor._checks import fail
from firesale.monitor.thresholds import DIMENSIONS, ClassifierConfig

__all__ = ["FAILURE", "STABLE", "STRESSED", "Classification", "classify", "grade"]

STABLE, STRESSED, FAILURE = 0, 1, 2
NOT_MEASURED = -1
_SYSTEM_LABELS = ("stable", "stressed", "systemic failure")
_MODEL_LABELS = ("stable", "stressed", "model failure")


def grade(values: Any, dimension: str, config: ClassifierConfig | None = None) -> np.ndarray:
    """Grade indicator ``values`` of ``dimension``: 0 stable, 1 stressed, 2 failed, -1 not measured (NaN).

    Examples
    --------
    >>> grade([0.9, 0.5, 0.3, 0.1, float("nan")], "liquidity").tolist()  # default band 0.5, 0.1; lower is worse
    [0, 1, 1, 2, -1]
    """
    if dimension not in DIMENSIONS:
        raise fail("dimension", "grade", f"one of {sorted(DIMENSIONS)}", dimension)
    band = (config or ClassifierConfig()).bands[dimension]
    v = np.asarray(values, dtype=float)
    if DIMENSIONS[dimension].higher_is_worse:
        g = (v >= band.stressed).astype(np.int8) + (v >= band.failure)
    else:
        g = (v <= band.stressed).astype(np.int8) + (v <= band.failure)
    return np.where(np.isnan(v), NOT_MEASURED, g).astype(np.int8)


def _split(column: str) -> tuple[str, str]:
    dim, _, label = column.partition(":")
    return dim, label


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %" if abs(x) >= 0.1 else f"{100 * x:.1f} %"


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _usd(x: float) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"${x / scale:.3g}{unit}"
    return f"${x:,.0f}"


def _describe(dim: str, label: str, v: float, config: ClassifierConfig) -> str:
    where = f" on {label}" if label else ""
    of = f" {label}" if label else ""
    if dim == "liquidity":
        return f"liquidity at {_pct(v)} of its start{where}"
    if dim == "slippage" and " on " in label:  # a simulated venue: "<asset> on <venue>"
        asset, _, venue = label.partition(" on ")
        return f"selling {_usd(config.slippage_size_usd)} of {asset} on {venue} loses {_pct(v)}"
    if dim == "slippage":
        return f"selling ${config.slippage_size_usd:,.0f} costs {_pct(v)} in slippage{where}"
    if dim == "margin" and label == "accounts":
        return f"{_pct(v)} of liquidatable accounts could not be liquidated"
    if dim == "margin":
        return f"{_pct(v)} of liquidatable debt could not be liquidated{where}"
    if dim == "near_liquidation":
        return f"{_pct(v)} of debt within {_pct(config.near_distance)} of liquidation{where}"
    if dim == "solvency":  # "aave-v3-core: reserves cover 40 % of its bad debt" (or "1.50x its bad debt")
        amount = f"{_pct(v)} of" if v <= 1 else f"{v:.2f}x"
        whose = f"{label}: reserves cover {amount} its" if label else f"reserves cover {amount} the"
        return f"{whose} bad debt"
    if dim == "utilisation":
        return f"utilisation {_pct(v)}{where}"
    if dim == "oracle_deviation":
        return f"oracle{of} {_pct(v)} off the market"
    if dim == "oracle_staleness" and label.endswith(" past heartbeat"):
        return f"oracle {label.removesuffix(' past heartbeat')} {_duration(v)} past its heartbeat"
    if dim == "oracle_staleness":
        return f"oracle{of} {_duration(v)} stale"
    if dim == "peg":
        return f"{label or 'pegged asset'} {_pct(v)} off its peg"
    if dim == "volatility":
        return (
            f"liquidation buffer{of} covers {v:.2f}x the {_pct(config.var_level)} move over "
            f"{_duration(config.horizon_s)}"
        )
    if dim == "correlation":
        return f"collateral return correlation {v:.2f}{where}"
    if dim == "oracle_frequency":
        return f"oracle{of} updated {v:.2g} times an hour"
    return f"normal VaR breached too often{where} (p = {v:.2g})"


@dataclass
class _Protocol:
    columns: dict[str, np.ndarray]
    grades: dict[str, np.ndarray]  # per column
    dimension_grades: dict[str, np.ndarray]
    system_state: np.ndarray
    model_state: np.ndarray

    @property
    def state(self) -> np.ndarray:
        return np.maximum(self.system_state, self.model_state)


def _protocol(columns: Mapping[str, np.ndarray], config: ClassifierConfig, owner: str) -> _Protocol:
    cols: dict[str, np.ndarray] = {}
    shape = None
    for name, values in columns.items():
        dim, _ = _split(str(name))
        if dim not in DIMENSIONS:
            raise fail("indicators", owner, f"columns named '<dimension>[:<label>]' with a dimension of "
                       f"{sorted(DIMENSIONS)}", str(name))  # fmt: skip
        arr = np.asarray(values, dtype=float)
        if shape is not None and arr.shape != shape:
            raise fail(
                "indicators", owner, f"arrays of one shape {shape}", f"<{name!r} of shape {arr.shape}>"
            )
        shape = arr.shape
        cols[str(name)] = arr
    if shape is None:
        raise fail("indicators", owner, "at least one indicator column", "<none>")
    grades = {name: grade(v, _split(name)[0], config) for name, v in cols.items()}
    dim_grades: dict[str, np.ndarray] = {}
    for name, g in grades.items():
        dim = _split(name)[0]
        dim_grades[dim] = np.maximum(dim_grades[dim], g) if dim in dim_grades else g
    n_failed = np.zeros(shape, dtype=np.int16)
    system = np.zeros(shape, dtype=np.int8)
    model = np.zeros(shape, dtype=np.int8)
    for dim, g in dim_grades.items():
        if DIMENSIONS[dim].table == "system":
            n_failed += g == FAILURE
            system = np.maximum(system, np.minimum(g, STRESSED))
        else:
            model = np.maximum(model, g)
    system = np.where(n_failed >= config.min_failed_dimensions, FAILURE, system).astype(np.int8)
    return _Protocol(cols, grades, dim_grades, system, np.maximum(model, 0).astype(np.int8))


class Classification:
    """The grades and states of every protocol and of the whole system, per step.

    Attributes
    ----------
    index : pandas.Index or None
        The times, for a classification of a frame; None for arrays.
    protocols : list of str
    system_state, model_state, state : ndarray of int8
        The whole system's states, of the indicators' shape ((n_times,) or (n_paths, n_steps + 1)).
    """

    def __init__(
        self, protocols: dict[str, _Protocol], index: pd.Index | None, config: ClassifierConfig
    ) -> None:
        self._p = protocols
        self.index = index
        self.config = config
        self.protocols = list(protocols)
        n_sys = np.sum([p.system_state == FAILURE for p in protocols.values()], axis=0)
        need = min(config.min_failed_protocols, len(protocols))
        worst_sys = np.max([np.minimum(p.system_state, STRESSED) for p in protocols.values()], axis=0)
        self.system_state = np.where(n_sys >= need, FAILURE, np.maximum(worst_sys, n_sys > 0)).astype(np.int8)
        self.model_state = np.max([p.model_state for p in protocols.values()], axis=0).astype(np.int8)
        self.state = np.maximum(self.system_state, self.model_state)

    def _get(self, protocol: str | None) -> _Protocol | None:
        if protocol is None:
            return None
        if protocol not in self._p:
            raise fail("protocol", "Classification", f"one of {self.protocols}", protocol)
        return self._p[protocol]

    def states(self) -> pd.DataFrame:
        """One row per time: ``state``, ``system_state``, ``model_state`` of each protocol and of the system.

        Columns are (protocol or ``"system"``, kind); values are the codes 0, 1, 2. Only for a frame.
        """
        if self.index is None:
            raise fail("indicators", "Classification.states", "a DataFrame (arrays have no time index)", None)
        data = {}
        for name, p in [*self._p.items(), ("system", None)]:
            src = p if p is not None else self
            for kind in ("state", "system_state", "model_state"):
                data[(name, kind)] = getattr(src, kind)
        return pd.DataFrame(data, index=self.index)

    def grades(self, protocol: str) -> pd.DataFrame | dict[str, np.ndarray]:
        """Grades per dimension of ``protocol`` (-1 not measured), a frame for a frame, arrays otherwise."""
        p = self._get(protocol)
        assert p is not None
        return (
            pd.DataFrame(p.dimension_grades, index=self.index)
            if self.index is not None
            else p.dimension_grades
        )

    def first(self, level: int, protocol: str | None = None, after: Any = None) -> Any:
        """The first time (or step, for arrays: per path, -1 if never) the state reaches ``level``.

        ``after`` (a time, frames only) ignores earlier times. Returns None if never, for a frame.
        """
        p = self._get(protocol)
        state = (p.state if p is not None else self.state) >= level
        if self.index is None:
            return np.where(state.any(axis=-1), np.argmax(state, axis=-1), -1)
        s = pd.Series(state, index=self.index)
        if after is not None:
            s = s.loc[s.index > after]
        hits = s[s]
        return hits.index[0] if len(hits) else None

    def label(self, at: Any, protocol: str | None = None, path: int = 0) -> str:
        """The state in words at time ``at`` (a time of the index, or a step for arrays)."""
        i = self._position(at)
        p = self._get(protocol)
        src = p if p is not None else self
        sys_s, mod_s = self._pick(src.system_state, i, path), self._pick(src.model_state, i, path)
        parts = [] if sys_s == STABLE and mod_s > STABLE else [_SYSTEM_LABELS[sys_s]]
        if mod_s == FAILURE or (mod_s == STRESSED and sys_s == STABLE):
            parts.append(_MODEL_LABELS[mod_s] if mod_s == FAILURE else "stressed (model)")
        return " + ".join(parts)

    def reasons(self, at: Any, protocol: str | None = None, path: int = 0) -> list[str]:
        """The reasons in words for the grade at ``at``: one per stressed or failed dimension, worst first.

        Each reason names the worst column of its dimension, e.g. ``"liquidity at 8 % of its start on the WETH
        venues"`` or ``"oracle ETH/USD 41 min stale"``, prefixed by the protocol when ``protocol`` is None.
        """
        i = self._position(at)
        chosen = {protocol: self._get(protocol)} if protocol is not None else self._p
        out: list[tuple[int, str]] = []
        for pname, p in chosen.items():
            assert p is not None
            for dim, g in p.dimension_grades.items():
                gd = int(self._pick(g, i, path))
                if gd < STRESSED:
                    continue
                worst = None
                for name, cg in p.grades.items():
                    if _split(name)[0] != dim or int(self._pick(cg, i, path)) != gd:
                        continue
                    v = float(self._pick(p.columns[name], i, path))
                    hi = DIMENSIONS[dim].higher_is_worse
                    if worst is None or (v > worst[1] if hi else v < worst[1]):
                        worst = (name, v)
                assert worst is not None
                text = _describe(dim, _split(worst[0])[1], worst[1], self.config)
                prefix = f"{pname}: " if protocol is None and len(self._p) > 1 else ""
                out.append((gd, f"{prefix}{text} ({'failed' if gd == FAILURE else 'stressed'})"))
        return [text for _, text in sorted(out, key=lambda x: -x[0])]

    def _position(self, at: Any) -> int:
        if self.index is None:
            return int(at)
        if isinstance(at, (int, np.integer)) and not isinstance(self.index, pd.RangeIndex):
            return int(at)
        return int(self.index.get_loc(at))

    @staticmethod
    def _pick(arr: np.ndarray, i: int, path: int) -> Any:
        return arr[i] if arr.ndim == 1 else arr[path, i]


def classify(
    indicators: pd.DataFrame | Mapping[str, Any], config: ClassifierConfig | None = None
) -> Classification:
    """Classify an indicator table, per step.

    Parameters
    ----------
    indicators : DataFrame, mapping of column to ndarray, or mapping of protocol to either
        Columns ``"<dimension>[:<label>]"``. A DataFrame (or a mapping of protocol to DataFrames with one index)
        is classified per time; arrays, e.g. of shape (n_paths, n_steps + 1), per path and step, all at once. A
        single table is one protocol named ``"system"``.
    config : ClassifierConfig, optional

    Returns
    -------
    Classification

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"liquidity:WETH venues": [1.0, 0.4, 0.08], "oracle_staleness:ETH/USD": [60, 60, 3960]})
    >>> c = classify(frame)
    >>> c.state.tolist(), c.system_state.tolist()
    ([0, 1, 1], [0, 1, 1])
    >>> c.reasons(2)
    ['liquidity at 8.0 % of its start on WETH venues (failed)', 'oracle ETH/USD 1.1 h stale (stressed)']
    """
    config = config or ClassifierConfig()
    if not isinstance(config, ClassifierConfig):
        raise fail("config", "classify", "a ClassifierConfig", f"<{type(config).__name__}>")
    if isinstance(indicators, pd.DataFrame):
        tables: dict[str, Any] = {"system": indicators}
    elif (
        isinstance(indicators, Mapping)
        and indicators
        and all(isinstance(v, (pd.DataFrame, Mapping)) for v in indicators.values())
    ):
        tables = dict(indicators)
    elif isinstance(indicators, Mapping):
        tables = {"system": indicators}
    else:
        raise fail("indicators", "classify", "a DataFrame or a mapping", f"<{type(indicators).__name__}>")
    index = None
    protocols = {}
    for name, table in tables.items():
        if isinstance(table, pd.DataFrame):
            if index is not None and not table.index.equals(index):
                raise fail(
                    "indicators", "classify", "frames sharing one index", f"<{name!r} has another index>"
                )
            index = table.index
            cols = {c: table[c].to_numpy(dtype=float) for c in table.columns}
        else:
            cols = dict(table)
        protocols[str(name)] = _protocol(cols, config, "classify")
    return Classification(protocols, index, config)
