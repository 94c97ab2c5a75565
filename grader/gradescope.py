"""Results as a Gradescope `results.json` object (also read by GitHub Classroom scripts)."""

from __future__ import annotations

from typing import Any

from .results import ChapterResult, CheckResult


def check_output(check: CheckResult) -> str:
    if check.passed or check.feedback is None:
        return ""
    text = "\n".join(check.feedback.lines())
    if check.output:
        text += "\n\nYour code printed:\n" + check.output
    return text


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
            "extra_data": {"task": check.task, "loop_seconds": check.loop_seconds},
        }
        for chapter in chapters
        for check in chapter.checks
    ]
    passed = sum(c.passed for c in chapters)
    total = sum(c.total for c in chapters)
    problems = [f"{c.chapter}: {c.problem.summary}" for c in chapters if c.problem]
    return {
        "score": sum(c.score for c in chapters),
        "execution_time": round(wall_seconds, 3),
        "output": "\n".join([f"{passed}/{total} checks passed", *problems]),
        "visibility": "visible",
        "tests": tests,
    }
