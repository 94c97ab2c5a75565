"""The learner-facing report on a terminal: colour when it is one, plain text when piped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .course import Chapter
from .results import ChapterResult, CheckResult, Feedback

PASS, FAIL = "✓", "✗"


def console(stderr: bool = False) -> Console:
    return Console(highlight=False, stderr=stderr, soft_wrap=True)


def feedback_text(feedback: Feedback, indent: str = "    ") -> Text:
    text = Text()
    text.append(indent + feedback.summary + "\n", style="bold")
    for label, value, style in (
        ("where", feedback.where, "cyan"),
        ("expected", feedback.expected, "green"),
        ("got", feedback.got, "red"),
        ("hint", feedback.hint, "yellow"),
    ):
        if value:
            pad = " " * (len("expected") - len(label))
            body = value.replace("\n", "\n" + indent + " " * 10)
            text.append(f"{indent}{label}:{pad} ", style="dim")
            text.append(body + "\n", style=style)
    return text


def print_chapter(out: Console, chapter: Chapter, result: ChapterResult, *, verbose: bool) -> None:
    out.print(
        Text(f"Chapter {chapter.id} · {chapter.title}", style="bold"),
        Text(f"  ({result.file})", style="dim"),
    )
    if result.problem:
        out.print(Text(f"\n{FAIL} Your file could not be checked", style="bold red"))
        out.print(feedback_text(result.problem), end="")
        print_output(out, result.problem_output)
        out.print()
    for check in result.checks:
        mark = Text(f" {PASS} ", style="green") if check.passed else Text(f" {FAIL} ", style="red")
        out.print(mark + Text(check.name) + Text(f"  [task {check.task}]", style="dim"))
    style = "bold green" if result.ok else "bold red"
    out.print(
        Text(
            f"\n{result.passed}/{result.total} checks passed · "
            f"{result.score}/{result.max_score} points",
            style=style,
        )
    )
    print_integrity(out, result)
    if result.problem and not verbose:
        print_next_step(out, chapter, result)
        return
    seen: set[str] = set()
    for check in result.checks:
        if check.passed:
            continue
        print_failure(out, check, seen, verbose=verbose)
    if result.ok:
        out.print(Text("All checks pass. Well done!", style="green"))
    else:
        print_next_step(out, chapter, result)


def print_integrity(out: Console, result: ChapterResult) -> None:
    if not result.integrity:
        return
    out.print(Text("\nIntegrity note (shown to your teacher too):", style="bold yellow"))
    for line in result.integrity[:10]:
        out.print(Text(f"    {line}", style="yellow"))
    out.print(
        Text(
            "    Exercises never need these: they can tamper with grading, so a teacher "
            "reads the file before trusting the score.",
            style="dim",
        )
    )


def print_failure(out: Console, check: CheckResult, seen: set[str], *, verbose: bool) -> None:
    out.print(
        Text(f"\n{FAIL} {check.name}", style="bold red")
        + Text(f"  [task {check.task}]", style="dim")
    )
    feedback = check.feedback or Feedback("This check failed.")
    key = feedback.summary + (feedback.where or "")
    if key in seen and not verbose:
        out.print(Text(f"    {feedback.summary} (as above)", style="dim"))
        return
    seen.add(key)
    out.print(feedback_text(feedback), end="")
    print_output(out, check.output, verbose=verbose)
    if verbose and check.traceback:
        out.print(Text(check.traceback, style="dim"))


def fold_tracebacks(output: str) -> str:
    """A traceback the learner's code logged (an error handler's logger.exception) becomes
    one line: the report above already names that exception and its line; --verbose and the
    notebook show the whole of it."""
    folded: list[str] = []
    lines = output.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.strip() != "Traceback (most recent call last):":
            folded.append(line)
            index += 1
            continue
        end = index + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end]):
            end += 1
        error = lines[end].strip() if end < len(lines) else "an exception"
        folded.append(f"[a traceback of {error} (--verbose shows it)]")
        index = end + 1
    return "\n".join(folded)


def print_output(out: Console, output: str, lines: int = 20, *, verbose: bool = False) -> None:
    if not output.strip():
        return
    if not verbose:
        output = fold_tracebacks(output)
    out.print(Text("    your code printed:", style="dim"))
    shown = [
        line if len(line) <= 200 else line[:200] + "..." for line in output.splitlines()[:lines]
    ]
    out.print(Text("\n".join("      " + line for line in shown)))


def print_next_step(out: Console, chapter: Chapter, result: ChapterResult) -> None:
    failed = sorted({c.task for c in result.checks if not c.passed})
    if not failed:
        return
    task = chapter.task(failed[0])
    out.print(
        Text("\nNext step: ", style="bold")
        + Text(f"task {task.number}, {task.title}. ")
        + Text(f"Stuck? grader hint {chapter.id} {task.number}", style="yellow")
    )


def print_summary(out: Console, chapters: list[Chapter], results: list[ChapterResult]) -> None:
    table = Table(title="All chapters", show_lines=False)
    table.add_column("chapter")
    table.add_column("title")
    table.add_column("checks", justify="right")
    table.add_column("points", justify="right")
    table.add_column("status")
    for chapter, result in zip(chapters, results, strict=True):
        status = (
            Text("passed", style="green")
            if result.ok
            else Text("cannot load" if result.problem else "failed", style="red")
        )
        table.add_row(
            chapter.id,
            chapter.title,
            f"{result.passed}/{result.total}",
            f"{result.score}/{result.max_score}",
            status,
        )
    out.print(table)
    passed = sum(r.passed for r in results)
    total = sum(r.total for r in results)
    out.print(Text(f"{passed}/{total} checks passed in {len(results)} chapters", style="bold"))


class Progress:
    """A live line while checks run, on a terminal only: which check of how many is running.
    Refreshed from the supervisor's own events: no thread of its own."""

    def __init__(self, out: Console, *, enabled: bool) -> None:
        self.out = out
        self.enabled = enabled and out.is_terminal

    @contextmanager
    def chapter(
        self, chapter: Chapter, chapters: int
    ) -> Iterator[Callable[[dict[str, Any]], None] | None]:
        if not self.enabled:
            yield None
            return
        names: dict[str, str] = {}
        done = [0]
        live = Live(console=self.out, auto_refresh=False, transient=True)

        def show(message: str) -> None:
            live.update(Text(f"  ⏳ Chapter {chapter.id}: {message}", style="dim"), refresh=True)

        def on_event(event: dict[str, Any]) -> None:
            kind = event.get("event")
            if kind == "collected" and not names:
                names.update({str(c.get("id")): str(c.get("name", "")) for c in event["checks"]})
                show("importing your file")
            elif kind == "start":
                name = names.get(str(event.get("id")), "")
                show(f"check {done[0] + 1}/{len(names)}: {name}")
            elif kind == "result":
                done[0] += 1

        with live:
            show("starting")
            yield on_event
