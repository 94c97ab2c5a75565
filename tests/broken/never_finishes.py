import asyncio


async def fetch_data(delay: float = 2.0) -> str:
    await asyncio.Event().wait()  # nobody will ever set this event
    return "Data fetched!"


async def fetch_sequential(delays: list[float]) -> list[str]:
    raise NotImplementedError


def run_sync(delay: float = 0.1) -> str:
    raise NotImplementedError
