"""Risk statistics of a loss sample, against hand calculations."""

from __future__ import annotations

import numpy as np
import pytest

from firesale.results import expected_shortfall, value_at_risk


def test_expected_shortfall_takes_the_worst_share():
    losses = np.arange(100.0)  # 0..99: the worst 1 % is the single path at 99
    assert expected_shortfall(losses, 0.99) == 99.0
    assert expected_shortfall(losses, 0.95) == pytest.approx((95 + 96 + 97 + 98 + 99) / 5)
    assert expected_shortfall(np.arange(10.0), 0.99) == 9.0  # at least one observation


def test_value_at_risk_is_the_quantile():
    assert value_at_risk(np.arange(101.0), 0.99) == pytest.approx(99.0)
