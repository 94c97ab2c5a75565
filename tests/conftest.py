"""Shared helpers for the course's own tests: run the grader as a learner would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.course import Course, load_course  # noqa: E402


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
