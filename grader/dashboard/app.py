"""The live workshop dashboard: a Quart app (`create_app`) served by `grader serve`.

Two secrets, made once and kept in the SQLite file:
- the room code, in the share URL (`POST /r/ROOM_CODE`): it lets a learner post results
  and nothing else;
- the teacher key (`?key=`): it opens the page (`/`), its WebSocket (`/ws`), the results as
  JSON (`/api/results`) and a learner's history (`/api/history?name=`).
A wrong code or key is a 403 and nothing is stored. Every refusal is a JSON 4xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import html
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from quart import Quart, Response, abort, request, websocket
from werkzeug.exceptions import HTTPException

from .payload import MAX_BYTES, Refused, read_post
from .room import Room, sort_key
from .store import Store

MAX_PAGES = 50  # teacher pages (WebSockets) open at once
QUEUED_UPDATES = 64  # per page: a page that falls further behind gets a fresh snapshot
HEARTBEAT = 20.0  # seconds: a page hears from the server at least this often
PING = json.dumps({"type": "ping"})


class Page:
    """One open dashboard page: the updates waiting for its WebSocket."""

    CLOSE = ""  # no update is empty: this one means "the server is stopping"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUED_UPDATES)
        self.stale = False

    def offer(self, message: str) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.stale = True  # too slow to keep up: it gets the whole room instead

    def close(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(self.CLOSE)

    async def next(self, heartbeat: float) -> str | None:
        """The next update to send, Page.CLOSE, or None: send a fresh snapshot. After
        `heartbeat` seconds without one, a ping: a page whose laptop was closed is noticed
        when writing to it fails, and a page notices a server gone silent."""
        try:
            message = await asyncio.wait_for(self.queue.get(), heartbeat)
        except TimeoutError:
            return PING
        if message == self.CLOSE or not self.stale:
            return message
        self.stale = False
        while not self.queue.empty():
            if self.queue.get_nowait() == self.CLOSE:
                return self.CLOSE
        return None


class Dashboard:
    """The app's state: the store, the room in memory, the open pages."""

    def __init__(
        self,
        store: Store,
        room: Room,
        *,
        title: str,
        room_code: str,
        teacher_key: str,
        clock: Callable[[], float],
        wall: Callable[[], float],
        coalesce: float,
    ) -> None:
        self.store, self.room, self.title = store, room, title
        self.room_code, self.teacher_key = room_code, teacher_key
        self.clock, self.wall, self.coalesce = clock, wall, coalesce
        self.pages: set[Page] = set()
        self._changed_learners: set[str] = set()
        self._changed_chapters: set[str] = set()
        self._wake = asyncio.Event()

    def is_room(self, code: str) -> bool:
        return hmac.compare_digest(code.encode(), self.room_code.encode())

    def is_teacher(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(key.encode(), self.teacher_key.encode())

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": "snapshot",
            **self.room.snapshot(self.title),
            "share": f"/r/{self.room_code}",
        }

    def going_away(self) -> None:
        """The server is stopping: every page's WebSocket closes now (the page says
        "reconnecting" and comes back when the server does), not after a timeout."""
        for page in self.pages:
            page.close()

    def changed(self, name: str, chapters: list[str]) -> None:
        self._changed_learners.add(name)
        self._changed_chapters.update(chapters)
        self._wake.set()

    async def broadcast(self) -> None:
        """Send what changed to every open page, at most once per `coalesce` seconds: a
        room of 40 posting at once costs one message per page, not 40."""
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.coalesce)
            self._wake.clear()
            learners, self._changed_learners = self._changed_learners, set()
            chapters, self._changed_chapters = self._changed_chapters, set()
            if not self.pages:
                continue  # a page that opens later gets the whole room anyway
            order = self.room.chapter_ids()
            message = json.dumps(
                {
                    "type": "update",
                    "order": order,
                    "learners": [self.room.learner(n) for n in sorted(learners, key=sort_key)],
                    "chapters": [self.room.chapter(c) for c in order if c in chapters],
                }
            )
            for page in list(self.pages):
                page.offer(message)


def create_app(
    *,
    data: Path,
    title: str = "",
    chapters: Mapping[str, str] | None = None,
    checks: Mapping[str, set[str]] | None = None,
    rate: int = 30,
    window: float = 60.0,
    max_learners: int = 500,
    coalesce: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
) -> Quart:
    """The dashboard on the SQLite file `data` (made, with its room code and teacher key,
    if it does not exist). `chapters` (id -> title, in order) are the course's: posts of
    other chapters are refused, and so are checks a chapter does not have (`checks`: id ->
    the names of its checks). `rate` posts per `window` seconds per learner; `clock` is
    read for that window, `wall` for the time of each result."""
    known_checks = dict(checks or {})
    store = Store(data)
    room_code, teacher_key = store.open()
    room = Room(chapters or {}, store.latest(), rate=rate, window=window, max_learners=max_learners)
    board = Dashboard(
        store,
        room,
        title=title,
        room_code=room_code,
        teacher_key=teacher_key,
        clock=clock,
        wall=wall,
        coalesce=coalesce,
    )
    page_html = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    app = Quart(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BYTES  # Quart stops reading there: a 413
    app.config["BODY_TIMEOUT"] = 10  # a body trickled in byte by byte is dropped
    app.extensions["dashboard"] = board
    broadcaster: list[asyncio.Task[None]] = []

    @app.before_serving
    async def start() -> None:
        broadcaster.append(asyncio.create_task(board.broadcast()))

    @app.after_serving
    async def stop() -> None:
        for task in broadcaster:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.call(store.close)
        store.stop()

    @app.after_request
    async def headers(response: Response) -> Response:
        # The key travels in the URL: never in a Referer, never in a cache.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.errorhandler(HTTPException)
    async def as_json(error: HTTPException) -> Response:
        if error.code == 413:
            return refusal(413, f"a result is at most {MAX_BYTES // 1024} KB")
        return refusal(error.code or 500, error.name)

    @app.errorhandler(Refused)
    async def refused(error: Refused) -> Response:
        return refusal(error.status, error.reason)

    @app.post("/r/<code>")
    async def share(code: str) -> tuple[dict[str, Any], int]:
        if not board.is_room(code):
            raise Refused(403, "this is not the room's share URL: ask your teacher for it")
        if (request.content_length or 0) > MAX_BYTES:
            raise Refused(413, f"a result is at most {MAX_BYTES // 1024} KB")
        body = await request.get_data(cache=False)  # a 413 past MAX_BYTES, chunked or not
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise Refused(400, "the post is not JSON: send it with grader check --share") from None
        name, scores = read_post(data, room.titles, known_checks)
        room.admit(name, board.clock())
        at = board.wall()
        scores = [dataclasses.replace(s, at=at) for s in scores]
        try:
            await store.call(store.add, name, scores)
        except BaseException:
            room.forget_post(name)
            raise
        room.apply(name, scores)
        board.changed(name, [s.chapter for s in scores])
        return {"stored": len(scores), "name": name}, 201

    @app.get("/")
    async def page() -> Response:
        if not board.is_teacher(request.args.get("key")):
            return Response(FORBIDDEN_PAGE, 403, content_type="text/html; charset=utf-8")
        nonce = secrets.token_urlsafe(16)
        body = page_html.replace("{{nonce}}", nonce).replace(
            "{{title}}", html.escape(board.title or "Workshop dashboard")
        )
        response = Response(body, 200, content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            # The WebSocket named as well as 'self': not every browser counts ws: as 'self'.
            f"connect-src 'self' {websocket_origins(request.host)}; img-src data:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        return response

    @app.get("/api/results")
    async def results() -> dict[str, Any]:
        teacher_only()
        snapshot = board.snapshot()
        del snapshot["type"]
        return snapshot

    @app.get("/api/history")
    async def history() -> dict[str, Any]:
        teacher_only()
        name = request.args.get("name", "")
        found = await store.call(store.history, name)
        return {"name": name, "results": [s.as_json() for s in found]}

    @app.websocket("/ws")
    async def live() -> None:
        if not board.is_teacher(websocket.args.get("key")):
            abort(403)  # before accept: the browser gets an HTTP 403, no socket
        if len(board.pages) >= MAX_PAGES:
            abort(503)
        await websocket.accept()
        page = Page()
        board.pages.add(page)
        try:
            await websocket.send(json.dumps(board.snapshot()))
            while (message := await page.next(HEARTBEAT)) != Page.CLOSE:
                await websocket.send(message or json.dumps(board.snapshot()))
            await websocket.close(1001, "the dashboard is stopping")
        finally:
            board.pages.discard(page)

    def teacher_only() -> None:
        if not board.is_teacher(request.args.get("key")):
            raise Refused(403, "this needs the teacher key printed by grader serve")

    return app


def websocket_origins(host: str) -> str:
    """ws:// and wss:// of the host the page was asked from (a Host header that is not a
    plain host[:port] names nothing: the page then relies on 'self')."""
    if not re.fullmatch(r"[A-Za-z0-9.\-]+(:\d+)?|\[[0-9A-Fa-f:.]+\](:\d+)?", host):
        return ""
    return f"ws://{host} wss://{host}"


def refusal(status: int, reason: str) -> Response:
    return Response(json.dumps({"error": reason}), status, content_type="application/json")


FORBIDDEN_PAGE = (
    "<!doctype html><meta charset='utf-8'><title>Dashboard: key needed</title>"
    "<p style='font: 20px system-ui; margin: 3rem'>This dashboard opens with the teacher key: "
    "use the <code>dashboard:</code> link that <code>grader serve</code> printed.</p>\n"
)
