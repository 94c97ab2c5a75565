"""Turn whatever a check raised into feedback a learner can act on."""

from __future__ import annotations

import ast
import inspect
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from .engine.blocking import BlockedLoop
from .lab.feedback import CheckFailed
from .results import Feedback

BLOCKING_ADVICE = {
    "time.sleep": "Use `await asyncio.sleep(...)`: it pauses only this coroutine.",
    "socket": "Use an async client (httpx.AsyncClient, asyncpg, aiomcache) and await it.",
    "io": "Move file work off the loop with `await asyncio.to_thread(...)`.",
    "os": "Move file work off the loop with `await asyncio.to_thread(...)`.",
    "builtins.input": "A web handler cannot ask the keyboard: take the value as a parameter.",
}
# Exceptions that pytest treats as "skip", "xfail" or "stop": from a learner's code they
# would turn a check into something other than a failure. They are explained as what they
# are; the grader's verdict is a failure whatever pytest makes of them.
SKIPS = {"Skipped", "SkipTest", "XFailed", "Exit", "Failed"}
GRADER_PARTS = ("checks", "lab")  # the grader's own frames that --verbose keeps
READ_THE_LINE = "Read the line named above; `--verbose` shows the whole traceback."


def plain_function_at(file: Path, line: int) -> str | None:
    """The name of the innermost plain (not async) function around `line`, if any."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None
    found: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            if node.lineno <= line <= end and (found is None or node.lineno >= found.lineno):
                found = node
    return found.name if isinstance(found, ast.FunctionDef) else None


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


def stuck_before(function: str, info: dict[str, Any]) -> CheckFailed:
    """For a function that hung in an earlier check and is not run again."""
    return CheckFailed(
        f"{function} never finished in an earlier check, so it was not run again",
        where=info.get("where"),
        expected=f"{function} returns",
        got=f"it was still running when the time was up in: {info.get('check', 'a check')}",
        hint="Fix the loop that never ends (named above); this check runs again once it does.",
    )


def innermost_coroutine_line(tb: TracebackType | None, learner: Path, relpath: str) -> str | None:
    """The learner's line inside a coroutine nearest to the error: for asyncio.run called
    from code that already runs on the loop, the caller that should have awaited."""
    target = str(learner.resolve())
    found = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if str(Path(code.co_filename).resolve()) == target and code.co_flags & (
            inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
        ):
            line = source_line(learner, tb.tb_lineno)
            found = f"{relpath}, line {tb.tb_lineno}" + (f": {line}" if line else "")
        tb = tb.tb_next
    return found


def explain(exc: BaseException, learner: Path, relpath: str) -> Feedback:
    if isinstance(exc, CheckFailed):
        return Feedback(exc.summary, exc.expected, exc.got, exc.hint, exc.where)
    inner = leaf(exc)
    if isinstance(inner, CheckFailed):
        return Feedback(inner.summary, inner.expected, inner.got, inner.hint, inner.where)
    frames = learner_frames(inner.__traceback__, learner)
    at = where(frames[-1], relpath) if frames else None
    name = type(inner).__name__
    message = str(inner)
    said = f"Your code raised {name}" + (f": {message}" if message else "")
    if isinstance(inner, BlockedLoop):
        line = source_line(learner, inner.lineno)
        at = f"{relpath}, line {inner.lineno}" + (f": {line}" if line else "")
    if name in ("BlockingError", "BlockedLoop"):  # from blockbuster, or seen by the grader
        call = message.removeprefix("Blocking call to ").strip()
        advice = next((v for k, v in BLOCKING_ADVICE.items() if call.startswith(k)), None)
        number = (
            inner.lineno
            if isinstance(inner, BlockedLoop)
            else (frames[-1].lineno if frames else None)
        )
        helper = plain_function_at(learner, number) if number else None
        if helper is not None:
            advice = (
                f"`{helper}` is a plain function, and a coroutine calls it: its {call} blocks "
                f"the loop all the same. Run it off the loop, `await asyncio.to_thread("
                f"{helper}, ...)`, or make it a coroutine that awaits."
            )
        return Feedback(
            f"A blocking call ({call}) froze the event loop",
            expected="while a coroutine waits, other tasks keep running",
            got=f"{call} stops every task on the loop until it returns",
            hint=advice or "Await an async equivalent, or run it with `asyncio.to_thread`.",
            where=at,
        )
    if name == "SandboxRefusal":
        return Feedback(
            message.replace("your file", "Your file", 1),
            where=at,
            hint="The grader runs your file in a sandbox. Remove that line: the exercise "
            "does not need it.",
        )
    if name in SKIPS and (name == "SkipTest" or not isinstance(inner, Exception)):
        module = type(inner).__module__
        return Feedback(
            f"Your code raised {name if module == 'builtins' else f'{module}.{name}'} "
            "while the check ran",
            where=at,
            expected="the check runs to its end",
            got="an exception that asks the test runner to skip or stop",
            hint="A check passes only when it finishes; skipping it is a failure. Remove it.",
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
    if isinstance(inner, MemoryError):
        return Feedback(
            "Your code ran out of memory (MemoryError)",
            where=at,
            expected="a few megabytes for an exercise",
            got="the memory limit of the grader's sandbox was reached",
            hint="Look for a list or string that grows without end, or very deep recursion.",
        )
    if isinstance(inner, RecursionError):
        return Feedback(
            f"{said}",
            where=at,
            hint="A function calls itself (directly or through others) without end: give the "
            "recursion a case that stops it, or use a loop.",
        )
    if isinstance(inner, RuntimeError) and (
        "cannot be called from a running event loop" in message
        or "event loop is already running" in message
    ):
        return Feedback(
            said,
            where=innermost_coroutine_line(inner.__traceback__, learner, relpath) or at,
            expected="code that already runs on the event loop awaits coroutines",
            got="a loop was started (asyncio.run, run_until_complete) while one was running: "
            "from a coroutine, or from a plain function that a coroutine called",
            hint="Inside `async def`, write `await something()`; asyncio.run() is only for "
            "plain code that runs no loop yet. Await the coroutine instead of calling its "
            "sync wrapper.",
        )
    if isinstance(inner, RuntimeError) and "no current event loop" in message and frames:
        return Feedback(
            said,
            hint="asyncio.get_event_loop() no longer makes a loop for you (Python 3.12 warns, "
            "3.14 refuses). From plain code, run a coroutine with asyncio.run(...).",
            where=at,
        )
    if isinstance(inner, RuntimeError) and "outside of request context" in message:
        return Feedback(
            said,
            where=at,
            hint="That `request` does not belong to this app: in a Quart app, import it from "
            "quart (`from quart import request`), not from flask, and read the body with "
            "`await request.get_json()`.",
        )
    if isinstance(inner, TypeError | ValueError) and "a coroutine was expected" in message:
        return Feedback(
            said,
            where=at,
            hint="asyncio.run() takes a coroutine object: call the function inside it, "
            "`asyncio.run(hello())`, not `asyncio.run(hello)`.",
        )
    if isinstance(inner, AttributeError | TypeError) and "'coroutine' object" in message:
        return Feedback(
            said,
            where=at,
            hint="A coroutine was used before it was awaited. `await` applies to the whole "
            "expression after it: `await request.get_json().get(...)` calls .get on the "
            "coroutine. Await first: `body = await request.get_json()`, then `body.get(...)`; "
            "or `(await client.get(url)).json()`.",
        )
    if frames:
        return Feedback(said, hint=READ_THE_LINE, where=at)
    return Feedback(
        f"The check stopped with {name}" + (f": {message}" if message else ""),
        hint="Run again with --verbose to see the full traceback.",
    )


def format_traceback(exc: BaseException, learner: Path, relpath: str | None = None) -> str:
    """The traceback as --verbose shows it: the learner's frames and the grader's checks,
    not pytest's, pluggy's or asyncio's machinery; the learner's file by its own name."""
    target = str(learner.resolve())
    keep_dirs = tuple(str(Path(__file__).resolve().parent / part) for part in GRADER_PARTS)

    def kept(frame: traceback.FrameSummary) -> bool:
        name = str(Path(frame.filename).resolve())
        return name == target or name.startswith(keep_dirs)

    text = "".join(_filtered(exc, kept))
    if relpath:
        text = text.replace(str(learner), relpath).replace(target, relpath)
    return text


def _filtered(exc: BaseException, kept: Any) -> list[str]:
    """traceback.format_exception, with the frames `kept` rejects left out (chained and
    grouped exceptions included)."""
    shown = traceback.TracebackException.from_exception(exc)
    _prune(shown, kept, set())
    return list(shown.format())


def _prune(shown: traceback.TracebackException, kept: Any, seen: set[int]) -> None:
    if id(shown) in seen:
        return
    seen.add(id(shown))
    frames = [f for f in shown.stack if kept(f)]
    shown.stack = traceback.StackSummary.from_list(frames)
    for linked in (shown.__cause__, shown.__context__):
        if linked is not None:
            _prune(linked, kept, seen)
    for member in getattr(shown, "exceptions", None) or ():
        _prune(member, kept, seen)


def explain_load(exc: BaseException, learner: Path, relpath: str) -> Feedback:
    """Why the learner's file could not even be imported."""
    if isinstance(exc, SyntaxError):
        return syntax_error(exc, relpath)
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
    if (
        not feedback.hint
        or feedback.hint in (READ_THE_LINE,)
        or feedback.hint.startswith("Run again")
    ):
        feedback.hint = "Code at the top level of the file runs on import; the problem is there."
    return feedback


def syntax_error(exc: SyntaxError, relpath: str) -> Feedback:
    """The line on a line of its own with a caret under the spot, so the two align."""
    text = (exc.text or "").rstrip("\n")
    stripped = text.lstrip()
    indent = len(text) - len(stripped)
    shown = f"{relpath}, line {exc.lineno}"
    at_start = False
    if stripped:
        shown += f":\n  {stripped}"
        if exc.offset:
            start = max(exc.offset - 1 - indent, 0)
            end = (exc.end_offset or exc.offset) - 1 - indent
            width = max(end - start, 1) if (exc.end_lineno in (None, exc.lineno)) else 1
            shown += "\n  " + " " * start + "^" * min(width, max(len(stripped) - start, 1))
            at_start = start == 0
    hint = "Python could not read the file, so no check could run. Fix the spot the caret marks."
    if "never closed" in (exc.msg or ""):
        hint += " The bracket it marks needs its closing bracket."
    elif at_start or not stripped:
        hint += (
            " When it points at the start of a line, the mistake is often at the end of the "
            "line before it: a missing bracket, colon or quote."
        )
    return Feedback(f"{relpath} has a syntax error: {exc.msg}", where=shown, hint=hint)
