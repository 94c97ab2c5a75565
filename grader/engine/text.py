"""Caps and cleaning for every text that comes from a learner's code: a 10 MB exception
message or a line of terminal escape codes is shortened and made harmless before anyone
sees it (in the child, and again in the supervisor, which trusts nothing it receives)."""

from __future__ import annotations

import re
from typing import Any

FIELD_CHARS = 1_000  # summary, where, expected, got, hint
OUTPUT_CHARS = 4_000  # what the learner's code printed during one check
TRACEBACK_CHARS = 12_000
LINE_CHARS = 400  # one line of printed output or source

# Escape sequences (CSI, OSC, two-character ESC forms), then every other control character
# but newline and tab, the C1 controls, and the bidirectional overrides that reorder text.
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b[@-_]")
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    return CONTROLS.sub("", ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))


def cap(text: Any, limit: int = FIELD_CHARS, *, line_limit: int = LINE_CHARS) -> str:
    """At most `limit` characters, no line longer than `line_limit`, nothing that steers a
    terminal; says how much was cut."""
    value = text if isinstance(text, str) else str(text)
    cut = len(value) - limit
    if cut > 0:
        value = value[:limit]
    lines = []
    for line in clean(value).split("\n"):
        if len(line) > line_limit:
            line = f"{line[:line_limit]}... ({len(line) - line_limit:,} more characters)"
        lines.append(line)
    value = "\n".join(lines)
    if cut > 0:
        value += f"\n... ({cut:,} more characters not shown)"
    return value


def cap_optional(text: Any, limit: int = FIELD_CHARS) -> str | None:
    return None if text is None else cap(text, limit)
