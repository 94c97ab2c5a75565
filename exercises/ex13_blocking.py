"""Chapter 13: blocking code.

Edit this file, then check it:  grader check 13
Stuck? Ask for a hint:          grader hint 13

blocking_task and cpu_heavy are given: call them by name (the checks put stand-ins in their
place to see where they run). Keep the top level of this file to definitions: a worker
process started with "spawn" or "forkserver" imports it again.
"""

import asyncio
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from quart import Quart, ResponseReturnValue
from werkzeug.exceptions import HTTPException

BLOCKING_SECONDS = 0.2
# The largest n a report accepts: n * n of a much larger n is a number too long to
# write as JSON (Python refuses to turn an int of over 4300 digits into text).
MAX_N = 1_000_000


def blocking_task(n: int) -> int:
    """The article's blocking work: a synchronous call (a legacy driver, a library without
    async support) that holds its thread for 0.2 s, then answers n * n."""
    time.sleep(BLOCKING_SECONDS)
    return n * n


def cpu_heavy(n: int) -> int:
    """Pure CPU work, no waiting at all: the sum of the squares below n. About 0.1 s per
    million on a laptop."""
    return sum(i * i for i in range(n))


def add_json_errors(app: Quart) -> None:
    """Given (chapter 11): every error answer is a JSON object with an "error" string. A
    path that matches no route (/report/-5, /report/1.5) is a JSON 404, a wrong method a
    JSON 405 that keeps its Allow header, and an unexpected exception a JSON 500 with a
    fixed message: its text goes to the log, never to the client."""

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500


async def run_blocking(n: int) -> int:
    # TODO (task 1): run blocking_task(n) in another thread and return its result, so that
    #                the event loop goes on with other tasks while it sleeps.
    raise NotImplementedError


async def cpu_bound(values: list[int]) -> list[int]:
    # TODO (task 2): cpu_heavy(value) for every value, in the worker processes of a
    #                ProcessPoolExecutor, awaited without blocking the loop; the results in
    #                the order of `values`.
    raise NotImplementedError


def create_app(*, max_workers: int = 5) -> Quart:
    app = Quart(__name__)
    add_json_errors(app)  # given: every error answer is JSON

    # TODO (task 3): a ThreadPoolExecutor(max_workers=max_workers) made in
    #                @app.before_serving (kept in app.extensions) and shut down in
    #                @app.after_serving: one pool per app, never one at the top of the file.
    # TODO (task 4): GET /report/<int:n> -> {"result": blocking_task(n)}, run in that pool;
    #                n over MAX_N -> 400 {"error": "..."} before any work;
    #                GET /ping -> 200 at once, even while every worker is busy.
    raise NotImplementedError
