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
MAX_ID = 2**31 - 1  # id is a serial, a PostgreSQL integer: no id is larger
MAX_BIGINT = 2**63 - 1  # LIMIT and OFFSET are bigints in PostgreSQL
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
    #                (name, email), or raise InvalidInput("what is wrong"). Text that is
    #                not storable(...) is a 400 too: PostgreSQL would refuse it with a 500.
    raise NotImplementedError


def storable(text: str) -> bool:
    """Given: whether PostgreSQL can store `text`. JSON can carry two things that a text
    column cannot hold: the NUL character ("\\u0000"), which PostgreSQL refuses, and a lone
    surrogate ("\\ud800"), which is no character at all and has no UTF-8."""
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


def as_user(row: asyncpg.Record) -> dict[str, Any]:
    """Given: a row as JSON. A Record is not JSON, and Quart cannot send one."""
    return {"id": row["id"], "name": row["name"], "email": row["email"]}


def read_int(name: str, default: int) -> int:
    """The query parameter `name` as an int >= 0, `default` when absent."""
    # TODO (task 4): request.args.get(name); None -> default; anything but ASCII digits (a
    #                negative number, "ten", "1.5", "²": "²".isdigit() is True!) -> raise
    #                InvalidInput; more than MAX_BIGINT (PostgreSQL's bigint) -> InvalidInput.
    raise NotImplementedError


def create_app(*, dsn: str | None = None, min_size: int = 1, max_size: int = 5) -> Quart:
    app = Quart(__name__)

    # TODO (task 1): one asyncpg pool for the app (min_size, max_size), made in
    #                @app.before_serving with `dsn`, or os.environ["DATABASE_URL"] when dsn
    #                is None; run CREATE_TABLE there too. Close the pool in @app.after_serving.
    #                Every request borrows a connection from it: never asyncpg.connect().
    # TODO (task 2): POST /users {"name", "email"} -> 201 {"id", "name", "email"}; 400 for
    #                an invalid body (read_user; get_json(silent=True) gives None for a
    #                body that is not JSON); 409 when the email exists already: catch
    #                asyncpg.UniqueViolationError (a SELECT first races with another request).
    #                Only $1, $2 parameters in SQL: never f-strings, % or +.
    # TODO (task 3): GET /user/<int:user_id> -> 200 {"id", "name", "email"}, or a 404 with a
    #                JSON error (abort(404) answers an HTML page). An id above MAX_ID cannot
    #                exist, and asyncpg cannot even send it: a 404 without a query.
    # TODO (task 4): GET /users?limit=20&offset=0 -> {"users": [...by id], "limit", "offset"};
    #                limit capped at MAX_LIMIT; a negative or non-numeric value is a 400.
    # TODO (task 5): POST /users/bulk {"users": [...]} -> 201 {"created": n}, in ONE
    #                transaction: a 400 or a 409 inserts nothing at all.
    raise NotImplementedError
