"""Mutants of solutions/ex11: retries, spawn, and an app's errors and partial results."""

from __future__ import annotations

from . import HTTP_HANDLER, Mutant

DELAY = "            delay = base_delay * 2**attempt\n"
GIVE_UP = "            if attempt >= retries:\n"
GIVE_UP_BLOCK = (
    GIVE_UP + "                # Give up without a last pointless wait, "
    "and raise the last error as it is:\n"
)
RERAISE = (
    "                # its message and traceback say what went wrong, "
    "where None would say nothing.\n"
    "                raise\n"
)
CATCH_TRANSIENT = "        except TransientError as error:\n"
WARN = "            logger.warning(\n"
SLEEP = "            await asyncio.sleep(delay)\n"
KEEP = "    _running.add(task)\n"
DISCARD = "    _running.discard(task)  # done: let it go, or the set grows for ever\n"
CANCELLED = (
    "    if task.cancelled():\n"
    "        # Someone asked for it (a shutdown, a timeout): not an error. And task.exception()\n"
    "        # would raise CancelledError here, inside a callback.\n"
    '        logger.debug("background task %s was cancelled", task.get_name())\n'
    "        return\n"
)
LOG_FAILURE = '        logger.error("background task %s failed", task.get_name(), exc_info=error)\n'
DEFAULT_SOURCE = "    source = fetch if fetch is not None else FlakyService()\n"
ROUTE_RETRY = "            data = await fetch_with_retry(source)\n"
ROUTE_503 = "            data = await fetch_with_retry(source)\n        except TransientError:\n"
BOOM = '        raise RuntimeError("cannot connect to postgresql://app:hunter2@db.internal:5432/orders")\n'
HANDLER_LOG = '        app.logger.exception("unhandled error", exc_info=error)\n'
GENERIC = '        return {"error": "internal server error"}, 500\n'
ONE_FETCH = "                results[name] = await source(name)\n"
ONE_BODY = (
    "            try:\n"
    "                results[name] = await source(name)\n"
    "            except TransientError:\n"
    '                logger.warning("fetching %r failed for now", name, exc_info=True)\n'
    '                errors[name] = "temporarily unavailable"\n'
    "            except Exception:\n"
    '                logger.exception("fetching %r failed", name)\n'
    '                errors[name] = "failed"\n'
)
TASK_GROUP = (
    "        async with asyncio.TaskGroup() as tg:\n"
    "            for name in MULTI_NAMES:\n"
    "                tg.create_task(one(name))\n"
)

MUTANTS = [
    # fetch_with_retry: the waits
    Mutant(
        "11",
        "article_fixed_delay",
        ((DELAY, "            delay = base_delay\n"),),
        {
            "test_backoff": "Every wait was 1 s: a fixed delay",
            "test_backoff_scaled": "(waits of 2, 2 s)",
        },
    ),
    Mutant(
        "11",
        "backoff_one_step_ahead",
        ((DELAY, "            delay = base_delay * 2 ** (attempt + 1)\n"),),
        {
            "test_backoff": "Each wait is twice too long",
            "test_backoff_scaled": "Each wait is twice too long",
        },
        avoid={"test_backoff_scaled": "was ignored"},
    ),
    Mutant(
        "11",
        "base_delay_ignored",
        ((DELAY, "            delay = 2**attempt\n"),),
        {"test_backoff_scaled": "base_delay=2 was ignored"},
    ),
    Mutant(
        "11",
        "full_jitter",
        (
            (DELAY, "            delay = random.uniform(0, base_delay * 2**attempt)\n"),
            ("import asyncio\n", "import asyncio\nimport random\n"),
        ),
        {"test_backoff": "No random jitter in this exercise"},
    ),
    # fetch_with_retry: how many attempts
    Mutant(
        "11",
        "article_range_retries",
        ((GIVE_UP, "            if attempt >= retries - 1:\n"),),
        {"test_attempts": "`range(retries)`, as in the article, makes one call too few"},
    ),
    Mutant(
        "11",
        "retries_for_ever",
        ((GIVE_UP, "            if False:\n"),),
        {
            "test_attempts": "was still retrying after 600 s of event-loop time",
            "test_last_transient_error": "was still retrying",
        },
    ),
    # fetch_with_retry: what is retried, and how it gives up
    Mutant(
        "11",
        "retries_every_exception",
        ((CATCH_TRANSIENT, "        except Exception as error:\n"),),
        {"test_other_errors_propagate": "retried a ValueError"},
    ),
    Mutant(
        "11",
        "article_except_returns_none",
        (
            (
                "            attempt += 1\n",
                "            attempt += 1\n"
                "        except Exception:\n"
                '            logger.exception("fetch failed")\n'
                "            return None\n",
            ),
        ),
        {"test_other_errors_propagate": "swallowed the ValueError"},
    ),
    Mutant(
        "11",
        "bare_except_retries_cancellation",
        ((CATCH_TRANSIENT, "        except BaseException as error:\n"),),
        {
            "test_cancellation_not_retried": "went on after it was cancelled at 2 s",
            "test_other_errors_propagate": "retried a ValueError",
        },
    ),
    Mutant(
        "11",
        "cancellation_swallowed",
        (
            (
                "            return await fetch()\n",
                "            return await fetch()\n"
                "        except asyncio.CancelledError:\n"
                "            return None\n",
            ),
        ),
        {"test_cancellation_not_retried": "swallowed the cancellation"},
    ),
    Mutant(
        "11",
        "article_gives_up_with_none",
        ((RERAISE, '                logger.error("giving up")\n                return None\n'),),
        {"test_last_transient_error": "returned None when every attempt had failed"},
    ),
    Mutant(
        "11",
        "new_error_when_giving_up",
        (
            (
                RERAISE,
                '                raise TransientError("gave up after every retry") from error\n',
            ),
        ),
        {"test_last_transient_error": "a TransientError of its own"},
    ),
    Mutant(
        "11",
        "first_error_raised",
        (
            (
                "    attempt = 0\n    while True:\n",
                "    attempt = 0\n    first: TransientError | None = None\n    while True:\n",
            ),
            (RERAISE, "                raise first or error\n"),
            (SLEEP, SLEEP + "            first = first or error\n"),
        ),
        {"test_last_transient_error": "the error of attempt 1 of 4"},
    ),
    Mutant(
        "11",
        "article_sleeps_after_last_failure",
        (
            (GIVE_UP_BLOCK + RERAISE, ""),
            (SLEEP, SLEEP + "            if attempt >= retries:\n                raise\n"),
        ),
        {"test_last_transient_error": "waited 8 s after the last attempt before giving up"},
    ),
    # fetch_with_retry: the log
    Mutant(
        "11",
        "retry_logged_as_error",
        ((WARN, "            logger.error(\n"),),
        {"test_warning_per_retry": "logged its retries at ERROR"},
    ),
    Mutant(
        "11",
        "retry_logged_as_info",
        ((WARN, "            logger.info(\n"),),
        {"test_warning_per_retry": "logged its retries at INFO"},
    ),
    Mutant(
        "11",
        "retry_printed",
        ((WARN, "            print(\n"),),
        {"test_warning_per_retry": "print() writes to the console"},
    ),
    # spawn: the reference
    Mutant(
        "11",
        "article_bare_create_task",
        ((KEEP, ""),),
        {"test_spawn_survives_gc": "The garbage collector destroyed the spawned task mid-flight"},
    ),
    Mutant(
        "11",
        "tasks_in_a_weak_set",
        (
            (
                "_running: set[asyncio.Task[Any]] = set()\n",
                "_running: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()\n",
            ),
            ("import logging\n", "import logging\nimport weakref\n"),
        ),
        {"test_spawn_survives_gc": "Task was destroyed but it is pending"},
    ),
    Mutant(
        "11",
        "set_only_grows",
        ((DISCARD, ""),),
        {"test_spawn_drops_reference": "spawn still held 3 finished task(s)"},
    ),
    Mutant(
        "11",
        "cancelled_task_kept",
        ((DISCARD, ""), (LOG_FAILURE, LOG_FAILURE + "    _running.discard(task)\n")),
        {"test_spawn_drops_reference": "the task that was cancelled"},
    ),
    # spawn: the log
    Mutant(
        "11",
        "exception_read_on_cancelled_task",
        ((CANCELLED, ""),),
        {"test_spawn_cancel_not_error": "`task.exception()` raises CancelledError"},
    ),
    Mutant(
        "11",
        "cancellation_logged_as_error",
        (
            (
                '        logger.debug("background task %s was cancelled", task.get_name())\n',
                '        logger.error("background task %s was cancelled", task.get_name())\n',
            ),
        ),
        {"test_spawn_cancel_not_error": "Cancelling a spawned task was logged at ERROR"},
    ),
    Mutant(
        "11",
        "failure_logged_without_traceback",
        ((LOG_FAILURE, '        logger.error(f"background task failed: {error}")\n'),),
        {"test_spawn_logs_failure": "logged without its traceback"},
    ),
    Mutant(
        "11",
        "failure_logged_as_warning",
        (
            (
                LOG_FAILURE,
                '        logger.warning("background task %s failed", task.get_name(), '
                "exc_info=error)\n",
            ),
        ),
        {"test_spawn_logs_failure": "The task's failure was logged at WARNING"},
    ),
    Mutant(
        "11",
        "failure_printed",
        ((LOG_FAILURE, '        print(f"Task failed: {error}")\n'),),
        {"test_spawn_logs_failure": "print() writes to the console"},
    ),
    Mutant(
        "11",
        "no_done_callback",
        (
            (
                "    task.add_done_callback(_task_done)\n",
                "    task.add_done_callback(_running.discard)\n",
            ),
        ),
        {"test_spawn_logs_failure": "only asyncio's 'Task exception was never retrieved'"},
    ),
    # the app: /retry-data
    Mutant(
        "11",
        "route_retries_nothing",
        ((ROUTE_RETRY, "            data = await source()\n"),),
        {"test_retry_data": "did not call fetch_with_retry"},
    ),
    Mutant(
        "11",
        "article_500_when_exhausted",
        (
            (
                '                {"error": "the data service is unavailable, try again later"},\n'
                "                503,\n",
                '                {"error": "the data service is unavailable, try again later"},\n'
                "                500,\n",
            ),
        ),
        {"test_retry_data_exhausted": "answered 500"},
    ),
    Mutant(
        "11",
        "one_flaky_service_for_all_apps",
        (
            (DEFAULT_SOURCE, "    source = fetch if fetch is not None else SHARED_SERVICE\n"),
            ("_running: set", "SHARED_SERVICE = FlakyService()\n_running: set"),
        ),
        {"test_retry_data_default": "make the FlakyService inside create_app"},
    ),
    Mutant(
        "11",
        "default_service_not_flaky",
        ((DEFAULT_SOURCE, DEFAULT_SOURCE.replace("FlakyService()", "FlakyService(failures=0)")),),
        {"test_retry_data_default": "the default service did not fail its first two calls"},
    ),
    # the app: errors
    Mutant(
        "11",
        "every_error_is_503",
        ((ROUTE_503, ROUTE_RETRY + "        except Exception:\n"),),
        {"test_boom": "answered 503"},
    ),
    Mutant(
        "11",
        "exception_text_in_body",
        ((GENERIC, '        return {"error": str(error)}, 500\n'),),
        {"test_boom": "told the client about the exception"},
    ),
    Mutant(
        "11",
        "quart_default_500",
        (("    @app.errorhandler(Exception)\n", ""),),
        {"test_boom": "your HTTPException handler answered its description"},
    ),
    Mutant(
        "11",
        "boom_answers_500_itself",
        ((BOOM, '        return {"error": "internal server error"}, 500\n'),),
        {
            "test_boom": "GET /boom raised no exception",
            "test_boom_logged": "GET /boom raised no exception",
        },
    ),
    Mutant(
        "11",
        "handler_does_not_log",
        ((HANDLER_LOG, ""),),
        {"test_boom_logged": "Nothing logged the exception behind the 500"},
    ),
    Mutant(
        "11",
        "handler_logs_message_only",
        ((HANDLER_LOG, '        app.logger.error(f"unhandled error: {error}")\n'),),
        {"test_boom_logged": "logged without its traceback"},
    ),
    Mutant(
        "11",
        "no_http_error_handler",
        ((HTTP_HANDLER, ""),),
        {"test_http_errors": "your error handler turned a 404 (NotFound) into a 500"},
    ),
    Mutant(
        "11",
        "http_error_headers_dropped",
        (
            (
                "error.code or 500, headers\n",
                "error.code or 500\n",
            ),
        ),
        {"test_http_errors": "answered 405 without the Allow header"},
    ),
    # the app: /multi
    Mutant(
        "11",
        "multi_one_after_another",
        ((TASK_GROUP, "        for name in MULTI_NAMES:\n            await one(name)\n"),),
        {"test_multi_concurrent": "took 6.00 s"},
    ),
    Mutant(
        "11",
        "multi_fetch_without_name",
        ((ONE_FETCH, "                results[name] = await source()\n"),),
        {"test_multi_concurrent": "did not call fetch once with each of a, b and c"},
    ),
    Mutant(
        "11",
        "multi_task_group_uncaught",
        ((ONE_BODY, ONE_FETCH.replace("    ", "", 1)),),
        {"test_multi_partial": "A TaskGroup cancels every other task"},
    ),
    Mutant(
        "11",
        "multi_gather_without_return_exceptions",
        (
            (
                TASK_GROUP,
                "        values = await asyncio.gather(*(source(n) for n in MULTI_NAMES))\n"
                "        results.update(zip(MULTI_NAMES, values, strict=True))\n",
            ),
        ),
        {"test_multi_partial": "gather without return_exceptions"},
    ),
]
