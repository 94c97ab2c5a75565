"""Bounded capture of what a learner's code prints: megabytes of output cost nothing."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager

KEEP_CHARS = 4000


class BoundedWriter(io.TextIOBase):
    """Keeps the first KEEP_CHARS characters and counts the rest."""

    def __init__(self, keep: int = KEEP_CHARS) -> None:
        self.keep = keep
        self.parts: list[str] = []
        self.kept = 0
        self.total = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.total += len(text)
        room = self.keep - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        return len(text)

    def text(self) -> str:
        kept = "".join(self.parts)
        if self.total > self.kept:
            return f"{kept}\n... ({self.total - self.kept:,} more characters not shown)"
        return kept


@contextmanager
def captured() -> Iterator[BoundedWriter]:
    """stdout and stderr go to one bounded buffer while the block runs."""
    writer = BoundedWriter()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = writer
    try:
        yield writer
    finally:
        sys.stdout, sys.stderr = saved
