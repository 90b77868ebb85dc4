"""The public surface stays small, sorted and complete."""

from __future__ import annotations

import firesale


def test_all_is_sorted_and_unique():
    assert firesale.__all__ == sorted(set(firesale.__all__))


def test_every_public_name_resolves():
    for name in firesale.__all__:
        assert getattr(firesale, name) is not None, name


def test_exceptions_derive_from_the_root_and_the_builtin():
    assert issubclass(firesale.ScenarioError, firesale.FiresaleError)
    assert issubclass(firesale.ScenarioError, ValueError)
    assert issubclass(firesale.ParameterError, ValueError)
    assert issubclass(firesale.SimulationError, RuntimeError)


def test_version_is_a_string():
    assert isinstance(firesale.__version__, str)
    assert firesale.__version__.count(".") == 2
