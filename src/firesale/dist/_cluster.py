"""Dask clients: a local cluster of single-threaded worker processes, or an existing scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from firesale.exceptions import ParameterError

__all__ = ["connect", "dask_client"]

#: Dask settings for a local cluster (its scheduler, nannies and workers), against distributed's defaults. Each
#: worker's statistical profiler samples the task thread's stack every 10 ms (the engine's stacks are deep) and
#: every process wakes 50 times a second for its event-loop tick and 10 times for the memory monitor: measured on
#: the flagship (benchmarks/test_bench_dist.py), the worker processes' CPU outside the tasks fell from about 2.0 to
#: 1.0 s and the client's from 0.7 to 0.3 s for a two-task 2,048-path run (loaded machine), CPU a 2-core machine
#: takes from the workers; idle, a worker process's CPU fell from 0.035 to 0.004 s per second. The profile feeds
#: only Dask's dashboard; a 1 s memory monitor still stops a worker long before it runs out (chunks are bounded by
#: estimate_memory). The config must be set after distributed is imported, or leaving the block drops its defaults.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


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
    kernels are single-threaded, so one thread per process is one core per worker), its scheduler's HTTP server
    on a free port (without bokeh it serves no dashboard) and :data:`LOCAL_CLUSTER_CONFIG` (no worker profiler,
    slower housekeeping ticks); ``scheduler`` connects to an existing cluster, configured as its operator set it.
    Both closed on exit.
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
    import dask.config
    from distributed import Client, LocalCluster

    # One thread per worker all the way down: numba's parallel kernels and BLAS would otherwise start a thread
    # per core in every worker process and the workers would fight over the cores.
    single = dict.fromkeys(
        ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1"
    )
    # The nannies hand the worker processes the configuration in force when they are made, and the scheduler's and
    # nannies' periodic callbacks are set up then too: setting it around the construction is enough.
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=single
        )
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
