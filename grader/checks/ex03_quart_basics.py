"""Checks for chapter 03: a Quart app with routes, JSON, status codes and JSON errors."""

import asyncio

from grader.lab import Learner, Stopwatch, check, expect_seconds, fail
from grader.lab.web import Reply, build_app, call, expect_json, expect_json_error, expect_status

ROUTE_HINT = 'Register it inside create_app with a decorator such as @app.get("/path").'


def expect_text(reply: Reply, text: str, *, hint: str = "", text_hint: str = "") -> None:
    expect_status(reply, 200, hint=hint)
    if reply.text != text:
        fail(
            f"{reply.call} answered the wrong text",
            expected=repr(text),
            got=repr(reply.text),
            hint=text_hint or f"Return exactly the string {text!r}, as plain text.",
        )


@check("create_app() builds a new Quart app on every call", task=1)
async def test_create_app(learner: Learner) -> None:
    first, second = build_app(learner), build_app(learner)
    if first is second:
        fail(
            "create_app() returned the same app twice",
            expected="a new app per call, so each test and each server gets its own",
            got="one shared app object",
            hint="Create the Quart app inside create_app().",
        )


@check('GET / answers "Hello, world!"', task=1)
async def test_index(learner: Learner) -> None:
    client = build_app(learner).test_client()
    expect_text(await call(client, "GET", "/"), "Hello, world!", hint=ROUTE_HINT)


@check("GET /data awaits fetch_data(): 2 s, without blocking the loop", task=2)
async def test_data(learner: Learner) -> None:
    client = build_app(learner).test_client()
    with Stopwatch() as sw:
        reply = await call(client, "GET", "/data")
    expect_text(reply, "Data fetched!", hint="`return await fetch_data()` in an async route.")
    expect_seconds(
        sw.elapsed,
        2.0,
        what="GET /data",
        hint="Await fetch_data() once; it waits 2 s without blocking.",
    )

    async def spy_fetch_data() -> str:
        await asyncio.sleep(0.5)
        return "spied data"

    learner.patch("fetch_data", spy_fetch_data)
    reply = await call(build_app(learner).test_client(), "GET", "/data")
    expect_text(
        reply,
        "spied data",
        hint="`return await fetch_data()` in an async route.",
        text_hint="Call fetch_data() by its name and answer what it returns; do not copy its "
        "body into the route (the checks replace it).",
    )


@check("two GET /data at the same time take as long as one: 2 s", task=2)
async def test_data_concurrent(learner: Learner) -> None:
    client = build_app(learner).test_client()
    with Stopwatch() as alone:
        expect_text(await call(client, "GET", "/data"), "Data fetched!")
    with Stopwatch() as together:
        replies = await asyncio.gather(call(client, "GET", "/data"), call(client, "GET", "/data"))
    for reply in replies:
        expect_text(reply, "Data fetched!")
    expect_seconds(
        together.elapsed,
        alone.elapsed,
        what="two simultaneous GET /data",
        hint=f"One GET /data alone took {alone.elapsed:.2f} s: two at the same time should "
        "take no longer. While a route awaits, the server handles other requests, unless "
        "the route blocks the loop or holds a lock (or another shared resource) across the "
        "wait: keep the wait outside any lock.",
    )


@check('GET /greet/<name> answers {"message": "Hello, <name>!"}', task=3)
async def test_greet(learner: Learner) -> None:
    client = build_app(learner).test_client()
    for path, name in (("/greet/Ada", "Ada"), ("/greet/Jos%C3%A9%20Mar%C3%ADa", "José María")):
        expect_json(
            await call(client, "GET", path),
            {"message": f"Hello, {name}!"},
            hint="Take `name` from the URL (<name> in the route) and return a dict.",
        )


@check("POST /echo answers the JSON body it was sent", task=4)
async def test_echo(learner: Learner) -> None:
    client = build_app(learner).test_client()
    for body in ({"a": 1}, {"nested": {"list": [1, 2.5, "x", None, True]}}, [1, 2, 3], {}):
        expect_json(
            await call(client, "POST", "/echo", json=body),
            body,
            hint="`body = await request.get_json()` (note the await), then return it.",
        )


@check("POST /echo without a JSON body is a 400 JSON error, not a 500 or an echoed null", task=4)
async def test_echo_bad_body(learner: Learner) -> None:
    client = build_app(learner).test_client()
    cases = (
        ("no body", {}),
        ("plain text", {"data": "hello", "headers": {"Content-Type": "text/plain"}}),
        ("malformed JSON", {"data": "{not json", "headers": {"Content-Type": "application/json"}}),
        ("JSON null", {"data": "null", "headers": {"Content-Type": "application/json"}}),
    )
    for what, kwargs in cases:
        reply = await call(client, "POST", "/echo", **kwargs)
        reply.call = f"POST /echo with {what}"
        expect_json_error(
            reply,
            400,
            hint="`await request.get_json(silent=True)` gives None for a missing or "
            'bad body: answer {"error": "..."} with status 400 then.',
        )


def items_hint(reply: Reply, n: int) -> str:
    """Why item n was not found: a route that hands over a string, or the range."""
    given = reply.arguments.get("item_id")
    if isinstance(given, str):
        return (
            f"Your route {reply.rule} hands item_id over as the string {given!r}, which is "
            "in no range of numbers: write `<int:item_id>` in the route and Quart converts "
            "it (and answers 404 by itself for anything that is not a number)."
        )
    if reply.status == 404:
        return f"Item {n} exists: items 1 to 100 inclusive are found; check your range."
    return "Use the route `/items/<int:item_id>`: `id` is then a number, not a string."


@check("GET /items/<id> answers items 1 to 100", task=5)
async def test_items(learner: Learner) -> None:
    client = build_app(learner).test_client()
    # Every one of them: a handful of fixed ids could be answered by a lookup table.
    for n in range(1, 101):
        reply = await call(client, "GET", f"/items/{n}")
        expect_json(reply, {"id": n, "name": f"item {n}"}, hint=items_hint(reply, n))


@check("GET /items/<id> outside 1-100 is a 404 JSON error; not a number, a 404", task=5)
async def test_items_missing(learner: Learner) -> None:
    client = build_app(learner).test_client()
    for path in ("/items/0", "/items/101", "/items/99999"):
        expect_json_error(
            await call(client, "GET", path),
            404,
            hint='Answer {"error": "..."}, 404 when the id is not in 1..100.',
        )
    # Not numbers: the <int:...> converter refuses them before any route runs, and Quart
    # answers 404 itself. That this 404 is JSON too is task 6's error handler.
    for path in ("/items/abc", "/items/-1"):
        expect_status(
            await call(client, "GET", path),
            404,
            hint="With `<int:item_id>` in the route, a path that is not a number matches no "
            "route: Quart answers 404 by itself.",
        )


@check("an unknown route and a wrong method are JSON errors (404, 405)", task=6)
async def test_json_errors(learner: Learner) -> None:
    client = build_app(learner).test_client()
    for path in ("/no-such-page", "/items/abc"):
        expect_json_error(
            await call(client, "GET", path),
            404,
            hint="Add @app.errorhandler(404) (or for HTTPException) returning JSON.",
        )
    expect_json_error(
        await call(client, "GET", "/echo"),
        405,
        hint="Add @app.errorhandler(405) (or for HTTPException) returning JSON.",
    )


@check("a wrong method's 405 says which methods are allowed (Allow header)", task=6)
async def test_method_not_allowed_allow(learner: Learner) -> None:
    client = build_app(learner).test_client()
    reply = await call(client, "GET", "/echo")
    expect_status(reply, 405, hint="POST /echo exists; GET /echo is a wrong method: 405.")
    header = reply.header("Allow")
    allow = {m.strip().upper() for m in (header or "").split(",") if m.strip()}
    if "POST" not in allow:
        fail(
            "GET /echo answered 405 without saying which methods are allowed",
            expected="an Allow header naming POST (HTTP requires it on every 405)",
            got=f"Allow: {header!r}" if header is not None else "no Allow header",
            hint="Quart's MethodNotAllowed carries it: keep the error's headers when your "
            "handler answers JSON, e.g. `headers = {k: v for k, v in error.get_headers() if "
            'k.lower() != "content-type"}` and `return {"error": ...}, error.code, headers`.',
        )


@check("an unexpected failure is a JSON 500 that hides the details", task=6)
async def test_unexpected_error(learner: Learner) -> None:
    async def broken_fetch_data() -> str:
        raise RuntimeError("database password is hunter2")

    app = build_app(learner)
    learner.patch("fetch_data", broken_fetch_data)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production, not as in testing
    reply = await call(app.test_client(), "GET", "/data")
    expect_json_error(
        reply,
        500,
        hint="Add @app.errorhandler(Exception) that logs the error and "
        'answers {"error": "internal server error"}, 500.',
    )
    if "hunter2" in reply.text or "RuntimeError" in reply.text:
        fail(
            "GET /data sent the exception's text to the client",
            expected='a fixed message such as {"error": "internal server error"}',
            got=reply.describe(),
            hint="Log the details; send the client a fixed message.",
        )
