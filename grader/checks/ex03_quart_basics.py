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


@check("two GET /data at the same time take 2 s, not 4 s", task=2)
async def test_data_concurrent(learner: Learner) -> None:
    client = build_app(learner).test_client()
    with Stopwatch() as sw:
        replies = await asyncio.gather(call(client, "GET", "/data"), call(client, "GET", "/data"))
    for reply in replies:
        expect_text(reply, "Data fetched!")
    expect_seconds(
        sw.elapsed,
        2.0,
        what="two simultaneous GET /data",
        hint="An async route that awaits lets the server handle other requests "
        "meanwhile; do not hold a lock or block while waiting.",
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


@check("GET /items/<id> answers items 1 to 100", task=5)
async def test_items(learner: Learner) -> None:
    client = build_app(learner).test_client()
    for n in (1, 42, 100):
        reply = await call(client, "GET", f"/items/{n}")
        expect_json(
            reply,
            {"id": n, "name": f"item {n}"},
            hint=f"Item {n} exists: items 1 to 100 inclusive are found; check your range."
            if reply.status == 404
            else "Use the route `/items/<int:item_id>`: `id` is then a number, not a string.",
        )


@check("GET /items/<id> outside 1-100, or not a number, is a 404 JSON error", task=5)
async def test_items_missing(learner: Learner) -> None:
    client = build_app(learner).test_client()
    for path in ("/items/0", "/items/101", "/items/99999", "/items/abc", "/items/-1"):
        expect_json_error(
            await call(client, "GET", path),
            404,
            hint='Answer {"error": "..."}, 404 when the id is not in 1..100.',
        )


@check("an unknown route and a wrong method are JSON errors (404, 405)", task=6)
async def test_json_errors(learner: Learner) -> None:
    client = build_app(learner).test_client()
    expect_json_error(
        await call(client, "GET", "/no-such-page"),
        404,
        hint="Add @app.errorhandler(404) (or for HTTPException) returning JSON.",
    )
    expect_json_error(
        await call(client, "GET", "/echo"),
        405,
        hint="Add @app.errorhandler(405) (or for HTTPException) returning JSON.",
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
