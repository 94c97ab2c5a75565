"""Chapter 14: testing async code (reference solution): a suite that catches every fault.

Each test pins down a clause of the app's contract (exercises/ex14_todo_app.py) with exact
expected values, so that a version of the app that breaks the clause fails it. Tests of
concurrency make the overlap happen on purpose (asyncio.gather), and the test of a blocked
event loop watches the loop itself: neither fault shows up one request at a time.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient


@pytest.fixture
async def client(app: Quart) -> AsyncIterator[QuartClient]:
    """Given: a test client of the app, inside `app.test_app()`, which runs the app's
    startup and shutdown hooks around the test as a server would."""
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def create_todo(
    client: QuartClient, title: str = "Buy milk", **fields: Any
) -> dict[str, Any]:
    """Given: POST /todos, check that it answered 201, and return the new to-do."""
    response = await client.post("/todos", json={"title": title, **fields})
    assert response.status_code == 201, await response.get_data(as_text=True)
    todo: dict[str, Any] = await response.get_json()
    return todo


async def _listed(client: QuartClient, query: str = "") -> list[dict[str, Any]]:
    """GET /todos (with a query string), check that it answered 200, return the list."""
    response = await client.get(f"/todos{query}")
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert list(body) == ["todos"]
    todos: list[dict[str, Any]] = body["todos"]
    return todos


async def _expect_error(response: Any, status: int) -> None:
    """An error answer: the status, and a JSON object with an "error" string."""
    assert response.status_code == status
    body = await response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str)


# Task 1: creating and reading one to-do


async def test_create_answers_201_with_the_todo(client: QuartClient) -> None:
    response = await client.post("/todos", json={"title": "Buy milk"})
    # Exact values: `assert "id" in body` would pass on an app that numbers from 0.
    assert response.status_code == 201
    assert await response.get_json() == {"id": 1, "title": "Buy milk", "done": False}
    response = await client.post("/todos", json={"title": "Walk the dog", "done": True})
    assert response.status_code == 201
    assert await response.get_json() == {"id": 2, "title": "Walk the dog", "done": True}


async def test_get_one_todo(client: QuartClient) -> None:
    todo = await create_todo(client, "Buy milk")
    response = await client.get(f"/todos/{todo['id']}")
    assert response.status_code == 200
    assert await response.get_json() == todo
    await _expect_error(await client.get("/todos/999"), 404)


# Task 2: bad input is refused


async def test_titles_are_stripped_and_checked(client: QuartClient) -> None:
    assert (await create_todo(client, "  Buy milk  "))["title"] == "Buy milk"
    # The edges of the rule: 200 characters is the longest title allowed, 201 too long.
    longest = "x" * 200
    assert (await create_todo(client, longest))["title"] == longest
    for body in ({}, {"title": 42}, {"title": ""}, {"title": "   "}, {"title": "x" * 201}):
        response = await client.post("/todos", json=body)
        await _expect_error(response, 400)
    # Nothing refused was stored.
    assert [todo["title"] for todo in await _listed(client)] == ["Buy milk", longest]


async def test_done_must_be_true_or_false(client: QuartClient) -> None:
    for done in ("yes", "true", 1, 0, None):
        response = await client.post("/todos", json={"title": "Buy milk", "done": done})
        await _expect_error(response, 400)
    assert await _listed(client) == []


# Task 3: listing, filtering, counting


async def test_list_is_in_id_order(client: QuartClient) -> None:
    assert await _listed(client) == []
    # Titles out of alphabetical order: a list sorted by title would not pass.
    for title in ("Walk the dog", "Buy milk", "Call mum"):
        await create_todo(client, title)
    assert await _listed(client) == [
        {"id": 1, "title": "Walk the dog", "done": False},
        {"id": 2, "title": "Buy milk", "done": False},
        {"id": 3, "title": "Call mum", "done": False},
    ]


async def test_filter_by_done(client: QuartClient) -> None:
    milk = await create_todo(client, "Buy milk")
    dog = await create_todo(client, "Walk the dog", done=True)
    mum = await create_todo(client, "Call mum")
    assert await _listed(client, "?done=true") == [dog]
    assert await _listed(client, "?done=false") == [milk, mum]
    for query in ("?done=yes", "?done=True", "?done=1", "?done="):
        await _expect_error(await client.get(f"/todos{query}"), 400)


async def test_stats_count_done_and_open(client: QuartClient) -> None:
    async def stats() -> Any:
        response = await client.get("/todos/stats")
        assert response.status_code == 200
        return await response.get_json()

    assert await stats() == {"total": 0, "done": 0, "open": 0}
    milk = await create_todo(client, "Buy milk")
    await create_todo(client, "Walk the dog", done=True)
    await create_todo(client, "Call mum")
    assert await stats() == {"total": 3, "done": 1, "open": 2}
    await client.patch(f"/todos/{milk['id']}", json={"done": True})
    assert await stats() == {"total": 3, "done": 2, "open": 1}


# Task 4: updating and deleting


async def test_update_keeps_what_is_not_sent(client: QuartClient) -> None:
    todo = await create_todo(client, "Buy milk")
    response = await client.patch(f"/todos/{todo['id']}", json={"done": True})
    assert response.status_code == 200
    assert await response.get_json() == {"id": todo["id"], "title": "Buy milk", "done": True}
    # Only the title this time: `done` must stay true.
    response = await client.patch(f"/todos/{todo['id']}", json={"title": " Buy oat milk "})
    assert response.status_code == 200
    updated = {"id": todo["id"], "title": "Buy oat milk", "done": True}
    assert await response.get_json() == updated
    assert (await client.get(f"/todos/{todo['id']}")).status_code == 200
    assert await _listed(client) == [updated]


async def test_update_refuses_bad_input(client: QuartClient) -> None:
    todo = await create_todo(client, "Buy milk")
    for body in ({"title": ""}, {"title": "   "}, {"title": 42}, {"done": "yes"}, {}):
        await _expect_error(await client.patch(f"/todos/{todo['id']}", json=body), 400)
    await _expect_error(await client.patch("/todos/999", json={"done": True}), 404)
    assert await _listed(client) == [todo]


async def test_delete(client: QuartClient) -> None:
    milk = await create_todo(client, "Buy milk")
    dog = await create_todo(client, "Walk the dog")
    response = await client.delete(f"/todos/{milk['id']}")
    assert response.status_code == 204
    assert await response.get_data() == b""
    # The answer is not enough: the to-do must be gone, and only that one.
    await _expect_error(await client.get(f"/todos/{milk['id']}"), 404)
    assert await _listed(client) == [dog]
    await _expect_error(await client.delete(f"/todos/{milk['id']}"), 404)
    await _expect_error(await client.delete("/todos/999"), 404)


# Task 5: requests that overlap


async def test_overlapping_creates_get_their_own_ids(client: QuartClient) -> None:
    titles = [f"Task {n}" for n in range(10)]
    # gather starts all ten before any is answered: they overlap in the store's await.
    responses = await asyncio.gather(
        *(client.post("/todos", json={"title": title}) for title in titles)
    )
    assert [response.status_code for response in responses] == [201] * 10
    todos = [await response.get_json() for response in responses]
    # Each answer is the to-do that request created, under an id of its own...
    assert [todo["title"] for todo in todos] == titles
    assert sorted(todo["id"] for todo in todos) == list(range(1, 11))
    # ...and the store kept all ten.
    assert await _listed(client) == sorted(todos, key=lambda todo: todo["id"])


async def test_overlapping_updates_both_count(client: QuartClient) -> None:
    todo = await create_todo(client, "Buy milk")
    path = f"/todos/{todo['id']}"
    renamed, finished = await asyncio.gather(
        client.patch(path, json={"title": "Buy oat milk"}),
        client.patch(path, json={"done": True}),
    )
    assert (renamed.status_code, finished.status_code) == (200, 200)
    assert await _listed(client) == [{"id": todo["id"], "title": "Buy oat milk", "done": True}]


# Task 6: a blocked event loop


async def test_requests_leave_the_loop_free(client: QuartClient) -> None:
    # A blocking call in the app (time.sleep, a sync driver) freezes every task on the loop,
    # yet each answer is still right: watch the loop itself. A ticker task counts how often
    # it gets to run while requests are served.
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    loop = asyncio.get_running_loop()
    ticking = asyncio.create_task(ticker())
    started = loop.time()
    try:
        await asyncio.gather(*(create_todo(client, f"Task {n}") for n in range(5)))
    finally:
        ticking.cancel()
    # Five overlapping requests, one store call (0.05 s) each, served at the same time:
    # 0.05 s of loop time in all (virtual time: exact), and the ticker ran all along.
    assert loop.time() - started == pytest.approx(0.05)
    assert ticks >= 4
