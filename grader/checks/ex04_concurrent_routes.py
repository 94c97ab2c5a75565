"""Checks for chapter 04: gather inside a route, a semaphore bound, 400/413, and a server
that handles requests concurrently."""

import asyncio
from typing import Any

from grader.lab import (
    Learner,
    Stopwatch,
    check,
    counting_semaphores,
    expect_seconds,
    fail,
    patch_uneven_fetchers,
    show,
)
from grader.lab.web import Reply, build_app, call, expect_json, expect_json_error, expect_status

CONCURRENT = "Start both fetches before awaiting either: asyncio.gather or a TaskGroup."
LIMIT_HINT = (
    "Hold an asyncio.Semaphore(max_concurrency) around each process_item call, and "
    "start every item's task at once: the semaphore holds back the extra ones."
)


class ItemSpy:
    """Stands in for process_item: records calls and how many run at once."""

    def __init__(self, durations: dict[Any, float] | None = None) -> None:
        self.durations = durations or {}
        self.calls: list[tuple[Any, float]] = []
        self.running = 0
        self.peak = 0

    def install(self, learner: Learner) -> "ItemSpy":
        async def process_item(item: Any, delay: float) -> str:
            self.calls.append((item, delay))
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                await asyncio.sleep(self.durations.get(str(item), delay))
                return f"processed {item}"
            finally:
                self.running -= 1

        learner.patch("process_item", process_item)
        return self


@check("GET /multiple-data runs both fetches at once: 1 s", task=1)
async def test_multiple_data(learner: Learner) -> None:
    client = build_app(learner).test_client()
    with Stopwatch() as sw:
        reply = await call(client, "GET", "/multiple-data")
    expect_json(reply, {"data1": "Data 1 fetched!", "data2": "Data 2 fetched!"})
    expect_seconds(sw.elapsed, 1.0, what="GET /multiple-data", hint=CONCURRENT)


@check("GET /multiple-data answers what fetch_data_1 and fetch_data_2 return", task=1)
async def test_multiple_data_uses_fetchers(learner: Learner) -> None:
    patch_uneven_fetchers(learner)
    client = build_app(learner).test_client()
    expect_json(
        await call(client, "GET", "/multiple-data"),
        {"data1": "first spy", "data2": "second spy"},
        hint="Call fetch_data_1() and fetch_data_2() by name; do not write the strings.",
    )


@check("two simultaneous GET /multiple-data take as long as one", task=1)
async def test_requests_concurrent(learner: Learner) -> None:
    client = build_app(learner).test_client()
    expected = {"data1": "Data 1 fetched!", "data2": "Data 2 fetched!"}
    with Stopwatch() as alone:
        expect_json(await call(client, "GET", "/multiple-data"), expected)
    with Stopwatch() as together:
        replies = await asyncio.gather(*(call(client, "GET", "/multiple-data") for _ in range(2)))
    for reply in replies:
        expect_json(reply, expected)
    expect_seconds(
        together.elapsed,
        alone.elapsed,
        what="two simultaneous GET /multiple-data",
        hint=f"One request alone took {alone.elapsed:.2f} s: two at the same time should "
        "take no longer. Awaiting lets the server work on other requests meanwhile, unless "
        "the route blocks the loop or holds a lock across the wait.",
    )


def expect_processed(reply: Reply) -> None:
    """A 200 for the items, before anything is read from how they were processed."""
    expect_status(
        reply,
        200,
        hint='202 Accepted means "accepted, to be done later" (the article\'s choice); here the '
        "items are processed by the time you answer, so it is 200 OK (chapter 07 does work "
        "in the background)."
        if reply.status == 202
        else "",
    )


@check("POST /process-data answers every item's result, in order, with the count", task=2)
async def test_process_data_results(learner: Learner) -> None:
    # Uneven durations: the items finish in another order than they came.
    spy = ItemSpy({"a": 0.75, "1": 0.25, "None": 0.5, "b": 0.1}).install(learner)
    client = build_app(learner, item_delay=0.25, max_concurrency=100).test_client()
    items = ["a", 1, None, {"k": "v"}, "b"]
    reply = await call(client, "POST", "/process-data", json={"items": items})
    expect_processed(reply)
    expect_json(
        reply,
        {"results": [f"processed {item}" for item in items], "count": 5},
        hint="Call process_item(item, item_delay) for each item (by name: the checks "
        "replace it) and keep the input order.",
    )
    if [delay for _, delay in spy.calls] != [0.25] * 5:
        fail(
            "process_item was not called with item_delay",
            expected="delay 0.25 for each item",
            got=show(spy.calls),
            hint="Pass create_app's item_delay to process_item.",
        )
    expect_json(
        await call(client, "POST", "/process-data", json={"items": []}), {"results": [], "count": 0}
    )


@check("POST /process-data processes items concurrently", task=2)
async def test_process_data_concurrent(learner: Learner) -> None:
    client = build_app(learner, item_delay=0.5, max_concurrency=100).test_client()
    items = [f"item{i}" for i in range(8)]
    with Stopwatch() as sw:
        reply = await call(client, "POST", "/process-data", json={"items": items})
    expect_processed(reply)
    expect_json(reply, {"results": [i.upper() for i in items], "count": 8})
    expect_seconds(
        sw.elapsed,
        0.5,
        what="8 items of 0.5 s with max_concurrency=100",
        hint="Start every item's processing before awaiting any (gather or TaskGroup).",
    )


@check("POST /process-data: 25 items of 0.5 s with max_concurrency=10 take 1.5 s", task=3)
async def test_process_data_limit_timing(learner: Learner) -> None:
    for count, delay, limit, seconds in ((25, 0.5, 10, 1.5), (7, 0.2, 3, 0.6), (3, 1.0, 1, 3.0)):
        client = build_app(learner, item_delay=delay, max_concurrency=limit).test_client()
        items = list(range(count))
        with Stopwatch() as sw:
            reply = await call(client, "POST", "/process-data", json={"items": items})
        expect_processed(reply)
        expect_json(reply, {"results": [str(i) for i in items], "count": count})
        expect_seconds(
            sw.elapsed,
            seconds,
            what=f"{count} items of {delay} s with max_concurrency={limit}",
            hint=LIMIT_HINT,
        )


@check("POST /process-data never has more than max_concurrency items in flight", task=3)
async def test_process_data_peak(learner: Learner) -> None:
    for count, limit in ((25, 10), (12, 4), (5, 1)):
        spy = ItemSpy().install(learner)
        client = build_app(learner, item_delay=0.5, max_concurrency=limit).test_client()
        with counting_semaphores() as semaphores:
            reply = await call(client, "POST", "/process-data", json={"items": list(range(count))})
        expect_processed(reply)
        if not spy.calls:
            fail(
                "POST /process-data never called process_item",
                expected=f"process_item(item, item_delay) for each of the {count} items",
                got="no call: the items were processed some other way",
                hint="Call process_item by its name: the checks replace it to count the items "
                "in flight.",
            )
        if spy.peak > limit and len(semaphores) > 1:
            fail(
                f"{count} items with max_concurrency={limit} had {spy.peak} in flight at once: "
                f"the route made {len(semaphores)} semaphores, a new one for each item",
                expected=f"at most {limit} at any moment, all held back by one semaphore",
                got=f"{spy.peak} in flight; {len(semaphores)} asyncio.Semaphore objects made",
                hint="A semaphore only limits the tasks that share it. Make one "
                "`asyncio.Semaphore(max_concurrency)` per request, before the items start, "
                "and have every item enter that same one.",
            )
        if spy.peak != limit:
            fail(
                f"{count} items with max_concurrency={limit} had {spy.peak} in flight at once",
                expected=f"exactly {limit} at the busiest moment",
                got=str(spy.peak),
                hint=LIMIT_HINT,
            )


@check("a free slot is used at once: uneven items are not processed in batches", task=3)
async def test_process_data_no_batches(learner: Learner) -> None:
    durations = {"a": 0.5, "b": 1.5, "c": 1.0, "d": 2.0, "e": 0.5, "f": 1.0, "g": 0.25}
    ItemSpy(durations).install(learner)
    client = build_app(learner, item_delay=1.0, max_concurrency=4).test_client()
    with Stopwatch() as sw:
        reply = await call(client, "POST", "/process-data", json={"items": list(durations)})
    expect_processed(reply)
    expect_seconds(
        sw.elapsed,
        2.0,
        what="7 items taking [0.5, 1.5, 1, 2, 0.5, 1, 0.25] s with max_concurrency=4",
        hint="Batches of 4 wait for their slowest item (3 s). " + LIMIT_HINT,
    )


@check("POST /process-data without a list of items is a 400 JSON error", task=4)
async def test_process_data_bad_body(learner: Learner) -> None:
    spy = ItemSpy().install(learner)
    client = build_app(learner).test_client()
    cases = (
        ("{}", {"json": {}}),
        ('{"items": "abc"}', {"json": {"items": "abc"}}),
        ('{"items": {"a": 1}}', {"json": {"items": {"a": 1}}}),
        ("a top-level list", {"json": [1, 2]}),
        ("no body", {}),
        ("malformed JSON", {"data": "{", "headers": {"Content-Type": "application/json"}}),
    )
    for what, kwargs in cases:
        reply = await call(client, "POST", "/process-data", **kwargs)
        reply.call = f"POST /process-data with {what}"
        expect_json_error(
            reply,
            400,
            hint='Check that the body is an object whose "items" is a '
            'list; otherwise answer {"error": "..."}, 400.',
        )
    if spy.calls:
        fail("items were processed for a request that was refused", got=show(spy.calls))


@check("POST /process-data with more than 1000 items is a 413, before any work", task=4)
async def test_process_data_too_many(learner: Learner) -> None:
    spy = ItemSpy().install(learner)
    client = build_app(learner).test_client()
    reply = await call(
        client,
        "POST",
        "/process-data",
        json={"items": list(range(1001))},
        seconds=10,
        hint="1001 items must be refused with 413 at once, before any item is processed.",
    )
    expect_json_error(reply, 413, hint="Count the items first: above MAX_ITEMS answer 413.")
    if spy.calls:
        fail(
            "items were processed before the request was refused with 413",
            expected="no item processed",
            got=f"{len(spy.calls)} items processed",
            hint="Check the size before starting any work.",
        )
    roomy = build_app(learner, item_delay=0.01, max_concurrency=1000).test_client()
    reply = await call(roomy, "POST", "/process-data", json={"items": list(range(1000))})
    if reply.status == 413:
        fail(
            "exactly 1000 items were refused", expected="200: 1000 is allowed", got=reply.describe()
        )
    expect_processed(reply)


@check("unknown routes and wrong methods are JSON errors", task=4)
async def test_json_errors(learner: Learner) -> None:
    client = build_app(learner).test_client()
    expect_json_error(await call(client, "GET", "/nope"), 404)
    expect_json_error(await call(client, "GET", "/process-data"), 405)


@check("a wrong method's 405 says which methods are allowed (Allow header)", task=4)
async def test_method_not_allowed_allow(learner: Learner) -> None:
    client = build_app(learner).test_client()
    reply = await call(client, "GET", "/process-data")
    expect_status(reply, 405, hint="POST /process-data exists; GET is a wrong method: 405.")
    header = reply.header("Allow")
    allow = {m.strip().upper() for m in (header or "").split(",") if m.strip()}
    if "POST" not in allow:
        fail(
            "GET /process-data answered 405 without saying which methods are allowed",
            expected="an Allow header naming POST (HTTP requires it on every 405)",
            got=f"Allow: {header!r}" if header is not None else "no Allow header",
            hint="Keep the error's headers when your handler answers JSON: "
            "`error.get_headers()` holds the Allow header (leave its Content-Type out).",
        )
