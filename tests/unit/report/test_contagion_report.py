"""The contagion report: one offline file with a waterfall per protocol and metric, strings escaped."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from firesale.contagion import attribute
from firesale.exceptions import ParameterError
from firesale.report import render_attribution, write_attribution

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from test_contagion import two


@pytest.fixture(scope="module")
def att():
    return attribute(two(), n_paths=1, seed=0)


def test_one_waterfall_per_protocol_and_metric_offline(att, tmp_path):
    path = write_attribution(att, tmp_path / "c.html", "two")
    html = path.read_text()
    assert html.count('"type":"waterfall"') == 4  # 2 protocols x (bad debt, liquidated)
    assert "default-src 'none'" in html  # the CSP blocks every request
    assert "small: Bad debt by channel" in html and "$9,135" in html  # the hand-computed case's bad debt


def test_user_strings_are_escaped(att):
    html = render_attribution(att, "<script>alert(1)</script>")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_a_path_in_a_missing_folder_is_refused(att, tmp_path):
    with pytest.raises(ParameterError, match="must be a file in an existing folder"):
        write_attribution(att, tmp_path / "no" / "c.html")
