"""Chapter 12: timeouts and cancellation (reference solution)."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from quart import Quart, ResponseReturnValue, request
from werkzeug.exceptions import HTTPException

T = TypeVar("T")

# The longest deadline a caller may ask for with ?timeout=: a request that may hold a worker
# for an hour is a denial of service waiting to happen.
MAX_TIMEOUT = 30.0


async def fetch_data() -> str:
    """The article's fetch: two seconds of waiting for another service, here a sleep."""
    await asyncio.sleep(2)
    return "Data fetched!"


async def fetch_with_timeout(fetch: Callable[[], Awaitable[T]], timeout: float = 5.0) -> T | None:
    deadline = asyncio.timeout(timeout)
    try:
        # At the deadline, asyncio.timeout cancels what the block awaits: a CancelledError
        # arrives inside fetch(), whose except and finally blocks run, and only once they
        # have finished does the block end with TimeoutError. So the fetch has cleaned up
        # before we return None.
        async with deadline:
            return await fetch()
    except TimeoutError:
        if deadline.expired():
            return None
        # A TimeoutError of the fetch's own (an inner deadline) is its failure, not ours.
        raise
    # No `except Exception`: a failing fetch raises its own error. Turning it into None
    # (as the article does) leaves the caller unable to tell "too slow" from "broken".


async def race(factories: Sequence[Callable[[], Awaitable[T]]], timeout: float) -> T:
    tasks = [asyncio.ensure_future(factory()) for factory in factories]
    try:
        async with asyncio.timeout(timeout):
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        # Of several that finished at the same moment, the first in the list wins. Its
        # result() re-raises its exception when the first to finish failed.
        return next(task for task in tasks if task in done).result()
    finally:
        # Every way out (a winner, the deadline, a failure, our own caller cancelling us)
        # passes here: no loser may keep running behind our back.
        for task in tasks:
            task.cancel()
        # cancel() is only a request: wait until every loser has run its cleanup. gather
        # with return_exceptions keeps their CancelledErrors from being raised here.
        await asyncio.gather(*tasks, return_exceptions=True)


async def with_resource(
    acquire: Callable[[], Awaitable[Any]],
    release: Callable[[Any], Awaitable[Any]],
    work: Callable[[Any], Awaitable[T]],
) -> T:
    # Outside the try: when acquire fails there is nothing to release (and no `resource`).
    resource = await acquire()
    try:
        return await work(resource)
    finally:
        # `finally`, not `except Exception`: CancelledError is a BaseException, so an
        # `except Exception` never sees a cancellation. And no `except` at all: whatever
        # ended the work (an error, a cancellation) carries on once the resource is back.
        await release(resource)


async def save_then_reply(commit: Callable[[], Awaitable[T]]) -> T:
    # The commit runs as a task of its own. shield() protects it: cancelling us cancels
    # our wait for the commit, not the commit itself.
    saving = asyncio.ensure_future(commit())
    try:
        return await asyncio.shield(saving)
    except asyncio.CancelledError:
        # Our caller gave up (a client that went away, a deadline). Let the commit finish
        # before we go, so that nothing we started outlives us unwatched: asyncio.wait
        # cancels nothing, even if we are cancelled again. Then pass the cancellation on:
        # swallowing it would tell our caller that we finished normally.
        await asyncio.wait([saving])
        raise


def create_app(*, fetch: Callable[[], Awaitable[Any]] | None = None, timeout: float = 5.0) -> Quart:
    app = Quart(__name__)
    get_data = fetch if fetch is not None else fetch_data

    def deadline_from(raw: str | None) -> float | None:
        """The request's deadline in seconds, or None when ?timeout= is not one."""
        if raw is None:
            return timeout
        try:
            seconds = float(raw)
        except ValueError:
            return None
        # Written as a range that must hold: float("nan") compares False with everything,
        # so `seconds <= 0 or seconds > MAX_TIMEOUT` would let NaN through.
        return seconds if 0 < seconds <= MAX_TIMEOUT else None

    @app.get("/data")
    async def data() -> ResponseReturnValue:
        seconds = deadline_from(request.args.get("timeout"))
        if seconds is None:
            return {"error": f"timeout must be a number of seconds, 0 < t <= {MAX_TIMEOUT:g}"}, 400
        # Not fetch_with_timeout: its None would make a fetch that answers None a 504.
        deadline = asyncio.timeout(seconds)
        try:
            async with deadline:
                result = await get_data()
        except TimeoutError:
            if not deadline.expired():
                raise
            return {"error": f"no data within {seconds:g} s"}, 504
        return {"data": result}

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
