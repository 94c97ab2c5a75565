"""scripts/install: install once, run offline; every install carries the original stubs.

The installs here are made offline (an index nobody answers, no config, no local wheels):
the course's dependencies come from the environment running the tests, reached through a
.pth file, so what is proven is that scripts/install itself needs no network once the
environment exists, not even when the course's own build has to run again.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import borrowing_venv, pristine_text, worktree_copy

from grader.course import load_course

OFFLINE = {
    "PIP_INDEX_URL": "http://127.0.0.1:9/",
    "PIP_NO_INDEX": "1",
    "PIP_CONFIG_FILE": os.devnull,
    "PIP_FIND_LINKS": "",
    "PIP_EXTRA_INDEX_URL": "",
}
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("hatchling") is None,
        reason="this environment was not made by scripts/install (no hatchling in it)",
    ),
]


def offline_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTEST_"))}
    env.pop("COURSE_ROOT", None)
    return {**env, **OFFLINE, "NO_COLOR": "1", **extra}


def run(*command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def stubs() -> dict[str, str]:
    return {
        c.exercise.name: pristine_text(f"exercises/{c.exercise.name}")
        for c in load_course(worktree_root()).chapters
    }


def worktree_root() -> Path:
    return Path(__file__).resolve().parent.parent


def test_install_once_then_offline_and_reset_without_git(tmp_path: Path) -> None:
    course = worktree_copy(tmp_path / "course")
    venv = borrowing_venv(tmp_path / "venv")
    env = offline_env(VENV=str(venv))

    first = run("bash", "scripts/install", cwd=course, env=env)
    assert "Installing the course" in first.stdout
    # What scripts/start and scripts/test ask for is there: nothing more to install.
    again = run("bash", "scripts/install", cwd=course, env=env)
    assert again.stdout == "", again.stdout
    as_test = run("bash", "scripts/install", cwd=course, env={**env, "EXTRAS": "test"})
    assert as_test.stdout == "", as_test.stdout
    # The course changed: the reinstall builds it without downloading its build backend.
    with (course / "pyproject.toml").open("a") as pyproject:
        pyproject.write("# a course update\n")
    changed = run("bash", "scripts/install", cwd=course, env=env)
    assert "Installing the course" in changed.stdout

    shared = venv / "share" / "async-quart-course" / "stubs"
    expected = stubs()
    assert {p.name: p.read_text() for p in shared.glob("ex*.py")} == expected

    # A learner's work, in a course folder without git history (a zip download).
    exercise = course / "exercises" / "ex01_coroutines.py"
    exercise.write_text((course / "solutions" / "ex01_coroutines.py").read_text())
    run("rm", "-rf", ".git", cwd=course, env=env)
    reset = run(str(venv / "bin" / "grader"), "reset", "01", cwd=course, env=env)
    assert "from the copy installed with the grader" in reset.stdout
    assert exercise.read_text() == expected["ex01_coroutines.py"]


def test_a_wheel_carries_the_stubs_never_a_learners_work(tmp_path: Path) -> None:
    course = worktree_copy(tmp_path / "course")
    expected = stubs()
    exercise = course / "exercises" / "ex01_coroutines.py"
    exercise.write_text((course / "solutions" / "ex01_coroutines.py").read_text())
    env = offline_env()

    def wheel(folder: str) -> dict[str, str]:
        run(
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "--no-build-isolation", "-w", str(tmp_path / folder), str(course),
            cwd=tmp_path, env=env,
        )  # fmt: skip
        (built,) = (tmp_path / folder).glob("*.whl")
        with zipfile.ZipFile(built) as archive:
            return {
                Path(name).name: archive.read(name).decode()
                for name in archive.namelist()
                if name.startswith("grader/_stubs/")
            }

    # With git history, the stub of the finished exercise comes from git.
    assert wheel("with-git") == expected
    # Without it, a finished exercise is left out rather than shipped as a stub.
    run("rm", "-rf", ".git", cwd=course, env=env)
    without = wheel("without-git")
    assert "ex01_coroutines.py" not in without
    assert without == {k: v for k, v in expected.items() if k != "ex01_coroutines.py"}

    # Installed from the wheel, the grader resets a course folder without git.
    venv = borrowing_venv(tmp_path / "venv")
    (built,) = (tmp_path / "with-git").glob("*.whl")
    run(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
        str(built), cwd=tmp_path, env=env)  # fmt: skip
    reset = run(str(venv / "bin" / "grader"), "reset", "01", cwd=course, env=env)
    assert "from the copy installed with the grader" in reset.stdout
    assert exercise.read_text() == expected["ex01_coroutines.py"]
