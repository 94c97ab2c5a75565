"""pytest's settings for exercises/: chapter 14's tests run with plain pytest.

    pytest exercises/ex14_testing.py

runs your tests against the given app, exercises/ex14_todo_app.py, as the grader runs them:

- the fixture `app` is a new `create_app()` for each test (the grader gives the same
  fixture an app with a fault in it);
- every `async def` test and fixture runs on an event loop of its own with virtual time
  (grader/lab/async_tests.py): no marker needed, and `asyncio.sleep` costs no real time.

Nothing else in exercises/ is a pytest test: this file changes nothing for the other chapters.
"""

import pytest
from ex14_todo_app import create_app
from quart import Quart

from grader.lab import async_tests


def pytest_configure(config: pytest.Config) -> None:
    async_tests.pytest_configure(config)  # async def tests and fixtures, on virtual time


@pytest.fixture
def app() -> Quart:
    """A new app for every test: no test sees what another one created."""
    return create_app()
