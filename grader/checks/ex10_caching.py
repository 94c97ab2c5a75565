"""Checks for chapter 10: cache-aside on a real memcached (key user:<id>, a JSON value,
exptime = ttl), hits that never reach the store, no caching of a 404, one store call for
concurrent misses, invalidation on PUT, a memcached that is down or broken costing only
speed (200 from the store, a warning, never a 500), and exact stats.

The checks read memcached with the grader's own client (grader.lab.cache.MemcachedProbe).
The checks that talk to the real server run inside `real_time()` (grader/lab/realtime.py):
the loop's clock follows the real one while memcached works, so the app's own timeout
around a cache call never fires early. The check with a silent server runs in virtual
time: that server is in this process, and its silence is exact.
"""

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from grader.lab import Learner, Stopwatch, check, fail, show
from grader.lab.cache import FakeMemcached, MemcachedProbe, StoreSpy
from grader.lab.feedback import CheckFailed
from grader.lab.outbox import recorded_logs
from grader.lab.realtime import real_time
from grader.lab.services import ServiceUnavailable, closed_port, memcached_address
from grader.lab.web import Reply, build_app, call, expect_json, expect_json_error, serving

CACHE_ASIDE_HINT = (
    "On a miss: `user = await store.get_user(user_id)`, then "
    "`await cache.set(cache_key(user_id), json.dumps(user).encode(), exptime=ttl)`. On a "
    "hit: `json.loads(value)`, without calling the store."
)
DEGRADE_HINT = (
    "Wrap every cache call: `try: async with asyncio.timeout(CACHE_TIMEOUT): value = await "
    "cache.get(key)` / `except Exception as error: app.logger.warning(...)` and go on as if "
    "it were a miss. The cache makes answers faster; it must never make them fail."
)


@pytest.fixture(autouse=True)
def quiet_log() -> Iterator[None]:
    """The app's log goes nowhere unless a check records it (see chapter 09's checks)."""
    root = logging.getLogger()
    handler = logging.NullHandler()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def some_users(count: int = 3) -> dict[int, dict[str, Any]]:
    """Users with ids of their own: checks that share a memcached never share a key."""
    ids = sorted(secrets.randbelow(10**9) + 10**6 for _ in range(count))
    return {
        user_id: {"id": user_id, "name": f"User {n}", "email": f"user{n}@example.com"}
        for n, user_id in enumerate(ids)
    }


# Real seconds per store call (these checks run in real time): short, but a store call
# still takes longer than a reply from memcached.
LATENCY = 0.02


def unknown_id() -> int:
    return secrets.randbelow(10**9) + 2 * 10**9


def key(user_id: int) -> bytes:
    return f"user:{user_id}".encode()


def server() -> tuple[str, int]:
    try:
        return memcached_address()
    except ServiceUnavailable as error:
        fail(
            "The grader has no memcached to check your app with",
            got=str(error),
            hint="Install memcached as said above, then run `grader check 10` again.",
        )


@asynccontextmanager
async def app_with(
    learner: Learner, store: StoreSpy, **options: Any
) -> AsyncIterator[tuple[Any, MemcachedProbe]]:
    """The learner's app on the grader's memcached, serving, in real time."""
    address = options.pop("memcached", None) or server()
    async with real_time():
        app = build_app(learner, store=store, memcached=address, **options)
        async with serving(app) as client:
            yield client, MemcachedProbe(*address)


def add_context(reply: Reply, context: str) -> None:
    """Say in which setting a request was made, after its path. Not for a 404 that no route
    matched: that message names the path the app lacks, read from `reply.call`."""
    if not (reply.status == 404 and reply.routed is False):
        reply.call += context


async def get(client: Any, user_id: int, **kwargs: Any) -> Reply:
    kwargs.setdefault("seconds", 30)
    return await call(client, "GET", f"/user/{user_id}", **kwargs)


def expect_store_calls(store: StoreSpy, expected: int, what: str, hint: str) -> None:
    got = store.count()
    if got != expected:
        fail(
            f"{what}: the store was called {got} time(s)",
            expected=f"{expected} call(s) of store.get_user",
            got=f"{got}: {show([(c.method, c.user_id) for c in store.calls])}",
            hint=hint,
        )


# --- task 1: cache-aside --------------------------------------------------------------------


@check("a miss loads the user from the store and caches it: key user:<id>, a JSON value", task=1)
async def test_miss_fills_cache(learner: Learner) -> None:
    users = some_users()
    user_id, user = next(iter(users.items()))
    store = StoreSpy(users, latency=LATENCY)
    async with app_with(learner, store) as (client, probe):
        expect_json(await get(client, user_id), user, hint=CACHE_ASIDE_HINT)
        expect_store_calls(store, 1, f"GET /user/{user_id} (a miss)", CACHE_ASIDE_HINT)
        value = await probe.get(key(user_id))
    if value is None:
        fail(
            f"After GET /user/{user_id}, memcached has no entry under {key(user_id)!r}",
            expected=f'the key {key(user_id)!r} (bytes: b"user:" and the id)',
            got="no such key in memcached",
            hint="Set the entry after loading from the store: "
            "`await cache.set(cache_key(user_id), value, exptime=ttl)`, with "
            'cache_key(user_id) == f"user:{user_id}".encode().',
        )
    try:
        cached = json.loads(value)
    except ValueError:
        fail(
            f"The cached value of {key(user_id)!r} is not JSON",
            expected=show(json.dumps(user).encode()),
            got=show(value),
            hint="Cache `json.dumps(user).encode()`: memcached stores bytes, and JSON keeps "
            "the user readable by any program (str(user) or pickle does not).",
        )
    if cached != user:
        fail(
            f"The cached value of {key(user_id)!r} is not the user",
            expected=show(user),
            got=show(cached),
        )


@check("the entry expires after ttl seconds (exptime=ttl)", task=1)
async def test_exptime_is_ttl(learner: Learner) -> None:
    for ttl in (37, 300):
        users = some_users(1)
        user_id = next(iter(users))
        async with app_with(learner, StoreSpy(users, latency=LATENCY), ttl=ttl) as (client, probe):
            expect_json(await get(client, user_id), users[user_id], hint=CACHE_ASIDE_HINT)
            left = await probe.ttl(key(user_id))
        # memcached counts in whole seconds: right after the set, ttl or ttl - 1 (2 on a
        # machine so busy that a second passed).
        if left is None or not ttl - 2 <= left <= ttl:
            fail(
                f"With ttl={ttl}, the cached entry does not expire after {ttl} s",
                expected=f"about {ttl} s left right after the miss (exptime=ttl)",
                got="no entry" if left is None else ("never expires" if left < 0 else f"{left} s"),
                hint="`await cache.set(key, value, exptime=ttl)` with create_app's ttl. "
                "Without exptime, an entry stays until memcached needs the room: a changed "
                "user would never be seen by readers.",
            )


@check("a hit answers from memcached and never calls the store", task=1)
async def test_hit_skips_store(learner: Learner) -> None:
    users = some_users(2)
    (first, user), (second, other) = users.items()
    store = StoreSpy(users, latency=LATENCY)
    # What the grader puts in memcached itself: only an app that reads the cache sees it.
    planted = {**other, "name": "From The Cache"}
    async with app_with(learner, store) as (client, probe):
        await probe.set(key(second), json.dumps(planted).encode(), exptime=60)
        expect_json(
            await get(client, second),
            planted,
            hint="Read memcached first: `value = await cache.get(cache_key(user_id))`; when "
            "it is not None, answer `json.loads(value)`.",
        )
        expect_store_calls(store, 0, f"GET /user/{second} (in memcached already)", CACHE_ASIDE_HINT)
        for _ in range(3):
            expect_json(await get(client, first), user)
        expect_store_calls(
            store,
            1,
            f"3 × GET /user/{first}",
            "Only the first GET is a miss: it fills the cache, and the next two are hits.",
        )


@check("a missing user is a 404, and nothing is cached for it", task=1)
async def test_missing_not_cached(learner: Learner) -> None:
    missing = unknown_id()
    store = StoreSpy(some_users(1), latency=LATENCY)
    async with app_with(learner, store) as (client, probe):
        for _ in range(2):
            expect_json_error(
                await get(client, missing),
                404,
                hint="When the store returns None, answer 404 with a JSON error.",
            )
        value = await probe.get(key(missing))
    if value is not None:
        fail(
            f"A 404 was cached: memcached holds {key(missing)!r}",
            expected="nothing cached for a user that does not exist",
            got=show(value),
            hint="Cache only what the store found: a user created later would be hidden by "
            "the cached 'not found' until it expires.",
        )
    expect_store_calls(
        store, 2, f"2 × GET /user/{missing} (no such user)", "Ask the store each time."
    )


# --- task 2: one load for concurrent misses --------------------------------------------------


@check("20 concurrent misses for one user make exactly 1 store call", task=2)
async def test_concurrent_misses_one_call(learner: Learner) -> None:
    users = some_users(1)
    user_id, user = next(iter(users.items()))
    # Slow enough that all 20 requests miss while the first load runs, even on a busy machine.
    store = StoreSpy(users, latency=0.3)
    async with app_with(learner, store) as (client, _):
        replies = await asyncio.gather(*(get(client, user_id) for _ in range(20)))
    for reply in replies:
        expect_json(reply, user)
    expect_store_calls(
        store,
        1,
        f"20 concurrent GET /user/{user_id} on an empty cache",
        "The thundering herd: every miss starts its own load. Keep the loads in flight in a "
        "dict, user id -> task: the first miss creates the task (asyncio.create_task), the "
        "others await the same task (through asyncio.shield, so that one cancelled request "
        "does not cancel it for all).",
    )


@check("misses for different users still load concurrently", task=2)
async def test_different_users_concurrent(learner: Learner) -> None:
    users = some_users(5)
    store = StoreSpy(users, latency=0.15)
    async with app_with(learner, store) as (client, _):
        replies = await asyncio.gather(*(get(client, i) for i in users for _ in range(2)))
    for reply, user in zip(replies, [u for u in users.values() for _ in range(2)], strict=True):
        expect_json(reply, user)
    expect_store_calls(store, 5, "2 concurrent GETs for each of 5 users", "One load per user.")
    if store.peak < 5:
        fail(
            "Loads of different users waited for each other",
            expected="5 store calls at once: one per user",
            got=f"at most {store.peak} at once",
            hint="Wait only for a load of the same user: one lock for all users makes every "
            "miss wait for every other.",
        )


async def give_up(client: Any, path: str, *, after: float) -> None:
    """A client that sends a GET and disconnects `after` seconds later, as a browser tab that
    is closed: Quart then cancels the request's handler, wherever it waits."""
    async with client.request(path, method="GET") as connection:
        await connection.send_complete()
        await asyncio.sleep(after)
        await connection.disconnect()


@check("a request that gives up cancels only its own wait, not the shared load (shield)", task=2)
async def test_cancelled_request_keeps_load(learner: Learner) -> None:
    users = some_users(1)
    user_id, user = next(iter(users.items()))
    store = StoreSpy(users, latency=0.3)
    setup = (
        f"3 concurrent GET /user/{user_id} on an empty cache (a store call takes 0.3 s); the "
        "first client disconnects after 0.1 s (Quart cancels its handler)"
    )
    async with app_with(learner, store) as (client, _):
        quitter = asyncio.create_task(give_up(client, f"/user/{user_id}", after=0.1))
        await asyncio.sleep(0.05)  # the first miss has started the load
        others = [asyncio.create_task(get(client, user_id, seconds=2)) for _ in range(2)]
        await asyncio.sleep(0.05)  # the other two wait for the same load
        results = await asyncio.gather(*others, return_exceptions=True)
        quitter.cancel()  # done already, unless a disconnect is not answered
        await asyncio.gather(quitter, return_exceptions=True)
    if store.count() != 1:
        fail(
            f"The 3 requests made {store.count()} store calls ({setup})",
            expected="1 call of store.get_user, shared by the 3 requests",
            got=show([(c.method, c.user_id) for c in store.calls]),
            hint="This check needs the shared load of the check before: the first miss "
            "creates the task, the others await the same task.",
        )
    broken = [r for r in results if not isinstance(r, Reply) or r.json != user]
    if broken:
        got = "; ".join(
            "no answer after 2 s"
            if isinstance(r, CheckFailed)
            else f"{type(r).__name__} raised in the request"
            if isinstance(r, BaseException)
            else r.describe() + (" (the handler was cancelled)" if not r.text else "")
            for r in broken
        )
        fail(
            f"{len(broken)} of the 2 other requests lost their answer when the first one "
            "gave up: cancelling its wait cancelled the load they shared",
            expected=f"the 2 others get 200 with the user when the load ends ({setup})",
            got=got,
            hint="Awaiting a task from a request that is cancelled cancels the task too. "
            "`return await asyncio.shield(task)`: the cancelled request stops waiting, the "
            "load goes on for the others.",
        )
    for reply in results:
        assert isinstance(reply, Reply)
        expect_json(reply, user)


# --- task 3: PUT ---------------------------------------------------------------------------


@check("PUT /user/<id> updates the user, answers it, and deletes its cache entry", task=3)
async def test_put_invalidates(learner: Learner) -> None:
    users = some_users(2)
    user_id, user = next(iter(users.items()))
    store = StoreSpy(users, latency=LATENCY)
    changed = {**user, "name": "New Name"}
    async with app_with(learner, store) as (client, probe):
        await get(client, user_id)  # cached now
        reply = await call(client, "PUT", f"/user/{user_id}", json={"name": "New Name"})
        expect_json(reply, changed, hint="`user = await store.update_user(user_id, fields)`.")
        if store.count("update_user", user_id) != 1:
            fail(
                f"PUT /user/{user_id} did not update the store",
                expected="1 call of store.update_user",
                got=show([(c.method, c.user_id) for c in store.calls]),
            )
        left = await probe.get(key(user_id))
        if left is not None and json.loads(left) != changed:
            fail(
                f"After PUT /user/{user_id}, memcached still holds the old user",
                expected=f"{key(user_id)!r} deleted (the next GET loads the new version)",
                got=show(left),
                hint="After the store changed: `await cache.delete(cache_key(user_id))`. "
                "Until then every GET answers the old user, for up to ttl seconds.",
            )
        if left is not None:
            fail(
                f"After PUT /user/{user_id}, the entry was rewritten instead of deleted",
                expected=f"{key(user_id)!r} deleted",
                got=show(left),
                hint="Delete, do not set: a concurrent miss that loaded the old user could "
                "set it after you, and it would stay for ttl seconds.",
            )
        expect_json(await get(client, user_id), changed, hint="The next GET is a miss.")
        refilled = await probe.get(key(user_id))
    if refilled is None or json.loads(refilled) != changed:
        fail(
            "The GET after the PUT did not cache the new version",
            expected=show(changed),
            got=show(refilled),
        )


@check(
    "PUT /user/<id>: 400 for a body that is not a non-empty object, 404 for no such user", task=3
)
async def test_put_invalid(learner: Learner) -> None:
    users = some_users(1)
    user_id = next(iter(users))
    store = StoreSpy(users, latency=LATENCY)
    async with app_with(learner, store) as (client, _):
        for what, options in (
            ("no body", {}),
            ("a list", {"json": [{"name": "X"}]}),
            ("an empty object", {"json": {}}),
            ("a new id", {"json": {"id": 5}}),
        ):
            reply = await call(client, "PUT", f"/user/{user_id}", **options)
            add_context(reply, f" ({what})")
            expect_json_error(
                reply,
                400,
                hint='The body must be a non-empty JSON object of fields, without "id".',
            )
        missing = unknown_id()
        expect_json_error(
            await call(client, "PUT", f"/user/{missing}", json={"name": "X"}),
            404,
            hint="store.update_user returns None for an unknown user: answer 404.",
        )
    if store.count("update_user", user_id):
        fail("An invalid PUT changed the store", expected="no update", got=show(store.users))


# --- task 4: memcached down or broken ----------------------------------------------------------


async def expect_degraded(learner: Learner, address: tuple[str, int], what: str) -> None:
    users = some_users(1)
    user_id, user = next(iter(users.items()))
    store = StoreSpy(users, latency=LATENCY)
    with recorded_logs() as records:
        app = build_app(learner, store=store, memcached=address)
        async with serving(app) as client:
            try:
                with Stopwatch() as sw:
                    replies = [await get(client, user_id, hint=DEGRADE_HINT) for _ in range(2)]
                put = await call(client, "PUT", f"/user/{user_id}", json={"name": "Changed"})
            except CheckFailed as error:  # no answer: say which memcached it was waiting for
                raise CheckFailed(
                    f"{error.summary} ({what})",
                    expected=error.expected,
                    got=error.got,
                    hint=error.hint,
                ) from error
    for reply in replies:
        add_context(reply, f" ({what})")
        if reply.status >= 500 or reply.status != 200:
            fail(
                f"{reply.call} answered {reply.status}",
                expected="200 with the user, from the store",
                got=reply.describe()
                + (f"; your code raised {reply.crash!r}" if reply.crash else ""),
                hint=DEGRADE_HINT,
            )
        expect_json(reply, user, hint=DEGRADE_HINT)
    add_context(put, f" ({what})")
    expect_json(put, {**user, "name": "Changed"}, hint=DEGRADE_HINT)
    warnings = [r for r in records if r.levelno == logging.WARNING]
    if not warnings:
        levels = sorted({r.levelname for r in records}) or ["nothing logged"]
        fail(
            f"With {what}, the app answered but logged no warning",
            expected="a WARNING in the log (app.logger.warning), so that someone notices",
            got=f"log levels seen: {', '.join(levels)}",
            hint="A failing cache is not an error of the request (that would be ERROR), but "
            'it must not go unnoticed: `app.logger.warning("memcached failed: %r", error)`.',
        )
    if sw.elapsed > 5:
        fail(
            f"With {what}, 2 requests took {sw.elapsed:.1f} s",
            expected="a few tenths of a second: a cache slower than CACHE_TIMEOUT is skipped",
            got=f"{sw.elapsed:.1f} s",
            hint="Bound each cache call: `async with asyncio.timeout(CACHE_TIMEOUT):`.",
        )


@check("memcached down (nothing listens): 200 from the store, a warning, never a 500", task=4)
async def test_memcached_down(learner: Learner) -> None:
    async with real_time():
        await expect_degraded(
            learner, ("127.0.0.1", closed_port()), "memcached down: nothing listens on its port"
        )


@check("memcached answering errors, or never answering: 200 from the store, a warning", task=4)
async def test_memcached_broken(learner: Learner) -> None:
    # In virtual time: these servers run in this process, so their silence is exact, and
    # CACHE_TIMEOUT passes without a real wait.
    for behaviour, what in (
        ("error", "the grader's stand-in memcached, which answers SERVER_ERROR to every command"),
        ("silent", "the grader's stand-in memcached, which accepts connections, never answers"),
    ):
        async with FakeMemcached(behaviour) as address:
            await expect_degraded(learner, address, what)


# --- task 5: stats ---------------------------------------------------------------------------


@check("GET /cache/stats counts hits and misses exactly", task=5)
async def test_cache_stats(learner: Learner) -> None:
    users = some_users(2)
    (first, _), (second, _) = users.items()
    store = StoreSpy(users, latency=LATENCY)
    async with app_with(learner, store) as (client, _):
        expect_json(await call(client, "GET", "/cache/stats"), {"hits": 0, "misses": 0})
        steps = [first, first, first, second, unknown_id(), second]
        for user_id in steps:
            await get(client, user_id)
        reply = await call(client, "GET", "/cache/stats")
    expected = {"hits": 3, "misses": 3}
    if reply.json != expected:
        raise CheckFailed(
            "GET /cache/stats has the wrong counts",
            expected=f"{expected} after GETs of: first, first, first, second, a missing user, "
            "second (misses: the first of each user, and the missing one)",
            got=reply.describe(),
            hint="Count per app (a dict made in create_app): a hit when memcached had the "
            "user, a miss otherwise, in GET /user only.",
        )
