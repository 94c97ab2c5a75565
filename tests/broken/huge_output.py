import asyncio

async def fetch_data(delay: float = 2.0) -> str:
    for _ in range(1000):
        print("still waiting " * 500)  # about 7 MB per call
    await asyncio.sleep(delay)
    return "Data fetched!"


async def fetch_sequential(delays: list[float]) -> list[str]:
    return [await fetch_data(d) for d in delays]


def run_sync(delay: float = 0.1) -> str:
    return asyncio.run(fetch_data(delay))
