"""Mutants of solutions/ex10: aiomcache against the grader's real memcached."""

from __future__ import annotations

from . import Mutant

GUARDED = (
    "        try:\n"
    "            async with asyncio.timeout(CACHE_TIMEOUT):\n"
    "                return await operation(cache)\n"
    "        except Exception as error:  # refused, timed out, an error reply: all the same here\n"
)
LOAD = (
    "        task = loading.get(user_id)\n"
    "        if task is None:\n"
    "            # The first miss starts the load; the others find it here and wait for it.\n"
    "            task = asyncio.create_task(fill(user_id))\n"
    "            loading[user_id] = task\n"
    "            task.add_done_callback(lambda done: loading.pop(user_id, None))\n"
    "        # shield: a client that gives up cancels its own wait, not the load the others"
    " share.\n"
    "        return await asyncio.shield(task)\n"
)
DELETE = '        await cached("delete", lambda cache: cache.delete(cache_key(user_id)))\n'
MISS = (
    '        stats["misses"] += 1\n'
    "        user = await load(user_id)\n"
    "        if user is None:\n"
    '            return {"error": f"no user {user_id}"}, 404\n'
)

MUTANTS = [
    Mutant(
        "10",
        "shared_load_not_shielded",
        (("        return await asyncio.shield(task)\n", "        return await task\n"),),
        {
            "test_cancelled_request_keeps_load": "2 of the 2 other requests lost their answer "
            "when the first one gave up",
        },
    ),
    Mutant(
        "10",
        "str_key",
        (('    return f"user:{user_id}".encode()\n', '    return f"user:{user_id}"\n'),),
        {
            "test_miss_fills_cache": "memcached has no entry under b'user:",
            "test_hit_skips_store": "answered the wrong JSON",
        },
    ),
    Mutant(
        "10",
        "value_not_json",
        (
            (
                "            value = json.dumps(user).encode()\n",
                "            value = str(user).encode()\n",
            ),
        ),
        {"test_miss_fills_cache": "is not JSON"},
    ),
    Mutant(
        "10",
        "no_exptime",
        (
            (
                "cache.set(cache_key(user_id), value, exptime=ttl)",
                "cache.set(cache_key(user_id), value)",
            ),
        ),
        {"test_exptime_is_ttl": "got:      never expires"},
    ),
    Mutant(
        "10",
        "exptime_hard_coded",
        (("value, exptime=ttl)", "value, exptime=60)"),),
        {"test_exptime_is_ttl": "With ttl=37, the cached entry does not expire after 37 s"},
    ),
    Mutant(
        "10",
        "cache_never_read",
        (
            (
                '        value = await cached("get", lambda cache: '
                "cache.get(cache_key(user_id)))\n",
                "        value = None\n",
            ),
        ),
        {"test_hit_skips_store": "answered the wrong JSON"},
    ),
    Mutant(
        "10",
        "not_found_cached",
        (
            (
                "        if user is not None:  # a missing user is not cached: it may be created"
                " later\n",
                "        if True:\n",
            ),
        ),
        {"test_missing_not_cached": "answered 500"},
    ),
    Mutant(
        "10",
        "thundering_herd",
        ((LOAD, "        return await fill(user_id)\n"),),
        {"test_concurrent_misses_one_call": "the store was called 20 time(s)"},
    ),
    Mutant(
        "10",
        "one_lock_for_all_users",
        (
            (
                "    loading: dict[int, asyncio.Task[dict[str, Any] | None]] = {}\n",
                "    lock = asyncio.Lock()\n",
            ),
            (
                LOAD,
                "        async with lock:\n"
                '            value = await cached("get", lambda cache: '
                "cache.get(cache_key(user_id)))\n"
                "            if value is not None:\n"
                "                return json.loads(value)\n"
                "            return await fill(user_id)\n",
            ),
        ),
        {"test_different_users_concurrent": "Loads of different users waited for each other"},
    ),
    Mutant(
        "10",
        "put_keeps_the_entry",
        ((DELETE, ""),),
        {"test_put_invalidates": "memcached still holds the old user"},
    ),
    Mutant(
        "10",
        "put_rewrites_the_entry",
        (
            (
                DELETE,
                "        await cached(\n"
                '            "set",\n'
                "            lambda cache: cache.set(\n"
                "                cache_key(user_id), json.dumps(user).encode(), exptime=ttl\n"
                "            ),\n"
                "        )\n",
            ),
        ),
        {"test_put_invalidates": "the entry was rewritten instead of deleted"},
    ),
    Mutant(
        "10",
        "put_accepts_anything",
        (('not isinstance(fields, dict) or not fields or "id" in fields', "fields is None"),),
        {"test_put_invalid": "(a list) answered"},
    ),
    Mutant(
        "10",
        "cache_errors_not_caught",
        (
            (
                GUARDED,
                "        try:\n"
                "            async with asyncio.timeout(CACHE_TIMEOUT):\n"
                "                return await operation(cache)\n"
                "        except TimeoutError as error:\n",
            ),
        ),
        {
            "test_memcached_down": "(memcached down: nothing listens on its port) answered 500",
            "test_memcached_broken": "which answers SERVER_ERROR to every command) answered 500",
        },
    ),
    Mutant(
        "10",
        "no_cache_timeout",
        (
            (
                GUARDED,
                "        try:\n"
                "            return await operation(cache)\n"
                "        except Exception as error:\n",
            ),
        ),
        {
            "test_memcached_broken": "had not finished after 30 s of event-loop time (the "
            "grader's stand-in memcached, which accepts connections, never answers)"
        },
    ),
    Mutant(
        "10",
        "failure_logged_as_info",
        (("            app.logger.warning(", "            app.logger.info("),),
        {"test_memcached_down": "the app answered but logged no warning"},
    ),
    Mutant(
        "10",
        "missing_user_not_a_miss",
        (
            (
                MISS,
                "        user = await load(user_id)\n"
                "        if user is None:\n"
                '            return {"error": f"no user {user_id}"}, 404\n'
                '        stats["misses"] += 1\n',
            ),
        ),
        {"test_cache_stats": "GET /cache/stats has the wrong counts"},
    ),
]
