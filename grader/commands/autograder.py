"""`grader autograder NN [NN ...] --out autograder.zip`: a Gradescope autograder, and a
GitHub Classroom workflow beside it.

The zip holds setup.sh and run_autograder (Gradescope's two entry points) and course/, a
copy of the grader package with course.toml and the project file, so that setup.sh can
install it. The course's solutions, notebooks, exercises and tests are not in it.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

from rich.text import Text

from ..course import Chapter, Course, CourseError, declared_checks
from ..report import console

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
EXECUTABLE = 0o755 << 16 | stat.S_IFREG << 16


def run(course: Course, chapters: list[str], *, out: Path) -> int:
    chosen = [course.chapter(key) for text in chapters for key in text.split(",") if key]
    if not chosen:
        raise CourseError("name the chapters the autograder grades, such as 03 04 05")
    ids = ",".join(c.id for c in chosen)
    out = out.expanduser().resolve()
    if out.suffix != ".zip":
        raise CourseError(f"--out {out.name}: the autograder is a .zip file")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in ("setup.sh", "run_autograder"):
            text = (TEMPLATES / name).read_text(encoding="utf-8").replace("@CHAPTERS@", ids)
            info = zipfile.ZipInfo(name)
            info.external_attr = EXECUTABLE
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, text)
        for path in package_files(course.root):
            bundle.write(path, f"course/{path.relative_to(course.root).as_posix()}")
    workflow = out.with_name("classroom.yml")
    workflow.write_text(classroom_workflow(chosen), encoding="utf-8")
    shown = console()
    shown.print(Text(f"Gradescope autograder for chapters {ids}: {out}", style="bold"))
    shown.print(f"GitHub Classroom workflow: {workflow}")
    shown.print(
        Text(
            "Upload the zip as the assignment's autograder; learners submit their exercise "
            "files (or their whole course folder).",
            style="dim",
        )
    )
    return 0


def package_files(root: Path) -> list[Path]:
    """What setup.sh needs to install the grader: no solutions, exercises or tests."""
    files = [root / "pyproject.toml", root / "README.md", root / "course.toml"]
    files += [root / "hatch_build.py"]  # the build hook pyproject.toml names
    files += [
        path
        for path in sorted((root / "grader").rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    return files


def classroom_workflow(chapters: list[Chapter]) -> str:
    steps, env, runners = [], [], []
    for chapter in chapters:
        step = f"chapter-{chapter.id}"
        points = sum(d.points for d in declared_checks(chapter.checks))
        steps.append(
            f"      - name: Chapter {chapter.id}\n"
            f"        id: {step}\n"
            f"        uses: classroom-resources/autograding-command-grader@v1\n"
            f"        with:\n"
            f'          test-name: "{chapter.id} {chapter.title}"\n'
            f"          command: COURSE_ROOT=course grader check {chapter.id} "
            f"--submission submission\n"
            f"          timeout: 10\n"
            f"          max-score: {points}"
        )
        env.append(f'          {step.upper()}_RESULTS: "${{{{steps.{step}.outputs.result}}}}"')
        runners.append(step)
    template = (TEMPLATES / "classroom.yml").read_text(encoding="utf-8")
    return (
        template.replace("@STEPS@", "\n".join(steps))
        .replace("@REPORTER_ENV@", "\n".join(env))
        .replace("@RUNNERS@", ",".join(runners))
    )
