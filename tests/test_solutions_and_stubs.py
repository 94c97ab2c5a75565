"""Every solution passes every check; every stub fails every check (rustlings' rule).

The stubs are the course's originals in a temporary course folder (`stub_course`), never
the learner's exercises/, and grading them there leaves the learner's .grader/ alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import chapter_ids, grader


@pytest.mark.parametrize("chapter_id", chapter_ids())
def test_solution_passes_every_check(chapter_id: str) -> None:
    graded = grader("check", chapter_id, "--solutions", "--json")
    assert graded.code == 0, graded.stdout + graded.stderr
    tests = graded.json["tests"]
    assert tests and all(t["status"] == "passed" for t in tests), [
        t for t in tests if t["status"] != "passed"
    ]
    assert graded.json["score"] == sum(t["max_score"] for t in tests)


@pytest.mark.parametrize("chapter_id", chapter_ids())
def test_stub_fails_every_check(chapter_id: str, stub_course: Path) -> None:
    graded = grader("check", chapter_id, "--json", cwd=stub_course)
    assert graded.code == 1, graded.stdout + graded.stderr
    passed = [t["name"] for t in graded.json["tests"] if t["status"] == "passed"]
    assert not passed, f"these checks pass on the untouched stub, so they cannot fail: {passed}"
    for test in graded.json["tests"]:
        assert "not written yet" in test["output"], test


def test_untouched_stub_says_what_to_do_first(stub_course: Path) -> None:
    graded = grader("check", "01", cwd=stub_course)
    assert graded.code == 1
    out = graded.stdout
    assert "0/8 checks passed" in out
    assert "fetch_data is not written yet" in out
    assert "exercises/ex01_coroutines.py, line" in out
    assert "Next step: task 1, fetch_data: wait without blocking" in out
    assert "grader hint 01 1" in out
    assert "Traceback" not in out
