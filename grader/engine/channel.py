"""The results channel between the child and the supervisor: a private pipe of signed lines.

Each event is one line, `MAC SEQ JSON`, where MAC is an HMAC-SHA256 over `SEQ JSON` with a
key the supervisor hands to the child on its stdin (never in argv, the environment or a
file). A learner's code can write to the pipe's descriptor, but without the key it cannot
write a line the supervisor accepts, and sequence numbers stop replays: a forged, garbled
or reordered line is a tampered channel, and the chapter fails with that explanation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

MAX_LINE = 2_000_000  # bytes; the child caps every text it sends far below this
Writer = Callable[..., None]


class ChannelError(Exception):
    """The results channel carried something the child never wrote."""


def new_key() -> bytes:
    return os.urandom(32)


def make_writer(fd: int, key: bytes) -> Writer:
    """`write(event, **fields)` for the child. A closure: the key and the counter are not
    attributes that code in the same process could look up by name."""
    sequence = 0
    digest = hashlib.sha256
    new_mac = hmac.new
    dumps = json.dumps
    os_write = os.write

    def write(event: str, **fields: Any) -> None:
        nonlocal sequence
        sequence += 1
        body = f"{sequence} {dumps({'event': event, **fields}, ensure_ascii=True)}"
        line = f"{new_mac(key, body.encode(), digest).hexdigest()} {body}\n".encode()
        view = memoryview(line)
        while view:
            written = os_write(fd, view)
            view = view[written:]

    return write


class Reader:
    """Feeds on raw bytes from the pipe and yields verified events, in order."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.expected = 1
        self.buffer = b""

    def feed(self, data: bytes) -> Iterator[dict[str, Any]]:
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            yield self.verify(line)
        if len(self.buffer) > MAX_LINE:
            raise ChannelError(f"a line of over {MAX_LINE:,} bytes")

    def verify(self, line: bytes) -> dict[str, Any]:
        try:
            mac, body = line.decode("ascii").split(" ", 1)
            number, payload = body.split(" ", 1)
        except (UnicodeDecodeError, ValueError):
            raise ChannelError("a line that is not an event") from None
        good = hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, good):
            raise ChannelError("a line that the grader did not sign")
        if number != str(self.expected):
            raise ChannelError(f"event {number} where event {self.expected} was due")
        self.expected += 1
        try:
            event = json.loads(payload)
        except ValueError:
            raise ChannelError("a signed line that is not JSON") from None
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            raise ChannelError("a signed line that is not an event")
        return event

    def leftover(self) -> bool:
        """Bytes after the last complete line: a partial write cut off by the child's end."""
        return bool(self.buffer.strip())
