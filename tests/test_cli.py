"""The grader's commands as a learner, a teacher and an autograder use them."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import chapter_ids, grader, pristine_course

from grader.course import load_course

# Gradescope's results.json, as its autograder documentation specifies it.
GRADESCOPE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tests"],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "stdout_visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "score", "max_score", "status"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "number": {"type": "string"},
                    "score": {"type": "number", "minimum": 0},
                    "max_score": {"type": "number", "minimum": 0},
                    "status": {"enum": ["passed", "failed"]},
                    "output": {"type": "string"},
                    "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {
                        "enum": ["hidden", "after_due_date", "after_published", "visible"]
                    },
                    "extra_data": {"type": "object"},
                },
            },
        },
    },
}


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A learner's copy of the course as handed out: what the grader reads and writes."""
    return pristine_course(tmp_path / "course")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Learner", "-c", "user.email=learner@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "99"], "there is no chapter '99'"),
        (["check", "01", "--file", "no/such/file.py"], "there is no file"),
        (["check", "all", "--file", "exercises/ex01_coroutines.py"], "--file checks one chapter"),
        (["hint", "02", "9"], "chapter 02 has no task 9"),
        (["reset", "42"], "there is no chapter '42'"),
    ],
)
def test_a_wrong_command_exits_2_with_a_reason(args: list[str], message: str) -> None:
    graded = grader(*args)
    assert graded.code == 2
    assert message in graded.stderr
    assert "Traceback" not in graded.stderr


def test_no_command_is_a_usage_error() -> None:
    assert grader().code == 2


def test_outside_a_course_folder(tmp_path: Path) -> None:
    graded = grader("list", cwd=tmp_path, env={"COURSE_ROOT": str(tmp_path)})
    assert graded.code == 2 and "no course.toml there" in graded.stderr


def test_check_all_solutions_prints_one_summary_table() -> None:
    graded = grader("check", "all", "--solutions")
    assert graded.code == 0, graded.stdout
    assert "All chapters" in graded.stdout
    ids = chapter_ids()
    for chapter in ids:
        assert f"Chapter {chapter}" in graded.stdout
    assert f"checks passed in {len(ids)} chapters" in graded.stdout


# Every chapter's stub (failures, each with its output) and one chapter alone; the solutions
# of every chapter are graded by test_check_all_solutions_prints_one_summary_table.
@pytest.mark.parametrize("which", [["all"], ["02"]])
def test_json_is_gradescope_results(which: list[str], stub_course: Path) -> None:
    graded = grader("check", *which, "--json", cwd=stub_course)
    results = graded.json
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    assert results["score"] == sum(t["score"] for t in results["tests"])
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert all(t["score"] == 0 and t["output"] for t in failed)
    assert graded.code == (1 if failed else 0)


def test_check_remembers_results_for_list(course_copy: Path) -> None:
    shutil.copy(
        course_copy / "solutions" / "ex00_start.py", course_copy / "exercises" / "ex00_start.py"
    )
    assert grader("check", "00", cwd=course_copy).code == 0
    assert grader("check", "01", cwd=course_copy).code == 1
    listing = grader("list", cwd=course_copy)
    assert listing.code == 0
    lines = listing.stdout.splitlines()
    assert any("00" in line and "✓ 4/4" in line for line in lines), listing.stdout
    assert any("01" in line and "✗ 0/8" in line for line in lines), listing.stdout
    assert any("02" in line and "not checked yet" in line for line in lines), listing.stdout


def test_list_cuts_nothing_on_a_narrow_terminal(course_copy: Path) -> None:
    shutil.copy(
        course_copy / "solutions" / "ex00_start.py", course_copy / "exercises" / "ex00_start.py"
    )
    assert grader("check", "00", cwd=course_copy).code == 0
    chapters = load_course(course_copy).chapters
    for columns, with_files in (("80", True), ("50", False)):
        listing = grader("list", cwd=course_copy, env={"COLUMNS": columns})
        assert listing.code == 0
        table = [line for line in listing.stdout.splitlines() if line[:1] in "┏┃┡│└"]
        assert max(len(line) for line in table) <= int(columns), listing.stdout
        assert "…" not in listing.stdout, listing.stdout
        words = set(listing.stdout.replace("│", " ").split())
        for chapter in chapters:
            assert set(chapter.title.split()) <= words, (chapter.title, listing.stdout)
            assert (chapter.exercise.name in listing.stdout) == with_files, listing.stdout
        assert "✓ 4/4" in listing.stdout
        if not with_files:
            assert "exercises/exNN_<name>.py" in listing.stdout


def test_hint_after_every_check_passed_says_so(course_copy: Path) -> None:
    shutil.copy(
        course_copy / "solutions" / "ex00_start.py", course_copy / "exercises" / "ex00_start.py"
    )
    assert grader("check", "00", cwd=course_copy).code == 0
    hint = grader("hint", "00", cwd=course_copy)
    assert hint.code == 0
    assert "Every check of chapter 00 passed (4/4" in hint.stdout, hint.stdout
    assert "Next: chapter 01" in hint.stdout
    assert "hint 1/" not in hint.stdout
    # A task's hints can still be asked for by number.
    assert "hint 1/2" in grader("hint", "00", "1", cwd=course_copy).stdout


def test_hints_come_one_step_at_a_time(course_copy: Path) -> None:
    first = grader("hint", "02", "3", cwd=course_copy)
    assert "hint 1/3" in first.stdout and "hint 2/3" not in first.stdout
    assert "again for the next hint" in first.stdout
    second = grader("hint", "02", "3", cwd=course_copy)
    assert "hint 1/3" in second.stdout and "hint 2/3" in second.stdout
    third = grader("hint", "02", "3", cwd=course_copy)
    fourth = grader("hint", "02", "3", cwd=course_copy)
    assert "hint 3/3" in third.stdout and "last hint" in fourth.stdout
    every = grader("hint", "01", "2", "--all", cwd=course_copy)
    assert "hint 1/2" in every.stdout and "hint 2/2" in every.stdout


def test_hint_without_a_task_follows_the_last_failure(course_copy: Path) -> None:
    partial = (course_copy / "solutions" / "ex01_coroutines.py").read_text()
    partial = partial.replace("return asyncio.run(fetch_data(delay))", "raise NotImplementedError")
    (course_copy / "exercises" / "ex01_coroutines.py").write_text(partial)
    grader("check", "01", cwd=course_copy)
    hint = grader("hint", "01", cwd=course_copy)
    assert "task 3: run_sync" in hint.stdout


def test_reset_restores_the_stub_and_keeps_a_backup(course_copy: Path) -> None:
    stub = (course_copy / "exercises" / "ex01_coroutines.py").read_text()
    git(course_copy, "init", "-q")
    git(course_copy, "add", ".")
    git(course_copy, "commit", "-q", "-m", "the course")
    mine = (course_copy / "solutions" / "ex01_coroutines.py").read_text()
    (course_copy / "exercises" / "ex01_coroutines.py").write_text(mine)
    git(course_copy, "commit", "-q", "-am", "my work")  # a learner's own commit is skipped
    assert grader("check", "01", cwd=course_copy).code == 0
    assert grader("check", "02", cwd=course_copy).code == 1
    done = grader("reset", "01", cwd=course_copy)
    assert done.code == 0, done.stderr
    assert "from the course's git history" in done.stdout
    assert (course_copy / "exercises" / "ex01_coroutines.py").read_text() == stub
    backups = list((course_copy / ".grader" / "backups").glob("ex01_coroutines.*.py"))
    assert [b.read_text() for b in backups] == [mine]
    # The chapter starts anew in the list; other chapters keep their results.
    state = json.loads((course_copy / ".grader" / "state.json").read_text())
    assert sorted(state["results"]) == ["02"]
    again = grader("reset", "01", cwd=course_copy)
    assert "already the original stub" in again.stdout


def test_reset_without_git_history_uses_the_installed_stubs(course_copy: Path) -> None:
    # A course folder downloaded as a zip has no git history: the stubs installed with the
    # grader (hatch_build.py) are the originals then.
    exercise = course_copy / "exercises" / "ex01_coroutines.py"
    stub = exercise.read_text()
    exercise.write_text((course_copy / "solutions" / "ex01_coroutines.py").read_text())
    done = grader(
        "reset", "01", cwd=course_copy, env={"GIT_CEILING_DIRECTORIES": str(course_copy.parent)}
    )
    assert done.code == 0, done.stdout + done.stderr
    assert "from the copy installed with the grader" in done.stdout
    assert exercise.read_text() == stub


def test_reset_with_no_original_anywhere_explains(
    course_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader.commands import reset
    from grader.course import CourseError, load_course

    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(course_copy.parent))
    monkeypatch.setattr("grader.pristine.installed_stub", lambda name: None)
    with pytest.raises(CourseError, match="no original of exercises/ex01_coroutines.py"):
        reset.run(load_course(course_copy), "01")


def test_watch_checks_again_on_save(course_copy: Path) -> None:
    exercise = course_copy / "exercises" / "ex00_start.py"
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "watch", "00"],
        cwd=course_copy,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "TERM": "dumb"},
    )
    assert process.stdout is not None
    try:
        read_until(process, "0/4 checks passed")
        assert "Watching exercises/ex00_start.py" in read_until(process, "Ctrl-C to stop")
        exercise.write_text((course_copy / "solutions" / "ex00_start.py").read_text())
        seen = read_until(process, "All checks pass")
        assert "4/4 checks passed" in seen
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
        process.stdout.close()
    assert code == 0


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    """Read the process's output until `marker`, failing (not hanging) after `timeout`."""
    assert process.stdout is not None
    lines: queue.Queue[str] = getattr(process, "lines", None) or queue.Queue()
    if not hasattr(process, "lines"):
        process.lines = lines  # type: ignore[attr-defined]
        stream = process.stdout
        threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    deadline = time.monotonic() + timeout
    seen = ""
    while marker not in seen:
        try:
            seen += lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise AssertionError(f"{marker!r} not seen in:\n{seen}") from None
    return seen
