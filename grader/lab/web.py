"""Checking a learner's Quart app through its test client, in virtual time.

Every app made by `build_app` is watched: an exception raised inside it while `call()` waits
for an answer (in a route, a hook, an error handler) is kept on the `Reply`. When the answer
is not what a check expected, `expect_status` and friends show that exception, the
learner's line that raised it and a hint that fits it, instead of a bare "answered 500";
`--verbose` shows its traceback (the failure is raised from it).
"""

from __future__ import annotations

import ast
import json
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

from .clock import within
from .feedback import CheckFailed, fail, show


@dataclass
class Reply:
    """What an HTTP call answered, read once so checks can look at it freely."""

    call: str
    status: int
    content_type: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    # Exceptions raised inside the app while it answered, in the order they were raised.
    raised: list[BaseException] = field(default_factory=list)
    # Whether a route of the app matches the path (for some method); None when unknown.
    routed: bool | None = None
    # The rule that matched the path and method (such as "/items/<int:item_id>"), and the
    # values its converters made of the path (such as {"item_id": 42}).
    rule: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    watch: Watch | None = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        """A response header, whatever the case of its name."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    @property
    def crash(self) -> BaseException | None:
        """The last exception the app raised that is not an HTTP error (404, 405...)."""
        return next((e for e in reversed(self.raised) if not is_http_error(e)), None)

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
    app = getattr(client, "app", None)
    raised: list[BaseException] = []
    token = _RAISED.set(raised)  # the app's tasks are made from here: they see this list
    try:
        response = await within(
            seconds, client.open(path, method=method, **kwargs), text, hint=hint
        )
    finally:
        _RAISED.reset(token)
    body = await response.get_data(as_text=True)
    return Reply(
        text,
        response.status_code,
        response.content_type or "",
        body,
        dict(response.headers),
        raised=raised,
        watch=_WATCHED.get(app) if app is not None else None,
        **route_of(app, method, path),
    )


SHUTDOWN_HINT = (
    "Look at your after_serving and while_serving functions, and at the background work "
    "shutdown waits for: each must end, or be bounded with asyncio.timeout(...)."
)


@asynccontextmanager
async def serving(
    app: Any, *, patience: float = 60, hint: str = SHUTDOWN_HINT
) -> AsyncIterator[Any]:
    """The app as a server runs it: before_serving hooks first, after_serving at the end.
    Start-up and shutdown may take `patience` loop seconds each (Quart's test app alone gives
    up after 6 with a bare TimeoutError); a shutdown that takes longer fails with a message."""
    test_app = app.test_app_class(app, startup_timeout=patience, shutdown_timeout=patience)
    try:
        await test_app.startup()
    except TimeoutError:
        fail(
            f"The app's start-up had not completed after {patience:g} s of event-loop time",
            expected="before_serving functions that finish",
            got="still waiting: something at start-up waits for what never ends",
            hint="A before_serving function must return: start long-running work as a task "
            "(or app.add_background_task) instead of awaiting it there.",
        )
    try:
        yield test_app.test_client()
    except BaseException:
        with suppress(TimeoutError):  # the check's own failure is the one to report
            await test_app.shutdown()
        raise
    try:
        await test_app.shutdown()
    except TimeoutError:
        fail(
            f"The app's shutdown had not completed after {patience:g} s of event-loop time",
            expected="shutdown ends once the work it waits for has finished",
            got="still waiting: something at shutdown waits for what never ends",
            hint=hint,
        )


def expect_status(reply: Reply, status: int, *, hint: str = "") -> None:
    if reply.status != status:
        unexpected_status(reply, f"status {status}", hint=hint)


def unexpected_status(reply: Reply, expected: str, *, hint: str = "") -> NoReturn:
    """Fail on an answer with the wrong status, naming its cause when the app shows it: an
    exception raised in the learner's code, an HTTP error that the learner's catch-all error
    handler turned into a 500, or a path that no route matches."""
    crash = reply.crash
    if crash is not None and reply.status >= 500:
        raise crashed(reply, crash, expected, hint) from crash
    http_errors = [e for e in reply.raised if is_http_error(e)]
    code = getattr(http_errors[-1], "code", None) if http_errors else None
    if reply.status == 500 and code not in (None, 500):
        error = http_errors[-1]
        name = type(error).__name__
        raise CheckFailed(
            f"{reply.call} answered 500: your error handler turned a {code} ({name}) into a 500",
            expected=expected,
            got=reply.describe(),
            hint=f"Quart raised {name} ({code}) for this request, and it went to your "
            "@app.errorhandler(Exception): HTTP errors are exceptions too. Register a handler "
            "for HTTPException (Quart picks the most specific handler), which answers "
            "error.code, or let the catch-all handler return an HTTPException as it is.",
        ) from error
    if reply.status == 404 and reply.routed is False:
        fail(
            f"{reply.call} answered 404: no route of your app matches "
            f"{urlsplit(reply.call.split(' ', 1)[1]).path}",
            expected=expected,
            got=reply.describe(),
            hint=hint
            or 'Register the route inside create_app, with a decorator such as @app.get("/path").',
        )
    fail(
        f"{reply.call} answered {reply.status}", expected=expected, got=reply.describe(), hint=hint
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


def expect_allow(reply: Reply, method: str, *, hint: str) -> None:
    """A 405 names the methods the route accepts in Allow (HTTP requires it)."""
    if method not in (reply.header("Allow") or ""):
        fail(
            f"{reply.call} answered 405 without the Allow header",
            expected=f"Allow: the methods the route accepts ({method}, ...)",
            got=f"headers: {show(reply.headers)}",
            hint=hint,
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
    watch_app(app, learner)
    return app


# The exceptions raised inside watched apps during the current `call()`.
_RAISED: ContextVar[list[BaseException] | None] = ContextVar("grader_raised", default=None)


@dataclass
class Watch:
    """The learner behind a watched app: where its exceptions are reported."""

    path: Path
    relpath: str
    source: str


_WATCHED: weakref.WeakKeyDictionary[Any, Watch] = weakref.WeakKeyDictionary()


def watch_app(app: Any, learner: Any) -> None:
    """Note every exception raised while `app` handles a request: Quart hands each one to
    handle_user_exception (then to the learner's error handlers) or, unhandled, to
    handle_exception. Both are wrapped on this app object only."""
    if app in _WATCHED:
        return
    try:
        source = Path(learner.path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        source = ""
    _WATCHED[app] = Watch(Path(learner.path), learner.relpath, source)
    for name in ("handle_user_exception", "handle_exception"):
        setattr(app, name, noting(getattr(app, name)))


def noting(handle: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    # Quart 0.22 calls handle_*(error), Quart 0.23 handle_*(ctx, error): the error is last.
    async def handle_and_note(*args: Any, **kwargs: Any) -> Any:
        error = kwargs.get("error", args[-1] if args else None)
        if isinstance(error, BaseException):
            note(error)
        try:
            return await handle(*args, **kwargs)
        except Exception as raised:  # an error handler that raised: noted, then as before
            note(raised)
            raise

    return handle_and_note


def note(error: BaseException) -> None:
    raised = _RAISED.get()
    if raised is not None and not any(e is error for e in raised):
        raised.append(error)


def is_http_error(error: BaseException) -> bool:
    from werkzeug.exceptions import HTTPException

    return isinstance(error, HTTPException)


def route_of(app: Any, method: str, path: str) -> dict[str, Any]:
    """Reply fields from the app's URL map: whether any rule matches the path (for any
    method), and the rule and converted values for this method."""
    url_map = getattr(app, "url_map", None)
    if url_map is None:
        return {}
    from werkzeug.exceptions import MethodNotAllowed, NotFound
    from werkzeug.routing import RequestRedirect

    try:
        rule, arguments = url_map.bind("localhost").match(
            unquote(urlsplit(path).path), method=method, return_rule=True
        )
    except MethodNotAllowed:
        return {"routed": True}
    except NotFound:
        return {"routed": False}
    except RequestRedirect:
        return {"routed": True}
    return {"routed": True, "rule": rule.rule, "arguments": dict(arguments)}


# Mistakes in the code itself: for these the check's own hint (about what the route should
# do) would point elsewhere, so the hint is about the exception.
CODING_ERRORS = (
    NameError,
    AttributeError,
    TypeError,
    KeyError,
    IndexError,
    ImportError,
    RuntimeError,
    AssertionError,
    ZeroDivisionError,
)


def crashed(reply: Reply, crash: BaseException, expected: str, hint: str = "") -> CheckFailed:
    """The failure for an answer spoiled by an exception raised in the app: the exception,
    the learner's line it came through, and a hint that fits it."""
    from ..explain import explain

    watch = reply.watch
    name = type(crash).__name__
    first_line = str(crash).strip().split("\n", 1)[0]
    text = f"{name}: {first_line}" if first_line else name
    where = None
    advice = hint
    if watch is not None:
        feedback = explain(crash, watch.path, watch.relpath)
        where = feedback.where
        if isinstance(crash, CODING_ERRORS) or not advice:
            advice = feedback.hint or advice
        flask = flask_import(watch)
        # Flask's request, jsonify, current_app... look for a Flask context a Quart app
        # never sets up: RuntimeError "Working outside of request/application context".
        if flask is not None and isinstance(crash, RuntimeError) and "context" in first_line:
            advice = (
                f"{watch.relpath}, line {flask[0]} imports from flask: `{flask[1]}`. This app "
                "is a Quart app: import request, jsonify and the rest from quart. Flask's "
                "versions only work inside a Flask request, hence this RuntimeError."
            )
    if where is None:
        cause = f"of an exception raised outside your file: {text}"
        advice = "Run again with --verbose to see the whole traceback."
    else:
        cause = f"your code raised {text}"
    return CheckFailed(
        f"{reply.call} answered {reply.status} because {cause}",
        expected=expected,
        got=reply.describe(),
        hint=advice or None,
        where=where,
    )


def flask_import(watch: Watch) -> tuple[int, str] | None:
    """The learner's first `import flask` / `from flask... import ...`, if any."""
    try:
        tree = ast.parse(watch.source)
    except SyntaxError:
        return None
    lines = watch.source.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if any(n == "flask" or n.startswith("flask.") for n in names):
            return node.lineno, lines[node.lineno - 1].strip()
    return None
