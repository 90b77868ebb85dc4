"""The small additions to the exact mechanics made for the CDP models (issue 11): what they expose, checked by hand.

- ``StableSwapPool.get_D_status``: the legacy (``ORIGINAL``) ``get_D`` returns its last iterate silently after 255
  Newton rounds, as its contract does; ``get_D_status`` says whether it converged.
- ``firesale.mechanics.liquity.redistribution_rewards``: Liquity's redistribution arithmetic as a public function.
- ``Dog.last_bark`` is exercised against the vectorized model in ``test_maker_model.py``.
"""

from __future__ import annotations

import pytest

import firesale.mechanics.stableswap as ss
from firesale.mechanics.liquity import DECIMAL_PRECISION, TroveManager, redistribution_rewards

E18 = 10**18


def pool(convention: ss.Convention) -> ss.StableSwapPool:
    return ss.StableSwapPool([E18, E18], [E18, E18], 100, 0, 0, 0, convention=convention)


def test_get_d_status_reports_convergence() -> None:
    p = pool(ss.ORIGINAL)
    d, ok = p.get_D_status([E18, 3 * E18], 100)
    assert ok and d == p.get_D([E18, 3 * E18], 100)
    # balanced coins: D is their sum, reached in one Newton step
    assert p.get_D_status([E18, E18], 100) == (2 * E18, True)


def test_get_d_status_reports_a_silent_non_convergence(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the round limit cut to one, Newton from sum(xp) cannot settle on an imbalanced pool: the legacy
    convention returns the iterate (as the contract would after 255 rounds) and the status says so; the later
    conventions revert."""
    monkeypatch.setattr(ss, "_ITERATIONS", 1)
    d, ok = pool(ss.ORIGINAL).get_D_status([E18, 50 * E18], 10)
    assert not ok and 0 < d < 51 * E18
    with pytest.raises(ss.Revert, match="did not converge"):
        pool(ss.NG).get_D_status([E18, 50 * E18], 10 * 100)


def test_redistribution_rewards_by_hand() -> None:
    """10 LUSD and 3 wei of ETH over stakes of 4e18: 10e18 // 4e18 = 2 LUSD per unit, remainder 2e18; 3e18 // 4e18
    = 0 ETH per unit, remainder 3e18. Fed back, a second 1 LUSD / 1 wei: (1e18 + 2e18) // 4e18 = 0, remainder 3e18;
    (1e18 + 3e18) // 4e18 = 1 ETH per unit, remainder 0."""
    assert redistribution_rewards(10, 3, 4 * E18) == (0, 2, 3 * E18, 2 * E18)
    assert redistribution_rewards(1, 1, 4 * E18, 3 * E18, 2 * E18) == (1, 0, 0, 3 * E18)


def test_trove_manager_uses_the_public_function() -> None:
    tm = TroveManager()
    tm.total_stakes = 7 * E18
    tm.active_pool_lusd_debt, tm.active_pool_eth = 100 * E18, 10 * E18
    tm._redistribute_debt_and_coll(5 * E18, E18)
    eth, lusd, e_err, l_err = redistribution_rewards(5 * E18, E18, 7 * E18)
    assert (tm.L_ETH, tm.L_LUSDDebt) == (eth, lusd)
    assert (tm.last_eth_error_redistribution, tm.last_lusd_debt_error_redistribution) == (e_err, l_err)
    assert lusd == 5 * E18 * DECIMAL_PRECISION // (7 * E18)
