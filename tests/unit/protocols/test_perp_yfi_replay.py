"""The dYdX v3 YFI replay (builtin dydx-yfi-2023): the book's liquidation prices by hand, and the fund's payout."""

from __future__ import annotations

import numpy as np
import pytest

import firesale
from firesale.scenario import load_scenario

E = 14142.0  # every position's entry and the starting price


def test_the_attacker_wallets_go_when_the_replay_crosses_their_maintenance_price() -> None:
    r = firesale.simulate("dydx-yfi-2023", n_paths=1)
    price = r.paths["price_YFI"][0]
    liq = r.paths["dydx.n_liquidated"][0]
    # a 5x long (margin 0.2 E per YFI) with 5 % maintenance is liquidated below P = 0.8 E / 0.95; a 3x long (margin
    # E / 3) below (2/3) E / 0.95; the shorts (2x) only above 1.5 E / 1.05, which the replay never reaches
    p5, p3 = 0.8 * E / 0.95, (2.0 / 3.0) * E / 0.95
    first5, first3 = int(np.argmax(price < p5)), int(np.argmax(price < p3))
    assert price.max() < 1.5 * E / 1.05
    assert liq[first5 - 1] == 0 and liq[first5] == 122  # the 122 attacker wallets, all in that step
    assert first3 > first5 and liq[first3] == 123  # then the merged other longs
    assert liq[-1] == 123
    m = r.metrics.iloc[0]
    # the fund pays the slippage below the bankruptcy price and is not exhausted; no ADL, nothing socialised
    assert 0.0 < m["dydx.insurance_paid_usd"] < 22.5e6
    assert m["dydx.insurance_exhausted"] == 0.0 and m["dydx.socialised_loss_usd"] == 0.0
    assert m["dydx.insurance_fund_end_usd"] == pytest.approx(22.5e6 - m["dydx.insurance_paid_usd"], rel=1e-9)


def test_every_generated_wallet_is_29_yfi_at_5x() -> None:
    model = load_scenario("dydx-yfi-2023").spec.protocols[0]
    from firesale.protocols.perps import generate_book

    cash, size, entry, iso, isolated = generate_book(model, np.array([E]))
    assert size[:, 0] == pytest.approx(np.full(122, 410118.0 / E))  # 29.0 YFI
    assert cash == pytest.approx(np.full(122, 410118.0 / 5.0))
    assert (entry[:, 0] == E).all() and not isolated.any()
