"""What the grader remembers in the course folder (.grader/, ignored by git): each
chapter's last result and how many hints of each task the learner has seen."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from .results import ChapterResult


class State:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "state.json"
        self.data: dict[str, Any] = {"results": {}, "hints": {}}
        try:
            raw = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not well_formed(data):
            self.set_aside()
            return
        self.data = data

    def set_aside(self) -> None:
        """A state file that is not what the grader writes: keep it for a look, start anew."""
        aside = self.path.with_name(f"state.json.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            self.path.replace(aside)
            where = f"it is kept as {aside.name}"
        except OSError:
            where = "it could not be moved"
        print(
            f"grader: warning: {self.path} was not readable, so earlier results and hints "
            f"are forgotten ({where})",
            file=sys.stderr,
        )

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True), encoding="utf-8")
            tmp.replace(self.path)
        except OSError:
            pass  # a read-only course folder must not stop the learner from checking

    def record(self, result: ChapterResult) -> None:
        self.data["results"][result.chapter] = {
            "passed": result.passed,
            "total": result.total,
            "score": result.score,
            "max_score": result.max_score,
            "file": result.file,
            "failed_tasks": sorted({c.task for c in result.checks if not c.passed}),
            "when": time.strftime("%Y-%m-%d %H:%M"),
        }

    def last(self, chapter: str) -> dict[str, Any] | None:
        value = self.data["results"].get(chapter)
        return value if isinstance(value, dict) else None

    def forget(self, chapter: str) -> None:
        """A chapter started again: its last result and the hints seen go."""
        self.data["results"].pop(chapter, None)
        for key in [k for k in self.data["hints"] if k.split(".")[0] == chapter]:
            del self.data["hints"][key]

    def hints_seen(self, chapter: str, task: int) -> int:
        return int(self.data["hints"].get(f"{chapter}.{task}", 0))

    def set_hints_seen(self, chapter: str, task: int, count: int) -> None:
        self.data["hints"][f"{chapter}.{task}"] = count


def well_formed(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    results, hints = data.get("results", {}), data.get("hints", {})
    if not isinstance(results, dict) or not isinstance(hints, dict):
        return False
    for value in results.values():
        if not isinstance(value, dict):
            return False
        if not all(isinstance(value.get(k), int) for k in ("passed", "total")):
            return False
        if not isinstance(value.get("failed_tasks", []), list):
            return False
    return all(isinstance(v, int) for v in hints.values())
