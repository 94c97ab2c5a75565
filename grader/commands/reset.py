"""`grader reset NN`: put the original stub back, keeping a backup of the learner's file.

The original comes from the course's git history: the newest committed version of the
exercise that is still a stub (it raises NotImplementedError), so a learner's own commits
of their work are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import time

from rich.text import Text

from ..course import Course, CourseError
from ..report import console

STUB_MARKER = "NotImplementedError"


def git(course: Course, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(course.root), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise CourseError(
            "grader reset needs the course's git history, and git said: "
            + (done.stderr.strip() or f"exit status {done.returncode}")
        )
    return done.stdout


def original_stub(course: Course, relpath: str) -> str:
    if shutil.which("git") is None:
        raise CourseError("grader reset needs git, and git is not installed")
    for commit in git(course, "log", "--format=%H", "--", relpath).split():
        text = git(course, "show", f"{commit}:{relpath}")
        if STUB_MARKER in text:
            return text
    raise CourseError(f"no committed version of {relpath} is a stub: nothing to reset to")


def run(course: Course, which: str) -> int:
    chapter = course.chapter(which)
    relpath = course.relative(chapter.exercise)
    stub = original_stub(course, relpath)
    out = console()
    if chapter.exercise.is_file():
        current = chapter.exercise.read_text(encoding="utf-8")
        if current == stub:
            out.print(f"{relpath} is already the original stub: nothing to do.")
            return 0
        backups = course.state_dir / "backups"
        backups.mkdir(parents=True, exist_ok=True)
        backup = backups / f"{chapter.module_name}.{time.strftime('%Y%m%d-%H%M%S')}.py"
        backup.write_text(current, encoding="utf-8")
        out.print(Text(f"Your version is saved as {course.relative(backup)}", style="dim"))
    chapter.exercise.parent.mkdir(parents=True, exist_ok=True)
    chapter.exercise.write_text(stub, encoding="utf-8")
    out.print(Text(f"{relpath} is the original stub again.", style="green"))
    return 0
