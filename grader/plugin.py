"""The pytest plugin that runs a chapter's checks inside the grader's child process.

It loads the learner's file, runs each check (async ones on a virtual-time loop with
blocking-call detection scoped to the learner's file), turns failures into feedback and
writes one JSON event per line to the events file, which the supervising process reads.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

import pytest

from .blocking import LearnerBlockBuster
from .capture import captured
from .explain import explain, explain_load, format_traceback
from .lab.clock import new_virtual_loop
from .lab.learner import Learner, load_module
from .results import Feedback

CLEANUP_LOOP_SECONDS = 60.0
OUTPUT_LIMIT = 1_000_000  # characters a learner's code may print during one check


class GraderPlugin:
    def __init__(self, learner_path: Path, relpath: str, module_name: str, events: IO[str]) -> None:
        self.path = learner_path
        self.relpath = relpath
        self.module_name = module_name
        self.events = events
        self.feedback: Any = None
        self.traceback = ""
        self.loop_seconds = 0.0
        self.blockbuster = LearnerBlockBuster(learner_path)

    def emit(self, event: str, **fields: Any) -> None:
        self.events.write(json.dumps({"event": event, **fields}) + "\n")
        self.events.flush()

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line(
            "markers", "grader_check(name, task, points): a check shown to the learner"
        )

    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        checks = []
        for item in items:
            mark = item.get_closest_marker("grader_check")
            if mark is None:
                raise pytest.UsageError(f"{item.nodeid} has no @check(...) declaration")
            checks.append({"id": item.name, **mark.kwargs})
        self.emit("collected", checks=checks)
        with captured() as out:
            try:
                load_module(self.path, self.module_name)
            except BaseException as exc:  # a learner's file may raise anything, even SystemExit
                problem = explain_load(exc, self.path, self.relpath)
                self.emit(
                    "load",
                    ok=False,
                    problem=vars(problem),
                    output=out.text(),
                    traceback=format_traceback(exc),
                )
                items.clear()
                return
        if out.total > OUTPUT_LIMIT:
            problem = flooded(out.total, "when it was imported")
            self.emit("load", ok=False, problem=vars(problem), output=out.text(), traceback="")
            items.clear()
            return
        self.emit("load", ok=True, output=out.text())

    @pytest.fixture
    def learner(self) -> Learner:
        """The learner's module, imported afresh for every check so checks cannot leak spies."""
        return Learner(load_module(self.path, self.module_name), self.path, self.relpath)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, Any, Any]:
        self.feedback, self.traceback, self.loop_seconds = None, "", 0.0
        self.failed = False
        self.emit("start", id=item.name)
        started = time.perf_counter()
        with captured() as out:
            result = yield
        if out.total > OUTPUT_LIMIT and not self.failed:
            self.failed = True
            self.feedback = flooded(out.total, "while this check ran")
        self.emit(
            "result",
            id=item.name,
            status="failed" if self.failed else "passed",
            feedback=vars(self.feedback) if self.feedback else None,
            traceback=self.traceback,
            output=out.text(),
            loop_seconds=round(self.loop_seconds, 4),
            wall_seconds=round(time.perf_counter() - started, 4),
        )
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        if report.failed:
            self.failed = True
            if self.feedback is None and call.excinfo is not None:
                exc = call.excinfo.value
                self.feedback = explain(exc, self.path, self.relpath)
                self.traceback = format_traceback(exc)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        function = pyfuncitem.obj
        if not inspect.iscoroutinefunction(function):
            return None
        kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        self.run_on_virtual_loop(function(**kwargs))
        return True

    def run_on_virtual_loop(self, coro: Any) -> None:
        loop = new_virtual_loop()
        asyncio.set_event_loop(loop)
        self.blockbuster.violations.clear()
        try:
            self.blockbuster.activate()
            try:
                loop.run_until_complete(coro)
            finally:
                self.blockbuster.deactivate()
                self.loop_seconds = loop.time()
                cancel_leftovers(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()
            if self.blockbuster.violations:
                # Reported even when the check passed or failed for another reason: a web
                # framework turns the BlockingError into a 500, and the cause matters most.
                raise self.blockbuster.violations[0]


def flooded(total: int, when: str) -> Feedback:
    return Feedback(
        f"Your code printed {total / 1e6:.1f} million characters {when}",
        expected=f"at most {OUTPUT_LIMIT / 1e6:g} million: a few lines of debugging output",
        got=f"{total:,} characters (the first lines are shown below)",
        hint="A print inside a loop floods the output and slows everything down. Remove it, "
        "or print less.",
    )


def cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Tasks a learner's code left behind are cancelled, and given (virtual) time to finish."""
    leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.wait(leftovers, timeout=CLEANUP_LOOP_SECONDS))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
