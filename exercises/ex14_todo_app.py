"""Chapter 14: the to-do app your tests test. It is given: read it, never edit it.

Your tests (exercises/ex14_testing.py) take the fixture `app`: a new `create_app()` of this
app for every test. The grader runs them here, then on faulty versions of this app: a check
passes when at least one of your tests fails on its faulty version.

    POST   /todos              {"title": str, "done": bool (optional: false)} -> 201 the to-do
    GET    /todos              200 {"todos": [... by id]}; ?done=true or ?done=false filters
    GET    /todos/<id>         200 the to-do, or 404
    PATCH  /todos/<id>         {"title" and/or "done"} -> 200 the to-do; the rest is kept
    DELETE /todos/<id>         204 with an empty body, or 404
    GET    /todos/stats        200 {"total": n, "done": n, "open": n}

A to-do is {"id": int, "title": str, "done": bool}; ids start at 1. The title is stored
stripped of surrounding spaces, 1 to MAX_TITLE characters. Bad input answers 400, an unknown
id 404, always with a JSON body {"error": "..."}.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quart import Quart, ResponseReturnValue, request
from werkzeug.exceptions import HTTPException, NotFound

MAX_TITLE = 200  # characters, once stripped
STORE_DELAY = 0.05  # seconds every call to the store waits, as a database query would

Todo = dict[str, Any]


class InvalidTodo(Exception):
    """Bad input: answered 400 with the message."""


class MemoryStore:
    """Keeps to-dos in memory. Every call first waits STORE_DELAY seconds (an await, as a
    query to a real database does), so requests that overlap interleave here."""

    def __init__(self, delay: float = STORE_DELAY) -> None:
        self.delay = delay
        self._todos: dict[int, Todo] = {}
        self._last_id = 0

    async def _query(self) -> None:
        await asyncio.sleep(self.delay)

    async def add(self, title: str, done: bool) -> Todo:
        # The id is taken before the await: two adds that overlap can never get the same one.
        self._last_id += 1
        todo_id = self._last_id
        await self._query()
        todo: Todo = {"id": todo_id, "title": title, "done": done}
        self._todos[todo_id] = todo
        return dict(todo)

    async def get(self, todo_id: int) -> Todo | None:
        await self._query()
        todo = self._todos.get(todo_id)
        return dict(todo) if todo is not None else None

    async def select(self, done: bool | None = None) -> list[Todo]:
        await self._query()
        return [
            dict(todo)
            for _, todo in sorted(self._todos.items())
            if done is None or todo["done"] is done
        ]

    async def update(self, todo_id: int, changes: dict[str, Any]) -> Todo | None:
        await self._query()
        todo = self._todos.get(todo_id)
        if todo is None:
            return None
        # Only the fields sent, applied in one step after the wait: two updates that
        # overlap both count.
        todo.update(changes)
        return dict(todo)

    async def delete(self, todo_id: int) -> bool:
        await self._query()
        return self._todos.pop(todo_id, None) is not None


def read_title(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidTodo("title must be a string")
    title = value.strip()
    if not title:
        raise InvalidTodo("title must not be empty")
    if len(title) > MAX_TITLE:
        raise InvalidTodo(f"title must be at most {MAX_TITLE} characters")
    return title


def read_done(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidTodo("done must be true or false")
    return value


async def read_body() -> dict[str, Any]:
    # Not request.get_json(silent=True): it decodes the bytes outside its own try, so a body
    # that is not UTF-8 would be a 500, and so would JSON nested too deep for the parser.
    if not request.is_json:  # Content-Type: application/json
        raise InvalidTodo("send a JSON object")
    raw = await request.get_data()
    try:
        # json.loads reads the bytes themselves; bytes that are not text raise
        # UnicodeDecodeError, a ValueError too.
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidTodo("send a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidTodo("send a JSON object")
    return body


def create_app(*, store: MemoryStore | None = None) -> Quart:
    app = Quart(__name__)
    todos = store if store is not None else MemoryStore()

    @app.post("/todos")
    async def create_todo() -> ResponseReturnValue:
        body = await read_body()
        if "title" not in body:
            raise InvalidTodo("title is required")
        title = read_title(body["title"])
        done = read_done(body.get("done", False))
        todo = await todos.add(title, done)
        return todo, 201

    @app.get("/todos")
    async def list_todos() -> ResponseReturnValue:
        flag = request.args.get("done")
        if flag is None:
            done = None
        elif flag in ("true", "false"):
            done = flag == "true"
        else:
            raise InvalidTodo("done must be true or false")
        return {"todos": await todos.select(done)}

    @app.get("/todos/stats")
    async def todo_stats() -> ResponseReturnValue:
        every = await todos.select()
        finished = sum(1 for todo in every if todo["done"])
        return {"total": len(every), "done": finished, "open": len(every) - finished}

    @app.get("/todos/<int:todo_id>")
    async def get_todo(todo_id: int) -> ResponseReturnValue:
        todo = await todos.get(todo_id)
        if todo is None:
            raise NotFound(f"there is no to-do {todo_id}")
        return todo

    @app.patch("/todos/<int:todo_id>")
    async def update_todo(todo_id: int) -> ResponseReturnValue:
        body = await read_body()
        changes: dict[str, Any] = {}
        if "title" in body:
            changes["title"] = read_title(body["title"])
        if "done" in body:
            changes["done"] = read_done(body["done"])
        if not changes:
            raise InvalidTodo("send title and/or done")
        todo = await todos.update(todo_id, changes)
        if todo is None:
            raise NotFound(f"there is no to-do {todo_id} to update")
        return todo

    @app.delete("/todos/<int:todo_id>")
    async def delete_todo(todo_id: int) -> ResponseReturnValue:
        if not await todos.delete(todo_id):
            raise NotFound(f"there is no to-do {todo_id} to delete")
        return "", 204

    @app.errorhandler(InvalidTodo)
    async def invalid_todo(error: InvalidTodo) -> ResponseReturnValue:
        return {"error": str(error)}, 400

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
