import asyncio
import time


async def fetch_data(delay: float = 2.0) -> str:
    time.sleep(delay)  # blocks the whole event loop
    return "Data fetched!"


async def fetch_sequential(delays: list[float]) -> list[str]:
    return [await fetch_data(d) for d in delays]


def run_sync(delay: float = 0.1) -> str:
    return asyncio.run(fetch_data(delay))
