"""Exceptions raised by firesale.

Every error firesale raises on purpose derives from :class:`FiresaleError` and also from the matching
built-in, so callers can catch either::

    Exception
     └── FiresaleError
          ├── ScenarioError(ValueError)      a scenario file or object is invalid
          ├── ParameterError(ValueError)     a function argument is invalid
          ├── SimulationError(RuntimeError)  a run failed while executing (non-finite state, ...)
          ├── StoreError(RuntimeError)       the run store cannot be read or written
          └── Revert                         an exact-mechanics call reverted, as the contract would
                                             (defined in :mod:`firesale.mechanics`)

Per-path outcomes (liquidated, defaulted, paused) are boolean arrays in results, never exceptions.
"""

from __future__ import annotations

__all__ = ["FiresaleError", "ParameterError", "ScenarioError", "SimulationError", "StoreError"]


class FiresaleError(Exception):
    """Root of every error firesale raises on purpose."""


class ScenarioError(FiresaleError, ValueError):
    """A scenario is invalid.

    ``problems`` holds one line per problem, each ``FILE: key.path: rule, got VALUE``.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class ParameterError(FiresaleError, ValueError):
    """A function argument is invalid (what, where, the rule, the value)."""


class SimulationError(FiresaleError, RuntimeError):
    """A run failed while executing, e.g. a path went non-finite."""


class StoreError(FiresaleError, RuntimeError):
    """The run store cannot be read or written (missing run, newer schema, corrupt catalog)."""
