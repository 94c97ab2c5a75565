"""The pytest plugin that runs a chapter's checks inside the grader's child process.

It loads the learner's file, runs each check (async ones on the grader's own virtual-time
loop with blocking-call detection scoped to the learner's file), decides each verdict
itself and sends one signed event per step to the supervisor.

A verdict is the plugin's own: a check passes only when the plugin ran its function to the
end without an exception, every phase pytest reports (setup, call, teardown) passed, the
learner's code was refused nothing, and nothing the learner did not define was changed.
A skip, an xfail, an error or a missing result is a failure. What decides and what sends
is bound when the plugin is made, so later changes to modules or classes cannot reach it.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import re
import sys
import time
import warnings
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..explain import explain, explain_load, format_traceback, source_line, stuck_before
from ..lab.clock import clock_replaced, clock_went_back, new_virtual_loop, stopped_at
from ..lab.feedback import CheckFailed
from ..lab.learner import Learner, load_module
from ..lab.threads import forget_loops
from ..results import Feedback
from . import text
from .blocking import LearnerBlockBuster
from .capture import captured
from .channel import Writer
from .integrity import Snapshot
from .policy import Policy, guard_module_imports

CLEANUP_LOOP_SECONDS = 60.0
OUTPUT_LIMIT = 1_000_000  # characters a learner's code may print during one check


@dataclass
class CheckState:
    call_ok: bool = False
    phases: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None
    feedback: Feedback | None = None
    traceback: str = ""
    loop_seconds: float = 0.0


class GraderPlugin:
    def __init__(
        self, config: dict[str, Any], policy: Policy, write: Writer, *, seal: Callable[[], None]
    ) -> None:
        self._write = write
        self._seal = seal
        self.path = Path(config["file"])
        self.relpath = str(config["relpath"])
        self.module_name = str(config["module"])
        self.slow_import = float(config["slow_import"])
        self.stuck: dict[str, dict[str, Any]] = dict(config.get("stuck", {}))
        self.policy = policy
        self._refusals = policy.refusals
        self.sandboxed = bool(config["sandbox"])
        self._guard: Callable[[dict[str, Any]], None] | None = (
            (lambda ns: guard_module_imports(ns, policy)) if self.sandboxed else None
        )
        self._verify: Callable[[], list[Any]] = lambda: []
        self.blockbuster = LearnerBlockBuster(self.path)
        self.state = CheckState()
        self.task: int | None = None  # the task of the check that runs

    # --- collection and the first import -----------------------------------------------

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
        self._write("collected", checks=checks)
        self._seal()
        # Once activated, blockbuster leaves its own copies of some methods in class
        # namespaces: a first round here, so that is the state the snapshot records.
        self.blockbuster.activate()
        self.blockbuster.deactivate()
        # Everything the grader will use is imported by now: this is what must not change.
        if self.sandboxed:
            self._verify = Snapshot(exempt={self.module_name}).verify_and_restore
        problem = self._first_import()
        if problem is not None:
            items.clear()

    def _first_import(self) -> Feedback | None:
        started = time.perf_counter()
        with captured() as out:
            try:
                self._load()
            except BaseException as exc:  # a learner's file may raise anything, even SystemExit
                failed = self._refused() or explain_load(exc, self.path, self.relpath)
                self._send_load(failed, out.text(), format_traceback(exc, self.path, self.relpath))
                return failed
        took = time.perf_counter() - started
        problem: Feedback | None = self._refused()
        if problem is None and out.total > OUTPUT_LIMIT:
            problem = flooded(out.total, "when it was imported")
        if problem is None and took > self.slow_import:
            problem = slow_import(self.relpath, took, self.slow_import)
        self._send_load(problem, out.text(), "")
        return problem

    def _send_load(self, problem: Feedback | None, output: str, traceback: str) -> None:
        self._write(
            "load",
            ok=problem is None,
            problem=capped(problem),
            output=text.cap(output, text.OUTPUT_CHARS),
            traceback=text.cap(traceback, text.TRACEBACK_CHARS),
        )

    def _refused(self) -> Feedback | None:
        if not self._refusals:
            return None
        return Feedback(
            self._refusals[0].replace("your file", "Your file", 1),
            hint="The grader runs your file in a sandbox. Remove that line: the exercise "
            "does not need it.",
        )

    def _load(self) -> Any:
        module = load_module(self.path, self.module_name, prepare=self._guard)
        for info in self.stuck.values():
            original = getattr(module, info["function"], None)
            if info["task"] == self.task and callable(original):
                setattr(module, info["function"], stuck_stand_in(original, info))
        return module

    @pytest.fixture
    def learner(self) -> Learner:
        """The learner's module, imported afresh for every check so checks cannot leak spies."""
        return Learner(self._load(), self.path, self.relpath)

    # --- one check --------------------------------------------------------------------

    # Outermost: pytest's own wrappers have put back what they change for a test (the
    # assertion plugin's helpers) before the integrity snapshot is compared.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, Any, Any]:
        state = self.state = CheckState()
        mark = item.get_closest_marker("grader_check")
        self.task = mark.kwargs.get("task") if mark else None
        self._refusals.clear()
        forget_loops()  # no loop history from earlier checks
        self._write("start", id=item.name)
        started = time.perf_counter()
        with captured() as out, never_awaited() as unawaited:
            try:
                result = yield
            finally:
                changes = self._verify()
            passed, feedback, notes = self._verdict(state, changes, out.total)
            if not passed:
                gc.collect()  # a coroutine nobody awaited is reported when it is collected
        if not passed and feedback is not None and unawaited:
            feedback = self._name_missing_await(feedback, unawaited)
        self._write(
            "result",
            id=item.name,
            status="passed" if passed else "failed",
            feedback=capped(feedback),
            traceback=text.cap(state.traceback, text.TRACEBACK_CHARS),
            output=text.cap(out.text(), text.OUTPUT_CHARS),
            notes=[text.cap(n) for n in notes],
            loop_seconds=round(state.loop_seconds, 4),
            wall_seconds=round(time.perf_counter() - started, 4),
        )
        return result

    def _verdict(
        self, state: CheckState, changes: list[Any], printed: int
    ) -> tuple[bool, Feedback | None, list[str]]:
        notes: list[str] = []
        refused = self._refused()
        phases_ok = all(state.phases.get(w) == "passed" for w in ("setup", "call", "teardown"))
        if refused is not None:
            notes.extend(self._refusals)
            return False, refused, notes
        if changes:
            names = ", ".join(str(c) for c in changes[:5])
            notes.append(f"changed what it did not define: {names}")
            return False, changed_grader(names), notes
        if printed > OUTPUT_LIMIT:
            return False, flooded(printed, "while this check ran"), notes
        if state.call_ok and phases_ok and state.error is None:
            return True, None, notes
        if state.feedback is None:
            error = state.error
            if error is None:
                state.feedback = Feedback(
                    "This check did not run to its end",
                    hint="Run again with --verbose; if this persists, tell your teacher.",
                )
            else:
                state.feedback = explain(error, self.path, self.relpath)
                state.traceback = format_traceback(error, self.path, self.relpath)
        return False, state.feedback, notes

    def _name_missing_await(self, feedback: Feedback, unawaited: list[str]) -> Feedback:
        """A coroutine created and never awaited is the learner's most common mistake; its
        origin (tracked while checks run) names the line that forgot the `await`."""
        target = str(self.path)
        for message in unawaited:
            name = message.split("'")[1] if message.count("'") >= 2 else "a coroutine"
            lines = [m for m in ORIGIN.finditer(message) if m["file"] == target]
            if not lines:
                continue
            number = int(lines[-1]["line"])
            where = f"{self.relpath}, line {number}: {source_line(self.path, number)}"
            return Feedback(
                feedback.summary,
                expected=feedback.expected,
                got=feedback.got,
                where=feedback.where if "'coroutine' object" not in feedback.summary else where,
                hint=f"Your code called {name}() at {where} and never awaited it: a "
                "missing `await`? Calling a coroutine function only makes a coroutine; "
                "`await` runs it." + (f" {feedback.hint}" if feedback.hint else ""),
            )
        return feedback

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.state.phases[report.when] = report.outcome

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        if call.excinfo is not None and self.state.error is None:
            self.state.error = call.excinfo.value
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool:
        function = pyfuncitem.obj
        kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        try:
            if inspect.iscoroutinefunction(function):
                self.run_on_virtual_loop(function(**kwargs))
            else:
                function(**kwargs)
        except BaseException as error:
            # Kept as raised: pytest turns some exceptions into others (a unittest.SkipTest
            # into its own skip) before its report is made.
            self.state.error = error
            raise
        self.state.call_ok = True
        return True

    def run_on_virtual_loop(self, coro: Any) -> None:
        loop = new_virtual_loop()
        asyncio.set_event_loop(loop)
        self.blockbuster.violations.clear()
        try:
            self.blockbuster.activate()
            try:
                loop.run_until_complete(coro)
            except RuntimeError as error:
                where = stopped_at(loop)
                if where is not None and "stopped before Future completed" in str(error):
                    raise loop_stopped(where, self.path, self.relpath) from None
                raise
            finally:
                self.blockbuster.deactivate()
                self.state.loop_seconds = loop.time()
                cancel_leftovers(loop)
        finally:
            asyncio.set_event_loop(None)
            went_back = clock_went_back(loop)
            replaced = clock_replaced(loop)
            loop.close()
            if self.blockbuster.violations:
                # Reported even when the check passed or failed for another reason: a web
                # framework turns the BlockingError into a 500, and the cause matters most.
                raise self.blockbuster.violations[0]
            if replaced:
                raise CheckFailed(
                    f"Your code replaced loop.{replaced}: the event loop's clock is not yours",
                    expected="your code reads the time (loop.time()) and never sets it",
                    got=f"an assignment to loop.{replaced} (it was refused)",
                    hint="Never assign to the loop's attributes; measure with loop.time().",
                )
            if went_back:
                raise CheckFailed(
                    "Your code moved the event loop's clock backwards",
                    expected="time that only moves forwards",
                    got="the loop's time was set back, or its clock replaced",
                    hint="Never assign to the loop's attributes; measure with loop.time().",
                )


ORIGIN = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


@contextmanager
def never_awaited() -> Iterator[list[str]]:
    """The "coroutine ... was never awaited" warnings of a check, each with the lines the
    coroutine was created at; they are still shown as usual."""
    found: list[str] = []
    original = warnings.showwarning
    sys.set_coroutine_origin_tracking_depth(16)

    def record(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, RuntimeWarning) and "was never awaited" in str(message):
            found.append(str(message))
        original(message, category, *args, **kwargs)

    warnings.showwarning = record
    try:
        yield found
    finally:
        warnings.showwarning = original
        sys.set_coroutine_origin_tracking_depth(0)


def capped(feedback: Feedback | None) -> dict[str, Any] | None:
    if feedback is None:
        return None
    return {
        "summary": text.cap(feedback.summary),
        "expected": text.cap_optional(feedback.expected),
        "got": text.cap_optional(feedback.got),
        "hint": text.cap_optional(feedback.hint),
        "where": text.cap_optional(feedback.where),
    }


def stuck_stand_in(original: Callable[..., Any], info: dict[str, Any]) -> Callable[..., Any]:
    """A stand-in for a learner's function that hung in an earlier check: calling it fails
    at once with that story, instead of hanging again for the full time limit."""

    def fail_at_once() -> None:
        raise stuck_before(original.__name__, info)

    if inspect.iscoroutinefunction(original):

        async def stuck_async(*args: Any, **kwargs: Any) -> Any:
            fail_at_once()

        return stuck_async

    def stuck_plain(*args: Any, **kwargs: Any) -> Any:
        fail_at_once()

    return stuck_plain


def loop_stopped(where: Any, path: Path, relpath: str) -> CheckFailed:
    target = str(path)
    frames = [f for f in where if f.filename == target]
    line = f"{relpath}, line {frames[-1].lineno}: {(frames[-1].line or '').strip()}"
    return CheckFailed(
        "Your code stopped the event loop (loop.stop()) while the check was running",
        where=line if frames else None,
        expected="the coroutine returns; whoever runs the loop stops it",
        got="loop.stop() ended the check before your code had finished",
        hint="Remove loop.stop(): return from the coroutine instead. asyncio.run and the "
        "server stop their loop themselves.",
    )


def changed_grader(names: str) -> Feedback:
    return Feedback(
        f"Your code changed what it did not define: {names}",
        expected="your file changes only its own functions and variables",
        got="an attribute of a library, of the grader or of the builtins was replaced",
        hint="Do not assign to attributes of modules or classes you import. The original was "
        "put back for the next check.",
    )


def flooded(total: int, when: str) -> Feedback:
    return Feedback(
        f"Your code printed {total / 1e6:.1f} million characters {when}",
        expected=f"at most {OUTPUT_LIMIT / 1e6:g} million: a few lines of debugging output",
        got=f"{total:,} characters (the first lines are shown below)",
        hint="A print inside a loop floods the output and slows everything down. Remove it, "
        "or print less.",
    )


def slow_import(relpath: str, took: float, limit: float) -> Feedback:
    return Feedback(
        f"Importing {relpath} took {took:.1f} s",
        expected=f"under {limit:g} s: importing a file only defines its functions",
        got=f"{took:.1f} s of real time at the top level of the file",
        hint="Every check imports your file again, so a slow import slows every check. Move "
        "sleeps, loops and I/O at the top level into functions (no I/O at import time).",
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
