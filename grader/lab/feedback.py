"""How a check says what went wrong: expected, got, hint, in a learner's words."""

from __future__ import annotations

import inspect
from typing import Any, NoReturn


class CheckFailed(AssertionError):
    """Raised by a check; the grader shows its fields instead of a traceback."""

    def __init__(
        self,
        summary: str,
        *,
        expected: str | None = None,
        got: str | None = None,
        hint: str | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(summary)
        self.summary = summary
        self.expected = expected
        self.got = got
        self.hint = hint
        self.where = where


def fail(
    summary: str,
    *,
    expected: str | None = None,
    got: str | None = None,
    hint: str | None = None,
) -> NoReturn:
    raise CheckFailed(summary, expected=expected, got=got, hint=hint)


def show(value: Any, limit: int = 300) -> str:
    """A value as a learner should read it; a forgotten `await` is named for what it is."""
    if inspect.iscoroutine(value):
        value.close()  # it will never run: close it so Python does not warn about it
        return "a coroutine object that was never awaited (a missing `await`?)"
    if isinstance(value, list) and any(inspect.iscoroutine(v) for v in value):
        for item in value:
            if inspect.iscoroutine(item):
                item.close()
        return (
            f"a list holding {len(value)} coroutine objects that were never awaited "
            "(a missing `await`?)"
        )
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def expect_equal(got: Any, expected: Any, *, call: str, hint: str | None = None) -> None:
    """`call` is the expression the learner can paste into a notebook to see it for themselves."""
    if got != expected or type(got) is not type(expected):
        fail(
            f"{call} returned the wrong value",
            expected=show(expected),
            got=show(got),
            hint=hint,
        )


def expect_seconds(
    took: float, expected: float, *, what: str, hint: str, tolerance: float = 0.05
) -> None:
    """Durations are compared in event-loop seconds, so the tolerance can be tight."""
    if abs(took - expected) > tolerance:
        fail(
            f"{what} took {took:.2f} s of event-loop time",
            expected=f"{expected:.2f} s",
            got=f"{took:.2f} s",
            hint=hint,
        )
