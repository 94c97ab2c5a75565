"""The manifest is the one source of truth: every chapter it lists is complete."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import ROOT, chapter_ids, pristine_text

from grader.course import Course


@pytest.mark.parametrize("chapter_id", chapter_ids())
def test_chapter_has_its_four_files(course: Course, chapter_id: str) -> None:
    chapter = course.chapter(chapter_id)
    for path in (chapter.solution, chapter.checks):
        assert path.is_file(), f"chapter {chapter_id} lacks {path.relative_to(ROOT)}"
    # The learner's two files: as the course ships them, whatever the learner did since.
    for path in (chapter.exercise, chapter.notebook):
        assert pristine_text(course.relative(path)), f"chapter {chapter_id} lacks {path}"


@pytest.mark.parametrize("chapter_id", chapter_ids())
def test_tasks_are_numbered_and_hinted(course: Course, chapter_id: str) -> None:
    chapter = course.chapter(chapter_id)
    assert [t.number for t in chapter.tasks] == list(range(1, len(chapter.tasks) + 1))
    for task in chapter.tasks:
        assert task.title and task.hints, (
            f"task {task.number} of {chapter_id} needs a title and hints"
        )


def checks_in(source: str) -> list[tuple[str, int]]:
    """(check name, task) of every @check(...) in a checks file."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "check":
                    task = next(k.value for k in deco.keywords if k.arg == "task")
                    found.append((node.name, ast.literal_eval(task)))
    return found


@pytest.mark.parametrize("chapter_id", chapter_ids())
def test_every_task_has_checks_and_every_check_a_task(course: Course, chapter_id: str) -> None:
    chapter = course.chapter(chapter_id)
    checks = checks_in(chapter.checks.read_text(encoding="utf-8"))
    tasks = {t.number for t in chapter.tasks}
    assert checks, "no checks"
    assert {task for _, task in checks} == tasks, "each task needs a check, each check a task"
    names = [name for name, _ in checks]
    assert all(n.startswith("test_") for n in names) and len(set(names)) == len(names)


@pytest.mark.parametrize("chapter_id", chapter_ids())
def test_stub_and_solution_have_the_same_public_names(course: Course, chapter_id: str) -> None:
    chapter = course.chapter(chapter_id)

    def public(text: str) -> set[str]:
        tree = ast.parse(text)
        return {
            n.name
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and not n.name.startswith("_")
        }

    stub = pristine_text(course.relative(chapter.exercise))
    assert public(stub) == public(chapter.solution.read_text(encoding="utf-8"))


@pytest.mark.parametrize("chapter_id", chapter_ids())
def test_stub_says_what_to_do(course: Course, chapter_id: str) -> None:
    text = pristine_text(course.relative(course.chapter(chapter_id).exercise))
    assert "TODO" in text and "NotImplementedError" in text
    assert "NotImplementedError" not in course.chapter(chapter_id).solution.read_text(
        encoding="utf-8"
    )


def test_ids_are_unique_and_ordered(course: Course) -> None:
    ids = [c.id for c in course.chapters]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"\d\d", i) for i in ids)


def test_readme_lists_every_chapter_and_its_quick_start(course: Course) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for chapter in course.chapters:
        row = f"| {chapter.id} | {chapter.title} | [{chapter.id}_{chapter.slug}]"
        assert row in readme, f"README's chapter table lacks: {row}"
    assert "bash scripts/start" in readme and "bash scripts/test" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test" in ci, "CI must run the README's test command"
