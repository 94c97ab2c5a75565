import asyncioo  # a typo


async def fetch_data(delay: float = 2.0) -> str:
    await asyncioo.sleep(delay)
    return "Data fetched!"
