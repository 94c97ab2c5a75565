"""A warm worker: `python -I -B -m grader.engine.worker`, one per core, for grading many
submissions (grader report). It imports pytest, the web stack and the grader once, then
grades one chapter of one submission per line it reads, forking each child from itself:
the child starts with everything imported, and the worker stays untouched by it.

Protocol, one JSON object per line: in {"chapter", "file", "relpath"}; out the
ChapterResult as a dict, or {"error": message}.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

# What every child would import anyway: paid once here instead of once per child.
WARM = (
    "asyncio", "json", "pytest", "_pytest.config", "_pytest.main", "_pytest.python",
    "_pytest.runner", "_pytest.fixtures", "quart", "quart.testing", "werkzeug", "httpx",
    "hypercorn", "looptime", "blockbuster", "asyncpg", "aiomcache", "websockets",
    "prometheus_client", "grader.engine.child", "grader.engine.plugin",
    "grader.lab", "grader.lab.web", "grader.lab.market",
)  # fmt: skip


def warm_up() -> None:
    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    from _pytest.config import default_plugins

    for plugin in default_plugins:
        try:
            importlib.import_module(f"_pytest.{plugin}")
        except ImportError:
            continue


def main() -> int:
    from ..course import load_course
    from . import processes
    from .runner import run_chapter

    processes.die_with_parent(os.getppid())
    warm_up()
    # Everything imported so far stays out of the collector's way in every forked child:
    # fewer objects to traverse, and fewer pages copied on write.
    gc.collect()
    gc.freeze()
    course = load_course(Path(os.environ["COURSE_ROOT"]))
    reply = sys.stdout
    for line in sys.stdin:
        try:
            task = json.loads(line)
            chapter = course.chapter(task["chapter"])
            result = run_chapter(
                course, chapter, Path(task["file"]), fork=True, shown_as=task.get("relpath")
            )
            answer = asdict(result)
        except Exception as error:  # noqa: BLE001  (one submission never stops the worker)
            answer = {"error": f"{type(error).__name__}: {error}"}
        reply.write(json.dumps(answer) + "\n")
        reply.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
