"""Mutants of the reference solutions, one module per chapter (`chNN.py`, a `MUTANTS` list).

Each mutant is one plausible learner mistake, made from a reference solution by exact
string replacements. tests/test_mutants.py runs the grader on every one of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Mutant:
    """`edits`: (old, new) replacements of the solution's text, each old found exactly once.
    `fails`: check function -> a snippet its output must contain ("" for any). In a snippet,
    `{line}` is the mutant's line where the first edit's new text starts. `avoid`: check
    function -> a text its output must not contain, such as a hint that points the wrong way."""

    chapter: str
    name: str
    edits: tuple[tuple[str, str], ...]
    fails: dict[str, str]
    avoid: dict[str, str] = field(default_factory=dict)
    gap: str = ""  # why the checks do not catch this yet: the mutant is a strict xfail


# Blocks that the mutants of several web chapters rewrite. Without its decorator, an error
# handler is never registered: the same as no handler at all.
HTTP_HANDLER = "    @app.errorhandler(HTTPException)\n"


def chapters_with_mutants() -> list[str]:
    return sorted(p.stem.removeprefix("ch") for p in Path(__file__).parent.glob("ch[0-9]*.py"))


def all_mutants() -> list[Mutant]:
    found: list[Mutant] = []
    for chapter in chapters_with_mutants():
        module = importlib.import_module(f"{__name__}.ch{chapter}")
        found.extend(module.MUTANTS)
    return found
