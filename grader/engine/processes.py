"""Every process a learner's code starts ends with the check.

The supervisor becomes a "child subreaper" (Linux): a process that a learner's code detaches
(double fork, setsid) is re-parented to the supervisor instead of to init, so after each
child the supervisor can find and kill whatever is left of it. Where the child runs under a
user of its own (the grader ran as root), everything of that user is killed too.
Elsewhere (macOS) the child's process group is killed, which catches all but detached
processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
_libc: ctypes.CDLL | None = None
_reaper = False


def _prctl(option: int, value: int) -> bool:
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(_libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Once per process; True when orphans of our children now come back to us."""
    global _reaper
    if not _reaper:
        _reaper = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    return _reaper


def die_with_parent(parent: int) -> None:
    """In the child, first thing: SIGKILL when the supervisor dies. (Set after the change
    of user, which would clear it.)"""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the supervisor died before the line above
        os._exit(1)


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process we can see (Linux /proc)."""
    table: dict[int, int] = {}
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1:
            table[int(entry.name)] = int(fields[1])
    return table


def descendants(root: int, parents: dict[int, int] | None = None) -> set[int]:
    table = parents if parents is not None else _parents()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def sweep(keep: set[int]) -> int:
    """Kill every descendant of this process that is not in `keep` (nor below one of them),
    reap what can be reaped, repeat until none is left. Returns how many were killed."""
    if not _reaper:
        return 0
    me = os.getpid()
    killed = 0
    for _ in range(100):
        table = _parents()
        protected = set(keep)
        for pid in keep:
            protected |= descendants(pid, table)
        doomed = descendants(me, table) - protected
        if not doomed:
            break
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            killed += 1
        for pid in doomed:
            if table.get(pid) == me:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, 0)
    return killed


def kill_user(uid: int) -> None:
    """Kill every process of `uid` (a user of the sandbox's own): from a forked helper that
    takes that user and signals all it may signal (kill(-1) spares the sender)."""
    if os.geteuid() != 0:
        return
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked helper
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:  # noqa: BLE001  (the helper must only ever exit)
            os._exit(1)
        os._exit(0)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
