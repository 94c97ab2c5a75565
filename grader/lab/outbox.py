"""Background work, as a check sees it: a mail sender that records every send, the log
records and the loop's unhandled-exception reports made while a block runs, and serving an
app with a shutdown as patient as the app asks for.

    outbox = Outbox(delay=3.0, failures={"bad@example.com"})
    app = create_app(send_email=outbox.send)
    outbox.sent        # one Sending per call: address, start, end, outcome
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from .web import serving


class SendFailed(Exception):
    """The fake mail server refused a message."""


@dataclass
class Sending:
    """One call of the sender. outcome: running, sent, failed or cancelled."""

    to: str
    subject: str
    body: str
    started: float
    ended: float | None = None
    outcome: str = "running"


class Outbox:
    """A stand-in for a mail server: each send waits `delay` seconds (`delays` per address),
    then succeeds, or raises SendFailed for an address in `failures`."""

    def __init__(
        self,
        *,
        delay: float = 3.0,
        delays: dict[str, float] | None = None,
        failures: set[str] | None = None,
    ) -> None:
        self.delay = delay
        self.delays = dict(delays or {})
        self.failures = set(failures or ())
        self.sent: list[Sending] = []
        self.errors: list[SendFailed] = []

    async def send(self, to: str, subject: str, body: str) -> None:
        loop = asyncio.get_running_loop()
        sending = Sending(to, subject, body, started=loop.time())
        self.sent.append(sending)
        try:
            await asyncio.sleep(self.delays.get(to, self.delay))
            if to in self.failures:
                error = SendFailed(f"the mail server refused {to} (simulated)")
                self.errors.append(error)
                sending.outcome = "failed"
                raise error
            sending.outcome = "sent"
        except asyncio.CancelledError:
            sending.outcome = "cancelled"
            raise
        finally:
            sending.ended = loop.time()

    def with_outcome(self, outcome: str) -> list[Sending]:
        return [s for s in self.sent if s.outcome == outcome]

    def calls(self) -> list[tuple[str, str, str]]:
        return [(s.to, s.subject, s.body) for s in self.sent]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def recorded_logs() -> Iterator[list[logging.LogRecord]]:
    """Every log record that reaches the root logger while the block runs, at any level
    (so that an error logged at INFO can be named as such). app.logger and
    logging.getLogger(__name__) both propagate to the root."""
    root = logging.getLogger()
    handler = _Records()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@contextmanager
def loop_exception_reports() -> Iterator[list[dict[str, Any]]]:
    """What reaches the running loop's exception handler while the block runs: "Task
    exception was never retrieved", "Task was destroyed but it is pending!"... Garbage is
    collected before the block ends, so tasks that nobody references report now."""
    loop = asyncio.get_running_loop()
    reports: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    try:
        yield reports
        gc.collect()
    finally:
        loop.set_exception_handler(previous)


@asynccontextmanager
async def serving_patiently(app: Any, *, patience: int = 120) -> AsyncIterator[Any]:
    """Like grader.lab.web.serving, but the shutdown may take up to `patience` loop seconds
    (Quart's test app gives up after 6): the app's own BACKGROUND_TASK_SHUTDOWN_TIMEOUT
    decides how long it waits for background tasks."""
    async with serving(
        app,
        patience=patience,
        hint="Look at your after_serving and while_serving functions. Bound each send "
        "with asyncio.timeout(SEND_TIMEOUT), and set BACKGROUND_TASK_SHUTDOWN_TIMEOUT a "
        "little above it.",
    ) as client:
        yield client
