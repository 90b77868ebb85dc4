"""MakerModel's compiled auction loops (firesale.protocols._auction_kernels) against the NumPy reference: bit-identical.

Two models of the same random book, one with ``kernel = "numba"`` (the default) and one with ``kernel = "numpy"``,
are driven through the same rounds: falling and recovering prices, several cascade rounds a step, partial activity
masks, scarce block space (by count, or priced by gas quantiles), binding capital, a PSM, keeper failures, a DAI
stock, flash-loan takes, every gas strategy, a zero bidder with and without its own gas price, Flipper ilks with
few and many auction slots beside a Clipper ilk with every abacus, with and without keeper incentives, dust and
room limits. After every round every state array, every flow and the liquidators' capacity left must be
*equal*, not close. The reference itself is held to flip.sol by hand in test_maker_model.py, test_maker_vow_gas.py
and test_maker_block_space.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from firesale.protocols import _auction_kernels as kernels
from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.maker import MakerModel, MakerSpec, take_amounts

LEVELS = np.array([0.3, 0.6, 0.9, 1.0])
SIZES = np.array([0.0, 1e3, 1e4, 1e5, 1e6, 1e7])


def _clip(rng: np.random.Generator) -> dict:  # type: ignore[type-arg]
    calc = str(rng.choice(["linear", "stairstep", "exponential"]))
    clip = {"hole": float(rng.choice([2e4, 1e6])), "calc": calc, "buf": float(rng.choice([1.0, 1.2])),
            "tail": float(rng.choice([1200.0, 8400.0])), "cusp": float(rng.choice([0.3, 0.6]))}  # fmt: skip
    if rng.uniform() < 0.3:
        clip["tip"], clip["chip"] = 0.0, 0.0
    if calc == "linear":
        clip["tau"] = float(rng.choice([1800.0, 3600.0]))
    else:
        clip["cut"] = float(rng.choice([0.99, 0.9999] if calc == "exponential" else [0.9, 0.99]))
        if calc == "stairstep":
            clip["step"] = float(rng.choice([90.0, 600.0]))
    return clip


def _spec(rng: np.random.Generator) -> MakerSpec:
    strategy = str(rng.choice(["always", "fixed", "node"]))
    keepers = {
        "latency": float(rng.choice([0.0, 60.0, 900.0])), "failure_prob": float(rng.choice([0.0, 0.3])),
        "zero_bidder": bool(rng.integers(0, 2)), "zero_bid_dai": float(rng.choice([0.0, 1.0])),
        "zero_bidder_latency": float(rng.choice([0.0, 600.0])), "gas_strategy": strategy,
    }  # fmt: skip
    if strategy == "fixed":
        keepers["gas_price_gwei"] = float(rng.uniform(5, 60))
    if keepers["zero_bidder"] and rng.uniform() < 0.5:
        keepers["zero_bidder_gas_gwei"] = float(rng.uniform(5, 200))
    if rng.uniform() < 0.4:
        keepers["dai_stock"] = float(rng.uniform(1e3, 2e5))
    if rng.uniform() < 0.3:
        keepers["capital_dai"] = float(rng.uniform(1e3, 1e5))
    keepers["flash_loans"] = bool(rng.uniform() < 0.3)
    flip = {"lump": float(rng.uniform(5, 60)), "beg": float(rng.choice([1.0, 1.03])),
            "ttl": float(rng.choice([300.0, 600.0, 1800.0])), "tau": float(rng.choice([1200.0, 3600.0]))}  # fmt: skip
    ilks = {
        "ETH-A": {"collateral": "ETH", "oracle": "osm", "mat": 1.5, "line": 1e9, "chop": 1.13,
                  "max_auctions": int(rng.choice([3, 16])), "flip": flip, "duty": 0.05},
        "BAT-A": {"collateral": "BAT", "oracle": "bat", "mat": 1.6, "line": 1e9,
                  "max_auctions": int(rng.choice([2, 9])), "flip": {**flip, "lump": 5e4}},
        "ETH-B": {"collateral": "ETH", "oracle": "osm", "mat": 1.3, "line": 1e9,
                  "dust": float(rng.choice([0.0, 100.0, 2000.0])), "max_auctions": int(rng.choice([2, 12])),
                  "clip": _clip(rng)},
    }  # fmt: skip
    n_v = int(rng.integers(4, 40))
    names = list(ilks)
    vaults = []
    for _ in range(n_v):
        ilk = names[int(rng.integers(0, 3))]
        ink = float(np.exp(rng.uniform(np.log(0.05), np.log(300)))) * (1e3 if ilk == "BAT-A" else 1.0)
        price = 0.2 if ilk == "BAT-A" else 200.0
        vaults.append({"ilk": ilk, "ink": ink, "art": ink * price / float(rng.uniform(1.2, 2.5))})
    data = {"name": "mcd", "type": "maker", "ilks": ilks, "vaults": vaults, "keepers": keepers,
            "flop": {"sump": 5e4}, "Hole": float(rng.choice([5e4, 1e7]))}  # fmt: skip
    if rng.uniform() < 0.4:
        data["psm"] = {"line": float(rng.uniform(0, 1e5)), "tin": float(rng.choice([0.0, 0.001]))}
    return MakerSpec.model_validate(data)


def _inputs(
    rng: np.random.Generator, n: int, t: float, eth: np.ndarray, bat: np.ndarray, priced: bool
) -> RoundInputs:
    """One round's inputs (assets ETH, BAT, DAI): per-path concave sale curves, scarce slots and capital, gas."""
    market = np.stack([eth, bat, rng.uniform(0.98, 1.04, n)], axis=1)
    oracle = market * rng.uniform(0.97, 1.03, (n, 3))
    slope = rng.uniform(0.6, 1.0, (n, 3, 1))
    depth = rng.choice(
        [1e4, 1e5, 1e7], (n, 3, 1)
    )  # thin venues make a path's second sale of a round pay less
    curve = SIZES[None, None, :] * slope / (1.0 + SIZES[None, None, :] / depth)
    gwei = rng.uniform(5, 100, n)
    cap = LiquidatorCapacity(
        slots=rng.integers(0, 6, n).astype(np.int64), capital_usd=rng.choice([1e3, 5e4, 1e7], n),
        gas_usd=rng.uniform(0, 50, n), min_profit_usd=float(rng.choice([0.0, 10.0, 500.0])), gas_gwei=gwei,
    )  # fmt: skip
    if priced:
        cap.gas_levels = LEVELS
        cap.gas_quantiles = np.sort(rng.uniform(1, 150, (n, 4)), axis=1)
        cap.block_gas, cap.gas_per_action = 3e6, 3e5
        cap.slots = cap.block_slots(gwei) - rng.integers(0, 3, n)
    active = rng.uniform(size=n) < 0.85
    return RoundInputs(
        time=t, oracle=oracle, market=market, active=active, liquidators=cap,
        quotes=SaleQuotes(SIZES, lambda paths, needed: curve),
    )  # fmt: skip


def _assert_same(a: dict, b: dict, what: str) -> None:  # type: ignore[type-arg]
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=f"{what}: {key}", strict=True)


@pytest.mark.parametrize("seed", range(24))
def test_the_kernels_equal_the_numpy_reference_round_by_round(seed: int) -> None:
    rng = np.random.default_rng(seed)
    spec = _spec(rng)
    models = {k: MakerModel.build(spec, None) for k in ("numba", "numpy")}
    models["numpy"].kernel = "numpy"
    n = int(rng.choice([1, 5]))
    states = {k: m.init_state(n, np.random.default_rng(seed)) for k, m in models.items()}
    priced = bool(rng.integers(0, 2))
    eth, bat = np.full(n, 200.0), np.full(n, 0.2)
    for step in range(30):
        shock = rng.normal(-0.03, 0.06, n)
        eth, bat = eth * np.exp(shock), bat * np.exp(shock + rng.normal(0, 0.02, n))
        for r in range(int(rng.integers(1, 4))):  # the cascade's rounds share the step's time
            draw = int(rng.integers(0, 2**32))
            flows = {}
            caps = {}
            for k, m in models.items():
                inputs = _inputs(np.random.default_rng(draw), n, 600.0 * step, eth, bat, priced)
                flows[k] = m.round(states[k], inputs)
                caps[k] = inputs.liquidators
            where = f"seed {seed}, step {step}, round {r}"
            _assert_same(states["numba"].arrays, states["numpy"].arrays, where)
            fa, fb = (vars(flows[k]) for k in ("numba", "numpy"))
            _assert_same({k: v for k, v in fa.items() if isinstance(v, np.ndarray)},
                         {k: v for k, v in fb.items() if isinstance(v, np.ndarray)}, where)  # fmt: skip
            _assert_same({"slots": caps["numba"].slots, "capital": caps["numba"].capital_usd},
                         {"slots": caps["numpy"].slots, "capital": caps["numpy"].capital_usd}, where)  # fmt: skip
    n_bids = int(states["numba"].arrays["n_deals"].sum() + (states["numba"].arrays["a_bid"] > 0).sum())
    assert models["numba"].check_conservation(states["numba"], {"sold": states["numba"].arrays["sold"]}) == []
    # the case exercised the auctions, not only the kicks
    assert states["numba"].arrays["n_kicks"].sum() > 0 and n_bids > 0


def test_one_take_is_the_vectorized_take_amounts() -> None:
    """The kernels' ``Clipper.take`` arithmetic for one auction against :func:`firesale.protocols.maker.take_amounts`
    (held to clip.sol by test_maker_model.py), on purchases around every branch: whole lot, capped at the tab, a
    partial one leaving less than ``chost`` (cut to leave exactly ``chost``, or refused when the tab itself is at
    most ``chost``), a zero price."""
    rng = np.random.default_rng(7)
    n = 4000
    lot = rng.uniform(0.1, 10, n)
    tab = rng.choice([500.0, 2000.0, 2500.0, 10_000.0], n) * rng.uniform(0.9, 1.1, n)
    price = rng.choice([0.0, 100.0, 300.0, 1000.0], n) * rng.uniform(0.5, 1.5, n)
    amt = lot * rng.choice([0.1, 0.5, 0.9, 1.0, 2.0], n)
    chost = 2260.0
    ok, bought, owe = take_amounts(lot, tab, price, amt, chost)
    got = [kernels._take_amounts(*args, chost) for args in zip(lot, tab, price, amt, strict=True)]
    assert [g[0] for g in got] == list(ok)
    np.testing.assert_array_equal([g[1] for g in got], bought)
    np.testing.assert_array_equal([g[2] for g in got], owe)
    # every branch was taken
    assert (~ok & (price > 0)).any() and (ok & (owe == tab - chost)).any() and (ok & (owe == tab)).any()
