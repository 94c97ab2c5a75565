"""Chapter 16: capstone, a live stock ticker (reference solution)."""

import asyncio
import json
import math
import re
import time
from typing import Any

import httpx
from quart import Quart, ResponseReturnValue, websocket
from werkzeug.exceptions import HTTPException

SYMBOL = re.compile(r"^[A-Za-z]{1,5}$")
QUEUE_SIZE = 10  # updates a subscriber may fall behind before the oldest are dropped
CACHE_SECONDS = 1.0  # how long GET /stocks/<symbol> reuses a price it fetched itself
FETCH_TIMEOUT = 2.0  # a total deadline for each upstream call (chapter 05)
MAX_BACKOFF = 30.0  # the longest wait between two attempts while the upstream fails
GOING_AWAY = 1001  # the WebSocket close code of a server that shuts down


class UpstreamError(Exception):
    """The market API failed; `status` is what an HTTP caller gets instead."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Poller:
    """One symbol's polling task and the queues of its subscribers."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.queues: set[asyncio.Queue[str | None]] = set()
        self.latest: dict[str, Any] | None = None  # the last price it fetched
        self.task: asyncio.Task[None] | None = None


def offer(queue: asyncio.Queue[str | None], message: str | None) -> None:
    """Put `message` on `queue` without ever waiting: a full queue loses its oldest message.

    The poller calls this for every subscriber. `await queue.put(...)` would make the
    poller wait for the slowest reader, and every other subscriber with it; dropping the
    *newest* would leave a slow reader with stale prices. For a ticker, the newest matter.
    """
    while True:
        try:
            queue.put_nowait(message)
            return
        except asyncio.QueueFull:
            queue.get_nowait()  # no await in between: nothing else runs meanwhile


def create_app(
    *,
    base_url: str = "https://api.example.com",
    transport: httpx.AsyncBaseTransport | None = None,
    poll_interval: float = 1.0,
) -> Quart:
    if not poll_interval > 0:
        raise ValueError("poll_interval must be a positive number of seconds")
    app = Quart(__name__)
    # Per app, never per module: two apps (two tests, two workers) share nothing.
    pollers: dict[str, Poller] = {}  # symbol -> its poller, while it has subscribers
    cache: dict[str, tuple[float, dict[str, Any]]] = {}  # symbol -> (loop time, quote)

    @app.before_serving
    async def open_client() -> None:
        # Chapter 05: one pooled client for the app's whole life, made on the serving loop.
        app.extensions["market"] = httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=FETCH_TIMEOUT
        )

    async def fetch_quote(symbol: str) -> dict[str, Any]:
        """{"symbol", "price", "ts"} from the market API, or UpstreamError."""
        client: httpx.AsyncClient = app.extensions["market"]
        try:
            # A total deadline (chapter 12): without it, an upstream that never answers
            # would stop this symbol's updates for good, with no error for anyone.
            async with asyncio.timeout(FETCH_TIMEOUT):
                response = await client.get(f"/stocks/{symbol}")
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamError(
                504, f"the market API did not answer within {FETCH_TIMEOUT:g} s"
            ) from None
        except httpx.HTTPError:
            raise UpstreamError(502, "the market API could not be reached") from None
        if response.status_code == 404:
            raise UpstreamError(404, f"the market API does not know {symbol}")
        if not response.is_success:
            raise UpstreamError(502, f"the market API failed ({response.status_code})")
        try:
            price = response.json()["price"]
        # RecursionError: JSON nested deeper than the parser can follow is no price either.
        except (ValueError, KeyError, TypeError, RecursionError):
            raise UpstreamError(502, "the market API answered without a price") from None
        # bool first: True is an int in Python. Python's JSON parser reads NaN, Infinity and
        # 1e999 as floats, which no browser's JSON.parse accepts: they are no price either.
        if (
            isinstance(price, bool)
            or not isinstance(price, int | float)
            or (isinstance(price, float) and not math.isfinite(price))
        ):
            raise UpstreamError(502, "the market API answered a price that is not a number")
        # ts is for people and browsers: Unix time, when the price arrived. Durations (the
        # cache's age, the poller's waits) are measured on the loop's clock instead.
        return {"symbol": symbol, "price": price, "ts": time.time()}

    async def poll(poller: Poller) -> None:
        """Fetch the price every poll_interval and offer it to every subscriber; while the
        upstream fails, tell them and wait longer each time (chapter 11's backoff)."""
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            started = loop.time()
            try:
                quote = await fetch_quote(poller.symbol)
            except UpstreamError as error:
                failures += 1
                update: dict[str, Any] = {"symbol": poller.symbol, "error": error.message}
                wait = min(poll_interval * 2**failures, MAX_BACKOFF)
            else:
                failures = 0  # recovered: the next failure starts the backoff afresh
                poller.latest = update = quote
                wait = poll_interval
            message = json.dumps(update)
            for queue in poller.queues:
                offer(queue, message)
            # Counted from the start of this attempt, so a slow upstream does not stretch
            # the interval: prices every poll_interval, not every poll_interval + latency.
            await asyncio.sleep(max(0.0, wait - (loop.time() - started)))

    @app.websocket("/ws/stocks/<symbol>")
    async def subscribe(symbol: str) -> Any:
        if not SYMBOL.fullmatch(symbol):
            # Refused before the connection is accepted: the client gets an HTTP 400 and
            # nothing is polled for it.
            return {"error": "a symbol is 1 to 5 letters, such as AAPL"}, 400
        symbol = symbol.upper()
        await websocket.accept()
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
        poller = pollers.get(symbol)
        if poller is None:
            # The first subscriber starts the symbol's poller; the dict holds the only
            # strong reference the task needs (the loop keeps a weak one).
            poller = pollers[symbol] = Poller(symbol)
            poller.task = asyncio.create_task(poll(poller))
        poller.queues.add(queue)
        try:
            # This handler only sends, at its own client's pace: a client that reads slowly
            # holds up this loop alone. When the client leaves, Quart cancels the handler.
            while True:
                message = await queue.get()
                if message is None:  # the app is shutting down
                    await websocket.close(GOING_AWAY, "the server is shutting down")
                    return
                await websocket.send(message)
        finally:
            poller.queues.discard(queue)
            # The last subscriber stops the poller. At shutdown the pollers are gone
            # from the dict already (after_serving stops them).
            if not poller.queues and pollers.get(symbol) is poller:
                del pollers[symbol]
                if poller.task is not None:
                    poller.task.cancel()

    @app.get("/stocks/<symbol>")
    async def stock(symbol: str) -> ResponseReturnValue:
        if not SYMBOL.fullmatch(symbol):
            return {"error": "a symbol is 1 to 5 letters, such as AAPL"}, 400
        symbol = symbol.upper()
        poller = pollers.get(symbol)
        if poller is not None and poller.latest is not None:
            return poller.latest  # what the subscribers got last: no upstream request
        loop = asyncio.get_running_loop()
        cached = cache.get(symbol)
        if cached is not None and loop.time() - cached[0] < CACHE_SECONDS:
            return cached[1]
        quote = await fetch_quote(symbol)
        cache[symbol] = (loop.time(), quote)
        return quote

    @app.after_serving
    async def shut_down() -> None:
        # 1. Stop polling: no update after this point, and no request to a closed client.
        running = list(pollers.values())
        pollers.clear()
        tasks = [p.task for p in running if p.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # until each has stopped
        # 2. Close every subscriber's socket with 1001, "going away": their handlers do
        # it when they read the marker, even from a full queue (offer drops the oldest).
        for poller in running:
            for queue in poller.queues:
                offer(queue, None)
        # 3. Last, the HTTP client that the pollers used.
        await app.extensions.pop("market").aclose()

    @app.errorhandler(UpstreamError)
    async def upstream_error(error: UpstreamError) -> ResponseReturnValue:
        return {"error": error.message}, error.status

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
