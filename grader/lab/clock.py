"""Virtual event-loop time for checks.

The grader runs every async check on a looptime event loop: when all tasks are waiting on
timers, the loop's clock jumps to the next timer at once. `asyncio.sleep(2)` costs no wall
time and durations are measured exactly, in loop seconds.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import looptime

from .feedback import fail

T = TypeVar("T")

PROTECTED = frozenset({"time", "call_at", "call_later", "stop"})


@dataclass
class _Record:
    """What the grader keeps about one of its loops, out of the loop's own namespace (which
    `vars(loop)` would hand to anyone)."""

    now: int | None = None
    went_back: bool = False
    replaced: str | None = None
    stopped_at: traceback.StackSummary | None = None


def _keeper() -> Callable[[asyncio.AbstractEventLoop], _Record]:
    records: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Record] = (
        weakref.WeakKeyDictionary()
    )

    def record(loop: asyncio.AbstractEventLoop) -> _Record:
        found = records.get(loop)
        if found is None:
            found = records[loop] = _Record()
        return found

    return record


_record = _keeper()


class GraderLoop(looptime.make_event_loop_class(asyncio.SelectorEventLoop)):  # type: ignore[misc]
    """The grader's own virtual-time loop: made directly (never through an event-loop
    policy a learner could replace), and its clock only ever moves forwards. looptime keeps
    the time in `_LoopTimeEventLoop__now`; here that name is a property that refuses to go
    back and remembers that something tried."""

    def _get_now(self) -> int:
        now = _record(self).now
        if now is None:
            raise AttributeError("now")  # looptime's first setup expects this
        return now

    def _set_now(self, value: int) -> None:
        record = _record(self)
        if record.now is not None and value < record.now:
            record.went_back = True
            return
        record.now = value

    _LoopTimeEventLoop__now = property(_get_now, _set_now)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in PROTECTED:
            _record(self).replaced = name
            return
        super().__setattr__(name, value)

    def stop(self) -> None:
        # run_until_complete stops the loop through a callback when its future is done; a
        # learner's loop.stop() ends a check early instead. The latest call is the one that
        # counts when run_until_complete then complains that the loop stopped.
        _record(self).stopped_at = traceback.extract_stack(sys._getframe(1), limit=30)
        super().stop()


def new_virtual_loop() -> asyncio.AbstractEventLoop:
    # idle_step: when nothing is scheduled at all (a task awaiting a future nobody will set,
    # with no timer), the clock still moves, so the checks' deadlines fire instead of hanging.
    return GraderLoop(start=0.0, idle_step=0.01)


def clock_went_back(loop: asyncio.AbstractEventLoop) -> bool:
    return _record(loop).went_back


def clock_replaced(loop: asyncio.AbstractEventLoop) -> str | None:
    """The name of a part of the loop's clock that something tried to replace."""
    return _record(loop).replaced


def stopped_at(loop: asyncio.AbstractEventLoop) -> traceback.StackSummary | None:
    """Where loop.stop() was called from, if it was."""
    return _record(loop).stopped_at


def now() -> float:
    loop = asyncio.get_running_loop()
    # The class's method, not a `time` the learner may have put on the instance.
    return GraderLoop.time(loop) if isinstance(loop, GraderLoop) else loop.time()


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.elapsed`, in event-loop seconds."""

    def __enter__(self) -> Stopwatch:
        self.start = now()
        self.elapsed = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = round(now() - self.start, 4)


async def within(seconds: float, awaitable: Awaitable[T], call: str, *, hint: str = "") -> T:
    """Await a learner's call, but give up after `seconds` of loop time with a clear message."""
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await awaitable
    except TimeoutError:
        if not deadline.expired():
            raise  # the learner's own code raised TimeoutError: report it as such
    fail(
        f"{call} had not finished after {seconds:g} s of event-loop time",
        expected="it finishes",
        got="still waiting: it awaits something that never happens, or waits far too long",
        hint=hint
        or "Look for a wait that nothing will ever end, such as a semaphore of 0 "
        "or an event that nobody sets.",
    )


async def timed(
    seconds: float, awaitable: Awaitable[T], call: str, *, hint: str = ""
) -> tuple[T, float]:
    """Like `within`, and also return how many loop seconds the call took."""
    with Stopwatch() as sw:
        result: Any = await within(seconds, awaitable, call, hint=hint)
    return result, sw.elapsed
