"""What to change: the sensitivities of :func:`firesale.analysis.sensitivity.sensitivities` as a table and a chart.

The table ranks every bumped parameter by its effect on expected bad debt (then on P(bad debt), then on debt
liquidated), each effect per step up with its paired 95 % interval, and says how much narrower the paired interval
is than two independent runs would give. The chart draws the effect of the step down and of the step up on each
statistic, side by side, for the parameters that rank highest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from plotly.subplots import make_subplots

from firesale.report import _format as fmt
from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, plain, style
from firesale.report._risk import Table

__all__ = ["SECTION", "sensitivity_report"]

SECTION = "What to change: sensitivities"
_KEY = "sensitivities"
_TITLE = "Effect of each parameter, one step down and one step up"
_N_CHART = 15


def _money(value: float) -> str:
    return "n/a" if not math.isfinite(value) else ("+" if value > 0 else "") + fmt.money(value)


def _pp(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100 * value:+.2f} pp"


def _with_ci(r: Any, stat: str, unit: str) -> str:
    text = _pp if unit == "pct" else _money
    return f"{text(r[f'{stat}_effect'])} [{text(r[f'{stat}_ci_low'])}, {text(r[f'{stat}_ci_high'])}]"


def _table(res: Any) -> Table:
    from firesale.analysis.sensitivity import STATISTICS

    wide = res.frame()
    # Each (parameter, statistic) row: its step-down and step-up effects and its unpaired s.e.
    rows_by_key = {(r["key"], r["statistic"]): r for r in res.rows.to_dict("records")}
    rows = []
    for r in wide.to_dict("records"):
        bd = rows_by_key[(r["key"], "bad_debt_mean_usd")]
        # The narrowing on the first statistic with any spread (bad debt, else P(bad debt), else liquidations).
        spread = [
            rows_by_key[(r["key"], k)] for k, _, _ in STATISTICS if rows_by_key[(r["key"], k)]["se"] > 0
        ]
        ratio = spread[0]["se_unpaired"] / spread[0]["se"] if spread else math.nan
        which = "" if not spread or spread[0] is bd else f" ({spread[0]['statistic_label'].lower()})"
        rows.append(
            [
                r["label"], fmt.money(r["base_value"]) if r["key"].endswith(".depth_usd") else f"{r['base_value']:.6g}",
                r["step"] if r["method"] == "central" else f"{r['step']} ({r['method']})",
                f"{_money(bd['down_effect'])} / {_money(bd['up_effect'])}",
                _with_ci(r, "bad_debt_mean_usd", "usd"), _with_ci(r, "p_bad_debt", "pct"),
                _with_ci(r, "liquidated_mean_usd", "usd"),
                "n/a (no spread)" if math.isnan(ratio) else f"{ratio:.1f}× narrower{which}",
            ]
        )  # fmt: skip
    base = res.base
    note = (
        f"Each parameter moved one step down and one step up (thresholds and bonuses by 0.01, venue depth by x0.8 "
        f"and x1.25), every run on seed {res.seed} and {res.n_paths:,} paths (common random numbers): the effect "
        "is the central difference per step up, (f(up) - f(down)) / 2, with a 95 % interval from the per-path "
        "differences; the last column compares it with the interval two independent runs would give. Ranked by "
        "the size of the effect on expected bad debt, then P(bad debt), then debt liquidated (a step of one "
        "parameter against a step of another: read the step column). Base run: expected bad debt "
        f"{fmt.money(base['bad_debt_mean_usd'])}, P(bad debt) {fmt.percent(base['p_bad_debt'])}, debt liquidated "
        f"{fmt.money(base['liquidated_mean_usd'])} per path. The starting book is held fixed."
    )
    if res.skipped:
        note += " Not bumped: " + "; ".join(f"{k} ({why})" for k, why in res.skipped) + "."
    return Table(
        "sensitivity-table", "What to change: sensitivities, ranked",
        ["parameter", "now", "step", "expected bad debt: step down / step up", "expected bad debt per step up",
         "P(bad debt) per step up", "debt liquidated per step up", "paired interval"],
        rows, note,
    )  # fmt: skip


def _chart(res: Any) -> Chart:
    wide = res.frame().head(_N_CHART)
    if wide.empty:
        return omitted(_KEY, SECTION, _TITLE, "No parameter could be bumped.")
    keys = wide["key"].tolist()[::-1]  # the top-ranked parameter at the top of the chart
    labels = [plain(x) for x in wide["label"].tolist()[::-1]]
    stats = (
        ("bad_debt_mean_usd", "expected bad debt (USD)", 1.0),
        ("p_bad_debt", "P(bad debt) (pp)", 100.0),
        ("liquidated_mean_usd", "debt liquidated (USD)", 1.0),
    )
    fig = make_subplots(
        rows=1, cols=3, shared_yaxes=True, horizontal_spacing=0.04, subplot_titles=[t for _, t, _ in stats]
    )
    style(fig, "Change of each statistic for one step down and one step up (paired 95 % intervals)",
          height=max(360, 120 + 26 * len(keys)))  # fmt: skip
    z = 1.959963984540054
    for col, (stat, _, scale) in enumerate(stats, start=1):
        part = res.rows[res.rows["statistic"] == stat].set_index("key").loc[keys]
        for side, color in (("down", COLORS[0]), ("up", COLORS[1])):
            x = part[f"{side}_effect"].to_numpy(dtype=float) * scale
            err = z * part[f"{side}_se"].to_numpy(dtype=float) * scale
            fig.add_bar(
                x=np.nan_to_num(x), y=labels, orientation="h", name=f"step {side}", marker_color=color,
                error_x={"type": "data", "array": np.nan_to_num(err)}, legendgroup=side, showlegend=col == 1,
                hovertemplate=f"%{{y}}, step {side}: %{{x:,.4g}}<extra></extra>", row=1, col=col,
            )  # fmt: skip
        fig.add_vline(x=0, line={"color": "#111111", "width": 1}, row=1, col=col)
    fig.update_layout(barmode="group", hovermode="closest", margin={"l": 290})
    note = (
        "Bars: the change from the base run when the parameter is moved one step down (blue) or up (red); "
        "whiskers: paired 95 % intervals. "
        + (
            f"The {_N_CHART} highest-ranked parameters of {len(res.frame())}."
            if len(res.frame()) > _N_CHART
            else ""
        )
    ).strip()
    return Chart(_KEY, SECTION, _TITLE, fig, note)


def sensitivity_report(res: Any) -> tuple[list[Table], list[Chart]]:
    """The ranked sensitivity table and its chart, from a :class:`~firesale.analysis.sensitivity.SensitivityResult`."""
    from firesale.report._borrowing import sensitivity_cost_tables

    return [_table(res), *sensitivity_cost_tables(res)], [_chart(res)]
