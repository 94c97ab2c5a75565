"""Broken: stops the event loop it runs on."""

import asyncio


async def hello(name: str = "world") -> str:
    asyncio.get_running_loop().stop()
    await asyncio.sleep(1)
    return f"Hello, {name}!"


def main() -> str:
    return asyncio.run(hello())
