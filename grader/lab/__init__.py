"""What checks are written with: `check` to declare one, the learner's module, virtual time,
spies, and `fail` / `expect_*` for messages a learner can act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from .clock import Stopwatch, new_virtual_loop, now, timed, within
from .feedback import CheckFailed, expect_equal, expect_seconds, fail, show
from .learner import Learner
from .spies import (
    JobBoard,
    JobError,
    JobRecord,
    counting_semaphores,
    other_tasks,
    patch_uneven_fetchers,
)

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "CheckFailed",
    "JobBoard",
    "JobError",
    "JobRecord",
    "Learner",
    "Stopwatch",
    "check",
    "counting_semaphores",
    "expect_equal",
    "expect_seconds",
    "fail",
    "new_virtual_loop",
    "now",
    "other_tasks",
    "patch_uneven_fetchers",
    "show",
    "timed",
    "within",
]


def check(name: str, *, task: int, points: int = 1) -> Callable[[F], F]:
    """Declare a check: its plain-language name, the manifest task it belongs to, its points."""
    return pytest.mark.grader_check(name=name, task=task, points=points)
