"""Where a learner's exercise files are in a submission: a course copy (`exercises/`), a
folder of loose files (a Gradescope upload), or anything in between."""

from __future__ import annotations

from pathlib import Path

from .course import Chapter

SKIP = {".git", ".venv", "venv", "node_modules", "__pycache__", ".grader", "solutions"}


def find_exercise(folder: Path, chapter: Chapter) -> Path | None:
    """The learner's file for `chapter` under `folder`: exercises/<name>, then <name>, then
    the shallowest <name> anywhere below (never in solutions/ or hidden tool folders)."""
    name = chapter.exercise.name
    for candidate in (folder / "exercises" / name, folder / name):
        if candidate.is_file():
            return candidate
    found = [
        path
        for path in folder.rglob(name)
        if path.is_file() and not SKIP.intersection(path.relative_to(folder).parts[:-1])
    ]
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None
