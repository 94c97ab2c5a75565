"""Mutants of solutions/ex01: fetch_data, fetch_sequential, run_sync."""

from __future__ import annotations

from . import Mutant

SEQUENTIAL_BODY = "    return [await fetch_data(delay) for delay in delays]\n"
RUN_SYNC_BODY = "    return asyncio.run(fetch_data(delay))\n"

MUTANTS = [
    Mutant(
        "01",
        "fetch_data_time_sleep",
        (
            ("await asyncio.sleep(delay)", "time.sleep(delay)"),
            ("import asyncio\n", "import asyncio\nimport time\n"),
        ),
        {
            "test_fetch_data_default": "ex01_coroutines.py, line {line}: time.sleep(delay)",
            "test_fetch_data_delay": "A blocking call (time.sleep) froze the event loop",
            "test_fetch_data_does_not_block": "A blocking call (time.sleep)",
            "test_sequential_timing": "A blocking call (time.sleep)",
        },
    ),
    Mutant(
        "01",
        "fetch_data_fixed_2s",
        (("await asyncio.sleep(delay)", "await asyncio.sleep(2)"),),
        {
            "test_fetch_data_delay": "fetch_data(0.5) took 2.00 s",
            "test_sequential_timing": "took 6.00 s",
        },
    ),
    Mutant(
        "01",
        "fetch_data_wrong_text",
        (('\n    return "Data fetched!"', '\n    return "Data fetched"'),),
        {
            "test_fetch_data_default": "'Data fetched'",
            "test_fetch_data_delay": "'Data fetched'",
            "test_sequential_timing": "'Data fetched'",
            "test_run_sync_result": "'Data fetched'",
        },
    ),
    Mutant(
        "01",
        "sequential_with_gather",
        (
            (
                SEQUENTIAL_BODY,
                "    return list(await asyncio.gather(*(fetch_data(d) for d in delays)))\n",
            ),
        ),
        {"test_sequential_order": "overlap", "test_sequential_timing": "took 2.00 s"},
    ),
    Mutant(
        "01",
        "sequential_reversed",
        (("for delay in delays]", "for delay in reversed(delays)]"),),
        {"test_sequential_order": "called with [0.2, 0.1, 0.3]"},
    ),
    Mutant(
        "01",
        "sequential_missing_await",
        (("[await fetch_data(delay)", "[fetch_data(delay)"),),
        {"test_sequential_order": "never awaited", "test_sequential_timing": "never awaited"},
    ),
    Mutant(
        "01",
        "sequential_return_in_loop",
        (
            (
                SEQUENTIAL_BODY,
                "    results = []\n"
                "    for delay in delays:\n"
                "        results.append(await fetch_data(delay))\n"
                "        return results\n",
            ),
        ),
        {
            "test_sequential_order": "called with [0.3]",
            "test_sequential_timing": "",
            "test_sequential_empty": "got:      None",
        },
    ),
    Mutant(
        "01",
        "run_sync_get_event_loop",
        (
            (
                RUN_SYNC_BODY,
                "    return asyncio.get_event_loop().run_until_complete(fetch_data(delay))\n",
            ),
        ),
        # Python 3.11 raises RuntimeError (no current event loop) in a fresh thread; where
        # it hands back a loop instead, the loop is reused and never closed.
        {"test_run_sync_new_loop": ""},
    ),
    Mutant(
        "01",
        "run_sync_loop_not_closed",
        (
            (
                RUN_SYNC_BODY,
                "    loop = asyncio.new_event_loop()\n"
                "    return loop.run_until_complete(fetch_data(delay))\n",
            ),
        ),
        {"test_run_sync_new_loop": "run_sync left its event loop open"},
    ),
    Mutant(
        "01",
        "run_sync_shared_loop",
        (
            (RUN_SYNC_BODY, "    return LOOP.run_until_complete(fetch_data(delay))\n"),
            ("\n\ndef run_sync(", "\n\nLOOP = asyncio.new_event_loop()\n\n\ndef run_sync("),
        ),
        {"test_run_sync_new_loop": "run_sync reused the same event loop"},
    ),
    Mutant(
        "01",
        "run_sync_copies_body",
        (
            (
                RUN_SYNC_BODY,
                "    async def body() -> str:\n"
                "        await asyncio.sleep(delay)\n"
                '        return "Data fetched!"\n'
                "\n"
                "    return asyncio.run(body())\n",
            ),
        ),
        {"test_run_sync_new_loop": "fetch_data called with nothing"},
    ),
    Mutant(
        "01",
        "run_sync_forgets_return",
        ((RUN_SYNC_BODY, "    asyncio.run(fetch_data(delay))\n"),),
        {"test_run_sync_result": "got:      None", "test_run_sync_new_loop": "[None, None]"},
    ),
]
