import asyncio


async def fetch_data(delay: float = 2.0) -> str:
    loop = asyncio.get_running_loop()
    end = loop.time() + delay
    while loop.time() < end:  # busy-waits: the loop's clock never moves while this runs
        pass
    return "Data fetched!"


async def fetch_sequential(delays: list[float]) -> list[str]:
    return [await fetch_data(d) for d in delays]


def run_sync(delay: float = 0.1) -> str:
    return asyncio.run(fetch_data(delay))
