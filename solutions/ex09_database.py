"""Chapter 09: PostgreSQL with asyncpg (reference solution)."""

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
# IF NOT EXISTS: serving starts many times (every restart, every test); the rows of the
# last run must survive, so the table is made only when it is missing.
CREATE_TABLE = """
    CREATE TABLE IF NOT EXISTS users (
        id serial PRIMARY KEY,
        name text NOT NULL,
        email text NOT NULL UNIQUE
    )
"""


class InvalidInput(Exception):
    """A request whose body or query cannot be used; the message says why (a 400)."""


def read_user(data: Any) -> tuple[str, str]:
    """(name, email) from a request's JSON, or InvalidInput. Validating here, before any
    SQL, gives a client a 400 that says what is wrong instead of a database error."""
    if not isinstance(data, dict):
        raise InvalidInput('send a JSON object: {"name": "...", "email": "..."}')
    name, email = data.get("name"), data.get("email")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidInput(f'"name" must be a non-empty string of at most {MAX_NAME} characters')
    if not isinstance(email, str) or not EMAIL.fullmatch(email):
        raise InvalidInput('"email" must be an email address, such as ada@example.com')
    if not storable(name) or not storable(email):
        raise InvalidInput('"name" and "email" must not contain NUL (\\u0000) or lone surrogates')
    return name, email


def storable(text: str) -> bool:
    """Whether PostgreSQL can store `text`. JSON can carry two things that a text column
    cannot hold: the NUL character ("\\u0000"), which PostgreSQL refuses, and a lone
    surrogate ("\\ud800"), which is no character at all and has no UTF-8. Sent as they are,
    both make the INSERT fail: a 500 for what is a bad request."""
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


def as_user(row: asyncpg.Record) -> dict[str, Any]:
    # A Record is not JSON: the article returns one from its route, and Quart cannot send it.
    return {"id": row["id"], "name": row["name"], "email": row["email"]}


def read_int(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII digits only: isdigit() alone rejects "-1", "1.5", "ten" and "", but says True for
    # "²" (int() refuses it) and for "١" (Arabic-Indic one, which int() reads as 1).
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput(f"{name} must be a whole number of 0 or more")
    # A number PostgreSQL's bigint cannot hold fails in the query: refuse it here. The length
    # comes first, so int() never sees a string of thousands of digits (it refuses those too).
    if len(raw) > len(str(MAX_BIGINT)) or int(raw) > MAX_BIGINT:
        raise InvalidInput(f"{name} must be at most {MAX_BIGINT}")
    return int(raw)


def create_app(*, dsn: str | None = None, min_size: int = 1, max_size: int = 5) -> Quart:
    app = Quart(__name__)

    @app.before_serving
    async def open_pool() -> None:
        # Read the environment when serving starts, not at import: no I/O, nothing fixed early.
        url = dsn or os.environ["DATABASE_URL"]
        # One pool for the app's life: a request borrows a connection and gives it back.
        # The article opens a new connection per request: a TCP handshake, authentication
        # and a new server process each time, and no limit on how many at once.
        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
        async with pool.acquire() as connection:
            await connection.execute(CREATE_TABLE)
        app.extensions["db"] = pool

    @app.after_serving
    async def close_pool() -> None:
        # Closing waits for borrowed connections to come back, then closes them all:
        # nothing is left open on the server.
        await app.extensions.pop("db").close()

    def pool() -> asyncpg.Pool:
        return app.extensions["db"]

    @app.errorhandler(InvalidInput)
    async def invalid(error: InvalidInput) -> ResponseReturnValue:
        return {"error": str(error)}, 400

    @app.post("/users")
    async def create_user() -> ResponseReturnValue:
        name, email = read_user(await request.get_json(silent=True))
        try:
            # $1, $2: the values travel apart from the SQL text, so no name or email can
            # ever change what the statement does (no SQL injection, quotes stored as is).
            row = await pool().fetchrow(
                "INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id, name, email",
                name,
                email,
            )
        except asyncpg.UniqueViolationError:
            # The database decides, in one step: a SELECT first would race with another
            # request inserting the same email in between.
            return {"error": f"a user with the email {email} exists already"}, 409
        return as_user(row), 201

    @app.get("/user/<int:user_id>")
    async def get_user(user_id: int) -> ResponseReturnValue:
        # <int:...> accepts any number of digits; $1 is an integer (the id column's type),
        # and a larger number cannot even be sent: no such user, so a 404 without asking.
        if user_id > MAX_ID:
            return {"error": f"no user {user_id}"}, 404
        row = await pool().fetchrow("SELECT id, name, email FROM users WHERE id = $1", user_id)
        if row is None:
            return {"error": f"no user {user_id}"}, 404
        return as_user(row)

    @app.get("/users")
    async def list_users() -> ResponseReturnValue:
        limit = min(read_int("limit", DEFAULT_LIMIT), MAX_LIMIT)  # a cap, not an error
        offset = read_int("offset", 0)
        rows = await pool().fetch(
            "SELECT id, name, email FROM users ORDER BY id LIMIT $1 OFFSET $2", limit, offset
        )
        return {"users": [as_user(row) for row in rows], "limit": limit, "offset": offset}

    @app.post("/users/bulk")
    async def create_users() -> ResponseReturnValue:
        data = await request.get_json(silent=True)
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, list) or not 1 <= len(users) <= MAX_BULK:
            raise InvalidInput(f'send {{"users": [...]}} with 1 to {MAX_BULK} users')
        # Every user is checked before the first insert: a 400 inserts nothing.
        rows = []
        for number, user in enumerate(users, 1):
            try:
                rows.append(read_user(user))
            except InvalidInput as error:
                raise InvalidInput(f"user {number}: {error}") from None
        async with pool().acquire() as connection:
            try:
                # One transaction: if any insert fails, every insert before it is rolled
                # back. Without it, each insert commits on its own and a failure half-way
                # leaves half the users in the table.
                async with connection.transaction():
                    await connection.executemany(
                        "INSERT INTO users (name, email) VALUES ($1, $2)", rows
                    )
            except asyncpg.UniqueViolationError:
                return {"error": "an email is taken or repeated: no user was created"}, 409
        return {"created": len(rows)}, 201

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
