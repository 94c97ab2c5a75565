"""The learner's folders as the course ships them are linted too.

`ruff check .` skips exercises/ and notebooks/ (pyproject.toml): once the course is in use
they hold a learner's work, which the course's lint must not judge. Their originals
(`pristine_text`) are linted here instead, with the course's settings.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, pristine_course

# In a folder without grader/, ruff would take `grader` for a third-party package.
RUFF = [sys.executable, "-m", "ruff"]
FIRST_PARTY = ["--config", "lint.isort.known-first-party = ['grader']"]


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RUFF, *args], cwd=cwd, capture_output=True, text=True)


def test_ruff_skips_the_learners_folders(tmp_path: Path) -> None:
    course = pristine_course(tmp_path, solved=True, notebooks=True)
    shutil.copy(ROOT / "pyproject.toml", course / "pyproject.toml")
    # A learner's file that would fail every rule: not the course's business.
    (course / "exercises" / "ex00_start.py").write_text("import os, sys\nx=1;y = 2 " + "#" * 200)
    done = ruff("check", ".", cwd=course)
    assert done.returncode == 0, done.stdout + done.stderr


def test_stubs_and_notebooks_as_shipped_pass_ruff(tmp_path: Path) -> None:
    course = pristine_course(tmp_path, notebooks=True)
    shutil.copy(ROOT / "pyproject.toml", course / "pyproject.toml")
    checked = ruff("check", *FIRST_PARTY, "exercises", "notebooks", cwd=course)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = ruff("format", "--check", "exercises", cwd=course)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
