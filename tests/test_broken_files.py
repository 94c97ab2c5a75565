"""Broken learner files: each is a failed check with a plain explanation, within the
limits, never a pass, a hang or a raw traceback."""

from __future__ import annotations

import time

import pytest
from conftest import ROOT, grader

BROKEN = ROOT / "tests" / "broken"
TIMEOUT = "2"  # seconds per check: the tests stay fast, the mechanism is the same

CASES = {
    # file: (what the learner must read, wall-clock seconds the whole check may take)
    "syntax_error": (
        [
            "has a syntax error: expected ':'",
            "syntax_error.py, line 4:",
            "async def fetch_data(delay: float = 2.0) -> str",
            "^",
        ],
        15,
    ),
    "missing_name": (
        ["missing_name.py has no run_sync: did you rename it", "6/8 checks passed"],
        15,
    ),
    "import_error": (
        [
            "imports 'asyncioo', and no module of that name is installed",
            "import_error.py, line 1: import asyncioo",
        ],
        15,
    ),
    "endless_import": (
        [
            "Importing tests/broken/endless_import.py did not finish within 2 s",
            "endless_import.py, line 4: while not ready:",
        ],
        20,
    ),
    "busy_loop": (
        [
            "Stopped after 2 s of real time: this check never finished",
            "busy_loop.py, line 7: while loop.time() < end:",
            "4/8 checks passed",
        ],
        40,
    ),
    "never_finishes": (["fetch_data() had not finished after 60 s of event-loop time"], 15),
    "exit_on_import": (["exit_on_import.py calls sys.exit() when it is imported"], 15),
    "exit_in_function": (
        ["Your code called sys.exit()", "exit_in_function.py, line 7: sys.exit(0)"],
        15,
    ),
    "hard_exit": (
        [
            "The Python process running your code ended while this check ran (exit status 0)",
            "hard_exit.py, line 7: os._exit(0)",
            "2/8 checks passed",
        ],
        30,
    ),
    "huge_output": (
        [
            "Your code printed 7.0 million characters while this check ran",
            "still waiting still waiting",
            "more characters not shown",
        ],
        20,
    ),
    "huge_output_on_import": (
        ["Your code printed 5.0 million characters when it was imported"],
        15,
    ),
    "blocking_sleep": (
        [
            "A blocking call (time.sleep) froze the event loop",
            "blocking_sleep.py, line 6: time.sleep(delay)",
            "await asyncio.sleep",
        ],
        15,
    ),
    "forgot_await": (["coroutine objects that were never awaited (a missing `await`?)"], 15),
    "not_async": (["fetch_data must be a coroutine function", "async def fetch_data(...)"], 15),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_file_fails_cleanly(name: str) -> None:
    expected, budget = CASES[name]
    started = time.monotonic()
    graded = grader("check", "01", "--file", str(BROKEN / f"{name}.py"), "--timeout", TIMEOUT)
    took = time.monotonic() - started
    assert graded.code == 1, graded.stdout + graded.stderr
    for text in expected:
        assert text in graded.stdout, f"{text!r} not in:\n{graded.stdout}"
    assert "Traceback" not in graded.stdout and not graded.stderr.strip()
    assert took < budget, f"took {took:.1f} s"


def test_every_broken_file_is_a_case() -> None:
    assert {p.stem for p in BROKEN.glob("*.py")} == set(CASES)


@pytest.mark.parametrize("name", ["hard_exit", "busy_loop", "syntax_error", "huge_output"])
def test_json_stays_valid_whatever_the_file_does(name: str) -> None:
    graded = grader(
        "check", "01", "--file", str(BROKEN / f"{name}.py"), "--timeout", TIMEOUT, "--json"
    )
    assert graded.code == 1
    results = graded.json  # stdout is one JSON object and nothing else
    assert any(t["status"] == "failed" and t["output"] for t in results["tests"])


def test_verbose_shows_the_traceback() -> None:
    graded = grader("check", "01", "--file", str(BROKEN / "blocking_sleep.py"), "--verbose")
    assert "Traceback (most recent call last)" in graded.stdout
    assert "BlockingError" in graded.stdout
