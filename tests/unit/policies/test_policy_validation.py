"""Bad [[policies]] entries are rejected at load time with file, key path, rule and value."""

from __future__ import annotations

import pytest

from firesale.exceptions import ScenarioError
from firesale.scenario import parse_scenario
from firesale.scenario._loader import builtin_text

BASE = builtin_text(
    "toy-spiral"
)  # protocol "lender" (aave_v3, reserves WETH and USDC), oracles eth-usd, usdc-usd


def _problems(policy: str) -> list[str]:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(BASE + "\n[[policies]]\n" + policy, source="bad.toml")
    return exc.value.problems


GOOD_TRIGGER = 'trigger = { series = "oracle_move", oracle = "eth-usd", window = 600, comparison = ">", threshold = 0.05 }'
PAUSE = 'action = { type = "pause_liquidations" }'


def test_a_good_policy_loads() -> None:
    sc = parse_scenario(BASE + f'\n[[policies]]\nname = "cb"\nprotocol = "lender"\n{GOOD_TRIGGER}\n{PAUSE}\n')
    assert sc.spec.policies[0].trigger.window == 600


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (  # an unknown series, with a suggestion
            f'name = "p"\nprotocol = "lender"\ntrigger = {{ series = "oracle_moves", oracle = "eth-usd", window = 600, '
            f'comparison = ">", threshold = 0.05 }}\n{PAUSE}',
            "bad.toml: policies.p.trigger.series: unknown series 'oracle_moves' (did you mean 'oracle_move'?)",
        ),
        (  # utilisation names its reserve
            f'name = "p"\nprotocol = "lender"\ntrigger = {{ series = "utilisation", comparison = ">", threshold = 0.9 }}'
            f"\n{PAUSE}",
            "bad.toml: policies.p.trigger: series 'utilisation' needs 'asset'",
        ),
        (  # a negative delay
            f'name = "p"\nprotocol = "lender"\ndelay = -60\n{GOOD_TRIGGER}\n{PAUSE}',
            "bad.toml: policies.p.delay: input should be greater than or equal to 0, got -60",
        ),
        (  # a parameter the protocol does not have
            f'name = "p"\nprotocol = "lender"\n{GOOD_TRIGGER}\n'
            'action = { type = "scale", parameter = "reserves.WETH.liquidation_treshold", factor = 0.9 }',
            "bad.toml: policies.p.action.parameter: protocol lender (aave_v3) has no such control (did you mean "
            "'reserves.WETH.liquidation_threshold'?)",
        ),
        (  # a reserve the protocol does not have
            f'name = "p"\nprotocol = "lender"\n{GOOD_TRIGGER}\n'
            'action = { type = "scale", parameter = "reserves.WBTC.liquidation_threshold", factor = 0.9 }',
            "got 'reserves.WBTC.liquidation_threshold'",
        ),
        (  # an unknown oracle
            f'name = "p"\nprotocol = "lender"\ntrigger = {{ series = "oracle_move", oracle = "eth-usdc", window = 600, '
            f'comparison = ">", threshold = 0.05 }}\n{PAUSE}',
            "bad.toml: policies.p.trigger.oracle: must name a defined oracle (did you mean 'eth-usd'?), got 'eth-usdc'",
        ),
        (  # an unknown protocol
            f'name = "p"\nprotocol = "lendr"\n{GOOD_TRIGGER}\n{PAUSE}',
            "bad.toml: policies.p.protocol: must name a defined protocol (did you mean 'lender'?), got 'lendr'",
        ),
        (  # a window that is not a whole number of steps (dt = 300)
            f'name = "p"\nprotocol = "lender"\ntrigger = {{ series = "oracle_move", oracle = "eth-usd", window = 450, '
            f'comparison = ">", threshold = 0.05 }}\n{PAUSE}',
            "bad.toml: policies.p.trigger.window: must be a positive multiple of simulation.dt (300 s), got 450.0",
        ),
        (  # a key the series does not read
            f'name = "p"\nprotocol = "lender"\ntrigger = {{ series = "time", asset = "WETH", comparison = ">", '
            f"threshold = 0 }}\n{PAUSE}",
            "bad.toml: policies.p.trigger.asset: has no effect on series 'time'; remove it, got 'WETH'",
        ),
        (  # a series without its keys
            f'name = "p"\nprotocol = "lender"\ntrigger = {{ series = "realised_volatility", comparison = ">", '
            f"threshold = 0.05 }}\n{PAUSE}",
            "series 'realised_volatility' needs 'asset', 'window'",
        ),
        (  # two release rules
            f'name = "p"\nprotocol = "lender"\nduration = 600\ngrace = 600\n{GOOD_TRIGGER}\n{PAUSE}',
            "give at most one of 'duration' and 'grace'",
        ),
        (  # a backstop is never withdrawn
            f'name = "p"\nprotocol = "lender"\nduration = 600\n{GOOD_TRIGGER}\n'
            'action = { type = "backstop", share = 0.01 }',
            "bad.toml: policies.p.duration: has no effect on a backstop",
        ),
        (  # an action key the type does not use
            f'name = "p"\nprotocol = "lender"\n{GOOD_TRIGGER}\naction = {{ type = "pause_liquidations", factor = 2 }}',
            "bad.toml: policies.p.action.factor: has no effect on action 'pause_liquidations'; remove it, got 2",
        ),
        (  # scaling by the trigger needs a positive threshold to scale by
            'name = "p"\nprotocol = "lender"\ntrigger = { series = "oracle_change", oracle = "eth-usd", window = 600, '
            'comparison = "<", threshold = -0.05 }\n'
            'action = { type = "scale_with_trigger", parameter = "reserves.WETH.liquidation_margin" }',
            "needs a trigger 'series > threshold' with threshold > 0",
        ),
        (  # a threshold on a flag
            f'name = "p"\nprotocol = "lender"\ntrigger = {{ series = "flag", flag = "oracle", threshold = 1 }}\n{PAUSE}',
            "bad.toml: policies.p.trigger.threshold: has no effect on a flag",
        ),
    ],
)
def test_bad_policies_are_rejected(policy: str, expected: str) -> None:
    problems = _problems(policy)
    assert any(expected in line for line in problems), problems


def test_two_policies_on_one_control_are_rejected() -> None:
    one = f'name = "a"\nprotocol = "lender"\n{GOOD_TRIGGER}\n{PAUSE}\n'
    two = one.replace('"a"', '"b"')
    problems = _problems(one + "\n[[policies]]\n" + two)
    assert any(
        "policies.b.action: policy a already acts on pause_liquidations of lender" in p for p in problems
    )


def test_a_model_without_controls_refuses() -> None:
    from firesale.exceptions import ParameterError
    from firesale.protocols.base import ProtocolModel

    class Bare(ProtocolModel):  # the contract's defaults only
        build = init_state = round = account = check_conservation = None  # type: ignore[assignment]

    assert Bare.controls(None) == {}
    with pytest.raises(ParameterError, match="Bare offers no 'pause_liquidations' control"):
        Bare.pause_liquidations(Bare.__new__(Bare), None, None)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="Bare has no parameter 'x' that a policy may scale"):
        Bare.scale_parameter(Bare.__new__(Bare), None, "x", None)  # type: ignore[arg-type]
