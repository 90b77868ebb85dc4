"""Replay: resampling a price series to the step, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from firesale.exceptions import ParameterError
from firesale.market import Replay

RNG = np.random.default_rng(0)


def _hourly(values, columns=("WETH",), start="2022-05-09 00:00"):
    index = pd.date_range(start, periods=len(values), freq="h", tz="UTC")
    return pd.DataFrame(
        np.asarray(values, dtype=float).reshape(len(values), -1), index=index, columns=list(columns)
    )


def test_previous_holds_the_last_observation():
    r = Replay.from_prices(_hourly([100.0, 121.0, 110.0]), interpolation="previous")
    # 0, 30 min, 1 h, 1 h 30, 2 h: the series ends at 2 h, so at most 4 half-hour steps.
    x = r.simulate(3, 4, 1800.0, RNG)
    np.testing.assert_allclose(x[0, :, 0], [1.0, 1.0, 1.21, 1.21, 1.1], rtol=1e-12)
    assert (x == x[:1]).all()


def test_linear_interpolates_log_prices():
    # Geometric midpoints: halfway between 100 and 121 is 110; between 121 and 110 it is sqrt(121 * 110).
    r = Replay.from_prices(_hourly([100.0, 121.0, 110.0]))
    x = r.simulate(1, 4, 1800.0, RNG)[0, :, 0]
    np.testing.assert_allclose(x, [1.0, 1.1, 1.21, np.sqrt(121 * 110) / 100, 1.1], rtol=1e-12)


def test_one_block_steps_over_hourly_data():
    r = Replay.from_prices(_hourly([100.0, 200.0]))
    x = r.simulate(1, 300, 12.0, RNG)[0, :, 0]
    # log-linear: after k blocks the relative is 2 ** (12 k / 3600).
    np.testing.assert_allclose(x, 2.0 ** (np.arange(301) * 12 / 3600), rtol=1e-12)


def test_start_inside_the_series():
    r = Replay.from_prices(
        _hourly([100.0, 80.0, 60.0, 90.0]), start="2022-05-09 01:00", interpolation="previous"
    )
    x = r.simulate(1, 2, 3600.0, RNG)[0, :, 0]
    np.testing.assert_allclose(x, [1.0, 0.75, 1.125], rtol=1e-12)


def test_naive_timestamps_are_utc():
    naive = _hourly([100.0, 50.0]).tz_localize(None)
    aware = _hourly([100.0, 50.0])
    a = Replay.from_prices(naive, start="2022-05-09 00:30")
    b = Replay.from_prices(aware, start=pd.Timestamp("2022-05-09 00:30", tz="UTC"))
    assert a.start == b.start
    np.testing.assert_array_equal(a.simulate(1, 1, 600.0, RNG), b.simulate(1, 1, 600.0, RNG))


def test_several_assets_and_selection():
    df = _hourly([[100.0, 1.0], [50.0, 0.9]], columns=("WETH", "USDC"))
    r = Replay.from_prices(df, assets=("USDC",))
    assert r.assets == ("USDC",)
    np.testing.assert_allclose(r.simulate(1, 1, 3600.0, RNG)[0, :, 0], [1.0, 0.9])
    r2 = Replay.from_prices(df)
    np.testing.assert_allclose(r2.simulate(1, 1, 3600.0, RNG)[0, 1, :], [0.5, 0.9])


def test_series_is_named_by_its_name():
    s = _hourly([10.0, 20.0])["WETH"]
    assert Replay.from_prices(s).assets == ("WETH",)


def test_running_past_the_data_is_an_error():
    r = Replay.from_prices(_hourly([100.0, 121.0, 110.0]))
    with pytest.raises(
        ParameterError,
        match=r"The 'n_steps' parameter of Replay\.simulate must be at most 4 for dt=1800 s \(the series covers "
        r"7200 s after start\)\. Got 5 instead\.",
    ):
        r.simulate(1, 5, 1800.0, RNG)


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        (_hourly([100.0, 0.0]), r"The 'prices' parameter of Replay\.from_prices must be positive and finite"),
        (_hourly([100.0, np.nan]), r"must be positive and finite everywhere\. Got nan for 'WETH'"),
        (_hourly([100.0, 101.0]).iloc[::-1], r"must be strictly increasing in time"),
        (_hourly([100.0]), r"must be at least 2 observations"),
        (
            pd.DataFrame({"WETH": [1.0, 2.0]}),
            r"must be indexed by a DatetimeIndex\. Got a RangeIndex instead",
        ),
        ([1.0, 2.0], r"must be a pandas Series or DataFrame of prices\. Got a list instead"),
    ],
)
def test_bad_prices(prices, message):
    with pytest.raises(ParameterError, match=message):
        Replay.from_prices(prices)


def test_start_outside_the_data():
    with pytest.raises(
        ParameterError, match=r"The 'start' parameter of Replay must be a finite float in the range"
    ):
        Replay.from_prices(_hourly([100.0, 101.0]), start="2022-05-10")


def test_input_frame_is_not_modified():
    df = pd.DataFrame({0: [1.0, 2.0]}, index=pd.date_range("2022-01-01", periods=2, freq="h", tz="UTC"))
    Replay.from_prices(df)
    assert list(df.columns) == [0]
