"""The dashboard's SQLite file: the room code and the teacher key (made once, kept), and
every accepted result (names, chapters, check names, scores, when it arrived).

`Store` is plain blocking code on one connection. The app never calls it on the event loop:
`Store.call` runs each operation on one thread of its own, so the connection is only ever
used from that thread, one operation at a time, and a slow disk never stalls the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .payload import ChapterScore, Check

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS learners (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    learner INTEGER NOT NULL REFERENCES learners(id),
    chapter TEXT NOT NULL,
    score INTEGER NOT NULL,
    max_score INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_by_learner ON results (learner, chapter, id);
CREATE TABLE IF NOT EXISTS checks (
    result INTEGER NOT NULL REFERENCES results(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    task INTEGER NOT NULL,
    points INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    PRIMARY KEY (result, position)
) WITHOUT ROWID;
"""

# Letters and digits a learner cannot misread when the code is on a projector.
ROOM_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
ROOM_CODE_LENGTH = 10


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard-db")
        self._db: sqlite3.Connection | None = None

    async def call(self, operation: Callable[..., T], *args: Any) -> T:
        """Run a blocking operation of this store on its own thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, operation, *args)

    # Everything below runs on the store's thread (or before the server starts).

    def open(self) -> tuple[str, str]:
        """Create the file if needed; return (room code, teacher key), made on first use."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # The file holds the teacher key: readable by its owner only.
            self.path.touch(mode=0o600)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a committed result survives a crash
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(SCHEMA)
        self._db = db
        with self._transaction():
            room = self._meta("room_code") or self._set_meta(
                "room_code", "".join(secrets.choice(ROOM_ALPHABET) for _ in range(ROOM_CODE_LENGTH))
            )
            key = self._meta("teacher_key") or self._set_meta(
                "teacher_key", secrets.token_urlsafe(18)
            )
        return room, key

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def stop(self) -> None:
        """No more operations: the store's thread ends once the last one has run."""
        self._executor.shutdown(wait=False)

    def add(self, name: str, scores: list[ChapterScore]) -> None:
        """One post, in one transaction: stored whole or not at all."""
        db = self._connection()
        with self._transaction():
            db.execute("INSERT OR IGNORE INTO learners (name) VALUES (?)", (name,))
            (learner,) = db.execute("SELECT id FROM learners WHERE name = ?", (name,)).fetchone()
            for score in scores:
                cursor = db.execute(
                    "INSERT INTO results (learner, chapter, score, max_score, at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (learner, score.chapter, score.score, score.max_score, score.at),
                )
                db.executemany(
                    "INSERT INTO checks (result, position, name, task, points, passed) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (cursor.lastrowid, i, c.name, c.task, c.points, int(c.passed))
                        for i, c in enumerate(score.checks)
                    ],
                )

    def latest(self) -> dict[str, dict[str, ChapterScore]]:
        """Every learner's newest result of every chapter they posted (names with no result
        included, as empty)."""
        db = self._connection()
        out: dict[str, dict[str, ChapterScore]] = {
            name: {} for (name,) in db.execute("SELECT name FROM learners")
        }
        rows = db.execute(
            "SELECT l.name, r.id, r.chapter, r.score, r.max_score, r.at FROM results r "
            "JOIN learners l ON l.id = r.learner "
            "WHERE r.id = (SELECT MAX(id) FROM results WHERE learner = r.learner "
            "AND chapter = r.chapter)"
        ).fetchall()
        checks = self._checks([row[1] for row in rows])
        for name, result, chapter, score, max_score, at in rows:
            out[name][chapter] = ChapterScore(chapter, score, max_score, checks[result], at)
        return out

    def history(self, name: str, limit: int = 200) -> list[ChapterScore]:
        """A learner's results, newest first."""
        db = self._connection()
        rows = db.execute(
            "SELECT r.id, r.chapter, r.score, r.max_score, r.at FROM results r "
            "JOIN learners l ON l.id = r.learner WHERE l.name = ? ORDER BY r.id DESC LIMIT ?",
            (name, limit),
        ).fetchall()
        checks = self._checks([row[0] for row in rows])
        return [ChapterScore(ch, score, mx, checks[rid], at) for rid, ch, score, mx, at in rows]

    def count(self) -> int:
        """How many chapter results are stored (every post adds one per chapter)."""
        (number,) = self._connection().execute("SELECT COUNT(*) FROM results").fetchone()
        return int(number)

    def _checks(self, results: list[int]) -> dict[int, tuple[Check, ...]]:
        found: dict[int, list[Check]] = {r: [] for r in results}
        db = self._connection()
        for start in range(0, len(results), 500):  # SQLite's limit on bound parameters
            chunk = results[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for result, name, task, points, passed in db.execute(
                f"SELECT result, name, task, points, passed FROM checks "
                f"WHERE result IN ({marks}) ORDER BY result, position",
                chunk,
            ):
                found[result].append(Check(name, task, points, bool(passed)))
        return {r: tuple(c) for r, c in found.items()}

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the dashboard's store is not open")
        return self._db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        row = self._connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> str:
        self._connection().execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
        return value
