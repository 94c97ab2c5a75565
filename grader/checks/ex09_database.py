"""Checks for chapter 09: one asyncpg pool per app (made when serving starts, closed after),
the users table created if missing, parameterised SQL, 201/400/409, pagination, a bulk
insert in one transaction, and 50 concurrent requests on a pool of 5.

Every check runs against the grader's real PostgreSQL, in a database of its own, inside
`real_time()`: the loop's clock follows the real one while the server works (see
grader/lab/realtime.py), so asyncpg's timeouts are never fired by a clock that jumped.
"""

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import Any
from urllib.parse import quote

import pytest

from grader.explain import explain
from grader.lab import Learner, check, fail, show
from grader.lab.database import (
    Database,
    check_database,
    counting_connections,
    expect_no_sql_error,
    parameterised_sql,
    sql_built_from_strings,
    sql_problem,
)
from grader.lab.feedback import CheckFailed
from grader.lab.realtime import real_time
from grader.lab.web import (
    Reply,
    build_app,
    call,
    expect_json,
    expect_json_error,
    expect_status,
    serving,
)

ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}
GRACE = {"name": "Grace Hopper", "email": "grace@example.com"}
SQUARED = "\u00b2"  # "²": str.isdigit() says True, int() raises ValueError
INJECTION = "'); DROP TABLE users; --"
CREATE = """
    CREATE TABLE users (
        id serial PRIMARY KEY,
        name text NOT NULL,
        email text NOT NULL UNIQUE
    )
"""
RACE_HINT = (
    "A SELECT for the email, then the INSERT, is a race: both requests ran their SELECT "
    "before either INSERT, both saw the email free, and the second INSERT hit the UNIQUE "
    "constraint. Let the constraint decide: catch asyncpg.UniqueViolationError around the "
    "INSERT and answer 409 (or ON CONFLICT (email) DO NOTHING RETURNING ...: no row, 409)."
)
NOT_JSON_BODY_HINT = (
    "`await request.get_json()` answers a body that is not JSON with Quart's own 400 page, "
    "in HTML, before your code sees it. `await request.get_json(silent=True)` gives None "
    "instead, and read_user then refuses it with your JSON 400 (or register an "
    '@app.errorhandler(HTTPException) that answers {"error": ...} for every HTTP error).'
)
NONE_BODY_HINT = (
    "Without a JSON body, `await request.get_json(silent=True)` gives None (so does a body "
    "without the Content-Type application/json): read_user must refuse anything that is "
    "not a dict with InvalidInput, before using it."
)
STORABLE_HINT = (
    'JSON can carry text that PostgreSQL cannot store: the NUL character ("\\u0000") and '
    'a lone surrogate ("\\ud800"). Sent as they are, the INSERT fails with a 500; refuse '
    "them in read_user (the given storable(text) says which) with a 400."
)
INVALID_HINT = (
    "Check the body before any SQL (read_user): a JSON object whose "
    '"name" is a non-empty string of at most MAX_NAME characters and whose '
    '"email" matches EMAIL; otherwise raise InvalidInput and answer 400.'
)
POOL_HINT = (
    "In an @app.before_serving function: `pool = await asyncpg.create_pool(dsn, "
    "min_size=min_size, max_size=max_size)`, keep it on the app (app.extensions), and let "
    "every request borrow from it (`await pool.fetchrow(...)`)."
)


@pytest.fixture(autouse=True)
def quiet_log() -> Iterator[None]:
    """The app's log goes nowhere: without a handler, Quart prints each logged exception's
    traceback, as if the learner's code had printed it. A database error is explained by
    the check instead."""
    root = logging.getLogger()
    handler = logging.NullHandler()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


@asynccontextmanager
async def fresh_database() -> AsyncIterator[Database]:
    async with real_time(), check_database() as db:
        yield db


@asynccontextmanager
async def serving_db(app: Any, learner: Learner) -> AsyncIterator[Any]:
    """The app as a server runs it; a before_serving or after_serving that raises is
    explained (PostgreSQL's own message for bad SQL) with the learner's line."""
    stack = AsyncExitStack()
    try:
        client = await stack.enter_async_context(serving(app))
    except Exception as error:
        raise lifespan_failed(error, learner, "starting (before_serving)") from error
    try:
        yield client
    except BaseException:
        # The check's own failure comes first; a shutdown that fails too is secondary.
        with suppress(Exception):
            await stack.aclose()
        raise
    try:
        await stack.aclose()
    except Exception as error:
        raise lifespan_failed(error, learner, "stopping (after_serving)") from error


def lifespan_failed(error: Exception, learner: Learner, when: str) -> CheckFailed:
    original = error.__context__ if type(error).__name__ == "LifespanError" else error
    original = original or error
    feedback = explain(original, learner.path, learner.relpath)
    problem = sql_problem(original)
    if problem is not None:
        summary, advice = problem
    else:
        summary = f"{type(original).__name__}: {original}"
        advice = feedback.hint or "Read the line named above."
    return CheckFailed(
        f"The app failed while {when}: {summary}",
        where=feedback.where,
        expected="serving starts and stops without an exception",
        got=f"{type(original).__name__}: {str(original).splitlines()[0] if str(original) else ''}",
        hint=advice,
    )


async def send(client: Any, method: str, path: str, **kwargs: Any) -> Reply:
    """A request; a 5xx caused by the database is explained on the spot."""
    reply = await call(client, method, path, seconds=30, **kwargs)
    expect_no_sql_error(reply)
    return reply


async def post_user(client: Any, user: Any) -> Reply:
    return await send(client, "POST", "/users", json=user)


async def users_in(db: Database) -> list[dict[str, Any]]:
    if not await db.table_exists():
        fail(
            "The users table does not exist",
            expected="before_serving creates it: CREATE TABLE IF NOT EXISTS users (...)",
            got="no table named users in the database",
            hint="Run CREATE_TABLE on a connection of the pool, right after making the pool.",
        )
    return await db.rows("SELECT id, name, email FROM users ORDER BY id")


async def expect_no_rows(db: Database, what: str) -> None:
    rows = await users_in(db)
    if rows:
        fail(
            f"{what} still stored {len(rows)} user(s)",
            expected="nothing stored when the answer is an error",
            got=show(rows),
            hint="Validate every user before the first INSERT, and insert them all in one "
            "transaction (async with connection.transaction()), so that a failure undoes the "
            "inserts before it.",
        )


async def insert(db: Database, *users: tuple[int, str, str]) -> None:
    await db.connection.execute(CREATE)
    await db.connection.executemany(
        "INSERT INTO users (id, name, email) VALUES ($1, $2, $3)", list(users)
    )
    # The serial goes on after the grader's own ids, as it would after the app's inserts.
    await db.connection.execute(
        "SELECT setval('users_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM users), false)"
    )


def as_json(rows: list[tuple[int, str, str]]) -> list[dict[str, Any]]:
    return [{"id": i, "name": n, "email": e} for i, n, e in rows]


# --- task 1: the pool ---------------------------------------------------------------------


@check("create_app() connects to nothing; the pool is opened when serving starts", task=1)
async def test_pool_opened_when_serving(learner: Learner) -> None:
    async with fresh_database() as db:
        with counting_connections() as opened:
            app = build_app(learner, dsn=db.dsn)
            if opened:
                fail(
                    f"create_app() opened {len(opened)} database connection(s)",
                    expected="no I/O when the app is built: the pool is made in before_serving",
                    got=f"{len(opened)} connection(s) opened by create_app()",
                    hint=POOL_HINT,
                )
            async with serving_db(app, learner):
                if not opened:
                    fail(
                        "Serving started without opening any database connection",
                        expected="the pool made (and the table created) in before_serving",
                        got="0 connections when serving had started: the pool is made later",
                        hint=POOL_HINT + " A pool made at the first request is made while "
                        "requests already wait for it, and its errors reach a client.",
                    )


@check("before_serving creates the users table if it is missing, and keeps an existing one", task=1)
async def test_table_created_if_missing(learner: Learner) -> None:
    async with fresh_database() as db:
        async with serving_db(build_app(learner, dsn=db.dsn), learner):
            pass
        if not await db.table_exists():
            fail(
                "Serving started and stopped, and there is no users table",
                expected="CREATE TABLE IF NOT EXISTS users (...) in before_serving",
                got="no table named users",
                hint="Run CREATE_TABLE on a connection of the pool, in before_serving.",
            )
        columns = await db.rows(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'users' ORDER BY ordinal_position"
        )
        got = {c["column_name"]: (c["data_type"], c["is_nullable"]) for c in columns}
        wanted = {"id": ("integer", "NO"), "name": ("text", "NO"), "email": ("text", "NO")}
        unique = await db.value(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'users' "
            "AND indexdef LIKE 'CREATE UNIQUE INDEX%(email)'"
        )
        if got != wanted or not unique:
            fail(
                "The users table does not have the contract's columns",
                expected="users(id serial primary key, name text not null, "
                "email text not null unique)",
                got=f"columns {show(got)}, a unique index on email: {bool(unique)}",
                hint="Create the table with the given CREATE_TABLE.",
            )
        await db.connection.execute(
            "INSERT INTO users (name, email) VALUES ('Kept Before', 'kept@example.com')"
        )
        async with serving_db(build_app(learner, dsn=db.dsn), learner):
            pass
        if not await db.table_exists() or not await db.value("SELECT count(*) FROM users"):
            fail(
                "Starting the app again deleted the users that were stored",
                expected="rows from an earlier run are still there: the table is created only "
                "when it is missing",
                got="the table was dropped or emptied when serving started",
                hint="CREATE TABLE IF NOT EXISTS, never DROP TABLE or DELETE at start-up: "
                "every restart of the server runs before_serving.",
            )


@check("without dsn=, the app uses the DATABASE_URL environment variable", task=1)
async def test_dsn_from_environment(learner: Learner) -> None:
    async with fresh_database() as db:
        saved = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = db.dsn
        try:
            async with serving_db(build_app(learner), learner):
                pass
        except CheckFailed as failure:
            fail(
                "With DATABASE_URL set and no dsn=, the app did not start",
                expected=f"the app connects to DATABASE_URL ({db.dsn})",
                got=failure.summary,
                hint='`url = dsn or os.environ["DATABASE_URL"]`, read in before_serving.',
            )
        finally:
            if saved is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = saved
        if not await db.table_exists():
            fail(
                "With DATABASE_URL set and no dsn=, the app used another database",
                expected=f"the users table created in DATABASE_URL's database ({db.name})",
                got="no users table there: the app connected somewhere else",
                hint='When dsn is None, use os.environ["DATABASE_URL"]: no address of your own.',
            )


@check("after serving, the pool is closed: no connection left on the server", task=1)
async def test_pool_closed_after_serving(learner: Learner) -> None:
    async with fresh_database() as db:
        app = build_app(learner, dsn=db.dsn)
        async with serving_db(app, learner) as client:
            await send(client, "GET", "/user/1")
            during = await db.sessions()
            if not during:
                # Nothing open, nothing to close: this check is about a pool that was there.
                fail(
                    "While serving, your app had no connection to the database open",
                    expected="the pool's connections (min_size of them) while serving, none after",
                    got="0 connections in pg_stat_activity while serving",
                    hint=POOL_HINT,
                )
        left = await db.sessions_after_close()
        if left:
            fail(
                f"{left} connection(s) to the database were still open after serving stopped",
                expected="0: after_serving closes the pool (pg_stat_activity shows none left)",
                got=f"{during} while serving, {left} after it",
                hint="`await pool.close()` in an @app.after_serving function. Open connections "
                "hold a server process each until they time out, and a restarting app piles "
                "them up.",
            )


# --- task 2: POST /users ------------------------------------------------------------------


@check("POST /users stores the user and answers 201 with its id", task=2)
async def test_create_user(learner: Learner) -> None:
    async with fresh_database() as db:
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            first = await post_user(client, ADA)
            second = await post_user(client, GRACE)
        rows = await users_in(db)
        for reply, user in ((first, ADA), (second, GRACE)):
            stored = next((r for r in rows if r["email"] == user["email"]), None)
            if stored is None:
                fail(
                    f"POST /users {show(user)} did not store the user",
                    expected="a row in the users table",
                    got=f"{reply.describe()}; rows: {show(rows)}",
                    hint="INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id, name, "
                    "email, with the pool.",
                )
            expect_json(
                reply,
                {"id": stored["id"], **user},
                status=201,
                hint="Answer the stored row (RETURNING id, name, email) as JSON, with 201 "
                "Created. A Record is not JSON: build a dict (as_user(row)).",
            )


@check("POST /users refuses an invalid body with 400 and stores nothing", task=2)
async def test_create_user_invalid(learner: Learner) -> None:
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("no body", {}),
        ("a JSON list", {"json": [ADA]}),
        ("no email", {"json": {"name": "Ada"}}),
        ("no name", {"json": {"email": "ada@example.com"}}),
        ("an empty name", {"json": {"name": "  ", "email": "ada@example.com"}}),
        ("a name that is a number", {"json": {"name": 42, "email": "ada@example.com"}}),
        ("an email without @", {"json": {"name": "Ada", "email": "ada.example.com"}}),
        ("an email that is a list", {"json": {"name": "Ada", "email": ["a@b.c"]}}),
        ("a name of 101 characters", {"json": {"name": "a" * 101, "email": "ada@example.com"}}),
        ("not JSON", {"data": "{'name':", "headers": {"Content-Type": "application/json"}}),
        ("a NUL in the name", {"json": {"name": "Ada\x00", "email": "ada@example.com"}}),
        ("a NUL in the email", {"json": {"name": "Ada", "email": "ada\x00@example.com"}}),
        ("a lone surrogate", {"json": {"name": "Ada \ud800", "email": "ada@example.com"}}),
    ]
    async with fresh_database() as db:
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            for what, options in bodies:
                reply = await call(client, "POST", "/users", seconds=30, **options)
                reply.call += f" ({what})"
                expect_no_sql_error(reply)
                expect_json_error(reply, 400, hint=invalid_body_hint(what, reply))
            await expect_no_rows(db, "POST /users with invalid bodies")
            # An app that refuses everything refuses these too: the route must also work.
            good = await post_user(client, ADA)
        await expect_stored(
            db, good, [ADA], "POST /users with a valid body, after the invalid ones"
        )


def invalid_body_hint(what: str, reply: Reply) -> str:
    """The hint that fits what this invalid body did to the app."""
    if what in ("a NUL in the name", "a NUL in the email", "a lone surrogate"):
        return STORABLE_HINT
    crash = reply.crash
    if what == "not JSON" and reply.status == 400 and reply.json is None:
        return NOT_JSON_BODY_HINT
    if crash is not None and "NoneType" in str(crash):
        return NONE_BODY_HINT
    return INVALID_HINT


async def expect_stored(db: Database, reply: Reply, users: list[dict[str, Any]], what: str) -> None:
    """A good request, after bad ones: answered 2xx, and its users are in PostgreSQL."""
    rows = [{"name": r["name"], "email": r["email"]} for r in await users_in(db)]
    if reply.status in (200, 201) and rows == users:
        return
    if reply.status in (200, 201):
        hint = (
            "Your route answered success and PostgreSQL has no such row: the users must be "
            "stored with an INSERT on a connection of the pool, not kept in Python (a dict "
            "or a list is lost at every restart, and each worker process has its own)."
        )
    else:
        hint = (
            "The 400s must come from checking the body, not from refusing every request: a "
            "valid body is stored in PostgreSQL (INSERT ... with the pool) and answered 201."
        )
    fail(
        f"{what}: {reply.call} answered {reply.status}, and {len(rows)} user(s) are stored",
        expected=f"201, and {show(users)} in the users table",
        got=f"{reply.describe()}; rows: {show(rows)}",
        hint=hint,
    )


@check("POST /users with an email that exists already answers 409, and stores nothing", task=2)
async def test_duplicate_email(learner: Learner) -> None:
    async with fresh_database() as db:
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            await post_user(client, ADA)
            reply = await post_user(client, {"name": "Another Ada", "email": ADA["email"]})
            reply.call += " (the email exists already)"
            expect_json_error(
                reply,
                409,
                hint="Let the UNIQUE constraint decide: catch asyncpg.UniqueViolationError "
                "around the INSERT and answer 409 Conflict.",
            )
        rows = await users_in(db)
        if len(rows) != 1 or rows[0]["name"] != ADA["name"]:
            fail(
                "After a 409, the users table is not as it was",
                expected=f"one user, {ADA['name']}",
                got=show(rows),
            )


@asynccontextmanager
async def inserts_held(db: Database) -> AsyncIterator[Any]:
    """While the block runs, INSERTs into users wait (the grader holds a lock that only
    writes wait for: a plain SELECT runs), so two concurrent requests both reach their
    INSERT before either row exists, every time. Yields `waiting(n)`: wait until n of the
    app's statements wait for the lock (or a few seconds). The lock goes when the block ends."""
    transaction = db.connection.transaction()
    await transaction.start()
    try:
        await db.connection.execute("LOCK TABLE users IN EXCLUSIVE MODE")

        async def waiting(count: int, seconds: float = 3.0) -> int:
            deadline = asyncio.get_running_loop().time() + seconds
            while True:
                blocked = int(
                    await db.value(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
                        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
                        db.name,
                    )
                )
                if blocked >= count or asyncio.get_running_loop().time() >= deadline:
                    return blocked
                await asyncio.sleep(0.01)

        yield waiting
    finally:
        await transaction.rollback()


@check(
    "two concurrent POST /users with the same email: one 201, one 409, never a 500 (no race)",
    task=2,
)
async def test_concurrent_duplicate_email(learner: Learner) -> None:
    twin = {"name": "Ada's twin", "email": ADA["email"]}
    async with fresh_database() as db:
        app = build_app(learner, dsn=db.dsn, min_size=2, max_size=5)
        async with serving_db(app, learner) as client:
            await users_in(db)  # the table is there to be locked
            async with inserts_held(db) as waiting:
                requests = [
                    asyncio.ensure_future(call(client, "POST", "/users", seconds=30, json=user))
                    for user in (ADA, twin)
                ]
                await waiting(2)
            replies = list(await asyncio.gather(*requests))
        rows = await users_in(db)
    for reply, user in zip(replies, (ADA, twin), strict=True):
        reply.call += f" ({user['name']})"
    statuses = sorted(r.status for r in replies)
    both = "; ".join(r.describe() for r in replies)
    race = [r for r in replies if r.status >= 500 and unique_violation(r.crash)]
    if race:
        where = None
        if race[0].watch is not None and race[0].crash is not None:
            where = explain(race[0].crash, race[0].watch.path, race[0].watch.relpath).where
        raise CheckFailed(
            f"Two POST /users with the same email, at the same time: {race[0].call} answered "
            f"{race[0].status}",
            where=where,
            expected="one 201 and one 409: the UNIQUE constraint decides which",
            got=both,
            hint=RACE_HINT,
        ) from race[0].crash
    for reply in replies:
        expect_no_sql_error(reply)
    if not rows and 201 in statuses:
        fail(
            "Two POST /users with the same email answered 201, and PostgreSQL has no user",
            expected="the user stored in the users table, and a 409 for the other request",
            got=f"{both}; rows: []",
            hint="Store users with an INSERT on a connection of the pool, not in Python.",
        )
    if statuses == [201, 201]:
        fail(
            "Two POST /users with the same email, at the same time, both answered 201",
            expected="one 201 and one 409: the UNIQUE constraint decides which",
            got=f"{both}; rows: {show(rows)}",
            hint=RACE_HINT
            if len(rows) != 1
            else "Only one of them was stored: the other must be told 409. With ON CONFLICT "
            "DO NOTHING, RETURNING gives no row (fetchrow returns None): answer 409 then.",
        )
    if statuses != [201, 409]:
        fail(
            "Two POST /users with the same email, at the same time, did not answer 201 and 409",
            expected="one 201 and one 409: the UNIQUE constraint decides which",
            got=both,
            hint=RACE_HINT,
        )
    created = next(r for r in replies if r.status == 201)
    refused = next(r for r in replies if r.status == 409)
    expect_json_error(refused, 409)
    if len(rows) != 1 or created.json != rows[0]:
        fail(
            "Two POST /users with the same email: the 201 does not match the row stored",
            expected=f"the one row stored, as JSON: {show(rows)}",
            got=created.describe(),
            hint="Answer the row the INSERT returned (RETURNING id, name, email).",
        )


def unique_violation(error: BaseException | None) -> bool:
    import asyncpg  # type: ignore[import-untyped]

    return isinstance(error, asyncpg.UniqueViolationError)


@check("a name like '); DROP TABLE users; -- is stored as it is: SQL parameters", task=2)
async def test_injection_stored_as_is(learner: Learner) -> None:
    names = [INJECTION, "O'Brien", 'Robert"); DELETE FROM users; --', "$1 ; \\ %s {name}"]
    async with fresh_database() as db:
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            replies = []
            for number, name in enumerate(names):
                reply = await post_user(client, {"name": name, "email": f"n{number}@example.com"})
                replies.append(reply)
        if not await db.table_exists():
            fail(
                f"After POST /users with the name {INJECTION!r}, the users table is gone",
                expected="the name stored as it is",
                got="the name was run as SQL: DROP TABLE users",
                hint="Never put a value into the SQL text. Pass it as a parameter: "
                "fetchrow('INSERT ... VALUES ($1, $2) ...', name, email).",
            )
        stored = [r["name"] for r in await users_in(db)]
        for name, reply in zip(names, replies, strict=True):
            if name not in stored:
                fail(
                    f"POST /users with the name {name!r} did not store that name",
                    expected=f"201, and {name!r} stored exactly",
                    got=f"{reply.describe()}; names stored: {show(stored)}",
                    hint="Pass values as parameters ($1, $2): the server keeps them apart from "
                    "the SQL, quotes and semicolons included.",
                )


@check("SQL is never built from strings (f-strings, %, +, .format): only $1 parameters", task=2)
def test_no_sql_built_from_strings(learner: Learner) -> None:
    build_app(learner, dsn="postgresql://postgres@127.0.0.1:1/unused")  # no I/O: only built
    source = learner.path.read_text(encoding="utf-8")
    if not parameterised_sql(source):
        fail(
            "Your file has no SQL with $1 parameters yet",
            expected="the routes' SQL as plain strings with $1, $2...: "
            "fetchrow('SELECT ... WHERE id = $1', user_id)",
            got="no SQL text with a $ parameter in the file",
            hint="Write the routes with asyncpg first (tasks 2 to 5); this check then reads "
            "their SQL.",
        )
    found = sql_built_from_strings(source)
    if found:
        line, how = found[0]
        text = source.splitlines()[line - 1].strip()
        raise CheckFailed(
            f"SQL is built with {how}: a value becomes part of the statement",
            where=f"{learner.relpath}, line {line}: {text}",
            expected="SQL text that is a plain string, values passed apart: "
            "fetch('... WHERE id = $1', user_id)",
            got=f"{len(found)} place(s) that paste values into SQL",
            hint="Put $1, $2... where the values go and pass the values after the SQL. Even "
            "a number that you checked is better passed: one habit, no exceptions to forget.",
        )


@check("requests borrow connections from the pool: none is opened per request", task=2)
async def test_no_connection_per_request(learner: Learner) -> None:
    async with fresh_database() as db:
        with counting_connections() as opened:
            async with serving_db(build_app(learner, dsn=db.dsn, max_size=3), learner) as client:
                at_start = len(opened)
                for number in range(20):
                    reply = await post_user(
                        client, {"name": f"User {number}", "email": f"u{number}@example.com"}
                    )
                    expect_status(reply, 201)
                during = len(opened) - at_start
        stored = len(await users_in(db))
        if stored != 20:
            fail(
                f"20 POST /users answered 201, and {stored} users are stored in PostgreSQL",
                expected="20 rows in the users table, inserted through the pool",
                got=f"{stored} rows",
                hint="Store each user with an INSERT on a connection of the pool "
                "(`await pool.fetchrow('INSERT ... RETURNING ...', name, email)`), not in "
                "Python: the rows must outlive the app.",
            )
        if len(opened) > 3 + 1:
            fail(
                f"20 requests opened {during} new database connection(s)",
                expected="at most max_size (3) connections in all, made by the pool and reused",
                got=f"{at_start} when serving started, {during} more during 20 requests",
                hint="A connection per request (asyncpg.connect in a route, as the article "
                "does) costs a TCP handshake, authentication and a server process every time, "
                "with no limit on how many at once. " + POOL_HINT,
            )


@check("50 concurrent POST /users on a pool of 5 all succeed, on at most 5 connections", task=2)
async def test_fifty_concurrent_requests(learner: Learner) -> None:
    async with fresh_database() as db:
        with counting_connections() as opened:
            async with serving_db(build_app(learner, dsn=db.dsn, max_size=5), learner) as client:
                replies = await asyncio.gather(
                    *(
                        call(
                            client,
                            "POST",
                            "/users",
                            seconds=30,
                            json={"name": f"User {n}", "email": f"user{n}@example.com"},
                        )
                        for n in range(50)
                    )
                )
        for reply in replies:
            expect_no_sql_error(reply)
        failed = [r for r in replies if r.status != 201]
        if failed:
            fail(
                f"{len(failed)} of 50 concurrent POST /users did not answer 201",
                expected="all 50 answered 201: the pool makes requests wait for a connection",
                got=failed[0].describe(),
                hint=POOL_HINT,
            )
        count = await db.value("SELECT count(*) FROM users")
        if count != 50:
            fail("50 concurrent POST /users did not store 50 users", expected="50", got=str(count))
        if len(opened) > 5 + 1:
            fail(
                f"50 concurrent requests opened {len(opened)} connections",
                expected="at most max_size (5): the pool's connections, each reused",
                got=str(len(opened)),
                hint=POOL_HINT,
            )


# --- task 3: GET /user/<id> ----------------------------------------------------------------


@check("GET /user/<id> answers the stored user, or a 404", task=3)
async def test_get_user(learner: Learner) -> None:
    rows = [(7, "Ada Lovelace", "ada@example.com"), (12, INJECTION, "bobby@example.com")]
    async with fresh_database() as db:
        await insert(db, *rows)
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            for row in as_json(rows):
                expect_json(
                    await send(client, "GET", f"/user/{row['id']}"),
                    row,
                    hint="SELECT id, name, email FROM users WHERE id = $1, and answer the row "
                    "as JSON (as_user(row)).",
                )
            for path in (
                "/user/8",
                "/user/0",
                "/user/123456789",
                "/user/2147483648",
                "/user/99999999999999999999",
            ):
                reply = await send(client, "GET", path)
                expect_json_error(reply, 404, hint=not_found_hint(reply))
            reply = await send(client, "GET", "/user/abc")
            expect_json_error(reply, 404, hint=not_found_hint(reply))


def not_found_hint(reply: Reply) -> str:
    """The hint that fits a wrong answer for a user that does not exist."""
    if reply.status == 404 and reply.json is None:
        if reply.routed is False:
            return (
                f"No route matches {reply.call.split(' ', 1)[1]} (the <int:user_id> converter "
                "refuses it), so Quart answered with its own page, not JSON. The contract wants "
                '{"error": "..."} for every error: register an @app.errorhandler(HTTPException) '
                'that returns {"error": error.description}, error.code.'
            )
        return (
            "The contract wants a JSON error body, and this 404 is not JSON: abort(404) (or "
            "raising NotFound) answers with Quart's own HTML page. Return "
            '{"error": f"no user {user_id}"}, 404 from the route instead (or register an '
            '@app.errorhandler(HTTPException) that answers {"error": ...}).'
        )
    return (
        'fetchrow returns None when no row matches: answer {"error": ...}, 404 then. An '
        "id above MAX_ID (2147483647, the largest integer PostgreSQL's id column holds) "
        "cannot exist: answer 404 for it without a query."
    )


# --- task 4: GET /users --------------------------------------------------------------------


@check("GET /users pages through the users by id: limit, offset, default 20", task=4)
async def test_list_users(learner: Learner) -> None:
    # Inserted out of id order: without ORDER BY, rows come in the order they are stored.
    ids = [5, 3, 9, 1, *range(30, 55)]
    rows = [(i, f"User {i}", f"user{i}@example.com") for i in ids]
    ordered = as_json(sorted(rows))
    async with fresh_database() as db:
        await insert(db, *rows)
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            cases = [
                ("/users?limit=3&offset=0", ordered[:3], 3, 0),
                ("/users?limit=3&offset=2", ordered[2:5], 3, 2),
                ("/users?limit=5&offset=27", ordered[27:], 5, 27),
                ("/users?offset=40", [], 20, 40),
                ("/users", ordered[:20], 20, 0),
                ("/users?limit=0", [], 0, 0),
            ]
            for path, users, limit, offset in cases:
                expect_json(
                    await send(client, "GET", path),
                    {"users": users, "limit": limit, "offset": offset},
                    hint="SELECT ... ORDER BY id LIMIT $1 OFFSET $2 (without ORDER BY, the "
                    "order is whatever the table happens to hold), and answer "
                    '{"users": [...], "limit": limit, "offset": offset}.',
                )


@check("GET /users caps limit at 100", task=4)
async def test_limit_capped(learner: Learner) -> None:
    rows = [(i, f"User {i}", f"user{i}@example.com") for i in range(1, 131)]
    async with fresh_database() as db:
        await insert(db, *rows)
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            for limit in (101, 500, 100):
                reply = await send(client, "GET", f"/users?limit={limit}&offset=10")
                expect_json(
                    reply,
                    {"users": as_json(rows[10:110]), "limit": 100, "offset": 10},
                    hint="`limit = min(limit, MAX_LIMIT)`: a client cannot ask for the whole "
                    "table at once, and the answer says which limit was used.",
                )


@check(
    "GET /users answers 400, never 500, to a negative, non-numeric or huge limit or offset", task=4
)
async def test_bad_page(learner: Learner) -> None:
    async with fresh_database() as db:
        await insert(db, (1, "Ada Lovelace", "ada@example.com"))
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            for query in ("limit=-1", "offset=-5", "limit=ten", "offset=1.5", "limit=", "limit=2x"):
                expect_json_error(
                    await send(client, "GET", f"/users?{query}"),
                    400,
                    hint="Check each value before the query (read_int): digits only, else "
                    "raise InvalidInput. int('-1') works, and PostgreSQL then refuses LIMIT -1 "
                    "with a 500.",
                )
            for name in ("limit", "offset"):
                reply = await send(client, "GET", f"/users?{name}={quote(SQUARED)}")
                reply.call = f"GET /users?{name}={SQUARED}"
                expect_json_error(
                    reply,
                    400,
                    hint="'\u00b2'.isdigit() is True (isdigit accepts Unicode digits such as "
                    "superscripts), and int('\u00b2') raises ValueError: a 500. Accept ASCII "
                    "digits only: `raw.isascii() and raw.isdigit()`.",
                )
            huge = str(2**63)  # one more than PostgreSQL's bigint holds
            for what, value in ((huge, huge), ("99...9 (5000 digits)", "9" * 5000)):
                reply = await send(client, "GET", f"/users?offset={value}")
                reply.call = f"GET /users?offset={what}"
                # The contract allows either: a 400, or an (empty) page for an offset so large.
                if reply.status == 200 and isinstance(reply.json, dict):
                    if reply.json.get("users") == []:
                        continue
                expect_json_error(
                    reply,
                    400,
                    hint="OFFSET is a bigint in PostgreSQL (at most MAX_BIGINT, 2**63 - 1), and "
                    "int() refuses strings of more than 4300 digits: look at the length, then "
                    "at the value, before the query, and raise InvalidInput for a 400.",
                )
            expect_json(
                await send(client, "GET", "/users?limit=1&offset=0"),
                {
                    "users": as_json([(1, "Ada Lovelace", "ada@example.com")]),
                    "limit": 1,
                    "offset": 0,
                },
                hint="The 400s must come from checking limit and offset: a good query answers "
                "the page.",
            )


# --- task 5: POST /users/bulk --------------------------------------------------------------


@check('POST /users/bulk stores every user and answers 201 {"created": n}', task=5)
async def test_bulk_insert(learner: Learner) -> None:
    users = [{"name": f"Bulk {n}", "email": f"bulk{n}@example.com"} for n in range(25)]
    async with fresh_database() as db:
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            reply = await send(client, "POST", "/users/bulk", json={"users": users})
            expect_json(reply, {"created": 25}, status=201)
        stored = [{"name": r["name"], "email": r["email"]} for r in await users_in(db)]
        if stored != users:
            fail(
                "POST /users/bulk did not store exactly the users sent, in order",
                expected=f"{len(users)} users",
                got=f"{len(stored)} users: {show(stored)}",
            )


@check(
    "POST /users/bulk is one transaction: a duplicate email answers 409 and stores nothing", task=5
)
async def test_bulk_all_or_nothing(learner: Learner) -> None:
    batch = [{"name": f"Bulk {n}", "email": f"bulk{n}@example.com"} for n in range(10)]
    repeated = [*batch[:6], {"name": "Again", "email": "bulk2@example.com"}, *batch[6:]]
    async with fresh_database() as db:
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            reply = await send(client, "POST", "/users/bulk", json={"users": repeated})
            reply.call += " (user 7 repeats the email of user 3)"
            expect_json_error(
                reply,
                409,
                hint="Catch asyncpg.UniqueViolationError around the inserts and answer 409.",
            )
            await expect_no_rows(db, "POST /users/bulk with a repeated email (409)")
            await post_user(client, ADA)
            taken = [*batch, {"name": "Ada again", "email": ADA["email"]}]
            reply = await send(client, "POST", "/users/bulk", json={"users": taken})
            reply.call += " (the last user's email is taken)"
            expect_json_error(reply, 409)
        rows = await users_in(db)
        if [r["email"] for r in rows] != [ADA["email"]]:
            fail(
                "POST /users/bulk answered 409 and still stored some users",
                expected="only the user that was there before",
                got=show(rows),
                hint="Insert in one transaction: `async with connection.transaction():` around "
                "the inserts, on a connection from `async with pool.acquire()`. Without it, "
                "each insert commits on its own and a failure leaves the ones before it.",
            )


@check("POST /users/bulk refuses an invalid user with 400 and stores nothing", task=5)
async def test_bulk_invalid(learner: Learner) -> None:
    good = [{"name": f"Bulk {n}", "email": f"bulk{n}@example.com"} for n in range(5)]
    bodies = [
        ("user 4 has no email", {"users": [*good[:3], {"name": "No Email"}, *good[3:]]}),
        ("the last email has no @", {"users": [*good, {"name": "X", "email": "x.example.com"}]}),
        ("users is not a list", {"users": {"name": "Ada", "email": "ada@example.com"}}),
        ("no users key", {"people": good}),
        ("an empty list", {"users": []}),
        ("a list of strings", {"users": ["ada@example.com"]}),
        (
            "user 2 has a NUL in the name",
            {"users": [good[0], {"name": "A\x00", "email": "a@b.co"}]},
        ),
    ]
    async with fresh_database() as db:
        async with serving_db(build_app(learner, dsn=db.dsn), learner) as client:
            for what, body in bodies:
                reply = await call(client, "POST", "/users/bulk", seconds=30, json=body)
                reply.call += f" ({what})"
                expect_no_sql_error(reply)
                expect_json_error(
                    reply,
                    400,
                    hint='Check the body first: {"users": [...]} with 1 to MAX_BULK users, '
                    "each valid (read_user), before the first INSERT.",
                )
                await expect_no_rows(db, f"POST /users/bulk ({what})")
            reply = await send(client, "POST", "/users/bulk", json={"users": good[:2]})
        await expect_stored(db, reply, good[:2], "POST /users/bulk with valid users, at the end")
