"""Chapter 09: PostgreSQL with asyncpg.

Edit this file, then check it:  grader check 09
Stuck? Ask for a hint:          grader hint 09

Try it against the course's own PostgreSQL (started for you, nothing to install):
    from grader.lab import services
    async with services.postgres() as dsn:      # a fresh, empty database
        app = create_app(dsn=dsn)
Error answers are JSON objects with an "error" string.
"""

import os
import re
from typing import Any

import asyncpg
from quart import Quart, ResponseReturnValue, request
from werkzeug.exceptions import HTTPException

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_NAME = 100
MAX_BULK = 1000
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CREATE_TABLE = """
    CREATE TABLE IF NOT EXISTS users (
        id serial PRIMARY KEY,
        name text NOT NULL,
        email text NOT NULL UNIQUE
    )
"""


class InvalidInput(Exception):
    """Given: raise it for a request whose body or query cannot be used. An
    @app.errorhandler(InvalidInput) can answer {"error": str(error)}, 400."""


def read_user(data: Any) -> tuple[str, str]:
    """(name, email) from a request's JSON, or InvalidInput saying what is wrong."""
    # TODO (task 2): `data` must be a dict; "name" a non-empty string of at most MAX_NAME
    #                characters; "email" a string that EMAIL.fullmatch accepts. Return
    #                (name, email), or raise InvalidInput("what is wrong").
    raise NotImplementedError


def as_user(row: asyncpg.Record) -> dict[str, Any]:
    """Given: a row as JSON. A Record is not JSON, and Quart cannot send one."""
    return {"id": row["id"], "name": row["name"], "email": row["email"]}


def read_int(name: str, default: int) -> int:
    """The query parameter `name` as an int >= 0, `default` when absent."""
    # TODO (task 4): request.args.get(name); None -> default; anything but digits (a
    #                negative number, "ten", "1.5") -> raise InvalidInput.
    raise NotImplementedError


def create_app(*, dsn: str | None = None, min_size: int = 1, max_size: int = 5) -> Quart:
    app = Quart(__name__)

    # TODO (task 1): one asyncpg pool for the app (min_size, max_size), made in
    #                @app.before_serving with `dsn`, or os.environ["DATABASE_URL"] when dsn
    #                is None; run CREATE_TABLE there too. Close the pool in @app.after_serving.
    #                Every request borrows a connection from it: never asyncpg.connect().
    # TODO (task 2): POST /users {"name", "email"} -> 201 {"id", "name", "email"}; 400 for
    #                an invalid body (read_user); 409 when the email exists already.
    #                Only $1, $2 parameters in SQL: never f-strings, % or +.
    # TODO (task 3): GET /user/<int:user_id> -> 200 {"id", "name", "email"}, or a 404.
    # TODO (task 4): GET /users?limit=20&offset=0 -> {"users": [...by id], "limit", "offset"};
    #                limit capped at MAX_LIMIT; a negative or non-numeric value is a 400.
    # TODO (task 5): POST /users/bulk {"users": [...]} -> 201 {"created": n}, in ONE
    #                transaction: a 400 or a 409 inserts nothing at all.
    raise NotImplementedError
