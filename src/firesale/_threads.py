"""One thread for small calls: the serial twin of a parallel Numba kernel, for calls too small for a second thread.

Numba's OpenMP workers sleep between parallel regions (``OMP_WAIT_POLICY=PASSIVE``, set in ``firesale/__init__.py``
so that idle workers do not spin on a busy machine), and waking them costs tens of microseconds a region, measured
about 80 µs on two cores. Most calls in a step do less work than that in all: a swap on the few paths whose pool
is off the market, the candidates of a quiet round. Such calls run the same code on the calling thread; the caller
picks the twin by the call's work (a count it already has), against a threshold measured per kernel.

A twin is compiled from a copy of the kernel's function under its own name, so that Numba's on-disk cache, whose
key holds the function's name and bytecode but not the ``parallel`` flag, keeps the two apart.
"""

from __future__ import annotations

import types
from typing import Any

import numba

__all__ = ["serial_twin"]


def serial_twin(kernel: Any, **options: Any) -> Any:
    """The serial twin of ``kernel`` (a dispatcher made by ``numba.njit(parallel=True, ...)``): the same function,
    compiled with ``options`` and without ``parallel`` (``prange`` is then ``range``), cached under
    ``<name>_serial``. Results are the kernel's: each path's work is the same operations in the same order."""
    f = kernel.py_func
    twin = types.FunctionType(
        f.__code__, f.__globals__, f"{f.__name__}_serial", f.__defaults__, f.__closure__
    )
    twin.__qualname__ = f"{f.__qualname__}_serial"
    twin.__module__ = f.__module__
    twin.__doc__ = f.__doc__
    return numba.njit(**options)(twin)
