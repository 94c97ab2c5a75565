"""Chapter 01: the event loop and coroutines (reference solution)."""

import asyncio


async def fetch_data(delay: float = 2.0) -> str:
    """Wait `delay` seconds without blocking the event loop, then return "Data fetched!"."""
    # asyncio.sleep suspends this coroutine and hands control back to the loop, which runs
    # other tasks until the timer fires. time.sleep would freeze the loop and every task on it.
    await asyncio.sleep(delay)
    return "Data fetched!"


async def fetch_sequential(delays: list[float]) -> list[str]:
    """Await fetch_data(d) for each d, one after another; return the results in order."""
    # Each await finishes before the loop moves on, so the total is sum(delays). That is
    # the point of this function: chapter 02 starts them together instead.
    return [await fetch_data(delay) for delay in delays]


def run_sync(delay: float = 0.1) -> str:
    """From plain code with no running loop, run fetch_data(delay) and return its result."""
    # asyncio.run makes a new loop, runs the coroutine, then closes the loop (cancelling
    # stragglers and shutting down async generators). The old get_event_loop() +
    # run_until_complete() pattern leaks the loop and is deprecated outside a running loop.
    return asyncio.run(fetch_data(delay))
