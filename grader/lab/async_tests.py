"""Plain `async def` tests and async fixtures for pytest, each test on a virtual-time loop.

Chapter 14's tests run with this plugin everywhere: under `pytest exercises/ex14_testing.py`
(exercises/conftest.py registers it) and inside the grader, which runs the same tests on
faulty versions of the app. So a test behaves the same in both places:

- every test gets an event loop of its own, made before its fixtures and closed after their
  teardown; `async def` tests need no marker (`@pytest.mark.asyncio` is accepted and
  changes nothing), and `async def` fixtures, with `return` or `yield`, run on that loop;
- the loop is looptime's (grader.lab.clock): `asyncio.sleep(2)` costs no real time and
  `loop.time()` reads the virtual clock, so durations can be asserted exactly;
- a test or fixture still waiting after DEADLINE seconds of loop time fails, instead of
  hanging the run.

Why not pytest-asyncio with looptime's own plugin: each handles a part of a test's loop, and
how the two combine has changed between releases (with pytest-asyncio 1.5 and looptime 0.9,
an async fixture's sleep still takes real time while the test's is virtual). The grader
needs one behaviour on Python 3.11 to 3.14, in its sandbox, with its own loop class (its
clock cannot be moved back): a plugin that owns the loop does both jobs.
"""

from __future__ import annotations

import asyncio
import inspect
import linecache
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, TypeVar

import pytest

from .clock import new_virtual_loop

T = TypeVar("T")
DEADLINE = 60.0  # seconds of loop time a test (or one fixture) may wait
CLEANUP_SECONDS = 10.0  # loop seconds given to the tasks a test left behind, once cancelled


NAME = "course-async-tests"  # the name the plugin is registered under


def pytest_configure(config: pytest.Config) -> None:
    """`pytest -p grader.lab.async_tests ...` loads this module: it registers the plugin."""
    if not config.pluginmanager.has_plugin(NAME):
        config.pluginmanager.register(AsyncTests(), NAME)


class AsyncTests:
    """The plugin: `config.pluginmanager.register(AsyncTests(), NAME)`, or `-p` this module."""

    def __init__(self, *, deadline: float = DEADLINE) -> None:
        self.deadline = deadline
        self.loop: asyncio.AbstractEventLoop | None = None  # the current test's
        self.file = ""  # the current test's file

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line(
            "markers", "asyncio: accepted and ignored: every async def test runs on a loop"
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        # Before the test's fixtures: an async fixture runs on the loop of its test.
        self.close_loop()
        self.loop = new_virtual_loop()
        self.file = str(item.path)
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, None, None]:
        try:
            return (yield)  # the fixtures' teardown, async ones included, on the loop
        finally:
            self.close_loop()

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        test = pyfuncitem.obj
        if not inspect.iscoroutinefunction(test):
            return None  # a plain test: pytest calls it
        names = pyfuncitem._fixtureinfo.argnames
        kwargs = {name: pyfuncitem.funcargs[name] for name in names}
        self.run(test(**kwargs), f"{pyfuncitem.name}")
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, Any, Any]:
        function = fixturedef.func
        if not (inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)):
            return (yield)
        if fixturedef.scope != "function":
            pytest.fail(
                f"the async fixture {fixturedef.argname!r} has scope={fixturedef.scope!r}: "
                "every test has an event loop of its own, so an async fixture must have "
                "the default scope (function)",
                pytrace=False,
            )
        # pytest calls fixturedef.func: for the time of this setup, a plain function (or
        # generator) that runs the async one on the test's loop.
        fixturedef.func = self.on_loop(function, fixturedef.argname, request)  # type: ignore[misc]
        try:
            return (yield)
        finally:
            fixturedef.func = function  # type: ignore[misc]

    def on_loop(
        self, function: Callable[..., Any], name: str, request: pytest.FixtureRequest
    ) -> Callable[..., Any]:
        instance = request.instance
        if instance is not None and hasattr(function, "__func__"):
            function = function.__func__.__get__(instance)  # a fixture of a test class

        if inspect.isasyncgenfunction(function):

            def setup_and_teardown(**kwargs: Any) -> Iterator[Any]:
                steps = function(**kwargs)
                try:
                    value = self.run(steps.__anext__(), f"the fixture {name}")
                except StopAsyncIteration:
                    pytest.fail(f"the fixture {name} did not yield a value", pytrace=False)
                yield value
                try:
                    self.run(steps.__anext__(), f"the teardown of the fixture {name}")
                except StopAsyncIteration:
                    return
                pytest.fail(f"the fixture {name} yielded twice", pytrace=False)

            return setup_and_teardown

        def setup(**kwargs: Any) -> Any:
            return self.run(function(**kwargs), f"the fixture {name}")

        return setup

    def run(self, awaitable: Awaitable[T], what: str) -> T:
        loop = self.loop
        if loop is None or loop.is_closed():
            raise RuntimeError(
                "an async test or fixture ran outside a test's setup, call or teardown"
            )
        return loop.run_until_complete(self.within_deadline(awaitable, what))

    async def within_deadline(self, awaitable: Awaitable[T], what: str) -> T:
        # A task of its own, so that when the deadline passes the line it waits on can be
        # read before it is cancelled.
        task = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait({task}, timeout=self.deadline)
        if task in done:
            return task.result()
        line = waiting_at(task, self.file)
        task.cancel()
        await asyncio.wait({task}, timeout=CLEANUP_SECONDS)
        pytest.fail(
            f"{what} was still waiting after {self.deadline:g} s of event-loop time"
            + (f", at {line}" if line else "")
            + " (it awaits something that never happens?)",
            pytrace=False,
        )

    def close_loop(self) -> None:
        """Cancel what the test left running, give it time to finish, close the loop."""
        loop, self.loop = self.loop, None
        if loop is None or loop.is_closed():
            return
        try:
            leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.wait(leftovers, timeout=CLEANUP_SECONDS))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def waiting_at(task: asyncio.Future[Any], file: str) -> str:
    """ "line 12: await event.wait()": the innermost line of `file` the task's chain of
    coroutines is suspended at."""
    found = ""
    awaited: Any = task.get_coro() if isinstance(task, asyncio.Task) else None
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is None:
            break
        if frame.f_code.co_filename == file:
            source = linecache.getline(file, frame.f_lineno).strip()
            found = f"line {frame.f_lineno}" + (f": {source}" if source else "")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return found
