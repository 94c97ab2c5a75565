"""`grader hint NN [TASK]`: the hints of a task, one more each time it is asked."""

from __future__ import annotations

from rich.text import Text

from ..course import Course
from ..report import console
from ..state import State


def run(course: Course, which: str, task_number: int | None, *, show_all: bool = False) -> int:
    chapter = course.chapter(which)
    state = State(course.state_dir)
    out = console()
    if task_number is None:
        last = state.last(chapter.id)
        failed = last.get("failed_tasks") if last else None
        task_number = failed[0] if failed else chapter.tasks[0].number
    task = chapter.task(task_number)
    if not task.hints:
        out.print(f"Task {task.number} of chapter {chapter.id} has no hints.")
        return 0
    seen = state.hints_seen(chapter.id, task.number)
    shown = len(task.hints) if show_all else min(seen + 1, len(task.hints))
    out.print(Text(f"Chapter {chapter.id}, task {task.number}: {task.title}", style="bold"))
    for number, hint in enumerate(task.hints[:shown], 1):
        style = "yellow" if number == shown else "dim"
        out.print(
            Text(f"  hint {number}/{len(task.hints)}: ", style="dim") + Text(hint, style=style)
        )
    if shown < len(task.hints):
        out.print(
            Text(
                f"Still stuck? Run `grader hint {chapter.id} {task.number}` again "
                "for the next hint.",
                style="dim",
            )
        )
    else:
        out.print(
            Text(
                "That was the last hint: the notebook's worked examples show the rest.", style="dim"
            )
        )
    state.set_hints_seen(chapter.id, task.number, max(seen, shown))
    state.save()
    return 0
