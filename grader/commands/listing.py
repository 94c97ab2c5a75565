"""`grader list`: every chapter, its title and the learner's last result."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..course import Course
from ..report import console
from ..state import State


def run(course: Course) -> int:
    state = State(course.state_dir)
    table = Table(title=course.title or "Chapters")
    table.add_column("chapter")
    table.add_column("title")
    table.add_column("exercise")
    table.add_column("last check")
    for chapter in course.chapters:
        last = state.last(chapter.id)
        if last is None:
            status = Text("not checked yet", style="dim")
        elif last["passed"] == last["total"] and last["total"]:
            status = Text(f"✓ {last['passed']}/{last['total']} ({last['when']})", style="green")
        else:
            status = Text(f"✗ {last['passed']}/{last['total']} ({last['when']})", style="red")
        table.add_row(chapter.id, chapter.title, course.relative(chapter.exercise), status)
    out = console()
    out.print(table)
    out.print(Text("Check a chapter with: grader check NN", style="dim"))
    return 0
