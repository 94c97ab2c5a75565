"""Checks for chapter 11: retries with exponential backoff that stop at the right moment,
background tasks that are kept, logged and let go, and an app that answers 503, a 500
that tells nothing, and partial results."""

import asyncio
import gc
import logging
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from grader.lab import JobError, Learner, check, expect_seconds, fail, now, show
from grader.lab.outbox import loop_exception_reports, recorded_logs
from grader.lab.web import (
    LEAKS,
    Reply,
    build_app,
    call,
    expect_allow,
    expect_json,
    expect_json_error,
    expect_status,
    serving,
)

LIMIT = 600.0  # loop seconds a retry may take before a check calls it endless
GENERIC_500 = {"error": "internal server error"}
SECRET = "postgresql://app:hunter2@db.internal:5432/orders"


def exponential(expected: list[float]) -> str:
    return (
        "After failed attempt number n (counting from 0), wait `base_delay * 2**n` seconds: "
        f"here {seconds(expected)}."
    )


CATCH_TRANSIENT_ONLY = (
    "Catch `TransientError` only: `except TransientError:`. Any other exception is a bug or "
    "bad data that fails the same way every time."
)


@pytest.fixture(autouse=True)
def quiet_log() -> Iterator[None]:
    """The learner's log records go nowhere unless a check records them: without any
    handler, Python would print WARNING and above, tracebacks included, as if the learner's
    code had printed them."""
    root = logging.getLogger()
    handler = logging.NullHandler()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


# --- a fetch that follows a script ----------------------------------------------------


@dataclass
class Attempt:
    at: float
    name: str | None
    outcome: str = "running"  # returned, raised, cancelled
    error: BaseException | None = None


@dataclass
class Upstream:
    """A fetch for the checks: call number n (from 1) returns or raises what `script(n,
    name)` gives (an exception instance is raised), after `delay` seconds (`delays` per
    name). Called as `fetch()` or `fetch(name)`; every call is recorded."""

    script: Callable[[int, str | None], Any]
    delay: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)

    async def __call__(self, name: str | None = None) -> Any:
        attempt = Attempt(now(), name)
        self.attempts.append(attempt)
        number = len(self.attempts)
        try:
            await asyncio.sleep(self.delays.get(name or "", self.delay))
        except asyncio.CancelledError:
            attempt.outcome = "cancelled"
            raise
        outcome = self.script(number, name)
        if isinstance(outcome, BaseException):
            attempt.outcome, attempt.error = "raised", outcome
            raise outcome
        attempt.outcome = "returned"
        return outcome

    @property
    def raised(self) -> list[BaseException]:
        return [a.error for a in self.attempts if a.error is not None]

    def times(self, start: float) -> list[float]:
        return [round(a.at - start, 3) for a in self.attempts]


def transient_class(learner: Learner) -> type[Exception]:
    value = learner.get("TransientError")
    if not (isinstance(value, type) and issubclass(value, Exception)):
        fail(
            "TransientError is not an exception class",
            expected="class TransientError(Exception), as the stub gives it",
            got=show(value),
            hint="Restore the stub's `class TransientError(Exception)`.",
        )
    return value


def failing(transient: type[Exception], failures: int | None, value: Any = "fresh data") -> Any:
    """A script: TransientError for the first `failures` calls (all calls when None), then
    `value`. Each failure is a new exception, numbered, so the checks can tell them apart."""

    def script(number: int, name: str | None) -> Any:
        if failures is None or number <= failures:
            return transient(f"temporary failure {number} (simulated)")
        return value

    return script


# --- one run of the learner's fetch_with_retry ---------------------------------------------


@dataclass
class Run:
    call: str
    took: float
    value: Any = None
    error: Exception | None = None


async def run_retry(learner: Learner, fetch: Upstream, call: str, **options: Any) -> Run:
    retry = learner.coroutine_function("fetch_with_retry")
    start = now()
    deadline = asyncio.timeout(LIMIT)
    try:
        async with deadline:
            value = await retry(fetch, **options)
    except TimeoutError as error:
        if not deadline.expired():
            return Run(call, round(now() - start, 3), error=error)
        fail(
            f"{call} was still retrying after {LIMIT:g} s of event-loop time",
            expected="it stops after `retries` retries",
            got=f"fetch was called {len(fetch.attempts)} times, and it went on",
            hint="Count the attempts and stop once `retries` retries have failed: "
            "`if attempt >= retries: raise`.",
        )
    except NotImplementedError:
        raise  # the stub: explained as "not written yet"
    except Exception as error:
        return Run(call, round(now() - start, 3), error=error)
    return Run(call, round(now() - start, 3), value=value)


def ours(error: BaseException | None, fetch: Upstream) -> bool:
    return error is not None and any(error is e for e in fetch.raised)


def expect_no_foreign_error(run: Run, fetch: Upstream, transient: type[Exception]) -> None:
    """An exception that fetch did not raise, and that is no TransientError, came from the
    learner's own code: show it with its line, as any other exception."""
    if run.error is not None and not (ours(run.error, fetch) or isinstance(run.error, transient)):
        raise run.error


def caused_by(error: BaseException, cause: BaseException | None) -> bool:
    seen: BaseException | None = error
    for _ in range(20):
        if seen is None:
            return False
        if seen is cause:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def seconds(values: list[float]) -> str:
    return ", ".join(f"{v:g}" for v in values) + " s" if values else "none"


def waits_of(times: list[float]) -> list[float]:
    return [round(b - a, 3) for a, b in zip(times, times[1:], strict=False)]


def close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 0.001 for x, y in zip(a, b, strict=True))


def backoff_hint(waits: list[float], expected: list[float], base_delay: float) -> str:
    default = [2.0**n for n in range(len(expected))]
    if base_delay != 1.0 and close(waits, default):
        return (
            f"These are the waits of base_delay=1: base_delay={base_delay:g} was ignored. "
            "Multiply by base_delay, the parameter, not by 1."
        )
    if len(waits) >= 2 and len(set(waits)) == 1:
        return (
            f"Every wait was {waits[0]:g} s: a fixed delay, as in the article. Double it each "
            "time. " + exponential(expected)
        )
    if close(waits, [2 * w for w in expected]):
        return (
            "Each wait is twice too long: the first wait is base_delay * 2**0 = base_delay. "
            "Count the failed attempts from 0."
        )
    if close(waits, [w / 2 for w in expected]):
        return "Each wait is half as long as it should be. " + exponential(expected)
    return (
        exponential(expected) + " No random jitter in this exercise: the checks need exact "
        "waits (the notebook shows why real code adds it)."
    )


async def expect_backoff(
    learner: Learner, transient: type[Exception], *, failures: int, **options: Any
) -> None:
    """fetch fails `failures` times, then returns: the attempts come at the expected times
    and the result comes right after the last one."""
    fetch = Upstream(failing(transient, failures))
    args = "".join(f", {k}={v!r}" for k, v in options.items())
    call_text = f"fetch_with_retry(fetch{args})"
    start = now()
    run = await run_retry(learner, fetch, call_text, **options)
    expect_no_foreign_error(run, fetch, transient)
    base_delay = float(options.get("base_delay", 1.0))
    expected_waits = [base_delay * 2**n for n in range(failures)]
    expected_times = [0.0]
    for wait in expected_waits:
        expected_times.append(round(expected_times[-1] + wait, 3))
    times = fetch.times(start)
    story = f"fetch failed {failures} times with TransientError, then returned 'fresh data'"
    if run.error is not None:
        fail(
            f"{call_text} gave up after {len(times)} attempts ({story})",
            expected=f"attempts at {seconds(expected_times)}, then 'fresh data'",
            got=f"attempts at {seconds(times)}, then it raised {type(run.error).__name__}",
            hint=f"{options.get('retries', 3)} retries allow "
            f"{options.get('retries', 3) + 1} calls in all: the first call is not a retry.",
        )
    if run.value != "fresh data":
        fail(
            f"{call_text} returned the wrong value ({story})",
            expected="'fresh data', what the successful call returned",
            got=show(run.value),
            hint="Return the value of the call that succeeded: `return await fetch()`.",
        )
    if not close(times, expected_times):
        waits = waits_of(times)
        fail(
            f"{call_text} waited the wrong time between attempts",
            expected=f"attempts at {seconds(expected_times)} (waits of {seconds(expected_waits)})",
            got=f"attempts at {seconds(times)} (waits of {seconds(waits)})",
            hint=backoff_hint(waits, expected_waits, base_delay),
        )
    if abs(run.took - expected_times[-1]) > 0.001:
        fail(
            f"{call_text} returned {run.took - expected_times[-1]:g} s after the call that "
            "succeeded",
            expected=f"the result at {expected_times[-1]:g} s, as soon as fetch returned it",
            got=f"at {run.took:g} s",
            hint="Wait only after a failure; return as soon as a call succeeds.",
        )


@check("returns fetch()'s result; waits 1, 2 then 4 s after each TransientError", task=1)
async def test_backoff(learner: Learner) -> None:
    transient = transient_class(learner)
    fetch = Upstream(failing(transient, 0))
    run = await run_retry(learner, fetch, "fetch_with_retry(fetch)")
    expect_no_foreign_error(run, fetch, transient)
    if run.value != "fresh data":
        fail(
            "fetch_with_retry(fetch) returned the wrong value (fetch succeeded at once)",
            expected="'fresh data', what fetch() returned",
            got=show(run.value),
            hint="Return the value of the call: `return await fetch()`.",
        )
    if len(fetch.attempts) != 1 or run.took > 0:
        fail(
            "fetch_with_retry(fetch) did more than call fetch once, although it succeeded",
            expected="one call, and the result at once (0 s)",
            got=f"{len(fetch.attempts)} call(s), the result after {run.took:g} s",
            hint="Wait and retry only after a TransientError, never before the first call.",
        )
    await expect_backoff(learner, transient, failures=3, retries=5)


@check("the waits scale with base_delay: 2, 4 s for base_delay=2; 0.5, 1, 2 s for 0.5", task=1)
async def test_backoff_scaled(learner: Learner) -> None:
    transient = transient_class(learner)
    # More retries than failures: this check is about the waits, not about when to stop.
    await expect_backoff(learner, transient, failures=2, retries=4, base_delay=2.0)
    await expect_backoff(learner, transient, failures=3, retries=5, base_delay=0.5)


@check("at most `retries` retries: retries + 1 calls of fetch in all", task=1)
async def test_attempts(learner: Learner) -> None:
    transient = transient_class(learner)
    for options in ({}, {"retries": 0}, {"retries": 1}):
        retries = int(options.get("retries", 3))
        fetch = Upstream(failing(transient, None))
        args = "".join(f", {k}={v!r}" for k, v in options.items())
        call_text = f"fetch_with_retry(fetch{args})"
        run = await run_retry(learner, fetch, call_text, **options)
        expect_no_foreign_error(run, fetch, transient)
        calls = len(fetch.attempts)
        if calls == retries + 1:
            continue
        if calls == retries:
            hint = (
                "`retries` counts the extra attempts: the first call is not a retry. "
                "`range(retries)`, as in the article, makes one call too few: "
                "`range(retries + 1)`, or count the failures and stop when "
                "`attempt >= retries`."
            )
        elif calls < retries:
            hint = "Keep retrying while retries are left: stop only after `retries` retries."
        else:
            hint = "Stop once `retries` retries have failed: `if attempt >= retries: raise`."
        fail(
            f"{call_text}: fetch was called {calls} time(s) (it always raises TransientError)",
            expected=f"{retries + 1}: the first call and {retries} retries",
            got=f"{calls}",
            hint=hint,
        )


# --- task 2: warnings, other errors, the last error, cancellation --------------------------


def mine(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """The records of the learner's code: asyncio's own reports are not the learner's."""
    return [r for r in records if r.name != "asyncio"]


def describe_records(records: list[logging.LogRecord]) -> str:
    shown = [f"{r.levelname}: {r.getMessage()!r}" for r in records[:4]]
    more = f" and {len(records) - 4} more" if len(records) > 4 else ""
    return "; ".join(shown) + more if shown else "no log record"


@check("logs one WARNING per retry", task=2)
async def test_warning_per_retry(learner: Learner) -> None:
    transient = transient_class(learner)
    with recorded_logs() as records:
        fetch = Upstream(failing(transient, 0))
        run = await run_retry(learner, fetch, "fetch_with_retry(fetch)")
        expect_no_foreign_error(run, fetch, transient)
        warned = [r for r in mine(records) if r.levelno == logging.WARNING]
        if warned:
            fail(
                "fetch_with_retry logged a warning although fetch succeeded at once",
                expected="no WARNING: nothing was retried",
                got=describe_records(warned),
                hint="Log only when an attempt failed and you are about to retry.",
            )
    with recorded_logs() as records:
        fetch = Upstream(failing(transient, 2))
        run = await run_retry(learner, fetch, "fetch_with_retry(fetch)")
        expect_no_foreign_error(run, fetch, transient)
    logged = mine(records)
    warned = [r for r in logged if r.levelno == logging.WARNING]
    if len(warned) == 2:
        return
    what = "fetch_with_retry(fetch), with fetch failing twice and then succeeding,"
    errors = [r for r in logged if r.levelno >= logging.ERROR]
    quiet = [r for r in logged if r.levelno < logging.WARNING]
    if not warned and errors:
        fail(
            f"{what} logged its retries at {errors[0].levelname}",
            expected="2 records at WARNING, one per retry",
            got=describe_records(logged),
            hint="A retry is expected to succeed: it is a warning, not an error. "
            "`logger.warning(...)`.",
        )
    if not warned and quiet:
        fail(
            f"{what} logged its retries at {quiet[0].levelname}, a level production logs drop",
            expected="2 records at WARNING, one per retry",
            got=describe_records(logged),
            hint="`logger.warning(...)`: a retry means something is wrong upstream, and "
            "someone should be able to see it.",
        )
    if not logged:
        fail(
            f"{what} logged nothing",
            expected="2 records at WARNING, one per retry",
            got="no log record (print() writes to the console, not to the log)",
            hint='Before each wait: `logger.warning("attempt %d failed (%s); retrying in '
            '%g s", attempt + 1, error, delay)`. The stub makes `logger` for you.',
        )
    fail(
        f"{what} logged {len(warned)} WARNING record(s)",
        expected="2 records at WARNING: one per retry",
        got=describe_records(logged),
        hint="One `logger.warning(...)` per retry, just before its wait.",
    )


@check("any other exception propagates at once, without a retry", task=2)
async def test_other_errors_propagate(learner: Learner) -> None:
    transient = transient_class(learner)
    cases = [
        ("ValueError", lambda n, name: ValueError("malformed data (simulated)"), 1, 0.0),
        (
            "KeyError",
            lambda n, name: transient("busy (simulated)") if n == 1 else KeyError("price"),
            2,
            1.0,
        ),
    ]
    for what, script, calls, at in cases:
        fetch = Upstream(script)
        story = (
            f"fetch raises {what}"
            if calls == 1
            else f"fetch raises TransientError, then {what} on the retry"
        )
        run = await run_retry(learner, fetch, "fetch_with_retry(fetch)")
        expected_error = fetch.attempts[calls - 1].error if len(fetch.attempts) >= calls else None
        if len(fetch.attempts) > calls:
            fail(
                f"fetch_with_retry(fetch) retried a {what} ({story})",
                expected=f"{calls} call(s) of fetch, then the {what} raised at once",
                got=f"{len(fetch.attempts)} calls of fetch",
                hint=CATCH_TRANSIENT_ONLY,
            )
        if run.error is None:
            fail(
                f"fetch_with_retry(fetch) swallowed the {what} ({story})",
                expected=f"the {what} propagates to the caller",
                got=f"it returned {show(run.value)}",
                hint=CATCH_TRANSIENT_ONLY + " Returning None hides the cause from the caller.",
            )
        if run.error is not expected_error:
            if not (
                ours(run.error, fetch)
                or isinstance(run.error, transient)
                or caused_by(run.error, expected_error)
            ):
                raise run.error  # an exception of the learner's own code: shown with its line
            fail(
                f"fetch_with_retry(fetch) raised another exception than fetch's {what} ({story})",
                expected=f"fetch's own {what}, as it is",
                got=f"{type(run.error).__name__}: {run.error}",
                hint=CATCH_TRANSIENT_ONLY + " Do not wrap or replace it: its traceback shows "
                "where it came from.",
            )
        if abs(run.took - at) > 0.001:
            fail(
                f"fetch_with_retry(fetch) waited before letting the {what} through ({story})",
                expected=f"the {what} at {at:g} s",
                got=f"at {run.took:g} s",
                hint="Wait only before a retry: a non-transient error goes straight to the caller.",
            )


@check("when every attempt fails, the last TransientError is raised, with no wait after", task=2)
async def test_last_transient_error(learner: Learner) -> None:
    transient = transient_class(learner)
    fetch = Upstream(failing(transient, None))
    call_text = "fetch_with_retry(fetch) (fetch always raises TransientError)"
    run = await run_retry(learner, fetch, call_text)
    raised = fetch.raised
    if run.error is None:
        fail(
            f"{call_text} returned {show(run.value)} when every attempt had failed",
            expected=f"the last TransientError raised: {raised[-1]!r}" if raised else "an error",
            got=f"it returned {show(run.value)}",
            hint="The article returns None, and the caller cannot tell why: raise the last "
            "error instead (a bare `raise` inside the `except`).",
        )
    if run.error is not (raised[-1] if raised else None):
        if ours(run.error, fetch):
            number = next(i for i, e in enumerate(raised, 1) if e is run.error)
            got = f"the error of attempt {number} of {len(raised)}: {run.error!r}"
        elif isinstance(run.error, transient):
            got = f"a TransientError of its own: {run.error!r}"
        else:
            got = f"{type(run.error).__name__}: {run.error}"
        fail(
            f"{call_text} did not raise the last attempt's TransientError",
            expected=f"{raised[-1]!r}, the error of the last attempt, as it is"
            if raised
            else "the last TransientError",
            got=got,
            hint="Re-raise the error of the last attempt: a bare `raise` inside "
            "`except TransientError:`. A new exception loses its message and traceback.",
        )
    last = round(fetch.attempts[-1].at - fetch.attempts[0].at, 3) if fetch.attempts else 0.0
    if run.took - last > 0.001:
        fail(
            f"{call_text} waited {run.took - last:g} s after the last attempt before giving up",
            expected=f"the error at once, at {last:g} s",
            got=f"at {run.took:g} s",
            hint="After the last attempt there is nothing to wait for: raise at once. The "
            "article sleeps after every failure, the last one too.",
        )


async def expect_cancelled_at_once(
    learner: Learner, transient: type[Exception], *, delay: float, cancel_at: float, when: str
) -> None:
    fetch = Upstream(failing(transient, None), delay=delay)
    retry = learner.coroutine_function("fetch_with_retry")
    task = asyncio.ensure_future(retry(fetch))
    await asyncio.sleep(cancel_at)
    if task.done():
        if task.cancelled():
            fail(
                "fetch_with_retry was cancelled before the check cancelled it",
                expected=f"still running at {cancel_at:g} s",
                got="cancelled",
            )
        error = task.exception()
        if error is not None and not ours(error, fetch):
            raise error
        fail(
            f"fetch_with_retry(fetch) had finished before {cancel_at:g} s "
            f"(each call takes {delay:g} s and fails)",
            expected=f"still retrying at {cancel_at:g} s",
            got=f"it ended with {show(error) if error is not None else show(task.result())}",
            hint="With retries=3 and waits of 1, 2 and 4 s it should still be retrying: see "
            "the checks of task 1.",
        )
    calls = len(fetch.attempts)
    task.cancel()
    await asyncio.wait({task}, timeout=0.1)
    story = f"cancelled at {cancel_at:g} s, {when}"
    if not task.done():
        await asyncio.sleep(10)
        task.cancel()
        fail(
            f"fetch_with_retry(fetch) went on after it was {story}",
            expected="it stops at once, cancelled, with no further attempt",
            got=f"still running; fetch was called {len(fetch.attempts)} times in all "
            f"({calls} before the cancellation)",
            hint="A bare `except:` (or `except BaseException`) catches CancelledError too "
            "and retries it. " + CATCH_TRANSIENT_ONLY,
        )
    if not task.cancelled():
        error = task.exception()
        ended = (
            f"raised {type(error).__name__}: {error}"
            if error is not None
            else f"returned {show(task.result())}"
        )
        fail(
            f"fetch_with_retry(fetch) swallowed the cancellation ({story})",
            expected="the CancelledError propagates: the task ends cancelled",
            got=ended,
            hint="Never catch CancelledError to return or raise something else: whoever "
            "cancelled the task waits for it to end cancelled. " + CATCH_TRANSIENT_ONLY,
        )
    await asyncio.sleep(10)
    if len(fetch.attempts) != calls:
        fail(
            f"fetch_with_retry(fetch) called fetch again after it was {story}",
            expected=f"{calls} call(s) in all",
            got=f"{len(fetch.attempts)}",
            hint=CATCH_TRANSIENT_ONLY,
        )


@check("a cancellation stops it at once: never retried, never swallowed", task=2)
async def test_cancellation_not_retried(learner: Learner) -> None:
    transient = transient_class(learner)
    await expect_cancelled_at_once(
        learner, transient, delay=5.0, cancel_at=2.0, when="while fetch was running"
    )
    await expect_cancelled_at_once(
        learner, transient, delay=1.0, cancel_at=1.5, when="while it waited to retry"
    )


# --- tasks 3 and 4: spawn -----------------------------------------------------------------


class ReplyWaiter:
    """A job that waits for a reply which only a weak reference leads to, as a client
    library keeps the futures of pending replies in a WeakValueDictionary. While it waits,
    nothing but a reference to its task keeps it alive: a task nobody holds is collected
    by the next garbage collection, mid-flight, and its coroutine closed."""

    def __init__(self, after: float) -> None:
        self.after = after
        self.outcome = "not started"

    async def run(self) -> str:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[str] = loop.create_future()
        loop.call_later(self.after, deliver, weakref.ref(reply))
        self.outcome = "waiting"
        try:
            answer = await reply
        except GeneratorExit:  # what a coroutine gets when its task is destroyed
            self.outcome = "destroyed"
            raise
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            raise
        self.outcome = "done"
        return answer


def deliver(ref: "weakref.ReferenceType[asyncio.Future[str]]") -> None:
    reply = ref()
    if reply is not None and not reply.done():
        reply.set_result("250 OK")


def spawned(learner: Learner, coro: Any) -> Any:
    """spawn(coro), which must return an asyncio.Task; the coroutine is closed if spawn
    fails, so that Python does not warn about a coroutine never awaited."""
    spawn = learner.plain_function("spawn")
    try:
        task = spawn(coro)
    except BaseException:
        coro.close()
        raise
    if not isinstance(task, asyncio.Task):
        fail(
            "spawn(coro) did not return an asyncio.Task",
            expected="the task that runs coro, as asyncio.create_task(coro) returns it",
            got=show(task),
            hint="`task = asyncio.create_task(coro)`, keep it, and `return task`.",
        )
    return task


@check("spawn keeps a strong reference: the task survives gc.collect() mid-flight", task=3)
async def test_spawn_survives_gc(learner: Learner) -> None:
    job = ReplyWaiter(after=1.0)
    with loop_exception_reports() as reports:
        task = spawned(learner, job.run())
        ref = weakref.ref(task)
        del task  # the caller drops the task, as the article's route does
        await asyncio.sleep(0.1)
        if job.outcome != "waiting":
            fail(
                "The spawned coroutine was not running 0.1 s after spawn(coro)",
                expected="spawn starts coro as a task at once",
                got=f"the job is {job.outcome}",
                hint="`asyncio.create_task(coro)` starts it on the running loop.",
            )
        gc.collect()
        if job.outcome == "destroyed" or ref() is None:
            gc.collect()
            fail(
                "The garbage collector destroyed the spawned task mid-flight",
                expected="the task lives until its coroutine is done: spawn holds it",
                got="after gc.collect(), 0.1 s in, the task was gone and its coroutine closed"
                + (f"; the loop reported: {reports[0].get('message')}" if reports else ""),
                hint="The loop keeps only weak references to tasks. Keep a strong one: add "
                "the task to a module-level set (a set, not a WeakSet), and discard it when "
                "it is done.",
            )
        await asyncio.sleep(1.0)
    if job.outcome != "done":
        fail(
            "The spawned task did not finish its work",
            expected="the job gets its reply at 1 s and returns",
            got=f"the job is {job.outcome}",
            hint="Return the task of asyncio.create_task(coro), and do not cancel it.",
        )


async def sleeper(seconds: float, *, fails: bool = False) -> str:
    await asyncio.sleep(seconds)
    if fails:
        raise JobError("the nightly report failed (simulated)")
    return "done"


@check("spawn lets go of a task once it is done: returned, failed or cancelled", task=3)
async def test_spawn_drops_reference(learner: Learner) -> None:
    # Nothing keeps what the log or the loop's exception handler are given here: a log
    # record or a report holds the exception or the task, and so the task.
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, _context: None)
    try:
        returned = spawned(learner, sleeper(1.0))
        failed = spawned(learner, sleeper(1.0, fails=True))
        cancelled = spawned(learner, sleeper(10.0))
        refs = {
            "returned": weakref.ref(returned),
            "raised": weakref.ref(failed),
            "was cancelled": weakref.ref(cancelled),
        }
        await asyncio.sleep(0.5)
        cancelled.cancel()
        del returned, failed, cancelled
        await asyncio.sleep(0.7)
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    kept = [what for what, ref in refs.items() if ref() is not None]
    if kept:
        fail(
            f"spawn still held {len(kept)} finished task(s)",
            expected="no reference left once a task is done, whatever its ending",
            got="still alive after gc.collect(): "
            + ", ".join(f"the task that {what}" for what in kept),
            hint="A set that only grows keeps every task ever spawned: a memory leak. "
            "`task.add_done_callback(...)` with a callback that does `_running.discard(task)` "
            "runs for every ending, cancellation included.",
        )


def carries(record: logging.LogRecord, error: BaseException) -> bool:
    """The record's exc_info is this error, or one that it caused or that wraps it."""
    if not record.exc_info or record.exc_info[1] is None:
        return False
    seen: BaseException | None = record.exc_info[1]
    for _ in range(20):
        if seen is None:
            return False
        if seen is error:
            return True
        if isinstance(seen, BaseExceptionGroup) and any(e is error for e in seen.exceptions):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def with_traceback(record: logging.LogRecord, error: BaseException) -> bool:
    text = record.getMessage()
    return carries(record, error) or ("Traceback (most recent call last)" in text)


def mentions(record: logging.LogRecord, error: BaseException) -> bool:
    return carries(record, error) or str(error) in record.getMessage()


@check("spawn logs a task's exception at ERROR with its traceback, when it fails", task=4)
async def test_spawn_logs_failure(learner: Learner) -> None:
    errors: list[BaseException] = []

    async def report() -> None:
        await asyncio.sleep(1.0)
        error = JobError("the nightly report failed (simulated)")
        errors.append(error)
        raise error

    with recorded_logs() as records, loop_exception_reports() as reports:
        spawned(learner, report())
        await asyncio.sleep(1.01)
        seen = [r for r in mine(records) if errors and mentions(r, errors[0])]
        if not errors:
            fail(
                "The spawned coroutine never ran",
                expected="spawn starts it: it raises JobError after 1 s",
                got="it did not raise within 1 s",
                hint="`asyncio.create_task(coro)` starts it.",
            )
        error = errors[0]
        good = [r for r in seen if r.levelno >= logging.ERROR and with_traceback(r, error)]
        if not good:
            if seen and not any(with_traceback(r, error) for r in seen):
                fail(
                    "The task's failure was logged without its traceback",
                    expected="a record at ERROR that carries the exception (exc_info)",
                    got=describe_records(seen),
                    hint='`logger.error("background task failed", exc_info=error)`: '
                    "exc_info puts the traceback into the log. f-strings with the message "
                    "alone lose it.",
                )
            if seen:
                fail(
                    f"The task's failure was logged at {seen[0].levelname}",
                    expected="a record at ERROR with the traceback",
                    got=describe_records(seen),
                    hint="A background task that failed is an error: `logger.error(..., "
                    "exc_info=error)`.",
                )
            gc.collect()
            by_asyncio = bool(reports) or any(r.name == "asyncio" for r in records)
            fail(
                "Nothing logged the task's failure when it happened (1 s in)",
                expected="your code logs the exception at ERROR, with its traceback, at once",
                got="only asyncio's 'Task exception was never retrieved', once the task "
                "object was freed"
                if by_asyncio
                else "no log record about it (print() writes to the console, not the log)",
                hint="`task.add_done_callback(callback)`; in the callback, unless "
                "task.cancelled(), `error = task.exception()`, and if it is not None, "
                '`logger.error("...", exc_info=error)`.',
            )
    if reports:
        fail(
            "The task's exception also reached the event loop's exception handler",
            expected="logged once, by your code, and nothing left unhandled",
            got=f"the loop reported: {reports[0].get('message')}",
            hint="Read the exception where you log it (`task.exception()`); an exception "
            "re-raised after logging is never retrieved by anyone.",
        )


@check("spawn does not log a cancelled task as an error", task=4)
async def test_spawn_cancel_not_error(learner: Learner) -> None:
    with recorded_logs() as records, loop_exception_reports() as reports:
        task = spawned(learner, sleeper(10.0))
        await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.sleep(0.1)
        outcome = (
            "still running"
            if not task.done()
            else "cancelled"
            if task.cancelled()
            else f"ended with {show(task.exception() or task.result())}"
        )
    if reports:
        report = reports[0]
        error = report.get("exception")
        hint = "Handle a cancelled task before anything else in the callback."
        if isinstance(error, asyncio.CancelledError):
            hint = (
                "`task.exception()` raises CancelledError for a cancelled task. Check "
                "`if task.cancelled(): return` first."
            )
        fail(
            "Cancelling a spawned task made the event loop report an error",
            expected="a cancellation is not an error: nothing reported",
            got=f"the loop reported: {report.get('message')}"
            + (f" ({type(error).__name__})" if error is not None else ""),
            hint=hint,
        )
    if outcome != "cancelled":
        fail(
            "Cancelling the spawned task did not cancel it",
            expected="the task ends cancelled",
            got=outcome,
            hint="Return the task that runs the coroutine, and let CancelledError through "
            "(it is not an Exception: never catch it to carry on).",
        )
    flagged = [r for r in mine(records) if r.levelno >= logging.ERROR]
    if flagged:
        fail(
            f"Cancelling a spawned task was logged at {flagged[0].levelname}",
            expected="no ERROR: someone asked for the cancellation (a shutdown, a timeout)",
            got=describe_records(flagged),
            hint="In the done callback, `if task.cancelled(): return` (or log it at DEBUG "
            "or INFO) before looking for an exception.",
        )


# --- tasks 5 to 7: the app -----------------------------------------------------------------


class RetrySpy:
    """Stands in for the learner's fetch_with_retry inside the app, with the contract's
    behaviour: the app's checks do not depend on tasks 1 and 2. Records each call and the
    outcome of each attempt."""

    def __init__(self, transient: type[Exception]) -> None:
        self.transient = transient
        self.calls: list[list[str]] = []  # per call: "TransientError" / "ok" per attempt

    async def __call__(self, fetch: Any, *, retries: int = 3, base_delay: float = 1.0) -> Any:
        attempts: list[str] = []
        self.calls.append(attempts)
        attempt = 0
        while True:
            try:
                value = await fetch()
            except self.transient:
                attempts.append("TransientError")
                if attempt >= retries:
                    raise
                await asyncio.sleep(base_delay * 2**attempt)
                attempt += 1
            except Exception as error:
                attempts.append(type(error).__name__)
                raise
            else:
                attempts.append("ok")
                return value


def spied_app(learner: Learner, **options: Any) -> tuple[Any, RetrySpy]:
    spy = RetrySpy(transient_class(learner))
    learner.patch("fetch_with_retry", spy)
    return build_app(learner, **options), spy


def expect_retry_called(spy: RetrySpy, reply: Reply) -> None:
    if not spy.calls:
        fail(
            f"{reply.call} did not call fetch_with_retry",
            expected="the route awaits fetch_with_retry(fetch), called by name",
            got=f"no call of fetch_with_retry; the app answered {reply.describe()}",
            hint="The checks put a stand-in for fetch_with_retry in your module, so that this "
            "task does not depend on tasks 1 and 2: call it by name in the route, "
            "`data = await fetch_with_retry(source)`, rather than retrying in the route.",
        )


@check('GET /retry-data answers 200 {"data": ...} through fetch_with_retry', task=5)
async def test_retry_data(learner: Learner) -> None:
    transient = transient_class(learner)
    fetch = Upstream(failing(transient, 2))
    app, spy = spied_app(learner, fetch=fetch)
    async with serving(app) as client:
        reply = await call(client, "GET", "/retry-data")
    expect_retry_called(spy, reply)
    expect_json(
        reply,
        {"data": "fresh data"},
        hint='Return `{"data": data}` with what fetch_with_retry(fetch) returned; fetch is '
        "the one create_app was given.",
    )
    if len(fetch.attempts) != 3:
        fail(
            "GET /retry-data did not retry the fetch create_app was given",
            expected="3 calls of fetch (it failed twice, then returned 'fresh data')",
            got=f"{len(fetch.attempts)}",
            hint="Pass the fetch that create_app received to fetch_with_retry.",
        )


@check("GET /retry-data answers 503 with a JSON error when every retry failed", task=5)
async def test_retry_data_exhausted(learner: Learner) -> None:
    transient = transient_class(learner)
    fetch = Upstream(failing(transient, None))
    app, spy = spied_app(learner, fetch=fetch)
    async with serving(app) as client:
        reply = await call(client, "GET", "/retry-data")
    expect_retry_called(spy, reply)
    reply.call += " (every attempt raised TransientError)"
    hint = (
        "fetch_with_retry raises the last TransientError: catch it around the call and "
        'return {"error": "..."}, 503. 503 Service Unavailable says "try later"; a 500 '
        "says this app is broken."
    )
    if reply.status == 200:
        hint = "fetch_with_retry raised: there is no data to answer. " + hint
    expect_json_error(reply, 503, hint=hint)


@check("without fetch, the app uses a FlakyService of its own (it fails twice first)", task=5)
async def test_retry_data_default(learner: Learner) -> None:
    for number in (1, 2):
        app, spy = spied_app(learner)
        async with serving(app) as client:
            reply = await call(client, "GET", "/retry-data")
        which = "the first app" if number == 1 else "a second app"
        reply.call += f" ({which} made with create_app())"
        expect_retry_called(spy, reply)
        expect_json(
            reply,
            {"data": "Data fetched!"},
            hint="Without fetch, use the article's service: "
            "`source = fetch if fetch is not None else FlakyService()`.",
        )
        attempts = spy.calls[0]
        if attempts != ["TransientError", "TransientError", "ok"]:
            shared = number == 2 and attempts == ["ok"]
            fail(
                f"{reply.call}: the default service did not fail its first two calls",
                expected="attempts: TransientError, TransientError, ok (a new FlakyService)",
                got=f"attempts: {', '.join(attempts)}",
                hint="The second app got a service that had already failed for the first: "
                "make the FlakyService inside create_app, not at the top of the file, so "
                "each app has its own."
                if shared
                else "Use the stub's FlakyService() as the default: "
                "`source = fetch if fetch is not None else FlakyService()`.",
            )


CATCH_ALL = (
    "Register `@app.errorhandler(Exception)` that logs the exception and returns "
    '{"error": "internal server error"}, 500.'
)


def catch_all_hint(reply: Reply) -> str:
    from werkzeug.exceptions import InternalServerError

    body = reply.json
    if "json" not in reply.content_type:
        return CATCH_ALL + " Without it, Quart answers an HTML page."
    if isinstance(body, dict) and body.get("error") == InternalServerError.description:
        return (
            "With no handler for Exception, Quart turned the exception into an "
            "InternalServerError, and your HTTPException handler answered its description. "
            + CATCH_ALL
        )
    return CATCH_ALL


def expect_no_leak(reply: Reply, crash: BaseException) -> None:
    if reply.json == GENERIC_500:
        return  # the fixed message, whatever the exception said
    text = str(crash)
    pieces = [text, SECRET, "hunter2", type(crash).__name__, *LEAKS]
    leaked = next((p for p in pieces if p and len(p) > 3 and p in reply.text), None)
    if leaked is not None:
        fail(
            f"{reply.call} told the client about the exception",
            expected=f"500 with {GENERIC_500}: no exception text, name or traceback",
            got=f"{reply.describe()}; it shows {leaked!r}",
            hint="Exception messages hold hosts, file paths, SQL, even passwords: log the "
            "exception (app.logger.exception) and answer a fixed message.",
        )


def expect_crash(reply: Reply, what: str) -> BaseException:
    crash = reply.crash
    if crash is None:
        fail(
            f"{reply.call} raised no exception",
            expected=f"{what} raises, and the error handler answers the 500",
            got=reply.describe(),
            hint='GET /boom should raise, e.g. `raise RuntimeError("...")`: the point is to '
            "see what your error handler does with an exception nobody expected.",
        )
    return crash


@check('an unexpected exception is a 500 {"error": "internal server error"}, no text', task=6)
async def test_boom(learner: Learner) -> None:
    broken = Upstream(lambda n, name: RuntimeError(f"cannot connect to {SECRET} (simulated)"))
    app, spy = spied_app(learner, fetch=broken)
    async with serving(app) as client:
        reply = await call(client, "GET", "/boom")
        expect_status(reply, 500, hint=CATCH_ALL)
        expect_no_leak(reply, expect_crash(reply, "GET /boom"))
        expect_json(reply, GENERIC_500, status=500, hint=catch_all_hint(reply))
        reply = await call(client, "GET", "/retry-data")
    reply.call += " (fetch raised a RuntimeError that holds a password)"
    if reply.status == 503:
        fail(
            f"{reply.call} answered 503",
            expected="500: a RuntimeError is not a failure that retrying fixes",
            got=reply.describe(),
            hint="Catch only TransientError in the route (503); let any other exception go "
            "to your error handler, which answers the 500.",
        )
    expect_status(reply, 500, hint=CATCH_ALL)
    expect_no_leak(reply, reply.crash or RuntimeError(SECRET))
    expect_json(reply, GENERIC_500, status=500, hint=catch_all_hint(reply))


@check("the exception behind a 500 is logged at ERROR with its traceback", task=6)
async def test_boom_logged(learner: Learner) -> None:
    app = build_app(learner)
    with recorded_logs() as records:
        async with serving(app) as client:
            reply = await call(client, "GET", "/boom")
    crash = expect_crash(reply, "GET /boom")
    logged = [r for r in records if mentions(r, crash)]
    good = [r for r in logged if r.levelno >= logging.ERROR and with_traceback(r, crash)]
    if good:
        return
    if logged and any(with_traceback(r, crash) for r in logged):
        fail(
            f"The exception behind the 500 was logged at {logged[0].levelname}",
            expected="a record at ERROR with the traceback: this is a bug to fix",
            got=describe_records(logged),
            hint='`app.logger.exception("unhandled error", exc_info=error)` logs at ERROR.',
        )
    if logged:
        fail(
            "The exception behind the 500 was logged without its traceback",
            expected="a record that carries the exception (exc_info)",
            got=describe_records(logged),
            hint='`app.logger.exception("unhandled error", exc_info=error)` in the error '
            "handler: the message alone does not say where it happened.",
        )
    fail(
        "Nothing logged the exception behind the 500",
        expected="the error handler logs it with its traceback: the client gets nothing, "
        "so the log is the only place it is told",
        got=f"{describe_records(mine(records))}; the exception was {type(crash).__name__}: {crash}",
        hint="In your @app.errorhandler(Exception): "
        '`app.logger.exception("unhandled error", exc_info=error)`.',
    )


@check("404 and 405 are JSON errors; a 405 keeps its Allow header", task=6)
async def test_http_errors(learner: Learner) -> None:
    app = build_app(learner, fetch=Upstream(lambda n, name: "fresh data"))
    hint = (
        '`@app.errorhandler(HTTPException)` returns `{"error": error.description}, '
        "error.code` and the error's headers."
    )
    async with serving(app) as client:
        expect_json_error(await call(client, "GET", "/no-such-page"), 404, hint=hint)
        for method, path in (("POST", "/retry-data"), ("DELETE", "/multi")):
            reply = await call(client, method, path)
            expect_json_error(reply, 405, hint=hint)
            expect_allow(
                reply,
                "GET",
                hint="HTTP requires Allow on a 405. Return the error's own headers: "
                "`dict(error.get_headers())` without its Content-Type.",
            )


def multi_script(failures: dict[str, BaseException]) -> Callable[[int, str | None], Any]:
    def script(number: int, name: str | None) -> Any:
        if name in failures:
            return failures[name]
        return f"value {name}"

    return script


@check("GET /multi fetches a, b and c at once: as long as the slowest", task=7)
async def test_multi_concurrent(learner: Learner) -> None:
    fetch = Upstream(multi_script({}), delays={"a": 1.0, "b": 3.0, "c": 2.0})
    async with serving(build_app(learner, fetch=fetch)) as client:
        start = now()
        reply = await call(client, "GET", "/multi")
        took = round(now() - start, 3)
    names = sorted(str(a.name) for a in fetch.attempts)
    if names != ["a", "b", "c"]:
        fail(
            "GET /multi did not call fetch once with each of a, b and c",
            expected="fetch('a'), fetch('b'), fetch('c')",
            got="calls with: " + (", ".join(repr(a.name) for a in fetch.attempts) or "none"),
            hint="Call the app's fetch with each name of MULTI_NAMES: `fetch(name)`.",
        )
    expect_json(
        reply,
        {"results": {n: f"value {n}" for n in "abc"}, "errors": {}},
        hint='Answer {"results": {name: value}, "errors": {name: message}}; with nothing '
        "failing, errors is {}.",
    )
    expect_seconds(
        took,
        3.0,
        what="GET /multi (fetches of 1, 3 and 2 s)",
        hint="Start the three fetches together (a TaskGroup, or gather) instead of one after "
        "another.",
    )


@check("GET /multi: a failing fetch goes to errors, the others still answer", task=7)
async def test_multi_partial(learner: Learner) -> None:
    transient = transient_class(learner)
    failures: dict[str, BaseException] = {
        "b": JobError("b is broken (simulated)"),
        "c": transient("c is busy (simulated)"),
    }
    fetch = Upstream(multi_script(failures), delays={"a": 2.0, "b": 0.5, "c": 1.0})
    async with serving(build_app(learner, fetch=fetch)) as client:
        start = now()
        reply = await call(client, "GET", "/multi")
        took = round(now() - start, 3)
    reply.call += " (b raises after 0.5 s, c after 1 s, a answers after 2 s)"
    if reply.status != 200 or not isinstance(reply.json, dict):
        crash = reply.crash
        hint = (
            "Catch each fetch's failure inside its own task (try/except Exception around "
            "`await fetch(name)`) and put a message in errors; or gather with "
            "return_exceptions=True and sort values from exceptions."
        )
        if isinstance(crash, BaseExceptionGroup):
            hint = (
                "A TaskGroup cancels every other task when one raises, then raises an "
                "ExceptionGroup. " + hint
            )
        elif crash is not None and any(crash is e for e in failures.values()):
            hint = (
                "The first failure ended the route: gather without return_exceptions "
                "raises it (and leaves the others running). " + hint
            )
        fail(
            "GET /multi failed as a whole because some fetches failed",
            expected='200 {"results": {"a": ...}, "errors": {"b": "...", "c": "..."}}',
            got=reply.describe(),
            hint=hint,
        )
    body = reply.json
    results, errors = body.get("results"), body.get("errors")
    expected = {"a": "value a"}
    if results != expected:
        lost = isinstance(results, dict) and "a" not in results
        fail(
            "GET /multi answered the wrong results",
            expected=f"results: {show(expected)}",
            got=f"results: {show(results)}",
            hint="a answered after 2 s: it must not be cancelled when b fails. Catch each "
            "failure inside its own task."
            if lost
            else "Only the values of the fetches that returned go in results.",
        )
    if (
        not isinstance(errors, dict)
        or set(errors) != {"b", "c"}
        or not all(isinstance(v, str) and v for v in errors.values())
    ):
        fail(
            "GET /multi did not list the failed fetches under errors",
            expected='errors: {"b": "<a message>", "c": "<a message>"}',
            got=f"errors: {show(errors)}",
            hint='For each fetch that raised, `errors[name] = "a short message"` (a string).',
        )
    if "Traceback" in reply.text:
        fail(
            "GET /multi put a traceback in its answer",
            expected="a short message per failed fetch",
            got=reply.describe(),
            hint="Log the traceback; answer a message.",
        )
    expect_seconds(
        took,
        2.0,
        what="GET /multi (a takes 2 s; b and c fail earlier)",
        hint="Run the three fetches at once, and wait for all of them: the answer comes when "
        "the slowest has answered.",
    )
