"""Mutants of solutions/ex13: blocking calls, process pools and the app's thread pool."""

from __future__ import annotations

from . import Mutant

TO_THREAD = "    return await asyncio.to_thread(blocking_task, n)\n"
SUBMITS = "        futures = [loop.run_in_executor(pool, cpu_heavy, value) for value in values]\n"
GATHER = "        return list(await asyncio.gather(*futures))\n"
GATHER_COMMENT = (
    "        # gather keeps the order of its arguments, whatever order the work finishes in.\n"
)
START_POOL = (
    "    @app.before_serving\n"
    "    async def start_pool() -> None:\n"
    "        # One pool per app, for the app's whole life, sized by the caller. The article's\n"
    "        # module-level pool is made at import, shared by every app and test of the\n"
    "        # process, and never shut down.\n"
    '        app.extensions["report_pool"] = ThreadPoolExecutor(\n'
    '            max_workers=max_workers, thread_name_prefix="report"\n'
    "        )\n"
)
STOP_POOL = (
    "    @app.after_serving\n"
    "    async def stop_pool() -> None:\n"
    '        pool: ThreadPoolExecutor = app.extensions.pop("report_pool")\n'
    "        # shutdown(wait=True) waits for running jobs: in a thread, so the loop stays free\n"
    "        # for whatever else runs at shutdown.\n"
    "        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)\n"
)
REPORT_CALL = (
    '        result = await loop.run_in_executor(app.extensions["report_pool"], blocking_task, n)\n'
)
PING = (
    '    @app.get("/ping")\n'
    "    async def ping() -> ResponseReturnValue:\n"
    '        return {"status": "ok"}\n'
)
FROZE = "froze the event loop while blocking_task ran in another thread"

MUTANTS = [
    # --- task 1 ---------------------------------------------------------------------
    Mutant(
        "13",
        "run_blocking_direct_call",
        ((TO_THREAD, "    return blocking_task(n)\n"),),
        {
            "test_run_blocking_returns": "run_blocking called blocking_task on the event "
            "loop's own thread",
            "test_run_blocking_keeps_loop_free": "line {line}: return blocking_task(n)",
        },
    ),
    Mutant(
        "13",
        "run_blocking_without_await",
        ((TO_THREAD, "    return asyncio.to_thread(blocking_task, n)\n"),),
        {
            "test_run_blocking_returns": "a coroutine object that was never awaited",
            "test_run_blocking_keeps_loop_free": "never called blocking_task",
        },
    ),
    Mutant(
        "13",
        "run_blocking_waits_with_result",
        (
            (
                TO_THREAD,
                "    return ThreadPoolExecutor(1).submit(blocking_task, n).result()\n",
            ),
        ),
        {
            "test_run_blocking_keeps_loop_free": "line {line}: return ThreadPoolExecutor(1)",
        },
        avoid={"test_run_blocking_returns": "failed"},
    ),
    # --- task 2 ---------------------------------------------------------------------
    Mutant(
        "13",
        "cpu_bound_in_threads",
        ((SUBMITS, SUBMITS.replace("(pool,", "(None,")),),
        {
            "test_cpu_bound_in_processes": "ran cpu_heavy in a thread of this process",
            "test_cpu_bound_in_order": "ran cpu_heavy in a thread of this process",
        },
    ),
    Mutant(
        "13",
        "cpu_bound_on_the_loop",
        (
            (
                SUBMITS + GATHER_COMMENT + GATHER,
                "        return [cpu_heavy(value) for value in values]\n",
            ),
        ),
        {
            "test_cpu_bound_in_processes": "line {line}: return [cpu_heavy(value)",
            "test_cpu_bound_keeps_loop_free": "ran cpu_heavy on the event loop's own thread",
        },
    ),
    Mutant(
        "13",
        "cpu_bound_blocking_map",
        (
            (
                SUBMITS + GATHER_COMMENT + GATHER,
                "        return list(pool.map(cpu_heavy, values))\n",
            ),
        ),
        {
            "test_cpu_bound_keeps_loop_free": "line {line}: return list(pool.map(cpu_heavy",
        },
    ),
    Mutant(
        "13",
        "cpu_bound_as_completed",
        (
            (
                GATHER,
                "        return [await future for future in asyncio.as_completed(futures)]\n",
            ),
        ),
        {"test_cpu_bound_in_order": "the right results in the wrong order"},
    ),
    Mutant(
        "13",
        "cpu_bound_lambda",
        (
            (
                SUBMITS,
                "        futures = [\n"
                "            loop.run_in_executor(pool, lambda v=value: cpu_heavy(v))"
                " for value in values\n"
                "        ]\n",
            ),
        ),
        {
            "test_cpu_bound_in_processes": "could not send its work to the worker processes",
            "test_cpu_bound_fork": "could not send its work to the worker processes",
            "test_cpu_bound_spawn": "could not send its work to the worker processes",
            "test_cpu_bound_forkserver": "no lambda, no function defined inside cpu_bound",
        },
    ),
    # --- task 3 ---------------------------------------------------------------------
    Mutant(
        "13",
        "module_level_pool",  # the article's
        (
            (
                "BLOCKING_SECONDS = 0.2\n",
                "BLOCKING_SECONDS = 0.2\nexecutor = ThreadPoolExecutor(max_workers=5)\n",
            ),
            (START_POOL, ""),
            (STOP_POOL, ""),
            (
                REPORT_CALL,
                "        result = await loop.run_in_executor(executor, blocking_task, n)\n",
            ),
        ),
        {
            "test_pool_made_when_serving": "makes a pool when it is imported: executor",
            "test_pool_shut_down": "and the app never shuts it down",
            "test_report": "ran blocking_task outside the app's pool",
        },
    ),
    Mutant(
        "13",
        "pool_ignores_max_workers",
        (
            (
                "            max_workers=max_workers, thread_name_prefix",
                "            thread_name_prefix",
            ),
        ),
        {"test_pool_made_when_serving": "create_app(max_workers=3): the pool has"},
    ),
    Mutant(
        "13",
        "pool_made_in_create_app",
        (
            (
                START_POOL,
                '    app.extensions["report_pool"] = ThreadPoolExecutor(max_workers=max_workers)\n',
            ),
        ),
        {"test_pool_made_when_serving": "create_app() made a thread pool itself"},
    ),
    Mutant(
        "13",
        "pool_never_shut_down",
        ((STOP_POOL, ""),),
        {"test_pool_shut_down": "the app's pool was not shut down when the app stopped serving"},
    ),
    Mutant(
        "13",
        "pool_per_request",
        (
            (START_POOL, ""),
            (STOP_POOL, ""),
            (
                REPORT_CALL,
                "        with ThreadPoolExecutor(max_workers) as pool:\n"
                "            result = await loop.run_in_executor(pool, blocking_task, n)\n",
            ),
        ),
        {
            "test_pool_made_when_serving": "0 thread pools were made when serving started",
            "test_pool_shut_down": "a pool was shut down while the app was still serving",
            "test_report": "ran blocking_task outside the app's pool",
            "test_reports_throughput": "10 reports ran at once with max_workers=5",
        },
    ),
    # --- task 4 ---------------------------------------------------------------------
    Mutant(
        "13",
        "report_direct_call",
        ((REPORT_CALL, "        result = blocking_task(n)\n"),),
        {
            "test_report": "GET /report/7 called blocking_task on the event loop's own thread",
            "test_ping_while_reports_run": "line {line}: result = blocking_task(n)",
            "test_reports_throughput": "on the event loop's own thread",
        },
    ),
    Mutant(
        "13",
        "report_waits_with_result",
        (
            (
                REPORT_CALL,
                '        pool = app.extensions["report_pool"]\n'
                "        result = pool.submit(blocking_task, n).result()\n",
            ),
        ),
        {
            "test_ping_while_reports_run": "GET /report/<n> " + FROZE,
            "test_reports_throughput": "10 concurrent reports took",
        },
        avoid={"test_report": "failed"},
    ),
    Mutant(
        "13",
        "report_in_default_executor",
        ((REPORT_CALL, "        result = await asyncio.to_thread(blocking_task, n)\n"),),
        {"test_report": "(asyncio's default executor: asyncio.to_thread"},
    ),
    Mutant(
        "13",
        "report_behind_a_lock",
        (
            (
                "    app = Quart(__name__)\n",
                "    app = Quart(__name__)\n    lock = asyncio.Lock()\n",
            ),
            (REPORT_CALL, "        async with lock:\n    " + REPORT_CALL),
        ),
        {
            "test_ping_while_reports_run": "at most 1 at once",
            "test_reports_throughput": "at most 1 ran at once",
        },
    ),
    Mutant(
        "13",
        "ping_through_the_pool",
        (
            (
                PING,
                '    @app.get("/ping")\n'
                "    async def ping() -> ResponseReturnValue:\n"
                "        loop = asyncio.get_running_loop()\n"
                '        pool = app.extensions["report_pool"]\n'
                '        return {"status": await loop.run_in_executor(pool, str, "ok")}\n',
            ),
        ),
        {"test_ping_while_reports_run": "it must not use the pool"},
    ),
    Mutant(
        "13",
        "report_without_bound",
        (
            (
                "        if n > MAX_N:\n"
                '            return {"error": f"n must be at most {MAX_N}"}, 400\n',
                "",
            ),
        ),
        {"test_report_too_big": "an n of 2200 digits makes n * n of over 4300 digits"},
    ),
    Mutant(
        "13",
        "report_bound_off_by_one",
        (("        if n > MAX_N:\n", "        if n >= MAX_N:\n"),),
        {"test_report_too_big": "n = MAX_N (1000000) is allowed"},
    ),
    Mutant(
        "13",
        "json_errors_dropped",
        (("    app = Quart(__name__)\n    add_json_errors(app)\n", "    app = Quart(__name__)\n"),),
        {"test_report_errors_json": "GET /report/-5 did not answer a JSON error"},
    ),
    Mutant(
        "13",
        "error_text_to_the_client",
        (
            (
                '        return {"error": "internal server error"}, 500\n',
                '        return {"error": str(error)}, 500\n',
            ),
        ),
        {"test_report_errors_json": "sent the exception's text to the client"},
    ),
]
