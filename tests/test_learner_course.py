"""The course's own tests pass on a course in use, and leave the learner's work alone.

A copy of the course gets a learner's work: every exercise solved, a notebook run and saved
by JupyterLab (outputs and all), results and hints in .grader/. The lint of scripts/test
and the test modules that deal with exercises, notebooks and the grader's state then run
inside that copy: they pass, and not one byte of the learner's files has changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from conftest import borrowed_path, borrowing_venv, worktree_copy

from grader.course import load_course

# The modules that read exercises/, notebooks/ or .grader/, or run the grader on them.
MODULES = [
    "tests/test_solutions_and_stubs.py",
    "tests/test_manifest.py",
    "tests/test_lint.py",
    "tests/test_cli.py",
    "tests/test_notebooks.py",
]
# Of what runs per chapter (a notebook twice, the solution, the stub), chapter 00's and
# chapter 14's (whose exercises/ holds files given to the learner) are enough here.
SELECT = (
    "not test_notebook_ and not test_solution_passes and not test_stub_fails "
    "and not test_check_all or 00 or 14"
)


def learner_files(course: Path) -> dict[str, str]:
    """Every file of the learner's, by path, with a digest of its bytes."""
    files = {}
    for folder in ("exercises", "notebooks", ".grader"):
        for path in sorted((course / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                files[path.relative_to(course).as_posix()] = digest
    return files


def do_the_course(course: Path) -> None:
    """What a learner leaves behind after working through the course."""
    for chapter in load_course(course).chapters:
        shutil.copy(chapter.solution, chapter.exercise)
    notebook = load_course(course).chapters[0].notebook
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="my run\n")]
    cell.source += "\nprint('my own experiment')   " + "#" * 120
    nbformat.write(nb, notebook)
    state = course / ".grader" / "state.json"
    state.parent.mkdir()
    state.write_text(
        json.dumps({"results": {"01": {"passed": 8, "total": 8}}, "hints": {"02.3": 2}}),
        encoding="utf-8",
    )


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("hatchling") is None,
    reason="this environment was not made by scripts/install (no hatchling in it)",
)
def test_the_suite_passes_on_a_course_in_use_and_leaves_it_alone(tmp_path: Path) -> None:
    course = worktree_copy(tmp_path / "course")
    do_the_course(course)
    before = learner_files(course)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PIP_"))}
    env.pop("COURSE_ROOT", None)
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull)
    # The copy's own environment: every process (the grader's sandboxed child included)
    # imports the copy's grader, as in a learner's course folder.
    venv = borrowing_venv(tmp_path / "venv")
    python = str(venv / "bin" / "python")
    env["PATH"] = borrowed_path(venv)

    def run(*command: str) -> str:
        done = subprocess.run(
            command, cwd=course, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{command}:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    # The lint steps of scripts/test, as they are written there.
    script = (course / "scripts" / "test").read_text(encoding="utf-8")
    lint = [line.split() for line in script.splitlines() if line.startswith('"$bin/ruff"')]
    assert lint, "scripts/test should lint with ruff"
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", ".")
    for command in lint:
        run(python, "-m", "ruff", *command[1:])
    tests = run(
        python,
        "-m",
        "pytest",
        "-n",
        "2",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow",
        "-k",
        SELECT,
        *MODULES,
    )
    assert " passed" in tests and "failed" not in tests, tests[-3000:]

    assert learner_files(course) == before
