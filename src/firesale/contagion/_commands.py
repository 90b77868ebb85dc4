"""``firesale contagion``: each protocol's losses split by the channel that carried them."""

from __future__ import annotations

import json
from pathlib import Path

import click

from firesale.exceptions import ParameterError


@click.command()
@click.argument("scenario")
@click.option(
    "--paths",
    "n_paths",
    type=click.IntRange(min=1),
    help="Monte Carlo paths (every run uses the same seeds).",
)
@click.option("--seed", type=click.IntRange(min=0), help="Seed (default: the scenario's).")
@click.option(
    "--channels", default="venues,derived,liquidators", show_default=True,
    help="Channels to attribute to, comma-separated (the others stay on).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON on stdout.")
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False), help="Write an HTML report (waterfalls) here."
)
def contagion(
    scenario: str,
    n_paths: int | None,
    seed: int | None,
    channels: str,
    as_json: bool,
    report_path: str | None,
) -> None:
    """Attribute each protocol's bad debt and liquidations to its own exposure and to contagion channels.

    Counterfactual runs on common random numbers cut one channel at a time for one protocol (its venues, the
    derived tokens it holds, the liquidators it shares); Shapley values split what the channels add, with paired
    95 % confidence intervals. Shares add up to the total on every path.
    """
    from rich.table import Table

    from firesale._console import guard, out
    from firesale.contagion.attribution import attribute
    from firesale.scenario import load_scenario

    @guard
    def run() -> None:
        if report_path is not None and not Path(report_path).resolve().parent.is_dir():
            raise ParameterError(f"--report: the folder of {report_path!r} must exist, got {report_path!r}")
        sc = load_scenario(scenario)
        names = tuple(c.strip() for c in channels.split(",") if c.strip())
        att = attribute(sc, n_paths=n_paths, seed=seed, channels=names)
        if report_path is not None:
            from firesale.report import write_attribution

            click.echo(f"report: {write_attribution(att, report_path, sc.name)}", err=True)
        if as_json:
            click.echo(json.dumps(att.table.to_dict(orient="records"), indent=2))
            return
        for metric, label in (("bad_debt_usd", "Bad debt"), ("liquidated_usd", "Liquidated")):
            rows = att.table[att.table["metric"] == metric]
            table = Table(title=f"{label} by channel (mean over {att.n_paths} paths, USD, 95 % CI)")
            table.add_column("protocol")
            comps = ["own", *att.channels, "total"]
            for comp in comps:
                table.add_column(comp, justify="right")
            for proto, group in rows.groupby("protocol", sort=False):
                cells = []
                by = group.set_index("component")
                for comp in comps:
                    r = by.loc[comp]
                    half = (r["ci_high"] - r["ci_low"]) / 2
                    cells.append(f"${r['mean']:,.0f} ± {half:,.0f}" if half == half else f"${r['mean']:,.0f}")
                table.add_row(str(proto), *cells)
            out.print(table)

    run()
