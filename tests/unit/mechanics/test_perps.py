"""The perp venue's scalar reference, pinned to hand calculations written out in each test."""

from __future__ import annotations

import math

import pytest

from firesale.exceptions import ParameterError
from firesale.mechanics import perps as ref

NO_FUNDING = 1e12  # a funding interval longer than any test, so the premium stays put


def _z(_k: int, _m: int) -> float:
    return 0.0


def _book(rows, insurance=0.0, vault_cash=0.0, premium=0.0):
    """rows: (collateral, size, entry, isolated_margin or None) per trader, one market."""
    return ref.PerpBook(
        cash=[r[0] for r in rows], size=[[r[1]] for r in rows], entry=[[r[2]] for r in rows],
        iso_margin=[[r[3] or 0.0] for r in rows], isolated=[[r[3] is not None] for r in rows],
        insurance=insurance, vault_cash=vault_cash, premium=[premium], next_funding=NO_FUNDING,
    )  # fmt: skip


def _params(depth=1e9, impact=0.0, fee=0.0, vault=False, rule="binance", **kw):
    market = ref.MarketParams(tiers=((0.0, 20.0, 0.01),), book_depth_usd=depth, impact=impact)
    return ref.VenueParams(markets=(market,), fee_rate=fee, vault=vault, adl_rule=rule,
                           funding_interval=NO_FUNDING, **kw)  # fmt: skip


# --- margin, prices, funding ----------------------------------------------------------------------------------------


def test_maintenance_margin_tiers_are_binance_tax_brackets() -> None:
    tiers = ((0.0, 125.0, 0.004), (50_000.0, 100.0, 0.005), (250_000.0, 50.0, 0.01))
    # 300k: 0.4 % of 50k + 0.5 % of 200k + 1 % of 50k = 200 + 1000 + 500 = 1700
    # (Binance form: 300k * 1 % - amount, amount = 50k*(0.005-0.004) + 250k*(0.01-0.005) = 50 + 1250 = 1300)
    assert ref.maintenance_margin(300_000.0, tiers) == pytest.approx(1700.0, rel=1e-12)
    assert ref.maintenance_margin(10_000.0, tiers) == pytest.approx(40.0, rel=1e-12)
    assert ref.initial_margin_fraction(300_000.0, tiers) == pytest.approx(1 / 50)


def test_check_open_enforces_leverage_margin_and_oi_cap() -> None:
    mk = ref.MarketParams(
        tiers=((0.0, 20.0, 0.01), (100_000.0, 10.0, 0.02)), book_depth_usd=1e6, oi_cap_usd=1e6
    )
    assert ref.check_open(10_000.0, 0.0, 100_000.0, 10.0, 5e5, mk) is None  # IM 10k of 100k at 10x
    assert ref.check_open(10_000.0, 0.0, 150_000.0, 20.0, 5e5, mk) == "leverage above the tier's maximum"
    assert ref.check_open(9_999.0, 0.0, 100_000.0, 10.0, 5e5, mk) == "equity below initial margin"
    assert ref.check_open(10_000.0, 0.0, 100_000.0, 10.0, 1.1e6, mk) == "open interest cap"


def test_mark_price_is_the_median_of_the_three_binance_prices() -> None:
    # index 100; P1 = 100 (1 + 0.0003 * 4h/8h) = 100.015; P2 = 100 (1 + 0.0002) = 100.02; contract 100 (1 + 0.001)
    assert ref.mark_price(100.0, 0.001, 0.0002, 0.0003, 14_400.0, 28_800.0) == pytest.approx(
        100.02, rel=1e-14
    )
    # contract price below both: the median is P1
    assert ref.mark_price(100.0, -0.01, 0.0002, 0.0003, 14_400.0, 28_800.0) == pytest.approx(
        100.015, rel=1e-14
    )


def test_funding_rate_clamp_and_cap() -> None:
    # P = 0.1 %: F = 0.001 + clamp(0.0001 - 0.001, -0.0005, 0.0005) = 0.001 - 0.0005 = 0.0005
    assert ref.funding_rate(0.001, 0.0001, 0.0005, 0.01) == pytest.approx(0.0005, abs=1e-18)
    # P = -0.2 %: F = -0.002 + 0.0005 = -0.0015, capped at 0.001
    assert ref.funding_rate(-0.002, 0.0001, 0.0005, 0.001) == pytest.approx(-0.001, abs=1e-18)


def test_funding_payments_sum_to_zero_between_sides() -> None:
    # long 2 (cross), shorts 1.5 (cross) and 0.5 (isolated), index 100, premium 0.1 % (and its moving average):
    # mark = median(P1 = 100 at the funding time, 100.1, 100.1) = 100.1; F = 0.001 - 0.0005 = 0.0005.
    # The long pays 2 * 100.1 * 0.0005 = 0.1001; the shorts receive 0.075075 and 0.025025.
    book = _book(
        [(1000.0, 2.0, 100.0, None), (1000.0, -1.5, 100.0, None), (0.0, -0.5, 100.0, 50.0)], premium=0.001
    )
    book.next_funding = 28_800.0
    params = ref.VenueParams(markets=(ref.MarketParams(tiers=((0.0, 20.0, 0.01),), book_depth_usd=1e9),))
    ref.perp_round(book, params, [100.0], 28_800.0, _z)
    assert book.cash[:2] == pytest.approx([1000.0 - 0.1001, 1000.075075], abs=1e-12)
    assert book.iso_margin[2][0] == pytest.approx(50.025025, abs=1e-12)
    # nothing from the external side: the modelled book balances
    assert book.funding_in == pytest.approx(0.0, abs=1e-15)
    assert book.next_funding == 57_600.0
    assert book.f_last == [pytest.approx(0.0005)]


def test_impact_cost_is_the_integral_of_square_root_slippage() -> None:
    # k = 1 %, D = 1e6: C(x) = 2/3 * 0.01 * x^1.5 / 1000; 250k after 0 costs 2/3 * 0.01 * 1.25e8 / 1000 = 833.33
    assert ref.impact_cost(0.0, 250_000.0, 0.01, 1e6) == pytest.approx(2500.0 / 3.0, rel=1e-12)
    # the next 750k: 2/3e-5 * (1e9 - 1.25e8) = 5833.33
    assert ref.impact_cost(250_000.0, 750_000.0, 0.01, 1e6) == pytest.approx(17500.0 / 3.0, rel=1e-12)


# --- liquidation and the loss waterfall -----------------------------------------------------------------------------


def _liquidation_case(insurance: float, rule: str = "binance") -> ref.PerpBook:
    # MM 1 %, fee 1 % of the filled notional, a book deep enough for everything, no impact, no vault.
    # index 20,000 -> 18,900:
    #   T0 long 1 @ 20,000, collateral 1,000: equity 1000 - 1100 = -100, bankrupt at mark: no book order,
    #      deficit 100 to the waterfall
    #   T1 long 0.5 @ 20,000, collateral 600: equity 600 - 550 = 50 < MM 94.5 -> sold into the book, cash 50,
    #      fee min(1 % of 9,450 = 94.5, 50) = 50 to the insurance fund
    #   T2 short 1.5 @ 20,000, collateral 10,000: equity 11,650, untouched (unless deleveraged)
    book = _book([(1000.0, 1.0, 20_000.0, None), (600.0, 0.5, 20_000.0, None), (10_000.0, -1.5, 20_000.0, None)],
                 insurance=insurance)  # fmt: skip
    ref.perp_round(book, _params(fee=0.01, rule=rule), [18_900.0], 1.0, _z)
    return book


def test_hand_computed_liquidation_with_insurance_fund_payout() -> None:
    book = _liquidation_case(insurance=100.0)
    # fund: 100 + 50 (T1's fee) - 100 (T0's deficit) = 50; T0's long closes at mark against the book
    assert book.insurance == pytest.approx(50.0, abs=1e-9)
    assert book.fees == pytest.approx(50.0, abs=1e-9)
    assert book.cash == pytest.approx([0.0, 0.0, 10_000.0], abs=1e-9)
    assert [r[0] for r in book.size] == pytest.approx([0.0, 0.0, -1.5], abs=1e-12)
    assert book.realised == pytest.approx(-1100.0 - 550.0, abs=1e-9)
    assert book.socialised == 0.0
    assert book.adl_notional == 0.0
    assert book.n_liquidated == 2
    assert ref.cash_identity_gap(book, 1000.0 + 600.0 + 10_000.0 + 100.0) == pytest.approx(0.0, abs=1e-9)


def test_short_insurance_fund_deleverages_the_winner() -> None:
    book = _liquidation_case(insurance=40.0)
    # fund 40 + 50 = 90 pays 90 of T0's 100; the other 10 is moved onto T2, the one winner: it closes 1 (T0's size)
    # at mark, realising 1,100, and pays 10: cash 10,000 + 1,100 - 10 = 11,090, size -0.5
    assert book.insurance == pytest.approx(0.0, abs=1e-9)
    assert book.cash[2] == pytest.approx(11_090.0, abs=1e-9)
    assert book.size[2][0] == pytest.approx(-0.5, abs=1e-12)
    assert book.adl_notional == pytest.approx(18_900.0, abs=1e-9)
    assert book.adl_transfer == pytest.approx(10.0, abs=1e-9)
    assert book.socialised == pytest.approx(0.0, abs=1e-9)
    assert ref.cash_identity_gap(book, 1000.0 + 600.0 + 10_000.0 + 40.0) == pytest.approx(0.0, abs=1e-9)


def test_short_insurance_fund_without_adl_socialises_the_rest() -> None:
    book = _liquidation_case(insurance=40.0, rule="none")
    assert book.socialised == pytest.approx(10.0, abs=1e-9)
    assert book.cash[2] == 10_000.0
    assert ref.cash_identity_gap(book, 1000.0 + 600.0 + 10_000.0 + 40.0) == pytest.approx(0.0, abs=1e-9)


def test_partial_liquidation_closes_a_fifth_into_the_book() -> None:
    # Hyperliquid's rule: above 100k notional, 20 % per step. Long 10 @ 10,000 (100k), collateral 1,500, MM 1 %;
    # at 9,900: equity 1500 - 1000 = 500 < MM 990 -> sells 2 (19,800 notional), realising -200: cash 1300, size 8.
    book = _book([(1500.0, 10.0, 10_000.0, None), (1e6, -10.0, 10_000.0, None)])
    ref.perp_round(book, _params(partial_threshold_usd=50_000.0, partial_fraction=0.2), [9_900.0], 1.0, _z)
    assert book.size[0][0] == pytest.approx(8.0, rel=1e-12)
    assert book.cash[0] == pytest.approx(1300.0, rel=1e-12)


def test_vault_takes_over_at_the_bankruptcy_price_when_the_book_is_full() -> None:
    # isolated long 1 @ 100 with 10 margin, tiers at 10x with 8 % maintenance, a book taking 20 USD per step.
    # index 95: equity 10 - 5 = 5 < MM 7.6 -> order 95; the book fills 20 (f = 20/95 units), realising -5f;
    # equity stays 5 >= 0 and the order is unfilled, so the vault takes the remaining 1 - f units at their entry
    # with the margin left, 10 - 5f: the trader keeps nothing and the vault's equity rises by the trader's 5.
    market = ref.MarketParams(tiers=((0.0, 10.0, 0.08),), book_depth_usd=20.0)
    params = ref.VenueParams(markets=(market,), vault=True, funding_interval=NO_FUNDING)
    book = _book([(0.0, 1.0, 100.0, 10.0), (1e6, -1.0, 100.0, None)], vault_cash=1000.0)
    taken = ref.perp_round(book, params, [95.0], 1.0, _z)
    f = 20.0 / 95.0
    assert book.size[0][0] == 0.0
    assert book.iso_margin[0][0] == 0.0
    assert taken == [pytest.approx(1.0 - f, rel=1e-12)]
    assert book.vault_pos == [pytest.approx(1.0 - f, rel=1e-12)]
    assert book.vault_cost == [pytest.approx((1.0 - f) * 100.0, rel=1e-12)]
    assert book.vault_cash == pytest.approx(1000.0 + 10.0 - 5.0 * f, rel=1e-12)
    vault_equity = book.vault_cash + book.vault_pos[0] * 95.0 - book.vault_cost[0]
    assert vault_equity == pytest.approx(1005.0, rel=1e-12)
    # the takeover price is the remainder's bankruptcy price: entry - margin / size = 100 - (10 - 5f) / (1 - f)
    bp = 100.0 - (10.0 - 5.0 * f) / (1.0 - f)
    assert book.vault_pos[0] * (95.0 - bp) == pytest.approx(vault_equity - 1000.0, rel=1e-12)


# --- ADL by each rule -----------------------------------------------------------------------------------------------

# A small book at mark 90 after a fall from 100, no insurance fund, no vault, a book that takes nothing:
#   T0 long 2 @ 100, collateral 10: equity 10 - 20 = -10 -> bankrupt, deficit 10, size 2 to match
#   T1 short 1 @ 110, collateral 10: pnl 20, equity 30, pnl% 20/110, leverage 90/30 = 3   -> score 0.5455
#   T2 short 1 @ 100, collateral 2:  pnl 10, equity 12, pnl% 0.1,    leverage 90/12 = 7.5 -> score 0.75
#   T3 short 2 @ 95, collateral 50:  pnl 10, equity 60, pnl% 10/190, leverage 180/60 = 3 -> score 0.1579
#   T4 short 1 @ 80, collateral 100: pnl -10 (a loser)
ADL_ROWS = [(10.0, 2.0, 100.0, None), (10.0, -1.0, 110.0, None), (2.0, -1.0, 100.0, None),
            (50.0, -2.0, 95.0, None), (100.0, -1.0, 80.0, None)]  # fmt: skip


def _adl(rule: str, keys=None) -> ref.PerpBook:
    book = _book(ADL_ROWS)
    ref.perp_round(book, _params(depth=1e-12, rule=rule), [90.0], 1.0, _z, keys)
    return book


def test_adl_binance_ranks_by_pnl_percent_times_leverage() -> None:
    book = _adl("binance")
    # T2 (0.75) then T1 (0.545) cover the 2; each pays 10 * 1/2 = 5 and realises its pnl at mark
    assert [r[0] for r in book.size] == pytest.approx([0.0, 0.0, 0.0, -2.0, -1.0], abs=1e-9)
    assert book.cash == pytest.approx([0.0, 10 + 20 - 5, 2 + 10 - 5, 50.0, 100.0], abs=1e-9)
    assert book.adl_notional == pytest.approx(180.0, abs=1e-9)
    assert book.adl_transfer == pytest.approx(10.0, abs=1e-9)
    assert book.socialised == pytest.approx(0.0, abs=1e-9)


def test_adl_pro_rata_cuts_every_winner_by_the_same_fraction() -> None:
    book = _adl("pro_rata")
    # winners T1, T2, T3 hold 4; the same fraction 2/4 of each: 0.5, 0.5, 1; transfers 2.5, 2.5, 5
    assert [r[0] for r in book.size] == pytest.approx([0.0, -0.5, -0.5, -1.0, -1.0], abs=1e-9)
    assert book.cash == pytest.approx([0.0, 10 + 10 - 2.5, 2 + 5 - 2.5, 50 + 5 - 5, 100.0], abs=1e-9)
    assert book.adl_notional == pytest.approx(180.0, abs=1e-9)


def test_adl_dydx_takes_random_offsetting_positions_even_losers() -> None:
    # keys: T4 first (0.9), then T3 (0.3): T4 closes 1 (realising -10, paying 5), T3 closes 1 of 2 (5 - 5)
    book = _adl("dydx", keys=[[0.0, 0.1, 0.2, 0.3, 0.9]])
    assert [r[0] for r in book.size] == pytest.approx([0.0, -1.0, -1.0, -1.0, 0.0], abs=1e-9)
    assert book.cash == pytest.approx([0.0, 10.0, 2.0, 50.0, 100 - 10 - 5], abs=1e-9)


def test_adl_none_socialises_the_whole_deficit() -> None:
    book = _adl("none")
    assert book.socialised == pytest.approx(10.0, abs=1e-9)
    assert book.adl_notional == 0.0
    assert [r[0] for r in book.size][1:] == [-1.0, -1.0, -2.0, -1.0]


def test_adl_short_of_winners_socialises_the_unmatched_share() -> None:
    # bankrupt long 3 @ 100 with collateral 10 at 95: equity 10 - 15 = -5, deficit 5, size 3 to match; the one
    # winner, short 2 @ 97 (pnl +4), covers 2 of 3: it pays 5 * 2/3 and 5/3 is socialised.
    book = _book([(10.0, 3.0, 100.0, None), (50.0, -2.0, 97.0, None)])
    ref.perp_round(book, _params(depth=1e-12, rule="binance"), [95.0], 1.0, _z)
    assert book.socialised == pytest.approx(5.0 / 3.0, rel=1e-9)
    assert book.adl_transfer == pytest.approx(10.0 / 3.0, rel=1e-9)
    assert book.size[1][0] == pytest.approx(0.0, abs=1e-12)
    assert book.cash[1] == pytest.approx(50.0 + 4.0 - 10.0 / 3.0, rel=1e-9)


def test_unknown_adl_rule_is_rejected() -> None:
    with pytest.raises(
        ParameterError, match=r"The 'rule' parameter of adl_allocation must be one of .* 'lifo'"
    ):
        ref.adl_allocation("lifo", 1.0, [1.0], [True], [1.0])


def test_allocation_never_exceeds_need_or_size() -> None:
    take = ref.adl_allocation("binance", 10.0, [1.0, 2.0], [True, False], [0.5, 9.0])
    assert take == [1.0, 0.0]
    assert math.fsum(ref.adl_allocation("pro_rata", 1.0, [3.0, 1.0], [True, True], [0.0, 0.0])) == 1.0
