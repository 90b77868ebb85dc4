"""Number formatting in reports, against values written out by hand."""

from __future__ import annotations

import math

import pytest

from firesale.report import _format as fmt


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "$0"),
        (545.2, "$545"),
        (999.4, "$999"),
        (1_000.0, "$1.00k"),
        (12_345.0, "$12.3k"),
        (-12_345.0, "-$12.3k"),
        (3_400_000.0, "$3.40M"),
        (244_598_252.0, "$245M"),
        (1.5e9, "$1.50B"),
        (2e12, "$2.00T"),
        (math.nan, "n/a"),
        (None, "n/a"),
    ],
)
def test_money(value, text):
    assert fmt.money(value) == text


def test_standard_errors_read_in_the_unit_of_their_estimate():
    assert fmt.money_se(3_400_000, 200_000) == "$0.20M"
    assert fmt.money_se(3_400_000, 2_000) == "$0.00M"
    assert fmt.money_se(560.0, 194.01) == "$194"
    assert fmt.money_se(560.0, math.nan) == "n/a"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0%"), (1.0, "100%"), (0.0123, "1.23%"), (0.05, "5.00%"), (0.021794, "2.18%"), (math.inf, "n/a")],
)
def test_percent(value, text):
    assert fmt.percent(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (2.2, "2.2 s"),
        (45.0, "45 s"),
        (90.0, "1.5 min"),
        (300.0, "5 min"),
        (7200.0, "2 h"),
        (259_200.0, "3 d"),
    ],
)
def test_duration(seconds, text):
    assert fmt.duration(seconds) == text


def test_ratio_and_count():
    assert fmt.ratio(1.25) == "1.250×"
    assert fmt.count(10_000) == "10,000"
    assert fmt.count(1.5) == "1.5"
