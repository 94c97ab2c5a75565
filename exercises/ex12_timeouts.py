"""Chapter 12: timeouts and cancellation.

Edit this file, then check it:  grader check 12
Stuck? Ask for a hint:          grader hint 12

The rule of the chapter: a cancellation is a CancelledError that arrives at an `await`. Let
it run your cleanup (`finally`), then let it go on: never swallow it.
Error answers of the app are JSON objects with an "error" string.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from quart import Quart, ResponseReturnValue, request
from werkzeug.exceptions import HTTPException

T = TypeVar("T")

# The longest deadline a caller may ask for with ?timeout=.
MAX_TIMEOUT = 30.0


async def fetch_data() -> str:
    """Given: the article's fetch, two seconds of waiting for another service."""
    await asyncio.sleep(2)
    return "Data fetched!"


async def fetch_with_timeout(fetch: Callable[[], Awaitable[T]], timeout: float = 5.0) -> T | None:
    # TODO (task 1): return `await fetch()`, or None when it has not finished within
    #                `timeout` seconds. By then the fetch must be cancelled and its cleanup
    #                (its finally blocks) finished. A failing fetch raises its own error, and
    #                a cancellation of the caller goes on (never becomes None).
    raise NotImplementedError


async def race(factories: Sequence[Callable[[], Awaitable[T]]], timeout: float) -> T:
    # TODO (task 2): start every factory() at once and return the first result; the others
    #                are cancelled, and have finished, before you return. None in time:
    #                raise TimeoutError, again with every one cancelled and finished.
    raise NotImplementedError


async def with_resource(
    acquire: Callable[[], Awaitable[Any]],
    release: Callable[[Any], Awaitable[Any]],
    work: Callable[[Any], Awaitable[T]],
) -> T:
    # TODO (task 3): resource = await acquire(); return await work(resource); and always
    #                await release(resource): on success, on failure and on cancellation.
    #                The error or the cancellation goes on to the caller.
    raise NotImplementedError


async def save_then_reply(commit: Callable[[], Awaitable[T]]) -> T:
    # TODO (task 4): return the result of `await commit()`, so that cancelling the caller
    #                does not abort the commit (it still completes), while the caller still
    #                sees its cancellation.
    raise NotImplementedError


def create_app(*, fetch: Callable[[], Awaitable[Any]] | None = None, timeout: float = 5.0) -> Quart:
    app = Quart(__name__)

    # TODO (task 5): GET /data answers {"data": <what fetch() returned>} (fetch_data when
    #                fetch is None), or 504 with a JSON error when fetch takes longer than
    #                `timeout` seconds. ?timeout=1.5 sets this request's deadline instead:
    #                a number with 0 < t <= MAX_TIMEOUT, otherwise 400 before fetching.
    raise NotImplementedError
