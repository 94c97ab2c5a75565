"""`grader check NN|all`: run the checks and report them."""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from ..course import Chapter, Course, CourseError
from ..engine.runner import not_run, run_chapter
from ..gradescope import results_json
from ..report import Progress, console, print_chapter, print_summary
from ..results import ChapterResult, Feedback
from ..state import State
from ..submission import find_exercise


class GradingStopped(Exception):
    """SIGTERM (a grading platform's time limit, a teacher's Ctrl-C) while checks ran."""


def target_file(chapter: Chapter, file: Path | None, solutions: bool) -> Path:
    path = file if file is not None else chapter.solution if solutions else chapter.exercise
    path = path.expanduser().resolve()
    if path.is_dir():
        raise CourseError(
            f"{path} is a folder: give the path of one exercise file, such as "
            f"exercises/{chapter.exercise.name}"
        )
    if not path.is_file():
        raise CourseError(f"there is no file {path}")
    return path


def chosen(course: Course, which: str) -> list[Chapter]:
    """`all`, one chapter, or several separated by commas (`03,04,05`)."""
    if which == "all":
        return list(course.chapters)
    return [course.chapter(key) for key in which.split(",") if key.strip()]


def run(
    course: Course,
    which: str,
    *,
    file: Path | None = None,
    submission: Path | None = None,
    solutions: bool = False,
    as_json: bool = False,
    verbose: bool = False,
    timeout: float | None = None,
    result_json: bool = False,
    share_url: str | None = None,
    share_name: str | None = None,
) -> int:
    chapters = chosen(course, which)
    if share_url and not share_name:
        raise CourseError("--share needs --name: the name your teacher sees")
    if file is not None and len(chapters) != 1:
        raise CourseError("--file checks one chapter: name one chapter")
    if submission is not None:
        if not submission.is_dir():
            raise CourseError(f"--submission {submission} is not a folder")
        files: list[Path | None] = [find_exercise(submission, ch) for ch in chapters]
    else:
        files = [target_file(ch, file, solutions) for ch in chapters]

    started = time.perf_counter()
    deadline = time.monotonic() + course.sandbox.all_timeout
    out = console()
    quiet = as_json or result_json
    progress = Progress(out, enabled=not quiet)
    results: list[ChapterResult] = []
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        for chapter, path in zip(chapters, files, strict=True):
            if path is None:
                result = not_run(course, chapter, chapter.exercise.name, missing(chapter))
                results.append(result)
                if not quiet:
                    print_chapter(out, chapter, result, verbose=verbose)
                continue
            with progress.chapter(chapter, len(chapters)) as on_event:
                try:
                    result = run_chapter(
                        course,
                        chapter,
                        path,
                        check_timeout=timeout,
                        deadline=deadline,
                        on_event=on_event,
                    )
                except Exception as error:  # noqa: BLE001  (the other chapters still count)
                    if len(chapters) == 1:
                        raise
                    result = not_run(
                        course,
                        chapter,
                        course.relative(path),
                        Feedback(f"The grader failed on this chapter ({type(error).__name__})"),
                    )
            results.append(result)
            if not quiet:
                print_chapter(out, chapter, result, verbose=verbose)
                if len(chapters) > 1:
                    out.print()
    except (GradingStopped, KeyboardInterrupt):
        if as_json:
            print_json(results, started, stopped=True)
        print("grader: stopped before every check had run", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    if as_json:
        print_json(results, started)
    elif result_json:
        sys.stdout.write(json.dumps([asdict(r) for r in results]) + "\n")
    elif len(chapters) > 1:
        print_summary(out, chapters, results)

    if share_url:
        from ..share import share

        # Of several chapters, one whose file is still the stub was not started: it is not
        # shared (`check all` would otherwise paint every later chapter red on the
        # dashboard). One chapter checked on purpose is shared, stub or not.
        begun = [
            result
            for result, chapter, path in zip(results, chapters, files, strict=True)
            if path is not None and (len(chapters) == 1 or not untouched(course, chapter, path))
        ]
        share(share_url, share_name or "", begun)
    if file is None and submission is None and not solutions:
        state = State(course.state_dir)
        for result in results:
            state.record(result)
        state.save()
    return 0 if all(r.ok for r in results) else 1


def untouched(course: Course, chapter: Chapter, path: Path) -> bool:
    from ..pristine import original_stub

    original = original_stub(course.root, chapter.module_name)
    try:
        return original is not None and path.read_text(encoding="utf-8") == original[0]
    except (OSError, UnicodeDecodeError):
        return False


def missing(chapter: Chapter) -> Feedback:
    return Feedback(
        f"No file {chapter.exercise.name} was found in the submission",
        hint=f"Submit your exercises/{chapter.exercise.name} (the file itself, or the course "
        "folder that holds it).",
    )


def print_json(results: list[ChapterResult], started: float, *, stopped: bool = False) -> None:
    data = results_json(results, time.perf_counter() - started)
    if stopped:
        data["output"] = "Grading was stopped before every check had run.\n" + data["output"]
    # Not ensure_ascii: escaped, a learner's non-ASCII text would take six times the room.
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _stop(signum: int, frame: FrameType | None) -> Any:
    raise GradingStopped
