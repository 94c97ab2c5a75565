"""Chapter 06: WebSockets: echo and chat rooms (reference solution)."""

import asyncio
import json
from typing import Any

from quart import Quart, websocket

MAX_TEXT = 1000  # characters in one chat message
OUTBOX_SIZE = 100  # messages a slow reader may fall behind before it misses some


class BadMessage(Exception):
    """A chat message the server refuses; its text is what the client is told."""


def read_message(raw: str | bytes) -> tuple[str, str]:
    """The (user, text) of a client's message, or BadMessage saying what is wrong with it."""
    try:
        data = json.loads(raw)
    except ValueError:  # json.JSONDecodeError, and UnicodeDecodeError for bad bytes
        raise BadMessage('send JSON: {"user": "...", "text": "..."}') from None
    if not isinstance(data, dict):
        raise BadMessage('send a JSON object: {"user": "...", "text": "..."}')
    missing = [field for field in ("user", "text") if field not in data]
    if missing:
        raise BadMessage(f"missing field: {', '.join(missing)}")
    user, text = data["user"], data["text"]
    if not isinstance(user, str) or not isinstance(text, str):
        raise BadMessage('"user" and "text" must be strings')
    # len() counts characters, which is what the limit promises; "é" is 2 bytes in UTF-8.
    if len(text) > MAX_TEXT:
        raise BadMessage(f"text is limited to {MAX_TEXT} characters, this one has {len(text)}")
    return user, text


def create_app() -> Quart:
    app = Quart(__name__)
    # Rooms belong to this app, not to the module: two apps (two tests, two workers in one
    # process) never share a room. room -> the outboxes of the clients connected to it.
    rooms: dict[str, set[asyncio.Queue[str]]] = {}

    @app.websocket("/ws")
    async def echo() -> None:
        # Quart runs one handler per connection, for as long as the connection lasts: the
        # loop is what keeps it open. Messages of one connection are handled in order.
        while True:
            message = await websocket.receive()
            await websocket.send(f"Message received: {message}")

    def deliver(outbox: asyncio.Queue[str], text: str) -> None:
        # Never waits: a slow reader falls behind alone instead of holding up the sender
        # and the room. One that is OUTBOX_SIZE messages behind misses messages rather
        # than eating memory without limit.
        try:
            outbox.put_nowait(text)
        except asyncio.QueueFull:
            app.logger.warning("a slow client missed a message")

    async def send_from(outbox: asyncio.Queue[str]) -> None:
        # This client's own sender. If a send fails (Uvicorn and Quart 0.23 raise once the
        # client is gone; Hypercorn under Quart 0.22 drops it), the TaskGroup ends this
        # client's handler only; nobody else waits.
        while True:
            await websocket.send(await outbox.get())

    @app.websocket("/chat/<room>")
    async def chat(room: str) -> None:
        outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=OUTBOX_SIZE)
        rooms.setdefault(room, set()).add(outbox)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(send_from(outbox))
                while True:
                    raw = await websocket.receive()
                    try:
                        user, text = read_message(raw)
                    except BadMessage as error:
                        # To this client alone; its connection stays open.
                        deliver(outbox, json.dumps({"error": str(error)}))
                        continue
                    message = json.dumps({"room": room, "user": user, "text": text})
                    for member in list(rooms.get(room, ())):  # the sender included
                        deliver(member, message)
        finally:
            # However the handler ends: when the client leaves, Quart *cancels* it, and
            # asyncio.CancelledError is a BaseException that `except Exception` never sees.
            members = rooms.get(room, set())
            members.discard(outbox)
            if not members:
                rooms.pop(room, None)  # an empty room is forgotten, not kept forever

    @app.get("/chat/<room>/members")
    async def members(room: str) -> Any:
        return {"room": room, "members": len(rooms.get(room, ()))}

    return app
