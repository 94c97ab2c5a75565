"""What a learner's `grader check --share` may post, read strictly: anything that is not a
name, a chapter, a check name or a score is refused or dropped, never stored."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_NAME = 40  # the contract's limit (grader/share.py checks it before posting, too)
MAX_BYTES = 64 * 1024  # one post, with or without Content-Length
MAX_CHAPTERS = 64  # `grader check all` posts every chapter at once
MAX_CHECKS = 100  # per chapter
MAX_CHECK_NAME = 300
MAX_POINTS = 1_000
CHAPTER_ID = re.compile(r"[0-9A-Za-z_-]{1,8}")


class Refused(Exception):
    """A post the dashboard will not store: the status and the reason, for a JSON 4xx."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Check:
    name: str
    task: int
    points: int
    passed: bool

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "points": self.points, "passed": self.passed}


@dataclass(frozen=True)
class ChapterScore:
    """One chapter of one post: the score and every check's verdict."""

    chapter: str
    score: int
    max_score: int
    checks: tuple[Check, ...]
    at: float = 0.0  # when the dashboard received it (seconds since the epoch)

    def as_json(self) -> dict[str, Any]:
        return {
            "chapter": self.chapter,
            "score": self.score,
            "max_score": self.max_score,
            "checks": [c.as_json() for c in self.checks],
            "at": self.at,
        }


def clean_name(value: Any) -> str:
    """The learner's name as shown: stripped, NFC, 1 to MAX_NAME characters, printable."""
    if not isinstance(value, str):
        raise Refused(400, "the post needs a `name`: the learner's name, as text")
    name = unicodedata.normalize("NFC", value.strip())
    if not name:
        raise Refused(400, "the name is empty: pass --name YOUR_NAME")
    if len(name) > MAX_NAME:
        raise Refused(400, f"the name is longer than {MAX_NAME} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise Refused(400, "the name holds control characters")
    return name


def read_post(
    data: Any, chapters: Mapping[str, str], checks: Mapping[str, set[str]] | None = None
) -> tuple[str, list[ChapterScore]]:
    """The name and the chapters of a post (grader.share.payload), or Refused. `chapters`
    (id -> title) are the course's: a chapter it does not have is refused, unless it is
    empty (a dashboard that does not know the course)."""
    if not isinstance(data, dict):
        raise Refused(400, "the post must be a JSON object with `name` and `results`")
    name = clean_name(data.get("name"))
    results = data.get("results")
    if not isinstance(results, list) or not results:
        raise Refused(400, "`results` must be a list of chapters, one at least")
    if len(results) > MAX_CHAPTERS:
        raise Refused(400, f"at most {MAX_CHAPTERS} chapters in one post")
    scores: dict[str, ChapterScore] = {}
    for item in results:
        score = read_chapter(item, chapters)
        known = (checks or {}).get(score.chapter)
        if known is not None and not {c.name for c in score.checks} <= known:
            raise Refused(400, f"chapter {score.chapter}: checks this course does not have")
        if known is not None and not score.checks:
            raise Refused(400, f"chapter {score.chapter}: no checks")
        if score.chapter in scores:
            raise Refused(400, f"chapter {score.chapter} is in the post twice")
        scores[score.chapter] = score
    return name, list(scores.values())


def read_chapter(item: Any, chapters: Mapping[str, str]) -> ChapterScore:
    if not isinstance(item, dict):
        raise Refused(400, "each result must be an object: chapter, score, max_score, checks")
    chapter = item.get("chapter")
    if not isinstance(chapter, str) or not CHAPTER_ID.fullmatch(chapter):
        raise Refused(400, 'each result needs a `chapter` such as "03"')
    if chapters and chapter not in chapters:
        raise Refused(400, f"this course has no chapter {chapter}")
    checks = item.get("checks")
    if not isinstance(checks, list) or len(checks) > MAX_CHECKS:
        raise Refused(400, f"chapter {chapter}: `checks` must be a list of at most {MAX_CHECKS}")
    read = tuple(read_check(c, chapter) for c in checks)
    score = sum(c.points for c in read if c.passed)
    max_score = sum(c.points for c in read)
    # The score is the sum of the points of the checks passed: a post that says otherwise
    # was not made by the grader, and the grid would contradict the checks.
    if (item.get("score"), item.get("max_score")) != (score, max_score):
        raise Refused(400, f"chapter {chapter}: the score does not add up from the checks")
    return ChapterScore(chapter, score, max_score, read)


def read_check(item: Any, chapter: str) -> Check:
    if not isinstance(item, dict):
        raise Refused(400, f"chapter {chapter}: each check must be an object")
    name, task, points, passed = (item.get(k) for k in ("name", "task", "points", "passed"))
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_CHECK_NAME:
        raise Refused(400, f"chapter {chapter}: a check's name must be 1 to "
                      f"{MAX_CHECK_NAME} characters")  # fmt: skip
    task, points = _count(task), _count(points)
    if task is None or points is None or not isinstance(passed, bool):
        raise Refused(400, f"chapter {chapter}: a check needs a task, points and passed")
    return Check(name.strip(), task, points, passed)


def _count(value: Any) -> int | None:
    """A whole number (not a bool, not a float) from 0 to MAX_POINTS, or None."""
    return value if type(value) is int and 0 <= value <= MAX_POINTS else None
