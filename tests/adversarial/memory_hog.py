"""Broken: takes memory until something gives (4 GB and more)."""

import asyncio

hoard = []


async def hello(name: str = "world") -> str:
    while True:
        hoard.append(bytearray(100_000_000))
        await asyncio.sleep(0)


def main() -> str:
    return asyncio.run(hello())
