"""Checks for chapter 06: an echo that lasts, chat rooms that broadcast to their own members
only, bad messages answered to their sender alone, and members that leave (cleanly, abruptly,
or with sends that fail) removed without breaking delivery to the others."""

import asyncio
import json
from collections import Counter
from typing import Any

from grader.lab import Learner, check, fail, other_tasks, show
from grader.lab.web import build_app, call, expect_json, serving
from grader.lab.websockets import WebSocketClient, WebSocketLab

FINALLY_HINT = (
    "When a client leaves, Quart cancels its handler: asyncio.CancelledError, a "
    "BaseException that `except Exception` never sees, and code after the loop never runs. "
    "Remove the client in a `finally:` block around the receive loop."
)
KEEP_GOING_HINT = (
    "A bad message must not end the handler: catch what reading it can raise, send "
    '{"error": "..."} to this client, and `continue` the loop.'
)


def said(user: str, text: str, room: str = "lobby") -> dict[str, str]:
    return {"room": room, "user": user, "text": text}


async def expect_members(http: Any, room: str, count: int, *, when: str, hint: str = "") -> None:
    reply = await call(http, "GET", f"/chat/{room}/members")
    body = reply.json
    if (
        reply.status == 200
        and isinstance(body, dict)
        and body.get("room") == room
        and isinstance(body.get("members"), int)
        and body["members"] != count
    ):
        fail(
            f"GET /chat/{room}/members counted {body['members']} {when}",
            expected=f"{count} connected client{'s' if count != 1 else ''}",
            got=show(body),
            hint=hint or None,
        )
    if getattr(reply, "routed", None) is False:
        hint = ""  # no route matches at all: the grader's own message says so
    expect_json(reply, {"room": room, "members": count}, hint=hint)


async def expect_message(
    client: WebSocketClient,
    expected: dict[str, str],
    *,
    what: str,
    hint: str = "",
    refused_hint: str = "",
    skip_own: bool = False,
) -> None:
    """The next message `client` receives is the chat message `expected` (with `skip_own`:
    after any copies of the client's own messages, which another check is about)."""
    while True:
        got = await client.receive_json(
            waiting_for=what,
            expected=show(expected, 120),
            hint=hint or "Send every message to every client in the room, the sender included.",
        )
        if not (skip_own and isinstance(got, dict) and got.get("user") == client.name):
            break
    if got == expected:
        return
    if isinstance(got, dict) and "error" in got:
        fail(
            f"{client.name} was sent an error instead of {what}",
            expected=show(expected, 120),
            got=show(got),
            hint=refused_hint
            or 'That message was valid: a JSON object with string "user" and "text".',
        )
    if isinstance(got, dict) and set(got) == set(expected) and got.get("room") == expected["room"]:
        # A chat message of the right shape, but another one: one was lost or came late.
        fail(
            f"{client.name} received {got.get('user')}'s {show(got.get('text'), 60)} "
            f"while waiting for {what}",
            expected=show(expected, 120),
            got=show(got, 120),
            hint=hint or "Send every message to every client in the room, in the order sent.",
        )
    fail(
        f"{client.name} received the wrong message when waiting for {what}",
        expected=show(expected, 120),
        got=show(got, 120),
        hint='Send json.dumps({"room": room, "user": user, "text": text}) and nothing else '
        "to every client in the room.",
    )


async def expect_error_for(
    sender: WebSocketClient, bystander: WebSocketClient, raw: str, what: str, hint: str
) -> None:
    """`sender` sends `raw`; it alone gets {"error": ...} and stays connected."""
    await sender.send(raw)
    reply = await sender.receive_json(
        waiting_for=f"an answer to {what}",
        expected='{"error": "..."}',
        hint=f'Answer {what} with {{"error": "..."}} sent to this client. {hint}',
        closed_hint=KEEP_GOING_HINT,
    )
    if not (isinstance(reply, dict) and isinstance(reply.get("error"), str) and reply["error"]):
        fail(
            f"{sender.name} sent {what} and was not told it was refused",
            expected='{"error": "..."}: a JSON object with a non-empty "error" string',
            got=show(reply),
            hint=hint,
        )
    await bystander.expect_nothing(
        summary=f"{bystander.name} received something when {sender.name} sent {what}",
        hint='The {"error": ...} goes to the client that sent the bad message, and nothing '
        "goes to the room.",
    )


async def expect_heard_again(sender: WebSocketClient, bystander: WebSocketClient) -> None:
    """After whatever came before, the sender still chats: both hear its next message."""
    message = said(sender.name, "still here?")
    await sender.send_json({"user": sender.name, "text": "still here?"})
    for client in (sender, bystander):
        await expect_message(client, message, what=f"{sender.name}'s next, valid message")


# Task 1


@check("/ws answers every message with `Message received: <message>`, not only the first", task=1)
async def test_echo_every_message(learner: Learner) -> None:
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        alice = await lab.connect("alice", "/ws")
        bob = await lab.connect("bob", "/ws")
        texts = ("hello", "a second message", 'a third: {"json": "as text"} 日本語')
        for number, text in enumerate(texts, 1):
            for client in (alice, bob):
                await client.send(f"{client.name}: {text}")
                expected = f"Message received: {client.name}: {text}"
                got = await client.receive(
                    waiting_for=f"the echo of message {number}",
                    expected=show(expected),
                    hint="Answer each message with "
                    '`await websocket.send(f"Message received: {message}")`.',
                )
                if got != expected:
                    fail(
                        f"/ws answered message {number} wrongly",
                        expected=show(expected),
                        got=show(got),
                        hint='Send f"Message received: {message}" with the message as received.',
                    )


# Task 2


@check("GET /chat/<room>/members is 0 for a room nobody is in", task=2)
async def test_members_of_an_empty_room(learner: Learner) -> None:
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        await expect_members(
            http,
            "nowhere",
            0,
            when="with no client connected yet",
            hint="A room nobody joined is not in your dict yet: `len(rooms.get(room, ()))`.",
        )
        await lab.connect("alice", "/chat/lobby")
        await expect_members(
            http,
            "garden",
            0,
            when="while alice is in another room, lobby",
            hint="Count only the clients of the room in the URL.",
        )


@check("GET /chat/<room>/members counts the clients connected to that room", task=2)
async def test_members_count(learner: Learner) -> None:
    hint = (
        "Register each client of /chat/<room> as it connects (before the receive loop), in a "
        "dict of rooms made inside create_app; the route answers the size of that room."
    )
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        await lab.connect("alice", "/chat/lobby")
        await expect_members(http, "lobby", 1, when="after alice connected", hint=hint)
        await lab.connect("bob", "/chat/lobby")
        await lab.connect("carol", "/chat/garden")
        await expect_members(http, "lobby", 2, when="with alice and bob in lobby", hint=hint)
        await expect_members(http, "garden", 1, when="with carol in garden", hint=hint)


@check("two apps never share rooms: the rooms belong to the app", task=2)
async def test_rooms_per_app(learner: Learner) -> None:
    first, second = build_app(learner), build_app(learner)
    async with serving(first) as http_1, serving(second) as http_2:
        async with WebSocketLab(http_1, learner) as lab_1, WebSocketLab(http_2, learner) as lab_2:
            await lab_1.connect("alice", "/chat/lobby")
            await lab_2.connect("bob", "/chat/lobby")
            hint = (
                "Make the rooms inside create_app (`rooms = {}` before the routes), not at the "
                "top of the file: each app, each test, gets rooms of its own."
            )
            await expect_members(
                http_2, "lobby", 1, when="in the second app, while alice is in the first", hint=hint
            )
            await expect_members(
                http_1, "lobby", 1, when="in the first app, while bob is in the second", hint=hint
            )


# Task 3


@check('every client in the room receives each message as {"room", "user", "text"}', task=3)
async def test_broadcast(learner: Learner) -> None:
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        alice = await lab.connect("alice", "/chat/lobby")
        bob = await lab.connect("bob", "/chat/lobby")
        carol = await lab.connect("carol", "/chat/lobby")
        # Messages of one sender arrive in order; no order is promised between two senders,
        # so bob speaks once alice's messages have arrived.
        for sender, others, texts in (
            (alice, (bob, carol), ("hi all", "anyone here?")),
            (bob, (alice, carol), ("hello alice",)),
        ):
            for text in texts:
                await sender.send_json({"user": sender.name, "text": text, "extra": "dropped"})
            for client in others:
                for number, text in enumerate(texts, 1):
                    await expect_message(
                        client,
                        said(sender.name, text),
                        what=f"{sender.name}'s message {number}",
                        hint="Every client in the room gets every message, in the order sent.",
                        skip_own=True,  # the sender's own copy is another check's business
                    )


@check("the sender receives its own message too", task=3)
async def test_sender_receives_its_own(learner: Learner) -> None:
    hint = (
        "Send to every client of the room, the sender included: that is how a chat client "
        "knows its message went through, and in which order."
    )
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        alice = await lab.connect("alice", "/chat/lobby")
        await alice.send_json({"user": "alice", "text": "alone here"})
        await expect_message(alice, said("alice", "alone here"), what="her own message", hint=hint)
        bob = await lab.connect("bob", "/chat/lobby")
        await bob.send_json({"user": "bob", "text": "now two"})
        await expect_message(alice, said("bob", "now two"), what="bob's message")
        await expect_message(bob, said("bob", "now two"), what="his own message", hint=hint)


@check("a message reaches its own room only", task=3)
async def test_room_isolation(learner: Learner) -> None:
    hint = "Keep the clients per room (a dict: room -> clients) and send to that room's only."
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        alice = await lab.connect("alice", "/chat/lobby")
        bob = await lab.connect("bob", "/chat/lobby")
        carol = await lab.connect("carol", "/chat/garden")
        dave = await lab.connect("dave", "/chat/lobby-2")
        await alice.send_json({"user": "alice", "text": "lobby only"})
        await expect_message(alice, said("alice", "lobby only"), what="her own message")
        await expect_message(bob, said("alice", "lobby only"), what="alice's message")
        for outsider, room in ((carol, "garden"), (dave, "lobby-2")):
            await outsider.expect_nothing(
                summary=f"{outsider.name}, in room {room}, received a message sent to lobby",
                hint=hint,
            )
        await carol.send_json({"user": "carol", "text": "garden only"})
        await expect_message(
            carol, said("carol", "garden only", "garden"), what="her own message in garden"
        )
        for outsider in (alice, bob):
            await outsider.expect_nothing(
                summary=f"{outsider.name}, in room lobby, received a message sent to garden",
                hint=hint,
            )


# Task 4


@check('bad JSON: that client alone gets {"error": ...} and stays connected', task=4)
async def test_bad_json(learner: Learner) -> None:
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        alice = await lab.connect("alice", "/chat/lobby")
        bob = await lab.connect("bob", "/chat/lobby")
        for raw, what in (
            ("hello", "'hello' (not JSON)"),
            ('{"user": "alice", "text": "hi"', "JSON cut short"),
            ('["alice", "hi"]', "a JSON list instead of an object"),
            ('"hi"', "a JSON string instead of an object"),
            ("null", "JSON null"),
        ):
            await expect_error_for(
                alice,
                bob,
                raw,
                what,
                hint="json.loads raises ValueError for text that is not JSON; "
                "then check that the result is a dict.",
            )
        await expect_heard_again(alice, bob)


@check('missing "user" or "text": that client alone gets {"error": ...}', task=4)
async def test_missing_fields(learner: Learner) -> None:
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        alice = await lab.connect("alice", "/chat/lobby")
        bob = await lab.connect("bob", "/chat/lobby")
        for value in ({"user": "alice"}, {"text": "hi"}, {}, {"name": "alice", "message": "hi"}):
            await expect_error_for(
                alice,
                bob,
                json.dumps(value),
                f"{json.dumps(value)} (a field missing)",
                hint='Check that both "user" and "text" are in the object before using them.',
            )
        await expect_heard_again(alice, bob)


@check('"user" and "text" must be strings, or that client alone gets {"error": ...}', task=4)
async def test_wrong_types(learner: Learner) -> None:
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        alice = await lab.connect("alice", "/chat/lobby")
        bob = await lab.connect("bob", "/chat/lobby")
        for value in (
            {"user": 7, "text": "hi"},
            {"user": "alice", "text": ["hi"]},
            {"user": None, "text": "hi"},
            {"user": "alice", "text": 42},
        ):
            await expect_error_for(
                alice,
                bob,
                json.dumps(value),
                f"{json.dumps(value)} (a field of the wrong type)",
                hint="JSON has numbers, lists and null too: check "
                "`isinstance(user, str) and isinstance(text, str)`.",
            )
        await expect_heard_again(alice, bob)


@check("text over 1000 characters is refused to its sender alone; 1000 is fine", task=4)
async def test_text_limit(learner: Learner) -> None:
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        alice = await lab.connect("alice", "/chat/lobby")
        bob = await lab.connect("bob", "/chat/lobby")
        await expect_error_for(
            alice,
            bob,
            json.dumps({"user": "alice", "text": "x" * 1001}),
            "a text of 1001 characters",
            hint="Refuse `len(text) > MAX_TEXT`.",
        )
        for text, what in (
            ("x" * 1000, "1000 characters"),
            ("é" * 1000, "1000 characters that are 2 bytes each in UTF-8"),
        ):
            await alice.send_json({"user": "alice", "text": text})
            for client in (alice, bob):
                await expect_message(
                    client,
                    said("alice", text),
                    what=f"alice's text of {what}",
                    refused_hint="The limit is 1000 characters, so 1000 are allowed: refuse "
                    "`len(text) > MAX_TEXT`, counting characters (len of the str), not bytes.",
                )


GOOD_MESSAGES: list[tuple[str | bytes, tuple[str, str], str]] = [
    ('{"user": "alice", "text": "hi"}', ("alice", "hi"), "a valid message"),
    (b'{"user": "bob", "text": "hello"}', ("bob", "hello"), "the same as bytes"),
    (json.dumps({"user": "alice", "text": "\u00e9" * 1000}), ("alice", "\u00e9" * 1000),
     "1000 characters (2000 bytes in UTF-8)"),
]  # fmt: skip
BAD_MESSAGES: list[tuple[str, str]] = [
    ("hello", "text that is not JSON"),
    ('{"user": "alice", "text": "hi"', "JSON cut short"),
    ('["alice", "hi"]', "a JSON list"),
    ("null", "JSON null"),
    ('{"user": "alice"}', 'no "text"'),
    ('{"text": "hi"}', 'no "user"'),
    ('{"user": 7, "text": "hi"}', 'a "user" that is a number'),
    ('{"user": "alice", "text": ["hi"]}', 'a "text" that is a list'),
    (json.dumps({"user": "alice", "text": "x" * 1001}), "1001 characters of text"),
]


@check("read_message gives (user, text) for a good message, BadMessage for a bad one", task=4)
def test_read_message(learner: Learner) -> None:
    read_message = learner.plain_function("read_message")
    bad_message = learner.get("BadMessage")
    for raw, expected, what in GOOD_MESSAGES:
        got = read_message(raw)
        if got != expected:
            fail(
                f"read_message({show(raw, 60)}) returned the wrong value ({what})",
                expected=show(expected, 80),
                got=show(got, 80),
                hint='Return the tuple `(data["user"], data["text"])`.',
            )
    for raw, what in BAD_MESSAGES:
        try:
            got = read_message(raw)
        except bad_message as error:
            if not str(error):
                fail(
                    f"read_message({show(raw, 60)}) raised BadMessage without a text ({what})",
                    expected='BadMessage("what is wrong"): the client is told str(error)',
                    got=repr(error),
                )
            continue
        except Exception as error:
            fail(
                f"read_message({show(raw, 60)}) raised {type(error).__name__}, not "
                f"BadMessage ({what})",
                expected='BadMessage("..."): the one exception the handler catches',
                got=f"{type(error).__name__}: {error}",
                hint="Turn every problem into BadMessage: `except ValueError: raise "
                "BadMessage(...)` around json.loads, and check the dict, the two fields, "
                "their types and the length before you return.",
            )
        fail(
            f"read_message({show(raw, 60)}) returned instead of refusing it ({what})",
            expected="BadMessage raised",
            got=f"it returned {show(got, 80)}",
            hint='It must be a JSON object whose "user" and "text" are both str, with '
            'len(text) <= MAX_TEXT; otherwise `raise BadMessage("what is wrong")`.',
        )


# Task 5


@check(
    "a client that leaves is removed at once, abrupt disconnects too (cleanup in `finally`)", task=5
)
async def test_leaving_clients_are_removed(learner: Learner) -> None:
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        alice = await lab.connect("alice", "/chat/lobby")
        bob = await lab.connect("bob", "/chat/lobby")
        carol = await lab.connect("carol", "/chat/lobby")
        dave = await lab.connect("dave", "/chat/lobby")
        await expect_members(http, "lobby", 4, when="with alice, bob, carol and dave connected")
        await bob.leave()
        await expect_members(
            http, "lobby", 3, when="after bob left with a close frame", hint=FINALLY_HINT
        )
        carol.vanish(sends="drop", noticed_after=0.0)
        await carol.finished(after="vanished")
        await expect_members(
            http,
            "lobby",
            2,
            when="after carol vanished without a close frame (the server noticed)",
            hint=FINALLY_HINT,
        )
        await expect_heard_again(alice, dave)
        await dave.leave()
        await alice.leave()
        await expect_members(http, "lobby", 0, when="after everyone left", hint=FINALLY_HINT)


@check("a client whose send fails never breaks delivery to the others", task=5)
async def test_failing_send(learner: Learner) -> None:
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        alice = await lab.connect("alice", "/chat/lobby")
        ghost = await lab.connect("ghost", "/chat/lobby")
        bob = await lab.connect("bob", "/chat/lobby")
        # ghost is gone; sends to it raise (as on Uvicorn) until the server notices, 1 s later.
        ghost.vanish(sends="raise", noticed_after=1.0)
        await alice.send_json({"user": "alice", "text": "is everyone here?"})
        await asyncio.sleep(0.1)
        alice.expect_open(
            "after a send to ghost, a client that is gone, raised",
            hint="A send to a client that is gone raises on Uvicorn, and in Quart 0.23 once it "
            "knows (Hypercorn under Quart 0.22 drops it). Catch the failure of each member's "
            "send (or send from a task of each client's own), so that it never ends the "
            "sender's handler.",
        )
        for client in (alice, bob):
            await expect_message(
                client,
                said("alice", "is everyone here?"),
                what="alice's message (a send to ghost raised)",
                hint="A failing send to one member must not stop the others' sends: catch it "
                "for each member.",
            )
        await asyncio.sleep(1.0)
        await ghost.finished(after="vanished")
        await expect_members(
            http,
            "lobby",
            2,
            when="after a send to ghost failed and the server noticed ghost was gone",
            hint="Remove the client in `finally:`: its handler ends by cancellation, or by "
            "the error of its failed send.",
        )
        await expect_heard_again(alice, bob)


def learner_tasks(learner: Learner) -> list[asyncio.Task[Any]]:
    """Tasks alive on the loop whose coroutine is a function of the learner's file."""
    path = str(learner.path)
    found = []
    for task in other_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and code.co_filename == path:
            found.append(task)
    return found


@check("a client that leaves leaves no task behind: tasks its handler started stop too", task=5)
async def test_no_task_left(learner: Learner) -> None:
    async with serving(build_app(learner)) as http, WebSocketLab(http, learner) as lab:
        before = set(learner_tasks(learner))
        alice = await lab.connect("alice", "/chat/lobby")
        bob = await lab.connect("bob", "/chat/lobby")
        carol = await lab.connect("carol", "/chat/lobby")
        await expect_heard_again(alice, bob)
        await bob.leave()
        carol.vanish(sends="drop", noticed_after=0.0)
        await carol.finished(after="vanished")
        await alice.leave()
        await asyncio.sleep(0.5)
        left = [task for task in learner_tasks(learner) if task not in before]
    if left:
        kinds = Counter(task.get_coro().__qualname__ for task in left)
        names = ", ".join(f"{count} x {name}" for name, count in sorted(kinds.items()))
        fail(
            f"{len(left)} task(s) started by your handlers were still running after all 3 "
            "clients had left",
            expected="none: when a client leaves, the tasks its handler started stop with it",
            got=f"still running: {names}",
            hint="A task made with asyncio.create_task outlives the handler that made it: "
            "when Quart cancels the handler, nothing cancels the task, which waits for a "
            "message that never comes, as long as the server runs: one more per visitor. "
            "Start it in `async with asyncio.TaskGroup() as tg:` around the receive loop "
            "(cancelled with the handler), or cancel it in the `finally:`.",
        )
