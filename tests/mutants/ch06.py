"""Mutants of solutions/ex06: WebSocket echo and chat rooms."""

from __future__ import annotations

from . import Mutant

ECHO_LOOP = (
    "        while True:\n"
    "            message = await websocket.receive()\n"
    '            await websocket.send(f"Message received: {message}")\n'
)
ROOMS = "    rooms: dict[str, set[asyncio.Queue[str]]] = {}\n"
COUNT = "len(rooms.get(room, ()))"
JOIN = "        rooms.setdefault(room, set()).add(outbox)\n"
RECEIVE = "                    raw = await websocket.receive()\n"
BROADCAST = (
    "                    for member in list(rooms.get(room, ())):  # the sender included\n"
    "                        deliver(member, message)\n"
)
PARSE_JSON = (
    "    try:\n"
    "        data = json.loads(raw)\n"
    "    except ValueError:  # json.JSONDecodeError, and UnicodeDecodeError for bad bytes\n"
    '        raise BadMessage(\'send JSON: {"user": "...", "text": "..."}\') from None\n'
)
NOT_A_DICT = (
    "    if not isinstance(data, dict):\n"
    '        raise BadMessage(\'send a JSON object: {"user": "...", "text": "..."}\')\n'
)
MISSING = (
    '    missing = [field for field in ("user", "text") if field not in data]\n'
    "    if missing:\n"
    "        raise BadMessage(f\"missing field: {', '.join(missing)}\")\n"
)
TYPES = (
    "    if not isinstance(user, str) or not isinstance(text, str):\n"
    '        raise BadMessage(\'"user" and "text" must be strings\')\n'
)
LIMIT = "    if len(text) > MAX_TEXT:\n"
ERROR_REPLY = '                        deliver(outbox, json.dumps({"error": str(error)}))\n'
CLEANUP = (
    "        finally:\n"
    "            # However the handler ends: when the client leaves, Quart *cancels* it, and\n"
    "            # asyncio.CancelledError is a BaseException that `except Exception` never sees.\n"
    "            members = rooms.get(room, set())\n"
    "            members.discard(outbox)\n"
    "            if not members:\n"
    "                rooms.pop(room, None)  # an empty room is forgotten, not kept forever\n"
)
CLEANUP_BODY = (
    "            members = rooms.get(room, set())\n"
    "            members.discard(outbox)\n"
    "            if not members:\n"
    "                rooms.pop(room, None)  # an empty room is forgotten, not kept forever\n"
)
CHAT_HANDLER = (
    '    @app.websocket("/chat/<room>")\n'
    "    async def chat(room: str) -> None:\n"
    "        outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=OUTBOX_SIZE)\n"
    "        rooms.setdefault(room, set()).add(outbox)\n"
    "        try:\n"
    "            async with asyncio.TaskGroup() as tg:\n"
    "                tg.create_task(send_from(outbox))\n"
    "                while True:\n"
    "                    raw = await websocket.receive()\n"
    "                    try:\n"
    "                        user, text = read_message(raw)\n"
    "                    except BadMessage as error:\n"
    "                        # To this client alone; its connection stays open.\n"
    '                        deliver(outbox, json.dumps({"error": str(error)}))\n'
    "                        continue\n"
    '                    message = json.dumps({"room": room, "user": user, "text": text})\n'
    "                    for member in list(rooms.get(room, ())):  # the sender included\n"
    "                        deliver(member, message)\n"
    "        finally:\n"
)
# The article-style broadcast: the connections themselves in the room, each sent to in turn,
# and nothing that catches a send that fails.
NAIVE_CHAT_HANDLER = (
    '    @app.websocket("/chat/<room>")\n'
    "    async def chat(room: str) -> None:\n"
    "        outbox = websocket._get_current_object()\n"
    "        rooms.setdefault(room, set()).add(outbox)\n"
    "        try:\n"
    "            while True:\n"
    "                raw = await websocket.receive()\n"
    "                try:\n"
    "                    user, text = read_message(raw)\n"
    "                except BadMessage as error:\n"
    '                    await websocket.send(json.dumps({"error": str(error)}))\n'
    "                    continue\n"
    '                message = json.dumps({"room": room, "user": user, "text": text})\n'
    "                for member in list(rooms.get(room, ())):\n"
    "                    await member.send(message)\n"
    "        finally:\n"
)

# Cleanup written after the loop, where no code runs: the loop never ends by itself, and a
# cancellation or an error skips everything after it.
AFTER_LOOP_HANDLER = (
    '    @app.websocket("/chat/<room>")\n'
    "    async def chat(room: str) -> None:\n"
    "        outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=OUTBOX_SIZE)\n"
    "        rooms.setdefault(room, set()).add(outbox)\n"
    "        async with asyncio.TaskGroup() as tg:\n"
    "            tg.create_task(send_from(outbox))\n"
    "            while True:\n"
    "                raw = await websocket.receive()\n"
    "                try:\n"
    "                    user, text = read_message(raw)\n"
    "                except BadMessage as error:\n"
    '                    deliver(outbox, json.dumps({"error": str(error)}))\n'
    "                    continue\n"
    '                message = json.dumps({"room": room, "user": user, "text": text})\n'
    "                for member in list(rooms.get(room, ())):\n"
    "                    deliver(member, message)\n"
    "        members = rooms.get(room, set())\n"
    "        members.discard(outbox)\n"
    "        if not members:\n"
    "            rooms.pop(room, None)\n"
)

MUTANTS = [
    Mutant(
        "06",
        "sender_task_never_cancelled",
        (
            (
                "            async with asyncio.TaskGroup() as tg:\n"
                "                tg.create_task(send_from(outbox))\n",
                "            sender = asyncio.create_task(send_from(outbox))\n"
                "            if sender:\n",
            ),
        ),
        {
            "test_no_task_left": "3 task(s) started by your handlers were still running after "
            "all 3 clients had left",
        },
    ),
    Mutant(
        "06",
        "read_message_left_unwritten_handler_validates_inline",
        (
            (
                "def read_message(raw: str | bytes) -> tuple[str, str]:\n",
                "def parse(raw: str | bytes) -> tuple[str, str]:\n",
            ),
            ("user, text = read_message(raw)", "user, text = parse(raw)"),
            (
                "\n\ndef create_app() -> Quart:\n",
                "\n\ndef read_message(raw: str | bytes) -> tuple[str, str]:\n"
                "    raise NotImplementedError\n\n\ndef create_app() -> Quart:\n",
            ),
        ),
        {"test_read_message": "read_message is not written yet"},
    ),
    Mutant(
        "06",
        "read_message_lets_json_errors_through",
        (
            (
                "    except ValueError:  # json.JSONDecodeError, and UnicodeDecodeError for bad "
                "bytes\n",
                "    except TypeError:\n",
            ),
        ),
        {
            "test_read_message": "raised JSONDecodeError, not BadMessage",
            "test_bad_json": "",
        },
    ),
    Mutant(
        "06",
        "echo_answers_once",
        (
            (
                ECHO_LOOP,
                "        message = await websocket.receive()\n"
                '        await websocket.send(f"Message received: {message}")\n',
            ),
        ),
        {"test_echo_every_message": "its handler returned"},
    ),
    Mutant(
        "06",
        "members_of_unknown_room_fails",
        ((COUNT, "len(rooms[room])"),),
        {"test_members_of_an_empty_room": "GET /chat/nowhere/members answered 500"},
    ),
    Mutant(
        "06",
        "joins_on_first_message",
        (
            (JOIN, ""),
            (RECEIVE, RECEIVE + "                    rooms.setdefault(room, set()).add(outbox)\n"),
        ),
        {"test_members_count": "GET /chat/lobby/members counted 0 after alice connected"},
    ),
    Mutant(
        "06",
        "rooms_shared_by_every_app",
        (
            (ROOMS, ""),
            ("def create_app() -> Quart:\n", ROOMS.strip() + "\n\n\ndef create_app() -> Quart:\n"),
        ),
        {"test_rooms_per_app": "GET /chat/lobby/members counted 2 in the second app"},
    ),
    Mutant(
        "06",
        "reply_to_sender_only",
        ((BROADCAST, "                    deliver(outbox, message)\n"),),
        {"test_broadcast": "bob waited 5 s for alice's message 1"},
    ),
    Mutant(
        "06",
        "message_without_room",
        (
            (
                'json.dumps({"room": room, "user": user, "text": text})',
                'json.dumps({"user": user, "text": text})',
            ),
        ),
        {"test_broadcast": "bob received the wrong message"},
    ),
    Mutant(
        "06",
        "sender_left_out",
        (
            (
                "in list(rooms.get(room, ())):  # the sender included",
                "in rooms.get(room, set()) - {outbox}:",
            ),
        ),
        {"test_sender_receives_its_own": "alice waited 5 s for her own message"},
    ),
    Mutant(
        "06",
        "broadcast_to_every_room",
        (
            (
                BROADCAST,
                "                    for members in rooms.values():\n"
                "                        for member in members:\n"
                "                            deliver(member, message)\n",
            ),
        ),
        {"test_room_isolation": "carol, in room garden, received a message sent to lobby"},
    ),
    Mutant(
        "06",
        "bad_json_not_caught",
        ((PARSE_JSON, "    data = json.loads(raw)\n"),),
        {"test_bad_json": "its handler raised JSONDecodeError"},
    ),
    Mutant(
        "06",
        "error_sent_to_the_room",
        (
            (
                ERROR_REPLY,
                "                        for member in list(rooms.get(room, ())):\n"
                '                            deliver(member, json.dumps({"error": str(error)}))\n',
            ),
        ),
        {"test_bad_json": "bob received something when alice sent 'hello' (not JSON)"},
    ),
    Mutant(
        "06",
        "json_null_not_refused",
        ((NOT_A_DICT, ""),),
        {"test_bad_json": "its handler raised TypeError"},
    ),
    Mutant(
        "06",
        "missing_fields_not_checked",
        ((MISSING, ""),),
        {"test_missing_fields": "its handler raised KeyError"},
    ),
    Mutant(
        "06",
        "types_not_checked",
        ((TYPES, ""),),
        {"test_wrong_types": '{"user": 7, "text": "hi"} (a field of the wrong type) and was not'},
    ),
    Mutant(
        "06",
        "limit_off_by_one",
        ((LIMIT, "    if len(text) >= MAX_TEXT:\n"),),
        {"test_text_limit": "alice was sent an error instead of alice's text of 1000 characters\n"},
    ),
    Mutant(
        "06",
        "limit_counts_bytes",
        ((LIMIT, '    if len(text.encode("utf-8")) > MAX_TEXT:\n'),),
        {"test_text_limit": "instead of alice's text of 1000 characters that are 2 bytes"},
    ),
    Mutant(
        "06",
        "no_limit",
        ((LIMIT, "    if False:\n"),),
        {"test_text_limit": "alice sent a text of 1001 characters and was not told it was refused"},
    ),
    Mutant(
        "06",
        "cleanup_in_except_exception",
        ((CLEANUP, "        except Exception:\n" + CLEANUP_BODY + "            raise\n"),),
        {
            "test_leaving_clients_are_removed": "counted 4 after bob left with a close frame",
        },
        avoid={"test_leaving_clients_are_removed": "Catch the failure"},
    ),
    Mutant(
        "06",
        "cleanup_after_the_loop",
        ((CHAT_HANDLER + CLEANUP.removeprefix("        finally:\n"), AFTER_LOOP_HANDLER),),
        {
            "test_leaving_clients_are_removed": "counted 4 after bob left with a close frame",
            "test_failing_send": "counted 3 after a send to ghost failed",
        },
    ),
    Mutant(
        "06",
        "cleanup_on_cancellation_only",
        (
            (
                CLEANUP,
                "        except asyncio.CancelledError:\n" + CLEANUP_BODY + "            raise\n",
            ),
        ),
        {"test_failing_send": "counted 3 after a send to ghost failed"},
    ),
    Mutant(
        "06",
        "naive_broadcast_lets_a_failed_send_escape",
        ((CHAT_HANDLER, NAIVE_CHAT_HANDLER),),
        {"test_failing_send": "the server closed alice's connection (close code 1000) after"},
    ),
]
