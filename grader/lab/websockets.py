"""WebSocket clients for checks and demos, through Quart's test client, in virtual time.

Several clients talk to one app at once. Each is driven the way a server drives an ASGI app,
so the checks can also make the clients that servers meet in real life: one that leaves
with a close frame, one that vanishes without one, one whose sends fail because it is gone
(Uvicorn raises at once, Quart 0.23 once it knows; Hypercorn under Quart 0.22 drops such
sends silently), and a slow reader.

    async with serving(app) as http:
        async with WebSocketLab(http, learner) as lab:
            alice = await lab.connect("alice", "/chat/lobby")
            await alice.send_json({"user": "alice", "text": "hi"})
            await alice.receive_json(waiting_for="her own message")   # fails after 5 loop s

Every wait has a deadline in event-loop seconds and fails saying which client waited for
what, and what happened instead: nothing, or the server closed the connection (with the
exception the learner's handler raised, and its line).
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import json
from typing import Any, Literal, NoReturn

from quart.signals import got_websocket_exception

from .feedback import CheckFailed, fail, show
from .learner import Learner

RECEIVE_SECONDS = 5.0  # loop seconds a client waits for a message that should come at once
SETTLE_STEPS = 10  # loop passes after an accept, so a handler reaches its first receive

SendMode = Literal["deliver", "drop", "raise"]
_CLIENT: contextvars.ContextVar[WebSocketClient | None] = contextvars.ContextVar(
    "grader_websocket_client", default=None
)


class ClientDisconnected(OSError):
    """What a server such as Uvicorn raises when an app sends to a client that is gone.
    Quart 0.23 turns an OSError from a send into its own ClientDisconnectedError."""


class _Ended:
    """Put in a client's inbox when the server side ended the connection."""


_ENDED = _Ended()


class WebSocketClient:
    """One client connection; the app runs it as it would run a real one."""

    def __init__(self, lab: WebSocketLab, name: str, path: str, send_delay: float) -> None:
        self.lab = lab
        self.name = name
        self.path = path
        self.send_delay = send_delay  # a slow reader: every send to it takes this long
        self.state = "connecting"  # open, left, vanished, closed (by the server), refused
        self.sends: SendMode = "deliver"
        self.close_code: int | None = None
        self.refused_status: int | None = None
        self.refused_body = bytearray()
        self.failed_sends = 0  # sends to it that raised because it was gone
        self.dropped_sends = 0  # sends to it that were dropped because it was gone
        self.handler_errors: list[BaseException] = []
        self.received: list[str | bytes] = []  # everything the server sent it, in order
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._inbox: asyncio.Queue[str | bytes | _Ended] = asyncio.Queue()
        self._settled = asyncio.Event()  # accepted, refused or ended
        self._ended = False
        self._to_app.put_nowait({"type": "websocket.connect"})
        self.task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<WebSocketClient {self.name} {self.path} {self.state}>"

    # The two ASGI callables the app is given.

    async def _asgi_receive(self) -> dict[str, Any]:
        return await self._to_app.get()

    async def _asgi_send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            if self.state == "connecting":
                self.state = "open"
            self._settled.set()
        elif kind == "websocket.send":
            if self.sends == "raise":
                self.failed_sends += 1
                raise ClientDisconnected(f"{self.name} is gone: the WebSocket connection is closed")
            if self.sends == "drop":
                self.dropped_sends += 1
                return
            if self.send_delay:
                await asyncio.sleep(self.send_delay)  # the client reads slowly
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            self.received.append(data)
            self._inbox.put_nowait(data)
        elif kind == "websocket.close":
            if self.sends != "deliver":
                return  # nobody is there to hear it
            if self.state in ("connecting", "open"):
                self.state = "closed" if self.state == "open" else "refused"
                self.close_code = int(message.get("code", 1000))
            self._end()
        elif kind == "websocket.http.response.start":
            self.state = "refused"
            self.refused_status = int(message["status"])
        elif kind == "websocket.http.response.body":
            self.refused_body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                self._end()

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._inbox.put_nowait(_ENDED)
        self._settled.set()

    async def _serve(self, app: Any, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self._asgi_receive, self._asgi_send)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a real server would log it and close the connection
            if not isinstance(leaf(error), ClientDisconnected | _quart_disconnected()):
                self.handler_errors.append(error)
        finally:
            if self.state in ("connecting", "open"):
                # The app returned without closing: a server closes the connection then.
                self.state = "closed" if self.state == "open" else "refused"
            self._end()

    # What a check does with a client.

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    async def send(self, text: str | bytes) -> None:
        """The client sends one message (a text frame for str, a binary frame for bytes)."""
        if isinstance(text, str):
            self._to_app.put_nowait({"type": "websocket.receive", "text": text})
        else:
            self._to_app.put_nowait({"type": "websocket.receive", "bytes": text})
        await asyncio.sleep(0)

    async def send_json(self, value: Any) -> None:
        await self.send(json.dumps(value))

    async def receive(
        self,
        *,
        waiting_for: str,
        expected: str = "",
        seconds: float = RECEIVE_SECONDS,
        hint: str = "",
        closed_hint: str = "",
    ) -> str | bytes:
        """The next message, or a failure that says who waited for what (`expected`: the
        message itself, when it is known) and what happened instead."""
        try:
            async with asyncio.timeout(seconds):
                item = await self._inbox.get()
        except TimeoutError:
            summary = f"{self.name} waited {seconds:g} s for {waiting_for}, and nothing arrived"
            # Look at what happened before blaming a cause: another client's handler may
            # have ended (crashed) on the way, and that is why nothing came.
            ended = [c for c in self.lab.clients if c is not self and c.state == "closed"]
            if ended:
                other = ended[0]
                raise CheckFailed(
                    summary,
                    expected=expected or waiting_for,
                    got=f"nothing; meanwhile {other.ending()}: {other.cause()}",
                    hint=other.ended_hint(),
                    where=other.where(),
                ) from None
            fail(
                summary,
                expected=expected or waiting_for,
                got=f"nothing in {seconds:g} s of event-loop time; the connection stayed open",
                hint=hint or None,
            )
        if isinstance(item, _Ended):
            self._inbox.put_nowait(item)  # later receives see the end too
            self.fail_ended(
                f"while {self.name} waited for {waiting_for}",
                hint=closed_hint,
                expected=expected,
            )
        return item

    async def receive_json(
        self,
        *,
        waiting_for: str,
        expected: str = "",
        seconds: float = RECEIVE_SECONDS,
        hint: str = "",
        closed_hint: str = "",
    ) -> Any:
        data = await self.receive(
            waiting_for=waiting_for,
            expected=expected,
            seconds=seconds,
            hint=hint,
            closed_hint=closed_hint,
        )
        try:
            return json.loads(data)
        except ValueError:
            fail(
                f"{self.name} received a message that is not JSON",
                expected=f"JSON: {expected or waiting_for}",
                got=show(data),
                hint="Send JSON text: `json.dumps(value)` or `await websocket.send_json(value)`.",
            )

    def unread(self) -> list[str | bytes]:
        """Messages that arrived and were not received yet (without waiting)."""
        items: list[str | bytes | _Ended] = []
        while not self._inbox.empty():
            items.append(self._inbox.get_nowait())
        for item in items:
            self._inbox.put_nowait(item)
        return [i for i in items if not isinstance(i, _Ended)]

    async def expect_nothing(
        self, *, summary: str, seconds: float = 1.0, hint: str = "", closed_hint: str = ""
    ) -> None:
        """Wait `seconds` of loop time: no message may arrive, and the connection stays open."""
        await asyncio.sleep(seconds)
        arrived = self.unread()
        if arrived:
            fail(
                summary,
                expected=f"nothing for {self.name}",
                got=f"{self.name} received {show(arrived[0])}"
                + (f" and {len(arrived) - 1} more" if len(arrived) > 1 else ""),
                hint=hint or None,
            )
        self.expect_open(f"while {self.name} waited", hint=closed_hint)

    def expect_open(self, when: str, *, hint: str = "") -> None:
        if self.state != "open":
            self.fail_ended(when, hint=hint)

    def ending(self) -> str:
        """What happened to the connection, in a learner's words."""
        if self.state == "refused":
            if self.refused_status is not None:
                return (
                    f"the server refused {self.name}'s connection to {self.path} "
                    f"(HTTP {self.refused_status})"
                )
            return f"the server ended {self.name}'s connection to {self.path} without accepting it"
        if self.state == "closed":
            code = f" (close code {self.close_code})" if self.close_code is not None else ""
            return f"the server closed {self.name}'s connection{code}"
        if self.state in ("left", "vanished"):
            return f"{self.name} had already {self.state}"
        return f"{self.name}'s connection is {self.state}"

    def cause(self) -> str:
        """Why the server side ended, if the learner's handler told us."""
        if self.handler_errors:
            return self.lab.describe_error(self.handler_errors[-1], where=False)
        if self.state == "refused" and self.refused_status == 404:
            return f"no WebSocket route matches {self.path}"
        if self.state == "refused" and self.refused_status is not None:
            body = bytes(self.refused_body).decode("utf-8", "replace").strip()
            return f"an HTTP {self.refused_status} answer: {show(body, 120)}"
        if self.state in ("closed", "refused"):
            return "its handler returned"
        return ""

    def ended_hint(self, hint: str = "") -> str:
        """What to try, given why the server side ended; `hint` fits a handler that raised
        or returned, while a missing route or an unwritten function get their own."""
        cause = self.cause()
        if "which is not written yet" in cause:
            return "Write that function: replace its `raise NotImplementedError` with your code."
        if cause.startswith("no WebSocket route"):
            return (
                "Declare the route with `@app.websocket(...)` (not `@app.route`), "
                "inside create_app."
            )
        if hint:
            return hint
        if cause.startswith("its handler returned"):
            return (
                "A WebSocket handler serves its client until it returns: keep receiving in a "
                "loop (`while True:`) and return only when the client should be let go."
            )
        return (
            "An exception that escapes the handler ends that client's connection. Read the "
            "line above: what in a message (or in a send) can raise there?"
        )

    def where(self) -> str | None:
        """The learner's line where this client's handler raised, if it did."""
        return self.lab.error_where(self.handler_errors[-1]) if self.handler_errors else None

    def fail_ended(self, when: str, *, hint: str = "", expected: str = "") -> NoReturn:
        """Fail: the server side ended this connection."""
        raise CheckFailed(
            f"{self.ending()} {when}".strip(),
            expected=expected or f"{self.name}'s connection stays open",
            got=self.cause() or self.ending(),
            hint=self.ended_hint(hint),
            where=self.where(),
        )

    async def leave(self, *, seconds: float = RECEIVE_SECONDS) -> None:
        """The client closes the connection properly (a close frame, code 1000), and its
        handler must finish: Quart cancels it."""
        if self.state in ("connecting", "open"):
            self.state = "left"
        self.sends = "drop"
        self._to_app.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await self.finished(seconds=seconds, after="left")

    def vanish(self, *, sends: SendMode = "drop", noticed_after: float | None = 0.0) -> None:
        """The client is gone without a close frame (a closed laptop, a lost network).

        sends: what a send to it does from now on: "drop" (Hypercorn) or "raise"
        (ClientDisconnected, as Uvicorn does). Once the server has noticed, Quart 0.23 raises
        ClientDisconnectedError itself, before a send reaches the server.
        noticed_after: loop seconds until the server notices (a disconnect with code 1006
        reaches the app); None: not before the lab closes.
        """
        if self.state in ("connecting", "open"):
            self.state = "vanished"
        self.sends = sends

        def notice() -> None:
            self._to_app.put_nowait({"type": "websocket.disconnect", "code": 1006})

        if noticed_after is not None:
            asyncio.get_running_loop().call_later(noticed_after, notice)

    async def finished(self, *, seconds: float = RECEIVE_SECONDS, after: str = "left") -> None:
        """Wait until the app is done with this connection (its handler has ended)."""
        assert self.task is not None
        done, _ = await asyncio.wait({self.task}, timeout=seconds)
        if not done:
            fail(
                f"{self.name}'s handler was still running {seconds:g} s after {self.name} {after}",
                expected="the handler ends when its client is gone",
                got="it kept running",
                hint="When a client leaves, Quart cancels its handler (asyncio.CancelledError). "
                "Let that exception through: clean up in `finally:`, and never catch "
                "CancelledError to carry on.",
            )


class WebSocketLab:
    """The clients of one app (an `http` test client from grader.lab.web.serving)."""

    def __init__(self, http: Any, learner: Learner | None = None) -> None:
        self.http = http
        self.app = http.app
        self.learner = learner
        self.clients: list[WebSocketClient] = []
        self._listening = False

    async def __aenter__(self) -> WebSocketLab:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close(quietly=exc[0] is not None)

    async def connect(
        self,
        name: str,
        path: str,
        *,
        send_delay: float = 0.0,
        seconds: float = RECEIVE_SECONDS,
        hint: str = "",
    ) -> WebSocketClient:
        """Open a connection; fails unless the app accepts it within `seconds`."""
        self._listen()
        client = WebSocketClient(self, name, path, send_delay)
        scope = dict(self.http.websocket(path).scope)  # Quart's test client builds the scope
        context = contextvars.copy_context()
        context.run(_CLIENT.set, client)  # so an error in the handler is traced to its client
        client.task = asyncio.create_task(client._serve(self.app, scope), context=context)
        self.clients.append(client)
        try:
            async with asyncio.timeout(seconds):
                await client._settled.wait()
        except TimeoutError:
            fail(
                f"the server never accepted {name}'s WebSocket connection to {path}",
                expected=f"the connection accepted within {seconds:g} s",
                got="still waiting: Quart accepts when the handler first receives or sends",
                hint=hint
                or "Start the handler's loop with `await websocket.receive()`; "
                "do not wait for anything else first.",
            )
        if client.state == "closed":
            client.fail_ended("right after accepting it", hint=hint)
        if client.state != "open":
            client.fail_ended("", hint=hint)
        for _ in range(SETTLE_STEPS):  # let the handler reach its first receive
            await asyncio.sleep(0)
        return client

    async def close(self, *, quietly: bool = False, seconds: float = RECEIVE_SECONDS) -> None:
        """Every client still there leaves; handlers that never end are reported."""
        try:
            for client in self.clients:
                if client.task is None or client.task.done():
                    continue
                if client.state in ("connecting", "open"):
                    client.state = "left"
                client.sends = "drop"
                client._to_app.put_nowait({"type": "websocket.disconnect", "code": 1000})
            tasks = {c.task for c in self.clients if c.task is not None}
            if tasks:
                await asyncio.wait(tasks, timeout=seconds)
            stuck = [c for c in self.clients if c.task is not None and not c.task.done()]
            if stuck and not quietly:
                names = ", ".join(c.name for c in stuck)
                fail(
                    f"handlers still running {seconds:g} s after their clients left: {names}",
                    expected="each handler ends when its client is gone",
                    got="they kept running",
                    hint="When a client leaves, Quart cancels its handler "
                    "(asyncio.CancelledError). Let that exception through: clean up in "
                    "`finally:`, and never catch CancelledError to carry on.",
                )
        finally:
            if self._listening:
                got_websocket_exception.disconnect(self._on_error, self.app)
                self._listening = False

    def _listen(self) -> None:
        if not self._listening:
            got_websocket_exception.connect(self._on_error, self.app, weak=False)
            self._listening = True

    async def _on_error(self, sender: Any, exception: BaseException, **extra: Any) -> None:
        client = _CLIENT.get()
        if client is not None and client.lab is self:
            client.handler_errors.append(exception)

    def describe_error(self, error: BaseException, *, where: bool = True) -> str:
        """`its handler raised KeyError: 'text' (exercises/ex06_websockets.py, line 40: ...)`,
        as far as known; `where=False` leaves out the place (see `error_where`)."""
        inner = leaf(error)
        at = self.error_where(error) if where else None
        suffix = f" ({at})" if at else ""
        frames = self._learner_frames(inner)
        if isinstance(inner, NotImplementedError) and frames:
            return f"its handler called {frames[-1].name}, which is not written yet{suffix}"
        text = f"its handler raised {type(inner).__name__}"
        message = str(inner)
        if message:
            text += f": {show(message, 160) if len(message) > 160 else message}"
        return text + suffix

    def error_where(self, error: BaseException) -> str | None:
        """The learner's line the error came through: `exercises/..., line 40: ...`."""
        from ..explain import where  # the grader's own reading of tracebacks

        frames = self._learner_frames(leaf(error))
        if not frames or self.learner is None:
            return None
        return where(frames[-1], self.learner.relpath)

    def _learner_frames(self, error: BaseException) -> list[Any]:
        from ..explain import learner_frames

        if self.learner is None:
            return []
        return learner_frames(error.__traceback__, self.learner.path)


def leaf(error: BaseException) -> BaseException:
    """The first real exception inside (nested) exception groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _quart_disconnected() -> type[BaseException]:
    """Quart 0.23's ClientDisconnectedError (what it makes of an OSError from a send);
    Quart 0.22 has none."""
    error: type[BaseException] = getattr(
        importlib.import_module("quart.wrappers.base"),
        "ClientDisconnectedError",
        ClientDisconnected,
    )
    return error
