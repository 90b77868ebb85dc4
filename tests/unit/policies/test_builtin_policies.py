"""The built-in policy overlays and ``--policy``: each overlay validates on the book it was written for, and bad
references are refused before anything runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from firesale.cli import main
from firesale.exceptions import ScenarioError
from firesale.scenario import builtin_policies, load_scenario, with_policies

EXPECTED = {"predictive-margin", "liquidity-reserve", "circuit-breaker", "dynamic-margin", "governance-pause-1h", "governance-pause-6h",
            "governance-pause-24h", "reserve-1pct", "reserve-5pct"}  # fmt: skip


def test_every_builtin_policy_validates_on_the_flagship_and_adds_its_policy():
    assert set(builtin_policies()) == EXPECTED
    base = load_scenario("aave-v3-today")
    assert base.spec.policies == []
    for name in sorted(EXPECTED):
        sc = with_policies(base, [name])
        assert [p.name for p in sc.spec.policies] == [name]
        assert sc.source == f"aave-v3-today+{name}"


def test_a_policy_file_of_ones_own_is_appended(tmp_path):
    f = tmp_path / "late.toml"
    f.write_text(
        '[[policies]]\nname = "late"\nprotocol = "aave-v3-core"\ndelay = 7200\n'
        'trigger = { series = "oracle_move", oracle = "chainlink-eth-usd", window = 3600, comparison = ">", '
        'threshold = 0.05 }\naction = { type = "pause_liquidations" }\n'
    )
    sc = with_policies(load_scenario("aave-v3-today"), [str(f)])
    assert sc.spec.policies[0].delay == 7200


def test_an_overlay_with_other_sections_or_an_unknown_name_is_refused(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[simulation]\nn_steps = 3\ndt = 300\n")
    base = load_scenario("toy-spiral")
    with pytest.raises(ScenarioError, match=r"holds only \[\[policies\]\] tables, got \['simulation'\]"):
        with_policies(base, [str(f)])
    with pytest.raises(
        ScenarioError, match=r"--policy: must be a policy file or a built-in policy .* got 'nope'"
    ):
        with_policies(base, ["nope"])


def test_cli_refuses_an_unknown_policy_with_exit_2_before_running(tmp_path):
    res = CliRunner().invoke(main, ["run", "toy-spiral", "--policy", "nope", "--store", str(tmp_path / "s")])
    assert res.exit_code == 2 and "got 'nope'" in res.output
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").rglob("*.parquet"))
