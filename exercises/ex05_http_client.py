"""Chapter 05: calling other services with httpx.

Edit this file, then check it:  grader check 05
Stuck? Ask for a hint:          grader hint 05

Try it against the course's fake market API (nothing goes to the internet):
    from grader.lab.market import FakeMarketAPI
    api = FakeMarketAPI()
    app = create_app(base_url=api.base_url, transport=api.transport())
"""

import asyncio
import re
from typing import Any

import httpx
from quart import Quart, ResponseReturnValue, request
from werkzeug.exceptions import HTTPException

SYMBOL = re.compile(r"^[A-Za-z]{1,5}$")
MAX_SYMBOLS = 10


class UpstreamError(Exception):
    """Given: raise it where the other service fails; `status` is what our client gets.
    An @app.errorhandler(UpstreamError) can turn it into {"error": message}, status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(
    *,
    base_url: str = "https://api.example.com",
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 2.0,
) -> Quart:
    app = Quart(__name__)

    # TODO (task 1): one httpx.AsyncClient(base_url=..., transport=..., timeout=...) for the
    #                whole app: create it in @app.before_serving, close it in @app.after_serving.
    # TODO (task 2): GET /external-data answers the upstream's GET /todos/1 JSON.
    # TODO (task 3): GET /stock/<symbol>: 400 unless it matches SYMBOL (before any upstream
    #                request), else the upstream's GET /stocks/<SYMBOL in upper case> JSON.
    # TODO (task 4): upstream 404 -> 404; upstream 5xx or no connection -> 502 (JSON errors).
    # TODO (task 5): no answer within `timeout` seconds in all -> 504 (use asyncio.timeout).
    # TODO (task 6): GET /stocks?symbols=AAPL,MSFT -> {"AAPL": {...}, "MSFT": {...}} fetched
    #                concurrently; a failing symbol maps to {"error": "..."}; 1 to MAX_SYMBOLS
    #                valid symbols, otherwise 400.
    raise NotImplementedError
