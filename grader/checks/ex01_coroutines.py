"""Checks for chapter 01: fetch_data, fetch_sequential, run_sync."""

import asyncio
from typing import Any

from grader.lab import Learner, Stopwatch, check, expect_equal, expect_seconds, fail, timed, within
from grader.lab.threads import call_without_loop

NON_BLOCKING = "`await asyncio.sleep(delay)` waits without blocking the event loop."


@check('fetch_data() returns "Data fetched!" after 2 s', task=1)
async def test_fetch_data_default(learner: Learner) -> None:
    fetch_data = learner.coroutine_function("fetch_data")
    result, took = await timed(60, fetch_data(), "fetch_data()")
    expect_equal(result, "Data fetched!", call="await fetch_data()")
    expect_seconds(
        took, 2.0, what="fetch_data()", hint="The default delay is 2.0 seconds. " + NON_BLOCKING
    )


@check("fetch_data(delay) waits exactly `delay` seconds", task=1)
async def test_fetch_data_delay(learner: Learner) -> None:
    fetch_data = learner.coroutine_function("fetch_data")
    for delay in (0.5, 0.0, 3.25):
        result, took = await timed(60, fetch_data(delay), f"fetch_data({delay})")
        expect_equal(result, "Data fetched!", call=f"await fetch_data({delay})")
        expect_seconds(
            took,
            delay,
            what=f"fetch_data({delay})",
            hint="Wait for the `delay` you are given, not a fixed time.",
        )


@check("fetch_data lets other tasks run while it waits", task=1)
async def test_fetch_data_does_not_block(learner: Learner) -> None:
    fetch_data = learner.coroutine_function("fetch_data")
    loop = asyncio.get_running_loop()
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.5)
            ticks.append(loop.time())

    ticking = asyncio.create_task(ticker())
    try:
        with Stopwatch() as sw:
            await within(60, fetch_data(2.0), "fetch_data(2.0)")
    finally:
        ticking.cancel()
    during = [t for t in ticks if t < sw.start + sw.elapsed]
    if len(during) < 3:
        fail(
            "Other tasks could not run while fetch_data(2.0) was waiting",
            expected="a task ticking every 0.5 s ticks 3 times during the 2 s wait",
            got=f"it ticked {len(during)} times",
            hint=NON_BLOCKING,
        )


@check("fetch_sequential awaits fetch_data(d) per delay, one at a time, results in order", task=2)
async def test_sequential_order(learner: Learner) -> None:
    fetch_sequential = learner.coroutine_function("fetch_sequential")
    calls: list[float] = []
    runs: list[tuple[float, float]] = []

    async def fetch(delay: float) -> str:
        started = asyncio.get_running_loop().time()
        await asyncio.sleep(delay)
        runs.append((started, asyncio.get_running_loop().time()))
        return f"fetched after {delay} s"

    def spy_fetch_data(delay: float = 2.0) -> Any:
        calls.append(delay)  # noted at call time, so a missing `await` still shows the call
        return fetch(delay)

    learner.patch("fetch_data", spy_fetch_data)
    delays = [0.3, 0.1, 0.2]
    result = await within(60, fetch_sequential(delays), f"fetch_sequential({delays})")
    if calls != delays:
        fail(
            "fetch_sequential did not call fetch_data(d) once per delay, in order",
            expected=f"fetch_data called with {delays}",
            got=f"called with {calls}",
            hint="Loop over `delays` and `await fetch_data(d)` for each one.",
        )
    expect_equal(
        result,
        [f"fetched after {d} s" for d in delays],
        call=f"await fetch_sequential({delays}) (with fetch_data replaced by a spy)",
        hint="Return what fetch_data returned, in the order of `delays`.",
    )
    if any(start < end - 1e-9 for (_, end), (start, _) in zip(runs, runs[1:], strict=False)):
        fail(
            "fetch_sequential started a fetch before the previous one had finished",
            expected="one fetch at a time",
            got="fetches that overlap",
            hint="Await each fetch_data(d) before calling the next one.",
        )


@check("fetch_sequential takes sum(delays): one after another", task=2)
async def test_sequential_timing(learner: Learner) -> None:
    fetch_sequential = learner.coroutine_function("fetch_sequential")
    delays = [1.0, 0.5, 2.0]
    result, took = await timed(60, fetch_sequential(delays), f"fetch_sequential({delays})")
    expect_equal(result, ["Data fetched!"] * 3, call=f"await fetch_sequential({delays})")
    expect_seconds(
        took,
        3.5,
        what=f"fetch_sequential({delays})",
        hint="Await each fetch before starting the next: this chapter is about the "
        "sequential version (chapter 02 makes it concurrent).",
    )


@check("fetch_sequential([]) returns []", task=2)
async def test_sequential_empty(learner: Learner) -> None:
    fetch_sequential = learner.coroutine_function("fetch_sequential")
    result = await within(60, fetch_sequential([]), "fetch_sequential([])")
    expect_equal(result, [], call="await fetch_sequential([])")


@check('run_sync(delay) returns "Data fetched!"', task=3)
def test_run_sync_result(learner: Learner) -> None:
    run_sync = learner.plain_function("run_sync")
    expect_equal(
        run_sync(0.05),
        "Data fetched!",
        call="run_sync(0.05)",
        hint="Return the value of the coroutine you ran.",
    )


@check("run_sync runs fetch_data(delay) on a new event loop, and closes it", task=3)
def test_run_sync_new_loop(learner: Learner) -> None:
    run_sync = learner.plain_function("run_sync")
    seen: list[tuple[float, asyncio.AbstractEventLoop]] = []

    async def spy_fetch_data(delay: float = 2.0) -> str:
        seen.append((delay, asyncio.get_running_loop()))
        return f"spied {delay}"

    learner.patch("fetch_data", spy_fetch_data)
    first = call_without_loop(run_sync, 0.3)
    second = call_without_loop(run_sync, 0.7)
    if [d for d, _ in seen] != [0.3, 0.7]:
        fail(
            "run_sync did not await fetch_data(delay) with the delay it was given",
            expected="fetch_data(0.3), then fetch_data(0.7)",
            got=f"fetch_data called with {[d for d, _ in seen] or 'nothing'}",
            hint="Call `fetch_data(delay)` (look it up by name, do not copy its body) and run "
            "that coroutine.",
        )
    expect_equal(
        [first, second],
        ["spied 0.3", "spied 0.7"],
        call="run_sync(0.3), run_sync(0.7)",
        hint="Return the result of the coroutine you ran.",
    )
    loops = [loop for _, loop in seen]
    if loops[0] is loops[1]:
        fail(
            "run_sync reused the same event loop for two calls",
            expected="a new event loop for each call",
            got="the same loop twice",
            hint="`asyncio.run` makes a new loop every time; "
            "get_event_loop() hands back an old one.",
        )
    if not all(loop.is_closed() for loop in loops):
        fail(
            "run_sync left its event loop open",
            expected="the loop is closed when run_sync returns",
            got="the loop is still open (it leaks its resources)",
            hint="`asyncio.run` closes the loop for you; run_until_complete alone does not.",
        )
