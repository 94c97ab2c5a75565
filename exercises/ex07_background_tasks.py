"""Chapter 07: background tasks.

Edit this file, then check it:  grader check 07
Stuck? Ask for a hint:          grader hint 07

Try it with a sender that records what it sends (nothing leaves your machine):
    from grader.lab.outbox import Outbox
    outbox = Outbox(delay=0.5)
    app = create_app(send_email=outbox.send)
Error answers are JSON objects with an "error" string.
"""

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
    # TODO (task 1): wait 3 seconds without blocking the event loop, then
    #                print(f"Email sent to {to}").
    raise NotImplementedError


def create_app(*, send_email: SendEmail | None = None) -> Quart:
    app = Quart(__name__)

    # TODO (task 2): POST /send-email {"to", "subject", "body"} answers 202
    #                {"message": "Email is being sent", "job_id": "..."} at once, and sends
    #                in a background task that the app tracks (app.add_background_task).
    #                Send with `send_email`, or with default_send_email when it is None
    #                (look default_send_email up by name).
    # TODO (task 3): 400 with a JSON error when the body is not a JSON object, a field is
    #                missing or not a string, or "to" has no "@". Never a 500.
    # TODO (task 4): GET /jobs/<job_id> answers {"job_id": ..., "status": "pending"}, then
    #                "done" once sent; an unknown id is a 404. Unique ids, jobs kept per app.
    # TODO (task 5): a send that raises: status "failed", the exception logged with its
    #                traceback (app.logger.exception), nothing left unhandled.
    # TODO (task 6): shutdown waits until every accepted email is sent, also when sends
    #                take longer than Quart's default 5 s. No send takes longer than
    #                SEND_TIMEOUT: one that hangs is given up then, and its job is "failed".
    raise NotImplementedError
