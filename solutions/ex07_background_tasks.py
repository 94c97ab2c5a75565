"""Chapter 07: background tasks (reference solution)."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart, ResponseReturnValue, request
from werkzeug.exceptions import HTTPException

SendEmail = Callable[[str, str, str], Awaitable[Any]]

FIELDS = ("to", "subject", "body")
# The longest one send may take; slower counts as failed. Shutdown waits this long for the
# sends still running, so it must stay under what your platform allows a stopping process.
SEND_TIMEOUT = 20.0


async def default_send_email(to: str, subject: str, body: str) -> None:
    """The article's sender: three seconds of talking to a mail server, here a sleep."""
    # asyncio.sleep, not time.sleep: the loop serves other requests while we wait.
    await asyncio.sleep(3)
    print(f"Email sent to {to}")


def _problem_with(data: Any) -> str | None:
    """Why a request body is not an email we can send, or None when it is one."""
    if not isinstance(data, dict):
        return 'send a JSON object {"to": ..., "subject": ..., "body": ...}'
    for field in FIELDS:
        if field not in data:
            return f"{field!r} is missing"
        # A number or a list would only fail later, inside the send, after our 202.
        if not isinstance(data[field], str):
            return f"{field!r} must be a string"
    if "@" not in data["to"]:
        return "'to' must be an email address"
    return None


def create_app(*, send_email: SendEmail | None = None) -> Quart:
    app = Quart(__name__)
    sender = send_email if send_email is not None else default_send_email
    # Quart waits this long at shutdown for background tasks, then cancels them: 5 s by
    # default, less than one slow send. Every send ends within SEND_TIMEOUT, so a little
    # more than that lets each accepted email finish, and a hung one cannot stall shutdown.
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = SEND_TIMEOUT + 5
    # Per app, never module-level: two apps (two tests, two tenants) must not share jobs.
    jobs: dict[str, str] = {}

    async def deliver(job_id: str, to: str, subject: str, body: str) -> None:
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await sender(to, subject, body)
        except Exception:
            # Nobody awaits a background task: this is the only place the failure can be
            # seen. Record it for GET /jobs/<id> and log it with its traceback.
            jobs[job_id] = "failed"
            app.logger.exception("sending email job %s to %s failed", job_id, to)
        else:
            jobs[job_id] = "done"

    @app.post("/send-email")
    async def queue_email() -> ResponseReturnValue:
        data = await request.get_json(silent=True)
        problem = _problem_with(data)
        if problem is not None:
            return {"error": problem}, 400
        # Random, not a counter or a clock: unique across requests, processes and restarts,
        # and nobody can guess the id of someone else's job.
        job_id = uuid.uuid4().hex
        jobs[job_id] = "pending"
        # The app holds the task: it cannot be garbage-collected mid-send, and shutdown
        # waits for it. A bare asyncio.create_task(...) gives neither.
        app.add_background_task(deliver, job_id, data["to"], data["subject"], data["body"])
        # 202 Accepted: taken on, not done. GET /jobs/<job_id> tells the rest.
        return {"message": "Email is being sent", "job_id": job_id}, 202

    @app.get("/jobs/<job_id>")
    async def job_status(job_id: str) -> ResponseReturnValue:
        status = jobs.get(job_id)
        if status is None:
            return {"error": "no job with this id"}, 404
        return {"job_id": job_id, "status": status}

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
