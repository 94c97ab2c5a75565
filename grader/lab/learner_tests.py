"""The grader turned around (chapter 14): the learner writes tests, the checks run them.

`run_suite` runs the learner's test file in a pytest session of its own, nested inside the
check, against one version of the given app: the app as given (grader/lab/todo_app.py, the
grader's copy of exercises/ex14_todo_app.py) or a faulty version of it (`app_version`,
made from the given source by exact string edits). It answers what became of each test.

How the learner's tests run, and why:
- The learner's file is executed here, not imported by the nested pytest: with the
  sandbox's import guard of the check's own `learner` module (it is the learner's code),
  and with pytest's assertion rewriting, so that a failing `assert` says what it compared.
  A collector hands that module to pytest; the learner's fixtures, parametrize and helpers
  work as in any pytest run.
- Async tests and fixtures run on virtual-time loops (grader.lab.async_tests), exactly as
  `pytest exercises/ex14_testing.py` runs them (exercises/conftest.py).
- The fixture `app` is a new `create_app()` of the version under test, and that version is
  also `sys.modules["ex14_todo_app"]`, so a learner who imports the app module gets it too.
- The checks are plain (sync) checks: the grader's own blocking-call detection is never
  active while the learner's tests run, so a faulty app's blocking call reaches the tests
  as it is; the tests must notice it themselves.

How a check judges (`expect_caught`): a test earns a check only by telling the faulty app
from the given one by what the app does. So every run looks the same to the learner's code
except for the app's behaviour:
- the runs on the given app and the one on the faulty app come in an order drawn in secret
  from os.urandom for each check, every check makes all of them, and a check counts only
  when every run on the given app passes; once one has failed, no later check counts;
- every run executes the learner's file afresh (new module globals, a new copy of its
  builtins) in the environment as the child started (os.environ), so no run can leave
  anything there for the next;
- a faulty version is the given source with a few lines changed and no line moved: the same
  module name, file, qualified names, module globals and line numbers, a new module for
  every run, given or faulty.
"""

from __future__ import annotations

import ast
import builtins
import functools
import logging
import os
import sys
import types
import warnings
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _pytest.assertion import rewrite

from . import todo_app
from .async_tests import AsyncTests
from .feedback import CheckFailed, fail
from .learner import Learner

APP_MODULE = "ex14_todo_app"  # the name learners import the given app by
GIVEN_APP = Path(todo_app.__file__)
# The faulty apps log their crashes; the learner's test sees the 500, the report stays clean.
logging.getLogger(APP_MODULE).addHandler(logging.NullHandler())


def app_version(edits: Sequence[tuple[str, str]] = ()) -> types.ModuleType:
    """The given app, or a version of it with each `old` text replaced by `new`: a new module
    at every call, so that no run's app is the same object as another run's.

    An edit never moves a line: a shorter `new` is padded with blank lines, a longer one is
    refused. Every function and class of a faulty version then starts on the line it starts
    on in the given app (what inspect.getsourcelines, tracebacks and `__firstlineno__` show),
    so only what the app does tells a faulty version from the given one.
    """
    source = GIVEN_APP.read_text(encoding="utf-8")
    for old, new in edits:
        count = source.count(old)
        if count != 1:
            raise ValueError(f"a fault's edit matches {count} places in the given app: {old!r}")
        missing = old.count("\n") - new.count("\n")
        if missing < 0:
            raise ValueError(
                f"a fault's edit adds {-missing} line(s) to the given app: write it on as many "
                f"lines as it replaces (`;` joins statements): {new!r}"
            )
        source = source.replace(old, new + "\n" * missing)
    module = types.ModuleType(APP_MODULE)
    module.__file__ = str(GIVEN_APP)
    with as_app_module(module):
        exec(compile(source, str(GIVEN_APP), "exec", dont_inherit=True), module.__dict__)
    if edits and list(module.__dict__) != given_names():
        raise ValueError("a fault's edit changes the names the app module defines")
    return module


@functools.cache
def given_names() -> list[str]:
    return list(app_version().__dict__)


@contextmanager
def as_app_module(module: types.ModuleType) -> Iterator[None]:
    """`module` is `ex14_todo_app` for the time of the block (Quart finds its app's folder
    through it, a learner's `import ex14_todo_app` gets it)."""
    saved = sys.modules.get(APP_MODULE)
    sys.modules[APP_MODULE] = module
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop(APP_MODULE, None)
        else:
            sys.modules[APP_MODULE] = saved


def load_tests(learner: Learner) -> types.ModuleType:
    """The learner's file, executed afresh with pytest's assertion rewriting, under the same
    import guard as the check's `learner` module."""
    path = Path(learner.path)
    code, helpers = rewritten(str(path), path.read_bytes())
    module = types.ModuleType(learner.module.__name__)
    module.__file__ = str(path)
    namespace = module.__dict__
    # A copy for every run: what one run stores in its builtins, the next does not find.
    given = learner.module.__dict__.get("__builtins__", builtins)
    namespace["__builtins__"] = dict(given if isinstance(given, dict) else vars(given))
    namespace["@py_builtins"] = types.SimpleNamespace(locals=locals, globals=globals)
    namespace["@pytest_ar"] = types.SimpleNamespace(
        **{name: getattr(rewrite, name) for name in helpers}
    )
    sys.modules[module.__name__] = module
    exec(code, namespace)
    # A test that hung in an earlier check is a stand-in in the check's module (see
    # grader.engine.plugin.stuck_stand_in): it fails at once here too.
    for name, value in vars(learner.module).items():
        if getattr(value, "__module__", "") == "grader.engine.plugin":
            namespace[name] = value
    return module


@functools.lru_cache(maxsize=4)
def rewritten(path: str, source: bytes) -> tuple[types.CodeType, frozenset[str]]:
    """The file compiled with its asserts rewritten, and the rewriter's helpers it uses."""
    tree = ast.parse(source, filename=path)
    rewrite.rewrite_asserts(tree, source, path, None)
    # The rewriter imports its helpers at the top; those imports would be refused by the
    # guard (the learner may not import _pytest or builtins): the module is given them.
    tree.body = [node for node in tree.body if not rewriter_import(node)]
    helpers = frozenset(
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "@pytest_ar"
    )
    return compile(tree, path, "exec", dont_inherit=True), helpers


def rewriter_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.Import) and all(
        (alias.asname or "").startswith("@py") for alias in node.names
    )


@dataclass
class Outcome:
    """What became of one test: passed, failed, skipped or "not written" (it still raises
    the stub's NotImplementedError)."""

    name: str
    status: str = "passed"
    error: BaseException | None = None
    phase: str = ""
    report: str = ""  # pytest's own account of the failure, as text

    def summary(self, limit: int = 600) -> str:
        """The failure as the learner reads it: the assertion and its values, or the error."""
        error = self.error
        if isinstance(error, AssertionError):
            text = assertion_text(str(error)) or "AssertionError (an assert failed)"
            if not text.startswith("assert") and "\nassert" not in text:
                text = f"AssertionError: {text}"
        elif isinstance(error, pytest.fail.Exception):
            text = str(error.msg)
        elif error is not None:
            message = str(error).strip()
            text = f"{type(error).__name__}: {message}" if message else type(error).__name__
        else:
            lines = [line for line in self.report.splitlines() if line.strip()]
            text = lines[-1] if lines else "it failed"
        if self.phase in ("setup", "teardown"):
            text = f"(in the {self.phase} of its fixtures) {text}"
        return text if len(text) <= limit else text[: limit - 3] + "..."


def assertion_text(message: str) -> str:
    """pytest's explanation of a failed assert, without its long diff: the comparison with
    its values, where they came from, and what differs."""
    kept: list[str] = []
    lines = iter(message.strip().splitlines())
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("Full diff:"):
            break
        if stripped == "Common items:":
            next(lines, None)  # the items that are the same
            continue
        if stripped and "use -v" not in stripped.lower():
            kept.append(line.rstrip())
    return "\n".join(kept)


@dataclass
class Run:
    """One run of the learner's tests against one version of the app."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    collection_errors: list[str] = field(default_factory=list)
    exit_code: int = 0  # pytest's: 2 when something stopped the run (pytest.exit)

    def with_status(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status == status]

    @property
    def failed(self) -> list[Outcome]:
        return self.with_status("failed")


class PreloadedModule(pytest.Module):
    """The learner's test module, executed by load_tests: pytest collects it as it is."""

    preloaded: types.ModuleType

    def _getobj(self) -> Any:
        return self.preloaded


def node_name(item: pytest.Item) -> str:
    """ "test_x", "test_x[2]" or "TestClass::test_x": the node id without the file."""
    return item.nodeid.split("::", 1)[-1]


class SuiteRunner:
    """The nested session's plugin: the module to collect, the `app` fixture of the version
    under test, the order of the tests, and a record of what became of each."""

    def __init__(
        self,
        module: types.ModuleType,
        path: Path,
        version: types.ModuleType,
        *,
        reverse: bool,
        leave_out: frozenset[str],
        only: frozenset[str] | None,
    ) -> None:
        self.module = module
        self.path = path
        self.version = version
        self.reverse = reverse
        self.leave_out = leave_out
        self.only = only
        self.run = Run()

    @pytest.fixture
    def app(self) -> Any:
        """A new app of the version under test for every test."""
        return self.version.create_app()

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path: Path, parent: Any) -> Any:
        if Path(module_path) != self.path:
            return None
        collector = PreloadedModule.from_parent(parent, path=module_path)
        collector.preloaded = self.module
        return collector

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        items[:] = [
            item
            for item in items
            if node_name(item) not in self.leave_out
            and (self.only is None or node_name(item) in self.only)
        ]
        if self.reverse:
            items.reverse()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.run.collection_errors.append(str(report.longrepr))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        name = node_name(item)
        outcome = self.run.outcomes.setdefault(name, Outcome(name))
        if outcome.status in ("failed", "not written"):
            return report  # the first failure is the one that counts
        if report.failed:
            error = call.excinfo.value if call.excinfo is not None else None
            outcome.status = "not written" if self.not_written(error, call) else "failed"
            outcome.error, outcome.phase = error, call.when
            outcome.report = report.longreprtext
        elif report.skipped and outcome.status == "passed":
            outcome.status = "skipped"
        return report

    def not_written(self, error: BaseException | None, call: pytest.CallInfo[None]) -> bool:
        """The stub's `raise NotImplementedError`, raised by the test itself."""
        if type(error) is not NotImplementedError or call.excinfo is None or call.when != "call":
            return False
        last = call.excinfo.traceback[-1]
        return Path(str(last.path)) == self.path


def run_suite(
    learner: Learner,
    version: types.ModuleType,
    *,
    module: types.ModuleType | None = None,
    reverse: bool = False,
    leave_out: Sequence[str] = (),
    only: Sequence[str] | None = None,
    first_failure: bool = False,
) -> Run:
    """Run the learner's tests against `version` in a nested pytest session."""
    with pristine_environ():
        return _run_suite(learner, version, module, reverse, leave_out, only, first_failure)


def _run_suite(
    learner: Learner,
    version: types.ModuleType,
    module: types.ModuleType | None,
    reverse: bool,
    leave_out: Sequence[str],
    only: Sequence[str] | None,
    first_failure: bool,
) -> Run:
    path = Path(learner.path)
    if module is None:
        try:
            with as_app_module(version):  # what the learner's `import ex14_todo_app` gets
                module = load_tests(learner)
        except Exception as error:  # noqa: BLE001  (the engine imported it once: it can run)
            failed = Run(exit_code=int(pytest.ExitCode.INTERRUPTED))
            failed.collection_errors.append(f"{type(error).__name__}: {error}")
            return failed
    runner = SuiteRunner(
        module,
        path,
        version,
        reverse=reverse,
        leave_out=frozenset(leave_out),
        only=None if only is None else frozenset(only),
    )
    args = [
        str(path),
        "-c",
        os.devnull,  # no ini file of the machine's
        "--rootdir",
        str(path.parent),
        "--noconftest",
        "--assert=plain",  # the module is rewritten already; no import hook
        "-o",
        "verbosity_assertions=2",  # whole values in a failed assertion, not "{'id': 1, ...}"
        "-s",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:stepwise",
        "-p",
        "no:faulthandler",  # the grader's own stack dumps must stay in place
        "-p",
        "no:terminal",
        "-p",
        "no:warnings",
        "-p",
        "no:unraisableexception",
        "-p",
        "no:threadexception",
    ]
    if first_failure:
        args.append("-x")
    with as_app_module(version), no_plugin_autoload(), warnings.catch_warnings():
        # A faulty app's un-awaited coroutine warns: not a failure of the learner's test.
        warnings.simplefilter("ignore")
        runner.run.exit_code = int(pytest.main(args, plugins=[AsyncTests(), runner]))
    return runner.run


# The environment as the process started, before any code of the learner's ran (the checks,
# and so this module, are imported before the learner's file).
ENVIRON = os.environ
PRISTINE_ENVIRON = dict(os.environ)


@contextmanager
def pristine_environ() -> Iterator[None]:
    """For one run of the learner's tests, os.environ as the process started; afterwards, as
    it was before the run. Whatever a run writes there (a count of runs), the next run does
    not find."""
    bound, saved = os.environ, dict(ENVIRON)
    # The real mapping, even when os.environ was rebound to an object of the learner's.
    os.environ = ENVIRON  # noqa: B003  (its contents are reset next)
    reset_environ(PRISTINE_ENVIRON)
    try:
        yield
    finally:
        reset_environ(saved)
        os.environ = bound  # noqa: B003


def reset_environ(values: dict[str, str]) -> None:
    if dict(ENVIRON) != values:
        ENVIRON.clear()
        ENVIRON.update(values)


@contextmanager
def no_plugin_autoload() -> Iterator[None]:
    """Only the plugins named here: none of the environment's (pytest-asyncio, looptime's
    and others would each take a hand in running the tests, and cost time to load)."""
    saved = os.environ.get(AUTOLOAD)
    os.environ[AUTOLOAD] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(AUTOLOAD, None)
        else:
            os.environ[AUTOLOAD] = saved


AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


# --- judging a learner's suite ---------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A faulty version of the given app (edits of its source) and the hint for a learner
    whose tests all pass on it."""

    edits: tuple[tuple[str, str], ...]
    hint: str


@dataclass
class Baseline:
    """The learner's tests on the given app: twice, the second time in reverse order. And,
    kept from check to check, the first failure on the given app in a check's runs."""

    first: Run
    second: Run
    failed_again: Outcome | None = None

    @property
    def not_written(self) -> list[str]:
        return [o.name for o in self.first.with_status("not written")]


# The child imports the learner's file afresh for every check, but the file does not change:
# its run on the given app is made once per child.
_BASELINES: dict[tuple[str, bytes], Baseline] = {}


def register_given_app() -> None:
    """`import ex14_todo_app` works in the learner's file, as it does next to the given app."""
    if APP_MODULE not in sys.modules:
        sys.modules[APP_MODULE] = app_version()


def baseline(learner: Learner) -> Baseline:
    key = (str(learner.path), Path(learner.path).read_bytes())
    if key not in _BASELINES:
        first = run_suite(learner, app_version())
        leave_out = [o.name for o in first.outcomes.values() if o.status != "passed"]
        second = run_suite(learner, app_version(), reverse=True, leave_out=leave_out)
        _BASELINES[key] = Baseline(first, second)
    return _BASELINES[key]


def expect_sound(learner: Learner, base: Baseline) -> None:
    """The learner's written tests all pass on the given app, twice; else the check fails
    with the first test that does not, where it failed and why."""
    first = base.first
    if first.collection_errors:
        lines = [line for line in first.collection_errors[0].splitlines() if line.strip()]
        fail(
            f"pytest could not collect the tests in {learner.relpath}",
            got=lines[-1] if lines else "a collection error",
            hint="Run `pytest exercises/ex14_testing.py` to see the whole error.",
        )
    if first.exit_code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR) or (
        base.second.exit_code == pytest.ExitCode.INTERRUPTED
    ):
        fail(
            "Your tests stopped the test run before it ended",
            expected="every test runs to its end, passed or failed",
            got="pytest was stopped (pytest.exit, KeyboardInterrupt or SystemExit in a test)",
            hint="A test reports a problem with `assert` (or by raising): never stop pytest.",
        )
    if not first.outcomes:
        fail(
            f"{learner.relpath} has no tests",
            expected="functions named test_... (plain or async def) that take the fixture `app` "
            "or the given `client`",
            hint="Keep the test functions of the stub (`grader reset 14` keeps a backup of "
            "your file if you want a fresh start).",
        )
    failing = first.failed
    if failing:
        raise failing_on_given_app(learner, failing)
    usable = first.with_status("passed")
    if not usable:
        waiting = base.not_written
        if waiting:
            which = f"all {len(waiting)}" if len(waiting) > 1 else waiting[0]
            fail(
                f"Your tests are not written yet: {which} still raise NotImplementedError",
                expected="tests that pass on the given app and fail on a faulty one",
                hint="Start with task 1: replace a `raise NotImplementedError` with requests "
                "to the app and `assert` statements about the answers.",
            )
        fail(
            "None of your tests ran to its end: they were all skipped",
            expected="tests that pass on the given app and fail on a faulty one",
            hint="Remove pytest.skip / skip markers: a skipped test catches nothing.",
        )
    flaky = base.second.failed
    if flaky:
        outcome = flaky[0]
        raise CheckFailed(
            f"Your test {outcome.name} passed once, then failed when your tests ran again "
            "(in reverse order)",
            where=where_failed(learner, outcome),
            expected="every test passes on its own, in any order, as often as it runs",
            got=outcome.summary(),
            hint="A test must not depend on another test, or on what an earlier run left "
            "behind: keep what a test creates inside the test (the fixture `app` is a new "
            "app for every test), not in variables at the top of the file.",
        )


def failing_on_given_app(learner: Learner, failing: list[Outcome]) -> CheckFailed:
    outcome = failing[0]
    others = [o.name for o in failing[1:]]
    if isinstance(outcome.error, CheckFailed):  # a test that hung in an earlier check
        error = outcome.error
        return CheckFailed(
            f"Your test {outcome.name}: {error.summary}",
            where=error.where,
            expected=error.expected,
            got=error.got,
            hint=error.hint,
        )
    summary = outcome.summary()
    hint = (
        "The given app is right: it does what its docstring says (exercises/ex14_todo_app.py)."
        " Fix what the test expects, then run `pytest exercises/ex14_testing.py`: a test "
        "must pass on the given app before it can catch a fault."
    )
    if "coroutine" in summary:
        hint = (
            "Something was not awaited: the test client's calls (client.get, client.post, "
            "...) and `response.get_json()` are coroutines. `await` each one."
        )
    elif "event-loop time" in summary:
        hint = (
            "The test waits for something that never happens. Each request to the given app "
            "takes a fraction of a second of loop time."
        )
    return CheckFailed(
        f"Your test {outcome.name} fails on the given app, which has no fault",
        where=where_failed(learner, outcome),
        expected="every test passes on the given app (a check counts a test only then)",
        got=summary + (f" (failing too: {names(others)})" if others else ""),
        hint=hint,
    )


def where_failed(learner: Learner, outcome: Outcome) -> str | None:
    from ..explain import learner_frames, where

    error = outcome.error
    if error is None:
        return None
    frames = learner_frames(error.__traceback__, Path(learner.path))
    return where(frames[-1], learner.relpath) if frames else None


GIVEN_RUNS = 2  # runs on the given app in every check, beside the one on the faulty app
WHOLE_RUN = ""  # Outcome.name of a run that stopped as a whole (not one test's failure)


def expect_caught(learner: Learner, fault: Fault) -> None:
    """The check of one fault: one of the learner's sound tests fails on the faulty app, and
    none fails on the given app when the tests run on it again in the same check.

    The faulty app runs once among GIVEN_RUNS runs on the given app, at a place drawn in
    secret, and every check makes all its runs, each as like the others as the app's
    behaviour allows: the learner's code cannot know which run is the faulty one, so a test
    that fails at some runs (a count kept between runs, chance) risks failing on the given
    app. Once one has, no later check counts either: a suite that gambles in every check
    (with a test of its own for each) would win one check in GIVEN_RUNS + 1; this way it
    wins none with a chance of GIVEN_RUNS in GIVEN_RUNS + 1 (a sound suite loses nothing).
    """
    base = baseline(learner)
    expect_sound(learner, base)
    if base.failed_again is not None:
        raise failed_on_given_app_again(learner, base.failed_again, now=False)
    usable = [o.name for o in base.first.with_status("passed")]
    faulty_at = secret_below(GIVEN_RUNS + 1)
    # Made before the first run: nothing the grader does between runs depends on the order.
    versions = [app_version(fault.edits if at == faulty_at else ()) for at in range(GIVEN_RUNS + 1)]
    caught: list[Outcome] = []
    # Every run is made, whatever the earlier ones showed: how many runs a check makes must not
    # tell the learner's code where the faulty one was (after a run on the faulty app that no
    # test failed, a test could otherwise fail at the last run and be sure to catch it).
    for at, version in enumerate(versions):
        run = run_suite(learner, version, only=usable, first_failure=True)
        if at == faulty_at:
            caught = run.failed
            continue
        failure = given_app_failure(run)
        if failure is not None:
            base.failed_again = failure
            raise failed_on_given_app_again(learner, failure, now=True)
    if caught:
        return
    got = f"all {len(usable)} of your tests that ran passed on it"
    if base.not_written:
        got += f"; not written yet: {names(base.not_written)}"
    fail(
        "None of your tests failed on an app with this fault",
        expected="at least one test that passes on the given app and fails on this one",
        got=got,
        hint=fault.hint,
    )


def secret_below(n: int) -> int:
    """A number from 0 to n - 1 that no code of the learner's can know or steer: from the
    operating system (os.urandom as this module was imported), with no state to read."""
    return int.from_bytes(_urandom(8), "big") % n


_urandom = os.urandom  # a learner's `os.urandom = ...` (or random's) does not reach it


def given_app_failure(run: Run) -> Outcome | None:
    """The first sign in a run on the given app that a test did not pass."""
    for outcome in run.outcomes.values():
        if outcome.status in ("failed", "not written"):
            return outcome
    stopped = run.exit_code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
    if run.collection_errors or stopped:
        lines = [line for line in "".join(run.collection_errors).splitlines() if line.strip()]
        said = "pytest was stopped (pytest.exit, KeyboardInterrupt or SystemExit in a test)"
        return Outcome(WHOLE_RUN, "failed", report=lines[-1] if lines else said)
    return None


def failed_on_given_app_again(learner: Learner, outcome: Outcome, *, now: bool) -> CheckFailed:
    which = f"Your test {outcome.name} failed"
    if outcome.name == WHOLE_RUN:
        which = "Your tests could not run to their end"
    summary = f"{which} on the given app when your tests ran on it again"
    if not now:
        summary += ", in an earlier check: until they pass there every time, no check counts"
    return CheckFailed(
        summary,
        where=where_failed(learner, outcome),
        expected="every test passes on the given app every time it runs: in each check the "
        "grader runs your tests on the given app and on the faulty one, in an order your "
        "tests cannot know",
        got=outcome.summary(),
        hint="The test depends on something that changes from run to run (a count kept "
        "between runs, the clock, chance, what an earlier run left behind) instead of on the "
        "app's answers alone. Make it depend on what the app answers only.",
    )


def names(items: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- for the notebook: the learner's tests on the given app, in a process of their own ------


def show_run(learner: Learner, run: Run) -> str:
    """One line per test (and the failure under it), then the counts."""
    marks = {"passed": "✓", "failed": "✗", "not written": "·", "skipped": "-"}
    lines = []
    for outcome in run.outcomes.values():
        status = "" if outcome.status in ("passed", "failed") else f": {said(outcome.status)}"
        lines.append(f"  {marks[outcome.status]} {outcome.name}{status}")
        if outcome.status == "failed":
            place = where_failed(learner, outcome)
            for text in ([place] if place else []) + outcome.summary().splitlines():
                lines.append(f"      {text}")
    for error in run.collection_errors:
        lines.append("  pytest could not collect the tests: " + error.strip().splitlines()[-1])
    counts = [
        f"{len(run.with_status(status))} {said(status)}"
        for status in ("passed", "failed", "not written", "skipped")
        if run.with_status(status)
    ]
    lines.append(", ".join(counts) or "no tests")
    return "\n".join(lines)


def said(status: str) -> str:
    return "not written yet" if status == "not written" else status


def run_on_given_app(tests: types.ModuleType | str | Path) -> None:
    """Run the learner's tests (a module, or the path of its file) on the given app as the
    grader does, in a Python process of its own, and print what became of each test."""
    import subprocess

    path = Path(tests.__file__ or "") if isinstance(tests, types.ModuleType) else Path(tests)
    done = subprocess.run(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-m", __name__, str(path.resolve())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(done.stdout.rstrip() or done.stderr.strip().splitlines()[-1])


def main(argv: Sequence[str]) -> int:
    from .learner import load_module

    path = Path(argv[0]).resolve()
    relpath = f"exercises/{path.name}" if path.parent.name == "exercises" else str(path)
    register_given_app()
    learner = Learner(load_module(path, path.stem), path, relpath)
    run = run_suite(learner, app_version())
    print(f"Your tests on the given app ({relpath}):")
    print(show_run(learner, run))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
