"""Chapter 10: caching with memcached.

Edit this file, then check it:  grader check 10
Stuck? Ask for a hint:          grader hint 10

Try it against a real memcached, started for you (it needs the memcached program: the
notebook says how to get it):
    from grader.lab import services
    async with services.memcached() as server:
        app = create_app(memcached=server.address)
Error answers are JSON objects with an "error" string.
"""

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
    """The memcached key of a user: b"user:<id>"."""
    # TODO (task 1): memcached keys are bytes: return f"user:{user_id}" encoded.
    raise NotImplementedError


def create_app(
    *,
    store: Store | None = None,
    memcached: tuple[str, int] = ("127.0.0.1", 11211),
    ttl: int = 60,
) -> Quart:
    app = Quart(__name__)

    # TODO (task 1): one aiomcache.Client(host, port) for the app, made in before_serving and
    #                closed in after_serving. GET /user/<int:user_id> is cache-aside: a hit
    #                (cache_key, a JSON value) answers without calling the store; a miss
    #                loads from `store` (or UserStore() when it is None), then sets the JSON
    #                bytes with exptime=ttl. A missing user is a 404 and is not cached.
    # TODO (task 2): concurrent misses for one user load it once (20 at once: 1 store call);
    #                different users still load concurrently.
    # TODO (task 3): PUT /user/<int:user_id> {fields} -> 200 with the updated user, and its
    #                cache entry deleted; 400 unless a non-empty JSON object without "id";
    #                404 for an unknown user.
    # TODO (task 4): memcached down, failing or slower than CACHE_TIMEOUT: answer from the
    #                store (200), log a warning (app.logger.warning), never a 500.
    # TODO (task 5): GET /cache/stats -> {"hits": n, "misses": n}, counted by GET /user.
    raise NotImplementedError
