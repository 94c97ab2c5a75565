"""Blocking-call detection that blames the learner only for their own blocking calls.

blockbuster wraps the blocking functions (time.sleep, file and socket I/O...) and, by
default, reports a call when the learner's file is anywhere on the stack. That blames the
learner for what a framework does inside a call they made correctly: `Quart(__name__)`
inspects paths, `httpx.AsyncClient()` reads certificates. So the stack is read from the
blocking call outwards instead: a frame of a trusted package first means the framework
chose to block (allowed); a frame of the learner's file first means the learner's code
blocked, directly or through a blocking library such as `requests` or a sync `httpx.Client`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import blockbuster.blockbuster as bb

T = TypeVar("T")


class BlockedLoop(Exception):
    """The learner's code blocked the loop, even if something (a web framework turning the
    error into a 500 response) swallowed the BlockingError raised at the time."""

    def __init__(self, call: str, lineno: int) -> None:
        super().__init__(f"Blocking call to {call}")
        self.call = call
        self.lineno = lineno


# Packages trusted to block on purpose (setup work, logging, the grader and test tools),
# each with the files it may block from (None: anywhere in the package).
TRUSTED: dict[str, set[str] | None] = {
    "quart": None,
    "werkzeug": None,
    "hypercorn": None,
    "flask": None,
    "jinja2": None,
    "blinker": None,
    "markupsafe": None,
    "itsdangerous": None,
    "asyncpg": None,
    "aiomcache": None,
    "anyio": None,
    "h11": None,
    "h2": None,
    "certifi": None,
    "httpx": {"_config.py"},  # builds the SSL context (reads CA files) when a client is made
    "grader": None,
    "looptime": None,
    "blockbuster": None,
    "_pytest": None,
    "pytest": None,
    "pluggy": None,
    "logging": None,
    "importlib": None,
    "linecache": None,
    "traceback": None,
    "inspect": None,
    "tokenize": None,
    # Starting a process pool reads the working folder; the pool's work is off the loop.
    "concurrent": None,
    "multiprocessing": None,
}


def trusted_paths() -> list[tuple[str, set[str] | None]]:
    found = []
    for name, files in TRUSTED.items():
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        folder = Path(spec.origin).parent if spec.submodule_search_locations else Path(spec.origin)
        found.append((str(folder), files))
    return found


class LearnerBlockBuster:
    """Detects blocking calls made, directly or through blocking libraries, by one file."""

    def __init__(self, learner_file: Path) -> None:
        self.learner = str(learner_file.resolve())
        self.violations: list[BlockedLoop] = []
        self.trusted = trusted_paths()
        self.skip = threading.local()
        self.buster = bb.BlockBuster()

    def activate(self) -> None:
        # blockbuster wraps each function when it is activated, through this module-level
        # name: our wrapper stands in for the duration of the call only.
        original = bb._wrap_blocking
        bb._wrap_blocking = self.wrap
        try:
            self.buster.activate()
        finally:
            bb._wrap_blocking = original

    def deactivate(self) -> None:
        self.buster.deactivate()

    def blame(self, frame: Any, can_block: Sequence[tuple[str, Iterable[str]]]) -> int | None:
        """The learner's line, if the learner's file is the first frame out from the call
        that is neither neutral (the standard library, other libraries) nor trusted."""
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename == self.learner:
                return int(frame.f_lineno)
            normalized = filename.replace("\\", "/")
            for suffix, functions in can_block:
                if normalized.endswith(suffix) and frame.f_code.co_name in functions:
                    return None  # a spot blockbuster itself knows to be harmless
            for folder, files in self.trusted:
                if filename.startswith(folder) and (files is None or Path(filename).name in files):
                    return None
            frame = frame.f_back
        return None

    def wrap(
        self,
        modules: Sequence[str],
        excluded_modules: Sequence[str],
        func: Callable[..., T],
        func_name: str,
        can_block_functions: list[tuple[str, Iterable[str]]],
        can_block_predicate: Callable[..., bool],
    ) -> Callable[..., T]:
        def wrapper(*args: Any, **kwargs: Any) -> T:
            if getattr(self.skip, "value", False):
                return func(*args, **kwargs)
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return func(*args, **kwargs)  # not on an event loop's thread: fine
            self.skip.value = True
            try:
                caller = inspect.currentframe()
                line = None
                if not can_block_predicate(*args, **kwargs):
                    line = self.blame(caller.f_back if caller else None, can_block_functions)
            finally:
                self.skip.value = False
            if line is not None:
                self.violations.append(BlockedLoop(func_name, line))
                raise bb.BlockingError(func_name)
            return func(*args, **kwargs)

        return wrapper
