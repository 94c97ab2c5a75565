"""Resource limits for the child and the user it runs as.

Limits come from course.toml's [course] table (memory_mb, cpu_seconds, file_mb, processes);
they bound what one chapter's child, and everything it starts, may take. Where the grader
runs as root, the child runs as a user of its own (a uid from a range, held with a lock so
that parallel graders never share one): it cannot write the course, signal the grader, or
outlive the check unnoticed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import resource
import stat
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

UID_RANGE = range(61_000, 62_000)
LOCKS = Path("/tmp/grader-sandbox-users")


@dataclass(frozen=True)
class ResourceLimits:
    memory_mb: int = 2048
    cpu_seconds: int = 300
    file_mb: int = 16
    processes: int = 256  # counted per user, so only applied under a user of its own
    open_files: int = 1024

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))

    def apply(self, *, own_user: bool) -> None:
        """In the child, before anything of the learner's runs."""
        pairs = [
            (resource.RLIMIT_AS, self.memory_mb * 2**20),
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_FSIZE, self.file_mb * 2**20),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_CORE, 0),
        ]
        if own_user:
            pairs.append((resource.RLIMIT_NPROC, self.processes))
        for which, value in pairs:
            soft, hard = resource.getrlimit(which)
            ceiling = value if hard == resource.RLIM_INFINITY else min(value, hard)
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(which, (ceiling, ceiling))


def readable_by_others(paths: list[Path]) -> Path | None:
    """The first path (or folder on the way to it) that a user with no groups of ours
    could not read or enter; None when all can be."""
    for path in paths:
        try:
            target = path.resolve()
        except OSError:
            return path
        for folder in [*reversed(target.parents), target]:
            try:
                mode = folder.stat().st_mode
            except OSError:
                return folder
            needed = stat.S_IXOTH if folder.is_dir() else stat.S_IROTH
            if folder.is_dir() and folder == target:
                needed |= stat.S_IROTH
            if not mode & needed:
                return folder
    return None


def interpreter_paths() -> list[Path]:
    paths = {sys.executable, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]}
    paths.add(sysconfig.get_paths()["platlib"])
    return [Path(p) for p in sorted(paths)]


@contextlib.contextmanager
def sandbox_user() -> Iterator[int | None]:
    """A uid of the sandbox's own while the block runs, or None when not running as root."""
    if os.geteuid() != 0:
        yield None
        return
    LOCKS.mkdir(mode=0o700, exist_ok=True)
    candidates = list(UID_RANGE)
    random.shuffle(candidates)
    for uid in candidates:
        handle = (LOCKS / f"{uid}.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        try:
            yield uid
        finally:
            handle.close()
        return
    yield None  # every uid taken: run unprivileged is impossible, say so upstream
