"""`grader report DIR [--chapters 03,04] [--out report/]`: grade a whole class.

Every learner's copy under DIR (a folder, a zip or a git clone each; a Gradescope export or
a GitHub Classroom clone works as it is) is graded, chapter by chapter, by warm workers on
every core, each submission in the grader's sandbox. A broken, hanging or hostile copy
costs only its own checks.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from ..class_report import LearnerResults, write_reports
from ..collect import discover
from ..course import Chapter, Course, CourseError
from ..engine.pool import Task, run_tasks
from ..engine.runner import not_run
from ..pristine import original_stub
from ..report import console
from ..results import Feedback, chapter_from_dict
from ..submission import find_exercise


def run(
    course: Course, folder: Path, *, chapters: str | None, out: Path, workers: int | None
) -> int:
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise CourseError(f"{folder} is not a folder of learners' copies")
    chosen = _chapters(course, chapters)
    stubs = {c.id: (original_stub(course.root, c.module_name) or ("", ""))[0] for c in chosen}
    shown = console()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grader-report-") as unpacked:
        found = discover(folder, Path(unpacked), skip=out.expanduser())
        if not found:
            raise CourseError(f"{folder} holds no learner's copy (a folder or a .zip each)")
        learners = [LearnerResults(f.name, f.slug, problem=f.problem) for f in found]
        tasks: list[Task] = []
        for learner, copy in zip(learners, found, strict=True):
            for chapter in chosen:
                file = find_exercise(copy.folder, chapter) if copy.folder else None
                if file is None:
                    learner.missing.add(chapter.id)
                    learner.chapters[chapter.id] = not_run(
                        course, chapter, chapter.exercise.name, _missing(chapter, copy.problem)
                    )
                    continue
                relpath = f"{learner.slug}/{file.relative_to(copy.folder).as_posix()}"  # type: ignore[arg-type]
                if _text(file) == stubs[chapter.id] and stubs[chapter.id]:
                    learner.untouched.add(chapter.id)
                    learner.chapters[chapter.id] = not_run(
                        course, chapter, relpath, Feedback("Not started: the file is the stub")
                    )
                    continue
                tasks.append(Task((learner, chapter), chapter.id, file, relpath))
        _grade(course, tasks, shown, workers)
    write_reports(course, chosen, learners, out.expanduser().resolve())
    took = time.perf_counter() - started
    shown.print(
        Text(f"{len(learners)} learners x {len(chosen)} chapters graded in {took:.1f} s", "bold")
    )
    for name in ("report.html", "report.csv", "results/"):
        shown.print(f"  {out / name}")
    return 0


def _chapters(course: Course, chapters: str | None) -> list[Chapter]:
    if not chapters or chapters == "all":
        return list(course.chapters)
    return [course.chapter(key) for key in chapters.split(",") if key.strip()]


def _missing(chapter: Chapter, problem: str) -> Feedback:
    return Feedback(problem or f"No file {chapter.exercise.name} in this copy")


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _grade(course: Course, tasks: list[Task], shown: Any, workers: int | None) -> None:
    def store(task: Task, data: dict[str, Any]) -> None:
        learner, chapter = task.key
        if "error" in data:
            result = not_run(
                course, chapter, task.relpath, Feedback(f"The grader failed: {data['error']}")
            )
        else:
            result = chapter_from_dict(data)
        learner.chapters[chapter.id] = result

    if not tasks:
        return
    if shown.is_terminal:
        with Progress(
            TextColumn("grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("submissions ·"),
            TimeRemainingColumn(),
            console=shown,
            transient=True,
        ) as progress:
            bar = progress.add_task("grading", total=len(tasks))

            def on_result(task: Task, data: dict[str, Any]) -> None:
                store(task, data)
                progress.advance(bar)

            run_tasks(tasks, course.root, workers=workers, on_result=on_result)
        return
    done = [0]

    def on_line(task: Task, data: dict[str, Any]) -> None:
        store(task, data)
        done[0] += 1
        learner, chapter = task.key
        print(f"graded {done[0]}/{len(tasks)}: {learner.name}, chapter {chapter.id}", flush=True)

    run_tasks(tasks, course.root, workers=workers, on_result=on_line)
    sys.stdout.flush()
