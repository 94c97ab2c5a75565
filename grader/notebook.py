"""For notebooks: the check cell at the end of every chapter, and "try it" cells.

The learner's code still runs in a separate process when checked, so an endless loop in an
exercise stops the check, never the notebook's kernel.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from rich.console import Console

from .course import load_course
from .lab.learner import load_module
from .report import console, print_chapter
from .results import ChapterResult, chapter_from_dict

T = TypeVar("T")

HTML_BLOCK = '<pre style="font-family: monospace; line-height: 1.35">{code}</pre>'


def show(render: Callable[[Console], None]) -> None:
    """One output block: HTML in Jupyter with a plain-text twin; a plain print elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # the grader also works without Jupyter installed
        render(console())
        return
    if get_ipython() is None:
        render(console())
        return
    out = Console(record=True, file=io.StringIO(), width=110, highlight=False, force_jupyter=False)
    render(out)
    text = out.export_text(clear=False)
    html = out.export_html(inline_styles=True, code_format=HTML_BLOCK)
    display({"text/html": html, "text/plain": text}, raw=True)  # type: ignore[no-untyped-call]


def check(
    chapter_id: str, *, file: str | Path | None = None, solutions: bool = False
) -> ChapterResult:
    """Run a chapter's checks (the same as `grader check NN`) and show the report.

    The grader runs as a command of its own, as in a terminal: it supervises the learner's
    code from a process that is not the kernel (it collects every process that code leaves
    behind, which a kernel must not do to the processes of its own cells)."""
    course = load_course()
    chapter = course.chapter(chapter_id)
    command = [sys.executable, "-m", "grader", "check", chapter.id, "--result-json"]
    if file:
        command += ["--file", str(Path(file).resolve())]
    elif solutions:
        command.append("--solutions")
    done = subprocess.run(  # noqa: S603  (our own interpreter and command)
        command,
        capture_output=True,
        text=True,
        cwd=course.root,
        env={**os.environ, "COURSE_ROOT": str(course.root)},
    )
    try:
        result = chapter_from_dict(json.loads(done.stdout)[0])
    except (ValueError, IndexError, KeyError, TypeError):
        message = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(
            "the grader could not run: " + (message[-1] if message else f"exit {done.returncode}")
        ) from None
    show(lambda out: print_chapter(out, chapter, result, verbose=False))
    return result


def exercise(chapter_id: str, *, solutions: bool = False) -> ModuleType:
    """The learner's exercise module, loaded afresh so the latest saved edits are used.

    For "try it" cells: `ex = exercise("01")` then `await ex.fetch_data(0.1)`.
    """
    course = load_course()
    chapter = course.chapter(chapter_id)
    path = chapter.solution if solutions else chapter.exercise
    return load_module(path, f"{chapter.module_name}_notebook")


async def try_it(awaitable: Awaitable[T], seconds: float = 5.0) -> T | None:
    """Await a learner's call in a "try it" cell, giving up after `seconds` of waiting.

    A wait that never ends (a semaphore of 0, an event nobody sets) then prints a message
    instead of freezing the notebook. A busy loop that never awaits cannot be stopped from
    here: Kernel > Interrupt does that.
    """
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await awaitable
    except TimeoutError:
        if not deadline.expired():
            raise  # the learner's own code raised TimeoutError: it is theirs to see
        print(
            f"Stopped after {seconds:g} s: the call was still waiting. Does it wait for "
            "something that never happens? `grader check` will tell you more."
        )
        return None


@asynccontextmanager
async def served(app: Any, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run a Quart app for real (Hypercorn, on a free local port) for the duration of the
    block and yield its base URL; it shuts down cleanly, after_serving hooks included.

        async with served(create_app()) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                print((await client.get("/")).text)

    Chapter 03 shows the same steps written out: app.run_task with a shutdown trigger.
    Clients of it should pass `trust_env=False`: a proxy set in the environment must not
    receive requests meant for 127.0.0.1.
    """
    with socket.socket() as probe:  # ask the OS for a free port
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    stop = asyncio.Event()
    server = asyncio.create_task(app.run_task(host=host, port=port, shutdown_trigger=stop.wait))
    try:
        for _ in range(250):  # until the server accepts connections (or has failed)
            if server.done():
                server.result()  # the server's own error, such as a port in use
                raise RuntimeError("the server stopped before it accepted a connection")
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            await writer.wait_closed()
            break
        else:
            raise RuntimeError(f"the server did not accept connections on {host}:{port} in 5 s")
        yield f"http://{host}:{port}"
    finally:
        stop.set()
        await server
