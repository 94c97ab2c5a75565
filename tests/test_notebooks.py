"""Every notebook executes top to bottom, offline, within its time budget; its check cell
reports on the exercise; notebooks are committed clean and in sync with course.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import CACHES, ROOT, chapter_ids, pristine_course, pristine_text

from grader.course import load_course

BUDGET_SECONDS = 120  # one notebook, top to bottom, on a slow 2-core machine
# Anything that tries the internet through a proxy-aware client fails fast; and a demo's
# client for a local server must ignore the environment's proxies (trust_env=False), as it
# must on a workshop machine behind a corporate proxy.
OFFLINE = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "",
}


def learner_copy(tmp_path: Path, *, solved: bool) -> Path:
    """The course's notebooks and stubs (or solutions) as handed out, never the learner's."""
    return pristine_course(tmp_path, solved=solved, notebooks=True)


def execute(root: Path, chapter_id: str) -> tuple[nbformat.NotebookNode, float]:
    """Run the notebook with `jupyter execute` in its own process, as CI and a teacher would;
    errors are kept in the outputs for the test to judge cell by cell."""
    notebook = load_course(root).chapter(chapter_id).notebook
    executed = root / "executed.ipynb"
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "execute",
            "--allow-errors",
            f"--timeout={BUDGET_SECONDS}",
            f"--output={executed}",
            notebook.name,
        ],
        cwd=notebook.parent,
        capture_output=True,
        text=True,
        timeout=BUDGET_SECONDS * 2,
        env={**os.environ, **OFFLINE, "COURSE_ROOT": str(root)},
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    return nbformat.read(executed, as_version=4), took


def text_of(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
        if output.get("output_type") == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "".join(parts)


def errors(cell: nbformat.NotebookNode) -> list[str]:
    return [
        f"{o['ename']}: {o['evalue']}"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


@pytest.mark.parametrize("chapter_id", chapter_ids())
def test_notebook_runs_on_the_untouched_stub(tmp_path: Path, chapter_id: str) -> None:
    nb, took = execute(learner_copy(tmp_path, solved=False), chapter_id)
    assert took < BUDGET_SECONDS
    for cell in nb.cells:
        if "raises-exception" not in cell.metadata.get("tags", []):
            assert not errors(cell), (cell.source, errors(cell))
    report = text_of(nb.cells[-1])
    assert f"Chapter {chapter_id}" in report and "0/" in report and "not written yet" in report


@pytest.mark.parametrize("chapter_id", chapter_ids())
def test_notebook_try_it_cells_work_on_a_solved_exercise(tmp_path: Path, chapter_id: str) -> None:
    nb, _ = execute(learner_copy(tmp_path, solved=True), chapter_id)
    try_it = [c for c in nb.cells if c.cell_type == "code" and "exercise(" in c.source]
    assert try_it, "a notebook should let the learner try their exercise"
    for cell in try_it:
        assert not errors(cell), (cell.source, errors(cell))
    assert "All checks pass" in text_of(nb.cells[-1])


def test_notebooks_are_clean_and_in_sync(tmp_path: Path) -> None:
    # The notebooks as committed (staged), not as a learner's JupyterLab saved them: the
    # sync script checks a copy of the course with those.
    for name in ("course.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("grader", "scripts"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=CACHES)
    (tmp_path / "notebooks").mkdir()
    for chapter in load_course(ROOT).chapters:
        relpath = f"notebooks/{chapter.notebook.name}"
        (tmp_path / relpath).write_text(pristine_text(relpath), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "scripts/sync_notebooks.py", "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for path in (tmp_path / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None, path
