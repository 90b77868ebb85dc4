"""Borrowing and utilisation: what the users could borrow at the start, what they borrowed, and how full the pools got.

Shown when the run has borrowing or utilisation to show (``<protocol>.borrowed_usd`` or
``<protocol>.utilisation_<reserve>`` among its metrics or recorded series; see ``docs/agents.md``):

- utilisation per reserve over time: a fan chart of the recorded series ``<protocol>.utilisation_<reserve>``, or,
  when the run did not record it, the distribution over paths of its value at the end (the per-path metric), and
  the chart says which;
- borrowing done and refused per protocol (``borrowed_usd``, ``borrow_refused_usd``): means over paths with their
  standard errors, and the share of paths where a borrow cap or the pool's liquidity refused some;
- the users' borrowing power at the start, per reserve (:func:`firesale.analysis.borrowing_power.borrowing_power`),
  computed from the rebuilt starting book.

In a comparison (:func:`borrowing_comparison`) the same figures for A and B side by side: what B's change saves in
expected bad debt and what it costs the users in borrowing power and borrowing done, paired on common random
numbers when the runs share their seeds, and one sentence that says it in words.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from plotly.subplots import make_subplots

from firesale.analysis.borrowing_power import (
    BORROWED,
    REFUSED,
    borrowed_per_path,
    borrowing_power,
    change_in_words,
    paired_difference,
)
from firesale.report import _format as fmt
from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, fan, figure, plain, style, time_axis
from firesale.report._risk import Table
from firesale.report._view import RunView

__all__ = ["COMPARE_SECTION", "SECTION", "borrowing_comparison", "borrowing_report"]

SECTION = "Borrowing and utilisation"
COMPARE_SECTION = "What the change costs the users"
_UTIL = "utilisation_"
_Z95 = 1.959963984540054


def _recorded(view: RunView) -> set[str]:
    if view.series.empty or "variable" not in view.series:
        return set()
    return {str(v) for v in view.series["variable"].unique()}


def _utilisation_names(view: RunView, protocol: str) -> list[str]:
    """Reserves of ``protocol`` with a utilisation series or metric, in the order the run has them."""
    prefix = f"{protocol}.{_UTIL}"
    names = [c for c in view.metrics.columns if str(c).startswith(prefix)]
    names += sorted(v for v in _recorded(view) if v.startswith(prefix) and v not in names)
    return [n.removeprefix(prefix) for n in names]


def _borrows(view: RunView, protocol: str) -> bool:
    return f"{protocol}.{BORROWED}" in view.metrics


def has_borrowing(view: RunView) -> bool:
    """Whether the run has borrowing or utilisation to show."""
    return any(_borrows(view, p) or _utilisation_names(view, p) for p in view.protocols)


def _finite(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The quantile columns with inf (a drained reserve that still has borrows) as gaps, and how many there were."""
    cols = ["p05", "p25", "p50", "p75", "p95"]
    values = frame[cols].to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    out = frame.copy()
    out[cols] = np.where(bad, np.nan, values)
    return out, int(bad.sum())


def _utilisation_chart(view: RunView, k: int, protocol: str, reserves: list[str]) -> Chart:
    key, title = f"utilisation-{k}", f"{protocol}: utilisation per reserve"
    series = {r: view.variable(f"{protocol}.{_UTIL}{r}") for r in reserves}
    recorded = [r for r in reserves if series[r] is not None]
    if recorded:
        cols = min(2, len(recorded))
        rows = math.ceil(len(recorded) / cols)
        fig = make_subplots(
            rows=rows, cols=cols, shared_xaxes=True, vertical_spacing=0.12, horizontal_spacing=0.08,
            subplot_titles=[plain(r) for r in recorded],
        )  # fmt: skip
        style(fig, f"{plain(protocol)}: utilisation (borrows / supply), percentile bands over paths",
              height=max(380, 260 * rows))  # fmt: skip
        gaps = 0
        for i, r in enumerate(recorded):
            frame, n_bad = _finite(series[r])  # type: ignore[arg-type]
            gaps += n_bad
            x, xtitle = time_axis(frame["time_s"].to_numpy(dtype=float), view.horizon_s)
            fan(fig, frame, x, name=r, color=COLORS[i % len(COLORS)], row=i // cols + 1, col=i % cols + 1,
                showlegend=False)  # fmt: skip
            fig.update_xaxes(title_text=xtitle, row=i // cols + 1, col=i % cols + 1)
            fig.update_yaxes(tickformat=".0%", row=i // cols + 1, col=i % cols + 1)
        note = (
            f"From the recorded series {protocol}.{_UTIL}<reserve>: bands hold 90 % and 50 % of paths at each step, "
            "the line is the median. Utilisation is the book's borrows over the supply left (total_supply less "
            "withdrawals, plus collateral added or seized); at 100 % nothing is left to borrow or withdraw."
        )
        if gaps:
            note += f" {gaps} quantile points are infinite (a drained reserve that still has borrows): left blank."
        missing = [r for r in reserves if r not in recorded]
        if missing:
            note += f" Not recorded: {', '.join(missing)}."
        return Chart(key, SECTION, title, fig, note)
    fig = figure(f"{plain(protocol)}: utilisation at the end of the run, distribution over paths")
    for i, r in enumerate(reserves):
        u = view.metrics[f"{protocol}.{_UTIL}{r}"].to_numpy(dtype=float)
        fig.add_histogram(x=u[np.isfinite(u)], nbinsx=40, name=plain(r), marker={"color": COLORS[i % len(COLORS)]},
                          opacity=0.75)  # fmt: skip
    fig.update_layout(barmode="overlay", showlegend=True)
    fig.update_xaxes(title_text="utilisation at the end (borrows / supply)", tickformat=".0%")
    fig.update_yaxes(title_text="paths")
    note = (
        f"From the per-path metrics (the value at the end of the run only): the run did not record "
        f'{protocol}.{_UTIL}<reserve> over time; add "{protocol}.*" to simulation.record for a fan chart.'
    )
    return Chart(key, SECTION, title, fig, note)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def _flows_table(view: RunView) -> Table | None:
    rows = []
    for p in view.protocols:
        if not _borrows(view, p):
            continue
        b = view.metrics[f"{p}.{BORROWED}"].to_numpy(dtype=float)
        r = view.metrics.get(f"{p}.{REFUSED}")
        r = np.zeros_like(b) if r is None else r.to_numpy(dtype=float)
        (bm, bs), (rm, rs) = _mean_se(b), _mean_se(r)
        rows.append([p, f"{fmt.money(bm)} ± {fmt.money_se(bm, bs)}", f"{fmt.money(rm)} ± {fmt.money_se(rm, rs)}",
                     fmt.percent(float((r > 1e-6).mean()))])  # fmt: skip
    if not rows:
        return None
    note = (
        "New debt borrowers drew over the horizon (borrowed_usd) and the borrows a borrow cap or the pool's "
        "liquidity refused (borrow_refused_usd), USD at the prices of the step, mean per path ± its standard error "
        f"over {view.n_paths:,} paths. Borrowing follows [agents.borrowers] borrow_above_health_factor (docs/agents.md)."
    )
    return Table("borrowing-flows", "Borrowing done and refused", ["protocol", "borrowed", "refused",
                 "paths with a refusal"], rows, note)  # fmt: skip


def _power_table(frame: pd.DataFrame) -> Table:
    def cell(v: float) -> str:
        return "n/a" if not math.isfinite(v) else fmt.money(v)

    rows = [
        [r.protocol, r.reserve, cell(r.collateral_usd), f"{r.ltv:g}", cell(r.power_usd), cell(r.available_usd),
         cell(r.debt_usd), cell(r.liquidity_usd), cell(r.cap_room_usd)]
        for r in frame.itertuples(index=False)
    ]  # fmt: skip
    for p, part in frame.groupby("protocol", sort=False):
        rows.append([str(p), "all", cell(part["collateral_usd"].sum()), "", cell(part["power_usd"].sum()),
                     cell(part["available_usd"].sum()), cell(part["debt_usd"].sum()), "", ""])  # fmt: skip
    note = (
        "From the starting book at starting prices. Borrowing power of an account: max(0, Σ collateral × price × "
        "ltv − debt), Aave v3's availableBorrows (GenericLogic.calculateAvailableBorrows; an e-mode category's ltv "
        "on its collateral). Each account's is shared over its collaterals by what each adds to Σ collateral × "
        "price × ltv, so a protocol's reserves add up to its 'all' row. Liquidity: supply − borrows (n/a without "
        "total_supply); cap room: borrow_cap − borrows (n/a without a cap) — what a reserve can still lend."
    )
    return Table("borrowing-power", "Users' borrowing power at the start, per reserve",
                 ["protocol", "reserve", "collateral", "ltv", "collateral × ltv", "borrowing power", "debt owed",
                  "liquidity", "cap room"], rows, note)  # fmt: skip


def _power_chart(frame: pd.DataFrame, key: str, section: str, title: str,
                 others: list[tuple[str, pd.DataFrame]] | None = None) -> Chart:  # fmt: skip
    runs = [("", frame)] if others is None else others
    fig = figure(
        "Borrowing power at the start by collateral reserve, USD (its share of each account's max(0, Σ c·p·ltv − "
        "debt))"
    )
    for i, (tag, f) in enumerate(runs):
        live = f[f["collateral_usd"] > 0]
        labels = [plain(f"{p} {r}") for p, r in zip(live["protocol"], live["reserve"], strict=True)]
        fig.add_bar(x=labels, y=live["available_usd"].to_numpy(dtype=float), name=tag or "borrowing power",
                    marker={"color": COLORS[i]}, hovertemplate="%{x}: %{y:$,.0f}<extra></extra>")  # fmt: skip
    fig.update_layout(barmode="group", showlegend=others is not None)
    fig.update_yaxes(title_text="USD")
    return Chart(key, section, title, fig)


def borrowing_report(view: RunView) -> tuple[list[Table], list[Chart]]:
    """The section's tables and charts; nothing when the run has no borrowing or utilisation to show."""
    if not has_borrowing(view):
        return [], []
    charts = [
        _utilisation_chart(view, k, p, names)
        for k, p in enumerate(view.protocols)
        if (names := _utilisation_names(view, p))
    ]
    tables = []
    flows = _flows_table(view)
    if flows is not None:
        tables.append(flows)
    title = "Users' borrowing power at the start, by collateral reserve"
    if view.scenario is None:
        charts.append(omitted("borrowing-power", SECTION, title, f"Not shown: {view.scenario_note}."))
    else:
        frame = borrowing_power(view.scenario)
        if frame.empty or not (frame["collateral_usd"] > 0).any():
            charts.append(omitted("borrowing-power", SECTION, title, "No lending book with collateral."))
        else:
            tables.append(_power_table(frame))
            charts.append(_power_chart(frame, "borrowing-power", SECTION, title))
    return tables, charts


# ----- two runs ---------------------------------------------------------------------------------------------------
def _difference(x: np.ndarray, y: np.ndarray, paired: bool) -> tuple[float, float]:
    if paired:
        return paired_difference(x, y)
    se = math.sqrt(float(np.var(x, ddof=1)) / len(x) + float(np.var(y, ddof=1)) / len(y))
    return float(y.mean() - x.mean()), se


def borrowing_comparison(a: RunView, b: RunView) -> tuple[list[Table], list[Chart]]:
    """What B's change costs the users against A: borrowing power at the start (from both books) and borrowing done
    (paired when the runs share seeds), beside the change of expected bad debt, with the sentence that says it.
    Nothing when neither run borrows and the two books give the same borrowing power."""
    from firesale.analysis.compare import scenario_differences
    from firesale.report._headline import is_paired

    pa = None if a.scenario is None else borrowing_power(a.scenario)
    pb = None if b.scenario is None else borrowing_power(b.scenario)
    total_a = None if pa is None else float(pa["available_usd"].sum())
    total_b = None if pb is None else float(pb["available_usd"].sum())
    ya, yb = borrowed_per_path(a.metrics), borrowed_per_path(b.metrics)
    moved = total_a is not None and total_b is not None and abs(total_b - total_a) > 1e-6
    if not moved and ya is None and yb is None:
        return [], []
    paired = is_paired(a, b)
    how = "paired (same seeds: path i of B against path i of A)" if paired else "independent runs"
    rows = []
    bd = (math.nan, math.nan, math.nan)
    if "bad_debt_usd" in a.metrics and "bad_debt_usd" in b.metrics:
        xa, xb = (v.metrics["bad_debt_usd"].to_numpy(dtype=float) for v in (a, b))
        d, se = _difference(xa, xb, paired)
        bd = (d, d - _Z95 * se, d + _Z95 * se)
        rows.append(["Expected bad debt (the protocol's)", fmt.money(xa.mean()), fmt.money(xb.mean()),
                     fmt.money(d), f"[{fmt.money(bd[1])}, {fmt.money(bd[2])}]"])  # fmt: skip
    power = (math.nan, math.nan)
    if total_a is not None and total_b is not None:
        power = (total_b - total_a, total_a)
        share = f" ({100 * power[0] / total_a:+.1f} %)" if total_a > 0 else ""
        rows.append(["Users' borrowing power at the start", fmt.money(total_a), fmt.money(total_b),
                     fmt.money(power[0]) + share, "exact (from the books)"])  # fmt: skip
    borrowed = None
    if ya is not None or yb is not None:
        xa = np.zeros(len(a.metrics)) if ya is None else ya
        xb = np.zeros(len(b.metrics)) if yb is None else yb
        d, se = _difference(xa, xb, paired)
        borrowed = (d, d - _Z95 * se, d + _Z95 * se)
        rows.append(["Borrowing done per path", fmt.money(xa.mean()), fmt.money(xb.mean()), fmt.money(d),
                     f"[{fmt.money(borrowed[1])}, {fmt.money(borrowed[2])}]"])  # fmt: skip
    changed = scenario_differences(a.scenario_text, b.scenario_text)
    what = "; ".join(f"{k} {va!r} → {vb!r}" for k, va, vb in changed[:3]) or "the same scenario text"
    if len(changed) > 3:
        what += f" and {len(changed) - 3} more"
    sentence = change_in_words(f"B against A ({what})", bd, power, borrowed)
    note = (
        f"{sentence} B − A, means per path; intervals are 95 % and {how}. Borrowing power is each account's "
        "max(0, Σ collateral × price × ltv − debt) on the starting book (deterministic: no interval); borrowing "
        "done is the new debt drawn over the horizon ([agents.borrowers] borrow_above_health_factor)."
    )
    if total_a is None or total_b is None:
        note += " A run's starting book could not be rebuilt, so its borrowing power is not shown."
    tables = [Table("borrowing-cost", "What the change saves the protocol and costs the users, B against A",
                    ["figure", "A", "B", "B − A", "95% CI"], rows, note)]  # fmt: skip
    title = "Users' borrowing power at the start, A and B"
    if pa is None or pb is None:
        chart = omitted("compare-borrowing-power", COMPARE_SECTION, title,
                        "A run's starting book could not be rebuilt.")  # fmt: skip
    else:
        chart = _power_chart(pa, "compare-borrowing-power", COMPARE_SECTION, title, [("A", pa), ("B", pb)])
    return tables, [chart]


# ----- sensitivities ----------------------------------------------------------------------------------------------
def sensitivity_cost_tables(res: object) -> list[Table]:
    """Beside the sensitivities' effects on the protocol, what each change costs the users: one row per bump, its
    step down (up when the step down is not valid), in words and in figures. Empty when the result has no costs."""
    from firesale.analysis.borrowing_power import sensitivity_sentences

    sentences = sensitivity_sentences(res)
    if not sentences:
        return []
    costs = res.costs.set_index("key")  # type: ignore[attr-defined]
    bad = res.rows[res.rows["statistic"] == "bad_debt_mean_usd"].set_index("key")  # type: ignore[attr-defined]
    rows = []
    for key, text in sentences:
        r, c = bad.loc[key], costs.loc[key]
        side = "down" if math.isfinite(r["down_effect"]) else "up"
        d, se = float(r[f"{side}_effect"]), float(r[f"{side}_se"])
        dp, p0 = float(c[f"power_{side}_change_usd"]), float(c["power_base_usd"])
        share = f" ({100 * dp / p0:+.1f} %)" if p0 > 0 else ""
        if bool(c["borrowing"]):
            bd, bse = float(c[f"borrowed_{side}_effect_usd"]), float(c[f"borrowed_{side}_se_usd"])
            done = f"{fmt.money(bd)} [{fmt.money(bd - _Z95 * bse)}, {fmt.money(bd + _Z95 * bse)}]"
        else:
            done = "no borrowing in the run"
        rows.append([text, f"{fmt.money(d)} [{fmt.money(d - _Z95 * se)}, {fmt.money(d + _Z95 * se)}]",
                     fmt.money(dp) + share, done])  # fmt: skip
    note = (
        "Each change against the base run, on the same seed and paths: expected bad debt and borrowing done with "
        "paired 95 % intervals; the users' borrowing power from the starting book (Σ over accounts of max(0, Σ "
        "collateral × price × ltv − debt), deterministic), which only an ltv moves: a threshold, a bonus or a "
        "venue's depth changes liquidations, not what an account may borrow. Ltv and borrow caps are bumped only "
        "where borrowers borrow."
    )
    return [Table("sensitivity-costs", "What each change saves the protocol and costs the users",
                  ["change, in words", "expected bad debt", "users' borrowing power", "borrowing done per path"],
                  rows, note)]  # fmt: skip
