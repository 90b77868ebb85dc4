"""Borrowers who draw more debt (``[agents.borrowers]`` borrow_above / borrow_target), on the toy book of ``_toy``
with WETH *rising* 5 % of its start per step: p(k) = 2000 (1 + 0.05 k), every number by hand.

Borrow above health factor 1.3 back down to 1.25, every borrower responds, no response near liquidation
(``action = "none"``). WETH threshold 0.83, ltv 0.80 (unless a test changes it); USDC borrows 1,500 (A) + 1,200 (B)
= 2,700 at the start. At step 1 (p = 2100) B's threshold-weighted collateral is 0.83 x 2100 = 1743, health factor
1743 / 1200 = 1.4525 > 1.3: B borrows up to 1743 / 1.25 = 1394.4 USDC, i.e. 194.4 more; its borrowing power
0.80 x 2100 = 1680 does not bind. A (1743 / 1500 = 1.162) does not borrow. The checks are Aave v3's
``ValidationLogic.validateBorrow`` (aave/aave-v3-core contracts/protocol/libraries/logic/ValidationLogic.sol): new
debt within collateral x ltv, total debt within ``borrowCap`` (a borrow landing exactly on the cap passes: ``<=``),
and the amount within the reserve's liquidity.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.agents import _toy

from firesale.agents.liquidators import gas_price_path
from firesale.engine._blueprint import Blueprint
from firesale.engine._world import World
from firesale.engine.simulate import simulate
from firesale.scenario import parse_scenario

BORROWERS = """
[agents.borrowers]
action = "none"
response_probability = 1.0
borrow_above_health_factor = 1.3
borrow_target_health_factor = 1.25
"""
B_LINE = '  {{ account = "B", asset = "USDC", debt_amount = 1200.0 }},\n'
# C: 1 WETH against 1,000 USDC; at step 1 it borrows up to 1394.4 too, 394.4 more.
C_LINES = (
    '  {{ account = "C", asset = "WETH", collateral_amount = 1.0 }},\n'
    '  {{ account = "C", asset = "USDC", debt_amount = 1000.0 }},\n'
)
STEP_1 = 1743 / 1.25 - 1200  # 194.4


def rising(agents: str = BORROWERS, n_steps: int = 1, usdc: str = "total_supply = 1e6", weth: str = "",
           ltv: float = 0.80, with_c: bool = False, extra: str = ""):  # type: ignore[no-untyped-def]  # fmt: skip
    """The toy scenario with WETH rising; ``extra`` is appended (policies)."""
    text = _toy.WORLD.replace("depth = {{ WETH = 0.5 }}", "depth = {{ WETH = -0.5 }}")
    text = text.replace("ltv = 0.80", f"ltv = {ltv}")
    if with_c:
        text = text.replace(B_LINE, B_LINE + C_LINES)
    text = text.format(n_steps=n_steps, n_paths=2, weth=weth, usdc=usdc) + agents + extra
    return parse_scenario(text, source="toy.toml")


def world(sc):  # type: ignore[no-untyped-def]
    """Two paths of ``sc``, conservation checked after every step."""
    bp = Blueprint.build(sc)
    model = sc.spec.market.build(["WETH"], sc.base_dir)
    n_steps = sc.spec.simulation.n_steps
    exo = bp.exogenous_prices(model.simulate(2, n_steps, 300.0, np.random.default_rng(0)))
    return World(bp, exo, gas_price_path(sc, bp.assets, exo, bp.dt), debug=True)


def debts_after(sc, steps: int) -> list[list[float]]:  # type: ignore[no-untyped-def]
    """Each account's USDC debt after each step, path 0."""
    w = world(sc)
    out = []
    for _ in range(steps):
        w.step()
        out.append([float(x) for x in w.states[0].debt[0, :, 1]])
    return out


def test_leverage_goes_up_as_the_collateral_rises() -> None:
    # Step 2 (p = 2200): 0.83 x 2200 = 1826, 1826 / 1394.4 = 1.3095 > 1.3: to 1826 / 1.25 = 1460.8 (66.4 more).
    # Step 3 (p = 2300): 1909 / 1460.8 = 1.3068 > 1.3: to 1909 / 1.25 = 1527.2. A stays below 1.3 (1909/1500 = 1.27).
    steps = debts_after(rising(n_steps=3), 3)
    np.testing.assert_allclose(steps, [[1500, 1394.4], [1500, 1460.8], [1500, 1527.2]], rtol=1e-12)
    res = simulate(rising(n_steps=3), n_paths=2)
    assert res.metrics["lender.borrowed_usd"].iloc[0] == pytest.approx(327.2, rel=1e-12)
    assert res.metrics["lender.borrow_refused_usd"].iloc[0] == 0.0


def test_without_borrowing_nothing_is_drawn() -> None:
    off = BORROWERS.replace("borrow_above_health_factor = 1.3\nborrow_target_health_factor = 1.25\n", "")
    off = off.replace('action = "none"', 'action = "top_up"')  # no one is near liquidation: nothing happens
    assert debts_after(rising(off, usdc=""), 1) == [[1500.0, 1200.0]]


def test_a_borrow_cap_stops_the_borrow_at_the_cap() -> None:
    # Cap 2,800 USDC, 2,700 borrowed: room for 100 of B's 194.4; total debt lands exactly on the cap (allowed: <=).
    sc = rising(usdc="total_supply = 1e6\nborrow_cap = 2800.0")
    (step,) = debts_after(sc, 1)
    assert step[1] == pytest.approx(1300.0, rel=1e-12)
    assert sum(step) == pytest.approx(2800.0, rel=1e-12)
    res = simulate(sc, n_paths=2)
    assert res.metrics["lender.borrow_refused_usd"].iloc[0] == pytest.approx(STEP_1 - 100.0, rel=1e-12)


def test_a_cap_below_the_borrows_stops_every_borrow_and_zero_is_no_cap() -> None:
    assert debts_after(rising(usdc="total_supply = 1e6\nborrow_cap = 2600.0"), 1) == [[1500.0, 1200.0]]
    (step,) = debts_after(rising(usdc="total_supply = 1e6\nborrow_cap = 0.0"), 1)
    assert step[1] == pytest.approx(1200 + STEP_1, rel=1e-12)


def test_borrowers_share_the_room_first_come_first_served() -> None:
    # B (row 1) wants 194.4, C (row 2) 394.4; cap 4,000 on 3,700 borrowed leaves 300: B gets all it asks, C 105.6.
    sc = rising(usdc="total_supply = 1e6\nborrow_cap = 4000.0", with_c=True)
    (step,) = debts_after(sc, 1)
    assert step == pytest.approx([1500.0, 1394.4, 1105.6], rel=1e-12)
    assert sum(step) == pytest.approx(4000.0, rel=1e-12)


def test_the_ltv_not_the_threshold_limits_the_borrow() -> None:
    # WETH ltv 0.65: borrowing power 0.65 x 2100 = 1365 < the 1394.4 the health-factor target allows: B borrows 165.
    (step,) = debts_after(rising(ltv=0.65), 1)
    assert step[1] == pytest.approx(1365.0, rel=1e-12)
    # ltv 0.55: power 1155 is below the 1,200 B owes already: no new borrow (COLLATERAL_CANNOT_COVER_NEW_BORROW).
    (step,) = debts_after(rising(ltv=0.55), 1)
    assert step[1] == 1200.0


def test_the_reserve_liquidity_limits_the_borrow() -> None:
    # USDC supply 2,750 with 2,700 borrowed: 50 liquid, so B gets 50 of its 194.4; the pool is then fully used.
    sc = rising(usdc="total_supply = 2750.0", n_steps=2)
    steps = debts_after(sc, 2)
    assert steps[0][1] == pytest.approx(1250.0, rel=1e-12)
    assert steps[1][1] == pytest.approx(1250.0, rel=1e-12)  # step 2: nothing liquid is left to borrow
    res = simulate(sc, n_paths=2)
    assert res.metrics["lender.utilisation_USDC"].iloc[0] == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(res.paths["lender.utilisation_USDC"][0], [2700 / 2750, 1.0, 1.0], rtol=1e-6)
    # refused: 144.4 at step 1; at step 2 B (0.83 x 2200 / 1250 = 1.46) wants 1826 / 1.25 - 1250 = 210.8
    assert res.metrics["lender.borrow_refused_usd"].iloc[0] == pytest.approx(144.4 + 210.8, rel=1e-12)


def test_a_pause_borrowing_policy_stops_new_borrows_from_its_step() -> None:
    policy = """
[[policies]]
name = "freeze"
protocol = "lender"
trigger = { series = "time", comparison = ">=", threshold = 600 }
action = { type = "pause_borrowing" }
"""
    steps = debts_after(rising(n_steps=3, extra=policy), 3)
    # step 1 borrows as before; from step 2 (t = 600 s) borrowing is disabled on the reserve
    np.testing.assert_allclose(steps, [[1500, 1394.4], [1500, 1394.4], [1500, 1394.4]], rtol=1e-12)


def test_borrowing_leaves_the_liquidations_to_the_kernel_and_conserves_debt() -> None:
    # Falling WETH (the toy's own path): B is above 1.3 at the start only (0.83 x 2000 / 1200 = 1.383), and step 1
    # sees p = 1900: 1577 / 1200 = 1.314 > 1.3, so B borrows to 1577 / 1.25 = 1261.6; B's threshold-weighted
    # collateral then falls below that debt at p = 1261.6 / 0.83 = 1520 (step 5 at 1500), one step sooner than the
    # 1,200 it owed would (step 6 at 1400: 1162 < 1200). World(debug=True) checks conservation every step.
    agents = BORROWERS
    sc = _toy.scenario(agents, n_steps=6, usdc="total_supply = 1e6")
    w = world(sc)
    debts = []
    for _ in range(6):
        w.step()
        debts.append(float(w.states[0].debt[0, 1, 1]))
    assert debts[0] == pytest.approx(1261.6, rel=1e-12)
    assert debts[3] == pytest.approx(1261.6, rel=1e-12)  # step 4 (p = 1600): 1328.0 > 1261.6, not liquidated
    assert debts[4] == 0.0  # step 5 (p = 1500): 1245 < 1261.6, liquidated with close factor 1


def test_bad_borrowing_input_is_rejected_with_where_and_why() -> None:
    from firesale.exceptions import ScenarioError

    def problems(agents: str, **kw) -> list[str]:  # type: ignore[no-untyped-def]
        with pytest.raises(ScenarioError) as exc:
            rising(agents, **kw)
        return exc.value.problems

    only = BORROWERS.replace("borrow_target_health_factor = 1.25\n", "")
    assert problems(only) == [
        "toy.toml: agents.borrowers: borrowing needs both borrow_above_health_factor and "
        "borrow_target_health_factor, got 1.3 and None"
    ]
    high = BORROWERS.replace("borrow_target_health_factor = 1.25", "borrow_target_health_factor = 1.4")
    assert problems(high) == [
        "toy.toml: agents.borrowers: borrow_target_health_factor must be <= borrow_above_health_factor (1.3), got 1.4"
    ]
    low = BORROWERS.replace("borrow_target_health_factor = 1.25", "borrow_target_health_factor = 1.2")
    assert problems(low)[0].startswith(
        "toy.toml: agents.borrowers: borrow_target_health_factor must be >= target_health_factor (1.25"
    )
    none = BORROWERS.replace("borrow_above_health_factor = 1.3\nborrow_target_health_factor = 1.25\n", "")
    assert problems(none) == [
        "toy.toml: agents.borrowers: action 'none' has no effect without borrow_above_health_factor; remove the "
        "section, got {'action': 'none', 'response_probability': 1.0}"
    ]
    assert problems(BORROWERS, usdc="") == [
        "toy.toml: protocols.lender.reserves.USDC.total_supply: borrowing on lender ([agents.borrowers] "
        "borrow_above_health_factor) needs the supply of every reserve its book owes (a borrow draws on supply - "
        "borrows), got None"
    ]
    assert problems(BORROWERS, weth="borrow_cap = 5.0") == [
        "toy.toml: protocols.lender.reserves.WETH.borrow_cap: has no effect: borrowers draw more of what they owe "
        "and no account of lender owes WETH; remove it, got 5.0"
    ]


def test_borrowing_is_refused_with_cohorts() -> None:
    from firesale.exceptions import ScenarioError

    text = _toy.WORLD.replace("seed = 1\n", "seed = 1\ncohorts = true\n").format(
        n_steps=1, n_paths=2, weth="", usdc="total_supply = 1e6"
    )
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text + BORROWERS, source="toy.toml")
    assert exc.value.problems == [
        "toy.toml: agents.borrowers.borrow_above_health_factor: a merged cohort has no single borrowing power "
        "(ltv); set simulation.cohorts = false to borrow, got 1.3"
    ]


def test_borrows_do_not_depend_on_batch_size() -> None:
    agents = BORROWERS.replace("response_probability = 1.0", "response_probability = 0.5")
    text = rising(agents, n_steps=2).text.replace("n_paths = 2", "n_paths = 600")
    sc = parse_scenario(text, source="toy.toml")
    one = simulate(sc, n_paths=600, batch_size=1024)
    blocks = simulate(sc, n_paths=600, batch_size=256)
    np.testing.assert_array_equal(one.metrics["lender.borrowed_usd"], blocks.metrics["lender.borrowed_usd"])
    first = simulate(sc, n_paths=256)
    np.testing.assert_array_equal(
        first.metrics["lender.borrowed_usd"], one.metrics["lender.borrowed_usd"][:256]
    )
    # B borrows at step 1 with probability 0.5 (194.4), else at step 2 with 0.5 (to 1826 / 1.25 = 1460.8, 260.8)
    borrowed = one.metrics["lender.borrowed_usd"].to_numpy()
    assert set(np.round(borrowed, 6)) <= {0.0, 194.4, 260.8, 194.4 + 66.4}
    share = float((borrowed > 0).mean())
    assert 0.75 - 0.08 < share < 0.75 + 0.08  # 1 - 0.5 x 0.5; 600 paths: 3 standard errors 0.053


LOOP = BORROWERS + "loop = true\n"
# A loop (supply first, then borrow): B borrows X with (1743 + 0.83 X) / (1200 + X) = 1.25, X = 243 / 0.42, and buys
# X / 2100 WETH with it (oracle = market, so a dollar of debt buys a dollar of collateral).
LOOP_1 = 243 / 0.42  # 578.57


def _b(sc, steps: int = 1) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    w = world(sc)
    for _ in range(steps):
        w.step()
    return float(w.states[0].collateral[0, 1, 0]), float(w.states[0].debt[0, 1, 1])


def test_a_loop_buys_collateral_with_the_borrow_back_to_the_target() -> None:
    coll, debt = _b(rising(LOOP))
    assert debt == pytest.approx(1200 + LOOP_1, rel=1e-12)
    assert coll == pytest.approx(1 + LOOP_1 / 2100, rel=1e-12)
    assert 0.83 * 2100 * coll / debt == pytest.approx(1.25, rel=1e-12)


def test_a_loop_is_limited_by_the_ltv_with_its_new_collateral() -> None:
    # ltv 0.65: 1200 + X <= 0.65 (2100 + X), X = (1365 - 1200) / 0.35 = 471.43 < 578.57
    coll, debt = _b(rising(LOOP, ltv=0.65))
    assert debt == pytest.approx(1200 + 165 / 0.35, rel=1e-12)
    assert 0.65 * 2100 * coll == pytest.approx(debt, rel=1e-12)  # exactly at the borrowing power


def test_a_supply_cap_stops_the_loop_and_its_borrow() -> None:
    # WETH supply 10 (the book's 2 included), cap 10.1: 0.1 WETH of the 0.2755 the loop buys; the borrow shrinks to
    # the 0.1 x 2100 = 210 USDC that paid for it.
    sc = rising(LOOP, weth="total_supply = 10.0\nsupply_cap = 10.1")
    coll, debt = _b(sc)
    assert coll == pytest.approx(1.1, rel=1e-12)
    assert debt == pytest.approx(1410.0, rel=1e-12)
    res = simulate(sc, n_paths=2)
    assert res.metrics["lender.supply_capped_usd"].iloc[0] == pytest.approx(LOOP_1 - 210.0, rel=1e-12)
    assert res.metrics["lender.borrowed_usd"].iloc[0] == pytest.approx(210.0, rel=1e-12)


def test_loop_without_borrowing_is_refused() -> None:
    from firesale.exceptions import ScenarioError

    with pytest.raises(ScenarioError) as exc:
        _toy.scenario("[agents.borrowers]\nloop = true\n")
    assert exc.value.problems == [
        "toy.toml: agents.borrowers.loop: has no effect without borrow_above_health_factor (nothing is borrowed to "
        "loop); remove it, got True"
    ]
