"""Chapter 01: the event loop and coroutines.

Edit this file, then check it:  grader check 01
Stuck? Ask for a hint:          grader hint 01
"""

import asyncio


async def fetch_data(delay: float = 2.0) -> str:
    """Wait `delay` seconds without blocking the event loop, then return "Data fetched!"."""
    # TODO (task 1): wait `delay` seconds in a way that lets other tasks run meanwhile.
    raise NotImplementedError


async def fetch_sequential(delays: list[float]) -> list[str]:
    """Await fetch_data(d) for each d, one after another; return the results in order."""
    # TODO (task 2): await fetch_data once per delay, in order, and collect the results.
    raise NotImplementedError


def run_sync(delay: float = 0.1) -> str:
    """From plain code with no running loop, run fetch_data(delay) and return its result."""
    # TODO (task 3): run the coroutine fetch_data(delay) on a new event loop.
    raise NotImplementedError
