"""`grader report`: a class graded in parallel, each learner in the sandbox, into a report
that is the same every time and never stopped by one learner's copy."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, grader
from test_cli import GRADESCOPE_SCHEMA

ADVERSARIAL = ROOT / "tests" / "adversarial"
BROKEN = ROOT / "tests" / "broken"


def solution(name: str) -> str:
    return (ROOT / "solutions" / name).read_text()


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Learners as teachers download them: folders, a zip of a course folder, a git-style
    clone, an empty copy, a broken zip, a hanging file and a hostile one."""
    root = tmp_path_factory.mktemp("class")
    ada = root / "ada" / "exercises"
    ada.mkdir(parents=True)
    (ada / "ex00_start.py").write_text(solution("ex00_start.py"))
    (ada / "ex01_coroutines.py").write_text(solution("ex01_coroutines.py"))
    bob = root / "bob"
    bob.mkdir()
    (bob / "ex00_start.py").write_text((ADVERSARIAL / "forge_results_channel.py").read_text())
    (bob / "ex01_coroutines.py").write_text((BROKEN / "busy_loop.py").read_text())
    course = root / "carol-source" / "carol-course" / "exercises"
    course.mkdir(parents=True)
    (course / "ex00_start.py").write_text(solution("ex00_start.py"))
    with zipfile.ZipFile(root / "carol.zip", "w") as archive:
        archive.write(course / "ex00_start.py", "carol-course/exercises/ex00_start.py")
        archive.writestr("../../escaped.py", "print('outside')\n")
    shutil.rmtree(root / "carol-source")
    (root / "dan").mkdir()
    (root / "eve.zip").write_text("this is not a zip")
    return root


def test_report_grades_the_class_and_says_the_same_twice(classroom: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    for out in (first, second):
        graded = grader(
            "report", str(classroom), "--chapters", "00,01", "--out", str(out), timeout=600
        )
        assert graded.code == 0, graded.stdout + graded.stderr
    for name in (
        "report.html",
        "report.csv",
        *(f"results/{p.name}" for p in (first / "results").iterdir()),
    ):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name

    rows = list(csv.DictReader((first / "report.csv").read_text().splitlines()))
    learners = [r["learner"] for r in rows]
    assert learners == sorted(learners, key=str.casefold)
    by = {(r["learner"], r["chapter"]): r for r in rows}
    assert by[("ada", "00")]["status"] == "passed" and by[("ada", "01")]["status"] == "passed"
    assert by[("bob", "00")]["score"] == "0"  # forged results are never counted
    assert by[("bob", "01")]["status"] == "failed"  # a hang costs its own checks only
    assert by[("carol", "00")]["status"] == "passed"  # a zip of a course folder
    assert by[("dan", "00")]["status"] == "missing"
    assert by[("eve", "00")]["status"] == "missing"  # a broken zip is a missing copy
    assert not (classroom.parent / "escaped.py").exists()

    for path in (first / "results").glob("*.json"):
        jsonschema.validate(json.loads(path.read_text()), GRADESCOPE_SCHEMA)
    page = (first / "report.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    assert "Learners who did not start" in page and "dan" in page
    assert "Where the class is stuck" in page


def test_names_are_escaped_and_made_safe_for_files(tmp_path: Path) -> None:
    root = tmp_path / "class"
    hostile = root / "<img src=x onerror=alert(1)> ..\\x"
    hostile.mkdir(parents=True)
    (hostile / "ex00_start.py").write_text(solution("ex00_start.py"))
    out = tmp_path / "out"
    graded = grader("report", str(root), "--chapters", "00", "--out", str(out), timeout=300)
    assert graded.code == 0, graded.stdout + graded.stderr
    page = (out / "report.html").read_text()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert [p.name for p in (out / "results").iterdir()] == ["img-src-x-onerror-alert-1-..-x.json"]


def test_a_gradescope_export_is_read_with_its_names(tmp_path: Path) -> None:
    export = tmp_path / "assignment_1_export"
    for folder in ("submission_101", "submission_102"):
        (export / folder).mkdir(parents=True)
        (export / folder / "ex00_start.py").write_text(solution("ex00_start.py"))
    (export / "submission_metadata.yml").write_text(
        "submission_101:\n  :submitters:\n  - :name: Grace Hopper\n    :email: g@example.com\n"
        "submission_102:\n  :submitters:\n  - :name: Alan Turing\n    :email: a@example.com\n"
    )
    out = tmp_path / "out"
    graded = grader("report", str(export), "--chapters", "00", "--out", str(out), timeout=300)
    assert graded.code == 0, graded.stdout + graded.stderr
    rows = list(csv.DictReader((out / "report.csv").read_text().splitlines()))
    assert [r["learner"] for r in rows] == ["Alan Turing", "Grace Hopper"]


def test_github_classroom_repositories_are_named_by_user(tmp_path: Path) -> None:
    root = tmp_path / "async-course-submissions"
    for user in ("octocat", "hubot"):
        (root / f"async-course-{user}" / "exercises").mkdir(parents=True)
        (root / f"async-course-{user}" / ".git").mkdir()  # a clone, as gh classroom makes
        (root / f"async-course-{user}" / "exercises" / "ex00_start.py").write_text(
            solution("ex00_start.py")
        )
    # Plain folders keep their names, even when they share a hyphenated start.
    for name in ("jean-paul", "jean-luc"):
        (tmp_path / "plain" / name).mkdir(parents=True)
    out = tmp_path / "out"
    graded = grader("report", str(root), "--chapters", "00", "--out", str(out), timeout=300)
    assert graded.code == 0
    rows = list(csv.DictReader((out / "report.csv").read_text().splitlines()))
    assert [r["learner"] for r in rows] == ["hubot", "octocat"]
    grader("report", str(tmp_path / "plain"), "--chapters", "00", "--out", str(out))
    rows = list(csv.DictReader((out / "report.csv").read_text().splitlines()))
    assert [r["learner"] for r in rows] == ["jean-luc", "jean-paul"]
    # The learners of the earlier report are gone from results/ too.
    assert sorted(p.name for p in (out / "results").iterdir()) == [
        "jean-luc.json",
        "jean-paul.json",
    ]


def test_a_report_inside_the_class_folder_is_not_a_learner(tmp_path: Path) -> None:
    root = tmp_path / "class"
    for name in ("=1+2", "José García"):
        (root / name).mkdir(parents=True)
        (root / name / "ex00_start.py").write_text(solution("ex00_start.py"))
    for _ in range(2):
        graded = grader(
            "report", str(root), "--chapters", "00", "--out", str(root / "report"), timeout=300
        )
        assert graded.code == 0, graded.stdout + graded.stderr
    table = (root / "report" / "report.csv").read_text()
    rows = list(csv.DictReader(table.splitlines()))
    assert [r["learner"] for r in rows] == ["'=1+2", "José García"]
    names = sorted(p.name for p in (root / "report" / "results").iterdir())
    assert names == ["1-2.json", "Jose-Garcia.json"]
