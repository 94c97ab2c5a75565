"""Broken: sleeps 9.5 s at import (each check imports the file again)."""

import time

time.sleep(9.5)


async def hello(name: str = "world") -> str:
    return f"Hello, {name}!"


def main() -> str:
    import asyncio

    return asyncio.run(hello())
