"""Shared helpers for the course's own tests: run the grader as a learner would.

The tests never read or write what belongs to the learner: exercises/ and notebooks/ as
they are on disk (a learner's work, saved notebook outputs) and .grader/ (results, hints,
backups). They read the course's originals (`pristine_text`) and grade copies of them in a
temporary course folder (`pristine_course`).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.course import Course, load_course  # noqa: E402
from grader.pristine import git, installed_stub, is_stub  # noqa: E402

LEARNER_FOLDERS = ("exercises", "notebooks")


@dataclass
class Graded:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]

    def status(self) -> dict[str, str]:
        """Check id (the test function's name is not in the JSON, so: check name) -> status."""
        return {t["name"].split(" · ", 1)[1]: t["status"] for t in self.json["tests"]}


def grader(
    *args: str, cwd: Path = ROOT, timeout: float = 120, env: dict[str, str] | None = None
) -> Graded:
    done = subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **(env or {})},
    )
    return Graded(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def course() -> Course:
    return load_course(ROOT)


def chapter_ids() -> list[str]:
    return [c.id for c in load_course(ROOT).chapters]


def pristine_text(relpath: str) -> str:
    """The course's original of a learner's file (exercises/..., notebooks/...).

    The reference is git's staged version (the last commit's, unless a course author staged
    a change), or, without git history (a course folder downloaded as a zip), the stub
    installed with the grader. The working copy is used instead when it is still untouched
    by a learner, so that a course author's edit is tested as it is: a notebook without
    outputs (JupyterLab saves a learner's outputs), a stub in which every function of the
    reference still raises NotImplementedError (a learner's first step removes one). A file
    git does not track is a chapter being written: its working copy is the original.
    """
    path = ROOT / relpath
    working = path.read_text(encoding="utf-8") if path.is_file() else None
    reference = git(ROOT, "show", f":./{relpath}")
    if reference is None and path.suffix == ".py":
        if git(ROOT, "rev-parse", "--is-inside-work-tree") is None:
            reference = installed_stub(path.stem)
    if reference is None:
        if working is None:
            raise FileNotFoundError(f"{relpath} is neither in the course folder nor in git")
        return working
    if working is not None and untouched(relpath, working, reference):
        return working
    return reference


def untouched(relpath: str, working: str, reference: str) -> bool:
    """Whether a working copy still looks as the course hands it out (see pristine_text)."""
    if relpath.endswith(".ipynb"):
        try:
            cells = json.loads(working).get("cells", [])
        except ValueError:
            return False
        return all(not c.get("outputs") and c.get("execution_count") is None for c in cells)
    return is_stub(working) and stubbed_functions(reference) <= stubbed_functions(working)


def stubbed_functions(source: str) -> set[str]:
    """The functions (by qualified name) whose body raises NotImplementedError."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found: set[str] = set()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef) and any(
                    isinstance(n, ast.Raise)
                    and "NotImplementedError" in ast.unparse(n.exc or ast.Constant(None))
                    for n in ast.walk(child)
                ):
                    found.add(name)
                visit(child, f"{name}.")

    visit(tree, "")
    return found


def pristine_course(dest: Path, *, solved: bool = False, notebooks: bool = False) -> Path:
    """A learner's course folder as it was handed out (or with every exercise solved):
    course.toml, solutions/, exercises/ and, if asked, notebooks/, from the originals. A
    file a chapter lacks is left out (the tests of that chapter say so)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "course.toml", dest / "course.toml")
    shutil.copytree(ROOT / "solutions", dest / "solutions", ignore=CACHES)
    course = load_course(ROOT)
    wanted = [("exercises", c.exercise.name, c.solution) for c in course.chapters]
    # What exercises/ holds besides the stubs: files given to the learner to read and use
    # (chapter 14's app under test, the conftest.py that runs the learner's tests).
    chapter_files = {c.exercise.name for c in course.chapters}
    listed = git(ROOT, "ls-files", "--", "exercises") or ""
    given = sorted({Path(p).name for p in listed.split()} - chapter_files)
    wanted += [("exercises", name, None) for name in given]
    if notebooks:
        wanted += [("notebooks", c.notebook.name, None) for c in course.chapters]
    for folder, name, solution in wanted:
        (dest / folder).mkdir(exist_ok=True)
        try:
            if solved and solution is not None:
                text = solution.read_text(encoding="utf-8")
            else:
                text = pristine_text(f"{folder}/{name}")
        except FileNotFoundError:
            continue
        (dest / folder / name).write_text(text, encoding="utf-8")
    return dest


CACHES = shutil.ignore_patterns("__pycache__", "*.pyc")


@pytest.fixture(scope="session")
def stub_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pristine course folder for the session's grader runs on untouched stubs."""
    return pristine_course(tmp_path_factory.mktemp("stub-course"))


def git_in(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Course", "-c", "user.email=course@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def worktree_copy(dest: Path) -> Path:
    """The course folder as it is being worked on (every file git tracks or would track,
    changed or new, none it ignores; the learner's folders as the course ships them), as a
    fresh git repository with one commit: what a learner gets from a clone of it."""
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed is None:
        pytest.skip("the course folder is not a git work tree")
    for relpath in filter(None, listed.split("\0")):
        source, target = ROOT / relpath, dest / relpath
        if not source.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if relpath.split("/", 1)[0] in LEARNER_FOLDERS:
            target.write_text(pristine_text(relpath), encoding="utf-8")
        else:
            shutil.copy2(source, target)
    git_in(dest, "init", "-q")
    git_in(dest, "add", "-A")
    git_in(dest, "commit", "-q", "-m", "the course")
    return dest


def borrowing_venv(path: Path) -> Path:
    """A new virtual environment that sees this one's packages (not the course, which is
    installed editable from elsewhere here): installing a course copy into it needs no
    download."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = str(path / "bin" / "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "_borrowed_packages.pth").write_text("\n".join(site_packages()) + "\n")
    return path


def site_packages() -> list[str]:
    """Every site-packages this process sees (this environment's may itself borrow)."""
    found = [sysconfig.get_path("purelib")]
    found += [p for p in sys.path if Path(p).name == "site-packages" and Path(p).is_dir()]
    return list(dict.fromkeys(found))


def borrowed_path(venv: Path) -> str:
    """PATH for a borrowing environment: its own commands, then those of the environments
    it borrows from (jupyter finds its subcommands, such as jupyter-execute, on PATH)."""
    bins = [str(venv / "bin")]
    bins += [str(Path(p).parents[2] / "bin") for p in site_packages()]
    return os.pathsep.join([*dict.fromkeys(bins), os.environ.get("PATH", "")])


# The longest tests go to the workers first: pytest-xdist hands tests out in this order, and a
# four-minute test started last would keep one core busy while the other sits idle.
LONGEST_FIRST = (
    "test_mutants.py::test_mutants_fail_their_checks[14]",
    "test_mutants.py",
    "slow",
    "test_notebooks.py",
    "test_services.py",
    "test_dashboard.py",
)


def _rank(item: pytest.Item) -> int:
    for rank, key in enumerate(LONGEST_FIRST):
        if key == "slow":
            if item.get_closest_marker("slow") is not None:
                return rank
        elif key in item.nodeid:
            return rank
    return len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the order within each rank is the files' own
