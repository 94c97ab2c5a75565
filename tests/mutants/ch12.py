"""Mutants of solutions/ex12: timeouts and cancellation."""

from __future__ import annotations

from . import Mutant

FETCH_DEADLINE = (
    "    deadline = asyncio.timeout(timeout)\n"
    "    try:\n"
    "        # At the deadline, asyncio.timeout cancels what the block awaits: a CancelledError\n"
    "        # arrives inside fetch(), whose except and finally blocks run, and only once they\n"
    "        # have finished does the block end with TimeoutError. So the fetch has cleaned up\n"
    "        # before we return None.\n"
    "        async with deadline:\n"
    "            return await fetch()\n"
    "    except TimeoutError:\n"
    "        if deadline.expired():\n"
    "            return None\n"
    "        # A TimeoutError of the fetch's own (an inner deadline) is its failure, not ours.\n"
    "        raise\n"
)
# The article's fetch_data_with_timeout, wait_for and all, passes these checks: wait_for
# cancels the fetch and waits for it before it raises. Its None is the contract's; its
# `print` is not checked. What goes wrong is returning None without that wait, as wait_for
# itself did before Python 3.7 (bpo-32751): the fetch cancelled late, or not at all.
FETCH_WAIT = (
    "    task = asyncio.ensure_future(fetch())\n"
    "    done, _ = await asyncio.wait([task], timeout=timeout)\n"
    "    if task in done:\n"
    "        return task.result()\n"
)
FETCH_EXCEPT = (
    "    except TimeoutError:\n"  # the deadline's TimeoutError becomes None
    "        if deadline.expired():\n"
    "            return None\n"
)
RACE_WAIT = (
    "        async with asyncio.timeout(timeout):\n"
    "            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)\n"
)
RACE_CLEANUP = (
    "        for task in tasks:\n"
    "            task.cancel()\n"
    "        # cancel() is only a request: wait until every loser has run its cleanup. gather\n"
    "        # with return_exceptions keeps their CancelledErrors from being raised here.\n"
    "        await asyncio.gather(*tasks, return_exceptions=True)\n"
)
RESOURCE_WORK = (
    "    try:\n"
    "        return await work(resource)\n"
    "    finally:\n"
    "        # `finally`, not `except Exception`: CancelledError is a BaseException, so an\n"
    "        # `except Exception` never sees a cancellation. And no `except` at all: whatever\n"
    "        # ended the work (an error, a cancellation) carries on once the resource is back.\n"
    "        await release(resource)\n"
)
SAVE_BODY = (
    "    saving = asyncio.ensure_future(commit())\n"
    "    try:\n"
    "        return await asyncio.shield(saving)\n"
)
ROUTE_DEADLINE = (
    "        deadline = asyncio.timeout(seconds)\n"
    "        try:\n"
    "            async with deadline:\n"
    "                result = await get_data()\n"
    "        except TimeoutError:\n"
    "            if not deadline.expired():\n"
    "                raise\n"
    '            return {"error": f"no data within {seconds:g} s"}, 504\n'
)

MUTANTS = [
    # --- task 1: fetch_with_timeout
    Mutant(
        "12",
        "fetch_cancelled_but_not_awaited",
        ((FETCH_DEADLINE, FETCH_WAIT + "    task.cancel()\n    return None\n"),),
        {
            "test_fetch_cleaned_up": "the fetch had not finished when fetch_with_timeout",
            "test_fetch_caller_cancelled": "the fetch was still running when the cancelled",
        },
    ),
    Mutant(
        "12",
        "fetch_never_cancelled",
        ((FETCH_DEADLINE, FETCH_WAIT + "    return None\n"),),
        {"test_fetch_cleaned_up": "Nothing cancelled the fetch"},
    ),
    Mutant(
        "12",
        "fetch_errors_become_none",  # the article's `except Exception` habit
        (
            (
                "        raise\n    # No `except Exception`",
                "        raise\n"
                "    except Exception:\n"
                "        return None\n"
                "    # No `except Exception`",
            ),
        ),
        {"test_fetch_error_propagates": "returned when the fetch failed"},
    ),
    Mutant(
        "12",
        "fetch_swallows_cancellation",
        (
            (
                FETCH_EXCEPT,
                "    except (TimeoutError, asyncio.CancelledError):\n"
                "        if deadline.expired():\n"
                "            return None\n"
                "        return None\n",
            ),
        ),
        {"test_fetch_caller_cancelled": "swallowed the cancellation"},
    ),
    Mutant(
        "12",
        "fetch_timeout_raised",
        (
            (
                FETCH_EXCEPT,
                FETCH_EXCEPT.replace("TimeoutError", "ValueError"),
            ),
        ),
        {"test_fetch_too_slow": "raised TimeoutError instead of returning None"},
    ),
    Mutant(
        "12",
        "fetch_timeout_hardcoded",
        (("    deadline = asyncio.timeout(timeout)\n", "    deadline = asyncio.timeout(5.0)\n"),),
        {"test_fetch_too_slow": "fetch_with_timeout(fetch, 2.0) (fetch takes 10 s) took 5.00 s"},
    ),
    Mutant(
        "12",
        "fetch_result_dropped",
        (("            return await fetch()\n", "            await fetch()\n"),),
        {"test_fetch_in_time": "(fetch, 5.0) (fetch takes 1 s) returned the wrong value"},
    ),
    # --- task 2: race
    Mutant(
        "12",
        "race_losers_left_running",
        ((RACE_CLEANUP, "        pass\n"),),
        {
            "test_race_losers_cancelled": "Nothing cancelled job 0, job 2",
            "test_race_timeout": "were still running when race",
        },
    ),
    Mutant(
        "12",
        "race_cancel_not_awaited",
        ((RACE_CLEANUP, "        for task in tasks:\n            task.cancel()\n"),),
        {
            "test_race_losers_cancelled": "cancel() is only a request",
            "test_race_timeout": "had not finished when race",
        },
    ),
    Mutant(
        "12",
        "race_waits_for_all",
        (("return_when=asyncio.FIRST_COMPLETED", "return_when=asyncio.ALL_COMPLETED"),),
        {"test_race_first": "returned after 3.00 s"},
    ),
    Mutant(
        "12",
        "race_staggered",
        (
            (
                "    tasks = [asyncio.ensure_future(factory()) for factory in factories]\n",
                "    tasks = []\n"
                "    for factory in factories:\n"
                "        tasks.append(asyncio.ensure_future(factory()))\n"
                "        await asyncio.sleep(0.5)\n",
            ),
        ),
        {"test_race_first": "did not start every job at once"},
    ),
    Mutant(
        "12",
        "race_timeout_returns_none",
        (
            (
                RACE_WAIT,
                "        done, _ = await asyncio.wait(\n"
                "            tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED\n"
                "        )\n"
                "        if not done:\n"
                "            return None\n",
            ),
        ),
        {"test_race_timeout": "race([job 0: 5 s, job 1: 6 s, job 2: 7 s], timeout=2) returned"},
    ),
    # --- task 3: with_resource
    Mutant(
        "12",
        "release_in_except_exception",
        (
            (
                RESOURCE_WORK,
                "    try:\n"
                "        result = await work(resource)\n"
                "    except Exception:\n"
                "        await release(resource)\n"
                "        raise\n"
                "    await release(resource)\n"
                "    return result\n",
            ),
        ),
        {"test_resource_released_on_cancel": "never released the resource"},
    ),
    Mutant(
        "12",
        "cancellation_swallowed",
        (
            (
                RESOURCE_WORK,
                "    try:\n"
                "        return await work(resource)\n"
                "    except asyncio.CancelledError:\n"
                "        pass  # released below\n"
                "    finally:\n"
                "        await release(resource)\n",
            ),
        ),
        {"test_resource_cancel_propagates": "swallowed the cancellation"},
    ),
    Mutant(
        "12",
        "release_not_awaited",
        (
            (
                "        await release(resource)\n",
                "        asyncio.ensure_future(release(resource))\n",
            ),
        ),
        {
            "test_resource_success": "Await the release",
            "test_resource_failure": "the resource was not released when with_resource",
        },
    ),
    Mutant(
        "12",
        "acquire_inside_try",
        (
            (
                "    resource = await acquire()\n    try:\n",
                "    try:\n        resource = await acquire()\n",
            ),
        ),
        {"test_resource_acquire_fails": "raised UnboundLocalError instead of acquire's"},
    ),
    # --- task 4: save_then_reply
    Mutant(
        "12",
        "commit_not_shielded",
        (
            (SAVE_BODY, "    try:\n        return await commit()\n"),
            ("        await asyncio.wait([saving])\n", ""),
        ),
        {"test_save_survives_cancel": "cancelled the commit too"},
    ),
    Mutant(
        "12",
        "shield_not_awaited",
        (
            (
                "        return await asyncio.shield(saving)\n",
                "        return asyncio.shield(saving)\n",
            ),
        ),
        {
            "test_save_result": "returned an awaitable, not the commit's result",
            "test_save_cancel_seen": "before the caller was cancelled at 0.5 s",
        },
    ),
    Mutant(
        "12",
        "cancellation_swallowed_after_commit",
        (
            (
                "        await asyncio.wait([saving])\n        raise\n",
                "        return await saving\n",
            ),
        ),
        {"test_save_cancel_seen": "swallowed the cancellation"},
    ),
    # --- task 5: the app
    Mutant(
        "12",
        "data_not_wrapped",  # the article's route answers the fetched value as it is
        (
            ('        return {"data": result}\n', "        return jsonify(result)\n"),
            (
                "import Quart, ResponseReturnValue, request",
                "import Quart, ResponseReturnValue, jsonify, request",
            ),
        ),
        {"test_data_ok": "GET /data answered the wrong JSON"},
    ),
    Mutant(
        "12",
        "route_uses_fetch_with_timeout",
        (
            (
                ROUTE_DEADLINE,
                "        result = await fetch_with_timeout(get_data, seconds)\n"
                "        if result is None:\n"
                '            return {"error": f"no data within {seconds:g} s"}, 504\n',
            ),
        ),
        {"test_data_none_is_data": "answered 504"},
    ),
    Mutant(
        "12",
        "route_without_deadline",
        ((ROUTE_DEADLINE, "        result = await get_data()\n"),),
        {"test_data_504": "answered after 10.00 s"},
    ),
    Mutant(
        "12",
        "route_leaves_fetch_running",
        (
            (
                ROUTE_DEADLINE,
                "        task = asyncio.ensure_future(get_data())\n"
                "        done, _ = await asyncio.wait([task], timeout=seconds)\n"
                "        if not done:\n"
                '            return {"error": f"no data within {seconds:g} s"}, 504\n'
                "        result = task.result()\n",
            ),
        ),
        {"test_data_504_cancels": "the fetch was still running when GET /data answered 504"},
    ),
    Mutant(
        "12",
        "override_ignored",
        (('deadline_from(request.args.get("timeout"))', "deadline_from(None)"),),
        {"test_timeout_override": "GET /data?timeout=1.5 (create_app(), the fetch takes 10 s"},
    ),
    Mutant(
        "12",
        "thirty_refused",
        (("0 < seconds <= MAX_TIMEOUT", "0 < seconds < MAX_TIMEOUT"),),
        {"test_timeout_override": "GET /data?timeout=30 (create_app(), the fetch takes 20 s"},
    ),
    Mutant(
        "12",
        "nan_let_through",
        (
            (
                "return seconds if 0 < seconds <= MAX_TIMEOUT else None",
                "return None if seconds <= 0 or seconds > MAX_TIMEOUT else seconds",
            ),
        ),
        {"test_timeout_invalid": "every comparison with NaN is False"},
    ),
    Mutant(
        "12",
        "non_numbers_ignored",
        (('request.args.get("timeout")', 'request.args.get("timeout", type=float)'),),
        {"test_timeout_invalid": "GET /data?timeout=abc answered 200"},
    ),
    Mutant(
        "12",
        "negative_allowed",
        (("0 < seconds <= MAX_TIMEOUT", "seconds <= MAX_TIMEOUT"),),
        {"test_timeout_invalid": "GET /data?timeout=0 answered"},
    ),
]
