"""An advisory file lock (``fcntl.flock``) that serialises access to the run store's catalog.

DuckDB lets one process at a time open a database file for writing, and refuses (rather than waits) when another
process holds it. Every catalog connection is therefore taken under this lock: writers exclusively, readers shared,
so concurrent firesale processes queue instead of failing. The kernel drops a ``flock`` when its holder dies, so a
writer killed with SIGKILL never leaves the store locked.
"""

from __future__ import annotations

import fcntl
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from firesale.exceptions import StoreError

__all__ = ["file_lock"]

# Waiters poll at a short, jittered interval rather than backing off: with backoff, the longest waiter would
# poll least often and lose the lock to newcomers. Catalog operations hold the lock for tens of milliseconds.
_POLL_S = (0.001, 0.006)


@contextmanager
def file_lock(path: Path, *, exclusive: bool, timeout_s: float) -> Iterator[None]:
    """Hold a ``flock`` on ``path`` (created if missing) for the duration of the ``with`` block.

    Parameters
    ----------
    path : Path
        The lock file. Its content is never used; only the lock on it matters.
    exclusive : bool
        True for a writer's exclusive lock, False for a reader's shared lock.
    timeout_s : float
        Give up with a :class:`~firesale.exceptions.StoreError` after waiting this long.

    Raises
    ------
    StoreError
        If the lock file cannot be opened or the lock is not granted within ``timeout_s``.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        # A read-only store (e.g. a shared archive) can still take shared locks through a read-only descriptor.
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise StoreError(
                f"Cannot open the run store lock file {path}: {exc}. Check the directory's permissions."
            ) from exc
    except OSError as exc:
        raise StoreError(
            f"Cannot open the run store lock file {path}: {exc}. Check that the store directory exists "
            "and is writable."
        ) from exc
    try:
        operation = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout_s
        # Polling with LOCK_NB (rather than a blocking flock) is what makes the timeout possible without signals.
        while True:
            try:
                fcntl.flock(fd, operation)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"Timed out after {timeout_s:g} s waiting for the run store lock {path}: another "
                        "firesale process is holding it. Wait for that process to finish and try again."
                    ) from None
                time.sleep(random.uniform(*_POLL_S))
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
