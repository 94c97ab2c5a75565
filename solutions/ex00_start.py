"""Chapter 00: the course workflow (reference solution)."""

import asyncio


async def hello(name: str = "world") -> str:
    """Return "Hello, <name>!"."""
    # Nothing here awaits yet, but being `async def` is what makes hello() return a
    # coroutine: callers await it, and later chapters' versions will wait on real I/O.
    return f"Hello, {name}!"


def main() -> str:
    """Run hello() from plain, synchronous code and return what it returned."""
    # asyncio.run creates a fresh event loop, runs the coroutine to completion, closes the
    # loop and hands back the result. It is the one bridge from sync code into async code,
    # and must not be called while a loop is already running in this thread.
    return asyncio.run(hello())
