"""The grader's engine with the web stack later chapters use: a Quart app driven through
its test client runs in virtual time, and Quart's own internals are never reported as
blocking, while the learner's blocking calls are."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import grader

from grader.course import Course
from grader.engine.runner import run_chapter

LEARNER_APP = """
import asyncio
import time

from quart import Quart, jsonify, request


def create_app(*, delay: float = 2.0) -> Quart:
    app = Quart(__name__)

    @app.get("/data")
    async def data():
        await asyncio.sleep(delay)
        return "Data fetched!"

    @app.post("/echo")
    async def echo():
        body = await request.get_json(silent=True)
        if body is None:
            return jsonify(error="send a JSON body"), 400
        return jsonify(body)

    @app.get("/blocking")
    async def blocking():
        time.sleep(0.01)
        return "froze the loop"

    return app
"""

CHECKS = """
import asyncio

from grader.lab import Learner, check, expect_equal, expect_seconds, timed


@check("GET /data takes 2 s of loop time, twice at once also 2 s", task=1)
async def test_data(learner: Learner) -> None:
    app = learner.function("create_app")()
    client = app.test_client()
    response, took = await timed(60, client.get("/data"), "GET /data")
    expect_equal(await response.get_data(as_text=True), "Data fetched!", call="GET /data")
    expect_seconds(took, 2.0, what="GET /data", hint="")
    pair = asyncio.gather(client.get("/data"), client.get("/data"))
    both, took = await timed(60, pair, "two GET /data at once")
    expect_seconds(took, 2.0, what="two GET /data at once", hint="")
    slow = learner.function("create_app")(delay=600.0).test_client()
    _, took = await timed(900, slow.get("/data"), "GET /data with a 600 s delay")
    expect_seconds(took, 600.0, what="GET /data with a 600 s delay", hint="")


@check("POST /echo echoes JSON, 400 without it", task=1)
async def test_echo(learner: Learner) -> None:
    app = learner.function("create_app")()
    async with app.test_app() as test_app:
        client = test_app.test_client()
        response = await client.post("/echo", json={"a": [1, 2]})
        expect_equal(await response.get_json(), {"a": [1, 2]}, call="POST /echo")
        response = await client.post("/echo", data="not json")
        expect_equal(response.status_code, 400, call="POST /echo (not JSON)")


@check("GET /blocking is reported as blocking", task=1)
async def test_blocking(learner: Learner) -> None:
    app = learner.function("create_app")()
    await app.test_client().get("/blocking")
"""


def test_quart_app_in_virtual_time_without_false_blocking_reports(
    course: Course, tmp_path: Path
) -> None:
    learner = tmp_path / "ex01_coroutines.py"
    learner.write_text(LEARNER_APP)
    checks = tmp_path / "ex_engine_checks.py"
    checks.write_text(CHECKS)
    result = run_chapter(course, course.chapter("01"), learner, checks_file=checks)
    by_name = {c.id: c for c in result.checks}
    assert result.problem is None
    assert by_name["test_data"].passed, by_name["test_data"].feedback
    # 604 s of simulated waiting; in real time the check could not finish in a minute.
    assert by_name["test_data"].loop_seconds >= 604.0
    assert by_name["test_data"].wall_seconds < 60.0
    assert by_name["test_echo"].passed, (
        by_name["test_echo"].feedback,
        by_name["test_echo"].traceback,
    )
    blocking = by_name["test_blocking"]
    assert not blocking.passed and blocking.feedback is not None
    assert "blocking call (time.sleep)" in blocking.feedback.summary
    assert blocking.feedback.where and "time.sleep(0.01)" in blocking.feedback.where


def test_a_stuck_line_is_reported_as_its_loop_header(tmp_path: Path) -> None:
    from grader.engine.runner import enclosing_loop

    source = tmp_path / "loops.py"
    source.write_text(
        "def f():\n"
        "    x = 0\n"
        "    for i in range(3):\n"
        "        while True:\n"
        "            x += 1\n"
        "            y = 2\n"
        "    return x\n"
    )
    # The stack dump catches a busy loop on any line of its body; the learner needs the loop.
    assert [enclosing_loop(source, n) for n in (2, 3, 4, 5, 6, 7)] == [2, 3, 4, 4, 4, 7]


def grade(tmp_path: Path, chapter: str, source: str, *extra: str) -> str:
    path = tmp_path / "submission.py"
    path.write_text(source)
    return grader("check", chapter, "--file", str(path), *extra).stdout


def test_sync_code_runs_as_a_fresh_script_would(tmp_path: Path) -> None:
    """asyncio.get_event_loop() works in a fresh script before 3.14: the grader's own loops
    must not make it fail (they used to leave the policy with a loop history)."""
    out = grade(
        tmp_path,
        "01",
        "import asyncio\n\n\n"
        "async def fetch_data(delay: float = 2.0) -> str:\n"
        "    await asyncio.sleep(delay)\n"
        "    return 'Data fetched!'\n\n\n"
        "def run_sync(delay: float = 0.1) -> str:\n"
        "    loop = asyncio.get_event_loop()\n"
        "    return loop.run_until_complete(fetch_data(delay))\n",
    )
    if sys.version_info < (3, 14):
        assert '✓ run_sync(delay) returns "Data fetched!"' in out, out
    assert "no current event loop" not in out or sys.version_info >= (3, 14)


def test_a_loop_started_inside_the_loop_points_at_the_coroutine_that_called(
    tmp_path: Path,
) -> None:
    out = grade(
        tmp_path,
        "01",
        "import asyncio\n\n\n"
        "async def fetch_data(delay: float = 2.0) -> str:\n"
        "    await asyncio.sleep(delay)\n"
        "    return 'Data fetched!'\n\n\n"
        "async def fetch_sequential(delays: list[float]) -> list[str]:\n"
        "    return [run_sync(d) for d in delays]\n\n\n"
        "def run_sync(delay: float = 0.1) -> str:\n"
        "    return asyncio.run(fetch_data(delay))\n",
    )
    assert "submission.py, line 10: return [run_sync(d) for d in delays]" in out, out
    assert "Await the coroutine instead of calling its sync wrapper" in out


def test_a_syntax_error_caret_sits_under_the_spot(tmp_path: Path) -> None:
    out = grade(tmp_path, "01", "import asyncio\n\nx = foo(1, 2\n")
    lines = out.splitlines()
    code = next(i for i, line in enumerate(lines) if line.strip() == "x = foo(1, 2")
    assert lines[code + 1].index("^") == lines[code].index("(")
    assert "needs its closing bracket" in out


def test_a_coroutine_used_before_it_was_awaited_is_named(tmp_path: Path) -> None:
    out = grade(
        tmp_path,
        "00",
        "import asyncio\n\n\n"
        "async def greeting(name: str) -> dict:\n"
        "    return {'text': f'Hello, {name}!'}\n\n\n"
        "async def hello(name: str = 'world') -> str:\n"
        "    return await greeting(name).get('text')\n\n\n"
        "def main() -> str:\n"
        "    return asyncio.run(hello())\n",
    )
    assert "AttributeError: 'coroutine' object has no attribute 'get'" in out
    assert "submission.py, line 9: return await greeting(name).get('text')" in out
    assert "Await first" in out


def test_asyncio_run_given_the_function_says_to_call_it(tmp_path: Path) -> None:
    out = grade(
        tmp_path,
        "00",
        "import asyncio\n\n\n"
        "async def hello(name: str = 'world') -> str:\n"
        "    return f'Hello, {name}!'\n\n\n"
        "def main() -> str:\n"
        "    return asyncio.run(hello)\n",
    )
    assert "`asyncio.run(hello())`, not `asyncio.run(hello)`" in out
    assert "run the same call in the notebook" not in out
