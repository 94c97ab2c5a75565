"""`grader hint NN [TASK]`: the hints of a task, one more each time it is asked."""

from __future__ import annotations

from typing import Any

from rich.console import Console
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
        if last and last.get("total") and last.get("passed") == last["total"]:
            all_done(out, course, chapter.id, last)
            return 0
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


def all_done(out: Console, course: Course, chapter_id: str, last: dict[str, Any]) -> None:
    """Every check passed at the last check: there is nothing to hint at."""
    out.print(
        Text(
            f"Every check of chapter {chapter_id} passed ({last['passed']}/{last['total']}, "
            f"{last.get('when', 'last time')}): no hint needed.",
            style="green",
        )
    )
    ids = [c.id for c in course.chapters]
    following = course.chapters[ids.index(chapter_id) + 1 :]
    if following:
        nxt = following[0]
        out.print(Text(f"Next: chapter {nxt.id}, {nxt.title} (grader check {nxt.id})."))
    else:
        out.print(Text("That was the last chapter of the course."))
    out.print(
        Text(f"The hints of a task are still there: grader hint {chapter_id} TASK.", style="dim")
    )
