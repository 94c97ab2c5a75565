"""Checks for chapter 12: a deadline that returns None only once the fetch has cleaned up, a
race that leaves no loser running, a resource released on every path with the cancellation
passed on, a commit that outlives its caller's cancellation, and an app that answers 504 at
its deadline and 400 for a deadline out of bounds.

The stand-ins handed to the learner's code record what became of each call. Their cleanup
(a finally block) needs a few turns of the loop, as closing a connection does: code that
cancels a task and returns without waiting for it returns before that cleanup has run."""

import asyncio
from collections.abc import Awaitable
from typing import Any

from grader.lab import (
    CheckFailed,
    Learner,
    Stopwatch,
    check,
    expect_equal,
    expect_seconds,
    fail,
    now,
    show,
    timed,
    within,
)
from grader.lab.web import Reply, build_app, call, expect_json, expect_json_error, serving

CLEANUP_TURNS = 3  # turns of the loop a stand-in's cleanup takes (no loop time)
WAIT_AFTER_CANCEL = 60.0  # loop seconds a cancelled call may take to finish

SWALLOWED = (
    "Never end a cancellation quietly. `except asyncio.CancelledError:` (or a bare "
    "`except:`, or `except BaseException:`) without `raise` tells your caller that you "
    "finished normally. Clean up in `finally:` and let the CancelledError go on."
)
AWAIT_AFTER_CANCEL = (
    "cancel() is only a request: the CancelledError arrives at the task's next turn, and its "
    "cleanup runs after that. Wait for what you cancelled before you return: `await "
    "asyncio.gather(*tasks, return_exceptions=True)`, or use `async with asyncio.timeout(...)`, "
    "which cancels and waits for you."
)
NOTHING_CANCELLED = (
    "asyncio.wait(..., timeout=...) and asyncio.wait(..., return_when=FIRST_COMPLETED) cancel "
    "nothing: what has not finished keeps running. Cancel it, then wait for it."
)


class CallFailed(Exception):
    """What a failing stand-in raises, so a check can tell it from anything else."""


class PoolExhausted(Exception):
    """What the fake pool's acquire raises when it is told to fail."""


class WorkFailed(Exception):
    """What a failing piece of work raises."""


class SlowCall:
    """A call to another service (a fetch, a job, a commit): waits `delay` loop seconds, then
    returns `result` or raises CallFailed. Records its runs, its outcome and its cleanup."""

    def __init__(
        self, delay: float, result: Any = "fresh data", *, fails: bool = False, label: str = ""
    ) -> None:
        self.delay = delay
        self.result = result
        self.fails = fails
        self.label = label or "the fetch"
        self.runs = 0
        self.started: float | None = None
        self.ended: float | None = None
        self.outcome = "not started"  # running, done, failed, cancelled
        self.cleaned_up = False
        self.finished = asyncio.Event()

    async def __call__(self) -> Any:
        self.runs += 1
        self.started = now()
        self.outcome = "running"
        try:
            await asyncio.sleep(self.delay)
            if self.fails:
                self.outcome = "failed"
                raise CallFailed(f"{self.label} failed (on purpose)")
            self.outcome = "done"
            return self.result
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            raise
        finally:
            for _ in range(CLEANUP_TURNS):  # closing a connection takes a few turns
                await asyncio.sleep(0)
            self.cleaned_up = True
            self.ended = now()
            self.finished.set()

    def state(self) -> str:
        if self.outcome == "cancelled" and not self.cleaned_up:
            return f"{self.label}: cancelled, its cleanup not finished"
        return f"{self.label}: {self.outcome}"


async def a_few_turns() -> None:
    """Let the loop run what is ready (cancellations being delivered), in no loop time."""
    for _ in range(50):
        await asyncio.sleep(0)


async def expect_finished(calls: list[SlowCall], when: str) -> None:
    """Every call that started has ended (done, failed or cancelled) and cleaned up; for one
    that has not, say whether it was cancelled too late or never."""
    unfinished = [c for c in calls if c.runs and not c.cleaned_up]
    if not unfinished:
        return
    before = "; ".join(c.state() for c in calls)
    await a_few_turns()
    never = [c for c in unfinished if c.outcome == "running"]
    names = ", ".join(c.label for c in (never or unfinished))
    if never:
        fail(
            f"{names} {'was' if len(never) == 1 else 'were'} still running {when}",
            expected=f"{names} cancelled, and finished, by then",
            got=f"{before}. Nothing cancelled {names}",
            hint=NOTHING_CANCELLED,
        )
    fail(
        f"{names} had not finished {when}",
        expected=f"{names} cancelled and finished (its cleanup done) by then",
        got=f"{before}. A moment later: " + "; ".join(c.state() for c in calls),
        hint=AWAIT_AFTER_CANCEL,
    )


def is_learner_error(error: BaseException) -> bool:
    """An exception to explain as a failure of its own (not one the grader must pass on: a
    check's failure, a stub's NotImplementedError)."""
    return isinstance(error, Exception) and not isinstance(error, CheckFailed | NotImplementedError)


async def cancelled_at(
    seconds: float, coro: Awaitable[Any], call_text: str
) -> tuple[str, Any, float]:
    """Run the learner's call as a task, cancel it after `seconds` and wait until it ends.
    Returns ("cancelled", None, t), ("returned", value, t) after the cancel, or ("early",
    value, t) when it had ended before the cancel; t is when it ended. Its own errors are
    raised: an exception other than the CancelledError is explained as such."""
    task = asyncio.ensure_future(coro)
    ended: list[float] = []
    task.add_done_callback(lambda _: ended.append(now()))
    await asyncio.wait([task], timeout=seconds)
    if task.done():
        if task.cancelled():  # it cancelled itself
            return "cancelled", None, ended[0]
        return "early", task.result(), ended[0]  # re-raises its error (a stub's too)
    task.cancel()
    await asyncio.wait([task], timeout=WAIT_AFTER_CANCEL)
    if not task.done():
        fail(
            f"{call_text} had not finished {WAIT_AFTER_CANCEL:g} s after it was cancelled",
            expected="a cancelled call ends soon, with CancelledError",
            got="still running: it went on after the cancellation",
            hint=SWALLOWED,
        )
    if task.cancelled():
        return "cancelled", None, ended[0]
    error = task.exception()
    if error is not None:
        if not is_learner_error(error):
            raise error
        raise CheckFailed(
            f"{call_text} raised {type(error).__name__} when it was cancelled",
            expected="the CancelledError reaches the caller",
            got=f"{type(error).__name__}: {error}",
            hint="Let the CancelledError go on after your cleanup: no `except` that "
            "turns it into something else.",
        ) from error
    return "returned", task.result(), ended[0]


# --- task 1: fetch_with_timeout ---------------------------------------------------------


@check("fetch_with_timeout returns the fetch's result as soon as it arrives in time", task=1)
async def test_fetch_in_time(learner: Learner) -> None:
    fetch_with_timeout = learner.coroutine_function("fetch_with_timeout")
    for delay, result, args, text in (
        (1.0, "fresh data", (5.0,), "fetch_with_timeout(fetch, 5.0)"),
        (4.5, {"price": 189.5}, (), "fetch_with_timeout(fetch)"),
    ):
        fetch = SlowCall(delay, result)
        got, took = await timed(60, fetch_with_timeout(fetch, *args), text)
        expect_equal(
            got,
            result,
            call=f"{text} (fetch takes {delay:g} s)",
            hint="Return what `await fetch()` returned."
            if args
            else "Keep the default `timeout: float = 5.0`: a 4.5 s fetch is in time.",
        )
        expect_seconds(
            took,
            delay,
            what=f"{text} (fetch takes {delay:g} s)",
            hint="Return as soon as the fetch answers: the timeout is a limit, not a wait.",
        )


@check("fetch_with_timeout returns None after exactly `timeout` s when fetch is slower", task=1)
async def test_fetch_too_slow(learner: Learner) -> None:
    fetch_with_timeout = learner.coroutine_function("fetch_with_timeout")
    for args, seconds, text in (
        ((2.0,), 2.0, "fetch_with_timeout(fetch, 2.0)"),
        ((), 5.0, "fetch_with_timeout(fetch)"),
    ):
        fetch = SlowCall(10.0)
        with Stopwatch() as sw:
            try:
                got = await within(60, fetch_with_timeout(fetch, *args), text)
            except TimeoutError as error:
                raise CheckFailed(
                    f"{text} raised TimeoutError instead of returning None",
                    expected=f"None after {seconds:.2f} s (the fetch takes 10 s)",
                    got=f"TimeoutError after {now() - sw.start:.2f} s",
                    hint="Catch it: `except TimeoutError: return None` around the "
                    "`async with asyncio.timeout(timeout):` block.",
                ) from error
        expect_equal(
            got,
            None,
            call=f"{text} (fetch takes 10 s; it returned after {sw.elapsed:.2f} s)",
            hint=f"Give up after {seconds:g} s: `async with asyncio.timeout(timeout):` around "
            "`return await fetch()`, and return None on TimeoutError.",
        )
        expect_seconds(
            sw.elapsed,
            seconds,
            what=f"{text} (fetch takes 10 s)",
            hint="Use the `timeout` argument, with its default of 5.0, as the deadline.",
        )


@check("the slow fetch is cancelled, and its cleanup has run, before None is returned", task=1)
async def test_fetch_cleaned_up(learner: Learner) -> None:
    fetch_with_timeout = learner.coroutine_function("fetch_with_timeout")
    fetch = SlowCall(10.0)
    await within(60, fetch_with_timeout(fetch, 2.0), "fetch_with_timeout(fetch, 2.0)")
    if fetch.outcome == "done":
        fail(
            "fetch_with_timeout(fetch, 2.0) let the 10 s fetch run to its end",
            expected="the fetch cancelled at 2 s",
            got=f"the fetch finished at {fetch.ended:.2f} s",
            hint="`async with asyncio.timeout(timeout):` cancels the fetch at the deadline.",
        )
    await expect_finished([fetch], "when fetch_with_timeout(fetch, 2.0) returned")


@check("a fetch that fails raises its own error, not None", task=1)
async def test_fetch_error_propagates(learner: Learner) -> None:
    fetch_with_timeout = learner.coroutine_function("fetch_with_timeout")
    fetch = SlowCall(1.0, fails=True)
    try:
        got = await within(60, fetch_with_timeout(fetch, 5.0), "fetch_with_timeout(fetch, 5.0)")
    except CallFailed:
        return
    fail(
        "fetch_with_timeout(fetch, 5.0) returned when the fetch failed",
        expected="the fetch's own error (here CallFailed) raised to the caller",
        got=f"it returned {show(got)}",
        hint="Catch only TimeoutError. The article's `except Exception: return None` makes "
        "a broken service look like a slow one, and hides what went wrong.",
    )


@check("cancelling fetch_with_timeout cancels the fetch; the caller sees the cancellation", task=1)
async def test_fetch_caller_cancelled(learner: Learner) -> None:
    fetch_with_timeout = learner.coroutine_function("fetch_with_timeout")
    fetch = SlowCall(10.0)
    text = "fetch_with_timeout(fetch, 5.0)"
    how, value, _ = await cancelled_at(1.0, fetch_with_timeout(fetch, 5.0), text)
    if how != "cancelled":
        fail(
            f"{text}, cancelled after 1 s, swallowed the cancellation",
            expected="CancelledError raised to the caller",
            got=f"it returned {show(value)}"
            if how == "returned"
            else f"it had already returned {show(value)} before the cancel",
            hint=SWALLOWED + " Catch TimeoutError only.",
        )
    await expect_finished([fetch], f"when the cancelled {text} ended")


# --- task 2: race -----------------------------------------------------------------------


def three_jobs(delays: tuple[float, ...]) -> list[SlowCall]:
    return [SlowCall(d, f"result {i}", label=f"job {i}") for i, d in enumerate(delays)]


def described(jobs: list[SlowCall]) -> str:
    return "[" + ", ".join(f"job {i}: {j.delay:g} s" for i, j in enumerate(jobs)) + "]"


@check("race returns the first result, as soon as it arrives", task=2)
async def test_race_first(learner: Learner) -> None:
    race = learner.coroutine_function("race")
    jobs = three_jobs((3.0, 1.0, 2.0))
    text = f"race({described(jobs)}, timeout=10)"
    start = now()
    got, took = await timed(60, race(jobs, 10.0), text)
    if any(j.started is None or j.started - start > 0.001 for j in jobs):
        fail(
            f"{text} did not start every job at once",
            expected="all three started at 0 s",
            got="; ".join(
                f"{j.label} never started"
                if j.started is None
                else f"{j.label} started at {j.started - start:.2f} s"
                for j in jobs
            ),
            hint="Start every factory() as a task first, then wait for the first to finish.",
        )
    expect_equal(
        got,
        "result 1",
        call=f"{text} (returned after {took:.2f} s)",
        hint="The first job to finish wins: "
        "`asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)`.",
    )
    expect_seconds(
        took,
        1.0,
        what=text,
        hint="Return as soon as the first job finishes.",
    )


@check("race's other jobs are cancelled and have finished when it returns", task=2)
async def test_race_losers_cancelled(learner: Learner) -> None:
    race = learner.coroutine_function("race")
    jobs = three_jobs((3.0, 1.0, 2.0))
    text = f"race({described(jobs)}, timeout=10)"
    await within(60, race(jobs, 10.0), text)
    if any(j.outcome == "done" for j in (jobs[0], jobs[2])):
        fail(
            f"{text} waited for the other jobs to finish",
            expected="job 0 and job 2 cancelled once job 1 has won",
            got="; ".join(j.state() for j in jobs),
            hint="Cancel the losers as soon as there is a winner.",
        )
    await expect_finished(jobs, f"when {text} returned")


@check("none in time: race raises TimeoutError after exactly `timeout`, all cancelled", task=2)
async def test_race_timeout(learner: Learner) -> None:
    race = learner.coroutine_function("race")
    jobs = three_jobs((5.0, 6.0, 7.0))
    text = f"race({described(jobs)}, timeout=2)"
    with Stopwatch() as sw:
        try:
            got = await within(60, race(jobs, 2.0), text)
        except TimeoutError:
            got = TimeoutError
    if got is not TimeoutError:
        fail(
            f"{text} returned after {sw.elapsed:.2f} s",
            expected="TimeoutError raised after 2.00 s",
            got=f"it returned {show(got)}",
            hint="Put the wait in `async with asyncio.timeout(timeout):` and let its "
            "TimeoutError go out of race: no `except TimeoutError` that returns.",
        )
    expect_seconds(
        sw.elapsed,
        2.0,
        what=f"{text} (raising TimeoutError)",
        hint="Raise TimeoutError when `timeout` seconds have passed, not later.",
    )
    await expect_finished(jobs, f"when {text} raised TimeoutError")


# --- task 3: with_resource --------------------------------------------------------------


class Pool:
    """Hands out connections; acquire and release each take 0.1 s, as a round trip does."""

    def __init__(self, *, acquire_fails: bool = False) -> None:
        self.acquire_fails = acquire_fails
        self.acquired: list[str] = []
        self.releases: list[Any] = []  # every call of release, with its argument
        self.released: list[Any] = []  # the releases that have finished

    async def acquire(self) -> str:
        await asyncio.sleep(0.1)
        if self.acquire_fails:
            raise PoolExhausted("no connection free (simulated)")
        name = f"connection {len(self.acquired) + 1}"
        self.acquired.append(name)
        return name

    async def release(self, resource: Any) -> None:
        self.releases.append(resource)
        await asyncio.sleep(0.1)
        self.released.append(resource)


class Work:
    """The work done with a resource: `delay` seconds, then a result or WorkFailed."""

    def __init__(self, delay: float, *, fails: bool = False) -> None:
        self.delay = delay
        self.fails = fails
        self.given: list[Any] = []

    async def __call__(self, resource: Any) -> str:
        self.given.append(resource)
        await asyncio.sleep(self.delay)
        if self.fails:
            raise WorkFailed(f"the query on {resource} failed (on purpose)")
        return f"rows from {resource}"


async def expect_released_once(pool: Pool, when: str) -> None:
    if pool.released == ["connection 1"] and pool.releases == ["connection 1"]:
        return
    called, finished = list(pool.releases), list(pool.released)
    await a_few_turns()  # a release started as a task of its own shows itself now
    hint = "`try: return await work(resource)` / `finally: await release(resource)`."
    if not called and pool.releases:
        got = "release was called only after that: a task that nobody awaited"
        hint = "Await the release: `await release(resource)`, not a task that runs later."
    elif called and not finished:
        got = f"release({show(called[0])}) was called but had not finished"
        hint = "Await the release: `await release(resource)`, not a task that runs later."
    elif not called:
        got = "release was never called"
    else:
        got = f"release was called {len(called)} time(s): {show(called)}"
    fail(
        f"the resource was released {len(called)} times {when}"
        if len(called) > 1
        else f"the resource was not released {when}",
        expected="release('connection 1') called once and finished by then",
        got=got,
        hint=hint,
    )


@check("with_resource gives work the resource, returns its result and releases it", task=3)
async def test_resource_success(learner: Learner) -> None:
    with_resource = learner.coroutine_function("with_resource")
    pool, work = Pool(), Work(1.0)
    text = "with_resource(acquire, release, work)"
    got = await within(60, with_resource(pool.acquire, pool.release, work), text)
    if work.given != ["connection 1"]:
        fail(
            "work was not called once with the acquired resource",
            expected="work('connection 1'): what `await acquire()` returned",
            got=f"work was called with {show(work.given)}" if work.given else "never called",
            hint="`resource = await acquire()`, then `await work(resource)`.",
        )
    expect_equal(got, "rows from connection 1", call=text, hint="Return what work returned.")
    await expect_released_once(pool, f"when {text} returned")


@check("when work fails, the resource is released and the error reaches the caller", task=3)
async def test_resource_failure(learner: Learner) -> None:
    with_resource = learner.coroutine_function("with_resource")
    pool, work = Pool(), Work(1.0, fails=True)
    text = "with_resource(acquire, release, work) (work raises WorkFailed)"
    try:
        got = await within(60, with_resource(pool.acquire, pool.release, work), text)
    except WorkFailed:
        await expect_released_once(pool, f"when {text} raised")
        return
    fail(
        f"{text} returned instead of raising",
        expected="WorkFailed raised to the caller, after the release",
        got=f"it returned {show(got)}",
        hint="Release in `finally:` and catch nothing: the error goes on by itself.",
    )


@check("cancelled during work, with_resource still releases the resource", task=3)
async def test_resource_released_on_cancel(learner: Learner) -> None:
    with_resource = learner.coroutine_function("with_resource")
    pool, work = Pool(), Work(10.0)
    text = "with_resource(acquire, release, work)"
    await cancelled_at(1.0, with_resource(pool.acquire, pool.release, work), text)
    if not pool.releases:
        fail(
            f"{text}, cancelled during work, never released the resource",
            expected="release('connection 1') awaited before the cancellation goes on",
            got="release was never called",
            hint="A cancellation is a CancelledError, a BaseException: `except Exception` "
            "never sees it. Release in `finally:`, which runs whatever ends the work.",
        )
    await expect_released_once(pool, f"when the cancelled {text} ended")


@check("cancelled during work, with_resource passes the cancellation on (never swallowed)", task=3)
async def test_resource_cancel_propagates(learner: Learner) -> None:
    with_resource = learner.coroutine_function("with_resource")
    pool, work = Pool(), Work(10.0)
    text = "with_resource(acquire, release, work)"
    how, value, _ = await cancelled_at(1.0, with_resource(pool.acquire, pool.release, work), text)
    if how != "cancelled":
        fail(
            f"{text}, cancelled after 1 s, swallowed the cancellation",
            expected="CancelledError raised to the caller once the resource is released",
            got=f"it returned {show(value)}"
            if how == "returned"
            else f"it had already returned {show(value)} before the cancel",
            hint=SWALLOWED,
        )


@check("when acquire fails, its error reaches the caller and nothing is released", task=3)
async def test_resource_acquire_fails(learner: Learner) -> None:
    with_resource = learner.coroutine_function("with_resource")
    pool, work = Pool(acquire_fails=True), Work(1.0)
    text = "with_resource(acquire, release, work) (acquire raises PoolExhausted)"
    try:
        got = await within(60, with_resource(pool.acquire, pool.release, work), text)
    except PoolExhausted:
        got = PoolExhausted
    except Exception as error:
        if not is_learner_error(error):
            raise
        raise CheckFailed(
            f"{text} raised {type(error).__name__} instead of acquire's PoolExhausted",
            expected="PoolExhausted raised to the caller, and no release",
            got=f"{type(error).__name__}: {error}",
            hint="Call acquire before the `try`: when it fails there is no resource, and a "
            "`finally` that releases one fails in turn and hides acquire's error.",
        ) from error
    if got is not PoolExhausted:
        fail(
            f"{text} returned instead of raising",
            expected="PoolExhausted raised to the caller",
            got=f"it returned {show(got)}",
            hint="Do not catch acquire's error: there is nothing to release.",
        )
    if pool.releases or work.given:
        fail(
            f"{text} went on although nothing was acquired",
            expected="no work and no release",
            got=f"work called with {show(work.given)}, release with {show(pool.releases)}",
            hint="`resource = await acquire()` before the `try`: if it raises, nothing else runs.",
        )


# --- task 4: save_then_reply ------------------------------------------------------------

COMMIT = "save_then_reply(commit)"


def a_commit() -> SlowCall:
    return SlowCall(2.0, "order 42 saved", label="the commit")


@check("save_then_reply returns the commit's result once the commit has finished", task=4)
async def test_save_result(learner: Learner) -> None:
    save_then_reply = learner.coroutine_function("save_then_reply")
    commit = a_commit()
    got, took = await timed(60, save_then_reply(commit), COMMIT)
    if isinstance(got, asyncio.Future) or asyncio.iscoroutine(got):
        fail(
            f"{COMMIT} returned an awaitable, not the commit's result",
            expected="'order 42 saved', after the commit's 2 s",
            got=f"{show(got)} after {took:.2f} s",
            hint="`asyncio.shield(...)` returns something to await: "
            "`return await asyncio.shield(saving)`.",
        )
    expect_equal(got, "order 42 saved", call=f"{COMMIT} (the commit takes 2 s)")
    if commit.runs != 1:
        fail(
            f"{COMMIT} ran the commit {commit.runs} times",
            expected="commit() called once",
            got=f"{commit.runs} calls",
            hint="Call commit() once and keep what it returned (the task) in a variable.",
        )
    expect_seconds(took, 2.0, what=f"{COMMIT} (the commit takes 2 s)", hint="Await the commit.")


@check("cancelling the caller mid-commit does not abort the commit: it completes", task=4)
async def test_save_survives_cancel(learner: Learner) -> None:
    save_then_reply = learner.coroutine_function("save_then_reply")
    commit = a_commit()
    await cancelled_at(0.5, save_then_reply(commit), COMMIT)
    waiting = asyncio.ensure_future(commit.finished.wait())
    await asyncio.wait([waiting], timeout=10)  # the commit may go on after its caller ended
    waiting.cancel()
    if commit.outcome != "done":
        fail(
            f"cancelling {COMMIT} at 0.5 s "
            + ("cancelled the commit too" if commit.outcome == "cancelled" else "lost the commit"),
            expected="the commit completes at 2.00 s although its caller was cancelled",
            got=commit.state(),
            hint="Cancelling a task cancels what it awaits, so `await commit()` is cut off. "
            "Run the commit as a task of its own and `await asyncio.shield(that_task)`.",
        )


@check("the cancelled caller of save_then_reply still sees the cancellation", task=4)
async def test_save_cancel_seen(learner: Learner) -> None:
    save_then_reply = learner.coroutine_function("save_then_reply")
    commit = a_commit()
    how, value, ended = await cancelled_at(0.5, save_then_reply(commit), COMMIT)
    if how == "early":
        fail(
            f"{COMMIT} had returned at {ended:.2f} s, before the caller was cancelled at 0.5 s",
            expected="it waits for the commit (2 s), so the cancellation at 0.5 s reaches it",
            got=f"it returned {show(value)} at once",
            hint="Await the shielded commit: `return await asyncio.shield(saving)`.",
        )
    if how == "returned":
        fail(
            f"{COMMIT}, cancelled at 0.5 s, swallowed the cancellation",
            expected="CancelledError raised to the caller (at 0.5 s, or once the commit is done)",
            got=f"it returned {show(value)} at {ended:.2f} s",
            hint="After waiting for the commit, `raise` again: the caller must learn that it "
            "was cancelled. " + SWALLOWED,
        )


# --- task 5: the app --------------------------------------------------------------------


async def get_data(client: Any, query: str = "") -> tuple[Reply, float]:
    with Stopwatch() as sw:
        reply = await call(client, "GET", f"/data{query}", seconds=120)
    return reply, sw.elapsed


@check('GET /data answers 200 {"data": ...} with what fetch returned', task=5)
async def test_data_ok(learner: Learner) -> None:
    async with serving(build_app(learner)) as client:
        reply, took = await get_data(client)
    expect_json(
        reply,
        {"data": "Data fetched!"},
        hint="Without a `fetch`, use the article's fetch_data: "
        "`get_data = fetch if fetch is not None else fetch_data`.",
    )
    expect_seconds(took, 2.0, what="GET /data with fetch_data (2 s)", hint="Await the fetch.")
    fetch = SlowCall(0.5, {"price": 189.5})
    async with serving(build_app(learner, fetch=fetch)) as client:
        reply, took = await get_data(client)
    reply.call += " (create_app(fetch=...) with a fetch that answers {'price': 189.5})"
    expect_json(
        reply,
        {"data": {"price": 189.5}},
        hint='Await the `fetch` that create_app was given: `return {"data": await fetch()}`.',
    )


@check("a fetch that returns None in time is a 200 with null data, not a 504", task=5)
async def test_data_none_is_data(learner: Learner) -> None:
    fetch = SlowCall(0.1, None)
    async with serving(build_app(learner, fetch=fetch)) as client:
        reply, _ = await get_data(client)
    reply.call += " (the fetch answers None after 0.1 s)"
    expect_json(
        reply,
        {"data": None},
        hint="fetch_with_timeout's None cannot tell a slow fetch from one that answered "
        "None. In the route, use `async with asyncio.timeout(seconds):` and answer 504 in "
        "`except TimeoutError:` only.",
    )


@check("GET /data answers 504 after exactly `timeout` seconds when fetch is slower", task=5)
async def test_data_504(learner: Learner) -> None:
    for options, seconds in (({}, 5.0), ({"timeout": 1.0}, 1.0)):
        fetch = SlowCall(10.0)
        async with serving(build_app(learner, fetch=fetch, **options)) as client:
            reply, took = await get_data(client)
        made = "create_app(timeout=1.0)" if options else "create_app() (timeout 5 s)"
        reply.call += f" ({made}, the fetch takes 10 s; answered after {took:.2f} s)"
        expect_json_error(
            reply,
            504,
            hint="`async with asyncio.timeout(seconds):` around the fetch, and "
            '`return {"error": "..."}, 504` on TimeoutError.',
        )
        expect_seconds(
            took,
            seconds,
            what=f"GET /data ({made}, the fetch takes 10 s)",
            hint="The deadline is create_app's `timeout` (5.0 unless given).",
        )


@check("at the 504, the fetch has been cancelled and has cleaned up", task=5)
async def test_data_504_cancels(learner: Learner) -> None:
    fetch = SlowCall(10.0)
    async with serving(build_app(learner, fetch=fetch, timeout=1.0)) as client:
        reply, _ = await get_data(client)
        expect_json_error(reply, 504, hint="Answer 504 when the fetch is too slow.")
        await expect_finished([fetch], "when GET /data answered 504")


@check("?timeout= sets the request's deadline, up to 30 s", task=5)
async def test_timeout_override(learner: Learner) -> None:
    for options, delay, query, status, seconds in (
        ({}, 10.0, "?timeout=1.5", 504, 1.5),
        ({"timeout": 1.0}, 2.0, "?timeout=3", 200, 2.0),
        ({}, 20.0, "?timeout=30", 200, 20.0),
    ):
        fetch = SlowCall(delay)
        async with serving(build_app(learner, fetch=fetch, **options)) as client:
            reply, took = await get_data(client, query)
        made = f"create_app(timeout={options['timeout']:g})" if options else "create_app()"
        what = f"GET /data{query} ({made}, the fetch takes {delay:g} s)"
        reply.call = f"{what[:-1]}; answered after {took:.2f} s)"
        hint = (
            'Read `request.args.get("timeout")`: when it is there, `float(...)` of it is '
            "this request's deadline instead of create_app's `timeout`; anything with "
            "0 < t <= MAX_TIMEOUT (30 included) is allowed."
        )
        if status == 200:
            expect_json(reply, {"data": "fresh data"}, hint=hint)
        else:
            expect_json_error(reply, status, hint=hint)
        expect_seconds(took, seconds, what=what, hint=hint)


INVALID_HINTS = {
    "abc": "A value that is not a number is a 400: `float(raw)` in a try, 400 on ValueError. "
    '(`request.args.get("timeout", type=float)` quietly drops such a value instead.)',
    "nan": "float('nan') is a float, and every comparison with NaN is False: "
    "`t <= 0 or t > 30` lets it through. Write the range that must hold: "
    "`if not 0 < t <= MAX_TIMEOUT:` answer 400.",
}


@check("?timeout=0, -1, 31, abc or nan answers 400 before fetch is called", task=5)
async def test_timeout_invalid(learner: Learner) -> None:
    fetch = SlowCall(0.1)
    async with serving(build_app(learner, fetch=fetch)) as client:
        for raw in ("0", "-1", "31", "abc", "nan"):
            reply, _ = await get_data(client, f"?timeout={raw}")
            expect_json_error(
                reply,
                400,
                hint=INVALID_HINTS.get(
                    raw,
                    "A deadline must be more than 0 and at most MAX_TIMEOUT (30) seconds: "
                    '`if not 0 < t <= MAX_TIMEOUT: return {"error": "..."}, 400`.',
                ),
            )
    if fetch.runs:
        fail(
            "GET /data called fetch although ?timeout= was invalid",
            expected="400 before any fetch",
            got=f"fetch was called {fetch.runs} time(s)",
            hint="Check ?timeout= first, then fetch.",
        )
