"""Chapter 14: testing async code. This time you write the tests; the grader tests them.

Run your tests:        pytest exercises/ex14_testing.py
Check them:            grader check 14
Stuck? Ask for a hint: grader hint 14

The app under test is exercises/ex14_todo_app.py: read its docstring (the contract), never
edit it. Each test takes the fixture `app` (a new create_app() for every test) or the given
`client`; `async def` tests need no marker. A good test passes on the given app and fails
on an app with a fault: the grader runs your tests on faulty versions of the app, and each
check passes when at least one of your tests fails on its fault.
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


# Task 1: creating and reading one to-do


async def test_create_answers_201_with_the_todo(client: QuartClient) -> None:
    # TODO (task 1): POST /todos answers 201 with the new to-do, exactly: ids from 1,
    #                `done` false unless sent.
    raise NotImplementedError


async def test_get_one_todo(client: QuartClient) -> None:
    # TODO (task 1): GET /todos/<id> answers the to-do; an id that does not exist, a 404.
    raise NotImplementedError


# Task 2: bad input is refused


async def test_titles_are_stripped_and_checked(client: QuartClient) -> None:
    # TODO (task 2): titles are stored stripped; every title the contract refuses is a 400
    #                with a JSON error (and is not stored); mind the edges of each rule.
    raise NotImplementedError


async def test_done_must_be_true_or_false(client: QuartClient) -> None:
    # TODO (task 2): a `done` that is not true or false is a 400.
    raise NotImplementedError


# Task 3: listing, filtering, counting


async def test_list_is_in_id_order(client: QuartClient) -> None:
    # TODO (task 3): GET /todos lists every to-do, by id.
    raise NotImplementedError


async def test_filter_by_done(client: QuartClient) -> None:
    # TODO (task 3): ?done=true and ?done=false filter the list; any other value is a 400.
    raise NotImplementedError


async def test_stats_count_done_and_open(client: QuartClient) -> None:
    # TODO (task 3): GET /todos/stats counts all, done and open to-dos.
    raise NotImplementedError


# Task 4: updating and deleting


async def test_update_keeps_what_is_not_sent(client: QuartClient) -> None:
    # TODO (task 4): PATCH changes the fields sent and keeps the others.
    raise NotImplementedError


async def test_update_refuses_bad_input(client: QuartClient) -> None:
    # TODO (task 4): PATCH refuses bad fields (400) and unknown ids (404).
    raise NotImplementedError


async def test_delete(client: QuartClient) -> None:
    # TODO (task 4): DELETE answers 204 with an empty body, and the to-do is gone.
    raise NotImplementedError


# Task 5: requests that overlap


async def test_overlapping_creates_get_their_own_ids(client: QuartClient) -> None:
    # TODO (task 5): POSTs sent at once (asyncio.gather) each get their own to-do and id.
    raise NotImplementedError


async def test_overlapping_updates_both_count(client: QuartClient) -> None:
    # TODO (task 5): two PATCHes of one to-do sent at once both take effect.
    raise NotImplementedError


# Task 6: a blocked event loop


async def test_requests_leave_the_loop_free(client: QuartClient) -> None:
    # TODO (task 6): while requests are served, other tasks on the loop keep running.
    raise NotImplementedError
