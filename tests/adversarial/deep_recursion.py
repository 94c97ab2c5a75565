"""Broken: raises the recursion limit and recurses without end."""

import asyncio
import sys

sys.setrecursionlimit(10_000_000)


def down(n: int) -> int:
    return down(n + 1) + 1


async def hello(name: str = "world") -> str:
    down(0)
    return f"Hello, {name}!"


def main() -> str:
    return asyncio.run(hello())
