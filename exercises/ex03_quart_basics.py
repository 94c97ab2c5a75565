"""Chapter 03: from Flask to Quart.

Edit this file, then check it:  grader check 03
Stuck? Ask for a hint:          grader hint 03

Build the app inside create_app(): register routes on `app` with decorators such as
@app.get("/") and return it at the end. Every error answer is a JSON object with an
"error" string.
"""

import asyncio
from typing import Any

from quart import Quart, ResponseReturnValue, jsonify, request
from werkzeug.exceptions import HTTPException


async def fetch_data() -> str:
    """The article's slow data source: 2 s of waiting that does not block the loop."""
    await asyncio.sleep(2)
    return "Data fetched!"


def create_app() -> Quart:
    app = Quart(__name__)

    # TODO (task 1): GET / answers the text "Hello, world!".
    # TODO (task 2): GET /data awaits fetch_data() and answers its text.
    # TODO (task 3): GET /greet/<name> answers {"message": "Hello, <name>!"}.
    # TODO (task 4): POST /echo answers the JSON body it was sent; 400 when there is none.
    # TODO (task 5): GET /items/<int:item_id> answers {"id": n, "name": "item n"} for
    #                1 <= n <= 100, otherwise 404.
    # TODO (task 6): error handlers, so that 404, 405 and unexpected errors are JSON.
    raise NotImplementedError
