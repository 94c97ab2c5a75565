"""Broken: writes a gigabyte straight to file descriptor 1, past any print capture."""

import os

chunk = b"x" * 1_000_000


async def hello(name: str = "world") -> str:
    for _ in range(1000):
        os.write(1, chunk)
    return f"Hello, {name}!"


def main() -> str:
    import asyncio

    return asyncio.run(hello())
