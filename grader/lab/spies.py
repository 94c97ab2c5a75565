"""Recording stand-ins handed to the learner's code: they note when they start, finish or
are cancelled, and how many run at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


class JobError(Exception):
    """The failure a failing job raises, so a check can tell it from anything else."""


@dataclass
class JobRecord:
    label: str
    delay: float
    started: float | None = None
    ended: float | None = None
    outcome: str = "not started"  # "done", "failed", "cancelled", "running"
    runs: int = 0  # how many times the job was started (more than once: a factory mix-up)

    @property
    def finished(self) -> bool:
        return self.outcome in ("done", "failed", "cancelled")


class JobBoard:
    """Makes zero-argument factories of awaitables and records every run."""

    def __init__(self) -> None:
        self.records: list[JobRecord] = []
        self.running = 0
        self.peak = 0

    def job(
        self, delay: float, result: Any = None, *, fails: bool = False, label: str = ""
    ) -> Callable[[], Awaitable[Any]]:
        record = JobRecord(label or f"job {len(self.records)}", delay)
        self.records.append(record)

        async def run() -> Any:
            loop = asyncio.get_running_loop()
            record.started = loop.time()
            record.outcome = "running"
            record.runs += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                await asyncio.sleep(delay)
                if fails:
                    record.outcome = "failed"
                    raise JobError(f"{record.label} failed on purpose")
                record.outcome = "done"
                return result
            except asyncio.CancelledError:
                record.outcome = "cancelled"
                raise
            finally:
                record.ended = loop.time()
                self.running -= 1

        return run

    def jobs(self, delays: list[float]) -> list[Callable[[], Awaitable[Any]]]:
        return [self.job(d, result=f"result {i}", label=f"job {i}") for i, d in enumerate(delays)]

    def unfinished(self) -> list[JobRecord]:
        return [r for r in self.records if r.outcome == "running"]

    def describe(self, records: list[JobRecord]) -> str:
        return ", ".join(f"{r.label} ({r.outcome})" for r in records) or "none"

    def same_job_every_time(self) -> JobRecord | None:
        """The one job that ran once per factory while the others never ran: what a lambda
        made in a loop does when it looks the loop variable up only when it is called."""
        ran = [r for r in self.records if r.runs]
        if len(self.records) > 1 and len(ran) == 1 and ran[0].runs == len(self.records):
            return ran[0]
        return None


@contextmanager
def counting_semaphores() -> Iterator[list[asyncio.Semaphore]]:
    """Every asyncio.Semaphore (BoundedSemaphore included) made while the block runs."""
    made: list[asyncio.Semaphore] = []
    original = asyncio.Semaphore.__init__

    def init(self: asyncio.Semaphore, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    asyncio.Semaphore.__init__ = init  # type: ignore[method-assign]
    try:
        yield made
    finally:
        asyncio.Semaphore.__init__ = original  # type: ignore[method-assign]


def other_tasks() -> list[asyncio.Task[Any]]:
    """Tasks still alive on the loop besides the check itself."""
    me = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not me and not t.done()]


def patch_uneven_fetchers(learner: Any) -> None:
    """Replace the article's fetch_data_1 / fetch_data_2 with spies of 1.5 s and 0.5 s that
    return "first spy" / "second spy": code that calls them (concurrently) answers those
    strings in 1.5 s; code that writes the strings itself, or waits in turn, does not."""

    async def spy_1() -> str:
        await asyncio.sleep(1.5)
        return "first spy"

    async def spy_2() -> str:
        await asyncio.sleep(0.5)
        return "second spy"

    learner.patch("fetch_data_1", spy_1)
    learner.patch("fetch_data_2", spy_2)
