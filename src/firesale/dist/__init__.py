"""Distributed execution: the same path-block tasks on a Dask cluster, resumable from the run store.

:func:`run_simulation` runs one scenario in chunks of path blocks (in this process, or on the cluster of a
``distributed.Client``), writing each finished chunk to the run store so a killed run resumes where it stopped;
:func:`dask_client` gives a client for ``--workers N`` (a local cluster, one thread per worker process) or
``--scheduler ADDRESS``. Results are bit-identical to :func:`firesale.simulate` whatever the worker count.
"""

from firesale.dist._cluster import connect, dask_client
from firesale.dist._runner import run_simulation

__all__ = ["connect", "dask_client", "run_simulation"]
