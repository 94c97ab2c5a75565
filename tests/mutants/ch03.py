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
            "test_items_missing": "GET /items/abc did not answer a JSON error",
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
        avoid={"test_items": "`id` is a number, not a string"},
    ),
    Mutant(
        "03",
        "items_id_string",
        (("/items/<int:item_id>", "/items/<item_id>"),),
        {"test_items": "GET /items/1 answered 404"},
    ),
    Mutant(
        "03",
        "no_http_error_handler",
        ((HTTP_HANDLER, ""),),
        {
            "test_items_missing": "GET /items/abc answered 500",
            "test_json_errors": "GET /no-such-page answered 500",
        },
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
]
