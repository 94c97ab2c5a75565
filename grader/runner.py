"""Runs a chapter's checks in a child process and supervises it.

The child (grader.child) reports one JSON event per line. The supervisor enforces the
wall-clock limits: a check that does not finish in time is named, the line it was stuck
on is read from a stack dump, the child is killed and a new child runs the checks that are
left. A child that dies (os._exit, a crash) is handled the same way.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .course import Chapter, Course
from .explain import source_line
from .results import ChapterResult, CheckResult, Feedback

POLL_SECONDS = 0.01
STARTUP_SECONDS = 60.0  # Python and pytest starting on a busy machine; no learner code yet
EXIT_GRACE_SECONDS = 3.0
STACK_LINE = re.compile(r'File "(?P<file>.+)", line (?P<line>\d+) in (?P<func>\S+)')
LOOP_HEADER = re.compile(r"(async\s+)?(while|for)\b")
EXIT_CALL = re.compile(r"\b(os\._exit|sys\.exit|exit|quit)\s*\(")


@dataclass
class ChildRun:
    events: list[dict[str, Any]] = field(default_factory=list)
    timed_out: str | None = None  # "load" or the id of the check that ran out of time
    stack: str = ""  # faulthandler's dump, taken just before a timed-out child is killed
    stuck_at: str | None = None
    exit_code: int | None = None


def run_chapter(
    course: Course,
    chapter: Chapter,
    file: Path,
    *,
    check_timeout: float | None = None,
    checks_file: Path | None = None,
) -> ChapterResult:
    """Run `chapter`'s checks (or those of `checks_file`) against the learner's `file`."""
    started = time.perf_counter()
    checks_path = checks_file or chapter.checks
    relpath = course.relative(file)
    result = ChapterResult(chapter.id, chapter.title, relpath)
    # An explicit --timeout bounds the import as well as each check.
    limits = Limits(check_timeout or course.check_timeout, check_timeout or course.import_timeout)
    checks: dict[str, CheckResult] = {}
    remaining: list[str] | None = None  # None: the first child runs the whole file
    with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
        while remaining is None or remaining:
            targets = (
                [str(checks_path)]
                if remaining is None
                else [f"{checks_path}::{name}" for name in remaining]
            )
            run = run_child(chapter, file, relpath, targets, Path(tmp), limits)
            current: str | None = None
            loaded = False
            for event in run.events:
                kind = event["event"]
                if kind == "collected" and not checks:
                    for c in event["checks"]:
                        checks[c["id"]] = CheckResult(
                            c["id"], c["name"], c["task"], c.get("points", 1)
                        )
                elif kind == "load":
                    loaded = event["ok"]
                    if not loaded:
                        result.problem = Feedback.from_dict(event["problem"])
                        result.problem_output = event.get("output", "")
                        fill_unrun(
                            checks,
                            result.problem,
                            event.get("output", ""),
                            event.get("traceback", ""),
                        )
                elif kind == "start":
                    current = event["id"]
                elif kind == "result":
                    apply_result(checks[event["id"]], event)
                    current = None
            if not checks:
                result.problem = Feedback(
                    "The grader could not start this chapter's checks",
                    hint="This is a problem with the course, not your code: run with --verbose "
                    "and tell your teacher.",
                )
                break
            if result.problem is not None:
                break
            if run.timed_out == "load" or not loaded:
                result.problem = load_stopped(run, relpath, file, limits)
                fill_unrun(checks, result.problem, "", "")
                break
            if current is not None:
                checks[current].feedback = (
                    timed_out(run, limits) if run.timed_out else exited(run, file, relpath)
                )
                checks[current].status = "failed"
            finished = {e["id"] for e in run.events if e["event"] == "result"} | (
                {current} if current else set()
            )
            remaining = [
                cid
                for cid in (remaining if remaining is not None else list(checks))
                if cid not in finished
            ]
            if current is None and remaining:
                # The child ended between checks without running them: do not loop forever.
                fill_unrun({k: checks[k] for k in remaining}, exited(run, file, relpath), "", "")
                break
    result.checks = list(checks.values())
    result.wall_seconds = round(time.perf_counter() - started, 3)
    return result


@dataclass
class Limits:
    check: float
    load: float


def run_child(
    chapter: Chapter, file: Path, relpath: str, targets: list[str], tmp: Path, limits: Limits
) -> ChildRun:
    events_path = tmp / "events.jsonl"
    stacks_path = tmp / "stacks.txt"
    events_path.write_text("")
    command = [
        sys.executable,
        "-m",
        "grader.child",
        "--file",
        str(file),
        "--relpath",
        relpath,
        "--module",
        chapter.module_name,
        "--events",
        str(events_path),
        "--stacks",
        str(stacks_path),
        *targets,
    ]
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("COURSE_ROOT", None)
    run = ChildRun()
    with (tmp / "child.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            cwd=str(file.parent),
            start_new_session=True,
        )
        try:
            supervise(process, events_path, stacks_path, limits, run)
        finally:
            if process.poll() is None:
                kill(process)
    run.exit_code = process.returncode
    run.stuck_at = stuck_line(run.stack, file, relpath) if run.stack else None
    return run


def supervise(
    process: subprocess.Popen[bytes],
    events_path: Path,
    stacks_path: Path,
    limits: Limits,
    run: ChildRun,
) -> None:
    phase, phase_started, current = "startup", time.monotonic(), None
    partial = ""  # a line the child is still writing
    with events_path.open("r", encoding="utf-8") as events:
        while True:
            exited = process.poll() is not None
            chunk = events.read()
            if chunk:
                *lines, partial = (partial + chunk).split("\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    run.events.append(event)
                    kind = event["event"]
                    if kind == "collected":
                        phase, phase_started = "load", time.monotonic()
                    elif kind == "load":
                        phase, phase_started = "between", time.monotonic()
                    elif kind == "start":
                        phase, phase_started, current = "check", time.monotonic(), event["id"]
                    elif kind == "result":
                        phase, phase_started, current = "between", time.monotonic(), None
            if exited:
                # Events written just before exit were read above, as poll() came first.
                return
            limit = {"startup": STARTUP_SECONDS, "load": limits.load, "check": limits.check}.get(
                phase, EXIT_GRACE_SECONDS + limits.check
            )
            if time.monotonic() - phase_started > limit:
                if phase in ("load", "check"):
                    run.timed_out = "load" if phase == "load" else current
                    run.stack = dump_stack(process, stacks_path)
                kill(process)
                return
            time.sleep(POLL_SECONDS)


def dump_stack(process: subprocess.Popen[bytes], stacks_path: Path) -> str:
    try:
        process.send_signal(signal.SIGUSR1)
    except ProcessLookupError:
        return ""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        time.sleep(0.05)
        text = stacks_path.read_text(encoding="utf-8", errors="replace")
        if "most recent call first" in text and text.endswith("\n"):
            return text
    return stacks_path.read_text(encoding="utf-8", errors="replace")


def kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def stuck_line(stack: str, file: Path, relpath: str) -> str | None:
    """The innermost line of the learner's file in a faulthandler dump (most recent first)."""
    target = str(file.resolve())
    for match in STACK_LINE.finditer(stack):
        if str(Path(match["file"]).resolve()) == target:
            number = enclosing_loop(file, int(match["line"]))
            return f"{relpath}, line {number}: {source_line(file, number)}"
    return None


def enclosing_loop(file: Path, number: int) -> int:
    """The header line of the innermost loop around `number` (the dump catches the loop
    anywhere in its body: the header is what the learner needs to see), else `number`."""
    lines = source_text(file).splitlines()
    if not 0 < number <= len(lines):
        return number
    indent = len(lines[number - 1]) - len(lines[number - 1].lstrip())
    for candidate in range(number, 0, -1):
        text = lines[candidate - 1]
        stripped = text.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(text) - len(stripped)
        if candidate == number or depth < indent:
            if LOOP_HEADER.match(stripped):
                return candidate
            if candidate != number and depth == 0:
                break
            indent = min(indent, depth)
    return number


def timed_out(run: ChildRun, limits: Limits) -> Feedback:
    return Feedback(
        f"Stopped after {limits.check:g} s of real time: this check never finished",
        where=run.stuck_at,
        got="your code was still running when the time was up",
        expected="well under a second: checks run in virtual time, so even long sleeps are instant",
        hint="A loop that never ends, or one that never awaits, keeps the event loop busy "
        "forever. Make every loop end, and wait with `await`, never with a busy loop.",
    )


def load_stopped(run: ChildRun, relpath: str, file: Path, limits: Limits) -> Feedback:
    if run.timed_out == "load":
        return Feedback(
            f"Importing {relpath} did not finish within {limits.load:g} s",
            where=run.stuck_at,
            hint="Code at the top level of the file runs on import. An endless loop or a long "
            "wait there stops everything: move it into a function.",
        )
    return exited(run, file, relpath, on_import=True)


def exited(run: ChildRun, file: Path, relpath: str, *, on_import: bool = False) -> Feedback:
    when = "while importing your file" if on_import else "while this check ran"
    suspects = [
        f"{relpath}, line {n}: {line.strip()}"
        for n, line in enumerate(source_text(file).splitlines(), 1)
        if EXIT_CALL.search(line) and not line.lstrip().startswith("#")
    ]
    return Feedback(
        f"The Python process running your code ended {when} (exit status {run.exit_code})",
        where=suspects[0] if suspects else None,
        hint="Functions must return their result: sys.exit(), os._exit() and exit() end the "
        "whole program, and the checks with it. Remove them.",
    )


def source_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def apply_result(check: CheckResult, event: dict[str, Any]) -> None:
    check.status = event["status"]
    check.feedback = Feedback.from_dict(event["feedback"]) if event.get("feedback") else None
    check.output = event.get("output", "")
    check.traceback = event.get("traceback", "")
    check.loop_seconds = event.get("loop_seconds", 0.0)
    check.wall_seconds = event.get("wall_seconds", 0.0)


def fill_unrun(checks: dict[str, CheckResult], problem: Feedback, output: str, tb: str) -> None:
    for check in checks.values():
        if check.status != "passed" and check.feedback is None:
            check.status = "failed"
            check.feedback = Feedback(f"Not run: {problem.summary}")
            check.output, check.traceback = output, tb
