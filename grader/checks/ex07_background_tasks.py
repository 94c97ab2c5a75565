"""Checks for chapter 07: a 202 at once while the send runs in a task the app tracks, job
status, validation, failures recorded and logged with nothing left unhandled, and a shutdown
that loses no accepted email."""

import asyncio
import logging
from typing import Any

from grader.lab import Learner, Stopwatch, check, expect_seconds, fail, now, show, timed
from grader.lab.outbox import (
    Outbox,
    Sending,
    loop_exception_reports,
    recorded_logs,
    serving_patiently,
)
from grader.lab.web import Reply, build_app, call, expect_json_error

EMAIL = {"to": "ada@example.com", "subject": "Welcome", "body": "Hello Ada"}
BOUNCE = {"to": "bounce@example.com", "subject": "Welcome", "body": "Hello?"}
ACCEPTED = '202 with {"message": "Email is being sent", "job_id": "<a string>"}'
BACKGROUND = (
    "Hand the send to the app: `app.add_background_task(deliver, job_id, to, subject, body)` "
    "(the function and its arguments, not `deliver(...)`), then return the 202 at once."
)
SHUTDOWN_TIMEOUT = (
    "Quart waits BACKGROUND_TASK_SHUTDOWN_TIMEOUT seconds (5 unless you set it) for "
    "background tasks, then cancels them. Set "
    '`app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"]` in create_app to more than the '
    "longest send: SEND_TIMEOUT plus a margin."
)


def not_callable(error: BaseException | None) -> bool:
    """What Quart 0.22 and 0.23 raise when add_background_task gets a coroutine object: it
    calls what it was given, in the background task (logged there), or, in another version,
    could refuse it in the route."""
    return isinstance(error, TypeError) and ("callable" in str(error) or "coroutine" in str(error))


def handed_a_coroutine(records: list[logging.LogRecord], reply: Reply) -> None:
    """Fail, saying so, when the app handed add_background_task `deliver(...)` (a coroutine
    object) instead of the function and its arguments."""
    logged = [r.exc_info[1] for r in records if r.exc_info and not_callable(r.exc_info[1])]
    raised = reply.crash if not_callable(reply.crash) else None
    error = raised or (logged[0] if logged else None)
    if error is None:
        return
    where = (
        f"raised in the route, which answered {reply.status}"
        if raised is not None
        else "raised at once in the background task, and logged by Quart as an ERROR"
    )
    fail(
        "app.add_background_task was given a coroutine object, not a function: the send never ran",
        expected="add_background_task(deliver, job_id, to, subject, body): the function, then "
        "its arguments; then one call of send_email",
        got=f"{type(error).__name__}: {error}, {where}; send_email was never called",
        hint="`deliver(job_id, to, ...)` does not run deliver: it only makes a coroutine "
        "object, and add_background_task needs something it can call itself. Pass the "
        "function and its arguments: `app.add_background_task(deliver, job_id, to, subject, "
        "body)`, without parentheses after `deliver`.",
    )


async def post_email(client: Any, email: Any = EMAIL) -> Reply:
    reply = await call(client, "POST", "/send-email", json=email)
    if email is not EMAIL and isinstance(email, dict) and "to" in email:
        reply.call += f" (to {email['to']})"
    return reply


def accepted(reply: Reply) -> str:
    """The job id of a 202, or a failure saying what came instead."""
    body = reply.json
    if reply.status != 202:
        hint = 'Return `{"message": "Email is being sent", "job_id": job_id}, 202`.'
        if reply.status == 200:
            hint = "202 Accepted says: taken on, not done yet. " + hint
        fail(
            f"{reply.call} answered {reply.status}",
            expected=ACCEPTED,
            got=reply.describe(),
            hint=hint,
        )
    if (
        not isinstance(body, dict)
        or set(body) != {"message", "job_id"}
        or body["message"] != "Email is being sent"
        or not isinstance(body["job_id"], str)
        or not body["job_id"]
    ):
        fail(
            f"{reply.call} answered the wrong JSON",
            expected=ACCEPTED,
            got=reply.describe(),
            hint="Exactly two keys: the message, and the job id as a non-empty string "
            "(`uuid.uuid4().hex`).",
        )
    return str(body["job_id"])


async def status_of(client: Any, job_id: str, *, when: str) -> str:
    """GET /jobs/<job_id>, which must answer {"job_id": job_id, "status": one of three}."""
    reply = await call(client, "GET", f"/jobs/{job_id}")
    reply.call += f" {when}"
    body = reply.json
    expected = f'200 with {{"job_id": "{job_id}", "status": "pending", "done" or "failed"}}'
    if reply.status != 200:
        fail(
            f"{reply.call} answered {reply.status}",
            expected=expected,
            got=reply.describe(),
            hint="Record the job (status 'pending') before you return the 202, and keep it "
            "in a dict made inside create_app that this route reads.",
        )
    if (
        not isinstance(body, dict)
        or set(body) != {"job_id", "status"}
        or body["job_id"] != job_id
        or body["status"] not in ("pending", "done", "failed")
    ):
        fail(
            f"{reply.call} answered the wrong JSON",
            expected=expected,
            got=reply.describe(),
            hint='Return `{"job_id": job_id, "status": status}`, nothing more.',
        )
    return str(body["status"])


async def wait_until(start: float, at: float) -> None:
    await asyncio.sleep(max(0.0, start + at - now()))


def describe(sendings: list[Sending]) -> str:
    return ", ".join(f"{s.to} ({s.outcome})" for s in sendings) or "no send at all"


def expect_all_sent(outbox: Outbox, accepted_count: int, shutdown_began: float) -> None:
    """After shutdown: every accepted email sent; otherwise say what became of the others."""
    sent = outbox.with_outcome("sent")
    if len(sent) == accepted_count:
        return
    cancelled = outbox.with_outcome("cancelled")
    running = outbox.with_outcome("running")
    got = f"{len(sent)} of {accepted_count} sent; {describe(outbox.sent)}"
    if cancelled:
        after = min(s.ended or 0.0 for s in cancelled) - shutdown_began
        fail(
            f"Shutdown cancelled {len(cancelled)} send(s) {after:.2f} s after it began",
            expected=f"all {accepted_count} accepted emails sent before shutdown completes",
            got=got,
            hint=SHUTDOWN_TIMEOUT
            if after > 0
            else "Something cancelled the sends as soon as shutdown began: let the app "
            "wait for them (app.add_background_task) instead of cancelling them.",
        )
    if running:
        fail(
            f"Shutdown completed while {len(running)} send(s) were still running",
            expected=f"all {accepted_count} accepted emails sent before shutdown completes",
            got=got + ": nothing waited for them, and a stopping server loses them",
            hint="A bare asyncio.create_task(...) is invisible to Quart's shutdown. "
            "`app.add_background_task(...)` registers the task, and shutdown waits for it.",
        )
    fail(
        f"Only {len(sent)} of {accepted_count} accepted emails were sent",
        expected=f"{accepted_count} calls of send_email, each finished before shutdown",
        got=got,
        hint=BACKGROUND,
    )


@check("default_send_email waits 3 s without blocking the loop", task=1)
async def test_default_sender(learner: Learner) -> None:
    send = learner.coroutine_function("default_send_email")
    _, took = await timed(
        60,
        send("ada@example.com", "Welcome", "Hello Ada"),
        'default_send_email("ada@example.com", "Welcome", "Hello Ada")',
    )
    expect_seconds(
        took,
        3.0,
        what="default_send_email(...)",
        hint="The article's sender takes 3 s: `await asyncio.sleep(3)`.",
    )


@check("POST /send-email answers 202 with a job id at once while the send takes 3 s", task=2)
async def test_accepted_at_once(learner: Learner) -> None:
    outbox = Outbox(delay=3.0)
    with recorded_logs() as records:
        async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
            with Stopwatch() as sw:
                reply = await post_email(client)
            await asyncio.sleep(0)  # a background task that fails at once has failed now
            if not outbox.sent:
                handed_a_coroutine(records, reply)
            accepted(reply)
            if sw.elapsed > 0.05:
                fail(
                    f"POST /send-email answered after {sw.elapsed:.2f} s of event-loop time",
                    expected="the 202 at once (0 s), while the 3 s send goes on in the background",
                    got=f"{sw.elapsed:.2f} s: the request waited for "
                    + ("the send" if outbox.sent else "something"),
                    hint="Do not `await` the send in the route. " + BACKGROUND,
                )
            await asyncio.sleep(0.1)
            if not outbox.sent:
                handed_a_coroutine(records, reply)
            if outbox.calls() != [(EMAIL["to"], EMAIL["subject"], EMAIL["body"])]:
                fail(
                    "0.1 s after the 202, send_email had not been called with the email"
                    if not outbox.sent
                    else "send_email was not called with the email's to, subject and body",
                    expected=f"one call: send_email({EMAIL['to']!r}, {EMAIL['subject']!r}, "
                    f"{EMAIL['body']!r})",
                    got=show(outbox.calls()),
                    hint="Call the `send_email` that create_app was given (to, subject, body). "
                    + BACKGROUND,
                )


@check("without send_email, the app sends with default_send_email", task=2)
async def test_default_sender_used(learner: Learner) -> None:
    outbox = Outbox(delay=3.0)
    learner.patch("default_send_email", outbox.send)
    async with serving_patiently(build_app(learner)) as client:
        accepted(await post_email(client))
        await asyncio.sleep(0.1)
    if outbox.calls() != [(EMAIL["to"], EMAIL["subject"], EMAIL["body"])]:
        fail(
            "create_app() without send_email did not send with default_send_email",
            expected="one call of default_send_email(to, subject, body)",
            got=show(outbox.calls()),
            hint="In create_app: `sender = send_email if send_email is not None else "
            "default_send_email`, looked up by name, then send with `sender`.",
        )


@check("bad requests are a 400 JSON error, never a 500, and nothing is sent", task=3)
async def test_bad_requests(learner: Learner) -> None:
    outbox = Outbox(delay=3.0)
    json_type = {"Content-Type": "application/json"}
    cases: list[tuple[str, dict[str, Any]]] = [
        ('no "to"', {"json": {"subject": "Hi", "body": "Hello"}}),
        ('no "subject"', {"json": {"to": "ada@example.com", "body": "Hello"}}),
        ('no "body"', {"json": {"to": "ada@example.com", "subject": "Hi"}}),
        ('"to" without @', {"json": {**EMAIL, "to": "ada.example.com"}}),
        ('"to" as a number', {"json": {**EMAIL, "to": 42}}),
        ('"to" as a list', {"json": {**EMAIL, "to": ["ada@example.com"]}}),
        ('"subject" as a number', {"json": {**EMAIL, "subject": 7}}),
        ('"body" as null', {"json": {**EMAIL, "body": None}}),
        ('"body" as an object', {"json": {**EMAIL, "body": {"html": "<p>Hi</p>"}}}),
        ("a JSON list", {"json": [EMAIL]}),
        ("a JSON string", {"json": "ada@example.com"}),
        (
            "a plain-text body",
            {"data": "to=ada@example.com", "headers": {"Content-Type": "text/plain"}},
        ),
        ("malformed JSON", {"data": '{"to": "ada@', "headers": json_type}),
        ("no body", {}),
    ]
    async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
        for what, kwargs in cases:
            reply = await call(client, "POST", "/send-email", **kwargs)
            if not (reply.status == 404 and reply.routed is False):
                # (a 404 that no route matched names the path from reply.call: keep it)
                reply.call = f"POST /send-email with {what}"
            expect_json_error(
                reply,
                400,
                hint="Read the body with `await request.get_json(silent=True)` (None when it "
                "is not JSON); it must be a dict whose three fields are strings, and `to` "
                'must contain "@". Otherwise return {"error": "..."}, 400 before anything '
                "else."
                if reply.status != 400
                else "",
            )
        await asyncio.sleep(0.1)
    if outbox.sent:
        fail(
            "An invalid request still started a send",
            expected="no call of send_email for a request answered 400",
            got=show(outbox.calls()),
            hint="Validate first; start the background task only for a valid email.",
        )


@check("GET /jobs/<id> says pending while the send runs, then done", task=4)
async def test_pending_then_done(learner: Learner) -> None:
    outbox = Outbox(delay=3.0)
    async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
        start = now()
        job_id = accepted(await post_email(client))
        for at, expected in ((0.0, "pending"), (2.9, "pending"), (3.1, "done")):
            await wait_until(start, at)
            when = f"{at:.1f} s after the 202 (the send takes 3 s)"
            status = await status_of(client, job_id, when=when)
            if status == expected:
                continue
            if not outbox.sent:
                hint = "The send never started. " + BACKGROUND
            elif expected == "pending":
                hint = (
                    "Set 'done' in the background task, after `await send_email(...)` "
                    "returns, not in the route."
                )
            elif status == "pending":
                hint = (
                    "Once the send returns, set the job's status to 'done' (in the same "
                    "background task, right after the await)."
                )
            else:
                hint = "Only a send that raised is 'failed'; this one returned normally."
            fail(
                f"GET /jobs/<id> said {status!r} {when}",
                expected=repr(expected),
                got=f"{status!r}; the send: {describe(outbox.sent)}",
                hint=hint,
            )


@check("GET /jobs/<id> for an unknown id is a 404 JSON error", task=4)
async def test_unknown_job(learner: Learner) -> None:
    outbox = Outbox(delay=3.0)
    async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
        job_id = accepted(await post_email(client))
        for unknown in ("no-such-job", job_id + "0"):
            reply = await call(client, "GET", f"/jobs/{unknown}")
            expect_json_error(
                reply,
                404,
                hint="`status = jobs.get(job_id)`; when it is None, return "
                '{"error": "..."}, 404. Never make up a status for an id you did not issue.',
            )


@check("every job gets its own id, also for the same email sent twice at once", task=4)
async def test_job_ids_unique(learner: Learner) -> None:
    outbox = Outbox(delay=3.0)
    emails = [EMAIL, EMAIL, {**EMAIL, "to": "grace@example.com"}, EMAIL, EMAIL]
    async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
        replies = await asyncio.gather(*(post_email(client, dict(e)) for e in emails))
        ids = [accepted(reply) for reply in replies]
        if len(set(ids)) != len(ids):
            fail(
                f"{len(ids)} emails accepted at the same moment got "
                f"{len(set(ids))} different job ids",
                expected=f"{len(ids)} different ids",
                got=show(ids),
                hint="Make ids that never repeat: `uuid.uuid4().hex`. A clock, a hash of the "
                "email or a count of something that can shrink repeats.",
            )
        for job_id in ids:
            await status_of(client, job_id, when="right after the 202s")


@check("jobs are kept per app: two apps never share jobs or senders", task=4)
async def test_state_per_app(learner: Learner) -> None:
    outbox_a, outbox_b = Outbox(delay=1.0), Outbox(delay=1.0)
    app_a = build_app(learner, send_email=outbox_a.send)
    app_b = build_app(learner, send_email=outbox_b.send)
    async with serving_patiently(app_a) as client_a, serving_patiently(app_b) as client_b:
        job_a = accepted(await post_email(client_a))
        reply = await call(client_b, "GET", f"/jobs/{job_a}")
        if reply.status != 404:
            fail(
                "The second app knew a job that only the first app accepted",
                expected="GET /jobs/<the first app's job id> on the second app: 404",
                got=reply.describe(),
                hint="Make the jobs dict inside create_app, not at the top of the file: "
                "each app (each test, each worker process) has its own.",
            )
        accepted(await post_email(client_b, {**EMAIL, "to": "grace@example.com"}))
        await asyncio.sleep(1.1)
    if [s.to for s in outbox_a.sent] != ["ada@example.com"] or [s.to for s in outbox_b.sent] != [
        "grace@example.com"
    ]:
        fail(
            "The two apps did not each send with their own send_email",
            expected="the first app's sender got ada@example.com, the second's grace@example.com",
            got=f"first: {show(outbox_a.calls())}; second: {show(outbox_b.calls())}",
            hint="Keep the sender in a variable of create_app, not in a global that the "
            "next create_app() call replaces.",
        )


@check("a send that raises makes the job 'failed'", task=5)
async def test_failed_status(learner: Learner) -> None:
    outbox = Outbox(delay=1.0, failures={BOUNCE["to"]})
    async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
        start = now()
        job_id = accepted(await post_email(client, BOUNCE))
        await wait_until(start, 0.5)
        status = await status_of(client, job_id, when="0.5 s after the 202 (the send takes 1 s)")
        if status != "pending":
            fail(
                f"GET /jobs/<id> said {status!r} while the send was still running",
                expected="'pending' until the send has raised",
                got=repr(status),
                hint="Set the outcome only after `await send_email(...)` returns or raises.",
            )
        await wait_until(start, 1.1)
        status = await status_of(client, job_id, when="after the send raised SendFailed")
    if status != "failed":
        fail(
            f"GET /jobs/<id> said {status!r} after the send raised",
            expected="'failed'",
            got=f"{status!r}; the send: {describe(outbox.sent)}",
            hint="Wrap the send in the background task: `try: await send_email(...)` "
            "`except Exception: status 'failed' (and log it)` `else: status 'done'`."
            if status == "pending"
            else "Set 'done' only when the send returned without raising (try/except/else).",
        )


def related(record: logging.LogRecord, error: BaseException) -> bool:
    """The record carries this error (or one that it caused, or that wraps it)."""
    if record.exc_info and record.exc_info[1] is not None:
        seen: BaseException | None = record.exc_info[1]
        while seen is not None:
            if seen is error:
                return True
            if isinstance(seen, BaseExceptionGroup) and any(e is error for e in seen.exceptions):
                return True
            seen = seen.__cause__ or seen.__context__
    return str(error) in record.getMessage() or "bounce@example.com" in record.getMessage()


@check("a failing send is logged with its traceback", task=5)
async def test_failure_logged(learner: Learner) -> None:
    outbox = Outbox(delay=1.0, failures={BOUNCE["to"]})
    with recorded_logs() as records:
        async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
            accepted(await post_email(client, BOUNCE))
            await asyncio.sleep(1.1)
    if not outbox.errors:
        fail(
            "The send never ran, so nothing could fail",
            expected="send_email called, raising SendFailed after 1 s",
            got=describe(outbox.sent),
            hint=BACKGROUND,
        )
    error = outbox.errors[0]
    # asyncio's own "Task exception was never retrieved" is not the app logging its failure:
    # it comes late (when the task is garbage-collected) or never. The next check covers it.
    by_asyncio = [r for r in records if r.name == "asyncio" and related(r, error)]
    mine = [r for r in records if r.name != "asyncio" and related(r, error)]
    with_traceback = [r for r in mine if r.exc_info and r.exc_info[1] is not None]
    if any(r.levelno >= logging.WARNING for r in with_traceback):
        return
    if with_traceback:
        record = with_traceback[0]
        fail(
            f"The failure was logged at {record.levelname}, a level that production logs drop",
            expected="a record at ERROR (or at least WARNING) with the traceback",
            got=f"{record.levelname}: {record.getMessage()!r}",
            hint="`app.logger.exception(...)` logs at ERROR with the traceback.",
        )
    if mine:
        fail(
            "The failure was logged without its traceback",
            expected="a log record that carries the exception (exc_info)",
            got=f"{mine[0].levelname}: {mine[0].getMessage()!r}",
            hint='Inside `except Exception:`, call `app.logger.exception("...")`: it '
            "adds the traceback. (Or pass exc_info=True.)",
        )
    fail(
        "Nothing was logged when the send raised SendFailed",
        expected="your app logs the exception with its traceback",
        got=f"only asyncio's {by_asyncio[0].getMessage()!r}, when the task was garbage-collected"
        if by_asyncio
        else "no log record about it (print() and traceback.print_exc() write to the "
        "console, not to the log)",
        hint="Catch the exception around the send and call "
        '`app.logger.exception("sending email failed")`.',
    )


@check("a failing send leaves nothing unhandled for the event loop", task=5)
async def test_nothing_unhandled(learner: Learner) -> None:
    outbox = Outbox(delay=1.0, failures={BOUNCE["to"]})
    with loop_exception_reports() as reports:
        async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
            accepted(await post_email(client, BOUNCE))
            accepted(await post_email(client))
            await asyncio.sleep(3.1)
    if not reports:
        return
    message = str(reports[0].get("message", ""))
    error = reports[0].get("exception")
    if "never retrieved" in message:
        hint = (
            "An exception escaped a task that nobody awaited: it surfaces only when the task "
            "is garbage-collected, far from any request. Catch it inside the task (try/except "
            "around the send), mark the job failed and log it."
        )
    elif "destroyed but it is pending" in message:
        hint = (
            "A task that nothing referenced was garbage-collected before it finished. Keep "
            "a reference: `app.add_background_task(...)` does."
        )
    else:
        hint = "Catch the send's exception inside the background task and handle it there."
    fail(
        "The event loop was left with an unhandled problem",
        expected="nothing reaches the loop's exception handler",
        got=f"{len(reports)} report(s), the first: {message}"
        + (f" ({type(error).__name__}: {error})" if error is not None else ""),
        hint=hint,
    )


@check("every accepted email is sent before shutdown completes", task=6)
async def test_sent_before_shutdown(learner: Learner) -> None:
    outbox = Outbox(delay=3.0)
    async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
        for number in range(3):
            accepted(await post_email(client, {**EMAIL, "to": f"reader{number}@example.com"}))
            if number < 2:
                await asyncio.sleep(1.0)
        shutdown_began = now()
    expect_all_sent(outbox, 3, shutdown_began)


@check("also sends of 15 s, longer than Quart's default shutdown wait of 5 s", task=6)
async def test_sent_before_shutdown_long(learner: Learner) -> None:
    outbox = Outbox(delay=15.0)
    async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
        for number in range(3):
            accepted(await post_email(client, {**EMAIL, "to": f"reader{number}@example.com"}))
            await asyncio.sleep(0.5)
        shutdown_began = now()
    expect_all_sent(outbox, 3, shutdown_began)


@check("a send that hangs is given up after SEND_TIMEOUT: the job is 'failed'", task=6)
async def test_send_timeout(learner: Learner) -> None:
    bound = getattr(learner.module, "SEND_TIMEOUT", 20.0)
    if isinstance(bound, bool) or not isinstance(bound, int | float) or not 0 < bound <= 60:
        fail(
            f"SEND_TIMEOUT is {bound!r}",
            expected="a number of seconds, more than 0 and at most 60 (the stub has 20.0)",
            got=repr(bound),
            hint="Keep `SEND_TIMEOUT = 20.0` at the top of the file: the longest one send may "
            "take, and what shutdown waits for.",
        )
    hung = {**EMAIL, "to": "hung@example.com"}
    outbox = Outbox(delay=3.0, delays={hung["to"]: 3600.0})
    setup = f"the mail server never answers for {hung['to']}; SEND_TIMEOUT = {bound:g}"
    async with serving_patiently(build_app(learner, send_email=outbox.send)) as client:
        start = now()
        job_id = accepted(await post_email(client, hung))
        await wait_until(start, bound - 0.1)
        early = await status_of(client, job_id, when=f"{bound - 0.1:g} s after the 202")
        if early != "pending":
            fail(
                f"GET /jobs/<id> said {early!r} {bound - 0.1:g} s after the 202, before "
                f"SEND_TIMEOUT ({setup})",
                expected="'pending' until SEND_TIMEOUT has passed",
                got=f"{early!r}; the send: {describe(outbox.sent)}",
                hint="Give each send SEND_TIMEOUT seconds, no less: `async with "
                "asyncio.timeout(SEND_TIMEOUT): await sender(...)`.",
            )
        await wait_until(start, bound + 0.1)
        status = await status_of(client, job_id, when=f"{bound + 0.1:g} s after the 202")
        if status != "failed":
            fail(
                f"GET /jobs/<id> said {status!r} {bound + 0.1:g} s after the 202 of a send "
                f"that never ends ({setup})",
                expected=f"'failed' once SEND_TIMEOUT ({bound:g} s) has passed",
                got=f"{status!r}; the send: {describe(outbox.sent)}",
                hint="Bound each send: `async with asyncio.timeout(SEND_TIMEOUT): await "
                "sender(...)` inside the `try`. The TimeoutError it raises is an Exception, "
                "so your `except Exception:` marks the job 'failed' and logs it. Without a "
                "bound, one hung mail server holds the job, and the shutdown, forever."
                if status == "pending"
                else "Only a send that returned is 'done'; one that timed out is 'failed'.",
            )
