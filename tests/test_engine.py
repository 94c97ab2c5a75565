"""The grader's engine with the web stack later chapters use: a Quart app driven through
its test client runs in virtual time, and Quart's own internals are never reported as
blocking, while the learner's blocking calls are."""

from __future__ import annotations

from pathlib import Path

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
