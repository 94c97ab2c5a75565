"""Results as a Gradescope `results.json` object (also read by GitHub Classroom scripts)."""

from __future__ import annotations

from typing import Any

from .report import fold_tracebacks
from .results import ChapterResult, CheckResult

OUTPUT_BUDGET = 3_000  # characters of one test's output: a whole report stays readable
SUMMARY_BUDGET = 20_000  # characters of the top-level output


def check_output(check: CheckResult) -> str:
    parts = []
    if not check.passed and check.feedback is not None:
        parts.append("\n".join(check.feedback.lines()))
        if check.output:
            parts.append("Your code printed:\n" + fold_tracebacks(check.output))
    parts.extend(check.notes[:3])
    return budget("\n\n".join(parts), OUTPUT_BUDGET)


def budget(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit:,} more characters not shown)"


def results_json(chapters: list[ChapterResult], wall_seconds: float) -> dict[str, Any]:
    tests = [
        {
            "name": f"{chapter.chapter} · {check.name}",
            "number": f"{chapter.chapter}.{check.task}",
            "score": check.score,
            "max_score": check.points,
            "status": check.status,
            "output": check_output(check),
            "visibility": "visible",
            "extra_data": {
                "task": check.task,
                "loop_seconds": check.loop_seconds,
                "integrity": bool(check.notes),
            },
        }
        for chapter in chapters
        for check in chapter.checks
    ]
    passed = sum(c.passed for c in chapters)
    total = sum(c.total for c in chapters)
    problems = [f"{c.chapter}: {c.problem.summary}" for c in chapters if c.problem]
    notes = [f"{c.chapter}: integrity note: {finding}" for c in chapters for finding in c.integrity]
    return {
        "score": sum(c.score for c in chapters),
        "execution_time": round(wall_seconds, 3),
        "output": budget(
            "\n".join([f"{passed}/{total} checks passed", *problems, *notes]), SUMMARY_BUDGET
        ),
        "visibility": "visible",
        "tests": tests,
    }
