"""Virtual event-loop time for checks.

The grader runs every async check on a looptime event loop: when all tasks are waiting on
timers, the loop's clock jumps to the next timer at once. `asyncio.sleep(2)` costs no wall
time and durations are measured exactly, in loop seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import looptime

from .feedback import fail

T = TypeVar("T")


def new_virtual_loop() -> asyncio.AbstractEventLoop:
    # idle_step: when nothing is scheduled at all (a task awaiting a future nobody will set,
    # with no timer), the clock still moves, so the checks' deadlines fire instead of hanging.
    return looptime.new_event_loop(start=0.0, idle_step=0.01)


def now() -> float:
    return asyncio.get_running_loop().time()


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
