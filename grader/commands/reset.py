"""`grader reset NN`: put the original stub back, keeping a backup of the learner's file;
the chapter's last result and the hints seen are forgotten (`grader list` shows it new).

The original comes from the course's git history (the newest version that is still a stub,
so a learner's own commits of their work are skipped), else from the copy of the stubs
installed with the grader, which is all a course folder downloaded as a zip has.
"""

from __future__ import annotations

import time

from rich.text import Text

from ..course import Course, CourseError
from ..pristine import original_stub
from ..report import console
from ..state import State


def run(course: Course, which: str) -> int:
    chapter = course.chapter(which)
    relpath = course.relative(chapter.exercise)
    found = original_stub(course.root, chapter.module_name)
    if found is None:
        raise CourseError(
            f"no original of {relpath} was found: the course folder has no git history with "
            "it, and the grader was installed without it. Run `bash scripts/install` in the "
            "course folder (it keeps a copy of the stubs), or download the course again."
        )
    stub, source = found
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
    state = State(course.state_dir)
    if state.last(chapter.id) is not None or any(
        key.split(".")[0] == chapter.id for key in state.data["hints"]
    ):
        state.forget(chapter.id)
        state.save()
    out.print(Text(f"{relpath} is the original stub again (from {source}).", style="green"))
    return 0
