"""Chapter 06: WebSockets: echo and chat rooms.

Edit this file, then check it:  grader check 06
Stuck? Ask for a hint:          grader hint 06

Try it with Quart's test client (the notebook shows more):
    app = create_app()
    async with app.test_app() as test_app:
        async with test_app.test_client().websocket("/ws") as ws:
            await ws.send("hello")
            print(await ws.receive())
"""

import asyncio
import json
from typing import Any

from quart import Quart, websocket

MAX_TEXT = 1000  # characters in one chat message
OUTBOX_SIZE = 100  # messages a slow reader may fall behind before it misses some


class BadMessage(Exception):
    """Given: raise it for a chat message the server refuses; its text is what the client
    is told, as {"error": str(error)}."""


def read_message(raw: str | bytes) -> tuple[str, str]:
    """The (user, text) of a client's message, or BadMessage saying what is wrong with it."""
    # TODO (task 4): json.loads(raw) (ValueError: not JSON); it must be a dict with "user"
    #                and "text", both str, and len(text) <= MAX_TEXT. Otherwise raise
    #                BadMessage("...what is wrong...").
    raise NotImplementedError


def create_app() -> Quart:
    app = Quart(__name__)

    # TODO (task 1): websocket /ws: for each message m, send f"Message received: {m}",
    #                for as long as the client stays.
    # TODO (task 2): websocket /chat/<room>: register the client in its room (a dict made
    #                here, in create_app); GET /chat/<room>/members -> {"room", "members"}.
    # TODO (task 3): each message {"user", "text"} goes to every client of the room, the
    #                sender too, as {"room": room, "user": ..., "text": ...}.
    # TODO (task 4): a bad message (read_message raises BadMessage): {"error": "..."} to that
    #                client alone, and it stays connected.
    # TODO (task 5): remove the client however its handler ends (`finally`); a send that
    #                fails for one client never stops the others'.
    raise NotImplementedError
