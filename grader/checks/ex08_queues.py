"""Checks for chapter 08: a bounded queue per app, `workers` workers started when serving
starts, failures counted, exact stats, backpressure (503 with Retry-After), a drain at
shutdown, and batches run concurrently under a bound and answered 200."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from quart import Quart

from grader.lab import Learner, Stopwatch, check, expect_seconds, fail, now, other_tasks, show
from grader.lab.web import Reply, build_app, call, expect_json, expect_json_error, expect_status

STATS = ("queued", "in_progress", "processed", "failed")
POOL_HINT = (
    "In @app.before_serving, start `workers` tasks with asyncio.create_task(worker()), each "
    "looping: take a task with `await queue.get()`, `await process_task(payload)` (or "
    "default_process_task when process_task is None), then `queue.task_done()`."
)
JSON = {"Content-Type": "application/json"}


class TaskError(Exception):
    """What the spy raises for a payload with "fail": true."""


@dataclass
class Run:
    payload: Any
    started: float
    ended: float | None = None
    outcome: str = "running"  # then "done", "failed" or "cancelled"


class TaskSpy:
    """Stands in for process_task: each call takes `seconds` of loop time; a payload with
    "fail": true raises TaskError at the end. Records every call and the peak in flight."""

    def __init__(self, seconds: float = 2.0) -> None:
        self.seconds = seconds
        self.runs: list[Run] = []
        self.running = 0
        self.peak = 0

    async def __call__(self, payload: Any) -> None:
        loop = asyncio.get_running_loop()
        run = Run(payload, loop.time())
        self.runs.append(run)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.seconds)
            if isinstance(payload, dict) and payload.get("fail") is True:
                run.outcome = "failed"
                raise TaskError(f"the task {payload} failed on purpose")
            run.outcome = "done"
        except asyncio.CancelledError:
            run.outcome = "cancelled"
            raise
        finally:
            run.ended = loop.time()
            self.running -= 1

    def payloads(self) -> list[Any]:
        return [run.payload for run in self.runs]


def same_items(got: list[Any], expected: list[Any]) -> bool:
    return sorted(map(repr, got)) == sorted(map(repr, expected))


async def sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - now()))


async def start_serving(app: Quart) -> Any:
    """What a server does first: the before_serving hooks, then requests (a test client).
    Quart's own `app.startup()` and `app.shutdown()` are awaited directly: its test app
    would give a drain at shutdown only 6 s."""
    await app.startup()
    return app.test_client()


async def stop_serving(app: Quart, seconds: float = 60) -> bool:
    """Quart's shutdown (background tasks, then after_serving); False if still running."""
    try:
        async with asyncio.timeout(seconds):
            await app.shutdown()
    except TimeoutError:
        return False
    return True


@asynccontextmanager
async def serving(app: Quart) -> AsyncIterator[Any]:
    """Serving for checks that are not about shutdown: the workers are left to the grader,
    which cancels leftover tasks after each check, so a drain that is not written yet
    (task 6) cannot fail another task's check."""
    yield await start_serving(app)


async def enqueue(client: Any, payload: Any, *, seconds: float = 30, hint: str = "") -> Reply:
    return await call(client, "POST", "/enqueue-task", json=payload, seconds=seconds, hint=hint)


def add_context(reply: Reply, context: str) -> None:
    """Say which request of the setup this was, after its path. Not for a 404 that no route
    matched: that message names the path the app lacks, read from `reply.call`."""
    if not (reply.status == 404 and reply.routed is False):
        reply.call += context


async def enqueue_all(client: Any, payloads: list[Any], setup: str) -> None:
    """Post every payload; each must be accepted with 202."""
    for payload in payloads:
        reply = await enqueue(client, payload)
        add_context(reply, f" {show(payload)} ({setup})")
        expect_status(
            reply,
            202,
            hint="Put the payload on the app's queue and answer "
            '{"message": "Task enqueued", "task_id": ...}, 202.',
        )


async def read_stats(client: Any, when: str) -> dict[str, int]:
    reply = await call(client, "GET", "/queue/stats", seconds=10)
    reply.call += f" {when}"
    body = reply.json
    if reply.status != 200 or not isinstance(body, dict):
        fail(
            f"{reply.call} answered {reply.status}",
            expected='200 {"queued": n, "in_progress": n, "processed": n, "failed": n}',
            got=reply.describe(),
            hint="Task 4: GET /queue/stats answers the queue's counts as JSON.",
        )
    missing = [key for key in STATS if key not in body]
    wrong = [key for key in STATS if key in body and type(body[key]) is not int]
    if missing or wrong:
        fail(
            f"{reply.call} did not answer four whole numbers",
            expected='{"queued": n, "in_progress": n, "processed": n, "failed": n}, all int',
            got=show(body),
            hint="Missing: " + ", ".join(missing)
            if missing
            else f"Not an int: {', '.join(wrong)}. Count with ints (queue.qsize() is one).",
        )
    return {key: body[key] for key in STATS}


STATS_HINTS = {
    "queued": "`queued` counts the tasks waiting in the queue, queue.qsize(): a task a worker "
    "has taken is no longer queued, and a finished one neither.",
    "in_progress": "`in_progress` counts the tasks a worker has taken and not yet finished: "
    "add one after queue.get(), take it away in a `finally` once process_task returns or "
    "raises.",
    "processed": "`processed` counts only the tasks whose process_task returned without an "
    "error; count it after the await, not before.",
    "failed": "`failed` counts the tasks whose process_task raised: count it in the "
    "`except Exception` around the await.",
}


def expect_stats(
    got: dict[str, int], expected: dict[str, int], *, when: str, setup: str, hint: str = ""
) -> None:
    if got == expected:
        return
    wrong = next(
        key for key in ("failed", "processed", "in_progress", "queued") if got[key] != expected[key]
    )
    advice = STATS_HINTS[wrong]
    if sum(got.values()) == sum(expected.values()) and got["queued"] > expected["queued"]:
        # Every task is counted once, but too few are running: the counts are right, the
        # workers are not.
        advice = (
            "Fewer tasks were running than there are workers while others waited: start "
            "`workers` workers, and keep each one alive (an exception that leaves a worker's "
            "loop ends it for good)."
        )
    elif wrong == "processed" and got["processed"] == expected["processed"] + expected["failed"]:
        advice = (
            "`processed` counted the failed tasks too: count a task in `processed` only when "
            "process_task returned, and in `failed` when it raised."
        )
    fail(
        f"GET /queue/stats {when} answered the wrong counts ({setup})",
        expected=show(expected),
        got=show(got),
        hint=hint or advice,
    )


def retry_after(reply: Reply) -> str | None:
    for name, value in reply.headers.items():
        if name.lower() == "retry-after":
            return value
    return None


# Task 1: POST /enqueue-task ------------------------------------------------------------


@check("POST /enqueue-task answers 202 with a task_id at once, without doing the task", task=1)
async def test_enqueue_accepted(learner: Learner) -> None:
    spy = TaskSpy(2.0)
    app = build_app(learner, process_task=spy)
    task_ids = []
    async with serving(app) as client:
        for n in range(3):
            with Stopwatch() as sw:
                reply = await enqueue(client, {"n": n})
            expect_status(
                reply,
                202,
                hint='Put the payload on the app\'s queue and answer {"message": "Task enqueued", '
                '"task_id": ...}, 202: "accepted, not done yet".',
            )
            if sw.elapsed > 0:
                fail(
                    f"POST /enqueue-task took {sw.elapsed:.2f} s of event-loop time",
                    expected="0 s: the route puts the task on the queue and answers at once",
                    got=f"{sw.elapsed:.2f} s (process_task takes 2 s)",
                    hint="Do not await process_task in the route: a worker takes the task "
                    "from the queue later. Use queue.put_nowait(...), which never waits.",
                )
            body = reply.json
            if not isinstance(body, dict) or body.get("message") != "Task enqueued":
                fail(
                    "POST /enqueue-task answered the wrong JSON",
                    expected='{"message": "Task enqueued", "task_id": ...}',
                    got=show(body),
                )
            task_id = body.get("task_id")
            if not (isinstance(task_id, str) and task_id) and type(task_id) is not int:
                fail(
                    "POST /enqueue-task answered no usable task_id",
                    expected='"task_id": a string (or a number) naming this task',
                    got=show(body),
                    hint="uuid.uuid4().hex makes an id that no other task has.",
                )
            task_ids.append(task_id)
    if len(set(task_ids)) != len(task_ids):
        fail(
            "three tasks were given the same task_id",
            expected="a different id for every task",
            got=show(task_ids),
            hint="Make a new id per request: uuid.uuid4().hex, or a counter kept per app.",
        )


BAD_TASK_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("a JSON list", {"json": [1, 2]}),
    ("a JSON string", {"json": "resize photo.jpg"}),
    ("a JSON number", {"json": 42}),
    ("JSON null", {"data": "null", "headers": JSON}),
    ("a body that is not JSON", {"data": "{oops", "headers": JSON}),
    ("no body", {}),
]


@check("POST /enqueue-task refuses a body that is not a JSON object with 400", task=1)
async def test_enqueue_rejects_non_object(learner: Learner) -> None:
    spy = TaskSpy(0.5)
    app = build_app(learner, process_task=spy)
    async with serving(app) as client:
        for label, options in BAD_TASK_BODIES:
            reply = await call(client, "POST", "/enqueue-task", seconds=10, **options)
            add_context(reply, f" with {label}")
            expect_json_error(
                reply,
                400,
                hint="`payload = await request.get_json(silent=True)` gives None for a missing "
                'or broken body; answer 400 unless `isinstance(payload, dict)`: {"error": ...}.',
            )
        await asyncio.sleep(5)
    if spy.runs:
        fail(
            "process_task ran for a body that was refused",
            expected="no task: a refused body is never put on the queue",
            got=f"process_task was called with {show(spy.payloads())}",
            hint="Validate first, and return the 400 before anything reaches the queue.",
        )


# Task 2: the pool of workers -------------------------------------------------------------


@check("exactly `workers` tasks run at once: 4 tasks of 2 s on 2 workers are done at 4 s", task=2)
async def test_workers_in_flight(learner: Learner) -> None:
    earlier: list[TaskSpy] = []
    for workers, count, options in ((2, 4, {}), (3, 6, {"workers": 3})):
        spy = TaskSpy(2.0)
        setup = f"{count} tasks of 2 s, workers={workers}" + ("" if options else " (the default)")
        app = build_app(learner, process_task=spy, **options)
        payloads = [{"n": n, "app": f"workers={workers}"} for n in range(count)]
        async with serving(app) as client:
            start = now()
            await enqueue_all(client, payloads, setup)
            await asyncio.sleep(30)
        strays = [p for other in earlier for p in other.payloads() if p in payloads]
        if strays:
            fail(
                f"the app made earlier in this check ran tasks posted to the app with {setup}",
                expected="each app's workers take only that app's tasks",
                got=f"the earlier app's process_task ran {show(strays)}",
                hint="Two apps share one queue: make the queue when the app starts serving "
                "(in before_serving) and keep it on the app (app.extensions), never at the "
                "top of the file.",
            )
        earlier.append(spy)
        if not spy.runs:
            fail(
                f"process_task never ran ({setup})",
                expected=f"{count} calls of process_task(payload), by the workers",
                got="no call in 30 s of event-loop time",
                hint=POOL_HINT,
            )
        if not same_items(spy.payloads(), payloads):
            fail(
                f"the workers did not run process_task once per posted payload ({setup})",
                expected=show(payloads),
                got=f"{len(spy.runs)} call(s) in 30 s: {show(spy.payloads())}",
                hint="Each worker awaits process_task(payload) with the JSON object exactly "
                "as it was posted, once per task, and then takes the next task."
                if len(spy.runs) >= count
                else "Some tasks were never taken from the queue: " + POOL_HINT,
            )
        if spy.peak != workers:
            if spy.peak > workers:
                hint = (
                    "More tasks ran at once than there are workers: a task must wait in the "
                    "queue until one of the `workers` worker tasks takes it. Do not start a "
                    "task per request."
                )
            elif spy.peak == 1:
                hint = "Only one worker takes tasks (as in the article). " + POOL_HINT
            else:
                hint = "Start as many workers as the `workers` argument says, not a fixed number."
            fail(
                f"{spy.peak} task(s) ran at once ({setup})",
                expected=f"exactly {workers} at once: one per worker",
                got=f"at most {spy.peak} at once",
                hint=hint,
            )
        ends = [run.ended for run in spy.runs if run.ended is not None]
        expect_seconds(
            max(ends) - start,
            4.0,
            what=f"processing {setup}",
            hint="A worker takes its next task as soon as the last one is done.",
        )


async def task_count(since: set[asyncio.Task[Any]]) -> int:
    await asyncio.sleep(0.5)  # requests' own tasks end, workers settle on queue.get()
    return len([task for task in other_tasks() if task not in since])


@check("the workers start when serving starts: not in create_app, not per request", task=2)
async def test_workers_started_when_serving(learner: Learner) -> None:
    # What serving costs in tasks without any worker, on this version of Quart.
    before = set(other_tasks())
    bare = Quart("no_workers")
    await start_serving(bare)
    quart_tasks = await task_count(before)
    await stop_serving(bare)

    spy = TaskSpy(0.5)
    before = set(other_tasks())
    app = build_app(learner, workers=3, process_task=spy)
    at_build = await task_count(before)
    if at_build:
        fail(
            f"create_app() started {at_build} task(s) before the app was served",
            expected="no task until the app starts serving",
            got=f"{at_build} task(s) running right after create_app()",
            hint="create_app only builds the app: it may be built and never served (by a "
            "test, a tool). Start the workers in an @app.before_serving function.",
        )
    client = await start_serving(app)
    at_start = await task_count(before) - quart_tasks
    if at_start < 3:
        fail(
            f"{at_start} worker task(s) were running once serving had started "
            "(workers=3, no request yet)",
            expected="3 workers, started in before_serving",
            got=f"{at_start}",
            hint="Start the workers in an @app.before_serving function, not when a request comes."
            if at_start == 0
            else "Start as many workers as the `workers` argument says.",
        )
    await enqueue_all(client, [{"n": n} for n in range(10)], "workers=3")
    await asyncio.sleep(5)  # 10 tasks of 0.5 s on 3 workers: done after 2 s
    after = await task_count(before) - quart_tasks
    if after > at_start:
        fail(
            f"{after - at_start} more task(s) were running after 10 requests than before them",
            expected=f"the same {at_start} workers, taking every task from the queue",
            got=f"{at_start} tasks when serving started, {after} after 10 requests",
            hint="Start the workers once, in before_serving; a request only puts its task on "
            "the queue.",
        )


@check("each app has its own queue, workers and stats", task=2)
async def test_state_per_app(learner: Learner) -> None:
    spy_a, spy_b = TaskSpy(1.0), TaskSpy(1.0)
    app_a = build_app(learner, workers=1, process_task=spy_a)
    app_b = build_app(learner, workers=1, process_task=spy_b)
    tasks_a = [{"app": "A", "n": n} for n in range(3)]
    tasks_b = [{"app": "B", "n": 0}]
    setup = "app A: 3 tasks of 1 s, app B: 1 task; each app workers=1"
    async with serving(app_a) as client_a, serving(app_b) as client_b:
        await enqueue_all(client_a, tasks_a, "app A")
        await enqueue_all(client_b, tasks_b, "app B")
        await asyncio.sleep(0.5)
        stats_a = await call(client_a, "GET", "/queue/stats", seconds=10)
        stats_b = await call(client_b, "GET", "/queue/stats", seconds=10)
        await asyncio.sleep(10)
    apps = (("A", spy_a, tasks_a, "B"), ("B", spy_b, tasks_b, "A"))
    for name, spy, _, other in apps:
        strays = [p for p in spy.payloads() if isinstance(p, dict) and p.get("app") == other]
        if strays:
            fail(
                f"app {name}'s process_task ran app {other}'s task(s)",
                expected=f"each app's workers take only that app's tasks ({setup})",
                got=f"app {name}'s process_task ran {show(strays)}",
                hint="Two apps share one queue: make the queue when the app starts serving "
                "(in before_serving) and keep it on the app (app.extensions), never at the "
                "top of the file.",
            )
    for name, spy, own, _ in apps:
        if not same_items(spy.payloads(), own):
            fail(
                f"app {name} did not process exactly its own tasks ({setup})",
                expected=show(own),
                got=show(spy.payloads()),
                hint=POOL_HINT,
            )
    if stats_a.status == 200 and stats_b.status == 200:
        got = {"A": stats_a.json, "B": stats_b.json}
        expected = {
            "A": {"queued": 2, "in_progress": 1, "processed": 0, "failed": 0},
            "B": {"queued": 0, "in_progress": 1, "processed": 0, "failed": 0},
        }
        # Counts that are wrong in other ways are test_stats_exact's business; here, a
        # count that holds both apps' tasks at once.
        both = {k: expected["A"][k] + expected["B"][k] for k in STATS}
        shared = [
            name
            for name in ("A", "B")
            if isinstance(got[name], dict)
            and any(got[name].get(k) == both[k] != expected[name][k] for k in STATS)
        ]
        if shared:
            fail(
                "GET /queue/stats: the two apps' counts are not their own",
                expected=f"{show(expected)} at 0.5 s ({setup})",
                got=show(got),
                hint="Keep the counts per app: in variables made inside create_app or on "
                "app.extensions, never at the top of the file.",
            )


# Task 3: a failing task ------------------------------------------------------------------


@check("a task that raises is counted as failed and its worker goes on with the next", task=3)
async def test_failed_task(learner: Learner) -> None:
    spy = TaskSpy(1.0)
    app = build_app(learner, workers=1, process_task=spy)
    payloads = [{"n": 0}, {"n": 1, "fail": True}, {"n": 2}, {"n": 3}]
    setup = "workers=1; 4 tasks of 1 s, the 2nd raises"
    async with serving(app) as client:
        await enqueue_all(client, payloads, setup)
        await asyncio.sleep(10)
        ran = len(spy.runs)
        if ran < len(payloads):
            failed = [run for run in spy.runs if run.outcome == "failed"]
            if failed:
                fail(
                    f"after the task {show(failed[0].payload)} raised, the worker took no "
                    "other task",
                    expected=f"all 4 tasks run ({setup}): the worker goes on",
                    got=f"{ran} of 4 ran in 10 s; the others still wait in the queue",
                    hint="The exception ended the worker's loop. Wrap `await "
                    "process_task(payload)` in `try: ... except Exception:` inside the loop: "
                    "log it (app.logger.exception), count it, take the next task.",
                )
            fail(
                f"only {ran} of 4 tasks ran in 10 s ({setup})",
                expected="all 4, one after the other",
                got=show(spy.payloads()),
                hint=POOL_HINT,
            )
        expect_stats(
            await read_stats(client, "after the 4 tasks"),
            {"queued": 0, "in_progress": 0, "processed": 3, "failed": 1},
            when="after the 4 tasks",
            setup=setup,
        )


# Task 4: GET /queue/stats ----------------------------------------------------------------


@check("GET /queue/stats counts queued, in progress, processed and failed tasks exactly", task=4)
async def test_stats_exact(learner: Learner) -> None:
    spy = TaskSpy(2.0)
    app = build_app(learner, workers=2, process_task=spy)
    setup = "workers=2; 5 tasks of 2 s posted at 0 s, the 2nd raises"
    async with serving(app) as client:
        expect_stats(
            await read_stats(client, "before any task"),
            {"queued": 0, "in_progress": 0, "processed": 0, "failed": 0},
            when="before any task",
            setup=setup,
        )
        start = now()
        payloads = [{"n": 0}, {"n": 1, "fail": True}, {"n": 2}, {"n": 3}, {"n": 4}]
        await enqueue_all(client, payloads, setup)
        for at, counts in (
            (1, (3, 2, 0, 0)),
            (3, (1, 2, 1, 1)),
            (5, (0, 1, 3, 1)),
            (7, (0, 0, 4, 1)),
        ):
            await sleep_until(start + at)
            expect_stats(
                await read_stats(client, f"at {at} s"),
                dict(zip(STATS, counts, strict=True)),
                when=f"at {at} s",
                setup=setup,
            )


@check("the defaults: 2 workers, each running default_process_task (2 s a task)", task=4)
async def test_stats_defaults(learner: Learner) -> None:
    app = build_app(learner)
    setup = "create_app() with no arguments; 4 tasks posted at 0 s"
    async with serving(app) as client:
        start = now()
        await enqueue_all(client, [{"n": n} for n in range(4)], setup)
        for at, counts in ((1, (2, 2, 0, 0)), (3, (0, 2, 2, 0)), (5, (0, 0, 4, 0))):
            await sleep_until(start + at)
            got = await read_stats(client, f"at {at} s")
            expected = dict(zip(STATS, counts, strict=True))
            hint = ""  # the counts' own hints, unless a default is what went wrong
            if at == 1 and got["in_progress"] == 1:
                hint = "With no `workers` argument, 2 workers take tasks at once."
            elif got["processed"] + got["failed"] != expected["processed"] or got["failed"]:
                hint = (
                    "process_task=None means the given default_process_task, which takes 2 s: "
                    "`process = process_task or default_process_task`, then await "
                    "process(payload)."
                )
            expect_stats(got, expected, when=f"at {at} s", setup=setup, hint=hint)


# Task 5: backpressure --------------------------------------------------------------------

FULL_SETUP = "workers=1, maxsize=2; the worker is busy for 10 s"


async def burst(client: Any, count: int) -> list[tuple[Reply, float]]:
    """`count` tasks posted one after another at 0 s, each reply with its duration."""
    replies = []
    for n in range(count):
        call_text = f"POST /enqueue-task #{n + 1} of {count} ({FULL_SETUP})"
        deadline = asyncio.timeout(5)
        try:
            with Stopwatch() as sw:
                async with deadline:
                    reply = await enqueue(client, {"n": n}, seconds=60)
        except TimeoutError:
            if not deadline.expired():
                raise  # the learner's own TimeoutError: reported as such
            fail(
                f"{call_text} had no answer after 5 s of event-loop time",
                expected="an answer at once: 202 if there is room, 503 if the queue is full",
                got="still waiting after 5 s",
                hint="With the queue full, `await queue.put(...)` waits for a free slot, as "
                "long as it takes: use queue.put_nowait(...) and answer 503 when it raises "
                "asyncio.QueueFull.",
            )
        if not (reply.status == 404 and reply.routed is False):
            reply.call = call_text
        replies.append((reply, sw.elapsed))
    return replies


def accepted_count(replies: list[tuple[Reply, float]], setup: str) -> int:
    statuses = [reply.status for reply, _ in replies]
    accepted = statuses.count(202)
    for reply, took in replies:
        if reply.status not in (202, 503):
            expect_status(reply, 503, hint="Every task gets 202 (queued) or 503 (queue full).")
        if reply.status == 202 and took > 0:
            fail(
                f"{reply.call} waited {took:.2f} s for room in the queue, then answered 202",
                expected="an answer at once: 202 if there is room, 503 if the queue is full",
                got=f"{took:.2f} s of waiting, then 202",
                hint="`await queue.put(...)` waits until a worker frees a slot, holding the "
                "request all along: use queue.put_nowait(...) and answer 503 when it raises "
                "asyncio.QueueFull.",
            )
    if accepted == len(replies):
        fail(
            f"all {accepted} tasks were accepted with 202 ({setup})",
            expected="202 for the first 2 or 3 (2 waiting, 1 taken by the worker), then 503",
            got="202 every time: the queue takes tasks faster than they can be done",
            hint="Create the queue with asyncio.Queue(maxsize): without a bound it never "
            "says no, and every 202 is a promise the workers may keep hours later.",
        )
    if not 2 <= accepted <= 3 or statuses != [202] * accepted + [503] * (len(statuses) - accepted):
        fail(
            f"the wrong tasks were refused ({setup})",
            expected="202 for the first 2 or 3 tasks (2 waiting, 1 taken by the worker), then "
            "503 for the rest",
            got=", ".join(map(str, statuses)),
            hint="Make the queue asyncio.Queue(maxsize) and answer 503 only when "
            "queue.put_nowait(...) raises asyncio.QueueFull.",
        )
    return accepted


@check("a full queue answers 503 at once, with a Retry-After header", task=5)
async def test_full_queue_503(learner: Learner) -> None:
    app = build_app(learner, workers=1, maxsize=2, process_task=TaskSpy(10.0))
    async with serving(app) as client:
        replies = await burst(client, 6)
    accepted = accepted_count(replies, FULL_SETUP)
    for reply, took in replies[accepted:]:
        expect_json_error(reply, 503, hint='Answer {"error": ...}, 503 when the queue is full.')
        if took > 0:
            fail(
                f"{reply.call} answered 503 after {took:.2f} s of event-loop time",
                expected="503 at once (0 s): a full queue is known without waiting",
                got=f"{took:.2f} s",
                hint="Do not wait for room (queue.put with a timeout): put_nowait raises "
                "QueueFull at once, and the client can back off sooner.",
            )
        value = retry_after(reply)
        if value is None:
            fail(
                f"{reply.call} answered 503 without a Retry-After header",
                expected="Retry-After: the whole number of seconds to wait, such as 2",
                got=f"headers: {show(reply.headers)}",
                hint='Return a third item, the headers: `return {"error": ...}, 503, '
                '{"Retry-After": str(RETRY_AFTER_SECONDS)}`.',
            )
        if not value.isdigit() or int(value) < 1:
            fail(
                f"{reply.call} answered Retry-After: {value}",
                expected="a whole number of seconds, at least 1, such as 2",
                got=repr(value),
                hint="Retry-After takes whole seconds (or an HTTP date): str(RETRY_AFTER_SECONDS).",
            )


@check(
    "a full queue loses nothing: every task answered 202 is processed, none answered 503", task=5
)
async def test_accepted_still_processed(learner: Learner) -> None:
    spy = TaskSpy(2.0)
    app = build_app(learner, workers=1, maxsize=2, process_task=spy)
    setup = "workers=1, maxsize=2; 6 tasks of 2 s posted at 0 s"
    async with serving(app) as client:
        replies = await burst(client, 6)
        await asyncio.sleep(30)
    for reply, _ in replies:
        if reply.status not in (202, 503):
            expect_status(reply, 503, hint="Every task gets 202 (queued) or 503 (queue full).")
    promised = [{"n": n} for n, (reply, _) in enumerate(replies) if reply.status == 202]
    refused = [{"n": n} for n, (reply, _) in enumerate(replies) if reply.status == 503]
    if not promised:
        fail(
            f"no task was accepted ({setup})",
            expected="202 for the first 2 or 3 tasks",
            got="503 every time",
            hint="Answer 503 only when queue.put_nowait(...) raises asyncio.QueueFull.",
        )
    if not spy.runs:
        fail(
            f"process_task never ran ({setup})",
            expected=f"process_task ran for every accepted task: {show(promised)}",
            got="no call in 30 s of event-loop time",
            hint=POOL_HINT,
        )
    lost = [p for p in promised if p not in spy.payloads()]
    if lost:
        fail(
            f"{len(lost)} task(s) answered 202 were never processed ({setup})",
            expected=f"process_task ran for every accepted task: {show(promised)}",
            got=f"it ran for {show(spy.payloads())}; lost: {show(lost)}",
            hint="A 202 is a promise: never drop a task once it is accepted. When the queue "
            "is full, refuse the new task with 503 instead of making room.",
        )
    ran_anyway = [p for p in refused if p in spy.payloads()]
    if ran_anyway:
        fail(
            f"{len(ran_anyway)} task(s) answered 503 were processed anyway ({setup})",
            expected="a task refused with 503 is never run: the client will send it again",
            got=f"process_task ran for {show(ran_anyway)}",
            hint="Answer 503 only when the task did not go on the queue: put_nowait raises "
            "QueueFull and puts nothing. Do not put first and check queue.full() after.",
        )


# Task 6: the drain at shutdown -----------------------------------------------------------


@check("shutdown drains the queue: every task answered 202 is processed before it ends", task=6)
async def test_drain_at_shutdown(learner: Learner) -> None:
    spy = TaskSpy(2.0)
    app = build_app(learner, workers=2, process_task=spy)
    setup = "workers=2; 6 tasks of 2 s posted at 0 s, then the server stops"
    client = await start_serving(app)
    await enqueue_all(client, [{"n": n} for n in range(6)], setup)
    start = now()
    stopped = await stop_serving(app, 60)
    cancelled = [run for run in spy.runs if run.outcome == "cancelled"]
    running = [run for run in spy.runs if run.outcome == "running"]
    never = 6 - len(spy.runs)
    if cancelled or running or never:
        got = []
        if running:
            got.append(f"{len(running)} still running when the shutdown had ended")
        if cancelled:
            got.append(
                f"{len(cancelled)} cancelled while running, at "
                f"{(cancelled[0].ended or start) - start:.2f} s of the shutdown"
            )
        if never:
            got.append(f"{never} never started")
        cancelled_at_5 = bool(cancelled) and abs((cancelled[0].ended or 0) - start - 5.0) < 0.01
        if not spy.runs:
            hint = "No worker took any task. " + POOL_HINT
        elif cancelled_at_5:
            hint = (
                "Quart gives tasks started with app.add_background_task "
                "BACKGROUND_TASK_SHUTDOWN_TIMEOUT (5 s), then cancels them, before "
                "after_serving runs. Start the workers with asyncio.create_task, and in "
                "@app.after_serving `await queue.join()` before you stop them."
            )
        else:
            hint = (
                "In @app.after_serving, first `await queue.join()`: it returns once every "
                "task has been taken and marked done. Only then cancel the workers."
            )
        fail(
            f"{len(cancelled) + len(running) + never} of the 6 tasks answered 202 were not "
            "processed when the shutdown ended",
            expected=f"all 6 processed before shutdown completes ({setup}: 6 s)",
            got="; ".join(got),
            hint=hint,
        )
    if not stopped:
        fail(
            "the app had not finished stopping after 60 s, although all 6 tasks were processed",
            expected="after_serving returns once the queue is empty and the workers are stopped",
            got=f"still stopping after 60 s ({setup})",
            hint="queue.join() waits until queue.task_done() has been called once per task: "
            "call it in the worker's `finally`, for failed tasks too. Then cancel the workers "
            "and await them with asyncio.gather(*workers, return_exceptions=True).",
        )


@check(
    "a task that raises is marked done too (task_done in `finally`): the drain still ends", task=6
)
async def test_failed_task_marked_done(learner: Learner) -> None:
    spy = TaskSpy(1.0)
    app = build_app(learner, workers=1, process_task=spy)
    payloads = [{"n": 0}, {"n": 1, "fail": True}, {"n": 2}, {"n": 3}]
    setup = "workers=1; 4 tasks of 1 s posted at 0 s, the 2nd raises; then the server stops"
    client = await start_serving(app)
    await enqueue_all(client, payloads, setup)
    with Stopwatch() as sw:
        stopped = await stop_serving(app, 60)
    finished = [run for run in spy.runs if run.outcome in ("done", "failed")]
    if not spy.runs:
        fail(
            f"process_task never ran ({setup})",
            expected="all 4 tasks run during the drain, the shutdown ends at 4 s",
            got="no call before the shutdown ended" if stopped else "no call in 60 s",
            hint="No worker took any task. " + POOL_HINT,
        )
    if len(finished) < len(payloads) and any(run.outcome == "failed" for run in spy.runs):
        fail(
            f"after the task {show(payloads[1])} raised, the other tasks did not all run "
            f"before the shutdown ended ({setup})",
            expected="all 4 tasks run, the failing one too: the worker goes on",
            got=f"{len(finished)} of 4 finished: {show([run.payload for run in finished])}",
            hint="The exception ended the worker's loop, so the tasks after it wait forever. "
            "Wrap `await process_task(payload)` in `try: ... except Exception:` inside the loop.",
        )
    if not stopped:
        queues = [q for q in app.extensions.values() if isinstance(q, asyncio.Queue)]
        unfinished = [getattr(q, "_unfinished_tasks", 0) for q in queues]
        if queues and not any(unfinished):
            fail(
                f"the shutdown had not ended after 60 s, although all {len(finished)} tasks had "
                f"run by 4 s and been marked done ({setup})",
                expected="after_serving returns once the queue is drained and the workers stop",
                got="still stopping after 60 s: queue.join() had returned, something after it "
                "still waits",
                hint="After `await queue.join()`, cancel every worker (task.cancel()) before "
                "you await them: a worker waiting in queue.get() never ends by itself.",
            )
        fail(
            f"the shutdown had not ended after 60 s, although all {len(finished)} tasks had "
            f"run by 4 s ({setup})",
            expected="the drain ends at 4 s: queue.join() returns once every task is marked done",
            got="still stopping after 60 s; the queue counts "
            + (
                "1 task never marked done: the one that raised"
                if max(unfinished) == 1
                else f"{max(unfinished)} tasks never marked done, of 4"
            )
            if queues
            else "still stopping after 60 s",
            hint="queue.join() waits for one queue.task_done() per queue.get(), for tasks that "
            "raised too. Call it in the worker's `finally:` (not in `else:`, nor after the "
            "`try` where an exception skips it), so every task is marked done however it ends.",
        )
    expect_seconds(
        sw.elapsed,
        4.0,
        what=f"the shutdown ({setup})",
        hint="The drain ends once the last task is done and marked done: no sooner, no later.",
    )


@check("after the drain, the running workers are stopped: no task is left running", task=6)
async def test_workers_stopped(learner: Learner) -> None:
    spy = TaskSpy(1.0)
    before = set(other_tasks())
    app = build_app(learner, workers=3, process_task=spy)
    client = await start_serving(app)
    await enqueue_all(client, [{"n": n} for n in range(3)], "workers=3")
    await asyncio.sleep(0.5)
    if not spy.runs:
        # Without workers there is nothing to stop: this check would pass for nothing.
        fail(
            "no worker was running before the shutdown (workers=3, 3 tasks of 1 s posted)",
            expected="3 workers running, each on a task, at 0.5 s; then a shutdown that stops them",
            got="process_task had not been called at 0.5 s: no worker took a task",
            hint="This check stops the workers that task 2 starts, so it needs them first. "
            + POOL_HINT,
        )
    stopped = await stop_serving(app, 60)
    if not stopped:
        fail(
            "the app had not finished stopping after 60 s (workers=3, 3 tasks of 1 s)",
            expected="after_serving returns once the queue is empty and the workers are stopped",
            got=f"still stopping after 60 s; process_task ran {len(spy.runs)} time(s)",
            hint="queue.join() waits until queue.task_done() has been called once per task "
            "(in the worker's `finally`); cancelled workers never call it. Drain first, then "
            "stop the workers.",
        )
    left = [task for task in other_tasks() if task not in before]
    if left:
        kinds = Counter(getattr(task.get_coro(), "__qualname__", task.get_name()) for task in left)
        names = [f"{count} x {name}" for name, count in sorted(kinds.items())]
        fail(
            f"{len(left)} task(s) were still running after the app had stopped",
            expected="none: after the drain, every worker is cancelled and awaited",
            got=f"still running: {', '.join(names)}",
            hint="In @app.after_serving, after `await queue.join()`: cancel each worker "
            "(task.cancel()), then `await asyncio.gather(*workers, return_exceptions=True)`.",
        )


# Task 7: POST /process-batch -------------------------------------------------------------


@check("POST /process-batch runs the batches at once, at most batch_concurrency at a time", task=7)
async def test_batches_bounded(learner: Learner) -> None:
    for limit, count, options, took in ((4, 6, {}, 4.0), (2, 5, {"batch_concurrency": 2}, 6.0)):
        spy = TaskSpy(2.0)
        setup = f"{count} batches of 2 s, batch_concurrency={limit}" + (
            "" if options else " (the default)"
        )
        batches = [[f"item {n}a", f"item {n}b"] for n in range(count)]
        app = build_app(learner, process_task=spy, **options)
        async with serving(app) as client:
            with Stopwatch() as sw:
                reply = await call(client, "POST", "/process-batch", json={"batches": batches})
            await asyncio.sleep(30)
        if not 200 <= reply.status < 300:
            expect_status(reply, 200, hint='Run process_task({"batch": batch}) for each batch.')
        expected = [{"batch": batch} for batch in batches]
        if not same_items(spy.payloads(), expected):
            fail(
                f"POST /process-batch did not call process_task once per batch ({setup})",
                expected=f"process_task({{'batch': batch}}) for each: {show(expected)}",
                got=show(spy.payloads()),
                hint='For each batch in body["batches"], await process_task({"batch": batch}).',
            )
        if spy.peak != limit:
            fail(
                f"{spy.peak} batch(es) ran at once ({setup})",
                expected=f"{limit} at once, never more",
                got=f"at most {spy.peak} at once",
                hint="Hold an asyncio.Semaphore(batch_concurrency) around each call."
                if spy.peak > limit
                else "Start every batch at once (a TaskGroup or gather), each waiting for the "
                "semaphore; the semaphore, not a loop, decides when each one runs."
                if spy.peak == 1
                else "The bound is batch_concurrency, not the number of workers or a fixed "
                "number: the batches do not go through the queue.",
            )
        expect_seconds(
            sw.elapsed,
            took,
            what=f"POST /process-batch ({setup})",
            hint="Answer when every batch is done, not before.",
        )


@check('POST /process-batch answers 200 {"processed": n} once every batch is done', task=7)
async def test_batches_answer(learner: Learner) -> None:
    spy = TaskSpy(2.0)
    batches = [[1, 2], [3], [4, 5, 6]]
    app = build_app(learner, process_task=spy)
    async with serving(app) as client:
        reply = await call(client, "POST", "/process-batch", json={"batches": batches})
        unfinished = len(batches) - len([r for r in spy.runs if r.outcome != "running"])
    if reply.status == 202:
        fail(
            "POST /process-batch answered 202",
            expected='200 {"processed": 3}: the batches are done when the answer leaves',
            got=reply.describe(),
            hint="202 Accepted says the work is not finished yet (that is /enqueue-task's "
            "answer). Here the route awaits every batch, so the work is done: answer 200 "
            "with the result.",
        )
    expect_json(reply, {"processed": 3}, hint='Answer {"processed": len(batches)}, 200.')
    if unfinished:
        fail(
            f"POST /process-batch answered while {unfinished} of 3 batches were not done",
            expected="the answer once every process_task call has returned",
            got=f"{unfinished} still running or not started",
            hint="Await every batch (the TaskGroup block, or gather) before you answer.",
        )


BAD_BATCH_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("a list of numbers", {"json": {"batches": [1, 2]}}),
    ("a list holding one non-list", {"json": {"batches": [[1, 2], 3]}}),
    ("a string", {"json": {"batches": "1,2"}}),
    ("an object", {"json": {"batches": {"first": [1, 2]}}}),
    ("no batches", {"json": {"items": [[1, 2]]}}),
    ("a list instead of an object", {"json": [[1, 2]]}),
    ("a body that is not JSON", {"data": "{oops", "headers": JSON}),
]


@check("POST /process-batch refuses batches that are not a list of lists with 400", task=7)
async def test_batches_rejected(learner: Learner) -> None:
    spy = TaskSpy(2.0)
    app = build_app(learner, process_task=spy)
    async with serving(app) as client:
        for label, options in BAD_BATCH_BODIES:
            reply = await call(client, "POST", "/process-batch", **options)
            add_context(reply, f" with {label}")
            expect_json_error(
                reply,
                400,
                hint='Check that body is a dict, body["batches"] a list, and every batch in '
                "it a list, before processing anything.",
            )
    if spy.runs:
        fail(
            "process_task ran for a request that was refused",
            expected="no call: validate the whole body first",
            got=f"process_task was called with {show(spy.payloads())}",
            hint="Check every batch before you start any of them.",
        )
