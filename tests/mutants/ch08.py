"""Mutants of solutions/ex08: queues and workers."""

from __future__ import annotations

from . import Mutant

START_POOL = (
    '        app.extensions["task_workers"] = [\n'
    '            asyncio.create_task(worker(), name=f"worker-{n}") for n in range(workers)\n'
    "        ]\n"
)
DRAIN = (
    "    @app.after_serving\n"
    "    async def drain_then_stop() -> None:\n"
    "        # Every task answered with 202 is processed before the workers go: join() waits\n"
    "        # until the queue is empty and the last task is done, then the idle workers\n"
    "        # (waiting in queue.get()) are cancelled and awaited.\n"
    '        await app.extensions["task_queue"].join()\n'
    '        tasks: list[asyncio.Task[None]] = app.extensions.pop("task_workers")\n'
    "        for task in tasks:\n"
    "            task.cancel()\n"
    "        await asyncio.gather(*tasks, return_exceptions=True)\n"
)
JOIN = '        await app.extensions["task_queue"].join()\n'
STOP_WORKERS = (
    "        for task in tasks:\n"
    "            task.cancel()\n"
    "        await asyncio.gather(*tasks, return_exceptions=True)\n"
)
EXCEPT_FAILED = (
    "            except Exception:\n"
    "                # One bad task must not end the worker (the article's worker dies here and\n"
    "                # every later task waits forever). CancelledError is not an Exception, so\n"
    "                # cancelling the worker at shutdown still stops it.\n"
    '                counts["failed"] += 1\n'
    '                app.logger.exception("task %s failed", task_id)\n'
    "            else:\n"
    '                counts["processed"] += 1\n'
)
PUT = '            app.extensions["task_queue"].put_nowait((task_id, payload))\n'
QUEUE_FULL = (
    "        except asyncio.QueueFull:\n"
    "            return (\n"
    '                {"error": "too many tasks are waiting: try again later"},\n'
    "                503,\n"
    '                {"Retry-After": str(RETRY_AFTER_SECONDS)},\n'
    "            )\n"
)
ACCEPTED = '        return {"message": "Task enqueued", "task_id": task_id}, 202\n'
COUNTS = '    counts = {"in_progress": 0, "processed": 0, "failed": 0}\n'
RUN_BATCHES = (
    "        async with asyncio.TaskGroup() as tg:\n"
    "            for batch in batches:\n"
    "                tg.create_task(run(batch))\n"
)
BATCH_LIMITED = '            async with limit:\n                await process({"batch": batch})\n'

MUTANTS = [
    Mutant(
        "08",
        "single_worker",
        (("for n in range(workers)", "for n in range(1)"),),
        {
            "test_workers_in_flight": "Only one worker takes tasks (as in the article)",
            "test_workers_started_when_serving": "1 worker task(s) were running",
            "test_stats_defaults": "With no `workers` argument, 2 workers take tasks at once",
        },
    ),
    Mutant(
        "08",
        "workers_hardcoded_two",
        (("for n in range(workers)", "for n in range(2)"),),
        {"test_workers_in_flight": "2 task(s) ran at once (6 tasks of 2 s, workers=3)"},
    ),
    Mutant(
        "08",
        "worker_dies_on_first_exception",
        ((EXCEPT_FAILED, '                counts["processed"] += 1\n'),),
        {"test_failed_task": "raised, the worker took no other task"},
    ),
    Mutant(
        "08",
        "failure_not_counted",
        (('                counts["failed"] += 1\n', ""),),
        {"test_failed_task": "`failed` counts the tasks whose process_task raised"},
    ),
    Mutant(
        "08",
        "failures_counted_as_processed",
        (
            ('            else:\n                counts["processed"] += 1\n', ""),
            (
                '                counts["in_progress"] -= 1\n',
                '                counts["in_progress"] -= 1\n'
                '                counts["processed"] += 1\n',
            ),
        ),
        {
            "test_stats_exact": "`processed` counted the failed tasks too",
            "test_failed_task": "answered the wrong counts",
        },
    ),
    Mutant(
        "08",
        "queued_counts_running_tasks",
        (('"queued": queue.qsize()', '"queued": queue.qsize() + counts["in_progress"]'),),
        {"test_stats_exact": "`queued` counts the tasks waiting in the queue"},
    ),
    Mutant(
        "08",
        "in_progress_never_decremented",
        (('                counts["in_progress"] -= 1\n', ""),),
        {"test_stats_exact": "GET /queue/stats at 3 s answered the wrong counts"},
    ),
    Mutant(
        "08",
        "default_process_task_ignored",
        (("process = process_task or default_process_task", "process = process_task"),),
        {"test_stats_defaults": "means the given default_process_task, which takes 2 s"},
    ),
    Mutant(
        "08",
        "unbounded_queue",
        (("asyncio.Queue(maxsize)", "asyncio.Queue()"),),
        {"test_full_queue_503": "all 6 tasks were accepted with 202"},
    ),
    Mutant(
        "08",
        "put_waits_for_room",
        ((PUT, '            await app.extensions["task_queue"].put((task_id, payload))\n'),),
        {
            "test_full_queue_503": "#4 of 6 (workers=1, maxsize=2; the worker is busy for 10 s) "
            "had no answer after 5 s",
        },
    ),
    Mutant(
        "08",
        "no_retry_after",
        (('                {"Retry-After": str(RETRY_AFTER_SECONDS)},\n', ""),),
        {"test_full_queue_503": "answered 503 without a Retry-After header"},
    ),
    Mutant(
        "08",
        "drops_oldest_when_full",
        (
            (
                QUEUE_FULL,
                "        except asyncio.QueueFull:\n"
                "            # make room: the oldest waiting task goes\n"
                '            app.extensions["task_queue"].get_nowait()\n'
                '            app.extensions["task_queue"].task_done()\n'
                '            app.extensions["task_queue"].put_nowait((task_id, payload))\n',
            ),
        ),
        {
            "test_full_queue_503": "all 6 tasks were accepted with 202",
            "test_accepted_still_processed": "task(s) answered 202 were never processed",
        },
    ),
    Mutant(
        "08",
        "full_checked_after_put",
        (
            (
                ACCEPTED,
                '        if app.extensions["task_queue"].full():\n'
                '            return {"error": "the queue is full"}, 503, {"Retry-After": "2"}\n'
                + ACCEPTED,
            ),
        ),
        {"test_accepted_still_processed": "task(s) answered 503 were processed anyway"},
    ),
    Mutant(
        "08",
        "processes_in_the_request",
        ((ACCEPTED, "        await process(payload)\n" + ACCEPTED),),
        {"test_enqueue_accepted": "POST /enqueue-task took 2.00 s"},
    ),
    Mutant(
        "08",
        "enqueue_accepts_any_json",
        (("if not isinstance(payload, dict):", "if payload is None:"),),
        {"test_enqueue_rejects_non_object": "POST /enqueue-task with a JSON list answered 202"},
    ),
    Mutant(
        "08",
        "task_id_from_queue_size",
        (
            (
                "task_id = uuid.uuid4().hex",
                'task_id = str(app.extensions["task_queue"].qsize() + 1)',
            ),
        ),
        {"test_enqueue_accepted": "three tasks were given the same task_id"},
    ),
    Mutant(
        "08",
        "article_background_worker_no_drain",
        (
            (
                START_POOL,
                "        for _ in range(workers):\n            app.add_background_task(worker)\n",
            ),
            (DRAIN, ""),
        ),
        {"test_drain_at_shutdown": "BACKGROUND_TASK_SHUTDOWN_TIMEOUT (5 s), then cancels them"},
    ),
    Mutant(
        "08",
        "workers_cancelled_without_drain",
        ((JOIN, ""),),
        {
            "test_drain_at_shutdown": "6 of the 6 tasks answered 202 were not processed",
        },
        avoid={"test_drain_at_shutdown": "BACKGROUND_TASK_SHUTDOWN_TIMEOUT"},
    ),
    Mutant(
        "08",
        "no_drain_at_all",
        ((DRAIN, ""),),
        {"test_drain_at_shutdown": "2 still running when the shutdown had ended; 4 never started"},
    ),
    Mutant(
        "08",
        "task_done_never_called",
        (("                queue.task_done()\n", ""),),
        {
            "test_drain_at_shutdown": "had not finished stopping after 60 s, although all 6",
            "test_workers_stopped": "the app had not finished stopping after 60 s",
        },
    ),
    Mutant(
        "08",
        "task_done_only_in_else",
        (
            (
                '                counts["processed"] += 1\n',
                '                counts["processed"] += 1\n                queue.task_done()\n',
            ),
            (
                "                # queue.join() returns once every get() has had its task_done().\n"
                "                queue.task_done()\n",
                "",
            ),
        ),
        {
            "test_failed_task_marked_done": "1 task never marked done: the one that raised",
        },
    ),
    Mutant(
        "08",
        "enqueue_route_misnamed",
        (('@app.post("/enqueue-task")', '@app.post("/enqueue")'),),
        {"test_enqueue_accepted": "no route of your app matches /enqueue-task\n"},
    ),
    Mutant(
        "08",
        "no_workers_no_drain",
        ((START_POOL, '        app.extensions["task_workers"] = []\n'), (DRAIN, "")),
        {
            "test_workers_stopped": "no worker was running before the shutdown",
            "test_failed_task_marked_done": "process_task never ran",
        },
    ),
    Mutant(
        "08",
        "workers_never_stopped",
        ((STOP_WORKERS, ""),),
        {"test_workers_stopped": "3 task(s) were still running after the app had stopped"},
    ),
    Mutant(
        "08",
        "workers_started_per_request",
        (
            (START_POOL, '        app.extensions["task_workers"] = []\n'),
            (
                ACCEPTED,
                '        app.extensions["task_workers"].append(asyncio.create_task(worker()))\n'
                + ACCEPTED,
            ),
        ),
        {
            "test_workers_started_when_serving": "0 worker task(s) were running",
            "test_workers_in_flight": "4 task(s) ran at once",
        },
    ),
    Mutant(
        "08",
        "extra_worker_per_request",
        (
            (
                ACCEPTED,
                '        app.extensions["task_workers"].append(asyncio.create_task(worker()))\n'
                + ACCEPTED,
            ),
        ),
        {"test_workers_started_when_serving": "10 more task(s) were running after 10 requests"},
    ),
    Mutant(
        "08",
        "workers_started_in_create_app",
        (
            (
                "    @app.before_serving\n    async def start_workers() -> None:\n",
                "    def start_workers() -> None:\n",
            ),
            ("\n    @app.after_serving\n", "\n    start_workers()\n\n    @app.after_serving\n"),
        ),
        {"test_workers_started_when_serving": "create_app() started 3 task(s)"},
    ),
    Mutant(
        "08",
        "queue_shared_by_apps",
        (
            (
                "ProcessTask = Callable",
                "TASK_QUEUE: asyncio.Queue[Any] = asyncio.Queue(100)\nProcessTask = Callable",
            ),
            (
                'app.extensions["task_queue"] = asyncio.Queue(maxsize)',
                'app.extensions["task_queue"] = TASK_QUEUE',
            ),
        ),
        {"test_state_per_app": "process_task ran app"},
    ),
    Mutant(
        "08",
        "counts_shared_by_apps",
        (
            (COUNTS, ""),
            ("ProcessTask = Callable", COUNTS.strip() + "\nProcessTask = Callable"),
        ),
        {"test_state_per_app": "the two apps' counts are not their own"},
    ),
    Mutant(
        "08",
        "batches_one_after_another",
        (
            (
                RUN_BATCHES,
                "        for batch in batches:\n            await run(batch)\n",
            ),
        ),
        {"test_batches_bounded": "1 batch(es) ran at once"},
    ),
    Mutant(
        "08",
        "batches_unbounded",
        ((BATCH_LIMITED, '            await process({"batch": batch})\n'),),
        {"test_batches_bounded": "6 batch(es) ran at once (6 batches of 2 s, batch_concurrency=4"},
    ),
    Mutant(
        "08",
        "batch_bound_is_workers",
        (("asyncio.Semaphore(batch_concurrency)", "asyncio.Semaphore(workers)"),),
        {"test_batches_bounded": "The bound is batch_concurrency, not the number of workers"},
    ),
    Mutant(
        "08",
        "batches_answer_202",
        (
            (
                'return {"processed": len(batches)}, 200',
                'return {"message": "Batches are being processed"}, 202',
            ),
        ),
        {"test_batches_answer": "POST /process-batch answered 202"},
    ),
    Mutant(
        "08",
        "batches_not_awaited",
        (
            (
                RUN_BATCHES,
                "        for batch in batches:\n            app.add_background_task(run, batch)\n",
            ),
        ),
        {
            "test_batches_answer": "answered while 3 of 3 batches were not done",
            "test_batches_bounded": "took 0.00 s",
        },
    ),
    Mutant(
        "08",
        "batches_inner_lists_not_checked",
        ((" or not all(isinstance(b, list) for b in batches)", ""),),
        {"test_batches_rejected": "POST /process-batch with a list of numbers answered 200"},
    ),
]
