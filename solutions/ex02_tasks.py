"""Chapter 02: tasks, gather and structured concurrency (reference solution)."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Factory = Callable[[], Awaitable[Any]]


async def fetch_data_1() -> str:
    """Wait 1 s, return "Data 1 fetched!"."""
    await asyncio.sleep(1)
    return "Data 1 fetched!"


async def fetch_data_2() -> str:
    """Wait 1 s, return "Data 2 fetched!"."""
    await asyncio.sleep(1)
    return "Data 2 fetched!"


async def fetch_both() -> dict[str, str]:
    """Return {"data1": ..., "data2": ...}, running both fetches at once: 1 s in all."""
    # Both coroutines become tasks before either is awaited, so their sleeps overlap.
    async with asyncio.TaskGroup() as tg:
        first = tg.create_task(fetch_data_1())
        second = tg.create_task(fetch_data_2())
    return {"data1": first.result(), "data2": second.result()}


async def _await(factory: Factory) -> Any:
    # create_task needs a coroutine; a factory may return any awaitable (a Future, say).
    return await factory()


async def gather_all(factories: Sequence[Factory]) -> list[Any]:
    """Run every factory's awaitable concurrently; return the results in input order."""
    # A TaskGroup is all or nothing: when one task fails it cancels the others and waits
    # until they have finished before raising (as an ExceptionGroup). asyncio.gather, by
    # contrast, raises the first error at once and leaves the other tasks running unowned.
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(_await(factory)) for factory in factories]
    return [task.result() for task in tasks]


async def gather_limited(factories: Sequence[Factory], limit: int) -> list[Any]:
    """Like gather_all, but with at most `limit` running at any moment."""
    # Validate first: a Semaphore(0) would make every task wait forever.
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    semaphore = asyncio.Semaphore(limit)

    async def limited(factory: Factory) -> Any:
        # The factory is called only once a slot is free, so at most `limit` jobs exist
        # at any moment, not merely `limit` running.
        async with semaphore:
            return await factory()

    return await gather_all([lambda f=factory: limited(f) for factory in factories])


async def first_completed(factories: Sequence[Factory]) -> Any:
    """Return the result of the first one to finish; cancel the others and wait for them."""
    tasks = [asyncio.ensure_future(factory()) for factory in factories]
    if not tasks:
        raise ValueError("first_completed needs at least one factory")
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Runs on success, on failure and when our caller cancels us: no task outlives us.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    # Several may finish in the same loop step; the first in input order wins the tie.
    winner = next(task for task in tasks if task in done)
    return winner.result()


async def interleave(log: list[str]) -> None:
    """Two concurrent tasks append A0 A1 A2 and B0 B1 B2, taking turns."""

    async def worker(prefix: str) -> None:
        for i in range(3):
            log.append(f"{prefix}{i}")
            # sleep(0) is a bare yield: the loop runs the other ready task, then comes back.
            await asyncio.sleep(0)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(worker("A"))
        tg.create_task(worker("B"))
