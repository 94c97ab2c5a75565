"""Chapter 04: concurrency inside routes (reference solution)."""

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
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be at least 1")
    app = Quart(__name__)

    @app.get("/multiple-data")
    async def multiple_data() -> dict[str, str]:
        # Both fetches start before either is awaited: 1 s in all, not 2 s.
        data1, data2 = await asyncio.gather(fetch_data_1(), fetch_data_2())
        return {"data1": data1, "data2": data2}

    @app.post("/process-data")
    async def process_data() -> ResponseReturnValue:
        body = await request.get_json(silent=True)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return {"error": 'send {"items": [...]}: a JSON object with a list of items'}, 400
        # Refuse oversized work before starting any of it.
        if len(items) > MAX_ITEMS:
            return {"error": f"at most {MAX_ITEMS} items per request, got {len(items)}"}, 413
        # One semaphore per request: at most max_concurrency items in flight, so a big
        # request cannot flood whatever process_item talks to (the article's version
        # starts one task per item, all at once).
        semaphore = asyncio.Semaphore(max_concurrency)

        async def limited(item: Any) -> str:
            async with semaphore:
                return await process_item(item, item_delay)

        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(limited(item)) for item in items]
        # 200, not the article's 202: the work is done when we answer.
        return {"results": [task.result() for task in tasks], "count": len(items)}

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        # Keep the headers HTTP requires, such as Allow on a 405.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
