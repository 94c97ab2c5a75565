"""Chapter 13: blocking code (reference solution)."""

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
    # The call runs in a worker thread of the loop's default executor; this coroutine
    # waits for it with `await`, so the loop serves everything else meanwhile. Called
    # here directly, blocking_task would freeze every task for 0.2 s.
    return await asyncio.to_thread(blocking_task, n)


async def cpu_bound(values: list[int]) -> list[int]:
    # CPU work in threads gains nothing where one interpreter lock lets one thread run
    # Python at a time: processes each have their own. The pool is made for this call and
    # shut down after it; an app that does this often keeps one, made in before_serving,
    # like the thread pool below.
    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor()
    try:
        # cpu_heavy travels to the workers by name (module and function), which is why it
        # is defined at the top level of this module: a lambda or a nested function
        # cannot be pickled. Whatever the start method (fork, spawn, forkserver), a worker
        # finds it by importing this module.
        futures = [loop.run_in_executor(pool, cpu_heavy, value) for value in values]
        # gather keeps the order of its arguments, whatever order the work finishes in.
        return list(await asyncio.gather(*futures))
    finally:
        # wait=False: the loop does not wait for the workers to exit. cancel_futures drops
        # work not started yet when we leave early (an error, a cancellation).
        pool.shutdown(wait=False, cancel_futures=True)


def create_app(*, max_workers: int = 5) -> Quart:
    app = Quart(__name__)
    add_json_errors(app)

    @app.before_serving
    async def start_pool() -> None:
        # One pool per app, for the app's whole life, sized by the caller. The article's
        # module-level pool is made at import, shared by every app and test of the
        # process, and never shut down.
        app.extensions["report_pool"] = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="report"
        )

    @app.after_serving
    async def stop_pool() -> None:
        pool: ThreadPoolExecutor = app.extensions.pop("report_pool")
        # shutdown(wait=True) waits for running jobs: in a thread, so the loop stays free
        # for whatever else runs at shutdown.
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    @app.get("/report/<int:n>")
    async def report(n: int) -> ResponseReturnValue:
        # Bad input is the client's error, answered before any work: a 400, not a 500 when
        # the answer cannot be written (nor a worker held for nothing).
        if n > MAX_N:
            return {"error": f"n must be at most {MAX_N}"}, 400
        loop = asyncio.get_running_loop()
        # At most max_workers reports run at once; the rest queue inside the pool, and
        # none of them holds up the loop.
        result = await loop.run_in_executor(app.extensions["report_pool"], blocking_task, n)
        return {"result": result}

    @app.get("/ping")
    async def ping() -> ResponseReturnValue:
        return {"status": "ok"}

    return app
