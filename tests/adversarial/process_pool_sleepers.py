"""Broken: leaves ten sleeping processes behind (through the one door that is open)."""

import asyncio
import concurrent.futures
import time

pool = None


def nap(token: str) -> None:
    time.sleep(1000)


async def hello(name: str = "world") -> str:
    global pool
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=10)
    for _ in range(10):
        pool.submit(nap, "grader-adversarial-sleeper")
    return f"Hello, {name}!"


def main() -> str:
    return asyncio.run(hello())
