"""Chapter 16: capstone, a live stock ticker.

Edit this file, then check it:  grader check 16
Stuck? Ask for a hint:          grader hint 16

Try it against the course's fake market API, whose prices move (nothing goes to the
internet); the notebook shows how to watch it live in a browser:
    from grader.lab.market import FakeMarketAPI
    api = FakeMarketAPI(moving=True)
    app = create_app(base_url=api.base_url, transport=api.transport(), poll_interval=0.5)
"""

import asyncio
import json
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
    """Given: raise it where the market API fails; `status` is what an HTTP caller gets.
    An @app.errorhandler(UpstreamError) can turn it into {"error": message}, status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Poller:
    """Given: one symbol's polling task and the queues of its subscribers."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.queues: set[asyncio.Queue[str | None]] = set()
        self.latest: dict[str, Any] | None = None  # the last price it fetched
        self.task: asyncio.Task[None] | None = None


def offer(queue: asyncio.Queue[str | None], message: str | None) -> None:
    """Put `message` on `queue` without ever waiting: a full queue loses its oldest message."""
    # TODO (task 4): put_nowait; on asyncio.QueueFull, get_nowait (the oldest) and try again.
    raise NotImplementedError


def create_app(
    *,
    base_url: str = "https://api.example.com",
    transport: httpx.AsyncBaseTransport | None = None,
    poll_interval: float = 1.0,
) -> Quart:
    app = Quart(__name__)

    # TODO (task 1): one httpx.AsyncClient(base_url=..., transport=...) made in
    #                @app.before_serving. GET /stocks/<symbol>: 400 unless SYMBOL.fullmatch
    #                (before any request); the upstream's GET /stocks/<SYMBOL upper-cased>
    #                becomes {"symbol", "price", "ts": time.time()}; upstream 404 -> 404,
    #                other failures -> 502, no answer within FETCH_TIMEOUT in all -> 504.
    # TODO (task 2): websocket /ws/stocks/<symbol>: refuse a bad symbol (a 400 before
    #                accepting); one Poller per symbol (a dict made here), whose task fetches
    #                the price every poll_interval and puts one JSON message on each
    #                subscriber's queue without waiting (put_nowait until task 4's offer is
    #                written); each handler sends what its own queue holds.
    # TODO (task 3): the first subscriber of a symbol starts its poller; when the last one
    #                leaves (`finally:`), cancel the poller's task and forget the poller.
    # TODO (task 4): each subscriber's queue is asyncio.Queue(maxsize=QUEUE_SIZE), fed with
    #                offer(): the poller never waits for a slow reader.
    # TODO (task 5): a failed poll offers {"symbol", "error"} and polling goes on; after n
    #                failures in a row wait min(poll_interval * 2**n, MAX_BACKOFF); a price
    #                resets n to 0.
    # TODO (task 6): GET /stocks/<symbol> answers the poller's latest price when one runs;
    #                otherwise a price fetched less than CACHE_SECONDS ago (loop time), or a
    #                fresh one.
    # TODO (task 7): @app.after_serving: cancel the pollers and wait for them, close each
    #                subscriber's socket (offer None; the handler closes with GOING_AWAY),
    #                then close the HTTP client.
    raise NotImplementedError
