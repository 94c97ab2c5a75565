"""The checks can fail, clause by clause: mutants of the reference solutions.

Each mutant is one plausible learner mistake, made from a reference solution by exact
string replacements. The grader runs on it as on a learner's file, and the checks that
must catch the mistake fail, each with a plain explanation (no raw traceback). Every check
function is named by at least one mutant: no check can only be failed by the stub's
NotImplementedError.

A mutant marked `xfail(strict=True)` is a known gap in the checks: it documents what they
should catch and starts failing (XPASS) once they do, so the mark can go.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT, grader

from grader.course import Chapter, load_course

CHAPTERS = ("00", "01", "02", "03", "04", "05")


@dataclass(frozen=True)
class Mutant:
    """`edits`: (old, new) replacements of the solution's text, each old found exactly once.
    `fails`: check function -> a snippet its output must contain ("" for any). In a snippet,
    `{line}` is the mutant's line where the first edit's new text starts. `avoid`: check
    function -> a text its output must not contain, such as a hint that points the wrong way."""

    chapter: str
    name: str
    edits: tuple[tuple[str, str], ...]
    fails: dict[str, str]
    avoid: dict[str, str] = field(default_factory=dict)
    gap: str = ""  # why the checks do not catch this yet: the mutant is a strict xfail


# Blocks of the solutions that several mutants rewrite.
SEQUENTIAL_BODY = "    return [await fetch_data(delay) for delay in delays]\n"
RUN_SYNC_BODY = "    return asyncio.run(fetch_data(delay))\n"
FETCH_BOTH_BODY = (
    "    async with asyncio.TaskGroup() as tg:\n"
    "        first = tg.create_task(fetch_data_1())\n"
    "        second = tg.create_task(fetch_data_2())\n"
    '    return {"data1": first.result(), "data2": second.result()}\n'
)
GATHER_ALL_BODY = (
    "    async with asyncio.TaskGroup() as tg:\n"
    "        tasks = [tg.create_task(_await(factory)) for factory in factories]\n"
    "    return [task.result() for task in tasks]\n"
)
LIMIT_CHECK = '        raise ValueError(f"limit must be at least 1, got {limit}")\n'
LIMITED_RUN = (
    "    return await gather_all([lambda f=factory: limited(f) for factory in factories])\n"
)
WAIT_FIRST = "done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)\n"
FIRST_CLEANUP = (
    f"    try:\n        {WAIT_FIRST}    finally:\n"
    "        # Runs on success, on failure and when our caller cancels us: no task outlives us.\n"
    "        for task in tasks:\n"
    "            task.cancel()\n"
    "        await asyncio.gather(*tasks, return_exceptions=True)\n"
)
INTERLEAVE_TASKS = (
    "    async with asyncio.TaskGroup() as tg:\n"
    '        tg.create_task(worker("A"))\n'
    '        tg.create_task(worker("B"))\n'
)
INTERLEAVE_EXTEND = (INTERLEAVE_TASKS, '    log.extend(["A0", "B0", "A1", "B1", "A2", "B2"])\n')

# Chapters 03-05: blocks of the web solutions. Without its decorator, an error handler is
# never registered: the same as no handler at all.
HTTP_HANDLER = "    @app.errorhandler(HTTPException)\n"
EXCEPTION_HANDLER = "    @app.errorhandler(Exception)\n"
NEW_APP_03 = "def create_app() -> Quart:\n    app = Quart(__name__)\n"
AWAIT_FETCH_03 = "        return await fetch_data()\n"
DATA_INLINE_03 = '        await asyncio.sleep(2)\n        return "Data fetched!"\n'
ECHO_REFUSE_NONE = (
    "        if body is None:\n"
    '            return {"error": "send a JSON body with Content-Type: application/json"}, 400\n'
)
GATHER_04 = "        data1, data2 = await asyncio.gather(fetch_data_1(), fetch_data_2())\n"
RESULTS_04 = '        return {"results": results, "count": len(items)}\n'
PROCESS_RUN = (
    "        async with asyncio.TaskGroup() as tg:\n"
    "            tasks = [tg.create_task(limited(item)) for item in items]\n"
    "        # 200, not the article's 202: the work is done when we answer.\n"
    '        return {"results": [task.result() for task in tasks], "count": len(items)}\n'
)
PROCESS_ONE = "                return await process_item(item, item_delay)\n"
TOO_MANY_CHECK = (
    "        # Refuse oversized work before starting any of it.\n"
    "        if len(items) > MAX_ITEMS:\n"
    '            return {"error": f"at most {MAX_ITEMS} items per request, got {len(items)}"}'
    ", 413\n"
)
OPEN_CLIENT = (
    "    @app.before_serving\n"
    "    async def open_client() -> None:\n"
    "        # One pooled client for the app's whole life: connections (and TLS handshakes)\n"
    "        # are reused across requests. The article opens a new client in every request.\n"
    '        app.extensions["market"] = httpx.AsyncClient(\n'
    "            base_url=base_url, transport=transport, timeout=timeout\n"
    "        )\n"
)
CLOSE_CLIENT = (
    "    @app.after_serving\n"
    "    async def close_client() -> None:\n"
    '        await app.extensions.pop("market").aclose()\n'
)
SHARED_CLIENT = '        client: httpx.AsyncClient = app.extensions["market"]\n'
DEADLINE_GET = (
    "            async with asyncio.timeout(timeout):\n"
    "                response = await client.get(path)\n"
)
CONNECT_ERROR = (
    "        except httpx.HTTPError:\n"
    '            raise UpstreamError(502, "the market API could not be reached") from None\n'
)
NOT_FOUND = (
    "        if response.status_code == 404:\n"
    '            raise UpstreamError(404, "not found at the market API")\n'
)
BAD_SYMBOL = (
    "        if not SYMBOL.fullmatch(symbol):\n"
    '            return {"error": "a symbol is 1 to 5 letters, such as AAPL"}, 400\n'
)
ASK_SYMBOL = '        return await fetch_json(f"/stocks/{symbol.upper()}")\n'
STOCKS_RUN = (
    "        async with asyncio.TaskGroup() as tg:\n"
    "            tasks = {symbol: tg.create_task(one(symbol)) for symbol in symbols}\n"
    "        return {symbol: task.result() for symbol, task in tasks.items()}\n"
)
ONE_SYMBOL = (
    "            try:\n"
    '                return await fetch_json(f"/stocks/{symbol}")\n'
    "            except UpstreamError as error:\n"
    '                return {"error": error.message}\n'
)

MUTANTS = [
    # --- chapter 00: hello and main -----------------------------------------------------
    Mutant(
        "00",
        "hello_ignores_name",
        (('return f"Hello, {name}!"', 'return "Hello, world!"'),),
        {"test_hello_name": "got:      'Hello, world!'"},
    ),
    Mutant(
        "00",
        "hello_wrong_greeting",
        (('f"Hello, {name}!"', 'f"Hi, {name}!"'),),
        {
            "test_hello_default": "'Hi, world!'",
            "test_hello_name": "'Hi, Ada!'",
            "test_main_returns_greeting": "'Hi, world!'",
        },
    ),
    Mutant(
        "00",
        "hello_plain_def",
        (("async def hello(", "def hello("),),
        {
            "test_hello_default": "hello must be a coroutine function",
            "test_hello_name": "hello must be a coroutine function",
            "test_main_returns_greeting": "a coroutine was expected",
        },
    ),
    Mutant(
        "00",
        "main_returns_coroutine",
        (("return asyncio.run(hello())", "return hello()"),),
        {
            "test_main_returns_greeting": "never awaited",
            "test_main_uses_hello": "main() never ran hello() on an event loop",
        },
    ),
    Mutant(
        "00",
        "main_hardcodes_greeting",
        (("return asyncio.run(hello())", 'return "Hello, world!"'),),
        {"test_main_uses_hello": "main() never ran hello() on an event loop"},
    ),
    Mutant(
        "00",
        "main_discards_result",
        (("return asyncio.run(hello())", 'asyncio.run(hello())\n    return "Hello, world!"'),),
        {"test_main_uses_hello": "got:      'Hello, world!'"},
    ),
    Mutant(
        "00",
        "main_async_def",
        (
            ("def main() -> str:", "async def main() -> str:"),
            ("return asyncio.run(hello())", "return await hello()"),
        ),
        {
            "test_main_returns_greeting": "main must be a plain function",
            "test_main_uses_hello": "main must be a plain function",
        },
    ),
    # --- chapter 01: fetch_data, fetch_sequential, run_sync -----------------------------
    Mutant(
        "01",
        "fetch_data_time_sleep",
        (
            ("await asyncio.sleep(delay)", "time.sleep(delay)"),
            ("import asyncio\n", "import asyncio\nimport time\n"),
        ),
        {
            "test_fetch_data_default": "ex01_coroutines.py, line {line}: time.sleep(delay)",
            "test_fetch_data_delay": "A blocking call (time.sleep) froze the event loop",
            "test_fetch_data_does_not_block": "A blocking call (time.sleep)",
            "test_sequential_timing": "A blocking call (time.sleep)",
        },
    ),
    Mutant(
        "01",
        "fetch_data_fixed_2s",
        (("await asyncio.sleep(delay)", "await asyncio.sleep(2)"),),
        {
            "test_fetch_data_delay": "fetch_data(0.5) took 2.00 s",
            "test_sequential_timing": "took 6.00 s",
        },
    ),
    Mutant(
        "01",
        "fetch_data_wrong_text",
        (('\n    return "Data fetched!"', '\n    return "Data fetched"'),),
        {
            "test_fetch_data_default": "'Data fetched'",
            "test_fetch_data_delay": "'Data fetched'",
            "test_sequential_timing": "'Data fetched'",
            "test_run_sync_result": "'Data fetched'",
        },
    ),
    Mutant(
        "01",
        "sequential_with_gather",
        (
            (
                SEQUENTIAL_BODY,
                "    return list(await asyncio.gather(*(fetch_data(d) for d in delays)))\n",
            ),
        ),
        {"test_sequential_order": "overlap", "test_sequential_timing": "took 2.00 s"},
    ),
    Mutant(
        "01",
        "sequential_reversed",
        (("for delay in delays]", "for delay in reversed(delays)]"),),
        {"test_sequential_order": "called with [0.2, 0.1, 0.3]"},
    ),
    Mutant(
        "01",
        "sequential_missing_await",
        (("[await fetch_data(delay)", "[fetch_data(delay)"),),
        {"test_sequential_order": "never awaited", "test_sequential_timing": "never awaited"},
    ),
    Mutant(
        "01",
        "sequential_return_in_loop",
        (
            (
                SEQUENTIAL_BODY,
                "    results = []\n"
                "    for delay in delays:\n"
                "        results.append(await fetch_data(delay))\n"
                "        return results\n",
            ),
        ),
        {
            "test_sequential_order": "called with [0.3]",
            "test_sequential_timing": "",
            "test_sequential_empty": "got:      None",
        },
    ),
    Mutant(
        "01",
        "run_sync_get_event_loop",
        (
            (
                RUN_SYNC_BODY,
                "    return asyncio.get_event_loop().run_until_complete(fetch_data(delay))\n",
            ),
        ),
        # Python 3.11 raises RuntimeError (no current event loop) in a fresh thread; where
        # it hands back a loop instead, the loop is reused and never closed.
        {"test_run_sync_new_loop": ""},
    ),
    Mutant(
        "01",
        "run_sync_loop_not_closed",
        (
            (
                RUN_SYNC_BODY,
                "    loop = asyncio.new_event_loop()\n"
                "    return loop.run_until_complete(fetch_data(delay))\n",
            ),
        ),
        {"test_run_sync_new_loop": "run_sync left its event loop open"},
    ),
    Mutant(
        "01",
        "run_sync_shared_loop",
        (
            (RUN_SYNC_BODY, "    return LOOP.run_until_complete(fetch_data(delay))\n"),
            ("\n\ndef run_sync(", "\n\nLOOP = asyncio.new_event_loop()\n\n\ndef run_sync("),
        ),
        {"test_run_sync_new_loop": "run_sync reused the same event loop"},
    ),
    Mutant(
        "01",
        "run_sync_copies_body",
        (
            (
                RUN_SYNC_BODY,
                "    async def body() -> str:\n"
                "        await asyncio.sleep(delay)\n"
                '        return "Data fetched!"\n'
                "\n"
                "    return asyncio.run(body())\n",
            ),
        ),
        {"test_run_sync_new_loop": "fetch_data called with nothing"},
    ),
    Mutant(
        "01",
        "run_sync_forgets_return",
        ((RUN_SYNC_BODY, "    asyncio.run(fetch_data(delay))\n"),),
        {"test_run_sync_result": "got:      None", "test_run_sync_new_loop": "[None, None]"},
    ),
    # --- chapter 02: tasks, gather, limits, races, taking turns -------------------------
    Mutant(
        "02",
        "fetch_data_2_copy_paste",
        (('\n    return "Data 2 fetched!"', '\n    return "Data 1 fetched!"'),),
        {
            "test_fetch_data_1_and_2": "await fetch_data_2() returned the wrong value",
            "test_fetch_both_concurrent": "",
        },
    ),
    Mutant(
        "02",
        "fetch_both_sequential",
        (
            (
                FETCH_BOTH_BODY,
                '    return {"data1": await fetch_data_1(), "data2": await fetch_data_2()}\n',
            ),
        ),
        {"test_fetch_both_concurrent": "took 2.00 s", "test_fetch_both_uses_fetchers": "2.00 s"},
    ),
    Mutant(
        "02",
        "fetch_both_hardcoded",
        (
            (
                '{"data1": first.result(), "data2": second.result()}',
                '{"data1": "Data 1 fetched!", "data2": "Data 2 fetched!"}',
            ),
        ),
        {"test_fetch_both_uses_fetchers": "do not write the strings yourself"},
    ),
    Mutant(
        "02",
        "gather_all_sequential",
        ((GATHER_ALL_BODY, "    return [await factory() for factory in factories]\n"),),
        {"test_gather_all_order": "took 9.50 s", "test_gather_all_failure": ""},
    ),
    Mutant(
        "02",
        "gather_all_plain_gather",
        (
            (
                GATHER_ALL_BODY,
                "    return list(await asyncio.gather(*(factory() for factory in factories)))\n",
            ),
        ),
        {
            "test_gather_all_failure": "returned while other jobs were still running",
            "test_gather_limited_failure": "returned while other jobs were still running",
        },
    ),
    Mutant(
        "02",
        "gather_all_return_exceptions",
        (
            (
                GATHER_ALL_BODY,
                "    awaitables = [factory() for factory in factories]\n"
                "    return list(await asyncio.gather(*awaitables, return_exceptions=True))\n",
            ),
        ),
        {"test_gather_all_failure": "returned although a job failed"},
    ),
    Mutant(
        "02",
        "gather_all_create_task_only",
        (("tg.create_task(_await(factory))", "tg.create_task(factory())"),),
        {"test_gather_all_awaitables": "TypeError: a coroutine was expected"},
    ),
    Mutant(
        "02",
        "gather_all_completion_order",
        (
            (
                GATHER_ALL_BODY,
                "    results = []\n"
                "\n"
                "    async def collect(factory: Factory) -> None:\n"
                "        results.append(await factory())\n"
                "\n"
                "    async with asyncio.TaskGroup() as tg:\n"
                "        for factory in factories:\n"
                "            tg.create_task(collect(factory))\n"
                "    return results\n",
            ),
        ),
        {"test_gather_all_order": "not the order they finish"},
    ),
    Mutant(
        "02",
        "gather_all_asyncio_wait",
        (
            (
                GATHER_ALL_BODY,
                "    tasks = [asyncio.ensure_future(factory()) for factory in factories]\n"
                "    await asyncio.wait(tasks)\n"
                "    return [task.result() for task in tasks]\n",
            ),
        ),
        {
            "test_gather_all_empty": "Set of Tasks/Futures is empty",
            "test_gather_all_failure": "took 3.00 s",
        },
    ),
    Mutant(
        "02",
        "gather_limited_no_limit",
        (
            (
                "        async with semaphore:\n            return await factory()\n",
                "        return await factory()\n",
            ),
        ),
        {"test_gather_limited_timing": "took 1.00 s", "test_gather_limited_peak": "had 10 jobs"},
    ),
    Mutant(
        "02",
        "gather_limited_semaphore_per_job",
        (
            ("    semaphore = asyncio.Semaphore(limit)\n", ""),
            ("async with semaphore:", "async with asyncio.Semaphore(limit):"),
        ),
        {"test_gather_limited_timing": "took 1.00 s", "test_gather_limited_peak": "had 10 jobs"},
    ),
    Mutant(
        "02",
        "gather_limited_no_validation",
        ((f"    if limit < 1:\n{LIMIT_CHECK}", ""),),
        {"test_gather_limited_bad_limit": "gather_limited(jobs, 0) had not finished after 10 s"},
    ),
    Mutant(
        "02",
        "gather_limited_clamps_limit",
        ((LIMIT_CHECK, "        limit = 1\n"),),
        {"test_gather_limited_bad_limit": "did not raise ValueError"},
    ),
    Mutant(
        "02",
        "gather_limited_awaits_each",
        ((LIMITED_RUN, "    return [await limited(factory) for factory in factories]\n"),),
        {
            "test_gather_limited_timing": "took 10.00 s",
            "test_gather_limited_peak": "had 1 jobs in flight",
            "test_gather_limited_large_limit": "took 4.00 s",
        },
    ),
    Mutant(
        "02",
        "gather_limited_plain_gather",
        (
            (
                LIMITED_RUN,
                "    return list(await asyncio.gather(*(limited(f) for f in factories)))\n",
            ),
        ),
        {"test_gather_limited_failure": "returned while other jobs were still running"},
    ),
    Mutant(
        "02",
        "gather_limited_chunks",
        (
            (
                LIMITED_RUN,
                "    results = []\n"
                "    for start in range(0, len(factories), limit):\n"
                "        results += await gather_all(factories[start : start + limit])\n"
                "    return results\n",
            ),
        ),
        # Batch after batch, each waiting for its slowest job: 7 jobs of
        # [0.5, 1.5, 1, 2, 0.5, 1, 0.25] s with limit 4 take 3 s instead of 2 s.
        {"test_gather_limited_peak": "expected: 2.00 s"},
    ),
    Mutant(
        "02",
        "first_completed_no_cancel",
        ((FIRST_CLEANUP, f"    {WAIT_FIRST}"),),
        {"test_first_completed_cleanup": "still running: job 0 (running), job 2 (running)"},
    ),
    Mutant(
        "02",
        "first_completed_no_wait_after_cancel",
        (("        await asyncio.gather(*tasks, return_exceptions=True)\n", ""),),
        {"test_first_completed_cleanup": "still running: job 0 (running), job 2 (running)"},
    ),
    Mutant(
        "02",
        "first_completed_all_completed",
        ((", return_when=asyncio.FIRST_COMPLETED", ""),),
        {
            "test_first_completed_result": "got:      'result 0'",
            "test_first_completed_cleanup": "let the slower jobs run to the end",
        },
    ),
    Mutant(
        "02",
        "interleave_hardcoded",
        (INTERLEAVE_EXTEND,),
        {"test_interleave_tasks": "interleave wrote the entries itself"},
    ),
    Mutant(
        "02",
        "interleave_one_task",
        (
            ('log.append(f"{prefix}{i}")', 'log.append(f"A{i}")\n            log.append(f"B{i}")'),
            ('        tg.create_task(worker("B"))\n', ""),
        ),
        {"test_interleave_tasks": "not written by two tasks of their own"},
    ),
    Mutant(
        "02",
        "interleave_no_yield",
        (("            await asyncio.sleep(0)\n", ""),),
        {"test_interleave": "['A0', 'A1', 'A2', 'B0', 'B1', 'B2']"},
    ),
    Mutant(
        "02",
        "interleave_fire_and_forget",
        (
            (
                INTERLEAVE_TASKS,
                '    asyncio.create_task(worker("A"))\n    asyncio.create_task(worker("B"))\n',
            ),
        ),
        {"test_interleave": "got:      []", "test_interleave_tasks": ""},
    ),
    Mutant(
        "02",
        "interleave_yields_instead_of_waiting",
        (
            (
                INTERLEAVE_TASKS,
                '    asyncio.create_task(worker("A"))\n'
                '    asyncio.create_task(worker("B"))\n'
                "    for _ in range(3):\n"
                "        await asyncio.sleep(0)\n",
            ),
        ),
        # The log comes out right, but both tasks still have a step to run.
        {"test_interleave_tasks": "interleave returned while its tasks were still running"},
    ),
    # --- chapter 03: a Quart app, JSON, status codes, JSON errors -----------------------
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
    # Really sleeps, in a thread: 6 s of wall time, the slowest mutant of the file.
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
    # Without silent=True a malformed body raises BadRequest: a JSON 400 once the HTTPException
    # handler exists (so get_json() alone passes), an HTML 400 before task 6.
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
    # The Exception handler then catches HTTP errors too: 404 and 405 become a JSON 500.
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
    # --- chapter 04: concurrency inside routes ------------------------------------------
    Mutant(
        "04",
        "multiple_data_sequential",
        (
            (
                GATHER_04,
                "        data1 = await fetch_data_1()\n        data2 = await fetch_data_2()\n",
            ),
        ),
        {
            "test_multiple_data": "took 2.00 s",
            "test_multiple_data_uses_fetchers": "took 2.00 s",
            "test_requests_concurrent": "took 2.00 s",
        },
    ),
    Mutant(
        "04",
        "multiple_data_hardcoded",
        (
            (GATHER_04, "        await asyncio.sleep(1)\n"),
            (
                '{"data1": data1, "data2": data2}',
                '{"data1": "Data 1 fetched!", "data2": "Data 2 fetched!"}',
            ),
        ),
        {"test_multiple_data_uses_fetchers": "do not write the strings"},
    ),
    # Also fails test_process_data_too_many: 1000 items one by one take 500 s.
    Mutant(
        "04",
        "process_data_sequential",
        (
            (
                PROCESS_RUN,
                "        results = [await process_item(item, item_delay) for item in items]\n"
                + RESULTS_04,
            ),
        ),
        {
            "test_process_data_concurrent": "took 4.00 s",
            "test_process_data_limit_timing": "took 12.50 s",
            "test_process_data_peak": "had 1 in flight",
            "test_process_data_no_batches": "took 6.75 s",
        },
    ),
    Mutant(
        "04",
        "process_data_no_semaphore",
        (("            async with semaphore:\n" + PROCESS_ONE, PROCESS_ONE[4:]),),
        {
            "test_process_data_limit_timing": "took 0.50 s",
            "test_process_data_peak": "had 25 in flight",
        },
    ),
    Mutant(
        "04",
        "process_data_semaphore_per_item",
        (
            ("        semaphore = asyncio.Semaphore(max_concurrency)\n", ""),
            ("async with semaphore:", "async with asyncio.Semaphore(max_concurrency):"),
        ),
        {
            "test_process_data_limit_timing": "took 0.50 s",
            "test_process_data_peak": "had 25 in flight",
        },
    ),
    Mutant(
        "04",
        "process_data_batches",
        (
            (
                PROCESS_RUN,
                "        results = []\n"
                "        for start in range(0, len(items), max_concurrency):\n"
                "            batch = items[start : start + max_concurrency]\n"
                "            results += await asyncio.gather(\n"
                "                *(process_item(item, item_delay) for item in batch)\n"
                "            )\n" + RESULTS_04,
            ),
        ),
        {"test_process_data_no_batches": "took 3.00 s"},
    ),
    Mutant(
        "04",
        "process_item_inline",
        (
            (
                PROCESS_ONE,
                "                await asyncio.sleep(item_delay)\n"
                "                return str(item).upper()\n",
            ),
        ),
        {
            "test_process_data_results": "'results': ['A', '1', 'NONE'",
            "test_process_data_peak": "never called process_item",
        },
        avoid={"test_process_data_peak": "Hold an asyncio.Semaphore"},
    ),
    Mutant(
        "04",
        "process_item_default_delay",
        (("process_item(item, item_delay)", "process_item(item, 0.5)"),),
        {
            "test_process_data_results": "process_item was not called with item_delay",
            "test_process_data_limit_timing": "7 items of 0.2 s with max_concurrency=3 took 1.50 s",
        },
    ),
    # Equal delays, yet the order changes: the loop's timer heap does not keep ties in order.
    Mutant(
        "04",
        "process_data_completion_order",
        (
            (PROCESS_ONE, "                results.append(await process_item(item, item_delay))\n"),
            (
                "        async def limited(item: Any) -> str:\n",
                "        results: list[str] = []\n"
                "\n"
                "        async def limited(item: Any) -> None:\n",
            ),
            ("[task.result() for task in tasks]", "results"),
        ),
        {"test_process_data_results": "POST /process-data answered the wrong JSON"},
    ),
    Mutant(
        "04",
        "too_many_after_processing",
        (
            (TOO_MANY_CHECK, ""),
            (
                "        # 200, not the article's 202: the work is done when we answer.\n",
                "        if len(items) > MAX_ITEMS:\n"
                '            return {"error": "too many items"}, 413\n',
            ),
        ),
        {"test_process_data_too_many": "POST /process-data had not finished after 10 s"},
        avoid={"test_process_data_too_many": "semaphore of 0"},
    ),
    Mutant(
        "04",
        "no_too_many",
        ((TOO_MANY_CHECK, ""),),
        {"test_process_data_too_many": "POST /process-data had not finished after 10 s"},
        avoid={"test_process_data_too_many": "semaphore of 0"},
    ),
    Mutant(
        "04",
        "too_many_off_by_one",
        (("len(items) > MAX_ITEMS", "len(items) >= MAX_ITEMS"),),
        {"test_process_data_too_many": "exactly 1000 items were refused"},
    ),
    Mutant(
        "04",
        "items_not_a_list",
        (("if not isinstance(items, list):", "if items is None:"),),
        {"test_process_data_bad_body": 'POST /process-data with {"items": "abc"} answered 200'},
    ),
    Mutant(
        "04",
        "no_http_error_handler",
        ((HTTP_HANDLER, ""),),
        {"test_json_errors": "GET /nope answered 500"},
    ),
    # --- chapter 05: calling other services with httpx ----------------------------------
    Mutant(
        "05",
        "client_per_request",
        (
            (
                DEADLINE_GET,
                "            async with asyncio.timeout(timeout):\n"
                "                async with httpx.AsyncClient(\n"
                "                    base_url=base_url, transport=transport, timeout=timeout\n"
                "                ) as client:\n"
                "                    response = await client.get(path)\n",
            ),
            (OPEN_CLIENT, ""),
            (CLOSE_CLIENT, ""),
            (SHARED_CLIENT, ""),
        ),
        {
            "test_one_client": "4 httpx clients were made for 4 requests",
            "test_client_closed": "the client was closed while the app was still serving",
        },
    ),
    Mutant(
        "05",
        "client_in_create_app",
        (
            (
                OPEN_CLIENT,
                '    app.extensions["market"] = httpx.AsyncClient(\n'
                "        base_url=base_url, transport=transport, timeout=timeout\n"
                "    )\n",
            ),
        ),
        {"test_one_client": "create_app() made an httpx client itself"},
    ),
    Mutant(
        "05",
        "client_never_closed",
        ((CLOSE_CLIENT, ""),),
        {"test_client_closed": "closed 0 time(s)"},
    ),
    # httpx.ASGITransport, which reaches the fake API, applies none of httpx's own timeouts:
    # without asyncio.timeout the 10 s answer arrives, after 10 s.
    Mutant(
        "05",
        "no_total_deadline",
        ((DEADLINE_GET, "            response = await client.get(path)\n"),),
        {"test_timeout": "answered after 10.00 s"},
    ),
    Mutant(
        "05",
        "deadline_too_short",
        (("asyncio.timeout(timeout)", "asyncio.timeout(timeout / 2)"),),
        {"test_timeout_in_time": "GET /stock/AAPL answered 504"},
    ),
    Mutant(
        "05",
        "deadline_hardcoded",
        (("asyncio.timeout(timeout)", "asyncio.timeout(2)"),),
        {"test_timeout": "(upstream takes 10 s, timeout=0.5) took 2.00 s"},
    ),
    Mutant(
        "05",
        "upstream_status_passed_through",
        (("UpstreamError(502, f", "UpstreamError(response.status_code, f"),),
        {"test_upstream_errors": "GET /stock/IBM (upstream: 503) answered 503"},
    ),
    Mutant(
        "05",
        "connect_error_not_caught",
        ((CONNECT_ERROR, ""),),
        {"test_upstream_errors": "GET /stock/ORCL (upstream: a connection error) answered 500"},
    ),
    Mutant(
        "05",
        "not_found_as_502",
        ((NOT_FOUND, ""),),
        {"test_upstream_errors": "GET /stock/ZZZZ answered 502"},
    ),
    Mutant(
        "05",
        "stock_validates_after_request",
        (
            (
                BAD_SYMBOL + ASK_SYMBOL,
                '        quote = await fetch_json(f"/stocks/{symbol.upper()}")\n'
                + BAD_SYMBOL
                + "        return quote\n",
            ),
        ),
        {"test_stock_invalid": "GET /stock/TOOLONG answered 404"},
    ),
    Mutant(
        "05",
        "stock_not_upper_cased",
        (('f"/stocks/{symbol.upper()}"', 'f"/stocks/{symbol}"'),),
        {"test_stock": "GET /stock/msft answered 404"},
    ),
    Mutant(
        "05",
        "stocks_sequential",
        ((STOCKS_RUN, "        return {symbol: await one(symbol) for symbol in symbols}\n"),),
        {"test_stocks_concurrent": "took 3.00 s"},
    ),
    Mutant(
        "05",
        "stocks_one_failure_fails_all",
        ((ONE_SYMBOL, '            return await fetch_json(f"/stocks/{symbol}")\n'),),
        {"test_stocks_partial": "GET /stocks failed as a whole because some symbols failed"},
    ),
    Mutant(
        "05",
        "stocks_accepts_eleven",
        (("not 1 <= len(symbols) <= MAX_SYMBOLS", 'not symbols or raw.count(",") > MAX_SYMBOLS'),),
        {"test_stocks_invalid": "NFLX,NVDA,ORCL answered 200"},
    ),
    Mutant(
        "05",
        "stocks_not_upper_cased",
        (("s.strip().upper() for s", "s.strip() for s"),),
        {"test_stocks_concurrent": "Upper-case each symbol"},
    ),
    Mutant(
        "05",
        "base_url_ignored",
        (("base_url=base_url, transport", 'base_url="https://api.example.com", transport'),),
        {"test_external_data": "the upstream request did not go to base_url + /todos/1"},
    ),
]


@cache
def chapter(chapter_id: str) -> Chapter:
    return load_course(ROOT).chapter(chapter_id)


@cache
def display_names(chapter_id: str) -> dict[str, str]:
    """Check function -> its display name, read from `@check("name", task=N)` without
    importing the checks."""
    path = chapter(chapter_id).checks
    names: dict[str, str] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not node.name.startswith("test_"):
            continue
        for decorator in node.decorator_list:
            if (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Name)
                and decorator.func.id == "check"
            ):
                names[node.name] = ast.literal_eval(decorator.args[0])
        assert node.name in names, f"{path.name}: {node.name} has no @check(...)"
    return names


def make_mutant(mutant: Mutant) -> str:
    text = chapter(mutant.chapter).solution.read_text(encoding="utf-8")
    for old, _ in mutant.edits:
        count = text.count(old)
        assert count == 1, f"{old!r} is {count} times in the solution: update the mutant"
    for old, new in mutant.edits:
        text = text.replace(old, new)
    return text


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def param(mutant: Mutant) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=mutant.gap)] if mutant.gap else []
    return pytest.param(mutant, id=f"{mutant.chapter}-{mutant.name}", marks=marks)


@pytest.mark.parametrize("mutant", [param(m) for m in MUTANTS])
def test_mutant_fails_its_checks(mutant: Mutant, tmp_path: Path) -> None:
    names = display_names(mutant.chapter)
    unknown = (set(mutant.fails) | set(mutant.avoid)) - set(names)
    assert not unknown, f"unknown checks: {unknown}"
    text = make_mutant(mutant)
    path = tmp_path / f"{chapter(mutant.chapter).module_name}.py"
    path.write_text(text, encoding="utf-8")

    graded = grader("check", mutant.chapter, "--file", str(path), "--json")

    assert graded.code == 1, graded.stdout + graded.stderr
    results = {t["name"].split(" · ", 1)[1]: t for t in graded.json["tests"]}
    for function, snippet in mutant.fails.items():
        result = results[names[function]]
        output = result["output"]
        assert result["status"] == "failed", f"{function} passed this mutant:\n{text}"
        expected = snippet.replace("{line}", str(line_of(text, mutant.edits[0][1])))
        assert expected in output, f"{expected!r} not in {function}'s output:\n{output}"
    for function, misleading in mutant.avoid.items():
        output = results[names[function]]["output"]
        assert misleading not in output, f"{function} says {misleading!r}:\n{output}"
    for result in graded.json["tests"]:
        if result["status"] == "failed":
            assert result["output"].strip(), f"{result['name']} failed without saying why"
            assert "Traceback" not in result["output"], result["output"]


def test_every_mutant_has_its_own_name() -> None:
    assert len({(m.chapter, m.name) for m in MUTANTS}) == len(MUTANTS)


def test_every_check_has_a_mutant() -> None:
    named = {(m.chapter, f) for m in MUTANTS if not m.gap for f in m.fails}
    every = {(c, f) for c in CHAPTERS for f in display_names(c)}
    assert sorted(every - named) == [], "checks that no mutant fails"
