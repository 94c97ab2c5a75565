"""Cheat: replace the loop's clock on the instance, so durations read as whatever is wanted."""

import asyncio


async def fetch_data_1() -> str:
    await asyncio.sleep(1)
    return "Data 1 fetched!"


async def fetch_data_2() -> str:
    await asyncio.sleep(1)
    return "Data 2 fetched!"


async def fetch_both() -> dict[str, str]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    first = await fetch_data_1()
    second = await fetch_data_2()
    loop.time = lambda: start + 1.0
    return {"data1": first, "data2": second}
