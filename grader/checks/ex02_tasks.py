"""Checks for chapter 02: tasks, gather, limits, races and taking turns."""

import asyncio
from typing import Any

from grader.lab import (
    JobBoard,
    JobError,
    Learner,
    check,
    counting_semaphores,
    expect_equal,
    expect_seconds,
    fail,
    now,
    other_tasks,
    patch_uneven_fetchers,
    show,
    timed,
    within,
)

CONCURRENT = "Start every job before waiting for any (tasks in a TaskGroup, or gather)."
LATE_BINDING = (
    "A lambda made in a loop, such as `[lambda: run(f) for f in factories]`, does not keep "
    "the value `f` had when it was made: it looks `f` up when it is called, once the loop "
    "has ended, so every lambda runs the last factory. Bind the value when the lambda is "
    "made: `lambda f=f: run(f)` (or use functools.partial, or no lambda at all)."
)


def expect_results(
    result: Any, expected: list[Any], board: JobBoard, *, call: str, hint: str
) -> None:
    """The results in input order; a result list made of one job's result, with that job run
    once per factory, is named for what it is: factories that all run the same job."""
    same = board.same_job_every_time()
    if result != expected and same is not None:
        fail(
            f"{call}: every factory ran the same job, {same.label}, {same.runs} times",
            expected=show(expected),
            got=f"{show(result)}: {same.label} ran {same.runs} times, the other jobs never",
            hint=LATE_BINDING,
        )
    expect_equal(result, expected, call=call, hint=hint)


async def expect_job_error(call: Any, what: str, board: JobBoard, *, hint: str) -> float:
    """The learner's call must raise the failing job's JobError (bare or in an
    ExceptionGroup) and leave no job or task running. Returns when it raised."""
    try:
        result = await within(60, call, what)
    except JobError:
        pass
    except BaseExceptionGroup as group:
        if group.subgroup(JobError) is None:
            fail(
                f"{what} raised an exception group without the job's error",
                expected="JobError, bare or inside an ExceptionGroup",
                got=show(group),
            )
    else:
        if isinstance(result, list) and any(isinstance(r, BaseException) for r in result):
            fail(
                f"{what} returned the job's exception as one of its results",
                expected="the job's JobError propagates: the call raises it",
                got=f"it returned {show(result)}",
                hint="`asyncio.gather(..., return_exceptions=True)` turns exceptions into "
                "results. Leave return_exceptions out, or better use an asyncio.TaskGroup, "
                "which raises the error and cancels the other jobs.",
            )
        fail(
            f"{what} returned although a job failed",
            expected="the job's JobError propagates",
            got=f"it returned {show(result)}",
            hint="Do not swallow the error: let it propagate out of the function.",
        )
    raised_at = now()
    left = board.unfinished()
    tasks = other_tasks()
    if left or tasks:
        fail(
            f"{what} returned while other jobs were still running",
            expected="every other job cancelled and finished before the error reaches the caller",
            got=f"still running: {board.describe(left)}; {len(tasks)} task(s) left on the loop",
            hint=hint,
        )
    return raised_at


@check("fetch_data_1() and fetch_data_2() take 1 s and return their data", task=1)
async def test_fetch_data_1_and_2(learner: Learner) -> None:
    for name, expected in (
        ("fetch_data_1", "Data 1 fetched!"),
        ("fetch_data_2", "Data 2 fetched!"),
    ):
        fetch = learner.coroutine_function(name)
        result, took = await timed(60, fetch(), f"{name}()")
        expect_equal(result, expected, call=f"await {name}()")
        expect_seconds(took, 1.0, what=f"{name}()", hint="`await asyncio.sleep(1)`, then return.")


@check("fetch_both() runs both fetches at once: 1 s in all", task=2)
async def test_fetch_both_concurrent(learner: Learner) -> None:
    fetch_both = learner.coroutine_function("fetch_both")
    result, took = await timed(60, fetch_both(), "fetch_both()")
    expect_equal(
        result, {"data1": "Data 1 fetched!", "data2": "Data 2 fetched!"}, call="await fetch_both()"
    )
    expect_seconds(
        took,
        1.0,
        what="fetch_both()",
        hint=f"Two 1 s fetches one after the other take 2 s. {CONCURRENT}",
    )


@check("fetch_both() returns what fetch_data_1 and fetch_data_2 return", task=2)
async def test_fetch_both_uses_fetchers(learner: Learner) -> None:
    fetch_both = learner.coroutine_function("fetch_both")

    patch_uneven_fetchers(learner)
    result = await within(60, fetch_both(), "fetch_both()")
    expect_equal(
        result,
        {"data1": "first spy", "data2": "second spy"},
        call="await fetch_both() (with both fetchers replaced by spies)",
        hint="Call fetch_data_1() and fetch_data_2() and return their results; do not "
        "write the strings yourself.",
    )


@check("gather_all runs every job at once, results in input order", task=3)
async def test_gather_all_order(learner: Learner) -> None:
    gather_all = learner.coroutine_function("gather_all")
    board = JobBoard()
    delays = [3.0, 1.0, 2.0, 1.0, 2.5]
    result, took = await timed(60, gather_all(board.jobs(delays)), "gather_all(jobs)")
    expect_results(
        result,
        [f"result {i}" for i in range(len(delays))],
        board,
        call=f"await gather_all(jobs taking {delays} s)",
        hint="Results come in the order of the factories, not the order they finish.",
    )
    expect_seconds(
        took,
        3.0,
        what=f"gather_all of jobs taking {delays} s",
        hint=f"Concurrent jobs take as long as the slowest one. {CONCURRENT}",
    )
    if board.peak != len(delays):
        fail(
            "gather_all did not run all the jobs at once",
            expected=f"{len(delays)} jobs in flight together",
            got=f"at most {board.peak}",
            hint=CONCURRENT,
        )


@check("gather_all([]) returns []", task=3)
async def test_gather_all_empty(learner: Learner) -> None:
    gather_all = learner.coroutine_function("gather_all")
    result = await within(60, gather_all([]), "gather_all([])")
    expect_equal(result, [], call="await gather_all([])")


@check("gather_all accepts factories that return any awaitable, such as a Future", task=3)
async def test_gather_all_awaitables(learner: Learner) -> None:
    gather_all = learner.coroutine_function("gather_all")
    loop = asyncio.get_running_loop()

    def future_factory() -> asyncio.Future[str]:
        future: asyncio.Future[str] = loop.create_future()
        loop.call_later(0.5, future.set_result, "from a future")
        return future

    async def coroutine_factory() -> str:
        await asyncio.sleep(0.25)
        return "from a coroutine"

    result = await within(
        60,
        gather_all([future_factory, coroutine_factory]),
        "gather_all([a Future factory, a coroutine factory])",
    )
    expect_equal(
        result,
        ["from a future", "from a coroutine"],
        call="await gather_all([returns a Future, returns a coroutine])",
        hint="create_task needs a coroutine: wrap the awaitable in a small "
        "`async def` that awaits it (or use asyncio.ensure_future).",
    )


@check("gather_all: when one job fails, the others are cancelled and finished", task=3)
async def test_gather_all_failure(learner: Learner) -> None:
    gather_all = learner.coroutine_function("gather_all")
    board = JobBoard()
    factories = [
        board.job(3.0, "slow", label="slow job"),
        board.job(1.0, fails=True, label="failing job"),
        board.job(2.0, "medium", label="medium job"),
    ]
    raised_at = await expect_job_error(
        gather_all(factories),
        "gather_all(jobs, one failing at 1 s)",
        board,
        hint="asyncio.gather leaves the others running when one fails; asyncio.TaskGroup "
        "cancels them and waits for them before raising.",
    )
    expect_seconds(
        raised_at,
        1.0,
        what="gather_all with a job failing at 1 s (until it raised)",
        hint="Cancel the other jobs as soon as one fails instead of waiting for them.",
    )


def expect_shared_semaphore(
    call: str, board: JobBoard, limit: int, semaphores: list[asyncio.Semaphore]
) -> None:
    """Too many jobs at once, and several semaphores made: each job had its own."""
    if board.peak > limit and len(semaphores) > 1:
        fail(
            f"{call} had {board.peak} jobs in flight at once: it made "
            f"{len(semaphores)} semaphores, a new one for each job",
            expected=f"at most {limit} at any moment, all held back by one semaphore",
            got=f"{board.peak} in flight; {len(semaphores)} asyncio.Semaphore objects made",
            hint="A semaphore only limits the tasks that share it. Each job took a "
            "semaphore of its own, which was always free. Make one "
            "`asyncio.Semaphore(limit)` before starting the jobs, and have every job "
            "enter that same one.",
        )


@check("gather_limited: 10 one-second jobs, limit 3, take 4 s, results in order", task=4)
async def test_gather_limited_timing(learner: Learner) -> None:
    gather_limited = learner.coroutine_function("gather_limited")
    board = JobBoard()
    call = "gather_limited(10 jobs of 1 s, limit=3)"
    with counting_semaphores() as semaphores:
        result, took = await timed(120, gather_limited(board.jobs([1.0] * 10), 3), call)
    expect_results(
        result,
        [f"result {i}" for i in range(10)],
        board,
        call="await gather_limited(10 jobs, 3)",
        hint="Keep the results in the order of the factories.",
    )
    expect_shared_semaphore(call, board, 3, semaphores)
    expect_seconds(
        took,
        4.0,
        what=call,
        hint="Three at a time: 3 + 3 + 3 + 1 jobs, 4 rounds of 1 s. Start them all "
        "and let an asyncio.Semaphore(limit) hold back the extra ones.",
    )


@check("gather_limited never has more than `limit` jobs in flight, and reaches it", task=4)
async def test_gather_limited_peak(learner: Learner) -> None:
    gather_limited = learner.coroutine_function("gather_limited")
    for count, limit in ((10, 3), (6, 1), (7, 4)):
        board = JobBoard()
        jobs = board.jobs([1.0] * count)
        call = f"gather_limited({count} jobs, limit={limit})"
        with counting_semaphores() as semaphores:
            await within(120, gather_limited(jobs, limit), call)
        expect_shared_semaphore(call, board, limit, semaphores)
        if board.peak != limit:
            fail(
                f"{call} had {board.peak} jobs in flight at once",
                expected=f"exactly {limit} at the busiest moment",
                got=f"{board.peak}",
                hint="An `asyncio.Semaphore(limit)` held around each job's await keeps the "
                "count at the limit: above it means no limit, below it means too little "
                "overlap (start every job at once and let the semaphore hold them back).",
            )


@check("gather_limited takes a freed slot at once: uneven jobs are not run in batches", task=4)
async def test_gather_limited_no_batches(learner: Learner) -> None:
    gather_limited = learner.coroutine_function("gather_limited")
    # A semaphore gives a freed slot to the next job at once: 2 s. Batches of `limit` jobs
    # that each wait for their slowest member take 3 s.
    delays = [0.5, 1.5, 1.0, 2.0, 0.5, 1.0, 0.25]
    board = JobBoard()
    call = f"gather_limited(7 jobs taking {delays} s, limit=4)"
    result, took = await timed(120, gather_limited(board.jobs(delays), 4), call)
    expect_results(
        result,
        [f"result {i}" for i in range(len(delays))],
        board,
        call=f"await {call}",
        hint="Keep the results in the order of the factories.",
    )
    expect_seconds(
        took,
        2.0,
        what=call,
        hint="A job should start as soon as any slot is free, not when a whole batch has "
        "finished: start every job and let the semaphore hold back the extra ones.",
    )


@check("gather_limited calls each factory only once a slot is free", task=4)
async def test_gather_limited_calls_factories_late(learner: Learner) -> None:
    gather_limited = learner.coroutine_function("gather_limited")
    # These factories start their job when called (they return a task that already runs),
    # as many real ones do (a client's request, asyncio.ensure_future(...)): the limit holds
    # only if a factory is called after its slot is taken.
    board = JobBoard()
    jobs = board.jobs([1.0] * 6)
    started: list[asyncio.Task[Any]] = []

    def eager(job: Any) -> Any:
        def factory() -> asyncio.Task[Any]:
            started.append(asyncio.ensure_future(job()))
            return started[-1]

        return factory

    call = "gather_limited(6 factories that start their job when called, limit=2)"
    try:
        await within(120, gather_limited([eager(job) for job in jobs], 2), call)
    finally:
        for task in started:
            task.cancel()
    if board.peak > 2:
        fail(
            f"{call} had {board.peak} jobs in flight at once",
            expected="at most 2: each factory called once a slot is free",
            got=f"{board.peak}: every factory was called before its job took a slot",
            hint="Calling a factory may already start its work. Call it inside "
            "`async with semaphore:`, as in `async with semaphore: return await factory()`, "
            "not all at once before the jobs wait for a slot.",
        )


@check("gather_limited with a limit above the number of jobs runs them all at once", task=4)
async def test_gather_limited_large_limit(learner: Learner) -> None:
    gather_limited = learner.coroutine_function("gather_limited")
    board = JobBoard()
    result, took = await timed(
        60, gather_limited(board.jobs([1.0] * 4), 10), "gather_limited(4 jobs, 10)"
    )
    expect_results(
        result,
        [f"result {i}" for i in range(4)],
        board,
        call="await gather_limited(4 jobs, 10)",
        hint="Keep the results in the order of the factories.",
    )
    expect_seconds(took, 1.0, what="gather_limited(4 jobs of 1 s, limit=10)", hint=CONCURRENT)


@check("gather_limited raises ValueError for a limit below 1, without hanging", task=4)
async def test_gather_limited_bad_limit(learner: Learner) -> None:
    gather_limited = learner.coroutine_function("gather_limited")
    for limit in (0, -2):
        board = JobBoard()
        try:
            await within(
                10,
                gather_limited(board.jobs([1.0, 1.0]), limit),
                f"gather_limited(jobs, {limit})",
                hint="Check `limit < 1` first and raise ValueError: a Semaphore(0) "
                "never lets anyone in.",
            )
        except ValueError:
            pass
        else:
            fail(
                f"gather_limited(jobs, {limit}) did not raise ValueError",
                expected="ValueError",
                got="it returned",
                hint="`if limit < 1: raise ValueError(...)`",
            )
        if any(r.started is not None for r in board.records):
            fail(
                f"gather_limited(jobs, {limit}) started jobs before rejecting the limit",
                expected="ValueError before any job starts",
                got=board.describe(board.records),
                hint="Validate the arguments first, then start work.",
            )


@check("gather_limited: when one job fails, the others are cancelled and finished", task=4)
async def test_gather_limited_failure(learner: Learner) -> None:
    gather_limited = learner.coroutine_function("gather_limited")
    board = JobBoard()
    factories = [
        board.job(2.0, "a", label="job a"),
        board.job(1.0, fails=True, label="failing job"),
        board.job(3.0, "c", label="job c"),
        board.job(1.0, "d", label="job d"),
    ]
    await expect_job_error(
        gather_limited(factories, 2),
        "gather_limited(jobs, 2) with a failing job",
        board,
        hint="Build it on the same all-or-nothing structure as gather_all.",
    )


@check("first_completed returns the fastest result", task=5)
async def test_first_completed_result(learner: Learner) -> None:
    first_completed = learner.coroutine_function("first_completed")
    board = JobBoard()
    result, took = await timed(
        60, first_completed(board.jobs([3.0, 1.0, 2.0])), "first_completed(jobs)"
    )
    expect_equal(
        result,
        "result 1",
        call="await first_completed(jobs taking [3, 1, 2] s)",
        hint="Use asyncio.wait(..., return_when=asyncio.FIRST_COMPLETED) and return the "
        "result of the task that is done.",
    )
    expect_seconds(
        took,
        1.0,
        what="first_completed of jobs taking [3, 1, 2] s",
        hint="Return as soon as the first job is done.",
    )
    board = JobBoard()
    result = await within(60, first_completed(board.jobs([0.5])), "first_completed([one job])")
    expect_equal(result, "result 0", call="await first_completed([one job])")


@check("first_completed cancels the others and waits until they have finished", task=5)
async def test_first_completed_cleanup(learner: Learner) -> None:
    first_completed = learner.coroutine_function("first_completed")
    board = JobBoard()
    await within(60, first_completed(board.jobs([3.0, 1.0, 2.0])), "first_completed(jobs)")
    left = board.unfinished()
    tasks = other_tasks()
    if left or tasks:
        fail(
            "first_completed returned while the slower jobs were still running",
            expected="the other jobs cancelled, and finished, before it returns",
            got=f"still running: {board.describe(left)}; {len(tasks)} task(s) left on the loop",
            hint="Cancel each pending task, then await them (gather with return_exceptions=True): "
            "cancel() only asks a task to stop.",
        )
    losers = [r for r in board.records if r.label != "job 1"]
    if any(r.outcome != "cancelled" for r in losers):
        fail(
            "first_completed let the slower jobs run to the end",
            expected="the other jobs cancelled",
            got=board.describe(losers),
            hint="Call task.cancel() on every task that is not done.",
        )


@check("first_completed, cancelled while it waits, cancels and finishes its jobs too", task=5)
async def test_first_completed_cancelled(learner: Learner) -> None:
    first_completed = learner.coroutine_function("first_completed")
    board = JobBoard()
    racing = asyncio.create_task(first_completed(board.jobs([3.0, 2.0])))
    await asyncio.sleep(1.0)  # both jobs are running; neither has finished
    if racing.done():
        result = racing.result()  # what it raised, if it raised, is the learner's to see
        fail(
            "first_completed returned before any job had finished",
            expected="it waits for the first job to finish (2 s here)",
            got=f"it returned {show(result)} after less than 1 s",
            hint="`await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)`.",
        )
    racing.cancel()
    await asyncio.wait([racing], timeout=60)
    left = board.unfinished()
    tasks = other_tasks()
    if left or tasks:
        fail(
            "first_completed, cancelled by its caller, left its jobs running",
            expected="when first_completed is cancelled, its jobs are cancelled and finished "
            "before the cancellation reaches the caller",
            got=f"still running: {board.describe(left)}; {len(tasks)} task(s) left on the loop",
            hint="A cancelled coroutine stops at the `await` it was waiting on: code after it "
            "never runs. Put the cleanup (cancel every task, then await them) in a "
            "`finally:` around the wait, so it also runs when first_completed is cancelled.",
        )


class TurnLog(list[str]):
    """A list that also notes which task made each append."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: list[asyncio.Task[Any] | None] = []

    def append(self, item: str) -> None:
        self.writers.append(asyncio.current_task())
        super().append(item)

    def extend(self, items: Any) -> None:
        for item in items:
            self.append(item)

    def __iadd__(self, items: Any) -> "TurnLog":  # type: ignore[override]
        self.extend(items)
        return self

    def insert(self, index: Any, item: str) -> None:
        self.writers.insert(index, asyncio.current_task())
        super().insert(index, item)


@check("interleave makes two tasks take turns: A0 B0 A1 B1 A2 B2", task=6)
async def test_interleave(learner: Learner) -> None:
    interleave = learner.coroutine_function("interleave")
    log = TurnLog()
    await within(60, interleave(log), "interleave(log)")
    expect_equal(
        list(log),
        ["A0", "B0", "A1", "B1", "A2", "B2"],
        call="interleave(log); log",
        hint="Each task appends, then `await asyncio.sleep(0)` to let the other one run.",
    )


@check("interleave's appends come from two concurrent tasks", task=6)
async def test_interleave_tasks(learner: Learner) -> None:
    interleave = learner.coroutine_function("interleave")
    log = TurnLog()
    me = asyncio.current_task()
    await within(60, interleave(log), "interleave(log)")
    still_running = other_tasks()
    if still_running:
        fail(
            "interleave returned while its tasks were still running",
            expected="both tasks finished before interleave returns",
            got=f"{len(still_running)} task(s) still running, log so far: {show(list(log))}",
            hint="Wait for both tasks before returning (a TaskGroup does that for you).",
        )
    if len(log) != 6:
        fail(
            "interleave did not leave six entries in the log",
            expected="A0 B0 A1 B1 A2 B2, appended by two tasks",
            got=show(list(log)),
            hint="Each of two tasks appends three entries; wait for both before returning.",
        )
    writers = dict(zip(log, log.writers, strict=True))
    a_tasks = {id(writers.get(f"A{i}")) for i in range(3)}
    b_tasks = {id(writers.get(f"B{i}")) for i in range(3)}
    if id(me) in a_tasks | b_tasks:
        fail(
            "interleave wrote the entries itself instead of from two tasks",
            expected="one task appends A0 A1 A2, another appends B0 B1 B2",
            got="the entries came from interleave's own coroutine",
            hint="Write a worker coroutine and run two of them as tasks (TaskGroup or gather).",
        )
    if len(a_tasks) != 1 or len(b_tasks) != 1 or a_tasks == b_tasks:
        fail(
            "interleave's entries were not written by two tasks of their own",
            expected="one task appends A0 A1 A2, another appends B0 B1 B2",
            got="a single task wrote both kinds of entry",
            hint="Run two worker tasks, one per prefix.",
        )
