"""Contagion attributed: every dollar of a protocol's bad debt (and of its liquidations) split by the channel that
carried it, by counterfactual runs on common random numbers.

Channels (:data:`firesale.engine._world.CHANNELS`) between a protocol and the others in its world:

- ``venues``: the others' fire sales move the venues it sells into, and the oracles that read them;
- ``derived``: receipt tokens (and other derived tokens) it holds lose value as their issuers book losses;
- ``liquidators``: the others use up the liquidators' capital and block space in the same step.

For protocol :math:`P` and a set :math:`S` of channels left on, :math:`v_P(S)` is :math:`P`'s loss on each path in
a run where the channels outside :math:`S` are cut for :math:`P` (the others' sales are absorbed outside the venues,
derived tokens track their underlying, :math:`P` has liquidators of its own), with the same seeds. Then
:math:`v_P(\\emptyset)` is :math:`P`'s *own exposure* to the exogenous move, and the rest,
:math:`v_P(C) - v_P(\\emptyset)`, is split over the channels by their Shapley values

.. math:: \\phi_c = \\sum_{S \\subseteq C \\setminus \\{c\\}} \\frac{|S|!\\,(|C|-|S|-1)!}{|C|!}
          \\big(v_P(S \\cup \\{c\\}) - v_P(S)\\big)

path by path. Why Shapley rather than a sequential decomposition: channels interact (a fire sale that moves a shared
venue also drains the liquidators' capital), so switching them off one after another gives shares that depend on the
order; Shapley values do not, and they add up exactly: own + sum of shares = total, on every path. With three
channels it costs :math:`2^3 - 1` counterfactual runs per protocol, plus the full run they share. Each share's
confidence interval is paired: the per-path shares come from the same paths, so their standard error is the sample
standard deviation of the per-path values over :math:`\\sqrt{n}`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from firesale.exceptions import ParameterError

if TYPE_CHECKING:
    from collections.abc import Callable

    from firesale.scenario import Scenario

__all__ = ["Attribution", "attribute"]

_CHANNELS = ("venues", "derived", "liquidators")
_Z95 = 1.959963984540054


@dataclass
class Attribution:
    """Losses by protocol and channel.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (protocol, metric, component); components ``own``, each channel, and ``total``; columns
        ``mean``, ``se``, ``ci_low``, ``ci_high`` (95 %, paired), and ``share`` (of the total mean).
    per_path : dict of (protocol, metric) to pandas.DataFrame
        The per-path components (columns as above), which sum to ``total`` on every path.
    """

    table: pd.DataFrame
    per_path: dict[tuple[str, str], pd.DataFrame] = field(repr=False)
    channels: tuple[str, ...] = _CHANNELS
    n_paths: int = 0
    seed: int = 0


def _shapley_weights(k: int) -> dict[int, float]:
    return {s: math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)}


def attribute(
    scenario: Scenario | str,
    *,
    n_paths: int | None = None,
    seed: int | None = None,
    channels: tuple[str, ...] = _CHANNELS,
    metrics: tuple[str, ...] = ("bad_debt_usd", "liquidated_usd"),
    kernel: str = "numba",
    progress: Callable[[float], None] | None = None,
    n_steps: int | None = None,
    full: pd.DataFrame | None = None,
) -> Attribution:
    """Attribute each protocol's losses to its own exposure and to the contagion channels.

    Parameters
    ----------
    scenario : Scenario or str
    n_paths, seed : int, optional
        As for :func:`firesale.simulate`; every counterfactual uses the same seeds (common random numbers).
    channels : tuple of str
        Channels to attribute to, a subset of ``("venues", "derived", "liquidators")``; the others stay on.
    metrics : tuple of str
        Per-protocol metrics to split: ``bad_debt_usd`` and ``liquidated_usd`` (the ``<metric>_<protocol>``
        columns of a run's metrics).
    kernel : {"numba", "numpy"}
    progress : callable, optional
        Called with the fraction of runs done.
    n_steps : int, optional
        Override the horizon, as for :func:`firesale.simulate`.
    full : DataFrame, optional
        The metrics of the run with every channel on, when the caller already has them (same scenario, paths,
        seed and horizon: ``firesale run --attribute``); else it is run here.

    Returns
    -------
    Attribution

    Examples
    --------
    >>> import firesale
    >>> from firesale.contagion import attribute
    >>> att = attribute("toy-spiral", n_paths=8, seed=1)
    >>> sorted(set(att.table["component"]))
    ['derived', 'liquidators', 'own', 'total', 'venues']
    """
    from firesale.engine import simulate
    from firesale.scenario import Scenario, load_scenario

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    channels = tuple(channels)
    bad = [c for c in channels if c not in _CHANNELS]
    if bad or len(set(channels)) != len(channels) or not channels:
        raise ParameterError(
            f"The 'channels' parameter of attribute must be distinct names from {list(_CHANNELS)}. "
            f"Got {list(channels)!r} instead."
        )
    allowed = ("bad_debt_usd", "liquidated_usd")
    if not metrics or any(m not in allowed for m in metrics):
        raise ParameterError(
            f"The 'metrics' parameter of attribute must be names from {list(allowed)}. Got {list(metrics)!r} instead."
        )
    names = [p.name for p in sc.spec.protocols]
    rest = tuple(c for c in _CHANNELS if c not in channels)  # not attributed: always on
    subsets = [frozenset(s) for r in range(len(channels)) for s in itertools.combinations(channels, r)]
    n_runs = 1 + (len(names) * len(subsets) if len(names) > 1 else 0)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done / n_runs)

    if full is None:
        full = simulate(sc, n_paths=n_paths, seed=seed, kernel=kernel, n_steps=n_steps).metrics
    step()
    weights = _shapley_weights(len(channels))
    rows, per_path = [], {}
    for name in names:
        values: dict[frozenset[str], pd.DataFrame] = {frozenset(channels): full}
        for s in subsets:
            if len(names) == 1:  # no other protocol: cutting a channel changes nothing
                values[s] = full
                continue
            on = tuple(sorted(s)) + rest
            values[s] = simulate(
                sc, n_paths=n_paths, seed=seed, kernel=kernel, channels=on, focus=name, n_steps=n_steps
            ).metrics
            step()
        for metric in metrics:
            col = f"{metric}_{name}"
            v = {s: frame[col].to_numpy(dtype=float) for s, frame in values.items()}
            parts = {"own": v[frozenset()]}
            for c in channels:
                others = [x for x in channels if x != c]
                phi = np.zeros_like(parts["own"])
                for r in range(len(others) + 1):
                    for s in itertools.combinations(others, r):
                        s = frozenset(s)
                        phi += weights[len(s)] * (v[s | {c}] - v[s])
                parts[c] = phi
            parts["total"] = v[frozenset(channels)]
            frame = pd.DataFrame(parts, index=full.index)
            per_path[(name, metric)] = frame
            total_mean = float(frame["total"].mean())
            for comp in frame.columns:
                x = frame[comp].to_numpy()
                mean = float(x.mean())
                se = float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
                rows.append(
                    dict(protocol=name, metric=metric, component=comp, mean=mean, se=se,
                         ci_low=mean - _Z95 * se, ci_high=mean + _Z95 * se,
                         share=mean / total_mean if total_mean else float("nan"))
                )  # fmt: skip
    return Attribution(
        table=pd.DataFrame(rows), per_path=per_path, channels=channels, n_paths=len(full),
        seed=int(sc.spec.simulation.seed if seed is None else seed),
    )  # fmt: skip
