import asyncio


async def fetch_data(delay: float = 2.0) -> str:
    await asyncio.sleep(delay)
    return "Data fetched!"


async def fetch_sequential(delays: list[float]) -> list[str]:
    return [fetch_data(d) for d in delays]  # no await: a list of coroutine objects


def run_sync(delay: float = 0.1) -> str:
    return asyncio.run(fetch_data(delay))
