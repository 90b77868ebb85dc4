"""Properties of the price models that hold for every valid parameter set and step size.

Parameters are drawn in the range scenarios use: annual vols 1 % to 500 %, steps from one block (12 s) to a day.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from firesale.market import (
    GBM,
    Bootstrap,
    GarchT,
    MertonJump,
    RegimeSwitching,
    Replay,
    Shock,
    step_transition_probabilities,
)
from firesale.market.spec import GBMSpec, to_toml, validate_market

SETTINGS = settings(max_examples=25, deadline=None)

vols = st.floats(0.01, 5.0)
dts = st.floats(12.0, 86400.0)
seeds = st.integers(0, 2**32 - 1)
n_steps = st.integers(1, 40)
rhos = st.floats(-0.99, 0.99)


def _check(x: np.ndarray, n_paths: int, steps: int, n_assets: int) -> None:
    assert x.shape == (n_paths, steps + 1, n_assets)
    assert np.all(x[:, 0, :] == 1.0)
    assert np.isfinite(x).all()
    assert (x > 0).all()


@SETTINGS
@given(vol=vols, drift=st.floats(-2, 2), rho=rhos, dt=dts, steps=n_steps, seed=seeds)
def test_gbm_positive_and_finite(vol, drift, rho, dt, steps, seed):
    m = GBM(assets=("A", "B"), vol=vol, drift=drift, correlation=[[1, rho], [rho, 1]])
    _check(m.simulate(3, steps, dt, np.random.default_rng(seed)), 3, steps, 2)


@SETTINGS
@given(
    vol=vols,
    lam=st.floats(0.0, 500.0),
    m=st.floats(-0.9, 0.5),
    s=st.floats(0.0, 0.5),
    common=st.booleans(),
    dt=dts,
    steps=n_steps,
    seed=seeds,
)
def test_merton_positive_and_finite(vol, lam, m, s, common, dt, steps, seed):
    model = MertonJump(
        assets=("A", "B"), vol=vol, jump_intensity=lam, jump_mean=(m, m / 2), jump_std=s, common_jumps=common
    )
    _check(model.simulate(3, steps, dt, np.random.default_rng(seed)), 3, steps, 2)


@SETTINGS
@given(
    vol=st.floats(0.05, 3.0),
    alpha=st.floats(0.0, 0.3),
    persistence=st.floats(0.0, 0.999),
    nu=st.floats(2.05, 50.0),
    native=st.sampled_from([60.0, 3600.0, 86400.0]),
    dt=dts,
    steps=st.integers(1, 12),
    rho=rhos,
    seed=seeds,
)
def test_garch_positive_and_finite(vol, alpha, persistence, nu, native, dt, steps, rho, seed):
    beta = max(persistence - alpha, 0.0)
    m = GarchT(
        assets=("A", "B"),
        vol=vol,
        alpha=alpha,
        beta=beta,
        nu=nu,
        native_dt=native,
        correlation=[[1, rho], [rho, 1]],
    )
    _check(m.simulate(2, steps, dt, np.random.default_rng(seed)), 2, steps, 2)


@SETTINGS
@given(
    calm=st.floats(0.05, 1.0),
    crisis=st.floats(0.05, 5.0),
    a=st.floats(0.0, 0.49),
    b=st.floats(0.001, 0.5),
    rho=rhos,
    dt=dts,
    steps=n_steps,
    seed=seeds,
)
def test_regime_positive_and_finite(calm, crisis, a, b, rho, dt, steps, seed):
    m = RegimeSwitching(
        assets=("A", "B"),
        vol_calm=calm,
        vol_crisis=crisis,
        p_calm_to_crisis=a,
        p_crisis_to_calm=b,
        correlation_crisis=[[1, rho], [rho, 1]],
    )
    _check(m.simulate(3, steps, dt, np.random.default_rng(seed)), 3, steps, 2)


@SETTINGS
@given(a=st.floats(0.0, 0.6), b=st.floats(0.0, 0.39), k=st.integers(1, 50), dt=dts)
def test_step_probabilities_compound(a, b, k, dt):
    # k steps of dt compound to one step of k * dt: the conversion is a continuous-time chain.
    def matrix(p, q):
        return np.array([[1 - p, p], [q, 1 - q]])

    one = np.linalg.matrix_power(matrix(*step_transition_probabilities(a, b, dt)), k)
    np.testing.assert_allclose(one, matrix(*step_transition_probabilities(a, b, k * dt)), atol=1e-9)


@SETTINGS
@given(
    d1=st.floats(0.0, 0.99),
    d2=st.floats(0.0, 0.99),
    shape=st.sampled_from(["drop", "linear", "v"]),
    start=st.floats(0.0, 7200.0),
    duration=st.floats(0.0, 7200.0),
    recovery=st.floats(1.0, 7200.0),
    dt=dts,
)
def test_deeper_shock_never_gives_a_higher_price(d1, d2, shape, start, duration, recovery, dt):
    lo, hi = sorted((d1, d2))
    kw = {"shape": shape, "start": start}
    if shape != "drop":
        kw["duration"] = duration
    if shape == "v":
        kw["recovery"] = recovery
    shallow = Shock(assets=("A",), depth=lo, **kw).simulate(1, 20, dt, np.random.default_rng(0))
    deep = Shock(assets=("A",), depth=hi, **kw).simulate(1, 20, dt, np.random.default_rng(0))
    assert (deep <= shallow + 1e-15).all()
    assert (deep >= 1 - hi - 1e-12).all() and (deep <= 1.0 + 1e-12).all()


@SETTINGS
@given(
    prices=st.lists(st.floats(0.01, 1e6), min_size=3, max_size=30),
    interpolation=st.sampled_from(["linear", "previous"]),
)
def test_replay_reproduces_observed_ratios_on_the_observation_grid(prices, interpolation):
    index = pd.date_range("2022-01-01", periods=len(prices), freq="h", tz="UTC")
    r = Replay.from_prices(pd.Series(prices, index=index, name="A"), interpolation=interpolation)
    x = r.simulate(2, len(prices) - 1, 3600.0, np.random.default_rng(0))
    np.testing.assert_allclose(x[0, :, 0], np.array(prices) / prices[0], rtol=1e-9)


@SETTINGS
@given(
    n_obs=st.integers(2, 40),
    block=st.integers(1, 40),
    k=st.integers(1, 4),
    steps=st.integers(1, 10),
    seed=seeds,
)
def test_bootstrap_aggregates_to_sums_of_historical_returns(n_obs, block, k, steps, seed):
    block = min(block, n_obs)
    returns = np.random.default_rng(seed).normal(0.0, 0.02, size=(n_obs, 1))
    m = Bootstrap(assets=("A",), returns=returns, data_dt=3600.0, block_length=block)
    fine = m.simulate(2, steps * k, 3600.0, np.random.default_rng(seed))
    coarse = m.simulate(2, steps, 3600.0 * k, np.random.default_rng(seed))
    _check(coarse, 2, steps, 1)
    # Same draws, steps of k hours: the coarse path is the fine path read every k hours.
    np.testing.assert_allclose(coarse, fine[:, ::k, :], rtol=1e-12)


names = st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=8)


@SETTINGS
@given(
    assets=st.lists(names, min_size=2, max_size=4, unique=True),
    vol=st.floats(1e-6, 10.0),
    rho=st.floats(-0.5, 0.9),
)
def test_toml_round_trip_with_any_asset_names(assets, vol, rho):
    spec = GBMSpec(vol=dict.fromkeys(assets, vol), correlation={f"{assets[0]}/{assets[1]}": rho})
    assert validate_market(tomllib.loads(to_toml(spec))["market"]) == spec
