"""The snapshot monitor and the two commands: state changes, bad snapshots, and the loop driven step by step."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from firesale.exceptions import ParameterError
from firesale.monitor import ClassifierConfig, SnapshotMonitor
from firesale.monitor._commands import backtest, monitor


def _prices(path, start, values):
    idx = pd.date_range(start, periods=len(values), freq="h", tz="UTC")
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "USDC": values}).to_csv(path, index=False)


def _pools(path, start, depths):
    idx = pd.date_range(start, periods=len(depths), freq="h", tz="UTC")
    pd.DataFrame(
        {"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "venue": "curve 3pool", "depth_usd": depths}
    ).to_csv(path, index=False)


def test_state_changes_bad_snapshots_and_recovery(tmp_path):
    _prices(tmp_path / "prices-001.csv", "2024-01-01", [1.0, 1.0, 0.999])
    _pools(tmp_path / "pools-001.csv", "2024-01-01", [1e8, 1e8, 9e7])
    mon = SnapshotMonitor(tmp_path, pegs={"USDC": 1.0})
    first = mon.step()
    assert [a.kind for a in first] == ["state"]
    assert first[0].message == "start -> stable: every measured dimension stable"
    assert mon.step() == []  # nothing new

    # A snapshot without its depth column is reported and skipped; the next good one is taken.
    pd.DataFrame({"timestamp": ["2024-01-01T03:00:00Z"], "venue": ["curve 3pool"]}).to_csv(
        tmp_path / "pools-002.csv", index=False
    )
    _prices(tmp_path / "prices-003.csv", "2024-01-01T03:00", [0.97])
    alerts = mon.step()
    assert alerts[0].kind == "bad snapshot"
    assert alerts[0].file == "pools-002.csv"
    assert alerts[0].message == (
        "pools-002.csv: a pools snapshot needs the columns ['timestamp', 'venue', 'depth_usd']; missing "
        "['depth_usd'] (columns: ['timestamp', 'venue'])"
    )
    assert alerts[1].kind == "state"
    assert alerts[1].message == "stable -> stressed: USDC 3.0 % off its peg (stressed)"

    # Depth falls to 5 % of its start and the peg breaks by 12 %: two system dimensions failed at once.
    _pools(tmp_path / "pools-004.csv", "2024-01-01T04:00", [5e6])
    _prices(tmp_path / "prices-005.csv", "2024-01-01T04:00", [0.88])
    alerts = mon.step()
    assert [a.state for a in alerts] == [2]
    # slippage of $1 M into $5 M of depth: 1 / 6 = 16.7 %
    assert alerts[0].message == (
        "stressed -> systemic failure: USDC 12 % off its peg (failed); liquidity at 5.0 % of its start on curve 3pool "
        "(failed); selling $1,000,000 costs 17 % in slippage on curve 3pool (failed)"
    )
    now = mon.current()
    assert now["label"] == "systemic failure"
    assert now["grades"]["liquidity"] == 2 and now["grades"]["peg"] == 2


def test_unreadable_and_unnamed_files_are_reported(tmp_path):
    (tmp_path / "prices-001.csv").write_text("timestamp,USDC\nnot a time,1.0\n")
    (tmp_path / "weather.csv").write_text("timestamp,rain\n2024-01-01,1\n")
    (tmp_path / "positions-000.csv").write_text("account,asset,collateral_amount,debt_amount\na,WETH,1,0\n")
    alerts = SnapshotMonitor(tmp_path).step()
    assert [a.file for a in alerts] == [
        "positions-000.csv",
        "prices-001.csv",
        "weather.csv",
    ]  # "-000" < "-001" < "weather"
    assert "needs prices first" in alerts[0].message
    assert "column 'timestamp' has a value that is not a time" in alerts[1].message
    assert "the name must start with one of ['prices', 'pools', 'oracles', 'positions']" in alerts[2].message


def test_positions_give_debt_near_liquidation(tmp_path):
    idx = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    pd.DataFrame({"timestamp": idx, "WETH": [2000.0, 2000.0, 2000.0], "USDC": 1.0}).to_csv(
        tmp_path / "prices-001.csv", index=False
    )
    # HF = 10 * 2000 * 0.83 / 16000 = 1.0375: within 5 % of liquidation, all of the debt.
    pd.DataFrame({"account": ["a", "a"], "asset": ["WETH", "USDC"], "collateral_amount": [10.0, 0.0],
                  "debt_amount": [0.0, 16000.0]}).to_csv(tmp_path / "positions-002.csv", index=False)  # fmt: skip
    mon = SnapshotMonitor(tmp_path, liquidation_thresholds={"WETH": 0.83, "USDC": 0.78})
    alerts = mon.step()
    # One failed system dimension alone is "stressed", not systemic failure.
    assert alerts[-1].message == "start -> stressed: 100 % of debt within 5.0 % of liquidation (failed)"
    assert mon.indicators["near_liquidation"].iloc[-1] == 1.0


def test_run_loop_is_driven_without_waiting(tmp_path):
    _prices(tmp_path / "prices-001.csv", "2024-01-01", [1.0, 1.0])
    mon = SnapshotMonitor(tmp_path, pegs={"USDC": 1.0})
    seen, waits = [], []
    mon.run(poll_s=5.0, emit=seen.append, sleep=waits.append, max_steps=3)
    assert len(seen) == 1 and waits == [5.0, 5.0]


def test_monitor_rejects_a_missing_directory(tmp_path):
    with pytest.raises(
        ParameterError, match="The 'directory' parameter of SnapshotMonitor must be an existing"
    ):
        SnapshotMonitor(tmp_path / "nope", ClassifierConfig())


def test_monitor_command_once(tmp_path):
    _prices(tmp_path / "prices-001.csv", "2024-01-01", [1.0, 1.0, 0.97])
    (tmp_path / "pools-002.csv").write_text("timestamp,venue\n2024-01-01T00:00:00Z,x\n")
    result = CliRunner().invoke(monitor, [str(tmp_path), "--once", "--peg", "USDC=1", "--json"])
    assert result.exit_code == 0, result.output
    assert "[bad snapshot] pools-002.csv" in result.stderr
    payload = json.loads(result.stdout[result.stdout.index("{") :])
    assert payload["label"] == "stressed"
    assert payload["reasons"] == ["USDC 3.0 % off its peg (stressed)"]
    bad = CliRunner().invoke(monitor, [str(tmp_path), "--once", "--peg", "USDC"])
    assert bad.exit_code == 2
    assert "--peg: must be ASSET=NUMBER with the number in [0, inf]. Got 'USDC' instead." in bad.stderr


def test_backtest_command(tmp_path):
    result = CliRunner().invoke(
        backtest, ["majors_1d_2020-2025", "--columns", "ETH", "--models", "normal,historical", "--window", "250",
                   "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    rows = {r["model"]: r for r in payload["table"]}
    # ETH daily 2020-2025: the normal VaR 99 % is breached on 39 of 1900 days (the same as the library call).
    assert rows["normal"]["hits"] == 39 and rows["normal"]["n"] == 1900
    assert rows["normal"]["kupiec_p"] < 0.001
    assert payload["summary"][0].startswith(
        "ETH, normal VaR 99%: 39 hits in 1900 steps (2.05% vs 1.00% assumed)"
    )
    bad = CliRunner().invoke(backtest, ["majors_1d_2020-2025", "--columns", "DOGE2"])
    assert bad.exit_code == 2
    text = CliRunner().invoke(backtest, ["majors_1d_2020-2025", "--columns", "BTC,ETH", "--models", "normal"])
    assert text.exit_code == 0, text.output
    assert "Kupiec" in text.stdout and "BTC-ETH" in text.stdout


def test_backtest_command_with_the_early_warning_table():
    result = CliRunner().invoke(
        backtest, ["majors_1d_2020-2025", "--columns", "ETH", "--models", "normal", "--events"]
    )
    assert result.exit_code == 0, result.output
    assert "Early warning on the shipped replays" in result.stdout
    assert "usdc-2023-03" in result.stdout
    assert (
        "false alarms (share of calm steps stressed) on eth_btc_1h_2019-2024: 2020: 2.8%, 2021: 1.3%"
        in result.stdout
    )
