"""The sweep, breakpoint and recommend commands: bad input exits 2 with a clear message before any work starts."""

from __future__ import annotations

import functools
import json

import pytest
from click.testing import CliRunner

import firesale.dist._cluster as cluster
from firesale.analysis._commands import breakpoint_command, recommend_command, sweep_command

_WORLD = """
name = "hand-drop"
[simulation]
n_steps = 4
dt = 300
record = ["bad_debt"]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "drop"
depth = { WETH = 0.1 }
start = 600
[[venues]]
type = "orderbook"
name = "deep"
asset = "WETH"
depth_usd = 1e15
[[oracles]]
name = "eth"
asset = "WETH"
type = "market"
[[oracles]]
name = "usd"
asset = "USDC"
type = "market"
[[protocols]]
name = "lender"
type = "aave_v3"
[[protocols.accounts]]
account = "a"
asset = "WETH"
collateral_amount = 100.0
[[protocols.accounts]]
account = "a"
asset = "USDC"
debt_amount = 150000.0
[protocols.reserves.WETH]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "eth"
venues = ["deep"]
[protocols.reserves.USDC]
ltv = 0.75
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "usd"
[agents]
gas_price_gwei = 0.0
"""


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "hand.toml"
    path.write_text(_WORLD)
    return str(path)


def _invoke(command, args):
    return CliRunner().invoke(command, args, catch_exceptions=False)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "protocols.lender.reserves.WETH.liquidation_treshold=0.8"], "'liquidation_treshold'"),
        (["--set", "protocols.lender.reserves.WETH.liquidation_threshold=0.8:0.9:0"], "non-zero step"),
        (["--set", "protocols.lender.reserves.WETH.liquidation_threshold=0.8,1.5"], "liquidation_threshold"),
        (["--set", "simulation.n_steps=2", "--set", "simulation.n_steps=3"], "each key once"),
    ],
)
def test_sweep_bad_input_exits_2_before_any_work(tmp_path, scenario_file, extra, message) -> None:
    store = tmp_path / "runs"
    result = _invoke(sweep_command, [scenario_file, "--store", str(store), "--paths", "2", *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not store.exists()  # nothing was started


def test_unreachable_scheduler_exits_2(tmp_path, scenario_file, monkeypatch) -> None:
    monkeypatch.setattr(cluster, "connect", functools.partial(cluster.connect, timeout_s=1.0))
    store = tmp_path / "runs"
    result = _invoke(
        sweep_command,
        [
            scenario_file,
            "--set",
            "market.depth.WETH=0.2",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--store",
            str(store),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "reachable Dask scheduler" in result.output and "tcp://127.0.0.1:9" in result.output
    assert not store.exists()


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        (breakpoint_command, ["--budget", "1.5"], "'budget' parameter of firesale breakpoint (--budget) must be"),
        (breakpoint_command, ["--probability", "0"], "(0, 1]"),
        (breakpoint_command, ["--axis", "speed"], "an instant fall has no speed"),
        (breakpoint_command, ["--range", "0.5:0.1"], "LO < HI"),
        (recommend_command, ["--param", "protocols.lender.reserves.WETH.liquidation_bonus=0:0.1", "--budget", "2"],
         "(0, 1]"),
        (recommend_command, ["--param", "protocols.lender.reserves.WETH.bonus=0:0.1"], "'bonus'"),
        (recommend_command, ["--param", "protocols.lender.reserves.WETH.liquidation_bonus=0:0.1", "--target", "x"],
         "--target"),
    ],
)  # fmt: skip
def test_search_bad_input_exits_2(scenario_file, command, args, message) -> None:
    result = _invoke(command, [scenario_file, "--paths", "1", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_sweep_runs_and_stores(tmp_path, scenario_file) -> None:
    store = tmp_path / "runs"
    report = tmp_path / "sweep.html"
    result = _invoke(
        sweep_command,
        [scenario_file, "--set", "market.depth.WETH=0.2,0.25", "--paths", "2", "--store", str(store), "--json",
         "--report", str(report)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    # Bad debt by hand: 0 at a 20 % drop; 150,000 - 150,000 / 1.05 = 7,142.857 at 25 %.
    means = [p["bad_debt_mean_usd"] for p in payload["points"]]
    assert means == pytest.approx([0.0, 150_000 - 150_000 / 1.05])
    assert payload["sweep_id"].startswith("sweep-")
    assert report.exists()
