"""Searchers in a priority gas auction for each liquidation (``[agents.searchers]``), on the toy book of ``_toy``.

Gas 20 gwei, 500,000 gas per liquidation, paid in WETH. A is liquidated at step 2 (p = 1800, close factor 1): the
liquidator repays 1,500 USDC (bought at market: USDC has no venue) and gets 1500 x 1.05 / 1800 = 0.875 WETH,
sold for $1,575 into a book so deep it moves nothing measurable. Its profit before gas is V = $75; gas at the
market price is 500,000 x 20e-9 x 1800 = $18. With n searchers contesting it and losers burning a share rho of the
gas, the contest burns 18 (1 + (n - 1) rho) and the rest of V above the profit floor is bid away as priority fees.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.agents._toy import scenario

from firesale.agents.searchers import SearchersSpec, contest
from firesale.engine.simulate import simulate
from firesale.exceptions import ScenarioError
from firesale.protocols.base import LiquidatorCapacity

REL = 1e-9  # the deep book's impact on $1,575: ~1e-12 relative


def run(searchers: str = "", min_profit: float = 0.0, n_steps: int = 2):  # type: ignore[no-untyped-def]
    sc = scenario(searchers, n_steps=n_steps)
    text = sc.text.replace("gas_price_gwei = 0.0", f"gas_price_gwei = 20.0\nmin_profit_usd = {min_profit}")
    from firesale.scenario import parse_scenario

    return simulate(parse_scenario(text, source="toy.toml"), n_paths=2).metrics.iloc[0]


def section(n: int, rho: float) -> str:
    return f"\n[agents.searchers]\ncompetitors = {n}\nrevert_gas_share = {rho}\n"


def test_without_searchers_the_liquidator_keeps_the_bonus_less_gas() -> None:
    m = run()
    assert m["n_liquidations"] == 1
    assert m["gas_usd"] == pytest.approx(18.0, rel=1e-12)
    assert m["liquidator_profit_usd"] == pytest.approx(75.0 - 18.0, rel=REL)
    assert "priority_fees_usd" not in m.index


def test_three_searchers_burn_more_gas_and_bid_the_rest_of_the_bonus_away() -> None:
    # n = 3, rho = 0.25: the contest burns 18 x 1.5 = 27; priority fees 75 - 27 = 48; the liquidator keeps 0.
    m = run(section(3, 0.25))
    assert m["n_liquidations"] == 1
    assert m["gas_usd"] == pytest.approx(27.0, rel=1e-12)
    assert m["priority_fees_usd"] == pytest.approx(48.0, rel=REL)
    assert m["liquidator_profit_usd"] == pytest.approx(0.0, abs=1e-9)
    # with a $10 floor the searchers keep it: fees 38
    m = run(section(3, 0.25), min_profit=10.0)
    assert m["priority_fees_usd"] == pytest.approx(38.0, rel=REL)
    assert m["liquidator_profit_usd"] == pytest.approx(10.0, rel=REL)


def test_a_contest_that_burns_more_than_the_bonus_leaves_the_position_unliquidated() -> None:
    # n = 5, rho = 1: 18 x 5 = 90 > 75 at step 2; at step 3 (p = 1700) V is again 75 (0.9265 WETH for 1,500) and
    # the contest 85: nobody liquidates A, whose health factor (0.94) stays below 1.
    m = run(section(5, 1.0), n_steps=3)
    assert m["n_liquidations"] == 0
    assert m["steps_unclearable_flag"] == 2  # steps 2 and 3
    # rho = 0.5 (the other key): 18 x 3 = 54 <= 75, liquidated at step 2 with 21 of priority fees
    m = run(section(5, 0.5))
    assert m["n_liquidations"] == 1
    assert m["priority_fees_usd"] == pytest.approx(21.0, rel=REL)


def test_the_losers_transactions_take_block_space() -> None:
    cap = LiquidatorCapacity(slots=np.array([2, 10, 1]), capital_usd=np.ones(3), gas_usd=np.array([18.0, 1.0, 0.0]),
                             min_profit_usd=0.0)  # fmt: skip
    out = contest(SearchersSpec(competitors=3, revert_gas_share=0.25), cap)
    assert out.slots.tolist() == [1, 6, 0]  # floor(2 / 1.5), floor(10 / 1.5), floor(1 / 1.5)
    assert out.gas_usd.tolist() == [27.0, 1.5, 0.0]
    same = contest(SearchersSpec(revert_gas_share=0.0), cap)  # revert protection: no extra cost
    assert same.slots.tolist() == [2, 10, 1] and same.gas_usd.tolist() == [18.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "competitors = 1",
            "toy.toml: agents.searchers.competitors: input should be greater than or equal to 2, got 1",
        ),
        (
            "revert_gas_share = 1.5",
            "toy.toml: agents.searchers.revert_gas_share: input should be less than or equal to 1, got 1.5",
        ),
        ("bidders = 3", "toy.toml: agents.searchers.bidders: unknown key"),
        (
            "competitors = 4\nrevert_gas_share = 0.0",
            "toy.toml: agents.searchers.competitors: has no effect with revert_gas_share = 0 (revert protection",
        ),
    ],
)
def test_bad_searchers_input_is_rejected(body: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        scenario(f"\n[agents.searchers]\n{body}\n")
    assert any(p.startswith(expected) for p in exc.value.problems), exc.value.problems
