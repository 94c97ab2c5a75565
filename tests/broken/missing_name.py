import asyncio


async def fetch_data(delay: float = 2.0) -> str:
    await asyncio.sleep(delay)
    return "Data fetched!"


async def fetch_sequential(delays: list[float]) -> list[str]:
    return [await fetch_data(d) for d in delays]


def fetch_run(delay: float = 0.1) -> str:  # renamed: the contract says run_sync
    return asyncio.run(fetch_data(delay))
