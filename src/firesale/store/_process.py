"""Who is writing a run, and is that writer still alive?

A run's catalog row says "running" from :meth:`RunStore.start` until :meth:`RunStore.finish` or
:meth:`RunStore.mark`. If the writer dies in between (SIGKILL, power loss, out of memory), nobody updates the row,
so readers decide at read time: the row records the writer's pid, hostname and process start time, and a row whose
writer no longer exists is shown as "incomplete". The start time guards against pid reuse: a new process that
happens to get the same pid has a different start time.

On Linux the start time is ``starttime`` (field 22) of ``/proc/<pid>/stat`` in clock ticks since boot, qualified by
the boot id so that a reboot cannot make an old row look alive. Where ``/proc`` is absent the pid alone is checked.
A writer on another host cannot be checked from here and is reported as alive.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["WriterIdentity", "current_writer", "writer_is_alive"]

_PROC = Path("/proc")
# Index of ``starttime`` (field 22 of proc_pid_stat(5)) among the fields after the ")" closing the command name.
_STARTTIME_INDEX = 19
_DEAD_STATES = frozenset({"Z", "X", "x"})

WriterIdentity = tuple[int, str, str | None]


def _boot_id() -> str:
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


def _proc_state_and_start(pid: int) -> tuple[str, str] | None:
    """Return ``(state, start token)`` of ``pid`` from ``/proc``, or None if it has no entry."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name may itself contain spaces and parentheses; everything after the last ")" is well formed.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], f"{_boot_id()}:{fields[_STARTTIME_INDEX]}"


def _have_proc() -> bool:
    return (_PROC / "self" / "stat").is_file()


def current_writer() -> WriterIdentity:
    """Return ``(pid, hostname, start token)`` of this process; the token is None without ``/proc``."""
    pid = os.getpid()
    info = _proc_state_and_start(pid) if _have_proc() else None
    return pid, socket.gethostname(), None if info is None else info[1]


def writer_is_alive(pid: int, hostname: str, start_token: str | None) -> bool:
    """Return whether the process recorded as a run's writer still exists.

    Parameters
    ----------
    pid : int
        The writer's process id.
    hostname : str
        The writer's host name; a writer on another host is assumed alive (it cannot be checked from here).
    start_token : str or None
        The writer's start token from :func:`current_writer`, or None if it was not available.
    """
    if hostname != socket.gethostname():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # the pid exists but belongs to another user
    except OverflowError:
        return False
    if not _have_proc():
        return True
    info = _proc_state_and_start(pid)
    if info is None:
        return False  # exited between the two checks
    state, token = info
    if state in _DEAD_STATES:
        return False  # a zombie: killed but not yet reaped by its parent
    return start_token is None or token == start_token
