import asyncio


async def fetch_data(delay: float = 2.0) -> str
    await asyncio.sleep(delay)
    return "Data fetched!"
