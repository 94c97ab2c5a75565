"""Checking an app that caches in memcached: the grader's own look into the real server,
a store that records its calls, and stand-in servers that fail in chosen ways.

    probe = MemcachedProbe(*services.memcached_address())
    await probe.get(b"user:7")        # the value bytes, or None
    await probe.ttl(b"user:7")        # seconds left before it expires (-1: never)
    store = StoreSpy({7: {...}}, latency=0.1)
    async with FakeMemcached("silent") as address: ...   # accepts, never answers
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any


class MemcachedProbe:
    """A tiny memcached client of the grader's own (text and meta protocol), one connection
    per command: independent of the learner's aiomcache and its pool."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def _exchange(self, command: bytes, *, until: tuple[bytes, ...]) -> bytes:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(command)
            await writer.drain()
            reply = b""
            while not reply.endswith(until):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                reply += chunk
            return reply
        finally:
            writer.close()
            await writer.wait_closed()

    async def get(self, key: bytes) -> bytes | None:
        reply = await self._exchange(b"get " + key + b"\r\n", until=(b"END\r\n",))
        if not reply.startswith(b"VALUE "):
            return None
        header, _, rest = reply.partition(b"\r\n")
        length = int(header.split()[3])
        return rest[:length]

    async def ttl(self, key: bytes) -> int | None:
        """Seconds before the entry expires (-1: it never does); None when it is absent.
        memcached's clock ticks in whole seconds, so right after a set with exptime=60
        this says 60 or 59."""
        reply = await self._exchange(b"mg " + key + b" t\r\n", until=(b"\r\n",))
        if not reply.startswith(b"HD"):
            return None
        for flag in reply.split()[1:]:
            if flag.startswith(b"t"):
                return int(flag[1:])
        return None

    async def set(self, key: bytes, value: bytes, exptime: int = 0) -> None:
        command = b"set %s 0 %d %d\r\n%s\r\n" % (key, exptime, len(value), value)
        reply = await self._exchange(command, until=(b"\r\n",))
        if reply.strip() != b"STORED":
            raise RuntimeError(f"memcached refused the grader's set: {reply!r}")

    async def delete(self, key: bytes) -> None:
        await self._exchange(b"delete " + key + b"\r\n", until=(b"\r\n",))


@dataclass
class StoreCall:
    method: str
    user_id: int
    started: float
    ended: float | None = None


@dataclass
class StoreSpy:
    """Stands in for the store: users in memory, each call `latency` seconds, every call
    recorded (and the most calls in flight at once)."""

    users: dict[int, dict[str, Any]]
    latency: float = 0.1
    calls: list[StoreCall] = field(default_factory=list)
    running: int = 0
    peak: int = 0

    def __post_init__(self) -> None:
        self.users = copy.deepcopy(self.users)

    async def _call(self, method: str, user_id: int) -> None:
        loop = asyncio.get_running_loop()
        call = StoreCall(method, user_id, loop.time())
        self.calls.append(call)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.running -= 1
            call.ended = loop.time()

    async def get_user(self, user_id: int) -> dict[str, Any] | None:
        await self._call("get_user", user_id)
        user = self.users.get(user_id)
        return copy.deepcopy(user) if user is not None else None

    async def update_user(self, user_id: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        await self._call("update_user", user_id)
        if user_id not in self.users:
            return None
        self.users[user_id].update(fields)
        return copy.deepcopy(self.users[user_id])

    def count(self, method: str = "get_user", user_id: int | None = None) -> int:
        return sum(1 for c in self.calls if c.method == method and user_id in (None, c.user_id))


@asynccontextmanager
async def FakeMemcached(behaviour: str) -> AsyncIterator[tuple[str, int]]:  # noqa: N802
    """A server on 127.0.0.1 that plays a broken memcached, in this process (so it is as
    deterministic as the loop): "silent" accepts connections and never answers; "error"
    answers every command with SERVER_ERROR. Yields its (host, port)."""
    held: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        try:
            while await reader.readline():
                if behaviour == "error":
                    writer.write(b"SERVER_ERROR out of memory storing object\r\n")
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield "127.0.0.1", server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in held:
            writer.close()
