"""`grader serve [--host 127.0.0.1] [--port 8800] [--data PATH]`: the live workshop
dashboard (grader.dashboard) on Hypercorn, until Ctrl-C.

It prints two lines, the teacher's link and the learners' command:
    dashboard: http://HOST:PORT/?key=TEACHER_KEY
    learners: grader check NN --share http://HOST:PORT/r/ROOM_CODE --name YOUR_NAME
The room code, the key and every result are kept in the SQLite file (default
.grader/dashboard.sqlite3): a restart prints the same lines and loses nothing.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from ..course import Course, CourseError, declared_checks

if TYPE_CHECKING:
    from ..dashboard.app import Dashboard

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8800
DATA_NAME = "dashboard.sqlite3"


def run(
    course: Course,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    data: Path | None = None,
) -> int:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from ..dashboard import create_app

    path = (data or course.state_dir / DATA_NAME).expanduser().resolve()
    listener = listen(host, port)  # first: a port in use is said before anything is made
    try:
        app = create_app(
            data=path,
            title=course.title,
            chapters={chapter.id: chapter.title for chapter in course.chapters},
            checks={
                chapter.id: {d.name for d in declared_checks(chapter.checks)}
                for chapter in course.chapters
            },
        )
    except (OSError, sqlite3.Error) as error:
        listener.close()
        raise CourseError(f"cannot use {path} for the dashboard's data: {error}") from None
    board: Dashboard = app.extensions["dashboard"]
    address = f"http://{url_host(host)}:{listener.getsockname()[1]}"
    print(f"dashboard: {address}/?key={board.teacher_key}")
    print(
        f"learners: grader check NN --share {address}/r/{board.room_code} --name YOUR_NAME",
        flush=True,
    )

    config = Config()
    config.bind = [f"fd://{listener.detach()}"]  # the socket bound above, port 0 included
    config.accesslog = None  # the teacher key is in the URLs: never in a log
    config.loglevel = "WARNING"  # the two lines above are all a teacher needs to read
    config.websocket_max_message_size = 64 * 1024
    config.graceful_timeout = 3.0
    asyncio.run(serve(app, config, mode="asgi", shutdown_trigger=lambda: stopped(board)))
    return 0


async def stopped(board: Dashboard) -> None:
    """Until Ctrl-C (SIGINT) or SIGTERM; then the open pages are told first, so that
    Hypercorn's graceful stop does not wait for their WebSockets."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    board.going_away()


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or one line saying why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
    except OSError as error:
        raise CourseError(f"cannot listen on {host}:{port}: {error}") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by every connection: a response's head and body are not held back
        # for a delayed acknowledgement (what Hypercorn sets on the sockets it binds).
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind(address)
        listener.listen(1024)
    except OSError as error:
        listener.close()
        why = error.strerror or str(error)
        raise CourseError(
            f"cannot listen on {host}:{port}: {why} (another `grader serve`? try --port)"
        ) from None
    return listener


def url_host(host: str) -> str:
    """How learners reach `host`: listening on every address (0.0.0.0, ::), the machine's
    address on the room's network, found by routing (no packet is sent)."""
    if host in ("0.0.0.0", "::", ""):
        host = room_address() or host
    return f"[{host}]" if ":" in host else host


def room_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routed, never delivered
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address
