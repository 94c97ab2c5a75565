"""Mutants of solutions/ex04: concurrency inside routes."""

from __future__ import annotations

from . import HTTP_HANDLER, Mutant

GATHER_04 = "        data1, data2 = await asyncio.gather(fetch_data_1(), fetch_data_2())\n"
RESULTS_04 = '        return {"results": results, "count": len(items)}\n'
PROCESS_RUN = (
    "        async with asyncio.TaskGroup() as tg:\n"
    "            tasks = [tg.create_task(limited(item)) for item in items]\n"
    "        # 200, not the article's 202: the work is done when we answer.\n"
    '        return {"results": [task.result() for task in tasks], "count": len(items)}\n'
)
PROCESS_ONE = "                return await process_item(item, item_delay)\n"
TOO_MANY_CHECK = (
    "        # Refuse oversized work before starting any of it.\n"
    "        if len(items) > MAX_ITEMS:\n"
    '            return {"error": f"at most {MAX_ITEMS} items per request, got {len(items)}"}'
    ", 413\n"
)

MUTANTS = [
    Mutant(
        "04",
        "multiple_data_sequential",
        (
            (
                GATHER_04,
                "        data1 = await fetch_data_1()\n        data2 = await fetch_data_2()\n",
            ),
        ),
        {"test_multiple_data": "took 2.00 s"},
    ),
    Mutant(
        "04",
        "multiple_data_holds_a_lock",
        (
            (GATHER_04, "        async with LOCK:\n    " + GATHER_04),
            ("\n\ndef create_app(", "\n\nLOCK = asyncio.Lock()\n\n\ndef create_app("),
        ),
        {"test_requests_concurrent": "two simultaneous GET /multiple-data took 2.00 s"},
    ),
    Mutant(
        "04",
        "multiple_data_hardcoded",
        (
            (GATHER_04, "        await asyncio.sleep(1)\n"),
            (
                '{"data1": data1, "data2": data2}',
                '{"data1": "Data 1 fetched!", "data2": "Data 2 fetched!"}',
            ),
        ),
        {"test_multiple_data_uses_fetchers": "do not write the strings"},
    ),
    Mutant(
        "04",
        "process_data_sequential",
        (
            (
                PROCESS_RUN,
                "        results = [await process_item(item, item_delay) for item in items]\n"
                + RESULTS_04,
            ),
        ),
        {
            "test_process_data_concurrent": "took 4.00 s",
            "test_process_data_limit_timing": "took 12.50 s",
            "test_process_data_peak": "had 1 in flight",
            "test_process_data_no_batches": "took 6.75 s",
        },
    ),
    Mutant(
        "04",
        "process_data_no_semaphore",
        (("            async with semaphore:\n" + PROCESS_ONE, PROCESS_ONE[4:]),),
        {
            "test_process_data_limit_timing": "took 0.50 s",
            "test_process_data_peak": "had 25 in flight",
        },
    ),
    Mutant(
        "04",
        "process_data_semaphore_per_item",
        (
            ("        semaphore = asyncio.Semaphore(max_concurrency)\n", ""),
            ("async with semaphore:", "async with asyncio.Semaphore(max_concurrency):"),
        ),
        {
            "test_process_data_limit_timing": "took 0.50 s",
            "test_process_data_peak": "the route made 25 semaphores, a new one for each item",
        },
    ),
    Mutant(
        "04",
        "process_data_batches",
        (
            (
                PROCESS_RUN,
                "        results = []\n"
                "        for start in range(0, len(items), max_concurrency):\n"
                "            batch = items[start : start + max_concurrency]\n"
                "            results += await asyncio.gather(\n"
                "                *(process_item(item, item_delay) for item in batch)\n"
                "            )\n" + RESULTS_04,
            ),
        ),
        {"test_process_data_no_batches": "took 3.00 s"},
    ),
    Mutant(
        "04",
        "process_item_inline",
        (
            (
                PROCESS_ONE,
                "                await asyncio.sleep(item_delay)\n"
                "                return str(item).upper()\n",
            ),
        ),
        {
            "test_process_data_results": "'results': ['A', '1', 'NONE'",
            "test_process_data_peak": "never called process_item",
        },
        avoid={"test_process_data_peak": "Hold an asyncio.Semaphore"},
    ),
    Mutant(
        "04",
        "process_item_default_delay",
        (("process_item(item, item_delay)", "process_item(item, 0.5)"),),
        {
            "test_process_data_results": "process_item was not called with item_delay",
            "test_process_data_limit_timing": "7 items of 0.2 s with max_concurrency=3 took 1.50 s",
        },
    ),
    Mutant(
        "04",
        "process_data_completion_order",
        (
            (PROCESS_ONE, "                results.append(await process_item(item, item_delay))\n"),
            (
                "        async def limited(item: Any) -> str:\n",
                "        results: list[str] = []\n"
                "\n"
                "        async def limited(item: Any) -> None:\n",
            ),
            ("[task.result() for task in tasks]", "results"),
        ),
        {"test_process_data_results": "POST /process-data answered the wrong JSON"},
    ),
    Mutant(
        "04",
        "too_many_after_processing",
        (
            (TOO_MANY_CHECK, ""),
            (
                "        # 200, not the article's 202: the work is done when we answer.\n",
                "        if len(items) > MAX_ITEMS:\n"
                '            return {"error": "too many items"}, 413\n',
            ),
        ),
        {"test_process_data_too_many": "POST /process-data had not finished after 10 s"},
        avoid={"test_process_data_too_many": "semaphore of 0"},
    ),
    Mutant(
        "04",
        "no_too_many",
        ((TOO_MANY_CHECK, ""),),
        {"test_process_data_too_many": "POST /process-data had not finished after 10 s"},
        avoid={"test_process_data_too_many": "semaphore of 0"},
    ),
    Mutant(
        "04",
        "too_many_off_by_one",
        (("len(items) > MAX_ITEMS", "len(items) >= MAX_ITEMS"),),
        {"test_process_data_too_many": "exactly 1000 items were refused"},
    ),
    Mutant(
        "04",
        "items_not_a_list",
        (("if not isinstance(items, list):", "if items is None:"),),
        {"test_process_data_bad_body": 'POST /process-data with {"items": "abc"} answered 200'},
    ),
    Mutant(
        "04",
        "no_http_error_handler",
        ((HTTP_HANDLER, ""),),
        {"test_json_errors": "GET /nope answered 500"},
    ),
    Mutant(
        "04",
        "process_data_answers_202",
        (('"count": len(items)}\n', '"count": len(items)}, 202\n'),),
        {"test_process_data_results": "202 Accepted means"},
        avoid={"test_process_data_results": "Call process_item"},
    ),
    # A Flask habit: request.json is a coroutine in Quart, and `await` binds last.
    Mutant(
        "04",
        "await_binds_after_the_attribute",
        (
            (
                "        body = await request.get_json(silent=True)\n"
                '        items = body.get("items") if isinstance(body, dict) else None\n',
                '        items = await request.json.get("items")\n',
            ),
        ),
        {
            "test_process_data_results": "because your code raised AttributeError: "
            "'coroutine' object has no attribute 'get'",
            "test_process_data_peak": "ex04_concurrent_routes.py, line {line}: "
            'items = await request.json.get("items")',
            "test_process_data_no_batches": "AttributeError",
        },
        avoid={
            "test_process_data_peak": "processed some other way",
            "test_process_data_no_batches": "Batches of 4",
        },
    ),
    Mutant(
        "04",
        "http_error_drops_allow",
        (("error.code or 500, headers", "error.code or 500"),),
        {"test_method_not_allowed_allow": "answered 405 without saying which methods"},
    ),
]
