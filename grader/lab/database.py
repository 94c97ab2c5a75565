"""Checking an app that talks to PostgreSQL: a database of its own per check, the
connections it opens, what the server sees, and a learner's SQL error in plain words.

    async with real_time(), check_database() as db:   # grader.lab.realtime
        app = build_app(learner, dsn=db.dsn)
        with counting_connections() as opened: ...
        await db.rows("SELECT ...")                     # the grader's own connection

The child that runs the checks (and the learner's code) never holds the superuser's DSN:
`DATABASE_URL` there is the role `learner` (grader/lab/services.py), which owns each check's
database. The grader's connection here is that role too, which is all it needs: the app's
tables are the learner's, and pg_stat_activity shows any role its own sessions.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from . import services
from .feedback import CheckFailed, fail


@dataclass
class Database:
    """A fresh database for one check, and the grader's own connection to it (as the
    learner's role, the database's owner)."""

    dsn: str
    name: str
    connection: Any

    async def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in await self.connection.fetch(sql, *args)]

    async def value(self, sql: str, *args: Any) -> Any:
        return await self.connection.fetchval(sql, *args)

    async def table_exists(self, name: str = "users") -> bool:
        return bool(await self.value("SELECT to_regclass($1) IS NOT NULL", f"public.{name}"))

    async def sessions(self) -> int:
        """Connections to this database that are not the grader's own."""
        return int(
            await self.value(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                self.name,
            )
        )

    async def sessions_after_close(self, seconds: float = 3.0) -> int:
        """The app's connections once it has closed them: a backend leaves pg_stat_activity
        a moment after its client said goodbye, so wait (real time) until none is left."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            count = await self.sessions()
            if count == 0 or asyncio.get_running_loop().time() >= deadline:
                return count
            await asyncio.sleep(0.02)


@asynccontextmanager
async def check_database() -> AsyncIterator[Database]:
    """A new, empty database on the grader's PostgreSQL, dropped after the check. Run it
    inside `real_time()`: the server is a real one."""
    import asyncpg  # type: ignore[import-untyped]

    try:
        # On a server thrown away after the run, a database is left for the server's end.
        drop = os.environ.get(services.THROWAWAY) != "1"
        made = os.environ.get(services.MADE) == "1"
        async with services.fresh_database(prefix="check", drop=drop, made=made) as dsn:
            name = dsn.rsplit("/", 1)[1].split("?", 1)[0]
            connection = await asyncpg.connect(dsn)
            try:
                yield Database(dsn, name, connection)
            finally:
                await connection.close()
    except services.ServiceUnavailable as error:
        fail(
            "The grader has no PostgreSQL server to check your app with",
            got=str(error),
            hint="This is about the machine, not your code. Run `grader check 09` again; "
            "if it says the same, tell your teacher what it printed.",
        )


@contextmanager
def counting_connections() -> Iterator[list[Any]]:
    """Every asyncpg connection opened while the block runs, by asyncpg.connect or by a
    pool: each is an asyncpg.connection.Connection, made once per connection."""
    from asyncpg import connection as module

    made: list[Any] = []
    original = module.Connection.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    module.Connection.__init__ = init
    try:
        yield made
    finally:
        module.Connection.__init__ = original


# --- a learner's SQL, explained -------------------------------------------------------------

CONNECT_AS_GIVEN = (
    "Connect with the dsn that create_app was given (or DATABASE_URL when it is None), as "
    "it is: it names the user your app may connect as, and no other user gets in."
)
SQL_ADVICE: dict[str, str] = {
    "42601": "PostgreSQL could not read the SQL: look for a typo, a missing comma or a "
    "quote, and compare with the examples in the notebook.",
    "42P01": "The table does not exist: is it created in before_serving (CREATE TABLE IF "
    "NOT EXISTS users ...), and spelled `users`?",
    "42703": "A column that the table does not have: the columns are id, name and email.",
    "23505": "The database refused a second row with the same email (the UNIQUE "
    "constraint): catch asyncpg.UniqueViolationError and answer 409.",
    "23502": "A column that must have a value got NULL: validate the body before the SQL.",
    "2201W": "LIMIT must not be negative: check limit and offset before the query, and answer 400.",
    "2201X": "OFFSET must not be negative: check limit and offset before the query, and "
    "answer 400.",
    "22021": "PostgreSQL's text cannot hold the NUL character (\\u0000), which JSON can "
    "carry: refuse text that contains it with a 400 before the SQL (storable(...) in "
    "read_user).",
    "42P18": "PostgreSQL could not tell the type of a $ parameter: pass a value of the "
    "right type (an int for LIMIT and OFFSET, not a str).",
    "08P01": "The query and its parameters do not match: as many values as $1, $2... in "
    "the SQL, in that order.",
    # The grader's PostgreSQL gives the app an ordinary role, as a real deployment should.
    "42501": "Your app connects as an ordinary database user, as an app should: it owns its "
    "database and may do anything inside it, but the server refuses it the server's files, "
    "its programs, its settings and other users. The exercise needs none of them: remove "
    "that statement.",
    "28P01": CONNECT_AS_GIVEN,
    "28000": CONNECT_AS_GIVEN,
}


def sql_problem(error: BaseException) -> tuple[str, str] | None:
    """(what happened, advice) for an error from asyncpg; None for anything else."""
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a course dependency
        return None
    message = str(error).strip().split("\n", 1)[0]
    if isinstance(error, asyncpg.PostgresError):
        state = getattr(error, "sqlstate", "") or ""
        advice = SQL_ADVICE.get(state, "Read PostgreSQL's message: it names what it refused.")
        if state == "42601" and "multiple commands" in message:
            advice = (
                "SQL was built from the request's text: a name or an email became part of "
                "the statement. Pass values as parameters: fetchrow('... VALUES ($1, $2)', "
                "name, email)."
            )
        if "out of int32 range" in message or "out of int64 range" in message:
            advice = (
                "A number too large for PostgreSQL cannot even be sent: an id is an integer "
                "(at most 2147483647, MAX_ID), LIMIT and OFFSET are bigints (at most "
                "9223372036854775807, MAX_BIGINT). Look at the size before the query: an id "
                "above MAX_ID cannot exist (404), a limit or offset above MAX_BIGINT is a 400."
            )
        elif "surrogates not allowed" in message:
            advice = (
                'JSON can carry a lone surrogate ("\\ud800"), which is no character and has '
                "no UTF-8, so asyncpg cannot send it: refuse such text with a 400 before the "
                "SQL (storable(...) in read_user)."
            )
        if message.startswith("invalid input for query argument"):
            # asyncpg's own refusal, before anything reached the server.
            return f"asyncpg could not send a value: {message} ({type(error).__name__})", advice
        what = "the connection" if state.startswith("28") else "your SQL"
        return f"PostgreSQL refused {what}: {message} ({type(error).__name__})", advice
    if isinstance(error, asyncpg.InterfaceError):
        advice = "Read asyncpg's message: it names what it refused."
        if "another operation is in progress" in message:
            advice = (
                "Two requests used one connection at the same time: a connection runs one "
                "query at a time. Make a pool (asyncpg.create_pool) and let each request "
                "borrow its own connection (pool.fetchrow(...), or async with pool.acquire())."
            )
        elif "pool is closed" in message or "closing" in message:
            advice = (
                "The pool was closed while requests still used it: close it only in after_serving."
            )
        return f"asyncpg refused: {message} ({type(error).__name__})", advice
    if isinstance(error, OSError | asyncio.TimeoutError) and "connect" in message.lower():
        return (
            f"your app could not connect to PostgreSQL: {message}",
            "Connect with the dsn that create_app was given (or DATABASE_URL when it is None).",
        )
    return None


def expect_no_sql_error(reply: Any) -> None:
    """When a request answered 5xx because of the database, say so in plain words: the
    SQL error, the learner's line, and what to do."""
    crash = getattr(reply, "crash", None)
    if crash is None or reply.status < 500:
        return
    problem = sql_problem(crash)
    if problem is None and isinstance(crash, TypeError) and "Record" in str(crash):
        problem = (
            "your route returned an asyncpg Record, which is not JSON",
            "Build a dict from the row and return that: as_user(row) (the article returns "
            "the Record itself, and Quart cannot send it).",
        )
    if problem is None:
        return
    summary, advice = problem
    where = None
    watch = getattr(reply, "watch", None)
    if watch is not None:
        from ..explain import explain

        where = explain(crash, watch.path, watch.relpath).where
    raise CheckFailed(
        f"{reply.call} answered {reply.status} because {summary}",
        where=where,
        expected="an answer from your route, not a database error",
        got=reply.describe(),
        hint=advice,
    ) from crash


# --- SQL built from strings ---------------------------------------------------------------

SQL_WORDS = re.compile(
    r"\bselect\b[\s\S]*\bfrom\b|\binsert\s+into\b|\bupdate\s+\w+\s+set\b|\bdelete\s+from\b"
    r"|\bvalues\s*\(|\bwhere\s+\w+\s*(=|<|>|like\b|in\b)|\blimit\s+\d|\boffset\s+\d",
    re.IGNORECASE,
)


PARAMETER = re.compile(r"\$[1-9]")


def parameterised_sql(source: str) -> bool:
    """Whether the source has SQL text with a $1-style parameter: what an app that reads
    and writes rows by value cannot do without."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and SQL_WORDS.search(node.value) is not None
        and PARAMETER.search(node.value) is not None
        for node in ast.walk(tree)
    )


def _literal_text(node: ast.AST) -> str:
    return " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


def sql_built_from_strings(source: str) -> list[tuple[int, str]]:
    """(line, how) for every SQL text made with an f-string, %, + or .format(): a value
    pasted into SQL instead of passed as a parameter."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        how = None
        if isinstance(node, ast.JoinedStr) and any(
            isinstance(part, ast.FormattedValue) for part in node.values
        ):
            how = "an f-string"
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                how = "% formatting"
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            sides = (node.left, node.right)
            if any(
                isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides
            ) and not all(isinstance(s, ast.Constant) for s in sides):
                how = "+ between strings"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
        ):
            how = ".format()"
        if how and SQL_WORDS.search(_literal_text(node)):
            found.append((getattr(node, "lineno", 0), how))
    return sorted(set(found))
