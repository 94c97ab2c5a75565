"""The checks can fail, clause by clause: mutants of the reference solutions.

The mutants live in tests/mutants/, one module per chapter. The grader runs on each as on a
learner's file, and the checks that must catch the mistake fail, each with a plain
explanation (no raw traceback). Every check function is named by at least one mutant: no
check can only be failed by the stub's NotImplementedError.

A mutant with a `gap` is a known gap in the checks: it documents what they should catch,
and the test fails once they do, so the gap can go. A chapter's mutants are graded together
by a warm worker (grader.engine.pool), one chapter per test.
"""

from __future__ import annotations

import ast
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, chapter_ids
from mutants import Mutant, all_mutants, chapters_with_mutants

from grader.course import Chapter, load_course
from grader.engine.pool import Task, run_tasks
from grader.gradescope import results_json
from grader.results import chapter_from_dict

MUTANTS = all_mutants()


@cache
def chapter(chapter_id: str) -> Chapter:
    return load_course(ROOT).chapter(chapter_id)


@cache
def display_names(chapter_id: str) -> dict[str, str]:
    """Check function -> its display name, read from `@check("name", task=N)` without
    importing the checks."""
    path = chapter(chapter_id).checks
    names: dict[str, str] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not node.name.startswith("test_"):
            continue
        for decorator in node.decorator_list:
            if (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Name)
                and decorator.func.id == "check"
            ):
                names[node.name] = ast.literal_eval(decorator.args[0])
        assert node.name in names, f"{path.name}: {node.name} has no @check(...)"
    return names


def make_mutant(mutant: Mutant) -> str:
    text = chapter(mutant.chapter).solution.read_text(encoding="utf-8")
    for old, _ in mutant.edits:
        count = text.count(old)
        assert count == 1, f"{old!r} is {count} times in the solution: update the mutant"
    for old, new in mutant.edits:
        text = text.replace(old, new)
    return text


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def grade(mutants: list[Mutant]) -> dict[str, dict[str, Any]]:
    """Each mutant's results as `grader check NN --file MUTANT --json` prints them, graded
    by a warm worker: the same engine, sandbox and children as a lone check, without a
    Python start for each mutant."""
    folder = Path(tempfile.mkdtemp(prefix="mutants-"))
    tasks = []
    for mutant in mutants:
        path = folder / mutant.name / f"{chapter(mutant.chapter).module_name}.py"
        path.parent.mkdir()
        path.write_text(make_mutant(mutant), encoding="utf-8")
        tasks.append(Task(mutant.name, mutant.chapter, path, str(path)))
    reports: dict[str, dict[str, Any]] = {}

    def keep(task: Task, data: dict[str, Any]) -> None:
        assert "error" not in data, data
        reports[task.key] = results_json([chapter_from_dict(data)], 0.0)

    run_tasks(tasks, ROOT, workers=1, on_result=keep)
    return reports


def problems_with(mutant: Mutant, report: dict[str, Any]) -> list[str]:
    """What is wrong with how the checks took this mutant (nothing: they caught it)."""
    names = display_names(mutant.chapter)
    text = make_mutant(mutant)
    if report["score"] >= sum(t["max_score"] for t in report["tests"]):
        return ["every check passed"]
    found = []
    results = {t["name"].split(" · ", 1)[1]: t for t in report["tests"]}
    for function, snippet in mutant.fails.items():
        result = results[names[function]]
        output = result["output"]
        expected = snippet.replace("{line}", str(line_of(text, mutant.edits[0][1])))
        if result["status"] != "failed":
            found.append(f"{function} passed it")
        elif expected not in output:
            found.append(f"{expected!r} not in {function}'s output:\n{output}")
    for function, misleading in mutant.avoid.items():
        output = results[names[function]]["output"]
        if misleading in output:
            found.append(f"{function} says {misleading!r}:\n{output}")
    for result in report["tests"]:
        if result["status"] == "failed":
            if not result["output"].strip():
                found.append(f"{result['name']} failed without saying why")
            # The explanation has no raw traceback; what the learner's code printed (an
            # error handler that logs the exception, say) is the learner's and may.
            explanation = result["output"].split("Your code printed:", 1)[0]
            if "Traceback" in explanation:
                found.append(f"{result['name']} shows a traceback:\n{result['output']}")
    return found


@pytest.mark.parametrize("chapter_id", chapters_with_mutants())
def test_mutants_fail_their_checks(chapter_id: str) -> None:
    """Every mutant of the chapter fails the checks it names, each with its message. A
    mutant with a `gap` is a known hole in the checks: it must still get through, and once
    the checks catch it, its gap goes."""
    mutants = [m for m in MUTANTS if m.chapter == chapter_id]
    names = display_names(chapter_id)
    for mutant in mutants:
        unknown = (set(mutant.fails) | set(mutant.avoid)) - set(names)
        assert not unknown, f"{mutant.name}: unknown checks: {unknown}"
    reports = grade(mutants)
    failures = []
    for mutant in mutants:
        problems = problems_with(mutant, reports[mutant.name])
        if mutant.gap and not problems:
            failures.append(f"{mutant.name}: the checks catch it now; remove its gap")
        elif problems and not mutant.gap:
            failures.append(f"{mutant.name}: " + "\n".join(problems))
    assert not failures, "\n\n".join(failures)


def test_every_mutant_has_its_own_name() -> None:
    assert len({(m.chapter, m.name) for m in MUTANTS}) == len(MUTANTS)


def test_every_check_has_a_mutant() -> None:
    named = {(m.chapter, f) for m in MUTANTS if not m.gap for f in m.fails}
    every = {(c, f) for c in chapter_ids() for f in display_names(c)}
    assert sorted(every - named) == [], "checks that no mutant fails"


def test_every_chapter_has_mutants() -> None:
    assert chapters_with_mutants() == chapter_ids()
