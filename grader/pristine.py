"""The course's files as it shipped them, never the learner's working copies.

A learner edits `exercises/` and runs the notebooks (JupyterLab saves their outputs): from
then on those files are theirs. `grader reset` and the course's own tests need the
originals, which come from, in order:

1. the course's git history: the staged version, then each commit from the newest, and the
   first that is still pristine wins (so a learner's own commits of their work are skipped);
2. the stubs installed with the grader (see hatch_build.py): a wheel carries them in
   `grader/_stubs/`, an editable install (scripts/install, Binder) in the environment's
   `share/async-quart-course/stubs/`. Either way a course folder without git history (a
   zip download) can still be reset.

Standard library only: the build hook loads this file before anything is installed.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

DISTRIBUTION = "async-quart-course"
# Where the build hook puts the stubs: inside the package (wheel), or as shared data of an
# editable install (its package folder is the course's own grader/, so nothing can go there).
PACKAGED_STUBS = "grader/_stubs"
SHARED_STUBS = "share/async-quart-course/stubs"
STUB_MARKERS = ("NotImplementedError", "TODO")


def is_stub(text: str) -> bool:
    """An exercise as the course ships it: TODO comments over `raise NotImplementedError`."""
    return all(marker in text for marker in STUB_MARKERS)


def git(root: Path, *args: str) -> str | None:
    """git's output in `root`, or None when git is missing or says no."""
    if shutil.which("git") is None:
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_versions(root: Path, relpath: str) -> Iterator[str]:
    """The staged version of `relpath` (relative to `root`), then each committed one, newest
    first. Nothing when `root` is not in a git work tree or the file was never added."""
    staged = git(root, "show", f":./{relpath}")
    if staged is not None:
        yield staged
    for commit in (git(root, "log", "--format=%H", "--", relpath) or "").split():
        text = git(root, "show", f"{commit}:./{relpath}")
        if text is not None:
            yield text


def from_git(root: Path, relpath: str, accept: Callable[[str], bool] = is_stub) -> str | None:
    """The newest version in git that `accept` takes as pristine, or None."""
    return next((text for text in git_versions(root, relpath) if accept(text)), None)


def tracked(root: Path, relpath: str) -> bool:
    return git(root, "ls-files", "--error-unmatch", "--", relpath) is not None


def installed_stub(module_name: str) -> str | None:
    """The stub installed with the grader (wheel or editable install), or None."""
    try:
        files = importlib.metadata.files(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    wanted = f"{module_name}.py"
    for file in files:
        path = file.as_posix()
        if file.name == wanted and (PACKAGED_STUBS in path or SHARED_STUBS in path):
            try:
                text = Path(str(file.locate())).read_text(encoding="utf-8")
            except OSError:
                continue
            if is_stub(text):
                return text
    return None


def original_stub(root: Path, module_name: str) -> tuple[str, str] | None:
    """The original stub of `exercises/<module_name>.py` and where it came from."""
    relpath = f"exercises/{module_name}.py"
    text = from_git(root, relpath)
    if text is not None:
        return text, "the course's git history"
    text = installed_stub(module_name)
    if text is not None:
        return text, "the copy installed with the grader"
    return None


def build_stubs(root: Path) -> dict[str, str]:
    """File name -> text of every exercise stub to ship with the grader: from git history
    when there is one, else the working file if it is still a stub. A learner's finished
    exercise is never shipped as a stub."""
    stubs: dict[str, str] = {}
    for path in sorted((root / "exercises").glob("ex*.py")):
        relpath = f"exercises/{path.name}"
        text = from_git(root, relpath)
        if text is None and not tracked(root, relpath):
            working = path.read_text(encoding="utf-8")
            text = working if is_stub(working) else None
        if text is not None:
            stubs[path.name] = text
    return stubs
