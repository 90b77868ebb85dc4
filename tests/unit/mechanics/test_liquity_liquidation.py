"""Liquity troves, liquidations and the Stability Pool against liquity/dev's own tests (commit bf638ecb):
StabilityPool_SPWithdrawalTest.js, TroveManager_RecoveryModeTest.js and TroveManagerTest.js, transcribed scenario by
scenario with their literal expectations and tolerances; plus every revert and a conservation property.

Troves are opened as the JS helpers do (utils/testHelpers.js): ``getOpenTroveLUSDAmount(totalDebt)`` and
``openTrove({ICR, extraLUSDAmount})``, at the test price feed's default of $200.
"""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings, strategies as st

from firesale.exceptions import ParameterError
from firesale.mechanics import Revert
from firesale.mechanics.liquity import (
    CCR,
    GAS_POOL,
    LUSD_GAS_COMPENSATION,
    MCR,
    MIN_NET_DEBT,
    Status,
    TroveManager,
    calc_borrowing_fee,
    calc_borrowing_rate,
)

E18 = 10**18
NOW = 1_700_000_000


def dec(n: int, d: int) -> int:
    return n * 10**d


def apply_liquidation_fee(eth: int) -> int:
    # testHelpers.applyLiquidationFee: ethAmount * 0.995
    return eth * 995 * 10**15 // E18


class System:
    def __init__(self) -> None:
        self.tm = TroveManager()
        self.sp = self.tm.stability_pool
        self.lusd = self.tm.lusd_token
        self.price = 200 * E18  # PriceFeedTestnet's initial price
        self.now = NOW

    def get_net_borrowing_amount(self, debt_with_fee: int) -> int:
        # testHelpers.getNetBorrowingAmount
        return debt_with_fee * E18 // (E18 + self.tm.get_borrowing_rate_with_decay(self.now))

    def get_open_trove_lusd_amount(self, total_debt: int) -> int:
        # testHelpers.getOpenTroveLUSDAmount: subtract the gas compensation, then the borrowing fee
        return self.get_net_borrowing_amount(total_debt - LUSD_GAS_COMPENSATION)

    def open_trove_with_total_debt(self, who: str, total_debt: int, coll: int) -> None:
        self.tm.open_trove(who, coll, self.get_open_trove_lusd_amount(total_debt), self.price, self.now)

    def open_trove(self, who: str, icr: int, extra_lusd: int = 0) -> tuple[int, int]:
        # testHelpers.openTrove({ICR, extraLUSDAmount}): returns (collateral, totalDebt)
        lusd_amount = self.get_net_borrowing_amount(MIN_NET_DEBT) + 1 + extra_lusd
        fee = calc_borrowing_fee(calc_borrowing_rate(self.tm.base_rate), lusd_amount)
        total_debt = lusd_amount + LUSD_GAS_COMPENSATION + fee
        coll = icr * total_debt // self.price
        self.tm.open_trove(who, coll, lusd_amount, self.price, self.now)
        return coll, total_debt

    def deposit(self, who: str, amount: int, source: str = "whale") -> None:
        if source != who:
            self.lusd.transfer(source, who, amount)
        self.sp.provide_to_sp(who, amount)


# --- StabilityPool_SPWithdrawalTest.js ------------------------------------------------------------------------------

# (test name, whale total debt = whale coll, deposits, defaulters as (total debt, coll), withdrawal, expected
#  {depositor: (LUSD withdrawn, ETH gain)}, LUSD tolerance, ETH tolerance)
SP_WITHDRAWAL_CASES = [
    (
        "equal initial deposit ... after one liquidation",
        dec(100000, 18),
        {"alice": dec(10000, 18), "bob": dec(10000, 18), "carol": dec(10000, 18)},
        [(dec(10000, 18), dec(100, 18))],
        dec(10000, 18),
        dict.fromkeys(("alice", "bob", "carol"), (6666666666666666666666, 33166666666666666667)),
        dict.fromkeys(("alice", "bob", "carol"), (10000, 10000)),
    ),
    (
        "equal initial deposit ... after two identical liquidations",
        dec(100000, 18),
        {"alice": dec(10000, 18), "bob": dec(10000, 18), "carol": dec(10000, 18)},
        [(dec(10000, 18), dec(100, 18))] * 2,
        dec(10000, 18),
        dict.fromkeys(("alice", "bob", "carol"), (3333333333333333333333, 66333333333333333333)),
        dict.fromkeys(("alice", "bob", "carol"), (10000, 10000)),
    ),
    (
        "equal initial deposit ... after three identical liquidations",
        dec(100000, 18),
        {"alice": dec(10000, 18), "bob": dec(10000, 18), "carol": dec(10000, 18)},
        [(dec(10000, 18), dec(100, 18))] * 3,
        dec(10000, 18),
        {name: (0, dec(99500, 15)) for name in ("alice", "bob", "carol")},
        dict.fromkeys(("alice", "bob", "carol"), (10000, 10000)),
    ),
    (
        "equal initial deposit ... after two liquidations of increasing LUSD",
        dec(100000, 18),
        {"alice": dec(10000, 18), "bob": dec(10000, 18), "carol": dec(10000, 18)},
        [(dec(5000, 18), 50000000000000000000), (dec(7000, 18), 70000000000000000000)],
        dec(10000, 18),
        {name: (6000000000000000000000, dec(398, 17)) for name in ("alice", "bob", "carol")},
        dict.fromkeys(("alice", "bob", "carol"), (10000, 10000)),
    ),
    (
        "varying deposits ... after two identical liquidations",
        dec(100000, 18),
        {"alice": dec(10000, 18), "bob": dec(20000, 18), "carol": dec(30000, 18)},
        [(dec(10000, 18), dec(100, 18))] * 2,
        None,  # each withdraws their own deposit
        {
            "alice": (6666666666666666666666, 33166666666666666667),
            "bob": (13333333333333333333333, 66333333333333333333),
            "carol": (20000000000000000000000, dec(995, 17)),
        },
        dict.fromkeys(("alice", "bob", "carol"), (100000, 100000)),
    ),
    (
        "varying deposits ... after three identical liquidations",
        dec(100000, 18),
        {"alice": dec(10000, 18), "bob": dec(20000, 18), "carol": dec(30000, 18)},
        [(dec(10000, 18), dec(100, 18))] * 3,
        None,
        {
            "alice": (5000000000000000000000, 49750000000000000000),
            "bob": (10000000000000000000000, dec(995, 17)),
            "carol": (15000000000000000000000, 149250000000000000000),
        },
        dict.fromkeys(("alice", "bob", "carol"), (100000, 100000)),
    ),
    (
        "varying deposits ... after three varying liquidations",
        dec(1000000, 18),
        {"alice": dec(2000, 18), "bob": dec(456000, 18), "carol": dec(13100, 18)},
        [
            (207000000000000000000000, dec(2160, 18)),
            (dec(5, 21), dec(50, 18)),
            (46700000000000000000000, dec(500, 18)),
        ],
        dec(500000, 18),
        {
            "alice": (901719380174061000000, 11447463383570366500),
            "bob": (205592018679686000000000, 2610021651454043834000),
            "carol": (5906261940140100000000, 74980885162385912900),
        },
        {
            "alice": (100000000000, 10000000000),
            "bob": (10000000000, 10000000000),
            "carol": (10000000000, 10000000000),
        },
    ),
]


@pytest.mark.parametrize(
    ("name", "whale", "deposits", "defaulters", "withdrawal", "expected", "tolerance"),
    SP_WITHDRAWAL_CASES,
    ids=[case[0] for case in SP_WITHDRAWAL_CASES],
)
def test_sp_withdrawal(name, whale, deposits, defaulters, withdrawal, expected, tolerance) -> None:
    s = System()
    s.open_trove_with_total_debt("whale", whale, whale)  # whale opens a trove with as much ETH as LUSD debt
    for who, amount in deposits.items():
        s.deposit(who, amount)
    for i, (total_debt, coll) in enumerate(defaulters):
        s.open_trove_with_total_debt(f"defaulter_{i + 1}", total_debt, coll)
    s.price = dec(100, 18)  # price drops by 50%: defaulter ICR falls to 100%
    for i in range(len(defaulters)):
        s.tm.liquidate(f"defaulter_{i + 1}", s.price)
    for who, amount in deposits.items():
        lusd, eth = s.sp.withdraw_from_sp(who, withdrawal or amount, s.price)
        assert lusd == s.lusd.balance_of(who)
        want_lusd, want_eth = expected[who]
        tol_lusd, tol_eth = tolerance[who]
        assert abs(lusd - want_lusd) <= tol_lusd, who
        assert abs(eth - want_eth) <= tol_eth, who


def test_pool_emptying_liquidation_increases_epoch() -> None:
    # StabilityPool_SPWithdrawalTest.js "Pool-emptying liquidation increases epoch by one, resets scaleFactor to 0,
    # and resets P to 1e18"
    s = System()
    s.open_trove_with_total_debt("whale", dec(100000, 18), dec(100000, 18))
    for who in ("alice", "bob"):
        s.deposit(who, dec(10000, 18))
    for i in range(1, 5):
        s.open_trove_with_total_debt(f"defaulter_{i}", dec(10000, 18), dec(100, 18))
    s.price = dec(100, 18)
    assert (s.sp.current_epoch, s.sp.current_scale, s.sp.P) == (0, 0, dec(1, 18))
    s.tm.liquidate("defaulter_1", s.price)
    assert (s.sp.current_epoch, s.sp.current_scale) == (0, 0)
    assert abs(s.sp.P - dec(5, 17)) <= 1000
    s.tm.liquidate("defaulter_2", s.price)
    assert (s.sp.current_epoch, s.sp.current_scale, s.sp.P) == (1, 0, dec(1, 18))
    for who in ("alice", "bob"):  # the JS test re-deposits from the first depositors' accounts
        s.deposit(who, dec(10000, 18))
    s.tm.liquidate("defaulter_3", s.price)
    assert (s.sp.current_epoch, s.sp.current_scale) == (1, 0)
    assert abs(s.sp.P - dec(5, 17)) <= 1000
    s.tm.liquidate("defaulter_4", s.price)
    assert (s.sp.current_epoch, s.sp.current_scale, s.sp.P) == (2, 0, dec(1, 18))


def test_deposit_spans_one_scale_factor_change() -> None:
    # StabilityPool_SPWithdrawalTest.js "deposit spans one scale factor change: Single depositor withdraws correct
    # compounded deposit and ETH Gain after one liquidation"
    s = System()
    s.open_trove_with_total_debt("whale", dec(100000, 18), dec(100000, 18))
    s.deposit("alice", dec(10000, 18))
    s.open_trove_with_total_debt("defaulter_1", 9999999910000000000000, dec(100, 18))  # 'almost' 10000 LUSD
    assert s.sp.current_scale == 0
    s.open_trove_with_total_debt("defaulter_2", dec(9900, 18), dec(60, 18))
    s.price = dec(100, 18)
    s.tm.liquidate("defaulter_1", s.price)
    assert dec(9, 9) == s.sp.P  # "Value of P reduced to 9e9"
    s.price = dec(
        200, 18
    )  # "Increasing the price for a moment to avoid pending liquidations to block withdrawal"
    s.sp.withdraw_from_sp("alice", dec(10000, 18), s.price)
    s.price = dec(100, 18)
    s.deposit("bob", dec(10000, 18))
    s.tm.liquidate("defaulter_2", s.price)  # P altered by a factor of 1 - 9900/10000 = 0.01: scale changed
    assert s.sp.current_scale == 1
    lusd, eth = s.sp.withdraw_from_sp("bob", dec(10000, 18), s.price)
    # "Expect Bob to withdraw 1% of initial deposit (100 LUSD) and all the liquidated ETH (60 ether)"
    assert abs(s.lusd.balance_of("bob") - 100000000000000000000) <= 100000
    assert abs(eth - 59700000000000000000) <= 100000


def _scale_change_world(n_defaulters: int) -> tuple[System, dict, dict]:
    """Whale plus ``n_defaulters`` troves of 9999.9 LUSD / 100 ETH, price $100; returns exact pro-rata books."""
    s = System()
    s.open_trove_with_total_debt("whale", dec(100000, 18), dec(100000, 18))
    for i in range(1, n_defaulters + 1):
        s.open_trove_with_total_debt(f"defaulter_{i}", 9999900000000000000000, dec(100, 18))
    s.price = dec(100, 18)
    return s, {}, {}


def _deposit(s: System, book: dict, gains: dict, who: str, amount: int) -> None:
    s.deposit(who, amount)
    book[who], gains[who] = Fraction(amount), Fraction(0)


def _liquidate(s: System, book: dict, gains: dict, who: str) -> None:
    # An independent exact model: every deposit loses debt * d / total and gains coll_to_sp * d / total.
    debt, coll, _, _ = s.tm.get_entire_debt_and_coll(who)
    total = sum(book.values())
    s.tm.liquidate(who, s.price)
    for k in book:
        gains[k] += Fraction(coll - coll // 200) * book[k] / total
        book[k] *= 1 - Fraction(debt) / total


def test_several_deposits_span_scale_changes() -> None:
    # StabilityPool_SPWithdrawalTest.js "Several deposits of 10000 LUSD span one scale factor change. Depositors
    # withdraws correct compounded deposit and ETH Gain after one liquidation": P and the scale are literal.
    s, book, gains = _scale_change_world(4)
    _deposit(s, book, gains, "alice", dec(10000, 18))
    _liquidate(s, book, gains, "defaulter_1")
    assert (s.sp.P, s.sp.current_scale) == (dec(1, 13), 0)  # P decreases to 1e(18-5) = 1e13
    _deposit(s, book, gains, "bob", dec(99999, 17))
    _liquidate(s, book, gains, "defaulter_2")
    assert (s.sp.P, s.sp.current_scale) == (dec(1, 17), 1)  # scale changes and P changes to 1e(13-5+9) = 1e17
    _deposit(s, book, gains, "carol", dec(99999, 17))
    _liquidate(s, book, gains, "defaulter_3")
    assert (s.sp.P, s.sp.current_scale) == (dec(1, 12), 1)
    _deposit(s, book, gains, "dennis", dec(99999, 17))
    _liquidate(s, book, gains, "defaulter_4")
    assert (s.sp.P, s.sp.current_scale) == (dec(1, 16), 2)
    for who in ("alice", "bob", "carol", "dennis"):
        eth = s.sp.withdraw_from_sp(who, dec(10000, 18), s.price)[1]
        assert abs(eth - dec(995, 17)) <= dec(1, 17)  # the JS tolerance
        assert (
            abs(eth - gains[who]) <= 10**5
        )  # the exact pro-rata gain, including the gain across a scale change
    for who in ("alice", "bob", "carol"):
        assert s.lusd.balance_of(who) == 0  # deposits completely used up
    # D withdraws around 0.9999 LUSD: 9999.9 reduced by a factor of 1e-5
    assert abs(s.lusd.balance_of("dennis") - dec(99999, 12)) <= 100000


def test_eth_gain_stops_increasing_after_two_scale_changes() -> None:
    # StabilityPool_SPWithdrawalTest.js "Depositor's ETH gain stops increasing after two scale changes"
    s, book, gains = _scale_change_world(5)
    _deposit(s, book, gains, "alice", dec(10000, 18))
    _liquidate(s, book, gains, "defaulter_1")
    for i, who in enumerate(("bob", "carol", "dennis"), start=2):
        _deposit(s, book, gains, who, dec(99999, 17))
        _liquidate(s, book, gains, f"defaulter_{i}")
    assert (s.sp.P, s.sp.current_scale) == (dec(1, 16), 2)
    gain_at_second_scale_change = s.sp.get_depositor_eth_gain("alice")
    _deposit(s, book, gains, "erin", dec(99999, 17))
    _liquidate(s, book, gains, "defaulter_5")
    assert (s.sp.P, s.sp.current_scale) == (dec(1, 11), 2)
    assert s.sp.get_depositor_eth_gain("alice") == gain_at_second_scale_change


# --- TroveManager_RecoveryModeTest.js -------------------------------------------------------------------------------


def test_recovery_icr_below_100_removes_stake() -> None:
    s = System()
    a_coll, _ = s.open_trove("alice", dec(150, 16))
    b_coll, _ = s.open_trove("bob", dec(150, 16), extra_lusd=dec(2000, 18))
    assert s.tm.get_tcr(s.price) == 1500000000000000000
    assert s.tm.troves("bob").stake == b_coll
    assert s.tm.total_stakes == a_coll + b_coll
    s.price = 100000000000000000000
    assert s.tm.check_recovery_mode(s.price)
    assert s.tm.get_current_icr("bob", s.price) == 750000000000000000
    s.tm.liquidate("bob", s.price)
    assert s.tm.troves("bob").stake == 0
    assert s.tm.total_stakes == a_coll
    # "with ICR < 100%: closes the Trove and removes it from the Trove array"
    assert s.tm.troves("bob").status == Status.closedByLiquidation
    assert "bob" not in s.tm.trove_owners


def test_recovery_icr_below_100_updates_snapshots() -> None:
    s = System()
    a_coll, _ = s.open_trove("alice", dec(150, 16))
    b_coll, _ = s.open_trove("bob", dec(150, 16))
    d_coll, _ = s.open_trove("dennis", dec(150, 16))
    assert s.tm.get_tcr(s.price) == 1500000000000000000
    s.price = 100000000000000000000
    assert s.tm.check_recovery_mode(s.price)
    s.tm.liquidate("dennis", s.price)
    assert s.tm.total_stakes_snapshot == a_coll + b_coll
    assert s.tm.total_collateral_snapshot == a_coll + b_coll + apply_liquidation_fee(d_coll)
    a_reward = apply_liquidation_fee(d_coll) * a_coll // (a_coll + b_coll)
    b_reward = apply_liquidation_fee(d_coll) * b_coll // (a_coll + b_coll)
    s.tm.liquidate("bob", s.price)
    assert s.tm.total_stakes_snapshot == a_coll
    expected = a_coll + a_reward + apply_liquidation_fee(b_coll + b_reward)
    assert abs(s.tm.total_collateral_snapshot - expected) <= 1000


def test_recovery_icr_below_100_only_redistributes() -> None:
    s = System()
    sp_deposit = dec(390, 18)
    s.open_trove("alice", dec(150, 16), extra_lusd=sp_deposit)
    s.open_trove("bob", dec(150, 16))
    s.open_trove("dennis", dec(150, 16))
    s.deposit("alice", sp_deposit, source="alice")
    assert s.sp.P == 1000000000000000000
    s.price = 100000000000000000000
    assert s.tm.check_recovery_mode(s.price)
    s.tm.liquidate("bob", s.price)
    assert s.sp.P == 1000000000000000000  # no offset
    assert s.sp.total_lusd_deposits == sp_deposit


def test_recovery_icr_exactly_100_only_redistributes() -> None:
    # Hand-checked edge: ICR == 100% falls in the "ICR <= 100%" case, so the Stability Pool is not used.
    s = System()
    s.open_trove("alice", dec(150, 16), extra_lusd=dec(390, 18))
    s.tm.open_trove("bob", dec(221, 17), dec(2000, 18), s.price, s.now)  # debt 2210 LUSD
    s.deposit("alice", dec(390, 18), source="alice")
    s.price = dec(100, 18)
    assert s.tm.check_recovery_mode(s.price)
    assert s.tm.get_current_icr("bob", s.price) == E18
    totals = s.tm.liquidate("bob", s.price)
    assert (totals.total_debt_to_offset, totals.total_debt_to_redistribute) == (0, dec(2210, 18))
    assert s.sp.P == E18
    assert s.tm.L_LUSDDebt > 0


def test_recovery_icr_between_100_and_110_offsets_then_redistributes() -> None:
    s = System()
    sp_deposit = dec(390, 18)
    a_coll, _ = s.open_trove("alice", dec(150, 16), extra_lusd=sp_deposit)
    b_coll, b_total_debt = s.open_trove("bob", dec(210, 16), extra_lusd=dec(2000, 18))
    d_coll, _ = s.open_trove("dennis", dec(150, 16))
    s.deposit("alice", sp_deposit, source="alice")
    s.price = 100000000000000000000
    assert s.tm.check_recovery_mode(s.price)
    assert s.tm.get_current_icr("bob", s.price) == 1050000000000000000
    assert s.sp.total_lusd_deposits == 390000000000000000000
    assert s.sp.P == 1000000000000000000
    s.tm.liquidate("bob", s.price)
    assert s.sp.get_compounded_lusd_deposit("alice") == 0
    assert s.sp.get_depositor_eth_gain("alice") == sp_deposit * apply_liquidation_fee(b_coll) // b_total_debt
    expected_l_debt = (b_total_debt - sp_deposit) * E18 // (a_coll + d_coll)
    expected_l_eth = (
        apply_liquidation_fee(b_coll - b_coll * sp_deposit // b_total_debt) * E18 // (a_coll + d_coll)
    )
    assert abs(s.tm.L_LUSDDebt - expected_l_debt) <= 100
    assert abs(s.tm.L_ETH - expected_l_eth) <= 100


def test_recovery_icr_above_110_with_empty_pool_does_nothing() -> None:
    s = System()
    a_coll, _ = s.open_trove("alice", dec(266, 16))
    b_coll, b_total_debt = s.open_trove("bob", dec(240, 16), extra_lusd=dec(2000, 18))
    s.open_trove("dennis", dec(266, 16), extra_lusd=dec(2000, 18))
    s.price = 100000000000000000000
    assert s.tm.check_recovery_mode(s.price)
    assert s.tm.get_current_icr("bob", s.price) == 1200000000000000000
    assert s.tm.get_current_icr("alice", s.price) == dec(133, 16)
    assert s.tm.get_current_icr("dennis", s.price) == dec(133, 16)
    with pytest.raises(Revert, match="TroveManager: nothing to liquidate"):
        s.tm.liquidate("bob", s.price)
    assert s.sp.P == 1000000000000000000
    assert (s.tm.L_LUSDDebt, s.tm.L_ETH) == (0, 0)
    bob = s.tm.troves("bob")
    assert abs(bob.debt - b_total_debt) <= 1000
    assert (bob.coll, bob.stake, bob.status) == (b_coll, b_coll, Status.active)
    assert "bob" in s.tm.trove_owners


@pytest.mark.parametrize(("bob_icr", "surplus"), [(dec(240, 16), True), (dec(220, 16), False)])
def test_recovery_icr_between_110_and_tcr_capped_offset(bob_icr: int, surplus: bool) -> None:
    # "with 110% < ICR < TCR, and StabilityPool LUSD > debt to liquidate: offsets the trove entirely with the pool"
    # and "with ICR% = 110 < TCR ...: there's no collateral surplus"
    s = System()
    b_coll, b_total_debt = s.open_trove("bob", bob_icr, extra_lusd=dec(250, 18))
    s.open_trove("alice", dec(266, 16), extra_lusd=b_total_debt)
    s.open_trove("dennis", dec(266, 16), extra_lusd=dec(2000, 18))
    sp_deposit = b_total_debt + 1
    s.deposit("alice", sp_deposit, source="alice")
    s.price = 100000000000000000000
    tcr = s.tm.get_tcr(s.price)
    assert s.tm.check_recovery_mode(s.price)
    bob_icr_now = s.tm.get_current_icr("bob", s.price)
    if surplus:
        assert MCR < bob_icr_now < tcr
    else:
        assert bob_icr_now == MCR
    s.tm.liquidate("bob", s.price)
    assert abs(s.sp.get_compounded_lusd_deposit("alice") - (sp_deposit - b_total_debt)) <= 2000
    capped = b_total_debt * dec(11, 17) // s.price
    assert abs(s.sp.get_depositor_eth_gain("alice") - apply_liquidation_fee(capped)) <= 3000
    expected_surplus = b_coll - capped if surplus else 0
    assert abs(s.tm.get_coll_surplus("bob") - expected_surplus) <= 1000
    if surplus:
        claimed = s.tm.claim_collateral("bob")
        assert claimed == s.tm.eth_sent["bob"]
        assert abs(claimed - expected_surplus) <= 1000
    with pytest.raises(Revert, match="CollSurplusPool: No collateral available to claim"):
        s.tm.claim_collateral("bob")


def test_liquidate_troves_until_system_leaves_recovery_mode() -> None:
    # TroveManager_RecoveryModeTest.js "liquidateTroves(): With all ICRs > 110%, Liquidates Troves until system
    # leaves recovery mode"
    s = System()
    for who, icr in (("bob", 350), ("carol", 286), ("dennis", 273)):
        s.open_trove(who, dec(icr, 16))
    _, e_debt = s.open_trove("erin", dec(261, 16))
    _, f_debt = s.open_trove("freddy", dec(250, 16))
    _, g_debt = s.open_trove("greta", dec(235, 16))
    _, h_debt = s.open_trove("harry", dec(222, 16), extra_lusd=dec(5000, 18))
    liquidation_amount = e_debt + f_debt + g_debt + h_debt
    s.open_trove("alice", dec(400, 16), extra_lusd=liquidation_amount)
    s.deposit("alice", liquidation_amount, source="alice")
    s.price = 90000000000000000000
    assert s.tm.check_recovery_mode(s.price)
    tcr = s.tm.get_tcr(s.price)
    assert s.tm.get_current_icr("alice", s.price) > tcr
    assert s.tm.get_current_icr("bob", s.price) > tcr
    for who in ("carol", "dennis", "erin", "freddy", "greta", "harry"):
        assert s.tm.get_current_icr(who, s.price) < tcr
    s.tm.liquidate_troves(10, s.price)
    assert not s.tm.check_recovery_mode(s.price)
    assert s.tm.get_tcr(s.price) > CCR
    for who in ("alice", "bob", "carol", "dennis"):
        assert s.tm.troves(who).status == Status.active
    for who in ("erin", "freddy", "greta", "harry"):
        assert s.tm.troves(who).status == Status.closedByLiquidation


def test_liquidate_troves_non_fullfilled_liquidation() -> None:
    # TroveManager_RecoveryModeTest.js "liquidateTroves() with a non fullfilled liquidation: non liquidated trove
    # remains active": with the pool holding A + B + C/2 of debt, A and B are offset and C is skipped.
    s = System()
    _, a_debt = s.open_trove("alice", dec(196, 16))
    _, b_debt = s.open_trove("bob", dec(198, 16))
    _, c_debt = s.open_trove("carol", dec(200, 16))
    s.open_trove("dennis", dec(206, 16))
    s.open_trove("erin", dec(208, 16))
    sp_deposit = a_debt + b_debt + c_debt // 2
    s.open_trove("whale", dec(300, 16), extra_lusd=sp_deposit)
    s.deposit("whale", sp_deposit, source="whale")
    s.price = dec(120, 18)
    tcr = s.tm.get_tcr(s.price)
    assert s.tm.check_recovery_mode(s.price)
    for who in ("alice", "bob", "carol"):
        assert MCR < s.tm.get_current_icr(who, s.price) < tcr
    s.tm.liquidate_troves(10, s.price)
    assert "alice" not in s.tm.trove_owners
    assert "bob" not in s.tm.trove_owners
    assert s.tm.troves("carol").status == Status.active
    assert "carol" in s.tm.trove_owners


# --- TroveManagerTest.js --------------------------------------------------------------------------------------------


def test_liquidate_two_troves_in_system() -> None:
    # "liquidate(): Liquidates undercollateralized trove if there are two troves in the system"
    s = System()
    s.open_trove("bob", dec(200, 18))  # the JS test passes value 100 ETH, which the ICR then overrides
    s.open_trove("alice", dec(2, 18))
    s.sp.provide_to_sp("alice", dec(10, 18))
    s.price = 105000000000000000000
    assert not s.tm.check_recovery_mode(s.price)
    assert s.tm.get_current_icr("alice", s.price) == 1050000000000000000
    assert len(s.tm.trove_owners) == 2
    s.tm.liquidate("alice", s.price)
    assert s.tm.trove_owners == ["bob"]


def test_liquidate_moves_pool_balances() -> None:
    # "liquidate(): decreases ActivePool ETH and LUSDDebt by correct amounts", "increases DefaultPool ETH and LUSD
    # debt by correct amounts", "removes the Trove's stake from the total stakes", "updates the snapshots of total
    # stakes and total collateral"
    s = System()
    a_coll, a_total_debt = s.open_trove("alice", dec(4, 18))
    b_coll, b_total_debt = s.open_trove("bob", dec(21, 17))
    assert s.tm.active_pool_eth == a_coll + b_coll
    assert abs(s.tm.active_pool_lusd_debt - (a_total_debt + b_total_debt)) <= 1000
    assert (s.tm.default_pool_eth, s.tm.default_pool_lusd_debt) == (0, 0)
    assert s.tm.total_stakes == a_coll + b_coll
    assert (s.tm.total_stakes_snapshot, s.tm.total_collateral_snapshot) == (0, 0)
    s.price = 100000000000000000000
    assert not s.tm.check_recovery_mode(s.price)
    s.tm.liquidate("bob", s.price)
    assert s.tm.active_pool_eth == a_coll
    assert abs(s.tm.active_pool_lusd_debt - a_total_debt) <= 1000
    assert s.tm.default_pool_eth == apply_liquidation_fee(b_coll)
    assert abs(s.tm.default_pool_lusd_debt - b_total_debt) <= 1000
    assert s.tm.total_stakes == a_coll
    assert s.tm.total_stakes_snapshot == a_coll
    assert s.tm.total_collateral_snapshot == a_coll + apply_liquidation_fee(b_coll)


def test_liquidate_swaps_trove_owners() -> None:
    # "liquidate(): Removes the correct trove from the TroveOwners array, and moves the last array element to the
    # new empty slot": [W, A, B, C, D, E] -> [W, A, B, E, D]
    s = System()
    s.open_trove("whale", dec(10, 18))
    for who, icr in (("alice", 218), ("bob", 216), ("carol", 214), ("dennis", 212), ("erin", 210)):
        s.open_trove(who, dec(icr, 16))
    s.price = dec(100, 18)
    assert len(s.tm.trove_owners) == 6
    assert not s.tm.check_recovery_mode(s.price)
    s.tm.liquidate("carol", s.price)
    assert s.tm.trove_owners == ["whale", "alice", "bob", "erin", "dennis"]


def test_liquidate_updates_l_terms() -> None:
    # "liquidate(): updates the L_ETH and L_LUSDDebt reward-per-unit-staked totals" (first liquidation)
    s = System()
    a_coll, _ = s.open_trove("alice", dec(8, 18))
    b_coll, _ = s.open_trove("bob", dec(4, 18))
    c_coll, c_total_debt = s.open_trove("carol", dec(111, 16))
    s.price = 100000000000000000000
    assert not s.tm.check_recovery_mode(s.price)
    s.tm.liquidate("carol", s.price)
    assert abs(s.tm.L_ETH - apply_liquidation_fee(c_coll) * E18 // (a_coll + b_coll)) <= 100
    assert abs(s.tm.L_LUSDDebt - c_total_debt * E18 // (a_coll + b_coll)) <= 100
    # the pending rewards are what the formula in the contract gives (rounded down)
    assert s.tm.get_pending_eth_reward("alice") == a_coll * s.tm.L_ETH // E18
    assert s.tm.has_pending_rewards("alice")


def test_liquidate_nonexistent_or_closed_reverts() -> None:
    s = System()
    s.open_trove("alice", dec(4, 18))
    s.open_trove("bob", dec(21, 17))
    s.open_trove("carol", dec(2, 18))
    with pytest.raises(Revert, match="TroveManager: Trove does not exist or is closed"):
        s.tm.liquidate("nobody", s.price)
    s.price = dec(100, 18)
    s.tm.liquidate("carol", s.price)
    with pytest.raises(Revert, match="TroveManager: Trove does not exist or is closed"):
        s.tm.liquidate("carol", s.price)


def test_liquidate_healthy_trove_reverts() -> None:
    # "liquidate(): does nothing if trove has >= 110% ICR"
    s = System()
    s.open_trove("whale", dec(10, 18))
    s.open_trove("bob", dec(3, 18))
    with pytest.raises(Revert, match="TroveManager: nothing to liquidate"):
        s.tm.liquidate("bob", s.price)
    assert s.tm.troves("bob").status == Status.active


def test_last_trove_is_not_liquidated_in_recovery_mode() -> None:
    s = System()
    s.open_trove("alice", dec(2, 18))
    s.price = dec(100, 18)
    assert s.tm.check_recovery_mode(s.price)
    with pytest.raises(Revert, match="TroveManager: nothing to liquidate"):  # "don't liquidate if last trove"
        s.tm.liquidate("alice", s.price)
    assert s.tm.troves("alice").status == Status.active


def test_last_trove_cannot_be_closed_after_return_to_normal_mode() -> None:
    # A batch that starts in Recovery Mode: liquidating the huge trove A (ICR 100.5%) against the pool returns the
    # tracked TCR above 150% (the deployed sequence does not subtract A's gas compensation from the tracked system
    # collateral), so B (ICR 105%) is then liquidated in Normal Mode, which cannot close the last trove.
    tm = TroveManager()
    tm.open_trove("A", 201 * 2010200 * E18 // 100 // 200, dec(2000000, 18), dec(200, 18), NOW)  # ICR 201%
    tm.open_trove("B", 21 * 2210 * E18 // 10 // 200, dec(2000, 18), dec(200, 18), NOW)  # ICR 210%
    tm.stability_pool.provide_to_sp("A", dec(2000000, 18))
    price = dec(100, 18)
    assert tm.check_recovery_mode(price)
    assert (tm.get_current_icr("A", price), tm.get_current_icr("B", price)) == (dec(1005, 15), dec(105, 16))
    with pytest.raises(Revert, match="TroveManager: Only one trove in the system"):
        tm.batch_liquidate_troves(["A", "B"], price)
    assert tm.trove_owners == ["A", "B"]  # rolled back
    assert tm.stability_pool.total_lusd_deposits == dec(2000000, 18)


def test_batch_liquidate_empty_reverts() -> None:
    with pytest.raises(Revert, match="TroveManager: Calldata address array must not be empty"):
        TroveManager().batch_liquidate_troves([], dec(100, 18))


def test_liquidate_troves_sequence_from_lowest() -> None:
    # "liquidateTroves(): liquidates troves with ICR < MCR" in spirit: the three riskiest go, in NICR order.
    s = System()
    s.open_trove("whale", dec(10, 18), extra_lusd=dec(10000, 18))
    s.open_trove("alice", dec(300, 16))
    for who, icr in (("bob", 210), ("carol", 205), ("dennis", 211)):
        s.open_trove(who, dec(icr, 16))
    s.price = dec(100, 18)
    assert not s.tm.check_recovery_mode(s.price)
    assert s.tm.sorted_troves() == ["whale", "alice", "dennis", "bob", "carol"]
    totals = s.tm.liquidate_troves(10, s.price)
    assert s.tm.trove_owners == ["whale", "alice"]
    assert totals.total_lusd_gas_compensation == 3 * LUSD_GAS_COMPENSATION
    with pytest.raises(Revert, match="TroveManager: nothing to liquidate"):
        s.tm.liquidate_troves(10, s.price)


def test_liquidation_pays_gas_compensation() -> None:
    s = System()
    s.open_trove("alice", dec(4, 18))
    b_coll, _ = s.open_trove("bob", dec(21, 17))
    s.price = dec(100, 18)
    s.tm.liquidate("bob", s.price, liquidator="keeper")
    assert s.lusd.balance_of("keeper") == LUSD_GAS_COMPENSATION
    assert s.tm.eth_sent["keeper"] == b_coll // 200
    assert s.lusd.balance_of(GAS_POOL) == LUSD_GAS_COMPENSATION  # alice's reserve stays


# --- BorrowerOperations.openTrove and Stability Pool reverts ---------------------------------------------------------


def test_open_trove_by_hand() -> None:
    # 20 ETH at $200 drawing 2000 LUSD at base rate 0: fee 0.5% = 10 LUSD, debt 2000 + 10 + 200 = 2210 LUSD.
    tm = TroveManager()
    trove = tm.open_trove("alice", dec(20, 18), dec(2000, 18), dec(200, 18), NOW)
    assert (trove.debt, trove.coll, trove.stake, trove.status) == (dec(2210, 18), dec(20, 18), dec(20, 18), 1)
    assert tm.get_current_icr("alice", dec(200, 18)) == 4000 * E18 // 2210
    assert tm.lusd_token.balance_of("alice") == dec(2000, 18)
    assert tm.lusd_token.balance_of("LQTYStaking") == dec(10, 18)
    assert tm.lusd_token.balance_of(GAS_POOL) == dec(200, 18)
    assert tm.lusd_token.total_supply == tm.get_entire_system_debt() == dec(2210, 18)
    assert tm.last_fee_operation_time == NOW


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"max_fee_percentage": 10**15}, "Max fee percentage must be between 0.5% and 100%"),
        ({"max_fee_percentage": E18 + 1}, "Max fee percentage must be between 0.5% and 100%"),
        ({"lusd_amount": dec(1000, 18)}, "BorrowerOps: Trove's net debt must be greater than minimum"),
        # at $100 against 2210 LUSD of debt: 12 ETH is an ICR of 54%, 30 ETH of 136% (the TCR of a lone trove)
        ({"coll": dec(12, 18)}, "BorrowerOps: An operation that would result in ICR < MCR is not permitted"),
        ({"coll": dec(30, 18)}, "BorrowerOps: An operation that would result in TCR < CCR is not permitted"),
    ],
)
def test_open_trove_reverts(kwargs: dict, reason: str) -> None:
    tm = TroveManager()
    args = {"coll": dec(100, 18), "lusd_amount": dec(2000, 18), "max_fee_percentage": E18} | kwargs
    with pytest.raises(Revert, match=re.escape(reason)):
        tm.open_trove(
            "alice", args["coll"], args["lusd_amount"], dec(100, 18), NOW, args["max_fee_percentage"]
        )
    assert tm.lusd_token.total_supply == 0  # the fee minted before the failing check is rolled back
    assert tm.base_rate == tm.last_fee_operation_time == 0


def test_open_trove_fee_limit_and_active_trove() -> None:
    tm = TroveManager()
    tm.base_rate = dec(2, 16)  # 2% + 0.5% floor
    with pytest.raises(Revert, match="Fee exceeded provided maximum"):
        tm.open_trove("alice", dec(100, 18), dec(2000, 18), dec(100, 18), 0, dec(2, 16))
    tm.open_trove("alice", dec(100, 18), dec(2000, 18), dec(100, 18), 0, dec(25, 15))
    with pytest.raises(Revert, match="BorrowerOps: Trove is active"):
        tm.open_trove("alice", dec(100, 18), dec(2000, 18), dec(100, 18), 0)


def test_open_trove_in_recovery_mode_needs_ccr() -> None:
    s = System()
    s.open_trove("alice", dec(150, 16))
    s.price = dec(150, 18)
    assert s.tm.check_recovery_mode(s.price)
    with pytest.raises(Revert, match="Max fee percentage must less than or equal to 100%"):
        s.tm.open_trove("bob", dec(100, 18), dec(2000, 18), s.price, s.now, E18 + 1)
    with pytest.raises(Revert, match="BorrowerOps: Operation must leave trove with ICR >= CCR"):
        s.tm.open_trove("bob", dec(20, 18), dec(2000, 18), s.price, s.now)
    supply = s.lusd.total_supply
    trove = s.tm.open_trove("bob", dec(30, 18), dec(2000, 18), s.price, s.now)
    assert trove.debt == dec(2200, 18)  # no borrowing fee in Recovery Mode
    assert s.lusd.total_supply - supply == dec(2200, 18)


def test_stability_pool_reverts() -> None:
    s = System()
    s.open_trove("alice", dec(2, 18))
    s.open_trove("bob", dec(4, 18))
    with pytest.raises(Revert, match="StabilityPool: Amount must be non-zero"):
        s.sp.provide_to_sp("alice", 0)
    with pytest.raises(Revert, match="ERC20: transfer amount exceeds balance"):
        s.sp.provide_to_sp("carol", dec(1, 18))
    with pytest.raises(Revert, match="StabilityPool: User must have a non-zero deposit"):
        s.sp.withdraw_from_sp("alice", dec(1, 18), s.price)
    s.sp.provide_to_sp("alice", dec(100, 18))
    with pytest.raises(Revert, match="StabilityPool: Cannot withdraw while there are troves with ICR < MCR"):
        s.sp.withdraw_from_sp("alice", dec(1, 18), dec(100, 18))
    assert s.sp.withdraw_from_sp("alice", 0, dec(100, 18)) == (0, 0)  # claiming gains skips the check
    assert s.sp.withdraw_from_sp("alice", dec(1000, 18), s.price) == (dec(100, 18), 0)


def test_lusd_token_reverts() -> None:
    tm = TroveManager()
    with pytest.raises(Revert, match="ERC20: burn amount exceeds balance"):
        tm.lusd_token.burn("alice", 1)
    tm.lusd_token.mint("alice", 2**256 - 1)
    with pytest.raises(Revert, match="SafeMath: addition overflow"):
        tm.lusd_token.mint("bob", 1)
    assert tm.lusd_token.balance_of("bob") == 0


def test_bad_input() -> None:
    tm = TroveManager()
    with pytest.raises(
        ParameterError, match=re.escape("The 'coll' parameter of TroveManager.open_trove must be")
    ):
        tm.open_trove("alice", -1, dec(2000, 18), dec(100, 18), 0)
    with pytest.raises(
        ParameterError, match=re.escape("The 'borrower' parameter of TroveManager.open_trove")
    ):
        tm.open_trove("", 1, dec(2000, 18), dec(100, 18), 0)
    with pytest.raises(
        ParameterError, match=re.escape("The 'price' parameter of TroveManager.batch_liquidate")
    ):
        tm.batch_liquidate_troves(["a"], -5)


# --- property: liquidation conserves collateral and debt ------------------------------------------------------------


def _eth_everywhere(tm: TroveManager) -> int:
    return (
        tm.active_pool_eth
        + tm.default_pool_eth
        + tm.stability_pool.ETH
        + tm.coll_surplus_pool_eth
        + sum(tm.eth_sent.values())
    )


@settings(max_examples=60, deadline=None)
@given(
    troves=st.lists(
        st.tuples(st.integers(min_value=1800, max_value=20000), st.integers(min_value=111, max_value=300)),
        min_size=2,
        max_size=6,
    ),
    whale_coll=st.integers(min_value=165, max_value=1000),
    sp_share=st.integers(min_value=0, max_value=100),
    new_price=st.integers(min_value=60, max_value=200),
)
def test_liquidation_conserves_collateral_and_debt(
    troves, whale_coll: int, sp_share: int, new_price: int
) -> None:
    # Normal and Recovery Mode batches (a weaker whale makes Recovery Mode and capped offsets likelier).
    s = System()
    s.tm.open_trove("whale", dec(whale_coll, 18), dec(20000, 18), s.price, s.now)
    if sp_share:
        s.sp.provide_to_sp("whale", dec(20000, 18) * sp_share // 100)
    names = []
    for i, (lusd, icr_pct) in enumerate(troves):
        coll = dec(icr_pct, 16) * (dec(lusd, 18) * 1005 // 1000 + LUSD_GAS_COMPENSATION) // s.price + 1
        try:
            s.tm.open_trove(f"t{i}", coll, dec(lusd, 18), s.price, s.now)
        except Revert as exc:  # the TCR would fall below 150%: BorrowerOperations refuses, skip this trove
            if exc.reason != "BorrowerOps: An operation that would result in TCR < CCR is not permitted":
                raise
            continue
        names.append(f"t{i}")
    assume(names)
    s.price = dec(new_price, 18)
    eth_before = _eth_everywhere(s.tm)
    debt_before = s.tm.get_entire_system_debt()
    sp_lusd_before, sp_eth_before = s.sp.total_lusd_deposits, s.sp.ETH
    assert s.lusd.total_supply == debt_before
    try:
        totals = s.tm.batch_liquidate_troves(names, s.price, liquidator="keeper")
    except Revert as exc:
        assume(exc.reason != "TroveManager: nothing to liquidate")
        raise
    # each unit of collateral and debt went somewhere, and nothing else moved
    assert totals.total_coll_in_sequence == (
        totals.total_coll_gas_compensation
        + totals.total_coll_to_send_to_sp
        + totals.total_coll_to_redistribute
        + totals.total_coll_surplus
    )
    assert totals.total_debt_in_sequence == totals.total_debt_to_offset + totals.total_debt_to_redistribute
    assert _eth_everywhere(s.tm) == eth_before
    assert s.tm.eth_sent["keeper"] == totals.total_coll_gas_compensation
    assert s.sp.ETH - sp_eth_before == totals.total_coll_to_send_to_sp
    assert sp_lusd_before - s.sp.total_lusd_deposits == totals.total_debt_to_offset
    assert s.tm.coll_surplus_pool_eth == totals.total_coll_surplus
    assert s.tm.get_entire_system_debt() == debt_before - totals.total_debt_to_offset
    assert s.lusd.total_supply == s.tm.get_entire_system_debt()  # offset debt was burned with the SP's LUSD
    assert s.lusd.balance_of("keeper") == totals.total_lusd_gas_compensation
    assert (s.tm.default_pool_eth, s.tm.default_pool_lusd_debt) == (
        totals.total_coll_to_redistribute,
        totals.total_debt_to_redistribute,
    )
    # redistributed amounts are owed to the remaining troves, rounded down by at most a few wei
    pending_eth = sum(s.tm.get_pending_eth_reward(t) for t in s.tm.trove_owners)
    pending_debt = sum(s.tm.get_pending_lusd_debt_reward(t) for t in s.tm.trove_owners)
    slack = s.tm.total_stakes // E18 + len(s.tm.trove_owners) + 1
    assert 0 <= s.tm.default_pool_eth - pending_eth <= slack
    assert 0 <= s.tm.default_pool_lusd_debt - pending_debt <= slack
