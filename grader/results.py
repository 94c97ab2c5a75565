"""What a check run produced, in a form both the terminal report and --json read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed"]


@dataclass
class Feedback:
    """Why a check failed, in a learner's words."""

    summary: str
    expected: str | None = None
    got: str | None = None
    hint: str | None = None
    where: str | None = None  # "exercises/ex01_coroutines.py, line 12: time.sleep(2)"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feedback:
        def field(name: str) -> str | None:
            value = data.get(name)
            return None if value is None else str(value)

        return cls(
            summary=str(data.get("summary", "")),
            expected=field("expected"),
            got=field("got"),
            hint=field("hint"),
            where=field("where"),
        )

    def lines(self) -> list[str]:
        out = [self.summary]
        if self.where:
            out.append(f"where:    {self.where}")
        if self.expected:
            out.append(f"expected: {self.expected}")
        if self.got:
            out.append(f"got:      {self.got}")
        if self.hint:
            out.append(f"hint:     {self.hint}")
        return out


@dataclass
class CheckResult:
    id: str
    name: str
    task: int
    points: int
    status: Status = "failed"
    feedback: Feedback | None = None
    output: str = ""  # what the learner's code printed, trimmed
    traceback: str = ""  # shown on --verbose only
    loop_seconds: float = 0.0  # event-loop time the check simulated
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # integrity notes, for the teacher

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def score(self) -> int:
        return self.points if self.passed else 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ChapterResult:
    chapter: str
    title: str
    file: str
    checks: list[CheckResult] = field(default_factory=list)
    problem: Feedback | None = None  # the file could not be loaded at all
    problem_output: str = ""  # what the file printed while it was being loaded
    wall_seconds: float = 0.0
    integrity: list[str] = field(default_factory=list)  # what a teacher should look at

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.checks)

    @property
    def total(self) -> int:
        return len(self.checks)

    @property
    def score(self) -> int:
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> int:
        return sum(c.points for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.problem is None and self.total > 0 and self.passed == self.total

    @property
    def loop_seconds(self) -> float:
        return sum(c.loop_seconds for c in self.checks)


def chapter_from_dict(data: dict[str, Any]) -> ChapterResult:
    """The inverse of dataclasses.asdict for a ChapterResult (results passed between
    processes: a notebook's check, the teacher's report workers)."""
    checks = [
        CheckResult(
            **{
                **c,
                "feedback": Feedback.from_dict(c["feedback"]) if c.get("feedback") else None,
            }
        )
        for c in data.get("checks", ())
    ]
    problem = data.get("problem")
    return ChapterResult(
        **{
            **data,
            "checks": checks,
            "problem": Feedback.from_dict(problem) if problem else None,
        }
    )
