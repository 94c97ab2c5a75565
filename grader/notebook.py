"""The check cell at the end of every notebook: `from grader.notebook import check`.

The learner's code still runs in a separate process, so an endless loop in an exercise
stops the check, never the notebook's kernel.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from .course import load_course
from .lab.learner import load_module
from .report import console, print_chapter
from .results import ChapterResult
from .runner import run_chapter
from .state import State


def check(
    chapter_id: str, *, file: str | Path | None = None, solutions: bool = False
) -> ChapterResult:
    course = load_course()
    chapter = course.chapter(chapter_id)
    path = Path(file) if file else chapter.solution if solutions else chapter.exercise
    result = run_chapter(course, chapter, path.resolve())
    # In Jupyter, rich renders this as formatted output in the cell.
    print_chapter(console(), chapter, result, verbose=False)
    if file is None and not solutions:
        state = State(course.state_dir)
        state.record(result)
        state.save()
    return result


def exercise(chapter_id: str, *, solutions: bool = False) -> ModuleType:
    """The learner's exercise module, loaded afresh so the latest saved edits are used.

    For "try it" cells: `ex = exercise("01")` then `await ex.fetch_data(0.1)`.
    """
    course = load_course()
    chapter = course.chapter(chapter_id)
    path = chapter.solution if solutions else chapter.exercise
    return load_module(path, f"{chapter.module_name}_notebook")
