"""Utilisation moved by borrowing: the protocol series, a ``utilisation`` trigger that pauses borrowing at a
hand-computed step, and a lender run that drains the pool once borrowing takes it to 100 %.

The book and the rising WETH path are those of ``test_borrowing`` (p(k) = 2000 (1 + 0.05 k)); USDC supply 3,000,
borrows 2,700 at the start (utilisation 0.9). B borrows 194.4 at step 1 (to 1394.4: utilisation 2894.4 / 3000 =
0.9648), 66.4 at step 2 (to 1460.8: 2960.8 / 3000 = 0.98693) and wants 66.4 at step 3, of which 39.2 is liquid.
A trigger is read at the start of a step, on the books the previous step left.
"""

from __future__ import annotations

from math import erf, sqrt

import numpy as np
import pytest
from tests.unit.agents.test_borrowing import BORROWERS, debts_after, rising, world

from firesale.engine.simulate import simulate
from firesale.exceptions import ScenarioError

SUPPLY = "total_supply = 3000.0"


def policy(delay: float = 0.0, threshold: float = 0.98) -> str:
    return f"""
[[policies]]
name = "freeze-at-98"
protocol = "lender"
delay = {delay}
trigger = {{ series = "utilisation", asset = "USDC", comparison = ">", threshold = {threshold} }}
action = {{ type = "pause_borrowing" }}
"""


def phi(x: float) -> float:
    return 0.5 * (1 + erf(x / sqrt(2)))


def test_utilisation_is_a_protocol_series_and_metric_moved_by_borrowing() -> None:
    res = simulate(rising(n_steps=3, usdc=SUPPLY), n_paths=2)
    np.testing.assert_allclose(
        res.paths["lender.utilisation_USDC"][0], [0.9, 2894.4 / 3000, 2960.8 / 3000, 1.0], rtol=1e-6
    )  # recorded as float32
    assert res.metrics["lender.utilisation_USDC"].iloc[0] == pytest.approx(1.0, rel=1e-12)
    assert res.metrics["lender.borrowed_usd"].iloc[0] == pytest.approx(194.4 + 66.4 + 39.2, rel=1e-12)


def test_a_utilisation_trigger_pauses_borrowing_at_step_3() -> None:
    sc = rising(n_steps=3, usdc=SUPPLY, extra=policy())
    w = world(sc)
    fired = []
    for _ in range(3):
        w.step()
        fired.append(bool(w.bp.policies.in_force(w)["freeze-at-98"][0]))
    # step 1 reads 0.9, step 2 0.9648, step 3 0.98693 > 0.98: in force from step 3, B's step-3 borrow refused
    assert fired == [False, False, True]
    assert float(w.states[0].debt[0, 1, 1]) == pytest.approx(1460.8, rel=1e-12)
    # a decision that takes one step (delay 300 s) lets the step-3 borrow through: 39.2 liquid of the 66.4 asked
    steps = debts_after(rising(n_steps=3, usdc=SUPPLY, extra=policy(delay=300.0)), 3)
    assert steps[2][1] == pytest.approx(1460.8 + 39.2, rel=1e-12)


def test_a_lower_threshold_fires_a_step_sooner() -> None:
    # 0.96 < 0.9648: the trigger holds at step 2, so B's step-2 borrow is refused too
    steps = debts_after(rising(n_steps=3, usdc=SUPPLY, extra=policy(threshold=0.96)), 3)
    np.testing.assert_allclose([s[1] for s in steps], [1394.4, 1394.4, 1394.4], rtol=1e-12)


def test_a_lender_run_drains_the_pool_at_full_utilisation_reached_through_borrowing() -> None:
    lenders = "\n[agents.lenders]\ncutoff = 0.05\nnoise = 0.02\n"
    # Step 1: borrowers act first, then lenders. After B's 194.4 the fundamental is theta = 105.6 / 3000 = 0.0352:
    # 3000 Phi((0.05 - 0.0352) / 0.02) = 3000 Phi(0.74) = 2310 ask, 105.6 is paid and the pool is dry (2894.4 =
    # borrows). Step 2: theta = 0, 3000 Phi(2.5) asked in all, nothing liquid: nothing paid, B's 66.4 refused.
    res = simulate(rising(BORROWERS + lenders, n_steps=2, usdc=SUPPLY), n_paths=2)
    m = res.metrics.iloc[0]
    assert m["lender.withdrawn_usd"] == pytest.approx(105.6, rel=1e-9)
    assert m["lender.utilisation_USDC"] == pytest.approx(1.0, rel=1e-12)
    assert m["lender.withdrawals_unserved_usd"] == pytest.approx(3000 * phi(2.5) - 105.6, rel=1e-9)
    assert m["lender.withdrawals_unserved_peak_usd"] == pytest.approx(3000 * phi(2.5) - 105.6, rel=1e-9)
    assert m["lender.borrow_refused_usd"] == pytest.approx(66.4, rel=1e-9)
    # Without the borrowing the same lenders see theta = 0.1 at step 1: 3000 Phi(-2.5) = 18.6 ask and are paid;
    # at step 2 theta = (S - 2700) / S with S = 3000 - 18.6, and the share asked grows to 3000 Phi((0.05 - theta)
    # / 0.02) = 39.7, paid in full: the pool stays liquid.
    calm = simulate(rising(lenders, n_steps=2, usdc=SUPPLY), n_paths=2).metrics.iloc[0]
    s2 = 3000 - 3000 * phi(-2.5)
    assert calm["lender.withdrawn_usd"] == pytest.approx(
        3000 * phi((0.05 - (s2 - 2700) / s2) / 0.02), rel=1e-9
    )
    assert calm["lender.withdrawals_unserved_usd"] == 0.0
    assert calm["lender.utilisation_USDC"] < 0.92


def _problems(text_kw: dict) -> list[str]:  # type: ignore[type-arg]
    with pytest.raises(ScenarioError) as exc:
        rising(**text_kw)
    return exc.value.problems


def test_bad_utilisation_and_pause_borrowing_input_is_rejected() -> None:
    no_supply = _problems(
        dict(usdc=SUPPLY, weth="", extra=policy().replace('asset = "USDC"', 'asset = "WETH"'))
    )
    assert no_supply == [
        "toy.toml: policies.freeze-at-98.trigger.asset: needs protocols.lender.reserves.WETH.total_supply (the "
        "supply utilisation divides by), got 'WETH'"
    ]
    unknown = _problems(dict(usdc=SUPPLY, extra=policy().replace('asset = "USDC"', 'asset = "DAI"')))
    assert unknown == ["toy.toml: policies.freeze-at-98.trigger.asset: must name a defined asset, got 'DAI'"]
    no_asset = _problems(dict(usdc=SUPPLY, extra=policy().replace('asset = "USDC", ', "")))
    assert len(no_asset) == 1
    assert no_asset[0].startswith(
        "toy.toml: policies.freeze-at-98.trigger: series 'utilisation' needs 'asset', got"
    )
    # pause_borrowing where nobody borrows (top-ups only): it could never change anything
    idle = _problems(dict(agents="[agents.borrowers]\n", usdc=SUPPLY, extra=policy()))
    assert idle == [
        "toy.toml: policies.freeze-at-98.action.type: has no effect: nobody borrows on lender (turn on "
        "[agents.borrowers] borrow_above_health_factor), got 'pause_borrowing'"
    ]
