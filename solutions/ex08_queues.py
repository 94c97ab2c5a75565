"""Chapter 08: queues and workers (reference solution)."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart, ResponseReturnValue, request
from werkzeug.exceptions import HTTPException

TASK_SECONDS = 2.0
RETRY_AFTER_SECONDS = 2

ProcessTask = Callable[[dict[str, Any]], Awaitable[Any]]


async def default_process_task(payload: dict[str, Any]) -> None:
    """The article's stand-in for real work: 2 s of waiting (an API call, a report...)."""
    await asyncio.sleep(TASK_SECONDS)


def create_app(
    *,
    workers: int = 2,
    maxsize: int = 100,
    process_task: ProcessTask | None = None,
    batch_concurrency: int = 4,
) -> Quart:
    if workers < 1 or maxsize < 1 or batch_concurrency < 1:
        # asyncio.Queue(maxsize=0) means *unbounded*, and 0 workers would accept tasks that
        # nobody ever runs: refuse both now rather than fail quietly while serving.
        raise ValueError("workers, maxsize and batch_concurrency must each be at least 1")
    process = process_task or default_process_task
    app = Quart(__name__)
    # Per app, inside create_app: two apps (two tests, say) never share a queue or counts.
    counts = {"in_progress": 0, "processed": 0, "failed": 0}

    async def worker() -> None:
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = app.extensions["task_queue"]
        while True:
            task_id, payload = await queue.get()
            counts["in_progress"] += 1
            try:
                await process(payload)
            except Exception:
                # One bad task must not end the worker (the article's worker dies here and
                # every later task waits forever). CancelledError is not an Exception, so
                # cancelling the worker at shutdown still stops it.
                counts["failed"] += 1
                app.logger.exception("task %s failed", task_id)
            else:
                counts["processed"] += 1
            finally:
                counts["in_progress"] -= 1
                # queue.join() returns once every get() has had its task_done().
                queue.task_done()

    @app.before_serving
    async def start_workers() -> None:
        # Made when serving starts, on the loop that serves: not in create_app (an app can
        # be built and never served), not per request.
        app.extensions["task_queue"] = asyncio.Queue(maxsize)
        # Plain tasks, not app.add_background_task: at shutdown Quart waits for background
        # tasks (BACKGROUND_TASK_SHUTDOWN_TIMEOUT, 5 s) and cancels them *before*
        # after_serving runs, so a worker that never returns would be cancelled with tasks
        # still queued. The list keeps a strong reference to each task.
        app.extensions["task_workers"] = [
            asyncio.create_task(worker(), name=f"worker-{n}") for n in range(workers)
        ]

    @app.after_serving
    async def drain_then_stop() -> None:
        # Every task answered with 202 is processed before the workers go: join() waits
        # until the queue is empty and the last task is done, then the idle workers
        # (waiting in queue.get()) are cancelled and awaited.
        await app.extensions["task_queue"].join()
        tasks: list[asyncio.Task[None]] = app.extensions.pop("task_workers")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @app.post("/enqueue-task")
    async def enqueue_task() -> ResponseReturnValue:
        payload = await request.get_json(silent=True)
        if not isinstance(payload, dict):
            return {"error": "send a JSON object: the task's payload"}, 400
        task_id = uuid.uuid4().hex
        try:
            # put_nowait, not `await queue.put(...)`: a full queue answers 503 at once
            # instead of holding the request (and its connection) until a slot frees up.
            app.extensions["task_queue"].put_nowait((task_id, payload))
        except asyncio.QueueFull:
            return (
                {"error": "too many tasks are waiting: try again later"},
                503,
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        # Data on the queue, not a closure: the payload can be counted, logged, or moved
        # to a durable queue later; a lambda can only be called.
        return {"message": "Task enqueued", "task_id": task_id}, 202

    @app.get("/queue/stats")
    async def queue_stats() -> dict[str, int]:
        queue: asyncio.Queue[Any] = app.extensions["task_queue"]
        # qsize() counts tasks waiting; a task a worker has taken is "in_progress".
        return {"queued": queue.qsize(), **counts}

    @app.post("/process-batch")
    async def process_batch() -> ResponseReturnValue:
        body = await request.get_json(silent=True)
        batches = body.get("batches") if isinstance(body, dict) else None
        if not isinstance(batches, list) or not all(isinstance(b, list) for b in batches):
            return {"error": 'send {"batches": [[...], [...]]}: a list of lists'}, 400
        # A semaphore per request bounds this request's batches; the article starts them all.
        limit = asyncio.Semaphore(batch_concurrency)

        async def run(batch: list[Any]) -> None:
            async with limit:
                await process({"batch": batch})

        async with asyncio.TaskGroup() as tg:
            for batch in batches:
                tg.create_task(run(batch))
        # The work is finished, so 200 with the result. 202 means "accepted, not done yet"
        # (what /enqueue-task answers); the article answers 202 after waiting for it all.
        return {"processed": len(batches)}, 200

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
