"""`grader check NN|all`: run the checks and report them."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..course import Chapter, Course, CourseError
from ..gradescope import results_json
from ..report import console, print_chapter, print_summary
from ..results import ChapterResult
from ..runner import run_chapter
from ..state import State


def target_file(chapter: Chapter, file: Path | None, solutions: bool) -> Path:
    path = file if file is not None else chapter.solution if solutions else chapter.exercise
    path = path.expanduser().resolve()
    if not path.is_file():
        raise CourseError(f"there is no file {path}")
    return path


def run(
    course: Course,
    which: str,
    *,
    file: Path | None = None,
    solutions: bool = False,
    as_json: bool = False,
    verbose: bool = False,
    timeout: float | None = None,
) -> int:
    if which == "all":
        if file is not None:
            raise CourseError("--file checks one chapter: name the chapter, not `all`")
        chapters = list(course.chapters)
    else:
        chapters = [course.chapter(which)]
    files = [target_file(ch, file, solutions) for ch in chapters]

    started = time.perf_counter()
    out = console()
    results: list[ChapterResult] = []
    for chapter, path in zip(chapters, files, strict=True):
        result = run_chapter(course, chapter, path, check_timeout=timeout)
        results.append(result)
        if not as_json:
            print_chapter(out, chapter, result, verbose=verbose)
            if len(chapters) > 1:
                out.print()
    if as_json:
        sys.stdout.write(
            json.dumps(results_json(results, time.perf_counter() - started), indent=2) + "\n"
        )
    elif len(chapters) > 1:
        print_summary(out, chapters, results)

    if file is None and not solutions:
        state = State(course.state_dir)
        for result in results:
            state.record(result)
        state.save()
    return 0 if all(r.ok for r in results) else 1
