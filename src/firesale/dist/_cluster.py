"""Dask clients: a local cluster of single-threaded worker processes, or an existing scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from firesale.exceptions import ParameterError

__all__ = ["connect", "dask_client"]


def connect(address: str, *, timeout_s: float = 10.0) -> Any:
    """A ``distributed.Client`` on the scheduler at ``address``, or ParameterError if it cannot be reached.

    Parameters
    ----------
    address : str
        Scheduler address, e.g. ``"tcp://10.0.0.5:8786"``.
    timeout_s : float, default 10
        How long to wait for the scheduler.

    Raises
    ------
    ParameterError
        If the address is malformed or nothing answers there within ``timeout_s``.
    """
    from distributed import Client

    if not isinstance(address, str) or not address:
        raise ParameterError(
            f"The 'scheduler' parameter of connect must be a scheduler address such as 'tcp://host:8786'. "
            f"Got {address!r} instead."
        )
    try:
        return Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParameterError(
            f"The 'scheduler' parameter of connect must be the address of a reachable Dask scheduler. Got "
            f"{address!r} instead, which did not answer within {timeout_s:g} s ({type(exc).__name__}: {exc}). "
            "Start one with `dask scheduler` or use --workers N for a local cluster."
        ) from exc


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask client for the duration of a ``with`` block, or None when neither option is given.

    ``workers`` starts a local cluster of that many worker processes with one thread each (the engine's numba
    kernels are single-threaded, so one thread per process is one core per worker); ``scheduler`` connects to an
    existing cluster. Both closed on exit.
    """
    if workers is not None and scheduler is not None:
        raise ParameterError(
            "The 'workers' and 'scheduler' parameters of dask_client are alternatives: give one. Got both."
        )
    if workers is None and scheduler is None:
        yield None
        return
    if scheduler is not None:
        client = connect(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError(
            f"The 'workers' parameter of dask_client must be an int in the range [1, inf). Got {workers!r} instead."
        )
    from distributed import Client, LocalCluster

    # One thread per worker all the way down: numba's parallel kernels and BLAS would otherwise start a thread
    # per core in every worker process and the workers would fight over the cores.
    single = dict.fromkeys(
        ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1"
    )
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=single
    )
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
