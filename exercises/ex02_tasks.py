"""Chapter 02: tasks, gather and structured concurrency.

Edit this file, then check it:  grader check 02
Stuck? Ask for a hint:          grader hint 02

A "factory" below is a zero-argument callable that returns an awaitable, for example
`lambda: fetch_data_1()` or a plain `async def` function. Calling it starts nothing until
the awaitable is awaited or wrapped in a task.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Factory = Callable[[], Awaitable[Any]]


async def fetch_data_1() -> str:
    """Wait 1 s, return "Data 1 fetched!"."""
    # TODO (task 1)
    raise NotImplementedError


async def fetch_data_2() -> str:
    """Wait 1 s, return "Data 2 fetched!"."""
    # TODO (task 1)
    raise NotImplementedError


async def fetch_both() -> dict[str, str]:
    """Return {"data1": ..., "data2": ...}, running both fetches at once: 1 s in all."""
    # TODO (task 2): run fetch_data_1() and fetch_data_2() concurrently.
    raise NotImplementedError


async def gather_all(factories: Sequence[Factory]) -> list[Any]:
    """Run every factory's awaitable concurrently; return the results in input order.

    If one raises, the exception propagates and every other one is cancelled and has
    finished before gather_all returns.
    """
    # TODO (task 3)
    raise NotImplementedError


async def gather_limited(factories: Sequence[Factory], limit: int) -> list[Any]:
    """Like gather_all, but with at most `limit` running at any moment.

    limit < 1 raises ValueError.
    """
    # TODO (task 4)
    raise NotImplementedError


async def first_completed(factories: Sequence[Factory]) -> Any:
    """Return the result of the first one to finish; cancel the others and wait for them."""
    # TODO (task 5)
    raise NotImplementedError


async def interleave(log: list[str]) -> None:
    """Two concurrent tasks append A0 A1 A2 and B0 B1 B2, taking turns:
    log ends up ["A0", "B0", "A1", "B1", "A2", "B2"]."""
    # TODO (task 6): two tasks, each yielding to the event loop between its appends.
    raise NotImplementedError
