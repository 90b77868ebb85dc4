"""MakerModel.metrics: the per-path figures a Black Thursday replay reports, checked on a Flipper world by hand.

Two vaults of 50 ETH and 5,000 DAI each are bitten at $140 (spot 140 / 1.5 = 93.33: 50 * 93.33 = 4,666.7 < 5,000);
lump 50 takes each whole: due 5,000, tab 5,000 * 1.13 = 5,650 DAI. Keepers hold 3,000 DAI of their own: they bid
it all on the first auction (below tab, so no dent) and have none left for the second, which the zero bidder takes
for 0 DAI. Both deal after ttl. The Vow started with 1,000 DAI; no fees (duty 0). By flip.sol/vow.sol's books:
    proceeds = 3,000;  sum(due) = 10,000;  deficit = sum(due) - proceeds - surplus = 10,000 - 3,000 - 1,000 = 6,000
    shortfall = (5,000 - 3,000) + (5,000 - 0) = 7,000;  zero-bid share = 1 of 2 settled.
Vow.wait 0 and sump 1,000: the 6,000 left after healing with the surplus is flopped in six lots; Flop mints m MKR
with m * 1000 * (1 - m / 1e6) = 6,000: m = 1e6 / 2 * (1 - sqrt(1 - 4 * 6000 / (1000 * 1e6))).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.maker import MakerModel, MakerSpec

ILK = "ETH-A"


def inputs(t: float, price: float) -> RoundInputs:
    """Prices for (ETH, DAI); venues pay 0.99 of market value; ample engine capital (the keepers' own DAI binds)."""
    size = np.array([0.0, 1e12])
    curve = np.zeros((1, 2, 2))
    curve[:, 0, 1] = 0.99e12
    curve[:, 1, 1] = 1e12
    return RoundInputs(
        time=float(t), oracle=np.array([[price, 1.0]]), market=np.array([[price, 1.0]]), active=np.ones(1, bool),
        liquidators=LiquidatorCapacity(
            slots=np.full(1, 1000, dtype=np.int64), capital_usd=np.full(1, 1e12), gas_usd=np.full(1, 5.0),
            min_profit_usd=0.0,
        ),
        quotes=SaleQuotes(size_usd=size, proceeds=lambda paths, assets: curve),
    )  # fmt: skip


def model() -> MakerModel:
    spec = MakerSpec.model_validate({
        "name": "mcd", "type": "maker", "surplus_dai": 1000.0,
        "ilks": {ILK: {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9, "chop": 1.13,
                       "flip": {"lump": 50, "beg": 1.03, "ttl": 600, "tau": 21600}}},
        "vaults": [{"ilk": ILK, "ink": 50, "art": 5000}, {"ilk": ILK, "ink": 50, "art": 5000}],
        "keepers": {"capital_dai": 3000.0, "zero_bidder": True},
        "flop": {"mkr_price": 1000, "mkr_supply": 1e6, "elasticity": 1.0, "sump": 1000.0},
    })  # fmt: skip
    return MakerModel.build(spec, None)


def test_metrics_of_a_keeper_bid_and_a_zero_bid_by_hand() -> None:
    m = model()
    s = m.init_state(1)
    m.round(s, inputs(0, 200.0))
    m.round(s, inputs(60, 140.0))  # two bites; keepers bid 3,000 on one, the zero bidder 0 on the other
    assert sorted(s["a_bid"][0, 0, :2]) == [0.0, 3000.0]
    running = m.metrics(s, np.array([[140.0, 1.0]]))
    assert running["n_auctions"][0] == 2 and running["live_auctions"][0] == 2
    assert running["n_settled"][0] == 0 and running["zero_bid_share"][0] == 0.0  # none ended yet: 0, not nan
    m.round(s, inputs(661, 140.0))  # both bids are older than ttl (tic = 660 < 661): deal
    out = m.metrics(s, np.array([[140.0, 1.0]]))
    assert set(out) >= {"deficit_dai", "n_auctions", "n_zero_bid", "zero_bid_share", "mkr_minted"}
    assert all(v.shape == (1,) for v in out.values())
    assert out["n_auctions"][0] == 2 and out["n_settled"][0] == 2 and out["live_auctions"][0] == 0
    assert out["n_zero_bid"][0] == 1 and out["zero_bid_share"][0] == 0.5
    assert out["shortfall_dai"][0] == pytest.approx(7000.0)
    assert out["deficit_dai"][0] == pytest.approx(10_000 - 3_000 - 1_000)
    mkr = 1e6 / 2 * (1 - math.sqrt(1 - 4 * 6000 / (1000 * 1e6)))
    assert out["mkr_minted"][0] == pytest.approx(mkr, rel=1e-9)
    assert out["uncovered_dai"][0] == 0.0 and out["surplus_dai"][0] == pytest.approx(0.0, abs=1e-9)
    # the series agree with the metrics at the end
    for key in ("deficit_dai", "mkr_minted", "n_auctions", "n_zero_bid", "live_auctions", "surplus_dai"):
        assert m.record(s, key, np.array([[140.0, 1.0]]))[0] == pytest.approx(out[key][0])
