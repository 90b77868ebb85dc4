"""PerpVenue under the protocol contract: held to firesale.mechanics.perps, hand cases, conservation, validation."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from pydantic import ValidationError

from firesale.exceptions import ScenarioError
from firesale.mechanics import perps as ref
from firesale.protocols._cdp import uniforms
from firesale.protocols.base import LiquidatorCapacity, RoundInputs, SaleQuotes
from firesale.protocols.perps import PerpSpec, PerpVenue, fit_premium_process, normals
from firesale.scenario._errors import format_validation_error


def _inputs(index: np.ndarray, time: float) -> RoundInputs:
    n_p, n_m = index.shape
    oracle = np.concatenate([index, np.ones((n_p, 1))], axis=1)
    return RoundInputs(
        time=time, oracle=oracle, market=oracle, active=np.ones(n_p, dtype=bool),
        liquidators=LiquidatorCapacity(np.zeros(n_p, np.int64), np.zeros(n_p), np.zeros(n_p), 0.0),
        quotes=SaleQuotes(np.array([0.0]), lambda p: np.zeros((len(p), n_m + 1, 1))),
    )  # fmt: skip


def _scenario(oracles=(("btc", "BTC"),)) -> SimpleNamespace:
    return SimpleNamespace(spec=SimpleNamespace(oracles=[SimpleNamespace(name=n, asset=a) for n, a in oracles]),
                           source="perp.toml")  # fmt: skip


def _spec(**over) -> dict:
    data = {
        "name": "hl", "type": "perp", "insurance_fund_usd": 100.0, "liquidation_fee_rate": 0.01,
        "vault": {"enabled": False, "capital_usd": 0.0, "token": "HLP"},
        "markets": {"BTC-PERP": {"index": "BTC", "oracle": "btc", "book_depth_usd": 1e9,
                                 "tiers": [{"notional_floor_usd": 0.0, "max_leverage": 20.0,
                                            "maintenance_margin_rate": 0.01}]}},
        "traders": [
            {"collateral_usd": 1000.0, "positions": [{"market": "BTC-PERP", "size": 1.0, "entry_price": 20_000.0}]},
            {"collateral_usd": 600.0, "positions": [{"market": "BTC-PERP", "size": 0.5, "entry_price": 20_000.0}]},
            {"collateral_usd": 10_000.0,
             "positions": [{"market": "BTC-PERP", "size": -1.5, "entry_price": 20_000.0}]},
        ],
        "funding_interval_s": 1e12,
    }  # fmt: skip
    data.update(over)
    return data


# --- hand cases through the contract -------------------------------------------------------------------------------


def test_hand_computed_liquidation_through_the_model() -> None:
    # The mechanics test's case (tests/unit/mechanics/test_perps.py), on 2 paths of which one stays at 20,000:
    # at 18,900 T0 is closed with a 100 deficit, T1 pays a 50 fee; the fund ends at 100 + 50 - 100 = 50.
    model = PerpVenue.build(PerpSpec.model_validate(_spec()), _scenario())
    assert model.assets == ("BTC", "USDC")
    state = model.init_state(2)
    flows = model.round(state, _inputs(np.array([[18_900.0], [20_000.0]]), 1.0))
    assert flows.n_actions.tolist() == [2, 0]
    assert model.record(state, "insurance_fund_usd", np.array([[18_900.0, 1.0]] * 2)) == pytest.approx(
        [50.0, 100.0]
    )
    assert state["cash"][0] == pytest.approx([0.0, 0.0, 10_000.0], abs=1e-9)
    assert state["cash"][1] == pytest.approx([1000.0, 600.0, 10_000.0])
    assert model.check_conservation(state, {}) == []
    book = model.account(state, np.array([[18_900.0, 1.0], [20_000.0, 1.0]]))
    assert book.bad_debt_usd == pytest.approx([0.0, 0.0], abs=1e-9)
    assert book.reserves_usd == pytest.approx([50.0, 100.0])
    # a second round at the same prices does nothing more
    again = model.round(state, _inputs(np.array([[18_900.0], [20_000.0]]), 1.0))
    assert again.n_actions.tolist() == [0, 0]


def test_vault_share_price_and_spot_hedge_flows() -> None:
    # Isolated long 1 @ 100 with 10 margin (8 % MM at 10x), a book taking 20 USD; at 95 the vault takes the
    # unfilled 1 - 20/95 units and the trader's 5 of equity: vault equity 1000 -> 1005 over 1000 shares.
    # With a hedge ratio of 1/2 it sells half the long it took on spot.
    data = _spec(
        vault={"enabled": True, "capital_usd": 1000.0, "token": "HLP", "spot_hedge_ratio": 0.5},
        markets={"BTC-PERP": {"index": "BTC", "oracle": "btc", "book_depth_usd": 20.0,
                              "tiers": [{"notional_floor_usd": 0.0, "max_leverage": 10.0,
                                         "maintenance_margin_rate": 0.08}]}},
        traders=[{"positions": [{"market": "BTC-PERP", "size": 1.0, "entry_price": 100.0,
                                 "isolated_margin_usd": 10.0}]},
                 {"collateral_usd": 1e6, "positions": [{"market": "BTC-PERP", "size": -1.0, "entry_price": 100.0}]}],
        liquidation_fee_rate=0.0,
    )  # fmt: skip
    model = PerpVenue.build(PerpSpec.model_validate(data), _scenario())
    state = model.init_state(1)
    flows = model.round(state, _inputs(np.array([[95.0]]), 1.0))
    taken = 1.0 - 20.0 / 95.0
    assert flows.sell[0] == pytest.approx([0.5 * taken, 0.0], rel=1e-12)
    assert flows.buy[0] == pytest.approx([0.0, 0.0])
    market = np.array([[95.0, 1.0]])
    prices = model.token_prices(state, market, model.account(state, market))
    assert prices["HLP"] == pytest.approx([1.005], rel=1e-12)
    assert model.record(state, "vault_equity_usd", market) == pytest.approx([1005.0], rel=1e-12)


# --- the model equals the reference ---------------------------------------------------------------------------------


def _random_case(
    seed: int, rule: str, n_paths: int = 2, n_rounds: int = 6, extras: bool = False
) -> dict[str, np.ndarray]:
    """``extras``: also random withdrawing traders, index growth limits (some markets unlimited; the limit seeded
    with the starting index at time 0) and books that overflow with impact."""
    rng = np.random.default_rng(seed)
    n_t, n_m = int(rng.integers(1, 7)), int(rng.integers(1, 4))
    growth = [float(rng.choice([np.inf, 1e-5, 1e-4])) if extras else np.inf for _ in range(n_m)]
    overflow = rng.uniform(0, 1, n_m) < 0.5 if extras else np.zeros(n_m, dtype=bool)
    markets = tuple(
        ref.MarketParams(
            tiers=((0.0, 50.0, 0.01), (float(rng.uniform(1e3, 5e4)), 20.0, 0.025)),
            book_depth_usd=float(rng.uniform(1e3, 1e5)), impact=float(rng.uniform(0.0, 0.05)),
            premium_mean=0.0001, premium_ar=0.5, premium_vol=0.0005, index_growth_limit=growth[m],
            overflow=bool(overflow[m]),
        )
        for m in range(n_m)
    )  # fmt: skip
    params = ref.VenueParams(
        markets=markets, fee_rate=float(rng.uniform(0, 0.01)), partial_threshold_usd=float(rng.uniform(1e3, 1e5)),
        partial_fraction=0.2, vault=bool(rng.integers(0, 2)), adl_rule=rule, funding_interval=3600.0,
    )  # fmt: skip
    idx0 = rng.uniform(10, 1000, n_m)
    size = rng.normal(0, 1, (n_t, n_m)) * (rng.uniform(0, 1, (n_t, n_m)) < 0.8) * 2000 / idx0
    entry = idx0 * rng.uniform(0.8, 1.2, (n_t, n_m))
    isolated = rng.uniform(0, 1, (n_t, n_m)) < 0.4
    iso = np.where(isolated, np.abs(size) * entry * rng.uniform(0.02, 0.2, (n_t, n_m)), 0.0)
    cash = rng.uniform(0, 500, n_t)
    withdraws = rng.uniform(0, 1, n_t) < 0.5 if extras else np.zeros(n_t, dtype=bool)
    model = PerpVenue(
        "v", params, tuple(f"A{m}" for m in range(n_m)), tuple(f"o{m}" for m in range(n_m)), "USD", "",
        tuple(() for _ in range(n_m)), cash, size, entry, iso, isolated, float(rng.uniform(0, 300)),
        float(rng.uniform(0, 1e4)), np.full(n_m, 0.0002), token="HLP", seed=seed, withdraws=withdraws,
        index0=idx0 if extras else None,
    )  # fmt: skip
    state = model.init_state(n_paths)
    books = [
        ref.PerpBook(cash=list(cash), size=[list(r) for r in size], entry=[list(r) for r in entry],
                     iso_margin=[list(r) for r in iso], isolated=[list(map(bool, r)) for r in isolated],
                     insurance=model.insurance0, vault_cash=model.vault_capital, premium=list(model.premium0),
                     next_funding=3600.0, withdraws=list(map(bool, withdraws)),
                     band_last=list(idx0) if extras else [], band_time=0.0 if extras else np.nan)
        for _ in range(n_paths)
    ]  # fmt: skip
    log_index = np.log(idx0) + np.cumsum(rng.normal(0, 0.15, (n_rounds, n_paths, n_m)), axis=0)
    times = np.cumsum(rng.choice([0.0, 1800.0, 4000.0], n_rounds))
    scale = 1.0 + model._initial_cash
    for r in range(n_rounds):
        index = np.exp(log_index[r])
        model.round(state, _inputs(index, float(times[r])))
        assert model.check_conservation(state, {}) == []
        for p, book in enumerate(books):
            key = state["path_key"][p : p + 1]

            def z(k: int, m: int, key=key) -> float:
                return float(normals(key, np.array([k]), m)[0])

            keys = [list(uniforms(key[:, None], np.array([[r + 1]]), m, np.arange(n_t)[None, :])[0])
                    for m in range(n_m)]  # fmt: skip
            ref.perp_round(book, params, list(index[p]), float(times[r]), z, keys)
            assert ref.cash_identity_gap(book, model._initial_cash) == pytest.approx(0.0, abs=1e-9 * scale)
            for got, want in (
                (state["size"][p], book.size), (state["cash"][p], book.cash), (state["iso"][p], book.iso_margin),
                (state["insurance"][p], book.insurance), (state["vault_cash"][p], book.vault_cash),
                (state["vault_pos"][p], book.vault_pos), (state["vault_cost"][p], book.vault_cost),
                (state["socialised"][p], book.socialised), (state["adl_notional"][p], book.adl_notional),
                (state["premium"][p], book.premium), (state["funding_in"][p], book.funding_in),
                (state["n_liquidated"][p], book.n_liquidated), (state["withdrawn"][p], book.withdrawn),
                (state["insurance_paid"][p], book.insurance_paid), (state["exhausted"][p], float(book.exhausted)),
            ):  # fmt: skip
                np.testing.assert_allclose(got, np.asarray(want, dtype=float), rtol=1e-9, atol=1e-9 * scale)
    return state.arrays


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rule=st.sampled_from(ref.ADL_RULES))
def test_model_equals_reference_on_random_books(seed: int, rule: str) -> None:
    _random_case(seed, rule)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rule=st.sampled_from(ref.ADL_RULES))
def test_model_equals_reference_with_withdrawals_and_index_limits(seed: int, rule: str) -> None:
    a = _random_case(seed, rule, extras=True)
    assert np.all(a["withdrawn"] >= 0.0)


def test_random_books_reach_withdrawals_and_clamped_index() -> None:
    # the extras branches are reached: some seed withdraws, and some clamps the index
    reached_w = reached_c = False
    for seed in range(12):
        a = _random_case(seed, "binance", extras=True)
        reached_w |= bool(a["withdrawn"].sum() > 0)
        reached_c |= bool(np.isfinite(a["band_ref"]).any() and a["band_dt"].max() > 0)
    assert reached_w and reached_c


def test_random_books_reach_adl_and_socialised_loss() -> None:
    # the equality test is only as good as the branches it reaches: these seeds reach vault takeovers, ADL and
    # socialised losses under every rule
    for rule in ("binance", "dydx", "pro_rata"):
        for seed in (9, 32):
            a = _random_case(seed, rule, n_paths=3, n_rounds=8)
            assert a["adl_notional"].sum() > 0 and a["socialised"].sum() > 0 and a["vault_pos"].any()


def test_conservation_check_catches_a_leak() -> None:
    model = PerpVenue.build(PerpSpec.model_validate(_spec()), _scenario())
    state = model.init_state(3)
    for t, px in enumerate((19_500.0, 18_900.0, 17_000.0, 22_000.0)):
        model.round(state, _inputs(np.full((3, 1), px), float(t)))
        assert model.check_conservation(state, {}) == []
    state["cash"][1, 2] += 1.0
    assert model.check_conservation(state, {}) == ["hl: cash not conserved on 1 path(s); largest gap 1 USD"]


# --- calibration ----------------------------------------------------------------------------------------------------


def test_fit_premium_process_inverts_the_clamp() -> None:
    # premiums 0.008, -0.004, 0.002, -0.001 follow P' = -0.5 P exactly, all outside the band [I - c, I + c];
    # their funding rates under I = 0.01 %, c = 0.05 %: 0.0075, -0.0035, 0.0015, -0.0005
    fit = fit_premium_process(np.array([0.0075, -0.0035, 0.0015, -0.0005]))
    assert fit.ar == pytest.approx(-0.5, rel=1e-9)
    assert fit.mean == pytest.approx(0.0, abs=1e-12)
    assert fit.vol == pytest.approx(0.0, abs=1e-12)
    assert fit.share_at_interest == 0.0
    assert fit_premium_process(np.array([0.0001, 0.0001, 0.0003])).share_at_interest == pytest.approx(2 / 3)


# --- validation -----------------------------------------------------------------------------------------------------


def _problems(data: dict) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        PerpSpec.model_validate(data)
    return format_validation_error(exc.value, data, "perp.toml", PerpSpec)


def test_maintenance_above_initial_margin_is_rejected() -> None:
    data = _spec()
    data["markets"]["BTC-PERP"]["tiers"][0]["maintenance_margin_rate"] = 0.06  # initial 1/20 = 0.05
    (line,) = _problems(data)
    assert line.startswith("perp.toml: markets.BTC-PERP.tiers[0].maintenance_margin_rate: must be below the "
                           "initial margin 1/max_leverage = 0.05")  # fmt: skip
    assert line.endswith("0.06")


def test_negative_insurance_fund_is_rejected() -> None:
    (line,) = _problems(_spec(insurance_fund_usd=-1.0))
    assert line.startswith("perp.toml: insurance_fund_usd:") and "greater than or equal to 0" in line
    assert line.endswith("-1.0")


def test_unknown_adl_rule_is_rejected() -> None:
    (line,) = _problems(_spec(adl_rule="lifo"))
    assert line.startswith("perp.toml: adl_rule:") and "'binance'" in line and line.endswith("'lifo'")


def test_market_without_index_oracle_is_rejected() -> None:
    data = _spec()
    del data["markets"]["BTC-PERP"]["oracle"]
    (line,) = _problems(data)
    assert line.startswith("perp.toml: markets.BTC-PERP.oracle:") and "required" in line.lower()
    with pytest.raises(ScenarioError, match=r"perp.toml: protocols.hl.markets.BTC-PERP.oracle: must name a "
                                            r"defined oracle, got 'btc'"):  # fmt: skip
        PerpVenue.build(PerpSpec.model_validate(_spec()), _scenario(oracles=(("eth", "ETH"),)))
    with pytest.raises(ScenarioError, match=r"oracle prices ETH, not BTC, got 'btc'"):
        PerpVenue.build(PerpSpec.model_validate(_spec()), _scenario(oracles=(("btc", "ETH"),)))
    data = _spec()
    data["markets"]["BTC-PERP"]["venues"] = ["uni"]
    with pytest.raises(ScenarioError, match=r"perp.toml: protocols.hl.markets.BTC-PERP.venues: must name a defined "
                                            r"venue, got 'uni'"):  # fmt: skip
        PerpVenue.build(PerpSpec.model_validate(data), _scenario())


def test_open_interest_cap_and_unknown_market_are_rejected() -> None:
    data = _spec()
    data["markets"]["BTC-PERP"]["oi_cap_usd"] = 25_000.0  # longs hold 1.5 BTC at 20,000 = 30,000
    (line,) = _problems(data)
    assert line.startswith("perp.toml: markets.BTC-PERP.oi_cap_usd: must cover the long open interest 30000")
    data = _spec()
    data["traders"][0]["positions"][0]["market"] = "ETH-PERP"
    (line,) = _problems(data)
    assert line.startswith("perp.toml: traders[0].positions[0].market: must be one of ['BTC-PERP']")


# --- the conformance suite ------------------------------------------------------------------------------------------


def test_conformance_suite_passes() -> None:
    from firesale.testing import check_protocol_model

    def make() -> PerpVenue:
        data = _spec(
            insurance_fund_usd=10.0, partial_threshold_usd=5_000.0, partial_fraction=0.2,
            vault={"enabled": True, "capital_usd": 1e5, "token": "HLP", "spot_hedge_ratio": 0.5},
        )  # fmt: skip
        data["markets"]["BTC-PERP"]["book_depth_usd"] = 20_000.0
        data["markets"]["BTC-PERP"]["impact"] = 0.02
        return PerpVenue.build(PerpSpec.model_validate(data), _scenario())

    def bad(key: str, value: object):
        return lambda: PerpSpec.model_validate(_spec(**{key: value}))

    passed = check_protocol_model(
        make, np.array([20_000.0, 1.0]), shock=0.9,
        bad_specs=[(bad("insurance_fund_usd", -1.0), "greater than or equal to 0"), (bad("adl_rule", "lifo"), "lifo")],
    )  # fmt: skip
    assert "conservation and no negative balances" in passed and "clear errors for bad specs" in passed


def test_inactive_paths_are_left_alone() -> None:
    model = PerpVenue.build(PerpSpec.model_validate(_spec()), _scenario())
    state = model.init_state(3)
    inputs = _inputs(np.full((3, 1), 18_900.0), 1.0)
    inputs.active[:] = [True, False, True]
    flows = model.round(state, inputs)
    assert flows.n_actions.tolist() == [2, 0, 2]
    assert state["cash"][1] == pytest.approx([1000.0, 600.0, 10_000.0])
    assert state["insurance"] == pytest.approx([50.0, 100.0, 50.0])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_funding_sums_to_zero_on_balanced_books(seed: int) -> None:
    # Random sizes with the last trader holding the opposite of everyone else in each market: the modelled book is
    # balanced, so over several funding intervals everything paid is received (nothing from the external side).
    rng = np.random.default_rng(seed)
    n_t, n_m = 5, 2
    size = rng.normal(0.0, 1.0, (n_t, n_m))
    size[-1] = -size[:-1].sum(axis=0)
    isolated = rng.random((n_t, n_m)) < 0.5
    markets = tuple(
        ref.MarketParams(tiers=((0.0, 20.0, 0.01),), book_depth_usd=1e9, premium_mean=0.0002, premium_ar=0.5,
                         premium_vol=0.001)
        for _ in range(n_m)
    )  # fmt: skip
    params = ref.VenueParams(markets=markets, funding_interval=3600.0)
    model = PerpVenue(
        "v", params, ("A", "B"), ("a", "b"), "USD", "", ((), ()), np.full(n_t, 1e5), size, np.full((n_t, n_m), 100.0),
        np.full((n_t, n_m), 1e5), isolated, 0.0, 0.0, np.array([0.001, -0.002]),
    )  # fmt: skip
    state = model.init_state(4)
    before = state["cash"].sum(axis=1) + state["iso"].sum(axis=(1, 2))
    model.round(state, _inputs(np.full((4, n_m), 100.0) * rng.uniform(0.9, 1.1, (4, n_m)), 4 * 3600.0))
    assert (state["n_funding"] == 4).all()
    assert np.abs(state["f_last"]).max() > 0.0
    after = state["cash"].sum(axis=1) + state["iso"].sum(axis=(1, 2))
    moved = np.abs(np.concatenate([state["cash"] - 1e5, (state["iso"] - 1e5)[:, isolated]], axis=1)).sum(
        axis=1
    )
    assert (moved > 1e-4).all()  # positions did pay and receive
    np.testing.assert_allclose(after - before, 0.0, atol=1e-8)
    np.testing.assert_allclose(state["funding_in"], 0.0, atol=1e-9)
