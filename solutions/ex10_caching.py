"""Chapter 10: caching with memcached (reference solution)."""

import asyncio
import copy
import json
from typing import Any, Protocol

import aiomcache
from quart import Quart, ResponseReturnValue, request
from werkzeug.exceptions import HTTPException

STORE_LATENCY = 0.1  # seconds per store call: the "slow database" the cache is for
# A cache slower than this counts as down: the store answers instead. Without a bound, a
# memcached that accepts connections and never answers would hold every request forever.
CACHE_TIMEOUT = 0.5
USERS = {
    1: {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com"},
    2: {"id": 2, "name": "Grace Hopper", "email": "grace@example.com"},
    3: {"id": 3, "name": "Alan Turing", "email": "alan@example.com"},
}


class Store(Protocol):
    async def get_user(self, user_id: int) -> dict[str, Any] | None: ...

    async def update_user(self, user_id: int, fields: dict[str, Any]) -> dict[str, Any] | None: ...


class UserStore:
    """The default store: users in memory, each call as slow as a database's."""

    def __init__(
        self, users: dict[int, dict[str, Any]] | None = None, latency: float = STORE_LATENCY
    ) -> None:
        self.users = copy.deepcopy(USERS if users is None else users)
        self.latency = latency

    async def get_user(self, user_id: int) -> dict[str, Any] | None:
        await asyncio.sleep(self.latency)
        user = self.users.get(user_id)
        return dict(user) if user is not None else None

    async def update_user(self, user_id: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        await asyncio.sleep(self.latency)
        if user_id not in self.users:
            return None
        self.users[user_id].update(fields)
        return dict(self.users[user_id])


def cache_key(user_id: int) -> bytes:
    # memcached keys and values are bytes: aiomcache refuses a str key (the article's
    # f"user:{user_id}" raises ValidationException).
    return f"user:{user_id}".encode()


def create_app(
    *,
    store: Store | None = None,
    memcached: tuple[str, int] = ("127.0.0.1", 11211),
    ttl: int = 60,
) -> Quart:
    app = Quart(__name__)
    users: Store = store if store is not None else UserStore()
    stats = {"hits": 0, "misses": 0}
    # user id -> the task loading it: concurrent misses for one user wait for one load.
    loading: dict[int, asyncio.Task[dict[str, Any] | None]] = {}

    @app.before_serving
    async def open_cache() -> None:
        # One client (a small connection pool) for the app, like chapter 05's httpx client.
        app.extensions["cache"] = aiomcache.Client(*memcached)

    @app.after_serving
    async def close_cache() -> None:
        await app.extensions.pop("cache").close()

    async def cached(action: str, operation: Any) -> Any:
        """Run one cache operation; if memcached is down, slow or failing, log a warning
        and return None: the cache is an optimisation, never a reason for a 500."""
        cache: aiomcache.Client = app.extensions["cache"]
        try:
            async with asyncio.timeout(CACHE_TIMEOUT):
                return await operation(cache)
        except Exception as error:  # refused, timed out, an error reply: all the same here
            app.logger.warning("memcached %s failed (%r): using the store", action, error)
            if isinstance(error, TimeoutError):
                # The timed-out connection went back to the pool with a reply still on its
                # way: the next command would read that reply. Close the idle connections.
                await cache.close()
            return None

    async def fill(user_id: int) -> dict[str, Any] | None:
        user = await users.get_user(user_id)
        if user is not None:  # a missing user is not cached: it may be created later
            value = json.dumps(user).encode()
            await cached("set", lambda cache: cache.set(cache_key(user_id), value, exptime=ttl))
        return user

    async def load(user_id: int) -> dict[str, Any] | None:
        task = loading.get(user_id)
        if task is None:
            # The first miss starts the load; the others find it here and wait for it.
            task = asyncio.create_task(fill(user_id))
            loading[user_id] = task
            task.add_done_callback(lambda done: loading.pop(user_id, None))
        # shield: a client that gives up cancels its own wait, not the load the others share.
        return await asyncio.shield(task)

    @app.get("/user/<int:user_id>")
    async def get_user(user_id: int) -> ResponseReturnValue:
        value = await cached("get", lambda cache: cache.get(cache_key(user_id)))
        if value is not None:
            stats["hits"] += 1
            return json.loads(value)
        stats["misses"] += 1
        user = await load(user_id)
        if user is None:
            return {"error": f"no user {user_id}"}, 404
        return user

    @app.put("/user/<int:user_id>")
    async def update_user(user_id: int) -> ResponseReturnValue:
        fields = await request.get_json(silent=True)
        if not isinstance(fields, dict) or not fields or "id" in fields:
            return {"error": 'send a JSON object of fields to change, such as {"name": "..."}'}, 400
        user = await users.update_user(user_id, fields)
        if user is None:
            return {"error": f"no user {user_id}"}, 404
        # Delete after the store has changed: the next read loads the new version. (Setting
        # the new value instead would race with a concurrent miss writing the old one.)
        await cached("delete", lambda cache: cache.delete(cache_key(user_id)))
        return user

    @app.get("/cache/stats")
    async def cache_stats() -> ResponseReturnValue:
        return dict(stats)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
