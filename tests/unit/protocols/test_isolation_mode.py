"""Aave v3 isolation mode and debt ceilings (:mod:`firesale.protocols.isolation`), every number by hand.

The rules are Aave's (aave-dao/aave-v3-origin v3.3.0, src/contracts/protocol/libraries/logic/): an account is in
isolation mode iff exactly one reserve is its collateral and that reserve has a debt ceiling
(UserConfiguration.getIsolationModeState); it borrows only reserves borrowable in isolation, and only while
``isolationModeTotalDebt + amount / 10^(decimals - 2) <= debtCeiling`` (ValidationLogic.validateBorrow); borrows add
the truncated amount (BorrowLogic.executeBorrow), repays and liquidations take the truncated amount repaid off, never
below 0 (IsolationModeLogic.updateIsolatedDebtIfIsolated / updateIsolatedDebt).

Engine cases use the toy book of ``tests/unit/agents/_toy.py``: A holds 1 WETH against 1,500 USDC, B 1 WETH against
1,200 USDC, both WETH only, so with a ceiling on WETH both are in isolation mode and the isolated debt starts at
1,500 + 1,200 = 2,700.00. With WETH *rising* to 2,100 at step 1 (as in tests/unit/agents/test_borrowing.py) B's
health factor is 0.83 x 2100 / 1200 = 1.4525; borrowing back down to 1.25 it wants 1743 / 1.25 - 1200 = 194.40 USDC
(A, at 1743 / 1500 = 1.162, does not borrow).
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.agents import _toy

from firesale.agents.liquidators import gas_price_path
from firesale.engine._blueprint import Blueprint
from firesale.engine._world import World
from firesale.engine.simulate import simulate
from firesale.exceptions import ScenarioError
from firesale.protocols.isolation import isolation_mode_state, share_ceiling, to_units
from firesale.scenario import parse_scenario

BORROW = """
[agents.borrowers]
action = "none"
response_probability = 1.0
borrow_above_health_factor = 1.3
borrow_target_health_factor = 1.25
"""
USDC = "total_supply = 1e6\nborrowable_in_isolation = true"


def rising(weth: str, usdc: str = USDC, agents: str = BORROW, n_steps: int = 1, extra: str = ""):  # type: ignore[no-untyped-def]
    """The toy book with WETH rising 5 % of its start per step."""
    text = _toy.WORLD.replace("depth = {{ WETH = 0.5 }}", "depth = {{ WETH = -0.5 }}")
    return parse_scenario(text.format(n_steps=n_steps, n_paths=2, weth=weth, usdc=usdc) + agents + extra,
                          source="toy.toml")  # fmt: skip


def falling(weth: str, agents: str, usdc: str = USDC, n_steps: int = 1):  # type: ignore[no-untyped-def]
    """The toy book with WETH falling 5 % of its start per step (A below health factor 1 at step 2)."""
    return _toy.scenario(agents, n_steps=n_steps, weth=weth, usdc=usdc)


def usdc_debt(sc) -> list[float]:  # type: ignore[no-untyped-def]
    """Each account's USDC debt after step 1, path 0 (conservation checked)."""
    bp = Blueprint.build(sc)
    exo = bp.exogenous_prices(
        sc.spec.market.build(["WETH"], sc.base_dir).simulate(2, 1, 300.0, np.random.default_rng(0))
    )
    w = World(bp, exo, gas_price_path(sc, bp.assets, exo, bp.dt), debug=True)
    w.step()
    return [float(x) for x in w.states[0].debt[0, :, 1]]


# ----- the rules, on arrays -----------------------------------------------------------------------------------------
def test_isolation_mode_is_exactly_one_collateral_with_a_ceiling() -> None:
    ceiled = np.array([True, False, False])  # reserve 0 isolated
    collateral = np.array(
        [
            [1.0, 0.0, 0.0],  # only the isolated asset: isolated on 0
            [1.0, 2.0, 0.0],  # the isolated asset beside another collateral: not isolated
            [0.0, 2.0, 0.0],  # one collateral without a ceiling: not isolated
            [0.0, 0.0, 0.0],  # no collateral: not isolated
        ]
    )
    isolated, asset = isolation_mode_state(collateral, ceiled)
    assert isolated.tolist() == [True, False, False, False]
    assert asset[0] == 0


def test_amounts_count_in_truncated_hundredths() -> None:
    # amount / 10^(decimals - 2): 140.769230... counts 14076, 0.009 counts 0, and the float of 194.4 counts 19440
    assert to_units(np.array([140.76923076923077, 0.009, 1743 / 1.25 - 1200, 2.0])).tolist() == [
        14076,
        0,
        19440,
        200,
    ]


def test_the_ceiling_is_shared_first_come_first_served() -> None:
    # One group with 100.00 of room: 60.005 counts 6000 and passes whole; 50 (5000) finds 4000 left and takes 40.00;
    # a sub-cent borrow after it still passes (T + 0 <= ceiling); another group with room -1 (ceiling lowered below
    # the debt) lets nothing through, not even under a cent.
    tokens = np.array([60.005, 50.0, 0.004, 0.004])
    group = np.array([0, 0, 0, 1])
    room = np.array([10000.0, 10000.0, 10000.0, -1.0])
    np.testing.assert_allclose(
        share_ceiling(tokens, group, room), [60.005, 40.0, 0.004, 0.0], rtol=0, atol=1e-12
    )


# ----- borrowing in the engine ----------------------------------------------------------------------------------------
def test_an_isolated_borrow_stops_at_the_ceiling() -> None:
    # Ceiling 2,800.00 on 2,700.00 isolated debt: room for 100.00 of B's 194.40; the ceiling is reached exactly.
    sc = rising("debt_ceiling = 2800.0")
    assert usdc_debt(sc) == pytest.approx([1500.0, 1300.0], rel=1e-12)
    res = simulate(sc, n_paths=2)
    assert res.metrics["lender.isolated_debt_WETH"].iloc[0] == pytest.approx(2800.0, rel=1e-12)
    assert res.metrics["lender.debt_ceiling_stopped_usd"].iloc[0] == pytest.approx(94.4, rel=1e-9)
    assert res.metrics["lender.borrow_refused_usd"].iloc[0] == 0.0  # the cap and the liquidity did not bind
    np.testing.assert_allclose(res.paths["lender.isolated_debt_WETH"][0], [2700.0, 2800.0], rtol=1e-12)


def test_the_truncation_lets_a_borrow_through_that_its_cents_fit() -> None:
    # Target 1.3: B wants 1743 / 1.3 - 1200 = 140.769230... USDC, which counts 14076 hundredths. A ceiling of 2,840.76
    # (room 14076) lets it through whole, the isolated debt landing on the ceiling although the book's debt rose by
    # 140.7692; at 2,840.75 (room 14075) B gets 140.75 and 0.019230... is stopped.
    agents = BORROW.replace("1.3\n", "1.35\n").replace("1.25\n", "1.3\n")
    want = 1743 / 1.3 - 1200
    sc = rising("debt_ceiling = 2840.76", agents=agents)
    assert usdc_debt(sc)[1] == pytest.approx(1200 + want, rel=1e-12)
    res = simulate(sc, n_paths=2)
    assert res.metrics["lender.isolated_debt_WETH"].iloc[0] == pytest.approx(2840.76, rel=1e-12)
    assert res.metrics["lender.debt_ceiling_stopped_usd"].iloc[0] == 0.0
    sc = rising("debt_ceiling = 2840.75", agents=agents)
    assert usdc_debt(sc)[1] == pytest.approx(1340.75, rel=1e-12)
    res = simulate(sc, n_paths=2)
    assert res.metrics["lender.debt_ceiling_stopped_usd"].iloc[0] == pytest.approx(want - 140.75, rel=1e-9)


def test_a_reserve_not_borrowable_in_isolation_is_refused() -> None:
    # USDC without borrowable_in_isolation (Aave's default false): B's whole 194.40 is refused, nothing is drawn.
    sc = rising("debt_ceiling = 1e6", usdc="total_supply = 1e6")
    assert usdc_debt(sc) == [1500.0, 1200.0]
    res = simulate(sc, n_paths=2)
    assert res.metrics["lender.isolation_refused_usd"].iloc[0] == pytest.approx(194.4, rel=1e-9)
    assert res.metrics["lender.borrowed_usd"].iloc[0] == 0.0
    assert res.metrics["lender.isolated_debt_WETH"].iloc[0] == pytest.approx(2700.0, rel=1e-12)


def test_a_declared_starting_isolated_debt_is_used() -> None:
    # The pool's figure 2,750.00 instead of the book's 2,700.00: room 50.00 under a 2,800.00 ceiling.
    sc = rising("debt_ceiling = 2800.0\nisolation_mode_total_debt = 2750.0")
    assert usdc_debt(sc)[1] == pytest.approx(1250.0, rel=1e-12)


def test_a_policy_lowering_the_ceiling_stops_the_borrow() -> None:
    # Governance halves the 2,800.00 ceiling from the start: 1,400.00 is below the 2,700.00 isolated debt, nothing passes.
    policy = """
[[policies]]
name = "lower-ceiling"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 0 }
action = { type = "scale", parameter = "reserves.WETH.debt_ceiling", factor = 0.5 }
"""
    sc = rising("debt_ceiling = 2800.0", extra=policy)
    res = simulate(sc, n_paths=2)
    assert res.metrics["lender.borrowed_usd"].iloc[0] == 0.0
    assert res.metrics["lender.debt_ceiling_stopped_usd"].iloc[0] == pytest.approx(194.4, rel=1e-9)
    without = simulate(rising("debt_ceiling = 2800.0"), n_paths=2)  # the scenario's ceiling: 100.00 passes
    assert without.metrics["lender.borrowed_usd"].iloc[0] == pytest.approx(100.0, rel=1e-9)


# ----- repay and liquidation ------------------------------------------------------------------------------------------
NO_BORROW = """
[agents.borrowers]
action = "{action}"
response_probability = 1.0
trigger_health_factor = 1.1
target_health_factor = 1.25
borrow_above_health_factor = 1.5
borrow_target_health_factor = 1.45
"""  # nobody's health factor reaches 1.5 in the falling world (B starts at 0.83 x 2000 / 1200 = 1.383)


def test_a_repay_lowers_the_isolated_debt() -> None:
    # Step 1 (p = 1900): A at 0.83 x 1900 / 1500 = 1.0513 < 1.1 repays down to 1577 / 1.25 = 1261.60, i.e. 238.40
    # (budget 0.25 x 2000 = 500): 2,700.00 - 238.40 = 2,461.60.
    res = simulate(falling("debt_ceiling = 1e6", NO_BORROW.format(action="repay")), n_paths=2)
    assert res.metrics["lender.repaid_by_borrowers_usd"].iloc[0] == pytest.approx(238.4, rel=1e-9)
    assert res.metrics["lender.isolated_debt_WETH"].iloc[0] == pytest.approx(2461.6, rel=1e-12)


def test_a_liquidation_lowers_the_isolated_debt() -> None:
    # Step 2 (p = 1800): A at 0.996 is liquidated in full (close factor 1): 1,500 repaid by the liquidator, leaving
    # B's 1,200.00.
    res = simulate(falling("debt_ceiling = 1e6", NO_BORROW.format(action="none"), n_steps=2), n_paths=2)
    np.testing.assert_allclose(
        res.paths["lender.isolated_debt_WETH"][0], [2700.0, 2700.0, 1200.0], rtol=1e-12
    )


# ----- bad input ----------------------------------------------------------------------------------------------------
def _problems(sc_text_weth: str, usdc: str = USDC, agents: str = BORROW, kind: str = "aave_v3") -> list[str]:
    text = _toy.WORLD.format(n_steps=1, n_paths=2, weth=sc_text_weth, usdc=usdc) + agents
    text = text.replace('type = "aave_v3"', f'type = "{kind}"')
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, source="toy.toml")
    return exc.value.problems


W = "toy.toml: protocols.lender.reserves.WETH"


@pytest.mark.parametrize(
    ("weth", "usdc", "agents", "expected"),
    [
        ("debt_ceiling = -1.0", USDC, BORROW, f"{W}.debt_ceiling: input should be greater than or equal to 0"),
        ("debt_ceiling = 2e10", USDC, BORROW, f"{W}.debt_ceiling: input should be less than or equal to 1099"),
        ("debt_ceiling = 0.0", USDC, BORROW, f"{W}.debt_ceiling: 0 is Aave's 'not an isolated asset'"),
        ("debt_ceiling = 1000.005", USDC, BORROW, f"{W}.debt_ceiling: must be whole cents"),
        ("debt_ceiling = 1e6", USDC, "", f"{W}.debt_ceiling: has no effect: only new borrows"),
        ("", USDC, BORROW, "toy.toml: protocols.lender.reserves.USDC.borrowable_in_isolation: has no effect: no "
         "reserve of lender has a debt_ceiling"),
        ("debt_ceiling = 1e6", "total_supply = 1e6\nborrowable_in_isolation = false", BORROW,
         "toy.toml: protocols.lender.reserves.USDC.borrowable_in_isolation: false is the default"),
        ("isolation_mode_total_debt = 5.0", "total_supply = 1e6", BORROW,
         f"{W}.isolation_mode_total_debt: is the isolated debt against a reserve with a debt_ceiling"),
        ("debt_ceiling = 1e6\nisolation_mode_total_debt = 5.001", USDC, BORROW,
         f"{W}.isolation_mode_total_debt: must be whole cents"),
    ],
)  # fmt: skip
def test_bad_isolation_keys_are_rejected(weth: str, usdc: str, agents: str, expected: str) -> None:
    problems = _problems(weth, usdc, agents)
    assert any(p.startswith(expected) for p in problems), problems


def test_an_isolated_asset_beside_other_collateral_is_rejected() -> None:
    # B also posts 100 USDC as collateral: Aave never enables a ceiled reserve beside another collateral.
    usdc = USDC + '\nvenues = ["usd-book"]'
    text = _toy.WORLD.format(n_steps=1, n_paths=2, weth="debt_ceiling = 1e6", usdc=usdc) + BORROW
    venue = '[[venues]]\ntype = "orderbook"\nname = "usd-book"\nasset = "USDC"\ndepth_usd = 1e15\nimpact = "linear"\n'
    text = text.replace("[[oracles]]\n", venue + "[[oracles]]\n", 1)
    text = text.replace(
        _toy_b_line(), _toy_b_line() + '  { account = "B", asset = "USDC", collateral_amount = 100.0 },\n'
    )
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, source="toy.toml")
    assert any(
        p.startswith(f"{W}.debt_ceiling: 1 account(s) of lender (B) post WETH beside other collateral")
        for p in exc.value.problems
    ), exc.value.problems


def _toy_b_line() -> str:
    return '  { account = "B", asset = "USDC", debt_amount = 1200.0 },\n'


def test_no_isolated_account_means_no_effect_and_compound_has_no_isolation() -> None:
    # A ceiling on USDC, which nobody posts as collateral: no account is isolated on it.
    problems = _problems("", usdc=USDC + "\ndebt_ceiling = 1e6")
    assert any(p.startswith("toy.toml: protocols.lender.reserves.USDC.debt_ceiling: has no effect: no account of "
                            "lender posts USDC as its only collateral") for p in problems), problems  # fmt: skip
    problems = _problems("debt_ceiling = 1e6", kind="compound_v2")
    assert any(
        p.startswith(f"{W}.debt_ceiling: is Aave v3's isolation mode; compound_v2 has none") for p in problems
    )


def test_a_policy_on_a_ceiling_the_reserve_lacks_is_rejected() -> None:
    policy = """
[[policies]]
name = "lower-ceiling"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 0 }
action = { type = "scale", parameter = "reserves.USDC.debt_ceiling", factor = 0.5 }
"""
    problems = _problems("debt_ceiling = 1e6", agents=BORROW + policy)
    assert any(p.startswith("toy.toml: policies.lower-ceiling.action.parameter: protocol lender (aave_v3) has no such "
                            "control") for p in problems), problems  # fmt: skip


def test_a_market_with_an_isolated_asset_passes_the_conformance_suite() -> None:
    from firesale.protocols import LendingMarket
    from firesale.testing import check_protocol_model

    sc = rising("debt_ceiling = 2800.0")
    model = LendingMarket.build(sc.spec.protocols[0], sc)
    assert model.isolation is not None and model.isolation.rows.tolist() == [
        0,
        1,
    ]  # A and B are isolated on WETH
    passed = check_protocol_model(lambda: model, np.array([2000.0, 1.0]), shock=0.5, n_paths=2)
    assert "conservation and no negative balances" in passed
