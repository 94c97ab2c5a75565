"""FakeMarketAPI: the course's stand-in for the article's external APIs.

An in-process Quart app serving stock prices and a to-do item, reached through
`httpx.ASGITransport`: nothing goes to the internet, and latency and failures are set per
symbol. Chapter 05's notebook and checks use it; so can any later chapter.

    api = FakeMarketAPI(latencies={"MSFT": 1.5}, failures={"IBM": 503, "ORCL": "connect"})
    async with httpx.AsyncClient(base_url=api.base_url, transport=api.transport()) as client:
        (await client.get("/stocks/AAPL")).json()   # {"symbol": "AAPL", "price": ..., ...}

With `moving=True` (chapter 16's live ticker) each price follows a path of its own, driven by
the event loop's clock: `api.price_at("AAPL", t)` is the price at loop time t. `failures` may
be changed while the API serves (a failure that starts or ends). `api.request_times["AAPL"]`
lists the loop times of the requests for a symbol, `api.quotes` every price answered, and
`api.senders` the tasks that sent requests.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from quart import Quart, Response

PRICES = {
    "AAPL": 189.50,
    "AMD": 160.20,
    "AMZN": 178.30,
    "GOOG": 141.80,
    "IBM": 183.10,
    "INTC": 30.50,
    "META": 497.40,
    "MSFT": 411.20,
    "NFLX": 610.10,
    "NVDA": 875.00,
    "ORCL": 125.60,
    "TSLA": 177.90,
}
_HANDLERS: contextvars.ContextVar[list[asyncio.Task[Any]]] = contextvars.ContextVar("handlers")
TODO = {"userId": 1, "id": 1, "title": "learn async Python", "completed": False}


@dataclass(frozen=True)
class Quote:
    """A price the fake answered: for `symbol`, at loop time `at`."""

    symbol: str
    price: float
    at: float


class FakeMarketAPI:
    """A stock-price API with adjustable latency (seconds per symbol) and failures.

    failures: symbol (or "todos") -> an HTTP status to answer (404, 500, 503...), or
    "connect" for a connection that fails before any answer.
    drip: symbol -> seconds between the chunks of a slowly streamed answer.
    bodies: symbol -> the raw text of a 200 application/json answer, given as it is (a price
    of NaN or 1e999, JSON nested too deep to parse, a body that is not JSON at all).
    moving: prices move with the event loop's clock (`price_at`) instead of staying put.
    """

    base_url = "https://api.example.com"

    def __init__(
        self,
        *,
        latency: float = 0.05,
        latencies: dict[str, float] | None = None,
        failures: dict[str, int | str] | None = None,
        drip: dict[str, float] | None = None,
        moving: bool = False,
        bodies: dict[str, str] | None = None,
    ) -> None:
        self.latency = latency
        self.latencies = dict(latencies or {})
        self.failures = dict(failures or {})
        self.drip = dict(drip or {})
        self.moving = moving
        self.bodies = dict(bodies or {})
        self.requests: list[str] = []  # "host/path" of every request that reached the API
        # symbol (or "todos") -> the loop time at which each of its requests arrived
        self.request_times: dict[str, list[float]] = {}
        self.quotes: list[Quote] = []  # every price answered, in order
        # The tasks that sent requests through a transport of this API, once each: a check
        # can tell whether a poller is still running.
        self.senders: list[asyncio.Task[Any]] = []
        self.closes = 0  # how many times a transport of this API was closed
        self.app = self._build_app()

    def requests_for(self, symbol: str) -> list[float]:
        """The loop times of the requests for `symbol` that reached the API (a connection
        that failed never reached it)."""
        return list(self.request_times.get(symbol, ()))

    def price_at(self, symbol: str, at: float) -> float:
        """The price of a known symbol at loop time `at`: fixed unless `moving`. A moving
        price is a sum of slow and quick waves of its own (within about 2% of its base),
        so that two symbols, or two moments a second apart, seldom share a price."""
        base = PRICES[symbol]
        if not self.moving:
            return base
        phase = sum(map(ord, symbol)) % 360 * math.pi / 180  # the same in every process
        wave = (
            0.012 * math.sin(at / 9 + phase)
            + 0.005 * math.sin(at * 1.3 + 2 * phase)
            + 0.002 * math.sin(at * 4.1 + 3 * phase)
        )
        return round(base * (1 + wave), 2)

    def transport(self) -> httpx.AsyncBaseTransport:
        return _MarketTransport(self)

    def _build_app(self) -> Quart:
        app = Quart("fake_market_api")

        @app.get("/todos/<int:todo_id>")
        async def todo(todo_id: int) -> Any:
            self._note_handler()
            self._note_request("todos")
            await asyncio.sleep(self.latencies.get("todos", self.latency))
            if isinstance(self.failures.get("todos"), int):
                status = int(self.failures["todos"])
                return {"error": f"upstream failure {status}"}, status
            return {**TODO, "id": todo_id}

        @app.get("/stocks/<symbol>")
        async def stock(symbol: str) -> Any:
            self._note_handler()
            self._note_request(symbol)
            await asyncio.sleep(self.latencies.get(symbol, self.latency))
            failure = self.failures.get(symbol)
            if isinstance(failure, int):
                return {"error": f"upstream failure {failure}"}, failure
            if symbol in self.bodies:
                return Response(self.bodies[symbol], content_type="application/json")
            if symbol not in PRICES:
                return {"error": f"unknown symbol {symbol}"}, 404
            at = asyncio.get_running_loop().time()
            price = self.price_at(symbol, at)
            self.quotes.append(Quote(symbol, price, at))
            quote = {"symbol": symbol, "price": price, "currency": "USD"}
            if symbol in self.drip:
                return Response(
                    self._dripping(json.dumps(quote), self.drip[symbol]),
                    content_type="application/json",
                )
            return quote

        return app

    def _note_request(self, key: str) -> None:
        at = asyncio.get_running_loop().time()
        self.request_times.setdefault(key, []).append(at)

    def _note_handler(self) -> None:
        task = asyncio.current_task()
        handlers = _HANDLERS.get(None)
        if task is not None and handlers is not None:
            handlers.append(task)

    async def _dripping(self, body: str, every: float) -> AsyncIterator[bytes]:
        """A few bytes at a time: each read is quick, the whole answer is slow."""
        for start in range(0, len(body), 8):
            yield body[start : start + 8].encode()
            await asyncio.sleep(every)


class _MarketTransport(httpx.AsyncBaseTransport):
    """ASGITransport to the fake API, plus connection failures and a record of use."""

    def __init__(self, api: FakeMarketAPI) -> None:
        self.api = api
        self.inner = httpx.ASGITransport(app=self.asgi)

    async def asgi(self, scope: Any, receive: Any, send: Any) -> None:
        """The fake's app, with `receive` noting the task that calls it (Quart's reader)."""

        async def noting_receive() -> Any:
            self.api._note_handler()
            return await receive()

        await self.api.app(scope, noting_receive, send)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        key = "todos" if request.url.path.startswith("/todos") else name
        sender = asyncio.current_task()
        if sender is not None and sender not in self.api.senders:
            self.api.senders.append(sender)
        if self.api.failures.get(key) == "connect":
            raise httpx.ConnectError("connection refused (simulated)", request=request)
        self.api.requests.append(f"{request.url.host}{request.url.path}")
        # Quart runs the handler in tasks of its own: when the caller gives up (a deadline),
        # they would go on sleeping. The handler notes its task here, so it can be cancelled.
        handlers: list[asyncio.Task[Any]] = []
        token = _HANDLERS.set(handlers)
        try:
            return await self.inner.handle_async_request(request)
        except asyncio.CancelledError:
            for task in handlers:
                task.cancel()
            raise
        finally:
            _HANDLERS.reset(token)

    async def aclose(self) -> None:
        self.api.closes += 1
        await self.inner.aclose()
