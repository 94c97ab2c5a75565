"""Calling a learner's plain function the way a plain script would: with no event loop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def call_without_loop(function: Callable[..., Any], *args: Any, timeout: float = 10) -> Any:
    """Call from a new thread, where no event loop exists or runs; exceptions come back."""
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # handed back to the check, which reports it
            outcome["error"] = exc

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(timeout)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
