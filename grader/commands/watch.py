"""`grader watch NN`: check the chapter again every time its file is saved."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.text import Text

from ..course import Course
from ..engine.runner import run_chapter
from ..report import console, print_chapter
from ..state import State
from .check import target_file


def run(
    course: Course, which: str, *, file: Path | None = None, timeout: float | None = None
) -> int:
    from watchfiles import watch  # imported here: the other commands do not need it

    chapter = course.chapter(which)
    path = target_file(chapter, file, solutions=False)
    out = console()

    def check_once() -> None:
        out.clear()
        result = run_chapter(course, chapter, path, check_timeout=timeout)
        print_chapter(out, chapter, result, verbose=False)
        if file is None:
            state = State(course.state_dir)
            state.record(result)
            state.save()
        out.print(
            Text(
                f"\nWatching {course.relative(path)}: save it to check again, Ctrl-C to stop.",
                style="dim",
            )
        )
        sys.stdout.flush()  # piped output (an editor's terminal panel) must show at once

    checked = False
    try:
        # The folder is watched, not the file: editors often save by replacing the file.
        # The first (empty) yield comes once the watcher is running, so the first check runs
        # then, and a save made while it runs is not missed.
        for changes in watch(
            path.parent,
            watch_filter=lambda _change, name: Path(name) == path,
            debounce=200,
            yield_on_timeout=True,
            rust_timeout=100,
        ):
            if changes or not checked:
                checked = True
                check_once()
    except KeyboardInterrupt:
        pass
    return 0
