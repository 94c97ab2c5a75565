"""Chapter 15: ready for production.

Edit this file, then check it:  grader check 15
Stuck? Ask for a hint:          grader hint 15

Try it in the notebook, or serve it for real from the exercises folder:
    hypercorn "ex15_production:create_app()"
"""

import hmac
import json
import math
import re
import time
from collections import deque
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from quart import Quart, Response, ResponseReturnValue, g, request
from werkzeug.exceptions import HTTPException

MAX_BODY_BYTES = 1024 * 1024  # 1 MB: an order is a few dozen bytes
SYMBOL = re.compile(r"[A-Z]{1,5}")
MAX_QUANTITY = 1000
WINDOW_SECONDS = 60.0
# The route label of a request that no route matched (404, 405).
UNMATCHED = "unmatched"


def json_errors(app: Quart) -> None:
    """Given: JSON errors for every HTTP error (404, 405 with its Allow header, 413...) and
    a JSON 500 without details for anything unexpected (chapter 03). Call it in create_app."""

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500


def order_errors(body: Any) -> dict[str, str]:
    """Every bad field of an order, each with what it should be; {} for a good order."""
    # TODO (task 5): "symbol": a str that SYMBOL.fullmatch()es; "quantity": an int (not a
    #                bool) from 1 to MAX_QUANTITY. Collect every problem; a body that is
    #                not a dict has both fields wrong.
    raise NotImplementedError


class RateLimiter:
    """At most `limit` events per key in any `window` seconds."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        # TODO (task 7): what you keep per key, such as {key: deque of times}.

    def acquire(self, key: str) -> float:
        """Count one event for `key` and return 0.0; over the limit, count nothing and return
        the seconds until the oldest event leaves the window."""
        # TODO (task 7): read the time with time.monotonic() (the checks make it follow
        #                their virtual clock), forget times older than the window, decide.
        raise NotImplementedError


def create_app(*, api_keys: set[str] | None = None, orders_per_minute: int = 10) -> Quart:
    app = Quart(__name__)
    json_errors(app)

    # TODO (task 1): GET /healthz -> {"status": "ok"}; X-Content-Type-Options: nosniff on
    #                every response (an @app.after_request function).
    # TODO (task 2): a CollectorRegistry of this app's own; http_requests_total{method,
    #                route, status} counted for every response (route: the rule's template,
    #                or UNMATCHED); GET /metrics serves generate_latest(registry).
    # TODO (task 3): http_request_duration_seconds, a Histogram by route, in seconds.
    # TODO (task 4): POST /admin/reindex: `Authorization: Bearer <key>`; none -> 401 with
    #                WWW-Authenticate; not one of api_keys (none configured: every key) -> 403;
    #                compare with hmac.compare_digest.
    # TODO (task 5): POST /orders -> 201 with the order; 400 naming the bad fields; a body
    #                that is not JSON, or not UTF-8, -> 400 (not get_json: see the notebook).
    # TODO (task 6): bodies over MAX_BODY_BYTES -> 413, with or without Content-Length.
    # TODO (task 7): more than orders_per_minute orders from one client (request.remote_addr)
    #                -> 429 with an integer Retry-After; only POST /orders is limited.
    raise NotImplementedError
