"""Bad [agents.borrowers] / [agents.lenders] sections and the reserve keys they make act: file, key path, rule,
value."""

from __future__ import annotations

import pytest
from tests.unit.agents._toy import scenario

from firesale.exceptions import ScenarioError


def _problems(agents: str = "", weth: str = "", usdc: str = "") -> list[str]:
    with pytest.raises(ScenarioError) as exc:
        scenario(agents, weth=weth, usdc=usdc)
    return exc.value.problems


@pytest.mark.parametrize(
    ("agents", "weth", "usdc", "expected"),
    [
        (
            "[agents.borrowers]\ntrigger_health_factor = 0.9\n",
            "",
            "",
            "toy.toml: agents.borrowers.trigger_health_factor: input should be greater than 1, got 0.9",
        ),
        (
            "[agents.borrowers]\ntrigger_health_factor = 1.2\ntarget_health_factor = 1.1\n",
            "",
            "",
            "toy.toml: agents.borrowers: target_health_factor must be >= trigger_health_factor (1.2), got 1.1",
        ),
        (
            "[agents.borrowers]\nresponse_probability = 1.5\n",
            "",
            "",
            "toy.toml: agents.borrowers.response_probability: input should be less than or equal to 1, got 1.5",
        ),
        (
            '[agents.borrowers]\naction = "flee"\n',
            "",
            "",
            "toy.toml: agents.borrowers.action: input should be ",
        ),
        ("[agents.borrowers]\nbudget = 0.2\n", "", "", "toy.toml: agents.borrowers.budget: unknown key"),
        (
            '[agents.borrowers]\nprotocols = ["lendr"]\n',
            "",
            "",
            "toy.toml: agents.borrowers.protocols[0]: must name a protocol of the scenario (lender), got 'lendr'",
        ),
        (
            "",
            "supply_cap = 5.0\ntotal_supply = 10.0",
            "",
            "toy.toml: protocols.lender.reserves.WETH.supply_cap: has no effect: only borrowers' top-ups",
        ),
        (
            '[agents.borrowers]\naction = "repay"\n',
            "supply_cap = 5.0\ntotal_supply = 10.0",
            "",
            "toy.toml: protocols.lender.reserves.WETH.supply_cap: has no effect: only borrowers' top-ups",
        ),
        (
            "[agents.borrowers]\n",
            "supply_cap = 5.0",
            "",
            "toy.toml: protocols.lender.reserves.WETH.supply_cap: needs protocols.lender.reserves.WETH.total_supply "
            "(the supply the cap is compared with), got 5.0",
        ),
        (
            "",
            "",
            "borrow_cap = 5.0",
            "toy.toml: protocols.lender.reserves.USDC.borrow_cap: has no effect: only new borrows ([agents.borrowers] "
            "with borrow_above_health_factor on lender) are checked against it, so without them a cap never binds; "
            "remove it, got 5.0",
        ),
        (
            "[agents.lenders]\nnoise = 0.0\n",
            "",
            "total_supply = 3000.0",
            "toy.toml: agents.lenders.noise: input should be greater than 0, got 0.0",
        ),
        (
            "[agents.lenders]\n",
            "",
            "",
            "toy.toml: agents.lenders: needs a lending reserve with total_supply (the supply lenders withdraw from), "
            "got none",
        ),
        (
            '[agents.lenders]\nprotocols = ["lender"]\n',
            "",
            "",
            "toy.toml: agents.lenders.protocols: protocol lender needs a reserve with total_supply (the supply "
            "lenders withdraw from), got none",
        ),
        (
            "[agents.lenders]\n",
            "total_supply = 1.5",
            "",
            "toy.toml: protocols.lender.reserves.WETH.total_supply: must be at least the collateral the book posts in "
            "WETH (2; supply includes it), got 1.5",
        ),
        (
            "",
            "",
            "total_supply = 3000.0",
            "toy.toml: protocols.lender.reserves.USDC.total_supply: has no effect without receipt_token, "
            "[agents.lenders], supply_cap, borrowing ([agents.borrowers] borrow_above_health_factor) or a "
            "utilisation trigger (nothing reads the supply); remove it, got 3000.0",
        ),
        (
            '[agents.lenders]\nprotocols = ["lender", "x"]\n',
            "",
            "total_supply = 3000.0",
            "toy.toml: agents.lenders.protocols[1]: must name a protocol of the scenario (lender), got 'x'",
        ),
    ],
)
def test_bad_input_is_rejected_with_where_and_why(agents: str, weth: str, usdc: str, expected: str) -> None:
    problems = _problems(agents, weth, usdc)
    assert any(p.startswith(expected) for p in problems), problems


def test_good_sections_load_and_defaults_are_the_documented_ones() -> None:
    sc = scenario("[agents.borrowers]\n[agents.lenders]\n", usdc="total_supply = 3000.0")
    b, lend = sc.spec.agents.borrowers, sc.spec.agents.lenders
    assert (
        b.trigger_health_factor,
        b.target_health_factor,
        b.response_probability,
        b.budget_share,
        b.action,
    ) == (1.1, 1.25, 0.1, 0.25, "top_up")
    assert (lend.cutoff, lend.noise) == (0.05, 0.02)
    assert scenario().spec.agents.borrowers is None and scenario().spec.agents.lenders is None
