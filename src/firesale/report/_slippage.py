"""Slippage at size: what selling $1M, $10M, $50M of each collateral through its venues fetches at the start.

A risk team asks of every collateral how deep its exit is: the proceeds of a sale of a given size routed the way
the engine routes a liquidator's sale (:meth:`firesale.liquidity.venues.VenueSet.sell`: slices, each to the venue
quoting most at that moment), from the venues as the scenario builds them (:class:`firesale.engine._blueprint.
Blueprint`) after one pass of the scenario's arbitrageurs (:class:`firesale.agents.arbitrageurs.Arbitrageurs`), so a
pool whose snapshot was taken at another price is first pulled to the market, as it is before the first
liquidation of a run. Sizes are vectorised as paths: path *k* sells size *k*.

Slippage is the share of the sale's value at the market price that the sale does not fetch,
``1 - proceeds / (amount x market price)``; it includes the venues' fees.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from firesale.report import _format as fmt
from firesale.report._chart import Chart, omitted
from firesale.report._plot import COLORS, figure, log_ticks, plain
from firesale.report._risk import Table
from firesale.report._view import RunView
from firesale.scenario import Scenario

__all__ = ["SECTION", "SIZES_USD", "SLICES", "slippage_at_size", "slippage_report"]

SECTION = "Why: markets and oracles"
#: The sizes of the table (USD at the market price), with 10 % of each collateral's holdings when that is larger.
SIZES_USD = (1e6, 1e7, 5e7)
#: A sale is routed in this many slices (the engine's liquidators use firesale.liquidity.venues.SALE_SLICES per
#: round; more slices route a large one-off sale more finely between venues).
SLICES = 20
_BOOK_SHARE = 0.1
_CURVE_POINTS = 25


def _held(scenario: Scenario) -> dict[str, float]:
    """Collateral held per asset in the starting books of the lending protocols (USD at starting prices)."""
    price = {a.name: a.price for a in scenario.spec.assets}
    out: dict[str, float] = {}
    for proto in scenario.spec.protocols:
        pos = scenario.positions.get(proto.name)
        reserves = getattr(proto, "reserves", None)
        if pos is None or reserves is None:
            continue
        for j, asset in enumerate(reserves):
            out[asset] = out.get(asset, 0.0) + float(pos.collateral[:, j].sum()) * price.get(asset, 0.0)
    return out


def slippage_at_size(scenario: Scenario, sizes_usd: np.ndarray | list[float]) -> pd.DataFrame:
    """Proceeds and slippage of selling each collateral at each size through its venues, at the start.

    Parameters
    ----------
    scenario : Scenario
    sizes_usd : array of float
        Sale sizes, USD at the market price, each > 0.

    Returns
    -------
    DataFrame
        One row per (asset, size): ``asset, venues, size_usd, amount, market_price, proceeds_usd, slippage``. An
        asset appears once per distinct list of sale venues (every asset some protocol sells when it seizes it).
    """
    from firesale.agents.arbitrageurs import Arbitrageurs
    from firesale.engine._blueprint import Blueprint
    from firesale.liquidity.venues import VenueSet

    sizes = np.asarray(sizes_usd, dtype=float)
    bp = Blueprint.build(scenario)
    n = len(sizes)
    venues = VenueSet(bp.venue_specs, bp.venue_coins, n)
    exo = np.repeat(bp.price0[None, :], n, axis=0)
    arbitrage = Arbitrageurs(scenario.spec.agents.arbitrage_capital_usd, n, len(bp.venue_specs))
    arbitrage.run(venues, exo)
    market = venues.market_prices(exo)
    names = [v.name for v in scenario.spec.venues]
    rows, seen = [], set()
    for plan in bp.plans:
        for r, where in enumerate(plan.venues):
            a = int(plan.assets[r])
            if not where or (a, tuple(where)) in seen:
                continue
            seen.add((a, tuple(where)))
            amount = sizes / market[:, a]
            proceeds = venues.copy_state().sell(a, amount, list(where), market, exo, slices=SLICES)
            for k in range(n):
                rows.append(
                    {
                        "asset": bp.assets[a], "venues": ", ".join(names[v] for v in where),
                        "size_usd": float(sizes[k]), "amount": float(amount[k]),
                        "market_price": float(market[k, a]), "proceeds_usd": float(proceeds[k]),
                        "slippage": 1.0 - float(proceeds[k]) / float(sizes[k]),
                    }
                )  # fmt: skip
    return pd.DataFrame(
        rows, columns=["asset", "venues", "size_usd", "amount", "market_price", "proceeds_usd", "slippage"]
    )


def _table_sizes(held: float) -> list[float]:
    sizes = list(SIZES_USD)
    if _BOOK_SHARE * held > sizes[-1]:
        sizes.append(_BOOK_SHARE * held)
    return sizes


def _table(frame: pd.DataFrame, held: dict[str, float]) -> Table:
    rows = []
    for (asset, where), part in frame.groupby(["asset", "venues"], sort=False):
        h = held.get(str(asset), 0.0)
        for size in _table_sizes(h):
            r = part[np.isclose(part["size_usd"], size)].iloc[0]
            label = fmt.money(size) + (" (10 % of the holdings)" if size not in SIZES_USD else "")
            rows.append(
                [str(asset), str(where), fmt.money(h) if h > 0 else "none", label, f"${r['proceeds_usd']:,.0f}",
                 f"{100 * r['slippage']:.2f}%"]
            )  # fmt: skip
    note = (
        f"Each sale is routed as the engine routes a liquidator's ({SLICES} slices, each to the venue paying most "
        "at that moment) from the venues at the start after one pass of the arbitrageurs; slippage is the share "
        "of the sale's market value it does not fetch, fees included. Collateral held is the starting book's."
    )
    return Table(
        "slippage-at-size-table", "Slippage at size: selling each collateral at the start",
        ["collateral", "sold through", "collateral held", "sale", "proceeds", "slippage"], rows, note,
    )  # fmt: skip


def _chart(frame: pd.DataFrame, grid: np.ndarray) -> Chart:
    fig = figure("Slippage of selling each collateral at the start, by size of the sale")
    curve = frame[frame["size_usd"].isin(grid)]
    for j, ((asset, where), part) in enumerate(curve.groupby(["asset", "venues"], sort=False)):
        fig.add_scatter(
            x=part["size_usd"], y=100 * part["slippage"], name=f"{plain(asset)} ({plain(where)})",
            mode="lines+markers", line={"color": COLORS[j % len(COLORS)]},
            hovertemplate="%{x:$,.3s}: %{y:.2f}%<extra></extra>",
        )  # fmt: skip
    ticks = log_ticks(float(grid.min()), float(grid.max()))
    fig.update_xaxes(
        type="log", title_text="sale (USD at the market price, log scale)", tickvals=ticks.tolist(),
        ticktext=[fmt.money(v) for v in ticks],
    )  # fmt: skip
    fig.update_yaxes(title_text="slippage (% of the sale's market value)", ticksuffix="%")
    note = (
        "The larger the sale, the more of its value it loses. Liquidations sell in slices over rounds and steps, "
        "so a cascade pays less than one sale of its total at once, but more as the venues' impact builds up."
    )
    return Chart("slippage-at-size", SECTION, _TITLE, fig, note)


_TITLE = "Slippage at size per collateral"


def slippage_report(view: RunView) -> tuple[list[Table], list[Chart]]:
    """The slippage-at-size table ($1M, $10M, $50M and 10 % of the holdings when larger) and its chart by size."""
    if view.scenario is None:
        return [], [omitted("slippage-at-size", SECTION, _TITLE, f"Not drawn: {view.scenario_note}.")]
    held = _held(view.scenario)
    table_sizes = {s for h in [*held.values(), 0.0] for s in _table_sizes(h)}
    grid = np.geomspace(1e5, max(table_sizes), _CURVE_POINTS)
    frame = slippage_at_size(view.scenario, sorted(table_sizes | set(grid.tolist())))
    if frame.empty:
        return [], [
            omitted("slippage-at-size", SECTION, _TITLE, "No protocol sells any collateral through a venue.")
        ]
    return [_table(frame, held)], [_chart(frame, grid)]
