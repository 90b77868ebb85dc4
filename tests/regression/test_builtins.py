"""Each built-in scenario at a small fixed seed against a golden summary; two runs are bit-identical.

The golden files pin the engine's output so that unintended changes show up. They are regression pins, not
targets: regenerate them with FIRESALE_UPDATE_GOLDEN=1 when a change is intended, and say why in the commit.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

import firesale

GOLDEN = Path(__file__).parent / "golden"
CASES = {"toy-spiral": dict(n_paths=32, seed=1), "aave-v3-today": dict(n_paths=16, seed=1, n_steps=96)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_builtin_matches_golden_and_is_reproducible(name):
    first = firesale.simulate(name, **CASES[name])
    second = firesale.simulate(name, **CASES[name])
    assert first.metrics.equals(second.metrics)
    summary = first.summary()
    path = GOLDEN / f"{name}.json"
    if os.environ.get("FIRESALE_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    golden = json.loads(path.read_text())
    assert sorted(golden) == sorted(summary)
    for key, value in golden.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            assert math.isnan(summary[key]), key
        else:
            assert summary[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
