"""Calling a learner's plain function the way a plain script would: with no event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


def forget_loops() -> None:
    """Make this thread's event-loop state that of a process that just started (no loop
    set, none ever set), keeping the same policy object: asyncio.get_event_loop() then
    behaves as it does in the learner's own script. (Policies are deprecated from 3.14;
    the private getter does not warn.)"""
    getter = getattr(asyncio.events, "_get_event_loop_policy", None)
    policy: Any = getter() if getter is not None else asyncio.get_event_loop_policy()
    local = getattr(policy, "_Local", None)
    if local is not None:
        policy._local = local()


def call_without_loop(function: Callable[..., Any], *args: Any, timeout: float = 10) -> Any:
    """As a fresh script calls it: on the main thread with no event-loop history when the
    caller runs no loop (a plain check), else from a new thread; exceptions come back."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if threading.current_thread() is threading.main_thread():
            forget_loops()
            try:
                return function(*args)
            finally:
                forget_loops()
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
