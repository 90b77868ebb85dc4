"""firesale.contagion keeps a small, sorted, complete public surface."""

from __future__ import annotations

import firesale.contagion as contagion


def test_all_is_sorted_unique_and_resolves():
    assert contagion.__all__ == sorted(set(contagion.__all__))
    for name in contagion.__all__:
        assert getattr(contagion, name) is not None, name
