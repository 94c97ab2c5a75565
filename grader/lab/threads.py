"""Calling a learner's plain function the way a plain script would: with no event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


def call_without_loop(function: Callable[..., Any], *args: Any, timeout: float = 10) -> Any:
    """As a fresh script calls it: on the main thread with no event-loop history when the
    caller runs no loop (a plain check), else from a new thread; exceptions come back."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if threading.current_thread() is threading.main_thread():
            # A new policy forgets every loop set before, as in a process that just started:
            # asyncio.get_event_loop() then behaves as it does in the learner's script.
            asyncio.set_event_loop_policy(None)
            try:
                return function(*args)
            finally:
                asyncio.set_event_loop_policy(None)
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
