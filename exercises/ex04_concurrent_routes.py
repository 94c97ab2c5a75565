"""Chapter 04: concurrency inside routes.

Edit this file, then check it:  grader check 04
Stuck? Ask for a hint:          grader hint 04

fetch_data_1, fetch_data_2 and process_item are given: call them by name from your routes.
Error answers are JSON objects with an "error" string.
"""

import asyncio
from typing import Any

from quart import Quart, ResponseReturnValue, request
from werkzeug.exceptions import HTTPException

MAX_ITEMS = 1000


async def fetch_data_1() -> str:
    await asyncio.sleep(1)
    return "Data 1 fetched!"


async def fetch_data_2() -> str:
    await asyncio.sleep(1)
    return "Data 2 fetched!"


async def process_item(item: Any, delay: float) -> str:
    """The work done for one item: `delay` seconds of waiting (an API call, say)."""
    await asyncio.sleep(delay)
    return str(item).upper()


def create_app(*, item_delay: float = 0.5, max_concurrency: int = 10) -> Quart:
    app = Quart(__name__)

    # TODO (task 1): GET /multiple-data answers {"data1": ..., "data2": ...} from
    #                fetch_data_1() and fetch_data_2(), run concurrently (1 s in all).
    # TODO (task 2): POST /process-data {"items": [...]} answers
    #                {"results": [process_item(item, item_delay) for each item, in order],
    #                 "count": n}, processing the items concurrently.
    # TODO (task 3): ... with at most `max_concurrency` items in flight at once.
    # TODO (task 4): 400 when "items" is missing or not a list, 413 above MAX_ITEMS items,
    #                as JSON errors (also for 404, 405 and unexpected errors).
    raise NotImplementedError
