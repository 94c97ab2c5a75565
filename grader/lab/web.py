"""Checking a learner's Quart app through its test client, in virtual time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from .clock import within
from .feedback import fail, show


@dataclass
class Reply:
    """What an HTTP call answered, read once so checks can look at it freely."""

    call: str
    status: int
    content_type: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def describe(self) -> str:
        body = self.text if len(self.text) <= 200 else self.text[:197] + "..."
        return f"{self.status} with {self.content_type or 'no content type'}: {body!r}"


async def call(
    client: Any,
    method: str,
    path: str,
    *,
    seconds: float = 60,
    hint: str = "",
    **kwargs: Any,
) -> Reply:
    """`await call(client, "GET", "/data")`; gives up after `seconds` of loop time."""
    text = f"{method} {path}"
    response = await within(seconds, client.open(path, method=method, **kwargs), text, hint=hint)
    body = await response.get_data(as_text=True)
    return Reply(
        text, response.status_code, response.content_type or "", body, dict(response.headers)
    )


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[Any]:
    """The app as a server runs it: before_serving hooks first, after_serving at the end."""
    async with app.test_app() as test_app:
        yield test_app.test_client()


def expect_status(reply: Reply, status: int, *, hint: str = "") -> None:
    if reply.status != status:
        fail(
            f"{reply.call} answered {reply.status}",
            expected=f"status {status}",
            got=reply.describe(),
            hint=hint,
        )


def expect_json(reply: Reply, expected: Any, *, status: int = 200, hint: str = "") -> None:
    expect_status(reply, status, hint=hint)
    if "json" not in reply.content_type:
        fail(
            f"{reply.call} did not answer JSON",
            expected=f"application/json: {show(expected)}",
            got=reply.describe(),
            hint=hint or "Return a dict (or use jsonify) to answer JSON.",
        )
    if reply.json != expected:
        fail(
            f"{reply.call} answered the wrong JSON",
            expected=show(expected),
            got=show(reply.json),
            hint=hint,
        )


LEAKS = ("Traceback", 'File "', "Error:", "Exception:")


def expect_json_error(reply: Reply, status: int, *, hint: str = "") -> None:
    """An error answer: the status, a JSON object with an "error" string, and no traceback."""
    expect_status(reply, status, hint=hint)
    body = reply.json
    if not isinstance(body, dict) or not isinstance(body.get("error"), str) or not body["error"]:
        fail(
            f"{reply.call} did not answer a JSON error",
            expected=f'{status} with {{"error": "..."}}',
            got=reply.describe(),
            hint=hint
            or "Register error handlers (@app.errorhandler) that return "
            '{"error": "..."} with the status code.',
        )
    if any(leak in reply.text for leak in LEAKS):
        fail(
            f"{reply.call} leaked error details to the client",
            expected="a short message for the client; details only in the log",
            got=reply.describe(),
            hint="Log the exception (app.logger.exception) and answer a fixed message.",
        )


def build_app(learner: Any, **options: Any) -> Any:
    """`create_app(**options)` from the learner's module, which must return a new Quart app."""
    from quart import Quart  # imported here: chapters without a web app never load Quart

    create_app = learner.plain_function("create_app")
    try:
        app = create_app(**options)
    except AssertionError as error:
        if "overwriting an existing endpoint" not in str(error):
            raise
        fail(
            "create_app() registered its routes a second time on the same app",
            expected="a new app, with its routes, on every call of create_app()",
            got="Quart refused to register the same route twice on one app",
            hint="Make the app inside create_app: `app = Quart(__name__)` as its first line, "
            "not at the top of the file.",
        )
    if not isinstance(app, Quart):
        fail(
            "create_app() did not return a Quart app",
            expected="a quart.Quart instance",
            got=type(app).__name__,
            hint="Build `app = Quart(__name__)`, add routes, `return app`.",
        )
    return app
