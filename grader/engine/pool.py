"""Warm workers (grader.engine.worker), one per core, grading many submissions in parallel.

Each task is one chapter of one submission. A worker that dies (a limit, a crash of the
grader itself) is replaced and its task tried once more; a task that fails twice comes back
as an error, so one submission never stops the class's report.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


@dataclass
class Task:
    key: Any  # the caller's name for it, handed back with the result
    chapter: str
    file: Path
    relpath: str
    attempts: int = 0


@dataclass
class _Worker:
    process: subprocess.Popen[str]
    stdout: IO[str]
    task: Task | None = None


def run_tasks(
    tasks: Iterable[Task],
    course_root: Path,
    *,
    workers: int | None = None,
    on_result: Callable[[Task, dict[str, Any]], None],
) -> None:
    """Grade every task; `on_result(task, result_dict)` as each finishes (in any order)."""
    queue = deque(tasks)
    count = max(1, min(workers or os.cpu_count() or 1, len(queue)))
    selector = selectors.DefaultSelector()
    pool: list[_Worker] = []
    env = {**os.environ, "COURSE_ROOT": str(course_root)}

    def start() -> _Worker:
        process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            [sys.executable, "-I", "-B", "-m", "grader.engine.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=str(course_root),
        )
        assert process.stdout is not None
        worker = _Worker(process, process.stdout)
        selector.register(process.stdout, selectors.EVENT_READ, worker)
        pool.append(worker)
        return worker

    def give(worker: _Worker) -> None:
        if not queue:
            worker.task = None
            return
        task = queue.popleft()
        task.attempts += 1
        worker.task = task
        line = json.dumps(
            {"chapter": task.chapter, "file": str(task.file), "relpath": task.relpath}
        )
        assert worker.process.stdin is not None
        worker.process.stdin.write(line + "\n")
        worker.process.stdin.flush()

    def retire(worker: _Worker) -> None:
        selector.unregister(worker.stdout)
        pool.remove(worker)
        worker.process.kill()
        worker.process.wait()
        for stream in (worker.process.stdin, worker.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    try:
        for _ in range(count):
            give(start())
        while any(w.task is not None for w in pool):
            for key, _ in selector.select(timeout=1.0):
                worker: _Worker = key.data
                line = worker.stdout.readline()
                task = worker.task
                if not line:  # the worker died: replace it, try its task once more
                    retire(worker)
                    if task is not None:
                        if task.attempts < 2:
                            queue.appendleft(task)
                        else:
                            on_result(task, {"error": "the grader's worker died twice"})
                    give(start())
                    continue
                if task is not None:
                    try:
                        result = json.loads(line)
                    except ValueError:
                        result = {"error": "the grader's worker answered nonsense"}
                    on_result(task, result)
                give(worker)
    finally:
        for worker in list(pool):
            retire(worker)
        selector.close()
