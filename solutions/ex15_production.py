"""Chapter 15: ready for production (reference solution)."""

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
    a JSON 500 without details for anything unexpected (chapter 03)."""

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
    if not isinstance(body, dict):
        return {"symbol": "required", "quantity": "required"}
    errors = {}
    symbol = body.get("symbol")
    # fullmatch, not match: "AAPL\n" matches r"[A-Z]{1,5}$" but is no symbol. And look at
    # the type first: re refuses a number (TypeError), which would be a 500.
    if not isinstance(symbol, str) or not SYMBOL.fullmatch(symbol):
        errors["symbol"] = "1 to 5 capital letters, such as AAPL"
    quantity = body.get("quantity")
    # type() rather than isinstance: True is an int to isinstance, and 2.5 is no quantity.
    if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = f"a whole number from 1 to {MAX_QUANTITY}"
    return errors


class RateLimiter:
    """At most `limit` events per key in any `window` seconds: a sliding log of times."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        if limit < 1:
            raise ValueError("a rate limit needs room for at least one event")
        self.limit = limit
        self.window = window
        self.log: dict[str, deque[float]] = {}
        self.swept = time.monotonic()

    def acquire(self, key: str) -> float:
        """Count one event for `key` and return 0.0; over the limit, count nothing and return
        the seconds until the oldest event leaves the window."""
        # monotonic, not time.time(): the wall clock can jump (NTP, a changed time zone
        # setting, a suspended laptop), and a limiter on it then locks clients out or in.
        now = time.monotonic()
        self._forget_idle(now)
        times = self.log.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            return 0.0
        return times[0] + self.window - now

    def _forget_idle(self, now: float) -> None:
        # One entry per client address ever seen would grow without end: once a window,
        # drop the clients with nothing left in it.
        if now - self.swept >= self.window:
            self.log = {k: t for k, t in self.log.items() if t and t[-1] > now - self.window}
            self.swept = now


def create_app(*, api_keys: set[str] | None = None, orders_per_minute: int = 10) -> Quart:
    app = Quart(__name__)
    # Quart checks the Content-Length header before reading, and counts the bytes of a body
    # sent without one (chunked) as they arrive: both are a 413 over the limit. Its default
    # is 16 MB.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    json_errors(app)

    # A registry of this app's own: metrics in prometheus_client's default registry are
    # shared by every app in the process, and a second create_app() would fail with
    # "Duplicated timeseries".
    registry = CollectorRegistry()
    requests_total = Counter(
        "http_requests_total",
        "HTTP requests answered, by method, route template and status.",
        ["method", "route", "status"],
        registry=registry,
    )
    duration = Histogram(
        "http_request_duration_seconds",
        "Seconds from the start of a request to its answer, by route template.",
        ["route"],
        registry=registry,
    )
    # Bytes: hmac.compare_digest refuses a str with non-ASCII characters (a TypeError, so a
    # 500), and a header can carry any byte. No keys configured: every key is unknown.
    keys = [key.encode() for key in api_keys or ()]
    orders_limiter = RateLimiter(orders_per_minute)

    @app.before_request
    async def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    async def measure_and_protect(response: Response) -> Response:
        # The route's template ("/user/<int:user_id>"), never the path: one series per
        # route, not one per user id or per path a scanner tries.
        rule = request.url_rule
        route = rule.rule if rule is not None else UNMATCHED
        took = time.perf_counter() - g.get("started", time.perf_counter())
        requests_total.labels(request.method, route, str(response.status_code)).inc()
        duration.labels(route).observe(took)
        # after_request runs for every response Quart makes, error handlers' too: a 404,
        # a 413, a 429, a 500. Browsers must not guess a content type from the body.
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/healthz")
    async def healthz() -> ResponseReturnValue:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.post("/admin/reindex")
    async def reindex() -> ResponseReturnValue:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            # 401: who are you? WWW-Authenticate says how to authenticate.
            return (
                {"error": "send Authorization: Bearer <key>"},
                401,
                {"WWW-Authenticate": 'Bearer realm="admin"'},
            )
        presented = token.strip().encode()
        # Every key is compared, each in constant time: `==` stops at the first different
        # byte, and how long it took tells an attacker how much of a guess was right.
        known = False
        for key in keys:
            known |= hmac.compare_digest(presented, key)
        if not known:
            # 403: we know what you sent, and it does not open this door.
            return {"error": "this key may not reindex"}, 403
        return {"status": "reindexed"}

    @app.post("/orders")
    async def create_order() -> ResponseReturnValue:
        # First, before the body is read: a client over its budget costs us almost nothing.
        # The remote address is the client here; behind a proxy it is the proxy's address.
        client = request.remote_addr or "unknown"
        wait = orders_limiter.acquire(client)
        if wait > 0:
            return (
                {"error": f"more than {orders_per_minute} orders a minute"},
                429,
                {
                    # Whole seconds, rounded up, so that a retry after it is never too early.
                    "Retry-After": str(max(1, math.ceil(wait)))
                },
            )
        # get_data raises RequestEntityTooLarge (413) over MAX_CONTENT_LENGTH. Not
        # get_json(silent=True): it decodes the bytes as UTF-8 outside its own try, so
        # bytes that are not UTF-8 become Quart's 500.
        raw = await request.get_data()
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
            return {"error": "the body must be JSON in UTF-8"}, 400
        errors = order_errors(body)
        if errors:
            return {"error": f"invalid fields: {', '.join(errors)}", "fields": errors}, 400
        order = {"symbol": body["symbol"], "quantity": body["quantity"]}
        return order, 201

    return app
