"""The course manifest (`course.toml`) and where the course folder is.

Every path the grader uses is derived here from a chapter's `id` and `slug`, so a new
chapter needs an entry in the manifest and its four mirrored files, nothing else.
"""

from __future__ import annotations

import ast
import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

MANIFEST = "course.toml"
CHECKS_DIR = Path(__file__).resolve().parent / "checks"


class CourseError(Exception):
    """A problem with the command or the course folder (exit status 2)."""


@dataclass(frozen=True)
class Task:
    number: int
    title: str
    hints: tuple[str, ...]


@dataclass(frozen=True)
class Declared:
    """A check as its file declares it: `@check("name", task=N, points=P)` on `test_...`."""

    id: str
    name: str
    task: int
    points: int


def declared_checks(path: Path) -> list[Declared]:
    """The checks of a checks file in the order pytest runs them, read without importing it
    (the supervisor knows what the child must report before the child starts)."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not node.name.startswith("test_"):
            continue
        name, task, points = node.name, 0, 1
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "check":
                if decorator.args:
                    name = str(ast.literal_eval(decorator.args[0]))
                for keyword in decorator.keywords:
                    if keyword.arg == "task":
                        task = int(ast.literal_eval(keyword.value))
                    elif keyword.arg == "points":
                        points = int(ast.literal_eval(keyword.value))
        found.append(Declared(node.name, name, task, points))
    return found


@dataclass(frozen=True)
class Chapter:
    id: str
    slug: str
    title: str
    tasks: tuple[Task, ...]
    root: Path
    # Modules the learner's file may import although the sandbox refuses them elsewhere
    # (chapter 14's tests import pytest).
    allow_imports: tuple[str, ...] = ()
    # Servers the chapter's checks need ("postgres", "memcached"): started by the grader
    # (grader.lab.services) before the learner's code runs, their addresses in its environment.
    services: tuple[str, ...] = ()
    # Real seconds one check may run, when this chapter's checks need more than the
    # course's default (chapter 14's checks run the learner's whole test suite).
    check_timeout: float | None = None

    @property
    def module_name(self) -> str:
        return f"ex{self.id}_{self.slug}"

    @property
    def exercise(self) -> Path:
        return self.root / "exercises" / f"{self.module_name}.py"

    @property
    def solution(self) -> Path:
        return self.root / "solutions" / f"{self.module_name}.py"

    @property
    def notebook(self) -> Path:
        return self.root / "notebooks" / f"{self.id}_{self.slug}.ipynb"

    @property
    def checks(self) -> Path:
        return CHECKS_DIR / f"{self.module_name}.py"

    def task(self, number: int) -> Task:
        for task in self.tasks:
            if task.number == number:
                return task
        numbers = ", ".join(str(t.number) for t in self.tasks)
        raise CourseError(f"chapter {self.id} has no task {number} (its tasks: {numbers})")


@dataclass(frozen=True)
class Sandbox:
    """The [course.sandbox] table: what one chapter's run of a learner's code may take."""

    memory_mb: int = 2048
    cpu_seconds: int = 300
    file_mb: int = 16
    processes: int = 256
    slow_import: float = 3.0  # real seconds an import of the learner's file may take
    chapter_timeout: float = 180.0  # real seconds for all the checks of one chapter
    all_timeout: float = 900.0  # real seconds for `grader check all`


@dataclass(frozen=True)
class Course:
    root: Path
    title: str
    check_timeout: float
    import_timeout: float
    chapters: tuple[Chapter, ...]
    sandbox: Sandbox = Sandbox()

    def chapter(self, key: str) -> Chapter:
        wanted = key.strip().zfill(2) if key.strip().isdigit() else key.strip()
        for chapter in self.chapters:
            if wanted in (chapter.id, chapter.slug, chapter.module_name):
                return chapter
        ids = ", ".join(c.id for c in self.chapters)
        raise CourseError(f"there is no chapter {key!r}: the chapters are {ids}")

    @cached_property
    def state_dir(self) -> Path:
        return self.root / ".grader"

    def relative(self, path: Path) -> str:
        """A path as the learner sees it: relative to the course folder when inside it."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def find_root(start: Path | None = None) -> Path:
    """The course folder: $COURSE_ROOT, else the nearest folder up from `start` with a
    course.toml, else the folder the grader package was installed from (editable installs)."""
    env = os.environ.get("COURSE_ROOT")
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / MANIFEST).is_file():
            raise CourseError(f"COURSE_ROOT is {root}, but there is no {MANIFEST} there")
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MANIFEST).is_file():
            return folder
    beside_package = CHECKS_DIR.parent.parent
    if (beside_package / MANIFEST).is_file():
        return beside_package
    raise CourseError(
        f"no {MANIFEST} found in {here} or above it: run the grader inside the course folder"
    )


def load_course(root: Path | None = None) -> Course:
    root = root or find_root()
    try:
        data = tomllib.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{root / MANIFEST} is not valid TOML: {exc}") from None
    meta = data.get("course", {})
    chapters = tuple(
        sorted(
            (
                Chapter(
                    id=str(entry["id"]),
                    slug=str(entry["slug"]),
                    title=str(entry["title"]),
                    tasks=tuple(
                        Task(int(t["number"]), str(t["title"]), tuple(t.get("hints", ())))
                        for t in entry.get("tasks", ())
                    ),
                    root=root,
                    allow_imports=tuple(str(m) for m in entry.get("allow_imports", ())),
                    services=tuple(str(s) for s in entry.get("services", ())),
                    check_timeout=(
                        float(entry["check_timeout"]) if "check_timeout" in entry else None
                    ),
                )
                for entry in data.get("chapters", ())
            ),
            key=lambda chapter: chapter.id,
        )
    )
    return Course(
        root=root,
        title=str(meta.get("title", "")),
        check_timeout=float(meta.get("check_timeout", 5.0)),
        import_timeout=float(meta.get("import_timeout", 10.0)),
        chapters=chapters,
        sandbox=sandbox_settings(meta.get("sandbox", {})),
    )


def sandbox_settings(table: dict[str, object]) -> Sandbox:
    defaults = Sandbox()
    values = {}
    for name, default in vars(defaults).items():
        raw = table.get(name, default)
        try:
            values[name] = type(default)(raw)
        except (TypeError, ValueError):
            raise CourseError(
                f"course.toml: [course.sandbox] {name} = {raw!r} is not a number"
            ) from None
    return Sandbox(**values)
