"""firesale.liquidity.stableswap.StableSwapPool against the integer mechanics, scipy and the June 2022 stETH pool."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize_scalar

from firesale.exceptions import ParameterError
from firesale.liquidity import Venue, VenueState
from firesale.liquidity.stableswap import StableSwapPool
from firesale.mechanics.stableswap import A_PRECISION, StableSwapPool as ExactPool

E18 = 10**18
RTOL = 1e-9


@dataclass
class Case:
    balances: list[int]  # wei
    rates: list[int]  # 1e18-scaled, as the contracts'
    A: int
    fee: int  # 1e10-scaled
    admin_fee: int

    def exact(self) -> ExactPool:
        return ExactPool(
            self.balances, self.rates, self.A, self.fee, self.admin_fee, 1, convention=A_PRECISION
        )

    def venue(self) -> StableSwapPool:
        n = len(self.balances)
        return StableSwapPool(
            "pool",
            tuple(f"c{k}" for k in range(n)),
            [b / E18 for b in self.balances],
            self.A,
            self.fee / 1e6,  # 1e10-scaled fee to basis points
            [r / E18 for r in self.rates],
            admin_fee=self.admin_fee / 1e10,
        )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """1e3 to 1e9 tokens, coins down to a 5:95 split of an equal share, A from 1 to 5000, 18-decimal coins."""
    n = draw(st.integers(2, 4))
    total = 10 ** draw(st.floats(3.0, 9.0))
    weights = [draw(st.floats(0.05, 0.95)) for _ in range(n)]
    rates = [
        draw(st.sampled_from([E18, E18, 1_023_456_789_012_345_678, 970_000_000_000_000_000]))
        for _ in range(n)
    ]
    balances = [int(total * w / sum(weights) * E18) for w in weights]
    fee = draw(st.sampled_from([0, 10**6, 4 * 10**6, 3 * 10**7]))
    return Case(balances, rates, draw(st.integers(1, 5000)), fee, draw(st.sampled_from([0, 5 * 10**9])))


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@settings(max_examples=60, deadline=None)
@given(case=cases(), data=st.data())
def test_swap_and_depth_agree_with_the_integer_mechanics(case: Case, data: st.DataObject) -> None:
    n = len(case.balances)
    i, j = data.draw(st.permutations(range(n)))[:2]
    # Three paths selling different amounts, one of them nothing: the paths must not mix.
    fractions = [data.draw(st.floats(-4.0, 0.3)) for _ in range(2)]
    dx_wei = [int(case.balances[i] * 10**f) for f in fractions] + [0]
    venue = case.venue()
    state = venue.init_state(3)
    d = venue.depth(state)
    exact = case.exact()
    assert rel(d[0], exact.get_D(exact.xp(), exact.amp) / E18) < RTOL
    quote = venue.get_dy(state, i, j, np.array(dx_wei) / E18)
    dy = venue.swap(state, i, j, np.array(dx_wei) / E18)
    for path, amount in enumerate(dx_wei[:2]):
        pool = case.exact()
        expected = pool.exchange(i, j, amount) / E18
        assert rel(quote[path], expected) < RTOL
        assert rel(dy[path], expected) < RTOL
        for k in range(n):
            assert rel(state["balances"][path, k], pool.balances[k] / E18) < RTOL
    assert dy[2] == 0.0
    np.testing.assert_array_equal(state["balances"][2], venue.balances)


@settings(max_examples=60, deadline=None)
@given(case=cases(), data=st.data())
def test_price_is_the_derivative_of_the_integer_invariant(case: Case, data: st.DataObject) -> None:
    n = len(case.balances)
    i, j = data.draw(st.permutations(range(n)))[:2]
    exact = case.exact()
    xp = exact.xp()
    h = xp[i] // 10**6
    # Central difference of the contract's get_y: -dy/dx in rate-scaled units, error O(h^2) ~ 1e-12.
    slope = (exact.get_y(i, j, xp[i] - h, xp) - exact.get_y(i, j, xp[i] + h, xp)) / (2 * h)
    expected = slope * case.rates[i] / case.rates[j]
    venue = case.venue()
    assert rel(venue.price(venue.init_state(1), i, j)[0], expected) < RTOL
    # stableswap-ng's get_p(i - 1) quotes coin i in coin 0, rate-scaled, to 1e-18.
    if i > 0:
        get_p = exact.get_p(i - 1) / E18 * case.rates[i] / case.rates[0]
        assert rel(venue.price(venue.init_state(1), i, 0)[0], get_p) < RTOL


def test_balanced_pool_prices_at_the_rate_ratio() -> None:
    # Balanced xp: D_P / x_i = D_P / x_j, so the rate-scaled price is exactly 1 and the token price r_i / r_j.
    venue = StableSwapPool("p", ("a", "b", "c"), [100.0, 50.0, 200.0], 100, 4, rates=[1.0, 2.0, 0.5])
    state = venue.init_state(2)
    np.testing.assert_allclose(venue.price(state, 0, 1), 0.5, rtol=1e-15)
    np.testing.assert_allclose(venue.price(state, 2, 1), 0.25, rtol=1e-15)
    np.testing.assert_allclose(venue.depth(state), 300.0, rtol=1e-15)


# --- arbitrage ---------------------------------------------------------------------------------------------------


def profit_maximising_trade(
    venue: StableSwapPool, state: VenueState, i: int, j: int, target: float, cap_j: float
) -> tuple[float, float, float]:
    """Best single trade by scipy's bounded Brent search: (amount of i sold, amount of j sold, profit in j)."""

    def profit(amount: float, sell_i: bool) -> float:
        s = state.copy()
        if sell_i:
            return float(venue.swap(s, i, j, np.array([amount]))[0] - amount * target)
        return float(venue.swap(s, j, i, np.array([amount]))[0] * target - amount)

    best = (0.0, 0.0, 0.0)
    for sell_i, limit in ((True, cap_j / target), (False, cap_j)):
        # Past four times the pool's depth no trade can pay: that bounds the search when capital is unlimited.
        bound = min(limit, 4 * venue.depth(state)[0] / venue.rates[i if sell_i else j])
        res = minimize_scalar(
            partial(lambda a, side: -profit(a, side), side=sell_i),
            bounds=(0.0, bound),
            method="bounded",
            options={"xatol": 1e-12 * bound},
        )
        for amount in (res.x, bound):
            value = profit(amount, sell_i)
            if value > best[2]:
                best = (amount, 0.0, value) if sell_i else (0.0, amount, value)
    return best


ARBITRAGE_CASES = [
    # (balances, A, fee_bps, admin_fee, rates, i, j, target, cap)
    ([109891.95, 498670.80], 50, 4, 0.5, None, 1, 0, 0.90, np.inf),  # stETH pool, market below the pool
    ([109891.95, 498670.80], 50, 4, 0.5, None, 1, 0, 0.99, np.inf),  # market above the pool: buy stETH
    ([109891.95, 498670.80], 50, 4, 0.5, None, 1, 0, 0.99, 5000.0),  # ... with 5000 ETH of capital
    ([1e6, 1e6, 1e6], 2000, 1, 0.0, None, 0, 2, 1.01, np.inf),  # 3pool-like
    ([3e5, 9e5, 1e5, 6e5], 200, 30, 0.0, [1.0, 1.02, 0.98, 1.0], 3, 1, 0.9, np.inf),
    ([5e8, 2e7], 5000, 4, 0.5, [1.0, 1.1], 0, 1, 1.5, 1e5),
]


@pytest.mark.parametrize(
    ("balances", "A", "fee_bps", "admin_fee", "rates", "i", "j", "target", "cap"), ARBITRAGE_CASES
)
def test_arbitrage_matches_scipys_profit_maximum(
    balances: list[float],
    A: int,
    fee_bps: float,
    admin_fee: float,
    rates: list[float] | None,
    i: int,
    j: int,
    target: float,
    cap: float,
) -> None:
    venue = StableSwapPool(
        "p", tuple("abcd"[: len(balances)]), balances, A, fee_bps, rates, admin_fee=admin_fee
    )
    state = venue.init_state(1)
    sell_i, sell_j, best_profit = profit_maximising_trade(venue, state, i, j, target, cap)
    assert best_profit > 0
    before = state["balances"].copy()
    d_i, d_j = venue.arbitrage(state, i, j, np.array([target]), np.array([cap]))
    # The trade found is the one scipy found, and does at least as well.
    amount_in = d_i[0] if d_i[0] > 0 else d_j[0]
    assert rel(amount_in, sell_i or sell_j) < 1e-6
    out = -(d_j[0] if d_i[0] > 0 else d_i[0])  # what left the pool, admin share included
    admin_share = venue.admin_fee * venue.fee_bps / 1e4 / (1 - venue.fee_bps / 1e4)
    received = out / (1 + admin_share)
    profit = received - amount_in * target if d_i[0] > 0 else received * target - amount_in
    assert profit >= best_profit * (1 - 1e-9)
    # Only coins i and j moved; the input is within the capital limit.
    others = [k for k in range(len(balances)) if k not in (i, j)]
    np.testing.assert_array_equal(state["balances"][0, others], before[0, others])
    assert (d_i[0] * target if d_i[0] > 0 else d_j[0]) <= cap * (1 + 1e-12)


@settings(max_examples=20, deadline=None)
@given(case=cases(), data=st.data())
def test_arbitrage_matches_scipy_on_random_pools(case: Case, data: st.DataObject) -> None:
    n = len(case.balances)
    i, j = data.draw(st.permutations(range(n)))[:2]
    venue = case.venue()
    state = venue.init_state(1)
    p = venue.price(state, i, j)[0]
    target = p * data.draw(st.sampled_from([0.8, 0.97, 1.03, 1.25]))
    keep = 1 - venue.fee_bps / 1e4
    if keep * p <= target <= p / keep:
        return  # inside the fee band: covered by its own test
    sell_i, sell_j, best_profit = profit_maximising_trade(venue, state, i, j, target, np.inf)
    d_i, d_j = venue.arbitrage(state, i, j, np.array([target]), np.array([np.inf]))
    amount_in = d_i[0] if d_i[0] > 0 else d_j[0]
    assert rel(amount_in, sell_i or sell_j) < 1e-5
    assert best_profit > 0


def test_no_trade_inside_the_fee_band_or_without_capital() -> None:
    venue = StableSwapPool("p", ("ETH", "stETH"), [109891.95, 498670.80], 50, 30)
    state = venue.init_state(4)
    p = venue.price(state, 1, 0)
    keep = 1 - 30 / 1e4
    before = state["balances"].copy()
    targets = p * np.array([keep * 1.000001, 1.0, 1 / keep * 0.999999, 0.5])
    d_i, d_j = venue.arbitrage(state, 1, 0, targets, np.array([np.inf, np.inf, np.inf, 0.0]))
    np.testing.assert_array_equal(d_i, 0.0)
    np.testing.assert_array_equal(d_j, 0.0)
    np.testing.assert_array_equal(state["balances"], before)


def test_arbitrage_is_vectorised_over_paths() -> None:
    venue = StableSwapPool("p", ("ETH", "stETH"), [109891.95, 498670.80], 50, 4, admin_fee=0.5)
    targets = np.array([0.88, 0.93, 0.9345, 0.96, 1.02])
    caps = np.array([np.inf, 2e3, np.inf, np.inf, 1e4])
    batch = venue.init_state(5)
    d_i, d_j = venue.arbitrage(batch, 1, 0, targets, caps)
    for k in range(5):
        single = venue.init_state(1)
        s_i, s_j = venue.arbitrage(single, 1, 0, targets[k : k + 1], caps[k : k + 1])
        assert (d_i[k], d_j[k]) == pytest.approx((s_i[0], s_j[0]), rel=1e-12, abs=1e-9)


# --- venue contract ----------------------------------------------------------------------------------------------


def test_is_a_venue_with_per_path_state() -> None:
    venue = StableSwapPool("p", ("a", "b"), [10.0, 20.0], 10, 4)
    assert isinstance(venue, Venue)
    state = venue.init_state(3)
    assert state["balances"].shape == (3, 2)
    assert state["balances"].dtype == np.float64
    state["balances"][0, 0] = 1.0
    np.testing.assert_array_equal(venue.balances, [10.0, 20.0])  # the pool's parameters are not the state


def test_scale_liquidity_scales_depth_and_keeps_price() -> None:
    # Multiplying every x by k multiplies D by k (each term of the invariant is of degree 1 in (x, D)) and leaves
    # the price, a ratio of degree-0 terms, unchanged.
    venue = StableSwapPool("p", ("a", "b", "c"), [3e5, 9e5, 1e5], 200, 4)
    state = venue.init_state(3)
    d0, p0 = venue.depth(state), venue.price(state, 0, 1)
    factor = np.array([0.25, 1.0, 3.0])
    venue.scale_liquidity(state, factor)
    np.testing.assert_allclose(venue.depth(state), d0 * factor, rtol=1e-13)
    np.testing.assert_allclose(venue.price(state, 0, 1), p0, rtol=1e-13)


def test_drained_path_does_not_trade() -> None:
    venue = StableSwapPool("p", ("a", "b"), [10.0, 20.0], 10, 4)
    state = venue.init_state(2)
    venue.scale_liquidity(state, np.array([0.0, 1.0]))
    assert venue.depth(state)[0] == 0.0
    assert np.isnan(venue.price(state, 0, 1)[0])
    dy = venue.swap(state, 0, 1, np.array([1.0, 1.0]))
    assert dy[0] == 0.0 and dy[1] > 0.0
    np.testing.assert_array_equal(state["balances"][0], [0.0, 0.0])
    d_i, d_j = venue.arbitrage(state, 0, 1, np.array([2.0, 2.0]), np.array([np.inf, np.inf]))
    assert (d_i[0], d_j[0]) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name": ""},
            r"^The 'name' parameter of StableSwapPool must be a non-empty str\. Got '' instead\.$",
        ),
        (
            {"coins": ("a", "a")},
            r"^The 'coins' parameter of StableSwapPool must be a sequence of 2 to 8 distinct",
        ),
        (
            {"balances": [1.0]},
            r"^The 'balances' parameter of StableSwapPool must be a sequence of 2 finite positive",
        ),
        (
            {"balances": [1.0, -1.0]},
            r"^The 'balances' parameter of StableSwapPool must be a sequence of 2 finite",
        ),
        (
            {"A": 0.5},
            r"^The 'A' parameter of StableSwapPool must be a real number in \[1, 1e6\)\. Got 0\.5 instead\.$",
        ),
        (
            {"fee_bps": -1},
            r"^The 'fee_bps' parameter of StableSwapPool must be a real number in \[0, 5000\]\. Got -1",
        ),
        (
            {"fee_bps": float("nan")},
            r"^The 'fee_bps' parameter of StableSwapPool must be a real number in \[0, 5000\]",
        ),
        (
            {"rates": [1.0, 0.0]},
            r"^The 'rates' parameter of StableSwapPool must be a sequence of 2 finite positive",
        ),
        (
            {"admin_fee": 1.5},
            r"^The 'admin_fee' parameter of StableSwapPool must be a real number in \[0, 1\]\.",
        ),
    ],
)
def test_bad_constructor_arguments(kwargs: dict, message: str) -> None:
    args: dict = {"name": "p", "coins": ("a", "b"), "balances": [1.0, 2.0], "A": 10, "fee_bps": 4}
    args.update(kwargs)
    with pytest.raises(ParameterError, match=message):
        StableSwapPool(**args)


def test_bad_method_arguments() -> None:
    venue = StableSwapPool("p", ("a", "b"), [10.0, 20.0], 10, 4)
    state = venue.init_state(2)
    with pytest.raises(
        ParameterError, match=r"^The 'n_paths' parameter of init_state must be an int >= 1\. Got 0"
    ):
        venue.init_state(0)
    with pytest.raises(
        ParameterError, match=r"^The 'j' parameter of swap must be an int in \[0, 1\]\. Got 2 instead\.$"
    ):
        venue.swap(state, 0, 2, np.ones(2))
    with pytest.raises(
        ParameterError, match=r"^The 'j' parameter of price must differ from i = 1\. Got 1 instead\.$"
    ):
        venue.price(state, 1, 1)
    with pytest.raises(
        ParameterError, match=r"^The 'dx' parameter of swap must be an array of shape \(2,\) of finite"
    ):
        venue.swap(state, 0, 1, np.array([1.0, -1.0]))
    with pytest.raises(ParameterError, match=r"^The 'dx' parameter of swap must be an array of shape \(2,\)"):
        venue.swap(state, 0, 1, np.ones(3))
    with pytest.raises(
        ParameterError, match=r"^The 'target_price' parameter of arbitrage must be an array of shape"
    ):
        venue.arbitrage(state, 0, 1, np.zeros(2), np.ones(2))
    with pytest.raises(
        ParameterError, match=r"^The 'max_in_j' parameter of arbitrage must be an array of shape"
    ):
        venue.arbitrage(state, 0, 1, np.ones(2), np.full(2, np.nan))
    with pytest.raises(
        ParameterError, match=r"^The 'factor' parameter of scale_liquidity must be an array of shape"
    ):
        venue.scale_liquidity(state, np.array([1.0, np.inf]))
    with pytest.raises(
        ParameterError, match=r"^The 'state' parameter of depth must be a VenueState from 'p'"
    ):
        venue.depth(VenueState({"balances": np.ones((2, 3))}))


# --- the stETH/ETH pool on 2022-06-14 ----------------------------------------------------------------------------

DATA = Path("/work/shared/data")
STETH_POOL = "0xDC24316b9AE028F1497c275EB9192a3Ea0f67022"
JUNE_14_ROW = 1655201693  # 2022-06-14 10:14:53 UTC, the pool's most imbalanced row in the file


def steth_pool_A(ramps: Path) -> float:
    """A of the stETH pool in June 2022: from the A-ramp file if it lists the pool, else 50.

    The ramp file (RampA events from MiguelBits/curve-studies-depegs pools.csv) holds one "Curve Pool:" header,
    for MIM-3CRV 0x5a6A...F41B, followed by that pool's ramps: the stETH pool is not listed. A = 50 then comes
    from bancorprotocol/fastlane-bot resources/curve/mock_pools.py, whose recorded state of the stETH pool
    shows a ramp starting 2023-02-18 from initial_A = 5000 (A_precise), i.e. A() = 50 until then.
    """
    pool, last_a = None, None
    for line in ramps.read_text().splitlines():
        cells = [c.strip() for c in line.split(",")]
        if cells[0].startswith("Curve Pool"):
            pool = cells[1].lower()
        elif pool == STETH_POOL.lower() and cells[0].isdigit() and int(cells[0]) <= JUNE_14_ROW:
            last_a = float(cells[2]) / 100  # RampA logs A_precise in A_PRECISION pools
    return 50.0 if last_a is None else last_a


def coingecko_steth_eth_median(start_ms: int, end_ms: int) -> float | None:
    folder = DATA / "prices/hourly/coingecko_aave_assets_2021-01_2023-02"
    series = {}
    for asset in ("stETH", "WETH"):
        path = folder / f"{asset}_usd.csv.gz"
        if not path.exists():
            return None
        with gzip.open(path, "rt") as f:
            rows = [line.split(",") for line in f.read().splitlines()[1:]]
        series[asset] = {
            int(int(r[1]) // 3_600_000): float(r[2]) for r in rows if start_ms <= int(r[1]) < end_ms
        }
    hours = sorted(set(series["stETH"]) & set(series["WETH"]))
    return float(np.median([series["stETH"][h] / series["WETH"][h] for h in hours]))


@pytest.mark.skipif(not DATA.exists(), reason="/work/shared/data (the shared data pack) is not available")
def test_steth_pool_on_2022_06_14_prices_the_market_discount() -> None:
    rows = (DATA / "dex/curve/curve_steth_pool_balances_2021-09_2022-06.csv").read_text().splitlines()
    header = [h.strip() for h in rows[0].split(",")]
    row = next(
        dict(zip(header, r.split(","), strict=True)) for r in rows[1:] if r.startswith(str(JUNE_14_ROW))
    )
    steth, eth = int(row["stETH Balance"]) / E18, int(row["ETH Balance"]) / E18
    assert steth / (steth + eth) == pytest.approx(0.82, abs=0.005)  # the 82 % imbalance of the day
    A = steth_pool_A(DATA / "dex/curve/curve_pool_A_ramps.csv")
    assert A == 50.0
    # StableSwapSTETH.vy: coins[0] is ETH, coins[1] stETH; 4 bps as in its pooldata.json (the fee does not
    # enter the marginal price).
    venue = StableSwapPool("steth", ("ETH", "stETH"), [eth, steth], A, 4)
    price = venue.price(venue.init_state(1), 1, 0)[0]
    assert 0.93 <= price <= 0.97  # a discount, inside the ~0.93-0.97 stETH/ETH range of those days
    # CoinGecko's stETH/ETH over 2022-06-13..15 (median ~0.948): the pool, the distressed exit, sits a little below.
    median = coingecko_steth_eth_median(1655078400000, 1655337600000)
    if median is not None:
        assert 0.93 < median < 0.97
        assert abs(price - median) < 0.02
