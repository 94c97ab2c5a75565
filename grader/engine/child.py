"""The process that runs a learner's code: `python -I -B -m grader.engine.child`.

It is started and watched by grader.engine.launcher. Its configuration, with the key that
signs its events, arrives as one JSON line on stdin (never in argv, the environment or a
file); stdin is then closed. The sandbox is in place before the learner's file is imported:
the audit hook, the learner module's own import guard, and a sys.path without the course
folder (so `solutions` cannot be imported from it).

Imported as `__mp_main__` (a process-pool worker started with "spawn" or "forkserver"
imports the parent's main module), it installs the same audit hook before the worker
unpickles anything of the learner's.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from .policy import Policy, install

WORKER_POLICY = "GRADER_SANDBOX_POLICY"
# pytest's own plugins that checks never use: each costs start-up time, and two of them
# (unraisableexception, threadexception) run gc.collect() again and again at the end.
UNUSED_PLUGINS = (
    "cacheprovider", "stepwise", "unraisableexception", "threadexception", "doctest",
    "junitxml", "pastebin", "legacypath", "tmpdir", "monkeypatch", "recwarn", "setuponly",
    "setupplan", "debugging", "faulthandler", "logging", "warnings",
)  # fmt: skip
INI = Path(__file__).resolve().parent.parent / "checks" / "pytest.ini"


def read_config() -> dict[str, Any]:
    # From the descriptor itself, not sys.stdin: a child forked from a warm worker shares
    # that object (and whatever it buffered) with the worker.
    with os.fdopen(os.dup(0), "rb") as stdin:
        line = stdin.readline()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    config: dict[str, Any] = json.loads(line)
    return config


def isolate_path(course_root: str, lib: str) -> None:
    """The course folder leaves sys.path (an editable install puts it there, and with it
    `solutions/`); `lib` holds only the grader package, for process-pool workers."""
    root = os.path.realpath(course_root)
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != root]
    sys.path.insert(0, lib)


def main() -> int:
    config = read_config()
    # Limits and the tie to the supervisor come first: nothing of the learner's has run.
    from .limits import ResourceLimits
    from .processes import die_with_parent

    ResourceLimits(**config["resources"]).apply(own_user=bool(config["own_user"]))
    die_with_parent(int(config["parent"]))
    key = bytes.fromhex(config.pop("key"))
    from .channel import make_writer

    write = make_writer(int(config["events_fd"]), key)
    del key
    # On SIGUSR1 the supervisor gets a stack dump: it names the learner's line that hangs,
    # in whichever thread it hangs (a check may call the learner's code from a thread).
    faulthandler.register(signal.SIGUSR1, file=int(config["stacks_fd"]), all_threads=True)
    # And on a crash (a segmentation fault from runaway recursion, an abort): the dump then
    # names the learner's line the process died on.
    faulthandler.enable(file=int(config["stacks_fd"]), all_threads=True)

    import pytest

    from .plugin import GraderPlugin

    for module in config.get("preload", ()):
        __import__(module)  # heavy libraries the learner's file imports: not its import time
    policy = Policy.from_dict(config["policy"])
    os.environ[WORKER_POLICY] = json.dumps(policy.as_dict())

    def seal() -> None:
        # Collection has imported the checks (and may have put the course folder on
        # sys.path); the learner's file is imported right after this.
        isolate_path(config["course_root"], config["lib"])
        if config["sandbox"]:
            install(policy)

    plugin = GraderPlugin(config, policy, write, seal=seal)
    args = [
        *config["targets"],
        "-c",
        str(INI),
        "--rootdir",
        str(INI.parent),
        "-q",
        "-s",
        # importlib: pytest imports the checks without putting the course folder on
        # sys.path (prepend would, for grader/checks/__init__.py, at the first check).
        "--import-mode=importlib",
        *(word for plugin in UNUSED_PLUGINS for word in ("-p", f"no:{plugin}")),
    ]
    return int(pytest.main(args, plugins=[plugin]))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Straight out: no atexit handler of the learner's runs after the last result, and no
    # thread or process pool it left behind is waited for (the supervisor kills those).
    os._exit(code)
elif __name__ == "__mp_main__" and os.environ.get(WORKER_POLICY):
    install(Policy.from_dict(json.loads(os.environ[WORKER_POLICY])))
