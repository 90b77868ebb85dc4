"""estimate_memory counts a perp venue's per-path state: it grows with traders x markets as PerpVenue's arrays do.

PerpVenue.init_state (src/firesale/protocols/perps.py) allocates per path, counted by hand:

* per (trader, market) cell: ``size`` and ``iso``, two float64: 16 bytes;
* per trader: cross collateral ``cash`` and the kernels' bound ``screen_ratio``, two float64: 16 bytes;
* per market: ``used`` (2 float64), the nine per-market arrays (``vault_pos``, ``vault_cost``, ``premium``,
  ``basis``, ``f_last``, ``vault_taken``, ``band_ref``, ``band_last``, a policy's margin factor ``mm_scale``) and
  ``screen_mark``: 12 float64, 96 bytes;
* per path: ``path_key`` (uint64), 19 float64 ledgers (``backstop_in`` among them), 4 int64 counts,
  ``screen_lowest`` (float64), ``screen_dirty`` (bool) and ``screen_skipped`` (int64):
  8 + 152 + 32 + 8 + 1 + 8 = 209 bytes.

So 3 traders in 2 markets hold 16 x 6 + 16 x 3 + 96 x 2 + 209 = 545 bytes a path, 1 trader in 1 market
16 + 16 + 96 + 209 = 337. A streamed batch of 256 paths holds that per path plus the round's temporaries per
cell (``_PERP_CELL_TEMP_BYTES``, calibrated with benchmarks/bench_memory.py), on top of what the world without the
venue needs; the worlds below differ only in the venue's traders and markets (same assets, oracles and recorded
series), so the estimates differ by exactly that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firesale.engine.simulate import _PERP_CELL_TEMP_BYTES, _perp_state_bytes, estimate_memory
from firesale.scenario import parse_scenario

HEAD = """
name = "perp-memory"
[simulation]
n_steps = 4
dt = 300
n_paths = 256
record = ["price", "bad_debt", "venue.*"]
[[assets]]
name = "A"
price = 100.0
[[assets]]
name = "B"
price = 100.0
[[assets]]
name = "USDC"
price = 1.0
[market]
model = "shock"
shape = "linear"
depth = { A = 0.2, B = 0.1 }
start = 0
duration = 300
[[oracles]]
name = "a"
asset = "A"
type = "market"
[[oracles]]
name = "b"
asset = "B"
type = "market"
[[protocols]]
name = "venue"
type = "perp"
settlement = "USDC"
insurance_fund_usd = 1000.0
[protocols.vault]
enabled = false
"""
TIERS = "tiers = [{ notional_floor_usd = 0, max_leverage = 10, maintenance_margin_rate = 0.05 }]"


def world(n_traders: int, n_markets: int):  # type: ignore[no-untyped-def]
    """The scenario with ``n_traders`` cross traders, each long 1 unit in each of the first ``n_markets`` of A, B."""
    names = ["A", "B"][:n_markets]
    text = HEAD
    for n in names:
        text += f'[protocols.markets.{n}-PERP]\nindex = "{n}"\noracle = "{n.lower()}"\nbook_depth_usd = 1e9\n{TIERS}\n'
    positions = ", ".join(f'{{ market = "{n}-PERP", size = 1.0, entry_price = 100.0 }}' for n in names)
    for _ in range(n_traders):
        text += f"[[protocols.traders]]\ncollateral_usd = 50.0\npositions = [{positions}]\n"
    return parse_scenario(text, source="mem.toml", base_dir=Path("."))


def by_hand(n_traders: int, n_markets: int) -> int:
    return 16 * n_traders * n_markets + 16 * n_traders + 96 * n_markets + 209


def test_the_state_count_is_what_init_state_allocates() -> None:
    assert by_hand(3, 2) == 545 and by_hand(1, 1) == 337
    from firesale.protocols import protocol_type

    for n_traders, n_markets in ((1, 1), (3, 2), (5, 2)):
        sc = world(n_traders, n_markets)
        spec = sc.spec.protocols[0]
        model = protocol_type("perp").build(spec, sc)
        for n_paths in (1, 7):
            state = model.init_state(n_paths, rng=np.random.default_rng(0))
            assert sum(v.nbytes for v in state.arrays.values()) == n_paths * by_hand(n_traders, n_markets)
        assert _perp_state_bytes(sc.spec) == by_hand(n_traders, n_markets)


def test_the_estimate_grows_with_traders_times_markets() -> None:
    base = estimate_memory(world(1, 1), 256, keep_paths=False)
    temp = _PERP_CELL_TEMP_BYTES
    for n_traders, n_markets in ((3, 1), (3, 2), (40, 2)):
        grown = estimate_memory(world(n_traders, n_markets), 256, keep_paths=False)
        cells = n_traders * n_markets - 1
        expected = 256 * (by_hand(n_traders, n_markets) - by_hand(1, 1) + temp * cells)
        assert grown - base == pytest.approx(expected, abs=2)
    # a second market at 40 traders: 40 cells of 16 bytes of state and `temp` of temporaries, 96 of market state
    two, one = (estimate_memory(world(40, m), 256, keep_paths=False) for m in (2, 1))
    assert two - one == pytest.approx(256 * (40 * (16 + temp) + 96), abs=2)
    assert temp > 0  # the round's (paths, traders, markets) temporaries come on top of the state
