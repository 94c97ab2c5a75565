"""`grader list`: every chapter, its title and the learner's last result."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..course import Course
from ..report import console
from ..state import State

STATUS_WIDTH = len("2026-12-31 23:59")
TITLE_MIN_WIDTH = 20
TABLE_FRAME = 13  # the borders and padding of a four-column table


def run(course: Course) -> int:
    state = State(course.state_dir)
    out = console()
    # Nothing is cut: titles wrap, and on a terminal too narrow for the exercise files
    # beside them, the table leaves the files out and one line under it says where they are.
    longest = max((len(c.exercise.name) for c in course.chapters), default=0)
    with_files = out.width >= TABLE_FRAME + 2 + longest + STATUS_WIDTH + TITLE_MIN_WIDTH
    table = Table(title=course.title or "Chapters")
    table.add_column("#", no_wrap=True)
    table.add_column("chapter", ratio=1, min_width=TITLE_MIN_WIDTH)
    if with_files:
        table.add_column("exercises/", no_wrap=True)
    table.add_column("last check", no_wrap=True, min_width=STATUS_WIDTH)
    for chapter in course.chapters:
        last = state.last(chapter.id)
        if last is None:
            status = Text("not checked yet", style="dim")
        else:
            ok = last["passed"] == last["total"] and last["total"]
            status = Text(
                f"{'✓' if ok else '✗'} {last['passed']}/{last['total']}",
                style="green" if ok else "red",
            )
            status.append(f"\n{last.get('when', '')}", style="dim")
        cells = [chapter.id, chapter.title]
        if with_files:
            cells.append(chapter.exercise.name)
        table.add_row(*cells, status)
    out.print(table)
    if not with_files:
        out.print(Text("Your exercise for chapter NN: exercises/exNN_<name>.py", style="dim"))
    out.print(Text("Check a chapter with: grader check NN", style="dim"))
    return 0
