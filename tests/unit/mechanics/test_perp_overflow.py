"""The reference's book overflow and rate-limited index, on hand cases (firesale.mechanics.perps)."""

from __future__ import annotations

import math

import pytest

from firesale.mechanics import perps as ref

NO_FUNDING = 1e12


def _z(_k: int, _m: int) -> float:
    return 0.0


def _case(overflow: bool, **market) -> tuple[ref.PerpBook, ref.VenueParams]:
    # long 10 @ 100 with 60 of cross collateral, 5 % maintenance (20x); a 100 USD book with 1 % impact at depth
    mk = ref.MarketParams(
        tiers=((0.0, 20.0, 0.05),), book_depth_usd=100.0, impact=0.01, overflow=overflow, **market
    )
    params = ref.VenueParams(markets=(mk,), vault=False, funding_interval=NO_FUNDING)
    book = ref.PerpBook(cash=[60.0], size=[[10.0]], entry=[[100.0]], iso_margin=[[0.0]], isolated=[[False]],
                        insurance=100.0, vault_cash=0.0, premium=[0.0], next_funding=NO_FUNDING)  # fmt: skip
    return book, params


def test_overflowing_book_fills_everything_with_square_root_impact() -> None:
    # At 95 the equity 60 - 50 = 10 is below the maintenance 0.05 * 950 = 47.5: all 950 USD go to the book. The
    # impact curve continues past the 100 of depth: cost 2/3 * 0.01 * 950^1.5 / sqrt(100) = 19.52; cash
    # 60 - 50 - 19.52 = -9.52, a deficit the fund pays.
    book, params = _case(overflow=True)
    ref.perp_round(book, params, [95.0], 1.0, _z)
    cost = 2.0 / 3.0 * 0.01 * 950.0**1.5 / math.sqrt(100.0)
    assert book.slippage == pytest.approx(cost, rel=1e-12)
    assert book.size[0][0] == 0.0
    assert book.cash[0] == 0.0
    assert book.insurance == pytest.approx(100.0 - (cost - 10.0), rel=1e-12)
    assert book.insurance_paid == pytest.approx(cost - 10.0, rel=1e-12)
    assert book.n_unserved == 0
    assert ref.cash_identity_gap(book, 160.0) == pytest.approx(0.0, abs=1e-9)


def test_capped_book_fills_its_depth_and_the_rest_waits() -> None:
    # Without overflow the book takes 100 USD (100/95 ETH) at cost 2/3 * 0.01 * 100^1.5 / 10 = 2/3; the rest waits.
    book, params = _case(overflow=False)
    ref.perp_round(book, params, [95.0], 1.0, _z)
    assert book.slippage == pytest.approx(2.0 / 3.0, rel=1e-12)
    assert book.size[0][0] == pytest.approx(10.0 - 100.0 / 95.0, rel=1e-12)
    assert book.n_unserved == 1
    assert book.insurance == 100.0


def test_rate_limited_index_from_a_seeded_start() -> None:
    # Seeded with the starting index 100 at time 0 and 1e-4 per second: at 300 s the venue sees at most
    # 100 * 1.03 = 103 and at least 97. An oracle at 80 reads 97: equity 60 - 30 = 30 is below 0.05 * 970 = 48.5, so
    # the position is sold, at 97 rather than 80 (where it would be bankrupt: 60 - 200 < 0): 970 USD into the book at
    # 2/3 * 0.01 * 970^1.5 / 10 of impact, leaving the trader 30 less that, and nothing for the fund to pay.
    book, params = _case(overflow=True, index_growth_limit=1e-4)
    book.band_last, book.band_time = [100.0], 0.0
    ref.perp_round(book, params, [80.0], 300.0, _z)
    assert book.band_last == pytest.approx([97.0])
    assert book.realised == pytest.approx(10.0 * (97.0 - 100.0), rel=1e-12)
    assert book.cash[0] == pytest.approx(30.0 - 2.0 / 3.0 * 0.01 * 970.0**1.5 / 10.0, rel=1e-12)
    assert book.insurance_paid == 0.0
    # a later round in the same step keeps the same reference: the band is still [97, 103]
    ref.perp_round(book, params, [120.0], 300.0, _z)
    assert book.band_last == pytest.approx([103.0])
