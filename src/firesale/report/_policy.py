"""The policy path by path, and its cost: what run B's mitigation did on each path of run A, and what it cost.

Only for runs on common random numbers (same seed and path count, :func:`firesale.report._headline.is_paired`):
path *i* of B saw the same shocks as path *i* of A, so the difference on each path is the mitigation's effect there.
The section shows

- a table of the mitigation's costs with paired 95 % intervals (:func:`firesale.analysis.compare.
  mitigation_costs`): liquidations forgone, accounts frozen by a pause (from the policies' per-path records,
  :mod:`firesale.policies.runner`), revenue lost (liquidation protocol fees), and the opportunity cost of the
  reserve capital while it is held idle (:data:`firesale.analysis.compare.OPPORTUNITY_RATE` a year);
- a table of what each policy of B did: on how many paths it fired, when it first came in force, how many steps
  it held, and the capital its reserves deployed;
- bad debt of A against B, path by path (a point under the diagonal is a path the mitigation helped);
- the distribution over paths of the paired difference in debt liquidated (B − A), the paths it left alone
  counted in the note.
"""

from __future__ import annotations

import math

import numpy as np

from firesale.analysis.compare import OPPORTUNITY_RATE, mitigation_costs, reserve_capital_usd
from firesale.report import _format as fmt
from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, figure
from firesale.report._risk import Table
from firesale.report._view import RunView

__all__ = ["SECTION", "TABLE_SECTION", "policy_charts", "policy_tables"]

SECTION = "The policy path by path, and its cost"
#: The section as the comparison labels it (firesale.report._charts: charts of both runs say "A and B").
TABLE_SECTION = f"{SECTION} · run A and B"
_FLOOR = 1.0  # USD: paths without bad debt are drawn here on the log axes


def _paired(a: RunView, b: RunView) -> bool:
    from firesale.report._headline import is_paired

    return is_paired(a, b)


def _capital(view: RunView) -> float | None:
    return None if view.scenario is None else reserve_capital_usd(view.scenario)


def policy_tables(a: RunView, b: RunView) -> list[Table]:
    """The cost table of B's mitigation against A (empty unless the runs are paired and have a horizon)."""
    if not _paired(a, b) or a.horizon_s is None:
        return []
    ca, cb = _capital(a), _capital(b)
    costs = mitigation_costs(
        a.metrics, b.metrics, horizon_s=a.horizon_s, capital_a_usd=ca or 0.0, capital_b_usd=cb or 0.0
    )

    def cell(kind: str, value: float) -> str:
        return fmt.money(value) if kind == "usd" else fmt.count(round(value, 4))

    rows = [
        [c.label, cell(c.kind, c.a), cell(c.kind, c.b), cell(c.kind, c.cost),
         f"[{cell(c.kind, c.ci_low)}, {cell(c.kind, c.ci_high)}]"]
        for c in costs
    ]  # fmt: skip
    recorded = all("policies.reserve_usd_s" in v.metrics or (v.scenario is not None and not v.scenario.spec.policies)
                   for v in (a, b))  # fmt: skip
    note = (
        "Means per path; the cost of B is what it forgoes (liquidations, fees: A − B) or adds (frozen accounts, idle "
        "capital: B − A), a negative cost a gain. Intervals are paired 95 % intervals from the per-path costs. "
        "'Frozen' accounts are those a pause held, counted at each step's end by weight: below health factor 1 and "
        "kept from liquidation by a liquidation pause, or stopped from borrowing by a borrowing pause. Idle capital "
        f"is the reserve the policies hold ready ({fmt.money(cb or 0.0)} in B, {fmt.money(ca or 0.0)} in A) times "
        f"{100 * OPPORTUNITY_RATE:g} % a year (an assumed opportunity rate) over the time it is held idle: a reserve "
        "to deploy into a pool until it is deposited (the whole horizon where it never is), a backstop the whole "
        "horizon (held ready, then in the first-loss reserves)."
    )
    if not recorded:
        note += (" A run has no per-path policy records (stored before they existed): its frozen accounts count as 0 "
                 "and its reserve is held over the whole horizon on every path.")  # fmt: skip
    if ca is None or cb is None:
        note += " A run's scenario could not be rebuilt, so its reserve capital is counted as 0."
    out = [Table("policy-costs", "The mitigation's cost, B against A", ["cost", "A", "B", "cost of B", "95% CI"],
                 rows, note)]  # fmt: skip
    for label, view in (("A", a), ("B", b)):
        table = _records_table(label, view)
        if table is not None:
            out.append(table)
    return out


def _records_table(label: str, view: RunView) -> Table | None:
    """What each policy of a run did, from its per-path records (None without policy records)."""
    m = view.metrics
    names = sorted({c[len("policy."): -len(".steps_in_force")] for c in m.columns
                    if c.startswith("policy.") and c.endswith(".steps_in_force")})  # fmt: skip
    if not names:
        return None
    rows = []
    for name in names:
        key = f"policy.{name}"
        first = m[f"{key}.in_force_step"].to_numpy(dtype=float)
        on = first >= 0
        when = (
            f"{np.median(first[on]):g} (median), {first[on].min():g} to {first[on].max():g}"
            if on.any()
            else "—"
        )
        frozen = (fmt.count(round(float(m[f"{key}.frozen_accounts_max"].mean()), 4))
                  if f"{key}.frozen_accounts_max" in m else "—")  # fmt: skip
        deployed = fmt.money(float(m[f"{key}.deployed_usd"].mean())) if f"{key}.deployed_usd" in m else "—"
        rows.append([name, f"{int((m[f'{key}.fired_step'] >= 0).sum()):,} of {len(m):,}", when,
                     fmt.count(round(float(m[f"{key}.steps_in_force"].mean()), 4)), frozen, deployed])  # fmt: skip
    note = (
        "From the policies' per-path records (firesale.policies.runner). 'Fired': paths whose trigger took the "
        "decision; the step it first came in force (after the delay) over those paths; steps in force, mean over "
        "all paths; accounts frozen (most at once, by weight), mean over all paths; reserve capital deployed, mean "
        "over all paths."
    )
    return Table(f"policy-records-{label.lower()}", f"What run {label}'s policies did",
                 ["policy", "fired on", "first step in force", "steps in force", "accounts frozen", "deployed"],
                 rows, note)  # fmt: skip


def _scatter(a: RunView, b: RunView) -> Chart:
    title = "Bad debt per path, A against B"
    x = a.metrics["bad_debt_usd"].to_numpy(dtype=float)
    y = b.metrics["bad_debt_usd"].to_numpy(dtype=float)
    hit = (x > 1e-6) | (y > 1e-6)
    if not hit.any():
        return omitted("policy-scatter", SECTION, title, "Neither run has a path with bad debt.")
    idx = np.flatnonzero(hit)
    xs, ys = np.maximum(x[idx], _FLOOR), np.maximum(y[idx], _FLOOR)
    fig = figure("Bad debt per path: A (x) against B (y), USD, log scales; paths with none drawn at $1")
    hi = float(max(xs.max(), ys.max())) * 1.5
    fig.add_scatter(x=[_FLOOR, hi], y=[_FLOOR, hi], mode="lines", line={"color": COLORS[6], "dash": "dot"},
                    name="B = A")  # fmt: skip
    fig.add_scatter(
        x=xs, y=ys, mode="markers", marker={"color": COLORS[0], "size": 8}, name="a path",
        text=[f"path {i}" for i in idx], hovertemplate="%{text}<br>A %{x:$,.0f}<br>B %{y:$,.0f}<extra></extra>",
    )  # fmt: skip
    fig.update_xaxes(title_text="bad debt in A (USD)", type="log")
    fig.update_yaxes(title_text="bad debt in B (USD)", type="log")
    better, worse = int((y[idx] < x[idx] - 1e-6).sum()), int((y[idx] > x[idx] + 1e-6).sum())
    note = (
        f"{len(idx)} of {len(x):,} paths have bad debt in A or B; B has less on {better}, more on {worse}. A point "
        "under the diagonal is a path the mitigation helped."
    )
    return Chart("policy-scatter", SECTION, title, fig, note)


def _liquidated(a: RunView, b: RunView) -> Chart:
    title = "Debt liquidated per path, B − A"
    if "liquidated_usd" not in a.metrics or "liquidated_usd" not in b.metrics:
        return omitted(
            "policy-liquidated", SECTION, title, "The runs did not record debt liquidated per path."
        )
    d = b.metrics["liquidated_usd"].to_numpy(dtype=float) - a.metrics["liquidated_usd"].to_numpy(dtype=float)
    moved = np.abs(d) > 1e-6
    if not moved.any():
        return omitted("policy-liquidated", SECTION, title, "B liquidated exactly what A did on every path.")
    fig = figure("Paired difference in debt liquidated per path, B − A (USD), paths where it differs")
    fig.add_histogram(x=d[moved], nbinsx=60, marker={"color": COLORS[1]}, name="paths")
    fig.update_xaxes(title_text="B − A, debt liquidated over the horizon (USD)")
    fig.update_yaxes(title_text="paths")
    mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))
    note = (
        f"{int(moved.sum()):,} of {len(d):,} paths differ; the other {int((~moved).sum()):,} are identical in both "
        f"runs. Mean over all paths {fmt.money(mean)} (paired 95 % interval {fmt.money(mean - 1.96 * se)} to "
        f"{fmt.money(mean + 1.96 * se)}): below zero, liquidations the mitigation forgoes."
    )
    return Chart("policy-liquidated", SECTION, title, fig, note)


def policy_charts(a: RunView, b: RunView) -> list[Chart]:
    """The section's charts (none unless the runs are paired)."""
    if not _paired(a, b):
        return []
    return [_scatter(a, b), _liquidated(a, b)]
