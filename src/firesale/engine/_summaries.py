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

__all__ = [
    "ACCOUNT_ROWS", "ALPHA", "MIN_ABS", "QUANTILES", "AccountSummary", "SeriesSummary", "fold_accounts",
    "merge_into", "series_frame", "summarize",
]  # fmt: skip

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


#: Accounts a stored per-account table keeps per protocol and ranking (the rest are summed into one row).
ACCOUNT_ROWS = 1000
#: The two per-account statistics of :class:`AccountSummary`, in its arrays' order.
ACCOUNT_STATISTICS = ("bad_debt", "debt_at_risk")
_SUMMED = ("members", "debt_usd", "collateral_usd", "bad_debt_mean_usd", "debt_at_risk_mean_usd")


class AccountSummary:
    """Mean and standard error over paths, per account of one lending protocol, of its bad debt at the end and
    its debt at risk (:meth:`firesale.protocols.lending_market.LendingMarket.account_losses`).

    Streamed like the series summaries: each block of 256 paths gives, per account, its count, mean and sum of
    squared deviations (float64), and blocks are folded in block order with the pairwise update of Chan, Golub
    and LeVeque ("Algorithms for computing the sample variance", The American Statistician 37(3), 1983), so
    the result depends only on the set of blocks, not on the batch size or on the order batches arrive in (a
    block that arrives early waits until those before it are in). Memory: a few float64 per account, whatever
    the number of paths.

    Parameters
    ----------
    protocol : str
    start : DataFrame
        One row per account (position row): ``account``, ``members`` (accounts merged into the row: 1 unless
        cohorts), ``debt_usd``, ``collateral_usd`` and ``health_factor`` of the starting book at starting
        prices.
    """

    def __init__(self, protocol: str, start: pd.DataFrame) -> None:
        self.protocol, self.start = protocol, start.reset_index(drop=True)
        self.count = 0
        self.mean = np.zeros((len(ACCOUNT_STATISTICS), len(start)))
        self.m2 = np.zeros_like(self.mean)
        self._next = 0
        self._pending: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}

    def add(self, bad_debt: np.ndarray, debt_at_risk: np.ndarray, first_path: int) -> None:
        """Fold in paths ``first_path ..`` (the rows of each (n, n_accounts) array); a block starts there."""
        n_acc = len(self.start)
        if bad_debt.shape != debt_at_risk.shape or bad_debt.shape[1:] != (n_acc,) or first_path % BLOCK_SIZE:
            raise ValueError(
                f"values of shape {bad_debt.shape} at path {first_path} do not fit {n_acc} accounts"
            )
        for s in range(0, bad_debt.shape[0], BLOCK_SIZE):
            block = (first_path + s) // BLOCK_SIZE
            if block in self._pending or block < self._next:
                raise ValueError(f"block {block} was already added to this summary")
            parts = [x[s : s + BLOCK_SIZE] for x in (bad_debt, debt_at_risk)]
            mean = np.stack([x.mean(axis=0) for x in parts])
            m2 = np.stack([((x - m) ** 2).sum(axis=0) for x, m in zip(parts, mean, strict=True)])
            self._pending[block] = (parts[0].shape[0], mean, m2)
        while self._next in self._pending:
            part = self._pending.pop(self._next)
            self.count, self.mean, self.m2 = _combine(self.count, self.mean, self.m2, *part)
            self._next += 1

    def merge(self, other: AccountSummary) -> None:
        """Add the blocks ``other`` summarises (other blocks of the same book, e.g. a distributed chunk's).

        ``other``'s blocks already folded (those from block 0) can only go into a summary holding none of them
        yet; its pending blocks wait here like added ones, so the folds happen in block order as for :meth:`add`.
        """
        if other.protocol != self.protocol or other.mean.shape != self.mean.shape:
            raise ValueError("summaries of different books cannot be merged")
        if other._next:
            if self.count or self._next or any(b < other._next for b in self._pending):
                raise ValueError(f"blocks 0..{other._next - 1} were already added to this summary")
            self.count, self.mean, self.m2, self._next = other.count, other.mean, other.m2, other._next
        for block in sorted(other._pending):
            if block in self._pending or block < self._next:
                raise ValueError(f"block {block} was already added to this summary")
            self._pending[block] = other._pending[block]
        while self._next in self._pending:
            part = self._pending.pop(self._next)
            self.count, self.mean, self.m2 = _combine(self.count, self.mean, self.m2, *part)
            self._next += 1

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The summary as plain arrays (no pickles), for a run store's completed-blocks files."""
        blocks = sorted(self._pending)
        out = {
            "protocol": np.array(self.protocol),
            "state": np.array([self.count, self._next], dtype=np.int64),
            "mean": self.mean,
            "m2": self.m2,
            "pending_blocks": np.array(blocks, dtype=np.int64),
            "pending_counts": np.array([self._pending[b][0] for b in blocks], dtype=np.int64),
            "pending_mean": np.array([self._pending[b][1] for b in blocks]).reshape(-1, *self.mean.shape),
            "pending_m2": np.array([self._pending[b][2] for b in blocks]).reshape(-1, *self.m2.shape),
        }
        for col in self.start.columns:
            out[f"start_{col}"] = self.start[col].to_numpy(dtype=str if col == "account" else None)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> AccountSummary:
        """The summary :meth:`to_arrays` wrote."""
        start = pd.DataFrame({k[len("start_") :]: v for k, v in arrays.items() if k.startswith("start_")})
        out = cls(str(arrays["protocol"]), start)
        (count, out._next), out.mean, out.m2 = arrays["state"].tolist(), arrays["mean"], arrays["m2"]
        out.count = count
        for k, block in enumerate(arrays["pending_blocks"].tolist()):
            n = int(arrays["pending_counts"][k])
            out._pending[block] = (n, arrays["pending_mean"][k], arrays["pending_m2"][k])
        return out

    def frame(self, limit: int = ACCOUNT_ROWS) -> pd.DataFrame:
        """The accounts with some debt at risk or bad debt, most debt at risk first: the starting book's
        figures, the means (``*_mean_usd``) and standard errors (``*_se_usd``), and ``n_paths``.

        At most ``limit`` accounts by each ranking are listed; the others are summed into one row, account
        ``"(other accounts)"``, so that the column totals stay those of the whole book."""
        count, mean, m2 = self.count, self.mean, self.m2
        for block in sorted(self._pending):  # blocks after a gap: folded in block order, on copies
            count, mean, m2 = _combine(count, mean, m2, *self._pending[block])
        se = np.sqrt(m2 / max(count - 1, 1) / count) if count > 1 else np.full_like(mean, np.nan)
        out = self.start.copy()
        out.insert(0, "protocol", self.protocol)
        for k, name in enumerate(ACCOUNT_STATISTICS):
            out[f"{name}_mean_usd"], out[f"{name}_se_usd"] = mean[k], se[k]
        out["n_paths"] = count
        live = out[(out["debt_at_risk_mean_usd"] > 0) | (out["bad_debt_mean_usd"] > 0)]
        keep = sorted(
            set(live.nlargest(limit, "bad_debt_mean_usd").index)
            | set(live.nlargest(limit, "debt_at_risk_mean_usd").index)
        )
        rest = live.drop(index=keep)
        live = live.loc[keep].sort_values(["debt_at_risk_mean_usd", "bad_debt_mean_usd"], ascending=False)
        if not rest.empty:
            other = {c: rest[c].sum() for c in _SUMMED}
            other.update(protocol=self.protocol, account="(other accounts)", health_factor=np.nan,
                         bad_debt_se_usd=np.nan, debt_at_risk_se_usd=np.nan, n_paths=count)  # fmt: skip
            live = pd.concat([live, pd.DataFrame([other])[live.columns]], ignore_index=True)
        return live.reset_index(drop=True)


def _combine(n_a, mean_a, m2_a, n_b, mean_b, m2_b):  # type: ignore[no-untyped-def]
    """Count, mean and sum of squared deviations of two disjoint samples together (Chan, Golub, LeVeque)."""
    n = n_a + n_b
    delta = mean_b - mean_a
    return n, mean_a + delta * (n_b / n), m2_a + m2_b + delta**2 * (n_a * n_b / n)


def account_start(model: object, prices0: np.ndarray) -> pd.DataFrame | None:
    """The starting book of a lending model, one row per account (see :class:`AccountSummary`), or None for a
    model without per-account positions (no ``account_losses``)."""
    if not hasattr(model, "account_losses"):
        return None
    from firesale.protocols.lending import health_factor

    coll0, debt0, params = model.collateral0, model.debt0, model.params  # type: ignore[attr-defined]
    labels = model.accounts  # type: ignore[attr-defined]
    lt = params.liquidation_threshold
    return pd.DataFrame(
        {
            "account": [str(a) for a in (np.arange(coll0.shape[0]) if labels is None else labels)],
            "members": params.weights(),
            "debt_usd": (debt0 * prices0[None, :]).sum(axis=1),
            "collateral_usd": (coll0 * prices0[None, :]).sum(axis=1),
            "health_factor": health_factor(coll0[None], debt0[None], prices0[None, :], lt)[0],
        }
    )


def fold_accounts(total: dict[str, AccountSummary], world: object) -> None:
    """Fold the end of a batch's world (paths ``world.first_path ..``) into ``total``, by lending protocol."""
    bp, market = world.bp, world.accounting.last_market  # type: ignore[attr-defined]
    for plan, state in zip(bp.plans, world.states, strict=True):  # type: ignore[attr-defined]
        model = plan.model
        if model.name not in total:
            start = account_start(model, bp.price0[plan.assets])
            if start is None:
                continue
            total[model.name] = AccountSummary(model.name, start)
        prices = market[:, plan.assets]
        for s in range(0, prices.shape[0], BLOCK_SIZE):  # a block at a time: temporaries of 256 paths
            rows = slice(s, s + BLOCK_SIZE)
            bad, at_risk = model.account_losses(state, prices[rows], rows)
            total[model.name].add(bad, at_risk, world.first_path + s)  # type: ignore[attr-defined]
