"""The built-in CDP-beside-a-lender world: its cited parameters, its wiring, a short run, and the attribution on it.

The Maker values checked here are those of sky-ecosystem/spells-mainnet archive/2025-11-27-DssSpell/test/config.sol
(basis points and whole-DAI units as written there), converted by hand; the vault book is checked against the rule
docs/cdp-lending-2025.md states for it.
"""

from __future__ import annotations

import numpy as np
import pytest

import firesale
from firesale.contagion import attribute
from firesale.engine._blueprint import Blueprint
from firesale.scenario import builtin_text, parse_scenario

NAME = "cdp-lending-2025"
WETH_PRICE = 2824.93892778  # the Aave snapshot's WETH price (the scenario's [[assets]] WETH)
MILLION = 1e6

# config.sol afterSpell.collaterals[...]: mat, chop, clip_buf, clip_cusp, clip_chip, calc_cut in basis points; dust,
# dog_hole, clip_tip, aL_gap in DAI; clip_tail, calc_step in seconds.
SPELL = {
    "ETH-A": dict(mat=14500, chop=1300, dust=7_500, hole=40 * MILLION, buf=110_00, tail=7_200, cusp=45_00,
                  chip=10, tip=250, step=90, cut=9900, gap=150 * MILLION),
    "ETH-B": dict(mat=13000, chop=1300, dust=25_000, hole=15 * MILLION, buf=110_00, tail=4_800, cusp=45_00,
                  chip=10, tip=250, step=60, cut=9900, gap=20 * MILLION),
    "ETH-C": dict(mat=17000, chop=1300, dust=3_500, hole=35 * MILLION, buf=110_00, tail=7_200, cusp=45_00,
                  chip=10, tip=250, step=90, cut=9900, gap=100 * MILLION),
}  # fmt: skip
# The generated book (docs/cdp-lending-2025.md): ilk debt and 24 cohorts (collateralisation over mat, debt share).
ILK_DEBT = {"ETH-A": 400 * MILLION, "ETH-B": 20 * MILLION, "ETH-C": 250 * MILLION}
COHORTS = [(1 + k / 100, 0.01) for k in range(1, 21)] + [
    (1.30, 0.15),
    (1.50, 0.20),
    (2.00, 0.25),
    (3.00, 0.20),
]


def _short(n_steps: int) -> firesale.Scenario:
    """The built-in with a shorter horizon (every other input unchanged)."""
    text = builtin_text(NAME)
    assert text.count("n_steps = 288") == 1
    return parse_scenario(text.replace("n_steps = 288", f"n_steps = {n_steps}"))


def _maker(sc):  # type: ignore[no-untyped-def]
    return next(p for p in sc.spec.protocols if p.type == "maker")


def test_maker_parameters_are_the_2025_spell_values():
    mk = _maker(firesale.load_scenario(NAME))
    assert mk.Hole == 150 * MILLION  # afterSpell.dog_Hole = 150 * MILLION
    for name, v in SPELL.items():
        ilk = mk.ilks[name]
        assert ilk.mat == pytest.approx(v["mat"] / 10_000)
        assert ilk.chop == pytest.approx(1 + v["chop"] / 10_000)  # dog.chop = chop bps * 1e14 + WAD
        assert ilk.dust == v["dust"]
        assert ilk.line == pytest.approx(ILK_DEBT[name] + v["gap"])  # Auto-Line: debt + gap
        c = ilk.clip
        assert (c.hole, c.tip, c.tail, c.step, c.calc) == (
            v["hole"],
            v["tip"],
            v["tail"],
            v["step"],
            "stairstep",
        )
        assert c.buf == pytest.approx(v["buf"] / 10_000)
        assert c.cusp == pytest.approx(v["cusp"] / 10_000)
        assert c.chip == pytest.approx(v["chip"] / 10_000)
        assert c.cut == pytest.approx(v["cut"] / 10_000)


def test_vault_book_follows_the_documented_cohorts():
    mk = _maker(firesale.load_scenario(NAME))
    for name, debt in ILK_DEBT.items():
        vaults = [v for v in mk.vaults if v.ilk == name]
        assert [v.art for v in vaults] == pytest.approx([debt * share for _, share in COHORTS])
        # collateral value over (debt x mat); ink is rounded to 0.01 WETH, which moves m by at most
        # 0.005 x 2,825 / (200,000 x 1.3) = 5.4e-5 (the smallest vaults, ETH-B's 1 % cohorts)
        m = [v.ink * WETH_PRICE / (v.art * mk.ilks[name].mat) for v in vaults]
        assert m == pytest.approx([c for c, _ in COHORTS], abs=6e-5)
    assert sum(v.art for v in mk.vaults) == pytest.approx(670 * MILLION)


def test_both_protocols_sell_weth_into_the_same_venues():
    bp = Blueprint.build(firesale.load_scenario(NAME))
    aave, maker = bp.protocols
    assert (aave.name, maker.name) == ("aave-v3-core", "maker")
    a, m = aave.assets.index("WETH"), maker.assets.index("WETH")
    assert maker.sale_venues[m] == aave.sale_venues[a] == ("univ3-usdc-weth-005", "cex-eth")
    # Maker reads its one-hop-late OSM, Aave the Chainlink push feed: different oracles on one market price.
    osm = next(o for o in bp.scenario.spec.oracles if o.name == maker.oracles[m])
    assert (osm.type, osm.delay) == ("delayed", 3600)


def test_a_run_liquidates_in_both_protocols_and_the_shared_fire_sale_adds_to_each():
    sc = firesale.load_scenario(NAME)
    full = firesale.simulate(sc, n_paths=64, seed=1).metrics
    for name in ("aave-v3-core", "maker"):
        liq = full[f"liquidated_usd_{name}"]
        assert (liq > 0).mean() >= 0.2, name  # a reasonable share of paths, in each protocol
    # Cut the venue channel for one protocol: the other's sales no longer move the pool and books it sells into
    # (nor the oracles reading them). The other's liquidations push ETH down, so without them each liquidates no
    # more: Aave (a continuum of positions near their thresholds) strictly less; Maker's cohorts are lumpy and its
    # keepers take as the Clipper price falls, so on a path the channel may also shift a take, but not add up to less.
    for name, strict in (("aave-v3-core", True), ("maker", False)):
        off = firesale.simulate(
            sc, n_paths=64, seed=1, channels=("derived", "liquidators"), focus=name
        ).metrics
        on_, cut = full[f"liquidated_usd_{name}"].to_numpy(), off[f"liquidated_usd_{name}"].to_numpy()
        assert on_.sum() > cut.sum() if strict else on_.sum() >= cut.sum() * (1 - 1e-9), name
        assert (on_ >= cut - 1e-6 * np.maximum(on_, 1.0)).mean() >= 0.9, name


def test_attribution_on_the_builtin_adds_up():
    att = attribute(_short(48), n_paths=16, seed=1, channels=("venues", "liquidators"))
    assert {p for p, _ in att.per_path} == {"aave-v3-core", "maker"}
    for frame in att.per_path.values():
        parts = frame[["own", "venues", "liquidators"]].sum(axis=1)
        np.testing.assert_allclose(parts, frame["total"], rtol=1e-9, atol=1e-6)
