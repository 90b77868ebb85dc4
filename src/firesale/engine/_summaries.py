"""Per-step summaries of recorded series that merge across batches: a streamed run's memory is one batch.

A run that keeps every path of every recorded variable needs ``n_paths x (n_steps + 1) x 4`` bytes per variable
(the flagship records 20 of them: 2.2 GiB at 100,000 paths), and concatenating the batches at the end doubles it.
A streamed run folds each batch into a :class:`SeriesSummary` per variable and drops the batch's arrays, so memory
is bounded by one batch plus the summaries, whatever the number of paths.

What a summary keeps, per step (column) of one variable:

- the number of values, of NaN or infinite values, the exact minimum and maximum;
- the float64 sum of each block of 256 paths (:data:`~firesale.engine.seeding.BLOCK_SIZE`), keyed by block number:
  the mean is their sum in block order over the count, so it does not depend on the batch size, on how a
  distributed run chunks the blocks or on the order chunks arrive. It equals the mean over all paths up to
  float64 rounding of the summation order (relative 1e-15);
- a logarithmic histogram (the bucket layout of DDSketch, Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable
  quantile sketch with relative-error guarantees", VLDB 2019, section 2): value ``x > 0`` falls in bucket
  ``i = ceil(log(x) / log(gamma))`` with ``gamma = (1 + alpha) / (1 - alpha)``, i.e. ``gamma**(i-1) < x <=
  gamma**i``, and the bucket's representative ``2 gamma**i / (gamma + 1)`` is within relative ``alpha`` of every
  value in it. Negative values use the same buckets on ``-x``; values with ``|x| <= MIN_ABS`` count as zero.
  Counts are integers, so merging (adding) is exact and order-free.

Quantiles follow :func:`numpy.quantile`'s default (linear) rule: rank ``h = (n - 1) q`` between order statistics
``floor(h)`` and ``ceil(h)``. The ranks are exact; each order statistic is replaced by its bucket's representative
(clamped to the step's exact minimum and maximum) and the two are interpolated as NumPy does. The result is
therefore within relative :data:`ALPHA` (0.5 %) of the exact quantile when both order statistics have the same sign
and ``|x| > MIN_ABS``; within ``MIN_ABS`` (absolute) of it near zero. A step with a NaN or infinite value gives NaN
quantiles and mean. Tested against :func:`numpy.quantile` in ``tests/unit/engine/test_streamed.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from firesale.engine.seeding import BLOCK_SIZE

__all__ = ["ALPHA", "MIN_ABS", "QUANTILES", "SeriesSummary", "merge_into", "series_frame", "summarize"]

#: Relative accuracy of a streamed quantile (see the module docstring).
ALPHA = 0.005
#: Values at most this large in magnitude count as zero in the histogram (their mean and extremes stay exact).
MIN_ABS = 1e-9
#: The quantiles a run reports by step (columns p05..p95 of ``SimulationResult.series``).
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

_GAMMA = (1.0 + ALPHA) / (1.0 - ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
_PAD = 16  # spare buckets on each side when a histogram grows, so that it seldom reallocates


class _Grid:
    """Counts of one sign by (step, bucket): a dense block of buckets ``lo .. lo + width - 1``, grown as needed."""

    __slots__ = ("counts", "lo")

    def __init__(self, n_cols: int) -> None:
        self.lo = 0
        self.counts = np.zeros((n_cols, 0), dtype=np.int64)

    def add(self, cols: np.ndarray, idx: np.ndarray) -> None:
        if not idx.size:
            return
        lo, hi = int(idx.min()), int(idx.max())
        self._cover(lo, hi)
        n_cols, width = self.counts.shape
        flat = cols * width + (idx - self.lo)
        self.counts += np.bincount(flat, minlength=n_cols * width).reshape(n_cols, width)

    def merge(self, other: _Grid) -> None:
        if not other.counts.shape[1]:
            return
        self._cover(other.lo, other.lo + other.counts.shape[1] - 1)
        start = other.lo - self.lo
        self.counts[:, start : start + other.counts.shape[1]] += other.counts

    def _cover(self, lo: int, hi: int) -> None:
        n_cols, width = self.counts.shape
        if width and self.lo <= lo and hi < self.lo + width:
            return
        new_lo = min(lo, self.lo) - _PAD if width else lo - _PAD
        new_hi = max(hi, self.lo + width - 1) + _PAD if width else hi + _PAD
        grown = np.zeros((n_cols, new_hi - new_lo + 1), dtype=np.int64)
        if width:
            grown[:, self.lo - new_lo : self.lo - new_lo + width] = self.counts
        self.lo, self.counts = new_lo, grown

    @property
    def nbytes(self) -> int:
        return int(self.counts.nbytes)


def _buckets(x: np.ndarray) -> np.ndarray:
    return np.ceil(np.log(x) / _LOG_GAMMA).astype(np.int64)


def _representative(idx: np.ndarray) -> np.ndarray:
    return 2.0 * np.exp(idx * _LOG_GAMMA) / (_GAMMA + 1.0)


class SeriesSummary:
    """The mergeable per-step summary of one recorded variable (module docstring: what it keeps and why)."""

    def __init__(self, n_cols: int) -> None:
        self.n_cols = n_cols
        self.count = np.zeros(n_cols, dtype=np.int64)
        self.bad = np.zeros(n_cols, dtype=np.int64)  # NaN or infinite values
        self.zero = np.zeros(n_cols, dtype=np.int64)
        self.min = np.full(n_cols, np.inf)
        self.max = np.full(n_cols, -np.inf)
        self.pos, self.neg = _Grid(n_cols), _Grid(n_cols)
        self.block_sums: dict[int, np.ndarray] = {}

    def add(self, values: np.ndarray, first_path: int) -> None:
        """Fold in paths ``first_path ..`` (rows of ``values``, shape (n, n_cols)); ``first_path`` starts a block."""
        if values.ndim != 2 or values.shape[1] != self.n_cols or first_path % BLOCK_SIZE:
            raise ValueError(
                f"values of shape {values.shape} at path {first_path} do not fit {self.n_cols} steps"
            )
        n = values.shape[0]
        for s in range(0, n, BLOCK_SIZE):
            block = (first_path + s) // BLOCK_SIZE
            if block in self.block_sums:
                raise ValueError(f"block {block} was already added to this summary")
            self.block_sums[block] = values[s : s + BLOCK_SIZE].sum(axis=0, dtype=np.float64)
        self.count += n
        finite = np.isfinite(values)
        self.bad += n - finite.sum(axis=0)
        with np.errstate(invalid="ignore"):
            self.min = np.fmin(self.min, np.where(finite, values, np.inf).min(axis=0))
            self.max = np.fmax(self.max, np.where(finite, values, -np.inf).max(axis=0))
        x = np.where(finite, values, 0.0).astype(np.float64)
        ax = np.abs(x)
        small = ax <= MIN_ABS
        self.zero += small.sum(axis=0)
        cols = np.broadcast_to(np.arange(self.n_cols), x.shape)
        for grid, sel in ((self.pos, ~small & (x > 0)), (self.neg, ~small & (x < 0))):
            if sel.any():
                grid.add(cols[sel], _buckets(ax[sel]))

    def merge(self, other: SeriesSummary) -> None:
        """Add the paths ``other`` summarises (disjoint blocks) to this summary."""
        if other.n_cols != self.n_cols or set(other.block_sums) & set(self.block_sums):
            raise ValueError("summaries of different steps or of the same blocks cannot be merged")
        self.count += other.count
        self.bad += other.bad
        self.zero += other.zero
        self.min, self.max = np.fmin(self.min, other.min), np.fmax(self.max, other.max)
        self.pos.merge(other.pos)
        self.neg.merge(other.neg)
        self.block_sums.update(other.block_sums)

    def mean(self) -> np.ndarray:
        if not self.block_sums:
            return np.full(self.n_cols, np.nan)
        total = np.stack([self.block_sums[b] for b in sorted(self.block_sums)]).sum(axis=0)
        return total / self.count

    def quantiles(self, qs: Iterable[float] = QUANTILES) -> np.ndarray:
        """Shape (len(qs), n_cols): each quantile by step, within :data:`ALPHA` of :func:`numpy.quantile`'s."""
        qs = np.asarray(list(qs), dtype=float)
        neg, pos = self.neg.counts[:, ::-1], self.pos.counts  # ascending values: most negative first
        counts = np.concatenate([neg, self.zero[:, None], pos], axis=1)
        values = np.concatenate([
            -_representative(self.neg.lo + np.arange(neg.shape[1]))[::-1],
            [0.0],
            _representative(self.pos.lo + np.arange(pos.shape[1])),
        ])  # fmt: skip
        cum = np.cumsum(counts, axis=1)
        n = self.count - self.bad
        out = np.full((qs.size, self.n_cols), np.nan)
        ok = (n > 0) & (self.bad == 0)
        if not ok.any():
            return out
        h = (n[None, :] - 1) * qs[:, None]
        lo_rank, hi_rank = np.floor(h), np.ceil(h)

        def at(rank: np.ndarray) -> np.ndarray:
            # The bucket holding order statistic `rank` (0-based): the first whose cumulative count exceeds it.
            j = (cum[None, :, :] <= rank[:, :, None]).sum(axis=2)
            v = values[np.minimum(j, values.size - 1)]
            return np.clip(v, self.min[None, :], self.max[None, :])

        with np.errstate(invalid="ignore"):
            v_lo, v_hi = at(lo_rank), at(hi_rank)
            q = v_lo + (h - lo_rank) * (v_hi - v_lo)
        out[:, ok] = q[:, ok]
        return out

    @property
    def nbytes(self) -> int:
        return (
            self.pos.nbytes + self.neg.nbytes + len(self.block_sums) * self.n_cols * 8 + 5 * self.n_cols * 8
        )


def summarize(arrays: Mapping[str, np.ndarray], first_path: int) -> dict[str, SeriesSummary]:
    """Summaries of one batch's recorded arrays (each shape (n, n_steps + 1), paths ``first_path ..``)."""
    out = {}
    for name, arr in arrays.items():
        out[name] = SeriesSummary(arr.shape[1])
        out[name].add(arr, first_path)
    return out


def merge_into(total: dict[str, SeriesSummary], part: Mapping[str, SeriesSummary]) -> None:
    """Merge ``part`` (summaries of other blocks) into ``total``, variable by variable."""
    for name, s in part.items():
        if name in total:
            total[name].merge(s)
        else:
            total[name] = s


def series_frame(summaries: Mapping[str, SeriesSummary], dt: float) -> pd.DataFrame:
    """The tidy frame of :attr:`firesale.results.SimulationResult.series`, from merged summaries."""
    rows = []
    for name, s in summaries.items():
        q = s.quantiles(QUANTILES)
        frame = pd.DataFrame({f"p{int(round(p * 100)):02d}": q[i] for i, p in enumerate(QUANTILES)})
        frame.insert(0, "mean", s.mean())
        frame.insert(0, "variable", name)
        frame.insert(0, "time_s", np.arange(s.n_cols) * dt)
        frame.insert(0, "step", np.arange(s.n_cols))
        rows.append(frame)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
