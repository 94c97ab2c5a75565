"""Checks for chapter 13: blocking calls run in threads while the loop goes on, CPU work in
worker processes (in order, whatever the start method), and an app whose thread pool lives
as long as it serves, keeps /ping fast while reports run, and runs max_workers at once.

Threads and processes take real time, so these checks measure real time where it matters,
inside grader.lab.realtime's `real_time()`. Whether the loop stayed free is never a wall-clock
margin: stand-ins for blocking_task wait in their threads until the check, running on the
loop, lets them go (grader.lab.pools).
"""

import asyncio
import time
from concurrent.futures import Executor
from typing import Any

from grader.lab import CheckFailed, Learner, check, expect_equal, fail, show, within
from grader.lab.pools import (
    GATE_SECONDS,
    PROBE_SLOW,
    SLOW_FROM,
    BlockingSpy,
    Call,
    PoolLog,
    Ticker,
    cpu_probe,
    probing,
    recording_pools,
    start_method,
    sum_of_squares,
    warm_forkserver,
)
from grader.lab.realtime import real_time
from grader.lab.web import (
    build_app,
    call,
    expect_allow,
    expect_json,
    expect_json_error,
    expect_status,
    serving,
    unexpected_status,
)

TO_THREAD = "`return await asyncio.to_thread(blocking_task, n)`"
BY_NAME = (
    "Call the given blocking_task by name: the check puts a stand-in in its place to see "
    "where it runs."
)
PING_MS = 50
REPORTS, WORKERS, REPORT_SECONDS = 10, 5, 0.2


def on_the_loop(call: Call, what: str, hint: str) -> CheckFailed:
    return CheckFailed(
        f"{what} called blocking_task on the event loop's own thread",
        where=call.where,
        expected="blocking_task runs in another thread while the loop serves other tasks",
        got="a direct call: while blocking_task sleeps, no other task of the loop can run",
        hint=hint,
    )


def loop_froze(spy: BlockingSpy, what: str, hint: str) -> CheckFailed:
    return CheckFailed(
        f"{what} froze the event loop while blocking_task ran in another thread",
        where=spy.loop_stuck,
        expected="the coroutine awaits the thread's result, and the loop runs other tasks "
        "meanwhile",
        got=f"blocking_task ran in a thread, but the loop ran nothing for {GATE_SECONDS:g} s "
        "(the check could not run until the call returned)",
        hint=hint,
    )


# --- task 1: run_blocking -------------------------------------------------------------


@check("run_blocking(n) returns blocking_task(n), called in another thread", task=1)
async def test_run_blocking_returns(learner: Learner) -> None:
    run_blocking = learner.coroutine_function("run_blocking")
    spy = BlockingSpy(learner, hold=False, seconds=0.05)
    learner.patch("blocking_task", spy)
    async with real_time():
        for n in (7, 12):
            result = await within(3, run_blocking(n), f"run_blocking({n})")
            if spy.on_loop:
                raise on_the_loop(
                    spy.on_loop[0], "run_blocking", f"Hand it to a thread: {TO_THREAD}."
                )
            expect_equal(result, n * n, call=f"await run_blocking({n})")
    if [c.n for c in spy.calls] != [7, 12]:
        fail(
            "run_blocking did not call blocking_task once per call, with its n",
            expected="blocking_task(7), then blocking_task(12)",
            got=f"blocking_task called with {show([c.n for c in spy.calls])}",
            hint=BY_NAME,
        )


@check("while blocking_task runs, the event loop keeps running (a ticker keeps ticking)", task=1)
async def test_run_blocking_keeps_loop_free(learner: Learner) -> None:
    run_blocking = learner.coroutine_function("run_blocking")
    spy = BlockingSpy(learner)
    learner.patch("blocking_task", spy)
    async with real_time():
        ticker = Ticker(learner).start()
        task = asyncio.ensure_future(run_blocking(7))
        returned_early = False
        try:
            if await spy.wait_inside(1, task):
                # blocking_task has started in a thread and the check runs: the loop is free.
                # Let the ticker tick while blocking_task still runs, then let it return.
                ticks, deadline = ticker.ticks, time.monotonic() + 1.0
                while ticker.ticks < ticks + 3 and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                returned_early = task.done()
        finally:
            spy.release()
        result = await within(3, task, "run_blocking(7)")
        await ticker.stop()
    if spy.on_loop:
        raise on_the_loop(spy.on_loop[0], "run_blocking", f"Hand it to a thread: {TO_THREAD}.")
    if spy.loop_stuck:
        raise loop_froze(
            spy,
            "run_blocking",
            "future.result(), thread.join() and executor.map(...) wait by blocking the thread "
            f"that calls them: here, the loop's. Await the result instead: {TO_THREAD}.",
        )
    if not spy.calls:
        fail(
            "run_blocking(7) never called blocking_task",
            expected="blocking_task(7), run in another thread",
            got=f"run_blocking(7) returned {show(result)} without calling it",
            hint=BY_NAME,
        )
    if returned_early:
        fail(
            "run_blocking(7) returned before blocking_task(7) had finished",
            expected="run_blocking waits (with await) until blocking_task returns",
            got=f"it returned {show(result)} while blocking_task was still running",
            hint=f"Await the thread's result: {TO_THREAD}.",
        )
    expect_equal(result, 49, call="await run_blocking(7)")


# --- task 2: cpu_bound ------------------------------------------------------------------

PROCESS_HINT = (
    "Make a concurrent.futures.ProcessPoolExecutor and hand each value to it: "
    "`loop.run_in_executor(pool, cpu_heavy, value)`, then `await asyncio.gather(...)`."
)
PICKLE_HINT = (
    "A process pool sends the function to its workers by name (module and function name), "
    "so it must be defined at the top level of a module: no lambda, no function defined "
    "inside cpu_bound. Pass cpu_heavy itself and its argument: "
    "`loop.run_in_executor(pool, cpu_heavy, value)`."
)


async def run_cpu_bound(learner: Learner, values: list[int], log: PoolLog) -> Any:
    """cpu_bound(values), with failures to send the work to a process explained. `log` is
    the recording_pools() the call runs in."""
    cpu_bound = learner.coroutine_function("cpu_bound")
    warm_forkserver()  # for the "forkserver" check, or the default start method on 3.14
    text = f"cpu_bound({values})"
    try:
        return await within(20, cpu_bound(values), text)
    except Exception as error:
        # The pools' own threads may still be formatting the failures of the other jobs:
        # let them finish first. (On 3.11, formatting a traceback parses source with `ast`,
        # and two threads parsing at once can break the parser's shared state.)
        for pool in log.process_pools:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        if isinstance(error, CheckFailed):
            raise
        name = type(error).__name__
        if "pickl" in f"{name} {error}".lower() or "Can't get local object" in str(error):
            raise CheckFailed(
                f"{text} could not send its work to the worker processes",
                expected="the workers receive cpu_heavy and a value",
                got=f"{name}: {str(error).splitlines()[0] if str(error) else ''}",
                hint=PICKLE_HINT,
            ) from error
        if name == "BrokenProcessPool":
            raise CheckFailed(
                f"{text}: a worker process died before it returned a result",
                expected="each worker imports your module and runs cpu_heavy",
                got=f"BrokenProcessPool: {error}",
                hint="A worker that starts with spawn or forkserver imports your file anew: "
                "code at its top level runs again there. Keep the top level to definitions.",
            ) from error
        raise


def threads_of(calls: list[Call]) -> str:
    return ", ".join(sorted({c.thread.name for c in calls}))


def expect_not_on_loop(calls: list[Call], what: str) -> None:
    on_loop = [c for c in calls if c.on_loop]
    if on_loop:
        raise CheckFailed(
            f"{what} ran cpu_heavy on the event loop's own thread",
            where=on_loop[0].where,
            expected="cpu_heavy runs in worker processes; the loop serves other tasks",
            got="a direct call: while it computes, nothing else on the loop runs",
            hint=PROCESS_HINT,
        )


def expect_in_processes(calls: list[Call], log: PoolLog, what: str) -> None:
    expect_not_on_loop(calls, what)
    if calls:
        fail(
            f"{what} ran cpu_heavy in a thread of this process, not in a worker process",
            expected="each call in a worker process of a ProcessPoolExecutor",
            got=f"{len(calls)} call(s) in the thread(s) {threads_of(calls)}",
            hint="Threads of one process share its interpreter lock: pure Python code in "
            "them runs one thread at a time, no faster than on one core, and slows the loop "
            "too. " + PROCESS_HINT,
        )
    if not log.process_submissions:
        fail(
            f"{what} sent no work to a process pool",
            expected="cpu_heavy(value) for each value, run by a ProcessPoolExecutor",
            got="no call was handed to a ProcessPoolExecutor",
            hint="Call the given cpu_heavy by name, in worker processes. " + PROCESS_HINT,
        )


@check("cpu_bound runs cpu_heavy in worker processes, not in threads or on the loop", task=2)
async def test_cpu_bound_in_processes(learner: Learner) -> None:
    learner.patch("cpu_heavy", cpu_probe)
    values = [5, 3, 8]
    with probing(learner) as calls, recording_pools() as log:
        async with real_time():
            result = await run_cpu_bound(learner, values, log)
    expect_in_processes(calls, log, f"cpu_bound({values})")
    expect_equal(result, [sum_of_squares(v) for v in values], call=f"await cpu_bound({values})")


@check("cpu_bound returns the results in the order of the values", task=2)
async def test_cpu_bound_in_order(learner: Learner) -> None:
    learner.patch("cpu_heavy", cpu_probe)
    # The first value takes longest in a worker, so the work finishes in another order.
    values = [SLOW_FROM, 4, 9, 2, 7]
    with probing(learner) as calls, recording_pools() as log:
        async with real_time():
            result = await run_cpu_bound(learner, values, log)
    expected = [sum_of_squares(v) for v in values]
    if (
        isinstance(result, list)
        and result != expected
        and sorted(map(repr, result)) == sorted(map(repr, expected))
    ):
        fail(
            f"cpu_bound({values}) returned the right results in the wrong order",
            expected=show(expected),
            got=show(result),
            hint=f"The first value takes longest ({PROBE_SLOW:g} s here), so it finishes last: "
            "the results came back in the order the work finished. asyncio.gather(*futures) "
            "returns them in the order of the futures; asyncio.as_completed, as they finish.",
        )
    expect_equal(result, expected, call=f"await cpu_bound({values})")
    expect_in_processes(calls, log, f"cpu_bound({values})")


@check("while the worker processes compute, the event loop keeps running", task=2)
async def test_cpu_bound_keeps_loop_free(learner: Learner) -> None:
    learner.patch("cpu_heavy", cpu_probe)
    values = [SLOW_FROM, 3]
    with probing(learner) as calls, recording_pools() as log:
        async with real_time():
            ticker = Ticker(learner).start()
            started = time.perf_counter()
            result = await run_cpu_bound(learner, values, log)
            took = time.perf_counter() - started
            ticks = await ticker.stop()
    expect_not_on_loop(calls, f"cpu_bound({values})")
    expect_equal(result, [sum_of_squares(v) for v in values], call=f"await cpu_bound({values})")
    if ticks == 0:
        raise CheckFailed(
            f"cpu_bound({values}) froze the event loop while the workers computed",
            where=ticker.stuck,
            expected="cpu_bound awaits the results; the loop runs other tasks meanwhile",
            got=f"a ticker on the loop did not tick once in the {took:.2f} s it took",
            hint="executor.map(...) and future.result() wait by blocking the thread that calls "
            "them: here, the loop's. Await instead: "
            "`await asyncio.gather(*(loop.run_in_executor(pool, cpu_heavy, v) for v in "
            "values))`.",
        )


async def cpu_bound_with(learner: Learner, method: str) -> None:
    # One value: a pool that starts its workers one at a time as work comes ("spawn" and
    # "forkserver" do) starts a single worker, and a fresh Python that imports quart is
    # the costliest thing these checks do. Order and processes are the other checks' job.
    values = [300]
    with start_method(method), recording_pools() as log:
        async with real_time():
            result = await run_cpu_bound(learner, values, log)
    expect_equal(
        result,
        [sum_of_squares(v) for v in values],
        call=f"await cpu_bound({values})  # workers started with {method!r}",
        hint=f"With {method!r}, a worker process gets cpu_heavy by importing your module.",
    )


@check('cpu_bound works when worker processes start with "fork"', task=2)
async def test_cpu_bound_fork(learner: Learner) -> None:
    await cpu_bound_with(learner, "fork")


@check('cpu_bound works when worker processes start with "spawn"', task=2)
async def test_cpu_bound_spawn(learner: Learner) -> None:
    await cpu_bound_with(learner, "spawn")


@check('cpu_bound works when worker processes start with "forkserver"', task=2)
async def test_cpu_bound_forkserver(learner: Learner) -> None:
    await cpu_bound_with(learner, "forkserver")


# --- task 3: the app's pool ------------------------------------------------------------

POOL_HINT = (
    'In an @app.before_serving function, `app.extensions["pool"] = '
    "ThreadPoolExecutor(max_workers=max_workers)`; in @app.after_serving, shut it down."
)


def module_level_pools(learner: Learner) -> list[str]:
    return [
        name
        for name, value in vars(learner.module).items()
        if isinstance(value, Executor) and not name.startswith("__")
    ]


def expect_one_pool(log: PoolLog, max_workers: int, what: str) -> Any:
    made = log.made_in("starting")
    if len(made) != 1:
        fail(
            f"{what}: {len(made)} thread pools were made when serving started",
            expected="exactly one ThreadPoolExecutor, made in before_serving",
            got=f"{len(made)}",
            hint=POOL_HINT,
        )
    pool = made[0]
    workers = getattr(pool, "_max_workers", None)
    if workers != max_workers:
        fail(
            f"{what}: the pool has {workers} workers",
            expected=f"max_workers={max_workers}, as create_app was given",
            got=f"ThreadPoolExecutor with {workers} workers",
            hint="Pass create_app's max_workers on: ThreadPoolExecutor(max_workers=max_workers).",
        )
    return pool


@check("each app makes its own ThreadPoolExecutor(max_workers) when serving starts", task=3)
async def test_pool_made_when_serving(learner: Learner) -> None:
    with recording_pools() as log:
        log.phase = "create_app"
        app = build_app(learner, max_workers=3)
        shared = module_level_pools(learner)
        if shared:
            fail(
                f"{learner.relpath} makes a pool when it is imported: {', '.join(shared)}",
                expected="a pool per app, made when the app starts serving",
                got="a module-level pool (the article's): every app and test in the process "
                "shares it, and nothing ever shuts it down",
                hint=POOL_HINT,
            )
        if log.made_in("create_app"):
            fail(
                "create_app() made a thread pool itself",
                expected="no threads when the app is built: the pool is made in before_serving",
                got=f"{len(log.made_in('create_app'))} pool(s) made by create_app()",
                hint=POOL_HINT,
            )
        log.phase = "starting"
        async with serving(app):
            log.phase = "serving"
            first = expect_one_pool(log, 3, "create_app(max_workers=3)")
        log.thread_pools.clear()
        log.phase = "create_app"
        other = build_app(learner)
        log.phase = "starting"
        async with serving(other):
            log.phase = "serving"
            second = expect_one_pool(log, WORKERS, "create_app()")
    if second is first:
        fail(
            "two apps got the same pool",
            expected="a new pool for every app that starts serving",
            got="the second app reused the first one's pool",
            hint=POOL_HINT,
        )


@check("the app shuts its pool down when serving stops, not before", task=3)
async def test_pool_shut_down(learner: Learner) -> None:
    spy = BlockingSpy(learner, hold=False)
    learner.patch("blocking_task", spy)
    with recording_pools() as log:
        app = build_app(learner, max_workers=2)
        log.phase = "starting"
        async with serving(app) as client, real_time():
            log.phase = "serving"
            for n in (2, 3):
                await call(client, "GET", f"/report/{n}", seconds=3)
            log.phase = "stopping"
        pools = [pool for pool, _ in log.thread_pools]
        shared = module_level_pools(learner)
        if shared:
            fail(
                f"{learner.relpath} makes a pool when it is imported ({', '.join(shared)}), "
                "and the app never shuts it down",
                expected="the app's own pool, made in before_serving, shut down in after_serving",
                got="a module-level pool (the article's): its threads live as long as the "
                "process, and one app shutting it down would break every other app",
                hint=POOL_HINT,
            )
        if not pools:
            fail(
                "no thread pool was made while the app served",
                expected="one ThreadPoolExecutor, made in before_serving",
                hint=POOL_HINT,
            )
        for pool in pools:
            when = log.shut_down(pool)
            if "serving" in when:
                fail(
                    "a pool was shut down while the app was still serving",
                    expected="one pool for the app's whole life, shut down in after_serving",
                    got="shutdown() ran during a request (a `with ThreadPoolExecutor(...)` "
                    "block in a route ends with one)",
                    hint=POOL_HINT,
                )
            if "stopping" not in when:
                fail(
                    "the app's pool was not shut down when the app stopped serving",
                    expected="pool.shutdown() in an @app.after_serving function",
                    got="its threads are left to the end of the process",
                    hint="In @app.after_serving, `pool.shutdown()`: it lets running jobs finish "
                    "and ends the threads (`await asyncio.to_thread(pool.shutdown)` keeps the "
                    "loop free while it waits).",
                )


# --- task 4: the routes ------------------------------------------------------------------

REPORT_HINT = (
    "`result = await loop.run_in_executor(pool, blocking_task, n)` with the app's pool "
    '(loop = asyncio.get_running_loop()), then `return {"result": result}`.'
)


@check('GET /report/<n> answers {"result": n*n}, from blocking_task run in the app\'s pool', task=4)
async def test_report(learner: Learner) -> None:
    spy = BlockingSpy(learner, hold=False, seconds=0.02)
    learner.patch("blocking_task", spy)
    with recording_pools() as log:
        app = build_app(learner, max_workers=2)
        log.phase = "starting"
        async with serving(app) as client, real_time():
            log.phase = "serving"
            for n in (7, 12):
                reply = await call(client, "GET", f"/report/{n}", seconds=3)
                if spy.on_loop:
                    raise on_the_loop(spy.on_loop[0], f"GET /report/{n}", REPORT_HINT)
                expect_json(reply, {"result": n * n}, hint=REPORT_HINT)
            threads = {t for pool in log.made_in("starting") for t in getattr(pool, "_threads", ())}
    if [c.n for c in spy.calls] != [7, 12]:
        fail(
            "GET /report/<n> did not call blocking_task(n) once per request",
            expected="blocking_task(7), then blocking_task(12)",
            got=f"blocking_task called with {show([c.n for c in spy.calls])}",
            hint=BY_NAME,
        )
    elsewhere = [c for c in spy.calls if c.thread not in threads]
    if elsewhere:
        fail(
            "GET /report/<n> ran blocking_task outside the app's pool",
            expected="a thread of the ThreadPoolExecutor made in before_serving",
            got=f"the thread {elsewhere[0].thread.name!r}"
            + (
                " (asyncio's default executor: asyncio.to_thread or run_in_executor(None, ...))"
                if elsewhere[0].thread.name.startswith("asyncio")
                else ""
            ),
            hint="The app's pool bounds how many reports run at once. " + REPORT_HINT,
        )


MAX_N = 1_000_000  # the stub's: the largest n a report accepts
HUGE_N = int("9" * 2200)  # n * n has over 4300 digits: Python refuses to write it as text
BOUND_HINT = (
    f"n over MAX_N ({MAX_N}) is bad input: before running anything, "
    '`if n > MAX_N: return {"error": f"n must be at most {MAX_N}"}, 400`. Without a bound, '
    "an n of 2200 digits makes n * n of over 4300 digits, which Python refuses to turn into "
    "text (JSON): the client gets a 500 for its own mistake."
)


@check("GET /report/<n> with n over MAX_N answers a JSON 400 before any work", task=4)
async def test_report_too_big(learner: Learner) -> None:
    spy = BlockingSpy(learner, hold=False)
    learner.patch("blocking_task", spy)
    async with serving(build_app(learner, max_workers=2)) as client, real_time():
        reply = await call(client, "GET", f"/report/{MAX_N}", seconds=3)
        expect_json(
            reply,
            {"result": MAX_N * MAX_N},
            hint=f"n = MAX_N ({MAX_N}) is allowed: refuse only n > MAX_N.",
        )
        for n, shown in ((MAX_N + 1, str(MAX_N + 1)), (HUGE_N, "<a number of 2200 digits>")):
            reply = await call(client, "GET", f"/report/{n}", seconds=3)
            reply.call = f"GET /report/{shown}"
            expect_json_error(reply, 400, hint=BOUND_HINT)
    refused = [c for c in spy.calls if c.n > MAX_N]
    if refused:
        fail(
            "GET /report/<n> ran blocking_task for an n it refused",
            expected="the 400 answered before any work: no thread held for nothing",
            got=f"blocking_task called with an n of {len(str(refused[0].n))} digits",
            hint="Check n first, then run the report.",
        )


class ReportFailed(OSError):
    pass


SECRET = "db.internal:5432 refused the connection for user report"


def failing_report(n: int) -> int:
    raise ReportFailed(SECRET)


@check("bad paths and failures are JSON errors: 404, 405 with Allow, 500 with no details", task=4)
async def test_report_errors_json(learner: Learner) -> None:
    hint = (
        "Keep the stub's `add_json_errors(app)` as the first line after `app = Quart(...)`: "
        "it makes every error answer a JSON object, as chapter 11 does."
    )
    async with serving(build_app(learner, max_workers=2)) as client, real_time():
        for path in ("/report/-5", "/report/1.5", "/report/abc"):
            expect_json_error(await call(client, "GET", path, seconds=3), 404, hint=hint)
        reply = await call(client, "POST", "/report/7", seconds=3)
        expect_json_error(reply, 405, hint=hint)
        expect_allow(reply, "GET", hint=hint)
        learner.patch("blocking_task", failing_report)
        reply = await call(client, "GET", "/report/7", seconds=3)
        reply.call = "GET /report/7 (blocking_task raised an OSError)"
        if reply.status != 500:
            unexpected_status(
                reply,
                'status 500 {"error": "internal server error"}',
                hint="An unexpected failure of the work is the server's error: let it reach the "
                "given JSON 500 handler.",
            )
        expect_json_error(reply, 500, hint=hint)
        if "db.internal" in reply.text:
            fail(
                f"{reply.call} sent the exception's text to the client",
                expected="a fixed message; the details go to the log",
                got=reply.describe(),
                hint="Never answer str(error): it may hold hosts, paths or passwords. "
                'Answer {"error": "internal server error"} and log the exception.',
            )


@check("GET /ping answers within 50 ms while 10 reports run", task=4)
async def test_ping_while_reports_run(learner: Learner) -> None:
    spy = BlockingSpy(learner)
    learner.patch("blocking_task", spy)
    app = build_app(learner)
    pings: list[float] = []
    async with serving(app) as client, real_time():
        reports = [
            asyncio.ensure_future(call(client, "GET", f"/report/{n}", seconds=4))
            for n in range(REPORTS)
        ]
        try:
            full = await spy.wait_inside(WORKERS, *reports)
            if full:
                # Every worker is busy with a report that cannot end before we say so: a
                # ping answered now did not wait for any of them.
                for _ in range(3):
                    started = time.perf_counter()
                    reply = await call(
                        client,
                        "GET",
                        "/ping",
                        seconds=1,
                        hint="/ping waited while every worker was busy: it must not use the "
                        'pool (nor a lock the reports hold). Return {"status": "ok"} at once.',
                    )
                    pings.append(time.perf_counter() - started)
                    expect_status(reply, 200, hint='Add @app.get("/ping") that returns at once.')
        finally:
            spy.release()
        replies = await within(4, asyncio.gather(*reports), f"{REPORTS} GET /report/<n>")
    if spy.on_loop:
        raise on_the_loop(spy.on_loop[0], "GET /report/<n>", REPORT_HINT)
    if spy.loop_stuck:
        raise loop_froze(
            spy,
            "GET /report/<n>",
            "pool.submit(...).result() and executor.map(...) block the loop's thread until "
            "the job is done. " + REPORT_HINT,
        )
    for n, reply in enumerate(replies):
        expect_json(reply, {"result": n * n}, hint=REPORT_HINT)
    if not pings:
        fail(
            f"{REPORTS} concurrent reports never had {WORKERS} blocking_task calls running at once",
            expected=f"{WORKERS} running (max_workers={WORKERS}), the other reports waiting in "
            "the pool's queue",
            got=f"at most {spy.peak} at once",
            hint="Run every report in the app's pool, without a lock around it. " + REPORT_HINT,
        )
    fastest = min(pings) * 1000
    if fastest > PING_MS:
        fail(
            f"GET /ping took {fastest:.0f} ms while {WORKERS} reports were running",
            expected=f"under {PING_MS} ms: /ping has nothing to wait for",
            got=f"the fastest of 3 pings: {fastest:.0f} ms",
            hint="Make /ping answer at once; it must not wait for the pool or for a lock.",
        )


@check("10 concurrent reports on 5 workers take about 2 x 0.2 s", task=4)
async def test_reports_throughput(learner: Learner) -> None:
    spy = BlockingSpy(learner, hold=False, seconds=REPORT_SECONDS)
    learner.patch("blocking_task", spy)
    app = build_app(learner, max_workers=WORKERS)
    async with serving(app) as client, real_time():
        started = time.perf_counter()
        replies = await within(
            4,
            asyncio.gather(
                *(call(client, "GET", f"/report/{n}", seconds=4) for n in range(REPORTS))
            ),
            f"{REPORTS} GET /report/<n>",
        )
        took = time.perf_counter() - started
    if spy.on_loop:
        raise on_the_loop(spy.on_loop[0], "GET /report/<n>", REPORT_HINT)
    for n, reply in enumerate(replies):
        expect_json(reply, {"result": n * n}, hint=REPORT_HINT)
    rounds = -(-REPORTS // WORKERS)
    if spy.peak > WORKERS:
        fail(
            f"{spy.peak} reports ran at once with max_workers={WORKERS}",
            expected=f"at most {WORKERS}: the pool's size bounds the threads",
            got=f"{spy.peak} blocking_task calls at the same moment, {took:.2f} s in all",
            hint="Run the reports in the app's pool, made with max_workers=max_workers.",
        )
    if took > 2.5 * rounds * REPORT_SECONDS:
        fail(
            f"{REPORTS} concurrent reports took {took:.2f} s with max_workers={WORKERS}",
            expected=f"about {rounds} x {REPORT_SECONDS} s = {rounds * REPORT_SECONDS:.1f} s: "
            f"{WORKERS} at a time",
            got=f"{took:.2f} s; at most {spy.peak} ran at once",
            hint="Something makes the reports wait for each other: a lock around the pool, or "
            "a pool smaller than max_workers. " + REPORT_HINT,
        )
