"""FakeMarketAPI: the course's stand-in for the article's external APIs.

An in-process Quart app serving stock prices and a to-do item, reached through
`httpx.ASGITransport`: nothing goes to the internet, and latency and failures are set per
symbol. Chapter 05's notebook and checks use it; so can any later chapter.

    api = FakeMarketAPI(latencies={"MSFT": 1.5}, failures={"IBM": 503, "ORCL": "connect"})
    async with httpx.AsyncClient(base_url=api.base_url, transport=api.transport()) as client:
        (await client.get("/stocks/AAPL")).json()   # {"symbol": "AAPL", "price": ..., ...}
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator
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


class FakeMarketAPI:
    """A stock-price API with adjustable latency (seconds per symbol) and failures.

    failures: symbol (or "todos") -> an HTTP status to answer (404, 500, 503...), or
    "connect" for a connection that fails before any answer.
    drip: symbol -> seconds between the chunks of a slowly streamed answer.
    """

    base_url = "https://api.example.com"

    def __init__(
        self,
        *,
        latency: float = 0.05,
        latencies: dict[str, float] | None = None,
        failures: dict[str, int | str] | None = None,
        drip: dict[str, float] | None = None,
    ) -> None:
        self.latency = latency
        self.latencies = dict(latencies or {})
        self.failures = dict(failures or {})
        self.drip = dict(drip or {})
        self.requests: list[str] = []  # "host/path" of every request that reached the API
        self.closes = 0  # how many times a transport of this API was closed
        self.app = self._build_app()

    def transport(self) -> httpx.AsyncBaseTransport:
        return _MarketTransport(self)

    def _build_app(self) -> Quart:
        app = Quart("fake_market_api")

        @app.get("/todos/<int:todo_id>")
        async def todo(todo_id: int) -> Any:
            self._note_handler()
            await asyncio.sleep(self.latencies.get("todos", self.latency))
            if isinstance(self.failures.get("todos"), int):
                status = int(self.failures["todos"])
                return {"error": f"upstream failure {status}"}, status
            return {**TODO, "id": todo_id}

        @app.get("/stocks/<symbol>")
        async def stock(symbol: str) -> Any:
            self._note_handler()
            await asyncio.sleep(self.latencies.get(symbol, self.latency))
            failure = self.failures.get(symbol)
            if isinstance(failure, int):
                return {"error": f"upstream failure {failure}"}, failure
            if symbol not in PRICES:
                return {"error": f"unknown symbol {symbol}"}, 404
            quote = {"symbol": symbol, "price": PRICES[symbol], "currency": "USD"}
            if symbol in self.drip:
                return Response(
                    self._dripping(json.dumps(quote), self.drip[symbol]),
                    content_type="application/json",
                )
            return quote

        return app

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
