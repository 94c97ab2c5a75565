"""Chapter 08: queues and workers.

Edit this file, then check it:  grader check 08
Stuck? Ask for a hint:          grader hint 08

default_process_task is given: with process_task=None, the workers call it by name.
Error answers are JSON objects with an "error" string.
"""

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
    app = Quart(__name__)

    # TODO (task 1): in @app.before_serving, make this app's asyncio.Queue(maxsize) (keep it
    #                in app.extensions). POST /enqueue-task with a JSON object puts
    #                (task_id, payload) on it and answers 202
    #                {"message": "Task enqueued", "task_id": ...} at once; 400 for a body
    #                that is not a JSON object.
    # TODO (task 2): also in before_serving, start `workers` worker tasks; each takes tasks
    #                from the queue and awaits process_task(payload), one after another
    #                (process_task=None: default_process_task).
    # TODO (task 3): a task that raises is counted as failed and logged; its worker goes on.
    # TODO (task 4): GET /queue/stats -> {"queued", "in_progress", "processed", "failed"}.
    # TODO (task 5): a full queue -> 503 at once, with a Retry-After header.
    # TODO (task 6): @app.after_serving: wait until every queued task is done, then stop
    #                the workers.
    # TODO (task 7): POST /process-batch {"batches": [[...], ...]}: process_task({"batch": b})
    #                for every batch, concurrently, at most batch_concurrency at once; then
    #                200 {"processed": n}. 400 unless "batches" is a list of lists.
    raise NotImplementedError
