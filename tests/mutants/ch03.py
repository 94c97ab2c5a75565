"""Mutants of solutions/ex03: a Quart app, JSON, status codes, JSON errors."""

from __future__ import annotations

from . import HTTP_HANDLER, Mutant

EXCEPTION_HANDLER = "    @app.errorhandler(Exception)\n"
NEW_APP_03 = "def create_app() -> Quart:\n    app = Quart(__name__)\n"
AWAIT_FETCH_03 = "        return await fetch_data()\n"
DATA_INLINE_03 = '        await asyncio.sleep(2)\n        return "Data fetched!"\n'
ECHO_REFUSE_NONE = (
    "        if body is None:\n"
    '            return {"error": "send a JSON body with Content-Type: application/json"}, 400\n'
)

MUTANTS = [
    Mutant(
        "03",
        "data_time_sleep",
        (
            (AWAIT_FETCH_03, '        time.sleep(2)\n        return "Data fetched!"\n'),
            ("import asyncio\n", "import asyncio\nimport time\n"),
        ),
        {
            "test_data": "ex03_quart_basics.py, line {line}: time.sleep(2)",
            "test_data_concurrent": "A blocking call (time.sleep) froze the event loop",
        },
    ),
    Mutant(
        "03",
        "data_copies_fetch_data",
        ((AWAIT_FETCH_03, DATA_INLINE_03),),
        {"test_data": "Call fetch_data() by its name"},
    ),
    Mutant(
        "03",
        "data_sync_route_time_sleep",
        (
            ("    async def data() -> str:\n", "    def data() -> str:\n"),
            (AWAIT_FETCH_03, '        time.sleep(2)\n        return "Data fetched!"\n'),
            ("import asyncio\n", "import asyncio\nimport time\n"),
        ),
        {"test_data": ""},
    ),
    Mutant(
        "03",
        "index_not_registered",
        (('    @app.get("/")\n', ""),),
        {"test_index": "GET / answered 404"},
    ),
    Mutant(
        "03",
        "index_answers_json",
        (('return "Hello, world!"', 'return {"message": "Hello, world!"}'),),
        {"test_index": "GET / answered the wrong text"},
        avoid={"test_index": "Register it inside create_app"},
    ),
    Mutant(
        "03",
        "greet_ignores_name",
        (('{"message": f"Hello, {name}!"}', '{"message": "Hello, world!"}'),),
        {"test_greet": "got:      {'message': 'Hello, world!'}"},
    ),
    Mutant(
        "03",
        "echo_missing_await",
        (("await request.get_json(silent=True)", "request.get_json(silent=True)"),),
        {
            "test_echo": "POST /echo answered 500",
            "test_echo_bad_body": "POST /echo with no body answered 500",
        },
    ),
    Mutant(
        "03",
        "echo_null",
        ((ECHO_REFUSE_NONE, ""),),
        {"test_echo_bad_body": "POST /echo with no body answered 200"},
    ),
    Mutant(
        "03",
        "echo_not_silent_no_handlers",
        (
            ("get_json(silent=True)", "get_json()"),
            (HTTP_HANDLER, ""),
            (EXCEPTION_HANDLER, ""),
        ),
        {
            "test_echo_bad_body": "POST /echo with malformed JSON did not answer a JSON error",
            "test_json_errors": "GET /no-such-page did not answer a JSON error",
            "test_unexpected_error": "500 with text/html",
        },
    ),
    Mutant(
        "03",
        "items_0_to_99",
        (("range(1, 101)", "range(0, 100)"),),
        {"test_items_missing": "GET /items/0 answered 200"},
    ),
    Mutant(
        "03",
        "items_1_to_99",
        (("range(1, 101)", "range(1, 100)"),),
        {"test_items": "GET /items/100 answered 404"},
        avoid={"test_items": "hands item_id over as the string"},
    ),
    Mutant(
        "03",
        "items_id_string",
        (("/items/<int:item_id>", "/items/<item_id>"),),
        {"test_items": "hands item_id over as the string '1'"},
        avoid={"test_items": "check your range"},
    ),
    Mutant(
        "03",
        "no_http_error_handler",
        ((HTTP_HANDLER, ""),),
        {
            "test_items_missing": "GET /items/abc answered 500: your error handler turned a 404",
            "test_json_errors": "GET /no-such-page answered 500",
        },
        avoid={"test_items_missing": "not in 1..100"},
    ),
    Mutant(
        "03",
        "error_handler_leaks_text",
        (('{"error": "internal server error"}', '{"error": str(error)}'),),
        {"test_unexpected_error": "GET /data sent the exception's text to the client"},
    ),
    Mutant(
        "03",
        "routes_on_module_app",
        ((NEW_APP_03, "app = Quart(__name__)\n\n\ndef create_app() -> Quart:\n"),),
        {"test_create_app": ""},
        avoid={"test_create_app": "View function mapping is overwriting"},
    ),
    Mutant(
        "03",
        "create_app_returns_one_app",
        (
            (
                NEW_APP_03,
                "APP = None\n\n\ndef create_app() -> Quart:\n"
                "    global APP\n"
                "    if APP is not None:\n"
                "        return APP\n"
                "    APP = app = Quart(__name__)\n",
            ),
        ),
        {"test_create_app": "create_app() returned the same app twice"},
    ),
    Mutant(
        "03",
        "data_holds_a_lock",
        (
            (AWAIT_FETCH_03, "        async with LOCK:\n            return await fetch_data()\n"),
            (
                "\n\ndef create_app() -> Quart:",
                "\n\nLOCK = asyncio.Lock()\n\n\ndef create_app() -> Quart:",
            ),
        ),
        {"test_data_concurrent": "two simultaneous GET /data took 4.00 s"},
    ),
    Mutant(
        "03",
        "http_error_drops_allow",
        (("error.code or 500, headers", "error.code or 500"),),
        {"test_method_not_allowed_allow": "GET /echo answered 405 without saying which methods"},
    ),
    # From a Flask habit: the request object imported from flask, in a Quart app.
    Mutant(
        "03",
        "request_from_flask",
        (
            (
                "from quart import Quart, ResponseReturnValue, jsonify, request\n",
                "from flask import request\n"
                "from quart import Quart, ResponseReturnValue, jsonify\n",
            ),
        ),
        {
            "test_echo": "line {line} imports from flask: `from flask import request`",
            "test_echo_bad_body": "because your code raised RuntimeError: Working outside of "
            "request context.",
        },
    ),
    Mutant(
        "03",
        "data_name_typo",
        ((AWAIT_FETCH_03, "        return await fetch_dat()\n"),),
        {
            "test_data": "GET /data answered 500 because your code raised NameError: "
            "name 'fetch_dat' is not defined",
            "test_data_concurrent": "ex03_quart_basics.py, line {line}: return await fetch_dat()",
        },
    ),
    # A sync helper that runs a coroutine with asyncio.run, called from an async route.
    Mutant(
        "03",
        "data_sync_wrapper_asyncio_run",
        (
            (AWAIT_FETCH_03, "        return fetch_now()\n"),
            (
                "\n\ndef create_app() -> Quart:",
                "\n\ndef fetch_now() -> str:\n    return asyncio.run(fetch_data())\n"
                "\n\ndef create_app() -> Quart:",
            ),
        ),
        {
            "test_data": "GET /data answered 500 because your code raised RuntimeError: "
            "asyncio.run() cannot be called from a running event loop",
            "test_data_concurrent": "ex03_quart_basics.py, line {line}: return fetch_now()",
        },
    ),
]
