"""Mutants of solutions/ex07: background tasks, job status and a shutdown that loses nothing."""

from __future__ import annotations

from . import HTTP_HANDLER, Mutant

HAND_OVER = (
    '        app.add_background_task(deliver, job_id, data["to"], data["subject"], data["body"])\n'
)
JOBS = "    jobs: dict[str, str] = {}\n"
# A set of tasks kept by hand: no garbage collection mid-send, but Quart knows nothing of it.
TASK_SET = JOBS + "    running: set[asyncio.Task[None]] = set()\n"
CREATE_TRACKED = (
    '        task = asyncio.create_task(deliver(job_id, data["to"], data["subject"], '
    'data["body"]))\n'
    "        running.add(task)\n"
    "        task.add_done_callback(running.discard)\n"
)
LOGGED = '            app.logger.exception("sending email job %s to %s failed", job_id, to)\n'
DELIVER_BODY = (
    "        try:\n"
    "            async with asyncio.timeout(SEND_TIMEOUT):\n"
    "                await sender(to, subject, body)\n"
    "        except Exception:\n"
    "            # Nobody awaits a background task: this is the only place the failure can be\n"
    "            # seen. Record it for GET /jobs/<id> and log it with its traceback.\n"
    '            jobs[job_id] = "failed"\n' + LOGGED + "        else:\n"
    '            jobs[job_id] = "done"\n'
)
DONE_ELSE = '        else:\n            jobs[job_id] = "done"\n'
SENDER = "    sender = send_email if send_email is not None else default_send_email\n"
SHUTDOWN_CONFIG = '    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = SEND_TIMEOUT + 5\n'
TYPE_CHECK = (
    "        if not isinstance(data[field], str):\n"
    '            return f"{field!r} must be a string"\n'
)
NEW_ID = "        job_id = uuid.uuid4().hex\n"
STATUS_ROUTE = '    @app.get("/jobs/<job_id>")\n'

MUTANTS = [
    Mutant(
        "07",
        "article_bare_create_task",
        (
            (
                HAND_OVER,
                '        asyncio.create_task(sender(data["to"], data["subject"], data["body"]))\n',
            ),
        ),
        {
            "test_pending_then_done": "said 'pending' 3.1 s after the 202",
            "test_failed_status": "said 'pending' after the send raised",
            "test_failure_logged": "Nothing was logged when the send raised SendFailed",
            "test_nothing_unhandled": "Task exception was never retrieved",
            "test_sent_before_shutdown": "Shutdown completed while 3 send(s) were still running",
            "test_sent_before_shutdown_long": "were still running",
        },
    ),
    Mutant(
        "07",
        "create_task_without_reference",
        (
            (
                HAND_OVER,
                '        asyncio.create_task(deliver(job_id, data["to"], data["subject"], '
                'data["body"]))\n',
            ),
        ),
        {
            "test_sent_before_shutdown": "Shutdown completed while 3 send(s) were still running",
            "test_sent_before_shutdown_long": "bare asyncio.create_task",
        },
    ),
    Mutant(
        "07",
        "tasks_kept_but_not_awaited_at_shutdown",
        ((JOBS, TASK_SET), (HAND_OVER, CREATE_TRACKED)),
        {
            "test_sent_before_shutdown": "Shutdown completed while 3 send(s) were still running",
            "test_sent_before_shutdown_long": "Shutdown completed while 3 send(s)",
        },
    ),
    Mutant(
        "07",
        "tasks_cancelled_at_shutdown",
        (
            (JOBS, TASK_SET),
            (HAND_OVER, CREATE_TRACKED),
            (
                STATUS_ROUTE,
                "    @app.after_serving\n"
                "    async def stop_sending() -> None:\n"
                "        for task in running:\n"
                "            task.cancel()\n\n" + STATUS_ROUTE,
            ),
        ),
        {
            "test_sent_before_shutdown": "cancelled 3 send(s) 0.00 s after it began",
            "test_sent_before_shutdown_long": "cancelled the sends as soon as shutdown began",
        },
    ),
    Mutant(
        "07",
        "send_awaited_in_request",
        (
            (
                HAND_OVER,
                '        await deliver(job_id, data["to"], data["subject"], data["body"])\n',
            ),
        ),
        {
            "test_accepted_at_once": "POST /send-email answered after 3.00 s",
            "test_pending_then_done": "said 'done' 0.0 s after the 202",
            "test_failed_status": "said 'failed' while the send was still running",
        },
    ),
    Mutant(
        "07",
        "coroutine_given_to_add_background_task",
        (
            (
                HAND_OVER,
                '        app.add_background_task(deliver(job_id, data["to"], data["subject"], '
                'data["body"]))\n',
            ),
        ),
        {
            "test_accepted_at_once": "was given a coroutine object, not a function: the send "
            "never ran",
            "test_sent_before_shutdown": "Only 0 of 3 accepted emails were sent",
        },
    ),
    Mutant(
        "07",
        "send_not_bounded",
        (
            (
                "            async with asyncio.timeout(SEND_TIMEOUT):\n"
                "                await sender(to, subject, body)\n",
                "            await sender(to, subject, body)\n",
            ),
        ),
        {"test_send_timeout": "said 'pending' 20.1 s after the 202 of a send that never ends"},
    ),
    Mutant(
        "07",
        "send_bound_too_short",
        (("async with asyncio.timeout(SEND_TIMEOUT):", "async with asyncio.timeout(5):"),),
        {"test_send_timeout": "said 'failed' 19.9 s after the 202, before SEND_TIMEOUT"},
    ),
    Mutant(
        "07",
        "reply_200",
        (('"job_id": job_id}, 202', '"job_id": job_id}'),),
        {"test_accepted_at_once": "202 Accepted says: taken on, not done yet"},
    ),
    Mutant(
        "07",
        "reply_without_job_id",
        (('"job_id": job_id}, 202', '"id": job_id}, 202'),),
        {"test_accepted_at_once": "POST /send-email answered the wrong JSON"},
    ),
    Mutant(
        "07",
        "default_sender_blocks",
        (
            ("    await asyncio.sleep(3)\n", "    time.sleep(3)\n"),
            ("import asyncio\n", "import asyncio\nimport time\n"),
        ),
        {"test_default_sender": "A blocking call (time.sleep) froze the event loop"},
    ),
    Mutant(
        "07",
        "default_sender_ignored",
        ((SENDER, "    sender = send_email\n"),),
        {"test_default_sender_used": "did not send with default_send_email"},
    ),
    Mutant(
        "07",
        "no_type_checks",
        ((TYPE_CHECK, ""),),
        {"test_bad_requests": 'POST /send-email with "to" as a number answered 500'},
    ),
    Mutant(
        "07",
        "no_at_check",
        (('    if "@" not in data["to"]:\n', '    if not data["to"]:\n'),),
        {"test_bad_requests": 'POST /send-email with "to" without @ answered 202'},
    ),
    Mutant(
        "07",
        "article_request_json",
        (
            ("await request.get_json(silent=True)", "await request.json"),
            (HTTP_HANDLER, ""),
        ),
        {"test_bad_requests": "POST /send-email with malformed JSON answered 500"},
    ),
    Mutant(
        "07",
        "done_before_sending",
        (('        jobs[job_id] = "pending"\n', '        jobs[job_id] = "done"\n'),),
        {"test_pending_then_done": "said 'done' 0.0 s after the 202"},
    ),
    Mutant(
        "07",
        "unknown_job_pending",
        (("status = jobs.get(job_id)", 'status = jobs.get(job_id, "pending")'),),
        {"test_unknown_job": "GET /jobs/no-such-job answered 200"},
    ),
    Mutant(
        "07",
        "ids_from_the_clock",
        (
            (NEW_ID, "        job_id = str(int(time.time()))\n"),
            ("import asyncio\n", "import asyncio\nimport time\n"),
        ),
        {"test_job_ids_unique": "5 emails accepted at the same moment got 1 different job ids"},
    ),
    Mutant(
        "07",
        "ids_from_the_email",
        (
            (
                NEW_ID,
                '        job_id = str(abs(hash((data["to"], data["subject"], data["body"]))))\n',
            ),
        ),
        {"test_job_ids_unique": "got 2 different job ids"},
    ),
    Mutant(
        "07",
        "jobs_shared_by_all_apps",
        ((JOBS, ""), ("\n\ndef create_app(", "\n\njobs: dict[str, str] = {}\n\n\ndef create_app(")),
        {"test_state_per_app": "The second app knew a job that only the first app accepted"},
    ),
    Mutant(
        "07",
        "sender_shared_by_all_apps",
        ((SENDER, "    global sender\n" + SENDER),),
        {"test_state_per_app": "The two apps did not each send with their own send_email"},
    ),
    Mutant(
        "07",
        "exception_swallowed",
        ((LOGGED, "            pass\n"), ('            jobs[job_id] = "failed"\n', "")),
        {
            "test_failed_status": "said 'pending' after the send raised",
            "test_failure_logged": "Nothing was logged when the send raised SendFailed",
        },
    ),
    Mutant(
        "07",
        "exception_left_to_quart",
        (
            (
                DELIVER_BODY,
                "        async with asyncio.timeout(SEND_TIMEOUT):\n"
                "            await sender(to, subject, body)\n"
                '        jobs[job_id] = "done"\n',
            ),
        ),
        {"test_failed_status": "said 'pending' after the send raised"},
    ),
    Mutant(
        "07",
        "failure_marked_done",
        ((DONE_ELSE, '        jobs[job_id] = "done"\n'),),
        {"test_failed_status": "said 'done' after the send raised"},
    ),
    Mutant(
        "07",
        "failure_logged_without_traceback",
        (
            (
                LOGGED,
                '            app.logger.error("sending email job %s to %s failed", job_id, to)\n',
            ),
        ),
        {"test_failure_logged": "The failure was logged without its traceback"},
    ),
    Mutant(
        "07",
        "failure_logged_at_info",
        (
            (
                LOGGED,
                '            app.logger.info("sending email job %s to %s failed", job_id, to, '
                "exc_info=True)\n",
            ),
        ),
        {"test_failure_logged": "The failure was logged at INFO"},
    ),
    Mutant(
        "07",
        "failure_printed",
        ((LOGGED, '            print(f"sending email job {job_id} to {to} failed")\n'),),
        {"test_failure_logged": "print() and traceback.print_exc() write to the console"},
    ),
    Mutant(
        "07",
        "failure_reraised_from_own_task",
        (
            (JOBS, TASK_SET),
            (HAND_OVER, CREATE_TRACKED),
            (LOGGED, LOGGED + "            raise\n"),
            (
                STATUS_ROUTE,
                "    @app.after_serving\n"
                "    async def finish_sending() -> None:\n"
                "        await asyncio.gather(*running, return_exceptions=True)\n\n" + STATUS_ROUTE,
            ),
        ),
        {"test_nothing_unhandled": "Task exception was never retrieved (SendFailed"},
    ),
    Mutant(
        "07",
        "shutdown_waits_forever",
        (
            (
                STATUS_ROUTE,
                "    @app.after_serving\n"
                "    async def wait_for_the_last_email() -> None:\n"
                "        await asyncio.Event().wait()\n\n" + STATUS_ROUTE,
            ),
        ),
        {"test_sent_before_shutdown": "shutdown had not completed after 120 s"},
    ),
    Mutant(
        "07",
        "shutdown_timeout_left_at_5",
        ((SHUTDOWN_CONFIG, ""),),
        {"test_sent_before_shutdown_long": "Shutdown cancelled 3 send(s) 5.00 s after it began"},
    ),
    Mutant(
        "07",
        "shutdown_timeout_too_short",
        ((SHUTDOWN_CONFIG, SHUTDOWN_CONFIG.replace("SEND_TIMEOUT + 5", "10")),),
        {"test_sent_before_shutdown_long": "10.00 s after it began"},
    ),
]
