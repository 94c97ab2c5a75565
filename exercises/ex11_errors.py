"""Chapter 11: errors, logging and retries.

Edit this file, then check it:  grader check 11
Stuck? Ask for a hint:          grader hint 11

Try it with the article's flaky service (nothing leaves your machine):
    service = FlakyService(delay=0.1)          # its first two calls raise TransientError
    await fetch_with_retry(service, base_delay=0.1)
    app = create_app(fetch=FlakyService(delay=0.1))
Error answers are JSON objects with an "error" string.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from quart import Quart, ResponseReturnValue
from werkzeug.exceptions import HTTPException

T = TypeVar("T")

# The module's logger, made once. Log through it; never configure logging in this file
# (whoever starts the program does that, once).
logger = logging.getLogger(__name__)

MULTI_NAMES = ("a", "b", "c")


class TransientError(Exception):
    """Given: a failure that may go away by itself (a timeout, a 503, a dropped
    connection). Only these are worth another attempt."""


class FlakyService:
    """Given: the article's unreliable data service. Every call takes `delay` seconds, and
    the first `failures` calls raise TransientError. Call it as `service()` or
    `service(name)`: it returns "Data fetched!" or "Data <name> fetched!"."""

    def __init__(self, *, failures: int = 2, delay: float = 2.0) -> None:
        self.failures = failures
        self.delay = delay
        self.calls = 0

    async def __call__(self, name: str | None = None) -> str:
        self.calls += 1
        call = self.calls
        await asyncio.sleep(self.delay)
        if call <= self.failures:
            raise TransientError(f"the data service is busy (call {call}, simulated)")
        return "Data fetched!" if name is None else f"Data {name} fetched!"


async def fetch_with_retry(
    fetch: Callable[[], Awaitable[T]], *, retries: int = 3, base_delay: float = 1.0
) -> T:
    # TODO (task 1): return `await fetch()`. On TransientError wait base_delay * 2**attempt
    #                seconds (1, 2, 4...) and call it again: at most `retries` more times.
    # TODO (task 2): logger.warning(...) before each retry. Any other exception propagates at
    #                once. When every attempt failed, raise the last TransientError, at once.
    raise NotImplementedError


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    # TODO (task 3): start `coro` as a task and return it; hold a strong reference to it
    #                until it is done, then drop it.
    # TODO (task 4): when the task ends with an exception, log it at ERROR with its
    #                traceback; a cancelled task is not an error.
    raise NotImplementedError


def create_app(*, fetch: Callable[..., Awaitable[Any]] | None = None) -> Quart:
    app = Quart(__name__)

    # TODO (task 5): the data source is `fetch`, or a new FlakyService() for this app.
    #                GET /retry-data -> 200 {"data": ...} through fetch_with_retry (call it by
    #                name); every retry failed -> 503 with a JSON error.
    # TODO (task 6): GET /boom raises an exception. Any unexpected exception -> 500
    #                {"error": "internal server error"}, never its text, and it is logged.
    #                404 and 405 -> JSON errors (keep the Allow header of a 405).
    # TODO (task 7): GET /multi -> fetch("a"), fetch("b"), fetch("c") at once (MULTI_NAMES);
    #                200 {"results": {name: value}, "errors": {name: message}}: partial results.
    raise NotImplementedError
