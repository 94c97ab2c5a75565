"""Threads and processes as a check sees them (chapter 13): where a blocking call really ran,
whether the event loop kept running meanwhile, and the pools a learner's code made.

Work in threads and processes takes real time, which the virtual clock cannot skip. While a
future of `loop.run_in_executor` is pending, looptime moves its clock in small real-time
steps; a future it does not know of (`asyncio.wrap_future(pool.submit(...))`) would let it
jump to the next timer at once. The checks run such work inside grader.lab.realtime's
`real_time()`, which keeps one known future pending for the whole block, so every wait
inside it is real, whatever tool the learner chose.

Whether the loop stayed free is never judged by a wall-clock margin: a stand-in for the
blocking call (`BlockingSpy`) waits in its thread until the check, running on the loop, lets
it go. On a free loop that takes a few milliseconds on any machine, however busy; on a
blocked loop it cannot happen at all, and the stand-in gives up after GATE_SECONDS and notes
where the loop thread was stuck.

    spy = BlockingSpy(learner)
    learner.patch("blocking_task", spy)
    async with real_time():
        task = asyncio.ensure_future(run_blocking(7))
        await spy.wait_inside(1, task)     # blocking_task has started in some thread
        spy.release()                      # the loop ran the check: it was free
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import sys
import threading
import time
from collections.abc import Awaitable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, process
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from ..explain import source_line

# Real seconds a stand-in waits for the loop to let it go. A free loop does it within
# milliseconds even on a loaded machine; only a blocked loop ever reaches this.
GATE_SECONDS = 1.5
# Real seconds a check waits for blocking calls to start in threads.
START_SECONDS = 3.0

# The first pickling of an object of a class caches `__slotnames__` on the class (copyreg).
# A process pool pickles a _CallItem per call: done once here, when the checks are loaded,
# the grader's integrity snapshot records the class as every later check leaves it.
pickle.dumps(process._CallItem(0, abs, (1,), {}))


class Ticker:
    """A task that counts every 0.01 s of loop time: it ticks only while the loop is free.
    Given the learner, a watcher thread also notes the learner's line where the loop's
    thread was when the ticks stopped for STALL_SECONDS (real time)."""

    STALL_SECONDS = 0.1

    def __init__(self, learner: Any = None) -> None:
        self.learner = learner
        self.ticks = 0
        self.stuck: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopped = threading.Event()

    def start(self) -> Ticker:
        self.task = asyncio.get_running_loop().create_task(self._run())
        if self.learner is not None:
            loop_thread = threading.get_ident()
            threading.Thread(target=self._watch, args=(loop_thread,), daemon=True).start()
        return self

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    def _watch(self, loop_thread: int) -> None:
        seen, since = self.ticks, time.monotonic()
        while not self.stopped.wait(0.02):
            if self.ticks != seen:
                seen, since = self.ticks, time.monotonic()
            elif self.stuck is None and time.monotonic() - since > self.STALL_SECONDS:
                self.stuck = stuck_in(loop_thread, self.learner)

    async def stop(self) -> int:
        self.stopped.set()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        return self.ticks


def learner_line(frame: FrameType | None, learner: Any) -> str | None:
    """`relpath, line N: code` for the innermost frame of the learner's file on a stack."""
    target = str(learner.path)
    while frame is not None:
        if frame.f_code.co_filename == target:
            line = source_line(learner.path, frame.f_lineno)
            return f"{learner.relpath}, line {frame.f_lineno}" + (f": {line}" if line else "")
        frame = frame.f_back
    return None


def stuck_in(thread: int, learner: Any, samples: int = 5) -> str | None:
    """The learner's line where `thread` is stuck: the same line in every one of a few
    samples, 10 ms apart. None when the thread moves on or waits outside the learner's code
    (a free loop waits in its selector, where no frame of the learner is on the stack)."""
    seen = set()
    for sample in range(samples):
        if sample:
            time.sleep(0.01)
        seen.add(learner_line(sys._current_frames().get(thread), learner))
        if len(seen) > 1 or None in seen:
            return None
    return seen.pop()


def on_a_loop_thread() -> bool:
    """Whether an event loop is running in this thread: a call made here blocks it."""
    return asyncio._get_running_loop() is not None


@dataclass
class Call:
    n: Any
    thread: threading.Thread
    on_loop: bool
    where: str | None = None  # the learner's line that made the call, when on the loop


class BlockingSpy:
    """Stands in for a blocking function such as blocking_task(n) -> n * n. A call made on
    the loop's thread is noted with the learner's line and returns at once. A call made in
    another thread waits until `release()` (when `hold`), or for `seconds` of real time."""

    def __init__(self, learner: Any, *, hold: bool = True, seconds: float = 0.0) -> None:
        self.learner = learner
        self.hold = hold
        self.seconds = seconds
        self.loop_thread = threading.get_ident()
        self.calls: list[Call] = []
        self.inside = 0
        self.peak = 0
        self.gate = threading.Event()
        self.lock = threading.Lock()
        # Where the loop's thread was when a held call gave up waiting for it.
        self.loop_stuck: str | None = None
        self.gave_up = False

    def __call__(self, n: Any) -> Any:
        thread = threading.current_thread()
        if on_a_loop_thread():
            where = learner_line(sys._getframe(1), self.learner)
            with self.lock:
                self.calls.append(Call(n, thread, True, where))
            return n * n
        with self.lock:
            self.calls.append(Call(n, thread, False))
            self.inside += 1
            self.peak = max(self.peak, self.inside)
        try:
            if self.hold:
                if not self.gate.wait(GATE_SECONDS):
                    self._give_up()
            elif self.seconds:
                time.sleep(self.seconds)
        finally:
            with self.lock:
                self.inside -= 1
        return n * n

    def _give_up(self) -> None:
        """Nothing let us go in time. Note where the loop's thread is, if it is stuck in
        the learner's code, and let every other call through: a blocked loop costs
        GATE_SECONDS once, not per call."""
        with self.lock:
            if not self.gave_up:
                self.gave_up = True
                self.loop_stuck = stuck_in(self.loop_thread, self.learner)
        self.gate.set()

    def release(self) -> None:
        self.gate.set()

    @property
    def on_loop(self) -> list[Call]:
        return [c for c in self.calls if c.on_loop]

    async def wait_inside(
        self, count: int, *pending: Awaitable[Any], seconds: float = START_SECONDS
    ) -> bool:
        """Wait (on the loop) until `count` calls are inside at once; False if the pending
        work finished first or the time ran out. Needs grader.lab.realtime.real_time()."""
        deadline = time.monotonic() + seconds
        while self.inside < count and time.monotonic() < deadline and not self.gave_up:
            if pending and all(asyncio.ensure_future(p).done() for p in pending):
                return False
            await asyncio.sleep(0.005)
        return self.inside >= count and not self.gave_up


# --- processes ---------------------------------------------------------------------------

# Calls of cpu_probe made in this process (not in a worker process), in order.
PROBE_CALLS: list[Call] = []
SLOW_FROM = 1000  # cpu_probe(n) for n >= SLOW_FROM takes PROBE_SLOW real seconds in a worker
PROBE_SLOW, PROBE_FAST = 0.3, 0.02


def sum_of_squares(n: int) -> int:
    """What the chapter's cpu_heavy(n) computes."""
    return sum(i * i for i in range(n))


def cpu_probe(n: int) -> int:
    """A stand-in for cpu_heavy that a process pool can run: a top-level function, found
    by its name in a worker whatever the start method. Off the loop's thread it takes real
    time, longer for big n (so results come back out of order); calls made in the grader's
    own process (on the loop, or in a thread) are noted in PROBE_CALLS."""
    on_loop = on_a_loop_thread()
    if multiprocessing.parent_process() is None:
        where = learner_line(sys._getframe(1), _PROBED[0]) if on_loop and _PROBED else None
        PROBE_CALLS.append(Call(n, threading.current_thread(), on_loop, where))
    if not on_loop:
        time.sleep(PROBE_SLOW if n >= SLOW_FROM else PROBE_FAST)
    return sum_of_squares(n)


# The learner whose calls cpu_probe notes (set by `probing`; a list, changed in place).
_PROBED: list[Any] = []


@contextmanager
def probing(learner: Any) -> Iterator[list[Call]]:
    """cpu_probe's calls in this process while the block runs."""
    PROBE_CALLS.clear()
    _PROBED[:] = [learner]
    try:
        yield PROBE_CALLS
    finally:
        _PROBED.clear()


@dataclass
class PoolLog:
    """The pools made and used while `recording_pools()` runs. `phase` is set by the check
    ("create_app", "serving", "stopping"...) and stamped on every event."""

    phase: str = ""
    thread_pools: list[tuple[ThreadPoolExecutor, str]] = field(default_factory=list)
    shutdowns: list[tuple[Executor, str]] = field(default_factory=list)
    process_pools: list[ProcessPoolExecutor] = field(default_factory=list)
    process_submissions: list[tuple[Any, tuple[Any, ...]]] = field(default_factory=list)

    def made_in(self, phase: str) -> list[ThreadPoolExecutor]:
        return [pool for pool, when in self.thread_pools if when == phase]

    def shut_down(self, pool: Executor) -> list[str]:
        """The phases in which `pool.shutdown()` was called."""
        return [when for p, when in self.shutdowns if p is pool]


def is_learners(pool: ThreadPoolExecutor) -> bool:
    """Not asyncio's default executor, nor the grader's own (grader.lab.realtime's)."""
    prefix = str(getattr(pool, "_thread_name_prefix", ""))
    return prefix != "asyncio" and not prefix.startswith("grader-")


@contextmanager
def recording_pools() -> Iterator[PoolLog]:
    """Every ThreadPoolExecutor made and shut down, and every call handed to a
    ProcessPoolExecutor, while the block runs (asyncio's default executor left out).

    Every check that runs process pools does so inside this block, for a second reason: a
    worker started with "spawn" or "forkserver" gets its start data through a pipe that
    multiprocessing opens for writing, and the sandbox's audit hook refuses that when the
    learner's file is the first frame it meets (pool.submit or pool.map called directly;
    looptime's run_in_executor happens to be a trusted frame). The recording submit below
    is a frame of the grader, so it is never the learner's file that starts a worker."""
    log = PoolLog()
    thread_init, thread_shutdown = ThreadPoolExecutor.__init__, ThreadPoolExecutor.shutdown
    process_init, process_submit = ProcessPoolExecutor.__init__, ProcessPoolExecutor.submit

    def init(self: ThreadPoolExecutor, *args: Any, **kwargs: Any) -> None:
        thread_init(self, *args, **kwargs)
        if is_learners(self):
            log.thread_pools.append((self, log.phase))

    def shutdown(self: ThreadPoolExecutor, *args: Any, **kwargs: Any) -> None:
        if is_learners(self):
            log.shutdowns.append((self, log.phase))
        thread_shutdown(self, *args, **kwargs)

    def process_pool_init(self: ProcessPoolExecutor, *args: Any, **kwargs: Any) -> None:
        process_init(self, *args, **kwargs)
        log.process_pools.append(self)

    def submit(self: ProcessPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        log.process_submissions.append((fn, args))
        return process_submit(self, fn, *args, **kwargs)

    ThreadPoolExecutor.__init__ = init  # type: ignore[method-assign]
    ThreadPoolExecutor.shutdown = shutdown  # type: ignore[method-assign,assignment]
    ProcessPoolExecutor.__init__ = process_pool_init  # type: ignore[method-assign]
    ProcessPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]
    try:
        yield log
    finally:
        ThreadPoolExecutor.__init__ = thread_init  # type: ignore[method-assign]
        ThreadPoolExecutor.shutdown = thread_shutdown  # type: ignore[method-assign]
        ProcessPoolExecutor.__init__ = process_init  # type: ignore[method-assign]
        ProcessPoolExecutor.submit = process_submit  # type: ignore[method-assign]


def warm_forkserver() -> None:
    """Start the "forkserver" start method's server now, with quart imported once in it:
    workers forked from it later start at once instead of each importing quart. A check
    that uses another start method calls this first, so the server gets ready meanwhile."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(["quart"])
    forkserver.ensure_running()


@contextmanager
def start_method(method: str) -> Iterator[None]:
    """Process pools made without an explicit context start their workers with `method`."""
    previous = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(method, force=True)
    try:
        yield
    finally:
        multiprocessing.set_start_method(previous, force=True)
