"""The room as the page shows it, kept in memory (the SQLite file is the record; this is
its latest state): every learner's newest result per chapter, what the room is failing
now, and who may post how often."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from .payload import ChapterScore, Refused


class Room:
    def __init__(
        self,
        chapters: Mapping[str, str],
        latest: dict[str, dict[str, ChapterScore]],
        *,
        rate: int,
        window: float,
        max_learners: int,
    ) -> None:
        self.titles = dict(chapters)  # id -> title, in the course's order
        self.latest = latest
        self.rate, self.window, self.max_learners = rate, window, max_learners
        self._posts: dict[str, deque[float]] = {}

    def admit(self, name: str, now: float) -> None:
        """Count one post by `name` at `now` (monotonic seconds), or refuse it: at most
        `rate` accepted posts in any `window` seconds, and a bounded number of learners."""
        if name not in self.latest and len(self.latest) >= self.max_learners:
            raise Refused(403, f"the room is full ({self.max_learners} learners)")
        times = self._posts.setdefault(name, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.rate:
            wait = int(times[0] + self.window - now) + 1
            raise Refused(429, f"more than {self.rate} results a minute from {name}: wait {wait} s")
        times.append(now)

    def forget_post(self, name: str) -> None:
        """A post that was admitted but could not be stored does not count."""
        times = self._posts.get(name)
        if times:
            times.pop()

    def apply(self, name: str, scores: list[ChapterScore]) -> None:
        mine = self.latest.setdefault(name, {})
        for score in scores:
            mine[score.chapter] = score

    def chapter_ids(self) -> list[str]:
        """The course's chapters, then any other chapter posted (a dashboard run without
        the course's manifest)."""
        posted = {c for chapters in self.latest.values() for c in chapters}
        return list(self.titles) + sorted(posted - set(self.titles))

    def learner(self, name: str) -> dict[str, Any]:
        chapters = self.latest.get(name, {})
        # The newest result; among results that came together (one `check all`), the
        # furthest chapter: that is where the learner is.
        newest = max(chapters.values(), key=lambda s: (s.at, s.chapter), default=None)
        return {
            "name": name,
            "chapters": {c: s.as_json() for c, s in sorted(chapters.items())},
            "last_chapter": newest.chapter if newest else None,
            "last_at": newest.at if newest else None,
        }

    def chapter(self, chapter: str) -> dict[str, Any]:
        """Every check of the chapter with how many of the learners who posted it fail it
        in their newest result, worst first: what the room is stuck on right now."""
        results = [c[chapter] for c in self.latest.values() if chapter in c]
        order: dict[str, tuple[int, int]] = {}  # name -> (task, points), first seen order
        failing: dict[str, int] = {}
        ran: dict[str, int] = {}  # how many of those results have the check at all
        # Newest first: the check list (and its order) of the newest run of the chapter.
        for result in sorted(results, key=lambda r: r.at, reverse=True):
            for check in result.checks:
                order.setdefault(check.name, (check.task, check.points))
                failing[check.name] = failing.get(check.name, 0) + (not check.passed)
                ran[check.name] = ran.get(check.name, 0) + 1
        ranked = sorted(enumerate(order), key=lambda item: (-failing[item[1]], item[0]))
        return {
            "id": chapter,
            "title": self.titles.get(chapter, ""),
            "learners": len(results),
            "passed": sum(r.score == r.max_score and r.max_score > 0 for r in results),
            "checks": [
                {
                    "name": name,
                    "task": order[name][0],
                    "points": order[name][1],
                    "failing": failing[name],
                    "of": ran[name],
                }
                for _, name in ranked
            ],
        }

    def snapshot(self, title: str) -> dict[str, Any]:
        return {
            "title": title,
            "chapters": [self.chapter(c) for c in self.chapter_ids()],
            "learners": [self.learner(n) for n in sorted(self.latest, key=sort_key)],
        }


def sort_key(name: str) -> tuple[str, str]:
    return (name.casefold(), name)
