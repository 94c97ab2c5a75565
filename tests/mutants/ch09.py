"""Mutants of solutions/ex09: asyncpg against the grader's real PostgreSQL."""

from __future__ import annotations

from . import HTTP_HANDLER, Mutant

MAKE_POOL = "        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)\n"
TABLE_ON_POOL = (
    "        async with pool.acquire() as connection:\n"
    "            await connection.execute(CREATE_TABLE)\n"
)
CLOSE_POOL = (
    "    @app.after_serving\n"
    "    async def close_pool() -> None:\n"
    "        # Closing waits for borrowed connections to come back, then closes them all:\n"
    "        # nothing is left open on the server.\n"
    '        await app.extensions.pop("db").close()\n'
)
INSERT_ONE = (
    "            row = await pool().fetchrow(\n"
    '                "INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id, name, email",\n'
    "                name,\n"
    "                email,\n"
    "            )\n"
)
DUPLICATE = (
    "        except asyncpg.UniqueViolationError:\n"
    "            # The database decides, in one step: a SELECT first would race with another\n"
    "            # request inserting the same email in between.\n"
    '            return {"error": f"a user with the email {email} exists already"}, 409\n'
)
NOT_FOUND = '        if row is None:\n            return {"error": f"no user {user_id}"}, 404\n'
BULK_TRANSACTION = (
    "        async with pool().acquire() as connection:\n"
    "            try:\n"
    "                # One transaction: if any insert fails, every insert before it is rolled\n"
    "                # back. Without it, each insert commits on its own and a failure half-way\n"
    "                # leaves half the users in the table.\n"
    "                async with connection.transaction():\n"
    "                    await connection.executemany(\n"
    '                        "INSERT INTO users (name, email) VALUES ($1, $2)", rows\n'
    "                    )\n"
    "            except asyncpg.UniqueViolationError:\n"
)
BULK_VALIDATION = (
    "        rows = []\n"
    "        for number, user in enumerate(users, 1):\n"
    "            try:\n"
    "                rows.append(read_user(user))\n"
    "            except InvalidInput as error:\n"
    '                raise InvalidInput(f"user {number}: {error}") from None\n'
)
CATCH_ALL = "    @app.errorhandler(Exception)\n"
BIG_ID = '        if user_id > MAX_ID:\n            return {"error": f"no user {user_id}"}, 404\n'
STORABLE = (
    "    if not storable(name) or not storable(email):\n"
    '        raise InvalidInput(\'"name" and "email" must not contain NUL (\\\\u0000) or lone '
    "surrogates')\n"
)

MUTANTS = [
    Mutant(
        "09",
        "connection_per_request",
        (
            (
                INSERT_ONE,
                "            connection = await asyncpg.connect(\n"
                '                dsn or os.environ["DATABASE_URL"]\n'
                "            )\n"
                "            try:\n"
                "                row = await connection.fetchrow(\n"
                '                    "INSERT INTO users (name, email) VALUES ($1, $2) '
                'RETURNING id, name, email",\n'
                "                    name,\n"
                "                    email,\n"
                "                )\n"
                "            finally:\n"
                "                await connection.close()\n",
            ),
        ),
        {
            "test_no_connection_per_request": "20 requests opened 20 new database connection(s)",
            "test_fifty_concurrent_requests": "50 concurrent requests opened 51 connections",
        },
    ),
    Mutant(
        "09",
        "pool_made_before_each_request",
        (("    @app.before_serving\n", "    @app.before_request\n"),),
        {
            "test_pool_opened_when_serving": "Serving started without opening any database",
            "test_no_connection_per_request": "20 requests opened",
        },
    ),
    Mutant(
        "09",
        "table_dropped_at_start",
        (
            (
                "    CREATE TABLE IF NOT EXISTS users (\n",
                "    DROP TABLE IF EXISTS users;\n    CREATE TABLE users (\n",
            ),
        ),
        {"test_table_created_if_missing": "Starting the app again deleted the users"},
    ),
    Mutant(
        "09",
        "table_never_created",
        ((TABLE_ON_POOL, ""),),
        {
            "test_table_created_if_missing": "there is no users table",
            "test_create_user": 'PostgreSQL refused your SQL: relation "users" does not exist',
        },
    ),
    Mutant(
        "09",
        "dsn_hard_coded",
        (
            (
                'url = dsn or os.environ["DATABASE_URL"]',
                'url = dsn or "postgresql://postgres@127.0.0.1:5432/postgres"',
            ),
        ),
        {"test_dsn_from_environment": "With DATABASE_URL set and no dsn=, the app did not start"},
    ),
    Mutant(
        "09",
        "pool_never_closed",
        ((CLOSE_POOL, ""),),
        {"test_pool_closed_after_serving": "still open after serving stopped"},
    ),
    Mutant(
        "09",
        "record_returned_as_is",
        (("        return as_user(row), 201\n", "        return row, 201\n"),),
        {"test_create_user": "answered 500 because your route returned an asyncpg Record"},
    ),
    Mutant(
        "09",
        "email_not_validated",
        (
            (
                "if not isinstance(email, str) or not EMAIL.fullmatch(email):",
                "if not isinstance(email, str):",
            ),
        ),
        {"test_create_user_invalid": "(an email without @) answered 201"},
    ),
    Mutant(
        "09",
        "duplicate_email_not_caught",
        ((DUPLICATE, "        finally:\n            pass\n"),),
        {
            "test_duplicate_email": "PostgreSQL refused your SQL: duplicate key value violates "
            "unique constraint",
        },
    ),
    Mutant(
        "09",
        "sql_from_an_f_string",
        (
            (
                INSERT_ONE,
                "            row = await pool().fetchrow(\n"
                '                f"INSERT INTO users (name, email) "\n'
                "                f\"VALUES ('{name}', '{email}') \"\n"
                '                "RETURNING id, name, email"\n'
                "            )\n",
            ),
        ),
        {
            "test_injection_stored_as_is": "PostgreSQL refused your SQL",
            "test_no_sql_built_from_strings": "SQL is built with an f-string",
        },
    ),
    Mutant(
        "09",
        "one_shared_connection",
        (
            (MAKE_POOL, "        pool = await asyncpg.connect(url)\n"),
            (TABLE_ON_POOL, "        await pool.execute(CREATE_TABLE)\n"),
        ),
        {
            "test_fifty_concurrent_requests": "another operation is in progress",
        },
    ),
    Mutant(
        "09",
        "missing_user_not_404",
        ((NOT_FOUND, ""),),
        {"test_get_user": "GET /user/8 answered 500"},
    ),
    Mutant(
        "09",
        "no_order_by",
        ((" ORDER BY id LIMIT $1", " LIMIT $1"),),
        {"test_list_users": "GET /users?limit=3&offset=0 answered the wrong JSON"},
    ),
    Mutant(
        "09",
        "limit_not_capped",
        (
            (
                'min(read_int("limit", DEFAULT_LIMIT), MAX_LIMIT)',
                'read_int("limit", DEFAULT_LIMIT)',
            ),
        ),
        {"test_limit_capped": "GET /users?limit=101&offset=10 answered the wrong JSON"},
    ),
    Mutant(
        "09",
        "negative_limit_accepted",
        (("raw.isascii() and raw.isdigit()", 'raw.isascii() and raw.lstrip("-").isdigit()'),),
        {"test_bad_page": "LIMIT must not be negative"},
    ),
    Mutant(
        "09",
        "bulk_without_transaction",
        (
            (
                BULK_TRANSACTION,
                "        if True:\n"
                "            try:\n"
                "                for name, email in rows:\n"
                "                    await pool().execute(\n"
                '                        "INSERT INTO users (name, email) VALUES ($1, $2)", '
                "name, email\n"
                "                    )\n"
                "            except asyncpg.UniqueViolationError:\n",
            ),
        ),
        {"test_bulk_all_or_nothing": "with a repeated email (409) still stored 6 user(s)"},
    ),
    Mutant(
        "09",
        "bulk_inserts_while_validating",
        (
            (BULK_VALIDATION, ""),
            (
                BULK_TRANSACTION,
                "        if True:\n"
                "            try:\n"
                "                rows = []\n"
                "                for user in users:\n"
                "                    rows.append(read_user(user))\n"
                "                    await pool().execute(\n"
                '                        "INSERT INTO users (name, email) VALUES ($1, $2)", '
                "*rows[-1]\n"
                "                    )\n"
                "            except asyncpg.UniqueViolationError:\n",
            ),
        ),
        {"test_bulk_invalid": "POST /users/bulk (user 4 has no email) still stored 3 user(s)"},
    ),
    Mutant(
        "09",
        "bulk_answers_200",
        (
            (
                '        return {"created": len(rows)}, 201\n',
                '        return {"created": len(rows)}\n',
            ),
        ),
        {"test_bulk_insert": "POST /users/bulk answered 200"},
    ),
    Mutant(
        "09",
        "select_then_insert",
        (
            (
                "        try:\n            # $1, $2",
                "        taken = await pool().fetchval(\n"
                '            "SELECT count(*) FROM users WHERE email = $1", email\n'
                "        )\n"
                "        if taken:\n"
                '            return {"error": "taken"}, 409\n'
                "        try:\n            # $1, $2",
            ),
            (DUPLICATE, "        finally:\n            pass\n"),
        ),
        {
            "test_concurrent_duplicate_email": "A SELECT for the email, then the INSERT, is a race",
        },
    ),
    Mutant(
        "09",
        "abort_404_without_json_handlers",
        (
            (
                "from quart import Quart, ResponseReturnValue, request\n",
                "from quart import Quart, ResponseReturnValue, abort, request\n",
            ),
            (NOT_FOUND, "        if row is None:\n            abort(404)\n"),
            (HTTP_HANDLER, ""),
            (CATCH_ALL, ""),
        ),
        {"test_get_user": "this 404 is not JSON: abort(404)"},
        avoid={"test_get_user": "fetchrow returns None"},
    ),
    Mutant(
        "09",
        "get_json_not_silent_without_json_handlers",
        (
            (
                "read_user(await request.get_json(silent=True))",
                "read_user(await request.get_json())",
            ),
            (HTTP_HANDLER, ""),
            (CATCH_ALL, ""),
        ),
        {"test_create_user_invalid": "`await request.get_json(silent=True)` gives None instead"},
        avoid={"test_create_user_invalid": "Check the body before any SQL"},
    ),
    Mutant(
        "09",
        "nul_stored_as_is",
        ((STORABLE, ""),),
        {
            "test_create_user_invalid": "POST /users (a NUL in the name) answered 500 because "
            'PostgreSQL refused your SQL: invalid byte sequence for encoding "UTF8": 0x00',
            "test_bulk_invalid": "PostgreSQL's text cannot hold the NUL character",
        },
    ),
    Mutant(
        "09",
        "isdigit_without_isascii",
        (("if not (raw.isascii() and raw.isdigit()):", "if not raw.isdigit():"),),
        {"test_bad_page": "'\u00b2'.isdigit() is True"},
    ),
    Mutant(
        "09",
        "offset_beyond_bigint",
        (("    if len(raw) > len(str(MAX_BIGINT)) or int(raw) > MAX_BIGINT:", "    if False:"),),
        {"test_bad_page": "LIMIT and OFFSET are bigints"},
    ),
    Mutant(
        "09",
        "int_of_thousands_of_digits",
        (
            (
                "if len(raw) > len(str(MAX_BIGINT)) or int(raw) > MAX_BIGINT:",
                "if int(raw) > MAX_BIGINT:",
            ),
        ),
        {"test_bad_page": "int() refuses strings of more than 4300 digits"},
    ),
    Mutant(
        "09",
        "huge_id_sent_to_postgres",
        ((BIG_ID, ""),),
        {
            "test_get_user": "GET /user/2147483648 answered 500 because asyncpg could not "
            "send a value"
        },
    ),
    Mutant(
        "09",
        "rows_kept_in_python",
        (
            (
                INSERT_ONE,
                '            kept = app.extensions.setdefault("kept", [])\n'
                '            row = {"id": len(kept) + 1, "name": name, "email": email}\n'
                "            kept.append(row)\n",
            ),
        ),
        {
            "test_create_user": "did not store the user",
            "test_create_user_invalid": "PostgreSQL has no such row",
            "test_no_connection_per_request": "answered 201, and 0 users are stored in PostgreSQL",
        },
    ),
    Mutant(
        "09",
        "no_pool_at_all",
        ((MAKE_POOL, "        pool = None\n"), (TABLE_ON_POOL, "")),
        {
            "test_pool_closed_after_serving": "While serving, your app had no connection to "
            "the database open",
        },
    ),
]
