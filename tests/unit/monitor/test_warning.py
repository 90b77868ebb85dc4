"""Early warning on the shipped replays: lead times pinned per event, false alarms on the calm history.

The loss start of each event is fixed by a price rule the classifier does not read (see ``EVENTS``); the
thresholds are calibrated on data before ``calibration_end`` only. The pinned values are what the classifier said on
the shipped data; a change to an indicator, a default band or the calibration shows up here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from firesale.monitor import EVENTS, ClassifierConfig, calibrate_config, early_warning, false_alarms
from firesale.monitor.warning import loss_start

T = pd.Timestamp


def test_loss_start_rules_by_hand():
    p = pd.Series(
        [100, 110, 90, 73.3, 73.0], index=pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    )
    # fall of one third from the 7-day high 110: at or below 73.33 -> day 3 (73.3)
    assert loss_start(p, "fall", 1 / 3) == p.index[3]
    # rise of 25 % from the 7-day low: never (the low keeps falling)
    assert loss_start(p, "rise", 0.25) is None
    peg = pd.Series([1.0, 0.99, 0.951, 0.95], index=p.index[:4])
    assert loss_start(peg, "peg", 0.05) == p.index[3]
    assert loss_start(peg, "peg", 0.05, after=p.index[3]) is None


def test_calibration_only_loosens_bands():
    idx = pd.date_range("2024-01-01", periods=1000, freq="h", tz="UTC")
    # A calm peg deviation: 0 .. 0.0999 %, evenly spread; and a peg of 2 % at worst (noisy quotes).
    calm = pd.DataFrame({"peg:X": np.linspace(0, 0.000999, 1000)}, index=idx)
    assert (
        calibrate_config(calm).bands["peg"] == ClassifierConfig().bands["peg"]
    )  # defaults are already looser
    noisy = pd.DataFrame({"peg:X": np.linspace(0, 0.02, 1000)}, index=idx)
    band = calibrate_config(noisy, calm_rate=0.01).bands["peg"]
    # 99 % quantile of linspace(0, 0.02, 1000): 0.02 * 0.99 = 0.0198; failure stays at its default 0.05.
    assert band.stressed == pytest.approx(0.0198)
    assert band.failure == pytest.approx(0.05)


# event: (loss start, first stressed, lead stressed h, first failure, lead failure h)
PINNED = {
    "black-thursday-2020-03": ("2020-03-12 11:00", "2020-03-12 11:00", 0.0, "2020-03-12 11:00", 0.0),
    "terra-2022-05": ("2022-05-09 18:30", "2022-05-07 21:40", 44.833, "2022-05-07 21:50", 44.667),
    "usdc-2023-03": ("2023-03-11 04:00", "2023-03-11 02:00", 2.0, None, None),
    "steth-2022-05": ("2022-05-13 18:00", "2022-05-08 02:00", 136.0, "2022-05-09 11:00", 103.0),
    "crv-2022-11": ("2022-11-22 13:00", "2022-11-17 04:00", 129.0, "2022-11-17 04:00", 129.0),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_lead_times_pinned(name):
    loss, stressed, lead_s, failure, lead_f = PINNED[name]
    r = early_warning(name)
    assert r["loss_start"] == T(loss, tz="UTC")
    assert r["first_stressed"] == T(stressed, tz="UTC")
    assert r["lead_stressed_h"] == pytest.approx(lead_s, abs=1e-3)
    if failure is None:
        assert r["first_failure"] is None and r["lead_failure_h"] is None
    else:
        assert r["first_failure"] == T(failure, tz="UTC")
        assert r["lead_failure_h"] == pytest.approx(lead_f, abs=1e-3)
    # Warnings are counted after the calibration window, never inside it.
    assert r["first_stressed"] > T(EVENTS[name].calibration_end)
    assert r["reasons_stressed"]


def test_reasons_of_the_usdc_warning():
    r = early_warning("usdc-2023-03")
    assert r["reasons_stressed"] == ["USDC 1.6 % off its peg (stressed)"]


def test_false_alarms_on_the_hourly_history():
    fa = false_alarms("eth_btc_1h_2019-2024", ("ETH", "BTC"))
    assert list(fa.index) == [2020, 2021, 2022, 2023, 2024]
    assert fa.loc[2021, "stressed_rate"] == pytest.approx(0.013486, abs=1e-5)
    assert fa.loc[2021, "failure_rate"] == 0.0
    assert fa.loc[2023, "n_loss_steps"] == 0
    assert (fa["stressed_rate"] < 0.11).all()
