"""usdc-depeg-2023-psm: Maker's PSM with the parameters the built-in cites, held to hand-computed arbitrage.

The expectations are worked out here from the scenario's own ``tin``, ``tout``, reserves and ceiling (read from the
TOML, not from the model) and from proceeds curves written out below; the model under test only sizes and books the
trade. The engine-level run is pinned from the start to the trough (11 March 08:00Z) at the end (regression pins,
not targets; docs/replays/usdc-depeg-2023-psm.md gives the whole run against the data).
"""

from __future__ import annotations

import tomllib
from types import SimpleNamespace

import numpy as np
import pytest

from firesale.engine import simulate
from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.psm import PegStabilityModule, PsmSpec
from firesale.scenario import builtin_text

NAME = "usdc-depeg-2023-psm"
#: A coarse grid of cumulative sale sizes (USD at market), 100M apart: the curves below are linear on each segment.
GRID = np.arange(0.0, 2.1e9, 1e8)


def _psm_table() -> dict:
    return next(p for p in tomllib.loads(builtin_text(NAME))["protocols"] if p["type"] == "psm")


def _model() -> PegStabilityModule:
    table = _psm_table()
    scenario = SimpleNamespace(spec=SimpleNamespace(assets=[SimpleNamespace(name=a) for a in ("DAI", "USDC")]),
                               source=f"{NAME}.toml")  # fmt: skip
    return PegStabilityModule.build(PsmSpec.model_validate(table), scenario)


def _inputs(ps: float, pr: float, marginal_dai, marginal_usdc) -> RoundInputs:
    """One path; each asset's proceeds curve from its marginal proceeds per segment of GRID (USD per USD)."""
    curves = np.zeros((1, 2, GRID.size))
    for r, marginal in enumerate((marginal_dai, marginal_usdc)):
        curves[0, r, 1:] = np.cumsum(np.diff(GRID) * np.asarray(marginal, dtype=float))
    market = np.array([[ps, pr]])
    return RoundInputs(
        time=0.0, oracle=market, market=market, active=np.ones(1, dtype=bool),
        liquidators=LiquidatorCapacity(np.full(1, 100, np.int64), np.full(1, 1e12), np.zeros(1), 0.0),
        quotes=SaleQuotes(GRID, curves),  # an array: the curves as given, for every asset
    )  # fmt: skip


def test_the_cited_parameters_are_the_ones_the_scenario_uses():
    t = _psm_table()
    # tin 0 and the 950M auto-line gap before the 11 March emergency change; 3.1B USDC held.
    assert (t["tin"], t["tout"], t["reserves"]) == (0.0, 0.0, 3.1e9)
    assert t["debt_ceiling"] == pytest.approx(3.1e9 + 950e6)


def test_usdc_at_088_dai_is_minted_and_sold_to_the_band_edge_and_no_further():
    # USDC at 0.88 (its March 2023 low), DAI at 1.00 on its venues. With tin = 0 an arbitrageur deposits one USDC
    # (cost 0.88) per DAI minted; selling DAI of market value v costs 0.88 / ((1 - tin) * 1.00) = 0.88 per USD of
    # market value. Marginal proceeds of DAI per 100M segment: 1.00, 0.97, 0.94, 0.91, 0.88 (sold: 0.88 >= 0.88 is
    # not worth it by the 1e-12 slack), 0.85, ... -> four segments pay: 400M of market value = 400M DAI, 400M USDC.
    m = _model()
    state = m.init_state(1)
    flows = m.round(state, _inputs(1.0, 0.88, 1.0 - 0.03 * np.arange(GRID.size - 1), np.ones(GRID.size - 1)))
    g = 400e6 / (1.0 - 0.0) / 1.0
    assert flows.minted[0, 0] == pytest.approx(g) and flows.sell[0, 0] == pytest.approx(g)
    assert flows.buy[0, 1] == pytest.approx(g)
    assert state["gem"][0] == pytest.approx(3.1e9 + g) and state["art"][0] == pytest.approx(3.1e9 + g)
    # The next 100M would fetch 0.88 per USD: the venues' marginal DAI price is back at the band edge 0.88 / (1 - 0).


def test_usdc_at_088_on_a_deep_venue_the_psm_mints_its_950m_headroom_and_no_more():
    # A venue that pays par for any size: every DAI is worth selling, so only the ceiling binds:
    # minted = line - art = (3.1B + 950M) - 3.1B = 950M, and the next round mints nothing.
    m = _model()
    state = m.init_state(1)
    flows = m.round(state, _inputs(1.0, 0.88, np.ones(GRID.size - 1), np.ones(GRID.size - 1)))
    assert flows.minted[0, 0] == pytest.approx(950e6, rel=1e-12)
    assert state["art"][0] == pytest.approx(4.05e9, rel=1e-12)
    again = m.round(state, _inputs(1.0, 0.88, np.ones(GRID.size - 1), np.ones(GRID.size - 1)))
    assert again.minted[0, 0] == 0.0 and again.n_actions[0] == 0


def test_dai_cheap_against_usdc_redeems_up_to_the_reserves_and_no_further():
    # DAI at 0.95 with USDC at 1.00 (tout = 0): buy 1 DAI for 0.95, take out 1 USDC, sell it. On a venue paying par
    # for USDC every unit pays, so the reserves bind: 3.1B USDC out, 3.1B DAI burned, the PSM empty.
    m = _model()
    state = m.init_state(1)
    flows = m.round(state, _inputs(0.95, 1.0, np.ones(GRID.size - 1), np.ones(GRID.size - 1)))
    assert flows.burned[0, 0] == pytest.approx(3.1e9, rel=1e-12) and flows.sell[0, 1] == pytest.approx(3.1e9)
    assert flows.buy[0, 0] == pytest.approx(3.1e9 * (1.0 + 0.0))
    assert state["gem"][0] == pytest.approx(0.0, abs=1e-3)


def test_inside_the_band_nothing_happens():
    # tin = tout = 0: the band is the single point DAI = USDC; at 0.88 each there is no trade.
    m = _model()
    state = m.init_state(1)
    flows = m.round(state, _inputs(0.88, 0.88, np.ones(GRID.size - 1), np.ones(GRID.size - 1)))
    assert flows.n_actions[0] == 0 and state["gem"][0] == 3.1e9


def test_the_psm_sizes_on_the_full_curve_when_the_engine_computes_only_what_is_needed():
    # The engine's proceeds(paths, needed_usd) fills each asset's curve only up to needed_usd[r] and extends the last
    # segment beyond it (SaleQuotes docstring). A callable that honours that contract, with the marginals of the
    # band-edge test above (1.00, 0.97, 0.94, 0.91, 0.88, ...), must give the same 400M.
    marginal = 1.0 - 0.03 * np.arange(GRID.size - 1)
    full = np.zeros((1, 2, GRID.size))
    full[0, 0, 1:] = np.cumsum(np.diff(GRID) * marginal)
    full[0, 1, 1:] = np.cumsum(np.diff(GRID))

    def proceeds(paths, needed_usd):
        out = full.copy()
        for r in range(2):
            need = float(needed_usd[r])
            k = int(np.searchsorted(GRID, need, side="left"))  # first grid point at or past the need
            if k < GRID.size - 1:  # beyond it, the segment that reaches the need is extended
                slope = (out[0, r, k] - out[0, r, k - 1]) / (GRID[k] - GRID[k - 1]) if k > 0 else 0.0
                out[0, r, k + 1 :] = out[0, r, k] + slope * (GRID[k + 1 :] - GRID[k])
        return out

    base = _inputs(1.0, 0.88, marginal, np.ones(GRID.size - 1))
    inputs = RoundInputs(time=0.0, oracle=base.oracle, market=base.market, active=base.active,
                         liquidators=base.liquidators, quotes=SaleQuotes(GRID, proceeds))  # fmt: skip
    m = _model()
    flows = m.round(m.init_state(1), inputs)
    assert flows.minted[0, 0] == pytest.approx(400e6)


# --- the engine-level run, to the trough (2023-03-11 08:00Z, step 32) -------------------------------------------------
TROUGH = 32
_RUN: list = []


def _run():
    if not _RUN:
        _RUN.append(simulate(NAME, n_paths=1, seed=0, n_steps=TROUGH + 1))
    return _RUN[0]


def test_the_psm_arbitrage_settles_in_a_few_rounds_instead_of_churning():
    # Sized on both legs (the DAI bought or sold on its venues, the USDC at its replayed price), a round trip stops
    # where its margin no longer pays its gas ([agents] min_profit_usd): no step to the trough reaches the
    # 20-round limit (before the fix, 118 of the run's 120 steps did, from the first hours on).
    rounds = _run().paths["rounds"][0]
    assert rounds.max() < 20
    # Regression pins (python -c "from firesale.engine import simulate; r = simulate('usdc-depeg-2023-psm',
    # n_paths=1, seed=0, n_steps=33); print(r.paths['rounds'][0])"), not targets.
    assert rounds[TROUGH - 1] == 2 and rounds[TROUGH] == 1
    assert int(rounds.sum()) == 34


def test_the_ceiling_binds_at_the_trough_and_dai_follows_usdc_down():
    # The PSM mints up to its line (3.1B + 950M = 4.05B, from the scenario's own table) as USDC falls; once the
    # headroom is gone DAI has nothing holding it above the USDC it is minted against.
    r = _run()
    p = r.paths
    line = _psm_table()["debt_ceiling"]
    assert float(p["maker-psm.psm_headroom"][0, TROUGH - 1]) == 0.0
    assert float(p["maker-psm.psm_reserves"][0, TROUGH - 1]) == pytest.approx(line, rel=1e-6)
    dai_low = float(r.metrics.iloc[0]["min_price_ratio_DAI"]) * 0.999331
    # Regression pin (same command): DAI's low, against the data's $0.886 at 08:00 on 11 March.
    assert dai_low == pytest.approx(0.8779957, rel=1e-5)
