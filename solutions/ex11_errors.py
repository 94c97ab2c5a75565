"""Chapter 11: errors, logging and retries (reference solution)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from quart import Quart, ResponseReturnValue
from werkzeug.exceptions import HTTPException

T = TypeVar("T")

# One logger per module, named after it. Where records go and from which level is decided
# once, by whoever starts the program (logging.basicConfig or dictConfig at startup); a
# module that calls basicConfig itself overrides the application's choice.
logger = logging.getLogger(__name__)

MULTI_NAMES = ("a", "b", "c")
RETRY_AFTER_SECONDS = 30


class TransientError(Exception):
    """A failure that may go away by itself: a timeout, a 503, a dropped connection.
    Only these are worth another attempt."""


class FlakyService:
    """The article's unreliable data service: every call takes `delay` seconds (2, as in
    the article), and the first `failures` calls raise TransientError. Call it as
    `service()` or `service(name)`."""

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
    attempt = 0
    while True:
        try:
            return await fetch()
        except TransientError as error:
            # Only a TransientError is retried: a bug (KeyError, ValueError...) fails the
            # same way every time, so it propagates at once. CancelledError is not an
            # Exception at all: a cancelled caller stops here, with no further attempt.
            if attempt >= retries:
                # Give up without a last pointless wait, and raise the last error as it is:
                # its message and traceback say what went wrong, where None would say nothing.
                raise
            # Exponential backoff: 1, 2, 4 s... gives a struggling service room to recover.
            # Production code adds random jitter so that many clients do not retry in step;
            # this exercise keeps the waits exact so that they can be checked.
            delay = base_delay * 2**attempt
            logger.warning(
                "attempt %d of %d failed (%s); retrying in %g s",
                attempt + 1,
                retries + 1,
                error,
                delay,
            )
            await asyncio.sleep(delay)
            attempt += 1


# The event loop keeps only weak references to tasks: a task that nothing else holds can
# be garbage-collected before it finishes. This set holds every task spawn starts until it
# is done (the pattern of the asyncio documentation).
_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    task = asyncio.create_task(coro)
    _running.add(task)
    task.add_done_callback(_task_done)
    return task


def _task_done(task: asyncio.Task[Any]) -> None:
    _running.discard(task)  # done: let it go, or the set grows for ever
    if task.cancelled():
        # Someone asked for it (a shutdown, a timeout): not an error. And task.exception()
        # would raise CancelledError here, inside a callback.
        logger.debug("background task %s was cancelled", task.get_name())
        return
    error = task.exception()  # reading it also tells asyncio that someone has seen it
    if error is not None:
        # Nobody awaits a background task: this is the one place its failure can be seen.
        # exc_info carries the traceback into the log.
        logger.error("background task %s failed", task.get_name(), exc_info=error)


def create_app(*, fetch: Callable[..., Awaitable[Any]] | None = None) -> Quart:
    app = Quart(__name__)
    # One flaky service per app: every app (every test) meets its first two failures.
    source = fetch if fetch is not None else FlakyService()

    @app.get("/retry-data")
    async def retry_data() -> ResponseReturnValue:
        try:
            data = await fetch_with_retry(source)
        except TransientError:
            # Still failing after every retry: the service is down for now. 503 says "try
            # later" (Retry-After says when); a 500 would say that this app is broken.
            return (
                {"error": "the data service is unavailable, try again later"},
                503,
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        # Any other exception propagates to the error handler below: a 500, logged.
        return {"data": data}

    @app.get("/boom")
    async def boom() -> ResponseReturnValue:
        # An unexpected failure whose text must never reach a client: it names an internal
        # host and a password, as real exception messages often do.
        raise RuntimeError("cannot connect to postgresql://app:hunter2@db.internal:5432/orders")

    @app.get("/multi")
    async def multi() -> ResponseReturnValue:
        results: dict[str, Any] = {}
        errors: dict[str, str] = {}

        async def one(name: str) -> None:
            # Each sub-fetch handles its own failure, so that it never cancels the others
            # (a TaskGroup cancels every task when one raises). CancelledError is not an
            # Exception: a cancelled request still stops all three.
            try:
                results[name] = await source(name)
            except TransientError:
                logger.warning("fetching %r failed for now", name, exc_info=True)
                errors[name] = "temporarily unavailable"
            except Exception:
                logger.exception("fetching %r failed", name)
                errors[name] = "failed"

        async with asyncio.TaskGroup() as tg:
            for name in MULTI_NAMES:
                tg.create_task(one(name))
        return {"results": results, "errors": errors}

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        # Keep the headers HTTP requires, such as Allow on a 405.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        # The whole story goes to the log, with the traceback; the client gets a fixed
        # message. str(error) may hold hosts, paths, SQL or passwords.
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
