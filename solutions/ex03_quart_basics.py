"""Chapter 03: from Flask to Quart (reference solution)."""

import asyncio
from typing import Any

from quart import Quart, ResponseReturnValue, jsonify, request
from werkzeug.exceptions import HTTPException

ITEM_IDS = range(1, 101)


async def fetch_data() -> str:
    """The article's slow data source: 2 s of waiting that does not block the loop."""
    await asyncio.sleep(2)
    return "Data fetched!"


def create_app() -> Quart:
    app = Quart(__name__)

    @app.get("/")
    async def index() -> str:
        return "Hello, world!"

    @app.get("/data")
    async def data() -> str:
        # Looked up at request time, so a test (or the grader) can replace it.
        return await fetch_data()

    @app.get("/greet/<name>")
    async def greet(name: str) -> dict[str, str]:
        # A dict return value becomes a JSON response with status 200.
        return {"message": f"Hello, {name}!"}

    @app.post("/echo")
    async def echo() -> ResponseReturnValue:
        # silent=True: a missing, non-JSON or malformed body gives None instead of raising,
        # so the route decides the answer. JSON `null` is refused too: there is nothing to echo.
        body: Any = await request.get_json(silent=True)
        if body is None:
            return {"error": "send a JSON body with Content-Type: application/json"}, 400
        return jsonify(body)

    @app.get("/items/<int:item_id>")
    async def item(item_id: int) -> ResponseReturnValue:
        if item_id not in ITEM_IDS:
            return {"error": f"no item {item_id}: items are numbered 1 to 100"}, 404
        return {"id": item_id, "name": f"item {item_id}"}

    # Error handlers make every failure JSON, the same shape an API client parses anyway.
    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        # Keep the headers HTTP requires, such as Allow on a 405.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        # Log the details for the developer; never send a traceback to the client.
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
