"""Files a chapter gives the learner beside its stub, of which the grader keeps its own copy."""

from __future__ import annotations

from conftest import ROOT, pristine_text


def test_the_grader_keeps_the_given_todo_app_as_shipped() -> None:
    # Chapter 14: the learner reads exercises/ex14_todo_app.py and the checks make their
    # faulty apps from grader/lab/todo_app.py (a learner's copy may have been edited, and a
    # submission comes without it). The two must be the same code.
    given = pristine_text("exercises/ex14_todo_app.py")
    assert (ROOT / "grader" / "lab" / "todo_app.py").read_text(encoding="utf-8") == given
