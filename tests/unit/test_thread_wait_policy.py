"""Numba's OpenMP workers sleep between parallel regions unless the user says otherwise (firesale/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_SHOW = "import firesale, os; print(os.environ.get('OMP_WAIT_POLICY'))"


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_import_sets_a_passive_wait_policy_unless_one_is_set(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    out = subprocess.run([sys.executable, "-c", _SHOW], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
