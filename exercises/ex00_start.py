"""Chapter 00: the course workflow.

Edit this file, then check it:  grader check 00
Stuck? Ask for a hint:          grader hint 00
"""

import asyncio


async def hello(name: str = "world") -> str:
    """Return "Hello, <name>!"."""
    # TODO: return the greeting, e.g. "Hello, world!" for the default name.
    raise NotImplementedError


def main() -> str:
    """Run hello() from plain, synchronous code and return what it returned."""
    # TODO: start an event loop, run hello() on it and return its result.
    raise NotImplementedError
