"""Turn whatever a check raised into feedback a learner can act on."""

from __future__ import annotations

import traceback
from pathlib import Path
from types import TracebackType

from .blocking import BlockedLoop
from .lab.feedback import CheckFailed
from .results import Feedback

BLOCKING_ADVICE = {
    "time.sleep": "Use `await asyncio.sleep(...)`: it pauses only this coroutine.",
    "socket": "Use an async client (httpx.AsyncClient, asyncpg, aiomcache) and await it.",
    "io": "Move file work off the loop with `await asyncio.to_thread(...)`.",
    "os": "Move file work off the loop with `await asyncio.to_thread(...)`.",
    "builtins.input": "A web handler cannot ask the keyboard: take the value as a parameter.",
}


def learner_frames(tb: TracebackType | None, learner: Path) -> list[traceback.FrameSummary]:
    target = str(learner.resolve())
    return [f for f in traceback.extract_tb(tb) if str(Path(f.filename).resolve()) == target]


def where(frame: traceback.FrameSummary, relpath: str) -> str:
    line = (frame.line or "").strip()
    return f"{relpath}, line {frame.lineno}" + (f": {line}" if line else "")


def source_line(file: Path, number: int) -> str:
    try:
        return file.read_text(encoding="utf-8").splitlines()[number - 1].strip()
    except (OSError, IndexError, UnicodeDecodeError):
        return ""


def leaf(exc: BaseException) -> BaseException:
    """The first real exception inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def explain(exc: BaseException, learner: Path, relpath: str) -> Feedback:
    if isinstance(exc, CheckFailed):
        return Feedback(exc.summary, exc.expected, exc.got, exc.hint, exc.where)
    inner = leaf(exc)
    frames = learner_frames(inner.__traceback__, learner)
    at = where(frames[-1], relpath) if frames else None
    name = type(inner).__name__
    if isinstance(inner, BlockedLoop):
        line = source_line(learner, inner.lineno)
        at = f"{relpath}, line {inner.lineno}" + (f": {line}" if line else "")
    if name in ("BlockingError", "BlockedLoop"):  # from blockbuster, or seen by the grader
        call = str(inner).removeprefix("Blocking call to ").strip()
        advice = next((v for k, v in BLOCKING_ADVICE.items() if call.startswith(k)), None)
        return Feedback(
            f"A blocking call ({call}) froze the event loop",
            expected="while a coroutine waits, other tasks keep running",
            got=f"{call} stops every task on the loop until it returns",
            hint=advice or "Await an async equivalent, or run it with `asyncio.to_thread`.",
            where=at,
        )
    if isinstance(inner, NotImplementedError) and frames:
        return Feedback(
            f"{frames[-1].name} is not written yet: it still raises NotImplementedError",
            hint="Replace the `raise NotImplementedError` under the TODO with your code, "
            "then run the check again.",
            where=at,
        )
    if isinstance(inner, SystemExit):
        return Feedback(
            "Your code called sys.exit() (or raised SystemExit) while the check ran",
            hint="A function should return its result; exiting ends the whole program.",
            where=at,
        )
    message = str(inner)
    if isinstance(inner, RuntimeError) and "no current event loop" in message and frames:
        return Feedback(
            f"Your code raised RuntimeError: {message}",
            hint="asyncio.get_event_loop() no longer makes a loop for you (Python 3.12 warns, "
            "3.14 refuses). From plain code, run a coroutine with asyncio.run(...).",
            where=at,
        )
    if frames:
        return Feedback(
            f"Your code raised {name}" + (f": {message}" if message else ""),
            hint="Read the line named above; run the same call in the notebook to see it happen.",
            where=at,
        )
    return Feedback(
        f"The check stopped with {name}" + (f": {message}" if message else ""),
        hint="Run again with --verbose to see the full traceback.",
    )


def format_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def explain_load(exc: BaseException, learner: Path, relpath: str) -> Feedback:
    """Why the learner's file could not even be imported."""
    if isinstance(exc, SyntaxError):
        text = (exc.text or "").rstrip("\n")
        pointer = ""
        if text and exc.offset:
            stripped = text.lstrip()
            pointer = (
                "\n          " + " " * max(exc.offset - 1 - (len(text) - len(stripped)), 0) + "^"
            )
            text = stripped
        return Feedback(
            f"{relpath} has a syntax error: {exc.msg}",
            where=f"{relpath}, line {exc.lineno}" + (f": {text}{pointer}" if text else ""),
            hint="Python could not read the file, so no check could run. Fix the line above "
            "(often the line before it: a missing bracket, colon or quote).",
        )
    if isinstance(exc, ModuleNotFoundError):
        frames = learner_frames(exc.__traceback__, learner)
        return Feedback(
            f"{relpath} imports {exc.name!r}, and no module of that name is installed",
            where=where(frames[-1], relpath) if frames else None,
            hint="Check the spelling of the import. Everything the course needs is installed "
            "with it; `pip install asyncio` is never needed (asyncio is part of Python).",
        )
    if isinstance(exc, SystemExit):
        return Feedback(
            f"{relpath} calls sys.exit() when it is imported",
            hint="Code at the top level runs on import. Put it under "
            '`if __name__ == "__main__":` or remove it.',
        )
    feedback = explain(exc, learner, relpath)
    feedback.summary = f"Importing {relpath} failed. {feedback.summary}"
    if not feedback.hint or feedback.hint.startswith("Run again"):
        feedback.hint = "Code at the top level of the file runs on import; the problem is there."
    return feedback
