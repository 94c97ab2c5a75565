"""Mutants of solutions/ex02: tasks, gather, limits, races, taking turns."""

from __future__ import annotations

from . import Mutant

FETCH_BOTH_BODY = (
    "    async with asyncio.TaskGroup() as tg:\n"
    "        first = tg.create_task(fetch_data_1())\n"
    "        second = tg.create_task(fetch_data_2())\n"
    '    return {"data1": first.result(), "data2": second.result()}\n'
)
GATHER_ALL_BODY = (
    "    async with asyncio.TaskGroup() as tg:\n"
    "        tasks = [tg.create_task(_await(factory)) for factory in factories]\n"
    "    return [task.result() for task in tasks]\n"
)
LIMIT_CHECK = '        raise ValueError(f"limit must be at least 1, got {limit}")\n'
LIMITED_RUN = (
    "    return await gather_all([lambda f=factory: limited(f) for factory in factories])\n"
)
WAIT_FIRST = "done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)\n"
FIRST_CLEANUP = (
    f"    try:\n        {WAIT_FIRST}    finally:\n"
    "        # Runs on success, on failure and when our caller cancels us: no task outlives us.\n"
    "        for task in tasks:\n"
    "            task.cancel()\n"
    "        await asyncio.gather(*tasks, return_exceptions=True)\n"
)
INTERLEAVE_TASKS = (
    "    async with asyncio.TaskGroup() as tg:\n"
    '        tg.create_task(worker("A"))\n'
    '        tg.create_task(worker("B"))\n'
)
INTERLEAVE_EXTEND = (INTERLEAVE_TASKS, '    log.extend(["A0", "B0", "A1", "B1", "A2", "B2"])\n')

MUTANTS = [
    Mutant(
        "02",
        "fetch_data_2_copy_paste",
        (('\n    return "Data 2 fetched!"', '\n    return "Data 1 fetched!"'),),
        {
            "test_fetch_data_1_and_2": "await fetch_data_2() returned the wrong value",
            "test_fetch_both_concurrent": "",
        },
    ),
    Mutant(
        "02",
        "fetch_both_sequential",
        (
            (
                FETCH_BOTH_BODY,
                '    return {"data1": await fetch_data_1(), "data2": await fetch_data_2()}\n',
            ),
        ),
        {"test_fetch_both_concurrent": "took 2.00 s"},
    ),
    Mutant(
        "02",
        "fetch_both_hardcoded",
        (
            (
                '{"data1": first.result(), "data2": second.result()}',
                '{"data1": "Data 1 fetched!", "data2": "Data 2 fetched!"}',
            ),
        ),
        {"test_fetch_both_uses_fetchers": "do not write the strings yourself"},
    ),
    Mutant(
        "02",
        "gather_all_sequential",
        ((GATHER_ALL_BODY, "    return [await factory() for factory in factories]\n"),),
        {"test_gather_all_order": "took 9.50 s", "test_gather_all_failure": ""},
    ),
    Mutant(
        "02",
        "gather_all_plain_gather",
        (
            (
                GATHER_ALL_BODY,
                "    return list(await asyncio.gather(*(factory() for factory in factories)))\n",
            ),
        ),
        {
            "test_gather_all_failure": "returned while other jobs were still running",
            "test_gather_limited_failure": "returned while other jobs were still running",
        },
    ),
    Mutant(
        "02",
        "gather_all_return_exceptions",
        (
            (
                GATHER_ALL_BODY,
                "    awaitables = [factory() for factory in factories]\n"
                "    return list(await asyncio.gather(*awaitables, return_exceptions=True))\n",
            ),
        ),
        {"test_gather_all_failure": "returned the job's exception as one of its results"},
        avoid={"test_gather_all_failure": "Do not swallow the error"},
    ),
    Mutant(
        "02",
        "gather_all_create_task_only",
        (("tg.create_task(_await(factory))", "tg.create_task(factory())"),),
        {"test_gather_all_awaitables": "TypeError: a coroutine was expected"},
    ),
    Mutant(
        "02",
        "gather_all_completion_order",
        (
            (
                GATHER_ALL_BODY,
                "    results = []\n"
                "\n"
                "    async def collect(factory: Factory) -> None:\n"
                "        results.append(await factory())\n"
                "\n"
                "    async with asyncio.TaskGroup() as tg:\n"
                "        for factory in factories:\n"
                "            tg.create_task(collect(factory))\n"
                "    return results\n",
            ),
        ),
        {"test_gather_all_order": "not the order they finish"},
    ),
    Mutant(
        "02",
        "gather_all_asyncio_wait",
        (
            (
                GATHER_ALL_BODY,
                "    tasks = [asyncio.ensure_future(factory()) for factory in factories]\n"
                "    await asyncio.wait(tasks)\n"
                "    return [task.result() for task in tasks]\n",
            ),
        ),
        {
            "test_gather_all_empty": "Set of Tasks/Futures is empty",
            "test_gather_all_failure": "took 3.00 s",
        },
    ),
    Mutant(
        "02",
        "gather_limited_no_limit",
        (
            (
                "        async with semaphore:\n            return await factory()\n",
                "        return await factory()\n",
            ),
        ),
        {"test_gather_limited_timing": "took 1.00 s", "test_gather_limited_peak": "had 10 jobs"},
    ),
    Mutant(
        "02",
        "gather_limited_semaphore_per_job",
        (
            ("    semaphore = asyncio.Semaphore(limit)\n", ""),
            ("async with semaphore:", "async with asyncio.Semaphore(limit):"),
        ),
        {
            "test_gather_limited_timing": "made 10 semaphores, a new one for each job",
            "test_gather_limited_peak": "made 10 semaphores, a new one for each job",
        },
    ),
    Mutant(
        "02",
        "gather_limited_no_validation",
        ((f"    if limit < 1:\n{LIMIT_CHECK}", ""),),
        {"test_gather_limited_bad_limit": "gather_limited(jobs, 0) had not finished after 10 s"},
    ),
    Mutant(
        "02",
        "gather_limited_clamps_limit",
        ((LIMIT_CHECK, "        limit = 1\n"),),
        {"test_gather_limited_bad_limit": "did not raise ValueError"},
    ),
    Mutant(
        "02",
        "gather_limited_awaits_each",
        ((LIMITED_RUN, "    return [await limited(factory) for factory in factories]\n"),),
        {
            "test_gather_limited_timing": "took 10.00 s",
            "test_gather_limited_peak": "had 1 jobs in flight",
            "test_gather_limited_large_limit": "took 4.00 s",
        },
    ),
    Mutant(
        "02",
        "gather_limited_plain_gather",
        (
            (
                LIMITED_RUN,
                "    return list(await asyncio.gather(*(limited(f) for f in factories)))\n",
            ),
        ),
        {"test_gather_limited_failure": "returned while other jobs were still running"},
    ),
    Mutant(
        "02",
        "gather_limited_chunks",
        (
            (
                LIMITED_RUN,
                "    results = []\n"
                "    for start in range(0, len(factories), limit):\n"
                "        results += await gather_all(factories[start : start + limit])\n"
                "    return results\n",
            ),
        ),
        # Batch after batch, each waiting for its slowest job: 7 jobs of
        # [0.5, 1.5, 1, 2, 0.5, 1, 0.25] s with limit 4 take 3 s instead of 2 s.
        {"test_gather_limited_no_batches": "expected: 2.00 s"},
    ),
    Mutant(
        "02",
        "gather_limited_late_binding_lambda",
        (
            (
                LIMITED_RUN,
                LIMITED_RUN.replace("lambda f=factory: limited(f)", "lambda: limited(factory)"),
            ),
        ),
        {
            "test_gather_limited_timing": "every factory ran the same job, job 9, 10 times",
            "test_gather_limited_no_batches": "does not keep the value",
        },
        avoid={"test_gather_limited_timing": "Keep the results in the order"},
    ),
    Mutant(
        "02",
        "gather_limited_calls_every_factory_first",
        (
            (
                LIMITED_RUN,
                "    started = [factory() for factory in factories]\n"
                "    return await gather_all([lambda a=a: limited(lambda: a) for a in started])\n",
            ),
        ),
        {"test_gather_limited_calls_factories_late": "had 6 jobs in flight at once"},
    ),
    Mutant(
        "02",
        "first_completed_no_cancel",
        ((FIRST_CLEANUP, f"    {WAIT_FIRST}"),),
        {"test_first_completed_cleanup": "still running: job 0 (running), job 2 (running)"},
    ),
    Mutant(
        "02",
        "first_completed_cleanup_not_in_finally",
        (
            (
                FIRST_CLEANUP,
                f"    {WAIT_FIRST}"
                "    for task in tasks:\n"
                "        task.cancel()\n"
                "    await asyncio.gather(*tasks, return_exceptions=True)\n",
            ),
        ),
        {"test_first_completed_cancelled": "left its jobs running"},
    ),
    Mutant(
        "02",
        "first_completed_no_wait_after_cancel",
        (("        await asyncio.gather(*tasks, return_exceptions=True)\n", ""),),
        {"test_first_completed_cleanup": "still running: job 0 (running), job 2 (running)"},
    ),
    Mutant(
        "02",
        "first_completed_all_completed",
        ((", return_when=asyncio.FIRST_COMPLETED", ""),),
        {
            "test_first_completed_result": "got:      'result 0'",
            "test_first_completed_cleanup": "let the slower jobs run to the end",
        },
    ),
    Mutant(
        "02",
        "interleave_hardcoded",
        (INTERLEAVE_EXTEND,),
        {"test_interleave_tasks": "interleave wrote the entries itself"},
    ),
    Mutant(
        "02",
        "interleave_one_task",
        (
            ('log.append(f"{prefix}{i}")', 'log.append(f"A{i}")\n            log.append(f"B{i}")'),
            ('        tg.create_task(worker("B"))\n', ""),
        ),
        {"test_interleave_tasks": "not written by two tasks of their own"},
    ),
    Mutant(
        "02",
        "interleave_no_yield",
        (("            await asyncio.sleep(0)\n", ""),),
        {"test_interleave": "['A0', 'A1', 'A2', 'B0', 'B1', 'B2']"},
    ),
    Mutant(
        "02",
        "interleave_fire_and_forget",
        (
            (
                INTERLEAVE_TASKS,
                '    asyncio.create_task(worker("A"))\n    asyncio.create_task(worker("B"))\n',
            ),
        ),
        {"test_interleave": "got:      []", "test_interleave_tasks": ""},
    ),
    Mutant(
        "02",
        "interleave_yields_instead_of_waiting",
        (
            (
                INTERLEAVE_TASKS,
                '    asyncio.create_task(worker("A"))\n'
                '    asyncio.create_task(worker("B"))\n'
                "    for _ in range(3):\n"
                "        await asyncio.sleep(0)\n",
            ),
        ),
        # The log comes out right, but both tasks still have a step to run.
        {"test_interleave_tasks": "interleave returned while its tasks were still running"},
    ),
]
